/*
 * bw_build: the main job (DESIGN.md "The way data flows through build").
 * Open, plan a one-partition disk, copy the used clusters of the Windows
 * volume to a working file, resize it, edit it and fix its boot chain in
 * one guest session, patch hidden sectors, write a streamOptimized VMDK
 * of [new MBR | zero gap | partition] with free clusters as zeros, pack
 * the .box, rename it into place, update the catalog.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/box.h"
#include "common/random.h"
#include "common/uuid.h"
#include "job/job_internal.h"

#define BUILD_PART_START_LBA 2048u          /* 1 MiB, as Windows aligns */
#define BUILD_PART_OFFSET ((uint64_t)BUILD_PART_START_LBA * 512)
#define MIB (UINT64_C(1) << 20)

/* Everything the options decide, worked out before any I/O. */
struct build_plan {
	uint64_t size;                 /* 0: the input's, rounded later */
	char hwuuid[37];               /* "" = none */
};

/* BASE_URL/NAME.box: 0, or -1 when it does not fit. */
static int box_url(const struct bw_build_opts *o, char *url, size_t n)
{
	const char *base = strrchr(o->output, '/');
	base = base ? base + 1 : o->output;
	size_t k = strlen(o->base_url);
	return (size_t)snprintf(url, n, "%s%s%s", o->base_url,
				k && o->base_url[k - 1] == '/' ? "" : "/", base) >= n ? -1 : 0;
}

static int check_opts(const struct bw_build_opts *o, struct build_plan *p,
		      struct bw_error *err)
{
	memset(p, 0, sizeof *p);
	if (!o->input || !*o->input)
		return bw_seterr(err, BW_EUSAGE, NULL, "one IMAGE expected");
	if (!o->output || !*o->output)
		return bw_seterr(err, BW_EUSAGE, NULL, "-o NAME.box is required");
	if (o->provider && strcmp(o->provider, "virtualbox"))
		return bw_seterr(err, BW_EUSAGE, NULL, "--provider '%s': only virtualbox is supported so far",
				 o->provider);
	if (o->size) {
		/* Checked before the round-up to whole MiB, which would wrap
		 * a size near 2^64 to 0. */
		if (o->size > BW_BUILD_MAX_SIZE || o->size < BW_BUILD_MIN_SIZE)
			return bw_seterr(err, BW_EUSAGE, NULL,
					 "--size %llu: an MBR disk holds 16 MiB to 2 TiB",
					 (unsigned long long)o->size);
		p->size = (o->size + MIB - 1) & ~(MIB - 1);
	}
	const char *hw = o->hardware_uuid ? o->hardware_uuid : "random";
	if (!strcmp(hw, "random")) {
		if (bw_uuid_random(p->hwuuid) != 0)
			return bw_seterr(err, BW_EIO, NULL, "cannot get random bytes for the hardware UUID: %s",
					 strerror(errno));
	} else if (strcmp(hw, "none") && !bw_uuid_parse(hw, p->hwuuid)) {
		return bw_seterr(err, BW_EUSAGE, NULL,
				 "--hardware-uuid '%s': expected a UUID (hex 8-4-4-4-12, not all zero), random or none",
				 hw);
	}
	if (o->memory_mb && (o->memory_mb < BW_BOX_MIN_MEMORY_MB || o->memory_mb > BW_BOX_MAX_MEMORY_MB))
		return bw_seterr(err, BW_EUSAGE, NULL, "--memory %u: VirtualBox allows %u to %u MB",
				 o->memory_mb, BW_BOX_MIN_MEMORY_MB, BW_BOX_MAX_MEMORY_MB);
	if (o->cpus > BW_BOX_MAX_CPUS)
		return bw_seterr(err, BW_EUSAGE, NULL, "--cpus %u: VirtualBox allows 1 to %u",
				 o->cpus, BW_BOX_MAX_CPUS);
	if (o->compress_level < 0 || o->compress_level > 9)
		return bw_seterr(err, BW_EUSAGE, NULL, "--compress-level %d: expected 1 to 9", o->compress_level);
	if (o->threads < 0 || o->threads > 256)
		return bw_seterr(err, BW_EUSAGE, NULL, "--threads %d: expected 1 to 256", o->threads);
	if (o->catalog && (!o->box_name || !o->box_version))
		return bw_seterr(err, BW_EUSAGE, NULL, "--catalog needs --box-name and --box-version");
	if (o->base_url && !*o->base_url)
		return bw_seterr(err, BW_EUSAGE, NULL, "--base-url must not be empty");
	/* The box writer's own checks (credentials, memory), on a dry run. */
	struct bw_box_opts bo = { .memory_mb = o->memory_mb, .cpus = o->cpus,
				  .winrm_user = o->winrm_user,
				  .winrm_password = o->winrm_password ? o->winrm_password
								      : o->edits.admin_password,
				  .hardware_uuid = p->hwuuid[0] ? p->hwuuid : NULL,
				  .mac = "080027000001" };
	char *vf = NULL;
	int r = bw_box_vagrantfile(&bo, &vf, err);
	free(vf);
	if (r) {
		err->code = BW_EUSAGE;
		return BW_EUSAGE;
	}
	r = job_check_backend(&o->backend, err);
	if (r == 0)
		r = job_check_edits(&o->edits, 0, err);
	if (r == 0)
		r = job_check_not_input(o->input, o->output, "-o names the input image", err);
	if (r == 0 && o->catalog) {
		/* A catalog that cannot take the entry is refused now, not
		 * after the box is built. */
		char url[8192];
		if (o->base_url && box_url(o, url, sizeof url) != 0)
			return bw_seterr(err, BW_EUSAGE, NULL, "--base-url: the box URL is too long");
		struct bw_catalog_entry ce = { .name = o->box_name, .version = o->box_version,
					       .provider = "virtualbox",
					       .url = o->base_url ? url : NULL };
		r = bw_catalog_check(o->catalog, &ce, err);
	}
	return r;
}

/* The disk size: --size, else the input's, in whole MiB within MBR's range. */
static int plan_size(const struct bw_image_model *m, struct build_plan *p, struct bw_error *err)
{
	if (p->size)
		return 0;
	uint64_t size = m->size;
	if (size <= BW_BUILD_MAX_SIZE)
		size = (size + MIB - 1) & ~(MIB - 1);
	if (size > BW_BUILD_MAX_SIZE || size < BW_BUILD_MIN_SIZE)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 "the image is %llu bytes, and an MBR disk holds 16 MiB to 2 TiB: give --size",
				 (unsigned long long)size);
	p->size = size;
	return 0;
}

/* Refuse what one active Windows partition cannot boot. */
static int check_layout(const struct bw_image *im, struct bw_error *err)
{
	const struct bw_image_model *m = &im->m;
	const struct bw_image_volume *wv = &m->vols[m->win_vol];
	int active = image_active_part(m);
	if (active != wv->part)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 "the active partition is %d but Windows is on partition %d (a \"System Reserved\" layout): build cannot merge them yet",
				 active, wv->part);
	if (!wv->has_bootmgr || !wv->has_bcd)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 "the Windows partition lacks \\bootmgr or \\Boot\\BCD: it cannot boot alone");
	return 0;
}

/* Working files, resize, edits and boot-chain fix-ups in one session. */
static int build_edit(struct bw_image *im, const struct bw_build_opts *o,
		      const struct bw_job_hooks *h, struct job_work *w, uint64_t new_part,
		      struct bw_mbr *mbr, struct bw_build_result *res, struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	int r = job_volumes_prepare(im, w, err);
	if (r)
		return r;
	/* Grow the working files now (the appliance sizes drives at launch);
	 * which one is Windows is known only inside the session, so every
	 * NTFS file that is smaller gets the new size, and only the Windows
	 * one is used. */
	for (int i = 0; i < m->nvols; i++)
		if (im->workfile[i] && new_part > m->vols[i].size &&
		    truncate(im->workfile[i], (off_t)new_part) != 0)
			return bw_seterr(err, BW_EIO, im->workfile[i], "cannot grow to %llu bytes: %s",
					 (unsigned long long)new_part, strerror(errno));
	struct bw_guest *g;
	r = job_session_start(im, &o->backend, h, &g, err);
	if (r)
		return r;
	const struct bw_image_volume *wv = &m->vols[m->win_vol];
	r = check_layout(im, err);
	if (r == 0)
		r = work_check_stop(w, m->file, err);
	if (r)
		return job_session_end(g, r, err);
	/* A volume Windows marked for chkdsk keeps that request: ntfsresize
	 * is told to go on (--force) and the flag is not cleared after it. */
	unsigned rflags = wv->st.dirty ? BW_GUEST_RESIZE_FORCE
				       : o->chkdsk ? 0 : BW_GUEST_RESIZE_CLEAR_DIRTY;
	r = bw_guest_resize(g, new_part < wv->size ? new_part : 0, rflags, err);
	if (r == 0 && o->new_signature) {
		uint32_t sig = 0;
		while (r == 0 && (sig == 0 || sig == m->mbr.signature))
			if (bw_random_bytes(&sig, sizeof sig) != 0)
				r = bw_seterr(err, BW_EIO, NULL, "cannot get random bytes for the disk signature: %s",
					      strerror(errno));
		mbr->signature = sig;
	}
	struct job_fixups fx = {
		.old_loc = { m->mbr.signature, wv->offset },
		.new_loc = { mbr->signature, BUILD_PART_OFFSET },
	};
	res->old_partition_offset = wv->offset;
	if (r == 0)
		r = job_session_edit(g, im, w, &o->edits, &fx, &res->edits, err);
	if (r == 0 && res->edits.bcd.bcd_devices_unknown &&
	    (fx.old_loc.part_offset != fx.new_loc.part_offset ||
	     fx.old_loc.disk_signature != fx.new_loc.disk_signature))
		work_warn(w, "bcd-devices-unknown",
			  "%s: Windows moved from (signature 0x%08x, offset %llu) to (0x%08x, %llu), and %u BCD device element(s) of kinds boxwright cannot decode were left as they are: if one names the Windows partition, the box will not boot (see inspect)",
			  m->file, fx.old_loc.disk_signature, (unsigned long long)fx.old_loc.part_offset,
			  fx.new_loc.disk_signature, (unsigned long long)fx.new_loc.part_offset,
			  res->edits.bcd.bcd_devices_unknown);
	if (r == 0 && (res->edits.has_ide == 0 || res->edits.has_nic == 0))
		work_warn(w, "drivers-missing",
			  "%s lacks the %s%s%s driver(s) of the VirtualBox hardware the box declares (IDE PIIX4, E1000): build the image with -OEMDrivers",
			  m->file, res->edits.has_ide ? "" : "IDE controller",
			  !res->edits.has_ide && !res->edits.has_nic ? " and " : "",
			  res->edits.has_nic ? "" : "E1000 NIC");
	return job_session_end(g, r, err);
}

/* The partition file at its final size with hidden sectors = its new start. */
static int finish_partition(const char *wf, uint64_t old_size, uint64_t new_part,
			    struct job_work *w, struct bw_error *err)
{
	if (new_part < old_size && truncate(wf, (off_t)new_part) != 0)
		return bw_seterr(err, BW_EIO, wf, "cannot shrink to %llu bytes: %s",
				 (unsigned long long)new_part, strerror(errno));
	int fd = open(wf, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return bw_seterr(err, BW_EIO, wf, "cannot open: %s", strerror(errno));
	int backup = 0;
	int r = bw_ntfs_set_hidden_sectors(fd, new_part, BUILD_PART_START_LBA, wf, &backup, err);
	if (close(fd) != 0 && r == 0)
		r = bw_seterr(err, BW_EIO, wf, "cannot close: %s", strerror(errno));
	if (r == 0 && !backup)
		work_warn(w, "no-backup-boot-sector",
			  "no backup NTFS boot sector in the partition's last sector");
	return r;
}

/* The VMDK of [MBR | zero gap | partition], free clusters as zeros. */
static int write_disk(const char *wf, uint64_t new_part, const struct bw_mbr *mbr,
		      const struct bw_build_opts *o, uint64_t size, const char *vmdk,
		      struct job_work *w, struct bw_build_result *res, struct bw_error *err)
{
	struct bw_disk *work = NULL;
	struct bw_ntfs *wvol = NULL;
	struct bw_writer *wr = NULL;
	struct bw_mbr out = *mbr;
	memset(out.part, 0, sizeof out.part);
	out.part[0] = (struct bw_mbr_entry){ .status = 0x80, .type = BW_MBR_TYPE_NTFS,
					     .lba_start = BUILD_PART_START_LBA,
					     .sectors = (uint32_t)(new_part / 512) };
	uint8_t sector[512];
	bw_mbr_encode(&out, sector);
	struct bw_writer_opts wo = { .format = BW_WRITE_VMDK_STREAM, .size = size,
				     .compress_level = o->compress_level, .threads = o->threads,
				     .adapter_type = "ide", .scratch = 1 };
	int r = bw_disk_open(wf, &work, err);
	if (r == 0)
		r = bw_ntfs_open(work, 0, new_part, &wvol, err);
	if (r == 0)
		r = bw_writer_open(vmdk, &wo, &wr, err);
	if (r == 0)
		r = bw_writer_write(wr, sector, sizeof sector, 0, err);
	if (r)
		goto out;
	struct bw_copy_region reg = { .offset = 0, .size = new_part, .ntfs = wvol };
	struct bw_copy_opts co = { .regions = &reg, .nregions = 1, .out_offset = BUILD_PART_OFFSET };
	work_copy_opts(w, "build", &co);
	struct bw_copy_stats st;
	r = bw_copy(work, wr, &co, &st, err);
	if (r)
		goto out;
	res->bytes_read = st.read;
	res->bytes_skipped_free = st.skipped;
	struct bw_writer *wf2 = wr;
	wr = NULL;
	r = bw_writer_finish(wf2, err);
out:
	bw_writer_abort(wr);
	bw_ntfs_close(wvol);
	bw_disk_close(work);
	return r;
}

static int update_catalog(const struct bw_build_opts *o, struct bw_build_result *res,
			  struct bw_error *err)
{
	char url[8192], abs[4096];
	int r = bw_sha256_file(o->output, res->sha256, err);
	if (r)
		return r;
	if (o->base_url) {
		if (box_url(o, url, sizeof url) != 0)
			return bw_seterr(err, BW_EINVAL, o->output, "the box URL is too long");
	} else if (!realpath(o->output, abs)) {
		return bw_seterr(err, BW_EIO, o->output, "cannot resolve its absolute path: %s",
				 strerror(errno));
	} else if ((size_t)snprintf(url, sizeof url, "file://%s", abs) >= sizeof url) {
		return bw_seterr(err, BW_EINVAL, o->output, "the box URL is too long");
	}
	struct bw_catalog_entry ce = { .name = o->box_name, .version = o->box_version,
				       .provider = "virtualbox", .url = url, .sha256 = res->sha256 };
	return bw_catalog_update(o->catalog, &ce, err);
}

int bw_build(const struct bw_build_opts *o, const struct bw_job_hooks *h,
	     struct bw_build_result *res, struct bw_error *err)
{
	struct build_plan p;
	memset(res, 0, sizeof *res);
	int r = check_opts(o, &p, err);
	if (r)
		return r;
	struct job_work w;
	work_init(&w, h);
	struct bw_image *im = NULL;
	const char *vmdk, *tmpbox;
	r = bw_image_open(o->input, &im, err);
	if (r)
		goto out;
	if (!im->m.has_mbr) {
		r = bw_seterr(err, BW_EUNSUPPORTED, o->input,
			      "no MBR partition table: build needs an MBR disk with an NTFS partition");
		goto out;
	}
	if ((r = plan_size(&im->m, &p, err)) != 0)
		goto out;
	uint64_t new_part = p.size - BUILD_PART_OFFSET;
	struct bw_mbr mbr = im->m.mbr;
	r = build_edit(im, o, h, &w, new_part, &mbr, res, err);
	if (r)
		goto out;
	int wi = im->m.win_vol;
	const char *wf = im->workfile[wi];
	if ((r = finish_partition(wf, im->m.vols[wi].size, new_part, &w, err)) != 0 ||
	    (r = work_check_stop(&w, o->input, err)) != 0 ||
	    (r = work_path(&w, "box-disk001.vmdk", &vmdk, err)) != 0 ||
	    (r = write_disk(wf, new_part, &mbr, o, p.size, vmdk, &w, res, err)) != 0)
		goto out;
	/* The working partition files are done with: delete them while the
	 * box is written (the last close is where their space is freed). */
	work_remove_async(&w, im->workfile, (size_t)im->m.nvols);
	struct bw_box_opts bo = {
		.vmdk_path = vmdk, .disk_capacity = p.size, .vm_name = BW_BOX_DEFAULT_VM_NAME,
		.memory_mb = o->memory_mb, .cpus = o->cpus,
		.hardware_uuid = p.hwuuid[0] ? p.hwuuid : NULL,
		.winrm_user = o->winrm_user, .gzip = o->gzip,
		/* The password the image now has, unless told otherwise. */
		.winrm_password = o->winrm_password ? o->winrm_password : o->edits.admin_password,
	};
	if ((r = work_check_stop(&w, o->input, err)) != 0 ||
	    (r = work_output(&w, o->output, &tmpbox, err)) != 0 ||
	    (r = bw_box_write(tmpbox, &bo, err)) != 0 ||
	    (r = work_commit(&w, tmpbox, o->output, err)) != 0)
		goto out;
	if (o->catalog && (r = update_catalog(o, res, err)) != 0)
		goto out;
	struct stat so;
	res->box_size = stat(o->output, &so) == 0 ? (uint64_t)so.st_size : 0;
	res->disk_size = p.size;
	res->disk_signature = mbr.signature;
	res->partition_offset = BUILD_PART_OFFSET;
	snprintf(res->hardware_uuid, sizeof res->hardware_uuid, "%s", p.hwuuid);
	res->backend = bw_guest_kind_name(o->backend.kind);
out:
	work_cleanup(&w);
	bw_image_close(im);
	return r;
}

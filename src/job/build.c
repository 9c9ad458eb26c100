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
#include "common/bytes.h"
#include "common/derive.h"
#include "common/random.h"
#include "common/uuid.h"
#include "job/job_internal.h"

#define MIB (UINT64_C(1) << 20)

/* Everything the options decide, worked out before any I/O. */
struct build_plan {
	size_t nboxes;
	enum bw_box_provider provider[BW_BUILD_MAX_BOXES];
	char out[BW_BUILD_MAX_BOXES][4096];
	uint64_t size;                 /* 0: the input's, rounded later */
	char hwuuid[37];               /* "" = none */
	int hw_auto;                   /* decided after the hives are read */
	int hw_given;                  /* the user named a UUID */
	int hw_random;                 /* "random": drawn (or derived) later */
	struct job_repro rp;           /* --reproducible */
};

/* BASE_URL/NAME.box: 0, or -1 when it does not fit. */
static int box_url(const struct bw_build_opts *o, const char *out, char *url, size_t n)
{
	const char *base = strrchr(out, '/');
	base = base ? base + 1 : out;
	size_t k = strlen(o->base_url);
	return (size_t)snprintf(url, n, "%s%s%s", o->base_url,
				k && o->base_url[k - 1] == '/' ? "" : "/", base) >= n ? -1 : 0;
}

/* --provider's list and each box's path (see job.h). */
static int plan_outputs(const struct bw_build_opts *o, struct build_plan *p, struct bw_error *err)
{
	const char *list = o->provider ? o->provider : "virtualbox";
	for (const char *s = list; *s;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char name[32];
		if (n == 0 || n >= sizeof name)
			return bw_seterr(err, BW_EUSAGE, NULL, "--provider '%s': expected virtualbox, libvirt, hyperv, vmware_desktop or several, comma-separated",
					 list);
		memcpy(name, s, n);
		name[n] = '\0';
		enum bw_box_provider pv;
		if (bw_box_provider_parse(name, &pv, err) != 0)
			return bw_seterr(err, BW_EUSAGE, NULL,
					 "--provider '%s': \"%s\" is not a provider boxwright builds (virtualbox, libvirt, hyperv, vmware_desktop)",
					 list, name);
		for (size_t k = 0; k < p->nboxes; k++)
			if (p->provider[k] == pv)
				return bw_seterr(err, BW_EUSAGE, NULL, "--provider '%s': %s named twice", list, name);
		if (p->nboxes >= BW_BUILD_MAX_BOXES)
			return bw_seterr(err, BW_EUSAGE, NULL, "--provider '%s': at most %d providers", list,
					 BW_BUILD_MAX_BOXES);
		p->provider[p->nboxes++] = pv;
		s += n + (e != NULL);
	}
	size_t ol = strlen(o->output);
	struct stat st;
	int to_dir = o->output[ol - 1] == '/' || (stat(o->output, &st) == 0 && S_ISDIR(st.st_mode));
	for (size_t k = 0; k < p->nboxes; k++) {
		const char *pn = bw_box_provider_name(p->provider[k]);
		size_t n;
		if (to_dir) {
			const char *b = strrchr(o->input, '/');
			b = b ? b + 1 : o->input;
			const char *dot = strrchr(b, '.');
			int stem = dot && dot != b ? (int)(dot - b) : (int)strlen(b);
			n = (size_t)snprintf(p->out[k], sizeof p->out[k], "%s%s%.*s%s%s.box", o->output,
					     o->output[ol - 1] == '/' ? "" : "/", stem, b,
					     p->nboxes > 1 ? "-" : "", p->nboxes > 1 ? pn : "");
		} else if (p->nboxes == 1) {
			n = (size_t)snprintf(p->out[k], sizeof p->out[k], "%s", o->output);
		} else {
			int cut = ol > 4 && !strcmp(o->output + ol - 4, ".box") ? (int)ol - 4 : (int)ol;
			n = (size_t)snprintf(p->out[k], sizeof p->out[k], "%.*s-%s.box", cut, o->output, pn);
		}
		if (n >= sizeof p->out[k])
			return bw_seterr(err, BW_EUSAGE, o->output, "the output path is too long");
	}
	return 0;
}

static int check_opts(const struct bw_build_opts *o, struct build_plan *p,
		      struct bw_error *err)
{
	memset(p, 0, sizeof *p);
	if (!o->input || !*o->input)
		return bw_seterr(err, BW_EUSAGE, NULL, "one IMAGE expected");
	if (!o->output || !*o->output)
		return bw_seterr(err, BW_EUSAGE, NULL, "-o NAME.box is required");
	int r = plan_outputs(o, p, err);
	if (r == 0)
		r = job_repro_check(o, &p->rp, err);
	if (r)
		return r;
	if (o->size) {
		/* Checked before the round-up to whole MiB, which would wrap
		 * a size near 2^64 to 0. */
		if (o->size > BW_BUILD_MAX_SIZE || o->size < BW_BUILD_MIN_SIZE)
			return bw_seterr(err, BW_EUSAGE, NULL,
					 "--size %llu: a box disk holds 16 MiB to 2 TiB (MBR's limit, kept for GPT too)",
					 (unsigned long long)o->size);
		p->size = (o->size + MIB - 1) & ~(MIB - 1);
	}
	const char *hw = o->hardware_uuid ? o->hardware_uuid : "auto";
	if (!strcmp(hw, "auto")) {
		p->hw_auto = 1;
	} else if (!strcmp(hw, "random")) {
		p->hw_random = 1;
	} else if (strcmp(hw, "none") && !bw_uuid_parse(hw, p->hwuuid)) {
		return bw_seterr(err, BW_EUSAGE, NULL,
				 "--hardware-uuid '%s': expected a UUID (hex 8-4-4-4-12, not all zero), auto, random or none",
				 hw);
	} else if (strcmp(hw, "none")) {
		p->hw_given = 1;
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
	for (size_t k = 0; k < p->nboxes; k++) {
		char *vf = NULL;
		bo.provider = p->provider[k];
		r = bw_box_vagrantfile(&bo, &vf, err);
		free(vf);
		if (r) {
			err->code = BW_EUSAGE;
			return BW_EUSAGE;
		}
	}
	r = job_check_backend(&o->backend, err);
	if (r == 0)
		r = job_check_edits(&o->edits, 0, err);
	for (size_t k = 0; r == 0 && k < p->nboxes; k++) {
		r = job_check_not_input(o->input, p->out[k], "-o names the input image", err);
		if (r == 0)
			r = job_check_output(p->out[k], err);
	}
	for (size_t k = 0; r == 0 && o->catalog && k < p->nboxes; k++) {
		/* A catalog that cannot take the entry is refused now, not
		 * after the box is built. */
		char url[8192];
		if (o->base_url && box_url(o, p->out[k], url, sizeof url) != 0)
			return bw_seterr(err, BW_EUSAGE, NULL, "--base-url: the box URL is too long");
		struct bw_catalog_entry ce = { .name = o->box_name, .version = o->box_version,
					       .provider = bw_box_provider_name(p->provider[k]),
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
				 "the image is %llu bytes, and a box disk holds 16 MiB to 2 TiB (MBR's limit, kept for GPT too): give --size",
				 (unsigned long long)size);
	p->size = size;
	return 0;
}

/* A fresh hardware UUID: random, or derived from the build's seed. */
static int plan_fresh_uuid(struct build_plan *p, struct bw_error *err)
{
	if (p->rp.on)
		bw_derive_uuid(p->rp.seed, "hardware-uuid", p->hwuuid);
	else if (bw_uuid_random(p->hwuuid) != 0)
		return bw_seterr(err, BW_EIO, NULL, "cannot get random bytes for the hardware UUID: %s",
				 strerror(errno));
	return 0;
}

/* The identities of one provider's box (OVF disk and machine UUIDs, MAC)
 * and its tar mtime, derived when the build is reproducible; IDS holds
 * the strings BO then points to. */
struct box_ids {
	char disk[37], machine[37], mac[13];
};
static void plan_box_ids(const struct job_repro *rp, struct bw_box_opts *bo, struct box_ids *ids)
{
	if (!rp->on)
		return;
	const char *pn = bw_box_provider_name(bo->provider);
	char label[64];
	uint8_t m[6];
	snprintf(label, sizeof label, "%s/disk-uuid", pn);
	bw_derive_uuid(rp->seed, label, ids->disk);
	snprintf(label, sizeof label, "%s/machine-uuid", pn);
	bw_derive_uuid(rp->seed, label, ids->machine);
	snprintf(label, sizeof label, "%s/mac", pn);
	bw_derive_bytes(rp->seed, label, m, sizeof m);
	/* a unicast, locally administered address, as box_mac_random draws */
	m[0] = (uint8_t)((m[0] & 0xFC) | 0x02);
	snprintf(ids->mac, sizeof ids->mac, "%02X%02X%02X%02X%02X%02X", m[0], m[1], m[2], m[3], m[4], m[5]);
	bo->disk_uuid = ids->disk;
	bo->machine_uuid = ids->machine;
	bo->mac = ids->mac;
	bo->mtime = rp->epoch;
	bo->mtime_set = 1;
}

/*
 * What the hives said decides the rest: the hardware UUID a booted image
 * must keep (a clone under another one blue-screens: CRITICAL_PROCESS_DIED
 * then 0xc0000225), and whether the Vagrantfile may log in with plaintext
 * basic auth (only when the image allows it).
 */
static int decide_identity(const struct bw_build_opts *o, struct build_plan *p, const char *file,
			   struct job_work *w, struct bw_build_result *res, struct bw_error *err)
{
	const char *booted = res->edits.booted_uuid;
	int r = 0;
	if (p->hw_auto && booted[0])
		snprintf(p->hwuuid, sizeof p->hwuuid, "%s", booted);
	else if (p->hw_auto || p->hw_random)
		r = plan_fresh_uuid(p, err);
	if (r)
		return r;
	if (!p->hw_auto && booted[0] && strcmp(p->hwuuid, booted)) {
		work_warn(w, "hardware-uuid-differs",
			  "%s has booted under the hardware UUID %s; the box pins %s%s: Windows may fail to boot in it (CRITICAL_PROCESS_DIED); --hardware-uuid auto keeps the image's",
			  file, booted, p->hwuuid[0] ? p->hwuuid : "none", p->hw_given ? "" : " (random)");
	}
	res->winrm_plaintext = o->edits.winrm || res->edits.winrm_allowed == 1;
	if (!res->winrm_plaintext) {
		if (o->strict)
			return bw_seterr(err, BW_EUNSUPPORTED, file,
					 "the image does not allow unencrypted basic-auth WinRM, which a Vagrant login over plaintext needs: give --winrm (--strict refuses a box that would not log in as Vagrant usually does)");
		work_warn(w, "winrm-not-allowed",
			  "%s does not allow unencrypted basic-auth WinRM: the Vagrantfile keeps Vagrant's negotiate transport; give --winrm for the plaintext login Vagrant boxes usually use",
			  file);
	}
	return 0;
}

/* The volume index of the MBR slot PART, -1 if none. */
static int vol_of_part(const struct bw_image_model *m, int part)
{
	for (int i = 0; i < m->nvols; i++)
		if (m->vols[i].part == part)
			return i;
	return -1;
}

/* Where every volume of the image goes on the new disk. */
struct layout {
	int gpt;
	struct bw_mbr_plan mbr;          /* MBR disks */
	struct bw_gpt_plan g;            /* GPT disks */
	/* per volume (index into the model's vols); new_size 0: not copied */
	uint64_t new_offset[BW_IMAGE_MAX_VOLUMES], new_size[BW_IMAGE_MAX_VOLUMES];
	int boot_vol;
};

/* MBR: the partition that boots (the active one, holding bootmgr and the
 * BCD) and where every partition goes (part's plan). */
static int plan_mbr(const struct bw_image *im, uint64_t size, struct layout *L,
		    struct bw_error *err)
{
	const struct bw_image_model *m = &im->m;
	const struct bw_image_volume *wv = &m->vols[m->win_vol];
	int active = image_active_part(m);
	if (active == 0)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 "no partition is marked active: the BIOS boot code would find nothing to boot");
	int bv = vol_of_part(m, active);
	if (bv < 0 || !m->vols[bv].is_ntfs || !m->vols[bv].has_bootmgr || !m->vols[bv].has_bcd)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 active == wv->part
				 ? "the Windows partition %d is active but lacks \\bootmgr or \\Boot\\BCD: it cannot boot alone"
				 : "the active partition %d holds no \\bootmgr and \\Boot\\BCD (Windows is on partition %d): nothing would boot",
				 active, wv->part);
	L->boot_vol = bv;
	int r = bw_mbr_plan(&m->mbr, wv->part, active, size, m->file, &L->mbr, err);
	for (int i = 0; r == 0 && i < 4; i++) {
		int v = L->mbr.new_size[i] ? vol_of_part(m, i + 1) : -1;
		if (v >= 0) {
			L->new_offset[v] = L->mbr.new_offset[i];
			L->new_size[v] = L->mbr.new_size[i];
		}
	}
	return r;
}

/* GPT: the EFI system partition must boot Windows (read with the FAT
 * reader); every partition keeps its GUIDs, so the boot chain needs no
 * fix-up (DESIGN.md "Disk layouts"). */
static int plan_gpt(struct bw_image *im, uint64_t size, const struct bw_build_opts *o,
		    struct layout *L, struct bw_error *err)
{
	const struct bw_image_model *m = &im->m;
	if (o->new_signature)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 "--new-signature: a GPT disk names its partitions by GUID, which build keeps");
	int r = image_esp(im, NULL, err);
	if (r)
		return r;
	if (m->boot_vol < 0 || !m->vols[m->boot_vol].has_bootmgr || !m->vols[m->boot_vol].has_bcd)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 m->boot_vol < 0 ? "the GPT disk has no EFI system partition: UEFI firmware would have nothing to boot"
						 : "the EFI system partition lacks \\EFI\\Boot\\bootx64.efi or \\EFI\\Microsoft\\Boot\\BCD");
	L->gpt = 1;
	L->boot_vol = m->boot_vol;
	/* the model's volumes are the GPT's partitions, in its order */
	r = bw_gpt_plan(&m->gpt, (size_t)m->win_vol, size, m->file, &L->g, err);
	uint64_t ss = m->gpt.sector_size;
	for (size_t i = 0; r == 0 && i < L->g.nparts; i++) {
		L->new_offset[i] = L->g.range[i].first_lba * ss;
		L->new_size[i] = (L->g.range[i].last_lba - L->g.range[i].first_lba + 1) * ss;
	}
	return r;
}

/* The (signature, offset) identities that change, for the BCD and
 * MountedDevices. */
static void plan_fixups(const struct bw_image_model *m, const struct layout *L,
			struct job_fixups *fx)
{
	const struct bw_mbr_plan *plan = &L->mbr;
	memset(fx, 0, sizeof *fx);
	fx->bcd_vol = L->boot_vol;
	if (L->gpt)
		return;
	int slots[2] = { plan->boot_part, plan->win_part };
	for (int k = 0; k < 2; k++) {
		int i = slots[k] - 1;
		if (k == 1 && plan->win_part == plan->boot_part)
			break;
		if (plan->old_offset[i] == plan->new_offset[i] &&
		    m->mbr.signature == plan->mbr.signature)
			continue;
		fx->old_loc[fx->nmoves] = (struct bw_win_location){ m->mbr.signature, plan->old_offset[i] };
		fx->new_loc[fx->nmoves] = (struct bw_win_location){ plan->mbr.signature, plan->new_offset[i] };
		fx->nmoves++;
	}
}

/* Working files, resize, edits and boot-chain fix-ups in one session. */
static int build_edit(struct bw_image *im, const struct bw_build_opts *o,
		      const struct bw_job_hooks *h, struct job_work *w, uint64_t size,
		      struct job_repro *rp, struct layout *L, struct bw_build_result *res,
		      struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	int r = job_volumes_prepare(im, w, err);
	if (r)
		return r;
	/* Grow the working files now (the appliance sizes drives at launch):
	 * which one is Windows, and so its new size, is known only inside
	 * the session, so every NTFS file gets room for the largest it can
	 * become; after the session each is cut to its planned size. */
	uint64_t room = size - (uint64_t)BW_PLAN_ALIGN_LBA * 512;
	for (int i = 0; i < m->nvols; i++)
		if (im->workfile[i] && room > m->vols[i].size &&
		    truncate(im->workfile[i], (off_t)room) != 0)
			return bw_seterr(err, BW_EIO, im->workfile[i], "cannot grow to %llu bytes: %s",
					 (unsigned long long)room, strerror(errno));
	struct bw_guest *g;
	r = job_session_start(im, &o->backend, h, rp, &g, err);
	if (r)
		return r;
	const struct bw_image_volume *wv = &m->vols[m->win_vol];
	r = m->has_gpt ? plan_gpt(im, size, o, L, err) : plan_mbr(im, size, L, err);
	if (r == 0)
		r = work_check_stop(w, m->file, err);
	if (r)
		return job_session_end(g, r, err);
	uint64_t win_new = L->new_size[m->win_vol];
	uint64_t file_size = wv->size > room ? wv->size : room;
	/* A volume Windows marked for chkdsk keeps that request: ntfsresize
	 * is told to go on (--force) and the flag is not cleared after it. */
	unsigned rflags = wv->st.dirty ? BW_GUEST_RESIZE_FORCE
				       : o->chkdsk ? 0 : BW_GUEST_RESIZE_CLEAR_DIRTY;
	if (wv->st.dirty && o->strict)
		return job_session_end(g, bw_seterr(err, BW_EUNSUPPORTED, m->file,
						    "partition %d: Windows marked the NTFS volume dirty (it wants chkdsk): --strict refuses it; boot the image once or build without --strict",
						    wv->part), err);
	if (wv->st.dirty)
		work_warn(w, "volume-dirty",
			  "%s: partition %d: Windows marked the NTFS volume dirty: every clone of the box will run chkdsk at first boot (--strict refuses such an image)",
			  m->file, wv->part);
	r = bw_guest_resize(g, win_new < file_size ? win_new : 0, rflags, err);
	if (r == 0)
		r = job_repro_wait(rp, err);      /* the seed, from here on */
	if (r == 0 && o->new_signature) {
		uint32_t sig = 0;
		for (unsigned k = 0; rp->on && (sig == 0 || sig == m->mbr.signature); k++) {
			char label[32];
			uint8_t b[4];
			snprintf(label, sizeof label, "disk-signature-%u", k);
			bw_derive_bytes(rp->seed, label, b, sizeof b);
			sig = bw_get_le32(b);
		}
		while (r == 0 && (sig == 0 || sig == m->mbr.signature))
			if (bw_random_bytes(&sig, sizeof sig) != 0)
				r = bw_seterr(err, BW_EIO, NULL, "cannot get random bytes for the disk signature: %s",
					      strerror(errno));
		L->mbr.mbr.signature = sig;
	}
	struct job_fixups fx;
	plan_fixups(m, L, &fx);
	res->old_partition_offset = wv->offset;
	if (r == 0)
		r = job_session_edit(g, im, w, &o->edits, L->gpt ? NULL : &fx, rp, &res->edits, err);
	if (r == 0 && res->edits.bcd.bcd_devices_unknown && fx.nmoves)
		work_warn(w, "bcd-devices-unknown",
			  "%s: %zu partition(s) changed identity (Windows from signature 0x%08x, offset %llu to 0x%08x, %llu), and %u BCD device element(s) of kinds boxwright cannot decode were left as they are: if one names a moved partition, the box will not boot (see inspect)",
			  m->file, fx.nmoves, m->mbr.signature, (unsigned long long)wv->offset,
			  L->mbr.mbr.signature, (unsigned long long)L->new_offset[m->win_vol],
			  res->edits.bcd.bcd_devices_unknown);
	return job_session_end(g, r, err);
}

/* A partition file at its planned size, with hidden sectors = its new
 * start when it moved. */
static int finish_partition(const char *wf, uint64_t size, uint64_t old_offset,
			    uint64_t new_offset, struct job_work *w, struct bw_error *err)
{
	if (truncate(wf, (off_t)size) != 0)
		return bw_seterr(err, BW_EIO, wf, "cannot cut to %llu bytes: %s",
				 (unsigned long long)size, strerror(errno));
	if (old_offset == new_offset)
		return 0;
	int fd = open(wf, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return bw_seterr(err, BW_EIO, wf, "cannot open: %s", strerror(errno));
	int backup = 0;
	int r = bw_ntfs_set_hidden_sectors(fd, size, (uint32_t)(new_offset / 512), wf, &backup, err);
	if (close(fd) != 0 && r == 0)
		r = bw_seterr(err, BW_EIO, wf, "cannot close: %s", strerror(errno));
	if (r == 0 && !backup)
		work_warn(w, "no-backup-boot-sector",
			  "no backup NTFS boot sector in the partition's last sector");
	return r;
}

/* One partition file into the disk writer at its new offset, free
 * clusters as zeros. */
static int copy_partition(const char *wf, uint64_t size, uint64_t offset, struct bw_writer *wr,
			  struct job_work *w, struct bw_build_result *res, struct bw_error *err)
{
	struct bw_disk *work = NULL;
	struct bw_ntfs *vol = NULL;
	int r = bw_disk_open(wf, &work, err);
	if (r == 0)
		r = bw_ntfs_open(work, 0, size, &vol, err);
	if (r == 0) {
		struct bw_copy_region reg = { .offset = 0, .size = size, .ntfs = vol };
		struct bw_copy_opts co = { .regions = &reg, .nregions = 1, .out_offset = offset };
		work_copy_opts(w, "build", &co);
		struct bw_copy_stats st;
		r = bw_copy(work, wr, &co, &st, err);
		res->bytes_read += st.read;
		res->bytes_skipped_free += st.skipped;
	}
	bw_ntfs_close(vol);
	bw_disk_close(work);
	return r;
}

/* A partition kept as it is (an ESP, an MSR), from the input: its range,
 * at its new place.  The ESP is copied whole: it is small (100-500 MB),
 * mostly unallocated in the container (never read) and zeros. */
static int copy_kept(struct bw_disk *in, uint64_t old_off, uint64_t size, uint64_t new_off,
		     struct bw_writer *wr, struct job_work *w, struct bw_build_result *res,
		     struct bw_error *err)
{
	/* out_offset is added modulo 2^64: a partition may move down too */
	struct bw_copy_opts co = { .range_start = old_off, .range_end = old_off + size,
				   .out_offset = new_off - old_off };
	work_copy_opts(w, "build", &co);
	struct bw_copy_stats st;
	int r = bw_copy(in, wr, &co, &st, err);
	res->bytes_read += st.read;
	return r;
}

/* The disk of [partition table | zero gaps | partitions in disk order |
 * the GPT's backup] in FORMAT; NAME is its name inside the box (a VMDK's
 * extent line names it). */
static int write_disk(const struct bw_image *im, const struct layout *L,
		      const struct bw_build_opts *o, const struct job_repro *rp, uint64_t size,
		      enum bw_write_format format, const char *path, const char *name,
		      struct job_work *w,
		      struct bw_build_result *res, struct bw_error *err)
{
	const struct bw_image_model *m = &im->m;
	struct bw_writer *wr = NULL;
	struct bw_gpt_image gi = { 0 };
	uint8_t sector[512];
	struct item { uint64_t off; int vol; const uint8_t *data; size_t len; } items[BW_IMAGE_MAX_VOLUMES + 4];
	size_t n = 0;
	int r = 0;
	if (L->gpt) {
		r = bw_gpt_encode(&m->gpt, size, L->g.range, &gi, err);
		for (size_t i = 0; r == 0 && i < gi.nruns; i++)
			items[n++] = (struct item){ gi.run[i].lba * m->gpt.sector_size, -1, gi.run[i].data,
						    gi.run[i].nsectors * m->gpt.sector_size };
	} else {
		bw_mbr_encode(&L->mbr.mbr, sector);
		items[n++] = (struct item){ 0, -1, sector, sizeof sector };
	}
	for (int v = 0; r == 0 && v < m->nvols; v++)
		if (L->new_size[v])
			items[n++] = (struct item){ L->new_offset[v], v, NULL, 0 };
	/* in increasing offset order, as the writer takes data */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && items[k].off < items[k - 1].off; k--) {
			struct item t = items[k];
			items[k] = items[k - 1];
			items[k - 1] = t;
		}
	struct bw_writer_opts wo = { .format = format, .size = size,
				     .compress_level = o->compress_level, .threads = o->threads,
				     .adapter_type = "ide", .name = name, .scratch = 1,
				     .fixed_identity = rp->on, .timestamp = rp->epoch };
	if (rp->on) {
		char label[64];
		snprintf(label, sizeof label, "disk/%s", bw_write_format_name(format));
		bw_derive_bytes(rp->seed, label, wo.identity, sizeof wo.identity);
	}
	if (r == 0)
		r = bw_writer_open(path, &wo, &wr, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct item *it = &items[i];
		if (it->vol < 0)
			r = bw_writer_write(wr, it->data, it->len, it->off, err);
		else if (im->workfile[it->vol])
			r = copy_partition(im->workfile[it->vol], L->new_size[it->vol], it->off, wr, w,
					   res, err);
		else
			r = copy_kept(im->disk, m->vols[it->vol].offset, L->new_size[it->vol], it->off,
				      wr, w, res, err);
	}
	if (r == 0) {
		struct bw_writer *wf = wr;
		wr = NULL;
		r = bw_writer_finish(wf, err);
	}
	bw_writer_abort(wr);
	bw_gpt_image_free(&gi);
	return r;
}

_Static_assert(WORK_MAX_OUTPUTS >= BW_BUILD_MAX_BOXES, "one temporary output per box");

/* Each provider's disk: its container format, the working file's name
 * and its name inside the box (box.c names the members the same way). */
struct provider_disk {
	enum bw_write_format format;
	const char *file, *member;
};

static void provider_disk(enum bw_box_provider pv, int gpt, struct provider_disk *d)
{
	switch (pv) {
	case BW_BOX_LIBVIRT:
		*d = (struct provider_disk){ BW_WRITE_QCOW2, "box.img", "box.img" };
		return;
	case BW_BOX_HYPERV:
		/* Generation 2 (UEFI, GPT) reads only VHDX; Generation 1
		 * gets the VHD every Hyper-V version reads */
		*d = gpt ? (struct provider_disk){ BW_WRITE_VHDX_DYNAMIC, "box.vhdx",
						   BW_BOX_DEFAULT_VM_NAME ".vhdx" }
			 : (struct provider_disk){ BW_WRITE_VHD_DYNAMIC, "box.vhd",
						   BW_BOX_DEFAULT_VM_NAME ".vhd" };
		return;
	case BW_BOX_VMWARE:
		/* VMware Workstation and Fusion run monolithicSparse VMDKs,
		 * not streamOptimized ones; a SATA disk's ddb.adapterType is
		 * "ide" too, as Workstation writes it */
		*d = (struct provider_disk){ BW_WRITE_VMDK_SPARSE, "vmware.vmdk",
					     BW_BOX_DEFAULT_VM_NAME ".vmdk" };
		return;
	case BW_BOX_VIRTUALBOX:
	default:
		*d = (struct provider_disk){ BW_WRITE_VMDK_STREAM, "box-disk001.vmdk",
					     "box-disk001.vmdk" };
		return;
	}
}

static int update_catalog(const struct bw_build_opts *o, struct bw_build_box *box,
			  struct bw_error *err)
{
	char url[8192], abs[4096];
	int r = bw_sha256_file(box->path, box->sha256, err);
	if (r)
		return r;
	if (o->base_url) {
		if (box_url(o, box->path, url, sizeof url) != 0)
			return bw_seterr(err, BW_EINVAL, box->path, "the box URL is too long");
	} else if (!realpath(box->path, abs)) {
		return bw_seterr(err, BW_EIO, box->path, "cannot resolve its absolute path: %s",
				 strerror(errno));
	} else if ((size_t)snprintf(url, sizeof url, "file://%s", abs) >= sizeof url) {
		return bw_seterr(err, BW_EINVAL, box->path, "the box URL is too long");
	}
	struct bw_catalog_entry ce = { .name = o->box_name, .version = o->box_version,
				       .provider = box->provider, .url = url, .sha256 = box->sha256 };
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
	struct layout L;
	memset(&L, 0, sizeof L);
	r = bw_image_open(o->input, &im, err);
	if (r)
		goto out;
	if (!im->m.has_mbr && !im->m.has_gpt) {
		r = bw_seterr(err, BW_EUNSUPPORTED, o->input,
			      "no partition table: build needs an MBR or GPT disk with a Windows partition");
		goto out;
	}
	if ((r = plan_size(&im->m, &p, err)) != 0)
		goto out;
	if ((r = job_repro_start(o, &p.rp, &w, err)) != 0)
		goto out;
	r = build_edit(im, o, h, &w, p.size, &p.rp, &L, res, err);
	if (r == 0)
		r = decide_identity(o, &p, im->m.file, &w, res, err);
	if (r)
		goto out;
	for (int v = 0; v < im->m.nvols && r == 0; v++)
		if (L.new_size[v] && im->workfile[v])
			r = finish_partition(im->workfile[v], L.new_size[v], im->m.vols[v].offset,
					     L.new_offset[v], &w, err);
	if (r)
		goto out;
	/* One disk and one box per provider, from the same working files;
	 * every box is renamed into place only when all are written. */
	const char *tmpbox[BW_BUILD_MAX_BOXES] = { NULL };
	/* Each box's hardware from the image's drivers (hardware.c), all
	 * checked before any disk is written: --strict refuses early. */
	enum bw_box_disk_bus bus[BW_BUILD_MAX_BOXES];
	for (size_t k = 0; k < p.nboxes && r == 0; k++)
		r = job_choose_hardware(&res->edits, p.provider[k], L.gpt, o->strict, &w, o->input,
					&bus[k], err);
	for (size_t k = 0; k < p.nboxes && r == 0; k++) {
		struct provider_disk pd;
		provider_disk(p.provider[k], L.gpt, &pd);
		const char *disk;
		if ((r = work_check_stop(&w, o->input, err)) != 0 ||
		    (r = work_path(&w, pd.file, &disk, err)) != 0 ||
		    (r = write_disk(im, &L, o, &p.rp, p.size, pd.format, disk, pd.member, &w, res,
				    err)) != 0)
			break;
		/* the working partition files are done with after the last
		 * disk: delete them while the box is written */
		if (k + 1 == p.nboxes)
			work_remove_async(&w, im->workfile, (size_t)im->m.nvols);
		struct bw_writer_opts sz = { .format = pd.format, .size = p.size };
		struct bw_box_opts bo = {
			.provider = p.provider[k], .disk_path = disk,
			/* a VHD is rounded up to its CHS geometry */
			.disk_capacity = bw_writer_actual_size(&sz), .vm_name = BW_BOX_DEFAULT_VM_NAME,
			.memory_mb = o->memory_mb, .cpus = o->cpus,
			.hardware_uuid = p.hwuuid[0] ? p.hwuuid : NULL,
			.winrm_user = o->winrm_user, .gzip = o->gzip,
			.winrm_plaintext = res->winrm_plaintext,
			.firmware_efi = L.gpt,
			/* libvirt and VMware: the bus the image has drivers
			 * for (job_choose_hardware) */
			.disk_bus = bus[k],
			/* the password the image now has, unless told otherwise */
			.winrm_password = o->winrm_password ? o->winrm_password : o->edits.admin_password,
		};
		struct box_ids ids;
		plan_box_ids(&p.rp, &bo, &ids);
		if ((r = work_output(&w, p.out[k], &tmpbox[k], err)) == 0)
			r = bw_box_write(tmpbox[k], &bo, err);
		/* the disk is in the box now: free its space before the next
		 * provider's (the work directory goes at the end anyway) */
		unlink(disk);
	}
	/* a stop asked for while the last box was written: none renamed */
	if (r == 0)
		r = work_check_stop(&w, o->input, err);
	for (size_t k = 0; k < p.nboxes && r == 0; k++)
		r = work_commit(&w, tmpbox[k], p.out[k], err);
	for (size_t k = 0; k < p.nboxes && r == 0; k++) {
		struct bw_build_box *bx = &res->boxes[k];
		struct stat so;
		bx->provider = bw_box_provider_name(p.provider[k]);
		snprintf(bx->path, sizeof bx->path, "%s", p.out[k]);
		bx->size = stat(p.out[k], &so) == 0 ? (uint64_t)so.st_size : 0;
		if (o->catalog)
			r = update_catalog(o, bx, err);
		res->nboxes = k + 1;
	}
	if (r)
		goto out;
	res->box_size = res->boxes[0].size;
	snprintf(res->sha256, sizeof res->sha256, "%s", res->boxes[0].sha256);

	res->disk_size = p.size;
	res->disk_signature = L.gpt ? im->m.gpt.pmbr_signature : L.mbr.mbr.signature;
	res->partition_offset = L.new_offset[im->m.win_vol];
	snprintf(res->hardware_uuid, sizeof res->hardware_uuid, "%s", p.hwuuid);
	res->backend = bw_guest_kind_name(o->backend.kind);
	res->reproducible = p.rp.on;
	for (size_t i = 0; p.rp.on && i < sizeof p.rp.input_digest; i++)
		snprintf(res->input_sha256 + 2 * i, 3, "%02x", p.rp.input_digest[i]);
out:
	job_repro_stop(&p.rp);
	bw_gpt_plan_free(&L.g);
	work_cleanup(&w);
	bw_image_close(im);
	return r;
}

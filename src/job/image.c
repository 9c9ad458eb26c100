/*
 * The image model (job.h): disk-level facts (container, MBR, each NTFS
 * volume), then the files and hives of the volumes through one read-only
 * guest session.  What `inspect` prints, as data.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "job/job_internal.h"


int bw_image_part_at(const struct bw_image_model *m, uint64_t offset)
{
	return m->has_mbr ? bw_mbr_part_at(&m->mbr, offset) : 0;
}

int image_active_part(const struct bw_image_model *m)
{
	return m->has_mbr ? bw_mbr_active(&m->mbr) : 0;
}

void image_label(char *buf, const char *image, int part)
{
	snprintf(buf, JOB_LABEL_MAX, "%s: partition %d", image, part);
}

static int open_volume(struct bw_image *im, int i, struct bw_error *err)
{
	struct bw_image_volume *v = &im->m.vols[i];
	uint8_t bs[512];
	int r = bw_disk_pread(im->disk, bs, sizeof bs, v->offset, err);
	if (r)
		return r;
	/* BitLocker's volume header says "-FVE-FS-" where NTFS says "NTFS    ":
	 * its content is encrypted, nothing boxwright can read or edit. */
	if (!memcmp(bs + 3, "-FVE-FS-", 8))
		return bw_seterr(err, BW_EUNSUPPORTED, im->m.file,
				 "partition %d (offset %llu) is BitLocker-encrypted (-FVE-FS- at offset %llu): decrypt it (manage-bde -off) before boxwright can read it",
				 v->part, (unsigned long long)v->offset, (unsigned long long)v->offset + 3);
	if (!bw_ntfs_probe(bs))
		return 0;
	r = bw_ntfs_open(im->disk, v->offset, v->size, &im->ntfs[i], err);
	if (r)
		return r;
	r = bw_ntfs_get_state(im->ntfs[i], &v->st);
	if (r)
		return r;
	/* Only a volume whose facts were read is NTFS in the model: a
	 * partial model (bw_image_open_partial) shows no zeros as facts. */
	v->is_ntfs = 1;
	v->geo = *bw_ntfs_get_geometry(im->ntfs[i]);
	/* Read from the volume itself; when the guest runs,
	 * image_probe_volume checks again through the backend. */
	v->hibernated = v->st.hibernated;
	/* The backup boot sector sits in the partition's last sector
	 * (FORMATS.md); a volume without one is reported, not refused. */
	r = bw_disk_pread(im->disk, bs, sizeof bs, v->offset + v->size - 512, err);
	if (r)
		return r;
	if (bw_ntfs_probe(bs)) {
		v->backup_present = 1;
		v->backup_hidden = bw_get_le32(bs + 0x1C);
	}
	return 0;
}

/* One 0xEE entry: a GPT disk's protective (or hybrid) MBR. */
static int is_protective(const uint8_t s0[512])
{
	for (int i = 0; i < 4; i++)
		if (s0[446 + 16 * i + 4] == BW_MBR_TYPE_GPT_PROTECTIVE)
			return 1;
	return 0;
}

/* The GPT's partitions as volumes. */
static int read_gpt(struct bw_image *im, struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	int r = bw_gpt_parse_disk(im->disk, 0, &m->gpt, err);
	if (r)
		return r;
	m->has_gpt = 1;
	if (m->gpt.nparts > BW_IMAGE_MAX_VOLUMES)
		return bw_seterr(err, BW_EUNSUPPORTED, m->file,
				 "the GPT has %zu partitions; boxwright handles at most %d",
				 m->gpt.nparts, BW_IMAGE_MAX_VOLUMES);
	uint64_t ss = m->gpt.sector_size;
	for (size_t i = 0; i < m->gpt.nparts; i++) {
		const struct bw_gpt_part *p = &m->gpt.part[i];
		int k = m->nvols++;
		m->vols[k] = (struct bw_image_volume){ .part = (int)p->index + 1,
						       .gpt_kind = (int)bw_gpt_classify(p->type_guid),
						       .offset = p->first_lba * ss,
						       .size = (p->last_lba - p->first_lba + 1) * ss,
						       .hibernated = -1 };
		/* The Microsoft Reserved partition has no filesystem: its
		 * first sector is whatever was there. */
		if (m->vols[k].gpt_kind != BW_GPT_KIND_MSR && (r = open_volume(im, k, err)) != 0)
			return r;
	}
	return 0;
}

static int read_layout(struct bw_image *im, struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	uint64_t size = bw_disk_size(im->disk);
	if (size < 512)
		return bw_seterr(err, BW_EFORMAT, m->file,
				 "disk of %llu bytes holds no sector", (unsigned long long)size);
	uint8_t s0[512];
	int r = bw_disk_pread(im->disk, s0, sizeof s0, 0, err);
	if (r)
		return r;
	if (bw_ntfs_probe(s0)) {
		/* A bare volume (no partition table), as some tools export. */
		m->vols[0] = (struct bw_image_volume){ .part = 0, .offset = 0, .size = size,
						       .hibernated = -1 };
		m->nvols = 1;
		return open_volume(im, 0, err);
	}
	if (s0[510] != 0x55 || s0[511] != 0xAA)
		return 0;   /* no partition table: disk-level facts only */
	struct bw_error merr;
	r = bw_mbr_parse(s0, size, m->file, &m->mbr, &merr);
	if (r == BW_EUNSUPPORTED && is_protective(s0))
		return read_gpt(im, err);
	if (r) {
		*err = merr;
		return r;
	}
	m->has_mbr = 1;
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *e = &m->mbr.part[i];
		if (!e->type)
			continue;
		/* A dynamic disk (LDM) keeps its volumes in a database of its
		 * own, not in the MBR: refuse it by name. */
		if (e->type == 0x42)
			return bw_seterr(err, BW_EUNSUPPORTED, m->file,
					 "a Windows dynamic disk (MBR partition %d has type 0x42, LDM): convert it to a basic disk first",
					 i + 1);
		int k = m->nvols++;
		m->vols[k] = (struct bw_image_volume){ .part = i + 1,
						       .offset = (uint64_t)e->lba_start * 512,
						       .size = (uint64_t)e->sectors * 512,
						       .hibernated = -1 };
		r = open_volume(im, k, err);
		if (r)
			return r;
	}
	return 0;
}

static int image_open(const char *path, int partial, struct bw_image **out,
		      struct bw_error *err)
{
	*out = NULL;
	struct bw_image *im = calloc(1, sizeof *im);
	if (!im)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	im->m.file = path;
	im->m.win_vol = im->m.boot_vol = -1;
	work_init(&im->work, NULL);
	int r = bw_disk_open(path, &im->disk, err);
	if (r == 0)
		r = bw_disk_get_info(im->disk, &im->m.info, err);
	if (r == 0) {
		im->m.format = bw_disk_format(im->disk);
		im->m.size = bw_disk_size(im->disk);
		r = read_layout(im, err);
		/* The container is read: what the layout gave so far is a
		 * model, if the caller wants one. */
		if (r && partial) {
			*out = im;
			return r;
		}
	}
	if (r) {
		bw_image_close(im);
		return r;
	}
	*out = im;
	return 0;
}

int bw_image_open(const char *path, struct bw_image **out, struct bw_error *err)
{
	return image_open(path, 0, out, err);
}

int bw_image_open_partial(const char *path, struct bw_image **out, struct bw_error *err)
{
	return image_open(path, 1, out, err);
}

const struct bw_image_model *bw_image_model(const struct bw_image *im)
{
	return &im->m;
}

void bw_image_close(struct bw_image *im)
{
	if (!im)
		return;
	for (int i = 0; i < im->m.nvols; i++)
		bw_ntfs_close(im->ntfs[i]);
	if (im->m.system_hive.loaded)
		bw_system_facts_free(&im->m.sys);
	if (im->m.software_hive.loaded)
		bw_software_facts_free(&im->m.sw);
	if (im->m.has_gpt)
		bw_gpt_free(&im->m.gpt);
	bw_bcd_free(im->bcd);
	bw_disk_close(im->disk);
	work_cleanup(&im->work);
	free(im);
}

int image_copy_volume(struct bw_image *im, int i, struct job_work *w, struct bw_error *err)
{
	char name[32];
	snprintf(name, sizeof name, "volume%d.img", im->m.vols[i].part);
	int r = work_path(w, name, &im->workfile[i], err);
	if (r)
		return r;
	const char *wf = im->workfile[i];
	int fd = open(wf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return bw_seterr(err, BW_EIO, wf, "cannot create: %m");
	r = bw_ntfs_copy_used(im->ntfs[i], fd, wf, err);
	if (close(fd) < 0 && r == 0)
		r = bw_seterr(err, BW_EIO, wf, "cannot close: %m");
	return r;
}

int image_exists(struct bw_guest *g, const char *path, struct bw_error *err)
{
	char *real = NULL;
	int r = bw_guest_resolve(g, path, &real, err);
	free(real);
	if (r == BW_ENOTFOUND)
		return 0;
	return r < 0 ? r : 1;
}

int image_probe_volume(struct bw_guest *g, struct bw_image *im, int i, struct bw_error *err)
{
	struct bw_image_volume *v = &im->m.vols[i];
	static const char *const paths[] = {
		SYSTEM_PATH, "\\bootmgr", "\\Boot\\BCD",
		"\\Windows\\Setup\\Scripts\\SetupComplete.cmd", "\\Windows\\Panther\\unattend.xml",
	};
	int *flags[] = { &v->has_windows, &v->has_bootmgr, &v->has_bcd,
			 &v->has_setupcomplete, &v->has_unattend };
	for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
		int e = image_exists(g, paths[k], err);
		if (e < 0)
			return e;
		*flags[k] = e;
	}
	/* hiberfil.sys that starts with a hibernation signature means a
	 * hibernated Windows (ntfs-3g's rule): its $Bitmap is stale. */
	char *head = NULL;
	size_t n = 0;
	int r = bw_guest_read(g, "\\hiberfil.sys", 4, &head, &n, err);
	if (r == BW_ENOTFOUND) {
		v->hibernated = 0;
	} else if (r) {
		return r;
	} else {
		v->hibernated = bw_ntfs_hiberfil_hibernated(head, n);
	}
	free(head);
	return 0;
}

struct bw_guest_opts image_guest_opts(const struct bw_backend_opts *bo,
				      const struct bw_job_hooks *h, int readonly)
{
	struct bw_guest_opts o = {
		.backend = bo ? bo->kind : BW_GUEST_DEFAULT,
		.readonly = readonly,
		.verbose = bo ? bo->verbose : 0,
		.note = h ? h->note : NULL,
		.note_opaque = h ? h->opaque : NULL,
	};
	return o;
}

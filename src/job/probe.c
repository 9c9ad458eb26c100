/*
 * bw_image_probe: the files and hives of an image's NTFS volumes through
 * one read-only guest session.  The native backend reads the partitions
 * where they are; the appliance needs working copies of their used
 * clusters (in the image's work directory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/fat.h"
#include "job/job_internal.h"


/* A partition of the input, read in place. */
struct part_reader {
	struct bw_disk *disk;
	uint64_t offset;
	struct bw_error err;        /* the first failure, for the message */
	int failed;
};

static int part_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct part_reader *pr = ctx;
	struct bw_error e;
	if (bw_disk_pread(pr->disk, buf, len, pr->offset + off, &e) == 0)
		return 0;
	if (!pr->failed) {
		pr->err = e;
		pr->failed = 1;
	}
	return -1;
}

/* A failed read of the input is the input's fault: say what it was. */
static int reader_error(const struct part_reader *parts, size_t n, int r,
			struct bw_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (parts[i].failed) {
			*err = parts[i].err;
			return parts[i].err.code;
		}
	return r;
}

static int fetch_hive(struct bw_guest *g, const char *winpath, const char *name,
		      const char *local, struct bw_image_hive *h, struct bw_error *err)
{
	int r = bw_guest_download(g, winpath, local, err);
	if (r == BW_ENOTFOUND)
		return 0;
	if (r)
		return r;
	h->present = 1;
	struct bw_error herr;
	if (bw_hive_check_file(local, name, &h->hdr, &herr) == 0)
		h->header_ok = 1;
	else
		snprintf(h->error, sizeof h->error, "%s", herr.msg);
	return 0;
}

/* Facts are read from any hive hivex accepts; a dirty one is diagnosed,
 * its facts shown as they stand in the file. */
static void read_system(struct bw_image_model *m, const char *sys_local)
{
	struct bw_error herr;
	if (bw_system_read(sys_local, "SYSTEM", &m->sys, &herr) == 0)
		m->system_hive.loaded = 1;
	else
		snprintf(m->system_hive.error, sizeof m->system_hive.error, "%s", herr.msg);
}

/* The session's reads: each volume's Windows files, then the hives of
 * the Windows volume and the BCD of the boot volume. */
static int probe_session(struct bw_guest *g, struct bw_image *im, const int *in_session,
			 const char *sys_local, const char *sw_local, const char *bcd_local,
			 struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	int r = 0;
	for (int i = 0; i < m->nvols && r == 0; i++) {
		if (!in_session[i])
			continue;
		r = bw_guest_use(g, (size_t)im->guest_idx[i], err);
		if (r == 0)
			r = image_probe_volume(g, im, i, err);
		if (r == 0 && m->vols[i].has_windows && m->win_vol < 0)
			m->win_vol = i;
	}
	/* The BCD that boots is the one on the active partition; a
	 * one-partition image keeps it beside Windows. */
	for (int i = 0; i < m->nvols; i++) {
		const struct bw_image_volume *v = &m->vols[i];
		int active = v->part > 0 && image_active_part(m) == v->part;
		if (v->has_bcd && (active || m->boot_vol < 0))
			m->boot_vol = i;
	}
	if (r == 0 && m->win_vol >= 0) {
		int l1 = 0, l2 = 0;
		r = bw_guest_use(g, (size_t)im->guest_idx[m->win_vol], err);
		if (r == 0)
			r = fetch_hive(g, SYSTEM_PATH, "SYSTEM", sys_local, &m->system_hive, err);
		/* SYSTEM is read now, in the session: its drivers' files are
		 * looked for where ImagePath says. */
		if (r == 0 && m->system_hive.header_ok)
			read_system(m, sys_local);
		if (r == 0 && m->system_hive.loaded)
			r = job_driver_files(g, m->sys.drivers, BW_NUM_DRIVERS, err);
		if (r == 0)
			r = fetch_hive(g, SOFTWARE_PATH, "SOFTWARE", sw_local, &m->software_hive, err);
		if (r == 0 && (l1 = image_exists(g, SYSTEM_PATH ".LOG1", err)) < 0)
			r = l1;
		if (r == 0 && (l2 = image_exists(g, SYSTEM_PATH ".LOG2", err)) < 0)
			r = l2;
		m->system_hive.logs = (l1 > 0) + (l2 > 0);
	}
	if (r == 0 && m->boot_vol >= 0) {
		r = bw_guest_use(g, (size_t)im->guest_idx[m->boot_vol], err);
		if (r == 0)
			r = fetch_hive(g, "\\Boot\\BCD", "BCD", bcd_local, &m->bcd_hive, err);
	}
	return r;
}

/*
 * A GPT disk boots from its EFI system partition (FAT): its boot files and
 * BCD are read with boxwright's FAT reader, from the input in place.
 */
#define ESP_BCD "\\EFI\\Microsoft\\Boot\\BCD"
#define ESP_BOOT "\\EFI\\Boot\\bootx64.efi"
#define ESP_BCD_MAX (64u << 20)

int image_esp(struct bw_image *im, const char *bcd_local, struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	int esp = -1;
	for (int i = 0; i < m->nvols && esp < 0; i++)
		if (m->vols[i].gpt_kind == BW_GPT_KIND_ESP)
			esp = i;
	if (esp < 0)
		return 0;
	struct bw_image_volume *v = &m->vols[esp];
	char label[JOB_LABEL_MAX];
	snprintf(label, sizeof label, "%s: partition %d (EFI system)", m->file, v->part);
	struct bw_fat *fat;
	int r = bw_fat_open(im->disk, v->offset, v->size, label, &fat, err);
	if (r)
		return r;
	r = bw_fat_exists(fat, ESP_BOOT, NULL, NULL, err);
	if (r >= 0) {
		v->has_bootmgr = r;
		r = bw_fat_exists(fat, ESP_BCD, NULL, NULL, err);
	}
	if (r >= 0)
		v->has_bcd = r;
	uint8_t *data = NULL;
	size_t len = 0;
	if (r > 0 && bcd_local && (r = bw_fat_read(fat, ESP_BCD, ESP_BCD_MAX, &data, &len, err)) == 0) {
		FILE *f = fopen(bcd_local, "wb");
		if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
			if (f)
				fclose(f);
			r = bw_seterr(err, BW_EIO, bcd_local, "cannot write the BCD's copy");
		} else {
			m->bcd_hive.present = 1;
			struct bw_error herr;
			if (bw_hive_check_file(bcd_local, "BCD", &m->bcd_hive.hdr, &herr) == 0)
				m->bcd_hive.header_ok = 1;
			else
				snprintf(m->bcd_hive.error, sizeof m->bcd_hive.error, "%s", herr.msg);
		}
	}
	free(data);
	bw_fat_close(fat);
	if (r < 0)
		return r;
	m->boot_vol = esp;
	return 0;
}

/* Facts are read from any hive hivex accepts; a dirty one is diagnosed,
 * its facts shown as they stand in the file. */
static void read_facts(struct bw_image *im, const char *sw_local, const char *bcd_local)
{
	struct bw_image_model *m = &im->m;
	struct bw_error herr;
	job_hardware_model(m);          /* SYSTEM was read in the session */
	if (m->software_hive.header_ok) {
		if (bw_software_read(sw_local, "SOFTWARE", &m->sw, &herr) == 0)
			m->software_hive.loaded = 1;
		else
			snprintf(m->software_hive.error, sizeof m->software_hive.error, "%s", herr.msg);
	}
	if (m->bcd_hive.header_ok) {
		if (bw_bcd_load(bcd_local, "BCD", &im->bcd, &herr) == 0) {
			m->bcd_hive.loaded = 1;
			m->bcd = im->bcd;
		} else {
			snprintf(m->bcd_hive.error, sizeof m->bcd_hive.error, "%s", herr.msg);
		}
	}
}

int bw_image_probe(struct bw_image *im, const struct bw_backend_opts *bo,
		   const struct bw_job_hooks *h, struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	struct bw_backend_opts def = { .kind = BW_GUEST_DEFAULT };
	if (!bo)
		bo = &def;
	int r = job_check_backend(bo, err);
	if (r)
		return r;
	if (m->probed)
		return bw_seterr(err, BW_EUSAGE, m->file, "the image was probed already");
	work_init(&im->work, h);
	const char *files[BW_GUEST_MAX_VOLUMES], *labels[BW_GUEST_MAX_VOLUMES];
	char names[BW_GUEST_MAX_VOLUMES][JOB_LABEL_MAX];
	struct bw_guest_reader readers[BW_GUEST_MAX_VOLUMES];
	struct part_reader parts[BW_GUEST_MAX_VOLUMES];
	int in_place = bw_guest_reads_in_place(bo->kind);
	int in_session[BW_IMAGE_MAX_VOLUMES] = { 0 };
	size_t nfiles = 0;
	for (int i = 0; i < m->nvols; i++) {
		const struct bw_image_volume *v = &m->vols[i];
		if (!v->is_ntfs || nfiles >= BW_GUEST_MAX_VOLUMES)
			continue;
		image_label(names[nfiles], m->file, v->part);
		labels[nfiles] = names[nfiles];
		if (in_place) {
			parts[nfiles] = (struct part_reader){ .disk = im->disk, .offset = v->offset };
			readers[nfiles] = (struct bw_guest_reader){ part_pread, &parts[nfiles], v->size };
			files[nfiles] = names[nfiles];
		} else {
			if ((r = work_check_stop(&im->work, m->file, err)) != 0 ||
			    (r = image_copy_volume(im, i, &im->work, err)) != 0)
				return r;
			files[nfiles] = im->workfile[i];
		}
		im->guest_idx[i] = (int)nfiles++;
		in_session[i] = 1;
	}
	if (nfiles == 0) {
		m->probed = 1;
		return 0;
	}
	const char *sys_local, *sw_local, *bcd_local;
	if ((r = work_path(&im->work, "SYSTEM", &sys_local, err)) != 0 ||
	    (r = work_path(&im->work, "SOFTWARE", &sw_local, err)) != 0 ||
	    (r = work_path(&im->work, "BCD", &bcd_local, err)) != 0 ||
	    (r = work_check_stop(&im->work, m->file, err)) != 0)
		return r;

	struct bw_guest_opts o = image_guest_opts(bo, h, 1);
	o.labels = labels;
	if (in_place)
		o.readers = readers;
	struct bw_guest *g;
	r = bw_guest_open(files, nfiles, &o, &g, err);
	if (r)
		return reader_error(parts, in_place ? nfiles : 0, r, err);
	r = probe_session(g, im, in_session, sys_local, sw_local, bcd_local, err);
	struct bw_error cerr;
	int rc = bw_guest_close(g, &cerr);
	if (r)
		return reader_error(parts, in_place ? nfiles : 0, r, err);
	if (rc) {
		*err = cerr;
		return rc;
	}
	if (m->has_gpt && (r = image_esp(im, bcd_local, err)) != 0)
		return r;
	m->probed = 1;
	read_facts(im, sw_local, bcd_local);
	/* The hives are read: the copies are not needed any more. */
	work_cleanup(&im->work);
	memset(im->workfile, 0, sizeof im->workfile);
	return 0;
}

/*
 * bw_convert: any readable disk to any writable container, under a
 * temporary name beside the output, renamed into place when complete and
 * synced.  With sparsify, each NTFS volume's free clusters read as zeros.
 */
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "job/job_internal.h"

int bw_write_format_parse(const char *s, enum bw_write_format *f)
{
	if (!strcasecmp(s, "vmdk"))
		*f = BW_WRITE_VMDK_STREAM;
	else if (!strcasecmp(s, "vmdk-sparse"))
		*f = BW_WRITE_VMDK_SPARSE;
	else if (!strcasecmp(s, "vhd") || !strcasecmp(s, "vpc"))
		*f = BW_WRITE_VHD_DYNAMIC;
	else if (!strcasecmp(s, "vhd-fixed"))
		*f = BW_WRITE_VHD_FIXED;
	else if (!strcasecmp(s, "vhdx"))
		*f = BW_WRITE_VHDX_DYNAMIC;
	else if (!strcasecmp(s, "raw") || !strcasecmp(s, "img"))
		*f = BW_WRITE_RAW;
	else if (!strcasecmp(s, "qcow2"))
		*f = BW_WRITE_QCOW2;
	else
		return BW_EUSAGE;
	return 0;
}

const char *bw_write_format_name(enum bw_write_format f)
{
	switch (f) {
	case BW_WRITE_RAW:         return "raw";
	case BW_WRITE_VHD_DYNAMIC: return "vhd-dynamic";
	case BW_WRITE_VHD_FIXED:   return "vhd-fixed";
	case BW_WRITE_VHD_DIFF:    return "vhd-differencing";
	case BW_WRITE_VMDK_STREAM: return "vmdk-streamOptimized";
	case BW_WRITE_VMDK_SPARSE: return "vmdk-monolithicSparse";
	case BW_WRITE_QCOW2:       return "qcow2";
	case BW_WRITE_VHDX_DYNAMIC: return "vhdx-dynamic";
	case BW_WRITE_VHDX_DIFF:   return "vhdx-differencing";
	}
	return "?";
}

static int check_opts(const struct bw_convert_opts *o, enum bw_write_format *f,
		      struct bw_error *err)
{
	if (!o->input || !*o->input || !o->output || !*o->output)
		return bw_seterr(err, BW_EUSAGE, NULL, "IN and OUT expected");
	if (o->format) {
		if (!strcmp(bw_write_format_name(o->format), "?"))
			return bw_seterr(err, BW_EUSAGE, NULL, "unknown output format %d", (int)o->format);
		*f = o->format;
	} else {
		const char *dot = strrchr(o->output, '.');
		if (!dot || bw_write_format_parse(dot + 1, f) != 0)
			return bw_seterr(err, BW_EUSAGE, NULL, "cannot tell the output format from '%s': give -O",
					 o->output);
	}
	if (o->input_format && strcmp(o->input_format, "raw") != 0)
		return bw_seterr(err, BW_EUSAGE, NULL,
				 "-f takes raw (other formats are probed), not '%s'", o->input_format);
	if (o->input_format && o->sparsify)
		return bw_seterr(err, BW_EUSAGE, NULL, "-f raw and --sparsify cannot be combined");
	if (o->compress_level < 0 || o->compress_level > 9)
		return bw_seterr(err, BW_EUSAGE, NULL, "--compress-level takes 1..9, not '%d'",
				 o->compress_level);
	if (o->threads < 0 || o->threads > 256)
		return bw_seterr(err, BW_EUSAGE, NULL, "--threads takes 1..256, not '%d'", o->threads);
	const char *a = o->adapter_type;
	if (a && strcmp(a, "ide") && strcmp(a, "lsilogic") && strcmp(a, "buslogic") &&
	    strcmp(a, "legacyESX"))
		return bw_seterr(err, BW_EUSAGE, NULL, "--adapter-type takes ide, lsilogic, buslogic or legacyESX");
	int r = job_check_not_input(o->input, o->output,
				    "is the input itself: convert never modifies its input", err);
	return r ? r : job_check_output(o->output, err);
}

/* Each NTFS volume of the image as a copy region, refusing one whose
 * $Bitmap cannot be trusted. */
static int sparsify_regions(const struct bw_image *im, struct bw_copy_region *reg,
			    size_t *n, struct bw_error *err)
{
	const struct bw_image_model *m = &im->m;
	*n = 0;
	for (int i = 0; i < m->nvols; i++) {
		const struct bw_image_volume *v = &m->vols[i];
		if (!v->is_ntfs)
			continue;
		if (v->st.logfile != BW_NTFS_LOG_CLEAN)
			return bw_seterr(err, BW_EUNSUPPORTED, m->file,
					 "NTFS volume at offset %llu: $LogFile is %s, so its $Bitmap cannot be trusted (was Windows shut down cleanly?); convert without --sparsify",
					 (unsigned long long)v->offset,
					 v->st.logfile == BW_NTFS_LOG_UNCLEAN ? "not clean" : "not understood");
		/* Hibernated (ntfs-3g's rule, read by bw_ntfs_open): the
		 * volume's true state is in the hibernation image, not in
		 * its $Bitmap. */
		if (v->st.hibernated == 1)
			return bw_seterr(err, BW_EUNSUPPORTED, m->file,
					 "NTFS volume at offset %llu: Windows is hibernated on it (hiberfil.sys), so its $Bitmap cannot be trusted (resume Windows and shut it down fully); convert without --sparsify",
					 (unsigned long long)v->offset);
		reg[(*n)++] = (struct bw_copy_region){ .offset = v->offset, .size = v->size,
						       .ntfs = im->ntfs[i] };
	}
	return 0;
}

int bw_convert(const struct bw_convert_opts *o, const struct bw_job_hooks *h,
	       struct bw_convert_result *res, struct bw_error *err)
{
	enum bw_write_format f;
	memset(res, 0, sizeof *res);
	int r = check_opts(o, &f, err);
	if (r)
		return r;
	struct job_work w;
	work_init(&w, h);
	struct bw_image *im = NULL;
	struct bw_writer *wr = NULL;
	struct bw_copy_region reg[BW_COPY_MAX_REGIONS];
	size_t nreg = 0;
	const char *tmp;
	struct bw_copy_stats st = { 0 };
	/* Without sparsify the partition table is not needed: a disk whose
	 * MBR we would refuse still converts. */
	struct bw_disk *d = NULL;
	if (o->sparsify) {
		r = bw_image_open(o->input, &im, err);
		if (r == 0)
			r = sparsify_regions(im, reg, &nreg, err);
		d = im ? im->disk : NULL;
	} else {
		r = bw_disk_open_as(o->input, o->input_format, &d, err);
	}
	if (r)
		goto out;
	struct bw_writer_opts wo = {
		.format = f,
		.size = (bw_disk_size(d) + 511) / 512 * 512,
		.compress_level = o->compress_level,
		.threads = o->threads,
		.adapter_type = o->adapter_type ? o->adapter_type : "ide",
		.name = o->output,
	};
	if ((r = work_check_stop(&w, o->input, err)) != 0 ||
	    (r = work_output(&w, o->output, &tmp, err)) != 0 ||
	    (r = bw_writer_open(tmp, &wo, &wr, err)) != 0)
		goto out;
	struct bw_copy_opts co = { .regions = reg, .nregions = nreg };
	work_copy_opts(&w, "convert", &co);
	r = bw_copy(d, wr, &co, &st, err);
	if (r)
		goto out;
	uint64_t bytes_out = bw_writer_bytes_out(wr);
	struct bw_writer *wf = wr;
	wr = NULL;
	r = bw_writer_finish(wf, err);
	/* a stop asked for while the writer finished: nothing renamed */
	if (r == 0)
		r = work_check_stop(&w, o->input, err);
	if (r == 0)
		r = work_commit(&w, tmp, o->output, err);
	if (r)
		goto out;
	struct stat so;
	res->input_format = bw_disk_format(d);
	res->output_format = bw_write_format_name(f);
	res->virtual_size = bw_writer_actual_size(&wo);
	res->ntfs_volumes = (unsigned)nreg;
	res->bytes_mapped = st.mapped;
	res->bytes_read = st.read;
	res->bytes_skipped_free = st.skipped;
	res->output_size = stat(o->output, &so) == 0 ? (uint64_t)so.st_size : bytes_out;
out:
	bw_writer_abort(wr);
	work_cleanup(&w);
	if (im)
		bw_image_close(im);
	else
		bw_disk_close(d);
	return r;
}

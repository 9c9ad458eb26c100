/*
 * bw_patch: apply offline edits and write an image of the input's format.
 *
 * The input is only read.  Its NTFS volumes' used clusters are copied to
 * working files; one guest session edits the Windows one; then the output
 * is written from the input with the Windows partition taken from its
 * working file, under a temporary name that is renamed into place (over
 * the input with in_place) only when complete and synced.
 *
 * A differencing VHD or VHDX stays one: the output is a new child of the
 * same parent, naming it as the input did, holding only the blocks that
 * differ from the parent (the parent is only read).  The edited volume's
 * free clusters then keep the input's bytes instead of zeros, which would
 * pull every block of the parent's free-space garbage into the child: the
 * output differs from the input only where the edits wrote.  A child
 * holding what the new one could not keep (bw_disk_vhdx_link) is refused
 * before any work: never silently detached or stripped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/ntfs.h"
#include "job/job_internal.h"

static enum bw_write_format same_format(const char *f)
{
	/* before "vhd": "vhdx-..." starts with it too */
	if (!strcmp(f, "vhdx-differencing"))
		return BW_WRITE_VHDX_DIFF;
	if (!strncmp(f, "vhdx", 4))
		return BW_WRITE_VHDX_DYNAMIC;
	if (!strcmp(f, "vhd-fixed"))
		return BW_WRITE_VHD_FIXED;
	if (!strcmp(f, "vhd-differencing"))
		return BW_WRITE_VHD_DIFF;
	if (!strncmp(f, "vhd", 3))
		return BW_WRITE_VHD_DYNAMIC;
	if (!strcmp(f, "vmdk-monolithicSparse"))
		return BW_WRITE_VMDK_SPARSE;
	if (!strncmp(f, "vmdk", 4))
		return BW_WRITE_VMDK_STREAM;
	return BW_WRITE_RAW;
}

static int check_opts(const struct bw_patch_opts *o, struct bw_error *err)
{
	if (!o->input || !*o->input)
		return bw_seterr(err, BW_EUSAGE, NULL, "one IMAGE expected");
	if (!o->output == !o->in_place || (o->output && !*o->output))
		return bw_seterr(err, BW_EUSAGE, NULL, "give exactly one of -o OUT and --in-place");
	int r = job_check_backend(&o->backend, err);
	if (r == 0)
		r = job_check_edits(&o->edits, 1, err);
	if (r == 0 && !o->in_place)
		r = job_check_not_input(o->input, o->output,
					"is the input: use --in-place to replace it", err);
	if (r == 0)
		r = job_check_output(o->in_place ? o->input : o->output, err);
	struct stat st;
	if (r == 0 && o->in_place && stat(o->input, &st) == 0 && st.st_nlink > 1)
		/* The rename replaces one name: the others would keep the
		 * unpatched image, silently. */
		r = bw_seterr(err, BW_EUSAGE, o->input,
			      "has %lu other hard link(s): --in-place would patch only this name; write a copy with -o OUT (and move it over each link you want patched)",
			      (unsigned long)st.st_nlink - 1);
	return r;
}

/*
 * The parent link a differencing output keeps, read before any work (and
 * before the partitions are read): a differencing VHDX holding what a new
 * child could not keep is refused here.  *VHDX gets the VHDX link
 * (malloc'd) of a differencing VHDX, else NULL.  Returns 0,
 * BW_EUNSUPPORTED, BW_ENOMEM or bw_disk_open's error.
 */
static int check_kind(const char *input, struct bw_vhdx_link **vhdx,
		      struct bw_error *err)
{
	struct bw_disk *d;
	*vhdx = NULL;
	int r = bw_disk_open(input, &d, err);
	if (r)
		return r;
	if (!strcmp(bw_disk_format(d), "vhdx-differencing")) {
		if (!(*vhdx = malloc(sizeof **vhdx)))
			r = bw_seterr(err, BW_ENOMEM, input, "out of memory");
		else if ((r = bw_disk_vhdx_link(d, *vhdx, err)) != 0) {
			free(*vhdx);
			*vhdx = NULL;
		}
	}
	bw_disk_close(d);
	return r;
}

/*
 * The written child OUT must find the same parent as the input did: its
 * locators are the input's, and a relative one read from another
 * directory may name another file or none.  KIND: "VHD" or "VHDX".
 * Returns 0, BW_EUNSUPPORTED naming both, or the open error.
 */
static int check_same_parent(struct bw_disk *in, const char *out, const char *final,
			     const char *kind, struct bw_error *err)
{
	struct bw_disk *d = NULL;
	struct bw_error e2 = { 0 };
	struct stat a, b;
	const char *want = bw_disk_path(bw_disk_parent(in));
	const char *ext = strcmp(kind, "VHD") ? "vhdx" : "vhd";
	int r = bw_disk_open(out, &d, &e2);
	struct bw_disk *p = r == 0 ? bw_disk_parent(d) : NULL;
	if (p && stat(want, &a) == 0 && stat(bw_disk_path(p), &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		r = 0;
	else if (p)
		r = bw_seterr(err, BW_EUNSUPPORTED, final,
			      "the patched differencing %s would take %s for its parent, not %s: its parent locators are the input's; write it in the input's directory (or --in-place), or flatten the input first (boxwright convert IN -O %s FLAT.%s)",
			      kind, bw_disk_path(p), want, ext, ext);
	else
		/* e2 names the temporary file: not shown. */
		r = bw_seterr(err, BW_EUNSUPPORTED, final,
			      "the patched differencing %s would not find its parent %s from there: its parent locators are the input's; write it in the input's directory (or --in-place), or flatten the input first (boxwright convert IN -O %s FLAT.%s)",
			      kind, want, ext, ext);
	bw_disk_close(d);
	return r;
}

/* Edit the Windows volume of IM in a working file. */
static int patch_edit(struct bw_image *im, const struct bw_patch_opts *o,
		      const struct bw_job_hooks *h, struct job_work *w,
		      struct bw_edit_result *res, struct bw_error *err)
{
	struct bw_guest *g;
	int r = job_volumes_prepare(im, w, err);
	if (r == 0)
		r = job_session_start(im, &o->backend, h, NULL, &g, err);
	if (r)
		return r;
	r = job_session_edit(g, im, w, &o->edits, NULL, NULL, res, err);
	return job_session_end(g, r, err);
}

int bw_patch(const struct bw_patch_opts *o, const struct bw_job_hooks *h,
	     struct bw_patch_result *res, struct bw_error *err)
{
	memset(res, 0, sizeof *res);
	int r = check_opts(o, err);
	if (r)
		return r;
	struct job_work w;
	work_init(&w, h);
	struct bw_image *im = NULL;
	struct bw_disk *work = NULL;
	struct bw_writer *wr = NULL;
	struct bw_ntfs *edited = NULL;
	struct bw_vhd_link *link = NULL;
	struct bw_vhdx_link *xlink = NULL;
	const char *tmp;
	char *real = NULL;
	/* In place, the file that is replaced is the one a symlink names:
	 * replacing the link itself would leave the image unpatched. */
	const char *final = o->output;
	struct stat sin;
	if (o->in_place) {
		if (!(real = realpath(o->input, NULL))) {
			r = bw_seterr(err, BW_EIO, o->input, "cannot resolve: %s", strerror(errno));
			goto out;
		}
		final = real;
	}
	r = check_kind(o->input, &xlink, err);
	if (r == 0)
		r = bw_image_open(o->input, &im, err);
	if (r == 0)
		r = patch_edit(im, o, h, &w, &res->edits, err);
	if (r)
		goto out;
	/* Output: the input, with the Windows partition from its working file. */
	const struct bw_image_model *m = &im->m;
	int wi = m->win_vol;
	r = bw_disk_open(im->workfile[wi], &work, err);
	if (r)
		goto out;
	struct bw_writer_opts wo = {
		.format = same_format(m->format),
		.size = (m->size + 511) / 512 * 512,
		.name = final,
	};
	/* A VMDK keeps its controller type (VMware attaches the disk by it);
	 * one our writers do not know becomes their default, ide. */
	const char *ad = m->info.vmdk_adapter;
	if (!strcmp(ad, "ide") || !strcmp(ad, "lsilogic") || !strcmp(ad, "buslogic") ||
	    !strcmp(ad, "legacyESX"))
		wo.adapter_type = ad;
	if (m->info.has_vhd_footer) {
		wo.vhd_keep = 1;
		memcpy(wo.vhd_footer, m->info.vhd_footer, sizeof wo.vhd_footer);
	}
	struct bw_copy_region reg = { .offset = m->vols[wi].offset, .size = m->vols[wi].size,
				      .replace = work };
	int diff = wo.format == BW_WRITE_VHD_DIFF || wo.format == BW_WRITE_VHDX_DIFF;
	if (wo.format == BW_WRITE_VHD_DIFF) {
		if (!(link = malloc(sizeof *link))) {
			r = bw_seterr(err, BW_ENOMEM, o->input, "out of memory");
			goto out;
		}
		if ((r = bw_disk_vhd_link(im->disk, link, err)) != 0)
			goto out;
		wo.vhd_link = link;
	}
	wo.vhdx_link = xlink;
	if (diff) {
		if ((r = bw_ntfs_open(work, 0, m->vols[wi].size, &edited, err)) != 0)
			goto out;
		wo.parent = bw_disk_parent(im->disk);
		reg.ntfs = edited;      /* free clusters: the input's bytes */
	}
	if ((r = work_check_stop(&w, o->input, err)) != 0 ||
	    (r = work_output(&w, final, &tmp, err)) != 0 ||
	    (r = bw_writer_open(tmp, &wo, &wr, err)) != 0)
		goto out;
	struct bw_copy_opts co = { .regions = &reg, .nregions = 1 };
	work_copy_opts(&w, "patch", &co);
	r = bw_copy(im->disk, wr, &co, NULL, err);
	if (r)
		goto out;
	struct bw_writer *wf = wr;
	wr = NULL;
	r = bw_writer_finish(wf, err);
	if (r == 0 && diff)
		r = check_same_parent(im->disk, tmp, final,
				      wo.format == BW_WRITE_VHD_DIFF ? "VHD" : "VHDX", err);
	if (r)
		goto out;
	if (o->in_place && stat(final, &sin) == 0) {
		/* The replacement keeps the image's owner where we may set
		 * it (root, or our own file) and its permissions (a private
		 * image stays private): set the owner first, as chown may
		 * clear set-id bits. */
		if (chown(tmp, sin.st_uid, sin.st_gid) != 0 && errno != EPERM) {
			r = bw_seterr(err, BW_EIO, tmp, "cannot set its owner: %s", strerror(errno));
			goto out;
		}
		if (chmod(tmp, sin.st_mode & 07777) != 0) {
			r = bw_seterr(err, BW_EIO, tmp, "cannot set its mode: %s", strerror(errno));
			goto out;
		}
	}
	/* A stop asked for while the output was finished (the writer's
	 * tables, fsync) still leaves the input as it was. */
	if ((r = work_check_stop(&w, o->input, err)) != 0 ||
	    (r = work_commit(&w, tmp, final, err)) != 0)
		goto out;
	struct stat so;
	res->format = bw_disk_format(im->disk);
	res->backend = bw_guest_kind_name(o->backend.kind);
	res->output_size = stat(final, &so) == 0 ? (uint64_t)so.st_size : 0;
out:
	bw_writer_abort(wr);
	bw_ntfs_close(edited);
	free(link);
	free(xlink);
	bw_disk_close(work);
	work_cleanup(&w);
	bw_image_close(im);
	free(real);
	return r;
}

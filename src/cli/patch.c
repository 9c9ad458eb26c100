/*
 * boxwright patch IMAGE (-o OUT | --in-place) EDITS: apply offline edits
 * and write an image of the input's format.
 *
 * The input is only read.  Its NTFS volumes' used clusters are copied to
 * working files; one guest session edits the Windows one (hives through
 * hivex on the host, files through the backend); then the output is
 * written from the input with the Windows partition taken from its working
 * file, under a temporary name that is renamed into place (over the input
 * with --in-place) only when complete and synced.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "boxwright/copy.h"
#include "boxwright/guest.h"
#include "cli/cli.h"
#include "cli/edits.h"
#include "cli/inspect.h"
#include "cli/json.h"

static const char patch_usage[] =
	"Usage: boxwright patch IMAGE (-o OUT | --in-place) EDITS... [OPTIONS]\n"
	"Apply offline edits to a Windows image and write an image of the same format\n"
	"(VHD dynamic or fixed, raw, VMDK streamOptimized; a differencing VHD is\n"
	"written as a dynamic one).  A VHD keeps its creator, geometry and size.\n"
	"\n"
	"  -o, --output OUT        write the patched image to OUT\n"
	"  --in-place              replace IMAGE atomically (written beside it, synced,\n"
	"                          renamed over it: never half-changed)\n"
	EDITS_USAGE
	GUESTOPT_USAGE
	"  -v, --verbose           say what the guest backend does\n"
	"  --progress, --quiet     force or silence progress on stderr\n"
	"  --json                  print a JSON summary on stdout\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 done, 1 failed, 2 usage, 3 unreadable, unsupported or dirty input\n"
	"(a dirty hive, a hibernated volume or one with an unclean $LogFile is refused).\n";

static enum bw_write_format same_format(const char *f)
{
	if (!strcmp(f, "vhd-fixed"))
		return BW_WRITE_VHD_FIXED;
	if (!strncmp(f, "vhd", 3))
		return BW_WRITE_VHD_DYNAMIC;
	if (!strncmp(f, "vmdk", 4))
		return BW_WRITE_VMDK_STREAM;
	return BW_WRITE_RAW;
}

int cmd_patch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "in-place", no_argument, NULL, 'i' },
		EDITS_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		GUESTOPT_OPTIONS,
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_edits ed;
	cli_edits_init(&ed);
	const char *outp = NULL;
	int in_place = 0, json = 0, progress_mode = 0, c, status;
	struct cli_guest cg;
	cli_guest_init(&cg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outp = optarg; break;
		case 'i': in_place = 1; break;
		case 'v': cg.verbose = 1; break;
		case 'P': progress_mode = 1; break;
		case 'q': progress_mode = -1; break;
		case 'j': json = 1; break;
		case 'h': fputs(patch_usage, stdout); cli_edits_free(&ed); return EXIT_DONE;
		default:
			if (cli_edits_option(&ed, c, optarg) == 0 ||
			    cli_guest_option(&cg, c, optarg) == 0)
				break;
			cli_edits_free(&ed);
			return cli_usage_error("patch", "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (cli_guest_check(&cg, "patch") != 0) {
		cli_edits_free(&ed);
		return EXIT_USAGE;
	}
	if (argc - optind != 1) {
		cli_edits_free(&ed);
		return cli_usage_error("patch", "one IMAGE expected");
	}
	const char *in = argv[optind];
	if (!outp == !in_place) {
		cli_edits_free(&ed);
		return cli_usage_error("patch", "give exactly one of -o OUT and --in-place");
	}
	if (in_place)
		outp = in;
	struct bw_error err;
	bw_error_clear(&err);
	int r = cli_edits_check(&ed, "patch", &err);
	if (r) {
		cli_edits_free(&ed);
		return r == BW_EINVAL ? cli_usage_error("patch", "%s", err.msg) : cli_fail(&err);
	}

	struct inspect *im = calloc(1, sizeof *im);
	struct bw_disk *work = NULL;
	struct bw_writer *w = NULL;
	const char *tmp = NULL;
	struct cli_edit_result res = { 0 };
	double t0 = cli_now();
	if (!im) {
		r = bw_seterr(&err, BW_ENOMEM, in, "out of memory");
		goto out;
	}
	im->file = in;
	im->win_vol = im->boot_vol = -1;
	struct stat sin, sout;
	if (!in_place && stat(in, &sin) == 0 && stat(outp, &sout) == 0 &&
	    sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino) {
		r = bw_seterr(&err, BW_EINVAL, outp, "is the input: use --in-place to replace it");
		goto out;
	}
	r = bw_disk_open(in, &im->disk, &err);
	if (r == 0)
		r = inspect_read_layout(im, &err);
	if (r == 0)
		r = cli_tmp_init(&err);
	if (r == 0)
		r = cli_edits_apply(im, &ed, &cg, &res, &err);
	if (r)
		goto out;

	/* Output: the input, with the Windows partition from its working file. */
	const struct inspect_vol *wv = &im->vols[im->win_vol];
	r = bw_disk_open(wv->workfile, &work, &err);
	if (r)
		goto out;
	struct bw_disk_info info;
	r = bw_disk_get_info(im->disk, &info, &err);
	if (r)
		goto out;
	struct bw_writer_opts wo = {
		.format = same_format(bw_disk_format(im->disk)),
		.size = (bw_disk_size(im->disk) + 511) / 512 * 512,
	};
	if (info.has_vhd_footer) {
		wo.vhd_keep = 1;
		memcpy(wo.vhd_footer, info.vhd_footer, sizeof wo.vhd_footer);
	}
	wo.name = outp;
	tmp = cli_tmp_output(outp);
	if (!tmp) {
		r = bw_seterr(&err, BW_EIO, outp, "output path too long");
		goto out;
	}
	r = bw_writer_open(tmp, &wo, &w, &err);
	if (r)
		goto out;
	struct bw_copy_region reg = { .offset = wv->offset, .size = wv->size, .replace = work };
	struct cli_progress pr;
	cli_progress_init(&pr, "patch", progress_mode);
	struct bw_copy_opts co = { .regions = &reg, .nregions = 1,
				   .progress = cli_progress_update, .opaque = &pr };
	r = bw_copy(im->disk, w, &co, NULL, &err);
	cli_progress_end(&pr);
	if (r)
		goto out;
	struct bw_writer *wf = w;
	w = NULL;
	r = bw_writer_finish(wf, &err);
	if (r == 0)
		r = cli_commit_output(tmp, outp, &err);
	if (r)
		goto out;
	struct stat so;
	if (json) {
		struct json jj;
		json_init(&jj, stdout);
		json_obj_begin(&jj);
		json_kstr(&jj, "input", in);
		json_kstr(&jj, "output", outp);
		json_kbool(&jj, "in_place", in_place);
		json_kstr(&jj, "backend", bw_guest_kind_name(cg.backend));
		json_kstr(&jj, "format", bw_disk_format(im->disk));
		json_ki64(&jj, "windows_partition", wv->part);
		cli_edits_json(&jj, &res);
		json_ku64(&jj, "output_size", stat(outp, &so) == 0 ? (uint64_t)so.st_size : 0);
		json_kdouble(&jj, "seconds", cli_now() - t0, 3);
		json_obj_end(&jj);
	} else if (progress_mode >= 0) {
		fprintf(stderr, "boxwright: patched %s -> %s (%.1f s)\n", in, outp, cli_now() - t0);
	}
out:
	bw_writer_abort(w);
	if (r && tmp)
		remove(tmp);
	bw_disk_close(work);
	cli_tmp_cleanup();
	status = r ? cli_fail(&err) : EXIT_DONE;
	if (im) {
		inspect_free(im);
		free(im);
	}
	cli_edits_free(&ed);
	return status;
}

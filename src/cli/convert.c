/*
 * boxwright convert IN OUT [-O FMT] [--sparsify]: any readable disk to any
 * writable container.  The output is written under a temporary name beside
 * OUT and renamed into place only when complete and synced.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "boxwright/copy.h"
#include "cli/cli.h"
#include "cli/inspect.h"
#include "cli/json.h"

static const char convert_usage[] =
	"Usage: boxwright convert IN OUT [-O vmdk|vhd|vhd-fixed|raw] [--sparsify] [OPTIONS]\n"
	"Convert a disk image (raw, VHD fixed/dynamic/differencing, VMDK) to another\n"
	"container.  Only allocated data is read; all-zero data is not stored.\n"
	"\n"
	"  -O FORMAT             vmdk (streamOptimized), vhd (dynamic), vhd-fixed, raw;\n"
	"                        default from OUT's extension (.vmdk, .vhd, .raw/.img)\n"
	"  --sparsify            read NTFS free clusters as zeros (from each volume's\n"
	"                        $Bitmap): deleted-file garbage is not copied; refuses a\n"
	"                        volume whose $Bitmap cannot be trusted\n"
	"  --compress-level N    VMDK deflate level 1..9 (default 6)\n"
	"  --threads N           VMDK deflate threads (default: all CPUs)\n"
	"  --adapter-type T      VMDK ddb.adapterType: ide (default), lsilogic, buslogic\n"
	"  --progress, --quiet   force or silence progress on stderr (default: if a TTY)\n"
	"  --json                print a JSON summary on stdout\n"
	"  -h, --help            this help\n"
	"\n"
	"The input is never modified.  OUT appears only when complete.\n"
	"Exit status: 0 done, 1 failed, 2 usage, 3 unreadable or unsupported input.\n";

static int parse_format(const char *s, enum bw_write_format *f)
{
	if (!strcasecmp(s, "vmdk"))
		*f = BW_WRITE_VMDK_STREAM;
	else if (!strcasecmp(s, "vhd") || !strcasecmp(s, "vpc"))
		*f = BW_WRITE_VHD_DYNAMIC;
	else if (!strcasecmp(s, "vhd-fixed"))
		*f = BW_WRITE_VHD_FIXED;
	else if (!strcasecmp(s, "raw") || !strcasecmp(s, "img"))
		*f = BW_WRITE_RAW;
	else
		return -1;
	return 0;
}

static const char *format_name(enum bw_write_format f)
{
	switch (f) {
	case BW_WRITE_RAW:         return "raw";
	case BW_WRITE_VHD_DYNAMIC: return "vhd-dynamic";
	case BW_WRITE_VHD_FIXED:   return "vhd-fixed";
	case BW_WRITE_VMDK_STREAM: return "vmdk-streamOptimized";
	}
	return "?";
}

/* Each NTFS volume of the image as a copy region, refusing one whose
 * $Bitmap cannot be trusted. */
static int sparsify_regions(struct inspect *lay, struct bw_copy_region *reg,
			    size_t *n, struct bw_error *err)
{
	*n = 0;
	int r = inspect_read_layout(lay, err);
	if (r)
		return r;
	for (int i = 0; i < lay->nvols; i++) {
		const struct inspect_vol *v = &lay->vols[i];
		if (!v->is_ntfs)
			continue;
		if (v->st.logfile != BW_NTFS_LOG_CLEAN)
			return bw_seterr(err, BW_EUNSUPPORTED, lay->file,
					 "NTFS volume at offset %llu: $LogFile is %s, so its $Bitmap cannot be trusted (was Windows shut down cleanly?); convert without --sparsify",
					 (unsigned long long)v->offset,
					 v->st.logfile == BW_NTFS_LOG_UNCLEAN ? "not clean" : "not understood");
		/* Hibernated (ntfs-3g's rule, read by bw_ntfs_open): the
		 * volume's true state is in the hibernation image, not in
		 * its $Bitmap. */
		if (v->st.hibernated == 1)
			return bw_seterr(err, BW_EUNSUPPORTED, lay->file,
					 "NTFS volume at offset %llu: Windows is hibernated on it (hiberfil.sys), so its $Bitmap cannot be trusted (resume Windows and shut it down fully); convert without --sparsify",
					 (unsigned long long)v->offset);
		reg[(*n)++] = (struct bw_copy_region){ .offset = v->offset, .size = v->size,
						       .ntfs = v->ntfs };
	}
	return 0;
}

int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sparsify", no_argument, NULL, 's' },
		{ "compress-level", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "adapter-type", required_argument, NULL, 'a' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int sparsify = 0, level = 6, threads = 0, json = 0, progress_mode = 0, c;
	const char *fmt = NULL, *adapter = "ide";
	char *end;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "O:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'O': fmt = optarg; break;
		case 's': sparsify = 1; break;
		case 'l':
			level = (int)strtol(optarg, &end, 10);
			if (*end || level < 1 || level > 9)
				return cli_usage_error("convert", "--compress-level takes 1..9, not '%s'", optarg);
			break;
		case 't':
			threads = (int)strtol(optarg, &end, 10);
			if (*end || threads < 1 || threads > 256)
				return cli_usage_error("convert", "--threads takes 1..256, not '%s'", optarg);
			break;
		case 'a':
			if (strcmp(optarg, "ide") && strcmp(optarg, "lsilogic") &&
			    strcmp(optarg, "buslogic") && strcmp(optarg, "legacyESX"))
				return cli_usage_error("convert", "--adapter-type takes ide, lsilogic, buslogic or legacyESX");
			adapter = optarg;
			break;
		case 'P': progress_mode = 1; break;
		case 'q': progress_mode = -1; break;
		case 'j': json = 1; break;
		case 'h': fputs(convert_usage, stdout); return EXIT_DONE;
		default:
			return cli_usage_error("convert", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("convert", "IN and OUT expected");
	const char *in = argv[optind], *outp = argv[optind + 1];
	enum bw_write_format f;
	if (!fmt) {
		const char *dot = strrchr(outp, '.');
		if (!dot || parse_format(dot + 1, &f) != 0)
			return cli_usage_error("convert", "cannot tell the output format from '%s': give -O", outp);
	} else if (parse_format(fmt, &f) != 0) {
		return cli_usage_error("convert", "unknown output format '%s'", fmt);
	}

	struct bw_error err;
	bw_error_clear(&err);
	struct bw_disk *d = NULL;
	struct bw_writer *w = NULL;
	struct inspect *lay = calloc(1, sizeof *lay);
	struct bw_copy_region reg[BW_COPY_MAX_REGIONS];
	size_t nreg = 0;
	const char *tmp = NULL;
	struct bw_copy_stats st = { 0 };
	double t0 = cli_now();
	int r = lay ? bw_disk_open(in, &d, &err)
		    : bw_seterr(&err, BW_ENOMEM, in, "out of memory");
	if (r)
		goto out;
	lay->file = in;
	lay->disk = d;      /* lay owns it from here */
	lay->win_vol = lay->boot_vol = -1;
	struct stat sin, sout;
	if (stat(in, &sin) == 0 && stat(outp, &sout) == 0 &&
	    sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino) {
		r = bw_seterr(&err, BW_EINVAL, outp, "is the input itself: convert never modifies its input");
		goto out;
	}
	if (sparsify && (r = sparsify_regions(lay, reg, &nreg, &err)) != 0)
		goto out;
	struct bw_writer_opts wo = {
		.format = f,
		.size = (bw_disk_size(d) + 511) / 512 * 512,
		.compress_level = level,
		.threads = threads,
		.adapter_type = adapter,
	};
	wo.name = outp;
	tmp = cli_tmp_output(outp);
	if (!tmp) {
		r = bw_seterr(&err, BW_EIO, outp, "output path too long");
		goto out;
	}
	r = bw_writer_open(tmp, &wo, &w, &err);
	if (r)
		goto out;
	struct cli_progress pr;
	cli_progress_init(&pr, "convert", progress_mode);
	struct bw_copy_opts co = { .regions = reg, .nregions = nreg,
				   .progress = cli_progress_update, .opaque = &pr };
	r = bw_copy(d, w, &co, &st, &err);
	cli_progress_end(&pr);
	if (r)
		goto out;
	uint64_t bytes_out = bw_writer_bytes_out(w);
	struct bw_writer *wf = w;
	w = NULL;
	r = bw_writer_finish(wf, &err);
	if (r == 0)
		r = cli_commit_output(tmp, outp, &err);
	if (r)
		goto out;
	struct stat so;
	double secs = cli_now() - t0;
	if (json) {
		struct json jj;
		json_init(&jj, stdout);
		json_obj_begin(&jj);
		json_kstr(&jj, "input", in);
		json_kstr(&jj, "input_format", bw_disk_format(d));
		json_kstr(&jj, "output", outp);
		json_kstr(&jj, "output_format", format_name(f));
		json_ku64(&jj, "virtual_size", bw_writer_actual_size(&wo));
		json_kbool(&jj, "sparsify", sparsify);
		json_ku64(&jj, "ntfs_volumes", nreg);
		json_ku64(&jj, "bytes_mapped", st.mapped);
		json_ku64(&jj, "bytes_read", st.read);
		json_ku64(&jj, "bytes_skipped_free", st.skipped);
		json_ku64(&jj, "output_size", stat(outp, &so) == 0 ? (uint64_t)so.st_size : bytes_out);
		json_kdouble(&jj, "seconds", secs, 3);
		json_obj_end(&jj);
	}
out:
	bw_writer_abort(w);
	if (r && tmp)
		remove(tmp);
	if (lay) {
		inspect_free(lay);
		free(lay);
	} else {
		bw_disk_close(d);
	}
	return r ? cli_fail(&err) : EXIT_DONE;
}

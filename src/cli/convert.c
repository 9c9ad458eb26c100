/* boxwright convert IN OUT [-O FMT] [-f raw] [--sparsify]: argv -> bw_convert -> print. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"

static const char convert_usage[] =
	"Usage: boxwright convert IN OUT [-O vmdk|vmdk-sparse|vhd|vhd-fixed|vhdx|qcow2|raw] [-f raw] [--sparsify] [OPTIONS]\n"
	"Convert a disk image (raw, VHD fixed/dynamic/differencing, VHDX fixed/dynamic/\n"
	"differencing, VMDK) to another container.  Only allocated data is read;\n"
	"all-zero data is not stored.\n"
	"\n"
	"  -O FORMAT             vmdk (streamOptimized), vmdk-sparse (monolithicSparse,\n"
	"                        VMware's growable single file), vhd (dynamic), vhd-fixed,\n"
	"                        vhdx (dynamic, 1 MiB blocks), qcow2 (v3, compressed\n"
	"                        clusters), raw (vpc = vhd, img = raw; any letter case);\n"
	"                        default from OUT's extension (.vmdk, .vhd/.vpc, .vhdx,\n"
	"                        .qcow2, .raw/.img)\n"
	"  -f, --input-format raw\n"
	"                        read IN itself as a raw disk, even when it looks like\n"
	"                        a container boxwright refuses (qcow2, VDI, gzip, ...);\n"
	"                        default: probe IN's format; not with --sparsify\n"
	"  --sparsify            read NTFS free clusters as zeros (from each volume's\n"
	"                        $Bitmap): deleted-file data in free clusters is not\n"
	"                        copied; only free clusters are dropped: free MFT record\n"
	"                        slots and cluster slack are copied as they are; refuses\n"
	"                        a volume whose $Bitmap cannot be trusted\n"
	"  --compress-level N    VMDK/qcow2 deflate level 1..9 (default 6)\n"
	"  --threads N           VMDK/qcow2 deflate threads (default: all CPUs)\n"
	"  --adapter-type T      VMDK ddb.adapterType: ide (default), lsilogic, buslogic,\n"
	"                        legacyESX\n"
	"  --progress, -q, --quiet\n"
	"                        force or silence progress on stderr (default: if a TTY)\n"
	"  --json                print a JSON summary on stdout\n"
	"  -h, --help            this help\n"
	"\n"
	"The input is never modified.  OUT appears only when complete.\n"
	"Exit status: 0 done, 1 failed, 2 usage, 3 unreadable or unsupported input.\n";

static void print_json(const struct bw_convert_opts *o, const struct bw_convert_result *res,
		       double secs)
{
	struct json jj;
	json_init(&jj, stdout);
	json_obj_begin(&jj);
	json_kstr(&jj, "input", o->input);
	json_kstr(&jj, "input_format", res->input_format);
	json_kstr(&jj, "output", o->output);
	json_kstr(&jj, "output_format", res->output_format);
	json_ku64(&jj, "virtual_size", res->virtual_size);
	json_kbool(&jj, "sparsify", o->sparsify);
	json_ku64(&jj, "ntfs_volumes", res->ntfs_volumes);
	json_ku64(&jj, "bytes_mapped", res->bytes_mapped);
	json_ku64(&jj, "bytes_read", res->bytes_read);
	json_ku64(&jj, "bytes_skipped_free", res->bytes_skipped_free);
	json_ku64(&jj, "output_size", res->output_size);
	json_kdouble(&jj, "seconds", secs, 3);
	json_obj_end(&jj);
}

int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sparsify", no_argument, NULL, 's' },
		{ "compress-level", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "adapter-type", required_argument, NULL, 'a' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bw_convert_opts o = { .compress_level = 6 };
	int json = 0, progress_mode = 0, c;
	const char *fmt = NULL;
	char *end;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "O:f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'O': fmt = optarg; break;
		case 's': o.sparsify = 1; break;
		case 'l':
			o.compress_level = (int)strtol(optarg, &end, 10);
			if (*end || o.compress_level < 1 || o.compress_level > 9)
				return cli_usage_error("convert", "--compress-level takes 1..9, not '%s'", optarg);
			break;
		case 't':
			o.threads = (int)strtol(optarg, &end, 10);
			if (*end || o.threads < 1 || o.threads > 256)
				return cli_usage_error("convert", "--threads takes 1..256, not '%s'", optarg);
			break;
		case 'a': o.adapter_type = optarg; break;
		case 'f':
			if (strcmp(optarg, "raw") != 0)
				return cli_usage_error("convert", "-f takes raw (other formats are probed), not '%s'",
						       optarg);
			o.input_format = optarg;
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
	o.input = argv[optind];
	o.output = argv[optind + 1];
	if (fmt && bw_write_format_parse(fmt, &o.format) != 0)
		return cli_usage_error("convert", "unknown output format '%s'", fmt);
	struct cli_hooks ch;
	cli_hooks_init(&ch, progress_mode);
	struct bw_error err;
	bw_error_clear(&err);
	struct bw_convert_result res;
	double t0 = cli_now();
	int r = bw_convert(&o, &ch.hooks, &res, &err);
	cli_hooks_end(&ch);
	if (r) {
		cli_exit_signalled();    /* stopped by a signal: die of it */
		return cli_job_fail("convert", &err);
	}
	if (json)
		print_json(&o, &res, cli_now() - t0);
	return EXIT_DONE;
}

/*
 * boxwright inspect IMAGE: the image model (job.h) printed as text or
 * JSON.  Diagnoses are reported, never a failure.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/inspect_fmt.h"

static const char inspect_usage[] =
	"Usage: boxwright inspect IMAGE [--json] [--disk-only] [--backend B|--sandbox] [-v]\n"
	"Print what is in a Windows disk image without booting it: container format,\n"
	"partitions, NTFS volumes, Windows product, BCD objects with decoded devices,\n"
	"MountedDevices, WinRM and setup state, drivers; then diagnose what would stop\n"
	"the image from booting (devices or hidden sectors that do not match the\n"
	"partition table, dirty hives, an active partition that is not Windows...).\n"
	"\n"
	"  --json        one JSON object on stdout, also when the image cannot be\n"
	"                read in full (exit 3): what was read, and \"error\"\n"
	"  --disk-only   disk, partition and NTFS facts only: no guest session\n"
	"  -v, --verbose say what the guest backend does (e.g. a TCG retry)\n"
	BACKEND_USAGE
	"  -h, --help    this help\n"
	"\n"
	"Exit status: 0 reported (diagnoses do not fail), 1 failed, 2 usage,\n"
	"3 unreadable or unsupported input.\n";

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "disk-only", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		BACKEND_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, disk_only = 0, c;
	struct cli_edits ce;          /* only its backend */
	cli_edits_init(&ce);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'd': disk_only = 1; break;
		case 'v': ce.backend.verbose = 1; break;
		case 'h': fputs(inspect_usage, stdout); return EXIT_DONE;
		default:
			if ((c == OPT_BACKEND || c == OPT_SANDBOX) &&
			    cli_edits_option(&ce, c, optarg) == 0)
				break;
			return cli_usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (cli_backend_check(&ce, "inspect") != 0)
		return EXIT_USAGE;
	if (optind != argc - 1)
		return cli_usage_error("inspect", optind >= argc ? "no IMAGE given"
							    : "one IMAGE expected");
	struct cli_hooks ch;
	cli_hooks_init(&ch, -1);
	struct bw_error err;
	bw_error_clear(&err);
	struct bw_image *im = NULL;
	/* A partial model: with --json, what was read is printed even when
	 * the reading then fails (exit 3), with the error in it. */
	int r = bw_image_open_partial(argv[optind], &im, &err);
	if (r == 0 && !disk_only)
		r = bw_image_probe(im, &ce.backend, &ch.hooks, &err);
	int status = EXIT_DONE;
	if (r)
		status = cli_job_fail("inspect", &err);
	if (im && (r == 0 || json))
		bw_image_diagnose(im);
	if (json && r != BW_EINTERRUPTED && r != BW_EUSAGE) {
		if (im)
			inspect_print_json(bw_image_model(im), r ? &err : NULL);
		else
			inspect_print_json_error(argv[optind], &err);
	} else if (r == 0) {
		inspect_print_text(bw_image_model(im));
	}
	bw_image_close(im);
	if (r)
		cli_exit_signalled();
	return status;
}

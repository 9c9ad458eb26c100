/* boxwright patch IMAGE (-o OUT | --in-place) EDITS: argv -> bw_patch -> print. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/json.h"

static const char patch_usage[] =
	"Usage: boxwright patch IMAGE (-o OUT | --in-place) EDITS... [OPTIONS]\n"
	"Apply offline edits to a Windows image and write an image of the same format\n"
	"(VHD dynamic, fixed or differencing, VHDX, raw, VMDK monolithicSparse or\n"
	"streamOptimized; a VHDX other than a differencing one is written dynamic).\n"
	"A VHD keeps its creator, geometry and size; a differencing VHD or VHDX stays\n"
	"a child of the same parent, naming it as the input did and holding only the\n"
	"blocks that differ from it (the parent is never written).\n"
	"\n"
	"  -o, --output OUT        write the patched image to OUT\n"
	"  --in-place              replace IMAGE atomically (written beside it, synced,\n"
	"                          renamed over it: never half-changed)\n"
	EDITS_USAGE
	BACKEND_USAGE
	"  -v, --verbose           say what the guest backend does\n"
	"  --progress, -q, --quiet  force or silence progress on stderr (default: if a\n"
	"                          TTY); --quiet also drops the \"patched\" line\n"
	"  --json                  print a JSON summary on stdout\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 done, 1 failed (or an edit refused by design: the hint says how\n"
	"to make it), 2 usage, 3 unreadable, unsupported or dirty input\n"
	"(a dirty hive, a hibernated volume or one with an unclean $LogFile is refused).\n";

void cli_edits_json(struct json *j, const struct bw_edit_result *res)
{
	json_key(j, "edits");
	json_obj_begin(j);
	json_ku64(j, "system_values_set", res->system.values_set);
	json_ku64(j, "software_values_set", res->software.values_set);
	json_ku64(j, "keys_created", res->system.keys_created + res->software.keys_created);
	json_ku64(j, "files_written", res->files_written);
	json_ku64(j, "bcd_devices_patched", res->bcd.bcd_devices_patched);
	json_ku64(j, "bcd_devices_unknown", res->bcd.bcd_devices_unknown);
	json_ku64(j, "mounted_devices_patched", res->mounted.mounted_patched);
	json_kbool(j, "admin_password_set", res->admin_password_set);
	json_key(j, "setup_pending");
	if (res->setup_pending < 0)
		json_null(j);
	else
		json_bool(j, res->setup_pending);
	json_obj_end(j);
}

static void print_json(const struct bw_patch_opts *o, const struct bw_patch_result *res,
		       const char *out, double secs)
{
	struct json jj;
	json_init(&jj, stdout);
	json_obj_begin(&jj);
	json_kstr(&jj, "input", o->input);
	json_kstr(&jj, "output", out);
	json_kbool(&jj, "in_place", o->in_place);
	json_kstr(&jj, "backend", res->backend);
	json_kstr(&jj, "format", res->format);
	json_ki64(&jj, "windows_partition", res->edits.windows_partition);
	cli_edits_json(&jj, &res->edits);
	json_ku64(&jj, "output_size", res->output_size);
	json_kdouble(&jj, "seconds", secs, 3);
	json_obj_end(&jj);
}

int cmd_patch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "in-place", no_argument, NULL, 'i' },
		EDITS_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		BACKEND_OPTIONS,
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_edits ce;
	cli_edits_init(&ce);
	struct bw_patch_opts o = { 0 };
	int json = 0, progress_mode = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case 'i': o.in_place = 1; break;
		case 'v': ce.backend.verbose = 1; break;
		case 'P': progress_mode = 1; break;
		case 'q': progress_mode = -1; break;
		case 'j': json = 1; break;
		case 'h': fputs(patch_usage, stdout); return EXIT_DONE;
		default:
			if (cli_edits_option(&ce, c, optarg) == 0)
				break;
			return cli_usage_error("patch", "unknown option or missing value '%s'",
					       argv[optind - 1]);
		}
	}
	if (cli_backend_check(&ce, "patch") != 0)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error("patch", "one IMAGE expected");
	o.input = argv[optind];
	o.edits = ce.edits;
	o.backend = ce.backend;
	struct cli_hooks ch;
	cli_hooks_init(&ch, progress_mode);
	struct bw_error err;
	bw_error_clear(&err);
	struct bw_patch_result res;
	double t0 = cli_now();
	int r = bw_patch(&o, &ch.hooks, &res, &err);
	cli_hooks_end(&ch);
	if (r) {
		cli_exit_signalled();    /* stopped by a signal: die of it */
		return cli_job_fail("patch", &err);
	}
	const char *out = o.in_place ? o.input : o.output;
	if (json)
		print_json(&o, &res, out, cli_now() - t0);
	else if (progress_mode >= 0)
		fprintf(stderr, "boxwright: patched %s -> %s (%.1f s)\n", o.input, out, cli_now() - t0);
	return EXIT_DONE;
}

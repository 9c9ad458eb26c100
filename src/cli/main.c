/*
 * boxwright: turn Windows Nano Server disk images into Vagrant boxes
 * offline.  This file dispatches to the commands; only src/cli prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cli/cli.h"

static const char usage[] =
	"Usage: boxwright COMMAND [OPTIONS] ...\n"
	"Turn Windows Nano Server disk images into Vagrant boxes offline.\n"
	"\n"
	"Commands:\n"
	"  inspect IMAGE [--json]             what is in the image, and what would stop it booting\n"
	"  patch   IMAGE (-o OUT|--in-place)  apply offline edits (WinRM, SetupComplete.cmd...)\n"
	"  convert IN OUT [-O FMT]            convert a disk (raw, VHD, VHDX, VMDK) to\n"
	"                                     raw, VHD, VHDX, VMDK or qcow2; --sparsify\n"
	"  build   IMAGE -o NAME.box          build Vagrant boxes, one per provider\n"
	"  batch   MANIFEST [-j N]            run many build/patch jobs (JSON Lines)\n"
	"\n"
	"Options:\n"
	"  -h, --help      show this help (COMMAND --help for a command's own);\n"
	"                  also 'boxwright help'\n"
	"  -V, --version   show the version\n"
	"\n"
	"Exit status: 0 done, 1 failed while working or an edit refused by design (with\n"
	"a hint), 2 usage error, 3 unreadable or unsupported input.  See boxwright(1).\n";

int cli_fail(const struct bw_error *err)
{
	fprintf(stderr, "boxwright: %s\n",
		err->msg[0] ? err->msg : bw_strerror(err->code));
	return bw_exit_status(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "boxwright %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'boxwright %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_job_fail(const char *cmd, const struct bw_error *err)
{
	if (err->code == BW_EUSAGE)
		return cli_usage_error(cmd, "%s", err->msg);
	return cli_fail(err);
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
	{ "inspect", cmd_inspect },
	{ "patch", cmd_patch },
	{ "convert", cmd_convert },
	{ "build", cmd_build },
	{ "batch", cmd_batch },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *c = argv[1];
	if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
		fputs(usage, stdout);
		return EXIT_DONE;
	}
	if (!strcmp(c, "-V") || !strcmp(c, "--version")) {
		printf("boxwright %s\n", PACKAGE_VERSION);
		return EXIT_DONE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(c, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "boxwright: unknown command '%s'\nTry 'boxwright --help'.\n", c);
	return EXIT_USAGE;
}

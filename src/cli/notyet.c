/*
 * Commands whose issues have not landed yet.  Each says so clearly and
 * exits 1 (not 0: no script may take them for done); --help still works.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int not_yet(const char *cmd, const char *usage, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return EXIT_DONE;
		}
	fprintf(stderr, "boxwright %s: not implemented yet\n", cmd);
	return EXIT_FAILED;
}

int cmd_build(int argc, char **argv)
{
	return not_yet("build",
		"Usage: boxwright build IMAGE -o NAME.box [--size 40G] [EDITS...]\n"
		"Build a Vagrant box (VirtualBox provider) from a Nano Server image.\n"
		"(not implemented yet)\n", argc, argv);
}

int cmd_batch(int argc, char **argv)
{
	return not_yet("batch",
		"Usage: boxwright batch MANIFEST [-j N]\n"
		"Run many builds or patches from a JSON Lines manifest.\n"
		"(not implemented yet)\n", argc, argv);
}

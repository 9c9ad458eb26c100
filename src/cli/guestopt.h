/*
 * --backend native|guestfs and --sandbox, shared by inspect, patch and
 * build; BOXWRIGHT_BACKEND gives the default (batch jobs, test runs).
 */
#ifndef BW_CLI_GUESTOPT_H
#define BW_CLI_GUESTOPT_H

#include <getopt.h>

#include "boxwright/guest.h"

#define GUESTOPT_USAGE \
	"  --backend native|guestfs  how the NTFS volume is edited: native = libntfs-3g\n" \
	"                          in this process (default, no VM); guestfs = inside\n" \
	"                          the libguestfs appliance (a VM), for images you do\n" \
	"                          not trust (default from $BOXWRIGHT_BACKEND)\n" \
	"  --sandbox               the same as --backend guestfs\n"

enum {
	GUESTOPT_BACKEND = 1100,
	GUESTOPT_SANDBOX,
};

#define GUESTOPT_OPTIONS \
	{ "backend", required_argument, NULL, GUESTOPT_BACKEND }, \
	{ "sandbox", no_argument, NULL, GUESTOPT_SANDBOX }

struct cli_guest {
	int verbose;
	enum bw_guest_kind backend;
	const char *bad;            /* the value that was not a built backend */
};

/* From BOXWRIGHT_BACKEND, else the default. */
void cli_guest_init(struct cli_guest *cg);
/* 0 when C was a backend option (consumed), -1 otherwise. */
int cli_guest_option(struct cli_guest *cg, int c, const char *arg);
/* After parsing: 0, or a usage error printed for CMD (returns 2). */
int cli_guest_check(const struct cli_guest *cg, const char *cmd);
/* Options for bw_guest_open. */
struct bw_guest_opts cli_guest_opts(const struct cli_guest *cg, int readonly);

/* What messages call a volume's working file: "IMAGE: partition N". */
#define CLI_LABEL_MAX 4200
void cli_guest_label(char *buf, const char *image, int part);

#endif

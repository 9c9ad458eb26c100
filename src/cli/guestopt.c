/* The backend options (guestopt.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/guestopt.h"
#include "cli/inspect.h"

static void set_backend(struct cli_guest *cg, const char *name)
{
	if (bw_guest_kind_parse(name, &cg->backend) != 0)
		cg->bad = name;
	else
		cg->bad = NULL;
}

void cli_guest_init(struct cli_guest *cg)
{
	cg->verbose = 0;
	cg->backend = BW_GUEST_DEFAULT;
	cg->bad = NULL;
	const char *env = getenv("BOXWRIGHT_BACKEND");
	if (env && *env)
		set_backend(cg, env);
}

int cli_guest_option(struct cli_guest *cg, int c, const char *arg)
{
	switch (c) {
	case GUESTOPT_BACKEND:
		set_backend(cg, arg);
		return 0;
	case GUESTOPT_SANDBOX:
		cg->backend = BW_GUEST_GUESTFS;
		cg->bad = NULL;
		return 0;
	default:
		return -1;
	}
}

int cli_guest_check(const struct cli_guest *cg, const char *cmd)
{
	if (cg->bad)
		return cli_usage_error(cmd, "--backend '%s': expected native or guestfs (or $BOXWRIGHT_BACKEND)",
				       cg->bad);
	if (!bw_guest_have(cg->backend))
		return cli_usage_error(cmd, "the %s backend is not built into this boxwright (configure did not find %s)",
				       bw_guest_kind_name(cg->backend),
				       cg->backend == BW_GUEST_GUESTFS ? "libguestfs" : "libntfs-3g");
	return 0;
}

struct bw_guest_opts cli_guest_opts(const struct cli_guest *cg, int readonly)
{
	struct bw_guest_opts o = {
		.backend = cg->backend,
		.readonly = readonly,
		.verbose = cg->verbose,
		.note = inspect_note_stderr,
	};
	return o;
}

void cli_guest_label(char *buf, const char *image, int part)
{
	snprintf(buf, CLI_LABEL_MAX, "%s: partition %d", image, part);
}

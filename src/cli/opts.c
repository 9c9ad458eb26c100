/* Option parsing shared by the commands (cli.h): edits, backend, sizes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void set_backend(struct cli_edits *ce, const char *name)
{
	if (bw_guest_kind_parse(name, &ce->backend.kind) != 0)
		ce->bad_backend = name;
	else
		ce->bad_backend = NULL;
}

void cli_edits_init(struct cli_edits *ce)
{
	memset(ce, 0, sizeof *ce);
	ce->edits.copy_in = ce->copy_in;
	ce->edits.reg = ce->reg;
	ce->backend.kind = BW_GUEST_DEFAULT;
	const char *env = getenv("BOXWRIGHT_BACKEND");
	if (env && *env)
		set_backend(ce, env);
}

static void add(const char **list, size_t *n, const char *arg)
{
	if (*n <= BW_EDITS_MAX_LIST)
		list[*n] = arg;
	if (*n <= BW_EDITS_MAX_LIST)
		(*n)++;
}

int cli_edits_option(struct cli_edits *ce, int c, const char *arg)
{
	struct bw_edits *ed = &ce->edits;
	switch (c) {
	case OPT_WINRM:          ed->winrm = 1; return 0;
	case OPT_SETUP_COMPLETE: ed->setup_complete = arg; return 0;
	case OPT_UNATTEND:       ed->unattend = arg; return 0;
	case OPT_HOSTNAME:       ed->hostname = arg; return 0;
	case OPT_ADMIN_PASSWORD: ed->admin_password = arg; return 0;
	case OPT_FIRST_BOOT_PS1: ed->first_boot_ps1 = arg; return 0;
	case OPT_COPY_IN:        add(ce->copy_in, &ed->ncopy, arg); return 0;
	case OPT_REG:            add(ce->reg, &ed->nreg, arg); return 0;
	case OPT_BACKEND:        set_backend(ce, arg); return 0;
	case OPT_SANDBOX:
		ce->backend.kind = BW_GUEST_GUESTFS;
		ce->bad_backend = NULL;
		return 0;
	}
	return -1;
}

int cli_backend_check(const struct cli_edits *ce, const char *cmd)
{
	if (ce->bad_backend)
		return cli_usage_error(cmd, "--backend '%s': expected native or guestfs (or $BOXWRIGHT_BACKEND)",
				       ce->bad_backend);
	return 0;
}

uint64_t cli_parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

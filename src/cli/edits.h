/*
 * EDITS shared by patch and build (DESIGN.md): option parsing, checks of
 * the local files, and applying them in one guest session.
 */
#ifndef BW_CLI_EDITS_H
#define BW_CLI_EDITS_H

#include <getopt.h>

#include "boxwright/win.h"
#include "cli/guestopt.h"
#include "cli/inspect.h"
#include "cli/json.h"

#define EDITS_USAGE \
	"\nEdits (at least one):\n" \
	"  --winrm                 WinRM over HTTP/5985 as Vagrant and Packer use it:\n" \
	"                          WSMAN allow_unencrypted=1, auth_basic=1 (service and\n" \
	"                          client), WinRM service automatic, inbound TCP 5985 rule\n" \
	"  --setup-complete FILE   install FILE as \\Windows\\Setup\\Scripts\\SetupComplete.cmd\n" \
	"                          (CRLF line endings ensured)\n" \
	"  --unattend FILE         install FILE as \\Windows\\Panther\\unattend.xml (replaced)\n" \
	"  --copy-in LOCAL:GUESTDIR  copy the local file into GUESTDIR (created); repeatable\n" \
	"  --reg FILE.reg          merge a regedit file into HKLM\\SOFTWARE or HKLM\\SYSTEM\n" \
	"                          (CurrentControlSet = the live control set); repeatable\n" \
	"  --hostname NAME         ComputerName and Tcpip Hostname in SYSTEM\n\n"

enum {
	EDIT_OPT_WINRM = 1000,
	EDIT_OPT_SETUP_COMPLETE,
	EDIT_OPT_UNATTEND,
	EDIT_OPT_COPY_IN,
	EDIT_OPT_REG,
	EDIT_OPT_HOSTNAME,
};

#define EDITS_OPTIONS \
	{ "winrm", no_argument, NULL, EDIT_OPT_WINRM }, \
	{ "setup-complete", required_argument, NULL, EDIT_OPT_SETUP_COMPLETE }, \
	{ "unattend", required_argument, NULL, EDIT_OPT_UNATTEND }, \
	{ "copy-in", required_argument, NULL, EDIT_OPT_COPY_IN }, \
	{ "reg", required_argument, NULL, EDIT_OPT_REG }, \
	{ "hostname", required_argument, NULL, EDIT_OPT_HOSTNAME }

#define EDITS_MAX_LIST 64

struct cli_edits {
	int winrm;
	const char *setup_complete;
	const char *unattend;
	const char *hostname;
	const char *copy_in[EDITS_MAX_LIST];
	size_t ncopy;
	const char *reg[EDITS_MAX_LIST];
	size_t nreg;
	int too_many;
};

/* Boot-chain fix-ups when the partition moves or the signature changes. */
struct cli_fixups {
	struct bw_win_location old_loc, new_loc;
};

struct cli_edit_result {
	struct bw_win_report system, software, bcd, mounted;
	int setup_pending;          /* -1 unknown */
	int has_ide, has_nic;       /* drivers a VirtualBox box needs; -1 unknown */
	unsigned files_written;
};

void cli_edits_init(struct cli_edits *ed);
void cli_edits_free(struct cli_edits *ed);
/* 0 when C was an edit option (consumed), -1 otherwise. */
int cli_edits_option(struct cli_edits *ed, int c, const char *arg);
/* At least one edit; local files readable; LOCAL:GUESTDIR well formed.
 * BW_EINVAL for usage errors. */
int cli_edits_check(const struct cli_edits *ed, const char *cmd, struct bw_error *err);
/*
 * Copy IM's NTFS volumes to working files, start one read-write guest
 * session, find the Windows volume (im->win_vol), apply ED, shut the
 * session down.  Refuses (BW_EUNSUPPORTED/BW_EDIRTY) a volume with an
 * unclean $LogFile, a hibernated one, no Windows, a dirty hive.
 */
int cli_edits_apply(struct inspect *im, const struct cli_edits *ed, const struct cli_guest *cg,
		    struct cli_edit_result *res, struct bw_error *err);
void cli_edits_json(struct json *j, const struct cli_edit_result *res);

/* The steps of cli_edits_apply, for build, which resizes in between. */
struct bw_guest;
/* Refuse untrusted volumes; copy each NTFS volume's used clusters. */
int cli_volumes_prepare(struct inspect *im, struct bw_error *err);
/* One read-write session over the working files; im->win_vol found and
 * mounted. */
int cli_session_start(struct inspect *im, const struct cli_guest *cg, struct bw_guest **g,
		      struct bw_error *err);
/* Hives (edits, and FX's fix-ups when given), then files. */
int cli_session_edit(struct bw_guest *g, const struct inspect *im,
		     const struct cli_edits *ed, const struct cli_fixups *fx,
		     struct cli_edit_result *res, struct bw_error *err);
/* Shut the session down (checked); returns R or the close error. */
int cli_session_end(struct bw_guest *g, int r, struct bw_error *err);

#endif

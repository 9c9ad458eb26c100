/* The boxwright command line: commands, shared option parsing and output. */
#ifndef BW_CLI_H
#define BW_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"
#include "boxwright/job.h"

/* Exit codes (DESIGN.md). */
#define EXIT_DONE 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_BADINPUT 3

int cmd_inspect(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_batch(int argc, char **argv);

/* "boxwright: MESSAGE" on stderr; returns the exit status for err->code. */
int cli_fail(const struct bw_error *err);
/* "boxwright CMD: MESSAGE\nTry 'boxwright CMD --help'." ; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A job's error: a usage error (BW_EUSAGE) for CMD, else cli_fail. */
int cli_job_fail(const char *cmd, const struct bw_error *err);

/*
 * The hooks the CLI lends a job: progress on stderr when it is a TTY
 * (mode 1 forces it, -1 silences it), warnings and notes on stderr, and
 * the stop flag that SIGINT/SIGTERM/SIGHUP set.  The flag is the CLI's one
 * piece of process-wide state: a signal handler can reach nothing else.
 */
struct cli_hooks {
	struct bw_job_hooks hooks;
	int progress_enabled;
	double start, last;
	int progress_shown;
};
/* Also installs the signal handlers (cli_signals_install). */
void cli_hooks_init(struct cli_hooks *ch, int progress_mode);
/* End a progress line if one is showing. */
void cli_hooks_end(struct cli_hooks *ch);
/* Catch SIGINT, SIGTERM and SIGHUP: the running job stops and cleans up,
 * then the process dies of the same signal (cli_exit_signalled). */
void cli_signals_install(void);
/* Did a signal ask us to stop? */
int cli_stop_requested(void);
/* Re-raise the caught signal, if any: after a job that stopped for it (a
 * job that finished anyway reports its success). */
void cli_exit_signalled(void);
double cli_now(void);

/* ---- options shared by patch and build ----------------------------------- */

#define EDITS_USAGE \
	"\nEdits (at least one):\n" \
	"  --winrm                 WinRM over HTTP/5985 as Vagrant and Packer use it:\n" \
	"                          WSMAN allow_unencrypted=1, auth_basic=1 (service and\n" \
	"                          client), WinRM service automatic, inbound TCP 5985 rule\n" \
	"  --setup-complete FILE   install FILE as \\Windows\\Setup\\Scripts\\SetupComplete.cmd\n" \
	"                          (CRLF line endings ensured)\n" \
	"  --first-boot-ps1 FILE   run a PowerShell script once at the end of setup (Nano's\n" \
	"                          modules loaded by path, output logged to\n" \
	"                          \\Windows\\Setup\\Scripts\\first-boot.log; after --setup-complete)\n" \
	"  --unattend FILE         install FILE as \\Windows\\Panther\\unattend.xml (replaced)\n" \
	"  --copy-in LOCAL:GUESTDIR  copy the local file into GUESTDIR (created); repeatable\n" \
	"  --reg FILE.reg          merge a regedit file into HKLM\\SOFTWARE or HKLM\\SYSTEM\n" \
	"                          (CurrentControlSet = the live control set); repeatable\n" \
	"  --hostname NAME         ComputerName and Tcpip Hostname in SYSTEM\n" \
	"  --admin-password P      the built-in Administrator's password, set offline in\n" \
	"                          the SAM hive, and the account enabled\n\n"

#define BACKEND_USAGE \
	"  --backend native|guestfs  how the NTFS volume is edited: native = libntfs-3g\n" \
	"                          in this process (default, no VM); guestfs = inside\n" \
	"                          the libguestfs appliance (a VM), for images you do\n" \
	"                          not trust (default from $BOXWRIGHT_BACKEND)\n" \
	"  --sandbox               the same as --backend guestfs\n"

enum {
	OPT_WINRM = 1000,
	OPT_SETUP_COMPLETE,
	OPT_UNATTEND,
	OPT_COPY_IN,
	OPT_REG,
	OPT_HOSTNAME,
	OPT_ADMIN_PASSWORD,
	OPT_FIRST_BOOT_PS1,
	OPT_BACKEND = 1100,
	OPT_SANDBOX,
};

#define EDITS_OPTIONS \
	{ "winrm", no_argument, NULL, OPT_WINRM }, \
	{ "setup-complete", required_argument, NULL, OPT_SETUP_COMPLETE }, \
	{ "unattend", required_argument, NULL, OPT_UNATTEND }, \
	{ "copy-in", required_argument, NULL, OPT_COPY_IN }, \
	{ "reg", required_argument, NULL, OPT_REG }, \
	{ "hostname", required_argument, NULL, OPT_HOSTNAME }, \
	{ "admin-password", required_argument, NULL, OPT_ADMIN_PASSWORD }, \
	{ "first-boot-ps1", required_argument, NULL, OPT_FIRST_BOOT_PS1 }

#define BACKEND_OPTIONS \
	{ "backend", required_argument, NULL, OPT_BACKEND }, \
	{ "sandbox", no_argument, NULL, OPT_SANDBOX }

/* Edits and backend as parsed; every string is argv's. */
struct cli_edits {
	struct bw_edits edits;
	const char *copy_in[BW_EDITS_MAX_LIST + 1];
	const char *reg[BW_EDITS_MAX_LIST + 1];
	struct bw_backend_opts backend;
	const char *bad_backend;     /* a value that names no backend */
};

/* Backend from BOXWRIGHT_BACKEND, else the default; no edits. */
void cli_edits_init(struct cli_edits *ce);
/* 0 when C was an edit or backend option (consumed), -1 otherwise.
 * Lists longer than BW_EDITS_MAX_LIST are counted on, for the job to
 * refuse. */
int cli_edits_option(struct cli_edits *ce, int c, const char *arg);
/* After parsing: 0, or a usage error printed for CMD (returns 2). */
int cli_backend_check(const struct cli_edits *ce, const char *cmd);

/* The "edits" object of patch's and build's --json. */
struct json;
void cli_edits_json(struct json *j, const struct bw_edit_result *res);

/* "40G", "4096M", "123456789": bytes; 0 on a bad value. */
uint64_t cli_parse_size(const char *s);

#endif

/* The boxwright command line: commands, shared output helpers. */
#ifndef BW_CLI_H
#define BW_CLI_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"
#include "boxwright/guest.h"

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

/*
 * Temporary files: one private directory per run, removed with every file
 * registered in it on exit and on SIGINT/SIGTERM/SIGHUP.  The registry is
 * the CLI's one piece of process-wide state: a signal handler can reach
 * nothing else.
 */
int cli_tmp_init(struct bw_error *err);
/* Path of NAME inside the directory, registered for removal; NULL if full. */
const char *cli_tmp_path(const char *name);
void cli_tmp_cleanup(void);
/* A registered temporary name beside FINAL for an output being written. */
const char *cli_tmp_output(const char *final);
void cli_tmp_forget(const char *path);
/*
 * Remove registered temporary files on a thread of their own while the
 * run goes on: deleting a working partition file of gigabytes frees its
 * extents and drops its page cache, a few hundred ms of kernel time that
 * can overlap the next step.  cli_tmp_remove_wait joins the thread (call
 * it before returning; it is a no-op when nothing was started).  Without
 * a thread the files are removed at once.
 */
struct cli_tmp_remover {
	pthread_t thread;
	int started;
	const char *paths[BW_GUEST_MAX_VOLUMES];   /* one per working file */
	size_t npaths;
};
void cli_tmp_remove_start(struct cli_tmp_remover *rm);
void cli_tmp_remove_wait(struct cli_tmp_remover *rm);
/* rename TMP over FINAL and fsync the directory. */
int cli_commit_output(const char *tmp, const char *final, struct bw_error *err);

/* Progress on stderr: percent and MB/s, at most a few times a second. */
struct cli_progress {
	int enabled;
	const char *label;
	double start, last;
};
void cli_progress_init(struct cli_progress *p, const char *label, int mode);
void cli_progress_update(void *opaque, uint64_t done, uint64_t total);
void cli_progress_end(struct cli_progress *p);
/* mode for cli_progress_init: -1 quiet, 0 when stderr is a TTY, 1 forced */
double cli_now(void);

#endif

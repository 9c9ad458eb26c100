/*
 * Run one of ntfs-3g's programs (ntfsresize, ntfsfix) on a partition file
 * for the native backend: the library has no resize or check of its own,
 * and DESIGN.md forbids writing one.
 */
#ifndef BW_GUEST_SPAWN_H
#define BW_GUEST_SPAWN_H

#include <stddef.h>

#include "boxwright/error.h"

/*
 * Run NAME (looked up in PATH, then /usr/sbin, /sbin, /usr/local/sbin,
 * where Debian keeps ntfsresize out of a user's PATH) with ARGV (argv[0]
 * included, NULL-terminated), stdin /dev/null, stdout and stderr
 * captured into OUT (its last OUTMAX-1 bytes, NUL-terminated).
 * *STATUS is the exit status, or 128 + the signal that killed it.
 * Returns 0 when it ran, BW_ENOTFOUND when NAME is not installed,
 * BW_EIO when it could not be started.
 */
int bw_guest_run(const char *name, char *const argv[], char *out, size_t outmax,
		 int *status, struct bw_error *err);

/* The lines of OUT that say why the program failed, joined into one line
 * in BUF: those saying "error", "failed" or "refus(e)" in any letter case,
 * else the last non-empty one. */
void bw_guest_run_reason(const char *out, char *buf, size_t len);

#endif

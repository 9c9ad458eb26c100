/*
 * posix_spawn, not fork+exec: it is what macOS prefers, and it cannot run
 * our code in the child by mistake.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/spawn.h"

extern char **environ;

/* PATH first, then the sbin directories of Debian, Homebrew and others. */
static int find_program(const char *name, char *path, size_t len)
{
	const char *env = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin:/usr/local/sbin",
		 env && *env ? env : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (!*d)
			continue;
		int n = snprintf(path, len, "%s/%s", d, name);
		if (n > 0 && (size_t)n < len && access(path, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Append LEN bytes to OUT, keeping only the last OUTMAX-1. */
static void keep_tail(char *out, size_t outmax, size_t *used, const char *buf, size_t len)
{
	size_t room = outmax - 1;
	if (len >= room) {
		memcpy(out, buf + len - room, room);
		*used = room;
	} else {
		if (*used + len > room) {
			size_t drop = *used + len - room;
			memmove(out, out + drop, *used - drop);
			*used -= drop;
		}
		memcpy(out + *used, buf, len);
		*used += len;
	}
	out[*used] = '\0';
}

int bw_guest_run(const char *name, char *const argv[], char *out, size_t outmax,
		 int *status, struct bw_error *err)
{
	char path[4200];
	out[0] = '\0';
	*status = -1;
	if (find_program(name, path, sizeof path) != 0)
		return bw_seterr(err, BW_ENOTFOUND, NULL,
				 "%s not found in PATH or /usr/sbin: install ntfs-3g (Debian: apt-get install ntfs-3g; Homebrew: see README)",
				 name);
	/* Both ends close-on-exec: a program another thread starts must not
	 * inherit the write end, or our read would wait for that program's
	 * end too.  The dup2 below gives the child its own, inheritable copy. */
	int pfd[2];
	if (pipe(pfd) != 0)
		return bw_seterr(err, BW_EIO, NULL, "cannot run %s: pipe: %s", name, strerror(errno));
	if (fcntl(pfd[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(pfd[1], F_SETFD, FD_CLOEXEC) != 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return bw_seterr(err, BW_EIO, NULL, "cannot run %s: fcntl: %s", name, strerror(e));
	}
	posix_spawn_file_actions_t fa;
	int e = posix_spawn_file_actions_init(&fa);
	int fa_ready = e == 0;     /* destroy only what init set up */
	if (e == 0)
		e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	if (e == 0)
		e = posix_spawn_file_actions_addclose(&fa, pfd[1]);
	pid_t pid = -1;
	if (e == 0)
		e = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	if (fa_ready)
		posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (e != 0) {
		close(pfd[0]);
		return bw_seterr(err, BW_EIO, NULL, "cannot run %s: %s", path, strerror(e));
	}
	size_t used = 0;
	char buf[4096];
	for (;;) {
		ssize_t n = read(pfd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		keep_tail(out, outmax, &used, buf, (size_t)n);
	}
	close(pfd[0]);
	int ws;
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR)
			return bw_seterr(err, BW_EIO, NULL, "%s: waitpid: %s", path, strerror(errno));
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
	return 0;
}

/* Does the LEN bytes at S hold WORD, in any letter case? */
static int has_word(const char *s, size_t len, const char *word)
{
	size_t w = strlen(word);
	for (size_t i = 0; i + w <= len; i++)
		if (strncasecmp(s + i, word, w) == 0)
			return 1;
	return 0;
}

/*
 * ntfs-3g's programs say why in lines such as "ERROR: New size can't be
 * less than ...", "Failed to startup volume: Invalid argument" and
 * "Unrecoverable error", in any letter case.  ntfsfix prints "Mounting
 * volume... " on stdout and "FAILED" after libntfs-3g's stderr line, so a
 * bare "FAILED" line says nothing of its own.
 */
static int reason_line(const char *l, size_t n)
{
	if (n == 6 && strncasecmp(l, "failed", 6) == 0)
		return 0;
	return has_word(l, n, "error") || has_word(l, n, "failed") ||
	       has_word(l, n, "refus");
}

void bw_guest_run_reason(const char *out, char *buf, size_t len)
{
	size_t used = 0;
	const char *last = NULL;
	size_t lastlen = 0;
	buf[0] = '\0';
	for (const char *l = out; *l; ) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
			n--;
		if (n) {
			last = l;
			lastlen = n;
			if (reason_line(l, n) && used + 3 < len) {
				int w = snprintf(buf + used, len - used, "%s%.*s",
						 used ? "; " : "", (int)n, l);
				used = w < 0 ? used : (size_t)w + used >= len ? len - 1 : used + (size_t)w;
			}
		}
		l = nl ? nl + 1 : l + strlen(l);
	}
	if (!used && last)
		snprintf(buf, len, "%.*s", (int)lastlen, last);
}

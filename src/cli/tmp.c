/*
 * Temporary-file registry (see cli.h).  Paths live in static buffers so
 * that the signal handler only calls unlink/rmdir, which are
 * async-signal-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define TMP_MAX_FILES 32

static char tmp_dir[PATH_MAX];
static char tmp_files[TMP_MAX_FILES][PATH_MAX];
static volatile sig_atomic_t tmp_nfiles;

static void tmp_remove_all(void)
{
	for (int i = 0; i < tmp_nfiles; i++)
		if (tmp_files[i][0])
			unlink(tmp_files[i]);
	if (tmp_dir[0])
		rmdir(tmp_dir);
}

static void tmp_on_signal(int sig)
{
	tmp_remove_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int tmp_handlers;

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tmp_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(cli_tmp_cleanup);
	tmp_handlers = 1;
}

int cli_tmp_init(struct bw_error *err)
{
	if (tmp_dir[0])
		return 0;
	/* Working partitions can be gigabytes: prefer /var/tmp (disk) to a
	 * /tmp that may be tmpfs, unless the user said where. */
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/var/tmp";
	if ((size_t)snprintf(tmp_dir, sizeof tmp_dir, "%s/boxwright.XXXXXX", base) >= sizeof tmp_dir ||
	    !mkdtemp(tmp_dir)) {
		int e = errno;
		tmp_dir[0] = '\0';
		return bw_seterr(err, BW_EIO, base, "cannot create a temporary directory: %s",
				 strerror(e));
	}
	if (!tmp_handlers)
		install_handlers();
	return 0;
}

/* A free slot of the registry: a forgotten one, or a new one. */
static char *tmp_slot(void)
{
	for (int i = 0; i < tmp_nfiles; i++)
		if (!tmp_files[i][0])
			return tmp_files[i];
	if (tmp_nfiles >= TMP_MAX_FILES)
		return NULL;
	return tmp_files[tmp_nfiles++];
}

const char *cli_tmp_output(const char *final)
{
	if (!tmp_handlers) {
		install_handlers();
	}
	/* Beside the final name (same filesystem: the rename is atomic),
	 * hidden, and unique to this process. */
	const char *slash = strrchr(final, '/');
	int dirlen = slash ? (int)(slash - final + 1) : 0;
	char name[PATH_MAX];
	static unsigned counter;
	if ((size_t)snprintf(name, sizeof name, "%.*s.%s.boxwright-%ld-%u", dirlen, final,
			     slash ? slash + 1 : final, (long)getpid(), counter++) >= sizeof name)
		return NULL;
	char *p = tmp_slot();
	if (!p)
		return NULL;
	memcpy(p, name, strlen(name) + 1);
	return p;
}

void cli_tmp_forget(const char *path)
{
	for (int i = 0; i < tmp_nfiles; i++)
		if (!strcmp(tmp_files[i], path))
			tmp_files[i][0] = '\0';     /* unlink("") fails harmlessly */
}

int cli_commit_output(const char *tmp, const char *final, struct bw_error *err)
{
	if (rename(tmp, final) != 0)
		return bw_seterr(err, BW_EIO, final, "cannot rename %s into place: %s",
				 tmp, strerror(errno));
	cli_tmp_forget(tmp);
	/* The rename is durable only once the directory is synced. */
	const char *slash = strrchr(final, '/');
	char dir[PATH_MAX];
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - final) ? (int)(slash - final) : 1, final);
	else
		snprintf(dir, sizeof dir, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return bw_seterr(err, BW_EIO, dir, "cannot sync the directory: %s", strerror(e));
	}
	close(fd);
	return 0;
}

const char *cli_tmp_path(const char *name)
{
	char full[PATH_MAX];
	if (!tmp_dir[0] ||
	    (size_t)snprintf(full, sizeof full, "%s/%s", tmp_dir, name) >= sizeof full)
		return NULL;
	char *p = tmp_slot();
	if (!p)
		return NULL;
	memcpy(p, full, strlen(full) + 1);
	return p;
}

void cli_tmp_cleanup(void)
{
	tmp_remove_all();
	tmp_nfiles = 0;
	tmp_dir[0] = '\0';
}

/* Unlink each path; the registry keeps the names (unlinking them again at
 * exit finds nothing, harmlessly), so a signal meanwhile still cleans up. */
static void *tmp_remove_paths(void *arg)
{
	struct cli_tmp_remover *rm = arg;
	for (size_t i = 0; i < rm->npaths; i++)
		unlink(rm->paths[i]);
	return NULL;
}

void cli_tmp_remove_start(struct cli_tmp_remover *rm)
{
	rm->started = pthread_create(&rm->thread, NULL, tmp_remove_paths, rm) == 0;
	if (!rm->started)
		tmp_remove_paths(rm);
}

void cli_tmp_remove_wait(struct cli_tmp_remover *rm)
{
	if (rm->started)
		pthread_join(rm->thread, NULL);
	rm->started = 0;
}

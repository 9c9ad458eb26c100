/*
 * Temporary-file registry (see cli.h).  Paths live in static buffers so
 * that the signal handler only calls unlink/rmdir, which are
 * async-signal-safe.
 */
#include <errno.h>
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
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tmp_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(cli_tmp_cleanup);
	return 0;
}

const char *cli_tmp_path(const char *name)
{
	if (!tmp_dir[0] || tmp_nfiles >= TMP_MAX_FILES)
		return NULL;
	char *p = tmp_files[tmp_nfiles];
	if ((size_t)snprintf(p, PATH_MAX, "%s/%s", tmp_dir, name) >= PATH_MAX)
		return NULL;
	tmp_nfiles++;
	return p;
}

void cli_tmp_cleanup(void)
{
	tmp_remove_all();
	tmp_nfiles = 0;
	tmp_dir[0] = '\0';
}

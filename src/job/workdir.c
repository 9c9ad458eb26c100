/*
 * A job's work directory (job_internal.h): one private directory per job
 * under hooks->workdir, $TMPDIR or /var/tmp, and the temporary outputs
 * beside final names.  Cleanup removes every file in the directory, not
 * only the names handed out: hivex's commit and the backends make
 * temporaries of their own there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job/job_internal.h"

/*
 * Leftovers of runs that were killed (SIGKILL, a power cut) carry the host
 * and process that made them: "boxwright-HOST-PID.XXXXXX" directories and
 * ".NAME.boxwright-HOST-PID-N" outputs.  One is stale when HOST is this
 * host and no process PID exists here (kill(PID, 0) fails with ESRCH); a
 * name from another host (a shared directory) or a live PID is left alone.
 */
static void host_name(char *out, size_t n)
{
	if (gethostname(out, n) != 0 || !out[0])
		snprintf(out, n, "localhost");
	out[n - 1] = '\0';
	for (char *p = out; *p; p++)
		if (*p == '/' || *p == '.')
			*p = '_';
}

/* NAME (after PREFIX) is "HOST-PID" followed by END (a '.' or '-'): is it
 * ours and dead? */
static int stale(const char *name, const char *host, char end)
{
	size_t hl = strlen(host);
	if (strncmp(name, host, hl) || name[hl] != '-')
		return 0;
	char *e;
	long pid = strtol(name + hl + 1, &e, 10);
	if (e == name + hl + 1 || *e != end || pid <= 1 || pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX];
		if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Remove stale work directories in BASE and stale outputs for FINAL's
 * name in its directory. */
static void sweep(const char *base, const char *final)
{
	char host[64], dir[PATH_MAX], want[PATH_MAX];
	host_name(host, sizeof host);
	const char *prefix = "boxwright-";
	const char *bname = NULL;
	if (final) {
		const char *slash = strrchr(final, '/');
		bname = slash ? slash + 1 : final;
		snprintf(dir, sizeof dir, "%.*s", slash ? (slash == final ? 1 : (int)(slash - final)) : 1,
			 slash ? final : ".");
		snprintf(want, sizeof want, ".%s.boxwright-", bname);
	} else {
		snprintf(dir, sizeof dir, "%s", base);
	}
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char p[PATH_MAX];
		if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
			continue;
		if (!final && !strncmp(e->d_name, prefix, strlen(prefix)) &&
		    stale(e->d_name + strlen(prefix), host, '.'))
			remove_tree(p);
		else if (final && !strncmp(e->d_name, want, strlen(want)) &&
			 stale(e->d_name + strlen(want), host, '-'))
			unlink(p);
	}
	if (d)
		closedir(d);
}

void work_init(struct job_work *w, const struct bw_job_hooks *h)
{
	memset(w, 0, sizeof *w);
	w->h = h;
}

static int work_mkdir(struct job_work *w, struct bw_error *err)
{
	if (w->dir[0])
		return 0;
	/* Working partitions can be gigabytes: prefer /var/tmp (disk) to a
	 * /tmp that may be tmpfs, unless the caller or the user said where. */
	const char *base = w->h && w->h->workdir && *w->h->workdir ? w->h->workdir : getenv("TMPDIR");
	if (!base || !*base)
		base = "/var/tmp";
	char host[64];
	host_name(host, sizeof host);
	sweep(base, NULL);
	if ((size_t)snprintf(w->dir, sizeof w->dir, "%s/boxwright-%s-%ld.XXXXXX", base, host,
			     (long)getpid()) >= sizeof w->dir) {
		w->dir[0] = '\0';
		return bw_seterr(err, BW_EIO, base, "cannot create a temporary directory: path too long");
	}
	if (!mkdtemp(w->dir)) {
		int e = errno;
		w->dir[0] = '\0';
		return bw_seterr(err, BW_EIO, base, "cannot create a temporary directory: %s",
				 strerror(e));
	}
	return 0;
}

static int work_keep(char **list, size_t *n, size_t max, const char *name, const char **out,
		     struct bw_error *err)
{
	if (*n >= max)
		return bw_seterr(err, BW_EIO, name, "too many temporary files");
	char *p = strdup(name);
	if (!p)
		return bw_seterr(err, BW_ENOMEM, name, "out of memory");
	list[(*n)++] = p;
	*out = p;
	return 0;
}

int work_path(struct job_work *w, const char *name, const char **path, struct bw_error *err)
{
	int r = work_mkdir(w, err);
	if (r)
		return r;
	char full[PATH_MAX];
	if ((size_t)snprintf(full, sizeof full, "%s/%s", w->dir, name) >= sizeof full)
		return bw_seterr(err, BW_EIO, w->dir, "temporary path too long");
	return work_keep(w->paths, &w->npaths, WORK_MAX_PATHS, full, path, err);
}

int work_output(struct job_work *w, const char *final, const char **tmp, struct bw_error *err)
{
	/* Hidden and unique to this host, process and job. */
	const char *slash = strrchr(final, '/');
	int dirlen = slash ? (int)(slash - final + 1) : 0;
	char name[PATH_MAX], host[64];
	host_name(host, sizeof host);
	sweep(NULL, final);
	if ((size_t)snprintf(name, sizeof name, "%.*s.%s.boxwright-%s-%ld-%zu", dirlen, final,
			     slash ? slash + 1 : final, host, (long)getpid(),
			     w->noutputs) >= sizeof name)
		return bw_seterr(err, BW_EIO, final, "output path too long");
	return work_keep(w->outputs, &w->noutputs, WORK_MAX_OUTPUTS, name, tmp, err);
}

int work_commit(struct job_work *w, const char *tmp, const char *final, struct bw_error *err)
{
	if (rename(tmp, final) != 0)
		return bw_seterr(err, BW_EIO, final, "cannot rename %s into place: %s",
				 tmp, strerror(errno));
	/* TMP is usually the kept name itself: stop once it is freed (the
	 * names are unique), never compare with it afterwards. */
	for (size_t i = 0; i < w->noutputs; i++)
		if (w->outputs[i] && !strcmp(w->outputs[i], tmp)) {
			free(w->outputs[i]);
			w->outputs[i] = NULL;
			break;
		}
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

static void *work_remove_paths(void *arg)
{
	struct job_work *w = arg;
	for (size_t i = 0; i < w->nremoving; i++)
		unlink(w->removing[i]);
	return NULL;
}

void work_remove_async(struct job_work *w, const char *const *paths, size_t n)
{
	if (w->remover_started)
		return;
	w->nremoving = 0;
	for (size_t i = 0; i < n && w->nremoving < BW_IMAGE_MAX_VOLUMES; i++)
		if (paths[i])
			w->removing[w->nremoving++] = paths[i];
	w->remover_started = pthread_create(&w->remover, NULL, work_remove_paths, w) == 0;
	if (!w->remover_started)
		work_remove_paths(w);
}

void work_cleanup(struct job_work *w)
{
	if (w->remover_started) {
		pthread_join(w->remover, NULL);
		w->remover_started = 0;
	}
	for (size_t i = 0; i < w->noutputs; i++) {
		if (w->outputs[i])
			unlink(w->outputs[i]);
		free(w->outputs[i]);
	}
	w->noutputs = 0;
	if (w->dir[0]) {
		remove_tree(w->dir);
		w->dir[0] = '\0';
	}
	for (size_t i = 0; i < w->npaths; i++)
		free(w->paths[i]);
	w->npaths = 0;
}

int work_check_stop(struct job_work *w, const char *file, struct bw_error *err)
{
	if (w->stop_flag || (w->h && w->h->stop && w->h->stop(w->h->opaque))) {
		w->stop_flag = 1;
		return bw_seterr(err, BW_EINTERRUPTED, file, "interrupted");
	}
	return 0;
}

void work_warn(struct job_work *w, const char *code, const char *fmt, ...)
{
	if (!w->h || !w->h->warn)
		return;
	char msg[BW_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	w->h->warn(w->h->opaque, code, msg);
}

static void work_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct job_work *w = opaque;
	if (w->h && w->h->stop && w->h->stop(w->h->opaque))
		w->stop_flag = 1;
	if (w->h && w->h->progress)
		w->h->progress(w->h->opaque, w->stage, done, total);
}

void work_copy_opts(struct job_work *w, const char *stage, struct bw_copy_opts *co)
{
	w->stage = stage;
	co->progress = work_progress;
	co->opaque = w;
	co->stop = (const volatile int *)&w->stop_flag;
}

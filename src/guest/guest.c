/*
 * The guest interface: path normalisation and dispatch to the backend.
 * Windows paths arrive with backslashes, any letter case and maybe a
 * drive letter; backends receive "/a/b/c" and resolve the case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_internal.h"

int bw_guest_kind_parse(const char *name, enum bw_guest_kind *kind)
{
	if (!strcmp(name, "native"))
		*kind = BW_GUEST_NATIVE;
	else if (!strcmp(name, "guestfs") || !strcmp(name, "sandbox"))
		*kind = BW_GUEST_GUESTFS;
	else
		return BW_EINVAL;
	return 0;
}

static const struct bw_guest_backend *guest_backend(enum bw_guest_kind kind)
{
	switch (kind) {
	case BW_GUEST_DEFAULT:
#ifdef HAVE_LIBNTFS3G
		return &bw_guest_native;
#elif defined HAVE_LIBGUESTFS
		return &bw_guest_guestfs;
#else
		return NULL;
#endif
	case BW_GUEST_NATIVE:
#ifdef HAVE_LIBNTFS3G
		return &bw_guest_native;
#else
		return NULL;
#endif
	case BW_GUEST_GUESTFS:
#ifdef HAVE_LIBGUESTFS
		return &bw_guest_guestfs;
#else
		return NULL;
#endif
	}
	return NULL;
}

int bw_guest_have(enum bw_guest_kind kind)
{
	return guest_backend(kind) != NULL;
}

const char *bw_guest_kind_name(enum bw_guest_kind kind)
{
	const struct bw_guest_backend *be = guest_backend(kind);
	return be ? be->name : kind == BW_GUEST_NATIVE ? "native" : "guestfs";
}

int bw_guest_reads_in_place(enum bw_guest_kind kind)
{
	const struct bw_guest_backend *be = guest_backend(kind);
	return be && !strcmp(be->name, "native");
}

void bw_guest_note(struct bw_guest *g, const char *msg)
{
	if (g->opts.verbose && g->opts.note)
		g->opts.note(g->opts.note_opaque, msg);
}

static void guest_free(struct bw_guest *g)
{
	for (size_t i = 0; i < BW_GUEST_MAX_VOLUMES; i++) {
		free(g->files[i]);
		free(g->labels[i]);
	}
	free(g);
}

int bw_guest_open(const char *const *files, size_t nfiles,
		  const struct bw_guest_opts *o, struct bw_guest **out,
		  struct bw_error *err)
{
	*out = NULL;
	if (nfiles == 0 || nfiles > BW_GUEST_MAX_VOLUMES)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "a guest session takes 1 to %d volumes, not %zu",
				 BW_GUEST_MAX_VOLUMES, nfiles);
	enum bw_guest_kind kind = o ? o->backend : BW_GUEST_DEFAULT;
	const struct bw_guest_backend *be = guest_backend(kind);
	if (!be)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "the %s backend is not built into this boxwright (configure found no %s)",
				 bw_guest_kind_name(kind),
				 kind == BW_GUEST_GUESTFS ? "libguestfs" : "libntfs-3g");
	if (o && o->readers && (!o->readonly || !bw_guest_reads_in_place(kind)))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "volumes read in place need a read-only session of the native backend");
	struct bw_guest *g = calloc(1, sizeof *g);
	if (!g)
		return bw_seterr(err, BW_ENOMEM, files[0], "out of memory");
	for (size_t i = 0; i < nfiles; i++) {
		const char *label = o && o->labels ? o->labels[i] : files[i];
		g->files[i] = strdup(files[i]);
		g->labels[i] = strdup(label);
		if (!g->files[i] || !g->labels[i]) {
			guest_free(g);
			return bw_seterr(err, BW_ENOMEM, files[0], "out of memory");
		}
		g->nfiles++;
	}
	g->path = g->files[0];
	g->file = g->labels[0];
	if (o)
		g->opts = *o;
	if (o && o->readers) {
		for (size_t i = 0; i < nfiles; i++)
			g->readers[i] = o->readers[i];
		g->use_readers = 1;
	}
	g->opts.readers = NULL;     /* the caller's; copied above */
	g->opts.labels = NULL;      /* the caller's; copied above */
	g->be = be;
	int r = g->be->open(g, err);
	if (r) {
		g->be->close(g, NULL);
		guest_free(g);
		return r;
	}
	*out = g;
	return 0;
}

int bw_guest_use(struct bw_guest *g, size_t idx, struct bw_error *err)
{
	if (idx >= g->nfiles)
		return bw_seterr(err, BW_EINVAL, g->file, "no volume %zu in this session", idx);
	if (idx == g->current)
		return 0;
	int r = g->be->use(g, idx, err);
	if (r == 0) {
		g->current = idx;
		g->path = g->files[idx];
		g->file = g->labels[idx];
	}
	return r;
}

/* "C:\Windows\\System32\" -> "/Windows/System32"; NULL on no memory. */
static char *guest_unix_path(const char *winpath)
{
	if (winpath[0] && winpath[1] == ':')
		winpath += 2;
	size_t n = strlen(winpath);
	char *p = malloc(n + 2), *q = p;
	if (!p)
		return NULL;
	*q++ = '/';
	for (const char *s = winpath; *s; s++) {
		char c = *s == '\\' ? '/' : *s;
		if (c == '/' && q[-1] == '/')
			continue;
		*q++ = c;
	}
	if (q > p + 1 && q[-1] == '/')
		q--;
	*q = '\0';
	return p;
}

int bw_guest_resolve(struct bw_guest *g, const char *winpath, char **real,
		     struct bw_error *err)
{
	*real = NULL;
	char *path = guest_unix_path(winpath);
	if (!path)
		return bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	int r = g->be->resolve(g, path, real, err);
	free(path);
	return r;
}

int bw_guest_download(struct bw_guest *g, const char *winpath,
		      const char *local, struct bw_error *err)
{
	char *real;
	int r = bw_guest_resolve(g, winpath, &real, err);
	if (r == BW_ENOTFOUND)
		return bw_seterr(err, BW_ENOTFOUND, g->file, "%s: no such file in the image", winpath);
	if (r)
		return r;
	r = g->be->download(g, real, local, err);
	free(real);
	return r;
}

int bw_guest_read(struct bw_guest *g, const char *winpath, size_t max,
		  char **data, size_t *len, struct bw_error *err)
{
	*data = NULL;
	*len = 0;
	char *real;
	int r = bw_guest_resolve(g, winpath, &real, err);
	if (r == BW_ENOTFOUND)
		return bw_seterr(err, BW_ENOTFOUND, g->file, "%s: no such file in the image", winpath);
	if (r)
		return r;
	r = g->be->read(g, real, max, data, len, err);
	free(real);
	return r;
}

/* The write side refuses a read-only session before any backend sees it. */
static int guest_writable(struct bw_guest *g, struct bw_error *err)
{
	if (g->opts.readonly)
		return bw_seterr(err, BW_EINVAL, g->file, "the guest session is read-only");
	return 0;
}

/*
 * Resolve WINPATH for writing: the parent must exist (resolved in any
 * case); the last component keeps its real name when it exists.
 */
static int guest_resolve_new(struct bw_guest *g, const char *winpath, char **real,
			     struct bw_error *err)
{
	*real = NULL;
	char *path = guest_unix_path(winpath);
	if (!path)
		return bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	int r = g->be->resolve(g, path, real, err);
	if (r != BW_ENOTFOUND) {
		free(path);
		return r;
	}
	char *slash = strrchr(path, '/');
	char *parent = NULL;
	if (slash == path) {
		parent = strdup("/");
	} else {
		*slash = '\0';
		r = g->be->resolve(g, path, &parent, err);
		*slash = '/';
		if (r == BW_ENOTFOUND)
			r = bw_seterr(err, BW_ENOTFOUND, g->file,
				      "%s: its directory does not exist in the image", winpath);
		if (r) {
			free(path);
			return r;
		}
	}
	if (!parent) {
		free(path);
		return bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	}
	size_t n = strlen(parent) + strlen(slash) + 1;
	*real = malloc(n);
	if (*real)
		snprintf(*real, n, "%s%s", strcmp(parent, "/") ? parent : "", slash);
	free(parent);
	free(path);
	return *real ? 0 : bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
}

int bw_guest_mkdir_p(struct bw_guest *g, const char *windir, struct bw_error *err)
{
	if (guest_writable(g, err))
		return BW_EINVAL;
	char *path = guest_unix_path(windir);
	if (!path)
		return bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	int r = 0;
	/* Component by component, so an existing "WINDOWS" is reused for
	 * "Windows" and only the missing tail is created. */
	for (char *p = path + 1; r == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		char *real = NULL;
		if (p > path + 1) {
			r = guest_resolve_new(g, path, &real, err);
			if (r == 0) {
				char *ex = NULL;
				int e = g->be->resolve(g, real, &ex, err);
				free(ex);
				if (e == BW_ENOTFOUND)
					r = g->be->mkdir(g, real, err);
				else
					r = e;
			}
			free(real);
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(path);
	return r;
}

int bw_guest_upload(struct bw_guest *g, const char *local, const char *winpath,
		    struct bw_error *err)
{
	if (guest_writable(g, err))
		return BW_EINVAL;
	char *real;
	int r = guest_resolve_new(g, winpath, &real, err);
	if (r)
		return r;
	r = g->be->upload(g, local, real, err);
	free(real);
	return r;
}

int bw_guest_write(struct bw_guest *g, const char *winpath, const void *data,
		   size_t len, struct bw_error *err)
{
	if (guest_writable(g, err))
		return BW_EINVAL;
	char *real;
	int r = guest_resolve_new(g, winpath, &real, err);
	if (r)
		return r;
	r = g->be->write(g, real, data, len, err);
	free(real);
	return r;
}

int bw_guest_resize(struct bw_guest *g, uint64_t size, unsigned flags,
		    struct bw_error *err)
{
	if (guest_writable(g, err))
		return BW_EINVAL;
	return g->be->resize(g, size, flags, err);
}

int bw_guest_clear_dirty(struct bw_guest *g, struct bw_error *err)
{
	if (guest_writable(g, err))
		return BW_EINVAL;
	return g->be->clear_dirty(g, err);
}

int bw_guest_close(struct bw_guest *g, struct bw_error *err)
{
	if (!g)
		return 0;
	int r = g->be->close(g, err);
	guest_free(g);
	return r;
}

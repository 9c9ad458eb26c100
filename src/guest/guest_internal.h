/*
 * Backends of the guest interface.  guest.c owns the handle and
 * dispatches; a backend keeps its state in priv.  guestfs.c is the
 * libguestfs appliance, ntfs3g.c libntfs-3g in process; configure builds
 * whichever libraries are installed.
 */
#ifndef BW_GUEST_INTERNAL_H
#define BW_GUEST_INTERNAL_H

#include "config.h"
#include "boxwright/guest.h"

struct bw_guest_backend {
	const char *name;
	/* Attach every file of g->files and mount volume 0. */
	int (*open)(struct bw_guest *g, struct bw_error *err);
	int (*use)(struct bw_guest *g, size_t idx, struct bw_error *err);
	/* *real = NULL and BW_ENOTFOUND when the path does not exist. */
	int (*resolve)(struct bw_guest *g, const char *path, char **real,
		       struct bw_error *err);
	int (*download)(struct bw_guest *g, const char *real, const char *local,
			struct bw_error *err);
	int (*read)(struct bw_guest *g, const char *real, size_t max,
		    char **data, size_t *len, struct bw_error *err);
	int (*mkdir)(struct bw_guest *g, const char *real, struct bw_error *err);
	int (*upload)(struct bw_guest *g, const char *local, const char *real,
		      struct bw_error *err);
	int (*write)(struct bw_guest *g, const char *real, const void *data,
		     size_t len, struct bw_error *err);
	int (*resize)(struct bw_guest *g, uint64_t size, unsigned flags,
		      struct bw_error *err);
	int (*clear_dirty)(struct bw_guest *g, struct bw_error *err);
	int (*close)(struct bw_guest *g, struct bw_error *err);
};

struct bw_guest {
	const struct bw_guest_backend *be;
	struct bw_guest_opts opts;
	char *files[BW_GUEST_MAX_VOLUMES];
	char *labels[BW_GUEST_MAX_VOLUMES];
	struct bw_guest_reader readers[BW_GUEST_MAX_VOLUMES];
	int use_readers;            /* volumes are readers[], not files[] */
	size_t nfiles;
	size_t current;         /* the mounted volume */
	const char *path;       /* files[current] */
	const char *file;       /* labels[current], for messages */
	void *priv;
};

void bw_guest_note(struct bw_guest *g, const char *msg);

#ifdef HAVE_LIBGUESTFS
extern const struct bw_guest_backend bw_guest_guestfs;
#endif
#ifdef HAVE_LIBNTFS3G
extern const struct bw_guest_backend bw_guest_native;
#endif

#endif

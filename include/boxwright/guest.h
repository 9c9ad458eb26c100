/*
 * The guest interface: one session over the NTFS volume of a working
 * partition file (never the user's input).  Backends: libntfs-3g in
 * process ("native", no VM) and the libguestfs appliance ("guestfs", the
 * sandbox that keeps a hostile filesystem out of our process).  Callers
 * choose one by name and never see which code runs.
 */
#ifndef BOXWRIGHT_GUEST_H
#define BOXWRIGHT_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

struct bw_guest;

enum bw_guest_kind {
	BW_GUEST_DEFAULT = 0,   /* native when built, else guestfs */
	BW_GUEST_NATIVE,
	BW_GUEST_GUESTFS,
};

/* "native", "guestfs" (or "sandbox") -> *KIND; BW_EINVAL otherwise. */
int bw_guest_kind_parse(const char *name, enum bw_guest_kind *kind);
/* Is KIND built into this binary?  DEFAULT: is any backend? */
int bw_guest_have(enum bw_guest_kind kind);
/* The name of the backend DEFAULT means, or of KIND. */
const char *bw_guest_kind_name(enum bw_guest_kind kind);
/* Can KIND read volumes in place through bw_guest_reader callbacks (a
 * read-only session with no working copy)?  The native backend can. */
int bw_guest_reads_in_place(enum bw_guest_kind kind);

/*
 * A volume read in place through a callback instead of from a working
 * file: inspect reads the input's partitions without copying them.  Only
 * for read-only sessions of the native backend.  PREAD returns 0, or -1
 * when the bytes cannot be read.
 */
struct bw_guest_reader {
	int (*pread)(void *ctx, void *buf, size_t len, uint64_t off);
	void *ctx;
	uint64_t size;
};

struct bw_guest_opts {
	enum bw_guest_kind backend;
	/* One per file when set (FILES then only name the volumes). */
	const struct bw_guest_reader *readers;
	int readonly;       /* mount read-only (inspect) */
	/* What messages call each file (e.g. "nano.vhd: partition 1"), one
	 * per file; NULL: the file names. */
	const char *const *labels;
	int verbose;        /* let the backend say what it does (TCG retry) */
	/* Called with backend notes (e.g. "KVM launch failed, retrying with
	 * TCG") when verbose; may be NULL. */
	void (*note)(void *opaque, const char *msg);
	void *note_opaque;
	/* Reproducible volumes: when non-zero, an NTFS time (100 ns since
	 * 1601) that every inode the session creates or writes (and the
	 * directory a new name goes into) takes as its four times, in
	 * $STANDARD_INFORMATION, its $FILE_NAME attributes and its
	 * directory index entry, instead of the clock.  Native backend
	 * only: the appliance's FUSE driver stamps the clock (BW_EINVAL). */
	uint64_t file_time;
};

/*
 * Start one session over NFILES partition files (whole-volume NTFS images;
 * inspect of a "System Reserved" layout needs two) and mount the first.
 * libguestfs: one launch for all of them, the default backend first, TCG
 * if that fails.  native: a read-write mount refuses a hibernated volume
 * or an unclean $LogFile (BW_EDIRTY); a corrupt volume is BW_EFORMAT.
 * Returns 0, BW_EINVAL (backend not built), BW_EGUEST, BW_EFORMAT,
 * BW_EDIRTY, BW_EIO, BW_ENOMEM.
 */
#define BW_GUEST_MAX_VOLUMES 4
int bw_guest_open(const char *const *files, size_t nfiles,
		  const struct bw_guest_opts *o, struct bw_guest **out,
		  struct bw_error *err);

/* Unmount the current volume and mount volume IDX instead. */
int bw_guest_use(struct bw_guest *g, size_t idx, struct bw_error *err);

/*
 * Resolve a Windows path (backslashes or slashes, any letter case, no
 * drive letter) to the volume's real path ("/Windows/System32/config/SYSTEM").
 * Returns 0, BW_ENOTFOUND (*real is NULL), BW_EGUEST.  *real is malloc'd.
 */
int bw_guest_resolve(struct bw_guest *g, const char *winpath, char **real,
		     struct bw_error *err);

/* Copy the guest file WINPATH to the local file LOCAL.  0, BW_ENOTFOUND,
 * BW_EGUEST; BW_EFORMAT for a file over BW_GUEST_DOWNLOAD_MAX (only hives
 * and the BCD are downloaded: a bigger one is a hostile image). */
#define BW_GUEST_DOWNLOAD_MAX (UINT64_C(1) << 30)
int bw_guest_download(struct bw_guest *g, const char *winpath,
		      const char *local, struct bw_error *err);

/* Read at most MAX bytes of WINPATH into a malloc'd buffer. */
int bw_guest_read(struct bw_guest *g, const char *winpath, size_t max,
		  char **data, size_t *len, struct bw_error *err);

/*
 * Write side (the session must not be read-only).  Paths are Windows paths
 * resolved case-insensitively: an existing file or directory keeps its
 * real name; a new last component is created with the case given.
 */
/* Create WINDIR and its missing parents.  0, BW_EGUEST. */
int bw_guest_mkdir_p(struct bw_guest *g, const char *windir, struct bw_error *err);
/* Replace (or create) WINPATH with the content of the local file LOCAL;
 * its directory must exist (BW_ENOTFOUND otherwise). */
int bw_guest_upload(struct bw_guest *g, const char *local, const char *winpath,
		    struct bw_error *err);
/* Replace (or create) WINPATH with LEN bytes of DATA. */
int bw_guest_write(struct bw_guest *g, const char *winpath, const void *data,
		   size_t len, struct bw_error *err);
/*
 * Resize the current volume's NTFS with ntfsresize to SIZE bytes, or to
 * fill its partition file when SIZE is 0 (grow: extend the file first;
 * shrink: truncate it after the session).  The volume is unmounted for it
 * and mounted again (also when ntfsresize refuses, which changes nothing).
 * BW_EGUEST carries ntfsresize's own reason (e.g. the data does not fit).
 * ntfsresize leaves the volume marked dirty; with BW_GUEST_RESIZE_CLEAR_DIRTY
 * ntfs-3g's check (ntfsfix -d) runs right after it, before the volume is
 * mounted again, and clears the flag when it passes.  A volume that
 * Windows itself marked for chkdsk is refused by ntfsresize unless
 * BW_GUEST_RESIZE_FORCE; the caller then keeps Windows' request (no
 * CLEAR_DIRTY).
 */
#define BW_GUEST_RESIZE_CLEAR_DIRTY 1u
#define BW_GUEST_RESIZE_FORCE       2u
int bw_guest_resize(struct bw_guest *g, uint64_t size, unsigned flags,
		    struct bw_error *err);

/*
 * Run ntfs-3g's consistency check on the current volume and, when it
 * passes, clear the volume's dirty flag (ntfsfix -d).  Unmounts and mounts
 * again.  BW_EGUEST with ntfsfix's reason when the check fails.
 */
int bw_guest_clear_dirty(struct bw_guest *g, struct bw_error *err);

/* Unmount and shut down with every error checked; frees G (NULL ok). */
int bw_guest_close(struct bw_guest *g, struct bw_error *err);

#endif

/*
 * The libguestfs backend of the guest interface: the partition file is a
 * whole-disk drive of the appliance, its NTFS mounted from /dev/sda.  It
 * keeps a hostile filesystem out of the host process (DESIGN.md).
 *
 * libguestfs errors are translated to bw_error here and nowhere else; its
 * own error handler is switched off so that the library never prints.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <guestfs.h>

#include "guest/guest_internal.h"

static int gfs_error(struct bw_guest *g, guestfs_h *h, const char *what,
		     struct bw_error *err)
{
	const char *m = h ? guestfs_last_error(h) : NULL;
	return bw_seterr(err, BW_EGUEST, g->file, "%s: %s", what,
			 m ? m : "libguestfs failed");
}

static guestfs_h *gfs_create(struct bw_guest *g, int force_tcg,
			     struct bw_error *err)
{
	guestfs_h *h = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
	if (!h) {
		bw_seterr(err, BW_EGUEST, g->file, "cannot create a libguestfs handle");
		return NULL;
	}
	guestfs_set_error_handler(h, NULL, NULL);
	/* Honour LIBGUESTFS_* (backend, settings, debug) as the tools do. */
	if (guestfs_parse_environment(h) == -1 ||
	    (force_tcg && guestfs_set_backend_setting(h, "force_tcg", "1") == -1))
		goto fail;
	for (size_t i = 0; i < g->nfiles; i++)
		if (guestfs_add_drive_opts(h, g->files[i],
					   GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
					   GUESTFS_ADD_DRIVE_OPTS_READONLY,
					   g->opts.readonly ? 1 : 0, -1) == -1)
			goto fail;
	return h;
fail:
	gfs_error(g, h, "cannot set up libguestfs", err);
	guestfs_close(h);
	return NULL;
}

/* Is TCG already forced (by LIBGUESTFS_BACKEND_SETTINGS)? */
static int gfs_has_tcg(guestfs_h *h)
{
	char *v = guestfs_get_backend_setting(h, "force_tcg");
	if (!v)
		return 0;
	free(v);
	return 1;
}

/* The appliance names drives /dev/sda, /dev/sdb... in the order added. */
static int gfs_mount(struct bw_guest *g, size_t idx, struct bw_error *err)
{
	guestfs_h *h = g->priv;
	char dev[16];
	snprintf(dev, sizeof dev, "/dev/sd%c", (char)('a' + idx));
	int r = g->opts.readonly ? guestfs_mount_ro(h, dev, "/")
				 : guestfs_mount(h, dev, "/");
	if (r == -1)
		return bw_seterr(err, BW_EGUEST, g->files[idx],
				 "cannot mount the NTFS volume: %s",
				 guestfs_last_error(h) ? guestfs_last_error(h) : "?");
	return 0;
}

static int gfs_use(struct bw_guest *g, size_t idx, struct bw_error *err)
{
	if (guestfs_umount(g->priv, "/") == -1)
		return gfs_error(g, g->priv, "cannot unmount the NTFS volume", err);
	return gfs_mount(g, idx, err);
}

static int gfs_open(struct bw_guest *g, struct bw_error *err)
{
	if (g->opts.file_time)
		/* the appliance's ntfs-3g FUSE driver stamps the clock */
		return bw_seterr(err, BW_EINVAL, g->file,
				 "fixed file times (reproducible builds) need the native backend");
	guestfs_h *h = gfs_create(g, 0, err);
	if (!h)
		return BW_EGUEST;
	if (guestfs_launch(h) == -1) {
		/* Keep the launch error: the next call overwrites it. */
		char why[512];
		snprintf(why, sizeof why, "%s",
			 guestfs_last_error(h) ? guestfs_last_error(h) : "?");
		why[strcspn(why, "\n")] = '\0';   /* one line: drop the FAQ */
		if (gfs_has_tcg(h)) {
			int r = bw_seterr(err, BW_EGUEST, g->file,
					  "cannot launch the libguestfs appliance: %s", why);
			guestfs_close(h);
			return r;
		}
		/* KVM can be present but unusable (nested, no permission):
		 * one retry with TCG, as DESIGN.md asks. */
		char note[600];
		snprintf(note, sizeof note,
			 "libguestfs launch failed (%s); retrying with TCG", why);
		bw_guest_note(g, note);
		guestfs_close(h);
		h = gfs_create(g, 1, err);
		if (!h)
			return BW_EGUEST;
		if (guestfs_launch(h) == -1) {
			int r = gfs_error(g, h, "cannot launch the libguestfs appliance (TCG)", err);
			guestfs_close(h);
			return r;
		}
	}
	g->priv = h;
	return gfs_mount(g, 0, err);
}

/*
 * Walk the path one component at a time: guestfs_case_sensitive_path
 * resolves a component only when its parent exists, and a missing parent
 * is "not found" for us, not an appliance failure.
 */
static int gfs_resolve(struct bw_guest *g, const char *path, char **real,
		       struct bw_error *err)
{
	guestfs_h *h = g->priv;
	size_t n = strlen(path);
	char *cur = malloc(n + 2), *want = malloc(n + 2);
	int r = 0;
	if (!cur || !want) {
		r = bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
		goto out;
	}
	strcpy(cur, "/");
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		size_t cl = strlen(cur);
		/* cur is a prefix of the resolved path: never longer than path. */
		snprintf(want, n + 2, "%s%s%.*s", cur, cl > 1 ? "/" : "", (int)len, p);
		char *res = guestfs_case_sensitive_path(h, want);
		if (!res) {
			r = bw_seterr(err, BW_EGUEST, g->file, "%s: %s", path,
				      guestfs_last_error(h) ? guestfs_last_error(h) : "?");
			goto out;
		}
		int ex = guestfs_exists(h, res);
		if (ex != 1) {
			r = ex == 0 ? BW_ENOTFOUND
				    : bw_seterr(err, BW_EGUEST, g->file, "%s: %s", path,
						guestfs_last_error(h) ? guestfs_last_error(h) : "?");
			free(res);
			goto out;
		}
		if (strlen(res) > n + 1) {   /* cannot happen; keep the bound anyway */
			free(res);
			r = bw_seterr(err, BW_EGUEST, g->file, "%s: resolved path grew", path);
			goto out;
		}
		strcpy(cur, res);
		free(res);
		p += len;
	}
	*real = cur;
	cur = NULL;
out:
	free(cur);
	free(want);
	return r;
}

static int gfs_download(struct bw_guest *g, const char *real, const char *local,
			struct bw_error *err)
{
	int64_t size = guestfs_filesize(g->priv, real);
	if (size < 0)
		return gfs_error(g, g->priv, real, err);
	if ((uint64_t)size > BW_GUEST_DOWNLOAD_MAX)
		return bw_seterr(err, BW_EFORMAT, g->file, "%s: %lld bytes, more than any hive (%llu at most)",
				 real, (long long)size, (unsigned long long)BW_GUEST_DOWNLOAD_MAX);
	if (guestfs_download(g->priv, real, local) == -1)
		return gfs_error(g, g->priv, real, err);
	return 0;
}

static int gfs_read(struct bw_guest *g, const char *real, size_t max,
		    char **data, size_t *len, struct bw_error *err)
{
	guestfs_h *h = g->priv;
	int64_t size = guestfs_filesize(h, real);
	if (size < 0)
		return gfs_error(g, h, real, err);
	size_t want = (uint64_t)size < max ? (size_t)size : max;
	if (want == 0) {
		*data = calloc(1, 1);
		*len = 0;
		return *data ? 0 : bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	}
	size_t got = 0;
	char *p = guestfs_pread(h, real, (int)want, 0, &got);
	if (!p)
		return gfs_error(g, h, real, err);
	*data = p;
	*len = got;
	return 0;
}

static int gfs_mkdir(struct bw_guest *g, const char *real, struct bw_error *err)
{
	if (guestfs_mkdir(g->priv, real) == -1)
		return gfs_error(g, g->priv, real, err);
	return 0;
}

static int gfs_upload(struct bw_guest *g, const char *local, const char *real,
		      struct bw_error *err)
{
	if (guestfs_upload(g->priv, local, real) == -1)
		return gfs_error(g, g->priv, real, err);
	return 0;
}

static int gfs_write(struct bw_guest *g, const char *real, const void *data,
		     size_t len, struct bw_error *err)
{
	if (guestfs_write(g->priv, real, data, len) == -1)
		return gfs_error(g, g->priv, real, err);
	return 0;
}

static int gfs_ntfsfix(struct bw_guest *g, struct bw_error *err);

static int gfs_resize(struct bw_guest *g, uint64_t size, unsigned flags,
		      struct bw_error *err)
{
	guestfs_h *h = g->priv;
	char dev[16];
	snprintf(dev, sizeof dev, "/dev/sd%c", (char)('a' + g->current));
	if (guestfs_umount(h, "/") == -1)
		return gfs_error(g, h, "cannot unmount the NTFS volume", err);
	/* ntfsresize fills the device when no size is given; its refusal
	 * (e.g. "new size is smaller than the data") is the message.  The
	 * FUSE unmount may not have released the device yet (see
	 * gfs_clear_dirty): a failure is retried twice, a second apart. */
	int r = -1;
	for (int tries = 0; tries < 3 && r == -1; tries++) {
		if (tries)
			guestfs_sleep(h, 1);
		r = size ? guestfs_ntfsresize_opts(h, dev, GUESTFS_NTFSRESIZE_OPTS_SIZE,
						  (int64_t)size, GUESTFS_NTFSRESIZE_OPTS_FORCE,
						  (flags & BW_GUEST_RESIZE_FORCE) != 0, -1)
			 : guestfs_ntfsresize_opts(h, dev, GUESTFS_NTFSRESIZE_OPTS_FORCE,
						  (flags & BW_GUEST_RESIZE_FORCE) != 0, -1);
	}
	if (r == -1)
		return gfs_error(g, h, "ntfsresize", err);
	/* Check and clear now, while no FUSE mount has touched the resized
	 * volume (see gfs_ntfsfix); ntfs-3g's later mounts leave it clean. */
	if ((flags & BW_GUEST_RESIZE_CLEAR_DIRTY) && (r = gfs_ntfsfix(g, err)) != 0)
		return r;
	return gfs_mount(g, g->current, err);
}

/*
 * libguestfs has no call for `ntfsfix -d`; its debug "sh" runs a command in
 * the appliance (not in the guest's filesystem), which is what we need.
 * The exit status comes back in the output because debug sh does not fail
 * on a failing command.  An ntfs-3g FUSE unmount returns before the
 * daemon has let go of the device, and ntfsfix run in that window reads
 * no NTFS signature (seen here, intermittently): so sync and retry a few
 * times before calling the check failed.
 */
/* ntfsfix -d on the current volume, which must be unmounted. */
static int gfs_ntfsfix(struct bw_guest *g, struct bw_error *err)
{
	guestfs_h *h = g->priv;
	/* debug sh sees the kernel's device names, which the daemon does not
	 * translate: when the appliance's own disk probes first, /dev/sda is
	 * not our volume (seen under load: "NTFS signature is missing").  So
	 * find the device by the volume's serial number (boot sector 0x48),
	 * read from our own partition file, and require exactly one match. */
	uint8_t serial[8];
	int fd = open(g->path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, serial, sizeof serial, 0x48);
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof serial)
		return bw_seterr(err, BW_EIO, g->file, "cannot read the NTFS volume serial number");
	char want[17];
	for (int i = 0; i < 8; i++)
		snprintf(want + 2 * i, 3, "%02x", serial[i]);
	char cmd[640];
	snprintf(cmd, sizeof cmd,
		 "dev=; n=0; for d in /dev/sd[a-z] /dev/sd[a-z][a-z]; do [ -b \"$d\" ] || continue; "
		 "s=$(dd if=\"$d\" bs=1 skip=72 count=8 2>/dev/null | od -An -tx1 | tr -d ' \\n'); "
		 "[ \"$s\" = %s ] && { dev=$d; n=$((n+1)); }; done; "
		 "if [ $n != 1 ]; then echo \"$n devices carry the volume serial %s\"; echo rc=98; exit 0; fi; "
		 "for i in 1 2 3 4 5; do sync; out=$(ntfsfix -d \"$dev\" 2>&1); rc=$?; "
		 "[ $rc = 0 ] && break; sleep 1; done; echo \"$out\"; echo \"rc=$rc\"",
		 want, want);
	char *args[] = { cmd, NULL };
	char *out = guestfs_debug(h, "sh", args);
	if (!out)
		return gfs_error(g, h, "ntfsfix", err);
	const char *rc = strstr(out, "rc=");
	int ok = rc && !strncmp(rc, "rc=0", 4) && (rc[4] == '\n' || rc[4] == '\0');
	if (!ok) {
		/* The line before rc= is ntfsfix's reason. */
		int r = bw_seterr(err, BW_EGUEST, g->file,
				  "ntfs-3g's check (ntfsfix) failed, the volume stays dirty: %.300s", out);
		free(out);
		return r;
	}
	free(out);
	return 0;
}

static int gfs_clear_dirty(struct bw_guest *g, struct bw_error *err)
{
	if (guestfs_umount(g->priv, "/") == -1)
		return gfs_error(g, g->priv, "cannot unmount the NTFS volume", err);
	int r = gfs_ntfsfix(g, err);
	return r ? r : gfs_mount(g, g->current, err);
}

static int gfs_close(struct bw_guest *g, struct bw_error *err)
{
	guestfs_h *h = g->priv;
	if (!h)
		return 0;
	int r = 0;
	/* A failed sync or unmount is an error, not a warning: the writes
	 * may not have reached the partition file. */
	if (guestfs_umount_all(h) == -1 || guestfs_shutdown(h) == -1)
		r = gfs_error(g, h, "cannot shut the libguestfs appliance down cleanly", err);
	guestfs_close(h);
	g->priv = NULL;
	return r;
}

const struct bw_guest_backend bw_guest_guestfs = {
	.name = "guestfs",
	.open = gfs_open,
	.use = gfs_use,
	.resolve = gfs_resolve,
	.download = gfs_download,
	.read = gfs_read,
	.mkdir = gfs_mkdir,
	.upload = gfs_upload,
	.write = gfs_write,
	.resize = gfs_resize,
	.clear_dirty = gfs_clear_dirty,
	.close = gfs_close,
};

/*
 * The native backend of the guest interface: libntfs-3g in process, on
 * the partition file through our own device (ntfsdev.c); ntfs-3g's
 * ntfsresize and ntfsfix programs for the resize and the check.  No VM,
 * no FUSE, no root, nothing Linux-only.
 *
 * It does what ntfs-3g's FUSE driver does inside the libguestfs appliance
 * (files are replaced by truncating and rewriting the same inode, new
 * names get the POSIX namespace and the everyone-full-access descriptor),
 * so that both backends leave the same volume behind.
 *
 * Every inode opened here is closed before the call returns, so unmount
 * has nothing left to flush but the volume's own metadata.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest_internal.h"
#include "guest/ntfsdev.h"
#include "guest/spawn.h"

#define N3G_CHUNK (1u << 20)

struct n3g {
	ntfs_volume *vol;
	struct bw_ntfsdev dev;      /* the mounted file's device */
};

/*
 * libntfs-3g reports the reason for a failure only through its logging
 * hook, which is process-wide and has no user pointer: keep the last error
 * line per thread.  This is the one piece of global state in boxwright,
 * and it belongs to libntfs-3g's design, not ours.
 */
static __thread char n3g_lastlog[320];
static pthread_once_t n3g_log_once = PTHREAD_ONCE_INIT;

static int n3g_log(const char *function, const char *file, int line, u32 level,
		   void *data, const char *format, va_list args)
	__attribute__((format(printf, 6, 0)));

static int n3g_log(const char *function, const char *file, int line, u32 level,
		   void *data, const char *format, va_list args)
{
	(void)function;
	(void)file;
	(void)line;
	(void)data;
	if (!(level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
		       NTFS_LOG_LEVEL_CRITICAL)))
		return 0;
	int saved = errno;
	int n = vsnprintf(n3g_lastlog, sizeof n3g_lastlog, format, args);
	if (n > 0) {
		n3g_lastlog[strcspn(n3g_lastlog, "\n")] = '\0';
		if (level & NTFS_LOG_LEVEL_PERROR) {
			size_t l = strlen(n3g_lastlog);
			snprintf(n3g_lastlog + l, sizeof n3g_lastlog - l, ": %s",
				 strerror(saved));
		}
	}
	errno = saved;
	return n;
}

static void n3g_log_setup(void)
{
	ntfs_log_set_handler(n3g_log);
}

/*
 * One error for a failed libntfs-3g call, from what the device saw and
 * errno: an access past the end or a malformed structure is bad input
 * (exit 3); a failing host file is an I/O error (exit 1).
 */
static int n3g_fail(struct bw_guest *g, const char *what, struct bw_error *err)
{
	int e = errno;
	struct n3g *p = g->priv;
	const char *why = n3g_lastlog[0] ? n3g_lastlog : strerror(e);
	if (p && p->dev.oob)
		return bw_seterr(err, BW_EFORMAT, g->file,
				 "%s: the NTFS volume is corrupt: it points at byte %" PRIu64
				 ", past its end (%" PRIu64 " bytes)",
				 what, p->dev.oob_offset, p->dev.size);
	if (p && p->dev.host_errno)
		return bw_seterr(err, BW_EIO, g->file, "%s: %s", what,
				 strerror(p->dev.host_errno));
	switch (e) {
	case ENOMEM:
		return bw_seterr(err, BW_ENOMEM, g->file, "%s: out of memory", what);
	case ENOSPC:
		return bw_seterr(err, BW_EIO, g->file, "%s: the NTFS volume is full", what);
	case ENOENT:
		return bw_seterr(err, BW_ENOTFOUND, g->file, "%s: no such file in the image", what);
	default:
		return bw_seterr(err, BW_EFORMAT, g->file, "%s: %s", what, why);
	}
}

/*
 * Start an operation: a volume must be mounted (a failed resize or switch
 * leaves none), and what the device saw in earlier operations must not
 * colour this one's error.
 */
static int n3g_begin(struct bw_guest *g, struct bw_error *err)
{
	struct n3g *p = g->priv;
	if (!p || !p->vol)
		return bw_seterr(err, BW_EGUEST, g->file,
				 "no NTFS volume is mounted: an earlier step of this session failed");
	p->dev.oob = 0;
	p->dev.host_errno = 0;
	n3g_lastlog[0] = '\0';
	return 0;
}

static int n3g_mount(struct bw_guest *g, size_t idx, struct bw_error *err)
{
	struct n3g *p = g->priv;
	bw_ntfsdev_init_file(&p->dev, g->files[idx]);
	struct ntfs_device *dev = bw_ntfsdev_alloc(&p->dev);
	if (!dev)
		return bw_seterr(err, BW_ENOMEM, g->files[idx], "out of memory");
	n3g_lastlog[0] = '\0';
	errno = 0;
	p->vol = ntfs_device_mount(dev, g->opts.readonly ? NTFS_MNT_RDONLY : NTFS_MNT_NONE);
	if (p->vol)
		return 0;
	int e = errno;
	ntfs_device_free(dev);
	const char *saved = g->file;
	g->file = g->labels[idx];
	int r;
	if (e == EPERM && !p->dev.oob && !p->dev.host_errno)
		/* ntfs-3g's refusal of a hibernated Windows or of a $LogFile
		 * with unreplayed changes: the $Bitmap cannot be trusted. */
		r = bw_seterr(err, BW_EDIRTY, g->file,
			      "cannot mount the NTFS volume read-write: %s (boot Windows and shut it down fully, hibernation and fast startup off)",
			      n3g_lastlog[0] ? n3g_lastlog : "hibernated or unclean $LogFile");
	else {
		errno = e;
		r = n3g_fail(g, "cannot mount the NTFS volume", err);
	}
	g->file = saved;
	return r;
}

/* Unmount with every error checked: a failed sync means lost writes. */
static int n3g_umount(struct bw_guest *g, struct bw_error *err)
{
	struct n3g *p = g->priv;
	if (!p || !p->vol)
		return 0;
	n3g_lastlog[0] = '\0';
	errno = 0;
	int r = ntfs_umount(p->vol, FALSE);
	p->vol = NULL;
	if (r != 0 || p->dev.host_errno)
		return n3g_fail(g, "cannot unmount the NTFS volume cleanly", err);
	return 0;
}

static int n3g_open(struct bw_guest *g, struct bw_error *err)
{
	pthread_once(&n3g_log_once, n3g_log_setup);
	struct n3g *p = calloc(1, sizeof *p);
	if (!p)
		return bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	g->priv = p;
	return n3g_mount(g, 0, err);
}

static int n3g_use(struct bw_guest *g, size_t idx, struct bw_error *err)
{
	int r = n3g_umount(g, err);
	return r ? r : n3g_mount(g, idx, err);
}

struct n3g_lookup {
	const ntfschar *want;
	int wantlen;
	const ntfschar *upcase;
	u32 upcase_len;
	MFT_REF mref;
	unsigned dt_type;
	ntfschar *name;             /* the entry's real name */
	int namelen;
	int found, nomem;
};

static int n3g_lookup_entry(void *ctx, const ntfschar *name, const int len,
			    const int type, const s64 pos, const MFT_REF mref,
			    const unsigned dt_type)
{
	struct n3g_lookup *l = ctx;
	(void)pos;
	/* The 8.3 alias names the same file as its long name: skip it so
	 * that the real (long) name is what comes back. */
	if (type == FILE_NAME_DOS || len != l->wantlen)
		return 0;
	if (ntfs_names_full_collate(name, (u32)len, l->want, (u32)l->wantlen,
				    IGNORE_CASE, l->upcase, l->upcase_len) != 0)
		return 0;
	l->name = malloc((size_t)len * sizeof *name);
	if (!l->name) {
		l->nomem = 1;
		return -1;
	}
	memcpy(l->name, name, (size_t)len * sizeof *name);
	l->namelen = len;
	l->mref = mref;
	l->dt_type = dt_type;
	l->found = 1;
	return 1;              /* stop the walk */
}

/* Append "/" and the UTF-8 of NAME to *PATH (malloc'd). */
static int n3g_path_append(char **path, const ntfschar *name, int len)
{
	char *u = NULL;
	if (ntfs_ucstombs(name, len, &u, 0) < 0)
		return -1;
	size_t a = strlen(*path), b = strlen(u);
	char *p = realloc(*path, a + b + 2);
	if (!p) {
		free(u);
		return -1;
	}
	if (a > 1)                  /* the root is "/" already */
		p[a++] = '/';
	memcpy(p + a, u, b + 1);
	free(u);
	*path = p;
	return 0;
}

/*
 * Walk PATH from the root one component at a time, matching each name
 * case-insensitively with the volume's own $UpCase table (as Windows
 * does), and build the real path from the names found.
 */
static int n3g_resolve(struct bw_guest *g, const char *path, char **real,
		       struct bw_error *err)
{
	int r = n3g_begin(g, err);
	if (r)
		return r;
	struct n3g *p = g->priv;
	ntfs_volume *vol = p->vol;
	char *cur = strdup("/");
	char *comp = strdup(path);
	MFT_REF dir = FILE_root;
	unsigned dt = NTFS_DT_DIR;
	if (!cur || !comp) {
		r = bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
		goto out;
	}
	char *save = NULL;
	for (char *c = strtok_r(comp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (dt != NTFS_DT_DIR) {
			r = BW_ENOTFOUND;
			goto out;
		}
		ntfschar *want = NULL;
		int wantlen = ntfs_mbstoucs(c, &want);
		if (wantlen < 0) {
			r = bw_seterr(err, BW_EINVAL, g->file, "%s: not a valid UTF-8 name", path);
			goto out;
		}
		n3g_lastlog[0] = '\0';
		ntfs_inode *ni = ntfs_inode_open(vol, MREF(dir));
		if (!ni) {
			free(want);
			r = n3g_fail(g, path, err);
			goto out;
		}
		struct n3g_lookup l = {
			.want = want, .wantlen = wantlen,
			.upcase = vol->upcase, .upcase_len = vol->upcase_len,
		};
		s64 pos = 0;
		errno = 0;
		int rd = ntfs_readdir(ni, &pos, &l, n3g_lookup_entry);
		int e = errno;
		free(want);
		if (ntfs_inode_close(ni) != 0 && !l.found) {
			free(l.name);
			r = n3g_fail(g, path, err);
			goto out;
		}
		if (l.nomem) {
			r = bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
			goto out;
		}
		if (!l.found) {
			if (rd != 0) {
				errno = e;
				r = n3g_fail(g, path, err);
			} else {
				r = BW_ENOTFOUND;
			}
			goto out;
		}
		int ar = n3g_path_append(&cur, l.name, l.namelen);
		free(l.name);
		if (ar != 0) {
			r = bw_seterr(err, BW_ENOMEM, g->file, "%s: cannot convert a name", path);
			goto out;
		}
		dir = l.mref;
		dt = l.dt_type;
	}
	*real = cur;
	cur = NULL;
out:
	free(cur);
	free(comp);
	return r;
}

/* Open the unnamed $DATA of NI, the regular file REAL; closes NI on failure. */
static int n3g_inode_data(struct bw_guest *g, const char *real, ntfs_inode *ni,
			  ntfs_attr **na, struct bw_error *err)
{
	*na = NULL;
	if (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) {
		ntfs_inode_close(ni);
		return bw_seterr(err, BW_EINVAL, g->file, "%s: is a directory", real);
	}
	n3g_lastlog[0] = '\0';
	*na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!*na) {
		int r = n3g_fail(g, real, err);
		ntfs_inode_close(ni);
		return r;
	}
	return 0;
}

/* Open the unnamed $DATA of the regular file REAL. */
static int n3g_open_data(struct bw_guest *g, const char *real, ntfs_inode **ni,
			 ntfs_attr **na, struct bw_error *err)
{
	struct n3g *p = g->priv;
	n3g_lastlog[0] = '\0';
	*na = NULL;
	*ni = ntfs_pathname_to_inode(p->vol, NULL, real);
	if (!*ni)
		return n3g_fail(g, real, err);
	int r = n3g_inode_data(g, real, *ni, na, err);
	if (r)
		*ni = NULL;
	return r;
}

static int n3g_close_data(struct bw_guest *g, const char *real, ntfs_inode *ni,
			  ntfs_attr *na, int r, struct bw_error *err)
{
	if (na)
		ntfs_attr_close(na);
	if (ni && ntfs_inode_close(ni) != 0 && r == 0)
		r = n3g_fail(g, real, err);
	return r;
}

/* Read the file into FD (fd >= 0) or into *DATA (at most MAX bytes). */
static int n3g_read_into(struct bw_guest *g, const char *real, int fd,
			 const char *local, size_t max, char **data, size_t *len,
			 struct bw_error *err)
{
	ntfs_inode *ni;
	ntfs_attr *na;
	int r = n3g_open_data(g, real, &ni, &na, err);
	if (r)
		return r;
	uint64_t size = na->data_size < 0 ? 0 : (uint64_t)na->data_size;
	/* Only hives and the BCD are downloaded: a size no hive can have is
	 * a hostile image filling our temporary directory. */
	if (fd >= 0 && size > BW_GUEST_DOWNLOAD_MAX)
		return n3g_close_data(g, real, ni, na,
				      bw_seterr(err, BW_EFORMAT, g->file,
						"%s: %" PRIu64 " bytes, more than any hive (%llu at most)",
						real, size, (unsigned long long)BW_GUEST_DOWNLOAD_MAX), err);
	size_t want = fd >= 0 ? N3G_CHUNK : (size < max ? (size_t)size : max);
	char *buf = malloc(want ? want : 1);
	if (!buf)
		return n3g_close_data(g, real, ni, na,
				      bw_seterr(err, BW_ENOMEM, g->file, "out of memory"), err);
	uint64_t pos = 0, end = fd >= 0 ? size : want;
	while (r == 0 && pos < end) {
		s64 n = end - pos < want ? (s64)(end - pos) : (s64)want;
		char *dst = fd >= 0 ? buf : buf + pos;
		n3g_lastlog[0] = '\0';
		s64 got = ntfs_attr_pread(na, (s64)pos, n, dst);
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			r = n3g_fail(g, real, err);
			break;
		}
		if (fd >= 0) {
			for (s64 off = 0; off < got && r == 0; ) {
				ssize_t w = write(fd, buf + off, (size_t)(got - off));
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					r = bw_seterr(err, BW_EIO, local, "cannot write: %s",
						      strerror(w < 0 ? errno : EIO));
				else
					off += w;
			}
		}
		pos += (uint64_t)got;
	}
	if (r == 0 && fd < 0) {
		*data = buf;
		*len = (size_t)pos;
		buf = NULL;
	}
	free(buf);
	return n3g_close_data(g, real, ni, na, r, err);
}

static int n3g_download(struct bw_guest *g, const char *real, const char *local,
			struct bw_error *err)
{
	int r = n3g_begin(g, err);
	if (r)
		return r;
	int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return bw_seterr(err, BW_EIO, local, "cannot create: %s", strerror(errno));
	r = n3g_read_into(g, real, fd, local, 0, NULL, NULL, err);
	if (close(fd) != 0 && r == 0)
		r = bw_seterr(err, BW_EIO, local, "cannot close: %s", strerror(errno));
	return r;
}

static int n3g_read(struct bw_guest *g, const char *real, size_t max,
		    char **data, size_t *len, struct bw_error *err)
{
	int r = n3g_begin(g, err);
	return r ? r : n3g_read_into(g, real, -1, NULL, max, data, len, err);
}

/* Split REAL into its directory's inode and the last name (UTF-16). */
static int n3g_parent(struct bw_guest *g, const char *real, ntfs_inode **dir,
		      ntfschar **name, int *namelen, struct bw_error *err)
{
	struct n3g *p = g->priv;
	const char *slash = strrchr(real, '/');
	if (!slash || !slash[1])
		return bw_seterr(err, BW_EINVAL, g->file, "%s: not a file path", real);
	char *parent = strndup(real, slash == real ? 1 : (size_t)(slash - real));
	if (!parent)
		return bw_seterr(err, BW_ENOMEM, g->file, "out of memory");
	n3g_lastlog[0] = '\0';
	*dir = ntfs_pathname_to_inode(p->vol, NULL, parent);
	int r = *dir ? 0 : n3g_fail(g, parent, err);
	free(parent);
	if (r)
		return r;
	*name = NULL;
	*namelen = ntfs_mbstoucs(slash + 1, name);
	if (*namelen <= 0 || *namelen > 255) {
		free(*name);
		ntfs_inode_close(*dir);
		return bw_seterr(err, BW_EINVAL, g->file, "%s: not a valid NTFS name (UTF-8, 1 to 255 characters)", real);
	}
	return 0;
}

/* Create REAL (its parent exists, the name does not) of mode TYPE. */
static int n3g_create(struct bw_guest *g, const char *real, mode_t type,
		      ntfs_inode **out, struct bw_error *err)
{
	ntfs_inode *dir = NULL;
	ntfschar *name = NULL;
	int len = 0;
	int r = n3g_parent(g, real, &dir, &name, &len, err);
	if (r)
		return r;
	n3g_lastlog[0] = '\0';
	/* Security id 0: ntfs-3g gives the everyone-full-access descriptor,
	 * as its FUSE driver does without a user mapping. */
	ntfs_inode *ni = ntfs_create(dir, const_cpu_to_le32(0), name, (u8)len, type);
	if (!ni)
		r = n3g_fail(g, real, err);
	free(name);
	if (ntfs_inode_close(dir) != 0 && r == 0)
		r = n3g_fail(g, real, err);
	if (r == 0 && out)
		*out = ni;
	else if (ni && ntfs_inode_close(ni) != 0 && r == 0)
		r = n3g_fail(g, real, err);
	return r;
}

static int n3g_mkdir(struct bw_guest *g, const char *real, struct bw_error *err)
{
	int r = n3g_begin(g, err);
	return r ? r : n3g_create(g, real, S_IFDIR, NULL, err);
}

/*
 * Replace (or create) REAL with LEN bytes from DATA, or from the local
 * file FD when DATA is NULL.  An existing file keeps its inode, so its
 * security descriptor and other streams stay as Windows set them.
 */
static int n3g_put(struct bw_guest *g, const char *real, int fd, const char *local,
		   const void *data, size_t len, struct bw_error *err)
{
	int r = n3g_begin(g, err);
	if (r)
		return r;
	struct n3g *p = g->priv;
	ntfs_inode *ni;
	ntfs_attr *na;
	errno = 0;
	ni = ntfs_pathname_to_inode(p->vol, NULL, real);
	if (ni && ni->mft_no < FILE_first_user) {
		/* $MFT, $Bitmap, $LogFile...: replacing one would wreck the
		 * volume, and no edit ever names one. */
		ntfs_inode_close(ni);
		return bw_seterr(err, BW_EINVAL, g->file, "%s: an NTFS system file, never replaced", real);
	}
	if (!ni) {
		if (errno != ENOENT)
			return n3g_fail(g, real, err);
		r = n3g_create(g, real, S_IFREG, &ni, err);
		if (r)
			return r;
	}
	r = n3g_inode_data(g, real, ni, &na, err);
	if (r)
		return r;
	n3g_lastlog[0] = '\0';
	if (ntfs_attr_truncate(na, 0) != 0)
		return n3g_close_data(g, real, ni, na, n3g_fail(g, real, err), err);
	char *buf = data ? NULL : malloc(N3G_CHUNK);
	if (!data && !buf)
		return n3g_close_data(g, real, ni, na,
				      bw_seterr(err, BW_ENOMEM, g->file, "out of memory"), err);
	s64 pos = 0;
	for (;;) {
		const char *src;
		s64 n;
		if (data) {
			if ((size_t)pos >= len)
				break;
			src = (const char *)data + pos;
			n = (s64)(len - (size_t)pos);
		} else {
			ssize_t got = read(fd, buf, N3G_CHUNK);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				r = bw_seterr(err, BW_EIO, local, "cannot read: %s", strerror(errno));
				break;
			}
			if (got == 0)
				break;
			src = buf;
			n = got;
		}
		for (s64 off = 0; off < n; ) {
			s64 w = ntfs_attr_pwrite(na, pos + off, n - off, src + off);
			if (w <= 0) {
				if (w == 0)
					errno = ENOSPC;
				r = n3g_fail(g, real, err);
				break;
			}
			off += w;
		}
		if (r)
			break;
		pos += n;
	}
	free(buf);
	/* Compressed files are written in compression blocks: close the
	 * last one, as the FUSE driver does. */
	if (r == 0 && (na->data_flags & ATTR_COMPRESSION_MASK) && ntfs_attr_pclose(na) != 0)
		r = n3g_fail(g, real, err);
	if (r == 0)
		ntfs_inode_update_times(ni, NTFS_UPDATE_MCTIME);
	return n3g_close_data(g, real, ni, na, r, err);
}

static int n3g_upload(struct bw_guest *g, const char *local, const char *real,
		      struct bw_error *err)
{
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bw_seterr(err, BW_EIO, local, "cannot open: %s", strerror(errno));
	int r = n3g_put(g, real, fd, local, NULL, 0, err);
	close(fd);
	return r;
}

static int n3g_write(struct bw_guest *g, const char *real, const void *data,
		     size_t len, struct bw_error *err)
{
	return n3g_put(g, real, -1, NULL, data ? data : "", len, err);
}

/* Run ntfs-3g program ARGV on the (unmounted) current file. */
static int n3g_program(struct bw_guest *g, char *const argv[], const char *what,
		       struct bw_error *err)
{
	char out[8192];
	int status;
	int r = bw_guest_run(argv[0], argv, out, sizeof out, &status, err);
	if (r) {
		if (r == BW_ENOTFOUND)   /* a missing tool is not a missing file */
			r = bw_seterr(err, BW_EGUEST, g->file, "%s", err ? err->msg : argv[0]);
		return r;
	}
	if (status != 0) {
		char why[600];
		bw_guest_run_reason(out, why, sizeof why);
		return bw_seterr(err, BW_EGUEST, g->file, "%s (exit %d): %s", what, status,
				 why[0] ? why : "no message");
	}
	return 0;
}

static int n3g_ntfsfix(struct bw_guest *g, struct bw_error *err)
{
	char *argv[] = { (char *)"ntfsfix", (char *)"-d", (char *)g->path, NULL };
	return n3g_program(g, argv, "ntfs-3g's check (ntfsfix) failed, the volume stays dirty", err);
}

static int n3g_resize(struct bw_guest *g, uint64_t size, int clear_dirty,
		      struct bw_error *err)
{
	int r = n3g_umount(g, err);
	if (r)
		return r;
	char sz[32];
	snprintf(sz, sizeof sz, "%" PRIu64, size);
	/* stdin is /dev/null: ntfsresize's "proceed?" reads EOF and goes on,
	 * as in libguestfs' call; no --force, so a volume already marked for
	 * chkdsk is refused, with ntfsresize's reason. */
	char *argv[] = { (char *)"ntfsresize", (char *)"--no-progress-bar",
			 size ? (char *)"--size" : (char *)g->path, size ? sz : NULL,
			 size ? (char *)g->path : NULL, NULL };
	r = n3g_program(g, argv, "ntfsresize", err);
	if (r) {
		/* ntfsresize refuses before it writes: mount the unchanged
		 * volume again so that the session stays usable. */
		n3g_mount(g, g->current, NULL);
		return r;
	}
	if (clear_dirty)
		r = n3g_ntfsfix(g, err);
	return r ? r : n3g_mount(g, g->current, err);
}

static int n3g_clear_dirty(struct bw_guest *g, struct bw_error *err)
{
	int r = n3g_umount(g, err);
	if (r == 0)
		r = n3g_ntfsfix(g, err);
	return r ? r : n3g_mount(g, g->current, err);
}

static int n3g_close(struct bw_guest *g, struct bw_error *err)
{
	struct n3g *p = g->priv;
	if (!p)
		return 0;
	int r = n3g_umount(g, err);
	free(p);
	g->priv = NULL;
	return r;
}

const struct bw_guest_backend bw_guest_native = {
	.name = "native",
	.open = n3g_open,
	.use = n3g_use,
	.resolve = n3g_resolve,
	.download = n3g_download,
	.read = n3g_read,
	.mkdir = n3g_mkdir,
	.upload = n3g_upload,
	.write = n3g_write,
	.resize = n3g_resize,
	.clear_dirty = n3g_clear_dirty,
	.close = n3g_close,
};

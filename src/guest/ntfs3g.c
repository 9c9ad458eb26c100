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
 * hook, which is process-wide and has no user pointer: keep the error
 * lines of the current call per thread.  This is the one piece of global
 * state in boxwright, and it belongs to libntfs-3g's design, not ours.
 *
 * The first line is kept as well as the last: libntfs-3g logs the cause
 * first and its callers' wrappers after it (a torn MFT record is logged
 * as "Incomplete multi-sector transfer", then as "Record N has no FILE
 * magic (0x44414142)" because the record is marked BAAD meanwhile).
 */
#define N3G_LOG_MAX 320
static __thread char n3g_firstlog[N3G_LOG_MAX];
static __thread char n3g_lastlog[N3G_LOG_MAX];
static __thread char n3g_reason[2 * N3G_LOG_MAX + 4];
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
		if (!n3g_firstlog[0])
			memcpy(n3g_firstlog, n3g_lastlog, sizeof n3g_firstlog);
	}
	errno = saved;
	return n;
}

/* Forget the lines of an earlier call (before each libntfs-3g call). */
static void n3g_log_reset(void)
{
	n3g_firstlog[0] = n3g_lastlog[0] = '\0';
}

/* What libntfs-3g logged since the reset: "first; last", or NULL. */
static const char *n3g_log_reason(void)
{
	if (!n3g_firstlog[0])
		return NULL;
	if (!strcmp(n3g_firstlog, n3g_lastlog))
		return n3g_firstlog;
	snprintf(n3g_reason, sizeof n3g_reason, "%s; %s", n3g_firstlog, n3g_lastlog);
	return n3g_reason;
}

static void n3g_log_setup(void)
{
	ntfs_log_set_handler(n3g_log);
}

/*
 * One error for a failed libntfs-3g call, from what the device saw and
 * errno: an access past the end or a malformed structure is bad input
 * (exit 3); a failing host file is an I/O error (exit 1).  libntfs-3g
 * says EIO for every inconsistency it finds (the host's own failures are
 * caught by the device first), so EIO here means a corrupt volume.
 */
static int n3g_fail(struct bw_guest *g, const char *what, struct bw_error *err)
{
	int e = errno;
	struct n3g *p = g->priv;
	const char *logged = n3g_log_reason();
	const char *why = logged ? logged : strerror(e);
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
	case EIO:
		return bw_seterr(err, BW_EFORMAT, g->file, "%s: the NTFS volume is corrupt: %s",
				 what, logged ? logged : "libntfs-3g found it inconsistent");
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
	n3g_log_reset();
	return 0;
}

static int n3g_mount(struct bw_guest *g, size_t idx, struct bw_error *err)
{
	struct n3g *p = g->priv;
	if (g->use_readers)
		bw_ntfsdev_init_reader(&p->dev, g->readers[idx].pread, g->readers[idx].ctx,
				       g->readers[idx].size, g->labels[idx]);
	else
		bw_ntfsdev_init_file(&p->dev, g->files[idx]);
	struct ntfs_device *dev = bw_ntfsdev_alloc(&p->dev);
	if (!dev)
		return bw_seterr(err, BW_ENOMEM, g->files[idx], "out of memory");
	n3g_log_reset();
	errno = 0;
	p->vol = ntfs_device_mount(dev, g->opts.readonly ? NTFS_MNT_RDONLY : NTFS_MNT_NONE);
	if (p->vol)
		return 0;
	int e = errno;
	ntfs_device_free(dev);
	const char *saved = g->file;
	g->file = g->labels[idx];
	int r;
	if ((e == EPERM || e == EOPNOTSUPP) && !p->dev.oob && !p->dev.host_errno)
		/* ntfs-3g's refusal of a hibernated Windows (EPERM) or of a
		 * $LogFile with unreplayed changes (EOPNOTSUPP, from
		 * ntfs_volume_check_logfile): the $Bitmap cannot be trusted.
		 * src/ntfs refuses both first; this is the backstop. */
		r = bw_seterr(err, BW_EDIRTY, g->file,
			      "cannot mount the NTFS volume read-write: %s (boot Windows and shut it down fully, hibernation and fast startup off)",
			      n3g_log_reason() ? n3g_log_reason() : "hibernated or unclean $LogFile");
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
	n3g_log_reset();
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
		n3g_log_reset();
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

/*
 * libntfs-3g trusts an attribute's sizes and runs as they are on disk: a
 * data size past the allocation reads as zeros for as long as it claims
 * (a "hive" of 1 TiB is a hang and a full disk), and truncating a file
 * whose runs lie past the volume frees clusters that are not there.
 * Check what NTFS itself guarantees for the unnamed $DATA NA of REAL
 * before reading or replacing it: initialized <= data <= allocated, a
 * file without holes allocated no bigger than the volume, every run
 * inside the volume.  BW_EFORMAT (corrupt volume) when one fails.
 */
static int n3g_check_data(struct bw_guest *g, const char *real, ntfs_attr *na,
			  struct bw_error *err)
{
	struct n3g *p = g->priv;
	ntfs_volume *vol = p->vol;
	if (!NAttrNonResident(na))
		return 0;           /* its value is inside the MFT record */
	uint64_t vol_bytes = (uint64_t)vol->nr_clusters << vol->cluster_size_bits;
	int holes = (na->data_flags & (ATTR_IS_SPARSE | ATTR_COMPRESSION_MASK)) != 0;
	if (na->initialized_size < 0 || na->data_size < na->initialized_size ||
	    na->allocated_size < na->data_size ||
	    (!holes && (uint64_t)na->allocated_size > vol_bytes))
		return bw_seterr(err, BW_EFORMAT, g->file,
				 "%s: the NTFS volume is corrupt: the file's $DATA sizes are impossible (allocated %" PRId64
				 ", data %" PRId64 ", initialized %" PRId64 "; the volume holds %" PRIu64 " bytes)",
				 real, (int64_t)na->allocated_size, (int64_t)na->data_size,
				 (int64_t)na->initialized_size, vol_bytes);
	n3g_log_reset();
	errno = 0;
	if (ntfs_attr_map_whole_runlist(na) != 0)
		return n3g_fail(g, real, err);
	for (const runlist_element *rl = na->rl; rl && rl->length; rl++) {
		if (rl->lcn < 0)
			continue;   /* a hole */
		if (rl->lcn > vol->nr_clusters || rl->length > vol->nr_clusters - rl->lcn)
			return bw_seterr(err, BW_EFORMAT, g->file,
					 "%s: the NTFS volume is corrupt: the file's data run at cluster %" PRId64
					 " (%" PRId64 " clusters) goes past the volume's end (%" PRId64 " clusters)",
					 real, (int64_t)rl->lcn, (int64_t)rl->length,
					 (int64_t)vol->nr_clusters);
	}
	return 0;
}

/* Open the unnamed $DATA of NI, the regular file REAL; closes NI on failure. */
static int n3g_inode_data(struct bw_guest *g, const char *real, ntfs_inode *ni,
			  ntfs_attr **na, struct bw_error *err)
{
	*na = NULL;
	if (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) {
		ntfs_inode_close(ni);
		/* The image's own tree puts a directory where a file must be
		 * (a hive, the BCD): bad input, not a bad command line. */
		return bw_seterr(err, BW_EFORMAT, g->file, "%s: is a directory, expected a file", real);
	}
	n3g_log_reset();
	*na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	int r;
	if (*na)
		r = n3g_check_data(g, real, *na, err);
	else if (errno == ENOENT)   /* every NTFS file has one */
		r = bw_seterr(err, BW_EFORMAT, g->file,
			      "%s: the NTFS volume is corrupt: the file (MFT record %llu) has no unnamed $DATA attribute",
			      real, (unsigned long long)ni->mft_no);
	else
		r = n3g_fail(g, real, err);
	if (r) {
		if (*na)
			ntfs_attr_close(*na);
		*na = NULL;
		ntfs_inode_close(ni);
	}
	return r;
}

/* Open the unnamed $DATA of the regular file REAL. */
static int n3g_open_data(struct bw_guest *g, const char *real, ntfs_inode **ni,
			 ntfs_attr **na, struct bw_error *err)
{
	struct n3g *p = g->priv;
	n3g_log_reset();
	*na = NULL;
	*ni = ntfs_pathname_to_inode(p->vol, NULL, real);
	if (!*ni && errno == ENOENT)
		/* REAL was just resolved from the directory index: an entry
		 * that does not open is a corrupt volume, not a missing file. */
		return bw_seterr(err, BW_EFORMAT, g->file,
				 "%s: the NTFS volume is corrupt: its directory entry names an MFT record that does not open",
				 real);
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

/*
 * Where the bytes of NA at POS stop being stored: the end of the hole
 * that holds POS in a sparse (not compressed) file, else POS itself.
 * Skipping holes keeps a sparse file's download as cheap as its data.
 */
static uint64_t n3g_hole_end(ntfs_volume *vol, ntfs_attr *na, uint64_t pos)
{
	if (!NAttrNonResident(na) || !(na->data_flags & ATTR_IS_SPARSE) ||
	    (na->data_flags & ATTR_COMPRESSION_MASK))
		return pos;
	const runlist_element *rl = ntfs_attr_find_vcn(na, (VCN)(pos >> vol->cluster_size_bits));
	if (!rl || rl->lcn != LCN_HOLE)
		return pos;         /* data, or let the read report the error */
	return (uint64_t)(rl->vcn + rl->length) << vol->cluster_size_bits;
}

/* Write LEN bytes of BUF at OFF of FD (LOCAL, for messages). */
static int n3g_pwrite_all(int fd, const char *local, const char *buf, size_t len,
			  uint64_t off, struct bw_error *err)
{
	while (len) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return bw_seterr(err, BW_EIO, local, "cannot write: %s",
					 strerror(w < 0 ? errno : EIO));
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/*
 * Read the file into FD (fd >= 0, a new empty file) or into *DATA (at
 * most MAX bytes).  Only the initialized bytes are read; past them NTFS
 * holds zeros, which the file gets as a hole (ftruncate) and the buffer
 * by memset.
 */
static int n3g_read_into(struct bw_guest *g, const char *real, int fd,
			 const char *local, size_t max, char **data, size_t *len,
			 struct bw_error *err)
{
	struct n3g *p = g->priv;
	ntfs_inode *ni;
	ntfs_attr *na;
	int r = n3g_open_data(g, real, &ni, &na, err);
	if (r)
		return r;
	/* n3g_check_data: 0 <= initialized <= data. */
	uint64_t size = (uint64_t)na->data_size;
	uint64_t init = (uint64_t)na->initialized_size;
	/* Only hives and the BCD are downloaded: a size no hive can have is
	 * a hostile image filling our temporary directory. */
	if (fd >= 0 && size > BW_GUEST_DOWNLOAD_MAX)
		return n3g_close_data(g, real, ni, na,
				      bw_seterr(err, BW_EFORMAT, g->file,
						"%s: %" PRIu64 " bytes, more than any hive (%llu at most)",
						real, size, (unsigned long long)BW_GUEST_DOWNLOAD_MAX), err);
	size_t chunk = fd >= 0 ? N3G_CHUNK : (size < max ? (size_t)size : max);
	uint64_t end = fd >= 0 ? size : chunk;
	uint64_t stored = init < end ? init : end;
	char *buf = malloc(chunk ? chunk : 1);
	if (!buf)
		return n3g_close_data(g, real, ni, na,
				      bw_seterr(err, BW_ENOMEM, g->file, "out of memory"), err);
	uint64_t pos = 0;
	while (r == 0 && pos < stored) {
		uint64_t hole = n3g_hole_end(p->vol, na, pos);
		if (hole > pos) {
			hole = hole < stored ? hole : stored;
			if (fd < 0)
				memset(buf + pos, 0, (size_t)(hole - pos));
			pos = hole;
			continue;
		}
		s64 n = stored - pos < chunk ? (s64)(stored - pos) : (s64)chunk;
		char *dst = fd >= 0 ? buf : buf + pos;
		n3g_log_reset();
		s64 got = ntfs_attr_pread(na, (s64)pos, n, dst);
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			r = n3g_fail(g, real, err);
			break;
		}
		if (fd >= 0)
			r = n3g_pwrite_all(fd, local, buf, (size_t)got, pos, err);
		pos += (uint64_t)got;
	}
	if (r == 0 && fd >= 0 && ftruncate(fd, (off_t)size) != 0)
		r = bw_seterr(err, BW_EIO, local, "cannot extend to %" PRIu64 " bytes: %s",
			      size, strerror(errno));
	if (r == 0 && fd < 0) {
		memset(buf + stored, 0, (size_t)(end - stored));
		*data = buf;
		*len = (size_t)end;
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
	n3g_log_reset();
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

/*
 * Times as the FUSE driver sets them: MASK of NI's times become now; or,
 * with opts.file_time, that time instead.  CREATED (a new inode) with
 * file_time: all four, and also in the $FILE_NAME attributes of its own
 * MFT record, which ntfs_create filled from the clock and nothing updates
 * later (an existing inode's keep what Windows wrote).  The inode's times
 * reach $STANDARD_INFORMATION and, with the file name dirty, the index
 * entry in its directory when it is closed (ntfs_inode_sync).  Not
 * ntfs_inode_set_times (the system.ntfs_times path): it stamps the change
 * time with the clock.  0, or -1 when the attribute lookup fails.
 */
static int n3g_stamp(struct bw_guest *g, ntfs_inode *ni, ntfs_time_update_flags mask,
		     int created)
{
	if (!g->opts.file_time) {
		ntfs_inode_update_times(ni, mask);
		return 0;
	}
	sle64 t = cpu_to_sle64((s64)g->opts.file_time);
	if (created)
		ni->creation_time = ni->last_data_change_time = ni->last_mft_change_time =
			ni->last_access_time = t;
	if (mask & NTFS_UPDATE_ATIME)
		ni->last_access_time = t;
	if (mask & NTFS_UPDATE_MTIME)
		ni->last_data_change_time = t;
	if (mask & NTFS_UPDATE_CTIME)
		ni->last_mft_change_time = t;
	NInoSetDirty(ni);
	NInoFileNameSetDirty(ni);
	if (!created)
		return 0;
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
	if (!ctx)
		return -1;
	while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, ctx)) {
		FILE_NAME_ATTR *fn = (FILE_NAME_ATTR *)((u8 *)ctx->attr +
							le16_to_cpu(ctx->attr->value_offset));
		fn->creation_time = fn->last_data_change_time = t;
		fn->last_mft_change_time = fn->last_access_time = t;
		ntfs_inode_mark_dirty(ctx->ntfs_ino);
	}
	/* the loop ends on ENOENT: every name was seen */
	int r = errno == ENOENT ? 0 : -1;
	ntfs_attr_put_search_ctx(ctx);
	return r;
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
	n3g_log_reset();
	/* Security id 0: ntfs-3g gives the everyone-full-access descriptor,
	 * as its FUSE driver does without a user mapping. */
	ntfs_inode *ni = ntfs_create(dir, const_cpu_to_le32(0), name, (u8)len, type);
	if (!ni)
		r = n3g_fail(g, real, err);
	/* ntfs_create stamped both with the clock */
	else if (g->opts.file_time &&
		 (n3g_stamp(g, dir, NTFS_UPDATE_MCTIME, 0) != 0 || n3g_stamp(g, ni, 0, 1) != 0))
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
		unsigned long long rec = (unsigned long long)ni->mft_no;
		ntfs_inode_close(ni);
		return bw_seterr(err, BW_EFORMAT, g->file, "%s: an NTFS system file (MFT record %llu), never replaced",
				 real, rec);
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
	n3g_log_reset();
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
	if (r == 0 && n3g_stamp(g, ni, NTFS_UPDATE_MCTIME, 0) != 0)
		r = n3g_fail(g, real, err);
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
		if (r == BW_ENOTFOUND) {   /* a missing tool is not a missing file */
			/* bw_seterr writes its label into err->msg first: the
			 * message must be copied out before it is reused. */
			char why[sizeof err->msg];
			snprintf(why, sizeof why, "%s", err ? err->msg : argv[0]);
			r = bw_seterr(err, BW_EGUEST, g->file, "%s", why);
		}
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

/*
 * A volume that Windows itself marked dirty is one ntfs-3g mounts, and
 * one Windows must check at its next boot: ntfsresize refuses it without
 * --force (one -f skips exactly that refusal); the caller knows the flag
 * from the input and asks for FORCE, and keeps the flag (no CLEAR_DIRTY).
 */
static int n3g_resize(struct bw_guest *g, uint64_t size, unsigned flags,
		      struct bw_error *err)
{
	int r = n3g_umount(g, err);
	if (r)
		return r;
	char sz[32];
	snprintf(sz, sizeof sz, "%" PRIu64, size);
	/* stdin is /dev/null: ntfsresize's "proceed?" reads EOF and goes on,
	 * as in libguestfs' call. */
	char *argv[8];
	int n = 0;
	argv[n++] = (char *)"ntfsresize";
	argv[n++] = (char *)"--no-progress-bar";
	if (flags & BW_GUEST_RESIZE_FORCE)
		argv[n++] = (char *)"--force";
	if (size) {
		argv[n++] = (char *)"--size";
		argv[n++] = sz;
	}
	argv[n++] = (char *)g->path;
	argv[n] = NULL;
	r = n3g_program(g, argv, "ntfsresize", err);
	if (r) {
		/* ntfsresize refuses before it writes: mount the unchanged
		 * volume again so that the session stays usable. */
		n3g_mount(g, g->current, NULL);
		return r;
	}
	if (flags & BW_GUEST_RESIZE_CLEAR_DIRTY)
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

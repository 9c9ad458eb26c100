/*
 * ntfs_device operations over a partition file or a buffer (ntfsdev.h).
 * libntfs-3g's unix_io.c would also do: it takes fcntl locks, asks block
 * device ioctls and opens with O_EXCL, none of which a private temporary
 * file needs, and it cannot say "past the end" apart from "I/O error".
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "guest/ntfsdev.h"

#define DEV(nd) ((struct bw_ntfsdev *)(nd)->d_private)

/* Is [off, off+count) inside the device?  Records the first miss. */
static int dev_in_bounds(struct bw_ntfsdev *d, s64 off, s64 count)
{
	if (off < 0 || count < 0 || (uint64_t)off > d->size ||
	    (uint64_t)count > d->size - (uint64_t)off) {
		if (!d->oob) {
			d->oob = 1;
			d->oob_offset = off < 0 ? 0 : (uint64_t)off;
		}
		return 0;
	}
	return 1;
}

static int dev_open(struct ntfs_device *nd, int flags)
{
	struct bw_ntfsdev *d = DEV(nd);
	if (NDevOpen(nd)) {
		errno = EBUSY;
		return -1;
	}
	d->pos = 0;
	if ((flags & O_ACCMODE) != O_RDWR)
		d->readonly = 1;
	if (d->mem || d->rd) {
		if (!d->readonly) {
			errno = EROFS;
			return -1;
		}
	} else {
		d->fd = open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		struct stat st;
		if (d->fd < 0 || fstat(d->fd, &st) != 0) {
			d->host_errno = errno;
			if (d->fd >= 0)
				close(d->fd);
			d->fd = -1;
			errno = d->host_errno;
			return -1;
		}
		d->size = (uint64_t)st.st_size;
	}
	if (d->readonly)
		NDevSetReadOnly(nd);
	NDevSetOpen(nd);
	return 0;
}

static int dev_sync(struct ntfs_device *nd)
{
	struct bw_ntfsdev *d = DEV(nd);
	if (d->readonly || d->fd < 0)
		return 0;
	if (fsync(d->fd) != 0) {
		d->host_errno = errno;
		return -1;
	}
	NDevClearDirty(nd);
	return 0;
}

static int dev_close(struct ntfs_device *nd)
{
	struct bw_ntfsdev *d = DEV(nd);
	if (!NDevOpen(nd)) {
		errno = EBADF;
		return -1;
	}
	int r = 0;
	if (d->fd >= 0) {
		/* A write that the kernel cannot complete shows at fsync or
		 * close: both are errors, never ignored. */
		if (NDevDirty(nd) && dev_sync(nd) != 0)
			r = -1;
		if (close(d->fd) != 0 && r == 0) {
			d->host_errno = errno;
			r = -1;
		}
		d->fd = -1;
	}
	NDevClearOpen(nd);
	if (r)
		errno = d->host_errno;
	return r;
}

static s64 dev_pread(struct ntfs_device *nd, void *buf, s64 count, s64 off)
{
	struct bw_ntfsdev *d = DEV(nd);
	if (!dev_in_bounds(d, off, count)) {
		errno = EIO;
		return -1;
	}
	if (d->mem) {
		memcpy(buf, d->mem + off, (size_t)count);
		return count;
	}
	if (d->rd) {
		if (d->rd(d->rdctx, buf, (size_t)count, (uint64_t)off) != 0) {
			d->host_errno = EIO;
			errno = EIO;
			return -1;
		}
		return count;
	}
	s64 done = 0;
	while (done < count) {
		ssize_t n = pread(d->fd, (char *)buf + done, (size_t)(count - done),
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			d->host_errno = errno;
			return -1;
		}
		if (n == 0) {           /* the file shrank under us */
			d->host_errno = EIO;
			errno = EIO;
			return -1;
		}
		done += n;
	}
	return done;
}

static s64 dev_pwrite(struct ntfs_device *nd, const void *buf, s64 count, s64 off)
{
	struct bw_ntfsdev *d = DEV(nd);
	if (d->readonly) {
		errno = EROFS;
		return -1;
	}
	/* The partition file is as big as the volume: never grow it. */
	if (!dev_in_bounds(d, off, count)) {
		errno = ENOSPC;
		return -1;
	}
	NDevSetDirty(nd);
	s64 done = 0;
	while (done < count) {
		ssize_t n = pwrite(d->fd, (const char *)buf + done,
				   (size_t)(count - done), (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			d->host_errno = n < 0 ? errno : EIO;
			errno = d->host_errno;
			return -1;
		}
		done += n;
	}
	return done;
}

static s64 dev_seek(struct ntfs_device *nd, s64 offset, int whence)
{
	struct bw_ntfsdev *d = DEV(nd);
	s64 base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? d->pos
		 : whence == SEEK_END ? (s64)d->size : -1;
	if (base < 0 || (offset > 0 && base > INT64_MAX - offset) || base + offset < 0) {
		errno = EINVAL;
		return -1;
	}
	d->pos = base + offset;
	return d->pos;
}

/* libntfs-3g sizes a device that answers no ioctl by reading single bytes
 * at probe offsets: a read at or past the end must return 0, not fail. */
static s64 dev_read(struct ntfs_device *nd, void *buf, s64 count)
{
	struct bw_ntfsdev *d = DEV(nd);
	if (count < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((uint64_t)d->pos >= d->size)
		return 0;
	if ((uint64_t)count > d->size - (uint64_t)d->pos)
		count = (s64)(d->size - (uint64_t)d->pos);
	s64 n = dev_pread(nd, buf, count, d->pos);
	if (n > 0)
		d->pos += n;
	return n;
}

static s64 dev_write(struct ntfs_device *nd, const void *buf, s64 count)
{
	struct bw_ntfsdev *d = DEV(nd);
	s64 n = dev_pwrite(nd, buf, count, d->pos);
	if (n > 0)
		d->pos += n;
	return n;
}

static int dev_stat(struct ntfs_device *nd, struct stat *st)
{
	struct bw_ntfsdev *d = DEV(nd);
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFREG | 0600;
	st->st_size = (off_t)d->size;
	return 0;
}

/* No geometry, size or sector-size ioctls: libntfs-3g falls back to
 * probing, and to the boot sector's own geometry. */
static int dev_ioctl(struct ntfs_device *nd, unsigned long request, void *argp)
{
	(void)nd;
	(void)request;
	(void)argp;
	errno = ENOTTY;
	return -1;
}

/* Not const only because ntfs_device_alloc takes a non-const pointer;
 * nothing ever writes it. */
static struct ntfs_device_operations bw_ntfsdev_ops = {
	.open = dev_open,
	.close = dev_close,
	.seek = dev_seek,
	.read = dev_read,
	.write = dev_write,
	.pread = dev_pread,
	.pwrite = dev_pwrite,
	.sync = dev_sync,
	.stat = dev_stat,
	.ioctl = dev_ioctl,
};

void bw_ntfsdev_init_file(struct bw_ntfsdev *d, const char *path)
{
	memset(d, 0, sizeof *d);
	d->path = path;
	d->fd = -1;
}

void bw_ntfsdev_init_mem(struct bw_ntfsdev *d, const void *mem, size_t len,
			 const char *name)
{
	memset(d, 0, sizeof *d);
	d->path = name;
	d->fd = -1;
	d->mem = mem;
	d->size = len;
	d->readonly = 1;
}

void bw_ntfsdev_init_reader(struct bw_ntfsdev *d,
			    int (*rd)(void *ctx, void *buf, size_t len, uint64_t off),
			    void *ctx, uint64_t size, const char *name)
{
	memset(d, 0, sizeof *d);
	d->path = name;
	d->fd = -1;
	d->rd = rd;
	d->rdctx = ctx;
	d->size = size;
	d->readonly = 1;
}

struct ntfs_device *bw_ntfsdev_alloc(struct bw_ntfsdev *d)
{
	return ntfs_device_alloc(d->path, 0, &bw_ntfsdev_ops, d);
}

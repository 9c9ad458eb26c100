/*
 * bw_writer: ordering and bounds checks, then dispatch to the format's
 * driver; fsync and close on finish so that a renamed output is durable
 * (a scratch file is only closed: it never outlives the run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/writeback.h"
#include "disk/writer_internal.h"

int bw_writer_pwrite(struct bw_writer *w, const void *buf, size_t len,
		     uint64_t off, struct bw_error *err)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(w->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)     /* 0: no progress, which would loop forever */
			return bw_seterr(err, BW_EIO, w->path,
					 "cannot write %zu bytes at offset %llu: %s",
					 len, (unsigned long long)off,
					 n < 0 ? strerror(errno) : "no progress");
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	/* The output is fsynced at finish: let the disk start meanwhile. */
	if (!w->opts.scratch)
		bw_writeback_hint(w->fd, &w->written_back, off);
	return 0;
}

static const struct bw_writer_ops *writer_ops(enum bw_write_format f)
{
	switch (f) {
	case BW_WRITE_RAW:         return &bw_writer_raw_ops;
	case BW_WRITE_VHD_DYNAMIC:
	case BW_WRITE_VHD_FIXED:
	case BW_WRITE_VHD_DIFF:    return &bw_writer_vhd_ops;
	case BW_WRITE_VMDK_STREAM: return &bw_writer_vmdk_ops;
	case BW_WRITE_QCOW2:       return &bw_writer_qcow2_ops;
	case BW_WRITE_VHDX_DYNAMIC:
	case BW_WRITE_VHDX_DIFF:   return &bw_writer_vhdx_ops;
	case BW_WRITE_VMDK_SPARSE: return &bw_writer_vmdk_sparse_ops;
	}
	return NULL;
}

static void writer_free(struct bw_writer *w)
{
	if (!w)
		return;
	if (w->ops && w->ops->free)
		w->ops->free(w);
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w);
}

int bw_writer_open(const char *path, const struct bw_writer_opts *o,
		   struct bw_writer **out, struct bw_error *err)
{
	*out = NULL;
	const struct bw_writer_ops *ops = writer_ops(o->format);
	if (!ops)
		return bw_seterr(err, BW_EINVAL, path, "unknown output format %d", (int)o->format);
	if (o->size == 0 || o->size % 512)
		return bw_seterr(err, BW_EINVAL, path,
				 "virtual size %llu is not a positive multiple of 512",
				 (unsigned long long)o->size);
	if (o->compress_level < 0 || o->compress_level > 9)
		return bw_seterr(err, BW_EINVAL, path,
				 "compression level %d (expected 1..9)", o->compress_level);
	struct bw_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	}
	w->ops = ops;
	w->opts = *o;
	w->size = bw_writer_actual_size(o);
	w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int r = bw_seterr(err, BW_EIO, path, "cannot create: %s", strerror(errno));
		writer_free(w);
		return r;
	}
	int r = ops->open(w, err);
	if (r) {
		writer_free(w);
		return r;
	}
	*out = w;
	return 0;
}

int bw_writer_write(struct bw_writer *w, const void *buf, size_t len,
		    uint64_t off, struct bw_error *err)
{
	if (off < w->next)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "write at offset %llu goes back before %llu: writers take data in order",
				 (unsigned long long)off, (unsigned long long)w->next);
	if (off > w->size || len > w->size - off)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "write of %zu bytes at offset %llu is past the virtual size %llu",
				 len, (unsigned long long)off, (unsigned long long)w->size);
	if (len == 0)
		return 0;
	int r = w->ops->write(w, buf, len, off, err);
	if (r == 0)
		w->next = off + len;
	return r;
}

int bw_writer_finish(struct bw_writer *w, struct bw_error *err)
{
	int r = w->ops->finish(w, err);
	if (r == 0 && !w->opts.scratch && fsync(w->fd) != 0)
		r = bw_seterr(err, BW_EIO, w->path, "cannot fsync: %s", strerror(errno));
	if (r == 0) {
		int fd = w->fd;
		w->fd = -1;
		if (close(fd) != 0)
			r = bw_seterr(err, BW_EIO, w->path, "cannot close: %s", strerror(errno));
	}
	writer_free(w);
	return r;
}

void bw_writer_abort(struct bw_writer *w)
{
	writer_free(w);
}

uint64_t bw_writer_bytes_out(const struct bw_writer *w)
{
	return w->bytes_out;
}

uint64_t bw_writer_actual_size(const struct bw_writer_opts *o)
{
	const struct bw_writer_ops *ops = writer_ops(o->format);
	if (ops && ops->actual_size)
		return ops->actual_size(o);
	return o->size;
}

/*
 * bw_disk: format probing and range-checked dispatch to the drivers.
 * Probing order: the formats we read by their magic first (VHD footer
 * "conectix", VHDX "vhdxfile", VMDK "KDMV"), then the containers we
 * recognise but do not read (probe.c: refused, never read as raw), raw
 * last, because raw accepts anything.  bw_disk_open_as skips the probe
 * when the caller names the format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/disk_internal.h"

static const struct bw_disk_ops *const drivers[] = {
	&bw_disk_vhd_ops,
	&bw_disk_vhdx_ops,
	&bw_disk_vmdk_ops,
	&bw_disk_raw_ops,
};

int bw_disk_read_file(struct bw_disk *d, void *buf, size_t len, uint64_t off,
		      const char *what, struct bw_error *err)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pread(d->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bw_seterr(err, BW_EIO, d->path,
					 "cannot read %s at offset %llu: %s", what,
					 (unsigned long long)off, strerror(errno));
		}
		if (n == 0)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "%s at offset %llu lies past the end of the file (file size %llu)",
					 what, (unsigned long long)off,
					 (unsigned long long)d->file_size);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Pick D's driver from its first and last sectors.  Returns 0, or
 * BW_EUNSUPPORTED (a container we do not read), BW_EIO, BW_ENOMEM. */
static int disk_probe(struct bw_disk *d, struct bw_error *err)
{
	int r;
	uint8_t head[512] = {0}, tail[512];
	const uint8_t *tailp = NULL;
	/* A short file still shows its first bytes to the probes (a small
	 * VMDK descriptor file must be refused as one, not read as raw). */
	r = bw_disk_read_file(d, head, d->file_size < 512 ? (size_t)d->file_size : 512,
			      0, "first sector", err);
	if (r)
		return r;
	if (d->file_size >= 512) {
		r = bw_disk_read_file(d, tail, 512, d->file_size - 512,
				      "last sector", err);
		if (r)
			return r;
		tailp = tail;
	}
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
		/* Raw claims anything: first make sure the file is no
		 * container we know but do not read. */
		if (drivers[i] == &bw_disk_raw_ops &&
		    (r = bw_disk_probe_foreign(d, tailp, err)) != 0)
			return r;
		if (drivers[i]->probe(head, tailp, d->file_size)) {
			d->ops = drivers[i];
			break;
		}
	}
	if (!d->ops)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path, "unknown disk format");
	return 0;
}

/* Open PATH with the driver FORCED, or by probing when FORCED is NULL. */
static int disk_open(const char *path, const struct bw_disk_ops *forced,
		     struct bw_disk **out, struct bw_error *err)
{
	*out = NULL;
	struct bw_disk *d = calloc(1, sizeof *d);
	if (!d)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	d->fd = -1;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	}
	int r;
	d->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0) {
		r = bw_seterr(err, BW_EIO, path, "cannot open: %s", strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(d->fd, &st) < 0) {
		r = bw_seterr(err, BW_EIO, path, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = bw_seterr(err, BW_EUNSUPPORTED, path,
			      "not a regular file or block device");
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(d->fd, 0, SEEK_END);
		if (end < 0) {
			r = bw_seterr(err, BW_EIO, path, "cannot size: %s",
				      strerror(errno));
			goto fail;
		}
		d->file_size = (uint64_t)end;
	} else {
		d->file_size = (uint64_t)st.st_size;
	}

	d->ops = forced;
	if (!d->ops && (r = disk_probe(d, err)) != 0)
		goto fail;
	r = d->ops->open(d, err);
	if (r)
		goto fail;
	*out = d;
	return 0;
fail:
	if (d->ops && d->ops->close && d->priv)
		d->ops->close(d);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
	return r;
}

int bw_disk_open(const char *path, struct bw_disk **out, struct bw_error *err)
{
	return disk_open(path, NULL, out, err);
}

int bw_disk_open_as(const char *path, const char *format, struct bw_disk **out,
		    struct bw_error *err)
{
	*out = NULL;
	if (!format)
		return disk_open(path, NULL, out, err);
	if (strcmp(format, "raw") == 0)
		return disk_open(path, &bw_disk_raw_ops, out, err);
	return bw_seterr(err, BW_EINVAL, path,
			 "cannot force the input format '%s' (only raw can be forced; the others are probed)",
			 format);
}

void bw_disk_close(struct bw_disk *d)
{
	if (!d)
		return;
	if (d->ops && d->ops->close)
		d->ops->close(d);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
}

const char *bw_disk_format(const struct bw_disk *d) { return d->format; }
const char *bw_disk_path(const struct bw_disk *d) { return d->path; }
uint64_t bw_disk_size(const struct bw_disk *d) { return d->size; }

int bw_disk_pread(struct bw_disk *d, void *buf, size_t len, uint64_t off,
		  struct bw_error *err)
{
	if (off > d->size || len > d->size - off)
		return bw_seterr(err, BW_EINVAL, d->path,
				 "read of %zu bytes at offset %llu is outside the virtual disk (size %llu)",
				 len, (unsigned long long)off,
				 (unsigned long long)d->size);
	if (len == 0)
		return 0;
	return d->ops->pread(d, buf, len, off, err);
}

int bw_disk_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
		      uint64_t *end, struct bw_error *err)
{
	if (off >= d->size)
		return 0;
	return d->ops->next_data(d, off, start, end, err);
}

struct bw_disk *bw_disk_parent(struct bw_disk *d)
{
	return d->ops->parent ? d->ops->parent(d) : NULL;
}

int bw_disk_get_info(struct bw_disk *d, struct bw_disk_info *info,
		     struct bw_error *err)
{
	memset(info, 0, sizeof *info);
	if (d->ops->info)
		d->ops->info(d, info);
	/* Sum the allocation map: the bytes a copy would have to read. */
	uint64_t off = 0, s, e, total = 0;
	int r;
	while ((r = bw_disk_next_data(d, off, &s, &e, err)) == 1) {
		total += e - s;
		off = e;
	}
	if (r < 0)
		return r;
	info->allocated = total;
	return 0;
}

/*
 * Raw images: the file is the disk.  The allocation map comes from
 * SEEK_DATA/SEEK_HOLE where the filesystem supports it, so sparse raw
 * files are copied without reading their holes.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "disk/disk_internal.h"

static int raw_probe(const uint8_t *head, const uint8_t *tail, uint64_t file_size)
{
	(void)head; (void)tail; (void)file_size;
	return 1;
}

static int raw_open(struct bw_disk *d, struct bw_error *err)
{
	(void)err;
	d->size = d->file_size;
	d->format = "raw";
	return 0;
}

static int raw_pread(struct bw_disk *d, uint8_t *buf, size_t len, uint64_t off,
		     struct bw_error *err)
{
	return bw_disk_read_file(d, buf, len, off, "data", err);
}

static int raw_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
			 uint64_t *end, struct bw_error *err)
{
	(void)err;
	off_t s = lseek(d->fd, (off_t)off, SEEK_DATA);
	if (s < 0) {
		if (errno == ENXIO)
			return 0;       /* only a hole remains */
		/* No SEEK_DATA here (or a block device): all may hold data. */
		*start = off;
		*end = d->size;
		return 1;
	}
	off_t e = lseek(d->fd, s, SEEK_HOLE);
	if (e < 0 || (uint64_t)e > d->size)
		e = (off_t)d->size;
	*start = (uint64_t)s;
	*end = (uint64_t)e;
	return 1;
}

const struct bw_disk_ops bw_disk_raw_ops = {
	.name = "raw",
	.probe = raw_probe,
	.open = raw_open,
	.pread = raw_pread,
	.next_data = raw_next_data,
};

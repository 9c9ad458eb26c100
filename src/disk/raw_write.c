/*
 * Raw output: the file is the disk.  Zero runs are left as holes (the
 * file is sized at the end), so a sparse input gives a sparse output.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "disk/writer_internal.h"

static int raw_w_open(struct bw_writer *w, struct bw_error *err)
{
	(void)w; (void)err;
	return 0;
}

static int raw_w_write(struct bw_writer *w, const uint8_t *buf, size_t len,
		       uint64_t off, struct bw_error *err)
{
	/* Holes at 4 KiB granularity, the usual filesystem block. */
	const size_t blk = 4096;
	size_t i = 0;
	while (i < len) {
		size_t n = len - i < blk ? len - i : blk;
		size_t j = i;
		while (j < len && bw_writer_all_zero(buf + j, len - j < blk ? len - j : blk))
			j += len - j < blk ? len - j : blk;
		if (j > i) {
			i = j;
			continue;
		}
		j = i + n;
		while (j < len && !bw_writer_all_zero(buf + j, len - j < blk ? len - j : blk))
			j += len - j < blk ? len - j : blk;
		int r = bw_writer_pwrite(w, buf + i, j - i, off + i, err);
		if (r)
			return r;
		w->bytes_out += j - i;
		i = j;
	}
	return 0;
}

static int raw_w_finish(struct bw_writer *w, struct bw_error *err)
{
	if (ftruncate(w->fd, (off_t)w->size) != 0)
		return bw_seterr(err, BW_EIO, w->path, "cannot size to %llu bytes: %s",
				 (unsigned long long)w->size, strerror(errno));
	return 0;
}

const struct bw_writer_ops bw_writer_raw_ops = {
	.name = "raw",
	.open = raw_w_open,
	.write = raw_w_write,
	.finish = raw_w_finish,
};

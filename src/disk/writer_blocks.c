/*
 * Block streams of the block-table writers (VHD dynamic and differencing,
 * VHDX dynamic and differencing): data arrives in increasing offset
 * order; the current block is buffered and decided when it is complete
 * or the writer moves past it.  The format's put callback stores a block
 * and records it in its table; how the table looks stays with the format.
 *
 * Plain (no parent): a block that only received zeros is not stored (it
 * reads as zero).
 *
 * Differencing (a new child over the input child's parent): each block,
 * once complete (bytes never written are zeros, as for every writer), is
 * compared with what the parent gives there and stored only when it
 * differs; the others stay unallocated and read from the parent.  Blocks
 * no write reached are checked too, where the parent's allocation map
 * says it may hold data.  The parent is only read.
 */
#include <stdlib.h>
#include <string.h>

#include "disk/writer_internal.h"

#define WB_NO_BLOCK UINT64_MAX

int bw_writer_all_zero(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 256 <= n; i += 256) {
		uint64_t acc = 0;
		for (size_t j = 0; j < 256; j += 8) {
			uint64_t x;
			memcpy(&x, p + i + j, 8);
			acc |= x;
		}
		if (acc)
			return 0;
	}
	for (; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int bw_wblocks_init(struct bw_writer *w, struct bw_wblocks *b, uint32_t block_size,
		    struct bw_disk *parent, bw_wblocks_put_fn put, struct bw_error *err)
{
	memset(b, 0, sizeof *b);
	b->block_size = block_size;
	b->nblocks = (w->size + block_size - 1) / block_size;
	b->cur = WB_NO_BLOCK;
	b->parent = parent;
	b->put = put;
	if (parent && bw_disk_size(parent) != w->size)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "the parent %s has virtual size %llu, the child %llu",
				 bw_disk_path(parent),
				 (unsigned long long)bw_disk_size(parent),
				 (unsigned long long)w->size);
	b->block = calloc(1, block_size);
	if (b->block && parent)
		b->pblock = malloc(block_size);
	if (!b->block || (parent && !b->pblock))
		return bw_seterr(err, BW_ENOMEM, w->path,
				 "out of memory for %u-byte block buffers", block_size);
	return 0;
}

void bw_wblocks_free(struct bw_wblocks *b)
{
	free(b->block);
	free(b->pblock);
	b->block = b->pblock = NULL;
}

/*
 * Differencing: store block BLK holding DATA (zeros past the virtual
 * size) only if the parent gives other bytes there.
 */
static int wb_diff_put(struct bw_writer *w, struct bw_wblocks *b, uint64_t blk,
		       const uint8_t *data, struct bw_error *err)
{
	uint64_t off = blk * b->block_size;
	size_t n = w->size - off < b->block_size ? (size_t)(w->size - off) : b->block_size;
	int r = bw_disk_pread(b->parent, b->pblock, n, off, err);
	if (r == 0 && memcmp(data, b->pblock, n) != 0)
		r = b->put(w, blk, data, err);
	b->decided = blk + 1;
	return r;
}

/*
 * Differencing: blocks [decided, END) got no write, so they hold zeros:
 * a block where the parent may have data (its allocation map) is read
 * and compared like any other.  b->block is clean (zeros) here.
 */
static int wb_diff_gap(struct bw_writer *w, struct bw_wblocks *b, uint64_t end,
		       struct bw_error *err)
{
	while (b->decided < end) {
		uint64_t s, e;
		int r = bw_disk_next_data(b->parent, b->decided * b->block_size, &s, &e, err);
		if (r < 0)
			return r;
		uint64_t first = s / b->block_size;
		if (r == 0 || first >= end)
			break;
		uint64_t last = (e + b->block_size - 1) / b->block_size;
		if (last > end)
			last = end;
		for (uint64_t k = first > b->decided ? first : b->decided; k < last; k++)
			if ((r = wb_diff_put(w, b, k, b->block, err)) != 0)
				return r;
		b->decided = last;
	}
	b->decided = end;
	return 0;
}

/* Decide the buffered block: store it if it got data (differencing: if
 * it differs from the parent), then clean it. */
static int wb_flush(struct bw_writer *w, struct bw_wblocks *b, struct bw_error *err)
{
	if (b->cur == WB_NO_BLOCK)
		return 0;
	int r = 0;
	if (b->parent)
		r = wb_diff_put(w, b, b->cur, b->block, err);
	else if (b->dirty)
		r = b->put(w, b->cur, b->block, err);
	if (b->dirty) {
		memset(b->block, 0, b->block_size);
		b->dirty = 0;
	}
	b->cur = WB_NO_BLOCK;
	return r;
}

int bw_wblocks_write(struct bw_writer *w, struct bw_wblocks *b, const uint8_t *buf,
		     size_t len, uint64_t off, struct bw_error *err)
{
	while (len > 0) {
		uint64_t blk = off / b->block_size;
		uint32_t in = (uint32_t)(off % b->block_size);
		size_t n = b->block_size - in;
		if (n > len)
			n = len;
		int r;
		if (blk != b->cur && ((r = wb_flush(w, b, err)) != 0 ||
				      (b->parent && (r = wb_diff_gap(w, b, blk, err)) != 0)))
			return r;
		if (n == b->block_size) {
			/* A whole block in one piece: no copy needed. */
			if (b->parent)
				r = wb_diff_put(w, b, blk, buf, err);
			else if (!bw_writer_all_zero(buf, n))
				r = b->put(w, blk, buf, err);
			if (r)
				return r;
		} else {
			b->cur = blk;
			if (!bw_writer_all_zero(buf, n)) {
				memcpy(b->block + in, buf, n);
				b->dirty = 1;
			}
			if (in + n == b->block_size && (r = wb_flush(w, b, err)) != 0)
				return r;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int bw_wblocks_finish(struct bw_writer *w, struct bw_wblocks *b, struct bw_error *err)
{
	int r = wb_flush(w, b, err);
	if (r == 0 && b->parent)
		r = wb_diff_gap(w, b, b->nblocks, err);
	return r;
}

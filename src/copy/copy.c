/*
 * bw_copy: the allocation map, split at NTFS regions; inside a region only
 * runs of used clusters (from $Bitmap) are read.  A replaced region comes
 * from its replacement, or, merged with NTFS, its used clusters from the
 * replacement and its free ones from the input.  Reads are at most
 * COPY_CHUNK bytes, so memory stays bounded whatever the disk size.
 */
#include <stdlib.h>
#include <string.h>

#include "boxwright/copy.h"

#define COPY_CHUNK (4u << 20)

struct copy {
	struct bw_disk *in;
	struct bw_writer *out;
	const struct bw_copy_opts *o;
	struct bw_copy_stats *st;
	uint8_t *buf;
	uint64_t done, total;
	uint64_t shift;         /* out_offset */
};

static int copy_check_stop(struct copy *c, struct bw_error *err)
{
	if (c->o && c->o->stop && *c->o->stop)
		return bw_seterr(err, BW_EINTERRUPTED, bw_disk_path(c->in), "interrupted");
	return 0;
}

static void copy_progress(struct copy *c, uint64_t n)
{
	c->done += n;
	if (c->o && c->o->progress)
		c->o->progress(c->o->opaque, c->done, c->total);
}

/* Count N bytes as skipped (zeros, not read) and done. */
static void copy_skip(struct copy *c, uint64_t n)
{
	c->st->skipped += n;
	copy_progress(c, n);
}

/* Read [off, off+len) of SRC and write it at BASE + off, in chunks. */
static int copy_run(struct copy *c, struct bw_disk *src, uint64_t base, uint64_t off,
		    uint64_t len, struct bw_error *err)
{
	while (len > 0) {
		int r = copy_check_stop(c, err);
		if (r)
			return r;
		size_t n = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
		r = bw_disk_pread(src, c->buf, n, off, err);
		if (r == 0)
			r = bw_writer_write(c->out, c->buf, n, base + off + c->shift, err);
		if (r)
			return r;
		c->st->read += n;
		copy_progress(c, n);
		off += n;
		len -= n;
	}
	return 0;
}

/* Read [off, off+len) of the input and write it, in chunks. */
static int copy_plain(struct copy *c, uint64_t off, uint64_t len, struct bw_error *err)
{
	return copy_run(c, c->in, 0, off, len, err);
}

/* SRC's map within [a, b) (SRC's offsets), written at BASE + offset:
 * what SRC does not map (unallocated, a hole) is zeros, not read. */
static int copy_map(struct copy *c, struct bw_disk *src, uint64_t base, uint64_t a, uint64_t b,
		    struct bw_error *err)
{
	uint64_t s, e;
	int r = 0;
	while (a < b && (r = bw_disk_next_data(src, a, &s, &e, err)) == 1 && s < b) {
		if (e > b)
			e = b;
		copy_skip(c, s - a);
		if ((r = copy_run(c, src, base, s, e - s, err)) != 0)
			return r;
		a = e;
	}
	if (r < 0)
		return r;
	if (a < b)
		copy_skip(c, b - a);
	return 0;
}

/* The run of clusters in one state (USED: 1 used, 0 free) that starts at
 * byte OFF of the volume at VOL_OFF, up to STOP: its end, capped at STOP.
 * Whole bytes of the bitmap are skipped when they are uniform. */
static uint64_t cluster_run(uint64_t vol_off, const uint8_t *bm, uint64_t cs, uint64_t off,
			    uint64_t stop, int *used)
{
	uint64_t lcn = (off - vol_off) / cs;
	int u = (bm[lcn / 8] >> (lcn % 8)) & 1;
	uint64_t l = lcn + 1, lend = (stop - vol_off + cs - 1) / cs;
	while (l < lend) {
		if (l % 8 == 0 && l + 8 <= lend && bm[l / 8] == (u ? 0xFF : 0x00)) {
			l += 8;
			continue;
		}
		if (((bm[l / 8] >> (l % 8)) & 1) != u)
			break;
		l++;
	}
	*used = u;
	uint64_t run_end = vol_off + l * cs;
	return run_end > stop ? stop : run_end;
}

/* How a piece [off, end) of a region is copied. */
typedef int (*copy_piece_fn)(struct copy *c, const struct bw_copy_region *reg,
			     uint64_t off, uint64_t end, struct bw_error *err);

/*
 * [off, end) of NTFS region REG, by runs of clusters in one state: runs
 * the volume uses, and the bytes past its last cluster, through USED;
 * free runs through FREE.
 */
static int copy_clusters(struct copy *c, const struct bw_copy_region *reg, uint64_t off,
			 uint64_t end, copy_piece_fn used_fn, copy_piece_fn free_fn,
			 struct bw_error *err)
{
	const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(reg->ntfs);
	size_t nbytes;
	const uint8_t *bm = bw_ntfs_bitmap(reg->ntfs, &nbytes);
	const uint64_t cs = g->cluster_size;
	const uint64_t vol_end = reg->offset + g->total_clusters * cs;
	int r = 0;
	while (off < end && r == 0) {
		if (off >= vol_end)
			return used_fn(c, reg, off, end, err);
		uint64_t stop = end < vol_end ? end : vol_end;
		int used;
		uint64_t run_end = cluster_run(reg->offset, bm, cs, off, stop, &used);
		r = used ? used_fn(c, reg, off, run_end, err) : free_fn(c, reg, off, run_end, err);
		off = run_end;
	}
	return r;
}

/* The input's bytes, read. */
static int piece_input(struct copy *c, const struct bw_copy_region *reg, uint64_t off,
		       uint64_t end, struct bw_error *err)
{
	(void)reg;
	return copy_plain(c, off, end - off, err);
}

/* Free clusters of the input: skipped, not read. */
static int piece_skip(struct copy *c, const struct bw_copy_region *reg, uint64_t off,
		      uint64_t end, struct bw_error *err)
{
	(void)reg;
	copy_skip(c, end - off);
	return copy_check_stop(c, err);
}

/* The input's map (free clusters of a merged region: as they are). */
static int piece_input_map(struct copy *c, const struct bw_copy_region *reg, uint64_t off,
			   uint64_t end, struct bw_error *err)
{
	(void)reg;
	return copy_map(c, c->in, 0, off, end, err);
}

/* [off, end) of region REG from its replacement disk, holes skipped. */
static int copy_replaced(struct copy *c, const struct bw_copy_region *reg,
			 uint64_t off, uint64_t end, struct bw_error *err)
{
	return copy_map(c, reg->replace, reg->offset, off - reg->offset, end - reg->offset, err);
}

/* [off, end) inside NTFS region REG: used clusters read, free ones skipped. */
static int copy_region(struct copy *c, const struct bw_copy_region *reg,
		       uint64_t off, uint64_t end, struct bw_error *err)
{
	return copy_clusters(c, reg, off, end, piece_input, piece_skip, err);
}

/*
 * [off, end) of region REG that has both a replacement and NTFS: runs of
 * clusters the (edited) volume uses from the replacement, free runs from
 * the input's map, the bytes past the last cluster from the replacement.
 */
static int copy_merged(struct copy *c, const struct bw_copy_region *reg,
		       uint64_t off, uint64_t end, struct bw_error *err)
{
	return copy_clusters(c, reg, off, end, copy_replaced, piece_input_map, err);
}

/* Sum the input's map within [a, b) into c->total. */
static int count_mapped(struct copy *c, uint64_t a, uint64_t b, struct bw_error *err)
{
	uint64_t s, e;
	int r = 0;
	while (a < b && (r = bw_disk_next_data(c->in, a, &s, &e, err)) == 1 && s < b) {
		c->total += (e < b ? e : b) - s;
		a = e;
	}
	return r < 0 ? r : 0;
}

/* Copy the input's map within [a, b), split at NTFS regions. */
static int copy_mapped(struct copy *c, uint64_t a, uint64_t b, struct bw_error *err)
{
	const struct bw_copy_opts *o = c->o;
	size_t nreg = o ? o->nregions : 0;
	uint64_t s, e;
	int r = 0;
	while (a < b && (r = bw_disk_next_data(c->in, a, &s, &e, err)) == 1 && s < b) {
		if (e > b)
			e = b;
		uint64_t p = s;
		r = 0;
		while (p < e && r == 0) {
			/* The NTFS region holding p, or where the next begins
			 * (replaced regions never reach here). */
			const struct bw_copy_region *reg = NULL;
			uint64_t piece_end = e;
			for (size_t i = 0; i < nreg; i++) {
				const struct bw_copy_region *q = &o->regions[i];
				if (!q->ntfs || q->replace)
					continue;
				if (p >= q->offset && p < q->offset + q->size) {
					reg = q;
					if (q->offset + q->size < piece_end)
						piece_end = q->offset + q->size;
					break;
				}
				if (q->offset > p && q->offset < piece_end)
					piece_end = q->offset;
			}
			r = reg ? copy_region(c, reg, p, piece_end, err)
				: copy_plain(c, p, piece_end - p, err);
			p = piece_end;
		}
		if (r)
			return r;
		a = e;
	}
	return r < 0 ? r : 0;
}

int bw_copy(struct bw_disk *in, struct bw_writer *out,
	    const struct bw_copy_opts *o, struct bw_copy_stats *st,
	    struct bw_error *err)
{
	struct bw_copy_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	size_t nreg = o ? o->nregions : 0;
	if (nreg > BW_COPY_MAX_REGIONS)
		return bw_seterr(err, BW_EINVAL, bw_disk_path(in), "too many regions");
	for (size_t i = 0; i < nreg; i++) {
		const struct bw_copy_region *reg = &o->regions[i];
		int bad = reg->offset > bw_disk_size(in) ||
			  reg->size > bw_disk_size(in) - reg->offset ||
			  (i > 0 && reg->offset < o->regions[i - 1].offset + o->regions[i - 1].size) ||
			  (!reg->ntfs && !reg->replace);
		if (!bad && reg->replace)
			bad = bw_disk_size(reg->replace) != reg->size;
		if (!bad && reg->ntfs) {
			const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(reg->ntfs);
			size_t nbytes;
			bw_ntfs_bitmap(reg->ntfs, &nbytes);
			bad = g->total_clusters > (uint64_t)nbytes * 8 ||
			      g->total_clusters > reg->size / g->cluster_size;
		}
		if (bad)
			return bw_seterr(err, BW_EINVAL, bw_disk_path(in),
					 "copy region %zu (offset %llu, %llu bytes) does not fit the disk or its volume",
					 i, (unsigned long long)reg->offset,
					 (unsigned long long)reg->size);
	}
	uint64_t size = bw_disk_size(in), pos = o ? o->range_start : 0;
	if (o && o->range_end)
		size = o->range_end;
	if (size > bw_disk_size(in) || pos > size)
		return bw_seterr(err, BW_EINVAL, bw_disk_path(in),
				 "copy range %llu-%llu is outside the disk (%llu bytes)",
				 (unsigned long long)pos, (unsigned long long)size,
				 (unsigned long long)bw_disk_size(in));
	uint64_t range_start = pos;
	struct copy c = { .in = in, .out = out, .o = o, .st = st,
			  .shift = o ? o->out_offset : 0 };
	c.buf = malloc(COPY_CHUNK);
	if (!c.buf)
		return bw_seterr(err, BW_ENOMEM, bw_disk_path(in), "out of memory");
	/* The input's map outside replaced regions, plus each replaced region
	 * whole: its replacement may hold data where the input had none
	 * (a file written into once-free clusters). */
	int r = 0;
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		pos = range_start;
		while (pos < size && r == 0) {
			const struct bw_copy_region *rep = NULL;
			for (size_t i = 0; i < nreg && !rep; i++)
				if (o->regions[i].replace &&
				    o->regions[i].offset + o->regions[i].size > pos)
					rep = &o->regions[i];
			uint64_t limit = rep ? (rep->offset > pos ? rep->offset : pos) : size;
			r = pass ? copy_mapped(&c, pos, limit, err)
				 : count_mapped(&c, pos, limit, err);
			if (r == 0 && rep) {
				if (pass && rep->ntfs)
					r = copy_merged(&c, rep, limit, rep->offset + rep->size, err);
				else if (pass)
					r = copy_replaced(&c, rep, limit, rep->offset + rep->size, err);
				else
					c.total += rep->offset + rep->size - limit;
				pos = rep->offset + rep->size;
			} else {
				pos = size;
			}
		}
		if (pass == 0)
			st->mapped = c.total;
	}
	free(c.buf);
	return r < 0 ? r : 0;
}

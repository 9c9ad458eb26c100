/*
 * VMDK streamOptimized writer (bw_writer_vmdk_ops).
 *
 * Sources: VMware "Virtual Disk Format 5.0" (SparseExtentHeader, the
 * stream-optimized compressed sparse extent and its markers) and
 * VirtualBox's reader and writer (src/VBox/Storage/VMDK.cpp:
 * vmdkStreamReadSequential, vmdkStreamAllocGrain, vmdkStreamFlushGT,
 * vmdkFreeImage, vmdkCreateStreamImage), summed up in FORMATS.md.  qemu's
 * streamOptimized output is not followed: it writes no GT/GD/footer/EOS
 * markers.
 *
 * File layout, in sectors of 512 bytes:
 *   0                 header, gdOffset = GD_AT_END
 *   1 .. 20           embedded descriptor, zero padded
 *   21 .. 127         zeros: overHead (1 + 20) is rounded up to a grain,
 *                     as VirtualBox's vmdkCreateGrainDirectory does for
 *                     streamOptimized; the first grain marker is at
 *                     overHead, where sequential readers (VirtualBox's
 *                     uGrainSectorAbs) start
 *   128 ..            grains in strictly increasing LBA: marker {LBA LE64,
 *                     size LE32} + zlib stream, padded to a sector; after
 *                     the last grain of each 512-grain span that had one, a
 *                     GT marker sector (value 4, type 1) and the 4-sector GT
 *   then              GD marker (value = GD sectors, type 2) + the GD,
 *                     footer marker (value 1, type 3) + the header again
 *                     with the real gdOffset, EOS marker (all zero)
 *
 * All-zero grains are omitted (GT entry 0).  The last grain of a disk that
 * is not a grain multiple is zero-padded to a full grain before
 * compression: VirtualBox inflates every grain to a full grain and refuses
 * a short one.  Every grain's deflate data is at most the stored size of a
 * grain (65552 bytes), below VirtualBox's 66036-byte limit
 * (VMDK_VBOX_MAX_GRAIN_DATA).
 *
 * Grains are compressed on all cores by the ordered pipeline of workers.h;
 * the grains, tables and markers are written on the caller's thread in
 * order, so the output is the same for any number of threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "disk/deflate.h"
#include "disk/vmdk_format.h"
#include "disk/vmdk_write_common.h"
#include "disk/workers.h"
#include "disk/writer_internal.h"

#define VMDK_W_VERSION          3       /* what VMware and VirtualBox write for streamOptimized */
#define VMDK_W_GRAIN_SECTORS    VMDK_DEFAULT_GRAIN_SECTORS
#define VMDK_W_GRAIN_BYTES      (VMDK_W_GRAIN_SECTORS * VMDK_SECTOR)
#define VMDK_W_GT_BYTES         (VMDK_GTES_PER_GT * 4u)
#define VMDK_W_GT_SECTORS       (VMDK_W_GT_BYTES / VMDK_SECTOR)          /* 4 */
#define VMDK_W_SPAN_SECTORS     ((uint64_t)VMDK_GTES_PER_GT * VMDK_W_GRAIN_SECTORS)
#define VMDK_W_DESC_SECTORS     BW_VMDK_W_DESC_SECTORS
/* 1 + 20 rounded up to a grain: 128 sectors. */
#define VMDK_W_OVERHEAD_SECTORS \
	((1u + VMDK_W_DESC_SECTORS + VMDK_W_GRAIN_SECTORS - 1) / VMDK_W_GRAIN_SECTORS * VMDK_W_GRAIN_SECTORS)
/* A grain on disk: marker + the largest stream we emit, sector-padded
 * (66048 bytes, the size of VirtualBox's read buffer). */
#define VMDK_W_GRAIN_MAX_DATA   BW_DEFLATE_STORED_SIZE(VMDK_W_GRAIN_BYTES)
#define VMDK_W_OUT_BYTES \
	((VMDK_GRAIN_MARKER_LEN + VMDK_W_GRAIN_MAX_DATA + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR)
/* Grains in flight per worker: enough to keep every worker busy while the
 * producer writes.  Memory: queue x (64 KiB + 66048 bytes) = 514 KiB per
 * worker, plus its compressor (workers.h). */
#define VMDK_W_QUEUE_PER_THREAD 4u
#define VMDK_W_MAX_THREADS      256
#define VMDK_W_DEFAULT_LEVEL    6

_Static_assert(VMDK_W_GRAIN_MAX_DATA <= VMDK_VBOX_MAX_GRAIN_DATA,
	       "a stored grain must fit VirtualBox's grain buffer");
_Static_assert(VMDK_W_OVERHEAD_SECTORS == 128, "overHead is one grain");
_Static_assert(VMDK_W_OUT_BYTES == 66048, "marker + stored grain, sector padded");

struct vmdk_w {
	struct bw_writer *w;
	struct bw_workers *pipe;
	uint8_t header[VMDK_HDR_SIZE];  /* leading header; the footer differs in gdOffset */
	uint64_t capacity;              /* sectors */
	uint32_t gd_entries;            /* grain tables the capacity needs */
	uint32_t *gd;                   /* sector of each GT, 0 = none (host order) */
	uint32_t gt[VMDK_GTES_PER_GT];  /* the open span's GT (host order) */
	uint64_t gt_span;               /* which span gt[] belongs to */
	int gt_used;                    /* gt[] holds at least one grain */
	uint64_t pos;                   /* next file offset, sector aligned */
	uint64_t last_lba;              /* of the last grain written */
	int any_grain;
};

/* ---- header ------------------------------------------------------------ */

static void vmdk_w_build_header(struct vmdk_w *v)
{
	/* No redundant GD in a stream: flag bit 1 is clear, so spec 5.0 says
	 * rgdOffset is ignored; 0 as VMware and VirtualBox write it. */
	struct bw_vmdk_w_header h = {
		.version = VMDK_W_VERSION,
		.flags = VMDK_FLAG_VALID_NEWLINE | VMDK_FLAG_COMPRESSED | VMDK_FLAG_MARKERS,
		.capacity = v->capacity,
		.rgd_offset = 0,
		.gd_offset = VMDK_GD_AT_END,
		.overhead = VMDK_W_OVERHEAD_SECTORS,
		.compress = VMDK_COMPRESS_DEFLATE,
	};
	bw_vmdk_w_header(v->header, &h);
}

/* ---- output ----------------------------------------------------------- */

static int vmdk_w_append(struct vmdk_w *v, const void *buf, size_t len, struct bw_error *err)
{
	int r = bw_writer_pwrite(v->w, buf, len, v->pos, err);
	if (r)
		return r;
	v->pos += len;
	v->w->bytes_out = v->pos;
	return 0;
}

/* The file sector at which the next append lands, as a 32-bit table entry. */
static int vmdk_w_sector32(struct vmdk_w *v, uint64_t extra_sectors, uint32_t *out,
			   struct bw_error *err)
{
	uint64_t s = v->pos / VMDK_SECTOR + extra_sectors;
	if (s >= BW_VMDK_W_MAX_SECTORS)
		return bw_seterr(err, BW_EUNSUPPORTED, v->w->path,
				 "output passes 2 TiB (sector %llu): VMDK grain tables hold 32-bit offsets",
				 (unsigned long long)s);
	*out = (uint32_t)s;
	return 0;
}

static void vmdk_w_marker(uint8_t sector[VMDK_SECTOR], uint64_t value, uint32_t type)
{
	memset(sector, 0, VMDK_SECTOR);
	bw_put_le64(sector + VMDK_MARKER_VALUE, value);
	bw_put_le32(sector + VMDK_MARKER_SIZE, 0);
	bw_put_le32(sector + VMDK_MARKER_TYPE, type);
}

/* GT marker + the open span's grain table; records it in the GD. */
static int vmdk_w_flush_gt(struct vmdk_w *v, struct bw_error *err)
{
	uint8_t buf[VMDK_SECTOR + VMDK_W_GT_BYTES];
	uint32_t gt_sector = 0;
	int r = vmdk_w_sector32(v, 1, &gt_sector, err);
	if (r)
		return r;
	if (v->gt_span >= v->gd_entries)
		return bw_seterr(err, BW_EINVAL, v->w->path,
				 "internal error: grain table %llu past the directory's %u",
				 (unsigned long long)v->gt_span, v->gd_entries);
	vmdk_w_marker(buf, VMDK_W_GT_SECTORS, VMDK_MARKER_GT);
	for (unsigned i = 0; i < VMDK_GTES_PER_GT; i++)
		bw_put_le32(buf + VMDK_SECTOR + 4 * i, v->gt[i]);
	r = vmdk_w_append(v, buf, sizeof buf, err);
	if (r)
		return r;
	v->gd[v->gt_span] = gt_sector;
	memset(v->gt, 0, sizeof v->gt);
	v->gt_used = 0;
	return 0;
}

/* The pipeline's sink: one compressed grain (KEY: its index), in order. */
static int vmdk_w_sink(void *ctx, uint64_t key, uint8_t *out, size_t zlen,
		       struct bw_error *err)
{
	struct vmdk_w *v = ctx;
	uint64_t lba = key * VMDK_W_GRAIN_SECTORS;
	if ((v->any_grain && lba <= v->last_lba) || zlen == 0 ||
	    zlen > VMDK_W_GRAIN_MAX_DATA)
		return bw_seterr(err, BW_EINVAL, v->w->path,
				 "internal error: grain at LBA %llu out of order or of size %zu",
				 (unsigned long long)lba, zlen);
	uint64_t grain = key;
	uint64_t span = grain / VMDK_GTES_PER_GT;
	int r;
	if (v->gt_used && span != v->gt_span && (r = vmdk_w_flush_gt(v, err)) != 0)
		return r;
	uint32_t sector = 0;
	if ((r = vmdk_w_sector32(v, 0, &sector, err)) != 0)
		return r;
	v->gt_span = span;
	v->gt_used = 1;
	v->gt[grain % VMDK_GTES_PER_GT] = sector;

	bw_put_le64(out + VMDK_MARKER_VALUE, lba);
	bw_put_le32(out + VMDK_MARKER_SIZE, (uint32_t)zlen);
	size_t used = VMDK_GRAIN_MARKER_LEN + zlen;
	size_t total = (used + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
	memset(out + used, 0, total - used);
	if ((r = vmdk_w_append(v, out, total, err)) != 0)
		return r;
	v->last_lba = lba;
	v->any_grain = 1;
	return 0;
}

static int vmdk_w_write(struct bw_writer *w, const uint8_t *buf, size_t len,
			uint64_t off, struct bw_error *err)
{
	struct vmdk_w *v = w->priv;
	return bw_workers_write(v->pipe, buf, len, off, err);
}

/* ---- open / finish / free ----------------------------------------------- */

static void vmdk_w_free(struct bw_writer *w)
{
	struct vmdk_w *v = w->priv;
	if (!v)
		return;
	bw_workers_free(v->pipe);
	free(v->gd);
	free(v);
	w->priv = NULL;
}

static int vmdk_w_open(struct bw_writer *w, struct bw_error *err)
{
	const struct bw_writer_opts *o = &w->opts;
	const struct bw_vmdk_w_adapter *ad;
	int r = bw_vmdk_w_adapter(w, &ad, err);
	if (r)
		return r;
	if (o->threads < 0 || o->threads > VMDK_W_MAX_THREADS)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "%d compression threads (expected 0..%d)", o->threads,
				 VMDK_W_MAX_THREADS);
	long threads = o->threads;
	if (threads == 0) {
		threads = sysconf(_SC_NPROCESSORS_ONLN);
		if (threads < 1)
			threads = 1;
		if (threads > VMDK_W_MAX_THREADS)
			threads = VMDK_W_MAX_THREADS;
	}
	uint64_t capacity;
	if ((r = bw_vmdk_w_capacity(w, &capacity, err)) != 0)
		return r;

	struct vmdk_w *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	w->priv = v;
	v->w = w;
	v->capacity = capacity;
	v->gd_entries = (uint32_t)((capacity + VMDK_W_SPAN_SECTORS - 1) / VMDK_W_SPAN_SECTORS);
	v->gd = calloc(v->gd_entries ? v->gd_entries : 1, sizeof *v->gd);
	uint8_t *lead = calloc(VMDK_W_OVERHEAD_SECTORS, VMDK_SECTOR);
	if (!v->gd || !lead) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
		goto out;
	}

	struct bw_workers_cfg cfg = {
		.threads = (unsigned)threads,
		.queue = (unsigned)threads * VMDK_W_QUEUE_PER_THREAD,
		.level = o->compress_level ? o->compress_level : VMDK_W_DEFAULT_LEVEL,
		.in_bytes = VMDK_W_GRAIN_BYTES,
		.headroom = VMDK_GRAIN_MARKER_LEN,
		.out_bytes = VMDK_W_OUT_BYTES,
		/* Keep deflate's result only when it beats the stored form:
		 * never larger than a stored grain, so always VirtualBox-safe. */
		.limit = VMDK_W_GRAIN_MAX_DATA,
		.sink = vmdk_w_sink,
		.sink_ctx = v,
		.path = w->path,
	};
	if ((r = bw_workers_new(&cfg, &v->pipe, err)) != 0)
		goto out;

	/* Header, descriptor and the zeros up to overHead, in one write. */
	vmdk_w_build_header(v);
	memcpy(lead, v->header, VMDK_HDR_SIZE);
	if ((r = bw_vmdk_w_descriptor(w, "streamOptimized", ad, v->capacity, lead + VMDK_SECTOR,
				      VMDK_W_DESC_SECTORS * VMDK_SECTOR, err)) != 0)
		goto out;
	r = vmdk_w_append(v, lead, VMDK_W_OVERHEAD_SECTORS * VMDK_SECTOR, err);
out:
	free(lead);
	if (r)
		vmdk_w_free(w);
	return r;
}

static int vmdk_w_finish(struct bw_writer *w, struct bw_error *err)
{
	struct vmdk_w *v = w->priv;
	int r;
	if ((r = bw_workers_finish(v->pipe, err)) != 0)
		return r;
	/* Release the threads and buffers now; the tail is small. */
	bw_workers_free(v->pipe);
	v->pipe = NULL;
	if (v->gt_used && (r = vmdk_w_flush_gt(v, err)) != 0)
		return r;

	/* GD marker + GD, footer marker + footer, EOS: one write. */
	size_t gd_sectors = ((size_t)v->gd_entries * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
	size_t tail_len = (1 + gd_sectors + 3) * VMDK_SECTOR;
	uint8_t *tail = calloc(1, tail_len);
	if (!tail)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	uint32_t gd_sector = 0;
	if ((r = vmdk_w_sector32(v, 1, &gd_sector, err)) != 0)
		goto out;
	uint8_t *p = tail;
	vmdk_w_marker(p, gd_sectors, VMDK_MARKER_GD);
	p += VMDK_SECTOR;
	for (uint32_t i = 0; i < v->gd_entries; i++)
		bw_put_le32(p + 4 * (size_t)i, v->gd[i]);
	p += gd_sectors * VMDK_SECTOR;
	vmdk_w_marker(p, 1, VMDK_MARKER_FOOTER);
	p += VMDK_SECTOR;
	memcpy(p, v->header, VMDK_HDR_SIZE);
	bw_put_le64(p + VMDK_HDR_GD_OFFSET, gd_sector);
	p += VMDK_SECTOR;
	vmdk_w_marker(p, 0, VMDK_MARKER_EOS);   /* all zero */
	r = vmdk_w_append(v, tail, tail_len, err);
out:
	free(tail);
	return r;
}

const struct bw_writer_ops bw_writer_vmdk_ops = {
	.name = "vmdk-stream",
	.open = vmdk_w_open,
	.write = vmdk_w_write,
	.finish = vmdk_w_finish,
	.free = vmdk_w_free,
};

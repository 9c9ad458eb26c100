/*
 * VMDK monolithicSparse writer (bw_writer_vmdk_sparse_ops): one hosted
 * sparse extent with its descriptor embedded, what VMware Workstation and
 * Fusion create and open as a growable single-file disk and what
 * `qemu-img convert -O vmdk` writes by default.
 *
 * Sources: VMware "Virtual Disk Format 1.1" ("Hosted Sparse Extents":
 * header, grain directory, grain tables, the redundant copies) and 5.0
 * (SparseExtentHeader); qemu block/vmdk.c vmdk_init_extent for the layout
 * real producers use.  Constants: vmdk_format.h; header and descriptor:
 * vmdk_write_common.c.
 *
 * File layout, in sectors of 512 bytes (as VMware and qemu lay it out):
 *   0                  header: version 1, flags valid-newline + redundant
 *                      GT, no compression, grain 128 sectors, 512 GTEs/GT
 *   1 .. 20            embedded descriptor, createType "monolithicSparse"
 *   21                 redundant grain directory (rgdOffset), n entries
 *   then               n redundant grain tables of 4 sectors each
 *   then               grain directory (gdOffset)
 *   then               n grain tables
 *   overHead ..        grains (uncompressed, 64 KiB each), in increasing
 *                      LBA order; overHead is the end of the tables
 *                      rounded up to a grain
 * Every grain table is preallocated and named by both directories, so
 * the directories are complete when open() writes them; each table is
 * written twice (primary and redundant, identical) when the writer leaves
 * its 512-grain span with data in it.  A span that never got data keeps
 * its table all zero (a hole in the file).  All-zero grains are not
 * allocated (GTE 0, reads as zeros); the last grain of a disk that is not
 * a grain multiple is zero-padded to a whole grain, so every grain the
 * tables name lies wholly inside the file.
 *
 * Memory: one grain buffer and one grain table; the directory is written
 * at open and not kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "disk/grains.h"
#include "disk/vmdk_format.h"
#include "disk/vmdk_write_common.h"
#include "disk/writer_internal.h"

#define VMDK_S_VERSION          1       /* VMware and qemu for monolithicSparse */
#define VMDK_S_GRAIN_SECTORS    VMDK_DEFAULT_GRAIN_SECTORS
#define VMDK_S_GRAIN_BYTES      (VMDK_S_GRAIN_SECTORS * VMDK_SECTOR)
#define VMDK_S_GT_BYTES         (VMDK_GTES_PER_GT * 4u)
#define VMDK_S_GT_SECTORS       (VMDK_S_GT_BYTES / VMDK_SECTOR)          /* 4 */
#define VMDK_S_SPAN_SECTORS     ((uint64_t)VMDK_GTES_PER_GT * VMDK_S_GRAIN_SECTORS)
#define VMDK_S_RGD_SECTOR       (1u + BW_VMDK_W_DESC_SECTORS)            /* 21 */

struct vmdk_sparse_w {
	struct bw_writer *w;
	uint64_t capacity;              /* sectors */
	uint32_t ngts;                  /* grain tables (directory entries) */
	uint64_t rgt_sector;            /* first redundant grain table */
	uint64_t gt_sector;             /* first grain table */
	uint64_t overhead;              /* sectors before the first grain */
	uint32_t gt[VMDK_GTES_PER_GT];  /* the open span's GT (host order) */
	uint64_t gt_span;               /* which span gt[] belongs to */
	int gt_used;                    /* gt[] holds at least one grain */
	uint64_t pos;                   /* file offset of the next grain */
	struct bw_grains grains;        /* write() chunks to grains; one buffer */
};

/* ---- output ----------------------------------------------------------- */

static int vmdk_s_pwrite(struct vmdk_sparse_w *v, const void *buf, size_t len,
			 uint64_t off, struct bw_error *err)
{
	int r = bw_writer_pwrite(v->w, buf, len, off, err);
	if (r == 0)
		v->w->bytes_out += len;
	return r;
}

/* The open span's table, at its primary and its redundant place. */
static int vmdk_s_flush_gt(struct vmdk_sparse_w *v, struct bw_error *err)
{
	if (v->gt_span >= v->ngts)
		return bw_seterr(err, BW_EINVAL, v->w->path,
				 "internal error: grain table %llu past the directory's %u",
				 (unsigned long long)v->gt_span, v->ngts);
	uint8_t buf[VMDK_S_GT_BYTES];
	for (unsigned i = 0; i < VMDK_GTES_PER_GT; i++)
		bw_put_le32(buf + 4 * i, v->gt[i]);
	uint64_t rel = v->gt_span * VMDK_S_GT_SECTORS * VMDK_SECTOR;
	int r = vmdk_s_pwrite(v, buf, sizeof buf, v->gt_sector * VMDK_SECTOR + rel, err);
	if (r == 0)
		r = vmdk_s_pwrite(v, buf, sizeof buf, v->rgt_sector * VMDK_SECTOR + rel, err);
	if (r)
		return r;
	memset(v->gt, 0, sizeof v->gt);
	v->gt_used = 0;
	return 0;
}

/* bw_grains' PUT: append COUNT whole grains from DATA as grains FIRST..
 * and enter them in the grain tables (a table is written out when the
 * span changes). */
static int vmdk_s_put_grains(void *ctx, const uint8_t *data, uint64_t first, size_t count,
			     struct bw_error *err)
{
	struct vmdk_sparse_w *v = ctx;
	uint64_t sector = v->pos / VMDK_SECTOR;
	uint64_t bytes = (uint64_t)count * VMDK_S_GRAIN_BYTES;
	if (sector + (uint64_t)count * VMDK_S_GRAIN_SECTORS > BW_VMDK_W_MAX_SECTORS)
		return bw_seterr(err, BW_EUNSUPPORTED, v->w->path,
				 "output passes 2 TiB (sector %llu): VMDK grain tables hold 32-bit offsets",
				 (unsigned long long)sector);
	int r = vmdk_s_pwrite(v, data, (size_t)bytes, v->pos, err);
	if (r)
		return r;
	for (size_t i = 0; i < count; i++) {
		uint64_t g = first + i;
		uint64_t span = g / VMDK_GTES_PER_GT;
		if (v->gt_used && span != v->gt_span && (r = vmdk_s_flush_gt(v, err)) != 0)
			return r;
		v->gt_span = span;
		v->gt_used = 1;
		v->gt[g % VMDK_GTES_PER_GT] = (uint32_t)(sector + i * VMDK_S_GRAIN_SECTORS);
	}
	v->pos += bytes;
	return 0;
}

static int vmdk_s_write(struct bw_writer *w, const uint8_t *buf, size_t len,
			uint64_t off, struct bw_error *err)
{
	struct vmdk_sparse_w *v = w->priv;
	return bw_grains_write(&v->grains, buf, len, off, err);
}

/* ---- open / finish / free --------------------------------------------- */

static void vmdk_s_free(struct bw_writer *w)
{
	struct vmdk_sparse_w *v = w->priv;
	if (!v)
		return;
	free(v->grains.grain);
	free(v);
	w->priv = NULL;
}

/* Header, descriptor and both grain directories; the tables are written
 * as their spans fill.  Returns 0, BW_EINVAL (adapter, CID, size),
 * BW_EIO or BW_ENOMEM. */
static int vmdk_s_open(struct bw_writer *w, struct bw_error *err)
{
	const struct bw_vmdk_w_adapter *ad;
	int r = bw_vmdk_w_adapter(w, &ad, err);
	if (r)
		return r;
	uint64_t capacity;
	if ((r = bw_vmdk_w_capacity(w, &capacity, err)) != 0)
		return r;

	struct vmdk_sparse_w *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	w->priv = v;
	v->w = w;
	v->capacity = capacity;
	/* capacity <= 2^32: at most 65536 tables, a 256 KiB directory. */
	v->ngts = (uint32_t)((capacity + VMDK_S_SPAN_SECTORS - 1) / VMDK_S_SPAN_SECTORS);
	uint64_t gd_sectors = ((uint64_t)v->ngts * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
	uint64_t gts_sectors = (uint64_t)v->ngts * VMDK_S_GT_SECTORS;
	v->rgt_sector = VMDK_S_RGD_SECTOR + gd_sectors;
	uint64_t gd_sector = v->rgt_sector + gts_sectors;
	v->gt_sector = gd_sector + gd_sectors;
	v->overhead = (v->gt_sector + gts_sectors + VMDK_S_GRAIN_SECTORS - 1) /
		      VMDK_S_GRAIN_SECTORS * VMDK_S_GRAIN_SECTORS;
	v->pos = v->overhead * VMDK_SECTOR;

	/* Header + descriptor + redundant GD in one buffer, then the GD. */
	size_t lead_len = (size_t)(VMDK_S_RGD_SECTOR + gd_sectors) * VMDK_SECTOR;
	size_t gd_len = (size_t)gd_sectors * VMDK_SECTOR;
	uint8_t *lead = calloc(1, lead_len);
	v->grains = (struct bw_grains){
		.size = VMDK_S_GRAIN_BYTES,
		/* uncompressed: runs of data grains go out from the caller's
		 * buffer without a copy */
		.ops = { .put = vmdk_s_put_grains, .direct = 1 },
		.ctx = v,
		.grain = malloc(VMDK_S_GRAIN_BYTES),
	};
	if (!lead || !v->grains.grain) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
		goto out;
	}
	struct bw_vmdk_w_header h = {
		.version = VMDK_S_VERSION,
		.flags = VMDK_FLAG_VALID_NEWLINE | VMDK_FLAG_REDUNDANT_GT,
		.capacity = capacity,
		.rgd_offset = VMDK_S_RGD_SECTOR,
		.gd_offset = gd_sector,
		.overhead = v->overhead,
		.compress = VMDK_COMPRESS_NONE,
	};
	bw_vmdk_w_header(lead, &h);
	if ((r = bw_vmdk_w_descriptor(w, "monolithicSparse", ad, capacity, lead + VMDK_SECTOR,
				      BW_VMDK_W_DESC_SECTORS * VMDK_SECTOR, err)) != 0)
		goto out;
	uint8_t *rgd = lead + VMDK_S_RGD_SECTOR * VMDK_SECTOR;
	for (uint32_t i = 0; i < v->ngts; i++)
		bw_put_le32(rgd + 4 * (size_t)i,
			    (uint32_t)(v->rgt_sector + (uint64_t)i * VMDK_S_GT_SECTORS));
	if ((r = vmdk_s_pwrite(v, lead, lead_len, 0, err)) != 0)
		goto out;
	/* The primary GD differs only in where its tables are. */
	for (uint32_t i = 0; i < v->ngts; i++)
		bw_put_le32(rgd + 4 * (size_t)i,
			    (uint32_t)(v->gt_sector + (uint64_t)i * VMDK_S_GT_SECTORS));
	r = vmdk_s_pwrite(v, rgd, gd_len, gd_sector * VMDK_SECTOR, err);
out:
	free(lead);
	if (r)
		vmdk_s_free(w);
	return r;
}

static int vmdk_s_finish(struct bw_writer *w, struct bw_error *err)
{
	struct vmdk_sparse_w *v = w->priv;
	int r;
	if ((r = bw_grains_flush(&v->grains, err)) != 0)
		return r;
	if (v->gt_used && (r = vmdk_s_flush_gt(v, err)) != 0)
		return r;
	/* Tables of spans without data, and everything up to overHead on a
	 * disk without data, were never written: the file must still hold
	 * them (as zeros) for readers' bounds checks. */
	if (ftruncate(w->fd, (off_t)v->pos) != 0)
		return bw_seterr(err, BW_EIO, w->path, "cannot size to %llu bytes: %s",
				 (unsigned long long)v->pos, strerror(errno));
	return 0;
}

const struct bw_writer_ops bw_writer_vmdk_sparse_ops = {
	.name = "vmdk-sparse",
	.open = vmdk_s_open,
	.write = vmdk_s_write,
	.finish = vmdk_s_finish,
	.free = vmdk_s_free,
};

/*
 * VHDX output (Microsoft [MS-VHDX] v20160714; offsets in vhdx_format.h):
 * dynamic images for Hyper-V boxes, written in one pass.
 *
 * Layout, every region 1 MiB aligned as Hyper-V lays them out:
 *   0        file identifier "vhdxfile", creator "boxwright"
 *   64 KiB   header 1 (sequence 0), 128 KiB header 2 (sequence 1): both
 *            valid, the second current; LogGuid zero (no log to replay)
 *   192 KiB  region table 1, 256 KiB region table 2 (identical): BAT and
 *            metadata, both marked required
 *   1 MiB    the log region, 1 MiB, never written (a hole): Hyper-V
 *            expects one to exist and uses it once it writes the disk
 *   2 MiB    the metadata region, 1 MiB: table, then File Parameters,
 *            Virtual Disk Size, Logical Sector Size (512), Physical Sector
 *            Size (4096, as Hyper-V makes them) and Page 83 Data (random)
 *   3 MiB    the BAT, padded to 1 MiB
 *   then     payload blocks of VHDXW_BLOCK_SIZE appended in write order
 *
 * Block size: 1 MiB, not Hyper-V's default 32 MiB.  A box ships this file
 * as it is (the hyperv box is a plain tar), and the writer only allocates
 * blocks that hold a non-zero byte: on NTFS volumes whose used clusters
 * are scattered, 1 MiB blocks leave far less zero padding in the file
 * than 32 MiB ones, and the block buffer stays at 1 MiB.  The spec allows
 * 1-256 MiB and Hyper-V reads any of them (Microsoft recommends 1 MiB for
 * Linux guests); the cost is a larger BAT (8 bytes per MiB) and more block
 * allocations when the guest first writes to new space.
 *
 * Streaming: data arrives in increasing offset order.  The current block
 * is buffered and decided when it is complete or the writer moves past
 * it; a block that only received zeros stays NOT_PRESENT (reads as zero).
 * The BAT is kept in memory and written, with everything before it, at
 * finish.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/derive.h"
#include "common/random.h"
#include "disk/vhdx_format.h"
#include "disk/writer_internal.h"

#define VHDXW_BLOCK_SIZE        VHDX_MIN_BLOCK_SIZE        /* 1 MiB, see above */
#define VHDXW_LOGICAL_SECTOR    512u
#define VHDXW_PHYSICAL_SECTOR   4096u
#define VHDXW_LOG_OFFSET        VHDX_MiB
#define VHDXW_LOG_LENGTH        VHDX_MiB
#define VHDXW_METADATA_OFFSET   (2 * VHDX_MiB)
#define VHDXW_METADATA_LENGTH   VHDX_MiB
#define VHDXW_BAT_OFFSET        (3 * VHDX_MiB)
/* Metadata items follow the 64 KiB table, each at its own 4 KiB slot. */
#define VHDXW_ITEM_SLOT         4096u
/* 2^23 * 512 / 1 MiB: payload blocks per sector bitmap entry. */
#define VHDXW_CHUNK_RATIO       (uint64_t)(VHDX_SECTORS_PER_BITMAP * VHDXW_LOGICAL_SECTOR / VHDXW_BLOCK_SIZE)
/* 2 TiB keeps the in-memory BAT at 16 MiB; far past any Windows box. */
#define VHDXW_MAX_SIZE          (UINT64_C(2) << 40)
#define VHDXW_CREATOR           "boxwright"

#define VHDXW_NO_BLOCK          UINT64_MAX

struct vhdx_w {
	uint64_t nblocks;
	uint64_t nentries;
	size_t bat_bytes;           /* padded to 1 MiB */
	uint8_t *bat;               /* little-endian entries, as written */
	uint8_t *block;             /* the buffered block, zero when clean */
	uint64_t cur;               /* its index, or VHDXW_NO_BLOCK */
	int dirty;                  /* it holds a non-zero byte */
	uint64_t next_pos;          /* file offset of the next block */
};

static uint64_t vhdxw_actual_size(const struct bw_writer_opts *o)
{
	/* The size must be a whole number of logical sectors. */
	return (o->size + VHDXW_LOGICAL_SECTOR - 1) / VHDXW_LOGICAL_SECTOR *
	       VHDXW_LOGICAL_SECTOR;
}

static int all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Set the CRC-32C at offset 4 of the LEN bytes at P (zero while summed). */
static void vhdxw_seal(uint8_t *p, size_t len)
{
	memset(p + 4, 0, 4);
	bw_put_le32(p + 4, bw_crc32c(0, p, len));
}

static void vhdxw_free(struct bw_writer *w)
{
	struct vhdx_w *vw = w->priv;
	if (vw) {
		free(vw->bat);
		free(vw->block);
	}
	free(vw);
	w->priv = NULL;
}

/* Returns 0, BW_EINVAL (a size past VHDXW_MAX_SIZE) or BW_ENOMEM. */
static int vhdxw_open(struct bw_writer *w, struct bw_error *err)
{
	if (w->size > VHDXW_MAX_SIZE)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "the VHDX writer makes disks of at most %llu bytes; %llu requested",
				 (unsigned long long)VHDXW_MAX_SIZE,
				 (unsigned long long)w->size);
	struct vhdx_w *vw = calloc(1, sizeof *vw);
	if (!vw)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	w->priv = vw;
	vw->cur = VHDXW_NO_BLOCK;
	/* Not differencing: a sector bitmap entry after every chunk, none
	 * after the last (2.5). */
	vw->nblocks = (w->size + VHDXW_BLOCK_SIZE - 1) / VHDXW_BLOCK_SIZE;
	vw->nentries = vw->nblocks + (vw->nblocks - 1) / VHDXW_CHUNK_RATIO;
	vw->bat_bytes = (size_t)((vw->nentries * 8 + VHDX_MiB - 1) & ~(VHDX_MiB - 1));
	vw->bat = calloc(1, vw->bat_bytes);     /* all NOT_PRESENT */
	vw->block = calloc(1, VHDXW_BLOCK_SIZE);
	if (!vw->bat || !vw->block)
		return bw_seterr(err, BW_ENOMEM, w->path,
				 "out of memory for a %zu-byte BAT and a block buffer",
				 vw->bat_bytes);
	vw->next_pos = VHDXW_BAT_OFFSET + vw->bat_bytes;
	return 0;
}

/* Append block BLK holding DATA at the end of the file. */
static int vhdxw_put_block(struct bw_writer *w, struct vhdx_w *vw, uint64_t blk,
			   const uint8_t *data, struct bw_error *err)
{
	int r = bw_writer_pwrite(w, data, VHDXW_BLOCK_SIZE, vw->next_pos, err);
	if (r)
		return r;
	uint64_t idx = blk + blk / VHDXW_CHUNK_RATIO;
	bw_put_le64(vw->bat + 8 * idx, VHDX_PAYLOAD_FULLY_PRESENT |
		    (vw->next_pos / VHDX_MiB) << VHDX_BAT_OFFSET_SHIFT);
	vw->next_pos += VHDXW_BLOCK_SIZE;
	w->bytes_out += VHDXW_BLOCK_SIZE;
	return 0;
}

/* Decide the buffered block: allocate it if it got data, then clean it. */
static int vhdxw_flush(struct bw_writer *w, struct vhdx_w *vw, struct bw_error *err)
{
	if (vw->cur == VHDXW_NO_BLOCK)
		return 0;
	int r = 0;
	if (vw->dirty) {
		r = vhdxw_put_block(w, vw, vw->cur, vw->block, err);
		memset(vw->block, 0, VHDXW_BLOCK_SIZE);
		vw->dirty = 0;
	}
	vw->cur = VHDXW_NO_BLOCK;
	return r;
}

static int vhdxw_write(struct bw_writer *w, const uint8_t *buf, size_t len,
		       uint64_t off, struct bw_error *err)
{
	struct vhdx_w *vw = w->priv;
	while (len > 0) {
		uint64_t blk = off / VHDXW_BLOCK_SIZE;
		uint32_t in = (uint32_t)(off % VHDXW_BLOCK_SIZE);
		size_t n = VHDXW_BLOCK_SIZE - in;
		if (n > len)
			n = len;
		int r;
		if (blk != vw->cur && (r = vhdxw_flush(w, vw, err)) != 0)
			return r;
		if (n == VHDXW_BLOCK_SIZE) {
			/* A whole block in one piece: no copy needed. */
			if (!all_zero(buf, n) && (r = vhdxw_put_block(w, vw, blk, buf, err)) != 0)
				return r;
		} else {
			vw->cur = blk;
			if (!all_zero(buf, n)) {
				memcpy(vw->block + in, buf, n);
				vw->dirty = 1;
			}
			if (in + n == VHDXW_BLOCK_SIZE && (r = vhdxw_flush(w, vw, err)) != 0)
				return r;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* A random (or, with fixed_identity, derived) GUID with the RFC 4122
 * version 4 bits, as Windows draws them
 * (Data3 is little-endian on disk: its high nibble is byte 7's). */
static int vhdxw_guid(struct bw_writer *w, const char *label, uint8_t g[16],
		      struct bw_error *err)
{
	if (w->opts.fixed_identity)
		bw_derive_bytes(w->opts.identity, label, g, 16);
	else if (bw_random_bytes(g, 16) != 0)
		return bw_seterr(err, BW_EIO, w->path,
				 "cannot get random bytes for a VHDX GUID: %s", strerror(errno));
	g[7] = (uint8_t)((g[7] & 0x0F) | 0x40);
	g[8] = (uint8_t)((g[8] & 0x3F) | 0x80);
	return 0;
}

/* The first 1 MiB: file identifier, two headers, two region tables.
 * HDR_AREA is zeroed, 320 KiB. */
static int vhdxw_header_area(struct bw_writer *w, uint8_t *area, size_t bat_bytes,
			     struct bw_error *err)
{
	uint8_t *fid = area + VHDX_FILE_ID_OFFSET;
	memcpy(fid + VHDX_FID_SIGNATURE, "vhdxfile", 8);
	for (size_t i = 0; i < sizeof VHDXW_CREATOR - 1; i++)
		bw_put_le16(fid + VHDX_FID_CREATOR + 2 * i, (uint16_t)VHDXW_CREATOR[i]);

	uint8_t *h1 = area + VHDX_HEADER1_OFFSET, *h2 = area + VHDX_HEADER2_OFFSET;
	memcpy(h1 + VHDX_HDR_SIGNATURE, "head", 4);
	int r;
	if ((r = vhdxw_guid(w, "vhdx-file-write-guid", h1 + VHDX_HDR_FILE_WRITE_GUID, err)) != 0 ||
	    (r = vhdxw_guid(w, "vhdx-data-write-guid", h1 + VHDX_HDR_DATA_WRITE_GUID, err)) != 0)
		return r;
	bw_put_le16(h1 + VHDX_HDR_LOG_VERSION, VHDX_LOG_VERSION);
	bw_put_le16(h1 + VHDX_HDR_VERSION, VHDX_VERSION);
	bw_put_le32(h1 + VHDX_HDR_LOG_LENGTH, (uint32_t)VHDXW_LOG_LENGTH);
	bw_put_le64(h1 + VHDX_HDR_LOG_OFFSET, VHDXW_LOG_OFFSET);
	memcpy(h2, h1, VHDX_HEADER_SIZE);
	bw_put_le64(h1 + VHDX_HDR_SEQUENCE, 0);
	bw_put_le64(h2 + VHDX_HDR_SEQUENCE, 1);
	vhdxw_seal(h1, VHDX_HEADER_SIZE);
	vhdxw_seal(h2, VHDX_HEADER_SIZE);

	static const uint8_t guid_bat[16] = VHDX_GUID_BAT;
	static const uint8_t guid_metadata[16] = VHDX_GUID_METADATA;
	uint8_t *t = area + VHDX_REGION1_OFFSET;
	memcpy(t + VHDX_RT_SIGNATURE, "regi", 4);
	bw_put_le32(t + VHDX_RT_ENTRY_COUNT, 2);
	uint8_t *e = t + VHDX_RT_ENTRIES;
	memcpy(e + VHDX_RTE_GUID, guid_bat, 16);
	bw_put_le64(e + VHDX_RTE_FILE_OFFSET, VHDXW_BAT_OFFSET);
	bw_put_le32(e + VHDX_RTE_LENGTH, (uint32_t)bat_bytes);
	bw_put_le32(e + VHDX_RTE_REQUIRED, 1);
	e += VHDX_RT_ENTRY_SIZE;
	memcpy(e + VHDX_RTE_GUID, guid_metadata, 16);
	bw_put_le64(e + VHDX_RTE_FILE_OFFSET, VHDXW_METADATA_OFFSET);
	bw_put_le32(e + VHDX_RTE_LENGTH, (uint32_t)VHDXW_METADATA_LENGTH);
	bw_put_le32(e + VHDX_RTE_REQUIRED, 1);
	vhdxw_seal(t, VHDX_REGION_SIZE);
	memcpy(area + VHDX_REGION2_OFFSET, t, VHDX_REGION_SIZE);
	return 0;
}

/* The metadata table and its five items into META (zeroed, 64 KiB + 5
 * slots). */
static int vhdxw_metadata(struct bw_writer *w, uint8_t *meta, struct bw_error *err)
{
	static const struct {
		uint8_t guid[16];
		uint32_t flags;
	} items[] = {
		{ VHDX_GUID_FILE_PARAMETERS, VHDX_MTE_IS_REQUIRED },
		{ VHDX_GUID_VIRTUAL_DISK_SIZE, VHDX_MTE_IS_VIRTUAL_DISK | VHDX_MTE_IS_REQUIRED },
		{ VHDX_GUID_LOGICAL_SECTOR, VHDX_MTE_IS_VIRTUAL_DISK | VHDX_MTE_IS_REQUIRED },
		{ VHDX_GUID_PHYSICAL_SECTOR, VHDX_MTE_IS_VIRTUAL_DISK | VHDX_MTE_IS_REQUIRED },
		{ VHDX_GUID_PAGE83, VHDX_MTE_IS_VIRTUAL_DISK | VHDX_MTE_IS_REQUIRED },
	};
	static const uint32_t lengths[] = { VHDX_FP_LEN, VHDX_SIZE_LEN, VHDX_SECTOR_SIZE_LEN,
					    VHDX_SECTOR_SIZE_LEN, VHDX_PAGE83_LEN };
	const size_t n = sizeof items / sizeof items[0];
	memcpy(meta + VHDX_MT_SIGNATURE, "metadata", 8);
	bw_put_le16(meta + VHDX_MT_ENTRY_COUNT, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = meta + VHDX_MT_ENTRIES + VHDX_MT_ENTRY_SIZE * i;
		uint32_t off = VHDX_MT_SIZE + VHDXW_ITEM_SLOT * (uint32_t)i;
		memcpy(e + VHDX_MTE_ITEM_ID, items[i].guid, 16);
		bw_put_le32(e + VHDX_MTE_OFFSET, off);
		bw_put_le32(e + VHDX_MTE_LENGTH, lengths[i]);
		bw_put_le32(e + VHDX_MTE_FLAGS, items[i].flags);
	}
	uint8_t *item = meta + VHDX_MT_SIZE;
	bw_put_le32(item + VHDX_FP_BLOCK_SIZE, VHDXW_BLOCK_SIZE);
	bw_put_le32(item + VHDX_FP_FLAGS, 0);          /* dynamic, no parent */
	item += VHDXW_ITEM_SLOT;
	bw_put_le64(item, w->size);
	item += VHDXW_ITEM_SLOT;
	bw_put_le32(item, VHDXW_LOGICAL_SECTOR);
	item += VHDXW_ITEM_SLOT;
	bw_put_le32(item, VHDXW_PHYSICAL_SECTOR);
	item += VHDXW_ITEM_SLOT;
	return vhdxw_guid(w, "vhdx-page83-data", item, err);
}

static int vhdxw_finish(struct bw_writer *w, struct bw_error *err)
{
	struct vhdx_w *vw = w->priv;
	int r;
	if ((r = vhdxw_flush(w, vw, err)) != 0)
		return r;
	const size_t area_len = VHDX_REGION2_OFFSET + VHDX_REGION_SIZE;
	const size_t meta_len = VHDX_MT_SIZE + 5 * VHDXW_ITEM_SLOT;
	uint8_t *area = calloc(1, area_len), *meta = calloc(1, meta_len);
	if (!area || !meta) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
		goto out;
	}
	if ((r = vhdxw_header_area(w, area, vw->bat_bytes, err)) != 0 ||
	    (r = vhdxw_metadata(w, meta, err)) != 0)
		goto out;
	/* Metadata and BAT first, the headers that point at them last. */
	if ((r = bw_writer_pwrite(w, meta, meta_len, VHDXW_METADATA_OFFSET, err)) != 0 ||
	    (r = bw_writer_pwrite(w, vw->bat, vw->bat_bytes, VHDXW_BAT_OFFSET, err)) != 0 ||
	    (r = bw_writer_pwrite(w, area, area_len, 0, err)) != 0)
		goto out;
	/* The BAT is written whole, padding included, so the file holds
	 * every region even when no block follows (an all-zero disk); the
	 * log region and the rest of the metadata region stay holes. */
	w->bytes_out += area_len + meta_len + vw->bat_bytes;
out:
	free(area);
	free(meta);
	return r;
}

const struct bw_writer_ops bw_writer_vhdx_ops = {
	.name = "vhdx",
	.open = vhdxw_open,
	.write = vhdxw_write,
	.finish = vhdxw_finish,
	.free = vhdxw_free,
	.actual_size = vhdxw_actual_size,
};

/*
 * VHDX output (Microsoft [MS-VHDX] v20160714; offsets in vhdx_format.h):
 * dynamic images for Hyper-V boxes and differencing ones for patch,
 * written in one pass.
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
 *            Size (4096, as Hyper-V makes them), Page 83 Data (random)
 *            and, differencing, the Parent Locator
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
 * it (writer_blocks.c); a block that only received zeros stays
 * NOT_PRESENT (reads as zero).  The BAT is kept in memory and written,
 * with everything before it, at finish.
 *
 * Differencing (BW_WRITE_VHDX_DIFF, a new child of the input child's
 * parent): the same layout with the input child's link kept -- its Parent
 * Locator item byte for byte (parent_linkage still names the parent's
 * DataWriteGuid, which we never change since the parent is only read),
 * its block size, sector sizes and Page 83 Data -- and HasParent set;
 * the child's FileWriteGuid and DataWriteGuid are new, as for any file
 * we write.  A block is written, FULLY_PRESENT, only when it differs from
 * what the parent gives there; the others stay NOT_PRESENT and read from
 * the parent.  Sector bitmaps: 2.5.1 consults a chunk's sector bitmap
 * block only for PARTIALLY_PRESENT payload blocks (FULLY_PRESENT reads
 * this file, NOT_PRESENT the parent), so with none of those the spec
 * would let every sector bitmap entry be SB_BLOCK_NOT_PRESENT.  But
 * libvhdi 20210425 consults the bitmap for a differencing image's
 * NOT_PRESENT blocks too, taking a missing bitmap block at file offset 0
 * (those blocks then read our headers: FORMATS-notes).
 * So every chunk gets a SB_BLOCK_PRESENT bitmap, appended after the
 * blocks, whose bits say what the states say: set for the sectors of the
 * fully present blocks, clear elsewhere.  A chunk without such a block
 * has an all-zero bitmap, left as a hole: it costs no disk space.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/derive.h"
#include "common/random.h"
#include "disk/vhdx_format.h"
#include "disk/writer_internal.h"

#define VHDXW_BLOCK_SIZE        VHDX_MIN_BLOCK_SIZE        /* 1 MiB, see above */
#define VHDXW_LOGICAL_SECTOR    512u
#define VHDXW_PHYSICAL_SECTOR   4096u
#define VHDXW_NITEMS            6       /* with the Parent Locator */
#define VHDXW_LOG_OFFSET        VHDX_MiB
#define VHDXW_LOG_LENGTH        VHDX_MiB
#define VHDXW_METADATA_OFFSET   (2 * VHDX_MiB)
#define VHDXW_METADATA_LENGTH   VHDX_MiB
#define VHDXW_BAT_OFFSET        (3 * VHDX_MiB)
/* Metadata items follow the 64 KiB table, each at its own 4 KiB slot. */
#define VHDXW_ITEM_SLOT         4096u
_Static_assert(VHDX_MT_SIZE + 5 * VHDXW_ITEM_SLOT + BW_VHDX_LOCATOR_MAX <= VHDXW_METADATA_LENGTH,
	       "the metadata table and items fit the metadata region");
/* 2 TiB keeps the in-memory BAT at 16 MiB; far past any Windows box. */
#define VHDXW_MAX_SIZE          (UINT64_C(2) << 40)
#define VHDXW_CREATOR           "boxwright"

struct vhdx_w {
	int diff;
	uint64_t nblocks;           /* payload blocks covering the size */
	uint32_t block_size;
	uint32_t logical_sector, physical_sector;
	uint64_t chunk_ratio;       /* payload blocks per sector bitmap entry */
	uint64_t nentries;
	size_t bat_bytes;           /* padded to 1 MiB */
	uint8_t *bat;               /* little-endian entries, as written */
	struct bw_wblocks blocks;
	uint64_t next_pos;          /* file offset of the next block */
};

static uint64_t vhdxw_actual_size(const struct bw_writer_opts *o)
{
	/* The size must be a whole number of logical sectors. */
	return (o->size + VHDXW_LOGICAL_SECTOR - 1) / VHDXW_LOGICAL_SECTOR *
	       VHDXW_LOGICAL_SECTOR;
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
		bw_wblocks_free(&vw->blocks);
	}
	free(vw);
	w->priv = NULL;
}

/* Append block BLK holding DATA at the end of the file, FULLY_PRESENT
 * (bw_wblocks_put_fn). */
static int vhdxw_put_block(struct bw_writer *w, uint64_t blk, const uint8_t *data,
			   struct bw_error *err)
{
	struct vhdx_w *vw = w->priv;
	int r = bw_writer_pwrite(w, data, vw->block_size, vw->next_pos, err);
	if (r)
		return r;
	uint64_t idx = blk + blk / vw->chunk_ratio;
	bw_put_le64(vw->bat + 8 * idx, VHDX_PAYLOAD_FULLY_PRESENT |
		    (vw->next_pos / VHDX_MiB) << VHDX_BAT_OFFSET_SHIFT);
	vw->next_pos += vw->block_size;
	w->bytes_out += vw->block_size;
	return 0;
}

/*
 * Differencing: take the kept link's geometry.  Returns 0 or BW_EINVAL
 * (no parent or link, a block or sector size the format does not have, a
 * locator too short for its header, a size not a whole number of
 * sectors).
 */
static int vhdxw_open_diff(struct bw_writer *w, struct vhdx_w *vw, struct bw_error *err)
{
	const struct bw_vhdx_link *l = w->opts.vhdx_link;
	if (!w->opts.parent || !l)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "a differencing VHDX needs the input child's parent and parent link");
	uint32_t bs = l->block_size;
	if (bs < VHDX_MIN_BLOCK_SIZE || bs > VHDX_MAX_BLOCK_SIZE || (bs & (bs - 1)) ||
	    (l->logical_sector != 512 && l->logical_sector != 4096) ||
	    (l->physical_sector != 512 && l->physical_sector != 4096) ||
	    l->locator_len < VHDX_PL_ENTRIES || l->locator_len > BW_VHDX_LOCATOR_MAX ||
	    w->size % l->logical_sector)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "the VHDX link to keep has block size %u, sectors %u/%u, a %u-byte locator for %llu bytes (expected a power of two from 1 to 256 MiB, 512 or 4096, %u to %u bytes, whole sectors)",
				 bs, l->logical_sector, l->physical_sector, l->locator_len,
				 (unsigned long long)w->size, VHDX_PL_ENTRIES, BW_VHDX_LOCATOR_MAX);
	vw->block_size = bs;
	vw->logical_sector = l->logical_sector;
	vw->physical_sector = l->physical_sector;
	return 0;
}

/* Returns 0, BW_EINVAL (a size past VHDXW_MAX_SIZE, a bad differencing
 * link or parent) or BW_ENOMEM. */
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
	vw->diff = w->opts.format == BW_WRITE_VHDX_DIFF;
	vw->block_size = VHDXW_BLOCK_SIZE;
	vw->logical_sector = VHDXW_LOGICAL_SECTOR;
	vw->physical_sector = VHDXW_PHYSICAL_SECTOR;
	int r;
	if (vw->diff && (r = vhdxw_open_diff(w, vw, err)) != 0)
		return r;
	/* 2^23 sectors per bitmap block (2.5): bs <= 2^28, lss >= 2^9, so
	 * the ratio is at least 16. */
	vw->chunk_ratio = VHDX_SECTORS_PER_BITMAP * vw->logical_sector / vw->block_size;
	uint64_t nblocks = (w->size + vw->block_size - 1) / vw->block_size;
	uint64_t nchunks = (nblocks + vw->chunk_ratio - 1) / vw->chunk_ratio;
	vw->nblocks = nblocks;
	/* Differencing: a sector bitmap entry after every chunk; else none
	 * after the last (2.5). */
	vw->nentries = vw->diff ? nchunks * (vw->chunk_ratio + 1)
				: nblocks + (nblocks - 1) / vw->chunk_ratio;
	vw->bat_bytes = (size_t)((vw->nentries * 8 + VHDX_MiB - 1) & ~(VHDX_MiB - 1));
	vw->bat = calloc(1, vw->bat_bytes);     /* all NOT_PRESENT */
	if (!vw->bat)
		return bw_seterr(err, BW_ENOMEM, w->path,
				 "out of memory for a %zu-byte BAT", vw->bat_bytes);
	vw->next_pos = VHDXW_BAT_OFFSET + vw->bat_bytes;
	return bw_wblocks_init(w, &vw->blocks, vw->block_size,
			       vw->diff ? w->opts.parent : NULL, vhdxw_put_block, err);
}

static int vhdxw_write(struct bw_writer *w, const uint8_t *buf, size_t len,
		       uint64_t off, struct bw_error *err)
{
	struct vhdx_w *vw = w->priv;
	return bw_wblocks_write(w, &vw->blocks, buf, len, off, err);
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

/* The metadata table and its items into META (zeroed, 64 KiB + 5 slots
 * + the parent locator's room). */
static int vhdxw_metadata(struct bw_writer *w, const struct vhdx_w *vw, uint8_t *meta,
			  struct bw_error *err)
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
		/* 2.6.2.6: not a virtual disk property, required. */
		{ VHDX_GUID_PARENT_LOCATOR, VHDX_MTE_IS_REQUIRED },
	};
	const struct bw_vhdx_link *l = w->opts.vhdx_link;
	const uint32_t lengths[VHDXW_NITEMS] = {
		VHDX_FP_LEN, VHDX_SIZE_LEN, VHDX_SECTOR_SIZE_LEN, VHDX_SECTOR_SIZE_LEN,
		VHDX_PAGE83_LEN, vw->diff ? l->locator_len : 0
	};
	const size_t n = vw->diff ? VHDXW_NITEMS : VHDXW_NITEMS - 1;
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
	bw_put_le32(item + VHDX_FP_BLOCK_SIZE, vw->block_size);
	/* Dynamic (not LeaveBlockAllocated); a parent when differencing. */
	bw_put_le32(item + VHDX_FP_FLAGS, vw->diff ? VHDX_FP_HAS_PARENT : 0);
	item += VHDXW_ITEM_SLOT;
	bw_put_le64(item, w->size);
	item += VHDXW_ITEM_SLOT;
	bw_put_le32(item, vw->logical_sector);
	item += VHDXW_ITEM_SLOT;
	bw_put_le32(item, vw->physical_sector);
	item += VHDXW_ITEM_SLOT;
	if (!vw->diff)
		return vhdxw_guid(w, "vhdx-page83-data", item, err);
	memcpy(item, l->page83, VHDX_PAGE83_LEN);
	item += VHDXW_ITEM_SLOT;
	memcpy(item, l->locator, l->locator_len);
	return 0;
}

/*
 * Differencing: a sector bitmap block for every chunk, after the payload
 * blocks, its bits set for the sectors of the chunk's fully present
 * blocks (see the head of this file).  Returns 0, BW_EIO or BW_ENOMEM.
 */
static int vhdxw_bitmaps(struct bw_writer *w, struct vhdx_w *vw, struct bw_error *err)
{
	const uint64_t cr = vw->chunk_ratio, sectors = w->size / vw->logical_sector;
	const uint64_t spb = vw->block_size / vw->logical_sector;    /* >= 256 */
	uint8_t *sb = malloc(VHDX_SECTOR_BITMAP_SIZE);
	if (!sb)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory for a sector bitmap");
	int r = 0;
	for (uint64_t c = 0; r == 0 && c * cr < vw->nblocks; c++) {
		int any = 0;
		memset(sb, 0, VHDX_SECTOR_BITMAP_SIZE);
		for (uint64_t b = c * cr; b < (c + 1) * cr && b < vw->nblocks; b++) {
			uint64_t e = bw_get_le64(vw->bat + 8 * (b + c));
			if ((e & VHDX_BAT_STATE_MASK) != VHDX_PAYLOAD_FULLY_PRESENT)
				continue;
			/* Bits [first, end) of this chunk's bitmap: whole bytes
			 * (spb is a multiple of 8) but for a last block cut
			 * short by the virtual size. */
			uint64_t first = (b - c * cr) * spb;
			uint64_t end = first + (sectors - b * spb < spb ? sectors - b * spb : spb);
			memset(sb + first / 8, 0xFF, (size_t)(end / 8 - first / 8));
			for (uint64_t bit = end / 8 * 8; bit < end; bit++)
				sb[bit / 8] |= (uint8_t)(1u << (bit % 8));
			any = 1;
		}
		if (any && (r = bw_writer_pwrite(w, sb, VHDX_SECTOR_BITMAP_SIZE, vw->next_pos, err)) == 0)
			w->bytes_out += VHDX_SECTOR_BITMAP_SIZE;
		bw_put_le64(vw->bat + 8 * (c * (cr + 1) + cr), VHDX_SB_PRESENT |
			    (vw->next_pos / VHDX_MiB) << VHDX_BAT_OFFSET_SHIFT);
		vw->next_pos += VHDX_SECTOR_BITMAP_SIZE;
	}
	free(sb);
	/* The file holds the last bitmap even when it is a hole. */
	if (r == 0 && ftruncate(w->fd, (off_t)vw->next_pos) != 0)
		r = bw_seterr(err, BW_EIO, w->path, "cannot set the file size to %llu: %s",
			      (unsigned long long)vw->next_pos, strerror(errno));
	return r;
}

static int vhdxw_finish(struct bw_writer *w, struct bw_error *err)
{
	struct vhdx_w *vw = w->priv;
	int r;
	if ((r = bw_wblocks_finish(w, &vw->blocks, err)) != 0 ||
	    (vw->diff && (r = vhdxw_bitmaps(w, vw, err)) != 0))
		return r;
	const size_t area_len = VHDX_REGION2_OFFSET + VHDX_REGION_SIZE;
	/* The locator last: up to 64 KiB, far inside the 1 MiB region. */
	const size_t meta_len = VHDX_MT_SIZE + 5 * VHDXW_ITEM_SLOT +
				(vw->diff ? w->opts.vhdx_link->locator_len : 0);
	uint8_t *area = calloc(1, area_len), *meta = calloc(1, meta_len);
	if (!area || !meta) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
		goto out;
	}
	if ((r = vhdxw_header_area(w, area, vw->bat_bytes, err)) != 0 ||
	    (r = vhdxw_metadata(w, vw, meta, err)) != 0)
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

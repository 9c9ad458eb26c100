/*
 * VHD output (Microsoft Virtual Hard Disk Image Format Specification,
 * October 2006; qemu block/vpc.c for how readers take the size): fixed and
 * dynamic images.
 *
 * Size.  A reader may take the virtual size from the footer's CHS geometry
 * (qemu does for creators it does not know, such as ours) or from its
 * current size (Hyper-V, libvhdi, us).  A new VHD's size is therefore
 * rounded UP to a CHS product C*H*S*512, computed with the spec's
 * algorithm (Appendix "CHS Calculation"), so that every reader agrees.
 * Sizes the largest geometry 65535/16/255 cannot reach keep that geometry
 * and their exact size: qemu then trusts the current size too.  With
 * vhd_keep the input's footer identity (creator, geometry, sizes, unique
 * id) is kept instead (FORMATS.md).
 *
 * Dynamic layout: footer copy at 0, dynamic header at 512, BAT at 1536
 * (padded to a sector), then 2 MiB blocks (a 512-byte all-set sector
 * bitmap + data) appended in write order as they get non-zero data, and
 * the footer.  A block that only ever receives zeros is not allocated:
 * the current block is buffered (one 2 MiB buffer, writer_blocks.c) and
 * decided when it is complete or the writer moves past it.  The BAT is
 * kept in memory (4 bytes per block: 4 MiB for 2040 GiB) and written at
 * finish.
 *
 * Fixed layout: the data at its offsets, zero runs left as holes, and the
 * footer at `size`.
 *
 * Differencing (a new child of the input child's parent): the dynamic
 * layout, with the input child's parent link kept -- its header's parent
 * unique id, parent time stamp, parent name and locator entries, each
 * locator's data in the sectors after the BAT -- so that the new child
 * finds and names the same parent the same way.  A block is written
 * only when it differs from what the parent gives there
 * (writer_blocks.c), with every sector bit set; the others stay
 * unallocated and read from the parent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"
#include "common/derive.h"
#include "common/random.h"
#include "disk/writer_internal.h"

/* Footer fields (spec "Hard Disk Footer Format"). */
#define VHDW_FOOTER_SIZE      512
#define VHDW_FTR_COOKIE       0
#define VHDW_FTR_FEATURES     8
#define VHDW_FTR_VERSION      12
#define VHDW_FTR_DATA_OFFSET  16
#define VHDW_FTR_TIMESTAMP    24
#define VHDW_FTR_CREATOR_APP  28
#define VHDW_FTR_CREATOR_VER  32
#define VHDW_FTR_CREATOR_HOST 36
#define VHDW_FTR_ORIG_SIZE    40
#define VHDW_FTR_CURRENT_SIZE 48
#define VHDW_FTR_GEOMETRY     56
#define VHDW_FTR_DISK_TYPE    60
#define VHDW_FTR_CHECKSUM     64
#define VHDW_FTR_UNIQUE_ID    68
#define VHDW_FTR_SAVED_STATE  84

/* Dynamic header fields (spec "Dynamic Disk Header Format"). */
#define VHDW_DYN_SIZE         1024
#define VHDW_DYN_COOKIE       0
#define VHDW_DYN_DATA_OFFSET  8
#define VHDW_DYN_TABLE_OFFSET 16
#define VHDW_DYN_VERSION      24
#define VHDW_DYN_MAX_ENTRIES  28
#define VHDW_DYN_BLOCK_SIZE   32
#define VHDW_DYN_CHECKSUM     36

#define VHDW_FEATURES_RESERVED 2u          /* "must always be set" */
#define VHDW_VERSION_1        0x00010000u
#define VHDW_TYPE_FIXED       2u
#define VHDW_TYPE_DYNAMIC     3u
#define VHDW_TYPE_DIFF        4u
#define VHDW_DYN_LOCATORS     576     /* 8 parent locator entries */
#define VHDW_LOC_SIZE         24
#define VHDW_LOC_CODE         0
#define VHDW_LOC_SPACE        4
#define VHDW_LOC_LENGTH       8
#define VHDW_LOC_OFFSET       16
/* Room kept for one locator's data: its length, or the data space it
 * records if larger, up to this much. */
#define VHDW_LOC_ROOM_MAX     65536u
#define VHDW_HEADER_OFFSET    512u
#define VHDW_BAT_OFFSET       1536u
#define VHDW_BLOCK_SIZE       (2u * 1024 * 1024)   /* the spec's default */
#define VHDW_BITMAP_SIZE      512u                  /* 4096 bits, one sector */
#define VHDW_BAT_UNUSED       0xFFFFFFFFu
/* 2000-01-01T00:00:00Z in Unix time: the VHD timestamp epoch. */
#define VHDW_EPOCH            946684800
/* The spec's CHS limit, 65535 cylinders x 16 heads x 255 sectors. */
#define VHDW_MAX_GEOMETRY     (UINT64_C(65535) * 16 * 255)
/* 2040 GiB: the largest VHD (spec "Current Size"; qemu refuses more). */
#define VHDW_MAX_SIZE         (UINT64_C(2040) << 30)
/* Creator fields of a new VHD. */
#define VHDW_CREATOR_APP      "bxwr"
#define VHDW_CREATOR_VERSION  0x00010000u
#define VHDW_CREATOR_HOST     "Wi2k"

struct vhd_w {
	uint8_t footer[VHDW_FOOTER_SIZE];
	int dynamic;
	/* dynamic only */
	uint32_t nentries;
	size_t bat_bytes;           /* padded to a sector */
	uint8_t *bat;               /* big-endian entries, as written */
	struct bw_wblocks blocks;
	uint64_t next_pos;          /* file offset of the next block */
	/* differencing only */
	int diff;
	uint8_t header[VHDW_DYN_SIZE];  /* the input child's, locators moved */
	uint64_t loc_pos[BW_VHD_LOCATORS];
};

struct vhd_chs {
	uint16_t cylinders;
	uint8_t heads, sectors;
};

/* The spec's CHS calculation for a disk of SECTORS sectors (its
 * Appendix, the same code as qemu's calculate_geometry). */
static struct vhd_chs vhd_chs_of(uint64_t sectors)
{
	uint32_t spt, heads, cth;
	if (sectors > VHDW_MAX_GEOMETRY)
		sectors = VHDW_MAX_GEOMETRY;
	if (sectors >= UINT64_C(65535) * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = (uint32_t)(sectors / spt);
	} else {
		spt = 17;
		cth = (uint32_t)(sectors / spt);
		heads = (cth + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024 || heads > 16) {
			spt = 31;
			heads = 16;
			cth = (uint32_t)(sectors / spt);
		}
		if (cth >= heads * 1024) {
			spt = 63;
			heads = 16;
			cth = (uint32_t)(sectors / spt);
		}
	}
	struct vhd_chs g = {
		.cylinders = (uint16_t)(cth / heads),
		.heads = (uint8_t)heads,
		.sectors = (uint8_t)spt,
	};
	return g;
}

static uint64_t vhd_chs_sectors(struct vhd_chs g)
{
	return (uint64_t)g.cylinders * g.heads * g.sectors;
}

/*
 * The geometry and size of a new VHD of at least SIZE bytes: the first
 * sector count at or above the request whose geometry holds it, as qemu's
 * vpc_create searches.  A geometry loses less than a track plus a
 * cylinder (17 + 16 x 255 sectors) to rounding, so the search ends within
 * a few thousand steps (4076 at worst, measured); at and past the largest
 * geometry the size is kept as asked.
 */
static uint64_t vhd_new_size(uint64_t size, struct vhd_chs *geometry)
{
	uint64_t want = size / 512 + (size % 512 != 0);
	struct vhd_chs g = vhd_chs_of(want);
	/* want < the largest product: the search stops there at the latest. */
	if (want < VHDW_MAX_GEOMETRY)
		for (uint64_t n = want; vhd_chs_sectors(g) < want; )
			g = vhd_chs_of(++n);
	*geometry = g;
	if (vhd_chs_sectors(g) == VHDW_MAX_GEOMETRY)
		return want <= UINT64_MAX / 512 ? want * 512 : size;
	return vhd_chs_sectors(g) * 512;
}

/* The VHD writer's virtual size: the kept footer's current size, or the
 * requested size rounded up to its CHS product (FORMATS.md). */
static uint64_t vhdw_actual_size(const struct bw_writer_opts *o)
{
	if (o->vhd_keep)
		return bw_get_be64(o->vhd_footer + VHDW_FTR_CURRENT_SIZE);
	struct vhd_chs g;
	return vhd_new_size(o->size, &g);
}

static uint32_t vhdw_checksum(const uint8_t *p, size_t len, size_t csum_off)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += p[i];
	return ~sum;
}

/* Fill the footer: identity (new or kept), type, timestamp, checksum. */
static int vhdw_make_footer(struct bw_writer *w, struct vhd_w *vw,
			    struct bw_error *err)
{
	uint8_t *f = vw->footer;
	const struct bw_writer_opts *o = &w->opts;
	memset(f, 0, VHDW_FOOTER_SIZE);
	memcpy(f + VHDW_FTR_COOKIE, "conectix", 8);
	bw_put_be32(f + VHDW_FTR_FEATURES, VHDW_FEATURES_RESERVED);
	bw_put_be32(f + VHDW_FTR_VERSION, VHDW_VERSION_1);
	bw_put_be64(f + VHDW_FTR_DATA_OFFSET,
		    vw->dynamic ? VHDW_HEADER_OFFSET : UINT64_MAX);
	time_t now = o->fixed_identity ? (time_t)o->timestamp : time(NULL);
	bw_put_be32(f + VHDW_FTR_TIMESTAMP,
		    now > VHDW_EPOCH ? (uint32_t)(now - VHDW_EPOCH) : 0);
	if (o->vhd_keep) {
		const uint8_t *in = o->vhd_footer;
		memcpy(f + VHDW_FTR_CREATOR_APP, in + VHDW_FTR_CREATOR_APP,
		       VHDW_FTR_DISK_TYPE - VHDW_FTR_CREATOR_APP);
		memcpy(f + VHDW_FTR_UNIQUE_ID, in + VHDW_FTR_UNIQUE_ID, 16);
	} else {
		struct vhd_chs g;
		uint64_t size = vhd_new_size(o->size, &g);
		memcpy(f + VHDW_FTR_CREATOR_APP, VHDW_CREATOR_APP, 4);
		bw_put_be32(f + VHDW_FTR_CREATOR_VER, VHDW_CREATOR_VERSION);
		memcpy(f + VHDW_FTR_CREATOR_HOST, VHDW_CREATOR_HOST, 4);
		bw_put_be64(f + VHDW_FTR_ORIG_SIZE, size);
		bw_put_be64(f + VHDW_FTR_CURRENT_SIZE, size);
		f[VHDW_FTR_GEOMETRY] = (uint8_t)(g.cylinders >> 8);
		f[VHDW_FTR_GEOMETRY + 1] = (uint8_t)g.cylinders;
		f[VHDW_FTR_GEOMETRY + 2] = g.heads;
		f[VHDW_FTR_GEOMETRY + 3] = g.sectors;
		uint8_t *id = f + VHDW_FTR_UNIQUE_ID;
		if (o->fixed_identity)
			bw_derive_bytes(o->identity, "vhd-unique-id", id, 16);
		else if (bw_random_bytes(id, 16) != 0)
			return bw_seterr(err, BW_EIO, w->path,
					 "cannot get random bytes for the VHD unique id: %s",
					 strerror(errno));
		/* An RFC 4122 version 4 UUID, as Windows makes them. */
		id[6] = (uint8_t)((id[6] & 0x0F) | 0x40);
		id[8] = (uint8_t)((id[8] & 0x3F) | 0x80);
	}
	bw_put_be32(f + VHDW_FTR_DISK_TYPE,
		    vw->diff ? VHDW_TYPE_DIFF :
		    vw->dynamic ? VHDW_TYPE_DYNAMIC : VHDW_TYPE_FIXED);
	f[VHDW_FTR_SAVED_STATE] = 0;
	bw_put_be32(f + VHDW_FTR_CHECKSUM,
		    vhdw_checksum(f, VHDW_FOOTER_SIZE, VHDW_FTR_CHECKSUM));
	return 0;
}

static void vhdw_free(struct bw_writer *w)
{
	struct vhd_w *vw = w->priv;
	if (vw) {
		free(vw->bat);
		bw_wblocks_free(&vw->blocks);
	}
	free(vw);
	w->priv = NULL;
}

/*
 * Differencing: place the kept locators' data after the BAT.  A
 * locator's data space is in sectors per the spec and in bytes from
 * Hyper-V: a value below 512 is taken as sectors.  The room is the larger
 * of the data length and that space (capped); the entry keeps its space
 * value unless the cap made the room smaller.  Returns 0 or BW_EINVAL (no
 * parent or link, a locator whose data does not match its entry).
 */
static int vhdw_open_diff(struct bw_writer *w, struct vhd_w *vw,
			  struct bw_error *err)
{
	const struct bw_writer_opts *o = &w->opts;
	if (!o->vhd_keep || !o->parent || !o->vhd_link)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "a differencing VHD needs the input child's footer, parent and parent link");
	memcpy(vw->header, o->vhd_link->header, sizeof vw->header);
	for (unsigned i = 0; i < BW_VHD_LOCATORS; i++) {
		uint8_t *e = vw->header + VHDW_DYN_LOCATORS + VHDW_LOC_SIZE * i;
		if (bw_get_be32(e + VHDW_LOC_CODE) == 0)
			continue;
		uint32_t len = o->vhd_link->loc_len[i];
		uint32_t space = bw_get_be32(e + VHDW_LOC_SPACE);
		if (len > BW_VHD_LOCATOR_MAX || bw_get_be32(e + VHDW_LOC_LENGTH) != len)
			return bw_seterr(err, BW_EINVAL, w->path,
					 "parent locator %u: %u bytes of data for an entry of %u",
					 i, len, bw_get_be32(e + VHDW_LOC_LENGTH));
		int sectors = space < 512;
		uint64_t want = sectors ? (uint64_t)space * 512 : space;
		if (want < len)
			want = len;
		if (want > VHDW_LOC_ROOM_MAX) {
			want = VHDW_LOC_ROOM_MAX;
			bw_put_be32(e + VHDW_LOC_SPACE,
				    sectors ? VHDW_LOC_ROOM_MAX / 512 : VHDW_LOC_ROOM_MAX);
		}
		uint64_t room = (want + 511) & ~UINT64_C(511);
		if (room == 0)
			room = 512;
		vw->loc_pos[i] = vw->next_pos;
		bw_put_be64(e + VHDW_LOC_OFFSET, vw->next_pos);
		vw->next_pos += room;
	}
	return 0;
}

static int vhdw_put_block(struct bw_writer *w, uint64_t blk, const uint8_t *data,
			  struct bw_error *err);

/* Returns 0, BW_EINVAL (a kept footer that is not one, a size past the
 * format's limit, a differencing parent of another size) or BW_ENOMEM. */
static int vhdw_open(struct bw_writer *w, struct bw_error *err)
{
	const struct bw_writer_opts *o = &w->opts;
	if (o->vhd_keep) {
		const uint8_t *in = o->vhd_footer;
		uint64_t kept = bw_get_be64(in + VHDW_FTR_CURRENT_SIZE);
		if (memcmp(in + VHDW_FTR_COOKIE, "conectix", 8) != 0)
			return bw_seterr(err, BW_EINVAL, w->path,
					 "the VHD footer to keep has no \"conectix\" cookie");
		if (kept == 0 || kept % 512 || kept < o->size)
			return bw_seterr(err, BW_EINVAL, w->path,
					 "the kept VHD footer's current size %llu is not a positive multiple of 512 holding the %llu bytes to write",
					 (unsigned long long)kept, (unsigned long long)o->size);
	}
	if (w->size > VHDW_MAX_SIZE)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "a VHD holds at most 2040 GiB (%llu bytes); %llu requested",
				 (unsigned long long)VHDW_MAX_SIZE,
				 (unsigned long long)w->size);
	struct vhd_w *vw = calloc(1, sizeof *vw);
	if (!vw)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	w->priv = vw;
	vw->diff = o->format == BW_WRITE_VHD_DIFF;
	vw->dynamic = o->format == BW_WRITE_VHD_DYNAMIC || vw->diff;
	int r = vhdw_make_footer(w, vw, err);
	if (r)
		return r;
	if (!vw->dynamic)
		return 0;
	/* size <= 2040 GiB: at most 1044480 entries, a 4 MiB table. */
	uint64_t n = (w->size + VHDW_BLOCK_SIZE - 1) / VHDW_BLOCK_SIZE;
	vw->nentries = (uint32_t)n;
	vw->bat_bytes = (size_t)((n * 4 + 511) & ~UINT64_C(511));
	if (!(vw->bat = malloc(vw->bat_bytes)))
		return bw_seterr(err, BW_ENOMEM, w->path,
				 "out of memory for a %zu-byte BAT", vw->bat_bytes);
	memset(vw->bat, 0xFF, vw->bat_bytes);
	vw->next_pos = VHDW_BAT_OFFSET + vw->bat_bytes;
	if (vw->diff && (r = vhdw_open_diff(w, vw, err)) != 0)
		return r;
	return bw_wblocks_init(w, &vw->blocks, VHDW_BLOCK_SIZE,
			       vw->diff ? o->parent : NULL, vhdw_put_block, err);
}

/* Append block BLK holding DATA (2 MiB) at the end of the file
 * (bw_wblocks_put_fn). */
static int vhdw_put_block(struct bw_writer *w, uint64_t blk, const uint8_t *data,
			  struct bw_error *err)
{
	struct vhd_w *vw = w->priv;
	static const uint8_t bitmap[VHDW_BITMAP_SIZE] = {
		[0 ... VHDW_BITMAP_SIZE - 1] = 0xFF
	};
	int r = bw_writer_pwrite(w, bitmap, sizeof bitmap, vw->next_pos, err);
	if (r == 0)
		r = bw_writer_pwrite(w, data, VHDW_BLOCK_SIZE,
				     vw->next_pos + VHDW_BITMAP_SIZE, err);
	if (r)
		return r;
	/* next_pos < 1536 + 4 MiB + 1044480 blocks: sector numbers fit. */
	bw_put_be32(vw->bat + 4 * blk, (uint32_t)(vw->next_pos / 512));
	vw->next_pos += VHDW_BITMAP_SIZE + VHDW_BLOCK_SIZE;
	w->bytes_out += VHDW_BITMAP_SIZE + VHDW_BLOCK_SIZE;
	return 0;
}

/* Fixed: non-zero 4 KiB runs go to their offsets; zero runs stay holes. */
static int vhdw_write_fixed(struct bw_writer *w, const uint8_t *buf, size_t len,
			    uint64_t off, struct bw_error *err)
{
	const size_t grain = 4096;
	size_t i = 0;
	while (i < len) {
		size_t n = len - i < grain ? len - i : grain;
		if (bw_writer_all_zero(buf + i, n)) {
			i += n;
			continue;
		}
		size_t j = i + n;
		while (j < len) {
			size_t m = len - j < grain ? len - j : grain;
			if (bw_writer_all_zero(buf + j, m))
				break;
			j += m;
		}
		int r = bw_writer_pwrite(w, buf + i, j - i, off + i, err);
		if (r)
			return r;
		w->bytes_out += j - i;
		i = j;
	}
	return 0;
}

static int vhdw_write(struct bw_writer *w, const uint8_t *buf, size_t len,
		      uint64_t off, struct bw_error *err)
{
	struct vhd_w *vw = w->priv;
	if (vw->dynamic)
		return bw_wblocks_write(w, &vw->blocks, buf, len, off, err);
	return vhdw_write_fixed(w, buf, len, off, err);
}

static int vhdw_finish(struct bw_writer *w, struct bw_error *err)
{
	struct vhd_w *vw = w->priv;
	int r;
	if (!vw->dynamic) {
		/* The footer also sets the file size over any trailing hole. */
		r = bw_writer_pwrite(w, vw->footer, VHDW_FOOTER_SIZE, w->size, err);
		if (r == 0)
			w->bytes_out += VHDW_FOOTER_SIZE;
		return r;
	}
	if ((r = bw_wblocks_finish(w, &vw->blocks, err)) != 0)
		return r;
	uint8_t h[VHDW_DYN_SIZE] = {0};
	if (vw->diff) {
		/* The parent link as the input child had it, locators moved. */
		memcpy(h, vw->header, sizeof h);
		for (unsigned i = 0; i < BW_VHD_LOCATORS; i++) {
			uint32_t len = w->opts.vhd_link->loc_len[i];
			if (bw_get_be32(h + VHDW_DYN_LOCATORS + VHDW_LOC_SIZE * i) == 0 || len == 0)
				continue;
			if ((r = bw_writer_pwrite(w, w->opts.vhd_link->loc_data[i], len,
						  vw->loc_pos[i], err)) != 0)
				return r;
			w->bytes_out += len;
		}
	}
	memcpy(h + VHDW_DYN_COOKIE, "cxsparse", 8);
	bw_put_be64(h + VHDW_DYN_DATA_OFFSET, UINT64_MAX);
	bw_put_be64(h + VHDW_DYN_TABLE_OFFSET, VHDW_BAT_OFFSET);
	bw_put_be32(h + VHDW_DYN_VERSION, VHDW_VERSION_1);
	bw_put_be32(h + VHDW_DYN_MAX_ENTRIES, vw->nentries);
	bw_put_be32(h + VHDW_DYN_BLOCK_SIZE, VHDW_BLOCK_SIZE);
	bw_put_be32(h + VHDW_DYN_CHECKSUM, vhdw_checksum(h, sizeof h, VHDW_DYN_CHECKSUM));
	if ((r = bw_writer_pwrite(w, vw->footer, VHDW_FOOTER_SIZE, 0, err)) != 0 ||
	    (r = bw_writer_pwrite(w, h, sizeof h, VHDW_HEADER_OFFSET, err)) != 0 ||
	    (r = bw_writer_pwrite(w, vw->bat, vw->bat_bytes, VHDW_BAT_OFFSET, err)) != 0 ||
	    (r = bw_writer_pwrite(w, vw->footer, VHDW_FOOTER_SIZE, vw->next_pos, err)) != 0)
		return r;
	w->bytes_out += 2 * VHDW_FOOTER_SIZE + sizeof h + vw->bat_bytes;
	return 0;
}

const struct bw_writer_ops bw_writer_vhd_ops = {
	.name = "vhd",
	.open = vhdw_open,
	.write = vhdw_write,
	.finish = vhdw_finish,
	.free = vhdw_free,
	.actual_size = vhdw_actual_size,
};

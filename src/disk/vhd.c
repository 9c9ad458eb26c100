/*
 * VHD (Microsoft Virtual Hard Disk Image Format Specification, October
 * 2006; qemu block/vpc.c for producers' quirks; libyal libvhdi's format
 * notes for differencing images): fixed (type 2), dynamic (type 3) and
 * differencing (type 4) images, read side.  All fields are big-endian.
 *
 * Everything is validated at open: footer checksum, dynamic header
 * checksum, block size a power of two, table inside the file, every BAT
 * entry's block inside the file, clear of the footers, the dynamic header
 * and the BAT, and of every other block; every parent locator's data
 * inside the file.  pread then trusts the handle.
 *
 * A differencing image is a dynamic one whose unallocated blocks, and
 * whose sectors with a clear bit in their block's sector bitmap, are read
 * from the parent.  The parent is found through the parent locators (the
 * relative path first, then the absolute ones) or the parent name in the
 * child's directory, and is opened here, recursively, through chain.c's
 * walk: a loop (same device and inode) or a chain deeper than
 * BW_DISK_CHAIN_MAX is refused instead of recursing forever.  The
 * parent must carry the unique id the child recorded (libvhdi and Hyper-V
 * check it; qemu ignores parents) and the same virtual size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/utf16.h"
#include "disk/chain.h"
#include "disk/disk_internal.h"
#include "common/hex.h"

/* Footer (spec "Hard Disk Footer Format"), 512 bytes. */
#define VHD_FOOTER_SIZE       512
#define VHD_FTR_COOKIE        0   /* "conectix" */
#define VHD_FTR_FEATURES      8
#define VHD_FTR_VERSION       12  /* 0x00010000 */
#define VHD_FTR_DATA_OFFSET   16  /* dynamic header offset; ~0 for fixed */
#define VHD_FTR_CREATOR_APP   28
#define VHD_FTR_CURRENT_SIZE  48
#define VHD_FTR_GEOMETRY      56  /* cylinders BE16, heads, sectors */
#define VHD_FTR_DISK_TYPE     60
#define VHD_FTR_CHECKSUM      64
#define VHD_FTR_UNIQUE_ID     68  /* 16 bytes */

/* Dynamic disk header (spec "Dynamic Disk Header Format"), 1024 bytes. */
#define VHD_DYN_SIZE          1024
#define VHD_DYN_COOKIE        0   /* "cxsparse" */
#define VHD_DYN_TABLE_OFFSET  16
#define VHD_DYN_VERSION       24
#define VHD_DYN_MAX_ENTRIES   28
#define VHD_DYN_BLOCK_SIZE    32
#define VHD_DYN_CHECKSUM      36
#define VHD_DYN_PARENT_ID     40  /* 16 bytes: the parent footer's unique id */
#define VHD_DYN_PARENT_NAME   64  /* 512 bytes, UTF-16BE */
#define VHD_DYN_PARENT_NAME_LEN 512
#define VHD_DYN_LOCATORS      576 /* 8 entries of 24 bytes */
#define VHD_DYN_NLOCATORS     8

/* Parent locator entry (spec "Parent Locator Entry"), 24 bytes. */
#define VHD_LOC_SIZE          24
#define VHD_LOC_CODE          0   /* platform code */
#define VHD_LOC_SPACE         4   /* data space: sectors per the spec, bytes
				   * from Hyper-V; not used */
#define VHD_LOC_LENGTH        8   /* data length in bytes */
#define VHD_LOC_OFFSET        16  /* BE64 file offset of the data */

/* Platform codes, big-endian ASCII. */
#define VHD_PLAT_NONE         0u
#define VHD_PLAT_WI2R         0x57693272u  /* "Wi2r", deprecated */
#define VHD_PLAT_WI2K         0x5769326Bu  /* "Wi2k", deprecated */
#define VHD_PLAT_W2RU         0x57327275u  /* "W2ru": relative path, UTF-16LE */
#define VHD_PLAT_W2KU         0x57326B75u  /* "W2ku": absolute path, UTF-16LE */
#define VHD_PLAT_MAC          0x4D616320u  /* "Mac ": Mac OS alias blob */
#define VHD_PLAT_MACX         0x4D616358u  /* "MacX": file URL, UTF-8 */

#define VHD_TYPE_FIXED        2
#define VHD_TYPE_DYNAMIC      3
#define VHD_TYPE_DIFFERENCING 4
#define VHD_VERSION_1         0x00010000u
#define VHD_BAT_UNUSED        0xFFFFFFFFu

/* The spec caps a VHD at 2040 GiB; allow some slack for producers that
 * ignore it, but refuse sizes that would overflow our arithmetic. */
#define VHD_MAX_SIZE          (UINT64_C(1) << 44)      /* 16 TiB */
#define VHD_MAX_BLOCK_SIZE    (UINT32_C(1) << 28)      /* 256 MiB */
#define VHD_MIN_BLOCK_SIZE    512u
#define VHD_MAX_TABLE_ENTRIES (VHD_MAX_SIZE / (2 * 1024 * 1024))
/* A locator is one path: 8 KiB holds 4096 UTF-16 units, past PATH_MAX. */
#define VHD_MAX_LOCATOR_LEN   8192u
_Static_assert(VHD_MAX_LOCATOR_LEN == BW_VHD_LOCATOR_MAX &&
	       VHD_DYN_NLOCATORS == BW_VHD_LOCATORS &&
	       VHD_DYN_SIZE == sizeof(((struct bw_vhd_link *)0)->header),
	       "struct bw_vhd_link holds what the reader accepts");

struct vhd {
	uint8_t footer[VHD_FOOTER_SIZE];
	uint32_t type;
	uint32_t block_size;
	uint32_t bitmap_size;       /* sector bitmap before each block, padded */
	uint32_t nentries;
	uint32_t *bat;              /* host-endian sector offsets */
	struct bw_disk *parent;     /* differencing: the open parent */
	uint8_t *bitmap;            /* differencing: one block's sector bitmap */
	uint8_t header[VHD_DYN_SIZE];   /* dynamic, differencing: as read */
};

static int vhd_open_image(struct bw_disk *d, const struct bw_disk_chain *below,
			  struct bw_error *err);

/* One's complement of the byte sum with the checksum field skipped. */
static uint32_t vhd_checksum(const uint8_t *p, size_t len, size_t csum_off)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += p[i];
	return ~sum;
}

static int vhd_probe(const uint8_t *head, const uint8_t *tail, uint64_t file_size)
{
	(void)file_size;
	if (tail && memcmp(tail + VHD_FTR_COOKIE, "conectix", 8) == 0)
		return 1;
	/* Dynamic disks carry a footer copy at 0: a file cut short still
	 * probes as VHD so that the user hears "truncated", not "raw". */
	return memcmp(head + VHD_FTR_COOKIE, "conectix", 8) == 0;
}

/*
 * A block must not overlap the file's own metadata: the footer copy at 0,
 * the dynamic header, the BAT, the footer at the end.  A reader would
 * return those bytes as disk data, and a writer updating the block in
 * place would overwrite them.  The block of BAT entry I is
 * [start, start + bitmap + block) with start = v->bat[I] * 512.
 * Returns 0 or BW_EFORMAT naming the entry and what it overlaps.
 */
static int vhd_check_block_place(struct bw_disk *d, const struct vhd *v,
				 uint32_t i, uint64_t table, uint64_t dyn_off,
				 struct bw_error *err)
{
	const struct { const char *what; uint64_t off, len; } meta[] = {
		{ "the footer copy", 0, VHD_FOOTER_SIZE },
		{ "the dynamic header", dyn_off, VHD_DYN_SIZE },
		{ "the block allocation table", table, (uint64_t)v->nentries * 4 },
		{ "the footer", d->file_size - VHD_FOOTER_SIZE, VHD_FOOTER_SIZE },
	};
	/* All four lie inside the file (checked before), so no sum wraps. */
	uint64_t start = (uint64_t)v->bat[i] * 512;
	uint64_t end = start + v->bitmap_size + v->block_size;
	for (size_t k = 0; k < sizeof meta / sizeof meta[0]; k++) {
		if (meta[k].len == 0 || start >= meta[k].off + meta[k].len ||
		    end <= meta[k].off)
			continue;
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD BAT entry %u (at offset %llu) points at sector %u: block at offset %llu-%llu overlaps %s at offset %llu-%llu (expected a block clear of the file's metadata)",
				 i, (unsigned long long)(table + 4 * (uint64_t)i),
				 v->bat[i], (unsigned long long)start,
				 (unsigned long long)end, meta[k].what,
				 (unsigned long long)meta[k].off,
				 (unsigned long long)(meta[k].off + meta[k].len));
	}
	return 0;
}

static int vhd_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * No two of the NALLOC allocated blocks may overlap: two entries sharing
 * a block would make a write through one change the other's data.  Every
 * block has the same length, so sorting (sector << 32 | index) and
 * comparing neighbours finds any overlap in O(n log n).
 * Returns 0, BW_EFORMAT or BW_ENOMEM.
 */
static int vhd_check_blocks_disjoint(struct bw_disk *d, const struct vhd *v,
				     uint32_t nalloc, uint64_t table,
				     struct bw_error *err)
{
	if (nalloc < 2)
		return 0;
	uint64_t *order = malloc((size_t)nalloc * sizeof *order);
	if (!order)
		return bw_seterr(err, BW_ENOMEM, d->path,
				 "out of memory checking %u BAT entries", nalloc);
	uint32_t k = 0;
	for (uint32_t i = 0; i < v->nentries; i++)
		if (v->bat[i] != VHD_BAT_UNUSED)
			order[k++] = (uint64_t)v->bat[i] << 32 | i;
	qsort(order, nalloc, sizeof *order, vhd_cmp_u64);
	const uint64_t len = (uint64_t)v->bitmap_size + v->block_size;
	int r = 0;
	for (k = 1; k < nalloc && r == 0; k++) {
		uint64_t prev = (order[k - 1] >> 32) * 512, cur = (order[k] >> 32) * 512;
		if (cur >= prev + len)
			continue;
		uint32_t i = (uint32_t)order[k], j = (uint32_t)order[k - 1];
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHD BAT entry %u (at offset %llu) points at sector %u, inside the block of BAT entry %u at offset %llu-%llu (expected each block in a place of its own)",
			      i, (unsigned long long)(table + 4 * (uint64_t)i),
			      v->bat[i], j, (unsigned long long)prev,
			      (unsigned long long)(prev + len));
	}
	free(order);
	return r;
}

/* Read and check the dynamic header at DYN_OFF into H and load the BAT. */
static int vhd_open_dynamic(struct bw_disk *d, struct vhd *v, uint64_t dyn_off,
			    uint8_t h[VHD_DYN_SIZE], struct bw_error *err)
{
	if (dyn_off > d->file_size || VHD_DYN_SIZE > d->file_size - dyn_off)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD dynamic header offset %llu is outside the file (size %llu)",
				 (unsigned long long)dyn_off,
				 (unsigned long long)d->file_size);
	int r = bw_disk_read_file(d, h, VHD_DYN_SIZE, dyn_off, "VHD dynamic header", err);
	if (r)
		return r;
	if (memcmp(h + VHD_DYN_COOKIE, "cxsparse", 8) != 0)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD dynamic header at offset %llu: expected cookie \"cxsparse\"",
				 (unsigned long long)dyn_off);
	uint32_t stored = bw_get_be32(h + VHD_DYN_CHECKSUM);
	uint32_t calc = vhd_checksum(h, VHD_DYN_SIZE, VHD_DYN_CHECKSUM);
	if (stored != calc)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD dynamic header at offset %llu: checksum mismatch (expected 0x%08x, found 0x%08x)",
				 (unsigned long long)dyn_off, calc, stored);
	uint32_t version = bw_get_be32(h + VHD_DYN_VERSION);
	if (version != VHD_VERSION_1)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHD dynamic header at offset %llu: version 0x%08x (expected 0x%08x)",
				 (unsigned long long)dyn_off, version, VHD_VERSION_1);
	uint32_t bs = bw_get_be32(h + VHD_DYN_BLOCK_SIZE);
	if (bs < VHD_MIN_BLOCK_SIZE || bs > VHD_MAX_BLOCK_SIZE || (bs & (bs - 1)))
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD dynamic header at offset %llu: block size %u is not a power of two between %u and %u",
				 (unsigned long long)(dyn_off + VHD_DYN_BLOCK_SIZE), bs,
				 VHD_MIN_BLOCK_SIZE, VHD_MAX_BLOCK_SIZE);
	uint32_t n = bw_get_be32(h + VHD_DYN_MAX_ENTRIES);
	if (n > VHD_MAX_TABLE_ENTRIES)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHD dynamic header at offset %llu: %u table entries (at most %llu supported)",
				 (unsigned long long)(dyn_off + VHD_DYN_MAX_ENTRIES), n,
				 (unsigned long long)VHD_MAX_TABLE_ENTRIES);
	/* n <= 2^23 and bs <= 2^28: the product fits in 64 bits. */
	if ((uint64_t)n * bs < d->size)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD: %u blocks of %u bytes cannot hold the virtual size %llu",
				 n, bs, (unsigned long long)d->size);
	uint64_t table = bw_get_be64(h + VHD_DYN_TABLE_OFFSET);
	uint64_t table_len = (uint64_t)n * 4;
	if (table > d->file_size || table_len > d->file_size - table)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD block allocation table at offset %llu, %llu bytes, lies outside the file (size %llu)",
				 (unsigned long long)table, (unsigned long long)table_len,
				 (unsigned long long)d->file_size);

	v->block_size = bs;
	v->nentries = n;
	/* One bit per sector, rounded up to a byte and padded to a whole
	 * sector (spec): 512 bytes for every block of up to 2 MiB. */
	v->bitmap_size = ((bs / 512 + 7) / 8 + 511) & ~511u;
	v->bat = malloc(table_len ? table_len : 1);
	if (!v->bat)
		return bw_seterr(err, BW_ENOMEM, d->path,
				 "out of memory for a %llu-byte BAT",
				 (unsigned long long)table_len);
	uint8_t *raw = (uint8_t *)v->bat;
	r = bw_disk_read_file(d, raw, (size_t)table_len, table, "VHD block allocation table", err);
	if (r)
		return r;
	uint32_t nalloc = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t e = bw_get_be32(raw + 4 * (size_t)i);
		v->bat[i] = e;
		if (e == VHD_BAT_UNUSED)
			continue;
		uint64_t start = (uint64_t)e * 512;
		uint64_t len = (uint64_t)v->bitmap_size + bs;
		if (start > d->file_size || len > d->file_size - start)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VHD BAT entry %u (at offset %llu) points at sector %u: block ends past the end of the file (%llu > %llu)",
					 i, (unsigned long long)(table + 4 * (uint64_t)i), e,
					 (unsigned long long)(start + len),
					 (unsigned long long)d->file_size);
		r = vhd_check_block_place(d, v, i, table, dyn_off, err);
		if (r)
			return r;
		nalloc++;
	}
	return vhd_check_blocks_disjoint(d, v, nalloc, table, err);
}

/* ---- differencing: finding and opening the parent ---------------------- */

/*
 * UTF-16 (BE when BIG, else LE) of LEN bytes to a malloc'd UTF-8 string,
 * stopping at the first NUL unit.  Returns 0, BW_EFORMAT (odd length or an
 * unpaired surrogate; WHAT and OFF name the field) or BW_ENOMEM.
 */
static int vhd_utf16_to_utf8(struct bw_disk *d, const uint8_t *p, size_t len,
			     int big, const char *what, uint64_t off,
			     char **out, struct bw_error *err)
{
	*out = NULL;
	if (len % 2)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "%s at offset %llu: UTF-16 text of odd length %zu",
				 what, (unsigned long long)off, len);
	size_t at;
	int r = bw_utf16_to_utf8_alloc(p, len, BW_UTF16_REFUSE,
				       BW_UTF16_NUL_ENDS | (big ? BW_UTF16_BE : 0),
				       out, NULL, &at);
	if (r == BW_ENOMEM)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	if (r)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "%s at offset %llu: unpaired UTF-16 surrogate 0x%04x at byte %zu",
				 what, (unsigned long long)off,
				 (unsigned)(big ? bw_get_be16(p + at) : bw_get_le16(p + at)),
				 at);
	return 0;
}

/*
 * A MacX locator's "file://[host]/path" URL (RFC 2396, percent-encoded
 * UTF-8) to a path, in place.  Returns 0, or -1 when it is not a file URL
 * or an escape is malformed or decodes to NUL.
 */
static int vhd_file_url_to_path(char *s)
{
	if (strncmp(s, "file://", 7) != 0)
		return -1;
	const char *src = strchr(s + 7, '/');   /* skip "localhost" or "" */
	if (!src)
		return -1;
	char *dst = s;
	while (*src) {
		if (*src == '%') {
			int hi = bw_hex_digit(src[1]), lo = hi < 0 ? -1 : bw_hex_digit(src[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*dst++ = (char)(hi << 4 | lo);
			src += 3;
		} else {
			*dst++ = *src++;
		}
	}
	*dst = '\0';
	return 0;
}

static void vhd_backslashes(char *s)
{
	for (; *s; s++)
		if (*s == '\\')
			*s = '/';
}

/* Parent paths to try, in order, and the text that lists them in errors;
 * a Windows drive path is listed but cannot be opened here. */
struct vhd_candidates {
	char *path[VHD_DYN_NLOCATORS + 1];
	const char *from[VHD_DYN_NLOCATORS + 1];
	unsigned char unusable[VHD_DYN_NLOCATORS + 1];
	unsigned n;
};

static void vhd_candidates_free(struct vhd_candidates *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->path[i]);
	c->n = 0;
}

/* Take ownership of PATH (NULL = out of memory); drop duplicates. */
static int vhd_candidate_add(struct bw_disk *d, struct vhd_candidates *c,
			     char *path, const char *from, int unusable,
			     struct bw_error *err)
{
	if (!path)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	for (unsigned i = 0; i < c->n; i++) {
		if (strcmp(c->path[i], path) == 0) {
			free(path);
			return 0;
		}
	}
	c->path[c->n] = path;
	c->from[c->n] = from;
	c->unusable[c->n] = (unsigned char)unusable;
	c->n++;
	return 0;
}

/*
 * Check every parent locator entry (known platform code, data inside the
 * file, length capped) and collect the paths to try: W2ru (relative to
 * the child's directory) first, then W2ku and MacX (absolute), then the
 * last component of the parent name in the child's directory.
 * Returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_EIO or BW_ENOMEM.
 */
static int vhd_parent_candidates(struct bw_disk *d, const uint8_t *h,
				 uint64_t dyn_off, struct vhd_candidates *c,
				 struct bw_error *err)
{
	static const struct { uint32_t code; const char *from; } order[] = {
		{ VHD_PLAT_W2RU, "relative locator W2ru" },
		{ VHD_PLAT_W2KU, "absolute locator W2ku" },
		{ VHD_PLAT_MACX, "locator MacX" },
	};
	int r;
	c->n = 0;
	/* Validate all entries first, so that a bad one is refused even when
	 * an earlier one would have found the parent. */
	for (unsigned i = 0; i < VHD_DYN_NLOCATORS; i++) {
		const uint8_t *e = h + VHD_DYN_LOCATORS + VHD_LOC_SIZE * i;
		uint64_t at = dyn_off + VHD_DYN_LOCATORS + VHD_LOC_SIZE * i;
		uint32_t code = bw_get_be32(e + VHD_LOC_CODE);
		uint32_t len = bw_get_be32(e + VHD_LOC_LENGTH);
		uint64_t off = bw_get_be64(e + VHD_LOC_OFFSET);
		switch (code) {
		case VHD_PLAT_NONE:
			continue;
		case VHD_PLAT_WI2R: case VHD_PLAT_WI2K: case VHD_PLAT_W2RU:
		case VHD_PLAT_W2KU: case VHD_PLAT_MAC: case VHD_PLAT_MACX:
			break;
		default:
			return bw_seterr(err, BW_EUNSUPPORTED, d->path,
					 "VHD parent locator %u (at offset %llu): unknown platform code 0x%08x (expected W2ru, W2ku, Wi2r, Wi2k, Mac or MacX)",
					 i, (unsigned long long)at, code);
		}
		if (len > VHD_MAX_LOCATOR_LEN)
			return bw_seterr(err, BW_EUNSUPPORTED, d->path,
					 "VHD parent locator %u (at offset %llu): %u bytes of data (at most %u supported)",
					 i, (unsigned long long)at, len, VHD_MAX_LOCATOR_LEN);
		if (off > d->file_size || len > d->file_size - off)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VHD parent locator %u (at offset %llu): %u bytes of data at offset %llu lie past the end of the file (size %llu)",
					 i, (unsigned long long)at, len,
					 (unsigned long long)off,
					 (unsigned long long)d->file_size);
	}
	for (unsigned k = 0; k < sizeof order / sizeof order[0]; k++) {
		for (unsigned i = 0; i < VHD_DYN_NLOCATORS; i++) {
			const uint8_t *e = h + VHD_DYN_LOCATORS + VHD_LOC_SIZE * i;
			if (bw_get_be32(e + VHD_LOC_CODE) != order[k].code)
				continue;
			uint32_t len = bw_get_be32(e + VHD_LOC_LENGTH);
			uint64_t off = bw_get_be64(e + VHD_LOC_OFFSET);
			if (len == 0)
				continue;
			uint8_t data[VHD_MAX_LOCATOR_LEN];
			r = bw_disk_read_file(d, data, len, off, "VHD parent locator data", err);
			if (r)
				return r;
			char *path;
			if (order[k].code == VHD_PLAT_MACX) {
				path = strndup((const char *)data, len);
				if (!path)
					return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
				if (vhd_file_url_to_path(path) != 0) {
					r = bw_seterr(err, BW_EFORMAT, d->path,
						      "VHD parent locator %u: data at offset %llu is not a file URL: \"%.200s\"",
						      i, (unsigned long long)off, path);
					free(path);
					return r;
				}
			} else {
				r = vhd_utf16_to_utf8(d, data, len, 0, "VHD parent locator data",
						      off, &path, err);
				if (r)
					return r;
				vhd_backslashes(path);
			}
			if (path[0] == '\0') {
				free(path);
				continue;
			}
			if (order[k].code == VHD_PLAT_W2RU) {
				/* Hyper-V writes ".\parent.vhd": drop the "./". */
				const char *rel = path;
				while (rel[0] == '.' && rel[1] == '/')
					rel += 2;
				char *joined = bw_disk_chain_sibling(d->path, rel);
				free(path);
				path = joined;
			}
			/* W2ku normally names a drive ("C:/VMs/p.vhd" after
			 * the slash turn), which means nothing here: list it
			 * in the error, but do not look it up in the cwd. */
			int drive = order[k].code == VHD_PLAT_W2KU && path && path[0] != '/';
			r = vhd_candidate_add(d, c, path, order[k].from, drive, err);
			if (r)
				return r;
		}
	}
	char *name;
	r = vhd_utf16_to_utf8(d, h + VHD_DYN_PARENT_NAME, VHD_DYN_PARENT_NAME_LEN, 1,
			      "VHD parent name", dyn_off + VHD_DYN_PARENT_NAME, &name, err);
	if (r)
		return r;
	vhd_backslashes(name);
	/* The name may be a whole Windows path (.avhd files): keep its
	 * last component, looked for beside the child. */
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	r = 0;
	if (*base)
		r = vhd_candidate_add(d, c, bw_disk_chain_sibling(d->path, base), "parent name", 0, err);
	free(name);
	return r;
}

static void vhd_format_id(const uint8_t *id, char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8],
		 id[9], id[10], id[11], id[12], id[13], id[14], id[15]);
}

/*
 * Open PATH as the parent of CHILD (whose chain entry is ME).  Returns 0
 * with *OUT set, 1 when PATH does not exist (try the next candidate), or a
 * code: BW_EFORMAT (a loop in the chain, not a VHD, corrupt),
 * BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
static int vhd_open_parent_file(struct bw_disk *child, const char *path,
				const struct bw_disk_chain *me, struct bw_disk **out,
				struct bw_error *err)
{
	*out = NULL;
	struct bw_disk *p;
	int r = bw_disk_chain_open(child, path, me, &p, err);
	if (r)
		return r;
	uint8_t tail[VHD_FOOTER_SIZE];
	if (p->file_size < VHD_FOOTER_SIZE) {
		r = bw_seterr(err, BW_EFORMAT, path,
			      "parent of %s is not a VHD: %llu bytes, shorter than a footer",
			      child->path, (unsigned long long)p->file_size);
		goto fail;
	}
	r = bw_disk_read_file(p, tail, sizeof tail, p->file_size - VHD_FOOTER_SIZE,
			      "VHD footer", err);
	if (r)
		goto fail;
	if (memcmp(tail + VHD_FTR_COOKIE, "conectix", 8) != 0) {
		r = bw_seterr(err, BW_EFORMAT, path,
			      "parent of %s is not a VHD (no \"conectix\" footer at offset %llu)",
			      child->path,
			      (unsigned long long)(p->file_size - VHD_FOOTER_SIZE));
		goto fail;
	}
	p->ops = &bw_disk_vhd_ops;
	r = vhd_open_image(p, me, err);
	if (r)
		goto fail;
	*out = p;
	return 0;
fail:
	bw_disk_close(p);    /* closes fd, frees path and a half-built priv */
	return r;
}

/*
 * Find, open and check the parent of differencing image D (header H read
 * at DYN_OFF).  BELOW is the chain under D.  Returns 0 or a code.
 */
static int vhd_open_parent(struct bw_disk *d, struct vhd *v, const uint8_t *h,
			   uint64_t dyn_off, const struct bw_disk_chain *below,
			   struct bw_error *err)
{
	struct bw_disk_chain me;
	int r = bw_disk_chain_enter(d, below, "VHD", &me, err);
	if (r)
		return r;
	struct vhd_candidates cand = { .n = 0 };
	r = vhd_parent_candidates(d, h, dyn_off, &cand, err);
	if (r)
		goto out;
	if (cand.n == 0) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHD: no parent locator or parent name to find the parent by (dynamic header at offset %llu)",
			      (unsigned long long)dyn_off);
		goto out;
	}
	struct bw_disk *p = NULL;
	unsigned i;
	for (i = 0, r = 1; i < cand.n; i++) {
		if (cand.unusable[i])
			continue;
		r = vhd_open_parent_file(d, cand.path[i], &me, &p, err);
		if (r <= 0)
			break;
	}
	if (r > 0) {
		char tried[BW_ERROR_MSG_MAX / 2];
		size_t n = 0;
		tried[0] = '\0';
		for (unsigned k = 0; k < cand.n && n < sizeof tried; k++) {
			int w = snprintf(tried + n, sizeof tried - n, "%s%s (%s%s)",
					 k ? ", " : "", cand.path[k], cand.from[k],
					 cand.unusable[k] ? ", a Windows drive path" : "");
			n = w < 0 ? sizeof tried : n + (size_t)w;
		}
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHD: parent not found; tried %s", tried);
		goto out;
	}
	if (r)
		goto out;
	v->parent = p;
	const uint8_t *pid = ((struct vhd *)p->priv)->footer + VHD_FTR_UNIQUE_ID;
	const uint8_t *want = h + VHD_DYN_PARENT_ID;
	if (memcmp(pid, want, 16) != 0) {
		char found[37], expected[37];
		vhd_format_id(pid, found);
		vhd_format_id(want, expected);
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHD: parent %s (%s) has unique id %s, child expects %s (dynamic header offset %llu)",
			      p->path, cand.from[i], found, expected,
			      (unsigned long long)(dyn_off + VHD_DYN_PARENT_ID));
		goto out;
	}
	if (p->size != d->size) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHD: parent %s has virtual size %llu, child has %llu",
			      p->path, (unsigned long long)p->size,
			      (unsigned long long)d->size);
		goto out;
	}
	v->bitmap = malloc(v->bitmap_size);
	if (!v->bitmap)
		r = bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
out:
	vhd_candidates_free(&cand);
	return r;   /* on error vhd_close frees v->parent */
}

/* ---- open ---------------------------------------------------------------- */

static int vhd_open_image(struct bw_disk *d, const struct bw_disk_chain *below,
			  struct bw_error *err)
{
	struct vhd *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	d->priv = v;
	if (d->file_size < VHD_FOOTER_SIZE)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD truncated: %llu bytes, shorter than its 512-byte footer",
				 (unsigned long long)d->file_size);
	uint64_t foff = d->file_size - VHD_FOOTER_SIZE;
	int r = bw_disk_read_file(d, v->footer, VHD_FOOTER_SIZE, foff, "VHD footer", err);
	if (r)
		return r;
	if (memcmp(v->footer, "conectix", 8) != 0) {
		/* Only the copy at 0 is there: the file was cut short. */
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD footer missing at offset %llu (expected cookie \"conectix\"): the file is truncated",
				 (unsigned long long)foff);
	}
	const uint8_t *f = v->footer;
	uint32_t stored = bw_get_be32(f + VHD_FTR_CHECKSUM);
	uint32_t calc = vhd_checksum(f, VHD_FOOTER_SIZE, VHD_FTR_CHECKSUM);
	if (stored != calc)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD footer at offset %llu: checksum mismatch (expected 0x%08x, found 0x%08x)",
				 (unsigned long long)foff, calc, stored);
	uint32_t version = bw_get_be32(f + VHD_FTR_VERSION);
	if (version != VHD_VERSION_1)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHD footer at offset %llu: file format version 0x%08x (expected 0x%08x)",
				 (unsigned long long)(foff + VHD_FTR_VERSION), version, VHD_VERSION_1);
	/* Current size, not CHS: Hyper-V and libvhdi do so (FORMATS.md). */
	uint64_t size = bw_get_be64(f + VHD_FTR_CURRENT_SIZE);
	if (size % 512 || size > VHD_MAX_SIZE)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD footer at offset %llu: current size %llu is not a multiple of 512 up to %llu",
				 (unsigned long long)(foff + VHD_FTR_CURRENT_SIZE),
				 (unsigned long long)size, (unsigned long long)VHD_MAX_SIZE);
	d->size = size;
	v->type = bw_get_be32(f + VHD_FTR_DISK_TYPE);
	uint64_t dyn_off = bw_get_be64(f + VHD_FTR_DATA_OFFSET);
	uint8_t h[VHD_DYN_SIZE];
	switch (v->type) {
	case VHD_TYPE_FIXED:
		if (size > foff)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "fixed VHD truncated: current size %llu but only %llu data bytes before the footer",
					 (unsigned long long)size, (unsigned long long)foff);
		d->format = "vhd-fixed";
		return 0;
	case VHD_TYPE_DYNAMIC:
		d->format = "vhd-dynamic";
		return vhd_open_dynamic(d, v, dyn_off, h, err);
	case VHD_TYPE_DIFFERENCING:
		d->format = "vhd-differencing";
		r = vhd_open_dynamic(d, v, dyn_off, h, err);
		if (r)
			return r;
		memcpy(v->header, h, sizeof v->header);
		return vhd_open_parent(d, v, h, dyn_off, below, err);
	default:
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHD footer at offset %llu: disk type %u (expected 2 fixed, 3 dynamic or 4 differencing)",
				 (unsigned long long)(foff + VHD_FTR_DISK_TYPE), v->type);
	}
}

static int vhd_open(struct bw_disk *d, struct bw_error *err)
{
	return vhd_open_image(d, NULL, err);
}

/* ---- reads --------------------------------------------------------------- */

static inline int vhd_bit(const uint8_t *bitmap, uint32_t sector)
{
	/* Most significant bit first (spec: "sector bitmap"; libvhdi). */
	return bitmap[sector / 8] >> (7 - sector % 8) & 1;
}

/*
 * Bytes [IN, IN+N) of differencing block BLK, allocated at sector E: runs
 * of sectors whose bitmap bit is set come from this file, the others from
 * the parent.  Only the bitmap bytes covering the range are read, once.
 */
static int vhd_pread_diff(struct bw_disk *d, struct vhd *v, uint8_t *buf,
			  size_t n, uint64_t blk, uint32_t in, uint32_t e,
			  struct bw_error *err)
{
	uint64_t block_pos = (uint64_t)e * 512;
	uint64_t vbase = blk * v->block_size;    /* virtual offset of the block */
	uint32_t end = in + (uint32_t)n;         /* <= block_size <= 2^28 */
	uint32_t b0 = in / 512 / 8, b1 = (end - 1) / 512 / 8;
	int r = bw_disk_read_file(d, v->bitmap + b0, b1 - b0 + 1, block_pos + b0,
				  "VHD sector bitmap", err);
	if (r)
		return r;
	uint32_t pos = in;
	while (pos < end) {
		uint32_t sector = pos / 512;
		int mine = vhd_bit(v->bitmap, sector);
		uint32_t stop = (sector + 1) * 512;
		while (stop < end && vhd_bit(v->bitmap, stop / 512) == mine)
			stop += 512;
		if (stop > end)
			stop = end;
		uint8_t *dst = buf + (pos - in);
		if (mine)
			r = bw_disk_read_file(d, dst, stop - pos,
					      block_pos + v->bitmap_size + pos,
					      "VHD block", err);
		else
			r = bw_disk_pread(v->parent, dst, stop - pos, vbase + pos, err);
		if (r)
			return r;
		pos = stop;
	}
	return 0;
}

static int vhd_pread(struct bw_disk *d, uint8_t *buf, size_t len, uint64_t off,
		     struct bw_error *err)
{
	struct vhd *v = d->priv;
	if (v->type == VHD_TYPE_FIXED)
		return bw_disk_read_file(d, buf, len, off, "VHD data", err);
	while (len > 0) {
		uint64_t blk = off / v->block_size;
		uint32_t in = (uint32_t)(off % v->block_size);
		size_t n = v->block_size - in;
		if (n > len)
			n = len;
		uint32_t e = v->bat[blk];   /* blk < nentries: size checked at open */
		int r = 0;
		if (v->parent && e == VHD_BAT_UNUSED) {
			/* Same size as ours, checked at open. */
			r = bw_disk_pread(v->parent, buf, n, off, err);
		} else if (v->parent) {
			r = vhd_pread_diff(d, v, buf, n, blk, in, e, err);
		} else if (e == VHD_BAT_UNUSED) {
			memset(buf, 0, n);
		} else {
			/* The sector bitmap is not consulted for dynamic disks:
			 * every writer sets it fully, and qemu reads the same way. */
			uint64_t pos = (uint64_t)e * 512 + v->bitmap_size + in;
			r = bw_disk_read_file(d, buf, n, pos, "VHD block", err);
		}
		if (r)
			return r;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* ---- allocation map ---------------------------------------------------- */

/* The first run of allocated blocks at or after OFF (< d->size), clipped
 * to [OFF, size).  Returns 1 or 0 (none). */
static int vhd_bat_next(const struct bw_disk *d, const struct vhd *v, uint64_t off,
			uint64_t *start, uint64_t *end)
{
	uint64_t blk = off / v->block_size;
	uint64_t nblk = (d->size + v->block_size - 1) / v->block_size;
	while (blk < nblk && v->bat[blk] == VHD_BAT_UNUSED)
		blk++;
	if (blk >= nblk)
		return 0;
	uint64_t first = blk;
	while (blk < nblk && v->bat[blk] != VHD_BAT_UNUSED)
		blk++;
	uint64_t s = first * v->block_size;
	*start = s > off ? s : off;
	*end = blk * v->block_size;
	if (*end > d->size)
		*end = d->size;
	return 1;
}

/*
 * Differencing: the union of our allocated blocks and the parent's map.
 * The run that starts first is returned, grown while a run of either
 * side begins at or before its end, so that runs come out maximal.
 */
static int vhd_diff_next(struct bw_disk *d, struct vhd *v, uint64_t off,
			 uint64_t *start, uint64_t *end, struct bw_error *err)
{
	uint64_t cs = 0, ce = 0, ps = 0, pe = 0;
	int rc = vhd_bat_next(d, v, off, &cs, &ce);
	int rp = bw_disk_next_data(v->parent, off, &ps, &pe, err);
	if (rp < 0)
		return rp;
	if (!rc && !rp)
		return 0;
	uint64_t s, e;
	if (rc && (!rp || cs <= ps)) {
		s = cs;
		e = ce;
		if (rp && ps <= e && pe > e)
			e = pe;
	} else {
		s = ps;
		e = pe;
		if (rc && cs <= e && ce > e)
			e = ce;
	}
	while (e < d->size) {
		uint64_t grown = e;
		if (vhd_bat_next(d, v, e, &cs, &ce) && cs == e && ce > grown)
			grown = ce;
		rp = bw_disk_next_data(v->parent, e, &ps, &pe, err);
		if (rp < 0)
			return rp;
		if (rp && ps == e && pe > grown)
			grown = pe;
		if (grown == e)
			break;
		e = grown;
	}
	*start = s;
	*end = e;
	return 1;
}

static int vhd_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
			 uint64_t *end, struct bw_error *err)
{
	struct vhd *v = d->priv;
	if (v->type == VHD_TYPE_FIXED) {
		off_t s = lseek(d->fd, (off_t)off, SEEK_DATA);
		if (s < 0 || (uint64_t)s >= d->size) {
			if (s >= 0)
				return 0;
			*start = off;
			*end = d->size;
			return 1;
		}
		off_t e = lseek(d->fd, s, SEEK_HOLE);
		*start = (uint64_t)s;
		*end = (e < 0 || (uint64_t)e > d->size) ? d->size : (uint64_t)e;
		return 1;
	}
	if (v->parent)
		return vhd_diff_next(d, v, off, start, end, err);
	return vhd_bat_next(d, v, off, start, end);
}

static void vhd_info(struct bw_disk *d, struct bw_disk_info *info)
{
	struct vhd *v = d->priv;
	memcpy(info->creator, v->footer + VHD_FTR_CREATOR_APP, 4);
	info->creator[4] = '\0';
	info->block_size = v->block_size;
	info->cylinders = bw_get_be16(v->footer + VHD_FTR_GEOMETRY);
	info->heads = v->footer[VHD_FTR_GEOMETRY + 2];
	info->sectors_per_track = v->footer[VHD_FTR_GEOMETRY + 3];
	info->has_vhd_footer = 1;
	memcpy(info->vhd_footer, v->footer, sizeof info->vhd_footer);
}

static struct bw_disk *vhd_parent(struct bw_disk *d)
{
	return ((struct vhd *)d->priv)->parent;
}

int bw_disk_vhd_link(struct bw_disk *d, struct bw_vhd_link *l,
		     struct bw_error *err)
{
	memset(l, 0, sizeof *l);
	if (d->ops != &bw_disk_vhd_ops || !((struct vhd *)d->priv)->parent)
		return bw_seterr(err, BW_EINVAL, d->path, "not a differencing VHD");
	const struct vhd *v = d->priv;
	memcpy(l->header, v->header, sizeof l->header);
	/* Every entry was checked at open: known code, data inside the
	 * file, at most VHD_MAX_LOCATOR_LEN bytes. */
	for (unsigned i = 0; i < VHD_DYN_NLOCATORS; i++) {
		const uint8_t *e = v->header + VHD_DYN_LOCATORS + VHD_LOC_SIZE * i;
		if (bw_get_be32(e + VHD_LOC_CODE) == VHD_PLAT_NONE)
			continue;
		l->loc_len[i] = bw_get_be32(e + VHD_LOC_LENGTH);
		int r = bw_disk_read_file(d, l->loc_data[i], l->loc_len[i],
					  bw_get_be64(e + VHD_LOC_OFFSET),
					  "VHD parent locator data", err);
		if (r)
			return r;
	}
	return 0;
}

/* Also frees a half-built handle: a failed open leaves priv for us. */
static void vhd_close(struct bw_disk *d)
{
	struct vhd *v = d->priv;
	if (v) {
		bw_disk_close(v->parent);
		free(v->bitmap);
		free(v->bat);
	}
	free(v);
	d->priv = NULL;
}

const struct bw_disk_ops bw_disk_vhd_ops = {
	.name = "vhd",
	.probe = vhd_probe,
	.open = vhd_open,
	.pread = vhd_pread,
	.next_data = vhd_next_data,
	.info = vhd_info,
	.parent = vhd_parent,
	.close = vhd_close,
};

/*
 * VHD (Microsoft Virtual Hard Disk Image Format Specification, October
 * 2006; qemu block/vpc.c for producers' quirks): fixed (type 2) and dynamic
 * (type 3) images, read side.  All fields are big-endian.
 *
 * Everything is validated at open: footer checksum, dynamic header
 * checksum, block size a power of two, table inside the file, every BAT
 * entry's block inside the file.  pread then trusts the handle.
 *
 * Differencing images (type 4) are recognised and refused here until the
 * parent-locator code lands (issue 8).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "disk/disk_internal.h"

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

/* Dynamic disk header (spec "Dynamic Disk Header Format"), 1024 bytes. */
#define VHD_DYN_SIZE          1024
#define VHD_DYN_COOKIE        0   /* "cxsparse" */
#define VHD_DYN_TABLE_OFFSET  16
#define VHD_DYN_VERSION       24
#define VHD_DYN_MAX_ENTRIES   28
#define VHD_DYN_BLOCK_SIZE    32
#define VHD_DYN_CHECKSUM      36

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

struct vhd {
	uint8_t footer[VHD_FOOTER_SIZE];
	uint32_t type;
	uint32_t block_size;
	uint32_t bitmap_size;       /* sector bitmap before each block, padded */
	uint32_t nentries;
	uint32_t *bat;              /* host-endian sector offsets */
};

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

static int vhd_open_dynamic(struct bw_disk *d, struct vhd *v, uint64_t dyn_off,
			    struct bw_error *err)
{
	uint8_t h[VHD_DYN_SIZE];
	if (dyn_off > d->file_size || VHD_DYN_SIZE > d->file_size - dyn_off)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD dynamic header offset %llu is outside the file (size %llu)",
				 (unsigned long long)dyn_off,
				 (unsigned long long)d->file_size);
	int r = bw_disk_read_file(d, h, sizeof h, dyn_off, "VHD dynamic header", err);
	if (r)
		return r;
	if (memcmp(h + VHD_DYN_COOKIE, "cxsparse", 8) != 0)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHD dynamic header at offset %llu: expected cookie \"cxsparse\"",
				 (unsigned long long)dyn_off);
	uint32_t stored = bw_get_be32(h + VHD_DYN_CHECKSUM);
	uint32_t calc = vhd_checksum(h, sizeof h, VHD_DYN_CHECKSUM);
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
	/* One bit per sector, padded to a whole sector (spec). */
	v->bitmap_size = ((bs / 512 / 8) + 511) & ~511u;
	v->bat = malloc(table_len ? table_len : 1);
	if (!v->bat)
		return bw_seterr(err, BW_ENOMEM, d->path,
				 "out of memory for a %llu-byte BAT",
				 (unsigned long long)table_len);
	uint8_t *raw = (uint8_t *)v->bat;
	r = bw_disk_read_file(d, raw, (size_t)table_len, table, "VHD block allocation table", err);
	if (r)
		return r;
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
	}
	return 0;
}

static int vhd_open(struct bw_disk *d, struct bw_error *err)
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
		return vhd_open_dynamic(d, v, bw_get_be64(f + VHD_FTR_DATA_OFFSET), err);
	case VHD_TYPE_DIFFERENCING:
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "differencing VHD: reading through the parent is not supported yet");
	default:
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHD footer at offset %llu: disk type %u (expected 2 fixed, 3 dynamic or 4 differencing)",
				 (unsigned long long)(foff + VHD_FTR_DISK_TYPE), v->type);
	}
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
		if (e == VHD_BAT_UNUSED) {
			memset(buf, 0, n);
		} else {
			/* The sector bitmap is not consulted for dynamic disks:
			 * every writer sets it fully, and qemu reads the same way. */
			uint64_t pos = (uint64_t)e * 512 + v->bitmap_size + in;
			int r = bw_disk_read_file(d, buf, n, pos, "VHD block", err);
			if (r)
				return r;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vhd_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
			 uint64_t *end, struct bw_error *err)
{
	struct vhd *v = d->priv;
	(void)err;
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

static void vhd_info(struct bw_disk *d, struct bw_disk_info *info)
{
	struct vhd *v = d->priv;
	memcpy(info->creator, v->footer + VHD_FTR_CREATOR_APP, 4);
	info->creator[4] = '\0';
	info->block_size = v->block_size;
	info->cylinders = bw_get_be16(v->footer + VHD_FTR_GEOMETRY);
	info->heads = v->footer[VHD_FTR_GEOMETRY + 2];
	info->sectors_per_track = v->footer[VHD_FTR_GEOMETRY + 3];
}

static void vhd_close(struct bw_disk *d)
{
	struct vhd *v = d->priv;
	if (v)
		free(v->bat);
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
	.close = vhd_close,
};

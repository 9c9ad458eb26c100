/*
 * VHDX (Microsoft [MS-VHDX] v20160714; qemu block/vhdx.c and libvhdi for
 * what producers write): fixed, dynamic and differencing images, read
 * side.  All fields are little-endian; offsets are in vhdx_format.h.
 *
 * Everything is validated at open, hivex-style, so that pread and the
 * allocation map trust the handle:
 *   - the file identifier "vhdxfile";
 *   - both headers (signature, CRC-32C): the valid one with the higher
 *     sequence number is current (2.2.2); two valid headers with equal
 *     numbers must be identical (Disk2VHD writes such pairs; qemu accepts
 *     them too).  Its version, log version and log region are checked;
 *   - the log: a non-zero LogGuid means changes may sit in the log and
 *     not yet in the BAT or the blocks.  We do not replay it: the image
 *     is refused with BW_EUNSUPPORTED and how to replay it (2.3);
 *   - both region tables (signature, CRC-32C, entry count): the first
 *     valid one is used (Hyper-V writes them identical; qemu reads only
 *     the first), so one damaged copy is survivable.  Entries must be
 *     1 MiB aligned, inside the file, outside the header area, not
 *     overlapping each other or the log; BAT and metadata must be there
 *     once each; an unknown region marked Required is BW_EUNSUPPORTED;
 *   - the metadata table and items (2.6): File Parameters (block size a
 *     power of two 1-256 MiB, known flags only), Virtual Disk Size (up to
 *     64 TiB, a multiple of the logical sector), Logical and Physical
 *     Sector Size (512 or 4096), Page 83 Data, and the Parent Locator
 *     when HasParent is set; an unknown item marked IsRequired is
 *     BW_EUNSUPPORTED;
 *   - the BAT (2.5): its size from the chunk ratio (payload entries with
 *     a sector bitmap entry after every chunk), every entry's state known
 *     for its kind and, when it has data, its block inside the file and
 *     outside the header area, the log, the BAT and the metadata.
 *
 * A differencing image (HasParent) reads a sector from its own file when
 * its block is fully present, or partially present with the sector's bit
 * set in the chunk's sector bitmap (bit 0 of byte 0 first, 2.4); from the
 * parent when the block is not present, undefined or unmapped, or the bit
 * is clear; zeros when the block is ZERO.  The parent is found through the
 * parent locator (relative_path beside the child, then absolute paths
 * that mean something here, then the file name beside the child) and
 * must carry the DataWriteGuid named by parent_linkage (or
 * parent_linkage2) and the child's size and logical sector size.  The
 * chain of open images is walked by chain.c, as for VHD, so that a loop
 * or a chain deeper than BW_DISK_CHAIN_MAX is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/utf16.h"
#include "disk/chain.h"
#include "disk/disk_internal.h"
#include "disk/vhdx_format.h"

/* BAT entries: a 64 TiB disk of 1 MiB blocks needs 2^26 payload entries
 * plus one sector bitmap entry per 4096; 2^27 bounds every valid image
 * (1 GiB of table, which the file itself must hold). */
#define VHDX_MAX_BAT_ENTRIES    (UINT64_C(1) << 27)
/* A parent locator holds a few paths: 64 KiB is far past PATH_MAX. */
#define VHDX_MAX_LOCATOR_LEN    (64u * 1024)
#define VHDX_MAX_LOCATOR_KEYS   256u

static const uint8_t guid_bat[16] = VHDX_GUID_BAT;
static const uint8_t guid_metadata[16] = VHDX_GUID_METADATA;
static const uint8_t guid_file_parameters[16] = VHDX_GUID_FILE_PARAMETERS;
static const uint8_t guid_virtual_disk_size[16] = VHDX_GUID_VIRTUAL_DISK_SIZE;
static const uint8_t guid_page83[16] = VHDX_GUID_PAGE83;
static const uint8_t guid_logical_sector[16] = VHDX_GUID_LOGICAL_SECTOR;
static const uint8_t guid_physical_sector[16] = VHDX_GUID_PHYSICAL_SECTOR;
static const uint8_t guid_parent_locator[16] = VHDX_GUID_PARENT_LOCATOR;
static const uint8_t guid_locator_vhdx[16] = VHDX_GUID_LOCATOR_VHDX;

struct vhdx {
	uint32_t block_size;
	uint32_t logical_sector;
	uint32_t physical_sector;
	uint32_t chunk_ratio;       /* payload blocks per sector bitmap block */
	uint32_t flags;             /* File Parameters flags */
	uint64_t nblocks;           /* payload blocks covering the size */
	uint64_t nentries;          /* BAT entries */
	uint64_t *bat;              /* host-endian entries */
	uint64_t bat_offset;        /* file offset of the BAT region */
	uint8_t data_write_guid[16];
	uint8_t page83[16];
	struct bw_disk *parent;     /* differencing: the open parent */
	uint8_t *bitmap;            /* differencing: one block's sector bits */
	uint8_t *locator;           /* differencing: the Parent Locator item */
	uint32_t locator_len;
	uint32_t unknown_items;     /* optional metadata items we skipped */
	uint64_t unknown_at;        /* file offset of the first one's entry */
};

/* A byte range of the file that nothing else may overlap. */
struct vhdx_range {
	uint64_t off, len;
	const char *what;
};

static int vhdx_open_image(struct bw_disk *d, const struct bw_disk_chain *below,
			   struct bw_error *err);

static int vhdx_probe(const uint8_t *head, const uint8_t *tail, uint64_t file_size)
{
	(void)tail;
	(void)file_size;
	return memcmp(head + VHDX_FID_SIGNATURE, "vhdxfile", 8) == 0;
}

/* CRC-32C of LEN bytes at P with the checksum field at offset 4 taken as
 * zero (2.2.2, 2.2.3). */
static uint32_t vhdx_checksum(const uint8_t *p, size_t len)
{
	static const uint8_t zero[4];
	uint32_t c = bw_crc32c(0, p, 4);
	c = bw_crc32c(c, zero, 4);
	return bw_crc32c(c, p + 8, len - 8);
}

static int vhdx_is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A GUID in its text form, as Windows shows it. */
static void vhdx_format_guid(const uint8_t g[16], char out[39])
{
	snprintf(out, 39,
		 "{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
		 bw_get_le32(g), bw_get_le16(g + 4), bw_get_le16(g + 6),
		 g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* Does [OFF, OFF+LEN) overlap [R->off, R->off+R->len)?  No overflow:
 * every range was checked to lie inside the file first. */
static int vhdx_overlaps(uint64_t off, uint64_t len, const struct vhdx_range *r)
{
	return len && r->len && off < r->off + r->len && r->off < off + len;
}

/* ---- headers --------------------------------------------------------- */

/* Read header N (1 or 2) into H; returns 1 valid, 0 not (REASON set), or
 * a negative code for an I/O error. */
static int vhdx_read_header(struct bw_disk *d, unsigned n, uint8_t h[VHDX_HEADER_SIZE],
			    char *reason, size_t reason_len, struct bw_error *err)
{
	uint64_t off = n == 1 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET;
	if (off + VHDX_HEADER_SIZE > d->file_size) {
		snprintf(reason, reason_len,
			 "header %u at offset %llu lies past the end of the file (size %llu)",
			 n, (unsigned long long)off, (unsigned long long)d->file_size);
		return 0;
	}
	int r = bw_disk_read_file(d, h, VHDX_HEADER_SIZE, off, "VHDX header", err);
	if (r)
		return r;
	if (memcmp(h + VHDX_HDR_SIGNATURE, "head", 4) != 0) {
		snprintf(reason, reason_len,
			 "header %u at offset %llu: no \"head\" signature (found %02x %02x %02x %02x)",
			 n, (unsigned long long)off, h[0], h[1], h[2], h[3]);
		return 0;
	}
	uint32_t stored = bw_get_le32(h + VHDX_HDR_CHECKSUM);
	uint32_t calc = vhdx_checksum(h, VHDX_HEADER_SIZE);
	if (stored != calc) {
		snprintf(reason, reason_len,
			 "header %u at offset %llu: CRC-32C mismatch (expected 0x%08x, found 0x%08x)",
			 n, (unsigned long long)off, calc, stored);
		return 0;
	}
	return 1;
}

/*
 * Pick the current header into H (2.2.2) and check its version, log
 * version, log region and LogGuid.  LOG receives the log region.
 * Returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_EIO.
 */
static int vhdx_open_headers(struct bw_disk *d, uint8_t h[VHDX_HEADER_SIZE],
			     struct vhdx_range *log, struct bw_error *err)
{
	uint8_t *h2 = malloc(VHDX_HEADER_SIZE);
	if (!h2)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	char why1[200] = "", why2[200] = "";
	int r;
	int ok1 = vhdx_read_header(d, 1, h, why1, sizeof why1, err);
	int ok2 = ok1 < 0 ? 0 : vhdx_read_header(d, 2, h2, why2, sizeof why2, err);
	if (ok1 < 0 || ok2 < 0) {
		r = ok1 < 0 ? ok1 : ok2;
		goto out;
	}
	unsigned cur = 1;
	uint64_t off = VHDX_HEADER1_OFFSET;
	if (!ok1 && !ok2) {
		r = bw_seterr(err, BW_EFORMAT, d->path, "no valid VHDX header: %s; %s",
			      why1, why2);
		goto out;
	}
	if (ok1 && ok2) {
		uint64_t s1 = bw_get_le64(h + VHDX_HDR_SEQUENCE);
		uint64_t s2 = bw_get_le64(h2 + VHDX_HDR_SEQUENCE);
		if (s1 == s2 && memcmp(h, h2, VHDX_HEADER_SIZE) != 0) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX headers at offsets %u and %u differ but carry the same sequence number %llu: cannot tell which is current",
				      VHDX_HEADER1_OFFSET, VHDX_HEADER2_OFFSET,
				      (unsigned long long)s1);
			goto out;
		}
		if (s2 > s1)
			cur = 2;
	} else if (ok2) {
		cur = 2;
	}
	if (cur == 2) {
		memcpy(h, h2, VHDX_HEADER_SIZE);
		off = VHDX_HEADER2_OFFSET;
	}
	uint16_t version = bw_get_le16(h + VHDX_HDR_VERSION);
	uint16_t log_version = bw_get_le16(h + VHDX_HDR_LOG_VERSION);
	if (version != VHDX_VERSION || log_version != VHDX_LOG_VERSION) {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VHDX header %u at offset %llu: version %u, log version %u (expected %u and %u)",
			      cur, (unsigned long long)(off + VHDX_HDR_LOG_VERSION),
			      version, log_version, VHDX_VERSION, VHDX_LOG_VERSION);
		goto out;
	}
	/* We refuse instead of replaying (see the head of this file). */
	if (!vhdx_is_zero(h + VHDX_HDR_LOG_GUID, 16)) {
		char g[39];
		vhdx_format_guid(h + VHDX_HDR_LOG_GUID, g);
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VHDX header %u at offset %llu: the image has an unreplayed log (LogGuid %s, expected none); replay it by attaching the disk once in Hyper-V, or with `qemu-img check -r all` on a copy",
			      cur, (unsigned long long)(off + VHDX_HDR_LOG_GUID), g);
		goto out;
	}
	log->off = bw_get_le64(h + VHDX_HDR_LOG_OFFSET);
	log->len = bw_get_le32(h + VHDX_HDR_LOG_LENGTH);
	log->what = "log";
	if (log->len && (log->off % VHDX_MiB || log->len % VHDX_MiB ||
			 log->off < VHDX_HEADER_AREA || log->off > d->file_size ||
			 log->len > d->file_size - log->off)) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX header %u at offset %llu: log of %llu bytes at offset %llu is not 1 MiB aligned past the header area inside the file (size %llu)",
			      cur, (unsigned long long)(off + VHDX_HDR_LOG_LENGTH),
			      (unsigned long long)log->len, (unsigned long long)log->off,
			      (unsigned long long)d->file_size);
		goto out;
	}
	r = 0;
out:
	free(h2);
	return r;
}

/* ---- region tables ----------------------------------------------------- */

/* Read region table N into T; 1 valid, 0 not (REASON set), or a code. */
static int vhdx_read_region_table(struct bw_disk *d, unsigned n, uint8_t *t,
				  char *reason, size_t reason_len,
				  struct bw_error *err)
{
	uint64_t off = n == 1 ? VHDX_REGION1_OFFSET : VHDX_REGION2_OFFSET;
	if (off + VHDX_REGION_SIZE > d->file_size) {
		snprintf(reason, reason_len,
			 "region table %u at offset %llu lies past the end of the file (size %llu)",
			 n, (unsigned long long)off, (unsigned long long)d->file_size);
		return 0;
	}
	int r = bw_disk_read_file(d, t, VHDX_REGION_SIZE, off, "VHDX region table", err);
	if (r)
		return r;
	if (memcmp(t + VHDX_RT_SIGNATURE, "regi", 4) != 0) {
		snprintf(reason, reason_len,
			 "region table %u at offset %llu: no \"regi\" signature",
			 n, (unsigned long long)off);
		return 0;
	}
	uint32_t stored = bw_get_le32(t + VHDX_RT_CHECKSUM);
	uint32_t calc = vhdx_checksum(t, VHDX_REGION_SIZE);
	if (stored != calc) {
		snprintf(reason, reason_len,
			 "region table %u at offset %llu: CRC-32C mismatch (expected 0x%08x, found 0x%08x)",
			 n, (unsigned long long)off, calc, stored);
		return 0;
	}
	uint32_t count = bw_get_le32(t + VHDX_RT_ENTRY_COUNT);
	if (count > VHDX_MAX_REGION_ENTRIES) {
		snprintf(reason, reason_len,
			 "region table %u at offset %llu: %u entries (at most %u)",
			 n, (unsigned long long)(off + VHDX_RT_ENTRY_COUNT), count,
			 VHDX_MAX_REGION_ENTRIES);
		return 0;
	}
	return 1;
}

/*
 * Find the BAT and metadata regions (2.2.3) in the first valid region
 * table; RANGES[0] is the header area and RANGES[1] the log, filled in by
 * the caller; BAT and metadata are returned in RANGES[2] and RANGES[3].
 * Returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
static int vhdx_open_regions(struct bw_disk *d, struct vhdx_range ranges[4],
			     struct bw_error *err)
{
	uint8_t *t = malloc(VHDX_REGION_SIZE);
	struct vhdx_range *seen = calloc(VHDX_MAX_REGION_ENTRIES + 2, sizeof *seen);
	int r;
	if (!t || !seen) {
		r = bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
		goto out;
	}
	char why1[200] = "", why2[200] = "";
	unsigned n = 1;
	r = vhdx_read_region_table(d, 1, t, why1, sizeof why1, err);
	if (r == 0) {
		n = 2;
		r = vhdx_read_region_table(d, 2, t, why2, sizeof why2, err);
	}
	if (r < 0)
		goto out;
	if (r == 0) {
		r = bw_seterr(err, BW_EFORMAT, d->path, "no valid VHDX region table: %s; %s",
			      why1, why2);
		goto out;
	}
	uint64_t toff = n == 1 ? VHDX_REGION1_OFFSET : VHDX_REGION2_OFFSET;
	uint32_t count = bw_get_le32(t + VHDX_RT_ENTRY_COUNT);
	unsigned nseen = 2;
	seen[0] = ranges[0];
	seen[1] = ranges[1];
	int have_bat = 0, have_meta = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = t + VHDX_RT_ENTRIES + (size_t)VHDX_RT_ENTRY_SIZE * i;
		uint64_t at = toff + VHDX_RT_ENTRIES + (uint64_t)VHDX_RT_ENTRY_SIZE * i;
		uint64_t off = bw_get_le64(e + VHDX_RTE_FILE_OFFSET);
		uint64_t len = bw_get_le32(e + VHDX_RTE_LENGTH);
		uint32_t required = bw_get_le32(e + VHDX_RTE_REQUIRED);
		int is_bat = memcmp(e + VHDX_RTE_GUID, guid_bat, 16) == 0;
		int is_meta = memcmp(e + VHDX_RTE_GUID, guid_metadata, 16) == 0;
		char g[39];
		vhdx_format_guid(e + VHDX_RTE_GUID, g);
		if (!is_bat && !is_meta && (required & 1)) {
			r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
				      "VHDX region table %u entry %u (at offset %llu): unknown region %s is marked required",
				      n, i, (unsigned long long)at, g);
			goto out;
		}
		if (off % VHDX_MiB || len % VHDX_MiB || len == 0 || off < VHDX_HEADER_AREA ||
		    off > d->file_size || len > d->file_size - off) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX region table %u entry %u (at offset %llu): region %s of %llu bytes at offset %llu is not a non-empty 1 MiB aligned range past the header area inside the file (size %llu)",
				      n, i, (unsigned long long)at, g, (unsigned long long)len,
				      (unsigned long long)off, (unsigned long long)d->file_size);
			goto out;
		}
		for (unsigned k = 0; k < nseen; k++) {
			if (vhdx_overlaps(off, len, &seen[k])) {
				r = bw_seterr(err, BW_EFORMAT, d->path,
					      "VHDX region table %u entry %u (at offset %llu): region %s at offset %llu overlaps the %s at offset %llu",
					      n, i, (unsigned long long)at, g,
					      (unsigned long long)off, seen[k].what,
					      (unsigned long long)seen[k].off);
				goto out;
			}
		}
		seen[nseen++] = (struct vhdx_range){ off, len,
			is_bat ? "BAT" : is_meta ? "metadata region" : "region" };
		if ((is_bat && have_bat) || (is_meta && have_meta)) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX region table %u entry %u (at offset %llu): a second %s region",
				      n, i, (unsigned long long)at, is_bat ? "BAT" : "metadata");
			goto out;
		}
		if (is_bat) {
			have_bat = 1;
			ranges[2] = seen[nseen - 1];
		} else if (is_meta) {
			have_meta = 1;
			ranges[3] = seen[nseen - 1];
		}
	}
	if (!have_bat || !have_meta) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX region table %u at offset %llu: no %s region",
			      n, (unsigned long long)toff, have_bat ? "metadata" : "BAT");
		goto out;
	}
	r = 0;
out:
	free(t);
	free(seen);
	return r;
}

/* ---- metadata ----------------------------------------------------------- */

enum { MD_FILE_PARAMETERS, MD_VIRTUAL_DISK_SIZE, MD_PAGE83, MD_LOGICAL_SECTOR,
       MD_PHYSICAL_SECTOR, MD_PARENT_LOCATOR, MD_COUNT };

static const struct {
	const uint8_t *guid;
	const char *name;
	uint32_t min_len;
} vhdx_items[MD_COUNT] = {
	[MD_FILE_PARAMETERS]   = { guid_file_parameters, "File Parameters", VHDX_FP_LEN },
	[MD_VIRTUAL_DISK_SIZE] = { guid_virtual_disk_size, "Virtual Disk Size", VHDX_SIZE_LEN },
	[MD_PAGE83]            = { guid_page83, "Page 83 Data", VHDX_PAGE83_LEN },
	[MD_LOGICAL_SECTOR]    = { guid_logical_sector, "Logical Sector Size", VHDX_SECTOR_SIZE_LEN },
	[MD_PHYSICAL_SECTOR]   = { guid_physical_sector, "Physical Sector Size", VHDX_SECTOR_SIZE_LEN },
	[MD_PARENT_LOCATOR]    = { guid_parent_locator, "Parent Locator", VHDX_PL_ENTRIES },
};

/* An item's place: file offset and length (present when found). */
struct vhdx_item {
	int found;
	uint64_t off;
	uint32_t len;
};

/*
 * Walk the metadata table of the region META and decode the known items
 * into V; the parent locator's bytes, when there is one, go to *LOC
 * (malloc'd, *LOC_LEN bytes, at file offset *LOC_OFF).  Returns 0,
 * BW_EFORMAT, BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
static int vhdx_open_metadata(struct bw_disk *d, struct vhdx *v,
			      const struct vhdx_range *meta, uint8_t **loc,
			      uint32_t *loc_len, uint64_t *loc_off,
			      struct bw_error *err)
{
	struct vhdx_item items[MD_COUNT] = { { 0, 0, 0 } };
	*loc = NULL;
	if (meta->len < VHDX_MT_SIZE)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHDX metadata region at offset %llu: %llu bytes, shorter than its %u-byte table",
				 (unsigned long long)meta->off, (unsigned long long)meta->len,
				 VHDX_MT_SIZE);
	uint8_t *t = malloc(VHDX_MT_SIZE);
	if (!t)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	int r = bw_disk_read_file(d, t, VHDX_MT_SIZE, meta->off, "VHDX metadata table", err);
	if (r)
		goto out;
	if (memcmp(t + VHDX_MT_SIGNATURE, "metadata", 8) != 0) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX metadata table at offset %llu: no \"metadata\" signature",
			      (unsigned long long)meta->off);
		goto out;
	}
	uint16_t count = bw_get_le16(t + VHDX_MT_ENTRY_COUNT);
	if (count > VHDX_MAX_METADATA_ENTRIES) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX metadata table at offset %llu: %u entries (at most %u)",
			      (unsigned long long)(meta->off + VHDX_MT_ENTRY_COUNT), count,
			      VHDX_MAX_METADATA_ENTRIES);
		goto out;
	}
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *e = t + VHDX_MT_ENTRIES + (size_t)VHDX_MT_ENTRY_SIZE * i;
		uint64_t at = meta->off + VHDX_MT_ENTRIES + (uint64_t)VHDX_MT_ENTRY_SIZE * i;
		uint32_t off = bw_get_le32(e + VHDX_MTE_OFFSET);
		uint32_t len = bw_get_le32(e + VHDX_MTE_LENGTH);
		uint32_t flags = bw_get_le32(e + VHDX_MTE_FLAGS);
		/* Length 0 with offset 0 is an empty item (2.6.1.2). */
		if ((len == 0 && off != 0) ||
		    (len && (off < VHDX_MT_SIZE || len > VHDX_MAX_ITEM_LEN ||
			     off > meta->len || len > meta->len - off))) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX metadata entry %u (at offset %llu): item of %u bytes at offset %u does not lie in the metadata region (%llu bytes) past its table",
				      i, (unsigned long long)at, len, off,
				      (unsigned long long)meta->len);
			goto out;
		}
		unsigned k;
		for (k = 0; k < MD_COUNT; k++)
			if (memcmp(e + VHDX_MTE_ITEM_ID, vhdx_items[k].guid, 16) == 0)
				break;
		if (k == MD_COUNT) {
			if (flags & VHDX_MTE_IS_REQUIRED) {
				char g[39];
				vhdx_format_guid(e + VHDX_MTE_ITEM_ID, g);
				r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
					      "VHDX metadata entry %u (at offset %llu): unknown item %s is marked required",
					      i, (unsigned long long)at, g);
				goto out;
			}
			/* Readable without it; a writer keeping the image's
			 * metadata would lose it (bw_disk_vhdx_link). */
			if (v->unknown_items++ == 0)
				v->unknown_at = at;
			continue;
		}
		if (items[k].found) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX metadata entry %u (at offset %llu): a second %s item",
				      i, (unsigned long long)at, vhdx_items[k].name);
			goto out;
		}
		if (len < vhdx_items[k].min_len) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX metadata entry %u (at offset %llu): %s item of %u bytes (expected at least %u)",
				      i, (unsigned long long)at, vhdx_items[k].name, len,
				      vhdx_items[k].min_len);
			goto out;
		}
		items[k] = (struct vhdx_item){ 1, meta->off + off, len };
	}
	for (unsigned k = 0; k < MD_PARENT_LOCATOR; k++) {
		if (!items[k].found) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX metadata table at offset %llu: no %s item",
				      (unsigned long long)meta->off, vhdx_items[k].name);
			goto out;
		}
	}

	uint8_t fp[VHDX_FP_LEN], sz[VHDX_SIZE_LEN], ls[4], ps[4];
	if ((r = bw_disk_read_file(d, fp, sizeof fp, items[MD_FILE_PARAMETERS].off,
				   "VHDX File Parameters", err)) != 0 ||
	    (r = bw_disk_read_file(d, sz, sizeof sz, items[MD_VIRTUAL_DISK_SIZE].off,
				   "VHDX Virtual Disk Size", err)) != 0 ||
	    (r = bw_disk_read_file(d, v->page83, sizeof v->page83, items[MD_PAGE83].off,
				   "VHDX Page 83 Data", err)) != 0 ||
	    (r = bw_disk_read_file(d, ls, sizeof ls, items[MD_LOGICAL_SECTOR].off,
				   "VHDX Logical Sector Size", err)) != 0 ||
	    (r = bw_disk_read_file(d, ps, sizeof ps, items[MD_PHYSICAL_SECTOR].off,
				   "VHDX Physical Sector Size", err)) != 0)
		goto out;
	uint32_t bs = bw_get_le32(fp + VHDX_FP_BLOCK_SIZE);
	if (bs < VHDX_MIN_BLOCK_SIZE || bs > VHDX_MAX_BLOCK_SIZE || (bs & (bs - 1))) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX File Parameters at offset %llu: block size %u is not a power of two from %u to %u",
			      (unsigned long long)items[MD_FILE_PARAMETERS].off, bs,
			      VHDX_MIN_BLOCK_SIZE, VHDX_MAX_BLOCK_SIZE);
		goto out;
	}
	v->block_size = bs;
	v->flags = bw_get_le32(fp + VHDX_FP_FLAGS);
	if (v->flags & ~(VHDX_FP_LEAVE_ALLOCATED | VHDX_FP_HAS_PARENT)) {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VHDX File Parameters at offset %llu: unknown flags 0x%08x (known: 0x1 LeaveBlockAllocated, 0x2 HasParent)",
			      (unsigned long long)(items[MD_FILE_PARAMETERS].off + VHDX_FP_FLAGS),
			      v->flags);
		goto out;
	}
	v->logical_sector = bw_get_le32(ls);
	v->physical_sector = bw_get_le32(ps);
	if ((v->logical_sector != 512 && v->logical_sector != 4096) ||
	    (v->physical_sector != 512 && v->physical_sector != 4096)) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX metadata at offset %llu: logical sector size %u, physical %u (expected 512 or 4096)",
			      (unsigned long long)items[MD_LOGICAL_SECTOR].off,
			      v->logical_sector, v->physical_sector);
		goto out;
	}
	uint64_t size = bw_get_le64(sz);
	if (size > VHDX_MAX_SIZE) {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VHDX Virtual Disk Size at offset %llu: %llu bytes (at most %llu)",
			      (unsigned long long)items[MD_VIRTUAL_DISK_SIZE].off,
			      (unsigned long long)size, (unsigned long long)VHDX_MAX_SIZE);
		goto out;
	}
	if (size == 0 || size % v->logical_sector) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX Virtual Disk Size at offset %llu: %llu bytes is not a positive multiple of the %u-byte logical sector",
			      (unsigned long long)items[MD_VIRTUAL_DISK_SIZE].off,
			      (unsigned long long)size, v->logical_sector);
		goto out;
	}
	d->size = size;
	if (v->flags & VHDX_FP_HAS_PARENT) {
		struct vhdx_item *l = &items[MD_PARENT_LOCATOR];
		if (!l->found) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX File Parameters at offset %llu: HasParent is set but the metadata table at offset %llu has no Parent Locator item",
				      (unsigned long long)(items[MD_FILE_PARAMETERS].off + VHDX_FP_FLAGS),
				      (unsigned long long)meta->off);
			goto out;
		}
		if (l->len > VHDX_MAX_LOCATOR_LEN) {
			r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
				      "VHDX Parent Locator at offset %llu: %u bytes (at most %u supported)",
				      (unsigned long long)l->off, l->len, VHDX_MAX_LOCATOR_LEN);
			goto out;
		}
		*loc = malloc(l->len);
		if (!*loc) {
			r = bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
			goto out;
		}
		*loc_len = l->len;
		*loc_off = l->off;
		r = bw_disk_read_file(d, *loc, l->len, l->off, "VHDX Parent Locator", err);
		if (r) {
			free(*loc);
			*loc = NULL;
		}
	}
out:
	free(t);
	return r;
}

/* ---- BAT ------------------------------------------------------------------ */

static inline int vhdx_is_bitmap_entry(const struct vhdx *v, uint64_t i)
{
	return i % ((uint64_t)v->chunk_ratio + 1) == v->chunk_ratio;
}

/* BAT index of payload block B, and of the sector bitmap of its chunk. */
static inline uint64_t vhdx_payload_index(const struct vhdx *v, uint64_t b)
{
	return b + b / v->chunk_ratio;
}
static inline uint64_t vhdx_bitmap_index(const struct vhdx *v, uint64_t b)
{
	return b / v->chunk_ratio * ((uint64_t)v->chunk_ratio + 1) + v->chunk_ratio;
}

/*
 * Size, read and check the BAT (2.5).  RANGES: header area, log, BAT,
 * metadata.  Returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
static int vhdx_open_bat(struct bw_disk *d, struct vhdx *v,
			 const struct vhdx_range ranges[4], struct bw_error *err)
{
	const struct vhdx_range *batr = &ranges[2];
	int diff = (v->flags & VHDX_FP_HAS_PARENT) != 0;
	/* bs >= 2^20 and lss <= 2^12: the ratio is 2^23 * lss / bs >= 1. */
	v->chunk_ratio = (uint32_t)(VHDX_SECTORS_PER_BITMAP * v->logical_sector / v->block_size);
	v->nblocks = (d->size + v->block_size - 1) / v->block_size;
	uint64_t nchunks = (v->nblocks + v->chunk_ratio - 1) / v->chunk_ratio;
	v->nentries = diff ? nchunks * ((uint64_t)v->chunk_ratio + 1)
			   : v->nblocks + (v->nblocks - 1) / v->chunk_ratio;
	if (v->nentries > VHDX_MAX_BAT_ENTRIES)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHDX: %llu BAT entries for %llu bytes in %u-byte blocks (at most %llu supported)",
				 (unsigned long long)v->nentries, (unsigned long long)d->size,
				 v->block_size, (unsigned long long)VHDX_MAX_BAT_ENTRIES);
	uint64_t bytes = v->nentries * 8;
	if (bytes > batr->len)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHDX BAT region at offset %llu: %llu bytes cannot hold the %llu entries the size needs (%llu bytes)",
				 (unsigned long long)batr->off, (unsigned long long)batr->len,
				 (unsigned long long)v->nentries, (unsigned long long)bytes);
	v->bat_offset = batr->off;
	v->bat = malloc((size_t)bytes);
	if (!v->bat)
		return bw_seterr(err, BW_ENOMEM, d->path,
				 "out of memory for a %llu-byte BAT", (unsigned long long)bytes);
	uint8_t *raw = (uint8_t *)v->bat;
	int r = bw_disk_read_file(d, raw, (size_t)bytes, batr->off, "VHDX BAT", err);
	if (r)
		return r;
	for (uint64_t i = 0; i < v->nentries; i++) {
		uint64_t e = bw_get_le64(raw + 8 * i);
		v->bat[i] = e;
		uint64_t at = batr->off + 8 * i;
		unsigned state = (unsigned)(e & VHDX_BAT_STATE_MASK);
		int bitmap = vhdx_is_bitmap_entry(v, i);
		int known = bitmap ? state == VHDX_SB_NOT_PRESENT || state == VHDX_SB_PRESENT
				   : state <= VHDX_PAYLOAD_UNMAPPED ||
				     state == VHDX_PAYLOAD_FULLY_PRESENT ||
				     (diff && state == VHDX_PAYLOAD_PARTIALLY_PRESENT);
		if (!known || (e & VHDX_BAT_RESERVED_MASK))
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VHDX BAT entry %llu (at offset %llu): %s state %u, reserved bits 0x%05llx (expected a known state%s and no reserved bits)",
					 (unsigned long long)i, (unsigned long long)at,
					 bitmap ? "sector bitmap" : "payload", state,
					 (unsigned long long)((e & VHDX_BAT_RESERVED_MASK) >> 3),
					 !bitmap && !diff && state == VHDX_PAYLOAD_PARTIALLY_PRESENT
						 ? "; partially present needs a differencing image" : "");
		int has_data = bitmap ? state == VHDX_SB_PRESENT
				      : state >= VHDX_PAYLOAD_FULLY_PRESENT;
		if (!has_data)
			continue;
		uint64_t off = (e >> VHDX_BAT_OFFSET_SHIFT) * VHDX_MiB;
		uint64_t len = bitmap ? VHDX_SECTOR_BITMAP_SIZE : v->block_size;
		if (off > d->file_size || len > d->file_size - off)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VHDX BAT entry %llu (at offset %llu): %s block at offset %llu ends past the end of the file (%llu > %llu)",
					 (unsigned long long)i, (unsigned long long)at,
					 bitmap ? "sector bitmap" : "payload",
					 (unsigned long long)off, (unsigned long long)(off + len),
					 (unsigned long long)d->file_size);
		for (unsigned k = 0; k < 4; k++)
			if (vhdx_overlaps(off, len, &ranges[k]))
				return bw_seterr(err, BW_EFORMAT, d->path,
						 "VHDX BAT entry %llu (at offset %llu): %s block at offset %llu overlaps the %s at offset %llu",
						 (unsigned long long)i, (unsigned long long)at,
						 bitmap ? "sector bitmap" : "payload",
						 (unsigned long long)off, ranges[k].what,
						 (unsigned long long)ranges[k].off);
	}
	/* A partially present block needs its chunk's sector bitmap. */
	for (uint64_t b = 0; diff && b < v->nblocks; b++) {
		uint64_t e = v->bat[vhdx_payload_index(v, b)];
		if ((e & VHDX_BAT_STATE_MASK) != VHDX_PAYLOAD_PARTIALLY_PRESENT)
			continue;
		uint64_t si = vhdx_bitmap_index(v, b);
		if ((v->bat[si] & VHDX_BAT_STATE_MASK) != VHDX_SB_PRESENT)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VHDX BAT entry %llu (at offset %llu): block %llu is partially present but its sector bitmap (entry %llu) is not",
					 (unsigned long long)vhdx_payload_index(v, b),
					 (unsigned long long)(batr->off + 8 * vhdx_payload_index(v, b)),
					 (unsigned long long)b, (unsigned long long)si);
	}
	return 0;
}

/* ---- differencing: finding and opening the parent --------------------- */

static int vhdx_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (braces optional) to the 16
 * on-disk bytes; 0 or -1. */
static int vhdx_parse_guid(const char *s, uint8_t g[16])
{
	/* Digit positions of the 16 bytes in the text, in text order. */
	static const uint8_t text_pos[16] = { 0, 2, 4, 6, 9, 11, 14, 16, 19, 21,
					      24, 26, 28, 30, 32, 34 };
	/* On-disk byte for each text byte: Data1-3 are little-endian. */
	static const uint8_t disk_pos[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9,
					      10, 11, 12, 13, 14, 15 };
	size_t n = strlen(s);
	if (n == 38 && s[0] == '{' && s[37] == '}')
		s++;
	else if (n != 36)
		return -1;
	if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return -1;
	for (int i = 0; i < 16; i++) {
		int hi = vhdx_hexval(s[text_pos[i]]), lo = vhdx_hexval(s[text_pos[i] + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		g[disk_pos[i]] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Parent locator keys we use (2.6.2.6.1). */
enum { PL_LINKAGE, PL_LINKAGE2, PL_RELATIVE, PL_VOLUME, PL_ABSOLUTE, PL_NKEYS };
static const char *const vhdx_pl_keys[PL_NKEYS] = {
	"parent_linkage", "parent_linkage2", "relative_path", "volume_path",
	"absolute_win32_path",
};

/* Decode the UTF-16LE text of LEN bytes at item offset OFF of LOC. */
static int vhdx_pl_text(struct bw_disk *d, const uint8_t *loc, uint32_t off,
			uint32_t len, uint64_t loc_off, char **out,
			struct bw_error *err)
{
	size_t bad;
	int r = bw_utf16_to_utf8_alloc(loc + off, len, BW_UTF16_REFUSE,
				       BW_UTF16_NUL_ENDS, out, NULL, &bad);
	if (r == BW_ENOMEM)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	if (r)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHDX Parent Locator text at offset %llu: unpaired UTF-16 surrogate at byte %zu",
				 (unsigned long long)(loc_off + off), bad);
	return 0;
}

static void vhdx_backslashes(char *s)
{
	for (; *s; s++)
		if (*s == '\\')
			*s = '/';
}

/*
 * Open PATH as the parent of CHILD (whose chain entry is ME).  Returns 0
 * with *OUT set, 1 when PATH does not exist, or a code.
 */
static int vhdx_open_parent_file(struct bw_disk *child, const char *path,
				 const struct bw_disk_chain *me, struct bw_disk **out,
				 struct bw_error *err)
{
	*out = NULL;
	struct bw_disk *p;
	int r = bw_disk_chain_open(child, path, me, &p, err);
	if (r)
		return r;
	uint8_t sig[8];
	if (p->file_size < sizeof sig ||
	    (r = bw_disk_read_file(p, sig, sizeof sig, 0, "VHDX file identifier", err)) != 0 ||
	    memcmp(sig, "vhdxfile", 8) != 0) {
		r = bw_seterr(err, BW_EFORMAT, path,
			      "parent of %s is not a VHDX (no \"vhdxfile\" at offset 0)",
			      child->path);
		goto fail;
	}
	p->ops = &bw_disk_vhdx_ops;
	r = vhdx_open_image(p, me, err);
	if (r)
		goto fail;
	*out = p;
	return 0;
fail:
	bw_disk_close(p);
	return r;
}

/*
 * Check the parent locator LOC (LEN bytes at file offset LOC_OFF), find,
 * open and check the parent of D.  Returns 0 or a code.
 */
static int vhdx_open_parent(struct bw_disk *d, struct vhdx *v, const uint8_t *loc,
			    uint32_t len, uint64_t loc_off,
			    const struct bw_disk_chain *below, struct bw_error *err)
{
	char *val[PL_NKEYS] = { NULL };
	char *cand[3] = { NULL };
	const char *from[3];
	unsigned ncand = 0;
	struct bw_disk *p = NULL;
	int r;
	if (memcmp(loc + VHDX_PL_TYPE, guid_locator_vhdx, 16) != 0) {
		char g[39];
		vhdx_format_guid(loc + VHDX_PL_TYPE, g);
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHDX Parent Locator at offset %llu: locator type %s (expected the VHDX type {b04aefb7-d19e-4a81-b789-25b8e9445913})",
				 (unsigned long long)loc_off, g);
	}
	uint16_t count = bw_get_le16(loc + VHDX_PL_COUNT);
	if (count > VHDX_MAX_LOCATOR_KEYS ||
	    (uint32_t)count * VHDX_PLE_SIZE > len - VHDX_PL_ENTRIES)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHDX Parent Locator at offset %llu: %u entries do not fit its %u bytes (at most %u entries)",
				 (unsigned long long)loc_off, count, len, VHDX_MAX_LOCATOR_KEYS);
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *e = loc + VHDX_PL_ENTRIES + VHDX_PLE_SIZE * i;
		uint64_t at = loc_off + VHDX_PL_ENTRIES + VHDX_PLE_SIZE * i;
		uint32_t ko = bw_get_le32(e + VHDX_PLE_KEY_OFFSET);
		uint32_t vo = bw_get_le32(e + VHDX_PLE_VALUE_OFFSET);
		uint16_t kl = bw_get_le16(e + VHDX_PLE_KEY_LENGTH);
		uint16_t vl = bw_get_le16(e + VHDX_PLE_VALUE_LENGTH);
		if (ko > len || kl > len - ko || vo > len || vl > len - vo || kl % 2 || vl % 2) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VHDX Parent Locator entry %u (at offset %llu): key (%u bytes at %u) or value (%u bytes at %u) is odd or outside the %u-byte locator",
				      i, (unsigned long long)at, kl, ko, vl, vo, len);
			goto out;
		}
		char *key;
		if ((r = vhdx_pl_text(d, loc, ko, kl, loc_off, &key, err)) != 0)
			goto out;
		unsigned k;
		for (k = 0; k < PL_NKEYS && strcmp(key, vhdx_pl_keys[k]); k++)
			;
		free(key);
		if (k == PL_NKEYS || val[k])
			continue;      /* unknown keys are allowed; first one wins */
		if ((r = vhdx_pl_text(d, loc, vo, vl, loc_off, &val[k], err)) != 0)
			goto out;
	}
	uint8_t linkage[16], linkage2[16];
	if (!val[PL_LINKAGE] || vhdx_parse_guid(val[PL_LINKAGE], linkage) != 0) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VHDX Parent Locator at offset %llu: parent_linkage is %s%s%s (expected a GUID)",
			      (unsigned long long)loc_off, val[PL_LINKAGE] ? "\"" : "missing",
			      val[PL_LINKAGE] ? val[PL_LINKAGE] : "", val[PL_LINKAGE] ? "\"" : "");
		goto out;
	}
	int have2 = val[PL_LINKAGE2] && vhdx_parse_guid(val[PL_LINKAGE2], linkage2) == 0;

	/* Paths to try: relative to the child, an absolute path that is one
	 * here, then the absolute path's file name beside the child. */
	if (val[PL_RELATIVE] && *val[PL_RELATIVE]) {
		vhdx_backslashes(val[PL_RELATIVE]);
		const char *rel = val[PL_RELATIVE];
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		if (!(cand[ncand] = bw_disk_chain_sibling(d->path, rel)))
			goto nomem;
		from[ncand++] = "relative_path";
	}
	if (val[PL_ABSOLUTE] && *val[PL_ABSOLUTE]) {
		vhdx_backslashes(val[PL_ABSOLUTE]);
		const char *abs = val[PL_ABSOLUTE];
		if (abs[0] == '/') {
			if (!(cand[ncand] = strdup(abs)))
				goto nomem;
			from[ncand++] = "absolute_win32_path";
		}
		const char *base = strrchr(abs, '/');
		base = base ? base + 1 : abs;
		if (*base) {
			if (!(cand[ncand] = bw_disk_chain_sibling(d->path, base)))
				goto nomem;
			from[ncand++] = "absolute_win32_path's file name";
		}
	}
	struct bw_disk_chain me;
	if ((r = bw_disk_chain_enter(d, below, "VHDX", &me, err)) != 0)
		goto out;
	unsigned i;
	for (i = 0, r = 1; i < ncand && r == 1; i++)
		r = vhdx_open_parent_file(d, cand[i], &me, &p, err);
	if (r == 1) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHDX: parent not found; tried %s%s%s%s%s (relative_path \"%s\", volume_path \"%s\", absolute_win32_path \"%s\")",
			      ncand ? cand[0] : "no path", ncand > 1 ? ", " : "",
			      ncand > 1 ? cand[1] : "", ncand > 2 ? ", " : "",
			      ncand > 2 ? cand[2] : "",
			      val[PL_RELATIVE] ? val[PL_RELATIVE] : "",
			      val[PL_VOLUME] ? val[PL_VOLUME] : "",
			      val[PL_ABSOLUTE] ? val[PL_ABSOLUTE] : "");
		goto out;
	}
	if (r)
		goto out;
	v->parent = p;
	struct vhdx *pv = p->priv;
	if (memcmp(pv->data_write_guid, linkage, 16) != 0 &&
	    !(have2 && memcmp(pv->data_write_guid, linkage2, 16) == 0)) {
		char found[39];
		vhdx_format_guid(pv->data_write_guid, found);
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHDX: parent %s (from %s) has DataWriteGuid %s, the child's parent_linkage is %s (Parent Locator at offset %llu): the parent changed since the child was made",
			      p->path, from[i - 1], found, val[PL_LINKAGE],
			      (unsigned long long)loc_off);
		goto out;
	}
	if (p->size != d->size || pv->logical_sector != v->logical_sector) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "differencing VHDX: parent %s has virtual size %llu and %u-byte sectors, the child %llu and %u",
			      p->path, (unsigned long long)p->size, pv->logical_sector,
			      (unsigned long long)d->size, v->logical_sector);
		goto out;
	}
	v->bitmap = malloc(v->block_size / v->logical_sector / 8);
	r = v->bitmap ? 0 : bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	goto out;
nomem:
	r = bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
out:
	for (unsigned k = 0; k < PL_NKEYS; k++)
		free(val[k]);
	for (unsigned k = 0; k < ncand; k++)
		free(cand[k]);
	return r;    /* on error vhdx_close frees v->parent */
}

/* ---- open ---------------------------------------------------------------- */

static int vhdx_open_image(struct bw_disk *d, const struct bw_disk_chain *below,
			   struct bw_error *err)
{
	struct vhdx *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	d->priv = v;
	uint8_t sig[8];
	if (d->file_size < VHDX_HEADER_AREA)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHDX truncated: the file ends at offset %llu, inside its 1 MiB header area",
				 (unsigned long long)d->file_size);
	int r = bw_disk_read_file(d, sig, sizeof sig, VHDX_FID_SIGNATURE,
				  "VHDX file identifier", err);
	if (r)
		return r;
	if (memcmp(sig, "vhdxfile", 8) != 0)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VHDX file identifier at offset 0: expected signature \"vhdxfile\"");
	uint8_t *h = malloc(VHDX_HEADER_SIZE);
	if (!h)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	struct vhdx_range ranges[4] = {
		{ 0, VHDX_HEADER_AREA, "header area" },
	};
	r = vhdx_open_headers(d, h, &ranges[1], err);
	if (r == 0)
		memcpy(v->data_write_guid, h + VHDX_HDR_DATA_WRITE_GUID, 16);
	free(h);
	if (r)
		return r;
	if ((r = vhdx_open_regions(d, ranges, err)) != 0)
		return r;
	uint8_t *loc = NULL;
	uint32_t loc_len = 0;
	uint64_t loc_off = 0;
	if ((r = vhdx_open_metadata(d, v, &ranges[3], &loc, &loc_len, &loc_off, err)) != 0)
		return r;
	r = vhdx_open_bat(d, v, ranges, err);
	if (r == 0 && (v->flags & VHDX_FP_HAS_PARENT)) {
		d->format = "vhdx-differencing";
		r = vhdx_open_parent(d, v, loc, loc_len, loc_off, below, err);
	} else {
		d->format = (v->flags & VHDX_FP_LEAVE_ALLOCATED) ? "vhdx-fixed" : "vhdx-dynamic";
	}
	/* Kept for bw_disk_vhdx_link: a new child names the parent alike. */
	v->locator = loc;
	v->locator_len = loc_len;
	return r;
}

static int vhdx_open(struct bw_disk *d, struct bw_error *err)
{
	return vhdx_open_image(d, NULL, err);
}

/* ---- reads --------------------------------------------------------------- */

/*
 * Bytes [IN, IN+N) of partially present block B at file offset POS: runs
 * of sectors with their bit set come from this file, the others from the
 * parent.  Only the bitmap bytes covering the range are read.
 */
static int vhdx_pread_partial(struct bw_disk *d, struct vhdx *v, uint8_t *buf,
			      size_t n, uint64_t b, uint32_t in, uint64_t pos,
			      struct bw_error *err)
{
	uint32_t lss = v->logical_sector;
	uint64_t sb = (v->bat[vhdx_bitmap_index(v, b)] >> VHDX_BAT_OFFSET_SHIFT) * VHDX_MiB;
	/* The block's first bit within its chunk's bitmap. */
	uint64_t first = (b % v->chunk_ratio) * (v->block_size / lss);
	uint32_t end = in + (uint32_t)n;
	uint32_t s0 = in / lss, s1 = (end - 1) / lss;
	uint64_t byte0 = (first + s0) / 8, byte1 = (first + s1) / 8;
	int r = bw_disk_read_file(d, v->bitmap, (size_t)(byte1 - byte0 + 1), sb + byte0,
				  "VHDX sector bitmap", err);
	if (r)
		return r;
#define VHDX_BIT(s) (v->bitmap[(first + (s)) / 8 - byte0] >> ((first + (s)) % 8) & 1)
	uint64_t vbase = b * v->block_size;
	uint32_t at = in;
	while (at < end) {
		uint32_t s = at / lss;
		int mine = VHDX_BIT(s);
		uint32_t stop = (s + 1) * lss;
		while (stop < end && VHDX_BIT(stop / lss) == mine)
			stop += lss;
		if (stop > end)
			stop = end;
		uint8_t *dst = buf + (at - in);
		if (mine)
			r = bw_disk_read_file(d, dst, stop - at, pos + at, "VHDX block", err);
		else
			r = bw_disk_pread(v->parent, dst, stop - at, vbase + at, err);
		if (r)
			return r;
		at = stop;
	}
#undef VHDX_BIT
	return 0;
}

static int vhdx_pread(struct bw_disk *d, uint8_t *buf, size_t len, uint64_t off,
		      struct bw_error *err)
{
	struct vhdx *v = d->priv;
	while (len > 0) {
		uint64_t b = off / v->block_size;
		uint32_t in = (uint32_t)(off % v->block_size);
		size_t n = v->block_size - in;
		if (n > len)
			n = len;
		/* b < nblocks: disk.c checked off < size. */
		uint64_t e = v->bat[vhdx_payload_index(v, b)];
		uint64_t pos = (e >> VHDX_BAT_OFFSET_SHIFT) * VHDX_MiB;
		int r = 0;
		switch ((unsigned)(e & VHDX_BAT_STATE_MASK)) {
		case VHDX_PAYLOAD_FULLY_PRESENT:
			r = bw_disk_read_file(d, buf, n, pos + in, "VHDX block", err);
			break;
		case VHDX_PAYLOAD_PARTIALLY_PRESENT:    /* differencing only */
			r = vhdx_pread_partial(d, v, buf, n, b, in, pos, err);
			break;
		case VHDX_PAYLOAD_ZERO:
			memset(buf, 0, n);
			break;
		default:    /* not present, undefined, unmapped */
			if (v->parent)
				r = bw_disk_pread(v->parent, buf, n, off, err);
			else
				memset(buf, 0, n);
			break;
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

static int vhdx_block_has_data(const struct vhdx *v, uint64_t b)
{
	return (v->bat[vhdx_payload_index(v, b)] & VHDX_BAT_STATE_MASK) >=
	       VHDX_PAYLOAD_FULLY_PRESENT;
}

/* The first run of blocks with data in this file at or after OFF, clipped
 * to [OFF, size).  Returns 1 or 0 (none). */
static int vhdx_bat_next(const struct bw_disk *d, const struct vhdx *v, uint64_t off,
			 uint64_t *start, uint64_t *end)
{
	uint64_t b = off / v->block_size;
	while (b < v->nblocks && !vhdx_block_has_data(v, b))
		b++;
	if (b >= v->nblocks)
		return 0;
	uint64_t first = b;
	while (b < v->nblocks && vhdx_block_has_data(v, b))
		b++;
	uint64_t s = first * v->block_size;
	*start = s > off ? s : off;
	*end = b * v->block_size < d->size ? b * v->block_size : d->size;
	return 1;
}

/*
 * Differencing: the union of our blocks with data and the parent's map
 * (a superset where a ZERO block hides the parent, which only costs a
 * read of zeros).  The run that starts first is grown while a run of
 * either side begins at or before its end, so runs come out maximal.
 */
static int vhdx_diff_next(struct bw_disk *d, struct vhdx *v, uint64_t off,
			  uint64_t *start, uint64_t *end, struct bw_error *err)
{
	uint64_t cs = 0, ce = 0, ps = 0, pe = 0;
	int rc = vhdx_bat_next(d, v, off, &cs, &ce);
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
		if (vhdx_bat_next(d, v, e, &cs, &ce) && cs == e && ce > grown)
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

static int vhdx_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
			  uint64_t *end, struct bw_error *err)
{
	struct vhdx *v = d->priv;
	if (v->parent)
		return vhdx_diff_next(d, v, off, start, end, err);
	return vhdx_bat_next(d, v, off, start, end);
}

static void vhdx_info(struct bw_disk *d, struct bw_disk_info *info)
{
	struct vhdx *v = d->priv;
	info->block_size = v->block_size;
}

static struct bw_disk *vhdx_parent(struct bw_disk *d)
{
	return ((struct vhdx *)d->priv)->parent;
}

/* Also frees a half-built handle: a failed open leaves priv for us. */
static void vhdx_close(struct bw_disk *d)
{
	struct vhdx *v = d->priv;
	if (v) {
		bw_disk_close(v->parent);
		free(v->bitmap);
		free(v->locator);
		free(v->bat);
	}
	free(v);
	d->priv = NULL;
}

int bw_disk_vhdx_link(struct bw_disk *d, struct bw_vhdx_link *l,
		      struct bw_error *err)
{
	memset(l, 0, sizeof *l);
	if (d->ops != &bw_disk_vhdx_ops || !((struct vhdx *)d->priv)->parent)
		return bw_seterr(err, BW_EINVAL, d->path, "not a differencing VHDX");
	const struct vhdx *v = d->priv;
	if (v->unknown_items)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHDX metadata entry at offset %llu: %u optional metadata item%s boxwright does not know (expected only the known items): a patched child would lose %s; flatten it first (boxwright convert %s -O vhdx FLAT.vhdx)",
				 (unsigned long long)v->unknown_at, v->unknown_items,
				 v->unknown_items > 1 ? "s" : "",
				 v->unknown_items > 1 ? "them" : "it", d->path);
	if (v->flags & VHDX_FP_LEAVE_ALLOCATED)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VHDX File Parameters: a differencing image with LeaveBlockAllocated set (expected HasParent alone): boxwright does not write one; flatten it first (boxwright convert %s -O vhdx FLAT.vhdx)",
				 d->path);
	/* Checked at open: the item is at most VHDX_MAX_LOCATOR_LEN bytes. */
	_Static_assert(VHDX_MAX_LOCATOR_LEN <= BW_VHDX_LOCATOR_MAX,
		       "struct bw_vhdx_link holds what the reader accepts");
	memcpy(l->locator, v->locator, v->locator_len);
	l->locator_len = v->locator_len;
	l->block_size = v->block_size;
	l->logical_sector = v->logical_sector;
	l->physical_sector = v->physical_sector;
	memcpy(l->page83, v->page83, sizeof l->page83);
	return 0;
}

const struct bw_disk_ops bw_disk_vhdx_ops = {
	.name = "vhdx",
	.probe = vhdx_probe,
	.open = vhdx_open,
	.pread = vhdx_pread,
	.next_data = vhdx_next_data,
	.info = vhdx_info,
	.parent = vhdx_parent,
	.close = vhdx_close,
};

/*
 * VHDX reader and writer, and CRC-32C.
 *   - CRC-32C against "123456789" and RFC 3720 appendix B.4's vectors;
 *   - dynamic, fixed and differencing images made here byte by byte from
 *     [MS-VHDX] (an independent builder: it shares only the offset and
 *     GUID constants of vhdx_format.h with the code under test), read
 *     back and compared, with their allocation maps;
 *   - each corruption refused with its code and a message naming the
 *     file and the offset: header signatures, both header CRCs, region
 *     table CRCs, a BAT entry outside the file, an unknown required
 *     region or metadata item, a block size that is not a power of two,
 *     huge counts and sizes, a set LogGuid; and what is survivable (one
 *     bad header or region table) is survived;
 *   - differencing: every BAT state, the sector bitmap (bit 0 of byte 0
 *     first), finding the parent (relative path, absolute path's file
 *     name), a wrong parent_linkage, a missing parent, a loop;
 *   - the writer: write -> read round trips in several chunkings, zero
 *     blocks left unallocated, the layout's fields, the size rounding;
 *   - the differencing writer: a new child of a child's parent, in
 *     several chunkings, holds exactly the blocks that differ from the
 *     parent (fully present, the chunk's sector bitmap agreeing), the
 *     input's Parent
 *     Locator, block size and HasParent, its own DataWriteGuid; what it
 *     cannot keep (an unknown optional item, LeaveBlockAllocated) and
 *     bad options are refused;
 *     a fixed identity (reproducible builds): the same one gives the same
 *     file, another one other GUIDs (and CRCs) and nothing else.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/job.h"
#include "check.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "disk/vhdx_format.h"

#define MiB (UINT64_C(1) << 20)
#define KiB 1024u

static char dir[] = "/tmp/bw-test-vhdx.XXXXXX";

static void test_crc32c(void)
{
	CHECK_EQ_U64(bw_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_U64(bw_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4: the CRC bytes printed there, read little-endian. */
	uint8_t b[48];
	memset(b, 0, 32);
	CHECK_EQ_U64(bw_crc32c(0, b, 32), 0x8A9136AAu);
	memset(b, 0xFF, 32);
	CHECK_EQ_U64(bw_crc32c(0, b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CHECK_EQ_U64(bw_crc32c(0, b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	CHECK_EQ_U64(bw_crc32c(0, b, 32), 0x113FDB5Cu);
	static const uint8_t iscsi_read[48] = {
		0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	CHECK_EQ_U64(bw_crc32c(0, iscsi_read, 48), 0xD9963A56u);
	/* Chaining equals one pass. */
	CHECK_EQ_U64(bw_crc32c(bw_crc32c(0, "12345", 5), "6789", 4), 0xE3069283u);
}

/* ---- an independent VHDX builder ------------------------------------- */

enum corrupt {
	OK, HDR_SIGS, HDR_BOTH_CRC, HDR2_CRC, HDR1_LOG_OLD, LOG_GUID, RT_BOTH_CRC,
	RT1_CRC, BAT_OUTSIDE, BAT_OVERLAP, REGION_UNKNOWN_REQUIRED,
	REGION_UNKNOWN_OPTIONAL, ITEM_UNKNOWN_REQUIRED, BS_NOT_POW2, BS_SMALL,
	SIZE_HUGE, MT_COUNT_HUGE, RT_COUNT_HUGE, PARTIAL_NOT_DIFF, BAT_BAD_STATE,
	NO_PAGE83, TRUNCATED, SECTOR_SIZE_BAD, FLAGS_UNKNOWN, SEQ_EQUAL_DIFFER,
	ITEM_UNKNOWN_OPTIONAL,
};

struct img {
	const char *path;
	uint64_t size;
	uint32_t bs;               /* payload block size */
	uint32_t fp_flags;         /* 1 LeaveBlockAllocated, 2 HasParent */
	const uint8_t *data;       /* size bytes of content this file holds */
	const uint8_t *state;      /* per block; NULL: 6 if non-zero else 0 */
	const uint8_t *present;    /* differencing: 1 byte per 512-byte sector */
	uint8_t dwg[16];           /* DataWriteGuid */
	const char *linkage;       /* Parent Locator values (HasParent) */
	const char *relative;
	const char *absolute;
	enum corrupt c;
};

static void put_guid(uint8_t *p, const uint8_t g[16]) { memcpy(p, g, 16); }

static uint32_t seal(uint8_t *p, size_t len)
{
	memset(p + 4, 0, 4);
	uint32_t c = bw_crc32c(0, p, len);
	bw_put_le32(p + 4, c);
	return c;
}

static size_t put_utf16(uint8_t *p, const char *s)
{
	size_t n = 0;
	for (; *s; s++, n += 2)
		bw_put_le16(p + n, (uint8_t)*s);
	return n;
}

/* Layout: log at 1 MiB, metadata at 2 MiB, BAT at 3 MiB (1 MiB), the
 * sector bitmap of chunk 0 at 4 MiB when differencing, blocks after. */
static void build(const struct img *im)
{
	static const uint8_t g_bat[16] = VHDX_GUID_BAT, g_meta[16] = VHDX_GUID_METADATA,
		g_fp[16] = VHDX_GUID_FILE_PARAMETERS, g_size[16] = VHDX_GUID_VIRTUAL_DISK_SIZE,
		g_p83[16] = VHDX_GUID_PAGE83, g_ls[16] = VHDX_GUID_LOGICAL_SECTOR,
		g_ps[16] = VHDX_GUID_PHYSICAL_SECTOR, g_pl[16] = VHDX_GUID_PARENT_LOCATOR,
		g_plt[16] = VHDX_GUID_LOCATOR_VHDX;
	static const uint8_t g_odd[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	int diff = im->fp_flags & 2;
	uint8_t *area = calloc(1, MiB), *meta = calloc(1, MiB), *bat = calloc(1, MiB);
	int fd = open(im->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memcpy(area, "vhdxfile", 8);
	put_utf16(area + 8, "test_vhdx");
	uint8_t *h1 = area + 64 * KiB, *h2 = area + 128 * KiB;
	memcpy(h1, "head", 4);
	bw_put_le64(h1 + 8, 5);
	memset(h1 + 16, 0x11, 16);
	memcpy(h1 + 32, im->dwg, 16);
	bw_put_le16(h1 + 66, 1);
	bw_put_le32(h1 + 68, (uint32_t)MiB);
	bw_put_le64(h1 + 72, MiB);
	memcpy(h2, h1, 4096);
	bw_put_le64(h2 + 8, im->c == SEQ_EQUAL_DIFFER ? 5 : 6);
	if (im->c == SEQ_EQUAL_DIFFER)
		h2[20] ^= 1;
	if (im->c == LOG_GUID)
		memset(h2 + 48, 0x42, 16);
	if (im->c == HDR1_LOG_OLD)
		memset(h1 + 48, 0x42, 16);    /* the older header: not used */
	if (im->c == HDR_SIGS) {
		memcpy(h1, "HEAD", 4);
		memcpy(h2, "HEAD", 4);
	}
	seal(h1, 4096);
	seal(h2, 4096);
	if (im->c == HDR_BOTH_CRC)
		h1[100] ^= 1;
	if (im->c == HDR_BOTH_CRC || im->c == HDR2_CRC)
		h2[100] ^= 1;

	uint8_t *rt = area + 192 * KiB;
	memcpy(rt, "regi", 4);
	unsigned nreg = 2;
	uint8_t *e = rt + 16;
	put_guid(e, g_bat);
	bw_put_le64(e + 16, 3 * MiB);
	bw_put_le32(e + 24, (uint32_t)MiB);
	bw_put_le32(e + 28, 1);
	e += 32;
	put_guid(e, g_meta);
	bw_put_le64(e + 16, 2 * MiB);
	bw_put_le32(e + 24, (uint32_t)MiB);
	bw_put_le32(e + 28, 1);
	if (im->c == REGION_UNKNOWN_REQUIRED || im->c == REGION_UNKNOWN_OPTIONAL) {
		e += 32;
		put_guid(e, g_odd);
		bw_put_le64(e + 16, 64 * MiB);    /* past the blocks */
		bw_put_le32(e + 24, (uint32_t)MiB);
		bw_put_le32(e + 28, im->c == REGION_UNKNOWN_REQUIRED);
		nreg = 3;
	}
	bw_put_le32(rt + 8, im->c == RT_COUNT_HUGE ? 5000 : nreg);
	seal(rt, 64 * KiB);
	memcpy(area + 256 * KiB, rt, 64 * KiB);
	if (im->c == RT_BOTH_CRC || im->c == RT1_CRC)
		rt[40] ^= 1;
	if (im->c == RT_BOTH_CRC)
		area[256 * KiB + 40] ^= 1;

	/* Metadata: table, items in 4 KiB slots from 64 KiB. */
	memcpy(meta, "metadata", 8);
	unsigned nitems = 0;
	uint32_t slot = 64 * KiB;
#define ITEM(guid, len, flags) do {                                            \
		uint8_t *me = meta + 32 + 32 * nitems++;                      \
		put_guid(me, guid);                                           \
		bw_put_le32(me + 16, slot);                                   \
		bw_put_le32(me + 20, len);                                    \
		bw_put_le32(me + 24, flags);                                  \
		slot += 4096;                                                 \
	} while (0)
	uint32_t bs = im->c == BS_NOT_POW2 ? 3 * (uint32_t)MiB :
		      im->c == BS_SMALL ? 512 * KiB : im->bs;
	bw_put_le32(meta + slot, bs);
	bw_put_le32(meta + slot + 4, im->fp_flags | (im->c == FLAGS_UNKNOWN ? 0x8 : 0));
	ITEM(g_fp, 8, 4);
	bw_put_le64(meta + slot, im->c == SIZE_HUGE ? UINT64_C(1) << 62 : im->size);
	ITEM(g_size, 8, 6);
	bw_put_le32(meta + slot, im->c == SECTOR_SIZE_BAD ? 1024 : 512);
	ITEM(g_ls, 4, 6);
	bw_put_le32(meta + slot, 4096);
	ITEM(g_ps, 4, 6);
	if (im->c != NO_PAGE83) {
		memset(meta + slot, 0x83, 16);
		ITEM(g_p83, 16, 6);
	}
	if (im->c == ITEM_UNKNOWN_REQUIRED)
		ITEM(g_odd, 8, 4);
	if (im->c == ITEM_UNKNOWN_OPTIONAL)
		ITEM(g_odd, 8, 1);            /* IsUser: readable without it */
	if (diff) {
		uint8_t *pl = meta + slot;
		const char *kv[6] = { "parent_linkage", im->linkage, "relative_path",
				      im->relative, "absolute_win32_path", im->absolute };
		put_guid(pl, g_plt);
		uint32_t text = 20 + 12 * 3, n = 0;
		for (int i = 0; i < 6; i += 2) {
			if (!kv[i + 1])
				continue;
			uint8_t *ple = pl + 20 + 12 * n++;
			bw_put_le32(ple, text);
			size_t kl = put_utf16(pl + text, kv[i]);
			bw_put_le16(ple + 8, (uint16_t)kl);
			text += (uint32_t)kl;
			bw_put_le32(ple + 4, text);
			size_t vl = put_utf16(pl + text, kv[i + 1]);
			bw_put_le16(ple + 10, (uint16_t)vl);
			text += (uint32_t)vl;
		}
		bw_put_le16(pl + 18, (uint16_t)n);
		ITEM(g_pl, text, 6);
	}
#undef ITEM
	bw_put_le16(meta + 10, im->c == MT_COUNT_HUGE ? 0xFFFF : (uint16_t)nitems);

	/* BAT and blocks. */
	uint64_t nblocks = (im->size + im->bs - 1) / im->bs;
	uint64_t cr = (UINT64_C(1) << 23) * 512 / im->bs;
	uint64_t pos = diff ? 5 * MiB : 4 * MiB;
	uint8_t *sb = calloc(1, MiB);
	uint8_t *zero = calloc(1, im->bs);
	uint8_t *blk = malloc(im->bs);
	for (uint64_t b = 0; b < nblocks; b++) {
		const uint8_t *src = im->data + b * im->bs;
		uint64_t len = im->size - b * im->bs < im->bs ? im->size - b * im->bs : im->bs;
		unsigned st = im->state ? im->state[b] : memcmp(src, zero, len) ? 6 : 0;
		if (im->c == PARTIAL_NOT_DIFF && b == 1)
			st = 7;
		if (im->c == BAT_BAD_STATE && b == 1)
			st = 4;
		uint64_t ent = st;
		if (st == 6 || st == 7) {
			memset(blk, 0xEE, im->bs);   /* sectors not ours: junk */
			for (uint64_t s = 0; s < len / 512; s++) {
				uint64_t vs = b * im->bs / 512 + s;
				int mine = st == 6 || (im->present && im->present[vs]);
				if (mine)
					memcpy(blk + 512 * s, src + 512 * s, 512);
				if (st == 7 && mine)
					sb[vs / 8] |= (uint8_t)(1u << (vs % 8));
			}
			pwrite(fd, blk, im->bs, (off_t)pos);
			ent |= pos / MiB << 20;
			pos += im->bs;
		}
		if (im->c == BAT_OUTSIDE && b == 2)
			ent = 6 | (UINT64_C(4096) << 20);     /* 4 GiB */
		if (im->c == BAT_OVERLAP && b == 2)
			ent = 6 | (UINT64_C(2) << 20);        /* the metadata */
		bw_put_le64(bat + 8 * (b + b / cr), ent);
	}
	if (diff) {
		pwrite(fd, sb, MiB, 4 * (off_t)MiB);
		bw_put_le64(bat + 8 * cr, 6 | (UINT64_C(4) << 20));
	}
	if (im->c == REGION_UNKNOWN_REQUIRED || im->c == REGION_UNKNOWN_OPTIONAL) {
		/* The file holds the extra region (a hole). */
		pos = 65 * MiB;
	}
	pwrite(fd, area, MiB, 0);
	pwrite(fd, meta, MiB, 2 * (off_t)MiB);
	pwrite(fd, bat, MiB, 3 * (off_t)MiB);
	if (ftruncate(fd, im->c == TRUNCATED ? (off_t)(pos - 4096) : (off_t)pos) != 0)
		abort();
	close(fd);
	free(area);
	free(meta);
	free(bat);
	free(sb);
	free(zero);
	free(blk);
}

/* Open P expecting CODE, a message holding NEEDLE (and naming P). */
static void open_expect(const char *p, int code, const char *needle)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	int r = bw_disk_open(p, &d, &e);
	CHECK(r == code);
	if (r != code)
		fprintf(stderr, "%s: expected %d, got %d: %s\n", p, code, r, r ? e.msg : "");
	if (r && needle && !strstr(e.msg, needle)) {
		fprintf(stderr, "message lacks \"%s\": %s\n", needle, e.msg);
		CHECK(0);
	}
	if (r) {
		CHECK(strncmp(e.msg, p, strlen(p)) == 0);
		CHECK(strstr(e.msg, "offset") != NULL || strstr(e.msg, "parent") != NULL);
		if (!strstr(e.msg, "offset") && !strstr(e.msg, "parent"))
			fprintf(stderr, "no offset: %s\n", e.msg);
	}
	bw_disk_close(d);
}

static void check_reads(const char *p, const char *format, const uint8_t *want,
			uint64_t size)
{
	struct bw_disk *d;
	struct bw_error e;
	int r = bw_disk_open(p, &d, &e);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "%s\n", e.msg);
		return;
	}
	CHECK(strcmp(bw_disk_format(d), format) == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, want, size) == 0);
	/* Unaligned pieces across block and sector edges. */
	for (uint64_t off = 1; off + 3 * MiB / 2 <= size; off += MiB - 777) {
		CHECK(bw_disk_pread(d, buf, 3 * MiB / 2, off, &e) == 0);
		CHECK(memcmp(buf, want + off, 3 * MiB / 2) == 0);
	}
	/* Everything outside the allocation map reads as zero. */
	uint64_t off = 0, s, en;
	while (bw_disk_next_data(d, off, &s, &en, &e) == 1) {
		CHECK(s >= off && en > s && en <= size);
		for (uint64_t i = off; i < s; i++)
			if (want[i]) {
				CHECK(!"data outside the allocation map");
				break;
			}
		off = en;
	}
	for (uint64_t i = off; i < size; i++)
		if (want[i]) {
			CHECK(!"data after the allocation map");
			break;
		}
	free(buf);
	bw_disk_close(d);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + (i >> 9) * 7 + seed);
}

static void test_reader(void)
{
	char path[300];
	snprintf(path, sizeof path, "%s/t.vhdx", dir);
	const uint64_t size = 8 * MiB;     /* eight 1 MiB blocks */
	uint8_t *data = calloc(1, size);
	fill(data, MiB, 1);                                /* block 0 */
	memcpy(data + 3 * MiB + 4321, "hello block 3", 13);
	data[size - 1] = 0xAB;                             /* block 7 */
	struct img im = { .path = path, .size = size, .bs = (uint32_t)MiB, .data = data };

	build(&im);
	check_reads(path, "vhdx-dynamic", data, size);
	struct bw_disk *d;
	struct bw_error e;
	CHECK(bw_disk_open(path, &d, &e) == 0);
	uint64_t s, en;
	CHECK(bw_disk_next_data(d, 0, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 0); CHECK_EQ_U64(en, MiB);
	CHECK(bw_disk_next_data(d, MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 3 * MiB); CHECK_EQ_U64(en, 4 * MiB);
	CHECK(bw_disk_next_data(d, 4 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 7 * MiB); CHECK_EQ_U64(en, 8 * MiB);
	struct bw_disk_info info;
	CHECK(bw_disk_get_info(d, &info, &e) == 0);
	CHECK_EQ_U64(info.block_size, MiB);
	CHECK_EQ_U64(info.allocated, 3 * MiB);
	bw_disk_close(d);

	/* A size that is not a whole number of blocks; 32 MiB blocks. */
	im.size = 8 * MiB - 512;
	data[im.size - 1] = 0xCD;
	build(&im);
	check_reads(path, "vhdx-dynamic", data, im.size);
	im.bs = 32 * (uint32_t)MiB;
	build(&im);
	check_reads(path, "vhdx-dynamic", data, im.size);
	im.bs = (uint32_t)MiB;
	im.size = size;

	/* Fixed: LeaveBlockAllocated, every block present. */
	uint8_t st[8] = { 6, 6, 6, 6, 6, 6, 6, 6 };
	struct img fx = im;
	fx.fp_flags = 1;
	fx.state = st;
	build(&fx);
	check_reads(path, "vhdx-fixed", data, size);

	/* ZERO, UNDEFINED, UNMAPPED read as zeros without a parent. */
	uint8_t st2[8] = { 6, 2, 1, 6, 3, 0, 0, 6 };
	struct img z = im;
	z.state = st2;
	build(&z);
	check_reads(path, "vhdx-dynamic", data, size);

	/* Survivable: one bad header, one bad region table, an older header
	 * with a log, an unknown optional region. */
	static const enum corrupt fine[] = { HDR2_CRC, RT1_CRC, HDR1_LOG_OLD,
					     REGION_UNKNOWN_OPTIONAL };
	for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
		im.c = fine[i];
		build(&im);
		check_reads(path, "vhdx-dynamic", data, size);
	}

	/* Refused, each with its code and where. */
	static const struct { enum corrupt c; int code; const char *needle; } bad[] = {
		{ HDR_SIGS, BW_EFORMAT, "header 1 at offset 65536: no \"head\" signature" },
		{ HDR_BOTH_CRC, BW_EFORMAT, "header 2 at offset 131072: CRC-32C mismatch" },
		{ SEQ_EQUAL_DIFFER, BW_EFORMAT, "same sequence number" },
		{ LOG_GUID, BW_EUNSUPPORTED, "qemu-img check -r all" },
		{ RT_BOTH_CRC, BW_EFORMAT, "region table 2 at offset 262144: CRC-32C mismatch" },
		{ RT_COUNT_HUGE, BW_EFORMAT, "5000 entries" },
		{ BAT_OUTSIDE, BW_EFORMAT, "BAT entry 2 (at offset 3145744)" },
		{ BAT_OVERLAP, BW_EFORMAT, "overlaps the metadata region" },
		{ BAT_BAD_STATE, BW_EFORMAT, "BAT entry 1 (at offset 3145736): payload state 4" },
		{ PARTIAL_NOT_DIFF, BW_EFORMAT, "partially present needs a differencing image" },
		{ REGION_UNKNOWN_REQUIRED, BW_EUNSUPPORTED,
		  "unknown region {04030201-0605-0807-090a-0b0c0d0e0f10} is marked required" },
		{ ITEM_UNKNOWN_REQUIRED, BW_EUNSUPPORTED, "unknown item" },
		{ BS_NOT_POW2, BW_EFORMAT, "block size 3145728 is not a power of two" },
		{ BS_SMALL, BW_EFORMAT, "block size 524288" },
		{ SIZE_HUGE, BW_EUNSUPPORTED, "4611686018427387904 bytes (at most" },
		{ MT_COUNT_HUGE, BW_EFORMAT, "65535 entries" },
		{ NO_PAGE83, BW_EFORMAT, "no Page 83 Data item" },
		{ TRUNCATED, BW_EFORMAT, "ends past the end of the file" },
		{ SECTOR_SIZE_BAD, BW_EFORMAT, "logical sector size 1024" },
		{ FLAGS_UNKNOWN, BW_EUNSUPPORTED, "unknown flags 0x00000008" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		im.c = bad[i].c;
		build(&im);
		open_expect(path, bad[i].code, bad[i].needle);
	}
	im.c = OK;

	/* No "vhdxfile": not ours, and a truncated header area is refused. */
	build(&im);
	int fd = open(path, O_WRONLY);
	CHECK(pwrite(fd, "vhdxfilX", 8, 0) == 8);
	close(fd);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "raw") == 0);
	bw_disk_close(d);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(pwrite(fd, "vhdxfile", 8, 0) == 8);
	CHECK(ftruncate(fd, 200 * KiB) == 0);
	close(fd);
	open_expect(path, BW_EFORMAT, "ends at offset 204800, inside its 1 MiB header area");
	unlink(path);
	free(data);
}

static unsigned count_fds(void)
{
	unsigned n = 0;
	DIR *dp = opendir("/proc/self/fd");
	if (!dp)
		return 0;
	while (readdir(dp))
		n++;
	closedir(dp);
	return n;
}

static void test_differencing(void)
{
	unsigned fds = count_fds();
	char ppath[300], cpath[300], sub[300], loop[300];
	snprintf(ppath, sizeof ppath, "%s/p.vhdx", dir);
	snprintf(cpath, sizeof cpath, "%s/c.vhdx", dir);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	mkdir(sub, 0700);
	const uint64_t size = 8 * MiB;
	uint8_t *pdata = calloc(1, size), *cdata = malloc(size), *want = malloc(size);
	fill(pdata, 6 * MiB, 3);              /* parent: blocks 0-5 */
	fill(cdata, size, 200);
	struct img parent = { .path = ppath, .size = size, .bs = (uint32_t)MiB, .data = pdata };
	memset(parent.dwg, 0xA5, 16);
	parent.dwg[0] = 0x10;
	build(&parent);
	const char *linkage = "{a5a5a510-a5a5-a5a5-a5a5-a5a5a5a5a5a5}";

	/* Child blocks: 0 full, 1 partial, 2 zero, 3 not present, 4 unmapped,
	 * 5 undefined, 6 partial (parent has zeros there), 7 not present. */
	uint8_t st[8] = { 6, 7, 2, 0, 3, 1, 7, 0 };
	uint8_t *present = calloc(1, size / 512);
	for (uint64_t s = 2048; s < 4096; s++)
		present[s] = (s % 3 == 0) || (s >= 3000 && s < 3100);
	present[6 * 2048 + 5] = 1;
	for (uint64_t b = 0; b < 8; b++) {
		for (uint64_t s = b * 2048; s < (b + 1) * 2048; s++) {
			const uint8_t *src = st[b] == 6 || (st[b] == 7 && present[s]) ? cdata
					     : st[b] == 2 ? NULL : pdata;
			if (src)
				memcpy(want + 512 * s, src + 512 * s, 512);
			else
				memset(want + 512 * s, 0, 512);
		}
	}
	struct img child = { .path = cpath, .size = size, .bs = (uint32_t)MiB, .fp_flags = 2,
			     .data = cdata, .state = st, .present = present,
			     .linkage = linkage, .relative = ".\\p.vhdx",
			     .absolute = "C:\\VMs\\p.vhdx" };
	memset(child.dwg, 0x77, 16);
	build(&child);
	check_reads(cpath, "vhdx-differencing", want, size);

	/* The absolute path's file name beside the child, when the relative
	 * path misses. */
	child.relative = "..\\elsewhere\\p.vhdx";
	build(&child);
	check_reads(cpath, "vhdx-differencing", want, size);
	/* A relative path into a directory. */
	char spath[320];
	snprintf(spath, sizeof spath, "%s/p.vhdx", sub);
	CHECK(rename(ppath, spath) == 0);
	child.relative = "sub\\p.vhdx";
	child.absolute = NULL;
	build(&child);
	check_reads(cpath, "vhdx-differencing", want, size);
	CHECK(rename(spath, ppath) == 0);
	open_expect(cpath, BW_EFORMAT, "parent not found");

	/* A parent that changed since: DataWriteGuid differs. */
	child.relative = "p.vhdx";
	child.linkage = "{a5a5a510-a5a5-a5a5-a5a5-a5a5a5a5a5a6}";
	build(&child);
	open_expect(cpath, BW_EFORMAT, "DataWriteGuid {a5a5a510-a5a5-a5a5-a5a5-a5a5a5a5a5a5}");
	child.linkage = "not a guid";
	build(&child);
	open_expect(cpath, BW_EFORMAT, "parent_linkage is \"not a guid\"");
	child.linkage = NULL;
	build(&child);
	open_expect(cpath, BW_EFORMAT, "parent_linkage is missing");

	/* A loop: the child names itself. */
	snprintf(loop, sizeof loop, "%s/loop.vhdx", dir);
	struct img self = child;
	self.path = loop;
	self.relative = "loop.vhdx";
	self.linkage = "{77777777-7777-7777-7777-777777777777}";
	memset(self.dwg, 0x77, 16);
	build(&self);
	open_expect(loop, BW_EFORMAT, "circular parent chain");

	CHECK_EQ_U64(count_fds(), fds);
	unlink(loop);
	unlink(cpath);
	unlink(ppath);
	rmdir(sub);
	free(present);
	free(pdata);
	free(cdata);
	free(want);
}

/* ---- the writer ------------------------------------------------------- */

static void write_disk_as(const char *p, const struct bw_writer_opts *o,
			  const uint8_t *data, uint64_t size, size_t chunk)
{
	struct bw_writer *w;
	struct bw_error e;
	unlink(p);
	int r0 = bw_writer_open(p, o, &w, &e);
	CHECK(r0 == 0);
	if (r0) {
		fprintf(stderr, "%s\n", e.msg);
		return;
	}
	uint64_t k = 0;
	for (uint64_t off = 0; off < size; off += chunk, k++) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		/* Callers may skip zeros: skip every other all-zero chunk. */
		int zero = 1;
		for (size_t i = 0; i < n && zero; i++)
			zero = data[off + i] == 0;
		if (zero && k % 2)
			continue;
		int r = bw_writer_write(w, data + off, n, off, &e);
		CHECK(r == 0);
		if (r) {
			bw_writer_abort(w);
			return;
		}
	}
	CHECK(bw_writer_finish(w, &e) == 0);
}

static void write_disk(const char *p, const uint8_t *data, uint64_t size, size_t chunk)
{
	struct bw_writer_opts o = { .format = BW_WRITE_VHDX_DYNAMIC, .size = size };
	write_disk_as(p, &o, data, size, chunk);
}

static void test_writer(void)
{
	char path[300];
	snprintf(path, sizeof path, "%s/w.vhdx", dir);
	const uint64_t size = 20 * MiB + 512 * 3;
	uint8_t *data = calloc(1, size);
	fill(data, 2 * MiB, 9);                      /* blocks 0-1 */
	data[5 * MiB + 100] = 1;                     /* block 5 */
	memset(data + 9 * MiB - 10, 0x5C, 20);       /* blocks 8 and 9 */
	data[size - 1] = 0xEE;                       /* the last, partial block */
	static const size_t chunks[] = { 4096, 65536 + 512, MiB, 3 * MiB, 32 * MiB };
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		write_disk(path, data, size, chunks[i]);
		check_reads(path, "vhdx-dynamic", data, size);
	}
	/* Six blocks allocated: 0, 1, 5, 8, 9, 20; the file ends after them. */
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_EQ_U64(st.st_size, 4 * MiB + 6 * MiB);
	uint8_t h[4096], fp[8];
	int fd = open(path, O_RDONLY);
	CHECK(pread(fd, h, sizeof h, 128 * KiB) == (ssize_t)sizeof h);
	CHECK(memcmp(h, "head", 4) == 0);
	CHECK_EQ_U64(bw_get_le64(h + 8), 1);               /* the current one */
	uint32_t stored = bw_get_le32(h + 4);
	CHECK_EQ_U64(seal(h, sizeof h), stored);
	uint8_t zero[16] = { 0 };
	CHECK(memcmp(h + 48, zero, 16) == 0);              /* no log */
	CHECK(pread(fd, fp, sizeof fp, 2 * MiB + 64 * KiB) == (ssize_t)sizeof fp);
	CHECK_EQ_U64(bw_get_le32(fp), MiB);                /* 1 MiB blocks */
	CHECK_EQ_U64(bw_get_le32(fp + 4), 0);
	close(fd);

	/* An all-zero disk: no block, still a valid image. */
	memset(data, 0, size);
	write_disk(path, data, size, MiB);
	check_reads(path, "vhdx-dynamic", data, size);
	CHECK(stat(path, &st) == 0);
	CHECK_EQ_U64(st.st_size, 4 * MiB);

	/* Past the writer's 2 TiB: refused before any allocation. */
	struct bw_writer_opts o = { .format = BW_WRITE_VHDX_DYNAMIC, .size = UINT64_C(3) << 40 };
	struct bw_writer *w;
	struct bw_error e;
	unlink(path);
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK_EQ_U64(bw_writer_actual_size(&o), UINT64_C(3) << 40);
	unlink(path);

	/* The format's names in job. */
	enum bw_write_format f;
	CHECK(bw_write_format_parse("vhdx", &f) == 0 && f == BW_WRITE_VHDX_DYNAMIC);
	CHECK(strcmp(bw_write_format_name(BW_WRITE_VHDX_DYNAMIC), "vhdx-dynamic") == 0);
	free(data);
}

/* ---- the differencing writer ------------------------------------------ */

static void read_at(const char *p, void *buf, size_t n, uint64_t off)
{
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, n, (off_t)off) == (ssize_t)n);
	if (fd >= 0)
		close(fd);
}

/* OUT, a child written over PPATH from LINK, holds exactly the blocks of
 * WANT (SIZE bytes) that differ from PDATA, and the link. */
static void check_diff_child(const char *out, const char *ppath, const struct bw_vhdx_link *l,
			     const uint8_t *want, const uint8_t *pdata, uint64_t size)
{
	check_reads(out, "vhdx-differencing", want, size);
	struct bw_disk *d;
	struct bw_error e;
	if (bw_disk_open(out, &d, &e) == 0) {
		CHECK(strcmp(bw_disk_path(bw_disk_parent(d)), ppath) == 0);
		bw_disk_close(d);
	}
	const uint64_t bs = l->block_size, cr = (UINT64_C(1) << 23) * 512 / bs;
	uint64_t nblocks = (size + bs - 1) / bs, n = 0;
	uint8_t bat[8 * 16], h[4096], fp[8], differs_at[16] = { 0 };
	CHECK(nblocks < 16);
	read_at(out, bat, sizeof bat, 3 * MiB);
	for (uint64_t b = 0; b < nblocks && b < 16; b++) {
		size_t len = size - b * bs < bs ? (size_t)(size - b * bs) : (size_t)bs;
		int differs = memcmp(want + b * bs, pdata + b * bs, len) != 0;
		differs_at[b] = (uint8_t)differs;
		uint64_t ent = bw_get_le64(bat + 8 * b);
		CHECK_EQ_U64(ent & 7, differs ? 6u : 0u);
		if (differs)
			CHECK_EQ_U64(ent >> 20, 4 + n * (bs / MiB));
		n += (uint64_t)differs;
	}
	CHECK(nblocks < cr);
	CHECK_EQ_U64(bw_get_le64(bat + 8 * nblocks), 0);    /* not past the size */
	/* One chunk: its sector bitmap, after the blocks, present, its bits
	 * set exactly for the sectors of the fully present blocks. */
	uint8_t sbe[8];
	read_at(out, sbe, 8, 3 * MiB + 8 * cr);
	uint64_t sbpos = 4 * MiB + n * bs;
	CHECK_EQ_U64(bw_get_le64(sbe), 6 | (sbpos / MiB) << 20);
	uint8_t *sb = malloc(MiB);
	read_at(out, sb, MiB, sbpos);
	const uint64_t sectors = size / 512;
	for (uint64_t sec = 0; sec < sectors; sec++)
		if ((sb[sec / 8] >> (sec % 8) & 1) != differs_at[sec / (bs / 512)]) {
			CHECK(!"a sector bit disagrees with its block's state");
			break;
		}
	for (uint64_t sec = sectors; sec < 8 * MiB; sec++)
		if (sb[sec / 8] >> (sec % 8) & 1) {
			CHECK(!"a sector bit set past the virtual size");
			break;
		}
	free(sb);
	struct stat st;
	CHECK(stat(out, &st) == 0 && (uint64_t)st.st_size == sbpos + MiB);
	read_at(out, h, sizeof h, 128 * KiB);
	CHECK(memcmp(h + 32, "\x77\x77\x77\x77", 4) != 0);   /* its own DataWriteGuid */
	read_at(out, fp, sizeof fp, 2 * MiB + 64 * KiB);
	CHECK_EQ_U64(bw_get_le32(fp), bs);
	CHECK_EQ_U64(bw_get_le32(fp + 4), 2);                /* HasParent */
	uint8_t *loc = malloc(l->locator_len), me[32];
	read_at(out, me, sizeof me, 2 * MiB + 32 + 32 * 5);
	static const uint8_t g_pl[16] = VHDX_GUID_PARENT_LOCATOR;
	CHECK(memcmp(me, g_pl, 16) == 0 && bw_get_le32(me + 20) == l->locator_len);
	CHECK_EQ_U64(bw_get_le32(me + 24), 4);               /* IsRequired */
	read_at(out, loc, l->locator_len, 2 * MiB + bw_get_le32(me + 16));
	CHECK(memcmp(loc, l->locator, l->locator_len) == 0);
	free(loc);
}

static void test_diff_writer(void)
{
	char ppath[300], cpath[300], opath[300];
	snprintf(ppath, sizeof ppath, "%s/p.vhdx", dir);
	snprintf(cpath, sizeof cpath, "%s/c.vhdx", dir);
	snprintf(opath, sizeof opath, "%s/o.vhdx", dir);
	/* A last block cut short: the size is not a multiple of either
	 * block size. */
	const uint64_t size = 12 * MiB + 3 * 512;
	uint8_t *pdata = calloc(1, size), *cdata = calloc(1, size), *want = malloc(size);
	fill(pdata, 8 * MiB, 5);                    /* parent: 1 MiB blocks 0-7 */
	fill(cdata, size, 77);
	struct img parent = { .path = ppath, .size = size, .bs = (uint32_t)MiB, .data = pdata };
	memset(parent.dwg, 0x5A, 16);
	build(&parent);
	/* The input child, 2 MiB blocks: block 0 partially present (a few
	 * sectors), block 4 fully present, the rest not present. */
	uint8_t st[7] = { 7, 0, 0, 0, 6, 0, 0 };
	uint8_t *present = calloc(1, size / 512 + 1);
	for (unsigned s = 10; s < 20; s++)
		present[s] = 1;
	struct img child = { .path = cpath, .size = size, .bs = 2 * (uint32_t)MiB, .fp_flags = 2,
			     .data = cdata, .state = st, .present = present,
			     .linkage = "{5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a}",
			     .relative = "p.vhdx", .absolute = "D:\\vm\\p.vhdx" };
	memset(child.dwg, 0x77, 16);
	build(&child);

	struct bw_disk *cd, *pd;
	struct bw_error e;
	struct bw_vhdx_link *l = calloc(1, sizeof *l);
	CHECK(bw_disk_open(cpath, &cd, &e) == 0);
	CHECK(bw_disk_pread(cd, want, size, 0, &e) == 0);
	CHECK(bw_disk_vhdx_link(cd, l, &e) == 0);
	CHECK_EQ_U64(l->block_size, 2 * MiB);
	CHECK_EQ_U64(l->logical_sector, 512);
	CHECK_EQ_U64(l->physical_sector, 4096);
	CHECK(l->page83[0] == 0x83 && l->page83[15] == 0x83);
	/* The edits: block 1 one byte, block 3 zeroed where the parent has
	 * data, block 5 a byte where the parent has zeros; block 2 and the
	 * short block 6 stay the parent's. */
	want[2 * MiB + 100] ^= 1;
	memset(want + 6 * MiB, 0, 2 * MiB);
	want[10 * MiB + 7] = 0x42;
	struct bw_writer_opts o = { .format = BW_WRITE_VHDX_DIFF, .size = size,
				    .parent = bw_disk_parent(cd), .vhdx_link = l };
	static const size_t chunks[] = { 4096, MiB + 512, 2 * MiB, 5 * MiB, 16 * MiB };
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		write_disk_as(opath, &o, want, size, chunks[i]);
		check_diff_child(opath, ppath, l, want, pdata, size);
	}
	/* A new child of the new child's parent: the same link again. */
	struct bw_disk *od;
	struct bw_vhdx_link *l2 = calloc(1, sizeof *l2);
	CHECK(bw_disk_open(opath, &od, &e) == 0);
	CHECK(bw_disk_vhdx_link(od, l2, &e) == 0);
	CHECK(l2->locator_len == l->locator_len &&
	      memcmp(l2->locator, l->locator, l->locator_len) == 0);
	bw_disk_close(od);
	free(l2);

	/* Bad options: refused at open, nothing written past them. */
	struct bw_writer *w;
	struct bw_writer_opts bad = o;
	bad.vhdx_link = NULL;
	unlink(opath);
	CHECK(bw_writer_open(opath, &bad, &w, &e) == BW_EINVAL);
	unlink(opath);
	bad = o;
	bad.parent = NULL;
	CHECK(bw_writer_open(opath, &bad, &w, &e) == BW_EINVAL);
	unlink(opath);
	l->block_size = 3 * (uint32_t)MiB;
	CHECK(bw_writer_open(opath, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "block size") != NULL);
	unlink(opath);
	l->block_size = 2 * (uint32_t)MiB;
	bad = o;
	bad.size = size + 512;                      /* not the parent's */
	CHECK(bw_writer_open(opath, &bad, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "virtual size") != NULL);
	unlink(opath);
	/* Not a differencing VHDX. */
	CHECK(bw_disk_open(ppath, &pd, &e) == 0);
	CHECK(bw_disk_vhdx_link(pd, l, &e) == BW_EINVAL);
	bw_disk_close(pd);
	bw_disk_close(cd);

	/* What a new child could not keep: refused with the file named. */
	child.c = ITEM_UNKNOWN_OPTIONAL;
	build(&child);
	CHECK(bw_disk_open(cpath, &cd, &e) == 0);
	CHECK(bw_disk_vhdx_link(cd, l, &e) == BW_EUNSUPPORTED);
	CHECK(strncmp(e.msg, cpath, strlen(cpath)) == 0 && strstr(e.msg, "optional metadata item"));
	bw_disk_close(cd);
	child.c = OK;
	child.fp_flags = 3;
	build(&child);
	CHECK(bw_disk_open(cpath, &cd, &e) == 0);
	CHECK(bw_disk_vhdx_link(cd, l, &e) == BW_EUNSUPPORTED);
	CHECK(strstr(e.msg, "LeaveBlockAllocated") != NULL);
	bw_disk_close(cd);
	CHECK(strcmp(bw_write_format_name(BW_WRITE_VHDX_DIFF), "vhdx-differencing") == 0);

	unlink(opath);
	unlink(cpath);
	unlink(ppath);
	free(l);
	free(present);
	free(pdata);
	free(cdata);
	free(want);
}

/* The file PATH written with a fixed identity filled with FILL. */
static uint8_t *write_fixed(const char *p, const uint8_t *data, uint64_t size, int fill,
			    size_t *len)
{
	struct bw_writer_opts o = { .format = BW_WRITE_VHDX_DYNAMIC, .size = size,
				    .fixed_identity = 1 };
	memset(o.identity, fill, sizeof o.identity);
	struct bw_writer *w;
	struct bw_error e;
	unlink(p);
	if (bw_writer_open(p, &o, &w, &e) != 0)
		return NULL;
	if (bw_writer_write(w, data, (size_t)size, 0, &e) != 0) {
		bw_writer_abort(w);
		return NULL;
	}
	if (bw_writer_finish(w, &e) != 0)
		return NULL;
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open(p, O_RDONLY);
	if (fd >= 0 && fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size)) &&
	    read(fd, buf, (size_t)st.st_size) == st.st_size)
		*len = (size_t)st.st_size;
	else {
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	unlink(p);
	return buf;
}

static void test_fixed_identity(void)
{
	const uint64_t size = 8 << 20;
	uint8_t *data = calloc(1, size);
	char p[300];
	snprintf(p, sizeof p, "%s/fixed.vhdx", dir);
	size_t la = 0, lb = 0, lc = 0;
	for (uint64_t i = 0; data && i < (2u << 20); i++)
		data[i] = (uint8_t)(i * 13 + 1);
	uint8_t *a = data ? write_fixed(p, data, size, 0x21, &la) : NULL;
	uint8_t *b = data ? write_fixed(p, data, size, 0x21, &lb) : NULL;
	uint8_t *c = data ? write_fixed(p, data, size, 0x22, &lc) : NULL;
	CHECK(a && b && c);
	if (a && b && c) {
		CHECK(la == lb && memcmp(a, b, la) == 0);
		CHECK(la == lc && memcmp(a, c, la) != 0);
		/* only the headers (from 64 KiB) and the metadata region (2 to
		 * 3 MiB: the page 83 data) differ, never the BAT or the data */
		size_t first = 0;
		while (first < la && a[first] == c[first])
			first++;
		size_t last = la;
		while (last > 0 && a[last - 1] == c[last - 1])
			last--;
		CHECK(first >= 64 * 1024 && last <= 3u << 20);
	}
	free(a);
	free(b);
	free(c);
	free(data);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	test_crc32c();
	test_reader();
	test_differencing();
	test_writer();
	test_diff_writer();
	test_fixed_identity();
	rmdir(dir);
	return check_done("test_vhdx");
}

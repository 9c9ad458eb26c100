/*
 * GPT parse/encode (src/part/gpt.c): a Windows layout (ESP, MSR, Windows,
 * Recovery) built here byte by byte from UEFI 2.10 tables 5-4..5-6, not
 * through the encoder; each corruption refused with its offset and what
 * was expected; one bad copy survived; encode -> parse on a grown disk.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "boxwright/part.h"
#include "boxwright/win.h"
#include "check.h"
#include "common/bytes.h"

#define MiB (1024ull * 1024)

/* ---- a memory disk ---- */
struct mem {
	uint8_t *p;
	size_t n;
	int reads;
};

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off, struct bw_error *err)
{
	struct mem *m = ctx;
	m->reads++;
	if (off > m->n || len > m->n - off)
		return bw_seterr(err, BW_EINVAL, "mem", "read past the end");
	memcpy(buf, m->p + off, len);
	return 0;
}

/* Text GUID -> the 16 bytes as stored (first three fields little-endian). */
static void guid(const char *t, uint8_t g[16])
{
	unsigned v[16];
	sscanf(t, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &v[0], &v[1], &v[2],
	       &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]);
	bw_put_le32(g, v[0]);
	bw_put_le16(g + 4, (uint16_t)v[1]);
	bw_put_le16(g + 6, (uint16_t)v[2]);
	for (int i = 8; i < 16; i++)
		g[i] = (uint8_t)v[i];
}

#define T_ESP "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define T_MSR "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
#define T_BDP "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
#define T_REC "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC"
#define DISK_GUID "6A1B2C3D-4E5F-4A6B-8C7D-8E9FA0B1C2D3"

struct tpart {
	const char *type, *uniq, *name;
	uint64_t first, last, attr;
};

/* What build() writes: both copies from the same fields. */
struct layout {
	uint32_t ss;
	uint64_t sectors;
	uint32_t count, size;
	uint64_t first_usable, last_usable;   /* 0: the usual */
	uint64_t backup_lba;                  /* 0: the last LBA */
	int nparts;
	struct tpart part[8];
};

static const struct layout windows = {
	.ss = 512, .sectors = 16 * MiB / 512, .count = 128, .size = 128, .nparts = 4,
	.part = {
		{ T_ESP, "11111111-2222-4333-8444-555555555555", "EFI system partition", 2048, 6143, 0x8000000000000001ull },
		{ T_MSR, "22222222-3333-4444-8555-666666666666", "Microsoft reserved partition", 6144, 8191, 0 },
		{ T_BDP, "33333333-4444-4555-8666-777777777777", "Basic data partition", 8192, 28671, 0 },
		{ T_REC, "44444444-5555-4666-8777-888888888888", "", 28672, 32734, 0x8000000000000001ull },
	},
};

static void put_name(uint8_t *p, const char *ascii)
{
	for (size_t i = 0; ascii[i] && i < 36; i++)
		bw_put_le16(p + 2 * i, (uint8_t)ascii[i]);
}

static void header_crc(uint8_t *h)
{
	uint32_t hsize = bw_get_le32(h + 12);
	bw_put_le32(h + 16, 0);
	bw_put_le32(h + 16, (uint32_t)crc32(0, h, hsize));
}

/* Re-CRC the entry array at ARRAY and the header H that names it. */
static void array_crc(uint8_t *h, const uint8_t *array)
{
	bw_put_le32(h + 88, (uint32_t)crc32(0, array, bw_get_le32(h + 80) * bw_get_le32(h + 84)));
	header_crc(h);
}

static struct mem build(const struct layout *l)
{
	struct mem m = { calloc(1, l->sectors * l->ss), l->sectors * l->ss, 0 };
	uint32_t ss = l->ss;
	uint64_t asect = ((uint64_t)l->count * l->size + ss - 1) / ss;
	uint64_t backup = l->backup_lba ? l->backup_lba : l->sectors - 1;
	uint64_t fu = l->first_usable ? l->first_usable : 2 + asect;
	uint64_t lu = l->last_usable ? l->last_usable : backup - asect - 1;
	uint8_t *s = m.p;

	/* Protective MBR with some boot code and a signature. */
	for (int i = 0; i < 440; i++)
		s[i] = (uint8_t)(i * 5 + 1);
	bw_put_le32(s + 0x1B8, 0xA1B2C3D4);
	s[0x1BE + 4] = 0xEE;
	bw_put_le32(s + 0x1BE + 8, 1);
	bw_put_le32(s + 0x1BE + 12, (uint32_t)(l->sectors - 1));
	s[510] = 0x55; s[511] = 0xAA;

	/* Huge counts or sizes: headers only (the parser must not read). */
	int fits = asect + 3 < backup;
	uint8_t *pa = m.p + 2 * ss;
	for (int i = 0; i < l->nparts; i++) {
		uint8_t *e = pa + (size_t)i * l->size;
		guid(l->part[i].type, e);
		guid(l->part[i].uniq, e + 16);
		bw_put_le64(e + 32, l->part[i].first);
		bw_put_le64(e + 40, l->part[i].last);
		bw_put_le64(e + 48, l->part[i].attr);
		put_name(e + 56, l->part[i].name);
	}
	size_t abytes = (size_t)l->count * l->size;
	if (fits)
		memcpy(m.p + (backup - asect) * ss, pa, abytes);
	for (int copy = 0; copy < 2; copy++) {
		uint8_t *h = m.p + (copy ? backup : 1) * ss;
		memcpy(h, "EFI PART", 8);
		bw_put_le32(h + 8, 0x00010000);
		bw_put_le32(h + 12, 92);
		bw_put_le64(h + 24, copy ? backup : 1);
		bw_put_le64(h + 32, copy ? 1 : backup);
		bw_put_le64(h + 40, fu);
		bw_put_le64(h + 48, lu);
		guid(DISK_GUID, h + 56);
		bw_put_le64(h + 72, copy ? backup - asect : 2);
		bw_put_le32(h + 80, l->count);
		bw_put_le32(h + 84, l->size);
		bw_put_le32(h + 88, fits ? (uint32_t)crc32(0, pa, (uInt)abytes) : 0);
		header_crc(h);
	}
	return m;
}

static int parse(struct mem *m, uint32_t ss, struct bw_gpt *g, struct bw_error *e)
{
	return bw_gpt_parse(mem_read, m, m->n, ss, "d.img", g, e);
}

static int has(const struct bw_error *e, const char *s)
{
	if (strstr(e->msg, s))
		return 1;
	fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", e->msg, s);
	return 0;
}

/* Parse must refuse M with CODE and a message holding every NEEDLE. */
#define REFUSE(m, code, ...)                                                   \
	do {                                                                   \
		struct bw_gpt g_;                                              \
		struct bw_error e_;                                            \
		int r_ = parse(&(m), 512, &g_, &e_);                           \
		CHECK_EQ_U64(r_, (code));                                      \
		const char *n_[] = { __VA_ARGS__ };                            \
		for (size_t k_ = 0; k_ < sizeof n_ / sizeof n_[0]; k_++)       \
			CHECK(has(&e_, n_[k_]));                               \
		CHECK(g_.part == NULL && g_.nparts == 0);                      \
		bw_gpt_free(&g_);                                              \
		free((m).p);                                                   \
	} while (0)

static uint8_t *hdr(struct mem *m, int backup)
{
	return m->p + (backup ? m->n - 512 : 512);
}

static uint8_t *arr(struct mem *m, int backup)
{
	return m->p + (backup ? m->n - 33 * 512 : 1024);
}

static void test_valid(void)
{
	struct mem m = build(&windows);
	struct bw_gpt g;
	struct bw_error e;
	CHECK(parse(&m, 0, &g, &e) == 0);
	CHECK_EQ_U64(g.sector_size, 512);
	CHECK_EQ_U64(g.disk_sectors, 32768);
	CHECK_EQ_U64(g.flags, 0);
	CHECK_EQ_U64(g.first_usable, 34);
	CHECK_EQ_U64(g.last_usable, 32734);
	CHECK_EQ_U64(g.backup_lba, 32767);
	CHECK_EQ_U64(g.primary_entries_lba, 2);
	CHECK_EQ_U64(g.backup_entries_lba, 32735);
	CHECK_EQ_U64(g.entry_count, 128);
	CHECK_EQ_U64(g.entry_size, 128);
	CHECK_EQ_U64(g.pmbr_signature, 0xA1B2C3D4);
	CHECK(memcmp(g.pmbr_boot_code, m.p, 440) == 0);
	CHECK_EQ_U64(g.nparts, 4);
	char t[39];
	bw_guid_format(g.disk_guid, t);
	CHECK(strcmp(t, "{6a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3}") == 0);
	const enum bw_gpt_kind kinds[] = { BW_GPT_KIND_ESP, BW_GPT_KIND_MSR,
					   BW_GPT_KIND_BASIC_DATA, BW_GPT_KIND_RECOVERY };
	for (int i = 0; i < 4; i++) {
		const struct bw_gpt_part *p = &g.part[i];
		uint8_t u[16];
		CHECK_EQ_U64(p->index, i);
		CHECK(bw_gpt_classify(p->type_guid) == kinds[i]);
		guid(windows.part[i].uniq, u);
		CHECK(memcmp(p->unique_guid, u, 16) == 0);
		CHECK_EQ_U64(p->first_lba, windows.part[i].first);
		CHECK_EQ_U64(p->last_lba, windows.part[i].last);
		CHECK_EQ_U64(p->attributes, windows.part[i].attr);
		CHECK(strcmp(p->name, windows.part[i].name) == 0);
		CHECK(memcmp(p->name_raw, m.p + 1024 + 128 * i + 56, 72) == 0);
	}
	/* The mixed-endian text form of a stored type GUID. */
	bw_guid_format(g.part[0].type_guid, t);
	CHECK(strcmp(t, "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}") == 0);
	CHECK(g.part[0].type_guid[0] == 0x28 && g.part[0].type_guid[3] == 0xC1);
	bw_gpt_free(&g);
	bw_gpt_free(&g);             /* twice is harmless */
	free(m.p);

	uint8_t x[16];
	guid(T_MSR, x);
	CHECK(bw_gpt_classify(x) == BW_GPT_KIND_MSR);
	guid(T_REC, x);
	CHECK(bw_gpt_classify(x) == BW_GPT_KIND_RECOVERY);
	guid("0FC63DAF-8483-4772-8E79-3D69D8477DE4", x);   /* Linux data */
	CHECK(bw_gpt_classify(x) == BW_GPT_KIND_OTHER);
}

static void test_refusals(void)
{
	struct mem m;
	struct layout l;

	/* Signature, in both copies. */
	m = build(&windows);
	hdr(&m, 0)[0] = 'X';
	hdr(&m, 1)[3] = 'X';
	REFUSE(m, BW_EFORMAT, "no valid GPT", "primary header at offset 512: signature expected \"EFI PART\"",
	       "found 5846492050415254", "backup header at offset 16776704: signature");

	/* Header CRC. */
	m = build(&windows);
	hdr(&m, 0)[16] ^= 1;
	hdr(&m, 1)[16] ^= 1;
	REFUSE(m, BW_EFORMAT, "primary header at offset 528: header CRC32",
	       "backup header at offset 16776720: header CRC32", "expected 0x");

	/* Entry array CRC: one byte of an unused entry in both arrays. */
	m = build(&windows);
	arr(&m, 0)[100 * 128] = 1;
	arr(&m, 1)[100 * 128] = 1;
	REFUSE(m, BW_EFORMAT, "primary header at offset 600: partition entries CRC32",
	       "the 128 entries at offset 1024 give 0x");

	/* Overlapping entries (the MSR reaches into Windows by one LBA). */
	l = windows;
	l.part[1].last = 8192;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "GPT partitions 2 (offset 1152) and 3 (offset 1280) overlap",
	       "LBAs 6144..8192 and 8192..28671");

	/* Overlap hidden behind a long partition (not neighbours by start). */
	l = windows;
	l.part[0].last = 30000;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "GPT partitions 1 (offset 1024) and 2 (offset 1152) overlap");
	l = windows;
	l.part[2] = (struct tpart){ T_BDP, "33333333-4444-4555-8666-777777777777", "x", 2048, 30000, 0 };
	l.part[0].first = 30001; l.part[0].last = 30100;
	l.part[1].first = 31000; l.part[1].last = 31100;
	l.part[3].first = 29000; l.part[3].last = 29001;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "GPT partitions 3 (offset 1280) and 4 (offset 1408) overlap");

	/* Entry outside the usable range, at each end, and first > last. */
	l = windows;
	l.part[3].last = 32735;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "GPT partition 4 at offset 1440: LBAs 28672..32735",
	       "expected inside the usable LBAs 34..32734");
	l = windows;
	l.part[0].first = 33;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "GPT partition 1 at offset 1056: LBAs 33..6143");
	l = windows;
	l.part[1].first = 8191; l.part[1].last = 8190;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "GPT partition 2", "first <= last");

	/* FirstUsable > LastUsable. */
	l = windows;
	l.nparts = 0;
	l.first_usable = 20000; l.last_usable = 19999;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "primary header at offset 552: usable LBAs 20000..19999",
	       "expected 2 <= first <= last <= 32766");
	/* Usable range reaching the backup header / the entry array. */
	l = windows;
	l.last_usable = 32767;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "usable LBAs 34..32767");
	l = windows;
	l.first_usable = 20;
	m = build(&l);
	/* Regression: the backup alone was taken with a first usable LBA that
	 * leaves no room for the primary entries (and then cannot be written). */
	REFUSE(m, BW_EFORMAT, "primary header at offset 584: partition entries at LBA 2 (32 sectors) outside LBAs 2..19",
	       "backup header at offset 16776744: usable LBAs 20..32734 (expected 34 <= first");

	/* Huge entry count and size, refused before any allocation. */
	l = windows;
	l.count = 0x10000000;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "primary header at offset 592: 268435456 partition entries (expected at most 1024)");
	l = windows;
	l.count = 1;
	l.nparts = 0;
	l.size = 1u << 30;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "offset 596: entry size 1073741824 (expected 128 x 2^n, at most 4096)");
	/* Entry size not a multiple of 128, or a multiple but no power of 2. */
	l = windows;
	l.size = 200;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "entry size 200 (expected 128 x 2^n");
	l = windows;
	l.size = 384;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "entry size 384");
	l = windows;
	l.size = 64;
	m = build(&l);
	REFUSE(m, BW_EFORMAT, "entry size 64");

	/* Revision, header size, reserved field, MyLBA. */
	m = build(&windows);
	bw_put_le32(hdr(&m, 0) + 8, 0x00020000); header_crc(hdr(&m, 0));
	bw_put_le32(hdr(&m, 1) + 8, 0x00020000); header_crc(hdr(&m, 1));
	REFUSE(m, BW_EUNSUPPORTED, "offset 520: revision 0x00020000 (expected 0x00010000)");
	m = build(&windows);
	bw_put_le32(hdr(&m, 0) + 12, 513); bw_put_le32(hdr(&m, 1) + 12, 91);
	REFUSE(m, BW_EFORMAT, "offset 524: header size 513 (expected 92..512)", "header size 91");
	m = build(&windows);
	bw_put_le32(hdr(&m, 0) + 20, 7); header_crc(hdr(&m, 0));
	bw_put_le32(hdr(&m, 1) + 20, 7); header_crc(hdr(&m, 1));
	REFUSE(m, BW_EFORMAT, "offset 532: reserved field 0x00000007 (expected 0)");
	m = build(&windows);
	bw_put_le64(hdr(&m, 0) + 24, 2); header_crc(hdr(&m, 0));
	bw_put_le64(hdr(&m, 1) + 24, 5); header_crc(hdr(&m, 1));
	REFUSE(m, BW_EFORMAT, "offset 536: MyLBA 2 (expected 1)", "MyLBA 5 (expected 32767)");
	/* A larger header whose extra bytes are not zero: a later revision. */
	m = build(&windows);
	bw_put_le32(hdr(&m, 0) + 12, 96); hdr(&m, 0)[93] = 1; header_crc(hdr(&m, 0));
	bw_put_le32(hdr(&m, 1) + 12, 96); hdr(&m, 1)[93] = 1; header_crc(hdr(&m, 1));
	REFUSE(m, BW_EUNSUPPORTED, "offset 604: 4 header bytes past the 92");
	/* ... but zero extra bytes are fine. */
	m = build(&windows);
	bw_put_le32(hdr(&m, 0) + 12, 512); header_crc(hdr(&m, 0));
	struct bw_gpt g;
	struct bw_error e;
	CHECK(parse(&m, 512, &g, &e) == 0 && g.flags == 0);
	bw_gpt_free(&g);
	free(m.p);

	/* Entries of 256 bytes whose second half is not zero. */
	l = windows;
	l.size = 256;
	l.part[3].last = 32702;
	m = build(&l);
	CHECK(parse(&m, 512, &g, &e) == 0 && g.nparts == 4);
	bw_gpt_free(&g);
	arr(&m, 0)[256 + 200] = 1;
	array_crc(hdr(&m, 0), arr(&m, 0));
	memcpy(arr(&m, 1), arr(&m, 0), 32 * 512);
	array_crc(hdr(&m, 1), arr(&m, 1));
	REFUSE(m, BW_EUNSUPPORTED, "GPT partition 2 at offset 1408: bytes past the 128");

	/* Protective MBR: missing 55AA, no 0xEE entry, hybrid, bad start,
	 * larger than the disk. */
	m = build(&windows);
	m.p[511] = 0;
	REFUSE(m, BW_EFORMAT, "no protective MBR: offset 510 expected 55 aa, found 55 00");
	m = build(&windows);
	m.p[0x1EE + 4] = 0xEE;
	REFUSE(m, BW_EUNSUPPORTED, "hybrid MBR: entry 4 at offset 494 has type 0xee");
	m = build(&windows);
	m.p[0x1BE + 4] = 0;
	REFUSE(m, BW_EFORMAT, "no protective MBR entry (type 0xee) at offset 446");
	m = build(&windows);
	m.p[0x1CE + 4] = 0x0C;
	bw_put_le32(m.p + 0x1CE + 8, 2048);
	bw_put_le32(m.p + 0x1CE + 12, 4096);
	REFUSE(m, BW_EUNSUPPORTED, "hybrid MBR: entry 2 at offset 462 has type 0x0c");
	m = build(&windows);
	bw_put_le32(m.p + 0x1BE + 8, 0);
	REFUSE(m, BW_EFORMAT, "protective MBR entry at offset 454: start LBA 0 (expected 1)");
	m = build(&windows);
	bw_put_le32(m.p + 0x1BE + 12, 32768);
	REFUSE(m, BW_EFORMAT, "protective MBR entry at offset 458: 32768 sectors from LBA 1");

	/* Copies that both pass but disagree. */
	m = build(&windows);
	hdr(&m, 1)[56] ^= 0xFF; header_crc(hdr(&m, 1));
	REFUSE(m, BW_EFORMAT, "GPT primary header at offset 512 and backup header at offset 16776704 disagree on the disk GUID");
	m = build(&windows);
	arr(&m, 1)[100 * 128] = 1;
	array_crc(hdr(&m, 1), arr(&m, 1));
	REFUSE(m, BW_EFORMAT, "disagree on the partition entries");

	/* A disk too small to hold a GPT; a bad sector size. */
	m = build(&windows);
	m.n = 3 * 512;
	REFUSE(m, BW_EFORMAT, "too small for a GPT");
	m = build(&windows);
	CHECK(parse(&m, 1024, &g, &e) == BW_EINVAL);
	free(m.p);
}

static void test_one_copy_bad(void)
{
	struct bw_gpt g;
	struct bw_error e;

	/* Primary header CRC wrong: the backup is used and the reason kept. */
	struct mem m = build(&windows);
	hdr(&m, 0)[16] ^= 1;
	CHECK(parse(&m, 512, &g, &e) == 0);
	CHECK(g.flags == BW_GPT_FROM_BACKUP);
	CHECK(g.damaged.code == BW_EFORMAT);
	CHECK(has(&g.damaged, "d.img: GPT primary header at offset 528: header CRC32"));
	CHECK_EQ_U64(g.nparts, 4);
	CHECK_EQ_U64(g.part[2].last_lba, 28671);
	CHECK_EQ_U64(g.primary_entries_lba, 2);
	CHECK_EQ_U64(g.backup_entries_lba, 32735);
	bw_gpt_free(&g);
	free(m.p);
	/* Primary array corrupt (its header fine): the same. */
	m = build(&windows);
	arr(&m, 0)[5] ^= 0x40;
	CHECK(parse(&m, 512, &g, &e) == 0);
	CHECK(g.flags == BW_GPT_FROM_BACKUP);
	CHECK(has(&g.damaged, "partition entries CRC32"));
	uint8_t u[16];
	guid(T_ESP, u);
	CHECK(memcmp(g.part[0].type_guid, u, 16) == 0);
	bw_gpt_free(&g);
	free(m.p);

	/* Backup bad: the primary is used, the backup's problem reported. */
	m = build(&windows);
	memset(hdr(&m, 1), 0, 512);
	CHECK(parse(&m, 512, &g, &e) == 0);
	CHECK(g.flags == BW_GPT_BACKUP_BAD);
	CHECK(has(&g.damaged, "backup header at offset 16776704: signature"));
	bw_gpt_free(&g);
	free(m.p);

	/* A disk grown after partitioning: backup where the primary says,
	 * short protective entry.  Both are facts, not damage. */
	struct layout l = windows;
	l.backup_lba = 32767;
	l.sectors = 40000;
	m = build(&l);
	bw_put_le32(m.p + 0x1BE + 12, 32767);
	CHECK(parse(&m, 512, &g, &e) == 0);
	CHECK(g.flags == (BW_GPT_BACKUP_NOT_END | BW_GPT_PMBR_SHORT));
	CHECK_EQ_U64(g.backup_lba, 32767);
	CHECK_EQ_U64(g.disk_sectors, 40000);
	bw_gpt_free(&g);
	/* ... whose primary is then damaged: the backup is not at the end. */
	hdr(&m, 0)[0] = 0;
	CHECK(parse(&m, 512, &g, &e) == BW_EFORMAT);
	CHECK(has(&e, "backup header at offset 20479488: signature"));
	free(m.p);

	/* 0xFFFFFFFF in the protective entry of a small disk: tolerated. */
	m = build(&windows);
	bw_put_le32(m.p + 0x1BE + 12, 0xFFFFFFFFu);
	CHECK(parse(&m, 512, &g, &e) == 0 && g.flags == BW_GPT_PMBR_SHORT);
	bw_gpt_free(&g);
	free(m.p);
}

static void test_names(void)
{
	struct mem m = build(&windows);
	uint8_t *n = arr(&m, 0) + 2 * 128 + 56;
	memset(n, 0, 72);
	bw_put_le16(n, 'W');
	bw_put_le16(n + 2, 0x00E9);          /* é */
	bw_put_le16(n + 4, 0xD800);          /* unpaired high surrogate */
	bw_put_le16(n + 6, 'x');
	array_crc(hdr(&m, 0), arr(&m, 0));
	memcpy(arr(&m, 1), arr(&m, 0), 32 * 512);
	array_crc(hdr(&m, 1), arr(&m, 1));
	struct bw_gpt g;
	struct bw_error e;
	CHECK(parse(&m, 512, &g, &e) == 0);
	CHECK(strcmp(g.part[2].name, "W\xC3\xA9\xEF\xBF\xBDx") == 0);
	CHECK(memcmp(g.part[2].name_raw, n, 72) == 0);
	bw_gpt_free(&g);
	/* 36 units, no NUL: all of them. */
	for (int i = 0; i < 36; i++)
		bw_put_le16(n + 2 * i, (uint16_t)('A' + i % 26));
	array_crc(hdr(&m, 0), arr(&m, 0));
	memcpy(arr(&m, 1), arr(&m, 0), 32 * 512);
	array_crc(hdr(&m, 1), arr(&m, 1));
	CHECK(parse(&m, 512, &g, &e) == 0);
	CHECK_EQ_U64(strlen(g.part[2].name), 36);
	bw_gpt_free(&g);
	free(m.p);
}

static void test_4k(void)
{
	struct layout l = windows;
	l.ss = 4096;
	l.sectors = 4096;                     /* 16 MiB */
	l.part[0].first = 256; l.part[0].last = 767;
	l.part[1].first = 768; l.part[1].last = 1023;
	l.part[2].first = 1024; l.part[2].last = 3583;
	l.part[3].first = 3584; l.part[3].last = 4089;
	struct mem m = build(&l);
	struct bw_gpt g;
	struct bw_error e;
	CHECK(parse(&m, 0, &g, &e) == 0);
	CHECK_EQ_U64(g.sector_size, 4096);
	CHECK_EQ_U64(g.first_usable, 6);
	CHECK_EQ_U64(g.last_usable, 4090);
	CHECK_EQ_U64(g.nparts, 4);
	bw_gpt_free(&g);
	/* The same disk read as 512-byte sectors is no GPT. */
	CHECK(parse(&m, 512, &g, &e) == BW_EFORMAT);
	free(m.p);
}

/* Place IMG's runs onto a copy of OLD of NEW_SIZE bytes. */
static struct mem place(const struct mem *old, uint64_t new_size, const struct bw_gpt_image *img,
			uint32_t ss)
{
	struct mem m = { calloc(1, new_size), new_size, 0 };
	memcpy(m.p, old->p, old->n < new_size ? old->n : new_size);
	for (size_t i = 0; i < img->nruns; i++) {
		CHECK(i == 0 || img->run[i].lba > img->run[i - 1].lba);
		memcpy(m.p + img->run[i].lba * ss, img->run[i].data, img->run[i].nsectors * ss);
	}
	return m;
}

static void test_round_trip(void)
{
	struct mem m = build(&windows);
	struct bw_gpt g, g2;
	struct bw_error e;
	CHECK(parse(&m, 512, &g, &e) == 0);

	/* Grow to 64 MiB: Windows to the Recovery's new start, Recovery to
	 * the end unchanged in size. */
	uint64_t nsz = 64 * MiB, n = nsz / 512, last_usable = n - 34;
	uint64_t rec = g.part[3].last_lba - g.part[3].first_lba;
	struct bw_gpt_range rg[4] = {
		{ g.part[0].first_lba, g.part[0].last_lba },
		{ g.part[1].first_lba, g.part[1].last_lba },
		{ g.part[2].first_lba, last_usable - rec - 1 },
		{ last_usable - rec, last_usable },
	};
	struct bw_gpt_image img;
	CHECK(bw_gpt_encode(&g, nsz, rg, &img, &e) == 0);
	CHECK_EQ_U64(img.nruns, 4);
	CHECK_EQ_U64(img.run[0].lba, 0);
	CHECK_EQ_U64(img.run[1].lba, 1);
	CHECK_EQ_U64(img.run[2].lba, 2);
	CHECK_EQ_U64(img.run[2].nsectors, 32);
	CHECK_EQ_U64(img.run[3].lba, n - 33);
	CHECK_EQ_U64(img.run[3].nsectors, 33);
	struct mem m2 = place(&m, nsz, &img, 512);
	CHECK(memcmp(m2.p, m.p, 440) == 0);
	CHECK_EQ_U64(bw_get_le32(m2.p + 0x1BE + 12), n - 1);
	CHECK(parse(&m2, 512, &g2, &e) == 0);
	CHECK_EQ_U64(g2.flags, 0);
	CHECK(memcmp(g2.disk_guid, g.disk_guid, 16) == 0);
	CHECK_EQ_U64(g2.last_usable, last_usable);
	CHECK_EQ_U64(g2.first_usable, 34);
	CHECK_EQ_U64(g2.backup_lba, n - 1);
	CHECK_EQ_U64(g2.pmbr_signature, g.pmbr_signature);
	CHECK_EQ_U64(g2.nparts, 4);
	for (int i = 0; i < 4; i++) {
		const struct bw_gpt_part *a = &g.part[i], *b = &g2.part[i];
		CHECK(a->index == b->index);
		CHECK(memcmp(a->type_guid, b->type_guid, 16) == 0);
		CHECK(memcmp(a->unique_guid, b->unique_guid, 16) == 0);
		CHECK(a->attributes == b->attributes);
		CHECK(memcmp(a->name_raw, b->name_raw, 72) == 0);
		CHECK_EQ_U64(b->first_lba, rg[i].first_lba);
		CHECK_EQ_U64(b->last_lba, rg[i].last_lba);
	}
	bw_gpt_free(&g2);
	bw_gpt_image_free(&img);
	bw_gpt_image_free(&img);      /* twice is harmless */
	free(m2.p);

	/* Unchanged ranges on the same size reproduce the original bytes
	 * (the table build() wrote has gdisk's CHS fields left zero, so
	 * compare from the partition entries on). */
	CHECK(bw_gpt_encode(&g, m.n, NULL, &img, &e) == 0);
	m2 = place(&m, m.n, &img, 512);
	CHECK(memcmp(m2.p + 512, m.p + 512, m.n - 512) == 0);
	bw_gpt_image_free(&img);
	free(m2.p);

	/* Refusals: overlap, past the new last usable, before first usable,
	 * an odd size, a disk too small. */
	struct bw_gpt_range bad[4];
	memcpy(bad, rg, sizeof bad);
	bad[2].last_lba = bad[3].first_lba;
	CHECK(bw_gpt_encode(&g, nsz, bad, &img, &e) == BW_EINVAL);
	CHECK(has(&e, "GPT partitions 3 and 4 would overlap"));
	CHECK(img.buf == NULL && img.nruns == 0);
	memcpy(bad, rg, sizeof bad);
	bad[3].last_lba = last_usable + 1;
	CHECK(bw_gpt_encode(&g, nsz, bad, &img, &e) == BW_EINVAL);
	CHECK(has(&e, "expected inside the new usable LBAs 34.."));
	memcpy(bad, rg, sizeof bad);
	bad[0].first_lba = 33;
	CHECK(bw_gpt_encode(&g, nsz, bad, &img, &e) == BW_EINVAL);
	CHECK(bw_gpt_encode(&g, nsz + 100, rg, &img, &e) == BW_EINVAL);
	CHECK(has(&e, "not a multiple"));
	CHECK(bw_gpt_encode(&g, 512 * 60, rg, &img, &e) == BW_EINVAL);
	CHECK(has(&e, "too small"));
	/* Shrinking is fine when the partitions fit. */
	CHECK(bw_gpt_encode(&g, 15 * MiB, rg, &img, &e) == BW_EINVAL);
	memcpy(bad, rg, sizeof bad);
	bad[2].last_lba = 20000;
	bad[3].first_lba = 20001; bad[3].last_lba = 20001 + rec;
	CHECK(bw_gpt_encode(&g, 15 * MiB, bad, &img, &e) == 0);
	m2 = place(&m, 15 * MiB, &img, 512);
	CHECK(parse(&m2, 512, &g2, &e) == 0 && g2.flags == 0);
	bw_gpt_free(&g2);
	bw_gpt_image_free(&img);
	free(m2.p);
	bw_gpt_free(&g);
	free(m.p);

	/* A table read from its backup is written whole again. */
	m = build(&windows);
	hdr(&m, 0)[0] = 0;
	CHECK(parse(&m, 512, &g, &e) == 0 && g.flags == BW_GPT_FROM_BACKUP);
	CHECK(bw_gpt_encode(&g, nsz, NULL, &img, &e) == 0);
	m2 = place(&m, nsz, &img, 512);
	CHECK(parse(&m2, 512, &g2, &e) == 0 && g2.flags == 0 && g2.nparts == 4);
	bw_gpt_free(&g2);
	bw_gpt_image_free(&img);
	free(m2.p);
	bw_gpt_free(&g);
	free(m.p);

	/* 4096-byte sectors. */
	struct layout l = windows;
	l.ss = 4096;
	l.sectors = 4096;
	l.part[0].first = 256; l.part[0].last = 767;
	l.part[1].first = 768; l.part[1].last = 1023;
	l.part[2].first = 1024; l.part[2].last = 3583;
	l.part[3].first = 3584; l.part[3].last = 4089;
	m = build(&l);
	CHECK(parse(&m, 4096, &g, &e) == 0);
	CHECK(bw_gpt_encode(&g, 32 * MiB, NULL, &img, &e) == 0);
	CHECK_EQ_U64(img.run[3].lba, 8192 - 5);
	m2 = place(&m, 32 * MiB, &img, 4096);
	CHECK(parse(&m2, 0, &g2, &e) == 0 && g2.flags == 0 && g2.sector_size == 4096);
	CHECK_EQ_U64(g2.last_usable, 8192 - 6);
	bw_gpt_free(&g2);
	bw_gpt_image_free(&img);
	free(m2.p);
	bw_gpt_free(&g);
	free(m.p);
}

int main(void)
{
	test_valid();
	test_refusals();
	test_one_copy_bad();
	test_names();
	test_4k();
	test_round_trip();
	return check_done("test_gpt");
}

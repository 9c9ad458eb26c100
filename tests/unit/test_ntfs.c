/*
 * Unit tests of the ntfs module on synthetic data only: boot sectors and
 * MFT records built in memory, and a tiny synthetic volume (fragmented
 * $MFT, $LogFile, $Volume, $Bitmap) written to a temporary raw file.  Real
 * volumes made by mkntfs are compared with ntfscat in
 * tests/e2e/ntfs-bitmap.sh.  Layouts follow ntfs-3g's layout.h and
 * logfile.h, written here independently of src/ntfs.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/ntfs.h"
#include "common/bytes.h"
#include "ntfs/ntfs_internal.h"
#include "check.h"

static char tmpdir[256];

static int has(const struct bw_error *err, const char *needle)
{
	if (strstr(err->msg, needle))
		return 1;
	fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err->msg, needle);
	return 0;
}

/* ------------------------------------------------------------------ */
/* boot sectors                                                        */

static void make_boot(uint8_t *b, uint16_t bps, uint8_t spc, uint64_t total,
		      uint64_t mft_lcn, int8_t cpr)
{
	memset(b, 0, 512);
	b[0] = 0xEB; b[1] = 0x52; b[2] = 0x90;
	memcpy(b + 3, "NTFS    ", 8);
	bw_put_le16(b + 0x0B, bps);
	b[0x0D] = spc;
	b[0x15] = 0xF8;
	bw_put_le32(b + 0x1C, 2048);
	bw_put_le64(b + 0x28, total);
	bw_put_le64(b + 0x30, mft_lcn);
	bw_put_le64(b + 0x38, 2);
	b[0x40] = (uint8_t)cpr;
	b[0x44] = 1;
	bw_put_le64(b + 0x48, 0x1122334455667788ull);
	b[510] = 0x55; b[511] = 0xAA;
}

static int parse(const uint8_t *b, uint64_t part, struct bw_ntfs_geometry *g,
		 struct bw_error *err)
{
	return bw_ntfs_parse_boot(b, part, "img", 1048576, g, err);
}

static void test_boot(void)
{
	uint8_t b[512];
	struct bw_ntfs_geometry g;
	struct bw_error err = {0};
	const uint64_t part = 256ull << 20;

	make_boot(b, 512, 8, part / 512 - 1, 4, -10);
	CHECK(bw_ntfs_probe(b));
	CHECK_EQ_U64(parse(b, part, &g, &err), 0);
	CHECK_EQ_U64(g.bytes_per_sector, 512);
	CHECK_EQ_U64(g.cluster_size, 4096);
	CHECK_EQ_U64(g.hidden_sectors, 2048);
	CHECK_EQ_U64(g.total_sectors, part / 512 - 1);
	CHECK_EQ_U64(g.total_clusters, (part / 512 - 1) / 8);
	CHECK_EQ_U64(g.mft_lcn, 4);
	CHECK_EQ_U64(g.mftmirr_lcn, 2);
	CHECK_EQ_U64(g.mft_record_size, 1024);
	CHECK_EQ_U64(g.serial, 0x1122334455667788ull);

	/* 4 KiB sectors, one-cluster 4 KiB records (cpr positive). */
	make_boot(b, 4096, 1, part / 4096, 4, 1);
	CHECK_EQ_U64(parse(b, part, &g, &err), 0);
	CHECK_EQ_U64(g.mft_record_size, 4096);
	/* 2 MiB clusters in the 2^(256-n) sector form: 0xF4 = 2^12 * 512. */
	make_boot(b, 512, 0xF4, part / 512, 1, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), 0);
	CHECK_EQ_U64(g.cluster_size, 2u << 20);
	CHECK_EQ_U64(g.total_clusters, 128);

	/* Rejections. */
	make_boot(b, 512, 8, 1000, 4, -10);
	b[511] = 0;
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "no boot signature"));
	CHECK(has(&err, "img: NTFS boot sector at offset 1048576"));

	make_boot(b, 512, 8, 1000, 4, -10);
	memcpy(b + 3, "EXFAT   ", 8);
	CHECK(!bw_ntfs_probe(b));
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "EXFAT"));

	make_boot(b, 0, 8, 1000, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "bytes per sector 0"));
	make_boot(b, 3000, 8, 1000, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "bytes per sector 3000"));
	make_boot(b, 8192, 8, 1000, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 256, 8, 1000, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);

	/* Absurd cluster sizes. */
	make_boot(b, 512, 0, 1000, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 3, 1000, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 4096, 0xF0, 1000, 4, -10);   /* 2^16 * 4 KiB = 256 MiB */
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "cluster size"));
	make_boot(b, 512, 0x81, 1000, 4, -10);    /* 2^127 sectors */
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 4096, 128, part / 4096, 1, -10); /* 512 KiB: fine */
	CHECK_EQ_U64(parse(b, part, &g, &err), 0);

	/* FAT-only fields must be zero. */
	make_boot(b, 512, 8, 1000, 4, -10);
	b[0x10] = 2;
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "FAT count"));

	/* The volume must fit the partition. */
	make_boot(b, 512, 8, part / 512 + 1, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 0, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, UINT64_MAX, 4, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 7, 4, -10);          /* less than a cluster */
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);

	/* $MFT LCN past the volume, zero, negative; mirror likewise. */
	make_boot(b, 512, 8, 8000, 1000, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "$MFT LCN 1000"));
	make_boot(b, 512, 8, 8000, 0, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 8000, (uint64_t)-5, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 8000, 4, -10);
	bw_put_le64(b + 0x38, 1000);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	/* Record 0 must fit after mft_lcn: 512-byte clusters, last one. */
	make_boot(b, 512, 1, 1000, 999, -10);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "runs past the end"));

	/* Record sizes. */
	make_boot(b, 512, 8, 8000, 4, 0);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 8000, 4, 3);         /* 12 KiB */
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 8000, 4, -40);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 8000, 4, -128);
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EFORMAT);
	make_boot(b, 512, 8, 8000, 4, -9);        /* 512 bytes */
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EUNSUPPORTED);
	make_boot(b, 512, 8, 8000, 4, -13);       /* 8 KiB */
	CHECK_EQ_U64(parse(b, part, &g, &err), (uint64_t)BW_EUNSUPPORTED);
	CHECK(has(&err, "MFT record size 8192"));
}

/* ------------------------------------------------------------------ */
/* building records                                                    */

#define REC 1024u

struct rec_builder {
	uint8_t b[BW_NTFS_MAX_RECORD_SIZE];
	uint32_t size, used;
	uint16_t next_instance;
};

static void rec_init(struct rec_builder *r, uint32_t recno, uint32_t size)
{
	memset(r, 0, sizeof *r);
	r->size = size;
	memcpy(r->b, "FILE", 4);
	bw_put_le16(r->b + 4, 48);                     /* usa_ofs */
	bw_put_le16(r->b + 6, (uint16_t)(size / 512 + 1));
	bw_put_le16(r->b + 16, (uint16_t)(recno ? recno : 1));
	bw_put_le16(r->b + 18, 1);
	uint32_t attrs = (48 + 2 * (size / 512 + 1) + 7) & ~7u;
	bw_put_le16(r->b + 20, (uint16_t)attrs);
	bw_put_le16(r->b + 22, 0x0001);                /* in use */
	bw_put_le32(r->b + 28, size);
	bw_put_le32(r->b + 44, recno);
	r->used = attrs;
}

static uint8_t *rec_attr(struct rec_builder *r, uint32_t type, int nonres,
			 uint32_t length)
{
	uint8_t *p = r->b + r->used;
	bw_put_le32(p, type);
	bw_put_le32(p + 4, length);
	p[8] = (uint8_t)nonres;
	bw_put_le16(p + 10, (uint16_t)(nonres ? 64 : 24));  /* name offset */
	bw_put_le16(p + 14, r->next_instance++);
	r->used += length;
	return p;
}

static void rec_resident(struct rec_builder *r, uint32_t type,
			 const void *value, uint32_t len)
{
	uint32_t length = (24 + len + 7) & ~7u;
	uint8_t *p = rec_attr(r, type, 0, length);
	bw_put_le32(p + 16, len);
	bw_put_le16(p + 20, 24);
	memcpy(p + 24, value, len);
}

/* Minimal signed little-endian encoding; returns its byte count. */
static unsigned enc_signed(uint8_t *out, int64_t v)
{
	unsigned n = 0;
	do {
		out[n++] = (uint8_t)v;
		v >>= 8;   /* arithmetic shift on gcc */
	} while (!((v == 0 && !(out[n - 1] & 0x80)) ||
		   (v == -1 && (out[n - 1] & 0x80))));
	return n;
}

struct test_run { uint64_t length; int64_t lcn; int sparse; };

static size_t enc_runlist(uint8_t *out, const struct test_run *runs, size_t n)
{
	size_t pos = 0;
	int64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t lenb[8], lcnb[8];
		unsigned ln = enc_signed(lenb, (int64_t)runs[i].length), cn = 0;
		if (!runs[i].sparse) {
			cn = enc_signed(lcnb, runs[i].lcn - prev);
			prev = runs[i].lcn;
		}
		out[pos++] = (uint8_t)(cn << 4 | ln);
		memcpy(out + pos, lenb, ln);
		pos += ln;
		memcpy(out + pos, lcnb, cn);
		pos += cn;
	}
	out[pos++] = 0;
	return pos;
}

static uint8_t *rec_nonresident(struct rec_builder *r, uint32_t type,
				const struct test_run *runs, size_t n,
				uint64_t cs, uint64_t data_size,
				uint64_t init_size)
{
	uint8_t mp[256];
	size_t mp_len = enc_runlist(mp, runs, n);
	uint64_t clusters = 0;
	for (size_t i = 0; i < n; i++)
		clusters += runs[i].length;
	uint32_t length = (uint32_t)((64 + mp_len + 7) & ~(size_t)7);
	uint8_t *p = rec_attr(r, type, 1, length);
	bw_put_le64(p + 16, 0);
	bw_put_le64(p + 24, clusters - 1);
	bw_put_le16(p + 32, 64);
	bw_put_le64(p + 40, clusters * cs);
	bw_put_le64(p + 48, data_size);
	bw_put_le64(p + 56, init_size);
	memcpy(p + 64, mp, mp_len);
	return p;
}

static void rec_finish(struct rec_builder *r)
{
	bw_put_le32(r->b + r->used, 0xFFFFFFFFu);
	r->used += 8;
	bw_put_le32(r->b + 24, r->used);
}

/* Apply the update sequence protection (as a writer does). */
static void protect(uint8_t *b, uint32_t size, uint16_t usn)
{
	uint16_t usa_ofs = bw_get_le16(b + 4);
	bw_put_le16(b + usa_ofs, usn);
	for (uint32_t i = 0; i < size / 512; i++) {
		uint8_t *tail = b + (i + 1) * 512 - 2;
		memcpy(b + usa_ofs + 2 * (i + 1), tail, 2);
		bw_put_le16(tail, usn);
	}
}

/* ------------------------------------------------------------------ */
/* fixups, record checks, attributes                                   */

static struct ntfs_loc loc_for(const char *what, uint64_t off)
{
	struct ntfs_loc l = { .file = "img", .off = off };
	snprintf(l.what, sizeof l.what, "%s", what);
	return l;
}

static void test_fixup(void)
{
	struct rec_builder r;
	struct bw_error err = {0};
	struct ntfs_loc loc = loc_for("NTFS MFT record 6", 1073745920ull);
	uint8_t copy[REC];

	rec_init(&r, 6, REC);
	r.b[510] = 0xAB; r.b[511] = 0xCD; r.b[1022] = 0x12; r.b[1023] = 0x34;
	rec_resident(&r, 0x10, "0123456789abcdef", 16);
	rec_finish(&r);
	memcpy(copy, r.b, REC);
	protect(r.b, REC, 3);
	CHECK(r.b[510] == 3 && r.b[511] == 0);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, REC, &loc, &err), 0);
	CHECK(memcmp(copy + 48 + 2, r.b + 48 + 2, 0) == 0);
	CHECK(r.b[510] == 0xAB && r.b[511] == 0xCD);
	CHECK(r.b[1022] == 0x12 && r.b[1023] == 0x34);
	CHECK(memcmp(copy + 56, r.b + 56, REC - 56 - 2) == 0);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), 0);

	/* A torn write: sector 1 still has the old USN. */
	memcpy(r.b, copy, REC);
	protect(r.b, REC, 3);
	bw_put_le16(r.b + 1022, 0x1234);
	uint8_t before[REC];
	memcpy(before, r.b, REC);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, REC, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "img: NTFS MFT record 6 at offset 1073745920: fixup mismatch in sector 1 (expected 0x0003, found 0x1234)"));
	CHECK(memcmp(before, r.b, REC) == 0);   /* untouched on failure */

	/* usa_count wrong for the size, odd usa_ofs, USA past byte 510. */
	memcpy(r.b, copy, REC);
	protect(r.b, REC, 3);
	bw_put_le16(r.b + 6, 4);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, REC, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "count 4"));
	memcpy(r.b, copy, REC);
	protect(r.b, REC, 3);
	bw_put_le16(r.b + 4, 49);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, REC, &loc, &err), (uint64_t)BW_EFORMAT);
	bw_put_le16(r.b + 4, 506);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, REC, &loc, &err), (uint64_t)BW_EFORMAT);
	bw_put_le16(r.b + 4, 0xFFFE);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, REC, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK_EQ_U64(ntfs_mst_fixup(r.b, 1000, &loc, &err), (uint64_t)BW_EFORMAT);

	/* Record header checks (fixups already undone). */
	memcpy(r.b, copy, REC);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), 0);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 7, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "record number field is 6 (expected 7)"));
	CHECK_EQ_U64(ntfs_record_check(r.b, 2048, 6, &loc, &err), (uint64_t)BW_EFORMAT);
	bw_put_le32(r.b + 24, REC + 8);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "bytes in use"));
	memcpy(r.b, copy, REC);
	bw_put_le16(r.b + 20, 1020);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "first attribute offset"));
	bw_put_le16(r.b + 20, 52);    /* unaligned, inside the USA */
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(r.b, copy, REC);
	bw_put_le16(r.b + 22, 0);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "not in use"));
	memcpy(r.b, copy, REC);
	bw_put_le64(r.b + 32, 77);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(r.b, copy, REC);
	bw_put_le16(r.b + 4, 30);
	CHECK_EQ_U64(ntfs_record_check(r.b, REC, 6, &loc, &err), (uint64_t)BW_EFORMAT);
}

static void rec_resident_named(struct rec_builder *r, uint32_t type,
			       const char *name, const void *value,
			       uint32_t len)
{
	uint32_t nlen = (uint32_t)strlen(name);
	uint32_t voff = (24 + 2 * nlen + 7) & ~7u;
	uint32_t length = (voff + len + 7) & ~7u;
	uint8_t *p = rec_attr(r, type, 0, length);
	p[9] = (uint8_t)nlen;
	bw_put_le16(p + 10, 24);
	for (uint32_t i = 0; i < nlen; i++)
		bw_put_le16(p + 24 + 2 * i, (uint16_t)name[i]);
	bw_put_le32(p + 16, len);
	bw_put_le16(p + 20, (uint16_t)voff);
	memcpy(p + voff, value, len);
}

static int count_attrs(const uint8_t *rec, const struct ntfs_loc *loc,
		       struct bw_error *err)
{
	struct ntfs_attr_iter it;
	struct ntfs_attr a;
	int n = 0, r;
	ntfs_attr_iter_init(&it, rec, loc);
	while ((r = ntfs_attr_next(&it, &a, err)) == 1)
		n++;
	return r < 0 ? r : n;
}

static void test_attrs(void)
{
	struct rec_builder r;
	struct bw_error err = {0};
	struct ntfs_loc loc = loc_for("NTFS MFT record 3", 4096);
	struct ntfs_attr a;
	struct test_run run = { 2, 8, 0 };
	uint8_t good[REC], *b = r.b;

	rec_init(&r, 3, REC);
	rec_resident(&r, 0x10, "std-info-value..", 16);       /* at 56 */
	uint32_t second = r.used;
	rec_resident_named(&r, 0x80, "x", "named", 5);
	uint32_t third = r.used;
	rec_resident(&r, 0x60, "N\0a\0n\0o\0", 8);
	uint32_t fourth = r.used;
	rec_nonresident(&r, 0x80, &run, 1, 4096, 5000, 5000);
	uint32_t end = r.used;
	rec_finish(&r);
	memcpy(good, r.b, REC);

	CHECK_EQ_U64(count_attrs(b, &loc, &err), 4);
	CHECK_EQ_U64(ntfs_attr_find(b, 0x80, &loc, &a, &err), 0);
	CHECK(a.non_resident && a.offset == fourth);
	CHECK_EQ_U64(a.data_size, 5000);
	CHECK_EQ_U64(a.highest_vcn, 1);
	CHECK_EQ_U64(ntfs_attr_find(b, 0x60, &loc, &a, &err), 0);
	CHECK(!a.non_resident && a.value_length == 8 && a.offset == third);
	CHECK(memcmp(b + a.offset + a.value_offset, "N\0a\0", 4) == 0);
	CHECK_EQ_U64(ntfs_attr_find(b, 0x70, &loc, &a, &err), (uint64_t)BW_ENOTFOUND);

	/* Attribute length 0: must fail, not loop forever. */
	bw_put_le32(b + second + 4, 0);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "length 0 (expected 8-aligned"));
	CHECK_EQ_U64(ntfs_attr_find(b, 0x70, &loc, &a, &err), (uint64_t)BW_EFORMAT);
	memcpy(b, good, REC);
	bw_put_le32(b + second + 4, 16);      /* below the resident header */
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(b, good, REC);
	bw_put_le32(b + second + 4, 44);      /* not 8-aligned */
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(b, good, REC);
	bw_put_le32(b + second + 4, 0x7FFFFFF8u);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(b, good, REC);
	bw_put_le32(b + fourth + 4, 56);      /* non-resident shorter than 64 */
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	/* No end marker before bytes_in_use. */
	memcpy(b, good, REC);
	bw_put_le32(b + 24, end);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "without an end marker"));
	/* Name and value outside the attribute; bad non_resident byte. */
	memcpy(b, good, REC);
	b[second + 9] = 200;
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "name at"));
	memcpy(b, good, REC);
	bw_put_le32(b + third + 16, 4000);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "value at"));
	memcpy(b, good, REC);
	bw_put_le16(b + third + 20, 0xFFF0);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(b, good, REC);
	b[third + 8] = 2;
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	memcpy(b, good, REC);
	bw_put_le16(b + fourth + 32, 8);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "mapping pairs offset"));
	bw_put_le16(b + fourth + 32, 0xFFFF);
	CHECK_EQ_U64(count_attrs(b, &loc, &err), (uint64_t)BW_EFORMAT);

	/* An $ATTRIBUTE_LIST anywhere in the record: refused, even when the
	 * wanted attribute is in the base record. */
	memcpy(b, good, REC);
	bw_put_le32(b + second, 0x20);
	CHECK_EQ_U64(ntfs_attr_find(b, 0x80, &loc, &a, &err), (uint64_t)BW_EUNSUPPORTED);
	CHECK(has(&err, "$ATTRIBUTE_LIST"));

	/* A stream from the resident attribute is a copy. */
	struct bw_ntfs_geometry g = { .cluster_size = 4096, .total_clusters = 100 };
	struct ntfs_stream s;
	memcpy(b, good, REC);
	CHECK_EQ_U64(ntfs_attr_find(b, 0x60, &loc, &a, &err), 0);
	CHECK_EQ_U64(ntfs_stream_from_attr(&a, &g, &loc, &s, &err), 0);
	CHECK(s.resident && s.data_size == 8 && memcmp(s.value, "N\0a\0n\0o\0", 8) == 0);
	ntfs_stream_free(&s);
	/* Non-resident: sizes and runlist end must agree. */
	CHECK_EQ_U64(ntfs_attr_find(b, 0x80, &loc, &a, &err), 0);
	CHECK_EQ_U64(ntfs_stream_from_attr(&a, &g, &loc, &s, &err), 0);
	CHECK_EQ_U64(s.rl.count, 1);
	CHECK_EQ_U64(s.rl.end_vcn, 2);
	ntfs_stream_free(&s);
	struct ntfs_attr bad = a;
	bad.highest_vcn = 5;
	CHECK_EQ_U64(ntfs_stream_from_attr(&bad, &g, &loc, &s, &err), (uint64_t)BW_EFORMAT);
	bad.highest_vcn = INT64_MAX;
	CHECK_EQ_U64(ntfs_stream_from_attr(&bad, &g, &loc, &s, &err), (uint64_t)BW_EFORMAT);
	bad = a;
	bad.initialized_size = 6000;
	CHECK_EQ_U64(ntfs_stream_from_attr(&bad, &g, &loc, &s, &err), (uint64_t)BW_EFORMAT);
	bad = a;
	bad.allocated_size = bad.data_size = 3 * 4096;
	CHECK_EQ_U64(ntfs_stream_from_attr(&bad, &g, &loc, &s, &err), (uint64_t)BW_EFORMAT);
	bad = a;
	bad.lowest_vcn = 1;
	CHECK_EQ_U64(ntfs_stream_from_attr(&bad, &g, &loc, &s, &err), (uint64_t)BW_EFORMAT);
	bad = a;
	bad.flags = 0x0001;
	CHECK_EQ_U64(ntfs_stream_from_attr(&bad, &g, &loc, &s, &err), (uint64_t)BW_EUNSUPPORTED);
	g.total_clusters = 9;          /* the run 8..9 now leaves the volume */
	CHECK_EQ_U64(ntfs_stream_from_attr(&a, &g, &loc, &s, &err), (uint64_t)BW_EFORMAT);
}

/* ------------------------------------------------------------------ */
/* runlists                                                            */

static int decode(const uint8_t *mp, size_t len, uint64_t total,
		  struct ntfs_runlist *rl, struct bw_error *err)
{
	struct ntfs_loc loc = loc_for("NTFS MFT record 6", 0);
	return ntfs_runlist_decode(mp, len, 0, total, 4096, &loc, rl, err);
}

static void test_runlist(void)
{
	struct ntfs_runlist rl;
	struct bw_error err = {0};
	uint8_t mp[20000];
	const struct test_run runs[] = {
		{ 4, 100, 0 }, { 2, 90, 0 }, { 3, 0, 1 }, { 1, 300, 0 },
		{ 0x10000, 0x20000, 0 },
	};
	size_t n = enc_runlist(mp, runs, 5);

	CHECK_EQ_U64(decode(mp, n, 1u << 20, &rl, &err), 0);
	CHECK_EQ_U64(rl.count, 5);
	CHECK_EQ_U64(rl.end_vcn, 10 + 0x10000);
	CHECK(rl.count == 5 && rl.runs[1].vcn == 4 && rl.runs[1].lcn == 90);
	CHECK(rl.count == 5 && rl.runs[2].sparse && rl.runs[2].vcn == 6);
	CHECK(rl.count == 5 && rl.runs[3].lcn == 300 && rl.runs[4].lcn == 0x20000);
	const struct ntfs_run *f = ntfs_runlist_find(&rl, 5);
	CHECK(f && f->lcn == 90);
	f = ntfs_runlist_find(&rl, 8);
	CHECK(f && f->sparse);
	CHECK(ntfs_runlist_find(&rl, 10 + 0x10000) == NULL);
	ntfs_runlist_free(&rl);
	/* The same runs with the volume too small for the last one. */
	CHECK_EQ_U64(decode(mp, n, 0x20000 + 0xFFFF, &rl, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "past the volume"));
	CHECK(rl.runs == NULL && rl.count == 0);
	/* Without its terminator. */
	CHECK_EQ_U64(decode(mp, n - 1, 1u << 20, &rl, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "no terminator"));

	/* Length overflow: VCNs past INT64_MAX / cluster size. */
	static const uint8_t ovf[] = { 0x08, 0, 0, 0, 0, 0, 0, 0, 0x40,
				       0x08, 0, 0, 0, 0, 0, 0, 0, 0x40, 0 };
	CHECK_EQ_U64(decode(ovf, sizeof ovf, 1u << 20, &rl, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "overflows"));
	static const uint8_t ovf2[] = { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x07,
					0x01, 0x10, 0 };
	CHECK_EQ_U64(decode(ovf2, sizeof ovf2, 1u << 20, &rl, &err), (uint64_t)BW_EFORMAT);
	/* Negative and zero lengths. */
	static const uint8_t neg_len[] = { 0x11, 0xFF, 0x05, 0 };
	CHECK_EQ_U64(decode(neg_len, sizeof neg_len, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	static const uint8_t zero_len[] = { 0x11, 0x00, 0x05, 0 };
	CHECK_EQ_U64(decode(zero_len, sizeof zero_len, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	/* LCN going negative; LCN delta of 8 bytes to the far end. */
	static const uint8_t neg_lcn[] = { 0x11, 0x01, 0x05, 0x11, 0x01, 0xF0, 0 };
	CHECK_EQ_U64(decode(neg_lcn, sizeof neg_lcn, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "leaves the volume"));
	static const uint8_t far_lcn[] = { 0x81, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
					   0x81, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0 };
	CHECK_EQ_U64(decode(far_lcn, sizeof far_lcn, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	/* A run ending exactly at the last cluster is fine; one past is not. */
	static const uint8_t at_end[] = { 0x21, 0x0A, 0xDE, 0x03, 0 };   /* 10 at 990 */
	CHECK_EQ_U64(decode(at_end, sizeof at_end, 1000, &rl, &err), 0);
	ntfs_runlist_free(&rl);
	CHECK_EQ_U64(decode(at_end, sizeof at_end, 999, &rl, &err), (uint64_t)BW_EFORMAT);
	/* Bad nibbles, pairs cut short. */
	static const uint8_t nib9[] = { 0x19, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	CHECK_EQ_U64(decode(nib9, sizeof nib9, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	static const uint8_t nib0[] = { 0x10, 0x05, 0 };
	CHECK_EQ_U64(decode(nib0, sizeof nib0, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	static const uint8_t lcn9[] = { 0x91, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	CHECK_EQ_U64(decode(lcn9, sizeof lcn9, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	static const uint8_t cut[] = { 0x21, 0x04 };
	CHECK_EQ_U64(decode(cut, sizeof cut, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "runs past its end"));
	CHECK_EQ_U64(decode(cut, 0, 1000, &rl, &err), (uint64_t)BW_EFORMAT);

	/* The run count cap: BW_NTFS_MAX_RUNS sparse runs pass, one more fails. */
	size_t pos = 0;
	for (unsigned i = 0; i < BW_NTFS_MAX_RUNS; i++) {
		mp[pos++] = 0x01;
		mp[pos++] = 0x01;
	}
	mp[pos] = 0;
	CHECK_EQ_U64(decode(mp, pos + 1, 1000, &rl, &err), 0);
	CHECK_EQ_U64(rl.count, BW_NTFS_MAX_RUNS);
	ntfs_runlist_free(&rl);
	mp[pos++] = 0x01;
	mp[pos++] = 0x01;
	mp[pos] = 0;
	CHECK_EQ_U64(decode(mp, pos + 1, 1000, &rl, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "more than"));
}

/* ------------------------------------------------------------------ */
/* a synthetic volume in a file                                        */

#define VOL        (1024u * 1024)          /* volume bytes */
#define PART       (VOL + 512u)            /* + the backup boot sector */
#define MFT1_AT    (16u * 1024)
#define BITMAP_AT  (32u * 1024)
#define MFT2_AT    (64u * 1024)
#define MFT_BYTES  (16u * 1024)            /* 16 records */
#define LOG_AT     (256u * 1024)
#define LOG_BYTES  (256u * 1024)
#define DATA_AT    (600u * 1024)
#define DATA_BYTES (40u * 1024)
#define JUNK_AT    (700u * 1024)
#define JUNK_BYTES (20u * 1024)

enum { LOG_EMPTY, LOG_RSTR, LOG_ZERO };

struct vol_opts {
	uint32_t cs;
	uint64_t part_off;
	uint16_t vol_flags;
	int log_mode;
	int16_t rstr_major, rstr_minor;
	uint16_t rstr_flags, rstr_in_use;
	int rstr_second;          /* 0 none, 1 newer & unclean, 2 older & unclean */
	int rstr_torn;
	int64_t bitmap_size;      /* 0: exactly total/8 */
	int bitmap_resident, bitmap_attr_list, bitmap_run_past, bitmap_huge;
	int bitmap_init_short;    /* initialized 8 bytes short of data_size */
	int mft_first_lcn_wrong, vol_attr_len0, torn_record6, no_volinfo;
	/* The root directory (record 5) and hiberfil.sys (record 7). */
	int root_mode;            /* ROOT_* */
	const char *hiber;        /* hiberfil.sys's first bytes; NULL: no file */
	uint32_t hiber_len;       /* its data size */
	int hiber_nonres;         /* data in a cluster at HIBER_AT */
	uint16_t hiber_seq;       /* sequence number in the entry (0: right) */
	int root_corrupt;         /* ROOT_CORRUPT_* */
};

enum { ROOT_RESIDENT, ROOT_ALLOC };
enum { ROOT_CORRUPT_NONE, ROOT_CORRUPT_ENTRY_LEN, ROOT_CORRUPT_KEY_LEN,
       ROOT_CORRUPT_NO_END, ROOT_CORRUPT_BLOCK_VCN, ROOT_CORRUPT_LOOP,
       ROOT_CORRUPT_BLOCK_FIXUP, ROOT_CORRUPT_CHILD_PAST, ROOT_CORRUPT_BLOCK_SIZE };
#define INDX_AT   (768u * 1024)           /* two 4 KiB INDX blocks */
#define HIBER_AT  (800u * 1024)
#define HIBER_REC 7u

struct vol_img {
	uint8_t *img;
	size_t size;
	uint32_t f1;              /* bytes of the $MFT in its first fragment */
	char path[300];
};

static uint64_t mft_stream_to_vol(const struct vol_img *v, uint64_t o)
{
	return o < v->f1 ? MFT1_AT + o : MFT2_AT + (o - v->f1);
}

static void put_record(struct vol_img *v, const struct vol_opts *o,
		       struct rec_builder *r, uint32_t recno)
{
	protect(r->b, r->size, 1);
	for (uint32_t i = 0; i < r->size; i++)
		v->img[o->part_off + mft_stream_to_vol(v, (uint64_t)recno * REC + i)] = r->b[i];
}

static void make_rstr(uint8_t *p, const struct vol_opts *o, int64_t lsn,
		      uint16_t flags, uint16_t in_use)
{
	memset(p, 0, 4096);
	memcpy(p, "RSTR", 4);
	bw_put_le16(p + 4, 30);
	bw_put_le16(p + 6, 9);
	bw_put_le32(p + 16, 4096);
	bw_put_le32(p + 20, 4096);
	bw_put_le16(p + 24, 48);
	bw_put_le16(p + 26, (uint16_t)o->rstr_minor);
	bw_put_le16(p + 28, (uint16_t)o->rstr_major);
	uint8_t *ra = p + 48;
	bw_put_le64(ra + 0, (uint64_t)lsn);
	bw_put_le16(ra + 8, 1);
	bw_put_le16(ra + 10, 0xFFFF);
	bw_put_le16(ra + 12, in_use);
	bw_put_le16(ra + 14, flags);
	bw_put_le32(ra + 16, 67 - 19);           /* 256 KiB needs 19 bits */
	bw_put_le16(ra + 20, 0x40 + 160);
	bw_put_le16(ra + 22, 0x40);
	bw_put_le64(ra + 24, LOG_BYTES);
	bw_put_le16(ra + 36, 0x30);
	bw_put_le16(ra + 38, 0x40);
	uint8_t *cr = ra + 0x40;
	bw_put_le64(cr + 0, (uint64_t)lsn);
	bw_put_le64(cr + 8, (uint64_t)lsn);
	bw_put_le16(cr + 16, 0xFFFF);
	bw_put_le16(cr + 18, 0xFFFF);
	bw_put_le32(cr + 28, 8);
	memcpy(cr + 32, "N\0T\0F\0S\0", 8);
	protect(p, 4096, 7);
	if (o->rstr_torn)
		bw_put_le16(p + 3 * 512 - 2, 0x1234);
}

/* ------------------------------------------------------------------ */
/* directory indexes                                                   */

/* An $I30 index entry for NAME (ASCII) naming REF; NODE: child VCN. */
static uint32_t put_entry(uint8_t *p, uint64_t ref, const char *name,
			  int node, uint64_t vcn)
{
	uint32_t nlen = (uint32_t)strlen(name);
	uint32_t key_len = 66 + 2 * nlen;
	uint32_t len = ((16 + key_len + 7) & ~7u) + (node ? 8 : 0);
	memset(p, 0, len);
	bw_put_le64(p, ref);
	bw_put_le16(p + 8, (uint16_t)len);
	bw_put_le16(p + 10, (uint16_t)key_len);
	bw_put_le16(p + 12, node ? 1 : 0);
	uint8_t *key = p + 16;
	bw_put_le64(key, 5 | (5ull << 48));           /* parent: the root */
	key[64] = (uint8_t)nlen;
	key[65] = 3;                                   /* Win32 and DOS */
	for (uint32_t i = 0; i < nlen; i++)
		bw_put_le16(key + 66 + 2 * i, (uint16_t)name[i]);
	if (node)
		bw_put_le64(p + len - 8, vcn);
	return len;
}

static uint32_t put_end(uint8_t *p, int node, uint64_t vcn)
{
	uint32_t len = 16 + (node ? 8 : 0);
	memset(p, 0, len);
	bw_put_le16(p + 8, (uint16_t)len);
	bw_put_le16(p + 12, (uint16_t)(2 | (node ? 1 : 0)));
	if (node)
		bw_put_le64(p + 16, vcn);
	return len;
}

static void rec_nonresident_named(struct rec_builder *r, uint32_t type,
				  const char *name, const struct test_run *runs,
				  size_t n, uint64_t cs, uint64_t data_size)
{
	uint8_t mp[64];
	size_t mp_len = enc_runlist(mp, runs, n);
	uint64_t clusters = 0;
	for (size_t i = 0; i < n; i++)
		clusters += runs[i].length;
	uint32_t nlen = (uint32_t)strlen(name);
	uint32_t mp_off = (64 + 2 * nlen + 7) & ~7u;
	uint32_t length = (uint32_t)((mp_off + mp_len + 7) & ~(size_t)7);
	uint8_t *p = rec_attr(r, type, 1, length);
	p[9] = (uint8_t)nlen;
	bw_put_le16(p + 10, 64);
	for (uint32_t i = 0; i < nlen; i++)
		bw_put_le16(p + 64 + 2 * i, (uint16_t)name[i]);
	bw_put_le64(p + 24, clusters - 1);
	bw_put_le16(p + 32, (uint16_t)mp_off);
	bw_put_le64(p + 40, clusters * cs);
	bw_put_le64(p + 48, data_size);
	bw_put_le64(p + 56, data_size);
	memcpy(p + mp_off, mp, mp_len);
}

/* An INDX block at VOL + INDX_AT + VCN * 4096 holding ENTRIES. */
static void put_indx(uint8_t *vol, uint64_t vcn, const uint8_t *entries,
		     uint32_t len, uint64_t self_vcn)
{
	uint8_t *b = vol + INDX_AT + vcn * 4096;
	memset(b, 0, 4096);
	memcpy(b, "INDX", 4);
	bw_put_le16(b + 4, 40);
	bw_put_le16(b + 6, 9);
	bw_put_le64(b + 16, self_vcn);
	bw_put_le32(b + 24, 40);                       /* entries at 64 */
	bw_put_le32(b + 28, 40 + len);
	bw_put_le32(b + 32, 4096 - 24);
	memcpy(b + 64, entries, len);
	protect(b, 4096, 9);
}

/* Record 5 (the root directory) and record 7 (hiberfil.sys). */
static void build_root(struct vol_img *v, const struct vol_opts *o,
		       uint8_t *vol)
{
	struct rec_builder r;
	uint8_t std[48] = {0};
	uint8_t ir[1024], ents[2048];
	uint32_t n = 0;
	uint64_t href = HIBER_REC | ((uint64_t)(o->hiber_seq ? o->hiber_seq :
						HIBER_REC) << 48);

	if (o->root_mode == ROOT_RESIDENT) {
		n += put_entry(ents + n, 9 | (9ull << 48), "bootmgr", 0, 0);
		if (o->hiber)
			n += put_entry(ents + n, href, "hiberfil.sys", 0, 0);
		if (o->root_corrupt != ROOT_CORRUPT_NO_END)
			n += put_entry(ents + n, 10 | (10ull << 48), "pagefile.sys", 0, 0);
		if (o->root_corrupt == ROOT_CORRUPT_ENTRY_LEN)
			bw_put_le16(ents + 8, 0);
		if (o->root_corrupt == ROOT_CORRUPT_KEY_LEN)
			bw_put_le16(ents + 10, 400);
		if (o->root_corrupt != ROOT_CORRUPT_NO_END)
			n += put_end(ents + n, 0, 0);
	} else {
		/* Root: "MMM" (child block 0), END (child block 1).  Block 0:
		 * "aaa", "hiberfil.sys", "Hz"; block 1: "zzz". */
		uint8_t blk[1024];
		uint32_t bn = 0;
		bn += put_entry(blk + bn, 11 | (11ull << 48), "aaa", 0, 0);
		if (o->hiber)
			bn += put_entry(blk + bn, href, "HIBERFIL.SYS", 0, 0);
		/* A loop: "Hz" points back at block 0. */
		bn += put_entry(blk + bn, 12 | (12ull << 48), "Hz",
				o->root_corrupt == ROOT_CORRUPT_LOOP, 0);
		bn += put_end(blk + bn, 0, 0);
		put_indx(vol, 0, blk, bn,
			 o->root_corrupt == ROOT_CORRUPT_BLOCK_VCN ? 3 : 0);
		if (o->root_corrupt == ROOT_CORRUPT_BLOCK_FIXUP)
			bw_put_le16(vol + INDX_AT + 2 * 512 - 2, 0x4444);
		bn = 0;
		bn += put_entry(blk + bn, 13 | (13ull << 48), "zzz", 0, 0);
		bn += put_end(blk + bn, 0, 0);
		put_indx(vol, 1, blk, bn, 1);
		n += put_entry(ents + n, 14 | (14ull << 48), "MMM", 1,
			       o->root_corrupt == ROOT_CORRUPT_CHILD_PAST ? 2 : 0);
		n += put_end(ents + n, 1, 1);
	}
	/* $INDEX_ROOT: INDEX_ROOT header, INDEX_HEADER, entries. */
	memset(ir, 0, sizeof ir);
	bw_put_le32(ir + 0, 0x30);
	bw_put_le32(ir + 4, 1);
	bw_put_le32(ir + 8, o->root_corrupt == ROOT_CORRUPT_BLOCK_SIZE ? 3000 : 4096);
	ir[12] = 1;
	bw_put_le32(ir + 16, 16);
	bw_put_le32(ir + 20, 16 + n);
	bw_put_le32(ir + 24, 16 + n);
	ir[28] = o->root_mode == ROOT_ALLOC;
	memcpy(ir + 32, ents, n);

	rec_init(&r, 5, REC);
	bw_put_le16(r.b + 22, 0x0003);                 /* in use, directory */
	rec_resident(&r, 0x10, std, sizeof std);
	rec_resident_named(&r, 0x90, "$I30", ir, 32 + n);
	if (o->root_mode == ROOT_ALLOC) {
		struct test_run irun = { 2, (int64_t)(INDX_AT / o->cs), 0 };
		rec_nonresident_named(&r, 0xA0, "$I30", &irun, 1, o->cs, 8192);
	}
	rec_finish(&r);
	put_record(v, o, &r, 5);

	if (!o->hiber)
		return;
	rec_init(&r, HIBER_REC, REC);
	rec_resident(&r, 0x10, std, sizeof std);
	if (o->hiber_nonres) {
		memcpy(vol + HIBER_AT, o->hiber, strlen(o->hiber));
		struct test_run hrun = { 1, (int64_t)(HIBER_AT / o->cs), 0 };
		rec_nonresident(&r, 0x80, &hrun, 1, o->cs, o->hiber_len,
				o->hiber_len);
	} else {
		uint8_t data[64] = {0};
		memcpy(data, o->hiber, strlen(o->hiber));
		rec_resident(&r, 0x80, data, o->hiber_len);
	}
	rec_finish(&r);
	put_record(v, o, &r, HIBER_REC);
}

static int build_volume(struct vol_img *v, const struct vol_opts *o)
{
	const uint32_t cs = o->cs;
	const uint64_t total = VOL / cs;
	const uint64_t need = total / 8;
	uint8_t *vol;
	struct rec_builder r;

	memset(v, 0, sizeof *v);
	v->size = o->part_off + PART;
	v->img = calloc(1, v->size);
	if (!v->img)
		return -1;
	vol = v->img + o->part_off;
	v->f1 = (3584 + cs - 1) / cs * cs;

	make_boot(vol, 512, (uint8_t)(cs / 512), VOL / 512, MFT1_AT / cs, -10);
	bw_put_le64(vol + 0x38, MFT2_AT / cs + 8);   /* $MFTMirr: unused here */
	memset(vol + 512, 0x33, 8192 - 512);         /* boot loader bytes */
	memcpy(vol + VOL, vol, 512);                  /* backup boot sector */
	for (uint32_t i = 0; i < DATA_BYTES; i++)
		vol[DATA_AT + i] = (uint8_t)(i * 7 + 1) | 1;
	memset(vol + JUNK_AT, 0x5A, JUNK_BYTES);

	/* $Bitmap contents: the used ranges. */
	const uint32_t used[][2] = {
		{ 0, 8192 }, { MFT1_AT, v->f1 }, { BITMAP_AT, cs },
		{ MFT2_AT, MFT_BYTES - v->f1 }, { LOG_AT, LOG_BYTES },
		{ DATA_AT, DATA_BYTES },
	};
	uint8_t bitmap[512] = {0};
	for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
		for (uint64_t c = used[i][0] / cs;
		     c < (used[i][0] + used[i][1] + cs - 1) / cs; c++)
			bitmap[c / 8] |= (uint8_t)(1u << (c % 8));
	memcpy(vol + BITMAP_AT, bitmap, need);

	/* $LogFile */
	if (o->log_mode == LOG_EMPTY || o->log_mode == LOG_RSTR)
		memset(vol + LOG_AT, 0xFF, LOG_BYTES);
	if (o->log_mode == LOG_RSTR) {
		make_rstr(vol + LOG_AT, o, 0x1000, o->rstr_flags, o->rstr_in_use);
		if (o->rstr_second == 1)
			make_rstr(vol + LOG_AT + 4096, o, 0x2000, 0, 0);
		else if (o->rstr_second == 2)
			make_rstr(vol + LOG_AT + 4096, o, 0x0800, 0, 0);
		else
			make_rstr(vol + LOG_AT + 4096, o, 0x1000, o->rstr_flags,
				  o->rstr_in_use);
	}

	/* Record 0: $MFT in two fragments. */
	rec_init(&r, 0, REC);
	uint8_t std[48] = {0};
	rec_resident(&r, 0x10, std, sizeof std);
	struct test_run mft_runs[2] = {
		{ v->f1 / cs, (int64_t)(MFT1_AT / cs), 0 },
		{ (MFT_BYTES - v->f1) / cs, (int64_t)(MFT2_AT / cs), 0 },
	};
	if (o->mft_first_lcn_wrong)
		mft_runs[0].lcn = 128 * 1024 / cs;
	rec_nonresident(&r, 0x80, mft_runs, 2, cs, MFT_BYTES, MFT_BYTES);
	rec_finish(&r);
	put_record(v, o, &r, 0);

	/* Record 2: $LogFile. */
	rec_init(&r, 2, REC);
	rec_resident(&r, 0x10, std, sizeof std);
	struct test_run log_run = { LOG_BYTES / cs, (int64_t)(LOG_AT / cs), 0 };
	rec_nonresident(&r, 0x80, &log_run, 1, cs, LOG_BYTES, LOG_BYTES);
	rec_finish(&r);
	put_record(v, o, &r, 2);

	/* Record 3: $Volume. */
	rec_init(&r, 3, REC);
	rec_resident(&r, 0x10, std, sizeof std);
	uint32_t name_at = r.used;
	rec_resident(&r, 0x60, "N\0a\0n\0o\0", 8);
	uint8_t volinfo[12] = {0};
	volinfo[8] = 3;
	volinfo[9] = 1;
	bw_put_le16(volinfo + 10, o->vol_flags);
	if (!o->no_volinfo)
		rec_resident(&r, 0x70, volinfo, sizeof volinfo);
	rec_finish(&r);
	if (o->vol_attr_len0)
		bw_put_le32(r.b + name_at + 4, 0);
	put_record(v, o, &r, 3);

	/* Record 6: $Bitmap. */
	rec_init(&r, 6, REC);
	rec_resident(&r, 0x10, std, sizeof std);
	if (o->bitmap_attr_list)
		rec_resident(&r, 0x20, std, 32);
	uint64_t bsize = o->bitmap_size ? (uint64_t)o->bitmap_size : need;
	if (o->bitmap_resident) {
		rec_resident(&r, 0x80, bitmap, (uint32_t)bsize);
	} else if (o->bitmap_huge) {
		struct test_run huge[2] = {
			{ 1, (int64_t)(BITMAP_AT / cs), 0 },
			{ (2ull << 30) / cs - 1, 0, 1 },
		};
		rec_nonresident(&r, 0x80, huge, 2, cs, 2ull << 30, need);
	} else {
		struct test_run brun = { 1, (int64_t)(BITMAP_AT / cs), 0 };
		if (o->bitmap_run_past)
			brun.lcn = (int64_t)total;
		uint64_t init = bsize;
		if (o->bitmap_init_short) {
			/* Bytes past initialized_size read as zeros, whatever
			 * the cluster holds. */
			init = bsize - 8;
			memset(vol + BITMAP_AT + init, 0xFF, 8);
		}
		rec_nonresident(&r, 0x80, &brun, 1, cs, bsize, init);
	}
	rec_finish(&r);
	put_record(v, o, &r, 6);
	if (o->torn_record6) {
		uint64_t sec1 = mft_stream_to_vol(v, 6 * REC + 1022);
		bw_put_le16(vol + sec1, 0x1234);
	}

	build_root(v, o, vol);

	snprintf(v->path, sizeof v->path, "%s/vol.img", tmpdir);
	int fd = open(v->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, v->img, v->size);
	close(fd);
	return w == (ssize_t)v->size ? 0 : -1;
}

static void free_volume(struct vol_img *v)
{
	unlink(v->path);
	free(v->img);
	v->img = NULL;
}

/* Build, open, return bw_ntfs_open's result; *out and *disk stay open on 0. */
static int open_volume(const struct vol_opts *o, struct vol_img *v,
		       struct bw_disk **disk, struct bw_ntfs **out,
		       struct bw_error *err)
{
	*out = NULL;
	*disk = NULL;
	if (build_volume(v, o) != 0) {
		CHECK(!"cannot build the synthetic volume");
		return -100;
	}
	int r = bw_disk_open(v->path, disk, err);
	if (r)
		return r;
	r = bw_ntfs_open(*disk, o->part_off, PART, out, err);
	if (r) {
		bw_disk_close(*disk);
		*disk = NULL;
	}
	return r;
}

static void close_volume(struct vol_img *v, struct bw_disk *d, struct bw_ntfs *n)
{
	bw_ntfs_close(n);
	bw_disk_close(d);
	free_volume(v);
}

static void test_volume_good(uint32_t cs, uint64_t part_off)
{
	struct vol_opts o = { .cs = cs, .part_off = part_off };
	struct vol_img v;
	struct bw_disk *d;
	struct bw_ntfs *n;
	struct bw_error err = {0};

	int r = open_volume(&o, &v, &d, &n, &err);
	CHECK_EQ_U64(r, 0);
	if (r) {
		fprintf(stderr, "  %s\n", err.msg);
		free_volume(&v);
		return;
	}
	const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(n);
	CHECK_EQ_U64(g->cluster_size, cs);
	CHECK_EQ_U64(g->total_clusters, VOL / cs);
	CHECK_EQ_U64(g->mft_lcn, MFT1_AT / cs);
	struct bw_ntfs_state st;
	CHECK_EQ_U64(bw_ntfs_get_state(n, &st), 0);
	CHECK_EQ_U64(st.major, 3);
	CHECK_EQ_U64(st.minor, 1);
	CHECK_EQ_U64(st.dirty, 0);
	CHECK_EQ_U64(st.logfile, BW_NTFS_LOG_CLEAN);   /* all 0xFF: empty */
	CHECK(strcmp(st.label, "Nano") == 0);
	uint64_t used = (8192 + v.f1 + cs + (MFT_BYTES - v.f1) + LOG_BYTES +
			 DATA_BYTES) / cs;
	CHECK_EQ_U64(st.used_clusters, used);
	CHECK_EQ_U64(st.free_clusters, VOL / cs - used);
	size_t nb;
	const uint8_t *bm = bw_ntfs_bitmap(n, &nb);
	CHECK_EQ_U64(nb, VOL / cs / 8);
	CHECK(memcmp(bm, v.img + part_off + BITMAP_AT, nb) == 0);
	CHECK_EQ_U64(bw_ntfs_cluster_used(n, 0), 1);
	CHECK_EQ_U64(bw_ntfs_cluster_used(n, DATA_AT / cs), 1);
	CHECK_EQ_U64(bw_ntfs_cluster_used(n, JUNK_AT / cs), 0);
	CHECK_EQ_U64(bw_ntfs_cluster_used(n, VOL / cs - 1), 0);
	CHECK_EQ_U64(bw_ntfs_cluster_used(n, VOL / cs), (uint64_t)BW_EINVAL);

	/* Copy the used clusters and compare. */
	char out[320];
	snprintf(out, sizeof out, "%s/copy.img", tmpdir);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0) {
		/* Stale bytes in the output must not survive. */
		CHECK(pwrite(fd, "stale", 5, JUNK_AT) == 5);
		CHECK_EQ_U64(bw_ntfs_copy_used(n, fd, out, &err), 0);
		struct stat sb;
		CHECK(fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == PART);
		uint8_t *copy = malloc(PART);
		CHECK(copy && pread(fd, copy, PART, 0) == (ssize_t)PART);
		if (copy) {
			const uint8_t *vol = v.img + part_off;
			CHECK(memcmp(copy, vol, 8192) == 0);
			CHECK(memcmp(copy + VOL, vol + VOL, 512) == 0);
			CHECK(memcmp(copy + MFT1_AT, vol + MFT1_AT, v.f1) == 0);
			CHECK(memcmp(copy + MFT2_AT, vol + MFT2_AT, MFT_BYTES - v.f1) == 0);
			CHECK(memcmp(copy + BITMAP_AT, vol + BITMAP_AT, cs) == 0);
			CHECK(memcmp(copy + LOG_AT, vol + LOG_AT, LOG_BYTES) == 0);
			CHECK(memcmp(copy + DATA_AT, vol + DATA_AT, DATA_BYTES) == 0);
			int junk_zero = 1;
			for (uint32_t i = 0; i < JUNK_BYTES + 5; i++)
				junk_zero &= copy[JUNK_AT + i] == 0;
			CHECK(junk_zero);
			/* Everything else is either copied or zero. */
			size_t wrong = 0;
			for (size_t i = 0; i < PART; i++)
				if (copy[i] != 0 && copy[i] != vol[i])
					wrong++;
			CHECK_EQ_U64(wrong, 0);
			free(copy);
		}
		close(fd);
		unlink(out);
	}
	close_volume(&v, d, n);
}

/* Open a variant that must fail; returns the code and leaves the message. */
static int open_fail(const struct vol_opts *o, struct bw_error *err,
		     struct vol_img *keep)
{
	struct vol_img v;
	struct bw_disk *d;
	struct bw_ntfs *n;
	int r = open_volume(o, &v, &d, &n, err);
	if (r == 0)
		bw_ntfs_close(n), bw_disk_close(d);
	if (keep) {
		keep->f1 = v.f1;
		snprintf(keep->path, sizeof keep->path, "%s", v.path);
	}
	free_volume(&v);
	return r;
}

static int all_zero_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_volume_bad(void)
{
	struct bw_error err = {0};
	struct vol_img v;
	struct vol_opts o;

	/* $Bitmap shorter than the volume. */
	o = (struct vol_opts){ .cs = 4096, .bitmap_size = 16 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "$Bitmap shorter than the volume"));
	CHECK(has(&err, "NTFS MFT record 6"));
	/* Longer than needed is fine (mkntfs rounds to 8 bytes). */
	o = (struct vol_opts){ .cs = 4096, .bitmap_size = 40 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), 0);
	/* Past initialized_size the $Bitmap reads as zeros. */
	o = (struct vol_opts){ .cs = 4096, .bitmap_size = 48, .bitmap_init_short = 1 };
	{
		struct bw_disk *d0;
		struct bw_ntfs *n0;
		struct bw_ntfs_state st0;
		CHECK_EQ_U64(open_volume(&o, &v, &d0, &n0, &err), 0);
		if (n0) {
			size_t nb;
			const uint8_t *bm = bw_ntfs_bitmap(n0, &nb);
			CHECK_EQ_U64(nb, 48);
			CHECK(memcmp(bm, v.img + BITMAP_AT, 40) == 0);
			CHECK(all_zero_bytes(bm + 40, 8));
			bw_ntfs_get_state(n0, &st0);
			CHECK_EQ_U64(st0.used_clusters + st0.free_clusters, VOL / 4096);
		}
		close_volume(&v, d0, n0);
	}
	/* A resident $Bitmap is read too. */
	o = (struct vol_opts){ .cs = 4096, .bitmap_resident = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), 0);
	o = (struct vol_opts){ .cs = 4096, .bitmap_resident = 1, .bitmap_size = 31 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EFORMAT);
	/* Too big to hold: refused before allocating. */
	o = (struct vol_opts){ .cs = 4096, .bitmap_huge = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EUNSUPPORTED);
	CHECK(has(&err, "larger than"));
	/* Its runlist past the volume. */
	o = (struct vol_opts){ .cs = 4096, .bitmap_run_past = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "past the volume"));
	/* An $ATTRIBUTE_LIST in $Bitmap. */
	o = (struct vol_opts){ .cs = 4096, .bitmap_attr_list = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EUNSUPPORTED);
	CHECK(has(&err, "$ATTRIBUTE_LIST"));

	/* A torn record 6: named with its offset in the image. */
	o = (struct vol_opts){ .cs = 4096, .part_off = 1048576, .torn_record6 = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, &v), (uint64_t)BW_EFORMAT);
	char want[200];
	snprintf(want, sizeof want,
		 "NTFS MFT record 6 at offset %llu: fixup mismatch in sector 1 (expected 0x0001, found 0x1234)",
		 (unsigned long long)(1048576 + MFT2_AT + 6 * REC - v.f1));
	CHECK(has(&err, want));
	CHECK(has(&err, v.path));

	/* $MFT's runlist must start at the boot sector's LCN. */
	o = (struct vol_opts){ .cs = 4096, .mft_first_lcn_wrong = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "expected the boot sector's $MFT LCN"));
	/* Attribute length 0 in $Volume. */
	o = (struct vol_opts){ .cs = 4096, .vol_attr_len0 = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "NTFS MFT record 3"));
	o = (struct vol_opts){ .cs = 4096, .no_volinfo = 1 };
	CHECK_EQ_U64(open_fail(&o, &err, NULL), (uint64_t)BW_EFORMAT);
	/* The partition must lie inside the disk. */
	o = (struct vol_opts){ .cs = 4096 };
	struct bw_disk *d;
	struct bw_ntfs *n;
	if (build_volume(&v, &o) == 0 && bw_disk_open(v.path, &d, &err) == 0) {
		CHECK_EQ_U64(bw_ntfs_open(d, 512, PART, &n, &err), (uint64_t)BW_EFORMAT);
		CHECK(has(&err, "outside the disk"));
		CHECK_EQ_U64(bw_ntfs_open(d, UINT64_MAX, 2, &n, &err), (uint64_t)BW_EFORMAT);
		/* Not NTFS at that offset. */
		CHECK_EQ_U64(bw_ntfs_open(d, 512, 4096, &n, &err), (uint64_t)BW_EFORMAT);
		CHECK(n == NULL);
		bw_disk_close(d);
	} else {
		CHECK(!"cannot build the synthetic volume");
	}
	free_volume(&v);
}

static void test_volume_state(void)
{
	struct vol_opts o;
	struct vol_img v;
	struct bw_disk *d;
	struct bw_ntfs *n;
	struct bw_error err = {0};
	struct bw_ntfs_state st;
	static const struct {
		int log_mode;
		int16_t major, minor;
		uint16_t flags, in_use;
		int second, torn;
		enum bw_ntfs_logfile want;
		int16_t want_major;
	} cases[] = {
		{ LOG_EMPTY, 1, 1, 0, 0, 0, 0, BW_NTFS_LOG_CLEAN, 0 },
		{ LOG_ZERO, 1, 1, 0, 0, 0, 0, BW_NTFS_LOG_UNKNOWN, 0 },
		{ LOG_RSTR, 1, 1, 0x0002, 0, 0, 0, BW_NTFS_LOG_CLEAN, 1 },
		{ LOG_RSTR, 1, 1, 0, 0, 0, 0, BW_NTFS_LOG_UNCLEAN, 1 },
		{ LOG_RSTR, 1, 1, 0, 0xFFFF, 0, 0, BW_NTFS_LOG_CLEAN, 1 },
		{ LOG_RSTR, 2, 0, 0x0002, 0, 0, 0, BW_NTFS_LOG_CLEAN, 2 },
		{ LOG_RSTR, 2, 0, 0, 0, 0, 0, BW_NTFS_LOG_UNCLEAN, 2 },
		{ LOG_RSTR, 3, 0, 0x0002, 0, 0, 0, BW_NTFS_LOG_UNKNOWN, 0 },
		{ LOG_RSTR, 1, 1, 0x0002, 0, 0, 1, BW_NTFS_LOG_UNKNOWN, 0 },
		/* the more recent restart page decides */
		{ LOG_RSTR, 1, 1, 0x0002, 0, 1, 0, BW_NTFS_LOG_UNCLEAN, 1 },
		{ LOG_RSTR, 1, 1, 0x0002, 0, 2, 0, BW_NTFS_LOG_CLEAN, 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		o = (struct vol_opts){ .cs = 4096, .log_mode = cases[i].log_mode,
				       .rstr_major = cases[i].major,
				       .rstr_minor = cases[i].minor,
				       .rstr_flags = cases[i].flags,
				       .rstr_in_use = cases[i].in_use,
				       .rstr_second = cases[i].second,
				       .rstr_torn = cases[i].torn };
		int r = open_volume(&o, &v, &d, &n, &err);
		CHECK_EQ_U64(r, 0);
		if (r == 0) {
			bw_ntfs_get_state(n, &st);
			if (st.logfile != cases[i].want)
				fprintf(stderr, "  $LogFile case %zu\n", i);
			CHECK_EQ_U64(st.logfile, cases[i].want);
			CHECK_EQ_U64(st.logfile_major, cases[i].want_major);
		}
		close_volume(&v, d, n);
	}

	o = (struct vol_opts){ .cs = 4096, .vol_flags = 0x0001 };
	if (open_volume(&o, &v, &d, &n, &err) == 0) {
		bw_ntfs_get_state(n, &st);
		CHECK_EQ_U64(st.dirty, 1);
		CHECK_EQ_U64(st.volume_flags, 1);
	} else {
		CHECK(!"dirty volume did not open");
	}
	close_volume(&v, d, n);
}

/* An RSTR page (clean flag clear, client 0 in use) with one field
 * patched before the update sequence protection is applied (WIDTH 0: no
 * patch).  A patch that breaks the USA itself leaves the page unprotected. */
static void rstr_patched(uint8_t *raw, const struct vol_opts *o, unsigned off,
			 unsigned width, uint64_t value)
{
	make_rstr(raw, o, 0x1000, 0, 0);
	/* Undo the protection: put the saved words back. */
	uint16_t usa = bw_get_le16(raw + 4);
	for (unsigned s = 0; s < 8; s++)
		memcpy(raw + (s + 1) * 512 - 2, raw + usa + 2 * (s + 1), 2);
	if (width == 2)
		bw_put_le16(raw + off, (uint16_t)value);
	else if (width == 4)
		bw_put_le32(raw + off, (uint32_t)value);
	else if (width == 8)
		bw_put_le64(raw + off, value);
	uint16_t usa_ofs = bw_get_le16(raw + 4);
	if (usa_ofs % 2 == 0 && usa_ofs + 18u <= 510 && bw_get_le16(raw + 6) == 9)
		protect(raw, 4096, 7);
}

/* Judge restart pages directly: corrupt fields are "not understood". */
static void test_restart_page(void)
{
	struct vol_opts o = { .rstr_major = 1, .rstr_minor = 1 };
	uint8_t good[4096], p[4096];
	struct ntfs_restart_verdict vd;

	make_rstr(good, &o, 0x1000, 0x0002, 0);
	memcpy(p, good, 4096);
	CHECK_EQ_U64(ntfs_restart_page_judge(p, 4096, 0, &vd), 0);
	CHECK(vd.clean && vd.lsn == 0x1000 && vd.major == 1);
	memcpy(p, good, 4096);
	CHECK_EQ_U64(ntfs_restart_page_judge(p, 4096, 4096, &vd), 0);
	memcpy(p, good, 4096);
	CHECK(ntfs_restart_page_judge(p, 4096, 512, &vd) != 0);
	memcpy(p, good, 4096);
	CHECK(ntfs_restart_page_judge(p, 2048, 0, &vd) != 0);
	static const struct { unsigned off, width; uint32_t value; } bad[] = {
		{ 4, 2, 31 },           /* usa_ofs odd */
		{ 4, 2, 500 },          /* USA past 510 */
		{ 6, 2, 3 },            /* usa_count */
		{ 8, 8, 5 },            /* chkdsk LSN in an RSTR page */
		{ 16, 4, 3000 },        /* system page size */
		{ 20, 4, 0 },           /* log page size */
		{ 24, 2, 52 },          /* restart area offset unaligned */
		{ 24, 2, 40 },          /* inside the USA */
		{ 24, 2, 496 },         /* fields past the first sector */
		{ 48 + 8, 2, 0x4000 },  /* log clients: area past the page */
		{ 48 + 12, 2, 5 },      /* in-use list past the clients */
		{ 48 + 10, 2, 1 },      /* free list past the clients */
		{ 48 + 16, 4, 40 },     /* sequence number bits */
		{ 48 + 20, 2, 8 },      /* restart area length too short */
		{ 48 + 22, 2, 0x44 },   /* client array offset unaligned */
		{ 48 + 22, 2, 0x1F0 },  /* client array past 510 */
		{ 48 + 0x40 + 16, 2, 0 }, /* first client has a prev_client */
	};
	/* Unpatched, the rebuild path must give an accepted page, so that
	 * each rejection below is the patched field's doing. */
	uint8_t raw[4096];
	rstr_patched(raw, &o, 0, 0, 0);
	CHECK_EQ_U64(ntfs_restart_page_judge(raw, 4096, 0, &vd), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rstr_patched(raw, &o, bad[i].off, bad[i].width, bad[i].value);
		int r = ntfs_restart_page_judge(raw, 4096, 0, &vd);
		if (r == 0)
			fprintf(stderr, "  restart page case %zu accepted\n", i);
		CHECK(r != 0);
	}
}

/* hiberfil.sys in the root directory (ntfs-3g's hibernation rule). */
static int hibernated_of(const struct vol_opts *o, struct bw_error *err)
{
	struct vol_img v;
	struct bw_disk *d;
	struct bw_ntfs *n;
	struct bw_ntfs_state st;
	int r = open_volume(o, &v, &d, &n, err);
	if (r == 0) {
		bw_ntfs_get_state(n, &st);
		r = st.hibernated;
	}
	close_volume(&v, d, n);
	return r;
}

static void test_hiberfile(void)
{
	struct bw_error err = {0};
	struct vol_opts o;

	/* No hiberfil.sys (the default volume), resident index. */
	o = (struct vol_opts){ .cs = 4096 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);
	o = (struct vol_opts){ .cs = 512 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);
	/* Resident "hibr": hibernated; resident empty: not. */
	o = (struct vol_opts){ .cs = 4096, .hiber = "hibr", .hiber_len = 16 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 1);
	o = (struct vol_opts){ .cs = 4096, .hiber = "", .hiber_len = 0 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);
	o = (struct vol_opts){ .cs = 4096, .hiber = "hib", .hiber_len = 3 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);
	o = (struct vol_opts){ .cs = 4096, .hiber = "WAKE", .hiber_len = 8 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 1);
	o = (struct vol_opts){ .cs = 4096, .hiber = "Hibr", .hiber_len = 8 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);     /* ntfs-3g: exact case */
	/* Non-resident data: its first cluster. */
	o = (struct vol_opts){ .cs = 4096, .hiber = "HIBR", .hiber_len = 4096,
			       .hiber_nonres = 1 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 1);
	o = (struct vol_opts){ .cs = 4096, .hiber = "\0\0\0\0", .hiber_len = 4096,
			       .hiber_nonres = 1 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);
	o = (struct vol_opts){ .cs = 4096, .hiber = "wake", .hiber_len = 0,
			       .hiber_nonres = 1 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);     /* data size 0 */
	/* A large index: the name sits in an INDX block under "MMM". */
	o = (struct vol_opts){ .cs = 4096, .root_mode = ROOT_ALLOC,
			       .hiber = "hibr", .hiber_len = 4096, .hiber_nonres = 1 };
	CHECK_EQ_U64(hibernated_of(&o, &err), 1);
	o = (struct vol_opts){ .cs = 4096, .root_mode = ROOT_ALLOC };
	CHECK_EQ_U64(hibernated_of(&o, &err), 0);

	/* Lookups of other names through the same tree. */
	{
		struct vol_img v;
		struct bw_disk *d;
		struct bw_ntfs *n;
		uint64_t ref = 0;
		o = (struct vol_opts){ .cs = 4096, .root_mode = ROOT_ALLOC };
		if (open_volume(&o, &v, &d, &n, &err) == 0) {
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "mmm", &ref, &err), 0);
			CHECK_EQ_U64(ref, 14 | (14ull << 48));
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "ZZZ", &ref, &err), 0);
			CHECK_EQ_U64(ref, 13 | (13ull << 48));
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "hz", &ref, &err), 0);
			CHECK_EQ_U64(ref, 12 | (12ull << 48));
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "aaa", &ref, &err), 0);
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "a", &ref, &err),
				     (uint64_t)BW_ENOTFOUND);
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "zzzz", &ref, &err),
				     (uint64_t)BW_ENOTFOUND);
			CHECK_EQ_U64(ntfs_dir_lookup(n, 5, "n", &ref, &err),
				     (uint64_t)BW_ENOTFOUND);
			/* Not a directory: no $INDEX_ROOT. */
			CHECK_EQ_U64(ntfs_dir_lookup(n, 6, "x", &ref, &err),
				     (uint64_t)BW_EFORMAT);
			CHECK(has(&err, "no $INDEX_ROOT"));
		} else {
			CHECK(!"ROOT_ALLOC volume did not open");
		}
		close_volume(&v, d, n);
	}

	/* Corrupt indexes: BW_EFORMAT naming the place. */
	static const struct { int mode, corrupt; const char *msg; } bad[] = {
		{ ROOT_RESIDENT, ROOT_CORRUPT_ENTRY_LEN, "NTFS MFT record 5 at offset" },
		{ ROOT_RESIDENT, ROOT_CORRUPT_KEY_LEN, "key length 400" },
		{ ROOT_RESIDENT, ROOT_CORRUPT_NO_END, "without an end entry" },
		{ ROOT_RESIDENT, ROOT_CORRUPT_BLOCK_SIZE, "index block size 3000" },
		{ ROOT_ALLOC, ROOT_CORRUPT_BLOCK_VCN, "block says it is VCN 3" },
		{ ROOT_ALLOC, ROOT_CORRUPT_BLOCK_FIXUP, "index block VCN 0 at offset 786432: fixup mismatch in sector 1" },
		{ ROOT_ALLOC, ROOT_CORRUPT_CHILD_PAST, "block VCN 2, past" },
		{ ROOT_ALLOC, ROOT_CORRUPT_LOOP, "deeper than" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = (struct vol_opts){ .cs = 4096, .root_mode = bad[i].mode,
				       .root_corrupt = bad[i].corrupt,
				       .hiber = "hibr", .hiber_len = 8 };
		if (bad[i].corrupt == ROOT_CORRUPT_LOOP ||
		    bad[i].corrupt == ROOT_CORRUPT_NO_END)
			o.hiber = NULL;      /* the walk must go past its place */
		int r = hibernated_of(&o, &err);
		if (r != BW_EFORMAT)
			fprintf(stderr, "  corrupt index case %zu gave %d\n", i, r);
		CHECK_EQ_U64(r, (uint64_t)BW_EFORMAT);
		CHECK(has(&err, bad[i].msg));
	}
	/* A stale entry: the record's sequence number differs. */
	o = (struct vol_opts){ .cs = 4096, .hiber = "hibr", .hiber_len = 8,
			       .hiber_seq = 99 };
	CHECK_EQ_U64(hibernated_of(&o, &err), (uint64_t)BW_EFORMAT);
	CHECK(has(&err, "sequence number 99 (expected the record's 7)"));
}

/* The hiberfil.sys rule on its own (the guest-side callers use it). */
static void test_hiberfil_rule(void)
{
	CHECK(bw_ntfs_hiberfil_hibernated("hibr", 4) == 1);
	CHECK(bw_ntfs_hiberfil_hibernated("HIBR\0\0\0\0", 8) == 1);
	CHECK(bw_ntfs_hiberfil_hibernated("wake", 4) == 1);
	CHECK(bw_ntfs_hiberfil_hibernated("WAKE", 4) == 1);
	CHECK(bw_ntfs_hiberfil_hibernated("hibr", 3) == 0);   /* too short */
	CHECK(bw_ntfs_hiberfil_hibernated("", 0) == 0);
	CHECK(bw_ntfs_hiberfil_hibernated("\0\0\0\0", 4) == 0);
	CHECK(bw_ntfs_hiberfil_hibernated("rstr", 4) == 0);
	CHECK(bw_ntfs_hiberfil_hibernated("xhibr", 5) == 0);  /* at the start */
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_ntfs.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_boot();
	test_fixup();
	test_attrs();
	test_runlist();
	test_volume_good(4096, 0);
	test_volume_good(4096, 1048576);
	test_volume_good(512, 32256);     /* records straddle $MFT fragments */
	test_volume_bad();
	test_volume_state();
	test_restart_page();
	test_hiberfile();
	test_hiberfil_rule();
	rmdir(tmpdir);
	return check_done("test_ntfs");
}

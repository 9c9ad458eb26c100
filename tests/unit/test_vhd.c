/*
 * VHD reader: fixed, dynamic and differencing images made here byte by
 * byte from the spec, read back and compared; the allocation map; each
 * corruption (checksums, truncation, BAT past EOF, blocks over the
 * footers, dynamic header or BAT or over each other, block size,
 * overflowing sizes, unknown type) refused with BW_EFORMAT or
 * BW_EUNSUPPORTED; and for differencing images: the sector bitmap (most
 * significant bit first), every way of finding the parent, and each way
 * a chain can be wrong (missing parent, loops, wrong unique id, too deep,
 * locator data past EOF, size mismatch, a parent that is not a VHD).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"

#define MiB (1024u * 1024u)

static char dir[] = "/tmp/bw-test-vhd.XXXXXX";
static char path[256];

static uint32_t csum(const uint8_t *p, size_t n, size_t off)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		if (i < off || i >= off + 4)
			s += p[i];
	return ~s;
}

static void footer(uint8_t f[512], uint32_t type, uint64_t size, uint64_t data_off)
{
	memset(f, 0, 512);
	memcpy(f, "conectix", 8);
	bw_put_be32(f + 8, 2);
	bw_put_be32(f + 12, 0x00010000);
	bw_put_be64(f + 16, data_off);
	memcpy(f + 28, "win ", 4);
	memcpy(f + 36, "Wi2k", 4);
	bw_put_be64(f + 40, size);
	bw_put_be64(f + 48, size);
	f[56] = 0x10; f[57] = 0x00; f[58] = 16; f[59] = 63;
	bw_put_be32(f + 60, type);
	bw_put_be32(f + 64, csum(f, 512, 64));
}

enum corrupt { OK, BAD_FOOTER_CSUM, BAD_DYN_CSUM, BAT_PAST_EOF, BLOCK_NOT_POW2,
	       SIZE_HUGE, TRUNCATED, TYPE_DIFF, TYPE_UNKNOWN, TABLE_PAST_EOF,
	       /* blocks over the file's own metadata or over each other */
	       BAT_AT_FOOTER_COPY, BAT_IN_DYN_HEADER, BAT_IN_BAT, BAT_OVER_FOOTER,
	       BAT_SHARED, BAT_OVERLAP, BAT_SWAPPED };

/* Dynamic VHD of SIZE bytes from DATA; blocks that are all zero stay unallocated. */
static void write_dynamic(const uint8_t *data, uint64_t size, uint32_t bs, enum corrupt c)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t f[512], h[1024];
	footer(f, c == TYPE_DIFF ? 4 : c == TYPE_UNKNOWN ? 9 : 3,
	       c == SIZE_HUGE ? (1ull << 62) : size, 512);
	if (c == BAD_FOOTER_CSUM)
		f[64] ^= 1;
	uint32_t n = (uint32_t)((size + bs - 1) / bs);
	uint32_t bat_bytes = (n * 4 + 511) & ~511u;
	memset(h, 0, sizeof h);
	memcpy(h, "cxsparse", 8);
	bw_put_be64(h + 8, ~0ull);
	bw_put_be64(h + 16, c == TABLE_PAST_EOF ? (1ull << 40) : 1536);
	bw_put_be32(h + 24, 0x00010000);
	bw_put_be32(h + 28, n);
	bw_put_be32(h + 32, c == BLOCK_NOT_POW2 ? bs + 512 : bs);
	bw_put_be32(h + 36, csum(h, 1024, 36));
	if (c == BAD_DYN_CSUM)
		h[36] ^= 1;
	uint8_t *bat = malloc(bat_bytes);
	memset(bat, 0xFF, bat_bytes);
	uint64_t next = 1536 + bat_bytes;     /* sectors follow the BAT */
	uint8_t bitmap[512];
	memset(bitmap, 0xFF, sizeof bitmap);
	uint8_t *zero = calloc(1, bs);
	for (uint32_t b = 0; b < n; b++) {
		if (!memcmp(data + (uint64_t)b * bs, zero, bs))
			continue;
		bw_put_be32(bat + 4 * b, (uint32_t)(next / 512));
		if (c == BAT_PAST_EOF && b == n - 1)
			bw_put_be32(bat + 4 * b, 0x00FFFFFF);
		if (b == 0 && c == BAT_AT_FOOTER_COPY)
			bw_put_be32(bat, 0);
		if (b == 0 && c == BAT_IN_DYN_HEADER)
			bw_put_be32(bat, 2);          /* offset 1024 */
		if (b == 0 && c == BAT_IN_BAT)
			bw_put_be32(bat, 3);          /* offset 1536 */
		if (b == 4 && c == BAT_SHARED)
			memcpy(bat + 16, bat + 12, 4);
		if (b == 4 && c == BAT_OVERLAP)
			bw_put_be32(bat + 16, bw_get_be32(bat + 12) + 1);
		pwrite(fd, bitmap, 512, (off_t)next);
		pwrite(fd, data + (uint64_t)b * bs, bs, (off_t)next + 512);
		next += 512 + bs;
	}
	pwrite(fd, f, 512, 0);
	pwrite(fd, h, 1024, 512);
	if (c == BAT_SWAPPED) {     /* blocks 3 and 4 in the other order */
		uint8_t t[4];
		memcpy(t, bat + 12, 4);
		memcpy(bat + 12, bat + 16, 4);
		memcpy(bat + 16, t, 4);
	}
	pwrite(fd, bat, bat_bytes, 1536);
	/* BAT_OVER_FOOTER: the footer takes the last block's last sector. */
	if (c == BAT_OVER_FOOTER)
		pwrite(fd, f, 512, (off_t)next - 512);
	else if (c != TRUNCATED)
		pwrite(fd, f, 512, (off_t)next);
	close(fd);
	free(bat);
	free(zero);
}

static int open_expect(int code, const char *needle)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	int r = bw_disk_open(path, &d, &e);
	CHECK(r == code);
	CHECK(d == NULL);
	if (r && needle && !strstr(e.msg, needle)) {
		fprintf(stderr, "message lacks \"%s\": %s\n", needle, e.msg);
		CHECK(0);
	}
	CHECK(r == 0 || strncmp(e.msg, path, strlen(path)) == 0);  /* names the file */
	bw_disk_close(d);
	return r;
}

/* ---- differencing images ---------------------------------------------- */

#define PLAT_W2RU 0x57327275u
#define PLAT_W2KU 0x57326B75u
#define PLAT_MACX 0x4D616358u

struct locator {
	uint32_t code;            /* 0 = empty entry */
	const char *text;         /* UTF-8: UTF-16LE for W2ru/W2ku, as is for MacX */
	const uint8_t *raw;       /* or these bytes as they are */
	size_t raw_len;
	uint64_t force_off;       /* non-zero: claim this data offset */
	uint32_t force_len;       /* non-zero: claim this data length */
};

/* An image to build: dynamic (type 3) or differencing (type 4). */
struct image {
	const char *path;
	uint32_t type;
	uint64_t size;
	uint32_t bs;
	uint8_t uid[16];
	uint8_t parent_uid[16];
	const char *parent_name;  /* UTF-8, stored UTF-16BE */
	struct locator loc[8];
	const uint8_t *data;      /* size bytes: the sectors this file holds */
	const uint8_t *alloc;     /* per block; NULL: blocks with a non-zero byte */
	const uint8_t *bitmap;    /* per block bs/4096 bytes; NULL: all set */
};

/* UTF-8 to UTF-16 code units (BE or LE); returns the byte count. */
static size_t utf16(const char *s, uint8_t *out, int big)
{
	size_t n = 0;
	const uint8_t *p = (const uint8_t *)s;
	while (*p) {
		uint32_t cp;
		if (*p < 0x80) {
			cp = *p++;
		} else if (*p < 0xE0) {
			cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
			p += 2;
		} else if (*p < 0xF0) {
			cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
			p += 3;
		} else {
			cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
			     (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
			p += 4;
		}
		uint16_t units[2];
		int k = 1;
		if (cp >= 0x10000) {
			units[0] = (uint16_t)(0xD800 + ((cp - 0x10000) >> 10));
			units[1] = (uint16_t)(0xDC00 + ((cp - 0x10000) & 0x3FF));
			k = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int i = 0; i < k; i++, n += 2) {
			out[n + !big] = (uint8_t)(units[i] >> 8);
			out[n + big] = (uint8_t)units[i];
		}
	}
	return n;
}

static void write_image(const struct image *im)
{
	int fd = open(im->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t f[512], h[1024];
	footer(f, im->type, im->size, 512);
	memcpy(f + 68, im->uid, 16);
	bw_put_be32(f + 64, 0);
	bw_put_be32(f + 64, csum(f, 512, 64));
	uint32_t n = (uint32_t)((im->size + im->bs - 1) / im->bs);
	uint32_t bat_bytes = (n * 4 + 511) & ~511u;
	uint32_t bm_bytes = im->bs / 4096;             /* bits used per block */
	memset(h, 0, sizeof h);
	memcpy(h, "cxsparse", 8);
	bw_put_be64(h + 8, ~0ull);
	bw_put_be64(h + 16, 1536);
	bw_put_be32(h + 24, 0x00010000);
	bw_put_be32(h + 28, n);
	bw_put_be32(h + 32, im->bs);
	memcpy(h + 40, im->parent_uid, 16);
	if (im->parent_name)
		utf16(im->parent_name, h + 64, 1);
	uint64_t next = 1536 + bat_bytes;
	for (int i = 0; i < 8; i++) {
		const struct locator *l = &im->loc[i];
		if (!l->code)
			continue;
		uint8_t text[4096];
		size_t len;
		if (l->raw) {
			memcpy(text, l->raw, l->raw_len);
			len = l->raw_len;
		} else if (l->code == PLAT_MACX) {
			len = strlen(l->text);
			memcpy(text, l->text, len);
		} else {
			len = utf16(l->text, text, 0);
		}
		uint8_t *e = h + 576 + 24 * i;
		bw_put_be32(e, l->code);
		bw_put_be32(e + 4, (uint32_t)((len + 511) / 512));
		bw_put_be32(e + 8, l->force_len ? l->force_len : (uint32_t)len);
		bw_put_be64(e + 16, l->force_off ? l->force_off : next);
		pwrite(fd, text, len, (off_t)next);
		next += (len + 511) & ~(size_t)511;
		if (len == 0)
			next += 512;
	}
	bw_put_be32(h + 36, csum(h, 1024, 36));
	uint8_t *bat = malloc(bat_bytes);
	memset(bat, 0xFF, bat_bytes);
	uint8_t *zero = calloc(1, im->bs);
	uint8_t *blk = malloc(im->bs);
	for (uint32_t b = 0; b < n; b++) {
		const uint8_t *src = im->data + (uint64_t)b * im->bs;
		int used = im->alloc ? im->alloc[b] : memcmp(src, zero, im->bs) != 0;
		if (!used)
			continue;
		uint8_t bitmap[512];
		memset(bitmap, 0, sizeof bitmap);
		if (im->bitmap)
			memcpy(bitmap, im->bitmap + (size_t)b * bm_bytes, bm_bytes);
		else
			memset(bitmap, 0xFF, bm_bytes);
		/* Sectors not in this file hold junk that must never be read. */
		for (uint32_t s = 0; s < im->bs / 512; s++) {
			int mine = bitmap[s / 8] >> (7 - s % 8) & 1;
			if (mine)
				memcpy(blk + 512 * s, src + 512 * s, 512);
			else
				memset(blk + 512 * s, 0xEE, 512);
		}
		bw_put_be32(bat + 4 * b, (uint32_t)(next / 512));
		pwrite(fd, bitmap, 512, (off_t)next);
		pwrite(fd, blk, im->bs, (off_t)next + 512);
		next += 512 + im->bs;
	}
	pwrite(fd, f, 512, 0);
	pwrite(fd, h, 1024, 512);
	pwrite(fd, bat, bat_bytes, 1536);
	pwrite(fd, f, 512, (off_t)next);
	close(fd);
	free(bat);
	free(zero);
	free(blk);
}

static int open_expect_at(const char *p, int code, const char *needle)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	int r = bw_disk_open(p, &d, &e);
	CHECK(r == code);
	CHECK(d == NULL);
	if (r != code)
		fprintf(stderr, "%s: expected %d, got %d: %s\n", p, code, r, r ? e.msg : "");
	if (r && needle && !strstr(e.msg, needle)) {
		fprintf(stderr, "message lacks \"%s\": %s\n", needle, e.msg);
		CHECK(0);
	}
	bw_disk_close(d);
	return r;
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

static void set_uid(uint8_t uid[16], unsigned seed)
{
	for (int i = 0; i < 16; i++)
		uid[i] = (uint8_t)(seed * 37 + i * 11 + 1);
}

/* Read all of P and compare with WANT (SIZE bytes). */
static void check_reads(const char *p, const uint8_t *want, uint64_t size)
{
	struct bw_disk *d;
	struct bw_error e;
	int r = bw_disk_open(p, &d, &e);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "%s\n", e.msg);
		return;
	}
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, want, size) == 0);
	free(buf);
	bw_disk_close(d);
}

static void test_differencing(void)
{
	const uint64_t size = 16 * MiB;      /* eight 2 MiB blocks */
	const uint32_t bs = 2 * MiB;
	unsigned fds = count_fds();
	char ppath[300], cpath[300], other[300], absname[300];
	snprintf(ppath, sizeof ppath, "%s/p.vhd", dir);
	snprintf(cpath, sizeof cpath, "%s/c.vhd", dir);

	/* Parent: data in blocks 0, 1, 3, 4 and 7; 2, 5, 6 unallocated. */
	uint8_t *pdata = calloc(1, size);
	for (uint64_t i = 0; i < 4 * MiB; i++)
		pdata[i] = (uint8_t)(i * 7 + (i >> 9) + 1);
	for (uint64_t i = 6 * MiB; i < 10 * MiB; i++)
		pdata[i] = (uint8_t)(i >> 9 | 1);
	memset(pdata + 14 * MiB, 0x3C, 2 * MiB);
	struct image parent = { .path = ppath, .type = 3, .size = size, .bs = bs,
				.data = pdata };
	set_uid(parent.uid, 1);
	write_image(&parent);

	/* Child: blocks 0 and 2 allocated with partial bitmaps. */
	uint8_t *cdata = malloc(size);
	for (uint64_t i = 0; i < size; i++)
		cdata[i] = (uint8_t)(0x5A ^ (i * 13) ^ (i >> 9));
	uint8_t alloc[8] = { 1, 0, 1, 0, 0, 0, 0, 0 };
	uint8_t bitmap[8 * 512] = {0};
	bitmap[0] = 0x80;          /* block 0: sector 0 is the child's, 1-7 not */
	bitmap[1] = 0xFF;          /* sectors 8-15 */
	for (int i = 2; i < 512; i++)
		bitmap[i] = 0xA5;      /* 1010 0101 */
	memset(bitmap + 2 * 512, 0xFF, 256);   /* block 2: first half */
	memset(cdata + 8 * 512, 0, 512);       /* a zero child sector hides the parent's */
	struct image child = { .path = cpath, .type = 4, .size = size, .bs = bs,
			       .data = cdata, .alloc = alloc, .bitmap = bitmap,
			       .parent_name = "p.vhd",
			       .loc = { { .code = PLAT_W2RU, .text = ".\\p.vhd" } } };
	set_uid(child.uid, 2);
	memcpy(child.parent_uid, parent.uid, 16);
	write_image(&child);

	uint8_t *want = malloc(size);
	for (uint64_t s = 0; s < size / 512; s++) {
		uint64_t b = s * 512 / bs, in = s % (bs / 512);
		int mine = alloc[b] && (bitmap[b * 512 + in / 8] >> (7 - in % 8) & 1);
		memcpy(want + 512 * s, (mine ? cdata : pdata) + 512 * s, 512);
	}
	/* The bitmap is most significant bit first: sector 0 is the child's,
	 * sector 7 the parent's (LSB first would give the opposite). */
	CHECK(memcmp(want, cdata, 512) == 0);
	CHECK(memcmp(want + 7 * 512, pdata + 7 * 512, 512) == 0);
	CHECK(memcmp(want + 8 * 512, cdata + 8 * 512, 512) == 0);

	struct bw_disk *d;
	struct bw_error e;
	CHECK(bw_disk_open(cpath, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "vhd-differencing") == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, want, size) == 0);
	/* Unaligned reads across sector and block edges. */
	static const uint64_t offs[][2] = {
		{ 511, 3 }, { 7 * 512 + 100, 1000 }, { 2 * MiB - 100, 200 },
		{ 3 * MiB + 1, 2 * MiB }, { 5 * MiB - 7, 3 * MiB + 14 }, { size - 1, 1 },
	};
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		CHECK(bw_disk_pread(d, buf, offs[i][1], offs[i][0], &e) == 0);
		CHECK(memcmp(buf, want + offs[i][0], offs[i][1]) == 0);
	}
	/* Allocation map: the union of child {0, 2} and parent {0, 1, 3, 4,
	 * 7}, in maximal runs: [0, 10M) grows child, parent, child, parent. */
	uint64_t s, en;
	CHECK(bw_disk_next_data(d, 0, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 0); CHECK_EQ_U64(en, 10 * MiB);
	CHECK(bw_disk_next_data(d, 5 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 5 * MiB); CHECK_EQ_U64(en, 10 * MiB);
	CHECK(bw_disk_next_data(d, 10 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 14 * MiB); CHECK_EQ_U64(en, 16 * MiB);
	CHECK(bw_disk_next_data(d, 15 * MiB + 3, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 15 * MiB + 3); CHECK_EQ_U64(en, 16 * MiB);
	CHECK(bw_disk_next_data(d, 16 * MiB, &s, &en, &e) == 0);
	struct bw_disk_info info;
	CHECK(bw_disk_get_info(d, &info, &e) == 0);
	CHECK_EQ_U64(info.allocated, 12 * MiB);
	bw_disk_close(d);

	/* The absolute locator (backslashes) when the relative one misses. */
	snprintf(absname, sizeof absname, "%s/p.vhd", dir);
	for (char *c = absname; *c; c++)
		if (*c == '/')
			*c = '\\';
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = ".\\gone.vhd" };
	child.loc[1] = (struct locator){ .code = PLAT_W2KU, .text = absname };
	child.parent_name = NULL;
	write_image(&child);
	check_reads(cpath, want, size);

	/* Only the parent name, a Windows path with a non-ASCII name and a
	 * character outside the BMP (a surrogate pair): its last component is
	 * looked for beside the child. */
	snprintf(other, sizeof other, "%s/p\xc3\xa4\xf0\x9f\x98\x80.vhd", dir);
	CHECK(symlink("p.vhd", other) == 0);
	memset(child.loc, 0, sizeof child.loc);
	child.parent_name = "C:\\VMs\\p\xc3\xa4\xf0\x9f\x98\x80.vhd";
	write_image(&child);
	check_reads(cpath, want, size);
	unlink(other);

	/* MacX: a percent-encoded file URL. */
	snprintf(other, sizeof other, "%s/p x.vhd", dir);
	CHECK(symlink("p.vhd", other) == 0);
	char url[400];
	snprintf(url, sizeof url, "file://localhost%s/p%%20x.vhd", dir);
	child.parent_name = NULL;
	child.loc[0] = (struct locator){ .code = PLAT_MACX, .text = url };
	write_image(&child);
	check_reads(cpath, want, size);
	unlink(other);

	/* Missing parent: BW_EFORMAT naming every path tried. */
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "..\\nothere.vhd" };
	child.loc[1] = (struct locator){ .code = PLAT_W2KU, .text = "C:\\VMs\\p.vhd" };
	child.parent_name = "gone.vhd";
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "parent not found");
	open_expect_at(cpath, BW_EFORMAT, "/../nothere.vhd (relative locator W2ru)");
	open_expect_at(cpath, BW_EFORMAT, "C:/VMs/p.vhd (absolute locator W2ku, a Windows drive path)");
	open_expect_at(cpath, BW_EFORMAT, "/gone.vhd (parent name)");

	/* A locator pointing at the child itself: a loop of one. */
	memset(child.loc, 0, sizeof child.loc);
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = ".\\c.vhd" };
	child.parent_name = NULL;
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "circular parent chain");

	/* A -> B -> A. */
	snprintf(other, sizeof other, "%s/b.vhd", dir);
	struct image b = child;
	b.path = other;
	set_uid(b.uid, 3);
	memcpy(b.parent_uid, child.uid, 16);
	b.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "c.vhd" };
	write_image(&b);
	memcpy(child.parent_uid, b.uid, 16);
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "b.vhd" };
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "circular parent chain");
	open_expect_at(other, BW_EFORMAT, "circular parent chain");
	unlink(other);

	/* The parent's unique id is not the one the child recorded. */
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "p.vhd" };
	set_uid(child.parent_uid, 9);
	write_image(&child);
	char msg[200], idp[40], idc[40];
	snprintf(idp, sizeof idp, "%02x%02x%02x%02x-", parent.uid[0], parent.uid[1],
		 parent.uid[2], parent.uid[3]);
	snprintf(idc, sizeof idc, "%02x%02x%02x%02x-", child.parent_uid[0],
		 child.parent_uid[1], child.parent_uid[2], child.parent_uid[3]);
	snprintf(msg, sizeof msg, "has unique id %s", idp);
	open_expect_at(cpath, BW_EFORMAT, msg);
	snprintf(msg, sizeof msg, "child expects %s", idc);
	open_expect_at(cpath, BW_EFORMAT, msg);
	memcpy(child.parent_uid, parent.uid, 16);

	/* Locator data past the end of the file: offset, then length. */
	child.loc[1] = (struct locator){ .code = PLAT_W2KU, .text = "/x.vhd",
					 .force_off = 1ull << 40 };
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "parent locator 1");
	struct stat st;
	stat(cpath, &st);
	child.loc[1].force_off = (uint64_t)st.st_size - 10;
	child.loc[1].force_len = 100;
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "past the end of the file");
	/* Unknown platform code, oversized data, an unpaired surrogate. */
	child.loc[1] = (struct locator){ .code = 0x41424344, .text = "x" };
	write_image(&child);
	open_expect_at(cpath, BW_EUNSUPPORTED, "unknown platform code 0x41424344");
	child.loc[1] = (struct locator){ .code = PLAT_W2KU, .text = "x", .force_len = 100000 };
	write_image(&child);
	open_expect_at(cpath, BW_EUNSUPPORTED, "100000 bytes of data");
	static const uint8_t lone[] = { 'p', 0, 0x00, 0xD8, 'x', 0 };
	child.loc[1] = (struct locator){ 0 };
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .raw = lone, .raw_len = sizeof lone };
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "unpaired UTF-16 surrogate");
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "p.vhd" };

	/* A FIFO named by a locator is refused without hanging in open(2). */
	snprintf(other, sizeof other, "%s/fifo.vhd", dir);
	CHECK(mkfifo(other, 0600) == 0);
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "fifo.vhd" };
	write_image(&child);
	open_expect_at(cpath, BW_EUNSUPPORTED, "not a regular file or block device");
	unlink(other);
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "p.vhd" };

	/* Sizes differ. */
	child.size = 10 * MiB;
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "virtual size 16777216, child has 10485760");
	child.size = size;

	/* The parent is not a VHD; the parent is corrupt (its error names it). */
	snprintf(other, sizeof other, "%s/raw.img", dir);
	int fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pwrite(fd, pdata, MiB, 0);
	close(fd);
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "raw.img" };
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "is not a VHD");
	unlink(other);
	snprintf(other, sizeof other, "%s/bad.vhd", dir);
	parent.path = other;
	write_image(&parent);
	fd = open(other, O_RDWR);
	uint8_t byte = 0x77;
	pwrite(fd, &byte, 1, (off_t)(lseek(fd, 0, SEEK_END) - 512 + 100));
	close(fd);
	child.loc[0] = (struct locator){ .code = PLAT_W2RU, .text = "bad.vhd" };
	write_image(&child);
	open_expect_at(cpath, BW_EFORMAT, "bad.vhd: VHD footer at offset");
	unlink(other);
	parent.path = ppath;

	/* A chain of differencing images over a dynamic base, each level
	 * holding one sector (level i: sector i, 512-KiB blocks on odd
	 * levels): 32 images open and compose, 33 are too deep. */
	const uint64_t csize = 2 * MiB;
	char names[34][300];
	uint8_t *level = calloc(1, csize);
	uint8_t *cwant = calloc(1, csize);
	uint8_t small_bitmap[4 * 128];
	struct image base = { .path = names[0], .type = 3, .size = csize, .bs = bs,
			      .data = cwant };
	snprintf(names[0], sizeof names[0], "%s/chain0.vhd", dir);
	memset(cwant, 0x11, 512 * 40);       /* the base's sectors 0-39 */
	set_uid(base.uid, 100);
	write_image(&base);
	uint8_t prev_uid[16];
	memcpy(prev_uid, base.uid, 16);
	for (int i = 1; i <= 32; i++) {
		snprintf(names[i], sizeof names[i], "%s/chain%d.vhd", dir, i);
		char rel[40];
		snprintf(rel, sizeof rel, "chain%d.vhd", i - 1);
		uint32_t lbs = i % 2 ? 512 * 1024 : bs;
		uint8_t la[4] = { 1, 1, 1, 1 };
		memset(small_bitmap, 0, sizeof small_bitmap);
		small_bitmap[i / 8] = (uint8_t)(0x80 >> (i % 8));   /* sector i, block 0 */
		memset(level, 0, csize);
		memset(level + 512 * i, i, 512);
		struct image im = { .path = names[i], .type = 4, .size = csize, .bs = lbs,
				    .data = level, .alloc = la, .bitmap = small_bitmap,
				    .loc = { { .code = PLAT_W2RU, .text = rel } } };
		set_uid(im.uid, 100 + (unsigned)i);
		memcpy(im.parent_uid, prev_uid, 16);
		memcpy(prev_uid, im.uid, 16);
		write_image(&im);
		if (i <= 31)
			memset(cwant + 512 * i, i, 512);
	}
	check_reads(names[31], cwant, csize);
	open_expect_at(names[32], BW_EUNSUPPORTED, "chain too deep");
	for (int i = 0; i <= 32; i++)
		unlink(names[i]);
	free(level);
	free(cwant);

	/* Every failed open above closed what it had opened. */
	CHECK_EQ_U64(count_fds(), fds);
	unlink(cpath);
	unlink(ppath);
	free(buf);
	free(want);
	free(pdata);
	free(cdata);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof path, "%s/t.vhd", dir);
	const uint64_t size = 10 * MiB;       /* five 2 MiB blocks */
	uint8_t *data = calloc(1, size);
	for (uint64_t i = 0; i < 2 * MiB; i++)       /* block 0 */
		data[i] = (uint8_t)(i * 31 + (i >> 9));
	memcpy(data + 6 * MiB + 12345, "hello block 3", 13);
	data[size - 1] = 0xAB;                       /* block 4 */

	/* Dynamic: reads equal the source, across block edges too. */
	write_dynamic(data, size, 2 * MiB, OK);
	struct bw_disk *d;
	struct bw_error e;
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "vhd-dynamic") == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	CHECK(bw_disk_pread(d, buf, 3 * MiB, 1 * MiB + 7, &e) == 0);
	CHECK(memcmp(buf, data + MiB + 7, 3 * MiB) == 0);
	CHECK(bw_disk_pread(d, buf, 2, size - 1, &e) == BW_EINVAL);
	/* Allocation map: blocks 0, 3, 4 hold data. */
	uint64_t s, en;
	CHECK(bw_disk_next_data(d, 0, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 0); CHECK_EQ_U64(en, 2 * MiB);
	CHECK(bw_disk_next_data(d, 2 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 6 * MiB); CHECK_EQ_U64(en, 10 * MiB);
	CHECK(bw_disk_next_data(d, 7 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 7 * MiB);
	CHECK(bw_disk_next_data(d, size, &s, &en, &e) == 0);
	struct bw_disk_info info;
	CHECK(bw_disk_get_info(d, &info, &e) == 0);
	CHECK(strcmp(info.creator, "win ") == 0);
	CHECK_EQ_U64(info.block_size, 2 * MiB);
	CHECK_EQ_U64(info.allocated, 6 * MiB);
	bw_disk_close(d);

	/* A smaller power-of-two block size works too. */
	write_dynamic(data, size, 512 * 1024, OK);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	bw_disk_close(d);

	/* Fixed: data then footer. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t f[512];
	footer(f, 2, size, ~0ull);
	pwrite(fd, data, size, 0);
	pwrite(fd, f, 512, (off_t)size);
	close(fd);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "vhd-fixed") == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	bw_disk_close(d);
	/* Fixed, truncated: the footer claims more data than the file has. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pwrite(fd, data, MiB, 0);
	pwrite(fd, f, 512, MiB);
	close(fd);
	open_expect(BW_EFORMAT, "fixed VHD truncated");

	/* Each corruption. */
	write_dynamic(data, size, 2 * MiB, BAD_FOOTER_CSUM);
	open_expect(BW_EFORMAT, "footer at offset");
	write_dynamic(data, size, 2 * MiB, BAD_DYN_CSUM);
	open_expect(BW_EFORMAT, "dynamic header at offset 512: checksum mismatch");
	write_dynamic(data, size, 2 * MiB, BAT_PAST_EOF);
	open_expect(BW_EFORMAT, "BAT entry 4");
	write_dynamic(data, size, 2 * MiB, BLOCK_NOT_POW2);
	open_expect(BW_EFORMAT, "not a power of two");
	write_dynamic(data, size, 2 * MiB, SIZE_HUGE);
	open_expect(BW_EFORMAT, "current size");
	write_dynamic(data, size, 2 * MiB, TRUNCATED);
	open_expect(BW_EFORMAT, "truncated");
	/* Type 4 with neither locators nor a parent name: nothing to open. */
	write_dynamic(data, size, 2 * MiB, TYPE_DIFF);
	open_expect(BW_EFORMAT, "no parent locator or parent name");
	write_dynamic(data, size, 2 * MiB, TYPE_UNKNOWN);
	open_expect(BW_EUNSUPPORTED, "disk type 9");
	write_dynamic(data, size, 2 * MiB, TABLE_PAST_EOF);
	open_expect(BW_EFORMAT, "allocation table");

	/* Blocks over the file's own metadata or over one another are
	 * refused at open, naming the entry, its offset and what it hits. */
	write_dynamic(data, size, 2 * MiB, BAT_AT_FOOTER_COPY);
	open_expect(BW_EFORMAT, "BAT entry 0 (at offset 1536) points at sector 0: "
		    "block at offset 0-2097664 overlaps the footer copy at offset 0-512 "
		    "(expected a block clear of the file's metadata)");
	write_dynamic(data, size, 2 * MiB, BAT_IN_DYN_HEADER);
	open_expect(BW_EFORMAT, "BAT entry 0 (at offset 1536) points at sector 2: "
		    "block at offset 1024-2098688 overlaps the dynamic header at offset 512-1536");
	write_dynamic(data, size, 2 * MiB, BAT_IN_BAT);
	open_expect(BW_EFORMAT, "BAT entry 0 (at offset 1536) points at sector 3: "
		    "block at offset 1536-2099200 overlaps the block allocation table at offset 1536-1556");
	write_dynamic(data, size, 2 * MiB, BAT_OVER_FOOTER);
	open_expect(BW_EFORMAT, "BAT entry 4 (at offset 1552) points at sector ");
	open_expect(BW_EFORMAT, "overlaps the footer at offset");
	write_dynamic(data, size, 2 * MiB, BAT_SHARED);
	open_expect(BW_EFORMAT, "VHD BAT entry 4 (at offset 1552) points at sector 4101, "
		    "inside the block of BAT entry 3 at offset 2099712-4197376 "
		    "(expected each block in a place of its own)");
	write_dynamic(data, size, 2 * MiB, BAT_OVERLAP);
	open_expect(BW_EFORMAT, "VHD BAT entry 4 (at offset 1552) points at sector 4102, "
		    "inside the block of BAT entry 3");
	/* Blocks out of order in the file but apart are fine. */
	write_dynamic(data, size, 2 * MiB, BAT_SWAPPED);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	bw_disk_close(d);

	/* A file with no footer at all is raw; a missing file is an I/O error. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pwrite(fd, data, MiB, 0);
	close(fd);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "raw") == 0);
	bw_disk_close(d);
	unlink(path);
	open_expect(BW_EIO, "cannot open");

	test_differencing();

	rmdir(dir);
	free(buf);
	free(data);
	return check_done("test_vhd");
}

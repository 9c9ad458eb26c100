/*
 * VMDK reader: monolithicSparse and streamOptimized images made here byte
 * by byte from VMware's "Virtual Disk Format 5.0" (streamOptimized both
 * with the GD at the front, as qemu-img writes it, and with GD_AT_END and
 * a footer, as VMware and VirtualBox write it), read back and compared;
 * the allocation map; the accepted quirks (a compressed grain larger than
 * the grain, the short or zero-padded last grain, zero-grain GTEs, GT
 * entries past the capacity); and each corruption refused with
 * BW_EFORMAT or BW_EUNSUPPORTED, naming the file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"
#include "disk/vmdk_format.h"

#define MiB (1024u * 1024u)
#define SEC 512u
#define GRAIN_SECTORS 128u
#define GRAIN (GRAIN_SECTORS * SEC)
#define DESC_SECTORS 20u

static char dir[] = "/tmp/bw-test-vmdk.XXXXXX";
static char path[256];

enum kind { MONO, STREAM, STREAM_FOOTER };

enum corrupt {
	OK,
	/* header */
	BAD_VERSION, BAD_FLAGS, BAD_NEWLINE, CAP_HUGE, CAP_OVERFLOW, GRAIN_NOT_POW2,
	GRAIN_HUGE, GTES_BAD, ALGO_2, ALGO_WITHOUT_FLAG, OVERHEAD_PAST_EOF,
	AT_END_NO_MARKERS, MONO_AT_END,
	/* descriptor */
	DESC_TOO_BIG, DESC_OUTSIDE, DESC_NONE, DESC_TWO_EXTENTS, DESC_SIZE_MISMATCH,
	DESC_FLAT, DESC_PARENT, DESC_TYPE_MISMATCH, DESC_NO_CREATE_TYPE,
	/* tables */
	GD_ZERO, GD_PAST_EOF, RGD_PAST_EOF, GT_PAST_EOF, GT_OVERLAP, GRAIN_PAST_EOF,
	MARKER_PAST_EOF, GTE_PAST_CAPACITY,
	/* footer */
	FOOTER_BAD_MARKER, FOOTER_BAD_MAGIC, FOOTER_NO_EOS, FOOTER_DISAGREE,
	FOOTER_GD_AT_END, FOOTER_UNALIGNED,
	/* grains, found when read */
	COMP_TOO_BIG, COMP_PAST_EOF, COMP_ZERO_SIZE, CORRUPT_DEFLATE, LBA_MISMATCH,
	SHORT_INFLATE, LONG_INFLATE, TRUNCATED_STREAM,
	/* accepted quirks */
	STORED_GRAIN, ZERO_GTE, LAST_GRAIN_PADDED,
};

/* The grain the grain-level corruptions hit: grain 1 is LBA 128. */
#define VICTIM 1u

/* ---- an image buffer -------------------------------------------------- */

static uint8_t *img;
static size_t img_len, img_cap;

static void put(uint64_t off, const void *p, size_t n)
{
	if (off + n > img_cap) {
		size_t c = img_cap ? img_cap : 1 << 20;
		while (c < off + n)
			c *= 2;
		img = realloc(img, c);
		memset(img + img_cap, 0, c - img_cap);
		img_cap = c;
	}
	memcpy(img + off, p, n);
	if (off + n > img_len)
		img_len = (size_t)(off + n);
}

static void put_le32(uint64_t off, uint32_t v)
{
	uint8_t b[4];
	bw_put_le32(b, v);
	put(off, b, 4);
}

static void save(void)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, img, img_len) != (ssize_t)img_len)
		perror(path);
	close(fd);
}

struct hdr {
	uint32_t version, flags, gtes;
	uint64_t capacity, grain, desc_off, desc_size, rgd, gd, overhead;
	uint16_t compress;
};

static void header(uint8_t h[SEC], const struct hdr *x)
{
	memset(h, 0, SEC);
	bw_put_le32(h + VMDK_HDR_MAGIC, VMDK_MAGIC);
	bw_put_le32(h + VMDK_HDR_VERSION, x->version);
	bw_put_le32(h + VMDK_HDR_FLAGS, x->flags);
	bw_put_le64(h + VMDK_HDR_CAPACITY, x->capacity);
	bw_put_le64(h + VMDK_HDR_GRAIN_SIZE, x->grain);
	bw_put_le64(h + VMDK_HDR_DESC_OFFSET, x->desc_off);
	bw_put_le64(h + VMDK_HDR_DESC_SIZE, x->desc_size);
	bw_put_le32(h + VMDK_HDR_NUM_GTES_PER_GT, x->gtes);
	bw_put_le64(h + VMDK_HDR_RGD_OFFSET, x->rgd);
	bw_put_le64(h + VMDK_HDR_GD_OFFSET, x->gd);
	bw_put_le64(h + VMDK_HDR_OVERHEAD, x->overhead);
	memcpy(h + VMDK_HDR_NEWLINE_CHARS, "\n \r\n", 4);
	bw_put_le16(h + VMDK_HDR_COMPRESS_ALGORITHM, x->compress);
}

static void marker(uint64_t sector, uint64_t value, uint32_t type)
{
	uint8_t m[SEC] = {0};
	bw_put_le64(m + VMDK_MARKER_VALUE, value);
	bw_put_le32(m + VMDK_MARKER_TYPE, type);
	put(sector * SEC, m, SEC);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Compressed grain at SECTOR: marker + zlib stream; returns the sectors used. */
static uint64_t put_grain_compressed(uint64_t sector, uint64_t g, const uint8_t *src,
				     uint32_t src_len, enum corrupt c)
{
	int level = Z_DEFAULT_COMPRESSION;
	uint32_t len = src_len;
	uint8_t *tmp = NULL;
	if (g == VICTIM && c == SHORT_INFLATE)
		len -= SEC;
	if (g == VICTIM && c == LONG_INFLATE) {
		tmp = calloc(1, GRAIN + SEC);
		memcpy(tmp, src, src_len);
		src = tmp;
		len = GRAIN + SEC;
	}
	if (g == VICTIM && c == STORED_GRAIN)
		level = 0;
	uLongf clen = compressBound(len);
	uint8_t *buf = malloc(VMDK_GRAIN_MARKER_LEN + clen);
	if (compress2(buf + VMDK_GRAIN_MARKER_LEN, &clen, src, len, level) != Z_OK)
		abort();
	uint32_t size = (uint32_t)clen;
	uint64_t lba = g * GRAIN_SECTORS;
	if (g == VICTIM) {
		if (c == COMP_TOO_BIG)
			size = 2 * GRAIN;
		if (c == COMP_ZERO_SIZE)
			size = 0;
		if (c == CORRUPT_DEFLATE)
			for (uint32_t i = 10; i < 40 && i < clen; i++)
				buf[VMDK_GRAIN_MARKER_LEN + i] ^= 0x5A;
		if (c == LBA_MISMATCH)
			lba += GRAIN_SECTORS;
		if (c == TRUNCATED_STREAM)
			size -= 20;
		if (c == STORED_GRAIN && size <= GRAIN) {
			fprintf(stderr, "stored grain is only %u bytes\n", size);
			abort();
		}
	}
	bw_put_le64(buf + VMDK_MARKER_VALUE, lba);
	bw_put_le32(buf + VMDK_MARKER_SIZE, size);
	put(sector * SEC, buf, VMDK_GRAIN_MARKER_LEN + clen);
	uint64_t used = (VMDK_GRAIN_MARKER_LEN + clen + SEC - 1) / SEC;
	free(buf);
	free(tmp);
	return used;
}

/*
 * Build an image of CAP sectors from DATA: grains that are all zero stay
 * unallocated (GTE 0), except that ZERO_GTE marks grain 2 with GTE 1.
 * Layout (sectors): header, descriptor 1..20, then
 *   MONO / STREAM: GD at 21, one 4-sector GT per GD entry with data,
 *                  grains after (qemu-img's order);
 *   STREAM_FOOTER: grains at 21, GT markers + GTs, GD marker + GD,
 *                  footer marker, footer header, end-of-stream marker.
 */
static void build(enum kind k, const uint8_t *data, uint64_t cap, enum corrupt c)
{
	free(img);
	img = NULL;
	img_len = img_cap = 0;
	const uint32_t gtes = 512;
	uint64_t ngrains = (cap + GRAIN_SECTORS - 1) / GRAIN_SECTORS;
	uint32_t ngts = (uint32_t)((ngrains + gtes - 1) / gtes);
	uint64_t gd_sectors = (ngts * 4 + SEC - 1) / SEC;
	uint32_t *gd = calloc(ngts, 4);
	uint32_t *gt = calloc((size_t)ngts * gtes, 4);
	int compressed = k != MONO;

	/* Which GTs hold data. */
	int *gt_used = calloc(ngts, sizeof *gt_used);
	for (uint64_t g = 0; g < ngrains; g++) {
		uint64_t off = g * GRAIN, len = cap * SEC - off;
		if (len > GRAIN)
			len = GRAIN;
		if (!all_zero(data + off, (size_t)len) || (c == ZERO_GTE && g == 2))
			gt_used[g / gtes] = 1;
	}
	if (c == GTE_PAST_CAPACITY)
		gt_used[ngts - 1] = 1;

	uint64_t next = 1 + DESC_SECTORS;
	uint64_t gd_at = 0;
	if (k != STREAM_FOOTER) {
		gd_at = next;
		next += gd_sectors;
		for (uint32_t i = 0; i < ngts; i++)
			if (gt_used[i]) {
				gd[i] = (uint32_t)next;
				next += 4;
			}
		if (k == MONO)     /* grains start grain-aligned, as qemu-img does */
			next = (next + GRAIN_SECTORS - 1) / GRAIN_SECTORS * GRAIN_SECTORS;
	}
	uint64_t overhead = next;

	/* Grains. */
	for (uint64_t g = 0; g < ngrains; g++) {
		uint64_t off = g * GRAIN, len = cap * SEC - off;
		if (len > GRAIN)
			len = GRAIN;
		if (c == ZERO_GTE && g == 2) {
			gt[g] = VMDK_GTE_ZERO;
			continue;
		}
		if (all_zero(data + off, (size_t)len))
			continue;
		gt[g] = (uint32_t)next;
		if (!compressed) {
			uint8_t full[GRAIN] = {0};
			memcpy(full, data + off, (size_t)len);
			put(next * SEC, full, GRAIN);
			next += GRAIN_SECTORS;
		} else {
			uint8_t full[GRAIN] = {0};
			memcpy(full, data + off, (size_t)len);
			/* qemu compresses only the bytes inside the disk;
			 * LAST_GRAIN_PADDED compresses a whole grain the way
			 * VirtualBox does. */
			uint32_t n = c == LAST_GRAIN_PADDED ? GRAIN : (uint32_t)len;
			next += put_grain_compressed(next, g, full, n, c);
		}
	}
	if (c == GTE_PAST_CAPACITY)   /* garbage in the last GT past the capacity */
		for (uint64_t e = ngrains; e < (uint64_t)ngts * gtes; e++)
			gt[e] = 0xDEADBEEF;

	if (k == STREAM_FOOTER) {
		for (uint32_t i = 0; i < ngts; i++) {
			if (!gt_used[i])
				continue;
			marker(next++, 4, VMDK_MARKER_GT);
			gd[i] = (uint32_t)next;
			next += 4;
		}
		marker(next++, gd_sectors, VMDK_MARKER_GD);
		gd_at = next;
		next += gd_sectors;
	}

	/* Corrupt the tables. */
	if (c == GRAIN_PAST_EOF || c == MARKER_PAST_EOF)
		gt[VICTIM] = (uint32_t)(next + 1000);
	if (c == GT_PAST_EOF)
		gd[0] = 0x7FFFFFF0;
	if (c == GT_OVERLAP)
		gd[ngts - 1] = gd[0] + 2;

	/* Tables into the image. */
	for (uint32_t i = 0; i < ngts; i++) {
		if (!gd[i] || c == GT_PAST_EOF)
			continue;
		for (uint32_t j = 0; j < gtes; j++)
			put_le32((uint64_t)gd[i] * SEC + 4 * j, gt[(uint64_t)i * gtes + j]);
	}
	if (c == GT_PAST_EOF)     /* the other tables are still written */
		for (uint32_t i = 1; i < ngts; i++)
			for (uint32_t j = 0; gd[i] && j < gtes; j++)
				put_le32((uint64_t)gd[i] * SEC + 4 * j, gt[(uint64_t)i * gtes + j]);
	for (uint32_t i = 0; i < ngts; i++)
		put_le32(gd_at * SEC + 4 * i, gd[i]);
	if (gd_sectors * SEC > ngts * 4)   /* pad the GD to its sectors */
		put(gd_at * SEC + gd_sectors * SEC - 1, "", 1);

	/* Descriptor. */
	char desc[DESC_SECTORS * SEC];
	memset(desc, 0, sizeof desc);
	const char *type = k == MONO ? "monolithicSparse" : "streamOptimized";
	if (c == DESC_TYPE_MISMATCH)
		type = k == MONO ? "streamOptimized" : "monolithicSparse";
	if (c == DESC_FLAT)
		type = "monolithicFlat";
	uint64_t ext = c == DESC_SIZE_MISMATCH ? cap + 1 : cap;
	int n = snprintf(desc, sizeof desc,
			 "# Disk DescriptorFile\r\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
			 "%s%s%s%s\n\n# Extent description\n"
			 "RW %llu %s \"t.vmdk\"\n%s\n# The Disk Data Base\n#DDB\n\n"
			 "ddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n%s",
			 c == DESC_NO_CREATE_TYPE ? "" : "createType = \"",
			 c == DESC_NO_CREATE_TYPE ? "" : type,
			 c == DESC_NO_CREATE_TYPE ? "" : "\"",
			 c == DESC_PARENT ? "\nparentFileNameHint=\"base.vmdk\"" : "",
			 (unsigned long long)ext, c == DESC_FLAT ? "FLAT" : "SPARSE",
			 c == DESC_TWO_EXTENTS ? "RW 100 SPARSE \"t-s002.vmdk\"\n" : "",
			 "ddb.geometry.cylinders = \"16\"\n");
	if (n <= 0 || (size_t)n >= sizeof desc)
		abort();
	put(SEC, desc, sizeof desc);

	/* Header (and footer). */
	struct hdr x = {
		.version = compressed ? 3 : 1,
		.flags = VMDK_FLAG_VALID_NEWLINE |
			 (compressed ? VMDK_FLAG_COMPRESSED | VMDK_FLAG_MARKERS : 0) |
			 (c == ZERO_GTE ? VMDK_FLAG_ZERO_GRAIN_GTE : 0),
		.capacity = cap, .grain = GRAIN_SECTORS,
		.desc_off = 1, .desc_size = DESC_SECTORS, .gtes = gtes,
		.gd = gd_at, .overhead = overhead,
		.compress = compressed ? VMDK_COMPRESS_DEFLATE : VMDK_COMPRESS_NONE,
	};
	if (k == MONO) {      /* a redundant GD flag, pointing at the same GD */
		x.flags |= VMDK_FLAG_REDUNDANT_GT;
		x.rgd = gd_at;
	}
	switch (c) {
	case BAD_VERSION:        x.version = 4; break;
	case BAD_FLAGS:          x.flags |= 1u << 5; break;
	case CAP_HUGE:           x.capacity = UINT64_C(1) << 40; break;
	case CAP_OVERFLOW:       x.capacity = UINT64_C(1) << 56; break;
	case GRAIN_NOT_POW2:     x.grain = 100; break;
	case GRAIN_HUGE:         x.grain = 8192; break;
	case GTES_BAD:           x.gtes = 1000; break;
	case ALGO_2:             x.compress = 2; break;
	case ALGO_WITHOUT_FLAG:  x.compress = VMDK_COMPRESS_DEFLATE;
				 x.flags &= ~VMDK_FLAG_COMPRESSED; break;
	case OVERHEAD_PAST_EOF:  x.overhead = UINT64_C(1) << 40; break;
	case DESC_TOO_BIG:       x.desc_size = 4096; break;
	case DESC_OUTSIDE:       x.desc_off = UINT64_C(1) << 50; break;
	case DESC_NONE:          x.desc_off = 0; x.desc_size = 0; break;
	case GD_ZERO:            x.gd = 0; break;
	case MONO_AT_END:        x.gd = VMDK_GD_AT_END; break;
	case GD_PAST_EOF:        x.gd = next + 100; break;
	case RGD_PAST_EOF:       x.rgd = UINT64_C(1) << 40; break;
	default: break;
	}
	uint8_t h[SEC];
	if (k == STREAM_FOOTER) {
		struct hdr f = x;
		if (c == FOOTER_DISAGREE)
			f.capacity += GRAIN_SECTORS;
		if (c == FOOTER_GD_AT_END)
			f.gd = VMDK_GD_AT_END;
		x.gd = VMDK_GD_AT_END;
		if (c == AT_END_NO_MARKERS)
			x.flags &= ~VMDK_FLAG_MARKERS;
		marker(next++, 0, c == FOOTER_BAD_MARKER ? VMDK_MARKER_GD : VMDK_MARKER_FOOTER);
		header(h, &f);
		if (c == FOOTER_BAD_MAGIC)
			h[0] = 'X';
		put(next++ * SEC, h, SEC);
		if (c != FOOTER_NO_EOS)
			marker(next++, 0, VMDK_MARKER_EOS);
	}
	header(h, &x);
	if (c == BAD_NEWLINE)
		h[VMDK_HDR_NEWLINE_CHARS + 2] = '\n';    /* \r\n became \n\n */
	put(0, h, SEC);
	if (c == COMP_PAST_EOF) {
		/* The last grain in the file claims more bytes than remain. */
		uint64_t last = ngrains - 1;
		put_le32((uint64_t)gt[last] * SEC + VMDK_MARKER_SIZE, 120000);
	}
	if (k == STREAM && next * SEC > img_len)   /* end on a sector */
		put(next * SEC - 1, "", 1);
	if (c == FOOTER_UNALIGNED)
		put(img_len, "x", 1);
	save();
	free(gd);
	free(gt);
	free(gt_used);
}

/* ---- checks ----------------------------------------------------------- */

static void msg_has(int r, const struct bw_error *e, const char *needle)
{
	if (r && getenv("TEST_VERBOSE"))
		fprintf(stderr, "  (%d) %s\n", r, e->msg);
	if (r && needle && !strstr(e->msg, needle)) {
		fprintf(stderr, "message lacks \"%s\": %s\n", needle, e->msg);
		CHECK(0);
	}
	/* Every error names the file. */
	CHECK(r == 0 || strncmp(e->msg, path, strlen(path)) == 0);
}

static void open_expect(int code, const char *needle)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	int r = bw_disk_open(path, &d, &e);
	CHECK(r == code);
	if (r != code)
		fprintf(stderr, "  expected %d, got %d: %s\n", code, r, r ? e.msg : "opened");
	CHECK(d == NULL || r == 0);
	msg_has(r, &e, needle);
	bw_disk_close(d);
}

/* Open, then read every allocated range: the first error. */
static int read_all(struct bw_error *e)
{
	struct bw_disk *d;
	int r = bw_disk_open(path, &d, e);
	if (r)
		return r;
	uint8_t *buf = malloc(4 * MiB);
	uint64_t off = 0, s, en;
	while ((r = bw_disk_next_data(d, off, &s, &en, e)) == 1) {
		for (uint64_t p = s; p < en; p += 4 * MiB) {
			size_t n = en - p < 4 * MiB ? (size_t)(en - p) : 4 * MiB;
			if ((r = bw_disk_pread(d, buf, n, p, e)) != 0)
				goto out;
		}
		off = en;
	}
out:
	free(buf);
	bw_disk_close(d);
	return r < 0 ? r : 0;
}

static void read_expect(int code, const char *needle)
{
	struct bw_error e;
	int r = read_all(&e);
	CHECK(r == code);
	if (r != code)
		fprintf(stderr, "  expected %d, got %d: %s\n", code, r, r ? e.msg : "read fine");
	msg_has(r, &e, needle);
}

/* The whole disk read back equals DATA; reads at odd offsets too. */
static void check_same(const uint8_t *data, uint64_t size, const char *format)
{
	struct bw_disk *d;
	struct bw_error e;
	int r = bw_disk_open(path, &d, &e);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "  open: %s\n", e.msg);
		return;
	}
	CHECK(strcmp(bw_disk_format(d), format) == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	/* Across grain edges, backwards (the cache must follow). */
	uint64_t offs[] = { 3 * GRAIN - 100, GRAIN + 7, 1, size - 700 };
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		uint64_t o = offs[i];
		size_t n = o + 2 * GRAIN <= size ? 2 * GRAIN : (size_t)(size - o);
		CHECK(bw_disk_pread(d, buf, n, o, &e) == 0);
		CHECK(memcmp(buf, data + o, n) == 0);
	}
	CHECK(bw_disk_pread(d, buf, 2, size - 1, &e) == BW_EINVAL);
	free(buf);
	bw_disk_close(d);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof path, "%s/t.vmdk", dir);

	/* 80 MiB: three grain tables (32 MiB each), the middle one empty. */
	const uint64_t cap = 80 * MiB / SEC;
	const uint64_t size = cap * SEC;
	uint8_t *data = calloc(1, size);
	uint64_t seed = 0x1234567;
	for (uint64_t i = 0; i < GRAIN; i++)                 /* grain 0: random */
		data[i] = (uint8_t)xorshift(&seed);
	for (uint64_t i = GRAIN; i < 2 * GRAIN; i++)         /* grain 1: text-like */
		data[i] = (uint8_t)("boxwright "[i % 10]);
	/* grain 2 zero; grains 3-4 */
	for (uint64_t i = 3 * GRAIN; i < 5 * GRAIN; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 11));
	memcpy(data + 70 * MiB + 12345, "hello grain table 2", 19);
	data[size - 1] = 0xAB;                               /* last grain */

	static const struct { enum kind k; const char *format; } kinds[] = {
		{ MONO, "vmdk-monolithicSparse" },
		{ STREAM, "vmdk-streamOptimized" },
		{ STREAM_FOOTER, "vmdk-streamOptimized" },
	};
	for (size_t i = 0; i < 3; i++) {
		build(kinds[i].k, data, cap, OK);
		check_same(data, size, kinds[i].format);
		/* Allocation map: grains 0-1, 3-4, the one at 70 MiB, the last. */
		struct bw_disk *d;
		struct bw_error e;
		CHECK(bw_disk_open(path, &d, &e) == 0);
		uint64_t s, en;
		CHECK(bw_disk_next_data(d, 0, &s, &en, &e) == 1);
		CHECK_EQ_U64(s, 0); CHECK_EQ_U64(en, 2 * GRAIN);
		CHECK(bw_disk_next_data(d, en, &s, &en, &e) == 1);
		CHECK_EQ_U64(s, 3 * GRAIN); CHECK_EQ_U64(en, 5 * GRAIN);
		CHECK(bw_disk_next_data(d, 4 * GRAIN + 9, &s, &en, &e) == 1);
		CHECK_EQ_U64(s, 4 * GRAIN + 9); CHECK_EQ_U64(en, 5 * GRAIN);
		CHECK(bw_disk_next_data(d, en, &s, &en, &e) == 1);
		CHECK_EQ_U64(s, 70 * MiB); CHECK_EQ_U64(en, 70 * MiB + GRAIN);
		CHECK(bw_disk_next_data(d, en, &s, &en, &e) == 1);
		CHECK_EQ_U64(s, size - GRAIN); CHECK_EQ_U64(en, size);
		CHECK(bw_disk_next_data(d, en, &s, &en, &e) == 0);
		struct bw_disk_info info;
		CHECK(bw_disk_get_info(d, &info, &e) == 0);
		CHECK_EQ_U64(info.allocated, 6 * GRAIN);
		CHECK_EQ_U64(info.block_size, GRAIN);
		bw_disk_close(d);
	}

	/* A disk that is not a grain multiple (2051 sectors, as in qemu's
	 * own test): the last grain inflates to the remainder (qemu) or to
	 * a zero-padded whole grain (VirtualBox); both are read. */
	const uint64_t ocap = 2051, osize = ocap * SEC;
	uint8_t *odd = malloc(osize);
	for (uint64_t i = 0; i < osize; i++)
		odd[i] = (uint8_t)xorshift(&seed);
	build(STREAM, odd, ocap, OK);
	check_same(odd, osize, "vmdk-streamOptimized");
	build(STREAM_FOOTER, odd, ocap, LAST_GRAIN_PADDED);
	check_same(odd, osize, "vmdk-streamOptimized");
	build(MONO, odd, ocap, OK);
	check_same(odd, osize, "vmdk-monolithicSparse");
	/* Random data deflates to 65562 bytes per grain, as qemu writes it:
	 * larger than the grain, accepted.  Check that the image has them. */
	build(STREAM, odd, ocap, OK);
	{
		uint32_t gte0 = bw_get_le32(img + (21 + 1) * SEC);
		CHECK_EQ_U64(bw_get_le32(img + (uint64_t)gte0 * SEC + VMDK_MARKER_SIZE), 65562);
	}
	/* A stored (level 0) grain, larger than the grain, is accepted. */
	build(STREAM, data, cap, STORED_GRAIN);
	check_same(data, size, "vmdk-streamOptimized");
	build(STREAM_FOOTER, data, cap, STORED_GRAIN);
	check_same(data, size, "vmdk-streamOptimized");
	/* The last grain inflating to neither the remainder nor a grain. */
	build(STREAM, odd, ocap, SHORT_INFLATE);
	read_expect(BW_EFORMAT, "inflates to 65024 bytes (expected 65536)");

	/* Zero-grain GTEs (flag set): zeros, and not in the allocation map. */
	build(STREAM, data, cap, ZERO_GTE);
	check_same(data, size, "vmdk-streamOptimized");
	{
		struct bw_disk *d;
		struct bw_error e;
		uint64_t s, en;
		CHECK(bw_disk_open(path, &d, &e) == 0);
		CHECK(bw_disk_next_data(d, 2 * GRAIN, &s, &en, &e) == 1);
		CHECK_EQ_U64(s, 3 * GRAIN);
		bw_disk_close(d);
	}
	build(MONO, data, cap, ZERO_GTE);
	check_same(data, size, "vmdk-monolithicSparse");
	/* GT entries past the capacity are ignored (qemu-img leaves them). */
	build(MONO, data, cap, GTE_PAST_CAPACITY);
	check_same(data, size, "vmdk-monolithicSparse");

	/* Header. */
	build(MONO, data, cap, BAD_VERSION);
	open_expect(BW_EUNSUPPORTED, "version 4");
	build(STREAM, data, cap, BAD_FLAGS);
	open_expect(BW_EUNSUPPORTED, "unknown flags 0x00000020");
	build(MONO, data, cap, BAD_NEWLINE);
	open_expect(BW_EFORMAT, "CR/LF");
	build(MONO, data, cap, CAP_HUGE);
	open_expect(BW_EUNSUPPORTED, "capacity 1099511627776 sectors");
	build(MONO, data, cap, CAP_OVERFLOW);
	open_expect(BW_EUNSUPPORTED, "capacity");
	build(MONO, data, cap, GRAIN_NOT_POW2);
	open_expect(BW_EFORMAT, "grain size 100 sectors");
	build(MONO, data, cap, GRAIN_HUGE);
	open_expect(BW_EUNSUPPORTED, "grain size 8192 sectors");
	build(MONO, data, cap, GTES_BAD);
	open_expect(BW_EUNSUPPORTED, "1000 grain table entries");
	build(STREAM, data, cap, ALGO_2);
	open_expect(BW_EUNSUPPORTED, "compression algorithm 2");
	build(STREAM, data, cap, ALGO_WITHOUT_FLAG);
	open_expect(BW_EFORMAT, "compressed-grains flag is clear");
	build(MONO, data, cap, OVERHEAD_PAST_EOF);
	open_expect(BW_EFORMAT, "overhead");
	build(STREAM_FOOTER, data, cap, AT_END_NO_MARKERS);
	open_expect(BW_EUNSUPPORTED, "without markers");
	build(MONO, data, cap, MONO_AT_END);
	open_expect(BW_EFORMAT, "GD_AT_END without the markers flag");

	/* Descriptor. */
	build(MONO, data, cap, DESC_TOO_BIG);
	open_expect(BW_EFORMAT, "descriptor of 4096 sectors");
	build(MONO, data, cap, DESC_OUTSIDE);
	open_expect(BW_EFORMAT, "descriptor at sector 1125899906842624");
	build(MONO, data, cap, DESC_NONE);
	open_expect(BW_EUNSUPPORTED, "without an embedded descriptor");
	build(MONO, data, cap, DESC_TWO_EXTENTS);
	open_expect(BW_EUNSUPPORTED, "2 extent lines");
	build(STREAM, data, cap, DESC_SIZE_MISMATCH);
	open_expect(BW_EFORMAT, "extent of 163841 sectors but the header's capacity is 163840");
	build(MONO, data, cap, DESC_FLAT);
	open_expect(BW_EUNSUPPORTED, "createType \"monolithicFlat\"");
	build(MONO, data, cap, DESC_PARENT);
	open_expect(BW_EUNSUPPORTED, "delta disks");
	build(MONO, data, cap, DESC_TYPE_MISMATCH);
	open_expect(BW_EFORMAT, "grains are not compressed");
	build(STREAM, data, cap, DESC_TYPE_MISMATCH);
	open_expect(BW_EFORMAT, "grains are compressed");
	build(MONO, data, cap, DESC_NO_CREATE_TYPE);
	open_expect(BW_EFORMAT, "no createType");

	/* Tables. */
	build(MONO, data, cap, GD_ZERO);
	open_expect(BW_EFORMAT, "grain directory offset 0");
	build(MONO, data, cap, GD_PAST_EOF);
	open_expect(BW_EFORMAT, "grain directory at sector");
	build(STREAM, data, cap, GD_PAST_EOF);
	open_expect(BW_EFORMAT, "grain directory at sector");
	build(STREAM_FOOTER, data, cap, GD_PAST_EOF);
	open_expect(BW_EFORMAT, "grain directory at sector");
	build(MONO, data, cap, RGD_PAST_EOF);
	open_expect(BW_EFORMAT, "redundant grain directory");
	build(MONO, data, cap, GT_PAST_EOF);
	open_expect(BW_EFORMAT, "grain table 0 at offset 1099511619584");
	build(STREAM_FOOTER, data, cap, GT_PAST_EOF);
	open_expect(BW_EFORMAT, "grain table 0 at offset");
	build(MONO, data, cap, GT_OVERLAP);
	open_expect(BW_EFORMAT, "grain tables 0 and 2 overlap");
	build(MONO, data, cap, GRAIN_PAST_EOF);
	open_expect(BW_EFORMAT, "grain for LBA 128 at offset");
	build(STREAM, data, cap, MARKER_PAST_EOF);
	open_expect(BW_EFORMAT, "grain marker for LBA 128 at offset");
	build(STREAM_FOOTER, data, cap, MARKER_PAST_EOF);
	open_expect(BW_EFORMAT, "lies past the end of the file");

	/* Footer. */
	build(STREAM_FOOTER, data, cap, FOOTER_BAD_MARKER);
	open_expect(BW_EFORMAT, "footer marker at offset");
	build(STREAM_FOOTER, data, cap, FOOTER_BAD_MAGIC);
	open_expect(BW_EFORMAT, "VMDK footer at offset");
	build(STREAM_FOOTER, data, cap, FOOTER_NO_EOS);
	open_expect(BW_EFORMAT, "marker");
	build(STREAM_FOOTER, data, cap, FOOTER_DISAGREE);
	open_expect(BW_EFORMAT, "disagrees with the header");
	build(STREAM_FOOTER, data, cap, FOOTER_GD_AT_END);
	open_expect(BW_EFORMAT, "GD_AT_END too");
	build(STREAM_FOOTER, data, cap, FOOTER_UNALIGNED);
	open_expect(BW_EFORMAT, "not a whole number of sectors");

	/* Grains: open passes, the read of LBA 128 fails. */
	for (int k = STREAM; k <= STREAM_FOOTER; k++) {
		build((enum kind)k, data, cap, COMP_TOO_BIG);
		open_expect(0, NULL);
		read_expect(BW_EFORMAT, "is 131072 bytes (expected < 131072)");
		build((enum kind)k, data, cap, COMP_ZERO_SIZE);
		read_expect(BW_EFORMAT, "metadata marker");
		build((enum kind)k, data, cap, CORRUPT_DEFLATE);
		read_expect(BW_EFORMAT, "compressed grain for LBA 128 at offset");
		build((enum kind)k, data, cap, LBA_MISMATCH);
		read_expect(BW_EFORMAT, "names LBA 256 (expected 128");
		build((enum kind)k, data, cap, SHORT_INFLATE);
		read_expect(BW_EFORMAT, "inflates to 65024 bytes (expected 65536)");
		build((enum kind)k, data, cap, LONG_INFLATE);
		read_expect(BW_EFORMAT, "more than the grain size 65536");
		build((enum kind)k, data, cap, TRUNCATED_STREAM);
		read_expect(BW_EFORMAT, "for LBA 128");
		build((enum kind)k, data, cap, COMP_PAST_EOF);
		read_expect(BW_EFORMAT, "120000 bytes, lies past the end of the file");
	}

	/* Other VMDK kinds: COWD and descriptor files are refused, not
	 * read as raw. */
	{
		uint8_t cowd[2048] = {0};
		bw_put_le32(cowd, VMDK_COWD_MAGIC);
		free(img);
		img = NULL;
		img_len = img_cap = 0;
		put(0, cowd, sizeof cowd);
		save();
		open_expect(BW_EUNSUPPORTED, "COWD");
		char text[1024];
		memset(text, ' ', sizeof text);
		const char *t = "# Disk DescriptorFile\nversion=1\ncreateType=\"twoGbMaxExtentSparse\"\n"
				"RW 4192256 SPARSE \"t-s001.vmdk\"\n";
		memcpy(text, t, strlen(t));
		text[sizeof text - 1] = '\n';
		free(img);
		img = NULL;
		img_len = img_cap = 0;
		put(0, text, sizeof text);
		save();
		open_expect(BW_EUNSUPPORTED, "descriptor file");
		/* qemu's probe: comments and blank lines, then version=. */
		const char *t2 = "# made by hand\n\n  \r\nversion=1\nRW 8 FLAT \"x\" 0\n";
		memset(text, '\n', sizeof text);
		memcpy(text, t2, strlen(t2));
		free(img);
		img = NULL;
		img_len = img_cap = 0;
		put(0, text, sizeof text);
		save();
		open_expect(BW_EUNSUPPORTED, "descriptor file");
	}
	/* A leading header with a bad magic is not a VMDK at all: raw. */
	build(MONO, data, cap, OK);
	img[0] = 'X';
	save();
	{
		struct bw_disk *d;
		struct bw_error e;
		CHECK(bw_disk_open(path, &d, &e) == 0);
		CHECK(strcmp(bw_disk_format(d), "raw") == 0);
		bw_disk_close(d);
	}
	/* Truncated right after the header. */
	build(MONO, data, cap, OK);
	img_len = SEC + 100;
	save();
	open_expect(BW_EFORMAT, NULL);

	unlink(path);
	rmdir(dir);
	free(img);
	free(odd);
	free(data);
	return check_done("test_vmdk");
}

/*
 * VMDK streamOptimized writer: small disks written through bw_writer with
 * 1 and 4 threads, then parsed here independently of the writer, sector
 * by sector, against FORMATS.md and VirtualBox's sequential reader: the
 * header fields, the descriptor text, every marker in order, LBAs strictly
 * increasing, every grain inflating (zlib) to exactly the source bytes, no
 * grain's data above VirtualBox's limit, the GT after each span with data
 * and none for empty spans (GD entry 0), the GD, the footer (the leading
 * header but for gdOffset) and the EOS as the last sector.  The output
 * does not depend on the thread count.  Also: the stored-block fallback of
 * deflate.c, the ordered pipeline of workers.c (order, a failing sink) and
 * the writer's refusals.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"
#include "disk/deflate.h"
#include "disk/vmdk_format.h"
#include "disk/workers.h"
#include "testfile.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define GRAIN (64u * KiB)
#define GRAIN_SECT 128u
#define SPAN_GRAINS 512u
#define DESC_SECT 20u
#define OVERHEAD_SECT 128u
#define STORED_GRAIN 65552u     /* 2 + 2 * 5 + 65536 + 4 */

static char dir[] = "/tmp/bw-test-vmdkw.XXXXXX";

/* xorshift64* (tf_rand): deterministic test data and chunk sizes. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static void fill_text(uint8_t *p, size_t n, unsigned seed)
{
	static const char words[] = "grain table directory marker footer deflate ";
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[(i + seed * 7) % (sizeof words - 1)] ^ (uint8_t)((i >> 12) & seed);
}

/*
 * Write SRC (SIZE bytes) to PATH as a streamOptimized VMDK: chunks of
 * assorted sizes that cross grain edges; about half of the all-zero
 * chunks are skipped instead of written (bytes never written are zero).
 */
static int write_vmdk(const char *path, const uint8_t *src, uint64_t size, int threads,
		      int level, const char *adapter)
{
	static const size_t chunks[] = { 1, 511, 512, 4096, 65535, 65536, 100000, MiB + 3 };
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_STREAM, .size = size,
				    .compress_level = level, .threads = threads,
				    .adapter_type = adapter };
	struct bw_writer *w;
	struct bw_error e;
	unlink(path);
	int r = bw_writer_open(path, &o, &w, &e);
	if (r) {
		fprintf(stderr, "open: %s\n", e.msg);
		return r;
	}
	CHECK_EQ_U64(bw_writer_bytes_out(w), OVERHEAD_SECT * 512);
	r = tf_write_chunks(w, size, tf_source_mem, src, chunks,
			    sizeof chunks / sizeof chunks[0], &rng_state, NULL);
	if (r)
		return r;
	CHECK(bw_writer_bytes_out(w) % 512 == 0);
	r = bw_writer_finish(w, &e);
	if (r)
		fprintf(stderr, "finish: %s\n", e.msg);
	return r;
}

/* What one parse found, for the callers' extra checks. */
struct parsed {
	unsigned grains;
	unsigned stored_grains;     /* grain streams in stored form (0x78 0x01) */
	unsigned gts;
	uint32_t gd_entries;
	char desc[DESC_SECT * 512 + 1];
};

static const char *desc_value(const char *desc, const char *key, char *out, size_t out_len)
{
	const char *p = strstr(desc, key);
	if (!p)
		return NULL;
	p += strlen(key);
	size_t n = strcspn(p, "\n");
	if (n >= out_len)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* Parse F (LEN bytes) as our writer's output for SRC of SIZE bytes. */
static int parse_vmdk(const uint8_t *f, size_t len, const uint8_t *src, uint64_t size,
		      const char *basename, const char *adapter, unsigned heads,
		      struct parsed *out)
{
	int failed_before = check_failed;
	memset(out, 0, sizeof *out);
	const uint64_t cap = size / 512;
	const uint64_t ngrains = (size + GRAIN - 1) / GRAIN;
	const uint32_t ngd = (uint32_t)((cap + GRAIN_SECT * SPAN_GRAINS - 1) / (GRAIN_SECT * SPAN_GRAINS));
	CHECK(len % 512 == 0);
	CHECK(len >= (OVERHEAD_SECT + 4) * 512);
	if (len % 512 || len < (OVERHEAD_SECT + 4) * 512)
		return -1;
	const uint64_t nsect = len / 512;

	/* Header. */
	const uint8_t *h = f;
	CHECK_EQ_U64(bw_get_le32(h + 0), 0x564d444b);
	CHECK(memcmp(h, "KDMV", 4) == 0);
	CHECK_EQ_U64(bw_get_le32(h + 4), 3);
	CHECK_EQ_U64(bw_get_le32(h + 8), (1u << 0) | (1u << 16) | (1u << 17));
	CHECK_EQ_U64(bw_get_le64(h + 12), cap);
	CHECK_EQ_U64(bw_get_le64(h + 20), GRAIN_SECT);
	CHECK_EQ_U64(bw_get_le64(h + 28), 1);
	CHECK_EQ_U64(bw_get_le64(h + 36), DESC_SECT);
	CHECK_EQ_U64(bw_get_le32(h + 44), 512);
	CHECK_EQ_U64(bw_get_le64(h + 48), 0);
	CHECK_EQ_U64(bw_get_le64(h + 56), ~0ull);
	CHECK_EQ_U64(bw_get_le64(h + 64), OVERHEAD_SECT);
	CHECK_EQ_U64(h[72], 0);
	CHECK(h[73] == '\n' && h[74] == ' ' && h[75] == '\r' && h[76] == '\n');
	CHECK_EQ_U64(bw_get_le16(h + 77), 1);
	CHECK(tf_is_zero(h + 79, 512 - 79));

	/* Descriptor: text, then zeros up to overHead. */
	const char *d = (const char *)f + 512;
	size_t dlen = strnlen(d, DESC_SECT * 512);
	CHECK(dlen < DESC_SECT * 512);
	memcpy(out->desc, d, dlen);
	out->desc[dlen] = '\0';
	CHECK(tf_is_zero(f + 512 + dlen, (OVERHEAD_SECT - 1) * 512 - dlen));
	const char *desc = out->desc;
	char v[128], want[512];
	CHECK(strncmp(desc, "# Disk DescriptorFile\n", 22) == 0);
	CHECK(strstr(desc, "\nversion=1\n") != NULL);
	CHECK(desc_value(desc, "\nCID=", v, sizeof v) && strlen(v) == 8 &&
	      strspn(v, "0123456789abcdef") == 8);
	CHECK(strstr(desc, "\nparentCID=ffffffff\n") != NULL);
	CHECK(strstr(desc, "\ncreateType=\"streamOptimized\"\n") != NULL);
	snprintf(want, sizeof want, "\nRW %llu SPARSE \"%s\"\n", (unsigned long long)cap, basename);
	CHECK(strstr(desc, want) != NULL);
	snprintf(want, sizeof want, "\nddb.adapterType = \"%s\"\n", adapter);
	CHECK(strstr(desc, want) != NULL);
	uint64_t cyl = cap / (heads * 63u);
	if (heads == 16 && cyl > 16383)
		cyl = 16383;
	snprintf(want, sizeof want, "\nddb.geometry.cylinders = \"%llu\"\n", (unsigned long long)cyl);
	CHECK(strstr(desc, want) != NULL);
	snprintf(want, sizeof want, "\nddb.geometry.heads = \"%u\"\n", heads);
	CHECK(strstr(desc, want) != NULL);
	CHECK(strstr(desc, "\nddb.geometry.sectors = \"63\"\n") != NULL);
	CHECK(strstr(desc, "\nddb.virtualHWVersion = \"4\"\n") != NULL);
	/* uuid.image: 8-4-4-4-12 lowercase hex, version 4, RFC 4122 variant. */
	CHECK(desc_value(desc, "\nddb.uuid.image = \"", v, sizeof v) && strlen(v) == 37 &&
	      v[8] == '-' && v[13] == '-' && v[14] == '4' && v[18] == '-' && v[23] == '-' &&
	      strchr("89ab", v[19]) && v[36] == '"');

	/* The stream from overHead on. */
	uint32_t *gte = calloc(ngrains + SPAN_GRAINS, sizeof *gte);   /* grain -> sector */
	uint32_t *gd_want = calloc(ngd + 1, sizeof *gd_want);
	uint8_t *grain = malloc(GRAIN);
	uint64_t s = OVERHEAD_SECT;
	int64_t last_lba = -1;
	int64_t open_span = -1;         /* span whose grains await their GT */
	uint64_t gd_sector = 0;
	int state = 0;                  /* 0 grains/GTs, 1 after GD, 2 after footer, 3 after EOS */
	while (s < nsect && state < 3) {
		const uint8_t *m = f + s * 512;
		uint64_t val = bw_get_le64(m);
		uint32_t zsize = bw_get_le32(m + 8);
		if (zsize != 0) {               /* a grain */
			CHECK(state == 0);
			CHECK(val % GRAIN_SECT == 0);
			CHECK(val < cap);
			CHECK((int64_t)val > last_lba);
			CHECK(zsize <= VMDK_VBOX_MAX_GRAIN_DATA);
			CHECK(zsize <= STORED_GRAIN);
			if ((int64_t)val <= last_lba || val >= cap || val % GRAIN_SECT ||
			    zsize > STORED_GRAIN || s * 512 + 12 + zsize > len)
				break;
			uint64_t g = val / GRAIN_SECT;
			int64_t span = (int64_t)(g / SPAN_GRAINS);
			CHECK(open_span == -1 || open_span == span);   /* GT came first */
			open_span = span;
			last_lba = (int64_t)val;
			gte[g] = (uint32_t)s;
			size_t used = 12 + zsize, total = (used + 511) / 512 * 512;
			CHECK(tf_is_zero(m + used, total - used));
			if (m[12] == 0x78 && m[13] == 0x01)
				out->stored_grains++;
			uLongf glen = GRAIN;
			CHECK(uncompress(grain, &glen, m + 12, zsize) == Z_OK);
			CHECK_EQ_U64(glen, GRAIN);
			/* The source, zero-padded past the end of the disk. */
			uint64_t off = g * GRAIN;
			size_t have = size - off < GRAIN ? (size_t)(size - off) : GRAIN;
			CHECK(memcmp(grain, src + off, have) == 0);
			CHECK(tf_is_zero(grain + have, GRAIN - have));
			CHECK(!tf_is_zero(grain, GRAIN));       /* zero grains omitted */
			out->grains++;
			s += total / 512;
			continue;
		}
		uint32_t type = bw_get_le32(m + 12);
		CHECK(tf_is_zero(m + 16, 512 - 16));
		switch (type) {
		case 1:                         /* GT */
			CHECK(state == 0);
			CHECK_EQ_U64(val, 4);
			CHECK(open_span >= 0);
			if (open_span < 0 || s + 5 > nsect)
				goto stop;
			for (unsigned i = 0; i < SPAN_GRAINS; i++) {
				uint64_t g = (uint64_t)open_span * SPAN_GRAINS + i;
				uint32_t e = bw_get_le32(f + (s + 1) * 512 + 4 * i);
				CHECK_EQ_U64(e, g < ngrains ? gte[g] : 0);
			}
			gd_want[open_span] = (uint32_t)(s + 1);
			open_span = -1;
			out->gts++;
			s += 5;
			break;
		case 2: {                       /* GD */
			CHECK(state == 0);
			CHECK(open_span == -1);         /* every span's GT is out */
			uint64_t gd_sect = ((uint64_t)ngd * 4 + 511) / 512;
			CHECK_EQ_U64(val, gd_sect);
			if (val != gd_sect || s + 1 + gd_sect > nsect)
				goto stop;
			for (uint32_t i = 0; i < ngd; i++)
				CHECK_EQ_U64(bw_get_le32(f + (s + 1) * 512 + 4 * (size_t)i), gd_want[i]);
			CHECK(tf_is_zero(f + (s + 1) * 512 + 4 * (size_t)ngd, gd_sect * 512 - 4 * (size_t)ngd));
			out->gd_entries = ngd;
			gd_sector = s + 1;
			state = 1;
			s += 1 + gd_sect;
			break;
		}
		case 3:                         /* footer */
			CHECK(state == 1);
			CHECK_EQ_U64(val, 1);
			if (s + 2 > nsect)
				goto stop;
			CHECK(memcmp(f + (s + 1) * 512, h, 56) == 0);
			CHECK_EQ_U64(bw_get_le64(f + (s + 1) * 512 + 56), gd_sector);
			CHECK(memcmp(f + (s + 1) * 512 + 64, h + 64, 512 - 64) == 0);
			state = 2;
			s += 2;
			break;
		case 0:                         /* EOS */
			CHECK(state == 2);
			CHECK(tf_is_zero(m, 512));
			CHECK_EQ_U64(s + 1, nsect);     /* the last sector */
			state = 3;
			s += 1;
			break;
		default:
			CHECK(!"unknown marker type");
			goto stop;
		}
	}
stop:
	CHECK_EQ_U64(state, 3);
	/* Every grain with data is there. */
	unsigned want_grains = 0;
	for (uint64_t g = 0; g < ngrains; g++) {
		size_t have = size - g * GRAIN < GRAIN ? (size_t)(size - g * GRAIN) : GRAIN;
		if (!tf_is_zero(src + g * GRAIN, have))
			want_grains++;
	}
	CHECK_EQ_U64(out->grains, want_grains);
	free(gte);
	free(gd_want);
	free(grain);
	return check_failed == failed_before ? 0 : -1;
}

/* Files equal except the CID and uuid.image descriptor lines. */
static void check_same_but_identity(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	CHECK_EQ_U64(alen, blen);
	if (alen != blen)
		return;
	CHECK(memcmp(a, b, 512) == 0);
	CHECK(memcmp(a + DESC_SECT * 512 + 512, b + DESC_SECT * 512 + 512,
		     alen - (DESC_SECT + 1) * 512) == 0);
	char da[DESC_SECT * 512 + 1], db[DESC_SECT * 512 + 1];
	memcpy(da, a + 512, DESC_SECT * 512);
	memcpy(db, b + 512, DESC_SECT * 512);
	da[DESC_SECT * 512] = db[DESC_SECT * 512] = '\0';
	/* Mask the 8 CID digits (random; equal once in 2^32) and the 36 UUID
	 * characters (122 random bits: they must differ). */
	char *p, *q;
	CHECK((p = strstr(da, "\nCID=")) && (q = strstr(db, "\nCID=")));
	if (p && q) {
		memset(p + 5, 'x', 8);
		memset(q + 5, 'x', 8);
	}
	CHECK((p = strstr(da, "ddb.uuid.image = \"")) && (q = strstr(db, "ddb.uuid.image = \"")));
	if (p && q) {
		CHECK(memcmp(p + 18, q + 18, 36) != 0);
		memset(p + 18, 'x', 36);
		memset(q + 18, 'x', 36);
	}
	CHECK(memcmp(da, db, DESC_SECT * 512) == 0);
}

/* Write SRC with 1 and 4 threads (level 6), check both, compare them; then
 * levels 1 and 9 on 2 threads.  Returns the parse of the 1-thread file. */
static void run_case(const char *name, const uint8_t *src, uint64_t size, const char *adapter,
		     unsigned heads, struct parsed *p1)
{
	char path1[256], path4[256], base1[64];
	snprintf(base1, sizeof base1, "%s-t1.vmdk", name);
	snprintf(path1, sizeof path1, "%s/%s", dir, base1);
	snprintf(path4, sizeof path4, "%s/%s-t4.vmdk", dir, name);
	struct parsed p4;
	size_t l1 = 0, l4 = 0;
	uint8_t *f1 = NULL, *f4 = NULL;

	CHECK(write_vmdk(path1, src, size, 1, 0, adapter) == 0);
	CHECK((f1 = tf_slurp(path1, &l1)) != NULL);
	if (f1 && parse_vmdk(f1, l1, src, size, base1, adapter ? adapter : "ide", heads, p1))
		fprintf(stderr, "case %s, 1 thread: parse failed\n", name);

	CHECK(write_vmdk(path4, src, size, 4, 6, adapter) == 0);
	CHECK((f4 = tf_slurp(path4, &l4)) != NULL);
	/* Same file bytes but the name in the extent line: rename first. */
	if (f4) {
		char base4[64];
		snprintf(base4, sizeof base4, "%s-t4.vmdk", name);
		if (parse_vmdk(f4, l4, src, size, base4, adapter ? adapter : "ide", heads, &p4))
			fprintf(stderr, "case %s, 4 threads: parse failed\n", name);
		/* Put the 1-thread name back into the 4-thread descriptor. */
		char *at = memmem(f4 + 512, DESC_SECT * 512, base4, strlen(base4));
		CHECK(at != NULL && strlen(base4) == strlen(base1));
		if (at)
			memcpy(at, base1, strlen(base1));
	}
	if (f1 && f4)
		check_same_but_identity(f1, l1, f4, l4);
	free(f4);
	unlink(path4);

	/* Other levels: valid, and level 9 no larger than level 1. */
	size_t len_l[2] = { 0, 0 };
	const int levels[2] = { 1, 9 };
	for (int i = 0; i < 2; i++) {
		struct parsed pl;
		uint8_t *fl;
		CHECK(write_vmdk(path4, src, size, 2, levels[i], adapter) == 0);
		CHECK((fl = tf_slurp(path4, &len_l[i])) != NULL);
		char base4[64];
		snprintf(base4, sizeof base4, "%s-t4.vmdk", name);
		if (fl && parse_vmdk(fl, len_l[i], src, size, base4, adapter ? adapter : "ide", heads, &pl))
			fprintf(stderr, "case %s, level %d: parse failed\n", name, levels[i]);
		free(fl);
		unlink(path4);
	}
	CHECK(len_l[1] <= len_l[0]);
	free(f1);
	unlink(path1);
}

/* ---- deflate.c ------------------------------------------------------------ */

static void check_inflates(const uint8_t *z, size_t zlen, const uint8_t *src, size_t len)
{
	uint8_t *back = malloc(len + 1);
	uLongf blen = len + 1;
	CHECK(uncompress(back, &blen, z, zlen) == Z_OK);
	CHECK_EQ_U64(blen, len);
	CHECK(len == 0 || memcmp(back, src, len) == 0);
	free(back);
}

static void test_deflate(void)
{
	CHECK_EQ_U64(BW_DEFLATE_STORED_SIZE(65536), STORED_GRAIN);
	CHECK_EQ_U64(BW_DEFLATE_STORED_SIZE(0), 11);
	CHECK_EQ_U64(BW_DEFLATE_STORED_SIZE(65535), 65535 + 11);
	CHECK(STORED_GRAIN <= VMDK_VBOX_MAX_GRAIN_DATA);
	struct bw_deflate *c = bw_deflate_new(6);
	CHECK(c != NULL);
	if (!c)
		return;
	const size_t big = 200000;          /* four stored blocks */
	uint8_t *text = malloc(big), *noise = malloc(big);
	uint8_t *z = malloc(BW_DEFLATE_STORED_SIZE(big));
	fill_text(text, big, 3);
	tf_fill_random(noise, big, &rng_state);
	static const size_t lens[] = { 0, 1, 511, 65535, 65536, 65537, 131070, 200000 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t n = lens[i], lim = BW_DEFLATE_STORED_SIZE(n);
		/* Compressible: deflate wins and round-trips. */
		size_t zl = bw_deflate_zlib(c, text, n, z, lim);
		CHECK(zl <= lim);
		CHECK(n < 512 || zl < n / 4);
		check_inflates(z, zl, text, n);
		/* A limit deflate cannot meet: the stored form, exactly. */
		zl = bw_deflate_zlib(c, text, n, z, 4);
		CHECK_EQ_U64(zl, lim);
		CHECK(z[0] == 0x78 && z[1] == 0x01 && (z[0] * 256 + z[1]) % 31 == 0);
		check_inflates(z, zl, text, n);
		/* Incompressible: never above the stored size. */
		zl = bw_deflate_zlib(c, noise, n, z, lim);
		CHECK(zl <= lim);
		check_inflates(z, zl, noise, n);
		CHECK_EQ_U64(bw_deflate_zlib_stored(noise, n, z), lim);
		check_inflates(z, lim, noise, n);
	}
	/* Stored blocks: 65535 + 1 bytes, BFINAL only on the second. */
	CHECK_EQ_U64(bw_deflate_zlib_stored(noise, 65536, z), STORED_GRAIN);
	CHECK(z[2] == 0 && bw_get_le16(z + 3) == 65535 && bw_get_le16(z + 5) == 0);
	CHECK(z[7 + 65535] == 1 && bw_get_le16(z + 8 + 65535) == 1 &&
	      bw_get_le16(z + 10 + 65535) == 0xFFFE);
	CHECK(strcmp(bw_deflate_backend(), "zlib") == 0 ||
	      strcmp(bw_deflate_backend(), "libdeflate") == 0);
	printf("deflate backend: %s\n", bw_deflate_backend());
	bw_deflate_free(c);
	bw_deflate_free(NULL);
	free(text);
	free(noise);
	free(z);
}

/* ---- workers.c ------------------------------------------------------------ */

#define W_IN 4096u

struct sink_state {
	uint64_t next_lba;
	unsigned seen;
	unsigned fail_at;          /* 0 = never */
	int bad;
};

static void w_pattern(uint8_t *p, uint64_t lba)
{
	for (size_t i = 0; i < W_IN; i++)
		p[i] = (uint8_t)((lba * 131 + i / 7) ^ (i & lba));
}

static int w_sink(void *ctx, uint64_t lba, uint8_t *out, size_t zlen, struct bw_error *err)
{
	struct sink_state *st = ctx;
	if (st->fail_at && st->seen + 1 == st->fail_at)
		return bw_seterr(err, BW_EIO, "sink", "injected failure at grain %u", st->seen);
	if (lba != st->next_lba)
		st->bad++;
	uint8_t want[W_IN], got[W_IN];
	w_pattern(want, lba);
	uLongf glen = W_IN;
	memset(out, 0xEE, 12);          /* headroom is the sink's */
	if (uncompress(got, &glen, out + 12, zlen) != Z_OK || glen != W_IN ||
	    memcmp(got, want, W_IN) != 0)
		st->bad++;
	st->next_lba = lba + 8;
	st->seen++;
	return 0;
}

static void test_workers(unsigned threads, unsigned queue, unsigned fail_at)
{
	struct sink_state st = { .fail_at = fail_at };
	struct bw_workers_cfg cfg = {
		.threads = threads, .queue = queue, .level = 6, .in_bytes = W_IN,
		.headroom = 12, .out_bytes = 12 + BW_DEFLATE_STORED_SIZE(W_IN),
		.limit = BW_DEFLATE_STORED_SIZE(W_IN), .sink = w_sink, .sink_ctx = &st,
		.path = "pipe",
	};
	struct bw_workers *p;
	struct bw_error e;
	CHECK(bw_workers_new(&cfg, &p, &e) == 0);
	const unsigned n = 1500;
	int r = 0, same_buffer = 1;
	for (unsigned i = 0; i < n && r == 0; i++) {
		uint8_t *buf, *again;
		r = bw_workers_buffer(p, &buf, &e);
		if (r)
			break;
		/* The same buffer until it is submitted. */
		if (bw_workers_buffer(p, &again, &e) != 0 || again != buf)
			same_buffer = 0;
		w_pattern(buf, (uint64_t)i * 8);
		r = bw_workers_submit(p, (uint64_t)i * 8, &e);
	}
	CHECK(same_buffer);
	if (r == 0)
		r = bw_workers_finish(p, &e);
	if (fail_at) {
		CHECK(r == BW_EIO);
		CHECK(strstr(e.msg, "injected") != NULL);
		CHECK_EQ_U64(st.seen, fail_at - 1);
		CHECK(bw_workers_finish(p, &e) == BW_EIO);      /* sticky */
	} else {
		CHECK(r == 0);
		CHECK_EQ_U64(st.seen, n);
	}
	CHECK_EQ_U64(st.bad, 0);
	bw_workers_free(p);

	/* Refused configurations. */
	cfg.queue = threads - 1;
	CHECK(bw_workers_new(&cfg, &p, &e) == BW_EINVAL);
	cfg.queue = queue;
	cfg.out_bytes = 100;
	CHECK(bw_workers_new(&cfg, &p, &e) == BW_EINVAL);
}

/* ---- bw_writer refusals and abort ----------------------------------------- */

static void test_refusals(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/refused.vmdk", dir);
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_STREAM, .size = 4 * MiB };
	struct bw_writer *w = NULL;
	struct bw_error e;
	o.adapter_type = "virtio\"\n";
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(w == NULL && strstr(e.msg, "adapter") != NULL);
	unlink(path);
	o.adapter_type = NULL;
	o.threads = -1;
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	unlink(path);
	o.threads = 100000;
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	unlink(path);
	o.threads = 1;
	o.size = (2ull << 40) + 512;        /* past 2 TiB */
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "2 TiB") != NULL);
	unlink(path);

	/* Exactly 2 TiB is accepted; abort part-way frees threads and buffers. */
	o.size = 2ull << 40;
	o.threads = 3;
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	if (w) {
		uint8_t *buf = malloc(3 * MiB);
		tf_fill_random(buf, 3 * MiB, &rng_state);
		CHECK(bw_writer_write(w, buf, 3 * MiB, 0, &e) == 0);
		CHECK(bw_writer_write(w, buf, 1000, (2ull << 40) - 1000, &e) == 0);
		bw_writer_abort(w);
		free(buf);
	}
	unlink(path);

	/* The default thread count (online CPUs) and lsilogic geometry. */
	o.size = 3 * MiB;
	o.threads = 0;
	o.adapter_type = "lsilogic";
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	if (w)
		CHECK(bw_writer_finish(w, &e) == 0);
	size_t len;
	uint8_t *f = tf_slurp(path, &len);
	CHECK(f != NULL);
	uint8_t *zero = calloc(1, 3 * MiB);
	struct parsed p;
	if (f)
		CHECK(parse_vmdk(f, len, zero, 3 * MiB, "refused.vmdk", "lsilogic", 255, &p) == 0);
	/* No data: no grains, no GT, a GD of zeros; 128 + GD marker + 1 GD
	 * sector + footer marker + footer + EOS. */
	CHECK_EQ_U64(p.grains, 0);
	CHECK_EQ_U64(p.gts, 0);
	CHECK_EQ_U64(len, (128 + 1 + 1 + 3) * 512);
	free(f);
	free(zero);
	unlink(path);
}

/* A write error in the sink (the file size limit stands in for a full
 * disk) comes back as BW_EIO naming the file, from a write or finish. */
static void test_write_error(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/full.vmdk", dir);
	struct rlimit old, lim;
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 200 * KiB;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_STREAM, .size = 4 * MiB, .threads = 2 };
	struct bw_writer *w = NULL;
	struct bw_error e;
	uint8_t *buf = malloc(4 * MiB);
	tf_fill_random(buf, 4 * MiB, &rng_state);
	int r = bw_writer_open(path, &o, &w, &e);
	CHECK(r == 0);
	for (uint64_t off = 0; r == 0 && off < 4 * MiB; off += MiB)
		r = bw_writer_write(w, buf + off, MiB, off, &e);
	if (r == 0)
		r = bw_writer_finish(w, &e);          /* frees w either way */
	else
		bw_writer_abort(w);
	CHECK(r == BW_EIO);
	CHECK(strstr(e.msg, path) != NULL && strstr(e.msg, "cannot write") != NULL);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, prev);
	free(buf);
	unlink(path);
}

/* Whole zero grains passed in big aligned writes are skipped without a
 * copy; a zero grain that was being assembled leaves its buffer for the
 * next one: both must still give exactly the source. */
static void test_zero_runs(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/zeros.vmdk", dir);
	const uint64_t size = 6 * MiB;
	uint8_t *src = calloc(1, size);
	fill_text(src + 2 * MiB, GRAIN, 4);                 /* grain 32 */
	memcpy(src + 3 * MiB + 5, "x", 1);                  /* grain 48, off 5 */
	tf_fill_random(src + 5 * MiB + GRAIN / 2, GRAIN, &rng_state); /* grains 80, 81 halves */
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_STREAM, .size = size, .threads = 2 };
	struct bw_writer *w;
	struct bw_error e;
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	CHECK(bw_writer_write(w, src, 2 * MiB + GRAIN, 0, &e) == 0);        /* 32 zero grains, 1 data */
	CHECK(bw_writer_write(w, src + 2 * MiB + GRAIN, 1000, 2 * MiB + GRAIN, &e) == 0); /* zero, partial */
	CHECK(bw_writer_write(w, src + 3 * MiB, 3 * MiB, 3 * MiB, &e) == 0);
	CHECK(bw_writer_finish(w, &e) == 0);
	size_t len;
	uint8_t *f = tf_slurp(path, &len);
	struct parsed p;
	CHECK(f && parse_vmdk(f, len, src, size, "zeros.vmdk", "ide", 16, &p) == 0);
	CHECK_EQ_U64(p.grains, 4);
	free(f);
	free(src);
	unlink(path);
}

/* A fixed identity (reproducible builds): the same 32 bytes give the same
 * file whatever the thread count; vmdk_cid wins over the derived CID;
 * another identity gives another CID and uuid.image, nothing else. */
static void test_fixed_identity(void)
{
	const uint64_t size = 2 * MiB;
	uint8_t *src = calloc(1, size);
	if (!src) {
		CHECK(0);
		return;
	}
	fill_text(src + GRAIN, GRAIN, 3);
	char path[4][256];
	uint8_t *f[4] = { NULL };
	size_t len[4] = { 0 };
	for (int i = 0; i < 4; i++) {
		snprintf(path[i], sizeof path[i], "%s/id%d.vmdk", dir, i);
		struct bw_writer_opts o = { .format = BW_WRITE_VMDK_STREAM, .size = size,
					    .threads = i == 1 ? 4 : 1, .fixed_identity = 1,
					    .name = "same.vmdk" };
		memset(o.identity, i == 3 ? 0x5B : 0x5A, sizeof o.identity);
		if (i == 2)
			o.vmdk_cid = 0x12345678u;
		struct bw_writer *w;
		struct bw_error e;
		int r = bw_writer_open(path[i], &o, &w, &e);
		if (r == 0 && (r = bw_writer_write(w, src, size, 0, &e)) != 0)
			bw_writer_abort(w);
		else if (r == 0)
			r = bw_writer_finish(w, &e);
		CHECK(r == 0);
		f[i] = r == 0 ? tf_slurp(path[i], &len[i]) : NULL;
		CHECK(f[i] != NULL);
	}
	if (f[0] && f[1] && f[2] && f[3]) {
		CHECK(len[0] == len[1] && memcmp(f[0], f[1], len[0]) == 0);
		char d0[DESC_SECT * 512 + 1], d2[DESC_SECT * 512 + 1], v0[64], v2[64];
		memcpy(d0, f[0] + 512, DESC_SECT * 512);
		memcpy(d2, f[2] + 512, DESC_SECT * 512);
		d0[DESC_SECT * 512] = d2[DESC_SECT * 512] = '\0';
		CHECK(desc_value(d2, "\nCID=", v2, sizeof v2) && strcmp(v2, "12345678") == 0);
		CHECK(desc_value(d0, "\nCID=", v0, sizeof v0) && strcmp(v0, "12345678") != 0);
		/* the uuid.image is derived, not the CID: 2 keeps 0's */
		CHECK(desc_value(d0, "ddb.uuid.image = ", v0, sizeof v0) &&
		      desc_value(d2, "ddb.uuid.image = ", v2, sizeof v2) && strcmp(v0, v2) == 0);
		check_same_but_identity(f[0], len[0], f[3], len[3]);
		CHECK(memcmp(f[0] + 512, f[3] + 512, DESC_SECT * 512) != 0);
	}
	for (int i = 0; i < 4; i++) {
		free(f[i]);
		unlink(path[i]);
	}
	free(src);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;

	test_deflate();
	test_workers(1, 1, 0);
	test_workers(3, 3, 0);
	test_workers(4, 16, 0);
	test_workers(2, 8, 10);
	test_workers(4, 4, 1);
	test_refusals();
	test_write_error();
	test_zero_runs();
	test_fixed_identity();

	/* A: 70 MiB + 1536 bytes: spans 0, 1 (no data: GD entry 0) and 2; a
	 * partial last grain with data in the disk's last sector. */
	{
		const uint64_t size = 70ull * MiB + 1536;
		uint8_t *src = calloc(1, size);
		fill_text(src + 0 * GRAIN, GRAIN, 1);                  /* grain 0 */
		tf_fill_random(src + 2 * GRAIN, GRAIN, &rng_state);    /* 2: incompressible */
		src[4 * GRAIN - 1] = 0x5A;                              /* 3: last byte only */
		src[5 * GRAIN] = 0xA5;                                  /* 5: first byte only */
		for (unsigned g = 10; g < 40; g++) {
			if (g % 3 == 0)
				tf_fill_random(src + (uint64_t)g * GRAIN, GRAIN, &rng_state);
			else if (g % 3 == 1)
				fill_text(src + (uint64_t)g * GRAIN, GRAIN, g);
		}
		fill_text(src + 511ull * GRAIN + 100, GRAIN - 100, 7);  /* last of span 0 */
		tf_fill_random(src + 1024ull * GRAIN, GRAIN, &rng_state); /* first of span 2 */
		fill_text(src + 1119ull * GRAIN, GRAIN, 9);
		memcpy(src + size - 512 + 100, "last sector of the disk", 23);
		struct parsed p;
		run_case("a", src, size, NULL, 16, &p);
		CHECK_EQ_U64(p.gts, 2);
		CHECK_EQ_U64(p.gd_entries, 3);
		CHECK(p.stored_grains >= 1 || strcmp(bw_deflate_backend(), "libdeflate") == 0);
		printf("case a: %u grains (%u stored), %u GTs\n", p.grains, p.stored_grains, p.gts);
		free(src);
	}
	/* B: one partial grain (1536 bytes). */
	{
		const uint64_t size = 1536;
		uint8_t *src = malloc(size);
		fill_text(src, size, 2);
		struct parsed p;
		run_case("b", src, size, NULL, 16, &p);
		CHECK_EQ_U64(p.grains, 1);
		CHECK_EQ_U64(p.gts, 1);
		free(src);
	}
	/* C: all zero, 1 MiB: no grain, no GT. */
	{
		const uint64_t size = MiB;
		uint8_t *src = calloc(1, size);
		struct parsed p;
		run_case("c", src, size, "ide", 16, &p);
		CHECK_EQ_U64(p.grains, 0);
		CHECK_EQ_U64(p.gts, 0);
		free(src);
	}
	/* D: 2 MiB, a grain multiple, only the last grain has data. */
	{
		const uint64_t size = 2 * MiB;
		uint8_t *src = calloc(1, size);
		tf_fill_random(src + size - GRAIN, GRAIN, &rng_state);
		struct parsed p;
		run_case("d", src, size, "buslogic", 255, &p);
		CHECK_EQ_U64(p.grains, 1);
		free(src);
	}
	/* E: 40 MiB, span 0 empty, data only in span 1. */
	{
		const uint64_t size = 40 * MiB;
		uint8_t *src = calloc(1, size);
		fill_text(src + 600ull * GRAIN, 3 * GRAIN, 5);
		struct parsed p;
		run_case("e", src, size, NULL, 16, &p);
		CHECK_EQ_U64(p.grains, 3);
		CHECK_EQ_U64(p.gts, 1);
		CHECK_EQ_U64(p.gd_entries, 2);
		free(src);
	}

	rmdir(dir);
	return check_done("test_vmdk_write");
}

/*
 * qcow2 writer: synthetic disks written through bw_writer in chunks of
 * assorted sizes, then decoded here independently of the writer against
 * qemu docs/interop/qcow2.txt: the header fields; every L1 and L2 entry
 * (flags, reserved bits, alignment, inside the file); every compressed
 * cluster inflated the way qemu does it (raw deflate, windowBits -12, one
 * inflate() call over the bytes its descriptor names) to exactly the
 * source cluster, with a sector count that is neither short nor long;
 * every standard cluster equal to the source; unallocated clusters zero in
 * the source; and the refcounts recomputed from all of that (metadata 1,
 * standard 1, a compressed cluster one reference to each host cluster it
 * touches) equal to the refcount blocks, with no cluster of the file left
 * unreferenced (a leak).  When qemu-img is installed it is the oracle as
 * well: `qemu-img check` clean and `qemu-img compare` identical to a raw
 * copy of the source.
 *
 * Disks: a small one of mixed clusters whose size is not a cluster
 * multiple; one past two L2 tables (8192 clusters each) with data around
 * the table edges; all zeros; all random (standard clusters only);
 * alternating compressible and random clusters (compressed data going
 * into the tail of a host cluster a standard cluster interrupted).  The
 * output does not depend on the thread count.  Also the writer's
 * refusals.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <zlib.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"
#include "testfile.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define CL (64u * KiB)
#define L2_ENTRIES 8192u
#define RB_ENTRIES 32768u

static char dir[] = "/tmp/bw-test-qcow2w.XXXXXX";
static int have_qemu_img;

/* ---- the source disks ----------------------------------------------------- */

enum layout { MIXED, SPARSE_L2, ZEROS, RANDOM, INTERLEAVE };

struct tcase {
	const char *name;
	enum layout layout;
	uint64_t size;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t x = mix64(seed + i);
		memcpy(p + i, &x, n - i < 8 ? n - i : 8);
	}
}

/* Cluster kinds: 0 zero, 1 random, 2 text, 3 a random 5000-byte block
 * repeated (compressible only through matches more than 4 KiB back, past
 * the window qemu's own writer uses), 4 zero but one byte, 5 words with
 * runs of zeros. */
static void fill_kind(uint8_t *p, unsigned kind, uint64_t seed)
{
	static const char words[] = "cluster refcount table compressed descriptor ";
	memset(p, 0, CL);
	switch (kind) {
	case 1:
		fill_random(p, CL, seed);
		break;
	case 2:
		for (size_t i = 0; i < CL; i++)
			p[i] = (uint8_t)words[(i + seed) % (sizeof words - 1)] ^ (uint8_t)((i >> 11) & 3);
		break;
	case 3:
		fill_random(p, 5000, seed);
		for (size_t i = 5000; i < CL; i++)
			p[i] = p[i - 5000];
		break;
	case 4:
		p[mix64(seed) % CL] = (uint8_t)(1 + seed % 255);
		break;
	case 5:
		for (size_t i = 0; i < CL; i += 4096)
			for (size_t j = 0; j < 700; j++)
				p[i + j] = (uint8_t)words[(j * 3 + seed) % (sizeof words - 1)];
		break;
	}
}

/* The source's cluster C (zero past the virtual size). */
static void src_cluster(const struct tcase *t, uint64_t c, uint8_t *p)
{
	uint64_t seed = mix64(c * 0x9E3779B97F4A7C15ull + t->layout);
	unsigned kind = 0;
	uint64_t nclusters = (t->size + CL - 1) / CL;
	switch (t->layout) {
	case MIXED:
		kind = (unsigned)(c % 6);
		break;
	case SPARSE_L2:
		/* Data at the start, across both L2 table edges, once in the
		 * middle of the second table and at the end. */
		if (c < 8 || (c >= L2_ENTRIES - 5 && c < L2_ENTRIES + 5) ||
		    (c >= 2 * L2_ENTRIES - 2 && c < 2 * L2_ENTRIES + 2) ||
		    c == 12000 || c + 3 >= nclusters)
			kind = 1 + (unsigned)(c % 5);
		break;
	case ZEROS:
		kind = 0;
		break;
	case RANDOM:
		kind = 1;
		break;
	case INTERLEAVE:
		kind = c % 2 ? 1 : (c % 4 ? 4 : 5);
		break;
	}
	fill_kind(p, kind, seed);
	uint64_t end = t->size - c * CL;
	if (end < CL)
		memset(p + end, 0, CL - end);
}

/* SRC bytes [OFF, OFF+N). */
static void src_read(const struct tcase *t, uint64_t off, size_t n, uint8_t *out)
{
	static uint8_t cl[CL];
	static const struct tcase *cached_t;
	static uint64_t cached_c = UINT64_MAX;
	while (n > 0) {
		uint64_t c = off / CL;
		size_t in = (size_t)(off % CL), k = CL - in < n ? CL - in : n;
		if (cached_t != t || cached_c != c) {
			src_cluster(t, c, cl);
			cached_t = t;
			cached_c = c;
		}
		memcpy(out, cl + in, k);
		out += k;
		off += k;
		n -= k;
	}
}

/* xorshift64* (tf_rand): chunk sizes and skips. */
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

/* A tf_source_fn over T's disk (CTX). */
static const uint8_t *src_chunk(const void *ctx, uint64_t off, size_t n)
{
	static uint8_t buf[MiB + 512];
	src_read(ctx, off, n, buf);
	return buf;
}

/* Write T's disk to PATH through bw_writer in chunks that cross cluster
 * edges; about half of the all-zero chunks are skipped, not written. */
static int write_qcow2(const struct tcase *t, const char *path, int threads, int level)
{
	static const size_t chunks[] = { 512, 1536, 4096, 65535, 65536, 100000, MiB + 512 };
	struct bw_writer_opts o = { .format = BW_WRITE_QCOW2, .size = t->size,
				    .threads = threads, .compress_level = level };
	struct bw_writer *w;
	struct bw_error e;
	unlink(path);
	int r = bw_writer_open(path, &o, &w, &e);
	if (r) {
		fprintf(stderr, "%s: open: %s\n", t->name, e.msg);
		return r;
	}
	r = tf_write_chunks(w, t->size, src_chunk, t, chunks, sizeof chunks / sizeof chunks[0],
			    &rng_state, t->name);
	if (r)
		return r;
	r = bw_writer_finish(w, &e);
	if (r)
		fprintf(stderr, "%s: finish: %s\n", t->name, e.msg);
	return r;
}

/* ---- the decoder ------------------------------------------------------------ */

struct decoded {
	unsigned compressed, standard, unallocated;
	unsigned tail_fills;    /* compressed data placed before a standard cluster */
};

/* qemu's qcow2_zlib_decompress: raw inflate, 4 KiB window, one call. */
static int qemu_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t *consumed)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, -12) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = CL;
	int ret = inflate(&zs, Z_FINISH);
	*consumed = in_len - zs.avail_in;
	inflateEnd(&zs);
	/* Our streams end inside the bytes named (qemu also accepts
	 * Z_BUF_ERROR with a full output, but then the count is short). */
	return ret == Z_STREAM_END && zs.avail_out == 0 ? 0 : -1;
}

static void ref(uint32_t *rc, uint64_t nclusters, uint64_t off, uint64_t len)
{
	for (uint64_t c = off / CL; c <= (off + len - 1) / CL; c++)
		if (c < nclusters)
			rc[c]++;
}

static void decode(const struct tcase *t, const uint8_t *f, size_t len, struct decoded *d)
{
	memset(d, 0, sizeof *d);
	uint64_t nguest = (t->size + CL - 1) / CL;
	uint64_t l1_want = (nguest + L2_ENTRIES - 1) / L2_ENTRIES;
	CHECK(len >= 4 * CL && len % CL == 0);
	if (len < 4 * CL || len % CL)
		return;
	/* Header (qcow2.txt "== Header =="). */
	CHECK(memcmp(f, "QFI\xfb", 4) == 0);
	CHECK_EQ_U64(bw_get_be32(f + 4), 3);
	CHECK_EQ_U64(bw_get_be64(f + 8), 0);            /* no backing file */
	CHECK_EQ_U64(bw_get_be32(f + 16), 0);
	CHECK_EQ_U64(bw_get_be32(f + 20), 16);          /* 64 KiB clusters */
	CHECK_EQ_U64(bw_get_be64(f + 24), t->size);
	CHECK_EQ_U64(bw_get_be32(f + 32), 0);           /* no encryption */
	uint32_t l1_size = bw_get_be32(f + 36);
	uint64_t l1_off = bw_get_be64(f + 40);
	uint64_t rt_off = bw_get_be64(f + 48);
	uint32_t rt_clusters = bw_get_be32(f + 56);
	CHECK_EQ_U64(l1_size, l1_want);
	CHECK_EQ_U64(bw_get_be32(f + 60), 0);           /* no snapshots */
	CHECK_EQ_U64(bw_get_be64(f + 64), 0);
	CHECK_EQ_U64(bw_get_be64(f + 72), 0);           /* incompatible features */
	CHECK_EQ_U64(bw_get_be64(f + 80), 0);           /* compatible */
	CHECK_EQ_U64(bw_get_be64(f + 88), 0);           /* autoclear */
	CHECK_EQ_U64(bw_get_be32(f + 96), 4);           /* 16-bit refcounts */
	CHECK_EQ_U64(bw_get_be32(f + 100), 104);
	CHECK(tf_is_zero(f + 104, CL - 104));           /* end-of-extensions, then nothing */
	uint64_t l1_bytes = (uint64_t)l1_size * 8;
	CHECK(l1_off % CL == 0 && l1_off >= CL && l1_off < len && l1_bytes <= len - l1_off);
	CHECK(rt_off % CL == 0 && rt_off >= CL && rt_clusters >= 1 && rt_off < len &&
	      (uint64_t)rt_clusters * CL <= len - rt_off);
	if (l1_off % CL || l1_off >= len || l1_bytes > len - l1_off || rt_off % CL ||
	    rt_off >= len || (uint64_t)rt_clusters * CL > len - rt_off || rt_clusters == 0)
		return;

	uint64_t nclusters = len / CL;
	uint32_t *want = calloc(nclusters, sizeof *want);
	uint8_t *plain = malloc(CL), *src = malloc(CL);
	if (!want || !plain || !src) {
		CHECK(!"out of memory");
		goto out;
	}
	ref(want, nclusters, 0, CL);
	ref(want, nclusters, l1_off, (l1_bytes + CL - 1) / CL * CL);
	ref(want, nclusters, rt_off, (uint64_t)rt_clusters * CL);
	uint64_t last_standard = 0;
	for (uint64_t i = 0; i < l1_size; i++) {
		uint64_t e = bw_get_be64(f + l1_off + 8 * i);
		uint64_t l2_off = e & 0x00FFFFFFFFFFFE00ull;
		if (e == 0) {
			for (uint64_t c = i * L2_ENTRIES; c < nguest && c < (i + 1) * L2_ENTRIES; c++) {
				src_cluster(t, c, src);
				CHECK(tf_is_zero(src, CL));
				d->unallocated++;
			}
			continue;
		}
		/* Bits 0-8, 56-62 reserved; 63 COPIED (refcount is 1). */
		CHECK_EQ_U64(e & ~(l2_off | (1ull << 63)), 0);
		CHECK(e >> 63);
		CHECK(l2_off % CL == 0 && l2_off < len);
		if (l2_off % CL || l2_off >= len)
			continue;
		ref(want, nclusters, l2_off, CL);
		for (uint64_t j = 0; j < L2_ENTRIES; j++) {
			uint64_t c = i * L2_ENTRIES + j;
			uint64_t le = bw_get_be64(f + l2_off + 8 * j);
			if (c >= nguest) {
				CHECK_EQ_U64(le, 0);
				continue;
			}
			src_cluster(t, c, src);
			if (le == 0) {
				CHECK(tf_is_zero(src, CL));
				d->unallocated++;
				continue;
			}
			CHECK(!tf_is_zero(src, CL));    /* zero clusters are not allocated */
			if (le & (1ull << 62)) {
				/* Compressed Clusters Descriptor, x = 54. */
				CHECK(!(le >> 63));     /* never COPIED */
				uint64_t coff = le & ((1ull << 54) - 1);
				uint64_t nsect = (le >> 54) & 0xFF;
				uint64_t csize = (nsect + 1) * 512 - (coff & 511);
				CHECK(coff >= CL && coff < len && csize <= len - coff);
				if (coff < CL || coff >= len || csize > len - coff)
					continue;
				size_t used = 0;
				int ok = qemu_inflate(f + coff, (size_t)csize, plain, &used) == 0;
				CHECK(ok);
				if (!ok)
					continue;
				CHECK(memcmp(plain, src, CL) == 0);
				/* The count is exact: the data ends in its last sector. */
				CHECK_EQ_U64((coff + used - 1) / 512, coff / 512 + nsect);
				CHECK(used < CL);       /* compressed only when it shrinks */
				ref(want, nclusters, coff, csize);
				if (coff < last_standard)
					d->tail_fills++;
				d->compressed++;
			} else {
				/* Standard: bit 0 (zero flag) unused, bits 1-8 and
				 * 56-61 reserved, COPIED set. */
				uint64_t off = le & 0x00FFFFFFFFFFFE00ull;
				CHECK_EQ_U64(le, off | (1ull << 63));
				CHECK(off % CL == 0 && off >= CL && off < len);
				if (off % CL || off < CL || off >= len)
					continue;
				CHECK(memcmp(f + off, src, CL) == 0);
				ref(want, nclusters, off, CL);
				if (off > last_standard)
					last_standard = off;
				d->standard++;
			}
		}
	}
	/* Refcount blocks: read them, count them, compare every cluster. */
	uint64_t nblocks = (uint64_t)rt_clusters * CL / 8;
	uint64_t mismatches = 0, leaks = 0;
	for (uint64_t b = 0; b < nblocks; b++) {
		uint64_t e = bw_get_be64(f + rt_off + 8 * b);
		if (e == 0)
			continue;
		CHECK(e % CL == 0 && e < len);
		if (e % CL || e >= len)
			continue;
		ref(want, nclusters, e, CL);
	}
	for (uint64_t c = 0; c < nclusters; c++) {
		uint64_t b = c / RB_ENTRIES;
		uint64_t e = b < nblocks ? bw_get_be64(f + rt_off + 8 * b) : 0;
		unsigned have = e && e % CL == 0 && e < len ?
			bw_get_be16(f + e + 2 * (c % RB_ENTRIES)) : 0;
		if (have != want[c])
			mismatches++;
		if (want[c] == 0)
			leaks++;
	}
	CHECK_EQ_U64(mismatches, 0);
	CHECK_EQ_U64(leaks, 0);
	/* Nothing counted past the end of the file. */
	for (uint64_t b = 0; b < nblocks; b++) {
		uint64_t e = bw_get_be64(f + rt_off + 8 * b);
		if (!e || e % CL || e >= len)
			continue;
		for (uint64_t i = 0; i < RB_ENTRIES; i++)
			if (b * RB_ENTRIES + i >= nclusters)
				CHECK_EQ_U64(bw_get_be16(f + e + 2 * i), 0);
	}
	CHECK_EQ_U64(d->compressed + d->standard + d->unallocated, nguest);
out:
	free(want);
	free(plain);
	free(src);
}

/* ---- qemu-img, when installed ---------------------------------------------- */

/* A sparse raw copy of the source for qemu-img compare. */
static int write_raw(const struct tcase *t, const char *path)
{
	uint8_t *cl = malloc(CL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int r = fd >= 0 && cl && ftruncate(fd, (off_t)t->size) == 0 ? 0 : -1;
	for (uint64_t c = 0; r == 0 && c * CL < t->size; c++) {
		src_cluster(t, c, cl);
		size_t n = t->size - c * CL < CL ? (size_t)(t->size - c * CL) : CL;
		if (!tf_is_zero(cl, n) && pwrite(fd, cl, n, (off_t)(c * CL)) != (ssize_t)n)
			r = -1;
	}
	if (fd >= 0 && close(fd) != 0)
		r = -1;
	free(cl);
	return r;
}

static int run(const char *cmd)
{
	char full[2048];
	snprintf(full, sizeof full, "%s >%s/qemu.log 2>&1", cmd, dir);
	int r = system(full);
	if (r != 0) {
		fprintf(stderr, "failed (%d): %s\n", r, cmd);
		snprintf(full, sizeof full, "sed 's/^/  /' %s/qemu.log >&2", dir);
		if (system(full) != 0)
			fprintf(stderr, "  (no log)\n");
	}
	return r;
}

static void qemu_checks(const struct tcase *t, const char *path)
{
	if (!have_qemu_img)
		return;
	char raw[512], cmd[1536];
	snprintf(raw, sizeof raw, "%s/%s.raw", dir, t->name);
	CHECK(write_raw(t, raw) == 0);
	snprintf(cmd, sizeof cmd, "qemu-img check -f qcow2 '%s'", path);
	CHECK(run(cmd) == 0);
	snprintf(cmd, sizeof cmd, "qemu-img check -f qcow2 '%s' | grep -q 'No errors were found'", path);
	CHECK(run(cmd) == 0);
	snprintf(cmd, sizeof cmd, "qemu-img compare -f raw '%s' -F qcow2 '%s'", raw, path);
	CHECK(run(cmd) == 0);
	unlink(raw);
}

/* ---- cases ------------------------------------------------------------------- */

static void run_case(const struct tcase *t, struct decoded *d)
{
	char path[512], path3[512];
	snprintf(path, sizeof path, "%s/%s.qcow2", dir, t->name);
	snprintf(path3, sizeof path3, "%s/%s-t3.qcow2", dir, t->name);
	CHECK(write_qcow2(t, path, 1, 0) == 0);
	size_t len = 0, len3 = 0;
	uint8_t *f = tf_slurp(path, &len);
	CHECK(f != NULL);
	if (!f)
		return;
	decode(t, f, len, d);
	qemu_checks(t, path);
	/* Three threads and other chunk sizes: the same bytes. */
	CHECK(write_qcow2(t, path3, 3, 0) == 0);
	uint8_t *f3 = tf_slurp(path3, &len3);
	CHECK(f3 && len3 == len && memcmp(f, f3, len) == 0);
	printf("%s: size %llu, file %zu bytes: %u compressed, %u standard, %u unallocated, %u tail fills\n",
	       t->name, (unsigned long long)t->size, len, d->compressed, d->standard,
	       d->unallocated, d->tail_fills);
	free(f);
	free(f3);
	unlink(path);
	unlink(path3);
}

static void test_level1(void)
{
	/* Another deflate level: different bytes, still a valid image. */
	const struct tcase t = { "mixed-level1", MIXED, 2 * MiB + 512 };
	char path[512];
	snprintf(path, sizeof path, "%s/%s.qcow2", dir, t.name);
	CHECK(write_qcow2(&t, path, 2, 1) == 0);
	size_t len = 0;
	uint8_t *f = tf_slurp(path, &len);
	CHECK(f != NULL);
	if (f) {
		struct decoded d;
		decode(&t, f, len, &d);
		CHECK(d.compressed > 0);
	}
	qemu_checks(&t, path);
	free(f);
	unlink(path);
}

static void test_refusals(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/refused.qcow2", dir);
	struct bw_writer *w = NULL;
	struct bw_error e;
	struct bw_writer_opts o = { .format = BW_WRITE_QCOW2, .size = MiB, .threads = 257 };
	CHECK_EQ_U64(bw_writer_open(path, &o, &w, &e), (uint64_t)(int64_t)BW_EINVAL);
	CHECK(w == NULL);
	unlink(path);
	/* An L1 table beyond qemu's 32 MiB: 4 Mi entries of 512 MiB. */
	o.threads = 1;
	o.size = (UINT64_C(4) * MiB + 1) * L2_ENTRIES * CL;
	CHECK_EQ_U64(bw_writer_open(path, &o, &w, &e), (uint64_t)(int64_t)BW_EINVAL);
	CHECK(strstr(e.msg, "L1") != NULL);
	unlink(path);
	/* Out of order. */
	o.size = MiB;
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	if (w) {
		uint8_t b[512];
		memset(b, 7, sizeof b);
		CHECK(bw_writer_write(w, b, sizeof b, 4096, &e) == 0);
		CHECK(bw_writer_write(w, b, sizeof b, 0, &e) == BW_EINVAL);
		bw_writer_abort(w);
	}
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	have_qemu_img = system("qemu-img --version >/dev/null 2>&1") == 0;
	if (!have_qemu_img)
		printf("qemu-img not installed: checked by this test's own decoder only\n");

	static const struct tcase cases[] = {
		/* 49 clusters, the last one 1536 bytes: not a cluster multiple. */
		{ "mixed", MIXED, 3 * MiB + 3 * 512 },
		/* 16385 clusters + 5 sectors: three L2 tables, the third for
		 * one partial cluster. */
		{ "sparse-l2", SPARSE_L2, 2ull * L2_ENTRIES * CL + CL + 5 * 512 },
		{ "zeros", ZEROS, 10 * MiB },
		{ "random", RANDOM, 2 * MiB },
		{ "interleave", INTERLEAVE, 4 * MiB },
	};
	struct decoded d[sizeof cases / sizeof cases[0]];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i], &d[i]);
	/* What each disk must have exercised. */
	CHECK(d[0].compressed > 0 && d[0].standard > 0 && d[0].unallocated > 0);
	CHECK(d[1].compressed > 0 && d[1].unallocated > 2 * L2_ENTRIES - 40);
	CHECK_EQ_U64(d[2].compressed + d[2].standard, 0);
	CHECK_EQ_U64(d[3].compressed, 0);
	CHECK_EQ_U64(d[3].standard, 32);
	CHECK(d[4].tail_fills > 0);
	test_level1();
	test_refusals();

	rmdir(dir);
	return check_done("test_qcow2_write");
}

/*
 * VMDK monolithicSparse writer: small disks written through bw_writer in
 * chunks of assorted sizes, then parsed here independently of the writer
 * against VMware's "Virtual Disk Format 1.1" hosted sparse extent and the
 * layout qemu's vmdk_init_extent writes: the header fields (version 1,
 * flags valid-newline + redundant GT, no compression, rgdOffset 21,
 * gdOffset after the redundant tables, overHead a grain multiple after
 * the primary tables), the descriptor text, both grain directories naming
 * their own preallocated tables, every primary table equal to its
 * redundant copy, every allocated grain holding exactly the source bytes
 * (zero padded past the end of the disk), all-zero grains unallocated,
 * grains in increasing LBA order and packed from overHead to the end of
 * the file.  Also: a fixed CID gives the same bytes twice (in both VMDK
 * writers), the refusals, and the file read back by bw_disk_open.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"
#include "testfile.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define GRAIN (64u * KiB)
#define GRAIN_SECT 128u
#define SPAN_GRAINS 512u
#define GT_SECT 4u
#define DESC_SECT 20u

static char dir[] = "/tmp/bw-test-vmdksw.XXXXXX";

/* xorshift64* (tf_rand): deterministic test data and chunk sizes. */
static uint64_t rng_state = 0x243F6A8885A308D3ull;

/* Write SRC (SIZE bytes) to PATH with O: chunks of assorted sizes that
 * cross grain edges; about half of the all-zero chunks are skipped. */
static int write_disk(const char *path, const uint8_t *src, uint64_t size,
		      struct bw_writer_opts o)
{
	static const size_t chunks[] = { 1, 511, 512, 4096, 65535, 65536, 3 * 65536, 100000, MiB + 3 };
	struct bw_writer *w;
	struct bw_error e;
	o.size = size;
	unlink(path);
	int r = bw_writer_open(path, &o, &w, &e);
	if (r) {
		fprintf(stderr, "open: %s\n", e.msg);
		return r;
	}
	r = tf_write_chunks(w, size, tf_source_mem, src, chunks,
			    sizeof chunks / sizeof chunks[0], &rng_state, NULL);
	if (r)
		return r;
	r = bw_writer_finish(w, &e);
	if (r)
		fprintf(stderr, "finish: %s\n", e.msg);
	return r;
}

struct parsed {
	unsigned grains;
	char cid[9];
};

/* Parse F (LEN bytes) as a monolithicSparse VMDK of SRC (SIZE bytes). */
static void parse_sparse(const uint8_t *f, size_t len, const uint8_t *src, uint64_t size,
			 const char *basename, const char *adapter, unsigned heads,
			 struct parsed *out)
{
	memset(out, 0, sizeof *out);
	const uint64_t cap = size / 512;
	const uint64_t ngrains = (size + GRAIN - 1) / GRAIN;
	const uint64_t ngts = (ngrains + SPAN_GRAINS - 1) / SPAN_GRAINS;
	const uint64_t gd_sect = (ngts * 4 + 511) / 512;
	const uint64_t rgd = 1 + DESC_SECT;
	const uint64_t gd = rgd + gd_sect + ngts * GT_SECT;
	const uint64_t overhead = (gd + gd_sect + ngts * GT_SECT + GRAIN_SECT - 1) /
				  GRAIN_SECT * GRAIN_SECT;
	CHECK(len % 512 == 0);
	CHECK(len >= overhead * 512);
	if (len % 512 || len < overhead * 512)
		return;

	const uint8_t *h = f;
	CHECK(memcmp(h, "KDMV", 4) == 0);
	CHECK_EQ_U64(bw_get_le32(h + 4), 1);
	CHECK_EQ_U64(bw_get_le32(h + 8), 3);               /* newline test, redundant GT */
	CHECK_EQ_U64(bw_get_le64(h + 12), cap);
	CHECK_EQ_U64(bw_get_le64(h + 20), GRAIN_SECT);
	CHECK_EQ_U64(bw_get_le64(h + 28), 1);
	CHECK_EQ_U64(bw_get_le64(h + 36), DESC_SECT);
	CHECK_EQ_U64(bw_get_le32(h + 44), SPAN_GRAINS);
	CHECK_EQ_U64(bw_get_le64(h + 48), rgd);
	CHECK_EQ_U64(bw_get_le64(h + 56), gd);
	CHECK_EQ_U64(bw_get_le64(h + 64), overhead);
	CHECK_EQ_U64(h[72], 0);
	CHECK(h[73] == '\n' && h[74] == ' ' && h[75] == '\r' && h[76] == '\n');
	CHECK_EQ_U64(bw_get_le16(h + 77), 0);
	CHECK(tf_is_zero(h + 79, 512 - 79));

	char desc[DESC_SECT * 512 + 1];
	size_t dlen = strnlen((const char *)f + 512, DESC_SECT * 512);
	CHECK(dlen < DESC_SECT * 512);
	memcpy(desc, f + 512, dlen);
	desc[dlen] = '\0';
	CHECK(tf_is_zero(f + 512 + dlen, DESC_SECT * 512 - dlen));
	char want[512];
	CHECK(strncmp(desc, "# Disk DescriptorFile\nversion=1\nCID=", 36) == 0);
	if (dlen > 44) {
		memcpy(out->cid, desc + 36, 8);
		CHECK(strspn(out->cid, "0123456789abcdef") == 8 && desc[44] == '\n');
	}
	CHECK(strstr(desc, "\nparentCID=ffffffff\n") != NULL);
	CHECK(strstr(desc, "\ncreateType=\"monolithicSparse\"\n") != NULL);
	snprintf(want, sizeof want, "\nRW %llu SPARSE \"%s\"\n", (unsigned long long)cap, basename);
	CHECK(strstr(desc, want) != NULL);
	snprintf(want, sizeof want, "\nddb.adapterType = \"%s\"\n", adapter);
	CHECK(strstr(desc, want) != NULL);
	uint64_t cyl = cap / (heads * 63u);
	if (heads == 16 && cyl > 16383)
		cyl = 16383;
	snprintf(want, sizeof want, "\nddb.geometry.cylinders = \"%llu\"\n"
		 "ddb.geometry.heads = \"%u\"\nddb.geometry.sectors = \"63\"\n",
		 (unsigned long long)cyl, heads);
	CHECK(strstr(desc, want) != NULL);
	CHECK(strstr(desc, "\nddb.virtualHWVersion = \"4\"\n") != NULL);

	/* Both directories name their own preallocated, consecutive tables;
	 * the rest of each directory's last sector is zero. */
	const uint8_t *rgdp = f + rgd * 512, *gdp = f + gd * 512;
	for (uint64_t i = 0; i < ngts; i++) {
		CHECK_EQ_U64(bw_get_le32(rgdp + 4 * i), rgd + gd_sect + i * GT_SECT);
		CHECK_EQ_U64(bw_get_le32(gdp + 4 * i), gd + gd_sect + i * GT_SECT);
	}
	CHECK(tf_is_zero(rgdp + 4 * ngts, gd_sect * 512 - 4 * ngts));
	CHECK(tf_is_zero(gdp + 4 * ngts, gd_sect * 512 - 4 * ngts));
	/* The padding between the tables and overHead is zero. */
	uint64_t end_gts = gd + gd_sect + ngts * GT_SECT;
	CHECK(tf_is_zero(f + end_gts * 512, (overhead - end_gts) * 512));

	/* Grain tables: primary == redundant; each entry 0 for a zero grain
	 * or the next grain in the file, in LBA order. */
	uint64_t next = overhead;
	for (uint64_t g = 0; g < ngts * SPAN_GRAINS; g++) {
		uint64_t t = g / SPAN_GRAINS, j = g % SPAN_GRAINS;
		uint32_t e = bw_get_le32(f + (gd + gd_sect + t * GT_SECT) * 512 + 4 * j);
		uint32_t re = bw_get_le32(f + (rgd + gd_sect + t * GT_SECT) * 512 + 4 * j);
		CHECK_EQ_U64(e, re);
		uint64_t off = g * GRAIN;
		size_t have = g < ngrains ? (size - off < GRAIN ? (size_t)(size - off) : GRAIN) : 0;
		if (g >= ngrains) {
			CHECK_EQ_U64(e, 0);
			continue;
		}
		if (e == 0) {
			CHECK(tf_is_zero(src + off, have));
			continue;
		}
		CHECK_EQ_U64(e, next);
		if (e != next || (uint64_t)e * 512 + GRAIN > len)
			return;
		const uint8_t *gp = f + (uint64_t)e * 512;
		CHECK(memcmp(gp, src + off, have) == 0);
		CHECK(tf_is_zero(gp + have, GRAIN - have));
		CHECK(!tf_is_zero(gp, GRAIN));
		next += GRAIN_SECT;
		out->grains++;
	}
	CHECK_EQ_U64(len, next * 512);          /* nothing after the last grain */
}

/* Read PATH back with bw_disk_open and compare to SRC; the reader gives
 * the descriptor's adapter type (patch keeps it). */
static void read_back(const char *path, const uint8_t *src, uint64_t size, const char *adapter)
{
	struct bw_disk *d;
	struct bw_error e;
	CHECK(bw_disk_open(path, &d, &e) == 0);
	if (!d)
		return;
	CHECK(strcmp(bw_disk_format(d), "vmdk-monolithicSparse") == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, src, size) == 0);
	free(buf);
	struct bw_disk_info info;
	CHECK(bw_disk_get_info(d, &info, &e) == 0);
	CHECK(strcmp(info.vmdk_adapter, adapter) == 0);
	bw_disk_close(d);
}

static void check_disk(const char *name, const uint8_t *src, uint64_t size,
		       const char *adapter, unsigned heads, unsigned want_grains)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_SPARSE, .adapter_type = adapter };
	CHECK(write_disk(path, src, size, o) == 0);
	size_t len;
	uint8_t *f = tf_slurp(path, &len);
	CHECK(f != NULL);
	struct parsed p;
	if (f) {
		parse_sparse(f, len, src, size, name, adapter ? adapter : "ide", heads, &p);
		CHECK_EQ_U64(p.grains, want_grains);
	}
	read_back(path, src, size, adapter ? adapter : "ide");
	free(f);
	unlink(path);
}

/* A fixed CID: in the descriptor, and the same bytes on every run (the
 * uuid.image derives from it), for both VMDK writers. */
static void test_fixed_cid(void)
{
	const uint64_t size = 3 * MiB;
	uint8_t *src = calloc(1, size);
	tf_fill_random(src + MiB, 200 * KiB, &rng_state);
	enum bw_write_format fmts[] = { BW_WRITE_VMDK_SPARSE, BW_WRITE_VMDK_STREAM };
	for (size_t k = 0; k < 2; k++) {
		char a[256], b[256];
		snprintf(a, sizeof a, "%s/cid-a.vmdk", dir);
		snprintf(b, sizeof b, "%s/cid-b.vmdk", dir);
		struct bw_writer_opts o = { .format = fmts[k], .vmdk_cid = 0x1234abcd,
					    .threads = 2, .name = "/x/final.vmdk" };
		CHECK(write_disk(a, src, size, o) == 0);
		CHECK(write_disk(b, src, size, o) == 0);
		size_t la, lb;
		uint8_t *fa = tf_slurp(a, &la), *fb = tf_slurp(b, &lb);
		CHECK(fa && fb && la == lb && memcmp(fa, fb, la) == 0);
		CHECK(fa && memmem(fa, la, "\nCID=1234abcd\n", 14) != NULL);
		CHECK(fa && memmem(fa, la, "\nRW 6144 SPARSE \"final.vmdk\"\n", 29) != NULL);
		if (fa && k == 0) {
			struct parsed p;
			parse_sparse(fa, la, src, size, "final.vmdk", "ide", 16, &p);
			CHECK(strcmp(p.cid, "1234abcd") == 0);
			CHECK_EQ_U64(p.grains, 4);      /* 200 KiB from a grain edge */
		}
		free(fa);
		free(fb);
		/* Random CIDs differ between images. */
		o.vmdk_cid = 0;
		CHECK(write_disk(a, src, size, o) == 0);
		CHECK(write_disk(b, src, size, o) == 0);
		fa = tf_slurp(a, &la);
		fb = tf_slurp(b, &lb);
		CHECK(fa && fb && la == lb && memcmp(fa, fb, la) != 0);
		free(fa);
		free(fb);
		unlink(a);
		unlink(b);
	}
	free(src);
}

static void test_refusals(void)
{
	char path[256];
	snprintf(path, sizeof path, "%s/refused.vmdk", dir);
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_SPARSE, .size = 4 * MiB };
	struct bw_writer *w = NULL;
	struct bw_error e;
	o.adapter_type = "virtio";
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(w == NULL && strstr(e.msg, "adapter") != NULL);
	unlink(path);
	o.adapter_type = NULL;
	o.vmdk_cid = 0xFFFFFFFFu;
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "CID") != NULL);
	unlink(path);
	o.vmdk_cid = 0;
	o.size = (2ull << 40) + 512;
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "2 TiB") != NULL);
	unlink(path);
	/* Exactly 2 TiB opens (its tables are holes until written); abort. */
	o.size = 2ull << 40;
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	if (w) {
		uint8_t buf[4096];
		memset(buf, 0x5a, sizeof buf);
		CHECK(bw_writer_write(w, buf, sizeof buf, 0, &e) == 0);
		bw_writer_abort(w);
	}
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	test_refusals();
	test_fixed_cid();

	/* An empty disk: metadata only, every table entry 0. */
	uint64_t size = 5 * MiB;
	uint8_t *src = calloc(1, size);
	check_disk("empty.vmdk", src, size, NULL, 16, 0);
	free(src);

	/* 70 MiB + 1536 bytes: spans 0, 1 (no data) and 2; random grains,
	 * text, scattered bytes, a zero grain between data grains, and data in
	 * the disk's last sector (a partial last grain); lsilogic geometry. */
	size = 70 * MiB + 1536;
	src = calloc(1, size);
	tf_fill_random(src, 3 * GRAIN + 17, &rng_state);
	for (uint64_t off = 5 * GRAIN; off < 20 * MiB; off += 7 * GRAIN + 4096)
		memcpy(src + off, "boxwright", 9);
	tf_fill_random(src + 64 * MiB + 3, 2 * MiB, &rng_state);
	tf_fill_random(src + size - 512, 512, &rng_state);
	unsigned want = 0;
	for (uint64_t g = 0; g * GRAIN < size; g++) {
		uint64_t off = g * GRAIN;
		size_t n = size - off < GRAIN ? (size_t)(size - off) : GRAIN;
		want += !tf_is_zero(src + off, n);
	}
	check_disk("odd.vmdk", src, size, "lsilogic", 255, want);
	free(src);

	/* All data: every grain allocated, one write path after another. */
	size = 40 * MiB;
	src = malloc(size);
	tf_fill_random(src, size, &rng_state);
	check_disk("full.vmdk", src, size, "buslogic", 255, (unsigned)(size / GRAIN));
	free(src);

	rmdir(dir);
	return check_done("test_vmdk_sparse_write");
}

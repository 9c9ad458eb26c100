/*
 * Unit tests of the used-cluster copy (src/copy/copy.c, bw_copy): a
 * synthetic source disk (a raw file, dense or with holes) with NTFS
 * regions whose free-cluster maps are set here bit by bit, copied into a
 * raw writer and compared byte for byte with what must come out: every
 * byte of a USED cluster and every byte outside the volumes as in the
 * source, every byte of a FREE cluster zero.  The bitmaps exercise the
 * run logic's edges: all-used bytes between free runs (and all-free
 * bytes between used ones), single used clusters inside free bytes,
 * runs that begin and end mid-byte, runs longer than the 4 MiB copy
 * chunk, the volume's last cluster and the bytes after it; at cluster
 * sizes 512, 4096 and 65536.  Then: replaced regions (and merged with NTFS:
 * used clusters from the replacement, free ones from the input), out_offset, the
 * stop flag (BW_EINTERRUPTED), the progress callback and the stats, and
 * the regions bw_copy refuses (BW_EINVAL).
 *
 * The volumes are bw_ntfs handles built from ntfs_internal.h (geometry and
 * $Bitmap only: all bw_copy reads of a volume), so that a bitmap of any
 * shape and a volume of any size take no NTFS image; bw_ntfs_open's own
 * reading of $Bitmap is tested in test_ntfs.c and ntfs-bitmap.sh.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/copy.h"
#include "boxwright/disk.h"
#include "boxwright/ntfs.h"
#include "ntfs/ntfs_internal.h"
#include "check.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

static char dir[] = "/tmp/bw-test-copy.XXXXXX";
static char in_path[300], out_path[300], rep_path[300];

/* A byte of the source at disk offset P: never zero, and different from
 * its neighbours and from the same byte of other clusters, so that a
 * byte copied from the wrong place or a zeroed byte shows. */
static uint8_t src_byte(uint64_t p, uint8_t salt)
{
	uint64_t x = (p + salt) * 0x9E3779B97F4A7C15ull;
	return (uint8_t)((x >> 56) | 1);
}

/* A source disk of SIZE bytes.  HOLES (or NULL) lists [start, end) pairs
 * left unwritten: the allocation map skips them and they read as zero,
 * as in DATA. */
struct source {
	uint8_t *data;
	uint64_t size;
};

static int make_source(const char *path, uint64_t size, uint8_t salt,
		       const uint64_t (*holes)[2], size_t nholes,
		       struct source *s)
{
	s->size = size;
	s->data = malloc(size);
	if (!s->data)
		return -1;
	for (uint64_t p = 0; p < size; p++)
		s->data[p] = src_byte(p, salt);
	for (size_t h = 0; h < nholes; h++)
		memset(s->data + holes[h][0], 0, holes[h][1] - holes[h][0]);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
		return -1;
	/* Write everything outside the holes, so that they stay holes. */
	uint64_t p = 0;
	for (size_t h = 0; h <= nholes; h++) {
		uint64_t end = h < nholes ? holes[h][0] : size;
		if (end > p && pwrite(fd, s->data + p, end - p, (off_t)p) != (ssize_t)(end - p))
			return -1;
		if (h < nholes)
			p = holes[h][1];
	}
	return close(fd);
}

/* A volume handle: geometry and $Bitmap, nothing else. */
static struct bw_ntfs *fake_volume(uint32_t cs, uint64_t total_clusters,
				   const uint8_t *bitmap, size_t nbytes)
{
	struct bw_ntfs *v = calloc(1, sizeof *v);
	if (!v || !(v->bitmap = malloc(nbytes ? nbytes : 1))) {
		free(v);
		return NULL;
	}
	memcpy(v->bitmap, bitmap, nbytes);
	v->bitmap_len = nbytes;
	v->geo.bytes_per_sector = 512;
	v->geo.cluster_size = cs;
	v->geo.total_clusters = total_clusters;
	v->geo.total_sectors = total_clusters * cs / 512;
	return v;
}

static void free_volume(struct bw_ntfs *v)
{
	if (v) {
		free(v->bitmap);
		free(v);
	}
}

static int used(const uint8_t *bm, uint64_t lcn)
{
	return (bm[lcn / 8] >> (lcn % 8)) & 1;
}

/*
 * The bitmap patterns, by byte: the first bytes are hand-placed edges,
 * then a long used run (longer than the 4 MiB copy chunk at every
 * cluster size), then used bytes alone inside long free runs, then
 * pseudo-random bytes.  NBYTES covers the volume.
 */
static void make_bitmap(uint8_t *bm, size_t nbytes, uint32_t cs)
{
	static const uint8_t edges[] = {
		0xFF, 0x00, 0xFF, 0x00,      /* an all-used byte between free runs */
		0x00, 0x10, 0x00, 0x00,      /* one used cluster inside free bytes */
		0x01, 0x80, 0x80, 0x01,      /* runs ending and starting at a byte edge */
		0xFF, 0xFF, 0x00, 0xFF,      /* an all-free byte between used runs */
		0x7E, 0x81, 0xAA, 0x55,      /* runs of one and six clusters mid-byte */
		0xF0, 0x0F, 0x0F, 0xF0,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0xFF, 0x00, 0x00, 0x00,      /* 8 used, then 56 free */
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0xFF,      /* 56 free, then 8 used */
	};
	memset(bm, 0, nbytes);
	memcpy(bm, edges, sizeof edges < nbytes ? sizeof edges : nbytes);
	/* A used run of 4 MiB + 3 clusters starting mid-byte. */
	uint64_t first = 8 * 64 + 5, n = 4 * MiB / cs + 3;
	for (uint64_t l = first; l < first + n && l / 8 < nbytes; l++)
		bm[l / 8] |= (uint8_t)(1u << (l % 8));
	/* Then used bytes alone in 40 free bytes, then 0x00 alone in 0xFF. */
	size_t at = (size_t)((first + n) / 8 + 2);
	for (int k = 0; k < 4 && at + 41 < nbytes; k++, at += 41)
		bm[at + 20] = 0xFF;
	for (int k = 0; k < 4 && at + 41 < nbytes; k++, at += 41) {
		memset(bm + at, 0xFF, 41);
		bm[at + 20] = 0x00;
	}
	/* Pseudo-random bytes up to the end; the last cluster used. */
	uint32_t x = 12345;
	for (; at < nbytes; at++) {
		x = x * 1103515245u + 12345u;
		bm[at] = (uint8_t)(x >> 16);
	}
	if (nbytes)
		bm[nbytes - 1] |= 0x80;
}

/* What the output must hold: SRC shifted by OUT_OFFSET, free clusters of
 * NTFS regions zero, replaced regions from REP (NULL: none). */
static uint8_t *expected(const struct source *src,
			 const struct bw_copy_region *reg, size_t nreg,
			 const struct source *rep, uint64_t out_offset)
{
	uint8_t *e = calloc(1, src->size + out_offset);
	if (!e)
		return NULL;
	memcpy(e + out_offset, src->data, src->size);
	for (size_t i = 0; i < nreg; i++) {
		if (reg[i].replace) {
			memcpy(e + out_offset + reg[i].offset, rep->data, reg[i].size);
			continue;
		}
		const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(reg[i].ntfs);
		size_t nb;
		const uint8_t *bm = bw_ntfs_bitmap(reg[i].ntfs, &nb);
		for (uint64_t l = 0; l < g->total_clusters; l++)
			if (!used(bm, l))
				memset(e + out_offset + reg[i].offset + l * g->cluster_size,
				       0, g->cluster_size);
	}
	return e;
}

/* Progress as bw_copy reports it. */
struct progress {
	unsigned calls;
	uint64_t last_done, total;
	int backwards, total_changed;
	uint64_t stop_after;       /* non-zero: set *stop once done >= this */
	volatile int *stop;
};

static void on_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct progress *p = opaque;
	if (p->calls && done < p->last_done)
		p->backwards = 1;
	if (p->calls && total != p->total)
		p->total_changed = 1;
	p->calls++;
	p->last_done = done;
	p->total = total;
	if (p->stop_after && done >= p->stop_after)
		*p->stop = 1;
}

/* Copy IN_PATH through a raw writer of the input's size + OUT_OFFSET;
 * *OUT gets the output's bytes (when the copy succeeded). */
static int run_copy(const struct bw_copy_region *reg, size_t nreg,
		    uint64_t out_offset, struct progress *pr,
		    const volatile int *stop, struct bw_copy_stats *st,
		    struct bw_error *err, uint8_t **out)
{
	*out = NULL;
	struct bw_disk *in;
	int r = bw_disk_open(in_path, &in, err);
	if (r)
		return r;
	uint64_t size = bw_disk_size(in) + out_offset;
	struct bw_writer_opts wo = { .format = BW_WRITE_RAW, .size = size,
				     .scratch = 1 };
	struct bw_writer *w;
	unlink(out_path);
	r = bw_writer_open(out_path, &wo, &w, err);
	if (r) {
		bw_disk_close(in);
		return r;
	}
	struct bw_copy_opts o = {
		.regions = reg, .nregions = nreg, .out_offset = out_offset,
		.progress = pr ? on_progress : NULL, .opaque = pr, .stop = stop,
	};
	r = bw_copy(in, w, &o, st, err);
	if (r == 0)
		r = bw_writer_finish(w, err);
	else
		bw_writer_abort(w);
	bw_disk_close(in);
	if (r)
		return r;
	*out = malloc(size);
	int fd = open(out_path, O_RDONLY);
	struct stat sb;
	if (!*out || fd < 0 || fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != size ||
	    pread(fd, *out, size, 0) != (ssize_t)size) {
		CHECK(!"cannot read the output back");
		free(*out);
		*out = NULL;
		r = -100;
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/* Compare and say where the first difference is, by cluster state. */
static int same(const uint8_t *got, const uint8_t *want, uint64_t len)
{
	for (uint64_t p = 0; p < len; p++) {
		if (got[p] != want[p]) {
			fprintf(stderr, "  first difference at output offset %llu: got 0x%02x, want 0x%02x\n",
				(unsigned long long)p, got[p], want[p]);
			return 0;
		}
	}
	return 1;
}

/*
 * Copy with REG (NREG regions) at OUT_OFFSET and check the output is WANT
 * (LEN bytes), every mapped byte was read or skipped, and progress went
 * forward to one total, the mapped bytes.  *ST for the caller's checks.
 */
static void check_copy(const struct bw_copy_region *reg, size_t nreg, uint64_t out_offset,
		       const uint8_t *want, uint64_t len, struct bw_copy_stats *st)
{
	struct progress pr = {0};
	struct bw_error err;
	uint8_t *got;
	CHECK_EQ_U64(run_copy(reg, nreg, out_offset, &pr, NULL, st, &err, &got), 0);
	CHECK(got && same(got, want, len));
	CHECK_EQ_U64(st->read + st->skipped, st->mapped);
	CHECK(!pr.backwards && !pr.total_changed);
	CHECK_EQ_U64(pr.total, st->mapped);
	CHECK_EQ_U64(pr.last_done, st->mapped);
	free(got);
}

static uint64_t free_bytes(const struct bw_ntfs *v)
{
	const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(v);
	size_t nb;
	const uint8_t *bm = bw_ntfs_bitmap(v, &nb);
	uint64_t n = 0;
	for (uint64_t l = 0; l < g->total_clusters; l++)
		n += !used(bm, l);
	return n * g->cluster_size;
}

/* ------------------------------------------------------------------ */

/* One volume at PART_OFF in a dense disk: bytes, stats, progress. */
static void test_volume(uint32_t cs, uint64_t part_off)
{
	const uint64_t vol = 12 * MiB, part = vol + 512;   /* + backup boot sector */
	const uint64_t disk = part_off + part + 64 * KiB;
	const uint64_t total = vol / cs;
	struct source src;
	CHECK(make_source(in_path, disk, (uint8_t)cs, NULL, 0, &src) == 0);
	size_t nb = (size_t)(total / 8);
	uint8_t *bm = malloc(nb);
	make_bitmap(bm, nb, cs);
	struct bw_ntfs *v = fake_volume(cs, total, bm, nb);
	CHECK(v != NULL);
	struct bw_copy_region reg = { .offset = part_off, .size = part, .ntfs = v };
	uint8_t *want = expected(&src, &reg, 1, NULL, 0);

	struct progress pr = {0};
	struct bw_copy_stats st;
	struct bw_error err = {0};
	uint8_t *got;
	int r = run_copy(&reg, 1, 0, &pr, NULL, &st, &err, &got);
	CHECK_EQ_U64(r, 0);
	if (r)
		fprintf(stderr, "  cs %u: %s\n", cs, err.msg);
	if (got) {
		if (!same(got, want, disk)) {
			fprintf(stderr, "  (cluster size %u, partition at %llu)\n", cs,
				(unsigned long long)part_off);
			CHECK(!"output differs");
		}
		/* The free clusters did hold data in the source: masking
		 * them is what made the difference. */
		CHECK(free_bytes(v) > 0);
	}
	/* Stats: the map is the whole (dense) disk; the free clusters
	 * were skipped, everything else read. */
	CHECK_EQ_U64(st.mapped, disk);
	CHECK_EQ_U64(st.skipped, free_bytes(v));
	CHECK_EQ_U64(st.read + st.skipped, st.mapped);
	/* Progress: monotonic, one total, ending at it. */
	CHECK(pr.calls > 0);
	CHECK(!pr.backwards && !pr.total_changed);
	CHECK_EQ_U64(pr.total, disk);
	CHECK_EQ_U64(pr.last_done, disk);
	free(got);
	free(want);
	free_volume(v);
	free(bm);
	free(src.data);
}

/* Every state of the first 64 clusters, one at a time, at 4 KiB: a
 * bitmap that is all free but one byte of each value 0..255. */
static void test_every_byte(void)
{
	const uint32_t cs = 4096;
	const uint64_t total = 256 * 3 * 8;      /* 6144 clusters, 24 MiB */
	struct source src;
	CHECK(make_source(in_path, total * cs, 7, NULL, 0, &src) == 0);
	uint8_t bm[256 * 3];
	/* Byte values v at 3v+1, between two bytes of the opposite
	 * extremes: 0x00 v 0xFF for even v, 0xFF v 0x00 for odd. */
	for (unsigned b = 0; b < 256; b++) {
		bm[3 * b] = b % 2 ? 0xFF : 0x00;
		bm[3 * b + 1] = (uint8_t)b;
		bm[3 * b + 2] = b % 2 ? 0x00 : 0xFF;
	}
	struct bw_ntfs *v = fake_volume(cs, total, bm, sizeof bm);
	struct bw_copy_region reg = { .offset = 0, .size = total * cs, .ntfs = v };
	uint8_t *want = expected(&src, &reg, 1, NULL, 0), *got;
	struct bw_copy_stats st;
	struct bw_error err;
	CHECK_EQ_U64(run_copy(&reg, 1, 0, NULL, NULL, &st, &err, &got), 0);
	CHECK(got && same(got, want, total * cs));
	CHECK_EQ_U64(st.skipped, free_bytes(v));
	free(got);
	free(want);
	free_volume(v);
	free(src.data);
}

/* Holes in the source map, inside used and free clusters and between
 * two volumes; out_offset shifts everything. */
static void test_holes_two_volumes_shift(void)
{
	const uint32_t cs = 4096;
	const uint64_t p1 = 1 * MiB, s1 = 3 * MiB, p2 = 5 * MiB, s2 = 2 * MiB + 512;
	const uint64_t disk = 8 * MiB;
	const uint64_t holes[][2] = {
		{ 1 * MiB + 64 * KiB, 1 * MiB + 256 * KiB },   /* inside volume 1 */
		{ 4 * MiB + 4 * KiB, 4 * MiB + 512 * KiB },    /* between the volumes */
		{ 7 * MiB, 7 * MiB + 4 * KiB },                /* volume 2's end */
	};
	struct source src;
	CHECK(make_source(in_path, disk, 3, holes, 3, &src) == 0);
	uint8_t bm1[96], bm2[64];
	make_bitmap(bm1, sizeof bm1, cs);
	for (size_t i = 0; i < sizeof bm2; i++)
		bm2[i] = (uint8_t)(i * 37 + 11);
	struct bw_ntfs *v1 = fake_volume(cs, s1 / cs, bm1, sizeof bm1);
	struct bw_ntfs *v2 = fake_volume(cs, (s2 - 512) / cs, bm2, sizeof bm2);
	struct bw_copy_region reg[2] = {
		{ .offset = p1, .size = s1, .ntfs = v1 },
		{ .offset = p2, .size = s2, .ntfs = v2 },
	};
	const uint64_t shifts[] = { 0, 512, 1 * MiB + 4 * KiB };
	for (size_t k = 0; k < 3; k++) {
		uint64_t shift = shifts[k];
		uint8_t *want = expected(&src, reg, 2, NULL, shift);
		struct bw_copy_stats st;
		check_copy(reg, 2, shift, want, disk + shift, &st);
		uint64_t hole_bytes = 0;
		for (size_t h = 0; h < 3; h++)
			hole_bytes += holes[h][1] - holes[h][0];
		CHECK_EQ_U64(st.mapped, disk - hole_bytes);
		free(want);
	}
	free_volume(v1);
	free_volume(v2);
	free(src.data);
}

/* A replaced region (a working partition file) next to an NTFS one: its
 * bytes come from the replacement, holes as zeros, data where the input
 * had a hole included; the input's bytes there never show. */
static void test_replace(void)
{
	const uint32_t cs = 4096;
	const uint64_t disk = 10 * MiB, p1 = 1 * MiB, s1 = 2 * MiB;
	const uint64_t p2 = 4 * MiB, s2 = 5 * MiB;
	const uint64_t holes[][2] = { { 6 * MiB, 7 * MiB } };   /* input hole in region 2 */
	struct source src, rep;
	CHECK(make_source(in_path, disk, 9, holes, 1, &src) == 0);
	/* The replacement: data over the input's hole, holes elsewhere,
	 * and a run longer than the 4 MiB chunk. */
	const uint64_t rholes[][2] = { { 0, 64 * KiB }, { 200 * KiB, 300 * KiB } };
	CHECK(make_source(rep_path, s2, 77, rholes, 2, &rep) == 0);
	uint8_t bm[64];
	make_bitmap(bm, sizeof bm, cs);
	struct bw_ntfs *v = fake_volume(cs, s1 / cs, bm, sizeof bm);
	struct bw_disk *rd;
	struct bw_error err;
	CHECK_EQ_U64(bw_disk_open(rep_path, &rd, &err), 0);
	struct bw_copy_region reg[2] = {
		{ .offset = p1, .size = s1, .ntfs = v },
		{ .offset = p2, .size = s2, .replace = rd },
	};
	uint8_t *want = expected(&src, reg, 2, &rep, 4096);
	struct bw_copy_stats st;
	check_copy(reg, 2, 4096, want, disk + 4096, &st);
	/* The replaced region counts whole in the total. */
	CHECK_EQ_U64(st.mapped, disk);
	free(want);
	bw_disk_close(rd);
	free_volume(v);
	free(src.data);
	free(rep.data);
	unlink(rep_path);
}

/*
 * A replaced region merged with NTFS (patch of a differencing VHD): the
 * clusters the volume uses from the replacement (its holes as zeros), its
 * free clusters from the input as they are (an input hole as zeros), the
 * bytes past the last cluster from the replacement.
 */
static void test_merged(void)
{
	const uint32_t cs = 4096;
	const uint64_t disk = 10 * MiB, p = 2 * MiB + 4096, size = 5 * MiB;
	const uint64_t nclusters = (size - 64 * KiB) / cs;      /* a 64 KiB tail */
	const uint64_t holes[][2] = { { 4 * MiB, 5 * MiB + 512 } };
	struct source src, rep;
	CHECK(make_source(in_path, disk, 11, holes, 1, &src) == 0);
	const uint64_t rholes[][2] = { { 8 * KiB, 40 * KiB }, { 3 * MiB, 3 * MiB + 100 * KiB } };
	CHECK(make_source(rep_path, size, 99, rholes, 2, &rep) == 0);
	uint8_t bm[(5 * MiB / 4096 + 7) / 8];
	make_bitmap(bm, sizeof bm, cs);
	struct bw_ntfs *v = fake_volume(cs, nclusters, bm, sizeof bm);
	struct bw_disk *rd;
	struct bw_error err;
	CHECK_EQ_U64(bw_disk_open(rep_path, &rd, &err), 0);
	struct bw_copy_region reg = { .offset = p, .size = size, .ntfs = v, .replace = rd };
	uint8_t *want = malloc(disk);
	memcpy(want, src.data, disk);
	for (uint64_t l = 0; l < nclusters; l++)
		if (used(bm, l))
			memcpy(want + p + l * cs, rep.data + l * cs, cs);
	memcpy(want + p + nclusters * cs, rep.data + nclusters * cs, size - nclusters * cs);
	struct bw_copy_stats st;
	check_copy(&reg, 1, 0, want, disk, &st);
	CHECK_EQ_U64(st.mapped, disk);          /* the region counts whole */
	free(want);
	bw_disk_close(rd);
	free_volume(v);
	free(src.data);
	free(rep.data);
	unlink(rep_path);
}

/* The stop flag: set before the copy, and set by the progress callback
 * part-way: after plain bytes, inside a used run, and inside the free run
 * that ends the disk (nothing is left to read there, but the caller
 * asked to stop while the copy ran: it is still BW_EINTERRUPTED).  No
 * byte is read after the flag went up. */
static void test_stop(void)
{
	const uint32_t cs = 4096;
	const uint64_t disk = 12 * MiB;
	struct source src;
	CHECK(make_source(in_path, disk, 5, NULL, 0, &src) == 0);
	uint8_t bm[256];
	memset(bm, 0xFF, 128);              /* 4 MiB used ... */
	memset(bm + 128, 0x00, 128);        /* ... 4 MiB free, to the end */
	struct bw_ntfs *v = fake_volume(cs, 2048, bm, sizeof bm);
	struct bw_copy_region reg = { .offset = 4 * MiB, .size = 8 * MiB, .ntfs = v };
	volatile int stop = 1;
	struct bw_copy_stats st;
	struct bw_error err = {0};
	uint8_t *got;
	CHECK_EQ_U64(run_copy(&reg, 1, 0, NULL, &stop, &st, &err, &got),
		     (uint64_t)BW_EINTERRUPTED);
	CHECK(strstr(err.msg, "interrupted") != NULL);
	CHECK_EQ_U64(st.read, 0);
	const uint64_t at[] = { 1, 4 * MiB + 1, 9 * MiB };
	const uint64_t read_by_then[] = { 4 * MiB, 8 * MiB, 8 * MiB };
	for (size_t k = 0; k < 3; k++) {
		stop = 0;
		struct progress pr = { .stop_after = at[k], .stop = (volatile int *)&stop };
		CHECK_EQ_U64(run_copy(&reg, 1, 0, &pr, &stop, &st, &err, &got),
			     (uint64_t)BW_EINTERRUPTED);
		CHECK_EQ_U64(st.read, read_by_then[k]);
		CHECK(pr.last_done >= at[k]);
	}
	free_volume(v);
	free(src.data);
}

/* Regions bw_copy refuses before doing anything. */
static void test_bad_regions(void)
{
	const uint32_t cs = 4096;
	struct source src;
	CHECK(make_source(in_path, 4 * MiB, 1, NULL, 0, &src) == 0);
	uint8_t bm[64] = {0};
	struct bw_ntfs *v = fake_volume(cs, 512, bm, sizeof bm);       /* 2 MiB */
	struct bw_ntfs *big = fake_volume(cs, 513, bm, sizeof bm);     /* bitmap too short */
	struct bw_ntfs *tiny = fake_volume(cs, 1, bm, sizeof bm);
	struct bw_disk *rd;
	struct bw_error err;
	struct source rep;
	CHECK(make_source(rep_path, 1 * MiB, 2, NULL, 0, &rep) == 0);
	CHECK_EQ_U64(bw_disk_open(rep_path, &rd, &err), 0);
	struct {
		struct bw_copy_region reg[5];
		size_t n;
	} bad[] = {
		{ { { .offset = 3 * MiB, .size = 2 * MiB, .ntfs = v } }, 1 },   /* past the disk */
		{ { { .offset = 0, .size = 1 * MiB, .ntfs = v } }, 1 },         /* volume > region */
		{ { { .offset = 0, .size = 4 * MiB, .ntfs = big } }, 1 },       /* bitmap < volume */
		{ { { .offset = 0, .size = 2 * MiB, .ntfs = v },
		    { .offset = 1 * MiB, .size = 1 * MiB, .replace = rd } }, 2 },  /* overlap */
		{ { { .offset = 0, .size = 1 * MiB, .ntfs = v, .replace = rd } }, 1 },  /* both, volume > region */
		{ { { .offset = 0, .size = 1 * MiB } }, 1 },                    /* neither */
		{ { { .offset = 0, .size = 2 * MiB, .replace = rd } }, 1 },     /* size differs */
		{ { { .offset = 0, .size = 4096, .ntfs = tiny },
		    { .offset = 8192, .size = 4096, .ntfs = tiny },
		    { .offset = 16384, .size = 4096, .ntfs = tiny },
		    { .offset = 24576, .size = 4096, .ntfs = tiny },
		    { .offset = 32768, .size = 4096, .ntfs = tiny } }, 5 },  /* too many */
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		uint8_t *got;
		struct bw_copy_stats st;
		int r = run_copy(bad[k].reg, bad[k].n, 0, NULL, NULL, &st, &err, &got);
		if (r != BW_EINVAL)
			fprintf(stderr, "  bad region case %zu: %d\n", k, r);
		CHECK_EQ_U64(r, (uint64_t)BW_EINVAL);
		free(got);
	}
	bw_disk_close(rd);
	free_volume(v);
	free_volume(big);
	free_volume(tiny);
	free(src.data);
	free(rep.data);
	unlink(rep_path);
}

/* A range of the input (a partition copied as it is): exactly its bytes,
 * at out_offset further on, holes inside it as zeros, nothing outside;
 * a range past the disk refused. */
static void test_range(void)
{
	const uint64_t size = 3 * MiB, a = MiB / 2 + 512, b = 2 * MiB + 4096;
	const uint64_t holes[][2] = { { MiB, MiB + 64 * 1024 } };
	struct source src;
	CHECK(make_source(in_path, size, 7, holes, 1, &src) == 0);
	struct bw_disk *in;
	struct bw_error err;
	CHECK(bw_disk_open(in_path, &in, &err) == 0);
	struct bw_writer_opts wo = { .format = BW_WRITE_RAW, .size = size + MiB, .scratch = 1 };
	struct bw_writer *w;
	unlink(out_path);
	CHECK(bw_writer_open(out_path, &wo, &w, &err) == 0);
	struct bw_copy_opts o = { .range_start = a, .range_end = b, .out_offset = MiB };
	struct bw_copy_stats st;
	CHECK(bw_copy(in, w, &o, &st, &err) == 0);
	CHECK(bw_writer_finish(w, &err) == 0);
	CHECK_EQ_U64(st.mapped, (b - a) - 64 * 1024);
	uint8_t *got = malloc(size + MiB);
	int fd = open(out_path, O_RDONLY);
	CHECK(got && fd >= 0 && pread(fd, got, size + MiB, 0) == (ssize_t)(size + MiB));
	if (fd >= 0)
		close(fd);
	int ok = got != NULL;
	for (uint64_t p = 0; ok && p < size + MiB; p++) {
		uint8_t want = p >= a + MiB && p < b + MiB ? src.data[p - MiB] : 0;
		if (got[p] != want) {
			fprintf(stderr, "  range: output offset %llu is 0x%02x, want 0x%02x\n",
				(unsigned long long)p, got[p], want);
			ok = 0;
		}
	}
	CHECK(ok);
	free(got);
	struct bw_copy_opts bad = { .range_start = 0, .range_end = size + 512 };
	unlink(out_path);
	CHECK(bw_writer_open(out_path, &wo, &w, &err) == 0);
	CHECK(bw_copy(in, w, &bad, NULL, &err) == BW_EINVAL);
	bw_writer_abort(w);
	bw_disk_close(in);
	free(src.data);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	snprintf(in_path, sizeof in_path, "%s/in.img", dir);
	snprintf(out_path, sizeof out_path, "%s/out.img", dir);
	snprintf(rep_path, sizeof rep_path, "%s/rep.img", dir);

	test_volume(512, 1 * MiB);
	test_volume(4096, 0);
	test_volume(4096, 1 * MiB + 512);     /* not cluster-aligned in the disk */
	test_volume(65536, 2 * MiB);
	test_every_byte();
	test_holes_two_volumes_shift();
	test_replace();
	test_merged();
	test_stop();
	test_bad_regions();
	test_range();

	unlink(in_path);
	unlink(out_path);
	rmdir(dir);
	return check_done("test_copy");
}

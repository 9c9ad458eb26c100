/*
 * VHD writer: dynamic and fixed images of sizes that are and are not CHS
 * products, written in several chunkings and read back with our reader;
 * the footer and dynamic header fields; the size rounding checked against
 * qemu-img 7.2's `create -f vpc` sizes and against the spec's CHS
 * algorithm written out again here; vhd_keep keeping the input's
 * identity; a fixed identity (reproducible builds: the unique id derived,
 * the time stamp given, the same bytes whatever the chunking); all-zero
 * blocks left unallocated; and refused options.
 * Differencing: a child over a parent we write, blocks equal to the
 * parent's left out (zeros over zeros too), blocks that differ written
 * whole -- a block never written over parent data among them -- the
 * parent link kept, read back through the chain by our reader.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"
#include "testfile.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define BLOCK (2 * MiB)
#define MAX_GEOMETRY (UINT64_C(65535) * 16 * 255)

static char dir[] = "/tmp/bw-test-vhdw.XXXXXX";
static char path[256];

/* The spec's "CHS Calculation" pseudo-code (Appendix), as printed there. */
static void spec_chs(uint64_t total_sectors, unsigned *c, unsigned *h, unsigned *s)
{
	unsigned sectors_per_track, heads, cylinder_times_heads;
	if (total_sectors > 65535 * 16 * 255)
		total_sectors = 65535 * 16 * 255;
	if (total_sectors >= 65535 * 16 * 63) {
		sectors_per_track = 255;
		heads = 16;
		cylinder_times_heads = (unsigned)(total_sectors / sectors_per_track);
	} else {
		sectors_per_track = 17;
		cylinder_times_heads = (unsigned)(total_sectors / sectors_per_track);
		heads = (cylinder_times_heads + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cylinder_times_heads >= (heads * 1024) || heads > 16) {
			sectors_per_track = 31;
			heads = 16;
			cylinder_times_heads = (unsigned)(total_sectors / sectors_per_track);
		}
		if (cylinder_times_heads >= (heads * 1024)) {
			sectors_per_track = 63;
			heads = 16;
			cylinder_times_heads = (unsigned)(total_sectors / sectors_per_track);
		}
	}
	*c = cylinder_times_heads / heads;
	*h = heads;
	*s = sectors_per_track;
}

/* The size FORMATS.md asks for: the smallest sector count at or above the
 * request whose spec geometry holds the request, as its CHS product;
 * the request itself once the geometry is the largest. */
static uint64_t expected_size(uint64_t req, unsigned *c, unsigned *h, unsigned *s)
{
	uint64_t want = req / 512, n = want;
	spec_chs(n, c, h, s);
	while ((uint64_t)*c * *h * *s < want && n < MAX_GEOMETRY)
		spec_chs(++n, c, h, s);
	uint64_t p = (uint64_t)*c * *h * *s;
	return p == MAX_GEOMETRY ? req : p * 512;
}

static uint32_t csum(const uint8_t *p, size_t n, size_t off)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < n; i++)
		if (i < off || i >= off + 4)
			sum += p[i];
	return ~sum;
}

static void read_at(const char *p, void *buf, size_t len, uint64_t off)
{
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, buf, len, (off_t)off) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
}

static uint64_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

enum chunking { ONE_WRITE, SMALL_SKIP_ZERO, MIXED };

/* Write DATA (REQ bytes) with the options O; returns the writer's bytes_out. */
static uint64_t write_disk(const struct bw_writer_opts *o, const uint8_t *data,
			   uint64_t req, enum chunking how)
{
	struct bw_writer *w;
	struct bw_error e;
	unlink(path);
	int r = bw_writer_open(path, o, &w, &e);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "%s\n", e.msg);
		return 0;
	}
	uint64_t off = 0;
	static const uint8_t zero[12288];
	while (off < req && r == 0) {
		uint64_t n;
		switch (how) {
		case ONE_WRITE:
			n = req;
			break;
		case SMALL_SKIP_ZERO:
			n = sizeof zero;
			if (n > req - off)
				n = req - off;
			if (memcmp(data + off, zero, (size_t)n) == 0) {
				off += n;     /* never written: must read as zero */
				continue;
			}
			break;
		default:
			/* Whole aligned blocks where possible, else odd pieces. */
			n = off % BLOCK == 0 && req - off >= BLOCK ? BLOCK : 65536 + 512;
			if (n > req - off)
				n = req - off;
			break;
		}
		r = bw_writer_write(w, data + off, (size_t)n, off, &e);
		CHECK(r == 0);
		off += n;
	}
	uint64_t out = bw_writer_bytes_out(w);
	r = bw_writer_finish(w, &e);
	CHECK(r == 0);
	if (r)
		fprintf(stderr, "%s\n", e.msg);
	return out;
}

/* Footer checks common to every file we make. */
static void check_footer(const uint8_t *f, uint32_t type, uint64_t size)
{
	CHECK(memcmp(f, "conectix", 8) == 0);
	CHECK_EQ_U64(bw_get_be32(f + 8), 2);
	CHECK_EQ_U64(bw_get_be32(f + 12), 0x00010000);
	CHECK_EQ_U64(bw_get_be64(f + 16), type != 2 ? 512 : UINT64_MAX);
	/* Seconds since 2000-01-01: within a day of now. */
	int64_t ts = (int64_t)bw_get_be32(f + 24) + 946684800;
	CHECK(ts > (int64_t)time(NULL) - 86400 && ts < (int64_t)time(NULL) + 86400);
	CHECK_EQ_U64(bw_get_be64(f + 48), size);
	CHECK_EQ_U64(bw_get_be32(f + 60), type);
	CHECK_EQ_U64(bw_get_be32(f + 64), csum(f, 512, 64));
	CHECK(f[84] == 0);
	for (int i = 85; i < 512; i++)
		if (f[i]) {
			CHECK(!"reserved footer bytes are zero");
			break;
		}
}

/* Write DATA (REQ bytes) as FORMAT in every chunking; read it back. */
static void roundtrip(enum bw_write_format format, const uint8_t *data, uint64_t req)
{
	unsigned c, h, s;
	uint64_t size = expected_size(req, &c, &h, &s);
	struct bw_writer_opts o = { .format = format, .size = req };
	CHECK_EQ_U64(bw_writer_actual_size(&o), size);
	uint64_t nblocks = (size + BLOCK - 1) / BLOCK, data_blocks = 0, alloc_bytes = 0;
	for (uint64_t b = 0; b < nblocks; b++) {
		uint64_t end = (b + 1) * BLOCK < req ? (b + 1) * BLOCK : req;
		for (uint64_t i = b * BLOCK; i < end; i++) {
			if (data[i]) {
				data_blocks++;
				alloc_bytes += ((b + 1) * BLOCK < size ? (b + 1) * BLOCK : size) - b * BLOCK;
				break;
			}
		}
	}
	uint8_t *buf = malloc(size);
	uint8_t first_id[16] = {0};
	for (int how = ONE_WRITE; how <= MIXED; how++) {
		uint64_t out = write_disk(&o, data, req, (enum chunking)how);
		struct bw_disk *d;
		struct bw_error e;
		int r = bw_disk_open(path, &d, &e);
		CHECK(r == 0);
		if (r) {
			fprintf(stderr, "%s\n", e.msg);
			continue;
		}
		int dyn = format == BW_WRITE_VHD_DYNAMIC;
		CHECK(strcmp(bw_disk_format(d), dyn ? "vhd-dynamic" : "vhd-fixed") == 0);
		CHECK_EQ_U64(bw_disk_size(d), size);
		CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
		CHECK(memcmp(buf, data, req) == 0);
		int tail_zero = 1;
		for (uint64_t i = req; i < size; i++)
			tail_zero &= buf[i] == 0;
		CHECK(tail_zero);
		struct bw_disk_info info;
		CHECK(bw_disk_get_info(d, &info, &e) == 0);
		CHECK(strcmp(info.creator, "bxwr") == 0);
		CHECK_EQ_U64(info.cylinders, c);
		CHECK_EQ_U64(info.heads, h);
		CHECK_EQ_U64(info.sectors_per_track, s);
		if ((uint64_t)c * h * s != MAX_GEOMETRY)
			CHECK_EQ_U64((uint64_t)c * h * s * 512, size);
		bw_disk_close(d);

		uint64_t fsize = file_size(path);
		uint8_t f[512], f0[512], hd[1024];
		read_at(path, f, 512, fsize - 512);
		check_footer(f, dyn ? 3 : 2, size);
		CHECK(memcmp(f + 28, "bxwr", 4) == 0);
		CHECK_EQ_U64(bw_get_be32(f + 32), 0x00010000);
		CHECK(memcmp(f + 36, "Wi2k", 4) == 0);
		CHECK_EQ_U64(bw_get_be64(f + 40), size);
		CHECK((f[68 + 6] & 0xF0) == 0x40);       /* a version 4 UUID */
		if (how == ONE_WRITE)
			memcpy(first_id, f + 68, 16);
		else
			CHECK(memcmp(first_id, f + 68, 16) != 0);
		if (!dyn) {
			CHECK_EQ_U64(fsize, size + 512);
			CHECK(out >= 512 && out <= size + 512);
			continue;
		}
		/* Dynamic: footer copy, header, BAT in write order, no empty blocks. */
		read_at(path, f0, 512, 0);
		CHECK(memcmp(f0, f, 512) == 0);
		read_at(path, hd, 1024, 512);
		CHECK(memcmp(hd, "cxsparse", 8) == 0);
		CHECK_EQ_U64(bw_get_be64(hd + 8), UINT64_MAX);
		CHECK_EQ_U64(bw_get_be64(hd + 16), 1536);
		CHECK_EQ_U64(bw_get_be32(hd + 24), 0x00010000);
		CHECK_EQ_U64(bw_get_be32(hd + 28), nblocks);
		CHECK_EQ_U64(bw_get_be32(hd + 32), BLOCK);
		CHECK_EQ_U64(bw_get_be32(hd + 36), csum(hd, 1024, 36));
		uint64_t bat_bytes = (nblocks * 4 + 511) & ~UINT64_C(511);
		uint8_t *bat = malloc(bat_bytes);
		read_at(path, bat, bat_bytes, 1536);
		uint64_t next = (1536 + bat_bytes) / 512, used = 0;
		for (uint64_t b = 0; b < nblocks; b++) {
			uint32_t entry = bw_get_be32(bat + 4 * b);
			if (entry == 0xFFFFFFFF)
				continue;
			CHECK_EQ_U64(entry, next);
			uint8_t bitmap[512];
			read_at(path, bitmap, 512, (uint64_t)entry * 512);
			CHECK(bitmap[0] == 0xFF && memcmp(bitmap, bitmap + 1, 511) == 0);
			next += (BLOCK + 512) / 512;
			used++;
		}
		for (uint64_t b = nblocks * 4; b < bat_bytes; b++)
			CHECK(bat[b] == 0xFF);
		CHECK_EQ_U64(used, data_blocks);
		CHECK_EQ_U64(fsize, next * 512 + 512);
		/* bytes_out is read before finish (which frees the writer):
		 * whole blocks so far; the last one and the metadata follow. */
		CHECK(out <= fsize && out % (BLOCK + 512) == 0);
		CHECK(out + BLOCK + 512 >= used * (BLOCK + 512));
		CHECK(bw_disk_open(path, &d, &e) == 0);
		CHECK(bw_disk_get_info(d, &info, &e) == 0);
		CHECK_EQ_U64(info.allocated, alloc_bytes);
		bw_disk_close(d);
		free(bat);
	}
	free(buf);
	unlink(path);
}

/* qemu-img 7.2 `create -f vpc SIZE`: virtual size and footer geometry. */
static const struct {
	uint64_t req, size;
	unsigned c, h, s;
} qemu_sizes[] = {
	{ 512, 34816, 1, 4, 17 },
	{ 1 * MiB, 1079296, 31, 4, 17 },
	{ 10 * MiB, 10514432, 302, 4, 17 },
	{ 4 * GiB, 4295467008, 8323, 16, 63 },
	{ 10 * GiB, 10737893376, 20806, 16, 63 },
	{ 127 * GiB, 136365219840, 65279, 16, 255 },
	{ 136899993600, 136899993600, 65535, 16, 255 },   /* the largest product */
	{ 136899993088, 136899993088, 65535, 16, 255 },   /* one sector below */
	{ 136899994112, 136899994112, 65535, 16, 255 },   /* one sector above */
	{ 200 * GiB, 200 * GiB, 65535, 16, 255 },
	{ 2040 * GiB, 2040 * GiB, 65535, 16, 255 },
};

static void test_sizes(void)
{
	for (size_t i = 0; i < sizeof qemu_sizes / sizeof qemu_sizes[0]; i++) {
		struct bw_writer_opts o = { .format = BW_WRITE_VHD_DYNAMIC,
					    .size = qemu_sizes[i].req };
		CHECK_EQ_U64(bw_writer_actual_size(&o), qemu_sizes[i].size);
		o.format = BW_WRITE_VHD_FIXED;
		CHECK_EQ_U64(bw_writer_actual_size(&o), qemu_sizes[i].size);
		unsigned c, h, s;
		CHECK_EQ_U64(expected_size(qemu_sizes[i].req, &c, &h, &s), qemu_sizes[i].size);
		/* The geometry in the footer of an empty dynamic disk. */
		o.format = BW_WRITE_VHD_DYNAMIC;
		struct bw_writer *w;
		struct bw_error e;
		unlink(path);
		CHECK(bw_writer_open(path, &o, &w, &e) == 0);
		CHECK(bw_writer_finish(w, &e) == 0);
		struct bw_disk *d;
		CHECK(bw_disk_open(path, &d, &e) == 0);
		struct bw_disk_info info;
		CHECK(bw_disk_get_info(d, &info, &e) == 0);
		CHECK_EQ_U64(bw_disk_size(d), qemu_sizes[i].size);
		CHECK_EQ_U64(info.cylinders, qemu_sizes[i].c);
		CHECK_EQ_U64(info.heads, qemu_sizes[i].h);
		CHECK_EQ_U64(info.sectors_per_track, qemu_sizes[i].s);
		CHECK_EQ_U64(info.allocated, 0);
		bw_disk_close(d);
	}
	/* Many more requests against the spec's algorithm: around each
	 * place where the geometry changes regime, and spread over the range. */
	static const uint64_t edges[] = {
		1, 68, 4 * 1024 * 17, 16 * 1024 * 17, 16 * 1024 * 31, 16 * 1024 * 63,
		65535ull * 16 * 63, 65535ull * 16 * 255,
	};
	unsigned mismatches = 0, tried = 0;
	for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++) {
		for (uint64_t n = edges[k] > 300 ? edges[k] - 300 : 1; n < edges[k] + 300; n += 7) {
			unsigned c, h, s;
			struct bw_writer_opts o = { .format = BW_WRITE_VHD_DYNAMIC, .size = n * 512 };
			mismatches += bw_writer_actual_size(&o) != expected_size(n * 512, &c, &h, &s);
			tried++;
		}
	}
	uint64_t x = 88172645463325252ull;
	for (int k = 0; k < 2000; k++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;     /* xorshift64 */
		uint64_t n = 1 + x % (2040ull * 2 * 1024 * 1024);
		unsigned c, h, s;
		struct bw_writer_opts o = { .format = BW_WRITE_VHD_FIXED, .size = n * 512 };
		mismatches += bw_writer_actual_size(&o) != expected_size(n * 512, &c, &h, &s);
		tried++;
	}
	CHECK_EQ_U64(mismatches, 0);
	CHECK(tried > 2000);
}

/* vhd_keep: the input's creator, geometry, sizes and unique id survive. */
static void test_keep(const uint8_t *data)
{
	uint8_t in[512] = {0};
	const uint64_t size = 10 * MiB;     /* not a CHS product: kept exactly */
	memcpy(in, "conectix", 8);
	bw_put_be32(in + 8, 2);
	bw_put_be32(in + 12, 0x00010000);
	bw_put_be64(in + 16, 512);
	memcpy(in + 28, "win ", 4);
	bw_put_be32(in + 32, 0x000A0000);
	memcpy(in + 36, "Wi2k", 4);
	bw_put_be64(in + 40, 8 * MiB);                /* original: grown since */
	bw_put_be64(in + 48, size);
	in[56] = 0x01; in[57] = 0x42; in[58] = 16; in[59] = 63;
	bw_put_be32(in + 60, 3);
	for (int i = 0; i < 16; i++)
		in[68 + i] = (uint8_t)(0xA0 + i);
	bw_put_be32(in + 64, csum(in, 512, 64));
	for (int fmt = BW_WRITE_VHD_DYNAMIC; fmt <= BW_WRITE_VHD_FIXED; fmt++) {
		struct bw_writer_opts o = { .format = (enum bw_write_format)fmt,
					    .size = size, .vhd_keep = 1 };
		memcpy(o.vhd_footer, in, 512);
		CHECK_EQ_U64(bw_writer_actual_size(&o), size);
		write_disk(&o, data, size, MIXED);
		uint8_t f[512];
		read_at(path, f, 512, file_size(path) - 512);
		check_footer(f, fmt == BW_WRITE_VHD_DYNAMIC ? 3 : 2, size);
		CHECK(memcmp(f + 28, in + 28, 60 - 28) == 0);   /* creator..geometry */
		CHECK(memcmp(f + 68, in + 68, 16) == 0);        /* unique id */
		struct bw_disk *d;
		struct bw_error e;
		CHECK(bw_disk_open(path, &d, &e) == 0);
		CHECK_EQ_U64(bw_disk_size(d), size);
		uint8_t *buf = malloc(size);
		CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
		CHECK(memcmp(buf, data, size) == 0);
		free(buf);
		bw_disk_close(d);
	}
	/* A kept footer that is not one, or too small for the data. */
	struct bw_writer_opts o = { .format = BW_WRITE_VHD_DYNAMIC, .size = size,
				    .vhd_keep = 1 };
	memcpy(o.vhd_footer, in, 512);
	o.vhd_footer[0] = 'X';
	struct bw_writer *w;
	struct bw_error e;
	unlink(path);
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "conectix") != NULL);
	o.vhd_footer[0] = 'c';
	o.size = size + 512;
	unlink(path);
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "kept VHD footer's current size 10485760") != NULL);
	unlink(path);
}

/*
 * A child of PARENT (6 blocks, the last one partial): block 0 equal to the
 * parent's, 1 zeros over zeros, 2 one sector changed, 3 zeros over parent
 * data (never written with SMALL_SKIP_ZERO: the writer must still
 * allocate it), 4 data over zeros, 5 equal again.  Blocks 2, 3 and 4 are
 * written, each with every sector bit set.
 */
static void test_diff(const uint8_t *pdata)
{
	const uint64_t size = 10514432;     /* a CHS product: 5 blocks + 30 KiB */
	char ppath[300];
	snprintf(ppath, sizeof ppath, "%s/parent.vhd", dir);
	uint8_t *cdata = malloc(size);
	memcpy(cdata, pdata, size);
	/* The parent: pdata with blocks 1 and 4 zero. */
	uint8_t *praw = malloc(size);
	memcpy(praw, pdata, size);
	memset(praw + 1 * BLOCK, 0, BLOCK);
	memset(praw + 4 * BLOCK, 0, BLOCK);
	struct bw_writer_opts po = { .format = BW_WRITE_VHD_DYNAMIC, .size = size };
	write_disk(&po, praw, size, MIXED);
	CHECK(rename(path, ppath) == 0);
	memcpy(cdata, praw, size);
	memset(cdata + 1 * BLOCK, 0, BLOCK);
	cdata[2 * BLOCK + 4096] ^= 0x5A;
	memset(cdata + 3 * BLOCK, 0, BLOCK);
	memset(cdata + 4 * BLOCK + 512, 0x77, 1024);

	struct bw_disk *pd;
	struct bw_error e;
	CHECK(bw_disk_open(ppath, &pd, &e) == 0);
	struct bw_writer_opts o = { .format = BW_WRITE_VHD_DIFF, .size = size,
				    .vhd_keep = 1, .parent = pd };
	read_at(ppath, o.vhd_footer, 512, file_size(ppath) - 512);
	o.vhd_footer[68] ^= 0xFF;            /* the child's own unique id */
	struct bw_vhd_link *l = calloc(1, sizeof *l);
	memcpy(l->header + 40, o.vhd_footer + 68, 16);
	l->header[40] ^= 0xFF;               /* the parent's id */
	bw_put_be32(l->header + 56, 0x12345678);
	static const char name[] = "parent.vhd", rel[] = ".\\parent.vhd";
	for (size_t i = 0; name[i]; i++)
		l->header[64 + 2 * i + 1] = (uint8_t)name[i];
	/* Locator 1 (not 0: entries keep their slots): W2ru, 1 sector. */
	uint8_t *loc = l->header + 576 + 24;
	memcpy(loc, "W2ru", 4);
	bw_put_be32(loc + 4, 1);
	bw_put_be32(loc + 8, (uint32_t)(2 * strlen(rel)));
	for (size_t i = 0; rel[i]; i++)
		l->loc_data[1][2 * i] = (uint8_t)rel[i];
	l->loc_len[1] = (uint32_t)(2 * strlen(rel));
	o.vhd_link = l;

	/* how 3: whole blocks, the all-zero ones skipped (block 3 then gets
	 * no write at all, whatever the chunking around it). */
	for (int how = SMALL_SKIP_ZERO; how <= MIXED + 1; how++) {
		if (how <= MIXED) {
			write_disk(&o, cdata, size, (enum chunking)how);
		} else {
			struct bw_writer *w;
			unlink(path);
			CHECK(bw_writer_open(path, &o, &w, &e) == 0);
			static const uint8_t zero[BLOCK];
			for (uint64_t off = 0; off < size; off += BLOCK) {
				size_t n = size - off < BLOCK ? (size_t)(size - off) : BLOCK;
				if (memcmp(cdata + off, zero, n) != 0)
					CHECK(bw_writer_write(w, cdata + off, n, off, &e) == 0);
			}
			CHECK(bw_writer_finish(w, &e) == 0);
		}
		uint8_t f[512], h[1024];
		read_at(path, f, 512, file_size(path) - 512);
		check_footer(f, 4, size);
		CHECK(memcmp(f + 68, o.vhd_footer + 68, 16) == 0);
		read_at(path, h, 1024, 512);
		CHECK(memcmp(h, "cxsparse", 8) == 0);
		CHECK_EQ_U64(bw_get_be32(h + 36), csum(h, 1024, 36));
		CHECK(memcmp(h + 40, l->header + 40, 576 - 40) == 0);  /* id, time, name */
		CHECK(memcmp(h + 576 + 24, "W2ru", 4) == 0);
		CHECK_EQ_U64(bw_get_be32(h + 576 + 28), 1);
		CHECK_EQ_U64(bw_get_be32(h + 576 + 32), l->loc_len[1]);
		uint8_t got[64];
		read_at(path, got, l->loc_len[1], bw_get_be64(h + 576 + 40));
		CHECK(memcmp(got, l->loc_data[1], l->loc_len[1]) == 0);
		CHECK_EQ_U64(bw_get_be32(h + 576), 0);       /* slot 0 still empty */
		uint8_t bat[24];
		read_at(path, bat, sizeof bat, bw_get_be64(h + 16));
		for (unsigned b = 0; b < 6; b++) {
			uint32_t ent = bw_get_be32(bat + 4 * b);
			int want = b >= 2 && b <= 4;
			CHECK_EQ_U64(ent != 0xFFFFFFFFu, want);
			if (ent != 0xFFFFFFFFu) {
				uint8_t bm[512];
				read_at(path, bm, sizeof bm, (uint64_t)ent * 512);
				CHECK(bm[0] == 0xFF && bm[511] == 0xFF &&
				      memcmp(bm, bm + 1, 511) == 0);
			}
		}
		CHECK_EQ_U64(file_size(path), 1536 + 512 + 512 + 3 * (512 + BLOCK) + 512);
		struct bw_disk *d = NULL;
		CHECK(bw_disk_open(path, &d, &e) == 0);
		if (d) {
			CHECK(strcmp(bw_disk_format(d), "vhd-differencing") == 0);
			uint8_t *buf = malloc(size);
			CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
			CHECK(memcmp(buf, cdata, size) == 0);
			free(buf);
			bw_disk_close(d);
		}
	}
	/* Refused: no parent; a parent of another size. */
	struct bw_writer *w;
	struct bw_writer_opts bad = o;
	bad.parent = NULL;
	unlink(path);
	CHECK(bw_writer_open(path, &bad, &w, &e) == BW_EINVAL);
	bad = o;
	bw_put_be64(bad.vhd_footer + 48, size + BLOCK);
	bad.size = size + BLOCK;
	unlink(path);
	CHECK(bw_writer_open(path, &bad, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "has virtual size") != NULL);
	unlink(path);
	bw_disk_close(pd);
	unlink(ppath);
	free(l);
	free(praw);
	free(cdata);
}

/* A 200 GiB sparse disk: exact size (largest geometry), two blocks. */
static void test_large(void)
{
	const uint64_t size = 200 * GiB;
	struct bw_writer_opts o = { .format = BW_WRITE_VHD_DYNAMIC, .size = size };
	struct bw_writer *w;
	struct bw_error e;
	unlink(path);
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	uint8_t sector[512];
	memset(sector, 0xC3, sizeof sector);
	CHECK(bw_writer_write(w, sector, 512, 100 * GiB + 4096, &e) == 0);
	CHECK(bw_writer_write(w, sector, 512, 100 * GiB, &e) == BW_EINVAL);  /* backwards */
	CHECK(bw_writer_write(w, sector, 512, size - 512, &e) == 0);
	CHECK(bw_writer_write(w, sector, 512, size, &e) == BW_EINVAL);       /* past the end */
	CHECK(bw_writer_finish(w, &e) == 0);
	uint64_t bat = (size / BLOCK) * 4;
	CHECK_EQ_U64(file_size(path), 1536 + bat + 2 * (512 + BLOCK) + 512);
	struct bw_disk *d;
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t buf[1024];
	CHECK(bw_disk_pread(d, buf, 1024, 100 * GiB + 4096 - 512, &e) == 0);
	CHECK(buf[511] == 0 && buf[512] == 0xC3 && buf[1023] == 0xC3);
	CHECK(bw_disk_pread(d, buf, 512, size - 512, &e) == 0);
	CHECK(memcmp(buf, sector, 512) == 0);
	struct bw_disk_info info;
	CHECK(bw_disk_get_info(d, &info, &e) == 0);
	CHECK_EQ_U64(info.allocated, 2 * BLOCK);
	bw_disk_close(d);
	unlink(path);

	/* Past 2040 GiB is no VHD; an aborted writer frees everything. */
	o.size = 2041 * GiB;
	CHECK(bw_writer_open(path, &o, &w, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "2040 GiB") != NULL);
	unlink(path);
	o.size = 8 * MiB;
	CHECK(bw_writer_open(path, &o, &w, &e) == 0);
	CHECK(bw_writer_write(w, sector, 512, 0, &e) == 0);
	bw_writer_abort(w);
	unlink(path);
}

/* fixed_identity: the footer's time stamp is the one given (seconds since
 * 2000 in the file), the unique id derived from the identity; the same
 * identity gives the same file whatever the chunking, another one
 * another unique id (and checksum) and nothing else. */
static void test_fixed_identity(const uint8_t *data)
{
	static const enum bw_write_format fmts[] = { BW_WRITE_VHD_DYNAMIC, BW_WRITE_VHD_FIXED };
	for (size_t k = 0; k < 2; k++) {
		struct bw_writer_opts o = { .format = fmts[k], .size = 6 * MiB, .fixed_identity = 1,
					    .timestamp = 1700000000 };
		memset(o.identity, 0x11, sizeof o.identity);
		uint8_t *f[3];
		size_t len[3] = { 0 };
		for (int i = 0; i < 3; i++) {
			if (i == 2)
				memset(o.identity, 0x12, sizeof o.identity);
			write_disk(&o, data, o.size, i == 1 ? MIXED : ONE_WRITE);
			f[i] = tf_slurp(path, &len[i]);
			CHECK(f[i] != NULL);
		}
		if (f[0] && f[1] && f[2] && len[0] == len[2] && len[0] >= 512) {
			const uint8_t *ft = f[0] + len[0] - 512;
			CHECK_EQ_U64(bw_get_be32(ft + 24), 1700000000u - 946684800u);
			CHECK(len[0] == len[1] && memcmp(f[0], f[1], len[0]) == 0);
			uint8_t *a = f[0] + len[0] - 512, *c = f[2] + len[2] - 512;
			CHECK(memcmp(a + 68, c + 68, 16) != 0);
			/* mask the checksum (64) and the unique id (68..83), in
			 * the footer and in a dynamic disk's copy at 0 */
			for (int i = 0; i < 3; i += 2) {
				uint8_t *t = f[i] + len[i] - 512;
				memset(t + 64, 0, 20);
				if (fmts[k] == BW_WRITE_VHD_DYNAMIC)
					memset(f[i] + 64, 0, 20);
			}
			CHECK(memcmp(f[0], f[2], len[0]) == 0);
		} else {
			CHECK(0);
		}
		for (int i = 0; i < 3; i++)
			free(f[i]);
	}
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof path, "%s/out.vhd", dir);

	/* 12 MiB of test data: block 0 full, block 1 zero, block 2 one byte at
	 * its very end, block 3 sparse sectors, block 4 zero, block 5 data
	 * up to 12 MiB - 1 (the last byte of the largest request). */
	const uint64_t max = 12 * MiB;
	uint8_t *data = calloc(1, max);
	for (uint64_t i = 0; i < BLOCK; i++)
		data[i] = (uint8_t)(i * 29 + (i >> 9) + 1);
	data[3 * BLOCK - 1] = 0x42;
	for (uint64_t i = 3 * BLOCK; i < 4 * BLOCK; i += 8192)
		memset(data + i, (int)(i >> 13) | 1, 512);
	for (uint64_t i = 5 * BLOCK; i < max; i++)
		data[i] = (uint8_t)(i ^ (i >> 11));

	test_sizes();
	/* A CHS product that is not a block multiple (302 x 4 x 17 sectors),
	 * a size just above one (rounded up), a tiny disk (68 sectors). */
	static const uint64_t reqs[] = { 10514432, 10514432 + 512, 10 * MiB + 3 * 512, 512 };
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		uint8_t *copy = calloc(1, max);
		memcpy(copy, data, reqs[i]);
		roundtrip(BW_WRITE_VHD_DYNAMIC, copy, reqs[i]);
		roundtrip(BW_WRITE_VHD_FIXED, copy, reqs[i]);
		free(copy);
	}
	test_keep(data);
	test_diff(data);
	test_fixed_identity(data);
	test_large();

	rmdir(dir);
	free(data);
	return check_done("test_vhd_write");
}

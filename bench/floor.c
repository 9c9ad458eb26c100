/*
 * floor: the deflate floor of a convert (DESIGN.md "Performance model").
 *
 *   floor IMAGE [--threads N] [--level N] [--reps N] [--packed]
 *
 * Reads the used data of IMAGE -- the MBR sector and every used cluster of
 * each NTFS partition (per its $Bitmap) plus the bytes past the last
 * cluster (the backup boot sector) -- through boxwright's own disk and
 * NTFS readers into memory, as the 64 KiB grains of the disk they fall in
 * (free clusters zero; all-zero grains dropped, as the VMDK writer omits
 * them).  Then, separately timed, deflates those grains on N threads with
 * the library and level boxwright uses (src/disk/deflate.h, the same
 * bw_deflate_zlib call and stored-form limit as the streamOptimized
 * writer) and nothing else: no markers, no tables, no output file.
 *
 * --packed packs the used bytes end to end before cutting them into
 * grains (fewer, fuller grains: the floor of any grain layout).
 *
 * Prints key=value lines (for bench.sh) on stdout:
 *   backend level threads grain mode used_bytes grains input_bytes
 *   read_s compress_s compress_min_s compress_cpu_s compressed_bytes
 *   read_compress_s ratio
 * compress_s is the median of --reps runs (default 3); compress_cpu_s is
 * user+sys of that run.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/error.h"
#include "boxwright/ntfs.h"
#include "boxwright/part.h"
#include "disk/deflate.h"

#define GRAIN 65536u
#define OUT_BYTES BW_DEFLATE_STORED_SIZE(GRAIN)
#define MAX_REPS 15

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die_err(const struct bw_error *e)
{
	fprintf(stderr, "floor: %s\n", e->msg);
	exit(1);
}

static void die(const char *msg)
{
	fprintf(stderr, "floor: %s\n", msg);
	exit(1);
}

/* A byte range of the disk that holds used data. */
struct range {
	uint64_t off, len;
};

struct ranges {
	struct range *r;
	size_t n, cap;
};

static void add_range(struct ranges *rs, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	if (rs->n && rs->r[rs->n - 1].off + rs->r[rs->n - 1].len == off) {
		rs->r[rs->n - 1].len += len;
		return;
	}
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 1024;
		rs->r = realloc(rs->r, rs->cap * sizeof *rs->r);
		if (!rs->r)
			die("out of memory");
	}
	rs->r[rs->n++] = (struct range){ off, len };
}

/* The used data of one NTFS volume at POFF, PSIZE bytes. */
static void ntfs_ranges(struct bw_disk *d, uint64_t poff, uint64_t psize,
			struct ranges *rs, struct bw_error *err)
{
	struct bw_ntfs *v;
	if (bw_ntfs_open(d, poff, psize, &v, err))
		die_err(err);
	const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(v);
	size_t nb;
	const uint8_t *bm = bw_ntfs_bitmap(v, &nb);
	uint64_t cs = g->cluster_size, total = g->total_clusters;
	uint64_t lcn = 0;
	while (lcn < total) {
		/* skip free clusters a byte at a time where possible */
		if ((lcn & 7) == 0 && lcn / 8 < nb && bm[lcn / 8] == 0) {
			lcn += 8;
			continue;
		}
		if (!(bm[lcn / 8] >> (lcn & 7) & 1)) {
			lcn++;
			continue;
		}
		uint64_t start = lcn;
		while (lcn < total) {
			if ((lcn & 7) == 0 && lcn / 8 < nb && bm[lcn / 8] == 0xFF &&
			    lcn + 8 <= total) {
				lcn += 8;
				continue;
			}
			if (!(bm[lcn / 8] >> (lcn & 7) & 1))
				break;
			lcn++;
		}
		add_range(rs, poff + start * cs, (lcn - start) * cs);
	}
	/* past the last cluster: the backup boot sector (convert copies it) */
	if (total * cs < psize)
		add_range(rs, poff + total * cs, psize - total * cs);
	bw_ntfs_close(v);
}

struct job {
	const uint8_t *data;
	size_t ngrains;
	atomic_size_t next;
	int level;
};

struct worker {
	pthread_t t;
	struct job *job;
	struct bw_deflate *c;
	uint8_t *out;
	uint64_t bytes;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->job;
	uint64_t sum = 0;
	for (;;) {
		size_t i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
		if (i >= j->ngrains)
			break;
		sum += bw_deflate_zlib(w->c, j->data + i * (size_t)GRAIN, GRAIN,
				       w->out, OUT_BYTES);
	}
	w->bytes = sum;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t z[4096];
	for (size_t i = 0; i < n; i += sizeof z)
		if (memcmp(p + i, z, sizeof z))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "level", required_argument, NULL, 'l' },
		{ "reps", required_argument, NULL, 'r' },
		{ "packed", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	int level = 6, reps = 3, packed = 0, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': threads = atol(optarg); break;
		case 'l': level = atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 'p': packed = 1; break;
		default:
			fprintf(stderr, "usage: floor IMAGE [--threads N] [--level N] [--reps N] [--packed]\n");
			return 2;
		}
	}
	if (optind != argc - 1 || threads < 1 || threads > 256 || level < 1 ||
	    level > 9 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "usage: floor IMAGE [--threads 1..256] [--level 1..9] [--reps 1..%d] [--packed]\n",
			MAX_REPS);
		return 2;
	}
	const char *path = argv[optind];
	struct bw_error err;
	bw_error_clear(&err);

	/* ---- read (timed on its own) ---- */
	double t0 = now();
	struct bw_disk *d;
	if (bw_disk_open(path, &d, &err))
		die_err(&err);
	uint64_t dsize = bw_disk_size(d);
	uint8_t sec[512];
	if (bw_disk_pread(d, sec, 512, 0, &err))
		die_err(&err);
	struct bw_mbr mbr;
	if (bw_mbr_parse(sec, dsize, path, &mbr, &err))
		die_err(&err);
	struct ranges rs = { 0 };
	add_range(&rs, 0, 512);
	int nvol = 0;
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *e = &mbr.part[i];
		if (e->type != BW_MBR_TYPE_NTFS)
			continue;
		ntfs_ranges(d, (uint64_t)e->lba_start * 512, (uint64_t)e->sectors * 512,
			    &rs, &err);
		nvol++;
	}
	if (nvol == 0)
		die("no NTFS partition in the MBR");
	/* partitions come in MBR order; the grain layout needs disk order */
	for (size_t i = 1; i < rs.n; i++)
		if (rs.r[i].off < rs.r[i - 1].off + rs.r[i - 1].len)
			die("partitions not in disk order (not handled)");

	uint64_t used = 0, ngrains = 0, last = UINT64_MAX;
	for (size_t i = 0; i < rs.n; i++) {
		used += rs.r[i].len;
		for (uint64_t g = rs.r[i].off / GRAIN;
		     g <= (rs.r[i].off + rs.r[i].len - 1) / GRAIN; g++)
			if (g != last) {
				ngrains++;
				last = g;
			}
	}
	if (packed)
		ngrains = (used + GRAIN - 1) / GRAIN;
	uint8_t *data = calloc(ngrains ? ngrains : 1, GRAIN);
	if (!data)
		die("out of memory for the used data");
	/* slot of each range's bytes */
	uint64_t slot = 0, pos = 0;
	last = UINT64_MAX;
	for (size_t i = 0; i < rs.n; i++) {
		uint64_t off = rs.r[i].off, left = rs.r[i].len;
		while (left) {
			uint64_t g = off / GRAIN, in = off % GRAIN;
			uint64_t n = GRAIN - in < left ? GRAIN - in : left;
			uint8_t *dst;
			if (packed) {
				dst = data + pos;
				n = left;  /* contiguous in the packed buffer */
				pos += n;
			} else {
				if (g != last) {
					if (last != UINT64_MAX)
						slot++;
					last = g;
				}
				dst = data + slot * GRAIN + in;
			}
			/* reads of at most 8 MiB */
			for (uint64_t k = 0; k < n; k += 8u << 20) {
				uint64_t m = n - k < (8u << 20) ? n - k : (8u << 20);
				if (bw_disk_pread(d, dst + k, m, off + k, &err))
					die_err(&err);
			}
			off += n;
			left -= n;
		}
	}
	bw_disk_close(d);
	/* drop all-zero grains (the VMDK writer omits them) */
	size_t kept = 0;
	for (size_t i = 0; i < ngrains; i++) {
		uint8_t *g = data + i * (size_t)GRAIN;
		if (all_zero(g, GRAIN))
			continue;
		if (kept != i)
			memcpy(data + kept * (size_t)GRAIN, g, GRAIN);
		kept++;
	}
	double read_s = now() - t0;

	/* ---- compress (timed) ---- */
	struct worker *ws = calloc((size_t)threads, sizeof *ws);
	if (!ws)
		die("out of memory");
	struct job job = { .data = data, .ngrains = kept, .level = level };
	for (long i = 0; i < threads; i++) {
		ws[i].job = &job;
		ws[i].c = bw_deflate_new(level);
		ws[i].out = malloc(OUT_BYTES);
		if (!ws[i].c || !ws[i].out)
			die("out of memory for the compressors");
	}
	double wall[MAX_REPS], cpu[MAX_REPS];
	uint64_t zbytes = 0;
	for (int r = 0; r < reps; r++) {
		atomic_store(&job.next, 0);
		double c0 = cpu_now(), w0 = now();
		for (long i = 0; i < threads; i++)
			if (pthread_create(&ws[i].t, NULL, work, &ws[i]))
				die("cannot start a thread");
		uint64_t sum = 0;
		for (long i = 0; i < threads; i++) {
			pthread_join(ws[i].t, NULL);
			sum += ws[i].bytes;
		}
		wall[r] = now() - w0;
		cpu[r] = cpu_now() - c0;
		if (r && sum != zbytes)
			die("two runs gave different sizes");
		zbytes = sum;
	}
	double sorted[MAX_REPS];
	memcpy(sorted, wall, sizeof wall);
	qsort(sorted, (size_t)reps, sizeof *sorted, cmp_double);
	double med = sorted[reps / 2], med_cpu = cpu[0];
	for (int r = 0; r < reps; r++)
		if (wall[r] == med)
			med_cpu = cpu[r];

	printf("backend=%s\n", bw_deflate_backend());
	printf("level=%d\nthreads=%ld\ngrain=%u\nmode=%s\n", level, threads, GRAIN,
	       packed ? "packed" : "disk-grains");
	printf("used_bytes=%llu\n", (unsigned long long)used);
	printf("grains=%zu\ninput_bytes=%llu\n", kept,
	       (unsigned long long)kept * GRAIN);
	printf("read_s=%.3f\ncompress_s=%.3f\ncompress_min_s=%.3f\ncompress_cpu_s=%.3f\n",
	       read_s, med, sorted[0], med_cpu);
	printf("compressed_bytes=%llu\n", (unsigned long long)zbytes);
	printf("read_compress_s=%.3f\n", read_s + med);
	printf("ratio=%.3f\n", zbytes ? (double)used / zbytes : 0.0);
	fprintf(stderr, "floor: %s level %d, %ld threads: %zu grains (%.1f MiB used) -> %.1f MiB in %.3f s (read %.3f s), %.0f MB/s per core\n",
		bw_deflate_backend(), level, threads, kept, used / 1048576.0,
		zbytes / 1048576.0, med, read_s,
		med > 0 ? kept * (double)GRAIN / 1e6 / med / threads : 0.0);

	for (long i = 0; i < threads; i++) {
		bw_deflate_free(ws[i].c);
		free(ws[i].out);
	}
	free(ws);
	free(data);
	free(rs.r);
	return 0;
}

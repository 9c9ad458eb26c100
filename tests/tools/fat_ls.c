/*
 * fat_ls [-o OFFSET] [-s SIZE] [-c COPY] IMAGE [PATH]...: open the FAT
 * volume at byte OFFSET (default 0) of IMAGE, SIZE bytes long (default:
 * the rest of the disk), through bw_fat_open, and print one fact a line:
 * the geometry, the used-range totals, then for each PATH
 * "PATH: file SIZE", "PATH: dir", "PATH: absent" or "PATH: error MSG".
 * With -c, COPY (created, sparse) receives only the used ranges at their
 * own offsets, so that tests/e2e/fat.sh can check with fsck.fat and mtools
 * that nothing a FAT driver reads was left out.
 * Exit status: 0, 1 when a PATH gave an error, 2 usage, 3 open refused.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/fat.h"

struct totals {
	uint64_t bytes, ranges, last_end;
	int fd;
	struct bw_disk *d;
	uint64_t part_off;
	int bad;
};

static int on_range(void *ctx, uint64_t off, uint64_t len)
{
	struct totals *t = ctx;
	if (len == 0 || (t->ranges && off <= t->last_end))
		t->bad = 1;      /* ranges must be non-empty, sorted and merged */
	t->bytes += len;
	t->ranges++;
	t->last_end = off + len;
	if (t->fd < 0)
		return 0;
	static uint8_t buf[1 << 20];
	struct bw_error err;
	for (uint64_t p = 0; p < len;) {
		size_t n = len - p < sizeof buf ? (size_t)(len - p) : sizeof buf;
		if (bw_disk_pread(t->d, buf, n, t->part_off + off + p, &err) != 0) {
			fprintf(stderr, "fat_ls: %s\n", err.msg);
			return 1;
		}
		if (pwrite(t->fd, buf, n, (off_t)(off + p)) != (ssize_t)n) {
			perror("fat_ls: write");
			return 1;
		}
		p += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t off = 0, size = 0;
	int have_size = 0, opt;
	const char *copy = NULL;
	while ((opt = getopt(argc, argv, "o:s:c:")) != -1) {
		switch (opt) {
		case 'o': off = strtoull(optarg, NULL, 0); break;
		case 's': size = strtoull(optarg, NULL, 0); have_size = 1; break;
		case 'c': copy = optarg; break;
		default: goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	struct bw_error err;
	struct bw_disk *d;
	if (bw_disk_open(argv[optind], &d, &err) != 0) {
		fprintf(stderr, "fat_ls: %s\n", err.msg);
		return 3;
	}
	if (!have_size)
		size = off < bw_disk_size(d) ? bw_disk_size(d) - off : 0;
	struct bw_fat *f;
	if (bw_fat_open(d, off, size, argv[optind], &f, &err) != 0) {
		fprintf(stderr, "fat_ls: %s\n", err.msg);
		bw_disk_close(d);
		return 3;
	}
	const struct bw_fat_info *g = bw_fat_get_info(f);
	printf("type FAT%u\n", g->type);
	printf("bytes_per_sector %u\n", g->bytes_per_sector);
	printf("cluster_size %" PRIu32 "\n", g->cluster_size);
	printf("cluster_count %" PRIu32 "\n", g->cluster_count);
	printf("used_clusters %" PRIu32 "\n", g->used_clusters);
	printf("data_offset %" PRIu64 "\n", g->data_offset);
	printf("volume_size %" PRIu64 "\n", g->volume_size);

	struct totals t = { .fd = -1, .d = d, .part_off = off };
	int status = 0;
	if (copy) {
		t.fd = open(copy, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (t.fd < 0 || ftruncate(t.fd, (off_t)size) != 0) {
			perror(copy);
			status = 1;
			goto out;
		}
	}
	if (bw_fat_used_ranges(f, on_range, &t) != 0)
		status = 1;
	printf("used_ranges %" PRIu64 "\n", t.ranges);
	printf("used_bytes %" PRIu64 "\n", t.bytes);
	if (t.bad) {
		printf("ranges not sorted and merged\n");
		status = 1;
	}
	if (t.bytes != g->data_offset + (uint64_t)g->used_clusters * g->cluster_size) {
		printf("used_bytes is not data_offset + used_clusters x cluster_size\n");
		status = 1;
	}
	for (int i = optind + 1; i < argc; i++) {
		int is_dir;
		uint64_t fsize;
		int r = bw_fat_exists(f, argv[i], &is_dir, &fsize, &err);
		if (r == 1 && is_dir)
			printf("%s: dir\n", argv[i]);
		else if (r == 1)
			printf("%s: file %" PRIu64 "\n", argv[i], fsize);
		else if (r == 0)
			printf("%s: absent\n", argv[i]);
		else {
			printf("%s: error %s\n", argv[i], err.msg);
			status = 1;
		}
	}
out:
	if (t.fd >= 0 && close(t.fd) != 0)
		status = 1;
	bw_fat_close(f);
	bw_disk_close(d);
	return status;
usage:
	fprintf(stderr, "usage: fat_ls [-o OFFSET] [-s SIZE] [-c COPY] IMAGE [PATH]...\n");
	return 2;
}

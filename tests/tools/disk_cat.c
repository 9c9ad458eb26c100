/*
 * disk_cat IMAGE OUT: write the virtual disk as our bw_disk reader sees it
 * to OUT (sparse: only the allocation map's ranges are read and written),
 * so that tests can compare it with qemu-img's or libvhdi's reading.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "boxwright/disk.h"

#define CHUNK (4u << 20)

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: disk_cat IMAGE OUT\n");
		return 2;
	}
	struct bw_disk *d;
	struct bw_error e;
	int r = bw_disk_open(argv[1], &d, &e);
	if (r) {
		fprintf(stderr, "disk_cat: %s\n", e.msg);
		return bw_exit_status(r);
	}
	int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = malloc(CHUNK);
	if (fd < 0 || !buf) {
		perror(argv[2]);
		return 1;
	}
	uint64_t off = 0, s, en;
	while ((r = bw_disk_next_data(d, off, &s, &en, &e)) == 1) {
		for (uint64_t p = s; p < en; p += CHUNK) {
			size_t n = en - p < CHUNK ? (size_t)(en - p) : CHUNK;
			if ((r = bw_disk_pread(d, buf, n, p, &e)) != 0)
				goto fail;
			if (pwrite(fd, buf, n, (off_t)p) != (ssize_t)n) {
				perror(argv[2]);
				return 1;
			}
		}
		off = en;
	}
	if (r < 0)
		goto fail;
	if (ftruncate(fd, (off_t)bw_disk_size(d)) < 0 || close(fd) < 0) {
		perror(argv[2]);
		return 1;
	}
	printf("%s %llu\n", bw_disk_format(d), (unsigned long long)bw_disk_size(d));
	bw_disk_close(d);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "disk_cat: %s\n", e.msg);
	return bw_exit_status(r);
}

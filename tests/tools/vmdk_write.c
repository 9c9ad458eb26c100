/*
 * vmdk_write IN OUT [LEVEL THREADS]: copy the virtual disk IN (any format
 * bw_disk opens) to a new VMDK streamOptimized OUT through bw_writer, only
 * reading the allocation map's ranges, so that tests can check the writer
 * against qemu-img, vmdkinfo and libvmdk.  Prints "SIZE FILE_BYTES SECONDS"
 * (virtual size, output file size, wall time of the copy) on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "boxwright/disk.h"

#define CHUNK (4u << 20)

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: vmdk_write IN OUT [LEVEL THREADS]\n");
		return 2;
	}
	struct bw_writer_opts o = { .format = BW_WRITE_VMDK_STREAM };
	if (argc == 5) {
		o.compress_level = atoi(argv[3]);
		o.threads = atoi(argv[4]);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct bw_disk *d = NULL;
	struct bw_writer *w = NULL;
	struct bw_error e;
	uint8_t *buf = malloc(CHUNK);
	if (!buf) {
		fprintf(stderr, "vmdk_write: out of memory\n");
		return 1;
	}
	int r = bw_disk_open(argv[1], &d, &e);
	if (r)
		goto fail;
	o.size = bw_disk_size(d);
	if ((r = bw_writer_open(argv[2], &o, &w, &e)) != 0)
		goto fail;
	uint64_t off = 0, s, en;
	while ((r = bw_disk_next_data(d, off, &s, &en, &e)) == 1) {
		for (uint64_t p = s; p < en; p += CHUNK) {
			size_t n = en - p < CHUNK ? (size_t)(en - p) : CHUNK;
			if ((r = bw_disk_pread(d, buf, n, p, &e)) != 0 ||
			    (r = bw_writer_write(w, buf, n, p, &e)) != 0)
				goto fail;
		}
		off = en;
	}
	if (r < 0)
		goto fail;
	r = bw_writer_finish(w, &e);
	w = NULL;
	if (r)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct stat st;
	if (stat(argv[2], &st) != 0) {
		perror(argv[2]);
		return 1;
	}
	printf("%llu %llu %.3f\n", (unsigned long long)o.size, (unsigned long long)st.st_size,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	bw_disk_close(d);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "vmdk_write: %s\n", e.msg);
	bw_writer_abort(w);
	bw_disk_close(d);
	free(buf);
	return bw_exit_status(r);
}

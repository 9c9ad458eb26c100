/*
 * disk_write IN OUT FORMAT [--keep]: read IN with our bw_disk reader and
 * write it with bw_writer as FORMAT (raw, vhd = dynamic, vhd-fixed),
 * following the allocation map (only its ranges are read and passed), so
 * that e2e tests can check our writers against qemu-img and libvhdi until
 * the `convert` command exists.  --keep keeps a VHD input's footer identity
 * (creator, geometry, size, unique id: bw_writer_opts.vhd_keep).  Prints
 * "FORMAT VIRTUAL_SIZE" on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"

#define CHUNK (4u << 20)

int main(int argc, char **argv)
{
	int keep = argc == 5 && strcmp(argv[4], "--keep") == 0;
	if (argc != 4 && !keep) {
		fprintf(stderr, "usage: disk_write IN OUT raw|vhd|vhd-fixed [--keep]\n");
		return 2;
	}
	struct bw_writer_opts o;
	memset(&o, 0, sizeof o);
	if (strcmp(argv[3], "raw") == 0)
		o.format = BW_WRITE_RAW;
	else if (strcmp(argv[3], "vhd") == 0)
		o.format = BW_WRITE_VHD_DYNAMIC;
	else if (strcmp(argv[3], "vhd-fixed") == 0)
		o.format = BW_WRITE_VHD_FIXED;
	else {
		fprintf(stderr, "disk_write: unknown format %s\n", argv[3]);
		return 2;
	}
	struct bw_disk *d;
	struct bw_error e;
	int r = bw_disk_open(argv[1], &d, &e);
	if (r) {
		fprintf(stderr, "disk_write: %s\n", e.msg);
		return bw_exit_status(r);
	}
	o.size = bw_disk_size(d);
	if (keep) {
		struct bw_disk_info info;
		if ((r = bw_disk_get_info(d, &info, &e)) != 0) {
			fprintf(stderr, "disk_write: %s\n", e.msg);
			return bw_exit_status(r);
		}
		if (!info.has_vhd_footer) {
			fprintf(stderr, "disk_write: --keep needs a VHD input\n");
			return 2;
		}
		memcpy(o.vhd_footer, info.vhd_footer, sizeof o.vhd_footer);
		o.vhd_keep = 1;
	}
	struct bw_writer *w;
	r = bw_writer_open(argv[2], &o, &w, &e);
	if (r) {
		fprintf(stderr, "disk_write: %s\n", e.msg);
		bw_disk_close(d);
		return bw_exit_status(r);
	}
	uint8_t *buf = malloc(CHUNK);
	if (!buf) {
		fprintf(stderr, "disk_write: out of memory\n");
		return 1;
	}
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
	uint64_t size = bw_writer_actual_size(&o);
	if ((r = bw_writer_finish(w, &e)) != 0) {
		w = NULL;
		goto fail;
	}
	printf("%s %llu\n", argv[3], (unsigned long long)size);
	bw_disk_close(d);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "disk_write: %s\n", e.msg);
	bw_writer_abort(w);
	unlink(argv[2]);
	bw_disk_close(d);
	free(buf);
	return bw_exit_status(r);
}

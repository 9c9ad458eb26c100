/*
 * Shared body of the disk-parser fuzz harnesses (libFuzzer): the input
 * becomes a file in a memfd, is opened through bw_disk_open (probing, so
 * every driver's open-time validation runs), every range of the
 * allocation map is read, and the handle is closed.  Errors are expected;
 * crashes, leaks, sanitizer reports and hangs are the bugs.
 */
#ifndef BW_FUZZ_DISK_H
#define BW_FUZZ_DISK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boxwright/disk.h"

/* Reads per input are capped so that one unit stays fast. */
#define FUZZ_READ_CAP   (64u << 20)
#define FUZZ_CHUNK      (1u << 20)

static void fuzz_disk_run(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	static uint8_t *buf;
	if (fd < 0) {
		fd = memfd_create("bw-fuzz", MFD_CLOEXEC);
		buf = malloc(FUZZ_CHUNK);
		if (fd < 0 || !buf)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	struct bw_disk *d;
	struct bw_error e;
	if (bw_disk_open(path, &d, &e) != 0)
		return;
	/* Whatever the map says, reads must stay inside the virtual disk. */
	uint64_t off = 0, s, en, done = 0;
	while (done < FUZZ_READ_CAP && bw_disk_next_data(d, off, &s, &en, &e) == 1) {
		if (s < off || en <= s || en > bw_disk_size(d))
			abort();           /* a broken allocation map */
		for (uint64_t p = s; p < en && done < FUZZ_READ_CAP; p += FUZZ_CHUNK) {
			size_t n = en - p < FUZZ_CHUNK ? (size_t)(en - p) : FUZZ_CHUNK;
			if (bw_disk_pread(d, buf, n, p, &e) != 0)
				goto out;
			done += n;
		}
		off = en;
	}
	/* An unaligned read across the start and one at the very end. */
	if (bw_disk_size(d) >= 1000) {
		bw_disk_pread(d, buf, 1000, 0, &e);
		bw_disk_pread(d, buf, 7, bw_disk_size(d) - 7, &e);
	}
out:
	bw_disk_close(d);
}

#endif

/*
 * libFuzzer harness for the hive base-block check (src/win/hive.c):
 * bw_hive_check on the input as a buffer, and bw_hive_check_file on the
 * same bytes as a file (a memfd), which reads at most the 4096-byte base
 * block.  Both must agree on the first 4096 bytes, and dirty must be
 * exactly "checksum wrong or sequence numbers differ".  Seeds:
 * make-seeds.py (OUTDIR/hive).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boxwright/win.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("bw-fuzz-hive", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct bw_hive_header a, b;
	struct bw_error err;
	size_t base = size < 4096 ? size : 4096;
	int ra = bw_hive_check(data, base, "fuzz", &a, &err);
	int rb = bw_hive_check_file(path, "fuzz", &b, &err);
	if (ra != rb || (ra != 0 && ra != BW_EFORMAT) || memcmp(&a, &b, sizeof a) != 0)
		abort();
	if (ra == 0 && a.dirty != (a.checksum_stored != a.checksum_computed ||
				   a.seq_primary != a.seq_secondary))
		abort();
	return 0;
}

/*
 * libFuzzer harness for the .reg parser (src/win/regfile.c,
 * win_regfile_parse): the input is the file, written to a memfd and
 * parsed by path as --reg parses it (encoding detection, UTF-16LE and
 * UTF-8 decoding, line splitting and continuation lines, [KEY] and value
 * syntax, hex data, the caps).  A parsed file is asked which hives it
 * touches and freed.  Errors are expected; crashes, sanitizer reports,
 * leaks and hangs are the bugs.  Seeds: make-seeds.py (OUTDIR/reg).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "win/win_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("bw-fuzz-reg", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct win_regfile *rf = NULL;
	struct bw_error err;
	int r = win_regfile_parse(path, &rf, &err);
	if ((r == 0) != (rf != NULL))
		abort();           /* the contract: *out set exactly on success */
	if (r != 0) {
		/* Every refusal names the file (and its line). */
		if (strncmp(err.msg, path, strlen(path)) != 0)
			abort();
		return 0;
	}
	(void)win_regfile_touches(rf, WIN_HIVE_SOFTWARE);
	(void)win_regfile_touches(rf, WIN_HIVE_SYSTEM);
	(void)win_regfile_uses_ccs(rf);
	win_regfile_free(rf);
	return 0;
}

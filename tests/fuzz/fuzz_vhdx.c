/*
 * libFuzzer harness for the VHDX reader (src/disk/vhdx.c).
 *
 * A VHDX keeps its structures at fixed offsets far apart (headers at 64
 * and 128 KiB, region tables at 192 and 256 KiB, regions 1 MiB aligned),
 * so a plain input would be megabytes of zeros the fuzzer mutates in
 * vain.  The input is instead a run of 4 KiB windows that the harness
 * spreads out into a sparse file: windows 0-4 go to the file
 * identifier, the two headers and the two region tables; from window 5
 * on, three per MiB, at +0, +32 KiB and +64 KiB of 1 MiB, 2 MiB, ... (a
 * region's table at +0, the BAT's first sector bitmap entry at +32 KiB
 * with 1 MiB blocks, the first metadata items at +64 KiB).  The file then ends at
 * the end of the last window's MiB, so that blocks the BAT places there
 * lie inside it; inputs shorter than the five fixed windows end where
 * they end.  make-seeds.py writes seeds in this form (vhdx_compact:
 * keep the two in step).
 *
 * CRC-32C guards the headers and region tables, and a mutation almost
 * never keeps it right: when bit 0 of byte 8 (the creator's first byte,
 * which nothing reads) is clear, the harness recomputes the four CRCs
 * after spreading the windows, so that mutations reach what lies past
 * them; when it is set, the CRCs are left as the input has them.
 *
 * Differencing images get a parent: the input becomes child.vhdx in a
 * directory of its own (under /dev/shm when there is one), and when
 * FUZZ_VHDX_PARENT names a file in the same compact form (fuzz-smoke
 * points it at the dynamic seed), it is spread out once as parent.vhdx
 * beside it, which the differencing seed's locator names and links to.
 *
 * The file is opened through bw_disk_open and every range of the
 * allocation map is read, as fuzz_disk.h does for the other readers (its
 * body is repeated here because the file is not the input's bytes); a
 * differencing image's link is taken too (bw_disk_vhdx_link, what patch
 * keeps).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "common/crc32c.h"

#define FUZZ_WINDOW     4096u
#define FUZZ_FIXED      5u
#define FUZZ_MiB        (UINT64_C(1) << 20)
#define FUZZ_READ_CAP   (64u << 20)
#define FUZZ_CHUNK      (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Recompute the CRC-32C at +4 of the LEN-byte structure at OFF whose
 * first WIN bytes are the input's window K (the rest is zero). */
static void seal(int fd, const uint8_t *data, size_t size, size_t k, uint64_t off,
		 size_t len)
{
	static const uint8_t zeros[4096];
	uint8_t w[FUZZ_WINDOW] = { 0 };
	size_t at = k * FUZZ_WINDOW;
	if (at >= size)
		return;
	memcpy(w, data + at, size - at < FUZZ_WINDOW ? size - at : FUZZ_WINDOW);
	memset(w + 4, 0, 4);
	uint32_t c = bw_crc32c(0, w, sizeof w);
	for (size_t done = sizeof w; done < len; done += sizeof zeros)
		c = bw_crc32c(c, zeros, sizeof zeros);
	uint8_t le[4] = { (uint8_t)c, (uint8_t)(c >> 8), (uint8_t)(c >> 16), (uint8_t)(c >> 24) };
	if (pwrite(fd, le, 4, (off_t)off + 4) != 4)
		abort();
}

static uint64_t window_offset(size_t k)
{
	static const uint64_t fixed[FUZZ_FIXED] = { 0, 64 << 10, 128 << 10, 192 << 10,
						     256 << 10 };
	if (k < FUZZ_FIXED)
		return fixed[k];
	size_t j = k - FUZZ_FIXED;
	return (1 + j / 3) * FUZZ_MiB + (j % 3) * (32 << 10);
}

/* Write the compact input DATA out into FD as the file it stands for. */
static void spread(int fd, const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) < 0)
		abort();
	size_t k = 0;
	uint64_t end = 0;
	for (size_t at = 0; at < size; at += FUZZ_WINDOW, k++) {
		size_t n = size - at < FUZZ_WINDOW ? size - at : FUZZ_WINDOW;
		uint64_t off = window_offset(k);
		if (pwrite(fd, data + at, n, (off_t)off) != (ssize_t)n)
			abort();
		end = k < FUZZ_FIXED ? off + n : (off / FUZZ_MiB + 1) * FUZZ_MiB;
	}
	if (ftruncate(fd, (off_t)end) < 0)
		abort();
	if (size > 8 && !(data[8] & 1)) {
		seal(fd, data, size, 1, window_offset(1), 4096);
		seal(fd, data, size, 2, window_offset(2), 4096);
		seal(fd, data, size, 3, window_offset(3), 64 << 10);
		seal(fd, data, size, 4, window_offset(4), 64 << 10);
	}
}

static char dir[64], path[96], parent[96];

static void cleanup(void)
{
	unlink(path);
	unlink(parent);
	rmdir(dir);
}

/* The parent named by FUZZ_VHDX_PARENT, spread out once beside the child. */
static void make_parent(void)
{
	const char *src = getenv("FUZZ_VHDX_PARENT");
	if (!src)
		return;
	FILE *f = fopen(src, "rb");
	static uint8_t in[1 << 20];
	size_t n = f ? fread(in, 1, sizeof in, f) : 0;
	if (!f || ferror(f))
		abort();
	fclose(f);
	int pfd = open(parent, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd < 0)
		abort();
	spread(pfd, in, n);
	close(pfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static uint8_t *buf;
	if (size < 8 || memcmp(data, "vhdxfile", 8) != 0)
		return 0;
	if (fd < 0) {
		struct stat st;
		snprintf(dir, sizeof dir, "%s/bw-fuzz-vhdx.XXXXXX",
			 stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof path, "%s/child.vhdx", dir);
		snprintf(parent, sizeof parent, "%s/parent.vhdx", dir);
		atexit(cleanup);
		make_parent();
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		buf = malloc(FUZZ_CHUNK);
		if (fd < 0 || !buf)
			abort();
	}
	spread(fd, data, size);

	struct bw_disk *d;
	struct bw_error e;
	if (bw_disk_open(path, &d, &e) != 0)
		return 0;
	static struct bw_vhdx_link link;     /* 64 KiB: not on the stack */
	if (bw_disk_parent(d) && bw_disk_vhdx_link(d, &link, &e) == 0 &&
	    (link.locator_len > sizeof link.locator || link.block_size == 0))
		abort();
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
	if (bw_disk_size(d) >= 1000) {
		bw_disk_pread(d, buf, 1000, 0, &e);
		bw_disk_pread(d, buf, 7, bw_disk_size(d) - 7, &e);
	}
out:
	bw_disk_close(d);
	return 0;
}

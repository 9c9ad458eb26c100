/*
 * libFuzzer harness for boxwright's FAT reader (src/fat): the input is the
 * start of a volume, written to a memfd that is then extended with zeros
 * to the size its boot sector declares (at most FUZZ_FAT_MAX_VOLUME), so
 * that a seed of a few hundred KiB can stand for a FAT16 or FAT32 volume
 * of tens of MiB whose tail is empty.  It is opened as a raw bw_disk and
 * through bw_fat_open (boot sector, FAT), then queried as build queries an
 * ESP: the boot files and other paths are looked up (directories, long
 * names, cluster chains) and the used ranges walked.  Errors are
 * expected; crashes, sanitizer reports, leaks, hangs and answers that
 * contradict each other (ranges out of order or past the volume, totals
 * that disagree with the info) are the bugs.
 *
 * Seeds: make-fat-seeds.sh (mkfs.vfat + mtools volumes, trailing zeros cut).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/fat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FAT_MAX_VOLUME (64ull << 20)

static const char *const fuzz_paths[] = {
	"\\EFI\\Microsoft\\Boot\\BCD",
	"\\EFI\\Boot\\bootx64.efi",
	"\\efi\\microsoft\\boot\\en-us\\BOOTMGFW.EFI.MUI",
	"\\EFI\\Many Files\\file number 007 with a long name.bin",
	"\\EFI\\MANYFI~1\\FILENU~1.BIN",
	"\\Deep Directory Level 1\\Deep Directory Level 2\\Deep Directory Level 3",
	"\\MixedCase Long Name.Txt",
	"\\",
	"\\EFI\\nothing",
	"\\A\\B\\C",
};

struct walk {
	uint64_t total, last_end, volume_size, count;
};

static int on_range(void *ctx, uint64_t off, uint64_t len)
{
	struct walk *w = ctx;
	if (len == 0 || (w->count == 0 && off != 0) ||
	    (w->count != 0 && off <= w->last_end) ||
	    off > w->volume_size || len > w->volume_size - off)
		abort();
	w->total += len;
	w->last_end = off + len;
	w->count++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("bw-fuzz-fat", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	/* A boot sector at least; "conectix" or "vhdxfile" would open as
	 * a container, which the disk harnesses cover. */
	if (size < 512 || memcmp(data, "conectix", 8) == 0 ||
	    memcmp(data, "vhdxfile", 8) == 0 || memcmp(data, "KDMV", 4) == 0)
		return 0;
	uint64_t bps = (uint64_t)(data[0x0B] | data[0x0C] << 8);
	uint64_t sectors = (uint64_t)(data[0x13] | data[0x14] << 8);
	if (sectors == 0)
		sectors = (uint64_t)data[0x20] | (uint64_t)data[0x21] << 8 |
			  (uint64_t)data[0x22] << 16 | (uint64_t)data[0x23] << 24;
	uint64_t vol = bps * sectors;
	if (vol > FUZZ_FAT_MAX_VOLUME)
		vol = FUZZ_FAT_MAX_VOLUME;
	if (vol < size)
		vol = size;
	vol = (vol + 511) & ~(uint64_t)511;
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)vol) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();

	struct bw_disk *d;
	struct bw_error err;
	if (bw_disk_open(path, &d, &err) != 0)
		return 0;
	struct bw_fat *f;
	if (bw_fat_open(d, 0, bw_disk_size(d), "fuzz: partition 1 (EFI system)", &f, &err) != 0) {
		bw_disk_close(d);
		return 0;
	}
	const struct bw_fat_info *g = bw_fat_get_info(f);
	uint32_t c = g->cluster_count;
	if (c == 0 || g->used_clusters > c ||
	    (g->type == 12 && c > 4084) || (g->type == 16 && (c < 4085 || c > 65524)) ||
	    (g->type == 32 && c < 65525) ||
	    g->data_offset + (uint64_t)c * g->cluster_size > g->volume_size ||
	    g->volume_size > bw_disk_size(d))
		abort();
	struct walk w = { .volume_size = g->volume_size };
	if (bw_fat_used_ranges(f, on_range, &w) != 0 ||
	    w.total != g->data_offset + (uint64_t)g->used_clusters * g->cluster_size)
		abort();
	for (size_t i = 0; i < sizeof fuzz_paths / sizeof fuzz_paths[0]; i++) {
		int is_dir = -1;
		uint64_t fsize = 1;
		int r = bw_fat_exists(f, fuzz_paths[i], &is_dir, &fsize, &err);
		if (r > 1 || (r == 1 && (is_dir != 0 && is_dir != 1)) ||
		    (r == 1 && is_dir && fsize != 0) ||
		    (r < 0 && memchr(err.msg, '\0', sizeof err.msg) == NULL))
			abort();
	}
	bw_fat_close(f);
	bw_disk_close(d);
	return 0;
}

/*
 * libFuzzer harness for the native guest backend (src/guest/ntfs3g.c) on
 * a hostile NTFS volume: the input is a whole volume, mounted read-only by
 * libntfs-3g through our memory device (ntfsdev.c), then looked up and
 * read as inspect does (the case-insensitive walk of n3g_resolve over
 * ntfs_readdir, the $DATA read of n3g_read), and unmounted.  Errors are
 * expected; crashes, sanitizer reports, leaks and hangs are the bugs.
 *
 * The backend's functions are static and its mount only takes a file, so
 * its source is compiled into this harness rather than given a fuzzing
 * entry point or copied: the walk fuzzed is the walk shipped.  Only the
 * mount differs (memory device, NTFS_MNT_RDONLY, as inspect mounts).
 *
 * Seeds: make-seeds.py (mkntfs volumes populated with those paths).
 */
#include "guest/ntfs3g.c"

#include <sanitizer/allocator_interface.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What inspect asks for, in a letter case the seeds do not use, plus a
 * directory (read must refuse it), a name present only as an 8.3 alias,
 * a miss, and the volume's own metadata. */
static const char *const fuzz_paths[] = {
	"/WINDOWS/system32/CONFIG/system",
	"/Windows/System32/config/SOFTWARE",
	"/boot/bcd",
	"/BOOTMGR",
	"/Windows/Panther/Unattend.xml",
	"/windows/system32",
	"/PROGRA~1",
	"/Windows/System32/drivers/DRV39.SYS",
	"/nothing/here",
	"/$MFT",
};

/* Reads are capped as inspect caps them, so one unit stays fast even
 * when a fuzzed attribute claims a huge (sparse) size. */
#define FUZZ_READ_MAX (256u << 10)
/* libntfs-3g needs at least a boot sector and an MFT. */
#define FUZZ_MIN_SIZE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FUZZ_MIN_SIZE)
		return 0;
	pthread_once(&n3g_log_once, n3g_log_setup);

	struct n3g p;
	memset(&p, 0, sizeof p);
	struct bw_guest g;
	memset(&g, 0, sizeof g);
	char name[] = "fuzz.img";
	g.be = &bw_guest_native;
	g.opts.readonly = 1;
	g.files[0] = g.labels[0] = name;
	g.nfiles = 1;
	g.path = g.file = name;
	g.priv = &p;

	/* Heap in use before the mount: a volume that mounted must give it
	 * all back by the end of its umount.  fuzz_ntfs.lsan suppresses
	 * leaks allocated inside ntfs_device_mount (libntfs-3g's own, on
	 * its failure paths), which would also hide a mount we forgot to
	 * umount; this check covers exactly that case. */
	size_t heap_before = __sanitizer_get_current_allocated_bytes();
	bw_ntfsdev_init_mem(&p.dev, data, size, name);
	struct ntfs_device *dev = bw_ntfsdev_alloc(&p.dev);
	if (!dev)
		abort();
	p.vol = ntfs_device_mount(dev, NTFS_MNT_RDONLY);
	if (!p.vol) {
		/* A failed mount leaves the device closed and ours to free. */
		if (ntfs_device_free(dev) != 0)
			abort();
		return 0;
	}

	struct bw_error err;
	for (size_t i = 0; i < sizeof fuzz_paths / sizeof fuzz_paths[0]; i++) {
		char *real = NULL;
		int r = g.be->resolve(&g, fuzz_paths[i], &real, &err);
		if (r != 0) {
			if (real)
				abort();       /* the contract: NULL on failure */
			continue;
		}
		if (!real || real[0] != '/' || strlen(real) > 4096)
			abort();
		char *buf = NULL;
		size_t len = 0;
		if (g.be->read(&g, real, FUZZ_READ_MAX, &buf, &len, &err) == 0 &&
		    (len > FUZZ_READ_MAX || (len && !buf)))
			abort();
		free(buf);
		free(real);
	}
	/* Read-only: nothing to flush, but the volume's inodes and
	 * attributes must all be released (LeakSanitizer watches). */
	n3g_umount(&g, &err);
	size_t heap_after = __sanitizer_get_current_allocated_bytes();
	if (heap_after != heap_before) {
		fprintf(stderr, "fuzz_ntfs: %zu bytes in use before the mount, %zu after the umount\n",
			heap_before, heap_after);
		abort();
	}
	return 0;
}

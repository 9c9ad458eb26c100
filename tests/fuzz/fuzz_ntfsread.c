/*
 * libFuzzer harness for boxwright's own NTFS reader (src/ntfs): the input
 * is a whole volume, written to a memfd, opened as a raw bw_disk and then
 * through bw_ntfs_open, which parses the boot sector, the $MFT record and
 * its runlist, $Volume, the $LogFile restart pages, the $Bitmap and the
 * root directory's index (the hiberfil.sys lookup).  An opened volume is
 * then queried as inspect and build query it: geometry, state, every
 * cluster's bit, more root-index lookups, and the used-cluster copy.
 * Errors are expected; crashes, sanitizer reports, leaks, hangs and
 * answers that contradict each other are the bugs.
 *
 * Seeds: make-seeds.py (the mkntfs volumes of OUTDIR/ntfs, shared with
 * fuzz_ntfs, which fuzzes libntfs-3g through the native guest backend).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/ntfs.h"
#include "ntfs/ntfs_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names looked up in the root index besides hiberfil.sys: what inspect
 * and build open, in a case the seeds do not use, and a miss. */
static const char *const fuzz_names[] = {
	"bootmgr", "WINDOWS", "boot", "$MFT", "nothing-here", "a",
};

static int fuzz_memfd(const char *name, char path[64])
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		abort();
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int in_fd = -1, out_fd = -1;
	static char in_path[64], out_path[64];
	if (in_fd < 0) {
		in_fd = fuzz_memfd("bw-fuzz-ntfs", in_path);
		out_fd = fuzz_memfd("bw-fuzz-ntfs-copy", out_path);
	}
	/* A boot sector at least; a "conectix" input would open as a VHD,
	 * which fuzz_vhd covers. */
	if (size < 512 || memcmp(data, "conectix", 8) == 0)
		return 0;
	if (ftruncate(in_fd, 0) < 0 || pwrite(in_fd, data, size, 0) != (ssize_t)size)
		abort();

	struct bw_disk *d;
	struct bw_error err;
	if (bw_disk_open(in_path, &d, &err) != 0)
		return 0;
	struct bw_ntfs *v;
	uint64_t part = bw_disk_size(d) & ~(uint64_t)511;
	if (bw_ntfs_open(d, 0, part, &v, &err) != 0) {
		bw_disk_close(d);
		return 0;
	}
	const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(v);
	struct bw_ntfs_state st;
	size_t nbytes;
	const uint8_t *bm = bw_ntfs_bitmap(v, &nbytes);
	if (bw_ntfs_get_state(v, &st) != 0 || !bm ||
	    g->total_clusters > (uint64_t)nbytes * 8 ||
	    g->total_clusters * g->cluster_size > part ||
	    st.used_clusters + st.free_clusters != g->total_clusters)
		abort();
	uint64_t used = 0;
	for (uint64_t lcn = 0; lcn < g->total_clusters; lcn++) {
		int u = bw_ntfs_cluster_used(v, lcn);
		if (u != 0 && u != 1)
			abort();
		used += (uint64_t)u;
	}
	if (used != st.used_clusters ||
	    bw_ntfs_cluster_used(v, g->total_clusters) != BW_EINVAL)
		abort();
	if (memchr(st.label, '\0', sizeof st.label) == NULL)
		abort();
	for (size_t i = 0; i < sizeof fuzz_names / sizeof fuzz_names[0]; i++) {
		uint64_t ref;
		int r = ntfs_dir_lookup(v, NTFS_FILE_ROOT, fuzz_names[i], &ref, &err);
		if (r > 0)
			abort();
	}
	/* The copy reads every used cluster: it must stay inside the disk. */
	bw_ntfs_copy_used(v, out_fd, out_path, &err);
	bw_ntfs_close(v);
	bw_disk_close(d);
	return 0;
}

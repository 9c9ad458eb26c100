/*
 * The device under libntfs-3g for the native backend: a partition file
 * (or, for the fuzz harness, a read-only buffer) accessed with plain
 * pread/pwrite and bounds-checked against the size seen at open.  No
 * ioctls, locks, O_DIRECT or /proc: the same code runs on macOS.
 *
 * libntfs-3g reports every failure as errno; the device keeps what only it
 * knows (an access past the end means the volume is corrupt, a failed
 * pread of the host file is an I/O error) so that the backend can tell
 * bad input (exit 3) from a failing host (exit 1).
 */
#ifndef BW_GUEST_NTFSDEV_H
#define BW_GUEST_NTFSDEV_H

#include <stddef.h>
#include <stdint.h>

#include "guest/ntfs3g_sys.h"

struct bw_ntfsdev {
	const char *path;           /* for messages; not owned */
	int fd;                     /* -1 for a buffer device */
	const unsigned char *mem;   /* the buffer device's bytes */
	int (*rd)(void *ctx, void *buf, size_t len, uint64_t off);  /* a reader device */
	void *rdctx;
	uint64_t size;              /* fixed at open */
	int64_t pos;                /* for seek/read, which libntfs-3g uses to size a device */
	int readonly;
	int oob;                    /* an access went past the end of the volume */
	uint64_t oob_offset;
	int host_errno;             /* a read/write/sync of the host file failed */
};

/* Ready D for the file PATH (opened by libntfs-3g's mount). */
void bw_ntfsdev_init_file(struct bw_ntfsdev *d, const char *path);
/* Ready D for LEN bytes at MEM, read-only. */
void bw_ntfsdev_init_mem(struct bw_ntfsdev *d, const void *mem, size_t len,
			 const char *name);
/* Ready D for SIZE bytes read through RD(CTX, ...), read-only. */
void bw_ntfsdev_init_reader(struct bw_ntfsdev *d,
			    int (*rd)(void *ctx, void *buf, size_t len, uint64_t off),
			    void *ctx, uint64_t size, const char *name);
/* An ntfs_device over D (freed by ntfs_umount or ntfs_device_free). */
struct ntfs_device *bw_ntfsdev_alloc(struct bw_ntfsdev *d);

#endif

/*
 * The parent-chain walk that the differencing VHD and VHDX readers share:
 * each differencing open puts itself on a list of the images open below
 * it (child first) and passes it down, so that opening a parent can
 * refuse one already in the chain (a loop: same device and inode) or a
 * chain deeper than BW_DISK_CHAIN_MAX, instead of recursing forever.
 */
#ifndef BW_DISK_CHAIN_H
#define BW_DISK_CHAIN_H

#include <sys/types.h>

#include "disk/disk_internal.h"

/* Images in one chain, the image opened included.  Hyper-V's snapshot
 * trees stay far below; the cap keeps a crafted chain from exhausting
 * descriptors and stack. */
#define BW_DISK_CHAIN_MAX 32u

struct bw_disk_chain {
	dev_t dev;
	ino_t ino;
	unsigned depth;             /* 0 for the image the caller opened */
	const struct bw_disk_chain *child;
};

/*
 * Fill *ME for differencing image D (a KIND, "VHD" or "VHDX") whose chain
 * below is BELOW (NULL: D is the image opened).  Returns 0, BW_EIO, or
 * BW_EUNSUPPORTED when D's parent would pass BW_DISK_CHAIN_MAX.
 */
int bw_disk_chain_enter(struct bw_disk *d, const struct bw_disk_chain *below,
		   const char *kind, struct bw_disk_chain *me, struct bw_error *err);

/*
 * Open PATH, a candidate parent of CHILD (whose chain entry is ME): a
 * handle with path, fd (blocking, read-only) and file_size set and no
 * driver yet, which the caller checks, opens and on failure closes with
 * bw_disk_close.  Returns 0 with *OUT set, 1 when PATH does not exist
 * (try the next candidate), or a code: BW_EFORMAT (already in the chain),
 * BW_EUNSUPPORTED (not a regular file or block device), BW_EIO, BW_ENOMEM.
 */
int bw_disk_chain_open(struct bw_disk *child, const char *path,
		       const struct bw_disk_chain *me, struct bw_disk **out,
		       struct bw_error *err);

/* "DIR/NAME" where DIR is the directory of CHILD's path (malloc'd; NULL
 * when out of memory). */
char *bw_disk_chain_sibling(const char *child, const char *name);

#endif

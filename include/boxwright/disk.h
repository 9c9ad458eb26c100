/*
 * bw_disk: a virtual disk opened by probing its container format.
 * Drivers: raw, VHD fixed and dynamic (read).  Reads of unallocated
 * ranges return zeros; the allocation map says which ranges can hold data
 * so that copies never read unallocated space.
 */
#ifndef BOXWRIGHT_DISK_H
#define BOXWRIGHT_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

struct bw_disk;

/*
 * Open PATH read-only, probing its format (VHD by its footer cookie, else
 * raw).  Everything the driver needs (footer, headers, tables) is validated
 * here.  Returns 0, BW_EIO (cannot open/read), BW_EFORMAT (corrupt),
 * BW_EUNSUPPORTED (a kind not handled) or BW_ENOMEM.
 */
int bw_disk_open(const char *path, struct bw_disk **out, struct bw_error *err);

/* Accepts NULL. */
void bw_disk_close(struct bw_disk *d);

/* "raw", "vhd-fixed", "vhd-dynamic"... */
const char *bw_disk_format(const struct bw_disk *d);
const char *bw_disk_path(const struct bw_disk *d);
uint64_t bw_disk_size(const struct bw_disk *d);

/*
 * Read LEN bytes at OFF of the virtual disk.  The range must lie inside
 * the virtual size (BW_EINVAL otherwise).  Returns 0 or BW_EIO/BW_EFORMAT.
 */
int bw_disk_pread(struct bw_disk *d, void *buf, size_t len, uint64_t off,
		  struct bw_error *err);

/*
 * Allocation map: the first range [*start, *end) at or after OFF that may
 * hold data.  Returns 1 when one was found, 0 when the rest of the disk is
 * unallocated, or a negative code.
 */
int bw_disk_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
		      uint64_t *end, struct bw_error *err);

/* Format-specific facts for inspect (VHD footer fields); may be zero. */
struct bw_disk_info {
	char creator[5];        /* VHD creator application, NUL-terminated */
	uint32_t block_size;    /* VHD dynamic block size */
	uint16_t cylinders;     /* VHD CHS geometry */
	uint8_t heads, sectors_per_track;
	uint64_t allocated;     /* bytes the allocation map covers */
};
int bw_disk_get_info(struct bw_disk *d, struct bw_disk_info *info,
		     struct bw_error *err);

#endif

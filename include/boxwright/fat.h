/*
 * Read-only FAT12/16/32 (Microsoft's "FAT: General Overview of On-Disk
 * Format", fatgen103): enough to check that a GPT image's EFI system
 * partition holds \EFI\Microsoft\Boot\BCD and \EFI\Boot\bootx64.efi, and
 * to copy the ESP by its used ranges only (DESIGN.md "Disk layouts",
 * "Correctness rules").  The boot sector is validated and the active FAT
 * read into memory once, at open; lookups then trust the handle.  This
 * module never writes.
 */
#ifndef BOXWRIGHT_FAT_H
#define BOXWRIGHT_FAT_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/disk.h"
#include "boxwright/error.h"

/* Caps against fuzzed geometry, checked before anything is allocated. */
/* fatgen103: clusters are numbered 2..0x0FFFFFF6 (0x0FFFFFF7 marks a bad
 * cluster), so a FAT32 volume holds at most 0x0FFFFFF5 clusters. */
#define BW_FAT_MAX_CLUSTERS 0x0FFFFFF5u
/* The active FAT is held in memory: 64 MiB covers 16 Mi FAT32 clusters
 * (64 GiB at 4 KiB clusters; ESPs are 100-500 MB).  More is refused with
 * BW_EUNSUPPORTED. */
#define BW_FAT_MAX_FAT_BYTES (64u * 1024 * 1024)
/* fatgen103: "bytes per cluster > 32K" is invalid, 64K is accepted by
 * some systems (Windows NT); more is refused with BW_EUNSUPPORTED. */
#define BW_FAT_MAX_CLUSTER_SIZE 65536u
/* fatgen103: a directory holds at most 65,536 32-byte entries (2 MiB). */
#define BW_FAT_MAX_DIR_ENTRIES 65536u
/* fatgen103: a long name is at most 255 characters, 20 entries of 13. */
#define BW_FAT_MAX_LFN_ENTRIES 20u

struct bw_fat_info {
	unsigned type;               /* 12, 16 or 32: by cluster count (fatgen103) */
	uint16_t bytes_per_sector;   /* 0x0B */
	uint32_t cluster_size;       /* bytes: 0x0D sectors per cluster x bps */
	uint16_t reserved_sectors;   /* 0x0E */
	uint8_t fats;                /* 0x10: 1 or 2 */
	uint8_t active_fat;          /* FAT32 0x28 when mirroring is off, else 0 */
	uint32_t fat_sectors;        /* 0x16, or 0x24 on FAT32 */
	uint16_t root_entries;       /* 0x11: FAT12/16 fixed root; 0 on FAT32 */
	uint32_t root_cluster;       /* 0x2C on FAT32; 0 on FAT12/16 */
	uint64_t total_sectors;      /* 0x13, or 0x20 when that is 0 */
	uint32_t cluster_count;      /* data clusters: 2..cluster_count+1 */
	uint64_t data_offset;        /* bytes from the partition start to cluster 2 */
	uint64_t volume_size;        /* total_sectors x bytes_per_sector */
	uint32_t used_clusters;      /* FAT entries 2..cluster_count+1 not zero */
};

struct bw_fat;

/*
 * Open the FAT volume at byte offset PART_OFF, PART_SIZE bytes long, of
 * disk D (which must outlive the handle).  LABEL names the partition in
 * messages ("nano.vhdx: partition 1 (EFI system)"; NULL: the disk's path).
 * Validates the boot sector (jump, bytes per sector, sectors per cluster,
 * reserved sectors, FAT count, root entries, total sectors against
 * PART_SIZE, FAT size, the type by cluster count, FAT32's version and root
 * cluster, 0x55AA) and reads the active FAT.  Returns 0, BW_EFORMAT (names
 * the field, its offset, what was expected and found), BW_EUNSUPPORTED
 * (over a BW_FAT_MAX_* cap, a FAT32 version other than 0.0), BW_EIO,
 * BW_ENOMEM.
 */
int bw_fat_open(struct bw_disk *d, uint64_t part_off, uint64_t part_size,
		const char *label, struct bw_fat **out, struct bw_error *err);

/* Accepts NULL. */
void bw_fat_close(struct bw_fat *f);

const struct bw_fat_info *bw_fat_get_info(const struct bw_fat *f);

/*
 * Does PATH exist?  PATH is split at '\' (or '/'); empty components are
 * skipped, so "" and "\" name the root; "." and ".." are refused
 * (BW_EINVAL).  Each component matches an entry's long name (its LFN
 * entries in order, with the short name's checksum: orphans are ignored as
 * fatgen103 says) or its 8.3 short name, ASCII case-insensitively.  On 1,
 * *IS_DIR and *SIZE (either may be NULL) describe the entry (a directory
 * has size 0), and its cluster chain has been checked: in range, no free
 * or bad cluster, no loop, long enough for the size.  Returns 1, 0 (absent,
 * or a component before the last is a file), BW_EFORMAT (a corrupt
 * directory or chain on the way), BW_EINVAL, BW_EIO, BW_ENOMEM.
 */
int bw_fat_exists(struct bw_fat *f, const char *path, int *is_dir,
		  uint64_t *size, struct bw_error *err);

/*
 * The ranges a copy of the volume needs, in increasing order and merged,
 * as byte offsets from the partition start: the reserved sectors, every
 * FAT and the FAT12/16 root directory always, then each run of data
 * clusters whose FAT entry is not zero (allocated, end of chain or marked
 * bad).  Free clusters and sectors past the last cluster are left out:
 * their bytes mean nothing to any FAT driver.  CB returns 0 to go on; any
 * other value stops the walk and is returned.  Returns 0 or CB's value.
 */
/*
 * Read the file PATH (as bw_fat_exists resolves it) into a malloc'd
 * *DATA of *LEN bytes; a file over MAX bytes is BW_EFORMAT (the callers
 * read small boot files).  Returns 0, BW_ENOTFOUND, BW_EINVAL (a
 * directory), BW_EFORMAT, BW_EIO, BW_ENOMEM.
 */
int bw_fat_read(struct bw_fat *f, const char *path, size_t max, uint8_t **data,
		size_t *len, struct bw_error *err);

typedef int (*bw_fat_range_cb)(void *ctx, uint64_t off, uint64_t len);
int bw_fat_used_ranges(const struct bw_fat *f, bw_fat_range_cb cb, void *ctx);

#endif

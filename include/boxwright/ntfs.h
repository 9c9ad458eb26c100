/*
 * Read-only NTFS facts (FORMATS.md "NTFS boot sector"): boot-sector
 * geometry, $Volume flags and version, the $LogFile restart state and the
 * $Bitmap free-cluster map, read with our own bounds-checked code over a
 * bw_disk.  This module never writes NTFS files (libguestfs/ntfs-3g do).
 */
#ifndef BOXWRIGHT_NTFS_H
#define BOXWRIGHT_NTFS_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/disk.h"
#include "boxwright/error.h"

/* Caps against fuzzed geometry: NTFS allows 64 KiB clusters (2 MiB on
 * newer Windows), 4 KiB MFT records in practice. */
#define BW_NTFS_MAX_CLUSTER_SIZE (2u * 1024 * 1024)
#define BW_NTFS_MAX_RECORD_SIZE 4096u
/* The $Bitmap is held in memory: 1 GiB covers 8 Gi clusters (32 TiB at
 * 4 KiB clusters); a larger one is refused with BW_EUNSUPPORTED. */
#define BW_NTFS_MAX_BITMAP_SIZE (1024ull * 1024 * 1024)

struct bw_ntfs_geometry {
	uint16_t bytes_per_sector;   /* 0x0B */
	uint32_t cluster_size;       /* bytes, from 0x0D (and its 2^-n form) */
	uint32_t hidden_sectors;     /* 0x1C: partition start LBA as NTFS knows it */
	uint64_t total_sectors;      /* 0x28 */
	uint64_t total_clusters;     /* total_sectors * bps / cluster_size */
	uint64_t mft_lcn;            /* 0x30 */
	uint64_t mftmirr_lcn;        /* 0x38 */
	uint32_t mft_record_size;    /* from 0x40 (signed) */
	uint64_t serial;             /* 0x48 */
};

/* Is this sector an NTFS boot sector (OEM id "NTFS    " at 3)? */
int bw_ntfs_probe(const uint8_t sector[512]);

/*
 * Parse and validate a boot sector of a partition of PART_SIZE bytes.
 * FILE and FILE_OFF (the sector's byte offset in the image) name the place
 * in messages.  Rejects absurd geometry: sector size not 512..4096 power of
 * two, cluster size over BW_NTFS_MAX_CLUSTER_SIZE, record size not 1 KiB..4 KiB,
 * the volume or $MFT outside the partition, no 0x55AA.
 * Returns 0 or BW_EFORMAT / BW_EUNSUPPORTED.
 */
int bw_ntfs_parse_boot(const uint8_t sector[512], uint64_t part_size,
		       const char *file, uint64_t file_off,
		       struct bw_ntfs_geometry *g, struct bw_error *err);

struct bw_ntfs;

/*
 * Open the NTFS volume at byte offset PART_OFF, PART_SIZE bytes long, of
 * disk D (which must outlive the handle).  Reads and validates the boot
 * sector, the $MFT record (its runlist locates every other record), $Volume
 * (record 3), $LogFile's restart page (record 2) and the whole $Bitmap
 * (record 6) into memory, and looks up hiberfil.sys in the root
 * directory (record 5) to set hibernated.  Update-sequence fixups are
 * applied to every record and INDX block.  Returns 0, BW_EFORMAT (corrupt: names the record and offset),
 * BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
int bw_ntfs_open(struct bw_disk *d, uint64_t part_off, uint64_t part_size,
		 struct bw_ntfs **out, struct bw_error *err);
void bw_ntfs_close(struct bw_ntfs *v);

const struct bw_ntfs_geometry *bw_ntfs_get_geometry(const struct bw_ntfs *v);

enum bw_ntfs_logfile {
	BW_NTFS_LOG_UNKNOWN = 0,   /* restart area not understood */
	BW_NTFS_LOG_CLEAN   = 1,   /* RESTART_VOLUME_IS_CLEAN set */
	BW_NTFS_LOG_UNCLEAN = 2,   /* the volume was not unmounted cleanly */
};

#define BW_NTFS_VOLUME_DIRTY 0x0001u

struct bw_ntfs_state {
	uint16_t volume_flags;       /* $VOLUME_INFORMATION flags */
	uint8_t major, minor;        /* NTFS version, 3.1 for Windows */
	int dirty;                   /* volume_flags & BW_NTFS_VOLUME_DIRTY */
	enum bw_ntfs_logfile logfile;
	/* Version of the restart page that counted (0.0 when the journal is
	 * empty or not understood).  Windows 8 and later leave 2.0 after a
	 * fast-startup shutdown, hibernation or power loss (metadata kept in
	 * Windows' cache) and 1.1 after a full shutdown; ntfs-3g refuses to
	 * mount a 2.0 journal read-write even when it is marked clean. */
	int16_t logfile_major, logfile_minor;
	/* 1 when the root directory holds a hiberfil.sys whose data starts
	 * "hibr", "HIBR", "wake" or "WAKE": Windows hibernated (or shut down
	 * with fast startup) and will resume from it, so the volume must not
	 * change under it; ntfs-3g refuses to mount it read-write.  -1 when
	 * the root index is of a kind not supported (an $ATTRIBUTE_LIST). */
	int hibernated;
	char label[256];             /* $VOLUME_NAME in UTF-8, may be empty */
	uint64_t used_clusters;      /* set bits of $Bitmap below total_clusters */
	uint64_t free_clusters;
};
int bw_ntfs_get_state(const struct bw_ntfs *v, struct bw_ntfs_state *st);

/*
 * The $Bitmap: bit (lcn % 8) of byte (lcn / 8) set = cluster lcn in use.
 * *nbytes is the length of the $DATA stream as stored (covers at least
 * total_clusters bits).
 */
const uint8_t *bw_ntfs_bitmap(const struct bw_ntfs *v, size_t *nbytes);
/* 1 used, 0 free, BW_EINVAL when LCN >= total_clusters. */
int bw_ntfs_cluster_used(const struct bw_ntfs *v, uint64_t lcn);

/*
 * Copy every used cluster of the volume into FD at its own offset within
 * the partition (FD becomes a sparse image of the partition, part_size
 * bytes long; free clusters are holes).  OUTNAME names FD in messages.
 * Returns 0, BW_EIO or a read error of the disk.
 */
int bw_ntfs_copy_used(struct bw_ntfs *v, int fd, const char *outname,
		      struct bw_error *err);

/*
 * Do the first N bytes of \hiberfil.sys (HEAD) say Windows will resume
 * from it?  1 when N >= 4 and they start "hibr", "HIBR", "wake" or "WAKE"
 * (ntfs-3g's ntfs_volume_check_hiberfile; the same rule sets
 * bw_ntfs_state.hibernated), else 0.  For callers that read the file
 * through another backend (the guest), so both judge alike.
 */
int bw_ntfs_hiberfil_hibernated(const void *head, size_t n);

/*
 * Set the hidden-sectors field (0x1C) of the NTFS boot sector at offset 0
 * of FD (a partition file, PART_SIZE bytes) and of its backup in the
 * partition's last sector (FORMATS.md), to HIDDEN.  Both must be NTFS boot
 * sectors (the backup may be absent: *backup_patched says).  Nothing else
 * changes.  Returns 0, BW_EFORMAT (no NTFS boot sector at 0), BW_EIO.
 */
int bw_ntfs_set_hidden_sectors(int fd, uint64_t part_size, uint32_t hidden,
			       const char *name, int *backup_patched,
			       struct bw_error *err);

#endif

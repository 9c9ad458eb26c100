/*
 * Partition tables: the MBR (FORMATS.md "MBR") and the GPT (FORMATS.md
 * "GPT"; UEFI 2.10 chapter 5).  bw_mbr_parse refuses a protective MBR:
 * GPT disks go through bw_gpt_parse, which reads the protective MBR itself.
 */
#ifndef BOXWRIGHT_PART_H
#define BOXWRIGHT_PART_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

#define BW_MBR_BOOT_CODE_SIZE 440
#define BW_MBR_TYPE_NTFS 0x07
#define BW_MBR_TYPE_GPT_PROTECTIVE 0xEE

struct bw_mbr_entry {
	uint8_t status;      /* 0x80 active, 0x00 inactive */
	uint8_t type;        /* 0 = unused slot */
	uint32_t lba_start;
	uint32_t sectors;
};

struct bw_mbr {
	uint8_t boot_code[BW_MBR_BOOT_CODE_SIZE];
	uint32_t signature;
	struct bw_mbr_entry part[4];
};

/*
 * Parse and validate one MBR sector of a disk of DISK_SIZE bytes: the
 * 0x55AA mark, status bytes, every used entry inside the disk and no two
 * overlapping.  FILE names the image in messages.  Returns 0, BW_EFORMAT
 * or BW_EUNSUPPORTED (a GPT protective MBR).
 */
int bw_mbr_parse(const uint8_t sector[512], uint64_t disk_size,
		 const char *file, struct bw_mbr *out, struct bw_error *err);

/* Encode MBR into a 512-byte sector (boot code, signature, entries, 0x55AA). */
void bw_mbr_encode(const struct bw_mbr *mbr, uint8_t sector[512]);

/* The used slot (1-based) that starts at byte OFFSET, 0 if none: what a
 * BCD device or MountedDevices value names. */
int bw_mbr_part_at(const struct bw_mbr *mbr, uint64_t offset);
/* The active slot (1-based; the last one marked, as the BIOS boot code
 * scans), 0 if none. */
int bw_mbr_active(const struct bw_mbr *mbr);

/* ---- the MBR layout plan of build (DESIGN.md "Disk layouts") --------- */

#define BW_PLAN_ALIGN_LBA 2048u      /* 1 MiB, as Windows aligns */

/*
 * Where build puts each partition of an MBR disk on the new disk of
 * NEW_SIZE bytes.  WIN_PART is the Windows partition, BOOT_PART the active
 * one that holds bootmgr and \Boot\BCD (1-based; equal for a one-partition
 * image).  The rules:
 *  - one partition: Windows moves to 1 MiB and fills the disk;
 *  - "System Reserved" + Windows: the boot partition stays where it is
 *    when it starts on a 1 MiB boundary, else it moves to 1 MiB, keeping
 *    its size; Windows stays when it is aligned and nothing before it
 *    moved, else it goes to the first 1 MiB boundary after the boot
 *    partition; it grows (or shrinks) to the end of the disk;
 *  - anything else (another partition, the boot partition after Windows)
 *    is BW_EUNSUPPORTED naming what was found.
 * The new table keeps the source's boot code, signature, slots, types and
 * status bytes.  Returns 0, BW_EUNSUPPORTED or BW_EINVAL (a disk too small
 * or past MBR's 2 TiB).
 */
struct bw_mbr_plan {
	struct bw_mbr mbr;                 /* the new table */
	int win_part, boot_part;           /* 1-based slots, as given */
	uint64_t old_offset[4], new_offset[4];   /* bytes, per slot; 0 unused */
	uint64_t old_size[4], new_size[4];
};
int bw_mbr_plan(const struct bw_mbr *src, int win_part, int boot_part, uint64_t new_size,
		const char *file, struct bw_mbr_plan *out, struct bw_error *err);

/* ---- GPT ------------------------------------------------------------ */

/* Caps checked before anything is allocated (against fuzzed headers). */
#define BW_GPT_MAX_ENTRIES    1024   /* Windows and gdisk write 128 */
#define BW_GPT_MAX_ENTRY_SIZE 4096   /* 128 x 2^n; everyone writes 128 */
#define BW_GPT_NAME_SIZE      72     /* 36 UTF-16LE units */
/* A decoded name: 36 units, at most 3 UTF-8 bytes each, and a NUL. */
#define BW_GPT_NAME_UTF8_MAX  (36 * 3 + 1)

/* The well-known partition types (bw_gpt_classify). */
enum bw_gpt_kind {
	BW_GPT_KIND_OTHER = 0,
	BW_GPT_KIND_ESP,          /* EFI System C12A7328-F81F-11D2-BA4B-00A0C93EC93B */
	BW_GPT_KIND_MSR,          /* Microsoft Reserved E3C9E316-0B5C-4DB8-817D-F92DF00215AE */
	BW_GPT_KIND_BASIC_DATA,   /* Microsoft basic data EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 */
	BW_GPT_KIND_RECOVERY,     /* Windows Recovery DE94BBA4-06D1-4D40-A16A-BFD50179D6AC */
};

/* Flags of struct bw_gpt: what the caller may want to report. */
#define BW_GPT_FROM_BACKUP    0x1u  /* the primary copy was bad (see damaged) */
#define BW_GPT_BACKUP_BAD     0x2u  /* the backup copy was bad (see damaged) */
#define BW_GPT_BACKUP_NOT_END 0x4u  /* backup header not in the last LBA
				       (the disk grew after partitioning) */
#define BW_GPT_PMBR_SHORT     0x8u  /* the 0xEE entry ends before the disk
				       (or says 0xFFFFFFFF on a small disk) */

/* GUIDs are kept as the 16 bytes on disk (mixed-endian: the first three
 * fields little-endian); bw_guid_format (win.h) gives the text form. */
struct bw_gpt_part {
	uint32_t index;              /* slot in the entry array, 0-based
					(sgdisk's partition number - 1) */
	uint8_t type_guid[16];
	uint8_t unique_guid[16];
	uint64_t first_lba, last_lba; /* inclusive */
	uint64_t attributes;
	uint8_t name_raw[BW_GPT_NAME_SIZE];      /* UTF-16LE as on disk */
	char name[BW_GPT_NAME_UTF8_MAX];         /* decoded up to the first NUL;
						    unpaired surrogates -> U+FFFD */
};

struct bw_gpt {
	uint32_t sector_size;        /* 512 or 4096 */
	uint64_t disk_sectors;       /* disk size / sector size */
	/* Protective MBR: kept so that the writer keeps the boot code. */
	uint8_t pmbr_boot_code[BW_MBR_BOOT_CODE_SIZE];
	uint32_t pmbr_signature;
	/* The header that was used (the primary unless BW_GPT_FROM_BACKUP),
	 * with my/alternate given as the primary's view. */
	uint8_t disk_guid[16];
	uint64_t primary_lba;        /* 1 */
	uint64_t backup_lba;         /* where the backup header is (or should be) */
	uint64_t first_usable, last_usable;
	uint64_t primary_entries_lba, backup_entries_lba;
	uint32_t entry_count, entry_size;
	uint32_t entries_crc;
	unsigned flags;              /* BW_GPT_* above */
	struct bw_error damaged;     /* code != 0: why the other copy was refused */
	size_t nparts;               /* used entries, in slot order */
	struct bw_gpt_part *part;    /* malloc'd; bw_gpt_free */
};

/*
 * Reads LEN bytes at byte offset OFF of the disk into BUF: 0 or a negative
 * BW_E* code with ERR filled.  bw_gpt_parse only asks for whole sectors
 * inside the DISK_SIZE it was given.
 */
typedef int (*bw_gpt_read_fn)(void *ctx, void *buf, size_t len, uint64_t off,
			      struct bw_error *err);

/*
 * Parse and validate the GPT of a disk of DISK_SIZE bytes read through
 * READ(CTX): the protective MBR (one 0xEE entry from LBA 1; a hybrid MBR
 * is BW_EUNSUPPORTED), the primary header at LBA 1 and the backup header
 * it names (or the last LBA when the primary is bad), each with its
 * signature, revision 1.0, size, CRC32, reserved field, LBAs and entry
 * array (count and size capped, CRC32); both copies must agree.  Every
 * used entry (non-zero type GUID) must have first <= last inside
 * [first_usable, last_usable] and overlap no other.  One bad copy is
 * survived and reported in OUT->flags and OUT->damaged; both bad is
 * BW_EFORMAT naming both.  SECTOR_SIZE is 512, 4096, or 0 to try 512 and
 * then 4096.  OUT is filled on success and empty (safe to free) on error.
 * Returns 0, BW_EFORMAT, BW_EUNSUPPORTED (hybrid MBR, other revision,
 * non-zero reserved bytes of a larger header or entry), BW_ENOMEM, BW_EINVAL
 * (bad SECTOR_SIZE), or what READ returns.
 */
int bw_gpt_parse(bw_gpt_read_fn read, void *ctx, uint64_t disk_size,
		 uint32_t sector_size, const char *file, struct bw_gpt *out,
		 struct bw_error *err);

struct bw_disk;
/* bw_gpt_parse on a bw_disk (disk.h) through bw_disk_pread. */
int bw_gpt_parse_disk(struct bw_disk *d, uint32_t sector_size,
		      struct bw_gpt *out, struct bw_error *err);

/* Free OUT's allocations (OUT itself is the caller's); accepts an empty or
 * half-filled table. */
void bw_gpt_free(struct bw_gpt *gpt);

/* Which well-known type TYPE_GUID (16 bytes as on disk) is. */
enum bw_gpt_kind bw_gpt_classify(const uint8_t type_guid[16]);

/* Where a partition goes in bw_gpt_encode (inclusive LBAs). */
struct bw_gpt_range {
	uint64_t first_lba, last_lba;
};

/* Sectors to place on the disk: RUN[i] is NSECTORS sectors at LBA. */
struct bw_gpt_run {
	uint64_t lba;
	size_t nsectors;
	uint8_t *data;               /* points into the image's one buffer */
};

/* What bw_gpt_encode produces, in increasing LBA order: the protective MBR
 * (LBA 0), the primary header (LBA 1), the primary entries, and the backup
 * entries followed by the backup header (the last LBA). */
struct bw_gpt_image {
	size_t nruns;
	struct bw_gpt_run run[4];
	uint8_t *buf;
};

/*
 * Encode GPT for a disk of NEW_DISK_SIZE bytes (a multiple of the sector
 * size), partition i of GPT->part at RANGES[i] (RANGES may be NULL: all
 * unchanged).  Keeps the boot code and signature of the protective MBR,
 * the disk GUID, the entry count and size, the primary entries' LBA, the
 * first usable LBA, and each partition's slot, type and unique GUID,
 * attributes and name; the backup entries go just before the backup
 * header in the new last LBA, last usable just before them, and both
 * CRC32s are recomputed.  The protective MBR's 0xEE entry covers the new
 * disk (capped at 0xFFFFFFFF sectors).  Returns 0, BW_EINVAL (a range
 * empty, outside the new usable range or overlapping another; a disk too
 * small or not a whole number of sectors) or BW_ENOMEM; OUT is empty
 * (safe to free) on error.
 */
int bw_gpt_encode(const struct bw_gpt *gpt, uint64_t new_disk_size,
		  const struct bw_gpt_range *ranges, struct bw_gpt_image *out,
		  struct bw_error *err);

/* Free what bw_gpt_encode allocated; accepts an empty image. */
void bw_gpt_image_free(struct bw_gpt_image *img);

/*
 * build's GPT layout plan (DESIGN.md "Disk layouts"): on a disk of
 * NEW_SIZE bytes, every partition before Windows (GPT->part[WIN]) keeps
 * its place (the ESP and MSR are copied verbatim), Windows keeps its start
 * and grows (or shrinks) to what is left, and the partitions after it
 * (Recovery) move to the end of the disk in their order, unchanged in
 * size, each starting on a 1 MiB boundary.  RANGE[i] is where GPT->part[i]
 * goes, for bw_gpt_encode.  Returns 0 or BW_EINVAL (the disk too small
 * for them, or not a whole number of sectors).
 */
struct bw_gpt_plan {
	size_t nparts, win;
	struct bw_gpt_range *range;  /* nparts, malloc'd; bw_gpt_plan_free */
	uint64_t new_size;
};
int bw_gpt_plan(const struct bw_gpt *gpt, size_t win, uint64_t new_size, const char *file,
		struct bw_gpt_plan *out, struct bw_error *err);
void bw_gpt_plan_free(struct bw_gpt_plan *plan);

#endif

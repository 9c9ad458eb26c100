/*
 * Internals of the ntfs module: on-disk offsets, caps and the decoded forms
 * the three files share.  Not part of the public API (boxwright/ntfs.h).
 *
 * Sources for every offset below: ntfs-3g's include/ntfs-3g/layout.h
 * (NTFS_BOOT_SECTOR, NTFS_RECORD, MFT_RECORD, ATTR_RECORD,
 * VOLUME_INFORMATION) and include/ntfs-3g/logfile.h (RESTART_PAGE_HEADER,
 * RESTART_AREA, LOG_CLIENT_RECORD), which come from the Linux-NTFS
 * project's documentation of the format.  The structures are never cast
 * over file bytes: each field is read with bw_get_le*(p + OFFSET).
 */
#ifndef BW_NTFS_INTERNAL_H
#define BW_NTFS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/ntfs.h"

/* ---- boot sector (layout.h NTFS_BOOT_SECTOR / BIOS_PARAMETER_BLOCK) ---- */
#define NTFS_BOOT_OEM_ID               0x03  /* 8 bytes "NTFS    " */
#define NTFS_BOOT_BYTES_PER_SECTOR     0x0B  /* le16 */
#define NTFS_BOOT_SECTORS_PER_CLUSTER  0x0D  /* u8, >128: 2^(256-n) sectors */
#define NTFS_BOOT_RESERVED_SECTORS     0x0E  /* le16, zero */
#define NTFS_BOOT_FATS                 0x10  /* u8, zero */
#define NTFS_BOOT_ROOT_ENTRIES         0x11  /* le16, zero */
#define NTFS_BOOT_SECTORS16            0x13  /* le16, zero */
#define NTFS_BOOT_SECTORS_PER_FAT      0x16  /* le16, zero */
#define NTFS_BOOT_HIDDEN_SECTORS       0x1C  /* le32 */
#define NTFS_BOOT_LARGE_SECTORS        0x20  /* le32, zero */
#define NTFS_BOOT_TOTAL_SECTORS        0x28  /* sle64 */
#define NTFS_BOOT_MFT_LCN              0x30  /* sle64 */
#define NTFS_BOOT_MFTMIRR_LCN          0x38  /* sle64 */
#define NTFS_BOOT_CLUSTERS_PER_RECORD  0x40  /* s8: <0 means 2^-n bytes */
#define NTFS_BOOT_SERIAL               0x48  /* le64 */
#define NTFS_BOOT_END_MARKER           0x1FE /* le16 0xAA55 */
#define NTFS_BOOT_SIZE                 512

/* ---- multi-sector transfer protection (layout.h NTFS_RECORD) ---- */
#define NTFS_REC_MAGIC        0  /* 4 bytes: "FILE", "RSTR", "CHKD"... */
#define NTFS_REC_USA_OFS      4  /* le16: offset of the update sequence array */
#define NTFS_REC_USA_COUNT    6  /* le16: entries including the USN itself */
/* The update sequence stride is NTFS_BLOCK_SIZE (512) whatever the sector
 * size, and the array must end before the first sector's own fixup word,
 * i.e. at or before byte 510 (layout.h, NTFS_RECORD comment). */
#define NTFS_USA_STRIDE       512u
#define NTFS_USA_MAX_END      510u

/* ---- MFT record header (layout.h MFT_RECORD / MFT_RECORD_OLD) ---- */
#define NTFS_MFT_SEQUENCE        16  /* le16 */
#define NTFS_MFT_ATTRS_OFFSET    20  /* le16: first attribute */
#define NTFS_MFT_FLAGS           22  /* le16 */
#define NTFS_MFT_BYTES_IN_USE    24  /* le32 */
#define NTFS_MFT_BYTES_ALLOCATED 28  /* le32: the record size */
#define NTFS_MFT_BASE_RECORD     32  /* le64: 0 in a base record */
#define NTFS_MFT_RECORD_NUMBER   44  /* le32, NTFS 3.1 records only */
#define NTFS_MFT_HEADER_OLD      42  /* sizeof(MFT_RECORD_OLD), NTFS <= 3.0 */
#define NTFS_MFT_HEADER_31       48  /* sizeof(MFT_RECORD), NTFS 3.1 */
#define NTFS_MFT_RECORD_IN_USE   0x0001u

/* System files (layout.h NTFS_SYSTEM_FILES). */
#define NTFS_FILE_MFT      0
#define NTFS_FILE_LOGFILE  2
#define NTFS_FILE_VOLUME   3
#define NTFS_FILE_ROOT     5   /* the root directory "." */
#define NTFS_FILE_BITMAP   6
/* A file reference (layout.h MFT_REF): record number in the low 48 bits,
 * the record's sequence number in the high 16. */
#define NTFS_MREF_RECORD(ref)   ((ref) & 0x0000FFFFFFFFFFFFull)
#define NTFS_MREF_SEQUENCE(ref) ((uint16_t)((ref) >> 48))

/* ---- attribute record (layout.h ATTR_RECORD) ---- */
#define NTFS_ATTR_TYPE          0   /* le32 */
#define NTFS_ATTR_LENGTH        4   /* le32, multiple of 8 */
#define NTFS_ATTR_NON_RESIDENT  8   /* u8 */
#define NTFS_ATTR_NAME_LENGTH   9   /* u8, in UTF-16 units */
#define NTFS_ATTR_NAME_OFFSET   10  /* le16 */
#define NTFS_ATTR_FLAGS         12  /* le16 */
/* resident form */
#define NTFS_ATTR_VALUE_LENGTH  16  /* le32 */
#define NTFS_ATTR_VALUE_OFFSET  20  /* le16 */
#define NTFS_ATTR_RESIDENT_HEADER 24
/* non-resident form */
#define NTFS_ATTR_LOWEST_VCN    16  /* sle64 */
#define NTFS_ATTR_HIGHEST_VCN   24  /* sle64 */
#define NTFS_ATTR_MAPPING_PAIRS_OFFSET 32 /* le16 */
#define NTFS_ATTR_ALLOCATED_SIZE 40 /* sle64 */
#define NTFS_ATTR_DATA_SIZE     48  /* sle64 */
#define NTFS_ATTR_INITIALIZED_SIZE 56 /* sle64 */
#define NTFS_ATTR_NONRES_HEADER 64

/* Attribute types (layout.h ATTR_TYPES) and flags (ATTR_FLAGS). */
#define NTFS_AT_ATTRIBUTE_LIST     0x20u
#define NTFS_AT_VOLUME_NAME        0x60u
#define NTFS_AT_VOLUME_INFORMATION 0x70u
#define NTFS_AT_FILE_NAME          0x30u
#define NTFS_AT_DATA               0x80u
#define NTFS_AT_INDEX_ROOT         0x90u
#define NTFS_AT_INDEX_ALLOCATION   0xA0u
#define NTFS_AT_END                0xFFFFFFFFu
#define NTFS_ATTR_IS_COMPRESSED    0x0001u
#define NTFS_ATTR_IS_ENCRYPTED     0x4000u
#define NTFS_ATTR_IS_SPARSE        0x8000u

/* $VOLUME_INFORMATION value (layout.h VOLUME_INFORMATION). */
#define NTFS_VOLINFO_MAJOR  8   /* u8 */
#define NTFS_VOLINFO_MINOR  9   /* u8 */
#define NTFS_VOLINFO_FLAGS  10  /* le16 */
#define NTFS_VOLINFO_SIZE   12

/* ---- directory indexes (layout.h INDEX_ROOT, INDEX_HEADER, INDEX_BLOCK,
 * INDEX_ENTRY, FILE_NAME_ATTR) ---- */
/* $INDEX_ROOT value */
#define NTFS_IR_TYPE                0   /* le32: indexed attribute, 0x30 */
#define NTFS_IR_COLLATION           4   /* le32: COLLATION_FILE_NAME = 1 */
#define NTFS_IR_BLOCK_SIZE          8   /* le32: bytes per INDX block */
#define NTFS_IR_CLUSTERS_PER_BLOCK  12  /* u8 */
#define NTFS_IR_HEADER              16  /* the INDEX_HEADER follows */
#define NTFS_COLLATION_FILE_NAME    1u
/* INDEX_HEADER; its offsets count from the header itself */
#define NTFS_IH_ENTRIES_OFFSET      0   /* le32 */
#define NTFS_IH_INDEX_LENGTH        4   /* le32: bytes in use */
#define NTFS_IH_ALLOCATED_SIZE      8   /* le32 */
#define NTFS_IH_FLAGS               12  /* u8: LARGE_INDEX = 1 */
#define NTFS_IH_SIZE                16
/* INDEX_BLOCK ("INDX", update-sequence protected like an MFT record) */
#define NTFS_IB_VCN                 16  /* sle64: this block's VCN */
#define NTFS_IB_HEADER              24  /* the INDEX_HEADER */
/* INDEX_ENTRY */
#define NTFS_IE_FILE_REF            0   /* le64 MFT_REF */
#define NTFS_IE_LENGTH              8   /* le16, multiple of 8 */
#define NTFS_IE_KEY_LENGTH          10  /* le16 */
#define NTFS_IE_FLAGS               12  /* le16 */
#define NTFS_IE_HEADER              16  /* the key (FILE_NAME_ATTR) */
#define NTFS_IE_NODE                0x0001u /* child VCN in the last 8 bytes */
#define NTFS_IE_END                 0x0002u /* last entry of the node, no key */
/* FILE_NAME_ATTR, the key of a $I30 entry */
#define NTFS_FN_NAME_LENGTH         64  /* u8, UTF-16 units */
#define NTFS_FN_NAME                66  /* UTF-16LE name */

/* ---- $LogFile restart page (logfile.h RESTART_PAGE_HEADER) ---- */
#define NTFS_RSTR_CHKDSK_LSN        8   /* sle64, only in "CHKD" pages */
#define NTFS_RSTR_SYSTEM_PAGE_SIZE  16  /* le32 */
#define NTFS_RSTR_LOG_PAGE_SIZE     20  /* le32 */
#define NTFS_RSTR_RESTART_AREA_OFFSET 24 /* le16 */
#define NTFS_RSTR_MINOR_VER         26  /* sle16 */
#define NTFS_RSTR_MAJOR_VER         28  /* sle16 */
#define NTFS_RSTR_HEADER_SIZE       30
/* restart area (logfile.h RESTART_AREA), relative to restart_area_offset */
#define NTFS_RA_CURRENT_LSN         0   /* sle64 */
#define NTFS_RA_LOG_CLIENTS         8   /* le16 */
#define NTFS_RA_CLIENT_FREE_LIST    10  /* le16 */
#define NTFS_RA_CLIENT_IN_USE_LIST  12  /* le16 */
#define NTFS_RA_FLAGS               14  /* le16 */
#define NTFS_RA_SEQ_NUMBER_BITS     16  /* le32 */
#define NTFS_RA_LENGTH              20  /* le16 */
#define NTFS_RA_CLIENT_ARRAY_OFFSET 22  /* le16 */
#define NTFS_RA_FILE_SIZE           24  /* sle64 */
/* log client record (logfile.h LOG_CLIENT_RECORD) */
#define NTFS_LCR_PREV_CLIENT        16  /* le16 */
#define NTFS_LCR_NEXT_CLIENT        18  /* le16 */
#define NTFS_LCR_SIZE               160
#define NTFS_LOGFILE_NO_CLIENT      0xFFFFu
#define NTFS_RESTART_VOLUME_IS_CLEAN 0x0002u

/* ---- caps against fuzzed input ---- */
/* Runs in one attribute's mapping pairs: a 4 KiB record holds at most
 * ~2000 two-byte pairs, so this is never reached by a valid volume. */
#define BW_NTFS_MAX_RUNS        8192u
/* Attributes in one record: each is at least 24 bytes (resident header). */
#define BW_NTFS_MAX_ATTRS       (BW_NTFS_MAX_RECORD_SIZE / NTFS_ATTR_RESIDENT_HEADER)
/* $LogFile system page size: 4 KiB on x86, 8 KiB on ia64; more is absurd. */
#define BW_NTFS_MAX_LOG_PAGE    65536u
/* An INDX block: 4 KiB from every Windows and mkntfs; the format allows
 * any power of two, 64 KiB is already absurd. */
#define BW_NTFS_MAX_INDEX_BLOCK 65536u
/* B+tree depth we follow: a directory of millions of names is < 10 deep. */
#define BW_NTFS_MAX_INDEX_DEPTH 32u
/* Entries in one node: each is at least NTFS_IE_HEADER bytes. */
#define BW_NTFS_MAX_INDEX_ENTRIES (BW_NTFS_MAX_INDEX_BLOCK / NTFS_IE_HEADER)
/* A resident value we copy out of a record. */
#define BW_NTFS_MAX_RESIDENT    BW_NTFS_MAX_RECORD_SIZE

/* Where a structure sits, for messages: "WHAT at offset OFF". */
struct ntfs_loc {
	const char *file;      /* the disk image, bw_disk_path() */
	uint64_t off;          /* byte offset of the structure in the image */
	char what[64];         /* "NTFS MFT record 6", "NTFS $LogFile restart page 0" */
};

/* One run of a decoded runlist: VCNs [vcn, vcn+length) map to LCNs
 * [lcn, lcn+length), or to nothing (zeros) when sparse. */
struct ntfs_run {
	uint64_t vcn, lcn, length;
	int sparse;
};

struct ntfs_runlist {
	struct ntfs_run *runs;
	size_t count;
	uint64_t end_vcn;      /* first VCN after the last run */
};

/* A decoded attribute header; pointers point into the record buffer. */
struct ntfs_attr {
	uint32_t type, length;
	uint32_t offset;           /* of the attribute within the record */
	int non_resident;
	uint8_t name_length;
	uint16_t flags;
	const uint8_t *rec;        /* the record the attribute lies in */
	/* resident */
	uint32_t value_length;
	uint16_t value_offset;
	/* non-resident */
	int64_t lowest_vcn, highest_vcn;
	uint16_t mapping_pairs_offset;
	uint64_t allocated_size, data_size, initialized_size;
};

/* Walks the attributes of one record, bounds-checked; see mft.c. */
struct ntfs_attr_iter {
	const uint8_t *rec;
	uint32_t bytes_in_use;
	uint32_t next;             /* offset of the next attribute */
	unsigned count;
	const struct ntfs_loc *loc;
};

/* The data of an unnamed attribute: resident (a copy) or a runlist. */
struct ntfs_stream {
	int resident;
	uint8_t *value;            /* resident: value_length bytes */
	struct ntfs_runlist rl;    /* non-resident */
	uint64_t data_size, initialized_size;
	struct ntfs_loc loc;       /* the record holding the attribute */
};

struct bw_ntfs {
	struct bw_disk *disk;
	const char *path;
	uint64_t part_off, part_size;
	struct bw_ntfs_geometry geo;
	struct ntfs_stream mft;        /* $MFT's unnamed $DATA */
	uint8_t *bitmap;               /* $Bitmap's unnamed $DATA, data_size bytes */
	size_t bitmap_len;
	struct bw_ntfs_state state;
};

/* ---- mft.c ---- */

/*
 * Undo the multi-sector transfer protection of BUF (SIZE bytes, a multiple
 * of 512): check usa_ofs/usa_count against SIZE, that every 512-byte
 * sector ends with the update sequence number, and put the saved words
 * back.  Returns 0 or BW_EFORMAT ("fixup mismatch in sector N ...").
 */
int ntfs_mst_fixup(uint8_t *buf, size_t size, const struct ntfs_loc *loc,
		   struct bw_error *err);

/*
 * Check an MFT record whose fixups are applied: "FILE" magic (before the
 * fixups, done by ntfs_read_record), bytes_allocated = SIZE, bytes_in_use,
 * attrs_offset, in-use flag, base record, and the record number when the
 * 3.1 header carries one.  Returns 0 or BW_EFORMAT.
 */
int ntfs_record_check(const uint8_t *rec, uint32_t size, uint64_t recno,
		      const struct ntfs_loc *loc, struct bw_error *err);

/* Begin walking the attributes of a checked record. */
void ntfs_attr_iter_init(struct ntfs_attr_iter *it, const uint8_t *rec,
			 const struct ntfs_loc *loc);
/* Next attribute: 1 and *A filled, 0 at the end marker, or BW_EFORMAT. */
int ntfs_attr_next(struct ntfs_attr_iter *it, struct ntfs_attr *a,
		   struct bw_error *err);
/*
 * Find the unnamed attribute of TYPE.  Returns 0, BW_ENOTFOUND (no error
 * message set), BW_EUNSUPPORTED (the record has an $ATTRIBUTE_LIST, so
 * the attribute may live in another record) or BW_EFORMAT.
 */
int ntfs_attr_find(const uint8_t *rec, uint32_t type,
		   const struct ntfs_loc *loc, struct ntfs_attr *a,
		   struct bw_error *err);

/*
 * Decode mapping pairs MP (MP_LEN bytes) starting at LOWEST_VCN.  Every
 * run must lie inside TOTAL_CLUSTERS; VCNs stay below
 * INT64_MAX / CLUSTER_SIZE so that byte offsets never overflow.
 * Returns 0, BW_EFORMAT or BW_ENOMEM; on error *RL is empty.
 */
int ntfs_runlist_decode(const uint8_t *mp, size_t mp_len, uint64_t lowest_vcn,
			uint64_t total_clusters, uint32_t cluster_size,
			const struct ntfs_loc *loc, struct ntfs_runlist *rl,
			struct bw_error *err);
void ntfs_runlist_free(struct ntfs_runlist *rl);
/* The run holding VCN, or NULL. */
const struct ntfs_run *ntfs_runlist_find(const struct ntfs_runlist *rl,
					 uint64_t vcn);

/*
 * Build a stream from attribute A (unnamed, lowest_vcn 0, not compressed
 * or encrypted).  Returns 0, BW_EFORMAT, BW_EUNSUPPORTED or BW_ENOMEM.
 */
int ntfs_stream_from_attr(const struct ntfs_attr *a,
			  const struct bw_ntfs_geometry *g,
			  const struct ntfs_loc *loc, struct ntfs_stream *s,
			  struct bw_error *err);
void ntfs_stream_free(struct ntfs_stream *s);
/*
 * Read LEN bytes at OFF of stream S; [OFF, OFF+LEN) must lie within
 * data_size (BW_EFORMAT naming WHAT otherwise).  Bytes past
 * initialized_size and in sparse runs read as zeros.
 */
int ntfs_stream_read(struct bw_ntfs *v, const struct ntfs_stream *s,
		     uint64_t off, void *buf, size_t len, const char *what,
		     struct bw_error *err);

/*
 * Read MFT record RECNO into BUF (geo.mft_record_size bytes) through the
 * $MFT runlist, apply and check fixups, check the header.  Fills *LOC.
 * Returns 0, BW_EFORMAT, BW_EIO.
 */
int ntfs_read_record(struct bw_ntfs *v, uint64_t recno, uint8_t *buf,
		     struct ntfs_loc *loc, struct bw_error *err);
/*
 * Open the unnamed attribute TYPE of record RECNO (a system file, NAME
 * in messages) as a stream.  Returns 0, BW_EFORMAT (also when the
 * attribute is missing), BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
int ntfs_open_stream(struct bw_ntfs *v, uint64_t recno, uint32_t type,
		     const char *name, struct ntfs_stream *s,
		     struct bw_error *err);

/*
 * Read record 0 at the boot sector's mft_lcn, check it and decode its
 * unnamed $DATA into v->mft; every other record is then read through that
 * runlist.  Returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
int ntfs_load_mft(struct bw_ntfs *v, struct bw_error *err);

/* ---- index.c ---- */

/*
 * Look up ASCII_NAME (ASCII only) in the $I30 index of directory record
 * DIR_RECORD: the $INDEX_ROOT and, for a large directory, the INDX blocks
 * of $INDEX_ALLOCATION, descending the B+tree.  Names compare as NTFS
 * collates them (upcased) with ASCII case folding, which is exact for an
 * ASCII name.  On 0, *OUT_RECORD is the entry's whole file reference
 * (NTFS_MREF_RECORD / NTFS_MREF_SEQUENCE split it).  Returns 0,
 * BW_ENOTFOUND (no message set), BW_EFORMAT (naming the record or INDX
 * block and the byte), BW_EUNSUPPORTED (another collation, an
 * $ATTRIBUTE_LIST holding the index), BW_EIO, BW_ENOMEM.
 */
int ntfs_dir_lookup(struct bw_ntfs *v, uint64_t dir_record,
		    const char *ascii_name, uint64_t *out_record,
		    struct bw_error *err);

/* ---- volume.c (exposed for tests) ---- */

/*
 * Decide the $LogFile state from stream S (record 2's $DATA), following
 * ntfs-3g's ntfs_check_logfile / ntfs_is_logfile_clean; sets
 * st->logfile, st->logfile_major/minor.  Only I/O errors are returned as
 * errors; anything not understood is BW_NTFS_LOG_UNKNOWN.
 */
int ntfs_logfile_state(struct bw_ntfs *v, const struct ntfs_stream *s,
		       struct bw_ntfs_state *st, struct bw_error *err);

struct ntfs_restart_verdict {
	int clean;             /* ntfs_is_logfile_clean's answer */
	int64_t lsn;           /* current_lsn (chkdsk_lsn in a CHKD page) */
	int16_t major, minor;  /* $LogFile version */
};
/* Judge one restart page PAGE (PAGE_SIZE = its system page size bytes,
 * fixups not yet applied, at stream position POS): 0 with *VERDICT
 * filled, or -1 (not understood).  Applies the fixups in place. */
int ntfs_restart_page_judge(uint8_t *page, size_t page_size, uint64_t pos,
			    struct ntfs_restart_verdict *verdict);

/*
 * Is Windows hibernated on the volume?  ntfs-3g's
 * ntfs_volume_check_hiberfile: look up hiberfil.sys in the root directory
 * and read the first bytes of its unnamed $DATA.  Sets st->hibernated.
 * Returns 0 (also when there is no hiberfil.sys), BW_EFORMAT,
 * BW_EUNSUPPORTED, BW_EIO, BW_ENOMEM.
 */
int ntfs_hiberfile_state(struct bw_ntfs *v, struct bw_ntfs_state *st,
			 struct bw_error *err);

#endif

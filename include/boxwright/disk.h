/*
 * bw_disk: a virtual disk opened by probing its container format.
 * Drivers: raw; VHD fixed, dynamic and differencing (the parent found
 * through the parent locators); VHDX fixed, dynamic and differencing (the
 * parent through its parent locator; an image with an unreplayed log is
 * refused); VMDK monolithicSparse and streamOptimized.  Reads of unallocated
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
 * Open PATH read-only, probing its format (VHD by its footer cookie, VHDX
 * by "vhdxfile", VMDK by its "KDMV" magic, else raw).  A container we
 * recognise but do not read is refused, never read as raw: qcow/qcow2,
 * QED, VDI, Parallels, VMDK descriptor files and COWD extents, DMG, a
 * gzip/bzip2/xz/zstd-compressed file, a tar or zip archive, a plain ISO
 * 9660 image; the message names the format and what to do instead.
 * Everything the driver needs (footer, headers, tables) is validated
 * here.  Returns 0, BW_EIO (cannot open/read), BW_EFORMAT (corrupt),
 * BW_EUNSUPPORTED (a kind not handled) or BW_ENOMEM.
 */
int bw_disk_open(const char *path, struct bw_disk **out, struct bw_error *err);

/*
 * Open PATH as FORMAT without probing.  "raw" reads the file itself as
 * the disk whatever it holds, even a signature bw_disk_open would refuse
 * (the caller said so, as with qemu-img -f raw); NULL is bw_disk_open.
 * Returns what bw_disk_open does, and BW_EINVAL for any other FORMAT.
 */
int bw_disk_open_as(const char *path, const char *format, struct bw_disk **out,
		    struct bw_error *err);

/* Accepts NULL. */
void bw_disk_close(struct bw_disk *d);

/* "raw", "vhd-fixed", "vhd-dynamic", "vhd-differencing", "vhdx-fixed",
 * "vhdx-dynamic", "vhdx-differencing", "vmdk-monolithicSparse",
 * "vmdk-streamOptimized" */
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

/* Format-specific facts for inspect (VHD footer fields) and for writers
 * that keep them (patch); may be zero. */
struct bw_disk_info {
	char creator[5];        /* VHD creator application, NUL-terminated */
	uint32_t block_size;    /* VHD dynamic block size */
	uint16_t cylinders;     /* VHD CHS geometry */
	uint8_t heads, sectors_per_track;
	uint64_t allocated;     /* bytes the allocation map covers */
	int has_vhd_footer;     /* a VHD: its footer, for writers that keep it */
	uint8_t vhd_footer[512];
	char vmdk_adapter[16];  /* a VMDK's ddb.adapterType (letters only), or "" */
};
int bw_disk_get_info(struct bw_disk *d, struct bw_disk_info *info,
		     struct bw_error *err);

/* The open parent of a differencing image (VHD or VHDX), owned by D and
 * valid while D is open; NULL for an image without one. */
struct bw_disk *bw_disk_parent(struct bw_disk *d);

/*
 * A differencing VHD's link to its parent as the child records it: its
 * dynamic header (parent unique id, parent time stamp, parent name, the
 * eight parent locator entries) and each locator's data.  A writer of a
 * new child over the same parent keeps them, so that the new child names
 * the same parent the same way (FORMATS.md).
 */
#define BW_VHD_LOCATORS      8
#define BW_VHD_LOCATOR_MAX   8192    /* the reader's cap on a locator */
struct bw_vhd_link {
	uint8_t header[1024];
	uint32_t loc_len[BW_VHD_LOCATORS];
	uint8_t loc_data[BW_VHD_LOCATORS][BW_VHD_LOCATOR_MAX];
};
/* Fill *L from differencing VHD D.  Returns 0, BW_EINVAL (D is not a
 * differencing VHD) or a read error. */
int bw_disk_vhd_link(struct bw_disk *d, struct bw_vhd_link *l,
		     struct bw_error *err);

/*
 * A differencing VHDX's link to its parent and the geometry a new child
 * over the same parent keeps (FORMATS.md): the Parent Locator item as the
 * child holds it (every key kept, parent_linkage naming the parent's
 * DataWriteGuid), the block size, the logical and physical sector sizes
 * and the Page 83 Data (the disk's identity, kept as a patched VHD keeps
 * its unique id).
 */
#define BW_VHDX_LOCATOR_MAX  65536   /* the reader's cap on the item */
struct bw_vhdx_link {
	uint32_t block_size;
	uint32_t logical_sector, physical_sector;
	uint8_t page83[16];
	uint32_t locator_len;
	uint8_t locator[BW_VHDX_LOCATOR_MAX];
};
/* Fill *L from differencing VHDX D.  Returns 0, BW_EINVAL (D is not a
 * differencing VHDX), BW_EUNSUPPORTED (D holds what a new child would
 * lose: metadata items boxwright does not know, LeaveBlockAllocated) or
 * a read error. */
int bw_disk_vhdx_link(struct bw_disk *d, struct bw_vhdx_link *l,
		      struct bw_error *err);

/* ---- writers ---------------------------------------------------------
 *
 * A writer takes the virtual disk in increasing offset order (any chunk
 * sizes; bytes never written read as zero) and builds the container:
 * raw (sparse), VHD fixed, dynamic or differencing, VMDK streamOptimized or
 * monolithicSparse, VHDX dynamic or differencing, qcow2 v3 with compressed clusters.  The caller
 * writes to a temporary name and renames it after bw_writer_finish.
 */
struct bw_writer;

enum bw_write_format {
	BW_WRITE_RAW = 1,
	BW_WRITE_VHD_DYNAMIC,
	BW_WRITE_VHD_FIXED,
	BW_WRITE_VMDK_STREAM,       /* streamOptimized */
	BW_WRITE_QCOW2,             /* qcow2 v3, compressed clusters */
	BW_WRITE_VHDX_DYNAMIC,      /* 1 MiB blocks, no log */
	BW_WRITE_VMDK_SPARSE,       /* monolithicSparse: hosted sparse extent,
				     * 64 KiB uncompressed grains, redundant GD */
	BW_WRITE_VHD_DIFF,          /* differencing over parent */
	BW_WRITE_VHDX_DIFF,         /* differencing over parent */
};

struct bw_writer_opts {
	enum bw_write_format format;
	uint64_t size;               /* virtual size in bytes (multiple of 512) */
	int compress_level;          /* VMDK/qcow2 deflate level 1..9; 0 = default 6 */
	int threads;                 /* VMDK/qcow2 deflate workers; 0 = online CPUs */
	const char *adapter_type;    /* VMDK ddb.adapterType; NULL = "ide" */
	uint32_t vmdk_cid;           /* VMDK descriptor CID; 0 = random (or
				      * derived from identity when
				      * fixed_identity is set).  A fixed CID
				      * also fixes ddb.uuid.image (derived
				      * from it), for reproducible output;
				      * ffffffff and fffffffe are refused */
	const char *name;            /* the final file name, when written under a
				      * temporary one (the VMDK extent line names it) */
	/* VHD: keep an input's identity (FORMATS.md): when vhd_keep is set,
	 * the footer's creator, geometry, current size and unique id are
	 * taken from vhd_footer (the input's 512-byte footer); else creator
	 * "bxwr" and a size rounded up to its CHS product. */
	int vhd_keep;
	uint8_t vhd_footer[512];
	/* BW_WRITE_VHD_DIFF (with vhd_keep: the input child's footer) and
	 * BW_WRITE_VHDX_DIFF: a child of PARENT (the input child's open
	 * parent, read to compare) naming it as VHD_LINK or VHDX_LINK says;
	 * they must outlive the writer.  A block is written (VHD: every
	 * sector bit set; VHDX: fully present) only when its bytes differ
	 * from the parent's; the others stay unallocated and read from the
	 * parent.  Bytes never written still read as zero. */
	struct bw_disk *parent;
	const struct bw_vhd_link *vhd_link;
	const struct bw_vhdx_link *vhdx_link;
	/* A private intermediate file that another step copies and then
	 * deletes (build's VMDK before it goes into the .box): finish skips
	 * the fsync, which would only write to disk what is read back from
	 * the page cache a moment later.  The final output is fsynced.  The
	 * price: a late write error of this file (writeback EIO, ENOSPC on
	 * thin storage) goes unseen.  It can only matter if the kernel wrote
	 * the pages back, failed, and then evicted them before the copy: the
	 * copy follows within seconds, well inside the 30 s a dirty page
	 * waits for writeback, so only memory pressure could get there. */
	int scratch;
	/* Reproducible output: with fixed_identity set, every identity a
	 * writer would draw at random is derived from the 32 bytes of
	 * identity (bw_derive_bytes: the VMDK CID and ddb.uuid.image, the
	 * VHD unique id, the VHDX GUIDs), and the VHD footer's time stamp is
	 * `timestamp` (seconds since the Unix epoch) instead of the clock. */
	int fixed_identity;
	uint8_t identity[32];
	int64_t timestamp;
};

/*
 * Create PATH (O_EXCL: it must not exist).  Returns 0, BW_EIO, BW_EINVAL
 * (bad options), BW_ENOMEM.
 */
int bw_writer_open(const char *path, const struct bw_writer_opts *o,
		   struct bw_writer **out, struct bw_error *err);

/* LEN bytes at OFF; OFF must not be below the end of the previous write.
 * All-zero data may be skipped by the caller or passed: both give zeros. */
int bw_writer_write(struct bw_writer *w, const void *buf, size_t len,
		    uint64_t off, struct bw_error *err);

/* Write trailing metadata, fsync (unless scratch), close; frees W.  Returns 0 or a code
 * (the file is then incomplete and the caller removes it). */
int bw_writer_finish(struct bw_writer *w, struct bw_error *err);

/* Stop and free without finishing (the caller removes the file). NULL ok. */
void bw_writer_abort(struct bw_writer *w);

/* The virtual size a writer will really produce for a requested size
 * (VHD rounds up to the CHS product; others keep it). */
uint64_t bw_writer_actual_size(const struct bw_writer_opts *o);

/* Bytes written to the file so far (for progress and benchmarks). */
uint64_t bw_writer_bytes_out(const struct bw_writer *w);

#endif

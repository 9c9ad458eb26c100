/*
 * VMDK sparse extent facts shared by the reader (vmdk.c) and the
 * streamOptimized writer (vmdk_write.c): VMware "Virtual Disk Format 5.0"
 * (SparseExtentHeader, markers) and FORMATS.md.  All fields little-endian.
 */
#ifndef BW_VMDK_FORMAT_H
#define BW_VMDK_FORMAT_H

#include <stdint.h>

#define VMDK_SECTOR 512u
#define VMDK_MAGIC 0x564d444bu          /* "KDMV" read as LE32 */
/* ESX/vmfsSparse extents start "COWD" (read as LE32); the reader refuses them. */
#define VMDK_COWD_MAGIC 0x44574f43u

/* SparseExtentHeader, 512 bytes (the spec packs it; offsets explicit). */
#define VMDK_HDR_MAGIC              0x00  /* LE32 */
#define VMDK_HDR_VERSION            0x04  /* LE32: 1, 2 or 3 */
#define VMDK_HDR_FLAGS              0x08  /* LE32 */
#define VMDK_HDR_CAPACITY           0x0C  /* LE64, sectors */
#define VMDK_HDR_GRAIN_SIZE         0x14  /* LE64, sectors */
#define VMDK_HDR_DESC_OFFSET        0x1C  /* LE64, sectors */
#define VMDK_HDR_DESC_SIZE          0x24  /* LE64, sectors */
#define VMDK_HDR_NUM_GTES_PER_GT    0x2C  /* LE32, 512 */
#define VMDK_HDR_RGD_OFFSET         0x30  /* LE64, sectors */
#define VMDK_HDR_GD_OFFSET          0x38  /* LE64, sectors */
#define VMDK_HDR_OVERHEAD           0x40  /* LE64, sectors */
#define VMDK_HDR_UNCLEAN_SHUTDOWN   0x48  /* u8 */
#define VMDK_HDR_NEWLINE_CHARS      0x49  /* '\n' ' ' '\r' '\n' */
#define VMDK_HDR_COMPRESS_ALGORITHM 0x4D  /* LE16: 0 none, 1 deflate */
#define VMDK_HDR_SIZE               512

#define VMDK_FLAG_VALID_NEWLINE     (1u << 0)
#define VMDK_FLAG_REDUNDANT_GT      (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN_GTE    (1u << 2)
#define VMDK_FLAG_COMPRESSED        (1u << 16)
#define VMDK_FLAG_MARKERS           (1u << 17)
/* Every flag the spec defines; any other bit set means "unknown" (refused). */
#define VMDK_FLAGS_KNOWN            (VMDK_FLAG_VALID_NEWLINE | VMDK_FLAG_REDUNDANT_GT | \
				     VMDK_FLAG_ZERO_GRAIN_GTE | VMDK_FLAG_COMPRESSED | \
				     VMDK_FLAG_MARKERS)

#define VMDK_COMPRESS_NONE          0
#define VMDK_COMPRESS_DEFLATE       1
#define VMDK_GD_AT_END              UINT64_C(0xFFFFFFFFFFFFFFFF)

/* Markers: {LBA/value LE64, size LE32, type LE32 when size == 0}. */
#define VMDK_MARKER_VALUE           0x00  /* LE64: grain LBA or sectors */
#define VMDK_MARKER_SIZE            0x08  /* LE32: compressed bytes, 0 = metadata */
#define VMDK_MARKER_TYPE            0x0C  /* LE32 when size == 0 */
#define VMDK_GRAIN_MARKER_LEN       12    /* data follows at 0x0C */
#define VMDK_MARKER_EOS             0
#define VMDK_MARKER_GT              1
#define VMDK_MARKER_GD              2
#define VMDK_MARKER_FOOTER          3

#define VMDK_DEFAULT_GRAIN_SECTORS  128   /* 64 KiB */
#define VMDK_GTES_PER_GT            512
/* A grain table entry of 1 in a GT means "zero grain" (ZERO_GRAIN_GTE). */
#define VMDK_GTE_ZERO               1

/* VirtualBox reads a streamOptimized grain into a 66048-byte buffer that
 * includes the 12-byte marker (FORMATS.md): never emit more deflate data. */
#define VMDK_VBOX_MAX_GRAIN_DATA    (66048 - VMDK_GRAIN_MARKER_LEN)

/* Descriptor read cap (qemu caps at 1 MiB too). */
#define VMDK_MAX_DESCRIPTOR         (1024 * 1024)

#endif

/*
 * VHDX facts shared by the reader (vhdx.c) and the writer (vhdx_write.c):
 * Microsoft [MS-VHDX] v20160714 (sections named below) and FORMATS.md.
 * All fields little-endian; GUIDs in their on-disk (Microsoft) layout:
 * Data1 LE32, Data2 LE16, Data3 LE16, then 8 bytes as written.
 */
#ifndef BW_VHDX_FORMAT_H
#define BW_VHDX_FORMAT_H

#include <stdint.h>

#define VHDX_MiB                 (UINT64_C(1) << 20)

/* 2.2 Header section: five 64 KiB structures in the first 1 MiB. */
#define VHDX_FILE_ID_OFFSET      0u
#define VHDX_HEADER1_OFFSET      (64u * 1024)
#define VHDX_HEADER2_OFFSET      (128u * 1024)
#define VHDX_REGION1_OFFSET      (192u * 1024)
#define VHDX_REGION2_OFFSET      (256u * 1024)
#define VHDX_HEADER_AREA         VHDX_MiB   /* nothing else may start below */

/* 2.2.1 File Type Identifier. */
#define VHDX_FID_SIGNATURE       0     /* "vhdxfile" */
#define VHDX_FID_CREATOR         8     /* 512 bytes, UTF-16LE */
#define VHDX_FID_CREATOR_LEN     512

/* 2.2.2 Header: 4 KiB used of its 64 KiB, CRC-32C over the 4 KiB. */
#define VHDX_HEADER_SIZE         4096u
#define VHDX_HDR_SIGNATURE       0     /* "head" */
#define VHDX_HDR_CHECKSUM        4     /* LE32 CRC-32C, zero while summed */
#define VHDX_HDR_SEQUENCE        8     /* LE64 */
#define VHDX_HDR_FILE_WRITE_GUID 16
#define VHDX_HDR_DATA_WRITE_GUID 32
#define VHDX_HDR_LOG_GUID        48
#define VHDX_HDR_LOG_VERSION     64    /* LE16, 0 */
#define VHDX_HDR_VERSION         66    /* LE16, 1 */
#define VHDX_HDR_LOG_LENGTH      68    /* LE32, multiple of 1 MiB */
#define VHDX_HDR_LOG_OFFSET      72    /* LE64, multiple of 1 MiB */
#define VHDX_VERSION             1u
#define VHDX_LOG_VERSION         0u

/* 2.2.3 Region table: 64 KiB, CRC-32C over all of it. */
#define VHDX_REGION_SIZE         (64u * 1024)
#define VHDX_RT_SIGNATURE        0     /* "regi" */
#define VHDX_RT_CHECKSUM         4
#define VHDX_RT_ENTRY_COUNT      8     /* LE32, at most 2047 */
#define VHDX_RT_RESERVED         12    /* LE32, 0 */
#define VHDX_RT_ENTRIES          16
#define VHDX_RT_ENTRY_SIZE       32
#define VHDX_RTE_GUID            0
#define VHDX_RTE_FILE_OFFSET     16    /* LE64, multiple of 1 MiB, >= 1 MiB */
#define VHDX_RTE_LENGTH          24    /* LE32, multiple of 1 MiB */
#define VHDX_RTE_REQUIRED        28    /* LE32, bit 0 */
#define VHDX_MAX_REGION_ENTRIES  2047u

/* 2.6.1 Metadata table: the first 64 KiB of the metadata region. */
#define VHDX_MT_SIZE             (64u * 1024)
#define VHDX_MT_SIGNATURE        0     /* "metadata" */
#define VHDX_MT_RESERVED         8     /* LE16 */
#define VHDX_MT_ENTRY_COUNT      10    /* LE16, at most 2047 */
#define VHDX_MT_ENTRIES          32
#define VHDX_MT_ENTRY_SIZE       32
#define VHDX_MTE_ITEM_ID         0
#define VHDX_MTE_OFFSET          16    /* LE32, from the region start, >= 64 KiB */
#define VHDX_MTE_LENGTH          20    /* LE32, at most 1 MiB */
#define VHDX_MTE_FLAGS           24    /* LE32: IsUser, IsVirtualDisk, IsRequired */
#define VHDX_MTE_IS_USER         0x1u
#define VHDX_MTE_IS_VIRTUAL_DISK 0x2u
#define VHDX_MTE_IS_REQUIRED     0x4u
#define VHDX_MAX_METADATA_ENTRIES 2047u
#define VHDX_MAX_ITEM_LEN        VHDX_MiB

/* 2.6.2.1 File Parameters: BlockSize LE32, then the flags LE32. */
#define VHDX_FP_BLOCK_SIZE       0
#define VHDX_FP_FLAGS            4
#define VHDX_FP_LEN              8
#define VHDX_FP_LEAVE_ALLOCATED  0x1u
#define VHDX_FP_HAS_PARENT       0x2u
#define VHDX_MIN_BLOCK_SIZE      (UINT32_C(1) << 20)
#define VHDX_MAX_BLOCK_SIZE      (UINT32_C(1) << 28)

/* 2.6.2.2-2.6.2.5: Virtual Disk Size LE64, Page 83 Data (a GUID),
 * Logical and Physical Sector Size LE32 (512 or 4096). */
#define VHDX_SIZE_LEN            8
#define VHDX_PAGE83_LEN          16
#define VHDX_SECTOR_SIZE_LEN     4
/* 64 TiB: the spec's largest virtual disk. */
#define VHDX_MAX_SIZE            (UINT64_C(64) << 40)

/* 2.6.2.6 Parent Locator: a header, then key/value entries whose UTF-16LE
 * keys and values lie inside the item. */
#define VHDX_PL_TYPE             0     /* GUID */
#define VHDX_PL_RESERVED         16    /* LE16 */
#define VHDX_PL_COUNT            18    /* LE16 */
#define VHDX_PL_ENTRIES          20
#define VHDX_PLE_SIZE            12
#define VHDX_PLE_KEY_OFFSET      0     /* LE32, from the item start */
#define VHDX_PLE_VALUE_OFFSET    4     /* LE32 */
#define VHDX_PLE_KEY_LENGTH      8     /* LE16, bytes */
#define VHDX_PLE_VALUE_LENGTH    10    /* LE16, bytes */

/* 2.5 BAT: 64-bit entries, state in bits 0-2, reserved bits 3-19, the
 * file offset in MiB in bits 20-63. */
#define VHDX_BAT_STATE_MASK      UINT64_C(0x7)
#define VHDX_BAT_RESERVED_MASK   UINT64_C(0xFFFF8)
#define VHDX_BAT_OFFSET_SHIFT    20
#define VHDX_PAYLOAD_NOT_PRESENT 0u
#define VHDX_PAYLOAD_UNDEFINED   1u
#define VHDX_PAYLOAD_ZERO        2u
#define VHDX_PAYLOAD_UNMAPPED    3u
#define VHDX_PAYLOAD_FULLY_PRESENT 6u
#define VHDX_PAYLOAD_PARTIALLY_PRESENT 7u
#define VHDX_SB_NOT_PRESENT      0u
#define VHDX_SB_PRESENT          6u
/* A sector bitmap block is 1 MiB: 2^23 bits, one per logical sector. */
#define VHDX_SECTOR_BITMAP_SIZE  VHDX_MiB
#define VHDX_SECTORS_PER_BITMAP  (UINT64_C(1) << 23)

/* A GUID as its 16 on-disk bytes, written from its text form
 * {D1-D2-D3-B0B1-B2B3B4B5B6B7}. */
#define VHDX_GUID(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7)                \
	{ (d1) & 0xFF, ((d1) >> 8) & 0xFF, ((d1) >> 16) & 0xFF, ((d1) >> 24) & 0xFF, \
	  (d2) & 0xFF, ((d2) >> 8) & 0xFF, (d3) & 0xFF, ((d3) >> 8) & 0xFF,    \
	  b0, b1, b2, b3, b4, b5, b6, b7 }

/* 2.2.3.2 known regions. */
#define VHDX_GUID_BAT \
	VHDX_GUID(0x2DC27766, 0xF623, 0x4200, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08)
#define VHDX_GUID_METADATA \
	VHDX_GUID(0x8B7CA206, 0x4790, 0x4B9A, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E)
/* 2.6.2 known metadata items. */
#define VHDX_GUID_FILE_PARAMETERS \
	VHDX_GUID(0xCAA16737, 0xFA36, 0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B)
#define VHDX_GUID_VIRTUAL_DISK_SIZE \
	VHDX_GUID(0x2FA54224, 0xCD1B, 0x4876, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8)
#define VHDX_GUID_PAGE83 \
	VHDX_GUID(0xBECA12AB, 0xB2E6, 0x4523, 0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46)
#define VHDX_GUID_LOGICAL_SECTOR \
	VHDX_GUID(0x8141BF1D, 0xA96F, 0x4709, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F)
#define VHDX_GUID_PHYSICAL_SECTOR \
	VHDX_GUID(0xCDA348C7, 0x445D, 0x4471, 0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56)
#define VHDX_GUID_PARENT_LOCATOR \
	VHDX_GUID(0xA8D35F2D, 0xB30B, 0x454D, 0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C)
/* 2.6.2.6 the VHDX parent locator type. */
#define VHDX_GUID_LOCATOR_VHDX \
	VHDX_GUID(0xB04AEFB7, 0xD19E, 0x4A81, 0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13)

#endif

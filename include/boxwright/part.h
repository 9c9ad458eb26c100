/*
 * Partition tables: the MBR (FORMATS.md "MBR").  GPT disks are recognised
 * by their protective entry and refused for now.
 */
#ifndef BOXWRIGHT_PART_H
#define BOXWRIGHT_PART_H

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

#endif

/*
 * Master Boot Record (FORMATS.md "MBR"): boot code 0..439, disk signature
 * LE32 at 0x1B8, four 16-byte entries at 0x1BE, 0x55AA at 0x1FE.
 * CHS fields are ignored on read (LBA is what Windows uses) and written as
 * the "beyond CHS" marker on encode.
 */
#include <string.h>

#include "boxwright/part.h"
#include "common/bytes.h"

#define MBR_SIGNATURE_OFF   0x1B8
#define MBR_ENTRIES_OFF     0x1BE
#define MBR_ENTRY_SIZE      16
#define MBR_MAGIC_OFF       0x1FE
#define MBRE_STATUS         0
#define MBRE_CHS_FIRST      1
#define MBRE_TYPE           4
#define MBRE_CHS_LAST       5
#define MBRE_LBA_START      8
#define MBRE_SECTORS        12

int bw_mbr_parse(const uint8_t s[512], uint64_t disk_size, const char *file,
		 struct bw_mbr *out, struct bw_error *err)
{
	memset(out, 0, sizeof *out);
	if (s[MBR_MAGIC_OFF] != 0x55 || s[MBR_MAGIC_OFF + 1] != 0xAA)
		return bw_seterr(err, BW_EFORMAT, file,
				 "no MBR: offset 510 expected 55 aa, found %02x %02x",
				 s[MBR_MAGIC_OFF], s[MBR_MAGIC_OFF + 1]);
	memcpy(out->boot_code, s, BW_MBR_BOOT_CODE_SIZE);
	out->signature = bw_get_le32(s + MBR_SIGNATURE_OFF);
	uint64_t disk_sectors = disk_size / 512;
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = s + MBR_ENTRIES_OFF + i * MBR_ENTRY_SIZE;
		uint64_t eoff = MBR_ENTRIES_OFF + (uint64_t)i * MBR_ENTRY_SIZE;
		struct bw_mbr_entry *p = &out->part[i];
		p->status = e[MBRE_STATUS];
		p->type = e[MBRE_TYPE];
		p->lba_start = bw_get_le32(e + MBRE_LBA_START);
		p->sectors = bw_get_le32(e + MBRE_SECTORS);
		if (p->type == 0)
			continue;
		if (p->status != 0x00 && p->status != 0x80)
			return bw_seterr(err, BW_EFORMAT, file,
					 "MBR partition %d at offset %llu: status 0x%02x (expected 0x00 or 0x80)",
					 i + 1, (unsigned long long)eoff, p->status);
		if (p->type == BW_MBR_TYPE_GPT_PROTECTIVE)
			return bw_seterr(err, BW_EUNSUPPORTED, file,
					 "GPT disk (protective MBR entry at offset %llu): only MBR disks are supported",
					 (unsigned long long)eoff);
		if (p->lba_start == 0 || p->sectors == 0)
			return bw_seterr(err, BW_EFORMAT, file,
					 "MBR partition %d at offset %llu: start LBA %u, %u sectors (expected both non-zero)",
					 i + 1, (unsigned long long)eoff, p->lba_start, p->sectors);
		uint64_t end = (uint64_t)p->lba_start + p->sectors;
		if (end > disk_sectors)
			return bw_seterr(err, BW_EFORMAT, file,
					 "MBR partition %d at offset %llu: sectors %u..%llu lie past the end of the disk (%llu sectors)",
					 i + 1, (unsigned long long)eoff, p->lba_start,
					 (unsigned long long)end - 1,
					 (unsigned long long)disk_sectors);
		for (int j = 0; j < i; j++) {
			const struct bw_mbr_entry *q = &out->part[j];
			if (q->type == 0)
				continue;
			uint64_t qend = (uint64_t)q->lba_start + q->sectors;
			if (p->lba_start < qend && q->lba_start < end)
				return bw_seterr(err, BW_EFORMAT, file,
						 "MBR partitions %d and %d overlap (sectors %u..%llu and %u..%llu)",
						 j + 1, i + 1, q->lba_start,
						 (unsigned long long)qend - 1, p->lba_start,
						 (unsigned long long)end - 1);
		}
	}
	return 0;
}

void bw_mbr_encode(const struct bw_mbr *mbr, uint8_t s[512])
{
	memset(s, 0, 512);
	memcpy(s, mbr->boot_code, BW_MBR_BOOT_CODE_SIZE);
	bw_put_le32(s + MBR_SIGNATURE_OFF, mbr->signature);
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *p = &mbr->part[i];
		uint8_t *e = s + MBR_ENTRIES_OFF + i * MBR_ENTRY_SIZE;
		if (p->type == 0)
			continue;
		e[MBRE_STATUS] = p->status;
		/* CHS 1023/254/63: "use LBA", as Windows writes for big disks. */
		e[MBRE_CHS_FIRST] = 0xFE; e[MBRE_CHS_FIRST + 1] = 0xFF;
		e[MBRE_CHS_FIRST + 2] = 0xFF;
		e[MBRE_TYPE] = p->type;
		e[MBRE_CHS_LAST] = 0xFE; e[MBRE_CHS_LAST + 1] = 0xFF;
		e[MBRE_CHS_LAST + 2] = 0xFF;
		bw_put_le32(e + MBRE_LBA_START, p->lba_start);
		bw_put_le32(e + MBRE_SECTORS, p->sectors);
	}
	s[MBR_MAGIC_OFF] = 0x55;
	s[MBR_MAGIC_OFF + 1] = 0xAA;
}

int bw_mbr_part_at(const struct bw_mbr *mbr, uint64_t offset)
{
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *e = &mbr->part[i];
		if (e->type && (uint64_t)e->lba_start * 512 == offset)
			return i + 1;
	}
	return 0;
}

int bw_mbr_active(const struct bw_mbr *mbr)
{
	int active = 0;
	for (int i = 0; i < 4; i++)
		if (mbr->part[i].type && mbr->part[i].status == 0x80)
			active = i + 1;
	return active;
}

/*
 * build's MBR layout plan (part.h, DESIGN.md "Disk layouts"): which
 * partitions keep their place, which move to 1 MiB, which grows.  Pure
 * arithmetic on the table; the job does the moving.
 */
#include <string.h>

#include "boxwright/part.h"

static uint64_t align_up(uint64_t lba)
{
	return (lba + BW_PLAN_ALIGN_LBA - 1) / BW_PLAN_ALIGN_LBA * BW_PLAN_ALIGN_LBA;
}

int bw_mbr_plan(const struct bw_mbr *src, int win_part, int boot_part, uint64_t new_size,
		const char *file, struct bw_mbr_plan *out, struct bw_error *err)
{
	memset(out, 0, sizeof *out);
	if (win_part < 1 || win_part > 4 || boot_part < 1 || boot_part > 4 ||
	    !src->part[win_part - 1].type || !src->part[boot_part - 1].type)
		return bw_seterr(err, BW_EINVAL, file, "layout plan: no such partition (%d, %d)",
				 win_part, boot_part);
	for (int i = 0; i < 4; i++)
		if (src->part[i].type && i + 1 != win_part && i + 1 != boot_part)
			return bw_seterr(err, BW_EUNSUPPORTED, file,
					 "partition %d (type 0x%02x, sector %u) is neither Windows (partition %d) nor the boot partition: build handles one Windows partition, with or without a \"System Reserved\" one before it",
					 i + 1, src->part[i].type, src->part[i].lba_start, win_part);
	const struct bw_mbr_entry *we = &src->part[win_part - 1], *be = &src->part[boot_part - 1];
	uint64_t sectors = new_size / 512;
	if (new_size % 512 || sectors > UINT32_MAX + (uint64_t)1)
		return bw_seterr(err, BW_EINVAL, file, "a disk of %llu bytes is past what an MBR addresses",
				 (unsigned long long)new_size);
	out->mbr = *src;
	out->win_part = win_part;
	out->boot_part = boot_part;
	uint64_t win_lba;
	if (boot_part == win_part) {
		win_lba = BW_PLAN_ALIGN_LBA;
	} else {
		if (be->lba_start > we->lba_start)
			return bw_seterr(err, BW_EUNSUPPORTED, file,
					 "the boot partition %d (sector %u) lies after Windows (partition %d, sector %u): build expects \"System Reserved\" first",
					 boot_part, be->lba_start, win_part, we->lba_start);
		uint64_t boot_lba = be->lba_start % BW_PLAN_ALIGN_LBA ? BW_PLAN_ALIGN_LBA : be->lba_start;
		uint64_t boot_end = boot_lba + be->sectors;
		win_lba = boot_lba == be->lba_start && we->lba_start % BW_PLAN_ALIGN_LBA == 0 &&
				  we->lba_start >= boot_end
			  ? we->lba_start : align_up(boot_end);
		struct bw_mbr_entry *nb = &out->mbr.part[boot_part - 1];
		nb->lba_start = (uint32_t)boot_lba;
		out->old_offset[boot_part - 1] = (uint64_t)be->lba_start * 512;
		out->new_offset[boot_part - 1] = boot_lba * 512;
		out->old_size[boot_part - 1] = out->new_size[boot_part - 1] = (uint64_t)be->sectors * 512;
	}
	/* Windows needs room for more than its boot sectors. */
	if (win_lba + 2 * BW_PLAN_ALIGN_LBA > sectors)
		return bw_seterr(err, BW_EINVAL, file,
				 "a disk of %llu bytes leaves no room for Windows after sector %llu",
				 (unsigned long long)new_size, (unsigned long long)win_lba);
	uint64_t win_sectors = sectors - win_lba;
	if (win_sectors > UINT32_MAX)
		return bw_seterr(err, BW_EINVAL, file, "a disk of %llu bytes is past what an MBR addresses",
				 (unsigned long long)new_size);
	struct bw_mbr_entry *nw = &out->mbr.part[win_part - 1];
	nw->lba_start = (uint32_t)win_lba;
	nw->sectors = (uint32_t)win_sectors;
	if (boot_part == win_part) {
		/* The one partition is the active one, whatever the source's
		 * status bytes said (build refuses an image whose active
		 * partition is not bootable before it gets here). */
		nw->status = 0x80;
	}
	out->old_offset[win_part - 1] = (uint64_t)we->lba_start * 512;
	out->new_offset[win_part - 1] = win_lba * 512;
	out->old_size[win_part - 1] = (uint64_t)we->sectors * 512;
	out->new_size[win_part - 1] = win_sectors * 512;
	return 0;
}

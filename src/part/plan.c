/*
 * build's MBR layout plan (part.h, DESIGN.md "Disk layouts"): which
 * partitions keep their place, which move to 1 MiB, which grows.  Pure
 * arithmetic on the table; the job does the moving.
 */
#include <stdlib.h>
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

int bw_gpt_plan(const struct bw_gpt *gpt, size_t win, uint64_t new_size, const char *file,
		struct bw_gpt_plan *out, struct bw_error *err)
{
	memset(out, 0, sizeof *out);
	uint64_t ss = gpt->sector_size;
	if (win >= gpt->nparts || !ss || new_size % ss)
		return bw_seterr(err, BW_EINVAL, file, "GPT plan: no partition %zu, or %llu bytes is not whole sectors",
				 win, (unsigned long long)new_size);
	uint64_t align = (1u << 20) / ss;
	uint64_t sectors = new_size / ss;
	uint64_t array = ((uint64_t)gpt->entry_count * gpt->entry_size + ss - 1) / ss;
	if (sectors < gpt->first_usable + array + 2)
		return bw_seterr(err, BW_EINVAL, file, "a disk of %llu bytes cannot hold the GPT",
				 (unsigned long long)new_size);
	/* the backup entries and header at the end */
	uint64_t last_usable = sectors - 1 - array - 1;
	out->range = calloc(gpt->nparts, sizeof *out->range);
	if (!out->range)
		return bw_seterr(err, BW_ENOMEM, file, "out of memory");
	out->nparts = gpt->nparts;
	out->win = win;
	out->new_size = new_size;
	const struct bw_gpt_part *w = &gpt->part[win];
	/* From the end backwards: the partitions after Windows, last first. */
	uint64_t end = last_usable;     /* the last LBA still free */
	for (size_t k = gpt->nparts; k-- > 0;) {
		const struct bw_gpt_part *p = &gpt->part[k];
		if (k == win || p->first_lba <= w->first_lba)
			continue;
		uint64_t n = p->last_lba - p->first_lba + 1;
		if (end + 1 < n + w->first_lba) {
			bw_gpt_plan_free(out);
			return bw_seterr(err, BW_EINVAL, file,
					 "a disk of %llu bytes leaves no room for Windows and the %llu sectors of partition %u after it",
					 (unsigned long long)new_size, (unsigned long long)n, p->index + 1);
		}
		uint64_t first = (end + 1 - n) / align * align;
		out->range[k] = (struct bw_gpt_range){ first, first + n - 1 };
		end = first - 1;
	}
	/* Windows to what is left; at least 16 MiB for an NTFS of any use. */
	if (end < w->first_lba + (16u << 20) / ss) {
		bw_gpt_plan_free(out);
		return bw_seterr(err, BW_EINVAL, file,
				 "a disk of %llu bytes leaves no room for Windows after sector %llu",
				 (unsigned long long)new_size, (unsigned long long)w->first_lba);
	}
	out->range[win] = (struct bw_gpt_range){ w->first_lba, end };
	/* The rest keep their place (before Windows: nothing moved there). */
	for (size_t k = 0; k < gpt->nparts; k++) {
		const struct bw_gpt_part *p = &gpt->part[k];
		if (k != win && p->first_lba < w->first_lba)
			out->range[k] = (struct bw_gpt_range){ p->first_lba, p->last_lba };
	}
	return 0;
}

void bw_gpt_plan_free(struct bw_gpt_plan *plan)
{
	if (!plan)
		return;
	free(plan->range);
	plan->range = NULL;
	plan->nparts = 0;
}

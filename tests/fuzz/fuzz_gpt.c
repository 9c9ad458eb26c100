/*
 * libFuzzer harness for the GPT reader and writer (src/part/gpt.c): the
 * input is the whole disk, read through a memory callback with the sector
 * size probed.  Byte 0 lies in the protective MBR's boot code, which the
 * parser ignores, so it steers the harness: when its low bit is set, the
 * header and entry CRC32s at LBA 1 and in the last LBA are made right
 * first (512-byte sectors), so that mutations reach the checks behind the
 * CRCs.  A parsed table must encode, for its own size and for a larger
 * one, into runs that lie inside that disk and parse back as a clean
 * table with the same partitions.  Errors are expected; crashes, leaks,
 * sanitizer reports, hangs and a broken round trip are the bugs.  Seeds:
 * make-gpt-seeds.py.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "boxwright/part.h"
#include "common/bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t n;
};

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off, struct bw_error *err)
{
	const struct mem *m = ctx;
	/* The parser promises whole sectors inside the size it was given. */
	if (off > m->n || len > m->n - off || off % 512 || len % 512)
		abort();
	memcpy(buf, m->p + off, len);
	(void)err;
	return 0;
}

/* Make the header at LBA right about its CRCs, where the fields allow. */
static void fix_crcs(uint8_t *d, size_t n, uint64_t lba)
{
	if (lba * 512 > n || n - lba * 512 < 512)
		return;
	uint8_t *h = d + lba * 512;
	uint64_t elba = bw_get_le64(h + 72);
	uint64_t bytes = (uint64_t)bw_get_le32(h + 80) * bw_get_le32(h + 84);
	if (elba <= n / 512 && bytes <= n - elba * 512)
		bw_put_le32(h + 88, (uint32_t)crc32(0, d + elba * 512, (uInt)bytes));
	uint32_t hsize = bw_get_le32(h + 12);
	if (hsize >= 20 && hsize <= 512) {
		bw_put_le32(h + 16, 0);
		bw_put_le32(h + 16, (uint32_t)crc32(0, h, hsize));
	}
}

static void round_trip(const struct bw_gpt *g, uint64_t size)
{
	struct bw_gpt_image img;
	struct bw_error e;
	uint64_t ss = g->sector_size;
	if (size > (64u << 20))
		return;
	/* A parsed table fits its own disk and any larger one: the backup
	 * moves to the end, last usable only grows. */
	if (bw_gpt_encode(g, size, NULL, &img, &e) != 0)
		abort();
	uint8_t *d = calloc(1, size);
	if (!d)
		abort();
	for (size_t i = 0; i < img.nruns; i++) {
		if (img.run[i].lba > size / ss || img.run[i].nsectors > size / ss - img.run[i].lba)
			abort();
		memcpy(d + img.run[i].lba * ss, img.run[i].data, img.run[i].nsectors * ss);
	}
	struct mem m = { d, size };
	struct bw_gpt g2;
	if (bw_gpt_parse(mem_read, &m, size, g->sector_size, "fuzz", &g2, &e) != 0 ||
	    g2.flags != 0 || g2.nparts != g->nparts ||
	    memcmp(g2.disk_guid, g->disk_guid, 16) != 0)
		abort();
	for (size_t i = 0; i < g->nparts; i++) {
		const struct bw_gpt_part *a = &g->part[i], *b = &g2.part[i];
		if (a->index != b->index || a->first_lba != b->first_lba ||
		    a->last_lba != b->last_lba || a->attributes != b->attributes ||
		    memcmp(a->type_guid, b->type_guid, 16) != 0 ||
		    memcmp(a->unique_guid, b->unique_guid, 16) != 0 ||
		    memcmp(a->name_raw, b->name_raw, sizeof a->name_raw) != 0 ||
		    strcmp(a->name, b->name) != 0)
			abort();
	}
	bw_gpt_free(&g2);
	bw_gpt_image_free(&img);
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 512)
		return 0;
	uint8_t *d = malloc(size);
	if (!d)
		return 0;
	memcpy(d, data, size);
	if (d[0] & 1) {
		fix_crcs(d, size, 1);
		fix_crcs(d, size, size / 512 - 1);
	}
	struct mem m = { d, size };
	struct bw_gpt g;
	struct bw_error e;
	if (bw_gpt_parse(mem_read, &m, size, 0, "fuzz", &g, &e) == 0) {
		uint64_t own = g.disk_sectors * g.sector_size;
		round_trip(&g, own);
		round_trip(&g, own + 64ull * g.sector_size);
		bw_gpt_free(&g);
	} else if (g.part != NULL || g.nparts != 0) {
		abort();                 /* an error leaves the table empty */
	}
	free(d);
	return 0;
}

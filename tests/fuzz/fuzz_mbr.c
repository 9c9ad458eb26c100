/*
 * libFuzzer harness for the MBR parser (src/part/mbr.c, bw_mbr_parse):
 * the first 512 bytes of the input are the sector, the next 8 (LE, when
 * present) the disk size it is checked against.  A parsed table must
 * satisfy what the parser promises (entries inside the disk, not
 * overlapping), and encoding it and parsing the result must give the
 * same table (bw_mbr_encode only rewrites the CHS fields).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/part.h"
#include "common/bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 512)
		return 0;
	/* 64 MiB unless the input says otherwise. */
	uint64_t disk_size = size >= 520 ? bw_get_le64(data + 512) : 64ull << 20;
	struct bw_mbr m, again;
	struct bw_error err;
	if (bw_mbr_parse(data, disk_size, "fuzz", &m, &err) != 0)
		return 0;
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *p = &m.part[i];
		if (p->type == 0)
			continue;
		uint64_t end = (uint64_t)p->lba_start + p->sectors;
		if (p->lba_start == 0 || p->sectors == 0 || end > disk_size / 512)
			abort();
		for (int j = 0; j < i; j++) {
			const struct bw_mbr_entry *q = &m.part[j];
			if (q->type != 0 && p->lba_start < (uint64_t)q->lba_start + q->sectors &&
			    q->lba_start < end)
				abort();
		}
	}
	uint8_t sector[512];
	bw_mbr_encode(&m, sector);
	if (bw_mbr_parse(sector, disk_size, "fuzz", &again, &err) != 0 ||
	    memcmp(sector, data, 440) != 0 || again.signature != m.signature)
		abort();
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *p = &m.part[i], *q = &again.part[i];
		if (p->type != q->type || (p->type &&
		    (p->status != q->status || p->lba_start != q->lba_start ||
		     p->sectors != q->sectors)))
			abort();
	}
	return 0;
}

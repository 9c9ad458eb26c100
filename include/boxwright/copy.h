/*
 * Streaming a disk into a writer: the allocation map says what to read,
 * and NTFS regions say which of it to read at all -- free clusters are
 * never read and come out as zeros (DESIGN.md "Performance model": read
 * the used data once).
 */
#ifndef BOXWRIGHT_COPY_H
#define BOXWRIGHT_COPY_H

#include <stdint.h>

#include "boxwright/disk.h"
#include "boxwright/error.h"
#include "boxwright/ntfs.h"

/*
 * A region of the source disk at OFFSET, SIZE bytes, that is not copied
 * as it is:
 * - with NTFS set: a volume whose free clusters read as zero (bytes past
 *   its last cluster, such as the backup boot sector, are copied);
 * - with REPLACE set: its bytes come from that disk instead (a working
 *   partition file of exactly SIZE bytes), following REPLACE's own
 *   allocation map -- its holes read as zero;
 * - with both: REPLACE for the clusters NTFS (the replacement's volume)
 *   uses and for the bytes past its last cluster, the source's own bytes
 *   for its free clusters: an edited volume whose free space keeps what
 *   the input held there (a differencing output then differs from the
 *   input only where the edits wrote).
 */
struct bw_copy_region {
	uint64_t offset;
	uint64_t size;
	const struct bw_ntfs *ntfs;
	struct bw_disk *replace;
};

#define BW_COPY_MAX_REGIONS 4

struct bw_copy_opts {
	const struct bw_copy_region *regions;   /* sorted, not overlapping */
	size_t nregions;
	/* Called now and then with bytes of the map visited so far. */
	void (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *opaque;
	/* Written at (input offset + out_offset): a partition file placed
	 * into a whole disk. */
	uint64_t out_offset;
	/* Polled between chunks; non-zero stops with BW_EINTERRUPTED. */
	const volatile int *stop;
	/* Only [range_start, range_end) of the input (a partition copied as
	 * it is, such as an EFI system partition); range_end 0 = to the end
	 * of the disk. */
	uint64_t range_start, range_end;
};

struct bw_copy_stats {
	uint64_t mapped;     /* bytes the allocation map covers */
	uint64_t read;       /* bytes actually read from the source */
	uint64_t skipped;    /* free NTFS bytes not read */
};

/*
 * Copy every mapped byte of IN into OUT (in offset order) at OUT_OFFSET
 * further on, masking free clusters of the regions.  Returns 0 or the
 * first error of the reader, the writer, BW_EINVAL, BW_EINTERRUPTED.
 */
int bw_copy(struct bw_disk *in, struct bw_writer *out,
	    const struct bw_copy_opts *o, struct bw_copy_stats *st,
	    struct bw_error *err);

#endif

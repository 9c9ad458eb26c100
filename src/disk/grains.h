/*
 * Grains from a bw_writer driver's chunks: the disk's bytes come as LEN
 * bytes at OFF, in increasing offsets and any sizes, with bytes never
 * written meaning zero; a grain-based writer wants them as whole grains of
 * a fixed size, all-zero grains left out.  The VMDK monolithicSparse
 * writer and the compression pipeline (workers.c) both cut them here.
 */
#ifndef BW_DISK_GRAINS_H
#define BW_DISK_GRAINS_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

struct bw_grains_ops {
	/*
	 * A buffer of one grain for the next grain to assemble, or NULL when
	 * the owner keeps one fixed buffer in bw_grains.grain.  With it, the
	 * buffer belongs to PUT once PUT is given it; an all-zero grain's
	 * buffer is kept for the next one.  Returns 0 or a BW_E* code.
	 */
	int (*buffer)(void *ctx, uint8_t **buf, struct bw_error *err);
	/*
	 * Grains FIRST .. FIRST + COUNT - 1, none all zero, in DATA.  COUNT
	 * is 1 but with DIRECT.  Returns 0 or a BW_E* code.
	 */
	int (*put)(void *ctx, const uint8_t *data, uint64_t first, size_t count,
		   struct bw_error *err);
	/* Whole data grains that lie in the caller's buffer go to PUT from
	 * there, a run in one call, instead of through the grain buffer. */
	int direct;
};

struct bw_grains {
	size_t size;                    /* bytes of a grain */
	struct bw_grains_ops ops;
	void *ctx;
	uint8_t *grain;                 /* the grain being assembled */
	int assembling;
	uint64_t index;                 /* ... its number */
	size_t fill;                    /* bytes of grain[] already set */
};

/*
 * Take LEN bytes of the disk at OFF: grain K (bytes [K x size, (K+1) x
 * size)) goes to PUT once the writer moves past it, unless it is all zero.
 * Whole zero grains in BUF are skipped without a copy.  Returns 0 or what
 * BUFFER or PUT returned.
 */
int bw_grains_write(struct bw_grains *g, const uint8_t *buf, size_t len, uint64_t off,
		    struct bw_error *err);

/* The grain still being assembled, if any, zero padded (the disk may end
 * inside it) and put unless it is all zero.  Returns 0 or what PUT
 * returned. */
int bw_grains_flush(struct bw_grains *g, struct bw_error *err);

#endif

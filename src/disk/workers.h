/*
 * A bounded, ordered deflate pipeline: the producer fills grain buffers in
 * increasing LBA order and submits them; N worker threads compress them
 * (deflate.h); the producer's own thread hands the results to a sink
 * strictly in submission order (when it submits, when it needs a free
 * buffer, and at finish), so the sink needs no locking.
 *
 * Memory is bounded by the queue depth Q (grains in flight, submitted but
 * not yet consumed by the sink):
 *     Q x (in_bytes + out_bytes) + N x (one compressor's state)
 * allocated once in bw_workers_new; nothing grows with the disk.  For
 * VMDK's 64 KiB grains with a 66048-byte output buffer and Q = 4N that is
 * 4 x 131584 = 514 KiB per worker plus its compressor (measured: zlib
 * 262 KiB; libdeflate 653 KiB at levels 3..9), so 0.76 to 1.15 MiB per
 * worker thread.
 *
 * The output is deterministic: every grain is compressed alone, so its
 * bytes do not depend on which worker did it or on N.
 */
#ifndef BW_DISK_WORKERS_H
#define BW_DISK_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

struct bw_workers;

/*
 * Called on the producer's thread with each compressed grain and the KEY
 * it was submitted with, in submission order.  OUT is the slot's output buffer (out_bytes long): the
 * zlib stream is at OUT + headroom and is ZLEN bytes long; the sink may
 * write the HEADROOM bytes before it and the rest of the buffer after it
 * (a marker, sector padding).  Returns 0 or a BW_E* code, which stops the
 * pipeline and is returned by the call that consumed the grain.
 */
typedef int (*bw_workers_sink_fn)(void *ctx, uint64_t key, uint8_t *out,
				  size_t zlen, struct bw_error *err);

struct bw_workers_cfg {
	unsigned threads;       /* worker threads, >= 1 */
	unsigned queue;         /* grains in flight (Q), >= threads */
	int level;              /* deflate level 1..9 */
	size_t in_bytes;        /* grain size */
	size_t headroom;        /* bytes the sink may use before the stream */
	size_t out_bytes;       /* >= headroom + BW_DEFLATE_STORED_SIZE(in_bytes) */
	size_t limit;           /* largest deflate result kept, else stored
				   (bw_deflate_zlib's LIMIT) */
	bw_workers_sink_fn sink;
	void *sink_ctx;
	const char *path;       /* names the output in error messages */
};

/*
 * Allocate every buffer and compressor and start the threads.  Returns 0,
 * BW_EINVAL (bad configuration) or BW_ENOMEM (memory or threads).
 */
int bw_workers_new(const struct bw_workers_cfg *cfg, struct bw_workers **out,
		   struct bw_error *err);

/*
 * The input buffer (in_bytes long) of the next grain to submit.  Blocks,
 * passing finished grains to the sink, while Q grains are in flight.  The
 * same buffer is returned until it is submitted, so a caller may fill it,
 * decide not to submit it (an all-zero grain) and reuse it.  Returns 0 or
 * the sink's error.
 */
int bw_workers_buffer(struct bw_workers *p, uint8_t **buf, struct bw_error *err);

/*
 * Queue the buffer last returned by bw_workers_buffer as the grain with
 * KEY (any number the sink understands: bw_workers_write passes the
 * grain index), then pass every grain already finished, in order, to the
 * sink.  Returns 0 or the sink's error.
 */
int bw_workers_submit(struct bw_workers *p, uint64_t key, struct bw_error *err);

/*
 * The disk's bytes as a bw_writer driver gets them (LEN bytes at OFF, in
 * increasing offsets, any chunk sizes; bytes never written are zero), cut
 * into grains of in_bytes: grain K (bytes [K x in_bytes, (K+1) x in_bytes))
 * is submitted with key K once the writer moves past it, unless it is all
 * zero; a grain the disk ends inside is zero padded.  Whole zero grains
 * are skipped without a copy.  Do not mix with bw_workers_buffer/submit.
 * Returns 0 or the sink's error.
 */
int bw_workers_write(struct bw_workers *p, const uint8_t *buf, size_t len,
		     uint64_t off, struct bw_error *err);

/* Submit the grain bw_workers_write still holds (if any), wait for every
 * submitted grain and pass them all to the sink.  Returns 0 or the sink's
 * error. */
int bw_workers_finish(struct bw_workers *p, struct bw_error *err);

/* Stop the threads (discarding grains not yet consumed) and free.  NULL ok. */
void bw_workers_free(struct bw_workers *p);

#endif

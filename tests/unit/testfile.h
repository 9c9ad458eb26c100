/*
 * Helpers shared by the unit tests that make files and read them back:
 * the whole of a file, all-zero tests, deterministic data, and a disk
 * written through bw_writer in chunks of assorted sizes.  One home for
 * them (STYLE.md 12) so the writers' tests drive bw_writer the same way.
 */
#ifndef BW_TESTS_TESTFILE_H
#define BW_TESTS_TESTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/disk.h"

/* The whole file PATH, malloc'd with one NUL byte after its bytes (so
 * text can be read as a string), their count in *LEN (LEN may be NULL);
 * NULL if it cannot be read. */
uint8_t *tf_slurp(const char *path, size_t *len);

/* PATH made (or truncated) to hold exactly DATA's LEN bytes; 0 or -1. */
int tf_write_file(const char *path, const void *data, size_t len);

/* 1 if P's N bytes are all zero. */
int tf_is_zero(const uint8_t *p, size_t n);

/* xorshift64*: the next number of the sequence STATE (never 0) holds. */
uint64_t tf_rand(uint64_t *state);

/* P's N bytes from tf_rand's top byte, one number a byte. */
void tf_fill_random(uint8_t *p, size_t n, uint64_t *state);

/* The source disk's bytes [OFF, OFF+N), valid until the next call. */
typedef const uint8_t *(*tf_source_fn)(const void *ctx, uint64_t off, size_t n);

/*
 * Write SIZE bytes of SOURCE through W in chunks whose sizes tf_rand draws
 * from CHUNKS (NCHUNKS of them), so writes cross grain and cluster edges;
 * about half of the all-zero chunks are skipped instead of written (bytes
 * never written read as zero).  On failure W is aborted and the error
 * printed, after "LABEL: " when LABEL is given.  Returns 0 or the BW_E*
 * code of bw_writer_write.
 */
int tf_write_chunks(struct bw_writer *w, uint64_t size, tf_source_fn source, const void *ctx,
		    const size_t *chunks, size_t nchunks, uint64_t *state, const char *label);

/* A tf_source_fn over one buffer in memory (CTX is its first byte). */
const uint8_t *tf_source_mem(const void *ctx, uint64_t off, size_t n);

#endif

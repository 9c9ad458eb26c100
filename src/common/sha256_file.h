/*
 * SHA-256 of a file's bytes (nettle), read once sequentially: the box a
 * catalog names (bw_sha256_file, box.h) and a reproducible build's input
 * and option files (job/repro.c) go through this one loop.
 */
#ifndef BW_COMMON_SHA256_FILE_H
#define BW_COMMON_SHA256_FILE_H

#include <stdint.h>

#include "boxwright/error.h"

#define BW_SHA256_SIZE 32
#define BW_SHA256_FILE_CHUNK (1u << 20)  /* bytes read at a time */

/*
 * Called after each chunk with the bytes hashed so far (a multiple of
 * BW_SHA256_FILE_CHUNK but at the end): a caller's progress, stop or
 * cancel check.  A non-zero return (a BW_E* code, ERR filled) ends the
 * hash and is returned.
 */
typedef int (*bw_sha256_file_check_fn)(void *ctx, const char *path, uint64_t done,
				       struct bw_error *err);

/*
 * The SHA-256 of PATH's bytes into DIGEST.  CHECK may be NULL.  Returns 0,
 * BW_ENOTFOUND (no such file), BW_EIO (cannot open or read: the offset is
 * named), BW_ENOMEM, or what CHECK returned.
 */
int bw_sha256_file_digest(const char *path, uint8_t digest[BW_SHA256_SIZE],
			  bw_sha256_file_check_fn check, void *ctx, struct bw_error *err);

#endif

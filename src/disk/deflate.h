/*
 * One-grain zlib (RFC 1950) compression for the VMDK streamOptimized
 * writer.  Built on libdeflate when HAVE_LIBDEFLATE is defined (about 2.5x
 * zlib's speed at the same ratio: DESIGN.md "Performance model"), else on
 * zlib.  Either way each call makes one complete zlib stream from one
 * buffer, so the output depends only on the input and the level: grains
 * compressed on different threads give the same bytes.
 *
 * A handle is not thread-safe: each worker thread owns one.
 */
#ifndef BW_DISK_DEFLATE_H
#define BW_DISK_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

struct bw_deflate;

/* The largest deflate stored block holds 65535 bytes (RFC 1951 3.2.4). */
#define BW_DEFLATE_STORED_BLOCK_MAX 65535u

/*
 * Size of the stored form of N input bytes: the 2-byte zlib header, one
 * stored block per 65535 bytes (at least one) with its 5-byte header
 * (BFINAL/BTYPE padded to a byte, LEN, NLEN), the data, and the 4-byte
 * Adler-32.  For a 64 KiB grain: 2 + 2*5 + 65536 + 4 = 65552 bytes.
 */
#define BW_DEFLATE_STORED_SIZE(n)                                          \
	(2u + 4u + (size_t)(n) +                                           \
	 5u * ((n) == 0 ? 1u : ((size_t)(n) + BW_DEFLATE_STORED_BLOCK_MAX - 1) / \
				BW_DEFLATE_STORED_BLOCK_MAX))

/*
 * A compressor for LEVEL 1..9 (values outside are clamped).  Returns NULL
 * when memory runs out.
 */
struct bw_deflate *bw_deflate_new(int level);

/* Accepts NULL. */
void bw_deflate_free(struct bw_deflate *c);

/*
 * Compress IN[0..LEN) into one zlib stream at OUT.  When deflate's result
 * does not fit in LIMIT bytes, OUT gets the stored (uncompressed) form
 * instead, BW_DEFLATE_STORED_SIZE(LEN) bytes.  OUT must hold
 * max(LIMIT, BW_DEFLATE_STORED_SIZE(LEN)) bytes.  Returns the stream's
 * length; cannot fail (all allocation happened in bw_deflate_new).
 *
 * Callers that pass LIMIT = BW_DEFLATE_STORED_SIZE(LEN) get whichever form
 * is smaller, so the result never exceeds the stored size.
 */
size_t bw_deflate_zlib(struct bw_deflate *c, const uint8_t *in, size_t len,
		       uint8_t *out, size_t limit);

/* The stored form alone (BW_DEFLATE_STORED_SIZE(LEN) bytes at OUT). */
size_t bw_deflate_zlib_stored(const uint8_t *in, size_t len, uint8_t *out);

/* "libdeflate" or "zlib": which library this build compresses with. */
const char *bw_deflate_backend(void);

#endif

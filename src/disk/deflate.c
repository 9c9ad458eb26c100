/*
 * One-grain zlib streams (RFC 1950 around RFC 1951 deflate) for the VMDK
 * streamOptimized writer: libdeflate's whole-buffer compressor when
 * configure found it (HAVE_LIBDEFLATE), else zlib with one z_stream per
 * handle, reset for every grain.
 *
 * The stored fallback exists for VirtualBox: it reads a grain into a
 * 66048-byte buffer that includes the 12-byte marker (FORMATS.md, VBox
 * VMDK.cpp vmdkAllocStreamBuffers), so deflate data must never exceed
 * 66036 bytes.  Deflate of incompressible data can be larger than its
 * input (zlib level 6 gives 65562 bytes for 64 KiB of random data); the
 * stored form of 64 KiB is 65552 bytes and always fits.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#else
#include <zlib.h>
#endif

#include "common/bytes.h"
#include "disk/deflate.h"

struct bw_deflate {
#ifdef HAVE_LIBDEFLATE
	struct libdeflate_compressor *ld;
#else
	z_stream zs;
	int zs_ready;
#endif
};

static int clamp_level(int level)
{
	return level < 1 ? 1 : level > 9 ? 9 : level;
}

struct bw_deflate *bw_deflate_new(int level)
{
	struct bw_deflate *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	level = clamp_level(level);
#ifdef HAVE_LIBDEFLATE
	c->ld = libdeflate_alloc_compressor(level);
	if (!c->ld) {
		free(c);
		return NULL;
	}
#else
	/* windowBits 15, memLevel 8: zlib's defaults, zlib (not raw) framing. */
	if (deflateInit2(&c->zs, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(c);
		return NULL;
	}
	c->zs_ready = 1;
#endif
	return c;
}

void bw_deflate_free(struct bw_deflate *c)
{
	if (!c)
		return;
#ifdef HAVE_LIBDEFLATE
	libdeflate_free_compressor(c->ld);
#else
	if (c->zs_ready)
		deflateEnd(&c->zs);
#endif
	free(c);
}

static uint32_t adler32_of(const uint8_t *in, size_t len)
{
#ifdef HAVE_LIBDEFLATE
	return libdeflate_adler32(1, in, len);
#else
	uLong a = adler32(0L, Z_NULL, 0);
	/* zlib's length argument is a uInt: feed it in bounded pieces. */
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		a = adler32(a, in, n);
		in += n;
		len -= n;
	}
	return (uint32_t)a;
#endif
}

size_t bw_deflate_zlib_stored(const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t *p = out;
	/* CMF 0x78: deflate, 32 KiB window; FLG 0x01: FLEVEL 0 (fastest), no
	 * dictionary, FCHECK making 0x7801 a multiple of 31 (RFC 1950 2.2). */
	*p++ = 0x78;
	*p++ = 0x01;
	size_t left = len;
	do {
		uint16_t n = left > BW_DEFLATE_STORED_BLOCK_MAX ?
			(uint16_t)BW_DEFLATE_STORED_BLOCK_MAX : (uint16_t)left;
		/* BFINAL in bit 0, BTYPE 00 (stored); the rest of the byte is
		 * padding, as stored blocks restart at a byte boundary. */
		*p++ = (uint8_t)(left == n ? 1 : 0);
		bw_put_le16(p, n);
		bw_put_le16(p + 2, (uint16_t)~n);
		p += 4;
		memcpy(p, in + (len - left), n);
		p += n;
		left -= n;
	} while (left > 0);
	bw_put_be32(p, adler32_of(in, len));
	p += 4;
	return (size_t)(p - out);
}

size_t bw_deflate_zlib(struct bw_deflate *c, const uint8_t *in, size_t len,
		       uint8_t *out, size_t limit)
{
#ifdef HAVE_LIBDEFLATE
	/* libdeflate returns 0 when the stream does not fit in LIMIT. */
	size_t n = libdeflate_zlib_compress(c->ld, in, len, out, limit);
	if (n > 0)
		return n;
#else
	if (len <= (uInt)-1 && limit <= (uInt)-1 && deflateReset(&c->zs) == Z_OK) {
		c->zs.next_in = (Bytef *)(uintptr_t)in;   /* zlib never writes it */
		c->zs.avail_in = (uInt)len;
		c->zs.next_out = out;
		c->zs.avail_out = (uInt)limit;
		/* Z_STREAM_END only when the whole stream, Adler-32 included,
		 * fit; Z_OK or Z_BUF_ERROR mean it did not. */
		if (deflate(&c->zs, Z_FINISH) == Z_STREAM_END)
			return limit - c->zs.avail_out;
	}
#endif
	return bw_deflate_zlib_stored(in, len, out);
}

const char *bw_deflate_backend(void)
{
#ifdef HAVE_LIBDEFLATE
	return "libdeflate";
#else
	return "zlib";
#endif
}

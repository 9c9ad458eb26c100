/*
 * UTF-8 encoding of one code point, shared by every place that turns
 * UTF-16 from disk (VHD parent names, registry strings, .reg files) into
 * UTF-8.  The caller has checked CP (no surrogates, <= 0x10FFFF) and that
 * OUT has room for 4 bytes.
 */
#ifndef BW_COMMON_UTF8_H
#define BW_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

static inline size_t bw_utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

#endif

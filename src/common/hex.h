/*
 * The one hex helper: bytes to lowercase hex digits, for messages that
 * show what was found (a bad magic) and for ids.  UUID and GUID layouts
 * have their own formatters; this is the plain byte string.
 */
#ifndef BW_COMMON_HEX_H
#define BW_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Write the N bytes at IN as 2 * N lowercase hex digits and a NUL into
 * OUT (OUTN bytes).  When OUTN < 2 * N + 1, OUT holds as many whole bytes
 * as fit, NUL-terminated (nothing when OUTN is 0).  Returns 0, or
 * BW_EINVAL when OUT was too small.
 */
int bw_hex_encode(const uint8_t *in, size_t n, char *out, size_t outn);

/* The value of one hex digit (either case), or -1 for anything else. */
static inline int bw_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif

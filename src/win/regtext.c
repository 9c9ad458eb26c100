/*
 * Registry text: REG_SZ / REG_MULTI_SZ data (UTF-16LE) to UTF-8, and
 * UTF-8 names and strings to UTF-16LE for writing, each bounded by
 * WIN_REG_MAX_STRING_BYTES.  No hivex here: these work on bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/utf8.h"
#include "win/win_internal.h"

/* ---- UTF-16LE --------------------------------------------------------- */

int win_utf16le_to_utf8(const uint8_t *p, size_t len, char **out,
			size_t *out_len)
{
	*out = NULL;
	if (len > WIN_REG_MAX_STRING_BYTES)
		return BW_EFORMAT;
	size_t units = len / 2;
	/* One unit gives at most 3 bytes; a pair (2 units) gives 4.  No
	 * overflow: units is at most WIN_REG_MAX_STRING_BYTES / 2. */
	char *s = malloc(units * 3 + 1);
	if (!s)
		return BW_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = bw_get_le16(p + 2 * i);
		if (c == 0)
			break;
		if (c >= 0xD800 && c <= 0xDBFF) {
			uint32_t lo = i + 1 < units ? bw_get_le16(p + 2 * (i + 1))
						    : 0;
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				c = 0x10000 + ((c - 0xD800) << 10) +
				    (lo - 0xDC00);
				i++;
			} else {
				c = 0xFFFD;
			}
		} else if (c >= 0xDC00 && c <= 0xDFFF) {
			c = 0xFFFD;
		}
		o += bw_utf8_put(s + o, c);
	}
	s[o] = '\0';
	*out = s;
	if (out_len)
		*out_len = o;
	return 0;
}

void win_strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

int win_multi_sz_split(const uint8_t *p, size_t len, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (len > WIN_REG_MAX_STRING_BYTES)
		return BW_EFORMAT;
	size_t units = len / 2;
	char **v = calloc(1, sizeof *v);
	if (!v)
		return BW_ENOMEM;
	size_t count = 0, i = 0;
	while (i < units) {
		size_t start = i;
		while (i < units && bw_get_le16(p + 2 * i) != 0)
			i++;
		if (i == start)
			break;          /* the empty string ends the list */
		if (count >= WIN_REG_MAX_MULTI_SZ) {
			win_strv_free(v);
			return BW_EFORMAT;
		}
		char **grown = realloc(v, (count + 2) * sizeof *v);
		if (!grown) {
			win_strv_free(v);
			return BW_ENOMEM;
		}
		v = grown;
		int ret = win_utf16le_to_utf8(p + 2 * start, 2 * (i - start),
					      &v[count], NULL);
		if (ret) {
			v[count] = NULL;
			win_strv_free(v);
			return ret;
		}
		v[++count] = NULL;
		i++;                    /* past the NUL (or the end) */
	}
	*out = v;
	*n = count;
	return 0;
}

/* ---- UTF-8 to UTF-16LE -------------------------------------------------- */

/* Decode one UTF-8 sequence at P (AVAIL bytes); 0 when it is not valid
 * (truncated, overlong, a surrogate, over U+10FFFF). */
static size_t utf8_get(const unsigned char *p, size_t avail, uint32_t *cp)
{
	unsigned char b = p[0];
	size_t n;
	uint32_t c, min;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		n = 2; c = b & 0x1F; min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 3; c = b & 0x0F; min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4; c = b & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

int win_utf8_valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t c;
		size_t n = utf8_get(p + i, len - i, &c);
		if (n == 0) {
			if (bad)
				*bad = i;
			return 0;
		}
		i += n;
	}
	return 1;
}

size_t win_utf16_units(const char *s, size_t len)
{
	size_t units = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];
		if ((b & 0xC0) != 0x80)
			units += b >= 0xF0 ? 2 : 1;
	}
	return units;
}

int win_utf8_to_utf16le(const char *s, size_t len, int nul_terminate,
			uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	/* Each byte gives at most one unit (a 4-byte sequence gives two), so
	 * 2 * len + 2 bounds the output; the cap keeps it small. */
	if (len > WIN_REG_MAX_STRING_BYTES / 2)
		return BW_EFORMAT;
	uint8_t *u = malloc(2 * len + 2);
	if (!u)
		return BW_ENOMEM;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	while (i < len) {
		uint32_t c;
		size_t n = utf8_get(p + i, len - i, &c);
		if (n == 0) {
			free(u);
			return BW_EFORMAT;
		}
		i += n;
		if (c >= 0x10000) {
			c -= 0x10000;
			bw_put_le16(u + o, (uint16_t)(0xD800 | c >> 10));
			bw_put_le16(u + o + 2, (uint16_t)(0xDC00 | (c & 0x3FF)));
			o += 4;
		} else {
			bw_put_le16(u + o, (uint16_t)c);
			o += 2;
		}
	}
	if (nul_terminate) {
		bw_put_le16(u + o, 0);
		o += 2;
	}
	if (o > WIN_REG_MAX_STRING_BYTES) {
		free(u);
		return BW_EFORMAT;
	}
	*out = u;
	*out_len = o;
	return 0;
}

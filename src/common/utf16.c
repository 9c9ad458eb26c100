/*
 * UTF-16 <-> UTF-8 (utf16.h): RFC 2781 for surrogate pairs, RFC 3629 for
 * which UTF-8 is valid.  Bounds: every write into OUT is checked against
 * OUTN before it is made; nothing here reads past INLEN / LEN.
 */
#include <stdlib.h>
#include <string.h>

#include "boxwright/error.h"
#include "boxwright/text.h"
#include "common/bytes.h"
#include "common/utf16.h"
#include "common/utf8.h"

#define UTF16_HIGH_FIRST 0xD800u
#define UTF16_LOW_FIRST  0xDC00u
#define UTF16_LOW_END    0xE000u   /* one past the last low surrogate */
#define UTF_REPLACEMENT  0xFFFDu
#define UTF_MAX          0x10FFFFu

int bw_utf16_to_utf8(const uint8_t *in, size_t inlen,
		     enum bw_utf16_policy policy, unsigned flags, char *out,
		     size_t outn, size_t *outlen, size_t *bad)
{
	int big = (flags & BW_UTF16_BE) != 0;
	size_t units = inlen / 2, o = 0;
	int ret = 0;
	if (outlen)
		*outlen = 0;
	if (outn == 0)
		return BW_EINVAL;       /* not even room for the NUL */
	for (size_t i = 0; i < units; i++) {
		const uint8_t *p = in + 2 * i;
		uint32_t c = big ? bw_get_be16(p) : bw_get_le16(p);
		int unpaired = 0;
		if (c == 0 && (flags & BW_UTF16_NUL_ENDS))
			break;
		if (c == 0 && (flags & BW_UTF16_NUL_BAD)) {
			if (bad)
				*bad = 2 * i;
			ret = BW_EFORMAT;
			break;
		}
		if (c >= UTF16_HIGH_FIRST && c < UTF16_LOW_FIRST) {
			uint32_t lo = 0;
			if (i + 1 < units)
				lo = big ? bw_get_be16(p + 2) : bw_get_le16(p + 2);
			if (lo >= UTF16_LOW_FIRST && lo < UTF16_LOW_END)
				c = 0x10000 + ((c - UTF16_HIGH_FIRST) << 10) +
				    (lo - UTF16_LOW_FIRST);
			else
				unpaired = 1;
		} else if (c >= UTF16_LOW_FIRST && c < UTF16_LOW_END) {
			unpaired = 1;
		}
		if (unpaired) {
			if (policy != BW_UTF16_REPLACE) {
				if (bad)
					*bad = 2 * i;
				ret = BW_EFORMAT;
				break;
			}
			c = UTF_REPLACEMENT;
		}
		char enc[4];
		size_t n = bw_utf8_put(enc, c);
		if (n >= outn - o) {    /* keep room for the NUL; never split */
			ret = BW_EINVAL;
			break;
		}
		for (size_t k = 0; k < n; k++)
			out[o + k] = enc[k];
		o += n;
		if (c >= 0x10000)
			i++;            /* the low half of the pair */
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return ret;
}

int bw_utf16_to_utf8_alloc(const uint8_t *in, size_t inlen,
			   enum bw_utf16_policy policy, unsigned flags,
			   char **out, size_t *outlen, size_t *bad)
{
	*out = NULL;
	size_t units = inlen / 2;
	/* A unit gives at most 3 bytes (U+FFFD too), a pair 4 for 2 units. */
	if (units > (SIZE_MAX - 1) / 3)
		return BW_ENOMEM;
	size_t n = units * 3 + 1;
	char *s = malloc(n);
	if (!s)
		return BW_ENOMEM;
	int ret = bw_utf16_to_utf8(in, inlen, policy, flags, s, n, outlen, bad);
	if (ret) {
		free(s);
		return ret;     /* BW_EFORMAT: BW_EINVAL cannot happen at n */
	}
	*out = s;
	return 0;
}

size_t bw_utf8_get(const uint8_t *p, size_t avail, uint32_t *cp)
{
	uint8_t b = p[0];
	size_t n;
	uint32_t c, min;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	/* C0/C1 lead only overlong 2-byte forms, F5..FF nothing valid. */
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
	if (c < min || c > UTF_MAX ||
	    (c >= UTF16_HIGH_FIRST && c < UTF16_LOW_END))
		return 0;
	*cp = c;
	return n;
}

int bw_utf8_valid(const char *s, size_t len, size_t *bad)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t c;
		size_t n = bw_utf8_get(p + i, len - i, &c);
		if (n == 0) {
			if (bad)
				*bad = i;
			return 0;
		}
		i += n;
	}
	return 1;
}

size_t bw_utf8_utf16_units(const char *s, size_t len)
{
	size_t units = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)s[i];
		if ((b & 0xC0) != 0x80)         /* a lead byte or ASCII */
			units += b >= 0xF0 ? 2 : 1;
	}
	return units;
}

int bw_utf8_to_utf16le(const char *s, size_t len, uint8_t *out, size_t outn,
		       size_t *outlen, size_t *bad)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, o = 0;
	int ret = 0;
	while (i < len) {
		uint32_t c;
		size_t n = bw_utf8_get(p + i, len - i, &c);
		if (n == 0) {
			if (bad)
				*bad = i;
			ret = BW_EFORMAT;
			break;
		}
		size_t need = c >= 0x10000 ? 4 : 2;
		if (need > outn - o) {
			ret = BW_EINVAL;
			break;
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			bw_put_le16(out + o, (uint16_t)(UTF16_HIGH_FIRST | c >> 10));
			bw_put_le16(out + o + 2,
				    (uint16_t)(UTF16_LOW_FIRST | (c & 0x3FF)));
		} else {
			bw_put_le16(out + o, (uint16_t)c);
		}
		o += need;
		i += n;
	}
	*outlen = o;
	return ret;
}

char *bw_utf8_sanitize(const char *s, size_t len)
{
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(3 * len + 1);    /* one bad byte -> 3 bytes of U+FFFD */
	if (!out)
		return NULL;
	const uint8_t *p = (const uint8_t *)s;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = bw_utf8_get(p + i, len - i, &cp);
		if (n) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			o += bw_utf8_put(out + o, 0xFFFD);
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * Registry text: REG_SZ / REG_MULTI_SZ data (UTF-16LE) to UTF-8, and
 * UTF-8 names and strings to UTF-16LE for writing, each bounded by
 * WIN_REG_MAX_STRING_BYTES.  No hivex here: these work on bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/utf16.h"
#include "win/win_internal.h"

/* ---- UTF-16LE --------------------------------------------------------- */

int win_utf16le_to_utf8(const uint8_t *p, size_t len, char **out,
			size_t *out_len)
{
	*out = NULL;
	if (len > WIN_REG_MAX_STRING_BYTES)
		return BW_EFORMAT;
	/* Registry strings are lenient: Windows stores what it was given,
	 * lone surrogates included, and readers show U+FFFD. */
	return bw_utf16_to_utf8_alloc(p, len, BW_UTF16_REPLACE,
				      BW_UTF16_NUL_ENDS, out, out_len, NULL);
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
	size_t o;
	if (bw_utf8_to_utf16le(s, len, u, 2 * len, &o, NULL) != 0) {
		free(u);
		return BW_EFORMAT;
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

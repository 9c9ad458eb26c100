/*
 * Unit tests of src/common: the UTF-16 <-> UTF-8 converter (surrogate
 * pairs, unpaired surrogates under both policies, NUL handling, byte
 * order, invalid and overlong UTF-8, output limits), the hex helper and
 * the derived identities of reproducible builds (known answers computed
 * with Python's hashlib: SHA-256(seed || label || NUL || be32 block)).
 */
#include <stdlib.h>
#include <string.h>

#include "boxwright/error.h"
#include "boxwright/text.h"
#include "common/derive.h"
#include "common/hex.h"
#include "common/utf16.h"
#include "check.h"

/* "Të€" + U+1D11E (a surrogate pair) */
static const uint8_t label[] = { 'T', 0, 0xEB, 0, 0xAC, 0x20,
				 0x34, 0xD8, 0x1E, 0xDD };
#define LABEL_UTF8 "T\xC3\xAB\xE2\x82\xAC\xF0\x9D\x84\x9E"

static void test_decode_pairs(void)
{
	char out[64];
	size_t n, bad = 99;
	CHECK(bw_utf16_to_utf8(label, sizeof label, BW_UTF16_REFUSE, 0, out,
			       sizeof out, &n, &bad) == 0);
	CHECK(strcmp(out, LABEL_UTF8) == 0);
	CHECK_EQ_U64(n, strlen(LABEL_UTF8));
	CHECK_EQ_U64(bad, 99);                  /* untouched on success */

	/* The same text big-endian. */
	uint8_t be[sizeof label];
	for (size_t i = 0; i < sizeof label; i += 2) {
		be[i] = label[i + 1];
		be[i + 1] = label[i];
	}
	CHECK(bw_utf16_to_utf8(be, sizeof be, BW_UTF16_REFUSE, BW_UTF16_BE,
			       out, sizeof out, &n, NULL) == 0);
	CHECK(strcmp(out, LABEL_UTF8) == 0);

	/* The edges: U+10000 (D800 DC00), U+10FFFF (DBFF DFFF), U+FFFF. */
	static const uint8_t edges[] = { 0x00, 0xD8, 0x00, 0xDC, 0xFF, 0xDB,
					 0xFF, 0xDF, 0xFF, 0xFF };
	CHECK(bw_utf16_to_utf8(edges, sizeof edges, BW_UTF16_REFUSE, 0, out,
			       sizeof out, &n, NULL) == 0);
	CHECK(strcmp(out, "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\xEF\xBF\xBF") == 0);

	/* An odd trailing byte is ignored; empty input is the empty string. */
	CHECK(bw_utf16_to_utf8(label, 3, BW_UTF16_REFUSE, 0, out, sizeof out,
			       &n, NULL) == 0 && strcmp(out, "T") == 0);
	CHECK(bw_utf16_to_utf8(label, 0, BW_UTF16_REFUSE, 0, out, 1, &n,
			       NULL) == 0 && out[0] == '\0' && n == 0);
}

static void test_decode_unpaired(void)
{
	char out[64];
	size_t n, bad;
	/* high, 'A', low: both halves unpaired */
	static const uint8_t lone[] = { 0x34, 0xD8, 'A', 0, 0x1E, 0xDD };
	CHECK(bw_utf16_to_utf8(lone, sizeof lone, BW_UTF16_REPLACE, 0, out,
			       sizeof out, &n, NULL) == 0);
	CHECK(strcmp(out, "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD") == 0);
	CHECK(bw_utf16_to_utf8(lone, sizeof lone, BW_UTF16_REFUSE, 0, out,
			       sizeof out, &n, &bad) == BW_EFORMAT);
	CHECK_EQ_U64(bad, 0);
	CHECK(out[0] == '\0' && n == 0);

	/* A lone low surrogate after text: the text before is kept. */
	CHECK(bw_utf16_to_utf8(lone + 2, 4, BW_UTF16_REFUSE, 0, out,
			       sizeof out, &n, &bad) == BW_EFORMAT);
	CHECK_EQ_U64(bad, 2);
	CHECK(strcmp(out, "A") == 0 && n == 1);

	/* A high surrogate last, and one before NUL. */
	CHECK(bw_utf16_to_utf8(lone, 2, BW_UTF16_REPLACE, 0, out, sizeof out,
			       &n, NULL) == 0 && strcmp(out, "\xEF\xBF\xBD") == 0);
	CHECK(bw_utf16_to_utf8(lone, 2, BW_UTF16_REFUSE, 0, out, sizeof out,
			       &n, &bad) == BW_EFORMAT && bad == 0);
	static const uint8_t hi_nul[] = { 'x', 0, 0x3D, 0xD8, 0, 0, 'y', 0 };
	CHECK(bw_utf16_to_utf8(hi_nul, sizeof hi_nul, BW_UTF16_REPLACE,
			       BW_UTF16_NUL_ENDS, out, sizeof out, &n,
			       NULL) == 0);
	CHECK(strcmp(out, "x\xEF\xBF\xBD") == 0);
	CHECK(bw_utf16_to_utf8(hi_nul, sizeof hi_nul, BW_UTF16_REFUSE,
			       BW_UTF16_NUL_ENDS, out, sizeof out, &n,
			       &bad) == BW_EFORMAT && bad == 2);
}

static void test_decode_nul(void)
{
	char out[64];
	size_t n, bad;
	static const uint8_t ab[] = { 'a', 0, 0, 0, 'b', 0 };
	/* Ends the text, is refused, or is passed through as a byte. */
	CHECK(bw_utf16_to_utf8(ab, sizeof ab, BW_UTF16_REFUSE,
			       BW_UTF16_NUL_ENDS, out, sizeof out, &n,
			       NULL) == 0 && strcmp(out, "a") == 0 && n == 1);
	CHECK(bw_utf16_to_utf8(ab, sizeof ab, BW_UTF16_REPLACE,
			       BW_UTF16_NUL_BAD, out, sizeof out, &n,
			       &bad) == BW_EFORMAT && bad == 2 && n == 1);
	CHECK(bw_utf16_to_utf8(ab, sizeof ab, BW_UTF16_REFUSE, 0, out,
			       sizeof out, &n, NULL) == 0 && n == 3 &&
	      memcmp(out, "a\0b", 4) == 0);
}

static void test_decode_limits(void)
{
	char out[16];
	size_t n;
	/* Truncation never splits a character and always leaves a NUL. */
	memset(out, 'Z', sizeof out);
	CHECK(bw_utf16_to_utf8(label, sizeof label, BW_UTF16_REPLACE, 0, out,
			       7, &n, NULL) == BW_EINVAL);
	CHECK(strcmp(out, "T\xC3\xAB\xE2\x82\xAC") == 0 && n == 6);
	CHECK(out[7] == 'Z');                   /* nothing past OUTN */
	CHECK(bw_utf16_to_utf8(label, sizeof label, BW_UTF16_REPLACE, 0, out,
			       6, &n, NULL) == BW_EINVAL);
	CHECK(strcmp(out, "T\xC3\xAB") == 0 && n == 3);
	/* Exactly enough: 10 bytes + NUL. */
	CHECK(bw_utf16_to_utf8(label, sizeof label, BW_UTF16_REPLACE, 0, out,
			       11, &n, NULL) == 0 && n == 10);
	CHECK(bw_utf16_to_utf8(label, sizeof label, BW_UTF16_REPLACE, 0, out,
			       10, &n, NULL) == BW_EINVAL && n == 6);
	/* No room even for the NUL: nothing written. */
	out[0] = 'Z';
	CHECK(bw_utf16_to_utf8(label, sizeof label, BW_UTF16_REPLACE, 0, out,
			       0, &n, NULL) == BW_EINVAL && out[0] == 'Z');

	/* The allocating form sizes for the worst case (3 bytes a unit). */
	uint8_t fffd[2 * 100];
	for (size_t i = 0; i < sizeof fffd; i += 2) {
		fffd[i] = 0x00;
		fffd[i + 1] = 0xDC;             /* 100 lone low surrogates */
	}
	char *s;
	CHECK(bw_utf16_to_utf8_alloc(fffd, sizeof fffd, BW_UTF16_REPLACE, 0,
				     &s, &n, NULL) == 0);
	CHECK(s && n == 300 && strlen(s) == 300);
	free(s);
	size_t bad;
	CHECK(bw_utf16_to_utf8_alloc(fffd, sizeof fffd, BW_UTF16_REFUSE, 0,
				     &s, &n, &bad) == BW_EFORMAT);
	CHECK(s == NULL && bad == 0);
}

static void test_utf8(void)
{
	size_t at;
	static const char *const bad[] = {
		"\xC0\xAF",             /* overlong '/' */
		"\xC1\xBF",             /* overlong */
		"\xE0\x80\xAF",         /* overlong 3-byte */
		"\xF0\x80\x80\xAF",     /* overlong 4-byte */
		"\xED\xA0\x80",         /* U+D800 */
		"\xED\xBF\xBF",         /* U+DFFF */
		"\xF4\x90\x80\x80",     /* U+110000 */
		"\xF5\x80\x80\x80",
		"\xFF",
		"\x80",                 /* a lone continuation byte */
		"\xC3",                 /* truncated */
		"\xE2\x82",             /* truncated */
		"\xC3\x28",             /* a bad continuation byte */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(!bw_utf8_valid(bad[i], strlen(bad[i]), &at) && at == 0);
		uint8_t u[16];
		size_t n;
		CHECK(bw_utf8_to_utf16le(bad[i], strlen(bad[i]), u, sizeof u,
					 &n, &at) == BW_EFORMAT && at == 0);
	}
	CHECK(!bw_utf8_valid("ab\xC3\xA9z\xFFq", 7, &at) && at == 5);
	CHECK(bw_utf8_valid("ab\xC3\xA9\xF4\x8F\xBF\xBF", 8, &at));
	CHECK(bw_utf8_valid("", 0, NULL));
	CHECK_EQ_U64(bw_utf8_utf16_units("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10), 5);

	uint32_t cp;
	CHECK(bw_utf8_get((const uint8_t *)"\xE2\x82\xAC", 3, &cp) == 3 &&
	      cp == 0x20AC);
	CHECK(bw_utf8_get((const uint8_t *)"\xE2\x82\xAC", 2, &cp) == 0);
}

static void test_encode(void)
{
	uint8_t u[32];
	size_t n, at;
	/* The label round-trips, pair included. */
	CHECK(bw_utf8_to_utf16le(LABEL_UTF8, strlen(LABEL_UTF8), u, sizeof u,
				 &n, NULL) == 0);
	CHECK(n == sizeof label && memcmp(u, label, n) == 0);
	/* NULs are text. */
	CHECK(bw_utf8_to_utf16le("a\0b", 3, u, sizeof u, &n, NULL) == 0 &&
	      n == 6 && memcmp(u, "a\0\0\0b\0", 6) == 0);
	/* A bad byte after good text: its offset, and what came before. */
	CHECK(bw_utf8_to_utf16le("ab\xC0\xAF", 4, u, sizeof u, &n, &at) ==
	      BW_EFORMAT && at == 2 && n == 4);
	/* Output limits: a pair never half written. */
	CHECK(bw_utf8_to_utf16le(LABEL_UTF8, strlen(LABEL_UTF8), u, 8, &n,
				 NULL) == BW_EINVAL && n == 6);
	CHECK(bw_utf8_to_utf16le(LABEL_UTF8, strlen(LABEL_UTF8), u, 9, &n,
				 NULL) == BW_EINVAL && n == 6);
	CHECK(bw_utf8_to_utf16le(LABEL_UTF8, strlen(LABEL_UTF8), u, 10, &n,
				 NULL) == 0 && n == 10);
	CHECK(bw_utf8_to_utf16le("", 0, u, 0, &n, NULL) == 0 && n == 0);

	/* Every BMP code point but the surrogates round-trips. */
	int mismatches = 0;
	for (uint32_t c = 1; c < 0x10000; c++) {
		if (c >= 0xD800 && c < 0xE000)
			continue;
		char s[5];
		size_t len = bw_utf8_put(s, c);
		size_t m;
		char back[8];
		if (bw_utf8_to_utf16le(s, len, u, sizeof u, &m, NULL) != 0 ||
		    m != 2 ||
		    bw_utf16_to_utf8(u, m, BW_UTF16_REFUSE, 0, back,
				     sizeof back, &m, NULL) != 0 ||
		    m != len || memcmp(back, s, len) != 0)
			mismatches++;
	}
	CHECK_EQ_U64(mismatches, 0);
}

static void test_hex(void)
{
	static const uint8_t b[] = { 0x00, 0x7F, 0xA5, 0xFF };
	char out[9];
	CHECK(bw_hex_encode(b, 4, out, sizeof out) == 0);
	CHECK(strcmp(out, "007fa5ff") == 0);
	CHECK(bw_hex_encode(b, 0, out, 1) == 0 && out[0] == '\0');
	/* Too small: whole bytes only, still terminated. */
	memset(out, 'Z', sizeof out);
	CHECK(bw_hex_encode(b, 4, out, 8) == BW_EINVAL);
	CHECK(strcmp(out, "007fa5") == 0 && out[7] == 'Z');
	CHECK(bw_hex_encode(b, 4, out, 2) == BW_EINVAL && out[0] == '\0');
	out[0] = 'Z';
	CHECK(bw_hex_encode(b, 4, out, 0) == BW_EINVAL && out[0] == 'Z');
}

/* bw_utf8_sanitize: valid text kept, each bad byte one U+FFFD. */
static void test_sanitize(void)
{
	static const struct { const char *in; size_t len; const char *want; } cases[] = {
		{ "plain", 5, "plain" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", 10, "caf\xc3\xa9 \xf0\x9f\x98\x80" },
		{ "a\xff" "b", 3, "a\xef\xbf\xbd" "b" },
		{ "\xc3", 1, "\xef\xbf\xbd" },                          /* truncated */
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },         /* overlong */
		{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "", 0, "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = bw_utf8_sanitize(cases[i].in, cases[i].len);
		CHECK(out && !strcmp(out, cases[i].want));
		CHECK(out && bw_utf8_valid(out, strlen(out), NULL));
		free(out);
	}
}

static void test_derive(void)
{
	uint8_t seed[BW_DERIVE_SEED_LEN], out[40], again[40];
	for (unsigned i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)i;
	/* 40 bytes: block 0 whole and 8 bytes of block 1 */
	static const char want[] = "073828d80e326aa6ddaae57f4424ba1b1dbe403e383c801b1c308bebeff96d716e7373325f304251";
	bw_derive_bytes(seed, "label", out, sizeof out);
	char hex[81];
	for (unsigned i = 0; i < sizeof out; i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	CHECK(strcmp(hex, want) == 0);
	bw_derive_bytes(seed, "label", again, sizeof again);
	CHECK(memcmp(out, again, sizeof out) == 0);
	bw_derive_bytes(seed, "label2", again, sizeof again);
	CHECK(memcmp(out, again, sizeof out) != 0);
	char u[37];
	bw_derive_uuid(seed, "uuid", u);
	CHECK(strcmp(u, "e486cd1b-d60c-4f79-bb53-802c3ded5a00") == 0);
}

int main(void)
{
	test_derive();
	test_sanitize();
	test_hex();
	test_decode_pairs();
	test_decode_unpaired();
	test_decode_nul();
	test_decode_limits();
	test_utf8();
	test_encode();
	return check_done("test_common");
}

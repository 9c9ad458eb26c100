/*
 * The one UTF-16 <-> UTF-8 converter (DESIGN.md "Modules", common; the
 * idea of hivex's lib/utf16.c and wimlib's src/encoding.c): VHD parent
 * names and locators, NTFS volume labels, registry strings and .reg files
 * all decode through bw_utf16_to_utf8, and registry writes encode through
 * bw_utf8_to_utf16le.  Each caller states its policy for bad input; none
 * of these functions keeps state or allocates except the _alloc one.
 *
 * UTF-16: RFC 2781.  A high surrogate (D800-DBFF) followed by a low one
 * (DC00-DFFF) is one code point; any other surrogate is unpaired.
 * UTF-8: RFC 3629 (no overlong forms, no surrogates, nothing past
 * U+10FFFF); the encoder of one code point is bw_utf8_put (utf8.h).
 */
#ifndef BW_COMMON_UTF16_H
#define BW_COMMON_UTF16_H

#include <stddef.h>
#include <stdint.h>

#include "common/utf8.h"

/* What an unpaired surrogate does. */
enum bw_utf16_policy {
	BW_UTF16_REFUSE = 0,    /* BW_EFORMAT at its offset */
	BW_UTF16_REPLACE = 1,   /* it becomes U+FFFD */
};

/* Flags of bw_utf16_to_utf8. */
#define BW_UTF16_BE       0x1u  /* big-endian units (VHD parent name) */
#define BW_UTF16_NUL_ENDS 0x2u  /* the first NUL unit ends the text */
#define BW_UTF16_NUL_BAD  0x4u  /* a NUL unit is bad input (either policy) */

/*
 * Decode the INLEN / 2 units at IN (an odd trailing byte is ignored:
 * callers that refuse odd lengths check first) to UTF-8 in OUT (OUTN
 * bytes), always NUL-terminated when OUTN > 0.  *OUTLEN (may be NULL) is
 * the length written without the NUL.  Characters are never split: on
 * BW_EINVAL OUT holds the longest whole-character prefix that fits with
 * its NUL.  On BW_EFORMAT OUT holds the text before the bad unit and *BAD
 * (may be NULL) is the bad unit's byte offset in IN (an unpaired
 * surrogate under BW_UTF16_REFUSE, or a NUL under BW_UTF16_NUL_BAD).
 * INLEN / 2 * 3 + 1 bytes of OUT are always enough.
 * Returns 0, BW_EFORMAT, BW_EINVAL (OUT too small).
 */
int bw_utf16_to_utf8(const uint8_t *in, size_t inlen,
		     enum bw_utf16_policy policy, unsigned flags, char *out,
		     size_t outn, size_t *outlen, size_t *bad);

/*
 * bw_utf16_to_utf8 into a malloc'd string of the size it needs (*out NULL
 * on failure).  Returns 0, BW_EFORMAT (*BAD set), BW_ENOMEM.
 */
int bw_utf16_to_utf8_alloc(const uint8_t *in, size_t inlen,
			   enum bw_utf16_policy policy, unsigned flags,
			   char **out, size_t *outlen, size_t *bad);

/*
 * Decode one UTF-8 sequence at P (AVAIL > 0 bytes) into *CP; returns its
 * length, or 0 when it is not valid (truncated, a bad continuation byte,
 * overlong, a surrogate, past U+10FFFF).
 */
size_t bw_utf8_get(const uint8_t *p, size_t avail, uint32_t *cp);

/* Is S (LEN bytes) valid UTF-8?  If not, *BAD (may be NULL) is the byte
 * offset of the first invalid sequence.  Returns 1 or 0. */
int bw_utf8_valid(const char *s, size_t len, size_t *bad);

/* How many UTF-16 units valid UTF-8 S (LEN bytes) takes. */
size_t bw_utf8_utf16_units(const char *s, size_t len);

/*
 * Encode S (LEN bytes of UTF-8, NULs allowed) as UTF-16LE in OUT (OUTN
 * bytes; 2 * LEN is always enough), without a terminating NUL unit; *OUTLEN
 * is the byte count.  Invalid UTF-8 is refused, never replaced.  Returns
 * 0, BW_EFORMAT (*BAD, may be NULL, is the offset of the bad sequence),
 * BW_EINVAL (OUT too small; *OUTLEN is what was written).
 */
int bw_utf8_to_utf16le(const char *s, size_t len, uint8_t *out, size_t outn,
		       size_t *outlen, size_t *bad);

#endif

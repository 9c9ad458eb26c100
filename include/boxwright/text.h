/*
 * Text helpers of the common module that front ends need too: boxwright's
 * one UTF-8 decoder (src/common/utf16.c) behind a call that never fails
 * on bad bytes.
 */
#ifndef BOXWRIGHT_TEXT_H
#define BOXWRIGHT_TEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * S (LEN bytes) as valid UTF-8 in a malloc'd NUL-terminated string, each
 * invalid byte replaced by U+FFFD (so a file name or registry string that
 * is not UTF-8 can still go into JSON).  NULL when memory runs out.
 */
char *bw_utf8_sanitize(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif

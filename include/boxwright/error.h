/*
 * boxwright error reporting: every library call returns 0 or a negative
 * BW_E* code and fills a struct bw_error whose message already names the
 * file, the offset, what was expected and what was found.  Only the CLI
 * prints it.  Codes have fixed numbers that are never reused (wimlib's rule).
 */
#ifndef BOXWRIGHT_ERROR_H
#define BOXWRIGHT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bw_errcode {
	BW_OK           = 0,
	BW_EIO          = -1,  /* a read, write or sync failed */
	BW_ENOMEM       = -2,  /* an allocation failed */
	BW_EFORMAT      = -3,  /* the input is corrupt: a field out of range */
	BW_EUNSUPPORTED = -4,  /* the input is valid but of a kind we refuse */
	BW_EINVAL       = -5,  /* the caller asked for something impossible */
	BW_ENOTFOUND    = -6,  /* a file, key or value is absent */
	BW_EGUEST       = -7,  /* the guest backend (libguestfs) failed */
	BW_EHIVE        = -8,  /* hivex refused a hive */
	BW_EDIRTY       = -9,  /* a hive or volume needs a log replay first */
	BW_ENOTIMPL     = -10, /* the feature is not built yet */
	BW_EINTERRUPTED = -11, /* a signal asked us to stop */
	BW_EUSAGE       = -12, /* an option the caller gave is invalid */
};

#define BW_ERROR_MSG_MAX 1024

struct bw_error {
	int code;
	char msg[BW_ERROR_MSG_MAX];
};

/* Fixed text for a code; never NULL. */
const char *bw_strerror(int code);
/* The code's stable name without its prefix ("EFORMAT"), as JSON output
 * gives it; "EUNKNOWN" for a number that is no code.  Never NULL. */
const char *bw_errcode_name(int code);

/*
 * Fill err (which may be NULL) with code and "FILE: message"; file may be
 * NULL.  Returns code so that callers can write `return bw_seterr(...)`.
 */
int bw_seterr(struct bw_error *err, int code, const char *file,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void bw_error_clear(struct bw_error *err);

/* Exit status DESIGN.md gives for a code: 3 bad input, 2 usage, else 1. */
int bw_exit_status(int code);

#ifdef __cplusplus
}
#endif
#endif

/*
 * libFuzzer harness for the answer-file reader (src/win/unattend.c): the
 * input is an answer file as the image holds it.  It is checked for
 * well-formedness and searched for the Administrator's passwords (the
 * libxml2 tree walked, each Value decoded from base64 and compared as
 * UTF-16LE), as --admin-password does with the image's files.  Errors
 * are expected; crashes, sanitizer reports, leaks and hangs are the bugs.
 * Seeds: tests/fuzz/seeds-unattend (small answer files).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/win.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_error err;
	int c = bw_unattend_check(data, size, "fuzz.xml", &err);
	struct bw_unattend_password pw[BW_UNATTEND_MAX_PASSWORDS];
	size_t n = 0;
	int r = bw_unattend_admin_passwords(data, size, "fuzz.xml", "vagrant", pw,
					    BW_UNATTEND_MAX_PASSWORDS, &n, &err);
	/* The same parse: both accept or both refuse (memory aside). */
	if ((c == 0) != (r == 0) && c != BW_ENOMEM && r != BW_ENOMEM)
		abort();
	if (r != 0 && strncmp(err.msg, "fuzz.xml: ", 10) != 0)
		abort();           /* every refusal names the file */
	for (size_t i = 0; i < n && i < BW_UNATTEND_MAX_PASSWORDS; i++)
		if (pw[i].same < -1 || pw[i].same > 1 || !pw[i].kind)
			abort();
	return 0;
}

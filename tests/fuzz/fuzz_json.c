/*
 * libFuzzer harness for the catalog's JSON reader (src/box/json_read.c):
 * every input is parsed; a parsed tree is written back out and the output
 * parsed again, which must succeed and give the same text (the writer
 * only emits what the reader accepts, and the round trip is stable).
 */
#include <stdlib.h>
#include <string.h>

#include "box/json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_error err;
	struct json_value *v = NULL;
	if (json_parse((const char *)data, size, "fuzz", &v, &err) != 0)
		return 0;
	struct box_buf a, b;
	box_buf_init(&a);
	box_buf_init(&b);
	json_write(&a, v);
	struct json_value *w = NULL;
	if (a.failed || json_parse(a.data, a.len, "fuzz", &w, &err) != 0)
		abort();
	json_write(&b, w);
	if (b.failed || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	box_buf_free(&a);
	box_buf_free(&b);
	json_free(v);
	json_free(w);
	return 0;
}

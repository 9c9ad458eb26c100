/*
 * JSON input through jansson (see json_load.h): a pre-scan for the depth
 * and value limits, then json_loadb with JSON_REJECT_DUPLICATES.
 */
#include "box/json_load.h"

/* Depth and a bound on the number of values, outside strings: every
 * value but the first follows a ',' or opens a container, or is the
 * first in one, so commas + containers + 1 bounds it.  Syntax errors are
 * left to jansson, which reports them with a position. */
static int json_load_limits(const char *text, size_t len, const char *file,
			    struct bw_error *err)
{
	unsigned depth = 0;
	size_t values = 1;
	int in_string = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;            /* skip the escaped byte: it may be '"' */
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_string = 1;
			break;
		case '[':
		case '{':
			if (++depth > BOX_JSON_MAX_DEPTH)
				return bw_seterr(err, BW_EFORMAT, file,
						 "JSON at byte offset %zu: nested more than %d deep",
						 i, BOX_JSON_MAX_DEPTH);
			values++;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case ',':
			values++;
			break;
		default:
			break;
		}
		if (values > BOX_JSON_MAX_VALUES)
			return bw_seterr(err, BW_EFORMAT, file,
					 "JSON at byte offset %zu: more than %u values",
					 i, BOX_JSON_MAX_VALUES);
	}
	return 0;
}

int box_json_load(const char *text, size_t len, const char *file,
		  json_t **out, struct bw_error *err)
{
	*out = NULL;
	int r = json_load_limits(text, len, file, err);
	if (r)
		return r;
	json_error_t je;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return bw_seterr(err, BW_ENOMEM, file, "JSON: out of memory");
		return bw_seterr(err, BW_EFORMAT, file,
				 "JSON at line %d, column %d: %s",
				 je.line, je.column, je.text);
	}
	*out = v;
	return 0;
}

/*
 * The --json output: callers describe one value (usually an object) call
 * by call, as a stream, and json.c builds it as a jansson tree (json_t) on
 * a small stack of open containers; when the outermost container closes,
 * the tree is written with jansson in compact form, members in the order
 * they were given, on one line ending in a newline.  Strings are UTF-8:
 * invalid bytes become U+FFFD, so the output is always valid JSON.
 */
#ifndef BW_CLI_JSON_H
#define BW_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

/* jansson has a json_null() of its own (json_t *json_null(void)), and
 * the CLI reads JSON with jansson too: this header's json_null is linked
 * as jsonw_null, so neither the compiler nor the dynamic linker can mix
 * the two up.  jansson.h comes first, so its declaration is not renamed. */
#include <jansson.h>
#define json_null jsonw_null

#define JSONW_MAX_DEPTH 32

struct json {
	FILE *f;
	int depth;                        /* open containers */
	json_t *open[JSONW_MAX_DEPTH];    /* [0] the outermost (ours) */
	char *key;                        /* a member name awaiting its value */
	/* json_kdouble's numbers as they are printed, in document order */
	struct jsonw_real *reals;
	size_t nreals, reals_cap;
	int failed;                       /* out of memory or nesting too deep */
};

void json_init(struct json *j, FILE *f);
void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);     /* NULL -> null */
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
/* Key + value shorthands. */
void json_kstr(struct json *j, const char *k, const char *s);
void json_ku64(struct json *j, const char *k, uint64_t v);
void json_ki64(struct json *j, const char *k, int64_t v);
void json_kbool(struct json *j, const char *k, int v);
/* An int where -1 means "absent" (registry values): null. */
void json_kopt(struct json *j, const char *k, int v);
/* V printed as "%.*f" with DECIMALS (0.357, never 0.35699999999999998);
 * null when V is not finite. */
void json_kdouble(struct json *j, const char *k, double v, int decimals);
/* "0x%08x" */
void json_khex32(struct json *j, const char *k, uint32_t v);

#endif

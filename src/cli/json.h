/*
 * A streaming JSON writer for --json output: objects and arrays nest on a
 * small stack that remembers whether a comma is due.  Strings are escaped
 * per RFC 8259 (control characters as \u00XX); bytes are passed through,
 * so callers hand UTF-8.
 */
#ifndef BW_CLI_JSON_H
#define BW_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSONW_MAX_DEPTH 32

struct json {
	FILE *f;
	int depth;
	int need_comma[JSONW_MAX_DEPTH];
	int after_key;
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
void json_kdouble(struct json *j, const char *k, double v, int decimals);
/* "0x%08x" */
void json_khex32(struct json *j, const char *k, uint32_t v);

#endif

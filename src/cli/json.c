/* Streaming JSON writer (see json.h). */
#include <inttypes.h>

#include "cli/json.h"

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->need_comma[0] = 0;
	j->after_key = 0;
}

static void json_sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = 1;
}

static void json_push(struct json *j, char c)
{
	json_sep(j);
	fputc(c, j->f);
	if (j->depth < JSONW_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = 0;
}

static void json_pop(struct json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void json_obj_begin(struct json *j) { json_push(j, '{'); }
void json_obj_end(struct json *j) { json_pop(j, '}'); }
void json_arr_begin(struct json *j) { json_push(j, '['); }
void json_arr_end(struct json *j) { json_pop(j, ']'); }

static void json_raw_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	json_sep(j);
	json_raw_str(j->f, key);
	fputc(':', j->f);
	j->after_key = 1;
}

void json_str(struct json *j, const char *s)
{
	json_sep(j);
	if (s)
		json_raw_str(j->f, s);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, uint64_t v) { json_sep(j); fprintf(j->f, "%" PRIu64, v); }
void json_i64(struct json *j, int64_t v) { json_sep(j); fprintf(j->f, "%" PRId64, v); }
void json_bool(struct json *j, int v) { json_sep(j); fputs(v ? "true" : "false", j->f); }
void json_null(struct json *j) { json_sep(j); fputs("null", j->f); }
void json_kstr(struct json *j, const char *k, const char *s) { json_key(j, k); json_str(j, s); }
void json_ku64(struct json *j, const char *k, uint64_t v) { json_key(j, k); json_u64(j, v); }
void json_ki64(struct json *j, const char *k, int64_t v) { json_key(j, k); json_i64(j, v); }
void json_kbool(struct json *j, const char *k, int v) { json_key(j, k); json_bool(j, v); }

void json_kopt(struct json *j, const char *k, int v)
{
	json_key(j, k);
	if (v < 0)
		json_null(j);
	else
		json_i64(j, v);
}

void json_khex32(struct json *j, const char *k, uint32_t v)
{
	char buf[16];
	snprintf(buf, sizeof buf, "0x%08" PRIx32, v);
	json_kstr(j, k, buf);
}

void json_kdouble(struct json *j, const char *k, double v, int decimals)
{
	json_key(j, k);
	json_sep(j);
	fprintf(j->f, "%.*f", decimals, v);
}

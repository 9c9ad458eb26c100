/*
 * The --json writer (see json.h): a jansson tree built as the calls come
 * in, dumped compact when the outermost container closes.
 *
 * Two things jansson does not do as this output needs, and how:
 *  - Numbers with a fixed number of decimals (json_kdouble's "seconds":
 *    0.350) and integers above INT64_MAX (jansson's json_int_t is signed):
 *    the tree holds a real of (nearly) the value, and the dump goes
 *    through json_dump_callback, which hands each number over as one
 *    chunk; a real chunk outside a string is replaced by the text we
 *    formatted for it (struct jsonw_real, in document order; matched by
 *    value, so a mismatch only costs the formatting, never a value).
 *  - Strings that are not UTF-8 (names read from a disk): json_string
 *    refuses them; each invalid byte becomes U+FFFD, so that the output
 *    is valid JSON and the valid text around it stays readable.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/text.h"
#include "cli/json.h"
/* From here json_null is jansson's; this file's is spelt jsonw_null. */
#undef json_null

struct jsonw_real {
	double v;          /* what the tree holds */
	char text[40];     /* what is printed; "" = jansson's text */
};

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof *j);
	j->f = f;
}

/* ---- strings ------------------------------------------------------------- */

/* S as a jansson string, invalid bytes replaced by U+FFFD. */
static json_t *jsonw_string(const char *s)
{
	json_t *v = json_string(s);
	if (v)
		return v;
	char *clean = bw_utf8_sanitize(s, strlen(s));
	if (!clean)
		return NULL;
	v = json_string(clean);
	free(clean);
	return v;
}

/* ---- the tree ------------------------------------------------------------ */

/* The pieces of one dump (see the head). */
struct jsonw_dump {
	struct json *j;
	size_t next;       /* the next jsonw_real to look at */
	int in_string;
};

static int jsonw_chunk(const char *buf, size_t size, void *data)
{
	struct jsonw_dump *d = data;
	struct json *j = d->j;
	if (size == 1 && buf[0] == '"') {
		/* jansson writes a string's quotes as chunks of their own;
		 * a quote inside one comes as the two bytes \" */
		d->in_string = !d->in_string;
	} else if (!d->in_string && size < 64 &&
		   (buf[0] == '-' || isdigit((unsigned char)buf[0])) &&
		   (memchr(buf, '.', size) || memchr(buf, 'e', size) ||
		    memchr(buf, 'E', size))) {
		char num[64];
		memcpy(num, buf, size);
		num[size] = '\0';
		double v = strtod(num, NULL);
		for (size_t i = d->next; i < j->nreals; i++) {
			if (j->reals[i].v != v)
				continue;
			d->next = i + 1;
			if (j->reals[i].text[0])
				return fputs(j->reals[i].text, j->f) == EOF ? -1 : 0;
			break;
		}
	}
	return size && fwrite(buf, 1, size, j->f) != size ? -1 : 0;
}

static void jsonw_reset(struct json *j)
{
	free(j->key);
	free(j->reals);
	FILE *f = j->f;
	json_init(j, f);
}

/* Write ROOT (taken; NULL if it could not be built) and forget the
 * document. */
static void jsonw_emit(struct json *j, json_t *root, int newline)
{
	struct jsonw_dump d = { .j = j };
	if (j->failed || !root)
		fputs("boxwright: --json output: out of memory or nested too deeply\n", stderr);
	else if (json_dump_callback(root, jsonw_chunk, &d,
				    JSON_COMPACT | JSON_ENCODE_ANY) == 0 && newline)
		fputc('\n', j->f);
	json_decref(root);
	jsonw_reset(j);
}

/* The innermost open container, or NULL (none, or it could not be made). */
static json_t *jsonw_parent(const struct json *j)
{
	return j->depth > 0 && j->depth <= JSONW_MAX_DEPTH ? j->open[j->depth - 1] : NULL;
}

/* Put V where the stream is: the pending member of the innermost object
 * or the end of the innermost array.  V is not taken.  Returns 0, or -1
 * with the document failed. */
static int jsonw_attach(struct json *j, json_t *v)
{
	json_t *parent = jsonw_parent(j);
	char *key = j->key;
	j->key = NULL;
	int r = 0;
	if (!v || !parent)
		r = -1;
	else if (json_is_object(parent))
		r = key && json_object_set(parent, key, v) == 0 ? 0 : -1;
	else
		r = json_array_append(parent, v);
	free(key);
	if (r)
		j->failed = 1;
	return r;
}

/* A value: V is taken (NULL: out of memory).  Outside any container it
 * is the whole document, printed at once without a newline, as before. */
static void jsonw_add(struct json *j, json_t *v)
{
	if (j->depth == 0) {
		jsonw_emit(j, v, 0);
		return;
	}
	jsonw_attach(j, v);
	json_decref(v);
}

/* Open container C (NULL: out of memory).  Nesting deeper than
 * JSONW_MAX_DEPTH is counted but not built: the document fails. */
static void jsonw_begin(struct json *j, json_t *c)
{
	if (j->depth >= JSONW_MAX_DEPTH) {
		json_decref(c);
		j->failed = 1;
		j->depth++;
		return;
	}
	if (j->depth > 0) {
		int r = jsonw_attach(j, c);
		json_decref(c);         /* the parent holds it, or it is gone */
		if (r)
			c = NULL;
	}
	j->open[j->depth++] = c;        /* [0]: ours; the rest: borrowed */
}

static void jsonw_end(struct json *j)
{
	if (j->depth == 0)
		return;
	if (--j->depth == 0)
		jsonw_emit(j, j->open[0], 1);
}

/* A number printed as TEXT ("" = as jansson prints V). */
static void jsonw_real(struct json *j, double v, const char *text)
{
	if (j->nreals == j->reals_cap) {
		size_t cap = j->reals_cap ? 2 * j->reals_cap : 8;
		struct jsonw_real *r = realloc(j->reals, cap * sizeof *r);
		if (!r) {
			j->failed = 1;
			jsonw_add(j, NULL);
			return;
		}
		j->reals = r;
		j->reals_cap = cap;
	}
	struct jsonw_real *r = &j->reals[j->nreals++];
	r->v = v;
	snprintf(r->text, sizeof r->text, "%s", text);
	jsonw_add(j, json_real(v));
}

void json_obj_begin(struct json *j) { jsonw_begin(j, json_object()); }
void json_obj_end(struct json *j) { jsonw_end(j); }
void json_arr_begin(struct json *j) { jsonw_begin(j, json_array()); }
void json_arr_end(struct json *j) { jsonw_end(j); }

void json_key(struct json *j, const char *key)
{
	free(j->key);
	j->key = NULL;
	json_t *k = jsonw_string(key);      /* the same U+FFFD policy */
	if (!k || !(j->key = strdup(json_string_value(k))))
		j->failed = 1;
	json_decref(k);
}

void json_str(struct json *j, const char *s)
{
	jsonw_add(j, s ? jsonw_string(s) : json_null());
}

void json_u64(struct json *j, uint64_t v)
{
	if (v <= INT64_MAX) {
		jsonw_add(j, json_integer((json_int_t)v));
		return;
	}
	/* Above json_int_t: a real of nearly the value, printed exactly. */
	char text[24];
	snprintf(text, sizeof text, "%" PRIu64, v);
	jsonw_real(j, (double)v, text);
}

void json_i64(struct json *j, int64_t v) { jsonw_add(j, json_integer((json_int_t)v)); }
void json_bool(struct json *j, int v) { jsonw_add(j, json_boolean(v)); }
void jsonw_null(struct json *j) { jsonw_add(j, json_null()); }
void json_kstr(struct json *j, const char *k, const char *s) { json_key(j, k); json_str(j, s); }
void json_ku64(struct json *j, const char *k, uint64_t v) { json_key(j, k); json_u64(j, v); }
void json_ki64(struct json *j, const char *k, int64_t v) { json_key(j, k); json_i64(j, v); }
void json_kbool(struct json *j, const char *k, int v) { json_key(j, k); json_bool(j, v); }

void json_kopt(struct json *j, const char *k, int v)
{
	json_key(j, k);
	if (v < 0)
		jsonw_null(j);
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
	if (!isfinite(v)) {             /* JSON has no NaN or infinity */
		jsonw_null(j);
		return;
	}
	char text[40];
	int n = snprintf(text, sizeof text, "%.*f", decimals, v);
	/* Too long for the table: jansson's own 17 digits then. */
	jsonw_real(j, v, n > 0 && (size_t)n < sizeof text ? text : "");
}

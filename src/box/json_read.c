/*
 * JSON reader and writer for the box catalog (RFC 8259; see json_read.h).
 * Recursive descent with the depth capped at JSON_MAX_DEPTH and the value
 * count at JSON_MAX_VALUES; the caller caps the input size
 * (BW_CATALOG_MAX_BYTES).  Every byte is checked: strings must be UTF-8
 * without raw control characters, \u escapes must pair their surrogates,
 * numbers must follow the grammar, and nothing may follow the value.
 */
#include <stdlib.h>
#include <string.h>

#include "box/json_read.h"

struct json_parser {
	const char *p, *end, *start;
	const char *file;
	unsigned depth;
	size_t values;
	struct bw_error *err;
};

static int json_fail(struct json_parser *ps, const char *what)
{
	return bw_seterr(ps->err, BW_EFORMAT, ps->file,
			 "JSON at byte offset %zu: %s",
			 (size_t)(ps->p - ps->start), what);
}

static int json_nomem(struct json_parser *ps)
{
	return bw_seterr(ps->err, BW_ENOMEM, ps->file,
			 "JSON: out of memory");
}

static void json_skip_ws(struct json_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

struct json_value *json_new(enum json_type type)
{
	struct json_value *v = calloc(1, sizeof *v);
	if (v)
		v->type = type;
	return v;
}

struct json_value *json_new_string(const char *s)
{
	struct json_value *v = json_new(JSON_STRING);
	if (v && !(v->str = strdup(s))) {
		free(v);
		return NULL;
	}
	return v;
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		json_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(v);
}

/* Room for one more child (and key, for objects). */
static int json_grow(struct json_value *c)
{
	if (c->n < c->cap)
		return 0;
	size_t cap = c->cap ? c->cap * 2 : 4;
	if (cap > SIZE_MAX / sizeof(void *))
		return -1;
	struct json_value **items = realloc(c->items, cap * sizeof *items);
	if (!items)
		return -1;
	c->items = items;
	if (c->type == JSON_OBJECT) {
		char **keys = realloc(c->keys, cap * sizeof *keys);
		if (!keys)
			return -1;
		c->keys = keys;
	}
	c->cap = cap;
	return 0;
}

struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

int json_set(struct json_value *obj, const char *key, struct json_value *v)
{
	if (!v)
		return -1;
	for (size_t i = 0; i < obj->n; i++) {
		if (strcmp(obj->keys[i], key) == 0) {
			json_free(obj->items[i]);
			obj->items[i] = v;
			return 0;
		}
	}
	char *k = strdup(key);
	if (!k || json_grow(obj)) {
		free(k);
		json_free(v);
		return -1;
	}
	obj->keys[obj->n] = k;
	obj->items[obj->n++] = v;
	return 0;
}

int json_append(struct json_value *arr, struct json_value *v)
{
	if (!v)
		return -1;
	if (json_grow(arr)) {
		json_free(v);
		return -1;
	}
	arr->items[arr->n++] = v;
	return 0;
}

void json_remove(struct json_value *arr, size_t i)
{
	if (i >= arr->n)
		return;
	json_free(arr->items[i]);
	memmove(arr->items + i, arr->items + i + 1,
		(arr->n - i - 1) * sizeof *arr->items);
	arr->n--;
}

/* ---- parsing --------------------------------------------------------- */

static int json_hex4(struct json_parser *ps, unsigned *out)
{
	if (ps->end - ps->p < 4)
		return json_fail(ps, "truncated \\u escape");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = ps->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return json_fail(ps, "bad hex digit in \\u escape");
	}
	ps->p += 4;
	*out = v;
	return 0;
}

static void json_put_utf8(struct box_buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp; n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F)); n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
	}
	box_buf_add(b, u, n);
}

/* Length of the well-formed UTF-8 sequence at P (lead byte >= 0x80), or
 * 0 if it is not one. */
static size_t json_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0], cp, min;
	size_t len;
	if ((c & 0xE0) == 0xC0) {
		len = 2; cp = c & 0x1F; min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3; cp = c & 0x0F; min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (len > avail)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* A string; ps->p is at the opening quote.  *OUT is malloc'd. */
static int json_string(struct json_parser *ps, char **out)
{
	struct box_buf b;
	box_buf_init(&b);
	ps->p++;
	int r;
	for (;;) {
		if (ps->p >= ps->end) {
			r = json_fail(ps, "unterminated string");
			goto fail;
		}
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20) {
			r = json_fail(ps, "control character in a string");
			goto fail;
		}
		if (c >= 0x80) {
			size_t n = json_utf8_len((const unsigned char *)ps->p,
						 (size_t)(ps->end - ps->p));
			if (!n) {
				r = json_fail(ps, "invalid UTF-8 in a string");
				goto fail;
			}
			box_buf_add(&b, ps->p, n);
			ps->p += n;
			continue;
		}
		if (c != '\\') {
			box_buf_add(&b, ps->p, 1);
			ps->p++;
			continue;
		}
		ps->p++;
		if (ps->p >= ps->end) {
			r = json_fail(ps, "unterminated escape");
			goto fail;
		}
		char e = *ps->p++;
		const char *simple = NULL;
		switch (e) {
		case '"':  simple = "\""; break;
		case '\\': simple = "\\"; break;
		case '/':  simple = "/"; break;
		case 'b':  simple = "\b"; break;
		case 'f':  simple = "\f"; break;
		case 'n':  simple = "\n"; break;
		case 'r':  simple = "\r"; break;
		case 't':  simple = "\t"; break;
		case 'u':  break;
		default:
			ps->p--;
			r = json_fail(ps, "unknown escape in a string");
			goto fail;
		}
		if (simple) {
			box_buf_add(&b, simple, 1);
			continue;
		}
		unsigned cp;
		if ((r = json_hex4(ps, &cp)) != 0)
			goto fail;
		if (cp >= 0xDC00 && cp <= 0xDFFF) {
			r = json_fail(ps, "lone low surrogate in \\u escape");
			goto fail;
		}
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			unsigned lo;
			if (ps->end - ps->p < 2 || ps->p[0] != '\\' ||
			    ps->p[1] != 'u') {
				r = json_fail(ps, "high surrogate without its low half");
				goto fail;
			}
			ps->p += 2;
			if ((r = json_hex4(ps, &lo)) != 0)
				goto fail;
			if (lo < 0xDC00 || lo > 0xDFFF) {
				r = json_fail(ps, "high surrogate without its low half");
				goto fail;
			}
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		if (cp == 0) {
			r = json_fail(ps, "\\u0000 in a string");
			goto fail;
		}
		json_put_utf8(&b, cp);
	}
	return box_buf_finish(&b, out, "JSON string", ps->err);
fail:
	box_buf_free(&b);
	return r;
}

static int json_digits(struct json_parser *ps)
{
	const char *s = ps->p;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > s;
}

/* A number, checked against the grammar and kept as its text. */
static int json_number(struct json_parser *ps, char **out)
{
	const char *s = ps->p;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (!json_digits(ps))
		return json_fail(ps, "bad number");
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!json_digits(ps))
			return json_fail(ps, "bad number: no digits after '.'");
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!json_digits(ps))
			return json_fail(ps, "bad number: no exponent digits");
	}
	*out = strndup(s, (size_t)(ps->p - s));
	return *out ? 0 : json_nomem(ps);
}

static int json_value_parse(struct json_parser *ps, struct json_value **out);

static int json_container(struct json_parser *ps, struct json_value *c)
{
	char close = c->type == JSON_OBJECT ? '}' : ']';
	ps->p++;
	if (++ps->depth > JSON_MAX_DEPTH)
		return json_fail(ps, "nested too deeply");
	json_skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		int r;
		json_skip_ws(ps);
		if (c->type == JSON_OBJECT) {
			if (ps->p >= ps->end || *ps->p != '"')
				return json_fail(ps, "expected a member name");
			if ((r = json_string(ps, &key)) != 0)
				return r;
			if (c->n >= JSON_MAX_MEMBERS) {
				free(key);
				return json_fail(ps, "too many members in one object");
			}
			if (json_get(c, key)) {
				free(key);
				return json_fail(ps, "duplicate member name");
			}
			json_skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return json_fail(ps, "expected ':'");
			}
			ps->p++;
		}
		struct json_value *v = NULL;
		if ((r = json_value_parse(ps, &v)) != 0 || json_grow(c)) {
			free(key);
			json_free(v);
			return r ? r : json_nomem(ps);
		}
		if (c->type == JSON_OBJECT)
			c->keys[c->n] = key;
		c->items[c->n++] = v;
		json_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return json_fail(ps, c->type == JSON_OBJECT
				 ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int json_literal(struct json_parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return json_fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int json_value_parse(struct json_parser *ps, struct json_value **out)
{
	json_skip_ws(ps);
	if (ps->p >= ps->end)
		return json_fail(ps, "unexpected end of input");
	if (++ps->values > JSON_MAX_VALUES)
		return json_fail(ps, "too many values");
	enum json_type t;
	switch (*ps->p) {
	case '{': t = JSON_OBJECT; break;
	case '[': t = JSON_ARRAY; break;
	case '"': t = JSON_STRING; break;
	case 't': t = JSON_TRUE; break;
	case 'f': t = JSON_FALSE; break;
	case 'n': t = JSON_NULL; break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			t = JSON_NUMBER;
		else
			return json_fail(ps, "unexpected character");
	}
	struct json_value *v = json_new(t);
	if (!v)
		return json_nomem(ps);
	int r;
	switch (t) {
	case JSON_OBJECT:
	case JSON_ARRAY:  r = json_container(ps, v); break;
	case JSON_STRING: r = json_string(ps, &v->str); break;
	case JSON_NUMBER: r = json_number(ps, &v->str); break;
	case JSON_TRUE:   r = json_literal(ps, "true"); break;
	case JSON_FALSE:  r = json_literal(ps, "false"); break;
	default:          r = json_literal(ps, "null"); break;
	}
	if (r) {
		json_free(v);
		return r;
	}
	*out = v;
	return 0;
}

int json_parse(const char *text, size_t len, const char *file,
	       struct json_value **out, struct bw_error *err)
{
	struct json_parser ps = {
		.p = text, .end = text + len, .start = text, .file = file,
		.err = err,
	};
	/* A UTF-8 byte order mark is refused ("unexpected character"), as
	 * Ruby's JSON.load, which Vagrant reads the catalog with, refuses it
	 * (RFC 8259 8.1 lets parsers choose). */
	struct json_value *v = NULL;
	int r = json_value_parse(&ps, &v);
	if (r)
		return r;
	json_skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(v);
		return json_fail(&ps, "data after the JSON value");
	}
	*out = v;
	return 0;
}

/* ---- writing --------------------------------------------------------- */

static void json_indent(struct box_buf *b, unsigned level)
{
	for (unsigned i = 0; i < level; i++)
		box_buf_add(b, "  ", 2);
}

static void json_write_value(struct box_buf *b, const struct json_value *v,
			     unsigned level)
{
	switch (v->type) {
	case JSON_NULL:   box_buf_puts(b, "null"); return;
	case JSON_FALSE:  box_buf_puts(b, "false"); return;
	case JSON_TRUE:   box_buf_puts(b, "true"); return;
	case JSON_NUMBER: box_buf_puts(b, v->str); return;
	case JSON_STRING: box_buf_json_str(b, v->str); return;
	case JSON_ARRAY:
	case JSON_OBJECT:
		break;
	}
	int obj = v->type == JSON_OBJECT;
	if (v->n == 0) {
		box_buf_puts(b, obj ? "{}" : "[]");
		return;
	}
	box_buf_puts(b, obj ? "{\n" : "[\n");
	for (size_t i = 0; i < v->n; i++) {
		json_indent(b, level + 1);
		if (obj) {
			box_buf_json_str(b, v->keys[i]);
			box_buf_puts(b, ": ");
		}
		json_write_value(b, v->items[i], level + 1);
		box_buf_puts(b, i + 1 < v->n ? ",\n" : "\n");
	}
	json_indent(b, level);
	box_buf_puts(b, obj ? "}" : "]");
}

void json_write(struct box_buf *b, const struct json_value *v)
{
	json_write_value(b, v, 0);
	box_buf_puts(b, "\n");
}

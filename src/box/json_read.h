/*
 * A small, bounded JSON (RFC 8259) reader and writer for the Vagrant box
 * catalog: the catalog is read into a tree, edited, and written back, so
 * members boxwright does not know (Vagrant 2.4's "architecture", a
 * "description_html", ...) survive an update.  Internal to src/box/.
 */
#ifndef BW_BOX_JSON_READ_H
#define BW_BOX_JSON_READ_H

#include <stddef.h>

#include "box/box_internal.h"

/* Limits against hostile or broken input (checked while parsing). */
#define JSON_MAX_DEPTH   64          /* nested arrays/objects */
#define JSON_MAX_VALUES  (1u << 20)  /* values in one document */
/* Members of one object: catalog objects have a handful, and the
 * duplicate-name check is quadratic in this. */
#define JSON_MAX_MEMBERS 256

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	/* STRING: the decoded text (UTF-8, no NUL inside: "\u0000" is
	 * refused).  NUMBER: its source text, kept verbatim. */
	char *str;
	/* ARRAY and OBJECT: N children; OBJECT: keys[i] names items[i]. */
	size_t n, cap;
	char **keys;
	struct json_value **items;
};

/*
 * Parse LEN bytes of TEXT (one JSON value, whitespace around it allowed).
 * Duplicate object keys are refused (readers disagree on which wins).
 * Returns 0, BW_EFORMAT (naming FILE and the byte offset) or BW_ENOMEM.
 */
int json_parse(const char *text, size_t len, const char *file,
	       struct json_value **out, struct bw_error *err);

/* Accepts NULL. */
void json_free(struct json_value *v);

/* Constructors; NULL when out of memory. */
struct json_value *json_new(enum json_type type);
struct json_value *json_new_string(const char *s);

/* OBJECT member by key, or NULL. */
struct json_value *json_get(const struct json_value *obj, const char *key);

/* Set OBJECT member KEY to V (replacing and freeing an old value, or
 * appended at the end), taking ownership of V.  Returns 0 or -1 (out of
 * memory; V is freed). */
int json_set(struct json_value *obj, const char *key, struct json_value *v);

/* Append V to ARRAY, taking ownership.  Returns 0 or -1 (V is freed). */
int json_append(struct json_value *arr, struct json_value *v);

/* Remove and free ARRAY element I. */
void json_remove(struct json_value *arr, size_t i);

/* Pretty-print V (two-space indent, members in their order) with a final
 * newline. */
void json_write(struct box_buf *b, const struct json_value *v);

#endif

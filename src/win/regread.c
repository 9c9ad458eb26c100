/*
 * Reading hives: the hivex side of win_reg (open, walk, lookup, typed
 * getters).  hivex validates a hive once, in hivex_open
 * (libguestfs/hivex lib/handle.c: magic, header checksum, every hbin page
 * and cell), and its accessors only follow offsets that passed; what it
 * reports is errno, which is translated here (win_reg_fail) into
 * BW_EHIVE naming the hive.  Value data is fetched raw
 * (hivex_value_value) and decoded by our own bounded code (regtext.c):
 * lengths come from the file and are checked against what each type
 * needs.
 *
 * Lookups walk the children ourselves instead of hivex_node_get_child,
 * because that call returns 0 both for "absent" and for failures and
 * leaves the difference to errno, which other calls inside it may touch.
 *
 * regread.c, regtext.c and regwrite.c split the registry layer by concern
 * as hivex splits lib/node.c, lib/value.c and lib/write.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hivex.h>

#include "common/bytes.h"
#include "win/win_internal.h"

int win_reg_fail(const struct win_reg *r, int e, const char *what,
		 struct bw_error *err)
{
	if (e == ENOMEM)
		return bw_seterr(err, BW_ENOMEM, r->name,
				 "out of memory while %s", what);
	char buf[128];
	const char *text = e ? strerror_r(e, buf, sizeof buf)
			     : "unknown hivex failure";
	return bw_seterr(err, BW_EHIVE, r->name, "hivex: %s: %s", what, text);
}

int win_name_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
		if (!ca)
			return 1;
	}
}

/* Like win_name_eq, B being LEN bytes without a NUL. */
static int name_eq_n(const char *a, const char *b, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
		if (!ca)
			return 0;
		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
	}
	return a[i] == '\0';
}

int win_reg_open(const char *path, const char *name, struct win_reg **out,
		 struct bw_error *err)
{
	*out = NULL;
	struct win_reg *r = calloc(1, sizeof *r);
	if (!r)
		return bw_seterr(err, BW_ENOMEM, name, "out of memory");
	r->name = strdup(name ? name : path);
	if (!r->name) {
		free(r);
		return bw_seterr(err, BW_ENOMEM, name, "out of memory");
	}
	errno = 0;
	r->h = hivex_open(path, 0);
	if (!r->h) {
		int e = errno;
		int code = win_reg_fail(r, e, "cannot open hive", err);
		win_reg_close(r);
		return code;
	}
	*out = r;
	return 0;
}

void win_reg_close(struct win_reg *r)
{
	if (!r)
		return;
	if (r->h)
		hivex_close(r->h);
	free(r->name);
	free(r->path);
	free(r);
}

const char *win_reg_name(const struct win_reg *r)
{
	return r->name;
}

win_node win_reg_root(const struct win_reg *r)
{
	return hivex_root(r->h);
}

/* Copy hivex's 0-terminated list into an exact array. */
static int list_copy(const size_t *list, size_t **out, size_t *n)
{
	size_t count = 0;
	while (list[count] != 0)
		count++;
	*out = NULL;
	*n = count;
	if (count == 0)
		return 0;
	size_t *copy = malloc(count * sizeof *copy);
	if (!copy)
		return BW_ENOMEM;
	memcpy(copy, list, count * sizeof *copy);
	*out = copy;
	return 0;
}

int win_reg_children(struct win_reg *r, win_node node, win_node **out,
		     size_t *n, struct bw_error *err)
{
	*out = NULL;
	*n = 0;
	errno = 0;
	hive_node_h *children = hivex_node_children(r->h, node);
	if (!children)
		return win_reg_fail(r, errno, "cannot list subkeys", err);
	int ret = list_copy(children, out, n);
	free(children);
	if (ret)
		return bw_seterr(err, ret, r->name, "out of memory");
	return 0;
}

int win_reg_node_name(struct win_reg *r, win_node node, char **out,
		      struct bw_error *err)
{
	errno = 0;
	*out = hivex_node_name(r->h, node);
	if (!*out)
		return win_reg_fail(r, errno, "cannot read a key name", err);
	return 0;
}

int win_reg_values(struct win_reg *r, win_node node, win_value **out,
		   size_t *n, struct bw_error *err)
{
	*out = NULL;
	*n = 0;
	errno = 0;
	hive_value_h *values = hivex_node_values(r->h, node);
	if (!values)
		return win_reg_fail(r, errno, "cannot list values", err);
	int ret = list_copy(values, out, n);
	free(values);
	if (ret)
		return bw_seterr(err, ret, r->name, "out of memory");
	return 0;
}

int win_reg_value_name(struct win_reg *r, win_value v, char **out,
		       struct bw_error *err)
{
	errno = 0;
	*out = hivex_value_key(r->h, v);
	if (!*out)
		return win_reg_fail(r, errno, "cannot read a value name", err);
	return 0;
}

int win_reg_value_raw(struct win_reg *r, win_value v, uint32_t *type,
		      uint8_t **data, size_t *len, struct bw_error *err)
{
	hive_type t = hive_t_REG_NONE;
	size_t l = 0;
	*data = NULL;
	*len = 0;
	errno = 0;
	char *d = hivex_value_value(r->h, v, &t, &l);
	if (!d)
		return win_reg_fail(r, errno, "cannot read value data", err);
	*type = (uint32_t)t;
	*data = (uint8_t *)d;
	*len = l;
	return 0;
}

int win_reg_find_child(struct win_reg *r, win_node node, const char *comp,
		       size_t len, win_node *found, struct bw_error *err)
{
	win_node *children;
	size_t n;
	*found = 0;
	int ret = win_reg_children(r, node, &children, &n, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && !*found; i++) {
		char *name;
		ret = win_reg_node_name(r, children[i], &name, err);
		if (ret)
			break;
		if (name_eq_n(name, comp, len))
			*found = children[i];
		free(name);
	}
	free(children);
	return ret;
}

int win_reg_path_depth(const char *path)
{
	int depth = 0;
	for (const char *c = path; *c; c++)
		if (*c != '\\' && (c == path || c[-1] == '\\'))
			depth++;
	return depth;
}

int win_reg_lookup(struct win_reg *r, win_node from, const char *path,
		   win_node *out, struct bw_error *err)
{
	if (win_reg_path_depth(path) > WIN_REG_MAX_DEPTH)
		return bw_seterr(err, BW_EINVAL, r->name,
				 "key path %s is deeper than %d keys", path,
				 WIN_REG_MAX_DEPTH);
	win_node node = from;
	const char *p = path;
	while (*p) {
		if (*p == '\\') {
			p++;
			continue;
		}
		const char *end = strchr(p, '\\');
		size_t comp_len = end ? (size_t)(end - p) : strlen(p);
		win_node found;
		int ret = win_reg_find_child(r, node, p, comp_len, &found, err);
		if (ret)
			return ret;
		if (!found)
			return BW_ENOTFOUND;
		node = found;
		p += comp_len;
	}
	*out = node;
	return 0;
}

int win_reg_find_value(struct win_reg *r, win_node node, const char *name,
		       win_value *out, struct bw_error *err)
{
	win_value *values;
	size_t n;
	int ret = win_reg_values(r, node, &values, &n, err);
	if (ret)
		return ret;
	ret = BW_ENOTFOUND;
	for (size_t i = 0; i < n; i++) {
		char *key;
		int r2 = win_reg_value_name(r, values[i], &key, err);
		if (r2) {
			ret = r2;
			break;
		}
		int match = win_name_eq(key, name);
		free(key);
		if (match) {
			*out = values[i];
			ret = 0;
			break;
		}
	}
	free(values);
	return ret;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case WIN_REG_NONE:             return "REG_NONE";
	case WIN_REG_SZ:               return "REG_SZ";
	case WIN_REG_EXPAND_SZ:        return "REG_EXPAND_SZ";
	case WIN_REG_BINARY:           return "REG_BINARY";
	case WIN_REG_DWORD:            return "REG_DWORD";
	case WIN_REG_DWORD_BIG_ENDIAN: return "REG_DWORD_BIG_ENDIAN";
	case WIN_REG_LINK:             return "REG_LINK";
	case WIN_REG_MULTI_SZ:         return "REG_MULTI_SZ";
	case WIN_REG_QWORD:            return "REG_QWORD";
	}
	return "an unknown type";
}

/* Fetch value NAME of NODE raw; BW_ENOTFOUND leaves err untouched. */
static int get_raw(struct win_reg *r, win_node node, const char *name,
		   uint32_t *type, uint8_t **data, size_t *len,
		   struct bw_error *err)
{
	win_value v;
	int ret = win_reg_find_value(r, node, name, &v, err);
	if (ret)
		return ret;
	return win_reg_value_raw(r, v, type, data, len, err);
}

static int wrong_type(const struct win_reg *r, const char *where,
		      const char *name, const char *expected, uint32_t type,
		      size_t len, struct bw_error *err)
{
	return bw_seterr(err, BW_EFORMAT, r->name,
			 "%s%s%s: expected %s, found %s (type %u) of %zu bytes",
			 where, *where ? "\\" : "", name, expected,
			 type_name(type), (unsigned)type, len);
}

int win_reg_get_dword(struct win_reg *r, win_node node, const char *where,
		      const char *name, uint32_t *out, struct bw_error *err)
{
	uint32_t type;
	uint8_t *data;
	size_t len;
	int ret = get_raw(r, node, name, &type, &data, &len, err);
	if (ret)
		return ret;
	if ((type != WIN_REG_DWORD && type != WIN_REG_DWORD_BIG_ENDIAN) ||
	    len != 4) {
		ret = wrong_type(r, where, name, "a 4-byte REG_DWORD", type,
				 len, err);
	} else {
		*out = type == WIN_REG_DWORD ? bw_get_le32(data)
					     : bw_get_be32(data);
	}
	free(data);
	return ret;
}

int win_reg_get_opt_int(struct win_reg *r, win_node node, const char *where,
			const char *name, int *out, struct bw_error *err)
{
	uint32_t v;
	int ret = win_reg_get_dword(r, node, where, name, &v, err);
	if (ret == BW_ENOTFOUND) {
		*out = -1;
		return 0;
	}
	if (ret)
		return ret;
	/* Start, SetupType, allow_unencrypted and friends are small
	 * enumerations; a value that does not fit an int is no value of
	 * theirs. */
	if (v > INT_MAX)
		return bw_seterr(err, BW_EFORMAT, r->name,
				 "%s\\%s: %u is out of range (at most %d)",
				 where, name, (unsigned)v, INT_MAX);
	*out = (int)v;
	return 0;
}

int win_reg_get_string(struct win_reg *r, win_node node, const char *where,
		       const char *name, char **out, struct bw_error *err)
{
	uint32_t type;
	uint8_t *data;
	size_t len;
	*out = NULL;
	int ret = get_raw(r, node, name, &type, &data, &len, err);
	if (ret)
		return ret;
	if (type != WIN_REG_SZ && type != WIN_REG_EXPAND_SZ) {
		ret = wrong_type(r, where, name, "REG_SZ", type, len, err);
	} else {
		ret = win_utf16le_to_utf8(data, len, out, NULL);
		if (ret == BW_EFORMAT)
			bw_seterr(err, ret, r->name,
				  "%s%s%s: string of %zu bytes is longer than %u",
				  where, *where ? "\\" : "", name, len,
				  WIN_REG_MAX_STRING_BYTES);
		else if (ret)
			bw_seterr(err, ret, r->name, "out of memory");
	}
	free(data);
	return ret;
}

int win_reg_get_multi_sz(struct win_reg *r, win_node node, const char *where,
			 const char *name, char ***out, size_t *n,
			 struct bw_error *err)
{
	uint32_t type;
	uint8_t *data;
	size_t len;
	*out = NULL;
	*n = 0;
	int ret = get_raw(r, node, name, &type, &data, &len, err);
	if (ret)
		return ret;
	if (type != WIN_REG_MULTI_SZ) {
		ret = wrong_type(r, where, name, "REG_MULTI_SZ", type, len, err);
	} else {
		ret = win_multi_sz_split(data, len, out, n);
		if (ret == BW_EFORMAT)
			bw_seterr(err, ret, r->name,
				  "%s%s%s: REG_MULTI_SZ of %zu bytes holds more than %d strings or is longer than %u bytes",
				  where, *where ? "\\" : "", name, len,
				  WIN_REG_MAX_MULTI_SZ, WIN_REG_MAX_STRING_BYTES);
		else if (ret)
			bw_seterr(err, ret, r->name, "out of memory");
	}
	free(data);
	return ret;
}

int win_reg_get_binary(struct win_reg *r, win_node node, const char *where,
		       const char *name, uint8_t **out, size_t *len,
		       struct bw_error *err)
{
	uint32_t type;
	uint8_t *data;
	*out = NULL;
	*len = 0;
	size_t l;
	int ret = get_raw(r, node, name, &type, &data, &l, err);
	if (ret)
		return ret;
	if (type != WIN_REG_BINARY) {
		ret = wrong_type(r, where, name, "REG_BINARY", type, l, err);
		free(data);
		return ret;
	}
	*out = data;
	*len = l;
	return 0;
}

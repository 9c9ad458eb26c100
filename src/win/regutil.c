/*
 * The one place hivex is called (STYLE.md rule 5).  hivex validates a
 * hive once, in hivex_open (libguestfs/hivex lib/handle.c: magic, header
 * checksum, every hbin page and cell), and its accessors only follow
 * offsets that passed; what it reports is errno, which is translated
 * here into BW_EHIVE naming the hive.  Value data is fetched raw
 * (hivex_value_value) and decoded by our own bounded code: lengths come
 * from the file and are checked against what each type needs.
 *
 * Lookups walk the children ourselves instead of hivex_node_get_child,
 * because that call returns 0 both for "absent" and for failures and
 * leaves the difference to errno, which other calls inside it may touch.
 *
 * The write side (libguestfs/hivex lib/write.c, lib/handle.c) has three
 * traps this file keeps away from its callers:
 *  - hivex_node_set_value(s) rewrites every value of the key (there is no
 *    single-value write), each as one plain cell: values are carried over
 *    here by name, type and data, and a key holding data too long for one
 *    cell (Windows then expects a big-data record) is refused;
 *  - hivex_node_set_values does not check that a value name converts, so
 *    names are checked to be UTF-8 before hivex sees them;
 *  - hivex_commit truncates its target and writes the whole hive: it is
 *    pointed at a temporary file that replaces the hive by rename(2) only
 *    once complete, and its plain-XOR checksum is made Windows' one.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hivex.h>

#include "common/bytes.h"
#include "common/utf8.h"
#include "win/win_internal.h"

struct win_reg {
	hive_h *h;
	char *name;
	char *path;              /* where win_reg_commit writes back */
	int writable;
	unsigned pending;        /* uncommitted changes */
};

/* Turn the errno E of a failed hivex call into a bw_error. */
static int reg_fail(const struct win_reg *r, int e, const char *what,
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
		int code = reg_fail(r, e, "cannot open hive", err);
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
		return reg_fail(r, errno, "cannot list subkeys", err);
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
		return reg_fail(r, errno, "cannot read a key name", err);
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
		return reg_fail(r, errno, "cannot list values", err);
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
		return reg_fail(r, errno, "cannot read a value name", err);
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
		return reg_fail(r, errno, "cannot read value data", err);
	*type = (uint32_t)t;
	*data = (uint8_t *)d;
	*len = l;
	return 0;
}

/*
 * The child of NODE named COMP (LEN bytes, no NUL needed), ASCII
 * case-insensitively.  *found = 0 when there is none.
 */
static int find_child(struct win_reg *r, win_node node, const char *comp,
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

static int path_depth(const char *path)
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
	if (path_depth(path) > WIN_REG_MAX_DEPTH)
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
		int ret = find_child(r, node, p, comp_len, &found, err);
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

/* ---- UTF-16LE --------------------------------------------------------- */

int win_utf16le_to_utf8(const uint8_t *p, size_t len, char **out,
			size_t *out_len)
{
	*out = NULL;
	if (len > WIN_REG_MAX_STRING_BYTES)
		return BW_EFORMAT;
	size_t units = len / 2;
	/* One unit gives at most 3 bytes; a pair (2 units) gives 4.  No
	 * overflow: units is at most WIN_REG_MAX_STRING_BYTES / 2. */
	char *s = malloc(units * 3 + 1);
	if (!s)
		return BW_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = bw_get_le16(p + 2 * i);
		if (c == 0)
			break;
		if (c >= 0xD800 && c <= 0xDBFF) {
			uint32_t lo = i + 1 < units ? bw_get_le16(p + 2 * (i + 1))
						    : 0;
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				c = 0x10000 + ((c - 0xD800) << 10) +
				    (lo - 0xDC00);
				i++;
			} else {
				c = 0xFFFD;
			}
		} else if (c >= 0xDC00 && c <= 0xDFFF) {
			c = 0xFFFD;
		}
		o += bw_utf8_put(s + o, c);
	}
	s[o] = '\0';
	*out = s;
	if (out_len)
		*out_len = o;
	return 0;
}

void win_strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

int win_multi_sz_split(const uint8_t *p, size_t len, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (len > WIN_REG_MAX_STRING_BYTES)
		return BW_EFORMAT;
	size_t units = len / 2;
	char **v = calloc(1, sizeof *v);
	if (!v)
		return BW_ENOMEM;
	size_t count = 0, i = 0;
	while (i < units) {
		size_t start = i;
		while (i < units && bw_get_le16(p + 2 * i) != 0)
			i++;
		if (i == start)
			break;          /* the empty string ends the list */
		if (count >= WIN_REG_MAX_MULTI_SZ) {
			win_strv_free(v);
			return BW_EFORMAT;
		}
		char **grown = realloc(v, (count + 2) * sizeof *v);
		if (!grown) {
			win_strv_free(v);
			return BW_ENOMEM;
		}
		v = grown;
		int ret = win_utf16le_to_utf8(p + 2 * start, 2 * (i - start),
					      &v[count], NULL);
		if (ret) {
			v[count] = NULL;
			win_strv_free(v);
			return ret;
		}
		v[++count] = NULL;
		i++;                    /* past the NUL (or the end) */
	}
	*out = v;
	*n = count;
	return 0;
}

/* ---- UTF-8 to UTF-16LE -------------------------------------------------- */

/* Decode one UTF-8 sequence at P (AVAIL bytes); 0 when it is not valid
 * (truncated, overlong, a surrogate, over U+10FFFF). */
static size_t utf8_get(const unsigned char *p, size_t avail, uint32_t *cp)
{
	unsigned char b = p[0];
	size_t n;
	uint32_t c, min;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		n = 2; c = b & 0x1F; min = 0x80;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 3; c = b & 0x0F; min = 0x800;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4; c = b & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

int win_utf8_valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t c;
		size_t n = utf8_get(p + i, len - i, &c);
		if (n == 0) {
			if (bad)
				*bad = i;
			return 0;
		}
		i += n;
	}
	return 1;
}

size_t win_utf16_units(const char *s, size_t len)
{
	size_t units = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];
		if ((b & 0xC0) != 0x80)
			units += b >= 0xF0 ? 2 : 1;
	}
	return units;
}

int win_utf8_to_utf16le(const char *s, size_t len, int nul_terminate,
			uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	/* Each byte gives at most one unit (a 4-byte sequence gives two), so
	 * 2 * len + 2 bounds the output; the cap keeps it small. */
	if (len > WIN_REG_MAX_STRING_BYTES / 2)
		return BW_EFORMAT;
	uint8_t *u = malloc(2 * len + 2);
	if (!u)
		return BW_ENOMEM;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	while (i < len) {
		uint32_t c;
		size_t n = utf8_get(p + i, len - i, &c);
		if (n == 0) {
			free(u);
			return BW_EFORMAT;
		}
		i += n;
		if (c >= 0x10000) {
			c -= 0x10000;
			bw_put_le16(u + o, (uint16_t)(0xD800 | c >> 10));
			bw_put_le16(u + o + 2, (uint16_t)(0xDC00 | (c & 0x3FF)));
			o += 4;
		} else {
			bw_put_le16(u + o, (uint16_t)c);
			o += 2;
		}
	}
	if (nul_terminate) {
		bw_put_le16(u + o, 0);
		o += 2;
	}
	if (o > WIN_REG_MAX_STRING_BYTES) {
		free(u);
		return BW_EFORMAT;
	}
	*out = u;
	*out_len = o;
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static int dirty_error(const char *path, const char *what,
		       const struct bw_hive_header *hh, struct bw_error *err)
{
	static const char why[] =
		"its .LOG1/.LOG2 files hold changes this file lacks, and an edit would lose them; boot Windows once or replay its logs";
	if (hh->seq_primary != hh->seq_secondary)
		return bw_seterr(err, BW_EDIRTY, path,
				 "%s hive is dirty (sequence numbers %u and %u differ): %s",
				 what, (unsigned)hh->seq_primary,
				 (unsigned)hh->seq_secondary, why);
	return bw_seterr(err, BW_EDIRTY, path,
			 "%s hive is dirty (base block checksum 0x%08x, expected 0x%08x): %s",
			 what, (unsigned)hh->checksum_stored,
			 (unsigned)hh->checksum_computed, why);
}

int win_reg_open_write(const char *path, const char *what,
		       struct win_reg **out, struct bw_error *err)
{
	*out = NULL;
	struct bw_hive_header hh;
	int ret = bw_hive_check_file(path, path, &hh, err);
	if (ret)
		return ret;
	if (hh.dirty)
		return dirty_error(path, what, &hh, err);
	struct win_reg *r = calloc(1, sizeof *r);
	if (!r)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	r->name = strdup(path);
	r->path = strdup(path);
	if (!r->name || !r->path) {
		win_reg_close(r);
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	}
	errno = 0;
	r->h = hivex_open(path, HIVEX_OPEN_WRITE);
	if (!r->h) {
		int e = errno;
		ret = reg_fail(r, e, "cannot open hive for writing", err);
		win_reg_close(r);
		return ret;
	}
	r->writable = 1;
	*out = r;
	return 0;
}

unsigned win_reg_pending(const struct win_reg *r)
{
	return r->pending;
}

static int not_writable(const struct win_reg *r, struct bw_error *err)
{
	return bw_seterr(err, BW_EINVAL, r->name,
			 "internal error: hive not open for writing");
}

/* NAME (LEN bytes) is UTF-8 of at most MAX UTF-16 units (and not empty
 * when KEY). */
static int check_name(const struct win_reg *r, const char *where,
		      const char *name, size_t len, size_t max, int key,
		      struct bw_error *err)
{
	const char *kind = key ? "key name" : "value name";
	if (key && len == 0)
		return bw_seterr(err, BW_EINVAL, r->name,
				 "%s: empty key name component", where);
	if (!win_utf8_valid(name, len, NULL))
		return bw_seterr(err, BW_EINVAL, r->name,
				 "%s: %s \"%.*s\" is not UTF-8 text", where,
				 kind, (int)(len > 64 ? 64 : len), name);
	size_t units = win_utf16_units(name, len);
	if (units > max)
		return bw_seterr(err, BW_EINVAL, r->name,
				 "%s: %s of %zu characters (at most %zu)", where,
				 kind, units, max);
	return 0;
}

int win_reg_create_path(struct win_reg *r, win_node from, const char *path,
			win_node *out, unsigned *created,
			struct bw_error *err)
{
	if (!r->writable)
		return not_writable(r, err);
	if (path_depth(path) > WIN_REG_MAX_DEPTH)
		return bw_seterr(err, BW_EINVAL, r->name,
				 "key path %s is deeper than %d keys", path,
				 WIN_REG_MAX_DEPTH);
	/* Every name first: a bad one creates nothing. */
	for (const char *p = path; *p;) {
		const char *end = strchr(p, '\\');
		size_t comp_len = end ? (size_t)(end - p) : strlen(p);
		int ret = check_name(r, path, p, comp_len, WIN_REG_MAX_KEY_NAME,
				     1, err);
		if (ret)
			return ret;
		if (!end)
			break;
		p = end + 1;
		if (!*p)        /* "A\\" ends in an empty component */
			return check_name(r, path, p, 0, WIN_REG_MAX_KEY_NAME,
					  1, err);
	}
	win_node node = from;
	const char *p = path;
	while (*p) {
		const char *end = strchr(p, '\\');
		size_t comp_len = end ? (size_t)(end - p) : strlen(p);
		win_node found;
		int ret = find_child(r, node, p, comp_len, &found, err);
		if (ret)
			return ret;
		if (!found) {
			char *comp = strndup(p, comp_len);
			if (!comp)
				return bw_seterr(err, BW_ENOMEM, r->name,
						 "out of memory");
			errno = 0;
			found = hivex_node_add_child(r->h, node, comp);
			int e = errno;
			free(comp);
			if (!found) {
				char what[300];
				snprintf(what, sizeof what,
					 "cannot create key %.*s in %s",
					 (int)comp_len, p, path);
				return reg_fail(r, e, what, err);
			}
			r->pending++;
			if (created)
				(*created)++;
		}
		node = found;
		p += comp_len;
		if (*p == '\\')
			p++;
	}
	*out = node;
	return 0;
}

static void set_values_free(hive_set_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

/*
 * All values of NODE as hivex_node_set_values takes them, with room for
 * one more.  Returns 0, BW_EHIVE, BW_ENOMEM.
 */
static int values_load(struct win_reg *r, win_node node, hive_set_value **out,
		       size_t *n, struct bw_error *err)
{
	win_value *values;
	size_t count;
	*out = NULL;
	*n = 0;
	int ret = win_reg_values(r, node, &values, &count, err);
	if (ret)
		return ret;
	hive_set_value *v = calloc(count + 1, sizeof *v);
	if (!v) {
		free(values);
		return bw_seterr(err, BW_ENOMEM, r->name, "out of memory");
	}
	size_t i;
	for (i = 0; i < count; i++) {
		ret = win_reg_value_name(r, values[i], &v[i].key, err);
		if (ret)
			break;
		uint32_t type;
		uint8_t *data;
		size_t len;
		ret = win_reg_value_raw(r, values[i], &type, &data, &len, err);
		if (ret)
			break;
		v[i].t = (hive_type)type;
		v[i].value = (char *)data;
		v[i].len = len;
	}
	free(values);
	if (ret) {
		set_values_free(v, i + 1);
		return ret;
	}
	*out = v;
	*n = count;
	return 0;
}

/* Write N values V as the whole value list of NODE (see the head of this
 * file for the cell-size check). */
static int values_store(struct win_reg *r, win_node node, const char *where,
			const hive_set_value *v, size_t n,
			struct bw_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].len > WIN_REG_MAX_CELL_DATA)
			return bw_seterr(err, BW_EUNSUPPORTED, r->name,
					 "%s: value \"%s\" holds %zu bytes; hivex rewrites every value of a key as one cell, and Windows reads more than %d bytes from a big-data record, so this key cannot be changed safely",
					 where, v[i].key, v[i].len,
					 WIN_REG_MAX_CELL_DATA);
	errno = 0;
	if (hivex_node_set_values(r->h, node, n, v, 0) != 0) {
		char what[300];
		snprintf(what, sizeof what, "cannot write the values of %s",
			 where);
		return reg_fail(r, errno, what, err);
	}
	r->pending++;
	return 0;
}

static ssize_t value_index(const hive_set_value *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (win_name_eq(v[i].key, name))
			return (ssize_t)i;
	return -1;
}

int win_reg_set_value(struct win_reg *r, win_node node, const char *where,
		      const char *name, uint32_t type, const uint8_t *data,
		      size_t len, int *changed, struct bw_error *err)
{
	if (changed)
		*changed = 0;
	if (!r->writable)
		return not_writable(r, err);
	int ret = check_name(r, where, name, strlen(name),
			     WIN_REG_MAX_VALUE_NAME, 0, err);
	if (ret)
		return ret;
	hive_set_value *v;
	size_t n;
	ret = values_load(r, node, &v, &n, err);
	if (ret)
		return ret;
	ssize_t at = value_index(v, n, name);
	if (at >= 0 && (uint32_t)v[at].t == type && v[at].len == len &&
	    (len == 0 || memcmp(v[at].value, data, len) == 0)) {
		set_values_free(v, n);
		return 0;               /* already so: nothing to write */
	}
	/* malloc(0) may return NULL: keep one byte for empty data. */
	char *copy = malloc(len ? len : 1);
	if (!copy) {
		set_values_free(v, n);
		return bw_seterr(err, BW_ENOMEM, r->name, "out of memory");
	}
	if (len)
		memcpy(copy, data, len);
	if (at >= 0) {
		free(v[at].value);      /* the key keeps its name and place */
	} else {
		at = (ssize_t)n;
		v[at].key = strdup(name);
		n++;
		if (!v[at].key) {
			free(copy);
			set_values_free(v, n);
			return bw_seterr(err, BW_ENOMEM, r->name,
					 "out of memory");
		}
	}
	v[at].t = (hive_type)type;
	v[at].value = copy;
	v[at].len = len;
	ret = values_store(r, node, where, v, n, err);
	set_values_free(v, n);
	if (ret == 0 && changed)
		*changed = 1;
	return ret;
}

int win_reg_set_dword(struct win_reg *r, win_node node, const char *where,
		      const char *name, uint32_t v, int *changed,
		      struct bw_error *err)
{
	uint8_t d[4];
	bw_put_le32(d, v);
	return win_reg_set_value(r, node, where, name, WIN_REG_DWORD, d, 4,
				 changed, err);
}

int win_reg_set_string(struct win_reg *r, win_node node, const char *where,
		       const char *name, const char *utf8, int *changed,
		       struct bw_error *err)
{
	uint8_t *u;
	size_t len;
	int ret = win_utf8_to_utf16le(utf8, strlen(utf8), 1, &u, &len);
	if (ret == BW_ENOMEM)
		return bw_seterr(err, ret, r->name, "out of memory");
	if (ret)
		return bw_seterr(err, BW_EINVAL, r->name,
				 "%s\\%s: the string is not UTF-8 or longer than %u bytes",
				 where, name, WIN_REG_MAX_STRING_BYTES);
	ret = win_reg_set_value(r, node, where, name, WIN_REG_SZ, u, len,
				changed, err);
	free(u);
	return ret;
}

int win_reg_delete_value(struct win_reg *r, win_node node, const char *where,
			 const char *name, int *deleted, struct bw_error *err)
{
	if (deleted)
		*deleted = 0;
	if (!r->writable)
		return not_writable(r, err);
	hive_set_value *v;
	size_t n;
	int ret = values_load(r, node, &v, &n, err);
	if (ret)
		return ret;
	ssize_t at = value_index(v, n, name);
	if (at < 0) {
		set_values_free(v, n);
		return 0;
	}
	hive_set_value gone = v[at];
	memmove(v + at, v + at + 1, (n - (size_t)at - 1) * sizeof *v);
	v[n - 1] = gone;        /* still freed below, no longer stored */
	ret = values_store(r, node, where, v, n - 1, err);
	set_values_free(v, n);
	if (ret == 0 && deleted)
		*deleted = 1;
	return ret;
}

int win_reg_delete_key(struct win_reg *r, win_node node, const char *where,
		       struct bw_error *err)
{
	if (!r->writable)
		return not_writable(r, err);
	if (node == hivex_root(r->h))
		return bw_seterr(err, BW_EINVAL, r->name,
				 "%s: the root key of a hive cannot be deleted",
				 where);
	errno = 0;
	if (hivex_node_delete_child(r->h, node) != 0) {
		char what[300];
		snprintf(what, sizeof what, "cannot delete key %s", where);
		return reg_fail(r, errno, what, err);
	}
	r->pending++;
	return 0;
}

/* Base block fields win_reg_commit touches (msuhanov/regf "Base block"). */
#define COMMIT_CHECKSUM_OFF 0x1FC
#define COMMIT_BASE_LEN 0x200

/*
 * hivex_commit stores the plain XOR of the first 127 words; Windows
 * stores 0xFFFFFFFF as 0xFFFFFFFE and 0 as 1 (msuhanov/regf, checksum
 * note; hive.c checks it that way).  Rewrite the field when they differ.
 */
static int commit_fix_checksum(int fd)
{
	uint8_t base[COMMIT_BASE_LEN];
	if (pread(fd, base, sizeof base, 0) != (ssize_t)sizeof base)
		return -1;
	uint32_t sum = 0;
	for (size_t off = 0; off < COMMIT_CHECKSUM_OFF; off += 4)
		sum ^= bw_get_le32(base + off);
	if (sum == 0xFFFFFFFFu)
		sum = 0xFFFFFFFEu;
	else if (sum == 0)
		sum = 1;
	if (bw_get_le32(base + COMMIT_CHECKSUM_OFF) == sum)
		return 0;
	uint8_t field[4];
	bw_put_le32(field, sum);
	if (pwrite(fd, field, 4, COMMIT_CHECKSUM_OFF) != 4)
		return -1;
	return 0;
}

/* fsync the directory holding PATH, so that the rename survives a crash.
 * Best effort: the file itself is complete and synced by then. */
static void sync_parent(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (dfd < 0)
		return;
	(void)fsync(dfd);
	close(dfd);
}

int win_reg_commit(struct win_reg *r, struct bw_error *err)
{
	if (!r->writable)
		return not_writable(r, err);
	struct stat st;
	if (stat(r->path, &st) != 0)
		return bw_seterr(err, BW_EIO, r->name, "cannot stat: %s",
				 strerror(errno));
	static const char suffix[] = ".bwtmp.XXXXXX";
	size_t n = strlen(r->path) + sizeof suffix;
	char *tmp = malloc(n);
	if (!tmp)
		return bw_seterr(err, BW_ENOMEM, r->name, "out of memory");
	snprintf(tmp, n, "%s%s", r->path, suffix);
	int ret = 0;
	int fd = mkstemp(tmp);
	if (fd < 0) {
		ret = bw_seterr(err, BW_EIO, r->name,
				"cannot create a temporary file beside it: %s",
				strerror(errno));
		free(tmp);
		return ret;
	}
	if (fchmod(fd, st.st_mode & 07777) != 0) {
		ret = bw_seterr(err, BW_EIO, tmp, "cannot set its mode: %s",
				strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	fd = -1;

	errno = 0;
	if (hivex_commit(r->h, tmp, 0) != 0) {
		ret = reg_fail(r, errno, "cannot write the hive", err);
		goto out;
	}
	fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || commit_fix_checksum(fd) != 0 || fsync(fd) != 0) {
		ret = bw_seterr(err, BW_EIO, tmp,
				"cannot finish the written hive: %s",
				strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;

	/* What hivex wrote must be what we promise: clean, and a hive. */
	struct bw_hive_header hh;
	ret = bw_hive_check_file(tmp, tmp, &hh, err);
	if (ret)
		goto out;
	if (hh.dirty) {
		ret = bw_seterr(err, BW_EHIVE, r->name,
				"hivex wrote a hive that is not clean (sequence numbers %u/%u, checksum 0x%08x/0x%08x)",
				(unsigned)hh.seq_primary,
				(unsigned)hh.seq_secondary,
				(unsigned)hh.checksum_stored,
				(unsigned)hh.checksum_computed);
		goto out;
	}
	errno = 0;
	hive_h *check = hivex_open(tmp, 0);
	if (!check) {
		ret = reg_fail(r, errno, "hivex cannot reopen the hive it wrote",
			       err);
		goto out;
	}
	hivex_close(check);

	if (rename(tmp, r->path) != 0) {
		ret = bw_seterr(err, BW_EIO, r->name,
				"cannot replace it with the edited hive: %s",
				strerror(errno));
		goto out;
	}
	sync_parent(r->path);
	r->pending = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

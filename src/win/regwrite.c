/*
 * Writing hives: the write side of win_reg (libguestfs/hivex lib/write.c,
 * lib/handle.c), with three traps kept away from its callers:
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
#include "common/utf16.h"
#include "win/win_internal.h"

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
		ret = win_reg_fail(r, e, "cannot open hive for writing", err);
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
	if (!bw_utf8_valid(name, len, NULL))
		return bw_seterr(err, BW_EINVAL, r->name,
				 "%s: %s \"%.*s\" is not UTF-8 text", where,
				 kind, (int)(len > 64 ? 64 : len), name);
	size_t units = bw_utf8_utf16_units(name, len);
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
	if (win_reg_path_depth(path) > WIN_REG_MAX_DEPTH)
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
		int ret = win_reg_find_child(r, node, p, comp_len, &found, err);
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
				return win_reg_fail(r, e, what, err);
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
			/* Refused by design, not bad input: BW_ENOTIMPL
			 * (exit 1), with the way to make the change. */
			return bw_seterr(err, BW_ENOTIMPL, r->name,
					 "%s: value \"%s\" holds %zu bytes; hivex rewrites every value of a key as one cell, and Windows reads more than %d bytes from a big-data record, so boxwright does not change this key offline: make the change at first boot instead (reg import in a --first-boot-ps1 or --setup-complete script)",
					 where, v[i].key, v[i].len,
					 WIN_REG_MAX_CELL_DATA);
	errno = 0;
	if (hivex_node_set_values(r->h, node, n, v, 0) != 0) {
		char what[300];
		snprintf(what, sizeof what, "cannot write the values of %s",
			 where);
		return win_reg_fail(r, errno, what, err);
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
		return win_reg_fail(r, errno, what, err);
	}
	r->pending++;
	return 0;
}

/* The base block win_reg_commit rewrites the checksum of. */
#define COMMIT_BASE_LEN 0x200

/*
 * hivex_commit stores the plain XOR of the first 127 words; Windows
 * stores 0xFFFFFFFF as 0xFFFFFFFE and 0 as 1 (win_regf_checksum, which
 * hive.c checks with).  Rewrite the field when they differ.
 */
static int commit_fix_checksum(int fd)
{
	uint8_t base[COMMIT_BASE_LEN];
	if (pread(fd, base, sizeof base, 0) != (ssize_t)sizeof base)
		return -1;
	uint32_t sum = win_regf_checksum(base);
	if (bw_get_le32(base + WIN_REGF_CHECKSUM_OFF) == sum)
		return 0;
	uint8_t field[4];
	bw_put_le32(field, sum);
	if (pwrite(fd, field, 4, WIN_REGF_CHECKSUM_OFF) != 4)
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
		ret = win_reg_fail(r, errno, "cannot write the hive", err);
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
		ret = win_reg_fail(r, errno, "hivex cannot reopen the hive it wrote",
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

/*
 * Building test hives with hivex, shared by test_win.c and test_win_edit.c:
 * an empty regf from minhive.h, then keys and typed values.  Each test
 * program includes it once; build_failures counts what could not be built
 * (a test that could not build its input must fail, not pass).
 */
#ifndef BW_TESTS_HIVEBUILD_H
#define BW_TESTS_HIVEBUILD_H

#include <hivex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "minhive.h"

static char tmpdir[256];

static const char *tpath(const char *leaf)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", tmpdir, leaf);
	return p;
}

/* ---- building test hives with hivex ----------------------------------- */

static int build_failures;

static hive_h *hv_new(const char *path)
{
	if (minhive_write(path) != 0) {
		build_failures++;
		return NULL;
	}
	hive_h *h = hivex_open(path, HIVEX_OPEN_WRITE);
	if (!h)
		build_failures++;
	return h;
}

/* Find or create PATH ("A\\B") below PARENT (names as given: mixed case
 * stays mixed). */
static hive_node_h hv_key(hive_h *h, hive_node_h parent, const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	hive_node_h node = parent;
	for (char *save = NULL, *c = strtok_r(buf, "\\", &save); c;
	     c = strtok_r(NULL, "\\", &save)) {
		hive_node_h child = hivex_node_get_child(h, node, c);
		if (!child)
			child = hivex_node_add_child(h, node, c);
		if (!child) {
			build_failures++;
			return 0;
		}
		node = child;
	}
	return node;
}

static void hv_raw(hive_h *h, hive_node_h node, const char *name,
		   hive_type t, const void *data, size_t len)
{
	hive_set_value v = { (char *)name, t, len, (char *)data };
	if (hivex_node_set_value(h, node, &v, 0) != 0)
		build_failures++;
}

static void hv_dword(hive_h *h, hive_node_h node, const char *name,
		     uint32_t val)
{
	uint8_t d[4];
	bw_put_le32(d, val);
	hv_raw(h, node, name, hive_t_REG_DWORD, d, 4);
}

/* UTF-8 to UTF-16LE with a terminating NUL; returns bytes written. */
static size_t utf16(const char *s, uint8_t *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (;;) {
		uint32_t c;
		if (*p < 0x80) {
			c = *p++;
		} else if (*p < 0xE0) {
			c = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
			p += 2;
		} else if (*p < 0xF0) {
			c = (uint32_t)(p[0] & 0x0F) << 12 |
			    (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
			p += 3;
		} else {
			c = (uint32_t)(p[0] & 0x07) << 18 |
			    (uint32_t)(p[1] & 0x3F) << 12 |
			    (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
			p += 4;
		}
		if (c >= 0x10000) {
			if (o + 4 > cap)
				abort();
			c -= 0x10000;
			bw_put_le16(out + o, (uint16_t)(0xD800 | c >> 10));
			bw_put_le16(out + o + 2, (uint16_t)(0xDC00 | (c & 0x3FF)));
			o += 4;
			continue;
		}
		if (o + 2 > cap)
			abort();
		bw_put_le16(out + o, (uint16_t)c);
		o += 2;
		if (c == 0)
			return o;
	}
}

static void hv_sz(hive_h *h, hive_node_h node, const char *name,
		  const char *s)
{
	uint8_t buf[2048];
	size_t n = utf16(s, buf, sizeof buf);
	hv_raw(h, node, name, hive_t_REG_SZ, buf, n);
}

static void hv_commit(hive_h *h, const char *path)
{
	if (!h)
		return;
	if (hivex_commit(h, path, 0) != 0)
		build_failures++;
	hivex_close(h);
}

#endif

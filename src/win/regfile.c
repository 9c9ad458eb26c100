/*
 * regedit files (.reg): "REGEDIT4" and "Windows Registry Editor Version
 * 5.00", parsed into sections that win_regfile_apply merges into an open
 * SOFTWARE or SYSTEM hive.  The syntax is what regedit.exe exports and
 * imports (Microsoft, "How to add, modify, or delete registry subkeys and
 * values by using a .reg file"): [KEY] and [-KEY] lines, "name"="string"
 * with the escapes \\ and \", @ for the default value, dword:, hex: and
 * hex(N): with backslash continuation lines, "name"=- to delete.  Wine's
 * regedit (programs/regedit/regproc.c, whose tests run against Windows')
 * settles the details Microsoft does not write down, and hivex's importer
 * (Win::Hivex::Regedit reg_import, used by virt-win-reg) was read for
 * comparison.  Where they differ this parser follows regedit:
 *  - a blank line does not end a key's section, the next [KEY] does
 *    (reg_import ends it and then refuses the next value);
 *  - a ; comment may follow a value;
 *  - hex(1), hex(2) and hex(7) data without its terminating NUL gets one,
 *    and in a REGEDIT4 file it is 8-bit text that regedit converts to
 *    UTF-16 (reg_import stores both as they are); only ASCII/UTF-8 is
 *    read, since the file does not say which ANSI code page it used;
 *  - CurrentControlSet (the first key below HKLM\SYSTEM) is mapped to the
 *    live ControlSet00N, as DESIGN.md requires.
 * What it refuses, with FILE:LINE and what was expected, rather than guess
 * (this file is merged into a hive Windows must boot from): roots other
 * than HKEY_LOCAL_MACHINE\SOFTWARE and \SYSTEM (HKLM accepted, as
 * virt-win-reg does), escapes other than \\ and \" in strings (Wine's
 * regedit reads \n and \r and keeps other escaped characters with a
 * warning; what Windows does with them is not written down), data of the
 * wrong length for its type, and anything else it does not recognise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/utf16.h"
#include "win/win_internal.h"
#include "common/hex.h"

#define REGFILE_HEADER_V5 "Windows Registry Editor Version 5.00"
#define REGFILE_HEADER_V4 "REGEDIT4"
#define REGFILE_SNIPPET 48          /* bytes of offending text quoted */

struct regfile_value {
	char *name;                 /* "" is the default value (@) */
	int remove;                 /* "name"=- */
	uint32_t type;
	uint8_t *data;
	size_t len;
	unsigned line;
};

struct regfile_section {
	enum win_hive_kind hive;
	char *key;                  /* below the hive root, or below the live
				     * control set when ccs */
	int ccs;                    /* SYSTEM\CurrentControlSet\... */
	int remove;                 /* [-KEY] */
	unsigned line;
	struct regfile_value *values;
	size_t nvalues, cap;
};

struct win_regfile {
	char *path;
	int version;                /* 4 or 5 */
	struct regfile_section *sections;
	size_t nsections, cap;
};

struct parser {
	const char *path;
	char *text;                 /* UTF-8, NUL-free, NUL-terminated */
	char *next;                 /* start of the next line, NULL at end */
	unsigned lineno;            /* of the line last taken */
	int status;                 /* set when take_line fails */
	struct win_regfile *rf;
	struct bw_error *err;
};

/* ---- messages ------------------------------------------------------------ */

static int perr(struct parser *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, int code, const char *fmt, ...)
{
	char buf[BW_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return bw_seterr(p->err, code, NULL, "%s:%u: %s", p->path, p->lineno,
			 buf);
}

/* How many bytes of S to quote: at most REGFILE_SNIPPET, whole UTF-8
 * sequences only. */
static int snippet_len(const char *s)
{
	size_t n = strlen(s);
	if (n <= REGFILE_SNIPPET)
		return (int)n;
	n = REGFILE_SNIPPET;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

/* ---- reading and decoding the file --------------------------------------- */

static int read_capped(const char *path, uint8_t **out, size_t *len,
		       struct bw_error *err)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bw_seterr(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				 path, "cannot open: %s", strerror(errno));
	struct stat st;
	int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (regular && (uint64_t)st.st_size > WIN_REGFILE_MAX_BYTES) {
		close(fd);
		return bw_seterr(err, BW_EUNSUPPORTED, path,
				 "%lld bytes: a .reg file of more than %u bytes is refused",
				 (long long)st.st_size, WIN_REGFILE_MAX_BYTES);
	}
	/* One byte over the cap tells a too-long stream from a full one.
	 * The buffer starts at the file's size plus that byte (a pipe's at
	 * 64 KiB) and doubles up to the cap if the file grows meanwhile. */
	size_t cap = WIN_REGFILE_MAX_BYTES + 1;
	size_t have = regular ? (size_t)st.st_size + 1 : 65536;
	if (have > cap)
		have = cap;
	uint8_t *buf = malloc(have);
	if (!buf) {
		close(fd);
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	}
	size_t got = 0;
	while (got < cap) {
		if (got == have) {
			size_t grow = have > cap / 2 ? cap : have * 2;
			uint8_t *more = realloc(buf, grow);
			if (!more) {
				close(fd);
				free(buf);
				return bw_seterr(err, BW_ENOMEM, path, "out of memory");
			}
			buf = more;
			have = grow;
		}
		ssize_t n = read(fd, buf + got, have - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			free(buf);
			return bw_seterr(err, BW_EIO, path, "cannot read: %s",
					 strerror(e));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > WIN_REGFILE_MAX_BYTES) {
		free(buf);
		return bw_seterr(err, BW_EUNSUPPORTED, path,
				 "a .reg file of more than %u bytes is refused",
				 WIN_REGFILE_MAX_BYTES);
	}
	*out = buf;
	*len = got;
	return 0;
}

/* The line number of byte OFF of TEXT (1-based). */
static unsigned line_of(const char *text, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* UTF-16LE (after its BOM) to UTF-8; lone surrogates and NUL refused. */
static int decode_utf16le(const char *path, const uint8_t *b, size_t len,
			  char **out, struct bw_error *err)
{
	*out = NULL;
	if (len % 2)
		return bw_seterr(err, BW_EFORMAT, path,
				 "UTF-16 file of an odd number of bytes (%zu)",
				 len + 2);
	/* A unit gives at most 3 bytes, a pair 4: no overflow under the cap. */
	size_t n = len / 2 * 3 + 1;
	char *s = malloc(n);
	if (!s)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	size_t o, at;
	int ret = bw_utf16_to_utf8(b, len, BW_UTF16_REFUSE, BW_UTF16_NUL_BAD,
				   s, n, &o, &at);
	if (ret) {
		/* S holds the text before the bad unit: its line is ours. */
		const char *bad = bw_get_le16(b + at) == 0 ?
			"a NUL character" : "a lone UTF-16 surrogate";
		ret = bw_seterr(err, BW_EFORMAT, NULL,
				"%s:%u: %s (byte offset %zu)", path,
				line_of(s, o), bad, 2 + at);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

/* Check that TEXT (LEN bytes, no BOM) is UTF-8 without NULs; copy it. */
static int decode_utf8(const char *path, const uint8_t *b, size_t len,
		       char **out, struct bw_error *err)
{
	*out = NULL;
	char *s = malloc(len + 1);
	if (!s)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	memcpy(s, b, len);
	s[len] = '\0';
	const void *nul = memchr(b, 0, len);
	if (nul) {
		size_t off = (size_t)((const uint8_t *)nul - b);
		int ret = bw_seterr(err, BW_EUNSUPPORTED, NULL,
				    "%s:%u: NUL byte at offset %zu: UTF-16 without a byte-order mark? (expected UTF-8, or UTF-16LE starting with FF FE as regedit writes it)",
				    path, line_of(s, off), off);
		free(s);
		return ret;
	}
	size_t bad;
	if (!bw_utf8_valid(s, len, &bad)) {
		int ret = bw_seterr(err, BW_EUNSUPPORTED, NULL,
				    "%s:%u: not UTF-8 text (byte offset %zu; an ANSI code page file? convert it to UTF-8, or save it from regedit as Unicode)",
				    path, line_of(s, bad), bad);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

/* ---- lines ----------------------------------------------------------------- */

/* Take the next physical line (NUL-terminated in place, CR stripped); NULL
 * at the end of the text. */
static char *take_line(struct parser *p)
{
	if (!p->next)
		return NULL;
	char *line = p->next;
	char *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		p->next = nl + 1;
		if (!*p->next)
			p->next = NULL;
	} else {
		p->next = NULL;
	}
	size_t len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	p->lineno++;
	if (len > WIN_REGFILE_MAX_LINE) {
		p->status = perr(p, BW_EUNSUPPORTED,
				 "line of %zu bytes (at most %u)", len,
				 WIN_REGFILE_MAX_LINE);
		return NULL;
	}
	return line;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char *skip_ws(char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

/* Nothing but blanks and perhaps a ; comment from S on (regedit allows a
 * comment after a value, as Wine's regedit, tested against Windows', does). */
static int at_end(char *s)
{
	s = skip_ws(s);
	return *s == '\0' || *s == ';';
}

static void rtrim(char *s)
{
	size_t n = strlen(s);
	while (n && (is_space(s[n - 1]) || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* S begins with WORD, ASCII case-insensitively. */
static int prefix_ci(const char *s, const char *word)
{
	for (; *word; s++, word++) {
		char a = *s, b = *word;
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

/* ---- building the result ----------------------------------------------------- */

static void section_free(struct regfile_section *s)
{
	free(s->key);
	for (size_t i = 0; i < s->nvalues; i++) {
		free(s->values[i].name);
		free(s->values[i].data);
	}
	free(s->values);
}

void win_regfile_free(struct win_regfile *rf)
{
	if (!rf)
		return;
	for (size_t i = 0; i < rf->nsections; i++)
		section_free(&rf->sections[i]);
	free(rf->sections);
	free(rf->path);
	free(rf);
}

static struct regfile_section *section_add(struct parser *p)
{
	struct win_regfile *rf = p->rf;
	if (rf->nsections == rf->cap) {
		size_t cap = rf->cap ? rf->cap * 2 : 16;
		struct regfile_section *grown =
			realloc(rf->sections, cap * sizeof *grown);
		if (!grown)
			return NULL;
		rf->sections = grown;
		rf->cap = cap;
	}
	struct regfile_section *s = &rf->sections[rf->nsections++];
	memset(s, 0, sizeof *s);
	s->line = p->lineno;
	return s;
}

static struct regfile_value *value_add(struct regfile_section *s)
{
	if (s->nvalues == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct regfile_value *grown =
			realloc(s->values, cap * sizeof *grown);
		if (!grown)
			return NULL;
		s->values = grown;
		s->cap = cap;
	}
	struct regfile_value *v = &s->values[s->nvalues++];
	memset(v, 0, sizeof *v);
	return v;
}

/* ---- [KEY] lines --------------------------------------------------------------- */

/* Component of PATH starting at *P, up to a backslash or the end. */
static size_t comp_len(const char *p)
{
	const char *bs = strchr(p, '\\');
	return bs ? (size_t)(bs - p) : strlen(p);
}

static int comp_is(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && prefix_ci(p, word) ? 1 : 0;
}

/* Check each component of KEY (below the hive): none empty, none longer
 * than Windows allows. */
static int check_key_path(struct parser *p, const char *full, const char *key)
{
	if (!*key)
		return 0;
	const char *c = key;
	for (;;) {
		size_t n = comp_len(c);
		if (n == 0 && !*c)
			return perr(p, BW_EFORMAT,
				    "[%.*s]: the key path ends in a backslash",
				    snippet_len(full), full);
		if (n == 0)
			return perr(p, BW_EFORMAT,
				    "[%.*s]: empty key name (expected one backslash between key names)",
				    snippet_len(full), full);
		if (bw_utf8_utf16_units(c, n) > WIN_REG_MAX_KEY_NAME)
			return perr(p, BW_EFORMAT,
				    "[%.*s]: key name \"%.*s\" is longer than %d characters",
				    snippet_len(full), full,
				    (int)(n > 40 ? 40 : n), c,
				    WIN_REG_MAX_KEY_NAME);
		if (!c[n])
			return 0;
		c += n + 1;
	}
}

static int parse_key_line(struct parser *p, char *s,
			  struct regfile_section **cur)
{
	*cur = NULL;
	size_t len = strlen(s);
	if (len < 2 || s[len - 1] != ']')
		return perr(p, BW_EFORMAT,
			    "expected ']' at the end of the key line, found \"%.*s\"",
			    snippet_len(s), s);
	s[len - 1] = '\0';
	char *inner = s + 1;
	int remove = 0;
	if (*inner == '-') {
		remove = 1;
		inner++;
	}
	const char *full = inner;
	const char *k = inner;
	if (*k == '\\')
		k++;
	size_t n = comp_len(k);
	if (!comp_is(k, n, "HKEY_LOCAL_MACHINE") && !comp_is(k, n, "HKLM"))
		return perr(p, BW_EUNSUPPORTED,
			    "[%.*s]: root \"%.*s\" is not supported (only HKEY_LOCAL_MACHINE\\SOFTWARE and HKEY_LOCAL_MACHINE\\SYSTEM can be merged into an offline image)",
			    snippet_len(full), full, (int)(n > 40 ? 40 : n), k);
	k += n;
	if (*k == '\\')
		k++;
	n = comp_len(k);
	enum win_hive_kind hive;
	if (comp_is(k, n, "SOFTWARE"))
		hive = WIN_HIVE_SOFTWARE;
	else if (comp_is(k, n, "SYSTEM"))
		hive = WIN_HIVE_SYSTEM;
	else
		return perr(p, BW_EUNSUPPORTED,
			    "[%.*s]: \"HKEY_LOCAL_MACHINE\\%.*s\" is not supported (only HKEY_LOCAL_MACHINE\\SOFTWARE and HKEY_LOCAL_MACHINE\\SYSTEM can be merged into an offline image)",
			    snippet_len(full), full, (int)(n > 40 ? 40 : n), k);
	const char *hive_name = hive == WIN_HIVE_SYSTEM ? "SYSTEM" : "SOFTWARE";
	k += n;
	if (*k == '\\') {
		k++;
		if (!*k)
			return perr(p, BW_EFORMAT,
				    "[%.*s]: the key path ends in a backslash",
				    snippet_len(full), full);
	}
	int ret = check_key_path(p, full, k);
	if (ret)
		return ret;
	int ccs = 0;
	n = comp_len(k);
	if (hive == WIN_HIVE_SYSTEM && comp_is(k, n, "CurrentControlSet")) {
		ccs = 1;
		k += n;
		if (*k == '\\')
			k++;
	}
	if (remove && !*k && !ccs)
		return perr(p, BW_EINVAL,
			    "[-%.*s]: the root of the %s hive cannot be deleted",
			    snippet_len(full), full, hive_name);
	if (remove && !*k && ccs)
		return perr(p, BW_EINVAL,
			    "[-%.*s]: refusing to delete the live control set",
			    snippet_len(full), full);

	struct regfile_section *sec = section_add(p);
	if (!sec)
		return perr(p, BW_ENOMEM, "out of memory");
	sec->hive = hive;
	sec->ccs = ccs;
	sec->remove = remove;
	sec->key = strdup(k);
	if (!sec->key)
		return perr(p, BW_ENOMEM, "out of memory");
	*cur = sec;
	return 0;
}

/* ---- value lines ---------------------------------------------------------------- */

/*
 * A quoted string at *S ('"'): the escapes are \\ and \" (what regedit
 * writes); the result is malloc'd.  *S moves past the closing quote.
 */
static int parse_quoted(struct parser *p, char **s, char **out)
{
	*out = NULL;
	char *q = *s + 1;
	char *buf = malloc(strlen(q) + 1);
	if (!buf)
		return perr(p, BW_ENOMEM, "out of memory");
	size_t o = 0;
	for (;;) {
		char c = *q++;
		if (c == '\0') {
			free(buf);
			return perr(p, BW_EFORMAT,
				    "unterminated string: expected a closing '\"' in \"%.*s\"",
				    snippet_len(*s), *s);
		}
		if (c == '"')
			break;
		if (c == '\\') {
			c = *q++;
			if (c != '\\' && c != '"') {
				free(buf);
				return perr(p, BW_EFORMAT,
					    "expected \\\\ or \\\" in a string, found \"\\%.*s\"",
					    c ? snippet_len(q - 1) : 0, q - 1);
			}
		}
		buf[o++] = c;
	}
	buf[o] = '\0';
	*s = q;
	*out = buf;
	return 0;
}

/* Append byte B to V's data, within the value cap. */
static int data_put(struct parser *p, struct regfile_value *v, size_t *cap,
		    uint8_t b)
{
	if (v->len == *cap) {
		if (*cap >= WIN_REG_MAX_STRING_BYTES)
			return perr(p, BW_EUNSUPPORTED,
				    "value data longer than %u bytes",
				    WIN_REG_MAX_STRING_BYTES);
		size_t ncap = *cap ? *cap * 2 : 64;
		uint8_t *grown = realloc(v->data, ncap);
		if (!grown)
			return perr(p, BW_ENOMEM, "out of memory");
		v->data = grown;
		*cap = ncap;
	}
	v->data[v->len++] = b;
	return 0;
}

/*
 * Comma-separated hex bytes from S on; a backslash that ends a line
 * continues the list on the next line (regedit wraps at 80 columns).
 */
static int parse_hex_bytes(struct parser *p, char *s, struct regfile_value *v)
{
	size_t cap = 0;
	int want_byte = 0;      /* after a comma */
	for (;;) {
		s = skip_ws(s);
		if (*s == '\\' && !*skip_ws(s + 1)) {
			char *line = take_line(p);
			if (!line) {
				if (p->status)
					return p->status;
				return perr(p, BW_EFORMAT,
					    "the file ends after a continuation backslash (expected more hex bytes)");
			}
			rtrim(line);
			s = line;
			continue;
		}
		if (*s == '\0' || (*s == ';' && !want_byte)) {
			if (want_byte)
				return perr(p, BW_EFORMAT,
					    "expected a hex byte after ',' (or '\\' to continue on the next line)");
			return 0;
		}
		if (!want_byte && v->len > 0) {
			if (*s != ',')
				return perr(p, BW_EFORMAT,
					    "expected ',' between hex bytes, found \"%.*s\"",
					    snippet_len(s), s);
			s++;
			want_byte = 1;
			continue;
		}
		int hi = bw_hex_digit(s[0]);
		if (hi < 0)
			return perr(p, BW_EFORMAT,
				    "expected a hex byte (two hex digits), found \"%.*s\"",
				    snippet_len(s), s);
		int lo = bw_hex_digit(s[1]);
		unsigned b = (unsigned)hi;
		size_t used = 1;
		if (lo >= 0) {
			b = b << 4 | (unsigned)lo;
			used = 2;
			if (bw_hex_digit(s[2]) >= 0)
				return perr(p, BW_EFORMAT,
					    "expected a hex byte (two hex digits), found \"%.*s\"",
					    snippet_len(s), s);
		}
		int ret = data_put(p, v, &cap, (uint8_t)b);
		if (ret)
			return ret;
		s += used;
		want_byte = 0;
	}
}

/* 1..8 hex digits at *S into *OUT; *S moves past them. */
static int parse_hex_number(char **s, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;
	int d;
	while ((d = bw_hex_digit(**s)) >= 0) {
		if (++n > 8)
			return -1;
		v = v << 4 | (uint32_t)d;
		(*s)++;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

/* Convert string-typed data to what the hive stores (see the file head). */
static int finish_data(struct parser *p, struct regfile_value *v, int from_hex)
{
	int text = v->type == WIN_REG_SZ || v->type == WIN_REG_EXPAND_SZ ||
		   v->type == WIN_REG_MULTI_SZ;
	/* regedit terminates string-typed hex data that lacks its NUL (one
	 * character: a NUL unit in a Unicode file, a NUL byte in a REGEDIT4
	 * one; Wine's prepare_hex_string_data does the same). */
	size_t unit = p->rf->version == 4 ? 1 : 2;
	if (text && from_hex && v->len >= unit && v->len % unit == 0) {
		int terminated = v->data[v->len - 1] == 0 &&
				 (unit == 1 || v->data[v->len - 2] == 0);
		size_t cap = v->len;
		for (size_t i = 0; !terminated && i < unit; i++) {
			int ret = data_put(p, v, &cap, 0);
			if (ret)
				return ret;
		}
	}
	if (text && (!from_hex || p->rf->version == 4)) {
		/* Quoted strings are text; so is REGEDIT4 hex(1/2/7) data.
		 * A quoted string gets its terminating NUL; hex data
		 * carries its own. */
		uint8_t *u;
		size_t ulen;
		int ret = win_utf8_to_utf16le((const char *)v->data, v->len,
					      !from_hex, &u, &ulen);
		if (ret == BW_ENOMEM)
			return perr(p, ret, "out of memory");
		if (ret && !from_hex)
			return perr(p, BW_EUNSUPPORTED,
				    "string longer than %u bytes as UTF-16",
				    WIN_REG_MAX_STRING_BYTES);
		if (ret)
			return perr(p, BW_EUNSUPPORTED,
				    "hex(%x) data of a REGEDIT4 file is 8-bit text in an unknown ANSI code page: only ASCII or UTF-8 is read",
				    (unsigned)v->type);
		free(v->data);
		v->data = u;
		v->len = ulen;
		return 0;
	}
	if (text && v->len % 2)
		return perr(p, BW_EFORMAT,
			    "hex(%x) data of %zu bytes: UTF-16 text needs an even number of bytes",
			    (unsigned)v->type, v->len);
	if ((v->type == WIN_REG_DWORD || v->type == WIN_REG_DWORD_BIG_ENDIAN) &&
	    v->len != 4)
		return perr(p, BW_EFORMAT,
			    "hex(%x) data of %zu bytes (a DWORD has 4)",
			    (unsigned)v->type, v->len);
	if (v->type == WIN_REG_QWORD && v->len != 8)
		return perr(p, BW_EFORMAT,
			    "hex(b) data of %zu bytes (a QWORD has 8)", v->len);
	return 0;
}

static int parse_value_line(struct parser *p, char *s,
			    struct regfile_section *sec)
{
	struct regfile_value *v = value_add(sec);
	if (!v)
		return perr(p, BW_ENOMEM, "out of memory");
	v->line = p->lineno;
	char *start = s;
	int ret;
	if (*s == '@') {
		v->name = strdup("");
		if (!v->name)
			return perr(p, BW_ENOMEM, "out of memory");
		s++;
	} else {
		ret = parse_quoted(p, &s, &v->name);
		if (ret)
			return ret;
	}
	s = skip_ws(s);
	if (*s != '=')
		return perr(p, BW_EFORMAT,
			    "expected '=' after the value name, found \"%.*s\"",
			    snippet_len(s), s);
	s = skip_ws(s + 1);

	if (*s == '-' && at_end(s + 1)) {
		v->remove = 1;
		return 0;
	}
	if (*s == '"') {
		char *str;
		ret = parse_quoted(p, &s, &str);
		if (ret)
			return ret;
		if (!at_end(s)) {
			free(str);
			return perr(p, BW_EFORMAT,
				    "expected the end of the line after the string, found \"%.*s\"",
				    snippet_len(s), s);
		}
		v->type = WIN_REG_SZ;
		v->data = (uint8_t *)str;
		v->len = strlen(str);
		return finish_data(p, v, 0);
	}
	if (prefix_ci(s, "dword:")) {
		s += 6;
		uint32_t d;
		if (parse_hex_number(&s, &d) != 0 || !at_end(s))
			return perr(p, BW_EFORMAT,
				    "expected 1 to 8 hex digits after dword:, found \"%.*s\"",
				    snippet_len(start), start);
		v->type = WIN_REG_DWORD;
		v->data = malloc(4);
		if (!v->data)
			return perr(p, BW_ENOMEM, "out of memory");
		bw_put_le32(v->data, d);
		v->len = 4;
		return 0;
	}
	if (prefix_ci(s, "hex:")) {
		v->type = WIN_REG_BINARY;
		ret = parse_hex_bytes(p, s + 4, v);
		return ret ? ret : finish_data(p, v, 1);
	}
	if (prefix_ci(s, "hex(")) {
		s += 4;
		uint32_t type;
		if (parse_hex_number(&s, &type) != 0 || s[0] != ')' ||
		    s[1] != ':')
			return perr(p, BW_EFORMAT,
				    "expected hex(N): with N of 1 to 8 hex digits, found \"%.*s\"",
				    snippet_len(start), start);
		v->type = type;
		ret = parse_hex_bytes(p, s + 2, v);
		return ret ? ret : finish_data(p, v, 1);
	}
	return perr(p, BW_EFORMAT,
		    "expected a quoted string, dword:, hex:, hex(N): or - after '=', found \"%.*s\"",
		    snippet_len(s), s);
}

/* ---- the file ------------------------------------------------------------------- */

static int parse_text(struct parser *p)
{
	char *line;
	/* The header: the first line that is not blank. */
	for (;;) {
		line = take_line(p);
		if (!line) {
			if (p->status)
				return p->status;
			return bw_seterr(p->err, BW_EFORMAT, p->path,
					 "empty file: expected \"%s\" or \"%s\"",
					 REGFILE_HEADER_V5, REGFILE_HEADER_V4);
		}
		rtrim(line);
		if (*skip_ws(line))
			break;
	}
	if (strcmp(line, REGFILE_HEADER_V5) == 0) {
		p->rf->version = 5;
	} else if (strcmp(line, REGFILE_HEADER_V4) == 0) {
		p->rf->version = 4;
	} else {
		return perr(p, BW_EFORMAT,
			    "expected \"%s\" or \"%s\" as the first line, found \"%.*s\"",
			    REGFILE_HEADER_V5, REGFILE_HEADER_V4,
			    snippet_len(line), line);
	}

	struct regfile_section *cur = NULL;
	int in_delete = 0;
	while ((line = take_line(p)) != NULL) {
		rtrim(line);
		char *s = skip_ws(line);
		if (!*s || *s == ';')
			continue;
		int ret;
		if (*s == '[') {
			ret = parse_key_line(p, s, &cur);
			if (ret)
				return ret;
			in_delete = cur->remove;
			continue;
		}
		if (*s == '"' || *s == '@') {
			if (!cur)
				return perr(p, BW_EFORMAT,
					    "a value before any [KEY] line");
			if (in_delete)
				return perr(p, BW_EFORMAT,
					    "a value in a [-KEY] section (the key is being deleted)");
			ret = parse_value_line(p, s, cur);
			if (ret)
				return ret;
			continue;
		}
		return perr(p, BW_EFORMAT,
			    "expected [KEY], \"NAME\"=VALUE, @=VALUE, a ; comment or a blank line, found \"%.*s\"",
			    snippet_len(s), s);
	}
	return p->status;       /* take_line's NULL: the end, or a failure */
}

int win_regfile_parse(const char *path, struct win_regfile **out,
		      struct bw_error *err)
{
	*out = NULL;
	bw_error_clear(err);
	uint8_t *raw;
	size_t len;
	int ret = read_capped(path, &raw, &len, err);
	if (ret)
		return ret;
	char *text = NULL;
	if (len >= 2 && raw[0] == 0xFF && raw[1] == 0xFE) {
		ret = decode_utf16le(path, raw + 2, len - 2, &text, err);
	} else if (len >= 2 && raw[0] == 0xFE && raw[1] == 0xFF) {
		ret = bw_seterr(err, BW_EUNSUPPORTED, path,
				"UTF-16 big-endian text is not read (expected UTF-8, or UTF-16LE as regedit writes it)");
	} else if (len >= 3 && raw[0] == 0xEF && raw[1] == 0xBB &&
		   raw[2] == 0xBF) {
		ret = decode_utf8(path, raw + 3, len - 3, &text, err);
	} else {
		ret = decode_utf8(path, raw, len, &text, err);
	}
	free(raw);
	if (ret)
		return ret;

	struct win_regfile *rf = calloc(1, sizeof *rf);
	if (!rf || !(rf->path = strdup(path))) {
		free(rf);
		free(text);
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	}
	struct parser p = {
		.path = path, .text = text, .next = *text ? text : NULL,
		.rf = rf, .err = err,
	};
	ret = parse_text(&p);
	free(text);
	if (ret) {
		win_regfile_free(rf);
		return ret;
	}
	*out = rf;
	return 0;
}

int win_regfile_touches(const struct win_regfile *rf, enum win_hive_kind kind)
{
	for (size_t i = 0; i < rf->nsections; i++)
		if (rf->sections[i].hive == kind)
			return 1;
	return 0;
}

int win_regfile_uses_ccs(const struct win_regfile *rf)
{
	for (size_t i = 0; i < rf->nsections; i++)
		if (rf->sections[i].ccs)
			return 1;
	return 0;
}

/* ---- merging --------------------------------------------------------------------- */

/* Put "FILE:LINE: " in front of the message a hive call left. */
static int at_line(const struct win_regfile *rf, unsigned line, int code,
		   struct bw_error *err)
{
	if (!err)
		return code;
	char msg[BW_ERROR_MSG_MAX];
	snprintf(msg, sizeof msg, "%s", err->msg);
	return bw_seterr(err, code, NULL, "%s:%u: %s", rf->path, line, msg);
}

static int apply_section(const struct win_regfile *rf,
			 const struct regfile_section *s, struct win_reg *r,
			 const char *key, struct bw_win_report *rep,
			 struct bw_error *err)
{
	win_node root = win_reg_root(r);
	win_node node;
	int ret;
	if (s->remove) {
		ret = win_reg_lookup(r, root, key, &node, err);
		if (ret == BW_ENOTFOUND)
			return 0;       /* regedit: deleting nothing is fine */
		if (ret == 0)
			ret = win_reg_delete_key(r, node, key, err);
		return ret ? at_line(rf, s->line, ret, err) : 0;
	}
	unsigned created = 0;
	ret = win_reg_create_path(r, root, key, &node, &created, err);
	if (rep)
		rep->keys_created += created;
	if (ret)
		return at_line(rf, s->line, ret, err);
	for (size_t i = 0; i < s->nvalues; i++) {
		const struct regfile_value *v = &s->values[i];
		int changed = 0;
		if (v->remove)
			ret = win_reg_delete_value(r, node, key, v->name,
						   &changed, err);
		else
			ret = win_reg_set_value(r, node, key, v->name, v->type,
						v->data, v->len, &changed, err);
		if (ret)
			return at_line(rf, v->line, ret, err);
		if (changed && rep)
			rep->values_set++;
	}
	return 0;
}

int win_regfile_apply(const struct win_regfile *rf, enum win_hive_kind kind,
		      struct win_reg *r, const char *live_cs,
		      struct bw_win_report *rep, struct bw_error *err)
{
	for (size_t i = 0; i < rf->nsections; i++) {
		const struct regfile_section *s = &rf->sections[i];
		if (s->hive != kind)
			continue;
		char *key;
		if (s->ccs) {
			if (!live_cs)
				return bw_seterr(err, BW_EINVAL, NULL,
						 "%s:%u: CurrentControlSet has no live control set to map to",
						 rf->path, s->line);
			size_t n = strlen(live_cs) + 1 + strlen(s->key) + 1;
			key = malloc(n);
			if (key)
				snprintf(key, n, "%s%s%s", live_cs,
					 *s->key ? "\\" : "", s->key);
		} else {
			key = strdup(s->key);
		}
		if (!key)
			return bw_seterr(err, BW_ENOMEM, NULL, "out of memory");
		int ret = apply_section(rf, s, r, key, rep, err);
		free(key);
		if (ret)
			return ret;
	}
	return 0;
}

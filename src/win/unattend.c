/*
 * Windows Setup answer files (unattend.xml): a well-formedness check for
 * the file --unattend installs, and the passwords an answer file gives the
 * built-in Administrator, which Setup applies at first boot over the one
 * --admin-password wrote into the SAM.
 *
 * Sources: Microsoft's unattend reference, Microsoft-Windows-Shell-Setup
 * "UserAccounts/AdministratorPassword", "UserAccounts/LocalAccounts/
 * LocalAccount", "AutoLogon/Password"; "Hide sensitive data in an answer
 * file" (learn.microsoft.com/windows-hardware/customize/desktop/wsim/
 * hide-sensitive-data-in-an-answer-file): with PlainText false, Value is
 * base64 of the UTF-16LE password followed by the element's name
 * ("AdministratorPassword", "Password").
 *
 * libxml2 parses; its options keep a hostile file inside the process's
 * limits: XML_PARSE_NONET (no network), no XML_PARSE_DTDLOAD, no
 * XML_PARSE_NOENT (entities are not substituted, so no external entity
 * is ever read), no XML_PARSE_HUGE (libxml2's own size and depth caps),
 * and XML_PARSE_NOERROR | XML_PARSE_NOWARNING: the library never prints,
 * the error is taken from the parser context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <nettle/base64.h>

#include "common/utf16.h"
#include "win/win_internal.h"

#define UNATTEND_PARSE_OPTIONS \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

const char *bw_unattend_pw_kind_name(enum bw_unattend_pw_kind k)
{
	switch (k) {
	case BW_UNATTEND_ADMINISTRATOR_PASSWORD: return "AdministratorPassword";
	case BW_UNATTEND_LOCAL_ACCOUNT: return "LocalAccount Administrator";
	case BW_UNATTEND_AUTOLOGON: return "AutoLogon";
	}
	return "?";
}

/* The parser's first error (it reports more after it, such as
 * "Premature end of data", which say less). */
struct first_error {
	int have;
	long line;
	char what[300];
};

static void keep_first_error(void *ctx, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct first_error *fe = ctxt ? ctxt->_private : NULL;
	if (!fe || fe->have || !e || e->level < XML_ERR_ERROR)
		return;
	fe->have = 1;
	fe->line = e->line;
	snprintf(fe->what, sizeof fe->what, "%s", e->message ? e->message : "not well-formed");
	size_t n = strlen(fe->what);
	while (n && (fe->what[n - 1] == '\n' || fe->what[n - 1] == ' '))
		fe->what[--n] = '\0';
}

/* Parse DATA into *DOC (xmlFreeDoc it).  0 or a code naming the line. */
static int unattend_parse(const void *data, size_t len, const char *label, xmlDocPtr *doc,
			  struct bw_error *err)
{
	*doc = NULL;
	if (len > BW_UNATTEND_MAX_BYTES)
		return bw_seterr(err, BW_EINVAL, label, "%zu bytes: an answer file is at most %u",
				 len, BW_UNATTEND_MAX_BYTES);
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return bw_seterr(err, BW_ENOMEM, label, "out of memory");
	/* libxml2 2.9 hands structured errors to the SAX handler's serror
	 * with the context as user data: no global handler is touched. */
	struct first_error fe = { 0 };
	ctxt->_private = &fe;
	ctxt->sax->serror = keep_first_error;
	/* An empty file: libxml2 wants at least one byte of buffer. */
	*doc = xmlCtxtReadMemory(ctxt, len ? data : "", (int)len, NULL, NULL,
				 UNATTEND_PARSE_OPTIONS);
	int r = 0;
	if (!*doc || !ctxt->wellFormed) {
		if (!fe.have) {
			const xmlError *e = xmlCtxtGetLastError(ctxt);
			if (e && e->message)
				keep_first_error(ctxt, (xmlErrorPtr)e);
		}
		r = bw_seterr(err, BW_EFORMAT, label,
			      "line %ld: not well-formed XML (libxml2: %s); expected an answer file (<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">)",
			      fe.have ? fe.line : 0L, fe.have ? fe.what : "not well-formed");
		xmlFreeDoc(*doc);
		*doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return r;
}

int bw_unattend_check(const void *data, size_t len, const char *label, struct bw_error *err)
{
	xmlDocPtr doc;
	int r = unattend_parse(data, len, label, &doc, err);
	xmlFreeDoc(doc);
	return r;
}

static int is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

/* The element's text, trimmed; malloc'd ("" when empty), NULL on ENOMEM. */
static char *text_of(const xmlNode *n)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *s = t ? (const char *)t : "";
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
		       s[len - 1] == '\n'))
		len--;
	char *out = strndup(s, len);
	xmlFree(t);
	return out;
}

static int text_is(const xmlNode *n, const char *want)
{
	char *t = text_of(n);
	int same = t && !strcasecmp(t, want);
	free(t);
	return same;
}

/*
 * Does VALUE (as written, plaintext or hidden with SUFFIX) give PASSWORD?
 * 1 yes, 0 no, -1 a hidden value that does not decode as Setup writes it.
 */
static int password_same(const char *value, int plaintext, const char *suffix,
			 const char *password)
{
	if (plaintext)
		return strcmp(value, password) == 0;
	size_t vlen = strlen(value);
	uint8_t *raw = malloc(BASE64_DECODE_LENGTH(vlen) + 1);
	size_t plen = strlen(password), slen = strlen(suffix);
	uint8_t *want = malloc(2 * (plen + slen) + 2);
	int same = -1;
	struct base64_decode_ctx b64;
	size_t rawlen = BASE64_DECODE_LENGTH(vlen) + 1, wl = 0, sl = 0;
	base64_decode_init(&b64);
	if (!raw || !want || !base64_decode_update(&b64, &rawlen, raw, vlen, value) ||
	    !base64_decode_final(&b64) || rawlen % 2)
		goto out;
	/* The decoded text must end with the suffix Setup appends. */
	if (bw_utf8_to_utf16le(password, plen, want, 2 * plen + 2, &wl, NULL) != 0 ||
	    bw_utf8_to_utf16le(suffix, slen, want + wl, 2 * slen + 2, &sl, NULL) != 0)
		goto out;
	if (rawlen < sl || memcmp(raw + rawlen - sl, want + wl, sl) != 0)
		goto out;
	same = rawlen == wl + sl && memcmp(raw, want, wl) == 0;
out:
	free(raw);
	free(want);
	return same;
}

struct pw_walk {
	const char *password;
	struct bw_unattend_password *out;
	size_t max, n;
	int nomem;
};

/* A password element (Value + PlainText) found for the Administrator. */
static void found(struct pw_walk *w, const xmlNode *pw, enum bw_unattend_pw_kind kind,
		  const char *suffix, const char *pass)
{
	const xmlNode *val = child(pw, "Value");
	const xmlNode *plain = child(pw, "PlainText");
	/* PlainText defaults to true in Windows SIM's schema. */
	int plaintext = !plain || !text_is(plain, "false");
	char *value = text_of(val);
	if (!value) {
		w->nomem = 1;
		return;
	}
	if (w->n < w->max) {
		struct bw_unattend_password *p = &w->out[w->n];
		memset(p, 0, sizeof *p);
		p->kind = kind;
		snprintf(p->pass, sizeof p->pass, "%s", pass ? pass : "");
		p->line = (long)xmlGetLineNo(val ? val : pw);
		p->plaintext = plaintext;
		p->same = password_same(value, plaintext, suffix, w->password);
	}
	w->n++;
	free(value);
}

/* A LocalAccount's or AutoLogon's Username/Name says Administrator
 * (Windows account names ignore letter case). */
static int names_administrator(const xmlNode *n, const char *elem)
{
	const xmlNode *u = child(n, elem);
	return u && text_is(u, "Administrator");
}

static void walk(struct pw_walk *w, const xmlNode *n, const char *pass, unsigned depth)
{
	/* libxml2 caps depth at 256 without XML_PARSE_HUGE; this keeps the
	 * recursion bounded whatever it allows. */
	if (depth > 300)
		return;
	for (const xmlNode *c = n; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		const char *here = pass;
		xmlChar *attr = NULL;
		if (is_elem(c, "settings") && (attr = xmlGetProp(c, (const xmlChar *)"pass")))
			here = (const char *)attr;
		if (is_elem(c, "AdministratorPassword"))
			found(w, c, BW_UNATTEND_ADMINISTRATOR_PASSWORD, "AdministratorPassword", here);
		else if (is_elem(c, "LocalAccount") && names_administrator(c, "Name") &&
			 child(c, "Password"))
			found(w, child(c, "Password"), BW_UNATTEND_LOCAL_ACCOUNT, "Password", here);
		else if (is_elem(c, "AutoLogon") && names_administrator(c, "Username") &&
			 child(c, "Password"))
			found(w, child(c, "Password"), BW_UNATTEND_AUTOLOGON, "Password", here);
		else
			walk(w, c->children, here, depth + 1);
		xmlFree(attr);
	}
}

int bw_unattend_admin_passwords(const void *data, size_t len, const char *label,
				const char *password, struct bw_unattend_password *out,
				size_t max, size_t *n, struct bw_error *err)
{
	*n = 0;
	xmlDocPtr doc;
	int r = unattend_parse(data, len, label, &doc, err);
	if (r)
		return r;
	struct pw_walk w = { .password = password, .out = out, .max = max };
	walk(&w, xmlDocGetRootElement(doc), NULL, 0);
	xmlFreeDoc(doc);
	if (w.nomem)
		return bw_seterr(err, BW_ENOMEM, label, "out of memory");
	*n = w.n;
	return 0;
}

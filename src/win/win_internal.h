/*
 * Internal interface of the win module.  regutil.c is the one file that
 * includes hivex.h: the rest of the module sees hives through struct
 * win_reg and plain node/value numbers, and every hivex failure has
 * already been turned into a bw_error (BW_EHIVE naming the hive) by the
 * time a win_reg_* call returns.
 */
#ifndef BW_WIN_INTERNAL_H
#define BW_WIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/win.h"

/* Registry value types (winnt.h REG_*); hivex uses the same numbers. */
#define WIN_REG_NONE 0
#define WIN_REG_SZ 1
#define WIN_REG_EXPAND_SZ 2
#define WIN_REG_BINARY 3
#define WIN_REG_DWORD 4
#define WIN_REG_DWORD_BIG_ENDIAN 5
#define WIN_REG_LINK 6
#define WIN_REG_MULTI_SZ 7
#define WIN_REG_QWORD 11

/* Strings longer than this (in bytes of UTF-16) are refused, not decoded. */
#define WIN_REG_MAX_STRING_BYTES (1u << 20)
/* REG_MULTI_SZ lists with more strings than this are refused. */
#define WIN_REG_MAX_MULTI_SZ 4096
/* Path components deeper than this in win_reg_lookup are refused. */
#define WIN_REG_MAX_DEPTH 32

/* A node or value of an open hive (hivex's hive_node_h / hive_value_h). */
typedef size_t win_node;
typedef size_t win_value;

/* An open hive, read-only.  Opaque outside regutil.c. */
struct win_reg;

/*
 * Open the hive file PATH read-only; NAME names it in every message.
 * Returns 0, BW_EHIVE (hivex refused it: the errno text is in the
 * message), BW_ENOMEM.
 */
int win_reg_open(const char *path, const char *name, struct win_reg **out,
		 struct bw_error *err);
void win_reg_close(struct win_reg *r);

const char *win_reg_name(const struct win_reg *r);
win_node win_reg_root(const struct win_reg *r);

/*
 * Follow PATH ("A\\B\\C", components matched case-insensitively like
 * Windows does for ASCII names; empty components are ignored, so "" is
 * FROM itself) down from FROM.  Returns 0 (*out set), BW_ENOTFOUND (some
 * component is absent; err untouched), BW_EHIVE, BW_ENOMEM, BW_EINVAL
 * (more than WIN_REG_MAX_DEPTH components).
 */
int win_reg_lookup(struct win_reg *r, win_node from, const char *path,
		   win_node *out, struct bw_error *err);

/*
 * The subkeys of NODE, in hive order.  *out is malloc'd (free it), NULL
 * when *n is 0.  Returns 0, BW_EHIVE, BW_ENOMEM.
 */
int win_reg_children(struct win_reg *r, win_node node, win_node **out,
		     size_t *n, struct bw_error *err);
/* The key name of NODE, UTF-8, malloc'd.  Returns 0, BW_EHIVE, BW_ENOMEM. */
int win_reg_node_name(struct win_reg *r, win_node node, char **out,
		      struct bw_error *err);

/* The values of NODE, like win_reg_children. */
int win_reg_values(struct win_reg *r, win_node node, win_value **out,
		   size_t *n, struct bw_error *err);
/* The name of value V ("" for the default value), UTF-8, malloc'd. */
int win_reg_value_name(struct win_reg *r, win_value v, char **out,
		       struct bw_error *err);
/*
 * Type and data of value V as stored; *data malloc'd (never NULL on
 * success, even when *len is 0).  Returns 0, BW_EHIVE, BW_ENOMEM.
 */
int win_reg_value_raw(struct win_reg *r, win_value v, uint32_t *type,
		      uint8_t **data, size_t *len, struct bw_error *err);

/*
 * Find the value NAME of NODE (case-insensitive).  Returns 0 (*out set),
 * BW_ENOTFOUND (absent; err untouched), BW_EHIVE, BW_ENOMEM.
 */
int win_reg_find_value(struct win_reg *r, win_node node, const char *name,
		       win_value *out, struct bw_error *err);

/*
 * Typed getters for value NAME of NODE.  WHERE is the key path used in
 * messages.  Each returns 0, BW_ENOTFOUND (no such value; err untouched),
 * BW_EFORMAT (present but of another type, or a length that type cannot
 * have), BW_EHIVE, BW_ENOMEM.
 *
 * dword:  REG_DWORD (LE) or REG_DWORD_BIG_ENDIAN, exactly 4 bytes.
 * string: REG_SZ or REG_EXPAND_SZ, UTF-16LE to UTF-8 up to the first NUL
 *         (win_utf16le_to_utf8); *out malloc'd.
 * multi:  REG_MULTI_SZ; *out a malloc'd NULL-terminated array of *n
 *         malloc'd UTF-8 strings (free with win_strv_free).
 * binary: REG_BINARY; *out malloc'd copy of *len bytes.
 */
int win_reg_get_dword(struct win_reg *r, win_node node, const char *where,
		      const char *name, uint32_t *out, struct bw_error *err);
int win_reg_get_string(struct win_reg *r, win_node node, const char *where,
		       const char *name, char **out, struct bw_error *err);
int win_reg_get_multi_sz(struct win_reg *r, win_node node, const char *where,
			 const char *name, char ***out, size_t *n,
			 struct bw_error *err);
int win_reg_get_binary(struct win_reg *r, win_node node, const char *where,
		       const char *name, uint8_t **out, size_t *len,
		       struct bw_error *err);

/*
 * Decode LEN bytes of UTF-16LE to a malloc'd UTF-8 string, stopping at
 * the first NUL unit (or the end; an odd trailing byte is ignored).
 * Surrogate pairs become one 4-byte sequence; a lone surrogate becomes
 * U+FFFD.  *out_len (may be NULL) is the byte length without the NUL.
 * Returns 0, BW_ENOMEM, BW_EFORMAT (LEN > WIN_REG_MAX_STRING_BYTES).
 */
int win_utf16le_to_utf8(const uint8_t *p, size_t len, char **out,
			size_t *out_len);

/*
 * Split REG_MULTI_SZ data: strings end at NUL units, the list at an
 * empty string or at the end of the data (a last string without its NUL
 * is kept).  Returns 0, BW_ENOMEM, BW_EFORMAT (too many strings or too
 * long data).
 */
int win_multi_sz_split(const uint8_t *p, size_t len, char ***out, size_t *n);
void win_strv_free(char **v);

/*
 * Is RULE (a Windows Firewall rule string from FirewallPolicy\FirewallRules,
 * "v2.x|Key=Value|...", keys and values case-insensitive) an active
 * inbound TCP allow rule whose LPort fields (a port, a comma list or a
 * range "lo-hi"; a rule may carry several) include PORT?
 */
int win_firewall_rule_allows(const char *rule, unsigned port);

/* ASCII case-insensitive equality, independent of the locale. */
int win_name_eq(const char *a, const char *b);

#endif

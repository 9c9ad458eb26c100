/*
 * Internal interface of the win module.  regread.c and regwrite.c are the
 * files that include hivex.h (regtext.c converts registry text): the rest
 * of the module sees hives through struct win_reg and plain node/value
 * numbers, and every hivex failure has already been turned into a
 * bw_error (BW_EHIVE naming the hive) by the time a win_reg_* call
 * returns.
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

/* An open hive (read-only, or writable: win_reg_open_write).  Its fields
 * are for regread.c and regwrite.c only (the section at the end). */
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
/*
 * An optional REG_DWORD NAME of NODE as an int: -1 when absent.  Returns
 * what win_reg_get_dword does, except that absent is 0 (*out = -1), and
 * BW_EFORMAT for a value over INT_MAX.
 */
int win_reg_get_opt_int(struct win_reg *r, win_node node, const char *where,
			const char *name, int *out, struct bw_error *err);
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
 * U+FFFD (bw_utf16_to_utf8 with the registry's policy).  *out_len (may be NULL) is the byte length without the NUL.
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

/* ---- regf base block (hive.c) ----------------------------------------- */

/* Where the base block's checksum lies (msuhanov/regf "Base block"); it
 * covers the 127 LE32 words before it. */
#define WIN_REGF_CHECKSUM_OFF 0x1FC

/*
 * The base-block checksum as Windows computes it: the XOR of the first 127
 * LE32 words of BASE (WIN_REGF_CHECKSUM_OFF bytes must be readable),
 * except that 0xFFFFFFFF is stored as 0xFFFFFFFE and 0 as 1 (msuhanov/regf,
 * "Base block", note on the checksum).  hivex_commit writes the plain XOR.
 */
uint32_t win_regf_checksum(const uint8_t *base);

/* ---- writing (regwrite.c) --------------------------------------------
 *
 * A hive opened with win_reg_open_write is held in memory by hivex (it
 * reads the whole file); nothing reaches the disk before win_reg_commit,
 * which writes a temporary file beside the hive and renames it over the
 * original only when hivex_commit succeeded and the result is a clean
 * hive hivex reopens.  A failure at any step leaves the original file as
 * it was.
 */

/*
 * hivex_node_set_values (which every value write goes through: hivex has
 * no call that changes one value alone) rewrites ALL values of the key,
 * each as one plain data cell.  Windows reads data longer than this from
 * a "big data" (db) record on hives of version 1.4 and later (msuhanov/
 * regf, "Big data"), so a key holding a longer value cannot be rewritten
 * without corrupting that value: refused.
 */
#define WIN_REG_MAX_CELL_DATA 16344
/* Windows' limits on names, in UTF-16 units (RegCreateKeyEx, RegSetValueEx). */
#define WIN_REG_MAX_KEY_NAME 255
#define WIN_REG_MAX_VALUE_NAME 16383

/*
 * Open the hive file PATH for writing.  WHAT ("SYSTEM", "SOFTWARE", "BCD")
 * names the hive in the dirty-hive message; PATH names it elsewhere.  The
 * base block is checked first (bw_hive_check_file): a dirty hive is
 * refused before hivex even opens it.  Returns 0, BW_EDIRTY, BW_EFORMAT
 * (not a hive), BW_ENOTFOUND, BW_EIO, BW_EHIVE, BW_ENOMEM.
 */
int win_reg_open_write(const char *path, const char *what,
		       struct win_reg **out, struct bw_error *err);

/* How many changes (keys created or deleted, values set or deleted) an
 * open hive holds that are not committed yet. */
unsigned win_reg_pending(const struct win_reg *r);

/*
 * mkdir -p: follow PATH below FROM like win_reg_lookup (ASCII case-
 * insensitive; an existing key keeps its case) and create each missing
 * component with the name as given.  Empty components are refused here
 * (a .reg file's "A\\B" is a typing error, not "A\B").  *created (may
 * be NULL) is increased by the number of keys made.  Returns 0, BW_EINVAL
 * (empty, too long or non-UTF-8 name; too deep), BW_EHIVE, BW_ENOMEM.
 */
int win_reg_create_path(struct win_reg *r, win_node from, const char *path,
			win_node *out, unsigned *created,
			struct bw_error *err);

/*
 * Set value NAME ("" = the default value) of NODE to TYPE and LEN bytes of
 * DATA, keeping every other value of the key as it was (type, data, name,
 * order).  An existing value matched case-insensitively keeps its name's
 * case.  When the value already holds exactly TYPE and DATA nothing is
 * written and *changed (may be NULL) is 0, else 1.  WHERE is the key path
 * for messages.  Returns 0, BW_EINVAL (name not UTF-8 or too long; the
 * hive is not open for writing), BW_EUNSUPPORTED (the key holds, or would
 * hold, data over WIN_REG_MAX_CELL_DATA), BW_EHIVE, BW_ENOMEM.
 */
int win_reg_set_value(struct win_reg *r, win_node node, const char *where,
		      const char *name, uint32_t type, const uint8_t *data,
		      size_t len, int *changed, struct bw_error *err);
/* REG_DWORD (LE), and REG_SZ from UTF-8 (UTF-16LE with its NUL). */
int win_reg_set_dword(struct win_reg *r, win_node node, const char *where,
		      const char *name, uint32_t v, int *changed,
		      struct bw_error *err);
int win_reg_set_string(struct win_reg *r, win_node node, const char *where,
		       const char *name, const char *utf8, int *changed,
		       struct bw_error *err);
/*
 * Delete value NAME of NODE; absent is no error (*deleted = 0).  Same
 * returns as win_reg_set_value.
 */
int win_reg_delete_value(struct win_reg *r, win_node node, const char *where,
			 const char *name, int *deleted, struct bw_error *err);
/* Delete key NODE with all its subkeys and values (never the root).
 * Returns 0, BW_EINVAL (the root), BW_EHIVE, BW_ENOMEM. */
int win_reg_delete_key(struct win_reg *r, win_node node, const char *where,
		       struct bw_error *err);

/*
 * Write the hive back to the path it was opened from, atomically (see
 * above): hivex_commit to PATH.bwtmp.XXXXXX in the same directory, the
 * base-block checksum made Windows' (0 and ~0 are stored as 1 and ~0-1,
 * which hivex does not do), fsync, check it is clean and reopens, keep
 * the original's permission bits, rename over PATH.  Returns 0, BW_EIO,
 * BW_EHIVE, BW_ENOMEM.
 */
int win_reg_commit(struct win_reg *r, struct bw_error *err);

/*
 * UTF-8 (LEN bytes; NULs allowed and kept) to UTF-16LE, with a NUL unit
 * appended when NUL_TERMINATE.  Strict: overlong forms, surrogates and
 * code points over U+10FFFF are refused.  *out malloc'd (never NULL on
 * success).  Returns 0, BW_EFORMAT (not UTF-8, or longer than
 * WIN_REG_MAX_STRING_BYTES of output), BW_ENOMEM.
 */
int win_utf8_to_utf16le(const char *s, size_t len, int nul_terminate,
			uint8_t **out, size_t *out_len);
/* UTF-8 checks and lengths are common/utf16.h's bw_utf8_valid and
 * bw_utf8_utf16_units. */

/* ---- .reg files (regfile.c) -------------------------------------------- */

/* Caps on a .reg file: whole file, one physical line. */
#define WIN_REGFILE_MAX_BYTES (16u << 20)
#define WIN_REGFILE_MAX_LINE (1u << 20)

enum win_hive_kind { WIN_HIVE_SOFTWARE, WIN_HIVE_SYSTEM };

struct win_regfile;

/*
 * Parse the regedit file PATH ("REGEDIT4" or "Windows Registry Editor
 * Version 5.00"; UTF-16LE with a BOM or UTF-8).  Every error names
 * PATH:LINE and what was expected.  Returns 0, BW_ENOTFOUND, BW_EIO,
 * BW_EFORMAT (syntax), BW_EUNSUPPORTED (a root other than
 * HKEY_LOCAL_MACHINE\SOFTWARE or \SYSTEM; over a cap; an encoding we do
 * not read), BW_EINVAL (deleting a hive's root), BW_ENOMEM.
 */
int win_regfile_parse(const char *path, struct win_regfile **out,
		      struct bw_error *err);
void win_regfile_free(struct win_regfile *rf);

/* Does RF touch hive KIND at all; does it name SYSTEM\CurrentControlSet? */
int win_regfile_touches(const struct win_regfile *rf, enum win_hive_kind kind);
int win_regfile_uses_ccs(const struct win_regfile *rf);

/*
 * Apply RF's sections for hive KIND, in file order, to R.  LIVE_CS is the
 * ControlSet00N name CurrentControlSet maps to (NULL: refuse sections that
 * use it).  Counts go to REP.  A failure names RF's file and line.
 * Returns 0 or what the win_reg_* write calls return.
 */
int win_regfile_apply(const struct win_regfile *rf, enum win_hive_kind kind,
		      struct win_reg *r, const char *live_cs,
		      struct bw_win_report *rep, struct bw_error *err);

/* ---- SYSTEM helpers (edit.c) ------------------------------------------ */

/*
 * The live control set of a SYSTEM hive: Select\Current (1..999) and the
 * ControlSet00N key it names.  NAME gets "ControlSet00N".  Returns 0,
 * BW_EFORMAT (missing or out of range; the key absent), BW_EHIVE,
 * BW_ENOMEM.
 */
int win_system_live_controlset(struct win_reg *r, char name[16],
			       win_node *cs, struct bw_error *err);

/* Is NAME a GUID in registry form, "{8-4-4-4-12}" (any letter case;
 * bcd.c)?  1 or 0. */
int win_is_guid_name(const char *name);

/* A BCD element key name: exactly 8 hex digits (bcd.c); 0 or -1. */
int win_bcd_element_id(const char *name, uint32_t *id);

/*
 * Call FN for each element of the BCD object OBJ (key GUID) whose key
 * name is an element id: its node, its id and "Objects\GUID\Elements\ID"
 * for messages (bcd.c).  An object without Elements has none.  More than
 * BW_BCD_MAX_ELEMENTS is BW_EFORMAT.  Stops at FN's first non-zero
 * return and returns it; else 0, BW_EHIVE, BW_ENOMEM.
 */
typedef int (*win_bcd_element_fn)(struct win_reg *r, win_node elem, uint32_t id,
				  const char *where, void *ctx, struct bw_error *err);
int win_bcd_each_element(struct win_reg *r, win_node obj, const char *guid,
			 win_bcd_element_fn fn, void *ctx, struct bw_error *err);

/*
 * Call FN for every key under the store's Objects key, in hive order, with
 * its node and name (every name: whether it must be a GUID is the
 * caller's rule).  FILE names the store in messages.  No Objects key, or
 * more than BW_BCD_MAX_OBJECTS objects, is BW_EFORMAT.  Stops at FN's
 * first non-zero return and returns it; else 0, BW_EHIVE, BW_ENOMEM.
 */
typedef int (*win_bcd_object_fn)(struct win_reg *r, win_node obj,
				 const char *key, void *ctx,
				 struct bw_error *err);
int win_bcd_each_object(struct win_reg *r, const char *file,
			win_bcd_object_fn fn, void *ctx, struct bw_error *err);

/* ---- the hivex side: shared by regread.c and regwrite.c only ---------- */

struct hive_h;                   /* hivex.h's hive_h */

struct win_reg {
	struct hive_h *h;
	char *name;
	char *path;              /* where win_reg_commit writes back */
	int writable;
	unsigned pending;        /* uncommitted changes */
};

/* Turn the errno E of a failed hivex call (WHAT was being done) into a
 * bw_error naming the hive; returns BW_ENOMEM or BW_EHIVE. */
int win_reg_fail(const struct win_reg *r, int e, const char *what,
		 struct bw_error *err);

/*
 * The child of NODE named COMP (LEN bytes, no NUL needed), ASCII
 * case-insensitively.  *found = 0 when there is none.  Returns 0,
 * BW_EHIVE, BW_ENOMEM.
 */
int win_reg_find_child(struct win_reg *r, win_node node, const char *comp,
		       size_t len, win_node *found, struct bw_error *err);

/* The number of non-empty components of a key path "A\\B\\C". */
int win_reg_path_depth(const char *path);

/* ---- drivers.c ---------------------------------------------------------- */

/* One row of the driver table: the service name, what it drives, and
 * whether it is on the boot disk's path (must be a boot driver). */
struct win_driver_def {
	const char *service;
	const char *what;
	enum bw_driver_kind kind;
	int boot;
};
extern const struct win_driver_def win_drivers[BW_NUM_DRIVERS];

#endif

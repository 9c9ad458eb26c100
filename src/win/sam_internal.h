/*
 * Internal interface of the SAM code: the byte-level formats and the
 * cryptography of samfmt.c (no hivex: the fuzz harness and the unit tests
 * link it alone), used by sam.c, which does the hive side.
 * FORMATS.md "SAM"; impacket's examples/secretsdump.py (SAMHashes) and
 * its structures SAM_KEY_DATA, SAM_KEY_DATA_AES, SAM_HASH, SAM_HASH_AES,
 * DOMAIN_ACCOUNT_F and USER_ACCOUNT_V are the readable references.
 */
#ifndef BW_WIN_SAM_INTERNAL_H
#define BW_WIN_SAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

#define SAM_BOOTKEY_LEN 16
#define SAM_HBK_LEN 16           /* the part of the hashed boot key used */
#define SAM_NT_HASH_LEN 16
#define SAM_AES_SALT_LEN 16

/* ---- boot key (SYSTEM\ControlSet00N\Control\Lsa) ----------------------- */

/* The four Lsa subkeys whose class names hold the boot key, in order. */
extern const char *const sam_lsa_keys[4];
/* Each class name is 8 hex digits in UTF-16LE. */
#define SAM_LSA_CLASS_BYTES 16

/*
 * The boot key from the four class names (each SAM_LSA_CLASS_BYTES of
 * UTF-16LE hex text, in sam_lsa_keys order): the 16 bytes they spell,
 * permuted.  Returns 0 or BW_EUNSUPPORTED (a unit that is not a hex digit;
 * err names FILE and the key).
 */
int sam_bootkey_from_classes(const uint8_t classes[4][SAM_LSA_CLASS_BYTES],
			     const char *file, uint8_t bootkey[SAM_BOOTKEY_LEN],
			     struct bw_error *err);

/* ---- SAM\Domains\Account\F ---------------------------------------------- */

/* Key revisions at F+0x68 (the first LE32 of SAM_KEY_DATA[_AES]). */
#define SAM_KEY_RC4 1            /* before Windows 10 1607 */
#define SAM_KEY_AES 2            /* Windows 10 1607 / Server 2016 on */

/*
 * Decrypt the hashed boot key from the domain's F value (LEN bytes) with
 * BOOTKEY, and check it: revision 1 against its MD5 checksum, revision 2
 * by its AES padding (the 16-byte key padded to DataLen = 32 bytes).
 * *revision is SAM_KEY_RC4 or SAM_KEY_AES.  WHERE names the value.
 * Returns 0, BW_EFORMAT (F too short for what its header says),
 * BW_EUNSUPPORTED (an F or key revision we do not know, lengths other
 * than Windows writes, a checksum that does not match: a SYSTEM from
 * another installation or a syskey startup password).
 */
int sam_hashed_bootkey(const uint8_t *f, size_t len,
		       const uint8_t bootkey[SAM_BOOTKEY_LEN], const char *where,
		       uint8_t hbk[SAM_HBK_LEN], int *revision,
		       struct bw_error *err);

/*
 * Only the key revision of the domain's F value (1 or 2), for reports:
 * the same checks as sam_hashed_bootkey short of decrypting.
 */
int sam_key_revision(const uint8_t *f, size_t len, const char *where,
		     int *revision, struct bw_error *err);

/* ---- Users\<RID>\V --------------------------------------------------- */

/* V starts with 17 (offset, length, unknown) LE32 triples; offsets count
 * from the end of that table. */
#define SAM_V_ENTRIES 17
#define SAM_V_DATA 0xCC
#define SAM_V_NAME 1             /* entry at 0x0C: the user name, UTF-16LE */
#define SAM_V_LM 13              /* entry at 0x9C */
#define SAM_V_NT 14              /* entry at 0xA8 */
/* A V longer than this is no user record (Windows' run ~1 KiB). */
#define SAM_V_MAX (64u * 1024)

struct sam_v {
	uint32_t off[SAM_V_ENTRIES];  /* relative to SAM_V_DATA */
	uint32_t len[SAM_V_ENTRIES];
};

/*
 * Parse V's table: every entry's data must lie inside V.  Returns 0,
 * BW_EFORMAT (shorter than the table, longer than SAM_V_MAX, an entry
 * pointing outside it).
 */
int sam_v_parse(const uint8_t *v, size_t len, const char *where,
		struct sam_v *out, struct bw_error *err);

/*
 * A copy of V with entry I's data replaced by DATA (DLEN bytes): the
 * bytes after it move, and so do the offsets of every entry that lies
 * after it; the 4-byte alignment Windows keeps between entries is kept.
 * An entry that overlaps entry I is refused (BW_EUNSUPPORTED): we would
 * not know what we cut.  *out malloc'd.  Returns 0, BW_EFORMAT,
 * BW_EUNSUPPORTED, BW_ENOMEM.
 */
int sam_v_replace(const uint8_t *v, size_t len, unsigned i,
		  const uint8_t *data, size_t dlen, const char *where,
		  uint8_t **out, size_t *out_len, struct bw_error *err);

/* ---- hash entries (SAM_HASH, SAM_HASH_AES) ------------------------------ */

#define SAM_HASH_RC4_LEN 20      /* pekID, revision 1, 16 bytes */
#define SAM_HASH_AES_HDR 24      /* pekID, revision 2, data offset, salt */
#define SAM_HASH_AES_LEN 56      /* header + AES-CBC of 16 bytes padded to 32 */
/* The data offset field of a revision-2 entry when there is none to copy:
 * no reader uses it (impacket, mimikatz); 16 is the hash's length before
 * padding, which is what we take the field to hold. */
#define SAM_HASH_AES_DATA_OFFSET 16

struct sam_hash_entry {
	int revision;            /* 0: no entry at all (length 0), 1 or 2 */
	int has_hash;            /* it holds an encrypted hash */
	uint16_t pek_id;
	uint32_t data_offset;    /* revision 2 */
	uint8_t salt[SAM_AES_SALT_LEN];   /* revision 2 */
};

/*
 * Classify a hash entry (DATA, LEN as V holds it): length 0; a 4-byte
 * revision-1 header or 20 bytes; a 24-byte revision-2 header or 56 bytes.
 * Returns 0, BW_EUNSUPPORTED (anything else).
 */
int sam_hash_entry_parse(const uint8_t *data, size_t len, const char *where,
			 struct sam_hash_entry *out, struct bw_error *err);

/* The two DES keys Windows derives from a RID ([MS-SAMR] 2.2.11.1.3). */
void sam_rid_des_keys(uint32_t rid, uint8_t k1[8], uint8_t k2[8]);

/* NT hash = MD4(UTF-16LE(password)). */
void sam_nt_hash(const uint8_t *utf16, size_t len,
		 uint8_t out[SAM_NT_HASH_LEN]);

/*
 * Encrypt NT_HASH for RID as an entry of REVISION (SAM_KEY_RC4: 20 bytes;
 * SAM_KEY_AES: 56 bytes, with SALT as IV and DATA_OFFSET as found) with
 * the hashed boot key; PEK_ID is copied.  OUT has room for
 * SAM_HASH_AES_LEN; *out_len set.
 */
void sam_hash_encrypt(int revision, const uint8_t hbk[SAM_HBK_LEN],
		      uint32_t rid, const uint8_t nt_hash[SAM_NT_HASH_LEN],
		      uint16_t pek_id, uint32_t data_offset,
		      const uint8_t salt[SAM_AES_SALT_LEN], uint8_t *out,
		      size_t *out_len);

/*
 * Decrypt an NT hash entry that sam_hash_entry_parse said has_hash.
 * Returns 0, BW_EUNSUPPORTED (AES padding wrong).
 */
int sam_hash_decrypt(const uint8_t *data, size_t len,
		     const uint8_t hbk[SAM_HBK_LEN], uint32_t rid,
		     const char *where, uint8_t nt_hash[SAM_NT_HASH_LEN],
		     struct bw_error *err);

/* ---- Users\<RID>\F ------------------------------------------------------ */

#define SAM_USER_F_MIN 0x44      /* through the logon counters */
#define SAM_USER_F_PWD_LAST_SET 0x18   /* FILETIME */
#define SAM_USER_F_RID 0x30
#define SAM_USER_F_ACB 0x38      /* LE16 account control bits */
#define SAM_USER_F_BAD_PWD_COUNT 0x40  /* LE16 */
#define SAM_ACB_DISABLED 0x0001
#define SAM_ACB_AUTOLOCK 0x0400  /* locked out by bad passwords */

/*
 * Check a user's F value (at least SAM_USER_F_MIN bytes, naming RID at
 * 0x30).  Returns 0, BW_EFORMAT (short), BW_EUNSUPPORTED (another RID).
 */
int sam_user_f_check(const uint8_t *f, size_t len, uint32_t rid,
		     const char *where, struct bw_error *err);

#endif

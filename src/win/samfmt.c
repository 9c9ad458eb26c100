/*
 * The SAM hive's account records and their cryptography, on bytes only
 * (sam.c reads and writes the hives): the boot key from the Lsa class
 * names, the hashed boot key in SAM\Domains\Account\F (RC4 or AES), the
 * per-user V table and its hash entries, and the user's F flags.
 * FORMATS.md "SAM"; the layouts are those impacket's secretsdump.py
 * reads (SAM_KEY_DATA, SAM_KEY_DATA_AES, SAM_HASH, SAM_HASH_AES,
 * DOMAIN_ACCOUNT_F, USER_ACCOUNT_V) and [MS-SAMR] 2.2.11.1 (the DES layer
 * keyed by the RID).  Everything here checks a length before it reads.
 *
 * Crypto is nettle's (MD4, MD5, ARCFOUR, DES, AES-128 in CBC mode).
 */
#include <stdlib.h>
#include <string.h>

#include <nettle/aes.h>
#include <nettle/arcfour.h>
#include <nettle/cbc.h>
#include <nettle/des.h>
#include <nettle/md4.h>
#include <nettle/md5.h>

#include "common/bytes.h"
#include "win/sam_internal.h"

const char *const sam_lsa_keys[4] = { "JD", "Skew1", "GBG", "Data" };

/* The order in which the class names' 16 bytes make the boot key
 * (secretsdump's LocalOperations.getBootKey, FORMATS.md). */
static const uint8_t bootkey_perm[SAM_BOOTKEY_LEN] = {
	8, 5, 4, 2, 11, 9, 13, 3, 0, 6, 1, 12, 14, 10, 15, 7
};

/* The constants mixed into the revision-1 key (each with its NUL, as
 * samsrv.dll hashes them). */
static const char sam_qwerty[] =
	"!@#$%^&*()qwertyUIOPAzxcvbnmQQQQQQQQQQQQ)(*@&%";
static const char sam_digits[] = "0123456789012345678901234567890123456789";
static const char sam_ntpassword[] = "NTPASSWORD";

/* ---- domain F (DOMAIN_ACCOUNT_F) ------------------------------------- */
#define DOMF_REVISION 0x00       /* LE16: 2 or 3 (mimikatz reads both) */
#define DOMF_KEY0 0x68           /* SAM_KEY_DATA or SAM_KEY_DATA_AES */
/* SAM_KEY_DATA (revision 1), offsets in F */
#define KEY1_SALT 0x70
#define KEY1_KEY 0x80            /* 16 bytes key, then 16 bytes checksum */
#define KEY1_END 0xA0
/* SAM_KEY_DATA_AES (revision 2), offsets in F */
#define KEY2_CHECK_LEN 0x70
#define KEY2_DATA_LEN 0x74
#define KEY2_SALT 0x78
#define KEY2_DATA 0x88
/* The 16-byte hashed boot key padded to one more AES block. */
#define KEY2_DATA_LEN_WINDOWS 32

/* ---- hash entries ---------------------------------------------------- */
#define HASH_PEK_ID 0            /* LE16 */
#define HASH_REVISION 2          /* LE16: 1 RC4, 2 AES */
#define HASH_RC4_DATA 4
#define HASH_AES_DATA_OFFSET 4   /* LE32 */
#define HASH_AES_SALT 8
#define HASH_AES_DATA 24
#define HASH_HDR_RC4 4           /* an empty revision-1 entry */

static int hexval(uint16_t u)
{
	if (u >= '0' && u <= '9')
		return u - '0';
	if (u >= 'a' && u <= 'f')
		return u - 'a' + 10;
	if (u >= 'A' && u <= 'F')
		return u - 'A' + 10;
	return -1;
}

int sam_bootkey_from_classes(const uint8_t classes[4][SAM_LSA_CLASS_BYTES],
			     const char *file, uint8_t bootkey[SAM_BOOTKEY_LEN],
			     struct bw_error *err)
{
	uint8_t raw[SAM_BOOTKEY_LEN];
	for (int k = 0; k < 4; k++) {
		for (int b = 0; b < 4; b++) {
			const uint8_t *p = classes[k] + 4 * b;
			int hi = hexval(bw_get_le16(p));
			int lo = hexval(bw_get_le16(p + 2));
			if (hi < 0 || lo < 0)
				return bw_seterr(err, BW_EUNSUPPORTED, file,
						 "Control\\Lsa\\%s: class name is not 8 hex digits",
						 sam_lsa_keys[k]);
			raw[4 * k + b] = (uint8_t)(hi << 4 | lo);
		}
	}
	for (int i = 0; i < SAM_BOOTKEY_LEN; i++)
		bootkey[i] = raw[bootkey_perm[i]];
	return 0;
}

/* Undo PKCS#7 padding of a 16-byte plaintext in one 32-byte buffer. */
static int pad16_ok(const uint8_t *p)
{
	uint8_t acc = 0;
	for (int i = 16; i < 32; i++)
		acc |= (uint8_t)(p[i] ^ 16);
	return acc == 0;
}

static void aes128_cbc(int encrypt, const uint8_t key[16],
		       const uint8_t iv_in[16], size_t len, uint8_t *dst,
		       const uint8_t *src)
{
	struct aes128_ctx ctx;
	uint8_t iv[16];
	memcpy(iv, iv_in, 16);
	if (encrypt) {
		aes128_set_encrypt_key(&ctx, key);
		cbc_encrypt(&ctx, (nettle_cipher_func *)aes128_encrypt, 16, iv,
			    len, dst, src);
	} else {
		aes128_set_decrypt_key(&ctx, key);
		cbc_decrypt(&ctx, (nettle_cipher_func *)aes128_decrypt, 16, iv,
			    len, dst, src);
	}
}

int sam_key_revision(const uint8_t *f, size_t len, const char *where,
		     int *revision, struct bw_error *err)
{
	if (len < DOMF_KEY0 + 4)
		return bw_seterr(err, BW_EFORMAT, where,
				 "%zu bytes, expected at least %d", len,
				 DOMF_KEY0 + 4);
	unsigned frev = bw_get_le16(f + DOMF_REVISION);
	if (frev != 2 && frev != 3)
		return bw_seterr(err, BW_EUNSUPPORTED, where,
				 "revision %u at offset 0, expected 2 or 3", frev);
	uint32_t krev = bw_get_le32(f + DOMF_KEY0);
	if (krev == SAM_KEY_RC4) {
		if (len < KEY1_END)
			return bw_seterr(err, BW_EFORMAT, where,
					 "%zu bytes, expected at least %d for a revision-1 key",
					 len, KEY1_END);
	} else if (krev == SAM_KEY_AES) {
		if (len < KEY2_DATA)
			return bw_seterr(err, BW_EFORMAT, where,
					 "%zu bytes, expected at least %d for a revision-2 key",
					 len, KEY2_DATA);
		uint32_t data_len = bw_get_le32(f + KEY2_DATA_LEN);
		if (data_len != KEY2_DATA_LEN_WINDOWS)
			return bw_seterr(err, BW_EUNSUPPORTED, where,
					 "key data length %u at offset 0x%x, expected %d",
					 (unsigned)data_len, KEY2_DATA_LEN,
					 KEY2_DATA_LEN_WINDOWS);
		if (len - KEY2_DATA < data_len)
			return bw_seterr(err, BW_EFORMAT, where,
					 "%zu bytes, expected at least %u for the revision-2 key data",
					 len, (unsigned)(KEY2_DATA + data_len));
	} else {
		return bw_seterr(err, BW_EUNSUPPORTED, where,
				 "key revision %u at offset 0x%x, expected 1 (RC4) or 2 (AES)",
				 (unsigned)krev, DOMF_KEY0);
	}
	*revision = (int)krev;
	return 0;
}

int sam_hashed_bootkey(const uint8_t *f, size_t len,
		       const uint8_t bootkey[SAM_BOOTKEY_LEN], const char *where,
		       uint8_t hbk[SAM_HBK_LEN], int *revision,
		       struct bw_error *err)
{
	int krev;
	int ret = sam_key_revision(f, len, where, &krev, err);
	if (ret)
		return ret;
	if (krev == SAM_KEY_RC4) {
		struct md5_ctx md5;
		uint8_t rc4_key[MD5_DIGEST_SIZE], dec[32], sum[MD5_DIGEST_SIZE];
		md5_init(&md5);
		md5_update(&md5, 16, f + KEY1_SALT);
		md5_update(&md5, sizeof sam_qwerty, (const uint8_t *)sam_qwerty);
		md5_update(&md5, SAM_BOOTKEY_LEN, bootkey);
		md5_update(&md5, sizeof sam_digits, (const uint8_t *)sam_digits);
		md5_digest(&md5, sizeof rc4_key, rc4_key);
		struct arcfour_ctx rc4;
		arcfour_set_key(&rc4, sizeof rc4_key, rc4_key);
		arcfour_crypt(&rc4, 32, dec, f + KEY1_KEY);
		md5_init(&md5);
		md5_update(&md5, 16, dec);
		md5_update(&md5, sizeof sam_digits, (const uint8_t *)sam_digits);
		md5_update(&md5, 16, dec);
		md5_update(&md5, sizeof sam_qwerty, (const uint8_t *)sam_qwerty);
		md5_digest(&md5, sizeof sum, sum);
		if (memcmp(sum, dec + 16, 16) != 0)
			return bw_seterr(err, BW_EUNSUPPORTED, where,
					 "the hashed boot key's checksum (offset 0x90) does not match: a SYSTEM hive from another installation, or a syskey startup password");
		memcpy(hbk, dec, SAM_HBK_LEN);
	} else {
		uint8_t dec[KEY2_DATA_LEN_WINDOWS];
		aes128_cbc(0, bootkey, f + KEY2_SALT, sizeof dec, dec,
			   f + KEY2_DATA);
		/* The one check this layout allows: a wrong boot key leaves
		 * no valid padding (16 bytes of 16) after the 16-byte key. */
		if (!pad16_ok(dec))
			return bw_seterr(err, BW_EUNSUPPORTED, where,
					 "the hashed boot key (offset 0x%x) does not decrypt with this boot key: a SYSTEM hive from another installation",
					 KEY2_DATA);
		memcpy(hbk, dec, SAM_HBK_LEN);
	}
	*revision = krev;
	return 0;
}

/* ---- V ------------------------------------------------------------------ */

int sam_v_parse(const uint8_t *v, size_t len, const char *where,
		struct sam_v *out, struct bw_error *err)
{
	if (len < SAM_V_DATA)
		return bw_seterr(err, BW_EFORMAT, where,
				 "%zu bytes, shorter than its %d-byte table",
				 len, SAM_V_DATA);
	if (len > SAM_V_MAX)
		return bw_seterr(err, BW_EFORMAT, where,
				 "%zu bytes, more than %u", len, SAM_V_MAX);
	size_t data = len - SAM_V_DATA;
	for (unsigned i = 0; i < SAM_V_ENTRIES; i++) {
		uint32_t off = bw_get_le32(v + 12 * i);
		uint32_t l = bw_get_le32(v + 12 * i + 4);
		if (off > data || l > data - off)
			return bw_seterr(err, BW_EFORMAT, where,
					 "entry %u (at 0x%x): offset 0x%x length %u past the %zu data bytes",
					 i, 12 * i, (unsigned)off, (unsigned)l, data);
		out->off[i] = off;
		out->len[i] = l;
	}
	return 0;
}

static size_t round4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

int sam_v_replace(const uint8_t *v, size_t len, unsigned i,
		  const uint8_t *data, size_t dlen, const char *where,
		  uint8_t **out, size_t *out_len, struct bw_error *err)
{
	*out = NULL;
	*out_len = 0;
	struct sam_v t;
	int ret = sam_v_parse(v, len, where, &t, err);
	if (ret)
		return ret;
	if (i >= SAM_V_ENTRIES || dlen > SAM_V_MAX)
		return bw_seterr(err, BW_EINVAL, where,
				 "entry %u of %zu bytes cannot be written", i, dlen);
	size_t size = len - SAM_V_DATA;
	size_t old_off = t.off[i], old_end = old_off + t.len[i];
	/* The old entry's room: its bytes and the padding after them, up to
	 * the next entry that holds data or the end of V. */
	size_t next = size;
	for (unsigned j = 0; j < SAM_V_ENTRIES; j++) {
		if (j == i || t.len[j] == 0)
			continue;
		size_t s = t.off[j], e = s + t.len[j];
		if (s < old_end && e > old_off)
			return bw_seterr(err, BW_EUNSUPPORTED, where,
					 "entry %u (0x%zx..0x%zx) overlaps entry %u (0x%zx..0x%zx)",
					 j, s, e, i, old_off, old_end);
		if (s >= old_end && s < next)
			next = s;
	}
	size_t span_end = old_off + round4(t.len[i]);
	if (span_end > next)
		span_end = next;
	size_t new_span = round4(dlen);
	size_t nlen = len - (span_end - old_off) + new_span;
	if (nlen > SAM_V_MAX)
		return bw_seterr(err, BW_EUNSUPPORTED, where,
				 "would grow to %zu bytes, more than %u", nlen,
				 SAM_V_MAX);
	uint8_t *nv = calloc(1, nlen);
	if (!nv)
		return bw_seterr(err, BW_ENOMEM, where, "out of memory");
	size_t head = SAM_V_DATA + old_off;
	memcpy(nv, v, head);
	if (dlen)
		memcpy(nv + head, data, dlen);
	memcpy(nv + head + new_span, v + SAM_V_DATA + span_end,
	       len - SAM_V_DATA - span_end);
	for (unsigned j = 0; j < SAM_V_ENTRIES; j++) {
		size_t off = t.off[j];
		if (j == i)
			continue;
		if (off >= span_end)
			off = off - (span_end - old_off) + new_span;
		else if (off > old_off)  /* an empty entry inside the old room */
			off = old_off + new_span;
		bw_put_le32(nv + 12 * j, (uint32_t)off);
	}
	bw_put_le32(nv + 12 * i + 4, (uint32_t)dlen);
	/* What we built must read back: never hand out a V whose table
	 * points past its data. */
	ret = sam_v_parse(nv, nlen, where, &t, err);
	if (ret) {
		free(nv);
		return ret;
	}
	*out = nv;
	*out_len = nlen;
	return 0;
}

/* ---- hash entries -------------------------------------------------------- */

int sam_hash_entry_parse(const uint8_t *data, size_t len, const char *where,
			 struct sam_hash_entry *out, struct bw_error *err)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return 0;
	if (len < HASH_HDR_RC4)
		goto unknown;
	out->pek_id = bw_get_le16(data + HASH_PEK_ID);
	out->revision = bw_get_le16(data + HASH_REVISION);
	if (out->revision == SAM_KEY_RC4) {
		if (len == HASH_HDR_RC4)
			return 0;
		if (len == SAM_HASH_RC4_LEN) {
			out->has_hash = 1;
			return 0;
		}
		goto unknown;
	}
	if (out->revision == SAM_KEY_AES &&
	    (len == SAM_HASH_AES_HDR || len == SAM_HASH_AES_LEN)) {
		out->data_offset = bw_get_le32(data + HASH_AES_DATA_OFFSET);
		memcpy(out->salt, data + HASH_AES_SALT, SAM_AES_SALT_LEN);
		out->has_hash = len == SAM_HASH_AES_LEN;
		return 0;
	}
unknown:
	return bw_seterr(err, BW_EUNSUPPORTED, where,
			 "hash entry of %zu bytes, revision %d: expected 0, 4 or 20 bytes of revision 1, or 24 or 56 of revision 2",
			 len, len >= HASH_HDR_RC4 ? out->revision : -1);
}

/* [MS-SAMR] 2.2.11.1.2: seven key bytes spread over eight, the low bit of
 * each left for parity. */
static void str_to_key(const uint8_t s[7], uint8_t k[8])
{
	k[0] = (uint8_t)(s[0] >> 1);
	k[1] = (uint8_t)((s[0] & 0x01) << 6 | s[1] >> 2);
	k[2] = (uint8_t)((s[1] & 0x03) << 5 | s[2] >> 3);
	k[3] = (uint8_t)((s[2] & 0x07) << 4 | s[3] >> 4);
	k[4] = (uint8_t)((s[3] & 0x0F) << 3 | s[4] >> 5);
	k[5] = (uint8_t)((s[4] & 0x1F) << 2 | s[5] >> 6);
	k[6] = (uint8_t)((s[5] & 0x3F) << 1 | s[6] >> 7);
	k[7] = (uint8_t)(s[6] & 0x7F);
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(k[i] << 1);
	des_fix_parity(8, k, k);
}

void sam_rid_des_keys(uint32_t rid, uint8_t k1[8], uint8_t k2[8])
{
	/* [MS-SAMR] 2.2.11.1.3: the RID's LE bytes I[0..3], key 1 from
	 * I0 I1 I2 I3 I0 I1 I2, key 2 from I3 I0 I1 I2 I3 I0 I1. */
	uint8_t b[4], s1[7], s2[7];
	bw_put_le32(b, rid);
	for (int i = 0; i < 7; i++) {
		s1[i] = b[i % 4];
		s2[i] = b[(i + 3) % 4];
	}
	str_to_key(s1, k1);
	str_to_key(s2, k2);
}

/* The RID's DES layer, both halves: ENCRYPT or decrypt 16 bytes. */
static void rid_des(int encrypt, uint32_t rid, const uint8_t in[16],
		    uint8_t out[16])
{
	uint8_t k1[8], k2[8];
	struct des_ctx d1, d2;
	sam_rid_des_keys(rid, k1, k2);
	/* A weak-key result only says the key is weak; both keys are
	 * usable (nettle's manual), and Windows uses them as they are. */
	(void)des_set_key(&d1, k1);
	(void)des_set_key(&d2, k2);
	if (encrypt) {
		des_encrypt(&d1, 8, out, in);
		des_encrypt(&d2, 8, out + 8, in + 8);
	} else {
		des_decrypt(&d1, 8, out, in);
		des_decrypt(&d2, 8, out + 8, in + 8);
	}
}

void sam_nt_hash(const uint8_t *utf16, size_t len,
		 uint8_t out[SAM_NT_HASH_LEN])
{
	struct md4_ctx md4;
	md4_init(&md4);
	md4_update(&md4, len, utf16);
	md4_digest(&md4, SAM_NT_HASH_LEN, out);
}

/* RC4 key of a revision-1 NT hash entry. */
static void rc4_hash_key(const uint8_t hbk[SAM_HBK_LEN], uint32_t rid,
			 uint8_t key[MD5_DIGEST_SIZE])
{
	struct md5_ctx md5;
	uint8_t r[4];
	bw_put_le32(r, rid);
	md5_init(&md5);
	md5_update(&md5, SAM_HBK_LEN, hbk);
	md5_update(&md5, 4, r);
	md5_update(&md5, sizeof sam_ntpassword, (const uint8_t *)sam_ntpassword);
	md5_digest(&md5, MD5_DIGEST_SIZE, key);
}

void sam_hash_encrypt(int revision, const uint8_t hbk[SAM_HBK_LEN],
		      uint32_t rid, const uint8_t nt_hash[SAM_NT_HASH_LEN],
		      uint16_t pek_id, uint32_t data_offset,
		      const uint8_t salt[SAM_AES_SALT_LEN], uint8_t *out,
		      size_t *out_len)
{
	uint8_t obf[32];
	rid_des(1, rid, nt_hash, obf);
	bw_put_le16(out + HASH_PEK_ID, pek_id);
	bw_put_le16(out + HASH_REVISION, (uint16_t)revision);
	if (revision == SAM_KEY_RC4) {
		uint8_t key[MD5_DIGEST_SIZE];
		struct arcfour_ctx rc4;
		rc4_hash_key(hbk, rid, key);
		arcfour_set_key(&rc4, sizeof key, key);
		arcfour_crypt(&rc4, 16, out + HASH_RC4_DATA, obf);
		*out_len = SAM_HASH_RC4_LEN;
		return;
	}
	memset(obf + 16, 16, 16);               /* PKCS#7 padding */
	bw_put_le32(out + HASH_AES_DATA_OFFSET, data_offset);
	memcpy(out + HASH_AES_SALT, salt, SAM_AES_SALT_LEN);
	aes128_cbc(1, hbk, salt, 32, out + HASH_AES_DATA, obf);
	*out_len = SAM_HASH_AES_LEN;
}

int sam_hash_decrypt(const uint8_t *data, size_t len,
		     const uint8_t hbk[SAM_HBK_LEN], uint32_t rid,
		     const char *where, uint8_t nt_hash[SAM_NT_HASH_LEN],
		     struct bw_error *err)
{
	struct sam_hash_entry e;
	int ret = sam_hash_entry_parse(data, len, where, &e, err);
	if (ret)
		return ret;
	if (!e.has_hash)
		return bw_seterr(err, BW_EINVAL, where, "hash entry holds no hash");
	uint8_t obf[32];
	if (e.revision == SAM_KEY_RC4) {
		uint8_t key[MD5_DIGEST_SIZE];
		struct arcfour_ctx rc4;
		rc4_hash_key(hbk, rid, key);
		arcfour_set_key(&rc4, sizeof key, key);
		arcfour_crypt(&rc4, 16, obf, data + HASH_RC4_DATA);
	} else {
		aes128_cbc(0, hbk, e.salt, 32, obf, data + HASH_AES_DATA);
		if (!pad16_ok(obf))
			return bw_seterr(err, BW_EUNSUPPORTED, where,
					 "hash entry does not decrypt with this SAM's key");
	}
	rid_des(0, rid, obf, nt_hash);
	return 0;
}

/* ---- user F ------------------------------------------------------------- */

int sam_user_f_check(const uint8_t *f, size_t len, uint32_t rid,
		     const char *where, struct bw_error *err)
{
	if (len < SAM_USER_F_MIN)
		return bw_seterr(err, BW_EFORMAT, where,
				 "%zu bytes, expected at least %d", len,
				 SAM_USER_F_MIN);
	uint32_t found = bw_get_le32(f + SAM_USER_F_RID);
	if (found != rid)
		return bw_seterr(err, BW_EUNSUPPORTED, where,
				 "RID %u at offset 0x%x, expected %u (the key's name)",
				 (unsigned)found, SAM_USER_F_RID, (unsigned)rid);
	return 0;
}

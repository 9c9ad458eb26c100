/*
 * libFuzzer harness for the SAM parsers and crypto (src/win/samfmt.c, no
 * hivex): the domain F (key revision, hashed boot key with its checksum
 * or padding check), a user's V table and hash entries, the V rebuild
 * bw_sam_set_password does (NT entry replaced, LM cut to its header) and
 * the user F check.  Input: 16 bytes of boot key, an LE16 length, that
 * many bytes of domain F, then V (RID 500).  Each part is copied into a
 * buffer of its exact size so that ASan sees any overread.  Seeds:
 * make-sam-seeds.py (a valid RC4 and AES pair from tests/e2e/mksam.py).
 */
#include <stdlib.h>
#include <string.h>

#include "win/sam_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

static void fuzz_v(const uint8_t *v, size_t vlen, const uint8_t *hbk,
		   int krev)
{
	struct bw_error err;
	struct sam_v t;
	if (sam_v_parse(v, vlen, "V", &t, &err) != 0)
		return;
	struct sam_hash_entry nt, lm;
	const uint8_t *nt_p = v + SAM_V_DATA + t.off[SAM_V_NT];
	const uint8_t *lm_p = v + SAM_V_DATA + t.off[SAM_V_LM];
	uint8_t *nt_copy = dup_exact(nt_p, t.len[SAM_V_NT]);
	if (!nt_copy)
		return;
	uint8_t hash[SAM_NT_HASH_LEN];
	if (sam_hash_entry_parse(nt_copy, t.len[SAM_V_NT], "V", &nt, &err) == 0 &&
	    nt.has_hash && hbk)
		(void)sam_hash_decrypt(nt_copy, t.len[SAM_V_NT], hbk, 500, "V",
				       hash, &err);
	free(nt_copy);
	if (sam_hash_entry_parse(lm_p, t.len[SAM_V_LM], "V", &lm, &err) != 0)
		return;
	/* What bw_sam_set_password writes. */
	static const uint8_t zero[16];
	uint8_t entry[SAM_HASH_AES_LEN], *v1 = NULL, *v2 = NULL;
	size_t elen, v1_len, v2_len;
	sam_hash_encrypt(krev ? krev : SAM_KEY_AES, hbk ? hbk : zero, 500,
			 zero, nt.pek_id, nt.data_offset, zero, entry, &elen);
	if (sam_v_replace(v, vlen, SAM_V_NT, entry, elen, "V", &v1, &v1_len,
			  &err) != 0)
		return;
	struct sam_v t1;
	if (sam_v_parse(v1, v1_len, "V", &t1, &err) != 0 ||
	    t1.len[SAM_V_NT] != elen ||
	    memcmp(v1 + SAM_V_DATA + t1.off[SAM_V_NT], entry, elen) != 0)
		abort();                 /* the rebuild must read back */
	if (lm.has_hash &&
	    sam_v_replace(v1, v1_len, SAM_V_LM, lm_p, 4, "V", &v2, &v2_len,
			  &err) == 0) {
		if (sam_v_parse(v2, v2_len, "V", &t1, &err) != 0)
			abort();
		free(v2);
	}
	free(v1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < SAM_BOOTKEY_LEN + 2)
		return 0;
	const uint8_t *bootkey = data;
	size_t flen = (size_t)data[16] | (size_t)data[17] << 8;
	data += SAM_BOOTKEY_LEN + 2;
	size -= SAM_BOOTKEY_LEN + 2;
	if (flen > size)
		flen = size;
	uint8_t *f = dup_exact(data, flen);
	uint8_t *v = dup_exact(data + flen, size - flen);
	if (!f || !v)
		goto out;
	struct bw_error err;
	uint8_t hbk[SAM_HBK_LEN];
	int krev = 0, have = 0;
	if (sam_key_revision(f, flen, "F", &krev, &err) == 0)
		have = sam_hashed_bootkey(f, flen, bootkey, "F", hbk, &krev,
					  &err) == 0;
	fuzz_v(v, size - flen, have ? hbk : NULL, krev);
	(void)sam_user_f_check(v, size - flen, 500, "F", &err);
out:
	free(f);
	free(v);
	return 0;
}

/*
 * The SAM code on synthetic input: samfmt.c's parsers and crypto against
 * vectors computed independently (pycryptodome and impacket's own DES key
 * derivation, the way tests/e2e/mksam.py builds its hives: boot key
 * 00..0f, hashed boot key 10..1f, F salt 20..2f, entry salt 40..4f,
 * password "password"), and the refusals: an unknown F or key revision,
 * a truncated F, a wrong boot key, V offsets out of range, overlapping V
 * entries, unknown hash headers, a user F naming another RID.  Then the
 * hive side with hivex-built hives: bw_sam_read, a V out of range in a
 * hive, a SYSTEM whose Lsa keys have no class names (refused, the SAM
 * left as it was).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/bytes.h"
#include "boxwright/win.h"
#include "win/sam_internal.h"

/* hivebuild.h leaves hv_commit's closing brace to its includers, as
 * test_win.c and test_win_edit.c supply it. */
#include "hivebuild.h"

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void seq(uint8_t *p, uint8_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(from + i);
}

/* RC4KEY: RC4(MD5(salt+qwerty+bootkey+digits)) of hbk+checksum;
 * AESKEY: AES-CBC(bootkey, salt) of hbk + 16 x 0x10. */
#define VEC_RC4KEY "08074b245bba746f6ca6595e1f1e9b7dcccdb1feabbf155095dffaf655eacf45"
#define VEC_AESKEY "9bb5f601884fcd6f6e29b23f82cca77a92d090a2d12c614bd16674e2cb529318"
#define VEC_NT "8846f7eaee8fb117ad06bdd830b7586c"
#define VEC_RC4ENT "0000010056bec0b534daae1664b37e3f9d8a46de"
#define VEC_AESENT "0000020010000000404142434445464748494a4b4c4d4e4f" \
	"f3a4edcb4508df25374240de335641be6f6544b8e8cdded2e51910ef448358db"

/* A domain F of revision 3 holding key revision KREV. */
static size_t domain_f(uint8_t *f, int krev)
{
	memset(f, 0, 0x100);
	bw_put_le16(f, 3);
	bw_put_le32(f + 0x68, (uint32_t)krev);
	if (krev == 1) {
		bw_put_le32(f + 0x6C, 0x30);
		seq(f + 0x70, 0x20, 16);
		unhex(VEC_RC4KEY, f + 0x80);
		return 0xA8;
	}
	bw_put_le32(f + 0x6C, 0x58);
	bw_put_le32(f + 0x70, 0x20);
	bw_put_le32(f + 0x74, 0x20);
	seq(f + 0x78, 0x20, 16);
	unhex(VEC_AESKEY, f + 0x88);
	return 0xC8;
}

static void test_bootkey(void)
{
	/* The classes mksam.py writes for boot key 00..0f. */
	const char *text[4] = { "080a0307", "0201090f", "00050d04", "0B060C0E" };
	uint8_t classes[4][SAM_LSA_CLASS_BYTES], key[16], want[16];
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 8; i++)
			bw_put_le16(classes[k] + 2 * i, (uint16_t)text[k][i]);
	struct bw_error err = { 0 };
	CHECK(sam_bootkey_from_classes(classes, "SYSTEM", key, &err) == 0);
	seq(want, 0, 16);
	CHECK(memcmp(key, want, 16) == 0);
	bw_put_le16(classes[2] + 6, 'g');
	CHECK(sam_bootkey_from_classes(classes, "SYSTEM", key, &err) ==
	      BW_EUNSUPPORTED);
	CHECK(strstr(err.msg, "Lsa\\GBG") != NULL);
}

static void test_hashed_bootkey(void)
{
	uint8_t f[0x100], bootkey[16], hbk[16], want[16];
	struct bw_error err = { 0 };
	int rev = 0;
	seq(bootkey, 0, 16);
	seq(want, 0x10, 16);
	for (int krev = 1; krev <= 2; krev++) {
		size_t len = domain_f(f, krev);
		memset(hbk, 0, 16);
		CHECK(sam_hashed_bootkey(f, len, bootkey, "F", hbk, &rev, &err) == 0);
		CHECK(rev == krev);
		CHECK(memcmp(hbk, want, 16) == 0);
		CHECK(sam_key_revision(f, len, "F", &rev, &err) == 0 && rev == krev);
		/* A boot key from another installation. */
		bootkey[3] ^= 1;
		CHECK(sam_hashed_bootkey(f, len, bootkey, "F", hbk, &rev, &err) ==
		      BW_EUNSUPPORTED);
		bootkey[3] ^= 1;
		/* Truncated before the key data ends. */
		CHECK(sam_hashed_bootkey(f, krev == 1 ? 0x9F : 0xA7, bootkey, "F",
					 hbk, &rev, &err) == BW_EFORMAT);
		CHECK(sam_hashed_bootkey(f, 0x6B, bootkey, "F", hbk, &rev, &err) ==
		      BW_EFORMAT);
		CHECK(sam_hashed_bootkey(f, 0, bootkey, "F", hbk, &rev, &err) ==
		      BW_EFORMAT);
	}
	/* Unknown revisions: of F, of the key. */
	size_t len = domain_f(f, 1);
	bw_put_le16(f, 1);
	CHECK(sam_hashed_bootkey(f, len, bootkey, "F", hbk, &rev, &err) ==
	      BW_EUNSUPPORTED);
	bw_put_le16(f, 2);
	CHECK(sam_hashed_bootkey(f, len, bootkey, "F", hbk, &rev, &err) == 0);
	bw_put_le32(f + 0x68, 3);
	CHECK(sam_hashed_bootkey(f, len, bootkey, "F", hbk, &rev, &err) ==
	      BW_EUNSUPPORTED);
	CHECK(strstr(err.msg, "key revision 3") != NULL);
	/* AES key data of a length Windows does not write. */
	len = domain_f(f, 2);
	bw_put_le32(f + 0x74, 0x10);
	CHECK(sam_hashed_bootkey(f, len, bootkey, "F", hbk, &rev, &err) ==
	      BW_EUNSUPPORTED);
	bw_put_le32(f + 0x74, 0xFFFFFFF0u);
	CHECK(sam_key_revision(f, len, "F", &rev, &err) == BW_EUNSUPPORTED);
}

static void test_hash_entries(void)
{
	uint8_t hbk[16], nt[16], want_nt[16], salt[16], out[SAM_HASH_AES_LEN],
		vec[SAM_HASH_AES_LEN], k1[8], k2[8];
	size_t len;
	struct bw_error err = { 0 };
	seq(hbk, 0x10, 16);
	seq(salt, 0x40, 16);
	unhex(VEC_NT, want_nt);
	uint8_t pw[16];
	for (int i = 0; i < 8; i++)
		bw_put_le16(pw + 2 * i, (uint16_t)"password"[i]);
	sam_nt_hash(pw, 16, nt);
	CHECK(memcmp(nt, want_nt, 16) == 0);

	/* impacket's deriveKey(500), parity bits aside (we set them). */
	uint8_t w1[8], w2[8];
	unhex("f40040000ea00400", w1);
	unhex("007a00200006d002", w2);
	sam_rid_des_keys(500, k1, k2);
	int same = 1;
	for (int i = 0; i < 8; i++)
		same &= (k1[i] & 0xFE) == w1[i] && (k2[i] & 0xFE) == w2[i];
	CHECK(same);

	sam_hash_encrypt(SAM_KEY_RC4, hbk, 500, nt, 0, 0, salt, out, &len);
	unhex(VEC_RC4ENT, vec);
	CHECK(len == SAM_HASH_RC4_LEN && memcmp(out, vec, len) == 0);
	sam_hash_encrypt(SAM_KEY_AES, hbk, 500, nt, 0, 16, salt, out, &len);
	unhex(VEC_AESENT, vec);
	CHECK(len == SAM_HASH_AES_LEN && memcmp(out, vec, len) == 0);
	uint8_t back[16] = { 0 };
	CHECK(sam_hash_decrypt(out, len, hbk, 500, "V", back, &err) == 0);
	CHECK(memcmp(back, nt, 16) == 0);
	/* The wrong key shows in the AES padding. */
	hbk[0] ^= 1;
	CHECK(sam_hash_decrypt(out, len, hbk, 500, "V", back, &err) ==
	      BW_EUNSUPPORTED);
	hbk[0] ^= 1;

	struct sam_hash_entry e;
	CHECK(sam_hash_entry_parse(out, 0, "V", &e, &err) == 0 &&
	      e.revision == 0 && !e.has_hash);
	CHECK(sam_hash_entry_parse(out, 24, "V", &e, &err) == 0 &&
	      e.revision == 2 && !e.has_hash && e.data_offset == 16 &&
	      memcmp(e.salt, salt, 16) == 0);
	CHECK(sam_hash_entry_parse(out, 56, "V", &e, &err) == 0 && e.has_hash);
	/* Unknown hash headers and sizes. */
	CHECK(sam_hash_entry_parse(out, 3, "V", &e, &err) == BW_EUNSUPPORTED);
	CHECK(sam_hash_entry_parse(out, 4, "V", &e, &err) == BW_EUNSUPPORTED);
	CHECK(sam_hash_entry_parse(out, 40, "V", &e, &err) == BW_EUNSUPPORTED);
	unhex(VEC_RC4ENT, vec);
	CHECK(sam_hash_entry_parse(vec, 4, "V", &e, &err) == 0 &&
	      e.revision == 1 && !e.has_hash);
	CHECK(sam_hash_entry_parse(vec, 20, "V", &e, &err) == 0 && e.has_hash);
	CHECK(sam_hash_entry_parse(vec, 24, "V", &e, &err) == BW_EUNSUPPORTED);
	bw_put_le16(vec + 2, 3);
	CHECK(sam_hash_entry_parse(vec, 20, "V", &e, &err) == BW_EUNSUPPORTED);
	CHECK(strstr(err.msg, "revision 3") != NULL);
}

/* A V with entry I holding LENS[I] bytes of value I+1, 4-aligned. */
static size_t build_v(uint8_t *v, const uint32_t lens[SAM_V_ENTRIES])
{
	memset(v, 0, 1024);                  /* every caller's buffer */
	size_t off = 0;
	for (unsigned i = 0; i < SAM_V_ENTRIES; i++) {
		bw_put_le32(v + 12 * i, (uint32_t)off);
		bw_put_le32(v + 12 * i + 4, lens[i]);
		bw_put_le32(v + 12 * i + 8, 0xA0 + i);
		memset(v + SAM_V_DATA + off, (int)(i + 1), lens[i]);
		off += (lens[i] + 3) & ~3u;
	}
	return SAM_V_DATA + off;
}

/* Does V (parsed) still hold entry I's bytes (LEN of value I+1)? */
static int entry_intact(const uint8_t *v, const struct sam_v *t, unsigned i,
			uint32_t len)
{
	if (t->len[i] != len)
		return 0;
	for (uint32_t k = 0; k < len; k++)
		if (v[SAM_V_DATA + t->off[i] + k] != i + 1)
			return 0;
	return bw_get_le32(v + 12 * i + 8) == 0xA0 + i;
}

static void test_v(void)
{
	uint32_t lens[SAM_V_ENTRIES] = { 0, 26, 0, 10, 0, 0, 0, 0, 0, 0, 0, 21, 0,
					 20, 20, 24, 4 };
	uint8_t v[1024], entry[SAM_HASH_AES_LEN];
	struct bw_error err = { 0 };
	struct sam_v t;
	size_t len = build_v(v, lens);
	CHECK(sam_v_parse(v, len, "V", &t, &err) == 0);
	CHECK(t.len[SAM_V_NT] == 20);

	/* NT 20 -> 56 bytes: the histories after it move by 36. */
	uint8_t *nv, *nv2;
	size_t nlen, nlen2;
	memset(entry, 0xEE, sizeof entry);
	CHECK(sam_v_replace(v, len, SAM_V_NT, entry, 56, "V", &nv, &nlen,
			    &err) == 0);
	struct sam_v n;
	CHECK(nlen == len + 36);
	CHECK(sam_v_parse(nv, nlen, "V", &n, &err) == 0);
	CHECK(n.len[SAM_V_NT] == 56 && n.off[SAM_V_NT] == t.off[SAM_V_NT]);
	CHECK(memcmp(nv + SAM_V_DATA + n.off[SAM_V_NT], entry, 56) == 0);
	CHECK(n.off[15] == t.off[15] + 36 && n.off[16] == t.off[16] + 36);
	int intact = 1;
	for (unsigned i = 0; i < SAM_V_ENTRIES; i++)
		if (i != SAM_V_NT)
			intact &= entry_intact(nv, &n, i, lens[i]);
	CHECK(intact);
	/* LM 20 -> 4 bytes: everything after it moves back by 16. */
	CHECK(sam_v_replace(nv, nlen, SAM_V_LM, entry, 4, "V", &nv2, &nlen2,
			    &err) == 0);
	CHECK(nlen2 == nlen - 16);
	CHECK(sam_v_parse(nv2, nlen2, "V", &n, &err) == 0);
	CHECK(n.len[SAM_V_LM] == 4 && n.off[SAM_V_NT] == t.off[SAM_V_NT] - 16);
	CHECK(memcmp(nv2 + SAM_V_DATA + n.off[SAM_V_NT], entry, 56) == 0);
	intact = 1;
	for (unsigned i = 0; i < SAM_V_ENTRIES; i++)
		if (i != SAM_V_NT && i != SAM_V_LM)
			intact &= entry_intact(nv2, &n, i, lens[i]);
	CHECK(intact);
	free(nv);
	free(nv2);

	/* An empty NT slot (length 0) becomes 20 bytes. */
	lens[SAM_V_NT] = 0;
	len = build_v(v, lens);
	CHECK(sam_v_replace(v, len, SAM_V_NT, entry, 20, "V", &nv, &nlen,
			    &err) == 0);
	CHECK(nlen == len + 20);
	CHECK(sam_v_parse(nv, nlen, "V", &n, &err) == 0);
	intact = 1;
	for (unsigned i = 0; i < SAM_V_ENTRIES; i++)
		if (i != SAM_V_NT)
			intact &= entry_intact(nv, &n, i, lens[i]);
	CHECK(intact && n.len[SAM_V_NT] == 20);
	free(nv);

	/* Refusals: short, offsets or lengths outside V, overlaps. */
	lens[SAM_V_NT] = 20;
	len = build_v(v, lens);
	CHECK(sam_v_parse(v, SAM_V_DATA - 1, "V", &t, &err) == BW_EFORMAT);
	uint8_t bad[1024];
	memcpy(bad, v, len);
	bw_put_le32(bad + 12 * SAM_V_NT, (uint32_t)(len - SAM_V_DATA - 19));
	CHECK(sam_v_parse(bad, len, "V", &t, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "entry 14") != NULL);
	CHECK(sam_v_replace(bad, len, SAM_V_NT, entry, 20, "V", &nv, &nlen,
			    &err) == BW_EFORMAT && nv == NULL);
	memcpy(bad, v, len);
	bw_put_le32(bad + 12 * 3 + 4, 0xFFFFFFFFu);
	CHECK(sam_v_parse(bad, len, "V", &t, &err) == BW_EFORMAT);
	memcpy(bad, v, len);
	bw_put_le32(bad + 12 * 2, 0xFFFFFFF0u);
	CHECK(sam_v_parse(bad, len, "V", &t, &err) == BW_EFORMAT);
	memcpy(bad, v, len);
	/* NT history starting inside the NT entry. */
	bw_put_le32(bad + 12 * 15, bw_get_le32(v + 12 * SAM_V_NT) + 8);
	CHECK(sam_v_replace(bad, len, SAM_V_NT, entry, 56, "V", &nv, &nlen,
			    &err) == BW_EUNSUPPORTED && nv == NULL);
}

static void test_user_f(void)
{
	uint8_t f[0x50] = { 0 };
	struct bw_error err = { 0 };
	bw_put_le32(f + 0x30, 500);
	CHECK(sam_user_f_check(f, sizeof f, 500, "F", &err) == 0);
	CHECK(sam_user_f_check(f, 0x43, 500, "F", &err) == BW_EFORMAT);
	CHECK(sam_user_f_check(f, sizeof f, 501, "F", &err) == BW_EUNSUPPORTED);
}

/* ---- the hive side --------------------------------------------------- */

static void sam_hive(const char *file, int break_v)
{
	hive_h *h = hv_new(file);
	if (!h)
		return;
	hive_node_h acct = hv_key(h, hivex_root(h), "SAM\\Domains\\Account");
	uint8_t f[0x100];
	size_t flen = domain_f(f, 2);
	hv_raw(h, acct, "F", hive_t_REG_BINARY, f, flen);
	hv_key(h, acct, "Users\\Names\\Administrator");
	hive_node_h u = hv_key(h, acct, "Users\\000001F4");
	uint32_t lens[SAM_V_ENTRIES] = { 0 };
	lens[1] = 26;                        /* "Administrator" */
	lens[SAM_V_NT] = 56;
	uint8_t v[1024];
	size_t vlen = build_v(v, lens);
	utf16("Administrator", v + SAM_V_DATA + bw_get_le32(v + 12), 64);
	uint8_t hbk[16], nt[16], salt[16];
	size_t elen;
	seq(hbk, 0x10, 16);
	seq(salt, 0x40, 16);
	unhex(VEC_NT, nt);
	sam_hash_encrypt(SAM_KEY_AES, hbk, 500, nt, 0, 16, salt,
			 v + SAM_V_DATA + bw_get_le32(v + 12 * SAM_V_NT), &elen);
	if (break_v)
		bw_put_le32(v + 12 * SAM_V_NT + 4, 0x1000);
	hv_raw(h, u, "V", hive_t_REG_BINARY, v, vlen);
	uint8_t uf[0x50] = { 0 };
	bw_put_le32(uf + 0x30, 500);
	bw_put_le16(uf + 0x38, 0x0211);
	hv_raw(h, u, "F", hive_t_REG_BINARY, uf, sizeof uf);
	hv_commit(h, file);
}

static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	while (same) {
		int ca = fgetc(fa), cb = fgetc(fb);
		if (ca != cb)
			same = 0;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static void test_hives(void)
{
	struct bw_error err = { 0 };
	struct bw_sam_info info;
	const char *sam = tpath("SAM"), *copy = tpath("SAM.copy");
	sam_hive(sam, 0);
	CHECK(bw_sam_read(sam, "SAM", &info, &err) == 0);
	CHECK(info.key_revision == 2);
	CHECK(info.naccounts == 1);
	if (info.naccounts == 1) {
		CHECK(info.accounts[0].rid == 500);
		CHECK(strcmp(info.accounts[0].name, "Administrator") == 0);
		CHECK(!info.accounts[0].enabled);
		CHECK(info.accounts[0].hash_revision == 2);
		CHECK(info.accounts[0].has_nt_hash);
	}
	bw_sam_info_free(&info);

	/* A SYSTEM whose Lsa keys carry no class names (hivex cannot write
	 * them): refused, nothing written. */
	const char *sys = tpath("SYSTEM");
	hive_h *h = hv_new(sys);
	if (h) {
		hv_dword(h, hv_key(h, hivex_root(h), "Select"), "Current", 1);
		hive_node_h lsa = hv_key(h, hivex_root(h),
					 "ControlSet001\\Control\\Lsa");
		hv_key(h, lsa, "JD");
		hv_key(h, lsa, "Skew1");
		hv_key(h, lsa, "GBG");
		hv_key(h, lsa, "Data");
		hv_sz(h, hv_key(h, hivex_root(h),
				"ControlSet001\\Control\\ComputerName\\ComputerName"),
		      "ComputerName", "BOX");
		hv_commit(h, sys);
	}
	sam_hive(copy, 0);
	struct bw_sam_password req = { .rid = 500, .password = "x", .enable = 1 };
	CHECK(bw_sam_set_password(sam, sys, &req, NULL, &err) == BW_EUNSUPPORTED);
	CHECK(strstr(err.msg, "Lsa\\JD: no class name") != NULL);
	CHECK(same_file(sam, copy));
	/* No Lsa\JD at all. */
	h = hv_new(sys);
	if (h) {
		hv_dword(h, hv_key(h, hivex_root(h), "Select"), "Current", 1);
		hv_key(h, hivex_root(h), "ControlSet001\\Control\\Lsa");
		hv_commit(h, sys);
	}
	CHECK(bw_sam_set_password(sam, sys, &req, NULL, &err) == BW_ENOTFOUND);
	CHECK(strstr(err.msg, "ControlSet001\\Control\\Lsa\\JD not found") != NULL);
	/* Caller errors come first. */
	req.password = "";
	CHECK(bw_sam_set_password(sam, sys, &req, NULL, &err) == BW_EINVAL);
	req.password = "x";
	req.rid = 0;
	CHECK(bw_sam_set_password(sam, sys, &req, NULL, &err) == BW_EINVAL);
	CHECK(same_file(sam, copy));

	/* A V whose NT entry runs past V. */
	sam_hive(sam, 1);
	CHECK(bw_sam_read(sam, "SAM", &info, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "000001F4\\V") != NULL);
	CHECK(info.naccounts == 0 && info.accounts == NULL);
	bw_sam_info_free(&info);
}

static void remove_tmpdir(void)
{
	if (getenv("BW_KEEP_TMP")) {
		fprintf(stderr, "test_sam: files kept in %s\n", tmpdir);
		return;
	}
	DIR *d = opendir(tmpdir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlink(tpath(e->d_name));
		closedir(d);
	}
	rmdir(tmpdir);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_sam.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_bootkey();
	test_hashed_bootkey();
	test_hash_entries();
	test_v();
	test_user_f();
	test_hives();
	CHECK(build_failures == 0);
	remove_tmpdir();
	return check_done("test_sam");
}

/*
 * The SAM hive through hivex: read the local accounts, and set one
 * account's password offline (--admin-password).  FORMATS.md "SAM",
 * DESIGN.md "Credentials and identity"; the byte formats and the crypto
 * are samfmt.c's.
 *
 * The boot key lives in the CLASS NAMES of four SYSTEM keys, which hivex
 * 1.3 has no call for.  We find the keys with hivex and read the class
 * names from the hive file ourselves: hivex's node handle is the file
 * offset of the key's nk cell (libguestfs/hivex lib/node.c adds it to the
 * mapped file), which the handle's documentation calls opaque, so it is
 * checked before it is trusted: the cell must lie inside the file, be
 * allocated, say "nk" and carry the name we looked up; the class cell it
 * points to must lie inside the file and be allocated, and the class must
 * be exactly 8 UTF-16 hex digits.  A hivex that numbered nodes otherwise
 * fails these checks (BW_EUNSUPPORTED) instead of reading garbage.
 * Cell layout: msuhanov/regf "Key node" (offsets below count from the
 * cell's 4-byte size field, as hivex's ntreg_nk_record does).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/random.h"
#include "win/sam_internal.h"
#include "win/win_internal.h"

#define REGF_BINS 0x1000         /* hive bins start after the base block */
#define NK_SIG 0x04              /* "nk" */
#define NK_FLAGS 0x06
#define NK_CLASS_OFF 0x34        /* LE32, from REGF_BINS; ~0 = none */
#define NK_NAME_LEN 0x4C         /* LE16 */
#define NK_CLASS_LEN 0x4E        /* LE16, bytes */
#define NK_NAME 0x50
#define NK_COMP_NAME 0x0020      /* name stored as Latin-1, not UTF-16 */

#define SAM_ACCOUNT "SAM\\Domains\\Account"
#define SAM_USERS SAM_ACCOUNT "\\Users"

/* Windows FILETIME (100 ns since 1601) of a Unix time. */
#define FILETIME_UNIX_EPOCH 116444736000000000ull

static int pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* An allocated cell at OFF holding at least NEED bytes after its size
 * field, all inside the file: its length, or 0. */
static uint64_t cell_ok(int fd, uint64_t fsize, uint64_t off, size_t need)
{
	uint8_t b[4];
	if (off > fsize || fsize - off < 4 || pread_all(fd, b, 4, off))
		return 0;
	int32_t size = (int32_t)bw_get_le32(b);
	if (size >= 0)                   /* free cells have a positive size */
		return 0;
	uint64_t len = (uint64_t)-(int64_t)size;
	if (len < 4 + (uint64_t)need || len > fsize - off)
		return 0;
	return len;
}

static unsigned ascii_lower(unsigned c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int class_refused(const char *file, const char *cs, const char *key,
			 const char *why, struct bw_error *err)
{
	return bw_seterr(err, BW_EUNSUPPORTED, file,
			 "%s\\Control\\Lsa\\%s: %s", cs, key, why);
}

/* The class name of key NODE (named KEY) of the hive file FD. */
static int nk_class(int fd, uint64_t fsize, win_node node, const char *file,
		    const char *cs, const char *key,
		    uint8_t out[SAM_LSA_CLASS_BYTES], struct bw_error *err)
{
	size_t key_len = strlen(key);
	uint8_t nk[NK_NAME + 2 * 16];
	if (!cell_ok(fd, fsize, node, NK_NAME - 4) ||
	    pread_all(fd, nk, NK_NAME, node) ||
	    memcmp(nk + NK_SIG, "nk", 2) != 0)
		return class_refused(file, cs, key,
				     "no key node where hivex found the key", err);
	uint16_t flags = bw_get_le16(nk + NK_FLAGS);
	size_t name_len = bw_get_le16(nk + NK_NAME_LEN);
	size_t want = flags & NK_COMP_NAME ? key_len : 2 * key_len;
	if (want > sizeof nk - NK_NAME || name_len != want || !cell_ok(fd, fsize, node, NK_NAME - 4 + want) ||
	    pread_all(fd, nk + NK_NAME, want, node + NK_NAME))
		return class_refused(file, cs, key,
				     "the key node's name is not the key's", err);
	for (size_t i = 0; i < key_len; i++) {
		unsigned c = flags & NK_COMP_NAME ? nk[NK_NAME + i]
						  : bw_get_le16(nk + NK_NAME + 2 * i);
		if (ascii_lower(c) != ascii_lower((unsigned char)key[i]))
			return class_refused(file, cs, key,
					     "the key node's name is not the key's",
					     err);
	}
	uint32_t class_off = bw_get_le32(nk + NK_CLASS_OFF);
	size_t class_len = bw_get_le16(nk + NK_CLASS_LEN);
	if (class_off == 0xFFFFFFFFu || class_len == 0)
		return class_refused(file, cs, key,
				     "no class name (the boot key is not there)",
				     err);
	if (class_len != SAM_LSA_CLASS_BYTES)
		return bw_seterr(err, BW_EUNSUPPORTED, file,
				 "%s\\Control\\Lsa\\%s: class name of %zu bytes, expected %d",
				 cs, key, class_len, SAM_LSA_CLASS_BYTES);
	uint64_t at = (uint64_t)REGF_BINS + class_off;
	if (!cell_ok(fd, fsize, at, class_len) ||
	    pread_all(fd, out, class_len, at + 4))
		return bw_seterr(err, BW_EFORMAT, file,
				 "%s\\Control\\Lsa\\%s: class name cell at 0x%llx is not an allocated cell inside the file",
				 cs, key, (unsigned long long)at);
	return 0;
}

/* The boot key of the SYSTEM hive PATH. */
static int sam_bootkey(const char *path, uint8_t bootkey[SAM_BOOTKEY_LEN],
		       struct bw_error *err)
{
	struct win_reg *r = NULL;
	int fd = -1;
	uint8_t classes[4][SAM_LSA_CLASS_BYTES];
	int ret = win_reg_open(path, path, &r, err);
	if (ret)
		goto out;
	char cs[16];
	win_node csnode;
	ret = win_system_live_controlset(r, cs, &csnode, err);
	if (ret)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		ret = bw_seterr(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				path, "cannot read: %s", strerror(errno));
		goto out;
	}
	for (int k = 0; k < 4; k++) {
		char sub[64];
		win_node node;
		snprintf(sub, sizeof sub, "Control\\Lsa\\%s", sam_lsa_keys[k]);
		ret = win_reg_lookup(r, csnode, sub, &node, err);
		if (ret == BW_ENOTFOUND)
			ret = bw_seterr(err, ret, path, "%s\\%s not found", cs,
					sub);
		if (ret)
			goto out;
		ret = nk_class(fd, (uint64_t)st.st_size, node, path, cs,
			       sam_lsa_keys[k], classes[k], err);
		if (ret)
			goto out;
	}
	ret = sam_bootkey_from_classes(classes, path, bootkey, err);
out:
	if (fd >= 0)
		close(fd);
	win_reg_close(r);
	return ret;
}

/* A REG_BINARY value that must be there. */
static int need_binary(struct win_reg *r, win_node node, const char *where,
		       const char *name, uint8_t **data, size_t *len,
		       struct bw_error *err)
{
	int ret = win_reg_get_binary(r, node, where, name, data, len, err);
	if (ret == BW_ENOTFOUND)
		ret = bw_seterr(err, ret, win_reg_name(r), "%s\\%s not found",
				where, name);
	return ret;
}

static int need_key(struct win_reg *r, const char *path, win_node *out,
		    struct bw_error *err)
{
	int ret = win_reg_lookup(r, win_reg_root(r), path, out, err);
	if (ret == BW_ENOTFOUND)
		ret = bw_seterr(err, ret, win_reg_name(r), "%s not found", path);
	return ret;
}

/* The NT hash of the UTF-8 PASSWORD. */
static int password_hash(const char *password, const char *file,
			 uint8_t nt[SAM_NT_HASH_LEN], struct bw_error *err)
{
	if (!password || !*password)
		return bw_seterr(err, BW_EINVAL, file,
				 "an empty password cannot log in over the network");
	uint8_t *u16;
	size_t n;
	int ret = win_utf8_to_utf16le(password, strlen(password), 0, &u16, &n);
	if (ret == BW_ENOMEM)
		return bw_seterr(err, ret, file, "out of memory");
	if (ret)
		return bw_seterr(err, BW_EINVAL, file,
				 "the password is not UTF-8");
	if (n / 2 > BW_SAM_MAX_PASSWORD) {
		memset(u16, 0, n);
		free(u16);
		return bw_seterr(err, BW_EINVAL, file,
				 "the password has %zu UTF-16 units, Windows takes at most %d",
				 n / 2, BW_SAM_MAX_PASSWORD);
	}
	sam_nt_hash(u16, n, nt);
	memset(u16, 0, n);
	free(u16);
	return 0;
}

/* The entry of V (parsed as T) number I. */
static const uint8_t *v_entry(const uint8_t *v, const struct sam_v *t,
			      unsigned i)
{
	return v + SAM_V_DATA + t->off[i];
}

int bw_sam_set_password(const char *sam_path, const char *system_path,
			const struct bw_sam_password *req,
			struct bw_sam_report *rep, struct bw_error *err)
{
	struct bw_sam_report local;
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof *rep);
	if (!req || req->rid == 0)
		return bw_seterr(err, BW_EINVAL, sam_path,
				 "no account (RID 0) to set a password for");

	struct win_reg *r = NULL;
	uint8_t *dom_f = NULL, *v = NULL, *user_f = NULL, *v1 = NULL,
		*v2 = NULL;
	size_t dom_f_len, v_len, user_f_len, v1_len, v2_len;
	uint8_t nt[SAM_NT_HASH_LEN], bootkey[SAM_BOOTKEY_LEN],
		hbk[SAM_HBK_LEN], check[SAM_NT_HASH_LEN];
	char user_key[64], where_v[96], where_f[96];
	snprintf(user_key, sizeof user_key, SAM_USERS "\\%08X",
		 (unsigned)req->rid);
	snprintf(where_v, sizeof where_v, "%s: %s\\V", sam_path, user_key);
	snprintf(where_f, sizeof where_f, "%s: %s\\F", sam_path, user_key);

	int ret = password_hash(req->password, sam_path, nt, err);
	if (ret)
		goto out;
	ret = sam_bootkey(system_path, bootkey, err);
	if (ret)
		goto out;
	ret = win_reg_open_write(sam_path, "SAM", &r, err);
	if (ret)
		goto out;

	win_node account, user;
	ret = need_key(r, SAM_ACCOUNT, &account, err);
	if (ret)
		goto out;
	ret = need_binary(r, account, SAM_ACCOUNT, "F", &dom_f, &dom_f_len, err);
	if (ret)
		goto out;
	char where_dom[96];
	snprintf(where_dom, sizeof where_dom, "%s: " SAM_ACCOUNT "\\F", sam_path);
	int krev;
	ret = sam_hashed_bootkey(dom_f, dom_f_len, bootkey, where_dom, hbk,
				 &krev, err);
	if (ret)
		goto out;

	ret = need_key(r, user_key, &user, err);
	if (ret)
		goto out;
	ret = need_binary(r, user, user_key, "V", &v, &v_len, err);
	if (!ret)
		ret = need_binary(r, user, user_key, "F", &user_f, &user_f_len,
				  err);
	if (ret)
		goto out;
	ret = sam_user_f_check(user_f, user_f_len, req->rid, where_f, err);
	if (ret)
		goto out;

	/* Everything V holds must be understood before any of it changes. */
	struct sam_v t;
	struct sam_hash_entry old_nt, old_lm;
	ret = sam_v_parse(v, v_len, where_v, &t, err);
	if (!ret)
		ret = sam_hash_entry_parse(v_entry(v, &t, SAM_V_NT),
					   t.len[SAM_V_NT], where_v, &old_nt,
					   err);
	if (!ret)
		ret = sam_hash_entry_parse(v_entry(v, &t, SAM_V_LM),
					   t.len[SAM_V_LM], where_v, &old_lm,
					   err);
	if (ret)
		goto out;
	if (krev == SAM_KEY_RC4 &&
	    (old_nt.revision == SAM_KEY_AES || old_lm.revision == SAM_KEY_AES)) {
		ret = bw_seterr(err, BW_EUNSUPPORTED, where_v,
				"an AES hash entry in a SAM whose key is RC4");
		goto out;
	}
	if (old_nt.has_hash) {
		/* The old hash must decrypt too: proof that the key we hold
		 * is the one this account's entries were written with. */
		ret = sam_hash_decrypt(v_entry(v, &t, SAM_V_NT),
				       t.len[SAM_V_NT], hbk, req->rid, where_v,
				       check, err);
		if (ret)
			goto out;
	}

	/* The new NT entry, in the SAM key's revision, keeping what the
	 * account's entries already say (PEK id, data offset). */
	uint16_t pek_id = old_nt.revision ? old_nt.pek_id : old_lm.pek_id;
	uint32_t data_offset = old_nt.revision == SAM_KEY_AES ? old_nt.data_offset
			     : old_lm.revision == SAM_KEY_AES ? old_lm.data_offset
			     : SAM_HASH_AES_DATA_OFFSET;
	uint8_t salt[SAM_AES_SALT_LEN];
	if (req->salt) {
		memcpy(salt, req->salt, sizeof salt);
	} else if (bw_random_bytes(salt, sizeof salt) != 0) {
		ret = bw_seterr(err, BW_EIO, sam_path,
				"no random bytes for the hash's IV: %s",
				strerror(errno));
		goto out;
	}
	uint8_t entry[SAM_HASH_AES_LEN];
	size_t entry_len;
	sam_hash_encrypt(krev, hbk, req->rid, nt, pek_id, data_offset, salt,
			 entry, &entry_len);
	ret = sam_hash_decrypt(entry, entry_len, hbk, req->rid, where_v, check,
			       err);
	if (ret)
		goto out;
	if (memcmp(check, nt, sizeof nt) != 0) {
		ret = bw_seterr(err, BW_EUNSUPPORTED, where_v,
				"the new hash entry does not decrypt to the password's hash");
		goto out;
	}
	ret = sam_v_replace(v, v_len, SAM_V_NT, entry, entry_len, where_v, &v1,
			    &v1_len, err);
	if (ret)
		goto out;
	rep->entry_resized = entry_len != t.len[SAM_V_NT];

	/* The LM hash goes, its header stays (a revision-1 entry's 4 bytes,
	 * a revision-2 entry's 24): what Windows keeps when it stores none. */
	if (old_lm.has_hash) {
		size_t keep = old_lm.revision == SAM_KEY_RC4 ? 4 : SAM_HASH_AES_HDR;
		uint8_t hdr[SAM_HASH_AES_HDR];
		memcpy(hdr, v_entry(v, &t, SAM_V_LM), keep);
		ret = sam_v_replace(v1, v1_len, SAM_V_LM, hdr, keep, where_v,
				    &v2, &v2_len, err);
		if (ret)
			goto out;
		rep->lm_cleared = 1;
		rep->entry_resized = 1;
	} else {
		v2 = v1;
		v2_len = v1_len;
		v1 = NULL;
	}

	/* F: the password's last-set time, and the account enabled. */
	uint64_t when = req->when || req->when_set ? req->when : (uint64_t)time(NULL);
	bw_put_le64(user_f + SAM_USER_F_PWD_LAST_SET,
		    FILETIME_UNIX_EPOCH + when * 10000000ull);
	uint16_t acb = bw_get_le16(user_f + SAM_USER_F_ACB);
	rep->was_enabled = !(acb & SAM_ACB_DISABLED);
	if (req->enable) {
		acb &= (uint16_t)~(SAM_ACB_DISABLED | SAM_ACB_AUTOLOCK);
		bw_put_le16(user_f + SAM_USER_F_ACB, acb);
		bw_put_le16(user_f + SAM_USER_F_BAD_PWD_COUNT, 0);
	}
	rep->enabled = !(acb & SAM_ACB_DISABLED);

	ret = win_reg_set_value(r, user, user_key, "V", WIN_REG_BINARY, v2,
				v2_len, NULL, err);
	if (!ret)
		ret = win_reg_set_value(r, user, user_key, "F", WIN_REG_BINARY,
					user_f, user_f_len, NULL, err);
	if (!ret)
		ret = win_reg_commit(r, err);
	if (ret)
		goto out;
	rep->key_revision = krev;
	rep->old_hash_revision = old_nt.revision;
	rep->had_nt_hash = old_nt.has_hash;
out:
	memset(nt, 0, sizeof nt);
	memset(check, 0, sizeof check);
	memset(bootkey, 0, sizeof bootkey);
	memset(hbk, 0, sizeof hbk);
	win_reg_close(r);
	free(dom_f);
	free(v);
	free(user_f);
	free(v1);
	free(v2);
	return ret;
}

/* ---- reading ------------------------------------------------------------ */

void bw_sam_info_free(struct bw_sam_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->naccounts; i++)
		free(info->accounts[i].name);
	free(info->accounts);
	memset(info, 0, sizeof *info);
}

/* A Users\ subkey name that is a RID: exactly 8 hex digits. */
static int rid_name(const char *name, uint32_t *rid)
{
	uint32_t v = 0;
	size_t i;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0'
		      : c >= 'a' && c <= 'f' ? c - 'a' + 10
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0 || i >= 8)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	if (i != 8)
		return -1;
	*rid = v;
	return 0;
}

static int read_account(struct win_reg *r, win_node node, uint32_t rid,
			const char *file, struct bw_sam_account *a,
			struct bw_error *err)
{
	char key[64], where_v[96], where_f[96];
	uint8_t *v = NULL, *f = NULL;
	size_t v_len, f_len;
	snprintf(key, sizeof key, SAM_USERS "\\%08X", (unsigned)rid);
	snprintf(where_v, sizeof where_v, "%s: %s\\V", file, key);
	snprintf(where_f, sizeof where_f, "%s: %s\\F", file, key);
	int ret = need_binary(r, node, key, "V", &v, &v_len, err);
	if (!ret)
		ret = need_binary(r, node, key, "F", &f, &f_len, err);
	if (!ret)
		ret = sam_user_f_check(f, f_len, rid, where_f, err);
	struct sam_v t;
	struct sam_hash_entry nt;
	if (!ret)
		ret = sam_v_parse(v, v_len, where_v, &t, err);
	if (!ret)
		ret = sam_hash_entry_parse(v_entry(v, &t, SAM_V_NT),
					   t.len[SAM_V_NT], where_v, &nt, err);
	if (ret)
		goto out;
	ret = win_utf16le_to_utf8(v_entry(v, &t, SAM_V_NAME), t.len[SAM_V_NAME],
				  &a->name, NULL);
	if (ret) {
		ret = bw_seterr(err, ret, file, "out of memory");
		goto out;
	}
	uint16_t acb = bw_get_le16(f + SAM_USER_F_ACB);
	a->rid = rid;
	a->enabled = !(acb & SAM_ACB_DISABLED);
	a->locked = !!(acb & SAM_ACB_AUTOLOCK);
	a->hash_revision = nt.revision;
	a->has_nt_hash = nt.has_hash;
out:
	free(v);
	free(f);
	return ret;
}

int bw_sam_read(const char *path, const char *name, struct bw_sam_info *out,
		struct bw_error *err)
{
	memset(out, 0, sizeof *out);
	const char *file = name ? name : path;
	struct win_reg *r = NULL;
	uint8_t *dom_f = NULL;
	win_node *children = NULL;
	size_t nchildren = 0, dom_f_len;
	struct bw_sam_info info = { 0 };
	int ret = win_reg_open(path, file, &r, err);
	if (ret)
		goto out;
	win_node account, users;
	ret = need_key(r, SAM_ACCOUNT, &account, err);
	if (!ret)
		ret = need_binary(r, account, SAM_ACCOUNT, "F", &dom_f,
				  &dom_f_len, err);
	char where_dom[96];
	snprintf(where_dom, sizeof where_dom, "%s: " SAM_ACCOUNT "\\F", file);
	if (!ret)
		ret = sam_key_revision(dom_f, dom_f_len, where_dom,
				       &info.key_revision, err);
	if (!ret)
		ret = need_key(r, SAM_USERS, &users, err);
	if (!ret)
		ret = win_reg_children(r, users, &children, &nchildren, err);
	if (ret)
		goto out;
	if (nchildren > BW_SAM_MAX_ACCOUNTS) {
		ret = bw_seterr(err, BW_EFORMAT, file,
				SAM_USERS " has %zu subkeys, more than %d",
				nchildren, BW_SAM_MAX_ACCOUNTS);
		goto out;
	}
	if (nchildren) {
		info.accounts = calloc(nchildren, sizeof *info.accounts);
		if (!info.accounts) {
			ret = bw_seterr(err, BW_ENOMEM, file, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < nchildren; i++) {
		char *key;
		uint32_t rid;
		ret = win_reg_node_name(r, children[i], &key, err);
		if (ret)
			goto out;
		int is_rid = rid_name(key, &rid) == 0;
		free(key);
		if (!is_rid)
			continue;           /* Names */
		ret = read_account(r, children[i], rid, file,
				   &info.accounts[info.naccounts], err);
		if (ret)
			goto out;
		info.naccounts++;
	}
	*out = info;
	info.accounts = NULL;
	info.naccounts = 0;
out:
	bw_sam_info_free(&info);
	free(children);
	free(dom_f);
	win_reg_close(r);
	return ret;
}

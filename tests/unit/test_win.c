/*
 * Unit tests of the win module: regf base-block checks, UTF-16 and
 * REG_MULTI_SZ decoding, BCD device descriptors, and whole SYSTEM,
 * SOFTWARE and BCD hives.
 *
 * hivex cannot create a hive from nothing, so minhive_write() (minhive.h)
 * lays out the smallest hive hivex_open accepts, and the test hives are
 * then built with hivex's write API in a temporary directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <hivex.h>

#include "boxwright/win.h"
#include "common/bytes.h"
#include "win/win_internal.h"
#include "check.h"
#include "minhive.h"

#include "hivebuild.h"

/* ---- regf base block -------------------------------------------------- */

/* The plain XOR of the 127 words (what hivex_commit writes): the test's
 * own oracle, to build bases whose XOR is exactly 0 or 0xFFFFFFFF. */
static uint32_t plain_xor(const uint8_t *base)
{
	uint32_t sum = 0;
	for (size_t off = 0; off < WIN_REGF_CHECKSUM_OFF; off += 4)
		sum ^= bw_get_le32(base + off);
	return sum;
}

static void make_base(uint8_t *b, uint32_t seq1, uint32_t seq2)
{
	memset(b, 0, 4096);
	memcpy(b, "regf", 4);
	bw_put_le32(b + 4, seq1);
	bw_put_le32(b + 8, seq2);
	bw_put_le32(b + 0x14, 1);
	bw_put_le32(b + 0x18, 6);
	bw_put_le32(b + 0x20, 1);
	bw_put_le32(b + 0x24, 0x20);
	bw_put_le32(b + 0x28, 0x1000);
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, win_regf_checksum(b));
}

static void test_hive_check(void)
{
	static uint8_t b[4096];
	struct bw_hive_header hh;
	struct bw_error err;

	make_base(b, 7, 7);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0);
	CHECK(!hh.dirty);
	CHECK_EQ_U64(hh.seq_primary, 7);
	CHECK_EQ_U64(hh.seq_secondary, 7);
	CHECK_EQ_U64(hh.major, 1);
	CHECK_EQ_U64(hh.minor, 6);
	CHECK_EQ_U64(hh.checksum_stored, win_regf_checksum(b));
	CHECK_EQ_U64(hh.checksum_computed, hh.checksum_stored);
	/* 512 bytes are enough; fewer are not. */
	CHECK(bw_hive_check(b, 512, "SYSTEM", &hh, &err) == 0 && !hh.dirty);
	CHECK(bw_hive_check(b, 511, "SYSTEM", &hh, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "SYSTEM") != NULL);
	CHECK(bw_hive_check(b, 0, "SYSTEM", &hh, &err) == BW_EFORMAT);

	/* Bad magic. */
	b[0] = 'R';
	CHECK(bw_hive_check(b, sizeof b, "SOFTWARE", &hh, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "SOFTWARE: ") == err.msg);

	/* Wrong checksum: dirty. */
	make_base(b, 7, 7);
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, win_regf_checksum(b) ^ 0x100);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0);
	CHECK(hh.dirty);
	CHECK(hh.checksum_stored != hh.checksum_computed);

	/* Sequences differ (valid checksum): dirty. */
	make_base(b, 8, 7);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0);
	CHECK(hh.dirty);
	CHECK_EQ_U64(hh.checksum_stored, hh.checksum_computed);

	/* Bytes past 0x1FC are not checksummed. */
	make_base(b, 7, 7);
	b[0x200] = 0x55;
	b[0xFFF] = 0xAA;
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0 && !hh.dirty);

	/* XOR of 0xFFFFFFFF is stored as 0xFFFFFFFE. */
	make_base(b, 7, 7);
	bw_put_le32(b + 0x30, 0);
	bw_put_le32(b + 0x30, plain_xor(b) ^ 0xFFFFFFFFu);
	CHECK_EQ_U64(plain_xor(b), 0xFFFFFFFFu);
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, 0xFFFFFFFEu);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0);
	CHECK_EQ_U64(hh.checksum_computed, 0xFFFFFFFEu);
	CHECK(!hh.dirty);
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, 0xFFFFFFFFu);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0 && hh.dirty);

	/* XOR of 0 is stored as 1. */
	bw_put_le32(b + 0x30, 0);
	bw_put_le32(b + 0x30, plain_xor(b));
	CHECK_EQ_U64(plain_xor(b), 0);
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, 1);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0);
	CHECK_EQ_U64(hh.checksum_computed, 1);
	CHECK(!hh.dirty);
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, 0);
	CHECK(bw_hive_check(b, sizeof b, "SYSTEM", &hh, &err) == 0 && hh.dirty);

	/* Files. */
	const char *p = tpath("base.bin");
	FILE *fp = fopen(p, "wb");
	make_base(b, 3, 3);
	CHECK(fp && fwrite(b, 1, sizeof b, fp) == sizeof b);
	if (fp)
		fclose(fp);
	CHECK(bw_hive_check_file(p, "BASE", &hh, &err) == 0 && !hh.dirty);
	CHECK_EQ_U64(hh.seq_primary, 3);
	fp = fopen(p, "wb");
	CHECK(fp && fwrite(b, 1, 100, fp) == 100);
	if (fp)
		fclose(fp);
	CHECK(bw_hive_check_file(p, "BASE", &hh, &err) == BW_EFORMAT);
	CHECK(bw_hive_check_file(tpath("absent"), "ABSENT", &hh, &err) ==
	      BW_ENOTFOUND);
	CHECK(strstr(err.msg, "ABSENT: ") == err.msg);
}

/* ---- UTF-16 and REG_MULTI_SZ ------------------------------------------ */

static void test_utf16(void)
{
	char *s;
	size_t n;
	uint8_t buf[64];

	size_t len = utf16("Nano \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", buf,
			   sizeof buf);
	CHECK(win_utf16le_to_utf8(buf, len, &s, &n) == 0);
	CHECK(s && strcmp(s, "Nano \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == 0);
	CHECK_EQ_U64(n, strlen("Nano \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
	free(s);

	/* Stops at the first NUL; no NUL at all is fine; odd byte ignored. */
	static const uint8_t stop[] = { 'a', 0, 'b', 0, 0, 0, 'c', 0 };
	CHECK(win_utf16le_to_utf8(stop, sizeof stop, &s, NULL) == 0);
	CHECK(s && strcmp(s, "ab") == 0);
	free(s);
	CHECK(win_utf16le_to_utf8(stop, 3, &s, &n) == 0);
	CHECK(s && strcmp(s, "a") == 0 && n == 1);
	free(s);
	CHECK(win_utf16le_to_utf8(stop, 0, &s, &n) == 0);
	CHECK(s && s[0] == '\0' && n == 0);
	free(s);

	/* Lone surrogates become U+FFFD; a high one at the very end too. */
	static const uint8_t lone[] = { 0x00, 0xDC, 'x', 0, 0x3D, 0xD8, 'y', 0,
					0x3D, 0xD8 };
	CHECK(win_utf16le_to_utf8(lone, sizeof lone, &s, NULL) == 0);
	CHECK(s && strcmp(s, "\xEF\xBF\xBDx\xEF\xBF\xBDy\xEF\xBF\xBD") == 0);
	free(s);
	/* A high surrogate followed by NUL: FFFD, then the string ends. */
	static const uint8_t hi_nul[] = { 0x3D, 0xD8, 0, 0, 'z', 0 };
	CHECK(win_utf16le_to_utf8(hi_nul, sizeof hi_nul, &s, NULL) == 0);
	CHECK(s && strcmp(s, "\xEF\xBF\xBD") == 0);
	free(s);
	/* U+07FF and U+0800 edges. */
	static const uint8_t edges[] = { 0xFF, 0x07, 0x00, 0x08, 0x7F, 0x00 };
	CHECK(win_utf16le_to_utf8(edges, sizeof edges, &s, NULL) == 0);
	CHECK(s && strcmp(s, "\xDF\xBF\xE0\xA0\x80\x7F") == 0);
	free(s);

	/* Over the cap: refused. */
	uint8_t *big = calloc(1, WIN_REG_MAX_STRING_BYTES + 2);
	CHECK(big != NULL);
	if (big) {
		s = (char *)1;
		CHECK(win_utf16le_to_utf8(big, WIN_REG_MAX_STRING_BYTES + 2,
					  &s, NULL) == BW_EFORMAT);
		CHECK(s == NULL);
		free(big);
	}
}

static void test_multi_sz(void)
{
	char **v;
	size_t n;
	static const uint8_t two[] = { 'a', 0, 'b', 0, 0, 0, 'c', 0, 0, 0,
				       0, 0, 'd', 0, 0, 0 };
	/* "ab", "c", then the empty string ends the list: "d" is not read. */
	CHECK(win_multi_sz_split(two, sizeof two, &v, &n) == 0);
	CHECK_EQ_U64(n, 2);
	CHECK(v && strcmp(v[0], "ab") == 0 && strcmp(v[1], "c") == 0 &&
	      v[2] == NULL);
	win_strv_free(v);

	static const uint8_t unterminated[] = { 'x', 0, 0, 0, 'y', 0, 'z' };
	CHECK(win_multi_sz_split(unterminated, sizeof unterminated, &v, &n) == 0);
	CHECK_EQ_U64(n, 2);
	CHECK(v && strcmp(v[0], "x") == 0 && strcmp(v[1], "y") == 0 &&
	      v[2] == NULL);
	win_strv_free(v);

	CHECK(win_multi_sz_split(two, 0, &v, &n) == 0);
	CHECK_EQ_U64(n, 0);
	CHECK(v && v[0] == NULL);
	win_strv_free(v);

	/* More strings than the cap. */
	size_t len = (WIN_REG_MAX_MULTI_SZ + 1) * 4;
	uint8_t *many = calloc(1, len);
	CHECK(many != NULL);
	if (many) {
		for (size_t i = 0; i < len; i += 4)
			many[i] = 'k';
		CHECK(win_multi_sz_split(many, len, &v, &n) == BW_EFORMAT);
		CHECK(v == NULL && n == 0);
		CHECK(win_multi_sz_split(many, len - 4, &v, &n) == 0);
		CHECK_EQ_U64(n, WIN_REG_MAX_MULTI_SZ);
		win_strv_free(v);
		free(many);
	}
}

static void test_name_eq(void)
{
	CHECK(win_name_eq("ControlSet001", "CONTROLSET001"));
	CHECK(win_name_eq("", ""));
	CHECK(!win_name_eq("Services", "Service"));
	CHECK(!win_name_eq("Service", "Services"));
	CHECK(!win_name_eq("[", "{"));          /* no bit-5 folding of non-letters */
}

static void test_firewall_rule(void)
{
	const unsigned p = 5985;
	CHECK(win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985|App=System|Name=@FirewallAPI.dll,-35001|", p));
	CHECK(win_firewall_rule_allows(
		"v2.30|action=allow|ACTIVE=true|dir=in|protocol=6|lport=80,443,5985|", p));
	CHECK(win_firewall_rule_allows(
		"v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985-5986|", p));
	CHECK(win_firewall_rule_allows(
		"v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=80|LPort=5000-6000|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=5985|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Block|Active=TRUE|Dir=In|Protocol=6|LPort=5985|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=Out|Protocol=6|LPort=5985|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=17|LPort=5985|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5986|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|RPort=5985|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=59850|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5986-5990|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=RPC|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=-|", p));
	CHECK(!win_firewall_rule_allows(
		"v2.10|Action=Allow|Active=TRUE|Dir=In|LPort=5985|", p));
	CHECK(!win_firewall_rule_allows("", p));
	CHECK(!win_firewall_rule_allows("||||====|", p));
	CHECK(win_firewall_rule_allows(
		"Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort= 5985 ", p));
}

/* ---- BCD device descriptors ------------------------------------------- */

static const uint8_t PART_GUID[16] = {
	0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
	0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF };
static const uint8_t DISK_GUID[16] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10 };

#define DEV_LEN 0x58

/* A partition device element as Windows writes it (0x58 bytes). */
static void mk_part(uint8_t *b, uint32_t type, uint32_t style,
		    uint64_t offset, uint32_t signature)
{
	memset(b, 0, DEV_LEN);
	bw_put_le32(b + 0x10, type);
	bw_put_le32(b + 0x18, 0x48);
	bw_put_le32(b + 0x30, 0);
	bw_put_le32(b + 0x34, style);
	if (style == 1) {
		bw_put_le64(b + 0x20, offset);
		bw_put_le32(b + 0x38, signature);
	} else {
		memcpy(b + 0x20, PART_GUID, 16);
		memcpy(b + 0x38, DISK_GUID, 16);
	}
}

static void mk_type(uint8_t *b, uint32_t type)
{
	memset(b, 0, DEV_LEN);
	bw_put_le32(b + 0x10, type);
	bw_put_le32(b + 0x18, 0x48);
}

static void test_decode_device(void)
{
	uint8_t b[DEV_LEN + 8];
	struct bw_bcd_device d;

	mk_part(b, 6, 1, 0x100000, 0xCAFEBABE);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_PARTITION_MBR);
	CHECK_EQ_U64(d.type, 6);
	CHECK_EQ_U64(d.part_offset, 0x100000);
	CHECK_EQ_U64(d.disk_signature, 0xCAFEBABE);

	mk_part(b, 6, 0, 0, 0);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_PARTITION_GPT);
	CHECK(memcmp(d.part_guid, PART_GUID, 16) == 0);
	CHECK(memcmp(d.disk_guid, DISK_GUID, 16) == 0);
	CHECK_EQ_U64(d.part_offset, 0);

	/* Legacy partition device (type 2): its 0x20 may be a partition
	 * number (ReactOS), so it stays unknown and is never patched. */
	mk_part(b, 2, 1, 0x7E00, 0x11223344);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_UNKNOWN);
	CHECK_EQ_U64(d.type, 2);
	CHECK_EQ_U64(d.part_offset, 0);

	/* Exactly 0x10 + size bytes is enough (no trailing padding). */
	mk_part(b, 6, 1, 0x100000, 1);
	CHECK(bw_bcd_decode_device(b, 0x58, &d) == 0 &&
	      d.kind == BW_BCD_DEV_PARTITION_MBR);
	bw_put_le32(b + 0x18, 0x38);
	CHECK(bw_bcd_decode_device(b, 0x48, &d) == 0 &&
	      d.kind == BW_BCD_DEV_PARTITION_MBR);
	/* Size larger than the data: unknown. */
	bw_put_le32(b + 0x18, 0x48);
	CHECK(bw_bcd_decode_device(b, 0x50, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_UNKNOWN);
	CHECK_EQ_U64(d.type, 6);
	CHECK_EQ_U64(d.part_offset, 0);
	/* Size too small for the partition fields: unknown. */
	bw_put_le32(b + 0x18, 0x37);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	/* Size that would overflow 0x10 + size: unknown. */
	bw_put_le32(b + 0x18, 0xFFFFFFFF);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	bw_put_le32(b + 0x18, 0xFFFFFFF8);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	/* Raw (2) or unknown partition style: unknown. */
	mk_part(b, 6, 1, 0x100000, 1);
	bw_put_le32(b + 0x34, 2);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	bw_put_le32(b + 0x34, 0x100);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	/* A partition of a VHD file (local type 6): unknown. */
	mk_part(b, 6, 1, 0x100000, 1);
	bw_put_le32(b + 0x30, 6);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);

	/* Kinds recognised by type alone. */
	mk_type(b, 5);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_BOOT);
	mk_type(b, 8);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_LOCATE);
	/* Type 0 of a local type we do not know: a disk, left as is. */
	mk_type(b, 0);
	bw_put_le32(b + 0x20, 4);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_DISK && d.local_type == 4);
	/* Type 3 is a serial device (ReactOS), not a RAM disk. */
	mk_type(b, 3);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	mk_type(b, 7);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_UNKNOWN);
	CHECK_EQ_U64(d.type, 7);
	mk_type(b, 0xFFFFFFFF);
	CHECK(bw_bcd_decode_device(b, DEV_LEN, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_UNKNOWN && d.type == 0xFFFFFFFF);

	/* Short data: the type when it is there; BW_EFORMAT below 0x18. */
	mk_part(b, 6, 1, 0x100000, 1);
	CHECK(bw_bcd_decode_device(b, 0x18, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN && d.type == 6);
	CHECK(bw_bcd_decode_device(b, 0x1B, &d) == 0 &&
	      d.kind == BW_BCD_DEV_UNKNOWN);
	CHECK(bw_bcd_decode_device(b, 0x17, &d) == BW_EFORMAT);
	CHECK(d.kind == BW_BCD_DEV_UNKNOWN && d.type == 6);
	CHECK(bw_bcd_decode_device(b, 0x14, &d) == BW_EFORMAT && d.type == 6);
	CHECK(bw_bcd_decode_device(b, 0x13, &d) == BW_EFORMAT && d.type == 0);
	CHECK(bw_bcd_decode_device(b, 0, &d) == BW_EFORMAT);
	CHECK(d.kind == BW_BCD_DEV_UNKNOWN);

	/* Every length of every kind from an exact-size heap copy, so that
	 * ASan/valgrind see any read past the data. */
	int decode_ok = 1;
	for (uint32_t type = 0; type <= 9; type++) {
		for (uint32_t style = 0; style <= 2; style++) {
			mk_part(b, type, style, 0x100000, 1);
			for (size_t len = 0; len <= DEV_LEN; len++) {
				uint8_t *copy = malloc(len ? len : 1);
				if (!copy)
					continue;
				memcpy(copy, b, len);
				int r = bw_bcd_decode_device(copy, len, &d);
				if ((len < 0x18) != (r == BW_EFORMAT))
					decode_ok = 0;
				if (len < 0x48 &&
				    (d.kind == BW_BCD_DEV_PARTITION_MBR ||
				     d.kind == BW_BCD_DEV_PARTITION_GPT))
					decode_ok = 0;
				free(copy);
			}
		}
	}
	CHECK(decode_ok);
}

/* ---- type-0 devices by local type (bcd.c's layouts) ------------------ */

/* A descriptor header at OFF: type, flags, size (from OFF), reserved. */
static void put_desc(uint8_t *b, size_t off, uint32_t type, uint32_t flags,
		     uint32_t size)
{
	bw_put_le32(b + off, type);
	bw_put_le32(b + off + 4, flags);
	bw_put_le32(b + off + 8, size);
	bw_put_le32(b + off + 12, 0);
}

/* An MBR partition descriptor at OFF (0x48 bytes); returns its end. */
static size_t put_mbr_part(uint8_t *b, size_t off, uint32_t sig, uint64_t at)
{
	memset(b + off, 0, 0x48);
	put_desc(b, off, 6, 0, 0x48);
	bw_put_le64(b + off + 0x10, at);
	bw_put_le32(b + off + 0x20, 0);
	bw_put_le32(b + off + 0x24, 1);
	bw_put_le32(b + off + 0x28, sig);
	return off + 0x48;
}

/* UTF-16LE of the ASCII S with its NUL at OFF; returns the end. */
static size_t put_path(uint8_t *b, size_t off, const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		bw_put_le16(b + off + 2 * i, (uint16_t)(unsigned char)s[i]);
	bw_put_le16(b + off + 2 * i, 0);
	return off + 2 * i + 2;
}

/* A file path descriptor at OFF holding an MBR partition and PATH;
 * returns the end. */
static size_t put_file_path(uint8_t *b, size_t off, const char *path)
{
	size_t end = put_path(b, put_mbr_part(b, off + 12, 0x1234ABCD, 0x100000),
			      path);
	bw_put_le32(b + off, 1);
	bw_put_le32(b + off + 4, (uint32_t)(end - off));
	bw_put_le32(b + off + 8, 5);
	return end;
}

/* "ramdisk=[partition]\sources\boot.wim,{options}" as bcdedit writes it. */
static size_t mk_ramdisk(uint8_t *b)
{
	memset(b, 0, 512);
	for (int i = 0; i < 16; i++)
		b[i] = (uint8_t)(0xA0 + i);          /* the options object */
	bw_put_le32(b + 0x20, 3);
	size_t end = put_file_path(b, 0x38, "\\sources\\boot.wim");
	put_desc(b, 0x10, 0, 1, (uint32_t)(end - 0x10));
	return end;
}

/* "file=[partition]\vhds\nano.vhdx" at OFF (type-0 file descriptor). */
static size_t put_file_dev(uint8_t *b, size_t off, const char *path)
{
	bw_put_le32(b + off + 0x10, 5);
	size_t end = put_file_path(b, off + 0x14, path);
	put_desc(b, off, 0, 0, (uint32_t)(end - off));
	return end;
}

/* "vhd=[partition]\vhds\nano.vhdx": locate -> virtual disk -> file. */
static size_t mk_vhd(uint8_t *b)
{
	memset(b, 0, 512);
	bw_put_le32(b + 0x20, 0);
	bw_put_le32(b + 0x24, 0x12000002);
	bw_put_le32(b + 0x28, 0x1E);
	size_t disk = 0x2E;
	bw_put_le32(b + disk + 0x10, 6);
	size_t end = put_file_dev(b, disk + 0x28, "\\vhds\\nano.vhdx");
	put_desc(b, disk, 0, 0, (uint32_t)(end - disk));
	put_desc(b, 0x10, 8, 0, (uint32_t)(end - 0x10));
	return end;
}

static void test_decode_local(void)
{
	uint8_t b[512];
	struct bw_bcd_device d;
	size_t n;

	/* Hard disk by MBR signature, by GPT disk GUID; raw style: a disk. */
	memset(b, 0, sizeof b);
	put_desc(b, 0x10, 0, 0, 0x48);
	bw_put_le32(b + 0x24, 1);
	bw_put_le32(b + 0x28, 0xCAFEBABE);
	CHECK(bw_bcd_decode_device(b, 0x58, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_HARDDISK_MBR && d.disk_signature == 0xCAFEBABE &&
	      d.local_type == 0);
	bw_put_le32(b + 0x24, 0);
	memcpy(b + 0x28, DISK_GUID, 16);
	CHECK(bw_bcd_decode_device(b, 0x58, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_HARDDISK_GPT && memcmp(d.disk_guid, DISK_GUID, 16) == 0);
	/* A size too small for the GUID: a disk, not understood. */
	put_desc(b, 0x10, 0, 0, 0x20);
	CHECK(bw_bcd_decode_device(b, 0x58, &d) == 0 && d.kind == BW_BCD_DEV_DISK);
	put_desc(b, 0x10, 0, 0, 0x48);
	bw_put_le32(b + 0x24, 2);
	CHECK(bw_bcd_decode_device(b, 0x58, &d) == 0 && d.kind == BW_BCD_DEV_DISK);

	/* Removable (floppy) and CD-ROM: a drive number. */
	memset(b, 0, sizeof b);
	put_desc(b, 0x10, 0, 0, 0x18);
	bw_put_le32(b + 0x20, 1);
	bw_put_le32(b + 0x24, 0);
	CHECK(bw_bcd_decode_device(b, 0x28, &d) == 0 &&
	      d.kind == BW_BCD_DEV_REMOVABLE && d.drive_number == 0);
	bw_put_le32(b + 0x20, 2);
	bw_put_le32(b + 0x24, 1);
	CHECK(bw_bcd_decode_device(b, 0x28, &d) == 0 &&
	      d.kind == BW_BCD_DEV_CDROM && d.drive_number == 1);
	CHECK(bw_bcd_decode_device(b, 0x27, &d) == 0 && d.kind == BW_BCD_DEV_DISK);

	/* RAM disk: image path, the partition it lies on, the options. */
	n = mk_ramdisk(b);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_RAMDISK && d.type == 0 && d.local_type == 3);
	CHECK(strcmp(d.path, "\\sources\\boot.wim") == 0);
	CHECK(d.parent.kind == BW_BCD_DEV_PARTITION_MBR &&
	      d.parent.disk_signature == 0x1234ABCD &&
	      d.parent.part_offset == 0x100000);
	CHECK(d.options_guid[0] == 0xA0 && d.options_guid[15] == 0xAF);
	/* Every shorter length is a disk, never past the data (ASan). */
	for (size_t k = 0x18; k < n; k++) {
		uint8_t *c = malloc(k);
		memcpy(c, b, k);
		CHECK(bw_bcd_decode_device(c, k, &d) == 0 && d.kind == BW_BCD_DEV_DISK);
		free(c);
	}
	/* A path descriptor of another version, a length past the
	 * descriptor, a nested size past the path: not understood. */
	n = mk_ramdisk(b);
	bw_put_le32(b + 0x38, 2);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0 && d.kind == BW_BCD_DEV_DISK);
	n = mk_ramdisk(b);
	bw_put_le32(b + 0x3C, bw_get_le32(b + 0x3C) + 2);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0 && d.kind == BW_BCD_DEV_DISK);
	n = mk_ramdisk(b);
	bw_put_le32(b + 0x4C, 0x1000);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0 && d.kind == BW_BCD_DEV_DISK);
	/* The nested device of a kind we do not know: the path still, the
	 * parent unknown. */
	n = mk_ramdisk(b);
	bw_put_le32(b + 0x44, 7);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0 && d.kind == BW_BCD_DEV_RAMDISK &&
	      d.parent.kind == BW_BCD_DEV_UNKNOWN &&
	      strcmp(d.path, "\\sources\\boot.wim") == 0);

	/* A file on a partition. */
	memset(b, 0, sizeof b);
	n = put_file_dev(b, 0x10, "\\vhds\\nano.vhdx");
	CHECK(bw_bcd_decode_device(b, n, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_FILE && strcmp(d.path, "\\vhds\\nano.vhdx") == 0 &&
	      d.parent.kind == BW_BCD_DEV_PARTITION_MBR);

	/* VHD boot: locate -> virtual disk -> file -> partition. */
	n = mk_vhd(b);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_VHD && d.type == 8);
	CHECK(strcmp(d.path, "\\vhds\\nano.vhdx") == 0);
	CHECK(d.parent.kind == BW_BCD_DEV_PARTITION_MBR &&
	      d.parent.disk_signature == 0x1234ABCD);
	for (size_t k = 0x18; k < n; k++) {
		uint8_t *c = malloc(k);
		memcpy(c, b, k);
		CHECK(bw_bcd_decode_device(c, k, &d) == 0 && d.kind == BW_BCD_DEV_LOCATE);
		free(c);
	}
	/* Another offset field: a plain locate device. */
	bw_put_le32(b + 0x28, 0x20);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0 && d.kind == BW_BCD_DEV_LOCATE);
	/* The virtual disk alone (type 0, local 6) is a VHD too. */
	n = mk_vhd(b);
	CHECK(bw_bcd_decode_device(b + 0x1E, n - 0x1E, &d) == 0 &&
	      d.kind == BW_BCD_DEV_VHD && strcmp(d.path, "\\vhds\\nano.vhdx") == 0);
	/* Its file device of another local type: a disk. */
	bw_put_le32(b + 0x2E + 0x28 + 0x10, 4);
	CHECK(bw_bcd_decode_device(b, n, &d) == 0 && d.kind == BW_BCD_DEV_LOCATE);
}

/* bcdpatch patches a RAM disk's nested partition as before and leaves
 * a VHD device byte-identical (counted unknown). */
static void test_patch_local(void)
{
	uint8_t rd[512], vhd[512];
	size_t nrd = mk_ramdisk(rd), nvhd = mk_vhd(vhd);
	const char *p = tpath("BCD_LOCAL");
	hive_h *h = hv_new(p);
	if (h) {
		hive_node_h o = hv_key(h, hivex_root(h), "Objects\\{b2721d73-1db4-4c62-bf78-c548a880142d}");
		hv_dword(h, hv_key(h, o, "Description"), "Type", 0x10200003);
		hv_raw(h, hv_key(h, o, "Elements\\11000001"), "Element",
		       hive_t_REG_BINARY, (const char *)rd, nrd);
		hv_raw(h, hv_key(h, o, "Elements\\21000001"), "Element",
		       hive_t_REG_BINARY, (const char *)vhd, nvhd);
		hv_commit(h, p);
	}
	struct bw_win_location old_loc = { 0x1234ABCD, 0x100000 };
	struct bw_win_location new_loc = { 0x1234ABCD, 0x200000 };
	struct bw_win_report rep;
	struct bw_error err;
	CHECK(bw_win_fix_bcd(p, &old_loc, &new_loc, &rep, &err) == 0);
	CHECK(rep.bcd_devices_patched == 1 && rep.bcd_devices_unknown == 1);
	struct bw_bcd *bcd = NULL;
	CHECK(bw_bcd_load(p, "BCD", &bcd, &err) == 0);
	CHECK(bcd && bcd->nobjects == 1 && bcd->objects[0].ndevices == 2);
	for (size_t i = 0; bcd && i < bcd->objects[0].ndevices; i++) {
		const struct bw_bcd_element *e = &bcd->objects[0].devices[i];
		if (e->id == 0x11000001) {
			/* Only the nested partition's offset changed. */
			CHECK(e->raw_len == nrd && e->dev.kind == BW_BCD_DEV_RAMDISK);
			CHECK(e->raw_len == nrd && memcmp(e->raw, rd, 0x54) == 0 &&
			      bw_get_le64(e->raw + 0x54) == 0x200000 &&
			      memcmp(e->raw + 0x5C, rd + 0x5C, nrd - 0x5C) == 0);
			CHECK(e->dev.parent.part_offset == 0x200000);
		} else {
			CHECK(e->id == 0x21000001 && e->dev.kind == BW_BCD_DEV_VHD);
			CHECK(e->raw_len == nvhd && memcmp(e->raw, vhd, nvhd) == 0);
		}
	}
	bw_bcd_free(bcd);
}

static void test_guid_format(void)
{
	char s[39];
	bw_guid_format(PART_GUID, s);
	CHECK(strcmp(s, "{00112233-4455-6677-8899-aabbccddeeff}") == 0);
	static const uint8_t bootmgr[16] = {
		0x2c, 0x86, 0xea, 0x9d, 0xdd, 0x5c, 0x70, 0x4e,
		0xac, 0xc1, 0xf3, 0x2b, 0x34, 0x4d, 0x47, 0x95 };
	bw_guid_format(bootmgr, s);
	CHECK(strcmp(s, "{9dea862c-5cdd-4e70-acc1-f32b344d4795}") == 0);
	static const uint8_t ff[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	bw_guid_format(ff, s);
	CHECK(strcmp(s, "{ffffffff-ffff-ffff-ffff-ffffffffffff}") == 0);
	CHECK_EQ_U64(strlen(s), 38);
}

/* ---- SYSTEM ----------------------------------------------------------- */

#define FW_RULES "Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules"

/* SYSTEM with a live-looking ControlSet002 (mixed-case names) and a stale
 * ControlSet001 holding other values; Select\Current = CURRENT. */
static void build_system(const char *path, uint32_t current)
{
	hive_h *h = hv_new(path);
	if (!h)
		return;
	hive_node_h root = hivex_root(h);
	hive_node_h sel = hv_key(h, root, "Select");
	hv_dword(h, sel, "Current", current);
	hv_dword(h, sel, "Default", current);
	hv_dword(h, sel, "LastKnownGood", 1);

	/* The stale set. */
	hive_node_h cs1 = hv_key(h, root, "ControlSet001");
	hv_sz(h, hv_key(h, cs1, "Control\\ComputerName\\ComputerName"),
	      "ComputerName", "OLDNAME");
	hv_sz(h, hv_key(h, cs1, "Services\\Tcpip\\Parameters"), "Hostname",
	      "oldhost");
	hv_dword(h, hv_key(h, cs1, "Services\\WinRM"), "Start", 4);
	hv_sz(h, hv_key(h, cs1, FW_RULES), "WINRM-HTTP-In-TCP",
	      "v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=5985|");
	hv_dword(h, hv_key(h, cs1, "Services\\pciide"), "Start", 0);
	hv_dword(h, hv_key(h, cs1, "Services\\netkvm"), "Start", 3);

	/* The live set, names in other cases than Windows writes them. */
	hive_node_h cs2 = hv_key(h, root, "controlset002");
	hv_sz(h, hv_key(h, cs2, "CONTROL\\computername\\ComputerName"),
	      "computername", "NANO-\xC3\x89T\xC3\x89-\xF0\x9F\x98\x80");
	hive_node_h tcp = hv_key(h, cs2, "services\\TCPIP\\parameters");
	static const uint8_t host[] = { 'n', 0, 'a', 0, 'n', 0, 'o', 0, 0, 0,
					'x', 0, 'y', 0, 0, 0 };
	hv_raw(h, tcp, "HOSTNAME", hive_t_REG_SZ, host, sizeof host);
	hv_dword(h, hv_key(h, cs2, "SERVICES\\winrm"), "start", 2);
	hive_node_h fw = hv_key(h, cs2, "Services\\sharedaccess\\Parameters\\"
				"FirewallPolicy\\firewallrules");
	hv_sz(h, fw, "CoreNet-DHCP-In",
	      "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=17|LPort=68|");
	hv_dword(h, fw, "NotAString", 5985);
	hv_sz(h, fw, "WINRM-HTTP-Compat-In-TCP",
	      "v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=80|");
	hv_sz(h, fw, "WINRM-HTTP-In-TCP",
	      "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985|"
	      "App=System|Name=@FirewallAPI.dll,-35001|");
	hv_dword(h, hv_key(h, cs2, "Services\\ATAPI"), "Start", 0);
	hive_node_h ide = hv_key(h, cs2, "Services\\intelide");
	hv_dword(h, ide, "Start", 0);
	hv_sz(h, ide, "ImagePath", "System32\\drivers\\intelide.sys");
	hv_dword(h, hv_key(h, cs2, "Services\\e1g60"), "Start", 3);
	/* A boot driver Windows 8+ demoted for this machine: not usable. */
	hive_node_h ahci = hv_key(h, cs2, "Services\\storahci");
	hv_dword(h, ahci, "Start", 0);
	hv_dword(h, hv_key(h, ahci, "StartOverride"), "0", 3);
	hv_dword(h, hv_key(h, cs2, "Services\\MSAHCI"), "Start", 4);
	hive_node_h vmbus = hv_key(h, cs2, "Services\\vmbus");
	hv_dword(h, vmbus, "Start", 0);
	hv_sz(h, vmbus, "ImagePath", "\\SystemRoot\\System32\\drivers\\vmbus.sys");
	hv_dword(h, hv_key(h, cs2, "Services\\STORVSC"), "Start", 3);  /* not boot */
	hv_dword(h, hv_key(h, cs2, "Services\\NetVsc"), "Start", 3);
	hv_key(h, cs2, "Services\\viostor");      /* present, no Start */

	/* Setup at the hive root, not in a control set. */
	hive_node_h setup = hv_key(h, root, "Setup");
	hv_dword(h, setup, "SystemSetupInProgress", 1);
	hv_dword(h, setup, "SetupType", 2);
	uint8_t be[4];
	bw_put_be32(be, 1);
	hv_raw(h, setup, "OOBEInProgress", hive_t_REG_DWORD_BIG_ENDIAN, be, 4);
	hv_sz(h, setup, "CmdLine", "oobe\\windeploy.exe");

	hive_node_h md = hv_key(h, root, "MountedDevices");
	uint8_t mbr[12];
	bw_put_le32(mbr, 0xDEADBEEF);
	bw_put_le64(mbr + 4, 0x100000);
	hv_raw(h, md, "\\DosDevices\\C:", hive_t_REG_BINARY, mbr, sizeof mbr);
	uint8_t gpt[24];
	memcpy(gpt, "DMIO:ID:", 8);
	memcpy(gpt + 8, PART_GUID, 16);
	hv_raw(h, md, "\\??\\Volume{7e3d3c1a-0000-0000-0000-100000000000}",
	       hive_t_REG_BINARY, gpt, sizeof gpt);
	uint8_t other[30];
	size_t olen = utf16("\\??\\SCSI#CdRom", other, sizeof other);
	hv_raw(h, md, "\\DosDevices\\D:", hive_t_REG_BINARY, other, olen);
	hv_commit(h, path);
}

static const struct bw_mounted_device *find_mounted(
	const struct bw_system_facts *f, const char *name)
{
	for (size_t i = 0; i < f->nmounted; i++)
		if (strcmp(f->mounted[i].name, name) == 0)
			return &f->mounted[i];
	return NULL;
}

static const struct bw_driver_state *find_driver(const struct bw_system_facts *f,
					       const char *service)
{
	for (int i = 0; i < BW_NUM_DRIVERS; i++)
		if (strcasecmp(f->drivers[i].service, service) == 0)
			return &f->drivers[i];
	return NULL;
}

/* The driver table's rules, on states built by hand. */
static void test_driver_rules(void)
{
	struct bw_driver_state d = { .service = "storahci", .kind = BW_DRV_AHCI, .boot = 1,
				     .present = 1, .start = 0, .start_override = -1, .file = -1 };
	CHECK(bw_driver_usable(&d));
	d.file = 1;
	CHECK(bw_driver_usable(&d));
	d.file = 0;                             /* ImagePath's file missing */
	CHECK(!bw_driver_usable(&d));
	d.file = 1;
	d.start = 3;                            /* demand start: not loaded at boot */
	CHECK(!bw_driver_usable(&d));
	d.start = 4;
	CHECK(!bw_driver_usable(&d));
	d.start = 0;
	d.start_override = 3;                   /* Windows 8+ demoted it */
	CHECK(!bw_driver_usable(&d));
	d.start_override = 0;
	CHECK(bw_driver_usable(&d));
	d.present = 0;
	CHECK(!bw_driver_usable(&d));
	/* A NIC is a PnP demand-start driver: any Start but 4. */
	struct bw_driver_state n = { .service = "E1G60", .kind = BW_DRV_E1000, .boot = 0,
				     .present = 1, .start = 3, .start_override = 3, .file = 1 };
	CHECK(bw_driver_usable(&n));
	n.start = 4;
	CHECK(!bw_driver_usable(&n));
	n.start = -1;                           /* no Start: the SCM cannot load it */
	CHECK(!bw_driver_usable(&n));

	struct bw_driver_state set[3] = { d, n, d };
	set[0].present = 1;
	set[1].start = 2;
	set[2].kind = BW_DRV_STORVSC;
	set[2].present = 1;
	set[2].start = 4;
	CHECK_EQ_U64(bw_driver_kinds(set, 3), BW_DRIVER_BIT(BW_DRV_AHCI) | BW_DRIVER_BIT(BW_DRV_E1000));
	set[1].kind = (enum bw_driver_kind)BW_DRIVER_KINDS;   /* out of range: ignored */
	CHECK_EQ_U64(bw_driver_kinds(set, 3), BW_DRIVER_BIT(BW_DRV_AHCI));
	CHECK_EQ_U64(bw_driver_kinds(set, 0), 0);

	CHECK(strcmp(bw_driver_kind_name(BW_DRV_AHCI), "ahci") == 0);
	CHECK(strcmp(bw_driver_kind_name(BW_DRV_VIRTIO_NET), "virtio-net") == 0);
	CHECK(bw_driver_kind_name((enum bw_driver_kind)BW_DRIVER_KINDS) == NULL);

	/* ImagePath forms -> the file on the Windows volume (NULL: refused). */
	static const struct {
		const char *image_path, *file;
	} forms[] = {
		{ "", "\\Windows\\System32\\drivers\\E1G60.sys" },     /* SCM default */
		{ "\\SystemRoot\\System32\\drivers\\E1G6032E.sys",
		  "\\Windows\\System32\\drivers\\E1G6032E.sys" },
		{ "\\systemroot\\system32\\DRIVERS\\x.sys", "\\Windows\\system32\\DRIVERS\\x.sys" },
		{ "%SystemRoot%\\System32\\drivers\\y.sys", "\\Windows\\System32\\drivers\\y.sys" },
		{ "System32\\drivers\\storahci.sys", "\\Windows\\System32\\drivers\\storahci.sys" },
		{ "\\??\\D:\\drivers\\z.sys", NULL },
		{ "\\SystemRoot\\", NULL },
	};
	char out[BW_DRIVER_PATH_MAX + 16];
	struct bw_driver_state p = { .service = "E1G60" };
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		snprintf(p.image_path, sizeof p.image_path, "%s", forms[i].image_path);
		int r = bw_driver_file_path(&p, out, sizeof out);
		int good = forms[i].file ? r == 0 && strcmp(out, forms[i].file) == 0
					 : r == BW_EINVAL;
		CHECK(good);
		if (!good)
			fprintf(stderr, "  ImagePath '%s': %d '%s'\n", forms[i].image_path, r,
				r == 0 ? out : "");
	}
	snprintf(p.image_path, sizeof p.image_path, "System32\\drivers\\storahci.sys");
	CHECK(bw_driver_file_path(&p, out, 20) == BW_EINVAL);      /* does not fit */
	p.image_path_long = 1;
	CHECK(bw_driver_file_path(&p, out, sizeof out) == BW_EINVAL);

	/* The table: names unique whatever their case, every kind in range
	 * and named, the storage kinds on the boot path, the NICs not. */
	struct bw_system_facts f;
	struct bw_error err;
	CHECK(bw_system_read("/nonexistent", "SYSTEM", &f, &err) != 0);   /* leaves the table */
	unsigned seen = 0;
	for (int i = 0; i < BW_NUM_DRIVERS; i++) {
		const struct bw_driver_state *a = &f.drivers[i];
		CHECK(a->service && a->what && bw_driver_kind_name(a->kind));
		seen |= BW_DRIVER_BIT(a->kind);
		int nic = a->kind == BW_DRV_E1000 || a->kind == BW_DRV_E1000E ||
			  a->kind == BW_DRV_NETVSC || a->kind == BW_DRV_VIRTIO_NET;
		CHECK(a->boot == !nic);
		for (int k = 0; k < i; k++)
			CHECK(strcasecmp(a->service, f.drivers[k].service) != 0);
	}
	CHECK_EQ_U64(seen, (1u << BW_DRIVER_KINDS) - 1);
	/* The Hyper-V and AHCI names the providers depend on. */
	CHECK(find_driver(&f, "storahci") && find_driver(&f, "msahci"));
	CHECK(find_driver(&f, "vmbus") && find_driver(&f, "storvsc") && find_driver(&f, "netvsc"));
}

static void test_system(void)
{
	struct bw_system_facts f;
	struct bw_error err;
	const char *p = tpath("SYSTEM");
	build_system(p, 2);
	CHECK(build_failures == 0);

	bw_error_clear(&err);
	int r = bw_system_read(p, "SYSTEM", &f, &err);
	CHECK(r == 0);
	if (r)
		fprintf(stderr, "bw_system_read: %s\n", err.msg);
	CHECK_EQ_U64(f.current_controlset, 2);
	CHECK(strcmp(f.controlset_name, "ControlSet002") == 0);
	CHECK(f.computer_name &&
	      strcmp(f.computer_name, "NANO-\xC3\x89T\xC3\x89-\xF0\x9F\x98\x80") == 0);
	CHECK(f.hostname && strcmp(f.hostname, "nano") == 0);
	CHECK_EQ_U64(f.winrm_start, 2);
	CHECK_EQ_U64(f.firewall_winrm_http, 1);
	CHECK_EQ_U64(f.setup_in_progress, 1);
	CHECK_EQ_U64(f.setup_type, 2);
	CHECK_EQ_U64(f.oobe_in_progress, 1);
	CHECK(f.setup_cmdline && strcmp(f.setup_cmdline, "oobe\\windeploy.exe") == 0);

	CHECK_EQ_U64(f.nmounted, 3);
	const struct bw_mounted_device *m = find_mounted(&f, "\\DosDevices\\C:");
	CHECK(m && m->is_mbr && !m->is_gpt && m->len == 12);
	CHECK(m && m->disk_signature == 0xDEADBEEF && m->part_offset == 0x100000);
	m = find_mounted(&f, "\\??\\Volume{7e3d3c1a-0000-0000-0000-100000000000}");
	CHECK(m && m->is_gpt && !m->is_mbr && m->len == 24);
	CHECK(m && memcmp(m->part_guid, PART_GUID, 16) == 0);
	m = find_mounted(&f, "\\DosDevices\\D:");
	CHECK(m && !m->is_gpt && !m->is_mbr && m->len == 30);

	CHECK(strcmp(f.drivers[0].service, "atapi") == 0);
	CHECK(f.drivers[0].present && f.drivers[0].start == 0);
	CHECK(strcmp(f.drivers[1].service, "intelide") == 0);
	CHECK(f.drivers[1].present && f.drivers[1].start == 0);
	CHECK(strcmp(f.drivers[1].image_path, "System32\\drivers\\intelide.sys") == 0);
	CHECK(f.drivers[1].file == -1 && f.drivers[1].start_override == -1);
	CHECK(strcmp(f.drivers[2].service, "pciide") == 0);
	CHECK(!f.drivers[2].present && f.drivers[2].start == -1);  /* only in 001 */
	CHECK(strcmp(f.drivers[3].service, "E1G60") == 0);
	CHECK(f.drivers[3].present && f.drivers[3].start == 3);
	CHECK(strcmp(f.drivers[3].what, "Intel PRO/1000 (E1000) NIC") == 0);
	CHECK(f.drivers[3].image_path[0] == '\0');
	const struct bw_driver_state *ds = find_driver(&f, "storahci");
	CHECK(ds && ds->present && ds->start == 0 && ds->start_override == 3 && !bw_driver_usable(ds));
	ds = find_driver(&f, "msahci");
	CHECK(ds && ds->present && ds->start == 4 && !bw_driver_usable(ds));
	ds = find_driver(&f, "vmbus");
	CHECK(ds && ds->present && bw_driver_usable(ds));
	CHECK(ds && strcmp(ds->image_path, "\\SystemRoot\\System32\\drivers\\vmbus.sys") == 0);
	ds = find_driver(&f, "storvsc");
	CHECK(ds && ds->present && ds->start == 3 && !bw_driver_usable(ds));
	ds = find_driver(&f, "netvsc");
	CHECK(ds && ds->present && ds->start == 3 && bw_driver_usable(ds));
	ds = find_driver(&f, "viostor");
	CHECK(ds && ds->present && ds->start == -1 && !bw_driver_usable(ds));
	ds = find_driver(&f, "netkvm");
	CHECK(ds && !ds->present);              /* only in the stale 001 */
	CHECK_EQ_U64(bw_driver_kinds(f.drivers, BW_NUM_DRIVERS),
		     BW_DRIVER_BIT(BW_DRV_IDE_CHANNEL) | BW_DRIVER_BIT(BW_DRV_IDE_CONTROLLER) |
		     BW_DRIVER_BIT(BW_DRV_E1000) | BW_DRIVER_BIT(BW_DRV_VMBUS) |
		     BW_DRIVER_BIT(BW_DRV_NETVSC));
	int ide = -1, nic = -1;
	bw_win_vbox_drivers(&f, &ide, &nic);
	CHECK(ide == 1 && nic == 1);
	/* Each class alone, absent ones not counted. */
	struct bw_system_facts df;
	memcpy(df.drivers, f.drivers, sizeof df.drivers);
	df.drivers[1].present = 0;              /* intelide gone, pciide absent */
	bw_win_vbox_drivers(&df, &ide, &nic);
	CHECK(ide == 0 && nic == 1);
	df.drivers[2].present = 1;              /* pciide present, a boot driver */
	df.drivers[2].start = 0;
	df.drivers[3].present = 0;
	bw_win_vbox_drivers(&df, &ide, &nic);
	CHECK(ide == 1 && nic == 0);
	df.drivers[0].start = 3;                /* atapi not a boot driver: no IDE disk */
	df.drivers[3].present = 1;
	bw_win_vbox_drivers(&df, &ide, &nic);
	CHECK(ide == 0 && nic == 1);
	df.drivers[0].start = 0;
	df.drivers[3].file = 0;                 /* E1G6032E.sys looked for, missing */
	bw_win_vbox_drivers(&df, &ide, &nic);
	CHECK(ide == 1 && nic == 0);
	for (int i = 0; i < BW_NUM_DRIVERS; i++)
		df.drivers[i].present = 0;
	bw_win_vbox_drivers(&df, &ide, &nic);
	CHECK(ide == 0 && nic == 0);
	bw_system_facts_free(&f);
	bw_system_facts_free(&f);               /* twice is harmless */

	/* The same hive with Select\Current = 1: the stale set's values. */
	p = tpath("SYSTEM1");
	build_system(p, 1);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(strcmp(f.controlset_name, "ControlSet001") == 0);
	CHECK(f.computer_name && strcmp(f.computer_name, "OLDNAME") == 0);
	CHECK(f.hostname && strcmp(f.hostname, "oldhost") == 0);
	CHECK_EQ_U64(f.winrm_start, 4);
	CHECK_EQ_U64(f.firewall_winrm_http, 0);
	CHECK(!f.drivers[0].present && !f.drivers[3].present);
	CHECK(f.drivers[2].present && f.drivers[2].start == 0);
	CHECK_EQ_U64(f.nmounted, 3);
	bw_system_facts_free(&f);

	/* Select\Current naming a set that does not exist. */
	p = tpath("SYSTEM3");
	build_system(p, 3);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "SYSTEM: ") == err.msg);
	CHECK(strstr(err.msg, "ControlSet003") != NULL);
	CHECK(f.computer_name == NULL && f.mounted == NULL && f.winrm_start == -1);
	bw_system_facts_free(&f);

	/* Select\Current out of range. */
	p = tpath("SYSTEM0");
	build_system(p, 0);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "Select\\Current") != NULL);
	p = tpath("SYSTEM1000");
	build_system(p, 1000);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);

	/* No Select at all (an empty hive). */
	p = tpath("EMPTY");
	CHECK(minhive_write(p) == 0);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "SYSTEM: Select\\Current") == err.msg);

	/* Select\Current of the wrong type; WinRM Start of the wrong type. */
	p = tpath("SYSTEM_BADTYPE");
	hive_h *h = hv_new(p);
	if (h) {
		hive_node_h root = hivex_root(h);
		hv_sz(h, hv_key(h, root, "Select"), "Current", "1");
		hv_key(h, root, "ControlSet001");
		hv_commit(h, p);
	}
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "Select\\Current") != NULL);
	CHECK(strstr(err.msg, "REG_SZ") != NULL);
	p = tpath("SYSTEM_BADSTART");
	h = hv_new(p);
	if (h) {
		hive_node_h root = hivex_root(h);
		hv_dword(h, hv_key(h, root, "Select"), "Current", 1);
		hv_sz(h, hv_key(h, root, "ControlSet001\\Services\\WinRM"),
		      "Start", "2");
		hv_commit(h, p);
	}
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "ControlSet001\\Services\\WinRM\\Start") != NULL);
	/* A short DWORD. */
	p = tpath("SYSTEM_SHORTDWORD");
	h = hv_new(p);
	if (h) {
		hive_node_h root = hivex_root(h);
		hv_raw(h, hv_key(h, root, "Select"), "Current",
		       hive_t_REG_DWORD, "\x01\x00", 2);
		hv_key(h, root, "ControlSet001");
		hv_commit(h, p);
	}
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	/* Minimal but valid: Select and an empty set; all else absent. */
	p = tpath("SYSTEM_BARE");
	h = hv_new(p);
	if (h) {
		hive_node_h root = hivex_root(h);
		hv_dword(h, hv_key(h, root, "Select"), "Current", 7);
		hv_key(h, root, "ControlSet007");
		hv_commit(h, p);
	}
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(strcmp(f.controlset_name, "ControlSet007") == 0);
	CHECK(f.computer_name == NULL && f.hostname == NULL &&
	      f.setup_cmdline == NULL && f.mounted == NULL && f.nmounted == 0);
	CHECK(f.winrm_start == -1 && f.setup_in_progress == -1 &&
	      f.setup_type == -1 && f.oobe_in_progress == -1 &&
	      f.firewall_winrm_http == 0);
	for (int i = 0; i < BW_NUM_DRIVERS; i++)
		CHECK(!f.drivers[i].present && f.drivers[i].start == -1 &&
		      f.drivers[i].service && f.drivers[i].what);
	bw_system_facts_free(&f);

	/* Not a hive, and no file: hivex's refusal, with its errno text. */
	CHECK(bw_system_read(tpath("absent"), "SYSTEM", &f, &err) == BW_EHIVE);
	CHECK(strstr(err.msg, "SYSTEM: ") == err.msg);
	CHECK(strstr(err.msg, "No such file") != NULL);
	p = tpath("garbage");
	FILE *fp = fopen(p, "wb");
	static uint8_t junk[8192];
	memset(junk, 'J', sizeof junk);
	CHECK(fp && fwrite(junk, 1, sizeof junk, fp) == sizeof junk);
	if (fp)
		fclose(fp);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EHIVE);
	CHECK(strstr(err.msg, "SYSTEM: ") == err.msg);
}

/* A bare SYSTEM (Select, ControlSet001) with HardwareConfig: LASTCONFIG
 * (NULL: no value; "\x01..." prefix: a REG_DWORD) and a subkey SUBKEY
 * (NULL: none). */
static void build_hwconfig(const char *p, const char *lastconfig,
			   const char *subkey)
{
	hive_h *h = hv_new(p);
	if (!h)
		return;
	hive_node_h root = hivex_root(h);
	hv_dword(h, hv_key(h, root, "Select"), "Current", 1);
	hv_key(h, root, "ControlSet001");
	hive_node_h hc = hv_key(h, root, "HardwareConfig");
	if (lastconfig && lastconfig[0] == '\x01')
		hv_dword(h, hc, "LastConfig", 1);
	else if (lastconfig)
		hv_sz(h, hc, "LastConfig", lastconfig);
	if (subkey) {
		char path[160];
		snprintf(path, sizeof path, "HardwareConfig\\%s", subkey);
		hv_sz(h, hv_key(h, root, path), "SystemProductName", "VirtualBox");
	}
	hv_commit(h, p);
}

static void test_hardware_uuid(void)
{
	struct bw_system_facts f;
	struct bw_error err;
	char u[37];
	const char *g = "{8F6D2F4E-5A1B-4C3D-9E7F-0A1B2C3D4E5F}";
	const char *p = tpath("SYSTEM_HW");

	/* Booted: LastConfig names its subkey (a key of another case is the
	 * same key to Windows). */
	build_hwconfig(p, g, "{8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f}");
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(f.last_config_present && f.last_config_key);
	CHECK(strcmp(f.last_config, g) == 0);
	CHECK(bw_system_hardware_uuid(&f, u) == 0);
	CHECK(strcmp(u, "8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f") == 0);
	bw_system_facts_free(&f);

	/* Never booted: no HardwareConfig at all, or no LastConfig. */
	p = tpath("SYSTEM_HW_NONE");
	build_hwconfig(p, NULL, NULL);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(!f.last_config_present && !f.last_config_key &&
	      f.last_config[0] == '\0');
	CHECK(bw_system_hardware_uuid(&f, u) == BW_ENOTFOUND);
	bw_system_facts_free(&f);

	/* LastConfig naming no subkey: present, but nothing to pin. */
	p = tpath("SYSTEM_HW_NOKEY");
	build_hwconfig(p, g, "{00000000-1111-2222-3333-444444444444}");
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(f.last_config_present && !f.last_config_key);
	CHECK(bw_system_hardware_uuid(&f, u) == BW_EFORMAT);
	bw_system_facts_free(&f);

	/* Not a {GUID}: too long, too short, no braces, bad digit. */
	const char *bad[] = {
		"{8F6D2F4E-5A1B-4C3D-9E7F-0A1B2C3D4E5F}x",
		"{8F6D2F4E-5A1B-4C3D-9E7F-0A1B2C3D4E5}",
		"8F6D2F4E-5A1B-4C3D-9E7F-0A1B2C3D4E5F",
		"{8F6D2F4E-5A1B-4C3D-9E7F-0A1B2C3D4EXF}",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p = tpath("SYSTEM_HW_BAD");
		build_hwconfig(p, bad[i], bad[i][0] ? bad[i] : NULL);
		CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
		CHECK(f.last_config_present && f.last_config[0] == '\0' &&
		      !f.last_config_key);
		CHECK(bw_system_hardware_uuid(&f, u) == BW_EFORMAT);
		bw_system_facts_free(&f);
	}
	/* The all-zero UUID (SMBIOS "not present") is nothing to pin. */
	p = tpath("SYSTEM_HW_ZERO");
	build_hwconfig(p, "{00000000-0000-0000-0000-000000000000}",
		       "{00000000-0000-0000-0000-000000000000}");
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(f.last_config_present && f.last_config_key);
	CHECK(bw_system_hardware_uuid(&f, u) == BW_EFORMAT);
	bw_system_facts_free(&f);
	/* LastConfig of the wrong type: the hive is refused, like any value. */
	p = tpath("SYSTEM_HW_DWORD");
	build_hwconfig(p, "\x01", NULL);
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "LastConfig") != NULL);
	CHECK(!f.last_config_present);

	/* VirtualBox's big-endian SMBIOS UUID: the first three fields'
	 * bytes reversed, its own inverse; anything else refused. */
	CHECK(bw_smbios_uuid_swap("8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f", u) == 0);
	CHECK(strcmp(u, "4e2f6d8f-1b5a-3d4c-9e7f-0a1b2c3d4e5f") == 0);
	char back[37];
	CHECK(bw_smbios_uuid_swap(u, back) == 0);
	CHECK(strcmp(back, "8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f") == 0);
	/* The OCSInventory report: WMI 0D977C6C-FA6C-27E6-... for the
	 * hypervisor's 6C7C970D-6CFA-E627-... */
	CHECK(bw_smbios_uuid_swap("0D977C6C-FA6C-27E6-6CFA-E6277070170E", u) == 0);
	CHECK(strcmp(u, "6c7c970d-6cfa-e627-6cfa-e6277070170e") == 0);
	CHECK(bw_smbios_uuid_swap("{8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f}", u) ==
	      BW_EINVAL);
	CHECK(bw_smbios_uuid_swap(NULL, u) == BW_EINVAL);
	CHECK(bw_smbios_uuid_swap("", u) == BW_EINVAL);
}

/* No LF without its CR, and no bare CR: CRLF only. */
static int crlf_only(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 0;
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			return 0;
	}
	return 1;
}

static void test_first_boot(void)
{
	struct bw_error err;
	char *t;
	size_t n;

	/* LF -> CRLF; CRLF and a lone CR kept; empty text. */
	CHECK(bw_win_to_crlf("a\nb\r\nc\rd\n\n", 10, &t, &n, &err) == 0);
	CHECK(n == 13 && memcmp(t, "a\r\nb\r\nc\rd\r\n\r\n", 14) == 0);
	free(t);
	CHECK(bw_win_to_crlf("\n", 1, &t, &n, &err) == 0);
	CHECK(n == 2 && strcmp(t, "\r\n") == 0);
	free(t);
	CHECK(bw_win_to_crlf("", 0, &t, &n, &err) == 0);
	CHECK(n == 0 && t && t[0] == '\0');
	free(t);
	/* NUL bytes are data, not the end. */
	CHECK(bw_win_to_crlf("a\0\n", 3, &t, &n, &err) == 0);
	CHECK(n == 4 && memcmp(t, "a\0\r\n", 4) == 0);
	free(t);

	/* The exact text for the usual path; the log beside the script. */
	static const char want[] =
		"@echo off\r\n"
		"rem Written by boxwright (--first-boot-ps1): Windows setup runs this once, at its end.\r\n"
		"rem Nano's PowerShell: the modules imported by full path, the script dot-sourced (no -File).\r\n"
		"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -NoProfile -ExecutionPolicy Bypass -Command \""
		"Import-Module 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\Modules\\Microsoft.PowerShell.Utility\\Microsoft.PowerShell.Utility.psd1'; "
		"Import-Module 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\Modules\\Microsoft.PowerShell.Management\\Microsoft.PowerShell.Management.psd1'; "
		"Import-Module 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\Modules\\Storage\\Storage.psd1'; "
		". 'C:\\Windows\\Setup\\Scripts\\first-boot.ps1'\" > \"C:\\Windows\\Setup\\Scripts\\first-boot.log\" 2>&1\r\n"
		"echo first-boot script exit code %ERRORLEVEL% >> \"C:\\Windows\\Setup\\Scripts\\first-boot.log\"\r\n";
	CHECK(bw_win_first_boot_cmd("C:\\Windows\\Setup\\Scripts\\first-boot.ps1",
				    NULL, &t, &n, &err) == 0);
	CHECK(t && n == strlen(want) && strcmp(t, want) == 0);
	if (t && strcmp(t, want))
		fprintf(stderr, "got:\n%s\n", t);
	CHECK(t && crlf_only(t, n));
	free(t);
	/* An explicit log; a name without .ps1 gets .log appended; .PS1
	 * of any case is replaced. */
	CHECK(bw_win_first_boot_cmd("C:\\s.PS1", "D:\\logs\\run.txt", &t, &n,
				    &err) == 0);
	CHECK(t && strstr(t, ". 'C:\\s.PS1'\" > \"D:\\logs\\run.txt\" 2>&1\r\n"));
	CHECK(t && crlf_only(t, n));
	free(t);
	CHECK(bw_win_first_boot_cmd("C:\\s.PS1", NULL, &t, &n, &err) == 0);
	CHECK(t && strstr(t, "> \"C:\\s.log\" 2>&1"));
	free(t);
	CHECK(bw_win_first_boot_cmd("C:\\dir\\setup", NULL, &t, &n, &err) == 0);
	CHECK(t && strstr(t, ". 'C:\\dir\\setup'\" > \"C:\\dir\\setup.log\""));
	free(t);

	/* Spaces are quoted; ' doubled inside PowerShell's quotes only;
	 * % doubled for the batch file everywhere; & ^ literal in quotes. */
	CHECK(bw_win_first_boot_cmd("C:\\My Scripts\\it's 100% & ^x.ps1", NULL,
				    &t, &n, &err) == 0);
	CHECK(t && strstr(t, ". 'C:\\My Scripts\\it''s 100%% & ^x.ps1'\" > "
			     "\"C:\\My Scripts\\it's 100%% & ^x.log\" 2>&1\r\n"));
	CHECK(t && strstr(t, ">> \"C:\\My Scripts\\it's 100%% & ^x.log\"\r\n"));
	CHECK(t && crlf_only(t, n));
	free(t);

	/* Refused: what cannot be quoted, or is no full path. */
	const char *bad[] = {
		NULL, "", "first-boot.ps1", "\\Windows\\x.ps1", "C:x.ps1",
		"C:/Windows/x.ps1", "1:\\x.ps1", "C:\\", "C:\\dir\\",
		"C:\\a\\\\b.ps1", "C:\\a\"b.ps1", "C:\\a\nb.ps1", "C:\\a\rb.ps1",
		"C:\\a\tb.ps1", "C:\\\xC3\xA9t\xC3\xA9.ps1", "C:\\a|b.ps1",
		"C:\\a<b.ps1", "C:\\a>b.ps1", "C:\\a*b.ps1", "C:\\a?b.ps1",
		"C:\\a:b.ps1", "C:\\a[1].ps1", "C:\\a\x7f.ps1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = (char *)"x";
		bw_error_clear(&err);
		CHECK(bw_win_first_boot_cmd(bad[i], NULL, &t, &n, &err) == BW_EINVAL);
		CHECK(t == NULL && err.msg[0]);
		t = (char *)"x";
		CHECK(bw_win_first_boot_cmd("C:\\ok.ps1", bad[i] ? bad[i] : "", &t,
					    &n, &err) == BW_EINVAL);
		CHECK(t == NULL);
	}
	/* 259 characters fit (MAX_PATH with its NUL), 260 do not. */
	char longp[300];
	memcpy(longp, "C:\\", 3);
	memset(longp + 3, 'a', sizeof longp - 3);
	longp[259] = '\0';
	CHECK(bw_win_first_boot_cmd(longp, "C:\\l.log", &t, &n, &err) == 0);
	free(t);
	longp[259] = 'a';
	longp[260] = '\0';
	CHECK(bw_win_first_boot_cmd(longp, "C:\\l.log", &t, &n, &err) == BW_EINVAL);
	/* The derived log of a 259-character name without .ps1 is too long. */
	longp[259] = '\0';
	CHECK(bw_win_first_boot_cmd(longp, NULL, &t, &n, &err) == BW_EINVAL);
	CHECK(strstr(err.msg, "log") != NULL);
}

/* The regutil layer on its own, over the SYSTEM test hive. */
static void test_regutil(void)
{
	struct bw_error err;
	struct win_reg *r;
	const char *p = tpath("REGUTIL");
	hive_h *h = hv_new(p);
	if (h) {
		hive_node_h k = hv_key(h, hivex_root(h), "Alpha\\Beta");
		static const uint8_t multi[] = { 'o', 0, 'n', 0, 'e', 0, 0, 0,
						 't', 0, 'w', 0, 'o', 0, 0, 0,
						 0, 0 };
		hv_raw(h, k, "Multi", hive_t_REG_MULTI_SZ, multi, sizeof multi);
		hv_raw(h, k, "Bin", hive_t_REG_BINARY, "\x01\x02\x03", 3);
		hv_raw(h, k, "Empty", hive_t_REG_BINARY, "", 0);
		hv_raw(h, k, "Long", hive_t_REG_DWORD, "\x01\x02\x03\x04\x05", 5);
		uint8_t be[4];
		bw_put_be32(be, 0x01020304);
		hv_raw(h, k, "Be", hive_t_REG_DWORD_BIG_ENDIAN, be, 4);
		uint8_t buf[64];
		size_t n = utf16("%SystemRoot%\\x", buf, sizeof buf);
		hv_raw(h, k, "Exp", hive_t_REG_EXPAND_SZ, buf, n);
		hv_dword(h, k, "", 42);         /* the default value */
		hv_dword(h, hv_key(h, hivex_root(h), "Alpha\\Delta"), "Big",
			 0x80000000u);
		hv_commit(h, p);
	}
	CHECK(win_reg_open(p, "REGUTIL", &r, &err) == 0);
	if (!r)
		return;
	CHECK(strcmp(win_reg_name(r), "REGUTIL") == 0);
	win_node root = win_reg_root(r), k, k2;
	CHECK(win_reg_lookup(r, root, "ALPHA\\beta", &k, &err) == 0);
	CHECK(win_reg_lookup(r, root, "\\Alpha\\\\Beta\\", &k2, &err) == 0);
	CHECK(k == k2);
	CHECK(win_reg_lookup(r, k, "", &k2, &err) == 0 && k2 == k);
	CHECK(win_reg_lookup(r, root, "Alpha\\Gamma", &k2, &err) == BW_ENOTFOUND);
	CHECK(win_reg_lookup(r, root, "Alph", &k2, &err) == BW_ENOTFOUND);
	CHECK(win_reg_lookup(r, root, "Alphaa", &k2, &err) == BW_ENOTFOUND);
	CHECK(win_reg_lookup(r, root,
			     "a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\"
			     "a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a",
			     &k2, &err) == BW_EINVAL);

	/* Optional DWORDs: present, absent (-1), past INT_MAX, wrong type. */
	int opt = 7;
	CHECK(win_reg_get_opt_int(r, k, "Alpha\\Beta", "", &opt, &err) == 0 &&
	      opt == 42);
	CHECK(win_reg_get_opt_int(r, k, "Alpha\\Beta", "Absent", &opt, &err) == 0 &&
	      opt == -1);
	win_node delta;
	CHECK(win_reg_lookup(r, root, "Alpha\\Delta", &delta, &err) == 0);
	CHECK(win_reg_get_opt_int(r, delta, "Delta", "Big", &opt, &err) ==
	      BW_EFORMAT);
	CHECK(strstr(err.msg, "Delta\\Big: 2147483648 is out of range") != NULL);
	CHECK(win_reg_get_opt_int(r, k, "Alpha\\Beta", "Bin", &opt, &err) ==
	      BW_EFORMAT);

	char **v;
	size_t n;
	CHECK(win_reg_get_multi_sz(r, k, "Alpha\\Beta", "multi", &v, &n, &err) == 0);
	CHECK(n == 2 && v && strcmp(v[0], "one") == 0 && strcmp(v[1], "two") == 0);
	win_strv_free(v);
	CHECK(win_reg_get_multi_sz(r, k, "Alpha\\Beta", "Bin", &v, &n, &err) ==
	      BW_EFORMAT);
	CHECK(strstr(err.msg, "REGUTIL: Alpha\\Beta\\Bin: expected REG_MULTI_SZ") == err.msg);

	uint8_t *bin;
	size_t blen;
	CHECK(win_reg_get_binary(r, k, "Alpha\\Beta", "BIN", &bin, &blen, &err) == 0);
	CHECK(blen == 3 && bin && memcmp(bin, "\x01\x02\x03", 3) == 0);
	free(bin);
	CHECK(win_reg_get_binary(r, k, "Alpha\\Beta", "Empty", &bin, &blen, &err) == 0);
	CHECK(blen == 0 && bin != NULL);
	free(bin);
	CHECK(win_reg_get_binary(r, k, "Alpha\\Beta", "Be", &bin, &blen, &err) ==
	      BW_EFORMAT);

	uint32_t d;
	CHECK(win_reg_get_dword(r, k, "Alpha\\Beta", "Be", &d, &err) == 0);
	CHECK_EQ_U64(d, 0x01020304);
	CHECK(win_reg_get_dword(r, k, "Alpha\\Beta", "", &d, &err) == 0);
	CHECK_EQ_U64(d, 42);
	CHECK(win_reg_get_dword(r, k, "Alpha\\Beta", "Long", &d, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "5 bytes") != NULL);
	CHECK(win_reg_get_dword(r, k, "Alpha\\Beta", "Exp", &d, &err) == BW_EFORMAT);
	bw_error_clear(&err);
	CHECK(win_reg_get_dword(r, k, "Alpha\\Beta", "Nope", &d, &err) == BW_ENOTFOUND);
	CHECK(err.code == 0 && err.msg[0] == '\0');

	char *s;
	CHECK(win_reg_get_string(r, k, "Alpha\\Beta", "EXP", &s, &err) == 0);
	CHECK(s && strcmp(s, "%SystemRoot%\\x") == 0);
	free(s);
	CHECK(win_reg_get_string(r, k, "Alpha\\Beta", "Multi", &s, &err) == BW_EFORMAT);
	CHECK(s == NULL);

	win_value *vals;
	CHECK(win_reg_values(r, k, &vals, &n, &err) == 0);
	CHECK_EQ_U64(n, 7);
	free(vals);
	win_node *kids;
	CHECK(win_reg_children(r, k, &kids, &n, &err) == 0);
	CHECK(n == 0 && kids == NULL);
	CHECK(win_reg_children(r, root, &kids, &n, &err) == 0);
	CHECK_EQ_U64(n, 1);
	if (n == 1) {
		CHECK(win_reg_node_name(r, kids[0], &s, &err) == 0);
		CHECK(s && strcmp(s, "Alpha") == 0);
		free(s);
	}
	free(kids);
	win_reg_close(r);
	win_reg_close(NULL);

	/* hivex's refusal of a non-hive, translated. */
	CHECK(win_reg_open(tpath("absent"), "X", &r, &err) == BW_EHIVE);
	CHECK(r == NULL);
	CHECK(strstr(err.msg, "X: hivex: cannot open hive: No such file") == err.msg);

	/* A hivex-written hive is clean, and stays so after commit. */
	struct bw_hive_header hh;
	CHECK(bw_hive_check_file(p, "REGUTIL", &hh, &err) == 0);
	CHECK(!hh.dirty && hh.major == 1);
}

/* ---- SOFTWARE --------------------------------------------------------- */

static void test_software(void)
{
	struct bw_software_facts f;
	struct bw_error err;
	const char *p = tpath("SOFTWARE");
	hive_h *h = hv_new(p);
	if (h) {
		hive_node_h root = hivex_root(h);
		hive_node_h cv = hv_key(h, root, "Microsoft\\Windows NT\\CurrentVersion");
		hv_sz(h, cv, "ProductName", "Windows Server 2016 Datacenter");
		hv_sz(h, cv, "CurrentBuild", "14393");
		hv_sz(h, cv, "CurrentBuildNumber", "99999");
		hv_sz(h, cv, "EditionID", "ServerDatacenterNano");
		hive_node_h svc = hv_key(h, root,
			"microsoft\\windows\\currentversion\\WSMAN\\Service");
		hv_dword(h, svc, "allow_unencrypted", 1);
		hv_dword(h, svc, "auth_basic", 0);
		hv_dword(h, hv_key(h, root,
				   "Microsoft\\Windows\\CurrentVersion\\WSMAN\\Client"),
			 "auth_basic", 1);
		hv_commit(h, p);
	}
	CHECK(bw_software_read(p, "SOFTWARE", &f, &err) == 0);
	CHECK(f.product_name && strcmp(f.product_name, "Windows Server 2016 Datacenter") == 0);
	CHECK(f.current_build && strcmp(f.current_build, "14393") == 0);
	CHECK(f.edition_id && strcmp(f.edition_id, "ServerDatacenterNano") == 0);
	CHECK_EQ_U64(f.wsman_allow_unencrypted, 1);
	CHECK_EQ_U64(f.wsman_service_auth_basic, 0);
	CHECK_EQ_U64(f.wsman_client_auth_basic, 1);
	bw_software_facts_free(&f);
	bw_software_facts_free(&f);

	/* CurrentBuildNumber only; no WSMAN keys. */
	p = tpath("SOFTWARE2");
	h = hv_new(p);
	if (h) {
		hive_node_h cv = hv_key(h, hivex_root(h),
					"Microsoft\\Windows NT\\CurrentVersion");
		hv_sz(h, cv, "CurrentBuildNumber", "10586");
		hv_key(h, hivex_root(h), "Microsoft\\Windows\\CurrentVersion\\WSMAN\\Service");
		hv_commit(h, p);
	}
	CHECK(bw_software_read(p, "SOFTWARE", &f, &err) == 0);
	CHECK(f.product_name == NULL && f.edition_id == NULL);
	CHECK(f.current_build && strcmp(f.current_build, "10586") == 0);
	CHECK(f.wsman_allow_unencrypted == -1 && f.wsman_service_auth_basic == -1 &&
	      f.wsman_client_auth_basic == -1);
	bw_software_facts_free(&f);

	/* An empty hive: nothing known, no error. */
	CHECK(bw_software_read(tpath("EMPTY"), "SOFTWARE", &f, &err) == 0);
	CHECK(f.product_name == NULL && f.current_build == NULL &&
	      f.wsman_client_auth_basic == -1);
	bw_software_facts_free(&f);

	/* A wrong type is an error naming the key, and leaves nothing behind. */
	p = tpath("SOFTWARE3");
	h = hv_new(p);
	if (h) {
		hive_node_h root = hivex_root(h);
		hv_sz(h, hv_key(h, root, "Microsoft\\Windows NT\\CurrentVersion"),
		      "ProductName", "X");
		hv_sz(h, hv_key(h, root, "Microsoft\\Windows\\CurrentVersion\\WSMAN\\Client"),
		      "auth_basic", "1");
		hv_commit(h, p);
	}
	CHECK(bw_software_read(p, "SOFTWARE", &f, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "SOFTWARE: Microsoft\\Windows\\CurrentVersion\\WSMAN\\Client\\auth_basic") == err.msg);
	CHECK(f.product_name == NULL && f.wsman_client_auth_basic == -1);

	CHECK(bw_software_read(tpath("absent"), "SOFTWARE", &f, &err) == BW_EHIVE);
}

/* ---- BCD -------------------------------------------------------------- */

#define GUID_BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define GUID_LOADER "{b2721d73-1db4-4c62-bf78-c548a880142d}"
#define GUID_ODD "{11111111-2222-3333-4444-555555555555}"
#define GUID_BARE "{AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee}"

static void bcd_element(hive_h *h, hive_node_h obj, const char *id,
			hive_type t, const void *data, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "Elements\\%s", id);
	hv_raw(h, hv_key(h, obj, path), "Element", t, data, len);
}

static void build_bcd(const char *path)
{
	hive_h *h = hv_new(path);
	if (!h)
		return;
	hive_node_h objs = hv_key(h, hivex_root(h), "Objects");
	uint8_t dev[DEV_LEN];

	hive_node_h bm = hv_key(h, objs, GUID_BOOTMGR);
	hv_dword(h, hv_key(h, bm, "Description"), "Type", 0x10100002);
	mk_part(dev, 6, 0, 0, 0);
	bcd_element(h, bm, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
	uint8_t s[128];
	size_t n = utf16("Windows Boot Manager", s, sizeof s);
	bcd_element(h, bm, "12000004", hive_t_REG_SZ, s, n);
	n = utf16("\\bootmgr", s, sizeof s);
	bcd_element(h, bm, "12000002", hive_t_REG_SZ, s, n);
	/* Keys that are not 8 hex digits are skipped. */
	bcd_element(h, bm, "zz000001", hive_t_REG_BINARY, dev, DEV_LEN);
	bcd_element(h, bm, "1100001", hive_t_REG_BINARY, dev, DEV_LEN);
	bcd_element(h, bm, "110000011", hive_t_REG_BINARY, dev, DEV_LEN);
	bcd_element(h, bm, "0x110001", hive_t_REG_BINARY, dev, DEV_LEN);
	/* An object list (format 4) and an integer (format 5): not devices. */
	bcd_element(h, bm, "24000001", hive_t_REG_MULTI_SZ, "\0\0", 2);
	bcd_element(h, bm, "25000004", hive_t_REG_BINARY, "\x1e\0\0\0\0\0\0\0", 8);

	hive_node_h ld = hv_key(h, objs, GUID_LOADER);
	hv_dword(h, hv_key(h, ld, "Description"), "Type", 0x10200003);
	mk_part(dev, 6, 1, 0x100000, 0x12345678);
	bcd_element(h, ld, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_part(dev, 6, 1, 0x7E00, 0x12345678);
	bcd_element(h, ld, "21000001", hive_t_REG_BINARY, dev, DEV_LEN);
	n = utf16("Nano \xE2\x82\xAC Server", s, sizeof s);
	bcd_element(h, ld, "12000004", hive_t_REG_SZ, s, n);

	hive_node_h odd = hv_key(h, objs, GUID_ODD);
	hv_dword(h, hv_key(h, odd, "Description"), "Type", 0x10300006);
	mk_type(dev, 5);
	bcd_element(h, odd, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 8);
	bcd_element(h, odd, "21000001", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 3);
	bcd_element(h, odd, "11000003", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 7);
	bcd_element(h, odd, "11000004", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_part(dev, 6, 1, 0x100000, 1);
	bcd_element(h, odd, "11000005", hive_t_REG_BINARY, dev, 0x10);  /* truncated */
	bcd_element(h, odd, "11000006", hive_t_REG_BINARY, dev, 0x40);  /* size > data */
	bcd_element(h, odd, "11000007", hive_t_REG_SZ, dev, DEV_LEN);   /* not binary */
	mk_part(dev, 6, 1, 0x100000, 1);
	bw_put_le32(dev + 0x34, 2);                                     /* raw style */
	bcd_element(h, odd, "a1000008", hive_t_REG_BINARY, dev, DEV_LEN);
	hv_key(h, odd, "Elements\\11000009");                          /* no Element */

	/* Not a GUID: skipped.  A GUID key with nothing in it: kept. */
	hv_key(h, objs, "NotAGuid");
	hv_key(h, objs, "{9dea862c-5cdd-4e70-acc1-f32b344d479}");
	hv_key(h, objs, GUID_BARE);
	hv_commit(h, path);
}

static const struct bw_bcd_object *find_obj(const struct bw_bcd *b,
					    const char *guid)
{
	for (size_t i = 0; i < b->nobjects; i++)
		if (strcmp(b->objects[i].guid, guid) == 0)
			return &b->objects[i];
	return NULL;
}

static const struct bw_bcd_element *find_dev(const struct bw_bcd_object *o,
					     uint32_t id)
{
	for (size_t i = 0; o && i < o->ndevices; i++)
		if (o->devices[i].id == id)
			return &o->devices[i];
	return NULL;
}

static void test_bcd(void)
{
	struct bw_bcd *b = NULL;
	struct bw_error err;
	const char *p = tpath("BCD");
	build_bcd(p);
	CHECK(build_failures == 0);
	int r = bw_bcd_load(p, "BCD", &b, &err);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "bw_bcd_load: %s\n", err.msg);
		return;
	}
	CHECK_EQ_U64(b->nobjects, 4);

	const struct bw_bcd_object *o = find_obj(b, GUID_BOOTMGR);
	CHECK(o != NULL);
	if (o) {
		CHECK_EQ_U64(o->type, 0x10100002);
		CHECK(o->description &&
		      strcmp(o->description, "Windows Boot Manager") == 0);
		CHECK_EQ_U64(o->ndevices, 1);
		const struct bw_bcd_element *e = find_dev(o, 0x11000001);
		CHECK(e && e->dev.kind == BW_BCD_DEV_PARTITION_GPT);
		CHECK(e && memcmp(e->dev.part_guid, PART_GUID, 16) == 0 &&
		      memcmp(e->dev.disk_guid, DISK_GUID, 16) == 0);
		CHECK(e && e->raw_len == DEV_LEN && e->raw &&
		      bw_get_le32(e->raw + 0x10) == 6);
	}

	o = find_obj(b, GUID_LOADER);
	CHECK(o != NULL);
	if (o) {
		CHECK_EQ_U64(o->type, 0x10200003);
		CHECK(o->description &&
		      strcmp(o->description, "Nano \xE2\x82\xAC Server") == 0);
		CHECK_EQ_U64(o->ndevices, 2);
		const struct bw_bcd_element *e = find_dev(o, 0x11000001);
		CHECK(e && e->dev.kind == BW_BCD_DEV_PARTITION_MBR &&
		      e->dev.part_offset == 0x100000 &&
		      e->dev.disk_signature == 0x12345678);
		e = find_dev(o, 0x21000001);
		CHECK(e && e->dev.kind == BW_BCD_DEV_PARTITION_MBR &&
		      e->dev.part_offset == 0x7E00 && e->dev.type == 6);
	}

	o = find_obj(b, GUID_ODD);
	CHECK(o != NULL);
	if (o) {
		CHECK_EQ_U64(o->type, 0x10300006);
		CHECK(o->description == NULL);
		CHECK_EQ_U64(o->ndevices, 8);
		const struct bw_bcd_element *e = find_dev(o, 0x11000001);
		CHECK(e && e->dev.kind == BW_BCD_DEV_BOOT && e->dev.type == 5);
		e = find_dev(o, 0x21000001);
		CHECK(e && e->dev.kind == BW_BCD_DEV_LOCATE && e->dev.type == 8);
		e = find_dev(o, 0x11000003);
		CHECK(e && e->dev.kind == BW_BCD_DEV_UNKNOWN && e->dev.type == 3);  /* serial */
		e = find_dev(o, 0x11000004);
		CHECK(e && e->dev.kind == BW_BCD_DEV_UNKNOWN && e->dev.type == 7);
		e = find_dev(o, 0x11000005);
		CHECK(e && e->dev.kind == BW_BCD_DEV_UNKNOWN && e->raw_len == 0x10);
		CHECK(e && e->raw && e->dev.type == 0);
		e = find_dev(o, 0x11000006);
		CHECK(e && e->dev.kind == BW_BCD_DEV_UNKNOWN && e->dev.type == 6 &&
		      e->raw_len == 0x40 && e->dev.part_offset == 0);
		e = find_dev(o, 0x11000007);
		CHECK(e && e->dev.kind == BW_BCD_DEV_UNKNOWN && e->raw_len == DEV_LEN);
		e = find_dev(o, 0xA1000008);
		CHECK(e && e->dev.kind == BW_BCD_DEV_UNKNOWN && e->dev.type == 6);
		CHECK(find_dev(o, 0x11000009) == NULL);
	}

	o = find_obj(b, GUID_BARE);
	CHECK(o && o->type == 0 && o->description == NULL && o->ndevices == 0 &&
	      o->devices == NULL);
	bw_bcd_free(b);
	bw_bcd_free(NULL);

	/* Not a store. */
	b = (struct bw_bcd *)1;
	CHECK(bw_bcd_load(tpath("EMPTY"), "BCD", &b, &err) == BW_EFORMAT);
	CHECK(b == NULL);
	CHECK(strstr(err.msg, "BCD: ") == err.msg && strstr(err.msg, "Objects"));
	CHECK(bw_bcd_load(tpath("absent"), "BCD", &b, &err) == BW_EHIVE);
	CHECK(bw_bcd_load(tpath("garbage"), "BCD", &b, &err) == BW_EHIVE);

	/* A description of the wrong type fails the load, freeing all. */
	p = tpath("BCD_BADDESC");
	hive_h *h = hv_new(p);
	if (h) {
		hive_node_h o1 = hv_key(h, hivex_root(h), "Objects\\" GUID_LOADER);
		uint8_t dev[DEV_LEN];
		mk_part(dev, 6, 1, 0x100000, 1);
		bcd_element(h, o1, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
		bcd_element(h, o1, "12000004", hive_t_REG_BINARY, "ab", 2);
		hv_commit(h, p);
	}
	CHECK(bw_bcd_load(p, "BCD", &b, &err) == BW_EFORMAT);
	CHECK(b == NULL);
	CHECK(strstr(err.msg, "Elements\\12000004\\Element") != NULL);

	/* An object with more elements than any store has is refused, by the
	 * load and by the fix-up alike (one iterator serves both), and the
	 * fix-up leaves the store as it was.  At the cap it loads. */
	for (int over = 0; over <= 1; over++) {
		p = tpath(over ? "BCD_MANY" : "BCD_CAP");
		h = hv_new(p);
		if (h) {
			hive_node_h o1 = hv_key(h, hivex_root(h), "Objects\\" GUID_LOADER);
			hive_node_h els = hv_key(h, o1, "Elements");
			for (int i = 0; i < BW_BCD_MAX_ELEMENTS + over; i++) {
				char id[16];
				snprintf(id, sizeof id, "%08x", 0x25000000u + (unsigned)i);
				if (!hivex_node_add_child(h, els, id))
					build_failures++;
			}
			hv_commit(h, p);
		}
		struct bw_win_location from = { 1, 0x100000 }, to = { 2, 0x200000 };
		struct bw_win_report rep;
		if (!over) {
			CHECK(bw_bcd_load(p, "BCD", &b, &err) == 0);
			CHECK(b && b->nobjects == 1);
			bw_bcd_free(b);
			CHECK(bw_win_fix_bcd(p, &from, &to, &rep, &err) == 0);
			continue;
		}
		CHECK(bw_bcd_load(p, "BCD", &b, &err) == BW_EFORMAT);
		CHECK(b == NULL);
		CHECK(strstr(err.msg, "Elements: 1025 elements (at most 1024)") != NULL);
		CHECK(strstr(err.msg, GUID_LOADER) != NULL);
		FILE *f = fopen(p, "rb");
		uint8_t before[4096], after[4096];
		size_t nb = f ? fread(before, 1, sizeof before, f) : 0;
		if (f)
			fclose(f);
		CHECK(bw_win_fix_bcd(p, &from, &to, &rep, &err) == BW_EFORMAT);
		CHECK(strstr(err.msg, "Elements: 1025 elements (at most 1024)") != NULL);
		f = fopen(p, "rb");
		size_t na = f ? fread(after, 1, sizeof after, f) : 0;
		if (f)
			fclose(f);
		CHECK(nb == sizeof before && na == nb && memcmp(before, after, nb) == 0);
	}
}

/*
 * Corrupted stores (libarchive's test_fuzz idea): flip bytes of the BCD
 * test hive past its base block and load each copy.  hivex refuses most;
 * whatever it accepts must load or fail with a documented code, without
 * a crash, a leak or a read out of bounds (run under ASan/valgrind).
 */
static void test_bcd_corrupt(void)
{
	FILE *fp = fopen(tpath("BCD"), "rb");
	CHECK(fp != NULL);
	if (!fp)
		return;
	static uint8_t orig[1 << 16], copy[1 << 16];
	size_t len = fread(orig, 1, sizeof orig, fp);
	fclose(fp);
	CHECK(len > 8192 && len < sizeof orig);
	uint32_t seed = 12345;
	int bad = 0, loaded = 0;
	for (int iter = 0; iter < 300; iter++) {
		memcpy(copy, orig, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t off = 4096 + (seed >> 8) % (len - 4096);
			seed = seed * 1103515245u + 12345u;
			copy[off] ^= (uint8_t)(1u << (seed >> 28 & 7));
		}
		const char *p = tpath("BCD_CORRUPT");
		fp = fopen(p, "wb");
		if (!fp || fwrite(copy, 1, len, fp) != len)
			bad++;
		if (fp)
			fclose(fp);
		struct bw_bcd *b = NULL;
		struct bw_error err;
		int r = bw_bcd_load(p, "BCD", &b, &err);
		if (r == 0)
			loaded++;
		else if (r != BW_EHIVE && r != BW_EFORMAT && r != BW_ENOMEM)
			bad++;
		if ((r == 0) != (b != NULL))
			bad++;
		bw_bcd_free(b);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(loaded > 0);
}

/* ---- main ------------------------------------------------------------- */

static void remove_tmpdir(void)
{
	static const char *const leaves[] = {
		"base.bin", "SYSTEM", "SYSTEM1", "SYSTEM3", "SYSTEM0",
		"SYSTEM1000", "EMPTY", "SYSTEM_BADTYPE", "SYSTEM_BADSTART",
		"SYSTEM_SHORTDWORD", "SYSTEM_BARE", "garbage", "REGUTIL",
		"SOFTWARE", "SOFTWARE2", "SOFTWARE3", "BCD", "BCD_BADDESC",
		"BCD_CORRUPT",
	};
	if (getenv("BW_KEEP_TMP")) {
		fprintf(stderr, "test_win: hives kept in %s\n", tmpdir);
		return;
	}
	for (size_t i = 0; i < sizeof leaves / sizeof leaves[0]; i++)
		unlink(tpath(leaves[i]));
	rmdir(tmpdir);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_win.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_hive_check();
	test_utf16();
	test_multi_sz();
	test_name_eq();
	test_firewall_rule();
	test_decode_device();
	test_decode_local();
	test_patch_local();
	test_guid_format();
	test_driver_rules();
	test_system();
	test_hardware_uuid();
	test_first_boot();
	test_regutil();
	test_software();
	test_bcd();
	test_bcd_corrupt();
	CHECK(build_failures == 0);
	remove_tmpdir();
	return check_done("test_win");
}

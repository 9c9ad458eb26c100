/*
 * Unit tests of the win module's write side: regutil's hive writes and
 * atomic commit, --winrm and --hostname (edit.c), .reg parsing and merging
 * (regfile.c), and the BCD / MountedDevices fix-ups (bcdpatch.c).
 *
 * Test hives start as minhive.h's empty hive and are filled with hivex.
 * Every edit is checked by dumping the whole hive with raw hivex before
 * and after (one sorted line per key and per value: path, name, type,
 * data in hex) and comparing the difference with exactly the lines the
 * edit should remove and add: so values and types are checked exactly and
 * "nothing else changed" is checked for every key, not only nearby ones.
 * The read API (bw_system_read, bw_software_read, bw_bcd_load) reads the
 * results back too, and every committed hive must be clean.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hivex.h>

#include "boxwright/win.h"
#include "common/bytes.h"
#include "common/hex.h"
#include "common/utf16.h"
#include "win/win_internal.h"
#include "check.h"
#include "testfile.h"
#include "minhive.h"

#include "hivebuild.h"

/* ---- files ------------------------------------------------------------------ */

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *da = tf_slurp(a, &la), *db = tf_slurp(b, &lb);
	int same = da && db && la == lb && memcmp(da, db, la) == 0;
	free(da);
	free(db);
	return same;
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *d = tf_slurp(from, &len);
	if (!d || tf_write_file(to, d, len) != 0)
		build_failures++;
	free(d);
}

static void write_text(const char *path, const void *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(text, 1, len, f) != len)
		build_failures++;
	if (f)
		fclose(f);
}

static void write_str(const char *path, const char *text)
{
	write_text(path, text, strlen(text));
}

/* Clean by hive.c's rules, with sequence number SEQ (0: any). */
static int hive_clean(const char *path, uint32_t seq)
{
	struct bw_hive_header hh;
	struct bw_error err;
	if (bw_hive_check_file(path, "T", &hh, &err) != 0)
		return 0;
	if (hh.dirty)
		return 0;
	return seq == 0 || hh.seq_primary == seq;
}

static uint32_t hive_seq(const char *path)
{
	struct bw_hive_header hh;
	struct bw_error err;
	if (bw_hive_check_file(path, "T", &hh, &err) != 0)
		return 0;
	return hh.seq_primary;
}

/* Make PATH dirty: primary sequence = secondary + 1, checksum valid. */
static void make_dirty(const char *path, int by_checksum)
{
	int fd = open(path, O_RDWR);
	uint8_t b[512];
	if (fd < 0 || pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b) {
		build_failures++;
		if (fd >= 0)
			close(fd);
		return;
	}
	if (by_checksum) {
		bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, win_regf_checksum(b) ^ 0x10);
	} else {
		bw_put_le32(b + 4, bw_get_le32(b + 8) + 1);
		bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, win_regf_checksum(b));
	}
	if (pwrite(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
		build_failures++;
	close(fd);
}

/* No PATH.bwtmp.* left in the temporary directory. */
static int no_temp_files(void)
{
	DIR *d = opendir(tmpdir);
	if (!d)
		return 0;
	int clean = 1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".bwtmp."))
			clean = 0;
	closedir(d);
	return clean;
}

/* ---- dumps: every key and value of a hive, one sorted line each ---------- */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, char *s)
{
	if (!s)
		abort();
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v)
			abort();
	}
	l->v[l->n++] = s;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_sort(struct lines *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static char *hexstr(const uint8_t *d, size_t len)
{
	char *s = malloc(2 * len + 1);
	if (!s)
		abort();
	if (bw_hex_encode(d, len, s, 2 * len + 1) != 0)
		abort();
	return s;
}

/* Expected lines. */
static char *L_key(const char *path)
{
	return fmt("K|%s", path);
}

static char *L_raw(const char *path, const char *name, unsigned type,
		   const void *data, size_t len)
{
	char *h = hexstr(data, len);
	char *s = fmt("V|%s|%s|%u|%s", path, name, type, h);
	free(h);
	return s;
}

static char *L_dword(const char *path, const char *name, uint32_t v)
{
	uint8_t d[4];
	bw_put_le32(d, v);
	return L_raw(path, name, 4, d, 4);
}

static char *L_sz(const char *path, const char *name, const char *s)
{
	uint8_t buf[2048];
	size_t n = utf16(s, buf, sizeof buf);
	return L_raw(path, name, 1, buf, n);
}

static void dump_node(hive_h *h, hive_node_h node, const char *path,
		      struct lines *out)
{
	lines_add(out, L_key(path));
	hive_value_h *values = hivex_node_values(h, node);
	for (size_t i = 0; values && values[i]; i++) {
		char *name = hivex_value_key(h, values[i]);
		hive_type t;
		size_t len;
		char *data = hivex_value_value(h, values[i], &t, &len);
		if (!name || !data)
			abort();
		lines_add(out, L_raw(path, name, (unsigned)t, data, len));
		free(name);
		free(data);
	}
	free(values);
	hive_node_h *children = hivex_node_children(h, node);
	for (size_t i = 0; children && children[i]; i++) {
		char *name = hivex_node_name(h, children[i]);
		if (!name)
			abort();
		char *sub = *path ? fmt("%s\\%s", path, name) : fmt("%s", name);
		dump_node(h, children[i], sub, out);
		free(sub);
		free(name);
	}
	free(children);
}

static struct lines dump(const char *path)
{
	struct lines l = { 0 };
	hive_h *h = hivex_open(path, 0);
	if (!h) {
		build_failures++;
		return l;
	}
	dump_node(h, hivex_root(h), "", &l);
	hivex_close(h);
	lines_sort(&l);
	return l;
}

/* Lines of A that are not in B (both sorted; duplicates are not expected). */
static struct lines minus(const struct lines *a, const struct lines *b)
{
	struct lines out = { 0 };
	size_t j = 0;
	for (size_t i = 0; i < a->n; i++) {
		while (j < b->n && strcmp(b->v[j], a->v[i]) < 0)
			j++;
		if (j < b->n && strcmp(b->v[j], a->v[i]) == 0)
			continue;
		lines_add(&out, strdup(a->v[i]));
	}
	return out;
}

static int lines_equal(const struct lines *a, const struct lines *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static void print_lines(const char *what, const struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		fprintf(stderr, "    %s %.200s\n", what, l->v[i]);
}

/*
 * The change from BEFORE to the hive at PATH is exactly: REMOVED lines
 * gone, ADDED lines new (both consumed and freed).
 */
static int changes_are(const struct lines *before, const char *path,
		       struct lines *removed, struct lines *added, int line)
{
	struct lines after = dump(path);
	struct lines gone = minus(before, &after);
	struct lines fresh = minus(&after, before);
	lines_sort(removed);
	lines_sort(added);
	int ok = lines_equal(&gone, removed) && lines_equal(&fresh, added);
	if (!ok) {
		fprintf(stderr, "test_win_edit.c:%d: changes differ\n", line);
		print_lines("expected -", removed);
		print_lines("found    -", &gone);
		print_lines("expected +", added);
		print_lines("found    +", &fresh);
	}
	lines_free(&after);
	lines_free(&gone);
	lines_free(&fresh);
	lines_free(removed);
	lines_free(added);
	return ok;
}

#define CHANGES_ARE(before, path, removed, added) \
	CHECK(changes_are(before, path, removed, added, __LINE__))

/* ---- UTF-8 ------------------------------------------------------------------ */

static void test_utf8(void)
{
	uint8_t *u;
	size_t n;
	CHECK(win_utf8_to_utf16le("A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10,
				  1, &u, &n) == 0);
	static const uint8_t want[] = { 'A', 0, 0xE9, 0, 0xAC, 0x20, 0x3D, 0xD8,
					0x00, 0xDE, 0, 0 };
	CHECK(n == sizeof want && memcmp(u, want, n) == 0);
	free(u);
	/* Embedded NULs are kept; no terminator when not asked. */
	CHECK(win_utf8_to_utf16le("a\0b", 3, 0, &u, &n) == 0);
	CHECK(n == 6 && u[0] == 'a' && u[2] == 0 && u[3] == 0 && u[4] == 'b');
	free(u);
	CHECK(win_utf8_to_utf16le("", 0, 1, &u, &n) == 0 && n == 2 &&
	      u[0] == 0 && u[1] == 0);
	free(u);
	/* Refused: overlong, surrogate, over U+10FFFF, truncated, stray. */
	static const char *const bad[] = {
		"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
		"\xE2\x82", "\x80", "\xFF", "a\xC3",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		u = (uint8_t *)1;
		CHECK(win_utf8_to_utf16le(bad[i], strlen(bad[i]), 0, &u, &n) ==
		      BW_EFORMAT);
		CHECK(u == NULL);
		CHECK(!bw_utf8_valid(bad[i], strlen(bad[i]), NULL));
	}
	size_t at = 99;
	CHECK(!bw_utf8_valid("ab\xC3\xA9z\xFFq", 7, &at) && at == 5);
	CHECK(bw_utf8_valid("ab\xC3\xA9", 4, &at));
	CHECK_EQ_U64(bw_utf8_utf16_units("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10),
		     5);
	/* The output cap. */
	size_t big = WIN_REG_MAX_STRING_BYTES / 2 + 1;
	char *s = malloc(big);
	CHECK(s != NULL);
	if (s) {
		memset(s, 'x', big);
		CHECK(win_utf8_to_utf16le(s, big, 0, &u, &n) == BW_EFORMAT);
		CHECK(win_utf8_to_utf16le(s, big - 1, 0, &u, &n) == 0);
		free(u);
		free(s);
	}
}

/* ---- SOFTWARE --------------------------------------------------------------- */

#define SW_CV "Microsoft\\Windows\\CurrentVersion"
#define SW_SERVICE SW_CV "\\WSMAN\\Service"
#define SW_CLIENT SW_CV "\\WSMAN\\Client"
#define BIG_LEN 20000

static void build_software(const char *path, int with_cv)
{
	hive_h *h = hv_new(path);
	if (!h)
		return;
	hive_node_h root = hivex_root(h);
	hive_node_h nt = hv_key(h, root, "Microsoft\\Windows NT\\CurrentVersion");
	hv_sz(h, nt, "ProductName", "Windows Server 2016 Datacenter");
	hv_sz(h, nt, "CurrentBuild", "14393");
	if (with_cv) {
		hive_node_h cv = hv_key(h, root, SW_CV);
		hv_sz(h, cv, "ProgramFilesDir", "C:\\Program Files");
		hive_node_h ws = hv_key(h, root, SW_CV "\\WSMAN");
		hv_sz(h, ws, "StackVersion", "3.0");
		hive_node_h svc = hv_key(h, root, SW_SERVICE);
		hv_dword(h, svc, "allow_unencrypted", 0);
		hv_dword(h, svc, "auth_kerberos", 1);
		hv_dword(h, svc, "AUTH_BASIC", 0);
		hv_raw(h, svc, "blob", hive_t_REG_BINARY, "\x01\x02\x03", 3);
	}
	hive_node_h cls = hv_key(h, root, "Classes\\.txt");
	hv_sz(h, cls, "Content Type", "text/plain");
	hv_sz(h, cls, "", "txtfile");
	/* A value Windows keeps in a big-data record: its key cannot be
	 * rewritten (regutil refuses). */
	static uint8_t big[BIG_LEN];
	memset(big, 0xA5, sizeof big);
	hive_node_h bigk = hv_key(h, root, "Classes\\Big");
	hv_raw(h, bigk, "small", hive_t_REG_DWORD, "\x07\0\0\0", 4);
	hv_raw(h, bigk, "huge", hive_t_REG_BINARY, big, sizeof big);
	hv_commit(h, path);
}

static void test_edit_software(void)
{
	const char *p = tpath("SOFTWARE");
	build_software(p, 1);
	CHECK(build_failures == 0);
	struct lines before = dump(p);
	uint32_t seq = hive_seq(p);
	struct bw_win_edits e = { .winrm = 1 };
	struct bw_win_report rep;
	struct bw_error err;
	memset(&rep, 0xFF, sizeof rep);
	CHECK(bw_win_edit_software(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 3);
	CHECK_EQ_U64(rep.keys_created, 1);
	CHECK_EQ_U64(rep.bcd_devices_patched + rep.mounted_patched, 0);
	struct lines rm = { 0 }, add = { 0 };
	lines_add(&rm, L_dword(SW_SERVICE, "allow_unencrypted", 0));
	lines_add(&rm, L_dword(SW_SERVICE, "AUTH_BASIC", 0));
	lines_add(&add, L_dword(SW_SERVICE, "allow_unencrypted", 1));
	lines_add(&add, L_dword(SW_SERVICE, "AUTH_BASIC", 1));   /* case kept */
	lines_add(&add, L_key(SW_CLIENT));
	lines_add(&add, L_dword(SW_CLIENT, "auth_basic", 1));
	CHANGES_ARE(&before, p, &rm, &add);
	CHECK(hive_clean(p, seq + 1));
	CHECK(no_temp_files());

	/* Values keep their order: allow_unencrypted, auth_kerberos,
	 * AUTH_BASIC, blob. */
	hive_h *h = hivex_open(p, 0);
	CHECK(h != NULL);
	if (h) {
		hive_node_h svc = hivex_root(h);
		for (const char *c = "Microsoft\0Windows\0CurrentVersion\0WSMAN\0Service\0";
		     *c; c += strlen(c) + 1)
			svc = hivex_node_get_child(h, svc, c);
		hive_value_h *v = hivex_node_values(h, svc);
		static const char *const order[] = { "allow_unencrypted",
			"auth_kerberos", "AUTH_BASIC", "blob" };
		for (size_t i = 0; i < 4; i++) {
			char *k = v && v[i] ? hivex_value_key(h, v[i]) : NULL;
			CHECK(k && strcmp(k, order[i]) == 0);
			free(k);
		}
		CHECK(v && v[4] == 0);
		free(v);
		hivex_close(h);
	}

	struct bw_software_facts sf;
	CHECK(bw_software_read(p, "SOFTWARE", &sf, &err) == 0);
	CHECK(sf.wsman_allow_unencrypted == 1);
	CHECK(sf.wsman_service_auth_basic == 1);
	CHECK(sf.wsman_client_auth_basic == 1);
	CHECK(sf.product_name &&
	      strcmp(sf.product_name, "Windows Server 2016 Datacenter") == 0);
	bw_software_facts_free(&sf);

	/* Again: nothing to do, the file stays byte-identical. */
	copy_file(p, tpath("SOFTWARE.copy"));
	CHECK(bw_win_edit_software(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 0);
	CHECK_EQ_U64(rep.keys_created, 0);
	CHECK(same_file(p, tpath("SOFTWARE.copy")));
	lines_free(&before);

	/* Nothing asked of SOFTWARE: not even opened (a dirty one passes). */
	struct bw_win_edits none = { .hostname = "x1" };
	make_dirty(tpath("SOFTWARE.copy"), 0);
	CHECK(bw_win_edit_software(tpath("SOFTWARE.copy"), &none, &rep, &err) == 0);

	/* A hive without Microsoft\Windows\CurrentVersion is refused. */
	const char *q = tpath("SOFTWARE_BARE");
	build_software(q, 0);
	copy_file(q, tpath("SOFTWARE_BARE.copy"));
	CHECK(bw_win_edit_software(q, &e, &rep, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "not a SOFTWARE hive") != NULL);
	CHECK(same_file(q, tpath("SOFTWARE_BARE.copy")));
	CHECK(no_temp_files());
}

/* ---- SYSTEM ----------------------------------------------------------------- */

#define FW_RULES "Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules"
#define CS2 "controlset002"
#define CS2_FW CS2 "\\services\\sharedaccess\\Parameters\\FirewallPolicy\\firewallrules"
#define RULE_NAME "boxwright-WinRM-HTTP-In-TCP"
#define RULE_TEXT "v2.26|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985|" \
	"App=System|Name=Windows Remote Management (HTTP-In) - boxwright|" \
	"EmbedCtxt=Windows Remote Management|"

enum { SYS_NO_WINRM = 1, SYS_ACTIVE_RULE = 2, SYS_NO_SHARED = 4,
       SYS_NO_TCPIP = 8, SYS_NO_MOUNTED = 16 };

static const uint8_t PART_GUID[16] = {
	0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
	0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF };
static const uint8_t DISK_GUID[16] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10 };

#define OLD_SIG 0x12345678u
#define OLD_OFF 0x7E00u
#define NEW_SIG 0xCAFEBABEu
#define NEW_OFF 0x100000u

static void mk_mounted(uint8_t *b, uint32_t sig, uint64_t off)
{
	bw_put_le32(b, sig);
	bw_put_le64(b + 4, off);
}

/* SYSTEM with a live ControlSet002 in mixed case and a stale 001. */
static void build_system(const char *path, int flags)
{
	hive_h *h = hv_new(path);
	if (!h)
		return;
	hive_node_h root = hivex_root(h);
	hive_node_h sel = hv_key(h, root, "Select");
	hv_dword(h, sel, "Current", 2);
	hv_dword(h, sel, "Default", 2);
	hv_dword(h, sel, "LastKnownGood", 1);

	hive_node_h cs1 = hv_key(h, root, "ControlSet001");
	hv_sz(h, hv_key(h, cs1, "Control\\ComputerName\\ComputerName"),
	      "ComputerName", "OLDNAME");
	hv_sz(h, hv_key(h, cs1, "Services\\Tcpip\\Parameters"), "Hostname",
	      "oldhost");
	hv_dword(h, hv_key(h, cs1, "Services\\WinRM"), "Start", 4);
	hv_sz(h, hv_key(h, cs1, FW_RULES), "WINRM-HTTP-In-TCP",
	      "v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=5985|");

	hive_node_h cs2 = hv_key(h, root, CS2);
	hv_key(h, cs2, "services");          /* later "SERVICES\\x" reuse it */
	hive_node_h cn = hv_key(h, cs2, "CONTROL\\computername\\ComputerName");
	hv_sz(h, cn, "ComputerName", "MINWINPC");
	hv_sz(h, hv_key(h, cs2, "CONTROL\\computername\\ActiveComputerName"),
	      "ComputerName", "MINWINPC");
	if (!(flags & SYS_NO_TCPIP)) {
		hive_node_h tcp = hv_key(h, cs2, "services\\TCPIP\\parameters");
		hv_sz(h, tcp, "Domain", "");
		hv_sz(h, tcp, "HOSTNAME", "minwinpc");
		hv_dword(h, tcp, "UseDomainNameDevolution", 1);
	}
	if (!(flags & SYS_NO_WINRM)) {
		hive_node_h w = hv_key(h, cs2, "SERVICES\\winrm");
		hv_dword(h, w, "Type", 0x20);
		hv_dword(h, w, "start", 3);
		hv_dword(h, w, "DelayedAutostart", 1);
		hv_sz(h, hv_key(h, w, "Parameters"), "ServiceDll",
		      "%SystemRoot%\\system32\\WsmSvc.dll");
	}
	if (!(flags & SYS_NO_SHARED)) {
		hive_node_h fw = hv_key(h, cs2, "Services\\sharedaccess\\Parameters\\"
					"FirewallPolicy\\firewallrules");
		hv_sz(h, fw, "CoreNet-DHCP-In",
		      "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=17|LPort=68|");
		hv_dword(h, fw, "NotAString", 5985);
		hv_sz(h, fw, "WINRM-HTTP-In-TCP",
		      (flags & SYS_ACTIVE_RULE)
			      ? "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=80,5985-5986|"
			      : "v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=5985|");
	}
	hv_dword(h, hv_key(h, cs2, "Services\\atapi"), "Start", 0);

	hive_node_h setup = hv_key(h, root, "Setup");
	hv_dword(h, setup, "SystemSetupInProgress", 0);

	if (!(flags & SYS_NO_MOUNTED)) {
		hive_node_h md = hv_key(h, root, "MountedDevices");
		uint8_t m[13];
		mk_mounted(m, OLD_SIG, OLD_OFF);
		hv_raw(h, md, "\\DosDevices\\C:", hive_t_REG_BINARY, m, 12);
		hv_raw(h, md, "\\??\\Volume{11111111-0000-0000-0000-100000000000}",
		       hive_t_REG_BINARY, m, 12);
		/* Same bytes, another type: patched, type kept. */
		hv_raw(h, md, "\\??\\Volume{22222222-0000-0000-0000-100000000000}",
		       hive_t_REG_NONE, m, 12);
		/* 13 bytes starting with OLD: not the MBR form. */
		m[12] = 0;
		hv_raw(h, md, "\\??\\Volume{33333333-0000-0000-0000-100000000000}",
		       hive_t_REG_BINARY, m, 13);
		mk_mounted(m, OLD_SIG, OLD_OFF + 512);     /* other partition */
		hv_raw(h, md, "\\DosDevices\\E:", hive_t_REG_BINARY, m, 12);
		mk_mounted(m, OLD_SIG ^ 1, OLD_OFF);       /* other disk */
		hv_raw(h, md, "\\DosDevices\\F:", hive_t_REG_BINARY, m, 12);
		uint8_t gpt[24];
		memcpy(gpt, "DMIO:ID:", 8);
		memcpy(gpt + 8, PART_GUID, 16);
		hv_raw(h, md, "\\DosDevices\\G:", hive_t_REG_BINARY, gpt, 24);
		uint8_t cd[64];
		size_t n = utf16("\\??\\IDE#CdRom", cd, sizeof cd);
		hv_raw(h, md, "\\DosDevices\\D:", hive_t_REG_BINARY, cd, n);
	}
	hv_commit(h, path);
}

static void test_edit_system_winrm(void)
{
	const char *p = tpath("SYSTEM");
	build_system(p, 0);
	CHECK(build_failures == 0);
	struct lines before = dump(p);
	uint32_t seq = hive_seq(p);
	struct bw_win_edits e = { .winrm = 1 };
	struct bw_win_report rep;
	struct bw_error err;
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 2);
	CHECK_EQ_U64(rep.keys_created, 0);
	struct lines rm = { 0 }, add = { 0 };
	lines_add(&rm, L_dword(CS2 "\\services\\winrm", "start", 3));
	lines_add(&add, L_dword(CS2 "\\services\\winrm", "start", 2));
	lines_add(&add, L_sz(CS2_FW, RULE_NAME, RULE_TEXT));
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);
	CHECK(hive_clean(p, seq + 1));

	struct bw_system_facts f;
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(f.current_controlset == 2);
	CHECK(f.winrm_start == 2);
	CHECK(f.firewall_winrm_http == 1);
	bw_system_facts_free(&f);

	/* Again: nothing changes. */
	copy_file(p, tpath("SYSTEM.copy"));
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 0);
	CHECK(same_file(p, tpath("SYSTEM.copy")));

	/* An active inbound allow rule for 5985 already exists: no rule. */
	p = tpath("SYSTEM_RULE");
	build_system(p, SYS_ACTIVE_RULE);
	before = dump(p);
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 1);
	lines_add(&rm, L_dword(CS2 "\\services\\winrm", "start", 3));
	lines_add(&add, L_dword(CS2 "\\services\\winrm", "start", 2));
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);

	/* No SharedAccess service: no firewall, no rule, no keys made. */
	p = tpath("SYSTEM_NOFW");
	build_system(p, SYS_NO_SHARED);
	before = dump(p);
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 1);
	CHECK_EQ_U64(rep.keys_created, 0);
	lines_add(&rm, L_dword(CS2 "\\services\\winrm", "start", 3));
	lines_add(&add, L_dword(CS2 "\\services\\winrm", "start", 2));
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);

	/* No WinRM service: refused, nothing written. */
	p = tpath("SYSTEM_NOWINRM");
	build_system(p, SYS_NO_WINRM);
	copy_file(p, tpath("SYSTEM_NOWINRM.copy"));
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == BW_ENOTFOUND);
	CHECK(strstr(err.msg, "the image has no WinRM service") != NULL);
	CHECK(strstr(err.msg, "ControlSet002\\Services\\WinRM") != NULL);
	CHECK(strstr(err.msg, p) == err.msg);
	CHECK(same_file(p, tpath("SYSTEM_NOWINRM.copy")));
	CHECK(no_temp_files());
}

static void test_edit_system_hostname(void)
{
	const char *p = tpath("SYSTEM_HOST");
	build_system(p, 0);
	struct lines before = dump(p);
	struct bw_win_edits e = { .hostname = "nano-Box7" };
	struct bw_win_report rep;
	struct bw_error err;
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == 0);
	CHECK_EQ_U64(rep.values_set, 3);
	CHECK_EQ_U64(rep.keys_created, 0);
	struct lines rm = { 0 }, add = { 0 };
	const char *cn = CS2 "\\CONTROL\\computername\\ComputerName";
	const char *tcp = CS2 "\\services\\TCPIP\\parameters";
	lines_add(&rm, L_sz(cn, "ComputerName", "MINWINPC"));
	lines_add(&add, L_sz(cn, "ComputerName", "NANO-BOX7"));
	lines_add(&rm, L_sz(tcp, "HOSTNAME", "minwinpc"));
	lines_add(&add, L_sz(tcp, "HOSTNAME", "nano-Box7"));
	lines_add(&add, L_sz(tcp, "NV Hostname", "nano-Box7"));
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);
	CHECK(hive_clean(p, 0));
	struct bw_system_facts f;
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	CHECK(f.computer_name && strcmp(f.computer_name, "NANO-BOX7") == 0);
	CHECK(f.hostname && strcmp(f.hostname, "nano-Box7") == 0);
	bw_system_facts_free(&f);

	/* NetBIOS rules: refused before anything is opened. */
	static const char *const bad[] = {
		"", "abcdefghijklmnop", "a_b", "12345", "nano box", "n\xC3\xA9",
		"a.b",
	};
	copy_file(p, tpath("SYSTEM_HOST.copy"));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e.hostname = bad[i];
		CHECK(bw_win_edit_system(p, &e, &rep, &err) == BW_EINVAL);
		CHECK(strstr(err.msg, "--hostname") != NULL);
	}
	CHECK(same_file(p, tpath("SYSTEM_HOST.copy")));
	/* Edges that pass: 15 characters, one letter, digits and a hyphen. */
	static const char *const good[] = { "abcdefghijklmno", "x", "1-2", "9a" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		e.hostname = good[i];
		CHECK(bw_win_edit_system(p, &e, &rep, &err) == 0);
	}

	/* No Tcpip service: refused, nothing written. */
	p = tpath("SYSTEM_NOTCP");
	build_system(p, SYS_NO_TCPIP);
	copy_file(p, tpath("SYSTEM_NOTCP.copy"));
	e.hostname = "box";
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == BW_ENOTFOUND);
	CHECK(strstr(err.msg, "Services\\Tcpip") != NULL);
	CHECK(same_file(p, tpath("SYSTEM_NOTCP.copy")));

	/* Select\Current naming a control set that is not there. */
	p = tpath("SYSTEM_NOCS");
	hive_h *h = hv_new(p);
	if (h) {
		hv_dword(h, hv_key(h, hivex_root(h), "Select"), "Current", 3);
		hv_key(h, hivex_root(h), "ControlSet001\\Services\\Tcpip");
		hv_commit(h, p);
	}
	copy_file(p, tpath("SYSTEM_NOCS.copy"));
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "ControlSet003 does not exist") != NULL);
	CHECK(same_file(p, tpath("SYSTEM_NOCS.copy")));
}

/* ---- dirty hives --------------------------------------------------------------- */

static void test_dirty(void)
{
	struct bw_win_report rep;
	struct bw_error err;
	struct bw_win_edits e = { .winrm = 1, .hostname = "box" };
	struct bw_win_location o = { OLD_SIG, OLD_OFF }, n = { NEW_SIG, NEW_OFF };

	const char *p = tpath("SYSTEM_DIRTY");
	build_system(p, 0);
	make_dirty(p, 0);
	uint32_t primary = hive_seq(p);
	copy_file(p, tpath("SYSTEM_DIRTY.copy"));
	char want[128];
	snprintf(want, sizeof want,
		 "SYSTEM hive is dirty (sequence numbers %u and %u differ)",
		 (unsigned)primary, (unsigned)primary - 1);
	CHECK(bw_win_edit_system(p, &e, &rep, &err) == BW_EDIRTY);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, "boot Windows once or replay its logs") != NULL);
	CHECK(strstr(err.msg, p) == err.msg);
	CHECK(bw_win_fix_mounted_devices(p, &o, &n, &rep, &err) == BW_EDIRTY);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(same_file(p, tpath("SYSTEM_DIRTY.copy")));

	/* A wrong checksum is dirty too. */
	p = tpath("SOFTWARE_DIRTY");
	build_software(p, 1);
	make_dirty(p, 1);
	copy_file(p, tpath("SOFTWARE_DIRTY.copy"));
	CHECK(bw_win_edit_software(p, &e, &rep, &err) == BW_EDIRTY);
	CHECK(strstr(err.msg, "SOFTWARE hive is dirty (base block checksum") != NULL);
	CHECK(same_file(p, tpath("SOFTWARE_DIRTY.copy")));

	p = tpath("BCD_DIRTY");
	hive_h *h = hv_new(p);
	if (h) {
		hv_key(h, hivex_root(h), "Objects");
		hv_commit(h, p);
	}
	make_dirty(p, 0);
	copy_file(p, tpath("BCD_DIRTY.copy"));
	CHECK(bw_win_fix_bcd(p, &o, &n, &rep, &err) == BW_EDIRTY);
	CHECK(strstr(err.msg, "BCD hive is dirty") != NULL);
	CHECK(same_file(p, tpath("BCD_DIRTY.copy")));

	/* Not a hive, no file. */
	write_str(tpath("garbage"), "this is not a registry hive at all, no");
	CHECK(bw_win_edit_system(tpath("garbage"), &e, &rep, &err) == BW_EFORMAT);
	CHECK(bw_win_fix_bcd(tpath("absent"), &o, &n, &rep, &err) == BW_ENOTFOUND);
	CHECK(no_temp_files());
}

/* ---- regutil's write calls ----------------------------------------------------- */

static void test_regutil_write(void)
{
	const char *p = tpath("REGW");
	build_system(p, 0);
	struct lines before = dump(p);
	struct bw_error err;
	struct win_reg *r;

	/* Read-only handles do not write. */
	CHECK(win_reg_open(p, "REGW", &r, &err) == 0);
	if (r) {
		CHECK(win_reg_set_dword(r, win_reg_root(r), "", "x", 1, NULL,
					&err) == BW_EINVAL);
		CHECK(win_reg_commit(r, &err) == BW_EINVAL);
		win_reg_close(r);
	}

	CHECK(win_reg_open_write(p, "SYSTEM", &r, &err) == 0);
	if (!r)
		return;
	win_node root = win_reg_root(r);
	CHECK(win_reg_pending(r) == 0);
	win_node node, again;
	unsigned created = 0;
	/* mkdir -p through an existing key spelled in another case. */
	CHECK(win_reg_create_path(r, root, "ControlSet002\\Services\\New\\Sub",
				  &node, &created, &err) == 0);
	CHECK_EQ_U64(created, 2);
	CHECK(win_reg_create_path(r, root, "CONTROLSET002\\services\\NEW\\sub",
				  &again, &created, &err) == 0);
	CHECK_EQ_U64(created, 2);
	CHECK(node == again);
	CHECK(win_reg_create_path(r, root, "", &again, NULL, &err) == 0 &&
	      again == root);
	/* Empty components, bad names, too deep. */
	CHECK(win_reg_create_path(r, root, "A\\\\B", &again, NULL, &err) ==
	      BW_EINVAL);
	CHECK(win_reg_create_path(r, root, "A\\", &again, NULL, &err) ==
	      BW_EINVAL);
	CHECK(win_reg_create_path(r, root, "\\A", &again, NULL, &err) ==
	      BW_EINVAL);
	CHECK(win_reg_create_path(r, root, "bad\xFFname", &again, NULL, &err) ==
	      BW_EINVAL);
	CHECK(strstr(err.msg, "not UTF-8") != NULL);
	char longname[300];
	memset(longname, 'k', 256);
	longname[256] = '\0';
	CHECK(win_reg_create_path(r, root, longname, &again, NULL, &err) ==
	      BW_EINVAL);
	longname[255] = '\0';
	CHECK(win_reg_create_path(r, node, longname, &again, &created, &err) == 0);
	char deep[200] = "";
	for (int i = 0; i < WIN_REG_MAX_DEPTH + 1; i++)
		strcat(deep, i ? "\\d" : "d");
	CHECK(win_reg_create_path(r, root, deep, &again, NULL, &err) ==
	      BW_EINVAL);

	/* Values: set (type and data exactly), no-op when equal, delete. */
	int changed = -1;
	CHECK(win_reg_set_dword(r, node, "N", "Count", 7, &changed, &err) == 0 &&
	      changed == 1);
	CHECK(win_reg_set_dword(r, node, "N", "count", 7, &changed, &err) == 0 &&
	      changed == 0);
	CHECK(win_reg_set_string(r, node, "N", "", "d\xC3\xA9" "f", &changed,
				 &err) == 0 && changed == 1);
	CHECK(win_reg_set_value(r, node, "N", "empty", WIN_REG_BINARY, NULL, 0,
				&changed, &err) == 0 && changed == 1);
	CHECK(win_reg_set_value(r, node, "N", "raw", 0x12345, (const uint8_t *)"zz",
				2, &changed, &err) == 0 && changed == 1);
	CHECK(win_reg_set_value(r, node, "N", "gone", WIN_REG_SZ,
				(const uint8_t *)"g\0\0", 4, &changed, &err) == 0);
	int deleted = -1;
	CHECK(win_reg_delete_value(r, node, "N", "GONE", &deleted, &err) == 0 &&
	      deleted == 1);
	CHECK(win_reg_delete_value(r, node, "N", "never", &deleted, &err) == 0 &&
	      deleted == 0);
	CHECK(win_reg_set_value(r, node, "N", "bad\xC3", WIN_REG_SZ,
				(const uint8_t *)"", 0, NULL, &err) == BW_EINVAL);
	static char vname[WIN_REG_MAX_VALUE_NAME + 2];
	memset(vname, 'v', WIN_REG_MAX_VALUE_NAME + 1);
	CHECK(win_reg_set_dword(r, node, "N", vname, 1, NULL, &err) == BW_EINVAL);
	/* Data over one cell: refused, for a new value... */
	static uint8_t big[WIN_REG_MAX_CELL_DATA + 1];
	CHECK(win_reg_set_value(r, node, "N", "big", WIN_REG_BINARY, big,
				sizeof big, NULL, &err) == BW_ENOTIMPL);
	CHECK(win_reg_set_value(r, node, "N", "big", WIN_REG_BINARY, big,
				WIN_REG_MAX_CELL_DATA, &changed, &err) == 0);
	CHECK(win_reg_delete_value(r, node, "N", "big", NULL, &err) == 0);

	/* Delete a key with subkeys; the root never. */
	win_node cs1;
	CHECK(win_reg_lookup(r, root, "ControlSet001\\Services\\Tcpip", &cs1,
			     &err) == 0);
	CHECK(win_reg_delete_key(r, cs1, "ControlSet001\\Services\\Tcpip",
				 &err) == 0);
	CHECK(win_reg_delete_key(r, root, "", &err) == BW_EINVAL);
	CHECK(win_reg_pending(r) > 0);

	/* Nothing is on disk before the commit. */
	CHECK(changes_are(&before, p, &(struct lines){ 0 }, &(struct lines){ 0 },
			  __LINE__));
	uint32_t seq = hive_seq(p);
	CHECK(win_reg_commit(r, &err) == 0);
	CHECK(win_reg_pending(r) == 0);
	win_reg_close(r);
	CHECK(hive_clean(p, seq + 1));
	CHECK(no_temp_files());

	struct lines rm = { 0 }, add = { 0 };
	const char *nw = "controlset002\\services\\New";
	const char *sub = "controlset002\\services\\New\\Sub";
	char *lk = fmt("%s\\%s", sub, longname);
	lines_add(&add, L_key(nw));
	lines_add(&add, L_key(sub));
	lines_add(&add, L_key(lk));
	free(lk);
	lines_add(&add, L_dword(sub, "Count", 7));
	lines_add(&add, L_sz(sub, "", "d\xC3\xA9" "f"));
	lines_add(&add, L_raw(sub, "empty", 3, "", 0));
	lines_add(&add, L_raw(sub, "raw", 0x12345, "zz", 2));
	lines_add(&rm, L_key("ControlSet001\\Services\\Tcpip"));
	lines_add(&rm, L_key("ControlSet001\\Services\\Tcpip\\Parameters"));
	lines_add(&rm, L_sz("ControlSet001\\Services\\Tcpip\\Parameters",
			    "Hostname", "oldhost"));
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);

	/* A key holding a big-data value cannot be rewritten; others can. */
	const char *q = tpath("REGW_BIG");
	build_software(q, 1);
	copy_file(q, tpath("REGW_BIG.copy"));
	CHECK(win_reg_open_write(q, "SOFTWARE", &r, &err) == 0);
	if (r) {
		win_node bigk;
		CHECK(win_reg_lookup(r, win_reg_root(r), "Classes\\Big", &bigk,
				     &err) == 0);
		CHECK(win_reg_set_dword(r, bigk, "Classes\\Big", "small", 8, NULL,
					&err) == BW_ENOTIMPL);
		CHECK(strstr(err.msg, "\"huge\" holds 20000 bytes") != NULL);
		CHECK(win_reg_delete_value(r, bigk, "Classes\\Big", "small", NULL,
					   &err) == BW_ENOTIMPL);
		/* Setting what is already there writes nothing: allowed. */
		CHECK(win_reg_set_dword(r, bigk, "Classes\\Big", "small", 7,
					&changed, &err) == 0 && changed == 0);
		CHECK(win_reg_pending(r) == 0);
		win_reg_close(r);
	}
	CHECK(same_file(q, tpath("REGW_BIG.copy")));

	/* The commit fails (a temporary name too long for the directory):
	 * the hive is left as it was, no temporary file stays. */
	char leaf[256];
	memset(leaf, 'h', 250);
	leaf[250] = '\0';
	const char *lp = tpath(leaf);
	build_software(lp, 1);
	copy_file(lp, tpath("REGW_LONG.copy"));
	CHECK(win_reg_open_write(lp, "SOFTWARE", &r, &err) == 0);
	if (r) {
		CHECK(win_reg_set_dword(r, win_reg_root(r), "", "x", 1, NULL,
					&err) == 0);
		CHECK(win_reg_commit(r, &err) == BW_EIO);
		CHECK(strstr(err.msg, "temporary file") != NULL);
		win_reg_close(r);
	}
	CHECK(same_file(lp, tpath("REGW_LONG.copy")));
	CHECK(no_temp_files());
	unlink(lp);
}

/* ---- .reg files ------------------------------------------------------------------ */

/* The merge file every encoding test uses (UTF-8 form, LF). */
static const char REG_V5[] =
	"Windows Registry Editor Version 5.00\n"
	"\n"
	"; a comment\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Boxwright\\Test]\n"
	"\"str\"=\"a \\\"q\\\" \\\\ b \xC3\xA9\xF0\x9F\x98\x80\"\n"
	"@=\"default\"\n"
	"\"dw\"=dword:0000002A\n"
	"\n"
	"  ; blank lines and comments do not end the section\n"
	"\"short\"=dword:7\n"
	"\"bin\"=hex:01,02,ab,\\\n"
	"  CD,ef\n"
	"\"none\"=hex(0):\n"
	"\"exp\"=hex(2):25,00,53,00,52,00,25,00,00,00\n"
	"\"multi\"=hex(7):61,00,00,00,62,00,00,00,00,00\n"
	"\"q\"=hex(b):01,02,03,04,05,06,07,08\n"
	"\"dw4\"=hex(4):78,56,34,12\n"
	"\"be\"=hex(5):12,34,56,78\n"
	"\"unterm\"=hex(2):41,00\n"
	"\"odd\"=hex(ffff0001):\\\n"
	"  00,\\\n"
	"  ff\n"
	"\"sp\" = \"spaced\"   \n"
	"\n"
	"[HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\WSMAN\\Service]\n"
	"\"auth_kerberos\"=-\n"
	"\"blob\"=\"now a string\"\n"
	"\"absent\"=-\n"
	"\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\.txt]\n"
	"@=-\n"
	"\n"
	"[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\n"
	"[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Not\\There]\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Boxwright\\Empty]\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\Ignored\\By\\Software]\n"
	"\"x\"=dword:1\n";

/* What REG_V5 does to build_software's hive. */
static void reg_v5_changes(struct lines *rm, struct lines *add)
{
	const char *t = "Boxwright\\Test";
	lines_add(add, L_key("Boxwright"));
	lines_add(add, L_key(t));
	lines_add(add, L_key("Boxwright\\Empty"));
	lines_add(add, L_sz(t, "str", "a \"q\" \\ b \xC3\xA9\xF0\x9F\x98\x80"));
	lines_add(add, L_sz(t, "", "default"));
	lines_add(add, L_dword(t, "dw", 42));
	lines_add(add, L_dword(t, "short", 7));
	lines_add(add, L_raw(t, "bin", 3, "\x01\x02\xab\xcd\xef", 5));
	lines_add(add, L_raw(t, "none", 0, "", 0));
	lines_add(add, L_raw(t, "exp", 2, "%\0S\0R\0%\0\0", 10));
	lines_add(add, L_raw(t, "multi", 7, "a\0\0\0b\0\0\0\0", 10));
	lines_add(add, L_raw(t, "q", 11, "\x01\x02\x03\x04\x05\x06\x07\x08", 8));
	lines_add(add, L_raw(t, "dw4", 4, "\x78\x56\x34\x12", 4));
	lines_add(add, L_raw(t, "be", 5, "\x12\x34\x56\x78", 4));
	lines_add(add, L_raw(t, "odd", 0xffff0001u, "\x00\xff", 2));
	lines_add(add, L_raw(t, "unterm", 2, "A\0\0\0", 4));
	lines_add(add, L_sz(t, "sp", "spaced"));
	lines_add(rm, L_dword(SW_SERVICE, "auth_kerberos", 1));
	lines_add(rm, L_raw(SW_SERVICE, "blob", 3, "\x01\x02\x03", 3));
	lines_add(add, L_sz(SW_SERVICE, "blob", "now a string"));
	lines_add(rm, L_sz("Classes\\.txt", "", "txtfile"));
	lines_add(rm, L_key("Microsoft\\Windows NT"));
	lines_add(rm, L_key("Microsoft\\Windows NT\\CurrentVersion"));
	lines_add(rm, L_sz("Microsoft\\Windows NT\\CurrentVersion", "ProductName",
			   "Windows Server 2016 Datacenter"));
	lines_add(rm, L_sz("Microsoft\\Windows NT\\CurrentVersion", "CurrentBuild",
			   "14393"));
}

/* REG_V5 as regedit saves it: UTF-16LE with a BOM, CRLF. */
static void write_utf16(const char *path, const char *text)
{
	size_t cap = 4 * strlen(text) + 16;
	uint8_t *buf = malloc(cap);
	if (!buf)
		abort();
	buf[0] = 0xFF;
	buf[1] = 0xFE;
	size_t o = 2;
	const char *line = text;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *one = strndup(line, len);
		/* utf16() adds a NUL unit: overwrite it with CR LF. */
		o += utf16(one, buf + o, cap - o) - 2;
		free(one);
		if (nl) {
			bw_put_le16(buf + o, '\r');
			bw_put_le16(buf + o + 2, '\n');
			o += 4;
		}
		line += len + (nl ? 1 : 0);
	}
	write_text(path, buf, o);
	free(buf);
}

static int merge(const char *hive, int system, const char *reg,
		 struct bw_win_report *rep, struct bw_error *err)
{
	const char *files[1] = { reg };
	struct bw_win_edits e = { .reg_files = files, .nreg_files = 1 };
	return system ? bw_win_edit_system(hive, &e, rep, err)
		      : bw_win_edit_software(hive, &e, rep, err);
}

static void test_reg_merge(void)
{
	struct bw_win_report rep;
	struct bw_error err;

	/* Version 5, UTF-8. */
	const char *p = tpath("SOFTWARE_REG");
	build_software(p, 1);
	struct lines before = dump(p);
	uint32_t seq = hive_seq(p);
	write_str(tpath("v5.reg"), REG_V5);
	CHECK(merge(p, 0, tpath("v5.reg"), &rep, &err) == 0);
	CHECK_EQ_U64(rep.keys_created, 3);
	CHECK_EQ_U64(rep.values_set, 17);
	struct lines rm = { 0 }, add = { 0 };
	reg_v5_changes(&rm, &add);
	CHANGES_ARE(&before, p, &rm, &add);
	CHECK(hive_clean(p, seq + 1));

	/* The same as UTF-16LE with BOM and CRLF: the same hive content. */
	const char *q = tpath("SOFTWARE_REG16");
	build_software(q, 1);
	write_utf16(tpath("v5-16.reg"), REG_V5);
	CHECK(merge(q, 0, tpath("v5-16.reg"), &rep, &err) == 0);
	reg_v5_changes(&rm, &add);
	CHANGES_ARE(&before, q, &rm, &add);
	/* ... and with a UTF-8 BOM and CRLF. */
	q = tpath("SOFTWARE_REGBOM");
	build_software(q, 1);
	{
		size_t n = strlen(REG_V5);
		char *crlf = malloc(3 + 2 * n);
		size_t o = 0;
		memcpy(crlf, "\xEF\xBB\xBF", 3);
		o = 3;
		for (size_t i = 0; i < n; i++) {
			if (REG_V5[i] == '\n')
				crlf[o++] = '\r';
			crlf[o++] = REG_V5[i];
		}
		write_text(tpath("v5-bom.reg"), crlf, o);
		free(crlf);
	}
	CHECK(merge(q, 0, tpath("v5-bom.reg"), &rep, &err) == 0);
	reg_v5_changes(&rm, &add);
	CHANGES_ARE(&before, q, &rm, &add);
	lines_free(&before);

	/* REGEDIT4: string data in hex(2)/hex(7) is 8-bit text made UTF-16. */
	q = tpath("SOFTWARE_REG4");
	build_software(q, 1);
	before = dump(q);
	write_str(tpath("v4.reg"),
		  "REGEDIT4\n\n"
		  "[HKEY_LOCAL_MACHINE\\SOFTWARE\\R4]\n"
		  "\"s\"=\"plain\"\n"
		  "\"e\"=hex(2):25,53,52,25,00\n"
		  "\"m\"=hex(7):61,00,62,63,00,00\n"
		  "\"u\"=hex(1):c3,a9,00\n"
		  "\"b\"=hex:00,ff\n"
		  "\"d\"=dword:ffffffff\n"
		  "\"t\"=hex(2):41,42\n"
		  "; comments may follow a value\n"
		  "\"c1\"=dword:1 ; one\n"
		  "\"c2\"=\"x;y\" ;two\n"
		  "\"c3\"=hex:01,02;three\n"
		  "\"c4\"=hex:\t; empty\n"
		  "\"c1\"=- ; gone again\n");
	CHECK(merge(q, 0, tpath("v4.reg"), &rep, &err) == 0);
	lines_add(&add, L_key("R4"));
	lines_add(&add, L_sz("R4", "s", "plain"));
	lines_add(&add, L_raw("R4", "e", 2, "%\0S\0R\0%\0\0", 10));
	lines_add(&add, L_raw("R4", "m", 7, "a\0\0\0b\0c\0\0\0\0", 12));
	lines_add(&add, L_raw("R4", "u", 1, "\xe9\0\0", 4));
	lines_add(&add, L_raw("R4", "b", 3, "\x00\xff", 2));
	lines_add(&add, L_dword("R4", "d", 0xffffffffu));
	lines_add(&add, L_raw("R4", "t", 2, "A\0B\0\0", 6));   /* NUL added */
	lines_add(&add, L_sz("R4", "c2", "x;y"));
	lines_add(&add, L_raw("R4", "c3", 3, "\x01\x02", 2));
	lines_add(&add, L_raw("R4", "c4", 3, "", 0));
	CHANGES_ARE(&before, q, &rm, &add);
	lines_free(&before);
	write_str(tpath("v4bad.reg"),
		  "REGEDIT4\n[HKLM\\SOFTWARE\\R4]\n\"e\"=hex(2):e9,00\n");
	CHECK(merge(q, 0, tpath("v4bad.reg"), &rep, &err) == BW_EUNSUPPORTED);
	CHECK(strstr(err.msg, "v4bad.reg:3: ") != NULL);

	/* CurrentControlSet is the live set (2), however it is spelled;
	 * SOFTWARE sections of the file are not SYSTEM's business. */
	const char *s = tpath("SYSTEM_REG");
	build_system(s, 0);
	before = dump(s);
	write_str(tpath("ccs.reg"),
		  "Windows Registry Editor Version 5.00\n\n"
		  "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Foo]\n"
		  "\"Start\"=dword:00000003\n\n"
		  "[HKLM\\system\\currentcontrolset\\SERVICES\\winrm]\n"
		  "\"DelayedAutostart\"=dword:0\n\n"
		  "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet]\n"
		  "\"Top\"=\"t\"\n\n"
		  "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\Foo]\n"
		  "\"Start\"=dword:00000004\n\n"
		  "[HKEY_LOCAL_MACHINE\\SOFTWARE\\NotHere]\n"
		  "\"x\"=dword:1\n");
	CHECK(merge(s, 1, tpath("ccs.reg"), &rep, &err) == 0);
	CHECK_EQ_U64(rep.keys_created, 2);
	CHECK_EQ_U64(rep.values_set, 4);
	lines_add(&add, L_key(CS2 "\\services\\Foo"));
	lines_add(&add, L_dword(CS2 "\\services\\Foo", "Start", 3));
	lines_add(&rm, L_dword(CS2 "\\services\\winrm", "DelayedAutostart", 1));
	lines_add(&add, L_dword(CS2 "\\services\\winrm", "DelayedAutostart", 0));
	lines_add(&add, L_sz(CS2, "Top", "t"));
	lines_add(&add, L_key("ControlSet001\\Services\\Foo"));
	lines_add(&add, L_dword("ControlSet001\\Services\\Foo", "Start", 4));
	CHANGES_ARE(&before, s, &rm, &add);
	lines_free(&before);

	/* Two files, applied in order, with --winrm: all in one commit. */
	s = tpath("SYSTEM_REG2");
	build_system(s, 0);
	seq = hive_seq(s);
	write_str(tpath("one.reg"), "REGEDIT4\n[HKLM\\SYSTEM\\A]\n\"v\"=\"1\"\n");
	write_str(tpath("two.reg"), "REGEDIT4\n[HKLM\\SYSTEM\\A]\n\"v\"=\"2\"\n");
	const char *both[2] = { tpath("one.reg"), tpath("two.reg") };
	struct bw_win_edits e2 = { .winrm = 1, .reg_files = both,
				   .nreg_files = 2 };
	CHECK(bw_win_edit_system(s, &e2, &rep, &err) == 0);
	CHECK(hive_clean(s, seq + 1));
	struct win_reg *r;
	char *v = NULL;
	CHECK(win_reg_open(s, "S", &r, &err) == 0);
	if (r) {
		win_node a;
		CHECK(win_reg_lookup(r, win_reg_root(r), "A", &a, &err) == 0);
		CHECK(win_reg_get_string(r, a, "A", "v", &v, &err) == 0);
		CHECK(v && strcmp(v, "2") == 0);
		free(v);
		win_reg_close(r);
	}

	/* A failure in a later section: nothing of the earlier ones lands. */
	s = tpath("SYSTEM_REG3");
	build_system(s, 0);
	copy_file(s, tpath("SYSTEM_REG3.copy"));
	write_str(tpath("late.reg"),
		  "Windows Registry Editor Version 5.00\n\n"
		  "[HKLM\\SYSTEM\\Early]\n\"ok\"=dword:1\n\n"
		  "[HKLM\\SYSTEM\\ControlSet001]\n\"toolong\"=hex:\\\n");
	{
		/* 16345 bytes of hex: over one cell. */
		FILE *f = fopen(tpath("late.reg"), "ab");
		for (int i = 0; f && i < WIN_REG_MAX_CELL_DATA + 1; i++)
			fputs(i == WIN_REG_MAX_CELL_DATA ? "00\n" :
			      (i % 20 == 19) ? "00,\\\n" : "00,", f);
		if (f)
			fclose(f);
	}
	CHECK(merge(s, 1, tpath("late.reg"), &rep, &err) == BW_ENOTIMPL);
	char want[600];
	snprintf(want, sizeof want, "%s:7: %s: ControlSet001: value \"toolong\"",
		 tpath("late.reg"), s);
	CHECK(strstr(err.msg, want) == err.msg);
	CHECK(same_file(s, tpath("SYSTEM_REG3.copy")));

	/* A CurrentControlSet section, but Select is missing. */
	s = tpath("SYSTEM_NOSEL");
	hive_h *h = hv_new(s);
	if (h) {
		hv_key(h, hivex_root(h), "ControlSet001");
		hv_commit(h, s);
	}
	copy_file(s, tpath("SYSTEM_NOSEL.copy"));
	CHECK(merge(s, 1, tpath("ccs.reg"), &rep, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "Select\\Current is missing") != NULL);
	CHECK(same_file(s, tpath("SYSTEM_NOSEL.copy")));
	/* ... which a file without CurrentControlSet does not need. */
	CHECK(merge(s, 1, tpath("one.reg"), &rep, &err) == 0);

	/* A file naming only SYSTEM leaves SOFTWARE unopened (a dirty one
	 * passes, byte-identical), and the other way round. */
	q = tpath("SOFTWARE_UNTOUCHED");
	build_software(q, 1);
	make_dirty(q, 0);
	copy_file(q, tpath("SOFTWARE_UNTOUCHED.copy"));
	CHECK(merge(q, 0, tpath("one.reg"), &rep, &err) == 0);
	CHECK(rep.values_set == 0 && rep.keys_created == 0);
	CHECK(same_file(q, tpath("SOFTWARE_UNTOUCHED.copy")));
	write_str(tpath("sw.reg"), "REGEDIT4\n[HKLM\\SOFTWARE\\A]\n");
	s = tpath("SYSTEM_UNTOUCHED");
	build_system(s, 0);
	make_dirty(s, 0);
	copy_file(s, tpath("SYSTEM_UNTOUCHED.copy"));
	CHECK(merge(s, 1, tpath("sw.reg"), &rep, &err) == 0);
	CHECK(same_file(s, tpath("SYSTEM_UNTOUCHED.copy")));
	/* ... but a bad file is refused whichever hive it names. */
	write_str(tpath("cu.reg"), "REGEDIT4\n[HKEY_CURRENT_USER\\A]\n");
	CHECK(merge(s, 1, tpath("cu.reg"), &rep, &err) == BW_EUNSUPPORTED);
	CHECK(no_temp_files());
}

/* One malformed .reg file: CODE, and a message starting FILE:LINE:. */
static void reg_refused(const char *text, size_t len, int code,
			unsigned line, const char *needle, int src_line)
{
	const char *rp = tpath("bad.reg");
	write_text(rp, text, len);
	const char *p = tpath("SOFTWARE_BAD");
	struct bw_win_report rep;
	struct bw_error err;
	int got = merge(p, 0, rp, &rep, &err);
	char prefix[600];
	if (line)
		snprintf(prefix, sizeof prefix, "%s:%u: ", rp, line);
	else            /* about the whole file */
		snprintf(prefix, sizeof prefix, "%s: ", rp);
	int ok = got == code && strstr(err.msg, prefix) == err.msg &&
		 (!needle || strstr(err.msg, needle));
	if (!ok)
		fprintf(stderr, "test_win_edit.c:%d: got %d \"%s\"\n", src_line,
			got, err.msg);
	CHECK(ok);
	CHECK(same_file(p, tpath("SOFTWARE_BAD.copy")));
}

#define REFUSED(text, code, line, needle) \
	reg_refused(text, sizeof(text) - 1, code, line, needle, __LINE__)

static void test_reg_refused(void)
{
	const char *p = tpath("SOFTWARE_BAD");
	build_software(p, 1);
	copy_file(p, tpath("SOFTWARE_BAD.copy"));
#define V5 "Windows Registry Editor Version 5.00\r\n"
	/* Roots other than HKLM\SOFTWARE and HKLM\SYSTEM, even after good
	 * sections. */
	REFUSED(V5 "\r\n[HKLM\\SOFTWARE\\Ok]\r\n\"a\"=dword:1\r\n\r\n"
		"[HKEY_CURRENT_USER\\Software\\X]\r\n\"a\"=dword:1\r\n",
		BW_EUNSUPPORTED, 6, "root \"HKEY_CURRENT_USER\" is not supported");
	REFUSED(V5 "[HKEY_LOCAL_MACHINE\\SAM\\X]\n", BW_EUNSUPPORTED, 2,
		"HKEY_LOCAL_MACHINE\\SAM");
	REFUSED(V5 "[HKEY_LOCAL_MACHINE]\n", BW_EUNSUPPORTED, 2, NULL);
	REFUSED(V5 "[HKEY_USERS\\.DEFAULT]\n", BW_EUNSUPPORTED, 2, NULL);
	REFUSED(V5 "[-HKEY_LOCAL_MACHINE\\SOFTWARE]\n", BW_EINVAL, 2,
		"root of the SOFTWARE hive cannot be deleted");
	REFUSED(V5 "[-HKLM\\SYSTEM\\CurrentControlSet]\n", BW_EINVAL, 2,
		"live control set");
	/* Headers. */
	REFUSED("", BW_EFORMAT, 0, "empty file");
	REFUSED("Windows Registry Editor Version 4.00\n", BW_EFORMAT, 1,
		"expected \"Windows Registry Editor Version 5.00\" or \"REGEDIT4\"");
	REFUSED("\n\n[HKLM\\SOFTWARE\\X]\n", BW_EFORMAT, 3, "first line");
	/* Lines. */
	REFUSED(V5 "\"a\"=dword:1\n", BW_EFORMAT, 2, "before any [KEY]");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X\n", BW_EFORMAT, 2, "expected ']'");
	REFUSED(V5 "[HKLM\\SOFTWARE\\\\X]\n", BW_EFORMAT, 2, "empty key name");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X\\]\n", BW_EFORMAT, 2, "ends in a backslash");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\nfoo=bar\n", BW_EFORMAT, 3,
		"found \"foo=bar\"");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\" dword:1\n", BW_EFORMAT, 3,
		"expected '='");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=dword:123456789\n", BW_EFORMAT, 3,
		"1 to 8 hex digits");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=dword:xyz\n", BW_EFORMAT, 3, NULL);
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=dword:\n", BW_EFORMAT, 3, NULL);
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=dword:1 2\n", BW_EFORMAT, 3, NULL);
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a=\"b\"\n", BW_EFORMAT, 3, NULL);
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=\"b\n", BW_EFORMAT, 3,
		"unterminated string");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=\"b\\n\"\n", BW_EFORMAT, 3,
		"expected \\\\ or \\\"");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=\"b\" junk\n", BW_EFORMAT, 3,
		"end of the line");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=str:\"b\"\n", BW_EFORMAT, 3,
		"expected a quoted string, dword:, hex:, hex(N): or -");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex:0g\n", BW_EFORMAT, 3,
		"expected ',' between hex bytes");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex:001\n", BW_EFORMAT, 3,
		"two hex digits");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex:01,\n", BW_EFORMAT, 3,
		"expected a hex byte after ','");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex:01 02\n", BW_EFORMAT, 3, NULL);
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex:01,\\\n  02,\\\n  zz\n",
		BW_EFORMAT, 5, "found \"zz\"");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex:01,\\\n", BW_EFORMAT, 3,
		"ends after a continuation");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex(:01\n", BW_EFORMAT, 3,
		"hex(N):");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex(123456789):01\n", BW_EFORMAT, 3,
		NULL);
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex(2):41,00,00\n", BW_EFORMAT, 3,
		"even number");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex(4):01,02,03\n", BW_EFORMAT, 3,
		"a DWORD has 4");
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=hex(b):01,02,03,04\n", BW_EFORMAT,
		3, "a QWORD has 8");
	REFUSED(V5 "[-HKLM\\SOFTWARE\\X]\n\"a\"=dword:1\n", BW_EFORMAT, 3,
		"[-KEY] section");
	/* Encodings. */
	REFUSED(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=\"\xE9t\xE9\"\n", BW_EUNSUPPORTED,
		3, "not UTF-8");
	REFUSED("W\0i\0n\0", BW_EUNSUPPORTED, 1, "NUL byte");
	REFUSED("\xFE\xFF\0W", BW_EUNSUPPORTED, 0, NULL);
	REFUSED("\xFF\xFEW\0\n\0\x00\xD8x\0", BW_EFORMAT, 2, "lone UTF-16 surrogate");
	REFUSED("\xFF\xFEW\0\n\0x\0\0\0", BW_EFORMAT, 2, "NUL character");
	/* A key name over 255 characters; a value name over 16383 (found
	 * when merging, still named by file and line). */
	{
		char buf[600];
		int n = snprintf(buf, sizeof buf, V5 "[HKLM\\SOFTWARE\\");
		memset(buf + n, 'k', 256);
		n += 256;
		n += snprintf(buf + n, sizeof buf - (size_t)n, "]\n");
		reg_refused(buf, (size_t)n, BW_EFORMAT, 2, "longer than 255",
			    __LINE__);
		static char vbuf[20000];
		n = snprintf(vbuf, sizeof vbuf, V5 "[HKLM\\SOFTWARE\\X]\n\"");
		memset(vbuf + n, 'v', 16384);
		n += 16384;
		n += snprintf(vbuf + n, sizeof vbuf - (size_t)n, "\"=dword:1\n");
		reg_refused(vbuf, (size_t)n, BW_EINVAL, 3,
			    "value name of 16384 characters", __LINE__);
	}
	/* Caps: the file, one line. */
	{
		const char *rp = tpath("bad.reg");
		int fd = open(rp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0 && ftruncate(fd, WIN_REGFILE_MAX_BYTES + 1) == 0);
		if (fd >= 0)
			close(fd);
		struct bw_win_report rep;
		struct bw_error err;
		CHECK(merge(p, 0, rp, &rep, &err) == BW_EUNSUPPORTED);
		CHECK(strstr(err.msg, "more than") != NULL);
		size_t n = strlen(V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=\"");
		size_t total = n + WIN_REGFILE_MAX_LINE + 8;
		char *big = malloc(total);
		CHECK(big != NULL);
		if (big) {
			memcpy(big, V5 "[HKLM\\SOFTWARE\\X]\n\"a\"=\"", n);
			memset(big + n, 'x', total - n);
			big[total - 2] = '"';
			big[total - 1] = '\n';
			reg_refused(big, total, BW_EUNSUPPORTED, 3, "line of",
				    __LINE__);
			free(big);
		}
		CHECK(merge(p, 0, tpath("no-such.reg"), &rep, &err) ==
		      BW_ENOTFOUND);
	}
#undef V5
	CHECK(same_file(p, tpath("SOFTWARE_BAD.copy")));
	CHECK(no_temp_files());
}

/* A .reg file is read into a buffer of its own size, not the 16 MiB cap:
 * a regular file over 64 KiB, the same text through a pipe (no size to
 * go by: the buffer grows), and a pipe over the cap, still refused. */
static int parse_from_pipe(const char *text, size_t len, size_t repeat_to,
			   struct bw_error *err)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -100;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		signal(SIGPIPE, SIG_IGN);
		size_t sent = 0;
		while (sent < repeat_to) {
			size_t n = repeat_to - sent < len ? repeat_to - sent : len;
			ssize_t w = write(fds[1], text, n);
			if (w <= 0)
				break;
			sent += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
	struct win_regfile *rf = NULL;
	int r = pid < 0 ? -100 : win_regfile_parse(path, &rf, err);
	if (r == 0 && !win_regfile_touches(rf, WIN_HIVE_SOFTWARE))
		r = -101;
	win_regfile_free(rf);
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return r;
}

static void test_reg_read_sizes(void)
{
	const char head[] = "Windows Registry Editor Version 5.00\n\n"
			    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Big]\n";
	const char tail[] = "\"last\"=dword:00000001\n";
	size_t comments = 200000, n = strlen(head);
	char *text = malloc(n + comments + sizeof tail);
	CHECK(text != NULL);
	if (!text)
		return;
	memcpy(text, head, n);
	for (size_t i = 0; i < comments; i += 100) {
		memset(text + n + i, 'c', 99);
		text[n + i] = ';';
		text[n + i + 99] = '\n';
	}
	memcpy(text + n + comments, tail, sizeof tail);
	size_t len = n + comments + strlen(tail);

	const char *rp = tpath("big.reg");
	write_text(rp, text, len);
	struct win_regfile *rf = NULL;
	struct bw_error err;
	CHECK_EQ_U64(win_regfile_parse(rp, &rf, &err), 0);
	CHECK(rf && win_regfile_touches(rf, WIN_HIVE_SOFTWARE));
	win_regfile_free(rf);
	unlink(rp);

	CHECK_EQ_U64(parse_from_pipe(text, len, len, &err), 0);
	/* Over the cap: the same bytes repeated past 16 MiB. */
	CHECK_EQ_U64(parse_from_pipe(text, len, WIN_REGFILE_MAX_BYTES + 4096, &err),
		     (uint64_t)BW_EUNSUPPORTED);
	CHECK(strstr(err.msg, "more than") != NULL);
	free(text);
}

/* ---- BCD ------------------------------------------------------------------------- */

#define GUID_BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define GUID_LOADER "{b2721d73-1db4-4c62-bf78-c548a880142d}"
#define GUID_RESUME "{3f1c2a95-8e5b-4d7a-b6c0-5a9e1d2f7b48}"
#define GUID_ODD "{11111111-2222-3333-4444-555555555555}"
#define GUID_RAM "{22222222-2222-3333-4444-555555555555}"
#define DEV_LEN 0x58

static void mk_part(uint8_t *b, uint32_t type, uint32_t style,
		    uint64_t offset, uint32_t signature)
{
	memset(b, 0, DEV_LEN);
	bw_put_le32(b + 0x10, type);
	bw_put_le32(b + 0x18, 0x48);
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

/* A RAM-disk device as Windows writes "ramdisk=[PARENT]\sources\boot.wim,
 * {ramdiskoptions}" (see bcdpatch.c): 0xB0 bytes. */
#define RAM_LEN 0xB0
static void mk_ramdisk(uint8_t *b, uint32_t nested_type, uint32_t style,
		       uint64_t offset, uint32_t signature, uint32_t path_type)
{
	static const uint8_t ramdiskoptions[16] = {
		0xc8, 0xdc, 0x19, 0x76, 0xfe, 0xfa, 0xd9, 0x11,
		0xb4, 0x11, 0x00, 0x04, 0x76, 0xeb, 0xa2, 0x5f };
	memset(b, 0, RAM_LEN);
	memcpy(b, ramdiskoptions, 16);
	bw_put_le32(b + 0x10, 0);            /* DiskDevice */
	bw_put_le32(b + 0x14, 1);
	bw_put_le32(b + 0x18, RAM_LEN - 0x10);
	bw_put_le32(b + 0x20, 3);            /* RamDiskDevice */
	bw_put_le32(b + 0x38, 1);
	bw_put_le32(b + 0x3C, RAM_LEN - 0x38);
	bw_put_le32(b + 0x40, path_type);
	/* The parent device: the top-level layout at +0x34. */
	uint8_t nested[DEV_LEN];
	if (nested_type == 6)
		mk_part(nested, 6, style, offset, signature);
	else
		mk_type(nested, nested_type);
	memcpy(b + 0x44, nested + 0x10, 0x48);
	utf16("\\sources\\boot.wim", b + 0x8C, RAM_LEN - 0x8C);
}

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
	hive_node_h root = hivex_root(h);
	hv_dword(h, hv_key(h, root, "Description"), "System", 1);
	hive_node_h objs = hv_key(h, root, "Objects");
	uint8_t dev[DEV_LEN], ram[RAM_LEN];

	hive_node_h bm = hv_key(h, objs, GUID_BOOTMGR);
	hv_dword(h, hv_key(h, bm, "Description"), "Type", 0x10100002);
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG);                     /* patched */
	bcd_element(h, bm, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
	uint8_t s[64];
	size_t n = utf16("\\bootmgr", s, sizeof s);
	bcd_element(h, bm, "12000002", hive_t_REG_SZ, s, n);
	/* Not a device element, though its bytes look like one. */
	bcd_element(h, bm, "12000099", hive_t_REG_BINARY, dev, DEV_LEN);
	bcd_element(h, bm, "zz000001", hive_t_REG_BINARY, dev, DEV_LEN);

	hive_node_h ld = hv_key(h, objs, GUID_LOADER);
	hv_dword(h, hv_key(h, ld, "Description"), "Type", 0x10200003);
	bcd_element(h, ld, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);  /* patched */
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG);
	dev[0] = 0x5A;                       /* options GUID kept as is */
	dev[0x50] = 0x77;                    /* padding kept as is */
	bcd_element(h, ld, "21000001", hive_t_REG_BINARY, dev, DEV_LEN);  /* patched */

	hive_node_h rs = hv_key(h, objs, GUID_RESUME);
	mk_part(dev, 6, 1, OLD_OFF + 512, OLD_SIG);               /* other partition */
	bcd_element(h, rs, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG ^ 1);                 /* other disk */
	bcd_element(h, rs, "21000001", hive_t_REG_BINARY, dev, DEV_LEN);

	hive_node_h odd = hv_key(h, objs, GUID_ODD);
	mk_part(dev, 6, 0, 0, 0);                                 /* GPT */
	bcd_element(h, odd, "11000001", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 5);                                          /* boot */
	bcd_element(h, odd, "11000002", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 8);                                          /* locate: unknown */
	bcd_element(h, odd, "11000003", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 3);                                          /* unknown */
	bcd_element(h, odd, "11000004", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_part(dev, 2, 1, OLD_OFF, OLD_SIG);                     /* legacy: unknown */
	bcd_element(h, odd, "11000005", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_type(dev, 0);                                          /* disk: unknown */
	bcd_element(h, odd, "11000006", hive_t_REG_BINARY, dev, DEV_LEN);
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG);
	bcd_element(h, odd, "11000007", hive_t_REG_SZ, dev, DEV_LEN);  /* unknown */
	bcd_element(h, odd, "11000008", hive_t_REG_BINARY, dev, 0x30); /* unknown */
	bw_put_le32(dev + 0x30, 3);                               /* a RAM disk's part */
	bcd_element(h, odd, "11000009", hive_t_REG_BINARY, dev, DEV_LEN); /* unknown */
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG);
	bcd_element(h, odd, "21000010", hive_t_REG_BINARY, dev, DEV_LEN); /* patched */
	hv_key(h, odd, "Elements\\11000011");                    /* no Element */

	hive_node_h rd = hv_key(h, objs, GUID_RAM);
	mk_ramdisk(ram, 6, 1, OLD_OFF, OLD_SIG, 5);               /* patched */
	bcd_element(h, rd, "11000001", hive_t_REG_BINARY, ram, RAM_LEN);
	mk_ramdisk(ram, 5, 0, 0, 0, 5);                           /* parent boot */
	bcd_element(h, rd, "21000001", hive_t_REG_BINARY, ram, RAM_LEN);
	mk_ramdisk(ram, 6, 0, 0, 0, 5);                           /* parent GPT */
	bcd_element(h, rd, "11000002", hive_t_REG_BINARY, ram, RAM_LEN);
	mk_ramdisk(ram, 6, 1, OLD_OFF, OLD_SIG, 4);               /* path type: unknown */
	bcd_element(h, rd, "11000003", hive_t_REG_BINARY, ram, RAM_LEN);
	mk_ramdisk(ram, 6, 1, OLD_OFF, OLD_SIG, 5);
	bw_put_le32(ram + 0x3C, RAM_LEN);                         /* path past the end */
	bcd_element(h, rd, "11000004", hive_t_REG_BINARY, ram, RAM_LEN);
	mk_ramdisk(ram, 8, 0, 0, 0, 5);                           /* parent locate */
	bcd_element(h, rd, "11000005", hive_t_REG_BINARY, ram, RAM_LEN);
	mk_ramdisk(ram, 6, 1, OLD_OFF, OLD_SIG, 5);
	bcd_element(h, rd, "11000006", hive_t_REG_BINARY, ram, 0x60); /* truncated */
	hv_commit(h, path);
}

/* Raw Element data of OBJ\ID in the BCD at PATH (malloc'd). */
static uint8_t *bcd_raw(const char *path, const char *obj, const char *id,
			size_t *len)
{
	*len = 0;
	hive_h *h = hivex_open(path, 0);
	if (!h)
		return NULL;
	hive_node_h n = hivex_node_get_child(h, hivex_root(h), "Objects");
	n = n ? hivex_node_get_child(h, n, obj) : 0;
	n = n ? hivex_node_get_child(h, n, "Elements") : 0;
	n = n ? hivex_node_get_child(h, n, id) : 0;
	hive_value_h v = n ? hivex_node_get_value(h, n, "Element") : 0;
	hive_type t;
	char *d = v ? hivex_value_value(h, v, &t, len) : NULL;
	hivex_close(h);
	return (uint8_t *)d;
}

/* B differs from A exactly in the identity bytes at BASE + 0x20..0x27 and
 * BASE + 0x38..0x3B, which name NEW. */
static int patched_only(const uint8_t *a, const uint8_t *b, size_t len,
			size_t base)
{
	for (size_t i = 0; i < len; i++) {
		int id = (i >= base + 0x20 && i < base + 0x28) ||
			 (i >= base + 0x38 && i < base + 0x3C);
		if (!id && a[i] != b[i])
			return 0;
	}
	return bw_get_le64(b + base + 0x20) == NEW_OFF &&
	       bw_get_le32(b + base + 0x38) == NEW_SIG;
}

static void test_encode(void)
{
	uint8_t dev[DEV_LEN + 8], orig[DEV_LEN + 8];
	struct bw_win_location n = { NEW_SIG, NEW_OFF };
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG);
	memset(dev + DEV_LEN, 0xEE, 8);
	dev[5] = 0x42;
	bw_put_le32(dev + 0x28, 0xDDDDDDDD);     /* after the offset: kept */
	memcpy(orig, dev, sizeof dev);
	CHECK(bw_bcd_encode_mbr_device(dev, DEV_LEN, &n) == 0);
	CHECK(patched_only(orig, dev, sizeof dev, 0));
	struct bw_bcd_device d;
	CHECK(bw_bcd_decode_device(dev, DEV_LEN, &d) == 0);
	CHECK(d.kind == BW_BCD_DEV_PARTITION_MBR && d.disk_signature == NEW_SIG &&
	      d.part_offset == NEW_OFF);
	mk_part(dev, 6, 0, 0, 0);
	memcpy(orig, dev, DEV_LEN);
	CHECK(bw_bcd_encode_mbr_device(dev, DEV_LEN, &n) == BW_EINVAL);
	CHECK(memcmp(orig, dev, DEV_LEN) == 0);
	mk_type(dev, 5);
	CHECK(bw_bcd_encode_mbr_device(dev, DEV_LEN, &n) == BW_EINVAL);
	mk_part(dev, 6, 1, OLD_OFF, OLD_SIG);
	CHECK(bw_bcd_encode_mbr_device(dev, 0x40, &n) == BW_EINVAL);
	CHECK(bw_bcd_encode_mbr_device(dev, 0x10, &n) == BW_EINVAL);
	CHECK(bw_bcd_encode_mbr_device(NULL, DEV_LEN, &n) == BW_EINVAL);
	CHECK(bw_bcd_encode_mbr_device(dev, DEV_LEN, NULL) == BW_EINVAL);
}

static void test_fix_bcd(void)
{
	const char *p = tpath("BCD");
	build_bcd(p);
	CHECK(build_failures == 0);
	const char *orig = tpath("BCD.orig");
	copy_file(p, orig);
	struct lines before = dump(p);
	uint32_t seq = hive_seq(p);
	struct bw_win_location o = { OLD_SIG, OLD_OFF }, n = { NEW_SIG, NEW_OFF };
	struct bw_win_report rep;
	struct bw_error err;
	CHECK(bw_win_fix_bcd(p, &o, &n, &rep, &err) == 0);
	CHECK_EQ_U64(rep.bcd_devices_patched, 5);
	/* locate, type 3, legacy, disk, REG_SZ, short, RAM-disk partition,
	 * RAM disks: path type 4, path past the end, locate parent,
	 * truncated. */
	CHECK_EQ_U64(rep.bcd_devices_unknown, 11);
	CHECK_EQ_U64(rep.values_set + rep.keys_created + rep.mounted_patched, 0);
	CHECK(hive_clean(p, seq + 1));
	CHECK(no_temp_files());

	/* Patched: only the identity bytes, to NEW. */
	static const struct {
		const char *obj, *id;
		size_t base;
	} patched[] = {
		{ GUID_BOOTMGR, "11000001", 0 }, { GUID_LOADER, "11000001", 0 },
		{ GUID_LOADER, "21000001", 0 }, { GUID_ODD, "21000010", 0 },
		{ GUID_RAM, "11000001", 0x34 },
	};
	struct lines rm = { 0 }, add = { 0 };
	for (size_t i = 0; i < sizeof patched / sizeof patched[0]; i++) {
		size_t la, lb;
		uint8_t *a = bcd_raw(orig, patched[i].obj, patched[i].id, &la);
		uint8_t *b = bcd_raw(p, patched[i].obj, patched[i].id, &lb);
		CHECK(a && b && la == lb &&
		      patched_only(a, b, la, patched[i].base));
		char *path = fmt("Objects\\%s\\Elements\\%s", patched[i].obj,
				 patched[i].id);
		if (a && b) {
			lines_add(&rm, L_raw(path, "Element", 3, a, la));
			lines_add(&add, L_raw(path, "Element", 3, b, lb));
		}
		free(path);
		free(a);
		free(b);
	}
	/* Nothing else changed anywhere: unknown, GPT, boot, other
	 * signatures, non-device elements are byte-identical. */
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);

	struct bw_bcd *b = NULL;
	CHECK(bw_bcd_load(p, "BCD", &b, &err) == 0);
	for (size_t i = 0; b && i < b->nobjects; i++)
		for (size_t j = 0; j < b->objects[i].ndevices; j++) {
			const struct bw_bcd_device *d = &b->objects[i].devices[j].dev;
			if (d->kind == BW_BCD_DEV_PARTITION_MBR &&
			    d->disk_signature == OLD_SIG)
				CHECK(d->part_offset != OLD_OFF);
		}
	bw_bcd_free(b);

	/* Again: nothing names OLD any more; the file stays as it is. */
	copy_file(p, tpath("BCD.copy"));
	CHECK(bw_win_fix_bcd(p, &o, &n, &rep, &err) == 0);
	CHECK_EQ_U64(rep.bcd_devices_patched, 0);
	CHECK_EQ_U64(rep.bcd_devices_unknown, 11);
	CHECK(same_file(p, tpath("BCD.copy")));
	/* OLD == NEW: nothing to write. */
	copy_file(orig, p);
	CHECK(bw_win_fix_bcd(p, &o, &o, &rep, &err) == 0);
	CHECK_EQ_U64(rep.bcd_devices_patched, 0);
	CHECK(same_file(p, orig));
	/* A report is optional. */
	CHECK(bw_win_fix_bcd(p, &o, &n, NULL, &err) == 0);

	/* Not a BCD store. */
	const char *q = tpath("SOFTWARE_NOTBCD");
	build_software(q, 1);
	copy_file(q, tpath("SOFTWARE_NOTBCD.copy"));
	CHECK(bw_win_fix_bcd(q, &o, &n, &rep, &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "no Objects key") != NULL);
	CHECK(same_file(q, tpath("SOFTWARE_NOTBCD.copy")));
}

static void test_fix_mounted(void)
{
	const char *p = tpath("SYSTEM_MD");
	build_system(p, 0);
	struct lines before = dump(p);
	uint32_t seq = hive_seq(p);
	struct bw_win_location o = { OLD_SIG, OLD_OFF }, n = { NEW_SIG, NEW_OFF };
	struct bw_win_report rep;
	struct bw_error err;
	CHECK(bw_win_fix_mounted_devices(p, &o, &n, &rep, &err) == 0);
	CHECK_EQ_U64(rep.mounted_patched, 3);
	CHECK(hive_clean(p, seq + 1));
	uint8_t a[12], b[12];
	mk_mounted(a, OLD_SIG, OLD_OFF);
	mk_mounted(b, NEW_SIG, NEW_OFF);
	struct lines rm = { 0 }, add = { 0 };
	static const char *const names[] = {
		"\\DosDevices\\C:",
		"\\??\\Volume{11111111-0000-0000-0000-100000000000}",
	};
	for (size_t i = 0; i < 2; i++) {
		lines_add(&rm, L_raw("MountedDevices", names[i], 3, a, 12));
		lines_add(&add, L_raw("MountedDevices", names[i], 3, b, 12));
	}
	const char *none = "\\??\\Volume{22222222-0000-0000-0000-100000000000}";
	lines_add(&rm, L_raw("MountedDevices", none, 0, a, 12));
	lines_add(&add, L_raw("MountedDevices", none, 0, b, 12));
	CHANGES_ARE(&before, p, &rm, &add);
	lines_free(&before);

	struct bw_system_facts f;
	CHECK(bw_system_read(p, "SYSTEM", &f, &err) == 0);
	size_t mbr_new = 0;
	for (size_t i = 0; i < f.nmounted; i++)
		if (f.mounted[i].is_mbr && f.mounted[i].disk_signature == NEW_SIG &&
		    f.mounted[i].part_offset == NEW_OFF)
			mbr_new++;
	CHECK_EQ_U64(mbr_new, 3);
	CHECK_EQ_U64(f.nmounted, 8);
	bw_system_facts_free(&f);

	/* Again, and a hive without MountedDevices: untouched. */
	copy_file(p, tpath("SYSTEM_MD.copy"));
	CHECK(bw_win_fix_mounted_devices(p, &o, &n, &rep, &err) == 0);
	CHECK_EQ_U64(rep.mounted_patched, 0);
	CHECK(same_file(p, tpath("SYSTEM_MD.copy")));
	p = tpath("SYSTEM_NOMD");
	build_system(p, SYS_NO_MOUNTED);
	copy_file(p, tpath("SYSTEM_NOMD.copy"));
	CHECK(bw_win_fix_mounted_devices(p, &o, &n, &rep, &err) == 0);
	CHECK_EQ_U64(rep.mounted_patched, 0);
	CHECK(same_file(p, tpath("SYSTEM_NOMD.copy")));
	CHECK(no_temp_files());
}

/* ---- main ---------------------------------------------------------------------------- */

static void remove_tmpdir(void)
{
	if (getenv("BW_KEEP_TMP")) {
		fprintf(stderr, "test_win_edit: files kept in %s\n", tmpdir);
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
	snprintf(tmpdir, sizeof tmpdir, "%s/test_win_edit.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_utf8();
	test_regutil_write();
	test_edit_software();
	test_edit_system_winrm();
	test_edit_system_hostname();
	test_dirty();
	test_reg_merge();
	test_reg_refused();
	test_reg_read_sizes();
	test_encode();
	test_fix_bcd();
	test_fix_mounted();
	CHECK(build_failures == 0);
	remove_tmpdir();
	return check_done("test_win_edit");
}

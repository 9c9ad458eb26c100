/*
 * sam_tool read SAM
 * sam_tool set SAM SYSTEM RID PASSWORD [--enable] [--salt HEX32] [--when UNIX]
 *
 * The SAM calls of win.h for the tests (the CLI's --admin-password comes
 * later): "read" prints one line per account, "RID NAME enabled=E
 * locked=L hash=REV has_nt=H", after "key=REV"; "set" sets the password
 * through bw_sam_set_password and prints its report.  Errors are one line
 * on stderr; the exit status is bw_exit_status's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/win.h"

static int fail(const struct bw_error *err, int code)
{
	fprintf(stderr, "sam_tool: %s\n", err->msg);
	return bw_exit_status(code);
}

static int hex16(const char *s, uint8_t out[16])
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bw_error err = { 0 };
	if (argc == 3 && strcmp(argv[1], "read") == 0) {
		struct bw_sam_info info;
		int ret = bw_sam_read(argv[2], NULL, &info, &err);
		if (ret)
			return fail(&err, ret);
		printf("key=%d\n", info.key_revision);
		for (size_t i = 0; i < info.naccounts; i++) {
			const struct bw_sam_account *a = &info.accounts[i];
			printf("%u %s enabled=%d locked=%d hash=%d has_nt=%d\n",
			       (unsigned)a->rid, a->name, a->enabled, a->locked,
			       a->hash_revision, a->has_nt_hash);
		}
		bw_sam_info_free(&info);
		return 0;
	}
	if (argc < 6 || strcmp(argv[1], "set") != 0) {
		fprintf(stderr, "usage: sam_tool read SAM\n"
			"       sam_tool set SAM SYSTEM RID PASSWORD [--enable] [--salt HEX32] [--when UNIX]\n");
		return 2;
	}
	uint8_t salt[16];
	struct bw_sam_password req = {
		.rid = (uint32_t)strtoul(argv[4], NULL, 0),
		.password = argv[5],
	};
	for (int i = 6; i < argc; i++) {
		if (strcmp(argv[i], "--enable") == 0) {
			req.enable = 1;
		} else if (strcmp(argv[i], "--salt") == 0 && i + 1 < argc &&
			   hex16(argv[i + 1], salt) == 0) {
			req.salt = salt;
			i++;
		} else if (strcmp(argv[i], "--when") == 0 && i + 1 < argc) {
			req.when = strtoull(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "sam_tool: bad option %s\n", argv[i]);
			return 2;
		}
	}
	struct bw_sam_report rep;
	int ret = bw_sam_set_password(argv[2], argv[3], &req, &rep, &err);
	if (ret)
		return fail(&err, ret);
	printf("key=%d old_hash=%d had_nt=%d resized=%d lm_cleared=%d was_enabled=%d enabled=%d\n",
	       rep.key_revision, rep.old_hash_revision, rep.had_nt_hash,
	       rep.entry_resized, rep.lm_cleared, rep.was_enabled, rep.enabled);
	return 0;
}

/* Error codes: text, exit statuses, message formatting and truncation. */
#include <string.h>

#include "boxwright/error.h"
#include "check.h"

int main(void)
{
	struct bw_error e;
	CHECK(bw_seterr(&e, BW_EFORMAT, "disk.vhd", "bad %s at %d", "thing", 7) == BW_EFORMAT);
	CHECK(e.code == BW_EFORMAT);
	CHECK(strcmp(e.msg, "disk.vhd: bad thing at 7") == 0);
	CHECK(bw_seterr(&e, BW_EIO, NULL, "plain") == BW_EIO);
	CHECK(strcmp(e.msg, "plain") == 0);
	CHECK(bw_seterr(NULL, BW_ENOMEM, "x", "y") == BW_ENOMEM);

	char longname[3000];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	bw_seterr(&e, BW_EIO, longname, "tail");
	CHECK(strlen(e.msg) == BW_ERROR_MSG_MAX - 1);

	CHECK_EQ_U64(bw_exit_status(BW_OK), 0);
	CHECK_EQ_U64(bw_exit_status(BW_EFORMAT), 3);
	CHECK_EQ_U64(bw_exit_status(BW_EUNSUPPORTED), 3);
	CHECK_EQ_U64(bw_exit_status(BW_EDIRTY), 3);
	CHECK_EQ_U64(bw_exit_status(BW_EINVAL), 2);
	CHECK_EQ_U64(bw_exit_status(BW_EIO), 1);
	CHECK_EQ_U64(bw_exit_status(BW_EGUEST), 1);
	for (int c = BW_EINTERRUPTED; c <= 0; c++)
		CHECK(strcmp(bw_strerror(c), "unknown error") != 0);
	CHECK(strcmp(bw_strerror(-999), "unknown error") == 0);
	/* Every code has a name (JSON output gives it), each its own. */
	for (int c = BW_EUSAGE; c <= 0; c++) {
		CHECK(strcmp(bw_errcode_name(c), "EUNKNOWN") != 0);
		for (int k = BW_EUSAGE; k < c; k++)
			CHECK(strcmp(bw_errcode_name(c), bw_errcode_name(k)) != 0);
	}
	CHECK(strcmp(bw_errcode_name(BW_EFORMAT), "EFORMAT") == 0);
	CHECK(strcmp(bw_errcode_name(-999), "EUNKNOWN") == 0);
	/* A refusal by design (BW_ENOTIMPL) is exit 1, not 3. */
	CHECK_EQ_U64(bw_exit_status(BW_ENOTIMPL), 1);
	bw_error_clear(&e);
	CHECK(e.code == 0 && e.msg[0] == '\0');
	return check_done("test_error");
}

/*
 * src/win/unattend.c on synthetic answer files: the well-formedness check
 * (line and libxml2's reason in the message; an external entity is never
 * read), and the Administrator's passwords an answer file sets, plaintext
 * and hidden.  The hidden values were computed independently with Python:
 * base64.b64encode((password + suffix).encode("utf-16-le")).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "boxwright/win.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" \
	"<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n"
#define SHELL "<settings pass=\"oobeSystem\"><component name=\"Microsoft-Windows-Shell-Setup\">\n"
#define TAIL "</component></settings>\n</unattend>\n"

static void test_check(void)
{
	struct bw_error err;
	static const char good[] = HEAD SHELL TAIL;
	CHECK(bw_unattend_check(good, strlen(good), "good.xml", &err) == 0);
	static const char bad[] = HEAD SHELL "<UserAccounts>\n</component></settings>\n</unattend>\n";
	CHECK(bw_unattend_check(bad, strlen(bad), "bad.xml", &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "bad.xml: line 5:") != NULL);
	CHECK(strstr(err.msg, "mismatch") != NULL);
	static const char text[] = "this is not XML\n";
	CHECK(bw_unattend_check(text, strlen(text), "t.xml", &err) == BW_EFORMAT);
	CHECK(strstr(err.msg, "t.xml: line 1:") != NULL);
	CHECK(bw_unattend_check("", 0, "empty.xml", &err) == BW_EFORMAT);
	/* An external entity is not read (no XML_PARSE_NOENT, no DTD load):
	 * the document is well-formed and the file's content never appears. */
	static const char ext[] = "<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE unattend [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
		"<unattend><AdministratorPassword><Value>&x;</Value>"
		"<PlainText>true</PlainText></AdministratorPassword></unattend>\n";
	CHECK(bw_unattend_check(ext, strlen(ext), "ext.xml", &err) == 0);
	struct bw_unattend_password pw[4];
	size_t n = 0;
	CHECK(bw_unattend_admin_passwords(ext, strlen(ext), "ext.xml", "root:x:0:0:root:/root:/bin/bash",
					  pw, 4, &n, &err) == 0);
	CHECK_EQ_U64(n, 1);
	CHECK(pw[0].same == 0);
	char *big = malloc(BW_UNATTEND_MAX_BYTES + 1);
	CHECK(big != NULL);
	if (big) {
		memset(big, ' ', BW_UNATTEND_MAX_BYTES + 1);
		CHECK(bw_unattend_check(big, BW_UNATTEND_MAX_BYTES + 1, "big.xml", &err) == BW_EINVAL);
		free(big);
	}
}

static size_t find(const char *xml, const char *password, struct bw_unattend_password *pw)
{
	struct bw_error err;
	size_t n = 99;
	int r = bw_unattend_admin_passwords(xml, strlen(xml), "u.xml", password, pw, 8, &n, &err);
	CHECK(r == 0);
	return r ? 0 : n;
}

static void test_passwords(void)
{
	struct bw_unattend_password pw[8];
	/* plaintext, and PlainText absent meaning true */
	static const char plain[] = HEAD SHELL
		"<UserAccounts><AdministratorPassword>\n<Value>Pass@word1</Value>\n"
		"<PlainText>true</PlainText></AdministratorPassword></UserAccounts>\n" TAIL;
	CHECK_EQ_U64(find(plain, "Pass@word1", pw), 1);
	CHECK(pw[0].same == 1 && pw[0].plaintext == 1);
	CHECK(pw[0].kind == BW_UNATTEND_ADMINISTRATOR_PASSWORD);
	CHECK(!strcmp(pw[0].pass, "oobeSystem"));
	CHECK_EQ_U64(pw[0].line, 5);
	CHECK_EQ_U64(find(plain, "vagrant", pw), 1);
	CHECK(pw[0].same == 0);
	/* hidden */
	static const char hidden[] = HEAD SHELL
		"<UserAccounts><AdministratorPassword>"
		"<Value>dgBhAGcAcgBhAG4AdABBAGQAbQBpAG4AaQBzAHQAcgBhAHQAbwByAFAAYQBzAHMAdwBvAHIAZAA=</Value>"
		"<PlainText>false</PlainText></AdministratorPassword></UserAccounts>\n" TAIL;
	CHECK_EQ_U64(find(hidden, "vagrant", pw), 1);
	CHECK(pw[0].same == 1 && pw[0].plaintext == 0);
	CHECK_EQ_U64(find(hidden, "Pass@word1", pw), 1);
	CHECK(pw[0].same == 0);
	CHECK_EQ_U64(find(hidden, "vagrantX", pw), 1);
	CHECK(pw[0].same == 0);
	/* non-ASCII */
	static const char umlaut[] = HEAD SHELL
		"<UserAccounts><AdministratorPassword>"
		"<Value>cADkAHMAcwB3APYAcgBkAEEAZABtAGkAbgBpAHMAdAByAGEAdABvAHIAUABhAHMAcwB3AG8AcgBkAA==</Value>"
		"<PlainText>False</PlainText></AdministratorPassword></UserAccounts>\n" TAIL;
	CHECK_EQ_U64(find(umlaut, "p\xc3\xa4sssw\xc3\xb6rd", pw), 1);
	CHECK(pw[0].same == 0);
	CHECK_EQ_U64(find(umlaut, "p\xc3\xa4ssw\xc3\xb6rd", pw), 1);
	CHECK(pw[0].same == 1);
	/* hidden without the suffix Setup appends, and not base64: cannot
	 * be compared */
	static const char nosuffix[] = HEAD SHELL
		"<UserAccounts><AdministratorPassword><Value>dgBhAGcAcgBhAG4AdAA=</Value>"
		"<PlainText>false</PlainText></AdministratorPassword></UserAccounts>\n" TAIL;
	CHECK_EQ_U64(find(nosuffix, "vagrant", pw), 1);
	CHECK(pw[0].same == -1);
	static const char notb64[] = HEAD SHELL
		"<UserAccounts><AdministratorPassword><Value>*** not base64 ***</Value>"
		"<PlainText>false</PlainText></AdministratorPassword></UserAccounts>\n" TAIL;
	CHECK_EQ_U64(find(notb64, "vagrant", pw), 1);
	CHECK(pw[0].same == -1);
	/* AutoLogon and a LocalAccount named Administrator (any case) count;
	 * another account does not */
	static const char more[] = HEAD SHELL
		"<AutoLogon><Username>administrator</Username><Enabled>true</Enabled>"
		"<Password><Value>dgBhAGcAcgBhAG4AdABQAGEAcwBzAHcAbwByAGQA</Value><PlainText>false</PlainText></Password></AutoLogon>\n"
		"<UserAccounts><LocalAccounts><LocalAccount><Name>vagrant</Name>"
		"<Password><Value>other</Value></Password></LocalAccount>"
		"<LocalAccount><Name>ADMINISTRATOR</Name><Password><Value>other</Value></Password></LocalAccount>"
		"</LocalAccounts></UserAccounts>\n" TAIL;
	CHECK_EQ_U64(find(more, "vagrant", pw), 2);
	CHECK(pw[0].kind == BW_UNATTEND_AUTOLOGON && pw[0].same == 1);
	CHECK(pw[1].kind == BW_UNATTEND_LOCAL_ACCOUNT && pw[1].same == 0);
	/* none */
	static const char none[] = HEAD SHELL "<ComputerName>x</ComputerName>\n" TAIL;
	CHECK_EQ_U64(find(none, "vagrant", pw), 0);
}

int main(void)
{
	test_check();
	test_passwords();
	return check_done("test_unattend");
}

/*
 * The SetupComplete.cmd that runs a first-boot PowerShell script
 * (--first-boot-ps1) on Nano Server, and the CRLF line endings both files
 * need.  DESIGN.md "Correctness rules" (SetupComplete.cmd runs once, at
 * the end of setup).
 *
 * How Nano runs a script, from images that work (mwrock/packer-templates,
 * scripts/SetupComplete.cmd and scripts/nano_cleanup.ps1, which build
 * Nano Vagrant boxes):
 *  - powershell.exe is C:\Windows\System32\WindowsPowerShell\v1.0\
 *    powershell.exe (PowerShell Core edition 5.1, Microsoft's "PowerShell
 *    on Nano Server"), and the script is dot-sourced with -Command
 *    (". c:\windows\setup\scripts\nano_cleanup.ps1"), not run with -File;
 *  - the script imports the modules it uses by full path first:
 *    ...\v1.0\Modules\Microsoft.PowerShell.Utility\
 *    Microsoft.PowerShell.Utility.psd1, ...\Microsoft.PowerShell.Management\
 *    Microsoft.PowerShell.Management.psd1 and ...\Storage\Storage.psd1
 *    (module autoloading is not to be relied on when setup runs it);
 *  - its output goes to a file beside it ("> ...\cleanup.txt").
 * Here the imports are done by the command line, in the session the
 * script is dot-sourced into, so a user's script needs no preamble; a
 * module the image lacks is a logged, non-terminating error.
 *
 * Quoting.  The script path sits in a PowerShell single-quoted string
 * inside cmd's double quotes, the log path in cmd's double quotes.  In a
 * batch file cmd expands %...% even inside quotes (so % is doubled), and
 * treats & | < > ^ literally inside them.  PowerShell's single-quoted
 * string has one special character, ' (doubled).  What cannot be quoted
 * so is refused: ", control characters, characters Windows does not allow
 * in file names, and anything not ASCII (cmd.exe reads a batch file in
 * the OEM code page, so UTF-8 would arrive mangled).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win/win_internal.h"

#define PS_HOME "C:\\Windows\\System32\\WindowsPowerShell\\v1.0"
#define PS_EXE PS_HOME "\\powershell.exe"
#define PS_MODULE(name) PS_HOME "\\Modules\\" name "\\" name ".psd1"

/* Windows' MAX_PATH, NUL included: longer paths need \\?\ forms that
 * neither cmd nor Import-Module take here. */
#define FIRSTBOOT_MAX_PATH 260

static const char *const firstboot_modules[] = {
	PS_MODULE("Microsoft.PowerShell.Utility"),
	PS_MODULE("Microsoft.PowerShell.Management"),
	PS_MODULE("Storage"),
};

int bw_win_to_crlf(const char *text, size_t len, char **out, size_t *out_len,
		   struct bw_error *err)
{
	*out = NULL;
	*out_len = 0;
	size_t extra = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			extra++;
	/* LEN + EXTRA + 1 cannot wrap: EXTRA <= LEN, and LEN is the size
	 * of an object in memory, so at most SIZE_MAX / 2 is refused. */
	if (len > (SIZE_MAX - 1) / 2)
		return bw_seterr(err, BW_EINVAL, NULL, "text of %zu bytes too large",
				 len);
	char *crlf = malloc(len + extra + 1);
	if (!crlf)
		return bw_seterr(err, BW_ENOMEM, NULL, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			crlf[k++] = '\r';
		crlf[k++] = text[i];
	}
	crlf[k] = '\0';
	*out = crlf;
	*out_len = k;
	return 0;
}

/*
 * Is PATH a drive-absolute Windows file path we can quote (see the head
 * of the file)?  WHAT names it in the message.  0 or BW_EINVAL.
 */
static int check_winpath(const char *path, const char *what,
			 struct bw_error *err)
{
	if (!path || !*path)
		return bw_seterr(err, BW_EINVAL, NULL, "%s: no path given", what);
	size_t n = strlen(path);
	if (n >= FIRSTBOOT_MAX_PATH)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "%s: %zu characters (at most %d)", what, n,
				 FIRSTBOOT_MAX_PATH - 1);
	if (n < 4 || !((path[0] >= 'A' && path[0] <= 'Z') ||
		       (path[0] >= 'a' && path[0] <= 'z')) ||
	    path[1] != ':' || path[2] != '\\')
		return bw_seterr(err, BW_EINVAL, NULL,
				 "%s \"%.80s\": expected a full path such as C:\\Windows\\Setup\\Scripts\\x",
				 what, path);
	if (path[n - 1] == '\\' || strstr(path, "\\\\"))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "%s \"%.80s\": an empty path component", what,
				 path);
	for (size_t i = 3; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c < 0x20 || c >= 0x7F)
			return bw_seterr(err, BW_EINVAL, NULL,
					 "%s: byte 0x%02x at %zu: only printable ASCII can be quoted in SetupComplete.cmd",
					 what, c, i);
		if (strchr("\"<>:|?*/[]", c))
			return bw_seterr(err, BW_EINVAL, NULL,
					 "%s \"%.80s\": '%c' cannot be used in it",
					 what, path, c);
	}
	return 0;
}

/* A growing text buffer; on failure BAD is set and the text dropped. */
struct cmd_buf {
	char *p;
	size_t len, cap;
	int bad;
};

static void put(struct cmd_buf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 1024;
		while (n > cap - b->len) {
			if (cap > SIZE_MAX / 2) {
				b->bad = 1;
				return;
			}
			cap *= 2;
		}
		char *grown = realloc(b->p, cap);
		if (!grown) {
			b->bad = 1;
			return;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct cmd_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* S for a batch file: % doubled; for a PowerShell single-quoted string
 * too when PS (' doubled). */
static void put_quoted(struct cmd_buf *b, const char *s, int ps)
{
	for (; *s; s++) {
		if (*s == '%')
			puts_(b, "%%");
		else if (ps && *s == '\'')
			puts_(b, "''");
		else
			put(b, s, 1);
	}
}

int bw_win_first_boot_cmd(const char *ps1_winpath, const char *log_winpath,
			  char **cmd_text, size_t *len, struct bw_error *err)
{
	*cmd_text = NULL;
	*len = 0;
	int ret = check_winpath(ps1_winpath, "first-boot script", err);
	if (ret)
		return ret;
	char log[FIRSTBOOT_MAX_PATH + 4];
	if (!log_winpath) {
		/* Beside the script: its name with .log for .ps1. */
		size_t n = strlen(ps1_winpath);
		if (n > 4 && win_name_eq(ps1_winpath + n - 4, ".ps1"))
			n -= 4;
		snprintf(log, sizeof log, "%.*s.log", (int)n, ps1_winpath);
		log_winpath = log;
	}
	ret = check_winpath(log_winpath, "first-boot log", err);
	if (ret)
		return ret;

	struct cmd_buf b = { 0 };
	puts_(&b, "@echo off\r\n"
		  "rem Written by boxwright (--first-boot-ps1): Windows setup runs this once, at its end.\r\n"
		  "rem Nano's PowerShell: the modules imported by full path, the script dot-sourced (no -File).\r\n");
	puts_(&b, PS_EXE " -NoProfile -ExecutionPolicy Bypass -Command \"");
	for (size_t i = 0; i < sizeof firstboot_modules / sizeof firstboot_modules[0]; i++) {
		puts_(&b, "Import-Module '");
		puts_(&b, firstboot_modules[i]);
		puts_(&b, "'; ");
	}
	puts_(&b, ". '");
	put_quoted(&b, ps1_winpath, 1);
	puts_(&b, "'\" > \"");
	put_quoted(&b, log_winpath, 0);
	puts_(&b, "\" 2>&1\r\n"
		  "echo first-boot script exit code %ERRORLEVEL% >> \"");
	put_quoted(&b, log_winpath, 0);
	puts_(&b, "\"\r\n");
	put(&b, "", 1);                 /* the NUL, not counted in LEN */
	if (b.bad) {
		free(b.p);
		return bw_seterr(err, BW_ENOMEM, NULL, "out of memory");
	}
	*cmd_text = b.p;
	*len = b.len - 1;
	return 0;
}

/*
 * Checks of the options that several jobs share, run before any I/O on
 * the image: a binding gets the same refusals the command line does.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/utf16.h"
#include "job/job_internal.h"

int job_check_backend(const struct bw_backend_opts *bo, struct bw_error *err)
{
	if (bo->kind != BW_GUEST_DEFAULT && bo->kind != BW_GUEST_NATIVE &&
	    bo->kind != BW_GUEST_GUESTFS)
		return bw_seterr(err, BW_EUSAGE, NULL, "backend %d: expected native or guestfs",
				 (int)bo->kind);
	if (!bw_guest_have(bo->kind))
		return bw_seterr(err, BW_EUSAGE, NULL,
				 "the %s backend is not built into this boxwright (configure did not find %s)",
				 bw_guest_kind_name(bo->kind),
				 bo->kind == BW_GUEST_GUESTFS ? "libguestfs" : "libntfs-3g");
	return 0;
}

static int readable_file(const char *path, const char *what, struct bw_error *err)
{
	struct stat st;
	if (!path || !*path)
		return bw_seterr(err, BW_EUSAGE, NULL, "%s: no file named", what);
	if (stat(path, &st) != 0)
		return bw_seterr(err, BW_EUSAGE, path, "%s: %s", what, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bw_seterr(err, BW_EUSAGE, path, "%s: not a regular file", what);
	if (access(path, R_OK) != 0)
		return bw_seterr(err, BW_EUSAGE, path, "%s: %s", what, strerror(errno));
	return 0;
}

/* --unattend FILE must be well-formed XML: Windows Setup would stop on
 * it at first boot, long after the build said it was done. */
static int check_unattend(const char *path, struct bw_error *err)
{
	int r = readable_file(path, "--unattend", err);
	if (r)
		return r;
	FILE *f = fopen(path, "rb");
	if (!f)
		return bw_seterr(err, BW_EUSAGE, path, "--unattend: %s", strerror(errno));
	char *buf = malloc(BW_UNATTEND_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, BW_UNATTEND_MAX_BYTES + 1, f) : 0;
	int bad = !buf || ferror(f);
	fclose(f);
	struct bw_error xerr;
	if (bad)
		r = bw_seterr(err, BW_EUSAGE, path, "--unattend: cannot read it");
	else if (bw_unattend_check(buf, n, path, &xerr) != 0)
		r = bw_seterr(err, BW_EUSAGE, NULL, "--unattend %s", xerr.msg);
	free(buf);
	return r;
}

int job_edits_any(const struct bw_edits *ed)
{
	return ed->winrm || ed->setup_complete || ed->unattend || ed->hostname ||
	       ed->ncopy || ed->nreg || ed->admin_password || ed->first_boot_ps1;
}

int job_check_edits(const struct bw_edits *ed, int require, struct bw_error *err)
{
	if (ed->ncopy > BW_EDITS_MAX_LIST || ed->nreg > BW_EDITS_MAX_LIST)
		return bw_seterr(err, BW_EUSAGE, NULL, "at most %d --copy-in and --reg each",
				 BW_EDITS_MAX_LIST);
	if ((ed->ncopy && !ed->copy_in) || (ed->nreg && !ed->reg))
		return bw_seterr(err, BW_EUSAGE, NULL, "edit lists given without their items");
	if (require && !job_edits_any(ed))
		return bw_seterr(err, BW_EUSAGE, NULL,
				 "no edit given (--winrm, --setup-complete, --first-boot-ps1, --unattend, --copy-in, --reg, --hostname, --admin-password)");
	if (ed->admin_password) {
		size_t n = strlen(ed->admin_password);
		if (n == 0 || n > BW_SAM_MAX_PASSWORD || !bw_utf8_valid(ed->admin_password, n, NULL))
			return bw_seterr(err, BW_EUSAGE, NULL,
					 "--admin-password: expected 1 to %d bytes of UTF-8 text",
					 BW_SAM_MAX_PASSWORD);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)ed->admin_password[i] < 0x20 || ed->admin_password[i] == 0x7f)
				return bw_seterr(err, BW_EUSAGE, NULL,
						 "--admin-password: control characters are not allowed");
	}
	if (ed->hostname && bw_win_hostname_check(ed->hostname, err) != 0) {
		err->code = BW_EUSAGE;
		return BW_EUSAGE;
	}
	int r;
	if (ed->setup_complete && (r = readable_file(ed->setup_complete, "--setup-complete", err)))
		return r;
	if (ed->unattend && (r = check_unattend(ed->unattend, err)))
		return r;
	if (ed->first_boot_ps1 && (r = readable_file(ed->first_boot_ps1, "--first-boot-ps1", err)))
		return r;
	for (size_t i = 0; i < ed->nreg; i++)
		if ((r = readable_file(ed->reg[i], "--reg", err)))
			return r;
	for (size_t i = 0; i < ed->ncopy; i++) {
		const char *spec = ed->copy_in[i];
		const char *colon = spec ? strchr(spec, ':') : NULL;
		if (!colon || colon == spec || !colon[1])
			return bw_seterr(err, BW_EUSAGE, NULL, "--copy-in '%s': expected LOCAL:GUESTDIR",
					 spec ? spec : "");
		char local[4096];
		if ((size_t)(colon - spec) >= sizeof local)
			return bw_seterr(err, BW_EUSAGE, NULL, "--copy-in: the local path is too long");
		snprintf(local, sizeof local, "%.*s", (int)(colon - spec), spec);
		if ((r = readable_file(local, "--copy-in", err)))
			return r;
	}
	return 0;
}

int job_check_not_input(const char *in, const char *out, const char *what,
			struct bw_error *err)
{
	struct stat sin, sout;
	if (stat(in, &sin) == 0 && stat(out, &sout) == 0 &&
	    sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino)
		return bw_seterr(err, BW_EUSAGE, out, "%s", what);
	return 0;
}

int job_check_output(const char *out, struct bw_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(out, '/');
	if (!*out || (slash && !slash[1]))
		return bw_seterr(err, BW_EUSAGE, out, "the output must name a file");
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", slash == out ? 1 : (int)(slash - out), out);
	else
		snprintf(dir, sizeof dir, ".");
	struct stat st;
	if (stat(dir, &st) != 0)
		return bw_seterr(err, BW_EUSAGE, out, "cannot write there: directory %s: %s", dir,
				 strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return bw_seterr(err, BW_EUSAGE, out, "cannot write there: %s is not a directory", dir);
	if (access(dir, W_OK | X_OK) != 0)
		return bw_seterr(err, BW_EUSAGE, out, "cannot write there: directory %s: %s", dir,
				 strerror(errno));
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return bw_seterr(err, BW_EUSAGE, out, "is a directory: name the file to write");
	return 0;
}

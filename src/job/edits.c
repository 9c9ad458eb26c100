/*
 * The edit session that patch and build share: copy the NTFS volumes'
 * used clusters to working files, start one read-write guest session,
 * find the Windows volume, edit its hives on the host with hivex (and fix
 * the boot chain when the partition moves), then put the files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/derive.h"
#include "job/job_internal.h"

#define SETUP_COMPLETE_DIR "\\Windows\\Setup\\Scripts"
#define SETUP_COMPLETE_PATH SETUP_COMPLETE_DIR "\\SetupComplete.cmd"
#define USER_SETUP_PATH SETUP_COMPLETE_DIR "\\boxwright-setup-complete.cmd"
#define FIRST_BOOT_PS1 SETUP_COMPLETE_DIR "\\first-boot.ps1"
#define FIRST_BOOT_LOG SETUP_COMPLETE_DIR "\\first-boot.log"
#define UNATTEND_DIR "\\Windows\\Panther"
#define UNATTEND_PATH UNATTEND_DIR "\\unattend.xml"
#define SAM_PATH "\\Windows\\System32\\config\\SAM"
#define BCD_PATH "\\Boot\\BCD"
/* A SetupComplete.cmd is a script, not a payload: cap what we read. */
#define SETUP_COMPLETE_MAX (16u << 20)

static int read_local(const char *path, size_t max, char **data, size_t *len,
		      struct bw_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return bw_seterr(err, BW_EIO, path, "cannot open: %s", strerror(errno));
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	int bad = !buf || ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return bw_seterr(err, BW_EIO, path, "cannot read");
	}
	if (n > max) {
		free(buf);
		return bw_seterr(err, BW_EINVAL, path, "larger than %zu bytes", max);
	}
	*data = buf;
	*len = n;
	return 0;
}

/* LOCAL's text in CRLF: 0 or a code. */
static int read_crlf(const char *local, char **out, size_t *outlen, struct bw_error *err)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_local(local, SETUP_COMPLETE_MAX, &data, &len, err);
	if (r == 0)
		r = bw_win_to_crlf(data, len, out, outlen, err);
	free(data);
	return r;
}

/*
 * \Windows\Setup\Scripts: SetupComplete.cmd (the user's, as given), or
 * with --first-boot-ps1 the script, and a SetupComplete.cmd that runs it
 * (bw_win_first_boot_cmd) after calling the user's own, kept beside it as
 * boxwright-setup-complete.cmd.
 */
static int put_setup_scripts(struct bw_guest *g, const struct bw_edits *ed,
			     unsigned *files, struct bw_error *err)
{
	char *user = NULL, *ps1 = NULL, *wrap = NULL, *all = NULL;
	size_t ulen = 0, plen = 0, wlen = 0;
	int r = bw_guest_mkdir_p(g, SETUP_COMPLETE_DIR, err);
	if (r == 0 && ed->setup_complete)
		r = read_crlf(ed->setup_complete, &user, &ulen, err);
	if (r == 0 && !ed->first_boot_ps1) {
		r = bw_guest_write(g, SETUP_COMPLETE_PATH, user, ulen, err);
		*files += r == 0;
		goto out;
	}
	if (r == 0)
		r = read_crlf(ed->first_boot_ps1, &ps1, &plen, err);
	if (r == 0)
		r = bw_guest_write(g, FIRST_BOOT_PS1, ps1, plen, err);
	if (r == 0)
		r = bw_win_first_boot_cmd("C:" FIRST_BOOT_PS1, "C:" FIRST_BOOT_LOG, &wrap, &wlen, err);
	if (r == 0 && user) {
		/* after the wrapper's first line (@echo off) */
		r = bw_guest_write(g, USER_SETUP_PATH, user, ulen, err);
		static const char call[] = "call \"%~dp0boxwright-setup-complete.cmd\"\r\n";
		const char *nl = memchr(wrap, '\n', wlen);
		size_t head = nl ? (size_t)(nl - wrap) + 1 : 0;
		all = malloc(sizeof call + wlen);
		if (r == 0 && !all)
			r = bw_seterr(err, BW_ENOMEM, ed->first_boot_ps1, "out of memory");
		if (r == 0) {
			memcpy(all, wrap, head);
			memcpy(all + head, call, sizeof call - 1);
			memcpy(all + head + sizeof call - 1, wrap + head, wlen - head);
			wlen += sizeof call - 1;
		}
	}
	if (r == 0)
		r = bw_guest_write(g, SETUP_COMPLETE_PATH, all ? all : wrap, wlen, err);
	*files += r == 0 ? (user ? 3 : 2) : 0;
out:
	free(user);
	free(ps1);
	free(wrap);
	free(all);
	return r;
}

static int put_copy_in(struct bw_guest *g, const char *spec, struct bw_error *err)
{
	const char *colon = strchr(spec, ':');
	char local[4096], dest[4096];
	snprintf(local, sizeof local, "%.*s", (int)(colon - spec), spec);
	const char *dir = colon + 1;
	const char *base = strrchr(local, '/');
	base = base ? base + 1 : local;
	size_t dl = strlen(dir);
	if ((size_t)snprintf(dest, sizeof dest, "%s%s%s", dir,
			     dl && (dir[dl - 1] == '\\' || dir[dl - 1] == '/') ? "" : "\\",
			     base) >= sizeof dest)
		return bw_seterr(err, BW_EINVAL, local, "--copy-in destination path too long");
	int r = bw_guest_mkdir_p(g, dir, err);
	if (r == 0)
		r = bw_guest_upload(g, local, dest, err);
	return r;
}

/* Refuse a volume whose state ntfs-3g (or Windows) would not accept. */
static int check_volumes(const struct bw_image_model *m, struct bw_error *err)
{
	for (int i = 0; i < m->nvols; i++) {
		const struct bw_image_volume *v = &m->vols[i];
		if (!v->is_ntfs)
			continue;
		if (v->st.logfile == BW_NTFS_LOG_UNCLEAN)
			return bw_seterr(err, BW_EUNSUPPORTED, m->file,
					 "NTFS volume at offset %llu: $LogFile is not clean (Windows was not shut down cleanly): boot it and shut it down first",
					 (unsigned long long)v->offset);
		if (v->hibernated == 1)
			return bw_seterr(err, BW_EUNSUPPORTED, m->file,
					 "NTFS volume at offset %llu: Windows is hibernated on it (hiberfil.sys): resume and shut it down first",
					 (unsigned long long)v->offset);
	}
	return 0;
}

/* Both hives are checked before either is changed. */
static int check_hives(const char *sys, const char *sw, struct bw_error *err)
{
	struct bw_hive_header h;
	const char *names[2] = { "SYSTEM", "SOFTWARE" }, *paths[2] = { sys, sw };
	for (int i = 0; i < 2; i++) {
		int r = bw_hive_check_file(paths[i], names[i], &h, err);
		if (r)
			return r;
		if (h.dirty)
			return bw_seterr(err, BW_EDIRTY, names[i],
					 "the %s hive is dirty (%s): its transaction logs must be replayed first -- boot Windows once; nothing was written",
					 names[i],
					 h.checksum_stored != h.checksum_computed ? "base block checksum wrong"
										  : "sequence numbers differ");
	}
	return 0;
}

/* Also Setup\UnattendFile, malloc'd into *UNATTEND_FILE when set. */
static void read_system_facts(const char *sys, struct bw_edit_result *res, char **unattend_file)
{
	struct bw_system_facts f;
	struct bw_error ignored;
	res->setup_pending = -1;
	res->has_ide = res->has_nic = -1;
	res->booted_uuid[0] = '\0';
	if (bw_system_read(sys, "SYSTEM", &f, &ignored) == 0) {
		res->setup_pending = f.setup_in_progress > 0;
		if (bw_system_hardware_uuid(&f, res->booted_uuid) != 0)
			res->booted_uuid[0] = '\0';
		if (f.setup_unattend_file && f.setup_unattend_file[0])
			*unattend_file = strdup(f.setup_unattend_file);
		bw_system_facts_free(&f);
	}
}

/* The storage and NIC drivers of SYSTEM as edited (a .reg may have added
 * or disabled some); their files are looked for after the file edits. */
static void read_drivers(const char *sys, struct bw_edit_result *res)
{
	struct bw_system_facts f;
	struct bw_error ignored;
	res->drivers_read = 0;
	if (bw_system_read(sys, "SYSTEM", &f, &ignored) == 0) {
		memcpy(res->drivers, f.drivers, sizeof res->drivers);
		res->drivers_read = 1;
		bw_system_facts_free(&f);
	}
}

/* Does SOFTWARE (as edited) allow what a plaintext, basic-auth Vagrant
 * login needs? */
static void read_winrm(const char *sw, struct bw_edit_result *res)
{
	struct bw_software_facts f;
	struct bw_error ignored;
	res->winrm_allowed = -1;
	if (bw_software_read(sw, "SOFTWARE", &f, &ignored) == 0) {
		res->winrm_allowed = f.wsman_allow_unencrypted == 1 && f.wsman_service_auth_basic == 1;
		bw_software_facts_free(&f);
	}
}

/* The boot chain names partitions by (signature, offset): the BCD on the
 * boot volume, MountedDevices in SYSTEM (of the current, Windows,
 * volume).  Each moved partition is one pass over both. */
static int fix_boot_chain(struct bw_guest *g, struct bw_image *im, struct job_work *w,
			  const char *sys, const struct job_fixups *fx,
			  struct bw_edit_result *res, struct bw_error *err)
{
	/* A pass must not find what an earlier one wrote. */
	for (size_t i = 0; i < fx->nmoves; i++)
		for (size_t k = 0; k < fx->nmoves; k++)
			if (i != k && fx->new_loc[i].disk_signature == fx->old_loc[k].disk_signature &&
			    fx->new_loc[i].part_offset == fx->old_loc[k].part_offset)
				return bw_seterr(err, BW_EUNSUPPORTED, im->m.file,
						 "a partition would move to where another one was (offset %llu): the boot chain cannot be fixed",
						 (unsigned long long)fx->new_loc[i].part_offset);
	const char *bcd;
	int win_idx = im->guest_idx[im->m.win_vol], bcd_idx = im->guest_idx[fx->bcd_vol];
	int r = work_path(w, "BCD.edit", &bcd, err);
	if (r == 0 && bcd_idx != win_idx)
		r = bw_guest_use(g, (size_t)bcd_idx, err);
	if (r == 0)
		r = bw_guest_download(g, BCD_PATH, bcd, err);
	struct bw_win_report rep;
	for (size_t i = 0; r == 0 && i < fx->nmoves; i++) {
		r = bw_win_fix_bcd(bcd, &fx->old_loc[i], &fx->new_loc[i], &rep, err);
		res->bcd.bcd_devices_patched += rep.bcd_devices_patched;
		/* every pass meets the same undecodable devices */
		if (rep.bcd_devices_unknown > res->bcd.bcd_devices_unknown)
			res->bcd.bcd_devices_unknown = rep.bcd_devices_unknown;
	}
	if (r == 0)
		r = bw_guest_upload(g, bcd, BCD_PATH, err);
	if (r == 0 && bcd_idx != win_idx)
		r = bw_guest_use(g, (size_t)win_idx, err);
	for (size_t i = 0; r == 0 && i < fx->nmoves; i++) {
		r = bw_win_fix_mounted_devices(sys, &fx->old_loc[i], &fx->new_loc[i], &rep, err);
		res->mounted.mounted_patched += rep.mounted_patched;
	}
	return r;
}

/*
 * Messages of the hive code name the file it was given: the job's working
 * copy, at the start or after a .reg file's "FILE:LINE: ".  Say which
 * hive of which image it is instead: no internal path reaches the user.
 */
static int relabel(int r, struct bw_error *err, const char *local, const char *image,
		   const char *winpath)
{
	const char *at = r ? strstr(err->msg, local) : NULL;
	if (!at)
		return r;
	char head[BW_ERROR_MSG_MAX], rest[BW_ERROR_MSG_MAX];
	snprintf(head, sizeof head, "%.*s", (int)(at - err->msg), err->msg);
	snprintf(rest, sizeof rest, "%s", at + strlen(local));
	return bw_seterr(err, r, NULL, "%s%s: %s%s", head, image, winpath, rest);
}

/* The Administrator's password in the SAM; SYSTEM (as edited) gives the
 * boot key that opens it. */
static int set_admin_password(struct bw_guest *g, struct job_work *w, const char *image,
			      const char *sys, const char *password, const struct job_repro *rp,
			      struct bw_edit_result *res, struct bw_error *err)
{
	const char *sam;
	int r = work_path(w, "SAM.edit", &sam, err);
	if (r == 0)
		r = bw_guest_download(g, SAM_PATH, sam, err);
	if (r == BW_ENOTFOUND)
		return bw_seterr(err, BW_EUNSUPPORTED, image,
				 "%s: no SAM hive: --admin-password cannot be set offline", SAM_PATH);
	if (r)
		return r;
	struct bw_sam_password req = { .rid = BW_SAM_RID_ADMINISTRATOR, .password = password,
				       .enable = 1 };
	uint8_t salt[16];
	if (rp && rp->on) {
		bw_derive_bytes(rp->seed, "sam-salt", salt, sizeof salt);
		req.salt = salt;
		req.when = (uint64_t)rp->epoch;
		req.when_set = 1;
	}
	struct bw_sam_report rep;
	r = bw_sam_set_password(sam, sys, &req, &rep, err);
	/* A SAM or boot key that is not there is the image's lack, not a
	 * failure of ours. */
	if (r == BW_ENOTFOUND)
		err->code = r = BW_EUNSUPPORTED;
	r = relabel(relabel(r, err, sam, image, SAM_PATH), err, sys, image, SYSTEM_PATH);
	if (r == 0)
		r = bw_guest_upload(g, sam, SAM_PATH, err);
	if (r == 0) {
		res->admin_password_set = 1;
		res->sam_key_revision = rep.key_revision;
	}
	return r;
}

static int hive_edits(struct bw_guest *g, struct bw_image *im, struct job_work *w,
		      const char *sys, const char *sw, const struct bw_edits *ed,
		      const struct job_fixups *fx, const struct job_repro *rp,
		      struct bw_edit_result *res, char **unattend_file, struct bw_error *err);

static int hive_step(struct bw_guest *g, struct bw_image *im, struct job_work *w,
		     const struct bw_edits *ed, const struct job_fixups *fx,
		     const struct job_repro *rp, struct bw_edit_result *res,
		     char **unattend_file, struct bw_error *err)
{
	const char *sys, *sw;
	int r = work_path(w, "SYSTEM.edit", &sys, err);
	if (r == 0)
		r = work_path(w, "SOFTWARE.edit", &sw, err);
	if (r == 0)
		r = bw_guest_download(g, SYSTEM_PATH, sys, err);
	if (r == 0)
		r = bw_guest_download(g, SOFTWARE_PATH, sw, err);
	if (r == 0)
		r = check_hives(sys, sw, err);
	if (r)
		return r;
	r = hive_edits(g, im, w, sys, sw, ed, fx, rp, res, unattend_file, err);
	return relabel(relabel(r, err, sys, im->m.file, SYSTEM_PATH), err, sw, im->m.file,
		       SOFTWARE_PATH);
}

static int hive_edits(struct bw_guest *g, struct bw_image *im, struct job_work *w,
		      const char *sys, const char *sw, const struct bw_edits *ed,
		      const struct job_fixups *fx, const struct job_repro *rp,
		      struct bw_edit_result *res, char **unattend_file, struct bw_error *err)
{
	const char *image = im->m.file;
	int r;
	read_system_facts(sys, res, unattend_file);
	/* First the edit most likely to be refused (a SAM we do not
	 * understand), before anything is uploaded. */
	if (ed->admin_password && (r = set_admin_password(g, w, image, sys, ed->admin_password, rp, res, err)) != 0)
		return r;
	int moved = fx && fx->nmoves > 0;
	if (moved && (r = fix_boot_chain(g, im, w, sys, fx, res, err)) != 0)
		return r;
	if (ed->winrm || ed->hostname || ed->nreg) {
		struct bw_win_edits we = { .winrm = ed->winrm, .hostname = ed->hostname,
					   .reg_files = ed->reg,
					   .nreg_files = ed->nreg };
		r = bw_win_edit_system(sys, &we, &res->system, err);
		if (r == 0)
			r = bw_win_edit_software(sw, &we, &res->software, err);
		if (r == 0)
			r = bw_guest_upload(g, sw, SOFTWARE_PATH, err);
		if (r)
			return r;
	}
	read_winrm(sw, res);
	read_drivers(sys, res);
	if (!moved && !ed->winrm && !ed->hostname && !ed->nreg)
		return 0;
	return bw_guest_upload(g, sys, SYSTEM_PATH, err);
}

/*
 * The answer files Windows Setup would find on the Windows volume, in its
 * implicit search order ("Windows Setup Automation Overview", Implicit
 * answer file search order, learn.microsoft.com/windows-hardware/
 * manufacture/desktop/windows-setup-automation-overview): 2.
 * %WINDIR%\Panther\Unattend, 3. %WINDIR%\Panther (Unattend.xml or
 * Autounattend.xml), 6. %WINDIR%\System32\Sysprep (Unattend.xml, passes
 * after windowsPE), 7. %SYSTEMDRIVE% (Unattend.xml or Autounattend.xml).
 * 1 (the registry's HKLM\System\Setup!UnattendFile) names a file of any
 * path, 4 and 5 are removable media, not in the image.  Names are matched
 * in any letter case (the guest resolves them so).
 */
static const char *const unattend_search[] = {
	"\\Windows\\Panther\\Unattend\\Unattend.xml",
	"\\Windows\\Panther\\Unattend\\Autounattend.xml",
	"\\Windows\\Panther\\Unattend.xml",
	"\\Windows\\Panther\\Autounattend.xml",
	"\\Windows\\System32\\Sysprep\\Unattend.xml",
	"\\Unattend.xml",
	"\\Autounattend.xml",
};

/*
 * --admin-password writes the SAM, but Setup applies an answer file's
 * AdministratorPassword at first boot, over it: warn for each answer file
 * (the image's own, or the one --unattend just put) that sets another
 * password, or one that cannot be compared.  Read after every file was
 * put, from the volume, through the guest: both backends see the same.
 * REG_FILE: SYSTEM's Setup\UnattendFile, or NULL.  A file that is not
 * well-formed is a warning too (Setup would stop on it).  Returns 0, or
 * the guest's codes (BW_EGUEST, BW_EIO), BW_ENOMEM.
 */
/*
 * Setup\UnattendFile (search order 1) as a path on the Windows volume:
 * "C:\x.xml", "%SystemDrive%\x.xml", "%WINDIR%\x.xml" (or %SystemRoot%).
 * NULL for what the volume does not hold (a UNC path, a relative one).
 */
static const char *registry_unattend(const char *value, char *buf, size_t n)
{
	static const struct { const char *prefix, *is; } vars[] = {
		{ "%SystemDrive%", "" }, { "%WINDIR%", "\\Windows" }, { "%SystemRoot%", "\\Windows" },
	};
	if (!value)
		return NULL;
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		size_t k = strlen(vars[i].prefix);
		if (!strncasecmp(value, vars[i].prefix, k) && value[k] == '\\') {
			snprintf(buf, n, "%s%s", vars[i].is, value + k);
			return buf;
		}
	}
	if (((value[0] | 0x20) >= 'a' && (value[0] | 0x20) <= 'z') && value[1] == ':' &&
	    value[2] == '\\') {
		snprintf(buf, n, "%s", value + 2);
		return buf;
	}
	return NULL;
}

static int check_unattend_passwords(struct bw_guest *g, const char *image, const char *password,
				    int setup_pending, const char *reg_file, struct job_work *w,
				    struct bw_error *err)
{
	const char *when = setup_pending == 0
		? " (setup has completed on this image: it applies if setup runs again, e.g. after sysprep)"
		: "";
	char regbuf[1024], reg_real[1024] = "";
	const char *reg_path = registry_unattend(reg_file, regbuf, sizeof regbuf);
	size_t nsearch = sizeof unattend_search / sizeof unattend_search[0];
	for (size_t i = 0; i < nsearch + 1; i++) {
		char *real = NULL, *data = NULL;
		size_t len = 0;
		/* The registry's file first, as Setup looks at it first. */
		const char *want = i == 0 ? reg_path : unattend_search[i - 1];
		if (!want)
			continue;
		int r = bw_guest_resolve(g, want, &real, err);
		if (r == BW_ENOTFOUND)
			continue;
		/* The registry may name one of the files searched after it. */
		if (r == 0 && i > 0 && !strcmp(real, reg_real)) {
			free(real);
			continue;
		}
		if (r == 0 && i == 0)
			snprintf(reg_real, sizeof reg_real, "%s", real);
		if (r == 0)
			r = bw_guest_read(g, real, BW_UNATTEND_MAX_BYTES + 1, &data, &len, err);
		if (r) {
			free(real);
			return r;
		}
		/* Say it as Windows does, in the file's own letter case. */
		char path[512];
		snprintf(path, sizeof path, "%s", real);
		free(real);
		for (char *c = path; *c; c++)
			if (*c == '/')
				*c = '\\';
		struct bw_unattend_password pw[BW_UNATTEND_MAX_PASSWORDS];
		size_t n = 0;
		struct bw_error xerr;
		char label[600];
		snprintf(label, sizeof label, "%s: %s", image, path);
		r = bw_unattend_admin_passwords(data, len, label, password, pw,
						BW_UNATTEND_MAX_PASSWORDS, &n, &xerr);
		free(data);
		if (r == BW_ENOMEM)
			return bw_seterr(err, r, image, "out of memory");
		if (r) {
			work_warn(w, "unattend-admin-password",
				  "%s; Windows Setup may apply it at first boot, so whether it sets another Administrator password than --admin-password cannot be told%s",
				  xerr.msg, when);
			continue;
		}
		for (size_t k = 0; k < n && k < BW_UNATTEND_MAX_PASSWORDS; k++) {
			if (pw[k].same == 1)
				continue;
			work_warn(w, "unattend-admin-password",
				  "%s line %ld: %s%s%s %s; Windows Setup applies it at first boot, over --admin-password%s: remove it from the answer file or give the same password",
				  label, pw[k].line, bw_unattend_pw_kind_name(pw[k].kind),
				  pw[k].pass[0] ? " in pass " : "", pw[k].pass,
				  pw[k].same == 0 ? "sets another password"
						  : "holds a hidden (PlainText false) value that cannot be compared (not base64 of UTF-16LE text ending in the element's name)",
				  when);
		}
	}
	return 0;
}

int job_volumes_prepare(struct bw_image *im, struct job_work *w, struct bw_error *err)
{
	int r = check_volumes(&im->m, err);
	if (r)
		return r;
	int n = 0;
	for (int i = 0; i < im->m.nvols && n < BW_GUEST_MAX_VOLUMES; i++) {
		if (!im->m.vols[i].is_ntfs)
			continue;
		if ((r = work_check_stop(w, im->m.file, err)) != 0 ||
		    (r = image_copy_volume(im, i, w, err)) != 0)
			return r;
		im->guest_idx[i] = n++;
	}
	if (n == 0)
		return bw_seterr(err, BW_EUNSUPPORTED, im->m.file, "no NTFS volume: not a Windows image");
	return 0;
}

int job_session_start(struct bw_image *im, const struct bw_backend_opts *bo,
		      const struct bw_job_hooks *h, const struct job_repro *rp,
		      struct bw_guest **out, struct bw_error *err)
{
	struct bw_image_model *m = &im->m;
	const char *files[BW_GUEST_MAX_VOLUMES], *labels[BW_GUEST_MAX_VOLUMES];
	char names[BW_GUEST_MAX_VOLUMES][JOB_LABEL_MAX];
	size_t nfiles = 0;
	*out = NULL;
	for (int i = 0; i < m->nvols; i++)
		if (im->workfile[i]) {
			image_label(names[nfiles], m->file, m->vols[i].part);
			labels[nfiles] = names[nfiles];
			files[nfiles++] = im->workfile[i];
		}
	struct bw_guest_opts o = image_guest_opts(bo, h, 0);
	o.labels = labels;
	o.file_time = job_repro_filetime(rp);
	struct bw_guest *g;
	int r = bw_guest_open(files, nfiles, &o, &g, err);
	if (r)
		return r;
	for (int i = 0; i < m->nvols && r == 0; i++) {
		if (!im->workfile[i])
			continue;
		r = bw_guest_use(g, (size_t)im->guest_idx[i], err);
		if (r == 0)
			r = image_probe_volume(g, im, i, err);
		if (r == 0 && m->vols[i].has_windows && m->win_vol >= 0)
			/* which one to edit and grow would be a guess */
			r = bw_seterr(err, BW_EUNSUPPORTED, m->file,
				      "partitions %d and %d both hold Windows (\\Windows\\System32\\config\\SYSTEM): boxwright edits an image with one Windows",
				      m->vols[m->win_vol].part, m->vols[i].part);
		if (r == 0 && m->vols[i].has_windows && m->win_vol < 0)
			m->win_vol = i;
	}
	if (r == 0)
		r = check_volumes(m, err);      /* now with hibernation known */
	if (r == 0 && m->win_vol < 0)
		r = bw_seterr(err, BW_EUNSUPPORTED, m->file,
			      "no NTFS volume holds \\Windows\\System32\\config\\SYSTEM: not a Windows image");
	if (r == 0)
		r = bw_guest_use(g, (size_t)im->guest_idx[m->win_vol], err);
	if (r) {
		bw_guest_close(g, NULL);
		return r;
	}
	*out = g;
	return 0;
}

int job_session_edit(struct bw_guest *g, struct bw_image *im, struct job_work *w,
		     const struct bw_edits *ed, const struct job_fixups *fx,
		     const struct job_repro *rp, struct bw_edit_result *res,
		     struct bw_error *err)
{
	res->windows_partition = im->m.vols[im->m.win_vol].part;
	char *reg_unattend = NULL;     /* SYSTEM's Setup\UnattendFile */
	int r = work_check_stop(w, im->m.file, err);
	if (r == 0)
		r = hive_step(g, im, w, ed, fx, rp, res, &reg_unattend, err);
	if (r == 0 && (ed->setup_complete || ed->first_boot_ps1)) {
		if (res->setup_pending == 0)
			work_warn(w, "setup-done",
				  "%s: Windows setup has already completed on this image; SetupComplete.cmd runs only at the end of setup and will never run",
				  im->m.file);
		r = put_setup_scripts(g, ed, &res->files_written, err);
	}
	if (r == 0 && ed->unattend) {
		r = bw_guest_mkdir_p(g, UNATTEND_DIR, err);
		if (r == 0)
			r = bw_guest_upload(g, ed->unattend, UNATTEND_PATH, err);
		res->files_written += r == 0;
	}
	for (size_t i = 0; r == 0 && i < ed->ncopy; i++) {
		r = put_copy_in(g, ed->copy_in[i], err);
		res->files_written += r == 0;
	}
	if (r == 0 && res->drivers_read)
		r = job_driver_files(g, res->drivers, BW_NUM_DRIVERS, err);
	if (r == 0 && res->drivers_read) {
		unsigned k = bw_driver_kinds(res->drivers, BW_NUM_DRIVERS);
		res->has_ide = (k & BW_DRIVER_BIT(BW_DRV_IDE_CHANNEL)) &&
			       (k & BW_DRIVER_BIT(BW_DRV_IDE_CONTROLLER));
		res->has_nic = (k & BW_DRIVER_BIT(BW_DRV_E1000)) != 0;
	}
	if (r == 0 && ed->admin_password)
		r = check_unattend_passwords(g, im->m.file, ed->admin_password, res->setup_pending,
					     reg_unattend, w, err);
	free(reg_unattend);
	return r;
}

int job_session_end(struct bw_guest *g, int r, struct bw_error *err)
{
	struct bw_error cerr;
	int rc = bw_guest_close(g, &cerr);
	if (r == 0 && rc) {
		*err = cerr;
		r = rc;
	}
	return r;
}

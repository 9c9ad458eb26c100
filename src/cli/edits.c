/* EDITS shared by patch and build (see edits.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/guest.h"
#include "cli/cli.h"
#include "cli/edits.h"

#define SETUP_COMPLETE_PATH "\\Windows\\Setup\\Scripts\\SetupComplete.cmd"
#define UNATTEND_DIR "\\Windows\\Panther"
#define UNATTEND_PATH "\\Windows\\Panther\\unattend.xml"
#define SYSTEM_PATH "\\Windows\\System32\\config\\SYSTEM"
#define SOFTWARE_PATH "\\Windows\\System32\\config\\SOFTWARE"
#define BCD_PATH "\\Boot\\BCD"
/* A SetupComplete.cmd is a script, not a payload: cap what we read. */
#define SETUP_COMPLETE_MAX (16u << 20)

void cli_edits_init(struct cli_edits *ed)
{
	memset(ed, 0, sizeof *ed);
}

void cli_edits_free(struct cli_edits *ed)
{
	(void)ed;    /* every string is argv's */
}

int cli_edits_option(struct cli_edits *ed, int c, const char *arg)
{
	switch (c) {
	case EDIT_OPT_WINRM:          ed->winrm = 1; return 0;
	case EDIT_OPT_SETUP_COMPLETE: ed->setup_complete = arg; return 0;
	case EDIT_OPT_UNATTEND:       ed->unattend = arg; return 0;
	case EDIT_OPT_HOSTNAME:       ed->hostname = arg; return 0;
	case EDIT_OPT_COPY_IN:
		if (ed->ncopy < EDITS_MAX_LIST)
			ed->copy_in[ed->ncopy++] = arg;
		else
			ed->too_many = 1;
		return 0;
	case EDIT_OPT_REG:
		if (ed->nreg < EDITS_MAX_LIST)
			ed->reg[ed->nreg++] = arg;
		else
			ed->too_many = 1;
		return 0;
	}
	return -1;
}

static int readable_file(const char *path, const char *what, struct bw_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return bw_seterr(err, BW_EINVAL, path, "%s: %s", what, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bw_seterr(err, BW_EINVAL, path, "%s: not a regular file", what);
	if (access(path, R_OK) != 0)
		return bw_seterr(err, BW_EINVAL, path, "%s: %s", what, strerror(errno));
	return 0;
}

int cli_edits_check(const struct cli_edits *ed, const char *cmd, struct bw_error *err)
{
	if (ed->too_many)
		return bw_seterr(err, BW_EINVAL, NULL, "at most %d --copy-in and --reg each", EDITS_MAX_LIST);
	if (!ed->winrm && !ed->setup_complete && !ed->unattend && !ed->hostname &&
	    !ed->ncopy && !ed->nreg && !strcmp(cmd, "patch"))
		return bw_seterr(err, BW_EINVAL, NULL, "no edit given (--winrm, --setup-complete, --unattend, --copy-in, --reg, --hostname)");
	int r;
	if (ed->setup_complete && (r = readable_file(ed->setup_complete, "--setup-complete", err)))
		return r;
	if (ed->unattend && (r = readable_file(ed->unattend, "--unattend", err)))
		return r;
	for (size_t i = 0; i < ed->nreg; i++)
		if ((r = readable_file(ed->reg[i], "--reg", err)))
			return r;
	for (size_t i = 0; i < ed->ncopy; i++) {
		const char *colon = strchr(ed->copy_in[i], ':');
		if (!colon || colon == ed->copy_in[i] || !colon[1])
			return bw_seterr(err, BW_EINVAL, NULL, "--copy-in '%s': expected LOCAL:GUESTDIR",
					 ed->copy_in[i]);
		char local[4096];
		snprintf(local, sizeof local, "%.*s", (int)(colon - ed->copy_in[i]), ed->copy_in[i]);
		if ((r = readable_file(local, "--copy-in", err)))
			return r;
	}
	return 0;
}

/* LF -> CRLF, keeping CRLF that is already there. */
static char *to_crlf(const char *data, size_t len, size_t *outlen)
{
	size_t extra = 0;
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			extra++;
	char *out = malloc(len + extra + 1);
	if (!out)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[k++] = '\r';
		out[k++] = data[i];
	}
	*outlen = k;
	return out;
}

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

static int put_setup_complete(struct bw_guest *g, const char *local, struct bw_error *err)
{
	char *data = NULL, *crlf;
	size_t len = 0, clen;
	int r = read_local(local, SETUP_COMPLETE_MAX, &data, &len, err);
	if (r)
		return r;
	crlf = to_crlf(data, len, &clen);
	free(data);
	if (!crlf)
		return bw_seterr(err, BW_ENOMEM, local, "out of memory");
	r = bw_guest_mkdir_p(g, "\\Windows\\Setup\\Scripts", err);
	if (r == 0)
		r = bw_guest_write(g, SETUP_COMPLETE_PATH, crlf, clen, err);
	free(crlf);
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
static int check_volumes(const struct inspect *im, struct bw_error *err)
{
	for (int i = 0; i < im->nvols; i++) {
		const struct inspect_vol *v = &im->vols[i];
		if (!v->is_ntfs)
			continue;
		if (v->st.logfile == BW_NTFS_LOG_UNCLEAN)
			return bw_seterr(err, BW_EUNSUPPORTED, im->file,
					 "NTFS volume at offset %llu: $LogFile is not clean (Windows was not shut down cleanly): boot it and shut it down first",
					 (unsigned long long)v->offset);
		if (v->hibernated == 1)
			return bw_seterr(err, BW_EUNSUPPORTED, im->file,
					 "NTFS volume at offset %llu: Windows is hibernated on it (hiberfil.sys): resume and shut it down first",
					 (unsigned long long)v->offset);
	}
	return 0;
}

static int hive_step(struct bw_guest *g, const struct cli_edits *ed,
		     const struct cli_fixups *fx, struct cli_edit_result *res,
		     struct bw_error *err)
{
	const char *sys = cli_tmp_path("SYSTEM.edit");
	const char *sw = cli_tmp_path("SOFTWARE.edit");
	if (!sys || !sw)
		return bw_seterr(err, BW_EIO, NULL, "too many temporary files");
	int r = bw_guest_download(g, SYSTEM_PATH, sys, err);
	if (r == 0)
		r = bw_guest_download(g, SOFTWARE_PATH, sw, err);
	if (r)
		return r;
	/* Both hives are checked before either is changed. */
	struct bw_hive_header h;
	const char *names[2] = { "SYSTEM", "SOFTWARE" }, *paths[2] = { sys, sw };
	for (int i = 0; i < 2; i++) {
		r = bw_hive_check_file(paths[i], names[i], &h, err);
		if (r)
			return r;
		if (h.dirty)
			return bw_seterr(err, BW_EDIRTY, names[i],
					 "the %s hive is dirty (%s): its transaction logs must be replayed first -- boot Windows once; nothing was written",
					 names[i],
					 h.checksum_stored != h.checksum_computed ? "base block checksum wrong"
										  : "sequence numbers differ");
	}
	struct bw_system_facts f;
	res->setup_pending = -1;
	res->has_ide = res->has_nic = -1;
	if (bw_system_read(sys, "SYSTEM", &f, err) == 0) {
		res->setup_pending = f.setup_in_progress > 0;
		res->has_ide = res->has_nic = 0;
		for (int i = 0; i < BW_NUM_DRIVERS; i++) {
			if (!f.drivers[i].present)
				continue;
			if (!strcasecmp(f.drivers[i].service, "E1G60"))
				res->has_nic = 1;
			else if (!strcasecmp(f.drivers[i].service, "intelide") ||
				 !strcasecmp(f.drivers[i].service, "pciide"))
				res->has_ide = 1;
		}
		bw_system_facts_free(&f);
	}
	int moved = fx && (fx->old_loc.disk_signature != fx->new_loc.disk_signature ||
			   fx->old_loc.part_offset != fx->new_loc.part_offset);
	if (moved) {
		/* The boot chain names the partition by (signature, offset). */
		const char *bcd = cli_tmp_path("BCD.edit");
		if (!bcd)
			return bw_seterr(err, BW_EIO, NULL, "too many temporary files");
		r = bw_guest_download(g, BCD_PATH, bcd, err);
		if (r == 0)
			r = bw_win_fix_bcd(bcd, &fx->old_loc, &fx->new_loc, &res->bcd, err);
		if (r == 0)
			r = bw_guest_upload(g, bcd, BCD_PATH, err);
		if (r == 0)
			r = bw_win_fix_mounted_devices(sys, &fx->old_loc, &fx->new_loc,
						       &res->mounted, err);
		if (r)
			return r;
	}
	if (ed->winrm || ed->hostname || ed->nreg) {
		struct bw_win_edits we = { .winrm = ed->winrm, .hostname = ed->hostname,
					   .reg_files = ed->reg, .nreg_files = ed->nreg };
		r = bw_win_edit_system(sys, &we, &res->system, err);
		if (r == 0)
			r = bw_win_edit_software(sw, &we, &res->software, err);
		if (r == 0)
			r = bw_guest_upload(g, sw, SOFTWARE_PATH, err);
		if (r)
			return r;
	} else if (!moved) {
		return 0;
	}
	return bw_guest_upload(g, sys, SYSTEM_PATH, err);
}

int cli_volumes_prepare(struct inspect *im, struct bw_error *err)
{
	int r = check_volumes(im, err);
	if (r)
		return r;
	int n = 0;
	for (int i = 0; i < im->nvols && n < BW_GUEST_MAX_VOLUMES; i++) {
		struct inspect_vol *v = &im->vols[i];
		if (!v->is_ntfs)
			continue;
		if ((r = inspect_copy_volume(v, err)) != 0)
			return r;
		v->guest_idx = n++;
	}
	if (n == 0)
		return bw_seterr(err, BW_EUNSUPPORTED, im->file, "no NTFS volume: not a Windows image");
	return 0;
}

int cli_session_start(struct inspect *im, const struct cli_guest *cg, struct bw_guest **out,
		      struct bw_error *err)
{
	const char *files[BW_GUEST_MAX_VOLUMES], *labels[BW_GUEST_MAX_VOLUMES];
	char names[BW_GUEST_MAX_VOLUMES][CLI_LABEL_MAX];
	size_t nfiles = 0;
	*out = NULL;
	for (int i = 0; i < im->nvols; i++)
		if (im->vols[i].workfile) {
			cli_guest_label(names[nfiles], im->file, im->vols[i].part);
			labels[nfiles] = names[nfiles];
			files[nfiles++] = im->vols[i].workfile;
		}
	struct bw_guest_opts o = cli_guest_opts(cg, 0);
	o.labels = labels;
	struct bw_guest *g;
	int r = bw_guest_open(files, nfiles, &o, &g, err);
	if (r)
		return r;
	for (int i = 0; i < im->nvols && r == 0; i++) {
		struct inspect_vol *v = &im->vols[i];
		if (!v->workfile)
			continue;
		r = bw_guest_use(g, (size_t)v->guest_idx, err);
		if (r == 0)
			r = inspect_probe_volume(g, v, err);
		if (r == 0 && v->has_windows && im->win_vol < 0)
			im->win_vol = i;
	}
	if (r == 0)
		r = check_volumes(im, err);      /* now with hibernation known */
	if (r == 0 && im->win_vol < 0)
		r = bw_seterr(err, BW_EUNSUPPORTED, im->file,
			      "no NTFS volume holds \\Windows\\System32\\config\\SYSTEM: not a Windows image");
	if (r == 0)
		r = bw_guest_use(g, (size_t)im->vols[im->win_vol].guest_idx, err);
	if (r) {
		bw_guest_close(g, NULL);
		return r;
	}
	*out = g;
	return 0;
}

int cli_session_edit(struct bw_guest *g, const struct inspect *im,
		     const struct cli_edits *ed, const struct cli_fixups *fx,
		     struct cli_edit_result *res, struct bw_error *err)
{
	int r = hive_step(g, ed, fx, res, err);
	if (r == 0 && ed->setup_complete) {
		if (res->setup_pending == 0)
			fprintf(stderr, "boxwright: warning: %s: Windows setup has already completed on this image; SetupComplete.cmd runs only at the end of setup and will never run\n",
				im->file);
		r = put_setup_complete(g, ed->setup_complete, err);
		res->files_written += r == 0;
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
	return r;
}

int cli_session_end(struct bw_guest *g, int r, struct bw_error *err)
{
	struct bw_error cerr;
	int rc = bw_guest_close(g, &cerr);
	if (r == 0 && rc) {
		*err = cerr;
		r = rc;
	}
	return r;
}

int cli_edits_apply(struct inspect *im, const struct cli_edits *ed, const struct cli_guest *cg,
		    struct cli_edit_result *res, struct bw_error *err)
{
	struct bw_guest *g;
	int r = cli_volumes_prepare(im, err);
	if (r == 0)
		r = cli_session_start(im, cg, &g, err);
	if (r)
		return r;
	r = cli_session_edit(g, im, ed, NULL, res, err);
	return cli_session_end(g, r, err);
}

void cli_edits_json(struct json *j, const struct cli_edit_result *res)
{
	json_key(j, "edits");
	json_obj_begin(j);
	json_ku64(j, "system_values_set", res->system.values_set);
	json_ku64(j, "software_values_set", res->software.values_set);
	json_ku64(j, "keys_created", res->system.keys_created + res->software.keys_created);
	json_ku64(j, "files_written", res->files_written);
	json_ku64(j, "bcd_devices_patched", res->bcd.bcd_devices_patched);
	json_ku64(j, "bcd_devices_unknown", res->bcd.bcd_devices_unknown);
	json_ku64(j, "mounted_devices_patched", res->mounted.mounted_patched);
	json_key(j, "setup_pending");
	if (res->setup_pending < 0)
		json_null(j);
	else
		json_bool(j, res->setup_pending);
	json_obj_end(j);
}

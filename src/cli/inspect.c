/*
 * boxwright inspect: gather the facts of an image (disk, MBR, NTFS volumes,
 * then the hives and files through one guest session over copies of the
 * volumes' used clusters) and diagnose what would stop it booting.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "boxwright/guest.h"
#include "cli/cli.h"
#include "cli/guestopt.h"
#include "cli/inspect.h"

static const char inspect_usage[] =
	"Usage: boxwright inspect IMAGE [--json] [--disk-only] [--backend B|--sandbox] [-v]\n"
	"Print what is in a Windows disk image without booting it: container format,\n"
	"partitions, NTFS volumes, Windows product, BCD objects with decoded devices,\n"
	"MountedDevices, WinRM and setup state, drivers; then diagnose what would stop\n"
	"the image from booting (devices or hidden sectors that do not match the\n"
	"partition table, dirty hives, an active partition that is not Windows...).\n"
	"\n"
	"  --json        one JSON object on stdout\n"
	"  --disk-only   disk, partition and NTFS facts only: no guest session\n"
	"  -v, --verbose say what the guest backend does (e.g. a TCG retry)\n"
	GUESTOPT_USAGE
	"  -h, --help    this help\n"
	"\n"
	"Exit status: 0 reported (diagnoses do not fail), 1 failed, 2 usage,\n"
	"3 unreadable or unsupported input.\n";

static void diag(struct inspect *in, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void diag(struct inspect *in, const char *code, const char *fmt, ...)
{
	if (in->ndiag >= INSPECT_MAX_DIAG)
		return;
	struct inspect_diag *d = &in->diag[in->ndiag++];
	snprintf(d->code, sizeof d->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
}

int inspect_part_at(const struct inspect *in, uint64_t offset)
{
	if (!in->has_mbr)
		return 0;
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *e = &in->mbr.part[i];
		if (e->type && (uint64_t)e->lba_start * 512 == offset)
			return i + 1;
	}
	return 0;
}

static int open_volume(struct inspect *in, struct inspect_vol *v, struct bw_error *err)
{
	uint8_t bs[512];
	int r = bw_disk_pread(in->disk, bs, sizeof bs, v->offset, err);
	if (r)
		return r;
	if (!bw_ntfs_probe(bs))
		return 0;
	v->is_ntfs = 1;
	r = bw_ntfs_open(in->disk, v->offset, v->size, &v->ntfs, err);
	if (r)
		return r;
	v->geo = *bw_ntfs_get_geometry(v->ntfs);
	r = bw_ntfs_get_state(v->ntfs, &v->st);
	if (r)
		return r;
	/* Read from the volume itself; when the guest runs,
	 * inspect_probe_volume checks again through ntfs-3g. */
	v->hibernated = v->st.hibernated;
	/* The backup boot sector sits in the partition's last sector
	 * (FORMATS.md); a volume without one is reported, not refused. */
	r = bw_disk_pread(in->disk, bs, sizeof bs, v->offset + v->size - 512, err);
	if (r)
		return r;
	if (bw_ntfs_probe(bs)) {
		v->backup_present = 1;
		v->backup_hidden = (uint32_t)bs[0x1C] | (uint32_t)bs[0x1D] << 8 |
				   (uint32_t)bs[0x1E] << 16 | (uint32_t)bs[0x1F] << 24;
	}
	return 0;
}

int inspect_read_layout(struct inspect *in, struct bw_error *err)
{
	uint64_t size = bw_disk_size(in->disk);
	if (size < 512)
		return bw_seterr(err, BW_EFORMAT, in->file,
				 "disk of %llu bytes holds no sector", (unsigned long long)size);
	uint8_t s0[512];
	int r = bw_disk_pread(in->disk, s0, sizeof s0, 0, err);
	if (r)
		return r;
	if (bw_ntfs_probe(s0)) {
		/* A bare volume (no partition table), as some tools export. */
		in->vols[0] = (struct inspect_vol){ .part = 0, .offset = 0, .size = size,
					       .hibernated = -1 };
		in->nvols = 1;
		return open_volume(in, &in->vols[0], err);
	}
	if (s0[510] != 0x55 || s0[511] != 0xAA)
		return 0;   /* no partition table: disk-level facts only */
	r = bw_mbr_parse(s0, size, in->file, &in->mbr, err);
	if (r)
		return r;
	in->has_mbr = 1;
	for (int i = 0; i < 4; i++) {
		const struct bw_mbr_entry *e = &in->mbr.part[i];
		if (!e->type)
			continue;
		struct inspect_vol *v = &in->vols[in->nvols++];
		*v = (struct inspect_vol){ .part = i + 1,
					   .offset = (uint64_t)e->lba_start * 512,
					   .size = (uint64_t)e->sectors * 512,
					   .hibernated = -1 };
		r = open_volume(in, v, err);
		if (r)
			return r;
	}
	return 0;
}

int inspect_copy_volume(struct inspect_vol *v, struct bw_error *err)
{
	char name[32];
	snprintf(name, sizeof name, "volume%d.img", v->part);
	v->workfile = cli_tmp_path(name);
	if (!v->workfile)
		return bw_seterr(err, BW_EIO, NULL, "too many temporary files");
	int fd = open(v->workfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return bw_seterr(err, BW_EIO, v->workfile, "cannot create: %m");
	int r = bw_ntfs_copy_used(v->ntfs, fd, v->workfile, err);
	if (close(fd) < 0 && r == 0)
		r = bw_seterr(err, BW_EIO, v->workfile, "cannot close: %m");
	return r;
}

int inspect_exists(struct bw_guest *g, const char *path, struct bw_error *err)
{
	char *real = NULL;
	int r = bw_guest_resolve(g, path, &real, err);
	free(real);
	if (r == BW_ENOTFOUND)
		return 0;
	return r < 0 ? r : 1;
}

#define CHECK_EXISTS(var, path)                          \
	do {                                             \
		int e_ = inspect_exists(g, path, err);           \
		if (e_ < 0)                              \
			return e_;                       \
		var = e_;                                \
	} while (0)

int inspect_probe_volume(struct bw_guest *g, struct inspect_vol *v,
			      struct bw_error *err)
{
	CHECK_EXISTS(v->has_windows, "\\Windows\\System32\\config\\SYSTEM");
	CHECK_EXISTS(v->has_bootmgr, "\\bootmgr");
	CHECK_EXISTS(v->has_bcd, "\\Boot\\BCD");
	CHECK_EXISTS(v->has_setupcomplete, "\\Windows\\Setup\\Scripts\\SetupComplete.cmd");
	CHECK_EXISTS(v->has_unattend, "\\Windows\\Panther\\unattend.xml");
	/* hiberfil.sys that starts with a hibernation signature means a
	 * hibernated Windows (ntfs-3g's rule): its $Bitmap is stale. */
	char *head = NULL;
	size_t n = 0;
	int r = bw_guest_read(g, "\\hiberfil.sys", 4, &head, &n, err);
	if (r == BW_ENOTFOUND) {
		v->hibernated = 0;
	} else if (r) {
		return r;
	} else {
		v->hibernated = n == 4 && (!strncasecmp(head, "hibr", 4) ||
					   !strncasecmp(head, "wake", 4));
	}
	free(head);
	return 0;
}

void inspect_note_stderr(void *opaque, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "boxwright: %s\n", msg);
}

static int fetch_hive(struct bw_guest *g, const char *winpath, const char *name,
		      const char *local, struct inspect_hive *h, struct bw_error *err)
{
	int r = bw_guest_download(g, winpath, local, err);
	if (r == BW_ENOTFOUND)
		return 0;
	if (r)
		return r;
	h->present = 1;
	struct bw_error herr;
	if (bw_hive_check_file(local, name, &h->hdr, &herr) == 0)
		h->header_ok = 1;
	else
		snprintf(h->error, sizeof h->error, "%s", herr.msg);
	return 0;
}

/* A partition of the input, read in place by the native backend. */
struct part_reader {
	struct bw_disk *disk;
	uint64_t offset;
	struct bw_error err;        /* the first failure, for the message */
	int failed;
};

static int part_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct part_reader *pr = ctx;
	struct bw_error e;
	if (bw_disk_pread(pr->disk, buf, len, pr->offset + off, &e) == 0)
		return 0;
	if (!pr->failed) {
		pr->err = e;
		pr->failed = 1;
	}
	return -1;
}

/* A failed read of the input is the input's fault: say what it was. */
static int reader_error(const struct part_reader *parts, size_t n, int r,
			struct bw_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (parts[i].failed) {
			*err = parts[i].err;
			return parts[i].err.code;
		}
	return r;
}

static int guest_step(struct inspect *in, const struct cli_guest *cg, struct bw_error *err)
{
	const char *files[BW_GUEST_MAX_VOLUMES], *labels[BW_GUEST_MAX_VOLUMES];
	char names[BW_GUEST_MAX_VOLUMES][CLI_LABEL_MAX];
	struct bw_guest_reader readers[BW_GUEST_MAX_VOLUMES];
	struct part_reader parts[BW_GUEST_MAX_VOLUMES];
	/* The native backend reads the partitions where they are: nothing to
	 * copy for a read-only look.  The appliance needs files. */
	int in_place = !strcmp(bw_guest_kind_name(cg->backend), "native");
	int in_session[sizeof in->vols / sizeof in->vols[0]] = { 0 };
	size_t nfiles = 0;
	int r = cli_tmp_init(err);
	if (r)
		return r;
	for (int i = 0; i < in->nvols; i++) {
		struct inspect_vol *v = &in->vols[i];
		if (!v->is_ntfs || nfiles >= BW_GUEST_MAX_VOLUMES)
			continue;
		cli_guest_label(names[nfiles], in->file, v->part);
		labels[nfiles] = names[nfiles];
		if (in_place) {
			parts[nfiles] = (struct part_reader){ .disk = in->disk, .offset = v->offset };
			readers[nfiles] = (struct bw_guest_reader){ part_pread, &parts[nfiles], v->size };
			files[nfiles] = names[nfiles];
		} else {
			r = inspect_copy_volume(v, err);
			if (r)
				return r;
			files[nfiles] = v->workfile;
		}
		v->guest_idx = (int)nfiles++;
		in_session[i] = 1;
	}
	if (nfiles == 0)
		return 0;
	const char *sys_local = cli_tmp_path("SYSTEM");
	const char *sw_local = cli_tmp_path("SOFTWARE");
	const char *bcd_local = cli_tmp_path("BCD");
	if (!sys_local || !sw_local || !bcd_local)
		return bw_seterr(err, BW_EIO, NULL, "too many temporary files");

	struct bw_guest_opts o = cli_guest_opts(cg, 1);
	o.labels = labels;
	if (in_place)
		o.readers = readers;
	struct bw_guest *g;
	r = bw_guest_open(files, nfiles, &o, &g, err);
	if (r)
		return reader_error(parts, in_place ? nfiles : 0, r, err);
	for (int i = 0; i < in->nvols && r == 0; i++) {
		struct inspect_vol *v = &in->vols[i];
		if (!in_session[i])
			continue;
		r = bw_guest_use(g, (size_t)v->guest_idx, err);
		if (r == 0)
			r = inspect_probe_volume(g, v, err);
		if (r == 0 && v->has_windows && in->win_vol < 0)
			in->win_vol = i;
	}
	/* The BCD that boots is the one on the active partition; a
	 * one-partition image keeps it beside Windows. */
	for (int i = 0; i < in->nvols; i++) {
		struct inspect_vol *v = &in->vols[i];
		int active = v->part > 0 && in->mbr.part[v->part - 1].status == 0x80;
		if (v->has_bcd && (active || in->boot_vol < 0))
			in->boot_vol = i;
	}
	if (r == 0 && in->win_vol >= 0) {
		struct inspect_vol *w = &in->vols[in->win_vol];
		int l1 = 0, l2 = 0;
		r = bw_guest_use(g, (size_t)w->guest_idx, err);
		if (r == 0)
			r = fetch_hive(g, "\\Windows\\System32\\config\\SYSTEM", "SYSTEM",
				       sys_local, &in->system_hive, err);
		if (r == 0)
			r = fetch_hive(g, "\\Windows\\System32\\config\\SOFTWARE", "SOFTWARE",
				       sw_local, &in->software_hive, err);
		if (r == 0 && (l1 = inspect_exists(g, "\\Windows\\System32\\config\\SYSTEM.LOG1", err)) < 0)
			r = l1;
		if (r == 0 && (l2 = inspect_exists(g, "\\Windows\\System32\\config\\SYSTEM.LOG2", err)) < 0)
			r = l2;
		in->system_hive.logs = (l1 > 0) + (l2 > 0);
	}
	if (r == 0 && in->boot_vol >= 0) {
		r = bw_guest_use(g, (size_t)in->vols[in->boot_vol].guest_idx, err);
		if (r == 0)
			r = fetch_hive(g, "\\Boot\\BCD", "BCD", bcd_local, &in->bcd_hive, err);
	}
	struct bw_error cerr;
	int rc = bw_guest_close(g, &cerr);
	if (r)
		return reader_error(parts, in_place ? nfiles : 0, r, err);
	if (rc) {
		*err = cerr;
		return rc;
	}
	in->guest_done = 1;

	/* Facts are read from any hive hivex accepts; a dirty one is
	 * diagnosed below, its facts shown as they stand in the file. */
	struct bw_error herr;
	if (in->system_hive.header_ok) {
		if (bw_system_read(sys_local, "SYSTEM", &in->sys, &herr) == 0)
			in->system_hive.loaded = 1;
		else
			snprintf(in->system_hive.error, sizeof in->system_hive.error, "%s", herr.msg);
	}
	if (in->software_hive.header_ok) {
		if (bw_software_read(sw_local, "SOFTWARE", &in->sw, &herr) == 0)
			in->software_hive.loaded = 1;
		else
			snprintf(in->software_hive.error, sizeof in->software_hive.error, "%s", herr.msg);
	}
	if (in->bcd_hive.header_ok) {
		if (bw_bcd_load(bcd_local, "BCD", &in->bcd, &herr) == 0)
			in->bcd_hive.loaded = 1;
		else
			snprintf(in->bcd_hive.error, sizeof in->bcd_hive.error, "%s", herr.msg);
	}
	return 0;
}

static void diagnose_volumes(struct inspect *in)
{
	for (int i = 0; i < in->nvols; i++) {
		const struct inspect_vol *v = &in->vols[i];
		if (!v->is_ntfs || v->part == 0)
			continue;
		uint32_t start = in->mbr.part[v->part - 1].lba_start;
		if (v->geo.hidden_sectors != start)
			diag(in, "hidden-sectors-mismatch",
			     "partition %d starts at sector %u but its NTFS boot sector says hidden sectors = %u: the boot code will not find BOOTMGR",
			     v->part, start, v->geo.hidden_sectors);
		else if (v->backup_present && v->backup_hidden != start)
			diag(in, "hidden-sectors-mismatch",
			     "partition %d starts at sector %u but its backup NTFS boot sector says hidden sectors = %u",
			     v->part, start, v->backup_hidden);
		if (v->st.dirty)
			diag(in, "volume-dirty",
			     "partition %d: the NTFS volume is marked dirty: Windows will run chkdsk at boot",
			     v->part);
		if (v->st.logfile == BW_NTFS_LOG_UNCLEAN)
			diag(in, "logfile-unclean",
			     "partition %d: $LogFile is not clean (not shut down cleanly): its $Bitmap cannot be trusted",
			     v->part);
		else if (v->st.logfile_major == 2)
			diag(in, "logfile-v2",
			     "partition %d: $LogFile version 2.0 (left by Windows fast startup or hibernation): ntfs-3g will not write to it; shut Windows down fully first",
			     v->part);
		if (v->hibernated == 1)
			diag(in, "volume-hibernated",
			     "partition %d: Windows is hibernated on it (hiberfil.sys): its $Bitmap cannot be trusted",
			     v->part);
	}
}

static void diagnose_hive(struct inspect *in, const struct inspect_hive *h,
			  const char *name, const char *code)
{
	if (!h->present)
		return;
	if (!h->header_ok) {
		diag(in, code, "%s hive: %s", name, h->error);
		return;
	}
	if (h->hdr.dirty) {
		if (h->hdr.checksum_stored != h->hdr.checksum_computed)
			diag(in, code,
			     "%s hive is dirty: base block checksum 0x%08x, expected 0x%08x; its transaction logs must be replayed (boot Windows once) before it is edited",
			     name, h->hdr.checksum_stored, h->hdr.checksum_computed);
		else
			diag(in, code,
			     "%s hive is dirty: sequence numbers %u and %u differ; its transaction logs must be replayed (boot Windows once) before it is edited",
			     name, h->hdr.seq_primary, h->hdr.seq_secondary);
	}
}

static void diagnose_bcd(struct inspect *in)
{
	if (!in->bcd || !in->has_mbr)
		return;
	for (size_t i = 0; i < in->bcd->nobjects; i++) {
		const struct bw_bcd_object *o = &in->bcd->objects[i];
		for (size_t k = 0; k < o->ndevices; k++) {
			const struct bw_bcd_element *e = &o->devices[k];
			const struct bw_bcd_device *d = &e->dev;
			if (d->kind == BW_BCD_DEV_PARTITION_MBR) {
				if (d->disk_signature != in->mbr.signature)
					diag(in, "bcd-device-mismatch",
					     "BCD %s element %08x names disk signature 0x%08x, but this disk's is 0x%08x",
					     o->guid, e->id, d->disk_signature, in->mbr.signature);
				else if (!inspect_part_at(in, d->part_offset))
					diag(in, "bcd-device-mismatch",
					     "BCD %s element %08x names the partition at byte offset %llu, but no partition starts there",
					     o->guid, e->id, (unsigned long long)d->part_offset);
			} else if (d->kind == BW_BCD_DEV_PARTITION_GPT) {
				diag(in, "bcd-device-mismatch",
				     "BCD %s element %08x names a GPT partition, but this is an MBR disk",
				     o->guid, e->id);
			}
		}
	}
}

static void diagnose_mounted(struct inspect *in)
{
	if (!in->system_hive.loaded || !in->has_mbr || in->win_vol < 0)
		return;
	uint64_t win_off = in->vols[in->win_vol].offset;
	for (size_t i = 0; i < in->sys.nmounted; i++) {
		const struct bw_mounted_device *m = &in->sys.mounted[i];
		if (!m->is_mbr)
			continue;
		if (!strcasecmp(m->name, "\\DosDevices\\C:")) {
			if (m->disk_signature != in->mbr.signature || m->part_offset != win_off)
				diag(in, "mounted-devices-mismatch",
				     "MountedDevices %s = (signature 0x%08x, offset %llu), but Windows is on (0x%08x, %llu)",
				     m->name, m->disk_signature, (unsigned long long)m->part_offset,
				     in->mbr.signature, (unsigned long long)win_off);
		} else if (m->disk_signature == in->mbr.signature &&
			   !inspect_part_at(in, m->part_offset)) {
			diag(in, "mounted-devices-mismatch",
			     "MountedDevices %s names offset %llu on this disk, where no partition starts",
			     m->name, (unsigned long long)m->part_offset);
		}
	}
}

static void diagnose(struct inspect *in)
{
	diagnose_volumes(in);
	if (!in->guest_done)
		return;
	if (in->win_vol < 0) {
		diag(in, "no-windows", "no NTFS volume holds \\Windows\\System32\\config\\SYSTEM");
		return;
	}
	const struct inspect_vol *w = &in->vols[in->win_vol];
	if (in->has_mbr) {
		int active = 0;
		for (int i = 0; i < 4; i++)
			if (in->mbr.part[i].type && in->mbr.part[i].status == 0x80)
				active = i + 1;
		if (active == 0)
			diag(in, "no-active-partition", "no partition is marked active: the BIOS MBR code has nothing to boot");
		else if (active != w->part)
			diag(in, "active-not-windows",
			     "the active partition is %d but Windows is on partition %d (a \"System Reserved\" layout): build cannot merge them yet",
			     active, w->part);
	}
	if (in->boot_vol < 0 || !in->vols[in->boot_vol].has_bootmgr)
		diag(in, "bootmgr-missing", "no volume holds both \\bootmgr and \\Boot\\BCD");
	diagnose_hive(in, &in->system_hive, "SYSTEM", "system-hive-dirty");
	diagnose_hive(in, &in->software_hive, "SOFTWARE", "software-hive-dirty");
	diagnose_hive(in, &in->bcd_hive, "BCD", "bcd-hive-dirty");
	diagnose_bcd(in);
	diagnose_mounted(in);
	if (in->system_hive.loaded) {
		const struct bw_system_facts *s = &in->sys;
		if (s->setup_in_progress == 0)
			diag(in, "setup-done",
			     "Windows setup has already completed on this image (SystemSetupInProgress = 0): a new SetupComplete.cmd will never run");
		int ide = 0, nic = 0;
		for (int i = 0; i < BW_NUM_DRIVERS; i++) {
			if (!s->drivers[i].present)
				continue;
			if (!strcasecmp(s->drivers[i].service, "E1G60"))
				nic = 1;
			else if (!strcasecmp(s->drivers[i].service, "intelide") ||
				 !strcasecmp(s->drivers[i].service, "pciide"))
				ide = 1;
		}
		if (!ide || !nic)
			diag(in, "drivers-missing",
			     "the image lacks the %s%s%s driver(s) of the VirtualBox hardware a box declares (build the image with -OEMDrivers)",
			     ide ? "" : "IDE controller", !ide && !nic ? " and " : "",
			     nic ? "" : "E1000 NIC");
	}
}

void inspect_free(struct inspect *in)
{
	for (int i = 0; i < in->nvols; i++)
		bw_ntfs_close(in->vols[i].ntfs);
	if (in->system_hive.loaded)
		bw_system_facts_free(&in->sys);
	if (in->software_hive.loaded)
		bw_software_facts_free(&in->sw);
	bw_bcd_free(in->bcd);
	bw_disk_close(in->disk);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "disk-only", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		GUESTOPT_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, disk_only = 0, c;
	struct cli_guest cg;
	cli_guest_init(&cg);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'd': disk_only = 1; break;
		case 'v': cg.verbose = 1; break;
		case 'h': fputs(inspect_usage, stdout); return EXIT_DONE;
		default:
			if (cli_guest_option(&cg, c, optarg) == 0)
				break;
			return cli_usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (cli_guest_check(&cg, "inspect") != 0)
		return EXIT_USAGE;
	if (optind != argc - 1)
		return cli_usage_error("inspect", optind >= argc ? "no IMAGE given"
							    : "one IMAGE expected");
	struct inspect *in = calloc(1, sizeof *in);
	if (!in) {
		fputs("boxwright: out of memory\n", stderr);
		return EXIT_FAILED;
	}
	in->file = argv[optind];
	in->win_vol = in->boot_vol = -1;
	struct bw_error err;
	bw_error_clear(&err);
	int r = bw_disk_open(in->file, &in->disk, &err);
	if (r == 0)
		r = bw_disk_get_info(in->disk, &in->info, &err);
	if (r == 0)
		r = inspect_read_layout(in, &err);
	if (r == 0 && !disk_only)
		r = guest_step(in, &cg, &err);
	cli_tmp_cleanup();
	int status;
	if (r) {
		status = cli_fail(&err);
	} else {
		diagnose(in);
		if (json)
			inspect_print_json(in);
		else
			inspect_print_text(in);
		status = EXIT_DONE;
	}
	inspect_free(in);
	free(in);
	return status;
}

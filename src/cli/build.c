/*
 * boxwright build IMAGE -o NAME.box: the main job (DESIGN.md "The way data
 * flows through build").  Open, plan a one-partition disk, copy the used
 * clusters of the Windows volume to a working file, resize it, edit it and
 * fix its boot chain in one guest session, patch hidden sectors, write a
 * streamOptimized VMDK of [new MBR | zero gap | partition] with free
 * clusters as zeros, pack the .box, rename it into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/box.h"
#include "boxwright/copy.h"
#include "boxwright/guest.h"
#include "cli/cli.h"
#include "cli/edits.h"
#include "cli/inspect.h"
#include "cli/json.h"
#include "common/random.h"

#define BUILD_PART_START_LBA 2048u          /* 1 MiB, as Windows aligns */
#define BUILD_PART_OFFSET ((uint64_t)BUILD_PART_START_LBA * 512)
#define BUILD_MAX_SIZE (UINT64_C(2) << 40)  /* MBR: 2 TiB */

static const char build_usage[] =
	"Usage: boxwright build IMAGE -o NAME.box [OPTIONS] [EDITS...]\n"
	"Build a Vagrant box (VirtualBox provider) from a Windows Nano Server image,\n"
	"offline: one active NTFS partition at 1 MiB filling --size, the boot chain\n"
	"(hidden sectors, BCD, MountedDevices) fixed for it, free space dropped, a\n"
	"streamOptimized VMDK, box.ovf, metadata.json and a Vagrantfile.\n"
	"\n"
	"  -o, --output NAME.box    the box to write (appears only when complete)\n"
	"  --size SIZE              disk size: bytes or with K/M/G/T (default: the input's);\n"
	"                           shrinking works down to what ntfsresize can reach\n"
	"  --new-signature          a fresh random MBR disk signature (default: kept)\n"
	"  --provider virtualbox    the only provider so far\n"
	"  --hardware-uuid U        UUID | random (default, printed) | none: pinned with\n"
	"                           modifyvm --hardwareuuid in the Vagrantfile\n"
	"  --memory MB, --cpus N    VM defaults (1024, 1)\n"
	"  --winrm-user U, --winrm-password P   communicator login (administrator / vagrant)\n"
	"  --box-compress gzip      gzip the tar (the VMDK is already compressed)\n"
	"  --catalog FILE.json      write or update a box catalog (with --box-name,\n"
	"                           --box-version, --base-url URL; default file:// URLs)\n"
	"  --chkdsk                 keep the dirty flag ntfsresize sets (Windows checks the disk)\n"
	"  --compress-level N, --threads N   VMDK deflate level (6) and threads (all CPUs)\n"
	EDITS_USAGE
	GUESTOPT_USAGE
	"  -v, --verbose, --progress, --quiet, --json, -h, --help\n"
	"\n"
	"Exit status: 0 done, 1 failed, 2 usage, 3 unreadable, unsupported or dirty input.\n";

enum {
	OPT_SIZE = 2000, OPT_NEWSIG, OPT_PROVIDER, OPT_HWUUID, OPT_MEMORY, OPT_CPUS,
	OPT_USER, OPT_PASS, OPT_BOXGZ, OPT_CATALOG, OPT_BOXNAME, OPT_BOXVER, OPT_BASEURL,
	OPT_CHKDSK, OPT_LEVEL, OPT_THREADS,
};

/* "40G", "4096M", "123456789": bytes; 0 on a bad value. */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

static int valid_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdefABCDEF", s[i])) {
			return 0;
		}
	}
	return 1;
}

static void random_uuid(char out[37])
{
	uint8_t b[16];
	if (bw_random_bytes(b, sizeof b) != 0)
		for (size_t i = 0; i < sizeof b; i++)
			b[i] = (uint8_t)rand();
	b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);     /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);     /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

struct build_opts {
	const char *in, *out;
	uint64_t size;
	int new_signature, chkdsk, gzip, json, progress;
	struct cli_guest guest;
	const char *hwuuid_arg;
	char hwuuid[37];
	unsigned memory, cpus;
	const char *user, *password;
	const char *catalog, *box_name, *box_version, *base_url;
	int level, threads;
	struct cli_edits ed;
};

/* Nano needs the drivers of the hardware the box declares (DESIGN.md). */
static void warn_drivers(const struct cli_edit_result *res, const char *image)
{
	if (res->has_ide != 0 && res->has_nic != 0)
		return;
	fprintf(stderr, "boxwright: warning: %s lacks the %s%s%s driver(s) of the VirtualBox hardware the box declares (IDE PIIX4, E1000): build the image with -OEMDrivers\n",
		image, res->has_ide ? "" : "IDE controller",
		!res->has_ide && !res->has_nic ? " and " : "", res->has_nic ? "" : "E1000 NIC");
}

static int build_run(struct build_opts *b, struct bw_error *err)
{
	struct inspect *im = calloc(1, sizeof *im);
	struct bw_guest *g = NULL;
	struct bw_disk *work = NULL;
	struct bw_ntfs *wvol = NULL;
	struct bw_writer *w = NULL;
	const char *vmdk = NULL, *tmpbox = NULL;
	struct cli_edit_result res = { 0 };
	struct cli_tmp_remover rm = { .npaths = 0 };
	double t0 = cli_now();
	int r;
	if (!im)
		return bw_seterr(err, BW_ENOMEM, b->in, "out of memory");
	im->file = b->in;
	im->win_vol = im->boot_vol = -1;
	r = bw_disk_open(b->in, &im->disk, err);
	if (r == 0)
		r = inspect_read_layout(im, err);
	if (r == 0)
		r = cli_tmp_init(err);
	if (r)
		goto out;
	if (!im->has_mbr) {
		r = bw_seterr(err, BW_EUNSUPPORTED, b->in, "no MBR partition table: build needs an MBR disk with an NTFS partition");
		goto out;
	}
	uint64_t size = b->size ? b->size : bw_disk_size(im->disk);
	/* Checked before the round-up to whole MiB, which would wrap a
	 * --size near 2^64 to 0. */
	if (size <= BUILD_MAX_SIZE)
		size = (size + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	if (size > BUILD_MAX_SIZE || size < (16u << 20)) {
		if (b->size)
			r = bw_seterr(err, BW_EINVAL, b->in, "--size %llu: an MBR disk holds 16 MiB to 2 TiB",
				      (unsigned long long)b->size);
		else
			r = bw_seterr(err, BW_EUNSUPPORTED, b->in,
				      "the image is %llu bytes, and an MBR disk holds 16 MiB to 2 TiB: give --size",
				      (unsigned long long)size);
		goto out;
	}
	uint64_t new_part = size - BUILD_PART_OFFSET;

	r = cli_volumes_prepare(im, err);
	if (r)
		goto out;
	/* Grow the working files now (the appliance sizes drives at launch);
	 * which one is Windows is known only inside the session, so every
	 * NTFS file that is smaller gets the new size, and only the Windows
	 * one is used. */
	for (int i = 0; i < im->nvols; i++) {
		struct inspect_vol *v = &im->vols[i];
		if (v->workfile && new_part > v->size && truncate(v->workfile, (off_t)new_part) != 0) {
			r = bw_seterr(err, BW_EIO, v->workfile, "cannot grow to %llu bytes: %s",
				      (unsigned long long)new_part, strerror(errno));
			goto out;
		}
	}
	r = cli_session_start(im, &b->guest, &g, err);
	if (r)
		goto out;
	struct inspect_vol *wv = &im->vols[im->win_vol];
	const struct bw_mbr_entry *we = &im->mbr.part[wv->part - 1];
	int active = 0;
	for (int i = 0; i < 4; i++)
		if (im->mbr.part[i].type && im->mbr.part[i].status == 0x80)
			active = i + 1;
	if (active != wv->part) {
		r = bw_seterr(err, BW_EUNSUPPORTED, b->in,
			      "the active partition is %d but Windows is on partition %d (a \"System Reserved\" layout): build cannot merge them yet",
			      active, wv->part);
		goto end_session;
	}
	if (!wv->has_bootmgr || !wv->has_bcd) {
		r = bw_seterr(err, BW_EUNSUPPORTED, b->in,
			      "the Windows partition lacks \\bootmgr or \\Boot\\BCD: it cannot boot alone");
		goto end_session;
	}
	/* A volume Windows marked for chkdsk keeps that request: ntfsresize
	 * is told to go on (--force) and the flag is not cleared after it. */
	struct bw_ntfs_state wst;
	if (bw_ntfs_get_state(wv->ntfs, &wst) != 0) {
		r = bw_seterr(err, BW_EFORMAT, b->in, "cannot read the Windows volume's state");
		goto end_session;
	}
	unsigned rflags = wst.dirty ? BW_GUEST_RESIZE_FORCE
				    : b->chkdsk ? 0 : BW_GUEST_RESIZE_CLEAR_DIRTY;
	r = bw_guest_resize(g, new_part < wv->size ? new_part : 0, rflags, err);
	if (r)
		goto end_session;
	struct bw_mbr mbr = im->mbr;
	if (b->new_signature) {
		uint32_t sig = 0;
		while (sig == 0 || sig == im->mbr.signature)
			if (bw_random_bytes(&sig, sizeof sig) != 0)
				sig = (uint32_t)rand() * 2654435761u;
		mbr.signature = sig;
	}
	struct cli_fixups fx = {
		.old_loc = { im->mbr.signature, (uint64_t)we->lba_start * 512 },
		.new_loc = { mbr.signature, BUILD_PART_OFFSET },
	};
	r = cli_session_edit(g, im, &b->ed, &fx, &res, err);
	if (r == 0)
		warn_drivers(&res, b->in);
end_session:
	r = cli_session_end(g, r, err);
	g = NULL;
	if (r)
		goto out;
	if (new_part < wv->size && truncate(wv->workfile, (off_t)new_part) != 0) {
		r = bw_seterr(err, BW_EIO, wv->workfile, "cannot shrink to %llu bytes: %s",
			      (unsigned long long)new_part, strerror(errno));
		goto out;
	}
	/* Hidden sectors = the new start, in both boot sectors. */
	int fd = open(wv->workfile, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = bw_seterr(err, BW_EIO, wv->workfile, "cannot open: %s", strerror(errno));
		goto out;
	}
	int backup = 0;
	r = bw_ntfs_set_hidden_sectors(fd, new_part, BUILD_PART_START_LBA, wv->workfile, &backup, err);
	if (close(fd) != 0 && r == 0)
		r = bw_seterr(err, BW_EIO, wv->workfile, "cannot close: %s", strerror(errno));
	if (r)
		goto out;
	if (!backup)
		fprintf(stderr, "boxwright: warning: no backup NTFS boot sector in the partition's last sector\n");

	/* The free-cluster map of the volume as it is now. */
	r = bw_disk_open(wv->workfile, &work, err);
	if (r == 0)
		r = bw_ntfs_open(work, 0, new_part, &wvol, err);
	if (r)
		goto out;
	memset(mbr.part, 0, sizeof mbr.part);
	mbr.part[0] = (struct bw_mbr_entry){ .status = 0x80, .type = BW_MBR_TYPE_NTFS,
					     .lba_start = BUILD_PART_START_LBA,
					     .sectors = (uint32_t)(new_part / 512) };
	uint8_t sector[512];
	bw_mbr_encode(&mbr, sector);
	vmdk = cli_tmp_path("box-disk001.vmdk");
	if (!vmdk) {
		r = bw_seterr(err, BW_EIO, NULL, "too many temporary files");
		goto out;
	}
	struct bw_writer_opts wo = { .format = BW_WRITE_VMDK_STREAM, .size = size,
				     .compress_level = b->level, .threads = b->threads,
				     .adapter_type = "ide", .scratch = 1 };
	r = bw_writer_open(vmdk, &wo, &w, err);
	if (r == 0)
		r = bw_writer_write(w, sector, sizeof sector, 0, err);
	if (r)
		goto out;
	struct cli_progress pr;
	cli_progress_init(&pr, "build", b->progress);
	struct bw_copy_region reg = { .offset = 0, .size = new_part, .ntfs = wvol };
	struct bw_copy_opts co = { .regions = &reg, .nregions = 1, .out_offset = BUILD_PART_OFFSET,
				   .progress = cli_progress_update, .opaque = &pr };
	struct bw_copy_stats st;
	r = bw_copy(work, w, &co, &st, err);
	cli_progress_end(&pr);
	if (r)
		goto out;
	struct bw_writer *wf = w;
	w = NULL;
	r = bw_writer_finish(wf, err);
	if (r)
		goto out;
	/* The working partition files are done with: delete them while the
	 * box is written (the last close is where their space is freed). */
	bw_ntfs_close(wvol);
	wvol = NULL;
	bw_disk_close(work);
	work = NULL;
	for (int i = 0; i < im->nvols && rm.npaths < sizeof rm.paths / sizeof rm.paths[0]; i++)
		if (im->vols[i].workfile)
			rm.paths[rm.npaths++] = im->vols[i].workfile;
	cli_tmp_remove_start(&rm);

	struct bw_box_opts bo = {
		.vmdk_path = vmdk, .disk_capacity = size, .vm_name = "boxwright-nano",
		.memory_mb = b->memory, .cpus = b->cpus,
		.hardware_uuid = b->hwuuid[0] ? b->hwuuid : NULL,
		.winrm_user = b->user, .winrm_password = b->password, .gzip = b->gzip,
	};
	tmpbox = cli_tmp_output(b->out);
	if (!tmpbox) {
		r = bw_seterr(err, BW_EIO, b->out, "output path too long");
		goto out;
	}
	r = bw_box_write(tmpbox, &bo, err);
	if (r == 0)
		r = cli_commit_output(tmpbox, b->out, err);
	if (r)
		goto out;
	char sha[65] = "";
	if (b->catalog) {
		char url[8192], abs[4096];
		r = bw_sha256_file(b->out, sha, err);
		if (r)
			goto out;
		const char *base = strrchr(b->out, '/');
		base = base ? base + 1 : b->out;
		size_t n;
		if (b->base_url)
			n = (size_t)snprintf(url, sizeof url, "%s%s%s", b->base_url,
					     b->base_url[strlen(b->base_url) - 1] == '/' ? "" : "/", base);
		else if (realpath(b->out, abs))
			n = (size_t)snprintf(url, sizeof url, "file://%s", abs);
		else {
			r = bw_seterr(err, BW_EIO, b->out, "cannot resolve its absolute path: %s", strerror(errno));
			goto out;
		}
		if (n >= sizeof url) {
			r = bw_seterr(err, BW_EINVAL, b->out, "the box URL is too long");
			goto out;
		}
		struct bw_catalog_entry ce = { .name = b->box_name, .version = b->box_version,
					       .provider = "virtualbox", .url = url, .sha256 = sha };
		r = bw_catalog_update(b->catalog, &ce, err);
		if (r)
			goto out;
	}
	struct stat so;
	uint64_t box_size = stat(b->out, &so) == 0 ? (uint64_t)so.st_size : 0;
	double secs = cli_now() - t0;
	if (b->json) {
		struct json jj;
		json_init(&jj, stdout);
		json_obj_begin(&jj);
		json_kstr(&jj, "input", b->in);
		json_kstr(&jj, "box", b->out);
		json_ku64(&jj, "box_size", box_size);
		json_ku64(&jj, "disk_size", size);
		json_khex32(&jj, "disk_signature", mbr.signature);
		json_ku64(&jj, "old_partition_offset", fx.old_loc.part_offset);
		json_ku64(&jj, "partition_offset", BUILD_PART_OFFSET);
		json_kstr(&jj, "hardware_uuid", b->hwuuid[0] ? b->hwuuid : NULL);
		json_kstr(&jj, "backend", bw_guest_kind_name(b->guest.backend));
		json_ku64(&jj, "bytes_read", st.read);
		json_ku64(&jj, "bytes_skipped_free", st.skipped);
		cli_edits_json(&jj, &res);
		if (b->catalog) {
			json_kstr(&jj, "catalog", b->catalog);
			json_kstr(&jj, "sha256", sha);
		}
		json_kdouble(&jj, "seconds", secs, 3);
		json_obj_end(&jj);
	} else if (b->progress >= 0) {
		printf("%s\n", b->out);
		fprintf(stderr, "boxwright: built %s (%.1f MB, %.1f s)%s%s\n", b->out,
			(double)box_size / 1e6, secs, b->hwuuid[0] ? ", hardware UUID " : "",
			b->hwuuid[0] ? b->hwuuid : "");
	}
out:
	cli_tmp_remove_wait(&rm);
	if (g)
		bw_guest_close(g, NULL);
	bw_writer_abort(w);
	if (r && tmpbox)
		remove(tmpbox);
	bw_ntfs_close(wvol);
	bw_disk_close(work);
	inspect_free(im);
	free(im);
	return r;
}

int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "new-signature", no_argument, NULL, OPT_NEWSIG },
		{ "provider", required_argument, NULL, OPT_PROVIDER },
		{ "hardware-uuid", required_argument, NULL, OPT_HWUUID },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "winrm-user", required_argument, NULL, OPT_USER },
		{ "winrm-password", required_argument, NULL, OPT_PASS },
		{ "box-compress", required_argument, NULL, OPT_BOXGZ },
		{ "catalog", required_argument, NULL, OPT_CATALOG },
		{ "box-name", required_argument, NULL, OPT_BOXNAME },
		{ "box-version", required_argument, NULL, OPT_BOXVER },
		{ "base-url", required_argument, NULL, OPT_BASEURL },
		{ "chkdsk", no_argument, NULL, OPT_CHKDSK },
		{ "compress-level", required_argument, NULL, OPT_LEVEL },
		{ "threads", required_argument, NULL, OPT_THREADS },
		EDITS_OPTIONS,
		GUESTOPT_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct build_opts b = { .memory = 1024, .cpus = 1, .user = "administrator",
				.password = "vagrant", .level = 6, .hwuuid_arg = "random" };
	cli_edits_init(&b.ed);
	cli_guest_init(&b.guest);
	char *end;
	long v;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': b.out = optarg; break;
		case OPT_SIZE:
			if (!(b.size = parse_size(optarg)))
				return cli_usage_error("build", "--size '%s': expected bytes or a number with K, M, G or T", optarg);
			break;
		case OPT_NEWSIG: b.new_signature = 1; break;
		case OPT_PROVIDER:
			if (strcmp(optarg, "virtualbox"))
				return cli_usage_error("build", "--provider '%s': only virtualbox is supported so far", optarg);
			break;
		case OPT_HWUUID: b.hwuuid_arg = optarg; break;
		case OPT_MEMORY:
		case OPT_CPUS:
		case OPT_LEVEL:
		case OPT_THREADS:
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > (c == OPT_MEMORY ? 4194304 : c == OPT_LEVEL ? 9 : 256))
				return cli_usage_error("build", "'%s' is out of range for %s", optarg, argv[optind - 1]);
			if (c == OPT_MEMORY) b.memory = (unsigned)v;
			else if (c == OPT_CPUS) b.cpus = (unsigned)v;
			else if (c == OPT_LEVEL) b.level = (int)v;
			else b.threads = (int)v;
			break;
		case OPT_USER: b.user = optarg; break;
		case OPT_PASS: b.password = optarg; break;
		case OPT_BOXGZ:
			if (strcmp(optarg, "gzip") && strcmp(optarg, "none"))
				return cli_usage_error("build", "--box-compress takes gzip or none");
			b.gzip = !strcmp(optarg, "gzip");
			break;
		case OPT_CATALOG: b.catalog = optarg; break;
		case OPT_BOXNAME: b.box_name = optarg; break;
		case OPT_BOXVER: b.box_version = optarg; break;
		case OPT_BASEURL:
			if (!*optarg)
				return cli_usage_error("build", "--base-url must not be empty");
			b.base_url = optarg;
			break;
		case OPT_CHKDSK: b.chkdsk = 1; break;
		case 'v': b.guest.verbose = 1; break;
		case 'P': b.progress = 1; break;
		case 'q': b.progress = -1; break;
		case 'j': b.json = 1; break;
		case 'h': fputs(build_usage, stdout); return EXIT_DONE;
		default:
			if (cli_edits_option(&b.ed, c, optarg) == 0 ||
			    cli_guest_option(&b.guest, c, optarg) == 0)
				break;
			return cli_usage_error("build", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (cli_guest_check(&b.guest, "build") != 0)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error("build", "one IMAGE expected");
	b.in = argv[optind];
	if (!b.out)
		return cli_usage_error("build", "-o NAME.box is required");
	if (!strcmp(b.hwuuid_arg, "random"))
		random_uuid(b.hwuuid);
	else if (strcmp(b.hwuuid_arg, "none")) {
		if (!valid_uuid(b.hwuuid_arg))
			return cli_usage_error("build", "--hardware-uuid '%s': expected a UUID, random or none", b.hwuuid_arg);
		snprintf(b.hwuuid, sizeof b.hwuuid, "%s", b.hwuuid_arg);
	}
	if (b.catalog && (!b.box_name || !b.box_version))
		return cli_usage_error("build", "--catalog needs --box-name and --box-version");
	struct bw_error err;
	bw_error_clear(&err);
	int r = cli_edits_check(&b.ed, "build", &err);
	if (r)
		return r == BW_EINVAL ? cli_usage_error("build", "%s", err.msg) : cli_fail(&err);
	struct stat sin, sout;
	if (stat(b.in, &sin) == 0 && stat(b.out, &sout) == 0 &&
	    sin.st_dev == sout.st_dev && sin.st_ino == sout.st_ino)
		return cli_usage_error("build", "-o names the input image");
	r = build_run(&b, &err);
	cli_tmp_cleanup();
	return r ? cli_fail(&err) : EXIT_DONE;
}

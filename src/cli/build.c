/* boxwright build IMAGE -o NAME.box: argv -> bw_build -> print. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"

static const char build_usage[] =
	"Usage: boxwright build IMAGE -o NAME.box|DIR/ [OPTIONS] [EDITS...]\n"
	"Build Vagrant boxes (VirtualBox, libvirt, Hyper-V, VMware) from a Nano Server image,\n"
	"offline: on MBR, Windows at 1 MiB (after a \"System Reserved\" partition if\n"
	"there is one) filling --size, the boot chain (hidden sectors, BCD,\n"
	"MountedDevices) fixed for it; on GPT (UEFI), the ESP and MSR kept, Windows\n"
	"grown, Recovery moved to the end, EFI firmware; free space dropped, a\n"
	"streamOptimized VMDK, box.ovf, metadata.json and a Vagrantfile.\n"
	"\n"
	"  -o, --output NAME.box    the box to write (appears only when complete)\n"
	"  --size SIZE              disk size: bytes or with K/M/G/T, powers of 1024 (40G,\n"
	"                           40GB, 40GiB: 40 GiB); default: the input's; shrinking\n"
	"                           works down to what ntfsresize can reach\n"
	"  --new-signature          a fresh random MBR disk signature (default: kept)\n"
	"  --provider P[,P...]      virtualbox (default), libvirt (qcow2 box.img), hyperv\n"
	"                           (VHD Generation 1 / VHDX Generation 2 + VM XML),\n"
	"                           vmware_desktop (.vmx + monolithicSparse VMDK), or\n"
	"                           several: one box each from one edit of the image,\n"
	"                           named NAME-PROVIDER.box (or -o DIR/)\n"
	"  --hardware-uuid U        auto (default: the UUID the image booted under, else a\n"
	"                           fresh one) | random | none | a UUID: pinned in the\n"
	"                           OVF, the .vmx (uuid.bios) and the Vagrantfiles\n"
	"  --memory MB, --cpus N    VM defaults (1024, 1)\n"
	"  --winrm-user U, --winrm-password P   communicator login (administrator / vagrant)\n"
	"  --box-compress gzip|none gzip the tar, or not (default none: the VMDK is\n"
	"                           already compressed)\n"
	"  --catalog FILE.json      write or update a box catalog (with --box-name,\n"
	"                           --box-version, --base-url URL; default file:// URLs)\n"
	"  --chkdsk                 keep the dirty flag ntfsresize sets (Windows checks the disk)\n"
	"  --strict                 refuse what build would only warn about (a volume\n"
	"                           Windows marked dirty; an image whose WinRM refuses\n"
	"                           the plaintext login Vagrant boxes use; a box whose\n"
	"                           disk or NIC the image has no driver for)\n"
	"  --compress-level N, --threads N   VMDK deflate level (6) and threads (all CPUs)\n"
	"  --reproducible           the same input and options give a byte-identical box:\n"
	"                           UUIDs, MAC, CID, new signature derived from a SHA-256\n"
	"                           of the input file and the options; every time stamp\n"
	"                           SOURCE_DATE_EPOCH, else 2000-01-01 (SOURCE_DATE_EPOCH\n"
	"                           set in the environment implies it; native backend)\n"
	EDITS_USAGE
	BACKEND_USAGE
	"  -v, --verbose            say what the guest backend does\n"
	"  --progress, -q, --quiet  force or silence progress on stderr (default: if a\n"
	"                           TTY); --quiet also drops the box paths on stdout\n"
	"                           and the \"built\" lines\n"
	"  --json                   print a JSON summary on stdout (instead of the paths)\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit status: 0 done, 1 failed (or an edit refused by design: the hint says how\n"
	"to make it), 2 usage, 3 unreadable, unsupported or dirty input.\n";

enum {
	OPT_SIZE = 2000, OPT_NEWSIG, OPT_PROVIDER, OPT_HWUUID, OPT_MEMORY, OPT_CPUS,
	OPT_USER, OPT_PASS, OPT_BOXGZ, OPT_CATALOG, OPT_BOXNAME, OPT_BOXVER, OPT_BASEURL,
	OPT_CHKDSK, OPT_LEVEL, OPT_THREADS, OPT_STRICT, OPT_REPRO,
};

static void print_json(const struct bw_build_opts *o, const struct bw_build_result *res,
		       double secs)
{
	struct json jj;
	json_init(&jj, stdout);
	json_obj_begin(&jj);
	json_kstr(&jj, "input", o->input);
	json_kstr(&jj, "box", res->boxes[0].path);
	json_ku64(&jj, "box_size", res->box_size);
	json_ku64(&jj, "disk_size", res->disk_size);
	json_khex32(&jj, "disk_signature", res->disk_signature);
	json_ku64(&jj, "old_partition_offset", res->old_partition_offset);
	json_ku64(&jj, "partition_offset", res->partition_offset);
	json_kstr(&jj, "hardware_uuid", res->hardware_uuid[0] ? res->hardware_uuid : NULL);
	json_kstr(&jj, "backend", res->backend);
	json_ku64(&jj, "bytes_read", res->bytes_read);
	json_ku64(&jj, "bytes_skipped_free", res->bytes_skipped_free);
	json_kbool(&jj, "winrm_plaintext", res->winrm_plaintext);
	json_kbool(&jj, "reproducible", res->reproducible);
	json_kstr(&jj, "input_sha256", res->reproducible ? res->input_sha256 : NULL);
	cli_edits_json(&jj, &res->edits);
	json_key(&jj, "boxes");
	json_arr_begin(&jj);
	for (size_t k = 0; k < res->nboxes; k++) {
		json_obj_begin(&jj);
		json_kstr(&jj, "provider", res->boxes[k].provider);
		json_kstr(&jj, "box", res->boxes[k].path);
		json_ku64(&jj, "box_size", res->boxes[k].size);
		json_kstr(&jj, "sha256", res->boxes[k].sha256[0] ? res->boxes[k].sha256 : NULL);
		json_obj_end(&jj);
	}
	json_arr_end(&jj);
	if (o->catalog) {
		json_kstr(&jj, "catalog", o->catalog);
		json_kstr(&jj, "sha256", res->sha256);
	}
	json_kdouble(&jj, "seconds", secs, 3);
	json_obj_end(&jj);
}

/* A number option in [1, MAX]; 0 on a bad value. */
static long number(const char *arg, long max)
{
	char *end;
	long v = strtol(arg, &end, 10);
	return *end || end == arg || v < 1 || v > max ? 0 : v;
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
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "compress-level", required_argument, NULL, OPT_LEVEL },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "reproducible", no_argument, NULL, OPT_REPRO },
		EDITS_OPTIONS,
		BACKEND_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bw_build_opts o = { .memory_mb = 1024, .cpus = 1, .compress_level = 6 };
	struct cli_edits ce;
	cli_edits_init(&ce);
	int json = 0, progress_mode = 0, c;
	long v;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case OPT_SIZE:
			if (!(o.size = cli_parse_size(optarg)))
				return cli_usage_error("build", "--size '%s': expected bytes or a number with K, M, G or T", optarg);
			break;
		case OPT_NEWSIG: o.new_signature = 1; break;
		case OPT_PROVIDER: o.provider = optarg; break;
		case OPT_HWUUID: o.hardware_uuid = optarg; break;
		case OPT_MEMORY:
		case OPT_CPUS:
		case OPT_LEVEL:
		case OPT_THREADS:
			if (!(v = number(optarg, c == OPT_MEMORY ? 4194304 : c == OPT_LEVEL ? 9 : 256)))
				return cli_usage_error("build", "--%s '%s': expected a number from 1 to %d", 
						       c == OPT_MEMORY ? "memory" : c == OPT_CPUS ? "cpus" :
						       c == OPT_LEVEL ? "compress-level" : "threads", optarg,
						       c == OPT_MEMORY ? 4194304 : c == OPT_LEVEL ? 9 : 256);
			if (c == OPT_MEMORY) o.memory_mb = (unsigned)v;
			else if (c == OPT_CPUS) o.cpus = (unsigned)v;
			else if (c == OPT_LEVEL) o.compress_level = (int)v;
			else o.threads = (int)v;
			break;
		case OPT_USER: o.winrm_user = optarg; break;
		case OPT_PASS: o.winrm_password = optarg; break;
		case OPT_BOXGZ:
			if (strcmp(optarg, "gzip") && strcmp(optarg, "none"))
				return cli_usage_error("build", "--box-compress takes gzip or none");
			o.gzip = !strcmp(optarg, "gzip");
			break;
		case OPT_CATALOG: o.catalog = optarg; break;
		case OPT_BOXNAME: o.box_name = optarg; break;
		case OPT_BOXVER: o.box_version = optarg; break;
		case OPT_BASEURL: o.base_url = optarg; break;
		case OPT_CHKDSK: o.chkdsk = 1; break;
		case OPT_STRICT: o.strict = 1; break;
		case OPT_REPRO: o.reproducible = 1; break;
		case 'v': ce.backend.verbose = 1; break;
		case 'P': progress_mode = 1; break;
		case 'q': progress_mode = -1; break;
		case 'j': json = 1; break;
		case 'h': fputs(build_usage, stdout); return EXIT_DONE;
		default:
			if (cli_edits_option(&ce, c, optarg) == 0)
				break;
			return cli_usage_error("build", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (cli_backend_check(&ce, "build") != 0)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error("build", "one IMAGE expected");
	o.input = argv[optind];
	/* reproducible-builds.org: set and not empty means use it */
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	o.source_date_epoch = sde && *sde ? sde : NULL;
	o.edits = ce.edits;
	o.backend = ce.backend;
	struct cli_hooks ch;
	cli_hooks_init(&ch, progress_mode);
	struct bw_error err;
	bw_error_clear(&err);
	struct bw_build_result res;
	double t0 = cli_now();
	int r = bw_build(&o, &ch.hooks, &res, &err);
	cli_hooks_end(&ch);
	if (r) {
		cli_exit_signalled();    /* stopped by a signal: die of it */
		return cli_job_fail("build", &err);
	}
	double secs = cli_now() - t0;
	if (json) {
		print_json(&o, &res, secs);
	} else if (progress_mode >= 0) {
		for (size_t k = 0; k < res.nboxes; k++) {
			printf("%s\n", res.boxes[k].path);
			fprintf(stderr, "boxwright: built %s (%s, %.1f MB, %.1f s)%s%s\n", res.boxes[k].path,
				res.boxes[k].provider, (double)res.boxes[k].size / 1e6, secs,
				res.hardware_uuid[0] ? ", hardware UUID " : "", res.hardware_uuid);
		}
	}
	return EXIT_DONE;
}

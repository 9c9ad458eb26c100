/*
 * The job library (job.h) called directly, as a binding would, with no
 * CLI: a whole build, patch and convert of a fixture image through hooks
 * that record progress and warnings; the image model of the result; a
 * job stopped through its hooks; and every invalid option refused with
 * BW_EUSAGE before the input is touched.
 *
 * Needs the fixtures ($FIXTURES, built by `make check`); exits 77 (SKIP)
 * without them.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/job.h"
#include "check.h"

#define SKIP 77

struct record {
	unsigned progress_calls;
	uint64_t last_done, last_total;
	char stage[32];
	unsigned warnings;
	char warn_code[64];
	unsigned stop_after;       /* stop once this many progress calls came; 0 never */
	unsigned stop_polls;
};

static void rec_progress(void *opaque, const char *stage, uint64_t done, uint64_t total)
{
	struct record *r = opaque;
	r->progress_calls++;
	r->last_done = done;
	r->last_total = total;
	snprintf(r->stage, sizeof r->stage, "%s", stage);
}

static void rec_warn(void *opaque, const char *code, const char *msg)
{
	struct record *r = opaque;
	(void)msg;
	r->warnings++;
	snprintf(r->warn_code, sizeof r->warn_code, "%s", code);
}

static int rec_stop(void *opaque)
{
	struct record *r = opaque;
	r->stop_polls++;
	return r->stop_after && r->progress_calls >= r->stop_after;
}

/* Entries in DIR other than . and .. */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static char scratch[4096], workdir[4096];

static struct bw_job_hooks hooks_for(struct record *rec)
{
	memset(rec, 0, sizeof *rec);
	return (struct bw_job_hooks){ .progress = rec_progress, .warn = rec_warn,
				      .stop = rec_stop, .opaque = rec, .workdir = workdir };
}

/* A build of the fixture through the library, checked through the
 * library's own model of the box's disk is out of reach (the box is a
 * tar), so its result and files are checked. */
static void test_build(const char *fixtures)
{
	char in[4096], out[4200];
	snprintf(in, sizeof in, "%s/nano-sector63.vhd", fixtures);
	snprintf(out, sizeof out, "%s/job.box", scratch);
	struct record rec;
	struct bw_job_hooks h = hooks_for(&rec);
	struct bw_build_opts o = { .input = in, .output = out, .size = 64u << 20,
				   .hardware_uuid = "0b2c7a1e-4f3d-4e5a-9b8c-1d2e3f405162",
				   .edits = { .winrm = 1, .hostname = "jobtest" } };
	struct bw_build_result res;
	struct bw_error err;
	bw_error_clear(&err);
	int r = bw_build(&o, &h, &res, &err);
	if (r)
		fprintf(stderr, "build: %s\n", err.msg);
	CHECK(r == 0);
	CHECK(exists(out));
	CHECK_EQ_U64(res.disk_size, 64u << 20);
	CHECK_EQ_U64(res.partition_offset, 1048576);
	CHECK_EQ_U64(res.old_partition_offset, 63 * 512);
	CHECK(!strcmp(res.hardware_uuid, "0b2c7a1e-4f3d-4e5a-9b8c-1d2e3f405162"));
	CHECK(res.edits.bcd.bcd_devices_patched > 0);
	CHECK(res.edits.mounted.mounted_patched > 0);
	CHECK(res.edits.system.values_set > 0 && res.edits.software.values_set > 0);
	CHECK(res.box_size > 0 && res.bytes_read > 0);
	/* Progress came through the hooks, and ended at its total. */
	CHECK(rec.progress_calls > 0);
	CHECK(!strcmp(rec.stage, "build"));
	CHECK(rec.last_total > 0 && rec.last_done == rec.last_total);
	CHECK(rec.stop_polls > 0);
	CHECK_EQ_U64(dir_entries(workdir), 0);      /* the job cleaned up */
	unlink(out);
}

/* A patch, then the model of its output read back through the library. */
static void test_patch_and_model(const char *fixtures)
{
	char in[4096], out[4200], sc[4200];
	snprintf(in, sizeof in, "%s/nano-cs2.vhd", fixtures);
	snprintf(out, sizeof out, "%s/patched.vhd", scratch);
	snprintf(sc, sizeof sc, "%s/setup.cmd", scratch);
	FILE *f = fopen(sc, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("echo hello\n", f);
	fclose(f);
	struct record rec;
	struct bw_job_hooks h = hooks_for(&rec);
	struct bw_patch_opts o = { .input = in, .output = out,
				   .edits = { .hostname = "patched1", .setup_complete = sc } };
	struct bw_patch_result res;
	struct bw_error err;
	bw_error_clear(&err);
	int r = bw_patch(&o, &h, &res, &err);
	if (r)
		fprintf(stderr, "patch: %s\n", err.msg);
	CHECK(r == 0);
	CHECK(!strcmp(res.format, "vhd-dynamic"));
	CHECK_EQ_U64(res.edits.windows_partition, 1);
	CHECK_EQ_U64(res.edits.files_written, 1);
	CHECK(res.edits.setup_pending == 0);
	/* nano-cs2 has completed setup: SetupComplete.cmd would never run. */
	CHECK_EQ_U64(rec.warnings, 1);
	CHECK(!strcmp(rec.warn_code, "setup-done"));
	CHECK(rec.progress_calls > 0 && !strcmp(rec.stage, "patch"));
	CHECK_EQ_U64(dir_entries(workdir), 0);

	struct bw_image *im = NULL;
	r = bw_image_open(out, &im, &err);
	CHECK(r == 0);
	if (r)
		return;
	r = bw_image_probe(im, NULL, &h, &err);
	CHECK(r == 0);
	bw_image_diagnose(im);
	const struct bw_image_model *m = bw_image_model(im);
	CHECK(m->probed && m->win_vol == 0);
	CHECK(m->system_hive.loaded);
	CHECK(m->system_hive.loaded && m->sys.computer_name &&
	      !strcasecmp(m->sys.computer_name, "patched1"));
	CHECK(m->vols[0].has_setupcomplete);
	CHECK_EQ_U64(m->sys.current_controlset, 2);
	int setup_done = 0;
	for (int i = 0; i < m->ndiag; i++)
		setup_done += !strcmp(m->diag[i].code, "setup-done");
	CHECK_EQ_U64(setup_done, 1);
	bw_image_close(im);
	CHECK_EQ_U64(dir_entries(workdir), 0);
	unlink(out);
	unlink(sc);
}

/* A convert stopped by its hooks: BW_EINTERRUPTED, nothing left behind. */
static void test_stop(const char *fixtures)
{
	char in[4096], out[4200];
	snprintf(in, sizeof in, "%s/nano-base.vhd", fixtures);
	snprintf(out, sizeof out, "%s/stopped.vmdk", scratch);
	struct record rec;
	struct bw_job_hooks h = hooks_for(&rec);
	rec.stop_after = 1;
	struct bw_convert_opts o = { .input = in, .output = out, .threads = 1 };
	struct bw_convert_result res;
	struct bw_error err;
	int r = bw_convert(&o, &h, &res, &err);
	CHECK(r == BW_EINTERRUPTED);
	CHECK(!exists(out));
	CHECK_EQ_U64(dir_entries(scratch), 0);
	CHECK_EQ_U64(dir_entries(workdir), 0);
}

/* Every invalid option is refused with BW_EUSAGE naming it, before the
 * input is opened: the input does not exist, so a job that looked at it
 * first would fail with BW_EIO instead. */
static void expect_usage(int r, const struct bw_error *err, const char *needle)
{
	CHECK(r == BW_EUSAGE);
	if (r != BW_EUSAGE || !strstr(err->msg, needle))
		fprintf(stderr, "expected BW_EUSAGE naming '%s', got %d: %s\n", needle, r, err->msg);
	CHECK(strstr(err->msg, needle) != NULL);
}

static void test_invalid_options(void)
{
	char in[4200], out[4200];
	snprintf(in, sizeof in, "%s/no-such-image.vhd", scratch);
	snprintf(out, sizeof out, "%s/out.box", scratch);
	struct record rec;
	struct bw_job_hooks h = hooks_for(&rec);
	struct bw_error err;
	static const char *const bad_copy[] = { "no-colon" };
	struct {
		struct bw_build_opts o;
		const char *needle;
	} builds[] = {
		{ { .input = in, .output = out, .hardware_uuid = "00000000-0000-0000-0000-000000000000" }, "--hardware-uuid" },
		{ { .input = in, .output = out, .hardware_uuid = "not-a-uuid" }, "--hardware-uuid" },
		{ { .input = in, .output = out, .size = 1u << 20 }, "--size" },
		{ { .input = in, .output = out, .size = UINT64_MAX }, "--size" },
		{ { .input = in, .output = out, .provider = "parallels" }, "--provider" },
		{ { .input = in, .output = out, .provider = "hyperv,hyperv" }, "--provider" },
		{ { .input = in, .output = out, .provider = "virtualbox,,libvirt" }, "--provider" },
		{ { .input = in, .output = out, .memory_mb = 1 }, "--memory" },
		{ { .input = in, .output = out, .cpus = 1000 }, "--cpus" },
		{ { .input = in, .output = out, .compress_level = 10 }, "--compress-level" },
		{ { .input = in, .output = out, .threads = 1000 }, "--threads" },
		{ { .input = in, .output = out, .catalog = "c.json" }, "--catalog" },
		{ { .input = in, .output = out, .base_url = "" }, "--base-url" },
		{ { .input = in, .output = NULL }, "-o" },
		{ { .input = in, .output = out, .winrm_user = "" }, "WinRM user" },
		{ { .input = in, .output = out, .edits = { .hostname = "bad name!" } }, "--hostname" },
		{ { .input = in, .output = out, .edits = { .setup_complete = "/nonexistent/x.cmd" } }, "--setup-complete" },
		{ { .input = in, .output = out, .edits = { .copy_in = bad_copy, .ncopy = 1 } }, "--copy-in" },
		{ { .input = in, .output = out, .edits = { .ncopy = BW_EDITS_MAX_LIST + 1, .copy_in = bad_copy } }, "--copy-in" },
		{ { .input = in, .output = out, .backend = { .kind = (enum bw_guest_kind)42 } }, "backend" },
		{ { .input = in, .output = out, .source_date_epoch = "yesterday" }, "SOURCE_DATE_EPOCH" },
		{ { .input = in, .output = out, .source_date_epoch = "-1" }, "SOURCE_DATE_EPOCH" },
		{ { .input = in, .output = out, .source_date_epoch = "" }, "SOURCE_DATE_EPOCH" },
		{ { .input = in, .output = out, .source_date_epoch = "99999999999999999999" }, "SOURCE_DATE_EPOCH" },
		{ { .input = in, .output = out, .reproducible = 1, .backend = { .kind = BW_GUEST_GUESTFS } }, "sandbox" },
		{ { .input = in, .output = out, .source_date_epoch = "1", .backend = { .kind = BW_GUEST_GUESTFS } }, "SOURCE_DATE_EPOCH is set" },
	};
	for (size_t i = 0; i < sizeof builds / sizeof builds[0]; i++) {
		struct bw_build_result res;
		bw_error_clear(&err);
		expect_usage(bw_build(&builds[i].o, &h, &res, &err), &err, builds[i].needle);
	}
	struct bw_patch_opts p1 = { .input = in, .output = out };            /* no edit */
	struct bw_patch_opts p2 = { .input = in, .output = out, .in_place = 1, .edits = { .winrm = 1 } };
	struct bw_patch_opts p3 = { .input = in, .output = out, .edits = { .reg = bad_copy, .nreg = 1 } };
	struct bw_patch_result pres;
	expect_usage(bw_patch(&p1, &h, &pres, &err), &err, "no edit");
	expect_usage(bw_patch(&p2, &h, &pres, &err), &err, "--in-place");
	expect_usage(bw_patch(&p3, &h, &pres, &err), &err, "--reg");
	struct bw_convert_opts c1 = { .input = in, .output = "out.unknown" };
	struct bw_convert_opts c2 = { .input = in, .output = out, .format = BW_WRITE_RAW, .adapter_type = "scsi" };
	struct bw_convert_opts c3 = { .input = in, .output = out, .format = BW_WRITE_RAW, .compress_level = 11 };
	struct bw_convert_result cres;
	expect_usage(bw_convert(&c1, &h, &cres, &err), &err, "-O");
	expect_usage(bw_convert(&c2, &h, &cres, &err), &err, "--adapter-type");
	expect_usage(bw_convert(&c3, &h, &cres, &err), &err, "--compress-level");
	/* The same input with valid options reaches the input, and fails
	 * there: the refusals above were the options'. */
	struct bw_convert_opts ok = { .input = in, .output = out, .format = BW_WRITE_RAW };
	int r = bw_convert(&ok, &h, &cres, &err);
	CHECK(r == BW_EIO);
	CHECK_EQ_U64(rec.progress_calls, 0);
	CHECK_EQ_U64(dir_entries(scratch), 0);
	CHECK_EQ_U64(dir_entries(workdir), 0);
}

int main(void)
{
	const char *fixtures = getenv("FIXTURES");
	char probe[4096];
	snprintf(probe, sizeof probe, "%s/nano-base.vhd", fixtures ? fixtures : "");
	if (!fixtures || !exists(probe)) {
		fprintf(stderr, "test_job: SKIP: no fixtures ($FIXTURES)\n");
		return SKIP;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(scratch, sizeof scratch, "%s/test_job.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	snprintf(workdir, sizeof workdir, "%s/test_job_work.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(scratch) || !mkdtemp(workdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_invalid_options();
	test_stop(fixtures);
	test_build(fixtures);
	test_patch_and_model(fixtures);
	rmdir(scratch);
	rmdir(workdir);
	return check_done("test_job");
}

/*
 * Unit tests of the guest interface's native backend (libntfs-3g in
 * process) on a fresh 16 MiB volume made by mkntfs: directories, files
 * written, uploaded, replaced and read back in other letter cases, the
 * resize with ntfsresize and the dirty-flag check with ntfsfix, then a
 * read-only session that finds everything again.  The volume's own facts
 * (total sectors, dirty flag) are checked with our ntfs module, which
 * reads the disk independently of libntfs-3g.  Skipped (77) when the
 * native backend is not built or ntfs-3g's programs are not installed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/guest.h"
#include "boxwright/ntfs.h"
#include "common/bytes.h"
#include "guest/spawn.h"
#include "check.h"
#include "testfile.h"

#define SKIP 77
#define VOLUME_SIZE  (16u << 20)
#define GROWN_SIZE   (24u << 20)
#define SHRUNK_SIZE  (20u << 20)
#define BIG_SIZE     ((3u << 20) / 2 + 12345)   /* > 1 MiB, not cluster-aligned */
#define BOOT_TOTAL_SECTORS 0x28                 /* LE64, ntfs-3g layout.h */

static char tmpdir[256];
static char volume[300];

static int has(const struct bw_error *err, const char *needle)
{
	if (strstr(err->msg, needle))
		return 1;
	fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err->msg, needle);
	return 0;
}

/* Deterministic, incompressible-looking bytes: a file of zeros would not
 * show a chunk written at the wrong offset. */
static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

/* mkntfs a fresh volume of SIZE bytes at PATH: 0, SKIP when mkntfs is missing. */
static int make_volume(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || close(fd) != 0)
		return -1;
	char *argv[] = { (char *)"mkntfs", (char *)"-F", (char *)"-f", (char *)"-q",
			 (char *)"-s", (char *)"512", (char *)"-c", (char *)"4096",
			 (char *)"-L", (char *)"guest", (char *)path, NULL };
	char out[4096];
	int status;
	struct bw_error err;
	int r = bw_guest_run("mkntfs", argv, out, sizeof out, &status, &err);
	if (r == BW_ENOTFOUND)
		return SKIP;
	if (r != 0 || status != 0) {
		fprintf(stderr, "mkntfs failed (%d, exit %d): %s\n", r, status, out);
		return -1;
	}
	return 0;
}

/* Is PROG installed where bw_guest_run looks? */
static int have_program(const char *prog)
{
	char *argv[] = { (char *)prog, (char *)"--version", NULL };
	char out[256];
	int status;
	struct bw_error err;
	return bw_guest_run(prog, argv, out, sizeof out, &status, &err) != BW_ENOTFOUND;
}

/* The volume's facts read by our own ntfs module. */
static int volume_facts(uint64_t *total_sectors, int *dirty)
{
	struct bw_disk *d;
	struct bw_ntfs *v;
	struct bw_error err;
	if (bw_disk_open(volume, &d, &err) != 0) {
		fprintf(stderr, "bw_disk_open: %s\n", err.msg);
		return -1;
	}
	int r = bw_ntfs_open(d, 0, bw_disk_size(d), &v, &err);
	if (r != 0) {
		fprintf(stderr, "bw_ntfs_open: %s\n", err.msg);
		bw_disk_close(d);
		return -1;
	}
	struct bw_ntfs_state st;
	r = bw_ntfs_get_state(v, &st);
	*total_sectors = bw_ntfs_get_geometry(v)->total_sectors;
	*dirty = st.dirty;
	bw_ntfs_close(v);
	bw_disk_close(d);
	return r;
}

/* The boot sector's own total-sectors field, straight from the file. */
static uint64_t boot_total_sectors(void)
{
	uint8_t boot[512];
	int fd = open(volume, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, boot, sizeof boot, 0) : -1;
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)sizeof boot ? bw_get_le64(boot + BOOT_TOTAL_SECTORS) : 0;
}

static int read_is(struct bw_guest *g, const char *winpath, const void *want,
		   size_t wantlen)
{
	char *data = NULL;
	size_t len = 0;
	struct bw_error err;
	int r = bw_guest_read(g, winpath, 1u << 24, &data, &len, &err);
	int ok = r == 0 && len == wantlen && (!len || memcmp(data, want, len) == 0);
	if (!ok)
		fprintf(stderr, "  %s: read %d (%s), %zu bytes, want %zu\n", winpath, r,
			r ? err.msg : "", len, wantlen);
	free(data);
	return ok;
}

static int resolves_to(struct bw_guest *g, const char *winpath, const char *want)
{
	char *real = NULL;
	struct bw_error err;
	int r = bw_guest_resolve(g, winpath, &real, &err);
	int ok = r == 0 && real && strcmp(real, want) == 0;
	if (!ok)
		fprintf(stderr, "  %s: resolve %d, \"%s\", want \"%s\"\n", winpath, r,
			real ? real : "(null)", want);
	free(real);
	return ok;
}

static const char system_hive[] = "regf: the SYSTEM hive, first version, long enough to matter";
static const char short_hive[] = "regf: v2";
static unsigned char *big;

/* The read-write session: everything that changes the volume. */
static void test_write_session(void)
{
	struct bw_guest_opts o = { .backend = BW_GUEST_NATIVE };
	const char *files[] = { volume };
	struct bw_guest *g = NULL;
	struct bw_error err;
	int r = bw_guest_open(files, 1, &o, &g, &err);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "bw_guest_open: %s\n", err.msg);
		return;
	}

	/* mkdir -p creates the missing tail in the case given ... */
	CHECK(bw_guest_mkdir_p(g, "C:\\Windows\\System32\\Config\\Journal", &err) == 0);
	CHECK(resolves_to(g, "/windows/system32/config/journal",
			  "/Windows/System32/Config/Journal"));
	/* ... and reuses what exists in any case, creating only the new part. */
	CHECK(bw_guest_mkdir_p(g, "WINDOWS/system32/DRIVERS/etc", &err) == 0);
	CHECK(resolves_to(g, "\\Windows\\System32\\drivers\\ETC",
			  "/Windows/System32/DRIVERS/etc"));
	CHECK(bw_guest_mkdir_p(g, "\\windows\\SYSTEM32", &err) == 0);    /* exists: no-op */
	CHECK(bw_guest_mkdir_p(g, "/Boot", &err) == 0);

	/* write + read back, through another spelling of the path */
	CHECK(bw_guest_write(g, "\\WINDOWS\\system32\\config\\SYSTEM", system_hive,
			     sizeof system_hive, &err) == 0);
	CHECK(resolves_to(g, "c:/windows/SYSTEM32/CONFIG/system",
			  "/Windows/System32/Config/SYSTEM"));
	CHECK(read_is(g, "\\Windows\\System32\\Config\\system", system_hive,
		      sizeof system_hive));
	/* An empty file is a file. */
	CHECK(bw_guest_write(g, "\\Boot\\empty", NULL, 0, &err) == 0);
	CHECK(read_is(g, "\\boot\\EMPTY", "", 0));

	/* upload + download of a file larger than one 1 MiB chunk */
	char local[300], back[300];
	snprintf(local, sizeof local, "%s/big.bin", tmpdir);
	snprintf(back, sizeof back, "%s/big.back", tmpdir);
	CHECK(tf_write_file(local, big, BIG_SIZE) == 0);
	CHECK(bw_guest_upload(g, local, "\\Boot\\BCD", &err) == 0);
	CHECK(bw_guest_download(g, "\\BOOT\\bcd", back, &err) == 0);
	size_t len = 0;
	uint8_t *got = tf_slurp(back, &len);
	CHECK(got && len == BIG_SIZE && memcmp(got, big, BIG_SIZE) == 0);
	free(got);

	/* Misses: BW_ENOTFOUND, never an empty success. */
	char *real = (char *)"untouched";
	CHECK(bw_guest_resolve(g, "\\Windows\\System32\\config\\SOFTWARE", &real, &err) == BW_ENOTFOUND);
	CHECK(real == NULL);
	CHECK(bw_guest_resolve(g, "\\Nowhere\\at\\all", &real, &err) == BW_ENOTFOUND);
	char *data = NULL;
	CHECK(bw_guest_read(g, "\\bootmgr", 100, &data, &len, &err) == BW_ENOTFOUND);
	CHECK(data == NULL && has(&err, "bootmgr"));
	CHECK(bw_guest_download(g, "\\Boot\\missing", back, &err) == BW_ENOTFOUND);
	/* A file in a directory that does not exist is refused, not created. */
	CHECK(bw_guest_write(g, "\\NoSuchDir\\file", "x", 1, &err) == BW_ENOTFOUND);
	CHECK(has(&err, "directory does not exist"));
	/* A path through a file is not a directory. */
	CHECK(bw_guest_resolve(g, "\\Boot\\BCD\\inner", &real, &err) == BW_ENOTFOUND);

	/* Replace with shorter content: the file really shrinks (the old
	 * tail must not survive), and keeps its name. */
	CHECK(bw_guest_write(g, "\\windows\\system32\\config\\system", short_hive,
			     sizeof short_hive, &err) == 0);
	CHECK(read_is(g, "\\Windows\\System32\\Config\\SYSTEM", short_hive, sizeof short_hive));
	CHECK(resolves_to(g, "/WINDOWS/SYSTEM32/CONFIG/SYSTEM",
			  "/Windows/System32/Config/SYSTEM"));
	/* The same for a non-resident file replaced by a resident one. */
	CHECK(bw_guest_write(g, "\\Boot\\BCD", "tiny", 4, &err) == 0);
	CHECK(read_is(g, "\\Boot\\BCD", "tiny", 4));
	CHECK(bw_guest_upload(g, local, "\\Boot\\BCD", &err) == 0);   /* and back */

	/* Grow: extend the partition file, then resize to fill it; ntfsfix
	 * clears the dirty flag ntfsresize leaves. */
	uint64_t before = boot_total_sectors();
	CHECK(before > 0 && before <= VOLUME_SIZE / 512);
	CHECK(truncate(volume, GROWN_SIZE) == 0);
	r = bw_guest_resize(g, 0, BW_GUEST_RESIZE_CLEAR_DIRTY, &err);
	CHECK(r == 0);
	if (r)
		fprintf(stderr, "  bw_guest_resize: %s\n", err.msg);
	uint64_t after = boot_total_sectors();
	CHECK(after > before);
	CHECK(after > (GROWN_SIZE - (1u << 20)) / 512 && after < GROWN_SIZE / 512);
	/* The session is mounted again and sees the same files. */
	CHECK(read_is(g, "\\windows\\system32\\config\\system", short_hive, sizeof short_hive));
	CHECK(bw_guest_write(g, "\\Windows\\after-resize.txt", "grown", 5, &err) == 0);

	/* Shrink to a given size (the caller truncates the file after the
	 * session); the files stay. */
	r = bw_guest_resize(g, SHRUNK_SIZE, BW_GUEST_RESIZE_CLEAR_DIRTY, &err);
	CHECK(r == 0);
	if (r)
		fprintf(stderr, "  bw_guest_resize (shrink): %s\n", err.msg);
	uint64_t shrunk = boot_total_sectors();
	CHECK(shrunk < after && shrunk > (SHRUNK_SIZE - (1u << 20)) / 512 &&
	      shrunk < SHRUNK_SIZE / 512);
	CHECK(read_is(g, "\\Windows\\after-resize.txt", "grown", 5));

	/* A size the data does not fit in: ntfsresize's own reason, and the
	 * volume is left as it was. */
	r = bw_guest_resize(g, 1u << 20, BW_GUEST_RESIZE_CLEAR_DIRTY, &err);
	CHECK(r == BW_EGUEST);
	CHECK(has(&err, "New size can't be less than the space already occupied"));
	CHECK_EQ_U64(boot_total_sectors(), shrunk);
	/* ...and the session goes on: the volume is mounted again. */
	CHECK(read_is(g, "\\Windows\\after-resize.txt", "grown", 5));
	/* NTFS system files are never replaced. */
	CHECK(bw_guest_write(g, "\\$MFT", "x", 1, &err) == BW_EFORMAT);
	CHECK(bw_guest_write(g, "\\$Bitmap", "x", 1, &err) == BW_EFORMAT);
	CHECK(has(&err, "MFT record 6"));

	r = bw_guest_close(g, &err);
	CHECK(r == 0);
	if (r)
		fprintf(stderr, "  bw_guest_close: %s\n", err.msg);
	CHECK(truncate(volume, SHRUNK_SIZE) == 0);

	uint64_t total = 0;
	int dirty = -1;
	CHECK(volume_facts(&total, &dirty) == 0);
	CHECK_EQ_U64(total, shrunk);
	CHECK(dirty == 0);
}

/* A read-only session on the closed volume finds everything again. */
static void test_readonly_session(void)
{
	struct bw_guest_opts o = { .backend = BW_GUEST_NATIVE, .readonly = 1 };
	const char *files[] = { volume };
	struct bw_guest *g = NULL;
	struct bw_error err;
	int r = bw_guest_open(files, 1, &o, &g, &err);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "bw_guest_open (read-only): %s\n", err.msg);
		return;
	}
	CHECK(resolves_to(g, "\\WINDOWS\\SYSTEM32\\CONFIG\\JOURNAL",
			  "/Windows/System32/Config/Journal"));
	CHECK(resolves_to(g, "\\windows\\system32\\drivers\\etc",
			  "/Windows/System32/DRIVERS/etc"));
	CHECK(read_is(g, "\\Windows\\System32\\Config\\SYSTEM", short_hive, sizeof short_hive));
	CHECK(read_is(g, "\\Windows\\After-Resize.TXT", "grown", 5));
	CHECK(read_is(g, "\\boot\\empty", "", 0));
	char *data = NULL;
	size_t len = 0;
	CHECK(bw_guest_read(g, "\\Boot\\BCD", BIG_SIZE + 10, &data, &len, &err) == 0);
	CHECK(data && len == BIG_SIZE && memcmp(data, big, BIG_SIZE) == 0);
	free(data);
	/* max caps the read */
	CHECK(bw_guest_read(g, "\\Boot\\BCD", 1000, &data, &len, &err) == 0);
	CHECK(data && len == 1000 && memcmp(data, big, 1000) == 0);
	free(data);
	/* A directory is not a file. */
	CHECK(bw_guest_read(g, "\\Windows", 100, &data, &len, &err) == BW_EFORMAT);
	CHECK(has(&err, "is a directory"));
	free(data);
	/* A read-only session refuses every write, before libntfs-3g sees it. */
	CHECK(bw_guest_write(g, "\\Windows\\After-Resize.TXT", "x", 1, &err) == BW_EINVAL);
	CHECK(bw_guest_mkdir_p(g, "\\New\\Dir", &err) == BW_EINVAL);
	CHECK(read_is(g, "\\Windows\\After-Resize.TXT", "grown", 5));
	/* Read-only means read-only: the write fails and changes nothing. */
	CHECK(bw_guest_write(g, "\\Windows\\new.txt", "x", 1, &err) != 0);
	CHECK(bw_guest_resolve(g, "\\Windows\\new.txt", &data, &err) == BW_ENOTFOUND);
	CHECK(bw_guest_close(g, &err) == 0);
	CHECK(bw_guest_close(NULL, &err) == 0);
}

/* A volume that is not NTFS is bad input (BW_EFORMAT), not a host error. */
static void test_not_ntfs(void)
{
	char path[300];
	snprintf(path, sizeof path, "%s/zeros.img", tmpdir);
	static unsigned char zeros[65536];
	CHECK(tf_write_file(path, zeros, sizeof zeros) == 0);
	struct bw_guest_opts o = { .backend = BW_GUEST_NATIVE, .readonly = 1 };
	const char *files[] = { path };
	struct bw_guest *g = (struct bw_guest *)&o;
	struct bw_error err;
	CHECK(bw_guest_open(files, 1, &o, &g, &err) == BW_EFORMAT);
	CHECK(g == NULL);
	unlink(path);
}

/* The reason line taken from ntfsresize's and ntfsfix's own output. */
static void test_run_reason(void)
{
	char why[600];
	/* ntfsresize refusing to shrink below the data (ntfsresize.c) */
	static const char resize_out[] =
		"ntfsresize v2022.10.3 (libntfs-3g)\n"
		"Device name        : part.img\n"
		"NTFS volume version: 3.1\n"
		"Cluster size       : 4096 bytes\n"
		"Current volume size: 16773632 bytes (17 MB)\n"
		"Current device size: 16777216 bytes (17 MB)\n"
		"New volume size    : 4194304 bytes (5 MB)\n"
		"Checking filesystem consistency ...\n"
		"Accounting clusters ...\n"
		"Space in use       : 9 MB (52.1%)\n"
		"Collecting resizing constraints ...\n"
		"ERROR: New size can't be less than the space already occupied by data.\n"
		"You either need to delete unused files or see in the FAQ how to\n"
		"shrink the volume.\n";
	bw_guest_run_reason(resize_out, why, sizeof why);
	CHECK(strcmp(why, "ERROR: New size can't be less than the space already occupied by data.") == 0);

	/* ntfsfix -d on a volume that is not NTFS, stdout and stderr in one
	 * pipe as bw_guest_run captures them: the error lines are joined. */
	static const char fix_out[] =
		"Mounting volume... NTFS signature is missing.\n"
		"FAILED\n"
		"Attempting to correct errors... NTFS signature is missing.\n"
		"FAILED\n"
		"Failed to startup volume: Invalid argument\n"
		"NTFS signature is missing.\n"
		"Trying the alternate boot sector\n"
		"Unrecoverable error\n"
		"Volume is corrupt. You should run chkdsk.\n";
	bw_guest_run_reason(fix_out, why, sizeof why);
	CHECK(strstr(why, "Failed to startup volume: Invalid argument") != NULL);
	CHECK(strstr(why, "Unrecoverable error") != NULL);
	CHECK(strstr(why, "\n") == NULL);

	/* ntfsresize on a volume marked for chkdsk; CRLF and trailing blanks. */
	bw_guest_run_reason("ntfsresize v2022.10.3 (libntfs-3g)\r\n"
			    "ERROR: Volume is scheduled for check.  \r\n"
			    "Run chkdsk /f and please try again, or see option -f.\r\n",
			    why, sizeof why);
	CHECK(strcmp(why, "ERROR: Volume is scheduled for check.") == 0);

	/* No error word: the last non-empty line. */
	bw_guest_run_reason("Resizing...\nNothing to do: NTFS volume size is already OK.\n\n",
			    why, sizeof why);
	CHECK(strcmp(why, "Nothing to do: NTFS volume size is already OK.") == 0);

	/* Nothing at all. */
	bw_guest_run_reason("", why, sizeof why);
	CHECK(why[0] == '\0');
	bw_guest_run_reason("\n\n  \n", why, sizeof why);
	CHECK(why[0] == '\0');

	/* A small buffer truncates, always NUL-terminated. */
	char tiny[16];
	memset(tiny, 'x', sizeof tiny);
	bw_guest_run_reason(resize_out, tiny, sizeof tiny);
	CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
	CHECK(strncmp(tiny, "ERROR: New", 10) == 0);
}

int main(void)
{
	test_run_reason();
	if (!bw_guest_have(BW_GUEST_NATIVE)) {
		printf("test_guest: the native backend is not built, skipped\n");
		return SKIP;
	}
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/bw-guest-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(volume, sizeof volume, "%s/part.img", tmpdir);
	int r = make_volume(volume, VOLUME_SIZE);
	if (r == SKIP || (r == 0 && (!have_program("ntfsresize") || !have_program("ntfsfix")))) {
		printf("test_guest: ntfs-3g's mkntfs/ntfsresize/ntfsfix not installed, skipped\n");
		unlink(volume);
		rmdir(tmpdir);
		return SKIP;
	}
	CHECK(r == 0);
	big = malloc(BIG_SIZE);
	if (r == 0 && big) {
		fill(big, BIG_SIZE, 0x5eed);
		test_write_session();
		test_readonly_session();
	}
	test_not_ntfs();
	free(big);

	char path[320];
	static const char *const names[] = { "part.img", "big.bin", "big.back" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return check_done("test_guest");
}

/*
 * bw_disk's format probe (disk.c, probe.c):
 *   - each container we recognise but do not read, made here from its
 *     signature alone (the header bytes the probe looks at, nothing
 *     else), is refused with BW_EUNSUPPORTED and one line naming the
 *     file, the format and what to do instead;
 *   - near misses stay raw: a signature cut short by the end of the file,
 *     a VDI signature without its text line, a bzip2 magic without a
 *     block size, a DMG trailer of another version, an ISO 9660 with an
 *     MBR (isohybrid), a file with no signature at all, an empty file;
 *   - the formats we read still open as themselves (VHD, VHDX, VMDK, from
 *     the library's writers), a fixed VHD whose first sector looks like
 *     gzip included;
 *   - bw_disk_open_as: "raw" opens any of them as raw, other names are
 *     refused;
 *   - the hint's command line quotes a path with a space and never names
 *     the input as the output.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"

static char dir[] = "/tmp/bw-test-disk.XXXXXX";
static char path[512];

/* A file NAME of SIZE bytes, zero but for the LEN bytes of DATA at OFF
 * (OFF < 0: counted from the end). */
static const char *mk(const char *name, size_t size, long off, const void *data,
		      size_t len)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	uint8_t *b = calloc(1, size ? size : 1);
	if (!b)
		abort();
	size_t at = off < 0 ? size - (size_t)-off : (size_t)off;
	if (len)
		memcpy(b + at, data, len);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(b, 1, size, f) == size);
		fclose(f);
	}
	free(b);
	return path;
}

/* Add LEN bytes of DATA at OFF of the file made last. */
static void put(long off, const void *data, size_t len)
{
	FILE *f = fopen(path, "r+b");
	CHECK(f != NULL);
	if (!f)
		return;
	fseek(f, off, off < 0 ? SEEK_END : SEEK_SET);
	CHECK(fwrite(data, 1, len, f) == len);
	fclose(f);
}

/* Opening P fails with BW_EUNSUPPORTED, one line starting with the file's
 * name and holding each of the NEEDLES (NULL-terminated). */
static void refused(const char *p, const char *const *needles)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	bw_error_clear(&e);
	int r = bw_disk_open(p, &d, &e);
	CHECK_EQ_U64((unsigned)-r, (unsigned)-BW_EUNSUPPORTED);
	CHECK(d == NULL);
	size_t pl = strlen(p);
	CHECK(strncmp(e.msg, p, pl) == 0 && strncmp(e.msg + pl, ": ", 2) == 0);
	CHECK(strchr(e.msg, '\n') == NULL);
	for (; *needles; needles++) {
		if (!strstr(e.msg, *needles)) {
			CHECK(!"message lacks a needle");
			fprintf(stderr, "  wanted '%s' in: %s\n", *needles, e.msg);
		}
	}
	bw_disk_close(d);
	/* The caller can insist: read as raw, the file itself. */
	r = bw_disk_open_as(p, "raw", &d, &e);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(strcmp(bw_disk_format(d), "raw") == 0);
		bw_disk_close(d);
	}
}

/* P opens with format FMT. */
static void opens_as(const char *p, const char *fmt)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	bw_error_clear(&e);
	int r = bw_disk_open(p, &d, &e);
	CHECK(r == 0);
	if (r) {
		fprintf(stderr, "  %s: %s\n", p, e.msg);
		return;
	}
	if (strcmp(bw_disk_format(d), fmt) != 0) {
		CHECK(!"wrong format");
		fprintf(stderr, "  %s: %s, expected %s\n", p, bw_disk_format(d), fmt);
	}
	bw_disk_close(d);
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_refused(void)
{
	const size_t mib = 1u << 20;
	uint8_t h[16];

	/* qcow: the version tells qcow (1) from qcow2 (2, 3). */
	memcpy(h, "QFI\xfb\0\0\0\3", 8);
	refused(mk("a.qcow2", mib, 0, h, 8),
		NEEDLES("a qcow2 image (QFI\\xfb at offset 0): boxwright does not read qcow2",
			"convert it first: qemu-img convert -O vpc ", "/a.vhd"));
	memcpy(h, "QFI\xfb\0\0\0\1", 8);
	refused(mk("a.qcow", mib, 0, h, 8), NEEDLES("a qcow (version 1) image", "does not read qcow;"));

	refused(mk("a.qed", mib, 0, "QED\0", 4), NEEDLES("a QED image (QED\\0 at offset 0)", "does not read QED"));

	mk("a.vdi", mib, 0, "<<< Oracle VM VirtualBox Disk Image >>>\n", 40);
	bw_put_le32(h, 0xbeda107fu);
	put(0x40, h, 4);
	refused(path, NEEDLES("a VirtualBox VDI image (signature 0xbeda107f at offset 64)", "does not read VDI"));

	refused(mk("a.hdd", mib, 0, "WithoutFreeSpace", 16), NEEDLES("a Parallels image (WithoutFreeSpace"));
	refused(mk("b.hdd", mib, 0, "WithouFreSpacExt", 16), NEEDLES("a Parallels image (WithouFreSpacExt"));

	bw_put_le32(h, 0x44574f43u);
	refused(mk("cowd.vmdk", mib, 0, h, 4), NEEDLES("a VMDK COWD extent (ESX vmfsSparse)", "qemu-img convert -O vpc"));

	/* Descriptor files: each createType is named. */
	static const char *const types[] = { "twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
					     "monolithicFlat", "vmfs", "vmfsSparse" };
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		char text[400], want[64];
		int n = snprintf(text, sizeof text,
				 "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
				 "createType=\"%s\"\n\n# Extent description\nRW 131072 FLAT \"d-flat.vmdk\" 0\n",
				 types[i]);
		snprintf(want, sizeof want, "(createType \"%s\")", types[i]);
		refused(mk("d.vmdk", (size_t)n, 0, text, (size_t)n),
			NEEDLES("a VMDK descriptor file", want, "separate extent files",
				"qemu-img convert -O vpc"));
	}
	/* qemu's probe rule (comments, blank lines, version=); no createType. */
	static const char bare[] = "# hand-made\n\n  \r\nversion=1\nRW 8 FLAT \"x\" 0\n";
	refused(mk("e.vmdk", sizeof bare - 1, 0, bare, sizeof bare - 1),
		NEEDLES("a VMDK descriptor file (no createType)"));

	/* DMG: the UDIF trailer in the last 512 bytes, version 4, size 512. */
	uint8_t koly[12] = { 'k', 'o', 'l', 'y' };
	bw_put_be32(koly + 4, 4);
	bw_put_be32(koly + 8, 512);
	refused(mk("a.dmg", mib, -512, koly, sizeof koly),
		NEEDLES("an Apple disk image (DMG) (koly trailer at offset 1048064)", "does not read DMG"));

	refused(mk("a.raw.gz", 4096, 0, "\x1f\x8b\x08\0", 4),
		NEEDLES("a gzip-compressed file (1f 8b at offset 0)", "decompress it first: gzip -dc ",
			"/a.raw.gz > ", "/a.raw"));
	refused(mk("a.bz2", 4096, 0, "BZh9", 4),
		NEEDLES("a bzip2-compressed file (BZh at offset 0)", "bzip2 -dc "));
	refused(mk("a.xz", 4096, 0, "\xfd" "7zXZ\0", 6),
		NEEDLES("an xz-compressed file (fd 37 7a 58 5a 00 at offset 0)", "xz -dc "));
	refused(mk("a.zst", 4096, 0, "\x28\xb5\x2f\xfd", 4),
		NEEDLES("a zstd-compressed file (28 b5 2f fd at offset 0)", "zstd -dc "));
	/* A compressed file without the usual suffix: the output gets one. */
	refused(mk("plain", 4096, 0, "\x1f\x8b\x08\0", 4), NEEDLES("/plain > ", "/plain.img"));

	refused(mk("a.ova", 10240, 257, "ustar\0" "00", 8),
		NEEDLES("a tar archive (an OVA or a Vagrant box?) (ustar at offset 257)", "tar -xf "));
	refused(mk("a.zip", 4096, 0, "PK\3\4", 4), NEEDLES("a zip archive (PK\\x03\\x04 at offset 0)", "unzip "));

	refused(mk("a.iso", 64 * 1024, 0x8001, "CD001", 5),
		NEEDLES("an ISO 9660 CD/DVD image (CD001 at offset 32769)", "not installation media"));

	/* The hint is a command that works: a path with a space is quoted,
	 * and a qcow2 named .vhd is not converted onto itself. */
	memcpy(h, "QFI\xfb\0\0\0\3", 8);
	refused(mk("my disk.vhd", mib, 0, h, 8),
		NEEDLES("qemu-img convert -O vpc '", "/my disk.vhd' '", "/my disk-converted.vhd'"));
}

static void test_raw(void)
{
	const size_t mib = 1u << 20;
	opens_as(mk("zero.raw", mib, 0, "", 0), "raw");
	opens_as(mk("empty.raw", 0, 0, "", 0), "raw");
	/* An MBR boot sector: the shape of a real raw disk. */
	mk("mbr.raw", mib, 510, "\x55\xaa", 2);
	put(0, "\x33\xc0\x8e\xd0\xbc\x00\x7c", 7);
	opens_as(path, "raw");
	/* Signatures cut short by the end of the file. */
	opens_as(mk("short.gz", 2, 0, "\x1f\x8b", 2), "raw");
	opens_as(mk("short.xz", 5, 0, "\xfd" "7zXZ", 5), "raw");
	opens_as(mk("short.iso", 0x8003, 0x8001, "CD", 2), "raw");
	/* Near misses. */
	uint8_t h[8];
	bw_put_le32(h, 0xbeda107fu);
	opens_as(mk("sigonly.vdi", mib, 0x40, h, 4), "raw");      /* no "<<< " line */
	opens_as(mk("bz0", 4096, 0, "BZh0", 4), "raw");             /* no block size */
	opens_as(mk("gzip-not-deflate", 4096, 0, "\x1f\x8b\x07", 3), "raw");
	uint8_t koly[12] = { 'k', 'o', 'l', 'y' };
	bw_put_be32(koly + 4, 3);
	bw_put_be32(koly + 8, 512);
	opens_as(mk("koly3", mib, -512, koly, sizeof koly), "raw");
	/* isohybrid: an MBR in sector 0 makes the ISO a disk image. */
	mk("hybrid.iso", 64 * 1024, 0x8001, "CD001", 5);
	put(510, "\x55\xaa", 2);
	opens_as(path, "raw");
}

/* The formats we read, written by the library's writers. */
static void test_readable(void)
{
	const uint64_t size = 4u << 20;
	static const struct { enum bw_write_format f; const char *name, *fmt; } w[] = {
		{ BW_WRITE_VHD_DYNAMIC, "w.vhd", "vhd-dynamic" },
		{ BW_WRITE_VHD_FIXED, "wf.vhd", "vhd-fixed" },
		{ BW_WRITE_VHDX_DYNAMIC, "w.vhdx", "vhdx-dynamic" },
		{ BW_WRITE_VMDK_STREAM, "w.vmdk", "vmdk-streamOptimized" },
		{ BW_WRITE_VMDK_SPARSE, "ws.vmdk", "vmdk-monolithicSparse" },
	};
	uint8_t sector[512] = { 0x1f, 0x8b, 0x08 };   /* gzip-like first bytes */
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, w[i].name);
		struct bw_writer_opts o = { .format = w[i].f, .size = size, .threads = 1,
					    .name = path, .scratch = 1 };
		struct bw_writer *wr;
		struct bw_error e;
		int r = bw_writer_open(path, &o, &wr, &e);
		CHECK(r == 0);
		if (r)
			continue;
		CHECK(bw_writer_write(wr, sector, sizeof sector, 0, &e) == 0);
		CHECK(bw_writer_finish(wr, &e) == 0);
		/* A fixed VHD's first sector is the disk's: the footer wins
		 * over a gzip-like first sector. */
		opens_as(path, w[i].fmt);
	}
	/* Forced raw: the container file itself. */
	snprintf(path, sizeof path, "%s/w.vhd", dir);
	struct bw_disk *d;
	struct bw_error e;
	CHECK(bw_disk_open_as(path, "raw", &d, &e) == 0);
	if (d) {
		CHECK(strcmp(bw_disk_format(d), "raw") == 0);
		bw_disk_close(d);
	}
	CHECK(bw_disk_open_as(path, NULL, &d, &e) == 0);
	if (d) {
		CHECK(strcmp(bw_disk_format(d), "vhd-dynamic") == 0);
		bw_disk_close(d);
	}
	d = (struct bw_disk *)1;
	CHECK(bw_disk_open_as(path, "qcow2", &d, &e) == BW_EINVAL);
	CHECK(d == NULL);
	CHECK(strstr(e.msg, "only raw can be forced") != NULL);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	test_refused();
	test_raw();
	test_readable();
	/* Every file made here lies directly in DIR. */
	DIR *dp = opendir(dir);
	if (dp) {
		struct dirent *de;
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(dp);
	}
	CHECK(rmdir(dir) == 0);
	return check_done("test_disk");
}

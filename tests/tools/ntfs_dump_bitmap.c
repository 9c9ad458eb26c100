/*
 * ntfs_dump_bitmap IMAGE PARTNO OUTFILE
 *
 * Test helper for tests/e2e/ntfs-bitmap.sh: open IMAGE (any container
 * bw_disk_open knows), take MBR partition PARTNO (1..4; 0 = the whole disk
 * is the volume, for bare mkntfs images), open its NTFS volume and write
 * exactly the $Bitmap bytes to OUTFILE, so that it can be compared with
 * `ntfscat PART '$Bitmap'`.  Prints the geometry, state and used/free
 * counts on stdout.
 *
 * Exit status: 0 done, 1 failed, 2 usage, 3 unreadable/unsupported input
 * (DESIGN.md); errors are one line "ntfs_dump_bitmap: <message>".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/ntfs.h"
#include "common/bytes.h"

#define PROG "ntfs_dump_bitmap"

/* MBR layout: four 16-byte entries at 0x1BE, signature 0x55AA at 0x1FE. */
#define MBR_TABLE     0x1BE
#define MBR_ENTRY     16
#define MBR_TYPE      4   /* u8 */
#define MBR_LBA_START 8   /* le32 */
#define MBR_LBA_COUNT 12  /* le32 */
#define MBR_SIGNATURE 0x1FE

static int fail(int code, const struct bw_error *err)
{
	fprintf(stderr, PROG ": %s\n", err->msg);
	return bw_exit_status(code);
}

static const char *logfile_name(enum bw_ntfs_logfile l)
{
	switch (l) {
	case BW_NTFS_LOG_CLEAN:   return "clean";
	case BW_NTFS_LOG_UNCLEAN: return "unclean";
	default:                  return "unknown";
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: " PROG " IMAGE PARTNO OUTFILE\n"
			"  PARTNO 1..4 = MBR partition, 0 = the whole disk\n");
		return 2;
	}
	const char *image = argv[1], *outfile = argv[3];
	char *end;
	long partno = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || partno < 0 || partno > 4) {
		fprintf(stderr, PROG ": partition number '%s' (expected 0..4)\n", argv[2]);
		return 2;
	}

	struct bw_error err = {0};
	struct bw_disk *d = NULL;
	struct bw_ntfs *v = NULL;
	int status = 1, r;

	r = bw_disk_open(image, &d, &err);
	if (r)
		return fail(r, &err);

	uint64_t part_off = 0, part_size = bw_disk_size(d);
	if (partno > 0) {
		uint8_t mbr[512];
		r = bw_disk_pread(d, mbr, sizeof mbr, 0, &err);
		if (r) {
			status = fail(r, &err);
			goto out;
		}
		if (bw_get_le16(mbr + MBR_SIGNATURE) != 0xAA55) {
			fprintf(stderr, PROG ": %s: no MBR signature at offset 510\n", image);
			status = 3;
			goto out;
		}
		const uint8_t *e = mbr + MBR_TABLE + (partno - 1) * MBR_ENTRY;
		uint32_t lba = bw_get_le32(e + MBR_LBA_START);
		uint32_t count = bw_get_le32(e + MBR_LBA_COUNT);
		if (e[MBR_TYPE] == 0 || count == 0) {
			fprintf(stderr, PROG ": %s: MBR partition %ld is empty\n", image, partno);
			status = 3;
			goto out;
		}
		part_off = (uint64_t)lba * 512;
		part_size = (uint64_t)count * 512;
	}

	r = bw_ntfs_open(d, part_off, part_size, &v, &err);
	if (r) {
		status = fail(r, &err);
		goto out;
	}
	size_t n;
	const uint8_t *bitmap = bw_ntfs_bitmap(v, &n);
	int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: cannot create: %s\n", outfile, strerror(errno));
		goto out;
	}
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, bitmap + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, PROG ": %s: cannot write: %s\n", outfile,
				w < 0 ? strerror(errno) : "no progress");
			close(fd);
			goto out;
		}
		done += (size_t)w;
	}
	if (close(fd) != 0) {
		fprintf(stderr, PROG ": %s: cannot close: %s\n", outfile, strerror(errno));
		goto out;
	}

	const struct bw_ntfs_geometry *g = bw_ntfs_get_geometry(v);
	struct bw_ntfs_state st;
	bw_ntfs_get_state(v, &st);
	printf("partition offset %llu size %llu\n",
	       (unsigned long long)part_off, (unsigned long long)part_size);
	printf("cluster size %u, %llu clusters, MFT at LCN %llu, record size %u, hidden sectors %u\n",
	       (unsigned)g->cluster_size, (unsigned long long)g->total_clusters,
	       (unsigned long long)g->mft_lcn, (unsigned)g->mft_record_size,
	       (unsigned)g->hidden_sectors);
	printf("NTFS %u.%u, volume flags 0x%04x (%s), $LogFile %s (version %d.%d), label \"%s\"\n",
	       (unsigned)st.major, (unsigned)st.minor, (unsigned)st.volume_flags,
	       st.dirty ? "dirty" : "not dirty", logfile_name(st.logfile),
	       (int)st.logfile_major, (int)st.logfile_minor, st.label);
	printf("bitmap %zu bytes\n", n);
	printf("used %llu free %llu\n", (unsigned long long)st.used_clusters,
	       (unsigned long long)st.free_clusters);
	status = 0;
out:
	bw_ntfs_close(v);
	bw_disk_close(d);
	return status;
}

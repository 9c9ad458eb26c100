/*
 * Registry hive base block ("regf", the first 4096 bytes of a primary
 * hive file): is the hive dirty, i.e. do its .LOG1/.LOG2 hold changes the
 * primary file lacks?  Source: Maxim Suhanov, "Windows registry file
 * format specification" (msuhanov/regf), sections "Base block" and
 * "Dirty state of a hive"; FORMATS.md "SYSTEM and SOFTWARE hives".
 *
 * Only the base block is read: a clean primary with non-empty logs is
 * clean (Windows leaves reconciled entries in the logs), so the logs
 * themselves are never a reason to refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "win/win_internal.h"

/* Base block fields (msuhanov/regf "Base block"). */
#define REGF_SIGNATURE 0x000       /* "regf" */
#define REGF_SEQ_PRIMARY 0x004     /* LE32 */
#define REGF_SEQ_SECONDARY 0x008   /* LE32 */
#define REGF_MAJOR 0x014           /* LE32, 1 */
#define REGF_MINOR 0x018           /* LE32, 3..6 */
#define REGF_CHECKSUM WIN_REGF_CHECKSUM_OFF  /* LE32: of the 127 words before */
#define REGF_BASE_BLOCK_LEN 4096
#define REGF_MIN_LEN 512           /* all the fields above lie here */

uint32_t win_regf_checksum(const uint8_t *base)
{
	uint32_t sum = 0;
	for (size_t off = 0; off < WIN_REGF_CHECKSUM_OFF; off += 4)
		sum ^= bw_get_le32(base + off);
	if (sum == 0xFFFFFFFFu)
		sum = 0xFFFFFFFEu;
	else if (sum == 0)
		sum = 1;
	return sum;
}

int bw_hive_check(const uint8_t *base, size_t len, const char *name,
		  struct bw_hive_header *out, struct bw_error *err)
{
	memset(out, 0, sizeof *out);
	if (len < REGF_MIN_LEN)
		return bw_seterr(err, BW_EFORMAT, name,
				 "hive base block is %zu bytes (expected at least %d)",
				 len, REGF_MIN_LEN);
	if (memcmp(base + REGF_SIGNATURE, "regf", 4) != 0)
		return bw_seterr(err, BW_EFORMAT, name,
				 "not a registry hive (offset 0: expected \"regf\", found %02x %02x %02x %02x)",
				 base[0], base[1], base[2], base[3]);
	out->seq_primary = bw_get_le32(base + REGF_SEQ_PRIMARY);
	out->seq_secondary = bw_get_le32(base + REGF_SEQ_SECONDARY);
	out->major = bw_get_le32(base + REGF_MAJOR);
	out->minor = bw_get_le32(base + REGF_MINOR);
	out->checksum_stored = bw_get_le32(base + REGF_CHECKSUM);
	out->checksum_computed = win_regf_checksum(base);
	out->dirty = out->checksum_stored != out->checksum_computed ||
		     out->seq_primary != out->seq_secondary;
	return 0;
}

int bw_hive_check_file(const char *path, const char *name,
		       struct bw_hive_header *out, struct bw_error *err)
{
	if (!name)
		name = path;
	memset(out, 0, sizeof *out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bw_seterr(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				 name, "cannot open: %s", strerror(errno));
	uint8_t base[REGF_BASE_BLOCK_LEN];
	size_t got = 0;
	while (got < sizeof base) {
		ssize_t n = read(fd, base + got, sizeof base - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return bw_seterr(err, BW_EIO, name,
					 "cannot read the base block: %s",
					 strerror(e));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return bw_hive_check(base, got, name, out, err);
}

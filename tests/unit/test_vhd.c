/*
 * VHD reader: fixed and dynamic images made here byte by byte from the
 * spec, read back and compared; the allocation map; and each corruption
 * (checksums, truncation, BAT past EOF, block size, overflowing sizes,
 * unknown type, differencing) refused with BW_EFORMAT/BW_EUNSUPPORTED.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "check.h"
#include "common/bytes.h"

#define MiB (1024u * 1024u)

static char dir[] = "/tmp/bw-test-vhd.XXXXXX";
static char path[256];

static uint32_t csum(const uint8_t *p, size_t n, size_t off)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		if (i < off || i >= off + 4)
			s += p[i];
	return ~s;
}

static void footer(uint8_t f[512], uint32_t type, uint64_t size, uint64_t data_off)
{
	memset(f, 0, 512);
	memcpy(f, "conectix", 8);
	bw_put_be32(f + 8, 2);
	bw_put_be32(f + 12, 0x00010000);
	bw_put_be64(f + 16, data_off);
	memcpy(f + 28, "win ", 4);
	memcpy(f + 36, "Wi2k", 4);
	bw_put_be64(f + 40, size);
	bw_put_be64(f + 48, size);
	f[56] = 0x10; f[57] = 0x00; f[58] = 16; f[59] = 63;
	bw_put_be32(f + 60, type);
	bw_put_be32(f + 64, csum(f, 512, 64));
}

enum corrupt { OK, BAD_FOOTER_CSUM, BAD_DYN_CSUM, BAT_PAST_EOF, BLOCK_NOT_POW2,
	       SIZE_HUGE, TRUNCATED, TYPE_DIFF, TYPE_UNKNOWN, TABLE_PAST_EOF };

/* Dynamic VHD of SIZE bytes from DATA; blocks that are all zero stay unallocated. */
static void write_dynamic(const uint8_t *data, uint64_t size, uint32_t bs, enum corrupt c)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t f[512], h[1024];
	footer(f, c == TYPE_DIFF ? 4 : c == TYPE_UNKNOWN ? 9 : 3,
	       c == SIZE_HUGE ? (1ull << 62) : size, 512);
	if (c == BAD_FOOTER_CSUM)
		f[64] ^= 1;
	uint32_t n = (uint32_t)((size + bs - 1) / bs);
	uint32_t bat_bytes = (n * 4 + 511) & ~511u;
	memset(h, 0, sizeof h);
	memcpy(h, "cxsparse", 8);
	bw_put_be64(h + 8, ~0ull);
	bw_put_be64(h + 16, c == TABLE_PAST_EOF ? (1ull << 40) : 1536);
	bw_put_be32(h + 24, 0x00010000);
	bw_put_be32(h + 28, n);
	bw_put_be32(h + 32, c == BLOCK_NOT_POW2 ? bs + 512 : bs);
	bw_put_be32(h + 36, csum(h, 1024, 36));
	if (c == BAD_DYN_CSUM)
		h[36] ^= 1;
	uint8_t *bat = malloc(bat_bytes);
	memset(bat, 0xFF, bat_bytes);
	uint64_t next = 1536 + bat_bytes;     /* sectors follow the BAT */
	uint8_t bitmap[512];
	memset(bitmap, 0xFF, sizeof bitmap);
	uint8_t *zero = calloc(1, bs);
	for (uint32_t b = 0; b < n; b++) {
		if (!memcmp(data + (uint64_t)b * bs, zero, bs))
			continue;
		bw_put_be32(bat + 4 * b, (uint32_t)(next / 512));
		if (c == BAT_PAST_EOF && b == n - 1)
			bw_put_be32(bat + 4 * b, 0x00FFFFFF);
		pwrite(fd, bitmap, 512, (off_t)next);
		pwrite(fd, data + (uint64_t)b * bs, bs, (off_t)next + 512);
		next += 512 + bs;
	}
	pwrite(fd, f, 512, 0);
	pwrite(fd, h, 1024, 512);
	pwrite(fd, bat, bat_bytes, 1536);
	if (c != TRUNCATED)
		pwrite(fd, f, 512, (off_t)next);
	close(fd);
	free(bat);
	free(zero);
}

static int open_expect(int code, const char *needle)
{
	struct bw_disk *d = NULL;
	struct bw_error e;
	int r = bw_disk_open(path, &d, &e);
	CHECK(r == code);
	CHECK(d == NULL);
	if (r && needle && !strstr(e.msg, needle)) {
		fprintf(stderr, "message lacks \"%s\": %s\n", needle, e.msg);
		CHECK(0);
	}
	CHECK(r == 0 || strncmp(e.msg, path, strlen(path)) == 0);  /* names the file */
	bw_disk_close(d);
	return r;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof path, "%s/t.vhd", dir);
	const uint64_t size = 10 * MiB;       /* five 2 MiB blocks */
	uint8_t *data = calloc(1, size);
	for (uint64_t i = 0; i < 2 * MiB; i++)       /* block 0 */
		data[i] = (uint8_t)(i * 31 + (i >> 9));
	memcpy(data + 6 * MiB + 12345, "hello block 3", 13);
	data[size - 1] = 0xAB;                       /* block 4 */

	/* Dynamic: reads equal the source, across block edges too. */
	write_dynamic(data, size, 2 * MiB, OK);
	struct bw_disk *d;
	struct bw_error e;
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "vhd-dynamic") == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	uint8_t *buf = malloc(size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	CHECK(bw_disk_pread(d, buf, 3 * MiB, 1 * MiB + 7, &e) == 0);
	CHECK(memcmp(buf, data + MiB + 7, 3 * MiB) == 0);
	CHECK(bw_disk_pread(d, buf, 2, size - 1, &e) == BW_EINVAL);
	/* Allocation map: blocks 0, 3, 4 hold data. */
	uint64_t s, en;
	CHECK(bw_disk_next_data(d, 0, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 0); CHECK_EQ_U64(en, 2 * MiB);
	CHECK(bw_disk_next_data(d, 2 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 6 * MiB); CHECK_EQ_U64(en, 10 * MiB);
	CHECK(bw_disk_next_data(d, 7 * MiB, &s, &en, &e) == 1);
	CHECK_EQ_U64(s, 7 * MiB);
	CHECK(bw_disk_next_data(d, size, &s, &en, &e) == 0);
	struct bw_disk_info info;
	CHECK(bw_disk_get_info(d, &info, &e) == 0);
	CHECK(strcmp(info.creator, "win ") == 0);
	CHECK_EQ_U64(info.block_size, 2 * MiB);
	CHECK_EQ_U64(info.allocated, 6 * MiB);
	bw_disk_close(d);

	/* A smaller power-of-two block size works too. */
	write_dynamic(data, size, 512 * 1024, OK);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	bw_disk_close(d);

	/* Fixed: data then footer. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t f[512];
	footer(f, 2, size, ~0ull);
	pwrite(fd, data, size, 0);
	pwrite(fd, f, 512, (off_t)size);
	close(fd);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "vhd-fixed") == 0);
	CHECK_EQ_U64(bw_disk_size(d), size);
	CHECK(bw_disk_pread(d, buf, size, 0, &e) == 0);
	CHECK(memcmp(buf, data, size) == 0);
	bw_disk_close(d);
	/* Fixed, truncated: the footer claims more data than the file has. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pwrite(fd, data, MiB, 0);
	pwrite(fd, f, 512, MiB);
	close(fd);
	open_expect(BW_EFORMAT, "fixed VHD truncated");

	/* Each corruption. */
	write_dynamic(data, size, 2 * MiB, BAD_FOOTER_CSUM);
	open_expect(BW_EFORMAT, "footer at offset");
	write_dynamic(data, size, 2 * MiB, BAD_DYN_CSUM);
	open_expect(BW_EFORMAT, "dynamic header at offset 512: checksum mismatch");
	write_dynamic(data, size, 2 * MiB, BAT_PAST_EOF);
	open_expect(BW_EFORMAT, "BAT entry 4");
	write_dynamic(data, size, 2 * MiB, BLOCK_NOT_POW2);
	open_expect(BW_EFORMAT, "not a power of two");
	write_dynamic(data, size, 2 * MiB, SIZE_HUGE);
	open_expect(BW_EFORMAT, "current size");
	write_dynamic(data, size, 2 * MiB, TRUNCATED);
	open_expect(BW_EFORMAT, "truncated");
	write_dynamic(data, size, 2 * MiB, TYPE_DIFF);
	open_expect(BW_EUNSUPPORTED, "differencing");
	write_dynamic(data, size, 2 * MiB, TYPE_UNKNOWN);
	open_expect(BW_EUNSUPPORTED, "disk type 9");
	write_dynamic(data, size, 2 * MiB, TABLE_PAST_EOF);
	open_expect(BW_EFORMAT, "allocation table");

	/* A file with no footer at all is raw; a missing file is an I/O error. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pwrite(fd, data, MiB, 0);
	close(fd);
	CHECK(bw_disk_open(path, &d, &e) == 0);
	CHECK(strcmp(bw_disk_format(d), "raw") == 0);
	bw_disk_close(d);
	unlink(path);
	open_expect(BW_EIO, "cannot open");

	rmdir(dir);
	free(buf);
	free(data);
	return check_done("test_vhd");
}

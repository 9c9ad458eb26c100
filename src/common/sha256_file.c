/* SHA-256 of a file's bytes (sha256_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "common/sha256_file.h"

_Static_assert(BW_SHA256_SIZE == SHA256_DIGEST_SIZE, "nettle's SHA-256 digest size");

int bw_sha256_file_digest(const char *path, uint8_t digest[BW_SHA256_SIZE],
			  bw_sha256_file_check_fn check, void *ctx, struct bw_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bw_seterr(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
				 path, "cannot open: %s", strerror(errno));
	uint8_t *buf = malloc(BW_SHA256_FILE_CHUNK);
	if (!buf) {
		close(fd);
		return bw_seterr(err, BW_ENOMEM, path, "SHA-256: out of memory");
	}
	struct sha256_ctx sha;
	sha256_init(&sha);
	uint64_t off = 0;
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, BW_SHA256_FILE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = bw_seterr(err, BW_EIO, path, "read at offset %llu: %s",
				      (unsigned long long)off, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		sha256_update(&sha, (size_t)n, buf);
		off += (uint64_t)n;
		if (check && (r = check(ctx, path, off, err)) != 0)
			break;
	}
	free(buf);
	close(fd);
	if (r == 0)
		sha256_digest(&sha, BW_SHA256_SIZE, digest);
	return r;
}

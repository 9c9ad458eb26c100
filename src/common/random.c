/* bw_random_bytes (random.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/random.h>     /* getentropy lives here on macOS */
#endif

#include "common/random.h"

int bw_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	/* getentropy gives at most 256 bytes a call. */
	while (len > 0) {
		size_t n = len < 256 ? len : 256;
		if (getentropy(p, n) != 0)
			break;
		p += n;
		len -= n;
	}
	if (len == 0)
		return 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			errno = n < 0 ? errno : EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return 0;
}

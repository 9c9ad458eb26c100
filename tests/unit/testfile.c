/*
 * Helpers shared by the unit tests that make files and read them back
 * (testfile.h).
 */
#include "testfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t *tf_slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t have = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size >= SIZE_MAX)
		goto fail;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto fail;
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n <= 0)
			goto fail;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = 0;
	if (len)
		*len = have;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

int tf_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

int tf_is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

uint64_t tf_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1Dull;
}

void tf_fill_random(uint8_t *p, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(tf_rand(state) >> 56);
}

const uint8_t *tf_source_mem(const void *ctx, uint64_t off, size_t n)
{
	(void)n;
	return (const uint8_t *)ctx + off;
}

int tf_write_chunks(struct bw_writer *w, uint64_t size, tf_source_fn source, const void *ctx,
		    const size_t *chunks, size_t nchunks, uint64_t *state, const char *label)
{
	struct bw_error e;
	uint64_t off = 0;
	while (off < size) {
		size_t n = chunks[tf_rand(state) % nchunks];
		if (n > size - off)
			n = (size_t)(size - off);
		const uint8_t *p = source(ctx, off, n);
		/* A skip is drawn for zero chunks only: the order of the
		 * draws is part of each test's sequence. */
		if (!(tf_is_zero(p, n) && (tf_rand(state) & 1))) {
			int r = bw_writer_write(w, p, n, off, &e);
			if (r) {
				fprintf(stderr, "%s%swrite: %s\n", label ? label : "",
					label ? ": " : "", e.msg);
				bw_writer_abort(w);
				return r;
			}
		}
		off += n;
	}
	return 0;
}

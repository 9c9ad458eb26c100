/* Grains from a bw_writer driver's chunks (grains.h). */
#include <string.h>

#include "disk/grains.h"
#include "disk/writer_internal.h"

int bw_grains_flush(struct bw_grains *g, struct bw_error *err)
{
	if (!g->assembling)
		return 0;
	/* The unwritten rest, and the part past the end of a disk that is
	 * not a grain multiple, are zero: readers want whole grains. */
	memset(g->grain + g->fill, 0, g->size - g->fill);
	g->assembling = 0;
	if (bw_writer_all_zero(g->grain, g->size))
		return 0;               /* omitted; the buffer is reused as is */
	uint8_t *data = g->grain;
	if (g->ops.buffer)
		g->grain = NULL;        /* PUT owns it now */
	return g->ops.put(g->ctx, data, g->index, 1, err);
}

int bw_grains_write(struct bw_grains *g, const uint8_t *buf, size_t len, uint64_t off,
		    struct bw_error *err)
{
	const size_t gs = g->size;
	int r;
	while (len > 0) {
		uint64_t index = off / gs;
		size_t in = (size_t)(off % gs);
		if (g->assembling && index != g->index && (r = bw_grains_flush(g, err)) != 0)
			return r;
		if (!g->assembling && in == 0 && len >= gs) {
			/* Whole grains in the caller's buffer: a zero one is
			 * skipped (callers pass masked free space as zeros);
			 * with DIRECT a run of data grains goes out in one
			 * call without a copy. */
			size_t n = 0;
			if (bw_writer_all_zero(buf, gs)) {
				n = gs;
			} else if (g->ops.direct) {
				n = gs;
				while (n + gs <= len && !bw_writer_all_zero(buf + n, gs))
					n += gs;
				if ((r = g->ops.put(g->ctx, buf, index, n / gs, err)) != 0)
					return r;
			}
			if (n > 0) {
				buf += n;
				len -= n;
				off += n;
				continue;
			}
		}
		if (!g->assembling) {
			if (!g->grain && (r = g->ops.buffer(g->ctx, &g->grain, err)) != 0)
				return r;
			g->assembling = 1;
			g->index = index;
			g->fill = 0;
		}
		if (in > g->fill)
			memset(g->grain + g->fill, 0, in - g->fill);
		size_t n = gs - in;
		if (n > len)
			n = len;
		memcpy(g->grain + in, buf, n);
		g->fill = in + n;
		if (g->fill == gs && (r = bw_grains_flush(g, err)) != 0)
			return r;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * qcow2 version 3 writer with compressed clusters (bw_writer_qcow2_ops),
 * for libvirt boxes (FORMATS.md "qcow2", "Other Vagrant providers").
 *
 * Source: qemu docs/interop/qcow2.txt (header, refcounts, L1/L2 tables,
 * the Compressed Clusters Descriptor).  Behaviour matched to qemu's own
 * compressed writes (qemu-img convert -c): every data cluster is deflated
 * alone (compression type 0, raw deflate without a zlib header) and kept
 * compressed only when that shrinks it below a cluster; otherwise it is
 * stored as a standard cluster.  All-zero clusters are left unallocated
 * (no backing file: they read as zeros).
 *
 * File layout (64 KiB clusters):
 *   cluster 0          header (written last: a file cut short by an error
 *                      has no magic and is never taken for an image)
 *   cluster 1 ..       data in guest cluster order: compressed clusters
 *                      packed byte after byte, a stream that may run over
 *                      into the next host cluster (qcow2.txt: "Some of
 *                      these sectors may reside in the next contiguous
 *                      host cluster"); standard clusters at the next free
 *                      cluster.  When a standard cluster interrupts the
 *                      stream, later compressed clusters that fit still go
 *                      into the tail of the stream's last cluster, and the
 *                      rest of the stream restarts at the end of the file
 *   then               the L2 tables (one per 512 MiB of guest space that
 *                      holds data), the L1 table, the refcount table and
 *                      the refcount blocks, all written at finish
 *
 * Refcounts (16 bits, refcount_order 4): 1 for each metadata cluster and
 * standard data cluster; a host cluster holding compressed data counts one
 * reference for each compressed cluster whose bytes touch it, which is
 * what qemu-img check recomputes (a compressed cluster references every
 * host cluster in [offset, offset + its sectors)).  L1 entries and
 * standard L2 entries carry the COPIED flag (bit 63: refcount exactly
 * one); compressed entries never do (qcow2.txt).
 *
 * Compression runs on all cores through the ordered pipeline of workers.h,
 * which makes zlib streams (RFC 1950): a 2-byte header (CMF 0x78, FLG
 * without FDICT, as our compressors always write it), the raw deflate
 * data, a 4-byte Adler-32.  The raw deflate qcow2 wants is that stream
 * without its first 2 and last 4 bytes, so the shared workers serve qcow2
 * unchanged; the Adler-32 they compute is the only waste (libdeflate does
 * it at memory speed).  When deflate does not fit under a cluster the
 * pipeline hands back the stored form (deflate.h), whose stored blocks
 * carry the cluster verbatim: it is unpacked and written as a standard
 * cluster.  The deflate window is 32 KiB where qemu's own writer uses
 * 4 KiB (windowBits -12); qemu inflates a whole cluster in one inflate()
 * call, and zlib checks a match distance against the output of that call,
 * so longer distances decode (tests/unit/test_qcow2_write.c and
 * tests/e2e/qcow2-write.sh check that with qemu-img).
 *
 * Memory: the workers' queue (workers.h), one 64 KiB L2 table for each
 * 512 MiB of guest space that holds data, the L1 pointers (8 bytes per
 * 512 MiB of virtual size) and 2 bytes of refcount per host cluster of
 * output (64 KiB per 2 GiB written); all freed at finish.
 *
 * The output depends only on the data, the virtual size and the deflate
 * level: not on the number of threads or the caller's chunk sizes.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "disk/deflate.h"
#include "disk/workers.h"
#include "disk/writer_internal.h"

/* ---- format constants (qcow2.txt) --------------------------------------- */

#define QCOW2_MAGIC                 0x514649fbu     /* "QFI\xfb" */
#define QCOW2_VERSION               3u
/* Header fields, big-endian ("== Header =="). */
#define QCOW2_HDR_MAGIC             0
#define QCOW2_HDR_VERSION           4
#define QCOW2_HDR_BACKING_OFFSET    8
#define QCOW2_HDR_BACKING_SIZE      16
#define QCOW2_HDR_CLUSTER_BITS      20
#define QCOW2_HDR_SIZE              24
#define QCOW2_HDR_CRYPT_METHOD      32
#define QCOW2_HDR_L1_SIZE           36
#define QCOW2_HDR_L1_OFFSET         40
#define QCOW2_HDR_REFTABLE_OFFSET   48
#define QCOW2_HDR_REFTABLE_CLUSTERS 56
#define QCOW2_HDR_NB_SNAPSHOTS      60
#define QCOW2_HDR_SNAPSHOTS_OFFSET  64
#define QCOW2_HDR_INCOMPATIBLE      72
#define QCOW2_HDR_COMPATIBLE        80
#define QCOW2_HDR_AUTOCLEAR         88
#define QCOW2_HDR_REFCOUNT_ORDER    96
#define QCOW2_HDR_HEADER_LENGTH     100
/* Version 3 header without the optional compression_type byte (absent
 * means zlib), followed by the end-of-extensions marker (type 0, length 0). */
#define QCOW2_HDR_LEN_V3            104u
#define QCOW2_HDR_EXT_END_LEN       8u

#define QCOW2_OFLAG_COPIED          (UINT64_C(1) << 63)
#define QCOW2_OFLAG_COMPRESSED      (UINT64_C(1) << 62)

/* What this writer produces: 64 KiB clusters (qemu's default), 16-bit
 * refcounts (refcount_order 4, qemu's default). */
#define QCOW2_W_CLUSTER_BITS        16u
#define QCOW2_W_CLUSTER             (UINT32_C(1) << QCOW2_W_CLUSTER_BITS)
#define QCOW2_W_L2_ENTRIES          (QCOW2_W_CLUSTER / 8u)          /* 8192 */
#define QCOW2_W_REFCOUNT_ORDER      4u
#define QCOW2_W_REFBLOCK_ENTRIES    (QCOW2_W_CLUSTER * 8u / 16u)    /* 32768 */
#define QCOW2_W_REFCOUNT_MAX        0xFFFFu
#define QCOW2_SECTOR                512u
/* Compressed Clusters Descriptor: x = 62 - (cluster_bits - 8) = 54; bits
 * 0..x-1 the host byte offset, bits x..61 the number of 512-byte sectors
 * after the one holding the offset. */
#define QCOW2_W_CSIZE_SHIFT         (62u - (QCOW2_W_CLUSTER_BITS - 8u))
#define QCOW2_W_CSIZE_MASK          ((UINT64_C(1) << (QCOW2_W_CLUSTER_BITS - 8u)) - 1)
#define QCOW2_W_COFFSET_LIMIT       (UINT64_C(1) << QCOW2_W_CSIZE_SHIFT)
/* Standard descriptors and L1 entries hold bits 9..55 of the offset. */
#define QCOW2_OFFSET_LIMIT          (UINT64_C(1) << 56)
/* qemu's implementation limits (qcow2.txt, "size" and "Host cluster
 * management"): an L1 table of at most 32 MiB, a refcount table of at
 * most 8 MiB.  At 64 KiB clusters that is 2 PiB either way. */
#define QCOW2_W_MAX_L1_ENTRIES      (UINT64_C(32) * 1024 * 1024 / 8)
#define QCOW2_W_MAX_REFTABLE_BYTES  (UINT64_C(8) * 1024 * 1024)

/* A zlib stream around the raw deflate (RFC 1950): 2-byte header and
 * 4-byte Adler-32. */
#define QCOW2_W_ZLIB_HEAD           2u
#define QCOW2_W_ZLIB_WRAP           6u
/* Keep deflate's result when the raw data is at most a cluster minus one
 * byte, as qemu does (qcow2_co_pwritev_compressed_task compresses into a
 * buffer of cluster_size - 1 bytes and writes a standard cluster when that
 * does not fit). */
#define QCOW2_W_ZLIB_LIMIT          (QCOW2_W_CLUSTER - 1u + QCOW2_W_ZLIB_WRAP)
#define QCOW2_W_OUT_BYTES           BW_DEFLATE_STORED_SIZE(QCOW2_W_CLUSTER)
#define QCOW2_W_QUEUE_PER_THREAD    4u
#define QCOW2_W_MAX_THREADS         256
#define QCOW2_W_DEFAULT_LEVEL       6       /* zlib's default, as qemu uses */

_Static_assert(QCOW2_W_CSIZE_SHIFT == 54, "x = 62 - (16 - 8)");
_Static_assert(QCOW2_W_ZLIB_LIMIT < QCOW2_W_OUT_BYTES,
	       "the stored form is told apart from deflate by its size");
_Static_assert((QCOW2_W_CLUSTER + QCOW2_SECTOR - 1) / QCOW2_SECTOR <= QCOW2_W_CSIZE_MASK,
	       "a compressed cluster's sector count fits its field");

struct qcow2_w {
	struct bw_writer *w;
	struct bw_workers *pipe;
	uint64_t clusters;          /* guest clusters of the virtual size */
	uint32_t l1_entries;
	uint64_t **l2;              /* [l1_entries]: L2 table (host order) or NULL */
	/* Host allocation: clusters [0, alloc_end) are taken.  The compressed
	 * stream's free bytes are [cpos, cfree_end); when cfree_end equals
	 * alloc_end the stream may grow into new clusters. */
	uint64_t alloc_end;
	uint64_t cpos, cfree_end;
	uint16_t *refcount;         /* per host cluster */
	uint64_t refcount_cap;      /* entries allocated */
	uint64_t last_cluster;      /* guest cluster of the last sink call */
	int any_cluster;
	uint8_t plain[QCOW2_W_CLUSTER];     /* a stored cluster, unpacked */
};

/* ---- host clusters and refcounts ---------------------------------------- */

/* Make room for refcounts of host clusters below END (bytes).  Returns 0,
 * BW_EUNSUPPORTED (past what qcow2 offsets hold) or BW_ENOMEM. */
static int qcow2_w_reserve(struct qcow2_w *q, uint64_t end, struct bw_error *err)
{
	uint64_t need = (end + QCOW2_W_CLUSTER - 1) / QCOW2_W_CLUSTER;
	if (end > QCOW2_OFFSET_LIMIT)
		return bw_seterr(err, BW_EUNSUPPORTED, q->w->path,
				 "output passes 64 PiB (offset %llu): qcow2 tables cannot point there",
				 (unsigned long long)end);
	if (need <= q->refcount_cap)
		return 0;
	uint64_t cap = q->refcount_cap ? q->refcount_cap : 1024;
	while (cap < need)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof *q->refcount)
		return bw_seterr(err, BW_ENOMEM, q->w->path, "out of memory for refcounts");
	uint16_t *rc = realloc(q->refcount, (size_t)cap * sizeof *rc);
	if (!rc)
		return bw_seterr(err, BW_ENOMEM, q->w->path,
				 "out of memory for the refcounts of %llu clusters",
				 (unsigned long long)cap);
	memset(rc + q->refcount_cap, 0, (size_t)(cap - q->refcount_cap) * sizeof *rc);
	q->refcount = rc;
	q->refcount_cap = cap;
	return 0;
}

/* One more reference to every host cluster that [OFF, OFF+LEN) touches.
 * Returns 0, BW_EUNSUPPORTED (a 16-bit refcount would overflow: it cannot,
 * a deflated cluster takes more than 16 bytes) or BW_ENOMEM. */
static int qcow2_w_ref(struct qcow2_w *q, uint64_t off, uint64_t len, struct bw_error *err)
{
	int r = qcow2_w_reserve(q, off + len, err);
	if (r)
		return r;
	for (uint64_t c = off / QCOW2_W_CLUSTER; c <= (off + len - 1) / QCOW2_W_CLUSTER; c++) {
		if (q->refcount[c] == QCOW2_W_REFCOUNT_MAX)
			return bw_seterr(err, BW_EUNSUPPORTED, q->w->path,
					 "host cluster at %llu would be referenced more than %u times",
					 (unsigned long long)c * QCOW2_W_CLUSTER,
					 QCOW2_W_REFCOUNT_MAX);
		q->refcount[c]++;
	}
	return 0;
}

/* N whole clusters at the end of the file, each with refcount 1. */
static int qcow2_w_alloc_clusters(struct qcow2_w *q, uint64_t n, uint64_t *off,
				  struct bw_error *err)
{
	*off = q->alloc_end;
	int r = qcow2_w_ref(q, q->alloc_end, n * QCOW2_W_CLUSTER, err);
	if (r == 0)
		q->alloc_end += n * QCOW2_W_CLUSTER;
	return r;
}

/*
 * Where LEN bytes of compressed data go: on in the stream while it may
 * grow or the bytes fit in its tail, else a new stream at the end of the
 * file.  Counts the references.
 */
static int qcow2_w_alloc_compressed(struct qcow2_w *q, size_t len, uint64_t *off,
				    struct bw_error *err)
{
	uint64_t at;
	if (q->cfree_end == q->alloc_end || q->cfree_end - q->cpos >= len)
		at = q->cpos;
	else
		at = q->alloc_end;
	if (at >= QCOW2_W_COFFSET_LIMIT)
		return bw_seterr(err, BW_EUNSUPPORTED, q->w->path,
				 "compressed data at offset %llu is past the 16 PiB a descriptor holds",
				 (unsigned long long)at);
	int r = qcow2_w_ref(q, at, len, err);
	if (r)
		return r;
	q->cpos = at + len;
	if (q->cpos > q->alloc_end) {
		/* The stream grew (or restarted) at the end of the file. */
		q->alloc_end = (q->cpos + QCOW2_W_CLUSTER - 1) / QCOW2_W_CLUSTER * QCOW2_W_CLUSTER;
		q->cfree_end = q->alloc_end;
	}
	*off = at;
	return 0;
}

static int qcow2_w_pwrite(struct qcow2_w *q, const void *buf, size_t len, uint64_t off,
			  struct bw_error *err)
{
	int r = bw_writer_pwrite(q->w, buf, len, off, err);
	if (r == 0 && off + len > q->w->bytes_out)
		q->w->bytes_out = off + len;
	return r;
}

/* ---- the pipeline's sink ------------------------------------------------- */

/*
 * The cluster from the stored form bw_deflate_zlib_stored writes: zlib
 * header, then stored blocks (BFINAL/BTYPE byte, LEN, NLEN, LEN bytes),
 * then the Adler-32.  Returns 0 or BW_EINVAL when it is not that.
 */
static int qcow2_w_unstore(struct qcow2_w *q, const uint8_t *z, size_t zlen,
			   struct bw_error *err)
{
	size_t pos = QCOW2_W_ZLIB_HEAD, got = 0;
	int final = 0;
	while (!final) {
		if (zlen - pos < 5)
			break;
		uint8_t bhead = z[pos];
		uint16_t n = bw_get_le16(z + pos + 1);
		if ((bhead & 0x06) != 0 || (bw_get_le16(z + pos + 3) ^ n) != 0xFFFFu ||
		    zlen - pos - 5 < n || QCOW2_W_CLUSTER - got < n)
			break;
		memcpy(q->plain + got, z + pos + 5, n);
		got += n;
		pos += 5u + n;
		final = bhead & 1;
	}
	if (!final || got != QCOW2_W_CLUSTER || zlen - pos != 4)
		return bw_seterr(err, BW_EINVAL, q->w->path,
				 "internal error: a stored cluster of %zu bytes is not in stored form",
				 zlen);
	return 0;
}

static uint64_t *qcow2_w_l2_entry(struct qcow2_w *q, uint64_t cluster, struct bw_error *err)
{
	uint64_t l1 = cluster / QCOW2_W_L2_ENTRIES;
	if (!q->l2[l1]) {
		q->l2[l1] = calloc(QCOW2_W_L2_ENTRIES, sizeof **q->l2);
		if (!q->l2[l1]) {
			bw_seterr(err, BW_ENOMEM, q->w->path, "out of memory for an L2 table");
			return NULL;
		}
	}
	return &q->l2[l1][cluster % QCOW2_W_L2_ENTRIES];
}

/* One deflated guest cluster, in cluster order (its key is the cluster index).
 * Returns 0, BW_EIO, BW_ENOMEM, BW_EUNSUPPORTED or BW_EINVAL (a broken
 * pipeline). */
static int qcow2_w_sink(void *ctx, uint64_t cluster, uint8_t *out, size_t zlen,
			struct bw_error *err)
{
	struct qcow2_w *q = ctx;
	if ((q->any_cluster && cluster <= q->last_cluster) || cluster >= q->clusters ||
	    zlen <= QCOW2_W_ZLIB_WRAP || zlen > QCOW2_W_OUT_BYTES)
		return bw_seterr(err, BW_EINVAL, q->w->path,
				 "internal error: cluster %llu out of order or of size %zu",
				 (unsigned long long)cluster, zlen);
	uint64_t *entry = qcow2_w_l2_entry(q, cluster, err);
	if (!entry)
		return BW_ENOMEM;
	uint64_t off = 0;
	int r;
	if (zlen <= QCOW2_W_ZLIB_LIMIT) {
		const uint8_t *raw = out + QCOW2_W_ZLIB_HEAD;
		size_t len = zlen - QCOW2_W_ZLIB_WRAP;
		if ((r = qcow2_w_alloc_compressed(q, len, &off, err)) != 0 ||
		    (r = qcow2_w_pwrite(q, raw, len, off, err)) != 0)
			return r;
		uint64_t extra_sectors = (off + len - 1) / QCOW2_SECTOR - off / QCOW2_SECTOR;
		*entry = QCOW2_OFLAG_COMPRESSED | extra_sectors << QCOW2_W_CSIZE_SHIFT | off;
	} else {
		if ((r = qcow2_w_unstore(q, out, zlen, err)) != 0 ||
		    (r = qcow2_w_alloc_clusters(q, 1, &off, err)) != 0 ||
		    (r = qcow2_w_pwrite(q, q->plain, QCOW2_W_CLUSTER, off, err)) != 0)
			return r;
		*entry = QCOW2_OFLAG_COPIED | off;
	}
	q->last_cluster = cluster;
	q->any_cluster = 1;
	return 0;
}

static int qcow2_w_write(struct bw_writer *w, const uint8_t *buf, size_t len,
			 uint64_t off, struct bw_error *err)
{
	struct qcow2_w *q = w->priv;
	return bw_workers_write(q->pipe, buf, len, off, err);
}

/* ---- open / finish / free ------------------------------------------------ */

static void qcow2_w_free(struct bw_writer *w)
{
	struct qcow2_w *q = w->priv;
	if (!q)
		return;
	bw_workers_free(q->pipe);
	if (q->l2)
		for (uint32_t i = 0; i < q->l1_entries; i++)
			free(q->l2[i]);
	free(q->l2);
	free(q->refcount);
	free(q);
	w->priv = NULL;
}

/* Returns 0, BW_EINVAL (threads, a virtual size beyond qemu's L1 limit) or
 * BW_ENOMEM. */
static int qcow2_w_open(struct bw_writer *w, struct bw_error *err)
{
	const struct bw_writer_opts *o = &w->opts;
	if (o->threads < 0 || o->threads > QCOW2_W_MAX_THREADS)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "%d compression threads (expected 0..%d)", o->threads,
				 QCOW2_W_MAX_THREADS);
	long threads = o->threads;
	if (threads == 0) {
		threads = sysconf(_SC_NPROCESSORS_ONLN);
		if (threads < 1)
			threads = 1;
		if (threads > QCOW2_W_MAX_THREADS)
			threads = QCOW2_W_MAX_THREADS;
	}
	uint64_t clusters = w->size / QCOW2_W_CLUSTER + (w->size % QCOW2_W_CLUSTER != 0);
	uint64_t l1_entries = (clusters + QCOW2_W_L2_ENTRIES - 1) / QCOW2_W_L2_ENTRIES;
	if (l1_entries > QCOW2_W_MAX_L1_ENTRIES)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "virtual size %llu needs an L1 table of %llu entries, beyond qemu's %llu",
				 (unsigned long long)w->size, (unsigned long long)l1_entries,
				 (unsigned long long)QCOW2_W_MAX_L1_ENTRIES);

	struct qcow2_w *q = calloc(1, sizeof *q);
	if (!q)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	w->priv = q;
	q->w = w;
	q->clusters = clusters;
	q->l1_entries = (uint32_t)l1_entries;
	q->l2 = calloc((size_t)l1_entries, sizeof *q->l2);
	int r;
	if (!q->l2) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory for %llu L1 entries",
			      (unsigned long long)l1_entries);
		goto out;
	}
	/* Cluster 0 is the header's; the data stream starts after it. */
	uint64_t header_off;
	if ((r = qcow2_w_alloc_clusters(q, 1, &header_off, err)) != 0)
		goto out;
	q->cpos = q->cfree_end = q->alloc_end;

	struct bw_workers_cfg cfg = {
		.threads = (unsigned)threads,
		.queue = (unsigned)threads * QCOW2_W_QUEUE_PER_THREAD,
		.level = o->compress_level ? o->compress_level : QCOW2_W_DEFAULT_LEVEL,
		.in_bytes = QCOW2_W_CLUSTER,
		.headroom = 0,
		.out_bytes = QCOW2_W_OUT_BYTES,
		.limit = QCOW2_W_ZLIB_LIMIT,
		.sink = qcow2_w_sink,
		.sink_ctx = q,
		.path = w->path,
	};
	r = bw_workers_new(&cfg, &q->pipe, err);
out:
	if (r)
		qcow2_w_free(w);
	return r;
}

/* Write TABLE (N big-endian 64-bit entries) at OFF, zero padded to whole
 * clusters. */
static int qcow2_w_write_table(struct qcow2_w *q, const uint64_t *table, uint64_t n,
			       uint64_t off, uint64_t clusters, struct bw_error *err)
{
	uint8_t *buf = calloc((size_t)clusters, QCOW2_W_CLUSTER);
	if (!buf)
		return bw_seterr(err, BW_ENOMEM, q->w->path, "out of memory for a table");
	for (uint64_t i = 0; i < n; i++)
		bw_put_be64(buf + 8 * i, table[i]);
	int r = qcow2_w_pwrite(q, buf, (size_t)clusters * QCOW2_W_CLUSTER, off, err);
	free(buf);
	return r;
}

/* The last clusters, then the tables and the header.  Returns 0, BW_EIO,
 * BW_ENOMEM or BW_EUNSUPPORTED (a refcount table beyond qemu's limit). */
static int qcow2_w_finish(struct bw_writer *w, struct bw_error *err)
{
	struct qcow2_w *q = w->priv;
	uint64_t *l1 = NULL, *reftable = NULL;
	int r;
	if ((r = bw_workers_finish(q->pipe, err)) != 0)
		return r;
	bw_workers_free(q->pipe);
	q->pipe = NULL;

	/* L2 tables, then the L1 table. */
	l1 = calloc(q->l1_entries, sizeof *l1);
	if (!l1)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory for the L1 table");
	for (uint32_t i = 0; i < q->l1_entries; i++) {
		if (!q->l2[i])
			continue;
		uint64_t off;
		if ((r = qcow2_w_alloc_clusters(q, 1, &off, err)) != 0 ||
		    (r = qcow2_w_write_table(q, q->l2[i], QCOW2_W_L2_ENTRIES, off, 1, err)) != 0)
			goto out;
		l1[i] = QCOW2_OFLAG_COPIED | off;
		free(q->l2[i]);
		q->l2[i] = NULL;
	}
	uint64_t l1_clusters = ((uint64_t)q->l1_entries * 8 + QCOW2_W_CLUSTER - 1) / QCOW2_W_CLUSTER;
	uint64_t l1_off;
	if ((r = qcow2_w_alloc_clusters(q, l1_clusters, &l1_off, err)) != 0 ||
	    (r = qcow2_w_write_table(q, l1, q->l1_entries, l1_off, l1_clusters, err)) != 0)
		goto out;

	/* The refcount table and blocks count themselves: find the smallest
	 * block count B and table size T that cover every cluster, theirs
	 * included (both only grow, so this settles in a few rounds). */
	uint64_t used = q->alloc_end / QCOW2_W_CLUSTER;
	uint64_t blocks = 1, rt_clusters = 1;
	for (;;) {
		uint64_t total = used + blocks + rt_clusters;
		uint64_t b = (total + QCOW2_W_REFBLOCK_ENTRIES - 1) / QCOW2_W_REFBLOCK_ENTRIES;
		uint64_t t = (b * 8 + QCOW2_W_CLUSTER - 1) / QCOW2_W_CLUSTER;
		if (b <= blocks && t <= rt_clusters)
			break;
		blocks = b > blocks ? b : blocks;
		rt_clusters = t > rt_clusters ? t : rt_clusters;
	}
	if (rt_clusters * QCOW2_W_CLUSTER > QCOW2_W_MAX_REFTABLE_BYTES) {
		r = bw_seterr(err, BW_EUNSUPPORTED, w->path,
			      "a refcount table of %llu clusters is beyond qemu's 8 MiB",
			      (unsigned long long)rt_clusters);
		goto out;
	}
	uint64_t rt_off, blocks_off;
	if ((r = qcow2_w_alloc_clusters(q, rt_clusters, &rt_off, err)) != 0 ||
	    (r = qcow2_w_alloc_clusters(q, blocks, &blocks_off, err)) != 0)
		goto out;
	reftable = calloc((size_t)blocks, sizeof *reftable);
	if (!reftable) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory for the refcount table");
		goto out;
	}
	/* Every cluster below alloc_end is now counted, these included. */
	uint64_t nclusters = q->alloc_end / QCOW2_W_CLUSTER;
	uint8_t *block = q->plain;      /* free now: the data is written */
	for (uint64_t b = 0; b < blocks; b++) {
		memset(block, 0, QCOW2_W_CLUSTER);
		for (uint64_t i = 0; i < QCOW2_W_REFBLOCK_ENTRIES; i++) {
			uint64_t c = b * QCOW2_W_REFBLOCK_ENTRIES + i;
			if (c >= nclusters)
				break;
			/* Big-endian 16-bit entry (refcount_order 4). */
			block[2 * i] = (uint8_t)(q->refcount[c] >> 8);
			block[2 * i + 1] = (uint8_t)q->refcount[c];
		}
		reftable[b] = blocks_off + b * QCOW2_W_CLUSTER;
		if ((r = qcow2_w_pwrite(q, block, QCOW2_W_CLUSTER, reftable[b], err)) != 0)
			goto out;
	}
	if ((r = qcow2_w_write_table(q, reftable, blocks, rt_off, rt_clusters, err)) != 0)
		goto out;

	/* The header last. */
	uint8_t h[QCOW2_HDR_LEN_V3 + QCOW2_HDR_EXT_END_LEN];
	memset(h, 0, sizeof h);
	bw_put_be32(h + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
	bw_put_be32(h + QCOW2_HDR_VERSION, QCOW2_VERSION);
	bw_put_be64(h + QCOW2_HDR_BACKING_OFFSET, 0);
	bw_put_be32(h + QCOW2_HDR_BACKING_SIZE, 0);
	bw_put_be32(h + QCOW2_HDR_CLUSTER_BITS, QCOW2_W_CLUSTER_BITS);
	bw_put_be64(h + QCOW2_HDR_SIZE, w->size);
	bw_put_be32(h + QCOW2_HDR_CRYPT_METHOD, 0);
	bw_put_be32(h + QCOW2_HDR_L1_SIZE, q->l1_entries);
	bw_put_be64(h + QCOW2_HDR_L1_OFFSET, l1_off);
	bw_put_be64(h + QCOW2_HDR_REFTABLE_OFFSET, rt_off);
	bw_put_be32(h + QCOW2_HDR_REFTABLE_CLUSTERS, (uint32_t)rt_clusters);
	bw_put_be32(h + QCOW2_HDR_NB_SNAPSHOTS, 0);
	bw_put_be64(h + QCOW2_HDR_SNAPSHOTS_OFFSET, 0);
	bw_put_be64(h + QCOW2_HDR_INCOMPATIBLE, 0);
	bw_put_be64(h + QCOW2_HDR_COMPATIBLE, 0);
	bw_put_be64(h + QCOW2_HDR_AUTOCLEAR, 0);
	bw_put_be32(h + QCOW2_HDR_REFCOUNT_ORDER, QCOW2_W_REFCOUNT_ORDER);
	bw_put_be32(h + QCOW2_HDR_HEADER_LENGTH, QCOW2_HDR_LEN_V3);
	/* h[104..111]: end of the header extension area (type 0, length 0). */
	r = qcow2_w_pwrite(q, h, sizeof h, 0, err);
out:
	free(l1);
	free(reftable);
	return r;
}

const struct bw_writer_ops bw_writer_qcow2_ops = {
	.name = "qcow2",
	.open = qcow2_w_open,
	.write = qcow2_w_write,
	.finish = qcow2_w_finish,
	.free = qcow2_w_free,
};

/*
 * VMDK streamOptimized writer (bw_writer_vmdk_ops).
 *
 * Sources: VMware "Virtual Disk Format 5.0" (SparseExtentHeader, the
 * stream-optimized compressed sparse extent and its markers) and
 * VirtualBox's reader and writer (src/VBox/Storage/VMDK.cpp:
 * vmdkStreamReadSequential, vmdkStreamAllocGrain, vmdkStreamFlushGT,
 * vmdkFreeImage, vmdkCreateStreamImage), summed up in FORMATS.md.  qemu's
 * streamOptimized output is not followed: it writes no GT/GD/footer/EOS
 * markers.
 *
 * File layout, in sectors of 512 bytes:
 *   0                 header, gdOffset = GD_AT_END
 *   1 .. 20           embedded descriptor, zero padded
 *   21 .. 127         zeros: overHead (1 + 20) is rounded up to a grain,
 *                     as VirtualBox's vmdkCreateGrainDirectory does for
 *                     streamOptimized; the first grain marker is at
 *                     overHead, where sequential readers (VirtualBox's
 *                     uGrainSectorAbs) start
 *   128 ..            grains in strictly increasing LBA: marker {LBA LE64,
 *                     size LE32} + zlib stream, padded to a sector; after
 *                     the last grain of each 512-grain span that had one, a
 *                     GT marker sector (value 4, type 1) and the 4-sector GT
 *   then              GD marker (value = GD sectors, type 2) + the GD,
 *                     footer marker (value 1, type 3) + the header again
 *                     with the real gdOffset, EOS marker (all zero)
 *
 * All-zero grains are omitted (GT entry 0).  The last grain of a disk that
 * is not a grain multiple is zero-padded to a full grain before
 * compression: VirtualBox inflates every grain to a full grain and refuses
 * a short one.  Every grain's deflate data is at most the stored size of a
 * grain (65552 bytes), below VirtualBox's 66036-byte limit
 * (VMDK_VBOX_MAX_GRAIN_DATA).
 *
 * Grains are compressed on all cores by the ordered pipeline of workers.h;
 * the grains, tables and markers are written on the caller's thread in
 * order, so the output is the same for any number of threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/derive.h"
#include "common/random.h"
#include "disk/deflate.h"
#include "disk/vmdk_format.h"
#include "disk/workers.h"
#include "disk/writer_internal.h"

#define VMDK_W_VERSION          3       /* what VMware and VirtualBox write for streamOptimized */
#define VMDK_W_GRAIN_SECTORS    VMDK_DEFAULT_GRAIN_SECTORS
#define VMDK_W_GRAIN_BYTES      (VMDK_W_GRAIN_SECTORS * VMDK_SECTOR)
#define VMDK_W_GT_BYTES         (VMDK_GTES_PER_GT * 4u)
#define VMDK_W_GT_SECTORS       (VMDK_W_GT_BYTES / VMDK_SECTOR)          /* 4 */
#define VMDK_W_SPAN_SECTORS     ((uint64_t)VMDK_GTES_PER_GT * VMDK_W_GRAIN_SECTORS)
/* 20 sectors, as VirtualBox allocates (cbDescAlloc) and qemu writes. */
#define VMDK_W_DESC_SECTORS     20u
/* 1 + 20 rounded up to a grain: 128 sectors. */
#define VMDK_W_OVERHEAD_SECTORS \
	((1u + VMDK_W_DESC_SECTORS + VMDK_W_GRAIN_SECTORS - 1) / VMDK_W_GRAIN_SECTORS * VMDK_W_GRAIN_SECTORS)
/* A grain on disk: marker + the largest stream we emit, sector-padded
 * (66048 bytes, the size of VirtualBox's read buffer). */
#define VMDK_W_GRAIN_MAX_DATA   BW_DEFLATE_STORED_SIZE(VMDK_W_GRAIN_BYTES)
#define VMDK_W_OUT_BYTES \
	((VMDK_GRAIN_MARKER_LEN + VMDK_W_GRAIN_MAX_DATA + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR)
/* Grain tables hold 32-bit sector offsets: nothing past 2 TiB is
 * addressable, in the file or (VMware's limit for sparse) the disk. */
#define VMDK_W_MAX_SECTORS      (UINT64_C(1) << 32)
/* Grains in flight per worker: enough to keep every worker busy while the
 * producer writes.  Memory: queue x (64 KiB + 66048 bytes) = 514 KiB per
 * worker, plus its compressor (workers.h). */
#define VMDK_W_QUEUE_PER_THREAD 4u
#define VMDK_W_MAX_THREADS      256
#define VMDK_W_DEFAULT_LEVEL    6

_Static_assert(VMDK_W_GRAIN_MAX_DATA <= VMDK_VBOX_MAX_GRAIN_DATA,
	       "a stored grain must fit VirtualBox's grain buffer");
_Static_assert(VMDK_W_OVERHEAD_SECTORS == 128, "overHead is one grain");
_Static_assert(VMDK_W_OUT_BYTES == 66048, "marker + stored grain, sector padded");
_Static_assert(VMDK_W_GRAIN_BYTES % 256 == 0, "zero test works in 256-byte blocks");

struct vmdk_w {
	struct bw_writer *w;
	struct bw_workers *pipe;
	uint8_t header[VMDK_HDR_SIZE];  /* leading header; the footer differs in gdOffset */
	uint64_t capacity;              /* sectors */
	uint32_t gd_entries;            /* grain tables the capacity needs */
	uint32_t *gd;                   /* sector of each GT, 0 = none (host order) */
	uint32_t gt[VMDK_GTES_PER_GT];  /* the open span's GT (host order) */
	uint64_t gt_span;               /* which span gt[] belongs to */
	int gt_used;                    /* gt[] holds at least one grain */
	uint64_t pos;                   /* next file offset, sector aligned */
	uint64_t last_lba;              /* of the last grain written */
	int any_grain;
	/* The grain being assembled from write() chunks: a pipeline buffer.
	 * An all-zero grain is not submitted and its buffer is reused. */
	uint8_t *grain;
	int assembling;
	uint64_t grain_index;
	size_t fill;                    /* bytes of grain[] already set */
};

/* ---- identity: CID and image UUID ------------------------------------ */

/* Random bytes (bw_random_bytes); if that fails, a splitmix64 stream
 * seeded from the clock and pid.  The values only have
 * to differ between images (CID, uuid.image), not resist an attacker. */
static void vmdk_w_random(uint8_t *buf, size_t len)
{
	size_t got = bw_random_bytes(buf, len) == 0 ? len : 0;
	if (got < len) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
			     (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)buf;
		for (; got < len; got++) {
			uint64_t z = (x += UINT64_C(0x9E3779B97F4A7C15));
			z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
			z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
			buf[got] = (uint8_t)(z ^ (z >> 31));
		}
	}
}

/* ---- header and descriptor ------------------------------------------- */

static void vmdk_w_build_header(struct vmdk_w *v)
{
	uint8_t *h = v->header;
	memset(h, 0, VMDK_HDR_SIZE);
	bw_put_le32(h + VMDK_HDR_MAGIC, VMDK_MAGIC);
	bw_put_le32(h + VMDK_HDR_VERSION, VMDK_W_VERSION);
	bw_put_le32(h + VMDK_HDR_FLAGS, VMDK_FLAG_VALID_NEWLINE | VMDK_FLAG_COMPRESSED |
		    VMDK_FLAG_MARKERS);
	bw_put_le64(h + VMDK_HDR_CAPACITY, v->capacity);
	bw_put_le64(h + VMDK_HDR_GRAIN_SIZE, VMDK_W_GRAIN_SECTORS);
	bw_put_le64(h + VMDK_HDR_DESC_OFFSET, 1);
	bw_put_le64(h + VMDK_HDR_DESC_SIZE, VMDK_W_DESC_SECTORS);
	bw_put_le32(h + VMDK_HDR_NUM_GTES_PER_GT, VMDK_GTES_PER_GT);
	/* No redundant GD in a stream: flag bit 1 is clear, so spec 5.0 says
	 * rgdOffset is ignored; 0 as VMware and VirtualBox write it. */
	bw_put_le64(h + VMDK_HDR_RGD_OFFSET, 0);
	bw_put_le64(h + VMDK_HDR_GD_OFFSET, VMDK_GD_AT_END);
	bw_put_le64(h + VMDK_HDR_OVERHEAD, VMDK_W_OVERHEAD_SECTORS);
	h[VMDK_HDR_UNCLEAN_SHUTDOWN] = 0;
	h[VMDK_HDR_NEWLINE_CHARS + 0] = '\n';
	h[VMDK_HDR_NEWLINE_CHARS + 1] = ' ';
	h[VMDK_HDR_NEWLINE_CHARS + 2] = '\r';
	h[VMDK_HDR_NEWLINE_CHARS + 3] = '\n';
	bw_put_le16(h + VMDK_HDR_COMPRESS_ALGORITHM, VMDK_COMPRESS_DEFLATE);
}

/* Adapter types of the spec's ddb.adapterType, with the CHS geometry each
 * implies (63 sectors per track): IDE 16 heads, cylinders capped at 16383
 * (the ATA CHS limit); SCSI 255 heads, cylinders not capped (SCSI has no
 * CHS addressing, the value is informational). */
struct vmdk_w_adapter {
	const char *name;
	unsigned heads;
	uint64_t max_cylinders;
};
static const struct vmdk_w_adapter vmdk_w_adapters[] = {
	{ "ide", 16, 16383 },
	{ "buslogic", 255, UINT64_MAX },
	{ "lsilogic", 255, UINT64_MAX },
	{ "legacyESX", 255, UINT64_MAX },
};

static const struct vmdk_w_adapter *vmdk_w_adapter(const char *name)
{
	for (size_t i = 0; i < sizeof vmdk_w_adapters / sizeof vmdk_w_adapters[0]; i++)
		if (strcmp(vmdk_w_adapters[i].name, name) == 0)
			return &vmdk_w_adapters[i];
	return NULL;
}

/*
 * The embedded descriptor, zero padded to VMDK_W_DESC_SECTORS.  The extent
 * line names the output file's basename (readers of a monolithic image use
 * the file itself); characters a quoted descriptor value cannot hold are
 * replaced by '_'.  Returns 0 or BW_EINVAL (does not fit).
 */
static int vmdk_w_build_descriptor(struct vmdk_w *v, const struct vmdk_w_adapter *ad,
				   uint8_t *out, size_t out_len, struct bw_error *err)
{
	/* The caller writes under a temporary name: it says the final one. */
	const char *path = v->w->opts.name ? v->w->opts.name : v->w->path;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char name[256];
	size_t n = 0;
	for (; base[n] && n < sizeof name - 1; n++) {
		unsigned char ch = (unsigned char)base[n];
		name[n] = (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') ? '_' : (char)ch;
	}
	name[n] = '\0';

	uint8_t rnd[20];
	const struct bw_writer_opts *o = &v->w->opts;
	if (o->fixed_identity)
		bw_derive_bytes(o->identity, "vmdk-identity", rnd, sizeof rnd);
	else
		vmdk_w_random(rnd, sizeof rnd);
	uint32_t cid = o->vmdk_cid ? o->vmdk_cid : bw_get_le32(rnd);
	if (cid >= 0xFFFFFFFEu)         /* ffffffff = no parent, fffffffe: special */
		cid &= 0x7FFFFFFFu;
	uint8_t *u = rnd + 4;           /* RFC 4122 version 4 UUID */
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);

	uint64_t cyl = v->capacity / ((uint64_t)ad->heads * 63);
	if (cyl > ad->max_cylinders)
		cyl = ad->max_cylinders;

	int len = snprintf((char *)out, out_len,
		"# Disk DescriptorFile\n"
		"version=1\n"
		"CID=%08x\n"
		"parentCID=ffffffff\n"
		"createType=\"streamOptimized\"\n"
		"\n"
		"# Extent description\n"
		"RW %llu SPARSE \"%s\"\n"
		"\n"
		"# The Disk Data Base\n"
		"#DDB\n"
		"\n"
		"ddb.virtualHWVersion = \"4\"\n"
		"ddb.adapterType = \"%s\"\n"
		"ddb.geometry.cylinders = \"%llu\"\n"
		"ddb.geometry.heads = \"%u\"\n"
		"ddb.geometry.sectors = \"63\"\n"
		"ddb.toolsVersion = \"0\"\n"
		"ddb.uuid.image = \"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"\n"
		"ddb.uuid.parent = \"00000000-0000-0000-0000-000000000000\"\n"
		"ddb.uuid.modification = \"00000000-0000-0000-0000-000000000000\"\n"
		"ddb.uuid.parentmodification = \"00000000-0000-0000-0000-000000000000\"\n",
		cid, (unsigned long long)v->capacity, name, ad->name,
		(unsigned long long)cyl, ad->heads,
		u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
		u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	if (len < 0 || (size_t)len >= out_len)
		return bw_seterr(err, BW_EINVAL, path,
				 "VMDK descriptor does not fit in %u sectors", VMDK_W_DESC_SECTORS);
	memset(out + len, 0, out_len - (size_t)len);
	return 0;
}

/* ---- output ----------------------------------------------------------- */

static int vmdk_w_append(struct vmdk_w *v, const void *buf, size_t len, struct bw_error *err)
{
	int r = bw_writer_pwrite(v->w, buf, len, v->pos, err);
	if (r)
		return r;
	v->pos += len;
	v->w->bytes_out = v->pos;
	return 0;
}

/* The file sector at which the next append lands, as a 32-bit table entry. */
static int vmdk_w_sector32(struct vmdk_w *v, uint64_t extra_sectors, uint32_t *out,
			   struct bw_error *err)
{
	uint64_t s = v->pos / VMDK_SECTOR + extra_sectors;
	if (s >= VMDK_W_MAX_SECTORS)
		return bw_seterr(err, BW_EUNSUPPORTED, v->w->path,
				 "output passes 2 TiB (sector %llu): VMDK grain tables hold 32-bit offsets",
				 (unsigned long long)s);
	*out = (uint32_t)s;
	return 0;
}

static void vmdk_w_marker(uint8_t sector[VMDK_SECTOR], uint64_t value, uint32_t type)
{
	memset(sector, 0, VMDK_SECTOR);
	bw_put_le64(sector + VMDK_MARKER_VALUE, value);
	bw_put_le32(sector + VMDK_MARKER_SIZE, 0);
	bw_put_le32(sector + VMDK_MARKER_TYPE, type);
}

/* GT marker + the open span's grain table; records it in the GD. */
static int vmdk_w_flush_gt(struct vmdk_w *v, struct bw_error *err)
{
	uint8_t buf[VMDK_SECTOR + VMDK_W_GT_BYTES];
	uint32_t gt_sector = 0;
	int r = vmdk_w_sector32(v, 1, &gt_sector, err);
	if (r)
		return r;
	if (v->gt_span >= v->gd_entries)
		return bw_seterr(err, BW_EINVAL, v->w->path,
				 "internal error: grain table %llu past the directory's %u",
				 (unsigned long long)v->gt_span, v->gd_entries);
	vmdk_w_marker(buf, VMDK_W_GT_SECTORS, VMDK_MARKER_GT);
	for (unsigned i = 0; i < VMDK_GTES_PER_GT; i++)
		bw_put_le32(buf + VMDK_SECTOR + 4 * i, v->gt[i]);
	r = vmdk_w_append(v, buf, sizeof buf, err);
	if (r)
		return r;
	v->gd[v->gt_span] = gt_sector;
	memset(v->gt, 0, sizeof v->gt);
	v->gt_used = 0;
	return 0;
}

/* The pipeline's sink: one compressed grain, in LBA order. */
static int vmdk_w_sink(void *ctx, uint64_t lba, uint8_t *out, size_t zlen,
		       struct bw_error *err)
{
	struct vmdk_w *v = ctx;
	if ((v->any_grain && lba <= v->last_lba) || zlen == 0 ||
	    zlen > VMDK_W_GRAIN_MAX_DATA)
		return bw_seterr(err, BW_EINVAL, v->w->path,
				 "internal error: grain at LBA %llu out of order or of size %zu",
				 (unsigned long long)lba, zlen);
	uint64_t grain = lba / VMDK_W_GRAIN_SECTORS;
	uint64_t span = grain / VMDK_GTES_PER_GT;
	int r;
	if (v->gt_used && span != v->gt_span && (r = vmdk_w_flush_gt(v, err)) != 0)
		return r;
	uint32_t sector = 0;
	if ((r = vmdk_w_sector32(v, 0, &sector, err)) != 0)
		return r;
	v->gt_span = span;
	v->gt_used = 1;
	v->gt[grain % VMDK_GTES_PER_GT] = sector;

	bw_put_le64(out + VMDK_MARKER_VALUE, lba);
	bw_put_le32(out + VMDK_MARKER_SIZE, (uint32_t)zlen);
	size_t used = VMDK_GRAIN_MARKER_LEN + zlen;
	size_t total = (used + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
	memset(out + used, 0, total - used);
	if ((r = vmdk_w_append(v, out, total, err)) != 0)
		return r;
	v->last_lba = lba;
	v->any_grain = 1;
	return 0;
}

/* ---- assembling grains from write() chunks ------------------------------ */

/* Word-wise OR in 256-byte blocks: stops at the first non-zero block, and
 * gcc vectorises the inner loop. */
static int vmdk_w_grain_is_zero(const uint8_t *p)
{
	for (size_t i = 0; i < VMDK_W_GRAIN_BYTES; i += 256) {
		uint64_t acc = 0;
		for (size_t j = 0; j < 256; j += 8) {
			uint64_t x;
			memcpy(&x, p + i + j, 8);
			acc |= x;
		}
		if (acc)
			return 0;
	}
	return 1;
}

/* Zero the unwritten rest (also the part past the end of a disk that is
 * not a grain multiple), then submit, unless it is all zero. */
static int vmdk_w_close_grain(struct vmdk_w *v, struct bw_error *err)
{
	memset(v->grain + v->fill, 0, VMDK_W_GRAIN_BYTES - v->fill);
	v->assembling = 0;
	if (vmdk_w_grain_is_zero(v->grain))
		return 0;               /* omitted; v->grain is reused as is */
	v->grain = NULL;
	return bw_workers_submit(v->pipe, v->grain_index * VMDK_W_GRAIN_SECTORS, err);
}

static int vmdk_w_write(struct bw_writer *w, const uint8_t *buf, size_t len,
			uint64_t off, struct bw_error *err)
{
	struct vmdk_w *v = w->priv;
	int r;
	while (len > 0) {
		uint64_t g = off / VMDK_W_GRAIN_BYTES;
		size_t in = (size_t)(off % VMDK_W_GRAIN_BYTES);
		if (v->assembling && g != v->grain_index &&
		    (r = vmdk_w_close_grain(v, err)) != 0)
			return r;
		/* A whole zero grain in the caller's buffer: skip it without
		 * copying (callers pass masked free space as zeros). */
		if (!v->assembling && in == 0 && len >= VMDK_W_GRAIN_BYTES &&
		    vmdk_w_grain_is_zero(buf)) {
			buf += VMDK_W_GRAIN_BYTES;
			len -= VMDK_W_GRAIN_BYTES;
			off += VMDK_W_GRAIN_BYTES;
			continue;
		}
		if (!v->assembling) {
			if (!v->grain && (r = bw_workers_buffer(v->pipe, &v->grain, err)) != 0)
				return r;
			v->assembling = 1;
			v->grain_index = g;
			v->fill = 0;
		}
		if (in > v->fill)
			memset(v->grain + v->fill, 0, in - v->fill);
		size_t n = VMDK_W_GRAIN_BYTES - in;
		if (n > len)
			n = len;
		memcpy(v->grain + in, buf, n);
		v->fill = in + n;
		if (v->fill == VMDK_W_GRAIN_BYTES && (r = vmdk_w_close_grain(v, err)) != 0)
			return r;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* ---- open / finish / free ----------------------------------------------- */

static void vmdk_w_free(struct bw_writer *w)
{
	struct vmdk_w *v = w->priv;
	if (!v)
		return;
	bw_workers_free(v->pipe);
	free(v->gd);
	free(v);
	w->priv = NULL;
}

static int vmdk_w_open(struct bw_writer *w, struct bw_error *err)
{
	const struct bw_writer_opts *o = &w->opts;
	const char *adapter_name = o->adapter_type ? o->adapter_type : "ide";
	const struct vmdk_w_adapter *ad = vmdk_w_adapter(adapter_name);
	if (!ad)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "VMDK adapter type \"%s\" (expected ide, buslogic, lsilogic or legacyESX)",
				 adapter_name);
	if (o->threads < 0 || o->threads > VMDK_W_MAX_THREADS)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "%d compression threads (expected 0..%d)", o->threads,
				 VMDK_W_MAX_THREADS);
	long threads = o->threads;
	if (threads == 0) {
		threads = sysconf(_SC_NPROCESSORS_ONLN);
		if (threads < 1)
			threads = 1;
		if (threads > VMDK_W_MAX_THREADS)
			threads = VMDK_W_MAX_THREADS;
	}
	uint64_t capacity = w->size / VMDK_SECTOR;
	if (capacity > VMDK_W_MAX_SECTORS)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "virtual size %llu is beyond the 2 TiB a VMDK sparse extent holds",
				 (unsigned long long)w->size);

	struct vmdk_w *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	w->priv = v;
	v->w = w;
	v->capacity = capacity;
	v->gd_entries = (uint32_t)((capacity + VMDK_W_SPAN_SECTORS - 1) / VMDK_W_SPAN_SECTORS);
	v->gd = calloc(v->gd_entries ? v->gd_entries : 1, sizeof *v->gd);
	uint8_t *lead = calloc(VMDK_W_OVERHEAD_SECTORS, VMDK_SECTOR);
	int r;
	if (!v->gd || !lead) {
		r = bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
		goto out;
	}

	struct bw_workers_cfg cfg = {
		.threads = (unsigned)threads,
		.queue = (unsigned)threads * VMDK_W_QUEUE_PER_THREAD,
		.level = o->compress_level ? o->compress_level : VMDK_W_DEFAULT_LEVEL,
		.in_bytes = VMDK_W_GRAIN_BYTES,
		.headroom = VMDK_GRAIN_MARKER_LEN,
		.out_bytes = VMDK_W_OUT_BYTES,
		/* Keep deflate's result only when it beats the stored form:
		 * never larger than a stored grain, so always VirtualBox-safe. */
		.limit = VMDK_W_GRAIN_MAX_DATA,
		.sink = vmdk_w_sink,
		.sink_ctx = v,
		.path = w->path,
	};
	if ((r = bw_workers_new(&cfg, &v->pipe, err)) != 0)
		goto out;

	/* Header, descriptor and the zeros up to overHead, in one write. */
	vmdk_w_build_header(v);
	memcpy(lead, v->header, VMDK_HDR_SIZE);
	if ((r = vmdk_w_build_descriptor(v, ad, lead + VMDK_SECTOR,
					 VMDK_W_DESC_SECTORS * VMDK_SECTOR, err)) != 0)
		goto out;
	r = vmdk_w_append(v, lead, VMDK_W_OVERHEAD_SECTORS * VMDK_SECTOR, err);
out:
	free(lead);
	if (r)
		vmdk_w_free(w);
	return r;
}

static int vmdk_w_finish(struct bw_writer *w, struct bw_error *err)
{
	struct vmdk_w *v = w->priv;
	int r;
	if (v->assembling && (r = vmdk_w_close_grain(v, err)) != 0)
		return r;
	if ((r = bw_workers_finish(v->pipe, err)) != 0)
		return r;
	/* Release the threads and buffers now; the tail is small. */
	bw_workers_free(v->pipe);
	v->pipe = NULL;
	if (v->gt_used && (r = vmdk_w_flush_gt(v, err)) != 0)
		return r;

	/* GD marker + GD, footer marker + footer, EOS: one write. */
	size_t gd_sectors = ((size_t)v->gd_entries * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
	size_t tail_len = (1 + gd_sectors + 3) * VMDK_SECTOR;
	uint8_t *tail = calloc(1, tail_len);
	if (!tail)
		return bw_seterr(err, BW_ENOMEM, w->path, "out of memory");
	uint32_t gd_sector = 0;
	if ((r = vmdk_w_sector32(v, 1, &gd_sector, err)) != 0)
		goto out;
	uint8_t *p = tail;
	vmdk_w_marker(p, gd_sectors, VMDK_MARKER_GD);
	p += VMDK_SECTOR;
	for (uint32_t i = 0; i < v->gd_entries; i++)
		bw_put_le32(p + 4 * (size_t)i, v->gd[i]);
	p += gd_sectors * VMDK_SECTOR;
	vmdk_w_marker(p, 1, VMDK_MARKER_FOOTER);
	p += VMDK_SECTOR;
	memcpy(p, v->header, VMDK_HDR_SIZE);
	bw_put_le64(p + VMDK_HDR_GD_OFFSET, gd_sector);
	p += VMDK_SECTOR;
	vmdk_w_marker(p, 0, VMDK_MARKER_EOS);   /* all zero */
	r = vmdk_w_append(v, tail, tail_len, err);
out:
	free(tail);
	return r;
}

const struct bw_writer_ops bw_writer_vmdk_ops = {
	.name = "vmdk-stream",
	.open = vmdk_w_open,
	.write = vmdk_w_write,
	.finish = vmdk_w_finish,
	.free = vmdk_w_free,
};

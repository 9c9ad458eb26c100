/*
 * VMDK hosted sparse extents, read side: single-file monolithicSparse
 * (qemu-img's default vmdk output) and streamOptimized (compressed grains
 * with markers).  Sources: VMware "Virtual Disk Format 5.0" (sparse extent
 * header, grain directory/tables, markers, footer), qemu block/vmdk.c and
 * VirtualBox src/VBox/Storage/VMDK.cpp for what producers really write,
 * libyal's libvmdk notes for the quirks.  Constants: vmdk_format.h.
 *
 * Everything is validated once, at open (STYLE.md rule 4): the header (or
 * its footer copy), the embedded descriptor, the grain directory and every
 * grain table, and every allocated grain entry's position in the file.  The
 * whole GD and all GTs are loaded then, so pread follows only offsets that
 * passed.  What can only be checked by reading a grain (a compressed
 * grain's marker and zlib stream) is checked when it is read.
 *
 * Producer quirks accepted: streamOptimized with the GD at the front and
 * no footer (qemu-img 7.2) as well as GD_AT_END with a footer (VMware,
 * VirtualBox); compressed grains a little larger than the grain (qemu
 * writes 65562 bytes for 64 KiB of random data; the bound is VirtualBox's
 * "less than two grains"); the last grain of a disk that is not a grain
 * multiple inflating to the remainder (qemu) or to a zero-padded grain
 * (VirtualBox); grain table entries past the capacity (qemu-img).
 *
 * Refused with BW_EUNSUPPORTED: delta disks (a parent), extents of
 * multi-file disks, unknown header flags and compression algorithms.
 * Descriptor files that name other extent files and COWD (vmfsSparse)
 * extents never reach this driver: probe.c names and refuses them.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/bytes.h"
#include "disk/disk_internal.h"
#include "disk/vmdk_format.h"

/* Reader limits.  Far above anything VMware, VirtualBox or qemu write
 * (grain 128 sectors, 512 GTEs per GT, disks of a few TiB at most), low
 * enough that a crafted header cannot make us allocate much.  The loaded
 * tables are also bounded by the file (they must lie in it, disjoint), so
 * a file costs at most its own size: the table cap only bounds a real
 * disk's, 1 GiB being the fully preallocated tables of 16 TiB at qemu's
 * geometry (qemu-img makes 2 TiB ones: 128 MiB). */
#define VMDK_MIN_GRAIN_SECTORS 8u                  /* spec: at least 4 KiB */
#define VMDK_MAX_GRAIN_SECTORS 4096u               /* 2 MiB */
#define VMDK_MIN_GTES_PER_GT   128u                /* VirtualBox's minimum */
#define VMDK_MAX_GTES_PER_GT   512u                /* qemu's maximum */
#define VMDK_MAX_CAPACITY      (UINT64_C(1) << 37) /* sectors: 64 TiB */
#define VMDK_MAX_TABLE_BYTES   (UINT64_C(1) << 30) /* GD + loaded GTs */

/* The footer of a streamOptimized file with GD_AT_END: three sectors at
 * the end, a footer marker, a copy of the header with the real gdOffset,
 * an end-of-stream marker (spec "The Footer"; qemu reads them at -1536). */
#define VMDK_FOOTER_TAIL       (3u * VMDK_SECTOR)

#define VMDK_NO_GT             UINT32_MAX          /* GD slot without a GT */
#define VMDK_NO_GRAIN          UINT64_MAX          /* empty grain cache */

/* The header fields we use, decoded (wimlib's on-disk/in-memory split). */
struct vmdk_header {
	uint32_t version;
	uint32_t flags;
	uint64_t capacity;          /* sectors */
	uint64_t grain_sectors;
	uint64_t desc_offset;       /* sectors */
	uint64_t desc_size;         /* sectors */
	uint32_t gtes_per_gt;
	uint64_t rgd_offset;        /* sectors */
	uint64_t gd_offset;         /* sectors, maybe VMDK_GD_AT_END */
	uint64_t overhead;          /* sectors */
	uint16_t compress;
};

struct vmdk {
	struct vmdk_header h;       /* the header in effect (footer copy if any) */
	uint64_t hdr_at;            /* its file offset, for messages */
	uint32_t grain_bytes;
	uint64_t ngrains;           /* ceil(capacity / grain) */
	uint32_t ngts;              /* grain directory entries */
	uint32_t *gd_slot;          /* per GD entry: GT index in gts, or VMDK_NO_GT */
	uint32_t *gts;              /* loaded grain tables, host-endian GTEs */
	int compressed;
	int zero_grain;             /* GTE 1 means "zero grain" */
	char adapter[16];           /* the descriptor's ddb.adapterType, or "" */
	/* streamOptimized: the last inflated grain (reads come in order). */
	uint8_t *comp;              /* marker data, < 2 grains */
	uint8_t *grain;
	uint64_t cached;
	z_stream zs;
	int zs_ready;
};

/* ---- probe ------------------------------------------------------------ */

/* Only hosted sparse extents ("KDMV"): descriptor files and COWD extents
 * are named and refused by probe.c, never read as raw. */
static int vmdk_probe(const uint8_t *head, const uint8_t *tail, uint64_t file_size)
{
	(void)tail; (void)file_size;
	return bw_get_le32(head + VMDK_HDR_MAGIC) == VMDK_MAGIC;
}

/* ---- header ----------------------------------------------------------- */

/* Decode and check the 512-byte header H read at file offset AT.  The grain
 * directory offset is checked by the caller (GD_AT_END is legal in a
 * leading header).  BW_EFORMAT or BW_EUNSUPPORTED. */
static int vmdk_parse_header(struct bw_disk *d, const uint8_t *p, uint64_t at,
			     const char *which, struct vmdk_header *h,
			     struct bw_error *err)
{
	uint32_t magic = bw_get_le32(p + VMDK_HDR_MAGIC);
	if (magic != VMDK_MAGIC)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK %s at offset %llu: magic 0x%08x (expected 0x%08x \"KDMV\")",
				 which, (unsigned long long)at, magic, VMDK_MAGIC);
	h->version = bw_get_le32(p + VMDK_HDR_VERSION);
	h->flags = bw_get_le32(p + VMDK_HDR_FLAGS);
	h->capacity = bw_get_le64(p + VMDK_HDR_CAPACITY);
	h->grain_sectors = bw_get_le64(p + VMDK_HDR_GRAIN_SIZE);
	h->desc_offset = bw_get_le64(p + VMDK_HDR_DESC_OFFSET);
	h->desc_size = bw_get_le64(p + VMDK_HDR_DESC_SIZE);
	h->gtes_per_gt = bw_get_le32(p + VMDK_HDR_NUM_GTES_PER_GT);
	h->rgd_offset = bw_get_le64(p + VMDK_HDR_RGD_OFFSET);
	h->gd_offset = bw_get_le64(p + VMDK_HDR_GD_OFFSET);
	h->overhead = bw_get_le64(p + VMDK_HDR_OVERHEAD);
	h->compress = bw_get_le16(p + VMDK_HDR_COMPRESS_ALGORITHM);

	if (h->version < 1 || h->version > 3)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK %s at offset %llu: version %u (expected 1, 2 or 3)",
				 which, (unsigned long long)(at + VMDK_HDR_VERSION),
				 h->version);
	if (h->flags & ~VMDK_FLAGS_KNOWN)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK %s at offset %llu: unknown flags 0x%08x (known: 0x%08x)",
				 which, (unsigned long long)(at + VMDK_HDR_FLAGS),
				 h->flags & ~VMDK_FLAGS_KNOWN, VMDK_FLAGS_KNOWN);
	/* The newline test bytes catch a file sent through a text-mode
	 * transfer (VirtualBox refuses the same way). */
	if ((h->flags & VMDK_FLAG_VALID_NEWLINE) &&
	    memcmp(p + VMDK_HDR_NEWLINE_CHARS, "\n \r\n", 4) != 0)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK %s at offset %llu: newline test bytes %02x %02x %02x %02x (expected 0a 20 0d 0a): corrupted by CR/LF translation",
				 which, (unsigned long long)(at + VMDK_HDR_NEWLINE_CHARS),
				 p[VMDK_HDR_NEWLINE_CHARS], p[VMDK_HDR_NEWLINE_CHARS + 1],
				 p[VMDK_HDR_NEWLINE_CHARS + 2], p[VMDK_HDR_NEWLINE_CHARS + 3]);
	if (h->capacity == 0 || h->capacity > VMDK_MAX_CAPACITY)
		return bw_seterr(err, h->capacity ? BW_EUNSUPPORTED : BW_EFORMAT, d->path,
				 "VMDK %s at offset %llu: capacity %llu sectors (expected 1 to %llu)",
				 which, (unsigned long long)(at + VMDK_HDR_CAPACITY),
				 (unsigned long long)h->capacity,
				 (unsigned long long)VMDK_MAX_CAPACITY);
	uint64_t g = h->grain_sectors;
	if (g < VMDK_MIN_GRAIN_SECTORS || (g & (g - 1)))
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK %s at offset %llu: grain size %llu sectors (expected a power of two, at least %u)",
				 which, (unsigned long long)(at + VMDK_HDR_GRAIN_SIZE),
				 (unsigned long long)g, VMDK_MIN_GRAIN_SECTORS);
	if (g > VMDK_MAX_GRAIN_SECTORS)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK %s at offset %llu: grain size %llu sectors (at most %u supported)",
				 which, (unsigned long long)(at + VMDK_HDR_GRAIN_SIZE),
				 (unsigned long long)g, VMDK_MAX_GRAIN_SECTORS);
	uint32_t n = h->gtes_per_gt;
	if (n < VMDK_MIN_GTES_PER_GT || n > VMDK_MAX_GTES_PER_GT || (n & (n - 1)))
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK %s at offset %llu: %u grain table entries per table (expected a power of two from %u to %u)",
				 which, (unsigned long long)(at + VMDK_HDR_NUM_GTES_PER_GT),
				 n, VMDK_MIN_GTES_PER_GT, VMDK_MAX_GTES_PER_GT);

	int compressed = (h->flags & VMDK_FLAG_COMPRESSED) != 0;
	int markers = (h->flags & VMDK_FLAG_MARKERS) != 0;
	if (h->compress != VMDK_COMPRESS_NONE && h->compress != VMDK_COMPRESS_DEFLATE)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK %s at offset %llu: compression algorithm %u (expected 0 none or 1 deflate)",
				 which, (unsigned long long)(at + VMDK_HDR_COMPRESS_ALGORITHM),
				 h->compress);
	if (compressed != (h->compress == VMDK_COMPRESS_DEFLATE))
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK %s at offset %llu: compression algorithm %u but the compressed-grains flag is %s",
				 which, (unsigned long long)(at + VMDK_HDR_COMPRESS_ALGORITHM),
				 h->compress, compressed ? "set" : "clear");
	/* Compressed grains are found by their marker; every producer writes
	 * both flags together (streamOptimized). */
	if (compressed != markers)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK %s at offset %llu: flags 0x%08x: compressed grains without markers (or the reverse) are not supported",
				 which, (unsigned long long)(at + VMDK_HDR_FLAGS), h->flags);
	return 0;
}

/* The footer copy of the header (streamOptimized with GD_AT_END): the
 * last three sectors are footer marker, header, end-of-stream marker.
 * Returns 0, BW_EIO, BW_EFORMAT or BW_EUNSUPPORTED. */
static int vmdk_read_footer(struct bw_disk *d, const struct vmdk_header *lead,
			    struct vmdk_header *h, struct bw_error *err)
{
	if (d->file_size % VMDK_SECTOR || d->file_size < VMDK_SECTOR + VMDK_FOOTER_TAIL)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK header says the grain directory is in the footer, but the file size %llu is not a whole number of sectors holding header, footer marker, footer and end-of-stream marker",
				 (unsigned long long)d->file_size);
	uint8_t t[VMDK_FOOTER_TAIL];
	uint64_t at = d->file_size - VMDK_FOOTER_TAIL;
	int r = bw_disk_read_file(d, t, sizeof t, at, "VMDK footer", err);
	if (r)
		return r;
	uint32_t size = bw_get_le32(t + VMDK_MARKER_SIZE);
	uint32_t type = bw_get_le32(t + VMDK_MARKER_TYPE);
	if (size != 0 || type != VMDK_MARKER_FOOTER)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK footer marker at offset %llu: size %u, type %u (expected size 0, type %u footer)",
				 (unsigned long long)at, size, type, VMDK_MARKER_FOOTER);
	const uint8_t *eos = t + 2 * VMDK_SECTOR;
	uint64_t eos_val = bw_get_le64(eos + VMDK_MARKER_VALUE);
	size = bw_get_le32(eos + VMDK_MARKER_SIZE);
	type = bw_get_le32(eos + VMDK_MARKER_TYPE);
	if (eos_val != 0 || size != 0 || type != VMDK_MARKER_EOS)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK end-of-stream marker at offset %llu: value %llu, size %u, type %u (expected 0, 0, %u)",
				 (unsigned long long)(at + 2 * VMDK_SECTOR),
				 (unsigned long long)eos_val, size, type, VMDK_MARKER_EOS);
	r = vmdk_parse_header(d, t + VMDK_SECTOR, at + VMDK_SECTOR, "footer", h, err);
	if (r)
		return r;
	if (h->gd_offset == VMDK_GD_AT_END)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK footer at offset %llu: grain directory offset is GD_AT_END too",
				 (unsigned long long)(at + VMDK_SECTOR + VMDK_HDR_GD_OFFSET));
	/* The footer is the header's copy; disagreeing geometry means one
	 * of them is corrupt and we cannot tell which. */
	if (h->capacity != lead->capacity || h->grain_sectors != lead->grain_sectors ||
	    h->gtes_per_gt != lead->gtes_per_gt || h->flags != lead->flags ||
	    h->compress != lead->compress)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK footer at offset %llu disagrees with the header (capacity %llu/%llu, grain %llu/%llu, GTEs %u/%u, flags 0x%x/0x%x)",
				 (unsigned long long)(at + VMDK_SECTOR),
				 (unsigned long long)h->capacity, (unsigned long long)lead->capacity,
				 (unsigned long long)h->grain_sectors,
				 (unsigned long long)lead->grain_sectors,
				 h->gtes_per_gt, lead->gtes_per_gt, h->flags, lead->flags);
	return 0;
}

/* ---- embedded descriptor ---------------------------------------------- */

struct vmdk_desc {
	char create_type[40];
	int has_create_type;
	int has_parent;
	unsigned nextents;
	char access[16], type[16];  /* of the first extent */
	uint64_t sectors;
	char adapter[16];           /* ddb.adapterType, letters only; "" if none */
};

/* Copy the next whitespace-delimited token of LINE (advanced) into OUT. */
static size_t vmdk_token(const char **line, char *out, size_t cap)
{
	const char *s = *line;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = 0;
	while (s[n] && s[n] != ' ' && s[n] != '\t')
		n++;
	if (cap) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(out, s, c);
		out[c] = '\0';
	}
	*line = s + n;
	return n;
}

/* One descriptor line, trimmed, NUL-terminated. */
static void vmdk_desc_line(const char *s, struct vmdk_desc *dd)
{
	if (strncmp(s, "createType", 10) == 0) {
		const char *v = s + 10;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '=')
			return;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '"')
			v++;
		size_t n = strcspn(v, "\"");
		if (n >= sizeof dd->create_type)
			n = sizeof dd->create_type - 1;
		memcpy(dd->create_type, v, n);
		dd->create_type[n] = '\0';
		dd->has_create_type = 1;
		return;
	}
	if (strncmp(s, "parentFileNameHint", 18) == 0) {
		dd->has_parent = 1;
		return;
	}
	/* ddb.adapterType = "lsilogic": kept so that a rewrite (patch) can
	 * say the same; a value that is not a short word is ignored. */
	if (strncmp(s, "ddb.adapterType", 15) == 0) {
		const char *v = s + 15;
		v += strspn(v, " \t");
		if (*v++ != '=')
			return;
		v += strspn(v, " \t");
		if (*v == '"')
			v++;
		size_t n = 0;
		while (n < sizeof dd->adapter - 1 &&
		       ((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= 'A' && v[n] <= 'Z')))
			n++;
		if (n == 0 || n == sizeof dd->adapter - 1 || (v[n] && v[n] != '"'))
			return;
		memcpy(dd->adapter, v, n);
		dd->adapter[n] = '\0';
		return;
	}
	/* Extent line: ACCESS SECTORS TYPE "FILE" [OFFSET] (spec 5.0). */
	char access[16];
	const char *p = s;
	vmdk_token(&p, access, sizeof access);
	if (strcmp(access, "RW") && strcmp(access, "RDONLY") && strcmp(access, "NOACCESS"))
		return;
	dd->nextents++;
	if (dd->nextents > 1)
		return;
	char num[24], type[16];
	size_t len = vmdk_token(&p, num, sizeof num);
	vmdk_token(&p, type, sizeof type);
	memcpy(dd->access, access, sizeof dd->access);
	memcpy(dd->type, type, sizeof dd->type);
	dd->sectors = 0;
	if (len == 0 || len >= sizeof num) {
		dd->sectors = UINT64_MAX;     /* unparsable: never equals capacity */
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (num[i] < '0' || num[i] > '9' || dd->sectors > (UINT64_MAX - 9) / 10) {
			dd->sectors = UINT64_MAX;
			return;
		}
		dd->sectors = dd->sectors * 10 + (uint64_t)(num[i] - '0');
	}
}

/* Read and check the embedded descriptor: createType, exactly one SPARSE
 * extent whose size is the capacity, no parent.  Sets d->format.
 * Returns 0, BW_EIO, BW_EFORMAT, BW_EUNSUPPORTED or BW_ENOMEM. */
static int vmdk_check_descriptor(struct bw_disk *d, struct vmdk *v,
				 struct bw_error *err)
{
	const struct vmdk_header *h = &v->h;
	if (h->desc_offset == 0 || h->desc_size == 0)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK sparse extent without an embedded descriptor (offset %llu, %llu sectors): one extent of a multi-file disk; open its descriptor file's disk as a whole with qemu-img convert first",
				 (unsigned long long)h->desc_offset,
				 (unsigned long long)h->desc_size);
	if (h->desc_size > VMDK_MAX_DESCRIPTOR / VMDK_SECTOR)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK header at offset %u: descriptor of %llu sectors (at most %u)",
				 (unsigned)VMDK_HDR_DESC_SIZE, (unsigned long long)h->desc_size,
				 VMDK_MAX_DESCRIPTOR / VMDK_SECTOR);
	uint64_t len = h->desc_size * VMDK_SECTOR;
	if (h->desc_offset > d->file_size / VMDK_SECTOR ||
	    len > d->file_size - h->desc_offset * VMDK_SECTOR)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK descriptor at sector %llu, %llu bytes, lies outside the file (size %llu)",
				 (unsigned long long)h->desc_offset, (unsigned long long)len,
				 (unsigned long long)d->file_size);
	uint64_t at = h->desc_offset * VMDK_SECTOR;
	char *text = malloc((size_t)len + 1);
	if (!text)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory for the VMDK descriptor");
	int r = bw_disk_read_file(d, text, (size_t)len, at, "VMDK descriptor", err);
	if (r)
		goto out;
	text[len] = '\0';             /* the descriptor ends at its first NUL */

	struct vmdk_desc dd;
	memset(&dd, 0, sizeof dd);
	char *line = text;
	while (*line) {
		char *nl = strchr(line, '\n');
		char *next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		if (n && line[0] != '#')
			vmdk_desc_line(line, &dd);
		line = next;
	}

	/* qemu leaves the descriptor area of each extent of a
	 * twoGbMaxExtentSparse disk empty: the disk's descriptor is a file
	 * of its own. */
	if (!dd.has_create_type && text[0] == '\0') {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VMDK sparse extent with an empty embedded descriptor (at offset %llu): one extent of a multi-file disk (twoGbMaxExtentSparse); convert the disk through its descriptor file first: qemu-img convert -O vpc DESCRIPTOR.vmdk OUT.vhd",
			      (unsigned long long)at);
		goto out;
	}
	if (!dd.has_create_type) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VMDK descriptor at offset %llu has no createType",
			      (unsigned long long)at);
		goto out;
	}
	int stream = strcmp(dd.create_type, "streamOptimized") == 0;
	if (!stream && strcmp(dd.create_type, "monolithicSparse") != 0) {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VMDK descriptor at offset %llu: createType \"%s\" (supported: monolithicSparse, streamOptimized)",
			      (unsigned long long)at, dd.create_type);
		goto out;
	}
	if (stream != v->compressed) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VMDK descriptor at offset %llu: createType \"%s\" but the header's grains are %scompressed",
			      (unsigned long long)at, dd.create_type,
			      v->compressed ? "" : "not ");
		goto out;
	}
	if (dd.has_parent) {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VMDK descriptor at offset %llu names a parent (parentFileNameHint): delta disks are not supported",
			      (unsigned long long)at);
		goto out;
	}
	if (dd.nextents != 1) {
		r = bw_seterr(err, dd.nextents ? BW_EUNSUPPORTED : BW_EFORMAT, d->path,
			      "VMDK descriptor at offset %llu: %u extent lines (expected exactly one)",
			      (unsigned long long)at, dd.nextents);
		goto out;
	}
	if (strcmp(dd.type, "SPARSE") != 0 || strcmp(dd.access, "NOACCESS") == 0) {
		r = bw_seterr(err, BW_EUNSUPPORTED, d->path,
			      "VMDK descriptor at offset %llu: extent is %s %s (expected RW or RDONLY SPARSE)",
			      (unsigned long long)at, dd.access, dd.type);
		goto out;
	}
	if (dd.sectors != h->capacity) {
		r = bw_seterr(err, BW_EFORMAT, d->path,
			      "VMDK descriptor at offset %llu: extent of %llu sectors but the header's capacity is %llu",
			      (unsigned long long)at, (unsigned long long)dd.sectors,
			      (unsigned long long)h->capacity);
		goto out;
	}
	d->format = stream ? "vmdk-streamOptimized" : "vmdk-monolithicSparse";
	memcpy(v->adapter, dd.adapter, sizeof v->adapter);
	r = 0;
out:
	free(text);
	return r;
}

/* ---- grain directory and tables --------------------------------------- */

struct vmdk_gt_ref {
	uint64_t sector;
	uint32_t index;             /* GD entry */
};

static int vmdk_gt_cmp(const void *a, const void *b)
{
	const struct vmdk_gt_ref *x = a, *y = b;
	return x->sector < y->sector ? -1 : x->sector > y->sector;
}

/* GTE of grain G (G < ngrains). */
static uint32_t vmdk_gte(const struct vmdk *v, uint64_t g)
{
	uint32_t slot = v->gd_slot[g / v->h.gtes_per_gt];
	if (slot == VMDK_NO_GT)
		return 0;
	return v->gts[(uint64_t)slot * v->h.gtes_per_gt + g % v->h.gtes_per_gt];
}

static int vmdk_allocated(const struct vmdk *v, uint32_t gte)
{
	return gte != 0 && !(v->zero_grain && gte == VMDK_GTE_ZERO);
}

/* Bytes of grain G that lie inside the virtual disk. */
static uint32_t vmdk_grain_len(const struct bw_disk *d, const struct vmdk *v, uint64_t g)
{
	uint64_t start = g * v->grain_bytes;
	uint64_t left = d->size - start;
	return left < v->grain_bytes ? (uint32_t)left : v->grain_bytes;
}

/* Load the GD and every GT it names; check that each lies inside the
 * file, that GTs do not overlap (which also bounds their memory by the
 * file size), and that every allocated grain is inside the file.
 * Returns 0, BW_EIO, BW_EFORMAT, BW_EUNSUPPORTED (over the table cap) or
 * BW_ENOMEM. */
static int vmdk_load_tables(struct bw_disk *d, struct vmdk *v, struct bw_error *err)
{
	const struct vmdk_header *h = &v->h;
	uint64_t span = h->grain_sectors * h->gtes_per_gt;  /* <= 2^21 */
	uint64_t ngts = (h->capacity + span - 1) / span;     /* capacity <= 2^37 */
	uint64_t gd_bytes = ngts * 4;
	uint64_t gt_bytes = (uint64_t)h->gtes_per_gt * 4;
	uint64_t gd_at = h->gd_offset;

	if (gd_at == 0)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK %s at offset %llu: grain directory offset 0 (expected a sector after the header)",
				 v->hdr_at ? "footer" : "header",
				 (unsigned long long)(v->hdr_at + VMDK_HDR_GD_OFFSET));
	if (gd_at > d->file_size / VMDK_SECTOR ||
	    gd_bytes > d->file_size - gd_at * VMDK_SECTOR)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK grain directory at sector %llu (%s field at offset %llu), %llu bytes, lies outside the file (size %llu)",
				 (unsigned long long)gd_at, v->hdr_at ? "footer" : "header",
				 (unsigned long long)(v->hdr_at + VMDK_HDR_GD_OFFSET),
				 (unsigned long long)gd_bytes,
				 (unsigned long long)d->file_size);
	if (gd_bytes > VMDK_MAX_TABLE_BYTES)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK grain directory of %llu entries (at most %llu bytes of tables supported)",
				 (unsigned long long)ngts, (unsigned long long)VMDK_MAX_TABLE_BYTES);
	/* Redundant GD: not read (the primary is what qemu reads), but a
	 * header that claims one must point inside the file. */
	if ((h->flags & VMDK_FLAG_REDUNDANT_GT) &&
	    (h->rgd_offset > d->file_size / VMDK_SECTOR ||
	     gd_bytes > d->file_size - h->rgd_offset * VMDK_SECTOR))
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK redundant grain directory at sector %llu, %llu bytes, lies outside the file (size %llu)",
				 (unsigned long long)h->rgd_offset, (unsigned long long)gd_bytes,
				 (unsigned long long)d->file_size);

	v->ngts = (uint32_t)ngts;
	v->ngrains = (h->capacity + h->grain_sectors - 1) / h->grain_sectors;
	/* The GD is read into gd_slot and decoded in place; its entries
	 * become slot numbers once the tables are loaded. */
	v->gd_slot = malloc((size_t)gd_bytes);
	if (!v->gd_slot)
		return bw_seterr(err, BW_ENOMEM, d->path,
				 "out of memory for a %llu-entry grain directory",
				 (unsigned long long)ngts);
	uint64_t gd_pos = gd_at * VMDK_SECTOR;
	int r = bw_disk_read_file(d, v->gd_slot, (size_t)gd_bytes, gd_pos,
				  "VMDK grain directory", err);
	if (r)
		return r;
	uint32_t nref = 0;
	for (uint32_t i = 0; i < v->ngts; i++) {
		uint32_t e = bw_get_le32((const uint8_t *)(v->gd_slot + i));
		v->gd_slot[i] = e;
		if (e == 0)
			continue;
		uint64_t pos = (uint64_t)e * VMDK_SECTOR;
		if (pos > d->file_size || gt_bytes > d->file_size - pos)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VMDK grain table %u at offset %llu (GD entry at offset %llu) lies outside the file (size %llu)",
					 i, (unsigned long long)pos,
					 (unsigned long long)(gd_pos + 4 * (uint64_t)i),
					 (unsigned long long)d->file_size);
		nref++;
	}
	/* Checked before allocating: disjoint tables inside the file could
	 * not be more, and we refuse more than the cap. */
	uint64_t pool = (uint64_t)nref * gt_bytes;
	if (pool > d->file_size)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK grain directory at offset %llu names %u grain tables, %llu bytes, more than the file holds (size %llu)",
				 (unsigned long long)gd_pos, nref, (unsigned long long)pool,
				 (unsigned long long)d->file_size);
	if (pool > VMDK_MAX_TABLE_BYTES - gd_bytes)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "VMDK has %u grain tables (%llu bytes; at most %llu bytes of tables supported)",
				 nref, (unsigned long long)pool,
				 (unsigned long long)VMDK_MAX_TABLE_BYTES);
	struct vmdk_gt_ref *refs = malloc((nref ? nref : 1) * sizeof *refs);
	if (!refs)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory for %u grain tables", nref);
	nref = 0;
	for (uint32_t i = 0; i < v->ngts; i++) {
		if (v->gd_slot[i] == 0) {
			v->gd_slot[i] = VMDK_NO_GT;
			continue;
		}
		refs[nref].sector = v->gd_slot[i];
		refs[nref].index = i;
		nref++;
		v->gd_slot[i] = VMDK_NO_GT;   /* until its table is loaded */
	}
	qsort(refs, nref, sizeof *refs, vmdk_gt_cmp);
	for (uint32_t k = 1; k < nref; k++) {
		if ((refs[k].sector - refs[k - 1].sector) * VMDK_SECTOR < gt_bytes) {
			r = bw_seterr(err, BW_EFORMAT, d->path,
				      "VMDK grain tables %u and %u overlap (offsets %llu and %llu, %llu bytes each)",
				      refs[k - 1].index, refs[k].index,
				      (unsigned long long)(refs[k - 1].sector * VMDK_SECTOR),
				      (unsigned long long)(refs[k].sector * VMDK_SECTOR),
				      (unsigned long long)gt_bytes);
			goto out;
		}
	}
	v->gts = malloc(pool ? (size_t)pool : 1);
	if (!v->gts) {
		r = bw_seterr(err, BW_ENOMEM, d->path, "out of memory for %u grain tables", nref);
		goto out;
	}
	/* Read in file order; slot k holds the k-th table by offset. */
	uint8_t gt_raw[VMDK_MAX_GTES_PER_GT * 4];
	for (uint32_t k = 0; k < nref; k++) {
		uint32_t i = refs[k].index;
		uint64_t pos = refs[k].sector * VMDK_SECTOR;
		r = bw_disk_read_file(d, gt_raw, (size_t)gt_bytes, pos, "VMDK grain table", err);
		if (r)
			goto out;
		v->gd_slot[i] = k;
		uint32_t *gt = v->gts + (uint64_t)k * h->gtes_per_gt;
		for (uint32_t j = 0; j < h->gtes_per_gt; j++) {
			uint32_t e = bw_get_le32(gt_raw + 4 * (size_t)j);
			uint64_t g = (uint64_t)i * h->gtes_per_gt + j;
			/* qemu-img leaves the tail of the last GT past the
			 * capacity (libvmdk, "corruption scenarios"): never
			 * read, so not judged. */
			if (g >= v->ngrains) {
				gt[j] = 0;
				continue;
			}
			gt[j] = e;
			if (!vmdk_allocated(v, e))
				continue;
			uint64_t gpos = (uint64_t)e * VMDK_SECTOR;
			uint64_t need = v->compressed ? VMDK_GRAIN_MARKER_LEN
						      : vmdk_grain_len(d, v, g);
			if (gpos > d->file_size || need > d->file_size - gpos) {
				r = bw_seterr(err, BW_EFORMAT, d->path,
					      v->compressed
					      ? "VMDK grain marker for LBA %llu at offset %llu lies past the end of the file (size %llu; GT %u entry %u)"
					      : "VMDK grain for LBA %llu at offset %llu lies past the end of the file (size %llu; GT %u entry %u)",
					      (unsigned long long)(g * h->grain_sectors),
					      (unsigned long long)gpos,
					      (unsigned long long)d->file_size, i, j);
				goto out;
			}
		}
	}
	r = 0;
out:
	free(refs);
	return r;
}

/* ---- open ------------------------------------------------------------- */

/* Returns 0, BW_EIO, BW_EFORMAT, BW_EUNSUPPORTED or BW_ENOMEM; a partial
 * handle is left in d->priv for vmdk_close. */
static int vmdk_open(struct bw_disk *d, struct bw_error *err)
{
	struct vmdk *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	d->priv = v;
	v->cached = VMDK_NO_GRAIN;

	uint8_t head[VMDK_HDR_SIZE] = {0};
	size_t n = d->file_size < sizeof head ? (size_t)d->file_size : sizeof head;
	int r = bw_disk_read_file(d, head, n, 0, "VMDK header", err);
	if (r)
		return r;
	if (d->file_size < VMDK_HDR_SIZE)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK truncated: %llu bytes, shorter than its 512-byte header",
				 (unsigned long long)d->file_size);

	struct vmdk_header lead;
	r = vmdk_parse_header(d, head, 0, "header", &lead, err);
	if (r)
		return r;
	v->h = lead;
	if (lead.gd_offset == VMDK_GD_AT_END) {
		if (!(lead.flags & VMDK_FLAG_MARKERS))
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VMDK header at offset %u: grain directory offset GD_AT_END without the markers flag",
					 (unsigned)VMDK_HDR_GD_OFFSET);
		r = vmdk_read_footer(d, &lead, &v->h, err);
		if (r)
			return r;
		v->hdr_at = d->file_size - VMDK_FOOTER_TAIL + VMDK_SECTOR;
		/* The descriptor is where the leading header says. */
		v->h.desc_offset = lead.desc_offset;
		v->h.desc_size = lead.desc_size;
	}
	const struct vmdk_header *h = &v->h;
	if (h->overhead > d->file_size / VMDK_SECTOR)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK truncated: header says %llu sectors of metadata (overhead) but the file has %llu bytes",
				 (unsigned long long)h->overhead,
				 (unsigned long long)d->file_size);
	v->compressed = (h->flags & VMDK_FLAG_COMPRESSED) != 0;
	v->zero_grain = (h->flags & VMDK_FLAG_ZERO_GRAIN_GTE) != 0;
	v->grain_bytes = (uint32_t)(h->grain_sectors * VMDK_SECTOR);
	d->size = h->capacity * VMDK_SECTOR;   /* capacity <= 2^37: no overflow */

	r = vmdk_check_descriptor(d, v, err);
	if (r)
		return r;
	r = vmdk_load_tables(d, v, err);
	if (r)
		return r;

	if (v->compressed) {
		v->comp = malloc(2 * (size_t)v->grain_bytes);
		v->grain = malloc(v->grain_bytes);
		if (!v->comp || !v->grain)
			return bw_seterr(err, BW_ENOMEM, d->path, "out of memory for grain buffers");
		if (inflateInit(&v->zs) != Z_OK)
			return bw_seterr(err, BW_ENOMEM, d->path, "cannot initialise zlib");
		v->zs_ready = 1;
	}
	return 0;
}

/* ---- read ------------------------------------------------------------- */

/* Inflate grain G (allocated, compressed) into v->grain, checking its
 * marker (size, LBA, inside the file) and that the zlib stream is whole
 * and of the right length.  Returns 0, BW_EIO, BW_EFORMAT or BW_ENOMEM. */
static int vmdk_inflate_grain(struct bw_disk *d, struct vmdk *v, uint64_t g,
			      struct bw_error *err)
{
	uint64_t pos = (uint64_t)vmdk_gte(v, g) * VMDK_SECTOR;
	uint64_t lba = g * v->h.grain_sectors;
	uint8_t marker[VMDK_GRAIN_MARKER_LEN];
	v->cached = VMDK_NO_GRAIN;
	/* Marker inside the file: checked at open. */
	int r = bw_disk_read_file(d, marker, sizeof marker, pos, "VMDK grain marker", err);
	if (r)
		return r;
	uint64_t m_lba = bw_get_le64(marker + VMDK_MARKER_VALUE);
	uint32_t size = bw_get_le32(marker + VMDK_MARKER_SIZE);
	if (size == 0)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK grain for LBA %llu at offset %llu is a metadata marker (size 0), not a compressed grain",
				 (unsigned long long)lba, (unsigned long long)pos);
	/* Deflate may make a grain a little larger (qemu writes 65562 bytes
	 * for 64 KiB of random data); twice the grain is VirtualBox's bound. */
	if (size >= 2 * (uint64_t)v->grain_bytes)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK compressed grain for LBA %llu at offset %llu is %u bytes (expected < %llu)",
				 (unsigned long long)lba, (unsigned long long)pos, size,
				 2 * (unsigned long long)v->grain_bytes);
	uint64_t data = pos + VMDK_GRAIN_MARKER_LEN;
	if (size > d->file_size - data)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK compressed grain for LBA %llu at offset %llu, %u bytes, lies past the end of the file (size %llu)",
				 (unsigned long long)lba, (unsigned long long)pos, size,
				 (unsigned long long)d->file_size);
	if (m_lba != lba)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK grain marker at offset %llu names LBA %llu (expected %llu: the grain table and the marker disagree)",
				 (unsigned long long)pos, (unsigned long long)m_lba,
				 (unsigned long long)lba);
	r = bw_disk_read_file(d, v->comp, size, data, "VMDK compressed grain", err);
	if (r)
		return r;

	z_stream *zs = &v->zs;
	if (inflateReset(zs) != Z_OK)
		return bw_seterr(err, BW_EFORMAT, d->path, "zlib: cannot reset the inflate stream");
	zs->next_in = v->comp;
	zs->avail_in = size;
	zs->next_out = v->grain;
	zs->avail_out = v->grain_bytes;
	int zr = inflate(zs, Z_FINISH);
	uint32_t produced = v->grain_bytes - zs->avail_out;
	if (zr != Z_STREAM_END && zs->avail_out == 0 && zr != Z_DATA_ERROR &&
	    zr != Z_NEED_DICT && zr != Z_MEM_ERROR) {
		/* The grain is full: the stream must end without another byte. */
		uint8_t extra;
		zs->next_out = &extra;
		zs->avail_out = 1;
		zr = inflate(zs, Z_FINISH);
		if (zs->avail_out == 0)
			return bw_seterr(err, BW_EFORMAT, d->path,
					 "VMDK compressed grain for LBA %llu at offset %llu inflates to more than the grain size %u",
					 (unsigned long long)lba, (unsigned long long)pos,
					 v->grain_bytes);
	}
	if (zr == Z_MEM_ERROR)
		return bw_seterr(err, BW_ENOMEM, d->path, "zlib: out of memory");
	if (zr != Z_STREAM_END)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK compressed grain for LBA %llu at offset %llu, %u bytes: %s",
				 (unsigned long long)lba, (unsigned long long)pos, size,
				 zr == Z_BUF_ERROR ? "the zlib stream is truncated"
				 : zs->msg ? zs->msg : "corrupt zlib stream");
	/* Bytes left after the stream's end are ignored, as qemu's
	 * uncompress() ignores them. */
	uint32_t want = vmdk_grain_len(d, v, g);
	/* The last grain of a disk that is not a grain multiple: qemu
	 * inflates to the remainder, VirtualBox to a zero-padded grain. */
	if (produced != v->grain_bytes && produced != want)
		return bw_seterr(err, BW_EFORMAT, d->path,
				 "VMDK compressed grain for LBA %llu at offset %llu inflates to %u bytes (expected %u)",
				 (unsigned long long)lba, (unsigned long long)pos, produced, want);
	if (produced < v->grain_bytes)
		memset(v->grain + produced, 0, v->grain_bytes - produced);
	v->cached = g;
	return 0;
}

static int vmdk_pread(struct bw_disk *d, uint8_t *buf, size_t len, uint64_t off,
		      struct bw_error *err)
{
	struct vmdk *v = d->priv;
	while (len > 0) {
		uint64_t g = off / v->grain_bytes;   /* < ngrains: disk.c checked */
		uint32_t in = (uint32_t)(off % v->grain_bytes);
		size_t n = v->grain_bytes - in;
		if (n > len)
			n = len;
		uint32_t gte = vmdk_gte(v, g);
		if (!vmdk_allocated(v, gte)) {
			memset(buf, 0, n);
		} else if (!v->compressed) {
			int r = bw_disk_read_file(d, buf, n, (uint64_t)gte * VMDK_SECTOR + in,
						  "VMDK grain", err);
			if (r)
				return r;
		} else {
			if (v->cached != g) {
				int r = vmdk_inflate_grain(d, v, g, err);
				if (r)
					return r;
			}
			memcpy(buf, v->grain + in, n);
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int vmdk_next_data(struct bw_disk *d, uint64_t off, uint64_t *start,
			  uint64_t *end, struct bw_error *err)
{
	struct vmdk *v = d->priv;
	(void)err;
	uint64_t g = off / v->grain_bytes;
	uint32_t per = v->h.gtes_per_gt;
	while (g < v->ngrains) {
		if (v->gd_slot[g / per] == VMDK_NO_GT) {
			g = (g / per + 1) * per;     /* skip the whole table */
			continue;
		}
		if (vmdk_allocated(v, vmdk_gte(v, g)))
			break;
		g++;
	}
	if (g >= v->ngrains)
		return 0;
	uint64_t first = g;
	while (g < v->ngrains && vmdk_allocated(v, vmdk_gte(v, g)))
		g++;
	uint64_t s = first * v->grain_bytes;
	uint64_t e = g * v->grain_bytes;
	*start = s > off ? s : off;
	*end = e < d->size ? e : d->size;
	return 1;
}

static void vmdk_info(struct bw_disk *d, struct bw_disk_info *info)
{
	struct vmdk *v = d->priv;
	info->block_size = v->grain_bytes;
	memcpy(info->vmdk_adapter, v->adapter, sizeof info->vmdk_adapter);
}

static void vmdk_close(struct bw_disk *d)
{
	struct vmdk *v = d->priv;
	if (v) {
		if (v->zs_ready)
			inflateEnd(&v->zs);
		free(v->gd_slot);
		free(v->gts);
		free(v->comp);
		free(v->grain);
	}
	free(v);
	d->priv = NULL;
}

const struct bw_disk_ops bw_disk_vmdk_ops = {
	.name = "vmdk",
	.probe = vmdk_probe,
	.open = vmdk_open,
	.pread = vmdk_pread,
	.next_data = vmdk_next_data,
	.info = vmdk_info,
	.close = vmdk_close,
};

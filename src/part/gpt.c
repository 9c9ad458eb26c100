/*
 * GUID Partition Table (FORMATS.md "GPT"; UEFI Specification 2.10,
 * chapter 5 "GUID Partition Table (GPT) Disk Layout"; gdisk/sgdisk are
 * the reference tool).  LBA 0 holds a protective MBR (5.2.3), LBA 1 the
 * primary header (5.3.2, table 5-5) and, after it, the partition entry
 * array (5.3.3, table 5-6); the backup entry array sits just before the
 * backup header in the last LBA.  Both copies are validated at parse;
 * the writer builds both from scratch for a (grown) disk.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "boxwright/disk.h"
#include "boxwright/part.h"
#include "common/bytes.h"
#include "common/hex.h"
#include "common/utf16.h"

/* Protective MBR (UEFI 2.10 table 5-4; the MBR layout of mbr.c). */
#define PMBR_SIGNATURE_OFF  0x1B8
#define PMBR_ENTRIES_OFF    0x1BE
#define PMBR_ENTRY_SIZE     16
#define PMBR_MAGIC_OFF      0x1FE
#define PMBRE_STATUS        0
#define PMBRE_CHS_FIRST     1
#define PMBRE_TYPE          4
#define PMBRE_CHS_LAST      5
#define PMBRE_LBA_START     8
#define PMBRE_SECTORS       12

/* GPT header (UEFI 2.10 table 5-5). */
#define GPTH_SIGNATURE      0x00   /* "EFI PART" */
#define GPTH_REVISION       0x08   /* 0x00010000 = 1.0 */
#define GPTH_HEADER_SIZE    0x0C   /* 92 .. block size */
#define GPTH_HEADER_CRC     0x10   /* CRC32 of HeaderSize bytes, this field 0 */
#define GPTH_RESERVED       0x14   /* must be zero */
#define GPTH_MY_LBA         0x18
#define GPTH_ALTERNATE_LBA  0x20
#define GPTH_FIRST_USABLE   0x28
#define GPTH_LAST_USABLE    0x30
#define GPTH_DISK_GUID      0x38
#define GPTH_ENTRIES_LBA    0x48
#define GPTH_ENTRY_COUNT    0x50
#define GPTH_ENTRY_SIZE     0x54   /* 128 x 2^n */
#define GPTH_ENTRIES_CRC    0x58
#define GPTH_SIZE_1_0       92     /* the fields above; the rest is reserved */

/* Partition entry (UEFI 2.10 table 5-6). */
#define GPTE_TYPE_GUID      0x00   /* all zero: unused entry */
#define GPTE_UNIQUE_GUID    0x10
#define GPTE_FIRST_LBA      0x20
#define GPTE_LAST_LBA       0x28   /* inclusive */
#define GPTE_ATTRIBUTES     0x30
#define GPTE_NAME           0x38   /* 36 UTF-16LE units */
#define GPTE_SIZE_1_0       128

#define GPT_REVISION_1_0    0x00010000u
static const uint8_t gpt_signature[8] = { 'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T' };

/* The well-known types as stored (mixed-endian: the first three fields
 * little-endian, the last two as written). */
static const struct {
	uint8_t guid[16];
	enum bw_gpt_kind kind;
} gpt_kinds[] = {
	/* C12A7328-F81F-11D2-BA4B-00A0C93EC93B */
	{ { 0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
	    0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B }, BW_GPT_KIND_ESP },
	/* E3C9E316-0B5C-4DB8-817D-F92DF00215AE */
	{ { 0x16, 0xE3, 0xC9, 0xE3, 0x5C, 0x0B, 0xB8, 0x4D,
	    0x81, 0x7D, 0xF9, 0x2D, 0xF0, 0x02, 0x15, 0xAE }, BW_GPT_KIND_MSR },
	/* EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 */
	{ { 0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44,
	    0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7 }, BW_GPT_KIND_BASIC_DATA },
	/* DE94BBA4-06D1-4D40-A16A-BFD50179D6AC */
	{ { 0xA4, 0xBB, 0x94, 0xDE, 0xD1, 0x06, 0x40, 0x4D,
	    0xA1, 0x6A, 0xBF, 0xD5, 0x01, 0x79, 0xD6, 0xAC }, BW_GPT_KIND_RECOVERY },
};

enum bw_gpt_kind bw_gpt_classify(const uint8_t type_guid[16])
{
	for (size_t i = 0; i < sizeof gpt_kinds / sizeof gpt_kinds[0]; i++)
		if (memcmp(type_guid, gpt_kinds[i].guid, 16) == 0)
			return gpt_kinds[i].kind;
	return BW_GPT_KIND_OTHER;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static uint32_t gpt_crc32(const uint8_t *p, size_t n)
{
	/* n is at most BW_GPT_MAX_ENTRIES * BW_GPT_MAX_ENTRY_SIZE (4 MiB). */
	return (uint32_t)crc32(0L, p, (uInt)n);
}

/* Header CRC32: HeaderSize bytes with the CRC field itself as zero. */
static uint32_t gpt_header_crc(const uint8_t *h, uint32_t size)
{
	uLong c = crc32(0L, Z_NULL, 0);
	static const uint8_t zero[4];
	c = crc32(c, h, GPTH_HEADER_CRC);
	c = crc32(c, zero, 4);
	c = crc32(c, h + GPTH_HEADER_CRC + 4, size - GPTH_HEADER_CRC - 4);
	return (uint32_t)c;
}

/* Sectors that COUNT entries of SIZE bytes fill (both already capped). */
static uint64_t gpt_array_sectors(uint32_t count, uint32_t size, uint32_t ss)
{
	return ((uint64_t)count * size + ss - 1) / ss;
}

/* One validated copy: its header fields and its entry array. */
struct gpt_copy {
	uint64_t my_lba, alternate_lba, first_usable, last_usable, entries_lba;
	uint8_t disk_guid[16];
	uint32_t entry_count, entry_size, entries_crc;
	uint8_t *array;              /* entry_count * entry_size bytes */
};

struct gpt_reader {
	bw_gpt_read_fn read;
	void *ctx;
	const char *file;
	uint32_t ss;
	uint64_t disk_sectors;
};

static int gpt_read(const struct gpt_reader *rd, void *buf, uint64_t lba,
		    uint64_t nsectors, struct bw_error *err)
{
	/* Callers checked lba + nsectors <= disk_sectors. */
	return rd->read(rd->ctx, buf, (size_t)(nsectors * rd->ss), lba * rd->ss, err);
}

/*
 * Read and validate the header at LBA (PRIMARY: LBA 1, else the backup)
 * and its entry array into C.  Messages name the copy and the byte offset
 * of the field.  Returns 0, BW_EFORMAT, BW_EUNSUPPORTED, BW_ENOMEM or what
 * the reader returns.
 */
static int gpt_read_copy(const struct gpt_reader *rd, uint64_t lba, int primary,
			 struct gpt_copy *c, struct bw_error *err)
{
	const char *what = primary ? "GPT primary header" : "GPT backup header";
	const char *f = rd->file;
	uint32_t ss = rd->ss;
	uint64_t base = lba * ss;
	uint8_t h[4096];
	int r;

	memset(c, 0, sizeof *c);
	if (lba >= rd->disk_sectors)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at LBA %llu: past the end of the disk (%llu sectors)",
				 what, (unsigned long long)lba,
				 (unsigned long long)rd->disk_sectors);
	if ((r = gpt_read(rd, h, lba, 1, err)) != 0)
		return r;
	if (memcmp(h + GPTH_SIGNATURE, gpt_signature, 8) != 0) {
		char found[17];
		bw_hex_encode(h + GPTH_SIGNATURE, 8, found, sizeof found);
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: signature expected \"EFI PART\" (4546492050415254), found %s",
				 what, (unsigned long long)base, found);
	}
	uint32_t rev = bw_get_le32(h + GPTH_REVISION);
	if (rev != GPT_REVISION_1_0)
		return bw_seterr(err, BW_EUNSUPPORTED, f,
				 "%s at offset %llu: revision 0x%08x (expected 0x00010000)",
				 what, (unsigned long long)(base + GPTH_REVISION), rev);
	uint32_t hsize = bw_get_le32(h + GPTH_HEADER_SIZE);
	if (hsize < GPTH_SIZE_1_0 || hsize > ss)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: header size %u (expected %u..%u)",
				 what, (unsigned long long)(base + GPTH_HEADER_SIZE),
				 hsize, GPTH_SIZE_1_0, ss);
	uint32_t crc = bw_get_le32(h + GPTH_HEADER_CRC), want = gpt_header_crc(h, hsize);
	if (crc != want)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: header CRC32 0x%08x, expected 0x%08x",
				 what, (unsigned long long)(base + GPTH_HEADER_CRC),
				 crc, want);
	if (bw_get_le32(h + GPTH_RESERVED) != 0)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: reserved field 0x%08x (expected 0)",
				 what, (unsigned long long)(base + GPTH_RESERVED),
				 bw_get_le32(h + GPTH_RESERVED));
	/* A larger header inside the CRC carries fields of a later revision
	 * that we would drop when writing: refuse what we do not know. */
	if (!all_zero(h + GPTH_SIZE_1_0, hsize - GPTH_SIZE_1_0))
		return bw_seterr(err, BW_EUNSUPPORTED, f,
				 "%s at offset %llu: %u header bytes past the 92 of revision 1.0 are not zero",
				 what, (unsigned long long)(base + GPTH_SIZE_1_0),
				 hsize - GPTH_SIZE_1_0);

	c->my_lba = bw_get_le64(h + GPTH_MY_LBA);
	c->alternate_lba = bw_get_le64(h + GPTH_ALTERNATE_LBA);
	c->first_usable = bw_get_le64(h + GPTH_FIRST_USABLE);
	c->last_usable = bw_get_le64(h + GPTH_LAST_USABLE);
	memcpy(c->disk_guid, h + GPTH_DISK_GUID, 16);
	c->entries_lba = bw_get_le64(h + GPTH_ENTRIES_LBA);
	c->entry_count = bw_get_le32(h + GPTH_ENTRY_COUNT);
	c->entry_size = bw_get_le32(h + GPTH_ENTRY_SIZE);
	c->entries_crc = bw_get_le32(h + GPTH_ENTRIES_CRC);

	if (c->my_lba != lba)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: MyLBA %llu (expected %llu)",
				 what, (unsigned long long)(base + GPTH_MY_LBA),
				 (unsigned long long)c->my_lba, (unsigned long long)lba);
	uint64_t last = rd->disk_sectors - 1;
	if (primary ? (c->alternate_lba <= lba || c->alternate_lba > last)
		    : c->alternate_lba != 1)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: AlternateLBA %llu (expected %s%llu)",
				 what, (unsigned long long)(base + GPTH_ALTERNATE_LBA),
				 (unsigned long long)c->alternate_lba,
				 primary ? "2.." : "", primary ? (unsigned long long)last : 1ull);
	if (c->entry_count > BW_GPT_MAX_ENTRIES)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: %u partition entries (expected at most %u)",
				 what, (unsigned long long)(base + GPTH_ENTRY_COUNT),
				 c->entry_count, BW_GPT_MAX_ENTRIES);
	if (c->entry_size < GPTE_SIZE_1_0 || c->entry_size > BW_GPT_MAX_ENTRY_SIZE ||
	    (c->entry_size & (c->entry_size - 1)) != 0)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: entry size %u (expected 128 x 2^n, at most %u)",
				 what, (unsigned long long)(base + GPTH_ENTRY_SIZE),
				 c->entry_size, BW_GPT_MAX_ENTRY_SIZE);
	uint64_t asect = gpt_array_sectors(c->entry_count, c->entry_size, ss);

	/* The usable range lies between the two copies (UEFI 2.10 5.3.1):
	 * primary header, primary array, usable, backup array, backup header.
	 * The backup cannot see where the primary array is, but it must
	 * leave room for one at LBA 2, where a rewrite puts it. */
	uint64_t low = primary ? lba : c->alternate_lba + asect;
	uint64_t high = primary ? c->alternate_lba : lba;    /* backup header */
	if (c->first_usable <= low || c->last_usable >= high ||
	    c->first_usable > c->last_usable)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: usable LBAs %llu..%llu (expected %llu <= first <= last <= %llu)",
				 what, (unsigned long long)(base + GPTH_FIRST_USABLE),
				 (unsigned long long)c->first_usable,
				 (unsigned long long)c->last_usable,
				 (unsigned long long)low + 1, (unsigned long long)high - 1);
	int array_ok = primary
		? c->entries_lba > lba && c->entries_lba <= c->first_usable &&
		  asect <= c->first_usable - c->entries_lba
		: c->entries_lba > c->last_usable && c->entries_lba <= lba &&
		  asect <= lba - c->entries_lba;
	if (!array_ok)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: partition entries at LBA %llu (%llu sectors) outside LBAs %llu..%llu",
				 what, (unsigned long long)(base + GPTH_ENTRIES_LBA),
				 (unsigned long long)c->entries_lba, (unsigned long long)asect,
				 primary ? (unsigned long long)lba + 1
					 : (unsigned long long)c->last_usable + 1,
				 primary ? (unsigned long long)c->first_usable - 1
					 : (unsigned long long)lba - 1);

	size_t abytes = (size_t)asect * ss;
	crc = 0;                     /* the CRC32 of no bytes */
	if (abytes) {
		if (!(c->array = malloc(abytes)))
			return bw_seterr(err, BW_ENOMEM, f,
					 "%s: no memory for %zu bytes of entries", what, abytes);
		if ((r = gpt_read(rd, c->array, c->entries_lba, asect, err)) != 0)
			return r;
		crc = gpt_crc32(c->array, (size_t)c->entry_count * c->entry_size);
	}
	if (crc != c->entries_crc)
		return bw_seterr(err, BW_EFORMAT, f,
				 "%s at offset %llu: partition entries CRC32 0x%08x, but the %u entries at offset %llu give 0x%08x",
				 what, (unsigned long long)(base + GPTH_ENTRIES_CRC),
				 c->entries_crc, c->entry_count,
				 (unsigned long long)(c->entries_lba * ss), crc);
	return 0;
}

/* Both copies valid: they must describe the same table. */
static int gpt_compare_copies(const struct gpt_copy *p, const struct gpt_copy *b,
			      const char *f, uint32_t ss, struct bw_error *err)
{
	const char *field = NULL;
	if (memcmp(p->disk_guid, b->disk_guid, 16) != 0)
		field = "disk GUID";
	else if (p->first_usable != b->first_usable || p->last_usable != b->last_usable)
		field = "usable LBAs";
	else if (p->entry_count != b->entry_count || p->entry_size != b->entry_size)
		field = "entry count or size";
	else if (p->entries_crc != b->entries_crc ||
		 (p->array && memcmp(p->array, b->array,
				     (size_t)p->entry_count * p->entry_size) != 0))
		field = "partition entries";
	if (!field)
		return 0;
	return bw_seterr(err, BW_EFORMAT, f,
			 "GPT primary header at offset %llu and backup header at offset %llu disagree on the %s",
			 (unsigned long long)p->my_lba * ss,
			 (unsigned long long)b->my_lba * ss, field);
}

/* MSG without the "FILE: " bw_seterr put in front of it. */
static const char *msg_after_file(const char *msg, const char *file)
{
	size_t n = file ? strlen(file) : 0;
	if (n && strncmp(msg, file, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

/* A copy that is corrupt or unsupported can be survived; a failed read or
 * allocation cannot. */
static int gpt_fatal(int r)
{
	return r != 0 && r != BW_EFORMAT && r != BW_EUNSUPPORTED;
}

/* Overlap check over RANGES (N of them): sets *A, *B to two overlapping
 * indices (A's first <= B's first) and returns 1, or returns 0. */
struct gpt_span {
	uint64_t first, last;
	size_t i;
};

static int gpt_span_cmp(const void *x, const void *y)
{
	const struct gpt_span *a = x, *b = y;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static int gpt_find_overlap(const struct gpt_span *in, size_t n, size_t *a, size_t *b,
			    int *nomem)
{
	*nomem = 0;
	if (n < 2)
		return 0;
	struct gpt_span *s = malloc(n * sizeof *s);
	if (!s) {
		*nomem = 1;
		return 0;
	}
	memcpy(s, in, n * sizeof *s);
	qsort(s, n, sizeof *s, gpt_span_cmp);
	int found = 0;
	/* Sorted by first LBA: any overlap shows between neighbours when the
	 * running maximum of last LBAs is carried along. */
	size_t maxi = 0;
	for (size_t k = 1; k < n; k++) {
		if (s[k].first <= s[maxi].last) {
			*a = s[maxi].i;
			*b = s[k].i;
			found = 1;
			break;
		}
		if (s[k].last > s[maxi].last)
			maxi = k;
	}
	free(s);
	return found;
}

/* The protective MBR (UEFI 2.10 5.2.3): one 0xEE entry from LBA 1 over
 * the disk (or 0xFFFFFFFF sectors when it is larger). */
static int gpt_check_pmbr(const uint8_t *s, struct bw_gpt *out, const char *f,
			  struct bw_error *err)
{
	if (s[PMBR_MAGIC_OFF] != 0x55 || s[PMBR_MAGIC_OFF + 1] != 0xAA)
		return bw_seterr(err, BW_EFORMAT, f,
				 "no protective MBR: offset 510 expected 55 aa, found %02x %02x",
				 s[PMBR_MAGIC_OFF], s[PMBR_MAGIC_OFF + 1]);
	int ee = -1, other = -1;
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = s + PMBR_ENTRIES_OFF + i * PMBR_ENTRY_SIZE;
		if (e[PMBRE_TYPE] == BW_MBR_TYPE_GPT_PROTECTIVE && ee < 0)
			ee = i;
		else if (e[PMBRE_TYPE] != 0 && other < 0)
			other = i;
	}
	if (ee < 0)
		return bw_seterr(err, BW_EFORMAT, f,
				 "no protective MBR entry (type 0xee) at offset %d",
				 PMBR_ENTRIES_OFF);
	if (other >= 0) {
		unsigned off = PMBR_ENTRIES_OFF + (unsigned)other * PMBR_ENTRY_SIZE;
		return bw_seterr(err, BW_EUNSUPPORTED, f,
				 "hybrid MBR: entry %d at offset %u has type 0x%02x beside the protective entry (expected one 0xee entry only)",
				 other + 1, off, s[off + PMBRE_TYPE]);
	}
	const uint8_t *e = s + PMBR_ENTRIES_OFF + ee * PMBR_ENTRY_SIZE;
	unsigned eoff = PMBR_ENTRIES_OFF + (unsigned)ee * PMBR_ENTRY_SIZE;
	uint32_t start = bw_get_le32(e + PMBRE_LBA_START);
	uint32_t n = bw_get_le32(e + PMBRE_SECTORS);
	/* Some tools mark it active for old BIOSes; gdisk accepts both. */
	if (e[PMBRE_STATUS] != 0x00 && e[PMBRE_STATUS] != 0x80)
		return bw_seterr(err, BW_EFORMAT, f,
				 "protective MBR entry at offset %u: status 0x%02x (expected 0x00)",
				 eoff, e[PMBRE_STATUS]);
	if (start != 1)
		return bw_seterr(err, BW_EFORMAT, f,
				 "protective MBR entry at offset %u: start LBA %u (expected 1)",
				 eoff + PMBRE_LBA_START, start);
	uint64_t want = out->disk_sectors - 1;
	if (want > 0xFFFFFFFFu)
		want = 0xFFFFFFFFu;
	if (n != want) {
		/* Short: the disk grew after partitioning; 0xFFFFFFFF on a
		 * small disk: written by some tools.  Neither misleads us. */
		if (n > want && n != 0xFFFFFFFFu)
			return bw_seterr(err, BW_EFORMAT, f,
					 "protective MBR entry at offset %u: %u sectors from LBA 1 (the disk has %llu)",
					 eoff + PMBRE_SECTORS, n,
					 (unsigned long long)out->disk_sectors);
		out->flags |= BW_GPT_PMBR_SHORT;
	}
	memcpy(out->pmbr_boot_code, s, BW_MBR_BOOT_CODE_SIZE);
	out->pmbr_signature = bw_get_le32(s + PMBR_SIGNATURE_OFF);
	return 0;
}

/* Used entries of C into OUT->part, each inside the usable range and no
 * two overlapping. */
static int gpt_load_entries(const struct gpt_copy *c, struct bw_gpt *out,
			    const char *f, struct bw_error *err)
{
	size_t used = 0;
	for (uint32_t i = 0; i < c->entry_count; i++)
		if (!all_zero(c->array + (size_t)i * c->entry_size + GPTE_TYPE_GUID, 16))
			used++;
	if (used == 0)
		return 0;
	struct gpt_span *spans = malloc(used * sizeof *spans);
	out->part = calloc(used, sizeof *out->part);
	if (!spans || !out->part) {
		free(spans);
		return bw_seterr(err, BW_ENOMEM, f, "no memory for %zu GPT partitions", used);
	}
	int r = 0;
	uint64_t aoff = c->entries_lba * out->sector_size;
	for (uint32_t i = 0; i < c->entry_count; i++) {
		const uint8_t *e = c->array + (size_t)i * c->entry_size;
		uint64_t eoff = aoff + (uint64_t)i * c->entry_size;
		if (all_zero(e + GPTE_TYPE_GUID, 16))
			continue;
		struct bw_gpt_part *p = &out->part[out->nparts];
		p->index = i;
		memcpy(p->type_guid, e + GPTE_TYPE_GUID, 16);
		memcpy(p->unique_guid, e + GPTE_UNIQUE_GUID, 16);
		p->first_lba = bw_get_le64(e + GPTE_FIRST_LBA);
		p->last_lba = bw_get_le64(e + GPTE_LAST_LBA);
		p->attributes = bw_get_le64(e + GPTE_ATTRIBUTES);
		memcpy(p->name_raw, e + GPTE_NAME, BW_GPT_NAME_SIZE);
		if (!all_zero(e + GPTE_SIZE_1_0, c->entry_size - GPTE_SIZE_1_0)) {
			r = bw_seterr(err, BW_EUNSUPPORTED, f,
				      "GPT partition %u at offset %llu: bytes past the 128 of revision 1.0 are not zero",
				      i + 1, (unsigned long long)eoff + GPTE_SIZE_1_0);
			goto out;
		}
		if (p->first_lba > p->last_lba || p->first_lba < c->first_usable ||
		    p->last_lba > c->last_usable) {
			r = bw_seterr(err, BW_EFORMAT, f,
				      "GPT partition %u at offset %llu: LBAs %llu..%llu (expected inside the usable LBAs %llu..%llu, first <= last)",
				      i + 1, (unsigned long long)eoff + GPTE_FIRST_LBA,
				      (unsigned long long)p->first_lba,
				      (unsigned long long)p->last_lba,
				      (unsigned long long)c->first_usable,
				      (unsigned long long)c->last_usable);
			goto out;
		}
		/* Names are informational: an unpaired surrogate becomes
		 * U+FFFD rather than refusing the disk.  The buffer holds any
		 * 36 units, so this cannot fail. */
		bw_utf16_to_utf8(p->name_raw, BW_GPT_NAME_SIZE, BW_UTF16_REPLACE,
				 BW_UTF16_NUL_ENDS, p->name, sizeof p->name, NULL, NULL);
		spans[out->nparts] = (struct gpt_span){ p->first_lba, p->last_lba, out->nparts };
		out->nparts++;
	}
	size_t a, b;
	int nomem;
	if (gpt_find_overlap(spans, out->nparts, &a, &b, &nomem)) {
		const struct bw_gpt_part *pa = &out->part[a], *pb = &out->part[b];
		r = bw_seterr(err, BW_EFORMAT, f,
			      "GPT partitions %u (offset %llu) and %u (offset %llu) overlap: LBAs %llu..%llu and %llu..%llu",
			      pa->index + 1,
			      (unsigned long long)(aoff + (uint64_t)pa->index * c->entry_size),
			      pb->index + 1,
			      (unsigned long long)(aoff + (uint64_t)pb->index * c->entry_size),
			      (unsigned long long)pa->first_lba, (unsigned long long)pa->last_lba,
			      (unsigned long long)pb->first_lba, (unsigned long long)pb->last_lba);
	} else if (nomem) {
		r = bw_seterr(err, BW_ENOMEM, f, "no memory to check GPT overlaps");
	}
out:
	free(spans);
	return r;
}

/* Is there a GPT signature at LBA 1 (or in the last LBA) for SS? */
static int gpt_probe_sector_size(const struct gpt_reader *rd0, uint64_t disk_size,
				 uint32_t ss)
{
	uint8_t sig[4096];
	struct bw_error ignored;
	if (disk_size < 3ull * ss)
		return 0;
	if (rd0->read(rd0->ctx, sig, ss, ss, &ignored) == 0 &&
	    memcmp(sig, gpt_signature, 8) == 0)
		return 1;
	uint64_t last = (disk_size / ss - 1) * ss;
	return rd0->read(rd0->ctx, sig, ss, last, &ignored) == 0 &&
	       memcmp(sig, gpt_signature, 8) == 0;
}

int bw_gpt_parse(bw_gpt_read_fn read, void *ctx, uint64_t disk_size,
		 uint32_t sector_size, const char *file, struct bw_gpt *out,
		 struct bw_error *err)
{
	struct gpt_reader rd = { read, ctx, file, sector_size, 0 };
	struct gpt_copy pri, bak;
	struct bw_error perr, berr;
	uint8_t s[4096];
	int r, rp, rb;

	memset(out, 0, sizeof *out);
	memset(&pri, 0, sizeof pri);
	memset(&bak, 0, sizeof bak);
	bw_error_clear(&perr);
	bw_error_clear(&berr);
	if (sector_size == 0)
		sector_size = !gpt_probe_sector_size(&rd, disk_size, 512) &&
			      gpt_probe_sector_size(&rd, disk_size, 4096) ? 4096 : 512;
	if (sector_size != 512 && sector_size != 4096)
		return bw_seterr(err, BW_EINVAL, file,
				 "GPT sector size %u (expected 512 or 4096)", sector_size);
	rd.ss = sector_size;
	rd.disk_sectors = disk_size / sector_size;
	out->sector_size = sector_size;
	out->disk_sectors = rd.disk_sectors;
	/* Protective MBR, primary header, one array sector, backup header. */
	if (rd.disk_sectors < 4)
		return bw_seterr(err, BW_EFORMAT, file,
				 "disk of %llu bytes is too small for a GPT",
				 (unsigned long long)disk_size);

	if ((r = gpt_read(&rd, s, 0, 1, err)) != 0)
		goto fail;
	if ((r = gpt_check_pmbr(s, out, file, err)) != 0)
		goto fail;

	rp = gpt_read_copy(&rd, 1, 1, &pri, &perr);
	uint64_t backup_lba = rp == 0 ? pri.alternate_lba : rd.disk_sectors - 1;
	rb = gpt_read_copy(&rd, backup_lba, 0, &bak, &berr);
	if (gpt_fatal(rp) || gpt_fatal(rb)) {
		r = gpt_fatal(rp) ? rp : rb;
		if (err)
			*err = gpt_fatal(rp) ? perr : berr;
		goto fail;
	}
	if (rp && rb) {
		r = rp;
		bw_seterr(err, r, file, "no valid GPT: %s; %s", msg_after_file(perr.msg, file),
			  msg_after_file(berr.msg, file));
		goto fail;
	}
	const struct gpt_copy *use = rp == 0 ? &pri : &bak;
	if (rp == 0 && rb == 0) {
		if ((r = gpt_compare_copies(&pri, &bak, file, sector_size, err)) != 0)
			goto fail;
	} else if (rp) {
		out->flags |= BW_GPT_FROM_BACKUP;
		out->damaged = perr;
	} else {
		out->flags |= BW_GPT_BACKUP_BAD;
		out->damaged = berr;
	}
	if (backup_lba != rd.disk_sectors - 1)
		out->flags |= BW_GPT_BACKUP_NOT_END;

	memcpy(out->disk_guid, use->disk_guid, 16);
	out->primary_lba = 1;
	out->backup_lba = backup_lba;
	out->first_usable = use->first_usable;
	out->last_usable = use->last_usable;
	/* A bad primary's array goes back where the spec's layout has it. */
	out->primary_entries_lba = rp == 0 ? pri.entries_lba : 2;
	out->backup_entries_lba = rb == 0 ? bak.entries_lba
		: backup_lba - gpt_array_sectors(use->entry_count, use->entry_size, sector_size);
	out->entry_count = use->entry_count;
	out->entry_size = use->entry_size;
	out->entries_crc = use->entries_crc;
	if ((r = gpt_load_entries(use, out, file, err)) != 0)
		goto fail;
	free(pri.array);
	free(bak.array);
	return 0;
fail:
	free(pri.array);
	free(bak.array);
	bw_gpt_free(out);
	memset(out, 0, sizeof *out);
	return r;
}

static int gpt_disk_read(void *ctx, void *buf, size_t len, uint64_t off,
			 struct bw_error *err)
{
	return bw_disk_pread(ctx, buf, len, off, err);
}

int bw_gpt_parse_disk(struct bw_disk *d, uint32_t sector_size,
		      struct bw_gpt *out, struct bw_error *err)
{
	return bw_gpt_parse(gpt_disk_read, d, bw_disk_size(d), sector_size,
			    bw_disk_path(d), out, err);
}

void bw_gpt_free(struct bw_gpt *gpt)
{
	if (!gpt)
		return;
	free(gpt->part);
	gpt->part = NULL;
	gpt->nparts = 0;
}

/* ---- writer ------------------------------------------------------------ */

static void gpt_put_header(uint8_t *h, const struct bw_gpt *g, uint64_t my,
			   uint64_t alternate, uint64_t last_usable,
			   uint64_t entries_lba, uint32_t entries_crc)
{
	memcpy(h + GPTH_SIGNATURE, gpt_signature, 8);
	bw_put_le32(h + GPTH_REVISION, GPT_REVISION_1_0);
	bw_put_le32(h + GPTH_HEADER_SIZE, GPTH_SIZE_1_0);
	bw_put_le64(h + GPTH_MY_LBA, my);
	bw_put_le64(h + GPTH_ALTERNATE_LBA, alternate);
	bw_put_le64(h + GPTH_FIRST_USABLE, g->first_usable);
	bw_put_le64(h + GPTH_LAST_USABLE, last_usable);
	memcpy(h + GPTH_DISK_GUID, g->disk_guid, 16);
	bw_put_le64(h + GPTH_ENTRIES_LBA, entries_lba);
	bw_put_le32(h + GPTH_ENTRY_COUNT, g->entry_count);
	bw_put_le32(h + GPTH_ENTRY_SIZE, g->entry_size);
	bw_put_le32(h + GPTH_ENTRIES_CRC, entries_crc);
	bw_put_le32(h + GPTH_HEADER_CRC, gpt_header_crc(h, GPTH_SIZE_1_0));
}

int bw_gpt_encode(const struct bw_gpt *g, uint64_t new_disk_size,
		  const struct bw_gpt_range *ranges, struct bw_gpt_image *out,
		  struct bw_error *err)
{
	uint32_t ss = g->sector_size;
	memset(out, 0, sizeof *out);
	if ((ss != 512 && ss != 4096) || g->entry_count > BW_GPT_MAX_ENTRIES ||
	    g->entry_size < GPTE_SIZE_1_0 || g->entry_size > BW_GPT_MAX_ENTRY_SIZE ||
	    (g->entry_size & (g->entry_size - 1)) != 0)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "GPT to encode: sector size %u, %u entries of %u bytes (not a parsed table)",
				 ss, g->entry_count, g->entry_size);
	if (new_disk_size % ss != 0)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "new disk size %llu is not a multiple of the %u-byte sector",
				 (unsigned long long)new_disk_size, ss);
	uint64_t n = new_disk_size / ss;
	uint64_t asect = gpt_array_sectors(g->entry_count, g->entry_size, ss);
	if (g->primary_entries_lba < 2 || g->primary_entries_lba > g->first_usable ||
	    asect > g->first_usable - g->primary_entries_lba)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "GPT to encode: entries at LBA %llu (%llu sectors) reach the first usable LBA %llu",
				 (unsigned long long)g->primary_entries_lba,
				 (unsigned long long)asect, (unsigned long long)g->first_usable);
	/* Usable, then the backup array, then the backup header. */
	if (n < g->first_usable || n - g->first_usable < asect + 2)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "new disk of %llu sectors is too small for a GPT whose first usable LBA is %llu",
				 (unsigned long long)n, (unsigned long long)g->first_usable);
	uint64_t backup_lba = n - 1;
	uint64_t backup_entries = backup_lba - asect;
	uint64_t last_usable = backup_entries - 1;

	struct gpt_span *spans = NULL;
	if (g->nparts) {
		if (!(spans = malloc(g->nparts * sizeof *spans)))
			return bw_seterr(err, BW_ENOMEM, NULL, "no memory for %zu GPT partitions",
					 g->nparts);
	}
	int r = 0;
	for (size_t i = 0; i < g->nparts; i++) {
		const struct bw_gpt_part *p = &g->part[i];
		uint64_t first = ranges ? ranges[i].first_lba : p->first_lba;
		uint64_t last = ranges ? ranges[i].last_lba : p->last_lba;
		if (p->index >= g->entry_count || (i && p->index <= g->part[i - 1].index)) {
			r = bw_seterr(err, BW_EINVAL, NULL,
				      "GPT partition %zu: slot %u (expected increasing slots below %u)",
				      i, p->index, g->entry_count);
			goto fail;
		}
		if (first > last || first < g->first_usable || last > last_usable) {
			r = bw_seterr(err, BW_EINVAL, NULL,
				      "GPT partition %u: LBAs %llu..%llu (expected inside the new usable LBAs %llu..%llu, first <= last)",
				      p->index + 1, (unsigned long long)first,
				      (unsigned long long)last,
				      (unsigned long long)g->first_usable,
				      (unsigned long long)last_usable);
			goto fail;
		}
		spans[i] = (struct gpt_span){ first, last, i };
	}
	size_t a, b;
	int nomem;
	if (gpt_find_overlap(spans, g->nparts, &a, &b, &nomem)) {
		r = bw_seterr(err, BW_EINVAL, NULL,
			      "GPT partitions %u and %u would overlap: LBAs %llu..%llu and %llu..%llu",
			      g->part[a].index + 1, g->part[b].index + 1,
			      (unsigned long long)spans[a].first, (unsigned long long)spans[a].last,
			      (unsigned long long)spans[b].first, (unsigned long long)spans[b].last);
		goto fail;
	}
	if (nomem) {
		r = bw_seterr(err, BW_ENOMEM, NULL, "no memory to check GPT overlaps");
		goto fail;
	}

	/* One buffer: LBA 0, LBA 1, primary array, backup array + header. */
	size_t total = (size_t)(3 + 2 * asect) * ss;
	if (!(out->buf = calloc(1, total))) {
		r = bw_seterr(err, BW_ENOMEM, NULL, "no memory for %zu bytes of GPT", total);
		goto fail;
	}
	uint8_t *pmbr = out->buf, *ph = pmbr + ss, *pa = ph + ss;
	uint8_t *ba = pa + asect * ss, *bh = ba + asect * ss;

	memcpy(pmbr, g->pmbr_boot_code, BW_MBR_BOOT_CODE_SIZE);
	bw_put_le32(pmbr + PMBR_SIGNATURE_OFF, g->pmbr_signature);
	uint8_t *e = pmbr + PMBR_ENTRIES_OFF;
	/* CHS 0/0/2 (LBA 1) to 1023/254/63 ("beyond CHS"), as gdisk writes. */
	e[PMBRE_CHS_FIRST + 1] = 0x02;
	e[PMBRE_TYPE] = BW_MBR_TYPE_GPT_PROTECTIVE;
	e[PMBRE_CHS_LAST] = 0xFE; e[PMBRE_CHS_LAST + 1] = 0xFF;
	e[PMBRE_CHS_LAST + 2] = 0xFF;
	bw_put_le32(e + PMBRE_LBA_START, 1);
	bw_put_le32(e + PMBRE_SECTORS, n - 1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)(n - 1));
	pmbr[PMBR_MAGIC_OFF] = 0x55;
	pmbr[PMBR_MAGIC_OFF + 1] = 0xAA;

	for (size_t i = 0; i < g->nparts; i++) {
		const struct bw_gpt_part *p = &g->part[i];
		uint8_t *pe = pa + (size_t)p->index * g->entry_size;
		memcpy(pe + GPTE_TYPE_GUID, p->type_guid, 16);
		memcpy(pe + GPTE_UNIQUE_GUID, p->unique_guid, 16);
		bw_put_le64(pe + GPTE_FIRST_LBA, spans[i].first);
		bw_put_le64(pe + GPTE_LAST_LBA, spans[i].last);
		bw_put_le64(pe + GPTE_ATTRIBUTES, p->attributes);
		memcpy(pe + GPTE_NAME, p->name_raw, BW_GPT_NAME_SIZE);
	}
	uint32_t acrc = gpt_crc32(pa, (size_t)g->entry_count * g->entry_size);
	memcpy(ba, pa, (size_t)asect * ss);
	gpt_put_header(ph, g, 1, backup_lba, last_usable, g->primary_entries_lba, acrc);
	gpt_put_header(bh, g, backup_lba, 1, last_usable, backup_entries, acrc);

	out->run[out->nruns++] = (struct bw_gpt_run){ 0, 1, pmbr };
	out->run[out->nruns++] = (struct bw_gpt_run){ 1, 1, ph };
	if (asect)
		out->run[out->nruns++] = (struct bw_gpt_run){ g->primary_entries_lba,
							      (size_t)asect, pa };
	out->run[out->nruns++] = (struct bw_gpt_run){ backup_entries, (size_t)asect + 1, ba };
	free(spans);
	return 0;
fail:
	free(spans);
	bw_gpt_image_free(out);
	return r;
}

void bw_gpt_image_free(struct bw_gpt_image *img)
{
	if (!img)
		return;
	free(img->buf);
	memset(img, 0, sizeof *img);
}

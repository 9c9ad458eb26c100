/*
 * Unit tests of the fat module on synthetic volumes only: FAT12, FAT16 and
 * FAT32 images built in memory (boot sector, both FATs, directories with
 * 8.3 names, long names, an orphaned long name, a directory of two
 * clusters whose long name straddles them), written to a temporary raw
 * file and opened through bw_disk_open.  Each bad boot-sector field and
 * each kind of broken chain is refused.  Layouts follow fatgen103 and are
 * written here independently of src/fat.  Real volumes from mkfs.vfat
 * and mtools are checked in tests/e2e/fat.sh.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/fat.h"
#include "common/bytes.h"
#include "check.h"

static char tmpdir[256];
static const char *const LABEL = "t.vhdx: partition 1 (EFI system)";

static int has(const struct bw_error *err, const char *needle)
{
	if (strstr(err->msg, needle))
		return 1;
	fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err->msg, needle);
	return 0;
}

/* ------------------------------------------------------------------ */
/* a synthetic volume                                                  */

struct vol {
	unsigned type;
	uint32_t bps, spc, rsvd, nfats, root_ent, fatsz, count;
	uint64_t total, data_off, root_off;
	uint8_t *img;
	size_t size;
};

/* Clusters of the standard content (for every type). */
enum { CL_ROOT32 = 2, CL_EFI = 3, CL_README = 4, CL_LONG = 6, CL_MS = 7,
       CL_BOOT = 8, CL_BCD = 9, CL_EFI2 = 11 };

static uint32_t eoc(const struct vol *v)
{
	return v->type == 12 ? 0xFFF : v->type == 16 ? 0xFFFF : 0x0FFFFFFF;
}

static void set_fat(struct vol *v, uint32_t c, uint32_t val)
{
	for (uint32_t n = 0; n < v->nfats; n++) {
		uint8_t *fat = v->img + ((uint64_t)v->rsvd + (uint64_t)n * v->fatsz) * v->bps;
		if (v->type == 12) {
			uint8_t *p = fat + c + c / 2;
			uint16_t w = bw_get_le16(p);
			w = c & 1 ? (uint16_t)((w & 0x000F) | val << 4)
				  : (uint16_t)((w & 0xF000) | (val & 0x0FFF));
			bw_put_le16(p, w);
		} else if (v->type == 16) {
			bw_put_le16(fat + c * 2, (uint16_t)val);
		} else {
			bw_put_le32(fat + c * 4, val);
		}
	}
}

static uint8_t *cluster(struct vol *v, uint32_t c)
{
	return v->img + v->data_off + (uint64_t)(c - 2) * v->bps * v->spc;
}

/* Entry I of the directory at cluster C (0: the root, whatever the type). */
static uint8_t *dirent(struct vol *v, uint32_t c, unsigned i)
{
	if (c == 0 && v->type != 32)
		return v->img + v->root_off + (size_t)i * 32;
	return cluster(v, c == 0 ? CL_ROOT32 : c) + (size_t)i * 32;
}

static void put_entry(uint8_t *e, const char *name11, uint8_t attr,
		      uint32_t clus, uint32_t size)
{
	memcpy(e, name11, 11);
	e[11] = attr;
	bw_put_le16(e + 0x14, (uint16_t)(clus >> 16));
	bw_put_le16(e + 0x1A, (uint16_t)clus);
	bw_put_le32(e + 0x1C, size);
}

static uint8_t sfn_sum(const char *name11)
{
	uint8_t s = 0;
	for (int i = 0; i < 11; i++)
		s = (uint8_t)((s >> 1) + ((s & 1) << 7) + (uint8_t)name11[i]);
	return s;
}

/* The long name LONG (ASCII) for NAME11, from entry I on of directory C
 * (entries at I may lie in two clusters: the caller passes a function of
 * the index).  Returns the index after the short entry.  SUM_DELTA spoils
 * the checksum. */
static unsigned put_long(struct vol *v, uint32_t c, unsigned i,
			 const char *lname, const char *name11, uint8_t attr,
			 uint32_t clus, uint32_t size, int sum_delta,
			 uint8_t *(*at)(struct vol *, uint32_t, unsigned))
{
	static const unsigned pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	size_t len = strlen(lname);
	unsigned n = (unsigned)((len + 12) / 13);
	uint8_t sum = (uint8_t)(sfn_sum(name11) + sum_delta);
	for (unsigned k = n; k >= 1; k--, i++) {
		uint8_t *e = at(v, c, i);
		memset(e, 0, 32);
		e[0] = (uint8_t)(k | (k == n ? 0x40 : 0));
		e[11] = 0x0F;
		e[13] = sum;
		for (unsigned j = 0; j < 13; j++) {
			size_t ci = (size_t)(k - 1) * 13 + j;
			uint16_t u = ci < len ? (uint16_t)lname[ci] : ci == len ? 0 : 0xFFFF;
			bw_put_le16(e + pos[j], u);
		}
	}
	put_entry(at(v, c, i), name11, attr, clus, size);
	return i + 1;
}

/* The EFI directory is two clusters, CL_EFI then CL_EFI2: entry 16 on is
 * in the second (512-byte clusters). */
static uint8_t *efi_entry(struct vol *v, uint32_t c, unsigned i)
{
	(void)c;
	return i < 16 ? dirent(v, CL_EFI, i) : dirent(v, CL_EFI2, i - 16);
}

static uint8_t *plain_entry(struct vol *v, uint32_t c, unsigned i)
{
	return dirent(v, c, i);
}

static void vol_build(struct vol *v, unsigned type)
{
	memset(v, 0, sizeof *v);
	v->type = type;
	v->bps = 512;
	v->spc = 1;
	v->nfats = 2;
	switch (type) {
	case 12: v->rsvd = 1; v->root_ent = 16; v->count = 100; break;
	case 16: v->rsvd = 1; v->root_ent = 512; v->count = 5000; break;
	default: v->rsvd = 32; v->root_ent = 0; v->count = 65600; break;
	}
	uint64_t fat_bytes = ((uint64_t)v->count + 2) * type / 8 + 1;
	v->fatsz = (uint32_t)((fat_bytes + v->bps - 1) / v->bps);
	uint32_t root_secs = v->root_ent * 32 / v->bps;
	v->root_off = ((uint64_t)v->rsvd + (uint64_t)v->nfats * v->fatsz) * v->bps;
	v->data_off = v->root_off + (uint64_t)root_secs * v->bps;
	v->total = v->data_off / v->bps + (uint64_t)v->count * v->spc;
	v->size = (size_t)v->total * v->bps;
	v->img = calloc(1, v->size);
	if (!v->img)
		abort();

	uint8_t *b = v->img;
	b[0] = 0xEB; b[1] = type == 32 ? 0x58 : 0x3C; b[2] = 0x90;
	memcpy(b + 3, "MSWIN4.1", 8);
	bw_put_le16(b + 0x0B, (uint16_t)v->bps);
	b[0x0D] = (uint8_t)v->spc;
	bw_put_le16(b + 0x0E, (uint16_t)v->rsvd);
	b[0x10] = (uint8_t)v->nfats;
	bw_put_le16(b + 0x11, (uint16_t)v->root_ent);
	if (type != 32 && v->total < 65536)
		bw_put_le16(b + 0x13, (uint16_t)v->total);
	else
		bw_put_le32(b + 0x20, (uint32_t)v->total);
	b[0x15] = 0xF8;
	if (type != 32) {
		bw_put_le16(b + 0x16, (uint16_t)v->fatsz);
		b[0x26] = 0x29;
		memcpy(b + 0x36, type == 12 ? "FAT12   " : "FAT16   ", 8);
	} else {
		bw_put_le32(b + 0x24, v->fatsz);
		bw_put_le32(b + 0x2C, CL_ROOT32);
		bw_put_le16(b + 0x30, 1);
		bw_put_le16(b + 0x32, 6);
		b[0x42] = 0x29;
		memcpy(b + 0x52, "FAT32   ", 8);
	}
	b[510] = 0x55; b[511] = 0xAA;
	set_fat(v, 0, type == 12 ? 0xFF8 : type == 16 ? 0xFFF8 : 0x0FFFFFF8);
	set_fat(v, 1, eoc(v));

	/* Root: label, EFI, README.TXT (2 clusters), a long name, an
	 * orphaned long name, a deleted entry, an empty file. */
	if (type == 32)
		set_fat(v, CL_ROOT32, eoc(v));
	unsigned i = 0;
	put_entry(dirent(v, 0, i++), "SYSTEM     ", 0x08, 0, 0);
	put_entry(dirent(v, 0, i++), "EFI        ", 0x10, CL_EFI, 0);
	put_entry(dirent(v, 0, i++), "README  TXT", 0x20, CL_README, 1000);
	set_fat(v, CL_README, CL_README + 1);
	set_fat(v, CL_README + 1, eoc(v));
	i = put_long(v, 0, i, "Long File Name.efi", "LONGFI~1EFI", 0x20,
		     CL_LONG, 10, 0, plain_entry);
	set_fat(v, CL_LONG, eoc(v));
	i = put_long(v, 0, i, "Orphan Name.txt", "ORPHAN~1TXT", 0x20, 0, 0, 1,
		     plain_entry);
	put_entry(dirent(v, 0, i), "DELETED TXT", 0x20, 0, 0);
	dirent(v, 0, i++)[0] = 0xE5;
	put_entry(dirent(v, 0, i++), "EMPTY   TXT", 0x20, 0, 0);

	/* \EFI: two clusters; "Microsoft"'s long entry ends the first. */
	set_fat(v, CL_EFI, CL_EFI2);
	set_fat(v, CL_EFI2, eoc(v));
	put_entry(efi_entry(v, 0, 0), ".          ", 0x10, CL_EFI, 0);
	put_entry(efi_entry(v, 0, 1), "..         ", 0x10, 0, 0);
	for (unsigned k = 2; k < 15; k++) {
		char n[12];
		snprintf(n, sizeof n, "F%-7uTXT", k);
		put_entry(efi_entry(v, 0, k), n, 0x20, 0, 0);
	}
	put_long(v, 0, 15, "Microsoft", "MICROS~1   ", 0x10, CL_MS, 0, 0, efi_entry);
	set_fat(v, CL_MS, eoc(v));
	put_entry(dirent(v, CL_MS, 0), ".          ", 0x10, CL_MS, 0);
	put_entry(dirent(v, CL_MS, 1), "..         ", 0x10, CL_EFI, 0);
	put_entry(dirent(v, CL_MS, 2), "BOOT       ", 0x10, CL_BOOT, 0);
	set_fat(v, CL_BOOT, eoc(v));
	put_entry(dirent(v, CL_BOOT, 0), ".          ", 0x10, CL_BOOT, 0);
	put_entry(dirent(v, CL_BOOT, 1), "..         ", 0x10, CL_MS, 0);
	put_entry(dirent(v, CL_BOOT, 2), "BCD        ", 0x26, CL_BCD, 700);
	set_fat(v, CL_BCD, CL_BCD + 1);
	set_fat(v, CL_BCD + 1, eoc(v));
}

struct opened {
	struct bw_disk *d;
	struct bw_fat *f;
};

/* Write V at PART_OFF of a file PART_OFF + V->size + TAIL bytes long and
 * open it with a partition of V->size + TAIL bytes. */
static int vol_open_at(const struct vol *v, uint64_t part_off, uint64_t tail,
		       struct opened *o, struct bw_error *err)
{
	char path[300];
	snprintf(path, sizeof path, "%s/vol.img", tmpdir);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)(part_off + v->size + tail)) != 0 ||
	    pwrite(fd, v->img, v->size, (off_t)part_off) != (ssize_t)v->size)
		abort();
	close(fd);
	o->f = NULL;
	if (bw_disk_open(path, &o->d, err) != 0)
		abort();
	int r = bw_fat_open(o->d, part_off, v->size + tail, LABEL, &o->f, err);
	if (r)
		bw_disk_close(o->d);
	return r;
}

static int vol_open(const struct vol *v, struct opened *o, struct bw_error *err)
{
	return vol_open_at(v, 0, 0, o, err);
}

static void vol_close(struct opened *o)
{
	bw_fat_close(o->f);
	bw_disk_close(o->d);
}

static int sum_range(void *ctx, uint64_t off, uint64_t len)
{
	uint64_t *t = ctx;
	t[0] += len;
	t[1]++;
	t[2] = off + len;
	return 0;
}

static int stop_range(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx; (void)off; (void)len;
	return 42;
}

/* ------------------------------------------------------------------ */
/* good volumes                                                        */

static void test_good(unsigned type, uint64_t part_off)
{
	struct vol v;
	struct opened o;
	struct bw_error err = {0};
	vol_build(&v, type);
	int r = vol_open_at(&v, part_off, 4096, &o, &err);
	CHECK_EQ_U64(r, 0);
	if (r) {
		fprintf(stderr, "  FAT%u: %s\n", type, err.msg);
		free(v.img);
		return;
	}
	const struct bw_fat_info *g = bw_fat_get_info(o.f);
	CHECK_EQ_U64(g->type, type);
	CHECK_EQ_U64(g->cluster_count, v.count);
	CHECK_EQ_U64(g->cluster_size, 512);
	CHECK_EQ_U64(g->data_offset, v.data_off);
	CHECK_EQ_U64(g->volume_size, v.size);
	CHECK_EQ_U64(g->root_cluster, type == 32 ? CL_ROOT32 : 0);
	CHECK_EQ_U64(g->root_entries, v.root_ent);
	/* EFI x2, README x2, LONG, MS, BOOT, BCD x2, (FAT32 root) */
	uint32_t used = 9 + (type == 32);
	CHECK_EQ_U64(g->used_clusters, used);

	static const struct { const char *path; int r, dir; uint64_t size; } q[] = {
		{ "", 1, 1, 0 },
		{ "\\", 1, 1, 0 },
		{ "\\EFI", 1, 1, 0 },
		{ "efi\\", 1, 1, 0 },
		{ "\\README.TXT", 1, 0, 1000 },
		{ "/readme.txt", 1, 0, 1000 },
		{ "\\Long File Name.efi", 1, 0, 10 },
		{ "\\LONG FILE NAME.EFI", 1, 0, 10 },
		{ "\\longfi~1.efi", 1, 0, 10 },
		{ "\\Long File Name", 0, 0, 0 },
		/* the orphan: its long name is ignored, the short one works */
		{ "\\Orphan Name.txt", 0, 0, 0 },
		{ "\\ORPHAN~1.TXT", 1, 0, 0 },
		{ "\\DELETED.TXT", 0, 0, 0 },
		{ "\\EMPTY.TXT", 1, 0, 0 },
		{ "\\SYSTEM", 0, 0, 0 },          /* the volume label */
		{ "\\EFI\\F14.TXT", 1, 0, 0 },
		{ "\\EFI\\Microsoft", 1, 1, 0 },  /* LFN across two clusters */
		{ "\\efi\\MICROS~1", 1, 1, 0 },
		{ "\\EFI\\Microsoft\\Boot\\BCD", 1, 0, 700 },
		{ "\\efi\\microsoft\\boot\\bcd", 1, 0, 700 },
		{ "\\\\EFI\\\\Microsoft\\Boot\\BCD\\", 1, 0, 700 },
		{ "\\EFI\\Microsoft\\Boot\\BCD\\x", 0, 0, 0 },
		{ "\\README.TXT\\x", 0, 0, 0 },
		{ "\\EFI\\Boot\\bootx64.efi", 0, 0, 0 },
		{ "\\EFI\\Microsoft\\Boot\\BCD.LOG", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		int is_dir = -1;
		uint64_t size = 99;
		r = bw_fat_exists(o.f, q[i].path, &is_dir, &size, &err);
		CHECK_EQ_U64(r, q[i].r);
		if (r != q[i].r)
			fprintf(stderr, "  FAT%u %s: %d %s\n", type, q[i].path, r,
				r < 0 ? err.msg : "");
		if (r == 1) {
			CHECK_EQ_U64(is_dir, q[i].dir);
			CHECK_EQ_U64(size, q[i].size);
		}
	}
	CHECK(bw_fat_exists(o.f, "\\EFI\\..\\EFI", NULL, NULL, &err) == BW_EINVAL);
	CHECK(bw_fat_exists(o.f, "\\EFI\\.", NULL, NULL, &err) == BW_EINVAL);

	/* FAT32: one range (root at cluster 2 follows the FATs); FAT12/16:
	 * cluster 2 is free, so two. */
	uint64_t t[3] = {0};
	CHECK_EQ_U64(bw_fat_used_ranges(o.f, sum_range, t), 0);
	CHECK_EQ_U64(t[0], v.data_off + (uint64_t)used * 512);
	CHECK_EQ_U64(t[1], type == 32 ? 1 : 2);
	CHECK_EQ_U64(t[2], v.data_off + (uint64_t)(CL_EFI2 - 1) * 512);
	CHECK_EQ_U64(bw_fat_used_ranges(o.f, stop_range, NULL), 42);
	vol_close(&o);
	free(v.img);
}

/* The type follows the cluster count, not the label at 0x36. */
static void test_type_by_count(void)
{
	struct vol v;
	struct opened o;
	struct bw_error err = {0};
	vol_build(&v, 16);
	memcpy(v.img + 0x36, "FAT12   ", 8);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_get_info(o.f)->type, 16);
		vol_close(&o);
	}
	free(v.img);
	vol_build(&v, 12);
	memcpy(v.img + 0x36, "FAT16   ", 8);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_get_info(o.f)->type, 12);
		vol_close(&o);
	}
	free(v.img);
}

/* ------------------------------------------------------------------ */
/* refusals at open                                                    */

enum field { F_U8, F_U16, F_U32 };

static void set_field(uint8_t *b, unsigned off, enum field w, uint32_t val)
{
	if (w == F_U8)
		b[off] = (uint8_t)val;
	else if (w == F_U16)
		bw_put_le16(b + off, (uint16_t)val);
	else
		bw_put_le32(b + off, val);
}

static void test_bad_boot(void)
{
	static const struct {
		unsigned type, off;
		enum field w;
		uint32_t val;
		int code;
		const char *msg;
	} cases[] = {
		{ 16, 510, F_U16, 0x0000, BW_EFORMAT, "expected 0x55 0xAA" },
		{ 16, 0, F_U8, 0x00, BW_EFORMAT, "jump instruction 00" },
		{ 16, 2, F_U8, 0x00, BW_EFORMAT, "expected EB xx 90" },
		{ 16, 0x0B, F_U16, 1000, BW_EFORMAT, "bytes per sector 1000" },
		{ 16, 0x0B, F_U16, 256, BW_EFORMAT, "bytes per sector 256" },
		{ 16, 0x0B, F_U16, 8192, BW_EFORMAT, "bytes per sector 8192" },
		{ 16, 0x0D, F_U8, 0, BW_EFORMAT, "sectors per cluster 0" },
		{ 16, 0x0D, F_U8, 3, BW_EFORMAT, "sectors per cluster 3" },
		{ 16, 0x0E, F_U16, 0, BW_EFORMAT, "reserved sectors 0" },
		{ 16, 0x10, F_U8, 0, BW_EFORMAT, "number of FATs 0" },
		{ 16, 0x10, F_U8, 3, BW_EFORMAT, "number of FATs 3" },
		{ 16, 0x15, F_U8, 0x12, BW_EFORMAT, "media byte 0x12" },
		{ 16, 0x11, F_U16, 17, BW_EFORMAT, "root entries 17" },
		{ 16, 0x20, F_U32, 1, BW_EFORMAT, "disagree" },
		{ 16, 0x13, F_U16, 60000, BW_EFORMAT, "do not fit the partition" },
		{ 16, 0x13, F_U16, 0, BW_EFORMAT, "total sectors 0" },
		{ 32, 0x24, F_U32, 0, BW_EFORMAT, "FAT size 0" },
		{ 16, 0x16, F_U16, 2600, BW_EFORMAT, "leave no data sectors" },
		{ 16, 0x16, F_U16, 10, BW_EFORMAT, "FAT of 10 sectors holds fewer than the 5022 entries" },
		/* FAT12 with 0x16 zero: FAT32's 0x24 is read, here 0x00290000 */
		{ 12, 0x16, F_U16, 0, BW_EFORMAT, "leave no data sectors" },
		{ 32, 0x2A, F_U16, 0x0100, BW_EUNSUPPORTED, "FAT32 version 1.0" },
		{ 32, 0x2C, F_U32, 0, BW_EFORMAT, "root cluster 0" },
		{ 32, 0x2C, F_U32, 65602, BW_EFORMAT, "root cluster 65602 at byte 0x2c (expected 2..65601)" },
		{ 32, 0x28, F_U16, 0x0082, BW_EFORMAT, "active FAT 2" },
		{ 32, 0x11, F_U16, 16, BW_EFORMAT, "make FAT32" },
		{ 32, 0x0B, F_U16, 4096, BW_EFORMAT, "do not fit the partition" },
		{ 12, 0x0D, F_U8, 128, BW_EFORMAT, "hold no whole cluster of 128 sectors" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct vol v;
		struct opened o;
		struct bw_error err = {0};
		vol_build(&v, cases[i].type);
		set_field(v.img, cases[i].off, cases[i].w, cases[i].val);
		int r = vol_open(&v, &o, &err);
		CHECK_EQ_U64(r, cases[i].code);
		if (r == 0)
			vol_close(&o);
		else
			CHECK(has(&err, cases[i].msg) && has(&err, LABEL) &&
			      has(&err, "FAT boot sector at offset 0"));
		free(v.img);
	}

	/* Cluster size over the cap: 4096-byte sectors x 32. */
	struct vol v;
	struct opened o;
	struct bw_error err = {0};
	vol_build(&v, 16);
	bw_put_le16(v.img + 0x0B, 4096);
	v.img[0x0D] = 32;
	CHECK_EQ_U64(vol_open(&v, &o, &err), BW_EUNSUPPORTED);
	CHECK(has(&err, "cluster size 131072 bytes"));
	free(v.img);

	/* A FAT16-sized FAT32 layout: FAT size 0 at 0x16 with 5000 clusters. */
	vol_build(&v, 16);
	bw_put_le32(v.img + 0x24, bw_get_le16(v.img + 0x16));
	bw_put_le16(v.img + 0x16, 0);
	CHECK_EQ_U64(vol_open(&v, &o, &err), BW_EFORMAT);
	CHECK(has(&err, "make FAT16"));
	free(v.img);

	/* A partition shorter than one sector, and one past the disk. */
	vol_build(&v, 12);
	char path[300];
	snprintf(path, sizeof path, "%s/vol.img", tmpdir);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		struct bw_fat *f2 = (struct bw_fat *)1;
		CHECK_EQ_U64(bw_fat_open(o.d, 0, 100, LABEL, &f2, &err), BW_EFORMAT);
		CHECK(f2 == NULL && has(&err, "expected at least one sector"));
		CHECK_EQ_U64(bw_fat_open(o.d, 512, v.size, LABEL, &f2, &err), BW_EFORMAT);
		CHECK(has(&err, "lies outside the disk"));
		/* The label defaults to the disk's path. */
		CHECK_EQ_U64(bw_fat_open(o.d, 512, v.size, NULL, &f2, &err), BW_EFORMAT);
		CHECK(has(&err, path));
		vol_close(&o);
	}
	free(v.img);
	bw_fat_close(NULL);
}

/* ------------------------------------------------------------------ */
/* broken chains and entries, found by lookups                         */

static void test_bad_chains(unsigned type)
{
	struct vol v;
	struct opened o;
	struct bw_error err = {0};
	int r;
	const uint32_t bad = type == 12 ? 0xFF7 : type == 16 ? 0xFFF7 : 0x0FFFFFF7;
	enum { VAL_EOC = -1, VAL_PAST = -2, VAL_HIGH = -3 };
	static const struct { uint32_t c; int val; const char *path, *msg; } cases[] = {
		/* a loop of two clusters in a file */
		{ CL_BCD + 1, CL_BCD, "\\EFI\\Microsoft\\Boot\\BCD", "a loop at cluster" },
		{ CL_README + 1, CL_README, "\\README.TXT", "a loop at cluster" },
		{ CL_BCD, 0, "\\EFI\\Microsoft\\Boot\\BCD",
		  "FAT entry of cluster 9 at offset " },
		{ CL_BCD, 0, "\\EFI\\Microsoft\\Boot\\BCD", " is 0 (expected a cluster 2.." },
		{ CL_BCD, 0, "\\EFI\\Microsoft\\Boot\\BCD", "a free cluster in a chain" },
		{ CL_BCD, VAL_PAST, "\\EFI\\Microsoft\\Boot\\BCD", "or end of chain)" },
		{ CL_BCD, VAL_HIGH, "\\EFI\\Microsoft\\Boot\\BCD", "(expected a cluster 2.." },
		{ CL_BCD, VAL_EOC, "\\EFI\\Microsoft\\Boot\\BCD",
		  "has a chain of 1 clusters (expected at least 2 of 512 bytes)" },
		/* directories: a loop (by the step count or the 65536-entry
		 * cap, whichever comes first), a free cluster */
		{ CL_EFI2, CL_EFI, "\\EFI\\Microsoft", "\"\\EFI\": " },
		{ CL_EFI2, 0, "\\EFI\\Microsoft", "a free cluster in a chain" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		vol_build(&v, type);
		uint32_t val = cases[i].val == VAL_EOC ? eoc(&v) :
			       cases[i].val == VAL_PAST ? v.count + 2 :
			       /* reserved values below the bad mark */
			       cases[i].val == VAL_HIGH ? eoc(&v) - 0xF :
			       (uint32_t)cases[i].val;
		set_fat(&v, cases[i].c, val);
		CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
		if (o.f) {
			r = bw_fat_exists(o.f, cases[i].path, NULL, NULL, &err);
			CHECK_EQ_U64(r, BW_EFORMAT);
			if (r == BW_EFORMAT)
				CHECK(has(&err, cases[i].msg) && has(&err, LABEL));
			vol_close(&o);
		}
		free(v.img);
	}
	/* The bad-cluster mark in a chain. */
	vol_build(&v, type);
	set_fat(&v, CL_BCD, bad);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\EFI\\Microsoft\\Boot\\BCD", NULL, NULL, &err),
			     BW_EFORMAT);
		CHECK(has(&err, "cluster 9 is marked bad"));
		vol_close(&o);
	}
	free(v.img);

	/* A directory entry naming a cluster out of range, and a file of
	 * 1000 bytes with first cluster 0. */
	vol_build(&v, type);
	bw_put_le16(dirent(&v, 0, 1) + 0x1A, (uint16_t)(v.count + 2));
	if (type == 32)
		bw_put_le16(dirent(&v, 0, 1) + 0x14, (uint16_t)((v.count + 2) >> 16));
	bw_put_le16(dirent(&v, 0, 2) + 0x1A, 0);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\EFI\\Microsoft", NULL, NULL, &err), BW_EFORMAT);
		CHECK(has(&err, "\"\\EFI\": directory at cluster"));
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\README.TXT", NULL, NULL, &err), BW_EFORMAT);
		CHECK(has(&err, "file of 1000 bytes has first cluster 0"));
		/* The rest of the volume still answers. */
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\EMPTY.TXT", NULL, NULL, &err), 1);
		vol_close(&o);
	}
	free(v.img);
}

/* Long names: an out-of-order set and a bad checksum are orphans; a name
 * of exactly 13 characters has no terminator; a bad LFN type is ignored. */
static void test_lfn(void)
{
	struct vol v;
	struct opened o;
	struct bw_error err = {0};
	vol_build(&v, 16);
	unsigned i = 11;          /* after vol_build's root entries */
	i = put_long(&v, 0, i, "Thirteen char", "THIRTE~1   ", 0x20, 0, 0, 0, plain_entry);
	i = put_long(&v, 0, i, "A rather long name for a file.txt", "ARATHE~1TXT", 0x20,
		     0, 0, 0, plain_entry);
	unsigned swap = i;
	i = put_long(&v, 0, i, "Swapped long entries here", "SWAPPE~1   ", 0x20, 0, 0, 0,
		     plain_entry);
	/* swap the two long entries: ordinals 0x42, 0x01 become 0x01, 0x42 */
	uint8_t tmp[32];
	memcpy(tmp, dirent(&v, 0, swap), 32);
	memcpy(dirent(&v, 0, swap), dirent(&v, 0, swap + 1), 32);
	memcpy(dirent(&v, 0, swap + 1), tmp, 32);
	unsigned typed = i;
	i = put_long(&v, 0, i, "Typed name", "TYPEDN~1   ", 0x20, 0, 0, 0, plain_entry);
	dirent(&v, 0, typed)[12] = 1;
	put_long(&v, 0, i, "Sum spoiled", "SUMSPO~1   ", 0x20, 0, 0, 0x10, plain_entry);

	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\thirteen CHAR", NULL, NULL, &err), 1);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\A RATHER long name for a file.TXT", NULL, NULL, &err), 1);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\A rather long name for a file", NULL, NULL, &err), 0);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\Swapped long entries here", NULL, NULL, &err), 0);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\SWAPPE~1", NULL, NULL, &err), 1);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\Typed name", NULL, NULL, &err), 0);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\TYPEDN~1", NULL, NULL, &err), 1);
		/* LFN checksum mismatch: the long name is refused. */
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\Sum spoiled", NULL, NULL, &err), 0);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\SUMSPO~1", NULL, NULL, &err), 1);
		vol_close(&o);
	}
	free(v.img);
}

/* FAT32 with mirroring off reads the active FAT (the second here). */
static void test_active_fat(void)
{
	struct vol v;
	struct opened o;
	struct bw_error err = {0};
	vol_build(&v, 32);
	bw_put_le16(v.img + 0x28, 0x0081);
	/* Spoil the first FAT's entry for the BCD: only FAT 1 counts. */
	bw_put_le32(v.img + (uint64_t)v.rsvd * v.bps + CL_BCD * 4, 0);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_get_info(o.f)->active_fat, 1);
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\EFI\\Microsoft\\Boot\\BCD", NULL, NULL, &err), 1);
		vol_close(&o);
	}
	bw_put_le16(v.img + 0x28, 0x0080);
	CHECK_EQ_U64(vol_open(&v, &o, &err), 0);
	if (o.f) {
		CHECK_EQ_U64(bw_fat_exists(o.f, "\\EFI\\Microsoft\\Boot\\BCD", NULL, NULL, &err),
			     BW_EFORMAT);
		vol_close(&o);
	}
	free(v.img);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_fat.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_good(12, 0);
	test_good(16, 0);
	test_good(32, 0);
	test_good(32, 1048576);
	test_good(16, 32256);
	test_type_by_count();
	test_bad_boot();
	test_bad_chains(12);
	test_bad_chains(16);
	test_bad_chains(32);
	test_lfn();
	test_active_fat();
	char path[300];
	snprintf(path, sizeof path, "%s/vol.img", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return check_done("test_fat");
}

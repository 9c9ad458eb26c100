/*
 * Read-only FAT12/16/32 (boxwright/fat.h).  The source for every offset,
 * rule and number is Microsoft's "FAT: General Overview of On-Disk
 * Format" (fatgen103, 2000): the BPB (section 3), the type by cluster
 * count (3.5), the FAT entries (4), directory entries (6) and long names
 * (7).  Fields are read with bw_get_le*(p + OFFSET), never through a
 * struct.  Everything open reads and records is checked there: lookups
 * and the used-range walk then only follow cluster numbers that have been
 * range-checked, and every chain is walked with a step limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/fat.h"
#include "common/bytes.h"
#include "common/utf16.h"

/* ---- boot sector and BPB (fatgen103 section 3) ---- */
#define FAT_BS_JMP            0x00  /* 3 bytes: EB xx 90 or E9 xx xx */
#define FAT_BPB_BYTS_PER_SEC  0x0B  /* le16: 512, 1024, 2048, 4096 */
#define FAT_BPB_SEC_PER_CLUS  0x0D  /* u8: power of two 1..128 */
#define FAT_BPB_RSVD_SEC_CNT  0x0E  /* le16: never 0 */
#define FAT_BPB_NUM_FATS      0x10  /* u8: 2 (1 allowed) */
#define FAT_BPB_ROOT_ENT_CNT  0x11  /* le16: FAT12/16 root entries, 0 on FAT32 */
#define FAT_BPB_TOT_SEC16     0x13  /* le16: 0 when TOT_SEC32 holds the count */
#define FAT_BPB_MEDIA         0x15  /* u8: 0xF0, 0xF8..0xFF */
#define FAT_BPB_FAT_SZ16      0x16  /* le16: 0 on FAT32 */
#define FAT_BPB_TOT_SEC32     0x20  /* le32 */
#define FAT_BPB_FAT_SZ32      0x24  /* le32, FAT32 */
#define FAT_BPB_EXT_FLAGS     0x28  /* le16, FAT32: bit 7 mirroring off, 0-3 active FAT */
#define FAT_BPB_FS_VER        0x2A  /* le16, FAT32: 0.0 */
#define FAT_BPB_ROOT_CLUS     0x2C  /* le32, FAT32 */
#define FAT_BS_SIGNATURE      0x1FE /* 0x55 0xAA, whatever the sector size */
#define FAT_BOOT_SIZE         512

#define FAT_EXT_MIRROR_OFF    0x0080u
#define FAT_EXT_ACTIVE_MASK   0x000Fu

/* 3.5: the one way to tell the type. */
#define FAT12_MAX_CLUSTERS    4084u   /* < 4085 */
#define FAT16_MAX_CLUSTERS    65524u  /* < 65525 */

/* ---- directory entries (sections 6 and 7) ---- */
#define FAT_DIRENT_SIZE       32u
#define FAT_DIR_NAME          0x00  /* 11 bytes: 8 + 3, space padded */
#define FAT_DIR_ATTR          0x0B
#define FAT_DIR_FST_CLUS_HI   0x14  /* le16, FAT32 only */
#define FAT_DIR_FST_CLUS_LO   0x1A  /* le16 */
#define FAT_DIR_FILE_SIZE     0x1C  /* le32 */
#define FAT_LDIR_ORD          0x00  /* 1..20, 0x40 on the last (first stored) */
#define FAT_LDIR_NAME1        0x01  /* 5 UTF-16 units */
#define FAT_LDIR_TYPE         0x0C  /* 0 */
#define FAT_LDIR_CHKSUM       0x0D
#define FAT_LDIR_NAME2        0x0E  /* 6 units */
#define FAT_LDIR_FST_CLUS_LO  0x1A  /* 0 */
#define FAT_LDIR_NAME3        0x1C  /* 2 units */
#define FAT_LFN_UNITS         13u
#define FAT_LAST_LONG_ENTRY   0x40u

#define FAT_ATTR_VOLUME_ID    0x08u
#define FAT_ATTR_DIRECTORY    0x10u
#define FAT_ATTR_LONG_NAME    0x0Fu  /* RO | HIDDEN | SYSTEM | VOLUME_ID */
#define FAT_ATTR_LONG_MASK    0x3Fu
#define FAT_DIRENT_FREE       0xE5u
#define FAT_DIRENT_END        0x00u
#define FAT_DIRENT_KANJI_E5   0x05u  /* a name whose first byte is 0xE5 */

struct bw_fat {
	struct bw_disk *disk;
	uint64_t part_off, part_size;
	char *label;
	struct bw_fat_info info;
	uint8_t *fat;            /* the active FAT, entries 0..cluster_count+1 */
	size_t fat_len;
	uint32_t eoc_min;        /* first end-of-chain value */
	uint32_t bad;            /* the bad-cluster mark */
	uint64_t root_off;       /* FAT12/16 root directory, partition-relative */
	uint64_t fat_off;        /* the active FAT, partition-relative */
};

static int is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* ------------------------------------------------------------------ */
/* boot sector                                                         */

#define BPB_ERR(code, ...)                                                   \
	bw_seterr(err, code, label, "FAT boot sector at offset %llu: " __VA_ARGS__)

static int fat_parse_boot(const uint8_t *bs, uint64_t part_off,
			  uint64_t part_size, const char *label,
			  struct bw_fat_info *g, struct bw_error *err)
{
	unsigned long long at = (unsigned long long)part_off;

	memset(g, 0, sizeof *g);
	if (bs[FAT_BS_SIGNATURE] != 0x55 || bs[FAT_BS_SIGNATURE + 1] != 0xAA)
		return BPB_ERR(BW_EFORMAT, "no boot signature (expected 0x55 0xAA at byte 510, found 0x%02x 0x%02x)",
			       at, bs[FAT_BS_SIGNATURE], bs[FAT_BS_SIGNATURE + 1]);
	if (!((bs[FAT_BS_JMP] == 0xEB && bs[FAT_BS_JMP + 2] == 0x90) ||
	      bs[FAT_BS_JMP] == 0xE9))
		return BPB_ERR(BW_EFORMAT, "jump instruction %02x %02x %02x at byte 0 (expected EB xx 90 or E9 xx xx)",
			       at, bs[0], bs[1], bs[2]);

	uint16_t bps = bw_get_le16(bs + FAT_BPB_BYTS_PER_SEC);
	if (!is_pow2(bps) || bps < 512 || bps > 4096)
		return BPB_ERR(BW_EFORMAT, "bytes per sector %u at byte 0x0b (expected a power of two 512..4096)",
			       at, (unsigned)bps);
	uint8_t spc = bs[FAT_BPB_SEC_PER_CLUS];
	if (!is_pow2(spc))
		return BPB_ERR(BW_EFORMAT, "sectors per cluster %u at byte 0x0d (expected a power of two 1..128)",
			       at, (unsigned)spc);
	uint32_t cluster_size = (uint32_t)spc * bps;
	if (cluster_size > BW_FAT_MAX_CLUSTER_SIZE)
		return BPB_ERR(BW_EUNSUPPORTED, "cluster size %u bytes (expected at most %u)",
			       at, (unsigned)cluster_size, BW_FAT_MAX_CLUSTER_SIZE);
	uint16_t rsvd = bw_get_le16(bs + FAT_BPB_RSVD_SEC_CNT);
	if (rsvd == 0)
		return BPB_ERR(BW_EFORMAT, "reserved sectors 0 at byte 0x0e (expected at least 1: the boot sector)",
			       at);
	uint8_t nfats = bs[FAT_BPB_NUM_FATS];
	if (nfats < 1 || nfats > 2)
		return BPB_ERR(BW_EFORMAT, "number of FATs %u at byte 0x10 (expected 1 or 2)",
			       at, (unsigned)nfats);
	uint8_t media = bs[FAT_BPB_MEDIA];
	if (media != 0xF0 && media < 0xF8)
		return BPB_ERR(BW_EFORMAT, "media byte 0x%02x at byte 0x15 (expected 0xf0 or 0xf8..0xff)",
			       at, (unsigned)media);

	/* Root entries fill whole sectors (fatgen103 3.2; Linux refuses
	 * otherwise too).  0 is FAT32's value, checked below by type. */
	uint16_t root_ent = bw_get_le16(bs + FAT_BPB_ROOT_ENT_CNT);
	if ((uint32_t)root_ent * FAT_DIRENT_SIZE % bps != 0)
		return BPB_ERR(BW_EFORMAT, "root entries %u at byte 0x11 do not fill whole sectors of %u bytes (expected a multiple of %u)",
			       at, (unsigned)root_ent, (unsigned)bps,
			       (unsigned)(bps / FAT_DIRENT_SIZE));
	uint32_t root_sectors = (uint32_t)root_ent * FAT_DIRENT_SIZE / bps;

	uint16_t tot16 = bw_get_le16(bs + FAT_BPB_TOT_SEC16);
	uint32_t tot32 = bw_get_le32(bs + FAT_BPB_TOT_SEC32);
	if (tot16 != 0 && tot32 != 0 && tot16 != tot32)
		return BPB_ERR(BW_EFORMAT, "total sectors %u at byte 0x13 and %u at byte 0x20 disagree (expected one of them 0)",
			       at, (unsigned)tot16, (unsigned)tot32);
	uint64_t total = tot16 ? tot16 : tot32;
	if (total == 0 || total > part_size / bps)
		return BPB_ERR(BW_EFORMAT, "total sectors %llu of %u bytes do not fit the partition (expected 1..%llu)",
			       at, (unsigned long long)total, (unsigned)bps,
			       (unsigned long long)(part_size / bps));

	uint16_t fatsz16 = bw_get_le16(bs + FAT_BPB_FAT_SZ16);
	uint32_t fatsz = fatsz16 ? fatsz16 : bw_get_le32(bs + FAT_BPB_FAT_SZ32);
	if (fatsz == 0)
		return BPB_ERR(BW_EFORMAT, "FAT size 0 sectors (bytes 0x16 and 0x24; expected at least 1)",
			       at);
	/* All in 64 bits: at most 65535 + 2 * (2^32 - 1) + 65535 sectors. */
	uint64_t meta = (uint64_t)rsvd + (uint64_t)nfats * fatsz + root_sectors;
	if (meta >= total)
		return BPB_ERR(BW_EFORMAT, "reserved sectors %u, %u FATs of %u sectors and %u root directory sectors leave no data sectors in %llu (expected fewer than %llu)",
			       at, (unsigned)rsvd, (unsigned)nfats,
			       (unsigned)fatsz, (unsigned)root_sectors,
			       (unsigned long long)total,
			       (unsigned long long)total);
	uint64_t clusters = (total - meta) / spc;
	if (clusters == 0)
		return BPB_ERR(BW_EFORMAT, "%llu data sectors hold no whole cluster of %u sectors",
			       at, (unsigned long long)(total - meta), (unsigned)spc);
	if (clusters > BW_FAT_MAX_CLUSTERS)
		return BPB_ERR(BW_EFORMAT, "%llu clusters (expected at most %u)",
			       at, (unsigned long long)clusters, BW_FAT_MAX_CLUSTERS);

	/* fatgen103 3.5: the count alone decides; the label at 0x36/0x52
	 * ("FAT16   ", "FAT32   ") is informational. */
	unsigned type = clusters <= FAT12_MAX_CLUSTERS ? 12 :
			clusters <= FAT16_MAX_CLUSTERS ? 16 : 32;
	uint32_t root_clus = 0;
	uint8_t active = 0;
	if (type == 32) {
		if (fatsz16 != 0 || root_ent != 0 || tot16 != 0)
			return BPB_ERR(BW_EFORMAT, "%llu clusters make FAT32, but FAT size %u (0x16), root entries %u (0x11), total sectors %u (0x13) are FAT12/16 fields (expected all 0)",
				       at, (unsigned long long)clusters,
				       (unsigned)fatsz16, (unsigned)root_ent,
				       (unsigned)tot16);
		uint16_t ver = bw_get_le16(bs + FAT_BPB_FS_VER);
		if (ver != 0)
			return BPB_ERR(BW_EUNSUPPORTED, "FAT32 version %u.%u at byte 0x2a (expected 0.0)",
				       at, (unsigned)(ver >> 8), (unsigned)(ver & 0xFF));
		uint16_t ext = bw_get_le16(bs + FAT_BPB_EXT_FLAGS);
		if (ext & FAT_EXT_MIRROR_OFF) {
			active = (uint8_t)(ext & FAT_EXT_ACTIVE_MASK);
			if (active >= nfats)
				return BPB_ERR(BW_EFORMAT, "active FAT %u at byte 0x28 (expected below the %u FATs)",
					       at, (unsigned)active, (unsigned)nfats);
		}
		root_clus = bw_get_le32(bs + FAT_BPB_ROOT_CLUS);
		if (root_clus < 2 || root_clus > clusters + 1)
			return BPB_ERR(BW_EFORMAT, "root cluster %u at byte 0x2c (expected 2..%llu)",
				       at, (unsigned)root_clus,
				       (unsigned long long)clusters + 1);
	} else {
		if (fatsz16 == 0 || root_ent == 0)
			return BPB_ERR(BW_EFORMAT, "%llu clusters make FAT%u, but FAT size %u (0x16) and root entries %u (0x11) are FAT32's (expected both non-zero)",
				       at, (unsigned long long)clusters, type,
				       (unsigned)fatsz16, (unsigned)root_ent);
	}

	/* The FAT must have an entry for every cluster and the two
	 * reserved ones (0 and 1). */
	uint64_t need = ((clusters + 2) * type + 7) / 8;
	if (need > (uint64_t)fatsz * bps)
		return BPB_ERR(BW_EFORMAT, "FAT of %u sectors holds fewer than the %llu entries %llu clusters need (expected at least %llu bytes)",
			       at, (unsigned)fatsz, (unsigned long long)clusters + 2,
			       (unsigned long long)clusters,
			       (unsigned long long)need);
	if (need > BW_FAT_MAX_FAT_BYTES)
		return BPB_ERR(BW_EUNSUPPORTED, "a FAT of %llu bytes for %llu clusters (expected at most %u)",
			       at, (unsigned long long)need,
			       (unsigned long long)clusters, BW_FAT_MAX_FAT_BYTES);

	g->type = type;
	g->bytes_per_sector = bps;
	g->cluster_size = cluster_size;
	g->reserved_sectors = rsvd;
	g->fats = nfats;
	g->active_fat = active;
	g->fat_sectors = fatsz;
	g->root_entries = root_ent;
	g->root_cluster = root_clus;
	g->total_sectors = total;
	g->cluster_count = (uint32_t)clusters;
	g->data_offset = meta * bps;
	g->volume_size = total * bps;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the FAT                                                             */

/* Entry C (0..cluster_count+1: callers check) of the active FAT. */
static uint32_t fat_entry(const struct bw_fat *f, uint32_t c)
{
	switch (f->info.type) {
	case 12: {
		size_t off = (size_t)c + c / 2;
		uint16_t v = bw_get_le16(f->fat + off);
		return c & 1 ? (uint32_t)(v >> 4) : (uint32_t)(v & 0x0FFF);
	}
	case 16:
		return bw_get_le16(f->fat + (size_t)c * 2);
	default:
		/* The top 4 bits are reserved (fatgen103 section 4). */
		return bw_get_le32(f->fat + (size_t)c * 4) & 0x0FFFFFFFu;
	}
}

/* Disk offset of the entry of cluster C, for messages. */
static unsigned long long entry_at(const struct bw_fat *f, uint32_t c)
{
	return (unsigned long long)(f->part_off + f->fat_off +
				    (uint64_t)c * f->info.type / 8);
}

static int in_range(const struct bw_fat *f, uint32_t c)
{
	return c >= 2 && c - 2 < f->info.cluster_count;
}

/* The cluster after C in a chain: *NEXT is 0 at the end of the chain.
 * STEP counts the clusters already walked; a chain longer than the
 * volume's cluster count must loop.  WHAT names the chain. */
static int fat_next(const struct bw_fat *f, uint32_t c, uint64_t step,
		    const char *what, uint32_t *next, struct bw_error *err)
{
	uint32_t v = fat_entry(f, c);
	if (v >= f->eoc_min) {
		*next = 0;
		return 0;
	}
	if (v == f->bad)
		return bw_seterr(err, BW_EFORMAT, f->label,
				 "%s: cluster %u is marked bad in the FAT (entry at offset %llu; expected a chain of good clusters)",
				 what, (unsigned)c, entry_at(f, c));
	if (!in_range(f, v))
		return bw_seterr(err, BW_EFORMAT, f->label,
				 "%s: FAT entry of cluster %u at offset %llu is %u (expected a cluster 2..%u or end of chain%s)",
				 what, (unsigned)c, entry_at(f, c), (unsigned)v,
				 (unsigned)f->info.cluster_count + 1,
				 v == 0 ? ": a free cluster in a chain" : "");
	if (step >= f->info.cluster_count)
		return bw_seterr(err, BW_EFORMAT, f->label,
				 "%s: cluster chain longer than the volume's %u clusters (a loop at cluster %u)",
				 what, (unsigned)f->info.cluster_count, (unsigned)v);
	*next = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* directories                                                         */

struct fat_dirent {
	uint8_t attr;
	uint32_t cluster;
	uint32_t size;
};

static uint64_t cluster_off(const struct bw_fat *f, uint32_t c)
{
	return f->info.data_offset + (uint64_t)(c - 2) * f->info.cluster_size;
}

/* Read the whole directory at CLUSTER (0: the FAT12/16 fixed root) into
 * a malloc'd *BUF of *LEN bytes, at most BW_FAT_MAX_DIR_ENTRIES entries. */
static int dir_read(struct bw_fat *f, uint32_t cluster, const char *what,
		    uint8_t **buf, size_t *len, struct bw_error *err)
{
	const size_t max = (size_t)BW_FAT_MAX_DIR_ENTRIES * FAT_DIRENT_SIZE;
	*buf = NULL;
	*len = 0;
	if (cluster == 0) {
		size_t n = (size_t)f->info.root_entries * FAT_DIRENT_SIZE;
		uint8_t *b = malloc(n);
		if (!b)
			return bw_seterr(err, BW_ENOMEM, f->label, "out of memory for a root directory of %zu bytes", n);
		int r = bw_disk_pread(f->disk, b, n, f->part_off + f->root_off, err);
		if (r) {
			free(b);
			return r;
		}
		*buf = b;
		*len = n;
		return 0;
	}
	size_t cs = f->info.cluster_size, n = 0, cap = 0;
	uint8_t *b = NULL;
	int r = 0;
	uint64_t step = 0;
	for (uint32_t c = cluster; c != 0; step++) {
		if (n + cs > max) {
			r = bw_seterr(err, BW_EFORMAT, f->label,
				      "%s: directory at cluster %u is longer than %u entries (fatgen103's limit; a loop or a corrupt FAT)",
				      what, (unsigned)cluster, BW_FAT_MAX_DIR_ENTRIES);
			goto out;
		}
		if (n + cs > cap) {
			size_t ncap = cap ? cap * 2 : cs * 4;
			if (ncap > max)
				ncap = max;
			uint8_t *nb = realloc(b, ncap);
			if (!nb) {
				r = bw_seterr(err, BW_ENOMEM, f->label, "out of memory for a directory of %zu bytes", ncap);
				goto out;
			}
			b = nb;
			cap = ncap;
		}
		r = bw_disk_pread(f->disk, b + n, cs, f->part_off + cluster_off(f, c), err);
		if (r)
			goto out;
		n += cs;
		r = fat_next(f, c, step + 1, what, &c, err);
		if (r)
			goto out;
	}
out:
	if (r) {
		free(b);
		return r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* fatgen103 section 7: the checksum of the 11-byte short name. */
static uint8_t lfn_checksum(const uint8_t *name)
{
	uint8_t sum = 0;
	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) ? 0x80 : 0) + (sum >> 1) + name[i]);
	return sum;
}

static int ascii_caseeq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'a' && x <= 'z')
			x = (unsigned char)(x - 'a' + 'A');
		if (y >= 'a' && y <= 'z')
			y = (unsigned char)(y - 'a' + 'A');
		if (x != y)
			return 0;
	}
	return 1;
}

/* "NAME.EXT" of an 11-byte short name, in OUT (13 bytes). */
static size_t short_name(const uint8_t *name, char out[13])
{
	size_t n = 0, base = 8, ext = 3;
	while (base > 0 && name[base - 1] == ' ')
		base--;
	while (ext > 0 && name[8 + ext - 1] == ' ')
		ext--;
	for (size_t i = 0; i < base; i++)
		out[n++] = (char)(i == 0 && name[0] == FAT_DIRENT_KANJI_E5 ? 0xE5 : name[i]);
	if (ext) {
		out[n++] = '.';
		for (size_t i = 0; i < ext; i++)
			out[n++] = (char)name[8 + i];
	}
	out[n] = '\0';
	return n;
}

/* A long name being collected, last part first (fatgen103 section 7). */
struct lfn_state {
	unsigned count;          /* entries in the set; 0: none */
	unsigned next;           /* ordinal expected next; 0: complete */
	uint8_t sum;
	uint8_t units[BW_FAT_MAX_LFN_ENTRIES * FAT_LFN_UNITS * 2];
};

static void lfn_entry(struct lfn_state *l, const uint8_t *e)
{
	unsigned ord = e[FAT_LDIR_ORD];
	unsigned n = ord & ~FAT_LAST_LONG_ENTRY;
	if (e[FAT_LDIR_TYPE] != 0 || bw_get_le16(e + FAT_LDIR_FST_CLUS_LO) != 0 ||
	    n == 0 || n > BW_FAT_MAX_LFN_ENTRIES) {
		l->count = 0;
		return;
	}
	if (ord & FAT_LAST_LONG_ENTRY) {
		l->count = n;
		l->sum = e[FAT_LDIR_CHKSUM];
	} else if (l->count == 0 || l->next != n || e[FAT_LDIR_CHKSUM] != l->sum) {
		l->count = 0;        /* out of order: an orphan */
		return;
	}
	l->next = n - 1;
	uint8_t *u = l->units + (size_t)(n - 1) * FAT_LFN_UNITS * 2;
	memcpy(u, e + FAT_LDIR_NAME1, 10);
	memcpy(u + 10, e + FAT_LDIR_NAME2, 12);
	memcpy(u + 22, e + FAT_LDIR_NAME3, 4);
}

/* Find NAME (LEN bytes) in the directory at CLUSTER (0: fixed root).
 * Returns 1 with *DE filled, 0, or a negative code. */
static int dir_find(struct bw_fat *f, uint32_t cluster, const char *what,
		    const char *name, size_t len, struct fat_dirent *de,
		    struct bw_error *err)
{
	uint8_t *buf;
	size_t n;
	int r = dir_read(f, cluster, what, &buf, &n, err);
	if (r)
		return r;
	struct lfn_state *l = malloc(sizeof *l);
	if (!l) {
		free(buf);
		return bw_seterr(err, BW_ENOMEM, f->label, "out of memory");
	}
	l->count = 0;
	r = 0;
	for (size_t off = 0; off + FAT_DIRENT_SIZE <= n; off += FAT_DIRENT_SIZE) {
		const uint8_t *e = buf + off;
		if (e[0] == FAT_DIRENT_END)
			break;
		if (e[0] == FAT_DIRENT_FREE) {
			l->count = 0;
			continue;
		}
		uint8_t attr = e[FAT_DIR_ATTR];
		if ((attr & FAT_ATTR_LONG_MASK) == FAT_ATTR_LONG_NAME) {
			lfn_entry(l, e);
			continue;
		}
		/* A set out of order or with another checksum is an orphan
		 * (left by a tool that renamed the short entry without knowing
		 * long names): the short name alone names the file. */
		unsigned long_entries = l->count != 0 && l->next == 0 &&
			l->sum == lfn_checksum(e + FAT_DIR_NAME) ? l->count : 0;
		l->count = 0;
		/* The volume label, and "." and ".." (refused by the caller). */
		if ((attr & FAT_ATTR_VOLUME_ID) || e[0] == '.')
			continue;
		int match = 0;
		if (long_entries) {
			/* Unpaired surrogates become U+FFFD: such a name can
			 * only match by its short name. */
			char lname[BW_FAT_MAX_LFN_ENTRIES * FAT_LFN_UNITS * 3 + 1];
			size_t ln;
			if (bw_utf16_to_utf8(l->units, (size_t)long_entries * FAT_LFN_UNITS * 2,
					     BW_UTF16_REPLACE,
					     BW_UTF16_NUL_ENDS, lname, sizeof lname,
					     &ln, NULL) == 0)
				match = ascii_caseeq(lname, ln, name, len);
		}
		if (!match) {
			char sname[13];
			size_t sn = short_name(e + FAT_DIR_NAME, sname);
			match = ascii_caseeq(sname, sn, name, len);
		}
		if (match) {
			de->attr = attr;
			de->cluster = bw_get_le16(e + FAT_DIR_FST_CLUS_LO);
			if (f->info.type == 32)
				de->cluster |= (uint32_t)bw_get_le16(e + FAT_DIR_FST_CLUS_HI) << 16;
			de->size = bw_get_le32(e + FAT_DIR_FILE_SIZE);
			r = 1;
			break;
		}
	}
	free(l);
	free(buf);
	return r;
}

/* ------------------------------------------------------------------ */
/* lookups                                                             */

/* The chain at FIRST of an entry of SIZE bytes (0 for a directory): in
 * range, no free or bad cluster, no loop, and long enough for SIZE. */
static int chain_check(const struct bw_fat *f, uint32_t first, uint64_t size,
		       int is_dir, const char *what, struct bw_error *err)
{
	if (first == 0) {
		if (size == 0 && !is_dir)
			return 0;        /* an empty file owns no cluster */
		return bw_seterr(err, BW_EFORMAT, f->label,
				 "%s: %s of %llu bytes has first cluster 0 (expected 2..%u)",
				 what, is_dir ? "directory" : "file",
				 (unsigned long long)size,
				 (unsigned)f->info.cluster_count + 1);
	}
	if (!in_range(f, first))
		return bw_seterr(err, BW_EFORMAT, f->label,
				 "%s: first cluster %u (expected 2..%u)",
				 what, (unsigned)first,
				 (unsigned)f->info.cluster_count + 1);
	uint64_t n = 1;
	for (uint32_t c = first;; n++) {
		int r = fat_next(f, c, n, what, &c, err);
		if (r)
			return r;
		if (c == 0)
			break;
	}
	uint64_t need = (size + f->info.cluster_size - 1) / f->info.cluster_size;
	if (n < need)
		return bw_seterr(err, BW_EFORMAT, f->label,
				 "%s: file of %llu bytes has a chain of %llu clusters (expected at least %llu of %u bytes)",
				 what, (unsigned long long)size,
				 (unsigned long long)n, (unsigned long long)need,
				 (unsigned)f->info.cluster_size);
	return 0;
}

static int is_sep(char c)
{
	return c == '\\' || c == '/';
}

/* PATH's directory entry (*DE; the root: cluster 0) and whether it is a
 * directory: 1 found (its chain checked), 0 not found, or a code. */
static int fat_resolve(struct bw_fat *f, const char *path, struct fat_dirent *out,
		       int *out_dir, struct bw_error *err)
{
	uint32_t dir = f->info.type == 32 ? f->info.root_cluster : 0;
	int cur_dir = 1, at_root = 1;
	struct fat_dirent de = {0};
	char what[320];
	const char *p = path;

	snprintf(what, sizeof what, "root directory");
	for (;;) {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		const char *q = p;
		while (*q && !is_sep(*q))
			q++;
		size_t len = (size_t)(q - p);
		if (!cur_dir)
			return 0;        /* a file on the way */
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return bw_seterr(err, BW_EINVAL, f->label,
					 "path \"%s\": \".\" and \"..\" are not looked up",
					 path);
		int r = dir_find(f, dir, what, p, len, &de, err);
		if (r <= 0)
			return r;
		snprintf(what, sizeof what, "\"%.*s\"", (int)(q - path), path);
		at_root = 0;
		cur_dir = (de.attr & FAT_ATTR_DIRECTORY) != 0;
		if (cur_dir) {
			/* A subdirectory's chain is walked by dir_read when it is
			 * searched, and by chain_check when it is the answer. */
			if (!in_range(f, de.cluster))
				return bw_seterr(err, BW_EFORMAT, f->label,
						 "%s: directory at cluster %u (expected 2..%u)",
						 what, (unsigned)de.cluster,
						 (unsigned)f->info.cluster_count + 1);
			dir = de.cluster;
		}
		p = q;
	}
	if (!at_root) {
		int r = chain_check(f, de.cluster, cur_dir ? 0 : de.size, cur_dir,
				    what, err);
		if (r)
			return r;
	}
	*out = de;
	*out_dir = cur_dir;
	return 1;
}

int bw_fat_exists(struct bw_fat *f, const char *path, int *is_dir,
		  uint64_t *size, struct bw_error *err)
{
	struct fat_dirent de = {0};
	int cur_dir = 1;
	int r = fat_resolve(f, path, &de, &cur_dir, err);
	if (r <= 0)
		return r;
	if (is_dir)
		*is_dir = cur_dir;
	if (size)
		*size = cur_dir ? 0 : de.size;
	return 1;
}

int bw_fat_read(struct bw_fat *f, const char *path, size_t max, uint8_t **data,
		size_t *len, struct bw_error *err)
{
	struct fat_dirent de = {0};
	int is_dir = 1;
	*data = NULL;
	*len = 0;
	int r = fat_resolve(f, path, &de, &is_dir, err);
	if (r == 0)
		return bw_seterr(err, BW_ENOTFOUND, f->label, "%s: not found", path);
	if (r < 0)
		return r;
	if (is_dir)
		return bw_seterr(err, BW_EINVAL, f->label, "%s: a directory, not a file", path);
	if (de.size > max)
		return bw_seterr(err, BW_EFORMAT, f->label, "%s: %u bytes, more than the %zu read",
				 path, (unsigned)de.size, max);
	uint8_t *buf = malloc(de.size ? de.size : 1);
	if (!buf)
		return bw_seterr(err, BW_ENOMEM, f->label, "out of memory");
	/* The chain was checked by fat_resolve: in range, long enough. */
	size_t got = 0;
	uint32_t c = de.cluster;
	for (uint64_t n = 1; got < de.size; n++) {
		size_t k = de.size - got < f->info.cluster_size ? de.size - got : f->info.cluster_size;
		r = bw_disk_pread(f->disk, buf + got, k, f->part_off + cluster_off(f, c), err);
		if (r == 0 && (got += k) < de.size)
			r = fat_next(f, c, n, path, &c, err);
		if (r == 0 && got < de.size && c == 0)
			r = bw_seterr(err, BW_EFORMAT, f->label, "%s: its chain ends early", path);
		if (r) {
			free(buf);
			return r;
		}
	}
	*data = buf;
	*len = got;
	return 0;
}

/* ------------------------------------------------------------------ */
/* used ranges                                                         */

int bw_fat_used_ranges(const struct bw_fat *f, bw_fat_range_cb cb, void *ctx)
{
	/* Reserved sectors, the FATs and the FAT12/16 root: always. */
	uint64_t start = 0, end = f->info.data_offset;
	uint32_t cs = f->info.cluster_size;
	for (uint32_t i = 0; i < f->info.cluster_count; i++) {
		if (fat_entry(f, i + 2) == 0)
			continue;
		uint64_t off = f->info.data_offset + (uint64_t)i * cs;
		if (off != end) {
			int r = cb(ctx, start, end - start);
			if (r)
				return r;
			start = off;
		}
		end = off + cs;
	}
	return cb(ctx, start, end - start);
}

/* ------------------------------------------------------------------ */
/* open / close                                                        */

int bw_fat_open(struct bw_disk *d, uint64_t part_off, uint64_t part_size,
		const char *label, struct bw_fat **out, struct bw_error *err)
{
	uint8_t boot[FAT_BOOT_SIZE];
	uint64_t disk_size = bw_disk_size(d);
	int r;

	*out = NULL;
	if (!label)
		label = bw_disk_path(d);
	if (part_off > disk_size || part_size > disk_size - part_off)
		return bw_seterr(err, BW_EFORMAT, label,
				 "FAT partition at offset %llu of %llu bytes lies outside the disk (size %llu)",
				 (unsigned long long)part_off,
				 (unsigned long long)part_size,
				 (unsigned long long)disk_size);
	if (part_size < FAT_BOOT_SIZE)
		return bw_seterr(err, BW_EFORMAT, label,
				 "FAT partition at offset %llu is %llu bytes (expected at least one sector)",
				 (unsigned long long)part_off,
				 (unsigned long long)part_size);
	struct bw_fat *f = calloc(1, sizeof *f);
	if (!f)
		return bw_seterr(err, BW_ENOMEM, label, "out of memory");
	f->disk = d;
	f->part_off = part_off;
	f->part_size = part_size;
	f->label = strdup(label);
	if (!f->label) {
		r = bw_seterr(err, BW_ENOMEM, label, "out of memory");
		goto fail;
	}

	r = bw_disk_pread(d, boot, sizeof boot, part_off, err);
	if (r)
		goto fail;
	r = fat_parse_boot(boot, part_off, part_size, f->label, &f->info, err);
	if (r)
		goto fail;
	struct bw_fat_info *g = &f->info;
	uint64_t bps = g->bytes_per_sector;
	f->root_off = ((uint64_t)g->reserved_sectors + (uint64_t)g->fats * g->fat_sectors) * bps;
	switch (g->type) {
	case 12: f->eoc_min = 0xFF8; f->bad = 0xFF7; break;
	case 16: f->eoc_min = 0xFFF8; f->bad = 0xFFF7; break;
	default: f->eoc_min = 0x0FFFFFF8; f->bad = 0x0FFFFFF7; break;
	}

	/* Only the entries of real clusters are read: parse_boot checked
	 * they fit the FAT and the cap.  One spare zero byte lets FAT12's
	 * two-byte reads of the last entry stay inside the buffer. */
	f->fat_len = (size_t)(((uint64_t)g->cluster_count + 2) * g->type + 7) / 8;
	f->fat = calloc(1, f->fat_len + 1);
	if (!f->fat) {
		r = bw_seterr(err, BW_ENOMEM, f->label, "out of memory for a FAT of %zu bytes",
			      f->fat_len);
		goto fail;
	}
	f->fat_off = ((uint64_t)g->reserved_sectors +
		      (uint64_t)g->active_fat * g->fat_sectors) * bps;
	r = bw_disk_pread(d, f->fat, f->fat_len, part_off + f->fat_off, err);
	if (r)
		goto fail;
	for (uint32_t i = 0; i < g->cluster_count; i++)
		if (fat_entry(f, i + 2) != 0)
			g->used_clusters++;
	*out = f;
	return 0;
fail:
	bw_fat_close(f);
	return r;
}

void bw_fat_close(struct bw_fat *f)
{
	if (!f)
		return;
	free(f->fat);
	free(f->label);
	free(f);
}

const struct bw_fat_info *bw_fat_get_info(const struct bw_fat *f)
{
	return &f->info;
}

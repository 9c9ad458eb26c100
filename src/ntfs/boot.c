/*
 * NTFS boot sector: probe and validate the geometry (FORMATS.md "NTFS boot
 * sector").  Field offsets follow ntfs-3g's layout.h NTFS_BOOT_SECTOR; the
 * checks follow ntfs-3g's bootsect.c ntfs_boot_sector_is_ntfs (OEM id,
 * sector and cluster size, the BPB fields that NTFS leaves zero, the MFT
 * record size) plus what boxwright needs: the volume and the $MFT inside
 * the partition.
 */
#include <string.h>

#include "common/bytes.h"
#include "ntfs/ntfs_internal.h"

static const char ntfs_oem_id[8] = { 'N', 'T', 'F', 'S', ' ', ' ', ' ', ' ' };

int bw_ntfs_probe(const uint8_t sector[512])
{
	return memcmp(sector + NTFS_BOOT_OEM_ID, ntfs_oem_id, 8) == 0;
}

static int is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

#define BOOT_ERR(code, ...)                                                  \
	bw_seterr(err, code, file, "NTFS boot sector at offset %llu: " __VA_ARGS__)

int bw_ntfs_parse_boot(const uint8_t sector[512], uint64_t part_size,
		       const char *file, uint64_t file_off,
		       struct bw_ntfs_geometry *g, struct bw_error *err)
{
	unsigned long long at = (unsigned long long)file_off;

	memset(g, 0, sizeof *g);
	if (bw_get_le16(sector + NTFS_BOOT_END_MARKER) != 0xAA55)
		return BOOT_ERR(BW_EFORMAT, "no boot signature (expected 0x55 0xAA at byte 510, found 0x%02x 0x%02x)",
				at, sector[NTFS_BOOT_END_MARKER],
				sector[NTFS_BOOT_END_MARKER + 1]);
	if (!bw_ntfs_probe(sector))
		return BOOT_ERR(BW_EFORMAT, "not NTFS (expected OEM id \"NTFS    \" at byte 3, found \"%.8s\")",
				at, (const char *)sector + NTFS_BOOT_OEM_ID);

	/* ntfs-3g accepts 256..4096; Windows writes 512 or 4096. */
	uint16_t bps = bw_get_le16(sector + NTFS_BOOT_BYTES_PER_SECTOR);
	if (!is_pow2(bps) || bps < 512 || bps > 4096)
		return BOOT_ERR(BW_EFORMAT, "bytes per sector %u (expected a power of two 512..4096)",
				at, (unsigned)bps);

	/* Up to 128 the byte is the count of sectors; above, Windows 10
	 * (clusters over 64 KiB) stores 256 - log2(sectors per cluster)
	 * (ntfs-3g bootsect.c). */
	uint8_t spc_raw = sector[NTFS_BOOT_SECTORS_PER_CLUSTER];
	uint64_t cluster_size;
	if (spc_raw == 0 || (spc_raw <= 128 && !is_pow2(spc_raw)))
		return BOOT_ERR(BW_EFORMAT, "sectors per cluster %u (expected a power of two)",
				at, (unsigned)spc_raw);
	if (spc_raw <= 128) {
		cluster_size = (uint64_t)spc_raw * bps;
	} else {
		unsigned shift = 256u - spc_raw;
		/* 2^shift sectors; anything past 2^20 is far beyond the cap. */
		if (shift > 20)
			return BOOT_ERR(BW_EFORMAT, "cluster size 2^%u sectors (expected at most %u bytes)",
					at, shift, BW_NTFS_MAX_CLUSTER_SIZE);
		cluster_size = (uint64_t)bps << shift;
	}
	if (cluster_size > BW_NTFS_MAX_CLUSTER_SIZE)
		return BOOT_ERR(BW_EFORMAT, "cluster size %llu bytes (expected at most %u)",
				at, (unsigned long long)cluster_size,
				BW_NTFS_MAX_CLUSTER_SIZE);

	/* NTFS leaves the FAT-only BPB fields zero; ntfs-3g refuses otherwise. */
	static const struct { unsigned off, width; const char *name; } zero_fields[] = {
		{ NTFS_BOOT_RESERVED_SECTORS, 2, "reserved sectors" },
		{ NTFS_BOOT_FATS, 1, "FAT count" },
		{ NTFS_BOOT_ROOT_ENTRIES, 2, "root entries" },
		{ NTFS_BOOT_SECTORS16, 2, "16-bit sector count" },
		{ NTFS_BOOT_SECTORS_PER_FAT, 2, "sectors per FAT" },
		{ NTFS_BOOT_LARGE_SECTORS, 4, "32-bit sector count" },
	};
	for (size_t i = 0; i < sizeof zero_fields / sizeof zero_fields[0]; i++) {
		const uint8_t *p = sector + zero_fields[i].off;
		uint32_t v = zero_fields[i].width == 1 ? p[0] :
			     zero_fields[i].width == 2 ? bw_get_le16(p) :
			     bw_get_le32(p);
		if (v != 0)
			return BOOT_ERR(BW_EFORMAT, "%s at byte 0x%02x is %u (expected 0 on NTFS)",
					at, zero_fields[i].name,
					zero_fields[i].off, (unsigned)v);
	}

	uint64_t total_sectors = bw_get_le64(sector + NTFS_BOOT_TOTAL_SECTORS);
	if (total_sectors == 0 || total_sectors > part_size / bps)
		return BOOT_ERR(BW_EFORMAT, "total sectors %llu of %u bytes do not fit the partition (expected 1..%llu)",
				at, (unsigned long long)total_sectors,
				(unsigned)bps,
				(unsigned long long)(part_size / bps));
	/* total_sectors * bps <= part_size: no overflow. */
	uint64_t total_clusters = total_sectors * bps / cluster_size;
	if (total_clusters == 0)
		return BOOT_ERR(BW_EFORMAT, "volume of %llu sectors holds no whole cluster of %llu bytes",
				at, (unsigned long long)total_sectors,
				(unsigned long long)cluster_size);

	/* The LCNs are signed on disk; a negative one is huge here. */
	uint64_t mft_lcn = bw_get_le64(sector + NTFS_BOOT_MFT_LCN);
	uint64_t mftmirr_lcn = bw_get_le64(sector + NTFS_BOOT_MFTMIRR_LCN);
	if (mft_lcn == 0 || mft_lcn >= total_clusters)
		return BOOT_ERR(BW_EFORMAT, "$MFT LCN %llu lies outside the volume (expected 1..%llu)",
				at, (unsigned long long)mft_lcn,
				(unsigned long long)(total_clusters - 1));
	if (mftmirr_lcn == 0 || mftmirr_lcn >= total_clusters)
		return BOOT_ERR(BW_EFORMAT, "$MFTMirr LCN %llu lies outside the volume (expected 1..%llu)",
				at, (unsigned long long)mftmirr_lcn,
				(unsigned long long)(total_clusters - 1));

	/* Clusters per MFT record: positive = clusters, negative n =
	 * 2^-n bytes (used whenever a record is smaller than a cluster). */
	int8_t cpr = (int8_t)sector[NTFS_BOOT_CLUSTERS_PER_RECORD];
	uint64_t record_size;
	if (cpr > 0)
		record_size = (uint64_t)cpr * cluster_size;
	else if (cpr < 0 && cpr >= -31)
		record_size = (uint64_t)1 << -cpr;
	else
		return BOOT_ERR(BW_EFORMAT, "clusters per MFT record %d (expected a positive count or -31..-1)",
				at, (int)cpr);
	if (!is_pow2(record_size))
		return BOOT_ERR(BW_EFORMAT, "MFT record size %llu bytes (expected a power of two)",
				at, (unsigned long long)record_size);
	if (record_size < 1024 || record_size > BW_NTFS_MAX_RECORD_SIZE)
		return BOOT_ERR(BW_EUNSUPPORTED, "MFT record size %llu bytes (expected 1024..%u)",
				at, (unsigned long long)record_size,
				BW_NTFS_MAX_RECORD_SIZE);
	/* Record 0 must be readable at mft_lcn (before its runlist is known). */
	if (record_size > (total_clusters - mft_lcn) * cluster_size)
		return BOOT_ERR(BW_EFORMAT, "$MFT record 0 at LCN %llu runs past the end of the volume (%llu clusters)",
				at, (unsigned long long)mft_lcn,
				(unsigned long long)total_clusters);

	g->bytes_per_sector = bps;
	g->cluster_size = (uint32_t)cluster_size;
	g->hidden_sectors = bw_get_le32(sector + NTFS_BOOT_HIDDEN_SECTORS);
	g->total_sectors = total_sectors;
	g->total_clusters = total_clusters;
	g->mft_lcn = mft_lcn;
	g->mftmirr_lcn = mftmirr_lcn;
	g->mft_record_size = (uint32_t)record_size;
	g->serial = bw_get_le64(sector + NTFS_BOOT_SERIAL);
	return 0;
}

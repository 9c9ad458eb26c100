/*
 * Header, descriptor and identity shared by the VMDK writers
 * (vmdk_write_common.h).  Sources: VMware "Virtual Disk Format 5.0"
 * (SparseExtentHeader, "The Descriptor File"), FORMATS.md.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/derive.h"
#include "common/random.h"
#include "disk/vmdk_format.h"
#include "disk/vmdk_write_common.h"
#include "disk/writer_internal.h"

/* splitmix64: expands a seed into bytes (Steele, Lea, Flood 2014). */
static void vmdk_w_expand(uint64_t seed, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t z = (seed += UINT64_C(0x9E3779B97F4A7C15));
		z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
		buf[i] = (uint8_t)(z ^ (z >> 31));
	}
}

/* Random bytes (bw_random_bytes); if that fails, a splitmix64 stream
 * seeded from the clock and pid.  The values only have to differ between
 * images (CID, uuid.image), not resist an attacker. */
static void vmdk_w_random(uint8_t *buf, size_t len)
{
	if (bw_random_bytes(buf, len) == 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	vmdk_w_expand((uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		      (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)buf, buf, len);
}

/* Adapter types of the spec's ddb.adapterType, with the CHS geometry each
 * implies (63 sectors per track): IDE 16 heads, cylinders capped at 16383
 * (the ATA CHS limit); SCSI 255 heads, cylinders not capped (SCSI has no
 * CHS addressing, the value is informational). */
static const struct bw_vmdk_w_adapter vmdk_w_adapters[] = {
	{ "ide", 16, 16383 },
	{ "buslogic", 255, UINT64_MAX },
	{ "lsilogic", 255, UINT64_MAX },
	{ "legacyESX", 255, UINT64_MAX },
};

int bw_vmdk_w_adapter(const struct bw_writer *w, const struct bw_vmdk_w_adapter **out,
		      struct bw_error *err)
{
	const char *name = w->opts.adapter_type ? w->opts.adapter_type : "ide";
	for (size_t i = 0; i < sizeof vmdk_w_adapters / sizeof vmdk_w_adapters[0]; i++)
		if (strcmp(vmdk_w_adapters[i].name, name) == 0) {
			*out = &vmdk_w_adapters[i];
			return 0;
		}
	return bw_seterr(err, BW_EINVAL, w->path,
			 "VMDK adapter type \"%s\" (expected ide, buslogic, lsilogic or legacyESX)",
			 name);
}

int bw_vmdk_w_capacity(const struct bw_writer *w, uint64_t *capacity, struct bw_error *err)
{
	*capacity = w->size / VMDK_SECTOR;
	if (*capacity > BW_VMDK_W_MAX_SECTORS)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "virtual size %llu is beyond the 2 TiB a VMDK sparse extent holds",
				 (unsigned long long)w->size);
	return 0;
}

void bw_vmdk_w_header(uint8_t out[512], const struct bw_vmdk_w_header *h)
{
	memset(out, 0, VMDK_HDR_SIZE);
	bw_put_le32(out + VMDK_HDR_MAGIC, VMDK_MAGIC);
	bw_put_le32(out + VMDK_HDR_VERSION, h->version);
	bw_put_le32(out + VMDK_HDR_FLAGS, h->flags);
	bw_put_le64(out + VMDK_HDR_CAPACITY, h->capacity);
	bw_put_le64(out + VMDK_HDR_GRAIN_SIZE, VMDK_DEFAULT_GRAIN_SECTORS);
	bw_put_le64(out + VMDK_HDR_DESC_OFFSET, 1);
	bw_put_le64(out + VMDK_HDR_DESC_SIZE, BW_VMDK_W_DESC_SECTORS);
	bw_put_le32(out + VMDK_HDR_NUM_GTES_PER_GT, VMDK_GTES_PER_GT);
	bw_put_le64(out + VMDK_HDR_RGD_OFFSET, h->rgd_offset);
	bw_put_le64(out + VMDK_HDR_GD_OFFSET, h->gd_offset);
	bw_put_le64(out + VMDK_HDR_OVERHEAD, h->overhead);
	out[VMDK_HDR_UNCLEAN_SHUTDOWN] = 0;
	out[VMDK_HDR_NEWLINE_CHARS + 0] = '\n';
	out[VMDK_HDR_NEWLINE_CHARS + 1] = ' ';
	out[VMDK_HDR_NEWLINE_CHARS + 2] = '\r';
	out[VMDK_HDR_NEWLINE_CHARS + 3] = '\n';
	bw_put_le16(out + VMDK_HDR_COMPRESS_ALGORITHM, h->compress);
}

int bw_vmdk_w_descriptor(const struct bw_writer *w, const char *create_type,
			 const struct bw_vmdk_w_adapter *ad, uint64_t capacity,
			 uint8_t *out, size_t out_len, struct bw_error *err)
{
	/* The caller writes under a temporary name: it says the final one.
	 * Characters a quoted descriptor value cannot hold become '_'. */
	const char *path = w->opts.name ? w->opts.name : w->path;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char name[256];
	size_t n = 0;
	for (; base[n] && n < sizeof name - 1; n++) {
		unsigned char ch = (unsigned char)base[n];
		name[n] = (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') ? '_' : (char)ch;
	}
	name[n] = '\0';

	/* ffffffff is parentCID's "no parent"; fffffffe is reserved too
	 * (VMware's CID_NOTSET). */
	uint32_t cid = w->opts.vmdk_cid;
	if (cid >= 0xFFFFFFFEu)
		return bw_seterr(err, BW_EINVAL, w->path,
				 "VMDK CID %08x is reserved (expected 1 to fffffffd, or 0 for a random one)",
				 cid);
	/* uuid.image: from the build's seed when the identity is fixed
	 * (reproducible), else from a given CID, else random; a CID not
	 * given comes from the same bytes. */
	uint8_t u[16], rnd[20] = { 0 };
	if (w->opts.fixed_identity)
		bw_derive_bytes(w->opts.identity, "vmdk-identity", rnd, sizeof rnd);
	else if (!cid)
		vmdk_w_random(rnd, sizeof rnd);
	if (w->opts.fixed_identity || !cid)
		memcpy(u, rnd + 4, sizeof u);
	else
		vmdk_w_expand(cid, u, sizeof u);
	if (!cid) {
		cid = bw_get_le32(rnd);
		if (cid >= 0xFFFFFFFEu)
			cid &= 0x7FFFFFFFu;
		if (cid == 0)           /* 0 would read as "not set" in the options */
			cid = 1;
	}
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);     /* RFC 4122 version 4 UUID */
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);

	uint64_t cyl = capacity / ((uint64_t)ad->heads * 63);
	if (cyl > ad->max_cylinders)
		cyl = ad->max_cylinders;

	int len = snprintf((char *)out, out_len,
		"# Disk DescriptorFile\n"
		"version=1\n"
		"CID=%08x\n"
		"parentCID=ffffffff\n"
		"createType=\"%s\"\n"
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
		cid, create_type, (unsigned long long)capacity, name, ad->name,
		(unsigned long long)cyl, ad->heads,
		u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
		u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	if (len < 0 || (size_t)len >= out_len)
		return bw_seterr(err, BW_EINVAL, path,
				 "VMDK descriptor does not fit in %zu bytes", out_len);
	memset(out + len, 0, out_len - (size_t)len);
	return 0;
}

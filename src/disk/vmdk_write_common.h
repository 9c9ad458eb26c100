/*
 * What the two VMDK writers share (vmdk_write.c: streamOptimized,
 * vmdk_sparse_write.c: monolithicSparse): the SparseExtentHeader, the
 * embedded descriptor with its identity (CID, uuid.image) and the
 * ddb.adapterType table with the geometry each adapter implies.
 * Sources: VMware "Virtual Disk Format 1.1/5.0", FORMATS.md.
 */
#ifndef BW_VMDK_WRITE_COMMON_H
#define BW_VMDK_WRITE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

struct bw_writer;

/* 20 sectors, as VirtualBox allocates (cbDescAlloc) and qemu and VMware
 * write for an embedded descriptor. */
#define BW_VMDK_W_DESC_SECTORS  20u

/* Grain tables hold 32-bit sector offsets: nothing past 2 TiB is
 * addressable, in the file or (VMware's limit for sparse) the disk. */
#define BW_VMDK_W_MAX_SECTORS   (UINT64_C(1) << 32)

/* ddb.adapterType and the CHS geometry it implies (63 sectors per track). */
struct bw_vmdk_w_adapter {
	const char *name;
	unsigned heads;
	uint64_t max_cylinders;
};

/* The adapter W->opts.adapter_type names (NULL = "ide").  Returns 0 or
 * BW_EINVAL when it is not one of the spec's: ide, buslogic, lsilogic,
 * legacyESX. */
int bw_vmdk_w_adapter(const struct bw_writer *w, const struct bw_vmdk_w_adapter **out,
		      struct bw_error *err);

/* W->size in sectors into CAPACITY.  Returns 0 or BW_EINVAL past
 * BW_VMDK_W_MAX_SECTORS (2 TiB). */
int bw_vmdk_w_capacity(const struct bw_writer *w, uint64_t *capacity, struct bw_error *err);

/* The header fields that differ between the writers. */
struct bw_vmdk_w_header {
	uint32_t version;
	uint32_t flags;
	uint64_t capacity;          /* sectors */
	uint64_t rgd_offset;        /* sectors; 0 without a redundant GD */
	uint64_t gd_offset;         /* sectors or VMDK_GD_AT_END */
	uint64_t overhead;          /* sectors */
	uint16_t compress;          /* VMDK_COMPRESS_* */
};

/* The 512-byte SparseExtentHeader: 64 KiB grains, 512 GTEs per GT, the
 * descriptor at sector 1 for BW_VMDK_W_DESC_SECTORS, newline test bytes. */
void bw_vmdk_w_header(uint8_t out[512], const struct bw_vmdk_w_header *h);

/*
 * The embedded descriptor of writer W for createType CREATE_TYPE and
 * CAPACITY sectors, zero padded to OUT_LEN.  The CID is
 * W->opts.vmdk_cid, or random when that is 0; uuid.image is random, or
 * derived from a given CID (a caller that fixes the CID wants the same
 * bytes each run).  The extent line names the basename of W->opts.name
 * (else W->path).  Returns 0 or BW_EINVAL (a CID of ffffffff/fffffffe, or
 * the text does not fit).
 */
int bw_vmdk_w_descriptor(const struct bw_writer *w, const char *create_type,
			 const struct bw_vmdk_w_adapter *ad, uint64_t capacity,
			 uint8_t *out, size_t out_len, struct bw_error *err);

#endif

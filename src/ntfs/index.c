/*
 * NTFS directory indexes: looking up one name in a directory's $I30 index,
 * the resident $INDEX_ROOT and, for a large directory, the "INDX" blocks of
 * $INDEX_ALLOCATION, as a B+tree.  Layouts: ntfs-3g's include/ntfs-3g/
 * layout.h (INDEX_ROOT, INDEX_HEADER, INDEX_BLOCK, INDEX_ENTRY,
 * FILE_NAME_ATTR); the descent follows ntfs-3g's libntfs-3g/index.c
 * (ntfs_index_lookup) and the VCN unit its ntfs_ie_get_vcn users apply.
 *
 * Every byte here is hostile: each node's header and each entry is checked
 * against the node before it is read, a node holds at most
 * BW_NTFS_MAX_INDEX_ENTRIES entries and the descent at most
 * BW_NTFS_MAX_INDEX_DEPTH blocks, so a loop in the tree ends in an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/hex.h"
#include "ntfs/ntfs_internal.h"

#define LOC_ERR(code, loc, fmt, ...)                                         \
	bw_seterr(err, code, (loc)->file, "%s at offset %llu: " fmt,         \
		  (loc)->what, (unsigned long long)(loc)->off, __VA_ARGS__)

/* What a node search decided. */
enum { NODE_FOUND = 1, NODE_DESCEND = 2 };

/* Upcase an ASCII letter; every other unit is left alone.  The volume's
 * $UpCase maps a-z to A-Z like this; the units it maps from outside ASCII
 * (U+00E0.. and up) map to units >= 0x80 as well, so against an ASCII name
 * the order is the same as NTFS's. */
static uint32_t fold(uint32_t c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

/* COLLATION_FILE_NAME order of the ASCII TARGET against the UTF-16 NAME:
 * upcased units one by one, then the shorter name first. */
static int name_collate(const char *target, size_t tlen, const uint8_t *name,
			size_t nlen)
{
	size_t n = tlen < nlen ? tlen : nlen;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = fold((uint8_t)target[i]);
		uint32_t b = fold(bw_get_le16(name + 2 * i));
		if (a != b)
			return a < b ? -1 : 1;
	}
	return tlen < nlen ? -1 : tlen > nlen ? 1 : 0;
}

/*
 * Search the node whose INDEX_HEADER is at HDR, with AVAIL bytes from HDR
 * on inside its record or block (HDR_POS: HDR's byte within it, for
 * messages).  NODE_FOUND with *REF, NODE_DESCEND with *CHILD_VCN,
 * BW_ENOTFOUND, or BW_EFORMAT.
 */
static int node_search(const uint8_t *hdr, uint32_t avail, uint32_t hdr_pos,
		       const char *target, size_t tlen,
		       const struct ntfs_loc *loc, uint64_t *ref,
		       uint64_t *child_vcn, struct bw_error *err)
{
	if (avail < NTFS_IH_SIZE)
		return LOC_ERR(BW_EFORMAT, loc, "index header at byte %u: %u bytes left (expected %u)",
			       (unsigned)hdr_pos, (unsigned)avail, NTFS_IH_SIZE);
	uint32_t entries = bw_get_le32(hdr + NTFS_IH_ENTRIES_OFFSET);
	uint32_t length = bw_get_le32(hdr + NTFS_IH_INDEX_LENGTH);
	/* The entries start after the header, 8-aligned, and at least one
	 * entry (the END entry) lies before index_length. */
	if (length > avail || entries < NTFS_IH_SIZE || entries & 7 ||
	    entries > length || NTFS_IE_HEADER > length - entries)
		return LOC_ERR(BW_EFORMAT, loc, "index header at byte %u: entries at %u, index length %u (expected 8-aligned entries from %u and length <= %u)",
			       (unsigned)hdr_pos, (unsigned)entries,
			       (unsigned)length, NTFS_IH_SIZE, (unsigned)avail);

	uint32_t pos = entries;
	for (unsigned count = 0;; count++) {
		uint32_t at = hdr_pos + pos;   /* for messages */
		if (count >= BW_NTFS_MAX_INDEX_ENTRIES)
			return LOC_ERR(BW_EFORMAT, loc, "index node at byte %u has more than %u entries",
				       (unsigned)hdr_pos,
				       (unsigned)BW_NTFS_MAX_INDEX_ENTRIES);
		if (pos > length || NTFS_IE_HEADER > length - pos)
			return LOC_ERR(BW_EFORMAT, loc, "index entry at byte %u runs past the index length without an end entry",
				       (unsigned)at);
		const uint8_t *ie = hdr + pos;
		uint32_t ie_len = bw_get_le16(ie + NTFS_IE_LENGTH);
		uint32_t key_len = bw_get_le16(ie + NTFS_IE_KEY_LENGTH);
		uint16_t flags = bw_get_le16(ie + NTFS_IE_FLAGS);
		uint32_t vcn_len = flags & NTFS_IE_NODE ? 8 : 0;
		/* ie_len >= NTFS_IE_HEADER > 0 is what guarantees progress. */
		if (ie_len < NTFS_IE_HEADER + vcn_len || ie_len & 7 ||
		    ie_len > length - pos)
			return LOC_ERR(BW_EFORMAT, loc, "index entry at byte %u: length %u (expected 8-aligned, %u..%u)",
				       (unsigned)at, (unsigned)ie_len,
				       (unsigned)(NTFS_IE_HEADER + vcn_len),
				       (unsigned)(length - pos));
		if (flags & ~(NTFS_IE_NODE | NTFS_IE_END))
			return LOC_ERR(BW_EFORMAT, loc, "index entry at byte %u: flags 0x%04x (expected only NODE 0x1, END 0x2)",
				       (unsigned)at, (unsigned)flags);
		int cmp = -1;    /* the END entry sorts after every name */
		if (!(flags & NTFS_IE_END)) {
			/* The key is a FILE_NAME_ATTR holding its name. */
			if (key_len < NTFS_FN_NAME ||
			    key_len > ie_len - NTFS_IE_HEADER - vcn_len)
				return LOC_ERR(BW_EFORMAT, loc, "index entry at byte %u: key length %u (expected %u..%u)",
					       (unsigned)at, (unsigned)key_len,
					       NTFS_FN_NAME,
					       (unsigned)(ie_len - NTFS_IE_HEADER - vcn_len));
			const uint8_t *key = ie + NTFS_IE_HEADER;
			uint32_t nlen = key[NTFS_FN_NAME_LENGTH];
			if (NTFS_FN_NAME + 2 * nlen > key_len)
				return LOC_ERR(BW_EFORMAT, loc, "index entry at byte %u: name of %u units overruns its key of %u bytes",
					       (unsigned)at, (unsigned)nlen,
					       (unsigned)key_len);
			cmp = name_collate(target, tlen, key + NTFS_FN_NAME, nlen);
			if (cmp == 0) {
				*ref = bw_get_le64(ie + NTFS_IE_FILE_REF);
				return NODE_FOUND;
			}
		}
		if (cmp < 0) {
			/* TARGET sorts before this entry: it is in this
			 * entry's subtree, if anywhere. */
			if (!(flags & NTFS_IE_NODE))
				return BW_ENOTFOUND;
			*child_vcn = bw_get_le64(ie + ie_len - 8);
			return NODE_DESCEND;
		}
		pos += ie_len;
	}
}

/* Find the attribute TYPE named "$I30" in REC.  Returns 0, BW_ENOTFOUND,
 * BW_EUNSUPPORTED (not found, but an $ATTRIBUTE_LIST may hold it), or
 * BW_EFORMAT.  *HAS_LIST tells whether the record has an attribute list. */
static int find_i30(const uint8_t *rec, uint32_t type,
		    const struct ntfs_loc *loc, struct ntfs_attr *a,
		    int *has_list, struct bw_error *err)
{
	static const uint8_t i30[8] = { '$', 0, 'I', 0, '3', 0, '0', 0 };
	struct ntfs_attr_iter it;
	struct ntfs_attr cur;
	int r, found = 0;

	*has_list = 0;
	ntfs_attr_iter_init(&it, rec, loc);
	while ((r = ntfs_attr_next(&it, &cur, err)) == 1) {
		if (cur.type == NTFS_AT_ATTRIBUTE_LIST)
			*has_list = 1;
		/* ntfs_attr_next checked the name lies inside the attribute. */
		if (!found && cur.type == type && cur.name_length == 4 &&
		    memcmp(rec + cur.offset +
			   bw_get_le16(rec + cur.offset + NTFS_ATTR_NAME_OFFSET),
			   i30, sizeof i30) == 0) {
			*a = cur;
			found = 1;
		}
	}
	if (r < 0)
		return r;
	if (found)
		return 0;
	if (*has_list)
		return LOC_ERR(BW_EUNSUPPORTED, loc, "has an $ATTRIBUTE_LIST and no attribute 0x%x \"$I30\" of its own (not supported)",
			       (unsigned)type);
	return BW_ENOTFOUND;
}

/* Image offset of byte OFF of stream S (0 when unmapped), for messages. */
static uint64_t stream_image_offset(const struct bw_ntfs *v,
				    const struct ntfs_stream *s, uint64_t off)
{
	uint64_t cs = v->geo.cluster_size;
	const struct ntfs_run *run = ntfs_runlist_find(&s->rl, off / cs);
	if (!run || run->sparse)
		return 0;
	return v->part_off + (run->lcn + (off / cs - run->vcn)) * cs + off % cs;
}

int ntfs_dir_lookup(struct bw_ntfs *v, uint64_t dir_record,
		    const char *ascii_name, uint64_t *out_record,
		    struct bw_error *err)
{
	uint8_t rec[BW_NTFS_MAX_RECORD_SIZE];
	struct ntfs_loc loc, bloc;
	struct ntfs_attr root, alloc_attr;
	struct ntfs_stream alloc;
	uint8_t *block = NULL;
	size_t tlen = strlen(ascii_name);
	int r, has_list;

	memset(&alloc, 0, sizeof alloc);
	r = ntfs_read_record(v, dir_record, rec, &loc, err);
	if (r)
		return r;
	r = find_i30(rec, NTFS_AT_INDEX_ROOT, &loc, &root, &has_list, err);
	if (r == BW_ENOTFOUND)
		return LOC_ERR(BW_EFORMAT, &loc, "%s", "directory has no $INDEX_ROOT \"$I30\"");
	if (r)
		return r;
	if (root.non_resident || root.value_length < NTFS_IR_HEADER)
		return LOC_ERR(BW_EFORMAT, &loc, "$INDEX_ROOT is %s of %u bytes (expected resident, >= %u)",
			       root.non_resident ? "non-resident" : "resident",
			       (unsigned)root.value_length,
			       (unsigned)NTFS_IR_HEADER);
	const uint8_t *ir = rec + root.offset + root.value_offset;
	uint32_t ir_pos = root.offset + root.value_offset;   /* < record size */
	uint32_t ir_type = bw_get_le32(ir + NTFS_IR_TYPE);
	uint32_t collation = bw_get_le32(ir + NTFS_IR_COLLATION);
	uint32_t block_size = bw_get_le32(ir + NTFS_IR_BLOCK_SIZE);
	if (ir_type != NTFS_AT_FILE_NAME)
		return LOC_ERR(BW_EFORMAT, &loc, "$INDEX_ROOT at byte %u indexes attribute 0x%x (expected 0x30, $FILE_NAME)",
			       (unsigned)ir_pos, (unsigned)ir_type);
	if (collation != NTFS_COLLATION_FILE_NAME)
		return LOC_ERR(BW_EUNSUPPORTED, &loc, "$INDEX_ROOT at byte %u has collation rule %u (expected 1, file names; not supported)",
			       (unsigned)ir_pos, (unsigned)collation);
	/* A power of two from one sector to the cap; the update sequence
	 * stride is 512 whatever the block size. */
	if (block_size < NTFS_USA_STRIDE || block_size > BW_NTFS_MAX_INDEX_BLOCK ||
	    (block_size & (block_size - 1)))
		return LOC_ERR(BW_EFORMAT, &loc, "$INDEX_ROOT at byte %u: index block size %u (expected a power of two, %u..%u)",
			       (unsigned)ir_pos, (unsigned)block_size,
			       NTFS_USA_STRIDE, BW_NTFS_MAX_INDEX_BLOCK);
	/* VCNs of index blocks count clusters, or 512-byte units when a
	 * block is smaller than a cluster (ntfs-3g: vcn_size_bits). */
	uint32_t vcn_size = block_size >= v->geo.cluster_size ?
				    v->geo.cluster_size : NTFS_USA_STRIDE;

	uint64_t ref = 0, vcn = 0;
	r = node_search(ir + NTFS_IR_HEADER, root.value_length - NTFS_IR_HEADER,
			ir_pos + NTFS_IR_HEADER, ascii_name, tlen, &loc, &ref,
			&vcn, err);
	if (r != NODE_DESCEND)
		goto done;

	/* A large index: the rest of the tree is in $INDEX_ALLOCATION. */
	r = find_i30(rec, NTFS_AT_INDEX_ALLOCATION, &loc, &alloc_attr,
		     &has_list, err);
	if (r == BW_ENOTFOUND) {
		r = LOC_ERR(BW_EFORMAT, &loc, "%s", "index entry points to a child block but the directory has no $INDEX_ALLOCATION \"$I30\"");
		goto out;
	}
	if (r)
		goto out;
	if (has_list) {
		/* Its runlist may continue in extension records. */
		r = LOC_ERR(BW_EUNSUPPORTED, &loc, "%s", "has an $ATTRIBUTE_LIST (the index allocation may span extension records; not supported)");
		goto out;
	}
	if (!alloc_attr.non_resident) {
		r = LOC_ERR(BW_EFORMAT, &loc, "%s", "$INDEX_ALLOCATION is resident (expected non-resident)");
		goto out;
	}
	r = ntfs_stream_from_attr(&alloc_attr, &v->geo, &loc, &alloc, err);
	if (r)
		goto out;
	block = malloc(block_size);
	if (!block) {
		r = bw_seterr(err, BW_ENOMEM, v->path, "out of memory");
		goto out;
	}
	bloc.file = v->path;
	for (unsigned depth = 1;; depth++) {
		snprintf(bloc.what, sizeof bloc.what,
			 "NTFS MFT record %llu index block VCN %llu",
			 (unsigned long long)dir_record,
			 (unsigned long long)vcn);
		bloc.off = loc.off;
		if (depth > BW_NTFS_MAX_INDEX_DEPTH) {
			r = LOC_ERR(BW_EFORMAT, &loc, "index is deeper than %u levels (a loop?)",
				    BW_NTFS_MAX_INDEX_DEPTH);
			goto out;
		}
		/* VCN * vcn_size + block_size must lie inside the data. */
		if (vcn > alloc.data_size / vcn_size ||
		    block_size > alloc.data_size - vcn * vcn_size) {
			r = LOC_ERR(BW_EFORMAT, &loc, "index entry points to block VCN %llu, past $INDEX_ALLOCATION's %llu bytes",
				    (unsigned long long)vcn,
				    (unsigned long long)alloc.data_size);
			goto out;
		}
		uint64_t boff = vcn * vcn_size;
		bloc.off = stream_image_offset(v, &alloc, boff);
		r = ntfs_stream_read(v, &alloc, boff, block, block_size,
				     "$INDEX_ALLOCATION", err);
		if (r)
			goto out;
		if (memcmp(block, "INDX", 4) != 0) {
			char found[9];
			(void)bw_hex_encode(block, 4, found, sizeof found);
			r = LOC_ERR(BW_EFORMAT, &bloc, "bad magic (expected \"INDX\", found %s)",
				    found);
			goto out;
		}
		r = ntfs_mst_fixup(block, block_size, &bloc, err);
		if (r)
			goto out;
		uint64_t self = bw_get_le64(block + NTFS_IB_VCN);
		if (self != vcn) {
			r = LOC_ERR(BW_EFORMAT, &bloc, "block says it is VCN %lld (expected %llu)",
				    (long long)self, (unsigned long long)vcn);
			goto out;
		}
		r = node_search(block + NTFS_IB_HEADER,
				block_size - NTFS_IB_HEADER, NTFS_IB_HEADER,
				ascii_name, tlen, &bloc, &ref, &vcn, err);
		if (r != NODE_DESCEND)
			goto done;
	}
done:
	if (r == NODE_FOUND) {
		*out_record = ref;
		r = 0;
	}
out:
	free(block);
	ntfs_stream_free(&alloc);
	return r;
}

/*
 * NTFS MFT records: update-sequence fixups, record header checks,
 * attribute iteration, runlist (mapping pairs) decoding and reading an
 * attribute's data.  Layouts: ntfs-3g's include/ntfs-3g/layout.h
 * (NTFS_RECORD, MFT_RECORD, ATTR_RECORD); the mapping-pairs encoding is
 * described in ntfs-3g's libntfs-3g/runlist.c (ntfs_mapping_pairs_decompress)
 * and the Linux-NTFS documentation ("Data runs").
 *
 * Everything here treats the record bytes as hostile: each offset and
 * length is checked against the record before it is followed, each loop is
 * bounded by a count cap and by forward progress.
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

/* ---- multi-sector transfer protection ---- */

int ntfs_mst_fixup(uint8_t *buf, size_t size, const struct ntfs_loc *loc,
		   struct bw_error *err)
{
	if (size < NTFS_USA_STRIDE || size % NTFS_USA_STRIDE != 0)
		return LOC_ERR(BW_EFORMAT, loc, "protected size %zu is not a multiple of %u",
			       size, NTFS_USA_STRIDE);
	uint16_t usa_ofs = bw_get_le16(buf + NTFS_REC_USA_OFS);
	uint16_t usa_count = bw_get_le16(buf + NTFS_REC_USA_COUNT);
	size_t sectors = size / NTFS_USA_STRIDE;
	/* One USN plus one saved word per 512-byte sector (layout.h). */
	if (usa_count != sectors + 1)
		return LOC_ERR(BW_EFORMAT, loc, "update sequence array count %u (expected %zu for %zu bytes)",
			       (unsigned)usa_count, sectors + 1, size);
	/* The array must be word aligned, after the 8-byte NTFS_RECORD
	 * header, and end before the first sector's fixup word (byte 510). */
	size_t usa_end = (size_t)usa_ofs + (size_t)usa_count * 2;
	if (usa_ofs & 1 || usa_ofs < 8 || usa_end > NTFS_USA_MAX_END)
		return LOC_ERR(BW_EFORMAT, loc, "update sequence array at %u..%zu (expected even, within bytes 8..%u)",
			       (unsigned)usa_ofs, usa_end, NTFS_USA_MAX_END);
	uint16_t usn = bw_get_le16(buf + usa_ofs);
	/* Check every sector before changing any, so a failed record is
	 * left as it was read. */
	for (size_t i = 0; i < sectors; i++) {
		const uint8_t *tail = buf + (i + 1) * NTFS_USA_STRIDE - 2;
		uint16_t found = bw_get_le16(tail);
		if (found != usn)
			return LOC_ERR(BW_EFORMAT, loc, "fixup mismatch in sector %zu (expected 0x%04x, found 0x%04x)",
				       i, (unsigned)usn, (unsigned)found);
	}
	for (size_t i = 0; i < sectors; i++) {
		uint8_t *tail = buf + (i + 1) * NTFS_USA_STRIDE - 2;
		const uint8_t *saved = buf + usa_ofs + 2 * (i + 1);
		tail[0] = saved[0];
		tail[1] = saved[1];
	}
	return 0;
}

/* ---- MFT record header ---- */

int ntfs_record_check(const uint8_t *rec, uint32_t size, uint64_t recno,
		      const struct ntfs_loc *loc, struct bw_error *err)
{
	uint32_t allocated = bw_get_le32(rec + NTFS_MFT_BYTES_ALLOCATED);
	if (allocated != size)
		return LOC_ERR(BW_EFORMAT, loc, "record size %u (expected %u from the boot sector)",
			       (unsigned)allocated, (unsigned)size);
	uint32_t in_use = bw_get_le32(rec + NTFS_MFT_BYTES_IN_USE);
	uint16_t attrs_off = bw_get_le16(rec + NTFS_MFT_ATTRS_OFFSET);
	uint16_t usa_ofs = bw_get_le16(rec + NTFS_REC_USA_OFS);
	uint16_t usa_count = bw_get_le16(rec + NTFS_REC_USA_COUNT);
	uint32_t usa_end = (uint32_t)usa_ofs + (uint32_t)usa_count * 2;
	if (in_use > size || in_use < NTFS_MFT_HEADER_OLD + 4u)
		return LOC_ERR(BW_EFORMAT, loc, "bytes in use %u (expected %u..%u)",
			       (unsigned)in_use, NTFS_MFT_HEADER_OLD + 4u,
			       (unsigned)size);
	/* The header (42 bytes in NTFS <= 3.0, 48 in 3.1) comes first, then
	 * the update sequence array, then the attributes, 8-byte aligned;
	 * at least the 4-byte end marker must fit before bytes_in_use. */
	if (usa_ofs < NTFS_MFT_HEADER_OLD)
		return LOC_ERR(BW_EFORMAT, loc, "update sequence array offset %u overlaps the record header (expected >= %u)",
			       (unsigned)usa_ofs, NTFS_MFT_HEADER_OLD);
	if (attrs_off & 7 || attrs_off < usa_end || attrs_off > in_use - 4)
		return LOC_ERR(BW_EFORMAT, loc, "first attribute offset %u (expected 8-aligned, %u..%u)",
			       (unsigned)attrs_off, (unsigned)usa_end,
			       (unsigned)(in_use - 4));
	uint16_t flags = bw_get_le16(rec + NTFS_MFT_FLAGS);
	if (!(flags & NTFS_MFT_RECORD_IN_USE))
		return LOC_ERR(BW_EFORMAT, loc, "record is not in use (flags 0x%04x, expected bit 0x0001 set)",
			       (unsigned)flags);
	uint64_t base = bw_get_le64(rec + NTFS_MFT_BASE_RECORD);
	if (base != 0)
		return LOC_ERR(BW_EFORMAT, loc, "is an extension of record %llu (expected a base record)",
			       (unsigned long long)(base & 0xFFFFFFFFFFFFull));
	/* The 3.1 header (usa at 48 or later) records its own number: a
	 * cheap proof that the $MFT runlist mapped us to the right place. */
	if (usa_ofs >= NTFS_MFT_HEADER_31) {
		uint32_t number = bw_get_le32(rec + NTFS_MFT_RECORD_NUMBER);
		if (number != (uint32_t)recno)
			return LOC_ERR(BW_EFORMAT, loc, "record number field is %u (expected %llu)",
				       (unsigned)number,
				       (unsigned long long)recno);
	}
	return 0;
}

/* ---- attributes ---- */

void ntfs_attr_iter_init(struct ntfs_attr_iter *it, const uint8_t *rec,
			 const struct ntfs_loc *loc)
{
	it->rec = rec;
	it->bytes_in_use = bw_get_le32(rec + NTFS_MFT_BYTES_IN_USE);
	it->next = bw_get_le16(rec + NTFS_MFT_ATTRS_OFFSET);
	it->count = 0;
	it->loc = loc;
}

/* Relies on ntfs_record_check: bytes_in_use <= record size and
 * attrs_offset + 4 <= bytes_in_use. */
int ntfs_attr_next(struct ntfs_attr_iter *it, struct ntfs_attr *a,
		   struct bw_error *err)
{
	const struct ntfs_loc *loc = it->loc;
	const uint8_t *rec = it->rec;
	uint32_t off = it->next, size = it->bytes_in_use;

	if (off > size || 4 > size - off)
		return LOC_ERR(BW_EFORMAT, loc, "attribute at byte %u runs past bytes in use %u without an end marker",
			       (unsigned)off, (unsigned)size);
	uint32_t type = bw_get_le32(rec + off + NTFS_ATTR_TYPE);
	if (type == NTFS_AT_END)
		return 0;
	if (++it->count > BW_NTFS_MAX_ATTRS)
		return LOC_ERR(BW_EFORMAT, loc, "more than %u attributes",
			       (unsigned)BW_NTFS_MAX_ATTRS);
	if (NTFS_ATTR_RESIDENT_HEADER > size - off)
		return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x at byte %u: header runs past bytes in use %u",
			       (unsigned)type, (unsigned)off, (unsigned)size);
	const uint8_t *p = rec + off;
	uint32_t length = bw_get_le32(p + NTFS_ATTR_LENGTH);
	int non_resident = p[NTFS_ATTR_NON_RESIDENT];
	uint32_t min_len = non_resident ? NTFS_ATTR_NONRES_HEADER :
					  NTFS_ATTR_RESIDENT_HEADER;
	/* length >= min_len > 0 is what guarantees progress. */
	if (non_resident > 1 || length < min_len || length & 7 ||
	    length > size - off)
		return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x at byte %u: length %u (expected 8-aligned, %u..%u)",
			       (unsigned)type, (unsigned)off, (unsigned)length,
			       (unsigned)min_len, (unsigned)(size - off));

	memset(a, 0, sizeof *a);
	a->type = type;
	a->length = length;
	a->offset = off;
	a->rec = rec;
	a->non_resident = non_resident;
	a->name_length = p[NTFS_ATTR_NAME_LENGTH];
	a->flags = bw_get_le16(p + NTFS_ATTR_FLAGS);
	if (a->name_length) {
		uint16_t name_off = bw_get_le16(p + NTFS_ATTR_NAME_OFFSET);
		uint32_t name_bytes = 2u * a->name_length;
		if (name_off > length || name_bytes > length - name_off)
			return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x at byte %u: name at %u+%u outside its length %u",
				       (unsigned)type, (unsigned)off,
				       (unsigned)name_off, (unsigned)name_bytes,
				       (unsigned)length);
	}
	if (!non_resident) {
		a->value_length = bw_get_le32(p + NTFS_ATTR_VALUE_LENGTH);
		a->value_offset = bw_get_le16(p + NTFS_ATTR_VALUE_OFFSET);
		if (a->value_offset > length ||
		    a->value_length > length - a->value_offset)
			return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x at byte %u: value at %u+%u outside its length %u",
				       (unsigned)type, (unsigned)off,
				       (unsigned)a->value_offset,
				       (unsigned)a->value_length,
				       (unsigned)length);
	} else {
		a->lowest_vcn = (int64_t)bw_get_le64(p + NTFS_ATTR_LOWEST_VCN);
		a->highest_vcn = (int64_t)bw_get_le64(p + NTFS_ATTR_HIGHEST_VCN);
		a->mapping_pairs_offset = bw_get_le16(p + NTFS_ATTR_MAPPING_PAIRS_OFFSET);
		a->allocated_size = bw_get_le64(p + NTFS_ATTR_ALLOCATED_SIZE);
		a->data_size = bw_get_le64(p + NTFS_ATTR_DATA_SIZE);
		a->initialized_size = bw_get_le64(p + NTFS_ATTR_INITIALIZED_SIZE);
		if (a->mapping_pairs_offset < NTFS_ATTR_NONRES_HEADER ||
		    a->mapping_pairs_offset >= length)
			return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x at byte %u: mapping pairs offset %u (expected %u..%u)",
				       (unsigned)type, (unsigned)off,
				       (unsigned)a->mapping_pairs_offset,
				       NTFS_ATTR_NONRES_HEADER,
				       (unsigned)(length - 1));
	}
	it->next = off + length;
	return 1;
}

int ntfs_attr_find(const uint8_t *rec, uint32_t type,
		   const struct ntfs_loc *loc, struct ntfs_attr *a,
		   struct bw_error *err)
{
	struct ntfs_attr_iter it;
	struct ntfs_attr cur;
	int r, has_list = 0, found = 0;

	ntfs_attr_iter_init(&it, rec, loc);
	/* Walk to the end even after a match, so that every attribute of the
	 * record is validated and an $ATTRIBUTE_LIST is never missed. */
	while ((r = ntfs_attr_next(&it, &cur, err)) == 1) {
		if (cur.type == NTFS_AT_ATTRIBUTE_LIST)
			has_list = 1;
		if (!found && cur.type == type && cur.name_length == 0) {
			*a = cur;
			found = 1;
		}
	}
	if (r < 0)
		return r;
	/* With an attribute list the attribute may be split over extension
	 * records; rare for system files and not handled. */
	if (has_list)
		return LOC_ERR(BW_EUNSUPPORTED, loc, "has an $ATTRIBUTE_LIST (attribute 0x%x may span extension records; not supported)",
			       (unsigned)type);
	return found ? 0 : BW_ENOTFOUND;
}

/* ---- runlists ---- */

void ntfs_runlist_free(struct ntfs_runlist *rl)
{
	free(rl->runs);
	rl->runs = NULL;
	rl->count = 0;
	rl->end_vcn = 0;
}

/* Little-endian value of N (1..8) bytes, sign-extended when SIGNED_. */
static uint64_t mp_field(const uint8_t *p, unsigned n, int signed_)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (signed_ && n < 8 && (p[n - 1] & 0x80))
		v |= ~(uint64_t)0 << (8 * n);
	return v;
}

int ntfs_runlist_decode(const uint8_t *mp, size_t mp_len, uint64_t lowest_vcn,
			uint64_t total_clusters, uint32_t cluster_size,
			const struct ntfs_loc *loc, struct ntfs_runlist *rl,
			struct bw_error *err)
{
	/* Byte offsets vcn * cluster_size must fit an int64_t. */
	const uint64_t max_vcn = (uint64_t)INT64_MAX / cluster_size;
	uint64_t vcn = lowest_vcn;
	int64_t lcn = 0;
	size_t pos = 0, cap = 0;
	int r;

	rl->runs = NULL;
	rl->count = 0;
	rl->end_vcn = lowest_vcn;
	if (lowest_vcn > max_vcn)
		return LOC_ERR(BW_EFORMAT, loc, "lowest VCN %llu is absurd",
			       (unsigned long long)lowest_vcn);
	for (;;) {
		if (pos >= mp_len) {
			r = LOC_ERR(BW_EFORMAT, loc, "runlist has no terminator within its %zu bytes",
				    mp_len);
			goto fail;
		}
		uint8_t header = mp[pos];
		if (header == 0)
			break;
		/* Low nibble: bytes of the run length; high nibble: bytes of
		 * the signed LCN delta, 0 for a sparse run. */
		unsigned len_bytes = header & 0x0F, lcn_bytes = header >> 4;
		if (len_bytes == 0 || len_bytes > 8 || lcn_bytes > 8) {
			r = LOC_ERR(BW_EFORMAT, loc, "runlist byte %zu: header 0x%02x (expected 1..8 length bytes, 0..8 LCN bytes)",
				    pos, (unsigned)header);
			goto fail;
		}
		if (1 + (size_t)len_bytes + lcn_bytes > mp_len - pos) {
			r = LOC_ERR(BW_EFORMAT, loc, "runlist byte %zu: pair of %u bytes runs past its end (%zu bytes)",
				    pos, 1 + len_bytes + lcn_bytes, mp_len);
			goto fail;
		}
		uint64_t length = mp_field(mp + pos + 1, len_bytes, 1);
		/* The length is signed on disk; zero or negative is corrupt. */
		if (length == 0 || (int64_t)length < 0) {
			r = LOC_ERR(BW_EFORMAT, loc, "runlist byte %zu: run length %lld (expected > 0)",
				    pos, (long long)(int64_t)length);
			goto fail;
		}
		if (length > max_vcn - vcn) {
			r = LOC_ERR(BW_EFORMAT, loc, "runlist byte %zu: VCN %llu + run length %llu overflows",
				    pos, (unsigned long long)vcn,
				    (unsigned long long)length);
			goto fail;
		}
		struct ntfs_run run = { .vcn = vcn, .length = length };
		if (lcn_bytes == 0) {
			run.sparse = 1;
		} else {
			int64_t delta = (int64_t)mp_field(mp + pos + 1 + len_bytes,
							  lcn_bytes, 1);
			int64_t next;
			if (__builtin_add_overflow(lcn, delta, &next) || next < 0) {
				r = LOC_ERR(BW_EFORMAT, loc, "runlist byte %zu: LCN %lld %+lld leaves the volume",
					    pos, (long long)lcn, (long long)delta);
				goto fail;
			}
			lcn = next;
			if ((uint64_t)lcn > total_clusters ||
			    length > total_clusters - (uint64_t)lcn) {
				r = LOC_ERR(BW_EFORMAT, loc, "runlist byte %zu: run of %llu clusters at LCN %lld lies past the volume (%llu clusters)",
					    pos, (unsigned long long)length,
					    (long long)lcn,
					    (unsigned long long)total_clusters);
				goto fail;
			}
			run.lcn = (uint64_t)lcn;
		}
		if (rl->count == cap) {
			if (cap >= BW_NTFS_MAX_RUNS) {
				r = LOC_ERR(BW_EFORMAT, loc, "runlist has more than %u runs",
					    BW_NTFS_MAX_RUNS);
				goto fail;
			}
			size_t ncap = cap ? cap * 2 : 16;
			if (ncap > BW_NTFS_MAX_RUNS)
				ncap = BW_NTFS_MAX_RUNS;
			struct ntfs_run *n = realloc(rl->runs, ncap * sizeof *n);
			if (!n) {
				r = bw_seterr(err, BW_ENOMEM, loc->file, "out of memory");
				goto fail;
			}
			rl->runs = n;
			cap = ncap;
		}
		rl->runs[rl->count++] = run;
		vcn += length;
		pos += 1 + (size_t)len_bytes + lcn_bytes;
	}
	rl->end_vcn = vcn;
	return 0;
fail:
	ntfs_runlist_free(rl);
	return r;
}

const struct ntfs_run *ntfs_runlist_find(const struct ntfs_runlist *rl,
					 uint64_t vcn)
{
	size_t lo = 0, hi = rl->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ntfs_run *run = &rl->runs[mid];
		if (vcn < run->vcn)
			hi = mid;
		else if (vcn - run->vcn >= run->length)
			lo = mid + 1;
		else
			return run;
	}
	return NULL;
}

/* ---- attribute data ---- */

void ntfs_stream_free(struct ntfs_stream *s)
{
	free(s->value);
	s->value = NULL;
	ntfs_runlist_free(&s->rl);
}

int ntfs_stream_from_attr(const struct ntfs_attr *a,
			  const struct bw_ntfs_geometry *g,
			  const struct ntfs_loc *loc, struct ntfs_stream *s,
			  struct bw_error *err)
{
	memset(s, 0, sizeof *s);
	s->loc = *loc;
	if (!a->non_resident) {
		/* value_length <= attribute length <= record size (checked). */
		s->resident = 1;
		s->data_size = s->initialized_size = a->value_length;
		s->value = malloc(a->value_length ? a->value_length : 1);
		if (!s->value)
			return bw_seterr(err, BW_ENOMEM, loc->file, "out of memory");
		memcpy(s->value, a->rec + a->offset + a->value_offset,
		       a->value_length);
		return 0;
	}
	if (a->flags & (NTFS_ATTR_IS_COMPRESSED | NTFS_ATTR_IS_ENCRYPTED))
		return LOC_ERR(BW_EUNSUPPORTED, loc, "attribute 0x%x is compressed or encrypted (flags 0x%04x; not supported)",
			       (unsigned)a->type, (unsigned)a->flags);
	if (a->lowest_vcn != 0)
		return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x starts at VCN %lld (expected 0 in a base record)",
			       (unsigned)a->type, (long long)a->lowest_vcn);
	/* Sizes are signed on disk: initialized <= data <= allocated. */
	if ((int64_t)a->allocated_size < 0 ||
	    a->data_size > a->allocated_size ||
	    a->initialized_size > a->data_size)
		return LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x sizes inconsistent (allocated %llu, data %llu, initialized %llu)",
			       (unsigned)a->type,
			       (unsigned long long)a->allocated_size,
			       (unsigned long long)a->data_size,
			       (unsigned long long)a->initialized_size);
	const uint8_t *mp = a->rec + a->offset + a->mapping_pairs_offset;
	size_t mp_len = a->length - a->mapping_pairs_offset;
	int r = ntfs_runlist_decode(mp, mp_len, 0, g->total_clusters,
				    g->cluster_size, loc, &s->rl, err);
	if (r)
		return r;
	/* highest_vcn is the last VCN the pairs describe (-1 when empty). */
	if (a->highest_vcn < -1 || (uint64_t)a->highest_vcn + 1 != s->rl.end_vcn) {
		r = LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x runlist ends at VCN %llu (expected highest VCN %lld + 1)",
			    (unsigned)a->type,
			    (unsigned long long)s->rl.end_vcn,
			    (long long)a->highest_vcn);
		goto fail;
	}
	/* end_vcn * cluster_size cannot overflow (decode capped it). */
	if (a->allocated_size > s->rl.end_vcn * g->cluster_size) {
		r = LOC_ERR(BW_EFORMAT, loc, "attribute 0x%x allocated size %llu exceeds its %llu clusters",
			    (unsigned)a->type,
			    (unsigned long long)a->allocated_size,
			    (unsigned long long)s->rl.end_vcn);
		goto fail;
	}
	s->data_size = a->data_size;
	s->initialized_size = a->initialized_size;
	return 0;
fail:
	ntfs_stream_free(s);
	return r;
}

int ntfs_stream_read(struct bw_ntfs *v, const struct ntfs_stream *s,
		     uint64_t off, void *buf, size_t len, const char *what,
		     struct bw_error *err)
{
	uint8_t *out = buf;

	if (off > s->data_size || len > s->data_size - off)
		return LOC_ERR(BW_EFORMAT, &s->loc, "%s: %zu bytes at %llu lie past the data size %llu",
			       what, len, (unsigned long long)off,
			       (unsigned long long)s->data_size);
	if (s->resident) {
		memcpy(out, s->value + off, len);
		return 0;
	}
	uint64_t cs = v->geo.cluster_size;
	while (len > 0) {
		if (off >= s->initialized_size) {
			memset(out, 0, len);
			return 0;
		}
		size_t chunk = len;
		if (chunk > s->initialized_size - off)
			chunk = (size_t)(s->initialized_size - off);
		const struct ntfs_run *run = ntfs_runlist_find(&s->rl, off / cs);
		if (!run)
			return LOC_ERR(BW_EFORMAT, &s->loc, "%s: byte %llu is not mapped by the runlist",
				       what, (unsigned long long)off);
		/* Bytes left in this run from OFF; (vcn+length)*cs fits. */
		uint64_t run_end = (run->vcn + run->length) * cs;
		if (chunk > run_end - off)
			chunk = (size_t)(run_end - off);
		if (run->sparse) {
			memset(out, 0, chunk);
		} else {
			/* lcn + length <= total_clusters, and the volume lies
			 * inside the partition inside the disk (checked at
			 * open), so neither sum overflows. */
			uint64_t vol_off = (run->lcn + (off / cs - run->vcn)) * cs + off % cs;
			int r = bw_disk_pread(v->disk, out, chunk,
					      v->part_off + vol_off, err);
			if (r)
				return r;
		}
		out += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* ---- records ---- */

/* Image offset of byte OFF of the $MFT stream, for messages. */
static uint64_t mft_image_offset(const struct bw_ntfs *v, uint64_t off)
{
	uint64_t cs = v->geo.cluster_size;
	const struct ntfs_run *run = ntfs_runlist_find(&v->mft.rl, off / cs);
	if (!run || run->sparse)
		return 0;
	return v->part_off + (run->lcn + (off / cs - run->vcn)) * cs + off % cs;
}

/* Magic, fixups, header: shared by record 0 (read at mft_lcn before the
 * runlist exists) and every other record. */
static int record_validate(uint8_t *buf, uint32_t size, uint64_t recno,
			   const struct ntfs_loc *loc, struct bw_error *err)
{
	if (memcmp(buf + NTFS_REC_MAGIC, "FILE", 4) != 0) {
		char found[9];
		(void)bw_hex_encode(buf, 4, found, sizeof found);
		return LOC_ERR(BW_EFORMAT, loc, "bad magic (expected \"FILE\", found %s%s)",
			       found, memcmp(buf, "BAAD", 4) == 0 ?
			       " = \"BAAD\", a torn write chkdsk found" : "");
	}
	int r = ntfs_mst_fixup(buf, size, loc, err);
	if (r)
		return r;
	return ntfs_record_check(buf, size, recno, loc, err);
}

int ntfs_read_record(struct bw_ntfs *v, uint64_t recno, uint8_t *buf,
		     struct ntfs_loc *loc, struct bw_error *err)
{
	uint32_t size = v->geo.mft_record_size;

	loc->file = v->path;
	snprintf(loc->what, sizeof loc->what, "NTFS MFT record %llu",
		 (unsigned long long)recno);
	if (recno >= v->mft.data_size / size) {
		loc->off = v->part_off + v->geo.mft_lcn * v->geo.cluster_size;
		return LOC_ERR(BW_EFORMAT, loc, "record %llu lies past the end of the $MFT (%llu records)",
			       (unsigned long long)recno,
			       (unsigned long long)(v->mft.data_size / size));
	}
	uint64_t off = recno * size;  /* < data_size: no overflow */
	loc->off = mft_image_offset(v, off);
	int r = ntfs_stream_read(v, &v->mft, off, buf, size, loc->what, err);
	if (r)
		return r;
	return record_validate(buf, size, recno, loc, err);
}

int ntfs_open_stream(struct bw_ntfs *v, uint64_t recno, uint32_t type,
		     const char *name, struct ntfs_stream *s,
		     struct bw_error *err)
{
	uint8_t rec[BW_NTFS_MAX_RECORD_SIZE];
	struct ntfs_loc loc;
	struct ntfs_attr a;

	memset(s, 0, sizeof *s);
	int r = ntfs_read_record(v, recno, rec, &loc, err);
	if (r)
		return r;
	r = ntfs_attr_find(rec, type, &loc, &a, err);
	/* Every system file has its attribute: missing means corrupt. */
	if (r == BW_ENOTFOUND)
		return LOC_ERR(BW_EFORMAT, &loc, "%s has no unnamed attribute 0x%x",
			       name, (unsigned)type);
	if (r)
		return r;
	return ntfs_stream_from_attr(&a, &v->geo, &loc, s, err);
}

int ntfs_load_mft(struct bw_ntfs *v, struct bw_error *err)
{
	uint8_t rec[BW_NTFS_MAX_RECORD_SIZE];
	uint32_t size = v->geo.mft_record_size;
	struct ntfs_loc loc = { .file = v->path };
	struct ntfs_attr a;

	/* boot.c checked that the record fits in the volume at mft_lcn. */
	loc.off = v->part_off + v->geo.mft_lcn * v->geo.cluster_size;
	snprintf(loc.what, sizeof loc.what, "NTFS MFT record 0 ($MFT)");
	int r = bw_disk_pread(v->disk, rec, size, loc.off, err);
	if (r)
		return r;
	r = record_validate(rec, size, NTFS_FILE_MFT, &loc, err);
	if (r)
		return r;
	r = ntfs_attr_find(rec, NTFS_AT_DATA, &loc, &a, err);
	if (r == BW_ENOTFOUND)
		return LOC_ERR(BW_EFORMAT, &loc, "%s", "has no unnamed $DATA attribute");
	if (r)
		return r;
	if (!a.non_resident)
		return LOC_ERR(BW_EFORMAT, &loc, "%s", "$DATA is resident (expected the $MFT's runlist)");
	r = ntfs_stream_from_attr(&a, &v->geo, &loc, &v->mft, err);
	if (r)
		return r;
	/* The first run must be where the boot sector says the $MFT is. */
	const struct ntfs_run *first = ntfs_runlist_find(&v->mft.rl, 0);
	if (!first || first->sparse || first->lcn != v->geo.mft_lcn) {
		r = LOC_ERR(BW_EFORMAT, &loc, "$DATA starts at LCN %llu (expected the boot sector's $MFT LCN %llu)",
			    first && !first->sparse ?
				    (unsigned long long)first->lcn : 0ull,
			    (unsigned long long)v->geo.mft_lcn);
		goto fail;
	}
	/* Record 0 was read contiguously from mft_lcn: the first run must
	 * hold all of it (it spans two clusters when clusters are 512 bytes). */
	if (first->length < (size + v->geo.cluster_size - 1) / v->geo.cluster_size) {
		r = LOC_ERR(BW_EFORMAT, &loc, "$DATA's first run of %llu clusters does not hold record 0 (%u bytes)",
			    (unsigned long long)first->length, (unsigned)size);
		goto fail;
	}
	/* Records 0..6 must exist; the stream must hold whole records. */
	if (v->mft.initialized_size < (uint64_t)(NTFS_FILE_BITMAP + 1) * size) {
		r = LOC_ERR(BW_EFORMAT, &loc, "$MFT holds %llu initialized bytes (expected at least %llu for records 0..6)",
			    (unsigned long long)v->mft.initialized_size,
			    (unsigned long long)(NTFS_FILE_BITMAP + 1) * size);
		goto fail;
	}
	return 0;
fail:
	ntfs_stream_free(&v->mft);
	return r;
}

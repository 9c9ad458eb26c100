/*
 * An open NTFS volume: boot sector, $MFT runlist, $Volume (record 3),
 * $LogFile restart state (record 2) and the $Bitmap free-cluster map
 * (record 6), all read and validated once in bw_ntfs_open; plus the copy of
 * the used clusters that `build` starts from (DESIGN.md, "The way data
 * flows through build").
 *
 * Sources: ntfs-3g's include/ntfs-3g/layout.h (VOLUME_INFORMATION,
 * VOLUME_NAME), include/ntfs-3g/logfile.h and libntfs-3g/logfile.c
 * (ntfs_check_logfile, ntfs_is_logfile_clean), whose judgement of a clean
 * journal we follow, since ntfs-3g is what later mounts the volume; and
 * libntfs-3g/volume.c (ntfs_volume_check_hiberfile) for hiberfil.sys.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/utf16.h"
#include "common/writeback.h"
#include "ntfs/ntfs_internal.h"

/* ---- $LogFile ---- */

#define LOGFILE_MAX_SIZE     0x100000000ull /* logfile.h MaxLogFileSize */
#define LOGFILE_DEFAULT_PAGE 4096u          /* DefaultLogPageSize */
#define LOGFILE_MIN_RECORD_PAGES 48u        /* MinLogRecordPages */

static int is_pow2_u32(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* The checks of ntfs-3g's ntfs_check_restart_page_header,
 * ntfs_check_restart_area and ntfs_check_log_client_array, then the
 * verdict of ntfs_is_logfile_clean. */
int ntfs_restart_page_judge(uint8_t *page, size_t page_size, uint64_t pos,
			    struct ntfs_restart_verdict *verdict)
{
	if (page_size < NTFS_USA_STRIDE)
		return -1;
	int chkd = memcmp(page, "CHKD", 4) == 0;
	if (!chkd && memcmp(page, "RSTR", 4) != 0)
		return -1;
	uint32_t sys = bw_get_le32(page + NTFS_RSTR_SYSTEM_PAGE_SIZE);
	uint32_t logps = bw_get_le32(page + NTFS_RSTR_LOG_PAGE_SIZE);
	if (!is_pow2_u32(sys) || !is_pow2_u32(logps) || sys < 512 ||
	    logps < 512 || sys != page_size)
		return -1;
	/* The first restart page is at 0, the second one page later. */
	if (pos != 0 && pos != sys)
		return -1;
	/* Versions 1.1 (NT..Windows 7, mkntfs) and 2.0 (Windows 8 and
	 * later) agree on everything read here; ntfs-3g accepts both. */
	int16_t major = (int16_t)bw_get_le16(page + NTFS_RSTR_MAJOR_VER);
	int16_t minor = (int16_t)bw_get_le16(page + NTFS_RSTR_MINOR_VER);
	if (!((major == 1 && minor == 1) || (major == 2 && minor == 0)))
		return -1;
	uint16_t usa_ofs = bw_get_le16(page + NTFS_REC_USA_OFS);
	uint16_t usa_count = bw_get_le16(page + NTFS_REC_USA_COUNT);
	/* chkdsk may leave a CHKD page without an update sequence array. */
	int have_usa = !(chkd && usa_count == 0);
	uint32_t usa_end = NTFS_RSTR_HEADER_SIZE;
	if (have_usa) {
		if (usa_count != 1 + sys / NTFS_USA_STRIDE)
			return -1;
		usa_end = (uint32_t)usa_ofs + 2u * usa_count;
		if (usa_ofs < NTFS_RSTR_HEADER_SIZE || usa_end > NTFS_USA_MAX_END)
			return -1;
	}
	uint16_t ra_ofs = bw_get_le16(page + NTFS_RSTR_RESTART_AREA_OFFSET);
	if (ra_ofs & 7 || ra_ofs < usa_end || ra_ofs > sys)
		return -1;
	if (!chkd && bw_get_le64(page + NTFS_RSTR_CHKDSK_LSN) != 0)
		return -1;
	/* Everything up to file_size must be before the first protected
	 * word (byte 510), so it can be read before the fixups. */
	if ((uint32_t)ra_ofs + NTFS_RA_FILE_SIZE > NTFS_USA_MAX_END)
		return -1;
	const uint8_t *ra = page + ra_ofs;
	uint16_t ca_ofs = bw_get_le16(ra + NTFS_RA_CLIENT_ARRAY_OFFSET);
	if (ca_ofs & 7 || (uint32_t)ra_ofs + ca_ofs > NTFS_USA_MAX_END)
		return -1;
	uint16_t log_clients = bw_get_le16(ra + NTFS_RA_LOG_CLIENTS);
	uint16_t ra_length = bw_get_le16(ra + NTFS_RA_LENGTH);
	uint32_t ra_len = (uint32_t)ca_ofs + (uint32_t)log_clients * NTFS_LCR_SIZE;
	if ((uint64_t)ra_ofs + ra_len > sys ||
	    (uint32_t)ra_ofs + ra_length > sys || ra_len > ra_length)
		return -1;
	uint16_t free_list = bw_get_le16(ra + NTFS_RA_CLIENT_FREE_LIST);
	uint16_t in_use_list = bw_get_le16(ra + NTFS_RA_CLIENT_IN_USE_LIST);
	if ((free_list != NTFS_LOGFILE_NO_CLIENT && free_list >= log_clients) ||
	    (in_use_list != NTFS_LOGFILE_NO_CLIENT && in_use_list >= log_clients))
		return -1;
	/* seq_number_bits = 67 - bits needed for the file size. */
	uint64_t file_size = bw_get_le64(ra + NTFS_RA_FILE_SIZE);
	uint32_t fs_bits = 0;
	while (file_size) {
		file_size >>= 1;
		fs_bits++;
	}
	if (bw_get_le32(ra + NTFS_RA_SEQ_NUMBER_BITS) != 67 - fs_bits)
		return -1;
	uint16_t flags = bw_get_le16(ra + NTFS_RA_FLAGS);
	int64_t current_lsn = (int64_t)bw_get_le64(ra + NTFS_RA_CURRENT_LSN);
	int64_t chkdsk_lsn = (int64_t)bw_get_le64(page + NTFS_RSTR_CHKDSK_LSN);

	/* Now the fixups over the whole page.  ntfs-3g marks a torn page
	 * "BAAD" and then finds the journal not clean; we call it not
	 * understood, which callers refuse just the same. */
	if (have_usa) {
		struct ntfs_loc quiet = { .file = NULL, .off = 0, .what = "" };
		if (ntfs_mst_fixup(page, page_size, &quiet, NULL) != 0)
			return -1;
	}
	/* An open journal's client lists must be walkable (RSTR only). */
	if (!chkd && in_use_list != NTFS_LOGFILE_NO_CLIENT) {
		const uint8_t *ca = ra + ca_ofs;
		/* All client records lie inside the page: ra_ofs + ra_len
		 * <= system page size = page_size, checked above. */
		uint16_t lists[2] = { free_list, in_use_list };
		unsigned budget = log_clients;
		for (int l = 0; l < 2; l++) {
			uint16_t idx = lists[l];
			int first = 1;
			while (idx != NTFS_LOGFILE_NO_CLIENT) {
				if (budget == 0 || idx >= log_clients)
					return -1;
				budget--;
				const uint8_t *cr = ca + (size_t)idx * NTFS_LCR_SIZE;
				if (first && bw_get_le16(cr + NTFS_LCR_PREV_CLIENT) !=
						     NTFS_LOGFILE_NO_CLIENT)
					return -1;
				first = 0;
				idx = bw_get_le16(cr + NTFS_LCR_NEXT_CLIENT);
			}
		}
	}
	verdict->lsn = chkd ? chkdsk_lsn : current_lsn;
	/* ntfs_is_logfile_clean: an open journal (a client in use) without
	 * RESTART_VOLUME_IS_CLEAN means an unclean shutdown. */
	verdict->clean = in_use_list == NTFS_LOGFILE_NO_CLIENT ||
			 (flags & NTFS_RESTART_VOLUME_IS_CLEAN);
	verdict->major = major;
	verdict->minor = minor;
	return 0;
}

int ntfs_logfile_state(struct bw_ntfs *v, const struct ntfs_stream *s,
		       struct bw_ntfs_state *st, struct bw_error *err)
{
	uint8_t block[NTFS_USA_STRIDE];
	uint8_t *page = NULL;
	uint64_t size = s->data_size;
	int empty = 1, found = 0, r = 0;
	struct ntfs_restart_verdict best = {0};

	st->logfile = BW_NTFS_LOG_UNKNOWN;
	st->logfile_major = st->logfile_minor = 0;
	if (size > LOGFILE_MAX_SIZE)
		size = LOGFILE_MAX_SIZE;
	size &= ~(uint64_t)(LOGFILE_DEFAULT_PAGE - 1);
	/* Two restart pages and 48 log record pages at least. */
	if (size < (2 + LOGFILE_MIN_RECORD_PAGES) * (uint64_t)LOGFILE_DEFAULT_PAGE)
		return 0;
	/* ntfs-3g's search: a restart page can only start at 0 or at the
	 * system page size, a power of two, so probe 0, 512, 1024... */
	for (uint64_t pos = 0; pos < size; pos = pos ? pos << 1 : NTFS_USA_STRIDE) {
		r = ntfs_stream_read(v, s, pos, block, sizeof block,
				     "$LogFile", err);
		if (r)
			goto out;
		uint32_t magic = bw_get_le32(block);
		/* All 0xFF ("empty", as ntfs-3g and mkntfs leave it). */
		if (magic != 0xFFFFFFFFu)
			empty = 0;
		else if (!empty)
			break;
		if (memcmp(block, "RCRD", 4) == 0)
			break;   /* log records: no restart page after this */
		if (memcmp(block, "RSTR", 4) != 0 && memcmp(block, "CHKD", 4) != 0)
			continue;
		uint32_t sys = bw_get_le32(block + NTFS_RSTR_SYSTEM_PAGE_SIZE);
		if (!is_pow2_u32(sys) || sys < NTFS_USA_STRIDE ||
		    sys > BW_NTFS_MAX_LOG_PAGE || sys > size - pos)
			continue;
		free(page);
		page = malloc(sys);
		if (!page) {
			r = bw_seterr(err, BW_ENOMEM, v->path, "out of memory");
			goto out;
		}
		r = ntfs_stream_read(v, s, pos, page, sys, "$LogFile", err);
		if (r)
			goto out;
		struct ntfs_restart_verdict verdict;
		if (ntfs_restart_page_judge(page, sys, pos, &verdict) != 0)
			continue;
		/* Of the two restart pages, the more recent one counts. */
		if (!found || verdict.lsn > best.lsn)
			best = verdict;
		found++;
		if (pos != 0)
			break;   /* the second page: done */
	}
	if (empty) {
		st->logfile = BW_NTFS_LOG_CLEAN;   /* emptied after a clean check */
	} else if (found) {
		st->logfile = best.clean ? BW_NTFS_LOG_CLEAN : BW_NTFS_LOG_UNCLEAN;
		st->logfile_major = best.major;
		st->logfile_minor = best.minor;
	}
out:
	free(page);
	return r;
}

/* ---- $Volume ---- */

static int load_volume(struct bw_ntfs *v, struct bw_error *err)
{
	uint8_t rec[BW_NTFS_MAX_RECORD_SIZE];
	struct ntfs_loc loc;
	struct ntfs_attr a;

	int r = ntfs_read_record(v, NTFS_FILE_VOLUME, rec, &loc, err);
	if (r)
		return r;
	r = ntfs_attr_find(rec, NTFS_AT_VOLUME_INFORMATION, &loc, &a, err);
	if (r == BW_ENOTFOUND)
		return bw_seterr(err, BW_EFORMAT, loc.file,
				 "%s ($Volume) at offset %llu: no $VOLUME_INFORMATION attribute",
				 loc.what, (unsigned long long)loc.off);
	if (r)
		return r;
	if (a.non_resident || a.value_length < NTFS_VOLINFO_SIZE)
		return bw_seterr(err, BW_EFORMAT, loc.file,
				 "%s ($Volume) at offset %llu: $VOLUME_INFORMATION is %s of %u bytes (expected resident, >= %u)",
				 loc.what, (unsigned long long)loc.off,
				 a.non_resident ? "non-resident" : "resident",
				 (unsigned)a.value_length, NTFS_VOLINFO_SIZE);
	const uint8_t *vi = rec + a.offset + a.value_offset;
	v->state.major = vi[NTFS_VOLINFO_MAJOR];
	v->state.minor = vi[NTFS_VOLINFO_MINOR];
	v->state.volume_flags = bw_get_le16(vi + NTFS_VOLINFO_FLAGS);
	v->state.dirty = (v->state.volume_flags & BW_NTFS_VOLUME_DIRTY) != 0;
	/* 1.x (NT 3.x/4), 3.0 (2000) and 3.1 (XP and later) are the NTFS
	 * versions there are; another major number is not a volume we know. */
	if (v->state.major != 1 && v->state.major != 3)
		return bw_seterr(err, BW_EUNSUPPORTED, loc.file,
				 "%s ($Volume) at offset %llu: NTFS version %u.%u (expected 1.x or 3.x)",
				 loc.what, (unsigned long long)loc.off,
				 (unsigned)v->state.major,
				 (unsigned)v->state.minor);

	r = ntfs_attr_find(rec, NTFS_AT_VOLUME_NAME, &loc, &a, err);
	if (r == BW_ENOTFOUND)
		return 0;          /* no label */
	if (r)
		return r;
	if (a.non_resident || a.value_length % 2)
		return bw_seterr(err, BW_EFORMAT, loc.file,
				 "%s ($Volume) at offset %llu: $VOLUME_NAME is %s of %u bytes (expected resident UTF-16)",
				 loc.what, (unsigned long long)loc.off,
				 a.non_resident ? "non-resident" : "resident",
				 (unsigned)a.value_length);
	/* A label is only shown: lone surrogates become U+FFFD, and one too
	 * long for the field is cut at a character boundary (BW_EINVAL,
	 * ignored). */
	(void)bw_utf16_to_utf8(rec + a.offset + a.value_offset,
			       a.value_length, BW_UTF16_REPLACE, 0,
			       v->state.label, sizeof v->state.label, NULL, NULL);
	return 0;
}

/* ---- $Bitmap ---- */

static int load_bitmap(struct bw_ntfs *v, struct bw_error *err)
{
	struct ntfs_stream s;
	int r = ntfs_open_stream(v, NTFS_FILE_BITMAP, NTFS_AT_DATA, "$Bitmap",
				 &s, err);
	if (r)
		return r;
	uint64_t total = v->geo.total_clusters;
	uint64_t need = total / 8 + (total % 8 != 0);
	if (s.data_size < need) {
		r = bw_seterr(err, BW_EFORMAT, s.loc.file,
			      "%s ($Bitmap) at offset %llu: $Bitmap shorter than the volume (expected at least %llu bytes for %llu clusters, found %llu)",
			      s.loc.what, (unsigned long long)s.loc.off,
			      (unsigned long long)need,
			      (unsigned long long)total,
			      (unsigned long long)s.data_size);
		goto out;
	}
	if (s.data_size > BW_NTFS_MAX_BITMAP_SIZE || s.data_size > SIZE_MAX) {
		r = bw_seterr(err, BW_EUNSUPPORTED, s.loc.file,
			      "%s ($Bitmap) at offset %llu: $Bitmap of %llu bytes is larger than the %llu bytes boxwright handles",
			      s.loc.what, (unsigned long long)s.loc.off,
			      (unsigned long long)s.data_size,
			      (unsigned long long)BW_NTFS_MAX_BITMAP_SIZE);
		goto out;
	}
	v->bitmap_len = (size_t)s.data_size;
	v->bitmap = malloc(v->bitmap_len ? v->bitmap_len : 1);
	if (!v->bitmap) {
		r = bw_seterr(err, BW_ENOMEM, v->path, "out of memory for a $Bitmap of %zu bytes",
			      v->bitmap_len);
		goto out;
	}
	r = ntfs_stream_read(v, &s, 0, v->bitmap, v->bitmap_len, "$Bitmap", err);
	if (r)
		goto out;

	/* Count set bits below total_clusters; bits past it are padding. */
	uint64_t used = 0, full = total / 8;
	for (uint64_t i = 0; i < full; i++)
		used += (uint64_t)__builtin_popcount(v->bitmap[i]);
	if (total % 8)
		used += (uint64_t)__builtin_popcount(v->bitmap[full] &
						     ((1u << (total % 8)) - 1));
	v->state.used_clusters = used;
	v->state.free_clusters = total - used;
out:
	ntfs_stream_free(&s);
	return r;
}

/* ---- hiberfil.sys ---- */

/* The signatures ntfs-3g's ntfs_volume_check_hiberfile refuses on: the
 * header of a hibernation image Windows will resume from. */
int bw_ntfs_hiberfil_hibernated(const void *head, size_t n)
{
	if (n < 4)
		return 0;
	return memcmp(head, "hibr", 4) == 0 || memcmp(head, "HIBR", 4) == 0 ||
	       memcmp(head, "wake", 4) == 0 || memcmp(head, "WAKE", 4) == 0;
}

#define HIBERFIL_MAGIC_LEN 4

int ntfs_hiberfile_state(struct bw_ntfs *v, struct bw_ntfs_state *st,
			 struct bw_error *err)
{
	uint8_t rec[BW_NTFS_MAX_RECORD_SIZE];
	uint8_t magic[HIBERFIL_MAGIC_LEN] = {0};
	struct ntfs_loc loc;
	struct ntfs_attr_iter it;
	struct ntfs_attr a = {0}, cur;
	struct ntfs_runlist rl = {0};
	uint64_t ref;
	int r, found = 0, has_list = 0;

	st->hibernated = 0;
	r = ntfs_dir_lookup(v, NTFS_FILE_ROOT, "hiberfil.sys", &ref, err);
	if (r == BW_ENOTFOUND)
		return 0;
	if (r)
		return r;
	uint64_t recno = NTFS_MREF_RECORD(ref);
	uint16_t seq = NTFS_MREF_SEQUENCE(ref);
	r = ntfs_read_record(v, recno, rec, &loc, err);
	if (r)
		return r;
	/* A stale directory entry names a record since reused (ntfs-3g's
	 * ntfs_file_record_read checks the same; 0 means "any"). */
	uint16_t rec_seq = bw_get_le16(rec + NTFS_MFT_SEQUENCE);
	if (seq != 0 && seq != rec_seq)
		return bw_seterr(err, BW_EFORMAT, loc.file,
				 "%s at offset %llu: the root directory's hiberfil.sys entry has sequence number %u (expected the record's %u)",
				 loc.what, (unsigned long long)loc.off,
				 (unsigned)seq, (unsigned)rec_seq);
	/* The unnamed $DATA's first extent (lowest VCN 0): a large,
	 * fragmented hiberfil.sys may keep its other extents in extension
	 * records behind an $ATTRIBUTE_LIST, but the first bytes are here. */
	ntfs_attr_iter_init(&it, rec, &loc);
	while ((r = ntfs_attr_next(&it, &cur, err)) == 1) {
		if (cur.type == NTFS_AT_ATTRIBUTE_LIST)
			has_list = 1;
		if (!found && cur.type == NTFS_AT_DATA && cur.name_length == 0 &&
		    (!cur.non_resident || cur.lowest_vcn == 0)) {
			a = cur;
			found = 1;
		}
	}
	if (r < 0)
		return r;
	if (!found)
		return bw_seterr(err, has_list ? BW_EUNSUPPORTED : BW_EFORMAT,
				 loc.file, "%s at offset %llu: hiberfil.sys has no unnamed $DATA in its base record%s",
				 loc.what, (unsigned long long)loc.off,
				 has_list ? " (it has an $ATTRIBUTE_LIST; not supported)" : "");
	if (!a.non_resident) {
		/* ntfs_attr_next checked the value lies in the attribute. */
		if (a.value_length >= HIBERFIL_MAGIC_LEN)
			memcpy(magic, rec + a.offset + a.value_offset,
			       HIBERFIL_MAGIC_LEN);
		st->hibernated = bw_ntfs_hiberfil_hibernated(magic, HIBERFIL_MAGIC_LEN);
		return 0;
	}
	if (a.flags & (NTFS_ATTR_IS_COMPRESSED | NTFS_ATTR_IS_ENCRYPTED))
		return bw_seterr(err, BW_EUNSUPPORTED, loc.file,
				 "%s at offset %llu: hiberfil.sys is compressed or encrypted (flags 0x%04x; not supported)",
				 loc.what, (unsigned long long)loc.off,
				 (unsigned)a.flags);
	if (a.initialized_size > a.data_size || a.data_size > a.allocated_size)
		return bw_seterr(err, BW_EFORMAT, loc.file,
				 "%s at offset %llu: hiberfil.sys $DATA sizes inconsistent (allocated %llu, data %llu, initialized %llu)",
				 loc.what, (unsigned long long)loc.off,
				 (unsigned long long)a.allocated_size,
				 (unsigned long long)a.data_size,
				 (unsigned long long)a.initialized_size);
	/* Empty (data size 0), too short for a signature, or never written
	 * (bytes past initialized_size read as zeros): not hibernated. */
	if (a.initialized_size < HIBERFIL_MAGIC_LEN)
		return 0;
	r = ntfs_runlist_decode(a.rec + a.offset + a.mapping_pairs_offset,
				a.length - a.mapping_pairs_offset, 0,
				v->geo.total_clusters, v->geo.cluster_size,
				&loc, &rl, err);
	if (r)
		return r;
	/* The 4 bytes lie in VCN 0: cluster_size >= 512. */
	const struct ntfs_run *run = ntfs_runlist_find(&rl, 0);
	if (!run) {
		r = bw_seterr(err, BW_EFORMAT, loc.file,
			      "%s at offset %llu: hiberfil.sys $DATA of %llu bytes maps no cluster 0",
			      loc.what, (unsigned long long)loc.off,
			      (unsigned long long)a.data_size);
		goto out;
	}
	if (!run->sparse) {
		/* lcn < total_clusters (decode checked): inside the volume. */
		r = bw_disk_pread(v->disk, magic, HIBERFIL_MAGIC_LEN,
				  v->part_off + run->lcn * v->geo.cluster_size,
				  err);
		if (r)
			goto out;
	}
	st->hibernated = bw_ntfs_hiberfil_hibernated(magic, HIBERFIL_MAGIC_LEN);
out:
	ntfs_runlist_free(&rl);
	return r;
}

/* ---- open / close / accessors ---- */

void bw_ntfs_close(struct bw_ntfs *v)
{
	if (!v)
		return;
	ntfs_stream_free(&v->mft);
	free(v->bitmap);
	free(v);
}

int bw_ntfs_open(struct bw_disk *d, uint64_t part_off, uint64_t part_size,
		 struct bw_ntfs **out, struct bw_error *err)
{
	const char *path = bw_disk_path(d);
	uint64_t disk_size = bw_disk_size(d);
	uint8_t boot[NTFS_BOOT_SIZE];
	int r;

	*out = NULL;
	if (part_off > disk_size || part_size > disk_size - part_off)
		return bw_seterr(err, BW_EFORMAT, path,
				 "NTFS partition at offset %llu of %llu bytes lies outside the disk (size %llu)",
				 (unsigned long long)part_off,
				 (unsigned long long)part_size,
				 (unsigned long long)disk_size);
	if (part_size < NTFS_BOOT_SIZE)
		return bw_seterr(err, BW_EFORMAT, path,
				 "NTFS partition at offset %llu is %llu bytes (expected at least one sector)",
				 (unsigned long long)part_off,
				 (unsigned long long)part_size);
	struct bw_ntfs *v = calloc(1, sizeof *v);
	if (!v)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	v->disk = d;
	v->path = path;
	v->part_off = part_off;
	v->part_size = part_size;

	r = bw_disk_pread(d, boot, sizeof boot, part_off, err);
	if (r)
		goto fail;
	r = bw_ntfs_parse_boot(boot, part_size, path, part_off, &v->geo, err);
	if (r)
		goto fail;
	r = ntfs_load_mft(v, err);
	if (r)
		goto fail;
	r = load_volume(v, err);
	if (r)
		goto fail;

	struct ntfs_stream log;
	r = ntfs_open_stream(v, NTFS_FILE_LOGFILE, NTFS_AT_DATA, "$LogFile",
			     &log, err);
	if (r)
		goto fail;
	r = ntfs_logfile_state(v, &log, &v->state, err);
	ntfs_stream_free(&log);
	if (r)
		goto fail;

	r = load_bitmap(v, err);
	if (r)
		goto fail;
	/* A root index we do not support (an $ATTRIBUTE_LIST) leaves the
	 * answer unknown (-1) rather than the volume unreadable; a corrupt
	 * one is still an error. */
	r = ntfs_hiberfile_state(v, &v->state, err);
	if (r == BW_EUNSUPPORTED) {
		v->state.hibernated = -1;
		r = 0;
	}
	if (r)
		goto fail;
	*out = v;
	return 0;
fail:
	bw_ntfs_close(v);
	return r;
}

const struct bw_ntfs_geometry *bw_ntfs_get_geometry(const struct bw_ntfs *v)
{
	return &v->geo;
}

int bw_ntfs_get_state(const struct bw_ntfs *v, struct bw_ntfs_state *st)
{
	*st = v->state;
	return 0;
}

const uint8_t *bw_ntfs_bitmap(const struct bw_ntfs *v, size_t *nbytes)
{
	*nbytes = v->bitmap_len;
	return v->bitmap;
}

int bw_ntfs_cluster_used(const struct bw_ntfs *v, uint64_t lcn)
{
	if (lcn >= v->geo.total_clusters)
		return BW_EINVAL;
	return (v->bitmap[lcn / 8] >> (lcn % 8)) & 1;
}

/* ---- copying the used clusters ---- */

#define NTFS_COPY_CHUNK (4u * 1024 * 1024)  /* a multiple of any cluster size */
#define NTFS_HOLE_GRAIN 4096u               /* zero blocks left as holes */
/* $Boot: the boot sector and its loader, 16 sectors of 512 (8 KiB). */
#define NTFS_BOOT_AREA  8192u

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off,
		     const char *outname, struct bw_error *err)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bw_seterr(err, BW_EIO, outname,
					 "cannot write %zu bytes at offset %llu: %s",
					 len, (unsigned long long)off,
					 strerror(errno));
		}
		if (n == 0)
			return bw_seterr(err, BW_EIO, outname,
					 "cannot write %zu bytes at offset %llu: no progress",
					 len, (unsigned long long)off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Copy [off, off+len) of the partition (len <= NTFS_COPY_CHUNK), leaving
 * 4 KiB blocks of zeros as holes (the file was truncated empty first). */
static int copy_range(struct bw_ntfs *v, uint8_t *buf, uint64_t off,
		      size_t len, int fd, const char *outname,
		      struct bw_error *err)
{
	int r = bw_disk_pread(v->disk, buf, len, v->part_off + off, err);
	if (r)
		return r;
	size_t i = 0;
	while (i < len) {
		size_t grain = len - i < NTFS_HOLE_GRAIN ? len - i : NTFS_HOLE_GRAIN;
		if (all_zero(buf + i, grain)) {
			i += grain;
			continue;
		}
		size_t start = i;
		while (i < len) {
			grain = len - i < NTFS_HOLE_GRAIN ? len - i : NTFS_HOLE_GRAIN;
			if (all_zero(buf + i, grain))
				break;
			i += grain;
		}
		r = write_all(fd, buf + start, i - start, off + start, outname, err);
		if (r)
			return r;
	}
	return 0;
}

int bw_ntfs_copy_used(struct bw_ntfs *v, int fd, const char *outname,
		      struct bw_error *err)
{
	const uint64_t cs = v->geo.cluster_size;
	const uint64_t total = v->geo.total_clusters;
	const uint64_t chunk_clusters = NTFS_COPY_CHUNK / cs;
	uint64_t written_back = 0;
	int r = 0;

	/* Start from an empty file of the partition's size: every byte we
	 * do not write reads as zero. */
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)v->part_size) != 0)
		return bw_seterr(err, BW_EIO, outname,
				 "cannot size to %llu bytes: %s",
				 (unsigned long long)v->part_size, strerror(errno));
	uint8_t *buf = malloc(NTFS_COPY_CHUNK);
	if (!buf)
		return bw_seterr(err, BW_ENOMEM, outname, "out of memory");

	/* The boot area ($Boot, cluster 0 onwards) whatever the bitmap says. */
	size_t boot_len = v->part_size < NTFS_BOOT_AREA ? (size_t)v->part_size :
							  NTFS_BOOT_AREA;
	r = copy_range(v, buf, 0, boot_len, fd, outname, err);
	if (r)
		goto out;

	uint64_t lcn = 0;
	while (lcn < total) {
		/* Skip free clusters, a whole byte of the bitmap at a time. */
		if (lcn % 8 == 0 && v->bitmap[lcn / 8] == 0) {
			lcn += 8;
			continue;
		}
		if (!((v->bitmap[lcn / 8] >> (lcn % 8)) & 1)) {
			lcn++;
			continue;
		}
		uint64_t start = lcn;
		while (lcn < total && lcn - start < chunk_clusters &&
		       ((v->bitmap[lcn / 8] >> (lcn % 8)) & 1))
			lcn++;
		r = copy_range(v, buf, start * cs, (size_t)((lcn - start) * cs),
			       fd, outname, err);
		if (r)
			goto out;
		/* The file is synced before ntfsresize opens it. */
		bw_writeback_hint(fd, &written_back, lcn * cs);
	}

	/* The backup boot sector: in the partition's last sector (where
	 * Windows and ntfsresize put it) and at total_sectors, which is the
	 * same place on a volume Windows made (FORMATS.md). */
	uint64_t bps = v->geo.bytes_per_sector;
	uint64_t last = v->part_size - (v->part_size >= bps ? bps : v->part_size);
	r = copy_range(v, buf, last, (size_t)(v->part_size - last), fd, outname, err);
	if (r)
		goto out;
	uint64_t at_total = v->geo.total_sectors * bps;  /* <= part_size */
	if (at_total != last && bps <= v->part_size - at_total)
		r = copy_range(v, buf, at_total, (size_t)bps, fd, outname, err);
out:
	free(buf);
	return r;
}

/*
 * Boot-chain fix-ups after the Windows partition moved or the disk got a
 * new signature (DESIGN.md "Correctness rules"): every BCD device element
 * and every SYSTEM\MountedDevices value that names the old (disk
 * signature, partition byte offset) is made to name the new one.
 * FORMATS.md "BCD" gives the device descriptor; ReactOS
 * boot/environ/include/bl.h (BL_DEVICE_DESCRIPTOR, BL_LOCAL_DEVICE,
 * BL_FILE_PATH_DESCRIPTOR) names its parts.
 *
 * Only what is understood is patched, and only its two identity fields:
 *  - a partition device (type 6) of MBR style on a hard disk, as
 *    bw_bcd_decode_device recognises it;
 *  - the partition device nested in a RAM-disk device ("ramdisk=[C:]\x.wim"
 *    in bcdedit's words), when its layout is exactly the one below;
 * GPT partitions, the boot device and partitions of other disks are left
 * alone as understood; everything else (whole disks, locate and VHD
 * devices, legacy partitions, types we do not know) is left byte-identical
 * and counted in bcd_devices_unknown, for the caller to report.
 *
 * The RAM-disk layout.  ReactOS's BL_DEVICE_DESCRIPTOR has no RAM-disk
 * type of its own: a RAM disk is a DiskDevice (0) whose BL_LOCAL_DEVICE
 * type at 0x20 is RamDiskDevice (3), followed by ImageBase (0x24, 8),
 * ImageSize (0x2C, 8), ImageOffset (0x34, 4).  Stores written by Windows
 * (two independent dumps of "ramdisk=[...]\sources\boot.wim,
 * {ramdiskoptions}" devices, read from public BCD tools) continue with a
 * file path descriptor at 0x38: version 1, length (from 0x38 to the end
 * of the path), path type 5, and at 0x44 the parent device: a complete
 * descriptor header (type, flags, size, reserved) and body, i.e. the
 * top-level layout shifted by 0x34, then the UTF-16 path.  That shift is
 * what decode/encode are applied at, after every field above checks out.
 * (bcd.c reports the type-0 form above as a "ramdisk" with its image
 * path; a type-3 descriptor, ReactOS's SerialDevice, is unknown.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "win/win_internal.h"

/* Device element data (FORMATS.md table). */
#define BCD_DEV_PART_ID 0x20       /* MBR: LE64 partition byte offset */
#define BCD_DEV_DISK_ID 0x38       /* MBR: LE32 disk signature */

/* RAM-disk device (see the head of this file). */
#define RAMDISK_SIZE 0x18          /* LE32 descriptor size from 0x10 */
#define RAMDISK_LOCAL_TYPE 0x20    /* LE32 BL_LOCAL_DEVICE.Type */
#define RAMDISK_LOCAL_RAMDISK 3    /* RamDiskDevice */
#define RAMDISK_PATH 0x38          /* BL_FILE_PATH_DESCRIPTOR */
#define RAMDISK_PATH_VERSION 0x38  /* LE32, 1 */
#define RAMDISK_PATH_LENGTH 0x3C   /* LE32, from RAMDISK_PATH */
#define RAMDISK_PATH_TYPE 0x40     /* LE32, 5 in every store seen */
#define RAMDISK_PATH_HEADER 0x0C   /* version, length, type */
#define RAMDISK_NESTED 0x34        /* nested descriptor = layout + 0x34 */
#define RAMDISK_PATH_VERSION_1 1
#define RAMDISK_PATH_TYPE_DEVICE 5

/* Element ids (BcdElementType): format in bits 24..27, 1 = device. */
#define BCD_ELEMENT_FORMAT(id) (((id) >> 24) & 0xF)
#define BCD_FORMAT_DEVICE 1

/* MountedDevices MBR form: signature LE32, offset LE64 (FORMATS.md). */
#define MOUNTED_MBR_LEN 12
#define MOUNTED_MBR_SIGNATURE 0
#define MOUNTED_MBR_OFFSET 4

int bw_bcd_encode_mbr_device(uint8_t *data, size_t len,
			     const struct bw_win_location *loc)
{
	struct bw_bcd_device d;
	if (!data || !loc || bw_bcd_decode_device(data, len, &d) != 0 ||
	    d.kind != BW_BCD_DEV_PARTITION_MBR)
		return BW_EINVAL;
	/* The identity is offset + 8 zero bytes and signature + 12 zero
	 * bytes; the zeros are left as they are, like everything else. */
	bw_put_le64(data + BCD_DEV_PART_ID, loc->part_offset);
	bw_put_le32(data + BCD_DEV_DISK_ID, loc->disk_signature);
	return 0;
}

enum fix_result {
	FIX_UNDERSTOOD,            /* names nothing of ours: left alone */
	FIX_MATCHED,               /* names OLD: re-encoded in place */
	FIX_UNKNOWN,               /* not understood: left alone, counted */
};

static int names(const struct bw_bcd_device *d,
		 const struct bw_win_location *loc)
{
	return d->disk_signature == loc->disk_signature &&
	       d->part_offset == loc->part_offset;
}

/* A partition-or-boot descriptor at DATA (top-level layout). */
static enum fix_result fix_plain(uint8_t *data, size_t len,
				 const struct bw_win_location *old_loc,
				 const struct bw_win_location *new_loc)
{
	struct bw_bcd_device d;
	if (bw_bcd_decode_device(data, len, &d) != 0)
		return FIX_UNKNOWN;
	switch (d.kind) {
	case BW_BCD_DEV_PARTITION_MBR:
		if (!names(&d, old_loc))
			return FIX_UNDERSTOOD;
		return bw_bcd_encode_mbr_device(data, len, new_loc) == 0
			       ? FIX_MATCHED
			       : FIX_UNKNOWN;
	case BW_BCD_DEV_PARTITION_GPT:
	case BW_BCD_DEV_BOOT:
		return FIX_UNDERSTOOD;
	default:
		return FIX_UNKNOWN;
	}
}

/*
 * Is DATA a RAM-disk device of the layout above?  *sub_len is then the
 * length of its nested descriptor, which starts at RAMDISK_NESTED.
 */
static int ramdisk_nested(const uint8_t *data, size_t len, size_t *sub_len)
{
	if (len < RAMDISK_PATH + RAMDISK_PATH_HEADER)
		return 0;
	if (bw_get_le32(data + RAMDISK_LOCAL_TYPE) != RAMDISK_LOCAL_RAMDISK ||
	    bw_get_le32(data + RAMDISK_PATH_VERSION) != RAMDISK_PATH_VERSION_1 ||
	    bw_get_le32(data + RAMDISK_PATH_TYPE) != RAMDISK_PATH_TYPE_DEVICE)
		return 0;
	/* Both sizes must lie inside the data: the descriptor's (from 0x10)
	 * and the path's (from 0x38), the path within the descriptor. */
	uint32_t size = bw_get_le32(data + RAMDISK_SIZE);
	uint32_t path_len = bw_get_le32(data + RAMDISK_PATH_LENGTH);
	if (size > len - 0x10 || path_len < RAMDISK_PATH_HEADER ||
	    path_len > len - RAMDISK_PATH ||
	    RAMDISK_PATH + (size_t)path_len > 0x10 + (size_t)size)
		return 0;
	*sub_len = RAMDISK_PATH + (size_t)path_len - RAMDISK_NESTED;
	return 1;
}

static enum fix_result fix_device(uint8_t *data, size_t len,
				  const struct bw_win_location *old_loc,
				  const struct bw_win_location *new_loc)
{
	struct bw_bcd_device d;
	if (bw_bcd_decode_device(data, len, &d) != 0)
		return FIX_UNKNOWN;
	size_t sub_len;
	/* By the raw type, not the decoded kind: this check is the one
	 * that licenses a patch, whatever bcd.c reports the device as. */
	if (d.type == BW_BCD_DEVTYPE_DISK && ramdisk_nested(data, len, &sub_len))
		return fix_plain(data + RAMDISK_NESTED, sub_len, old_loc,
				 new_loc);
	return fix_plain(data, len, old_loc, new_loc);
}

/* One element key ELEM (named NAME) of an object. */
static int fix_element(struct win_reg *r, win_node elem, const char *where,
		       const struct bw_win_location *old_loc,
		       const struct bw_win_location *new_loc,
		       struct bw_win_report *rep, struct bw_error *err)
{
	win_value v;
	int ret = win_reg_find_value(r, elem, "Element", &v, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	uint32_t type;
	uint8_t *data;
	size_t len;
	ret = win_reg_value_raw(r, v, &type, &data, &len, err);
	if (ret)
		return ret;
	if (type != WIN_REG_BINARY) {
		rep->bcd_devices_unknown++;
		free(data);
		return 0;
	}
	uint8_t *orig = malloc(len ? len : 1);
	if (!orig) {
		free(data);
		return bw_seterr(err, BW_ENOMEM, win_reg_name(r),
				 "out of memory");
	}
	memcpy(orig, data, len);
	switch (fix_device(data, len, old_loc, new_loc)) {
	case FIX_UNKNOWN:
		rep->bcd_devices_unknown++;
		break;
	case FIX_UNDERSTOOD:
		break;
	case FIX_MATCHED:
		/* Unchanged when OLD and NEW are the same: nothing to do. */
		if (memcmp(orig, data, len) != 0) {
			int changed;
			ret = win_reg_set_value(r, elem, where, "Element",
						WIN_REG_BINARY, data, len,
						&changed, err);
			if (ret == 0 && changed)
				rep->bcd_devices_patched++;
		}
		break;
	}
	free(orig);
	free(data);
	return ret;
}

/* What fix_object's element callback needs. */
struct fix_ctx {
	const struct bw_win_location *old_loc, *new_loc;
	struct bw_win_report *rep;
};

static int fix_element_cb(struct win_reg *r, win_node elem, uint32_t id,
			  const char *where, void *ctx, struct bw_error *err)
{
	struct fix_ctx *f = ctx;
	/* Only device elements hold devices; other binary elements are
	 * never read as one. */
	if (BCD_ELEMENT_FORMAT(id) != BCD_FORMAT_DEVICE)
		return 0;
	return fix_element(r, elem, where, f->old_loc, f->new_loc, f->rep, err);
}

static int fix_object_cb(struct win_reg *r, win_node obj, const char *guid,
			 void *ctx, struct bw_error *err)
{
	return win_bcd_each_element(r, obj, guid, fix_element_cb, ctx, err);
}

static void report_clear(struct bw_win_report *rep)
{
	memset(rep, 0, sizeof *rep);
}

int bw_win_fix_bcd(const char *path, const struct bw_win_location *old_loc,
		   const struct bw_win_location *new_loc,
		   struct bw_win_report *rep, struct bw_error *err)
{
	struct bw_win_report local;
	if (!rep)
		rep = &local;
	report_clear(rep);
	struct win_reg *r = NULL;
	int ret = win_reg_open_write(path, "BCD", &r, err);
	if (ret)
		return ret;
	struct fix_ctx f = { old_loc, new_loc, rep };
	ret = win_bcd_each_object(r, path, fix_object_cb, &f, err);
	if (ret == 0 && win_reg_pending(r))
		ret = win_reg_commit(r, err);
	win_reg_close(r);
	if (ret)
		report_clear(rep);
	return ret;
}

int bw_win_fix_mounted_devices(const char *path,
			       const struct bw_win_location *old_loc,
			       const struct bw_win_location *new_loc,
			       struct bw_win_report *rep, struct bw_error *err)
{
	struct bw_win_report local;
	if (!rep)
		rep = &local;
	report_clear(rep);
	struct win_reg *r = NULL;
	win_value *values = NULL;
	int ret = win_reg_open_write(path, "SYSTEM", &r, err);
	if (ret)
		return ret;
	win_node md;
	ret = win_reg_lookup(r, win_reg_root(r), "MountedDevices", &md, err);
	if (ret == BW_ENOTFOUND) {
		ret = 0;                /* no drive letters to move */
		goto out;
	}
	if (ret)
		goto out;
	size_t n;
	ret = win_reg_values(r, md, &values, &n, err);
	if (ret)
		goto out;
	if (n > BW_MAX_MOUNTED_DEVICES) {
		ret = bw_seterr(err, BW_EFORMAT, path,
				"MountedDevices: %zu values (at most %d)", n,
				BW_MAX_MOUNTED_DEVICES);
		goto out;
	}
	/* Collect first: each write rewrites the key's value list, so the
	 * value handles listed above do not survive the first one. */
	struct change {
		char *name;
		uint32_t type;
	} *changes = calloc(n ? n : 1, sizeof *changes);
	size_t nchanges = 0;
	if (!changes) {
		ret = bw_seterr(err, BW_ENOMEM, path, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		uint32_t type;
		uint8_t *data;
		size_t len;
		ret = win_reg_value_raw(r, values[i], &type, &data, &len, err);
		if (ret)
			break;
		if (len == MOUNTED_MBR_LEN &&
		    bw_get_le32(data + MOUNTED_MBR_SIGNATURE) ==
			    old_loc->disk_signature &&
		    bw_get_le64(data + MOUNTED_MBR_OFFSET) ==
			    old_loc->part_offset) {
			ret = win_reg_value_name(r, values[i],
						 &changes[nchanges].name, err);
			if (ret == 0)
				changes[nchanges++].type = type;
		}
		free(data);
	}
	uint8_t fixed[MOUNTED_MBR_LEN];
	bw_put_le32(fixed + MOUNTED_MBR_SIGNATURE, new_loc->disk_signature);
	bw_put_le64(fixed + MOUNTED_MBR_OFFSET, new_loc->part_offset);
	for (size_t i = 0; i < nchanges && ret == 0; i++) {
		int changed;
		ret = win_reg_set_value(r, md, "MountedDevices",
					changes[i].name, changes[i].type, fixed,
					sizeof fixed, &changed, err);
		if (ret == 0 && changed)
			rep->mounted_patched++;
	}
	for (size_t i = 0; i < nchanges; i++)
		free(changes[i].name);
	free(changes);
	if (ret == 0 && win_reg_pending(r))
		ret = win_reg_commit(r, err);
out:
	free(values);
	win_reg_close(r);
	if (ret)
		report_clear(rep);
	return ret;
}

/*
 * BCD stores (\Boot\BCD): a registry hive of Objects\{GUID} keys, each
 * with Description\Type and Elements\<element id as 8 hex digits>\Element.
 * Device elements (element format 1) hold a boot-environment device
 * descriptor behind a 16-byte options GUID.  Sources: FORMATS.md "BCD"
 * (from real stores), ReactOS boot/environ/include/bl.h
 * (BL_DEVICE_DESCRIPTOR, BL_LOCAL_DEVICE, BL_HARDDISK_DEVICE), Microsoft's
 * BcdElementType documentation for the element id fields.
 *
 * A descriptor is decoded only when its type AND its size are ones we
 * know; everything else stays BW_BCD_DEV_UNKNOWN with its raw bytes, so
 * that patching never rewrites what it does not understand and inspect
 * can still show it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/utf16.h"
#include "win/win_internal.h"

/* Element data of a device element (FORMATS.md table). */
#define BCD_DEV_OPTIONS_GUID 0x00  /* 16 bytes, usually zero */
#define BCD_DEV_TYPE 0x10          /* LE32 BL_DEVICE_TYPE */
#define BCD_DEV_FLAGS 0x14         /* LE32 */
#define BCD_DEV_SIZE 0x18          /* LE32: descriptor size from 0x10 */
#define BCD_DEV_DESCRIPTOR 0x10    /* where SIZE counts from */
#define BCD_DEV_MIN_LEN 0x1C       /* ..through the size field */
#define BCD_DEV_PART_ID 0x20       /* MBR: LE64 byte offset; GPT: GUID */
#define BCD_DEV_LOCAL_TYPE 0x30    /* LE32 BL_LOCAL_DEVICE_TYPE */
#define BCD_DEV_LOCAL_TYPE_TOP 0x20  /* ... of a type-0 (disk) device */
#define BCD_DEV_PART_STYLE 0x34    /* LE32 BL_PARTITION_TYPE */
#define BCD_DEV_DISK_ID 0x38       /* MBR: LE32 signature; GPT: GUID */
#define BCD_DEV_PART_END 0x48      /* end of the partition descriptor */

/* A partition descriptor covers 0x10..0x48 at least (0x48 in practice). */
#define BCD_PART_MIN_SIZE (BCD_DEV_PART_END - BCD_DEV_DESCRIPTOR)

#define BCD_LOCAL_HARD_DISK 0      /* BL_LOCAL_DEVICE_TYPE LocalDevice */
#define BCD_STYLE_GPT 0            /* BL_PARTITION_TYPE */
#define BCD_STYLE_MBR 1

/* Element ids (BcdElementType): class 4 bits, format 4 bits, subtype. */
#define BCD_ELEMENT_FORMAT(id) (((id) >> 24) & 0xF)
#define BCD_FORMAT_DEVICE 1
#define BCD_ELEMENT_DESCRIPTION 0x12000004u  /* BcdLibraryString_Description */

/*
 * Type-0 (DiskDevice) descriptors, by the BL_LOCAL_DEVICE type at 0x20.
 * ReactOS bl.h gives the union (packed: the partition descriptor's disk
 * part at 0x30 shows it, FORMATS.md); kupiakos/pybcd's bcddevice.py,
 * decoded from stores bcdedit wrote, gives the file-path forms:
 *  - 0 hard disk: partition style at 0x24; MBR disk signature (LE32) or
 *    GPT disk GUID at 0x28 (raw style: a disk number, not decoded);
 *  - 1 removable (floppy), 2 CD-ROM: drive number at 0x24;
 *  - 3 RAM disk: image base (8), size (8), offset (4) at 0x24, then a
 *    file path descriptor at 0x38 (version 1, length from 0x38, path
 *    type), the parent device's whole descriptor at 0x44, the UTF-16
 *    image path after it ("ramdisk=[boot]\sources\boot.wim,{options}");
 *  - 5 file: the file path descriptor at 0x24, the parent device at 0x30,
 *    the path after it;
 *  - 6 virtual disk: 0x14 bytes (a hard-disk part, zero) at 0x24, then a
 *    whole type-0 file descriptor at 0x38 naming the VHD file.
 * A VHD in bcdedit's "vhd=[C:]\x.vhdx" is a type-8 (locate) descriptor
 * whose body is a locate type (0) at 0x20, an element id at 0x24, the
 * value 0x1E at 0x28 and the local-6 descriptor at 0x2E (0x10 + 0x1E;
 * pybcd checks exactly that value, so nothing else is read as one).
 * Nested descriptors are this same layout shifted (bcdpatch.c reads the
 * RAM disk's the same way), so they are decoded by decode_at at DATA +
 * offset - 0x10, bounded by the enclosing descriptor.
 */
#define BCD_LOCAL_STYLE 0x24       /* hard disk: partition style */
#define BCD_LOCAL_DISK_ID 0x28     /* hard disk: signature or GUID */
#define BCD_LOCAL_DRIVE 0x24       /* removable, CD-ROM: drive number */
#define BCD_LOCAL_REMOVABLE 1
#define BCD_LOCAL_CDROM 2
#define BCD_LOCAL_RAMDISK 3
#define BCD_LOCAL_FILE 5
#define BCD_LOCAL_VIRTUAL_DISK 6
#define BCD_RAMDISK_PATH 0x38      /* file path descriptor of a RAM disk */
#define BCD_FILE_PATH 0x24         /* ... of a file device */
#define BCD_PATH_HEADER 0x0C       /* version, length, path type */
#define BCD_PATH_VERSION_1 1
#define BCD_VHD_FILE 0x38          /* a virtual disk's file descriptor */
#define BCD_LOCATE_NESTED_FIELD 0x28
#define BCD_LOCATE_NESTED 0x1E     /* its value: nested at 0x10 + 0x1E */
/* The smallest descriptor: type, flags, size, reserved. */
#define BCD_DESC_HEADER 0x10
/* Devices nest (VHD -> file -> partition): deeper is refused. */
#define BCD_MAX_NESTING 4

static void decode_at(const uint8_t *data, size_t len, int depth,
		      struct bw_bcd_device *out);

/* Does the descriptor's SIZE (from 0x10) cover END and lie within LEN?
 * Overflow-free form of end <= 0x10 + size <= len. */
static int desc_covers(const uint8_t *data, size_t len, size_t end)
{
	if (len < BCD_DEV_MIN_LEN)
		return 0;
	uint32_t size = bw_get_le32(data + BCD_DEV_SIZE);
	return size <= len - BCD_DEV_DESCRIPTOR &&
	       end <= BCD_DEV_DESCRIPTOR + (size_t)size;
}

static void decode_partition(const uint8_t *data, size_t len,
			     struct bw_bcd_device *out)
{
	uint32_t size = bw_get_le32(data + BCD_DEV_SIZE);
	/* SIZE counts from 0x10; it must cover the partition fields and
	 * lie within the data (overflow-free form of 0x10 + size <= len). */
	if (size < BCD_PART_MIN_SIZE || len < BCD_DEV_DESCRIPTOR ||
	    size > len - BCD_DEV_DESCRIPTOR)
		return;
	/* A partition of a RAM disk or a VHD file names neither an MBR
	 * offset nor a disk GUID of ours: leave it unknown. */
	if (bw_get_le32(data + BCD_DEV_LOCAL_TYPE) != BCD_LOCAL_HARD_DISK)
		return;
	switch (bw_get_le32(data + BCD_DEV_PART_STYLE)) {
	case BCD_STYLE_MBR:
		out->kind = BW_BCD_DEV_PARTITION_MBR;
		out->part_offset = bw_get_le64(data + BCD_DEV_PART_ID);
		out->disk_signature = bw_get_le32(data + BCD_DEV_DISK_ID);
		break;
	case BCD_STYLE_GPT:
		out->kind = BW_BCD_DEV_PARTITION_GPT;
		memcpy(out->part_guid, data + BCD_DEV_PART_ID, 16);
		memcpy(out->disk_guid, data + BCD_DEV_DISK_ID, 16);
		break;
	default:                /* 2 = raw disk, or unknown */
		break;
	}
}

/*
 * A file path descriptor at PATH_OFF (version, length from PATH_OFF,
 * path type) holding the parent descriptor at NESTED_OFF and the UTF-16
 * path after it, all inside DATA's descriptor: fill OUT's path and
 * parent.  0, or -1 when any of it does not check out.
 */
static int decode_file_path(const uint8_t *data, size_t len, size_t path_off,
			    size_t nested_off, int depth,
			    struct bw_bcd_device *out)
{
	if (!desc_covers(data, len, path_off + BCD_PATH_HEADER) ||
	    bw_get_le32(data + path_off) != BCD_PATH_VERSION_1)
		return -1;
	uint32_t path_len = bw_get_le32(data + path_off + 4);
	/* The path descriptor holds the nested header at least, and lies
	 * within the descriptor (desc_covers bounds it by LEN too). */
	if (path_len < nested_off - path_off + BCD_DESC_HEADER ||
	    path_len > len - path_off ||
	    !desc_covers(data, len, path_off + (size_t)path_len))
		return -1;
	size_t end = path_off + (size_t)path_len;
	uint32_t nested_size = bw_get_le32(data + nested_off + 8);
	if (nested_size < BCD_DESC_HEADER || nested_size > end - nested_off)
		return -1;
	/* The nested descriptor, as a top-level one at DATA + shift. */
	size_t shift = nested_off - BCD_DEV_DESCRIPTOR;
	struct bw_bcd_device nested;       /* ~1 KiB, BCD_MAX_NESTING deep */
	struct bw_bcd_device *parent = &nested;
	decode_at(data + shift, nested_off + nested_size - shift, depth + 1,
		  parent);
	memset(&out->parent, 0, sizeof out->parent);
	switch (parent->kind) {
	case BW_BCD_DEV_PARTITION_MBR:
	case BW_BCD_DEV_PARTITION_GPT:
	case BW_BCD_DEV_BOOT:
	case BW_BCD_DEV_LOCATE:
		out->parent.kind = parent->kind;
		out->parent.part_offset = parent->part_offset;
		out->parent.disk_signature = parent->disk_signature;
		memcpy(out->parent.part_guid, parent->part_guid, 16);
		memcpy(out->parent.disk_guid, parent->disk_guid, 16);
		break;
	default:
		out->parent.kind = BW_BCD_DEV_UNKNOWN;
		break;
	}
	size_t path_start = nested_off + nested_size;
	size_t plen;
	/* NUL-terminated UTF-16 (pybcd); an unpaired surrogate is shown as
	 * U+FFFD, a path too long for the field is not understood. */
	if (bw_utf16_to_utf8(data + path_start, end - path_start,
			     BW_UTF16_REPLACE, BW_UTF16_NUL_ENDS, out->path,
			     sizeof out->path, &plen, NULL) != 0)
		return -1;
	return 0;
}

/* A type-0 descriptor at DATA (header at 0x10). */
static void decode_disk(const uint8_t *data, size_t len, int depth,
			struct bw_bcd_device *out)
{
	out->kind = BW_BCD_DEV_DISK;
	if (!desc_covers(data, len, BCD_DEV_LOCAL_TYPE_TOP + 4))
		return;
	out->local_type = bw_get_le32(data + BCD_DEV_LOCAL_TYPE_TOP);
	switch (out->local_type) {
	case BCD_LOCAL_HARD_DISK:
		if (!desc_covers(data, len, BCD_LOCAL_DISK_ID + 4))
			return;
		switch (bw_get_le32(data + BCD_LOCAL_STYLE)) {
		case BCD_STYLE_MBR:
			out->kind = BW_BCD_DEV_HARDDISK_MBR;
			out->disk_signature = bw_get_le32(data + BCD_LOCAL_DISK_ID);
			break;
		case BCD_STYLE_GPT:
			if (!desc_covers(data, len, BCD_LOCAL_DISK_ID + 16))
				return;
			out->kind = BW_BCD_DEV_HARDDISK_GPT;
			memcpy(out->disk_guid, data + BCD_LOCAL_DISK_ID, 16);
			break;
		default:        /* raw: a disk number; unknown styles */
			break;
		}
		break;
	case BCD_LOCAL_REMOVABLE:
	case BCD_LOCAL_CDROM:
		if (!desc_covers(data, len, BCD_LOCAL_DRIVE + 4))
			return;
		out->kind = out->local_type == BCD_LOCAL_CDROM
				    ? BW_BCD_DEV_CDROM
				    : BW_BCD_DEV_REMOVABLE;
		out->drive_number = bw_get_le32(data + BCD_LOCAL_DRIVE);
		break;
	case BCD_LOCAL_RAMDISK:
		if (depth < BCD_MAX_NESTING &&
		    decode_file_path(data, len, BCD_RAMDISK_PATH,
				     BCD_RAMDISK_PATH + BCD_PATH_HEADER, depth,
				     out) == 0)
			out->kind = BW_BCD_DEV_RAMDISK;
		break;
	case BCD_LOCAL_FILE:
		if (depth < BCD_MAX_NESTING &&
		    decode_file_path(data, len, BCD_FILE_PATH,
				     BCD_FILE_PATH + BCD_PATH_HEADER, depth,
				     out) == 0)
			out->kind = BW_BCD_DEV_FILE;
		break;
	case BCD_LOCAL_VIRTUAL_DISK: {
		/* The VHD file: a whole file descriptor at 0x38. */
		if (depth >= BCD_MAX_NESTING ||
		    !desc_covers(data, len, BCD_VHD_FILE + BCD_DESC_HEADER))
			return;
		uint32_t size = bw_get_le32(data + BCD_DEV_SIZE);
		size_t end = BCD_DEV_DESCRIPTOR + (size_t)size;
		size_t shift = BCD_VHD_FILE - BCD_DEV_DESCRIPTOR;
		struct bw_bcd_device nested;
		struct bw_bcd_device *file = &nested;
		decode_at(data + shift, end - shift, depth + 1, file);
		if (file->kind == BW_BCD_DEV_FILE) {
			out->kind = BW_BCD_DEV_VHD;
			memcpy(out->path, file->path, sizeof out->path);
			out->parent = file->parent;
		}
		break;
	}
	default:
		break;
	}
}

/* A type-8 descriptor: a VHD when it wraps one (see above). */
static void decode_locate(const uint8_t *data, size_t len, int depth,
			  struct bw_bcd_device *out)
{
	out->kind = BW_BCD_DEV_LOCATE;
	size_t nested_off = BCD_DEV_DESCRIPTOR + BCD_LOCATE_NESTED;
	if (depth >= BCD_MAX_NESTING ||
	    !desc_covers(data, len, nested_off + BCD_DESC_HEADER) ||
	    bw_get_le32(data + BCD_LOCATE_NESTED_FIELD) != BCD_LOCATE_NESTED)
		return;
	uint32_t size = bw_get_le32(data + BCD_DEV_SIZE);
	size_t end = BCD_DEV_DESCRIPTOR + (size_t)size;
	size_t shift = nested_off - BCD_DEV_DESCRIPTOR;
	struct bw_bcd_device nested;
	struct bw_bcd_device *vhd = &nested;
	decode_at(data + shift, end - shift, depth + 1, vhd);
	if (vhd->kind == BW_BCD_DEV_VHD) {
		out->kind = BW_BCD_DEV_VHD;
		out->local_type = vhd->local_type;
		memcpy(out->path, vhd->path, sizeof out->path);
		out->parent = vhd->parent;
	}
}

/* Decode the descriptor whose header is at DATA + 0x10 (DATA + 0 is the
 * options GUID at top level, earlier bytes of the parent when nested). */
static void decode_at(const uint8_t *data, size_t len, int depth,
		      struct bw_bcd_device *out)
{
	memset(out, 0, sizeof *out);
	out->kind = BW_BCD_DEV_UNKNOWN;
	if (len >= BCD_DEV_TYPE + 4)
		out->type = bw_get_le32(data + BCD_DEV_TYPE);
	if (len < BCD_DEV_SIZE)
		return;
	switch (out->type) {
	/* Type 2 (legacy partition) stays unknown: ReactOS's boot library
	 * puts a partition NUMBER at 0x20 for its MBR form, so reading it
	 * as a byte offset would misreport it, and patching it could break
	 * it.  Only type 6 is a (signature, offset) we can vouch for. */
	case BW_BCD_DEVTYPE_PARTITION:
		if (len >= BCD_DEV_MIN_LEN)
			decode_partition(data, len, out);
		break;
	case BW_BCD_DEVTYPE_BOOT:
		out->kind = BW_BCD_DEV_BOOT;
		break;
	case BW_BCD_DEVTYPE_LOCATE:
		decode_locate(data, len, depth, out);
		break;
	case BW_BCD_DEVTYPE_DISK:
		decode_disk(data, len, depth, out);
		break;
	/* Type 3 is SerialDevice in ReactOS's BL_DEVICE_TYPE: Windows'
	 * RAM disks are type 0 with local type 3 (decode_disk). */
	default:
		break;
	}
}

int bw_bcd_decode_device(const uint8_t *data, size_t len,
			 struct bw_bcd_device *out)
{
	decode_at(data, len, 0, out);
	if (len < BCD_DEV_SIZE)
		return BW_EFORMAT;
	if (len >= 16 && (out->kind == BW_BCD_DEV_RAMDISK ||
			  out->kind == BW_BCD_DEV_FILE ||
			  out->kind == BW_BCD_DEV_VHD ||
			  out->kind == BW_BCD_DEV_DISK))
		memcpy(out->options_guid, data + BCD_DEV_OPTIONS_GUID, 16);
	return 0;
}

void bw_guid_format(const uint8_t guid[16], char out[39])
{
	/* Data1 LE32, Data2 LE16, Data3 LE16, then Data4's 8 bytes as is. */
	snprintf(out, 39,
		 "{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
		 (unsigned)bw_get_le32(guid), (unsigned)bw_get_le16(guid + 4),
		 (unsigned)bw_get_le16(guid + 6), guid[8], guid[9], guid[10],
		 guid[11], guid[12], guid[13], guid[14], guid[15]);
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static unsigned hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}

/* An element key name: exactly 8 hex digits. */
int win_bcd_element_id(const char *name, uint32_t *id)
{
	uint32_t v = 0;
	size_t i;
	for (i = 0; i < 8; i++) {
		if (!is_hex(name[i]))
			return -1;
		v = v << 4 | hex_val(name[i]);
	}
	if (name[i] != '\0')
		return -1;
	*id = v;
	return 0;
}

int win_bcd_each_element(struct win_reg *r, win_node obj, const char *guid,
			 win_bcd_element_fn fn, void *ctx, struct bw_error *err)
{
	win_node elements;
	int ret = win_reg_lookup(r, obj, "Elements", &elements, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	win_node *children;
	size_t n;
	ret = win_reg_children(r, elements, &children, &n, err);
	if (ret)
		return ret;
	if (n > BW_BCD_MAX_ELEMENTS) {
		free(children);
		return bw_seterr(err, BW_EFORMAT, win_reg_name(r),
				 "Objects\\%.60s\\Elements: %zu elements (at most %d)",
				 guid, n, BW_BCD_MAX_ELEMENTS);
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *name;
		ret = win_reg_node_name(r, children[i], &name, err);
		if (ret)
			break;
		uint32_t id;
		/* Other keys under Elements are nothing Windows reads. */
		if (win_bcd_element_id(name, &id) == 0) {
			char where[160];
			snprintf(where, sizeof where, "Objects\\%.60s\\Elements\\%s",
				 guid, name);
			ret = fn(r, children[i], id, where, ctx, err);
		}
		free(name);
	}
	free(children);
	return ret;
}

/* A GUID in registry form, {8-4-4-4-12}: BCD object keys, SYSTEM's
 * HardwareConfig (win_internal.h). */
int win_is_guid_name(const char *name)
{
	static const char shape[] = "{########-####-####-####-############}";
	size_t i;
	for (i = 0; shape[i]; i++) {
		if (shape[i] == '#') {
			if (!is_hex(name[i]))
				return 0;
		} else if (name[i] != shape[i]) {
			return 0;
		}
	}
	return name[i] == '\0';
}

static void bcd_object_free(struct bw_bcd_object *o)
{
	free(o->description);
	for (size_t i = 0; i < o->ndevices; i++)
		free(o->devices[i].raw);
	free(o->devices);
}

void bw_bcd_free(struct bw_bcd *bcd)
{
	if (!bcd)
		return;
	for (size_t i = 0; i < bcd->nobjects; i++)
		bcd_object_free(&bcd->objects[i]);
	free(bcd->objects);
	free(bcd);
}

/* Append a device element to O, taking RAW. */
static int add_device(struct bw_bcd_object *o, uint32_t id, uint8_t *raw,
		      size_t raw_len, uint32_t value_type)
{
	struct bw_bcd_element *grown =
		realloc(o->devices, (o->ndevices + 1) * sizeof *grown);
	if (!grown)
		return BW_ENOMEM;
	o->devices = grown;
	struct bw_bcd_element *e = &o->devices[o->ndevices++];
	memset(e, 0, sizeof *e);
	e->id = id;
	e->raw = raw;
	e->raw_len = raw_len;
	/* Device data is REG_BINARY; anything else is not decoded. */
	if (value_type == WIN_REG_BINARY)
		(void)bw_bcd_decode_device(raw, raw_len, &e->dev);
	else
		e->dev.kind = BW_BCD_DEV_UNKNOWN;
	return 0;
}

/* Read one element key (id already parsed) of object O. */
static int load_element(struct win_reg *r, win_node elem, uint32_t id,
			struct bw_bcd_object *o, const char *where,
			struct bw_error *err)
{
	if (id == BCD_ELEMENT_DESCRIPTION) {
		if (o->description)
			return 0;
		int ret = win_reg_get_string(r, elem, where, "Element",
					     &o->description, err);
		return ret == BW_ENOTFOUND ? 0 : ret;
	}
	if (BCD_ELEMENT_FORMAT(id) != BCD_FORMAT_DEVICE)
		return 0;
	win_value v;
	int ret = win_reg_find_value(r, elem, "Element", &v, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	uint32_t type;
	uint8_t *raw;
	size_t raw_len;
	ret = win_reg_value_raw(r, v, &type, &raw, &raw_len, err);
	if (ret)
		return ret;
	ret = add_device(o, id, raw, raw_len, type);
	if (ret) {
		free(raw);
		return bw_seterr(err, ret, win_reg_name(r), "out of memory");
	}
	return 0;
}

static int load_element_cb(struct win_reg *r, win_node elem, uint32_t id,
			   const char *where, void *ctx, struct bw_error *err)
{
	return load_element(r, elem, id, ctx, where, err);
}

static int load_object(struct win_reg *r, win_node obj, const char *guid,
		       struct bw_bcd_object *o, struct bw_error *err)
{
	char where[160];
	memcpy(o->guid, guid, sizeof o->guid);

	win_node desc;
	snprintf(where, sizeof where, "Objects\\%s\\Description", guid);
	int ret = win_reg_lookup(r, obj, "Description", &desc, err);
	if (ret == 0) {
		ret = win_reg_get_dword(r, desc, where, "Type", &o->type, err);
		if (ret && ret != BW_ENOTFOUND)
			return ret;
	} else if (ret != BW_ENOTFOUND) {
		return ret;
	}

	return win_bcd_each_element(r, obj, guid, load_element_cb, o, err);
}

int win_bcd_each_object(struct win_reg *r, const char *file,
			win_bcd_object_fn fn, void *ctx, struct bw_error *err)
{
	win_node objects;
	int ret = win_reg_lookup(r, win_reg_root(r), "Objects", &objects, err);
	if (ret == BW_ENOTFOUND)
		return bw_seterr(err, BW_EFORMAT, file,
				 "not a BCD store: no Objects key");
	if (ret)
		return ret;
	win_node *children;
	size_t n;
	ret = win_reg_children(r, objects, &children, &n, err);
	if (ret)
		return ret;
	if (n > BW_BCD_MAX_OBJECTS) {
		free(children);
		return bw_seterr(err, BW_EFORMAT, file,
				 "Objects: %zu objects (at most %d)", n,
				 BW_BCD_MAX_OBJECTS);
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *key;
		ret = win_reg_node_name(r, children[i], &key, err);
		if (ret)
			break;
		ret = fn(r, children[i], key, ctx, err);
		free(key);
	}
	free(children);
	return ret;
}

/* What bw_bcd_load's object callback fills. */
struct load_ctx {
	struct bw_bcd *bcd;
	const char *name;
};

static int load_object_cb(struct win_reg *r, win_node obj, const char *key,
			  void *ctx, struct bw_error *err)
{
	struct load_ctx *l = ctx;
	/* Windows names every object by a GUID; other keys are not objects
	 * of a store it would read. */
	if (!win_is_guid_name(key))
		return 0;
	/* At most BW_BCD_MAX_OBJECTS calls (win_bcd_each_object's cap). */
	struct bw_bcd_object *grown =
		realloc(l->bcd->objects,
			(l->bcd->nobjects + 1) * sizeof *grown);
	if (!grown)
		return bw_seterr(err, BW_ENOMEM, l->name, "out of memory");
	l->bcd->objects = grown;
	struct bw_bcd_object *o = &l->bcd->objects[l->bcd->nobjects++];
	memset(o, 0, sizeof *o);
	return load_object(r, obj, key, o, err);
}

int bw_bcd_load(const char *path, const char *name, struct bw_bcd **out,
		struct bw_error *err)
{
	*out = NULL;
	if (!name)
		name = path;
	struct win_reg *r = NULL;
	struct bw_bcd *bcd = calloc(1, sizeof *bcd);
	if (!bcd)
		return bw_seterr(err, BW_ENOMEM, name, "out of memory");
	int ret = win_reg_open(path, name, &r, err);
	if (ret)
		goto out;
	struct load_ctx l = { bcd, name };
	ret = win_bcd_each_object(r, name, load_object_cb, &l, err);
	if (ret)
		goto out;
	*out = bcd;
	bcd = NULL;
out:
	win_reg_close(r);
	bw_bcd_free(bcd);
	return ret;
}

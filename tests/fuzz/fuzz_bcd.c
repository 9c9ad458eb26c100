/*
 * libFuzzer harness for BCD device element decoding: the input is the
 * REG_BINARY data of one device element.  bw_bcd_decode_device
 * (src/win/bcd.c) decodes it as inspect does, and the fix-up that build
 * applies to it when the Windows partition moves (fix_device in
 * src/win/bcdpatch.c, which also finds a partition nested in a RAM-disk
 * device) is run on a copy, from the location the element names to
 * another.  bcdpatch.c's functions are static, so its source is compiled
 * into this harness (as fuzz_ntfs does with the native backend): the code
 * fuzzed is the code shipped.
 *
 * Checked besides crashes: decode returns BW_EFORMAT exactly for data
 * shorter than 0x18; a partition kind only from data that holds the
 * whole descriptor; a fix-up changes nothing but the two identity fields
 * (offset 0x20, 8 bytes; 0x38, 4 bytes; or the same shifted into a
 * RAM disk's nested descriptor), and only when it says it matched.
 * Seeds: make-seeds.py (OUTDIR/bcd).
 */
#include "win/bcdpatch.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The end of a partition descriptor (bcd.c's BCD_DEV_PART_END). */
#define FUZZ_PART_END 0x48

/* Bytes that differ between A and B outside the identity fields of a
 * descriptor at BASE. */
static int changed_elsewhere(const uint8_t *a, const uint8_t *b, size_t len,
			     size_t base)
{
	for (size_t i = 0; i < len; i++) {
		if (a[i] == b[i])
			continue;
		if (i >= base + BCD_DEV_PART_ID && i < base + BCD_DEV_PART_ID + 8)
			continue;
		if (i >= base + BCD_DEV_DISK_ID && i < base + BCD_DEV_DISK_ID + 4)
			continue;
		return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_bcd_device d;
	int r = bw_bcd_decode_device(data, size, &d);
	if ((r == BW_EFORMAT) != (size < 0x18) || (r != 0 && r != BW_EFORMAT))
		abort();
	if ((d.kind == BW_BCD_DEV_PARTITION_MBR || d.kind == BW_BCD_DEV_PARTITION_GPT) &&
	    size < FUZZ_PART_END)
		abort();

	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	/* OLD: what the element names (nested or not), else something. */
	struct bw_win_location old_loc = { d.disk_signature, d.part_offset };
	size_t base = 0, sub_len;
	if (d.type == BW_BCD_DEVTYPE_DISK && ramdisk_nested(data, size, &sub_len)) {
		struct bw_bcd_device nd;
		if (sub_len > size - RAMDISK_NESTED)
			abort();
		bw_bcd_decode_device(data + RAMDISK_NESTED, sub_len, &nd);
		old_loc.disk_signature = nd.disk_signature;
		old_loc.part_offset = nd.part_offset;
		base = RAMDISK_NESTED;
	}
	struct bw_win_location new_loc = { old_loc.disk_signature ^ 0x5A5A5A5Au,
					   old_loc.part_offset + (1u << 20) };
	enum fix_result fr = fix_device(copy, size, &old_loc, &new_loc);
	if (fr == FIX_MATCHED) {
		struct bw_bcd_device after;
		bw_bcd_decode_device(copy + base, size - base, &after);
		if (changed_elsewhere(data, copy, size, base) ||
		    after.kind != BW_BCD_DEV_PARTITION_MBR ||
		    after.disk_signature != new_loc.disk_signature ||
		    after.part_offset != new_loc.part_offset)
			abort();
	} else if (size && memcmp(copy, data, size) != 0) {
		abort();           /* not matched: left byte-identical */
	}
	free(copy);
	return 0;
}

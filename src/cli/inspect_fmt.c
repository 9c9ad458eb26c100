/* What inspect's two renderings share: names of BCD types, elements and
 * device kinds, hex and human-readable sizes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/inspect_fmt.h"

/* BCD object type (ReactOS bcd.h / Geoff Chappell's BCD notes): the top
 * nibble is the object kind, bits 20-23 the image or inherit class, the
 * low 20 bits the application type. */
const char *bcd_type_name(uint32_t t)
{
	switch (t) {
	case 0x10100002: return "Windows Boot Manager";
	case 0x10200003: return "Windows Boot Loader";
	case 0x10200004: return "Windows Resume Application";
	case 0x10200005: return "Windows Memory Tester";
	case 0x10300006: return "legacy loader (ntldr)";
	case 0x10400008: return "boot sector";
	}
	switch (t >> 28) {
	case 1: return "application settings";
	case 2: return "inherited settings";
	case 3: return "device options";
	}
	return "unknown";
}

const char *bcd_element_name(uint32_t id, uint32_t objtype)
{
	switch (id) {
	case 0x11000001: return "device";
	case 0x21000001: return objtype == 0x10200004 ? "filedevice" : "osdevice";
	case 0x31000003: return "ramdisksdidevice";
	}
	return NULL;
}

const char *dev_kind_name(enum bw_bcd_dev_kind k)
{
	switch (k) {
	case BW_BCD_DEV_PARTITION_MBR: return "partition-mbr";
	case BW_BCD_DEV_PARTITION_GPT: return "partition-gpt";
	case BW_BCD_DEV_BOOT:          return "boot";
	case BW_BCD_DEV_LOCATE:        return "locate";
	case BW_BCD_DEV_DISK:          return "disk";
	case BW_BCD_DEV_RAMDISK:       return "ramdisk";
	case BW_BCD_DEV_HARDDISK_MBR:  return "harddisk-mbr";
	case BW_BCD_DEV_HARDDISK_GPT:  return "harddisk-gpt";
	case BW_BCD_DEV_REMOVABLE:     return "removable";
	case BW_BCD_DEV_CDROM:         return "cdrom";
	case BW_BCD_DEV_FILE:          return "file";
	case BW_BCD_DEV_VHD:           return "vhd";
	case BW_BCD_DEV_UNKNOWN:       break;
	}
	return "unknown";
}

void hex_string(const uint8_t *p, size_t n, char *out, size_t outn)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 3 <= outn; i++)
		k += (size_t)snprintf(out + k, outn - k, "%02x", p[i]);
	if (outn)
		out[k < outn ? k : outn - 1] = '\0';
}

const char *logfile_name(enum bw_ntfs_logfile l)
{
	return l == BW_NTFS_LOG_CLEAN ? "clean" : l == BW_NTFS_LOG_UNCLEAN ? "unclean" : "unknown";
}

void human_size(uint64_t b, char *out, size_t n)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* ---- JSON ------------------------------------------------------------ */

const char *gpt_kind_name(int kind)
{
	switch (kind) {
	case BW_GPT_KIND_ESP:        return "esp";
	case BW_GPT_KIND_MSR:        return "msr";
	case BW_GPT_KIND_BASIC_DATA: return "basic-data";
	case BW_GPT_KIND_RECOVERY:   return "recovery";
	}
	return "other";
}

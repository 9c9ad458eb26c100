/*
 * The VMware box (provider "vmware_desktop"; FORMATS.md "Other Vagrant
 * providers"), as hashicorp/vagrant-vmware-desktop reads it: action/
 * import.rb takes metadata.json's "vmx_file" or else the first *.vmx at
 * the box's top level and copies the whole box directory next to it (or
 * `vmrun clone`s it, linked), so the .vmx names its disk by a relative
 * file name; driver/base.rb read_vmx_data parses `key = "value"` lines
 * (keys case-insensitive, '#' comments), and after the clone sets
 * uuid.action = "create" and msg.autoanswer.  VMware Workstation and
 * Fusion run monolithicSparse VMDKs (streamOptimized is an OVF transport
 * format they refuse to power on), so the disk is one.
 *
 * The .vmx (VMware's own keys, as Workstation writes them and Packer's
 * vmware builders template them):
 *  - .encoding = "UTF-8" first (VMware reads the file in that charset),
 *    config.version "8", virtualHW.version "12" (Workstation 12 / Fusion
 *    8: the first that lists Windows Server 2016; SATA needs 10, EFI 8);
 *  - guestOS "windows9srv-64" (VMware's key for Windows Server 2016
 *    64-bit, whose kernel Nano Server is; "windows2019srv-64" is 2019's);
 *  - memsize (MB), numvcpus; firmware = "efi" for GPT images (BIOS is
 *    VMware's default), secure boot left off;
 *  - the disk on ide0:0 (PIIX IDE) or sata0:0 (AHCI) by the box options'
 *    disk_bus: Nano has no driver for VMware's default SCSI controllers
 *    (LSI SAS, PVSCSI) without extra packages;
 *  - ethernet0: e1000 (Nano's -OEMDrivers carries it; VMware's default
 *    for this guestOS, e1000e, needs another driver), NAT, with a MAC
 *    that VMware generates per VM (addressType "generated"): a fixed MAC
 *    in a box would be shared by every clone;
 *  - the hardware UUID, when the build pins one (a Windows that booted
 *    remembers it), as uuid.bios: VMware's form is the 16 bytes as hex
 *    pairs in the UUID's textual order, a space between pairs and a dash
 *    between the 8th and 9th ("56 4d ... 12-34 ... 9a").  Since Vagrant
 *    sets uuid.action = "create" on its clone (VMware then draws a new
 *    UUID when it sees the VM was moved), the Vagrantfile sets both
 *    keys again through vmware.vmx, which Vagrant applies after the
 *    clone (action/vmx_modify.rb).
 */
#include <stdio.h>
#include <string.h>

#include "boxwright/disk.h"
#include "box/box_internal.h"

/* VMware's uuid.bios text for a canonical UUID (8-4-4-4-12 hex): 47
 * characters + NUL. */
void box_vmware_uuid_bios(const char *uuid, char out[48])
{
	size_t k = 0, n = 0;
	for (const char *s = uuid; *s && n < 32; s++) {
		if (*s == '-')
			continue;
		if (n && n % 2 == 0)
			out[k++] = n == 16 ? '-' : ' ';
		out[k++] = (char)(*s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
		n++;
	}
	out[k] = '\0';
}

static void vmx_kv(struct box_buf *b, const char *key, const char *value)
{
	box_buf_printf(b, "%s = \"%s\"\n", key, value);
}

int box_vmx_text(const struct box_resolved *r, const char *disk_member,
		 char **out, struct bw_error *err)
{
	/* the disk's name goes between double quotes: no quote, no '|'
	 * (VMware's escape character), no path */
	if (!disk_member || !box_check_text(disk_member, BW_BOX_MAX_NAME + 8) ||
	    strpbrk(disk_member, "\"|/\\"))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "VMX: the disk member name is missing or holds '\"', '|' or a path");
	int sata = r->disk_bus == BW_BOX_BUS_SATA;
	const char *bus = sata ? "sata0" : "ide0";
	struct box_buf b;
	box_buf_init(&b);
	vmx_kv(&b, ".encoding", "UTF-8");
	vmx_kv(&b, "config.version", "8");
	vmx_kv(&b, "virtualHW.version", "12");
	box_buf_puts(&b, "displayName = \"");
	box_buf_puts(&b, r->vm_name);     /* checked: no '"', no control chars */
	box_buf_puts(&b, "\"\n");
	vmx_kv(&b, "guestOS", "windows9srv-64");
	if (r->firmware_efi)
		vmx_kv(&b, "firmware", "efi");
	box_buf_printf(&b, "memsize = \"%u\"\nnumvcpus = \"%u\"\n", r->memory_mb, r->cpus);
	/* the PCIe root ports Workstation gives every VM of this hardware
	 * version (the AHCI controller and the NIC sit behind them) */
	vmx_kv(&b, "pciBridge0.present", "TRUE");
	for (int i = 4; i <= 7; i++) {
		box_buf_printf(&b, "pciBridge%d.present = \"TRUE\"\n"
				   "pciBridge%d.virtualDev = \"pcieRootPort\"\n"
				   "pciBridge%d.functions = \"8\"\n", i, i, i);
	}
	box_buf_printf(&b, "%s.present = \"TRUE\"\n", bus);
	box_buf_printf(&b, "%s:0.present = \"TRUE\"\n", bus);
	box_buf_printf(&b, "%s:0.deviceType = \"disk\"\n", bus);
	box_buf_printf(&b, "%s:0.fileName = \"%s\"\n", bus, disk_member);
	vmx_kv(&b, "ethernet0.present", "TRUE");
	vmx_kv(&b, "ethernet0.virtualDev", "e1000");
	vmx_kv(&b, "ethernet0.connectionType", "nat");
	vmx_kv(&b, "ethernet0.addressType", "generated");
	vmx_kv(&b, "floppy0.present", "FALSE");
	if (r->has_hardware_uuid) {
		char bios[48];
		box_vmware_uuid_bios(r->hardware_uuid, bios);
		vmx_kv(&b, "uuid.bios", bios);
	}
	return box_buf_finish(&b, out, "VMX", err);
}

/* The disk must be a monolithicSparse VMDK: its capacity is the box's. */
int box_vmware_check_disk(const char *path, uint64_t *capacity, struct bw_error *err)
{
	struct bw_disk *d = NULL;
	int r = bw_disk_open(path, &d, err);
	if (r)
		return r;
	const char *fmt = bw_disk_format(d);
	if (strcmp(fmt, "vmdk-monolithicSparse") != 0)
		r = bw_seterr(err, BW_EINVAL, path,
			      "a vmware_desktop box needs a monolithicSparse VMDK (VMware does not run streamOptimized ones), found %s",
			      fmt);
	else
		*capacity = bw_disk_size(d);
	bw_disk_close(d);
	return r;
}

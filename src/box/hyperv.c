/*
 * The Hyper-V box (FORMATS.md "Other Vagrant providers"), as Vagrant's
 * Hyper-V provider reads it (hashicorp/vagrant plugins/providers/hyperv/
 * action/import.rb, scripts/import_vm.ps1, scripts/utils/VagrantVM/
 * VagrantVM.psm1 New-VagrantVMXML):
 *  - import.rb needs the directories "Virtual Machines" and "Virtual Hard
 *    Disks" and takes the FIRST child of each with the extension .xml
 *    (or .vmcx) and .vhd/.vhdx: so the box holds exactly one of each;
 *  - New-VagrantVMXML copies that disk, then reads the XML with PowerShell
 *    ([xml] Get-Content) and creates a new VM from it (New-VM -NoVHD):
 *      configuration.properties.subtype."#text" + 1 = the generation;
 *      configuration.properties.name."#text"        = the VM name (unless
 *                                                      hv.vmname);
 *      //boot/device0."#text"   HardDrive -> boot from IDE (Gen 1) or
 *                                            VHD (Gen 2);
 *      //secure_boot_enabled     "True" turns secure boot on (with
 *      //secure_boot_template    the template, if any), else off (Gen 2);
 *      every element named controller* (XPath "//" + "*[starts-with(
 *        name(.),'controller')]"): each controllerN whose
 *        parent has a ChannelInstanceGuid attribute is SCSI controller N,
 *        else IDE controller N; each of its children with a non-empty
 *        pathname."#text" and type."#text" = "VHD" gets the copied disk
 *        (Add-VMHardDiskDrive; the pathname itself is not used);
 *      configuration.settings.processors.count."#text" (unless hv.cpus);
 *      //memory/bank: dynamic_memory_enabled, limit, size, reservation
 *        in MB (unless hv.memory);
 *      //notes."#text" = the VM's notes.
 *    "#text" matters: PowerShell's XML adapter hands back an element
 *    without attributes as a plain string, whose "#text" is $null, so
 *    every leaf carries a type attribute as Hyper-V's exports do.
 * The shape is the one Packer's Hyper-V builder writes for Vagrant when
 * Hyper-V exports only .vmcx (packer common/powershell/hyperv
 * ExportVirtualMachine): Generation 1 drives under vm-controllers/
 * controller0 (IDE), Generation 2 drives under vm-controllers/scsi
 * [ChannelInstanceGuid]/controller0 (Generation 2 has no IDE), static
 * memory, secure boot off.  Secure boot stays off for Generation 2
 * (DESIGN.md): a user who turns it on in Hyper-V gets the
 * "MicrosoftWindows" template named here, the one that trusts Windows'
 * boot manager (the "MicrosoftUEFICertificateAuthority" one is for other
 * loaders).  Boot device: the hard drive (Packer writes Optical because
 * its VMs boot an ISO first).
 *
 * The drive's pathname is written relative to the box root, with
 * Windows separators ("Virtual Hard Disks\NAME.vhd"): Vagrant only needs
 * it non-empty, and a relative path names the member the box really has
 * (Packer's are the absolute paths of its build host).
 *
 * The file starts with a UTF-8 byte order mark: Windows PowerShell 5.1's
 * Get-Content reads a file without one in the ANSI code page, and [xml]
 * of a string ignores the encoding declaration, so a non-ASCII VM name
 * would arrive garbled without it.
 */
#include <stdio.h>
#include <string.h>

#include "boxwright/disk.h"
#include "box/box_internal.h"

/* One leaf with the type attribute Hyper-V's exports carry. */
static void hv_leaf(struct box_buf *b, const char *indent, const char *tag,
		    const char *type, const char *text)
{
	box_buf_printf(b, "%s<%s type=\"%s\">", indent, tag, type);
	box_buf_xml(b, text);
	box_buf_printf(b, "</%s>\n", tag);
}

static void hv_leaf_u(struct box_buf *b, const char *indent, const char *tag,
		      unsigned v)
{
	box_buf_printf(b, "%s<%s type=\"integer\">%u</%s>\n", indent, tag, v, tag);
}

int box_hyperv_xml_text(const struct box_resolved *r, const char *disk_member,
			char **out, struct bw_error *err)
{
	if (!disk_member || !box_check_text(disk_member, 4096))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "Hyper-V XML: the disk member name is missing or not text");
	int gen2 = r->firmware_efi;
	struct box_buf b, path;
	box_buf_init(&b);
	box_buf_init(&path);
	/* Windows separators in the drive's pathname */
	for (const char *s = disk_member; *s; s++)
		box_buf_add(&path, *s == '/' ? "\\" : s, 1);
	box_buf_add(&path, "", 1);
	box_buf_puts(&b, "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<configuration>\n"
			 "  <properties>\n");
	hv_leaf_u(&b, "    ", "subtype", gen2 ? 1u : 0u);
	hv_leaf(&b, "    ", "name", "string", r->vm_name);
	box_buf_puts(&b, "  </properties>\n"
			 "  <settings>\n"
			 "    <processors>\n");
	hv_leaf_u(&b, "      ", "count", r->cpus);
	box_buf_puts(&b, "    </processors>\n"
			 "    <memory>\n"
			 "      <bank>\n");
	/* static memory: startup = minimum = maximum */
	hv_leaf(&b, "        ", "dynamic_memory_enabled", "bool", "False");
	hv_leaf_u(&b, "        ", "limit", r->memory_mb);
	hv_leaf_u(&b, "        ", "reservation", r->memory_mb);
	hv_leaf_u(&b, "        ", "size", r->memory_mb);
	box_buf_puts(&b, "      </bank>\n"
			 "    </memory>\n"
			 "  </settings>\n"
			 "  <boot>\n");
	hv_leaf(&b, "    ", "device0", "string", "HardDrive");
	box_buf_puts(&b, "  </boot>\n");
	hv_leaf(&b, "  ", "secure_boot_enabled", "bool", "False");
	if (gen2)
		hv_leaf(&b, "  ", "secure_boot_template", "string", "MicrosoftWindows");
	hv_leaf(&b, "  ", "notes", "string",
		gen2 ? "Vagrant box written by boxwright (Generation 2, UEFI)"
		     : "Vagrant box written by boxwright (Generation 1, BIOS)");
	box_buf_puts(&b, "  <vm-controllers>\n");
	const char *ind = "    ";
	if (gen2) {
		/* Vagrant only tests that the attribute is there (a
		 * non-empty value); Packer writes "x" too. */
		box_buf_puts(&b, "    <scsi ChannelInstanceGuid=\"x\">\n");
		ind = "      ";
	}
	box_buf_printf(&b, "%s<controller0>\n%s  <drive0>\n", ind, ind);
	char leaf_ind[16];
	snprintf(leaf_ind, sizeof leaf_ind, "%s    ", ind);
	if (path.failed)
		b.failed = 1;
	else
		hv_leaf(&b, leaf_ind, "pathname", "string", path.data);
	hv_leaf(&b, leaf_ind, "type", "string", "VHD");
	box_buf_printf(&b, "%s  </drive0>\n%s</controller0>\n", ind, ind);
	if (gen2)
		box_buf_puts(&b, "    </scsi>\n");
	box_buf_puts(&b, "  </vm-controllers>\n"
			 "</configuration>\n");
	box_buf_free(&path);
	return box_buf_finish(&b, out, "Hyper-V XML", err);
}

/* The disk must be what the generation boots: Generation 2 reads only
 * VHDX; Generation 1 reads both, and build gives it a VHD (the format
 * Hyper-V on Windows Server 2008 R2 still reads). */
int box_hyperv_check_disk(const char *path, int gen2, uint64_t *capacity,
			  int *vhdx, struct bw_error *err)
{
	struct bw_disk *d = NULL;
	int r = bw_disk_open(path, &d, err);
	if (r)
		return r;
	const char *fmt = bw_disk_format(d);
	int is_vhdx = !strcmp(fmt, "vhdx-dynamic") || !strcmp(fmt, "vhdx-fixed");
	int is_vhd = !strcmp(fmt, "vhd-dynamic") || !strcmp(fmt, "vhd-fixed");
	if (!is_vhdx && !(is_vhd && !gen2))
		r = bw_seterr(err, BW_EINVAL, path,
			      "a Hyper-V Generation %d box needs a %s disk without a parent, found %s",
			      gen2 ? 2 : 1, gen2 ? "VHDX" : "VHD or VHDX", fmt);
	else {
		*capacity = bw_disk_size(d);
		*vhdx = is_vhdx;
	}
	bw_disk_close(d);
	return r;
}

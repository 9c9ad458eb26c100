/*
 * The box's Vagrantfile, for every provider (FORMATS.md "Vagrant box
 * (virtualbox provider)", "Other Vagrant providers"; DESIGN.md
 * "Credentials and identity").  Vagrant loads it before the user's
 * Vagrantfile, so these are defaults the user can override.  Settings and
 * their sources (hashicorp/vagrant 2.3.4, vagrant-libvirt 0.11.2):
 *  - Vagrant.require_version ">= 1.9.2": config.winrm.codepage appeared
 *    in 1.9.2, and its default (nil) makes Vagrant run commands under
 *    code page 65001, the UTF-8 one that Nano Server requires;
 *  - config.vm.guest = :windows skips guest detection;
 *  - WinRM (plugins/communicators/winrm/config.rb): over HTTP with basic
 *    auth (transport :plaintext, basic_auth_only) only when the caller
 *    says the image allows it (winrm_plaintext: `--winrm` applied it, or
 *    inspect found it already set); otherwise Vagrant's own default,
 *    :negotiate (NTLM with message encryption over HTTP), which a stock
 *    Windows listener accepts, written out so the reader sees the choice;
 *  - virtualbox: config.vm.base_mac = the OVF adapter's MACAddress
 *    (VBoxManage import draws a new MAC, and Vagrant sets this one back
 *    before the first boot, plugins/providers/virtualbox/action/
 *    match_mac_address.rb); memory and cpus; the hardware UUID through
 *    `modifyvm --hardwareuuid` (the SMBIOS UUID Windows sees); UEFI
 *    through `modifyvm --firmware efi`;
 *  - libvirt (lib/vagrant-libvirt/config.rb, templates/domain.xml.erb):
 *    memory, cpus; disk_bus "ide" or "sata" and the matching disk_device
 *    ("hda" / "sda": left unset it is "vda", virtio's name) and
 *    machine_type ("pc" has the PIIX IDE controller, "q35" the AHCI one
 *    and no IDE); nic_model_type "e1000" (Windows has no virtio-net
 *    driver); for UEFI, loader = OVMF's code and nvram = a variable
 *    store path: vagrant-libvirt writes <loader type='pflash'> only when
 *    nvram is set (type 'rom' otherwise, which split OVMF cannot boot
 *    from), and libvirt creates a missing nvram file from the variable
 *    template it maps to that loader; the hardware UUID as
 *    sysinfo system uuid (<smbios mode='sysinfo'/>), which libvirt also
 *    takes as the domain UUID when none is set.
 *  - hyperv, vmware_desktop: vf_hyperv and vf_vmware below.
 * Port 5985 is deliberately not forwarded here: Vagrant already forwards
 * 55985 -> 5985 with id "winrm" for the winrm communicator
 * (plugins/kernel_v2/config/vm.rb), and a second forward of 5985 would
 * collide with it.
 */
#include <stdlib.h>

#include "box/box_internal.h"

static void vf_virtualbox(struct box_buf *b, const struct box_resolved *r)
{
	box_buf_printf(b,
		"  config.vm.base_mac = \"%s\"\n"
		"  config.vm.provider \"virtualbox\" do |vb|\n"
		"    vb.memory = %u\n"
		"    vb.cpus = %u\n",
		r->mac, r->memory_mb, r->cpus);
	if (r->firmware_efi)
		box_buf_puts(b,
			"    vb.customize [\"modifyvm\", :id, \"--firmware\", \"efi\"]\n");
	if (r->has_hardware_uuid)
		box_buf_printf(b,
			"    vb.customize [\"modifyvm\", :id, \"--hardwareuuid\", \"%s\"]\n",
			r->hardware_uuid);
	box_buf_puts(b, "  end\n");
}

static void vf_libvirt(struct box_buf *b, const struct box_resolved *r)
{
	int sata = r->disk_bus == BW_BOX_BUS_SATA;
	box_buf_printf(b,
		"  config.vm.provider :libvirt do |lv|\n"
		"    lv.memory = %u\n"
		"    lv.cpus = %u\n"
		"    lv.disk_bus = \"%s\"\n"
		"    lv.disk_device = \"%s\"\n"
		"    lv.machine_type = \"%s\"\n"
		"    lv.nic_model_type = \"e1000\"\n",
		r->memory_mb, r->cpus, sata ? "sata" : "ide",
		sata ? "sda" : "hda", sata ? "q35" : "pc");
	if (r->firmware_efi) {
		/* One variable store per box name: a second domain of this
		 * box running at the same time needs its own lv.nvram in the
		 * user's Vagrantfile (the box cannot know the domain name). */
		struct box_buf path;
		box_buf_init(&path);
		box_buf_printf(&path, "%s/%s_VARS.fd", BW_BOX_LIBVIRT_NVRAM_DIR,
			       r->vm_name);
		box_buf_puts(b,
			"    # UEFI: OVMF's code read-only; the variable store is created by\n"
			"    # libvirt from its template.  Give each concurrent VM its own nvram.\n"
			"    lv.loader = \"" BW_BOX_LIBVIRT_LOADER "\"\n"
			"    lv.nvram = ");
		if (path.failed)
			b->failed = 1;
		else
			box_buf_ruby_str(b, path.data);
		box_buf_puts(b, "\n");
		box_buf_free(&path);
	}
	if (r->has_hardware_uuid)
		box_buf_printf(b,
			"    lv.sysinfo = { \"system\" => { \"uuid\" => \"%s\" } }\n",
			r->hardware_uuid);
	box_buf_puts(b, "  end\n");
}

/* hyperv (plugins/providers/hyperv/config.rb): memory and cpus as the
 * XML has them; the rest (vmname, enable_virtualization_extensions,
 * linked_clone, mac, ...) is the user's.  Vagrant cannot give a Hyper-V
 * VM a chosen SMBIOS UUID (New-VM draws the BIOS GUID), so a pinned one
 * is named in a comment for whoever sets it by hand. */
static void vf_hyperv(struct box_buf *b, const struct box_resolved *r)
{
	box_buf_printf(b,
		"  config.vm.provider \"hyperv\" do |hv|\n"
		"    hv.memory = %u\n"
		"    hv.cpus = %u\n"
		"    # Generation %d (%s), secure boot off: see Virtual Machines/*.xml.\n"
		"    # hv.vmname, hv.enable_virtualization_extensions, hv.linked_clone\n"
		"    # and the switch are left to your Vagrantfile.\n",
		r->memory_mb, r->cpus, r->firmware_efi ? 2 : 1,
		r->firmware_efi ? "UEFI, GPT disk" : "BIOS, MBR disk");
	if (r->has_hardware_uuid)
		box_buf_printf(b,
			"    # The other providers pin the SMBIOS UUID %s; Vagrant\n"
			"    # cannot set a Hyper-V VM's (Msvm_VirtualSystemSettingData.BIOSGUID),\n"
			"    # and a Windows that booted under one may not boot under another.\n",
			r->hardware_uuid);
	box_buf_puts(b, "  end\n");
}

/* vmware_desktop (hashicorp/vagrant-vmware-desktop config.rb, action/
 * vmx_modify.rb): vmware.vmx entries are written into the clone's .vmx
 * after the import, so the hardware UUID set there survives the
 * uuid.action = "create" that the import writes (vmware.c). */
static void vf_vmware(struct box_buf *b, const struct box_resolved *r)
{
	box_buf_printf(b,
		"  config.vm.provider \"vmware_desktop\" do |vmware|\n"
		"    vmware.vmx[\"memsize\"] = \"%u\"\n"
		"    vmware.vmx[\"numvcpus\"] = \"%u\"\n",
		r->memory_mb, r->cpus);
	if (r->has_hardware_uuid) {
		char bios[48];
		box_vmware_uuid_bios(r->hardware_uuid, bios);
		box_buf_printf(b,
			"    vmware.vmx[\"uuid.bios\"] = \"%s\"\n"
			"    vmware.vmx[\"uuid.action\"] = \"keep\"\n",
			bios);
	}
	box_buf_puts(b, "  end\n");
}

int box_vagrantfile_text(const struct box_resolved *r, char **out,
			 struct bw_error *err)
{
	struct box_buf b;
	box_buf_init(&b);
	box_buf_puts(&b,
		"# -*- mode: ruby; coding: utf-8 -*-\n"
		"# Written by boxwright: defaults of this box, merged under the user's\n"
		"# Vagrantfile.  Vagrant forwards host port 55985 to WinRM's 5985 itself\n"
		"# (forwarded port id \"winrm\"); redefine that id to change the host port.\n"
		"# 1.9.2: config.winrm.codepage (default 65001, UTF-8, which Nano needs).\n"
		"Vagrant.require_version \">= 1.9.2\"\n"
		"Vagrant.configure(\"2\") do |config|\n"
		"  config.vm.guest = :windows\n"
		"  config.vm.communicator = \"winrm\"\n");
	if (r->winrm_plaintext)
		box_buf_puts(&b,
			"  config.winrm.transport = :plaintext\n"
			"  config.winrm.basic_auth_only = true\n");
	else
		box_buf_puts(&b,
			"  config.winrm.transport = :negotiate\n"
			"  config.winrm.basic_auth_only = false\n");
	box_buf_puts(&b, "  config.winrm.username = ");
	box_buf_ruby_str(&b, r->user);
	box_buf_puts(&b, "\n  config.winrm.password = ");
	box_buf_ruby_str(&b, r->password);
	box_buf_puts(&b, "\n");
	switch (r->provider) {
	case BW_BOX_LIBVIRT: vf_libvirt(&b, r); break;
	case BW_BOX_HYPERV: vf_hyperv(&b, r); break;
	case BW_BOX_VMWARE: vf_vmware(&b, r); break;
	case BW_BOX_VIRTUALBOX: vf_virtualbox(&b, r); break;
	}
	box_buf_puts(&b, "end\n");
	return box_buf_finish(&b, out, "Vagrantfile", err);
}

int bw_box_vagrantfile(const struct bw_box_opts *o, char **out,
		       struct bw_error *err)
{
	struct box_resolved r;
	int rc = box_resolve(o, &r, err);
	if (rc)
		return rc;
	return box_vagrantfile_text(&r, out, err);
}

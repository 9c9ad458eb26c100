/*
 * The box's Vagrantfile (FORMATS.md "Vagrant box (virtualbox provider)"):
 * Vagrant loads it before the user's Vagrantfile, so these are defaults the
 * user can override.  Settings and their sources (hashicorp/vagrant 2.3.4):
 *  - config.vm.guest = :windows skips guest detection;
 *  - WinRM over HTTP with basic auth (plugins/communicators/winrm/
 *    config.rb: transport, basic_auth_only, username, password), which is
 *    what `boxwright --winrm` turns on in the image;
 *  - config.vm.base_mac = the OVF adapter's MACAddress: VBoxManage import
 *    draws a new MAC, and Vagrant sets this one back before the first boot
 *    (plugins/providers/virtualbox/action/match_mac_address.rb);
 *  - the virtualbox provider's memory and cpus, and the hardware UUID
 *    through `modifyvm --hardwareuuid` (the SMBIOS UUID Windows sees).
 * Port 5985 is deliberately not forwarded here: Vagrant already forwards
 * 55985 -> 5985 with id "winrm" for the winrm communicator
 * (plugins/kernel_v2/config/vm.rb), and a second forward of 5985 would
 * collide with it.
 */
#include <stdlib.h>

#include "box/box_internal.h"

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
		"Vagrant.configure(\"2\") do |config|\n"
		"  config.vm.guest = :windows\n"
		"  config.vm.communicator = \"winrm\"\n"
		"  config.winrm.transport = :plaintext\n"
		"  config.winrm.basic_auth_only = true\n"
		"  config.winrm.username = ");
	box_buf_ruby_str(&b, r->user);
	box_buf_puts(&b, "\n  config.winrm.password = ");
	box_buf_ruby_str(&b, r->password);
	box_buf_printf(&b,
		"\n"
		"  config.vm.base_mac = \"%s\"\n"
		"  config.vm.provider \"virtualbox\" do |vb|\n"
		"    vb.memory = %u\n"
		"    vb.cpus = %u\n",
		r->mac, r->memory_mb, r->cpus);
	if (r->has_hardware_uuid)
		box_buf_printf(&b,
			"    vb.customize [\"modifyvm\", :id, \"--hardwareuuid\", \"%s\"]\n",
			r->hardware_uuid);
	box_buf_puts(&b, "  end\nend\n");
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

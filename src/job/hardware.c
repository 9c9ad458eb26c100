/*
 * Which virtual hardware each provider's box declares, and whether the
 * image's drivers (win/drivers.c's table, read from SYSTEM's live control
 * set) can run it: inspect's per-provider table and build's choice of
 * disk bus and warnings.  DESIGN.md "Correctness rules", last bullet, and
 * "Boxes for every provider"; FORMATS.md "Other Vagrant providers".
 *
 * Providers reach this file by name (bw_box_provider_name), never by
 * enum value, so a provider the box module adds needs only a line here.
 */
#include <stdio.h>
#include <string.h>

#include "boxwright/box.h"
#include "job/job_internal.h"

#define HAS(kinds, k) (((kinds) & BW_DRIVER_BIT(k)) != 0)

/* How Nano Server gets each set (New-NanoServerImage switches: the
 * OEM-Drivers package has the IDE, AHCI and E1000 drivers, the Guest
 * package the Hyper-V ones). */
#define FIX_OEM "build the image with New-NanoServerImage -OEMDrivers"
#define FIX_GUEST "the Hyper-V box needs Nano's guest drivers (New-NanoServerImage -GuestDrivers)"

/* Driver names as the messages give them. */
#define NEED_IDE "IDE disk controller (intelide or pciide, and atapi, as boot drivers)"
#define NEED_SATA_OR_IDE "SATA (storahci) or IDE (intelide, atapi) disk controller, as boot drivers"
#define NEED_E1000 "E1000 NIC (E1G60)"
#define NEED_HV_DISK "Hyper-V synthetic disk (vmbus and storvsc, as boot drivers)"
#define NEED_HV_DISK_GEN1 "IDE disk controller (intelide, atapi) or Hyper-V storage (vmbus, storvsc)"
#define NEED_HV_NIC "Hyper-V network adapter (vmbus, netvsc)"

static void missing(struct bw_hw_verdict *v, const char *disk_need, const char *nic_need)
{
	snprintf(v->missing, sizeof v->missing, "%s%s%s", v->disk_ok ? "" : disk_need,
		 !v->disk_ok && !v->nic_ok ? "; " : "", v->nic_ok ? "" : nic_need);
}

void bw_hw_decide(unsigned kinds, enum bw_hw_target t, struct bw_hw_verdict *v)
{
	memset(v, 0, sizeof *v);
	/* An IDE disk needs the controller's driver and the channels'. */
	int ide = HAS(kinds, BW_DRV_IDE_CHANNEL) && HAS(kinds, BW_DRV_IDE_CONTROLLER);
	int ahci = HAS(kinds, BW_DRV_AHCI);
	int hv_disk = HAS(kinds, BW_DRV_VMBUS) && HAS(kinds, BW_DRV_STORVSC);
	int hv_nic = HAS(kinds, BW_DRV_VMBUS) && HAS(kinds, BW_DRV_NETVSC);
	int e1000 = HAS(kinds, BW_DRV_E1000);
	switch (t) {
	case BW_HW_VIRTUALBOX:
		/* The OVF declares one PIIX4 IDE controller and an E1000
		 * (82540EM): nothing to choose. */
		*v = (struct bw_hw_verdict){ .provider = "virtualbox", .disk_bus = "ide",
					     .nic = "e1000", .disk_ok = ide, .nic_ok = e1000,
					     .code = "drivers-missing-virtualbox", .fix = FIX_OEM };
		missing(v, NEED_IDE, NEED_E1000);
		break;
	case BW_HW_LIBVIRT:
	case BW_HW_VMWARE_DESKTOP:
		/* Both can give the disk SATA (libvirt's q35 machine; VMware's
		 * sata0) or IDE (pc; ide0), and an e1000 NIC; AHCI first, as
		 * q35 is libvirt's modern machine type and SATA VMware's
		 * default for new Windows guests. */
		*v = (struct bw_hw_verdict){
			.provider = t == BW_HW_LIBVIRT ? "libvirt" : "vmware_desktop",
			.disk_bus = ahci || !ide ? "sata" : "ide", .nic = "e1000",
			.disk_ok = ahci || ide, .nic_ok = e1000,
			.code = t == BW_HW_LIBVIRT ? "drivers-missing-libvirt"
						   : "drivers-missing-vmware_desktop",
			.fix = FIX_OEM };
		missing(v, NEED_SATA_OR_IDE, NEED_E1000);
		break;
	case BW_HW_HYPERV_GEN1:
		/* Generation 1 boots from its emulated IDE controller; with the
		 * Hyper-V storage drivers the IDE disk goes through VMBus,
		 * which is how Nano's Guest images (-GuestDrivers alone, the
		 * Quick Start's .vhd) run as generation 1 VMs.  Its NIC is the
		 * synthetic one (a legacy NIC must be asked for). */
		*v = (struct bw_hw_verdict){ .provider = "hyperv", .generation = 1,
					     .disk_bus = "ide", .nic = "netvsc",
					     .disk_ok = ide || hv_disk, .nic_ok = hv_nic,
					     .code = "drivers-missing-hyperv", .fix = FIX_GUEST };
		missing(v, NEED_HV_DISK_GEN1, NEED_HV_NIC);
		break;
	case BW_HW_HYPERV_GEN2:
		/* Generation 2 has no IDE: the disk is on the synthetic SCSI
		 * controller. */
		*v = (struct bw_hw_verdict){ .provider = "hyperv", .generation = 2,
					     .disk_bus = "scsi", .nic = "netvsc",
					     .disk_ok = hv_disk, .nic_ok = hv_nic,
					     .code = "drivers-missing-hyperv", .fix = FIX_GUEST };
		missing(v, NEED_HV_DISK, NEED_HV_NIC);
		break;
	default:
		break;
	}
}

/* The target of a provider's box, by its name; -1 for one this file does
 * not know (its box keeps the defaults, unchecked). */
static int provider_target(enum bw_box_provider p, int gpt)
{
	const char *name = bw_box_provider_name(p);
	if (!name)
		return -1;
	if (strcmp(name, "virtualbox") == 0)
		return BW_HW_VIRTUALBOX;
	if (strcmp(name, "libvirt") == 0)
		return BW_HW_LIBVIRT;
	if (strcmp(name, "hyperv") == 0)
		return gpt ? BW_HW_HYPERV_GEN2 : BW_HW_HYPERV_GEN1;
	if (strcmp(name, "vmware_desktop") == 0)
		return BW_HW_VMWARE_DESKTOP;
	return -1;
}

int job_choose_hardware(const struct bw_edit_result *e, enum bw_box_provider provider, int gpt,
			int strict, struct job_work *w, const char *file,
			enum bw_box_disk_bus *bus, struct bw_error *err)
{
	/* Without the hive's facts nothing is known: IDE, which every
	 * Windows this side of Windows 8 boots from, and no warning. */
	*bus = BW_BOX_BUS_IDE;
	int t = provider_target(provider, gpt);
	if (t < 0 || !e->drivers_read)
		return 0;
	struct bw_hw_verdict v;
	bw_hw_decide(bw_driver_kinds(e->drivers, BW_NUM_DRIVERS), (enum bw_hw_target)t, &v);
	*bus = strcmp(v.disk_bus, "sata") == 0 ? BW_BOX_BUS_SATA : BW_BOX_BUS_IDE;
	if (v.disk_ok && v.nic_ok)
		return 0;
	char gen[24] = "";
	if (v.generation)
		snprintf(gen, sizeof gen, " (generation %d)", v.generation);
	if (strict)
		return bw_seterr(err, BW_EUNSUPPORTED, file,
				 "the %s box%s declares hardware the image has no driver for: %s; %s (--strict refuses it)",
				 v.provider, gen, v.missing, v.fix);
	work_warn(w, v.code, "%s: the %s box%s declares hardware the image has no driver for: %s; %s",
		  file, v.provider, gen, v.missing, v.fix);
	return 0;
}

int job_driver_files(struct bw_guest *g, struct bw_driver_state *d, size_t n,
		     struct bw_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char path[BW_DRIVER_PATH_MAX + 16];
		d[i].file = -1;
		if (!d[i].present || bw_driver_file_path(&d[i], path, sizeof path) != 0)
			continue;
		int e = image_exists(g, path, err);
		if (e < 0)
			return e;
		d[i].file = e;
	}
	return 0;
}

void job_hardware_model(struct bw_image_model *m)
{
	m->hw_known = m->system_hive.loaded;
	if (!m->hw_known)
		return;
	m->driver_kinds = bw_driver_kinds(m->sys.drivers, BW_NUM_DRIVERS);
	for (int t = 0; t < BW_HW_NTARGETS; t++)
		bw_hw_decide(m->driver_kinds, (enum bw_hw_target)t, &m->hw[t]);
}

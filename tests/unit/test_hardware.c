/*
 * Per-provider hardware from the image's drivers (src/job/hardware.c):
 * bw_hw_decide on chosen driver sets, and job_choose_hardware's bus,
 * warnings (code, text) and --strict refusal, on driver states built by
 * hand as the SYSTEM reader fills them.  No image needed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "boxwright/box.h"
#include "job/job_internal.h"
#include "check.h"

#define BIT(k) BW_DRIVER_BIT(k)
#define IDE (BIT(BW_DRV_IDE_CHANNEL) | BIT(BW_DRV_IDE_CONTROLLER))
#define HV (BIT(BW_DRV_VMBUS) | BIT(BW_DRV_STORVSC) | BIT(BW_DRV_NETVSC))

static void test_decide(void)
{
	struct bw_hw_verdict v;
	/* What -OEMDrivers gives (the fixtures): IDE and E1000. */
	unsigned oem = IDE | BIT(BW_DRV_E1000);
	bw_hw_decide(oem, BW_HW_VIRTUALBOX, &v);
	CHECK(!strcmp(v.provider, "virtualbox") && !strcmp(v.disk_bus, "ide") && !strcmp(v.nic, "e1000"));
	CHECK(v.disk_ok && v.nic_ok && v.missing[0] == '\0' && v.generation == 0);
	bw_hw_decide(oem, BW_HW_LIBVIRT, &v);
	CHECK(!strcmp(v.disk_bus, "ide") && v.disk_ok && v.nic_ok);
	bw_hw_decide(oem, BW_HW_VMWARE_DESKTOP, &v);
	CHECK(!strcmp(v.provider, "vmware_desktop") && !strcmp(v.disk_bus, "ide") && v.disk_ok);
	/* Gen1 boots from IDE, but its NIC is synthetic. */
	bw_hw_decide(oem, BW_HW_HYPERV_GEN1, &v);
	CHECK(!strcmp(v.provider, "hyperv") && v.generation == 1 && !strcmp(v.disk_bus, "ide"));
	CHECK(v.disk_ok && !v.nic_ok && !strcmp(v.code, "drivers-missing-hyperv"));
	CHECK(strstr(v.missing, "netvsc") && !strstr(v.missing, "storvsc"));
	CHECK(strstr(v.fix, "-GuestDrivers") != NULL);
	bw_hw_decide(oem, BW_HW_HYPERV_GEN2, &v);
	CHECK(v.generation == 2 && !strcmp(v.disk_bus, "scsi") && !v.disk_ok && !v.nic_ok);
	CHECK(strstr(v.missing, "storvsc") && strstr(v.missing, "netvsc"));

	/* AHCI present: libvirt and VMware take SATA, VirtualBox stays IDE. */
	bw_hw_decide(oem | BIT(BW_DRV_AHCI), BW_HW_LIBVIRT, &v);
	CHECK(!strcmp(v.disk_bus, "sata") && v.disk_ok);
	bw_hw_decide(oem | BIT(BW_DRV_AHCI), BW_HW_VMWARE_DESKTOP, &v);
	CHECK(!strcmp(v.disk_bus, "sata") && v.disk_ok);
	bw_hw_decide(oem | BIT(BW_DRV_AHCI), BW_HW_VIRTUALBOX, &v);
	CHECK(!strcmp(v.disk_bus, "ide") && v.disk_ok);
	/* AHCI alone: SATA, and VirtualBox's IDE has no driver. */
	bw_hw_decide(BIT(BW_DRV_AHCI) | BIT(BW_DRV_E1000), BW_HW_LIBVIRT, &v);
	CHECK(!strcmp(v.disk_bus, "sata") && v.disk_ok && v.nic_ok);
	bw_hw_decide(BIT(BW_DRV_AHCI) | BIT(BW_DRV_E1000), BW_HW_VIRTUALBOX, &v);
	CHECK(!v.disk_ok && v.nic_ok && strstr(v.missing, "IDE") && strstr(v.fix, "-OEMDrivers"));
	CHECK(!strcmp(v.code, "drivers-missing-virtualbox"));
	/* Half of IDE is no IDE. */
	bw_hw_decide(BIT(BW_DRV_IDE_CONTROLLER) | BIT(BW_DRV_E1000), BW_HW_VIRTUALBOX, &v);
	CHECK(!v.disk_ok);
	bw_hw_decide(BIT(BW_DRV_IDE_CHANNEL) | BIT(BW_DRV_E1000), BW_HW_LIBVIRT, &v);
	CHECK(!v.disk_ok && !strcmp(v.disk_bus, "sata"));
	/* Nothing: SATA, both missing, the message names both. */
	bw_hw_decide(0, BW_HW_LIBVIRT, &v);
	CHECK(!strcmp(v.disk_bus, "sata") && !v.disk_ok && !v.nic_ok);
	CHECK(strstr(v.missing, "storahci") && strstr(v.missing, "; ") && strstr(v.missing, "E1G60"));
	CHECK(!strcmp(v.code, "drivers-missing-libvirt"));
	/* e1000e is not the E1000 the boxes declare. */
	bw_hw_decide(IDE | BIT(BW_DRV_E1000E), BW_HW_VIRTUALBOX, &v);
	CHECK(v.disk_ok && !v.nic_ok);

	/* Guest drivers only (-GuestDrivers): both generations run. */
	bw_hw_decide(HV, BW_HW_HYPERV_GEN1, &v);
	CHECK(v.disk_ok && v.nic_ok && v.missing[0] == '\0');
	bw_hw_decide(HV, BW_HW_HYPERV_GEN2, &v);
	CHECK(v.disk_ok && v.nic_ok);
	/* storvsc without vmbus has no bus to sit on. */
	bw_hw_decide(BIT(BW_DRV_STORVSC) | BIT(BW_DRV_NETVSC), BW_HW_HYPERV_GEN2, &v);
	CHECK(!v.disk_ok && !v.nic_ok);
	bw_hw_decide(HV, BW_HW_VIRTUALBOX, &v);
	CHECK(!v.disk_ok && !v.nic_ok);
	/* virtio drivers are reported, never chosen. */
	bw_hw_decide(BIT(BW_DRV_VIRTIO_BLK) | BIT(BW_DRV_VIRTIO_NET), BW_HW_LIBVIRT, &v);
	CHECK(!v.disk_ok && !v.nic_ok);

	bw_hw_decide(oem, (enum bw_hw_target)BW_HW_NTARGETS, &v);
	CHECK(v.provider == NULL);
	/* Every target has a provider name and a code of that name. */
	for (int t = 0; t < BW_HW_NTARGETS; t++) {
		bw_hw_decide(0, (enum bw_hw_target)t, &v);
		char code[64];
		snprintf(code, sizeof code, "drivers-missing-%s", v.provider ? v.provider : "?");
		CHECK(v.provider && v.code && !strcmp(v.code, code) && v.fix && v.missing[0]);
	}
}

struct rec {
	unsigned n;
	char code[64], msg[BW_ERROR_MSG_MAX];
};

static void rec_warn(void *opaque, const char *code, const char *msg)
{
	struct rec *r = opaque;
	r->n++;
	snprintf(r->code, sizeof r->code, "%s", code);
	snprintf(r->msg, sizeof r->msg, "%s", msg);
}

/* An edit result whose drivers are the table's, with SERVICES usable. */
static void drivers(struct bw_edit_result *e, const char *const *services)
{
	struct bw_system_facts f;
	struct bw_error err;
	memset(e, 0, sizeof *e);
	CHECK(bw_system_read("/nonexistent", "SYSTEM", &f, &err) != 0);  /* the empty table */
	memcpy(e->drivers, f.drivers, sizeof e->drivers);
	e->drivers_read = 1;
	for (; *services; services++)
		for (int i = 0; i < BW_NUM_DRIVERS; i++)
			if (!strcasecmp(e->drivers[i].service, *services)) {
				e->drivers[i].present = 1;
				e->drivers[i].start = e->drivers[i].boot ? 0 : 3;
				e->drivers[i].file = 1;
			}
}

static void test_choose(void)
{
	struct rec r;
	struct bw_job_hooks h = { .warn = rec_warn, .opaque = &r };
	struct job_work w;
	work_init(&w, &h);
	struct bw_edit_result e;
	struct bw_error err;
	enum bw_box_disk_bus bus;

	static const char *const oem[] = { "atapi", "intelide", "E1G60", NULL };
	drivers(&e, oem);
	memset(&r, 0, sizeof r);
	CHECK(job_choose_hardware(&e, BW_BOX_VIRTUALBOX, 0, 1, &w, "img.vhd", &bus, &err) == 0);
	CHECK(bus == BW_BOX_BUS_IDE && r.n == 0);
	CHECK(job_choose_hardware(&e, BW_BOX_LIBVIRT, 0, 1, &w, "img.vhd", &bus, &err) == 0);
	CHECK(bus == BW_BOX_BUS_IDE && r.n == 0);

	static const char *const ahci[] = { "atapi", "intelide", "storahci", "E1G60", NULL };
	drivers(&e, ahci);
	CHECK(job_choose_hardware(&e, BW_BOX_LIBVIRT, 0, 0, &w, "img.vhd", &bus, &err) == 0);
	CHECK(bus == BW_BOX_BUS_SATA && r.n == 0);
	/* The file looked for and missing: no AHCI. */
	for (int i = 0; i < BW_NUM_DRIVERS; i++)
		if (!strcmp(e.drivers[i].service, "storahci"))
			e.drivers[i].file = 0;
	CHECK(job_choose_hardware(&e, BW_BOX_LIBVIRT, 0, 0, &w, "img.vhd", &bus, &err) == 0);
	CHECK(bus == BW_BOX_BUS_IDE && r.n == 0);

	/* IDE disabled: VirtualBox warns (one warning, its code), libvirt
	 * falls back to SATA and warns; --strict refuses with the box named. */
	static const char *const none[] = { "E1G60", NULL };
	drivers(&e, none);
	CHECK(job_choose_hardware(&e, BW_BOX_VIRTUALBOX, 0, 0, &w, "img.vhd", &bus, &err) == 0);
	CHECK(r.n == 1 && !strcmp(r.code, "drivers-missing-virtualbox"));
	CHECK(strstr(r.msg, "img.vhd: the virtualbox box declares") == r.msg && strstr(r.msg, "-OEMDrivers"));
	CHECK(job_choose_hardware(&e, BW_BOX_LIBVIRT, 0, 0, &w, "img.vhd", &bus, &err) == 0);
	CHECK(r.n == 2 && !strcmp(r.code, "drivers-missing-libvirt") && bus == BW_BOX_BUS_SATA);
	CHECK(job_choose_hardware(&e, BW_BOX_VIRTUALBOX, 0, 1, &w, "img.vhd", &bus, &err) == BW_EUNSUPPORTED);
	CHECK(r.n == 2 && strstr(err.msg, "virtualbox box") && strstr(err.msg, "--strict"));

	/* Drivers not read (no SYSTEM): IDE, no word. */
	e.drivers_read = 0;
	CHECK(job_choose_hardware(&e, BW_BOX_VIRTUALBOX, 0, 1, &w, "img.vhd", &bus, &err) == 0);
	CHECK(bus == BW_BOX_BUS_IDE && r.n == 2);
	/* A provider this file does not know (by name): defaults, no word. */
	drivers(&e, none);
	CHECK(job_choose_hardware(&e, (enum bw_box_provider)99, 0, 1, &w, "img.vhd", &bus, &err) == 0);
	CHECK(bus == BW_BOX_BUS_IDE && r.n == 2);
	work_cleanup(&w);
}

int main(void)
{
	test_decide();
	test_choose();
	return check_done("test_hardware");
}

/*
 * The storage and network drivers a box's virtual hardware needs, by the
 * service name Windows registers them under (SYSTEM\ControlSet00N\
 * Services\<name>, names compared case-insensitively as Windows does),
 * and whether a driver found there can drive that hardware at boot.
 * DESIGN.md "Correctness rules", last bullet; which provider needs which
 * kind is job/hardware.c's.
 *
 * Sources for the names:
 * - Nano Server ("Deploy Nano Server", Windows Server 2016 docs): the
 *   -OEMDrivers switch adds Microsoft-NanoServer-OEM-Drivers-Package,
 *   "basic drivers for a variety of network adapters and storage
 *   controllers" (the set a Server Core installation has: the IDE, AHCI
 *   and Intel E1000 drivers below); -GuestDrivers (or -DeploymentType
 *   Guest) adds Microsoft-NanoServer-Guest-Package, the drivers for
 *   running as a Hyper-V virtual machine (vmbus, storvsc, netvsc).
 * - The inbox INFs of Windows 8 / Server 2012 and later: mshdc.inf
 *   (intelide, pciide, atapi), storahci.inf, wvmbus.inf, wstorvsc.inf,
 *   wnetvsc.inf, nete1g3e.inf (E1G60, file E1G6032E.sys on x86 and x64
 *   alike: seen loaded from \SystemRoot\system32\DRIVERS\E1G6032E.sys on
 *   64-bit kernels and on Windows 10 under QEMU's -device e1000).
 * - The virtio-win driver set (Fedora's virtio-win ISO): viostor,
 *   vioscsi, netkvm; no Windows ships them, so they are for information.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "win/win_internal.h"

/* The first four keep their places: inspect --json listed them first. */
const struct win_driver_def win_drivers[BW_NUM_DRIVERS] = {
	/* The ATA channel driver: the IDE controller driver enumerates its
	 * two channels and atapi.sys (an ataport miniport) drives them;
	 * without it an IDE disk has no driver.  Boot path. */
	{ "atapi", "IDE/ATAPI port driver", BW_DRV_IDE_CHANNEL, 1 },
	/* Intel PIIX3/PIIX4/ICH IDE controllers: VirtualBox's PIIX4 (its
	 * OVF's only disk controller here), QEMU's pc (i440FX) machine,
	 * Hyper-V Generation 1's emulated IDE, VMware's ide0. */
	{ "intelide", "Intel IDE controller (PIIX4)", BW_DRV_IDE_CONTROLLER, 1 },
	/* The generic PCI IDE controller driver, the same controllers when
	 * bound by the compatible ID (PCI\CC_0101). */
	{ "pciide", "PCI IDE controller", BW_DRV_IDE_CONTROLLER, 1 },
	/* Intel PRO/1000 MT (82540EM, VirtualBox's and QEMU's e1000;
	 * 82545EM, VMware's e1000): nete1g3e.inf.  PnP starts it on demand
	 * (Start 3 is normal). */
	{ "E1G60", "Intel PRO/1000 (E1000) NIC", BW_DRV_E1000, 0 },
	/* Microsoft's AHCI driver from Windows 8 / Server 2012 on: QEMU's q35
	 * SATA controller (ICH9), VMware's sata0, VirtualBox's SATA. */
	{ "storahci", "SATA AHCI controller", BW_DRV_AHCI, 1 },
	/* The AHCI driver of Windows Vista/7 and Server 2008 (R2). */
	{ "msahci", "SATA AHCI controller (Windows 7)", BW_DRV_AHCI, 1 },
	/* Hyper-V's VMBus: every synthetic device hangs off it, and on
	 * Generation 2 the boot disk too (a boot driver). */
	{ "vmbus", "Hyper-V VMBus", BW_DRV_VMBUS, 1 },
	/* Hyper-V's synthetic SCSI controller: Generation 2's only disk
	 * controller (Generation 1 boots from emulated IDE). */
	{ "storvsc", "Hyper-V synthetic storage", BW_DRV_STORVSC, 1 },
	/* Hyper-V's synthetic network adapter (the "Network Adapter" of
	 * both generations; only Generation 1 has a legacy one). */
	{ "netvsc", "Hyper-V synthetic NIC", BW_DRV_NETVSC, 0 },
	/* Intel 82574L (QEMU's and VMware's e1000e): e1i6*.inf. */
	{ "e1iexpress", "Intel 82574L (E1000e) NIC", BW_DRV_E1000E, 0 },
	/* virtio (for information: no box boxwright writes declares it). */
	{ "viostor", "virtio block (virtio-win)", BW_DRV_VIRTIO_BLK, 1 },
	{ "vioscsi", "virtio SCSI (virtio-win)", BW_DRV_VIRTIO_SCSI, 1 },
	{ "netkvm", "virtio network (virtio-win)", BW_DRV_VIRTIO_NET, 0 },
};

/* Windows' service control manager: Start 4 is SERVICE_DISABLED, 0
 * SERVICE_BOOT_START (loaded by winload with the kernel). */
#define DRIVER_START_BOOT 0
#define DRIVER_START_DISABLED 4

int bw_driver_usable(const struct bw_driver_state *d)
{
	if (!d->present || d->start < 0 || d->start == DRIVER_START_DISABLED)
		return 0;
	/* Windows 8 on keeps a boot driver's INF start type in Start and
	 * writes StartOverride\0 = 3 for the ones the machine it runs on
	 * does not use: that value wins. */
	if (d->boot && (d->start != DRIVER_START_BOOT ||
			(d->start_override >= 0 && d->start_override != DRIVER_START_BOOT)))
		return 0;
	return d->file != 0;
}

unsigned bw_driver_kinds(const struct bw_driver_state *d, size_t n)
{
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++)
		if (d[i].kind < BW_DRIVER_KINDS && bw_driver_usable(&d[i]))
			bits |= BW_DRIVER_BIT(d[i].kind);
	return bits;
}

const char *bw_driver_kind_name(enum bw_driver_kind k)
{
	static const char *const names[BW_DRIVER_KINDS] = {
		"ide-channel", "ide-controller", "e1000", "ahci", "vmbus", "storvsc",
		"netvsc", "e1000e", "virtio-blk", "virtio-scsi", "virtio-net",
	};
	return (unsigned)k < BW_DRIVER_KINDS ? names[k] : NULL;
}

/* Does P start with PREFIX, ASCII case-insensitively? */
static int has_prefix(const char *p, const char *prefix)
{
	return strncasecmp(p, prefix, strlen(prefix)) == 0;
}

int bw_driver_file_path(const struct bw_driver_state *d, char *out, size_t size)
{
	/* The system root is \Windows on the Windows volume, as everywhere
	 * in boxwright (SYSTEM_PATH). */
	static const char *const root_prefixes[] = { "\\SystemRoot\\", "%SystemRoot%\\" };
	const char *rel = NULL;
	char def[96];
	if (d->image_path_long)
		return BW_EINVAL;
	if (!d->image_path[0]) {
		snprintf(def, sizeof def, "System32\\drivers\\%s.sys", d->service);
		rel = def;
	}
	for (size_t i = 0; !rel && i < sizeof root_prefixes / sizeof *root_prefixes; i++)
		if (has_prefix(d->image_path, root_prefixes[i]))
			rel = d->image_path + strlen(root_prefixes[i]);
	/* A path without a root is relative to the system root (the form
	 * DISM writes: "System32\drivers\storahci.sys"); \??\C:\... and
	 * other absolute forms name a drive letter we cannot map. */
	if (!rel && d->image_path[0] != '\\' && d->image_path[0] != '%' &&
	    !strchr(d->image_path, ':'))
		rel = d->image_path;
	if (!rel || !*rel)
		return BW_EINVAL;
	int n = snprintf(out, size, "\\Windows\\%s", rel);
	return n < 0 || (size_t)n >= size ? BW_EINVAL : 0;
}

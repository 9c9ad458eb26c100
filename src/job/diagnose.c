/*
 * Diagnoses of the image model: what would stop the image booting (a
 * hidden-sectors field or a BCD device that does not match the partition
 * table, a dirty hive or volume, missing drivers...).  Pure: reads the
 * model, appends to its list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "job/job_internal.h"

static void diag(struct bw_image_model *m, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void diag(struct bw_image_model *m, const char *code, const char *fmt, ...)
{
	if (m->ndiag >= BW_IMAGE_MAX_DIAG)
		return;
	struct bw_image_diag *d = &m->diag[m->ndiag++];
	snprintf(d->code, sizeof d->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
}

static void diagnose_volumes(struct bw_image_model *m)
{
	for (int i = 0; i < m->nvols; i++) {
		const struct bw_image_volume *v = &m->vols[i];
		if (!v->is_ntfs || v->part == 0)
			continue;
		uint32_t start = (uint32_t)(v->offset / (m->has_gpt ? m->gpt.sector_size : 512));
		if (v->geo.hidden_sectors != start)
			diag(m, "hidden-sectors-mismatch",
			     "partition %d starts at sector %u but its NTFS boot sector says hidden sectors = %u: the boot code will not find BOOTMGR",
			     v->part, start, v->geo.hidden_sectors);
		else if (v->backup_present && v->backup_hidden != start)
			diag(m, "hidden-sectors-mismatch",
			     "partition %d starts at sector %u but its backup NTFS boot sector says hidden sectors = %u",
			     v->part, start, v->backup_hidden);
		if (v->st.dirty)
			diag(m, "volume-dirty",
			     "partition %d: the NTFS volume is marked dirty: Windows will run chkdsk at boot",
			     v->part);
		if (v->st.logfile == BW_NTFS_LOG_UNCLEAN)
			diag(m, "logfile-unclean",
			     "partition %d: $LogFile is not clean (not shut down cleanly): its $Bitmap cannot be trusted",
			     v->part);
		else if (v->st.logfile_major == 2)
			diag(m, "logfile-v2",
			     "partition %d: $LogFile version 2.0 (left by Windows fast startup or hibernation): ntfs-3g will not write to it; shut Windows down fully first",
			     v->part);
		if (v->hibernated == 1)
			diag(m, "volume-hibernated",
			     "partition %d: Windows is hibernated on it (hiberfil.sys): its $Bitmap cannot be trusted",
			     v->part);
	}
}

static void diagnose_hive(struct bw_image_model *m, const struct bw_image_hive *h,
			  const char *name, const char *code)
{
	if (!h->present)
		return;
	if (!h->header_ok) {
		diag(m, code, "%s hive: %s", name, h->error);
		return;
	}
	if (h->hdr.dirty) {
		if (h->hdr.checksum_stored != h->hdr.checksum_computed)
			diag(m, code,
			     "%s hive is dirty: base block checksum 0x%08x, expected 0x%08x; its transaction logs must be replayed (boot Windows once) before it is edited",
			     name, h->hdr.checksum_stored, h->hdr.checksum_computed);
		else
			diag(m, code,
			     "%s hive is dirty: sequence numbers %u and %u differ; its transaction logs must be replayed (boot Windows once) before it is edited",
			     name, h->hdr.seq_primary, h->hdr.seq_secondary);
	}
}

/* Is GUID the unique GUID of one of this GPT disk's partitions? */
static int gpt_has_part(const struct bw_image_model *m, const uint8_t guid[16])
{
	for (size_t i = 0; i < m->gpt.nparts; i++)
		if (!memcmp(m->gpt.part[i].unique_guid, guid, 16))
			return 1;
	return 0;
}

/* GPT disks: a device must name a partition of this disk by GUID. */
static void diagnose_bcd_gpt(struct bw_image_model *m)
{
	for (size_t i = 0; i < m->bcd->nobjects; i++) {
		const struct bw_bcd_object *o = &m->bcd->objects[i];
		for (size_t k = 0; k < o->ndevices; k++) {
			const struct bw_bcd_element *e = &o->devices[k];
			const struct bw_bcd_device *d = &e->dev;
			char want[39];
			if (d->kind == BW_BCD_DEV_PARTITION_MBR) {
				diag(m, "bcd-device-mismatch",
				     "BCD %s element %08x names an MBR partition, but this is a GPT disk",
				     o->guid, e->id);
			} else if (d->kind == BW_BCD_DEV_PARTITION_GPT && memcmp(d->disk_guid, m->gpt.disk_guid, 16)) {
				bw_guid_format(m->gpt.disk_guid, want);
				diag(m, "bcd-device-mismatch",
				     "BCD %s element %08x names another disk than this one (%s)",
				     o->guid, e->id, want);
			} else if (d->kind == BW_BCD_DEV_PARTITION_GPT && !gpt_has_part(m, d->part_guid)) {
				bw_guid_format(d->part_guid, want);
				diag(m, "bcd-device-mismatch",
				     "BCD %s element %08x names partition %s, which this disk does not have",
				     o->guid, e->id, want);
			}
		}
	}
}

static void diagnose_bcd(struct bw_image_model *m)
{
	if (m->bcd && m->has_gpt)
		diagnose_bcd_gpt(m);
	if (!m->bcd || !m->has_mbr)
		return;
	for (size_t i = 0; i < m->bcd->nobjects; i++) {
		const struct bw_bcd_object *o = &m->bcd->objects[i];
		for (size_t k = 0; k < o->ndevices; k++) {
			const struct bw_bcd_element *e = &o->devices[k];
			const struct bw_bcd_device *d = &e->dev;
			if (d->kind == BW_BCD_DEV_PARTITION_MBR) {
				if (d->disk_signature != m->mbr.signature)
					diag(m, "bcd-device-mismatch",
					     "BCD %s element %08x names disk signature 0x%08x, but this disk's is 0x%08x",
					     o->guid, e->id, d->disk_signature, m->mbr.signature);
				else if (!bw_image_part_at(m, d->part_offset))
					diag(m, "bcd-device-mismatch",
					     "BCD %s element %08x names the partition at byte offset %llu, but no partition starts there",
					     o->guid, e->id, (unsigned long long)d->part_offset);
			} else if (d->kind == BW_BCD_DEV_PARTITION_GPT) {
				diag(m, "bcd-device-mismatch",
				     "BCD %s element %08x names a GPT partition, but this is an MBR disk",
				     o->guid, e->id);
			} else if (d->kind == BW_BCD_DEV_UNKNOWN) {
				/* Kept byte-identical by build's fix-up: if it
				 * names the Windows partition, a moved one is
				 * not found at boot. */
				diag(m, "bcd-device-unknown",
				     "BCD %s element %08x is a device boxwright cannot decode (type 0x%x): build leaves it as it is, so if it names a partition that moves, Windows will not boot",
				     o->guid, e->id, d->type);
			}
		}
	}
}

static void diagnose_mounted(struct bw_image_model *m)
{
	if (!m->system_hive.loaded || !m->has_mbr || m->win_vol < 0)
		return;
	uint64_t win_off = m->vols[m->win_vol].offset;
	for (size_t i = 0; i < m->sys.nmounted; i++) {
		const struct bw_mounted_device *md = &m->sys.mounted[i];
		if (!md->is_mbr)
			continue;
		if (!strcasecmp(md->name, "\\DosDevices\\C:")) {
			if (md->disk_signature != m->mbr.signature || md->part_offset != win_off)
				diag(m, "mounted-devices-mismatch",
				     "MountedDevices %s = (signature 0x%08x, offset %llu), but Windows is on (0x%08x, %llu)",
				     md->name, md->disk_signature, (unsigned long long)md->part_offset,
				     m->mbr.signature, (unsigned long long)win_off);
		} else if (md->disk_signature == m->mbr.signature &&
			   !bw_image_part_at(m, md->part_offset)) {
			diag(m, "mounted-devices-mismatch",
			     "MountedDevices %s names offset %llu on this disk, where no partition starts",
			     md->name, (unsigned long long)md->part_offset);
		}
	}
}

static void diagnose_system(struct bw_image_model *m)
{
	const struct bw_system_facts *s = &m->sys;
	if (s->setup_in_progress == 0)
		diag(m, "setup-done",
		     "Windows setup has already completed on this image (SystemSetupInProgress = 0): a new SetupComplete.cmd will never run");
	int ide, nic;
	bw_win_vbox_drivers(s, &ide, &nic);
	if (!ide || !nic)
		diag(m, "drivers-missing",
		     "the image lacks the %s%s%s driver(s) of the VirtualBox hardware a box declares (build the image with -OEMDrivers)",
		     ide ? "" : "IDE controller", !ide && !nic ? " and " : "",
		     nic ? "" : "E1000 NIC");
}

void bw_image_diagnose(struct bw_image *im)
{
	struct bw_image_model *m = &im->m;
	m->ndiag = 0;
	diagnose_volumes(m);
	if (!m->probed)
		return;
	if (m->win_vol < 0) {
		diag(m, "no-windows", "no NTFS volume holds \\Windows\\System32\\config\\SYSTEM");
		return;
	}
	const struct bw_image_volume *w = &m->vols[m->win_vol];
	if (m->has_mbr) {
		int active = image_active_part(m);
		const struct bw_image_volume *av = NULL;
		for (int i = 0; i < m->nvols; i++)
			if (active && m->vols[i].part == active)
				av = &m->vols[i];
		if (active == 0)
			diag(m, "no-active-partition", "no partition is marked active: the BIOS MBR code has nothing to boot");
		else if (active != w->part && (!av || !av->has_bootmgr || !av->has_bcd))
			/* A "System Reserved" partition is fine when it
			 * holds what the boot code looks for. */
			diag(m, "active-not-bootable",
			     "the active partition is %d but it holds no \\bootmgr and \\Boot\\BCD, and Windows is on partition %d: nothing would boot",
			     active, w->part);
	}
	/* On GPT the boot manager is on the (FAT) EFI system partition. */
	if (m->has_gpt) {
		int esp = 0;
		for (int i = 0; i < m->nvols; i++)
			esp |= m->vols[i].gpt_kind == BW_GPT_KIND_ESP;
		if (!esp)
			diag(m, "esp-missing", "the GPT disk has no EFI system partition: UEFI firmware has nothing to boot");
		else if (m->boot_vol < 0 || !m->vols[m->boot_vol].has_bootmgr || !m->vols[m->boot_vol].has_bcd)
			diag(m, "esp-boot-files-missing",
			     "the EFI system partition lacks \\EFI\\Boot\\bootx64.efi or \\EFI\\Microsoft\\Boot\\BCD: UEFI firmware would not start Windows");
	} else if (m->boot_vol < 0 || !m->vols[m->boot_vol].has_bootmgr) {
		diag(m, "bootmgr-missing", "no volume holds both \\bootmgr and \\Boot\\BCD");
	}
	diagnose_hive(m, &m->system_hive, "SYSTEM", "system-hive-dirty");
	diagnose_hive(m, &m->software_hive, "SOFTWARE", "software-hive-dirty");
	diagnose_hive(m, &m->bcd_hive, "BCD", "bcd-hive-dirty");
	diagnose_bcd(m);
	diagnose_mounted(m);
	if (m->system_hive.loaded)
		diagnose_system(m);
}

/* inspect's text rendering of the image model, for people. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/inspect_fmt.h"

static const char *yesno(int v) { return v ? "yes" : "no"; }

static void opt_int(char *buf, size_t n, int v)
{
	if (v < 0)
		snprintf(buf, n, "absent");
	else
		snprintf(buf, n, "%d", v);
}

static void text_windows(const struct bw_image_model *in)
{
	const struct bw_image_volume *w = &in->vols[in->win_vol];
	printf("Windows (partition %d):\n", w->part);
	if (in->software_hive.loaded)
		printf("  Product:       %s (%s), build %s\n",
		       in->sw.product_name ? in->sw.product_name : "?",
		       in->sw.edition_id ? in->sw.edition_id : "?",
		       in->sw.current_build ? in->sw.current_build : "?");
	const struct bw_image_hive *hs[] = { &in->system_hive, &in->software_hive, &in->bcd_hive };
	const char *hn[] = { "SYSTEM", "SOFTWARE", "BCD" };
	for (int i = 0; i < 3; i++) {
		const struct bw_image_hive *h = hs[i];
		if (!h->present)
			printf("  Hive %-9s absent\n", hn[i]);
		else if (!h->header_ok)
			printf("  Hive %-9s unreadable: %s\n", hn[i], h->error);
		else
			printf("  Hive %-9s %s (sequence %u/%u, checksum %s%s)\n", hn[i],
			       h->hdr.dirty ? "DIRTY" : "clean", h->hdr.seq_primary,
			       h->hdr.seq_secondary,
			       h->hdr.checksum_stored == h->hdr.checksum_computed ? "ok" : "WRONG",
			       h->logs ? ", stale .LOG files beside it" : "");
	}
	char a[16], b[16], c[16], d[16];
	if (in->system_hive.loaded) {
		const struct bw_system_facts *s = &in->sys;
		printf("  Control set:   %s (Select\\Current = %u)\n", s->controlset_name,
		       s->current_controlset);
		printf("  Computer name: %s (Tcpip Hostname %s)\n",
		       s->computer_name ? s->computer_name : "absent",
		       s->hostname ? s->hostname : "absent");
		opt_int(a, sizeof a, s->setup_in_progress);
		opt_int(b, sizeof b, s->setup_type);
		opt_int(c, sizeof c, s->oobe_in_progress);
		printf("  Setup:         %s (SystemSetupInProgress %s, SetupType %s, OOBEInProgress %s, CmdLine \"%s\")\n",
		       s->setup_in_progress > 0 ? "pending" : "completed", a, b, c,
		       s->setup_cmdline ? s->setup_cmdline : "");
		char hw[37];
		int hr = bw_system_hardware_uuid(s, hw);
		if (hr == 0)
			printf("  Hardware:      booted before under %s (SMBIOS UUID %s)\n",
			       s->last_config, hw);
		else if (hr == BW_ENOTFOUND)
			printf("  Hardware:      never booted (no HardwareConfig\\LastConfig)\n");
		else
			printf("  Hardware:      HardwareConfig\\LastConfig %s, not a UUID to pin\n",
			       s->last_config[0] ? "names no subkey" : "is not a {GUID}");
		/* the drivers the image has (of the table's), how they start */
		printf("  Drivers:      ");
		int any = 0;
		for (int i = 0; i < BW_NUM_DRIVERS; i++) {
			const struct bw_driver_state *dr = &s->drivers[i];
			if (!dr->present)
				continue;
			opt_int(a, sizeof a, dr->start);
			opt_int(b, sizeof b, dr->start_override);
			/* why it cannot run, in bw_driver_usable's order */
			const char *why = bw_driver_usable(dr) ? "" :
				dr->start < 0 ? ", no Start: unusable" :
				dr->start == 4 ? ": disabled" :
				dr->boot && dr->start != 0 ? ": not a boot driver" :
				dr->boot && dr->start_override > 0 ? ": StartOverride demotes it" :
				dr->file == 0 ? ": file missing" : ": unusable";
			printf("%s %s (Start %s%s%s%s)", any++ ? "," : "", dr->service, a,
			       dr->start_override >= 0 ? ", StartOverride " : "",
			       dr->start_override >= 0 ? b : "", why);
		}
		printf("%s\n", any ? "" : " none of the storage and NIC drivers boxwright knows");
	}
	if (in->hw_known) {
		printf("  Boxes:         provider, disk bus, NIC: drivers in the image\n");
		for (int t = 0; t < BW_HW_NTARGETS; t++) {
			const struct bw_hw_verdict *v = &in->hw[t];
			char name[32];
			snprintf(name, sizeof name, "%s%s", v->provider,
				 v->generation == 1 ? " gen1" : v->generation == 2 ? " gen2" : "");
			printf("    %-15s %-4s %-6s %s%s%s%s\n", name, v->disk_bus, v->nic,
			       v->missing[0] ? "MISSING " : "ok", v->missing,
			       v->missing[0] ? ": " : "", v->missing[0] ? v->fix : "");
		}
	}
	printf("  Files:         SetupComplete.cmd %s, unattend.xml %s\n",
	       w->has_setupcomplete ? "present" : "absent",
	       w->has_unattend ? "present" : "absent");
	if (in->system_hive.loaded || in->software_hive.loaded) {
		opt_int(a, sizeof a, in->system_hive.loaded ? in->sys.winrm_start : -1);
		opt_int(b, sizeof b, in->software_hive.loaded ? in->sw.wsman_allow_unencrypted : -1);
		opt_int(c, sizeof c, in->software_hive.loaded ? in->sw.wsman_service_auth_basic : -1);
		opt_int(d, sizeof d, in->software_hive.loaded ? in->sw.wsman_client_auth_basic : -1);
		printf("  WinRM:         service Start %s, allow_unencrypted %s, auth_basic %s (client %s), firewall TCP 5985 %s\n",
		       a, b, c, d, in->system_hive.loaded ? yesno(in->sys.firewall_winrm_http) : "?");
	}
	if (in->system_hive.loaded && in->sys.nmounted) {
		printf("  MountedDevices:\n");
		for (size_t i = 0; i < in->sys.nmounted; i++) {
			const struct bw_mounted_device *m = &in->sys.mounted[i];
			if (m->is_mbr)
				printf("    %-50s MBR signature 0x%08x, offset %" PRIu64 "\n",
				       m->name, m->disk_signature, m->part_offset);
			else if (m->is_gpt) {
				char g[39];
				bw_guid_format(m->part_guid, g);
				printf("    %-50s GPT partition %s\n", m->name, g);
			} else
				printf("    %-50s %zu bytes\n", m->name, m->len);
		}
	}
}

static void text_bcd(const struct bw_image_model *in)
{
	printf("BCD (partition %d):\n", in->vols[in->boot_vol].part);
	for (size_t i = 0; i < in->bcd->nobjects; i++) {
		const struct bw_bcd_object *o = &in->bcd->objects[i];
		printf("  %s  %s (0x%08x)%s%s%s\n", o->guid, bcd_type_name(o->type), o->type,
		       o->description ? " \"" : "", o->description ? o->description : "",
		       o->description ? "\"" : "");
		for (size_t k = 0; k < o->ndevices; k++) {
			const struct bw_bcd_element *e = &o->devices[k];
			const char *n = bcd_element_name(e->id, o->type);
			printf("    %08x %-11s %s", e->id, n ? n : "", dev_kind_name(e->dev.kind));
			if (e->dev.kind == BW_BCD_DEV_PARTITION_MBR)
				printf(": signature 0x%08x, offset %" PRIu64, e->dev.disk_signature,
				       e->dev.part_offset);
			else if (e->dev.kind == BW_BCD_DEV_HARDDISK_MBR)
				printf(": signature 0x%08x", e->dev.disk_signature);
			else if (e->dev.kind == BW_BCD_DEV_HARDDISK_GPT) {
				char g[39];
				bw_guid_format(e->dev.disk_guid, g);
				printf(": disk %s", g);
			} else if (e->dev.kind == BW_BCD_DEV_REMOVABLE ||
				   e->dev.kind == BW_BCD_DEV_CDROM)
				printf(": drive %u", e->dev.drive_number);
			else if (e->dev.kind == BW_BCD_DEV_RAMDISK ||
				 e->dev.kind == BW_BCD_DEV_FILE ||
				 e->dev.kind == BW_BCD_DEV_VHD) {
				const struct bw_bcd_parent *pa = &e->dev.parent;
				printf(": [%s", dev_kind_name(pa->kind));
				if (pa->kind == BW_BCD_DEV_PARTITION_MBR)
					printf(" 0x%08x/%" PRIu64, pa->disk_signature, pa->part_offset);
				printf("]%s", e->dev.path);
				static const uint8_t zero[16];
				if (memcmp(e->dev.options_guid, zero, 16)) {
					char g[39];
					bw_guid_format(e->dev.options_guid, g);
					printf(", options %s", g);
				}
			} else if (e->dev.kind == BW_BCD_DEV_UNKNOWN || e->dev.kind == BW_BCD_DEV_DISK) {
				char raw[2 * 96 + 1];
				hex_string(e->raw, e->raw_len < 96 ? e->raw_len : 96, raw, sizeof raw);
				printf(" (type %u, %zu bytes, left as is: %s%s)", e->dev.type, e->raw_len,
				       raw, e->raw_len > 96 ? "..." : "");
			}
			printf("\n");
		}
	}
}

void inspect_print_text(const struct bw_image_model *in)
{
	char s1[32], s2[32];
	human_size(in->size, s1, sizeof s1);
	human_size(in->info.allocated, s2, sizeof s2);
	printf("Image:    %s\n", in->file);
	printf("Format:   %s", in->format);
	if (in->info.creator[0])
		printf(" (creator \"%s\", %u-byte blocks)", in->info.creator, in->info.block_size);
	printf(", virtual size %" PRIu64 " bytes (%s), %s allocated\n",
	       in->size, s1, s2);
	if (in->has_mbr) {
		printf("Partitions: MBR, disk signature 0x%08x\n", in->mbr.signature);
		for (int i = 0; i < 4; i++) {
			const struct bw_mbr_entry *e = &in->mbr.part[i];
			if (!e->type)
				continue;
			human_size((uint64_t)e->sectors * 512, s1, sizeof s1);
			printf("  #%d %-6s type 0x%02x  start %u  sectors %u  (offset %" PRIu64 ", %s)\n",
			       i + 1, e->status == 0x80 ? "active" : "", e->type, e->lba_start,
			       e->sectors, (uint64_t)e->lba_start * 512, s1);
		}
	} else if (in->has_gpt) {
		char g[39], t[39];
		bw_guid_format(in->gpt.disk_guid, g);
		printf("Partitions: GPT, disk GUID %s, %u-byte sectors%s\n", g, in->gpt.sector_size,
		       in->gpt.flags & BW_GPT_FROM_BACKUP ? " (read from the backup: the primary is damaged)" : "");
		for (size_t i = 0; i < in->gpt.nparts; i++) {
			const struct bw_gpt_part *p = &in->gpt.part[i];
			uint64_t n = p->last_lba - p->first_lba + 1;
			human_size(n * in->gpt.sector_size, s1, sizeof s1);
			bw_guid_format(p->type_guid, t);
			bw_guid_format(p->unique_guid, g);
			printf("  #%u %-10s type %s  start %" PRIu64 "  sectors %" PRIu64 "  (offset %" PRIu64 ", %s)  %s \"%s\"\n",
			       p->index + 1, gpt_kind_name(bw_gpt_classify(p->type_guid)), t, p->first_lba,
			       n, p->first_lba * in->gpt.sector_size, s1, g, p->name);
		}
	} else if (!in->nvols) {
		printf("Partitions: none (no MBR)\n");
	}
	for (int i = 0; i < in->nvols; i++) {
		const struct bw_image_volume *v = &in->vols[i];
		if (!v->is_ntfs)
			continue;
		human_size(v->st.used_clusters * v->geo.cluster_size, s1, sizeof s1);
		human_size(v->st.free_clusters * v->geo.cluster_size, s2, sizeof s2);
		printf("Volume %d: NTFS %u.%u \"%s\", %u-byte clusters, hidden sectors %u",
		       v->part, v->st.major, v->st.minor, v->st.label, v->geo.cluster_size,
		       v->geo.hidden_sectors);
		if (v->backup_present)
			printf(" (backup %u)", v->backup_hidden);
		printf(", %s used, %s free\n", s1, s2);
		printf("  state: %s, $LogFile %s, hibernated %s\n", v->st.dirty ? "DIRTY" : "clean",
		       logfile_name(v->st.logfile),
		       v->hibernated < 0 ? "?" : yesno(v->hibernated));
		if (in->probed)
			printf("  holds: Windows %s, bootmgr %s, BCD %s\n", yesno(v->has_windows),
			       yesno(v->has_bootmgr), yesno(v->has_bcd));
	}
	if (in->probed && in->win_vol >= 0)
		text_windows(in);
	if (in->probed && in->bcd)
		text_bcd(in);
	if (in->ndiag == 0) {
		printf("Diagnoses: none\n");
	} else {
		printf("Diagnoses:\n");
		for (int i = 0; i < in->ndiag; i++)
			printf("  %s: %s\n", in->diag[i].code, in->diag[i].msg);
	}
}

/* inspect --json: the image model as one JSON object on stdout. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/inspect_fmt.h"
#include "cli/json.h"

static void json_vol(struct json *j, const struct bw_image_model *in, const struct bw_image_volume *v)
{
	json_obj_begin(j);
	json_key(j, "partition");
	if (v->part)
		json_i64(j, v->part);
	else
		json_null(j);
	json_ku64(j, "offset", v->offset);
	json_ku64(j, "size", v->size);
	json_kstr(j, "filesystem", v->is_ntfs ? "ntfs" : NULL);
	if (v->is_ntfs) {
		const struct bw_ntfs_geometry *g = &v->geo;
		char ver[16];
		snprintf(ver, sizeof ver, "%u.%u", v->st.major, v->st.minor);
		json_key(j, "ntfs");
		json_obj_begin(j);
		json_kstr(j, "version", ver);
		json_kstr(j, "label", v->st.label);
		json_ku64(j, "bytes_per_sector", g->bytes_per_sector);
		json_ku64(j, "cluster_size", g->cluster_size);
		json_ku64(j, "hidden_sectors", g->hidden_sectors);
		json_key(j, "backup_hidden_sectors");
		if (v->backup_present)
			json_u64(j, v->backup_hidden);
		else
			json_null(j);
		json_ku64(j, "total_sectors", g->total_sectors);
		json_ku64(j, "total_clusters", g->total_clusters);
		json_ku64(j, "used_bytes", v->st.used_clusters * g->cluster_size);
		json_ku64(j, "free_bytes", v->st.free_clusters * g->cluster_size);
		json_ku64(j, "volume_flags", v->st.volume_flags);
		json_kbool(j, "dirty", v->st.dirty);
		json_kstr(j, "logfile", logfile_name(v->st.logfile));
		json_key(j, "hibernated");
		if (v->hibernated < 0)
			json_null(j);
		else
			json_bool(j, v->hibernated);
		json_obj_end(j);
		if (in->probed) {
			json_kbool(j, "has_windows", v->has_windows);
			json_kbool(j, "has_bootmgr", v->has_bootmgr);
			json_kbool(j, "has_bcd", v->has_bcd);
		}
	}
	json_obj_end(j);
}

static void json_hive(struct json *j, const char *k, const struct bw_image_hive *h)
{
	json_key(j, k);
	if (!h->present) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_kbool(j, "header_ok", h->header_ok);
	if (h->header_ok) {
		json_kbool(j, "dirty", h->hdr.dirty);
		json_ku64(j, "seq_primary", h->hdr.seq_primary);
		json_ku64(j, "seq_secondary", h->hdr.seq_secondary);
		json_kbool(j, "checksum_ok", h->hdr.checksum_stored == h->hdr.checksum_computed);
	}
	json_ku64(j, "log_files", (uint64_t)h->logs);
	if (h->error[0])
		json_kstr(j, "error", h->error);
	json_obj_end(j);
}

static void json_windows(struct json *j, const struct bw_image_model *in)
{
	json_key(j, "windows");
	if (in->win_vol < 0) {
		json_null(j);
		return;
	}
	const struct bw_image_volume *w = &in->vols[in->win_vol];
	json_obj_begin(j);
	json_ki64(j, "partition", w->part);
	json_key(j, "hives");
	json_obj_begin(j);
	json_hive(j, "SYSTEM", &in->system_hive);
	json_hive(j, "SOFTWARE", &in->software_hive);
	json_hive(j, "BCD", &in->bcd_hive);
	json_obj_end(j);
	if (in->software_hive.loaded) {
		json_kstr(j, "product_name", in->sw.product_name);
		json_kstr(j, "current_build", in->sw.current_build);
		json_kstr(j, "edition_id", in->sw.edition_id);
	}
	json_kbool(j, "setup_complete_cmd", w->has_setupcomplete);
	json_kbool(j, "unattend_xml", w->has_unattend);
	if (in->system_hive.loaded) {
		const struct bw_system_facts *s = &in->sys;
		json_kstr(j, "controlset", s->controlset_name);
		json_ku64(j, "select_current", s->current_controlset);
		json_kstr(j, "computer_name", s->computer_name);
		json_kstr(j, "hostname", s->hostname);
		json_key(j, "setup");
		json_obj_begin(j);
		json_kopt(j, "system_setup_in_progress", s->setup_in_progress);
		json_kopt(j, "setup_type", s->setup_type);
		json_kopt(j, "oobe_in_progress", s->oobe_in_progress);
		json_kstr(j, "cmdline", s->setup_cmdline);
		json_kbool(j, "pending", s->setup_in_progress > 0);
		json_obj_end(j);
		char hw[37];
		json_kstr(j, "hardware_uuid", bw_system_hardware_uuid(s, hw) == 0 ? hw : NULL);
		json_key(j, "drivers");
		json_arr_begin(j);
		for (int i = 0; i < BW_NUM_DRIVERS; i++) {
			json_obj_begin(j);
			json_kstr(j, "service", s->drivers[i].service);
			json_kstr(j, "what", s->drivers[i].what);
			json_kbool(j, "present", s->drivers[i].present);
			json_kopt(j, "start", s->drivers[i].start);
			const struct bw_driver_state *d = &s->drivers[i];
			json_kstr(j, "kind", bw_driver_kind_name(d->kind));
			json_kbool(j, "boot", d->boot);
			json_kopt(j, "start_override", d->start_override);
			json_kstr(j, "image_path", d->present && d->image_path[0] ? d->image_path : NULL);
			json_key(j, "file");
			if (d->file < 0)
				json_null(j);
			else
				json_bool(j, d->file);
			json_kbool(j, "usable", bw_driver_usable(d));
			json_obj_end(j);
		}
		json_arr_end(j);
	}
	if (in->hw_known) {
		/* per provider: the box's disk bus and NIC, and whether the
		 * image has drivers for them */
		json_key(j, "hardware");
		json_arr_begin(j);
		for (int t = 0; t < BW_HW_NTARGETS; t++) {
			const struct bw_hw_verdict *v = &in->hw[t];
			json_obj_begin(j);
			json_kstr(j, "provider", v->provider);
			json_key(j, "generation");
			if (v->generation)
				json_i64(j, v->generation);
			else
				json_null(j);
			json_kstr(j, "disk_bus", v->disk_bus);
			json_kstr(j, "nic", v->nic);
			json_kbool(j, "disk_ok", v->disk_ok);
			json_kbool(j, "nic_ok", v->nic_ok);
			json_kstr(j, "missing", v->missing[0] ? v->missing : NULL);
			json_kstr(j, "fix", v->missing[0] ? v->fix : NULL);
			json_obj_end(j);
		}
		json_arr_end(j);
	}
	if (in->system_hive.loaded) {
		const struct bw_system_facts *s = &in->sys;
		json_key(j, "mounted_devices");
		json_arr_begin(j);
		for (size_t i = 0; i < s->nmounted; i++) {
			const struct bw_mounted_device *m = &s->mounted[i];
			json_obj_begin(j);
			json_kstr(j, "name", m->name);
			if (m->is_mbr) {
				json_kstr(j, "kind", "mbr");
				json_khex32(j, "disk_signature", m->disk_signature);
				json_ku64(j, "offset", m->part_offset);
				json_key(j, "partition");
				int p = m->disk_signature == in->mbr.signature ? bw_image_part_at(in, m->part_offset) : 0;
				if (p)
					json_i64(j, p);
				else
					json_null(j);
			} else if (m->is_gpt) {
				char g[39];
				bw_guid_format(m->part_guid, g);
				json_kstr(j, "kind", "gpt");
				json_kstr(j, "partition_guid", g);
			} else {
				json_kstr(j, "kind", "other");
				json_ku64(j, "length", m->len);
			}
			json_obj_end(j);
		}
		json_arr_end(j);
	}
	json_key(j, "winrm");
	json_obj_begin(j);
	if (in->system_hive.loaded) {
		json_kopt(j, "service_start", in->sys.winrm_start);
		json_kbool(j, "firewall_5985", in->sys.firewall_winrm_http);
	}
	if (in->software_hive.loaded) {
		json_kopt(j, "allow_unencrypted", in->sw.wsman_allow_unencrypted);
		json_kopt(j, "service_auth_basic", in->sw.wsman_service_auth_basic);
		json_kopt(j, "client_auth_basic", in->sw.wsman_client_auth_basic);
	}
	json_kbool(j, "ready_for_vagrant",
		   in->system_hive.loaded && in->software_hive.loaded &&
		   in->sys.winrm_start == 2 && in->sys.firewall_winrm_http &&
		   in->sw.wsman_allow_unencrypted == 1 &&
		   in->sw.wsman_service_auth_basic == 1);
	json_obj_end(j);
	json_obj_end(j);
}

static void json_device(struct json *j, const struct bw_image_model *in,
			const struct bw_bcd_object *o, const struct bw_bcd_element *e)
{
	char buf[16];
	json_obj_begin(j);
	snprintf(buf, sizeof buf, "%08" PRIx32, e->id);
	json_kstr(j, "element", buf);
	json_kstr(j, "name", bcd_element_name(e->id, o->type));
	json_kstr(j, "kind", dev_kind_name(e->dev.kind));
	json_ku64(j, "type", e->dev.type);
	if (e->dev.kind == BW_BCD_DEV_PARTITION_MBR) {
		json_khex32(j, "disk_signature", e->dev.disk_signature);
		json_ku64(j, "offset", e->dev.part_offset);
		int p = e->dev.disk_signature == in->mbr.signature
			? bw_image_part_at(in, e->dev.part_offset) : 0;
		json_key(j, "partition");
		if (p)
			json_i64(j, p);
		else
			json_null(j);
	} else if (e->dev.kind == BW_BCD_DEV_PARTITION_GPT) {
		char g[39];
		bw_guid_format(e->dev.part_guid, g);
		json_kstr(j, "partition_guid", g);
		bw_guid_format(e->dev.disk_guid, g);
		json_kstr(j, "disk_guid", g);
	} else if (e->dev.kind == BW_BCD_DEV_HARDDISK_MBR) {
		json_khex32(j, "disk_signature", e->dev.disk_signature);
	} else if (e->dev.kind == BW_BCD_DEV_HARDDISK_GPT) {
		char g[39];
		bw_guid_format(e->dev.disk_guid, g);
		json_kstr(j, "disk_guid", g);
	} else if (e->dev.kind == BW_BCD_DEV_REMOVABLE || e->dev.kind == BW_BCD_DEV_CDROM) {
		json_ku64(j, "drive_number", e->dev.drive_number);
	} else if (e->dev.kind == BW_BCD_DEV_RAMDISK || e->dev.kind == BW_BCD_DEV_FILE ||
		   e->dev.kind == BW_BCD_DEV_VHD) {
		const struct bw_bcd_parent *pa = &e->dev.parent;
		char g[39];
		static const uint8_t zero[16];
		json_kstr(j, "path", e->dev.path);
		json_key(j, "parent");
		json_obj_begin(j);
		json_kstr(j, "kind", dev_kind_name(pa->kind));
		if (pa->kind == BW_BCD_DEV_PARTITION_MBR) {
			json_khex32(j, "disk_signature", pa->disk_signature);
			json_ku64(j, "offset", pa->part_offset);
		} else if (pa->kind == BW_BCD_DEV_PARTITION_GPT) {
			bw_guid_format(pa->part_guid, g);
			json_kstr(j, "partition_guid", g);
			bw_guid_format(pa->disk_guid, g);
			json_kstr(j, "disk_guid", g);
		}
		json_obj_end(j);
		bw_guid_format(e->dev.options_guid, g);
		json_kstr(j, "options", memcmp(e->dev.options_guid, zero, 16) ? g : NULL);
	}
	if (e->dev.kind == BW_BCD_DEV_UNKNOWN || e->dev.kind == BW_BCD_DEV_DISK) {
		char raw[2 * 256 + 1];
		hex_string(e->raw, e->raw_len < 256 ? e->raw_len : 256, raw, sizeof raw);
		json_kstr(j, "raw", raw);
	}
	json_obj_end(j);
}

static void json_bcd(struct json *j, const struct bw_image_model *in)
{
	json_key(j, "bcd");
	if (!in->bcd) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_ki64(j, "partition", in->vols[in->boot_vol].part);
	json_key(j, "objects");
	json_arr_begin(j);
	for (size_t i = 0; i < in->bcd->nobjects; i++) {
		const struct bw_bcd_object *o = &in->bcd->objects[i];
		json_obj_begin(j);
		json_kstr(j, "guid", o->guid);
		json_khex32(j, "type", o->type);
		json_kstr(j, "type_name", bcd_type_name(o->type));
		json_kstr(j, "description", o->description);
		json_key(j, "devices");
		json_arr_begin(j);
		for (size_t k = 0; k < o->ndevices; k++)
			json_device(j, in, o, &o->devices[k]);
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void json_gpt(struct json *j, const struct bw_gpt *gpt)
{
	char g[39];
	json_obj_begin(j);
	json_kstr(j, "type", "gpt");
	bw_guid_format(gpt->disk_guid, g);
	json_kstr(j, "disk_guid", g);
	json_ku64(j, "sector_size", gpt->sector_size);
	json_ku64(j, "first_usable_lba", gpt->first_usable);
	json_ku64(j, "last_usable_lba", gpt->last_usable);
	json_kbool(j, "from_backup", (gpt->flags & BW_GPT_FROM_BACKUP) != 0);
	json_key(j, "partitions");
	json_arr_begin(j);
	for (size_t i = 0; i < gpt->nparts; i++) {
		const struct bw_gpt_part *p = &gpt->part[i];
		json_obj_begin(j);
		json_ki64(j, "index", (int64_t)p->index + 1);
		json_kstr(j, "kind", gpt_kind_name(bw_gpt_classify(p->type_guid)));
		bw_guid_format(p->type_guid, g);
		json_kstr(j, "type_guid", g);
		bw_guid_format(p->unique_guid, g);
		json_kstr(j, "unique_guid", g);
		json_ku64(j, "first_lba", p->first_lba);
		json_ku64(j, "last_lba", p->last_lba);
		json_ku64(j, "start_lba", p->first_lba);
		json_ku64(j, "sectors", p->last_lba - p->first_lba + 1);
		json_ku64(j, "offset", p->first_lba * gpt->sector_size);
		char attr[24];
		snprintf(attr, sizeof attr, "0x%016" PRIx64, p->attributes);
		json_kstr(j, "attributes", attr);
		json_kstr(j, "name", p->name);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

void inspect_print_json(const struct bw_image_model *in)
{
	struct json jj, *j = &jj;
	json_init(j, stdout);
	json_obj_begin(j);
	json_kstr(j, "file", in->file);
	json_kstr(j, "format", in->format);
	json_ku64(j, "virtual_size", in->size);
	json_ku64(j, "allocated_bytes", in->info.allocated);
	if (in->info.creator[0]) {
		json_key(j, "vhd");
		json_obj_begin(j);
		json_kstr(j, "creator", in->info.creator);
		json_ku64(j, "block_size", in->info.block_size);
		json_key(j, "geometry");
		json_arr_begin(j);
		json_u64(j, in->info.cylinders);
		json_u64(j, in->info.heads);
		json_u64(j, in->info.sectors_per_track);
		json_arr_end(j);
		json_obj_end(j);
	}
	json_key(j, "partition_table");
	if (in->has_mbr) {
		json_obj_begin(j);
		json_kstr(j, "type", "mbr");
		json_khex32(j, "disk_signature", in->mbr.signature);
		json_key(j, "partitions");
		json_arr_begin(j);
		for (int i = 0; i < 4; i++) {
			const struct bw_mbr_entry *e = &in->mbr.part[i];
			if (!e->type)
				continue;
			json_obj_begin(j);
			json_ki64(j, "index", i + 1);
			json_kbool(j, "active", e->status == 0x80);
			json_ku64(j, "type", e->type);
			json_ku64(j, "start_lba", e->lba_start);
			json_ku64(j, "sectors", e->sectors);
			json_ku64(j, "offset", (uint64_t)e->lba_start * 512);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	} else if (in->has_gpt) {
		json_gpt(j, &in->gpt);
	} else {
		json_null(j);
	}
	json_key(j, "volumes");
	json_arr_begin(j);
	for (int i = 0; i < in->nvols; i++)
		json_vol(j, in, &in->vols[i]);
	json_arr_end(j);
	json_kbool(j, "guest_inspected", in->probed);
	if (in->probed) {
		json_windows(j, in);
		json_bcd(j, in);
	}
	json_key(j, "diagnoses");
	json_arr_begin(j);
	for (int i = 0; i < in->ndiag; i++) {
		json_obj_begin(j);
		json_kstr(j, "code", in->diag[i].code);
		json_kstr(j, "message", in->diag[i].msg);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

/* ---- text ------------------------------------------------------------ */

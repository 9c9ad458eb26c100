/* inspect's two renderings of the same facts: text for people, JSON for machines. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/inspect.h"
#include "cli/json.h"

/* BCD object type (ReactOS bcd.h / Geoff Chappell's BCD notes): the top
 * nibble is the object kind, bits 20-23 the image or inherit class, the
 * low 20 bits the application type. */
static const char *bcd_type_name(uint32_t t)
{
	switch (t) {
	case 0x10100002: return "Windows Boot Manager";
	case 0x10200003: return "Windows Boot Loader";
	case 0x10200004: return "Windows Resume Application";
	case 0x10200005: return "Windows Memory Tester";
	case 0x10300006: return "legacy loader (ntldr)";
	case 0x10400008: return "boot sector";
	}
	switch (t >> 28) {
	case 1: return "application settings";
	case 2: return "inherited settings";
	case 3: return "device options";
	}
	return "unknown";
}

static const char *bcd_element_name(uint32_t id, uint32_t objtype)
{
	switch (id) {
	case 0x11000001: return "device";
	case 0x21000001: return objtype == 0x10200004 ? "filedevice" : "osdevice";
	case 0x31000003: return "ramdisksdidevice";
	}
	return NULL;
}

static const char *dev_kind_name(enum bw_bcd_dev_kind k)
{
	switch (k) {
	case BW_BCD_DEV_PARTITION_MBR: return "partition-mbr";
	case BW_BCD_DEV_PARTITION_GPT: return "partition-gpt";
	case BW_BCD_DEV_BOOT:          return "boot";
	case BW_BCD_DEV_LOCATE:        return "locate";
	case BW_BCD_DEV_DISK:          return "disk";
	case BW_BCD_DEV_RAMDISK:       return "ramdisk";
	case BW_BCD_DEV_UNKNOWN:       break;
	}
	return "unknown";
}

static void hex_string(const uint8_t *p, size_t n, char *out, size_t outn)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 3 <= outn; i++)
		k += (size_t)snprintf(out + k, outn - k, "%02x", p[i]);
	if (outn)
		out[k < outn ? k : outn - 1] = '\0';
}

static const char *logfile_name(enum bw_ntfs_logfile l)
{
	return l == BW_NTFS_LOG_CLEAN ? "clean" : l == BW_NTFS_LOG_UNCLEAN ? "unclean" : "unknown";
}

static void human_size(uint64_t b, char *out, size_t n)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

/* ---- JSON ------------------------------------------------------------ */

static void json_vol(struct json *j, const struct inspect *in, const struct inspect_vol *v)
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
		if (in->guest_done) {
			json_kbool(j, "has_windows", v->has_windows);
			json_kbool(j, "has_bootmgr", v->has_bootmgr);
			json_kbool(j, "has_bcd", v->has_bcd);
		}
	}
	json_obj_end(j);
}

static void json_hive(struct json *j, const char *k, const struct inspect_hive *h)
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

static void json_windows(struct json *j, const struct inspect *in)
{
	json_key(j, "windows");
	if (in->win_vol < 0) {
		json_null(j);
		return;
	}
	const struct inspect_vol *w = &in->vols[in->win_vol];
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
		json_key(j, "drivers");
		json_arr_begin(j);
		for (int i = 0; i < BW_NUM_DRIVERS; i++) {
			json_obj_begin(j);
			json_kstr(j, "service", s->drivers[i].service);
			json_kstr(j, "what", s->drivers[i].what);
			json_kbool(j, "present", s->drivers[i].present);
			json_kopt(j, "start", s->drivers[i].start);
			json_obj_end(j);
		}
		json_arr_end(j);
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
				int p = m->disk_signature == in->mbr.signature ? inspect_part_at(in, m->part_offset) : 0;
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

static void json_device(struct json *j, const struct inspect *in,
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
			? inspect_part_at(in, e->dev.part_offset) : 0;
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
	} else if (e->dev.kind == BW_BCD_DEV_UNKNOWN) {
		char raw[2 * 256 + 1];
		hex_string(e->raw, e->raw_len < 256 ? e->raw_len : 256, raw, sizeof raw);
		json_kstr(j, "raw", raw);
	}
	json_obj_end(j);
}

static void json_bcd(struct json *j, const struct inspect *in)
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

void inspect_print_json(const struct inspect *in)
{
	struct json jj, *j = &jj;
	json_init(j, stdout);
	json_obj_begin(j);
	json_kstr(j, "file", in->file);
	json_kstr(j, "format", bw_disk_format(in->disk));
	json_ku64(j, "virtual_size", bw_disk_size(in->disk));
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
	} else {
		json_null(j);
	}
	json_key(j, "volumes");
	json_arr_begin(j);
	for (int i = 0; i < in->nvols; i++)
		json_vol(j, in, &in->vols[i]);
	json_arr_end(j);
	json_kbool(j, "guest_inspected", in->guest_done);
	if (in->guest_done) {
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

static const char *yesno(int v) { return v ? "yes" : "no"; }

static void opt_int(char *buf, size_t n, int v)
{
	if (v < 0)
		snprintf(buf, n, "absent");
	else
		snprintf(buf, n, "%d", v);
}

static void text_windows(const struct inspect *in)
{
	const struct inspect_vol *w = &in->vols[in->win_vol];
	printf("Windows (partition %d):\n", w->part);
	if (in->software_hive.loaded)
		printf("  Product:       %s (%s), build %s\n",
		       in->sw.product_name ? in->sw.product_name : "?",
		       in->sw.edition_id ? in->sw.edition_id : "?",
		       in->sw.current_build ? in->sw.current_build : "?");
	const struct inspect_hive *hs[] = { &in->system_hive, &in->software_hive, &in->bcd_hive };
	const char *hn[] = { "SYSTEM", "SOFTWARE", "BCD" };
	for (int i = 0; i < 3; i++) {
		const struct inspect_hive *h = hs[i];
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
		printf("  Drivers:      ");
		for (int i = 0; i < BW_NUM_DRIVERS; i++)
			printf(" %s %s%s", s->drivers[i].service, yesno(s->drivers[i].present),
			       i + 1 < BW_NUM_DRIVERS ? "," : "\n");
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

static void text_bcd(const struct inspect *in)
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
			else if (e->dev.kind == BW_BCD_DEV_UNKNOWN)
				printf(" (type %u, %zu bytes, left as is)", e->dev.type, e->raw_len);
			printf("\n");
		}
	}
}

void inspect_print_text(const struct inspect *in)
{
	char s1[32], s2[32];
	human_size(bw_disk_size(in->disk), s1, sizeof s1);
	human_size(in->info.allocated, s2, sizeof s2);
	printf("Image:    %s\n", in->file);
	printf("Format:   %s", bw_disk_format(in->disk));
	if (in->info.creator[0])
		printf(" (creator \"%s\", %u-byte blocks)", in->info.creator, in->info.block_size);
	printf(", virtual size %" PRIu64 " bytes (%s), %s allocated\n",
	       bw_disk_size(in->disk), s1, s2);
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
	} else if (!in->nvols) {
		printf("Partitions: none (no MBR)\n");
	}
	for (int i = 0; i < in->nvols; i++) {
		const struct inspect_vol *v = &in->vols[i];
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
		if (in->guest_done)
			printf("  holds: Windows %s, bootmgr %s, BCD %s\n", yesno(v->has_windows),
			       yesno(v->has_bootmgr), yesno(v->has_bcd));
	}
	if (in->guest_done && in->win_vol >= 0)
		text_windows(in);
	if (in->guest_done && in->bcd)
		text_bcd(in);
	if (in->ndiag == 0) {
		printf("Diagnoses: none\n");
	} else {
		printf("Diagnoses:\n");
		for (int i = 0; i < in->ndiag; i++)
			printf("  %s: %s\n", in->diag[i].code, in->diag[i].msg);
	}
}

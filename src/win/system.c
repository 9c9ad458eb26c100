/*
 * Facts from a SYSTEM hive: the live control set, names, WinRM service
 * and firewall state, setup state, MountedDevices and the storage and NIC
 * drivers of drivers.c's table (Start, StartOverride, ImagePath).  FORMATS.md "SYSTEM and SOFTWARE hives" and
 * "Windows setup state"; DESIGN.md "Correctness rules".
 *
 * Offline there is no CurrentControlSet: Select\Current names the
 * ControlSet00N Windows will boot with (virt-win-reg resolves it the same
 * way), and every per-control-set fact is read from that one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/uuid.h"
#include "win/win_internal.h"

/* Select\Current is a decimal suffix of three digits: ControlSet001..999. */
#define SYSTEM_MAX_CONTROLSET 999

/* Windows Firewall rule store: one REG_SZ per rule, "v2.x|Key=Value|...";
 * parsed by win_firewall_rule_allows. */
#define FIREWALL_RULES_KEY \
	"Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules"
#define WINRM_HTTP_PORT 5985

/* MountedDevices value data forms (FORMATS.md). */
#define MOUNTED_MBR_LEN 12                 /* signature LE32, offset LE64 */
#define MOUNTED_MBR_SIGNATURE 0
#define MOUNTED_MBR_OFFSET 4
#define MOUNTED_GPT_PREFIX "DMIO:ID:"
#define MOUNTED_GPT_PREFIX_LEN 8
#define MOUNTED_GPT_LEN (MOUNTED_GPT_PREFIX_LEN + 16)

/* Read an optional string value KEY\VALUE below FROM; absent = NULL. */
static int opt_string(struct win_reg *r, win_node from, const char *prefix,
		      const char *key, const char *value, char **out,
		      struct bw_error *err)
{
	win_node node;
	int ret = win_reg_lookup(r, from, key, &node, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	char where[256];
	snprintf(where, sizeof where, "%s%s%s", prefix, *prefix ? "\\" : "",
		 key);
	ret = win_reg_get_string(r, node, where, value, out, err);
	return ret == BW_ENOTFOUND ? 0 : ret;
}

/* Read an optional DWORD value KEY\VALUE below FROM; absent = -1. */
static int opt_int(struct win_reg *r, win_node from, const char *prefix,
		   const char *key, const char *value, int *out,
		   struct bw_error *err)
{
	win_node node;
	int ret = win_reg_lookup(r, from, key, &node, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	char where[256];
	snprintf(where, sizeof where, "%s%s%s", prefix, *prefix ? "\\" : "",
		 key);
	return win_reg_get_opt_int(r, node, where, value, out, err);
}

/* ASCII case-insensitive equality of VAL (LEN bytes) with WORD. */
static int field_is(const char *val, size_t len, const char *word)
{
	size_t i;
	for (i = 0; i < len; i++) {
		unsigned char a = (unsigned char)val[i];
		unsigned char b = (unsigned char)word[i];
		if (!b)
			return 0;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return word[i] == '\0';
}

static void trim(const char **p, size_t *len)
{
	while (*len && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

/* A decimal port 0..65535; -1 when not exactly that. */
static long parse_port(const char *p, size_t len)
{
	trim(&p, &len);
	if (len == 0 || len > 5)
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 65535 ? v : -1;
}

/*
 * Does an LPort list ("5985", "80,5985", "5985-5986"; keywords such as
 * RPC are no numbers and match nothing) include PORT?
 */
static int port_list_has(const char *val, size_t len, long port)
{
	while (len) {
		const char *comma = memchr(val, ',', len);
		size_t item = comma ? (size_t)(comma - val) : len;
		const char *dash = memchr(val, '-', item);
		if (dash) {
			long lo = parse_port(val, (size_t)(dash - val));
			long hi = parse_port(dash + 1,
					     item - (size_t)(dash - val) - 1);
			if (lo >= 0 && hi >= 0 && lo <= port && port <= hi)
				return 1;
		} else if (parse_port(val, item) == port) {
			return 1;
		}
		if (!comma)
			break;
		len -= item + 1;
		val = comma + 1;
	}
	return 0;
}

/* Last value wins for Action/Active/Dir/Protocol; any LPort may match. */
int win_firewall_rule_allows(const char *rule, unsigned port)
{
	int allow = 0, active = 0, inbound = 0, tcp = 0, has_port = 0;
	const char *p = rule;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t flen = bar ? (size_t)(bar - p) : strlen(p);
		const char *eq = memchr(p, '=', flen);
		if (eq) {
			const char *key = p;
			size_t klen = (size_t)(eq - p);
			const char *val = eq + 1;
			size_t vlen = flen - klen - 1;
			trim(&key, &klen);
			trim(&val, &vlen);
			if (field_is(key, klen, "Action"))
				allow = field_is(val, vlen, "Allow");
			else if (field_is(key, klen, "Active"))
				active = field_is(val, vlen, "TRUE");
			else if (field_is(key, klen, "Dir"))
				inbound = field_is(val, vlen, "In");
			else if (field_is(key, klen, "Protocol"))
				tcp = field_is(val, vlen, "6");
			else if (field_is(key, klen, "LPort") &&
				 port_list_has(val, vlen, (long)port))
				has_port = 1;
		}
		p += flen;
		if (*p == '|')
			p++;
	}
	return allow && active && inbound && tcp && has_port;
}

static int read_firewall(struct win_reg *r, win_node cs, int *out,
			 struct bw_error *err)
{
	win_node rules;
	int ret = win_reg_lookup(r, cs, FIREWALL_RULES_KEY, &rules, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	win_value *values;
	size_t n;
	ret = win_reg_values(r, rules, &values, &n, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && !*out; i++) {
		uint32_t type;
		uint8_t *data;
		size_t len;
		ret = win_reg_value_raw(r, values[i], &type, &data, &len, err);
		if (ret)
			break;
		if (type == WIN_REG_SZ) {
			char *rule;
			ret = win_utf16le_to_utf8(data, len, &rule, NULL);
			if (ret == 0) {
				*out = win_firewall_rule_allows(rule,
								 WINRM_HTTP_PORT);
				free(rule);
			} else if (ret == BW_EFORMAT) {
				ret = 0;        /* absurdly long: no rule */
			} else {
				bw_seterr(err, ret, win_reg_name(r),
					  "out of memory");
			}
		}
		free(data);
		if (ret)
			break;
	}
	free(values);
	return ret;
}

static int read_mounted(struct win_reg *r, struct bw_system_facts *f,
			struct bw_error *err)
{
	win_node md;
	int ret = win_reg_lookup(r, win_reg_root(r), "MountedDevices", &md,
				 err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	win_value *values;
	size_t n;
	ret = win_reg_values(r, md, &values, &n, err);
	if (ret)
		return ret;
	if (n > BW_MAX_MOUNTED_DEVICES) {
		free(values);
		return bw_seterr(err, BW_EFORMAT, win_reg_name(r),
				 "MountedDevices: %zu values (at most %d)", n,
				 BW_MAX_MOUNTED_DEVICES);
	}
	if (n) {
		f->mounted = calloc(n, sizeof *f->mounted);
		if (!f->mounted) {
			free(values);
			return bw_seterr(err, BW_ENOMEM, win_reg_name(r),
					 "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct bw_mounted_device *m = &f->mounted[f->nmounted];
		ret = win_reg_value_name(r, values[i], &m->name, err);
		if (ret)
			break;
		f->nmounted++;
		uint32_t type;
		uint8_t *data;
		size_t len;
		ret = win_reg_value_raw(r, values[i], &type, &data, &len, err);
		if (ret)
			break;
		m->len = len;
		if (len == MOUNTED_MBR_LEN) {
			m->is_mbr = 1;
			m->disk_signature = bw_get_le32(data + MOUNTED_MBR_SIGNATURE);
			m->part_offset = bw_get_le64(data + MOUNTED_MBR_OFFSET);
		} else if (len == MOUNTED_GPT_LEN &&
			   memcmp(data, MOUNTED_GPT_PREFIX,
				  MOUNTED_GPT_PREFIX_LEN) == 0) {
			m->is_gpt = 1;
			memcpy(m->part_guid, data + MOUNTED_GPT_PREFIX_LEN, 16);
		}
		free(data);
	}
	free(values);
	return ret;
}

/*
 * HardwareConfig (hive root): one subkey per machine Windows booted on,
 * named by that machine's SMBIOS system UUID in braces, and LastConfig
 * (REG_SZ) naming the current one; Windows writes them at boot, so an
 * image that never booted has neither.  (Public observations: tools read
 * LastConfig as the machine UUID and find it equal to
 * Win32_ComputerSystemProduct.UUID, e.g. Dell's {4C4C4544-...}; SafeExam-
 * Browser's VirtualMachineDetector.cs reads the per-UUID subkeys'
 * SystemManufacturer/BIOSVendor values.)  A LastConfig that is not a
 * "{GUID}" is kept as present but not stored: nothing to pin.
 */
static int read_hardware_config(struct win_reg *r, struct bw_system_facts *f,
				struct bw_error *err)
{
	win_node hc;
	int ret = win_reg_lookup(r, win_reg_root(r), "HardwareConfig", &hc, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	char *last = NULL;
	ret = win_reg_get_string(r, hc, "HardwareConfig", "LastConfig", &last,
				 err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	f->last_config_present = 1;
	/* Exactly 38 characters "{8-4-4-4-12}" before it is copied: the
	 * field holds that and its NUL, nothing longer. */
	if (strlen(last) == sizeof f->last_config - 1 &&
	    win_is_guid_name(last)) {
		memcpy(f->last_config, last, sizeof f->last_config);
		win_node key;
		ret = win_reg_lookup(r, hc, f->last_config, &key, err);
		if (ret == 0)
			f->last_config_key = 1;
		else if (ret == BW_ENOTFOUND)
			ret = 0;
	}
	free(last);
	return ret;
}

int bw_system_hardware_uuid(const struct bw_system_facts *f, char out[37])
{
	if (!f->last_config_present)
		return BW_ENOTFOUND;
	if (!f->last_config[0] || !f->last_config_key)
		return BW_EFORMAT;
	char inner[37];
	memcpy(inner, f->last_config + 1, 36);   /* between the braces */
	inner[36] = '\0';
	/* bw_uuid_parse lowercases and refuses all zero (SMBIOS: "not
	 * present"): no UUID a clone could be pinned to. */
	if (!bw_uuid_parse(inner, out))
		return BW_EFORMAT;
	return 0;
}

int bw_smbios_uuid_swap(const char *in, char out[37])
{
	char u[37];
	if (!in || !bw_uuid_parse(in, u))
		return BW_EINVAL;
	/* Hex digit pairs of time_low (0..7), time_mid (9..12) and
	 * time_hi_and_version (14..17), reversed pair by pair. */
	static const int map[18] = { 6, 7, 4, 5, 2, 3, 0, 1, 8, 11, 12, 9,
				     10, 13, 16, 17, 14, 15 };
	memcpy(out, u, sizeof u);
	for (int i = 0; i < 18; i++)
		out[i] = u[map[i]];
	return 0;
}

/*
 * Services\<service> of the live control set: Start, StartOverride\0 and
 * ImagePath (whose file the caller may look for: bw_driver_file_path).
 */
static int read_driver(struct win_reg *r, win_node cs, const char *csn,
		       struct bw_driver_state *d, struct bw_error *err)
{
	char key[64];
	snprintf(key, sizeof key, "Services\\%s", d->service);
	win_node svc;
	int ret = win_reg_lookup(r, cs, key, &svc, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	d->present = 1;
	char where[96];
	snprintf(where, sizeof where, "%s\\%s", csn, key);
	ret = win_reg_get_opt_int(r, svc, where, "Start", &d->start, err);
	if (ret)
		return ret;
	ret = opt_int(r, svc, where, "StartOverride", "0", &d->start_override, err);
	if (ret)
		return ret;
	char *image = NULL;
	ret = win_reg_get_string(r, svc, where, "ImagePath", &image, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	if (strlen(image) < sizeof d->image_path)
		memcpy(d->image_path, image, strlen(image) + 1);
	else
		d->image_path_long = 1;
	free(image);
	return 0;
}

static int read_controlset(struct win_reg *r, win_node cs,
			   struct bw_system_facts *f, struct bw_error *err)
{
	const char *csn = f->controlset_name;
	int ret = opt_string(r, cs, csn, "Control\\ComputerName\\ComputerName",
			     "ComputerName", &f->computer_name, err);
	if (!ret)
		ret = opt_string(r, cs, csn, "Services\\Tcpip\\Parameters",
				 "Hostname", &f->hostname, err);
	if (!ret)
		ret = opt_int(r, cs, csn, "Services\\WinRM", "Start",
			      &f->winrm_start, err);
	if (!ret)
		ret = read_firewall(r, cs, &f->firewall_winrm_http, err);
	for (size_t i = 0; i < BW_NUM_DRIVERS && !ret; i++)
		ret = read_driver(r, cs, csn, &f->drivers[i], err);
	return ret;
}

static void facts_init(struct bw_system_facts *f)
{
	memset(f, 0, sizeof *f);
	f->winrm_start = -1;
	f->setup_in_progress = -1;
	f->setup_type = -1;
	f->oobe_in_progress = -1;
	for (size_t i = 0; i < BW_NUM_DRIVERS; i++) {
		f->drivers[i].service = win_drivers[i].service;
		f->drivers[i].what = win_drivers[i].what;
		f->drivers[i].kind = win_drivers[i].kind;
		f->drivers[i].boot = win_drivers[i].boot;
		f->drivers[i].start = -1;
		f->drivers[i].start_override = -1;
		f->drivers[i].file = -1;
	}
}

int bw_system_read(const char *path, const char *name,
		   struct bw_system_facts *out, struct bw_error *err)
{
	if (!name)
		name = path;
	facts_init(out);
	struct win_reg *r = NULL;
	int ret = win_reg_open(path, name, &r, err);
	if (ret)
		return ret;
	win_node root = win_reg_root(r);

	win_node select;
	uint32_t current = 0;
	ret = win_reg_lookup(r, root, "Select", &select, err);
	if (ret == 0)
		ret = win_reg_get_dword(r, select, "Select", "Current",
					&current, err);
	if (ret == BW_ENOTFOUND) {
		ret = bw_seterr(err, BW_EFORMAT, name,
				"Select\\Current is missing (not a SYSTEM hive?)");
		goto out;
	}
	if (ret)
		goto out;
	if (current == 0 || current > SYSTEM_MAX_CONTROLSET) {
		ret = bw_seterr(err, BW_EFORMAT, name,
				"Select\\Current is %u (expected 1..%d)",
				(unsigned)current, SYSTEM_MAX_CONTROLSET);
		goto out;
	}
	out->current_controlset = current;
	snprintf(out->controlset_name, sizeof out->controlset_name,
		 "ControlSet%03u", (unsigned)current);

	win_node cs;
	ret = win_reg_lookup(r, root, out->controlset_name, &cs, err);
	if (ret == BW_ENOTFOUND) {
		ret = bw_seterr(err, BW_EFORMAT, name,
				"Select\\Current is %u but %s does not exist",
				(unsigned)current, out->controlset_name);
		goto out;
	}
	if (ret)
		goto out;
	ret = read_controlset(r, cs, out, err);
	if (ret)
		goto out;

	/* Setup lives at the hive root, outside the control sets. */
	ret = opt_int(r, root, "", "Setup", "SystemSetupInProgress",
		      &out->setup_in_progress, err);
	if (!ret)
		ret = opt_int(r, root, "", "Setup", "SetupType",
			      &out->setup_type, err);
	if (!ret)
		ret = opt_int(r, root, "", "Setup", "OOBEInProgress",
			      &out->oobe_in_progress, err);
	if (!ret)
		ret = opt_string(r, root, "", "Setup", "CmdLine",
				 &out->setup_cmdline, err);
	if (!ret)
		ret = read_mounted(r, out, err);
	if (!ret)
		ret = read_hardware_config(r, out, err);
out:
	win_reg_close(r);
	if (ret) {
		bw_system_facts_free(out);
		facts_init(out);
	}
	return ret;
}

void bw_system_facts_free(struct bw_system_facts *f)
{
	if (!f)
		return;
	free(f->computer_name);
	free(f->hostname);
	free(f->setup_cmdline);
	for (size_t i = 0; i < f->nmounted; i++)
		free(f->mounted[i].name);
	free(f->mounted);
	f->computer_name = NULL;
	f->hostname = NULL;
	f->setup_cmdline = NULL;
	f->mounted = NULL;
	f->nmounted = 0;
}

void bw_win_vbox_drivers(const struct bw_system_facts *f, int *has_ide,
			 int *has_nic)
{
	unsigned k = bw_driver_kinds(f->drivers, BW_NUM_DRIVERS);
	unsigned ide = BW_DRIVER_BIT(BW_DRV_IDE_CHANNEL) | BW_DRIVER_BIT(BW_DRV_IDE_CONTROLLER);
	*has_ide = (k & ide) == ide;
	*has_nic = (k & BW_DRIVER_BIT(BW_DRV_E1000)) != 0;
}

/*
 * Offline edits of the SOFTWARE and SYSTEM hives for patch/build: --winrm,
 * --hostname and .reg merges.  FORMATS.md "SYSTEM and SOFTWARE hives",
 * DESIGN.md "Correctness rules" (CurrentControlSet is the ControlSet00N
 * that Select\Current names, as Windows itself resolves it: "ControlSet%03d"
 * of a Current of 1..999).
 *
 * Each entry point parses every .reg file first (a bad file is reported
 * before any hive is touched), opens the hive for writing (a dirty hive is
 * refused there), makes all its changes in memory and commits once, at
 * the end, and only when something changed: a failure anywhere leaves the
 * file as it was, and an edit that finds everything already set leaves it
 * byte-identical.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win/win_internal.h"

/* SOFTWARE: what WinRM over HTTP with basic auth needs (FORMATS.md). */
#define SW_CURRENT_VERSION "Microsoft\\Windows\\CurrentVersion"
#define SW_WSMAN_SERVICE SW_CURRENT_VERSION "\\WSMAN\\Service"
#define SW_WSMAN_CLIENT SW_CURRENT_VERSION "\\WSMAN\\Client"

/* SYSTEM, below the live control set. */
#define SYS_WINRM "Services\\WinRM"
#define SYS_WINRM_AUTO_START 2         /* SERVICE_AUTO_START */
#define SYS_SHARED_ACCESS "Services\\SharedAccess"
#define SYS_FIREWALL_RULES \
	SYS_SHARED_ACCESS "\\Parameters\\FirewallPolicy\\FirewallRules"
#define SYS_COMPUTER_NAME "Control\\ComputerName\\ComputerName"
#define SYS_TCPIP "Services\\Tcpip"
#define SYS_TCPIP_PARAMETERS SYS_TCPIP "\\Parameters"

#define WINRM_HTTP_PORT 5985
/* The rule string is Windows Firewall's own rule format (FirewallRules
 * values, "v2.x|Key=Value|..."), as the built-in WINRM-HTTP-In-TCP rule
 * reads, under a name of ours so that it never replaces Windows' own. */
#define WINRM_RULE_NAME "boxwright-WinRM-HTTP-In-TCP"
#define WINRM_RULE \
	"v2.26|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985|" \
	"App=System|Name=Windows Remote Management (HTTP-In) - boxwright|" \
	"EmbedCtxt=Windows Remote Management|"

/* NetBIOS computer names: 1..15 characters (MAX_COMPUTERNAME_LENGTH). */
#define NETBIOS_MAX 15

/* Select\Current is a decimal suffix of three digits: ControlSet001..999. */
#define SYSTEM_MAX_CONTROLSET 999

static void report_clear(struct bw_win_report *rep)
{
	if (rep)
		memset(rep, 0, sizeof *rep);
}

int win_system_live_controlset(struct win_reg *r, char name[16],
			       win_node *cs, struct bw_error *err)
{
	win_node select;
	uint32_t current = 0;
	int ret = win_reg_lookup(r, win_reg_root(r), "Select", &select, err);
	if (ret == 0)
		ret = win_reg_get_dword(r, select, "Select", "Current",
					&current, err);
	if (ret == BW_ENOTFOUND)
		return bw_seterr(err, BW_EFORMAT, win_reg_name(r),
				 "Select\\Current is missing (not a SYSTEM hive?)");
	if (ret)
		return ret;
	if (current == 0 || current > SYSTEM_MAX_CONTROLSET)
		return bw_seterr(err, BW_EFORMAT, win_reg_name(r),
				 "Select\\Current is %u (expected 1..%d)",
				 (unsigned)current, SYSTEM_MAX_CONTROLSET);
	snprintf(name, 16, "ControlSet%03u", (unsigned)current);
	ret = win_reg_lookup(r, win_reg_root(r), name, cs, err);
	if (ret == BW_ENOTFOUND)
		return bw_seterr(err, BW_EFORMAT, win_reg_name(r),
				 "Select\\Current is %u but %s does not exist",
				 (unsigned)current, name);
	return ret;
}

/* Parse every .reg file of E; *files gets E->nreg_files entries. */
static int parse_reg_files(const struct bw_win_edits *e,
			   struct win_regfile ***files, struct bw_error *err)
{
	*files = NULL;
	if (e->nreg_files == 0)
		return 0;
	struct win_regfile **rf = calloc(e->nreg_files, sizeof *rf);
	if (!rf)
		return bw_seterr(err, BW_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < e->nreg_files; i++) {
		int ret = win_regfile_parse(e->reg_files[i], &rf[i], err);
		if (ret) {
			for (size_t j = 0; j < i; j++)
				win_regfile_free(rf[j]);
			free(rf);
			return ret;
		}
	}
	*files = rf;
	return 0;
}

static int any_touches(struct win_regfile **rf, size_t n,
		       enum win_hive_kind kind)
{
	for (size_t i = 0; i < n; i++)
		if (win_regfile_touches(rf[i], kind))
			return 1;
	return 0;
}

static void free_reg_files(struct win_regfile **rf, size_t n)
{
	if (!rf)
		return;
	for (size_t i = 0; i < n; i++)
		win_regfile_free(rf[i]);
	free(rf);
}

/* Set a DWORD at KEY (created if missing) below FROM; WHERE for messages. */
static int ensure_dword(struct win_reg *r, win_node from, const char *key,
			const char *value, uint32_t v,
			struct bw_win_report *rep, struct bw_error *err)
{
	win_node node;
	unsigned created = 0;
	int ret = win_reg_create_path(r, from, key, &node, &created, err);
	if (rep)
		rep->keys_created += created;
	if (ret)
		return ret;
	int changed;
	ret = win_reg_set_dword(r, node, key, value, v, &changed, err);
	if (ret == 0 && changed && rep)
		rep->values_set++;
	return ret;
}

static int software_winrm(struct win_reg *r, struct bw_win_report *rep,
			  struct bw_error *err)
{
	/* A hive without it is not a SOFTWARE hive: creating WSMAN keys in
	 * it would only hide the mistake. */
	win_node cv;
	int ret = win_reg_lookup(r, win_reg_root(r), SW_CURRENT_VERSION, &cv,
				 err);
	if (ret == BW_ENOTFOUND)
		return bw_seterr(err, BW_EFORMAT, win_reg_name(r),
				 "%s is missing (not a SOFTWARE hive?)",
				 SW_CURRENT_VERSION);
	if (ret)
		return ret;
	win_node root = win_reg_root(r);
	ret = ensure_dword(r, root, SW_WSMAN_SERVICE, "allow_unencrypted", 1,
			   rep, err);
	if (!ret)
		ret = ensure_dword(r, root, SW_WSMAN_SERVICE, "auth_basic", 1,
				   rep, err);
	if (!ret)
		ret = ensure_dword(r, root, SW_WSMAN_CLIENT, "auth_basic", 1,
				   rep, err);
	return ret;
}

int bw_win_edit_software(const char *path, const struct bw_win_edits *e,
			 struct bw_win_report *rep, struct bw_error *err)
{
	report_clear(rep);
	if (!e->winrm && e->nreg_files == 0)
		return 0;               /* nothing here touches SOFTWARE */
	struct win_regfile **rf = NULL;
	struct win_reg *r = NULL;
	int ret = parse_reg_files(e, &rf, err);
	if (ret)
		return ret;
	if (!e->winrm && !any_touches(rf, e->nreg_files, WIN_HIVE_SOFTWARE))
		goto out;               /* the files only name SYSTEM */
	ret = win_reg_open_write(path, "SOFTWARE", &r, err);
	if (ret)
		goto out;
	if (e->winrm) {
		ret = software_winrm(r, rep, err);
		if (ret)
			goto out;
	}
	for (size_t i = 0; i < e->nreg_files; i++) {
		ret = win_regfile_apply(rf[i], WIN_HIVE_SOFTWARE, r, NULL, rep,
					err);
		if (ret)
			goto out;
	}
	if (win_reg_pending(r))
		ret = win_reg_commit(r, err);
out:
	win_reg_close(r);
	free_reg_files(rf, e->nreg_files);
	if (ret)
		report_clear(rep);
	return ret;
}

/* Is an existing FirewallRules value an active inbound allow of TCP 5985? */
static int firewall_has_winrm(struct win_reg *r, win_node rules, int *found,
			      struct bw_error *err)
{
	win_value *values;
	size_t n;
	*found = 0;
	int ret = win_reg_values(r, rules, &values, &n, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && !*found && !ret; i++) {
		uint32_t type;
		uint8_t *data;
		size_t len;
		ret = win_reg_value_raw(r, values[i], &type, &data, &len, err);
		if (ret)
			break;
		if (type == WIN_REG_SZ) {
			char *rule;
			int r2 = win_utf16le_to_utf8(data, len, &rule, NULL);
			if (r2 == 0) {
				*found = win_firewall_rule_allows(
					rule, WINRM_HTTP_PORT);
				free(rule);
			} else if (r2 == BW_ENOMEM) {
				ret = bw_seterr(err, r2, win_reg_name(r),
						"out of memory");
			}       /* absurdly long: no rule of ours */
		}
		free(data);
	}
	free(values);
	return ret;
}

static int system_winrm(struct win_reg *r, win_node cs, const char *csn,
			struct bw_win_report *rep, struct bw_error *err)
{
	char where[128];
	win_node svc;
	int ret = win_reg_lookup(r, cs, SYS_WINRM, &svc, err);
	if (ret == BW_ENOTFOUND)
		return bw_seterr(err, BW_ENOTFOUND, win_reg_name(r),
				 "%s\\%s is missing: the image has no WinRM service",
				 csn, SYS_WINRM);
	if (ret)
		return ret;
	snprintf(where, sizeof where, "%s\\%s", csn, SYS_WINRM);
	int changed;
	/* Start only: DelayedAutostart stays as Windows set it. */
	ret = win_reg_set_dword(r, svc, where, "Start", SYS_WINRM_AUTO_START,
				&changed, err);
	if (ret)
		return ret;
	if (changed && rep)
		rep->values_set++;

	/* No firewall service, no firewall to open. */
	win_node shared;
	ret = win_reg_lookup(r, cs, SYS_SHARED_ACCESS, &shared, err);
	if (ret == BW_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	snprintf(where, sizeof where, "%s\\%s", csn, SYS_FIREWALL_RULES);
	win_node rules;
	unsigned created = 0;
	ret = win_reg_create_path(r, cs, SYS_FIREWALL_RULES, &rules, &created,
				  err);
	if (rep)
		rep->keys_created += created;
	if (ret)
		return ret;
	int found;
	ret = firewall_has_winrm(r, rules, &found, err);
	if (ret || found)
		return ret;
	ret = win_reg_set_string(r, rules, where, WINRM_RULE_NAME, WINRM_RULE,
				 &changed, err);
	if (ret == 0 && changed && rep)
		rep->values_set++;
	return ret;
}

/* NetBIOS rules: 1..15 of A-Z a-z 0-9 '-', not all digits. */
int bw_win_hostname_check(const char *name, struct bw_error *err)
{
	size_t len = strlen(name);
	int all_digits = 1;
	if (len == 0 || len > NETBIOS_MAX)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "--hostname \"%.40s\": %zu characters (expected 1 to %d)",
				 name, len, NETBIOS_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		int digit = c >= '0' && c <= '9';
		int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!digit && !letter && c != '-')
			return bw_seterr(err, BW_EINVAL, NULL,
					 "--hostname \"%s\": character %zu is not a letter, digit or hyphen",
					 name, i + 1);
		if (!digit)
			all_digits = 0;
	}
	if (all_digits)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "--hostname \"%s\": a computer name cannot be all digits",
				 name);
	return 0;
}

static int system_hostname(struct win_reg *r, win_node cs, const char *csn,
			   const char *name, struct bw_win_report *rep,
			   struct bw_error *err)
{
	char where[128];
	char netbios[NETBIOS_MAX + 1];
	/* Windows keeps the NetBIOS name (ComputerName) in upper case and
	 * the DNS host name (Tcpip Hostname) as typed, as SetComputerNameEx
	 * writes them. */
	size_t i;
	for (i = 0; name[i] && i < NETBIOS_MAX; i++)
		netbios[i] = (name[i] >= 'a' && name[i] <= 'z')
				     ? (char)(name[i] - 'a' + 'A')
				     : name[i];
	netbios[i] = '\0';

	win_node tcpip;
	int ret = win_reg_lookup(r, cs, SYS_TCPIP, &tcpip, err);
	if (ret == BW_ENOTFOUND)
		return bw_seterr(err, BW_ENOTFOUND, win_reg_name(r),
				 "%s\\%s is missing: the image has no TCP/IP service to name",
				 csn, SYS_TCPIP);
	if (ret)
		return ret;

	win_node node;
	unsigned created = 0;
	int changed;
	snprintf(where, sizeof where, "%s\\%s", csn, SYS_COMPUTER_NAME);
	ret = win_reg_create_path(r, cs, SYS_COMPUTER_NAME, &node, &created,
				  err);
	if (!ret)
		ret = win_reg_set_string(r, node, where, "ComputerName",
					 netbios, &changed, err);
	if (!ret && changed && rep)
		rep->values_set++;
	if (ret)
		goto out;

	snprintf(where, sizeof where, "%s\\%s", csn, SYS_TCPIP_PARAMETERS);
	ret = win_reg_create_path(r, cs, SYS_TCPIP_PARAMETERS, &node, &created,
				  err);
	if (!ret)
		ret = win_reg_set_string(r, node, where, "Hostname", name,
					 &changed, err);
	if (!ret && changed && rep)
		rep->values_set++;
	if (!ret)
		ret = win_reg_set_string(r, node, where, "NV Hostname", name,
					 &changed, err);
	if (!ret && changed && rep)
		rep->values_set++;
out:
	if (rep)
		rep->keys_created += created;
	return ret;
}

int bw_win_edit_system(const char *path, const struct bw_win_edits *e,
		       struct bw_win_report *rep, struct bw_error *err)
{
	report_clear(rep);
	if (!e->winrm && !e->hostname && e->nreg_files == 0)
		return 0;               /* nothing here touches SYSTEM */
	if (e->hostname) {
		int ret = bw_win_hostname_check(e->hostname, err);
		if (ret)
			return ret;
	}
	struct win_regfile **rf = NULL;
	struct win_reg *r = NULL;
	int ret = parse_reg_files(e, &rf, err);
	if (ret)
		return ret;
	if (!e->winrm && !e->hostname &&
	    !any_touches(rf, e->nreg_files, WIN_HIVE_SYSTEM))
		goto out;               /* the files only name SOFTWARE */
	ret = win_reg_open_write(path, "SYSTEM", &r, err);
	if (ret)
		goto out;

	int need_live = e->winrm || e->hostname;
	for (size_t i = 0; i < e->nreg_files && !need_live; i++)
		need_live = win_regfile_uses_ccs(rf[i]);
	char csn[16] = "";
	win_node cs = 0;
	if (need_live) {
		ret = win_system_live_controlset(r, csn, &cs, err);
		if (ret)
			goto out;
	}
	if (e->winrm) {
		ret = system_winrm(r, cs, csn, rep, err);
		if (ret)
			goto out;
	}
	if (e->hostname) {
		ret = system_hostname(r, cs, csn, e->hostname, rep, err);
		if (ret)
			goto out;
	}
	for (size_t i = 0; i < e->nreg_files; i++) {
		ret = win_regfile_apply(rf[i], WIN_HIVE_SYSTEM, r,
					need_live ? csn : NULL, rep, err);
		if (ret)
			goto out;
	}
	if (win_reg_pending(r))
		ret = win_reg_commit(r, err);
out:
	win_reg_close(r);
	free_reg_files(rf, e->nreg_files);
	if (ret)
		report_clear(rep);
	return ret;
}

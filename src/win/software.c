/*
 * Facts from a SOFTWARE hive: product, build and edition
 * (Microsoft\Windows NT\CurrentVersion) and the WinRM client/service
 * settings Vagrant needs for plain HTTP with basic auth
 * (Microsoft\Windows\CurrentVersion\WSMAN; FORMATS.md "SYSTEM and
 * SOFTWARE hives").  Missing keys are facts too: fields stay NULL / -1.
 */
#include <stdlib.h>
#include <string.h>

#include "win/win_internal.h"

#define SOFTWARE_CURRENT_VERSION "Microsoft\\Windows NT\\CurrentVersion"
#define SOFTWARE_WSMAN_SERVICE \
	"Microsoft\\Windows\\CurrentVersion\\WSMAN\\Service"
#define SOFTWARE_WSMAN_CLIENT \
	"Microsoft\\Windows\\CurrentVersion\\WSMAN\\Client"

/* Optional string value VALUE of NODE; absent leaves *out NULL. */
static int get_opt_string(struct win_reg *r, win_node node, const char *where,
			  const char *value, char **out, struct bw_error *err)
{
	int ret = win_reg_get_string(r, node, where, value, out, err);
	return ret == BW_ENOTFOUND ? 0 : ret;
}

/* Look KEY up below the root: 0 found, 1 absent, or an error code. */
static int find_key(struct win_reg *r, const char *key, win_node *node,
		    struct bw_error *err)
{
	int ret = win_reg_lookup(r, win_reg_root(r), key, node, err);
	return ret == BW_ENOTFOUND ? 1 : ret;
}

static void facts_init(struct bw_software_facts *f)
{
	memset(f, 0, sizeof *f);
	f->wsman_allow_unencrypted = -1;
	f->wsman_service_auth_basic = -1;
	f->wsman_client_auth_basic = -1;
}

int bw_software_read(const char *path, const char *name,
		     struct bw_software_facts *out, struct bw_error *err)
{
	if (!name)
		name = path;
	facts_init(out);
	struct win_reg *r = NULL;
	int ret = win_reg_open(path, name, &r, err);
	if (ret)
		return ret;

	win_node node;
	ret = find_key(r, SOFTWARE_CURRENT_VERSION, &node, err);
	if (ret == 0) {
		const char *w = SOFTWARE_CURRENT_VERSION;
		ret = get_opt_string(r, node, w, "ProductName",
				     &out->product_name, err);
		if (!ret)
			ret = get_opt_string(r, node, w, "CurrentBuild",
					     &out->current_build, err);
		/* Older releases only have CurrentBuildNumber. */
		if (!ret && !out->current_build)
			ret = get_opt_string(r, node, w, "CurrentBuildNumber",
					     &out->current_build, err);
		if (!ret)
			ret = get_opt_string(r, node, w, "EditionID",
					     &out->edition_id, err);
	}
	if (ret < 0)
		goto out;

	ret = find_key(r, SOFTWARE_WSMAN_SERVICE, &node, err);
	if (ret == 0) {
		ret = win_reg_get_opt_int(r, node, SOFTWARE_WSMAN_SERVICE,
					  "allow_unencrypted",
					  &out->wsman_allow_unencrypted, err);
		if (!ret)
			ret = win_reg_get_opt_int(r, node,
						  SOFTWARE_WSMAN_SERVICE,
						  "auth_basic",
						  &out->wsman_service_auth_basic,
						  err);
	}
	if (ret < 0)
		goto out;

	ret = find_key(r, SOFTWARE_WSMAN_CLIENT, &node, err);
	if (ret == 0)
		ret = win_reg_get_opt_int(r, node, SOFTWARE_WSMAN_CLIENT,
					  "auth_basic",
					  &out->wsman_client_auth_basic, err);
	if (ret > 0)
		ret = 0;
out:
	win_reg_close(r);
	if (ret) {
		bw_software_facts_free(out);
		facts_init(out);
	}
	return ret;
}

void bw_software_facts_free(struct bw_software_facts *f)
{
	if (!f)
		return;
	free(f->product_name);
	free(f->current_build);
	free(f->edition_id);
	f->product_name = NULL;
	f->current_build = NULL;
	f->edition_id = NULL;
}

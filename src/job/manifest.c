/*
 * Batch manifests (job.h): JSON Lines of build and patch jobs, one per
 * line, read with jansson through the library's bounded loader
 * (box/json_load.h: duplicate keys refused, depth and value counts
 * capped).  Relative paths are taken from the manifest's directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "box/json_load.h"
#include "job/job_internal.h"

/* DIR/PATH unless PATH is absolute; NULL on no memory. */
static char *job_path(const char *dir, const char *path)
{
	if (path[0] == '/' || !dir[0])
		return strdup(path);
	size_t n = strlen(dir) + strlen(path) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, path);
	return p;
}

/* A job's "provider" member as --provider's comma list in OUT.  The
 * names themselves are build's to judge (an unknown one is its usage
 * error, reported as the job's). */
static int manifest_provider(const json_t *prov, const char *command, const char *where,
			     char *out, size_t n, struct bw_error *err)
{
	if (command && strcmp(command, "build") != 0)
		return bw_seterr(err, BW_EFORMAT, where, "\"provider\" is for build jobs only");
	size_t count = json_is_array(prov) ? json_array_size(prov) : 1;
	if (!json_is_string(prov) && (!json_is_array(prov) || count == 0 || count > BW_BUILD_MAX_BOXES))
		return bw_seterr(err, BW_EFORMAT, where,
				 "\"provider\" must be a string or an array of 1 to %d strings", BW_BUILD_MAX_BOXES);
	size_t used = 0;
	for (size_t i = 0; i < count; i++) {
		const char *name = json_string_value(json_is_array(prov) ? json_array_get(prov, i) : prov);
		if (!name || !name[0] || (json_is_array(prov) && strchr(name, ',')))
			return bw_seterr(err, BW_EFORMAT, where,
					 "\"provider\" item %zu is not a provider name", i);
		int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", name);
		if (w < 0 || (size_t)w >= n - used)
			return bw_seterr(err, BW_EFORMAT, where, "\"provider\" is too long");
		used += (size_t)w;
	}
	return 0;
}

static int parse_entry(const char *line, size_t len, const char *manifest, int lineno,
		       const char *dir, struct bw_manifest_entry *j, struct bw_error *err)
{
	json_t *v;
	char where[PATH_MAX + 32];
	snprintf(where, sizeof where, "%s:%d", manifest, lineno);
	int r = box_json_load(line, len, where, &v, err);
	if (r)
		return r;
	/* json_object_get of a non-object, json_string_value of a
	 * non-string: NULL.  jansson's strings hold no NUL. */
	const char *c = json_string_value(json_object_get(v, "command")),
		   *in = json_string_value(json_object_get(v, "input")),
		   *out = json_string_value(json_object_get(v, "output"));
	json_t *opts = json_object_get(v, "options");
	if (!opts)
		opts = json_object_get(v, "edits");
	size_t nopts = json_array_size(opts);
	r = BW_EFORMAT;
	if (!json_is_object(v) || !c || (strcmp(c, "build") && strcmp(c, "patch"))) {
		bw_seterr(err, r, where, "expected an object with \"command\": \"build\" or \"patch\"");
		goto out;
	}
	if (!in || !out || !in[0] || !out[0]) {
		bw_seterr(err, r, where, "expected \"input\" and \"output\" strings");
		goto out;
	}
	if (opts && (!json_is_array(opts) || nopts > BW_MANIFEST_MAX_OPTIONS)) {
		bw_seterr(err, r, where, "\"options\" must be an array of at most %d strings", BW_MANIFEST_MAX_OPTIONS);
		goto out;
	}
	/* "provider": "virtualbox,libvirt" or ["virtualbox", "libvirt"]:
	 * one build, one box per provider (build's --provider list). */
	char provider[256] = "";
	json_t *prov = json_object_get(v, "provider");
	if (prov && (r = manifest_provider(prov, c, where, provider, sizeof provider, err)) != 0)
		goto out;
	r = BW_EFORMAT;
	size_t nextra = provider[0] ? 2 : 0;
	j->command = strdup(c);
	j->input = job_path(dir, in);
	j->output = job_path(dir, out);
	j->options = calloc(nopts + nextra + 1, sizeof *j->options);
	if (!j->command || !j->input || !j->output || !j->options) {
		r = bw_seterr(err, BW_ENOMEM, where, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nopts; i++) {
		const char *o = json_string_value(json_array_get(opts, i));
		if (!o) {
			bw_seterr(err, r, where, "\"options\" item %zu is not a string", i);
			goto out;
		}
		if (!(j->options[j->noptions++] = strdup(o))) {
			r = bw_seterr(err, BW_ENOMEM, where, "out of memory");
			goto out;
		}
	}
	if (nextra && (!(j->options[j->noptions++] = strdup("--provider")) ||
		       !(j->options[j->noptions++] = strdup(provider)))) {
		r = bw_seterr(err, BW_ENOMEM, where, "out of memory");
		goto out;
	}
	r = 0;
out:
	json_decref(v);
	return r;
}

static int read_entries(const char *path, struct bw_manifest_entry **jobs, size_t *njobs,
			struct bw_error *err)
{
	*jobs = NULL;
	*njobs = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return bw_seterr(err, BW_EIO, path, "cannot open: %s", strerror(errno));
	char *text = malloc(BW_MANIFEST_MAX_BYTES + 1);
	size_t len = text ? fread(text, 1, BW_MANIFEST_MAX_BYTES + 1, f) : 0;
	int ferr = ferror(f);
	fclose(f);
	if (!text || ferr) {
		free(text);
		return bw_seterr(err, text ? BW_EIO : BW_ENOMEM, path, "cannot read");
	}
	if (len > BW_MANIFEST_MAX_BYTES) {
		free(text);
		return bw_seterr(err, BW_EFORMAT, path, "manifest larger than %u bytes", BW_MANIFEST_MAX_BYTES);
	}
	char dir[PATH_MAX] = "";
	const char *slash = strrchr(path, '/');
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
	int r = 0, lineno = 0;
	size_t cap = 0;
	for (size_t p = 0; p < len && r == 0;) {
		size_t e = p;
		while (e < len && text[e] != '\n')
			e++;
		lineno++;
		size_t q = p;
		while (q < e && (text[q] == ' ' || text[q] == '\t' || text[q] == '\r'))
			q++;
		if (q < e) {
			if (*njobs >= BW_MANIFEST_MAX_JOBS) {
				r = bw_seterr(err, BW_EFORMAT, path, "more than %d jobs", BW_MANIFEST_MAX_JOBS);
				break;
			}
			if (*njobs == cap) {
				cap = cap ? cap * 2 : 16;
				struct bw_manifest_entry *nj = realloc(*jobs, cap * sizeof **jobs);
				if (!nj) {
					r = bw_seterr(err, BW_ENOMEM, path, "out of memory");
					break;
				}
				*jobs = nj;
			}
			struct bw_manifest_entry *j = &(*jobs)[*njobs];
			memset(j, 0, sizeof *j);
			(*njobs)++;
			r = parse_entry(text + p, e - p, path, lineno, dir, j, err);
		}
		p = e + 1;
	}
	free(text);
	return r;
}

static void entry_free(struct bw_manifest_entry *j)
{
	free(j->command);
	free(j->input);
	free(j->output);
	for (size_t i = 0; i < j->noptions; i++)
		free(j->options[i]);
	free(j->options);
}

int bw_manifest_read(const char *path, struct bw_manifest **out, struct bw_error *err)
{
	*out = NULL;
	struct bw_manifest *mf = calloc(1, sizeof *mf);
	if (!mf)
		return bw_seterr(err, BW_ENOMEM, path, "out of memory");
	int r = read_entries(path, &mf->entries, &mf->n, err);
	if (r) {
		bw_manifest_free(mf);
		return r;
	}
	*out = mf;
	return 0;
}

void bw_manifest_free(struct bw_manifest *mf)
{
	if (!mf)
		return;
	for (size_t i = 0; i < mf->n; i++)
		entry_free(&mf->entries[i]);
	free(mf->entries);
	free(mf);
}

/*
 * The Vagrant box catalog ("metadata URL") that `vagrant box add NAME.json`
 * reads (FORMATS.md "Vagrant box catalog"; hashicorp/vagrant
 * lib/vagrant/box_metadata.rb):
 *   {"name", "description",
 *    "versions": [{"version", "providers": [{"name", "url",
 *                                            "checksum_type", "checksum",
 *                                            "architecture"}]}]}
 * Vagrant parses each version with Gem::Version, picks a provider by name,
 * downloads `url` (a relative one is resolved against the current
 * directory of `vagrant box add`, not the catalog's, hence absolute URLs
 * only) and checks `checksum` (case-insensitively) with `checksum_type`.
 * `vagrant box add --name N` fails when N differs from "name".
 *
 * An update reads the existing catalog into a JSON tree (jansson, through
 * box_json_load: duplicate member names refused), so members this code
 * does not know survive, changes one provider of one version, sorts the
 * versions, and replaces the file through a temporary file and rename(2).
 * Members keep their order; jansson writes numbers again from their
 * values, so an unknown member's -2.5e+3 comes back as -2500.0.  Concurrent updaters (batch -j) are serialised by an flock on
 * the catalog's directory: the catalog itself is replaced, so it cannot
 * carry the lock, and a lock file would be left behind.
 *
 * bw_sha256_file is common/sha256_file.c's digest in hex.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box/box_internal.h"
#include "box/json_load.h"
#include "common/hex.h"
#include "common/sha256_file.h"

#define CATALOG_DEFAULT_DESCRIPTION "Windows Nano Server, built by boxwright"
#define CATALOG_CHECKSUM_TYPE "sha256"
/* Vagrant 2.4 picks a provider entry by "architecture" (Vagrant's names,
 * as `vagrant box add --architecture` takes them: amd64, arm64, i386);
 * 2.3 reads name and url only.  Nano Server boxes are x86-64. */
#define CATALOG_ARCHITECTURE "amd64"
#define CATALOG_MAX_FIELD 4096      /* bytes of a name, version, URL... */

/* ---- versions as Gem::Version compares them -------------------------- */

/* Vagrant sorts and matches versions with Ruby's Gem::Version: the string
 * is cut into segments (/[0-9]+|[a-z]+/i, dots dropped), the shorter list
 * is padded with 0, numbers compare as numbers, letters as strings, and a
 * letter segment (a pre-release) sorts before any number.  We accept the
 * plain form only: digits first, then dot-separated alphanumeric parts. */
static int catalog_version_ok(const char *v)
{
	if (!(*v >= '0' && *v <= '9') || strlen(v) > 128)
		return 0;
	char prev = '.';
	for (const char *p = v; *p; p++) {
		int alnum = (*p >= '0' && *p <= '9') ||
			    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		if (!alnum && !(*p == '.' && prev != '.'))
			return 0;
		prev = *p;
	}
	return prev != '.';
}

/* The next Gem segment of *P: its start and length, and whether it is a
 * number.  Returns 0 at the end. */
static int gem_segment(const char **p, const char **seg, size_t *len,
		       int *numeric)
{
	const char *s = *p;
	while (*s && !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		       (*s >= 'A' && *s <= 'Z')))
		s++;
	if (!*s)
		return 0;
	*numeric = *s >= '0' && *s <= '9';
	const char *e = s;
	while (*e && (*numeric ? (*e >= '0' && *e <= '9')
		      : ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z'))))
		e++;
	*seg = s;
	*len = (size_t)(e - s);
	*p = e;
	return 1;
}

/* Numbers of any length, as digit strings: without leading zeros, longer
 * is bigger, equal lengths compare bytewise. */
static int gem_cmp_numbers(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 0 && *a == '0') { a++; an--; }
	while (bn > 0 && *b == '0') { b++; bn--; }
	if (an != bn)
		return an < bn ? -1 : 1;
	int c = memcmp(a, b, an);
	return (c > 0) - (c < 0);
}

static int gem_version_cmp(const char *a, const char *b)
{
	for (;;) {
		const char *sa = "0", *sb = "0";
		size_t la = 1, lb = 1;
		int na = 1, nb = 1;
		int ha = gem_segment(&a, &sa, &la, &na);
		int hb = gem_segment(&b, &sb, &lb, &nb);
		if (!ha && !hb)
			return 0;
		if (!ha) { sa = "0"; la = 1; na = 1; }
		if (!hb) { sb = "0"; lb = 1; nb = 1; }
		int c;
		if (na && nb) {
			c = gem_cmp_numbers(sa, la, sb, lb);
		} else if (na != nb) {
			c = na ? 1 : -1;
		} else {
			size_t m = la < lb ? la : lb;
			c = memcmp(sa, sb, m);
			c = c ? (c > 0) - (c < 0) : (la > lb) - (la < lb);
		}
		if (c)
			return c;
	}
}

/* ---- entry validation ------------------------------------------------- */

static int catalog_url_ok(const char *url)
{
	/* Absolute only (see the head).  No whitespace: a path with spaces
	 * must be percent-encoded, as curl (Vagrant's downloader) expects. */
	if (!box_check_text(url, CATALOG_MAX_FIELD) || strpbrk(url, " "))
		return 0;
	if (strncasecmp(url, "file:///", 8) == 0)
		return url[8] != '\0';
	size_t skip = strncasecmp(url, "http://", 7) == 0 ? 7
		      : strncasecmp(url, "https://", 8) == 0 ? 8 : 0;
	/* A host must follow the scheme. */
	return skip && url[skip] && url[skip] != '/';
}

static int catalog_check_entry(const char *path,
			       const struct bw_catalog_entry *e,
			       char sha[65], struct bw_error *err)
{
	if (!e->name || !e->name[0] || !box_check_text(e->name, CATALOG_MAX_FIELD))
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog: the box name must be non-empty UTF-8 text without control characters");
	if (!e->version || !catalog_version_ok(e->version))
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog: version \"%.64s\" is not of the form 1.2.3 (digits first, then dot-separated letters or digits, as Vagrant's Gem::Version reads it)",
				 e->version ? e->version : "");
	const char *prov = e->provider ? e->provider : "virtualbox";
	if (!prov[0] || !box_check_text(prov, 64))
		return bw_seterr(err, BW_EINVAL, path, "catalog: bad provider name");
	if (!e->url || !catalog_url_ok(e->url))
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog: URL \"%.200s\" is not absolute (file:///..., http://host/..., https://host/...; no spaces): Vagrant resolves a relative URL against its own current directory, not the catalog's",
				 e->url ? e->url : "");
	if (e->description && !box_check_text(e->description, CATALOG_MAX_FIELD))
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog: the description must be UTF-8 text without control characters");
	size_t n = e->sha256 ? strlen(e->sha256) : 0;
	if (n != 64)
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog: the SHA-256 must be 64 hex digits, got %zu characters",
				 n);
	for (size_t i = 0; i < 64; i++) {
		char c = e->sha256[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return bw_seterr(err, BW_EINVAL, path,
					 "catalog: the SHA-256 has a non-hex character at %zu",
					 i);
		sha[i] = c;
	}
	sha[64] = '\0';
	return 0;
}

/* ---- reading ----------------------------------------------------------- */

/* The existing catalog as a tree, or a new one when PATH does not exist
 * (*EXISTED = 0).  MODE receives the existing file's permissions. */
static int catalog_load(const char *path, const struct bw_catalog_entry *e,
			json_t **out, int *existed, mode_t *mode,
			struct bw_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		*existed = 0;
		/* json_string fails on anything but UTF-8: the entry's text
		 * was checked (catalog_check_entry), so only memory can. */
		json_t *root = json_object();
		if (!root ||
		    json_object_set_new(root, "name", json_string(e->name)) ||
		    json_object_set_new(root, "description", json_string(
			     e->description ? e->description
					    : CATALOG_DEFAULT_DESCRIPTION)) ||
		    json_object_set_new(root, "versions", json_array())) {
			json_decref(root);
			return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
		}
		*out = root;
		return 0;
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int r = bw_seterr(err, BW_EIO, path, "cannot open: %s",
				  strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	*existed = 1;
	*mode = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog is not a regular file");
	}
	if (st.st_size > (off_t)BW_CATALOG_MAX_BYTES) {
		close(fd);
		return bw_seterr(err, BW_EUNSUPPORTED, path,
				 "catalog of %lld bytes: more than the %u bytes this reads",
				 (long long)st.st_size, BW_CATALOG_MAX_BYTES);
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *text = malloc(size ? size : 1);
	if (!text) {
		close(fd);
		return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
	}
	while (got < size) {
		ssize_t n = read(fd, text + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = bw_seterr(err, BW_EIO, path,
					  "read at offset %zu: %s", got,
					  n < 0 ? strerror(errno) : "file shrank");
			free(text);
			close(fd);
			return r;
		}
		got += (size_t)n;
	}
	close(fd);
	int r = box_json_load(text, size, path, out, err);
	free(text);
	return r;
}

/* The array member KEY of OBJ, created empty if absent.  NULL with *R set
 * when it is something else or memory ran out. */
static json_t *catalog_array(json_t *obj, const char *key, const char *path,
			     int *r, struct bw_error *err)
{
	json_t *a = json_object_get(obj, key);
	if (!a) {
		if (json_object_set_new(obj, key, json_array())) {
			*r = bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
			return NULL;
		}
		return json_object_get(obj, key);
	}
	if (!json_is_array(a)) {
		*r = bw_seterr(err, BW_EFORMAT, path,
			       "catalog: \"%s\" is not an array", key);
		return NULL;
	}
	return a;
}

/* A string member KEY of OBJ, or NULL (also when OBJ is no object).
 * jansson's strings hold no NUL: "\u0000" is refused when loading. */
static const char *catalog_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- the edit ------------------------------------------------------------ */

struct version_ref {
	json_t *v;
	size_t index;
};

static int version_ref_cmp(const void *pa, const void *pb)
{
	const struct version_ref *a = pa, *b = pb;
	int c = gem_version_cmp(catalog_str(a->v, "version"),
				catalog_str(b->v, "version"));
	if (c)
		return c;
	return (a->index > b->index) - (a->index < b->index);   /* stable */
}

/* Is OLD (a provider entry) the box E replaces: the same provider name,
 * and our architecture or none (catalogs written before we named it)?
 * One that names another architecture (Vagrant 2.4) is another box. */
static int catalog_same_box(const json_t *old, const char *prov)
{
	const char *pn = catalog_str(old, "name");
	const json_t *arch = json_object_get(old, "architecture");
	return pn && !strcmp(pn, prov) &&
	       (!arch || (json_is_string(arch) &&
			  !strcmp(json_string_value(arch), CATALOG_ARCHITECTURE)));
}

static int url_is_file(const char *url)
{
	return strncasecmp(url, "file:", 5) == 0;
}

/*
 * One URL style per catalog: a catalog served over HTTP(S) whose new entry
 * points at this machine's file system (an update without --base-url), or
 * the reverse, works for nobody who adds it elsewhere.  The entry this
 * update replaces does not count.  BW_EINVAL naming an existing URL, with
 * the base URL that would keep the style.
 */
static int catalog_check_url_style(json_t *versions, const struct bw_catalog_entry *e,
				   const char *prov, const char *path, struct bw_error *err)
{
	for (size_t i = 0; i < json_array_size(versions); i++) {
		json_t *v = json_array_get(versions, i);
		const char *vs = catalog_str(v, "version");
		json_t *providers = json_object_get(v, "providers");
		int this_version = vs && gem_version_cmp(vs, e->version) == 0;
		for (size_t k = 0; k < json_array_size(providers); k++) {
			const json_t *p = json_array_get(providers, k);
			const char *url = catalog_str(p, "url");
			if (!url || url_is_file(url) == url_is_file(e->url) ||
			    (this_version && catalog_same_box(p, prov)))
				continue;
			if (url_is_file(e->url)) {
				const char *slash = strrchr(url, '/');
				int base = slash ? (int)(slash - url) + 1 : (int)strlen(url);
				return bw_seterr(err, BW_EINVAL, path,
						 "catalog: its boxes are served from %.200s (version %.64s, %.64s), and this box would be a file:// URL on this machine: give --base-url %.*s (where the box will be served), or use another catalog",
						 url, vs ? vs : "?", catalog_str(p, "name") ? catalog_str(p, "name") : "?",
						 base > 200 ? 200 : base, url);
			}
			return bw_seterr(err, BW_EINVAL, path,
					 "catalog: its boxes are local files (%.200s, version %.64s), and this box would be served from %.200s: one catalog mixing both works nowhere but here; write this one to another catalog, or rebuild the others with the same --base-url",
					 url, vs ? vs : "?", e->url);
		}
	}
	return 0;
}

static int catalog_edit(json_t *root, const struct bw_catalog_entry *e,
			const char *sha, const char *path, struct bw_error *err)
{
	if (!json_is_object(root))
		return bw_seterr(err, BW_EFORMAT, path,
				 "catalog: the top level is not an object");
	const char *name = catalog_str(root, "name");
	if (!name)
		return bw_seterr(err, BW_EFORMAT, path,
				 "catalog: no \"name\" string (vagrant box add needs one)");
	if (strcmp(name, e->name) != 0)
		return bw_seterr(err, BW_EINVAL, path,
				 "catalog is for box \"%.200s\", not \"%.200s\": vagrant box add would refuse the mix",
				 name, e->name);
	int r = 0;
	json_t *versions = catalog_array(root, "versions", path, &r, err);
	if (!versions)
		return r;
	const char *prov = e->provider ? e->provider : "virtualbox";
	if ((r = catalog_check_url_style(versions, e, prov, path, err)) != 0)
		return r;

	json_t *ver = NULL;
	size_t nversions = json_array_size(versions);
	for (size_t i = 0; i < nversions; i++) {
		const char *vs = catalog_str(json_array_get(versions, i), "version");
		if (!vs)
			return bw_seterr(err, BW_EFORMAT, path,
					 "catalog: versions[%zu] has no \"version\" string",
					 i);
		/* Gem::Version equality: "1.0" is "1.0.0" to Vagrant. */
		if (!ver && gem_version_cmp(vs, e->version) == 0)
			ver = json_array_get(versions, i);
	}
	if (!ver) {
		ver = json_object();
		if (!ver || json_object_set_new(ver, "version", json_string(e->version)) ||
		    json_object_set_new(ver, "providers", json_array()) ||
		    json_array_append(versions, ver)) {
			json_decref(ver);
			return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
		}
		json_decref(ver);       /* VERSIONS holds it now */
	}
	json_t *providers = catalog_array(ver, "providers", path, &r, err);
	if (!providers)
		return r;

	json_t *p = json_object();
	if (!p || json_object_set_new(p, "name", json_string(prov)) ||
	    json_object_set_new(p, "url", json_string(e->url)) ||
	    json_object_set_new(p, "checksum_type", json_string(CATALOG_CHECKSUM_TYPE)) ||
	    json_object_set_new(p, "checksum", json_string(sha)) ||
	    json_object_set_new(p, "architecture", json_string(CATALOG_ARCHITECTURE))) {
		json_decref(p);
		return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
	}
	/* Replace the provider of that name in place (catalog_same_box);
	 * one that names another architecture is another box and stays. */
	int placed = 0;
	for (size_t i = 0; i < json_array_size(providers);) {
		const json_t *old = json_array_get(providers, i);
		const char *pn = catalog_str(old, "name");
		if (!pn) {
			json_decref(p);
			return bw_seterr(err, BW_EFORMAT, path,
					 "catalog: version %s: providers[%zu] has no \"name\" string",
					 catalog_str(ver, "version"), i);
		}
		if (!catalog_same_box(old, prov)) {
			i++;
			continue;
		}
		if (!placed) {
			if (json_array_set(providers, i, p)) {   /* frees the old one */
				json_decref(p);
				return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
			}
			placed = 1;
			i++;
		} else {
			json_array_remove(providers, i);
		}
	}
	r = !placed && json_array_append(providers, p);
	json_decref(p);                 /* PROVIDERS holds it now, if placed */
	if (r)
		return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");

	/* Versions in ascending Gem::Version order. */
	size_t n = json_array_size(versions);
	if (n > 1) {
		struct version_ref *refs = calloc(n, sizeof *refs);
		if (!refs)
			return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
		for (size_t i = 0; i < n; i++) {
			/* A reference of our own: json_array_set_new below
			 * drops the array's reference to what it replaces,
			 * which may still be waiting for its own slot. */
			refs[i].v = json_incref(json_array_get(versions, i));
			refs[i].index = i;
		}
		qsort(refs, n, sizeof *refs, version_ref_cmp);
		for (size_t i = 0; i < n; i++)
			json_array_set_new(versions, i, refs[i].v);  /* takes ours */
		free(refs);
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------- */

/* ROOT as the file's text: two-space indent, members in their order, a
 * final newline.  Reals are written with 17 significant digits (jansson's
 * default), so that every value reads back exactly. */
static int catalog_text(const json_t *root, const char *path, char **out,
			struct bw_error *err)
{
	char *body = json_dumps(root, JSON_INDENT(2));
	size_t len = body ? strlen(body) : 0;
	char *text = body ? realloc(body, len + 2) : NULL;
	if (!text) {
		free(body);
		return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
	}
	text[len] = '\n';
	text[len + 1] = '\0';
	*out = text;
	return 0;
}

/* Write TEXT to a temporary file beside PATH, fsync it and rename it over
 * PATH; then fsync the directory so that the rename itself is durable.
 * MODE: an existing catalog's own; a new one is 0644 whatever the umask,
 * as it is made to be served to `vagrant box add`. */
static int catalog_replace(const char *path, int dir_fd, const char *text,
			   mode_t mode, struct bw_error *err)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
		return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int r = bw_seterr(err, BW_EIO, path,
				  "cannot create a temporary file beside it: %s",
				  strerror(errno));
		free(tmp);
		return r;
	}
	int r = 0;
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = bw_seterr(err, BW_EIO, tmp, "write: %s", strerror(errno));
			goto fail;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		r = bw_seterr(err, BW_EIO, tmp, "chmod/fsync: %s", strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = bw_seterr(err, BW_EIO, tmp, "close: %s", strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = bw_seterr(err, BW_EIO, path, "rename from %s: %s", tmp,
			      strerror(errno));
		goto fail;
	}
	free(tmp);
	if (fsync(dir_fd) != 0 && errno != EINVAL)
		return bw_seterr(err, BW_EIO, path, "fsync of its directory: %s",
				 strerror(errno));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return r;
}

/* The directory holding PATH, opened for the lock and the fsync. */
static int catalog_open_dir(const char *path, int *dir_fd, struct bw_error *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : strdup(".");
	if (!dir)
		return bw_seterr(err, BW_ENOMEM, path, "catalog: out of memory");
	*dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;
	if (*dir_fd < 0)
		r = bw_seterr(err, BW_EIO, path, "cannot open its directory %s: %s",
			      dir, strerror(errno));
	else if (flock(*dir_fd, LOCK_EX) != 0)
		r = bw_seterr(err, BW_EIO, path, "cannot lock its directory %s: %s",
			      dir, strerror(errno));
	if (r && *dir_fd >= 0) {
		close(*dir_fd);
		*dir_fd = -1;
	}
	free(dir);
	return r;
}

int bw_catalog_update(const char *path, const struct bw_catalog_entry *e,
		      struct bw_error *err)
{
	char sha[65];
	if (!path || !e)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "bw_catalog_update: a path and an entry are required");
	int r = catalog_check_entry(path, e, sha, err);
	if (r)
		return r;
	int dir_fd = -1;
	if ((r = catalog_open_dir(path, &dir_fd, err)) != 0)
		return r;

	json_t *root = NULL;
	int existed = 0;
	mode_t mode = 0644;
	char *text = NULL;
	if ((r = catalog_load(path, e, &root, &existed, &mode, err)) != 0 ||
	    (r = catalog_edit(root, e, sha, path, err)) != 0)
		goto out;
	if ((r = catalog_text(root, path, &text, err)) != 0)
		goto out;
	r = catalog_replace(path, dir_fd, text, mode, err);
out:
	free(text);
	json_decref(root);
	close(dir_fd);          /* releases the lock */
	return r;
}

int bw_catalog_check(const char *path, const struct bw_catalog_entry *e,
		     struct bw_error *err)
{
	/* The URL and checksum are the box's, not known yet: stand-ins
	 * that pass, so that only the catalog and the entry's names and
	 * version are judged. */
	static const char zero_sha[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	struct bw_catalog_entry probe = *e;
	char sha[65];
	if (!probe.url)
		probe.url = "file:///boxwright-catalog-check";
	probe.sha256 = zero_sha;
	if (!path)
		return bw_seterr(err, BW_EINVAL, NULL, "bw_catalog_check: a path is required");
	int r = catalog_check_entry(path, &probe, sha, err);
	if (r)
		return r;
	json_t *root = NULL;
	int existed = 0;
	mode_t mode = 0644;
	if ((r = catalog_load(path, &probe, &root, &existed, &mode, err)) == 0)
		r = catalog_edit(root, &probe, sha, path, err);
	json_decref(root);
	return r;
}

/* ---- SHA-256 ---------------------------------------------------------------- */

int bw_sha256_file(const char *path, char out[65], struct bw_error *err)
{
	uint8_t digest[BW_SHA256_SIZE];
	int r = bw_sha256_file_digest(path, digest, NULL, NULL, err);
	if (r)
		return r;
	return bw_hex_encode(digest, sizeof digest, out, 65);
}

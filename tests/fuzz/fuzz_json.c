/*
 * libFuzzer harness for JSON input: the catalog (src/box/catalog.c) and
 * batch's manifest lines both read through box_json_load
 * (src/box/json_load.c: the limits pre-scan, then jansson).
 *  1. Every input is loaded; a loaded tree is dumped as the catalog is
 *     written (JSON_INDENT(2)) and loaded again, which must succeed and
 *     dump to the same text (what we write, we read back, stably).
 *  2. The input is also an existing catalog for bw_catalog_update (the
 *     edit walks whatever tree jansson built: wrong types, missing
 *     members); when the update succeeds the new catalog must load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box/json_load.h"
#include "boxwright/box.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char catalog_path[4096];

static void round_trip(const uint8_t *data, size_t size)
{
	struct bw_error err;
	json_t *v = NULL, *w = NULL;
	if (box_json_load((const char *)data, size, "fuzz", &v, &err) != 0)
		return;
	char *a = json_dumps(v, JSON_INDENT(2));
	if (!a || box_json_load(a, strlen(a), "fuzz", &w, &err) != 0)
		abort();
	char *b = json_dumps(w, JSON_INDENT(2));
	if (!b || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_decref(v);
	json_decref(w);
}

static void catalog_update(const uint8_t *data, size_t size)
{
	if (!catalog_path[0]) {
		/* tmpfs when there is one: each update fsyncs */
		char dir[64];
		snprintf(dir, sizeof dir, "%s/fuzz_json.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(dir))
			abort();
		snprintf(catalog_path, sizeof catalog_path, "%s/catalog.json", dir);
	}
	FILE *f = fopen(catalog_path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	static const struct bw_catalog_entry e = {
		.name = "b", .version = "1.0", .provider = "virtualbox",
		.url = "https://h/b.box",
		.sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	};
	struct bw_error err;
	if (bw_catalog_update(catalog_path, &e, &err) != 0)
		return;
	f = fopen(catalog_path, "rb");
	char *text = malloc(BW_CATALOG_MAX_BYTES + 1);
	size_t n = f && text ? fread(text, 1, BW_CATALOG_MAX_BYTES + 1, f) : 0;
	json_t *v = NULL;
	if (!f || !text || box_json_load(text, n, "fuzz", &v, &err) != 0)
		abort();
	fclose(f);
	free(text);
	json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	round_trip(data, size);
	catalog_update(data, size);
	return 0;
}

/*
 * box_write VMDK OUT.box [--gzip] [--catalog CATALOG BOX_NAME VERSION URL]
 *           [--vm-name N] [--user U] [--password P] [--hardware-uuid U]
 *           [--memory MB] [--cpus N]
 *
 * Pack VMDK (a streamOptimized disk) into the Vagrant box OUT.box through
 * bw_box_write, with the library's defaults, so that tests can check the
 * box with tar, python3, qemu-img and Vagrant.  With --catalog, also add
 * the box to the catalog CATALOG under BOX_NAME / VERSION at URL with its
 * SHA-256.  Prints "sha256 HEX" on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boxwright/box.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
usage:
		fprintf(stderr, "usage: box_write VMDK OUT.box [--gzip] [--catalog CATALOG BOX_NAME VERSION URL]\n"
			"                 [--vm-name N] [--user U] [--password P] [--hardware-uuid U] [--memory MB] [--cpus N]\n");
		return 2;
	}
	struct bw_box_opts o = { .vmdk_path = argv[1] };
	const char *catalog = NULL, *box_name = NULL, *version = NULL, *url = NULL;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--gzip") == 0) {
			o.gzip = 1;
		} else if (strcmp(argv[i], "--catalog") == 0 && i + 4 < argc) {
			catalog = argv[++i];
			box_name = argv[++i];
			version = argv[++i];
			url = argv[++i];
		} else if (strcmp(argv[i], "--vm-name") == 0 && i + 1 < argc) {
			o.vm_name = argv[++i];
		} else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
			o.winrm_user = argv[++i];
		} else if (strcmp(argv[i], "--password") == 0 && i + 1 < argc) {
			o.winrm_password = argv[++i];
		} else if (strcmp(argv[i], "--hardware-uuid") == 0 && i + 1 < argc) {
			o.hardware_uuid = argv[++i];
		} else if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc) {
			o.memory_mb = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--cpus") == 0 && i + 1 < argc) {
			o.cpus = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			goto usage;
		}
	}
	struct bw_error e;
	bw_error_clear(&e);
	int r = bw_box_write(argv[2], &o, &e);
	char sha[65];
	if (!r)
		r = bw_sha256_file(argv[2], sha, &e);
	if (!r && catalog) {
		struct bw_catalog_entry ce = {
			.name = box_name, .version = version,
			.provider = "virtualbox", .url = url, .sha256 = sha,
		};
		r = bw_catalog_update(catalog, &ce, &e);
	}
	if (r) {
		fprintf(stderr, "box_write: %s (%s)\n", e.msg, bw_strerror(r));
		return bw_exit_status(r);
	}
	printf("sha256 %s\n", sha);
	return 0;
}

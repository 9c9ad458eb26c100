/*
 * box_write DISK OUT.box [--gzip] [--catalog CATALOG BOX_NAME VERSION URL]
 *           [--vm-name N] [--user U] [--password P] [--hardware-uuid U]
 *           [--memory MB] [--cpus N] [--provider virtualbox|libvirt]
 *           [--disk-bus ide|sata] [--efi] [--winrm-plaintext]
 *           [--mtime SECONDS] [--mac HEX12] [--disk-uuid U]
 *           [--machine-uuid U]
 *
 * Pack DISK (a streamOptimized VMDK for virtualbox, a qcow2 for libvirt)
 * into the Vagrant box OUT.box through bw_box_write, with the library's
 * defaults, so that tests can check the box with tar, python3, qemu-img
 * and Vagrant.  With --catalog, also add
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
			"                 [--vm-name N] [--user U] [--password P] [--hardware-uuid U] [--memory MB] [--cpus N]\n"
			"                 [--provider virtualbox|libvirt] [--disk-bus ide|sata] [--efi] [--winrm-plaintext]\n"
			"                 [--mtime SECONDS] [--mac HEX12] [--disk-uuid U] [--machine-uuid U]\n");
		return 2;
	}
	struct bw_box_opts o = { .disk_path = argv[1] };
	struct bw_error e;
	bw_error_clear(&e);
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
		} else if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc) {
			if (bw_box_provider_parse(argv[++i], &o.provider, &e))
				goto usage;
		} else if (strcmp(argv[i], "--disk-bus") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "sata") == 0)
				o.disk_bus = BW_BOX_BUS_SATA;
			else if (strcmp(argv[i], "ide") == 0)
				o.disk_bus = BW_BOX_BUS_IDE;
			else
				goto usage;
		} else if (strcmp(argv[i], "--efi") == 0) {
			o.firmware_efi = 1;
		} else if (strcmp(argv[i], "--winrm-plaintext") == 0) {
			o.winrm_plaintext = 1;
		} else if (strcmp(argv[i], "--mtime") == 0 && i + 1 < argc) {
			o.mtime = strtoll(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--mac") == 0 && i + 1 < argc) {
			o.mac = argv[++i];
		} else if (strcmp(argv[i], "--disk-uuid") == 0 && i + 1 < argc) {
			o.disk_uuid = argv[++i];
		} else if (strcmp(argv[i], "--machine-uuid") == 0 && i + 1 < argc) {
			o.machine_uuid = argv[++i];
		} else {
			goto usage;
		}
	}
	int r = bw_box_write(argv[2], &o, &e);
	char sha[65];
	if (!r)
		r = bw_sha256_file(argv[2], sha, &e);
	if (!r && catalog) {
		struct bw_catalog_entry ce = {
			.name = box_name, .version = version,
			.provider = bw_box_provider_name(o.provider), .url = url,
			.sha256 = sha,
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

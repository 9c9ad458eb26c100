/*
 * bw_box_write: one Vagrant .box for one provider, through the shared tar
 * writer (tar.c).
 *  - virtualbox (FORMATS.md "Vagrant box (virtualbox provider)"): box.ovf,
 *    metadata.json {"provider":"virtualbox"}, the Vagrantfile and the
 *    streamOptimized VMDK.
 *  - libvirt (FORMATS.md "Other Vagrant providers"; libvirt.c): metadata.json
 *    {"provider":"libvirt","format":"qcow2","virtual_size":GiB}, the
 *    Vagrantfile and box.img, the qcow2.
 *  - hyperv (hyperv.c): "Virtual Machines/NAME.xml", metadata.json
 *    {"provider":"hyperv"}, the Vagrantfile and "Virtual Hard
 *    Disks/NAME.vhd" (Generation 1) or ".vhdx" (Generation 2).
 *  - vmware_desktop (vmware.c): NAME.vmx, metadata.json
 *    {"provider":"vmware_desktop"}, the Vagrantfile and NAME.vmdk,
 *    monolithicSparse.
 * Member order: the descriptor first (box.ovf: the OVA convention,
 * VirtualBox reads an appliance's descriptor first), then the small
 * metadata.json and Vagrantfile, and the disk last, so that readers
 * looking for the small files find them without reading past gigabytes
 * of disk.
 *
 * Why one entry point with a provider field rather than one function per
 * provider: the options (credentials, memory, CPUs, hardware UUID, WinRM
 * transport, firmware, reproducibility) are the same for every provider
 * and are validated by one box_resolve; bw_box_vagrantfile and
 * bw_box_metadata need the provider too, so that a dry run checks exactly
 * what the write will do; and a build that writes several boxes loops
 * over providers changing two fields (provider, disk_path).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "box/box_internal.h"

/* The VMDK must be the streamOptimized disk box.ovf declares (VMware's
 * OVF import needs one, FORMATS.md), and its capacity is the OVF's
 * ovf:capacity. */
static int box_check_vmdk(const char *path, uint64_t *capacity,
			  struct bw_error *err)
{
	struct bw_disk *d = NULL;
	int r = bw_disk_open(path, &d, err);
	if (r)
		return r;
	const char *fmt = bw_disk_format(d);
	if (strcmp(fmt, "vmdk-streamOptimized") != 0)
		r = bw_seterr(err, BW_EINVAL, path,
			      "a box needs a streamOptimized VMDK (box.ovf says so), found %s",
			      fmt);
	else
		*capacity = bw_disk_size(d);
	bw_disk_close(d);
	return r;
}

/* A fixed identity from the options, or a random version-4 UUID. */
static int box_uuid_or_random(const char *given, const char *what,
			      char out[37], struct bw_error *err)
{
	if (!given)
		return box_uuid_random(out, err);
	if (!bw_uuid_parse(given, out))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "%s \"%.64s\" is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
				 what, given);
	return 0;
}

/* The members of one box: the descriptor (box.ovf, the Hyper-V XML or
 * the .vmx; NULL for libvirt) and the disk. */
struct box_members {
	char desc[BW_BOX_MAX_NAME + 32];
	char disk[BW_BOX_MAX_NAME + 32];
};

/* Check the disk for R's provider, give its capacity and the members'
 * names (the Hyper-V disk's extension follows its format). */
static int box_check_disk(const struct box_resolved *res, int fd, const char *disk,
			  uint64_t *capacity, struct box_members *m,
			  struct bw_error *err)
{
	int r, vhdx = 0;
	m->desc[0] = '\0';
	switch (res->provider) {
	case BW_BOX_VIRTUALBOX:
		snprintf(m->desc, sizeof m->desc, "box.ovf");
		snprintf(m->disk, sizeof m->disk, "%s", BOX_DISK_NAME);
		return box_check_vmdk(disk, capacity, err);
	case BW_BOX_LIBVIRT:
		snprintf(m->disk, sizeof m->disk, "%s", BOX_LIBVIRT_DISK_NAME);
		return box_qcow2_check(fd, disk, capacity, err);
	case BW_BOX_HYPERV:
		r = box_hyperv_check_disk(disk, res->firmware_efi, capacity, &vhdx, err);
		snprintf(m->desc, sizeof m->desc, BOX_HYPERV_VM_DIR "%s.xml", res->vm_name);
		snprintf(m->disk, sizeof m->disk, BOX_HYPERV_DISK_DIR "%s.%s", res->vm_name,
			 vhdx ? "vhdx" : "vhd");
		return r;
	case BW_BOX_VMWARE:
		snprintf(m->desc, sizeof m->desc, "%s.vmx", res->vm_name);
		snprintf(m->disk, sizeof m->disk, "%s.vmdk", res->vm_name);
		return box_vmware_check_disk(disk, capacity, err);
	}
	return bw_seterr(err, BW_EINVAL, NULL, "box provider %d unknown", (int)res->provider);
}

int bw_box_write(const char *out_path, const struct bw_box_opts *o,
		 struct bw_error *err)
{
	if (!out_path || !o || !(o->disk_path || o->vmdk_path))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "bw_box_write: an output path and a disk path are required");
	struct box_resolved res;
	int r = box_resolve(o, &res, err);
	if (r)
		return r;
	const char *disk = res.disk_path;
	int vbox = res.provider == BW_BOX_VIRTUALBOX;

	char disk_uuid[37], machine_uuid[37];
	if (vbox &&
	    ((r = box_uuid_or_random(o->disk_uuid, "disk UUID", disk_uuid,
				     err)) != 0 ||
	     (r = box_uuid_or_random(o->machine_uuid, "machine UUID",
				     machine_uuid, err)) != 0))
		return r;

	char *desc = NULL, *vagrantfile = NULL, *metadata = NULL;
	struct box_tar *tar = NULL;
	struct box_members m;
	uint64_t capacity = 0;
	int disk_fd = open(disk, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (disk_fd < 0 || fstat(disk_fd, &st) != 0) {
		r = bw_seterr(err, errno == ENOENT ? BW_ENOTFOUND : BW_EIO,
			      disk, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = bw_seterr(err, BW_EINVAL, disk, "not a regular file");
		goto out;
	}
	if ((r = box_check_disk(&res, disk_fd, disk, &capacity, &m, err)) != 0)
		goto out;
	if (o->disk_capacity && o->disk_capacity != capacity) {
		r = bw_seterr(err, BW_EINVAL, disk,
			      "disk capacity: expected %" PRIu64 " bytes, the disk holds %" PRIu64,
			      o->disk_capacity, capacity);
		goto out;
	}

	switch (res.provider) {
	case BW_BOX_VIRTUALBOX:
		r = box_ovf_text(&res, capacity, disk_uuid, machine_uuid, &desc, err);
		break;
	case BW_BOX_HYPERV:
		r = box_hyperv_xml_text(&res, m.disk, &desc, err);
		break;
	case BW_BOX_VMWARE:
		r = box_vmx_text(&res, m.disk, &desc, err);
		break;
	case BW_BOX_LIBVIRT:
		break;
	}
	if (r || (r = box_metadata_text(&res, capacity, &metadata, err)) != 0 ||
	    (r = box_vagrantfile_text(&res, &vagrantfile, err)) != 0)
		goto out;

	if ((r = box_tar_open(out_path, o->gzip, res.mtime, &tar, err)) != 0)
		goto out;
	if ((desc && (r = box_tar_add_text(tar, m.desc, desc, err)) != 0) ||
	    (r = box_tar_add_text(tar, "metadata.json", metadata, err)) != 0 ||
	    (r = box_tar_add_text(tar, "Vagrantfile", vagrantfile, err)) != 0 ||
	    (r = box_tar_add_file(tar, m.disk, disk_fd, (uint64_t)st.st_size, disk,
				  err)) != 0 ||
	    (r = box_tar_close(tar, err)) != 0)
		goto out;
	tar = NULL;   /* closed and freed */
out:
	if (r)
		box_tar_abort(tar);
	if (disk_fd >= 0)
		close(disk_fd);
	free(desc);
	free(metadata);
	free(vagrantfile);
	return r;
}

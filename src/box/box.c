/*
 * bw_box_write: one Vagrant .box for one provider, through the shared tar
 * writer (tar.c).
 *  - virtualbox (FORMATS.md "Vagrant box (virtualbox provider)"): box.ovf,
 *    metadata.json {"provider":"virtualbox"}, the Vagrantfile and the
 *    streamOptimized VMDK.
 *  - libvirt (FORMATS.md "Other Vagrant providers"; libvirt.c): metadata.json
 *    {"provider":"libvirt","format":"qcow2","virtual_size":GiB}, the
 *    Vagrantfile and box.img, the qcow2.
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

	char *ovf = NULL, *vagrantfile = NULL, *metadata = NULL;
	struct box_tar *tar = NULL;
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
	r = vbox ? box_check_vmdk(disk, &capacity, err)
		 : box_qcow2_check(disk_fd, disk, &capacity, err);
	if (r)
		goto out;
	if (o->disk_capacity && o->disk_capacity != capacity) {
		r = bw_seterr(err, BW_EINVAL, disk,
			      "disk capacity: expected %" PRIu64 " bytes, the disk holds %" PRIu64,
			      o->disk_capacity, capacity);
		goto out;
	}

	if ((vbox && (r = box_ovf_text(&res, capacity, disk_uuid,
				       machine_uuid, &ovf, err)) != 0) ||
	    (r = box_metadata_text(&res, capacity, &metadata, err)) != 0 ||
	    (r = box_vagrantfile_text(&res, &vagrantfile, err)) != 0)
		goto out;

	if ((r = box_tar_open(out_path, o->gzip, res.mtime, &tar, err)) != 0)
		goto out;
	if ((vbox && (r = box_tar_add_text(tar, "box.ovf", ovf, err)) != 0) ||
	    (r = box_tar_add_text(tar, "metadata.json", metadata, err)) != 0 ||
	    (r = box_tar_add_text(tar, "Vagrantfile", vagrantfile, err)) != 0 ||
	    (r = box_tar_add_file(tar, vbox ? BOX_DISK_NAME
					    : BOX_LIBVIRT_DISK_NAME,
				  disk_fd, (uint64_t)st.st_size, disk,
				  err)) != 0 ||
	    (r = box_tar_close(tar, err)) != 0)
		goto out;
	tar = NULL;   /* closed and freed */
out:
	if (r)
		box_tar_abort(tar);
	if (disk_fd >= 0)
		close(disk_fd);
	free(ovf);
	free(metadata);
	free(vagrantfile);
	return r;
}

/*
 * bw_box_write: a Vagrant .box for the virtualbox provider (FORMATS.md
 * "Vagrant box (virtualbox provider)") is a tar of box.ovf, the disk it
 * references, metadata.json {"provider":"virtualbox"} and a Vagrantfile,
 * optionally gzip-compressed.  Vagrant unpacks it with bsdtar
 * (lib/vagrant/box_collection.rb), so any tar bsdtar reads would do; this
 * writes POSIX ustar through libarchive's "pax restricted" writer, which
 * adds a pax extended header only for what ustar cannot hold (a disk of
 * 8 GiB or more).
 *
 * Entry order: box.ovf first (the OVA convention: VirtualBox reads an
 * appliance's descriptor first), then the small metadata.json and
 * Vagrantfile, and the disk last, so that readers looking for the small
 * files find them without reading past gigabytes of disk.
 *
 * This is the one place where libarchive's ARCHIVE_* statuses become
 * BW_* codes (box_archive_error).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "boxwright/disk.h"
#include "box/box_internal.h"
#include "common/writeback.h"

/* The disk is copied through a buffer of this size, never loaded whole. */
#define BOX_COPY_CHUNK (1u << 20)

/* libarchive's output block: bigger than tar's traditional 10240 bytes so
 * that multi-gigabyte disks are written in fewer system calls.  Readers
 * of files do not care about the blocking. */
#define BOX_TAR_BLOCK (64u << 10)

static const char box_metadata_json[] = "{\"provider\":\"virtualbox\"}\n";

/* The tar's output: libarchive's fd writer plus an early-writeback hint
 * (common/writeback.h), since the box is fsynced before its rename. */
struct box_out {
	int fd;
	uint64_t pos, written_back;
};

static la_ssize_t box_out_write(struct archive *a, void *ctx, const void *buf,
				size_t len)
{
	struct box_out *o = ctx;
	for (;;) {
		ssize_t n = write(o->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			archive_set_error(a, e, "write error: %s", strerror(e));
			return -1;
		}
		o->pos += (uint64_t)n;
		bw_writeback_hint(o->fd, &o->written_back, o->pos);
		return n;   /* libarchive calls again for the rest */
	}
}

/* An ARCHIVE_* failure as a BW_* code: ENOMEM inside libarchive is
 * BW_ENOMEM, everything else (write errors, refused headers) BW_EIO. */
static int box_archive_error(struct archive *a, int status,
			     const char *out_path, const char *what,
			     struct bw_error *err)
{
	const char *msg = archive_error_string(a);
	int code = archive_errno(a) == ENOMEM ? BW_ENOMEM : BW_EIO;
	return bw_seterr(err, code, out_path, "%s: libarchive %s: %s", what,
			 status == ARCHIVE_WARN ? "warning"
			 : status == ARCHIVE_FATAL ? "fatal error" : "error",
			 msg ? msg : "unknown error");
}

/* A regular-file entry header: mode 0644, owner 0:0, the given mtime. */
static int box_entry_header(struct archive *a, const char *name, int64_t size,
			    time_t mtime, const char *out_path,
			    struct bw_error *err)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return bw_seterr(err, BW_ENOMEM, out_path,
				 "tar entry %s: out of memory", name);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	/* ARCHIVE_WARN is refused as well: with these fixed ASCII names
	 * and sizes a warning means something unexpected was dropped. */
	int s = archive_write_header(a, e);
	archive_entry_free(e);
	if (s != ARCHIVE_OK)
		return box_archive_error(a, s, out_path, name, err);
	return 0;
}

static int box_write_data(struct archive *a, const void *data, size_t len,
			  const char *name, const char *out_path,
			  struct bw_error *err)
{
	la_ssize_t n = archive_write_data(a, data, len);
	if (n < 0)
		return box_archive_error(a, (int)n, out_path, name, err);
	if ((size_t)n != len)
		return bw_seterr(err, BW_EIO, out_path,
				 "%s: libarchive took %zd of %zu bytes", name,
				 (ssize_t)n, len);
	return 0;
}

static int box_add_text(struct archive *a, const char *name, const char *text,
			time_t mtime, const char *out_path,
			struct bw_error *err)
{
	size_t len = strlen(text);
	int r = box_entry_header(a, name, (int64_t)len, mtime, out_path, err);
	if (r)
		return r;
	return box_write_data(a, text, len, name, out_path, err);
}

/* Stream the disk file into its entry, BOX_COPY_CHUNK at a time.  The
 * entry size is fixed by the header before the copy, so a file that
 * changes size meanwhile is an error rather than a corrupt tar. */
static int box_add_disk(struct archive *a, int fd, uint64_t size,
			time_t mtime, const char *vmdk_path,
			const char *out_path, struct bw_error *err)
{
	int r = box_entry_header(a, BOX_DISK_NAME, (int64_t)size, mtime,
				 out_path, err);
	if (r)
		return r;
	uint8_t *buf = malloc(BOX_COPY_CHUNK);
	if (!buf)
		return bw_seterr(err, BW_ENOMEM, out_path,
				 "disk copy buffer: out of memory");
	uint64_t done = 0;
	while (done < size) {
		size_t want = size - done < BOX_COPY_CHUNK
			      ? (size_t)(size - done) : BOX_COPY_CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = bw_seterr(err, BW_EIO, vmdk_path,
				      "read at offset %" PRIu64 ": %s", done,
				      strerror(errno));
			goto out;
		}
		if (n == 0) {
			r = bw_seterr(err, BW_EIO, vmdk_path,
				      "file ended at offset %" PRIu64 " while being packed (expected %" PRIu64 " bytes): it changed meanwhile",
				      done, size);
			goto out;
		}
		r = box_write_data(a, buf, (size_t)n, BOX_DISK_NAME, out_path,
				   err);
		if (r)
			goto out;
		done += (uint64_t)n;
	}
out:
	free(buf);
	return r;
}

/* The VMDK must be the streamOptimized disk box.ovf declares (VMware's
 * OVF import needs one, FORMATS.md), and its capacity is the OVF's
 * ovf:capacity: a caller's disk_capacity that disagrees is refused. */
static int box_check_disk(const struct bw_box_opts *o, uint64_t *capacity,
			  struct bw_error *err)
{
	struct bw_disk *d = NULL;
	int r = bw_disk_open(o->vmdk_path, &d, err);
	if (r)
		return r;
	const char *fmt = bw_disk_format(d);
	uint64_t size = bw_disk_size(d);
	if (strcmp(fmt, "vmdk-streamOptimized") != 0) {
		r = bw_seterr(err, BW_EINVAL, o->vmdk_path,
			      "a box needs a streamOptimized VMDK (box.ovf says so), found %s",
			      fmt);
	} else if (o->disk_capacity && o->disk_capacity != size) {
		r = bw_seterr(err, BW_EINVAL, o->vmdk_path,
			      "disk capacity: expected %" PRIu64 " bytes, the VMDK holds %" PRIu64,
			      o->disk_capacity, size);
	}
	bw_disk_close(d);
	if (!r)
		*capacity = size;
	return r;
}

int bw_box_write(const char *out_path, const struct bw_box_opts *o,
		 struct bw_error *err)
{
	if (!out_path || !o || !o->vmdk_path)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "bw_box_write: an output path and a VMDK path are required");
	struct box_resolved res;
	int r = box_resolve(o, &res, err);
	if (r)
		return r;
	uint64_t capacity = 0;
	if ((r = box_check_disk(o, &capacity, err)) != 0)
		return r;

	char disk_uuid[37], machine_uuid[37];
	if (o->disk_uuid) {
		if (!bw_uuid_parse(o->disk_uuid, disk_uuid))
			return bw_seterr(err, BW_EINVAL, NULL,
					 "disk UUID \"%.64s\" is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
					 o->disk_uuid);
	} else if ((r = box_uuid_random(disk_uuid, err)) != 0) {
		return r;
	}
	if (o->machine_uuid) {
		if (!bw_uuid_parse(o->machine_uuid, machine_uuid))
			return bw_seterr(err, BW_EINVAL, NULL,
					 "machine UUID \"%.64s\" is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
					 o->machine_uuid);
	} else if ((r = box_uuid_random(machine_uuid, err)) != 0) {
		return r;
	}

	char *ovf = NULL, *vagrantfile = NULL;
	struct archive *a = NULL;
	int vmdk_fd = -1, out_fd = -1, created = 0;

	if ((r = box_ovf_text(&res, capacity, disk_uuid, machine_uuid, &ovf,
			      err)) != 0 ||
	    (r = box_vagrantfile_text(&res, &vagrantfile, err)) != 0)
		goto out;

	vmdk_fd = open(o->vmdk_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (vmdk_fd < 0 || fstat(vmdk_fd, &st) != 0) {
		r = bw_seterr(err, BW_EIO, o->vmdk_path, "cannot open: %s",
			      strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = bw_seterr(err, BW_EINVAL, o->vmdk_path,
			      "not a regular file");
		goto out;
	}

	out_fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out_fd < 0) {
		r = bw_seterr(err, BW_EIO, out_path, "cannot create: %s",
			      strerror(errno));
		goto out;
	}
	created = 1;
	struct box_out sink = { .fd = out_fd };

	a = archive_write_new();
	if (!a) {
		r = bw_seterr(err, BW_ENOMEM, out_path,
			      "libarchive: out of memory");
		goto out;
	}
	int s = archive_write_set_format_pax_restricted(a);
	if (s == ARCHIVE_OK)
		s = o->gzip ? archive_write_add_filter_gzip(a)
			    : archive_write_add_filter_none(a);
	if (s == ARCHIVE_OK)
		s = archive_write_set_bytes_per_block(a, BOX_TAR_BLOCK);
	/* No padding after the end-of-archive records: the tar is already
	 * whole 512-byte records, and zeros after a gzip stream make
	 * `gzip -d` warn about trailing garbage. */
	if (s == ARCHIVE_OK)
		s = archive_write_set_bytes_in_last_block(a, 1);
	if (s == ARCHIVE_OK)
		s = archive_write_open2(a, &sink, NULL, box_out_write, NULL, NULL);
	if (s != ARCHIVE_OK) {
		r = box_archive_error(a, s, out_path, "setting up the tar", err);
		goto out;
	}

	time_t now = time(NULL);
	if ((r = box_add_text(a, "box.ovf", ovf, now, out_path, err)) != 0 ||
	    (r = box_add_text(a, "metadata.json", box_metadata_json, now,
			      out_path, err)) != 0 ||
	    (r = box_add_text(a, "Vagrantfile", vagrantfile, now, out_path,
			      err)) != 0 ||
	    (r = box_add_disk(a, vmdk_fd, (uint64_t)st.st_size, now,
			      o->vmdk_path, out_path, err)) != 0)
		goto out;

	/* close flushes the end-of-archive records and the gzip trailer:
	 * its status is the archive's. */
	s = archive_write_close(a);
	if (s != ARCHIVE_OK) {
		r = box_archive_error(a, s, out_path, "finishing the tar", err);
		goto out;
	}
	if (fsync(out_fd) != 0) {
		r = bw_seterr(err, BW_EIO, out_path, "fsync: %s",
			      strerror(errno));
		goto out;
	}
	int fd = out_fd;
	out_fd = -1;
	if (close(fd) != 0) {
		r = bw_seterr(err, BW_EIO, out_path, "close: %s",
			      strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (a)
		archive_write_free(a);   /* after close: only frees */
	if (out_fd >= 0)
		close(out_fd);
	if (vmdk_fd >= 0)
		close(vmdk_fd);
	/* The output is ours (O_EXCL): never leave a partial box behind. */
	if (r && created)
		unlink(out_path);
	free(ovf);
	free(vagrantfile);
	return r;
}

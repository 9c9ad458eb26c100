/*
 * The .box tar, shared by every provider's box (FORMATS.md "Vagrant box",
 * "Other Vagrant providers").  Vagrant unpacks a box with bsdtar
 * (lib/vagrant/box_collection.rb), so any tar bsdtar reads would do; this
 * writes POSIX ustar through libarchive's "pax restricted" writer, which
 * adds a pax extended header only for what ustar cannot hold (a disk of
 * 8 GiB or more; libarchive names that header "PaxHeader/<name>", without
 * a process id, so it does not break reproducibility).
 *
 * Reproducible output: every member is 0644, owned by 0:0 with no user or
 * group name, and carries the one mtime the caller gives; a gzip box
 * stores no timestamp in its gzip header (libarchive's "timestamp" option
 * off), so the bytes depend only on the members.
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
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "box/box_internal.h"
#include "common/writeback.h"

/* A disk is copied through a buffer of this size, never loaded whole. */
#define BOX_COPY_CHUNK (1u << 20)

/* libarchive's output block: bigger than tar's traditional 10240 bytes so
 * that multi-gigabyte disks are written in fewer system calls.  Readers
 * of files do not care about the blocking. */
#define BOX_TAR_BLOCK (64u << 10)

struct box_tar {
	struct archive *a;
	int fd;
	uint64_t pos, written_back;
	time_t mtime;
	const char *out_path;
};

/* libarchive's write callback, plus an early-writeback hint
 * (common/writeback.h), since the box is fsynced before its rename. */
static la_ssize_t box_tar_write_cb(struct archive *a, void *ctx,
				   const void *buf, size_t len)
{
	struct box_tar *t = ctx;
	for (;;) {
		ssize_t n = write(t->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			archive_set_error(a, e, "write error: %s", strerror(e));
			return -1;
		}
		t->pos += (uint64_t)n;
		bw_writeback_hint(t->fd, &t->written_back, t->pos);
		return n;   /* libarchive calls again for the rest */
	}
}

/* An ARCHIVE_* failure as a BW_* code: ENOMEM inside libarchive is
 * BW_ENOMEM, everything else (write errors, refused headers) BW_EIO. */
static int box_archive_error(struct box_tar *t, int status, const char *what,
			     struct bw_error *err)
{
	const char *msg = archive_error_string(t->a);
	int code = archive_errno(t->a) == ENOMEM ? BW_ENOMEM : BW_EIO;
	return bw_seterr(err, code, t->out_path, "%s: libarchive %s: %s", what,
			 status == ARCHIVE_WARN ? "warning"
			 : status == ARCHIVE_FATAL ? "fatal error" : "error",
			 msg ? msg : "unknown error");
}

int box_tar_open(const char *out_path, int gzip, time_t mtime,
		 struct box_tar **out, struct bw_error *err)
{
	*out = NULL;
	struct box_tar *t = calloc(1, sizeof *t);
	if (!t)
		return bw_seterr(err, BW_ENOMEM, out_path, "tar: out of memory");
	t->out_path = out_path;
	t->mtime = mtime;
	t->fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (t->fd < 0) {
		int r = bw_seterr(err, BW_EIO, out_path, "cannot create: %s",
				  strerror(errno));
		free(t);
		return r;
	}
	int r = 0;
	t->a = archive_write_new();
	if (!t->a) {
		r = bw_seterr(err, BW_ENOMEM, out_path,
			      "libarchive: out of memory");
		goto fail;
	}
	int s = archive_write_set_format_pax_restricted(t->a);
	if (s == ARCHIVE_OK)
		s = gzip ? archive_write_add_filter_gzip(t->a)
			 : archive_write_add_filter_none(t->a);
	/* No mtime in the gzip header (RFC 1952 allows 0): the same
	 * members give the same bytes whenever they are packed. */
	if (s == ARCHIVE_OK && gzip)
		s = archive_write_set_filter_option(t->a, "gzip", "timestamp",
						    NULL);
	if (s == ARCHIVE_OK)
		s = archive_write_set_bytes_per_block(t->a, BOX_TAR_BLOCK);
	/* No padding after the end-of-archive records: the tar is already
	 * whole 512-byte records, and zeros after a gzip stream make
	 * `gzip -d` warn about trailing garbage. */
	if (s == ARCHIVE_OK)
		s = archive_write_set_bytes_in_last_block(t->a, 1);
	if (s == ARCHIVE_OK)
		s = archive_write_open2(t->a, t, NULL, box_tar_write_cb, NULL,
					NULL);
	if (s != ARCHIVE_OK) {
		r = box_archive_error(t, s, "setting up the tar", err);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	box_tar_abort(t);
	return r;
}

/* A regular-file member header: mode 0644, owner 0:0 without names. */
static int box_tar_header(struct box_tar *t, const char *name, int64_t size,
			  struct bw_error *err)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return bw_seterr(err, BW_ENOMEM, t->out_path,
				 "tar entry %s: out of memory", name);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, t->mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	/* ARCHIVE_WARN is refused as well: with these fixed ASCII names
	 * and sizes a warning means something unexpected was dropped. */
	int s = archive_write_header(t->a, e);
	archive_entry_free(e);
	if (s != ARCHIVE_OK)
		return box_archive_error(t, s, name, err);
	return 0;
}

static int box_tar_data(struct box_tar *t, const void *data, size_t len,
			const char *name, struct bw_error *err)
{
	la_ssize_t n = archive_write_data(t->a, data, len);
	if (n < 0)
		return box_archive_error(t, (int)n, name, err);
	if ((size_t)n != len)
		return bw_seterr(err, BW_EIO, t->out_path,
				 "%s: libarchive took %zd of %zu bytes", name,
				 (ssize_t)n, len);
	return 0;
}

int box_tar_add_text(struct box_tar *t, const char *name, const char *text,
		     struct bw_error *err)
{
	size_t len = strlen(text);
	int r = box_tar_header(t, name, (int64_t)len, err);
	if (r)
		return r;
	return box_tar_data(t, text, len, name, err);
}

int box_tar_add_file(struct box_tar *t, const char *name, int fd,
		     uint64_t size, const char *src_path, struct bw_error *err)
{
	if (size > INT64_MAX)
		return bw_seterr(err, BW_EINVAL, src_path,
				 "%" PRIu64 " bytes: too large for a tar member",
				 size);
	int r = box_tar_header(t, name, (int64_t)size, err);
	if (r)
		return r;
	uint8_t *buf = malloc(BOX_COPY_CHUNK);
	if (!buf)
		return bw_seterr(err, BW_ENOMEM, t->out_path,
				 "disk copy buffer: out of memory");
	uint64_t done = 0;
	while (done < size) {
		size_t want = size - done < BOX_COPY_CHUNK
			      ? (size_t)(size - done) : BOX_COPY_CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = bw_seterr(err, BW_EIO, src_path,
				      "read at offset %" PRIu64 ": %s", done,
				      strerror(errno));
			goto out;
		}
		/* The member's size is fixed by its header before the copy,
		 * so a file that shrinks meanwhile is an error rather than a
		 * corrupt tar. */
		if (n == 0) {
			r = bw_seterr(err, BW_EIO, src_path,
				      "file ended at offset %" PRIu64 " while being packed (expected %" PRIu64 " bytes): it changed meanwhile",
				      done, size);
			goto out;
		}
		r = box_tar_data(t, buf, (size_t)n, name, err);
		if (r)
			goto out;
		done += (uint64_t)n;
	}
out:
	free(buf);
	return r;
}

int box_tar_close(struct box_tar *t, struct bw_error *err)
{
	/* close flushes the end-of-archive records and the gzip trailer:
	 * its status is the archive's. */
	int s = archive_write_close(t->a);
	if (s != ARCHIVE_OK)
		return box_archive_error(t, s, "finishing the tar", err);
	if (fsync(t->fd) != 0)
		return bw_seterr(err, BW_EIO, t->out_path, "fsync: %s",
				 strerror(errno));
	int fd = t->fd;
	t->fd = -1;
	if (close(fd) != 0)
		return bw_seterr(err, BW_EIO, t->out_path, "close: %s",
				 strerror(errno));
	archive_write_free(t->a);   /* after close: only frees */
	free(t);
	return 0;
}

void box_tar_abort(struct box_tar *t)
{
	if (!t)
		return;
	if (t->a)
		archive_write_free(t->a);
	if (t->fd >= 0)
		close(t->fd);
	/* The output is ours (O_EXCL): never leave a partial box behind. */
	unlink(t->out_path);
	free(t);
}

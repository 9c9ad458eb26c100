/*
 * The driver interface behind bw_disk (qemu's BlockDriver idea, smaller):
 * each format supplies an ops table; disk.c probes, dispatches and checks
 * ranges so that drivers only see in-bounds requests.
 */
#ifndef BW_DISK_INTERNAL_H
#define BW_DISK_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "boxwright/disk.h"

struct bw_disk_ops {
	const char *name;
	/* Does the file look like ours?  HEAD/TAIL: first/last 512 bytes
	 * (TAIL is NULL when the file is shorter than 512 bytes). */
	int (*probe)(const uint8_t *head, const uint8_t *tail, uint64_t file_size);
	/* Validate headers and tables, set d->size and d->format, fill d->priv. */
	int (*open)(struct bw_disk *d, struct bw_error *err);
	/* In-bounds read (disk.c checked off+len <= size). */
	int (*pread)(struct bw_disk *d, uint8_t *buf, size_t len, uint64_t off,
		     struct bw_error *err);
	int (*next_data)(struct bw_disk *d, uint64_t off, uint64_t *start,
			 uint64_t *end, struct bw_error *err);
	void (*info)(struct bw_disk *d, struct bw_disk_info *info);
	/* The open parent of a differencing image, or NULL (NULL op: none). */
	struct bw_disk *(*parent)(struct bw_disk *d);
	void (*close)(struct bw_disk *d);
};

struct bw_disk {
	const struct bw_disk_ops *ops;
	char *path;
	int fd;
	uint64_t file_size;
	uint64_t size;          /* virtual size */
	const char *format;     /* static string */
	void *priv;
};

/* pread(2) that loops until LEN bytes are read; short file = BW_EFORMAT
 * naming WHAT at OFF. */
int bw_disk_read_file(struct bw_disk *d, void *buf, size_t len, uint64_t off,
		      const char *what, struct bw_error *err);

/*
 * The containers we recognise but do not read (probe.c), checked when no
 * driver claimed the file, before it is taken as raw.  TAIL: the last 512
 * bytes or NULL.  Returns 0 when the file matches none of them,
 * BW_EUNSUPPORTED naming the format and what to do instead, BW_EIO or
 * BW_ENOMEM.
 */
int bw_disk_probe_foreign(struct bw_disk *d, const uint8_t *tail,
			  struct bw_error *err);

extern const struct bw_disk_ops bw_disk_raw_ops;
extern const struct bw_disk_ops bw_disk_vhd_ops;
extern const struct bw_disk_ops bw_disk_vhdx_ops;
extern const struct bw_disk_ops bw_disk_vmdk_ops;

#endif

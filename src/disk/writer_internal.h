/*
 * The writer interface behind bw_writer: writer.c checks ordering and
 * bounds and dispatches; each container format supplies an ops table and
 * keeps its state in priv.  Drivers see in-order, in-bounds writes only.
 */
#ifndef BW_WRITER_INTERNAL_H
#define BW_WRITER_INTERNAL_H

#include <stdint.h>

#include "boxwright/disk.h"

struct bw_writer_ops {
	const char *name;
	/* w->fd, w->path, w->opts, w->size are set; fill w->priv. */
	int (*open)(struct bw_writer *w, struct bw_error *err);
	/* In order: off >= end of the previous write, off+len <= w->size. */
	int (*write)(struct bw_writer *w, const uint8_t *buf, size_t len,
		     uint64_t off, struct bw_error *err);
	/* Trailing metadata; writer.c then fsyncs and closes. */
	int (*finish)(struct bw_writer *w, struct bw_error *err);
	/* Free priv (after finish or on abort). */
	void (*free)(struct bw_writer *w);
	/* The virtual size the format really produces for O (a container
	 * may round the asked size up, as VHD does to its CHS product);
	 * NULL: exactly o->size.  Called before open, so it sees no priv. */
	uint64_t (*actual_size)(const struct bw_writer_opts *o);
};

struct bw_writer {
	const struct bw_writer_ops *ops;
	char *path;
	int fd;
	struct bw_writer_opts opts;
	uint64_t size;          /* the virtual size really produced */
	uint64_t next;          /* lowest offset the next write may use */
	uint64_t bytes_out;     /* file bytes written, maintained by drivers */
	uint64_t written_back;  /* where the last writeback hint ended */
	void *priv;
};

/* pwrite that loops until all LEN bytes are out; BW_EIO naming the file. */
int bw_writer_pwrite(struct bw_writer *w, const void *buf, size_t len,
		     uint64_t off, struct bw_error *err);

extern const struct bw_writer_ops bw_writer_raw_ops;
extern const struct bw_writer_ops bw_writer_vhd_ops;      /* fixed, dynamic, differencing */
extern const struct bw_writer_ops bw_writer_vmdk_ops;     /* streamOptimized */
extern const struct bw_writer_ops bw_writer_qcow2_ops;    /* v3, compressed clusters */
extern const struct bw_writer_ops bw_writer_vhdx_ops;     /* dynamic */
extern const struct bw_writer_ops bw_writer_vmdk_sparse_ops; /* monolithicSparse */

#endif

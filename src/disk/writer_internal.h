/*
 * The writer interface behind bw_writer: writer.c checks ordering and
 * bounds and dispatches; each container format supplies an ops table and
 * keeps its state in priv.  Drivers see in-order, in-bounds writes only.
 */
#ifndef BW_WRITER_INTERNAL_H
#define BW_WRITER_INTERNAL_H

#include <stddef.h>
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

/* 1 if the N bytes at P are all zero: word-wise in 256-byte blocks,
 * stopping at the first non-zero block (gcc vectorises the inner loop). */
int bw_writer_all_zero(const uint8_t *p, size_t n);

/*
 * A block stream (writer_blocks.c), for the writers that keep a block
 * table: the current block is buffered and handed to PUT once decided --
 * when it got a non-zero byte, or with a parent when it differs from the
 * parent's bytes there.  PUT stores BLK (BLOCK_SIZE bytes at DATA; zeros
 * past the virtual size) and records it; it returns 0 or a code.
 */
typedef int (*bw_wblocks_put_fn)(struct bw_writer *w, uint64_t blk,
				 const uint8_t *data, struct bw_error *err);
struct bw_wblocks {
	uint32_t block_size;
	uint64_t nblocks;           /* blocks covering the virtual size */
	uint8_t *block;             /* the buffered block, zero when clean */
	uint64_t cur;               /* its index, or none */
	int dirty;                  /* it holds a non-zero byte */
	bw_wblocks_put_fn put;
	struct bw_disk *parent;     /* differencing: the parent, only read */
	uint8_t *pblock;            /* the parent's bytes of one block */
	uint64_t decided;           /* blocks below this one are decided */
};
/* PARENT NULL: a plain stream.  Returns 0, BW_EINVAL (a parent of another
 * virtual size than w->size) or BW_ENOMEM; bw_wblocks_free frees a
 * half-built stream too. */
int bw_wblocks_init(struct bw_writer *w, struct bw_wblocks *b, uint32_t block_size,
		    struct bw_disk *parent, bw_wblocks_put_fn put, struct bw_error *err);
/* In order, in bounds (the writer's write op passes its arguments on). */
int bw_wblocks_write(struct bw_writer *w, struct bw_wblocks *b, const uint8_t *buf,
		     size_t len, uint64_t off, struct bw_error *err);
/* Decide the last buffered block and, with a parent, the blocks no write
 * reached. */
int bw_wblocks_finish(struct bw_writer *w, struct bw_wblocks *b, struct bw_error *err);
void bw_wblocks_free(struct bw_wblocks *b);

extern const struct bw_writer_ops bw_writer_raw_ops;
extern const struct bw_writer_ops bw_writer_vhd_ops;      /* fixed, dynamic, differencing */
extern const struct bw_writer_ops bw_writer_vmdk_ops;     /* streamOptimized */
extern const struct bw_writer_ops bw_writer_qcow2_ops;    /* v3, compressed clusters */
extern const struct bw_writer_ops bw_writer_vhdx_ops;     /* dynamic, differencing */
extern const struct bw_writer_ops bw_writer_vmdk_sparse_ops; /* monolithicSparse */

#endif

/*
 * Parent chains of differencing images (chain.h): the loop guard, the
 * depth cap and the opening of a candidate parent file, the same for VHD
 * and VHDX.  How a parent is named (locators) and checked (ids, sizes)
 * stays with each format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/chain.h"

int bw_disk_chain_enter(struct bw_disk *d, const struct bw_disk_chain *below,
		   const char *kind, struct bw_disk_chain *me, struct bw_error *err)
{
	struct stat st;
	if (fstat(d->fd, &st) < 0)
		return bw_seterr(err, BW_EIO, d->path, "cannot stat: %s", strerror(errno));
	me->dev = st.st_dev;
	me->ino = st.st_ino;
	me->depth = below ? below->depth + 1 : 0;
	me->child = below;
	if (me->depth + 1 >= BW_DISK_CHAIN_MAX)
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "differencing %s chain too deep: its parent would be image %u of the chain (at most %u supported)",
				 kind, me->depth + 2, BW_DISK_CHAIN_MAX);
	return 0;
}

int bw_disk_chain_open(struct bw_disk *child, const char *path,
		       const struct bw_disk_chain *me, struct bw_disk **out,
		       struct bw_error *err)
{
	*out = NULL;
	struct bw_disk *p = calloc(1, sizeof *p);
	if (!p)
		return bw_seterr(err, BW_ENOMEM, child->path, "out of memory");
	p->fd = -1;
	int r;
	if (!(p->path = strdup(path))) {
		r = bw_seterr(err, BW_ENOMEM, child->path, "out of memory");
		goto fail;
	}
	/* A locator can name anything: O_NONBLOCK so that a FIFO cannot hang
	 * the open before the file type is checked below. */
	p->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (p->fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			r = 1;
			goto fail;
		}
		r = bw_seterr(err, BW_EIO, path, "cannot open parent of %s: %s",
			      child->path, strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(p->fd, &st) < 0) {
		r = bw_seterr(err, BW_EIO, path, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	for (const struct bw_disk_chain *c = me; c; c = c->child) {
		if (c->dev == st.st_dev && c->ino == st.st_ino) {
			r = bw_seterr(err, BW_EFORMAT, child->path,
				      "circular parent chain: parent %s is already open in this chain of %u image%s",
				      path, me->depth + 1, me->depth ? "s" : "");
			goto fail;
		}
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = bw_seterr(err, BW_EUNSUPPORTED, path,
			      "parent of %s is not a regular file or block device",
			      child->path);
		goto fail;
	}
	int fl = fcntl(p->fd, F_GETFL);
	if (fl < 0 || fcntl(p->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = bw_seterr(err, BW_EIO, path, "cannot set flags: %s", strerror(errno));
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(p->fd, 0, SEEK_END);
		if (end < 0) {
			r = bw_seterr(err, BW_EIO, path, "cannot size: %s", strerror(errno));
			goto fail;
		}
		p->file_size = (uint64_t)end;
	} else {
		p->file_size = (uint64_t)st.st_size;
	}
	*out = p;
	return 0;
fail:
	bw_disk_close(p);    /* closes fd, frees path */
	return r;
}

char *bw_disk_chain_sibling(const char *child, const char *name)
{
	const char *slash = strrchr(child, '/');
	char *s;
	if (!slash)
		return asprintf(&s, "./%s", name) < 0 ? NULL : s;
	return asprintf(&s, "%.*s/%s", (int)(slash - child), child, name) < 0 ? NULL : s;
}

/*
 * Reproducible builds (job.h bw_build_opts.reproducible, DESIGN.md
 * "Credentials and identity"): the seed every identity of a build is
 * derived from, and the epoch every time stamp takes.
 *
 * The seed is SHA-256 over a version tag, the SHA-256 of the input FILE
 * (the container as it is on disk, not the virtual disk read through the
 * driver: it costs one sequential read of what is stored, never of the
 * free or unallocated space a sparse or dynamic container leaves out,
 * and whatever changes the disk changes the file), and an encoding of
 * the options that shape the box.  Local files an option names
 * (--setup-complete, --reg, --copy-in ...) enter by their content, not
 * their path: the same build run from another directory gives the same
 * box.  Left out: the output paths, the catalog, --threads and --strict
 * (they change no byte of a box) and --provider (each provider's box
 * derives its identities under its own label, so the VirtualBox box of
 * `--provider virtualbox,libvirt` is the one `--provider virtualbox`
 * gives).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "boxwright/box.h"
#include "common/bytes.h"
#include "common/sha256_file.h"
#include "common/uuid.h"
#include "job/job_internal.h"

#define REPRO_TAG "boxwright reproducible build 1"

int job_repro_check(const struct bw_build_opts *o, struct job_repro *rp, struct bw_error *err)
{
	memset(rp, 0, sizeof *rp);
	rp->on = o->reproducible || o->source_date_epoch;
	if (!rp->on)
		return 0;
	rp->epoch = BW_BUILD_DEFAULT_EPOCH;
	if (o->source_date_epoch) {
		/* The spec: an integer of ASCII digits, refused otherwise. */
		const char *s = o->source_date_epoch;
		char *end = NULL;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		/* up to 9999-12-31: a FILETIME and a tar header hold it */
		if (!*s || *s < '0' || *s > '9' || *end || errno || v > 253402300799LL)
			return bw_seterr(err, BW_EUSAGE, NULL,
					 "SOURCE_DATE_EPOCH '%s': expected seconds since 1970-01-01 (decimal digits, at most 253402300799)",
					 s);
		rp->epoch = v;
	}
	if (!strcmp(bw_guest_kind_name(o->backend.kind), "guestfs"))
		return bw_seterr(err, BW_EUSAGE, NULL,
				 "--reproducible%s: not with the sandbox backend (the appliance's ntfs-3g stamps the files it writes with the clock); build with the native backend",
				 o->reproducible ? "" : " (SOURCE_DATE_EPOCH is set)");
	return 0;
}

/* ---- the options' encoding: tag, then a length-prefixed value ---------- */

static void h_bytes(struct sha256_ctx *c, const char *tag, const void *v, uint64_t len)
{
	uint8_t n[8];
	sha256_update(c, strlen(tag) + 1, (const uint8_t *)tag);
	bw_put_be64(n, len);
	sha256_update(c, sizeof n, n);
	sha256_update(c, (size_t)len, v);
}

/* NULL and "" differ: a present value is prefixed by 1. */
static void h_str(struct sha256_ctx *c, const char *tag, const char *s)
{
	h_bytes(c, tag, s ? "\1" : "\0", 1);
	if (s)
		h_bytes(c, tag, s, strlen(s));
}

static void h_u64(struct sha256_ctx *c, const char *tag, uint64_t v)
{
	uint8_t b[8];
	bw_put_be64(b, v);
	h_bytes(c, tag, b, sizeof b);
}

/* bw_sha256_file_digest's check: the work's stop check every 64 MiB (a
 * multiple of the chunk) and the cancel flag after every chunk. */
struct digest_stop {
	struct job_work *w;
	const volatile int *cancel;
};

static int digest_check(void *ctx, const char *path, uint64_t done, struct bw_error *err)
{
	const struct digest_stop *s = ctx;
	int r;
	if ((done & ((UINT64_C(64) << 20) - 1)) == 0 && (r = work_check_stop(s->w, path, err)) != 0)
		return r;
	if (*s->cancel)
		return bw_seterr(err, BW_EINTERRUPTED, path, "interrupted");
	return 0;
}

/* SHA-256 of PATH's bytes. */
static int file_digest(const char *path, uint8_t d[SHA256_DIGEST_SIZE], struct job_work *w,
		       const volatile int *cancel, struct bw_error *err)
{
	struct digest_stop s = { w, cancel };
	return bw_sha256_file_digest(path, d, digest_check, &s, err);
}

/* A local file an option names, by its content. */
static int h_file(struct sha256_ctx *c, const char *tag, const char *path, struct job_work *w,
		  struct bw_error *err)
{
	static const volatile int never;
	uint8_t d[SHA256_DIGEST_SIZE];
	int r = file_digest(path, d, w, &never, err);
	if (r == 0)
		h_bytes(c, tag, d, sizeof d);
	return r;
}

static int h_edits(struct sha256_ctx *c, const struct bw_edits *ed, struct job_work *w,
		   struct bw_error *err)
{
	int r = 0;
	h_u64(c, "winrm", (uint64_t)ed->winrm);
	h_str(c, "hostname", ed->hostname);
	h_str(c, "admin-password", ed->admin_password);
	const char *files[3] = { ed->setup_complete, ed->unattend, ed->first_boot_ps1 };
	const char *tags[3] = { "setup-complete", "unattend", "first-boot-ps1" };
	for (int i = 0; i < 3 && r == 0; i++) {
		h_str(c, tags[i], files[i] ? "" : NULL);
		if (files[i])
			r = h_file(c, tags[i], files[i], w, err);
	}
	h_u64(c, "reg", ed->nreg);
	for (size_t i = 0; i < ed->nreg && r == 0; i++)
		r = h_file(c, "reg", ed->reg[i], w, err);
	h_u64(c, "copy-in", ed->ncopy);
	for (size_t i = 0; i < ed->ncopy && r == 0; i++) {
		/* LOCAL:GUESTDIR (job_check_edits checked the colon): the
		 * guest gets the content under LOCAL's base name */
		const char *spec = ed->copy_in[i], *colon = strchr(spec, ':');
		char local[PATH_MAX];
		snprintf(local, sizeof local, "%.*s", (int)(colon - spec), spec);
		const char *base = strrchr(local, '/');
		h_str(c, "copy-in-name", base ? base + 1 : local);
		h_str(c, "copy-in-dir", colon + 1);
		r = h_file(c, "copy-in", local, w, err);
	}
	return r;
}

static int repro_seed(const struct bw_build_opts *o, struct job_repro *rp, struct job_work *w,
		      struct bw_error *err)
{
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, sizeof REPRO_TAG, (const uint8_t *)REPRO_TAG);
	/* the input's own digest (the build reports it, as sha256sum would) */
	int r = file_digest(o->input, rp->input_digest, w, &rp->cancel, err);
	if (r)
		return r;
	h_bytes(&c, "input", rp->input_digest, sizeof rp->input_digest);
	h_u64(&c, "epoch", (uint64_t)rp->epoch);
	h_u64(&c, "size", o->size);
	h_u64(&c, "new-signature", (uint64_t)o->new_signature);
	/* what the options mean, not how they were spelled: a default given
	 * or left out, a UUID in either letter case, hash the same */
	char hw[37];
	const char *hws = o->hardware_uuid ? o->hardware_uuid : "auto";
	h_str(&c, "hardware-uuid", bw_uuid_parse(hws, hw) ? hw : hws);
	h_u64(&c, "memory", o->memory_mb ? o->memory_mb : BW_BOX_DEFAULT_MEMORY_MB);
	h_u64(&c, "cpus", o->cpus ? o->cpus : BW_BOX_DEFAULT_CPUS);
	h_str(&c, "winrm-user", o->winrm_user);
	h_str(&c, "winrm-password", o->winrm_password);
	h_u64(&c, "gzip", (uint64_t)o->gzip);
	h_u64(&c, "chkdsk", (uint64_t)o->chkdsk);
	h_u64(&c, "compress-level", (uint64_t)(o->compress_level ? o->compress_level : 6));
	r = h_edits(&c, &o->edits, w, err);
	if (r)
		return r;
	sha256_digest(&c, sizeof rp->seed, rp->seed);
	return 0;
}

static void *repro_thread(void *arg)
{
	struct job_repro *rp = arg;
	bw_error_clear(&rp->err);
	rp->status = repro_seed(rp->o, rp, rp->w, &rp->err);
	return NULL;
}

int job_repro_start(const struct bw_build_opts *o, struct job_repro *rp, struct job_work *w,
		    struct bw_error *err)
{
	if (!rp->on)
		return 0;
	rp->o = o;
	rp->w = w;
	rp->cancel = 0;
	int e = pthread_create(&rp->thread, NULL, repro_thread, rp);
	if (e)
		return bw_seterr(err, BW_ENOMEM, NULL, "cannot start a thread: %s", strerror(e));
	rp->started = 1;
	return 0;
}

int job_repro_wait(struct job_repro *rp, struct bw_error *err)
{
	if (!rp->on)
		return 0;
	if (rp->started && !rp->joined) {
		pthread_join(rp->thread, NULL);
		rp->joined = 1;
	}
	if (rp->status)
		*err = rp->err;
	return rp->status;
}

void job_repro_stop(struct job_repro *rp)
{
	if (rp->started && !rp->joined) {
		rp->cancel = 1;
		pthread_join(rp->thread, NULL);
		rp->joined = 1;
	}
}

uint64_t job_repro_filetime(const struct job_repro *rp)
{
	/* FILETIME: 100 ns since 1601-01-01 */
	return rp && rp->on ? UINT64_C(116444736000000000) + (uint64_t)rp->epoch * 10000000u : 0;
}

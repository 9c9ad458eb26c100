/*
 * The ordered deflate pipeline of workers.h: a ring of Q slots indexed by
 * submission sequence number.  A slot goes FREE (the producer fills its
 * input) -> QUEUED (submitted) -> BUSY (a worker compresses it) -> DONE
 * -> FREE again once the producer's thread has given it to the sink.  The
 * ring never holds more than Q submitted grains, which is the memory
 * bound; the sink sees grains in sequence order because only the oldest
 * slot (head) is ever consumed.
 *
 * Threading: one mutex guards the sequence numbers and slot states.
 * Buffers are touched outside it by whoever owns the slot's state (the
 * producer in FREE and DONE, one worker in BUSY); the state changes under
 * the mutex order those accesses.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "disk/deflate.h"
#include "disk/grains.h"
#include "disk/workers.h"

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

struct slot {
	uint8_t *in;
	uint8_t *out;
	uint64_t lba;
	size_t zlen;
	enum slot_state state;
};

struct worker {
	struct bw_workers *pipe;
	struct bw_deflate *comp;
	pthread_t thread;
	int started;
};

struct bw_workers {
	struct bw_workers_cfg cfg;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;     /* a grain was queued, or stop */
	pthread_cond_t done_cv;     /* the head slot became DONE */
	int mu_ready, work_cv_ready, done_cv_ready;
	uint8_t *mem;               /* all slot buffers, one allocation */
	struct slot *slots;
	uint64_t head;              /* oldest grain not yet given to the sink */
	uint64_t next_job;          /* oldest grain not yet taken by a worker */
	uint64_t tail;              /* sequence number of the next submit */
	int stop;
	int failed;                 /* sticky: the sink's error code */
	struct worker *workers;
	/* bw_workers_write: the writer's chunks cut into grains, each
	 * assembled in the tail slot's input buffer.  An all-zero grain is
	 * not submitted and its buffer is reused. */
	struct bw_grains grains;
};

static struct slot *slot_of(struct bw_workers *p, uint64_t seq)
{
	return &p->slots[seq % p->cfg.queue];
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bw_workers *p = w->pipe;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next_job == p->tail)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (p->stop)
			break;
		uint64_t seq = p->next_job++;
		struct slot *s = slot_of(p, seq);
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->mu);

		size_t zlen = bw_deflate_zlib(w->comp, s->in, p->cfg.in_bytes,
					      s->out + p->cfg.headroom, p->cfg.limit);

		pthread_mutex_lock(&p->mu);
		s->zlen = zlen;
		s->state = SLOT_DONE;
		/* Only the producer waits, and only ever for the head. */
		if (seq == p->head)
			pthread_cond_signal(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/*
 * Give finished grains to the sink in order, waiting for the head while
 * more than MAX_IN_FLIGHT grains are submitted but not consumed.  The sink
 * runs without the mutex held (it does file I/O); the slot stays DONE, so
 * no worker touches it meanwhile.
 */
static int drain(struct bw_workers *p, uint64_t max_in_flight, struct bw_error *err)
{
	int r = 0;
	pthread_mutex_lock(&p->mu);
	while (p->head < p->tail) {
		struct slot *s = slot_of(p, p->head);
		if (s->state != SLOT_DONE) {
			if (p->tail - p->head <= max_in_flight)
				break;
			pthread_cond_wait(&p->done_cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		r = p->cfg.sink(p->cfg.sink_ctx, s->lba, s->out, s->zlen, err);
		pthread_mutex_lock(&p->mu);
		if (r) {
			p->failed = r;
			break;
		}
		s->state = SLOT_FREE;
		p->head++;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

static int check_failed(struct bw_workers *p, struct bw_error *err)
{
	if (!p->failed)
		return 0;
	return bw_seterr(err, p->failed, p->cfg.path,
			 "compression pipeline stopped by an earlier error");
}

int bw_workers_buffer(struct bw_workers *p, uint8_t **buf, struct bw_error *err)
{
	*buf = NULL;
	int r = check_failed(p, err);
	if (r == 0)
		r = drain(p, p->cfg.queue - 1, err);
	if (r)
		return r;
	/* The producer alone moves tail, and drain left the tail slot FREE. */
	*buf = slot_of(p, p->tail)->in;
	return 0;
}

int bw_workers_submit(struct bw_workers *p, uint64_t lba, struct bw_error *err)
{
	int r = check_failed(p, err);
	if (r)
		return r;
	pthread_mutex_lock(&p->mu);
	struct slot *s = slot_of(p, p->tail);
	if (p->tail - p->head >= p->cfg.queue || s->state != SLOT_FREE) {
		pthread_mutex_unlock(&p->mu);
		return bw_seterr(err, BW_EINVAL, p->cfg.path,
				 "internal error: grain submitted without a free buffer");
	}
	s->lba = lba;
	s->state = SLOT_QUEUED;
	p->tail++;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	/* Never blocks (at most Q are in flight): only writes what is done. */
	return drain(p, p->cfg.queue, err);
}

/* ---- grains from the writer's chunks ------------------------------------ */

/* bw_grains' BUFFER and PUT: the tail slot's input buffer, submitted
 * (COUNT is 1: the grains are never direct) with the grain index as key. */
static int grains_buffer(void *ctx, uint8_t **buf, struct bw_error *err)
{
	return bw_workers_buffer(ctx, buf, err);
}

static int grains_put(void *ctx, const uint8_t *data, uint64_t first, size_t count,
		      struct bw_error *err)
{
	(void)data;
	(void)count;
	return bw_workers_submit(ctx, first, err);
}

int bw_workers_write(struct bw_workers *p, const uint8_t *buf, size_t len,
		     uint64_t off, struct bw_error *err)
{
	return bw_grains_write(&p->grains, buf, len, off, err);
}

int bw_workers_finish(struct bw_workers *p, struct bw_error *err)
{
	int r = check_failed(p, err);
	if (r == 0)
		r = bw_grains_flush(&p->grains, err);
	return r ? r : drain(p, 0, err);
}

void bw_workers_free(struct bw_workers *p)
{
	if (!p)
		return;
	if (p->workers) {
		if (p->mu_ready && p->work_cv_ready) {
			pthread_mutex_lock(&p->mu);
			p->stop = 1;
			pthread_cond_broadcast(&p->work_cv);
			pthread_mutex_unlock(&p->mu);
		}
		for (unsigned i = 0; i < p->cfg.threads; i++) {
			if (p->workers[i].started)
				pthread_join(p->workers[i].thread, NULL);
			bw_deflate_free(p->workers[i].comp);
		}
		free(p->workers);
	}
	if (p->done_cv_ready)
		pthread_cond_destroy(&p->done_cv);
	if (p->work_cv_ready)
		pthread_cond_destroy(&p->work_cv);
	if (p->mu_ready)
		pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p->mem);
	free(p);
}

int bw_workers_new(const struct bw_workers_cfg *cfg, struct bw_workers **out,
		   struct bw_error *err)
{
	*out = NULL;
	if (cfg->threads < 1 || cfg->queue < cfg->threads || !cfg->sink ||
	    cfg->in_bytes == 0 ||
	    cfg->out_bytes < cfg->headroom + BW_DEFLATE_STORED_SIZE(cfg->in_bytes) ||
	    cfg->out_bytes - cfg->headroom < cfg->limit)
		return bw_seterr(err, BW_EINVAL, cfg->path,
				 "internal error: bad compression pipeline configuration");
	size_t slot_bytes = cfg->in_bytes + cfg->out_bytes;
	if (slot_bytes < cfg->in_bytes || cfg->queue > SIZE_MAX / slot_bytes)
		return bw_seterr(err, BW_EINVAL, cfg->path,
				 "compression queue of %u grains is too large", cfg->queue);

	struct bw_workers *p = calloc(1, sizeof *p);
	if (!p)
		return bw_seterr(err, BW_ENOMEM, cfg->path, "out of memory");
	p->cfg = *cfg;
	p->grains = (struct bw_grains){
		.size = cfg->in_bytes,
		.ops = { .buffer = grains_buffer, .put = grains_put },
		.ctx = p,
	};
	int r;
	p->mem = malloc(cfg->queue * slot_bytes);
	p->slots = calloc(cfg->queue, sizeof *p->slots);
	p->workers = calloc(cfg->threads, sizeof *p->workers);
	if (!p->mem || !p->slots || !p->workers) {
		r = bw_seterr(err, BW_ENOMEM, cfg->path,
			      "out of memory for %u compression buffers", cfg->queue);
		goto out;
	}
	for (unsigned i = 0; i < cfg->queue; i++) {
		p->slots[i].in = p->mem + (size_t)i * slot_bytes;
		p->slots[i].out = p->slots[i].in + cfg->in_bytes;
		p->slots[i].state = SLOT_FREE;
	}
	for (unsigned i = 0; i < cfg->threads; i++) {
		p->workers[i].pipe = p;
		p->workers[i].comp = bw_deflate_new(cfg->level);
		if (!p->workers[i].comp) {
			r = bw_seterr(err, BW_ENOMEM, cfg->path,
				      "out of memory for %u %s compressors",
				      cfg->threads, bw_deflate_backend());
			goto out;
		}
	}
	if (pthread_mutex_init(&p->mu, NULL) == 0)
		p->mu_ready = 1;
	if (pthread_cond_init(&p->work_cv, NULL) == 0)
		p->work_cv_ready = 1;
	if (pthread_cond_init(&p->done_cv, NULL) == 0)
		p->done_cv_ready = 1;
	if (!p->mu_ready || !p->work_cv_ready || !p->done_cv_ready) {
		r = bw_seterr(err, BW_ENOMEM, cfg->path, "cannot create thread locks");
		goto out;
	}

	/* Workers take no signals: the CLI's handlers run on the main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = 0;
	for (unsigned i = 0; i < cfg->threads && r == 0; i++) {
		int e = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
		if (e == 0)
			p->workers[i].started = 1;
		else
			r = bw_seterr(err, BW_ENOMEM, cfg->path,
				      "cannot start compression thread %u of %u: %s",
				      i + 1, cfg->threads, strerror(e));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	if (r) {
		bw_workers_free(p);
		return r;
	}
	*out = p;
	return 0;
}

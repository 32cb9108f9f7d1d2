/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small pool of threads that copy regular files' contents while the walker
 * goes on creating directories, so a COPY of many small files uses every
 * core. The walker keeps everything order-dependent (directories, symlinks,
 * hardlinks, anything reached through a symlink in the image); a job only
 * creates one new name in a directory no other job or walker step writes.
 *
 * Directories are shared through reference-counted fds: the walker holds one
 * reference until it leaves the directory, each queued job one more. The last
 * release applies the directory's pending metadata (its mtime must be set
 * after its last entry is written), then closes the fd. All threads are
 * joined before copy_run() returns, so none is alive when the sandbox forks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define QUEUE_LEN 256

struct copy_pool {
	pthread_mutex_t lock;
	pthread_cond_t more, room, idle;
	struct copy_job ring[QUEUE_LEN];
	size_t head, n;
	unsigned active;
	bool stop;
	struct kiln_error *err; /* the first failure */
	pthread_t *threads;
	size_t n_threads;
	struct copy_dref **drefs; /* every one made, freed at the end */
	size_t n_drefs, drefs_alloc;
	const struct copy_pool_ops *ops;
	void *ud;
};

static void fail(struct copy_pool *p, struct kiln_error *e)
{
	pthread_mutex_lock(&p->lock);
	if (!p->err && e)
		p->err = e;
	else
		err_free(e);
	pthread_mutex_unlock(&p->lock);
}

struct copy_dref *copy_pool_dref(struct copy_pool *p, int fd, struct copy_dref *src)
{
	struct copy_dref *d = xcalloc(1, sizeof(*d));

	d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	d->refs = 1;
	d->src = src;
	pthread_mutex_lock(&p->lock);
	if (src)
		src->refs++;
	ALLOC_GROW(p->drefs, p->n_drefs + 1, p->drefs_alloc);
	p->drefs[p->n_drefs++] = d;
	pthread_mutex_unlock(&p->lock);
	return d;
}

void copy_pool_release(struct copy_pool *p, struct copy_dref *d)
{
	struct kiln_error *e = NULL;
	bool last;

	bool failed;

	pthread_mutex_lock(&p->lock);
	last = --d->refs == 0;
	failed = p->err != NULL;
	pthread_mutex_unlock(&p->lock);
	if (!last)
		return;
	if (d->meta && d->fd >= 0 && !failed && p->ops->dir_done(p->ud, d, &e) < 0)
		fail(p, e);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->src)
		copy_pool_release(p, d->src);
}

static void job_release(struct copy_pool *p, struct copy_job *j)
{
	copy_pool_release(p, j->src);
	copy_pool_release(p, j->dst);
	free(j->name);
	free(j->what);
}

static void *worker(void *arg)
{
	struct copy_pool *p = arg;

	for (;;) {
		struct copy_job j;
		struct kiln_error *e = NULL;
		bool failed;

		pthread_mutex_lock(&p->lock);
		while (!p->stop && p->n == 0)
			pthread_cond_wait(&p->more, &p->lock);
		if (p->n == 0) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->ring[p->head];
		p->head = (p->head + 1) % QUEUE_LEN;
		p->n--;
		p->active++;
		failed = p->err != NULL;
		pthread_cond_signal(&p->room);
		pthread_mutex_unlock(&p->lock);
		if (!failed && p->ops->run(p->ud, &j, &e) < 0)
			fail(p, e);
		job_release(p, &j);
		pthread_mutex_lock(&p->lock);
		if (--p->active == 0 && p->n == 0)
			pthread_cond_broadcast(&p->idle);
		pthread_mutex_unlock(&p->lock);
	}
}

struct copy_pool *copy_pool_new(unsigned workers, const struct copy_pool_ops *ops, void *ud)
{
	struct copy_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->ops = ops;
	p->ud = ud;
	p->threads = xcalloc(workers, sizeof(pthread_t));
	for (unsigned i = 0; i < workers; i++)
		if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) == 0)
			p->n_threads++;
	if (p->n_threads == 0) {
		copy_pool_free(p);
		return NULL; /* the caller copies serially */
	}
	return p;
}

int copy_pool_submit(struct copy_pool *p, struct copy_job *j)
{
	pthread_mutex_lock(&p->lock);
	while (p->n == QUEUE_LEN && !p->err)
		pthread_cond_wait(&p->room, &p->lock);
	if (p->err) {
		pthread_mutex_unlock(&p->lock);
		free(j->name);
		free(j->what);
		return -ECANCELED; /* a worker failed: copy_pool_drain() says why */
	}
	j->src->refs++;
	j->dst->refs++;
	p->ring[(p->head + p->n) % QUEUE_LEN] = *j;
	p->n++;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int copy_pool_drain(struct copy_pool *p, struct kiln_error **err)
{
	int r = 0;

	pthread_mutex_lock(&p->lock);
	while (p->n > 0 || p->active > 0)
		pthread_cond_wait(&p->idle, &p->lock);
	if (p->err) {
		r = err_code(p->err);
		if (err && !*err)
			*err = TAKE_PTR(p->err);
		else
			err_free(TAKE_PTR(p->err));
		p->err = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

void copy_pool_free(struct copy_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	for (size_t i = 0; i < p->n_drefs; i++) {
		if (p->drefs[i]->fd >= 0)
			close(p->drefs[i]->fd);
		free(p->drefs[i]->path);
		free(p->drefs[i]);
	}
	free(p->drefs);
	free(p->threads);
	err_free(p->err);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->more);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->idle);
	free(p);
}

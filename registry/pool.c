/* SPDX-License-Identifier: Apache-2.0 */
/* A few transfer threads over a list of jobs; the first error stops the rest. */
#include <pthread.h>
#include <stdlib.h>

#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/xmalloc.h"

#include "util/banned.h"

struct pool {
	struct reg_job *jobs;
	size_t n, next;
	pthread_mutex_t lock;
	struct kiln_error *first;
	int first_rc;
};

static struct reg_job *take(struct pool *p)
{
	struct reg_job *j = NULL;

	pthread_mutex_lock(&p->lock);
	if (!p->first && p->next < p->n)
		j = &p->jobs[p->next++];
	pthread_mutex_unlock(&p->lock);
	return j;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct reg_job *j;

	while ((j = take(p))) {
		struct kiln_error *e = NULL;
		int r = j->fn(j->arg, &e);

		if (r >= 0)
			continue;
		pthread_mutex_lock(&p->lock);
		if (!p->first) {
			p->first = e;
			p->first_rc = r;
			e = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		err_free(e);
	}
	return NULL;
}

int reg_run_jobs(struct reg_job *jobs, size_t n, unsigned parallel, struct kiln_error **err)
{
	struct pool p = {.jobs = jobs, .n = n};
	size_t nt = MIN((size_t)parallel, n);
	pthread_t *threads;
	size_t started = 0;

	if (nt <= 1) {
		worker(&p);
	} else {
		pthread_mutex_init(&p.lock, NULL);
		threads = xcalloc(nt, sizeof(*threads));
		for (; started < nt; started++)
			if (pthread_create(&threads[started], NULL, worker, &p) != 0)
				break;
		if (started == 0)
			worker(&p);
		for (size_t i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		free(threads);
		pthread_mutex_destroy(&p.lock);
	}
	if (!p.first)
		return 0;
	if (err)
		*err = p.first;
	else
		err_free(p.first);
	return p.first_rc;
}

#include "webhook/offload.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "webhook/verify/vcache.h"
#include "operator/base/mem.h"

enum { QUEUED, RUNNING, DONE };

struct offload {
	pthread_mutex_t mu;
	pthread_cond_t work;  /* workers: a job was queued, or stop */
	pthread_cond_t timer; /* the timer thread: a new deadline, or stop */
	unsigned nworkers, qcap;
	pthread_t *threads, timer_thread;
	unsigned started;
	int timer_started, stopping;
	struct offload_job *head, *tail; /* the queue */
	unsigned queued, running;        /* running: workers inside run, timed-out runs included */
	struct offload_job **live;       /* jobs not finished yet (queued or running): at most nworkers + qcap */
	unsigned nlive;
	unsigned long submitted, rejected, timed_out;
};

static void live_remove(struct offload *p, struct offload_job *j)
{
	for (unsigned i = 0; i < p->nlive; i++) {
		if (p->live[i] == j) {
			p->live[i] = p->live[--p->nlive];
			return;
		}
	}
}

static void queue_remove(struct offload *p, struct offload_job *j)
{
	struct offload_job **pp = &p->head, *prev = NULL;
	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = j->next;
	if (p->tail == j)
		p->tail = prev;
	j->next = NULL;
	p->queued--;
}

/* Under mu: claims the finish of j (0 when someone already has). */
static int claim_finish(struct offload *p, struct offload_job *j)
{
	if (j->finished)
		return 0;
	j->finished = 1; /* claimed; 2 once the callback returned */
	live_remove(p, j);
	return 1;
}

/* Calls finish outside mu, then releases j when its run is over too. Called with mu held; returns with it held. */
static void finish_locked(struct offload *p, struct offload_job *j, int timed_out)
{
	pthread_mutex_unlock(&p->mu);
	j->finish(j, timed_out);
	pthread_mutex_lock(&p->mu);
	j->finished = 2;
	if (j->state == DONE) {
		pthread_mutex_unlock(&p->mu);
		j->release(j);
		pthread_mutex_lock(&p->mu);
	}
}

/* Under mu: the run of j is over (or will never happen); releases j when its finish is done too. */
static void run_over_locked(struct offload *p, struct offload_job *j)
{
	j->state = DONE;
	if (j->finished == 2) {
		pthread_mutex_unlock(&p->mu);
		j->release(j);
		pthread_mutex_lock(&p->mu);
	}
}

static void *worker(void *arg)
{
	struct offload *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->head)
			break; /* stopping, nothing left */
		struct offload_job *j = p->head;
		queue_remove(p, j);
		if (clock_mono_ms() >= j->deadline_ms || p->stopping) {
			/* Expired while queued: answered without running. */
			if (claim_finish(p, j)) {
				p->timed_out++;
				finish_locked(p, j, 1);
			}
			run_over_locked(p, j);
			continue;
		}
		j->state = RUNNING;
		p->running++;
		pthread_mutex_unlock(&p->mu);
		j->run(j);
		pthread_mutex_lock(&p->mu);
		p->running--;
		if (claim_finish(p, j))
			finish_locked(p, j, 0);
		run_over_locked(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Finishes jobs at their deadline, whether queued or running. */
static void *timer(void *arg)
{
	struct offload *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		int64_t now = clock_mono_ms(), next = INT64_MAX;
		struct offload_job *due = NULL;
		for (unsigned i = 0; i < p->nlive && !due; i++) {
			if (p->live[i]->deadline_ms <= now)
				due = p->live[i];
			else if (p->live[i]->deadline_ms < next)
				next = p->live[i]->deadline_ms;
		}
		if (due) {
			claim_finish(p, due);
			p->timed_out++;
			if (due->state == QUEUED) {
				queue_remove(p, due);
				due->state = DONE; /* never runs; released after its finish */
				due->finished = 1;
			}
			finish_locked(p, due, 1);
			continue;
		}
		if (next == INT64_MAX) {
			pthread_cond_wait(&p->timer, &p->mu);
		} else {
			struct timespec ts = { .tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000L };
			pthread_cond_timedwait(&p->timer, &p->mu, &ts);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int offload_new(unsigned workers, unsigned queue, struct offload **out)
{
	pthread_condattr_t ca;
	struct offload *p;

	*out = NULL;
	p = mem_calloc(1, sizeof *p);
	p->nworkers = workers ? workers : OFFLOAD_DEFAULT_WORKERS;
	p->qcap = queue ? queue : OFFLOAD_DEFAULT_QUEUE;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* clock_mono_ms's clock */
	pthread_cond_init(&p->timer, &ca);
	pthread_condattr_destroy(&ca);
	p->threads = mem_calloc(p->nworkers, sizeof *p->threads);
	p->live = mem_calloc(p->nworkers + p->qcap, sizeof *p->live);
	for (; p->started < p->nworkers; p->started++) {
		if (pthread_create(&p->threads[p->started], NULL, worker, p)) {
			offload_stop(p);
			return SO_E_NOMEM;
		}
	}
	if (pthread_create(&p->timer_thread, NULL, timer, p)) {
		offload_stop(p);
		return SO_E_NOMEM;
	}
	p->timer_started = 1;
	*out = p;
	return SO_OK;
}

int offload_submit(struct offload *p, struct offload_job *j)
{
	int rc = SO_OK;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		rc = SO_E_CANCELLED;
	} else if (p->running + p->queued >= p->nworkers + p->qcap) { /* live ⊆ queued ∪ running: it fits too */
		p->rejected++;
		rc = SO_E_BUSY;
	} else {
		j->next = NULL;
		j->state = QUEUED;
		j->finished = 0;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->queued++;
		p->live[p->nlive++] = j;
		p->submitted++;
		pthread_cond_signal(&p->work);
		pthread_cond_signal(&p->timer);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void offload_stop(struct offload *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	while (p->nlive > 0) {
		struct offload_job *j = p->live[0];
		claim_finish(p, j);
		if (j->state == QUEUED) {
			queue_remove(p, j);
			j->state = DONE;
		}
		finish_locked(p, j, 1);
	}
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->timer);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	if (p->timer_started)
		pthread_join(p->timer_thread, NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->timer);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->live);
	free(p);
}

void offload_get_stats(struct offload *p, struct offload_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = (struct offload_stats){ .workers = p->nworkers, .queue = p->qcap, .running = p->running,
				       .queued = p->queued, .submitted = p->submitted, .rejected = p->rejected,
				       .timed_out = p->timed_out };
	pthread_mutex_unlock(&p->mu);
}

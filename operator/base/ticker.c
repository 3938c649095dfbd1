#include "operator/base/ticker.h"

#include <pthread.h>
#include <stdlib.h>

#include "operator/base/err.h"
#include "operator/base/clock.h"
#include "operator/base/mem.h"

struct ticker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	int stop;
	int wake; /* ticker_wake: the next sleep, or the current one, ends at once */
	double first_s;
	ticker_fn fn;
	void *user;
};

/* Sleeps seconds or until stopped or woken; non-zero when stopped. */
static int sleep_unless_stopped(struct ticker *t, double seconds)
{
	struct timespec until = clock_in(CLOCK_MONOTONIC, seconds);
	pthread_mutex_lock(&t->mu);
	while (!t->stop && !t->wake && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
		;
	t->wake = 0;
	int stop = t->stop;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

static void *run(void *arg)
{
	struct ticker *t = arg;
	double wait = t->first_s;
	while (!sleep_unless_stopped(t, wait)) {
		wait = t->fn(t->user);
		if (!(wait >= 0.001)) /* also NaN */
			wait = 0.001;
	}
	return NULL;
}

int ticker_start(struct ticker **out, double first_s, ticker_fn fn, void *user)
{
	struct ticker *t = mem_calloc(1, sizeof *t);
	pthread_condattr_t ca;

	*out = NULL;
	t->first_s = first_s;
	t->fn = fn;
	t->user = user;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t->thread, NULL, run, t)) {
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
		free(t);
		return SO_E_NOMEM; /* the thread could not be created (EAGAIN: no resources) */
	}
	*out = t;
	return SO_OK;
}

void ticker_wake(struct ticker *t)
{
	pthread_mutex_lock(&t->mu);
	t->wake = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void ticker_stop(struct ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}

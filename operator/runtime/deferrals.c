#include "operator/runtime/deferrals.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/log.h"
#include "operator/base/mem.h"

#define WAITING 1
#define RELEASED 2

struct deferrals {
	pthread_mutex_t mu;
	json_t *keys;      /* key → WAITING or RELEASED */
	size_t waiting;    /* keys in state WAITING */
	double oldest;     /* when the oldest WAITING key was recorded */
	double max_s;
};

struct deferrals *deferrals_new(double max_s)
{
	struct deferrals *d = mem_calloc(1, sizeof *d);
	d->keys = json_object();
	pthread_mutex_init(&d->mu, NULL);
	d->max_s = max_s;
	return d;
}

void deferrals_free(struct deferrals *d)
{
	if (!d)
		return;
	json_decref(d->keys);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int deferrals_defer(struct deferrals *d, struct queue *q, const char *key)
{
	int defer = 0;
	pthread_mutex_lock(&d->mu);
	json_int_t state = json_integer_value(json_object_get(d->keys, key));
	if (state == RELEASED) {
		json_object_del(d->keys, key); /* this run writes */
	} else if (state == WAITING) {
		defer = 1; /* ran again before its release (an event): still waiting */
	} else if (queue_len(q) > 0) {
		/* key is a queue key: a namespace and a name out of jansson, valid UTF-8. */
		json_object_set_new(d->keys, key, json_integer(WAITING));
		if (d->waiting++ == 0)
			d->oldest = clock_mono_s();
		defer = 1;
	}
	pthread_mutex_unlock(&d->mu);
	return defer;
}

void deferrals_after_run(struct deferrals *d, struct queue *q, const char *key)
{
	const char *k;
	json_t *v;

	pthread_mutex_lock(&d->mu);
	if (json_integer_value(json_object_get(d->keys, key)) == RELEASED)
		json_object_del(d->keys, key);
	if (d->waiting && (queue_len(q) == 0 || clock_mono_s() - d->oldest >= d->max_s)) {
		log_debug("controller", "releasing %zu deferred status writes", d->waiting);
		json_object_foreach(d->keys, k, v) {
			if (json_integer_value(v) == WAITING) {
				json_integer_set(v, RELEASED);
				queue_add(q, k);
			}
		}
		d->waiting = 0;
	}
	pthread_mutex_unlock(&d->mu);
}

size_t deferrals_waiting(struct deferrals *d)
{
	pthread_mutex_lock(&d->mu);
	size_t n = d->waiting;
	pthread_mutex_unlock(&d->mu);
	return n;
}

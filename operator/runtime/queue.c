/*
 * The controller work queue: client-go's workqueue (queue.go), delaying queue (delaying_queue.go) and default
 * controller rate limiter (default_rate_limiters.go) folded into one object behind one mutex.
 *
 * State, all under mu:
 *   fifo        ready keys in order (a growable ring of owned strings);
 *   dirty       keys waiting to be processed (in fifo, or processing and added again) -> when they were
 *               added (for workqueue_queue_duration_seconds);
 *   processing  keys held by workers -> when they were handed out (workqueue_work_duration_seconds);
 *   heap        binary min-heap of delayed entries (ready time, insertion sequence, owned key);
 *   waiting     key -> ready time of the key's live heap entry. A key is delayed at most once: a later
 *               add_after keeps the earlier ready time. Shortening a delay pushes a new heap entry and leaves
 *               the old one behind; heap entries whose time no longer matches `waiting` are stale and are
 *               dropped when they reach the top (or by compaction when they pile up);
 *   failures    key -> number of add_rate_limited calls since the last forget.
 *
 * There is no timer thread: queue_get moves due heap entries into the fifo itself (so do the add paths and
 * the introspection calls) and sleeps on the condition variable no longer than the time until the earliest
 * delayed entry, and never more than QUEUE_MAX_WAIT_S (client-go's maxWait) so that a clock that jumps is
 * noticed. A delayed key that comes due goes through the same path as queue_add: deduplicated against dirty,
 * parked in dirty while processing.
 */
#include "operator/runtime/queue.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/log.h"
#include "operator/base/prom.h"
#include "operator/base/ratelimit.h"
#include "operator/base/mem.h"

#define QUEUE_MAX_WAIT_S 10.0     /* longest single sleep in queue_get (client-go maxWait) */
#define QUEUE_MAX_DELAY_S 1e9     /* delays are clamped here (~31 years) so ready times stay finite */
#define HEAP_COMPACT_SLACK 64     /* stale heap entries tolerated beyond 1 per live one */

struct delayed {
	double ready;              /* when the key becomes ready, on q->now's clock */
	unsigned long long seq;    /* insertion order: ties keep FIFO order */
	char *key;                 /* owned */
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	double (*now)(void);
	double base_delay;
	double max_delay;
	struct ratelimit bucket;   /* has its own lock, always taken inside mu */

	json_t *dirty;             /* key -> real (when added) */
	json_t *processing;        /* key -> real (when handed out) */
	json_t *waiting;           /* key -> real (ready time) */
	json_t *failures;          /* key -> integer */

	char **fifo;               /* ring of owned keys */
	size_t head;
	size_t count;
	size_t cap;

	struct delayed *heap;
	size_t heap_len;
	size_t heap_cap;
	unsigned long long seq;

	int shutting_down;
	int drain;

	/* client-go's workqueue metrics (updated under mu; read by queue_get_metrics) */
	atomic_ulong adds, retries;
	struct prom_histogram wait_h, work_h;
};

void queue_opts_default(struct queue_opts *o)
{
	o->base_delay_s = 0.005;
	o->max_delay_s = 1000;
	o->overall_qps = 10;
	o->overall_burst = 100;
	o->now = NULL;
}

/* ---- ready FIFO ---- */

/* Makes room for one more key. Doubling cannot overflow: the ring already holds cap pointers in memory. */
static void fifo_reserve(struct queue *q)
{
	if (q->count < q->cap)
		return;
	size_t ncap = q->cap ? q->cap * 2 : 16;
	char **n = mem_calloc(ncap, sizeof(char *));
	for (size_t i = 0; i < q->count; i++)
		n[i] = q->fifo[(q->head + i) % q->cap];
	free(q->fifo);
	q->fifo = n;
	q->cap = ncap;
	q->head = 0;
}

/* Needs fifo_reserve first; takes ownership of key. */
static void fifo_push(struct queue *q, char *key)
{
	q->fifo[(q->head + q->count) % q->cap] = key;
	q->count++;
}

static char *fifo_pop(struct queue *q)
{
	char *key = q->fifo[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	return key;
}

/* ---- delayed heap ---- */

static int heap_less(const struct delayed *a, const struct delayed *b)
{
	return a->ready < b->ready || (a->ready == b->ready && a->seq < b->seq);
}

static void heap_swap(struct delayed *a, struct delayed *b)
{
	struct delayed t = *a;
	*a = *b;
	*b = t;
}

static void heap_sift_up(struct queue *q, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_less(&q->heap[i], &q->heap[parent]))
			break;
		heap_swap(&q->heap[i], &q->heap[parent]);
		i = parent;
	}
}

static void heap_sift_down(struct queue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->heap_len && heap_less(&q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->heap_len && heap_less(&q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
}

/* Doubling cannot overflow: the heap already holds heap_cap entries in memory. */
static void heap_reserve(struct queue *q)
{
	if (q->heap_len < q->heap_cap)
		return;
	size_t ncap = q->heap_cap ? q->heap_cap * 2 : 16;
	q->heap = mem_realloc(q->heap, ncap * sizeof(*q->heap));
	q->heap_cap = ncap;
}

/* Removes the top entry; its key now belongs to the caller. */
static struct delayed heap_pop(struct queue *q)
{
	struct delayed top = q->heap[0];
	q->heap_len--;
	if (q->heap_len > 0) {
		q->heap[0] = q->heap[q->heap_len];
		heap_sift_down(q, 0);
	}
	return top;
}

/* Whether e is the key's live entry (not superseded by an earlier ready time). */
static int heap_entry_live(struct queue *q, const struct delayed *e)
{
	json_t *w = json_object_get(q->waiting, e->key);
	return w && json_real_value(w) == e->ready;
}

/* Drops stale entries once they outnumber live ones by a margin, keeping the heap proportional to the number
 * of delayed keys even when one key's delay is shortened over and over. */
static void heap_maybe_compact(struct queue *q)
{
	size_t live = json_object_size(q->waiting);
	if (q->heap_len <= 2 * live + HEAP_COMPACT_SLACK)
		return;
	size_t n = 0;
	for (size_t i = 0; i < q->heap_len; i++) {
		if (heap_entry_live(q, &q->heap[i]))
			q->heap[n++] = q->heap[i];
		else
			free(q->heap[i].key);
	}
	q->heap_len = n;
	for (size_t i = n / 2; i-- > 0;)
		heap_sift_down(q, i);
}

static void heap_clear(struct queue *q)
{
	for (size_t i = 0; i < q->heap_len; i++)
		free(q->heap[i].key);
	q->heap_len = 0;
	json_object_clear(q->waiting);
}

/* ---- operations, all with mu held ---- */

/*
 * client-go Add: dedup against dirty; a key being processed is only marked dirty (requeued by done);
 * otherwise it is queued and one waiter woken. `owned`, when not NULL, is a malloc'd copy of key the queue
 * takes (it saves a copy when a due heap entry is promoted).
 */
static void add_locked(struct queue *q, const char *key, char *owned)
{
	if (q->shutting_down || json_object_get(q->dirty, key))
		goto out;
	if (json_object_get(q->processing, key)) {
		json_object_set_new_nocheck(q->dirty, key, json_real(q->now()));
		atomic_fetch_add(&q->adds, 1);
		goto out;
	}
	fifo_reserve(q);
	if (!owned)
		owned = mem_strdup(key);
	json_object_set_new_nocheck(q->dirty, key, json_real(q->now()));
	atomic_fetch_add(&q->adds, 1);
	fifo_push(q, owned);
	owned = NULL;
	pthread_cond_signal(&q->cv);
out:
	free(owned);
}

/* Moves every delayed entry due at now into the ready path, in ready-time order. */
static void promote_due(struct queue *q, double now)
{
	while (q->heap_len > 0 && q->heap[0].ready <= now) {
		struct delayed e = heap_pop(q);
		if (heap_entry_live(q, &e)) {
			json_object_del(q->waiting, e.key);
			add_locked(q, e.key, e.key); /* takes the key */
		} else {
			free(e.key);
		}
	}
}

static void add_after_locked(struct queue *q, const char *key, double delay_s, double now)
{
	if (q->shutting_down)
		return;
	atomic_fetch_add(&q->retries, 1); /* client-go counts every AddAfter as a retry */
	promote_due(q, now);
	if (!(delay_s > 0)) { /* also NaN */
		add_locked(q, key, NULL);
		return;
	}
	if (delay_s > QUEUE_MAX_DELAY_S)
		delay_s = QUEUE_MAX_DELAY_S;
	double ready = now + delay_s;
	json_t *w = json_object_get(q->waiting, key);
	if (w && json_real_value(w) <= ready)
		return; /* already due no later than this */

	heap_reserve(q);
	char *copy = mem_strdup(key);
	if (w)
		json_real_set(w, ready);
	else
		json_object_set_new_nocheck(q->waiting, key, json_real(ready));
	q->heap[q->heap_len] = (struct delayed){ .ready = ready, .seq = q->seq++, .key = copy };
	q->heap_len++;
	heap_sift_up(q, q->heap_len - 1);
	if (q->heap[0].key == copy)
		pthread_cond_broadcast(&q->cv); /* new earliest: sleepers recompute their timeouts */
	heap_maybe_compact(q);
}

/* ItemExponentialFailureRateLimiter: base × 2^failures, capped at max. Doubling a double until it reaches the
 * cap takes at most ~log2(max/base) steps and cannot overflow an integer; a cap of +inf stops at inf. */
static double exp_delay(const struct queue *q, int failures)
{
	if (!(q->base_delay > 0))
		return 0;
	double d = q->base_delay;
	for (int i = 0; i < failures && d < q->max_delay; i++)
		d *= 2;
	return d > q->max_delay ? q->max_delay : d;
}

static void wait_rel(struct queue *q, double rel_s)
{
	if (!(rel_s < QUEUE_MAX_WAIT_S))
		rel_s = QUEUE_MAX_WAIT_S;
	if (rel_s < 1e-6)
		rel_s = 1e-6;
	struct timespec ts = clock_in(CLOCK_MONOTONIC, rel_s);
	pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

/* ---- public API ---- */

struct queue *queue_new(const struct queue_opts *o)
{
	struct queue_opts def;
	if (!o) {
		queue_opts_default(&def);
		o = &def;
	}
	struct queue *q = mem_calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	q->now = o->now ? o->now : clock_mono_s;
	q->base_delay = o->base_delay_s > 0 ? o->base_delay_s : 0;
	q->max_delay = o->max_delay_s > q->base_delay ? o->max_delay_s : q->base_delay;
	q->dirty = json_object();
	q->processing = json_object();
	q->waiting = json_object();
	q->failures = json_object();
	/* Default attributes and CLOCK_MONOTONIC: these cannot fail (as everywhere in the daemon). */
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	ratelimit_init(&q->bucket, o->overall_qps, o->overall_burst, q->now());
	prom_histogram_init(&q->wait_h, prom_buckets_workqueue, PROM_NBUCKETS_WORKQUEUE);
	prom_histogram_init(&q->work_h, prom_buckets_workqueue, PROM_NBUCKETS_WORKQUEUE);
	return q;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	while (q->count > 0)
		free(fifo_pop(q));
	free(q->fifo);
	for (size_t i = 0; i < q->heap_len; i++)
		free(q->heap[i].key);
	free(q->heap);
	json_decref(q->dirty);
	json_decref(q->processing);
	json_decref(q->waiting);
	json_decref(q->failures);
	ratelimit_destroy(&q->bucket);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

void queue_add(struct queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down) {
		promote_due(q, q->now());
		add_locked(q, key, NULL);
	}
	pthread_mutex_unlock(&q->mu);
}

void queue_add_after(struct queue *q, const char *key, double delay_s)
{
	pthread_mutex_lock(&q->mu);
	add_after_locked(q, key, delay_s, q->now());
	pthread_mutex_unlock(&q->mu);
}

void queue_add_rate_limited(struct queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	if (q->shutting_down)
		goto out;
	double now = q->now();
	json_t *f = json_object_get(q->failures, key);
	int n = f ? (int)json_integer_value(f) : 0;
	double delay = exp_delay(q, n);
	if (n < INT_MAX) {
		if (f)
			json_integer_set(f, n + 1);
		else
			json_object_set_new_nocheck(q->failures, key, json_integer(n + 1));
	}
	double overall = ratelimit_reserve(&q->bucket, now);
	if (overall > delay)
		delay = overall;
	add_after_locked(q, key, delay, now);
out:
	pthread_mutex_unlock(&q->mu);
}

void queue_forget(struct queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	json_object_del(q->failures, key);
	pthread_mutex_unlock(&q->mu);
}

size_t queue_reset_backoff(struct queue *q)
{
	const char *key;
	json_t *v;
	void *tmp;
	size_t n = 0;

	pthread_mutex_lock(&q->mu);
	if (q->shutting_down)
		goto out;
	double now = q->now();
	promote_due(q, now);
	json_object_foreach_safe(q->failures, tmp, key, v) {
		/* Its heap entry goes stale without a waiting time and is dropped when it surfaces (or compacted). */
		if (json_object_del(q->waiting, key) == 0) {
			add_locked(q, key, NULL);
			n++;
		}
	}
	json_object_clear(q->failures);
	heap_maybe_compact(q);
	ratelimit_reset(&q->bucket, now);
out:
	pthread_mutex_unlock(&q->mu);
	return n;
}

int queue_num_requeues(struct queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	json_t *f = json_object_get(q->failures, key);
	int n = f ? (int)json_integer_value(f) : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

char *queue_get(struct queue *q, double timeout_s)
{
	char *key = NULL;
	pthread_mutex_lock(&q->mu);
	double now = q->now();
	double deadline = timeout_s < 0 ? INFINITY : now + (isnan(timeout_s) ? 0 : timeout_s);
	for (;;) {
		if (q->shutting_down && !q->drain)
			break;
		promote_due(q, now);
		double until = deadline;
		if (q->count > 0) {
			key = fifo_pop(q);
			json_object_set_new_nocheck(q->processing, key, json_real(now));
			json_t *added = json_object_get(q->dirty, key);
			if (added)
				prom_histogram_observe(&q->wait_h, now - json_real_value(added));
			json_object_del(q->dirty, key);
			if (q->count > 0)
				pthread_cond_signal(&q->cv); /* more ready work: pass the wakeup on */
			break;
		}
		if (q->shutting_down || now >= deadline)
			break;
		if (q->heap_len > 0 && q->heap[0].ready < until)
			until = q->heap[0].ready;
		if (until == INFINITY)
			pthread_cond_wait(&q->cv, &q->mu);
		else
			wait_rel(q, until - now);
		now = q->now();
	}
	pthread_mutex_unlock(&q->mu);
	return key;
}

void queue_done(struct queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	/* Only a key that was handed out is requeued: done on an unknown key must not duplicate a queued one. */
	json_t *started = json_object_get(q->processing, key);
	if (started)
		prom_histogram_observe(&q->work_h, q->now() - json_real_value(started));
	if (json_object_del(q->processing, key) == 0 && json_object_get(q->dirty, key)) {
		fifo_reserve(q);
		fifo_push(q, mem_strdup(key));
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

void queue_shutdown(struct queue *q, int drain)
{
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down) {
		q->shutting_down = 1;
		q->drain = drain != 0;
	} else if (!drain) {
		q->drain = 0; /* a later no-drain shutdown stops a draining queue at once */
	}
	heap_clear(q);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int queue_shutting_down(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	int s = q->shutting_down;
	pthread_mutex_unlock(&q->mu);
	return s;
}

size_t queue_len(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	promote_due(q, q->now());
	size_t n = q->count;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t queue_delayed(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	promote_due(q, q->now());
	size_t n = json_object_size(q->waiting);
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t queue_processing(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = json_object_size(q->processing);
	pthread_mutex_unlock(&q->mu);
	return n;
}

void queue_get_metrics(struct queue *q, struct queue_metrics *out)
{
	const char *key;
	json_t *v;
	pthread_mutex_lock(&q->mu);
	double now = q->now();
	promote_due(q, now);
	out->adds = atomic_load(&q->adds);
	out->retries = atomic_load(&q->retries);
	out->depth = json_object_size(q->dirty);
	out->delayed = json_object_size(q->waiting);
	out->unfinished_s = 0;
	out->longest_s = 0;
	json_object_foreach(q->processing, key, v) {
		double d = now - json_real_value(v);
		out->unfinished_s += d;
		if (d > out->longest_s)
			out->longest_s = d;
	}
	pthread_mutex_unlock(&q->mu);
}

const struct prom_histogram *queue_wait_histogram(struct queue *q)
{
	return &q->wait_h;
}

const struct prom_histogram *queue_work_histogram(struct queue *q)
{
	return &q->work_h;
}

/*
 * A rate-limited work queue of string keys ("namespace/name"), with client-go's workqueue semantics:
 *
 *   - dedup: a key added while already waiting is not added twice;
 *   - exclusivity: a key handed to a worker (queue_get) is not handed to another until queue_done; adds in
 *     the meantime collapse into one more run after queue_done;
 *   - delays: queue_add_after(key, d) makes the key ready after d (the earliest of several delays wins);
 *   - retries: queue_add_rate_limited(key) delays by max(per-item exponential 5 ms × 2^failures capped at
 *     1000 s, an overall token bucket of 10/s with burst 100); queue_forget clears the item's history;
 *     queue_reset_backoff clears every item's (not in client-go: the controller calls it when the API server
 *     comes back after an outage);
 *   - shutdown: queue_shutdown wakes every waiting worker; queue_get then returns NULL once nothing is ready
 *     (drain) or at once (no drain), and later adds are ignored.
 *
 * Thread-safe. Keys are copied on add; queue_get returns a malloc'd key the worker passes to queue_done and
 * then frees. Time comes from a clock callback so tests can drive it.
 */
#ifndef SO_CONTROLLER_QUEUE_H
#define SO_CONTROLLER_QUEUE_H

#include <stddef.h>

#include "operator/base/prom.h"

struct queue;

struct queue_opts {
	double base_delay_s;     /* per-item backoff start: 0.005 */
	double max_delay_s;      /* per-item backoff cap: 1000 */
	double overall_qps;      /* overall retry bucket: 10 (<= 0 disables) */
	int overall_burst;       /* 100 */
	double (*now)(void);     /* monotonic seconds; NULL means CLOCK_MONOTONIC */
};

void queue_opts_default(struct queue_opts *o);
struct queue *queue_new(const struct queue_opts *o);
void queue_free(struct queue *q);

void queue_add(struct queue *q, const char *key);
void queue_add_after(struct queue *q, const char *key, double delay_s);
void queue_add_rate_limited(struct queue *q, const char *key);
void queue_forget(struct queue *q, const char *key);
int queue_num_requeues(struct queue *q, const char *key);
/* After an outage (the API server reachable again): forgets every key's failure history, makes every key
 * waiting out a retry backoff ready at once, and refills the overall retry bucket. Without it, a key that failed
 * a dozen times while the server was down would wait minutes (up to max_delay_s) after it came back. Returns
 * the number of keys made ready. */
size_t queue_reset_backoff(struct queue *q);

/* Blocks until a key is ready (or timeout_s passes: NULL; timeout_s < 0 waits forever), or the queue shuts
 * down (NULL). The returned key is owned by the caller (free) and must be passed to queue_done. */
char *queue_get(struct queue *q, double timeout_s);
void queue_done(struct queue *q, const char *key);

/* Stops handing out keys: with drain, keys already ready are still handed out; delayed ones are dropped. */
void queue_shutdown(struct queue *q, int drain);
int queue_shutting_down(struct queue *q);

/* Introspection for metrics and tests. */
size_t queue_len(struct queue *q);        /* ready keys */
size_t queue_delayed(struct queue *q);    /* keys waiting for their delay */
size_t queue_processing(struct queue *q); /* keys held by workers */

/* client-go's workqueue metrics (controller-runtime's workqueue_* families), on the queue's clock. */
struct queue_metrics {
	unsigned long adds;     /* adds that queued a key (deduplicated ones are not counted) */
	unsigned long retries;  /* delayed adds (queue_add_after, queue_add_rate_limited) */
	size_t depth;           /* keys waiting to be handed out, those held and added again included */
	size_t delayed;         /* keys waiting for their delay (not in depth, as in client-go) */
	double unfinished_s;    /* the sum of how long each held key has been held */
	double longest_s;       /* the longest of those */
};
void queue_get_metrics(struct queue *q, struct queue_metrics *out);
/* Seconds from add to hand-out, and from hand-out to done. */
const struct prom_histogram *queue_wait_histogram(struct queue *q);
const struct prom_histogram *queue_work_histogram(struct queue *q);

#endif

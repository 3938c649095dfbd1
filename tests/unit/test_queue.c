/* The work queue: client-go workqueue semantics, delays and rate limits on a fake clock, shutdown, and a
 * multi-threaded stress run on the real clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/runtime/queue.h"
#include "operator/base/buf.h"

/* ---- fake clock (single-threaded tests only) ---- */

static double fake_now;

static double fake_clock(void)
{
	return fake_now;
}

static struct queue *fake_queue(double qps)
{
	struct queue_opts o;
	queue_opts_default(&o);
	o.overall_qps = qps;
	o.now = fake_clock;
	fake_now = 1000.0;
	struct queue *q = queue_new(&o);
	assert_non_null(q);
	return q;
}

static double real_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

/* Gets a key at once (timeout 0), checks it, and finishes it. */
static void expect_get(struct queue *q, const char *want)
{
	char *k = queue_get(q, 0);
	assert_non_null(k);
	assert_string_equal(k, want);
	queue_done(q, k);
	free(k);
}

static void expect_none(struct queue *q)
{
	char *k = queue_get(q, 0);
	assert_null(k);
}

/* ---- basic semantics ---- */

static void defaults(void **state)
{
	(void)state;
	struct queue_opts o;
	queue_opts_default(&o);
	assert_true(o.base_delay_s == 0.005);
	assert_true(o.max_delay_s == 1000);
	assert_true(o.overall_qps == 10);
	assert_int_equal(o.overall_burst, 100);
	assert_null(o.now);
	struct queue *q = queue_new(NULL);
	assert_non_null(q);
	queue_add(q, "a");
	expect_get(q, "a");
	queue_free(q);
	queue_free(NULL);
}

static void dedup(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_add(q, "a");
	queue_add(q, "a");
	queue_add(q, "b");
	queue_add(q, "a");
	assert_int_equal(queue_len(q), 2);
	expect_get(q, "a");
	expect_get(q, "b");
	expect_none(q);
	assert_int_equal(queue_len(q), 0);
	assert_int_equal(queue_processing(q), 0);
	queue_free(q);
}

static void fifo_order(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	const char *keys[] = { "ns/c", "ns/a", "other/z", "ns/b", "x" };
	for (size_t i = 0; i < 5; i++)
		queue_add(q, keys[i]);
	for (size_t i = 0; i < 5; i++)
		expect_get(q, keys[i]);
	expect_none(q);
	queue_free(q);
}

static void keys_are_copied(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	char buf[16];
	snprintf(buf, sizeof(buf), "%s", "ns/one");
	queue_add(q, buf);
	queue_add_after(q, buf, 1);
	snprintf(buf, sizeof(buf), "%s", "ns/two");
	expect_get(q, "ns/one");
	fake_now += 1;
	expect_get(q, "ns/one");
	queue_free(q);
}

static void exclusivity(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_add(q, "a");
	queue_add(q, "b");
	char *a = queue_get(q, 0);
	assert_string_equal(a, "a");
	assert_int_equal(queue_processing(q), 1);
	/* Adds while processing collapse and are not handed out. */
	queue_add(q, "a");
	queue_add(q, "a");
	queue_add(q, "a");
	assert_int_equal(queue_len(q), 1); /* only b */
	expect_get(q, "b");
	expect_none(q);
	queue_done(q, a);
	free(a);
	assert_int_equal(queue_processing(q), 0);
	assert_int_equal(queue_len(q), 1);
	expect_get(q, "a"); /* exactly one more run */
	expect_none(q);
	/* done on a key that is not being processed changes nothing. */
	queue_add(q, "c");
	queue_done(q, "c");
	assert_int_equal(queue_len(q), 1);
	expect_get(q, "c");
	expect_none(q);
	queue_free(q);
}

/* ---- delays ---- */

static void add_after_ordering(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_add_after(q, "x", 3);
	queue_add_after(q, "y", 1);
	queue_add_after(q, "z", 2);
	queue_add_after(q, "now", 0);
	queue_add_after(q, "neg", -5);
	assert_int_equal(queue_delayed(q), 3);
	expect_get(q, "now");
	expect_get(q, "neg");
	expect_none(q);
	fake_now = 1000.999;
	expect_none(q);
	fake_now = 1001.0;
	expect_get(q, "y");
	expect_none(q);
	fake_now = 1002.5;
	expect_get(q, "z");
	fake_now = 1003.0;
	assert_int_equal(queue_delayed(q), 0);
	assert_int_equal(queue_len(q), 1);
	expect_get(q, "x");
	expect_none(q);

	/* Several due at once come out in ready-time order, and before a later plain add. */
	queue_add_after(q, "late", 2);
	queue_add_after(q, "early", 1);
	fake_now += 5;
	queue_add(q, "plain");
	expect_get(q, "early");
	expect_get(q, "late");
	expect_get(q, "plain");
	expect_none(q);
	queue_free(q);
}

static void earliest_delay_wins(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_add_after(q, "a", 5);
	queue_add_after(q, "a", 2);
	queue_add_after(q, "a", 4);
	assert_int_equal(queue_delayed(q), 1);
	fake_now = 1001.9;
	expect_none(q);
	fake_now = 1002.0;
	expect_get(q, "a");
	fake_now = 1010.0;
	expect_none(q); /* the superseded 4 s and 5 s entries are gone */

	queue_add_after(q, "b", 1);
	queue_add_after(q, "b", 4);
	fake_now = 1011.0;
	expect_get(q, "b");
	fake_now = 1015.0;
	expect_none(q);

	/* Shortening one key's delay over and over keeps one delayed key and delivers it once. */
	for (int i = 0; i < 1000; i++)
		queue_add_after(q, "c", 1000.0 - i * 0.5);
	assert_int_equal(queue_delayed(q), 1);
	fake_now += 500.5;
	expect_get(q, "c");
	fake_now += 2000;
	expect_none(q);
	assert_int_equal(queue_delayed(q), 0);
	queue_free(q);
}

static void delayed_key_while_processing(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_add(q, "a");
	char *a = queue_get(q, 0);
	assert_string_equal(a, "a");
	queue_add_after(q, "a", 1);
	fake_now += 1;
	expect_none(q); /* due, but parked as dirty while processing */
	assert_int_equal(queue_len(q), 0);
	assert_int_equal(queue_delayed(q), 0);
	queue_done(q, a);
	free(a);
	expect_get(q, "a");
	expect_none(q);

	/* A delayed key that comes due while it is still queued is deduplicated. */
	queue_add(q, "b");
	queue_add_after(q, "b", 1);
	fake_now += 1;
	assert_int_equal(queue_len(q), 1);
	expect_get(q, "b");
	expect_none(q);

	/* As in client-go, a plain add does not cancel a pending delay: b runs now and again when due. */
	queue_add_after(q, "b", 1);
	queue_add(q, "b");
	expect_get(q, "b");
	fake_now += 1;
	expect_get(q, "b");
	expect_none(q);
	queue_free(q);
}

/* ---- rate limiting ---- */

static void rate_limited_backoff(void **state)
{
	(void)state;
	struct queue *q = fake_queue(0); /* per-item limiter only */
	double expected = 0.005;
	for (int i = 0; i < 25; i++) {
		if (i == 0)
			assert_true(expected == 0.005);
		if (i == 1)
			assert_true(expected == 0.010);
		if (i == 2)
			assert_true(expected == 0.020);
		if (i == 17)
			assert_true(expected == 655.36);
		if (i >= 18)
			assert_true(expected == 1000.0);
		double t0 = fake_now;
		queue_add_rate_limited(q, "k");
		assert_int_equal(queue_num_requeues(q, "k"), i + 1);
		assert_int_equal(queue_delayed(q), 1);
		fake_now = t0 + expected * 0.999;
		expect_none(q);
		fake_now = t0 + expected;
		expect_get(q, "k");
		expect_none(q);
		expected *= 2;
		if (expected > 1000)
			expected = 1000;
	}
	assert_int_equal(queue_num_requeues(q, "other"), 0);
	queue_free(q);
}

static void rate_limited_overflow_guard(void **state)
{
	(void)state;
	struct queue *q = fake_queue(0);
	for (int i = 0; i < 2000; i++)
		queue_add_rate_limited(q, "k");
	assert_int_equal(queue_num_requeues(q, "k"), 2000);
	assert_int_equal(queue_delayed(q), 1);
	fake_now += 0.005; /* the first, earliest delay wins */
	expect_get(q, "k");
	double t0 = fake_now;
	queue_add_rate_limited(q, "k");
	fake_now = t0 + 999.999;
	expect_none(q);
	fake_now = t0 + 1000;
	expect_get(q, "k");
	queue_free(q);
}

static void forget_resets(void **state)
{
	(void)state;
	struct queue *q = fake_queue(0);
	for (int i = 0; i < 3; i++) {
		queue_add_rate_limited(q, "k");
		fake_now += 1;
		expect_get(q, "k");
	}
	assert_int_equal(queue_num_requeues(q, "k"), 3);
	queue_forget(q, "k");
	assert_int_equal(queue_num_requeues(q, "k"), 0);
	queue_forget(q, "never-seen");
	double t0 = fake_now;
	queue_add_rate_limited(q, "k");
	assert_int_equal(queue_num_requeues(q, "k"), 1);
	fake_now = t0 + 0.0049;
	expect_none(q);
	fake_now = t0 + 0.005;
	expect_get(q, "k");
	queue_free(q);
}

/* An outage: keys failed over and over (long backoffs, the overall bucket in debt). The reset makes each of them
 * ready at once, in no particular order, forgets their failures and the bucket's debt; a key delayed by
 * add_after without failures keeps its delay; a key held by a worker is not handed out twice. */
static void reset_backoff(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	char key[16];
	queue_add(q, "held");
	char *held = queue_get(q, 0);
	assert_non_null(held);
	assert_string_equal(held, "held");
	/* Every key fails at once, 20 times in a row, without being handed out (each failure extends its wait). */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 150; i++) {
			snprintf(key, sizeof key, "k%03d", i);
			queue_add_rate_limited(q, key);
		}
	}
	assert_int_equal(queue_num_requeues(q, "k000"), 20);
	queue_add_after(q, "delayed", 30);
	queue_add_rate_limited(q, "held"); /* failed while processing: waits behind the bucket's debt */
	assert_int_equal(queue_len(q), 0);
	assert_int_equal(queue_delayed(q), 152);

	assert_int_equal(queue_reset_backoff(q), 151); /* "held" is only marked: it is still being processed */
	assert_int_equal(queue_len(q), 150);
	assert_int_equal(queue_delayed(q), 1); /* "delayed" only */
	assert_int_equal(queue_num_requeues(q, "k000"), 0);
	assert_int_equal(queue_num_requeues(q, "held"), 0);
	for (int i = 0; i < 150; i++) {
		char *k = queue_get(q, 0);
		assert_non_null(k);
		assert_string_not_equal(k, "held");
		assert_string_not_equal(k, "delayed");
		queue_done(q, k);
		free(k);
	}
	expect_none(q);
	/* The stale heap entries of the reset keys never hand them out again. */
	fake_now += 2000;
	expect_get(q, "delayed");
	expect_none(q);
	queue_done(q, held); /* its failure add while held was a dirty mark: one more run */
	free(held);
	expect_get(q, "held");
	/* The next failure starts the backoff again at 5 ms, and the bucket has its burst back. */
	double t0 = fake_now;
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%03d", i);
		queue_add_rate_limited(q, key);
	}
	fake_now = t0 + 0.005;
	assert_int_equal(queue_len(q), 100);
	assert_int_equal(queue_reset_backoff(q), 0); /* nothing waiting for a backoff */
	queue_free(q);
}

static void overall_bucket(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10); /* 10 qps, burst 100 */
	double t0 = fake_now;
	char key[16];
	for (int i = 0; i <= 100; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		queue_add_rate_limited(q, key);
		assert_int_equal(queue_num_requeues(q, key), 1);
	}
	assert_int_equal(queue_delayed(q), 101);
	fake_now = t0 + 0.005;
	assert_int_equal(queue_len(q), 100);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		expect_get(q, key);
	}
	expect_none(q);
	fake_now = t0 + 0.0999;
	expect_none(q);
	fake_now = t0 + 0.1; /* the 101st waited for a token */
	expect_get(q, "k100");
	expect_none(q);
	queue_free(q);
}

/* ---- shutdown ---- */

struct getter {
	struct queue *q;
	double timeout;
	char *got;
	double elapsed;
	atomic_int started;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	atomic_store(&g->started, 1);
	double t0 = real_now();
	g->got = queue_get(g->q, g->timeout);
	g->elapsed = real_now() - t0;
	return NULL;
}

static void start_getter(pthread_t *t, struct getter *g, struct queue *q, double timeout)
{
	memset(g, 0, sizeof(*g));
	g->q = q;
	g->timeout = timeout;
	assert_int_equal(pthread_create(t, NULL, getter_main, g), 0);
	for (int i = 0; i < 5000 && !atomic_load(&g->started); i++)
		sleep_s(0.001);
	sleep_s(0.05); /* let it block; correctness does not depend on this */
}

static void blocked_getter_wakes(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL); /* real clock */
	assert_non_null(q);
	pthread_t t;
	struct getter g;

	/* A timeout on an empty queue returns NULL. */
	assert_null(queue_get(q, 0.02));

	/* An add from another thread wakes it. */
	start_getter(&t, &g, q, 60);
	queue_add(q, "x");
	pthread_join(t, NULL);
	assert_non_null(g.got);
	assert_string_equal(g.got, "x");
	queue_done(q, g.got);
	free(g.got);

	/* A delay coming due wakes it (well before the 10 s safety wakeup). */
	start_getter(&t, &g, q, 60);
	queue_add_after(q, "y", 0.05);
	pthread_join(t, NULL);
	assert_non_null(g.got);
	assert_string_equal(g.got, "y");
	assert_true(g.elapsed < 9);
	queue_done(q, g.got);
	free(g.got);

	/* Shutdown wakes a getter blocked with no deadline of its own. */
	start_getter(&t, &g, q, -1);
	queue_shutdown(q, 1);
	pthread_join(t, NULL);
	assert_null(g.got);
	assert_int_equal(queue_shutting_down(q), 1);
	queue_free(q);
}

static void shutdown_wakes_all_getters(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL);
	assert_non_null(q);
	queue_add_after(q, "far", 100); /* sleepers wait on a timeout, not forever */
	pthread_t t[3];
	struct getter g[3];
	for (int i = 0; i < 3; i++)
		start_getter(&t[i], &g[i], q, i == 0 ? -1 : 60);
	queue_shutdown(q, 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_null(g[i].got);
		assert_true(g[i].elapsed < 30);
	}
	assert_int_equal(queue_delayed(q), 0);
	queue_free(q);
}

static void drain(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_add(q, "a");
	queue_add(q, "b");
	queue_add_after(q, "c", 1);
	char *a = queue_get(q, 0);
	assert_string_equal(a, "a");
	queue_add(q, "a"); /* dirty while processing, before shutdown */
	queue_shutdown(q, 1);
	assert_int_equal(queue_shutting_down(q), 1);
	assert_int_equal(queue_delayed(q), 0); /* delayed keys are dropped */
	expect_get(q, "b");                    /* ready keys are still handed out */
	expect_none(q);
	queue_done(q, a); /* its pending run was ready work: requeued and drained */
	free(a);
	expect_get(q, "a");
	expect_none(q);
	fake_now += 2;
	expect_none(q);
	assert_int_equal(queue_processing(q), 0);
	queue_free(q);
}

static void no_drain(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL);
	assert_non_null(q);
	queue_add(q, "a");
	queue_add(q, "b");
	queue_add(q, "c");
	char *a = queue_get(q, 0);
	assert_string_equal(a, "a");
	queue_shutdown(q, 0);
	assert_null(queue_get(q, 0));
	assert_null(queue_get(q, -1)); /* at once, even with ready keys left */
	assert_int_equal(queue_len(q), 2);
	queue_done(q, a);
	free(a);
	assert_int_equal(queue_processing(q), 0);
	queue_free(q); /* frees b and c */

	/* A later no-drain shutdown stops a draining queue. */
	q = queue_new(NULL);
	assert_non_null(q);
	queue_add(q, "a");
	queue_shutdown(q, 1);
	queue_shutdown(q, 0);
	assert_null(queue_get(q, -1));
	queue_free(q);
}

static void adds_after_shutdown_ignored(void **state)
{
	(void)state;
	struct queue *q = fake_queue(10);
	queue_shutdown(q, 1);
	queue_add(q, "a");
	queue_add_after(q, "b", 1);
	queue_add_after(q, "c", 0);
	queue_add_rate_limited(q, "d");
	queue_forget(q, "d");
	assert_int_equal(queue_len(q), 0);
	assert_int_equal(queue_delayed(q), 0);
	assert_int_equal(queue_num_requeues(q, "d"), 0);
	expect_none(q);
	fake_now += 10;
	expect_none(q);
	queue_free(q);
}

/* ---- stress ---- */

#define STRESS_KEYS 50
#define STRESS_PRODUCERS 2
#define STRESS_WORKERS 4
#define STRESS_ADDS_EACH 500

struct stress {
	struct queue *q;
	atomic_long stamp;                 /* global order of add and start events */
	atomic_int in_flight[STRESS_KEYS];
	atomic_int violations;             /* a key seen by two workers at once */
	atomic_int bad_keys;               /* a key that was never added */
	atomic_int adds[STRESS_KEYS];
	atomic_int runs[STRESS_KEYS];
	atomic_long last_add[STRESS_KEYS];
	atomic_long last_start[STRESS_KEYS];
};

struct producer {
	struct stress *s;
	int id;
};

static void atomic_max(atomic_long *a, long v)
{
	long cur = atomic_load(a);
	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

static int key_index(const char *k)
{
	if (k[0] != 'k' || k[1] < '0' || k[1] > '9' || k[2] < '0' || k[2] > '9' || k[3] != '\0')
		return -1;
	int i = (k[1] - '0') * 10 + (k[2] - '0');
	return i < STRESS_KEYS ? i : -1;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct stress *s = p->s;
	char key[8];
	for (int i = 0; i < STRESS_ADDS_EACH; i++) {
		int idx = (i * 31 + p->id * 17) % STRESS_KEYS;
		snprintf(key, sizeof(key), "k%02d", idx);
		atomic_fetch_add(&s->adds[idx], 1);
		atomic_max(&s->last_add[idx], atomic_fetch_add(&s->stamp, 1) + 1);
		if (i % 4 == 0)
			queue_add_after(s->q, key, 0.0005);
		else
			queue_add(s->q, key);
		if (i % 16 == 0)
			sleep_s(0.0001);
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct stress *s = arg;
	char *key;
	unsigned n = 0;
	while ((key = queue_get(s->q, -1)) != NULL) {
		int idx = key_index(key);
		if (idx < 0) {
			atomic_fetch_add(&s->bad_keys, 1);
		} else {
			if (atomic_fetch_add(&s->in_flight[idx], 1) != 0)
				atomic_fetch_add(&s->violations, 1);
			atomic_max(&s->last_start[idx], atomic_fetch_add(&s->stamp, 1) + 1);
			atomic_fetch_add(&s->runs[idx], 1);
			if (++n % 8 == 0)
				sleep_s(0.00005); /* widen the window for overlapping adds */
			atomic_fetch_sub(&s->in_flight[idx], 1);
		}
		queue_done(s->q, key);
		free(key);
	}
	return NULL;
}

static void stress(void **state)
{
	(void)state;
	struct stress *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->q = queue_new(NULL);
	assert_non_null(s->q);
	pthread_t workers[STRESS_WORKERS], producers[STRESS_PRODUCERS];
	struct producer pa[STRESS_PRODUCERS];
	for (int i = 0; i < STRESS_WORKERS; i++)
		assert_int_equal(pthread_create(&workers[i], NULL, worker_main, s), 0);
	for (int i = 0; i < STRESS_PRODUCERS; i++) {
		pa[i] = (struct producer){ .s = s, .id = i };
		assert_int_equal(pthread_create(&producers[i], NULL, producer_main, &pa[i]), 0);
	}
	for (int i = 0; i < STRESS_PRODUCERS; i++)
		pthread_join(producers[i], NULL);

	/* Wait (bounded) until nothing is delayed, ready or in progress, twice in a row. */
	int idle = 0;
	for (int i = 0; i < 30000 && idle < 2; i++) {
		if (queue_delayed(s->q) == 0 && queue_len(s->q) == 0 && queue_processing(s->q) == 0)
			idle++;
		else
			idle = 0;
		sleep_s(0.001);
	}
	assert_int_equal(idle, 2);
	queue_shutdown(s->q, 1);
	for (int i = 0; i < STRESS_WORKERS; i++)
		pthread_join(workers[i], NULL);

	assert_int_equal(atomic_load(&s->violations), 0);
	assert_int_equal(atomic_load(&s->bad_keys), 0);
	long total_adds = 0, total_runs = 0;
	for (int i = 0; i < STRESS_KEYS; i++) {
		int adds = atomic_load(&s->adds[i]), runs = atomic_load(&s->runs[i]);
		total_adds += adds;
		total_runs += runs;
		assert_true(adds > 0);
		assert_true(runs >= 1);
		assert_true(runs <= adds);
		/* Every add was followed by a processing start. */
		assert_true(atomic_load(&s->last_start[i]) > atomic_load(&s->last_add[i]));
		assert_int_equal(atomic_load(&s->in_flight[i]), 0);
	}
	assert_int_equal(total_adds, STRESS_PRODUCERS * STRESS_ADDS_EACH);
	assert_true(total_runs <= total_adds);
	assert_int_equal(queue_len(s->q), 0);
	assert_int_equal(queue_processing(s->q), 0);
	queue_free(s->q);
	free(s);
}

/* client-go's workqueue metrics on the fake clock: adds count queued keys only, depth counts keys not yet
 * handed out (a held key added again included), every delayed add is a retry, and the two histograms time
 * add→get and get→done. */
static void metrics(void **state)
{
	(void)state;
	struct queue *q = fake_queue(0);
	struct queue_metrics m;

	queue_add(q, "a");
	queue_add(q, "a"); /* deduplicated: not an add */
	queue_add(q, "b");
	queue_get_metrics(q, &m);
	assert_int_equal(m.adds, 2);
	assert_int_equal(m.depth, 2);
	assert_int_equal(m.retries, 0);

	fake_now += 0.5;
	char *k = queue_get(q, 0);
	assert_string_equal(k, "a");
	queue_add(q, "a"); /* held and added again: counted, and in depth */
	fake_now += 2;
	queue_get_metrics(q, &m);
	assert_int_equal(m.adds, 3);
	assert_int_equal(m.depth, 2); /* b, and a again */
	assert_true(m.unfinished_s == 2.0 && m.longest_s == 2.0);
	queue_done(q, k);
	free(k);

	queue_add_after(q, "c", 5);
	queue_add_rate_limited(q, "d");
	queue_get_metrics(q, &m);
	assert_int_equal(m.retries, 2);
	assert_int_equal(m.delayed, 2);
	assert_true(m.unfinished_s == 0 && m.longest_s == 0);

	const struct prom_histogram *wait = queue_wait_histogram(q), *work = queue_work_histogram(q);
	assert_int_equal(prom_histogram_count(wait), 1); /* a waited 0.5 s */
	assert_int_equal(prom_histogram_count(work), 1); /* and was held 2 s */
	struct buf out = BUF_INIT(1 << 16);
	assert_int_equal(prom_histogram_write(&out, "w", "", wait), 0);
	assert_non_null(strstr(out.data, "w_bucket{le=\"0.1\"} 0\nw_bucket{le=\"1\"} 1\n"));
	assert_non_null(strstr(out.data, "w_sum 0.5\n"));
	buf_reset(&out);
	assert_int_equal(prom_histogram_write(&out, "w", "", work), 0);
	assert_non_null(strstr(out.data, "w_bucket{le=\"1\"} 0\nw_bucket{le=\"10\"} 1\n"));
	buf_free(&out);
	queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(dedup),
		cmocka_unit_test(fifo_order),
		cmocka_unit_test(keys_are_copied),
		cmocka_unit_test(exclusivity),
		cmocka_unit_test(add_after_ordering),
		cmocka_unit_test(earliest_delay_wins),
		cmocka_unit_test(delayed_key_while_processing),
		cmocka_unit_test(rate_limited_backoff),
		cmocka_unit_test(rate_limited_overflow_guard),
		cmocka_unit_test(forget_resets),
		cmocka_unit_test(overall_bucket),
		cmocka_unit_test(reset_backoff),
		cmocka_unit_test(blocked_getter_wakes),
		cmocka_unit_test(shutdown_wakes_all_getters),
		cmocka_unit_test(drain),
		cmocka_unit_test(no_drain),
		cmocka_unit_test(adds_after_shutdown_ignored),
		cmocka_unit_test(stress),
		cmocka_unit_test(metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

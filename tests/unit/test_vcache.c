/* The verified-result cache: hits and TTL expiry on an injected clock, the LRU bound, errors never stored,
 * single-flight (concurrent identical lookups run one fill and share its answer, success or failure), waiters
 * bounded by their deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "webhook/verify/vcache.h"

static int64_t fake_now;
static int64_t clock_fn(void *ud)
{
	(void)ud;
	return fake_now;
}

struct filler {
	atomic_int calls;
	int rc;
	int64_t ttl;
	const char *value;
	/* a gate the fill waits at, so that other threads can pile up behind it */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open, gated, entered;
};

static int fill(void *ud, char **value, int64_t *ttl)
{
	struct filler *f = ud;
	atomic_fetch_add(&f->calls, 1);
	if (f->gated) {
		pthread_mutex_lock(&f->mu);
		f->entered = 1;
		pthread_cond_broadcast(&f->cv);
		while (!f->open)
			pthread_cond_wait(&f->cv, &f->mu);
		pthread_mutex_unlock(&f->mu);
	}
	*value = f->value ? strdup(f->value) : NULL;
	*ttl = f->ttl;
	return f->rc;
}

static void filler_init(struct filler *f, int rc, int64_t ttl, const char *value)
{
	memset(f, 0, sizeof *f);
	atomic_init(&f->calls, 0);
	f->rc = rc;
	f->ttl = ttl;
	f->value = value;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
}

static struct vcache *new_cache(size_t max)
{
	struct vcache_opts o = { .max_entries = max, .now_ms = clock_fn };
	struct vcache *c = NULL;
	assert_int_equal(vcache_new(&o, &c), SO_OK);
	return c;
}

static void hit_and_ttl(void **state)
{
	(void)state;
	struct vcache *c = new_cache(8);
	struct filler f;
	enum vcache_how how;
	char *v;

	fake_now = 1000;
	filler_init(&f, SO_OK, 500, "verified");
	assert_int_equal(vcache_get(c, "k", 0, fill, &f, &v, &how), SO_OK);
	assert_int_equal(how, VCACHE_MISS);
	assert_string_equal(v, "verified");
	free(v);
	fake_now = 1499;
	assert_int_equal(vcache_get(c, "k", 0, fill, &f, &v, &how), SO_OK);
	assert_int_equal(how, VCACHE_HIT);
	assert_string_equal(v, "verified");
	free(v);
	assert_int_equal(atomic_load(&f.calls), 1);
	assert_int_equal(vcache_peek(c, "k", &v), SO_OK);
	free(v);
	/* Expired: filled again. */
	fake_now = 1500;
	assert_int_equal(vcache_peek(c, "k", &v), SO_E_API_NOT_FOUND);
	assert_int_equal(vcache_get(c, "k", 0, fill, &f, &v, &how), SO_OK);
	assert_int_equal(how, VCACHE_MISS);
	free(v);
	assert_int_equal(atomic_load(&f.calls), 2);
	/* ttl 0: answered, not stored. */
	filler_init(&f, SO_OK, 0, "x");
	assert_int_equal(vcache_get(c, "k0", 0, fill, &f, &v, &how), SO_OK);
	free(v);
	assert_int_equal(vcache_peek(c, "k0", &v), SO_E_API_NOT_FOUND);
	struct vcache_stats st;
	vcache_get_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.entries, 1);
	vcache_free(c);
}

static void errors_not_cached(void **state)
{
	(void)state;
	struct vcache *c = new_cache(8);
	struct filler f;
	enum vcache_how how;
	char *v;

	fake_now = 0;
	filler_init(&f, SO_E_TRANSPORT, 100000, "registry down");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vcache_get(c, "k", 0, fill, &f, &v, &how), SO_E_TRANSPORT);
		assert_int_equal(how, VCACHE_MISS);
		assert_string_equal(v, "registry down"); /* the message reaches the caller */
		free(v);
	}
	assert_int_equal(atomic_load(&f.calls), 3);
	assert_int_equal(vcache_peek(c, "k", &v), SO_E_API_NOT_FOUND);
	vcache_free(c);
}

static void lru_bound(void **state)
{
	(void)state;
	struct vcache *c = new_cache(3);
	struct filler f;
	char *v, key[16];

	fake_now = 0;
	filler_init(&f, SO_OK, 100000, "v");
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(vcache_get(c, key, 0, fill, &f, &v, NULL), SO_OK);
		free(v);
	}
	/* Touch k0 so that k1 is the least recently used, then add k3. */
	assert_int_equal(vcache_get(c, "k0", 0, fill, &f, &v, NULL), SO_OK);
	free(v);
	assert_int_equal(vcache_get(c, "k3", 0, fill, &f, &v, NULL), SO_OK);
	free(v);
	assert_int_equal(vcache_peek(c, "k1", &v), SO_E_API_NOT_FOUND);
	assert_int_equal(vcache_peek(c, "k0", &v), SO_OK);
	free(v);
	assert_int_equal(vcache_peek(c, "k2", &v), SO_OK);
	free(v);
	assert_int_equal(vcache_peek(c, "k3", &v), SO_OK);
	free(v);
	struct vcache_stats st;
	vcache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 1);
	/* Many more keys than slots: the bound holds. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "m%d", i);
		assert_int_equal(vcache_get(c, key, 0, fill, &f, &v, NULL), SO_OK);
		free(v);
	}
	vcache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	vcache_free(c);
}

struct caller {
	struct vcache *c;
	struct filler *f;
	int64_t deadline;
	int rc;
	char *v;
	enum vcache_how how;
	pthread_t t;
};

static void *call(void *arg)
{
	struct caller *k = arg;
	k->rc = vcache_get(k->c, "same", k->deadline, fill, k->f, &k->v, &k->how);
	return NULL;
}

/* Starts the leader and waits until it is inside fill, then starts n followers and waits until each has
 * joined the flight (the shared counter says so). */
static void pile_up(struct vcache *c, struct filler *f, struct caller *k, int n, int64_t deadline)
{
	struct vcache_stats st;
	for (int i = 0; i < n; i++)
		k[i] = (struct caller){ .c = c, .f = f, .deadline = deadline };
	assert_int_equal(pthread_create(&k[0].t, NULL, call, &k[0]), 0);
	pthread_mutex_lock(&f->mu);
	while (!f->entered)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	for (int i = 1; i < n; i++)
		assert_int_equal(pthread_create(&k[i].t, NULL, call, &k[i]), 0);
	do {
		vcache_get_stats(c, &st);
		sched_yield();
	} while (st.shared < (uint64_t)(n - 1));
}

static void open_gate(struct filler *f)
{
	pthread_mutex_lock(&f->mu);
	f->open = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void single_flight(void **state)
{
	(void)state;
	enum { N = 8 };
	struct vcache *c = new_cache(8);
	struct caller k[N];
	struct filler f;
	int shared = 0, missed = 0;

	fake_now = 0;
	filler_init(&f, SO_OK, 100000, "verified");
	f.gated = 1;
	pile_up(c, &f, k, N, 0);
	open_gate(&f);
	for (int i = 0; i < N; i++) {
		pthread_join(k[i].t, NULL);
		assert_int_equal(k[i].rc, SO_OK);
		assert_string_equal(k[i].v, "verified");
		shared += k[i].how == VCACHE_SHARED;
		missed += k[i].how == VCACHE_MISS;
		free(k[i].v);
	}
	assert_int_equal(atomic_load(&f.calls), 1);
	assert_int_equal(missed, 1);
	assert_int_equal(shared, N - 1);
	vcache_free(c);
}

static void single_flight_failure_shared_not_stored(void **state)
{
	(void)state;
	enum { N = 4 };
	struct vcache *c = new_cache(8);
	struct caller k[N];
	struct filler f;
	char *v;

	fake_now = 0;
	filler_init(&f, SO_E_INVAL, 100000, "no signatures found");
	f.gated = 1;
	pile_up(c, &f, k, N, 0);
	open_gate(&f);
	for (int i = 0; i < N; i++) {
		pthread_join(k[i].t, NULL);
		assert_int_equal(k[i].rc, SO_E_INVAL);
		assert_string_equal(k[i].v, "no signatures found");
		free(k[i].v);
	}
	assert_int_equal(atomic_load(&f.calls), 1);
	assert_int_equal(vcache_peek(c, "same", &v), SO_E_API_NOT_FOUND);
	vcache_free(c);
}

static void waiter_deadline(void **state)
{
	(void)state;
	struct vcache *c = new_cache(8);
	struct caller k[2];
	struct filler f;

	fake_now = 0;
	filler_init(&f, SO_OK, 100000, "late");
	f.gated = 1;
	/* The follower's deadline is already past: it gives up while the leader is still filling. */
	pile_up(c, &f, k, 1, 0);
	k[1] = (struct caller){ .c = c, .f = &f, .deadline = clock_mono_ms() - 1 };
	call(&k[1]);
	assert_int_equal(k[1].rc, SO_E_TIMEOUT);
	assert_int_equal(k[1].how, VCACHE_SHARED);
	assert_null(k[1].v);
	open_gate(&f);
	pthread_join(k[0].t, NULL);
	assert_int_equal(k[0].rc, SO_OK);
	free(k[0].v);
	vcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hit_and_ttl),
		cmocka_unit_test(errors_not_cached),
		cmocka_unit_test(lru_bound),
		cmocka_unit_test(single_flight),
		cmocka_unit_test(single_flight_failure_shared_not_stored),
		cmocka_unit_test(waiter_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

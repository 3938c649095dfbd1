/*
 * webhook/offload.c: the verification pool. Jobs run on its workers; a full pool refuses at once; every job
 * ends exactly once (after its run, or at its deadline while queued or running); offload_stop ends the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "webhook/offload.h"
#include "webhook/verify/vcache.h"

struct job {
	struct offload_job base;
	int64_t run_ms;          /* how long run takes */
	atomic_int ran, finished, timed_out, released;
	int64_t finished_at;
};

static atomic_int n_released;

static void nap_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void run(struct offload_job *b)
{
	struct job *j = (struct job *)b;
	atomic_store(&j->ran, 1);
	nap_ms(j->run_ms);
}

static void finish(struct offload_job *b, int timed_out)
{
	struct job *j = (struct job *)b;
	atomic_fetch_add(&j->finished, 1);
	atomic_store(&j->timed_out, timed_out);
	j->finished_at = clock_mono_ms();
}

static void release(struct offload_job *b)
{
	struct job *j = (struct job *)b;
	atomic_fetch_add(&j->released, 1);
	atomic_fetch_add(&n_released, 1);
}

static void init(struct job *j, int64_t run_ms, int64_t deadline_in_ms)
{
	*j = (struct job){ .run_ms = run_ms };
	j->base.deadline_ms = clock_mono_ms() + deadline_in_ms;
	j->base.run = run;
	j->base.finish = finish;
	j->base.release = release;
}

static void wait_released(int n)
{
	for (int i = 0; i < 1000 && atomic_load(&n_released) < n; i++)
		nap_ms(10);
	assert_int_equal(atomic_load(&n_released), n);
}

/* Quick jobs run and finish with timed_out = 0, each once. */
static void test_runs(void **state)
{
	struct offload *p;
	struct job j[6];
	(void)state;
	atomic_store(&n_released, 0);
	assert_int_equal(offload_new(2, 4, &p), SO_OK);
	for (int i = 0; i < 6; i++) {
		init(&j[i], 20, 5000);
		assert_int_equal(offload_submit(p, &j[i].base), SO_OK);
	}
	wait_released(6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(atomic_load(&j[i].ran), 1);
		assert_int_equal(atomic_load(&j[i].finished), 1);
		assert_int_equal(atomic_load(&j[i].timed_out), 0);
		assert_int_equal(atomic_load(&j[i].released), 1);
	}
	offload_stop(p);
}

/* 1 worker + 1 queued: the third is refused at once; the running one and the queued one end at their deadline,
 * the queued one without running; the slow run is released only when it returns. */
static void test_full_and_deadlines(void **state)
{
	struct offload *p;
	struct offload_stats st;
	struct job slow, queued, extra;
	(void)state;
	atomic_store(&n_released, 0);
	assert_int_equal(offload_new(1, 1, &p), SO_OK);
	init(&slow, 1500, 300);
	init(&queued, 10, 300);
	init(&extra, 10, 300);
	assert_int_equal(offload_submit(p, &slow.base), SO_OK);
	nap_ms(50); /* the worker took it */
	assert_int_equal(offload_submit(p, &queued.base), SO_OK);
	assert_int_equal(offload_submit(p, &extra.base), SO_E_BUSY);
	assert_int_equal(atomic_load(&extra.finished), 0);
	nap_ms(600);
	/* Both ended at their deadline (the timer, not the slow worker), within a generous margin. */
	assert_int_equal(atomic_load(&slow.finished), 1);
	assert_int_equal(atomic_load(&slow.timed_out), 1);
	assert_true(slow.finished_at - slow.base.deadline_ms < 250);
	assert_int_equal(atomic_load(&queued.finished), 1);
	assert_int_equal(atomic_load(&queued.timed_out), 1);
	assert_int_equal(atomic_load(&queued.ran), 0);
	assert_int_equal(atomic_load(&slow.released), 0); /* still running */
	offload_get_stats(p, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.timed_out, 2);
	assert_int_equal(st.running, 1);
	/* The timed-out run still holds its worker: no room for one more than the queue. */
	init(&extra, 10, 3000);
	assert_int_equal(offload_submit(p, &extra.base), SO_OK);
	wait_released(3);
	assert_int_equal(atomic_load(&slow.finished), 1); /* not again after its run */
	assert_int_equal(atomic_load(&extra.timed_out), 0);
	assert_int_equal(atomic_load(&extra.ran), 1);
	offload_stop(p);
}

/* offload_stop ends queued and running jobs with timed_out = 1 and waits for the runs. */
static void test_stop(void **state)
{
	struct offload *p;
	struct job a, b;
	(void)state;
	atomic_store(&n_released, 0);
	assert_int_equal(offload_new(1, 2, &p), SO_OK);
	init(&a, 300, 10000);
	init(&b, 10, 10000);
	assert_int_equal(offload_submit(p, &a.base), SO_OK);
	nap_ms(50);
	assert_int_equal(offload_submit(p, &b.base), SO_OK);
	offload_stop(p);
	assert_int_equal(atomic_load(&n_released), 2);
	assert_int_equal(atomic_load(&a.finished), 1);
	assert_int_equal(atomic_load(&a.timed_out), 1);
	assert_int_equal(atomic_load(&a.ran), 1);
	assert_int_equal(atomic_load(&b.finished), 1);
	assert_int_equal(atomic_load(&b.ran), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_full_and_deadlines),
		cmocka_unit_test(test_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

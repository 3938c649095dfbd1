/* operator/base/ticker.c: calls repeat at the interval the callback returns, stopping cuts a sleep short and
 * no call follows it, a wake brings the next call at once, and clock_in normalises what it adds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/ticker.h"

struct counter {
	atomic_int calls;
	double next_s;
};

static double count_call(void *user)
{
	struct counter *c = user;
	atomic_fetch_add(&c->calls, 1);
	return c->next_s;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

static void test_repeats_until_stopped(void **state)
{
	(void)state;
	struct counter c = { .next_s = 0.005 };
	struct ticker *t;
	assert_int_equal(ticker_start(&t, 0, count_call, &c), SO_OK);
	for (int i = 0; i < 2000 && atomic_load(&c.calls) < 5; i++) /* up to 20 s on a loaded machine */
		sleep_ms(10);
	assert_true(atomic_load(&c.calls) >= 5);
	ticker_stop(t);
	int after = atomic_load(&c.calls);
	sleep_ms(50);
	assert_int_equal(atomic_load(&c.calls), after); /* the thread is gone */
	ticker_stop(NULL);
}

static void test_stop_cuts_the_first_sleep(void **state)
{
	(void)state;
	struct counter c = { .next_s = 3600 };
	struct ticker *t;
	/* an hour before the first call: stopping returns at once (or the suite's timeout fails the test) */
	assert_int_equal(ticker_start(&t, 3600, count_call, &c), SO_OK);
	ticker_stop(t);
	assert_int_equal(atomic_load(&c.calls), 0);

	/* a callback asking for no wait at all still yields (taken as 1 ms), and stopping still works */
	c.next_s = -1;
	assert_int_equal(ticker_start(&t, 0, count_call, &c), SO_OK);
	for (int i = 0; i < 2000 && atomic_load(&c.calls) < 3; i++)
		sleep_ms(10);
	ticker_stop(t);
	assert_true(atomic_load(&c.calls) >= 3);
}

/* A wake cuts an hour's sleep short: the next call comes at once, and the one after sleeps again. */
static void test_wake_cuts_a_sleep(void **state)
{
	(void)state;
	struct counter c = { .next_s = 3600 };
	struct ticker *t;
	assert_int_equal(ticker_start(&t, 0, count_call, &c), SO_OK);
	for (int i = 0; i < 2000 && atomic_load(&c.calls) < 1; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&c.calls), 1);
	ticker_wake(t);
	for (int i = 0; i < 2000 && atomic_load(&c.calls) < 2; i++) /* up to 20 s on a loaded machine, not an hour */
		sleep_ms(10);
	assert_int_equal(atomic_load(&c.calls), 2);
	sleep_ms(100);
	assert_int_equal(atomic_load(&c.calls), 2); /* one wake, one call */
	ticker_stop(t);
}

static void test_clock_in(void **state)
{
	(void)state;
	struct timespec now, t;
	for (int i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = clock_in(CLOCK_MONOTONIC, 1.999999999);
		assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
		assert_true(t.tv_sec == now.tv_sec + 1 || t.tv_sec == now.tv_sec + 2 || t.tv_sec == now.tv_sec + 3);
	}
	/* zero and negative: now */
	clock_gettime(CLOCK_REALTIME, &now);
	t = clock_in(CLOCK_REALTIME, -5);
	assert_true(t.tv_sec == now.tv_sec || t.tv_sec == now.tv_sec + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repeats_until_stopped),
		cmocka_unit_test(test_stop_cuts_the_first_sleep),
		cmocka_unit_test(test_wake_cuts_a_sleep),
		cmocka_unit_test(test_clock_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

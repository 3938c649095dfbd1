/* Status-write deferral (operator/runtime/deferrals.h): put off while other keys are ready, released once the queue has
 * none (or after max_s), written by the released run whatever the queue holds then. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "operator/runtime/deferrals.h"

static void take(struct queue *q, const char *want)
{
	char *k = queue_get(q, 0);
	assert_non_null(k);
	assert_string_equal(k, want);
	queue_done(q, k);
	free(k);
}

static void writes_at_once_when_nothing_waits(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL);
	struct deferrals *d = deferrals_new(30);
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 0);
	assert_int_equal(deferrals_waiting(d), 0);
	deferrals_free(d);
	queue_free(q);
}

static void deferred_until_the_queue_drains(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL);
	struct deferrals *d = deferrals_new(30);

	queue_add(q, "ns/b"); /* another app waits for its children */
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 1);
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 1); /* a second run before the release: still later */
	assert_int_equal(deferrals_waiting(d), 1);
	deferrals_after_run(d, q, "ns/a");
	assert_int_equal(queue_len(q), 1); /* b is still ready: nothing released */

	take(q, "ns/b");
	deferrals_after_run(d, q, "ns/b"); /* the queue is empty now: a is released */
	assert_int_equal(deferrals_waiting(d), 0);
	assert_int_equal(queue_len(q), 1);

	queue_add(q, "ns/c"); /* more work arrived meanwhile: the released run writes anyway */
	char *k = queue_get(q, 0);
	assert_string_equal(k, "ns/a");
	assert_int_equal(deferrals_defer(d, q, k), 0);
	deferrals_after_run(d, q, k);
	queue_done(q, k);
	free(k);
	/* Its release is used up: the next status of a waits again while c is ready. */
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 1);
	deferrals_free(d);
	queue_free(q);
}

static void released_after_max_wait(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL);
	struct deferrals *d = deferrals_new(0); /* every run is past the bound */
	queue_add(q, "ns/b");
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 1);
	deferrals_after_run(d, q, "ns/a");
	assert_int_equal(deferrals_waiting(d), 0);
	assert_int_equal(queue_len(q), 2); /* b, then the released a */
	take(q, "ns/b");
	take(q, "ns/a");
	deferrals_free(d);
	queue_free(q);
}

static void unused_release_is_forgotten(void **state)
{
	(void)state;
	struct queue *q = queue_new(NULL);
	struct deferrals *d = deferrals_new(30);
	queue_add(q, "ns/b");
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 1);
	take(q, "ns/b");
	deferrals_after_run(d, q, "ns/b"); /* releases a */
	char *k = queue_get(q, 0);
	assert_string_equal(k, "ns/a");
	deferrals_after_run(d, q, k); /* the run ended before its status (the app was deleted) */
	queue_done(q, k);
	free(k);
	queue_add(q, "ns/b");
	assert_int_equal(deferrals_defer(d, q, "ns/a"), 1); /* no stale release: deferred again */
	deferrals_free(d);
	queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_at_once_when_nothing_waits),
		cmocka_unit_test(deferred_until_the_queue_drains),
		cmocka_unit_test(released_after_max_wait),
		cmocka_unit_test(unused_release_is_forgotten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

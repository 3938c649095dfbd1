/* operator/base/clock.c: the readings agree with each other and with clock_gettime, never go back, and clock_in keeps
 * tv_nsec normalised. No sleeps and no timing bounds beyond "not before". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "operator/base/clock.h"

static void readings_agree(void **state)
{
	struct timespec ts;
	(void)state;
	for (int i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		int64_t ms = clock_mono_ms();
		double s = clock_mono_s();
		int64_t after = clock_mono_ms();
		assert_true(ms >= before);
		assert_true(after >= ms);
		assert_true(s * 1000 >= (double)ms - 1e-3);
		assert_true(s * 1000 < (double)after + 1);
		assert_true(clock_now_s(CLOCK_MONOTONIC) >= s);
	}
}

static void clock_in_normalised(void **state)
{
	static const double offsets[] = { -5, 0, 1e-9, 0.25, 0.999999999, 1, 1.5, 2.9999999, 86400.75 };
	(void)state;
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		double now = clock_mono_s();
		struct timespec t = clock_in(CLOCK_MONOTONIC, offsets[i]);
		double at = (double)t.tv_sec + (double)t.tv_nsec / 1e9;
		assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
		/* Not before now + offset (a non-positive offset is now). */
		assert_true(at >= now + (offsets[i] > 0 ? offsets[i] : 0) - 1e-6);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(readings_agree),
		cmocka_unit_test(clock_in_normalised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

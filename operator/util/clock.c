/* Clocks: every monotonic reading in the program goes through here (util/clock.h). */
#include "util/clock.h"

struct timespec clock_in(clockid_t clk, double seconds)
{
	struct timespec t;
	clock_gettime(clk, &t);
	if (seconds > 0) {
		time_t whole = (time_t)seconds;
		t.tv_sec += whole;
		t.tv_nsec += (long)((seconds - (double)whole) * 1e9);
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
	}
	return t;
}

double clock_now_s(clockid_t clk)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

double clock_mono_s(void)
{
	return clock_now_s(CLOCK_MONOTONIC);
}

int64_t clock_mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

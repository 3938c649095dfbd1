/* Clocks: every monotonic reading in the program goes through here (operator/base/clock.h). */
#include "operator/base/clock.h"

#include <stdio.h>

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

/* Years 0000..9999 are all RFC 3339 can write. */
#define RFC3339_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define RFC3339_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

void clock_format_rfc3339(long long unix_seconds, char out[32])
{
	struct tm tm;
	time_t t;

	if (unix_seconds < RFC3339_MIN)
		unix_seconds = RFC3339_MIN;
	if (unix_seconds > RFC3339_MAX)
		unix_seconds = RFC3339_MAX;
	t = (time_t)unix_seconds;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, 32, "1970-01-01T00:00:00Z");
		return;
	}
	/* By hand rather than strftime: %Y does not pad years below 1000 to four digits. The clamp above keeps
	 * every field in range; the modulos only tell the compiler so. */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

/* Clocks, the one home: monotonic time for deadlines, rates and ages, and absolute times for timed waits. */
#ifndef SO_UTIL_CLOCK_H
#define SO_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The time seconds from now on clock clk, normalised (for pthread_cond_timedwait and the like). */
struct timespec clock_in(clockid_t clk, double seconds);
/* Now on clock clk, in seconds. */
double clock_now_s(clockid_t clk);
/* CLOCK_MONOTONIC in seconds, and in whole milliseconds (truncated). */
double clock_mono_s(void);
int64_t clock_mono_ms(void);

/* RFC 3339 UTC with second precision ("2026-11-23T10:00:00Z") for t. */
void clock_format_rfc3339(long long unix_seconds, char out[32]);

#endif

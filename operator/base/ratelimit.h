/*
 * A token bucket (rate tokens per second, burst tokens at most) that lets callers go into debt: reserving a
 * token always succeeds and returns how long the caller must wait before using it. Callers sleep outside any
 * lock. Time is passed in (seconds on a monotonic clock), which keeps the arithmetic pure and testable.
 */
#ifndef SO_UTIL_RATELIMIT_H
#define SO_UTIL_RATELIMIT_H

#include <pthread.h>

struct ratelimit {
	pthread_mutex_t mu;
	double rate;   /* tokens per second; <= 0 means unlimited */
	double burst;
	double tokens;
	double last;   /* time of the last reservation */
};

void ratelimit_init(struct ratelimit *rl, double rate, double burst, double now);
void ratelimit_destroy(struct ratelimit *rl);
/* Refills the bucket (and forgives any debt) at time now. */
void ratelimit_reset(struct ratelimit *rl, double now);
/* Takes one token at time now; returns the seconds to wait before acting (0 when a token was available). */
double ratelimit_reserve(struct ratelimit *rl, double now);
/* The same, for a caller with a deadline: takes the token only when the wait would be at most max_wait seconds;
 * otherwise takes nothing and returns a negative number. */
double ratelimit_reserve_within(struct ratelimit *rl, double now, double max_wait);

#endif

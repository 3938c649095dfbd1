#include "operator/base/ratelimit.h"

#include <math.h>

void ratelimit_init(struct ratelimit *rl, double rate, double burst, double now)
{
	pthread_mutex_init(&rl->mu, NULL);
	rl->rate = rate;
	rl->burst = burst < 1 ? 1 : burst;
	rl->tokens = rl->burst;
	rl->last = now;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	pthread_mutex_destroy(&rl->mu);
}

void ratelimit_reset(struct ratelimit *rl, double now)
{
	pthread_mutex_lock(&rl->mu);
	rl->tokens = rl->burst;
	rl->last = now;
	pthread_mutex_unlock(&rl->mu);
}

double ratelimit_reserve_within(struct ratelimit *rl, double now, double max_wait)
{
	if (rl->rate <= 0)
		return 0;
	pthread_mutex_lock(&rl->mu);
	if (now > rl->last) {
		rl->tokens += (now - rl->last) * rl->rate;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last = now;
	}
	double wait = rl->tokens < 1 ? (1 - rl->tokens) / rl->rate : 0;
	if (wait > max_wait)
		wait = -1;
	else
		rl->tokens -= 1;
	pthread_mutex_unlock(&rl->mu);
	return wait;
}

double ratelimit_reserve(struct ratelimit *rl, double now)
{
	return ratelimit_reserve_within(rl, now, HUGE_VAL);
}

#include "util/ratelimit.h"

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

double ratelimit_reserve(struct ratelimit *rl, double now)
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
	rl->tokens -= 1;
	double wait = rl->tokens < 0 ? -rl->tokens / rl->rate : 0;
	pthread_mutex_unlock(&rl->mu);
	return wait;
}

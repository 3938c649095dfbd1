/*
 * A background thread that calls fn(user) again and again, sleeping between calls for the seconds fn
 * returns, until ticker_stop. Stopping cuts a sleep short; a call in progress finishes first, so fn needs
 * its own way to abandon long work (a cancellable client, a deadline). The sleep runs on CLOCK_MONOTONIC:
 * wall-clock steps neither stretch nor cut it. Used by the periodic checks of the webhook (certificate files,
 * self-managed certificates, the verification policy).
 */
#ifndef SO_UTIL_TICKER_H
#define SO_UTIL_TICKER_H

#include <time.h>

struct ticker;

/* Returns the seconds to sleep before the next call (values below 0.001 are taken as 0.001). */
typedef double (*ticker_fn)(void *user);

/* Starts the thread; the first call comes after first_s seconds (0: at once). SO_OK, or SO_E_NOMEM when
 * pthread_create fails (no resources for another thread). */
int ticker_start(struct ticker **out, double first_s, ticker_fn fn, void *user);

/* Cuts the current sleep short: fn runs again at once (a wake during a call makes the next sleep end at once).
 * Safe from any thread while t lives. */
void ticker_wake(struct ticker *t);

/* Stops the thread, waits for it and frees t; NULL is a no-op. Not to be called from fn. */
void ticker_stop(struct ticker *t);


#endif

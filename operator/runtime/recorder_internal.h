/*
 * Test hooks and numbers of the event recorder (recorder.c). Not part of the controller-facing API in recorder.h.
 */
#ifndef SO_CONTROLLER_EVENTS_INTERNAL_H
#define SO_CONTROLLER_EVENTS_INTERNAL_H

#include "operator/runtime/recorder.h"

#define RECORDER_QUEUE_MAX 1000        /* pending events (client-go maxQueuedEvents) */
#define RECORDER_CACHE_MAX 4096        /* correlation and spam-filter LRU entries each (client-go maxLruCacheEntries) */
#define RECORDER_REPEAT_WINDOW_S 600.0 /* a repeat within this of the last one patches the existing Event */
#define RECORDER_SPAM_BURST 25         /* per-object token bucket (client-go defaultSpamBurst) */
#define RECORDER_SPAM_REFILL_S 300.0   /* one token back every 300 s (defaultSpamQPS = 1/300) */
#define RECORDER_MESSAGE_MAX 1024      /* bytes of message kept (events.k8s.io note limit) */
#define RECORDER_REASON_MAX 128        /* bytes of reason kept (events.k8s.io reason limit) */

struct recorder_stats {
	unsigned long queued;           /* accepted into the queue */
	unsigned long created;          /* POSTs the server accepted */
	unsigned long patched;          /* count/lastTimestamp PATCHes the server accepted */
	unsigned long failed;           /* writes that failed (logged at warn) */
	unsigned long dropped_spam;     /* refused by the per-object token bucket */
	unsigned long dropped_full;     /* refused because the queue held RECORDER_QUEUE_MAX events */
	unsigned long dropped_invalid;  /* unusable input (no object name, bad type, ...) */
	unsigned long dropped_shutdown; /* still queued when recorder_free's timeout passed */
};

/* Replaces the clock behind the repeat window and the spam filter (monotonic seconds; default
 * CLOCK_MONOTONIC). Event timestamps and names always use the wall clock. Set it before recording. */
void recorder_set_clock(struct recorder *r, double (*now)(void));

/* Waits up to timeout_s until every queued event has been written (or has failed). 0, or SO_E_TIMEOUT. */
int recorder_flush(struct recorder *r, double timeout_s);

void recorder_get_stats(struct recorder *r, struct recorder_stats *out);

#endif

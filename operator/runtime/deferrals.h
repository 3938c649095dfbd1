/*
 * Status writes put off while other keys wait: a burst (a start with a thousand apps, a resync, an executor
 * edit) first gets every app's children written, then the statuses, each once, from what the caches show by
 * then. A reconcile that would write a status asks deferrals_defer; while the work queue has ready keys the
 * answer is "later": the key is recorded, and it is queued again (released) once the queue has no ready key or
 * the oldest recorded key has waited max_s. A released key's next run writes its status whatever the queue holds.
 *
 * Thread-safe; one mutex, taken before the queue's.
 */
#ifndef SO_CONTROLLER_DEFER_H
#define SO_CONTROLLER_DEFER_H

#include "operator/runtime/queue.h"

struct deferrals;

struct deferrals *deferrals_new(double max_s);
void deferrals_free(struct deferrals *d);

/* 1: skip the status write now (key recorded; it will be queued again). 0: write now. */
int deferrals_defer(struct deferrals *d, struct queue *q, const char *key);

/* Called by the worker after every run of key: forgets a release the run did not use (the app was gone, or the
 * run failed before its status), then releases every recorded key when the queue has no ready key or the oldest
 * has waited max_s. */
void deferrals_after_run(struct deferrals *d, struct queue *q, const char *key);

/* Recorded (not yet released) keys, for metrics and tests. */
size_t deferrals_waiting(struct deferrals *d);

#endif

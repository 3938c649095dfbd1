/*
 * A bounded pool of worker threads with a small queue and a deadline per job, apart from the webhook's request
 * threads (docs/internals/webhook-offload.md). The webhook runs reviews that need a registry (image
 * verification) here, so that a slow registry holds pool workers, never the threads that answer everything
 * else. Each job ends exactly once through its finish callback: after its run, or at its deadline, whichever
 * comes first (a run still going at the deadline finishes in the background and its result is dropped).
 */
#ifndef SO_WEBHOOK_OFFLOAD_H
#define SO_WEBHOOK_OFFLOAD_H

#include <stdint.h>

/* Defaults: verification is a handful of registry round trips; 4 at a time from one pod is plenty for the API
 * server's rate of SpinApp writes, and 8 waiting is 2 rounds of them. */
#define OFFLOAD_DEFAULT_WORKERS 4u
#define OFFLOAD_DEFAULT_QUEUE 8u

struct offload;

struct offload_job {
	int64_t deadline_ms; /* on clock_mono_ms's clock */
	/* On a worker; not called when the deadline passed while the job was queued. */
	void (*run)(struct offload_job *j);
	/* Exactly once, on a worker or the pool's timer thread: timed_out = 0 after run returned, 1 at the deadline
	 * (run may still be going, or was skipped), or at offload_stop. Must not block. */
	void (*finish)(struct offload_job *j, int timed_out);
	/* Once run is over (or skipped) and finish was called: the pool is done with the job. */
	void (*release)(struct offload_job *j);
	/* The pool's. */
	struct offload_job *next;
	int state, finished;
};

/* workers, queue: 0 for the defaults. */
int offload_new(unsigned workers, unsigned queue, struct offload **out);
/* Queues j; SO_E_BUSY at once (nothing called) when every worker is busy and the queue is full, SO_E_CANCELLED
 * after offload_stop. */
int offload_submit(struct offload *p, struct offload_job *j);
/* Ends every job not finished yet with finish(timed_out = 1), waits for the runs in progress (each bounded by
 * its own deadline) and frees the pool. NULL is fine. */
void offload_stop(struct offload *p);

struct offload_stats {
	unsigned workers, queue; /* sizes */
	unsigned running, queued;
	unsigned long submitted, rejected, timed_out;
};
void offload_get_stats(struct offload *p, struct offload_stats *out);

#endif

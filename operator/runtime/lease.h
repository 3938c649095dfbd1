/*
 * Leader election's decision core, client-go's tryAcquireOrRenew and release (tools/leaderelection), without I/O
 * or clocks: the caller passes the times and a lock (the Lease as the API server holds it: operator/runtime/leader.c over
 * kube/, a fake in tests). docs/internals/leader.md describes the algorithm.
 *
 * Validity is judged on the local monotonic clock at which the current record was first observed, never on the
 * renewTime inside it, so clock skew between replicas does not matter. Wall-clock times only fill the record's
 * acquireTime and renewTime (RFC 3339 with microseconds, as metav1.MicroTime).
 */
#ifndef SO_LEADER_LEASE_H
#define SO_LEADER_LEASE_H

#include <stddef.h>

#define LEASE_MAX_ID 256   /* holder identities longer than this are kept truncated (never equal to ours) */
#define LEASE_TIME_LEN 40

/* The Lease's spec (coordination.k8s.io/v1), as client-go's LeaderElectionRecord. */
struct lease_record {
	char holder[LEASE_MAX_ID];       /* "" when released or never held */
	long duration_s;                 /* leaseDurationSeconds */
	char acquire_time[LEASE_TIME_LEN];
	char renew_time[LEASE_TIME_LEN];
	long transitions;                /* leaseTransitions */
};

/* The Lease object in the API server. Each call returns SO_OK or a negative so_err; update must carry the
 * resourceVersion of the object last read or written through this lock, so that a concurrent writer gets
 * SO_E_API_CONFLICT. */
struct lease_lock {
	int (*get)(void *ud, struct lease_record *out); /* SO_E_API_NOT_FOUND when there is none */
	int (*create)(void *ud, const struct lease_record *rec);
	int (*update)(void *ud, const struct lease_record *rec);
	void *ud;
};

enum lease_state { LEASE_ACQUIRING, LEASE_LEADING, LEASE_LOST };

struct lease_core {
	char identity[LEASE_MAX_ID];
	long lease_duration_s;          /* leaseDurationSeconds we write (15) */
	double renew_deadline_s, retry_period_s;
	enum lease_state state;
	double renew_until;             /* LEADING: past this (monotonic) without a renewal, leadership is lost */
	struct lease_record observed;   /* the last record seen or written */
	int have_observed;
	double observed_at;             /* monotonic time the observed record was first seen or written */
	unsigned long slowpath;         /* renewals that had to read the lease first (leader_election_slowpath_total) */
};

#define LEASE_EXPIRY_SLACK_S 0.05 /* a standby's look at a lease past its expiry comes this long after it */
#define LEASE_JITTER 1.2 /* client-go's JitterFactor: an acquire try every retry .. retry × 2.2 */

/* identity is copied (truncated to LEASE_MAX_ID - 1). Timings as client-go checks them: lease duration > renew
 * deadline > LEASE_JITTER × retry period > 0; SO_E_CONFIG otherwise. */
int lease_core_init(struct lease_core *lc, const char *identity, double lease_duration_s, double renew_deadline_s,
		    double retry_period_s);

/* What a round of lease_round did. */
struct lease_step {
	double sleep_s; /* until the next round */
	int started;    /* we became the leader in this round */
	int lost;       /* we stopped being the leader in this round: the renew deadline passed */
};

/*
 * client-go's acquire and renew loops as one state machine, a round at a time (the caller sleeps sleep_s in
 * between). ACQUIRING: try; on success LEADING, else sleep retry × (1 + LEASE_JITTER × jitter01), or less: until
 * the observed holder's term runs out (+ LEASE_EXPIRY_SLACK_S), so that a standby takes an expired lease at
 * once rather than up to a jittered retry later (the elector also wakes it on every change of the Lease, so
 * it observes renewals as they happen: a killed leader is replaced lease duration + slack after its last
 * renewal, a released lease at once). LEADING: try
 * to renew every retry period; a leader that has not renewed by its last renewal + retry + renew deadline (the
 * end of client-go's PollUntil) is LOST, for good; so is one that reads the Lease and finds another holder
 * (client-go would keep trying until the deadline). mono_now is read again after the requests (they take time):
 * pass a function so that a fake clock can move during them too. jitter01 is in [0, 1).
 */
struct lease_step lease_round(struct lease_core *lc, const struct lease_lock *lock, double (*mono_now)(void *),
			      double (*wall_now)(void *), void *clock_ud, double jitter01);

/* One round: 1 when we hold the lease afterwards (acquired or renewed), 0 when another holder's lease is still
 * valid or a request failed. mono_now: the monotonic clock in seconds; wall_now: Unix time in seconds. */
int lease_try_acquire_or_renew(struct lease_core *lc, const struct lease_lock *lock, double mono_now, double wall_now);

/* Gives the lease up (client-go's ReleaseOnCancel): holder cleared, leaseDurationSeconds 1, so another replica
 * takes over on its next try. SO_OK (also when we were not the holder: nothing to do), or the update's error. */
int lease_release(struct lease_core *lc, const struct lease_lock *lock, double mono_now, double wall_now);

/* Whether the last observed record names us. */
int lease_is_leader(const struct lease_core *lc);
/* The last observed holder ("" for none). */
const char *lease_holder(const struct lease_core *lc);

/* wall (Unix seconds) as metav1.MicroTime: 2006-01-02T15:04:05.000000Z. */
void lease_format_time(double wall, char out[LEASE_TIME_LEN]);

#endif

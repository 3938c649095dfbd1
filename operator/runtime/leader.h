/*
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's LeaderElector with controller-runtime's
 * defaults (lease 15 s, renew deadline 10 s, retry 2 s) and ReleaseOnCancel: a thread (operator/base/ticker.h) runs
 * operator/runtime/lease.h's rounds against the Lease through the API client, calls on_started once it holds the lease,
 * and on_stopped as soon as it cannot renew within the deadline (the caller then stops writing and exits, as
 * controller-runtime does). leader_elector_may_write is the gate for kube_client_set_write_gate: it answers 1
 * only while we lead and the renew deadline has not passed, whatever the thread is doing at that moment.
 * docs/internals/leader.md.
 */
#ifndef SO_LEADER_ELECTOR_H
#define SO_LEADER_ELECTOR_H

#include <stddef.h>

#include "operator/kube/client.h"
#include "operator/base/buf.h"

#define LEADER_LEASE_DURATION_S 15.0
#define LEADER_RENEW_DEADLINE_S 10.0
#define LEADER_RETRY_PERIOD_S 2.0

struct leader_elector;

struct leader_elector_opts {
	struct kube_client *client; /* its own: lease requests never queue behind the controller's */
	const char *namespace;
	const char *name;           /* the Lease */
	const char *identity;       /* leader_identity() */
	double lease_duration_s, renew_deadline_s, retry_period_s; /* 0: the defaults above */
	void (*on_started)(void *ud); /* we lead: start the workers (on the elector's thread) */
	void (*on_stopped)(void *ud); /* leadership lost: writes are already held; stop and exit */
	void *ud;
};

/* Checks the timings as client-go does (lease > renew deadline > 1.2 × retry > 0) and starts the thread.
 * SO_OK, SO_E_CONFIG (err says why) or SO_E_NOMEM (no thread could be started). opts' strings are copied. */
int leader_elector_start(const struct leader_elector_opts *opts, struct leader_elector **out, char *err,
			 size_t errlen);
/* Stops the thread (the write gate closes); when leading and release is set, gives the lease up (holder
 * cleared, duration 1 s) so that another replica takes over on its next try. Idempotent; NULL is a no-op. */
void leader_elector_stop(struct leader_elector *el, int release);
/* Stops (without release) and frees; after everything that may still ask leader_elector_may_write. */
void leader_elector_free(struct leader_elector *el);

/* kube_client_set_write_gate's callback (ud: the elector). */
int leader_elector_may_write(void *el);
int leader_elector_is_leader(struct leader_elector *el);

/* leader_election_master_status{name} and leader_election_slowpath_total{name}, controller-runtime's names. */
void leader_elector_metrics(struct leader_elector *el, struct buf *out);

/* controller-runtime's identity: the hostname (in a pod: its name), "_", a random UUID. SO_OK or SO_E_IO. */
int leader_identity(char *out, size_t len);

#endif

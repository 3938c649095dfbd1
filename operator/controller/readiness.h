/* The controller's side of liveness and readiness (docs/internals/health.md): informer contact and the
 * reachability probe. */
#ifndef SO_CONTROLLER_READINESS_H
#define SO_CONTROLLER_READINESS_H

#include "operator/controller/state.h"

/* readiness.c: informer_opts.on_recovered of every informer; the reachability probe's start and stop. */
void ctl_on_recovered(void *ud, struct informer *inf);
int ctl_probe_start(struct controller *ctl);
void ctl_probe_stop(struct controller *ctl);
int ctl_health_metrics(struct controller *ctl, struct buf *out);

/*
 * Health (docs/internals/health.md), for the probes (operator/base/health.h).
 *
 * controller_caches_fresh (readiness): every informer heard from the API server (a list, a watch event or
 * bookmark, a watch ended by the server) within CONTROLLER_CONTACT_BOUND_S. A healthy watch brings a bookmark at
 * least every minute and one that brings nothing for the client's stream idle bound (150 s) is cut and
 * reconnected at once, so only an informer that could not reach the API server for 15 s after that bound ran
 * out goes past it. 1, or 0 with the first stale informer in why.
 *
 * controller_live (liveness): no reconcile has held its key for CONTROLLER_STUCK_S. Every API call a reconcile
 * makes has a deadline (30 s; 60 s a LIST page), so a reconcile that long is deadlocked or stuck in a call
 * without one, which only a restart cures. An unreachable API server does not make the process unlive: a
 * restart cannot fix it and would drop the caches. 1, or 0 with why.
 */
#define CONTROLLER_CONTACT_BOUND_S 165.0
#define CONTROLLER_STUCK_S 900.0
int controller_caches_fresh(struct controller *ctl, char *why, size_t whylen);
int controller_live(struct controller *ctl, char *why, size_t whylen);

#endif

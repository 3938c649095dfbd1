/* The controller's state, shared by controller.c (wiring, workers), the reconcilers (reconcile_app.c,
 * reconcile_executor.c), readiness.c and informer_store.c, below all of them. Not an API. */
#ifndef SO_CONTROLLER_STATE_H
#define SO_CONTROLLER_STATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "operator/runtime/applier.h"
#include "operator/controller/options.h"
#include "operator/runtime/deferrals.h"
#include "operator/runtime/recorder.h"
#include "operator/runtime/queue.h"
#include "operator/controller/store.h"
#include "operator/runtime/informer.h"
#include "operator/base/prom.h"

#define APP_RECORDER "spinapp-reconciler"
#define EXECUTOR_RECORDER "spinappexecutor-reconciler"
#define MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define MANAGED_BY_US "spin-operator"

/* What a reconcile returns besides SO_OK: retry with backoff, or give up until something changes. */
#define RECONCILE_TERMINAL 1

/* controller-runtime's reconcile metrics for one controller. */
struct reconcile_metrics {
	atomic_ulong success, error, terminal; /* a terminal error counts as an error too */
	atomic_int active;                      /* reconciles running now */
	struct prom_histogram time;             /* seconds per reconcile */
};

struct controller {
	struct kube_client *c;      /* NULL when built by ctl_new_with_store */
	struct ctl_store store;     /* every read and write of the reconcilers and event handlers (store.h) */
	struct controller_opts o;
	char *namespace;

	struct informer *apps, *executors;
	struct informer *deployments, *services, *secrets, *hpas, *replicasets, *runtimeclasses;
	struct queue *app_q, *exec_q;
	struct recorder *app_rec, *exec_rec;
	struct applier *applier;
	struct deferrals *deferrals; /* SpinApp status writes put off while other apps wait */

	pthread_t *workers;
	int nworkers;
	pthread_t exec_worker, resync_thread;
	int started;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	int stopping;

	pthread_mutex_t known_mu; /* guards known_ca; held across a CA Secret's GET and create (reconcile_app.c) */
	json_t *known_ca; /* "ns/name" of CA Secrets known to exist */

	/* routes.c: the HTTPRoute informer, started once discovery finds the Gateway API (NULL before; not one of
	 * ctl_informers: readiness does not wait for an optional API); routes_mu serializes discovery, and
	 * routes_checked is the monotonic time of the last "not served" answer (0: none yet). */
	_Atomic(struct informer *) routes;
	const struct informer_handlers *routes_handlers; /* controller.c's ctl_owned_handlers */
	pthread_mutex_t routes_mu;
	double routes_checked;

	struct ticker *probe; /* operator/base/health.c: asks the API server for /version while an informer is failing */

	atomic_int ready;
	atomic_ulong reconciles, reconcile_errors, executor_reconciles, writes, skipped_applies;
	struct reconcile_metrics rm[2]; /* [app, executor] */
};

/* Every informer, in start order (entries may be NULL after a failed controller_new). */
#define CTL_NINFORMERS 8
void ctl_informers(const struct controller *ctl, struct informer *all[CTL_NINFORMERS]);

/* Helpers shared by the reconcilers (state.c). */
const char *ctl_meta_str(const json_t *obj, const char *key);
const char *ctl_spec_str(const json_t *obj, const char *key);
int ctl_owned_by(const json_t *obj, const json_t *owner);
void ctl_enqueue_key(struct queue *q, const char *ns, const char *name);
/* Counts a write request and its outcome for the stats. */
void ctl_count_write(struct controller *ctl, int wrote);

#endif

/* State shared by controller.c (wiring, workers), spinapp.c and executor.c (reconcilers). Not an API. */
#ifndef SO_CONTROLLER_INTERNAL_H
#define SO_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "controller/apply.h"
#include "controller/controller.h"
#include "controller/defer.h"
#include "controller/events.h"
#include "controller/queue.h"
#include "controller/store.h"
#include "informer/informer.h"
#include "util/prom.h"

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

	pthread_mutex_t known_mu; /* guards known_ca; held across a CA Secret's GET and create (spinapp.c) */
	json_t *known_ca; /* "ns/name" of CA Secrets known to exist */

	struct ticker *probe; /* health.c: asks the API server for /version while an informer is failing */

	atomic_int ready;
	atomic_ulong reconciles, reconcile_errors, executor_reconciles, writes, skipped_applies;
	struct reconcile_metrics rm[2]; /* [app, executor] */
};

/* A controller whose reconcilers and event handlers use store (copied; its ctx must outlive the controller):
 * queues, applier and deferrals but no client, informers or recorders, and nothing started. For unit tests
 * (tests/support/ctlfake.h); controller_free frees it. SO_OK, or SO_E_NOMEM when a queue's mutex or condition
 * variable cannot be created. */
int ctl_new_with_store(const struct controller_opts *o, const struct ctl_store *store, struct controller **out);
/* store.c: the production store over ctl's informers, client and recorders. */
struct ctl_store ctl_store_informers(struct controller *ctl);

/* controller.c: the event → key mapping, the informers' handlers (ud: the controller). */
extern const struct informer_handlers ctl_app_handlers, ctl_executor_handlers, ctl_owned_handlers,
	ctl_runtimeclass_handlers;

/* Every informer, in start order (entries may be NULL after a failed controller_new). */
#define CTL_NINFORMERS 8
void ctl_informers(const struct controller *ctl, struct informer *all[CTL_NINFORMERS]);

/* health.c: informer_opts.on_recovered of every informer; the reachability probe's start and stop. */
void ctl_on_recovered(void *ud, struct informer *inf);
int ctl_probe_start(struct controller *ctl);
void ctl_probe_stop(struct controller *ctl);
int ctl_health_metrics(struct controller *ctl, struct buf *out);

/* spinapp.c / executor.c: reconcile one "namespace/name" key. 0, RECONCILE_TERMINAL, or a negative so_err. */
int reconcile_app(struct controller *ctl, const char *ns, const char *name);
int reconcile_executor(struct controller *ctl, const char *ns, const char *name);

/* Helpers shared by the reconcilers (controller.c). */
const char *meta_str(const json_t *obj, const char *key);
const char *spec_str(const json_t *obj, const char *key);
int owned_by(const json_t *obj, const json_t *owner);
void enqueue_key(struct queue *q, const char *ns, const char *name);
/* Counts a write request and its outcome for the stats. */
void count_write(struct controller *ctl, int wrote);

#endif

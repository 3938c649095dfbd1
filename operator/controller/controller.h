/*
 * The SpinApp and SpinAppExecutor controllers: informers feed two work queues, worker threads reconcile one
 * key at a time each (a key is never reconciled on two workers), and every write goes through here.
 *
 *   informers: spinapps, spinappexecutors (all namespaces or --namespace), and the objects we own, selected by
 *              the label core.spinkube.dev/app-name: deployments, services, secrets, HPAs, replicasets;
 *              runtimeclasses (cluster-scoped).
 *   mapping:   an owned object → its app (label + namespace); an executor → itself and every app in its
 *              namespace naming it; an app → itself and its executor (deletion may be waiting on it);
 *              a RuntimeClass → the executors naming it.
 *   writes:    server-side apply (field manager spin-operator, force) skipped when the cache already shows the
 *              desired state (operator/runtime/applier.h); status through the status subresource, only when changed;
 *              Events through operator/runtime/recorder.h.
 *
 * Threads: one per informer, --max-concurrent-reconciles app workers, one executor worker, the event
 * recorder's thread. Shutdown stops the queues, waits for in-flight reconciles (bounded), then stops the
 * informers.
 */
#ifndef SO_CONTROLLER_CONTROLLER_H
#define SO_CONTROLLER_CONTROLLER_H

#include <jansson.h>
#include <stddef.h>

#include "operator/controller/options.h"
#include "operator/kube/client.h"
#include "operator/base/buf.h"

struct controller;

int controller_new(struct kube_client *c, const struct controller_opts *o, struct controller **out);
/* Starts informers, waits until their caches are synced (up to timeout_s, or until opts.stop_requested says
 * stop: SO_E_CANCELLED), then starts the workers. */
int controller_start(struct controller *ctl, double timeout_s);
/* The two halves, for leader election: every replica keeps its caches synced (the webhook reads them, events
 * queue keys), only the leader runs the workers. controller_start_caches makes controller_ready true;
 * controller_start_workers (once; later calls do nothing) reconciles everything queued meanwhile. Both from
 * the thread that calls controller_stop. */
int controller_start_caches(struct controller *ctl, double timeout_s);
int controller_start_workers(struct controller *ctl);
/* Stops taking work, waits up to grace_s for in-flight reconciles, stops the informers. controller_ready stays
 * true and the caches readable (no longer refreshed) until controller_free: the webhook answers from them while
 * it drains. */
void controller_stop(struct controller *ctl, double grace_s);
void controller_free(struct controller *ctl);

struct controller_stats {
	unsigned long reconciles;       /* app reconciles run */
	unsigned long reconcile_errors;
	unsigned long executor_reconciles;
	unsigned long writes;           /* create/apply/update/patch/delete requests made */
	unsigned long skipped_applies;  /* applies skipped because the cache already matched */
	size_t apps, executors;         /* objects cached */
};
void controller_get_stats(struct controller *ctl, struct controller_stats *out);

/* Non-zero once every cache has synced (controller_start_caches), until controller_free. */
int controller_ready(struct controller *ctl);

/* The admission webhook reads executors through these two, one review at a time: neither decodes more than the
 * one executor asked for. Both see an empty cache before the caches are started. */
/* Appends to names the name of every cached SpinAppExecutor in namespace ns. */
void controller_executor_names(struct controller *ctl, const char *ns, json_t *names);
/* A decoded copy of the cached SpinAppExecutor ns/name (the caller's), or NULL. */
json_t *controller_executor(struct controller *ctl, const char *ns, const char *name);

/* Prometheus text: controller-runtime's controller_runtime_* and workqueue_* families with its names, types,
 * labels and buckets (controller="spinapp" / "spinappexecutor"), then spin_operator_* for the rest. The API
 * client's rest_client_* families are kube_client_write_metrics'. SO_OK or SO_E_TOO_LARGE. */
int controller_metrics(struct controller *ctl, struct buf *out);

#endif

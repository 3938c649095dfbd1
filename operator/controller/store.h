/*
 * The reconcilers' only way to the cluster: reads from the informer caches, requests to the API server, and
 * Events. controller.c fills it with the informers, the client and the recorders (ctl_store_informers); unit
 * tests fill it with an in-memory fake (tests/support/ctlfake.h) and drive reconcile_app, reconcile_executor and
 * the event handlers case by case, without an API server (docs/internals/controller.md, "The store seam").
 *
 * Semantics are those of the calls it stands for: cache reads as informer.h (decoded copies the caller owns;
 * ns ignored for cluster-scoped caches), requests as operator/kube/api.h (so_err results, resp may be NULL). apply is
 * server-side apply with field manager spin-operator and force; patch_status a JSON merge patch of the status
 * subresource; event goes to the app or executor reconciler's recorder (operator/runtime/recorder.h).
 */
#ifndef SO_CONTROLLER_STORE_H
#define SO_CONTROLLER_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "operator/kube/api.h"

/* The caches, in the informers' start order. */
enum ctl_cache { CTL_APPS, CTL_EXECUTORS, CTL_DEPLOYMENTS, CTL_SERVICES, CTL_SECRETS, CTL_HPAS, CTL_REPLICASETS,
		 CTL_RUNTIMECLASSES,
		 CTL_HTTPROUTES, /* only while the Gateway API is served (routes_served); reads find nothing before */
		 CTL_NCACHES };

/* Which reconciler an Event is from (its source.component). */
enum ctl_recorder { CTL_REC_APP, CTL_REC_EXECUTOR };

struct ctl_store_ops {
	/* Cache reads. keys_indexed gives store keys ("ns/name") and count_indexed their number, without decoding;
	 * the *_indexed reads see the cache's index (spec.executor for apps, the app-name label for owned objects). */
	json_t *(*cache_get)(void *ctx, enum ctl_cache c, const char *ns, const char *name);
	int (*cache_has)(void *ctx, enum ctl_cache c, const char *ns, const char *name);
	json_t *(*cache_list)(void *ctx, enum ctl_cache c);
	json_t *(*cache_list_indexed)(void *ctx, enum ctl_cache c, const char *ns, const char *value);
	json_t *(*cache_keys_indexed)(void *ctx, enum ctl_cache c, const char *ns, const char *value);
	size_t (*cache_count_indexed)(void *ctx, enum ctl_cache c, const char *ns, const char *value);
	/* Requests. */
	int (*get)(void *ctx, const struct kube_resource *r, const char *ns, const char *name, json_t **out,
		   struct kube_response *resp);
	int (*create)(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj,
		      struct kube_response *resp);
	int (*update)(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj,
		      struct kube_response *resp);
	int (*apply)(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj, json_t **out,
		     struct kube_response *resp);
	int (*patch_status)(void *ctx, const struct kube_resource *r, const char *ns, const char *name,
			    const json_t *patch, struct kube_response *resp);
	int (*delete)(void *ctx, const struct kube_resource *r, const char *ns, const char *name,
		      const struct kube_delete_opts *o, struct kube_response *resp);
	/* Never blocks (the recorder queues it). */
	void (*event)(void *ctx, enum ctl_recorder from, const json_t *obj, const char *type, const char *reason,
		      const char *message);
	/* Whether the API server serves the Gateway API's gateway.networking.k8s.io/v1 httproutes: 1 yes, 0 no,
	 * or a negative so_err when it could not tell. Cheap: asks discovery at most once per
	 * ROUTES_RECHECK_S while the answer is no, never again once it is yes (docs/internals/route.md). */
	int (*routes_served)(void *ctx);
};

struct ctl_store {
	const struct ctl_store_ops *ops;
	void *ctx;
};

#endif

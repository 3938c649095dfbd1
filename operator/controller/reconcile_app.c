/*
 * Reconciling one SpinApp (upstream's Reconcile, docs/internals/controller.md), with upstream's bugs fixed
 * (docs/compat.md):
 *
 *   executor missing               → Warning MissingExecutor, retry with backoff (an executor add requeues us)
 *   createDeployment: true         → runtime-config Secret, CA Secret, Deployment (applied only when changed)
 *   createDeployment: false        → delete a same-named Deployment only if this app owns it
 *   always                         → Service; HPA for spec.autoscaler; HTTPRoute for spec.route (when the
 *                                    Gateway API is served: else a Routed condition and a Warning say so, and
 *                                    the app is looked at again in ROUTES_RECHECK_S); status from the objects
 *                                    just applied;
 *                                    superseded runtime-config Secrets deleted once no ReplicaSet uses them
 *
 * What to make is plan_app's (operator/spin/plan.h, the code `spin-operator render` prints too); this file reads its
 * inputs and writes its result. Reads come from the informer caches except the Secrets/ConfigMaps a runtime
 * config refers to (fetched when the app is reconciled, so we cache no user Secret) and CA Secrets (checked
 * once, then remembered).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "operator/spin/spin.h"
#include "operator/spin/plan.h"
#include "operator/controller/reconcile_app.h"
#include "operator/controller/condition.h"
#include "operator/controller/route_condition.h"
#include "operator/controller/routes.h"
#include "operator/kube/api.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

#define ERRLEN 512

struct app_ctx {
	struct controller *ctl;
	const char *ns, *name;
	json_t *app;        /* cached SpinApp (borrowed reference held for the reconcile) */
	json_t *executor;
	json_t *applied[PLAN_NROLES]; /* the Deployment, Service, HPA and HTTPRoute as applied or cached, or NULL */
	int routes;                   /* for an app with spec.route: 1 the Gateway API is served, 0 it is not */
	char err[ERRLEN];
};

static void warn_event(struct app_ctx *x, const char *reason, const char *message)
{
	x->ctl->store.ops->event(x->ctl->store.ctx, CTL_REC_APP, x->app, "Warning", reason, message);
}

/* Logs a failed request. */
static void api_error(struct app_ctx *x, const char *what, int rc, const struct kube_response *resp)
{
	if (rc == SO_E_API_NAMESPACE_TERMINATING) /* the SpinApp goes with its namespace, and the retries then stop */
		log_info("spinapp", "%s/%s: %s: namespace is being deleted", x->ns, x->name, what);
	else
		log_warn("spinapp", "%s/%s: %s: %s: %s", x->ns, x->name, what, so_strerror(rc),
			 resp && resp->message ? resp->message : "");
}

/* plan_refs' getter: a Secret or ConfigMap a runtime config names, read from the API server (we cache no user
 * Secret); an absent one is left out, so plan_app reports it in upstream's words. */
static int get_ref(void *ud, const char *ns, int configmap, const char *name, json_t **out)
{
	struct app_ctx *x = ud;
	struct kube_response resp = { 0 };
	int rc = x->ctl->store.ops->get(x->ctl->store.ctx, configmap ? &KUBE_CONFIGMAPS : &KUBE_SECRETS, ns, name, out,
					&resp);
	if (rc == SO_E_API_NOT_FOUND)
		rc = SO_OK;
	else if (rc)
		api_error(x, "reading runtime config references", rc, &resp);
	kube_response_free(&resp);
	return rc;
}

/* The generated runtime-config Secret: created once under its content-derived name, never updated. */
static int create_runtime_config(struct app_ctx *x, const json_t *secret)
{
	const char *name = ctl_meta_str(secret, "name");
	struct kube_response resp = { 0 };
	int rc;

	if (x->ctl->store.ops->cache_has(x->ctl->store.ctx, CTL_SECRETS, x->ns, name))
		return SO_OK;
	rc = x->ctl->store.ops->create(x->ctl->store.ctx, &KUBE_SECRETS, x->ns, secret, &resp);
	ctl_count_write(x->ctl, 1);
	if (rc && rc != SO_E_API_ALREADY_EXISTS) {
		api_error(x, "creating the runtime-config Secret", rc, &resp);
	} else {
		rc = SO_OK;
		log_info("spinapp", "%s/%s: runtime-config Secret %s created", x->ns, x->name, name);
	}
	kube_response_free(&resp);
	return rc;
}

/* Whether the CA Secret name (NULL: none) is known to exist: plan_app then leaves it out. */
static int ca_known(struct app_ctx *x, const char *name)
{
	char key[512];
	int known;

	if (!name)
		return 0;
	snprintf(key, sizeof key, "%s/%s", x->ns, name);
	pthread_mutex_lock(&x->ctl->known_mu);
	known = json_object_get(x->ctl->known_ca, key) != NULL;
	pthread_mutex_unlock(&x->ctl->known_mu);
	return known;
}

/* installDefaultCACerts: create the CA Secret when absent; an existing one is never touched. known_mu is held
 * across the GET and the create: apps of a namespace tend to start together (operator start, a new executor),
 * and each worker would otherwise send the whole CA bundle (about 200 KB) only to get AlreadyExists. */
static int ensure_ca_secret(struct app_ctx *x, const json_t *secret)
{
	const char *name = ctl_meta_str(secret, "name");
	struct kube_response resp = { 0 };
	char key[512];
	int rc = SO_OK;

	snprintf(key, sizeof key, "%s/%s", x->ns, name);
	pthread_mutex_lock(&x->ctl->known_mu);
	if (json_object_get(x->ctl->known_ca, key))
		goto out;
	rc = x->ctl->store.ops->get(x->ctl->store.ctx, &KUBE_SECRETS, x->ns, name, NULL, &resp);
	if (rc == SO_E_API_NOT_FOUND) {
		kube_response_free(&resp);
		rc = x->ctl->store.ops->create(x->ctl->store.ctx, &KUBE_SECRETS, x->ns, secret, &resp);
		ctl_count_write(x->ctl, 1);
		if (!rc)
			log_info("spinapp", "%s/%s: default CA Secret %s created", x->ns, x->name, name);
		else if (rc == SO_E_API_ALREADY_EXISTS) /* made by someone else since our GET */
			rc = SO_OK;
	}
	if (rc) {
		snprintf(x->err, sizeof x->err, "unable to create default ca-certificate secret: %s",
			 resp.message ? resp.message : so_strerror(rc));
		api_error(x, "CA Secret", rc, &resp);
	} else {
		json_object_set_new(x->ctl->known_ca, key, json_true());
	}
out:
	pthread_mutex_unlock(&x->ctl->known_mu);
	kube_response_free(&resp);
	return rc;
}

/* Applies desired unless the cache shows it already; *result gets the object as it now is. */
static int apply(struct app_ctx *x, const struct kube_resource *r, enum ctl_cache cache, const json_t *desired,
		 json_t **result)
{
	const struct ctl_store *s = &x->ctl->store;
	struct kube_response resp = { 0 };
	int wrote = 0;
	json_t *live = s->ops->cache_get(s->ctx, cache, x->ns, ctl_meta_str(desired, "name"));
	int rc = applier_apply_with(x->ctl->applier, s->ops->apply, s->ctx, r, x->ns, desired, live, result, &wrote,
				    &resp);
	ctl_count_write(x->ctl, wrote);
	if (rc) {
		snprintf(x->err, sizeof x->err, "applying %s %s: %s", r->kind, ctl_meta_str(desired, "name"),
			 resp.message ? resp.message : so_strerror(rc));
		api_error(x, x->err, rc, &resp);
		if (rc == SO_E_API_INVALID || rc == SO_E_API_FORBIDDEN)
			warn_event(x, "ReconcileFailed", x->err);
	} else if (wrote) {
		log_info("spinapp", "%s/%s: %s %s applied", x->ns, x->name, r->kind, ctl_meta_str(desired, "name"));
	}
	json_decref(live);
	kube_response_free(&resp);
	return rc;
}

/* Deletes obj (kind r) with a uid precondition, so we never delete a replacement someone just created. */
static int delete_owned(struct app_ctx *x, const struct kube_resource *r, const json_t *obj)
{
	struct kube_response resp = { 0 };
	struct kube_delete_opts o = { "Background", ctl_meta_str(obj, "uid"), NULL };
	int rc = x->ctl->store.ops->delete(x->ctl->store.ctx, r, x->ns, ctl_meta_str(obj, "name"), &o, &resp);
	ctl_count_write(x->ctl, 1);
	if (rc == SO_E_API_NOT_FOUND || rc == SO_E_API_CONFLICT)
		rc = SO_OK; /* gone already, or replaced by someone else's object: not ours to delete */
	if (rc)
		api_error(x, "deleting", rc, &resp);
	else
		log_info("spinapp", "%s/%s: %s %s deleted", x->ns, x->name, r->kind, ctl_meta_str(obj, "name"));
	applier_forget(x->ctl->applier, r, x->ns, ctl_meta_str(obj, "name"));
	kube_response_free(&resp);
	return rc;
}

/* Where the applied roles go: server-side apply, skipped when the cache shows the object already. */
static const struct {
	const struct kube_resource *r;
	enum ctl_cache cache;
} kinds[PLAN_NROLES] = {
	[PLAN_DEPLOYMENT] = { &KUBE_DEPLOYMENTS, CTL_DEPLOYMENTS },
	[PLAN_SERVICE] = { &KUBE_SERVICES, CTL_SERVICES },
	[PLAN_HPA] = { &KUBE_HPAS, CTL_HPAS },
	[PLAN_ROUTE] = { &KUBE_HTTPROUTES, CTL_HTTPROUTES },
};

/* A role the plan says must not exist: the object of the app's name goes if this app owns it. */
static int remove_owned(struct app_ctx *x, int role)
{
	json_t *live = x->ctl->store.ops->cache_get(x->ctl->store.ctx, kinds[role].cache, x->ns, x->name);
	int rc = live && ctl_owned_by(live, x->app) ? delete_owned(x, kinds[role].r, live) : SO_OK;
	json_decref(live);
	return rc;
}

/* The HTTPRoute, when the Gateway API is served. When it is not, nothing else of the app depends on it: the
 * Routed condition (update_status) and a Warning name the missing API (the Warning once, when the condition
 * does not say so already: the app is reconciled every ROUTES_RECHECK_S while it waits), and the app is looked
 * at again after ROUTES_RECHECK_S (routes_served asks discovery again no more often), so an install is
 * noticed. An absent route needs no discovery: without the API the cache holds no HTTPRoute to remove. */
static int make_route(struct app_ctx *x, const struct plan *p)
{
	char msg[256], key[512];
	int served;

	if (!p->objs[PLAN_ROUTE])
		return SO_OK;
	served = x->ctl->store.ops->routes_served(x->ctl->store.ctx);
	if (served < 0) {
		snprintf(x->err, sizeof x->err, "Gateway API discovery: %s", so_strerror(served));
		return served;
	}
	x->routes = served;
	if (served)
		return apply(x, kinds[PLAN_ROUTE].r, kinds[PLAN_ROUTE].cache, p->objs[PLAN_ROUTE], &x->applied[PLAN_ROUTE]);
	snprintf(msg, sizeof msg, "spec.route needs the Gateway API (%s %s), which the API server does not serve",
		 SPIN_ROUTE_API_VERSION, KUBE_HTTPROUTES.plural);
	const json_t *cur = condition_find(json_object_get(json_object_get(x->app, "status"), "conditions"),
					   ROUTE_CONDITION_TYPE);
	const char *reason = json_string_value(json_object_get(cur, "reason"));
	if (!reason || strcmp(reason, ROUTE_REASON_NO_API))
		warn_event(x, ROUTE_REASON_NO_API, msg);
	int kn = snprintf(key, sizeof key, "%s/%s", x->ns, x->name);
	if (kn > 0 && (size_t)kn < sizeof key)
		queue_add_after(x->ctl->app_q, key, ROUTES_RECHECK_S);
	return SO_OK;
}

/* Makes one role of the plan: created once (the Secrets), applied, or removed. */
static int make(struct app_ctx *x, const struct plan *p, int role)
{
	if (role == PLAN_ROUTE && !(p->absent & PLAN_BIT(role)))
		return make_route(x, p);
	if (p->absent & PLAN_BIT(role))
		return remove_owned(x, role);
	if (!p->objs[role])
		return SO_OK;
	if (role == PLAN_RUNTIME_CONFIG)
		return create_runtime_config(x, p->objs[role]);
	if (role == PLAN_CA_SECRET)
		return ensure_ca_secret(x, p->objs[role]);
	return apply(x, kinds[role].r, kinds[role].cache, p->objs[role], &x->applied[role]);
}

/* A plan that failed: a missing referenced Secret or ConfigMap may appear, so that is retried; anything else
 * waits for a change of the spec or executor, which requeues. */
static int plan_failed(struct app_ctx *x, int rc)
{
	log_warn("spinapp", "%s/%s: %s", x->ns, x->name, x->err);
	warn_event(x, "ReconcileFailed", x->err);
	return rc == SO_E_CONFIG ? rc : RECONCILE_TERMINAL;
}

/* A new app's Service, applied on a helper thread while the worker creates the runtime-config Secret and
 * applies the Deployment: nothing depends on the Service, and the apiserver creates Services one at a time (its
 * ClusterIP allocator holds a lock across each allocation), so the Service's wait in that line overlaps the
 * worker's other round trips (internals/controller.md). */
struct service_job {
	struct app_ctx x;  /* a copy of the worker's context with its own err buffer; app/executor are shared
			    * read-only (jansson reference counts are atomic) */
	const json_t *svc; /* the plan's Service */
	int rc;
	int started;
	pthread_t thread;
};

static void *service_job_run(void *arg)
{
	struct service_job *j = arg;
	j->rc = apply(&j->x, &KUBE_SERVICES, CTL_SERVICES, j->svc, &j->x.applied[PLAN_SERVICE]);
	return NULL;
}

static void service_job_start(const struct app_ctx *x, struct service_job *j, const json_t *svc)
{
	j->x = *x;
	j->svc = svc;
	j->started = pthread_create(&j->thread, NULL, service_job_run, j) == 0; /* else: applied after, in line */
}

/* Waits for the job; x gets the Service as applied. */
static int service_job_join(struct app_ctx *x, struct service_job *j)
{
	pthread_join(j->thread, NULL);
	j->started = 0;
	x->applied[PLAN_SERVICE] = j->x.applied[PLAN_SERVICE];
	if (j->rc)
		memcpy(x->err, j->x.err, sizeof x->err);
	return j->rc;
}

/* Adds every Secret name a pod template's volumes refer to into set. */
static void template_secrets(const json_t *workload, json_t *set)
{
	const json_t *vols = json_object_get(
		json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "spec"), "volumes");
	size_t i;
	json_t *v;
	json_array_foreach(vols, i, v) {
		const char *s = json_string_value(json_object_get(json_object_get(v, "secret"), "secretName"));
		if (s)
			json_object_set_new(set, s, json_true());
	}
}

/*
 * Runtime-config Secrets are immutable and named after their content, so every config change leaves the old
 * one behind (upstream never deletes them). One is deleted once neither the Deployment nor any ReplicaSet of
 * the app refers to it: a ReplicaSet kept for rollback keeps its Secret, so rollouts and rollbacks still work.
 */
static int collect_secrets(struct app_ctx *x)
{
	/* Both caches are indexed by the app-name label: only this app's objects are visited. */
	const struct ctl_store *s = &x->ctl->store;
	json_t *used = json_object(), *secrets = s->ops->cache_list_indexed(s->ctx, CTL_SECRETS, x->ns, x->name);
	json_t *rss = s->ops->cache_list_indexed(s->ctx, CTL_REPLICASETS, x->ns, x->name), *obj;
	size_t i, nlen = strlen(x->name);
	int rc = SO_OK;

	if (!secrets || !rss || !x->applied[PLAN_DEPLOYMENT])
		goto out; /* without a Deployment we cannot tell what the next rollout needs */
	template_secrets(x->applied[PLAN_DEPLOYMENT], used);
	json_array_foreach(rss, i, obj)
		template_secrets(obj, used);
	json_array_foreach(secrets, i, obj) {
		const char *name = ctl_meta_str(obj, "name");
		if (!name || strncmp(name, x->name, nlen) || name[nlen] != '-' ||
		    !json_object_get(json_object_get(obj, "data"), SPIN_RUNTIME_CONFIG_KEY) || !ctl_owned_by(obj, x->app) ||
		    json_object_get(used, name))
			continue;
		int drc = delete_owned(x, &KUBE_SECRETS, obj);
		if (drc && !rc)
			rc = drc;
	}
out:
	json_decref(used);
	json_decref(secrets);
	json_decref(rss);
	return rc;
}

/* A status condition copied from the Deployment, or Unknown/DeploymentNotFound before it exists. */
static void mirror_condition(json_t **conds, const json_t *deployment, const char *type, long long gen,
			     const char *now)
{
	const json_t *dconds = json_object_get(json_object_get(deployment, "status"), "conditions");
	json_t *c = condition_find(dconds, type);
	if (!deployment) {
		condition_set(conds, type, "Unknown", "DeploymentNotFound", "Deployment not found", gen, now);
	} else if (c) {
		const char *status = json_string_value(json_object_get(c, "status"));
		const char *reason = json_string_value(json_object_get(c, "reason"));
		const char *message = json_string_value(json_object_get(c, "message"));
		condition_set(conds, type, status ? status : "Unknown", reason ? reason : "", message ? message : "", gen,
			      now);
	}
}

/*
 * A Deployment scaled to zero (its spec.replicas 0: the app's replicas: 0, or an autoscaler of the Deployment)
 * is Available by the Deployment's reckoning, with the same reason as a healthy one
 * (MinimumReplicasAvailable). The app's Available keeps that status but says ScaledToZero, so that "nothing
 * runs on purpose" reads apart from a healthy app and from a broken one (status False: MinimumReplicasUnavailable,
 * ProgressDeadlineExceeded; Unknown: DeploymentNotFound).
 */
#define SCALED_TO_ZERO_REASON "ScaledToZero"
#define SCALED_TO_ZERO_MESSAGE "Deployment is scaled to zero replicas"

static void scaled_to_zero_condition(json_t **conds, const json_t *deployment, long long gen, const char *now)
{
	const json_t *r = json_object_get(json_object_get(deployment, "spec"), "replicas");
	const json_t *c = condition_find(json_object_get(json_object_get(deployment, "status"), "conditions"),
					 "Available");
	const char *status = json_string_value(json_object_get(c, "status"));

	if (json_is_integer(r) && json_integer_value(r) == 0 && status && !strcmp(status, "True"))
		condition_set(conds, "Available", "True", SCALED_TO_ZERO_REASON, SCALED_TO_ZERO_MESSAGE, gen, now);
}

/* status.replicas and status.selector, what the scale subresource reads (docs/compat.md): the Deployment's
 * status.replicas (its non-terminated pods, as the Deployment's own /scale reports), 0 before it exists, and the
 * selector of the pods the operator makes. Not written for createDeployment: false apps, whose pods (if any) are
 * someone else's. */
static void scale_status(json_t *st, const json_t *deployment, const char *name)
{
	struct buf sel = BUF_INIT(1024);
	char err[256];

	json_object_set_new(st, "replicas", json_integer(json_integer_value(
						    json_object_get(json_object_get(deployment, "status"), "replicas"))));
	if (spin_pod_selector(name, &sel, err, sizeof err) == SO_OK)
		json_object_set_new(st, "selector", json_string(sel.data));
	buf_free(&sel);
}

/* The Routed condition of an app with spec.route (from its HTTPRoute's status.parents, or saying the Gateway
 * API is missing); an app without one has none. */
static void route_condition(struct app_ctx *x, json_t **conds, long long gen, const char *now)
{
	const json_t *route = json_object_get(json_object_get(x->app, "spec"), "route");
	struct route_condition rc;
	char msg[256];

	if (!json_is_object(route)) {
		size_t i;
		json_t *c;
		json_array_foreach(*conds, i, c) {
			const char *t = json_string_value(json_object_get(c, "type"));
			if (t && !strcmp(t, ROUTE_CONDITION_TYPE)) {
				json_array_remove(*conds, i);
				break;
			}
		}
		return;
	}
	if (!x->routes) {
		snprintf(msg, sizeof msg, "the Gateway API (%s %s) is not installed in the cluster", SPIN_ROUTE_API_VERSION,
			 KUBE_HTTPROUTES.plural);
		condition_set(conds, ROUTE_CONDITION_TYPE, "False", ROUTE_REASON_NO_API, msg, gen, now);
		return;
	}
	route_condition_from(x->applied[PLAN_ROUTE], json_array_size(json_object_get(route, "parentRefs")), &rc);
	condition_set(conds, ROUTE_CONDITION_TYPE, rc.status, rc.reason, rc.message, gen, now);
}

/* Writes status only when it differs from what the cache shows. */
static int update_status(struct app_ctx *x, int create_deployment)
{
	const json_t *old = json_object_get(x->app, "status");
	long long gen = (long long)json_integer_value(json_object_get(json_object_get(x->app, "metadata"), "generation"));
	json_t *conds = json_deep_copy(json_object_get(old, "conditions"));
	json_t *st = json_object(), *patch = NULL;
	const json_t *dep = x->applied[PLAN_DEPLOYMENT], *svc = x->applied[PLAN_SERVICE];
	char now[32];
	int rc = SO_OK;

	clock_format_rfc3339((long long)time(NULL), now);
	json_object_set_new(st, "activeScheduler", json_string(ctl_spec_str(x->app, "executor")));
	json_int_t ready = json_integer_value(json_object_get(json_object_get(dep, "status"), "readyReplicas"));
	json_object_set_new(st, "readyReplicas", json_integer(create_deployment ? ready : 0));
	if (create_deployment) {
		mirror_condition(&conds, dep, "Available", gen, now);
		mirror_condition(&conds, dep, "Progressing", gen, now);
		scaled_to_zero_condition(&conds, dep, gen, now);
		if (dep)
			json_object_set_new(st, "deploymentName", json_string(ctl_meta_str(dep, "name")));
		scale_status(st, dep, x->name);
	}
	route_condition(x, &conds, gen, now);
	if (conds && json_array_size(conds))
		json_object_set(st, "conditions", conds);
	if (svc)
		json_object_set_new(st, "serviceName", json_string(ctl_meta_str(svc, "name")));
	json_object_set_new(st, "observedGeneration", json_integer(gen));

	if (old && json_equal((json_t *)old, st))
		goto out;
	char key[512];
	int kn = snprintf(key, sizeof key, "%s/%s", x->ns, x->name);
	if (kn > 0 && (size_t)kn < sizeof key && deferrals_defer(x->ctl->deferrals, x->ctl->app_q, key))
		goto out; /* other apps are waiting for their children: this status follows them (deferrals.h) */
	/* A merge patch replaces arrays whole; fields we no longer report are nulled. */
	json_t *body = json_deep_copy(st);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)old, k, v) {
		if (!json_object_get(body, k))
			json_object_set_new(body, k, json_null());
	}
	patch = json_object();
	json_object_set_new(patch, "status", body);
	struct kube_response resp = { 0 };
	rc = x->ctl->store.ops->patch_status(x->ctl->store.ctx, &KUBE_SPINAPPS, x->ns, x->name, patch, &resp);
	ctl_count_write(x->ctl, 1);
	if (rc == SO_E_API_NOT_FOUND)
		rc = SO_OK; /* deleted meanwhile */
	if (rc)
		api_error(x, "updating status", rc, &resp);
	kube_response_free(&resp);
out:
	json_decref(conds);
	json_decref(st);
	json_decref(patch);
	return rc;
}

/* An executor naming a RuntimeClass that does not exist: tell the app's users where its pods are stuck. */
static void check_runtime_class(struct app_ctx *x)
{
	const json_t *dc = json_object_get(json_object_get(x->executor, "spec"), "deploymentConfig");
	const char *rc_name = json_string_value(json_object_get(dc, "runtimeClassName"));
	if (!rc_name || !*rc_name)
		return;
	json_t *rc = x->ctl->store.ops->cache_get(x->ctl->store.ctx, CTL_RUNTIMECLASSES, NULL, rc_name);
	if (!rc) {
		char msg[512];
		snprintf(msg, sizeof msg, "SpinAppExecutor %s/%s uses RuntimeClass \"%s\", which does not exist", x->ns,
			 ctl_spec_str(x->app, "executor"), rc_name);
		warn_event(x, "RuntimeClassNotFound", msg);
	}
	json_decref(rc);
}

int reconcile_app(struct controller *ctl, const char *ns, const char *name)
{
	const struct ctl_store *s = &ctl->store;
	struct app_ctx x = { .ctl = ctl, .ns = ns, .name = name, .routes = 1 };
	struct service_job job = { 0 };
	struct plan p = { 0 };
	json_t *refs = NULL;
	int rc = SO_OK, prc;

	x.app = s->ops->cache_get(s->ctx, CTL_APPS, ns, name);
	if (!x.app) {
		/* Gone (its deletion requeued it): the garbage collector removes what it owned; we drop the apply
		 * records of its children, so a deleted app leaves no state here. An app of that name coming back
		 * has whatever still exists applied again in full. */
		applier_forget_app(ctl->applier, ns, name);
		goto out;
	}
	if (json_object_get(json_object_get(x.app, "metadata"), "deletionTimestamp"))
		goto out; /* going: the garbage collector removes what it owned */

	const char *exec_name = ctl_spec_str(x.app, "executor");
	x.executor = exec_name ? s->ops->cache_get(s->ctx, CTL_EXECUTORS, ns, exec_name) : NULL;
	if (!x.executor) {
		snprintf(x.err, sizeof x.err, "Could not find SpinAppExecutor %s/%s", ns, exec_name ? exec_name : "");
		warn_event(&x, "MissingExecutor", x.err);
		log_warn("spinapp", "%s/%s: %s", ns, name, x.err);
		rc = SO_E_CONFIG; /* retried with backoff; the executor's arrival also requeues this app */
		goto out;
	}
	int create_deployment = json_is_true(json_object_get(json_object_get(x.executor, "spec"), "createDeployment"));
	if (create_deployment)
		check_runtime_class(&x);
	if ((rc = plan_refs(x.app, x.executor, get_ref, &x, &refs)))
		goto out;
	const char *ca = plan_ca_secret_name(x.executor);
	struct plan_input in = { x.app, x.executor, refs, ctl->o.ca_bundle, ctl->o.ca_bundle_len, ca_known(&x, ca) };
	prc = plan_app(&in, &p, x.err, sizeof x.err);
	/* No Service yet: it goes out first, on a helper thread (service_job), even when the plan failed after it. */
	if (create_deployment && p.objs[PLAN_SERVICE] && !s->ops->cache_has(s->ctx, CTL_SERVICES, ns, name))
		service_job_start(&x, &job, p.objs[PLAN_SERVICE]);
	for (int role = 0; role < PLAN_NROLES && !rc; role++) {
		if (role == p.failed)
			rc = plan_failed(&x, prc);
		else if (role == PLAN_SERVICE && job.started)
			rc = service_job_join(&x, &job);
		else
			rc = make(&x, &p, role);
	}
	if (job.started) /* a failure before the Service */
		service_job_join(&x, &job);
	if (rc || (rc = update_status(&x, create_deployment)))
		goto out;
	if (create_deployment)
		rc = collect_secrets(&x);
out:
	plan_free(&p);
	json_decref(refs);
	json_decref(x.app);
	json_decref(x.executor);
	for (int role = 0; role < PLAN_NROLES; role++)
		json_decref(x.applied[role]);
	return rc;
}

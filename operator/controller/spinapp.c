/*
 * Reconciling one SpinApp (upstream's Reconcile, docs/internals/controller.md), with upstream's bugs fixed
 * (docs/compat.md):
 *
 *   executor missing               → Warning MissingExecutor, retry with backoff (an executor add requeues us)
 *   createDeployment: true         → runtime-config Secret, CA Secret, Deployment (applied only when changed)
 *   createDeployment: false        → delete a same-named Deployment only if this app owns it
 *   always                         → Service; HPA for spec.autoscaler; status from the objects just applied;
 *                                    superseded runtime-config Secrets deleted once no ReplicaSet uses them
 *
 * Reads come from the informer caches except the Secrets/ConfigMaps a runtime config refers to (fetched when
 * the app is reconciled, so we cache no user Secret) and CA Secrets (checked once, then remembered).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build/build.h"
#include "controller/internal.h"
#include "controller/status.h"
#include "kube/api.h"
#include "util/err.h"
#include "util/log.h"

#define ERRLEN 512

struct app_ctx {
	struct controller *ctl;
	const char *ns, *name;
	json_t *app;        /* cached SpinApp (borrowed reference held for the reconcile) */
	json_t *executor;
	json_t *deployment; /* the Deployment as applied or cached, or NULL */
	json_t *service;
	char err[ERRLEN];
};

static void warn_event(struct app_ctx *x, const char *reason, const char *message)
{
	x->ctl->store.ops->event(x->ctl->store.ctx, CTL_REC_APP, x->app, "Warning", reason, message);
}

/* A build or validation failure: retrying cannot help until the spec (or executor) changes, which requeues. */
static int terminal(struct app_ctx *x, const char *reason)
{
	log_warn("spinapp", "%s/%s: %s", x->ns, x->name, x->err);
	warn_event(x, reason, x->err);
	return RECONCILE_TERMINAL;
}

static int api_error(struct app_ctx *x, const char *what, int rc, const struct kube_response *resp)
{
	if (rc == SO_E_API_NAMESPACE_TERMINATING) {
		/* Expected while a namespace goes: the SpinApp is deleted with it, and retries stop then. */
		log_info("spinapp", "%s/%s: %s: namespace is being deleted", x->ns, x->name, what);
		return rc;
	}
	log_warn("spinapp", "%s/%s: %s: %s: %s", x->ns, x->name, what, so_strerror(rc),
		 resp && resp->message ? resp->message : "");
	return rc;
}

/* Fetches every Secret and ConfigMap the runtime config names into refs; absent ones are left out, so the
 * builder reports them in upstream's words. */
static int fetch_refs(struct app_ctx *x, json_t *refs)
{
	json_t *secret_names = NULL, *cm_names = NULL, *name;
	size_t i;
	int rc = build_runtime_config_refs(x->app, &secret_names, &cm_names);
	json_t *secrets = NULL, *cms = NULL;

	/* refs owns both maps from here on (json_object_set_new takes the reference even when it fails). */
	if (!rc && (json_object_set_new(refs, "secrets", json_object()) ||
		    json_object_set_new(refs, "configmaps", json_object())))
		rc = SO_E_NOMEM;
	if (rc)
		goto out;
	secrets = json_object_get(refs, "secrets");
	cms = json_object_get(refs, "configmaps");
	for (int kind = 0; kind < 2 && !rc; kind++) {
		json_t *names = kind == 0 ? secret_names : cm_names;
		json_t *into = kind == 0 ? secrets : cms;
		const struct kube_resource *r = kind == 0 ? &KUBE_SECRETS : &KUBE_CONFIGMAPS;
		json_array_foreach(names, i, name) {
			struct kube_response resp = { 0 };
			json_t *obj = NULL;
			int grc = x->ctl->store.ops->get(x->ctl->store.ctx, r, x->ns, json_string_value(name), &obj, &resp);
			if (grc == SO_OK && json_object_set_new(into, json_string_value(name), obj))
				grc = SO_E_NOMEM;
			if (grc && grc != SO_E_API_NOT_FOUND)
				rc = api_error(x, "reading runtime config references", grc, &resp);
			kube_response_free(&resp);
			if (rc)
				break;
		}
	}
out:
	json_decref(secret_names);
	json_decref(cm_names);
	return rc;
}

/* The generated runtime-config Secret: created once under its content-derived name, never updated. */
static int ensure_runtime_config(struct app_ctx *x, char **secret_name, int *generated)
{
	struct buf toml = BUF_INIT(1u << 20);
	json_t *refs = json_object(), *secret = NULL;
	int rc;

	*secret_name = NULL;
	if (!refs) {
		rc = SO_E_NOMEM;
		goto out;
	}
	if ((rc = fetch_refs(x, refs)))
		goto out;
	rc = build_runtime_config_toml(x->app, refs, &toml, generated, x->err, sizeof x->err);
	if (rc == SO_E_CONFIG) { /* a referenced Secret/ConfigMap is missing: it may appear, so retry */
		warn_event(x, "ReconcileFailed", x->err);
		log_warn("spinapp", "%s/%s: %s", x->ns, x->name, x->err);
		goto out;
	}
	if (rc) {
		rc = terminal(x, "ReconcileFailed");
		goto out;
	}
	if (!*generated)
		goto out;
	if ((rc = build_runtime_config_secret(x->app, toml.data, toml.len, &secret, x->err, sizeof x->err))) {
		rc = terminal(x, "ReconcileFailed");
		goto out;
	}
	const char *name = meta_str(secret, "name");
	if (!x->ctl->store.ops->cache_has(x->ctl->store.ctx, CTL_SECRETS, x->ns, name)) {
		struct kube_response resp = { 0 };
		int crc = x->ctl->store.ops->create(x->ctl->store.ctx, &KUBE_SECRETS, x->ns, secret, &resp);
		count_write(x->ctl, 1);
		if (crc && crc != SO_E_API_ALREADY_EXISTS)
			rc = api_error(x, "creating the runtime-config Secret", crc, &resp);
		else
			log_info("spinapp", "%s/%s: runtime-config Secret %s created", x->ns, x->name, name);
		kube_response_free(&resp);
	}
	if (!rc && !(*secret_name = strdup(name)))
		rc = SO_E_NOMEM;
out:
	json_decref(secret);
	json_decref(refs);
	buf_free(&toml);
	return rc;
}

/* installDefaultCACerts: create the CA Secret when absent; an existing one is never touched. known_mu is held
 * across the GET and the create: apps of a namespace tend to start together (operator start, a new executor),
 * and each worker would otherwise send the whole CA bundle (about 200 KB) only to get AlreadyExists. */
static int ensure_ca_secret(struct app_ctx *x, const json_t *dc)
{
	const char *name = json_string_value(json_object_get(dc, "caCertSecret"));
	struct kube_response resp = { 0 };
	char key[512];
	int rc = SO_OK;

	if (!json_is_true(json_object_get(dc, "installDefaultCACerts")))
		return SO_OK;
	if (!name || !*name)
		name = SPIN_DEFAULT_CA_SECRET;
	snprintf(key, sizeof key, "%s/%s", x->ns, name);
	pthread_mutex_lock(&x->ctl->known_mu);
	if (json_object_get(x->ctl->known_ca, key))
		goto out;
	rc = x->ctl->store.ops->get(x->ctl->store.ctx, &KUBE_SECRETS, x->ns, name, NULL, &resp);
	if (rc == SO_E_API_NOT_FOUND) {
		json_t *secret = build_ca_secret(x->ns, name, x->ctl->o.ca_bundle, x->ctl->o.ca_bundle_len);
		kube_response_free(&resp);
		rc = secret ? x->ctl->store.ops->create(x->ctl->store.ctx, &KUBE_SECRETS, x->ns, secret, &resp) : SO_E_NOMEM;
		count_write(x->ctl, 1);
		json_decref(secret);
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
	json_t *live = s->ops->cache_get(s->ctx, cache, x->ns, meta_str(desired, "name"));
	int rc = applier_apply_with(x->ctl->applier, s->ops->apply, s->ctx, r, x->ns, desired, live, result, &wrote,
				    &resp);
	count_write(x->ctl, wrote);
	if (rc) {
		snprintf(x->err, sizeof x->err, "applying %s %s: %s", r->kind, meta_str(desired, "name"),
			 resp.message ? resp.message : so_strerror(rc));
		api_error(x, x->err, rc, &resp);
		if (rc == SO_E_API_INVALID || rc == SO_E_API_FORBIDDEN)
			warn_event(x, "ReconcileFailed", x->err);
	} else if (wrote) {
		log_info("spinapp", "%s/%s: %s %s applied", x->ns, x->name, r->kind, meta_str(desired, "name"));
	}
	json_decref(live);
	kube_response_free(&resp);
	return rc;
}

/* Deletes obj (kind r) with a uid precondition, so we never delete a replacement someone just created. */
static int delete_owned(struct app_ctx *x, const struct kube_resource *r, const json_t *obj)
{
	struct kube_response resp = { 0 };
	struct kube_delete_opts o = { "Background", meta_str(obj, "uid"), NULL };
	int rc = x->ctl->store.ops->delete(x->ctl->store.ctx, r, x->ns, meta_str(obj, "name"), &o, &resp);
	count_write(x->ctl, 1);
	if (rc == SO_E_API_NOT_FOUND || rc == SO_E_API_CONFLICT)
		rc = SO_OK; /* gone already, or replaced by someone else's object: not ours to delete */
	if (rc)
		api_error(x, "deleting", rc, &resp);
	else
		log_info("spinapp", "%s/%s: %s %s deleted", x->ns, x->name, r->kind, meta_str(obj, "name"));
	applier_forget(x->ctl->applier, r, x->ns, meta_str(obj, "name"));
	kube_response_free(&resp);
	return rc;
}

/* A new app's Service, applied on a helper thread from the start of the reconcile while the worker creates the
 * runtime-config Secret and applies the Deployment: nothing depends on the Service, and the apiserver creates
 * Services one at a time (its ClusterIP allocator holds a lock across each allocation), so the Service's
 * wait in that line overlaps the worker's other round trips (internals/controller.md). */
struct service_job {
	struct app_ctx x;  /* a copy of the worker's context with its own err buffer; app/executor are shared
			    * read-only (jansson reference counts are atomic) */
	json_t *svc;       /* desired Service (owned), or NULL: no job */
	json_t *result;    /* the Service as applied (owned) */
	int rc;
	int started;
	pthread_t thread;
};

static void *service_job_run(void *arg)
{
	struct service_job *j = arg;
	j->rc = apply(&j->x, &KUBE_SERVICES, CTL_SERVICES, j->svc, &j->result);
	return NULL;
}

static void service_job_start(const struct app_ctx *x, struct service_job *j)
{
	j->x = *x;
	j->started = pthread_create(&j->thread, NULL, service_job_run, j) == 0; /* else: applied after, in line */
}

static int reconcile_deployment(struct app_ctx *x)
{
	const json_t *dc = json_object_get(json_object_get(x->executor, "spec"), "deploymentConfig");
	char *secret_name = NULL;
	int generated = 0, rc;
	json_t *desired = NULL;

	if (!json_is_object(dc)) {
		/* Upstream dereferences the missing pointer and crashes here. */
		snprintf(x->err, sizeof x->err,
			 "SpinAppExecutor %s/%s has createDeployment: true but no deploymentConfig", x->ns,
			 spec_str(x->app, "executor"));
		return terminal(x, "ReconcileFailed");
	}
	if ((rc = ensure_runtime_config(x, &secret_name, &generated)))
		goto out;
	if ((rc = ensure_ca_secret(x, dc)))
		goto out;
	rc = build_deployment(x->app, x->executor, secret_name, generated, &desired, x->err, sizeof x->err);
	if (rc) {
		rc = terminal(x, "ReconcileFailed");
		goto out;
	}
	rc = apply(x, &KUBE_DEPLOYMENTS, CTL_DEPLOYMENTS, desired, &x->deployment);
out:
	json_decref(desired);
	free(secret_name);
	return rc;
}

/* createDeployment: false — the app is realised elsewhere; a Deployment we made earlier must go. */
static int remove_deployment(struct app_ctx *x)
{
	json_t *live = x->ctl->store.ops->cache_get(x->ctl->store.ctx, CTL_DEPLOYMENTS, x->ns, x->name);
	int rc = live && owned_by(live, x->app) ? delete_owned(x, &KUBE_DEPLOYMENTS, live) : SO_OK;
	json_decref(live);
	return rc;
}

static int reconcile_hpa(struct app_ctx *x)
{
	json_t *desired = NULL;
	int rc = build_hpa(x->app, &desired, x->err, sizeof x->err);
	if (rc)
		return terminal(x, "ReconcileFailed");
	if (desired) {
		json_t *applied = NULL;
		rc = apply(x, &KUBE_HPAS, CTL_HPAS, desired, &applied);
		json_decref(applied);
		json_decref(desired);
		return rc;
	}
	json_t *live = x->ctl->store.ops->cache_get(x->ctl->store.ctx, CTL_HPAS, x->ns, x->name);
	rc = live && owned_by(live, x->app) ? delete_owned(x, &KUBE_HPAS, live) : SO_OK;
	json_decref(live);
	return rc;
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

	if (!used || !secrets || !rss)
		goto out;
	if (!x->deployment)
		goto out; /* without a Deployment we cannot tell what the next rollout needs */
	template_secrets(x->deployment, used);
	json_array_foreach(rss, i, obj)
		template_secrets(obj, used);
	json_array_foreach(secrets, i, obj) {
		const char *name = meta_str(obj, "name");
		if (!name || strncmp(name, x->name, nlen) || name[nlen] != '-' ||
		    !json_object_get(json_object_get(obj, "data"), SPIN_RUNTIME_CONFIG_KEY) || !owned_by(obj, x->app) ||
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

/* Writes status only when it differs from what the cache shows. */
static int update_status(struct app_ctx *x, int create_deployment)
{
	const json_t *old = json_object_get(x->app, "status");
	long long gen = (long long)json_integer_value(json_object_get(json_object_get(x->app, "metadata"), "generation"));
	json_t *conds = json_deep_copy(json_object_get(old, "conditions"));
	json_t *st = json_object(), *patch = NULL;
	char now[32];
	int rc = SO_E_NOMEM;

	if (!st)
		goto out;
	format_rfc3339((long long)time(NULL), now);
	json_object_set_new(st, "activeScheduler", json_string(spec_str(x->app, "executor")));
	json_int_t ready = json_integer_value(json_object_get(json_object_get(x->deployment, "status"), "readyReplicas"));
	json_object_set_new(st, "readyReplicas", json_integer(create_deployment ? ready : 0));
	if (create_deployment) {
		mirror_condition(&conds, x->deployment, "Available", gen, now);
		mirror_condition(&conds, x->deployment, "Progressing", gen, now);
		if (x->deployment)
			json_object_set_new(st, "deploymentName", json_string(meta_str(x->deployment, "name")));
	}
	if (conds && json_array_size(conds))
		json_object_set(st, "conditions", conds);
	if (x->service)
		json_object_set_new(st, "serviceName", json_string(meta_str(x->service, "name")));
	json_object_set_new(st, "observedGeneration", json_integer(gen));

	if (old && json_equal((json_t *)old, st)) {
		rc = SO_OK;
		goto out;
	}
	char key[512];
	int kn = snprintf(key, sizeof key, "%s/%s", x->ns, x->name);
	if (kn > 0 && (size_t)kn < sizeof key && deferrals_defer(x->ctl->deferrals, x->ctl->app_q, key)) {
		rc = SO_OK; /* other apps are waiting for their children: this status follows them (defer.h) */
		goto out;
	}
	/* A merge patch replaces arrays whole; fields we no longer report are nulled. */
	json_t *body = json_deep_copy(st);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)old, k, v) {
		if (!json_object_get(body, k))
			json_object_set_new(body, k, json_null());
	}
	patch = json_pack("{s:o}", "status", body);
	struct kube_response resp = { 0 };
	rc = patch ? x->ctl->store.ops->patch_status(x->ctl->store.ctx, &KUBE_SPINAPPS, x->ns, x->name, patch, &resp)
		   : SO_E_NOMEM;
	count_write(x->ctl, 1);
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
			 spec_str(x->app, "executor"), rc_name);
		warn_event(x, "RuntimeClassNotFound", msg);
	}
	json_decref(rc);
}

int reconcile_app(struct controller *ctl, const char *ns, const char *name)
{
	const struct ctl_store *s = &ctl->store;
	struct app_ctx x = { .ctl = ctl, .ns = ns, .name = name };
	struct service_job job = { 0 };
	int rc = SO_OK;

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

	const char *exec_name = spec_str(x.app, "executor");
	x.executor = exec_name ? s->ops->cache_get(s->ctx, CTL_EXECUTORS, ns, exec_name) : NULL;
	if (!x.executor) {
		snprintf(x.err, sizeof x.err, "Could not find SpinAppExecutor %s/%s", ns, exec_name ? exec_name : "");
		warn_event(&x, "MissingExecutor", x.err);
		log_warn("spinapp", "%s/%s: %s", ns, name, x.err);
		rc = SO_E_CONFIG; /* retried with backoff; the executor's arrival also requeues this app */
		goto out;
	}
	int create_deployment = json_is_true(json_object_get(json_object_get(x.executor, "spec"), "createDeployment"));
	if (create_deployment) {
		check_runtime_class(&x);
		/* No Service yet: it goes out first, on a helper thread (service_job). Otherwise, or when it cannot
		 * be built (reported below), it is handled in line after the Deployment. */
		if (!s->ops->cache_has(s->ctx, CTL_SERVICES, ns, name) &&
		    build_service(x.app, &job.svc, job.x.err, sizeof job.x.err) == SO_OK)
			service_job_start(&x, &job);
		rc = reconcile_deployment(&x);
	} else {
		rc = remove_deployment(&x);
	}
	if (job.started) {
		pthread_join(job.thread, NULL);
		x.service = job.result;
		job.result = NULL;
		if (!rc && job.rc) {
			rc = job.rc;
			memcpy(x.err, job.x.err, sizeof x.err);
		}
	}
	if (rc)
		goto out;

	if (!job.started) {
		json_t *svc = NULL;
		if ((rc = build_service(x.app, &svc, x.err, sizeof x.err))) {
			rc = terminal(&x, "ReconcileFailed");
			goto out;
		}
		rc = apply(&x, &KUBE_SERVICES, CTL_SERVICES, svc, &x.service);
		json_decref(svc);
	}
	if (rc || (rc = reconcile_hpa(&x)))
		goto out;
	if ((rc = update_status(&x, create_deployment)))
		goto out;
	if (create_deployment)
		rc = collect_secrets(&x);
out:
	json_decref(job.svc);
	json_decref(job.result);
	json_decref(x.app);
	json_decref(x.executor);
	json_decref(x.deployment);
	json_decref(x.service);
	return rc;
}

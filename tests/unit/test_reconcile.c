/*
 * reconcile_app, reconcile_executor and the event → key mapping, driven through the store seam
 * (operator/controller/store.h) with the in-memory fake (tests/support/ctlfake.h): every row of spinapp.c's and
 * executor.c's header tables is a case here (inputs in the caches → the requests, status and Events expected),
 * and every row of docs/internals/controller.md's mapping table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/controller/controller.h"
#include "operator/controller/controller_internal.h"
#include "operator/controller/reconcile_app.h"
#include "operator/controller/reconcile_executor.h"
#include "operator/controller/condition.h"
#include "support/ctlfake.h"
#include "support/testjson.h"
#include "operator/base/err.h"

#define OWNER(uid) "'ownerReferences': [{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': 'app', 'uid': '" uid "', 'controller': true}]"
#define APP_UID "app-uid"
#define LABEL "'labels': {'core.spinkube.dev/app-name': 'app'}"

struct fx {
	struct ctlfake *f;
	struct controller *ctl;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof *x);
	struct controller_opts o = { .app_workers = 1, .ca_bundle = "PEM", .ca_bundle_len = 3 };
	assert_non_null(x);
	assert_non_null(x->f = ctlfake_new());
	struct ctl_store s = ctlfake_store(x->f);
	assert_non_null(x->ctl = ctl_new_with_store(&o, &s));
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	controller_free(x->ctl);
	ctlfake_free(x->f);
	free(x);
	return 0;
}

/* Puts the JSON literal (quoted with ') into cache c. */
static void put(struct fx *x, enum ctl_cache c, const char *text)
{
	json_t *o = J(text);
	ctlfake_cache_put(x->f, c, o);
	json_decref(o);
}

#define SELECTOR "core.spinkube.dev/app-name=app,core.spinkube.dev/app.app.status=ready"

static const char *app_with(const char *extra_spec)
{
	static char buf[2048];
	snprintf(buf, sizeof buf,
		 "{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'app',"
		 " 'namespace': 'ns', 'uid': '" APP_UID "', 'generation': 2}, 'spec': {'image': 'ghcr.io/x/app:v1',"
		 " 'replicas': 1, 'executor': 'shim'%s}}",
		 extra_spec);
	return buf;
}

#define SHIM(dc)                                                                                              \
	"{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': 'shim',"   \
	" 'namespace': 'ns', 'uid': 'shim-uid', 'generation': 1}, 'spec': {'createDeployment': true,"            \
	" 'deploymentConfig': " dc "}}"
#define RC_SHIM SHIM("{'runtimeClassName': 'wasmtime-spin-v2'}")

/* The requests as "verb resource ns/name; ...", leaving out Services: a new app's Service is applied on a helper
 * thread, so its place among the worker's requests varies. */
static const char *worker_requests(struct fx *x)
{
	static char out[8192];
	size_t i, len = 0;
	json_t *r;
	out[0] = '\0';
	json_array_foreach(ctlfake_requests(x->f), i, r) {
		if (!strcmp(json_string_value(json_object_get(r, "resource")), "services"))
			continue;
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %s %s/%s", len ? "; " : "",
					json_string_value(json_object_get(r, "verb")),
					json_string_value(json_object_get(r, "resource")),
					json_string_value(json_object_get(r, "namespace")),
					json_string_value(json_object_get(r, "name")));
	}
	return out;
}

static size_t count(struct fx *x, const char *verb, const char *plural)
{
	size_t i, n = 0;
	json_t *r;
	json_array_foreach(ctlfake_requests(x->f), i, r)
		n += !strcmp(json_string_value(json_object_get(r, "verb")), verb) &&
		     !strcmp(json_string_value(json_object_get(r, "resource")), plural);
	return n;
}

static const char *body_str(const json_t *req, const char *path1, const char *path2, const char *key)
{
	const json_t *b = json_object_get(req, "body");
	if (path1)
		b = json_object_get(b, path1);
	if (path2)
		b = json_object_get(b, path2);
	return json_string_value(json_object_get(b, key));
}

static void expect_events(struct fx *x, const char *want)
{
	char got[4096];
	size_t i, len = 0;
	json_t *e;
	got[0] = '\0';
	json_array_foreach(ctlfake_events(x->f), i, e)
		len += (size_t)snprintf(got + len, sizeof got - len, "%s%s %s %s %s", len ? "; " : "",
					json_string_value(json_object_get(e, "from")),
					json_string_value(json_object_get(e, "object")),
					json_string_value(json_object_get(e, "type")),
					json_string_value(json_object_get(e, "reason")));
	assert_string_equal(got, want);
}

/* The status a patch sent (borrowed), or fails. */
static json_t *patched_status(struct fx *x, const char *plural)
{
	json_t *p = ctlfake_request(x->f, "patch", plural, NULL);
	assert_non_null(p);
	json_t *st = json_object_get(json_object_get(p, "body"), "status");
	assert_non_null(st);
	return st;
}

/* The runtime-config Secret's name: the one a create request made. */
static const char *created_secret(struct fx *x)
{
	json_t *c = ctlfake_request(x->f, "create", "secrets", NULL);
	assert_non_null(c);
	return json_string_value(json_object_get(c, "name"));
}

/* ---- spinapp.c: "executor missing" ---- */

static void app_missing_executor(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_E_CONFIG); /* retried with backoff */
	assert_string_equal(ctlfake_requests_text(x->f), "");
	expect_events(x, "app ns/app Warning MissingExecutor");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ctlfake_events(x->f), 0), "message")),
			    "Could not find SpinAppExecutor ns/shim");
}

/* ---- "createDeployment: true" and "always": a new app ---- */

static void app_new_creates_secret_deployment_service_status(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, RC_SHIM);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);

	const char *secret = created_secret(x);
	assert_int_equal(strncmp(secret, "app-", 4), 0);
	char want[512];
	snprintf(want, sizeof want, "create secrets ns/%s; apply deployments ns/app; patch spinapps ns/app", secret);
	assert_string_equal(worker_requests(x), want);
	/* the Service went out once, before the status */
	assert_int_equal(count(x, "apply", "services"), 1);
	json_t *reqs = ctlfake_requests(x->f);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, json_array_size(reqs) - 1), "verb")),
			    "patch");

	/* the Secret holds the runtime config, owned by the app; the Deployment mounts it and runs on the executor's
	 * RuntimeClass */
	json_t *c = ctlfake_request(x->f, "create", "secrets", NULL);
	assert_non_null(json_object_get(json_object_get(json_object_get(c, "body"), "data"), SPIN_RUNTIME_CONFIG_KEY));
	json_t *owner = json_array_get(json_object_get(json_object_get(json_object_get(c, "body"), "metadata"),
						       "ownerReferences"), 0);
	assert_string_equal(json_string_value(json_object_get(owner, "uid")), APP_UID);
	json_t *d = ctlfake_request(x->f, "apply", "deployments", "app");
	json_t *pod = json_object_get(json_object_get(json_object_get(json_object_get(d, "body"), "spec"), "template"),
				      "spec");
	assert_string_equal(json_string_value(json_object_get(pod, "runtimeClassName")), "wasmtime-spin-v2");
	int mounted = 0;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(pod, "volumes"), i, v) {
		const char *s = json_string_value(json_object_get(json_object_get(v, "secret"), "secretName"));
		mounted |= s && !strcmp(s, secret);
	}
	assert_true(mounted);
	assert_string_equal(body_str(ctlfake_request(x->f, "apply", "services", "app"), "metadata", NULL, "namespace"),
			    "ns");

	/* status from what was just applied: no Deployment conditions yet */
	check_json(patched_status(x, "spinapps"), "{'activeScheduler': 'shim', 'readyReplicas': 0, 'deploymentName': "
						  "'app', 'serviceName': 'app', 'observedGeneration': 2, 'replicas': 0, "
						  "'selector': '" SELECTOR "'}");
	/* the executor's RuntimeClass is not cached: the app's users are told */
	expect_events(x, "app ns/app Warning RuntimeClassNotFound");
	assert_int_equal(applier_records(x->ctl->applier), 2); /* Deployment and Service */
}

/* Copies every object the fake API server got into the cache (what the informers would see), with extra
 * merged into the Deployment (its status). */
static void caches_catch_up(struct fx *x, const char *secret, const char *deployment_extra)
{
	json_t *dep = json_deep_copy(ctlfake_api_get(x->f, &KUBE_DEPLOYMENTS, "ns", "app"));
	json_t *extra = J(deployment_extra);
	assert_non_null(dep);
	json_object_update(dep, extra);
	ctlfake_cache_put(x->f, CTL_DEPLOYMENTS, dep);
	ctlfake_cache_put(x->f, CTL_SERVICES, ctlfake_api_get(x->f, &KUBE_SERVICES, "ns", "app"));
	ctlfake_cache_put(x->f, CTL_SECRETS, ctlfake_api_get(x->f, &KUBE_SECRETS, "ns", secret));
	json_decref(extra);
	json_decref(dep);
}

/* The status of the scale subresource (replicas, selector) and of a scale to zero: Available keeps the
 * Deployment's status but says ScaledToZero while the Deployment's spec.replicas is 0, whether the app's
 * replicas: 0 or an autoscaler of the Deployment (enableAutoscaling) put it there; scaled up again, the
 * Deployment's own reasons come back. */
static void app_scale_status(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(", 'replicas': 0"));
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	json_t *d = ctlfake_request(x->f, "apply", "deployments", "app");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(d, "body"), "spec"),
							    "replicas")), 0);
	char secret[256];
	snprintf(secret, sizeof secret, "%s", created_secret(x));

	/* the Deployment controller's view of zero replicas: Available, MinimumReplicasAvailable */
	caches_catch_up(x, secret,
			"{'status': {'conditions': [{'type': 'Available', 'status': 'True', 'reason':"
			" 'MinimumReplicasAvailable', 'message': 'Deployment has minimum availability.'},"
			" {'type': 'Progressing', 'status': 'True', 'reason': 'NewReplicaSetAvailable', 'message': 'done'}]}}");
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "patch spinapps ns/app");
	json_t *st = patched_status(x, "spinapps");
	assert_int_equal(json_integer_value(json_object_get(st, "replicas")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "readyReplicas")), 0);
	assert_string_equal(json_string_value(json_object_get(st, "selector")), SELECTOR);
	json_t *avail = condition_find(json_object_get(st, "conditions"), "Available");
	assert_string_equal(json_string_value(json_object_get(avail, "status")), "True");
	assert_string_equal(json_string_value(json_object_get(avail, "reason")), "ScaledToZero");
	assert_string_equal(json_string_value(json_object_get(avail, "message")), "Deployment is scaled to zero replicas");
	/* Progressing is the Deployment's, untouched */
	assert_string_equal(json_string_value(json_object_get(condition_find(json_object_get(st, "conditions"),
									      "Progressing"), "reason")),
			    "NewReplicaSetAvailable");

	/* scaled up to 2 (kubectl scale, an HPA on the SpinApp): the Deployment follows; while its pods start it is
	 * unavailable, and the app says so with the Deployment's reason */
	put(x, CTL_APPS, app_with(", 'replicas': 2"));
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	d = ctlfake_request(x->f, "apply", "deployments", "app");
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(d, "body"), "spec"),
							    "replicas")), 2);
	caches_catch_up(x, secret,
			"{'status': {'replicas': 2, 'conditions': [{'type': 'Available', 'status': 'False', 'reason':"
			" 'MinimumReplicasUnavailable', 'message': 'Deployment does not have minimum availability.'}]}}");
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	st = patched_status(x, "spinapps");
	assert_int_equal(json_integer_value(json_object_get(st, "replicas")), 2);
	avail = condition_find(json_object_get(st, "conditions"), "Available");
	assert_string_equal(json_string_value(json_object_get(avail, "status")), "False");
	assert_string_equal(json_string_value(json_object_get(avail, "reason")), "MinimumReplicasUnavailable");

	/* enableAutoscaling: the operator leaves spec.replicas to an autoscaler of the Deployment; when that (KEDA)
	 * scales it to zero, the app says ScaledToZero too */
	put(x, CTL_APPS, app_with(", 'replicas': 0, 'enableAutoscaling': true"));
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	d = ctlfake_request(x->f, "apply", "deployments", "app");
	assert_non_null(d);
	assert_null(json_object_get(json_object_get(json_object_get(d, "body"), "spec"), "replicas"));
	json_t *dep = json_deep_copy(ctlfake_api_get(x->f, &KUBE_DEPLOYMENTS, "ns", "app"));
	json_object_set_new(json_object_get(dep, "spec"), "replicas", json_integer(0)); /* the autoscaler's */
	json_object_set_new(dep, "status", J("{'conditions': [{'type': 'Available', 'status': 'True', 'reason': "
					     "'MinimumReplicasAvailable', 'message': 'ok'}]}"));
	ctlfake_cache_put(x->f, CTL_DEPLOYMENTS, dep);
	json_decref(dep);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "patch spinapps ns/app");
	avail = condition_find(json_object_get(patched_status(x, "spinapps"), "conditions"), "Available");
	assert_string_equal(json_string_value(json_object_get(avail, "reason")), "ScaledToZero");
}

/* "Deployment (applied only when changed)", "status from the objects just applied": a steady app makes no
 * request at all; a Deployment condition reaches the status. */
static void app_steady_state_writes_nothing(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	char secret[256];
	snprintf(secret, sizeof secret, "%s", created_secret(x));
	caches_catch_up(x, secret,
			"{'status': {'readyReplicas': 1, 'conditions': [{'type': 'Available', 'status': 'True', 'reason':"
			" 'MinimumReplicasAvailable', 'message': 'up'}, {'type': 'Progressing', 'status': 'True',"
			" 'reason': 'NewReplicaSetAvailable', 'message': 'done'}]}}");
	ctlfake_clear(x->f);

	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "patch spinapps ns/app"); /* no apply, no create */
	json_t *st = json_deep_copy(patched_status(x, "spinapps"));
	assert_int_equal(json_integer_value(json_object_get(st, "readyReplicas")), 1);
	json_t *avail = condition_find(json_object_get(st, "conditions"), "Available");
	assert_string_equal(json_string_value(json_object_get(avail, "status")), "True");
	assert_string_equal(json_string_value(json_object_get(avail, "reason")), "MinimumReplicasAvailable");
	assert_int_equal(json_integer_value(json_object_get(avail, "observedGeneration")), 2);
	assert_non_null(condition_find(json_object_get(st, "conditions"), "Progressing"));
	expect_events(x, ""); /* the RuntimeClass exists */

	/* the cache shows that status: nothing at all */
	json_t *app = J(app_with(""));
	json_object_set_new(app, "status", st);
	ctlfake_cache_put(x->f, CTL_APPS, app);
	json_decref(app);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "");

	/* a spec change is applied again (the Deployment only) */
	put(x, CTL_APPS, app_with(", 'replicas': 3"));
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_int_equal(count(x, "apply", "deployments"), 1);
	assert_int_equal(count(x, "apply", "services"), 0);
	json_t *d = ctlfake_request(x->f, "apply", "deployments", "app");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(d, "body"), "spec"), "replicas")), 3);
}

/* installDefaultCACerts: the CA Secret is created when absent, once per namespace; an existing one is left. */
static void app_ca_secret(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, SHIM("{'runtimeClassName': 'wasmtime-spin-v2', 'installDefaultCACerts': true}"));
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	char want[512];
	snprintf(want, sizeof want,
		 "create secrets ns/%s; get secrets ns/spin-ca; create secrets ns/spin-ca; apply deployments ns/app;"
		 " patch spinapps ns/app",
		 created_secret(x));
	assert_string_equal(worker_requests(x), want);
	json_t *ca = ctlfake_request(x->f, "create", "secrets", "spin-ca");
	assert_string_equal(body_str(ca, "stringData", NULL, SPIN_CA_KEY), "PEM"); /* opts.ca_bundle */

	/* known now: not even a GET */
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_null(ctlfake_request(x->f, "get", "secrets", "spin-ca"));

	/* another name, already there: read, never written */
	put(x, CTL_EXECUTORS, SHIM("{'runtimeClassName': 'wasmtime-spin-v2', 'installDefaultCACerts': true, 'caCertSecret': 'mine'}"));
	json_t *mine = J("{'metadata': {'name': 'mine', 'namespace': 'ns'}, 'data': {}}");
	ctlfake_api_put(x->f, &KUBE_SECRETS, mine);
	json_decref(mine);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_non_null(ctlfake_request(x->f, "get", "secrets", "mine"));
	assert_null(ctlfake_request(x->f, "create", "secrets", "mine"));
}

#define KV_RC                                                                                                \
	", 'runtimeConfig': {'keyValueStores': [{'name': 'default', 'type': 'redis', 'options': [{'name': 'url',"  \
	" 'valueFrom': {'secretKeyRef': {'name': 'kv', 'key': 'url'}}}]}]}"

/* Runtime-config references: read from the API (never cached); a missing one fails the reconcile with a
 * Warning and is retried, nothing else is written. */
static void app_runtime_config_references(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(KV_RC));
	put(x, CTL_EXECUTORS, RC_SHIM);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_E_CONFIG);
	assert_string_equal(worker_requests(x), "get secrets ns/kv");
	expect_events(x, "app ns/app Warning RuntimeClassNotFound; app ns/app Warning ReconcileFailed");

	json_t *kv = J("{'metadata': {'name': 'kv', 'namespace': 'ns'}, 'data': {'url': 'cmVkaXM6Ly9yOjYzNzk='}}");
	ctlfake_api_put(x->f, &KUBE_SECRETS, kv);
	json_decref(kv);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	char want[512];
	snprintf(want, sizeof want, "get secrets ns/kv; create secrets ns/%s; apply deployments ns/app; patch spinapps ns/app",
		 created_secret(x));
	assert_string_equal(worker_requests(x), want);
}

/* createDeployment: true without a deploymentConfig: terminal, with a Warning (upstream crashes). */
static void app_executor_without_deployment_config(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, "{'metadata': {'name': 'shim', 'namespace': 'ns'}, 'spec': {'createDeployment': true}}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), RECONCILE_TERMINAL);
	assert_string_equal(worker_requests(x), "");
	expect_events(x, "app ns/app Warning ReconcileFailed");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(ctlfake_events(x->f), 0), "message")),
			       "no deploymentConfig"));
}

/* A failed apply: the error is returned (retried), an Invalid answer also gets a Warning; no status. */
static void app_apply_rejected(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	ctlfake_fail(x->f, "apply", "deployments", SO_E_API_INVALID);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_E_API_INVALID);
	assert_int_equal(count(x, "patch", "spinapps"), 0);
	expect_events(x, "app ns/app Warning ReconcileFailed");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(ctlfake_events(x->f), 0), "message")),
			       "applying Deployment app"));
}

/* An app whose apiVersion is "": no owner reference can be built. Terminal (no retry loop) with a Warning that says
 * why, nothing written. */
static void app_empty_api_version(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, "{'apiVersion': '', 'kind': 'SpinApp', 'metadata': {'name': 'app', 'namespace': 'ns', 'uid': '"
			 APP_UID "', 'generation': 2}, 'spec': {'image': 'ghcr.io/x/app:v1', 'replicas': 1, 'executor': 'shim'}}");
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), RECONCILE_TERMINAL);
	assert_string_equal(worker_requests(x), "");
	expect_events(x, "app ns/app Warning ReconcileFailed");
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(ctlfake_events(x->f), 0), "message")),
			       "SpinApp \"app\": apiVersion and kind must not be empty"));
}

/* ---- "createDeployment: false" ---- */

static void app_without_deployment_deletes_only_its_own(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, "{'metadata': {'name': 'shim', 'namespace': 'ns'}, 'spec': {'createDeployment': false}}");
	put(x, CTL_DEPLOYMENTS, "{'metadata': {'name': 'app', 'namespace': 'ns', 'uid': 'dep-uid', " LABEL ", "
				OWNER("someone-else") "}}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "apply services ns/app; patch spinapps ns/app");
	check_json(patched_status(x, "spinapps"),
		   "{'activeScheduler': 'shim', 'readyReplicas': 0, 'serviceName': 'app', 'observedGeneration': 2}");

	put(x, CTL_DEPLOYMENTS, "{'metadata': {'name': 'app', 'namespace': 'ns', 'uid': 'dep-uid', " LABEL ", "
				OWNER(APP_UID) "}}");
	ctlfake_cache_put(x->f, CTL_SERVICES, ctlfake_api_get(x->f, &KUBE_SERVICES, "ns", "app")); /* as applied */
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "delete deployments ns/app; patch spinapps ns/app");
	json_t *del = ctlfake_request(x->f, "delete", "deployments", "app");
	assert_string_equal(json_string_value(json_object_get(del, "uid")), "dep-uid");
	assert_string_equal(json_string_value(json_object_get(del, "propagation")), "Background");
	expect_events(x, "");
}

/* ---- "always": the HPA ---- */

static void app_hpa_applied_then_removed(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(", 'enableAutoscaling': true, 'autoscaler': {'minReplicas': 2, 'maxReplicas': 5}"));
	put(x, CTL_EXECUTORS, "{'metadata': {'name': 'shim', 'namespace': 'ns'}, 'spec': {'createDeployment': false}}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f),
			    "apply services ns/app; apply horizontalpodautoscalers ns/app; patch spinapps ns/app");
	json_t *h = json_object_get(ctlfake_request(x->f, "apply", "horizontalpodautoscalers", "app"), "body");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "spec"), "maxReplicas")), 5);
	assert_string_equal(body_str(ctlfake_request(x->f, "apply", "horizontalpodautoscalers", "app"), "spec",
				     "scaleTargetRef", "name"),
			    "app");

	/* autoscaling switched off: our HPA goes (uid precondition) */
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_HPAS, "{'metadata': {'name': 'app', 'namespace': 'ns', 'uid': 'hpa-uid', " LABEL ", " OWNER(APP_UID) "}}");
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	json_t *del = ctlfake_request(x->f, "delete", "horizontalpodautoscalers", "app");
	assert_non_null(del);
	assert_string_equal(json_string_value(json_object_get(del, "uid")), "hpa-uid");

	/* an invalid autoscaler: terminal, with a Warning */
	put(x, CTL_APPS, app_with(", 'enableAutoscaling': true, 'autoscaler': {'minReplicas': 2}"));
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), RECONCILE_TERMINAL);
	expect_events(x, "app ns/app Warning ReconcileFailed");
}

/* ---- "always": the HTTPRoute (spec.route) ---- */

#define ROUTE_SPEC ", 'route': {'parentRefs': [{'name': 'gw', 'namespace': 'infra'}], 'hostnames': ['app.example.com']}"

/* The Routed condition of a status patch (borrowed), or NULL. */
static json_t *routed(struct fx *x)
{
	return condition_find(json_object_get(patched_status(x, "spinapps"), "conditions"), "Routed");
}

static const char *cond_str(const json_t *c, const char *key)
{
	return json_string_value(json_object_get(c, key));
}

/* Served: applied with the rest, Routed Unknown until a gateway answers, then the parents' verdict; removed
 * (uid precondition) with the block, and the condition with it. */
static void app_route_applied_mirrored_removed(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(ROUTE_SPEC));
	put(x, CTL_EXECUTORS, "{'metadata': {'name': 'shim', 'namespace': 'ns'}, 'spec': {'createDeployment': false}}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f),
			    "apply services ns/app; apply httproutes ns/app; patch spinapps ns/app");
	json_t *r = json_object_get(ctlfake_request(x->f, "apply", "httproutes", "app"), "body");
	check_json(json_object_get(r, "spec"),
		   "{'parentRefs': [{'namespace': 'infra', 'name': 'gw'}], 'hostnames': ['app.example.com'], 'rules': "
		   "[{'matches': [{'path': {'type': 'PathPrefix', 'value': '/'}}], 'backendRefs': [{'name': 'app', "
		   "'port': 80}]}]}");
	assert_string_equal(body_str(ctlfake_request(x->f, "apply", "httproutes", "app"), "metadata", NULL, "name"), "app");
	json_t *c = routed(x);
	assert_non_null(c);
	assert_string_equal(cond_str(c, "status"), "Unknown");
	assert_string_equal(cond_str(c, "reason"), "Pending");
	expect_events(x, "");

	/* a gateway accepted it (the cache shows status.parents): Routed True, and the apply is skipped */
	json_t *live = json_deep_copy(r);
	json_object_set_new(json_object_get(live, "metadata"), "uid", json_string("route-uid"));
	json_object_set_new(live, "status", J("{'parents': [{'parentRef': {'name': 'gw', 'namespace': 'infra'}, "
					      "'conditions': [{'type': 'Accepted', 'status': 'True', 'reason': 'Accepted'},"
					      " {'type': 'ResolvedRefs', 'status': 'True', 'reason': 'ResolvedRefs'}]}]}"));
	ctlfake_cache_put(x->f, CTL_HTTPROUTES, live);
	json_t *app = J(app_with(ROUTE_SPEC));
	json_object_set(app, "status", patched_status(x, "spinapps"));
	ctlfake_cache_put(x->f, CTL_APPS, app);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_int_equal(count(x, "apply", "httproutes"), 0);
	c = routed(x);
	assert_string_equal(cond_str(c, "status"), "True");
	assert_string_equal(cond_str(c, "reason"), "Accepted");

	/* the gateway refuses it: False, naming the parent and its reason */
	json_object_set_new(live, "status", J("{'parents': [{'parentRef': {'name': 'gw', 'namespace': 'infra'}, "
					      "'conditions': [{'type': 'Accepted', 'status': 'False', 'reason': "
					      "'NotAllowedByListeners', 'message': 'no listener'}]}]}"));
	ctlfake_cache_put(x->f, CTL_HTTPROUTES, live);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	c = routed(x);
	assert_string_equal(cond_str(c, "status"), "False");
	assert_string_equal(cond_str(c, "reason"), "NotAccepted");
	assert_string_equal(cond_str(c, "message"),
			    "HTTPRoute app: parent infra/gw: Accepted False: NotAllowedByListeners: no listener");

	/* the block goes: the route goes with a uid precondition, the condition with it */
	json_object_set(app, "status", patched_status(x, "spinapps"));
	json_object_del(json_object_get(app, "spec"), "route");
	ctlfake_cache_put(x->f, CTL_APPS, app);
	json_object_set_new(json_object_get(live, "metadata"), "labels", J("{'core.spinkube.dev/app-name': 'app'}"));
	json_object_set_new(json_object_get(live, "metadata"), "ownerReferences",
			    J("[{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'name': 'app', 'uid': '"
			      APP_UID "', 'controller': true}]"));
	ctlfake_cache_put(x->f, CTL_HTTPROUTES, live);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	json_t *del = ctlfake_request(x->f, "delete", "httproutes", "app");
	assert_non_null(del);
	assert_string_equal(json_string_value(json_object_get(del, "uid")), "route-uid");
	assert_null(routed(x));
	json_decref(app);
	json_decref(live);
}

/* Not served: no HTTPRoute request, a Warning naming the missing API, Routed False; the rest of the app is made
 * as usual and the reconcile succeeds. A discovery failure is retried. */
static void app_route_without_gateway_api(void **state)
{
	struct fx *x = *state;
	ctlfake_routes_served(x->f, 0);
	put(x, CTL_APPS, app_with(ROUTE_SPEC));
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_int_equal(count(x, "apply", "httproutes"), 0);
	assert_int_equal(count(x, "apply", "deployments"), 1);
	assert_int_equal(count(x, "apply", "services"), 1);
	expect_events(x, "app ns/app Warning GatewayAPINotInstalled");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ctlfake_events(x->f), 0), "message")),
			    "spec.route needs the Gateway API (gateway.networking.k8s.io/v1 httproutes), which the API "
			    "server does not serve");
	json_t *c = routed(x);
	assert_non_null(c);
	assert_string_equal(cond_str(c, "status"), "False");
	assert_string_equal(cond_str(c, "reason"), "GatewayAPINotInstalled");
	assert_string_equal(cond_str(c, "message"),
			    "the Gateway API (gateway.networking.k8s.io/v1 httproutes) is not installed in the cluster");
	assert_string_equal(json_string_value(json_object_get(patched_status(x, "spinapps"), "deploymentName")), "app");

	/* reconciled again while it waits (every ROUTES_RECHECK_S): the condition says it already, no new Warning */
	json_t *app = J(app_with(ROUTE_SPEC));
	json_object_set(app, "status", patched_status(x, "spinapps"));
	ctlfake_cache_put(x->f, CTL_APPS, app);
	json_decref(app);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	expect_events(x, "");
	assert_int_equal(count(x, "apply", "httproutes"), 0);

	ctlfake_routes_served(x->f, SO_E_API_FORBIDDEN);
	ctlfake_clear(x->f);
	assert_true(reconcile_app(x->ctl, "ns", "app") < 0);
	assert_int_equal(count(x, "apply", "httproutes"), 0);

	/* an app without a route never needs discovery: it reconciles whatever discovery would say */
	put(x, CTL_APPS, app_with(""));
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	expect_events(x, "");
}

/* ---- "always": superseded runtime-config Secrets deleted once no ReplicaSet uses them ---- */

static void app_collects_superseded_secrets(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	static const char *const secrets[] = {
		/* used by a ReplicaSet kept for rollback */
		"{'metadata': {'name': 'app-0001', 'namespace': 'ns', 'uid': 's1', " LABEL ", " OWNER(APP_UID) "}, 'data': {'runtime-config.toml': ''}}",
		/* superseded and unused: goes */
		"{'metadata': {'name': 'app-0002', 'namespace': 'ns', 'uid': 's2', " LABEL ", " OWNER(APP_UID) "}, 'data': {'runtime-config.toml': ''}}",
		/* not ours */
		"{'metadata': {'name': 'app-0003', 'namespace': 'ns', 'uid': 's3', " LABEL ", " OWNER("other") "}, 'data': {'runtime-config.toml': ''}}",
		/* not a runtime config */
		"{'metadata': {'name': 'app-0004', 'namespace': 'ns', 'uid': 's4', " LABEL ", " OWNER(APP_UID) "}, 'data': {}}",
	};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		put(x, CTL_SECRETS, secrets[i]);
	put(x, CTL_REPLICASETS, "{'metadata': {'name': 'app-rs1', 'namespace': 'ns', " LABEL "}, 'spec': {'template':"
				" {'spec': {'volumes': [{'name': 'rc', 'secret': {'secretName': 'app-0001'}}]}}}}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_int_equal(count(x, "delete", "secrets"), 1);
	json_t *del = ctlfake_request(x->f, "delete", "secrets", NULL);
	assert_string_equal(json_string_value(json_object_get(del, "name")), "app-0002");
	assert_string_equal(json_string_value(json_object_get(del, "uid")), "s2");
	/* after the status: the new Secret and Deployment are out before anything is collected */
	json_t *reqs = ctlfake_requests(x->f);
	assert_ptr_equal(json_array_get(reqs, json_array_size(reqs) - 1), del);
}

/* ---- the app gone or going ---- */

static void app_gone_forgets_its_records(void **state)
{
	struct fx *x = *state;
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_EXECUTORS, RC_SHIM);
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_int_equal(applier_records(x->ctl->applier), 2);

	ctlfake_clear(x->f);
	put(x, CTL_APPS,
	    "{'metadata': {'name': 'app', 'namespace': 'ns', 'uid': '" APP_UID "', 'deletionTimestamp': "
	    "'2026-01-01T00:00:00Z'}, 'spec': {'executor': 'shim'}}");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK); /* going: the garbage collector's */
	assert_string_equal(ctlfake_requests_text(x->f), "");
	assert_int_equal(applier_records(x->ctl->applier), 2);

	ctlfake_cache_del(x->f, CTL_APPS, "ns", "app");
	assert_int_equal(reconcile_app(x->ctl, "ns", "app"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "");
	expect_events(x, "");
	assert_int_equal(applier_records(x->ctl->applier), 0);
}

/* ---- executor.c ---- */

#define EXEC_RC(meta_extra)                                                                                   \
	"{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': 'shim',"   \
	" 'namespace': 'ns', 'uid': 'shim-uid', 'generation': 3, 'resourceVersion': '7'" meta_extra "}, 'spec':"  \
	" {'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'rc1', 'runtimeClass': {'handler':" \
	" 'spin', 'nodeSelector': {'wasm': 'yes'}}}}}"
#define FINALIZER ", 'finalizers': ['core.spinkube.dev/finalizer']"
#define OUR_RC(name, uid) "{'metadata': {'name': '" name "', 'uid': '" uid "', 'labels': {'app.kubernetes.io/managed-by': 'spin-operator'}}, 'handler': 'spin'}"

/* "otherwise": the finalizer, the declared RuntimeClass, status (RuntimeClassReady) */
static void executor_new_gets_finalizer_runtime_class_status(void **state)
{
	struct fx *x = *state;
	put(x, CTL_EXECUTORS, EXEC_RC(""));
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f),
			    "update spinappexecutors ns/shim; apply runtimeclasses rc1; patch spinappexecutors ns/shim");
	json_t *u = json_object_get(ctlfake_request(x->f, "update", "spinappexecutors", "shim"), "body");
	check_json(json_object_get(json_object_get(u, "metadata"), "finalizers"), "['core.spinkube.dev/finalizer']");
	assert_string_equal(json_string_value(json_object_get(json_object_get(u, "metadata"), "resourceVersion")), "7");
	check_json(json_object_get(ctlfake_request(x->f, "apply", "runtimeclasses", "rc1"), "body"),
		   "{'apiVersion': 'node.k8s.io/v1', 'kind': 'RuntimeClass', 'metadata': {'name': 'rc1', 'labels':"
		   " {'app.kubernetes.io/managed-by': 'spin-operator'}}, 'handler': 'spin', 'scheduling':"
		   " {'nodeSelector': {'wasm': 'yes'}}}");
	json_t *st = patched_status(x, "spinappexecutors");
	assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 3);
	json_t *c = condition_find(json_object_get(st, "conditions"), "RuntimeClassReady");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "False"); /* not in the cache yet */
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "NotFound");
	expect_events(x, "");

	/* the RuntimeClass in the cache as applied, the finalizer in place: only the status changes */
	put(x, CTL_EXECUTORS, EXEC_RC(FINALIZER));
	json_t *rc = json_deep_copy(ctlfake_api_get(x->f, &KUBE_RUNTIMECLASSES, NULL, "rc1"));
	assert_non_null(rc);
	ctlfake_cache_put(x->f, CTL_RUNTIMECLASSES, rc);
	json_decref(rc);
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "patch spinappexecutors ns/shim");
	c = condition_find(json_object_get(patched_status(x, "spinappexecutors"), "conditions"), "RuntimeClassReady");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "True");
	assert_string_equal(json_string_value(json_object_get(c, "message")), "RuntimeClass \"rc1\" exists");
}

/* Someone else's RuntimeClass of the declared name is left alone (and counts as existing). */
static void executor_leaves_foreign_runtime_class(void **state)
{
	struct fx *x = *state;
	put(x, CTL_EXECUTORS, EXEC_RC(FINALIZER));
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'rc1', 'uid': 'theirs'}, 'handler': 'other'}");
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "patch spinappexecutors ns/shim");
}

/* "being deleted, SpinApps in its namespace still use it" */
static void executor_deletion_blocked_by_apps(void **state)
{
	struct fx *x = *state;
	put(x, CTL_EXECUTORS, EXEC_RC(FINALIZER ", 'deletionTimestamp': '2026-01-01T00:00:00Z'"));
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_RUNTIMECLASSES, OUR_RC("rc1", "rc1-uid"));
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
	/* the finalizer stays; its RuntimeClass is no longer declared by a live executor and goes */
	assert_string_equal(ctlfake_requests_text(x->f), "delete runtimeclasses rc1");
	expect_events(x, "executor ns/shim Warning DeletionBlocked");

	/* an app of that executor name in another namespace does not block */
	ctlfake_cache_del(x->f, CTL_APPS, "ns", "app");
	put(x, CTL_APPS, "{'metadata': {'name': 'app', 'namespace': 'other'}, 'spec': {'executor': 'shim'}}");
	ctlfake_cache_del(x->f, CTL_RUNTIMECLASSES, NULL, "rc1");
	ctlfake_clear(x->f);
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "update spinappexecutors ns/shim");
	json_t *u = json_object_get(ctlfake_request(x->f, "update", "spinappexecutors", "shim"), "body");
	check_json(json_object_get(json_object_get(u, "metadata"), "finalizers"), "[]");
	assert_null(json_object_get(u, "status"));
	expect_events(x, "");
}

/* The finalizer PUT conflicting: an error, retried; a gone executor is fine. */
static void executor_finalizer_errors(void **state)
{
	struct fx *x = *state;
	put(x, CTL_EXECUTORS, EXEC_RC(""));
	ctlfake_fail(x->f, "update", "spinappexecutors", SO_E_API_CONFLICT);
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_E_API_CONFLICT);
	assert_string_equal(ctlfake_requests_text(x->f), "update spinappexecutors ns/shim");
	ctlfake_clear(x->f);
	ctlfake_fail(x->f, "update", "spinappexecutors", SO_E_API_NOT_FOUND);
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
}

/* "RuntimeClasses we created that no executor declares any more are deleted" (an executor gone). */
static void executor_gone_collects_runtime_classes(void **state)
{
	struct fx *x = *state;
	put(x, CTL_RUNTIMECLASSES, OUR_RC("rc1", "rc1-uid"));
	put(x, CTL_RUNTIMECLASSES, OUR_RC("rc2", "rc2-uid"));
	put(x, CTL_RUNTIMECLASSES, "{'metadata': {'name': 'rc3', 'uid': 'rc3-uid'}, 'handler': 'x'}");
	put(x, CTL_EXECUTORS, "{'metadata': {'name': 'other', 'namespace': 'ns2'}, 'spec': {'deploymentConfig':"
			      " {'runtimeClassName': 'rc2', 'runtimeClass': {'handler': 'spin'}}}}");
	assert_int_equal(reconcile_executor(x->ctl, "ns", "shim"), SO_OK);
	assert_string_equal(ctlfake_requests_text(x->f), "delete runtimeclasses rc1");
	assert_string_equal(json_string_value(json_object_get(ctlfake_request(x->f, "delete", "runtimeclasses", "rc1"),
							      "uid")),
			    "rc1-uid");
}

/* ---- the event → key mapping (controller.c; controller.md's table) ---- */

/* The keys ready in q, sorted, joined by " " (and taken out of the queue). */
static const char *drain(struct queue *q)
{
	static char out[1024];
	char *keys[32];
	size_t n = 0, len = 0;
	char *k;
	while (n < 32 && (k = queue_get(q, 0)) != NULL) {
		queue_done(q, k);
		keys[n++] = k;
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: a handful of keys */
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? " " : "", keys[i]);
		free(keys[i]);
	}
	return out;
}

static void expect_keys(struct fx *x, const char *apps, const char *executors)
{
	assert_string_equal(drain(x->ctl->app_q), apps);
	assert_string_equal(drain(x->ctl->exec_q), executors);
}

static void map_app_events(void **state)
{
	struct fx *x = *state;
	void *ud = x->ctl;
	json_t *app = J(app_with(""));

	ctl_app_handlers.on_add(ud, app);
	expect_keys(x, "ns/app", "");

	/* our own status write: nothing */
	json_t *st = json_deep_copy(app);
	json_object_set_new(st, "status", J("{'readyReplicas': 1}"));
	ctl_app_handlers.on_update(ud, app, st);
	expect_keys(x, "", "");
	/* a new generation, labels, annotations, finalizers, deletionTimestamp: the app */
	static const char *const changes[] = { "{'generation': 3}", "{'labels': {'a': 'b'}}",
					       "{'annotations': {'a': 'b'}}", "{'finalizers': ['f']}",
					       "{'deletionTimestamp': '2026-01-01T00:00:00Z'}" };
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		json_t *n = json_deep_copy(app), *m = J(changes[i]);
		json_object_update(json_object_get(n, "metadata"), m);
		ctl_app_handlers.on_update(ud, app, n);
		expect_keys(x, "ns/app", "");
		json_decref(m);
		json_decref(n);
	}
	/* moved to another executor: the old one too (its deletion may be waiting) */
	json_t *moved = J(app_with(""));
	json_object_set_new(json_object_get(moved, "spec"), "executor", json_string("other"));
	json_object_set_new(json_object_get(moved, "metadata"), "generation", json_integer(3));
	ctl_app_handlers.on_update(ud, app, moved);
	expect_keys(x, "ns/app", "ns/shim");

	ctl_app_handlers.on_delete(ud, app);
	expect_keys(x, "ns/app", "ns/shim");
	json_decref(moved);
	json_decref(st);
	json_decref(app);
}

static void map_executor_events(void **state)
{
	struct fx *x = *state;
	void *ud = x->ctl;
	put(x, CTL_APPS, "{'metadata': {'name': 'a1', 'namespace': 'ns'}, 'spec': {'executor': 'shim'}}");
	put(x, CTL_APPS, "{'metadata': {'name': 'a2', 'namespace': 'ns'}, 'spec': {'executor': 'shim'}}");
	put(x, CTL_APPS, "{'metadata': {'name': 'a3', 'namespace': 'ns'}, 'spec': {'executor': 'other'}}");
	put(x, CTL_APPS, "{'metadata': {'name': 'a4', 'namespace': 'ns2'}, 'spec': {'executor': 'shim'}}");
	json_t *exec = J(RC_SHIM);

	ctl_executor_handlers.on_add(ud, exec);
	expect_keys(x, "ns/a1 ns/a2", "ns/shim");

	json_t *same = json_deep_copy(exec);
	json_object_set_new(json_object_get(same, "metadata"), "resourceVersion", json_string("9"));
	json_object_set_new(same, "status", J("{'observedGeneration': 1}"));
	ctl_executor_handlers.on_update(ud, exec, same);
	expect_keys(x, "", "");

	json_t *edited = json_deep_copy(exec);
	json_object_set_new(json_object_get(edited, "metadata"), "generation", json_integer(2));
	ctl_executor_handlers.on_update(ud, exec, edited);
	expect_keys(x, "ns/a1 ns/a2", "ns/shim");

	ctl_executor_handlers.on_delete(ud, exec);
	expect_keys(x, "ns/a1 ns/a2", "ns/shim");
	json_decref(edited);
	json_decref(same);
	json_decref(exec);
}

static void map_owned_events(void **state)
{
	struct fx *x = *state;
	void *ud = x->ctl;
	json_t *dep = J("{'metadata': {'name': 'app', 'namespace': 'ns', 'resourceVersion': '1', " LABEL "},"
			" 'status': {'readyReplicas': 0}}");
	json_t *unlabelled = J("{'metadata': {'name': 'x', 'namespace': 'ns'}}");

	ctl_owned_handlers.on_add(ud, dep);
	expect_keys(x, "ns/app", "");
	ctl_owned_handlers.on_add(ud, unlabelled);
	expect_keys(x, "", "");

	/* only the resourceVersion moved (a counter the trim dropped): nothing */
	json_t *rv = json_deep_copy(dep);
	json_object_set_new(json_object_get(rv, "metadata"), "resourceVersion", json_string("2"));
	ctl_owned_handlers.on_update(ud, dep, rv);
	expect_keys(x, "", "");
	/* readyReplicas changed: the app */
	json_t *ready = json_deep_copy(rv);
	json_object_set_new(ready, "status", J("{'readyReplicas': 1}"));
	ctl_owned_handlers.on_update(ud, rv, ready);
	expect_keys(x, "ns/app", "");

	ctl_owned_handlers.on_delete(ud, dep);
	expect_keys(x, "ns/app", "");
	json_decref(ready);
	json_decref(rv);
	json_decref(unlabelled);
	json_decref(dep);
}

static void map_runtime_class_events(void **state)
{
	struct fx *x = *state;
	void *ud = x->ctl;
	put(x, CTL_EXECUTORS, RC_SHIM);
	put(x, CTL_EXECUTORS, "{'metadata': {'name': 'plain', 'namespace': 'ns'}, 'spec': {'deploymentConfig':"
			      " {'runtimeClassName': 'other'}}}");
	put(x, CTL_APPS, app_with(""));
	put(x, CTL_APPS, "{'metadata': {'name': 'p', 'namespace': 'ns'}, 'spec': {'executor': 'plain'}}");
	json_t *rc = J("{'metadata': {'name': 'wasmtime-spin-v2'}, 'handler': 'spin'}");
	json_t *unrelated = J("{'metadata': {'name': 'runc'}, 'handler': 'runc'}");

	ctl_runtimeclass_handlers.on_add(ud, rc);
	expect_keys(x, "ns/app", "ns/shim");
	ctl_runtimeclass_handlers.on_update(ud, rc, rc);
	expect_keys(x, "ns/app", "ns/shim");
	ctl_runtimeclass_handlers.on_delete(ud, rc);
	expect_keys(x, "ns/app", "ns/shim");
	ctl_runtimeclass_handlers.on_add(ud, unrelated);
	expect_keys(x, "", "");
	json_decref(unrelated);
	json_decref(rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(app_missing_executor, setup, teardown),
		cmocka_unit_test_setup_teardown(app_new_creates_secret_deployment_service_status, setup, teardown),
		cmocka_unit_test_setup_teardown(app_steady_state_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(app_scale_status, setup, teardown),
		cmocka_unit_test_setup_teardown(app_ca_secret, setup, teardown),
		cmocka_unit_test_setup_teardown(app_runtime_config_references, setup, teardown),
		cmocka_unit_test_setup_teardown(app_executor_without_deployment_config, setup, teardown),
		cmocka_unit_test_setup_teardown(app_apply_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(app_empty_api_version, setup, teardown),
		cmocka_unit_test_setup_teardown(app_without_deployment_deletes_only_its_own, setup, teardown),
		cmocka_unit_test_setup_teardown(app_hpa_applied_then_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(app_collects_superseded_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(app_gone_forgets_its_records, setup, teardown),
		cmocka_unit_test_setup_teardown(executor_new_gets_finalizer_runtime_class_status, setup, teardown),
		cmocka_unit_test_setup_teardown(executor_leaves_foreign_runtime_class, setup, teardown),
		cmocka_unit_test_setup_teardown(executor_deletion_blocked_by_apps, setup, teardown),
		cmocka_unit_test_setup_teardown(executor_finalizer_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(executor_gone_collects_runtime_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(map_app_events, setup, teardown),
		cmocka_unit_test_setup_teardown(map_executor_events, setup, teardown),
		cmocka_unit_test_setup_teardown(map_owned_events, setup, teardown),
		cmocka_unit_test_setup_teardown(app_route_applied_mirrored_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(app_route_without_gateway_api, setup, teardown),
		cmocka_unit_test_setup_teardown(map_runtime_class_events, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

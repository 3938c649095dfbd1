/*
 * plan_refs, plan_ca_secret_name and plan_app (operator/spin/plan.h): which objects an app gets, in which
 * order, for executors with and without a Deployment, a CA bundle, runtime configs with references, and
 * autoscaling; what must not exist; where a failure stops, and what is built before it. The objects themselves
 * are the builders' (test_deployment.c, test_service.c, test_runtimeconfig.c pin them byte for byte); here
 * they are checked for the plan's part: names, the Secrets the Deployment mounts, the roles present.
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
#include "operator/spin/plan.h"
#include "support/testjson.h"
#include "operator/base/base64.h"
#include "operator/base/err.h"

#define APP(extra_spec)                                                                                      \
	"{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinApp', 'metadata': {'name': 'app', 'namespace':" \
	" 'ns', 'uid': 'app-uid'}, 'spec': {'image': 'ghcr.io/x/app:v1', 'replicas': 1, 'executor': 'shim'"       \
	extra_spec "}}"
#define EXECUTOR(spec)                                                                                       \
	"{'apiVersion': 'core.spinkube.dev/v1alpha1', 'kind': 'SpinAppExecutor', 'metadata': {'name': 'shim',"  \
	" 'namespace': 'ns'}, 'spec': " spec "}"
#define SHIM_DC(extra) "{'createDeployment': true, 'deploymentConfig': {'runtimeClassName': 'wasmtime-spin-v2'" extra "}}"
#define CA ", 'installDefaultCACerts': true"
#define NO_DEPLOYMENT "{'createDeployment': false}"
#define KV_RC                                                                                                \
	", 'runtimeConfig': {'keyValueStores': [{'name': 'default', 'type': 'redis', 'options': [{'name': 'url',"  \
	" 'valueFrom': {'secretKeyRef': {'name': 'kv', 'key': 'url'}}}, {'name': 'user', 'valueFrom':"            \
	" {'configMapKeyRef': {'name': 'cm', 'key': 'user'}}}]}]}"
#define AUTOSCALER ", 'enableAutoscaling': true, 'autoscaler': {'minReplicas': 2, 'maxReplicas': 5}"

/* A getter over two maps, logging every question as "secret|configmap ns/name; ...". */
struct fake {
	json_t *secrets, *configmaps;
	int fail; /* returned for every question when non-zero */
	char log[512];
};

static int fake_get(void *ud, const char *ns, int configmap, const char *name, json_t **out)
{
	struct fake *f = ud;
	size_t len = strlen(f->log);
	snprintf(f->log + len, sizeof f->log - len, "%s%s %s/%s", len ? "; " : "", configmap ? "configmap" : "secret",
		 ns, name);
	if (f->fail)
		return f->fail;
	*out = json_incref(json_object_get(configmap ? f->configmaps : f->secrets, name));
	return SO_OK;
}

/* Plans app with executor through plan_refs over f (NULL: no referenced objects), the bundle "PEM". */
static int plan(const char *app_text, const char *executor_text, struct fake *f, int ca_exists, struct plan *p,
		char *err, size_t errlen)
{
	struct fake none = { 0 };
	json_t *app = J(app_text), *executor = J(executor_text), *refs = NULL;
	json_t *app_before = json_deep_copy(app), *executor_before = json_deep_copy(executor);

	assert_int_equal(plan_refs(app, executor, fake_get, f ? f : &none, &refs), SO_OK);
	struct plan_input in = { app, executor, refs, "PEM", 3, ca_exists };
	int rc = plan_app(&in, p, err, errlen);
	/* pure: the inputs are as they were */
	assert_true(json_equal(app, app_before));
	assert_true(json_equal(executor, executor_before));
	json_decref(app_before);
	json_decref(executor_before);
	json_decref(refs);
	json_decref(app);
	json_decref(executor);
	return rc;
}

static const char *meta(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* The roles present, as "kind/name ..." in role order ("-" for a role left out). */
static const char *roles(const struct plan *p)
{
	static char out[512];
	size_t len = 0;
	for (int r = 0; r < PLAN_NROLES; r++)
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s%s%s", r ? " " : "",
					p->objs[r] ? json_string_value(json_object_get(p->objs[r], "kind")) : "-",
					p->objs[r] ? "/" : "", p->objs[r] ? meta(p->objs[r], "name") : "");
	return out;
}

/* The secretName of every secret volume of the Deployment, space-separated. */
static const char *mounted(const struct plan *p)
{
	static char out[256];
	const json_t *vols = json_object_get(
		json_object_get(json_object_get(json_object_get(p->objs[PLAN_DEPLOYMENT], "spec"), "template"), "spec"),
		"volumes");
	size_t i, len = 0;
	json_t *v;
	out[0] = '\0';
	json_array_foreach(vols, i, v)
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", len ? " " : "",
					json_string_value(json_object_get(json_object_get(v, "secret"), "secretName")));
	return out;
}

/* A shim executor with installDefaultCACerts: runtime-config Secret, CA Secret, Deployment, Service; no HPA. */
static void shim_app_with_ca(void **state)
{
	(void)state;
	struct plan p;
	char err[512] = "";
	assert_int_equal(plan(APP(""), EXECUTOR(SHIM_DC(CA)), NULL, 0, &p, err, sizeof err), SO_OK);
	assert_string_equal(roles(&p), "Secret/app-760b133c Secret/spin-ca Deployment/app Service/app - -");
	assert_int_equal(p.absent, PLAN_BIT(PLAN_HPA) | PLAN_BIT(PLAN_ROUTE)); /* an HPA or HTTPRoute we made goes */
	assert_int_equal(p.failed, PLAN_NROLES);
	assert_string_equal(mounted(&p), "app-760b133c spin-ca");
	assert_string_equal(meta(p.objs[PLAN_CA_SECRET], "namespace"), "ns");
	check_json(json_object_get(p.objs[PLAN_CA_SECRET], "stringData"), "{'ca-certificates.crt': 'PEM'}");
	assert_null(json_object_get(json_object_get(p.objs[PLAN_CA_SECRET], "metadata"), "ownerReferences"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(
				    p.objs[PLAN_DEPLOYMENT], "spec"), "template"), "spec"), "runtimeClassName")),
			    "wasmtime-spin-v2");
	plan_free(&p);
	plan_free(&p); /* idempotent: every pointer cleared */

	/* the CA Secret known to exist: left out, still mounted */
	assert_int_equal(plan(APP(""), EXECUTOR(SHIM_DC(CA)), NULL, 1, &p, err, sizeof err), SO_OK);
	assert_string_equal(roles(&p), "Secret/app-760b133c - Deployment/app Service/app - -");
	assert_string_equal(mounted(&p), "app-760b133c spin-ca");
	plan_free(&p);

	/* no installDefaultCACerts: no CA Secret, none mounted */
	assert_int_equal(plan(APP(""), EXECUTOR(SHIM_DC("")), NULL, 0, &p, err, sizeof err), SO_OK);
	assert_string_equal(roles(&p), "Secret/app-760b133c - Deployment/app Service/app - -");
	assert_string_equal(mounted(&p), "app-760b133c");
	plan_free(&p);
}

static void ca_secret_name(void **state)
{
	(void)state;
	static const struct {
		const char *executor, *want;
	} cases[] = {
		{ EXECUTOR(SHIM_DC(CA)), "spin-ca" },
		{ EXECUTOR(SHIM_DC(CA ", 'caCertSecret': 'mine'")), "mine" },
		{ EXECUTOR(SHIM_DC(CA ", 'caCertSecret': ''")), "spin-ca" },
		{ EXECUTOR(SHIM_DC("")), NULL },
		{ EXECUTOR(SHIM_DC(", 'caCertSecret': 'mine'")), NULL }, /* mounted, never made */
		{ EXECUTOR("{'createDeployment': false, 'deploymentConfig': {'installDefaultCACerts': true}}"), NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *e = J(cases[i].executor);
		const char *got = plan_ca_secret_name(e);
		if (cases[i].want ? !got || strcmp(got, cases[i].want) : got != NULL)
			fail_msg("case %zu: got %s, want %s", i, got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
		json_decref(e);
	}
}

/* createDeployment: false: the Service and the HPA only; a Deployment we made must go; nothing is fetched. */
static void without_deployment_with_autoscaling(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct plan p;
	char err[512] = "";
	assert_int_equal(plan(APP(KV_RC AUTOSCALER), EXECUTOR(NO_DEPLOYMENT), &f, 0, &p, err, sizeof err), SO_OK);
	assert_string_equal(f.log, "");
	assert_string_equal(roles(&p), "- - - Service/app HorizontalPodAutoscaler/app -");
	assert_int_equal(p.absent, PLAN_BIT(PLAN_DEPLOYMENT) | PLAN_BIT(PLAN_ROUTE));
	const json_t *spec = json_object_get(p.objs[PLAN_HPA], "spec");
	assert_int_equal(json_integer_value(json_object_get(spec, "minReplicas")), 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "scaleTargetRef"), "name")), "app");
	plan_free(&p);

	/* with a Deployment: nothing absent, and the Deployment leaves replicas to the autoscaler */
	assert_int_equal(plan(APP(AUTOSCALER), EXECUTOR(SHIM_DC("")), NULL, 0, &p, err, sizeof err), SO_OK);
	assert_string_equal(roles(&p),
			    "Secret/app-760b133c - Deployment/app Service/app HorizontalPodAutoscaler/app -");
	assert_int_equal(p.absent, PLAN_BIT(PLAN_ROUTE));
	assert_null(json_object_get(json_object_get(p.objs[PLAN_DEPLOYMENT], "spec"), "replicas"));
	plan_free(&p);
}

/* References: asked secrets first, then ConfigMaps, in the app's namespace; their data reaches the TOML. */
static void runtime_config_references(void **state)
{
	(void)state;
	struct fake f = { .secrets = J("{'kv': {'metadata': {'name': 'kv'}, 'data': {'url': 'cmVkaXM6Ly9y'}}}"),
			  .configmaps = J("{'cm': {'metadata': {'name': 'cm'}, 'data': {'user': 'me'}}}") };
	struct plan p;
	char err[512] = "";
	assert_int_equal(plan(APP(KV_RC), EXECUTOR(SHIM_DC("")), &f, 0, &p, err, sizeof err), SO_OK);
	assert_string_equal(f.log, "secret ns/kv; configmap ns/cm");
	const char *secret = meta(p.objs[PLAN_RUNTIME_CONFIG], "name");
	assert_true(!strncmp(secret, "app-", 4) && strcmp(secret, "app-760b133c")); /* not the default config */
	assert_string_equal(mounted(&p), secret);
	unsigned char *toml = NULL;
	size_t n = 0;
	const char *b64 = json_string_value(json_object_get(json_object_get(p.objs[PLAN_RUNTIME_CONFIG], "data"),
							    SPIN_RUNTIME_CONFIG_KEY));
	assert_int_equal(base64_decode(b64, strlen(b64), 0, &toml, &n), SO_OK);
	assert_non_null(strstr((char *)toml, "url = 'redis://r'"));
	assert_non_null(strstr((char *)toml, "user = 'me'"));
	free(toml);
	plan_free(&p);

	/* one missing: SO_E_CONFIG (it may appear) at the runtime config; the Service is built all the same */
	json_object_del(f.configmaps, "cm");
	f.log[0] = '\0';
	assert_int_equal(plan(APP(KV_RC), EXECUTOR(SHIM_DC(CA)), &f, 0, &p, err, sizeof err), SO_E_CONFIG);
	assert_int_equal(p.failed, PLAN_RUNTIME_CONFIG);
	assert_string_equal(err, "failed to construct RuntimeConfig: configmaps \"cm\" not found");
	assert_string_equal(roles(&p), "- - - Service/app - -");
	plan_free(&p);

	/* a getter error stops plan_refs at once and is returned */
	json_t *app = J(APP(KV_RC)), *executor = J(EXECUTOR(SHIM_DC(""))), *refs = NULL;
	f.fail = SO_E_API_FORBIDDEN;
	f.log[0] = '\0';
	assert_int_equal(plan_refs(app, executor, fake_get, &f, &refs), SO_E_API_FORBIDDEN);
	assert_string_equal(f.log, "secret ns/kv");
	json_decref(refs);

	/* loadFromSecret: nothing fetched, nothing generated, the user's Secret mounted */
	json_decref(app);
	app = J(APP(", 'runtimeConfig': {'loadFromSecret': 'user-rc'}"));
	f.fail = 0;
	f.log[0] = '\0';
	assert_int_equal(plan_refs(app, executor, fake_get, &f, &refs), SO_OK);
	assert_string_equal(f.log, "");
	check_json(refs, "{'secrets': {}, 'configmaps': {}}");
	struct plan_input in = { app, executor, refs, "PEM", 3, 0 };
	assert_int_equal(plan_app(&in, &p, err, sizeof err), SO_OK);
	assert_string_equal(roles(&p), "- - Deployment/app Service/app - -");
	assert_string_equal(mounted(&p), "user-rc");
	plan_free(&p);
	json_decref(refs);
	json_decref(executor);
	json_decref(app);
	json_decref(f.secrets);
	json_decref(f.configmaps);
}

/* A failure names its role; the roles before it are built (the reconciler makes them first), and the Service
 * whenever it can be. */
static void failures(void **state)
{
	(void)state;
	static const char long_name[] = "a-name-that-is-far-too-long-for-the-ready-label-key-of-an-app";
	static const struct {
		const char *app, *executor;
		int rc, failed;
		const char *roles, *err;
	} cases[] = {
		{ APP(""), EXECUTOR("{'createDeployment': true}"), SO_E_INVAL, PLAN_RUNTIME_CONFIG, "- - - Service/app - -",
		  "SpinAppExecutor ns/shim has createDeployment: true but no deploymentConfig" },
		{ APP(""), EXECUTOR("{'createDeployment': true, 'deploymentConfig': {'installDefaultCACerts': true}}"),
		  SO_E_INVAL, PLAN_DEPLOYMENT, "Secret/app-760b133c Secret/spin-ca - Service/app - -",
		  "must specify either runtimeClassName or spinImage" },
		{ APP(", 'enableAutoscaling': true, 'autoscaler': {'minReplicas': 2}"), EXECUTOR(SHIM_DC("")), SO_E_INVAL,
		  PLAN_HPA, "Secret/app-760b133c - Deployment/app Service/app - -", "spec.autoscaler.maxReplicas" },
		{ NULL, EXECUTOR(NO_DEPLOYMENT), SO_E_INVAL, PLAN_SERVICE, "- - - - - -", long_name },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char app[1024], err[512] = "";
		struct plan p;
		if (cases[i].app)
			snprintf(app, sizeof app, "%s", cases[i].app);
		else
			snprintf(app, sizeof app, "{'metadata': {'name': '%s', 'namespace': 'ns'}, 'spec': {'image': 'i',"
				 " 'replicas': 1, 'executor': 'shim'}}", long_name);
		int rc = plan(app, cases[i].executor, NULL, 0, &p, err, sizeof err);
		if (rc != cases[i].rc || p.failed != cases[i].failed || strcmp(roles(&p), cases[i].roles) ||
		    !strstr(err, cases[i].err))
			fail_msg("case %zu: rc %d, failed %d, roles \"%s\", err \"%s\"", i, rc, p.failed, roles(&p), err);
		plan_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shim_app_with_ca),
		cmocka_unit_test(ca_secret_name),
		cmocka_unit_test(without_deployment_with_autoscaling),
		cmocka_unit_test(runtime_config_references),
		cmocka_unit_test(failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

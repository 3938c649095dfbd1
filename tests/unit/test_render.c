/*
 * spin-operator render (operator/cmd/render.c): the sample manifests render into exactly the objects the builders
 * return for the same inputs (the reconciler's arguments), in the reconciler's order; YAML output reads back
 * as the JSON output; errors are one line each and suppress all output; flags and exit codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "operator/spin/spin.h"
#include "operator/cmd/render.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/yamljson.h"
#include "support/testjson.h"

extern const char spin_ca_bundle[];
extern const size_t spin_ca_bundle_len;

#define SHIM "config/samples/spin-shim-executor.yaml"
#define SIMPLE "config/samples/simple.yaml"

struct result {
	int status;
	char *out;
	size_t outlen;
	char *err;
	size_t errlen;
	json_t *items; /* -o json: the List's items; YAML: the documents */
};

static const char *repo(void)
{
	return getenv("REPO") ? getenv("REPO") : ".";
}

/* An input: a path under the repository when it starts with "config/", else inline YAML. */
static FILE *open_input(const char *spec)
{
	if (!strncmp(spec, "config/", 7)) {
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", repo(), spec);
		FILE *f = fopen(path, "rb");
		if (!f)
			fail_msg("cannot open %s (run from the repository root or set REPO)", path);
		return f;
	}
	FILE *f = fmemopen((void *)spec, strlen(spec), "r");
	assert_non_null(f);
	return f;
}

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("output is not JSON: %s\n%s", e.text, text);
	return j;
}

static struct result run(const char *const *specs, size_t n, const char *ns, int json)
{
	struct result r = { 0 };
	FILE *files[8], *out = open_memstream(&r.out, &r.outlen), *err = open_memstream(&r.err, &r.errlen);
	const char *names[8];

	assert_true(n <= 8);
	assert_non_null(out);
	assert_non_null(err);
	for (size_t i = 0; i < n; i++) {
		files[i] = open_input(specs[i]);
		names[i] = !strncmp(specs[i], "config/", 7) ? specs[i] : "input.yaml";
	}
	r.status = render_run(files, names, n, ns, json, out, err);
	for (size_t i = 0; i < n; i++)
		fclose(files[i]);
	fclose(out);
	fclose(err);
	if (r.status == 0 && r.outlen > 0) {
		if (json) {
			json_t *list = parse_json(r.out);
			assert_string_equal(json_string_value(json_object_get(list, "apiVersion")), "v1");
			assert_string_equal(json_string_value(json_object_get(list, "kind")), "List");
			r.items = json_incref(json_object_get(list, "items"));
			json_decref(list);
		} else {
			char msg[256];
			if (yamljson_to_json(r.out, r.outlen, "output", &r.items, msg, sizeof msg))
				fail_msg("output YAML does not parse: %s\n%s", msg, r.out);
		}
	} else if (r.status == 0) {
		r.items = json_array();
	}
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
	json_decref(r->items);
}

/* Both formats: the same items; every item written as YAML reads back unchanged. Returns the JSON result. */
static struct result render_ok(const char *const *specs, size_t n, const char *ns)
{
	struct result j = run(specs, n, ns, 1), y = run(specs, n, ns, 0);
	json_t *item;
	size_t i;

	if (j.status || y.status)
		fail_msg("render failed (%d, %d): %s", j.status, y.status, j.err ? j.err : "");
	assert_true(json_equal(j.items, y.items));
	json_array_foreach(j.items, i, item) {
		struct buf b = BUF_INIT(64u << 20);
		json_t *docs = NULL;
		char msg[256];
		assert_int_equal(yamljson_from_json(item, &b), 0);
		if (yamljson_to_json(b.data, b.len, "item", &docs, msg, sizeof msg))
			fail_msg("%s", msg);
		assert_int_equal(json_array_size(docs), 1);
		assert_true(json_equal(json_array_get(docs, 0), item));
		json_decref(docs);
		buf_free(&b);
	}
	/* YAML documents are separated by "---" lines, one fewer than the objects. */
	size_t seps = 0;
	for (const char *p = y.out; p && (p = strstr(p, "\n---\n")); p++)
		seps++;
	assert_int_equal(seps + 1, json_array_size(j.items));
	result_free(&y);
	return j;
}

/* The first document of kind in a sample file, with metadata.namespace set as render sets it. */
static json_t *sample(const char *spec, const char *kind, const char *ns)
{
	FILE *f = open_input(spec);
	struct buf b = BUF_INIT(1u << 20);
	char chunk[4096], msg[256];
	size_t got, i;
	json_t *docs = NULL, *doc, *found = NULL;

	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		assert_int_equal(buf_append(&b, chunk, got), 0);
	fclose(f);
	if (yamljson_to_json(b.data ? b.data : "", b.len, spec, &docs, msg, sizeof msg))
		fail_msg("%s", msg);
	json_array_foreach(docs, i, doc) {
		if (!strcmp(json_string_value(json_object_get(doc, "kind")), kind)) {
			found = json_deep_copy(doc);
			break;
		}
	}
	assert_non_null(found);
	json_object_set_new(json_object_get(found, "metadata"), "namespace", json_string(ns));
	json_decref(docs);
	buf_free(&b);
	return found;
}

static void expect_equal(const json_t *got, json_t *want)
{
	if (!json_equal((json_t *)got, want)) {
		char *g = json_dumps(got, JSON_INDENT(1)), *w = json_dumps(want, JSON_INDENT(1));
		fail_msg("got\n%s\nwant\n%s", g, w);
	}
	json_decref(want);
}

/* What reconcile_deployment would build: runtime-config Secret (when generated) and Deployment. refs as
 * spin_runtime_config_toml takes them. */
static void builders(const json_t *app, const json_t *executor, const json_t *refs, json_t **secret, json_t **deployment)
{
	struct buf toml = BUF_INIT(1u << 20);
	json_t *empty = json_pack("{s:{}, s:{}}", "secrets", "configmaps");
	char err[512] = "";
	int generated = 0;

	*secret = NULL;
	assert_int_equal(spin_runtime_config_toml(app, refs ? refs : empty, &toml, &generated, err, sizeof err), 0);
	if (generated)
		assert_int_equal(spin_runtime_config_secret(app, toml.data ? toml.data : "", toml.len, secret, err,
							     sizeof err), 0);
	const char *sname = *secret ? json_string_value(json_object_get(json_object_get(*secret, "metadata"), "name"))
				    : NULL;
	if (spin_deployment(app, executor, sname, generated, deployment, err, sizeof err))
		fail_msg("spin_deployment: %s", err);
	json_decref(empty);
	buf_free(&toml);
}

static json_t *service_of(const json_t *app)
{
	json_t *svc = NULL;
	char err[256];
	assert_int_equal(spin_service(app, &svc, err, sizeof err), 0);
	return svc;
}

static const char *name_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

static const char *kind_of(const json_t *obj)
{
	return json_string_value(json_object_get(obj, "kind"));
}

/* simple.yaml on the shim executor: generated Secret, CA Secret, Deployment, Service; exactly the builders'. */
static void simple_shim(void **state)
{
	(void)state;
	const char *in[] = { SIMPLE, SHIM };
	struct result r = render_ok(in, 2, NULL);
	json_t *app = sample(SIMPLE, "SpinApp", "default"), *exec = sample(SHIM, "SpinAppExecutor", "default");
	json_t *secret, *deployment;

	assert_int_equal(json_array_size(r.items), 4);
	assert_string_equal(kind_of(json_array_get(r.items, 0)), "Secret");
	assert_string_equal(name_of(json_array_get(r.items, 0)), "simple-spinapp-760b133c");
	assert_string_equal(name_of(json_array_get(r.items, 1)), "spin-ca");
	assert_string_equal(kind_of(json_array_get(r.items, 2)), "Deployment");
	assert_string_equal(kind_of(json_array_get(r.items, 3)), "Service");
	builders(app, exec, NULL, &secret, &deployment);
	expect_equal(json_array_get(r.items, 0), secret);
	expect_equal(json_array_get(r.items, 1), spin_ca_secret("default", "spin-ca", spin_ca_bundle, spin_ca_bundle_len));
	expect_equal(json_array_get(r.items, 2), deployment);
	expect_equal(json_array_get(r.items, 3), service_of(app));
	/* Never stored, so nothing is owned. */
	for (size_t i = 0; i < 4; i++)
		assert_null(json_object_get(json_object_get(json_array_get(r.items, i), "metadata"), "ownerReferences"));
	assert_string_equal(r.err, "");
	result_free(&r);
	json_decref(app);
	json_decref(exec);
}

/* Scale to zero (docs/compat.md): replicas 0 renders as 0, in YAML and in JSON, next to the Service; the scale
 * sample (a SpinApp and an HPA targeting it) renders the app, whatever the other kinds in the file. */
static void scaled_to_zero(void **state)
{
	(void)state;
	const char *zero = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: zero}\n"
			   "spec: {image: i, replicas: 0, executor: containerd-shim-spin}\n";
	const char *in[] = { zero, SHIM };
	for (int json = 0; json < 2; json++) {
		struct result r = run(in, 2, NULL, json);
		assert_int_equal(r.status, 0);
		size_t i, deployments = 0, services = 0;
		json_t *o;
		json_array_foreach(r.items, i, o) {
			if (!strcmp(kind_of(o), "Deployment")) {
				deployments++;
				json_t *replicas = json_object_get(json_object_get(o, "spec"), "replicas");
				assert_true(json_is_integer(replicas));
				assert_int_equal(json_integer_value(replicas), 0);
			}
			services += !strcmp(kind_of(o), "Service");
		}
		assert_int_equal(deployments, 1);
		assert_int_equal(services, 1);
		if (!json)
			assert_non_null(strstr(r.out, "\n  replicas: 0\n"));
		result_free(&r);
	}

	const char *in2[] = { "config/samples/scale.yaml", SHIM };
	struct result r = render_ok(in2, 2, NULL);
	size_t i;
	json_t *o;
	int found = 0;
	json_array_foreach(r.items, i, o) {
		if (!strcmp(kind_of(o), "Deployment")) {
			assert_string_equal(name_of(o), "scale-spinapp");
			assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas")), 1);
			found = 1;
		}
	}
	assert_true(found);
	result_free(&r);
}

/* --namespace applies to objects naming none; an explicit namespace wins and needs its own executor. */
static void namespaces(void **state)
{
	(void)state;
	const char *in[] = { SIMPLE, SHIM };
	struct result r = render_ok(in, 2, "team-a");
	json_t *item;
	size_t i;
	json_array_foreach(r.items, i, item)
		assert_string_equal(json_string_value(json_object_get(json_object_get(item, "metadata"), "namespace")),
				    "team-a");
	result_free(&r);

	const char *in2[] = { "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: a, namespace: other}\n"
			      "spec: {image: i, replicas: 1, executor: containerd-shim-spin}\n",
			      SHIM };
	r = run(in2, 2, "team-a", 0);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "render: SpinApp other/a: SpinAppExecutor other/containerd-shim-spin not found in the "
				   "input\n");
	assert_int_equal(r.outlen, 0);
	result_free(&r);
}

static void missing_executor(void **state)
{
	(void)state;
	const char *in[] = { SIMPLE };
	struct result r = run(in, 1, NULL, 0);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "render: SpinApp default/simple-spinapp: SpinAppExecutor default/containerd-shim-spin "
				   "not found in the input\n");
	assert_int_equal(r.outlen, 0);
	result_free(&r);
}

/* spec.executor empty: the namespace's only executor, as defaulting would set it; none or several: an error. */
static void executor_defaulting(void **state)
{
	(void)state;
	const char *app = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: d}\n"
			  "spec: {image: i, replicas: 1}\n";
	const char *other = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata: {name: zz}\n"
			    "spec: {createDeployment: false}\n";
	const char *in[] = { app, SHIM };
	struct result r = render_ok(in, 2, NULL);
	json_t *deployment = json_array_get(r.items, 2);
	assert_string_equal(kind_of(deployment), "Deployment");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"), "spec"),
				    "runtimeClassName")),
			    "wasmtime-spin-v2");
	result_free(&r);

	const char *none[] = { app };
	r = run(none, 1, NULL, 0);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "render: SpinApp default/d: spec.executor is empty and the input holds no "
				   "SpinAppExecutor in namespace default\n");
	result_free(&r);

	const char *two[] = { app, SHIM, other };
	r = run(two, 3, NULL, 0);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "render: SpinApp default/d: spec.executor is empty and the input holds 2 "
				   "SpinAppExecutors in namespace default; set spec.executor\n");
	result_free(&r);
}

static const char secret_string_data[] = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-super-secret\n"
					 "stringData:\n  turso-token: turso-123\n  llm-token: llm-456\n"
					 "  redis-full-url: redis://redis.example:6379\n";

/* runtime-config.yaml with my-super-secret in the input (stringData or data): the values reach the TOML. */
static void runtime_config(void **state)
{
	(void)state;
	const char *in[] = { "config/samples/runtime-config.yaml", SHIM, secret_string_data };
	struct result r = render_ok(in, 3, NULL);
	json_t *app = sample("config/samples/runtime-config.yaml", "SpinApp", "default");
	json_t *exec = sample(SHIM, "SpinAppExecutor", "default");
	json_t *secret, *deployment;

	/* The same Secret written with base64 data, as the apiserver stores it. */
	char data_secret[1024], b64[3][128];
	const char *vals[3] = { "turso-123", "llm-456", "redis://redis.example:6379" };
	for (int i = 0; i < 3; i++)
		EVP_EncodeBlock((unsigned char *)b64[i], (const unsigned char *)vals[i], (int)strlen(vals[i]));
	snprintf(data_secret, sizeof data_secret,
		 "apiVersion: v1\nkind: Secret\nmetadata: {name: my-super-secret, namespace: default}\n"
		 "data: {turso-token: %s, llm-token: %s, redis-full-url: %s}\n", b64[0], b64[1], b64[2]);
	json_t *refs = json_pack("{s:{s:o}, s:{}}", "secrets", "my-super-secret",
				 json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind",
					   "Secret", "metadata", "name", "my-super-secret", "namespace", "default", "data",
					   "turso-token", b64[0], "llm-token", b64[1], "redis-full-url", b64[2]),
				 "configmaps");
	builders(app, exec, refs, &secret, &deployment);
	assert_int_equal(json_array_size(r.items), 4);
	expect_equal(json_array_get(r.items, 0), json_incref(secret));
	expect_equal(json_array_get(r.items, 2), deployment);

	/* The TOML holds the Secret's values. */
	const char *enc = json_string_value(json_object_get(json_object_get(secret, "data"), "runtime-config.toml"));
	unsigned char toml[4096];
	int n = EVP_DecodeBlock(toml, (const unsigned char *)enc, (int)strlen(enc));
	assert_true(n > 0);
	toml[n] = '\0';
	assert_non_null(strstr((char *)toml, "token = 'turso-123'"));
	assert_non_null(strstr((char *)toml, "auth_token = 'llm-456'"));
	assert_non_null(strstr((char *)toml, "url = 'redis://redis.example:6379'"));

	const char *in2[] = { "config/samples/runtime-config.yaml", SHIM, data_secret };
	struct result r2 = render_ok(in2, 3, NULL);
	assert_true(json_equal(r.items, r2.items));
	result_free(&r2);

	/* Without the Secret: the builder's message, naming what is missing. */
	const char *in3[] = { "config/samples/runtime-config.yaml", SHIM };
	r2 = run(in3, 2, NULL, 0);
	assert_int_equal(r2.status, 1);
	assert_string_equal(r2.err, "render: SpinApp default/runtime-config: failed to construct RuntimeConfig: secrets "
				    "\"my-super-secret\" not found in the input\n");
	result_free(&r2);

	json_decref(secret);
	json_decref(refs);
	json_decref(app);
	json_decref(exec);
	result_free(&r);
}

/* A ConfigMap reference resolves from the input too. */
static void configmap_ref(void **state)
{
	(void)state;
	const char *in[] = { "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: cm}\n"
			     "spec:\n  image: i\n  replicas: 1\n  executor: containerd-shim-spin\n  runtimeConfig:\n"
			     "    keyValueStores:\n    - name: default\n      type: redis\n      options:\n"
			     "      - name: url\n        valueFrom: {configMapKeyRef: {name: settings, key: url}}\n"
			     "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {url: 'redis://cm:6379'}\n",
			     SHIM };
	struct result r = render_ok(in, 2, NULL);
	const char *enc = json_string_value(
		json_object_get(json_object_get(json_array_get(r.items, 0), "data"), "runtime-config.toml"));
	unsigned char toml[4096];
	int n = EVP_DecodeBlock(toml, (const unsigned char *)enc, (int)strlen(enc));
	toml[n > 0 ? n : 0] = '\0';
	assert_non_null(strstr((char *)toml, "url = 'redis://cm:6379'"));
	result_free(&r);
}

/* spintainer.yaml on the spintainer executor: the spin CLI container, no runtimeClassName. */
static void spintainer(void **state)
{
	(void)state;
	const char *in[] = { "config/samples/spintainer.yaml", "config/samples/spintainer-executor.yaml" };
	struct result r = render_ok(in, 2, NULL);
	json_t *app = sample("config/samples/spintainer.yaml", "SpinApp", "default");
	json_t *exec = sample("config/samples/spintainer-executor.yaml", "SpinAppExecutor", "default");
	json_t *secret, *deployment;

	builders(app, exec, NULL, &secret, &deployment);
	assert_int_equal(json_array_size(r.items), 4);
	expect_equal(json_array_get(r.items, 0), secret);
	expect_equal(json_array_get(r.items, 1), spin_ca_secret("default", "spin-ca", spin_ca_bundle, spin_ca_bundle_len));
	const json_t *pod = json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"), "spec");
	assert_null(json_object_get(pod, "runtimeClassName"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(pod, "containers"), 0), "image")),
			    "ghcr.io/fermyon/spin:v2.7.0");
	expect_equal(json_array_get(r.items, 2), deployment);
	expect_equal(json_array_get(r.items, 3), service_of(app));
	result_free(&r);
	json_decref(app);
	json_decref(exec);
}

/* probes.yaml: the CRD's probe defaults are applied first, as the apiserver does before the reconciler reads. */
static void probe_defaults(void **state)
{
	(void)state;
	const char *in[] = { "config/samples/probes.yaml", SHIM };
	struct result r = render_ok(in, 2, NULL);
	json_t *container = json_array_get(
		json_object_get(json_object_get(json_object_get(json_object_get(json_array_get(r.items, 2), "spec"),
								 "template"),
						"spec"),
				"containers"),
		0);
	json_t *want = json_pack("{s:{s:s, s:i}, s:i, s:i, s:i, s:i, s:i}", "httpGet", "path", "/hello", "port", 80,
				 "initialDelaySeconds", 10, "timeoutSeconds", 1, "periodSeconds", 10, "successThreshold",
				 1, "failureThreshold", 3);
	expect_equal(json_object_get(container, "livenessProbe"), want);
	json_t *ready = json_object_get(container, "readinessProbe");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ready, "httpGet"), "path")), "/go-hello");
	assert_int_equal(json_integer_value(json_object_get(ready, "failureThreshold")), 3);
	result_free(&r);

	/* Given values are kept. */
	const char *in2[] = { "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: p}\n"
			      "spec: {image: i, replicas: 1, executor: containerd-shim-spin, checks: {readiness: "
			      "{httpGet: {path: /r}, periodSeconds: 3}}}\n",
			      SHIM };
	r = render_ok(in2, 2, NULL);
	container = json_array_get(
		json_object_get(json_object_get(json_object_get(json_object_get(json_array_get(r.items, 2), "spec"),
								 "template"),
						"spec"),
				"containers"),
		0);
	ready = json_object_get(container, "readinessProbe");
	assert_int_equal(json_integer_value(json_object_get(ready, "periodSeconds")), 3);
	assert_int_equal(json_integer_value(json_object_get(ready, "initialDelaySeconds")), 10);
	assert_null(json_object_get(container, "livenessProbe"));
	result_free(&r);
}

/* One CA Secret per namespace and name, none when the input already holds it; createDeployment: false gives
 * only the Service; an autoscaler adds the HPA last; a stored app (uid) owns its objects; Lists are opened. */
static void shapes(void **state)
{
	(void)state;
	const char *two_apps = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: one}\n"
			       "spec: {image: i, replicas: 1, executor: containerd-shim-spin}\n---\n"
			       "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: two}\n"
			       "spec: {image: i, replicas: 2, executor: containerd-shim-spin}\n";
	const char *in[] = { two_apps, SHIM };
	struct result r = render_ok(in, 2, NULL);
	const char *order[] = { "Secret/one-", "Secret/spin-ca", "Deployment/one", "Service/one", "Secret/two-",
				"Deployment/two", "Service/two" };
	assert_int_equal(json_array_size(r.items), 7);
	for (size_t i = 0; i < 7; i++) {
		char got[256];
		snprintf(got, sizeof got, "%s/%s", kind_of(json_array_get(r.items, i)), name_of(json_array_get(r.items, i)));
		if (strncmp(got, order[i], strlen(order[i])))
			fail_msg("item %zu is %s, want %s", i, got, order[i]);
	}
	result_free(&r);

	const char *ca = "apiVersion: v1\nkind: Secret\nmetadata: {name: spin-ca}\nstringData: {ca-certificates.crt: x}\n";
	const char *in2[] = { SIMPLE, SHIM, ca };
	r = render_ok(in2, 3, NULL);
	assert_int_equal(json_array_size(r.items), 3);
	assert_string_equal(kind_of(json_array_get(r.items, 1)), "Deployment");
	result_free(&r);

	const char *external = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata: {name: ext}\n"
			       "spec: {createDeployment: false}\n---\n"
			       "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x, uid: 1234-abcd}\n"
			       "spec: {image: i, executor: ext, enableAutoscaling: true, autoscaler: {maxReplicas: 3}}\n";
	const char *in3[] = { external };
	r = render_ok(in3, 1, NULL);
	assert_int_equal(json_array_size(r.items), 2);
	assert_string_equal(kind_of(json_array_get(r.items, 0)), "Service");
	assert_string_equal(kind_of(json_array_get(r.items, 1)), "HorizontalPodAutoscaler");
	json_t *refs = json_object_get(json_object_get(json_array_get(r.items, 0), "metadata"), "ownerReferences");
	assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "uid")), "1234-abcd");
	result_free(&r);

	/* spec.route: the HTTPRoute is printed last, owned like the rest (config/samples/route.yaml) */
	const char *routed = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata: {name: ext}\n"
			     "spec: {createDeployment: false}\n---\n"
			     "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x, uid: 1234-abcd}\n"
			     "spec: {image: i, executor: ext, route: {parentRefs: [{name: gw}]}}\n";
	const char *in7[] = { routed };
	r = render_ok(in7, 1, NULL);
	assert_int_equal(json_array_size(r.items), 2);
	assert_string_equal(kind_of(json_array_get(r.items, 1)), "HTTPRoute");
	assert_string_equal(name_of(json_array_get(r.items, 1)), "x");
	check_json(json_object_get(json_array_get(r.items, 1), "spec"),
		   "{'parentRefs': [{'name': 'gw'}], 'rules': [{'matches': [{'path': {'type': 'PathPrefix', 'value': "
		   "'/'}}], 'backendRefs': [{'name': 'x', 'port': 80}]}]}");
	refs = json_object_get(json_object_get(json_array_get(r.items, 1), "metadata"), "ownerReferences");
	assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "uid")), "1234-abcd");
	result_free(&r);

	const char *list = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": ["
			   "{\"apiVersion\": \"core.spinkube.dev/v1alpha1\", \"kind\": \"SpinApp\", \"metadata\": {\"name\": "
			   "\"simple-spinapp\"}, \"spec\": {\"image\": \"ghcr.io/spinframework/containerd-shim-spin/"
			   "examples/spin-rust-hello:v0.23.0\", \"replicas\": 1, \"executor\": \"containerd-shim-spin\"}},"
			   "{\"apiVersion\": \"core.spinkube.dev/v1alpha1\", \"kind\": \"SpinAppExecutor\", \"metadata\": "
			   "{\"name\": \"containerd-shim-spin\"}, \"spec\": {\"createDeployment\": true, \"deploymentConfig\": "
			   "{\"runtimeClassName\": \"wasmtime-spin-v2\", \"installDefaultCACerts\": true}}}]}";
	const char *in4[] = { list };
	const char *in5[] = { SIMPLE, SHIM };
	r = render_ok(in4, 1, NULL);
	struct result r5 = render_ok(in5, 2, NULL);
	assert_true(json_equal(r.items, r5.items));
	result_free(&r);
	result_free(&r5);

	/* Other kinds are ignored; no SpinApp at all: a warning, nothing printed, success. */
	const char *in6[] = { "config/samples/keda-scaledobject.yaml", "config/samples/spin-runtime-class.yaml" };
	r = run(in6, 2, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.outlen, 0);
	assert_non_null(strstr(r.err, "holds no SpinApp"));
	result_free(&r);
}

/* Every error is one line naming the app or file and position; when any occurs nothing is printed. */
static void errors(void **state)
{
	(void)state;
	static const struct {
		const char *input;
		const char *err;
	} cases[] = {
		{ "apiVersion: v1\nkind: Secret\nmetadata:\n\tname: x\n", "render: input.yaml:4:1: found character that cannot start any token" },
		{ "a: 1\na: 2\n", "render: input.yaml:2:1: duplicate key \"a\"\n" },
		{ "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x}\nspec: {image: i, replicas: 1,"
		  " executor: bare}\n---\napiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata: {name: "
		  "bare}\nspec: {createDeployment: true, deploymentConfig: {installDefaultCACerts: false}}\n",
		  "render: SpinApp default/x: must specify either runtimeClassName or spinImage\n" },
		{ "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x}\nspec: {image: i, replicas: 1,"
		  " executor: nodc}\n---\napiVersion: core.spinkube.dev/v1alpha1\nkind: SpinAppExecutor\nmetadata: {name: "
		  "nodc}\nspec: {createDeployment: true}\n",
		  "render: SpinApp default/x: SpinAppExecutor default/nodc has createDeployment: true but no "
		  "deploymentConfig\n" },
		{ "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x}\nspec: {image: i}\n---\n"
		  "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x}\nspec: {image: j}\n",
		  "render: input.yaml: SpinApp default/x appears more than once in the input\n" },
		{ "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {}\nspec: {image: i}\n",
		  "render: input.yaml: document 1: SpinApp has no metadata.name\n" },
		{ "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x}\n",
		  "render: SpinApp default/x: spec is missing\n" },
		{ "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: x}\nspec: {executor: 3}\n",
		  "render: SpinApp default/x: spec.executor must be a string\n" },
		{ "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: 1}\n",
		  "render: Secret default/s: stringData[\"k\"] must be a string\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *in[] = { cases[i].input, SHIM };
		struct result r = run(in, 2, NULL, 0);
		if (r.status != 1 || strncmp(r.err, cases[i].err, strlen(cases[i].err)))
			fail_msg("case %zu: status %d, stderr \"%s\", want \"%s\"", i, r.status, r.err, cases[i].err);
		assert_int_equal(r.outlen, 0);
		/* Exactly one line. */
		assert_non_null(strchr(r.err, '\n'));
		assert_int_equal(strchr(r.err, '\n')[1], '\0');
		result_free(&r);
	}

	/* A good app next to a bad one: both checked, the bad one reported, nothing printed. */
	const char *in[] = { SIMPLE, SHIM,
			     "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: y}\n"
			     "spec: {image: i, replicas: 1, executor: missing}\n" };
	struct result r = run(in, 3, NULL, 1);
	assert_int_equal(r.status, 1);
	assert_int_equal(r.outlen, 0);
	assert_string_equal(r.err, "render: SpinApp default/y: SpinAppExecutor default/missing not found in the input\n");
	result_free(&r);
}

/* Runs render_main with stdin from text (NULL: unchanged) and captures stdout and stderr. */
static int main_with(const char *const *args, const char *stdin_text, char **out, char **err)
{
	char *argv[16];
	int argc = 0, saved_in = -1, saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO), status;
	FILE *o = tmpfile(), *e = tmpfile();

	assert_non_null(o);
	assert_non_null(e);
	argv[argc++] = (char *)"render";
	for (; args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	if (stdin_text) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		assert_true(strlen(stdin_text) < 60000); /* fits the pipe buffer */
		assert_int_equal(write(p[1], stdin_text, strlen(stdin_text)), (ssize_t)strlen(stdin_text));
		close(p[1]);
		saved_in = dup(STDIN_FILENO);
		dup2(p[0], STDIN_FILENO);
		close(p[0]);
		clearerr(stdin);
	}
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(o), STDOUT_FILENO);
	dup2(fileno(e), STDERR_FILENO);
	status = render_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	if (saved_in >= 0) {
		dup2(saved_in, STDIN_FILENO);
		close(saved_in);
		clearerr(stdin);
	}
	for (int k = 0; k < 2; k++) {
		FILE *f = k ? e : o;
		long n;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		char *s = calloc(1, (size_t)n + 1);
		assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
		*(k ? err : out) = s;
		fclose(f);
	}
	return status;
}

static void command_line(void **state)
{
	(void)state;
	char *out, *err, simple[1024], shim[1024];
	struct buf both = BUF_INIT(1u << 20);

	snprintf(simple, sizeof simple, "%s/%s", repo(), SIMPLE);
	snprintf(shim, sizeof shim, "%s/%s", repo(), SHIM);

	const char *help[] = { "--help", NULL };
	assert_int_equal(main_with(help, NULL, &out, &err), 0);
	for (const char *flag = "-f, --filename\0-n, --namespace\0-o, --output\0-h, --help\0"; *flag; flag += strlen(flag) + 1)
		if (!strstr(out, flag))
			fail_msg("--help lacks %s", flag);
	assert_string_equal(err, "");
	free(out);
	free(err);

	static const char *const usage_errors[][5] = {
		{ NULL },
		{ "-o", "xml", "-f", "x", NULL },
		{ "--namespace", "Bad_NS", "-f", "x", NULL },
		{ "-f", "x", "extra", NULL },
		{ "--no-such-flag", NULL },
		{ "-f", NULL },
	};
	for (size_t i = 0; i < sizeof usage_errors / sizeof usage_errors[0]; i++) {
		assert_int_equal(main_with(usage_errors[i], NULL, &out, &err), 2);
		assert_string_equal(out, "");
		assert_true(strlen(err) > 0);
		free(out);
		free(err);
	}

	const char *missing[] = { "-f", "/nonexistent/app.yaml", NULL };
	assert_int_equal(main_with(missing, NULL, &out, &err), 1);
	assert_string_equal(err, "render: /nonexistent/app.yaml: No such file or directory\n");
	free(out);
	free(err);

	/* Files and stdin ("-") give the same result. */
	const char *files[] = { "-f", simple, "--filename", shim, "-o", "json", NULL };
	assert_int_equal(main_with(files, NULL, &out, &err), 0);
	json_t *from_files = parse_json(out);
	free(out);
	free(err);
	FILE *f1 = fopen(simple, "r"), *f2 = fopen(shim, "r");
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f1)) > 0)
		buf_append(&both, chunk, got);
	buf_appends(&both, "---\n");
	while ((got = fread(chunk, 1, sizeof chunk, f2)) > 0)
		buf_append(&both, chunk, got);
	fclose(f1);
	fclose(f2);
	const char *piped[] = { "-f", "-", "--output=json", NULL };
	assert_int_equal(main_with(piped, both.data, &out, &err), 0);
	json_t *from_stdin = parse_json(out);
	assert_true(json_equal(from_files, from_stdin));
	assert_int_equal(json_array_size(json_object_get(from_stdin, "items")), 4);
	free(out);
	free(err);

	/* Default output is YAML, and -n sets the namespace. */
	const char *yaml[] = { "-n", "team-b", "-f", "-", NULL };
	assert_int_equal(main_with(yaml, both.data, &out, &err), 0);
	assert_true(!strncmp(out, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: simple-spinapp-760b133c\n"
				  "  namespace: team-b\n", 70));
	free(out);
	free(err);
	json_decref(from_files);
	json_decref(from_stdin);
	buf_free(&both);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(simple_shim),
		cmocka_unit_test(scaled_to_zero),
		cmocka_unit_test(namespaces),
		cmocka_unit_test(missing_executor),
		cmocka_unit_test(executor_defaulting),
		cmocka_unit_test(runtime_config),
		cmocka_unit_test(configmap_ref),
		cmocka_unit_test(spintainer),
		cmocka_unit_test(probe_defaults),
		cmocka_unit_test(shapes),
		cmocka_unit_test(errors),
		cmocka_unit_test(command_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * bench_build: the CPU cost of the pure per-app work of a reconcile and of an admission review, for an app as
 * upstream writes it and for one with every pod option of issue 15 §2 set (env with the downward API,
 * imagePullPolicy, nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName). The
 * reconciler benchmark (run.sh) measures the cluster; this isolates what the new fields add to the builder and
 * the webhook's rules, with no I/O.
 *
 *   bench_build [-n ITERATIONS]      (default 20000 per case and round, 7 rounds, median round reported)
 *
 * Prints, on stdout, one key=value per line, per case (simple, all_fields):
 *   <case>_build_us        spin_deployment + spin_service (+ spin_route when the app has one), per app, in µs
 *   <case>_validate_us     spinapp_check_decode + spinapp_validate (stricter checks on), per review
 *   <case>_deployment_bytes  the Deployment's serialised size (the apply request body)
 * It reports and never judges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/spin/spin.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/admission.h"
#include "webhook/field.h"
#include "webhook/spinapp.h"
#include "webhook/admission_ctx.h"

#define ROUNDS 7

/* config/samples/simple.yaml, as the API server returns it. */
static const char simple_app[] =
	"{\"apiVersion\":\"core.spinkube.dev/v1alpha1\",\"kind\":\"SpinApp\",\"metadata\":{\"name\":\"simple-spinapp\","
	"\"namespace\":\"default\",\"uid\":\"5d1ad0b5-3a6e-4a0b-9f43-0b3e0c3d9a11\"},\"spec\":{\"image\":"
	"\"ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0\",\"replicas\":1,\"executor\":"
	"\"containerd-shim-spin\",\"enableAutoscaling\":false}}";

/* The same app with every optional field set: the pod options (config/samples/scheduling.yaml) and a route
 * (config/samples/route.yaml). */
static const char all_fields_app[] =
	"{\"apiVersion\":\"core.spinkube.dev/v1alpha1\",\"kind\":\"SpinApp\",\"metadata\":{\"name\":\"simple-spinapp\","
	"\"namespace\":\"default\",\"uid\":\"5d1ad0b5-3a6e-4a0b-9f43-0b3e0c3d9a11\"},\"spec\":{\"image\":"
	"\"ghcr.io/spinframework/containerd-shim-spin/examples/spin-rust-hello:v0.23.0\",\"replicas\":1,\"executor\":"
	"\"containerd-shim-spin\",\"enableAutoscaling\":false,\"imagePullPolicy\":\"IfNotPresent\",\"env\":[{\"name\":"
	"\"NODE_IP\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"status.hostIP\"}}},{\"name\":"
	"\"LOG_FORMAT\",\"value\":\"json\"}],\"nodeSelector\":{\"kubernetes.io/os\":\"linux\"},\"tolerations\":[{"
	"\"key\":\"spinkube.dev/wasm\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}],\"affinity\":{"
	"\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":50,\"preference\":{"
	"\"matchExpressions\":[{\"key\":\"node.kubernetes.io/instance-type\",\"operator\":\"In\",\"values\":["
	"\"wasm-optimized\"]}]}}]}},\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":"
	"\"kubernetes.io/hostname\",\"whenUnsatisfiable\":\"ScheduleAnyway\",\"labelSelector\":{\"matchLabels\":{"
	"\"core.spinkube.dev/app-name\":\"simple-spinapp\"}}}],\"priorityClassName\":\"spin-apps\",\"route\":{"
	"\"parentRefs\":[{\"name\":\"web\",\"namespace\":\"infra\",\"sectionName\":\"http\"}],\"hostnames\":["
	"\"hello.example.com\"],\"pathPrefixes\":[\"/\",\"/api\"]}}}";

/* config/samples/spin-shim-executor.yaml */
static const char executor[] =
	"{\"apiVersion\":\"core.spinkube.dev/v1alpha1\",\"kind\":\"SpinAppExecutor\",\"metadata\":{\"name\":"
	"\"containerd-shim-spin\",\"namespace\":\"default\"},\"spec\":{\"createDeployment\":true,\"deploymentConfig\":"
	"{\"runtimeClassName\":\"wasmtime-spin-v2\",\"installDefaultCACerts\":true}}}";

static json_t *exec_json;

static int get_executor(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	(void)ns;
	(void)name;
	*out = json_incref(exec_json);
	return SO_OK;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int build_once(const json_t *app)
{
	json_t *dep = NULL, *svc = NULL;
	char err[256];
	int rc = spin_deployment(app, exec_json, "simple-spinapp-760b133c", 1, &dep, err, sizeof err);

	if (rc == SO_OK)
		rc = spin_service(app, &svc, err, sizeof err);
	if (rc == SO_OK && json_object_get(json_object_get(app, "spec"), "route")) {
		json_t *route = NULL;
		rc = spin_route(app, &route, err, sizeof err);
		json_decref(route);
	}
	if (rc != SO_OK)
		fprintf(stderr, "bench_build: %s\n", err);
	json_decref(dep);
	json_decref(svc);
	return rc;
}

static int validate_once(const json_t *app)
{
	struct admission_ctx ctx = { .endpoint = VALIDATE_SPINAPP, .get_executor = get_executor };
	struct field_list errs = { 0 };
	struct buf msg = BUF_INIT(1 << 16);
	int rc = spinapp_check_decode(app, &msg);

	if (rc == SO_OK)
		rc = spinapp_validate(app, "default", &ctx, &errs, NULL);
	if (rc == SO_OK && errs.n > 0) {
		fprintf(stderr, "bench_build: the app does not validate: %s\n", errs.items[0].field);
		rc = SO_E_INVAL;
	}
	field_list_free(&errs);
	buf_free(&msg);
	return rc;
}

/* The mean time per call of fn(app) over n calls, in microseconds; -1 on failure. */
static double once(int (*fn)(const json_t *), const json_t *app, long n)
{
	double t0 = now_us();

	for (long i = 0; i < n; i++) {
		if (fn(app) != SO_OK)
			return -1;
	}
	return (now_us() - t0) / (double)n;
}

struct bench_case {
	const char *name, *text;
	json_t *app;
	size_t bytes;
	double build[ROUNDS], validate[ROUNDS];
};

static int prepare(struct bench_case *c)
{
	json_error_t jerr;
	json_t *dep = NULL;
	char err[256], *body;

	c->app = json_loads(c->text, 0, &jerr);
	if (!c->app) {
		fprintf(stderr, "bench_build: %s: %s\n", c->name, jerr.text);
		return 1;
	}
	if (spin_deployment(c->app, exec_json, "simple-spinapp-760b133c", 1, &dep, err, sizeof err) != SO_OK) {
		fprintf(stderr, "bench_build: %s: %s\n", c->name, err);
		return 1;
	}
	body = json_dumps(dep, JSON_COMPACT);
	c->bytes = body ? strlen(body) : 0;
	free(body);
	json_decref(dep);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_case cases[] = { { .name = "simple", .text = simple_app },
				      { .name = "all_fields", .text = all_fields_app } };
	const size_t ncases = sizeof cases / sizeof cases[0];
	long n = 20000;
	json_error_t jerr;
	int rc = 0;

	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		n = strtol(argv[2], NULL, 10);
	if (n <= 0 || (argc != 1 && argc != 3)) {
		fprintf(stderr, "usage: bench_build [-n ITERATIONS]\n");
		return 2;
	}
	exec_json = json_loads(executor, 0, &jerr);
	if (!exec_json)
		return 1;
	for (size_t c = 0; rc == 0 && c < ncases; c++)
		rc = prepare(&cases[c]);
	/* The cases alternate within each round, so that a busy machine slows both alike. */
	for (int r = 0; rc == 0 && r < ROUNDS; r++) {
		for (size_t c = 0; rc == 0 && c < ncases; c++) {
			cases[c].build[r] = once(build_once, cases[c].app, n);
			cases[c].validate[r] = once(validate_once, cases[c].app, n);
			rc = cases[c].build[r] < 0 || cases[c].validate[r] < 0;
		}
	}
	if (rc == 0) {
		printf("iterations=%ld\nrounds=%d\n", n, ROUNDS);
		for (size_t c = 0; c < ncases; c++) {
			qsort(cases[c].build, ROUNDS, sizeof(double), cmpd);
			qsort(cases[c].validate, ROUNDS, sizeof(double), cmpd);
			printf("%s_build_us=%.2f\n", cases[c].name, cases[c].build[ROUNDS / 2]);
			printf("%s_validate_us=%.2f\n", cases[c].name, cases[c].validate[ROUNDS / 2]);
			printf("%s_deployment_bytes=%zu\n", cases[c].name, cases[c].bytes);
		}
	}
	for (size_t c = 0; c < ncases; c++)
		json_decref(cases[c].app);
	json_decref(exec_json);
	return rc;
}

/*
 * bench_loader: the "simple parallel loader" of the reconciler benchmark (tests/bench/run.sh, issue 3 §6).
 *
 *   bench_loader -f FILE -n NAMESPACE [-t THREADS] [--strip-owners] [--apply | --delete]
 *
 * FILE is JSON: a v1 List (as `spin-operator render -o json` prints it) or an array of objects. Every object is
 * created (POST, our C client, QPS unlimited) in NAMESPACE by THREADS threads (default 8) taking the objects in
 * file order; with --apply each is written the way the operator writes it instead: Secrets created (POST), every
 * other kind server-side applied (PATCH, field manager spin-operator, force). Objects that occur twice (the CA
 * Secret render prints once per app) are written once; an object that already exists counts as accepted. With
 * --delete each object is deleted by name instead (the churn of tests/bench/scale.sh); one already gone counts
 * under existed.
 * Transient failures (transport, 429, 5xx, timeouts) are retried up to 5 times.
 *
 * Prints, on stdout, `key=value` lines for run.sh:
 *   objects=N created=N existed=N failed=N accepted_s=SECONDS start_epoch=EPOCH end_epoch=EPOCH
 *   requests_<method>=N (our client's counters)
 * and one line per failed object on stderr. Exit status: 0 when every object was accepted, 1 otherwise, 2 usage.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/base/err.h"
#include "operator/base/parse.h"

struct kindmap {
	const char *api_version, *kind;
	const struct kube_resource *r;
};

static const struct kindmap kinds[] = {
	{ "v1", "Secret", &KUBE_SECRETS },
	{ "v1", "Service", &KUBE_SERVICES },
	{ "v1", "ConfigMap", &KUBE_CONFIGMAPS },
	{ "apps/v1", "Deployment", &KUBE_DEPLOYMENTS },
	{ "autoscaling/v2", "HorizontalPodAutoscaler", &KUBE_HPAS },
	{ "core.spinkube.dev/v1alpha1", "SpinApp", &KUBE_SPINAPPS },
	{ "core.spinkube.dev/v1alpha1", "SpinAppExecutor", &KUBE_SPINAPPEXECUTORS },
};

struct job {
	json_t *obj;
	const struct kube_resource *r;
};

static struct kube_client *client;
static const char *ns;
static struct job *jobs;
static size_t njobs;
static atomic_size_t next_job;
static atomic_ulong n_created, n_existed, n_failed;
static int use_apply, use_delete;

static double now_s(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int transient(int rc)
{
	return rc == SO_E_TRANSPORT || rc == SO_E_TIMEOUT || rc == SO_E_API_TOO_MANY_REQUESTS ||
	       rc == SO_E_API_INTERNAL || rc == SO_E_API_UNAVAILABLE || rc == SO_E_API_TIMEOUT;
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		size_t i = atomic_fetch_add(&next_job, 1);
		if (i >= njobs)
			return NULL;
		struct job *j = &jobs[i];
		int rc = SO_OK;
		struct kube_response resp = { 0 };
		for (int attempt = 0; attempt < 6; attempt++) {
			kube_response_free(&resp);
			memset(&resp, 0, sizeof resp);
			const char *name = json_string_value(json_object_get(json_object_get(j->obj, "metadata"), "name"));
			if (use_delete)
				rc = kube_delete(client, j->r, ns, name, NULL, &resp);
			else
				rc = use_apply && j->r != &KUBE_SECRETS
					     ? kube_apply(client, j->r, ns, j->obj, NULL, "spin-operator", 1, NULL, &resp)
					     : kube_create(client, j->r, ns, j->obj, NULL, &resp);
			if (!transient(rc))
				break;
			usleep(200000u * (unsigned)(attempt + 1));
		}
		if (rc == SO_OK) {
			atomic_fetch_add(&n_created, 1);
		} else if (rc == SO_E_API_ALREADY_EXISTS || (use_delete && rc == SO_E_API_NOT_FOUND)) {
			atomic_fetch_add(&n_existed, 1);
		} else {
			atomic_fetch_add(&n_failed, 1);
			const json_t *md = json_object_get(j->obj, "metadata");
			fprintf(stderr, "bench_loader: %s %s/%s: %s: %s\n", j->r->kind, ns,
				json_string_value(json_object_get(md, "name")), so_strerror(rc),
				resp.message ? resp.message : "");
		}
		kube_response_free(&resp);
	}
}

static const struct kube_resource *resource_of(const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	if (!av || !kind)
		return NULL;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (!strcmp(kinds[i].api_version, av) && !strcmp(kinds[i].kind, kind))
			return kinds[i].r;
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_loader -f FILE -n NAMESPACE [-t THREADS] [--strip-owners] [--apply | --delete]\n");
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	long threads = 8;
	int strip_owners = 0;
	char err[512] = "";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "-t") && i + 1 < argc && parse_long(argv[i + 1], 1, 256, &threads) == SO_OK)
			i++;
		else if (!strcmp(argv[i], "--strip-owners"))
			strip_owners = 1;
		else if (!strcmp(argv[i], "--apply"))
			use_apply = 1;
		else if (!strcmp(argv[i], "--delete"))
			use_delete = 1;
		else {
			usage();
			return 2;
		}
	}
	if (!file || !ns) {
		usage();
		return 2;
	}

	json_error_t jerr;
	json_t *doc = json_load_file(file, 0, &jerr);
	if (!doc) {
		fprintf(stderr, "bench_loader: %s:%d: %s\n", file, jerr.line, jerr.text);
		return 1;
	}
	json_t *items = json_is_array(doc) ? doc : json_object_get(doc, "items");
	if (!json_is_array(items)) {
		fprintf(stderr, "bench_loader: %s: neither a List nor an array\n", file);
		return 1;
	}
	jobs = calloc(json_array_size(items) + 1, sizeof *jobs);
	json_t *seen = json_object();
	size_t i;
	json_t *obj;
	json_array_foreach(items, i, obj) {
		const struct kube_resource *r = resource_of(obj);
		json_t *md = json_object_get(obj, "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		if (!r || !name) {
			fprintf(stderr, "bench_loader: item %zu: unsupported kind or no name\n", i);
			return 1;
		}
		char key[512];
		snprintf(key, sizeof key, "%s/%s", r->plural, name);
		if (json_object_get(seen, key))
			continue;
		json_object_set_new(seen, key, json_true());
		json_object_set_new(md, "namespace", json_string(ns));
		if (strip_owners)
			json_object_del(md, "ownerReferences");
		jobs[njobs].obj = obj;
		jobs[njobs].r = r;
		njobs++;
	}

	struct kube_config cfg;
	if (kube_config_load(NULL, NULL, &cfg, err, sizeof err)) {
		fprintf(stderr, "bench_loader: %s\n", err);
		return 1;
	}
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = 0; /* unlimited: the apiserver is the only limit */
	o.timeout_ms = 60000;
	if (kube_client_new(&cfg, &o, &client, err, sizeof err)) {
		fprintf(stderr, "bench_loader: %s\n", err);
		return 1;
	}
	/* Connect (and negotiate TLS/HTTP2) before the clock starts, as a running operator would have. */
	char *ver = NULL;
	if (kube_server_version(client, &ver, NULL) == SO_OK)
		free(ver);

	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	double t0 = now_s(CLOCK_MONOTONIC), e0 = now_s(CLOCK_REALTIME);
	int started = 0;
	for (int t = 0; t < threads; t++) {
		if (pthread_create(&tids[t], NULL, worker, NULL) == 0)
			started++;
	}
	if (!started)
		worker(NULL);
	for (int t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	double t1 = now_s(CLOCK_MONOTONIC), e1 = now_s(CLOCK_REALTIME);

	struct kube_client_stats st;
	kube_client_get_stats(client, &st);
	printf("objects=%zu\ncreated=%lu\nexisted=%lu\nfailed=%lu\naccepted_s=%.3f\nstart_epoch=%.3f\nend_epoch=%.3f\n",
	       njobs, atomic_load(&n_created), atomic_load(&n_existed), atomic_load(&n_failed), t1 - t0, e0, e1);
	for (int m = 0; m < KUBE_NMETHODS; m++)
		printf("requests_%s=%lu\n", kube_method_name((enum kube_method)m), st.requests[m]);
	fflush(stdout);

	int failed = atomic_load(&n_failed) != 0;
	kube_client_free(client);
	kube_config_free(&cfg);
	json_decref(seen);
	json_decref(doc);
	free(jobs);
	free(tids);
	return failed;
}

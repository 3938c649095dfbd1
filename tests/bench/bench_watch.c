/*
 * bench_watch: the milestone poller of the reconciler benchmark (tests/bench/run.sh, issue 3 §6).
 *
 *   bench_watch -n NAMESPACE -c COUNT [--apps] [--timeout SECONDS]
 *
 * Keeps informers (list + watch, our C client) on NAMESPACE's Deployments, Services and Secrets labelled
 * core.spinkube.dev/app-name (the children the operator makes; the unlabelled CA Secret is not counted) and,
 * with --apps, its SpinApps; informer handlers count the Available ones as events arrive, and the counters are
 * checked every 50 ms. Watching instead of polling keeps the apiserver load of the measurement itself to a few
 * watch streams.
 *
 * Counters: deployments, services, secrets (exist), deployments_available (condition Available=True) and, with
 * --apps, apps_available (SpinApp status condition Available=True). For each counter it prints, on stdout, the
 * wall-clock epoch (CLOCK_REALTIME, seconds) at which it first reached 1, 50 %, 90 % and 100 % of COUNT:
 *   <counter>_first_epoch=… <counter>_p50_epoch=… <counter>_p90_epoch=… <counter>_all_epoch=…
 * then `done=1` once every counter reached COUNT. Before that, `synced=1` once every cache has synced (run.sh
 * starts the clock after it), and a progress line on stderr every 10 s. On timeout (default 900 s) it prints
 * the counts reached and `timeout=1` and exits 3. Exit 1 when it cannot run, 2 on usage.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/runtime/informer.h"
#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

#define LABEL "core.spinkube.dev/app-name"

enum { C_DEP, C_SVC, C_SEC, C_DEP_AVAIL, C_APP_AVAIL, NCOUNTERS };
static const char *const counter_names[NCOUNTERS] = { "deployments", "services", "secrets", "deployments_available",
						       "apps_available" };
static const char *const mark_names[4] = { "first", "p50", "p90", "all" };

static double now_epoch(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keep only what the counters read: name, namespace, status.conditions; and resourceVersion, which the
 * informer reads after trimming (a trim must never drop it). */
static void trim(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
	json_t *keep_md = json_object();
	json_object_set(keep_md, "name", json_object_get(md, "name"));
	json_object_set(keep_md, "namespace", json_object_get(md, "namespace"));
	json_object_set(keep_md, "resourceVersion", json_object_get(md, "resourceVersion"));
	json_t *st = json_object();
	if (conds)
		json_object_set(st, "conditions", conds);
	json_object_clear(obj);
	json_object_set_new(obj, "metadata", keep_md);
	json_object_set_new(obj, "status", st);
}

static int available(const json_t *obj)
{
	const json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c) {
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *status = json_string_value(json_object_get(c, "status"));
		if (type && status && !strcmp(type, "Available"))
			return !strcmp(status, "True");
	}
	return 0;
}

/* Available objects of one informer, kept by its handlers as events arrive. Decoding the whole cache every
 * 50 ms instead cost this measuring process a tenth of a core at 1000 apps, CPU taken from the system it
 * measures, and more in the operator phase (Deployments and SpinApps) than in the baseline. */
static atomic_long n_available[4];

static void on_add(void *ud, json_t *obj)
{
	atomic_fetch_add((atomic_long *)ud, available(obj));
}

static void on_update(void *ud, json_t *old_obj, json_t *new_obj)
{
	atomic_fetch_add((atomic_long *)ud, available(new_obj) - available(old_obj));
}

static void on_delete(void *ud, json_t *obj)
{
	atomic_fetch_sub((atomic_long *)ud, available(obj));
}

int main(int argc, char **argv)
{
	const char *ns = NULL;
	long want = 0;
	int apps = 0;
	double timeout_s = 900;
	char err[512] = "";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			want = atol(argv[++i]);
		else if (!strcmp(argv[i], "--apps"))
			apps = 1;
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_s = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_watch -n NAMESPACE -c COUNT [--apps] [--timeout SECONDS]\n");
			return 2;
		}
	}
	if (!ns || want <= 0) {
		fprintf(stderr, "usage: bench_watch -n NAMESPACE -c COUNT [--apps] [--timeout SECONDS]\n");
		return 2;
	}
	log_set_level(LOG_WARN);

	struct kube_config cfg;
	struct kube_client *c;
	if (kube_config_load(NULL, NULL, &cfg, err, sizeof err)) {
		fprintf(stderr, "bench_watch: %s\n", err);
		return 1;
	}
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = 0;
	if (kube_client_new(&cfg, &o, &c, err, sizeof err)) {
		fprintf(stderr, "bench_watch: %s\n", err);
		return 1;
	}

	const struct kube_resource *res[4] = { &KUBE_DEPLOYMENTS, &KUBE_SERVICES, &KUBE_SECRETS, &KUBE_SPINAPPS };
	struct informer *inf[4] = { 0 };
	int ninf = apps ? 4 : 3;
	for (int i = 0; i < ninf; i++) {
		struct informer_opts io = { .resource = res[i], .namespace = ns, .label_selector = i < 3 ? LABEL : NULL,
					    .trim = trim, .handlers = { on_add, on_update, on_delete },
					    .ud = &n_available[i] };
		if (informer_new(c, &io, &inf[i]) || informer_start(inf[i])) {
			fprintf(stderr, "bench_watch: cannot start the %s informer\n", res[i]->plural);
			return 1;
		}
	}
	for (int i = 0; i < ninf; i++) {
		if (informer_wait_synced(inf[i], 60000)) {
			fprintf(stderr, "bench_watch: the %s informer did not sync\n", res[i]->plural);
			return 1;
		}
	}
	printf("synced=1\n");
	fflush(stdout);

	int ncounters = apps ? NCOUNTERS : NCOUNTERS - 1;
	double marks[NCOUNTERS][4] = { { 0 } };
	double start = now_epoch(), last_progress = start;
	int rc = 0;
	for (;;) {
		size_t n[NCOUNTERS] = { informer_count(inf[0]), informer_count(inf[1]), informer_count(inf[2]),
					(size_t)atomic_load(&n_available[0]), (size_t)atomic_load(&n_available[3]) };
		double t = now_epoch();
		int all_done = 1;
		for (int k = 0; k < ncounters; k++) {
			size_t thr[4] = { 1, (size_t)(want + 1) / 2, (size_t)(want * 9 + 9) / 10, (size_t)want };
			for (int m = 0; m < 4; m++) {
				if (marks[k][m] == 0 && n[k] >= thr[m]) {
					marks[k][m] = t;
					printf("%s_%s_epoch=%.3f\n", counter_names[k], mark_names[m], t);
					fflush(stdout);
				}
			}
			if (marks[k][3] == 0)
				all_done = 0;
		}
		if (all_done) {
			printf("done=1\n");
			break;
		}
		if (t - last_progress >= 10) {
			last_progress = t;
			fprintf(stderr, "bench_watch: %s:", ns);
			for (int k = 0; k < ncounters; k++)
				fprintf(stderr, " %s %zu", counter_names[k], n[k]);
			fprintf(stderr, " (of %ld)\n", want);
		}
		if (t - start > timeout_s) {
			for (int k = 0; k < ncounters; k++)
				printf("%s_count=%zu\n", counter_names[k], n[k]);
			printf("timeout=1\n");
			rc = 3;
			break;
		}
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	fflush(stdout);
	for (int i = 0; i < ninf; i++)
		informer_signal_stop(inf[i]);
	for (int i = 0; i < ninf; i++) {
		informer_stop(inf[i]);
		informer_free(inf[i]);
	}
	kube_client_free(c);
	kube_config_free(&cfg);
	return rc;
}

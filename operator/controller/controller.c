#include "operator/controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/spin/spin.h"
#include "operator/controller/controller_internal.h"
#include "operator/controller/informer_store.h"
#include "operator/controller/readiness.h"
#include "operator/controller/reconcile_app.h"
#include "operator/controller/reconcile_executor.h"
#include "operator/controller/routes.h"
#include "operator/kube/fields.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/mem.h"


#define STATUS_DEFER_MAX_S 30.0 /* longest a status write waits for other apps' children (deferrals.h) */

/* ---- event → key mapping ---- */

static long long generation(const json_t *obj)
{
	return (long long)json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
}

/* Our own status writes change only status: they need no reconcile. Spec edits bump the generation;
 * deletion sets deletionTimestamp; label/annotation/finalizer edits are metadata changes worth a look. */
static int spec_or_meta_changed(const json_t *old_obj, const json_t *new_obj)
{
	const json_t *om = json_object_get(old_obj, "metadata"), *nm = json_object_get(new_obj, "metadata");
	static const char *const keys[] = { "deletionTimestamp", "labels", "annotations", "finalizers" };
	if (generation(old_obj) != generation(new_obj))
		return 1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const json_t *a = json_object_get(om, keys[i]), *b = json_object_get(nm, keys[i]);
		if ((a || b) && !(a && b && json_equal((json_t *)a, (json_t *)b)))
			return 1;
	}
	return 0;
}

/* What the caches see, at debug level: "SpinApp added ns/name generation=1 executor=x image=y". */
static void describe(const char *kind, const char *verb, const json_t *obj)
{
	const char *executor = ctl_spec_str(obj, "executor"), *image = ctl_spec_str(obj, "image");
	log_debug("cache", "%s %s %s/%s generation=%lld%s%s%s%s", kind, verb, ctl_meta_str(obj, "namespace"),
		  ctl_meta_str(obj, "name"), generation(obj), executor ? " executor=" : "", executor ? executor : "",
		  image ? " image=" : "", image ? image : "");
}

static void app_added(void *ud, json_t *obj)
{
	struct controller *ctl = ud;
	describe("SpinApp", "added", obj);
	ctl_enqueue_key(ctl->app_q, ctl_meta_str(obj, "namespace"), ctl_meta_str(obj, "name"));
}

static void app_updated(void *ud, json_t *old_obj, json_t *new_obj)
{
	struct controller *ctl = ud;
	describe("SpinApp", "updated", new_obj);
	if (spec_or_meta_changed(old_obj, new_obj))
		ctl_enqueue_key(ctl->app_q, ctl_meta_str(new_obj, "namespace"), ctl_meta_str(new_obj, "name"));
	/* An app moving to another executor may release the old one's deletion. */
	const char *a = ctl_spec_str(old_obj, "executor"), *b = ctl_spec_str(new_obj, "executor");
	if (a && (!b || strcmp(a, b)))
		ctl_enqueue_key(ctl->exec_q, ctl_meta_str(old_obj, "namespace"), a);
}

static void app_deleted(void *ud, json_t *obj)
{
	struct controller *ctl = ud;
	describe("SpinApp", "deleted", obj);
	/* The app's own key too: its reconcile finds it gone and forgets what we kept for it (applier digests, a
	 * retry backoff), after any reconcile of it still in flight (the queue never runs one key twice at once). */
	ctl_enqueue_key(ctl->app_q, ctl_meta_str(obj, "namespace"), ctl_meta_str(obj, "name"));
	/* A blocked executor deletion may now proceed. */
	ctl_enqueue_key(ctl->exec_q, ctl_meta_str(obj, "namespace"), ctl_spec_str(obj, "executor"));
}

/* Every app in ns that names executor: the apps informer is indexed by spec.executor, so this visits only
 * those apps' keys and decodes none (an executor edit with 10,000 apps cached costs its own apps, not all). */
static void enqueue_apps_of(struct controller *ctl, const char *ns, const char *executor)
{
	json_t *keys, *k;
	size_t i;
	if (!ns || !executor)
		return;
	keys = ctl->store.ops->cache_keys_indexed(ctl->store.ctx, CTL_APPS, ns, executor);
	json_array_foreach(keys, i, k)
		queue_add(ctl->app_q, json_string_value(k)); /* store keys are "ns/name", the queue's keys too */
	json_decref(keys);
}

static void executor_added(void *ud, json_t *obj)
{
	struct controller *ctl = ud;
	const char *ns = ctl_meta_str(obj, "namespace"), *name = ctl_meta_str(obj, "name");
	describe("SpinAppExecutor", "seen", obj);
	ctl_enqueue_key(ctl->exec_q, ns, name);
	enqueue_apps_of(ctl, ns, name); /* upstream does not watch executors: edits never reached its apps */
}

static void executor_updated(void *ud, json_t *old_obj, json_t *new_obj)
{
	if (spec_or_meta_changed(old_obj, new_obj))
		executor_added(ud, new_obj);
}

static void executor_deleted(void *ud, json_t *obj)
{
	struct controller *ctl = ud;
	ctl_enqueue_key(ctl->exec_q, ctl_meta_str(obj, "namespace"), ctl_meta_str(obj, "name")); /* collects RuntimeClasses */
	enqueue_apps_of(ctl, ctl_meta_str(obj, "namespace"), ctl_meta_str(obj, "name"));
}

/* Owned objects carry the app-name label; their changes (Deployment status above all) requeue the app. */
static void owned_changed(void *ud, json_t *obj)
{
	struct controller *ctl = ud;
	const char *app = json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), SPIN_LABEL_APP_NAME));
	ctl_enqueue_key(ctl->app_q, ctl_meta_str(obj, "namespace"), app);
}

/* Whether two cached (trimmed) versions differ in more than their resourceVersion. */
static int differs_beyond_rv(const json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;
	if (json_object_size(a) != json_object_size(b))
		return 1;
	json_object_foreach((json_t *)a, k, v) {
		json_t *w = json_object_get(b, k);
		if (!w)
			return 1;
		if (strcmp(k, "metadata")) {
			if (!json_equal(v, w))
				return 1;
			continue;
		}
		const char *mk;
		json_t *mv;
		if (json_object_size(v) != json_object_size(w))
			return 1;
		json_object_foreach(v, mk, mv) {
			if (strcmp(mk, "resourceVersion") && !json_equal(mv, json_object_get(w, mk)))
				return 1;
		}
	}
	return 0;
}

/* The caches keep only what reconciles read, so an update that leaves the cached object the same (a
 * Deployment's replica counters, a ReplicaSet's status) cannot change a reconcile's outcome: no requeue. */
static void owned_updated(void *ud, json_t *old_obj, json_t *new_obj)
{
	if (differs_beyond_rv(old_obj, new_obj))
		owned_changed(ud, new_obj);
}

/* A RuntimeClass appearing or vanishing changes the status of the executors that name it. */
static void runtimeclass_changed(void *ud, json_t *obj)
{
	struct controller *ctl = ud;
	const char *name = ctl_meta_str(obj, "name");
	json_t *execs = ctl->store.ops->cache_list(ctl->store.ctx, CTL_EXECUTORS), *e;
	size_t i;
	json_array_foreach(execs, i, e) {
		const json_t *dc = json_object_get(json_object_get(e, "spec"), "deploymentConfig");
		const char *n = json_string_value(json_object_get(dc, "runtimeClassName"));
		if (n && name && !strcmp(n, name)) {
			ctl_enqueue_key(ctl->exec_q, ctl_meta_str(e, "namespace"), ctl_meta_str(e, "name"));
			enqueue_apps_of(ctl, ctl_meta_str(e, "namespace"), ctl_meta_str(e, "name"));
		}
	}
	json_decref(execs);
}

static void runtimeclass_updated(void *ud, json_t *old_obj, json_t *new_obj)
{
	(void)old_obj;
	runtimeclass_changed(ud, new_obj);
}

const struct informer_handlers ctl_app_handlers = { app_added, app_updated, app_deleted };
const struct informer_handlers ctl_executor_handlers = { executor_added, executor_updated, executor_deleted };
const struct informer_handlers ctl_owned_handlers = { owned_changed, owned_updated, owned_changed };
const struct informer_handlers ctl_runtimeclass_handlers = { runtimeclass_changed, runtimeclass_updated,
							     runtimeclass_changed };

/* ---- cache trimming: keep what the reconcilers read ---- */

/* ReplicaSets matter only for the Secrets their pod templates mount. */
static void trim_replicaset(json_t *obj)
{
	json_t *tspec = json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
	json_t *vols = json_incref(json_object_get(tspec, "volumes"));
	json_t *meta = json_object_get(obj, "metadata");
	json_object_del(meta, "annotations");
	json_object_del(obj, "status");
	json_object_set_new(obj, "spec", json_pack("{s:{s:{}}}", "template", "spec"));
	if (vols)
		json_object_set_new(json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec"),
				    "volumes", vols);
}

/* Secrets: we only need names, owners and whether the runtime-config key is there, not the data. */
static void trim_secret(json_t *obj)
{
	json_t *data = json_object_get(obj, "data");
	json_t *marker = json_object_get(data, SPIN_RUNTIME_CONFIG_KEY) ? json_pack("{s:s}", SPIN_RUNTIME_CONFIG_KEY, "")
									 : json_object();
	json_object_set_new(obj, "data", marker ? marker : json_object());
	json_object_del(obj, "stringData");
	json_object_del(json_object_get(obj, "metadata"), "annotations");
}

/* Deployments, Services, HPAs: what we applied (for the apply-skip comparison, applier.h) and nothing the
 * server or other controllers added. Without our apply entry (an object someone else made) the object stays
 * whole, so the comparison sees everything. */
static void trim_applied(json_t *obj)
{
	if (kube_prune_to_applied(obj, APPLIER_FIELD_MANAGER) < 0)
		log_warn("cache", "%s %s/%s: cannot prune to the applied fields: kept whole", json_string_value(json_object_get(obj, "kind")),
			 ctl_meta_str(obj, "namespace"), ctl_meta_str(obj, "name"));
}

/* Of a Deployment's status the SpinApp status mirrors readyReplicas, replicas (for the scale subresource) and
 * the Available/Progressing conditions; of its spec, replicas tells a scale to zero (reconcile_app.c), also when
 * an autoscaler and not our apply set it. */
static void trim_deployment(json_t *obj)
{
	json_t *st = json_object_get(obj, "status"), *keep = json_object(), *conds = json_array(), *c;
	json_t *replicas = json_incref(json_object_get(json_object_get(obj, "spec"), "replicas"));
	size_t i;
	static const char *const fields[] = { "type", "status", "reason", "message" };

	trim_applied(obj);
	if (json_is_integer(replicas) && json_is_object(json_object_get(obj, "spec")))
		json_object_set(json_object_get(obj, "spec"), "replicas", replicas);
	json_decref(replicas);
	json_array_foreach(json_object_get(st, "conditions"), i, c) {
		json_t *kc = json_object();
		for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
			json_t *v = json_object_get(c, fields[f]);
			if (v)
				json_object_set(kc, fields[f], v);
		}
		json_array_append_new(conds, kc);
	}
	if (json_object_get(st, "readyReplicas"))
		json_object_set(keep, "readyReplicas", json_object_get(st, "readyReplicas"));
	if (json_object_get(st, "replicas"))
		json_object_set(keep, "replicas", json_object_get(st, "replicas"));
	if (json_array_size(conds))
		json_object_set(keep, "conditions", conds);
	json_object_set(obj, "status", keep); /* replaces st */
	json_decref(keep);
	json_decref(conds);
}

/* Services and HPAs: nothing of their status is read. */
static void trim_applied_no_status(json_t *obj)
{
	trim_applied(obj);
	json_object_del(obj, "status");
}

/* ---- workers ---- */

struct split_key {
	char buf[512];
	const char *ns, *name;
};

static int split(const char *key, struct split_key *k)
{
	int n = snprintf(k->buf, sizeof k->buf, "%s", key);
	char *slash = strchr(k->buf, '/');
	if (n < 0 || (size_t)n >= sizeof k->buf || !slash)
		return SO_E_INVAL;
	*slash = '\0';
	k->ns = k->buf;
	k->name = slash + 1;
	return SO_OK;
}

static void work(struct controller *ctl, struct queue *q, int executor)
{
	char *key;
	struct reconcile_metrics *m = &ctl->rm[executor];
	while ((key = queue_get(q, -1)) != NULL) {
		struct split_key k;
		atomic_fetch_add(&m->active, 1);
		double t0 = clock_mono_s();
		int rc = split(key, &k);
		if (rc == SO_OK)
			rc = executor ? reconcile_executor(ctl, k.ns, k.name) : reconcile_app(ctl, k.ns, k.name);
		prom_histogram_observe(&m->time, clock_mono_s() - t0);
		atomic_fetch_sub(&m->active, 1);
		atomic_fetch_add(executor ? &ctl->executor_reconciles : &ctl->reconciles, 1);
		atomic_fetch_add(rc == SO_OK ? &m->success : &m->error, 1);
		if (rc == RECONCILE_TERMINAL)
			atomic_fetch_add(&m->terminal, 1);
		if (rc < 0) {
			atomic_fetch_add(&ctl->reconcile_errors, 1);
			if (rc != SO_E_CANCELLED)
				queue_add_rate_limited(q, key);
			log_debug("controller", "%s %s: %s (retry %d)", executor ? "executor" : "spinapp", key,
				  so_strerror(rc), queue_num_requeues(q, key));
		} else {
			queue_forget(q, key); /* success, or an error only a change can fix */
		}
		queue_done(q, key);
		if (!executor)
			deferrals_after_run(ctl->deferrals, q, key);
		free(key);
	}
}

static void *app_worker(void *arg)
{
	work(arg, ((struct controller *)arg)->app_q, 0);
	return NULL;
}

static void *exec_worker(void *arg)
{
	work(arg, ((struct controller *)arg)->exec_q, 1);
	return NULL;
}

/* Every cached object's key into q, without decoding the objects. */
static void enqueue_all(struct queue *q, struct informer *inf)
{
	json_t *keys = informer_keys(inf), *k;
	size_t i;
	json_array_foreach(keys, i, k)
		queue_add(q, json_string_value(k));
	json_decref(keys);
}

/* Periodic resync: every app and executor is reconciled again, in case something outside our watches changed
 * (a referenced Secret, a CA Secret deleted by hand). */
static void *resync(void *arg)
{
	struct controller *ctl = arg;
	pthread_mutex_lock(&ctl->stop_mu);
	while (!ctl->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)ctl->o.resync_s;
		int rc = 0;
		while (!ctl->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&ctl->stop_cv, &ctl->stop_mu, &until);
		if (ctl->stopping)
			break;
		pthread_mutex_unlock(&ctl->stop_mu);
		enqueue_all(ctl->app_q, ctl->apps);
		enqueue_all(ctl->exec_q, ctl->executors);
		pthread_mutex_lock(&ctl->known_mu);
		json_object_clear(ctl->known_ca);
		pthread_mutex_unlock(&ctl->known_mu);
		pthread_mutex_lock(&ctl->stop_mu);
	}
	pthread_mutex_unlock(&ctl->stop_mu);
	return NULL;
}

/* ---- lifecycle ---- */

/* The apps cache is indexed by spec.executor (with the namespace): executor events and reconciles find their
 * apps without decoding the cache. */
static const char *app_executor(const json_t *app)
{
	return ctl_spec_str(app, "executor");
}

static int new_informer(struct controller *ctl, const struct kube_resource *r, const char *selector,
			void (*trim)(json_t *), struct informer_handlers h, struct informer **out)
{
	/* Owned objects are also indexed by app, for the reconcilers that look at all of one app's objects. */
	struct informer_opts o = { .resource = r, .namespace = r->namespaced ? ctl->namespace : NULL,
				   .label_selector = selector, .trim = trim, .handlers = h, .ud = ctl,
				   .index_label = selector ? SPIN_LABEL_APP_NAME : NULL,
				   .index_value = r == &KUBE_SPINAPPS ? app_executor : NULL,
				   .on_recovered = ctl_on_recovered };
	return informer_new(ctl->c, &o, out);
}

struct controller *ctl_new_with_store(const struct controller_opts *o, const struct ctl_store *store)
{
	struct controller *ctl = mem_calloc(1, sizeof *ctl);
	struct queue_opts qo;

	ctl->store = *store;
	ctl->o = *o;
	if (ctl->o.app_workers < 1)
		ctl->o.app_workers = 1;
	pthread_mutex_init(&ctl->stop_mu, NULL);
	pthread_cond_init(&ctl->stop_cv, NULL);
	pthread_mutex_init(&ctl->known_mu, NULL);
	pthread_mutex_init(&ctl->routes_mu, NULL);
	for (int i = 0; i < 2; i++)
		prom_histogram_init(&ctl->rm[i].time, prom_buckets_reconcile, PROM_NBUCKETS_RECONCILE);
	ctl->namespace = o->namespace && *o->namespace ? mem_strdup(o->namespace) : NULL;
	ctl->known_ca = json_object();
	ctl->applier = applier_new();
	ctl->deferrals = deferrals_new(STATUS_DEFER_MAX_S);
	queue_opts_default(&qo);
	ctl->app_q = queue_new(&qo);
	ctl->exec_q = queue_new(&qo);
	return ctl;
}

int controller_new(struct kube_client *c, const struct controller_opts *o, struct controller **out)
{
	struct ctl_store none = { NULL, NULL };
	struct controller *ctl;
	int rc;

	*out = NULL;
	ctl = ctl_new_with_store(o, &none);
	ctl->c = c;
	ctl->store = ctl_store_informers(ctl);
	ctl->routes_handlers = &ctl_owned_handlers;
	if ((rc = recorder_new(c, APP_RECORDER, &ctl->app_rec)) || (rc = recorder_new(c, EXECUTOR_RECORDER, &ctl->exec_rec)))
		goto fail;

	const char *owned = SPIN_LABEL_APP_NAME; /* "has the label" selector */
	if ((rc = new_informer(ctl, &KUBE_SPINAPPS, NULL, NULL, ctl_app_handlers, &ctl->apps)) ||
	    (rc = new_informer(ctl, &KUBE_SPINAPPEXECUTORS, NULL, NULL, ctl_executor_handlers, &ctl->executors)) ||
	    (rc = new_informer(ctl, &KUBE_DEPLOYMENTS, owned, trim_deployment, ctl_owned_handlers, &ctl->deployments)) ||
	    (rc = new_informer(ctl, &KUBE_SERVICES, owned, trim_applied_no_status, ctl_owned_handlers, &ctl->services)) ||
	    (rc = new_informer(ctl, &KUBE_SECRETS, owned, trim_secret, ctl_owned_handlers, &ctl->secrets)) ||
	    (rc = new_informer(ctl, &KUBE_HPAS, owned, trim_applied_no_status, ctl_owned_handlers, &ctl->hpas)) ||
	    (rc = new_informer(ctl, &KUBE_REPLICASETS, owned, trim_replicaset, ctl_owned_handlers, &ctl->replicasets)) ||
	    (rc = new_informer(ctl, &KUBE_RUNTIMECLASSES, NULL, NULL, ctl_runtimeclass_handlers, &ctl->runtimeclasses)))
		goto fail;
	*out = ctl;
	return SO_OK;
fail:
	controller_free(ctl);
	return rc;
}

#define NINFORMERS CTL_NINFORMERS
#define SYNC_SLICE_MS 100 /* how often controller_start looks at stop_requested while caches sync */


int controller_start(struct controller *ctl, double timeout_s)
{
	int rc = controller_start_caches(ctl, timeout_s);
	return rc ? rc : controller_start_workers(ctl);
}

int controller_start_caches(struct controller *ctl, double timeout_s)
{
	struct informer *all[NINFORMERS];
	int rc;

	ctl_informers(ctl, all);
	for (int i = 0; i < NINFORMERS; i++) {
		if ((rc = informer_start(all[i])))
			return rc;
	}
	if ((rc = ctl_probe_start(ctl)))
		return rc;
	if (ctl->c)
		ctl_routes_served(ctl); /* discovery at start; a failure is logged and asked again when needed */
	/* Waits in short slices so that a shutdown request during a slow sync is seen at once. */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < NINFORMERS;) {
		if (ctl->o.stop_requested && ctl->o.stop_requested())
			return SO_E_CANCELLED;
		rc = informer_wait_synced(all[i], SYNC_SLICE_MS);
		if (rc == SO_OK) {
			i++;
			continue;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= timeout_s)
			return rc;
	}
	atomic_store(&ctl->ready, 1);
	return SO_OK;
}

int controller_start_workers(struct controller *ctl)
{
	if (ctl->started)
		return SO_OK;
	ctl->workers = mem_calloc((size_t)ctl->o.app_workers, sizeof *ctl->workers);
	for (int w = 0; w < ctl->o.app_workers; w++) {
		if (pthread_create(&ctl->workers[w], NULL, app_worker, ctl))
			return SO_E_NOMEM;
		ctl->nworkers++;
	}
	if (pthread_create(&ctl->exec_worker, NULL, exec_worker, ctl))
		return SO_E_NOMEM;
	ctl->started = 1;
	if (ctl->o.resync_s > 0 && pthread_create(&ctl->resync_thread, NULL, resync, ctl) == 0)
		ctl->started = 2;
	return SO_OK;
}

void controller_stop(struct controller *ctl, double grace_s)
{
	struct informer *all[NINFORMERS];

	if (!ctl || !ctl->app_q || !ctl->exec_q)
		return;
	/* ready stays: the caches stay readable (no longer refreshed) for the webhook's last answers */
	ctl_probe_stop(ctl);
	pthread_mutex_lock(&ctl->stop_mu);
	ctl->stopping = 1;
	pthread_cond_broadcast(&ctl->stop_cv);
	pthread_mutex_unlock(&ctl->stop_mu);

	/* No new work; reconciles in flight finish (their API calls are bounded by the client's timeouts).
	 * If they overrun the grace period, cancelling the client makes every request return at once. */
	queue_shutdown(ctl->app_q, 0);
	queue_shutdown(ctl->exec_q, 0);
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	double end = (double)deadline.tv_sec + (double)deadline.tv_nsec / 1e9 + grace_s;
	for (;;) {
		if (!queue_processing(ctl->app_q) && !queue_processing(ctl->exec_q))
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)now.tv_sec + (double)now.tv_nsec / 1e9 > end) {
			log_warn("controller", "reconciles still running after %.0f s: cancelling their requests", grace_s);
			kube_client_cancel(ctl->c);
			break;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	for (int w = 0; w < ctl->nworkers; w++)
		pthread_join(ctl->workers[w], NULL);
	ctl->nworkers = 0;
	if (ctl->started) {
		pthread_join(ctl->exec_worker, NULL);
		if (ctl->started == 2)
			pthread_join(ctl->resync_thread, NULL);
		ctl->started = 0;
	}
	ctl_informers(ctl, all);
	for (int i = 0; i < NINFORMERS; i++) { /* all at once: each watch takes up to a second to notice */
		if (all[i])
			informer_signal_stop(all[i]);
	}
	ctl_routes_signal_stop(ctl);
	ctl_routes_stop(ctl);
	for (int i = 0; i < NINFORMERS; i++) {
		if (all[i])
			informer_stop(all[i]);
	}
}

void controller_free(struct controller *ctl)
{
	struct informer *all[NINFORMERS];
	if (!ctl)
		return;
	controller_stop(ctl, 0);
	ctl_informers(ctl, all);
	for (int i = 0; i < NINFORMERS; i++)
		informer_free(all[i]);
	ctl_routes_free(ctl);
	if (ctl->app_rec)
		recorder_free(ctl->app_rec, 5);
	if (ctl->exec_rec)
		recorder_free(ctl->exec_rec, 5);
	queue_free(ctl->app_q);
	queue_free(ctl->exec_q);
	applier_free(ctl->applier);
	deferrals_free(ctl->deferrals);
	json_decref(ctl->known_ca);
	free(ctl->workers);
	free(ctl->namespace);
	pthread_mutex_destroy(&ctl->stop_mu);
	pthread_cond_destroy(&ctl->stop_cv);
	pthread_mutex_destroy(&ctl->known_mu);
	pthread_mutex_destroy(&ctl->routes_mu);
	free(ctl);
}

void controller_get_stats(struct controller *ctl, struct controller_stats *out)
{
	out->reconciles = atomic_load(&ctl->reconciles);
	out->reconcile_errors = atomic_load(&ctl->reconcile_errors);
	out->executor_reconciles = atomic_load(&ctl->executor_reconciles);
	out->writes = atomic_load(&ctl->writes);
	out->skipped_applies = atomic_load(&ctl->skipped_applies);
	out->apps = ctl->apps ? informer_count(ctl->apps) : 0;
	out->executors = ctl->executors ? informer_count(ctl->executors) : 0;
}

int controller_ready(struct controller *ctl)
{
	return atomic_load(&ctl->ready);
}

void controller_executor_names(struct controller *ctl, const char *ns, json_t *names)
{
	json_t *keys, *k;
	size_t i, nslen = ns ? strlen(ns) : 0;
	if (!ctl || !ctl->executors || !ns)
		return;
	keys = informer_keys(ctl->executors); /* "ns/name": no executor is decoded */
	json_array_foreach(keys, i, k) {
		const char *key = json_string_value(k);
		if (key && !strncmp(key, ns, nslen) && key[nslen] == '/')
			json_array_append_new(names, json_string(key + nslen + 1));
	}
	json_decref(keys);
}

json_t *controller_executor(struct controller *ctl, const char *ns, const char *name)
{
	return ctl && ctl->executors && ns && name ? informer_get(ctl->executors, ns, name) : NULL;
}

static const char *const controller_names[2] = { "spinapp", "spinappexecutor" }; /* upstream's */

/* What queue_family writes: a value of struct queue_metrics, or one of the two histograms. */
enum qvalue { Q_ADDS, Q_DEPTH, Q_RETRIES, Q_UNFINISHED, Q_LONGEST, Q_DELAYED, Q_WAIT_H, Q_WORK_H };

/* One workqueue_* family: its header, then the series of both queues (name and controller both the
 * controller's name, as controller-runtime labels them). */
static int queue_family(struct controller *ctl, struct buf *out, const char *name, const char *type,
			const char *help, enum qvalue what)
{
	struct queue *queues[2] = { ctl->app_q, ctl->exec_q };
	int rc = prom_family(out, name, type, help);
	for (int c = 0; rc == SO_OK && c < 2; c++) {
		struct queue_metrics qm;
		char labels[96];
		snprintf(labels, sizeof labels, "controller=\"%s\",name=\"%s\"", controller_names[c], controller_names[c]);
		if (what == Q_WAIT_H || what == Q_WORK_H) {
			rc = prom_histogram_write(out, name, labels,
						  what == Q_WAIT_H ? queue_wait_histogram(queues[c]) : queue_work_histogram(queues[c]));
			continue;
		}
		queue_get_metrics(queues[c], &qm);
		const double v[] = { [Q_ADDS] = (double)qm.adds, [Q_DEPTH] = (double)qm.depth,
				     [Q_RETRIES] = (double)qm.retries, [Q_UNFINISHED] = qm.unfinished_s,
				     [Q_LONGEST] = qm.longest_s, [Q_DELAYED] = (double)qm.delayed };
		if ((rc = buf_appendf(out, "%s{%s} ", name, labels)) == SO_OK && (rc = prom_append_value(out, v[what])) == SO_OK)
			rc = buf_appends(out, "\n");
	}
	return rc;
}

/* controller_runtime_* families: counters and gauges with one series per controller. */
static int per_controller(struct buf *out, const char *name, const char *type, const char *help,
			  const unsigned long v[2])
{
	int rc = prom_family(out, name, type, help);
	for (int c = 0; rc == SO_OK && c < 2; c++)
		rc = buf_appendf(out, "%s{controller=\"%s\"} %lu\n", name, controller_names[c], v[c]);
	return rc;
}

static int reconcile_families(struct controller *ctl, struct buf *out)
{
	const struct reconcile_metrics *m = ctl->rm;
	int rc = prom_family(out, "controller_runtime_reconcile_total", "counter",
			     "Total number of reconciliations per controller");
	/* requeue and requeue_after stay 0: no reconciler here asks for a requeue without an error */
	for (int c = 0; rc == SO_OK && c < 2; c++)
		rc = buf_appendf(out,
				 "controller_runtime_reconcile_total{controller=\"%s\",result=\"error\"} %lu\n"
				 "controller_runtime_reconcile_total{controller=\"%s\",result=\"requeue\"} 0\n"
				 "controller_runtime_reconcile_total{controller=\"%s\",result=\"requeue_after\"} 0\n"
				 "controller_runtime_reconcile_total{controller=\"%s\",result=\"success\"} %lu\n",
				 controller_names[c], atomic_load(&m[c].error), controller_names[c], controller_names[c],
				 controller_names[c], atomic_load(&m[c].success));
	unsigned long errors[2] = { atomic_load(&m[0].error), atomic_load(&m[1].error) };
	unsigned long terminal[2] = { atomic_load(&m[0].terminal), atomic_load(&m[1].terminal) };
	unsigned long workers[2] = { (unsigned long)ctl->o.app_workers, 1 };
	unsigned long active[2] = { (unsigned long)atomic_load(&m[0].active), (unsigned long)atomic_load(&m[1].active) };
	if (rc == SO_OK)
		rc = per_controller(out, "controller_runtime_reconcile_errors_total", "counter",
				    "Total number of reconciliation errors per controller", errors);
	if (rc == SO_OK)
		rc = per_controller(out, "controller_runtime_terminal_reconcile_errors_total", "counter",
				    "Total number of terminal reconciliation errors per controller", terminal);
	if (rc == SO_OK)
		rc = prom_family(out, "controller_runtime_reconcile_time_seconds", "histogram",
				 "Length of time per reconciliation per controller");
	for (int c = 0; rc == SO_OK && c < 2; c++) {
		char labels[64];
		snprintf(labels, sizeof labels, "controller=\"%s\"", controller_names[c]);
		rc = prom_histogram_write(out, "controller_runtime_reconcile_time_seconds", labels, &m[c].time);
	}
	if (rc == SO_OK)
		rc = per_controller(out, "controller_runtime_max_concurrent_reconciles", "gauge",
				    "Maximum number of concurrent reconciles per controller", workers);
	if (rc == SO_OK)
		rc = per_controller(out, "controller_runtime_active_workers", "gauge",
				    "Number of currently used workers per controller", active);
	return rc;
}

static int queue_families(struct controller *ctl, struct buf *out)
{
	int rc = queue_family(ctl, out, "workqueue_adds_total", "counter", "Total number of adds handled by workqueue",
			      Q_ADDS);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "workqueue_depth", "gauge", "Current depth of workqueue", Q_DEPTH);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "workqueue_queue_duration_seconds", "histogram",
				  "How long in seconds an item stays in workqueue before being requested", Q_WAIT_H);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "workqueue_work_duration_seconds", "histogram",
				  "How long in seconds processing an item from workqueue takes.", Q_WORK_H);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "workqueue_unfinished_work_seconds", "gauge",
				  "How many seconds of work has been done that is in progress and hasn't been observed by "
				  "work_duration. Large values indicate stuck threads. One can deduce the number of stuck "
				  "threads by observing the rate at which this increases.",
				  Q_UNFINISHED);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "workqueue_longest_running_processor_seconds", "gauge",
				  "How many seconds has the longest running processor for workqueue been running.", Q_LONGEST);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "workqueue_retries_total", "counter", "Total number of retries handled by workqueue",
				  Q_RETRIES);
	if (rc == SO_OK)
		rc = queue_family(ctl, out, "spin_operator_workqueue_delayed", "gauge",
				  "Keys waiting for a delay or a retry backoff (not in workqueue_depth).", Q_DELAYED);
	return rc;
}

int controller_metrics(struct controller *ctl, struct buf *out)
{
	static const char *const stat_names[] = { "lists", "watches", "events", "relists_gone", "failures" };
	struct informer *all[NINFORMERS];
	int rc = reconcile_families(ctl, out);

	if (rc == SO_OK)
		rc = queue_families(ctl, out);
	if (rc == SO_OK)
		rc = buf_appendf(out,
				 "# HELP spin_operator_api_writes_total Create, apply, update, patch and delete requests made.\n"
				 "# TYPE spin_operator_api_writes_total counter\nspin_operator_api_writes_total %lu\n"
				 "# HELP spin_operator_applies_skipped_total Applies skipped because the cache already matched.\n"
				 "# TYPE spin_operator_applies_skipped_total counter\nspin_operator_applies_skipped_total %lu\n"
				 "# HELP spin_operator_apply_records Objects whose last applied intent is remembered.\n"
				 "# TYPE spin_operator_apply_records gauge\nspin_operator_apply_records %zu\n",
				 atomic_load(&ctl->writes), atomic_load(&ctl->skipped_applies), applier_records(ctl->applier));
	if (rc == SO_OK)
		rc = prom_family(out, "spin_operator_cached_objects", "gauge", "Objects held in the informer caches.");
	ctl_informers(ctl, all);
	for (int i = 0; rc == SO_OK && i < NINFORMERS; i++) {
		if (all[i])
			rc = buf_appendf(out, "spin_operator_cached_objects{resource=\"%s\"} %zu\n",
					 informer_resource(all[i])->plural, informer_count(all[i]));
	}
	if (rc == SO_OK)
		rc = ctl_health_metrics(ctl, out);
	for (int k = 0; rc == SO_OK && k < 5; k++) {
		char name[64], help[96];
		snprintf(name, sizeof name, "spin_operator_informer_%s_total", stat_names[k]);
		snprintf(help, sizeof help, "Informer %s, by resource.", stat_names[k]);
		rc = prom_family(out, name, "counter", help);
		for (int i = 0; rc == SO_OK && i < NINFORMERS; i++) {
			struct informer_stats st;
			if (!all[i])
				continue;
			informer_get_stats(all[i], &st);
			unsigned long v[] = { st.lists, st.watches, st.events, st.relists_gone, st.failures };
			rc = buf_appendf(out, "%s{resource=\"%s\"} %lu\n", name, informer_resource(all[i])->plural, v[k]);
		}
	}
	return rc;
}

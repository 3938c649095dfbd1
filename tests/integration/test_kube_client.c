/*
 * The C client against the real local kube-apiserver (tests/run.sh starts it and installs the CRDs).
 * Every test works in its own namespace. KUBECONFIG points at the admin kubeconfig; CLUSTER_DIR and REPO
 * locate the control-plane scripts (restart-apiserver.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/runtime/informer.h"
#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/kube/watch.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

static int run_script(const char *script);

struct fixture {
	struct kube_config cfg;
	struct kube_client *c;
	char ns[64];
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	static unsigned seq;
	struct fixture *f = calloc(1, sizeof *f);
	char err[512] = "";
	assert_non_null(f);
	if (kube_config_load(NULL, NULL, &f->cfg, err, sizeof err)) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = 0; /* tests measure behaviour, not throttling */
	if (kube_client_new(&f->cfg, &o, &f->c, err, sizeof err)) {
		fprintf(stderr, "client: %s\n", err);
		return -1;
	}
	snprintf(f->ns, sizeof f->ns, "kc-%ld-%u", (long)getpid(), seq++);
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", f->ns);
	int rc = kube_create(f->c, &KUBE_NAMESPACES, NULL, ns, NULL, NULL);
	json_decref(ns);
	if (rc) {
		fprintf(stderr, "create namespace %s: %s\n", f->ns, so_strerror(rc));
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kube_delete(f->c, &KUBE_NAMESPACES, NULL, f->ns, NULL, NULL);
	kube_client_free(f->c);
	kube_config_free(&f->cfg);
	free(f);
	return 0;
}

static json_t *configmap(const char *name, const char *key, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			 "name", name, "labels", "suite", "kube-client", "data", key, value);
}

static const char *data_value(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "data"), key));
}

static void server_version(void **state)
{
	struct fixture *f = *state;
	char *v = NULL;
	struct kube_response resp = { 0 };
	assert_int_equal(kube_server_version(f->c, &v, &resp), SO_OK);
	assert_string_equal(v, "v1.36.3");
	assert_int_equal(resp.http_version, 2); /* HTTP/2 negotiated by ALPN */
	free(v);
	kube_response_free(&resp);
}

static void create_get_update_conflict(void **state)
{
	struct fixture *f = *state;
	struct kube_response resp = { 0 };
	json_t *cm = configmap("one", "a", "1"), *created = NULL, *got = NULL, *updated = NULL;

	assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, &created, NULL), SO_OK);
	assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, NULL, &resp), SO_E_API_ALREADY_EXISTS);
	assert_string_equal(resp.reason, "AlreadyExists");
	assert_non_null(strstr(resp.message, "already exists"));
	assert_int_equal(resp.http_code, 409);

	assert_int_equal(kube_get(f->c, &KUBE_CONFIGMAPS, f->ns, "one", &got, NULL), SO_OK);
	assert_string_equal(data_value(got, "a"), "1");

	/* An update carrying the current resourceVersion wins; one carrying the old version conflicts. */
	json_object_set_new(json_object_get(got, "data"), "a", json_string("2"));
	assert_int_equal(kube_update(f->c, &KUBE_CONFIGMAPS, f->ns, got, &updated, NULL), SO_OK);
	assert_string_equal(data_value(updated, "a"), "2");
	assert_int_equal(kube_update(f->c, &KUBE_CONFIGMAPS, f->ns, got, NULL, &resp), SO_E_API_CONFLICT);
	assert_string_equal(resp.reason, "Conflict");

	assert_int_equal(kube_get(f->c, &KUBE_CONFIGMAPS, f->ns, "missing", NULL, &resp), SO_E_API_NOT_FOUND);
	assert_non_null(strstr(resp.message, "not found"));
	kube_response_free(&resp);
	json_decref(cm);
	json_decref(created);
	json_decref(got);
	json_decref(updated);
}

static void merge_patch_and_apply(void **state)
{
	struct fixture *f = *state;
	struct kube_response resp = { 0 };
	json_t *cm = configmap("two", "a", "1"), *out = NULL;

	assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, NULL, NULL), SO_OK);
	json_t *patch = json_pack("{s:{s:s, s:n}}", "data", "b", "x", "a");
	assert_int_equal(kube_merge_patch(f->c, &KUBE_CONFIGMAPS, f->ns, "two", NULL, patch, &out, NULL), SO_OK);
	assert_string_equal(data_value(out, "b"), "x");
	assert_null(data_value(out, "a")); /* null deletes in a merge patch */
	json_decref(out);
	json_decref(patch);

	/* Server-side apply creates, then a second manager touching the same field conflicts unless forced. */
	json_t *applied = configmap("three", "k", "mine");
	assert_int_equal(kube_apply(f->c, &KUBE_CONFIGMAPS, f->ns, applied, NULL, "spin-operator", 1, &out, NULL), SO_OK);
	assert_string_equal(data_value(out, "k"), "mine");
	json_t *mf = json_object_get(json_object_get(out, "metadata"), "managedFields");
	assert_true(json_array_size(mf) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(mf, 0), "manager")), "spin-operator");
	json_decref(out);
	json_t *theirs = configmap("three", "k", "theirs");
	assert_int_equal(kube_apply(f->c, &KUBE_CONFIGMAPS, f->ns, theirs, NULL, "someone-else", 0, NULL, &resp),
			 SO_E_API_CONFLICT);
	assert_non_null(strstr(resp.message, "conflict"));
	assert_int_equal(kube_apply(f->c, &KUBE_CONFIGMAPS, f->ns, theirs, NULL, "someone-else", 1, &out, NULL), SO_OK);
	assert_string_equal(data_value(out, "k"), "theirs");
	json_decref(out);
	kube_response_free(&resp);
	json_decref(theirs);
	json_decref(applied);
	json_decref(cm);
}

static void delete_with_preconditions(void **state)
{
	struct fixture *f = *state;
	struct kube_response resp = { 0 };
	json_t *cm = configmap("four", "a", "1"), *created = NULL;
	assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, &created, NULL), SO_OK);
	const char *uid = json_string_value(json_object_get(json_object_get(created, "metadata"), "uid"));

	struct kube_delete_opts wrong = { "Background", "00000000-0000-0000-0000-000000000000", NULL };
	assert_int_equal(kube_delete(f->c, &KUBE_CONFIGMAPS, f->ns, "four", &wrong, &resp), SO_E_API_CONFLICT);
	assert_non_null(strstr(resp.message, "the UID in the precondition"));
	struct kube_delete_opts right = { "Foreground", uid, NULL };
	assert_int_equal(kube_delete(f->c, &KUBE_CONFIGMAPS, f->ns, "four", &right, NULL), SO_OK);
	/* Foreground: the object lingers with the foregroundDeletion finalizer until the garbage collector
	 * (kube-controller-manager) removes it; on a fresh cluster its monitors may need half a minute to sync. */
	json_t *got = NULL;
	int rc = kube_get(f->c, &KUBE_CONFIGMAPS, f->ns, "four", &got, NULL);
	if (rc == SO_OK) {
		json_t *meta = json_object_get(got, "metadata");
		assert_non_null(json_object_get(meta, "deletionTimestamp"));
		assert_string_equal(json_string_value(json_array_get(json_object_get(meta, "finalizers"), 0)),
				    "foregroundDeletion");
		json_decref(got);
		for (int i = 0; i < 900 && rc == SO_OK; i++) {
			sleep_ms(100);
			rc = kube_get(f->c, &KUBE_CONFIGMAPS, f->ns, "four", NULL, NULL);
		}
	}
	assert_int_equal(rc, SO_E_API_NOT_FOUND);
	assert_int_equal(kube_delete(f->c, &KUBE_CONFIGMAPS, f->ns, "four", NULL, NULL), SO_E_API_NOT_FOUND);
	kube_response_free(&resp);
	json_decref(created);
	json_decref(cm);
}

static void list_follows_pages(void **state)
{
	struct fixture *f = *state;
	char name[32];
	for (int i = 0; i < 23; i++) {
		snprintf(name, sizeof name, "page-%02d", i);
		json_t *cm = configmap(name, "i", name);
		assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, NULL, NULL), SO_OK);
		json_decref(cm);
	}
	json_t *items = NULL;
	char *rv = NULL;
	struct kube_list_opts o = { "suite=kube-client", NULL, NULL, 5 }; /* 5 pages */
	assert_int_equal(kube_list(f->c, &KUBE_CONFIGMAPS, f->ns, &o, &items, &rv, NULL), SO_OK);
	assert_int_equal(json_array_size(items), 23);
	assert_non_null(rv);
	assert_true(strlen(rv) > 0);
	/* Every name exactly once. */
	for (int i = 0; i < 23; i++) {
		int seen = 0;
		size_t j;
		json_t *it;
		snprintf(name, sizeof name, "page-%02d", i);
		json_array_foreach(items, j, it)
			seen += !strcmp(json_string_value(json_object_get(json_object_get(it, "metadata"), "name")), name);
		assert_int_equal(seen, 1);
	}
	json_decref(items);
	free(rv);
	struct kube_list_opts none = { "suite=nothing-has-this", NULL, NULL, 5 };
	assert_int_equal(kube_list(f->c, &KUBE_CONFIGMAPS, f->ns, &none, &items, NULL, NULL), SO_OK);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
}

struct names {
	int n;
	char seen[32][32];
};

static int collect_name(void *ud, json_t *item)
{
	struct names *nm = ud;
	const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
	if (nm->n < 32)
		snprintf(nm->seen[nm->n], sizeof nm->seen[0], "%s", name ? name : "");
	nm->n++;
	return SO_OK;
}

/* The streamed list decodes every page's items one by one: every object exactly once, a resourceVersion at the end. */
static void list_stream_follows_pages(void **state)
{
	struct fixture *f = *state;
	char name[32];
	for (int i = 0; i < 23; i++) {
		snprintf(name, sizeof name, "stream-%02d", i);
		json_t *cm = configmap(name, "i", name);
		assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, NULL, NULL), SO_OK);
		json_decref(cm);
	}
	struct names nm = { 0 };
	char *rv = NULL;
	struct kube_list_opts o = { "suite=kube-client", NULL, NULL, 5 }; /* 5 pages */
	assert_int_equal(kube_list_stream(f->c, &KUBE_CONFIGMAPS, f->ns, &o, 1 << 20, collect_name, &nm, NULL, &rv, NULL),
			 SO_OK);
	assert_int_equal(nm.n, 23);
	assert_non_null(rv);
	assert_true(strlen(rv) > 0);
	free(rv);
	for (int i = 0; i < 23; i++) {
		int seen = 0;
		snprintf(name, sizeof name, "stream-%02d", i);
		for (int j = 0; j < nm.n; j++)
			seen += !strcmp(nm.seen[j], name);
		assert_int_equal(seen, 1);
	}
	/* An item over the cap fails the list instead of buffering it. */
	struct kube_response resp = { 0 };
	memset(&nm, 0, sizeof nm);
	assert_int_equal(kube_list_stream(f->c, &KUBE_CONFIGMAPS, f->ns, &o, 64, collect_name, &nm, NULL, &rv, &resp),
			 SO_E_TOO_LARGE);
	assert_null(rv);
	assert_non_null(resp.message);
	kube_response_free(&resp);
}

static json_t *spinapp(const char *name, const char *image)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:i}}", "apiVersion", "core.spinkube.dev/v1alpha1", "kind",
			 "SpinApp", "metadata", "name", name, "spec", "executor", "containerd-shim-spin", "image", image,
			 "replicas", 1);
}

static void status_subresource(void **state)
{
	struct fixture *f = *state;
	json_t *app = spinapp("status-app", "ghcr.io/example/app:v1"), *created = NULL, *out = NULL;
	assert_int_equal(kube_create(f->c, &KUBE_SPINAPPS, f->ns, app, &created, NULL), SO_OK);

	json_object_set_new(created, "status", json_pack("{s:i, s:s}", "readyReplicas", 3, "activeScheduler", "x"));
	assert_int_equal(kube_update_status(f->c, &KUBE_SPINAPPS, f->ns, created, &out, NULL), SO_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "status"), "readyReplicas")), 3);
	json_decref(out);

	/* A status change through the main resource is ignored; a spec change through /status is ignored. */
	json_t *patch = json_pack("{s:{s:i}, s:{s:s}}", "status", "readyReplicas", 9, "spec", "image", "ghcr.io/x:v2");
	assert_int_equal(kube_merge_patch(f->c, &KUBE_SPINAPPS, f->ns, "status-app", NULL, patch, &out, NULL), SO_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "status"), "readyReplicas")), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "spec"), "image")), "ghcr.io/x:v2");
	json_decref(out);
	json_decref(patch);

	/* Server-side apply on /status with our field manager. */
	json_t *st = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "core.spinkube.dev/v1alpha1", "kind",
			       "SpinApp", "metadata", "name", "status-app", "status", "readyReplicas", 4);
	assert_int_equal(kube_apply(f->c, &KUBE_SPINAPPS, f->ns, st, "status", "spin-operator", 1, &out, NULL), SO_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "status"), "readyReplicas")), 4);
	json_decref(out);
	json_decref(st);
	json_decref(created);
	json_decref(app);
}

static void schema_errors_are_invalid(void **state)
{
	struct fixture *f = *state;
	struct kube_response resp = { 0 };
	json_t *bad = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "apiVersion", "core.spinkube.dev/v1alpha1", "kind",
				"SpinApp", "metadata", "name", "bad", "spec", "executor", "x", "replicas", "three");
	assert_int_equal(kube_create(f->c, &KUBE_SPINAPPS, f->ns, bad, NULL, &resp), SO_E_API_INVALID);
	assert_string_equal(resp.reason, "Invalid");
	assert_non_null(strstr(resp.message, "spec.replicas"));
	assert_non_null(strstr(resp.message, "spec.image"));
	kube_response_free(&resp);
	json_decref(bad);
}

/* Watching from a resourceVersion the server no longer has yields a 410 Expired ERROR event. */
static int expect_error(void *ud, enum kube_event_type type, json_t *obj)
{
	long *code = ud;
	if (type == KUBE_EVENT_ERROR)
		*code = (long)json_integer_value(json_object_get(obj, "code"));
	return type == KUBE_EVENT_ERROR ? SO_E_API_GONE : SO_OK;
}

static int feed(void *ud, const char *data, size_t len)
{
	return kube_watch_parser_feed(ud, data, len);
}

/*
 * One watch from resourceVersion 1 on path; returns what the client made of it. The parser records the code
 * of an ERROR event in *code.
 */
static int watch_rv1(struct fixture *f, const char *path, long *code, long *http_code)
{
	struct kube_response resp = { 0 };
	struct kube_watch_parser p;
	*code = 0;
	kube_watch_parser_init(&p, 1 << 20, expect_error, code);
	int rc = kube_stream(f->c, path, 0, feed, &p, NULL, &resp);
	*http_code = resp.http_code;
	kube_watch_parser_free(&p);
	kube_response_free(&resp);
	return rc;
}

/*
 * A watch from resourceVersion 1 that the server must refuse with 410. Two conditions make that deterministic:
 * etcd is compacted past revision 1, and the resource's watch cache started after it (the cacher serves any
 * resourceVersion >= the one its initial list ran at; on a fresh cluster the built-in resources' caches
 * start near revision 1). SpinApps qualify: their cache starts when the CRD is installed.
 */
static int expect_expired_watch(struct fixture *f, long *code, long *http_code)
{
	char path[512];
	assert_int_equal(run_script("compact-etcd.sh"), 0);
	snprintf(path, sizeof path,
		 "/apis/core.spinkube.dev/v1alpha1/namespaces/%s/spinapps?watch=1&resourceVersion=1&timeoutSeconds=5",
		 f->ns);
	return watch_rv1(f, path, code, http_code);
}

static void watch_from_expired_rv(void **state)
{
	struct fixture *f = *state;
	long code = 0, http_code = 0;
	int rc = expect_expired_watch(f, &code, &http_code);
	/* Either an ERROR event in a 200 stream (watch cache) or a plain 410 answer is the server's way to say it. */
	assert_int_equal(rc, SO_E_API_GONE);
	assert_true(code == 410 || http_code == 410);
}

/* ---- informer against the real server ---- */

struct counts {
	int adds, updates, deletes, recovered;
};

static void c_recovered(void *ud, struct informer *inf)
{
	(void)inf;
	__atomic_add_fetch(&((struct counts *)ud)->recovered, 1, __ATOMIC_SEQ_CST);
}

static void c_add(void *ud, json_t *o)
{
	(void)o;
	__atomic_add_fetch(&((struct counts *)ud)->adds, 1, __ATOMIC_SEQ_CST);
}

static void c_update(void *ud, json_t *a, json_t *b)
{
	(void)a;
	(void)b;
	__atomic_add_fetch(&((struct counts *)ud)->updates, 1, __ATOMIC_SEQ_CST);
}

static void c_delete(void *ud, json_t *o)
{
	(void)o;
	__atomic_add_fetch(&((struct counts *)ud)->deletes, 1, __ATOMIC_SEQ_CST);
}

static int wait_count(struct informer *inf, size_t n, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		if (informer_count(inf) == n)
			return 1;
		sleep_ms(50);
	}
	return informer_count(inf) == n;
}

static void create_apps(struct fixture *f, const char *prefix, int n)
{
	char name[64];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s-%d", prefix, i);
		json_t *app = spinapp(name, "ghcr.io/example/app:v1");
		assert_int_equal(kube_create(f->c, &KUBE_SPINAPPS, f->ns, app, NULL, NULL), SO_OK);
		json_decref(app);
	}
}

static void informer_lists_and_watches(void **state)
{
	struct fixture *f = *state;
	struct counts n = { 0 };
	struct informer *inf = NULL;
	struct informer_opts o = { .resource = &KUBE_SPINAPPS, .namespace = f->ns,
				   .handlers = { c_add, c_update, c_delete }, .ud = &n };

	create_apps(f, "before", 3);
	assert_int_equal(informer_new(f->c, &o, &inf), SO_OK);
	assert_int_equal(informer_start(inf), SO_OK);
	assert_int_equal(informer_wait_synced(inf, 10000), SO_OK);
	assert_int_equal(informer_count(inf), 3);
	assert_int_equal(n.adds, 3);

	create_apps(f, "after", 2);
	assert_true(wait_count(inf, 5, 10));
	json_t *patch = json_pack("{s:{s:s}}", "spec", "image", "ghcr.io/example/app:v2");
	assert_int_equal(kube_merge_patch(f->c, &KUBE_SPINAPPS, f->ns, "after-0", NULL, patch, NULL, NULL), SO_OK);
	json_decref(patch);
	assert_int_equal(kube_delete(f->c, &KUBE_SPINAPPS, f->ns, "before-0", NULL, NULL), SO_OK);
	assert_true(wait_count(inf, 4, 10));
	for (int i = 0; i < 100 && __atomic_load_n(&n.updates, __ATOMIC_SEQ_CST) < 1; i++)
		sleep_ms(50);
	assert_int_equal(n.adds, 5);
	assert_true(n.updates >= 1);
	assert_int_equal(n.deletes, 1);

	/* The cache holds trimmed objects: no managedFields. */
	json_t *got = informer_get(inf, f->ns, "after-0");
	assert_non_null(got);
	assert_null(json_object_get(json_object_get(got, "metadata"), "managedFields"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "spec"), "image")),
			    "ghcr.io/example/app:v2");
	json_decref(got);
	assert_null(informer_get(inf, f->ns, "before-0"));
	informer_free(inf);
}

static json_t *labelled(const char *name, const char *group)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
			 name, "labels", "suite", "kube-client", "group", group);
}

static size_t indexed(struct informer *inf, const char *ns, const char *group)
{
	json_t *arr = informer_list_indexed(inf, ns, group);
	size_t n = json_array_size(arr);
	json_decref(arr);
	return n;
}

/* The index by label follows lists, adds, relabelling and deletes. */
static void informer_index_by_label(void **state)
{
	struct fixture *f = *state;
	struct informer *inf = NULL;
	struct informer_opts o = { .resource = &KUBE_CONFIGMAPS, .namespace = f->ns, .label_selector = "suite=kube-client",
				   .index_label = "group" };
	const char *names[] = { "a1", "a2", "b1" }, *groups[] = { "a", "a", "b" };
	for (int i = 0; i < 3; i++) {
		json_t *cm = labelled(names[i], groups[i]);
		assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, NULL, NULL), SO_OK);
		json_decref(cm);
	}
	assert_int_equal(informer_new(f->c, &o, &inf), SO_OK);
	assert_int_equal(informer_start(inf), SO_OK);
	assert_int_equal(informer_wait_synced(inf, 10000), SO_OK);
	assert_int_equal(indexed(inf, f->ns, "a"), 2);
	assert_int_equal(indexed(inf, f->ns, "b"), 1);
	assert_int_equal(indexed(inf, "other-namespace", "a"), 0);

	json_t *cm = labelled("b2", "b");
	assert_int_equal(kube_create(f->c, &KUBE_CONFIGMAPS, f->ns, cm, NULL, NULL), SO_OK);
	json_decref(cm);
	json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "group", "b");
	assert_int_equal(kube_merge_patch(f->c, &KUBE_CONFIGMAPS, f->ns, "a1", NULL, patch, NULL, NULL), SO_OK);
	json_decref(patch);
	assert_int_equal(kube_delete(f->c, &KUBE_CONFIGMAPS, f->ns, "a2", NULL, NULL), SO_OK);
	for (int i = 0; i < 200 && (indexed(inf, f->ns, "a") != 0 || indexed(inf, f->ns, "b") != 3); i++)
		sleep_ms(50);
	assert_int_equal(indexed(inf, f->ns, "a"), 0);
	assert_int_equal(indexed(inf, f->ns, "b"), 3);
	json_t *arr = informer_list_indexed(inf, f->ns, "b"), *it;
	size_t i;
	json_array_foreach(arr, i, it)
		assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(it, "metadata"), "labels"), "group")), "b");
	json_decref(arr);
	informer_free(inf);
}

/* An informer resumed from resource_version relists exactly once and recovers the n apps made before it. */
static void resume_relists(struct fixture *f, const char *resource_version, int n_apps)
{
	struct counts n = { 0 };
	struct informer *inf = NULL;
	struct informer_stats st;
	struct informer_opts o = { .resource = &KUBE_SPINAPPS, .namespace = f->ns, .resource_version = resource_version,
				   .handlers = { c_add, c_update, c_delete }, .ud = &n };

	assert_int_equal(informer_new(f->c, &o, &inf), SO_OK);
	assert_int_equal(informer_start(inf), SO_OK);
	assert_true(wait_count(inf, (size_t)n_apps, 30));
	assert_int_equal(informer_wait_synced(inf, 1000), SO_OK);
	informer_get_stats(inf, &st);
	assert_int_equal(st.relists_gone, 1);
	assert_int_equal(st.lists, 1);
	assert_int_equal(n.adds, n_apps);
	informer_free(inf);
}

/* Resuming from an expired resourceVersion: 410, then a relist recovers every object. */
static void informer_relists_after_gone(void **state)
{
	struct fixture *f = *state;
	long code, http_code;
	create_apps(f, "gone", 4);
	assert_int_equal(expect_expired_watch(f, &code, &http_code), SO_E_API_GONE);
	resume_relists(f, "1", 4);
}

/* Resuming from a resourceVersion the API server has not reached (what every informer holds after etcd is
 * restored from a backup): the API server answers a watch from it with silence, so the informer compares it
 * with etcd's current revision first, relists and recovers every object. */
static void informer_relists_after_too_large_rv(void **state)
{
	struct fixture *f = *state;
	create_apps(f, "ahead", 3);
	resume_relists(f, "999999999", 3);
}

/* Runs a control-plane script on the cluster named by CLUSTER_DIR; never on a default one by accident. */
static int run_script(const char *script)
{
	const char *repo = getenv("REPO"), *dir = getenv("CLUSTER_DIR");
	char cmd[1024];
	if (!repo || !dir || !*dir) {
		fprintf(stderr, "REPO and CLUSTER_DIR must name the test cluster\n");
		return -1;
	}
	snprintf(cmd, sizeof cmd, "'%s/tests/cluster/%s' >/dev/null 2>&1", repo, script);
	return system(cmd);
}

/* The watch survives an apiserver restart: reconnects, resumes (or relists) and sees later changes. Its health
 * follows: a failed attempt during the restart is reported recovered once the server answers again, and the last
 * contact is recent. */
static void informer_survives_apiserver_restart(void **state)
{
	struct fixture *f = *state;
	struct counts n = { 0 };
	struct informer *inf = NULL;
	struct informer_stats before, after;
	struct informer_opts o = { .resource = &KUBE_SPINAPPS, .namespace = f->ns,
				   .handlers = { c_add, c_update, c_delete }, .on_recovered = c_recovered, .ud = &n };

	create_apps(f, "restart", 2);
	assert_int_equal(informer_new(f->c, &o, &inf), SO_OK);
	assert_int_equal(informer_start(inf), SO_OK);
	assert_int_equal(informer_wait_synced(inf, 10000), SO_OK);
	informer_get_stats(inf, &before);
	assert_false(informer_failing(inf));
	assert_true(informer_contact_age(inf) < 10);

	assert_int_equal(run_script("restart-apiserver.sh"), 0);
	/* The client's own requests may need a moment while the server warms up. */
	for (int i = 0; i < 100; i++) {
		json_t *app = spinapp("restart-new", "ghcr.io/example/app:v1");
		int rc = kube_create(f->c, &KUBE_SPINAPPS, f->ns, app, NULL, NULL);
		json_decref(app);
		if (rc == SO_OK)
			break;
		sleep_ms(200);
	}
	assert_true(wait_count(inf, 3, 60));
	informer_get_stats(inf, &after);
	assert_true(after.watches > before.watches);
	assert_false(informer_failing(inf));
	assert_true(informer_contact_age(inf) < 10); /* the event that brought restart-new */
	if (after.failures > before.failures)
		assert_true(__atomic_load_n(&n.recovered, __ATOMIC_SEQ_CST) >= 1);
	else
		assert_int_equal(__atomic_load_n(&n.recovered, __ATOMIC_SEQ_CST), 0);
	json_t *got = informer_get(inf, f->ns, "restart-new");
	assert_non_null(got);
	json_decref(got);
	informer_free(inf);
}

/*
 * Two groups. The default one runs in the integration category; TEST_KUBE_CLIENT_GROUP=faults runs the cases
 * that break the server's history (a compacted etcd: 410; a resourceVersion the server has not reached, as
 * after an etcd restore), which tests/faults/relist_410.sh runs and reports. TEST_KUBE_CLIENT_FILTER (a
 * cmocka name pattern) picks cases within the group.
 */
int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(server_version, setup, teardown),
		cmocka_unit_test_setup_teardown(create_get_update_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(merge_patch_and_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(delete_with_preconditions, setup, teardown),
		cmocka_unit_test_setup_teardown(list_follows_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(list_stream_follows_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(status_subresource, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_errors_are_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(informer_lists_and_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(informer_index_by_label, setup, teardown),
		cmocka_unit_test_setup_teardown(informer_survives_apiserver_restart, setup, teardown),
	};
	const struct CMUnitTest faults[] = {
		cmocka_unit_test_setup_teardown(watch_from_expired_rv, setup, teardown),
		cmocka_unit_test_setup_teardown(informer_relists_after_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(informer_relists_after_too_large_rv, setup, teardown),
	};
	const char *group = getenv("TEST_KUBE_CLIENT_GROUP"), *filter = getenv("TEST_KUBE_CLIENT_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	if (group && !strcmp(group, "faults"))
		return cmocka_run_group_tests_name("kube_client_faults", faults, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

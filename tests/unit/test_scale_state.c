/*
 * What the controller keeps per app, with many apps (issue 14 item 15), against an in-process plain-HTTP API
 * fake (libmicrohttpd on 127.0.0.1):
 *   - the applier forgets a deleted app's records (applier_forget_app) and nothing of other apps;
 *   - an informer indexed by spec.executor (the controller's apps cache) answers "which apps use executor
 *     ns/e" with the right keys after a list and after watch adds, executor changes and deletes, and counts
 *     them without decoding, as executor events and executor reconciles ask it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/runtime/applier.h"
#include "operator/runtime/informer.h"
#include "operator/kube/api.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

/* ---- the fake API server ---- */

static struct {
	struct MHD_Daemon *d;
	unsigned short port;
	pthread_mutex_t mu;
	int patches;          /* server-side applies received */
	const char *list;     /* the SpinApp list body */
	struct buf stream;    /* watch events appended by the test, sent to the watcher as they come */
	int stop_stream;
} srv;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* The watch: whatever the test has appended since pos, else a short wait. */
static ssize_t watch_stream(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)cls;
	for (int i = 0; i < 5; i++) {
		pthread_mutex_lock(&srv.mu);
		size_t len = srv.stream.len, n = 0;
		int stop = srv.stop_stream;
		if (pos < len) {
			n = len - (size_t)pos < max ? len - (size_t)pos : max;
			memcpy(out, srv.stream.data + pos, n);
		}
		pthread_mutex_unlock(&srv.mu);
		if (n)
			return (ssize_t)n;
		if (stop)
			return MHD_CONTENT_READER_END_OF_STREAM;
		sleep_ms(10);
	}
	return 0; /* nothing yet: libmicrohttpd calls again (thread per connection) */
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	if (!*req_cls) {
		*req_cls = conn;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(method, "PATCH")) {
		pthread_mutex_lock(&srv.mu);
		srv.patches++;
		pthread_mutex_unlock(&srv.mu);
		return reply(conn, 200, "{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}");
	}
	if (strcmp(method, "GET") || strcmp(url, "/apis/core.spinkube.dev/v1alpha1/spinapps"))
		return reply(conn, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
	if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch")) {
		struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, watch_stream, NULL, NULL);
		MHD_add_response_header(r, "Content-Type", "application/json");
		enum MHD_Result ret = MHD_queue_response(conn, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	return reply(conn, 200, srv.list);
}

struct fixture {
	struct kube_config cfg;
	struct kube_client *c;
	struct informer *inf; /* stopped by teardown too: a failed assertion leaves the test without freeing it */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char yaml[1024], err[256] = "";
	struct sockaddr_in sa = { 0 };
	struct kube_client_opts o;

	if (!f)
		return -1;
	memset(&srv, 0, sizeof srv);
	pthread_mutex_init(&srv.mu, NULL);
	srv.stream = (struct buf)BUF_INIT(1u << 20);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle,
				 NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (!srv.d)
		return -1;
	srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	snprintf(yaml, sizeof yaml,
		 "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		 "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:%u\"}}]\n"
		 "users: [{name: u, user: {}}]\n"
		 "contexts: [{name: t, context: {cluster: c, user: u, namespace: ns}}]\n",
		 srv.port);
	if (kube_config_parse_kubeconfig(yaml, strlen(yaml), "test", NULL, NULL, &f->cfg, err, sizeof err))
		return -1;
	kube_client_opts_default(&o);
	if (kube_client_new(&f->cfg, &o, &f->c, err, sizeof err))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pthread_mutex_lock(&srv.mu);
	srv.stop_stream = 1;
	pthread_mutex_unlock(&srv.mu);
	informer_free(f->inf);
	kube_client_free(f->c);
	kube_config_free(&f->cfg);
	MHD_stop_daemon(srv.d);
	buf_free(&srv.stream);
	pthread_mutex_destroy(&srv.mu);
	free(f);
	return 0;
}

/* ---- the applier ---- */

static json_t *child(const char *kind, const char *name, const char *image)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", kind, "metadata", "name", name,
			 "namespace", "ns", "spec", "image", image);
}

/* Applies a child of app name, live being what a cache would show (NULL: absent). Returns whether it wrote. */
static int apply(struct fixture *f, struct applier *a, const struct kube_resource *r, const char *name,
		 const char *image, const json_t *live)
{
	json_t *desired = child(r->kind, name, image);
	int wrote = -1;
	assert_non_null(desired);
	assert_int_equal(applier_apply(a, f->c, r, "ns", desired, live, NULL, &wrote, NULL), SO_OK);
	json_decref(desired);
	return wrote;
}

static void applier_forgets_deleted_apps(void **state)
{
	struct fixture *f = *state;
	struct applier *a = applier_new();
	static const struct kube_resource *const kinds[] = { &KUBE_DEPLOYMENTS, &KUBE_SERVICES, &KUBE_HPAS };

	assert_non_null(a);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(apply(f, a, kinds[i], "gone", "v1", NULL), 1);
		assert_int_equal(apply(f, a, kinds[i], "kept", "v1", NULL), 1);
	}
	/* Something else in the namespace of another name prefix must survive too. */
	assert_int_equal(apply(f, a, &KUBE_DEPLOYMENTS, "gone-2", "v1", NULL), 1);
	assert_int_equal(applier_records(a), 7);
	assert_int_equal(srv.patches, 7);

	applier_forget_app(a, "ns", "gone");
	assert_int_equal(applier_records(a), 4);
	applier_forget_app(a, "ns", "gone"); /* twice: nothing more to forget, nothing breaks */
	applier_forget_app(a, "other", "kept");
	assert_int_equal(applier_records(a), 4);

	/* kept's records are intact: a changed intent is applied even though the cache shows the old one... */
	json_t *live = child("Deployment", "kept", "v1");
	assert_int_equal(apply(f, a, &KUBE_DEPLOYMENTS, "kept", "v1", live), 0); /* same intent, cache matches */
	json_t *live2 = child("Deployment", "kept", "v2");
	assert_int_equal(apply(f, a, &KUBE_DEPLOYMENTS, "kept", "v1", live2), 1); /* cache drifted: applied */
	/* ...and gone's are not: with no record, a cache that matches is trusted (as after a restart). */
	json_t *glive = child("Deployment", "gone", "v9");
	assert_int_equal(apply(f, a, &KUBE_DEPLOYMENTS, "gone", "v9", glive), 0);
	assert_int_equal(applier_records(a), 4);
	assert_int_equal(srv.patches, 8);

	json_decref(live);
	json_decref(live2);
	json_decref(glive);
	applier_free(a);
}

/* ---- the executor → apps index ---- */

static const char *app_executor(const json_t *app)
{
	return json_string_value(json_object_get(json_object_get(app, "spec"), "executor"));
}

#define APP(ns, name, exec, rv)                                                                                         \
	"{\"apiVersion\":\"core.spinkube.dev/v1alpha1\",\"kind\":\"SpinApp\",\"metadata\":{\"namespace\":\"" ns            \
	"\",\"name\":\"" name "\",\"resourceVersion\":\"" rv "\"},\"spec\":{\"executor\":\"" exec "\",\"image\":\"i\"}}"

static void push(const char *type, const char *obj)
{
	pthread_mutex_lock(&srv.mu);
	assert_int_equal(buf_appendf(&srv.stream, "{\"type\":\"%s\",\"object\":%s}\n", type, obj), SO_OK);
	pthread_mutex_unlock(&srv.mu);
}

/* The sorted keys of the apps of ns/exec, joined by spaces ("" for none). */
static char *keys_of(struct informer *inf, const char *ns, const char *exec)
{
	json_t *keys = informer_keys_indexed(inf, ns, exec), *k;
	const char *sorted[16];
	size_t i, n = json_array_size(keys);
	struct buf out = BUF_INIT(4096);

	assert_non_null(keys);
	assert_true(n <= 16);
	json_array_foreach(keys, i, k)
		sorted[i] = json_string_value(k);
	for (size_t a = 0; a < n; a++) /* a handful: insertion sort */
		for (size_t b = a; b > 0 && strcmp(sorted[b - 1], sorted[b]) > 0; b--) {
			const char *t = sorted[b];
			sorted[b] = sorted[b - 1];
			sorted[b - 1] = t;
		}
	for (i = 0; i < n; i++)
		assert_int_equal(buf_appendf(&out, "%s%s", i ? " " : "", sorted[i]), SO_OK);
	assert_int_equal(informer_count_indexed(inf, ns, exec), n);
	json_decref(keys);
	char *s = strdup(out.data ? out.data : "");
	buf_free(&out);
	assert_non_null(s);
	return s;
}

/* Waits (up to 10 s) until the apps of ns/exec are want. */
static void expect(struct informer *inf, const char *ns, const char *exec, const char *want)
{
	char *got = NULL;
	for (int i = 0; i < 1000; i++) {
		free(got);
		got = keys_of(inf, ns, exec);
		if (!strcmp(got, want))
			break;
		sleep_ms(10);
	}
	assert_string_equal(got, want);
	free(got);
}

static void executor_index_follows_events(void **state)
{
	struct fixture *f = *state;
	struct informer *inf = NULL;
	struct informer_opts o = { .resource = &KUBE_SPINAPPS, .index_value = app_executor };

	srv.list = "{\"kind\":\"SpinAppList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" APP("ns", "a1", "e1", "5")
		   "," APP("ns", "a2", "e1", "6") "," APP("ns", "a3", "e2", "7") "," APP("ns2", "b1", "e1", "8") "]}";
	assert_int_equal(informer_new(f->c, &o, &inf), SO_OK);
	f->inf = inf;
	assert_int_equal(informer_start(inf), SO_OK);
	assert_int_equal(informer_wait_synced(inf, 10000), SO_OK);

	/* After the list: per namespace, per executor. */
	expect(inf, "ns", "e1", "ns/a1 ns/a2");
	expect(inf, "ns", "e2", "ns/a3");
	expect(inf, "ns2", "e1", "ns2/b1");
	expect(inf, "ns", "e3", "");
	expect(inf, "ns2", "e2", "");

	/* Adds, an app moving to another executor, an update that keeps its executor, deletes. */
	push("ADDED", APP("ns", "a4", "e1", "11"));
	push("MODIFIED", APP("ns", "a2", "e2", "12"));
	push("MODIFIED", APP("ns", "a3", "e2", "13"));
	push("DELETED", APP("ns", "a1", "e1", "14"));
	push("DELETED", APP("ns2", "b1", "e1", "15"));
	expect(inf, "ns2", "e1", "");
	expect(inf, "ns", "e1", "ns/a4");
	expect(inf, "ns", "e2", "ns/a2 ns/a3");

	/* The last app of an executor leaving it; an app created again after its deletion. */
	push("MODIFIED", APP("ns", "a4", "e3", "16"));
	push("ADDED", APP("ns", "a1", "e2", "17"));
	expect(inf, "ns", "e2", "ns/a1 ns/a2 ns/a3");
	expect(inf, "ns", "e1", "");
	expect(inf, "ns", "e3", "ns/a4");
	assert_int_equal(informer_count(inf), 4);

	/* informer_keys: every app, nothing decoded. */
	json_t *all = informer_keys(inf);
	assert_int_equal(json_array_size(all), 4);
	json_decref(all);
	informer_free(inf);
	f->inf = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(applier_forgets_deleted_apps, setup, teardown),
		cmocka_unit_test_setup_teardown(executor_index_follows_events, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

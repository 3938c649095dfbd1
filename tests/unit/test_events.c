/*
 * The event recorder (operator/runtime/recorder.c) against an in-process HTTP server (libmicrohttpd on 127.0.0.1)
 * that records every request: the Event a first occurrence creates, merge patches for repeats, the repeat
 * window, NotFound on a patch, the per-object spam filter (driven by an injected clock), the bounded queue,
 * flushing and giving up on shutdown, server errors and odd objects.
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
#include <unistd.h>

#include "operator/runtime/recorder.h"
#include "operator/runtime/recorder_internal.h"
#include "operator/kube/client.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/config.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/log.h"

#define MAX_REQS 2048

struct req {
	char method[8];
	char url[512];
	char ctype[128];
	json_t *body;
};

static struct {
	struct MHD_Daemon *d;
	unsigned short port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req reqs[MAX_REQS];
	int n;
	int patch_code; /* 0: PATCH succeeds; else that HTTP code with a Status body */
	int gate;       /* requests to namespace "slow" wait while set */
	int parked;     /* requests waiting at the gate */
} srv;

static double fake_now = 1000.0;

static double fake_clock(void)
{
	return fake_now;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- the server ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct buf *body = *req_cls;
	if (body) {
		buf_free(body);
		free(body);
		*req_cls = NULL;
	}
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	(void)cls;
	(void)version;
	struct buf *body = *req_cls;
	if (!body) { /* first call: headers only */
		body = calloc(1, sizeof *body);
		if (!body)
			return MHD_NO;
		buf_init(body, 1 << 20);
		*req_cls = body;
		return MHD_YES;
	}
	if (*upload_size) {
		if (buf_append(body, upload_data, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}

	pthread_mutex_lock(&srv.mu);
	if (strstr(url, "/namespaces/slow/")) {
		srv.parked++;
		pthread_cond_broadcast(&srv.cv);
		double until = mono() + 20;
		while (srv.gate && mono() < until) {
			pthread_mutex_unlock(&srv.mu);
			sleep_ms(5);
			pthread_mutex_lock(&srv.mu);
		}
		srv.parked--;
	}
	if (srv.n < MAX_REQS) {
		struct req *q = &srv.reqs[srv.n++];
		const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		snprintf(q->method, sizeof q->method, "%s", method);
		snprintf(q->url, sizeof q->url, "%s", url);
		snprintf(q->ctype, sizeof q->ctype, "%s", ctype ? ctype : "");
		q->body = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	}
	int patch_code = srv.patch_code;
	pthread_mutex_unlock(&srv.mu);

	if (strstr(url, "/namespaces/forbidden/"))
		return reply(conn, 403,
			     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Forbidden\","
			     "\"message\":\"events is forbidden: User \\\"x\\\" cannot create resource \\\"events\\\"\","
			     "\"code\":403}");
	if (!strcmp(method, "POST"))
		return reply(conn, 201, body->data ? body->data : "{}");
	if (!strcmp(method, "PATCH")) {
		if (patch_code)
			return reply(conn, (unsigned)patch_code,
				     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":"
				     "\"NotFound\",\"message\":\"events \\\"x\\\" not found\",\"code\":404}");
		return reply(conn, 200, "{\"kind\":\"Event\",\"apiVersion\":\"v1\"}");
	}
	return reply(conn, 405, "{\"kind\":\"Status\",\"reason\":\"MethodNotAllowed\",\"code\":405}");
}

static void server_reset(void)
{
	pthread_mutex_lock(&srv.mu);
	for (int i = 0; i < srv.n; i++)
		json_decref(srv.reqs[i].body);
	srv.n = 0;
	srv.patch_code = 0;
	srv.gate = 0;
	pthread_mutex_unlock(&srv.mu);
}

static int server_requests(void)
{
	pthread_mutex_lock(&srv.mu);
	int n = srv.n;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

static void set_gate(int on)
{
	pthread_mutex_lock(&srv.mu);
	srv.gate = on;
	pthread_mutex_unlock(&srv.mu);
}

static void wait_parked(int n)
{
	double until = mono() + 10;
	pthread_mutex_lock(&srv.mu);
	while (srv.parked < n && mono() < until) {
		pthread_mutex_unlock(&srv.mu);
		sleep_ms(5);
		pthread_mutex_lock(&srv.mu);
	}
	int parked = srv.parked;
	pthread_mutex_unlock(&srv.mu);
	assert_int_equal(parked, n);
}

static int server_start(void **state)
{
	(void)state;
	memset(&srv, 0, sizeof srv);
	pthread_mutex_init(&srv.mu, NULL);
	pthread_cond_init(&srv.cv, NULL);
	struct sockaddr_in sa = { 0 };
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handle,
				 NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
				 completed, NULL, MHD_OPTION_END);
	if (!srv.d)
		return -1;
	srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

static int server_stop(void **state)
{
	(void)state;
	server_reset();
	MHD_stop_daemon(srv.d);
	pthread_cond_destroy(&srv.cv);
	pthread_mutex_destroy(&srv.mu);
	return 0;
}

/* ---- fixtures ---- */

struct fixture {
	struct kube_config cfg;
	struct kube_client *c;
	struct recorder *r;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char yaml[1024], err[256] = "";
	if (!f)
		return -1;
	server_reset();
	fake_now = 1000.0;
	snprintf(yaml, sizeof yaml,
		 "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		 "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:%u\"}}]\n"
		 "users: [{name: u, user: {}}]\n"
		 "contexts: [{name: t, context: {cluster: c, user: u, namespace: ns}}]\n",
		 srv.port);
	if (kube_config_parse_kubeconfig(yaml, strlen(yaml), "test", NULL, NULL, &f->cfg, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = 0;
	if (kube_client_new(&f->cfg, &o, &f->c, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (recorder_new(f->c, "spinapp-reconciler", &f->r))
		return -1;
	recorder_set_clock(f->r, fake_clock);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	recorder_free(f->r, 10); /* NULL when a test already freed it */
	kube_client_free(f->c);
	kube_config_free(&f->cfg);
	free(f);
	server_reset();
	return 0;
}

static void flush(struct fixture *f)
{
	assert_int_equal(recorder_flush(f->r, 10), SO_OK);
}

static struct recorder_stats stats(struct fixture *f)
{
	struct recorder_stats s;
	recorder_get_stats(f->r, &s);
	return s;
}

static json_t *object(const char *ns, const char *name, const char *uid)
{
	json_t *meta = json_pack("{s:s, s:s}", "name", name, "resourceVersion", "42");
	assert_non_null(meta);
	if (ns)
		json_object_set_new(meta, "namespace", json_string(ns));
	if (uid)
		json_object_set_new(meta, "uid", json_string(uid));
	json_t *o = json_pack("{s:s, s:s, s:o}", "apiVersion", "core.spinkube.dev/v1alpha1", "kind", "SpinApp",
			      "metadata", meta);
	assert_non_null(o);
	return o;
}

static const char *str(const json_t *v, const char *path)
{
	char key[64];
	const char *dot;
	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
		v = json_object_get(v, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(v, path));
}

static const struct req *req(int i)
{
	assert_true(i < server_requests());
	return &srv.reqs[i];
}

static void assert_rfc3339(const char *ts)
{
	assert_non_null(ts);
	assert_int_equal(strlen(ts), 20);
	assert_int_equal(ts[4], '-');
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[19], 'Z');
}

/* "<prefix>.<16 lowercase hex digits>" */
static void assert_event_name(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	assert_non_null(name);
	assert_int_equal(strlen(name), n + 17);
	assert_memory_equal(name, prefix, n);
	assert_int_equal(name[n], '.');
	for (size_t i = n + 1; i < n + 17; i++)
		assert_non_null(strchr("0123456789abcdef", name[i]));
}

/* ---- tests ---- */

static void first_event_is_posted(void **state)
{
	struct fixture *f = *state;
	char host[256] = "";
	json_t *app = object("ns1", "app", "uid-1");
	recorder_event(f->r, app, "Warning", "InvalidExecutor", "executor \"x\" not found");
	flush(f);
	assert_int_equal(server_requests(), 1);

	const struct req *q = req(0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->url, "/api/v1/namespaces/ns1/events");
	assert_string_equal(q->ctype, "application/json");
	const json_t *ev = q->body;
	assert_non_null(ev);
	assert_string_equal(str(ev, "apiVersion"), "v1");
	assert_string_equal(str(ev, "kind"), "Event");
	assert_event_name(str(ev, "metadata.name"), "app");
	assert_string_equal(str(ev, "metadata.namespace"), "ns1");
	assert_string_equal(str(ev, "involvedObject.apiVersion"), "core.spinkube.dev/v1alpha1");
	assert_string_equal(str(ev, "involvedObject.kind"), "SpinApp");
	assert_string_equal(str(ev, "involvedObject.name"), "app");
	assert_string_equal(str(ev, "involvedObject.namespace"), "ns1");
	assert_string_equal(str(ev, "involvedObject.uid"), "uid-1");
	assert_string_equal(str(ev, "involvedObject.resourceVersion"), "42");
	assert_string_equal(str(ev, "reason"), "InvalidExecutor");
	assert_string_equal(str(ev, "message"), "executor \"x\" not found");
	assert_string_equal(str(ev, "type"), "Warning");
	assert_string_equal(str(ev, "source.component"), "spinapp-reconciler");
	assert_string_equal(str(ev, "reportingComponent"), "spinapp-reconciler");
	gethostname(host, sizeof host - 1);
	assert_string_equal(str(ev, "reportingInstance"), host);
	assert_rfc3339(str(ev, "firstTimestamp"));
	assert_string_equal(str(ev, "firstTimestamp"), str(ev, "lastTimestamp"));
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);

	struct recorder_stats s = stats(f);
	assert_int_equal(s.queued, 1);
	assert_int_equal(s.created, 1);
	assert_int_equal(s.patched, 0);
	assert_int_equal(s.failed, 0);
	json_decref(app);
}

static void repeats_are_patched(void **state)
{
	struct fixture *f = *state;
	char path[512];
	json_t *app = object("ns1", "app", "uid-1");

	recorder_event(f->r, app, "Normal", "Scaled", "scaled to 2");
	recorder_event(f->r, app, "Normal", "Scaled", "scaled to 2");
	recorder_event(f->r, app, "Normal", "Scaled", "scaled to 3"); /* another message: another Event */
	recorder_event(f->r, app, "Normal", "Scaled", "scaled to 2");
	recorder_event(f->r, app, "Warning", "Scaled", "scaled to 2"); /* another type: another Event */
	flush(f);
	assert_int_equal(server_requests(), 5);

	const char *first = str(req(0)->body, "metadata.name");
	assert_string_equal(req(0)->method, "POST");

	snprintf(path, sizeof path, "/api/v1/namespaces/ns1/events/%s", first);
	assert_string_equal(req(1)->method, "PATCH");
	assert_string_equal(req(1)->url, path);
	assert_string_equal(req(1)->ctype, "application/merge-patch+json");
	const json_t *patch = req(1)->body;
	assert_int_equal(json_object_size(patch), 2);
	assert_int_equal(json_integer_value(json_object_get(patch, "count")), 2);
	assert_rfc3339(str(patch, "lastTimestamp"));

	assert_string_equal(req(2)->method, "POST");
	assert_string_equal(str(req(2)->body, "message"), "scaled to 3");
	assert_string_not_equal(str(req(2)->body, "metadata.name"), first);
	assert_int_equal(json_integer_value(json_object_get(req(2)->body, "count")), 1);

	assert_string_equal(req(3)->method, "PATCH");
	assert_string_equal(req(3)->url, path);
	assert_int_equal(json_integer_value(json_object_get(req(3)->body, "count")), 3);

	assert_string_equal(req(4)->method, "POST");
	assert_string_equal(str(req(4)->body, "type"), "Warning");

	struct recorder_stats s = stats(f);
	assert_int_equal(s.created, 3);
	assert_int_equal(s.patched, 2);
	json_decref(app);
}

static void repeat_window_is_ten_minutes_since_the_last(void **state)
{
	struct fixture *f = *state;
	json_t *app = object("ns1", "app", "uid-1");

	recorder_event(f->r, app, "Normal", "Synced", "ok");
	fake_now += 599;
	recorder_event(f->r, app, "Normal", "Synced", "ok"); /* within 600 s: patch */
	fake_now += 599;
	recorder_event(f->r, app, "Normal", "Synced", "ok"); /* 1198 s after the first, 599 after the last */
	fake_now += 601;
	recorder_event(f->r, app, "Normal", "Synced", "ok"); /* 601 s after the last: a new Event */
	flush(f);
	assert_int_equal(server_requests(), 4);
	assert_string_equal(req(0)->method, "POST");
	assert_string_equal(req(1)->method, "PATCH");
	assert_string_equal(req(2)->method, "PATCH");
	assert_int_equal(json_integer_value(json_object_get(req(2)->body, "count")), 3);
	assert_string_equal(req(3)->method, "POST");
	assert_int_equal(json_integer_value(json_object_get(req(3)->body, "count")), 1);
	assert_string_not_equal(str(req(3)->body, "metadata.name"), str(req(0)->body, "metadata.name"));
	json_decref(app);
}

static void patch_not_found_creates_a_new_event(void **state)
{
	struct fixture *f = *state;
	char path[512];
	json_t *app = object("ns1", "app", "uid-1");

	recorder_event(f->r, app, "Warning", "Failed", "boom");
	flush(f);
	pthread_mutex_lock(&srv.mu);
	srv.patch_code = 404; /* the Event expired */
	pthread_mutex_unlock(&srv.mu);
	recorder_event(f->r, app, "Warning", "Failed", "boom");
	flush(f);
	pthread_mutex_lock(&srv.mu);
	srv.patch_code = 0;
	pthread_mutex_unlock(&srv.mu);
	recorder_event(f->r, app, "Warning", "Failed", "boom");
	flush(f);

	assert_int_equal(server_requests(), 4);
	assert_string_equal(req(0)->method, "POST");
	assert_string_equal(req(1)->method, "PATCH");
	assert_string_equal(req(2)->method, "POST"); /* recreated, counting from 1 under a new name */
	assert_int_equal(json_integer_value(json_object_get(req(2)->body, "count")), 1);
	const char *second = str(req(2)->body, "metadata.name");
	assert_string_not_equal(second, str(req(0)->body, "metadata.name"));
	snprintf(path, sizeof path, "/api/v1/namespaces/ns1/events/%s", second);
	assert_string_equal(req(3)->method, "PATCH");
	assert_string_equal(req(3)->url, path);
	assert_int_equal(json_integer_value(json_object_get(req(3)->body, "count")), 2);

	struct recorder_stats s = stats(f);
	assert_int_equal(s.created, 2);
	assert_int_equal(s.patched, 1);
	assert_int_equal(s.failed, 0);
	json_decref(app);
}

static void spam_filter_per_object(void **state)
{
	struct fixture *f = *state;
	char msg[64];
	json_t *noisy = object("ns1", "noisy", "uid-noisy"), *quiet = object("ns1", "quiet", "uid-quiet");

	/* A burst of 25, then nothing until a token comes back. */
	for (int i = 0; i < 30; i++) {
		snprintf(msg, sizeof msg, "attempt %d", i);
		recorder_event(f->r, noisy, "Warning", "Failed", msg);
	}
	struct recorder_stats s = stats(f);
	assert_int_equal(s.queued, 25);
	assert_int_equal(s.dropped_spam, 5);

	/* Another object has its own bucket. */
	recorder_event(f->r, quiet, "Normal", "Synced", "ok");
	assert_int_equal(stats(f).queued, 26);

	/* Half a refill period later: still empty. Repeated drops do not push the bucket into debt. */
	fake_now += 150;
	for (int i = 0; i < 50; i++)
		recorder_event(f->r, noisy, "Warning", "Failed", "again");
	assert_int_equal(stats(f).dropped_spam, 55);

	/* 301 s after the burst: one token. */
	fake_now += 151;
	recorder_event(f->r, noisy, "Warning", "Failed", "later");
	recorder_event(f->r, noisy, "Warning", "Failed", "later");
	s = stats(f);
	assert_int_equal(s.queued, 27);
	assert_int_equal(s.dropped_spam, 56);

	/* 3000 s later the bucket holds 10 tokens; after a day it is full again (25, not more). */
	fake_now += 3000;
	for (int i = 0; i < 11; i++)
		recorder_event(f->r, noisy, "Warning", "Failed", "much later");
	s = stats(f);
	assert_int_equal(s.queued, 37);
	assert_int_equal(s.dropped_spam, 57);
	fake_now += 86400;
	for (int i = 0; i < 26; i++)
		recorder_event(f->r, noisy, "Warning", "Failed", "next day");
	s = stats(f);
	assert_int_equal(s.queued, 62);
	assert_int_equal(s.dropped_spam, 58);

	flush(f);
	/* 25 + 1 + 1 + 10 + 25 writes reached the server; repeats of one message became patches. */
	assert_int_equal(server_requests(), 62);
	s = stats(f);
	assert_int_equal(s.created + s.patched, 62);
	assert_int_equal(s.failed, 0);
	json_decref(noisy);
	json_decref(quiet);
}

static void full_queue_drops_without_blocking(void **state)
{
	struct fixture *f = *state;
	char uid[32];

	set_gate(1);
	json_t *first = object("slow", "app-0", "slow-0");
	recorder_event(f->r, first, "Normal", "Created", "first");
	json_decref(first);
	wait_parked(1); /* the writer is stuck in its request */

	double t0 = mono();
	for (int i = 1; i <= RECORDER_QUEUE_MAX + 5; i++) {
		snprintf(uid, sizeof uid, "slow-%d", i);
		json_t *o = object("slow", "app", uid);
		recorder_event(f->r, o, "Normal", "Created", "queued");
		json_decref(o);
	}
	double took = mono() - t0;
	struct recorder_stats s = stats(f);
	assert_int_equal(s.queued, RECORDER_QUEUE_MAX + 1);
	assert_int_equal(s.dropped_full, 5);
	assert_true(took < 2.0); /* no call waited for the stuck writer */
	assert_int_equal(server_requests(), 0);

	/* Events refused for lack of room do not spend their object's spam-filter tokens. */
	json_t *over = object("slow", "over", "slow-over");
	for (int i = 0; i < RECORDER_SPAM_BURST; i++)
		recorder_event(f->r, over, "Normal", "Created", "overflow");
	assert_int_equal(stats(f).dropped_full, 5 + RECORDER_SPAM_BURST);

	set_gate(0);
	assert_int_equal(recorder_flush(f->r, 60), SO_OK);
	assert_int_equal(server_requests(), RECORDER_QUEUE_MAX + 1);
	assert_int_equal(stats(f).created, RECORDER_QUEUE_MAX + 1);

	for (int i = 0; i < RECORDER_SPAM_BURST; i++)
		recorder_event(f->r, over, "Normal", "Created", "room again");
	s = stats(f);
	assert_int_equal(s.dropped_spam, 0);
	assert_int_equal(s.queued, RECORDER_QUEUE_MAX + 1 + RECORDER_SPAM_BURST);
	json_decref(over);
}

static void free_flushes_pending_events(void **state)
{
	struct fixture *f = *state;
	char name[32];
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "app-%d", i);
		json_t *o = object("ns1", name, name);
		recorder_event(f->r, o, "Normal", "Created", "created");
		json_decref(o);
	}
	recorder_free(f->r, 10);
	f->r = NULL;
	assert_int_equal(server_requests(), 20);
	for (int i = 0; i < 20; i++)
		assert_string_equal(req(i)->method, "POST");
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	sleep_ms(1000);
	set_gate(0);
	return NULL;
}

static void free_gives_up_after_its_timeout(void **state)
{
	struct fixture *f = *state;
	pthread_t t;

	set_gate(1);
	for (int i = 0; i < 6; i++) {
		char name[32];
		snprintf(name, sizeof name, "app-%d", i);
		json_t *o = object("slow", name, name);
		recorder_event(f->r, o, "Normal", "Created", "created");
		json_decref(o);
	}
	wait_parked(1);
	assert_int_equal(pthread_create(&t, NULL, open_gate_later, NULL), 0);
	double t0 = mono();
	recorder_free(f->r, 0.3);
	double took = mono() - t0;
	f->r = NULL;
	pthread_join(t, NULL);
	/* The five still queued were dropped at the deadline; the one in flight was finished. */
	assert_int_equal(server_requests(), 1);
	assert_true(took >= 0.3 && took < 10);
}

static void server_errors_are_logged_not_fatal(void **state)
{
	struct fixture *f = *state;
	json_t *o = object("forbidden", "app", "uid-f");
	recorder_event(f->r, o, "Warning", "Failed", "x");
	recorder_event(f->r, o, "Warning", "Failed", "x"); /* nothing was remembered: created again */
	json_decref(o);
	o = object("ns1", "app", "uid-ok");
	recorder_event(f->r, o, "Warning", "Failed", "x");
	json_decref(o);
	flush(f);
	assert_int_equal(server_requests(), 3);
	assert_string_equal(req(0)->method, "POST");
	assert_string_equal(req(1)->method, "POST");
	assert_string_equal(req(2)->url, "/api/v1/namespaces/ns1/events");
	struct recorder_stats s = stats(f);
	assert_int_equal(s.failed, 2);
	assert_int_equal(s.created, 1);
}

static void odd_objects(void **state)
{
	struct fixture *f = *state;
	char big[5000], longname[251];
	json_t *o;

	/* Unusable: dropped, counted, no request. */
	recorder_event(f->r, NULL, "Normal", "R", "m");
	o = json_string("not an object");
	recorder_event(f->r, o, "Normal", "R", "m");
	json_decref(o);
	o = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "ConfigMap");
	recorder_event(f->r, o, "Normal", "R", "m"); /* no metadata */
	json_decref(o);
	o = json_pack("{s:{s:i}}", "metadata", "name", 5);
	recorder_event(f->r, o, "Normal", "R", "m"); /* name not a string */
	json_decref(o);
	o = object("ns1", "app", "uid-1");
	recorder_event(f->r, o, "Error", "R", "m"); /* not Normal or Warning */
	recorder_event(f->r, o, NULL, "R", "m");
	json_decref(o);
	recorder_event(NULL, NULL, "Normal", "R", "m"); /* no recorder: a no-op */
	assert_int_equal(stats(f).dropped_invalid, 6);
	assert_int_equal(stats(f).queued, 0);

	/* No uid, no apiVersion/kind: recorded with what there is. */
	o = json_pack("{s:{s:s, s:s}}", "metadata", "name", "bare", "namespace", "ns1");
	recorder_event(f->r, o, "Normal", NULL, NULL);
	json_decref(o);
	/* Cluster-scoped: the Event goes to "default". */
	o = object(NULL, "cluster-thing", "uid-c");
	recorder_event(f->r, o, "Normal", "R", "bad \xff byte, cut \xe2\x82");
	json_decref(o);
	/* Oversized message and name. */
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	o = object("ns1", longname, "uid-long");
	recorder_event(f->r, o, "Normal", "R", big);
	json_decref(o);
	flush(f);

	assert_int_equal(server_requests(), 3);
	const json_t *ev = req(0)->body;
	assert_string_equal(req(0)->url, "/api/v1/namespaces/ns1/events");
	assert_string_equal(str(ev, "involvedObject.name"), "bare");
	assert_null(json_object_get(json_object_get(ev, "involvedObject"), "uid"));
	assert_null(json_object_get(json_object_get(ev, "involvedObject"), "kind"));
	assert_string_equal(str(ev, "reason"), "");
	assert_string_equal(str(ev, "message"), "");

	ev = req(1)->body;
	assert_string_equal(req(1)->url, "/api/v1/namespaces/default/events");
	assert_string_equal(str(ev, "metadata.namespace"), "default");
	assert_null(json_object_get(json_object_get(ev, "involvedObject"), "namespace"));
	assert_string_equal(str(ev, "message"), "bad ? byte, cut ??");

	ev = req(2)->body;
	assert_int_equal(strlen(str(ev, "message")), RECORDER_MESSAGE_MAX);
	const char *name = str(ev, "metadata.name");
	assert_int_equal(strlen(name), 253);
	assert_string_equal(str(ev, "involvedObject.name"), longname);
	assert_int_equal(stats(f).created, 3);
}

static void bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct recorder *r = (struct recorder *)&r; /* must be overwritten */
	assert_int_equal(recorder_new(NULL, "c", &r), SO_E_INVAL);
	assert_null(r);
	assert_int_equal(recorder_new(f->c, "", &r), SO_E_INVAL);
	assert_int_equal(recorder_new(f->c, NULL, &r), SO_E_INVAL);
	assert_int_equal(recorder_new(f->c, "c", NULL), SO_E_INVAL);
	recorder_free(NULL, 1);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_event_is_posted, setup, teardown),
		cmocka_unit_test_setup_teardown(repeats_are_patched, setup, teardown),
		cmocka_unit_test_setup_teardown(repeat_window_is_ten_minutes_since_the_last, setup, teardown),
		cmocka_unit_test_setup_teardown(patch_not_found_creates_a_new_event, setup, teardown),
		cmocka_unit_test_setup_teardown(spam_filter_per_object, setup, teardown),
		cmocka_unit_test_setup_teardown(full_queue_drops_without_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(free_flushes_pending_events, setup, teardown),
		cmocka_unit_test_setup_teardown(free_gives_up_after_its_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(server_errors_are_logged_not_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(odd_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_arguments, setup, teardown),
	};
	return cmocka_run_group_tests(tests, server_start, server_stop);
}

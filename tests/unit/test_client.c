/*
 * kube/client against an in-process HTTPS server (libmicrohttpd on 127.0.0.1, a self-signed certificate made
 * at start): path prefixes, bearer tokens re-read after a 401, no token ever sent over plain HTTP, 429 with
 * Retry-After, Status mapping over the wire, response caps, malformed bodies, streaming, idle and deadline bounds
 * and cancellation, leader election's write gate (writes held are never sent, reads pass), and no client-side
 * rate limit by default. The token bucket is tested as pure arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/kube/api.h"
#include "operator/kube/kubeconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/kube/watch.h"
#include "operator/base/buf.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/ratelimit.h"
#include "operator/base/ticker.h"

struct server {
	struct MHD_Daemon *d;
	unsigned short port;
	char dir[64];
	char token_path[128];
	char cert_path[128];
	char *key_pem, *cert_pem;
	pthread_mutex_t mu;
	int throttled;        /* 429s sent so far on /throttle */
	int unauth_calls;
	char last_auth[256];
	char last_path[512];
	char last_method[16];
	char last_ctype[128];
};

static struct server srv;
static double client_qps; /* the limiter of the clients made by client() (0: off) */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *body, const char *extra_header,
			     const char *extra_value)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (extra_header)
		MHD_add_response_header(r, extra_header, extra_value);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A never-ending stream: one event, then a space every 50 ms. */
static ssize_t endless(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	static const char ev[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"5\"}}}\n";
	if (pos == 0 && max >= sizeof ev - 1) {
		memcpy(buf, ev, sizeof ev - 1);
		return (ssize_t)(sizeof ev - 1);
	}
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	buf[0] = ' ';
	return 1;
}

/* A stream that stops talking: one event, then nothing (the connection stays open) until the test releases it
 * (or 30 s pass). */
static atomic_int silent_release;

static ssize_t silent(void *cls, uint64_t pos, char *buf, size_t max)
{
	static const char ev[] = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"5\"}}}\n";
	int *ticks = cls;
	if (pos == 0 && max >= sizeof ev - 1) {
		memcpy(buf, ev, sizeof ev - 1);
		return (ssize_t)(sizeof ev - 1);
	}
	if (atomic_load(&silent_release) || ++*ticks > 300)
		return MHD_CONTENT_READER_END_OF_STREAM;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	return 0; /* nothing yet: libmicrohttpd calls again (thread per connection) */
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	if (!*req_cls) { /* first call: headers only */
		*req_cls = conn;
		return MHD_YES;
	}
	if (*upload_size) { /* swallow the body */
		*upload_size = 0;
		return MHD_YES;
	}
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	pthread_mutex_lock(&srv.mu);
	snprintf(srv.last_auth, sizeof srv.last_auth, "%s", auth ? auth : "");
	snprintf(srv.last_path, sizeof srv.last_path, "%s", url);
	snprintf(srv.last_method, sizeof srv.last_method, "%s", method);
	snprintf(srv.last_ctype, sizeof srv.last_ctype, "%s", ctype ? ctype : "");
	pthread_mutex_unlock(&srv.mu);

	if (strncmp(url, "/prefix/", 8) != 0)
		return reply(conn, 404, "404 page not found", NULL, NULL);
	url += 7;
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/ok"))
		return reply(conn, 200, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ok\"}}", NULL, NULL);
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/conflict"))
		return reply(conn, 409,
			     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"the object "
			     "has been modified\",\"reason\":\"Conflict\",\"code\":409}",
			     NULL, NULL);
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/throttle")) {
		pthread_mutex_lock(&srv.mu);
		int n = srv.throttled++;
		pthread_mutex_unlock(&srv.mu);
		if (n < 2)
			return reply(conn, 429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"slow\"}",
				     "Retry-After", "1");
		return reply(conn, 200, "{\"kind\":\"ConfigMap\"}", NULL, NULL);
	}
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/always-throttled"))
		return reply(conn, 429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"busy\"}",
			     "Retry-After", "1");
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/unauth")) {
		/* Rotate the token on disk, and accept only the rotated one. */
		pthread_mutex_lock(&srv.mu);
		srv.unauth_calls++;
		pthread_mutex_unlock(&srv.mu);
		if (auth && !strcmp(auth, "Bearer token-two"))
			return reply(conn, 200, "{\"kind\":\"ConfigMap\"}", NULL, NULL);
		FILE *f = fopen(srv.token_path, "w");
		if (f) {
			fputs("token-two\n", f);
			fclose(f);
		}
		return reply(conn, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":\"Unauthorized\"}",
			     NULL, NULL);
	}
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/big")) {
		static char big[8192];
		memset(big, 'x', sizeof big - 1);
		big[0] = '"';
		big[sizeof big - 2] = '"';
		return reply(conn, 200, big, NULL, NULL);
	}
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/notjson"))
		return reply(conn, 200, "<html>proxy error</html>", NULL, NULL);
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps") && !strcmp(method, "GET")) {
		const char *watch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
		if (watch && MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "silent")) {
			int *ticks = calloc(1, sizeof *ticks);
			struct MHD_Response *r =
				MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, silent, ticks, free);
			enum MHD_Result ret = MHD_queue_response(conn, 200, r);
			MHD_destroy_response(r);
			return ret;
		}
		if (watch) {
			struct MHD_Response *r =
				MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, endless, NULL, NULL);
			enum MHD_Result ret = MHD_queue_response(conn, 200, r);
			MHD_destroy_response(r);
			return ret;
		}
	}
	if (!strcmp(url, "/api/v1/namespaces/ns/configmaps/applied"))
		return reply(conn, 200, "{\"kind\":\"ConfigMap\"}", NULL, NULL);
	return reply(conn, 404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":\"configmaps \\\"x\\\" not found\"}",
		     NULL, NULL);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 16384);
	assert_non_null(f);
	assert_non_null(text);
	size_t n = fread(text, 1, 16383, f);
	assert_true(n > 0 && n < 16383);
	fclose(f);
	return text;
}

static int server_start(void **state)
{
	char cmd[1024];
	(void)state;
	memset(&srv, 0, sizeof srv);
	pthread_mutex_init(&srv.mu, NULL);
	snprintf(srv.dir, sizeof srv.dir, "/tmp/test-client-XXXXXX");
	assert_non_null(mkdtemp(srv.dir));
	snprintf(srv.token_path, sizeof srv.token_path, "%s/token", srv.dir);
	snprintf(srv.cert_path, sizeof srv.cert_path, "%s/server.crt", srv.dir);
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout '%s/server.key' -out '%s' 2>/dev/null",
		 srv.dir, srv.cert_path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "%s/server.key", srv.dir);
	srv.key_pem = read_text(cmd);
	srv.cert_pem = read_text(srv.cert_path);
	struct sockaddr_in sa = { 0 };
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_TLS, 0, NULL,
				 NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				 MHD_OPTION_HTTPS_MEM_KEY, srv.key_pem, MHD_OPTION_HTTPS_MEM_CERT, srv.cert_pem,
				 MHD_OPTION_END);
	assert_non_null(srv.d);
	srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	unlink(cmd);
	return 0;
}

static int server_stop(void **state)
{
	(void)state;
	MHD_stop_daemon(srv.d);
	free(srv.key_pem);
	free(srv.cert_pem);
	unlink(srv.cert_path);
	unlink(srv.token_path);
	rmdir(srv.dir);
	pthread_mutex_destroy(&srv.mu);
	return 0;
}

/* A client for https://127.0.0.1:<port>/prefix/ with a token file holding "token-one". */
static struct kube_client *client(struct kube_config *cfg, size_t max_response)
{
	char yaml[1024], err[256] = "";
	FILE *f = fopen(srv.token_path, "w");
	assert_non_null(f);
	fputs("token-one\n", f);
	fclose(f);
	snprintf(yaml, sizeof yaml,
		 "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		 "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:%u/prefix/\", certificate-authority: %s}}]\n"
		 "users: [{name: u, user: {tokenFile: %s}}]\n"
		 "contexts: [{name: t, context: {cluster: c, user: u, namespace: ns}}]\n",
		 srv.port, srv.cert_path, srv.token_path);
	int rc = kube_config_parse_kubeconfig(yaml, strlen(yaml), "test", NULL, NULL, cfg, err, sizeof err);
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, SO_OK);
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	o.qps = client_qps;
	o.burst = 1;
	o.stream_idle_ms = 1000; /* streams_have_bounds */
	if (max_response)
		o.max_response = max_response;
	struct kube_client *c = NULL;
	assert_int_equal(kube_client_new(cfg, &o, &c, err, sizeof err), SO_OK);
	assert_string_equal(kube_client_namespace(c), "ns");
	return c;
}

static void prefix_token_and_status(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	struct kube_response resp = { 0 };
	json_t *obj = NULL;

	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", &obj, &resp), SO_OK);
	assert_string_equal(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
	assert_string_equal(srv.last_path, "/prefix/api/v1/namespaces/ns/configmaps/ok");
	assert_string_equal(srv.last_auth, "Bearer token-one");
	assert_int_equal(resp.http_version, 1); /* libmicrohttpd offers no h2 by ALPN: HTTP/1.1 */
	json_decref(obj);

	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "conflict", NULL, &resp), SO_E_API_CONFLICT);
	assert_int_equal(resp.http_code, 409);
	assert_string_equal(resp.reason, "Conflict");
	assert_string_equal(resp.message, "the object has been modified");
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "missing", NULL, &resp), SO_E_API_NOT_FOUND);
	assert_string_equal(resp.message, "configmaps \"x\" not found");

	/* Server-side apply: method, content type and query. */
	json_t *cm = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
			       "applied");
	assert_int_equal(kube_apply(c, &KUBE_CONFIGMAPS, "ns", cm, NULL, "spin-operator", 1, NULL, &resp), SO_OK);
	assert_string_equal(srv.last_method, "PATCH");
	assert_string_equal(srv.last_ctype, "application/apply-patch+yaml");
	json_decref(cm);
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

static atomic_int gate_open, gate_asked;

static int gate(void *ud)
{
	assert_ptr_equal(ud, &gate_open);
	atomic_fetch_add(&gate_asked, 1);
	return atomic_load(&gate_open);
}

/* Every request of a method, counted by the server. */
static void write_gate_holds_writes(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	struct kube_response resp = { 0 };
	struct kube_client_stats before, after;
	json_t *cm = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
			       "applied");

	kube_client_set_write_gate(c, gate, &gate_open);
	atomic_store(&gate_open, 0);
	kube_client_get_stats(c, &before);
	snprintf(srv.last_method, sizeof srv.last_method, "none");
	/* held: apply (PATCH), create (POST), update (PUT), delete fail without reaching the server */
	assert_int_equal(kube_apply(c, &KUBE_CONFIGMAPS, "ns", cm, NULL, "spin-operator", 1, NULL, &resp), SO_E_CANCELLED);
	assert_string_equal(resp.message, "writes are held (not the leader)");
	assert_int_equal(kube_create(c, &KUBE_CONFIGMAPS, "ns", cm, NULL, NULL), SO_E_CANCELLED);
	assert_int_equal(kube_update(c, &KUBE_CONFIGMAPS, "ns", cm, NULL, NULL), SO_E_CANCELLED);
	assert_int_equal(kube_delete(c, &KUBE_CONFIGMAPS, "ns", "applied", NULL, NULL), SO_E_CANCELLED);
	assert_string_equal(srv.last_method, "none");
	assert_int_equal(atomic_load(&gate_asked), 4);
	/* reads pass, without asking */
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", NULL, NULL), SO_OK);
	assert_string_equal(srv.last_method, "GET");
	assert_int_equal(atomic_load(&gate_asked), 4);
	kube_client_get_stats(c, &after);
	for (int m = KUBE_POST; m <= KUBE_DELETE; m++) /* held writes are not counted as sent, nor as failures */
		assert_int_equal(after.requests[m], before.requests[m]);
	assert_int_equal(after.failures, before.failures);
	/* so do the reviews that authorize a metrics scrape on any replica: they store nothing */
	assert_int_not_equal(kube_request(c, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json",
					  "{}", 2, NULL),
			     SO_E_CANCELLED);
	assert_string_equal(srv.last_path, "/prefix/apis/authentication.k8s.io/v1/tokenreviews");
	assert_int_not_equal(kube_request(c, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
					  "application/json", "{}", 2, NULL),
			     SO_E_CANCELLED);
	assert_string_equal(srv.last_method, "POST");
	assert_int_equal(atomic_load(&gate_asked), 4);
	srv.last_method[0] = '\0';

	/* open: the same write goes out */
	atomic_store(&gate_open, 1);
	assert_int_equal(kube_apply(c, &KUBE_CONFIGMAPS, "ns", cm, NULL, "spin-operator", 1, NULL, &resp), SO_OK);
	assert_string_equal(srv.last_method, "PATCH");
	json_decref(cm);
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

static void no_rate_limit_by_default(void **state)
{
	(void)state;
	struct kube_client_opts o;
	kube_client_opts_default(&o);
	assert_true(o.qps <= 0); /* as controller-runtime: the API server's Priority and Fairness paces clients */
	assert_int_equal(o.burst, 30);
	struct ratelimit rl;
	ratelimit_init(&rl, o.qps, o.burst, 0);
	for (int i = 0; i < 1000; i++) /* a thousand requests at one instant: none waits */
		assert_true(ratelimit_reserve(&rl, 0) <= 0);
}

static void unauthorized_rereads_token(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	srv.unauth_calls = 0;
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "unauth", NULL, NULL), SO_OK);
	assert_int_equal(srv.unauth_calls, 2);
	assert_string_equal(srv.last_auth, "Bearer token-two");
	kube_client_free(c);
	kube_config_free(&cfg);
}

static void too_many_requests_honours_retry_after(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	struct kube_response resp = { 0 };
	srv.throttled = 0;
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "throttle", NULL, &resp), SO_OK);
	assert_int_equal(srv.throttled, 3); /* two 429s, then the answer */
	/* Persistent throttling: three retries, then the caller sees 429 with the server's Retry-After. */
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "always-throttled", NULL, &resp),
			 SO_E_API_TOO_MANY_REQUESTS);
	assert_int_equal(resp.retry_after_s, 1);
	assert_string_equal(resp.message, "busy");
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

static void bodies_are_capped_and_checked(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 1024);
	struct kube_response resp = { 0 };
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "big", NULL, &resp), SO_E_TOO_LARGE);
	assert_non_null(strstr(resp.message, "1024"));
	json_t *obj = NULL;
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "notjson", &obj, &resp), SO_E_BAD_RESPONSE);
	assert_null(obj);
	assert_non_null(strstr(resp.message, "not JSON"));
	/* The client still works after both. */
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", NULL, &resp), SO_OK);
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

/* A token never goes to a plain-HTTP server, whatever the kubeconfig says; without one, HTTP is allowed
 * (kubectl proxy). */
static void no_token_over_plain_http(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	char err[256], yaml[512];
	snprintf(yaml, sizeof yaml,
		 "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:%u\"}}]\n"
		 "users: [{name: u, user: {token: secret-token}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
		 "current-context: x\n",
		 srv.port);
	assert_int_equal(kube_config_parse_kubeconfig(yaml, strlen(yaml), "t", NULL, NULL, &cfg, err, sizeof err), SO_OK);
	struct kube_client *c = NULL;
	assert_int_equal(kube_client_new(&cfg, NULL, &c, err, sizeof err), SO_OK);
	struct kube_response resp = { 0 };
	srv.last_auth[0] = srv.last_path[0] = '\0';
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", NULL, &resp), SO_E_CONFIG);
	assert_int_equal(resp.http_code, 0);
	assert_non_null(resp.message);
	assert_non_null(strstr(resp.message, "refusing to send a bearer token"));
	assert_null(strstr(resp.message, "secret-token"));
	assert_string_equal(srv.last_path, ""); /* nothing reached the server */
	assert_string_equal(srv.last_auth, "");
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

static void unreachable_server_is_a_transport_error(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	char err[256];
	const char *yaml = "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
			   "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
			   "current-context: x\n";
	assert_int_equal(kube_config_parse_kubeconfig(yaml, strlen(yaml), "t", NULL, NULL, &cfg, err, sizeof err), SO_OK);
	struct kube_client *c = NULL;
	assert_int_equal(kube_client_new(&cfg, NULL, &c, err, sizeof err), SO_OK);
	struct kube_response resp = { 0 };
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "x", NULL, &resp), SO_E_TRANSPORT);
	assert_int_equal(resp.http_code, 0);
	assert_non_null(resp.message);
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

struct stream_ctx {
	struct kube_watch_parser parser;
	int events;
};

static int count_event(void *ud, enum kube_event_type type, json_t *obj)
{
	(void)type;
	(void)obj;
	((struct stream_ctx *)ud)->events++;
	return SO_OK;
}

static int feed(void *ud, const char *data, size_t len)
{
	return kube_watch_parser_feed(&((struct stream_ctx *)ud)->parser, data, len);
}

struct canceller {
	struct kube_client *c;
	atomic_int *stop;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	if (k->stop)
		atomic_store(k->stop, 1);
	else
		kube_client_cancel(k->c);
	return NULL;
}

/* A stream ends promptly when its stop flag is set, and when the whole client is cancelled. */
static void streams_stop_on_request(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	for (int mode = 0; mode < 2; mode++) {
		struct stream_ctx ctx = { 0 };
		atomic_int stop = 0;
		struct canceller k = { c, mode == 0 ? &stop : NULL };
		pthread_t t;
		kube_watch_parser_init(&ctx.parser, 4096, count_event, &ctx);
		assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
		int rc = kube_stream(c, "/api/v1/namespaces/ns/configmaps?watch=1", 0, feed, &ctx, &stop, NULL);
		pthread_join(t, NULL);
		assert_int_equal(rc, SO_E_CANCELLED);
		assert_int_equal(ctx.events, 1);
		kube_watch_parser_free(&ctx.parser);
	}
	assert_true(kube_client_cancelled(c));
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", NULL, NULL), SO_E_CANCELLED);
	kube_client_free(c);
	kube_config_free(&cfg);
}

/* A stream whose peer stops talking ends with SO_E_TIMEOUT once stream_idle_ms (here 1 s) passes below 1 byte/s
 * (libcurl averages the speed over its last 5 s, so about 6 s after the last byte), and a stream that keeps
 * talking ends at its deadline: neither holds a caller forever. */
static void streams_have_bounds(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	struct kube_response resp = { 0 };
	for (int mode = 0; mode < 2; mode++) {
		struct stream_ctx ctx = { 0 };
		kube_watch_parser_init(&ctx.parser, 4096, count_event, &ctx);
		int rc = kube_stream(c, mode ? "/api/v1/namespaces/ns/configmaps?watch=1"
					     : "/api/v1/namespaces/ns/configmaps?watch=1&silent=1",
				     mode ? 1500 : 0, feed, &ctx, NULL, &resp);
		if (rc != SO_E_TIMEOUT)
			fail_msg("%s stream: %s (%s)", mode ? "a talking" : "a silent", so_strerror(rc),
				 resp.message ? resp.message : "");
		assert_int_equal(ctx.events, 1);
		kube_watch_parser_free(&ctx.parser);
	}
	atomic_store(&silent_release, 1);
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

/* client-go's rest_client metrics: every attempt by code, method and host; durations for all but watches. */
static void rest_client_metrics(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_client *c = client(&cfg, 0);
	struct kube_response resp = { 0 };
	struct buf out = BUF_INIT(1 << 20);
	char want[256];

	srv.throttled = 0;
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", NULL, &resp), SO_OK);
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "conflict", NULL, &resp), SO_E_API_CONFLICT);
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "throttle", NULL, &resp), SO_OK); /* 429, 429, 200 */
	json_t *cm = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", "applied");
	assert_int_equal(kube_apply(c, &KUBE_CONFIGMAPS, "ns", cm, NULL, "spin-operator", 1, NULL, &resp), SO_OK);
	json_decref(cm);
	assert_int_equal(kube_client_write_metrics(c, &out), SO_OK);
	snprintf(want, sizeof want, "rest_client_requests_total{code=\"200\",host=\"127.0.0.1:%u\",method=\"GET\"} 2\n", srv.port);
	assert_non_null(strstr(out.data, want));
	snprintf(want, sizeof want, "rest_client_requests_total{code=\"409\",host=\"127.0.0.1:%u\",method=\"GET\"} 1\n", srv.port);
	assert_non_null(strstr(out.data, want));
	snprintf(want, sizeof want, "rest_client_requests_total{code=\"429\",host=\"127.0.0.1:%u\",method=\"GET\"} 2\n", srv.port);
	assert_non_null(strstr(out.data, want));
	snprintf(want, sizeof want, "rest_client_requests_total{code=\"200\",host=\"127.0.0.1:%u\",method=\"PATCH\"} 1\n", srv.port);
	assert_non_null(strstr(out.data, want));
	snprintf(want, sizeof want, "rest_client_request_duration_seconds_count{host=\"127.0.0.1:%u\",verb=\"GET\"} 5\n", srv.port);
	assert_non_null(strstr(out.data, want));
	snprintf(want, sizeof want, "rest_client_request_duration_seconds_bucket{host=\"127.0.0.1:%u\",verb=\"GET\",le=\"60\"} 5\n", srv.port);
	assert_non_null(strstr(out.data, want));
	assert_non_null(strstr(out.data, "# TYPE rest_client_request_duration_seconds histogram\n"));
	assert_non_null(strstr(out.data, "spin_operator_api_requests_total{method=\"GET\"} 5\n"));
	assert_null(strstr(out.data, "verb=\"POST\"")); /* no series for what was never sent */

	/* kube_send_json_within: a deadline shorter than Retry-After answers the 429 at once: one attempt, where
	 * kube_request makes four (three retries) */
	assert_int_equal(kube_send_json_within(c, 500, "GET", "/api/v1/namespaces/ns/configmaps/always-throttled", NULL,
					       NULL, NULL, &resp),
			 SO_E_API_TOO_MANY_REQUESTS);
	assert_int_equal(resp.http_code, 429);
	buf_reset(&out);
	assert_int_equal(kube_client_write_metrics(c, &out), SO_OK);
	snprintf(want, sizeof want, "rest_client_requests_total{code=\"429\",host=\"127.0.0.1:%u\",method=\"GET\"} 3\n", srv.port);
	assert_non_null(strstr(out.data, want));
	buf_free(&out);
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);

	/* no answer at all: code "<error>" */
	struct kube_config bad = { 0 };
	struct kube_client *u = NULL;
	char err[256];
	const char *yaml = "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
			   "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
			   "users: [{name: u, user: {}}]\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n";
	assert_int_equal(kube_config_parse_kubeconfig(yaml, strlen(yaml), "test", NULL, NULL, &bad, err, sizeof err), SO_OK);
	assert_int_equal(kube_client_new(&bad, NULL, &u, err, sizeof err), SO_OK);
	assert_int_equal(kube_get(u, &KUBE_CONFIGMAPS, "ns", "x", NULL, NULL), SO_E_TRANSPORT);
	struct buf out2 = BUF_INIT(1 << 20);
	assert_int_equal(kube_client_write_metrics(u, &out2), SO_OK);
	assert_non_null(strstr(out2.data, "rest_client_requests_total{code=\"<error>\",host=\"127.0.0.1:1\",method=\"GET\"} 1\n"));
	buf_free(&out2);
	kube_client_free(u);
	kube_config_free(&bad);
}

/* kube_get_json_within: the limiter's wait and 429 retries count against the caller's budget; a token that
 * could not be used in time is not taken and nothing is sent. */
static void get_within_a_deadline(void **state)
{
	(void)state;
	struct kube_config cfg = { 0 };
	struct kube_response resp = { 0 };
	json_t *obj = NULL;
	client_qps = 1; /* one request a second, burst 1 */
	struct kube_client *c = client(&cfg, 0);
	client_qps = 0;

	assert_int_equal(kube_get_json_within(c, "/api/v1/namespaces/ns/configmaps/ok", 5000, &obj, &resp), SO_OK);
	assert_string_equal(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
	json_decref(obj);
	/* The bucket is empty for about a second: a 300 ms budget fails at once, unsent (and not counted as a
	 * request or a failure). */
	struct kube_client_stats before, after;
	kube_client_get_stats(c, &before);
	srv.last_path[0] = '\0';
	double t0 = clock_now_s(CLOCK_MONOTONIC);
	assert_int_equal(kube_get_json_within(c, "/api/v1/namespaces/ns/configmaps/ok", 300, &obj, &resp),
			 SO_E_TIMEOUT);
	assert_true(clock_now_s(CLOCK_MONOTONIC) - t0 < 0.25);
	assert_null(obj);
	assert_string_equal(srv.last_path, "");
	assert_non_null(strstr(resp.message, "rate limit"));
	assert_int_equal(kube_get_json_within(c, "/api/v1/namespaces/ns/configmaps/ok", 0, &obj, &resp), SO_E_TIMEOUT);
	kube_client_get_stats(c, &after);
	assert_int_equal(after.requests[KUBE_GET], before.requests[KUBE_GET]);
	assert_int_equal(after.failures, before.failures);
	/* ...and took no token: a plain request still gets the next one, within about a second. */
	t0 = clock_now_s(CLOCK_MONOTONIC);
	assert_int_equal(kube_get(c, &KUBE_CONFIGMAPS, "ns", "ok", NULL, NULL), SO_OK);
	assert_true(clock_now_s(CLOCK_MONOTONIC) - t0 < 1.5);
	kube_client_free(c);
	kube_config_free(&cfg);

	/* A 429 whose Retry-After (1 s) would overrun a 500 ms budget is the answer; no retry. */
	c = client(&cfg, 0);
	t0 = clock_now_s(CLOCK_MONOTONIC);
	assert_int_equal(kube_get_json_within(c, "/api/v1/namespaces/ns/configmaps/always-throttled", 500, &obj, &resp),
			 SO_E_API_TOO_MANY_REQUESTS);
	assert_true(clock_now_s(CLOCK_MONOTONIC) - t0 < 0.5);
	assert_string_equal(resp.message, "busy");
	kube_response_free(&resp);
	kube_client_free(c);
	kube_config_free(&cfg);
}

static void token_bucket_arithmetic(void **state)
{
	(void)state;
	struct ratelimit rl;
	ratelimit_init(&rl, 10, 3, 100.0);
	/* The burst is free, then each token costs 1/rate. */
	assert_true(ratelimit_reserve(&rl, 100.0) == 0);
	assert_true(ratelimit_reserve(&rl, 100.0) == 0);
	assert_true(ratelimit_reserve(&rl, 100.0) == 0);
	double w = ratelimit_reserve(&rl, 100.0);
	assert_true(w > 0.099 && w < 0.101);
	w = ratelimit_reserve(&rl, 100.0);
	assert_true(w > 0.199 && w < 0.201);
	/* After a long pause the bucket refills only up to the burst. */
	assert_true(ratelimit_reserve(&rl, 200.0) == 0);
	assert_true(ratelimit_reserve(&rl, 200.0) == 0);
	assert_true(ratelimit_reserve(&rl, 200.0) == 0);
	assert_true(ratelimit_reserve(&rl, 200.0) > 0);
	ratelimit_destroy(&rl);
	/* With a deadline: a token is taken only when its wait fits; otherwise nothing changes. */
	ratelimit_init(&rl, 10, 1, 100.0);
	assert_true(ratelimit_reserve_within(&rl, 100.0, 0) == 0);
	assert_true(ratelimit_reserve_within(&rl, 100.0, 0.05) < 0);
	w = ratelimit_reserve_within(&rl, 100.0, 0.2);
	assert_true(w > 0.099 && w < 0.101);
	w = ratelimit_reserve(&rl, 100.0); /* the refused one took nothing: only one token of debt so far */
	assert_true(w > 0.199 && w < 0.201);
	ratelimit_destroy(&rl);
	ratelimit_init(&rl, 0, 1, 0); /* unlimited */
	for (int i = 0; i < 100; i++)
		assert_true(ratelimit_reserve(&rl, 0) == 0);
	ratelimit_destroy(&rl);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prefix_token_and_status),
		cmocka_unit_test(unauthorized_rereads_token),
		cmocka_unit_test(too_many_requests_honours_retry_after),
		cmocka_unit_test(bodies_are_capped_and_checked),
		cmocka_unit_test(no_token_over_plain_http), cmocka_unit_test(unreachable_server_is_a_transport_error),
		cmocka_unit_test(streams_stop_on_request),
		cmocka_unit_test(streams_have_bounds),
		cmocka_unit_test(rest_client_metrics),
		cmocka_unit_test(token_bucket_arithmetic),
		cmocka_unit_test(write_gate_holds_writes),
		cmocka_unit_test(no_rate_limit_by_default),
		cmocka_unit_test(get_within_a_deadline),
	};
	return cmocka_run_group_tests(tests, server_start, server_stop);
}

/*
 * libcurl transport for the API server. See client.h for the contract.
 *
 * Threads: any thread may call kube_request/kube_stream. Easy handles come from a operator/base/http.h pool: a handle is
 * used by one thread at a time and keeps its connection alive between requests; DNS and TLS sessions are shared
 * across the pool's handles.
 */
#include "operator/kube/client.h"
#include "operator/kube/auth.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/prom.h"
#include "operator/base/ratelimit.h"
#include "operator/base/http.h"
#include "operator/base/mem.h"

#define POOL_MAX 32             /* idle handles kept; more concurrent callers get temporary handles */
#define RETRY_429_MAX 3
#define RETRY_AFTER_CAP_S 10
#define ERROR_BODY_CAP (1u << 20) /* a non-2xx body bigger than this is truncated before mapping */

/* client-go's rest_client metrics: by HTTP method (verb) and status code; code slot 0 is "<error>" (no answer),
 * slots 1..500 the codes 100..599. */
enum { VERB_GET, VERB_POST, VERB_PUT, VERB_PATCH, VERB_DELETE, VERB_OTHER, NVERBS };
static const char *const verb_names[NVERBS] = { "GET", "POST", "PUT", "PATCH", "DELETE", "OTHER" };
#define NCODE_SLOTS 501

struct kube_client {
	char *base_url;            /* scheme://host:port used in URLs (the tls-server-name host when set) */
	struct curl_slist *connect_to; /* maps tls-server-name back to the real server, or NULL */
	struct kube_pem ca;
	int insecure;
	char *namespace;
	char *user_agent;
	struct kube_auth *auth;
	struct kube_client_opts opts;

	struct http_pool pool;

	struct ratelimit rate;

	atomic_int cancelled;
	/* kube_client_set_write_gate: may be set while other threads send (ud first, then the function) */
	_Atomic(kube_write_gate_fn) write_gate;
	_Atomic(void *) write_gate_ud;
	atomic_ulong requests[KUBE_NMETHODS];
	atomic_ulong failures;
	atomic_ulong history_epoch; /* kube_client_history_rewound */

	char *metrics_host; /* the API server's host:port, escaped for a label value */
	atomic_ulong by_code[NVERBS][NCODE_SLOTS];
	struct prom_histogram duration[NVERBS]; /* every attempt but watches */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
static int curl_uses_openssl; /* the SSL_CTX callback below is only meaningful for that backend */

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	curl_uses_openssl = v && v->ssl_version && !strncmp(v->ssl_version, "OpenSSL/", 8);
}

void kube_client_opts_default(struct kube_client_opts *opts)
{
	opts->qps = 0; /* no client-side limit, as controller-runtime: the API server's Priority and Fairness is */
	opts->burst = 30;
	opts->timeout_ms = 30000;
	opts->connect_timeout_ms = 10000;
	opts->stream_idle_ms = 150000;
	opts->list_timeout_ms = 60000;
	opts->max_response = 32u << 20;
	opts->user_agent = "spin-operator";
}

/* Sleeps up to seconds, waking early when the client is cancelled. */
static int sleep_cancellable(struct kube_client *c, double seconds)
{
	double until = clock_mono_s() + seconds;
	while (!atomic_load(&c->cancelled)) {
		double left = until - clock_mono_s();
		if (left <= 0)
			return SO_OK;
		if (left > 0.1)
			left = 0.1;
		struct timespec ts = { 0, (long)(left * 1e9) };
		nanosleep(&ts, NULL);
	}
	return SO_E_CANCELLED;
}

/* The client-side limit: take a token (possibly going into debt) and sleep off the debt. A caller with a
 * deadline (until > 0, monotonic seconds) takes no token it could not use in time: SO_E_TIMEOUT at once. */
static int rate_wait(struct kube_client *c, double until)
{
	double now = clock_mono_s();
	double wait = until > 0 ? ratelimit_reserve_within(&c->rate, now, until - now) : ratelimit_reserve(&c->rate, now);
	if (wait < 0)
		return SO_E_TIMEOUT;
	return wait > 0 ? sleep_cancellable(c, wait) : SO_OK;
}

static void copy_pem(struct kube_pem *dst, const struct kube_pem *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (!src->data || !src->len)
		return;
	dst->data = mem_alloc(src->len);
	memcpy(dst->data, src->data, src->len);
	dst->len = src->len;
}

/*
 * Splits "https://host:port" into parts. With tls-server-name the URL names that host (so SNI and certificate
 * verification use it) and CURLOPT_CONNECT_TO sends the connection to the real address.
 */
static int setup_endpoint(struct kube_client *c, const struct kube_config *cfg, char *err, size_t errlen)
{
	int rc = SO_E_CONFIG;
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *prefix = NULL;
	struct buf b = BUF_INIT(4096);

	if (curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &prefix, 0) != CURLUE_OK) {
		snprintf(err, errlen, "%s: server \"%s\" is not a valid URL", cfg->source ? cfg->source : "config",
			 cfg->server);
		goto out;
	}
	rc = SO_E_TOO_LARGE; /* the parts go into 4 KiB buffers */
	/* client-go labels its metrics with the URL's host:port (the real server, not tls-server-name) */
	if (buf_appendf(&b, "%s:%s", host, port))
		goto out;
	struct buf esc = BUF_INIT(4096);
	if (prom_escape(&esc, b.data)) {
		buf_free(&esc);
		goto out;
	}
	c->metrics_host = buf_steal(&esc);
	buf_reset(&b);
	if (cfg->tls_server_name && *cfg->tls_server_name) {
		if (buf_appendf(&b, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port))
			goto out;
		c->connect_to = curl_slist_append(NULL, b.data);
		buf_reset(&b);
		if (buf_appendf(&b, "%s://%s:%s", scheme, cfg->tls_server_name, port))
			goto out;
	} else if (buf_appendf(&b, "%s://%s:%s", scheme, host, port)) {
		goto out;
	}
	/* A path prefix (an API server behind a proxy such as https://host/k8s/clusters/c-1) is kept. */
	size_t plen = strlen(prefix);
	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (buf_append(&b, prefix, plen))
		goto out;
	c->base_url = buf_steal(&b);
	rc = SO_OK;
out:
	if (rc == SO_E_TOO_LARGE)
		snprintf(err, errlen, "%s: server or tls-server-name longer than 4 KiB", cfg->source ? cfg->source : "config");
	curl_free(prefix);
	buf_free(&b);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts, struct kube_client **out,
		    char *err, size_t errlen)
{
	int rc;
	struct kube_client *c = NULL;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		snprintf(err, errlen, "libcurl initialisation failed: %s", curl_easy_strerror(curl_init_result));
		return SO_E_TRANSPORT;
	}
	if (!cfg->server || !*cfg->server) {
		snprintf(err, errlen, "%s: no server", cfg->source ? cfg->source : "config");
		return SO_E_CONFIG;
	}
	c = mem_calloc(1, sizeof *c);
	if (opts)
		c->opts = *opts;
	else
		kube_client_opts_default(&c->opts);
	http_pool_init(&c->pool, POOL_MAX);
	ratelimit_init(&c->rate, c->opts.qps, c->opts.burst, clock_mono_s());
	for (int v = 0; v < NVERBS; v++)
		prom_histogram_init(&c->duration[v], prom_buckets_rest_client, PROM_NBUCKETS_REST_CLIENT);

	rc = setup_endpoint(c, cfg, err, errlen);
	if (rc)
		goto fail;
	copy_pem(&c->ca, &cfg->ca);
	c->insecure = cfg->insecure_skip_tls_verify;
	c->namespace = mem_strdup(cfg->namespace ? cfg->namespace : "default");
	c->user_agent = mem_strdup(c->opts.user_agent ? c->opts.user_agent : "spin-operator");
	c->opts.user_agent = c->user_agent;

	rc = kube_auth_new(cfg, &c->auth, err, errlen);
	if (rc)
		goto fail;
	*out = c;
	return SO_OK;
fail:
	kube_client_free(c);
	return rc;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	http_pool_destroy(&c->pool);
	kube_auth_free(c->auth);
	curl_slist_free_all(c->connect_to);
	free(c->base_url);
	free(c->metrics_host);
	free(c->ca.data);
	free(c->namespace);
	free(c->user_agent);
	ratelimit_destroy(&c->rate);
	free(c);
}

void kube_client_cancel(struct kube_client *c)
{
	atomic_store(&c->cancelled, 1);
}

void kube_client_set_write_gate(struct kube_client *c, kube_write_gate_fn allow, void *ud)
{
	atomic_store(&c->write_gate_ud, ud);
	atomic_store(&c->write_gate, allow);
}

int kube_client_cancelled(const struct kube_client *c)
{
	return atomic_load(&c->cancelled);
}

const char *kube_client_namespace(const struct kube_client *c)
{
	return c->namespace;
}

/* A watch is a GET with watch=1 (or true) in its query; a streamed list is counted as the GET it is. */
static int is_watch(const char *path)
{
	const char *q = strchr(path, '?');
	for (const char *p = q; p; p = strchr(p + 1, '&')) {
		if (!strncmp(p + 1, "watch=1", 7) || !strncmp(p + 1, "watch=true", 10))
			return 1;
	}
	return 0;
}

static enum kube_method method_of(const char *method, const char *path)
{
	static const char *const names[] = { "GET", NULL, "POST", "PUT", "PATCH", "DELETE" };
	if (!strcmp(method, "GET") && is_watch(path))
		return KUBE_WATCH;
	for (int i = 0; i < 6; i++) {
		if (names[i] && !strcmp(method, names[i]))
			return (enum kube_method)i;
	}
	return KUBE_OTHER;
}

const char *kube_method_name(enum kube_method m)
{
	static const char *const names[KUBE_NMETHODS] = { "GET", "WATCH", "POST", "PUT", "PATCH", "DELETE", "OTHER" };
	return (unsigned)m < KUBE_NMETHODS ? names[m] : "OTHER";
}

static int verb_of(const char *method)
{
	for (int v = 0; v < VERB_OTHER; v++) {
		if (!strcmp(method, verb_names[v]))
			return v;
	}
	return VERB_OTHER;
}

/* One attempt's outcome, as client-go's request metrics count it. */
static void count_attempt(struct kube_client *c, const char *method, const char *path, long http_code,
			  double seconds)
{
	int v = verb_of(method);
	size_t slot = http_code >= 100 && http_code <= 599 ? (size_t)(http_code - 99) : 0;
	atomic_fetch_add_explicit(&c->by_code[v][slot], 1, memory_order_relaxed);
	if (!is_watch(path)) /* a watch's duration is how long it was kept open, not a latency */
		prom_histogram_observe(&c->duration[v], seconds);
}

int kube_client_write_metrics(struct kube_client *c, struct buf *out)
{
	int rc = prom_family(out, "rest_client_requests_total", "counter",
			     "Number of HTTP requests, partitioned by status code, method, and host.");
	for (int v = 0; rc == SO_OK && v < NVERBS; v++) {
		for (size_t k = 0; rc == SO_OK && k < NCODE_SLOTS; k++) {
			unsigned long n = atomic_load_explicit(&c->by_code[v][k], memory_order_relaxed);
			if (!n)
				continue;
			char code[16];
			snprintf(code, sizeof code, k ? "%zu" : "<error>", k + 99);
			rc = buf_appendf(out, "rest_client_requests_total{code=\"%s\",host=\"%s\",method=\"%s\"} %lu\n", code,
					 c->metrics_host, verb_names[v], n);
		}
	}
	if (rc == SO_OK)
		rc = prom_family(out, "rest_client_request_duration_seconds", "histogram",
				 "Request latency in seconds. Broken down by verb, and host.");
	for (int v = 0; rc == SO_OK && v < NVERBS; v++) {
		char labels[600];
		if (!prom_histogram_count(&c->duration[v]))
			continue;
		snprintf(labels, sizeof labels, "host=\"%s\",verb=\"%s\"", c->metrics_host, verb_names[v]);
		rc = prom_histogram_write(out, "rest_client_request_duration_seconds", labels, &c->duration[v]);
	}
	struct kube_client_stats st;
	kube_client_get_stats(c, &st);
	if (rc == SO_OK)
		rc = prom_family(out, "spin_operator_api_requests_total", "counter",
				 "Requests sent to the API server, by method (WATCH: watch streams).");
	for (int m = 0; rc == SO_OK && m < KUBE_NMETHODS; m++)
		rc = buf_appendf(out, "spin_operator_api_requests_total{method=\"%s\"} %lu\n",
				 kube_method_name((enum kube_method)m), st.requests[m]);
	if (rc == SO_OK)
		rc = prom_family(out, "spin_operator_api_request_failures_total", "counter",
				 "Requests that failed: transport errors and non-2xx answers.");
	if (rc == SO_OK)
		rc = buf_appendf(out, "spin_operator_api_request_failures_total %lu\n", st.failures);
	return rc;
}

void kube_client_get_stats(struct kube_client *c, struct kube_client_stats *out)
{
	for (int i = 0; i < KUBE_NMETHODS; i++)
		out->requests[i] = atomic_load(&c->requests[i]);
	out->failures = atomic_load(&c->failures);
}

void kube_response_free(struct kube_response *r)
{
	if (!r)
		return;
	buf_free(&r->body);
	free(r->reason);
	free(r->message);
	r->reason = NULL;
	r->message = NULL;
}

/*
 * libcurl sets SSL_MODE_RELEASE_BUFFERS, so OpenSSL frees its 16 KB read buffer whenever it drains and
 * allocates it again on the next SSL_read. On a watch stream that is one large malloc per record, and each
 * one makes glibc consolidate the fastbins jansson just filled: 4 % of the operator's CPU in a burst. A
 * dozen connections keeping their buffers cost about 0.4 MB.
 */
static CURLcode keep_tls_buffers(CURL *easy, void *ssl_ctx, void *ud)
{
	(void)easy;
	(void)ud;
	SSL_CTX_clear_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

/* Per-transfer state handed to libcurl callbacks. */
struct transfer {
	struct kube_client *c;
	const atomic_int *stop;    /* per-stream stop flag, or NULL */
	struct http_sink sink;     /* the body (non-streaming, or error body of a stream), or on_data for a stream */
};

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct transfer *t = ud;
	return atomic_load(&t->c->cancelled) || (t->stop && atomic_load(t->stop)) ? 1 : 0;
}

static int map_curl_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return SO_E_TIMEOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return SO_E_CANCELLED;
	case CURLE_OUT_OF_MEMORY:
		return SO_E_NOMEM;
	default:
		return SO_E_TRANSPORT;
	}
}

static void set_message(struct kube_response *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_message(struct kube_response *resp, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	free(resp->message);
	resp->message = mem_strdup(tmp);
}

/* A TokenReview or SubjectAccessReview: a POST that stores nothing, which every replica makes to authorize a
 * metrics scrape, so leader election's write gate lets it through. */
static int is_review(const char *path)
{
	size_t n = strcspn(path, "?");
	static const char *const ends[] = { "/tokenreviews", "/subjectaccessreviews" };
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		size_t e = strlen(ends[i]);
		if (n >= e && !memcmp(path + n - e, ends[i], e))
			return 1;
	}
	return 0;
}

/* One attempt: no retries here. */
static int perform(struct kube_client *c, const char *method, const char *path, const char *content_type,
		   const char *body, size_t body_len, long deadline_ms, double until, kube_stream_fn on_data, void *ud,
		   const atomic_int *stop, struct kube_response *resp)
{
	int rc;
	CURL *easy = NULL;
	struct curl_slist *headers = NULL;
	struct kube_credentials cred = { 0 };
	struct buf url = BUF_INIT(64u << 10);
	struct buf hdr = BUF_INIT(64u << 10);
	char errbuf[CURL_ERROR_SIZE] = "";
	char autherr[256] = "";
	struct transfer t = { 0 };
	int unsent = 0; /* the caller's deadline stopped it before the limiter let it go: no request, no failure */

	resp->http_code = 0;
	buf_reset(&resp->body);
	free(resp->reason);
	free(resp->message);
	resp->reason = resp->message = NULL;
	rc = rate_wait(c, until);
	if (rc) {
		if (rc == SO_E_TIMEOUT)
			set_message(resp, "%s", "deadline reached waiting for the client-side rate limit");
		unsent = 1;
		goto out;
	}
	if (until > 0) {
		/* The limiter's wait came out of the caller's budget. */
		long left = (long)((until - clock_mono_s()) * 1000);
		if (left < 1) {
			rc = SO_E_TIMEOUT;
			set_message(resp, "%s", "deadline reached before the request was sent");
			unsent = 1;
			goto out;
		}
		if (deadline_ms <= 0 || left < deadline_ms)
			deadline_ms = left;
	}
	rc = kube_auth_get(c->auth, &cred, autherr, sizeof autherr);
	if (rc) {
		set_message(resp, "credentials: %s", autherr);
		goto out;
	}
	if (cred.token && strncmp(c->base_url, "https://", 8) != 0) {
		/* Anyone on the path would read the token: client-go sends it, we refuse. */
		rc = SO_E_CONFIG;
		set_message(resp, "refusing to send a bearer token to %s over plain HTTP: use an https:// server",
			    c->base_url);
		goto out;
	}
	/* The URL and each header go into 64 KiB buffers: a longer path, token or content type is refused. */
	rc = SO_E_TOO_LARGE;
	easy = http_pool_get(&c->pool);
	if (buf_appends(&url, c->base_url) || buf_appends(&url, path))
		goto out;
	if (cred.token) {
		if (buf_appendf(&hdr, "Authorization: Bearer %s", cred.token))
			goto out;
		headers = curl_slist_append(headers, hdr.data);
	}
	headers = curl_slist_append(headers, "Accept: application/json");
	if (content_type) {
		buf_reset(&hdr);
		if (buf_appendf(&hdr, "Content-Type: %s", content_type))
			goto out;
		headers = curl_slist_append(headers, hdr.data);
	}

	t.c = c;
	t.stop = stop;
	t.sink.body = &resp->body;
	t.sink.on_data = on_data;
	t.sink.ud = ud;

	curl_easy_setopt(easy, CURLOPT_URL, url.data);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	} else if (body) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, deadline_ms);
	/* Below 1 byte/s for stream_idle_ms: the peer has stopped (handles are reused: set or clear it each time). */
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, on_data ? 1L : 0L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, on_data ? (c->opts.stream_idle_ms + 999) / 1000 : 0L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 15L);
	http_sink_attach(easy, &t.sink);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	if (curl_uses_openssl)
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, keep_tls_buffers);
	if (c->connect_to)
		curl_easy_setopt(easy, CURLOPT_CONNECT_TO, c->connect_to);
	if (c->insecure) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cred.ca.len || c->ca.len) {
		/* The bundle kube_auth re-read (in-cluster ca.crt rotates: copied, as cred goes after this request
		 * while the pooled handle keeps its options), else the configured one, which lives as long as the
		 * client. libcurl keeps no CA cache for blobs and reuses a connection only for the same bundle. */
		const struct kube_pem *p = cred.ca.len ? &cred.ca : &c->ca;
		struct curl_blob ca = { p->data, p->len, cred.ca.len ? CURL_BLOB_COPY : CURL_BLOB_NOCOPY };
		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (cred.client_cert.len && cred.client_key.len) {
		struct curl_blob cert = { cred.client_cert.data, cred.client_cert.len, CURL_BLOB_COPY };
		struct curl_blob key = { cred.client_key.data, cred.client_key.len, CURL_BLOB_COPY };
		curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
	}

	enum kube_method m = method_of(method, path);
	kube_write_gate_fn gate = atomic_load(&c->write_gate);
	/* Asked last, right before the request leaves: a write the gate closed on meanwhile is never sent. */
	if (gate && (m == KUBE_POST || m == KUBE_PUT || m == KUBE_PATCH || m == KUBE_DELETE) && !is_review(path) &&
	    !gate(atomic_load(&c->write_gate_ud))) {
		rc = SO_E_CANCELLED;
		set_message(resp, "%s", "writes are held (not the leader)");
		goto out;
	}
	atomic_fetch_add(&c->requests[m], 1);
	double t0 = clock_mono_s();
	CURLcode cc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->http_code);
	count_attempt(c, method, path, resp->http_code, clock_mono_s() - t0); /* code 0: no answer, "<error>" */
	long version = 0;
	curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
	resp->http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : version ? 1 : 0;
	curl_off_t retry_after = 0;
	if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK)
		resp->retry_after_s = (long)retry_after;

	if (t.sink.data_rc) {
		rc = t.sink.data_rc;
		set_message(resp, "stream consumer stopped: %s", so_strerror(rc));
	} else if (t.sink.too_large) {
		rc = SO_E_TOO_LARGE;
		set_message(resp, "response body exceeds %zu bytes", resp->body.cap);
	} else if (cc != CURLE_OK) {
		rc = map_curl_error(cc);
		set_message(resp, "%s", *errbuf ? errbuf : curl_easy_strerror(cc));
	} else if (resp->http_code >= 200 && resp->http_code < 300) {
		rc = SO_OK;
	} else {
		long ra = 0;
		rc = kube_status_map(resp->http_code, resp->body.data, resp->body.len, &resp->reason, &resp->message,
				     &ra);
		if (ra > resp->retry_after_s)
			resp->retry_after_s = ra;
	}
out:
	/* The Authorization header held the token: wipe our copy before it is freed. */
	if (hdr.data)
		memset(hdr.data, 0, hdr.alloc);
	buf_free(&hdr);
	buf_free(&url);
	curl_slist_free_all(headers);
	kube_credentials_free(&cred);
	if (easy) {
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
		if (rc == SO_E_CANCELLED || rc == SO_E_TRANSPORT || (rc == SO_E_TIMEOUT && !unsent)) {
			curl_easy_cleanup(easy); /* its connection state is suspect */
			/* A peer that went silent or away (a stopped API server, a proxy that stopped forwarding) took
			 * the idle connections with it: without this, each next request would reuse one and wait out
			 * its own deadline on it, one after the other (tests/faults/proxy_silent.sh). */
			if (rc != SO_E_CANCELLED)
				http_pool_flush(&c->pool);
		} else {
			http_pool_put(&c->pool, easy);
		}
	}
	if (rc && !resp->message)
		set_message(resp, "%s", so_strerror(rc));
	if (rc && rc != SO_E_CANCELLED && !unsent)
		atomic_fetch_add(&c->failures, 1);
	return rc;
}

/* deadline_ms bounds each attempt (0: none, for a watch); until (> 0, monotonic seconds) bounds the whole call:
 * the limiter's wait, every attempt, and no 429 retry is waited for past it. */
static int request(struct kube_client *c, const char *method, const char *path, const char *content_type,
		   const char *body, size_t body_len, long deadline_ms, double until, kube_stream_fn on_data,
		   void *ud, const atomic_int *stop, struct kube_response *resp)
{
	struct kube_response local;
	int rc, reauthed = 0, throttled = 0;

	if (!resp) {
		memset(&local, 0, sizeof local);
		resp = &local;
	}
	if (!resp->body.cap)
		buf_init(&resp->body, on_data ? ERROR_BODY_CAP : c->opts.max_response);
	for (;;) {
		if (atomic_load(&c->cancelled) || (stop && atomic_load(stop))) {
			rc = SO_E_CANCELLED;
			set_message(resp, "%s", "client cancelled");
			break;
		}
		resp->retry_after_s = 0;
		rc = perform(c, method, path, content_type, body, body_len, deadline_ms, until, on_data, ud, stop, resp);
		if (rc == SO_E_API_UNAUTHORIZED && !reauthed) {
			reauthed = 1;
			kube_auth_invalidate(c->auth);
			continue;
		}
		if ((rc == SO_E_API_TOO_MANY_REQUESTS || (rc == SO_E_API_UNAVAILABLE && resp->retry_after_s > 0)) &&
		    throttled < RETRY_429_MAX) {
			long wait = resp->retry_after_s > 0 ? resp->retry_after_s : 1;
			throttled++;
			if (wait > RETRY_AFTER_CAP_S)
				wait = RETRY_AFTER_CAP_S;
			if (until > 0 && clock_mono_s() + (double)wait >= until)
				break; /* the retry would start past the caller's deadline: the 429 is the answer */
			log_debug("kube", "%s %s throttled (%s), retrying in %ld s", method, path, so_strerror(rc), wait);
			sleep_cancellable(c, (double)wait); /* a cancel is reported at the loop head */
			continue;
		}
		break;
	}
	if (resp == &local)
		kube_response_free(&local);
	return rc;
}

int kube_request(struct kube_client *c, const char *method, const char *path, const char *content_type,
		 const char *body, size_t body_len, struct kube_response *resp)
{
	return request(c, method, path, content_type, body, body_len, c->opts.timeout_ms, 0, NULL, NULL, NULL, resp);
}

int kube_stream(struct kube_client *c, const char *path, long deadline_ms, kube_stream_fn on_data, void *ud,
		const atomic_int *stop, struct kube_response *resp)
{
	return request(c, "GET", path, NULL, NULL, 0, deadline_ms, 0, on_data, ud, stop, resp);
}

int kube_get_json_within(struct kube_client *c, const char *path, long timeout_ms, json_t **out,
			 struct kube_response *resp)
{
	if (timeout_ms < 1) {
		*out = NULL;
		if (resp)
			set_message(resp, "%s", "deadline reached before the request was sent");
		return SO_E_TIMEOUT;
	}
	return kube_send_json_within(c, timeout_ms, "GET", path, NULL, NULL, out, resp);
}

long kube_client_list_timeout_ms(const struct kube_client *c)
{
	return c->opts.list_timeout_ms;
}

unsigned long kube_client_history_epoch(const struct kube_client *c)
{
	return atomic_load(&c->history_epoch);
}

void kube_client_history_rewound(struct kube_client *c, unsigned long seen)
{
	/* Informers that notice the same restore one after the other move it on once, not once each. */
	atomic_compare_exchange_strong(&c->history_epoch, &seen, seen + 1);
}

int kube_get_json(struct kube_client *c, const char *path, json_t **out, struct kube_response *resp)
{
	return kube_send_json(c, "GET", path, NULL, NULL, out, resp);
}

int kube_send_json(struct kube_client *c, const char *method, const char *path, const char *content_type,
		   const json_t *body, json_t **out, struct kube_response *resp)
{
	return kube_send_json_within(c, 0, method, path, content_type, body, out, resp);
}

int kube_send_json_within(struct kube_client *c, long timeout_ms, const char *method, const char *path,
			  const char *content_type, const json_t *body, json_t **out, struct kube_response *resp)
{
	struct kube_response local;
	char *text = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!resp) {
		memset(&local, 0, sizeof local);
		resp = &local;
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) { /* not an object or array */
			rc = SO_E_INVAL;
			goto out;
		}
	}
	rc = request(c, method, path, body ? (content_type ? content_type : "application/json") : NULL, text,
		     text ? strlen(text) : 0, c->opts.timeout_ms, timeout_ms > 0 ? clock_mono_s() + (double)timeout_ms / 1e3 : 0,
		     NULL, NULL, NULL, resp);
	if (rc == SO_OK && out) {
		json_error_t jerr;
		*out = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, &jerr);
		if (!*out) {
			rc = SO_E_BAD_RESPONSE;
			set_message(resp, "response is not JSON: %s", jerr.text);
		}
	}
out:
	free(text);
	if (resp == &local)
		kube_response_free(&local);
	return rc;
}

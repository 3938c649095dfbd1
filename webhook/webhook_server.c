#include "webhook/webhook_server.h"

#include <gnutls/gnutls.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "operator/base/certwatch.h"
#include "operator/base/health.h"
#include "operator/kube/file.h"
#include "webhook/offload.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/parse.h"
#include "operator/base/prom.h"
#include "webhook/verify/vcache.h"
#include "operator/base/mem.h"

#define NEP 4 /* enum admission_endpoint */
/* An oversized body is read and dropped, so the client gets its 413 instead of a reset, up to this size;
 * past it the connection is closed (a Content-Length past it gets the 413 at once). */
#define DRAIN_LIMIT ((size_t)16 << 20)
/*
 * Connections (docs/webhook.md#connections): the API server sends at most its in-flight limit of writes at once
 * (--max-requests-inflight 400 + --max-mutating-requests-inflight 200 by default, which API Priority and
 * Fairness shares out) and keeps up to 25 idle connections per host, all from one address. PER_IP_LIMIT is
 * above that with room, and half of CONNECTION_LIMIT, so that no single address can take every connection.
 */
#define CONNECTION_LIMIT 2048u
#define PER_IP_LIMIT 1024u
#define NOFILE_WANTED (CONNECTION_LIMIT + 256u) /* the listener, the kube client, registries, files */
/* Once a connection has sent a request: longer than the API server's idle-connection timeout (90 s), so the
 * client closes idle connections first. */
#define IDLE_TIMEOUT_S 120u
/* Until then (TCP accepted, TLS handshake, first request's headers): the API server sends its review as soon as
 * the handshake is done, so a connection quiet for this long is not one of its own. libmicrohttpd counts it from
 * the last byte received, through the handshake too, so a ClientHello never sent is dropped after it. */
#define FIRST_REQUEST_TIMEOUT_S 10u
#define CLIENT_CA_MAX ((size_t)1 << 20) /* a CA bundle */

static const unsigned codes[] = { 200, 400, 403, 404, 405, 413, 415, 500, 503 };
#define NCODES (sizeof codes / sizeof codes[0])
struct ep_stats {
	unsigned long requests[NCODES];
	unsigned long in_flight;
};

struct webhook_server {
	struct MHD_Daemon *d;
	struct certwatch *certs;
	struct webhook_server_opts o;
	char *cert_file, *key_file;
	size_t max_body;
	pthread_mutex_t stats_mu;
	struct ep_stats eps[NEP];
	struct prom_histogram latency[NEP]; /* Prometheus' default buckets, as controller-runtime's */
	atomic_ulong active; /* requests between their first callback and their completion */
	atomic_int draining; /* webhook_server_drain: answers close their connections */
	struct offload *pool; /* reviews that need a registry (image verification); NULL without verification */
	struct buf client_ca; /* PEM: client certificates are required and verified against it; empty: none asked */
	int64_t verify_timeout_ms;
};

/* A review handed to the verification pool; its connection is suspended meanwhile. */
enum vstate { V_NONE, V_PENDING, V_DONE, V_TIMED_OUT, V_BUSY };
struct vjob {
	struct offload_job base;
	struct webhook_server *s;
	struct MHD_Connection *conn; /* until finish */
	struct request *r;           /* until finish */
	atomic_int refs;             /* the pool's and the request's */
	enum admission_endpoint ep;
	struct buf body;             /* the review; read-only once submitted */
	struct buf out;              /* run's answer */
	int status, rc;
};

struct request {
	enum admission_endpoint ep;
	const char *method; /* MHD's, valid until the request completes */
	struct buf body;
	size_t received;
	int too_large, answered;
	double t0; /* clock_mono_s */
	struct vjob *job;   /* while deferred to the pool and after (its body serves a fallback answer) */
	enum vstate vstate; /* written by the pool's finish before it resumes the connection */
};

static void count(struct webhook_server *s, struct request *r, unsigned code)
{
	double dt = (clock_mono_s() - r->t0);
	size_t i;
	pthread_mutex_lock(&s->stats_mu);
	struct ep_stats *e = &s->eps[r->ep];
	for (i = 0; i < NCODES; i++) {
		if (codes[i] == code) {
			e->requests[i]++;
			break;
		}
	}
	pthread_mutex_unlock(&s->stats_mu);
	prom_histogram_observe(&s->latency[r->ep], dt);
}

/* Queues an answer; body is copied unless must_free (then it is allocated and handed to MHD). */
static enum MHD_Result reply(struct webhook_server *s, struct MHD_Connection *conn, struct request *r, unsigned code,
			     const char *ctype, char *body, size_t len, int must_free)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (code == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
	if (atomic_load(&s->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	if (r && !r->answered) {
		r->answered = 1;
		count(s, r, code);
		log_debug("webhook", "%s %s: %u (%zu bytes in, %zu out, %.2f ms)", r->method, admission_path(r->ep), code,
			  r->received, len, (clock_mono_s() - r->t0) * 1e3);
	}
	return ret;
}

static enum MHD_Result reply_text(struct webhook_server *s, struct MHD_Connection *conn, struct request *r,
				  unsigned code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result reply_text(struct webhook_server *s, struct MHD_Connection *conn, struct request *r,
				  unsigned code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = (int)sizeof msg - 1;
	return reply(s, conn, r, code, "text/plain; charset=utf-8", msg, (size_t)n, 0);
}

/* application/json, with or without parameters (charset=utf-8), in any case. */
static int is_json(const char *ctype)
{
	static const char want[] = "application/json";
	if (!ctype)
		return 0;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, want, sizeof want - 1) != 0)
		return 0;
	char c = ctype[sizeof want - 1];
	return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

static void vjob_unref(struct vjob *j)
{
	if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	buf_free(&j->body);
	buf_free(&j->out);
	free(j);
}

/* On a pool worker: the whole review again, verification included (no I/O happened on the request thread). */
static void vjob_run(struct offload_job *b)
{
	struct vjob *j = (struct vjob *)b;
	struct admission_ctx ctx = j->s->o.admission;
	ctx.endpoint = j->ep;
	ctx.verify_mode = ADMISSION_VERIFY_INLINE;
	ctx.verify_deadline_ms = j->base.deadline_ms;
	j->rc = admission_handle(j->body.data ? j->body.data : "", j->body.len, &ctx, &j->out, &j->status);
}

static void vjob_finish(struct offload_job *b, int timed_out)
{
	struct vjob *j = (struct vjob *)b;
	j->r->vstate = timed_out ? V_TIMED_OUT : V_DONE;
	j->r = NULL;
	MHD_resume_connection(j->conn); /* its request thread answers (answer_deferred) */
	j->conn = NULL;
}

static void vjob_release(struct offload_job *b)
{
	vjob_unref((struct vjob *)b);
}

static enum MHD_Result send_answer(struct webhook_server *s, struct MHD_Connection *conn, struct request *r, int rc,
				   struct buf *out, int status)
{
	if (rc < 0) {
		buf_free(out);
		log_error("webhook", "POST %s: no answer could be built: %s", admission_path(r->ep), so_strerror(rc));
		return reply_text(s, conn, r, 500, "cannot build the admission response: %s\n", so_strerror(rc));
	}
	size_t len = out->len;
	char *body = buf_steal(out); /* never NULL: MHD gets a buffer it may free */
	return reply(s, conn, r, (unsigned)status, status == 200 ? "application/json" : "text/plain; charset=utf-8", body,
		     len, 1);
}

/* The review answered on this thread: verification in mode (inline, deferred, or unavailable for reason). */
static int run_review(struct webhook_server *s, enum admission_endpoint ep, const struct buf *body,
		      enum admission_verify_mode mode, const char *reason, struct buf *out, int *status)
{
	struct admission_ctx ctx = s->o.admission;
	ctx.endpoint = ep;
	ctx.verify_mode = mode;
	ctx.verify_reason = reason;
	return admission_handle(body->data ? body->data : "", body->len, &ctx, out, status);
}

/*
 * The review needs a registry: it goes to the verification pool and its connection is suspended, so this
 * thread goes on serving other connections. The pool's finish resumes it (answer_deferred). The connection is
 * suspended before the job is queued, so that a fast finish cannot resume it first.
 */
static enum MHD_Result defer(struct webhook_server *s, struct MHD_Connection *conn, struct request *r)
{
	struct vjob *j = mem_calloc(1, sizeof *j);
	j->s = s;
	j->conn = conn;
	j->r = r;
	j->ep = r->ep;
	j->body = r->body; /* moved: the request keeps a reference to the job instead */
	buf_init(&r->body, s->max_body);
	buf_init(&j->out, ADMISSION_RESPONSE_CAP);
	atomic_init(&j->refs, 2);
	j->base.deadline_ms = clock_mono_ms() + s->verify_timeout_ms;
	j->base.run = vjob_run;
	j->base.finish = vjob_finish;
	j->base.release = vjob_release;
	r->job = j;
	r->vstate = V_PENDING;
	MHD_suspend_connection(conn);
	if (offload_submit(s->pool, &j->base) != SO_OK) {
		atomic_fetch_sub(&j->refs, 1); /* the pool never had it */
		r->vstate = V_BUSY;
		MHD_resume_connection(conn);
	}
	return MHD_YES;
}

/* Called again once the pool resumed the connection. */
static enum MHD_Result answer_deferred(struct webhook_server *s, struct MHD_Connection *conn, struct request *r)
{
	struct buf out = BUF_INIT(ADMISSION_RESPONSE_CAP);
	struct vjob *j = r->job;
	char reason[128];
	int status = 0, rc;

	if (r->vstate == V_DONE) {
		enum MHD_Result ret = send_answer(s, conn, r, j->rc, &j->out, j->status);
		r->job = NULL;
		vjob_unref(j);
		return ret;
	}
	/* No verdict in time, or no room: answered at once as a registry failure is (fail closed under enforce). */
	if (r->vstate == V_BUSY) {
		struct offload_stats st;
		offload_get_stats(s->pool, &st);
		snprintf(reason, sizeof reason, "verification queue full (%u verifications running, %u waiting)",
			 st.running, st.queued);
	} else {
		snprintf(reason, sizeof reason, "verification deadline exceeded");
	}
	rc = run_review(s, r->ep, &j->body, ADMISSION_VERIFY_UNAVAILABLE, reason, &out, &status);
	r->job = NULL;
	vjob_unref(j);
	return send_answer(s, conn, r, rc, &out, status);
}

static enum MHD_Result answer_review(struct webhook_server *s, struct MHD_Connection *conn, struct request *r)
{
	struct buf out = BUF_INIT(ADMISSION_RESPONSE_CAP);
	int status = 0;
	int rc = run_review(s, r->ep, &r->body, s->pool ? ADMISSION_VERIFY_DEFER : ADMISSION_VERIFY_INLINE, NULL, &out,
			    &status);
	if (rc == SO_E_DEFERRED) {
		buf_free(&out);
		return defer(s, conn, r);
	}
	buf_free(&r->body);
	return send_answer(s, conn, r, rc, &out, status);
}

/* The client presented a certificate that verifies against the client CA (the handshake already required one:
 * this is the check every review relies on, whatever libmicrohttpd did with the session). */
static int client_verified(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned status = 0;
	if (!ci || !ci->tls_session)
		return 0;
	gnutls_session_t ts = (gnutls_session_t)ci->tls_session;
	return gnutls_certificate_type_get(ts) == GNUTLS_CRT_X509 && gnutls_certificate_verify_peers2(ts, &status) == 0 &&
	       status == 0;
}

/* New connections: certwatch's bookkeeping, and with a client CA, a certificate it verifies is required in the
 * handshake (libmicrohttpd itself only requests one). */
static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct webhook_server *s = cls;
	certwatch_mhd_notify(s->certs, conn, socket_context, toe);
	if (toe != MHD_CONNECTION_NOTIFY_STARTED || !s->client_ca.len)
		return;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session) {
		gnutls_certificate_server_set_request((gnutls_session_t)ci->tls_session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert((gnutls_session_t)ci->tls_session, NULL, 0);
	}
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct webhook_server *s = cls;
	struct request *r = *req_cls;
	enum admission_endpoint ep;
	(void)version;

	if (!r) {
		/* Headers are in; no byte of the body has been read yet. */
		if (admission_endpoint_for_path(url, &ep) != SO_OK)
			return reply_text(s, conn, NULL, 404, "404 page not found\n");
		if (s->client_ca.len && !client_verified(conn))
			return reply_text(s, conn, NULL, 403, "a client certificate signed by the webhook's client CA is "
							       "required\n");
		r = mem_calloc(1, sizeof *r);
		/* A request came: the connection gets the idle timeout of a client's kept-alive connection. */
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, IDLE_TIMEOUT_S);
		r->ep = ep;
		r->method = method;
		r->t0 = clock_mono_s();
		buf_init(&r->body, s->max_body);
		*req_cls = r;
		atomic_fetch_add(&s->active, 1);
		pthread_mutex_lock(&s->stats_mu);
		s->eps[ep].in_flight++;
		pthread_mutex_unlock(&s->stats_mu);

		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return reply_text(s, conn, r, 405, "method %s not allowed: admission reviews are POSTed\n",
					  method);
		const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!is_json(ctype))
			return reply_text(s, conn, r, 415, "contentType=%.64s, expected application/json\n",
					  ctype ? ctype : "");
		char why[256] = "not ready";
		if (s->o.ready && !s->o.ready(s->o.ready_user, why, sizeof why))
			return reply_text(s, conn, r, 503, "the webhook is not ready: %s\n", why);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		long len;
		if (cl && parse_long(cl, 0, LONG_MAX, &len) == SO_OK && (unsigned long)len > s->max_body) {
			r->too_large = 1;
			if ((unsigned long)len > DRAIN_LIMIT)
				return reply_text(s, conn, r, 413, "request body is larger than %zu bytes\n", s->max_body);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		r->received += n;
		if (!r->too_large && buf_append(&r->body, upload_data, n) != SO_OK) {
			r->too_large = 1; /* past max_body, the buffer's cap */
			buf_free(&r->body);
		}
		if (r->too_large && r->received > DRAIN_LIMIT)
			return MHD_NO; /* a hostile stream: close the connection */
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES; /* answered early; MHD is finishing the request */
	if (r->vstate != V_NONE)
		return answer_deferred(s, conn, r);
	if (r->too_large)
		return reply_text(s, conn, r, 413, "request body is larger than %zu bytes\n", s->max_body);
	return answer_review(s, conn, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct webhook_server *s = cls;
	struct request *r = *req_cls;
	(void)conn;
	if (!r)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_debug("webhook", "%s %s: request ended early (libmicrohttpd code %d)", r->method, admission_path(r->ep),
			  (int)toe);
	pthread_mutex_lock(&s->stats_mu);
	s->eps[r->ep].in_flight--;
	pthread_mutex_unlock(&s->stats_mu);
	atomic_fetch_sub(&s->active, 1);
	buf_free(&r->body);
	vjob_unref(r->job); /* a deferred review that ended without its answer (daemon shutdown) */
	free(r);
	*req_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	if (LOG_DEBUG < log_min_level)
		return;
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		return;
	size_t len = strlen(msg);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	log_debug("webhook", "libmicrohttpd: %s", msg);
}

static unsigned default_threads(void)
{
	long n = 2 * sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 4)
		n = 4;
	if (n > 16)
		n = 16;
	return (unsigned)n;
}

/* Go raises its soft RLIMIT_NOFILE to the hard one at start, so upstream's webhook has it; containerd's default
 * soft limit is 1024, below CONNECTION_LIMIT. Raised as far as needed, within the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= NOFILE_WANTED)
		return;
	rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_WANTED ? NOFILE_WANTED : rl.rlim_max;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("webhook", "cannot raise the open-file limit to %lu", (unsigned long)want);
	}
}

static void server_free(struct webhook_server *s)
{
	if (!s)
		return;
	offload_stop(s->pool);
	certwatch_free(s->certs);
	buf_free(&s->client_ca);
	free(s->cert_file);
	free(s->key_file);
	pthread_mutex_destroy(&s->stats_mu);
	free(s);
}

int webhook_server_start(const struct webhook_server_opts *o, struct webhook_server **out, unsigned short *port,
			 char *err, size_t errlen)
{
	struct sockaddr_in sa;
	int rc;

	*out = NULL;
	if ((rc = health_listen_addr(o->bind_addr, &sa, port, err, errlen)))
		return rc > 0 ? SO_OK : rc;
	if (!o->cert_file || !*o->cert_file || !o->key_file || !*o->key_file) {
		snprintf(err, errlen, "the webhook needs a certificate file and a key file");
		return SO_E_CONFIG;
	}
	const char *prio = o->tls_priorities ? o->tls_priorities : WEBHOOK_TLS_PRIORITIES;
	gnutls_priority_t pc;
	const char *bad = NULL;
	if (gnutls_priority_init(&pc, prio, &bad) < 0) {
		snprintf(err, errlen, "bad TLS priority string \"%s\" (at \"%s\")", prio, bad ? bad : "?");
		return SO_E_CONFIG;
	}
	gnutls_priority_deinit(pc);

	struct webhook_server *s = mem_calloc(1, sizeof *s);
	pthread_mutex_init(&s->stats_mu, NULL);
	for (size_t i = 0; i < NEP; i++)
		prom_histogram_init(&s->latency[i], prom_buckets_default, PROM_NBUCKETS_DEFAULT);
	s->o = *o;
	s->max_body = o->max_body ? o->max_body : ADMISSION_MAX_BODY;
	s->cert_file = mem_strdup(o->cert_file);
	s->key_file = mem_strdup(o->key_file);
	s->o.cert_file = s->cert_file;
	s->o.key_file = s->key_file;
	s->o.tls_priorities = NULL; /* not kept: only used below */
	s->o.client_ca_file = NULL;
	s->o.admission.authenticated = 0; /* only a verified client certificate makes a caller authenticated */
	if (o->client_ca_file && *o->client_ca_file) {
		int errnum = 0;
		rc = kube_file_read(o->client_ca_file, CLIENT_CA_MAX, &s->client_ca, &errnum);
		if (rc == SO_OK && (!s->client_ca.len || !strstr(s->client_ca.data, "-----BEGIN CERTIFICATE-----")))
			rc = SO_E_CONFIG;
		if (rc != SO_OK) {
			snprintf(err, errlen, "--webhook-client-ca-file %s: %s", o->client_ca_file,
				 rc == SO_E_IO ? kube_file_strerror(errnum)
				 : rc == SO_E_CONFIG ? "no PEM certificate in it" : so_strerror(rc));
			server_free(s);
			return SO_E_CONFIG;
		}
		s->o.admission.authenticated = 1; /* every review is refused without a verified client certificate */
	}
	s->o.bind_addr = NULL;

	struct certwatch_opts co = { .cert_file = s->cert_file, .key_file = s->key_file, .interval_s = o->cert_poll_s };
	if ((rc = certwatch_new(&co, &s->certs)) || (rc = certwatch_start(s->certs))) {
		snprintf(err, errlen, "cannot set up the certificate watcher: %s", so_strerror(rc));
		server_free(s);
		return rc;
	}
	if (!certwatch_loaded(s->certs))
		log_warn("webhook", "no serving certificate yet: TLS handshakes fail and /readyz says not ready until %s "
				    "and %s hold a certificate and its key (checked every %.0f s)",
			 s->cert_file, s->key_file, o->cert_poll_s > 0 ? o->cert_poll_s : 10.0);

	if (o->admission.verify_image && o->admission.verify_needs_io) {
		s->verify_timeout_ms = o->admission.verify_timeout_ms > 0 ? o->admission.verify_timeout_ms : 8000;
		if ((rc = offload_new(o->verify_workers, o->verify_queue, &s->pool))) {
			snprintf(err, errlen, "cannot start the verification pool: %s", so_strerror(rc));
			server_free(s);
			return rc;
		}
	}
	raise_nofile();
	unsigned threads = o->threads ? o->threads : default_threads();
	/* poll(), not epoll: with a thread pool, MHD_quiesce_daemon aborts the process when a worker has taken the
	 * listen socket out of its epoll set at its share of the connection limit (libmicrohttpd 0.9.75). */
	s->d = MHD_start_daemon(MHD_USE_ERROR_LOG | MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
					MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME,
				0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
				MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT,
				o->first_request_timeout_s ? o->first_request_timeout_s : FIRST_REQUEST_TIMEOUT_S,
				MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_HTTPS_CERT_CALLBACK, certwatch_retrieve,
				MHD_OPTION_NOTIFY_CONNECTION, notify_connection, (void *)s, MHD_OPTION_NOTIFY_COMPLETED,
				completed, (void *)s,
				/* ignored when NULL: no client certificate is asked for */
				MHD_OPTION_HTTPS_MEM_TRUST, s->client_ca.len ? s->client_ca.data : NULL, MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s (address in use?)", o->bind_addr);
		server_free(s);
		return SO_E_IO;
	}
	health_bound_port(s->d, port);
	*out = s;
	return SO_OK;
}

void webhook_server_drain(struct webhook_server *s)
{
	if (s)
		atomic_store(&s->draining, 1);
}

void webhook_server_stop(struct webhook_server *s, double grace_s)
{
	if (!s)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	double t0 = clock_mono_s();
	while (atomic_load(&s->active) > 0 && clock_mono_s() - t0 < grace_s) {
		struct timespec nap = { 0, 10 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	/* Reviews still on the verification pool are answered now (as at their deadline) and their connections
	 * resumed: libmicrohttpd refuses to stop with a connection suspended. */
	offload_stop(s->pool);
	s->pool = NULL;
	MHD_stop_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	server_free(s);
}

int webhook_server_cert_loaded(struct webhook_server *s)
{
	return s && certwatch_loaded(s->certs);
}

int webhook_server_check_certs(struct webhook_server *s)
{
	return certwatch_check(s->certs);
}

void webhook_server_cert_status(struct webhook_server *s, char *why, size_t whylen)
{
	if (!s || certwatch_loaded(s->certs))
		snprintf(why, whylen, "%s", "");
	else
		snprintf(why, whylen, "webhook: no serving certificate loaded from %s and %s", s->cert_file, s->key_file);
}

void webhook_server_metrics(struct webhook_server *s, struct buf *out)
{
	struct ep_stats e[NEP];
	struct certwatch_stats cs;
	size_t i, k;

	if (!s)
		return;
	pthread_mutex_lock(&s->stats_mu);
	memcpy(e, s->eps, sizeof e);
	pthread_mutex_unlock(&s->stats_mu);
	certwatch_get_stats(s->certs, &cs);

	buf_appends(out, "# HELP controller_runtime_webhook_requests_total Total number of admission requests by HTTP "
			 "status code.\n# TYPE controller_runtime_webhook_requests_total counter\n");
	for (i = 0; i < NEP; i++)
		for (k = 0; k < NCODES; k++)
			if (e[i].requests[k] || codes[k] == 200)
				buf_appendf(out, "controller_runtime_webhook_requests_total{code=\"%u\",webhook=\"%s\"} %lu\n",
					    codes[k], admission_path((enum admission_endpoint)i), e[i].requests[k]);
	buf_appends(out, "# HELP controller_runtime_webhook_requests_in_flight Current number of admission requests "
			 "being served.\n# TYPE controller_runtime_webhook_requests_in_flight gauge\n");
	for (i = 0; i < NEP; i++)
		buf_appendf(out, "controller_runtime_webhook_requests_in_flight{webhook=\"%s\"} %lu\n",
			    admission_path((enum admission_endpoint)i), e[i].in_flight);
	buf_appends(out, "# HELP controller_runtime_webhook_latency_seconds Histogram of the latency of processing "
			 "admission requests\n# TYPE controller_runtime_webhook_latency_seconds histogram\n");
	for (i = 0; i < NEP; i++) {
		char labels[128];
		snprintf(labels, sizeof labels, "webhook=\"%s\"", admission_path((enum admission_endpoint)i));
		prom_histogram_write(out, "controller_runtime_webhook_latency_seconds", labels, &s->latency[i]);
	}
	if (s->pool) {
		struct offload_stats st;
		offload_get_stats(s->pool, &st);
		buf_appendf(out,
			    "# HELP spin_operator_webhook_verification_pool_jobs Reviews on the verification pool, running or "
			    "queued.\n# TYPE spin_operator_webhook_verification_pool_jobs gauge\n"
			    "spin_operator_webhook_verification_pool_jobs{state=\"running\"} %u\n"
			    "spin_operator_webhook_verification_pool_jobs{state=\"queued\"} %u\n"
			    "# HELP spin_operator_webhook_verification_pool_rejected_total Reviews answered at once because the "
			    "verification pool and its queue were full.\n"
			    "# TYPE spin_operator_webhook_verification_pool_rejected_total counter\n"
			    "spin_operator_webhook_verification_pool_rejected_total %lu\n"
			    "# HELP spin_operator_webhook_verification_pool_timeouts_total Reviews answered at the verification "
			    "deadline without a verdict.\n"
			    "# TYPE spin_operator_webhook_verification_pool_timeouts_total counter\n"
			    "spin_operator_webhook_verification_pool_timeouts_total %lu\n",
			    st.running, st.queued, st.rejected, st.timed_out);
	}
	buf_appendf(out,
		    "# HELP certwatcher_read_certificate_total Total number of certificate reads\n"
		    "# TYPE certwatcher_read_certificate_total counter\ncertwatcher_read_certificate_total %lu\n"
		    "# HELP certwatcher_read_certificate_errors_total Total number of certificate read errors\n"
		    "# TYPE certwatcher_read_certificate_errors_total counter\ncertwatcher_read_certificate_errors_total %lu\n"
		    "# HELP spin_operator_webhook_certificate_expiry_seconds When the served certificate expires (Unix "
		    "time; 0 when none is loaded).\n# TYPE spin_operator_webhook_certificate_expiry_seconds gauge\n"
		    "spin_operator_webhook_certificate_expiry_seconds %lld\n",
		    cs.reads, cs.read_errors, cs.loaded ? (long long)cs.not_after : 0LL);
}

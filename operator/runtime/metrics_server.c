#include "operator/runtime/metrics_server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/base/health.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/certwatch.h"
#include "operator/base/selfcert.h"
#include "operator/base/mem.h"

#define CONNECTION_LIMIT 32u
#define IDLE_TIMEOUT_S 10u

struct metrics_server {
	struct MHD_Daemon *d;
	struct metrics_auth *auth;    /* secure only */
	struct certwatch *certs;      /* secure only */
	int (*write)(void *ud, struct buf *out);
	void *ud;
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned code, const char *ctype, const char *body,
				 size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (code == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_msg(struct MHD_Connection *conn, unsigned code, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof body, "%s\n", msg);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof body ? sizeof body - 1 : (size_t)n;
	return send_text(conn, code, "text/plain; charset=utf-8", body, len, MHD_RESPMEM_MUST_COPY);
}

/* The answers of controller-runtime's filter, with the status of an invalid token fixed (401, not 500). */
static enum MHD_Result refuse(struct MHD_Connection *conn, enum metrics_auth_result res, const char *user,
			      const char *method)
{
	char msg[200];
	switch (res) {
	case METRICS_AUTH_NO_TOKEN:
		return send_msg(conn, 401, "Unauthorized");
	case METRICS_AUTH_UNAUTHENTICATED:
		log_debug("metrics", "%s /metrics: the bearer token did not authenticate", method);
		return send_msg(conn, 401, "Authentication failed");
	case METRICS_AUTH_DENIED:
		log_debug("metrics", "%s /metrics: %s may not read it", method, user);
		snprintf(msg, sizeof msg, "Authorization denied for user %s", user);
		return send_msg(conn, 403, msg);
	default:
		if (*user)
			snprintf(msg, sizeof msg, "Authorization for user %s failed", user);
		else
			snprintf(msg, sizeof msg, "Authentication failed");
		return send_msg(conn, 500, msg);
	}
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct metrics_server *s = cls;
	(void)version;
	(void)upload_data;
	if (!*req_cls) {
		*req_cls = s;
		return MHD_YES;
	}
	if (*upload_size)
		return MHD_NO; /* no endpoint takes a body: drop the connection */
	if (strcmp(url, "/metrics") != 0)
		return send_msg(conn, 404, "404 page not found");
	int head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return send_msg(conn, 405, "method not allowed");
	if (s->auth) {
		char user[128];
		const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		/* HEAD is a GET without the body: authorized as get, as the API server treats HEAD of a resource */
		enum metrics_auth_result res = metrics_auth_check(s->auth, authz, url, "get", user, sizeof user);
		if (res != METRICS_AUTH_ALLOWED)
			return refuse(conn, res, user, method);
	}
	struct buf b = BUF_INIT(METRICS_MAX_BODY);
	int rc = s->write(s->ud, &b);
	if (rc != SO_OK) {
		buf_free(&b);
		log_error("metrics", "the exposition could not be written: %s (the cap is %zu bytes)", so_strerror(rc),
			  METRICS_MAX_BODY);
		return send_msg(conn, 500, "the metrics could not be written");
	}
	size_t len = b.len;
	return send_text(conn, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&b), len,
			 MHD_RESPMEM_MUST_FREE);
}

/* A CA and a serving certificate it signs, for localhost, 127.0.0.1 and the host name (the pod's name). */
static int self_signed(struct certwatch **out, char *err, size_t errlen)
{
	struct selfcert_pem ca = { 0 }, leaf = { 0 };
	char host[256] = "";
	const char *sans[3] = { "localhost", "127.0.0.1", host };
	size_t nsans = 2;
	time_t now = time(NULL);
	int rc;

	if (gethostname(host, sizeof host - 1) == 0 && *host && strcmp(host, "localhost") && selfcert_valid_san(host))
		nsans = 3;
	if ((rc = selfcert_make_ca("spin-operator-metrics-ca", METRICS_SELF_SIGNED_VALIDITY_S, now, &ca, err, errlen)) ||
	    (rc = selfcert_make_serving(&ca, sans, nsans, METRICS_SELF_SIGNED_VALIDITY_S, now, &leaf, err, errlen)))
		goto out;
	rc = certwatch_new_static("metrics", leaf.cert, leaf.cert_len, leaf.key, leaf.key_len, out, err, errlen);
	if (rc == SO_OK)
		log_info("metrics", "serving a self-signed certificate for %s, %s%s%s (give --metrics-cert-path for your own)",
			 sans[0], sans[1], nsans > 2 ? ", " : "", nsans > 2 ? host : "");
out:
	selfcert_pem_free(&ca);
	selfcert_pem_free(&leaf);
	return rc;
}

static void server_free(struct metrics_server *s)
{
	if (!s)
		return;
	certwatch_free(s->certs);
	metrics_auth_free(s->auth);
	free(s);
}

int metrics_server_start(const struct metrics_server_opts *o, struct metrics_server **out, unsigned short *port,
			 char *err, size_t errlen)
{
	struct sockaddr_in sa;
	int rc;

	*out = NULL;
	if ((rc = health_listen_addr(o->bind_addr, &sa, port, err, errlen)))
		return rc > 0 ? SO_OK : rc;
	if (o->secure && !o->auth)
		return so_fail(err, errlen, SO_E_CONFIG, "secure metrics need the API server's reviews");
	struct metrics_server *s = mem_calloc(1, sizeof *s);
	s->write = o->write;
	s->ud = o->ud;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (o->secure) {
		s->auth = metrics_auth_new(o->auth, o->auth_opts);
		if (o->cert_file && o->key_file) {
			struct certwatch_opts co = { .cert_file = o->cert_file, .key_file = o->key_file, .who = "metrics" };
			if ((rc = certwatch_new(&co, &s->certs)) || (rc = certwatch_start(s->certs))) {
				so_fail(err, errlen, rc, "cannot set up the metrics certificate watcher: %s", so_strerror(rc));
				goto fail;
			}
			if (!certwatch_loaded(s->certs))
				log_warn("metrics", "no serving certificate yet: TLS handshakes fail until %s and %s hold a "
						    "certificate and its key (checked every 10 s)", o->cert_file, o->key_file);
		} else if ((rc = self_signed(&s->certs, err, errlen))) {
			goto fail;
		}
		s->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
					(struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
					MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, MHD_OPTION_HTTPS_PRIORITIES,
					CERTWATCH_TLS_PRIORITIES, MHD_OPTION_HTTPS_CERT_CALLBACK, certwatch_retrieve,
					MHD_OPTION_NOTIFY_CONNECTION, certwatch_mhd_notify, (void *)s->certs, MHD_OPTION_END);
	} else {
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
					IDLE_TIMEOUT_S, MHD_OPTION_END);
	}
	if (!s->d) {
		rc = so_fail(err, errlen, SO_E_IO, "cannot listen on %s (address in use?)", o->bind_addr);
		goto fail;
	}
	health_bound_port(s->d, port);
	*out = s;
	return SO_OK;
fail:
	server_free(s);
	return rc;
}

void metrics_server_stop(struct metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	server_free(s);
}

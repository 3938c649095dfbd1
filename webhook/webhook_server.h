/*
 * The admission webhook's HTTPS server (controller-runtime's webhook server, on libmicrohttpd with GnuTLS):
 *
 *   POST /mutate-core-spinkube-dev-v1alpha1-spinapp            admission_handle, MUTATE_SPINAPP
 *   POST /validate-core-spinkube-dev-v1alpha1-spinapp          VALIDATE_SPINAPP
 *   POST /mutate-core-spinkube-dev-v1alpha1-spinappexecutor    MUTATE_EXECUTOR
 *   POST /validate-core-spinkube-dev-v1alpha1-spinappexecutor  VALIDATE_EXECUTOR
 *
 * Answers: 200 with the response AdmissionReview; 400 (plain text) for a body that is not a review; 404 for
 * any other path; 405 for another method; 415 unless Content-Type is application/json; 413 for a body over
 * max_body (refused from Content-Length before any byte is read, or once a chunked body passes the cap, by
 * discarding the rest); 503 while ready() says no; 500 when no answer could be built.
 *
 * TLS 1.2 and 1.3 with forward-secret AEAD suites only (WEBHOOK_TLS_PRIORITIES). The certificate and key come from files and are reloaded
 * when they change (operator/base/certwatch.h): new handshakes use the new pair, connections already open keep theirs.
 * Requests run on a pool of threads; the admission callbacks must be thread-safe. Reviews whose image
 * verification needs a registry run on a pool of their own (offload.h, docs/internals/webhook-offload.md) while
 * their connection is suspended, so request threads never wait for a registry. Connections: at most 2048, 1024
 * per source address, 10 s to send the first request (TLS handshake included), 120 s idle after. With a client
 * CA (client_ca_file), only clients with a certificate it signed are served (403 otherwise), and reviews are
 * authenticated: only then may an answer reveal a digest resolved with registry credentials (docs/security.md).
 */
#ifndef SO_WEBHOOK_SERVER_H
#define SO_WEBHOOK_SERVER_H

#include <stddef.h>

#include "webhook/admission.h"
#include "webhook/admission_ctx.h"
#include "operator/base/certwatch.h"
#include "operator/base/buf.h"

/* GnuTLS priorities: TLS 1.3 and 1.2, forward-secret AEAD suites only (operator/base/certwatch.h). */
#define WEBHOOK_TLS_PRIORITIES CERTWATCH_TLS_PRIORITIES

/* controller-runtime's defaults: port 9443, certificates in <TMPDIR>/k8s-webhook-server/serving-certs. */
#define WEBHOOK_DEFAULT_ADDR ":9443"
#define WEBHOOK_DEFAULT_CERT_DIR "/tmp/k8s-webhook-server/serving-certs"

struct webhook_server;

struct webhook_server_opts {
	const char *bind_addr;      /* "[host]:port" (port 0 picks one); NULL or "0": no server */
	const char *cert_file;      /* PEM chain, leaf first (tls.crt) */
	const char *key_file;       /* PEM key (tls.key) */
	double cert_poll_s;         /* how often the files are checked; 0 means 10 s */
	const char *tls_priorities; /* NULL: WEBHOOK_TLS_PRIORITIES */
	/* PEM CA(s), read once at start: when set, a connection must present a client certificate that verifies
	 * against them (the handshake fails otherwise, and a request without one is answered 403), and every review
	 * is authenticated (admission_ctx.authenticated). NULL: no client certificate is asked for. */
	const char *client_ca_file;
	unsigned threads;           /* request threads; 0: the CPU count, within [2, 8] */
	size_t max_body;            /* 0: ADMISSION_MAX_BODY */
	/* Reviews whose verification needs a registry run on a pool of their own (offload.h), the request
	 * threads never wait for a registry; 0: OFFLOAD_DEFAULT_WORKERS, OFFLOAD_DEFAULT_QUEUE. */
	unsigned verify_workers, verify_queue;
	/* How long a new connection may stay quiet before its first request (TLS handshake included); 0: 10 s. */
	unsigned first_request_timeout_s;
	/* The rules' view of the cluster (endpoint is set per request). */
	struct admission_ctx admission;
	/* Optional: while it returns 0, every review is answered 503 with why (e.g. caches not synced). */
	int (*ready)(void *user, char *why, size_t whylen);
	void *ready_user;
};

/* Starts serving; *out stays NULL when bind_addr is "0". *port receives the bound port. Missing or bad
 * certificate files are not an error here (logged; see webhook_server_cert_loaded). */
int webhook_server_start(const struct webhook_server_opts *o, struct webhook_server **out, unsigned short *port,
			 char *err, size_t errlen);
/* Shutdown has begun: every answer from now on closes its connection ("Connection: close"), so that a client
 * with a kept-alive connection (the API server) opens its next one through the Service, to another endpoint.
 * Answers go on as before. NULL is fine. */
void webhook_server_drain(struct webhook_server *s);
/* Stops accepting connections, lets requests in progress finish (up to grace_s), then stops. NULL is fine. */
void webhook_server_stop(struct webhook_server *s, double grace_s);

/* Non-zero while a certificate and key are being served. */
int webhook_server_cert_loaded(struct webhook_server *s);
/* Checks the certificate files now instead of at the next poll (certwatch_check's result). */
int webhook_server_check_certs(struct webhook_server *s);
/* Why the server is not serving a certificate, for /readyz ("" when it is). */
void webhook_server_cert_status(struct webhook_server *s, char *why, size_t whylen);

/* Prometheus text: controller-runtime's webhook and certwatcher metric names. */
void webhook_server_metrics(struct webhook_server *s, struct buf *out);

#endif

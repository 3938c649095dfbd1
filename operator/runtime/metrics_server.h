/*
 * The /metrics endpoint (controller-runtime's metrics server), on libmicrohttpd with its own threads, off the
 * reconcile path:
 *   secure (--metrics-secure, the default): HTTPS with the servers' TLS settings (CERTWATCH_TLS_PRIORITIES:
 *     TLS 1.2+, forward-secret AEAD suites), a certificate from files reloaded when they change
 *     (operator/base/certwatch.h) or else a self-signed one made in memory at start; every request authenticated and
 *     authorized (operator/runtime/metrics_auth.h): 401 without a bearer token or with one the TokenReview refuses, 403 when the
 *     SubjectAccessReview denies GET on the path, 500 when the API server cannot be asked;
 *   plain: HTTP, no authentication.
 * Only GET and HEAD of /metrics (404 elsewhere, 405 for other methods); request bodies are refused; headers
 * are bounded by libmicrohttpd's per-connection memory limit; idle connections close after 10 s.
 */
#ifndef SO_METRICS_SERVER_H
#define SO_METRICS_SERVER_H

#include <stddef.h>

#include "operator/runtime/metrics_auth.h"
#include "operator/base/buf.h"

#define METRICS_MAX_BODY ((size_t)8 << 20) /* an exposition larger than this is answered 500 */
#define METRICS_SELF_SIGNED_VALIDITY_S (365L * 24 * 3600) /* client-go's self-signed certificates: 1 year */

struct metrics_server_opts {
	const char *bind_addr;                   /* "[host]:port" (port 0 picks one); NULL or "0": no server */
	int secure;
	const char *cert_file, *key_file;        /* secure: PEM files, reloaded; NULL: self-signed in memory */
	const struct metrics_auth_backend *auth; /* secure: the reviews (required) */
	const struct metrics_auth_opts *auth_opts; /* NULL: defaults */
	int (*write)(void *ud, struct buf *out); /* appends the exposition */
	void *ud;
};

struct metrics_server;

/* *out stays NULL when bind_addr is "0"; *port receives the bound port. */
int metrics_server_start(const struct metrics_server_opts *o, struct metrics_server **out, unsigned short *port,
			 char *err, size_t errlen);
void metrics_server_stop(struct metrics_server *s);

#endif

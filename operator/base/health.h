/*
 * The probe endpoints, plain HTTP on libmicrohttpd (controller-runtime's --health-probe-bind-address; the
 * metrics endpoint is operator/runtime/metrics_server.h):
 *   GET /healthz  200 "ok" while live() says so (or when there is none), else 500 with the failing check
 *   GET /readyz   200 "ok" once ready() says so, else 500 with the failing check
 * (what the daemon's checks mean: docs/internals/health.md)
 * Anything else is 404; request bodies are refused. An address is "[host]:port" (":8082" binds every IPv4
 * interface, port 0 picks a free port) or "0" to disable the server.
 */
#ifndef SO_HEALTH_H
#define SO_HEALTH_H

#include <netinet/in.h>
#include <stddef.h>


struct health_server;

struct health_handlers {
	int (*ready)(void *ud, char *why, size_t whylen); /* non-zero when ready; else fills why */
	void *ud;
	int (*live)(void *ud, char *why, size_t whylen);  /* optional: non-zero when live; else fills why */
};

/* Starts a server on addr; *out stays NULL when addr is "0". *port receives the bound port. */
int health_server_start(const char *addr, const struct health_handlers *h, struct health_server **out,
			unsigned short *port, char *err, size_t errlen);
void health_server_stop(struct health_server *s);

/* The start of every server's start function: *port = 0 (when port is non-NULL), then 1 when addr is NULL or
 * "0" (no server), 0 with sa filled, or SO_E_INVAL with a message in err. */
int health_listen_addr(const char *addr, struct sockaddr_in *sa, unsigned short *port, char *err, size_t errlen);

/* The port a started libmicrohttpd daemon listens on, into *port when port is non-NULL. */
struct MHD_Daemon;
void health_bound_port(struct MHD_Daemon *d, unsigned short *port);

/* "[host]:port" → an IPv4 socket address (host empty or 0.0.0.0: every interface; "localhost": 127.0.0.1).
 * SO_E_INVAL with a message in err otherwise. Shared with the webhook and metrics servers. */
int health_parse_bind_addr(const char *addr, struct sockaddr_in *sa, char *err, size_t errlen);

#endif

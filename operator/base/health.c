#include "operator/base/health.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/parse.h"
#include "operator/base/mem.h"

struct health_server {
	struct MHD_Daemon *d;
	struct health_handlers h;
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned code, const char *ctype, const char *body,
				 size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct health_server *s = cls;
	(void)version;
	(void)upload_data;
	if (!*req_cls) {
		*req_cls = s;
		return MHD_YES;
	}
	if (*upload_size)
		return MHD_NO; /* no endpoint takes a body: drop the connection */
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_text(conn, 405, "text/plain", "method not allowed\n", 19);
	int live = !strcmp(url, "/healthz");
	if (live || !strcmp(url, "/readyz")) {
		char why[256] = "not ready";
		int (*check)(void *, char *, size_t) = live ? s->h.live : s->h.ready;
		if (!check || check(s->h.ud, why, sizeof why))
			return send_text(conn, 200, "text/plain", "ok", 2);
		char body[300];
		int n = snprintf(body, sizeof body, "[-]%s\n", why);
		return send_text(conn, 500, "text/plain", body, n > 0 && (size_t)n < sizeof body ? (size_t)n : 0);
	}
	return send_text(conn, 404, "text/plain", "not found\n", 10);
}

int health_parse_bind_addr(const char *addr, struct sockaddr_in *sa, char *err, size_t errlen)
{
	const char *colon = strrchr(addr, ':');
	char host[64];
	long port;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	if (!colon || (size_t)(colon - addr) >= sizeof host || parse_long(colon + 1, 0, 65535, &port)) {
		snprintf(err, errlen, "bind address \"%s\" is not [host]:port", addr);
		return SO_E_INVAL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	sa->sin_port = htons((unsigned short)port);
	if (!*host || !strcmp(host, "0.0.0.0")) {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (!strcmp(host, "localhost")) {
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		snprintf(err, errlen, "bind address \"%s\": \"%s\" is not an IPv4 address", addr, host);
		return SO_E_INVAL;
	}
	return SO_OK;
}

int health_listen_addr(const char *addr, struct sockaddr_in *sa, unsigned short *port, char *err, size_t errlen)
{
	if (port)
		*port = 0;
	if (!addr || !strcmp(addr, "0"))
		return 1;
	return health_parse_bind_addr(addr, sa, err, errlen);
}

void health_bound_port(struct MHD_Daemon *d, unsigned short *port)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (port && info)
		*port = info->port;
}

int health_server_start(const char *addr, const struct health_handlers *h, struct health_server **out,
			unsigned short *port, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	int rc;

	*out = NULL;
	if ((rc = health_listen_addr(addr, &sa, port, err, errlen)))
		return rc > 0 ? SO_OK : rc;
	struct health_server *s = mem_calloc(1, sizeof *s);
	s->h = *h;
	s->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s (address in use?)", addr);
		free(s);
		return SO_E_IO;
	}
	health_bound_port(s->d, port);
	*out = s;
	return SO_OK;
}

void health_server_stop(struct health_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

/*
 * A tiny HTTP responder for the real-node smoke test (tests/e2e/node_smoke.sh), linked statically into a
 * one-file OCI image (tests/node/image.sh).
 *
 * Listens on 0.0.0.0:<port> (argv[1], default 8080). Every request gets "200 OK" with the body
 * "spin-node-smoke <hostname>\n" — a body nothing else produces, so the test can tell this pod's answer
 * from the machine's egress (which answers unknown addresses with an empty 404) — and one line on stdout
 * ("smoke-http: served <n>"), which the test reads back with kubectl logs. Exits at once on SIGTERM/SIGINT
 * (as PID 1 it would otherwise ignore them and make every pod deletion wait out its grace period).
 * Requests are read with a 5 s deadline and at most 4 KiB; the request itself is not interpreted.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

/* parse_port: 1..65535 from a decimal string, or -1. */
static int parse_port(const char *s)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

static void serve(int conn, const char *host, unsigned long n)
{
	char req[4096], body[128], head[256];
	struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
	size_t got = 0;
	int blen, hlen;

	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Read up to the end of the request head (or the cap, or the deadline). */
	while (got < sizeof(req) - 1) {
		ssize_t r = recv(conn, req + got, sizeof(req) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	blen = snprintf(body, sizeof(body), "spin-node-smoke %s\n", host);
	hlen = snprintf(head, sizeof(head),
			"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
			"Connection: close\r\n\r\n",
			blen);
	if (blen > 0 && hlen > 0 && send(conn, head, (size_t)hlen, MSG_NOSIGNAL) == hlen)
		send(conn, body, (size_t)blen, MSG_NOSIGNAL);
	printf("smoke-http: served %lu\n", n);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct sockaddr_in addr;
	char host[64] = "unknown";
	int port = argc > 1 ? parse_port(argv[1]) : 8080;
	int fd, one = 1;
	unsigned long n = 0;

	if (port < 0) {
		fprintf(stderr, "smoke-http: bad port '%s'\n", argv[1]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (gethostname(host, sizeof(host) - 1) != 0)
		memcpy(host, "unknown", sizeof("unknown"));

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("smoke-http: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0) {
		perror("smoke-http: bind/listen");
		return 1;
	}
	printf("smoke-http: listening on %d\n", port);
	fflush(stdout);
	for (;;) {
		int conn = accept(fd, NULL, NULL);
		if (conn < 0)
			continue;
		serve(conn, host, ++n);
		close(conn);
	}
}

/*
 * badpeer: the misbehaving peers of tests/integration/webhook_deputy.sh, one per mode (loopback only).
 *
 *   badpeer tarpit <port-file>
 *       listens on 127.0.0.1:0 (the port is written to port-file), accepts every connection and never sends a
 *       byte: a registry that hangs. Runs until killed.
 *   badpeer idle-tls <port> <n> <first-source> <per-source>
 *   badpeer half-open <port> <n> <first-source> <per-source>
 *       opens n connections to 127.0.0.1:<port> from source addresses first-source, first-source+1, ... (each
 *       used for per-source connections); idle-tls completes a TLS handshake on each (no certificate check) and
 *       sends nothing more, half-open sends nothing at all (no ClientHello). Prints "ready <k>" (k: connections
 *       established, handshakes done) once all were tried, then "closed <k>" when the server has closed all k,
 *       or when stdin reaches EOF; exits then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CONNS 4096

static int tarpit(const char *port_file)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 512) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		perror("badpeer tarpit");
		return 1;
	}
	FILE *f = fopen(port_file, "w");
	if (!f) {
		perror(port_file);
		return 1;
	}
	fprintf(f, "%u\n", (unsigned)ntohs(sa.sin_port));
	fclose(f);
	for (int n = 0; n < MAX_CONNS;) /* held open, never read nor answered */
		if (accept(fd, NULL, NULL) >= 0)
			n++;
	pause();
	return 0;
}

static int connect_from(unsigned short port, struct in_addr src)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	/* A server that stops accepting leaves connections in its backlog: a handshake there never ends. */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (bind(fd, (struct sockaddr *)&from, sizeof from) || connect(fd, (struct sockaddr *)&to, sizeof to)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int hold(int tls, unsigned short port, int n, const char *first, int per_source)
{
	static int fds[MAX_CONNS];
	static struct pollfd p[MAX_CONNS + 1];
	struct in_addr src;
	SSL_CTX *ctx = NULL;
	int k = 0;

	if (n > MAX_CONNS || per_source < 1 || inet_pton(AF_INET, first, &src) != 1) {
		fprintf(stderr, "badpeer: bad arguments\n");
		return 2;
	}
	if (tls && !(ctx = SSL_CTX_new(TLS_client_method())))
		return 1;
	for (int i = 0; i < n; i++) {
		struct in_addr a = { .s_addr = htonl(ntohl(src.s_addr) + (uint32_t)(i / per_source)) };
		int fd = connect_from(port, a);
		if (fd < 0)
			continue;
		if (tls) {
			SSL *ssl = SSL_new(ctx);
			SSL_set_fd(ssl, fd);
			int ok = SSL_connect(ssl) == 1;
			SSL_free(ssl); /* the socket stays open, idle after the handshake */
			if (!ok) {
				close(fd);
				continue;
			}
		}
		fds[k++] = fd;
	}
	printf("ready %d\n", k);
	fflush(stdout);
	int open_n = k;
	for (int i = 0; i < k; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	p[k] = (struct pollfd){ .fd = 0, .events = POLLIN };
	while (open_n > 0) {
		if (poll(p, (nfds_t)k + 1, 1000) < 0 && errno != EINTR)
			break;
		if (p[k].revents) {
			char b[64];
			if (read(0, b, sizeof b) <= 0)
				break;
		}
		for (int i = 0; i < k; i++) {
			if (p[i].fd >= 0 && p[i].revents) {
				char b[4096];
				if (read(p[i].fd, b, sizeof b) <= 0) {
					close(p[i].fd);
					p[i].fd = -1;
					open_n--;
				}
			}
		}
	}
	printf("closed %d\n", k - open_n);
	fflush(stdout);
	SSL_CTX_free(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a connection refused after accept() is closed under our ClientHello */
	/* Up to MAX_CONNS sockets: a fresh machine's soft limit is often 1024. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < MAX_CONNS + 64) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > MAX_CONNS + 64 ? MAX_CONNS + 64 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (argc == 3 && !strcmp(argv[1], "tarpit"))
		return tarpit(argv[2]);
	if (argc == 6 && (!strcmp(argv[1], "idle-tls") || !strcmp(argv[1], "half-open")))
		return hold(!strcmp(argv[1], "idle-tls"), (unsigned short)strtoul(argv[2], NULL, 10),
			    (int)strtol(argv[3], NULL, 10), argv[4], (int)strtol(argv[5], NULL, 10));
	fprintf(stderr, "usage: badpeer tarpit <port-file> | {idle-tls|half-open} <port> <n> <first-source> "
			"<per-source>\n");
	return 2;
}

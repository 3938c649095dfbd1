/*
 * stallproxy: a TCP proxy on loopback that can stop forwarding without closing anything, the way a broken
 * middlebox or a dropped NAT entry looks to a client: tests/faults/proxy_silent.sh puts it between the operator
 * and the API server.
 *
 *   stallproxy <port file> <target port>
 *
 * Listens on 127.0.0.1 (a free port, written to <port file> once listening) and forwards each connection to
 * 127.0.0.1:<target port>. SIGUSR1 stalls: from then on no byte moves on any connection open at that moment, and
 * connections accepted while stalled are held open and silent; those connections stay silent for good (nothing
 * is closed or reset, so only a client-side deadline can notice). SIGUSR2 forwards again, for new connections
 * only. SIGTERM ends it. Each change is logged on stderr with the number of connections it affects.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 512
#define BUF_SIZE 65536

struct dir { /* one direction: bytes read from src, not yet written to dst */
	int src, dst;
	size_t len, off;
	char buf[BUF_SIZE];
};

struct pair {
	int used;
	int silent; /* stalled: kept open, never forwarded again */
	struct dir d[2];
};

static struct pair pairs[MAX_PAIRS];
static volatile sig_atomic_t want_stall, want_forward, want_stop;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stall = 1;
	else if (sig == SIGUSR2)
		want_forward = 1;
	else
		want_stop = 1;
}

static int parse_port(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

static void close_pair(struct pair *p)
{
	close(p->d[0].src);
	close(p->d[0].dst);
	memset(p, 0, sizeof(*p));
}

static int connect_target(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_one(int lfd, int target, int stalled)
{
	int c = accept(lfd, NULL, NULL), u = -1, i;

	if (c < 0)
		return;
	for (i = 0; i < MAX_PAIRS && pairs[i].used; i++)
		;
	if (i == MAX_PAIRS || (!stalled && (u = connect_target(target)) < 0)) {
		close(c);
		return;
	}
	fcntl(c, F_SETFL, O_NONBLOCK);
	if (u >= 0)
		fcntl(u, F_SETFL, O_NONBLOCK);
	pairs[i].used = 1;
	pairs[i].silent = stalled;
	pairs[i].d[0].src = c;
	pairs[i].d[0].dst = u;
	pairs[i].d[1].src = u;
	pairs[i].d[1].dst = c;
}

/* Moves what it can in one direction; -1 when either side is closed or broken. */
static int pump(struct dir *d, short src_events, short dst_events)
{
	ssize_t n;

	if (d->len == 0 && (src_events & (POLLIN | POLLHUP | POLLERR))) {
		n = read(d->src, d->buf, sizeof(d->buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0) {
			d->len = (size_t)n;
			d->off = 0;
		}
	}
	if (d->len > 0 && (dst_events & (POLLOUT | POLLERR))) {
		n = write(d->dst, d->buf + d->off, d->len - d->off);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0 && (d->off += (size_t)n) == d->len)
			d->len = d->off = 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct pollfd pfd[1 + 2 * MAX_PAIRS];
	int idx[MAX_PAIRS];
	socklen_t alen = sizeof(a);
	int lfd, target, stalled = 0, one = 1, i;
	struct sigaction sa;
	FILE *f;

	if (argc != 3 || (target = parse_port(argv[2])) < 0) {
		fprintf(stderr, "usage: stallproxy <port file> <target port>\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("stallproxy: listen");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f)) {
		perror("stallproxy: port file");
		return 1;
	}
	fprintf(stderr, "stallproxy: 127.0.0.1:%u -> 127.0.0.1:%d\n", ntohs(a.sin_port), target);

	while (!want_stop) {
		int n = 1, live = 0;

		if (want_stall) {
			want_stall = 0;
			stalled = 1;
			for (i = 0; i < MAX_PAIRS; i++)
				if (pairs[i].used && !pairs[i].silent) {
					pairs[i].silent = 1;
					live++;
				}
			fprintf(stderr, "stallproxy: stalled (%d open connections go silent)\n", live);
		}
		if (want_forward) {
			want_forward = 0;
			stalled = 0;
			fprintf(stderr, "stallproxy: forwarding new connections\n");
		}
		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (i = 0; i < MAX_PAIRS; i++) {
			struct pair *p = &pairs[i];

			idx[i] = -1;
			if (!p->used || p->silent)
				continue;
			idx[i] = n;
			pfd[n++] = (struct pollfd){.fd = p->d[0].src,
						   .events = (short)((p->d[0].len ? 0 : POLLIN) | (p->d[1].len ? POLLOUT : 0))};
			pfd[n++] = (struct pollfd){.fd = p->d[1].src,
						   .events = (short)((p->d[1].len ? 0 : POLLIN) | (p->d[0].len ? POLLOUT : 0))};
		}
		if (poll(pfd, (nfds_t)n, 1000) < 0) {
			if (errno == EINTR)
				continue;
			perror("stallproxy: poll");
			return 1;
		}
		if (pfd[0].revents & POLLIN)
			accept_one(lfd, target, stalled);
		for (i = 0; i < MAX_PAIRS; i++) {
			short ce, ue;

			if (idx[i] < 0 || !pairs[i].used || pairs[i].silent)
				continue;
			ce = pfd[idx[i]].revents;
			ue = pfd[idx[i] + 1].revents;
			if (pump(&pairs[i].d[0], ce, ue) || pump(&pairs[i].d[1], ue, ce))
				close_pair(&pairs[i]);
		}
	}
	return 0;
}

/*
 * Internals of the registry client shared by its files (not for callers outside webhook/verify/registry*.c):
 * the client object, one HTTP exchange (registry_http.c), the bearer/basic token cache (tokencache.c) and the
 * address classes used to refuse realms on private networks (netaddr.c).
 */
#ifndef SO_VERIFY_REGISTRY_INT_H
#define SO_VERIFY_REGISTRY_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "operator/base/buf.h"
#include "webhook/verify/registry.h"
#include "operator/base/http.h"

/* ---- token cache (tokencache.c) ---- */

enum tok_kind { TOK_BEARER = 1, TOK_BASIC = 2, TOK_CHALLENGE = 3 /* "realm\nservice" of a host */ };

struct tok_entry;
struct tokencache {
	pthread_mutex_t mu;
	struct tok_entry *v;  /* owned; n used of max */
	size_t n, max;
	uint64_t tick;        /* for least-recently-used eviction */
};

void tokencache_init(struct tokencache *tc, size_t max);
void tokencache_destroy(struct tokencache *tc);
/* A malloc'd copy of the token under key (caller wipes and frees) when one is there and now_ms < its expiry;
 * NULL otherwise. *kind tells which kind it is. */
char *tokencache_get(struct tokencache *tc, const char *key, int64_t now_ms, enum tok_kind *kind);
/* Stores (or replaces) key; when full, the least recently used entry is evicted. */
int tokencache_put(struct tokencache *tc, const char *key, enum tok_kind kind, const char *token, int64_t expires_ms);
void tokencache_drop(struct tokencache *tc, const char *key);

/* ---- addresses (netaddr.c) ---- */

/* 1 when the numeric address (IPv4 dotted or IPv6, optionally in brackets) is loopback, private (RFC 1918, ULA),
 * link-local (cloud metadata lives there), carrier-grade NAT, unspecified or an IPv4-mapped form of those; 0 when
 * public; -1 when s is not a numeric address. */
int netaddr_is_private(const char *s);

/* ---- proxies (proxy.c) ---- */

/* 1 and the proxy URL in out when libcurl's environment rules send scheme://host through a proxy; 0 otherwise. */
int proxy_from_env(const char *scheme, const char *host, char *out, size_t outlen);

/* ---- the client ---- */

struct registry {
	char **insecure;            /* owned, NULL-terminated, lower-case */
	int allow_private_realms;
	long connect_timeout_ms;
	struct curl_blob ca_blob;   /* system bundle + extra CA file; data NULL when no extra CA was given */

	int http_ready;             /* registry_http_init has set up the pool */
	struct http_pool pool;      /* easy handles (their connections) and the DNS/TLS session share */

	struct tokencache tokens;
	atomic_uint_fast64_t requests, token_fetches;
};

/* One HTTP exchange. */
struct registry_http_req {
	const char *method;         /* "GET", "HEAD" or "POST" */
	const char *url;
	const char *accept;         /* Accept header value, or NULL */
	const char *post;           /* application/x-www-form-urlencoded body of a POST */
	const char *user, *pass;    /* Basic credentials, or NULL */
	const char *bearer;         /* Bearer token, or NULL */
	size_t max;                 /* body cap */
	int follow;                 /* follow redirects (credentials are never sent to another host) */
	int plain_http;             /* http allowed (insecure registry); https only otherwise */
	const char *guard_host;     /* when set, a connection to any other host may not reach a private address */
	int redirect_guard;         /* a redirect to another host may not reach a private address unless the
				     * first host (the registry) is at one itself */
	int64_t deadline_ms;
};

#define REG_MAX_AUTH_HEADERS 4

struct registry_http_resp {
	long status;
	struct buf body;            /* capped at registry_http_req.max (error bodies at 64 KiB) */
	char content_type[128];     /* without parameters, lower-case */
	char docker_digest[IMAGE_DIGEST_LEN + 1]; /* Docker-Content-Digest when well-formed, else "" */
	char *www_auth[REG_MAX_AUTH_HEADERS]; /* WWW-Authenticate values, malloc'd */
	long retry_after_s;         /* -1 when absent */
	char final_host[256];       /* host of the last URL (after redirects) */
	int refused_private;        /* the guard refused a private address */
	int refused_redirect;       /* ... that a redirect pointed to */
	int too_many_redirects;     /* the transfer stopped after the redirect cap */
	int tls_failed;             /* the transport failure was TLS (handshake, certificate) */
	char refused_ip[64];
	char error[CURL_ERROR_SIZE]; /* libcurl's text for a transport failure */
};

void registry_http_resp_init(struct registry_http_resp *p, size_t max);
void registry_http_resp_free(struct registry_http_resp *p);

/* SO_OK when an HTTP answer arrived (whatever its status); SO_E_TIMEOUT, SO_E_TRANSPORT (p->error says why, or
 * p->refused_private), SO_E_TOO_LARGE, or SO_E_NOMEM when libcurl itself reports CURLE_OUT_OF_MEMORY. Counts
 * the request. */
int registry_http_perform(struct registry *r, const struct registry_http_req *q, struct registry_http_resp *p);

/* Transport setup and teardown (registry_http.c). registry_http_destroy is safe after a failed or missing init. */
int registry_http_init(struct registry *r, const char *extra_ca_file, char *err, size_t errlen);
void registry_http_destroy(struct registry *r);

#endif

/*
 * The shared part of our libcurl clients (the API server's, operator/kube/client.c, and the registries',
 * webhook/verify/registry_http.c): a pool of easy handles and the body sink with its caps. Each client keeps its
 * own request options, credentials, TLS material and error mapping.
 *
 * A pool hands a thread an idle easy handle, so a client that makes many calls reuses its live connection and
 * TLS session; DNS answers and TLS sessions are shared between the pool's handles through a CURLSH with
 * per-data locks. Any thread may get and put handles; a handle is used by one thread at a time.
 */
#ifndef SO_UTIL_HTTP_H
#define SO_UTIL_HTTP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

#include "operator/base/buf.h"

struct http_idle;

struct http_pool {
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t mu;
	struct http_idle *idle; /* handles kept with their connections, at most max_idle */
	int nidle, max_idle;
};

void http_pool_init(struct http_pool *p, int max_idle);
void http_pool_destroy(struct http_pool *p);

/* A handle reset to libcurl's defaults except CURLOPT_SHARE (the pool's) and CURLOPT_NOSIGNAL: an idle one (its
 * connections and caches kept) or a new one. */
CURL *http_pool_get(struct http_pool *p);
/* Back into the pool, or closed when the pool is full. */
void http_pool_put(struct http_pool *p, CURL *easy);
/* Closes every idle handle and its connections: the next requests connect afresh. */
void http_pool_flush(struct http_pool *p);

/*
 * Where an answer's body goes (CURLOPT_WRITEFUNCTION http_sink_write, CURLOPT_WRITEDATA the sink; http_sink_attach
 * sets both). A 2xx body is passed to on_data when set, else kept whole in body, whose cap is the answer's cap:
 * passing it stops the transfer with too_large set. Other answers are kept for their message: in body too, or,
 * with error_cap, only their first error_cap bytes (the rest is read and dropped).
 */
struct http_sink {
	CURL *easy;
	struct buf *body;
	size_t error_cap;   /* 0: error bodies are held to body's cap like any other */
	int (*on_data)(void *ud, const char *data, size_t len); /* non-zero stops the transfer (data_rc) */
	void *ud;
	int decided, ok;    /* status known; whether it is 2xx */
	int too_large;
	int data_rc;
};

void http_sink_attach(CURL *easy, struct http_sink *s);
size_t http_sink_write(char *data, size_t size, size_t nmemb, void *ud);

#endif

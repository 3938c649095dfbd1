/*
 * The Kubernetes REST client: every call to the API server goes through here.
 *
 * One struct kube_client is shared by all threads. Each request borrows a libcurl easy handle from a small
 * pool, so a thread that makes many calls reuses the handle's live connection and TLS session (HTTP/2 is
 * negotiated by ALPN when the server offers it). TLS material is passed as in-memory blobs.
 *
 * Every request passes a client-side token bucket (--kube-api-qps / --kube-api-burst; off by default, as
 * controller-runtime's, which leaves the pacing to the API server's Priority and Fairness) and carries the
 * credentials struct kube_auth serves at that moment; a 401 invalidates them and the request is retried once.
 * A 429 (or 503 with Retry-After) is retried up to three times after the server's Retry-After (capped at
 * 10 s); after that the caller sees SO_E_API_TOO_MANY_REQUESTS with retry_after_s set.
 *
 * Non-2xx answers are mapped from the Kubernetes Status body (reason first, then HTTP code) onto
 * SO_E_API_* with the server's message kept in the response. Response bodies are capped.
 */
#ifndef SO_KUBE_CLIENT_H
#define SO_KUBE_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "operator/kube/config.h"
#include "operator/base/buf.h"

struct kube_client;

struct kube_client_opts {
	double qps;                /* <= 0 disables the client-side limiter */
	int burst;
	long timeout_ms;           /* whole-request deadline for non-watch calls */
	long connect_timeout_ms;
	long stream_idle_ms;       /* a stream that brings no byte for this long ends with SO_E_TIMEOUT */
	long list_timeout_ms;      /* whole-request deadline for one LIST page (kube_list_stream) */
	size_t max_response;       /* cap on one response body */
	const char *user_agent;
};

/* Defaults: no rate limit (qps 0; burst 30 applies once a qps is set), timeout 30 s, connect 10 s, stream idle
 * 150 s (the API server sends a watch bookmark at least every minute), LIST page 60 s, 32 MiB responses. */
void kube_client_opts_default(struct kube_client_opts *opts);

/* cfg is copied; the client does not keep the pointer. */
int kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts, struct kube_client **out,
		    char *err, size_t errlen);
void kube_client_free(struct kube_client *c);

/* Makes every in-flight and future request return SO_E_CANCELLED promptly (within about a second). */
void kube_client_cancel(struct kube_client *c);
int kube_client_cancelled(const struct kube_client *c);

/* Leader election's hold on writes: when allow is set, every POST, PUT, PATCH and DELETE asks it right before
 * the request is sent, and a 0 answer fails the request with SO_E_CANCELLED without sending it (reads, watches
 * and the TokenReviews and SubjectAccessReviews that authorize metrics scrapes pass). Set once; other threads
 * may be using the client meanwhile. */
typedef int (*kube_write_gate_fn)(void *ud);
void kube_client_set_write_gate(struct kube_client *c, kube_write_gate_fn allow, void *ud);

/* Requests sent (each attempt counts), by method, and those that failed. KUBE_WATCH: a GET with watch=1; lists,
 * streamed or not, are KUBE_GET. */
enum kube_method { KUBE_GET, KUBE_WATCH, KUBE_POST, KUBE_PUT, KUBE_PATCH, KUBE_DELETE, KUBE_OTHER, KUBE_NMETHODS };
struct kube_client_stats {
	unsigned long requests[KUBE_NMETHODS];
	unsigned long failures; /* transport errors and non-2xx answers */
};
void kube_client_get_stats(struct kube_client *c, struct kube_client_stats *out);
const char *kube_method_name(enum kube_method m);

/* Prometheus text: client-go's rest_client_requests_total{code,host,method} (every attempt; code "<error>"
 * when no answer came) and rest_client_request_duration_seconds{host,verb} (every attempt but watches),
 * then spin_operator_api_requests_total{method} (WATCH apart) and spin_operator_api_request_failures_total. */
int kube_client_write_metrics(struct kube_client *c, struct buf *out);

/* The configured default namespace (kubeconfig context or in-cluster namespace file). */
const char *kube_client_namespace(const struct kube_client *c);

struct kube_response {
	long http_code;       /* 0 when no HTTP answer was received */
	int http_version;     /* 1 or 2: the protocol the answer came over (0 when none) */
	struct buf body;      /* raw response body */
	char *reason;         /* Status.reason, or NULL */
	char *message;        /* Status.message, or a transport error description; never NULL after a failure */
	long retry_after_s;   /* from Retry-After or Status.details.retryAfterSeconds, else 0 */
};

void kube_response_free(struct kube_response *r);

/*
 * One request. path includes the query string ("/api/v1/namespaces?limit=5"). body may be NULL.
 * Returns SO_OK for 2xx, otherwise a negative so_err; resp (may be NULL) is filled either way and must be freed.
 */
int kube_request(struct kube_client *c, const char *method, const char *path, const char *content_type,
		 const char *body, size_t body_len, struct kube_response *resp);

/* Streaming GET: every received chunk is passed to on_data; a non-zero return from it aborts the request
 * and is returned. Non-2xx answers are collected and mapped like kube_request. deadline_ms bounds the whole
 * stream (0: no bound; a watch is bounded by its server-side timeoutSeconds); whatever it is, a stream that
 * brings no byte for stream_idle_ms ends with SO_E_TIMEOUT, so a peer that stops answering (a stopped API
 * server still ACKs TCP keepalives) is left. When *stop (may be NULL) becomes non-zero the stream ends within
 * about a second with SO_E_CANCELLED. */
typedef int (*kube_stream_fn)(void *ud, const char *data, size_t len);
int kube_stream(struct kube_client *c, const char *path, long deadline_ms, kube_stream_fn on_data, void *ud,
		const atomic_int *stop, struct kube_response *resp);
/* The deadline of one LIST page (opts.list_timeout_ms), for kube_list_stream. */
long kube_client_list_timeout_ms(const struct kube_client *c);

/* The API server's history went back (etcd restored from a backup: an informer found its resourceVersion ahead
 * of the server's). Every informer of the client relists before its next watch, not only the one that noticed:
 * the others' versions are just as far ahead, but the server's revision can overtake them (the writes after the
 * restore) before they look, and a watch from an overtaken version is accepted and misses the lost history.
 * kube_client_history_rewound moves the epoch on once for the epoch the caller last listed at (seen). */
unsigned long kube_client_history_epoch(const struct kube_client *c);
void kube_client_history_rewound(struct kube_client *c, unsigned long seen);

/* The mapping used for non-2xx answers: HTTP code plus an optional Status body → so_err, reason, message,
 * retryAfterSeconds. Pure; exposed for tests. reason/message are malloc'd (or NULL). */
int kube_status_map(long http_code, const char *body, size_t len, char **reason, char **message,
		    long *retry_after_s);

/* JSON conveniences over kube_request. On success *out (when out is non-NULL) receives a new reference. */
int kube_get_json(struct kube_client *c, const char *path, json_t **out, struct kube_response *resp);
int kube_send_json(struct kube_client *c, const char *method, const char *path, const char *content_type,
		   const json_t *body, json_t **out, struct kube_response *resp);
/* kube_send_json within timeout_ms for the whole call (retries and their waits included); <= 0: the
 * client's per-request timeout. SO_E_TIMEOUT when the deadline passes. */
int kube_send_json_within(struct kube_client *c, long timeout_ms, const char *method, const char *path,
			  const char *content_type, const json_t *body, json_t **out, struct kube_response *resp);
/* kube_send_json_within for a GET by a caller with its own deadline (image verification's pull Secrets): the client-side
 * limiter's wait, the request and any 429 retries all fit in timeout_ms, or the call returns SO_E_TIMEOUT (or
 * the last 429) without waiting longer. A token the deadline would not allow using is not taken, so a full
 * limiter fails the caller at once instead of queueing it behind the controllers. */
int kube_get_json_within(struct kube_client *c, const char *path, long timeout_ms, json_t **out,
			 struct kube_response *resp);

#endif

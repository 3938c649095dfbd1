/*
 * Who may read /metrics: controller-runtime's WithAuthenticationAndAuthorization. The scrape's bearer token is
 * checked with a TokenReview (authentication.k8s.io/v1) and the user it names with a SubjectAccessReview
 * (authorization.k8s.io/v1, nonResourceAttributes {path, verb}, with the user's name, uid, groups and extra).
 *
 * Decisions (allowed, denied, not authenticated) are cached for ttl_s, keyed by a SHA-256 of the token, path
 * and verb: the token itself is never kept, compared or logged. The cache holds at most max_entries; when full,
 * the entry closest to expiry goes. Failures to ask the API server are not cached. Reviews go through a
 * backend (the API server by metrics_auth_kube_backend, a fake in tests) and the clock is a parameter.
 */
#ifndef SO_METRICS_AUTH_H
#define SO_METRICS_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include "operator/kube/client.h"

#define METRICS_AUTH_TTL_S 10.0
#define METRICS_AUTH_MAX_ENTRIES 256
#define METRICS_AUTH_MAX_TOKEN 16384 /* a longer bearer token is refused without a review */
#define METRICS_AUTH_TIMEOUT_MS 5000 /* each review call, retries included */

struct metrics_auth_backend {
	/* TokenReview: SO_OK with *authenticated set and, when it is, *user a new reference to status.user
	 * ({username, uid, groups, extra}); a negative so_err when the API server could not answer. */
	int (*token_review)(void *ud, const char *token, int *authenticated, json_t **user);
	/* SubjectAccessReview of a non-resource request: SO_OK with *allowed, or a negative so_err. */
	int (*access_review)(void *ud, const json_t *user, const char *path, const char *verb, int *allowed);
	void *ud;
};

/* The API server's reviews through c, each call within METRICS_AUTH_TIMEOUT_MS. */
void metrics_auth_kube_backend(struct kube_client *c, struct metrics_auth_backend *out);

struct metrics_auth_opts {
	double ttl_s;          /* 0: METRICS_AUTH_TTL_S */
	size_t max_entries;    /* 0: METRICS_AUTH_MAX_ENTRIES */
	double (*now)(void);   /* monotonic seconds; NULL: CLOCK_MONOTONIC */
};

struct metrics_auth;

struct metrics_auth *metrics_auth_new(const struct metrics_auth_backend *be, const struct metrics_auth_opts *o);
void metrics_auth_free(struct metrics_auth *a);

enum metrics_auth_result {
	METRICS_AUTH_ALLOWED,
	METRICS_AUTH_NO_TOKEN,       /* 401: no bearer token */
	METRICS_AUTH_UNAUTHENTICATED, /* 401: the TokenReview said no */
	METRICS_AUTH_DENIED,         /* 403: the SubjectAccessReview said no */
	METRICS_AUTH_ERROR,          /* 500: the API server could not be asked */
};

/* Checks one request: authorization is the Authorization header (may be NULL). user (may be NULL) receives the
 * authenticated user's name for messages. Thread-safe; the reviews run outside the cache's lock. */
enum metrics_auth_result metrics_auth_check(struct metrics_auth *a, const char *authorization, const char *path,
					    const char *verb, char *user, size_t userlen);

struct metrics_auth_stats {
	unsigned long hits, misses, reviews; /* reviews: backend calls made */
	size_t entries;
};
void metrics_auth_get_stats(struct metrics_auth *a, struct metrics_auth_stats *out);

#endif

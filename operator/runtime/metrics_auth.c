#include "operator/runtime/metrics_auth.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/mem.h"

struct entry {
	unsigned char key[32]; /* SHA-256 of token, path, verb */
	double expires;
	enum metrics_auth_result result;
	char user[128];
	int used;
};

struct metrics_auth {
	struct metrics_auth_backend be;
	double ttl_s;
	size_t max;
	double (*now)(void);
	pthread_mutex_t mu;
	struct entry *entries;
	unsigned long hits, misses, reviews;
};

/* ---- the API server backend ---- */

static int kube_token_review(void *ud, const char *token, int *authenticated, json_t **user)
{
	json_t *body = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind", "TokenReview",
				 "spec", "token", token);
	json_t *resp = NULL;
	struct kube_response r = { 0 };
	*authenticated = 0;
	*user = NULL;
	if (!body)
		return SO_E_INVAL; /* the token is not UTF-8 */
	int rc = kube_send_json_within(ud, METRICS_AUTH_TIMEOUT_MS, "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
				       NULL, body, &resp, &r);
	json_decref(body);
	if (rc) {
		log_warn("metrics", "TokenReview failed: %s: %s", so_strerror(rc), r.message ? r.message : "");
	} else {
		json_t *st = json_object_get(resp, "status");
		*authenticated = json_is_true(json_object_get(st, "authenticated"));
		if (*authenticated && json_is_object(json_object_get(st, "user")))
			*user = json_incref(json_object_get(st, "user"));
		else
			*authenticated = 0;
	}
	json_decref(resp);
	kube_response_free(&r);
	return rc;
}

static int kube_access_review(void *ud, const json_t *user, const char *path, const char *verb, int *allowed)
{
	json_t *spec = json_pack("{s:{s:s,s:s}}", "nonResourceAttributes", "path", path, "verb", verb);
	json_t *resp = NULL;
	struct kube_response r = { 0 };
	static const char *const fields[][2] = { { "username", "user" }, { "uid", "uid" }, { "groups", "groups" },
						  { "extra", "extra" } };
	*allowed = 0;
	if (!spec)
		return SO_E_INVAL; /* the path is not UTF-8 */
	json_t *body = json_pack("{s:s,s:s,s:o}", "apiVersion", "authorization.k8s.io/v1", "kind", "SubjectAccessReview",
				 "spec", spec);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_t *v = json_object_get(user, fields[i][0]);
		if (v)
			json_object_set(spec, fields[i][1], v);
	}
	int rc = kube_send_json_within(ud, METRICS_AUTH_TIMEOUT_MS, "POST",
				       "/apis/authorization.k8s.io/v1/subjectaccessreviews", NULL, body, &resp, &r);
	json_decref(body);
	if (rc)
		log_warn("metrics", "SubjectAccessReview failed: %s: %s", so_strerror(rc), r.message ? r.message : "");
	else
		*allowed = json_is_true(json_object_get(json_object_get(resp, "status"), "allowed"));
	json_decref(resp);
	kube_response_free(&r);
	return rc;
}

void metrics_auth_kube_backend(struct kube_client *c, struct metrics_auth_backend *out)
{
	out->token_review = kube_token_review;
	out->access_review = kube_access_review;
	out->ud = c;
}

/* ---- the cache ---- */

struct metrics_auth *metrics_auth_new(const struct metrics_auth_backend *be, const struct metrics_auth_opts *o)
{
	struct metrics_auth *a = mem_calloc(1, sizeof *a);
	a->be = *be;
	a->ttl_s = o && o->ttl_s > 0 ? o->ttl_s : METRICS_AUTH_TTL_S;
	a->max = o && o->max_entries ? o->max_entries : METRICS_AUTH_MAX_ENTRIES;
	a->now = o && o->now ? o->now : clock_mono_s;
	a->entries = mem_calloc(a->max, sizeof *a->entries);
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

void metrics_auth_free(struct metrics_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->entries);
	free(a);
}

static int cache_key(const char *token, size_t token_len, const char *path, const char *verb, unsigned char key[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, token, token_len) &&
		 EVP_DigestUpdate(ctx, "", 1) && EVP_DigestUpdate(ctx, path, strlen(path) + 1) &&
		 EVP_DigestUpdate(ctx, verb, strlen(verb)) && EVP_DigestFinal_ex(ctx, key, &n) && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? SO_OK : SO_E_CONFIG; /* OpenSSL offers no SHA-256 (a provider problem) */
}

/* Under mu: the live entry for key, or NULL. */
static struct entry *lookup(struct metrics_auth *a, const unsigned char key[32], double now)
{
	for (size_t i = 0; i < a->max; i++) {
		struct entry *e = &a->entries[i];
		if (e->used && e->expires > now && !memcmp(e->key, key, 32))
			return e;
	}
	return NULL;
}

/* Under mu: a slot for a new entry: a free or expired one, else the one closest to expiry. */
static struct entry *slot(struct metrics_auth *a, const unsigned char key[32], double now)
{
	struct entry *victim = &a->entries[0];
	for (size_t i = 0; i < a->max; i++) {
		struct entry *e = &a->entries[i];
		if (!e->used || e->expires <= now || !memcmp(e->key, key, 32))
			return e;
		if (e->expires < victim->expires)
			victim = e;
	}
	return victim;
}

static void set_user(char *dst, size_t len, const char *src)
{
	if (dst && len)
		snprintf(dst, len, "%s", src ? src : "");
}

/* The token of "Bearer <token>" (scheme case-insensitive), or NULL. */
static const char *bearer(const char *authorization, size_t *len)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *t = authorization + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t);
	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	*len = n;
	return n ? t : NULL;
}

enum metrics_auth_result metrics_auth_check(struct metrics_auth *a, const char *authorization, const char *path,
					    const char *verb, char *user, size_t userlen)
{
	unsigned char key[32];
	size_t token_len = 0;
	const char *token = bearer(authorization, &token_len);
	enum metrics_auth_result res;
	char name[128] = "";
	char tok[METRICS_AUTH_MAX_TOKEN + 1];

	set_user(user, userlen, "");
	if (!token)
		return METRICS_AUTH_NO_TOKEN;
	if (token_len > METRICS_AUTH_MAX_TOKEN)
		return METRICS_AUTH_UNAUTHENTICATED;
	if (cache_key(token, token_len, path, verb, key))
		return METRICS_AUTH_ERROR;

	pthread_mutex_lock(&a->mu);
	struct entry *e = lookup(a, key, a->now());
	if (e) {
		res = e->result;
		set_user(user, userlen, e->user);
		a->hits++;
		pthread_mutex_unlock(&a->mu);
		return res;
	}
	a->misses++;
	pthread_mutex_unlock(&a->mu);

	/* Ask the API server, outside the lock. */
	int authenticated = 0, allowed = 0, calls = 1;
	json_t *who = NULL;
	memcpy(tok, token, token_len);
	tok[token_len] = '\0';
	int rc = a->be.token_review(a->be.ud, tok, &authenticated, &who);
	explicit_bzero(tok, token_len); /* not a dead store the compiler may drop */
	if (rc == SO_OK && authenticated) {
		snprintf(name, sizeof name, "%s", json_string_value(json_object_get(who, "username")) ?
							  json_string_value(json_object_get(who, "username")) : "");
		calls++;
		rc = a->be.access_review(a->be.ud, who, path, verb, &allowed);
	}
	json_decref(who);
	res = rc ? METRICS_AUTH_ERROR : !authenticated ? METRICS_AUTH_UNAUTHENTICATED
				    : allowed	   ? METRICS_AUTH_ALLOWED
						   : METRICS_AUTH_DENIED;
	set_user(user, userlen, name);

	pthread_mutex_lock(&a->mu);
	a->reviews += (unsigned long)calls;
	if (res != METRICS_AUTH_ERROR) {
		double now = a->now();
		e = slot(a, key, now);
		memcpy(e->key, key, 32);
		e->expires = now + a->ttl_s;
		e->result = res;
		e->used = 1;
		snprintf(e->user, sizeof e->user, "%s", name);
	}
	pthread_mutex_unlock(&a->mu);
	return res;
}

void metrics_auth_get_stats(struct metrics_auth *a, struct metrics_auth_stats *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&a->mu);
	out->hits = a->hits;
	out->misses = a->misses;
	out->reviews = a->reviews;
	double now = a->now();
	for (size_t i = 0; i < a->max; i++)
		if (a->entries[i].used && a->entries[i].expires > now)
			out->entries++;
	pthread_mutex_unlock(&a->mu);
}

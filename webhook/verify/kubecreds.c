#include "webhook/verify/kubecreds.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/api.h"
#include "operator/kube/names.h"
#include "operator/base/buf.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "webhook/verify/vcache.h"
#include "webhook/verify/verifier.h"
#include "operator/base/mem.h"

#define MAX_SECRETS 32 /* pull secrets read per verification */

struct kc_entry {
	char *key;     /* the object's API path */
	json_t *obj;   /* NULL: the object does not exist */
	size_t bytes;  /* what obj holds, roughly (json_bytes) */
	int64_t until; /* expiry, on the cache's clock */
};

struct kubecreds_cache {
	pthread_mutex_t mu;
	int64_t ttl_ms;
	size_t max, n;
	size_t bytes; /* sum of the entries' bytes, at most KUBECREDS_CACHE_BYTES */
	struct kc_entry *e;
	int64_t (*now_ms)(void *ud);
	void *clock_ud;
};

static int64_t cache_now(const struct kubecreds_cache *c)
{
	return c->now_ms ? c->now_ms(c->clock_ud) : clock_mono_ms();
}

struct kubecreds_cache *kubecreds_cache_new(int64_t ttl_ms, size_t max, int64_t (*now_ms)(void *ud), void *clock_ud)
{
	struct kubecreds_cache *c = mem_calloc(1, sizeof *c);
	c->ttl_ms = ttl_ms > 0 ? ttl_ms : KUBECREDS_TTL_MS;
	c->max = max ? max : KUBECREDS_CACHE_MAX;
	c->now_ms = now_ms;
	c->clock_ud = clock_ud;
	c->e = mem_calloc(c->max, sizeof *c->e);
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void kubecreds_cache_free(struct kubecreds_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].key);
		json_decref(c->e[i].obj);
	}
	free(c->e);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

size_t kubecreds_cache_size(struct kubecreds_cache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* Roughly the memory a parsed object holds: its keys and strings plus a constant per value. */
static size_t json_bytes(const json_t *v)
{
	size_t n = 32, i;
	const char *k;
	json_t *x;
	if (json_is_string(v))
		return n + json_string_length(v);
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x)
			n += strlen(k) + json_bytes(x);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			n += json_bytes(x);
	}
	return n;
}

static void entry_drop(struct kubecreds_cache *c, size_t i)
{
	c->bytes -= c->e[i].bytes;
	free(c->e[i].key);
	json_decref(c->e[i].obj);
	c->e[i] = c->e[--c->n];
}

/* 1 with a new reference in *obj (NULL: known missing) when a fresh entry exists; expired entries go. */
static int cache_get(struct kubecreds_cache *c, const char *key, json_t **obj)
{
	int hit = 0;
	pthread_mutex_lock(&c->mu);
	int64_t now = cache_now(c);
	for (size_t i = 0; i < c->n;) {
		if (c->e[i].until <= now) {
			entry_drop(c, i);
			continue;
		}
		if (!hit && !strcmp(c->e[i].key, key)) {
			hit = 1;
			*obj = json_incref(c->e[i].obj);
		}
		i++;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

/* The entry closest to expiry. */
static size_t oldest(const struct kubecreds_cache *c)
{
	size_t o = 0;
	for (size_t i = 1; i < c->n; i++)
		if (c->e[i].until < c->e[o].until)
			o = i;
	return o;
}

/* Keeps obj (NULL: missing) under key; when full (entries or bytes), the entries closest to expiry make room.
 * An object over KUBECREDS_ENTRY_BYTES is not kept. */
static void cache_put(struct kubecreds_cache *c, const char *key, json_t *obj)
{
	size_t bytes = strlen(key) + (obj ? json_bytes(obj) : 0);
	if (bytes > KUBECREDS_ENTRY_BYTES)
		return;
	char *k = mem_strdup(key);
	pthread_mutex_lock(&c->mu);
	int64_t until = cache_now(c) + c->ttl_ms;
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->e[i].key, key)) {
			entry_drop(c, i);
			break;
		}
	}
	while (c->n > 0 && (c->n == c->max || c->bytes + bytes > KUBECREDS_CACHE_BYTES))
		entry_drop(c, oldest(c));
	c->e[c->n++] = (struct kc_entry){ .key = k, .obj = json_incref(obj), .bytes = bytes, .until = until };
	c->bytes += bytes;
	pthread_mutex_unlock(&c->mu);
}

static int client_get(void *ud, const char *path, long timeout_ms, json_t **out, char *msg, size_t msglen)
{
	struct kube_response resp = { 0 };
	int rc = kube_get_json_within(ud, path, timeout_ms, out, &resp);
	if (rc)
		snprintf(msg, msglen, "%s", resp.message ? resp.message : so_strerror(rc));
	kube_response_free(&resp);
	return rc;
}

/* One object by path, from the cache or read within the deadline: SO_OK with *out (NULL when it does not exist)
 * or an so_err with msg. */
static int read_object(struct kubecreds *kc, const char *path, int64_t deadline_ms, json_t **out, char *msg,
		       size_t msglen)
{
	*out = NULL;
	if (kc->cache && cache_get(kc->cache, path, out))
		return SO_OK;
	long left = (long)(deadline_ms - clock_mono_ms());
	if (left < 1) {
		snprintf(msg, msglen, "verification deadline reached");
		return SO_E_TIMEOUT;
	}
	int rc = kc->get ? kc->get(kc->get_ud, path, left, out, msg, msglen)
			 : client_get(kc->client, path, left, out, msg, msglen);
	if (rc == SO_E_API_NOT_FOUND) {
		*out = NULL;
		rc = SO_OK;
	}
	if (rc == SO_OK && kc->cache)
		cache_put(kc->cache, path, *out);
	return rc;
}

/* Adds one Secret; a missing one is skipped. */
static int add_secret(struct kubecreds *kc, struct creds *keyring, const char *ns, const char *name,
		      int64_t deadline_ms, char *err, size_t errlen)
{
	struct buf path = BUF_INIT(1024);
	json_t *secret = NULL;
	char msg[256] = "", cerr[256] = "";
	int rc;

	/* Names come from the SpinApp: only a valid object name goes into a request path. */
	if (!ns || !name || !kube_dns1123_subdomain(ns) || !kube_dns1123_subdomain(name))
		return SO_OK;
	if ((rc = kube_path(&path, &KUBE_SECRETS, ns, name, NULL)))
		goto out;
	rc = read_object(kc, path.data, deadline_ms, &secret, msg, sizeof msg);
	if (rc) {
		so_fail(err, errlen, rc, "reading Secret %s/%s: %s", ns, name, msg);
	} else if (!secret) {
		log_debug("verify", "pull secret %s/%s does not exist; skipped", ns, name);
	} else if ((rc = creds_add_secret(keyring, secret, cerr, sizeof cerr))) {
		/* A malformed Secret is the user's to fix; the others may still hold what is needed. */
		log_warn("verify", "pull secret %s/%s skipped: %s", ns, name, cerr);
		rc = SO_OK;
	}
out:
	json_decref(secret);
	buf_free(&path);
	return rc;
}

/* Adds every Secret named in a [{name}] list. */
static int add_list(struct kubecreds *kc, struct creds *keyring, const char *ns, const json_t *list, size_t *budget,
		    int64_t deadline_ms, char *err, size_t errlen)
{
	size_t i;
	json_t *e;
	int rc = SO_OK;
	json_array_foreach(list, i, e) {
		if (*budget == 0)
			break;
		(*budget)--;
		rc = add_secret(kc, keyring, ns, json_string_value(json_object_get(e, "name")), deadline_ms, err,
				errlen);
		if (rc)
			break;
	}
	return rc;
}

int kubecreds_lookup(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
		     int64_t deadline_ms, struct registry_cred **out, char *err, size_t errlen)
{
	struct kubecreds *kc = ud;
	struct creds *keyring = creds_new();
	struct buf path = BUF_INIT(1024);
	json_t *sa = NULL;
	char msg[256] = "";
	size_t budget = MAX_SECRETS;
	int rc;

	*out = NULL;
	rc = add_list(kc, keyring, ns, pull_secrets, &budget, deadline_ms, err, errlen);
	/* The default ServiceAccount's imagePullSecrets, which the kubelet adds to the app's pods. */
	if (rc == SO_OK && ns && kube_dns1123_subdomain(ns)) {
		if ((rc = buf_appendf(&path, "/api/v1/namespaces/%s/serviceaccounts/default", ns)) == SO_OK &&
		    (rc = read_object(kc, path.data, deadline_ms, &sa, msg, sizeof msg)))
			so_fail(err, errlen, rc, "reading ServiceAccount %s/default: %s", ns, msg);
		if (rc == SO_OK)
			rc = add_list(kc, keyring, ns, json_object_get(sa, "imagePullSecrets"), &budget, deadline_ms,
				      err, errlen);
	}
	if (rc == SO_OK && kc->secret_ns && kc->secret_name)
		rc = add_secret(kc, keyring, kc->secret_ns, kc->secret_name, deadline_ms, err, errlen);
	if (rc == SO_OK) {
		const struct registry_cred *c = creds_lookup(keyring, ref->registry, ref->repository);
		if (c)
			*out = verify_cred_dup(c);
	}
	json_decref(sa);
	buf_free(&path);
	creds_free(keyring);
	return rc;
}

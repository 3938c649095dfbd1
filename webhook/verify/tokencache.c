/*
 * Registry tokens, keyed by "host|scope|credential fingerprint" (Bearer) or "host|basic|fingerprint" (the
 * registry wants Basic: credentials are sent at once instead of after a 401). A small array with LRU eviction:
 * the webhook talks to a handful of registries and repositories, so linear scans under one mutex are cheaper
 * than a hash table. Tokens are wiped when dropped.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/registry_int.h"
#include "operator/base/mem.h"

struct tok_entry {
	char *key;
	char *token;
	enum tok_kind kind;
	int64_t expires_ms;
	uint64_t used;
};

static void entry_clear(struct tok_entry *e)
{
	free(e->key);
	if (e->token) {
		OPENSSL_cleanse(e->token, strlen(e->token));
		free(e->token);
	}
	memset(e, 0, sizeof *e);
}

void tokencache_init(struct tokencache *tc, size_t max)
{
	memset(tc, 0, sizeof *tc);
	pthread_mutex_init(&tc->mu, NULL);
	tc->max = max ? max : 1;
}

void tokencache_destroy(struct tokencache *tc)
{
	for (size_t i = 0; i < tc->n; i++)
		entry_clear(&tc->v[i]);
	free(tc->v);
	tc->v = NULL;
	tc->n = 0;
	pthread_mutex_destroy(&tc->mu);
}

static struct tok_entry *find(struct tokencache *tc, const char *key)
{
	for (size_t i = 0; i < tc->n; i++) {
		if (!strcmp(tc->v[i].key, key))
			return &tc->v[i];
	}
	return NULL;
}

static void remove_at(struct tokencache *tc, size_t i)
{
	entry_clear(&tc->v[i]);
	tc->v[i] = tc->v[tc->n - 1];
	memset(&tc->v[tc->n - 1], 0, sizeof tc->v[0]);
	tc->n--;
}

char *tokencache_get(struct tokencache *tc, const char *key, int64_t now_ms, enum tok_kind *kind)
{
	char *out = NULL;
	pthread_mutex_lock(&tc->mu);
	struct tok_entry *e = find(tc, key);
	if (e && now_ms < e->expires_ms) {
		out = mem_strdup(e->token);
		*kind = e->kind;
		e->used = ++tc->tick;
	} else if (e) {
		remove_at(tc, (size_t)(e - tc->v));
	}
	pthread_mutex_unlock(&tc->mu);
	return out;
}

int tokencache_put(struct tokencache *tc, const char *key, enum tok_kind kind, const char *token, int64_t expires_ms)
{
	char *k = mem_strdup(key), *t = mem_strdup(token);
	pthread_mutex_lock(&tc->mu);
	struct tok_entry *e = find(tc, key);
	if (e) {
		entry_clear(e);
	} else {
		if (!tc->v)
			tc->v = mem_calloc(tc->max, sizeof *tc->v);
		if (tc->n == tc->max) {
			/* The least recently used entry makes room (expired ones go when they are next looked up). */
			size_t victim = 0;
			for (size_t i = 1; i < tc->n; i++) {
				if (tc->v[i].used < tc->v[victim].used)
					victim = i;
			}
			remove_at(tc, victim);
		}
		e = &tc->v[tc->n++];
	}
	e->key = k;
	e->token = t;
	e->kind = kind;
	e->expires_ms = expires_ms;
	e->used = ++tc->tick;
	pthread_mutex_unlock(&tc->mu);
	return SO_OK;
}

void tokencache_drop(struct tokencache *tc, const char *key)
{
	pthread_mutex_lock(&tc->mu);
	struct tok_entry *e = find(tc, key);
	if (e)
		remove_at(tc, (size_t)(e - tc->v));
	pthread_mutex_unlock(&tc->mu);
}

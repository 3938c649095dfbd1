#include "webhook/verify/vcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define DEFAULT_MAX 1024

/* A stored value: in a hash chain and in the LRU list (most recent at head). */
struct entry {
	char *key, *value;
	int64_t expires_ms;
	uint64_t hash;
	struct entry *chain;
	struct entry *prev, *next;
};

/* A fill in progress: the leader fills rc/value, then sets done and broadcasts. Freed by the last user. */
struct flight {
	char *key;
	int done, rc;
	char *value;
	unsigned users;
	pthread_cond_t cv;
	struct flight *next;
};

struct vcache {
	pthread_mutex_t mu;
	struct entry **buckets;
	size_t nbuckets, count, max;
	struct entry *head, *tail;
	struct flight *flights;
	int64_t (*now_ms)(void *);
	void *clock_ud;
	uint64_t hits, misses, shared, evictions;
};

static int64_t default_clock(void *ud)
{
	(void)ud;
	return clock_mono_ms();
}

/* FNV-1a. */
static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int vcache_new(const struct vcache_opts *o, struct vcache **out)
{
	struct vcache *c = mem_calloc(1, sizeof *c);

	*out = NULL;
	c->max = o && o->max_entries ? o->max_entries : DEFAULT_MAX;
	c->nbuckets = 16;
	while (c->nbuckets < c->max * 2)
		c->nbuckets *= 2;
	c->buckets = mem_calloc(c->nbuckets, sizeof *c->buckets);
	c->now_ms = o && o->now_ms ? o->now_ms : default_clock;
	c->clock_ud = o ? o->clock_ud : NULL;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return SO_OK;
}

static void lru_unlink(struct vcache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_head(struct vcache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Removes e from its chain and the LRU list and frees it. Under mu. */
static void remove_entry(struct vcache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	lru_unlink(c, e);
	c->count--;
	free(e->key);
	free(e->value);
	free(e);
}

/* The live entry for key (an expired one is dropped on the way), or NULL. Under mu. */
static struct entry *find(struct vcache *c, const char *key, uint64_t h)
{
	struct entry *e = c->buckets[h & (c->nbuckets - 1)];
	while (e && !(e->hash == h && strcmp(e->key, key) == 0))
		e = e->chain;
	if (e && c->now_ms(c->clock_ud) >= e->expires_ms) {
		remove_entry(c, e);
		e = NULL;
	}
	return e;
}

/* Stores a copy of key → value for ttl_ms, evicting the least recently used entry when full. Under mu. */
static void store(struct vcache *c, const char *key, const char *value, int64_t ttl_ms)
{
	uint64_t h = hash_of(key);
	struct entry *e = find(c, key, h);

	if (e)
		remove_entry(c, e);
	e = mem_calloc(1, sizeof *e);
	e->key = mem_strdup(key);
	e->value = mem_strdup(value ? value : "");
	while (c->count >= c->max && c->tail) {
		remove_entry(c, c->tail);
		c->evictions++;
	}
	e->hash = h;
	e->expires_ms = c->now_ms(c->clock_ud) + ttl_ms;
	e->chain = c->buckets[h & (c->nbuckets - 1)];
	c->buckets[h & (c->nbuckets - 1)] = e;
	lru_push_head(c, e);
	c->count++;
}

/* Drops one user of a finished (so unlisted) flight. Under mu. */
static void flight_release(struct flight *f)
{
	if (--f->users > 0)
		return;
	pthread_cond_destroy(&f->cv);
	free(f->key);
	free(f->value);
	free(f);
}

static char *dup_or_null(const char *s)
{
	return s ? mem_strdup(s) : NULL;
}

int vcache_peek(struct vcache *c, const char *key, char **value)
{
	int rc = SO_E_API_NOT_FOUND;
	*value = NULL;
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, key, hash_of(key));
	if (e) {
		*value = mem_strdup(e->value);
		rc = SO_OK;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int vcache_get(struct vcache *c, const char *key, int64_t deadline_ms, vcache_fill_fn fill, void *ud,
	       char **value, enum vcache_how *how)
{
	struct flight *f;
	struct entry *e;
	enum vcache_how h;
	int rc;

	*value = NULL;
	pthread_mutex_lock(&c->mu);
	e = find(c, key, hash_of(key));
	if (e) {
		lru_unlink(c, e);
		lru_push_head(c, e);
		c->hits++;
		*value = mem_strdup(e->value);
		rc = SO_OK;
		h = VCACHE_HIT;
		goto out;
	}
	for (f = c->flights; f && strcmp(f->key, key) != 0; f = f->next)
		;
	if (f) {
		/* Someone is filling this key: wait for the answer, up to our own deadline. */
		struct timespec until = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L };
		c->shared++;
		f->users++;
		while (!f->done) {
			if (deadline_ms <= 0)
				pthread_cond_wait(&f->cv, &c->mu);
			else if (pthread_cond_timedwait(&f->cv, &c->mu, &until) != 0 && !f->done)
				break;
		}
		if (f->done) {
			rc = f->rc;
			*value = dup_or_null(f->value);
		} else {
			rc = SO_E_TIMEOUT;
		}
		if (!f->done)
			f->users--; /* the leader still runs and will release it */
		else
			flight_release(f);
		h = VCACHE_SHARED;
		goto out;
	}
	/* We lead: announce the flight, fill without the lock, then publish. */
	f = mem_calloc(1, sizeof *f);
	f->key = mem_strdup(key);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	f->users = 1;
	f->next = c->flights;
	c->flights = f;
	c->misses++;
	pthread_mutex_unlock(&c->mu);

	char *v = NULL;
	int64_t ttl = 0;
	rc = fill(ud, &v, &ttl);

	pthread_mutex_lock(&c->mu);
	if (rc == SO_OK && ttl > 0)
		store(c, key, v, ttl);
	f->rc = rc;
	f->value = v; /* the flight owns it now */
	f->done = 1;
	/* Later callers see the cache (or fill again), never this finished flight. */
	for (struct flight **pp = &c->flights; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	pthread_cond_broadcast(&f->cv);
	*value = dup_or_null(v);
	flight_release(f);
	h = VCACHE_MISS;
out:
	pthread_mutex_unlock(&c->mu);
	if (how)
		*how = h;
	return rc;
}

void vcache_get_stats(struct vcache *c, struct vcache_stats *out)
{
	pthread_mutex_lock(&c->mu);
	out->hits = c->hits;
	out->misses = c->misses;
	out->shared = c->shared;
	out->evictions = c->evictions;
	out->entries = c->count;
	pthread_mutex_unlock(&c->mu);
}

void vcache_free(struct vcache *c)
{
	if (!c)
		return;
	while (c->head)
		remove_entry(c, c->head);
	/* No flight can be in progress: the owner stops every caller first. */
	free(c->buckets);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

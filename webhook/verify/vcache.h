/*
 * A thread-safe string → string cache with a TTL per entry, a bound on the number of entries (least recently
 * used evicted first) and single-flight filling: when several threads ask for the same missing key at once,
 * one (the leader) runs the fill function and the others wait for its answer, so concurrent identical
 * verifications make one set of registry requests. Only successful fills are stored; a failure is handed to
 * the threads waiting at that moment and then forgotten (errors are never cached).
 *
 * TTLs run on an injectable clock (milliseconds; CLOCK_MONOTONIC by default) so tests need no sleeps; waiting
 * for a leader is bounded by the caller's deadline on the real CLOCK_MONOTONIC.
 */
#ifndef SO_VERIFY_VCACHE_H
#define SO_VERIFY_VCACHE_H

#include <stddef.h>
#include <stdint.h>

struct vcache;

struct vcache_opts {
	size_t max_entries;                /* 0 = 1024 */
	int64_t (*now_ms)(void *clock_ud); /* NULL = CLOCK_MONOTONIC */
	void *clock_ud;
};

/* How vcache_get answered. */
enum vcache_how { VCACHE_HIT, VCACHE_MISS, VCACHE_SHARED };

/*
 * Computes the value of a key. Returns SO_OK with *value (malloc'd, handed to the cache) and *ttl_ms (0: do not
 * store), or a negative so_err, optionally with *value set to a message for the callers (also handed over).
 */
typedef int (*vcache_fill_fn)(void *ud, char **value, int64_t *ttl_ms);

int vcache_new(const struct vcache_opts *o, struct vcache **out);
void vcache_free(struct vcache *c);

/*
 * The value of key: from the cache (VCACHE_HIT), from fill run on this thread (VCACHE_MISS), or from another
 * thread's fill of the same key that was in progress (VCACHE_SHARED). Returns the fill's status; *value is a
 * malloc'd copy for the caller (may be NULL on failure). SO_E_TIMEOUT when deadline_ms (CLOCK_MONOTONIC ms;
 * 0 = none) passes while waiting for another thread. how may be NULL.
 */
int vcache_get(struct vcache *c, const char *key, int64_t deadline_ms, vcache_fill_fn fill, void *ud,
	       char **value, enum vcache_how *how);

/* Only a lookup: SO_OK with a copy of a live value, SO_E_API_NOT_FOUND when absent or expired. */
int vcache_peek(struct vcache *c, const char *key, char **value);

struct vcache_stats {
	uint64_t hits, misses, shared, evictions;
	size_t entries;
};
void vcache_get_stats(struct vcache *c, struct vcache_stats *out);

#endif

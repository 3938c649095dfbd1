/*
 * An informer keeps a local, trimmed copy of one resource collection current by list + watch, and tells
 * handlers what changed. One thread per informer runs this loop (client-go reflector semantics):
 *
 *   list (resourceVersion "0": served from the apiserver's watch cache; pages followed)
 *     → replace the store, emitting add/update/delete for the difference
 *   watch from the list's resourceVersion with allowWatchBookmarks and a random timeoutSeconds in [300, 600)
 *     → ADDED/MODIFIED/DELETED update the store, BOOKMARK only advances the resourceVersion
 *   the server ends the watch (timeout)             → watch again from the last resourceVersion
 *   410 Gone (answer or ERROR event)               → relist with a consistent read (resourceVersion "")
 *   transport error, 5xx, 429, malformed stream    → back off, then watch again from the last resourceVersion
 *
 * Backoff is 800 ms × 2^n with full jitter on top, capped at 30 s, and resets after 2 minutes without failure;
 * informer_retry_now cuts a backoff sleep short (the API server is known to be back).
 *
 * Health: the informer records when it last heard from the API server successfully (a list, the one-item list
 * that checks the resourceVersion before a watch resumes, any watch event or bookmark, a watch the server ended
 * normally) and whether its last attempt failed. The first success after a failure calls opts.on_recovered.
 *
 * Lists are decoded one item at a time as they arrive. Objects are trimmed before they are kept (opts.trim, then
 * metadata.managedFields always) and stored as compact JSON text: every reader gets its own decoded copy.
 * Handlers run on the informer thread, after the store has been updated, in event order, with objects borrowed
 * for the call; they must not block for long (enqueue a key and return).
 */
#ifndef SO_INFORMER_INFORMER_H
#define SO_INFORMER_INFORMER_H

#include <jansson.h>

#include "operator/kube/api.h"

struct informer;

struct informer_handlers {
	void (*on_add)(void *ud, json_t *obj);
	void (*on_update)(void *ud, json_t *old_obj, json_t *new_obj);
	void (*on_delete)(void *ud, json_t *obj);
};

struct informer_opts {
	const struct kube_resource *resource;
	const char *namespace;       /* NULL or "" for all namespaces */
	const char *label_selector;  /* or NULL */
	size_t max_event;            /* watch event size cap; 0 means 4 MiB */
	/* Optional resume point: skip the initial list and watch from this resourceVersion (a component that
	 * kept its last resourceVersion across a restart). The store starts empty and fills from events; a 410
	 * Gone falls back to a full list. Synced is reported at the first list or watch event. */
	const char *resource_version;
	/* Optional: reduce an object to what readers need, in place. It still sees metadata.managedFields, which
	 * the informer drops right after it. */
	void (*trim)(json_t *obj);
	/* Optional: also index the cache by the value of this label (with the namespace), so
	 * informer_list_indexed finds an app's objects without scanning the whole cache. Not copied: a constant. */
	const char *index_label;
	/* Optional, instead of index_label: index by the string this returns (borrowed from obj, or NULL for
	 * none), e.g. a spec field. Called on the informer thread with the trimmed object. */
	const char *(*index_value)(const json_t *obj);
	struct informer_handlers handlers;
	/* Optional: called on the informer thread at the first successful contact after a failed list or watch
	 * (its cache has been relisted or its watch resumed), with ud. */
	void (*on_recovered)(void *ud, struct informer *inf);
	void *ud;
};

struct informer_stats {
	unsigned long lists;      /* successful lists */
	unsigned long watches;    /* watch requests made */
	unsigned long events;     /* watch events applied */
	unsigned long relists_gone; /* relists forced by 410 Gone */
	unsigned long failures;   /* list/watch attempts that failed */
};

int informer_new(struct kube_client *c, const struct informer_opts *opts, struct informer **out);
int informer_start(struct informer *inf);
/* Waits until the first list has been applied; SO_E_TIMEOUT after timeout_ms. */
int informer_wait_synced(struct informer *inf, long timeout_ms);
int informer_synced(struct informer *inf);
/* Stops the thread (ends its watch within about a second) and joins it. Safe to call twice. */
void informer_stop(struct informer *inf);
/* Asks the thread to stop without waiting; lets a caller stop many informers in parallel before joining. */
void informer_signal_stop(struct informer *inf);
void informer_free(struct informer *inf);

/* A decoded copy of the cached object (the caller's), or NULL. ns is ignored for cluster-scoped resources. */
json_t *informer_get(struct informer *inf, const char *ns, const char *name);
/* Whether ns/name is cached, without decoding it. */
int informer_has(struct informer *inf, const char *ns, const char *name);
/* A new JSON array holding a decoded copy of every cached object. */
json_t *informer_list(struct informer *inf);
/* A new JSON array holding a decoded copy of every cached object in namespace ns whose opts.index_label label
 * (or opts.index_value) has the value value (empty without an index). */
json_t *informer_list_indexed(struct informer *inf, const char *ns, const char *value);
/* A new JSON array of the store keys ("ns/name") of the objects informer_list_indexed would return, without
 * decoding any object: what an event handler needs to enqueue them. */
json_t *informer_keys_indexed(struct informer *inf, const char *ns, const char *value);
/* How many objects informer_list_indexed would return, without decoding any. */
size_t informer_count_indexed(struct informer *inf, const char *ns, const char *value);
/* A new JSON array of every store key ("ns/name", or "name" for cluster-scoped objects), without decoding. */
json_t *informer_keys(struct informer *inf);
size_t informer_count(struct informer *inf);
const struct kube_resource *informer_resource(const struct informer *inf);
void informer_get_stats(struct informer *inf, struct informer_stats *out);
/* Seconds since the last successful contact with the API server (since informer_new before the first one). */
double informer_contact_age(struct informer *inf);
/* Whether the last list or watch attempt failed (and no success came since). */
int informer_failing(struct informer *inf);
/* Ends a backoff sleep now (or skips the next one's remainder): the API server answers again. */
void informer_retry_now(struct informer *inf);
/* The resourceVersion the informer is current at (malloc'd), or NULL before the first list. */
char *informer_resource_version(struct informer *inf);

#endif

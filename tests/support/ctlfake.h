/*
 * An in-memory struct ctl_store (operator/controller/store.h) for unit tests of the reconcilers and the event
 * handlers: caches the test fills, a small "API server" map behind get/create/update/apply/patch/delete, and a
 * log of every request and Event in order. Thread-safe (a reconcile applies a new app's Service on a helper
 * thread). Linked into every test binary.
 */
#ifndef SO_TESTS_CTLFAKE_H
#define SO_TESTS_CTLFAKE_H

#include <jansson.h>

#include "operator/controller/store.h"

struct ctlfake;

struct ctlfake *ctlfake_new(void);
void ctlfake_free(struct ctlfake *f);
/* The store to hand to ctl_new_with_store; valid until ctlfake_free. */
struct ctl_store ctlfake_store(struct ctlfake *f);

/* Puts a copy of obj into cache c under its metadata namespace/name (replacing one there), or drops it. */
void ctlfake_cache_put(struct ctlfake *f, enum ctl_cache c, const json_t *obj);
void ctlfake_cache_del(struct ctlfake *f, enum ctl_cache c, const char *ns, const char *name);

/* Puts a copy of obj on the fake API server as resource r (what get answers and create collides with). */
void ctlfake_api_put(struct ctlfake *f, const struct kube_resource *r, const json_t *obj);
/* The object the fake API server holds, or NULL (borrowed). */
json_t *ctlfake_api_get(struct ctlfake *f, const struct kube_resource *r, const char *ns, const char *name);

/* The next request with this verb ("get", "create", "update", "apply", "patch", "delete") on resource plural
 * fails with rc and a message, once. */
void ctlfake_fail(struct ctlfake *f, const char *verb, const char *plural, int rc);

/* Every request so far, in order: {"verb", "resource" (plural), "namespace" (or ""), "name", and "body" (the
 * object or patch sent), "uid" and "propagation" (a delete's precondition and policy) where they apply}.
 * Borrowed; ctlfake_clear empties it. */
json_t *ctlfake_requests(struct ctlfake *f);
/* The requests as one line each, "verb resource ns/name", joined by "; " (static buffer; "" when none). */
const char *ctlfake_requests_text(struct ctlfake *f);
/* The first request with this verb on resource plural named name (NULL: any name), or NULL (borrowed). */
json_t *ctlfake_request(struct ctlfake *f, const char *verb, const char *plural, const char *name);
/* Every Event so far: {"from" ("app" / "executor"), "object" ("ns/name"), "type", "reason", "message"}. */
json_t *ctlfake_events(struct ctlfake *f);
/* What the store's routes_served answers from now on (1, the default: the Gateway API is served; 0: not;
 * a negative so_err: discovery failed). */
void ctlfake_routes_served(struct ctlfake *f, int answer);

/* Forgets the logged requests and Events (caches and the API map stay). */
void ctlfake_clear(struct ctlfake *f);

#endif

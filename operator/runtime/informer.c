#include "operator/runtime/informer.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/kube/watch.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/parse.h"
#include "operator/base/ticker.h"
#include "operator/base/mem.h"

#define DEFAULT_MAX_EVENT (4u << 20)
#define BACKOFF_BASE_S 0.8
#define BACKOFF_CAP_S 30.0
#define BACKOFF_RESET_S 120.0
#define WATCH_MIN_TIMEOUT_S 300
#define LIST_PAGE 500

struct informer {
	struct kube_client *client;
	struct informer_opts opts;
	char *namespace;
	char *label_selector;

	pthread_t thread;
	int started;
	atomic_int stop;

	pthread_rwlock_t store_mu;
	/* Objects are kept as compact JSON text (a jansson string each) and decoded for every reader: the text of
	 * a trimmed object takes about a sixth of the memory of its jansson tree, which dominated the process. */
	json_t *store;          /* "ns/name" → JSON string: the trimmed object's compact serialisation */
	json_t *slots;          /* with an index: "ns/name" → its index slot "ns/indexed value" */
	json_t *index;          /* with an index (opts.index_label or index_value): slot → { "ns/name" → true } */
	char *rv;               /* last resourceVersion seen (informer thread writes, readers copy under lock) */

	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	int synced;

	struct informer_stats stats; /* under store_mu */

	/* Health: monotonic milliseconds of the last successful contact; the last attempt failed; wake a backoff. */
	atomic_llong contact_ms;
	atomic_int failing;
	atomic_int retry_now;

	/* Backoff state (informer thread only). */
	int failures;
	double last_failure;
	unsigned int rand_state;

	/* Per-watch state. */
	unsigned long watch_events;
	int watch_gone;         /* the watch ended in 410 (1) or "too large resource version" (2): relist */
	unsigned long history_epoch; /* the client's kube_client_history_epoch when our store was last listed */
};

/* A successful exchange with the API server: the first after a failure reports the recovery. */
static void contact(struct informer *inf)
{
	atomic_store(&inf->contact_ms, clock_mono_ms());
	if (atomic_exchange(&inf->failing, 0) && inf->opts.on_recovered) {
		log_info("informer", "%s: the API server answers again", inf->opts.resource->plural);
		inf->opts.on_recovered(inf->opts.ud, inf);
	}
}

static const char *res_name(const struct informer *inf)
{
	return inf->opts.resource->plural;
}

/* Store key: "ns/name" for namespaced objects, "name" otherwise. */
static int object_key(const json_t *obj, char *out, size_t outlen)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	if (!name || !*name)
		return SO_E_INVAL;
	int n = ns && *ns ? snprintf(out, outlen, "%s/%s", ns, name) : snprintf(out, outlen, "%s", name);
	return n > 0 && (size_t)n < outlen ? SO_OK : SO_E_TOO_LARGE;
}

static const char *object_rv(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* Index slot of an object: "ns/<value of opts.index_label or opts.index_value>", or 0 when it has none. */
static int index_slot(const struct informer *inf, const json_t *obj, char *out, size_t outlen)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *v = inf->opts.index_value
				? inf->opts.index_value(obj)
				: json_string_value(json_object_get(json_object_get(meta, "labels"), inf->opts.index_label));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	if (!inf->index || !v)
		return 0;
	int n = snprintf(out, outlen, "%s/%s", ns ? ns : "", v);
	return n > 0 && (size_t)n < outlen;
}

/* Index maintenance, with store_mu held for writing (or on a store no reader sees yet). Slots and keys are
 * built from strings jansson decoded (valid UTF-8), so no insert can be refused. */
static void index_put(json_t *index, const char *slot, const char *key)
{
	json_t *set = json_object_get(index, slot);
	if (!set) {
		set = json_object();
		json_object_set_new(index, slot, set);
	}
	json_object_set_new(set, key, json_true());
}

/* Records obj (just stored under key) in slots and index. */
static void index_add(struct informer *inf, json_t *slots, json_t *index, const char *key, const json_t *obj)
{
	char slot[512];
	if (!index || !index_slot(inf, obj, slot, sizeof slot))
		return;
	json_object_set_new(slots, key, json_string(slot));
	index_put(index, slot, key);
}

static void index_del(struct informer *inf, const char *key)
{
	const char *slot = json_string_value(json_object_get(inf->slots, key));
	if (!slot)
		return;
	json_t *set = json_object_get(inf->index, slot);
	json_object_del(set, key);
	if (set && json_object_size(set) == 0)
		json_object_del(inf->index, slot);
	json_object_del(inf->slots, key); /* slot is gone from here on */
}

/* The stored text of an object (new reference to a JSON string), for a reader to decode outside the lock. */
static json_t *entry_text(const json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	json_t *s = json_stringn_nocheck(text, strlen(text));
	free(text);
	return s;
}

/* Decodes a stored entry: a new object, or NULL when entry is NULL. The text is json_dumps' rendering of an
 * object jansson decoded from the API server's answer (no NUL in strings, within its depth limit), so it
 * decodes again. */
static json_t *entry_decode(const json_t *entry)
{
	return entry ? json_loadb(json_string_value(entry), json_string_length(entry), 0, NULL) : NULL;
}

/* List items come without apiVersion/kind (the list carries them); cached objects always have both, so a
 * reader can compare them with what it would apply or use them as owners. */
static void set_type_meta(struct informer *inf, json_t *obj)
{
	const struct kube_resource *r = inf->opts.resource;
	if (!json_object_get(obj, "apiVersion")) {
		struct buf v = BUF_INIT(256);
		if (kube_api_version(&v, r) == SO_OK)
			json_object_set_new(obj, "apiVersion", json_string(v.data));
		buf_free(&v);
	}
	if (!json_object_get(obj, "kind"))
		json_object_set_new(obj, "kind", json_string(r->kind));
}

static void trim(struct informer *inf, json_t *obj)
{
	set_type_meta(inf, obj);
	if (inf->opts.trim)
		inf->opts.trim(obj); /* first: it may read managedFields (which fields are whose) */
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
}

static void set_rv(struct informer *inf, const char *rv)
{
	if (!rv || !*rv)
		return;
	char *copy = mem_strdup(rv);
	pthread_rwlock_wrlock(&inf->store_mu);
	free(inf->rv);
	inf->rv = copy;
	pthread_rwlock_unlock(&inf->store_mu);
}

int informer_new(struct kube_client *c, const struct informer_opts *opts, struct informer **out)
{
	struct informer *inf = mem_calloc(1, sizeof *inf);
	inf->client = c;
	inf->history_epoch = kube_client_history_epoch(c);
	inf->opts = *opts;
	if (!inf->opts.max_event)
		inf->opts.max_event = DEFAULT_MAX_EVENT;
	inf->namespace = opts->namespace && *opts->namespace ? mem_strdup(opts->namespace) : NULL;
	inf->label_selector = opts->label_selector && *opts->label_selector ? mem_strdup(opts->label_selector) : NULL;
	inf->store = json_object();
	if (opts->index_label || opts->index_value) {
		inf->index = json_object();
		inf->slots = json_object();
	}
	pthread_rwlock_init(&inf->store_mu, NULL);
	pthread_mutex_init(&inf->sync_mu, NULL);
	pthread_cond_init(&inf->sync_cv, NULL);
	inf->rand_state = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)inf;
	atomic_store(&inf->contact_ms, clock_mono_ms());
	set_rv(inf, opts->resource_version);
	inf->opts.resource_version = NULL; /* only the copy in inf->rv is used */
	inf->opts.namespace = inf->namespace;
	inf->opts.label_selector = inf->label_selector;
	*out = inf;
	return SO_OK;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	informer_stop(inf);
	json_decref(inf->index);
	json_decref(inf->slots);
	json_decref(inf->store);
	free(inf->rv);
	free(inf->namespace);
	free(inf->label_selector);
	pthread_rwlock_destroy(&inf->store_mu);
	pthread_mutex_destroy(&inf->sync_mu);
	pthread_cond_destroy(&inf->sync_cv);
	free(inf);
}

/* Sleeps for the next backoff step; returns non-zero when asked to stop. */
static int backoff(struct informer *inf)
{
	double now = clock_mono_s();
	if (inf->failures && now - inf->last_failure > BACKOFF_RESET_S)
		inf->failures = 0;
	double delay = BACKOFF_BASE_S;
	for (int i = 0; i < inf->failures && delay < BACKOFF_CAP_S; i++)
		delay *= 2;
	if (delay > BACKOFF_CAP_S)
		delay = BACKOFF_CAP_S;
	delay += delay * ((double)rand_r(&inf->rand_state) / ((double)RAND_MAX + 1)); /* jitter 1.0 */
	inf->failures++;
	inf->last_failure = now;
	atomic_store(&inf->failing, 1);
	atomic_store(&inf->retry_now, 0);
	pthread_rwlock_wrlock(&inf->store_mu);
	inf->stats.failures++;
	pthread_rwlock_unlock(&inf->store_mu);
	log_debug("informer", "%s: retrying in %.1f s", res_name(inf), delay);
	double until = now + delay;
	while (!atomic_load(&inf->stop) && !atomic_exchange(&inf->retry_now, 0) && clock_mono_s() < until) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return atomic_load(&inf->stop);
}

/* Collects a list into a fresh store, one item at a time as the parser decodes it (trimmed and serialised
 * before the next item is read, so a list of thousands of objects never exists as one JSON tree). */
struct list_ctx {
	struct informer *inf;
	json_t *fresh;        /* "ns/name" → stored text */
	json_t *slots, *index; /* for fresh, when indexed */
};

static int on_list_item(void *ud, json_t *obj)
{
	struct list_ctx *lc = ud;
	char key[512];

	if (object_key(obj, key, sizeof key))
		return SO_OK; /* nameless items cannot be addressed; the server never sends them */
	trim(lc->inf, obj);
	json_object_set_new(lc->fresh, key, entry_text(obj));
	index_add(lc->inf, lc->slots, lc->index, key, obj);
	return SO_OK;
}

/* Replaces the store with lc's (taking its references and rv) and emits the difference. */
static void replace_store(struct informer *inf, struct list_ctx *lc, char *rv)
{
	const struct informer_handlers *h = &inf->opts.handlers;
	json_t *fresh = lc->fresh, *entry;
	const char *k;

	pthread_rwlock_wrlock(&inf->store_mu);
	json_t *old = inf->store, *old_slots = inf->slots, *old_index = inf->index;
	inf->store = fresh;
	inf->slots = lc->slots;
	inf->index = lc->index;
	inf->stats.lists++;
	free(inf->rv);
	inf->rv = rv;
	pthread_rwlock_unlock(&inf->store_mu);
	lc->fresh = lc->slots = lc->index = NULL;
	json_decref(old_slots);
	json_decref(old_index);

	/* The store is now current; tell handlers in a stable order: adds/updates, then deletes. */
	json_object_foreach(fresh, k, entry) {
		json_t *prev = json_object_get(old, k);
		if (prev && json_equal(prev, entry))
			continue; /* unchanged: the same text, resourceVersion included */
		json_t *obj = entry_decode(entry), *pobj = entry_decode(prev);
		if (!prev) {
			if (h->on_add)
				h->on_add(inf->opts.ud, obj);
		} else {
			const char *a = object_rv(pobj), *b = object_rv(obj);
			if ((!a || !b || strcmp(a, b) != 0) && h->on_update)
				h->on_update(inf->opts.ud, pobj, obj);
		}
		json_decref(obj);
		json_decref(pobj);
	}
	json_object_foreach(old, k, entry) {
		if (json_object_get(fresh, k) || !h->on_delete)
			continue;
		json_t *obj = entry_decode(entry);
		h->on_delete(inf->opts.ud, obj);
		json_decref(obj);
	}
	json_decref(old);
}

static int do_list(struct informer *inf, const char *list_rv)
{
	struct kube_list_opts lo = { inf->label_selector, NULL, list_rv, LIST_PAGE };
	struct kube_response resp = { 0 };
	struct list_ctx lc = { inf, json_object(), NULL, NULL };
	char *rv = NULL;
	int rc;

	if (inf->index) {
		lc.slots = json_object();
		lc.index = json_object();
	}
	unsigned long epoch = kube_client_history_epoch(inf->client); /* before the list: a later rewind relists */
	rc = kube_list_stream(inf->client, inf->opts.resource, inf->namespace, &lo, inf->opts.max_event, on_list_item,
			      &lc, &inf->stop, &rv, &resp);
	if (rc == SO_OK) {
		size_t n = json_object_size(lc.fresh);
		replace_store(inf, &lc, rv); /* takes lc's objects and rv */
		inf->history_epoch = epoch;
		log_info("informer", "%s: listed %zu objects at resourceVersion %s", res_name(inf), n,
			 inf->rv ? inf->rv : "");
		rv = NULL;
	} else if (rc != SO_E_CANCELLED) {
		log_warn("informer", "%s: list failed: %s: %s", res_name(inf), so_strerror(rc),
			 resp.message ? resp.message : "");
	}
	json_decref(lc.fresh);
	json_decref(lc.slots);
	json_decref(lc.index);
	free(rv);
	kube_response_free(&resp);
	return rc;
}

static void mark_synced(struct informer *inf);

/*
 * client-go's isTooLargeResourceVersionError: the API server is behind the resourceVersion asked for (504 with
 * the cause ResourceVersionTooLarge, or its older message). After etcd is restored from a backup every
 * resourceVersion we hold is in its future, so watching from it again would fail forever: relist instead.
 */
static int rv_too_large(const json_t *status, const char *message)
{
	const json_t *cause;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(status, "details"), "causes"), i, cause) {
		const char *r = json_string_value(json_object_get(cause, "reason"));
		if (r && !strcmp(r, "ResourceVersionTooLarge"))
			return 1;
	}
	return message && strstr(message, "Too large resource version") != NULL;
}

static int on_watch_event(void *ud, enum kube_event_type type, json_t *obj)
{
	struct informer *inf = ud;
	char key[512];

	if (type == KUBE_EVENT_ERROR) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *reason = json_string_value(json_object_get(obj, "reason"));
		const char *msg = json_string_value(json_object_get(obj, "message"));
		log_info("informer", "%s: watch error event: %" JSON_INTEGER_FORMAT " %s: %s", res_name(inf), code,
			 reason ? reason : "", msg ? msg : "");
		if (code == 410 || (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone")))) {
			inf->watch_gone = 1;
			return SO_E_API_GONE;
		}
		if (rv_too_large(obj, msg)) {
			inf->watch_gone = 2;
			return SO_E_API_GONE;
		}
		return SO_E_API_OTHER;
	}
	const char *rv = object_rv(obj);
	mark_synced(inf);
	contact(inf);
	if (type == KUBE_EVENT_BOOKMARK) {
		set_rv(inf, rv);
		return SO_OK;
	}
	if (object_key(obj, key, sizeof key))
		return SO_E_BAD_RESPONSE;

	/* The parser decoded this event for us alone: trim it in place, store its text. */
	json_t *copy = json_incref(obj);
	trim(inf, copy);
	json_t *text = type == KUBE_EVENT_DELETED ? NULL : entry_text(copy);

	pthread_rwlock_wrlock(&inf->store_mu);
	json_t *old = json_incref(json_object_get(inf->store, key));
	index_del(inf, key);
	if (type == KUBE_EVENT_DELETED) {
		json_object_del(inf->store, key);
	} else {
		json_object_set(inf->store, key, text);
		index_add(inf, inf->slots, inf->index, key, copy);
	}
	if (rv && *rv) {
		free(inf->rv);
		inf->rv = mem_strdup(rv);
	}
	inf->stats.events++;
	pthread_rwlock_unlock(&inf->store_mu);
	inf->watch_events++;

	const struct informer_handlers *h = &inf->opts.handlers;
	json_t *prev = old && (type == KUBE_EVENT_DELETED ? h->on_delete != NULL : h->on_update != NULL)
			       ? entry_decode(old) : NULL;
	if (type == KUBE_EVENT_DELETED) {
		if (h->on_delete)
			h->on_delete(inf->opts.ud, prev ? prev : copy);
	} else if (old) {
		if (h->on_update && prev)
			h->on_update(inf->opts.ud, prev, copy);
	} else if (h->on_add) {
		h->on_add(inf->opts.ud, copy);
	}
	json_decref(prev);
	json_decref(old);
	json_decref(text);
	json_decref(copy);
	return SO_OK;
}

static int on_watch_data(void *ud, const char *data, size_t len)
{
	return kube_watch_parser_feed(ud, data, len);
}

static int do_watch(struct informer *inf)
{
	struct buf path = BUF_INIT(8192);
	struct kube_response resp = { 0 };
	struct kube_watch_parser parser;
	char *rv = informer_resource_version(inf);
	int rc = SO_E_BAD_RESPONSE; /* without a resourceVersion (the list carried none) there is nothing to watch from */
	int timeout = WATCH_MIN_TIMEOUT_S + (int)(rand_r(&inf->rand_state) % WATCH_MIN_TIMEOUT_S);

	kube_watch_parser_init(&parser, inf->opts.max_event, on_watch_event, inf);
	if (!rv)
		goto out;
	if ((rc = kube_path(&path, inf->opts.resource, inf->namespace, NULL, NULL)))
		goto out;
	rc = buf_appendf(&path, "?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=", timeout);
	if (!rc)
		rc = buf_append_urlenc(&path, rv);
	if (!rc && inf->label_selector) {
		rc = buf_appends(&path, "&labelSelector=");
		if (!rc)
			rc = buf_append_urlenc(&path, inf->label_selector);
	}
	if (rc)
		goto out;

	inf->watch_events = 0;
	inf->watch_gone = 0;
	pthread_rwlock_wrlock(&inf->store_mu);
	inf->stats.watches++;
	pthread_rwlock_unlock(&inf->store_mu);
	log_debug("informer", "%s: watching from resourceVersion %s", res_name(inf), rv);
	double started = clock_mono_s();
	rc = kube_stream(inf->client, path.data, 0, on_watch_data, &parser, &inf->stop, &resp);
	if (rc == SO_E_API_TIMEOUT && rv_too_large(NULL, resp.message))
		inf->watch_gone = 2; /* the same, as the answer to the request rather than an event */
	if (inf->watch_gone)
		rc = SO_E_API_GONE;
	if (rc == SO_OK && parser.pending.len)
		log_debug("informer", "%s: watch ended mid-event (%zu bytes dropped)", res_name(inf), parser.pending.len);
	if (rc == SO_OK && inf->watch_events == 0 && clock_mono_s() - started < 1.0) {
		/* client-go's VeryShortWatchError: a watch that ends at once is a failure, not a timeout. */
		rc = SO_E_TRANSPORT;
		log_warn("informer", "%s: watch closed immediately with no events", res_name(inf));
	} else if (rc != SO_OK && rc != SO_E_CANCELLED && rc != SO_E_API_GONE) {
		log_warn("informer", "%s: watch failed: %s: %s", res_name(inf), so_strerror(rc),
			 parser.failed ? parser.error : (resp.message ? resp.message : ""));
	}
out:
	kube_watch_parser_free(&parser);
	kube_response_free(&resp);
	buf_free(&path);
	free(rv);
	return rc;
}

/*
 * Whether the resourceVersion we would watch from is ahead of the API server's: etcd restored from a backup
 * (without etcdutl's --bump-revision) moves every version back. A watch from a future version does not fail:
 * the API server answers 200 and sends nothing until its revision passes ours, so the informer would miss
 * every change meanwhile. Asked of a consistent one-item list, whose resourceVersion is etcd's current revision.
 * 0 when not ahead or when it cannot tell (versions are opaque strings; these are etcd's integers).
 */
static int rv_ahead_of_server(struct informer *inf)
{
	char *ours = informer_resource_version(inf);
	struct buf path = BUF_INIT(8192);
	json_t *list = NULL;
	long mine, theirs;
	int ahead = 0;

	if (!ours || parse_long(ours, 0, LONG_MAX, &mine) ||
	    kube_path(&path, inf->opts.resource, inf->namespace, NULL, NULL) || buf_appends(&path, "?limit=1") ||
	    kube_get_json(inf->client, path.data, &list, NULL) != SO_OK)
		goto out;
	contact(inf); /* the first thing a watch resumed after a failure asks: the server answers */
	const char *rv = json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
	if (rv && parse_long(rv, 0, LONG_MAX, &theirs) == SO_OK && theirs < mine) {
		ahead = 1;
		log_warn("informer", "%s: our resourceVersion %s is ahead of the API server's %s (etcd restored from a "
				     "backup?)", res_name(inf), ours, rv);
	}
out:
	json_decref(list);
	buf_free(&path);
	free(ours);
	return ahead;
}

static void mark_synced(struct informer *inf)
{
	pthread_mutex_lock(&inf->sync_mu);
	if (!inf->synced) {
		inf->synced = 1;
		pthread_cond_broadcast(&inf->sync_cv);
	}
	pthread_mutex_unlock(&inf->sync_mu);
}

static void *run(void *arg)
{
	struct informer *inf = arg;
	char *resume = informer_resource_version(inf);
	int need_list = resume == NULL;
	/* Before watching from a version this informer did not just list: a resumed one, or after the watch failed
	 * (the API server may have come back on a restored etcd) or brought nothing for a whole timeout. */
	int check_rv = resume != NULL;
	const char *list_rv = "0";

	free(resume);

	while (!atomic_load(&inf->stop)) {
		if (!need_list && check_rv) {
			check_rv = 0;
			if (rv_ahead_of_server(inf)) {
				kube_client_history_rewound(inf->client, inf->history_epoch);
				inf->watch_gone = 2;
				pthread_rwlock_wrlock(&inf->store_mu);
				inf->stats.relists_gone++;
				pthread_rwlock_unlock(&inf->store_mu);
				need_list = 1;
				list_rv = NULL;
			}
		}
		/* Last before the watch: the comparison above can take a while on a server just started, and
		 * another informer may have found the restore meanwhile. */
		if (!need_list && kube_client_history_epoch(inf->client) != inf->history_epoch) {
			log_info("informer", "%s: another informer found the API server's history behind ours (etcd "
					     "restored?), relisting", res_name(inf));
			pthread_rwlock_wrlock(&inf->store_mu);
			inf->stats.relists_gone++;
			pthread_rwlock_unlock(&inf->store_mu);
			need_list = 1;
			list_rv = NULL;
			check_rv = 0;
		}
		if (need_list) {
			int rc = do_list(inf, list_rv);
			if (rc == SO_E_API_GONE) {
				list_rv = NULL; /* the cache cannot serve it: read from etcd */
				continue;
			}
			if (rc) {
				if (rc == SO_E_CANCELLED || backoff(inf))
					break;
				continue;
			}
			need_list = 0;
			mark_synced(inf);
			contact(inf);
		}
		int rc = do_watch(inf);
		if (rc == SO_OK) {
			contact(inf); /* the server ended the watch at its timeout */
			check_rv = inf->watch_events == 0;
			continue; /* the server's timeout: watch again from where we are */
		} else if (rc == SO_E_CANCELLED) {
			break;
		} else if (rc == SO_E_API_GONE) {
			if (inf->watch_gone == 2)
				kube_client_history_rewound(inf->client, inf->history_epoch);
			pthread_rwlock_wrlock(&inf->store_mu);
			inf->stats.relists_gone++;
			pthread_rwlock_unlock(&inf->store_mu);
			log_info("informer", "%s: %s, relisting", res_name(inf),
				 inf->watch_gone == 2 ? "resourceVersion newer than the API server's (etcd restored?)"
						      : "resourceVersion expired");
			need_list = 1;
			list_rv = NULL;
		} else if (backoff(inf)) {
			break;
		} else {
			check_rv = 1;
		}
	}
	log_debug("informer", "%s: stopped", res_name(inf));
	return NULL;
}

int informer_start(struct informer *inf)
{
	if (inf->started)
		return SO_E_INVAL;
	if (pthread_create(&inf->thread, NULL, run, inf))
		return SO_E_NOMEM; /* no resources for another thread */
	inf->started = 1;
	return SO_OK;
}

int informer_wait_synced(struct informer *inf, long timeout_ms)
{
	struct timespec deadline = clock_in(CLOCK_REALTIME, (double)timeout_ms / 1000);
	int rc = SO_OK;
	pthread_mutex_lock(&inf->sync_mu);
	while (!inf->synced && rc == SO_OK) {
		if (pthread_cond_timedwait(&inf->sync_cv, &inf->sync_mu, &deadline))
			rc = inf->synced ? SO_OK : SO_E_TIMEOUT;
	}
	pthread_mutex_unlock(&inf->sync_mu);
	return rc;
}

int informer_synced(struct informer *inf)
{
	pthread_mutex_lock(&inf->sync_mu);
	int s = inf->synced;
	pthread_mutex_unlock(&inf->sync_mu);
	return s;
}

void informer_signal_stop(struct informer *inf)
{
	atomic_store(&inf->stop, 1);
}

void informer_stop(struct informer *inf)
{
	informer_signal_stop(inf);
	if (inf->started) {
		pthread_join(inf->thread, NULL);
		inf->started = 0;
	}
}

/* The stored text of ns/name (a new reference), or NULL. */
static json_t *get_entry(struct informer *inf, const char *ns, const char *name)
{
	char key[512];
	int n = inf->opts.resource->namespaced ? snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name)
					       : snprintf(key, sizeof key, "%s", name);
	if (n < 0 || (size_t)n >= sizeof key)
		return NULL;
	pthread_rwlock_rdlock(&inf->store_mu);
	json_t *entry = json_incref(json_object_get(inf->store, key)); /* entries are never modified, only replaced */
	pthread_rwlock_unlock(&inf->store_mu);
	return entry;
}

json_t *informer_get(struct informer *inf, const char *ns, const char *name)
{
	json_t *entry = get_entry(inf, ns, name);
	json_t *obj = entry_decode(entry);
	json_decref(entry);
	return obj;
}

int informer_has(struct informer *inf, const char *ns, const char *name)
{
	json_t *entry = get_entry(inf, ns, name);
	int found = entry != NULL;

	json_decref(entry);
	return found;
}

/* Decodes every entry of entries (an array of stored texts, taken) into a new array. */
static json_t *decode_all(json_t *entries)
{
	json_t *arr = json_array(), *entry;
	size_t i;
	json_array_foreach(entries, i, entry)
		json_array_append_new(arr, entry_decode(entry));
	json_decref(entries);
	return arr;
}

json_t *informer_list(struct informer *inf)
{
	json_t *entries = json_array(), *entry;
	const char *k;
	pthread_rwlock_rdlock(&inf->store_mu);
	json_object_foreach(inf->store, k, entry)
		json_array_append(entries, entry);
	pthread_rwlock_unlock(&inf->store_mu);
	return decode_all(entries);
}

/* The index set of ns/value (borrowed; store_mu held), or NULL. */
static json_t *index_set(struct informer *inf, const char *ns, const char *value)
{
	char slot[512];
	int n = snprintf(slot, sizeof slot, "%s/%s", ns ? ns : "", value ? value : "");
	if (!inf->index || n < 0 || (size_t)n >= sizeof slot)
		return NULL;
	return json_object_get(inf->index, slot);
}

json_t *informer_list_indexed(struct informer *inf, const char *ns, const char *value)
{
	json_t *entries = json_array(), *v;
	const char *k;
	pthread_rwlock_rdlock(&inf->store_mu);
	json_object_foreach(index_set(inf, ns, value), k, v) {
		json_t *entry = json_object_get(inf->store, k);
		if (entry)
			json_array_append(entries, entry);
	}
	pthread_rwlock_unlock(&inf->store_mu);
	return decode_all(entries);
}

/* Appends every key of set (an object used as a set) to a new array. */
static json_t *set_keys(const json_t *set)
{
	json_t *keys = json_array(), *v;
	const char *k;
	json_object_foreach((json_t *)set, k, v)
		json_array_append_new(keys, json_string(k));
	return keys;
}

json_t *informer_keys_indexed(struct informer *inf, const char *ns, const char *value)
{
	pthread_rwlock_rdlock(&inf->store_mu);
	json_t *keys = set_keys(index_set(inf, ns, value));
	pthread_rwlock_unlock(&inf->store_mu);
	return keys;
}

size_t informer_count_indexed(struct informer *inf, const char *ns, const char *value)
{
	pthread_rwlock_rdlock(&inf->store_mu);
	size_t n = json_object_size(index_set(inf, ns, value));
	pthread_rwlock_unlock(&inf->store_mu);
	return n;
}

json_t *informer_keys(struct informer *inf)
{
	pthread_rwlock_rdlock(&inf->store_mu);
	json_t *keys = set_keys(inf->store);
	pthread_rwlock_unlock(&inf->store_mu);
	return keys;
}

const struct kube_resource *informer_resource(const struct informer *inf)
{
	return inf->opts.resource;
}

size_t informer_count(struct informer *inf)
{
	pthread_rwlock_rdlock(&inf->store_mu);
	size_t n = json_object_size(inf->store);
	pthread_rwlock_unlock(&inf->store_mu);
	return n;
}

void informer_get_stats(struct informer *inf, struct informer_stats *out)
{
	pthread_rwlock_rdlock(&inf->store_mu);
	*out = inf->stats;
	pthread_rwlock_unlock(&inf->store_mu);
}

double informer_contact_age(struct informer *inf)
{
	return (double)(clock_mono_ms() - atomic_load(&inf->contact_ms)) / 1000;
}

int informer_failing(struct informer *inf)
{
	return atomic_load(&inf->failing);
}

void informer_retry_now(struct informer *inf)
{
	atomic_store(&inf->retry_now, 1);
}

char *informer_resource_version(struct informer *inf)
{
	pthread_rwlock_rdlock(&inf->store_mu);
	char *rv = inf->rv && *inf->rv ? mem_strdup(inf->rv) : NULL;
	pthread_rwlock_unlock(&inf->store_mu);
	return rv;
}

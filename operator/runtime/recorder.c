/*
 * The event recorder: core/v1 Events written the way client-go's tools/record writes them. See recorder.h for
 * the contract and docs/internals/events.md for the design.
 *
 * Two halves share one mutex:
 *   - recorder_event (any thread) validates and copies its inputs, passes the per-object spam filter and
 *     appends to a bounded FIFO; it never waits for the network;
 *   - the writer thread pops one event at a time and either creates an Event (POST) or, for a repeat of an
 *     event it wrote less than RECORDER_REPEAT_WINDOW_S ago, merge-patches that Event's count and
 *     lastTimestamp. The correlation cache (key → Event name, count, last seen) belongs to the writer thread
 *     alone, so it needs no lock.
 * Both caches are LRU maps bounded at RECORDER_CACHE_MAX entries.
 */
#include "operator/runtime/recorder.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/runtime/recorder_internal.h"
#include "operator/base/clock.h"
#include "operator/kube/api.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/ratelimit.h"
#include "operator/base/mem.h"

#define LOG_COMPONENT "events"
#define EVENT_NAME_MAX 253     /* metadata.name: a DNS subdomain */
#define NAME_SUFFIX_LEN 17     /* "." + 16 hex digits */
#define INSTANCE_MAX 128       /* reportingInstance limit */
#define COMPONENT_MAX 128
#define FULL_WARN_EVERY_S 10.0 /* full-queue warnings are themselves rate limited */

/* ---- a small LRU map: string key → owned value ---- */

struct lru_entry {
	char *key;
	uint64_t hash;
	struct lru_entry *chain;       /* next in the hash bucket */
	struct lru_entry *newer, *older;
	void *val;
};

struct lru {
	struct lru_entry **buckets;
	size_t nbuckets;               /* a power of two */
	size_t len, max;
	struct lru_entry *newest, *oldest;
	void (*free_val)(void *);
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void lru_init(struct lru *l, size_t max, void (*free_val)(void *))
{
	memset(l, 0, sizeof *l);
	l->nbuckets = 1;
	while (l->nbuckets < max * 2)
		l->nbuckets <<= 1;
	l->buckets = mem_calloc(l->nbuckets, sizeof *l->buckets);
	l->max = max;
	l->free_val = free_val;
}

static void lru_unlink(struct lru *l, struct lru_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		l->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		l->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(struct lru *l, struct lru_entry *e)
{
	e->older = l->newest;
	e->newer = NULL;
	if (l->newest)
		l->newest->newer = e;
	l->newest = e;
	if (!l->oldest)
		l->oldest = e;
}

static struct lru_entry **lru_slot(struct lru *l, const char *key, uint64_t h)
{
	struct lru_entry **p = &l->buckets[h & (l->nbuckets - 1)];
	while (*p && ((*p)->hash != h || strcmp((*p)->key, key)))
		p = &(*p)->chain;
	return p;
}

static void lru_remove(struct lru *l, const char *key)
{
	uint64_t h = hash_str(key);
	struct lru_entry **p = lru_slot(l, key, h), *e = *p;
	if (!e)
		return;
	*p = e->chain;
	lru_unlink(l, e);
	l->len--;
	if (l->free_val)
		l->free_val(e->val);
	free(e->key);
	free(e);
}

/* The value for key (marked most recently used), or NULL. */
static void *lru_get(struct lru *l, const char *key)
{
	struct lru_entry *e = *lru_slot(l, key, hash_str(key));
	if (!e)
		return NULL;
	lru_unlink(l, e);
	lru_push_newest(l, e);
	return e->val;
}

/* Stores val under key (replacing and freeing an older value), evicting the least recently used entry when
 * full. */
static void lru_put(struct lru *l, const char *key, void *val)
{
	uint64_t h = hash_str(key);
	struct lru_entry **p = lru_slot(l, key, h), *e = *p;
	if (e) {
		if (l->free_val && e->val != val)
			l->free_val(e->val);
		e->val = val;
		lru_unlink(l, e);
		lru_push_newest(l, e);
		return;
	}
	e = mem_calloc(1, sizeof *e);
	e->key = mem_strdup(key);
	e->hash = h;
	e->val = val;
	*p = e;
	lru_push_newest(l, e);
	if (++l->len > l->max)
		lru_remove(l, l->oldest->key);
}

static void lru_free(struct lru *l)
{
	struct lru_entry *e = l->newest, *next;
	for (; e; e = next) {
		next = e->older;
		if (l->free_val)
			l->free_val(e->val);
		free(e->key);
		free(e);
	}
	free(l->buckets);
	memset(l, 0, sizeof *l);
}

/* ---- the recorder ---- */

/* One recorded occurrence, copied out of the caller's object. Optional strings are NULL when absent. */
struct pending {
	struct pending *next;
	char *api_version, *kind, *name, *ns, *uid, *rv;
	char *event_ns;           /* the object's namespace, or "default" for cluster-scoped objects */
	char *type, *reason, *message;
	char *key;                /* correlation key: object + type + reason + message */
	double mono;              /* recorder clock at record time (repeat window) */
	long long wall_ns;        /* wall clock at record time (timestamps, name) */
};

/* Correlation cache value: the Event we wrote for a key. */
struct seen {
	char *name;
	long long count;
	double last;              /* recorder clock of the last write */
};

struct recorder {
	struct kube_client *client;
	char *component;
	char *instance;           /* hostname */

	pthread_mutex_t mu;
	pthread_cond_t work_cv;   /* writer waits for events or stop */
	pthread_cond_t idle_cv;   /* flushers wait for an empty queue */
	struct pending *head, *tail;
	size_t qlen;
	int busy;                 /* the writer is handling a popped event */
	int closing;              /* recorder_free started: refuse new events */
	int stop;                 /* writer exits once it sees an empty queue */
	unsigned long full_unreported; /* full-queue drops not yet logged */
	double full_warned_at;    /* when the last full-queue warning went out (CLOCK_MONOTONIC), or 0 */
	double (*now)(void);
	struct lru spam;          /* object key → struct ratelimit *; under mu */
	struct recorder_stats stats; /* under mu */

	/* Writer thread only. */
	pthread_t thread;
	struct lru seen;          /* correlation key → struct seen * */
	long long last_name_ns;
};

static long long wall_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void free_bucket(void *p)
{
	struct ratelimit *rl = p;
	ratelimit_destroy(rl);
	free(rl);
}

static void free_seen(void *p)
{
	struct seen *s = p;
	free(s->name);
	free(s);
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	free(p->api_version);
	free(p->kind);
	free(p->name);
	free(p->ns);
	free(p->uid);
	free(p->rv);
	free(p->event_ns);
	free(p->type);
	free(p->reason);
	free(p->message);
	free(p->key);
	free(p);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* A malloc'd copy of s that is valid UTF-8 (each bad byte becomes '?') and at most cap bytes long, cut on a
 * character boundary. NULL s copies as NULL. */
static char *dup_text(const char *s, size_t cap)
{
	if (!s)
		return NULL;
	size_t len = strlen(s);
	char *out = mem_alloc((len < cap ? len : cap) + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i);
		if (o + (n ? n : 1) > cap)
			break;
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = '?';
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* A string member of obj copied with dup_text, or NULL when absent, not a string, or empty. */
static char *member(const json_t *obj, const char *key, size_t cap)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && *s ? dup_text(s, cap) : NULL;
}

/* "<len>:<s>" pieces keep the key unambiguous whatever bytes the parts hold. */
static int key_part(struct buf *b, const char *s)
{
	if (!s)
		s = "";
	return buf_appendf(b, "%zu:%s;", strlen(s), s);
}

/* Object identity for the spam filter: the uid, or apiVersion/kind/namespace/name when there is none. */
static int object_key(struct buf *b, const struct pending *p)
{
	if (p->uid)
		return buf_appendf(b, "uid:%s;", p->uid);
	int rc = key_part(b, p->api_version);
	if (!rc)
		rc = key_part(b, p->kind);
	if (!rc)
		rc = key_part(b, p->ns);
	if (!rc)
		rc = key_part(b, p->name);
	return rc;
}

/* A recorder_event input turned into a pending event, or NULL (logged). */
static struct pending *pending_new(const json_t *obj, const char *type, const char *reason, const char *message)
{
	struct pending *p = NULL;
	const json_t *meta;
	struct buf key = BUF_INIT((size_t)1 << 20);

	if (!json_is_object(obj)) {
		log_warn(LOG_COMPONENT, "dropping event reason=%s: the involved object is not a JSON object",
			 reason ? reason : "");
		return NULL;
	}
	if (!type || (strcmp(type, "Normal") && strcmp(type, "Warning"))) {
		log_warn(LOG_COMPONENT, "dropping event reason=%s: unsupported type \"%s\" (Normal or Warning)",
			 reason ? reason : "", type ? type : "(null)");
		return NULL;
	}
	meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	if (!name || !*name) {
		log_warn(LOG_COMPONENT, "dropping event reason=%s: the involved object has no metadata.name",
			 reason ? reason : "");
		return NULL;
	}
	p = mem_calloc(1, sizeof *p);
	p->api_version = member(obj, "apiVersion", 256);
	p->kind = member(obj, "kind", 256);
	p->name = member(meta, "name", EVENT_NAME_MAX);
	p->ns = member(meta, "namespace", EVENT_NAME_MAX);
	p->uid = member(meta, "uid", 256);
	p->rv = member(meta, "resourceVersion", 256);
	p->event_ns = mem_strdup(p->ns ? p->ns : "default");
	p->type = mem_strdup(type);
	p->reason = dup_text(reason ? reason : "", RECORDER_REASON_MAX);
	p->message = dup_text(message ? message : "", RECORDER_MESSAGE_MAX);
	if (!p->uid)
		log_debug(LOG_COMPONENT, "event reason=%s about %s/%s without metadata.uid", p->reason,
			  p->kind ? p->kind : "?", p->name);
	/* Every part is capped above, so the key stays far below its 1 MiB cap. */
	if (object_key(&key, p) || key_part(&key, p->type) || key_part(&key, p->reason) ||
	    key_part(&key, p->message))
		goto fail;
	p->key = buf_steal(&key);
	return p;
fail:
	buf_free(&key);
	pending_free(p);
	log_warn(LOG_COMPONENT, "dropping event reason=%s: correlation key too long", reason ? reason : "");
	return NULL;
}

/* Takes one token from the object's bucket at time now. A refused event gives its token back, so a steady
 * trickle of dropped events cannot keep the bucket in debt for ever. Called under r->mu. */
static int spam_allow(struct recorder *r, const struct pending *p, double now)
{
	struct buf key = BUF_INIT((size_t)1 << 12);
	struct ratelimit *rl;
	int allow = 1;

	if (object_key(&key, p))
		goto out; /* an absurd key: let the event through rather than guess */
	rl = lru_get(&r->spam, key.data);
	if (!rl) {
		rl = mem_alloc(sizeof *rl);
		ratelimit_init(rl, 1.0 / RECORDER_SPAM_REFILL_S, RECORDER_SPAM_BURST, now);
		lru_put(&r->spam, key.data, rl);
	}
	if (ratelimit_reserve(rl, now) > 1e-6) {
		pthread_mutex_lock(&rl->mu);
		rl->tokens += 1;
		pthread_mutex_unlock(&rl->mu);
		allow = 0;
	}
out:
	buf_free(&key);
	return allow;
}

void recorder_event(struct recorder *r, const json_t *obj, const char *type, const char *reason,
		    const char *message)
{
	struct pending *p;
	int verdict = 0; /* 0 queued, 1 spam, 2 full, 3 closing */
	unsigned long unreported = 0;

	if (!r)
		return;
	p = pending_new(obj, type, reason, message);
	if (!p) {
		pthread_mutex_lock(&r->mu);
		r->stats.dropped_invalid++;
		pthread_mutex_unlock(&r->mu);
		return;
	}
	p->wall_ns = wall_now_ns();

	pthread_mutex_lock(&r->mu);
	p->mono = r->now();
	/* A full queue is checked before the spam filter so that an event dropped for lack of room does not
	 * also spend one of its object's tokens. */
	if (r->closing) {
		verdict = 3;
	} else if (r->qlen >= RECORDER_QUEUE_MAX) {
		verdict = 2;
		r->stats.dropped_full++;
		r->full_unreported++;
		double t = clock_mono_s();
		if (r->full_warned_at == 0 || t - r->full_warned_at >= FULL_WARN_EVERY_S) {
			unreported = r->full_unreported;
			r->full_unreported = 0;
			r->full_warned_at = t;
		}
	} else if (!spam_allow(r, p, p->mono)) {
		verdict = 1;
		r->stats.dropped_spam++;
	} else {
		if (r->tail)
			r->tail->next = p;
		else
			r->head = p;
		r->tail = p;
		r->qlen++;
		r->stats.queued++;
		pthread_cond_signal(&r->work_cv);
	}
	pthread_mutex_unlock(&r->mu);

	switch (verdict) {
	case 0:
		return;
	case 1:
		log_debug(LOG_COMPONENT,
			  "dropping event reason=%s on %s %s/%s: over the per-object rate (burst %d, 1 per %.0f s)",
			  p->reason, p->kind ? p->kind : "?", p->event_ns, p->name, RECORDER_SPAM_BURST,
			  RECORDER_SPAM_REFILL_S);
		break;
	case 2:
		/* One line per FULL_WARN_EVERY_S at most, counting the drops since the previous one. */
		if (unreported)
			log_warn(LOG_COMPONENT,
				 "dropping event reason=%s on %s %s/%s: %d events already queued (%lu dropped since the last report)",
				 p->reason, p->kind ? p->kind : "?", p->event_ns, p->name, RECORDER_QUEUE_MAX,
				 unreported);
		break;
	default:
		log_warn(LOG_COMPONENT, "dropping event reason=%s on %s %s/%s: the recorder is shutting down", p->reason,
			 p->kind ? p->kind : "?", p->event_ns, p->name);
		break;
	}
	pending_free(p);
}

/* ---- the writer thread ---- */

/* Every string of p went through dup_text (valid UTF-8), so json_string cannot fail. */
static json_t *involved_object(const struct pending *p)
{
	json_t *o = json_object();
	if (p->api_version)
		json_object_set_new(o, "apiVersion", json_string(p->api_version));
	if (p->kind)
		json_object_set_new(o, "kind", json_string(p->kind));
	json_object_set_new(o, "name", json_string(p->name));
	if (p->ns)
		json_object_set_new(o, "namespace", json_string(p->ns));
	if (p->uid)
		json_object_set_new(o, "uid", json_string(p->uid));
	if (p->rv)
		json_object_set_new(o, "resourceVersion", json_string(p->rv));
	return o;
}

static json_t *event_object(const struct recorder *r, const struct pending *p, const char *name, const char *ts)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:s, s:s}",
			 "apiVersion", "v1", "kind", "Event",
			 "metadata", "name", name, "namespace", p->event_ns,
			 "involvedObject", involved_object(p),
			 "reason", p->reason, "message", p->message, "type", p->type,
			 "source", "component", r->component,
			 "firstTimestamp", ts, "lastTimestamp", ts, "count", 1,
			 "reportingComponent", r->component, "reportingInstance", r->instance);
}

static const char *resp_message(const struct kube_response *resp)
{
	return resp->message ? resp->message : "no message";
}

/* POSTs a new Event for p; on success remembers it under p->key. */
static int create_event(struct recorder *r, const struct pending *p)
{
	struct kube_response resp = { 0 };
	char ts[32], name[EVENT_NAME_MAX + 1];
	struct seen *s = NULL;
	json_t *ev = NULL;
	int rc = SO_E_INVAL;

	long long ns = p->wall_ns > r->last_name_ns ? p->wall_ns : r->last_name_ns + 1;
	r->last_name_ns = ns;
	/* The object name is cut so that name + suffix stays a valid 253-byte DNS subdomain length. */
	char *prefix = dup_text(p->name, EVENT_NAME_MAX - NAME_SUFFIX_LEN);
	snprintf(name, sizeof name, "%s.%016llx", prefix, (unsigned long long)ns);
	free(prefix);
	clock_format_rfc3339(p->wall_ns / 1000000000LL, ts);
	if (!(ev = event_object(r, p, name, ts))) {
		log_warn(LOG_COMPONENT, "dropping event reason=%s on %s: a field is missing or not valid UTF-8",
			 p->reason, p->name);
		goto out;
	}
	rc = kube_create(r->client, &KUBE_EVENTS, p->event_ns, ev, NULL, &resp);
	if (rc == SO_E_API_NAMESPACE_TERMINATING) {
		/* The object goes with its namespace; so does any Event about it. */
		log_debug(LOG_COMPONENT, "dropping Event %s %s on %s %s: namespace %s is being deleted", p->type,
			  p->reason, p->kind ? p->kind : "?", p->name, p->event_ns);
		goto out;
	}
	if (rc) {
		log_warn(LOG_COMPONENT, "create Event %s/%s (%s %s on %s %s) failed: %s: %s", p->event_ns, name, p->type,
			 p->reason, p->kind ? p->kind : "?", p->name, so_strerror(rc), resp_message(&resp));
		goto out;
	}
	log_debug(LOG_COMPONENT, "created Event %s/%s: %s %s on %s %s", p->event_ns, name, p->type, p->reason,
		  p->kind ? p->kind : "?", p->name);
	s = mem_calloc(1, sizeof *s);
	s->name = mem_strdup(name);
	s->count = 1;
	s->last = p->mono;
	lru_put(&r->seen, p->key, s);
out:
	json_decref(ev);
	kube_response_free(&resp);
	return rc;
}

/* Merge-patches count and lastTimestamp of the Event s names. */
static int patch_event(struct recorder *r, const struct pending *p, struct seen *s)
{
	struct kube_response resp = { 0 };
	char ts[32];
	long long count = s->count + 1;
	int rc;

	clock_format_rfc3339(p->wall_ns / 1000000000LL, ts);
	json_t *patch = json_pack("{s:I, s:s}", "count", (json_int_t)count, "lastTimestamp", ts); /* cannot fail */
	rc = kube_merge_patch(r->client, &KUBE_EVENTS, p->event_ns, s->name, NULL, patch, NULL, &resp);
	json_decref(patch);
	if (rc == SO_OK) {
		s->count = count;
		s->last = p->mono;
		log_debug(LOG_COMPONENT, "patched Event %s/%s: count=%lld (%s %s on %s %s)", p->event_ns, s->name, count,
			  p->type, p->reason, p->kind ? p->kind : "?", p->name);
	} else if (rc != SO_E_API_NOT_FOUND) {
		log_warn(LOG_COMPONENT, "patch Event %s/%s (count=%lld) failed: %s: %s", p->event_ns, s->name, count,
			 so_strerror(rc), resp_message(&resp));
	}
	kube_response_free(&resp);
	return rc;
}

/* Returns 1 for a create or patch the server took, 0 otherwise. */
static int write_event(struct recorder *r, const struct pending *p, int *patched)
{
	struct seen *s = lru_get(&r->seen, p->key);
	int rc;

	*patched = 0;
	if (s && p->mono - s->last <= RECORDER_REPEAT_WINDOW_S) {
		rc = patch_event(r, p, s);
		if (rc == SO_OK) {
			*patched = 1;
			return 1;
		}
		if (rc != SO_E_API_NOT_FOUND)
			return 0;
		/* Deleted (Events expire after an hour by default): start a new one. */
		log_debug(LOG_COMPONENT, "Event %s/%s is gone; creating a new one", p->event_ns, s->name);
		lru_remove(&r->seen, p->key);
	}
	return create_event(r, p) == SO_OK;
}

static void *writer_main(void *arg)
{
	struct recorder *r = arg;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->work_cv, &r->mu);
		struct pending *p = r->head;
		if (!p) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		r->head = p->next;
		if (!r->head)
			r->tail = NULL;
		r->qlen--;
		r->busy = 1;
		pthread_mutex_unlock(&r->mu);

		int patched, ok = write_event(r, p, &patched);
		pending_free(p);

		pthread_mutex_lock(&r->mu);
		if (!ok)
			r->stats.failed++;
		else if (patched)
			r->stats.patched++;
		else
			r->stats.created++;
		r->busy = 0;
		if (!r->head)
			pthread_cond_broadcast(&r->idle_cv);
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

/* ---- lifecycle ---- */

int recorder_new(struct kube_client *c, const char *component, struct recorder **out)
{
	struct recorder *r = NULL;
	pthread_condattr_t ca;
	char host[256];

	if (!out)
		return SO_E_INVAL;
	*out = NULL;
	if (!c || !component || !*component)
		return SO_E_INVAL;
	r = mem_calloc(1, sizeof *r);
	r->client = c;
	r->now = clock_mono_s;
	if (gethostname(host, sizeof host) != 0 || !*host)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	r->component = dup_text(component, COMPONENT_MAX);
	r->instance = dup_text(host, INSTANCE_MAX);
	lru_init(&r->spam, RECORDER_CACHE_MAX, free_bucket);
	lru_init(&r->seen, RECORDER_CACHE_MAX, free_seen);
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->work_cv, NULL);
	pthread_cond_init(&r->idle_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, writer_main, r)) {
		log_error(LOG_COMPONENT, "cannot start the event writer thread: no resources for another thread");
		pthread_cond_destroy(&r->idle_cv);
		pthread_cond_destroy(&r->work_cv);
		pthread_mutex_destroy(&r->mu);
		lru_free(&r->spam);
		lru_free(&r->seen);
		free(r->component);
		free(r->instance);
		free(r);
		return SO_E_NOMEM;
	}
	*out = r;
	return SO_OK;
}

void recorder_set_clock(struct recorder *r, double (*now)(void))
{
	pthread_mutex_lock(&r->mu);
	r->now = now ? now : clock_mono_s;
	pthread_mutex_unlock(&r->mu);
}

/* Waits under r->mu until nothing is queued or in flight, or the deadline passes. */
static int wait_idle_locked(struct recorder *r, double timeout_s)
{
	if (timeout_s < 0)
		timeout_s = 0;
	if (timeout_s > 1e6)
		timeout_s = 1e6;
	struct timespec dl = clock_in(CLOCK_MONOTONIC, timeout_s);
	while (r->head || r->busy) {
		if (pthread_cond_timedwait(&r->idle_cv, &r->mu, &dl))
			return r->head || r->busy ? SO_E_TIMEOUT : SO_OK;
	}
	return SO_OK;
}

int recorder_flush(struct recorder *r, double timeout_s)
{
	pthread_mutex_lock(&r->mu);
	int rc = wait_idle_locked(r, timeout_s);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void recorder_get_stats(struct recorder *r, struct recorder_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->stats;
	pthread_mutex_unlock(&r->mu);
}

void recorder_free(struct recorder *r, double timeout_s)
{
	struct pending *left = NULL;
	size_t nleft = 0;

	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->closing = 1;
	if (wait_idle_locked(r, timeout_s)) {
		left = r->head;
		nleft = r->qlen;
		r->head = r->tail = NULL;
		r->qlen = 0;
		r->stats.dropped_shutdown += nleft;
	}
	r->stop = 1;
	pthread_cond_signal(&r->work_cv);
	pthread_mutex_unlock(&r->mu);

	if (nleft)
		log_warn(LOG_COMPONENT, "dropping %zu queued events: not written within %.1f s of shutdown", nleft,
			 timeout_s);
	while (left) {
		struct pending *next = left->next;
		pending_free(left);
		left = next;
	}
	/* The writer finishes the request it is in (bounded by the client's timeout) and exits. */
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->idle_cv);
	pthread_cond_destroy(&r->work_cv);
	pthread_mutex_destroy(&r->mu);
	lru_free(&r->spam);
	lru_free(&r->seen);
	free(r->component);
	free(r->instance);
	free(r);
}

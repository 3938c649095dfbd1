/* The in-memory controller store (ctlfake.h). */
#include "ctlfake.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/base/err.h"

struct ctlfake {
	pthread_mutex_t mu;
	json_t *caches[CTL_NCACHES]; /* "ns/name" (or "name") → object */
	json_t *api;                 /* "plural/ns/name" → object */
	json_t *fail;                /* "verb plural" → rc */
	json_t *requests, *events;
	int routes_served; /* what routes_served answers */
	char text[8192];
};

static const char *meta(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static void key_of(char *out, size_t n, const char *ns, const char *name)
{
	if (ns && *ns)
		snprintf(out, n, "%s/%s", ns, name ? name : "");
	else
		snprintf(out, n, "%s", name ? name : "");
}

struct ctlfake *ctlfake_new(void)
{
	struct ctlfake *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	for (int c = 0; c < CTL_NCACHES; c++)
		f->caches[c] = json_object();
	f->api = json_object();
	f->fail = json_object();
	f->requests = json_array();
	f->events = json_array();
	f->routes_served = 1;
	return f;
}

void ctlfake_free(struct ctlfake *f)
{
	if (!f)
		return;
	for (int c = 0; c < CTL_NCACHES; c++)
		json_decref(f->caches[c]);
	json_decref(f->api);
	json_decref(f->fail);
	json_decref(f->requests);
	json_decref(f->events);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void ctlfake_cache_put(struct ctlfake *f, enum ctl_cache c, const json_t *obj)
{
	char key[512];
	key_of(key, sizeof key, meta(obj, "namespace"), meta(obj, "name"));
	pthread_mutex_lock(&f->mu);
	json_object_set_new(f->caches[c], key, json_deep_copy(obj));
	pthread_mutex_unlock(&f->mu);
}

void ctlfake_cache_del(struct ctlfake *f, enum ctl_cache c, const char *ns, const char *name)
{
	char key[512];
	key_of(key, sizeof key, ns, name);
	pthread_mutex_lock(&f->mu);
	json_object_del(f->caches[c], key);
	pthread_mutex_unlock(&f->mu);
}

static void api_key(char *out, size_t n, const struct kube_resource *r, const char *ns, const char *name)
{
	snprintf(out, n, "%s/%s/%s", r->plural, ns ? ns : "", name ? name : "");
}

void ctlfake_api_put(struct ctlfake *f, const struct kube_resource *r, const json_t *obj)
{
	char key[512];
	api_key(key, sizeof key, r, meta(obj, "namespace"), meta(obj, "name"));
	pthread_mutex_lock(&f->mu);
	json_object_set_new(f->api, key, json_deep_copy(obj));
	pthread_mutex_unlock(&f->mu);
}

json_t *ctlfake_api_get(struct ctlfake *f, const struct kube_resource *r, const char *ns, const char *name)
{
	char key[512];
	api_key(key, sizeof key, r, ns, name);
	return json_object_get(f->api, key);
}

void ctlfake_fail(struct ctlfake *f, const char *verb, const char *plural, int rc)
{
	char key[128];
	snprintf(key, sizeof key, "%s %s", verb, plural);
	pthread_mutex_lock(&f->mu);
	json_object_set_new(f->fail, key, json_integer(rc));
	pthread_mutex_unlock(&f->mu);
}

json_t *ctlfake_requests(struct ctlfake *f)
{
	return f->requests;
}

const char *ctlfake_requests_text(struct ctlfake *f)
{
	size_t i, len = 0;
	json_t *r;
	f->text[0] = '\0';
	json_array_foreach(f->requests, i, r) {
		const char *ns = json_string_value(json_object_get(r, "namespace"));
		int n = snprintf(f->text + len, sizeof f->text - len, "%s%s %s %s%s%s", i ? "; " : "",
				 json_string_value(json_object_get(r, "verb")),
				 json_string_value(json_object_get(r, "resource")), ns, *ns ? "/" : "",
				 json_string_value(json_object_get(r, "name")));
		if (n < 0 || (size_t)n >= sizeof f->text - len)
			break;
		len += (size_t)n;
	}
	return f->text;
}

json_t *ctlfake_request(struct ctlfake *f, const char *verb, const char *plural, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach(f->requests, i, r) {
		if (!strcmp(json_string_value(json_object_get(r, "verb")), verb) &&
		    !strcmp(json_string_value(json_object_get(r, "resource")), plural) &&
		    (!name || !strcmp(json_string_value(json_object_get(r, "name")), name)))
			return r;
	}
	return NULL;
}

json_t *ctlfake_events(struct ctlfake *f)
{
	return f->events;
}

void ctlfake_clear(struct ctlfake *f)
{
	pthread_mutex_lock(&f->mu);
	json_array_clear(f->requests);
	json_array_clear(f->events);
	pthread_mutex_unlock(&f->mu);
}

/* ---- the store ---- */

static json_t *cache_get(void *ctx, enum ctl_cache c, const char *ns, const char *name)
{
	struct ctlfake *f = ctx;
	char key[512];
	key_of(key, sizeof key, c == CTL_RUNTIMECLASSES ? NULL : ns, name);
	pthread_mutex_lock(&f->mu);
	json_t *o = json_deep_copy(json_object_get(f->caches[c], key));
	pthread_mutex_unlock(&f->mu);
	return o;
}

static int cache_has(void *ctx, enum ctl_cache c, const char *ns, const char *name)
{
	json_t *o = cache_get(ctx, c, ns, name);
	json_decref(o);
	return o != NULL;
}

static json_t *cache_list(void *ctx, enum ctl_cache c)
{
	struct ctlfake *f = ctx;
	json_t *all = json_array(), *v;
	const char *k;
	pthread_mutex_lock(&f->mu);
	json_object_foreach(f->caches[c], k, v)
		json_array_append_new(all, json_deep_copy(v));
	pthread_mutex_unlock(&f->mu);
	return all;
}

/* The informers' indexes: apps by spec.executor, owned objects by the app-name label. */
static const char *index_value(enum ctl_cache c, const json_t *obj)
{
	if (c == CTL_APPS)
		return json_string_value(json_object_get(json_object_get(obj, "spec"), "executor"));
	if (c == CTL_EXECUTORS || c == CTL_RUNTIMECLASSES)
		return NULL;
	return json_string_value(json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"),
						 SPIN_LABEL_APP_NAME));
}

/* Keys (keys != 0) or copies of the objects in ns whose index value is value. */
static json_t *indexed(struct ctlfake *f, enum ctl_cache c, const char *ns, const char *value, int keys)
{
	json_t *out = json_array(), *v;
	const char *k, *iv;
	pthread_mutex_lock(&f->mu);
	json_object_foreach(f->caches[c], k, v) {
		const char *ons = meta(v, "namespace");
		if (!ns || !ons || strcmp(ns, ons) || !value || !(iv = index_value(c, v)) || strcmp(iv, value))
			continue;
		json_array_append_new(out, keys ? json_string(k) : json_deep_copy(v));
	}
	pthread_mutex_unlock(&f->mu);
	return out;
}

static json_t *cache_list_indexed(void *ctx, enum ctl_cache c, const char *ns, const char *value)
{
	return indexed(ctx, c, ns, value, 0);
}

static json_t *cache_keys_indexed(void *ctx, enum ctl_cache c, const char *ns, const char *value)
{
	return indexed(ctx, c, ns, value, 1);
}

static size_t cache_count_indexed(void *ctx, enum ctl_cache c, const char *ns, const char *value)
{
	json_t *keys = indexed(ctx, c, ns, value, 1);
	size_t n = json_array_size(keys);
	json_decref(keys);
	return n;
}

/* Logs a request and answers the injected failure, if any (0 otherwise). Called with f->mu held. */
static int request(struct ctlfake *f, const char *verb, const struct kube_resource *r, const char *ns,
		   const char *name, const json_t *body)
{
	char fk[128];
	json_t *entry = json_pack("{s:s, s:s, s:s, s:s}", "verb", verb, "resource", r->plural, "namespace", ns ? ns : "",
				  "name", name ? name : "");
	if (body)
		json_object_set_new(entry, "body", json_deep_copy(body));
	json_array_append_new(f->requests, entry);
	snprintf(fk, sizeof fk, "%s %s", verb, r->plural);
	int rc = (int)json_integer_value(json_object_get(f->fail, fk));
	if (rc)
		json_object_del(f->fail, fk);
	return rc;
}

static int answer(struct kube_response *resp, int rc, const char *what)
{
	if (rc && resp) {
		char msg[256];
		snprintf(msg, sizeof msg, "fake: %s: %s", what, so_strerror(rc));
		resp->message = strdup(msg);
	}
	return rc;
}

static int get(void *ctx, const struct kube_resource *r, const char *ns, const char *name, json_t **out,
	       struct kube_response *resp)
{
	struct ctlfake *f = ctx;
	pthread_mutex_lock(&f->mu);
	int rc = request(f, "get", r, ns, name, NULL);
	json_t *o = rc ? NULL : ctlfake_api_get(f, r, ns, name);
	if (!rc && !o)
		rc = SO_E_API_NOT_FOUND;
	if (!rc && out)
		*out = json_deep_copy(o);
	pthread_mutex_unlock(&f->mu);
	return answer(resp, rc, "get");
}

static int create(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj,
		  struct kube_response *resp)
{
	struct ctlfake *f = ctx;
	char key[512];
	pthread_mutex_lock(&f->mu);
	int rc = request(f, "create", r, ns, meta(obj, "name"), obj);
	api_key(key, sizeof key, r, ns, meta(obj, "name"));
	if (!rc && json_object_get(f->api, key))
		rc = SO_E_API_ALREADY_EXISTS;
	if (!rc)
		json_object_set_new(f->api, key, json_deep_copy(obj));
	pthread_mutex_unlock(&f->mu);
	return answer(resp, rc, "create");
}

static int update(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj,
		  struct kube_response *resp)
{
	struct ctlfake *f = ctx;
	char key[512];
	pthread_mutex_lock(&f->mu);
	int rc = request(f, "update", r, ns, meta(obj, "name"), obj);
	api_key(key, sizeof key, r, ns, meta(obj, "name"));
	if (!rc)
		json_object_set_new(f->api, key, json_deep_copy(obj));
	pthread_mutex_unlock(&f->mu);
	return answer(resp, rc, "update");
}

/* The object as the server returns it: what was sent (the fake adds no defaults or status). */
static int apply(void *ctx, const struct kube_resource *r, const char *ns, const json_t *obj, json_t **out,
		 struct kube_response *resp)
{
	struct ctlfake *f = ctx;
	char key[512];
	pthread_mutex_lock(&f->mu);
	int rc = request(f, "apply", r, ns, meta(obj, "name"), obj);
	api_key(key, sizeof key, r, ns, meta(obj, "name"));
	if (!rc)
		json_object_set_new(f->api, key, json_deep_copy(obj));
	if (!rc && out)
		*out = json_deep_copy(obj);
	pthread_mutex_unlock(&f->mu);
	return answer(resp, rc, "apply");
}

static int patch_status(void *ctx, const struct kube_resource *r, const char *ns, const char *name,
			const json_t *patch, struct kube_response *resp)
{
	struct ctlfake *f = ctx;
	pthread_mutex_lock(&f->mu);
	int rc = request(f, "patch", r, ns, name, patch);
	pthread_mutex_unlock(&f->mu);
	return answer(resp, rc, "patch");
}

static int delete(void *ctx, const struct kube_resource *r, const char *ns, const char *name,
		  const struct kube_delete_opts *o, struct kube_response *resp)
{
	struct ctlfake *f = ctx;
	char key[512];
	pthread_mutex_lock(&f->mu);
	int rc = request(f, "delete", r, ns, name, NULL);
	json_t *entry = json_array_get(f->requests, json_array_size(f->requests) - 1);
	if (o && o->precondition_uid)
		json_object_set_new(entry, "uid", json_string(o->precondition_uid));
	if (o && o->propagation)
		json_object_set_new(entry, "propagation", json_string(o->propagation));
	api_key(key, sizeof key, r, ns, name);
	if (!rc)
		json_object_del(f->api, key);
	pthread_mutex_unlock(&f->mu);
	return answer(resp, rc, "delete");
}

static void event(void *ctx, enum ctl_recorder from, const json_t *obj, const char *type, const char *reason,
		  const char *message)
{
	struct ctlfake *f = ctx;
	char key[512];
	key_of(key, sizeof key, meta(obj, "namespace"), meta(obj, "name"));
	pthread_mutex_lock(&f->mu);
	json_array_append_new(f->events, json_pack("{s:s, s:s, s:s, s:s, s:s}", "from",
						   from == CTL_REC_APP ? "app" : "executor", "object", key, "type", type,
						   "reason", reason, "message", message));
	pthread_mutex_unlock(&f->mu);
}

static int routes_served(void *ctx)
{
	struct ctlfake *f = ctx;
	pthread_mutex_lock(&f->mu);
	int served = f->routes_served;
	pthread_mutex_unlock(&f->mu);
	return served;
}

void ctlfake_routes_served(struct ctlfake *f, int answer)
{
	pthread_mutex_lock(&f->mu);
	f->routes_served = answer;
	pthread_mutex_unlock(&f->mu);
}

static const struct ctl_store_ops fake_ops = {
	cache_get, cache_has, cache_list, cache_list_indexed, cache_keys_indexed, cache_count_indexed,
	get, create, update, apply, patch_status, delete, event, routes_served,
};

struct ctl_store ctlfake_store(struct ctlfake *f)
{
	return (struct ctl_store){ &fake_ops, f };
}

#include "operator/runtime/applier.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/mem.h"

struct applier {
	pthread_mutex_t mu;
	json_t *digests; /* "plural/ns/name" → hex sha256 of the canonical desired object */
};

/* Like applier_json_subset, recording the path of the first difference ("spec.template.spec.containers[0].env"). */
static int subset_at(const json_t *desired, const json_t *live, struct buf *path)
{
	size_t mark = path->len;
	if (json_is_object(desired)) {
		const char *k;
		json_t *v;
		if (!json_is_object(live))
			return 0;
		json_object_foreach((json_t *)desired, k, v) {
			buf_appendf(path, "%s%s", mark ? "." : "", k);
			if (!subset_at(v, json_object_get(live, k), path))
				return 0;
			path->len = mark;
		}
		return 1;
	}
	if (json_is_array(desired)) {
		size_t n = json_array_size(desired);
		if (!json_is_array(live) || json_array_size(live) != n)
			return 0;
		for (size_t i = 0; i < n; i++) {
			buf_appendf(path, "[%zu]", i);
			if (!subset_at(json_array_get(desired, i), json_array_get(live, i), path))
				return 0;
			path->len = mark;
		}
		return 1;
	}
	if (json_is_number(desired) && json_is_number(live))
		return json_number_value(desired) == json_number_value(live);
	return live && json_equal((json_t *)desired, (json_t *)live);
}

int applier_json_subset(const json_t *desired, const json_t *live)
{
	if (json_is_object(desired)) {
		const char *k;
		json_t *v;
		if (!json_is_object(live))
			return 0;
		json_object_foreach((json_t *)desired, k, v) {
			if (!applier_json_subset(v, json_object_get(live, k)))
				return 0;
		}
		return 1;
	}
	if (json_is_array(desired)) {
		size_t n = json_array_size(desired);
		if (!json_is_array(live) || json_array_size(live) != n)
			return 0;
		for (size_t i = 0; i < n; i++) {
			if (!applier_json_subset(json_array_get(desired, i), json_array_get(live, i)))
				return 0;
		}
		return 1;
	}
	if (json_is_number(desired) && json_is_number(live))
		return json_number_value(desired) == json_number_value(live);
	return live && json_equal((json_t *)desired, (json_t *)live);
}

struct applier *applier_new(void)
{
	struct applier *a = mem_calloc(1, sizeof *a);
	a->digests = json_object();
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

void applier_free(struct applier *a)
{
	if (!a)
		return;
	json_decref(a->digests);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static int record_key(char *out, size_t n, const struct kube_resource *r, const char *ns, const char *name)
{
	int len = snprintf(out, n, "%s/%s/%s", r->plural, ns ? ns : "", name);
	return len > 0 && (size_t)len < n ? SO_OK : SO_E_TOO_LARGE;
}

/* Hex SHA-256 of the object's canonical serialisation (sorted keys, compact). */
static int digest(const json_t *obj, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	/* obj is an object (it has a metadata.name), so json_dumps cannot refuse it. */
	char *text = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
	int ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
	free(text);
	if (!ok || mdlen != 32)
		return SO_E_CONFIG; /* OpenSSL has no SHA-256 (a provider configuration) */
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return SO_OK;
}

static int send_apply(void *ud, const struct kube_resource *r, const char *ns, const json_t *desired, json_t **out,
		      struct kube_response *resp)
{
	return kube_apply(ud, r, ns, desired, NULL, APPLIER_FIELD_MANAGER, 1, out, resp);
}

int applier_apply(struct applier *a, struct kube_client *c, const struct kube_resource *r, const char *ns,
		  const json_t *desired, const json_t *live, json_t **out, int *wrote, struct kube_response *resp)
{
	return applier_apply_with(a, send_apply, c, r, ns, desired, live, out, wrote, resp);
}

int applier_apply_with(struct applier *a, applier_send_fn send, void *ud, const struct kube_resource *r,
		       const char *ns, const json_t *desired, const json_t *live, json_t **out, int *wrote,
		       struct kube_response *resp)
{
	const char *name = json_string_value(json_object_get(json_object_get(desired, "metadata"), "name"));
	char key[512], sum[65];
	int rc;

	*wrote = 0;
	if (out)
		*out = NULL;
	if (!name || (rc = record_key(key, sizeof key, r, ns, name)) || (rc = digest(desired, sum)))
		return name ? rc : SO_E_INVAL;

	pthread_mutex_lock(&a->mu);
	const char *last = json_string_value(json_object_get(a->digests, key));
	int same_intent = !last || strcmp(last, sum) == 0;
	pthread_mutex_unlock(&a->mu);

	if (live && same_intent) {
		struct buf path = BUF_INIT(1024);
		int same = subset_at(desired, live, &path);
		if (!same && path.data)
			log_debug("apply", "%s %s/%s differs from the cache at %s", r->kind, ns ? ns : "", name, path.data);
		buf_free(&path);
		if (same) {
			if (out)
				*out = json_incref((json_t *)live);
			return SO_OK;
		}
	}
	*wrote = 1;
	rc = send(ud, r, ns, desired, out, resp);
	if (rc == SO_OK) {
		/* key is made of a resource name and JSON strings, sum of hex digits: both valid UTF-8. */
		pthread_mutex_lock(&a->mu);
		json_object_set_new(a->digests, key, json_string(sum));
		pthread_mutex_unlock(&a->mu);
	}
	return rc;
}

void applier_forget(struct applier *a, const struct kube_resource *r, const char *ns, const char *name)
{
	char key[512];
	if (record_key(key, sizeof key, r, ns, name))
		return;
	pthread_mutex_lock(&a->mu);
	json_object_del(a->digests, key);
	pthread_mutex_unlock(&a->mu);
}

void applier_forget_app(struct applier *a, const char *ns, const char *name)
{
	static const struct kube_resource *const children[] = { &KUBE_DEPLOYMENTS, &KUBE_SERVICES, &KUBE_HPAS,
								 &KUBE_HTTPROUTES };
	for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
		applier_forget(a, children[i], ns, name);
}

size_t applier_records(struct applier *a)
{
	pthread_mutex_lock(&a->mu);
	size_t n = json_object_size(a->digests);
	pthread_mutex_unlock(&a->mu);
	return n;
}

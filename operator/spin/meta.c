/*
 * Names, labels and owner references shared by every object built for a SpinApp, plus the small JSON helpers
 * the builders use (appmeta.h).
 *
 * The ready label key "core.spinkube.dev/app.<name>.status" embeds the app name. Upstream does not check it;
 * a name longer than 52 characters makes the key's name part exceed the 63-character limit and the apiserver
 * rejects the Deployment with a message that does not mention the SpinApp. We fail earlier, naming the app.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/base/err.h"

#define LABEL_NAME_MAX 63
#define READY_PREFIX "app."
#define READY_SUFFIX ".status"
#define READY_NAME_MAX (LABEL_NAME_MAX - (sizeof READY_PREFIX - 1) - (sizeof READY_SUFFIX - 1))

const char *spin_str(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

const json_t *spin_obj(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_object(v) ? v : NULL;
}

int spin_app_identity(const json_t *app, const char **name, const char **ns, char *err, size_t errlen)
{
	const json_t *meta = spin_obj(app, "metadata");
	*name = spin_str(meta, "name");
	*ns = spin_str(meta, "namespace");
	if (!*name || !**name)
		return so_fail(err, errlen, SO_E_INVAL, "SpinApp has no metadata.name");
	if (*ns && !**ns)
		*ns = NULL;
	return SO_OK;
}

int spin_copy_string_map(json_t *dst, const json_t *src, const char *key, const char *field, char *err,
			  size_t errlen)
{
	const json_t *map = json_is_object(src) ? json_object_get(src, key) : NULL;
	const char *k;
	json_t *v;

	if (!map || json_is_null(map))
		return SO_OK;
	if (!json_is_object(map))
		return so_fail(err, errlen, SO_E_INVAL, "%s: must be a map of strings", field);
	json_object_foreach((json_t *)map, k, v) {
		if (!json_is_string(v))
			return so_fail(err, errlen, SO_E_INVAL, "%s[\"%s\"]: must be a string", field, k);
		json_object_set(dst, k, v); /* k and v come out of jansson: cannot fail */
	}
	return SO_OK;
}

int spin_pack_failed(char *err, size_t errlen, const char *what)
{
	return so_fail(err, errlen, SO_E_INVAL, "cannot build the %s: a value is missing or not valid UTF-8", what);
}

/* A valid label name: [a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?, at most 63 characters. */
static int label_char(char c, int edge)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return !edge && (c == '-' || c == '_' || c == '.');
}

int spin_ready_label_key(const char *app_name, struct buf *out, char *err, size_t errlen)
{
	size_t n = app_name ? strlen(app_name) : 0;

	if (n == 0)
		return so_fail(err, errlen, SO_E_INVAL, "SpinApp has no name to build the ready label key from");
	if (n > READY_NAME_MAX)
		return so_fail(err, errlen, SO_E_INVAL,
				  "SpinApp name \"%s\" is too long: the ready label key \"" SPIN_GROUP "/" READY_PREFIX
				  "%s" READY_SUFFIX "\" would exceed the %d-character limit of a label name "
				  "(names up to %zu characters fit)",
				  app_name, app_name, LABEL_NAME_MAX, (size_t)READY_NAME_MAX);
	/* The prefix starts and the suffix ends with a letter, so every name character may be a middle one. */
	for (size_t i = 0; i < n; i++) {
		if (!label_char(app_name[i], 0))
			return so_fail(err, errlen, SO_E_INVAL,
					  "SpinApp name \"%s\" cannot be used in the ready label key: \"" READY_PREFIX
					  "%s" READY_SUFFIX "\" is not a valid label name",
					  app_name, app_name);
	}
	if (buf_appendf(out, SPIN_GROUP "/" READY_PREFIX "%s" READY_SUFFIX, app_name) != SO_OK)
		return so_fail(err, errlen, SO_E_TOO_LARGE,
			       "SpinApp \"%s\": the ready label key does not fit its buffer", app_name);
	return SO_OK;
}

int spin_pod_selector(const char *app_name, struct buf *out, char *err, size_t errlen)
{
	struct buf ready = BUF_INIT(256);
	int rc = spin_ready_label_key(app_name, &ready, err, errlen);

	/* "…/app-name" sorts before "…/app.<name>.status" ('-' < '.'), as labels.SelectorFromSet orders them. */
	if (rc == SO_OK && buf_appendf(out, SPIN_LABEL_APP_NAME "=%s,%s=" SPIN_READY_VALUE, app_name, ready.data) != SO_OK)
		rc = so_fail(err, errlen, SO_E_NOMEM, "out of memory");
	buf_free(&ready);
	return rc;
}

static json_t *owner_ref(const char *api_version, const char *kind, const char *name, const char *uid,
			 int controller)
{
	json_t *ref;

	if (!api_version || !*api_version || !kind || !*kind || !name || !*name || !uid || !*uid)
		return NULL;
	ref = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", api_version, "kind", kind, "name", name, "uid", uid);
	if (controller) { /* the strings are non-empty and came out of jansson: json_pack cannot fail */
		json_object_set_new(ref, "controller", json_true());
		json_object_set_new(ref, "blockOwnerDeletion", json_true());
	}
	return ref;
}

json_t *spin_owner_ref(const json_t *owner, int controller)
{
	const json_t *meta = spin_obj(owner, "metadata");
	return owner_ref(spin_str(owner, "apiVersion"), spin_str(owner, "kind"), spin_str(meta, "name"),
			 spin_str(meta, "uid"), controller);
}

int spin_child_meta(const json_t *app, const char *annotations_key, json_t **out, char *err, size_t errlen)
{
	const char *name, *ns, *uid, *api_version, *kind;
	json_t *meta, *annotations, *ref;
	int rc;

	*out = NULL;
	rc = spin_app_identity(app, &name, &ns, err, errlen);
	if (rc != SO_OK)
		return rc;
	/* Every string packed here comes out of jansson (valid UTF-8) and is non-NULL: json_pack cannot fail. */
	meta = json_pack("{s:s}", "name", name);
	if (ns)
		json_object_set_new(meta, "namespace", json_string(ns));
	json_object_set_new(meta, "labels", json_pack("{s:s}", SPIN_LABEL_APP_NAME, name));
	if (annotations_key) {
		annotations = json_object();
		char field[64];
		snprintf(field, sizeof field, "spec.%s", annotations_key);
		rc = spin_copy_string_map(annotations, spin_obj(app, "spec"), annotations_key, field, err, errlen);
		/* Go's omitempty drops an empty map, so upstream sends no annotations at all then. */
		if (rc == SO_OK && json_object_size(annotations) > 0)
			json_object_set(meta, "annotations", annotations);
		json_decref(annotations);
		if (rc != SO_OK)
			goto fail;
	}
	uid = spin_str(spin_obj(app, "metadata"), "uid");
	if (uid && *uid) {
		/* Items of some list answers lack apiVersion/kind; the owner is a SpinApp either way. */
		api_version = spin_str(app, "apiVersion");
		kind = spin_str(app, "kind");
		ref = owner_ref(api_version ? api_version : SPIN_API_VERSION, kind ? kind : "SpinApp", name, uid, 1);
		if (!ref) {
			rc = spin_owner_ref_failed(name, err, errlen);
			goto fail;
		}
		json_object_set_new(meta, "ownerReferences", json_pack("[o]", ref));
	}
	*out = meta;
	return SO_OK;
fail:
	json_decref(meta);
	return rc;
}

int spin_owner_ref_failed(const char *name, char *err, size_t errlen)
{
	return so_fail(err, errlen, SO_E_INVAL, "SpinApp \"%s\": apiVersion and kind must not be empty: "
		       "they name the owner of its objects", name);
}

/*
 * The runtime-config Secret (docs/internals/runtime-config.md): upstream's runtimeconfig.K8sBuilder.Build,
 * toml.Marshal, the adler32 name and the Secret object, without I/O. The caller fetches what
 * spin_runtime_config_refs names and hands the objects back in refs.
 *
 * Upstream, in order: collect the options of llmCompute, keyValueStores[*], sqliteDatabases[*] (nothing when
 * loadFromSecret is set); Get every Secret/ConfigMap they reference, failing on the first error; return no config
 * when loadFromSecret is set; otherwise build {config_provider: [{type: env, prefix: SPIN_VARIABLE_}],
 * key_value_store.<name>, sqlite_database.<name>, llm_compute}, each table {type: <type>, <option.name>: value}
 * where value = option.value if non-empty, else the referenced ConfigMap data[key] (configMapKeyRef wins when
 * both refs are set) or Secret data[key] (decoded), else "". Later options overwrite earlier ones with the same
 * name, "type" included. A repeated store or database name is an error. The reconciler wraps every Build error
 * as "failed to construct RuntimeConfig: <err>"; our messages carry that prefix already.
 *
 * Status codes: a missing referenced object SO_E_CONFIG, a duplicate name or undecodable Secret data SO_E_INVAL,
 * a TOML larger than the caller's buffer SO_E_TOO_LARGE.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "operator/spin/appmeta.h"
#include "operator/spin/spin.h"
#include "operator/spin/toml.h"
#include "operator/base/base64.h"
#include "operator/base/err.h"

#define SPIN_RUNTIME_CONFIG_ERR "failed to construct RuntimeConfig: "
#define MARSHAL_ERR "failed to marshal RuntimeConfig: "

/* spec.runtimeConfig, or NULL. */
static const json_t *runtime_config(const json_t *app)
{
	return spin_obj(spin_obj(app, "spec"), "runtimeConfig");
}

static int loads_from_secret(const json_t *rc)
{
	const char *s = spin_str(rc, "loadFromSecret");
	return s && *s;
}

/* A string member as bytes; absent or not a string reads as "" (Go's zero value). */
static const char *str_or_empty(const json_t *obj, const char *key, size_t *len)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	if (!json_is_string(v)) {
		*len = 0;
		return "";
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

/* ---- walking the options ---- */

typedef int (*option_fn)(const json_t *option, void *ctx);

static int each_option_of(const json_t *owner, option_fn fn, void *ctx)
{
	const json_t *opts = json_is_object(owner) ? json_object_get(owner, "options") : NULL;
	const json_t *opt;
	size_t i;
	int rc;

	json_array_foreach(opts, i, opt) {
		if (json_is_object(opt) && (rc = fn(opt, ctx)) != SO_OK)
			return rc;
	}
	return SO_OK;
}

/* Every option, in upstream's dependency-collection order: llmCompute, keyValueStores[*], sqliteDatabases[*]. */
static int each_option(const json_t *rc, option_fn fn, void *ctx)
{
	static const char *const lists[] = { "keyValueStores", "sqliteDatabases" };
	const json_t *item;
	size_t i, l;
	int r;

	if ((r = each_option_of(spin_obj(rc, "llmCompute"), fn, ctx)) != SO_OK)
		return r;
	for (l = 0; l < sizeof lists / sizeof lists[0]; l++) {
		json_array_foreach(json_object_get(rc, lists[l]), i, item) {
			if ((r = each_option_of(item, fn, ctx)) != SO_OK)
				return r;
		}
	}
	return SO_OK;
}

/* option.valueFrom.<ref>, or NULL. */
static const json_t *key_ref(const json_t *option, const char *ref)
{
	return spin_obj(spin_obj(option, "valueFrom"), ref);
}

/* ---- spin_runtime_config_refs ---- */

struct refs_ctx {
	json_t *secrets;
	json_t *configmaps;
};

/* The name is a JSON string's bytes (valid UTF-8), so json_stringn cannot fail. */
static void add_name(json_t *names, const json_t *ref)
{
	size_t len, i;
	const char *name = str_or_empty(ref, "name", &len);
	const json_t *v;

	if (!ref || len == 0) /* nothing to fetch; spin_runtime_config_toml reports the empty name */
		return;
	json_array_foreach(names, i, v) {
		if (json_string_length(v) == len && memcmp(json_string_value(v), name, len) == 0)
			return;
	}
	json_array_append_new(names, json_stringn(name, len));
}

static int collect_refs(const json_t *option, void *arg)
{
	struct refs_ctx *ctx = arg;

	add_name(ctx->secrets, key_ref(option, "secretKeyRef"));
	add_name(ctx->configmaps, key_ref(option, "configMapKeyRef"));
	return SO_OK;
}

int spin_runtime_config_refs(const json_t *app, json_t **secret_names, json_t **configmap_names)
{
	struct refs_ctx ctx = { json_array(), json_array() };
	const json_t *rc = runtime_config(app);

	if (rc && !loads_from_secret(rc))
		each_option(rc, collect_refs, &ctx);
	*secret_names = ctx.secrets;
	*configmap_names = ctx.configmaps;
	return SO_OK;
}

/* ---- spin_runtime_config_toml ---- */

struct render_ctx {
	const json_t *secrets;    /* refs.secrets */
	const json_t *configmaps; /* refs.configmaps */
	char *err;
	size_t errlen;
};

/* refs.<kind>[name] when it is an object, else NULL. */
static const json_t *ref_object(const json_t *objs, const json_t *ref)
{
	size_t len;
	const char *name = str_or_empty(ref, "name", &len);
	const json_t *o = json_is_object(objs) ? json_object_getn(objs, name, len) : NULL;

	return json_is_object(o) ? o : NULL;
}

/* Upstream Gets every referenced object before building; a failed Get fails the build with the API's error. */
static int check_ref(const struct render_ctx *ctx, const json_t *objs, const json_t *ref, const char *resource)
{
	size_t len;
	const char *name = str_or_empty(ref, "name", &len);

	if (!ref)
		return SO_OK;
	if (len == 0)
		return so_fail(ctx->err, ctx->errlen, SO_E_CONFIG, SPIN_RUNTIME_CONFIG_ERR "resource name may not be empty");
	if (ref_object(objs, ref))
		return SO_OK;
	return so_fail(ctx->err, ctx->errlen, SO_E_CONFIG, SPIN_RUNTIME_CONFIG_ERR "%s \"%s\" not found", resource, name);
}

static int check_refs(const json_t *option, void *arg)
{
	const struct render_ctx *ctx = arg;
	int rc = check_ref(ctx, ctx->secrets, key_ref(option, "secretKeyRef"), "secrets");

	return rc == SO_OK ? check_ref(ctx, ctx->configmaps, key_ref(option, "configMapKeyRef"), "configmaps") : rc;
}

/* The value of one option, as a new JSON string (bytes, may hold NULs) in *out. */
static int option_value(const struct render_ctx *ctx, const json_t *option, json_t **out)
{
	const json_t *cm_ref = key_ref(option, "configMapKeyRef");
	const json_t *sec_ref = key_ref(option, "secretKeyRef");
	const json_t *v = NULL;
	const char *s;
	size_t len, klen;
	const char *key;
	unsigned char *bytes;
	int rc;

	s = str_or_empty(option, "value", &len);
	if (len > 0 || (!cm_ref && !sec_ref)) {
		*out = json_stringn_nocheck(s, len);
		return SO_OK;
	}
	if (cm_ref) {
		key = str_or_empty(cm_ref, "key", &klen);
		v = json_object_getn(spin_obj(ref_object(ctx->configmaps, cm_ref), "data"), key, klen);
		s = json_is_string(v) ? json_string_value(v) : "";
		*out = json_stringn_nocheck(s, json_is_string(v) ? json_string_length(v) : 0);
		return SO_OK;
	}
	key = str_or_empty(sec_ref, "key", &klen);
	v = json_object_getn(spin_obj(ref_object(ctx->secrets, sec_ref), "data"), key, klen);
	if (!json_is_string(v)) {
		*out = json_string("");
		return SO_OK;
	}
	rc = base64_decode(json_string_value(v), json_string_length(v), B64_ALLOW_EMPTY, &bytes, &len);
	if (rc == SO_E_INVAL)
		return so_fail(ctx->err, ctx->errlen, rc, SPIN_RUNTIME_CONFIG_ERR "secret \"%s\" key \"%s\": data is not base64",
				  str_or_empty(sec_ref, "name", &klen), key);
	if (rc != SO_OK)
		return rc;
	*out = json_stringn_nocheck((const char *)bytes, len);
	free(bytes);
	return SO_OK;
}

/* renderOptionsIntoMap: {type: <type>} then every option in order, later names overwriting earlier ones. */
static int render_table(const struct render_ctx *ctx, const json_t *owner, json_t **out)
{
	const json_t *opts = json_object_get(owner, "options");
	const json_t *opt;
	json_t *table, *val = NULL;
	const char *s;
	size_t len, i;
	int rc;

	s = str_or_empty(owner, "type", &len);
	table = json_object();
	json_object_set_new_nocheck(table, "type", json_stringn_nocheck(s, len));
	json_array_foreach(opts, i, opt) {
		if (!json_is_object(opt))
			continue;
		rc = option_value(ctx, opt, &val);
		if (rc != SO_OK)
			goto fail;
		s = str_or_empty(opt, "name", &len);
		json_object_setn_new_nocheck(table, s, len, val);
	}
	*out = table;
	return SO_OK;
fail:
	json_decref(table);
	return rc;
}

/* AddKeyValueStore / AddSQLiteDatabase for every item of rc[list], into a new map *out (NULL when empty). */
static int render_named(const struct render_ctx *ctx, const json_t *rc, const char *list, const char *what,
			json_t **out)
{
	const json_t *item;
	json_t *map, *table;
	const char *name;
	size_t len, i;
	int r;

	*out = NULL;
	map = json_object();
	json_array_foreach(json_object_get(rc, list), i, item) {
		if (!json_is_object(item))
			continue;
		name = str_or_empty(item, "name", &len);
		if (json_object_getn(map, name, len)) {
			r = so_fail(ctx->err, ctx->errlen, SO_E_INVAL, SPIN_RUNTIME_CONFIG_ERR "duplicate definition for %s with name: %s",
				       what, name);
			goto fail;
		}
		r = render_table(ctx, item, &table);
		if (r != SO_OK)
			goto fail;
		json_object_setn_new_nocheck(map, name, len, table);
	}
	if (json_object_size(map) > 0)
		*out = map;
	else
		json_decref(map);
	return SO_OK;
fail:
	json_decref(map);
	return r;
}

/* Adds root[key] = v (stolen); v NULL means "omitted" (omitempty). */
static void set_optional(json_t *root, const char *key, json_t *v)
{
	if (v)
		json_object_set_new(root, key, v);
}

int spin_runtime_config_toml(const json_t *app, const json_t *refs, struct buf *toml, int *generated, char *err,
			      size_t errlen)
{
	struct render_ctx ctx = { spin_obj(refs, "secrets"), spin_obj(refs, "configmaps"), err, errlen };
	const json_t *rc = runtime_config(app);
	const json_t *llm;
	json_t *root = NULL, *kv = NULL, *sql = NULL, *llm_table = NULL;
	int r;

	*generated = 0;
	buf_reset(toml);
	if (rc && loads_from_secret(rc))
		return SO_OK;
	if (rc && (r = each_option(rc, check_refs, &ctx)) != SO_OK)
		return r;

	/* Constants: cannot fail. */
	root = json_pack("{s:[{s:s, s:s}]}", "config_provider", "type", "env", "prefix", "SPIN_VARIABLE_");
	if (rc) {
		if ((r = render_named(&ctx, rc, "keyValueStores", "key value store", &kv)) != SO_OK ||
		    (r = render_named(&ctx, rc, "sqliteDatabases", "sqlite database", &sql)) != SO_OK)
			goto out;
		llm = spin_obj(rc, "llmCompute");
		if (llm && (r = render_table(&ctx, llm, &llm_table)) != SO_OK)
			goto out;
	}
	set_optional(root, "key_value_store", kv);
	kv = NULL;
	set_optional(root, "sqlite_database", sql);
	sql = NULL;
	set_optional(root, "llm_compute", llm_table);
	llm_table = NULL;

	r = toml_encode(root, toml);
	if (r == SO_E_TOO_LARGE)
		so_fail(err, errlen, r, MARSHAL_ERR "the TOML exceeds %zu bytes", toml->cap);
	else if (r != SO_OK)
		so_fail(err, errlen, r, MARSHAL_ERR "unsupported document shape");
	if (r == SO_OK)
		*generated = 1;
out:
	json_decref(kv);
	json_decref(sql);
	json_decref(llm_table);
	json_decref(root);
	return r;
}

/* ---- the Secret ---- */

int spin_runtime_config_secret_name(const char *app_name, const char *toml, size_t len, struct buf *out)
{
	uLong sum;

	if (!app_name || !out || (!toml && len > 0))
		return SO_E_INVAL;
	sum = adler32_z(adler32(0L, Z_NULL, 0), (const Bytef *)toml, len);
	buf_reset(out);
	return buf_appendf(out, "%s-%lx", app_name, (unsigned long)sum);
}

/*
 * controllerutil.SetOwnerReference(app, secret): apiVersion/kind/name/uid, not a controller reference. An app
 * never stored (no uid, e.g. rendered from a file) gets none, as with the other children (spin_child_meta).
 * List items may lack apiVersion/kind; the owner is a SpinApp either way. SO_E_INVAL when either is "".
 */
static int owner_refs(const json_t *app, const char *app_name, json_t **out, char *err, size_t errlen)
{
	json_t *copy = NULL, *ref;
	const char *uid = spin_str(spin_obj(app, "metadata"), "uid");

	*out = NULL;
	if (!uid || !*uid)
		return SO_OK;
	ref = spin_owner_ref(app, 0);
	if (!ref) {
		copy = json_copy((json_t *)app);
		if (!spin_str(copy, "apiVersion"))
			json_object_set_new(copy, "apiVersion", json_string(SPIN_API_VERSION));
		if (!spin_str(copy, "kind"))
			json_object_set_new(copy, "kind", json_string("SpinApp"));
		ref = spin_owner_ref(copy, 0);
		json_decref(copy);
		if (!ref)
			return spin_owner_ref_failed(app_name, err, errlen);
	}
	*out = json_pack("[o]", ref);
	return SO_OK;
}

int spin_runtime_config_secret(const json_t *app, const char *toml, size_t len, json_t **out, char *err,
				size_t errlen)
{
	struct buf name = BUF_INIT(1024);
	const char *app_name, *ns;
	json_t *secret = NULL, *meta, *refs = NULL, *data;
	int rc;

	*out = NULL;
	rc = spin_app_identity(app, &app_name, &ns, err, errlen);
	if (rc != SO_OK)
		return rc;
	if (len > B64_MAX_ENCODE) {
		rc = so_fail(err, errlen, SO_E_TOO_LARGE, "the runtime config (%zu bytes) is too large for a Secret",
				len);
		goto out;
	}
	rc = spin_runtime_config_secret_name(app_name, toml, len, &name);
	if (rc != SO_OK) {
		so_fail(err, errlen, rc, "cannot name the runtime config Secret of SpinApp \"%s\": %s", app_name,
			   so_strerror(rc));
		goto out;
	}
	rc = owner_refs(app, app_name, &refs, err, errlen);
	if (rc != SO_OK)
		goto out;
	/* name.data, ns and app_name are non-NULL and valid UTF-8 (the app's own strings): json_pack cannot fail. */
	secret = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name", name.data);
	meta = json_object_get(secret, "metadata");
	if (ns)
		json_object_set_new(meta, "namespace", json_string(ns));
	json_object_set_new(meta, "labels", json_pack("{s:s}", SPIN_LABEL_APP_NAME, app_name));
	if (refs)
		json_object_set(meta, "ownerReferences", refs);
	data = json_object();
	json_object_set_new(secret, "data", data);
	/* len was checked against B64_MAX_ENCODE above: this cannot fail. */
	json_object_set_new(data, SPIN_RUNTIME_CONFIG_KEY, base64_json_string(toml, len));
	*out = secret;
	secret = NULL;
out:
	json_decref(secret);
	json_decref(refs);
	buf_free(&name);
	return rc;
}

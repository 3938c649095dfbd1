/*
 * kubeconfig parsing: the file goes through the one YAML loader (operator/base/yamljson.h: YAML → JSON, as client-go's
 * sigs.k8s.io/yaml does), then this walks the fixed shape of a kubeconfig in the jansson tree.
 *
 * Input is untrusted in the sense that it must never crash or hang the daemon. The text is capped at
 * KUBE_CONFIG_MAX_FILE; the loader bounds nesting, anchors, aliases and alias expansion ("billion laughs") and
 * refuses duplicate keys and merge keys; what it refuses is "invalid YAML" (SO_E_CONFIG) or, for its limits,
 * "document too complex" (SO_E_TOO_LARGE). The tree it hands over is finite, so the walk needs no budget.
 * Messages name the file and the field path ("users[0].user.client-key-data") and never include a value other
 * than entry names, which are sanitized.
 */
#include "operator/kube/kubeconfig.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "operator/kube/file.h"
#include "operator/kube/names.h"
#include "operator/base/base64.h"
#include "operator/base/err.h"
#include "operator/base/strv.h"
#include "operator/base/mem.h"
#include "operator/base/yamljson.h"

#define KC_PATH 192                               /* field paths: "users[123].user.exec.env[4].value" */
#define KC_NAME 80                                /* sanitized names echoed in messages */

/* ---- the model: one file, fields as written, nothing decoded ---- */

struct kc_entry {
	char *name;
	size_t index; /* position in its list, for messages */
};

struct kc_exec {
	struct kube_exec_config cfg; /* command as written (not yet resolved against the file's directory) */
	char *interactive_mode;
	char *install_hint;
};

struct kc_cluster {
	struct kc_entry e;
	char *server;
	char *ca_file;
	char *ca_data;
	char *tls_server_name;
	int insecure;
	const char *unsupported; /* first unsupported key set, e.g. "proxy-url" */
};

struct kc_user {
	struct kc_entry e;
	char *cert_file;
	char *cert_data;
	char *key_file;
	char *key_data; /* secret */
	char *token;    /* secret */
	char *token_file;
	struct kc_exec *exec;
	const char *unsupported;
};

struct kc_context {
	struct kc_entry e;
	char *cluster;
	char *user;
	char *namespace;
};

struct kube_kubeconfig {
	char *label;
	char *dir;
	char *current_context;
	char *api_version;
	char *kind;
	struct kc_cluster *clusters;
	size_t nclusters;
	struct kc_user *users;
	size_t nusers;
	struct kc_context *contexts;
	size_t ncontexts;
};


/* ---- converting the JSON tree ---- */

struct kc_ctx {
	const char *label;
	char *err;
	size_t errlen;
};

enum kc_kind {
	KC_STR,         /* char * (NULL when absent, null or "") */
	KC_BOOL,        /* int */
	KC_STRLIST,     /* char ** NULL-terminated */
	KC_ENVLIST,     /* char ** NULL-terminated "NAME=value" */
	KC_EXEC,        /* struct kc_exec * */
	KC_LIST,        /* a named list; aux is a struct kc_list */
	KC_UNSUPPORTED, /* const char *: records the key when set */
};

struct kc_field {
	const char *key;
	enum kc_kind kind;
	size_t off;
	const void *aux;
};

struct kc_list {
	const char *inner;             /* "cluster" */
	const struct kc_field *fields; /* of the inner mapping */
	size_t nfields;
	size_t size;                   /* sizeof the entry struct, which starts with struct kc_entry */
	size_t count_off;              /* offset of the size_t count in struct kube_kubeconfig */
};

/* Field paths for messages; a path cut short by the buffer is still a useful message. */
static const char *subkey(char *dst, size_t n, const char *path, const char *key)
{
	int r = path[0] ? snprintf(dst, n, "%s.%s", path, key) : snprintf(dst, n, "%s", key);

	if (r < 0)
		dst[0] = '\0';
	return dst;
}

static const char *node_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "a scalar";
	}
}

/* A number or boolean where a string belongs is refused as kubectl does (the YAML → JSON step has typed it). */
static int type_error(struct kc_ctx *c, const char *path, const char *want, const json_t *got)
{
	return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: expected %s, found %s", c->label, path, want,
		    node_kind(got));
}

/* Copies a string; refuses embedded NULs (a "\0" escape) since every consumer is a C string. */
static int copy_str(struct kc_ctx *c, const json_t *v, const char *path, char **dst)
{
	if (!json_is_string(v))
		return type_error(c, path, "a string", v);
	if (memchr(json_string_value(v), 0, json_string_length(v)))
		return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: contains a NUL byte", c->label, path);
	*dst = mem_strdup(json_string_value(v));
	return SO_OK;
}

static void kc_exec_free(struct kc_exec *x)
{
	if (!x)
		return;
	free(x->cfg.command);
	strv_free(x->cfg.args);
	strv_free(x->cfg.env);
	free(x->cfg.api_version);
	free(x->interactive_mode);
	free(x->install_hint);
	free(x);
}

static int kc_map(struct kc_ctx *c, const json_t *map, const char *path, const struct kc_field *fields,
		  size_t nfields, void *obj);

static const struct kc_field exec_fields[] = {
	{ "command", KC_STR, offsetof(struct kc_exec, cfg.command), NULL },
	{ "args", KC_STRLIST, offsetof(struct kc_exec, cfg.args), NULL },
	{ "env", KC_ENVLIST, offsetof(struct kc_exec, cfg.env), NULL },
	{ "apiVersion", KC_STR, offsetof(struct kc_exec, cfg.api_version), NULL },
	{ "provideClusterInfo", KC_BOOL, offsetof(struct kc_exec, cfg.provide_cluster_info), NULL },
	{ "interactiveMode", KC_STR, offsetof(struct kc_exec, interactive_mode), NULL },
	{ "installHint", KC_STR, offsetof(struct kc_exec, install_hint), NULL },
};

struct kc_env {
	char *name;
	char *value;
};

static const struct kc_field env_fields[] = {
	{ "name", KC_STR, offsetof(struct kc_env, name), NULL },
	{ "value", KC_STR, offsetof(struct kc_env, value), NULL },
};

/* A list of strings (args). A null item is an empty string, as in Go. */
static int kc_strlist(struct kc_ctx *c, const json_t *seq, const char *path, char ***dst)
{
	char subpath[KC_PATH];
	size_t i;
	json_t *item;
	char **v = mem_calloc(json_array_size(seq) + 1, sizeof *v);
	int rc;

	*dst = v;
	json_array_foreach(seq, i, item) {
		snprintf(subpath, sizeof subpath, "%s[%zu]", path, i);
		if (json_is_null(item))
			v[i] = mem_strdup("");
		else if ((rc = copy_str(c, item, subpath, &v[i])))
			return rc;
	}
	return SO_OK;
}

/* env: [{name, value}] → "NAME=value". */
static int kc_envlist(struct kc_ctx *c, const json_t *seq, const char *path, char ***dst)
{
	char subpath[KC_PATH];
	size_t i;
	json_t *item;
	char **v = mem_calloc(json_array_size(seq) + 1, sizeof *v);
	struct kc_env e = { NULL, NULL };
	int rc = SO_OK;

	*dst = v;
	json_array_foreach(seq, i, item) {
		size_t nl, vl;

		snprintf(subpath, sizeof subpath, "%s[%zu]", path, i);
		if (!json_is_object(item)) {
			rc = type_error(c, subpath, "a mapping", item);
			break;
		}
		if ((rc = kc_map(c, item, subpath, env_fields, sizeof env_fields / sizeof env_fields[0], &e)))
			break;
		rc = SO_E_CONFIG;
		if (!e.name || !e.name[0]) {
			so_fail(c->err, c->errlen, rc, "kubeconfig %s: %s.name: not set", c->label, subpath);
			break;
		}
		if (strchr(e.name, '=')) {
			so_fail(c->err, c->errlen, rc, "kubeconfig %s: %s.name: must not contain '='", c->label, subpath);
			break;
		}
		nl = strlen(e.name);
		vl = e.value ? strlen(e.value) : 0;
		v[i] = mem_alloc(nl + vl + 2);
		memcpy(v[i], e.name, nl);
		v[i][nl] = '=';
		memcpy(v[i] + nl + 1, e.value ? e.value : "", vl + 1);
		free(e.name);
		kube_secret_free(e.value);
		e.name = e.value = NULL;
		rc = SO_OK;
	}
	free(e.name);
	kube_secret_free(e.value);
	return rc;
}

static int kc_named_list(struct kc_ctx *c, const json_t *seq, const char *key, const struct kc_list *l,
			 void **arr, size_t *count);

static int kc_value(struct kc_ctx *c, const json_t *v, const char *path, const struct kc_field *f, void *obj)
{
	char *slot = (char *)obj + f->off;

	if (json_is_null(v))
		return SO_OK;
	switch (f->kind) {
	case KC_STR:
		if (json_is_string(v) && json_string_length(v) == 0)
			return SO_OK;
		return copy_str(c, v, path, (char **)(void *)slot);
	case KC_BOOL:
		if (!json_is_boolean(v))
			return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: expected true or false",
				    c->label, path);
		*(int *)(void *)slot = json_is_true(v);
		return SO_OK;
	case KC_STRLIST:
	case KC_ENVLIST: {
		char ***dst = (char ***)(void *)slot;
		if (!json_is_array(v))
			return type_error(c, path, "a list", v);
		return f->kind == KC_STRLIST ? kc_strlist(c, v, path, dst) : kc_envlist(c, v, path, dst);
	}
	case KC_EXEC: {
		struct kc_exec **dst = (struct kc_exec **)(void *)slot;
		if (!json_is_object(v))
			return type_error(c, path, "a mapping", v);
		*dst = mem_calloc(1, sizeof **dst);
		return kc_map(c, v, path, exec_fields, sizeof exec_fields / sizeof exec_fields[0], *dst);
	}
	case KC_LIST: {
		const struct kc_list *l = f->aux;
		size_t *count = (size_t *)(void *)((char *)obj + l->count_off);
		if (!json_is_array(v))
			return type_error(c, path, "a list", v);
		return kc_named_list(c, v, path, l, (void **)(void *)slot, count);
	}
	case KC_UNSUPPORTED: {
		const char **dst = (const char **)(void *)slot;
		if (!*dst)
			*dst = f->key;
		return SO_OK;
	}
	}
	return SO_OK;
}

/* Walks a mapping in document order and stores the known keys; unknown keys are ignored (kubectl ignores them
 * too). The loader has already refused a key given twice. */
static int kc_map(struct kc_ctx *c, const json_t *map, const char *path, const struct kc_field *fields,
		  size_t nfields, void *obj)
{
	char subpath[KC_PATH];
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach((json_t *)map, k, v) {
		for (size_t i = 0; i < nfields; i++) {
			if (strcmp(k, fields[i].key) != 0)
				continue;
			subkey(subpath, sizeof subpath, path, fields[i].key);
			if ((rc = kc_value(c, v, subpath, &fields[i], obj)))
				return rc;
			break;
		}
	}
	return SO_OK;
}

/* clusters / users / contexts: a list of {name, <inner>: {...}}. */
static int kc_named_list(struct kc_ctx *c, const json_t *seq, const char *key, const struct kc_list *l,
			 void **arr, size_t *count)
{
	char path[KC_PATH], subpath[KC_PATH];
	size_t n = json_array_size(seq);
	char *a = mem_calloc(n ? n : 1, l->size);
	int rc;

	*arr = a;
	*count = n;
	for (size_t i = 0; i < n; i++) {
		struct kc_entry *e = (struct kc_entry *)(void *)(a + i * l->size);
		json_t *item = json_array_get(seq, i), *v;
		const char *k;

		e->index = i;
		snprintf(path, sizeof path, "%s[%zu]", key, i);
		if (!json_is_object(item))
			return type_error(c, path, "a mapping", item);
		json_object_foreach(item, k, v) {
			int is_name = !strcmp(k, "name");
			if ((!is_name && strcmp(k, l->inner)) || json_is_null(v))
				continue;
			subkey(subpath, sizeof subpath, path, k);
			if (is_name)
				rc = json_is_string(v) && !json_string_length(v) ? SO_OK : copy_str(c, v, subpath, &e->name);
			else
				rc = json_is_object(v) ? kc_map(c, v, subpath, l->fields, l->nfields, e)
						       : type_error(c, subpath, "a mapping", v);
			if (rc)
				return rc;
		}
		if (!e->name)
			return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s.name: not set", c->label, path);
	}
	return SO_OK;
}

static const struct kc_field cluster_fields[] = {
	{ "server", KC_STR, offsetof(struct kc_cluster, server), NULL },
	{ "certificate-authority", KC_STR, offsetof(struct kc_cluster, ca_file), NULL },
	{ "certificate-authority-data", KC_STR, offsetof(struct kc_cluster, ca_data), NULL },
	{ "insecure-skip-tls-verify", KC_BOOL, offsetof(struct kc_cluster, insecure), NULL },
	{ "tls-server-name", KC_STR, offsetof(struct kc_cluster, tls_server_name), NULL },
	{ "proxy-url", KC_UNSUPPORTED, offsetof(struct kc_cluster, unsupported), NULL },
};

static const struct kc_field user_fields[] = {
	{ "client-certificate", KC_STR, offsetof(struct kc_user, cert_file), NULL },
	{ "client-certificate-data", KC_STR, offsetof(struct kc_user, cert_data), NULL },
	{ "client-key", KC_STR, offsetof(struct kc_user, key_file), NULL },
	{ "client-key-data", KC_STR, offsetof(struct kc_user, key_data), NULL },
	{ "token", KC_STR, offsetof(struct kc_user, token), NULL },
	{ "tokenFile", KC_STR, offsetof(struct kc_user, token_file), NULL },
	{ "exec", KC_EXEC, offsetof(struct kc_user, exec), NULL },
	{ "auth-provider", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
	{ "username", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
	{ "password", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
	{ "as", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
	{ "as-uid", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
	{ "as-groups", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
	{ "as-user-extra", KC_UNSUPPORTED, offsetof(struct kc_user, unsupported), NULL },
};

static const struct kc_field context_fields[] = {
	{ "cluster", KC_STR, offsetof(struct kc_context, cluster), NULL },
	{ "user", KC_STR, offsetof(struct kc_context, user), NULL },
	{ "namespace", KC_STR, offsetof(struct kc_context, namespace), NULL },
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const struct kc_list clusters_list = { "cluster", cluster_fields, NFIELDS(cluster_fields),
					      sizeof(struct kc_cluster), offsetof(struct kube_kubeconfig, nclusters) };
static const struct kc_list users_list = { "user", user_fields, NFIELDS(user_fields), sizeof(struct kc_user),
					   offsetof(struct kube_kubeconfig, nusers) };
static const struct kc_list contexts_list = { "context", context_fields, NFIELDS(context_fields),
					      sizeof(struct kc_context), offsetof(struct kube_kubeconfig, ncontexts) };

static const struct kc_field top_fields[] = {
	{ "current-context", KC_STR, offsetof(struct kube_kubeconfig, current_context), NULL },
	{ "clusters", KC_LIST, offsetof(struct kube_kubeconfig, clusters), &clusters_list },
	{ "users", KC_LIST, offsetof(struct kube_kubeconfig, users), &users_list },
	{ "contexts", KC_LIST, offsetof(struct kube_kubeconfig, contexts), &contexts_list },
	{ "apiVersion", KC_STR, offsetof(struct kube_kubeconfig, api_version), NULL },
	{ "kind", KC_STR, offsetof(struct kube_kubeconfig, kind), NULL },
};

static int kc_convert(struct kc_ctx *c, const json_t *root, struct kube_kubeconfig *f)
{
	int rc;

	if (!root)
		return SO_OK; /* empty, or only null documents */
	if (!json_is_object(root))
		return type_error(c, "top level", "a mapping", root);
	rc = kc_map(c, root, "", top_fields, NFIELDS(top_fields), f);
	if (rc)
		return rc;
	if (f->kind && strcmp(f->kind, "Config") != 0)
		return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: kind: expected Config", c->label);
	if (f->api_version && strcmp(f->api_version, "v1") != 0)
		return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: apiVersion: expected v1", c->label);
	return SO_OK;
}

/* The loader's message, "label:line:column: problem", under this file's prefix: its limits are complexity
 * (SO_E_TOO_LARGE), anything else it refuses is a malformed file. */
static int kc_yaml_error(const char *label, int rc, const char *msg, char *err, size_t errlen)
{
	if (!strncmp(msg, label, strlen(label)))
		msg += strlen(label);
	msg += strspn(msg, ": ");
	if (rc == SO_E_TOO_LARGE)
		return so_fail(err, errlen, rc, "kubeconfig %s: document too complex: %s", label, msg);
	return so_fail(err, errlen, rc == SO_E_INVAL ? SO_E_CONFIG : rc, "kubeconfig %s: invalid YAML: %s", label, msg);
}

static void kc_entry_free(struct kc_entry *e)
{
	free(e->name);
}

void kube_kubeconfig_free(struct kube_kubeconfig *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nclusters; i++) {
		struct kc_cluster *k = &f->clusters[i];
		kc_entry_free(&k->e);
		free(k->server);
		free(k->ca_file);
		free(k->ca_data);
		free(k->tls_server_name);
	}
	for (size_t i = 0; i < f->nusers; i++) {
		struct kc_user *u = &f->users[i];
		kc_entry_free(&u->e);
		free(u->cert_file);
		free(u->cert_data);
		free(u->key_file);
		kube_secret_free(u->key_data);
		kube_secret_free(u->token);
		free(u->token_file);
		kc_exec_free(u->exec);
	}
	for (size_t i = 0; i < f->ncontexts; i++) {
		struct kc_context *x = &f->contexts[i];
		kc_entry_free(&x->e);
		free(x->cluster);
		free(x->user);
		free(x->namespace);
	}
	free(f->clusters);
	free(f->users);
	free(f->contexts);
	free(f->current_context);
	free(f->api_version);
	free(f->kind);
	free(f->label);
	free(f->dir);
	free(f);
}

int kube_kubeconfig_empty(const struct kube_kubeconfig *f)
{
	return !f->nclusters && !f->nusers && !f->ncontexts && !f->current_context;
}

int kube_kubeconfig_parse(const char *yaml, size_t len, const char *label, const char *base_dir,
			  struct kube_kubeconfig **out, char *err, size_t errlen)
{
	struct kube_kubeconfig *f;
	struct kc_ctx c;
	json_t *docs = NULL;
	char msg[256];
	int rc;

	*out = NULL;
	if (!label)
		label = "<input>";
	if (!yaml)
		len = 0;
	if (len > KUBE_CONFIG_MAX_FILE)
		return so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig %s: larger than %u MiB", label,
			    KUBE_CONFIG_MAX_FILE >> 20);
	rc = yamljson_to_json(yaml, len, label, &docs, msg, sizeof msg);
	if (rc)
		return kc_yaml_error(label, rc, msg, err, errlen);
	if (json_array_size(docs) > 1) {
		json_decref(docs);
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: more than one YAML document", label);
	}
	f = mem_calloc(1, sizeof *f);
	f->label = mem_strdup(label);
	if (base_dir && base_dir[0])
		f->dir = mem_strdup(base_dir);
	c.label = label;
	c.err = err;
	c.errlen = errlen;
	rc = kc_convert(&c, json_array_get(docs, 0), f);
	json_decref(docs);
	if (rc) {
		kube_kubeconfig_free(f);
		return rc;
	}
	*out = f;
	return SO_OK;
}

/* ---- resolving: context → cluster + user → struct kube_config ---- */

enum kc_which { KC_CLUSTERS, KC_USERS, KC_CONTEXTS };

static const char *which_name[] = { "clusters", "users", "contexts" };

static void entries(const struct kube_kubeconfig *f, enum kc_which w, const char **arr, size_t *n, size_t *size)
{
	switch (w) {
	case KC_CLUSTERS:
		*arr = (const char *)f->clusters;
		*n = f->nclusters;
		*size = sizeof *f->clusters;
		break;
	case KC_USERS:
		*arr = (const char *)f->users;
		*n = f->nusers;
		*size = sizeof *f->users;
		break;
	default:
		*arr = (const char *)f->contexts;
		*n = f->ncontexts;
		*size = sizeof *f->contexts;
		break;
	}
}

/* Finds the entry called name: the first file that defines it wins; two entries with that name in one file is
 * an error. *found stays NULL when no file has it. */
static int find_entry(struct kube_kubeconfig *const *files, size_t nfiles, enum kc_which w, const char *name,
		      const struct kc_entry **found, const struct kube_kubeconfig **file, char *err, size_t errlen)
{
	char q[KC_NAME];

	*found = NULL;
	*file = NULL;
	for (size_t fi = 0; fi < nfiles; fi++) {
		const char *arr;
		size_t n, size;

		entries(files[fi], w, &arr, &n, &size);
		for (size_t i = 0; i < n; i++) {
			const struct kc_entry *e = (const struct kc_entry *)(const void *)(arr + i * size);
			if (strcmp(e->name, name) != 0)
				continue;
			if (*found)
				return so_fail(err, errlen, SO_E_CONFIG,
					    "kubeconfig %s: %s[%zu].name: duplicate name \"%s\" (also %s[%zu])",
					    files[fi]->label, which_name[w], i, kube_sanitize(q, sizeof q, name),
					    which_name[w], (*found)->index);
			*found = e;
			*file = files[fi];
		}
		if (*found)
			return SO_OK;
	}
	return SO_OK;
}

static int has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* server: http(s)://authority[/path], no credentials, query or fragment; trailing slashes dropped. */
static int check_server(const char *server, char **out, const char *label, const char *path, char *err,
			size_t errlen)
{
	const char *auth;
	size_t alen, len;

	*out = NULL;
	if (has_prefix_ci(server, "https://"))
		auth = server + 8;
	else if (has_prefix_ci(server, "http://"))
		auth = server + 7;
	else
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s: must start with https:// or http://", label,
			    path);
	for (const char *s = server; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#')
			return so_fail(err, errlen, SO_E_CONFIG,
				    "kubeconfig %s: %s: not a valid URL (spaces, non-ASCII, query or fragment)", label,
				    path);
	}
	alen = strcspn(auth, "/");
	if (alen == 0)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s: no host", label, path);
	if (memchr(auth, '@', alen))
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s: credentials in the URL are not supported",
			    label, path);
	len = strlen(server);
	while (len > (size_t)(auth - server) + alen && server[len - 1] == '/')
		len--;
	*out = mem_strndup(server, len);
	return SO_OK;
}

static int has_pem(const struct kube_pem *p)
{
	static const char marker[] = "-----BEGIN ";
	size_t ml = sizeof marker - 1;

	for (size_t i = 0; i + ml <= p->len; i++)
		if (memcmp(p->data + i, marker, ml) == 0)
			return 1;
	return 0;
}

/* One PEM value from a file reference or inline base64, whichever is set (both is an error, as in kubectl). */
static int load_pem(const struct kube_kubeconfig *f, const char *path, const char *file_key, const char *file,
		    const char *data_key, const char *data, struct kube_pem *out, char *err, size_t errlen)
{
	char *full = NULL;
	struct buf b = BUF_INIT(KUBE_CONFIG_MAX_FILE);
	int rc, e = 0;

	out->data = NULL;
	out->len = 0;
	if (file && data)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s: both %s and %s are set", f->label, path,
			    file_key, data_key);
	if (data) {
		unsigned char *bytes;
		rc = base64_decode(data, strlen(data), B64_SKIP_SPACE | B64_SECRET, &bytes, &out->len);
		out->data = (char *)bytes;
		if (rc)
			return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: invalid base64", f->label, path,
				    data_key);
		if (!has_pem(out)) {
			kube_pem_free(out);
			return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: not PEM data", f->label, path,
				    data_key);
		}
		return SO_OK;
	}
	if (!file)
		return SO_OK;
	full = kube_path_join(f->dir, file);
	rc = kube_file_read(full, KUBE_CONFIG_MAX_FILE, &b, &e);
	if (rc == SO_E_IO)
		rc = so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: %s: %s", f->label, path, file_key, full,
			  kube_file_strerror(e));
	else if (rc == SO_E_TOO_LARGE)
		rc = so_fail(err, errlen, rc, "kubeconfig %s: %s.%s: %s: larger than %u MiB", f->label, path, file_key,
			  full, KUBE_CONFIG_MAX_FILE >> 20);
	if (rc)
		goto out;
	out->len = b.len;
	out->data = buf_steal(&b);
	if (!has_pem(out)) {
		kube_pem_free(out);
		rc = so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: %s: not PEM data", f->label, path,
			  file_key, full);
		goto out;
	}
	rc = SO_OK;
out:
	free(full);
	buf_free(&b);
	return rc;
}

static int resolve_exec(const struct kube_kubeconfig *f, const char *path, const struct kc_exec *x,
			struct kube_exec_config **out, char *err, size_t errlen)
{
	struct kube_exec_config *e = NULL;
	const char *api = x->cfg.api_version;
	const char *mode = x->interactive_mode;

	*out = NULL;
	if (!x->cfg.command)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.command: not set", f->label, path);
	if (!api)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.apiVersion: not set", f->label, path);
	if (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
	    strcmp(api, "client.authentication.k8s.io/v1beta1") != 0)
		return so_fail(err, errlen, SO_E_CONFIG,
			    "kubeconfig %s: %s.apiVersion: not supported (use client.authentication.k8s.io/v1 or "
			    "v1beta1)",
			    f->label, path);
	if (mode && strcmp(mode, "Always") == 0)
		return so_fail(err, errlen, SO_E_CONFIG,
			    "kubeconfig %s: %s.interactiveMode: Always is not supported (the operator has no "
			    "terminal)",
			    f->label, path);
	if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0)
		return so_fail(err, errlen, SO_E_CONFIG,
			    "kubeconfig %s: %s.interactiveMode: expected Never, IfAvailable or Always", f->label, path);
	e = mem_calloc(1, sizeof *e);
	/* A bare name is looked up in PATH; anything with a slash is a path relative to the kubeconfig. */
	e->command = strchr(x->cfg.command, '/') ? kube_path_join(f->dir, x->cfg.command) : mem_strdup(x->cfg.command);
	e->args = strv_dup(x->cfg.args);
	e->env = strv_dup(x->cfg.env);
	e->api_version = mem_strdup(api);
	e->provide_cluster_info = x->cfg.provide_cluster_info;
	*out = e;
	return SO_OK;
}

static const char *unsupported_reason(const char *key)
{
	if (strcmp(key, "auth-provider") == 0)
		return "not supported (use an exec credential plugin or a token)";
	if (strcmp(key, "username") == 0 || strcmp(key, "password") == 0)
		return "basic authentication is not supported";
	if (strcmp(key, "proxy-url") == 0)
		return "not supported";
	return "impersonation is not supported";
}

static int resolve_cluster(const struct kube_kubeconfig *f, const struct kc_cluster *k, struct kube_config *out,
			   char *err, size_t errlen)
{
	char path[KC_PATH], fpath[KC_PATH];
	int rc;

	snprintf(path, sizeof path, "clusters[%zu].cluster", k->e.index);
	if (k->unsupported)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: %s", f->label, path, k->unsupported,
			    unsupported_reason(k->unsupported));
	subkey(fpath, sizeof fpath, path, "server");
	if (!k->server)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s: not set", f->label, fpath);
	rc = check_server(k->server, &out->server, f->label, fpath, err, errlen);
	if (rc)
		return rc;
	if (k->insecure && (k->ca_file || k->ca_data))
		return so_fail(err, errlen, SO_E_CONFIG,
			    "kubeconfig %s: %s: insecure-skip-tls-verify cannot be combined with "
			    "certificate-authority(-data)",
			    f->label, path);
	rc = load_pem(f, path, "certificate-authority", k->ca_file, "certificate-authority-data", k->ca_data,
		      &out->ca, err, errlen);
	if (rc)
		return rc;
	out->insecure_skip_tls_verify = k->insecure;
	if (k->tls_server_name) {
		if (kube_has_ctl(k->tls_server_name) || strchr(k->tls_server_name, ' ') ||
		    strchr(k->tls_server_name, ':') || strchr(k->tls_server_name, '/'))
			return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.tls-server-name: not a host name",
				    f->label, path);
		out->tls_server_name = mem_strdup(k->tls_server_name);
	}
	return SO_OK;
}

static int resolve_user(const struct kube_kubeconfig *f, const struct kc_user *u, struct kube_config *out,
			char *err, size_t errlen)
{
	char path[KC_PATH], fpath[KC_PATH];
	int methods;
	int rc;

	snprintf(path, sizeof path, "users[%zu].user", u->e.index);
	if (u->unsupported)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: %s", f->label, path, u->unsupported,
			    unsupported_reason(u->unsupported));
	methods = !!u->token + !!u->token_file + !!u->exec;
	if (methods > 1)
		return so_fail(err, errlen, SO_E_CONFIG,
			    "kubeconfig %s: %s: token, tokenFile and exec are mutually exclusive", f->label, path);
	rc = load_pem(f, path, "client-certificate", u->cert_file, "client-certificate-data", u->cert_data,
		      &out->client_cert, err, errlen);
	if (rc)
		return rc;
	rc = load_pem(f, path, "client-key", u->key_file, "client-key-data", u->key_data, &out->client_key, err,
		      errlen);
	if (rc)
		return rc;
	if (!out->client_cert.data != !out->client_key.data)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s: %s is set without %s", f->label, path,
			    out->client_cert.data ? "client-certificate" : "client-key",
			    out->client_cert.data ? "client-key" : "client-certificate");
	if (u->token) {
		if (kube_has_ctl(u->token))
			return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.token: contains control characters",
				    f->label, path);
		out->token = mem_strdup(u->token);
	}
	if (u->token_file) {
		char *tok = NULL, msg[512];

		out->token_file = kube_path_join(f->dir, u->token_file);
		/* Read once now so a wrong path fails at start-up; kube_auth re-reads it as it rotates. */
		rc = kube_token_file_read(out->token_file, &tok, msg, sizeof msg);
		kube_secret_free(tok);
		if (rc)
			return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.tokenFile: %s",
				    f->label, path, msg);
	}
	if (u->exec) {
		subkey(fpath, sizeof fpath, path, "exec");
		rc = resolve_exec(f, fpath, u->exec, &out->exec, err, errlen);
		if (rc)
			return rc;
	}
	return SO_OK;
}

static char *join_labels(struct kube_kubeconfig *const *files, size_t n)
{
	struct buf b = BUF_INIT(1u << 20);

	for (size_t i = 0; i < n; i++)
		if ((i && buf_append(&b, ":", 1)) || buf_appends(&b, files[i]->label)) {
			buf_free(&b);
			return NULL;
		}
	return buf_steal(&b);
}

int kube_kubeconfig_resolve(struct kube_kubeconfig *const *files, size_t n, const char *label, const char *context,
			    struct kube_config *out, char *err, size_t errlen)
{
	const struct kc_entry *e;
	const struct kube_kubeconfig *cf = NULL, *kf = NULL, *uf = NULL;
	const struct kc_context *ctx;
	const struct kc_cluster *cl;
	const struct kc_user *us = NULL;
	const char *name = context;
	char q1[KC_NAME], q2[KC_NAME];
	size_t ncl = 0, any = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (!label)
		label = n == 1 ? files[0]->label : "<merged>";
	for (size_t i = 0; i < n; i++) {
		any += !kube_kubeconfig_empty(files[i]);
		ncl += files[i]->nclusters;
		if (!name && files[i]->current_context)
			name = files[i]->current_context;
	}
	if (!any)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: empty (no clusters, users or contexts)", label);
	if (!name || !name[0])
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: current-context is not set and no --context given",
			    label);
	rc = find_entry(files, n, KC_CONTEXTS, name, &e, &cf, err, errlen);
	if (rc)
		return rc;
	if (!e)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s \"%s\" not found in contexts", label,
			    context ? "context" : "current-context", kube_sanitize(q1, sizeof q1, name));
	ctx = (const struct kc_context *)(const void *)e;
	kube_sanitize(q1, sizeof q1, name);
	if (!ctx->cluster)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: contexts[%zu].context.cluster: not set (context "
			    "\"%s\")", cf->label, ctx->e.index, q1);
	if (!ncl)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: clusters: not set (context \"%s\" needs cluster "
			    "\"%s\")", label, q1, kube_sanitize(q2, sizeof q2, ctx->cluster));
	rc = find_entry(files, n, KC_CLUSTERS, ctx->cluster, &e, &kf, err, errlen);
	if (rc)
		return rc;
	if (!e)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: context \"%s\": cluster \"%s\" not found",
			    cf->label, q1, kube_sanitize(q2, sizeof q2, ctx->cluster));
	cl = (const struct kc_cluster *)(const void *)e;
	if (ctx->user) {
		rc = find_entry(files, n, KC_USERS, ctx->user, &e, &uf, err, errlen);
		if (rc)
			return rc;
		if (!e)
			return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: context \"%s\": user \"%s\" not found",
				    cf->label, q1, kube_sanitize(q2, sizeof q2, ctx->user));
		us = (const struct kc_user *)(const void *)e;
	}
	if (ctx->namespace && !kube_dns1123_label(ctx->namespace, strlen(ctx->namespace))) {
		rc = so_fail(err, errlen, SO_E_CONFIG,
			  "kubeconfig %s: contexts[%zu].context.namespace: not a valid namespace name", cf->label,
			  ctx->e.index);
		goto bad;
	}
	rc = resolve_cluster(kf, cl, out, err, errlen);
	if (rc)
		goto bad;
	if (us) {
		rc = resolve_user(uf, us, out, err, errlen);
		if (rc)
			goto bad;
	}
	out->namespace = mem_strdup(ctx->namespace ? ctx->namespace : "default");
	out->context = mem_strdup(name);
	out->source = n == 1 ? mem_strdup(files[0]->label) : join_labels(files, n);
	if (!out->source) {
		rc = so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig %s: the file names add up to more than 1 MiB",
			     label);
		goto bad;
	}
	return SO_OK;
bad:
	kube_config_free(out);
	return rc;
}

int kube_config_parse_kubeconfig(const char *yaml, size_t len, const char *name, const char *base_dir,
				 const char *context, struct kube_config *out, char *err, size_t errlen)
{
	struct kube_kubeconfig *f = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (err && errlen)
		err[0] = '\0';
	rc = kube_kubeconfig_parse(yaml, len, name, base_dir, &f, err, errlen);
	if (rc)
		return rc;
	rc = kube_kubeconfig_resolve(&f, 1, NULL, context, out, err, errlen);
	kube_kubeconfig_free(f);
	return rc;
}

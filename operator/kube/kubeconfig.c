/*
 * kubeconfig parsing with libyaml's document API.
 *
 * Input is untrusted in the sense that it must never crash or hang the daemon, so the parse is bounded at every
 * step:
 *   - the text is capped at KUBE_CONFIG_MAX_FILE;
 *   - an event pre-pass (yaml_parser_parse) refuses more than one document, nesting deeper than KC_MAX_DEPTH and
 *     more than KC_MAX_ANCHORS anchors or KC_MAX_ALIASES aliases before the tree is built (libyaml's anchor
 *     lookup is quadratic and an alias can point at its own ancestor);
 *   - the converter walks only the fixed shape of a kubeconfig (never a generic recursion, so alias cycles cannot
 *     loop) and charges every node visit and every copied scalar byte to a budget, so alias fan-out ("billion
 *     laughs") ends in an error rather than in gigabytes of copies.
 * Messages name the file and the field path ("users[0].user.client-key-data") and never include a value other
 * than entry names, which are sanitized.
 */
#include "operator/kube/kubeconfig.h"

#include <errno.h>
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

#define KC_MAX_DEPTH 64
#define KC_MAX_ANCHORS 1024
#define KC_MAX_ALIASES 16384
#define KC_MAX_VISITS (4u << 20)                  /* node visits while converting one file */
#define KC_MAX_COPY ((size_t)KUBE_CONFIG_MAX_FILE * 4) /* scalar bytes copied out of one file */
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

/* ---- messages ---- */

/* ---- converting the YAML tree ---- */

struct kc_ctx {
	yaml_document_t *doc;
	const char *label;
	char *err;
	size_t errlen;
	size_t visits;
	size_t copied;
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

static int too_complex(struct kc_ctx *c)
{
	return so_fail(c->err, c->errlen, SO_E_TOO_LARGE,
		    "kubeconfig %s: document too complex (too many aliases or nodes)", c->label);
}

static int visit(struct kc_ctx *c, int id, yaml_node_t **out)
{
	if (++c->visits > KC_MAX_VISITS)
		return too_complex(c);
	*out = yaml_document_get_node(c->doc, id);
	if (!*out)
		return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: malformed YAML document", c->label);
	return SO_OK;
}

static int scalar_is(const yaml_node_t *n, const char *s)
{
	size_t l = strlen(s);
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == l && memcmp(n->data.scalar.value, s, l) == 0;
}

static int is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return n->data.scalar.length == 0 || scalar_is(n, "~") || scalar_is(n, "null") || scalar_is(n, "Null") ||
	       scalar_is(n, "NULL");
}

/* libyaml does not apply YAML 1.1 merge keys; ignoring one would silently drop fields, so it is refused. */
static int is_merge_key(const yaml_node_t *k)
{
	return k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && scalar_is(k, "<<");
}

static int merge_key_error(struct kc_ctx *c, const char *path)
{
	return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: YAML merge keys (<<) are not supported",
		    c->label, path);
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a scalar";
	}
}

static int type_error(struct kc_ctx *c, const char *path, const char *want, const yaml_node_t *got)
{
	return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: expected %s, found %s", c->label, path, want,
		    node_kind(got));
}

/* Copies a scalar's text; refuses embedded NULs (a "\0" escape) since every consumer is a C string. */
static int copy_scalar(struct kc_ctx *c, const yaml_node_t *n, const char *path, char **dst)
{
	size_t len = n->data.scalar.length;
	char *p;

	if (memchr(n->data.scalar.value, 0, len))
		return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: contains a NUL byte", c->label, path);
	if (len > KC_MAX_COPY - c->copied)
		return too_complex(c);
	c->copied += len;
	p = malloc(len + 1);
	if (!p)
		return so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
	memcpy(p, n->data.scalar.value, len);
	p[len] = '\0';
	*dst = p;
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

static int kc_map(struct kc_ctx *c, const yaml_node_t *map, const char *path, const struct kc_field *fields,
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
static int kc_strlist(struct kc_ctx *c, const yaml_node_t *seq, const char *path, char ***dst)
{
	char subpath[KC_PATH];
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	char **v = calloc(n + 1, sizeof *v);
	int rc;

	if (!v)
		return so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
	*dst = v;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item;
		snprintf(subpath, sizeof subpath, "%s[%zu]", path, i);
		rc = visit(c, seq->data.sequence.items.start[i], &item);
		if (rc)
			return rc;
		if (is_null(item)) {
			v[i] = strdup("");
			if (!v[i])
				return so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
			continue;
		}
		if (item->type != YAML_SCALAR_NODE)
			return type_error(c, subpath, "a string", item);
		rc = copy_scalar(c, item, subpath, &v[i]);
		if (rc)
			return rc;
	}
	return SO_OK;
}

/* env: [{name, value}] → "NAME=value". */
static int kc_envlist(struct kc_ctx *c, const yaml_node_t *seq, const char *path, char ***dst)
{
	char subpath[KC_PATH];
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	char **v = calloc(n + 1, sizeof *v);
	struct kc_env e = { NULL, NULL };
	int rc = SO_OK;

	if (!v)
		return so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
	*dst = v;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item;
		size_t nl, vl;

		snprintf(subpath, sizeof subpath, "%s[%zu]", path, i);
		rc = visit(c, seq->data.sequence.items.start[i], &item);
		if (rc)
			goto out;
		if (item->type != YAML_MAPPING_NODE) {
			rc = type_error(c, subpath, "a mapping", item);
			goto out;
		}
		rc = kc_map(c, item, subpath, env_fields, sizeof env_fields / sizeof env_fields[0], &e);
		if (rc)
			goto out;
		rc = SO_E_CONFIG;
		if (!e.name || !e.name[0]) {
			so_fail(c->err, c->errlen, rc, "kubeconfig %s: %s.name: not set", c->label, subpath);
			goto out;
		}
		if (strchr(e.name, '=')) {
			so_fail(c->err, c->errlen, rc, "kubeconfig %s: %s.name: must not contain '='", c->label, subpath);
			goto out;
		}
		nl = strlen(e.name);
		vl = e.value ? strlen(e.value) : 0;
		v[i] = malloc(nl + 1 + vl + 1);
		if (!v[i]) {
			rc = so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
			goto out;
		}
		memcpy(v[i], e.name, nl);
		v[i][nl] = '=';
		if (vl)
			memcpy(v[i] + nl + 1, e.value, vl);
		v[i][nl + 1 + vl] = '\0';
		free(e.name);
		kube_secret_free(e.value);
		e.name = e.value = NULL;
		rc = SO_OK;
	}
out:
	free(e.name);
	kube_secret_free(e.value);
	return rc;
}

static int kc_named_list(struct kc_ctx *c, const yaml_node_t *seq, const char *key, const struct kc_list *l,
			 void **arr, size_t *count);

static int kc_value(struct kc_ctx *c, const yaml_node_t *v, const char *path, const struct kc_field *f, void *obj)
{
	char *slot = (char *)obj + f->off;

	switch (f->kind) {
	case KC_STR: {
		char **dst = (char **)(void *)slot;
		if (is_null(v))
			return SO_OK;
		if (v->type != YAML_SCALAR_NODE)
			return type_error(c, path, "a string", v);
		if (v->data.scalar.length == 0)
			return SO_OK;
		return copy_scalar(c, v, path, dst);
	}
	case KC_BOOL: {
		int *dst = (int *)(void *)slot;
		if (is_null(v))
			return SO_OK;
		if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			if (scalar_is(v, "true") || scalar_is(v, "True") || scalar_is(v, "TRUE")) {
				*dst = 1;
				return SO_OK;
			}
			if (scalar_is(v, "false") || scalar_is(v, "False") || scalar_is(v, "FALSE")) {
				*dst = 0;
				return SO_OK;
			}
		}
		return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: expected true or false", c->label,
			    path);
	}
	case KC_STRLIST:
	case KC_ENVLIST: {
		char ***dst = (char ***)(void *)slot;
		if (is_null(v))
			return SO_OK;
		if (v->type != YAML_SEQUENCE_NODE)
			return type_error(c, path, "a list", v);
		return f->kind == KC_STRLIST ? kc_strlist(c, v, path, dst) : kc_envlist(c, v, path, dst);
	}
	case KC_EXEC: {
		struct kc_exec **dst = (struct kc_exec **)(void *)slot;
		if (is_null(v))
			return SO_OK;
		if (v->type != YAML_MAPPING_NODE)
			return type_error(c, path, "a mapping", v);
		*dst = calloc(1, sizeof **dst);
		if (!*dst)
			return so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
		return kc_map(c, v, path, exec_fields, sizeof exec_fields / sizeof exec_fields[0], *dst);
	}
	case KC_LIST: {
		const struct kc_list *l = f->aux;
		void **arr = (void **)(void *)slot;
		size_t *count = (size_t *)(void *)((char *)obj + l->count_off);
		if (is_null(v))
			return SO_OK;
		if (v->type != YAML_SEQUENCE_NODE)
			return type_error(c, path, "a list", v);
		return kc_named_list(c, v, path, l, arr, count);
	}
	case KC_UNSUPPORTED: {
		const char **dst = (const char **)(void *)slot;
		if (!is_null(v) && !*dst)
			*dst = f->key;
		return SO_OK;
	}
	}
	return SO_OK;
}

/* Walks a mapping and stores the known keys; unknown keys are ignored (kubectl ignores them too), a known key
 * given twice is an error. */
static int kc_map(struct kc_ctx *c, const yaml_node_t *map, const char *path, const struct kc_field *fields,
		  size_t nfields, void *obj)
{
	char subpath[KC_PATH];
	uint32_t seen = 0;
	int rc;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k, *v;
		size_t i;

		rc = visit(c, p->key, &k);
		if (rc)
			return rc;
		if (k->type != YAML_SCALAR_NODE)
			return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: mapping keys must be strings",
				    c->label, path[0] ? path : "top level");
		if (is_merge_key(k))
			return merge_key_error(c, path[0] ? path : "top level");
		for (i = 0; i < nfields; i++)
			if (scalar_is(k, fields[i].key))
				break;
		if (i == nfields)
			continue;
		subkey(subpath, sizeof subpath, path, fields[i].key);
		if (seen & (UINT32_C(1) << i))
			return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: duplicate key", c->label,
				    subpath);
		seen |= UINT32_C(1) << i;
		rc = visit(c, p->value, &v);
		if (rc)
			return rc;
		rc = kc_value(c, v, subpath, &fields[i], obj);
		if (rc)
			return rc;
	}
	return SO_OK;
}

/* clusters / users / contexts: a list of {name, <inner>: {...}}. */
static int kc_named_list(struct kc_ctx *c, const yaml_node_t *seq, const char *key, const struct kc_list *l,
			 void **arr, size_t *count)
{
	char path[KC_PATH], subpath[KC_PATH];
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	char *a;
	int rc;

	a = calloc(n ? n : 1, l->size);
	if (!a)
		return so_fail(c->err, c->errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", c->label);
	*arr = a;
	*count = n;
	for (size_t i = 0; i < n; i++) {
		struct kc_entry *e = (struct kc_entry *)(void *)(a + i * l->size);
		yaml_node_t *item;
		int seen_name = 0, seen_inner = 0;

		e->index = i;
		snprintf(path, sizeof path, "%s[%zu]", key, i);
		rc = visit(c, seq->data.sequence.items.start[i], &item);
		if (rc)
			return rc;
		if (item->type != YAML_MAPPING_NODE)
			return type_error(c, path, "a mapping", item);
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
			yaml_node_t *k, *v;

			rc = visit(c, p->key, &k);
			if (rc)
				return rc;
			if (k->type != YAML_SCALAR_NODE)
				return so_fail(c->err, c->errlen, SO_E_CONFIG,
					    "kubeconfig %s: %s: mapping keys must be strings", c->label, path);
			if (is_merge_key(k))
				return merge_key_error(c, path);
			if (scalar_is(k, "name")) {
				subkey(subpath, sizeof subpath, path, "name");
				if (seen_name++)
					return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: duplicate key",
						    c->label, subpath);
				rc = visit(c, p->value, &v);
				if (rc)
					return rc;
				if (is_null(v))
					continue;
				if (v->type != YAML_SCALAR_NODE)
					return type_error(c, subpath, "a string", v);
				if (v->data.scalar.length == 0)
					continue;
				rc = copy_scalar(c, v, subpath, &e->name);
				if (rc)
					return rc;
			} else if (scalar_is(k, l->inner)) {
				subkey(subpath, sizeof subpath, path, l->inner);
				if (seen_inner++)
					return so_fail(c->err, c->errlen, SO_E_CONFIG, "kubeconfig %s: %s: duplicate key",
						    c->label, subpath);
				rc = visit(c, p->value, &v);
				if (rc)
					return rc;
				if (is_null(v))
					continue;
				if (v->type != YAML_MAPPING_NODE)
					return type_error(c, subpath, "a mapping", v);
				rc = kc_map(c, v, subpath, l->fields, l->nfields, e);
				if (rc)
					return rc;
			}
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

static int kc_convert(struct kc_ctx *c, struct kube_kubeconfig *f)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	int rc;

	if (!root || is_null(root))
		return SO_OK;
	if (root->type != YAML_MAPPING_NODE)
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

/* ---- parsing ---- */

static int yaml_fail(const yaml_parser_t *p, const char *label, char *err, size_t errlen)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR)
		return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", label);
	if (p->error == YAML_READER_ERROR)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: invalid YAML: %s at byte %zu", label, problem,
			    p->problem_offset);
	return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: invalid YAML: %s at line %zu column %zu", label,
		    problem, p->problem_mark.line + 1, p->problem_mark.column + 1);
}

/* The event pre-pass: syntax, one document, bounded depth and anchors/aliases, before any tree is built. */
static int kc_prescan(const unsigned char *in, size_t len, const char *label, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t depth = 0, anchors = 0, aliases = 0, docs = 0;
	int rc = SO_OK, done = 0;

	if (!yaml_parser_initialize(&p))
		return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", label);
	yaml_parser_set_input_string(&p, in, len);
	while (!done) {
		const yaml_char_t *anchor = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_fail(&p, label, err, errlen);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = 1; break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = so_fail(err, errlen, SO_E_CONFIG,
					  "kubeconfig %s: more than one YAML document (line %zu)", label,
					  ev.start_mark.line + 1);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			anchor = ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
								      : ev.data.mapping_start.anchor;
			if (++depth > KC_MAX_DEPTH)
				rc = so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: nested deeper than %d (line %zu)",
					  label, KC_MAX_DEPTH, ev.start_mark.line + 1);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: depth--; break;
		case YAML_SCALAR_EVENT: anchor = ev.data.scalar.anchor; break;
		case YAML_ALIAS_EVENT:
			if (++aliases > KC_MAX_ALIASES)
				rc = so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig %s: more than %d aliases", label,
					  KC_MAX_ALIASES);
			break;
		default: break;
		}
		if (anchor && ++anchors > KC_MAX_ANCHORS)
			rc = so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig %s: more than %d anchors", label,
				  KC_MAX_ANCHORS);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
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
	struct kube_kubeconfig *f = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	int parser_ok = 0, have_doc = 0;
	int rc;
	struct kc_ctx c;
	const unsigned char *in = (const unsigned char *)(yaml ? yaml : "");

	*out = NULL;
	if (!label)
		label = "<input>";
	if (!yaml)
		len = 0;
	if (len > KUBE_CONFIG_MAX_FILE)
		return so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig %s: larger than %u MiB", label,
			    KUBE_CONFIG_MAX_FILE >> 20);
	rc = SO_E_NOMEM;
	f = calloc(1, sizeof *f);
	if (!f || !(f->label = strdup(label)))
		goto nomem;
	if (base_dir && base_dir[0] && !(f->dir = strdup(base_dir)))
		goto nomem;

	rc = kc_prescan(in, len, label, err, errlen);
	if (rc)
		goto out;
	if (!yaml_parser_initialize(&parser))
		goto nomem;
	parser_ok = 1;
	yaml_parser_set_input_string(&parser, in, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_fail(&parser, label, err, errlen);
		goto out;
	}
	have_doc = 1;
	c.doc = &doc;
	c.label = label;
	c.err = err;
	c.errlen = errlen;
	c.visits = 0;
	c.copied = 0;
	rc = kc_convert(&c, f);
	if (rc)
		goto out;
	*out = f;
	f = NULL;
	rc = SO_OK;
	goto out;
nomem:
	rc = so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", label);
out:
	if (have_doc)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	kube_kubeconfig_free(f);
	return rc;
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
	*out = strndup(server, len);
	if (!*out)
		return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", label);
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
		rc = b64_decode(data, strlen(data), B64_SKIP_SPACE | B64_SECRET, &bytes, &out->len);
		out->data = (char *)bytes;
		if (rc == SO_E_NOMEM)
			return so_fail(err, errlen, rc, "kubeconfig %s: out of memory", f->label);
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
	if (!full)
		return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", f->label);
	rc = kube_file_read(full, KUBE_CONFIG_MAX_FILE, &b, &e);
	if (rc == SO_E_IO)
		rc = so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s.%s: %s: %s", f->label, path, file_key, full,
			  kube_file_strerror(e));
	else if (rc == SO_E_TOO_LARGE)
		rc = so_fail(err, errlen, rc, "kubeconfig %s: %s.%s: %s: larger than %u MiB", f->label, path, file_key,
			  full, KUBE_CONFIG_MAX_FILE >> 20);
	else if (rc)
		rc = so_fail(err, errlen, rc, "kubeconfig %s: out of memory", f->label);
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
	e = calloc(1, sizeof *e);
	if (!e)
		goto nomem;
	/* A bare name is looked up in PATH; anything with a slash is a path relative to the kubeconfig. */
	e->command = strchr(x->cfg.command, '/') ? kube_path_join(f->dir, x->cfg.command) : strdup(x->cfg.command);
	e->args = strv_dup(x->cfg.args);
	e->env = strv_dup(x->cfg.env);
	e->api_version = strdup(api);
	e->provide_cluster_info = x->cfg.provide_cluster_info;
	if (!e->command || !e->args || !e->env || !e->api_version)
		goto nomem;
	*out = e;
	return SO_OK;
nomem:
	if (e) {
		free(e->command);
		strv_free(e->args);
		strv_free(e->env);
		free(e->api_version);
		free(e);
	}
	return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", f->label);
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
		out->tls_server_name = strdup(k->tls_server_name);
		if (!out->tls_server_name)
			return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", f->label);
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
		out->token = strdup(u->token);
		if (!out->token)
			return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", f->label);
	}
	if (u->token_file) {
		char *tok = NULL, msg[512];

		out->token_file = kube_path_join(f->dir, u->token_file);
		if (!out->token_file)
			return so_fail(err, errlen, SO_E_NOMEM, "kubeconfig %s: out of memory", f->label);
		/* Read once now so a wrong path fails at start-up; kube_auth re-reads it as it rotates. */
		rc = kube_token_file_read(out->token_file, &tok, msg, sizeof msg);
		kube_secret_free(tok);
		if (rc)
			return so_fail(err, errlen, rc == SO_E_NOMEM ? rc : SO_E_CONFIG, "kubeconfig %s: %s.tokenFile: %s",
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
	rc = SO_E_NOMEM;
	out->namespace = strdup(ctx->namespace ? ctx->namespace : "default");
	out->context = strdup(name);
	out->source = n == 1 ? strdup(files[0]->label) : join_labels(files, n);
	if (!out->namespace || !out->context || !out->source) {
		so_fail(err, errlen, rc, "kubeconfig %s: out of memory", label);
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

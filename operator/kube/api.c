#include "operator/kube/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/listparse.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define PATH_CAP 8192

const struct kube_resource KUBE_SPINAPPS = { "core.spinkube.dev", "v1alpha1", "SpinApp", "spinapps", 1 };
const struct kube_resource KUBE_SPINAPPEXECUTORS = { "core.spinkube.dev", "v1alpha1", "SpinAppExecutor",
						     "spinappexecutors", 1 };
const struct kube_resource KUBE_NAMESPACES = { "", "v1", "Namespace", "namespaces", 0 };
const struct kube_resource KUBE_CONFIGMAPS = { "", "v1", "ConfigMap", "configmaps", 1 };
const struct kube_resource KUBE_SECRETS = { "", "v1", "Secret", "secrets", 1 };
const struct kube_resource KUBE_SERVICES = { "", "v1", "Service", "services", 1 };
const struct kube_resource KUBE_DEPLOYMENTS = { "apps", "v1", "Deployment", "deployments", 1 };
const struct kube_resource KUBE_CRDS = { "apiextensions.k8s.io", "v1", "CustomResourceDefinition",
					 "customresourcedefinitions", 0 };
const struct kube_resource KUBE_REPLICASETS = { "apps", "v1", "ReplicaSet", "replicasets", 1 };
const struct kube_resource KUBE_HPAS = { "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", 1 };
const struct kube_resource KUBE_RUNTIMECLASSES = { "node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", 0 };
const struct kube_resource KUBE_HTTPROUTES = { "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", 1 };
const struct kube_resource KUBE_EVENTS = { "", "v1", "Event", "events", 1 };
const struct kube_resource KUBE_LEASES = { "coordination.k8s.io", "v1", "Lease", "leases", 1 };

int kube_api_version(struct buf *out, const struct kube_resource *r)
{
	return *r->group ? buf_appendf(out, "%s/%s", r->group, r->version) : buf_appends(out, r->version);
}

int kube_path(struct buf *out, const struct kube_resource *r, const char *ns, const char *name,
	      const char *subresource)
{
	int rc = *r->group ? buf_appendf(out, "/apis/%s/%s", r->group, r->version)
			   : buf_appendf(out, "/api/%s", r->version);
	if (!rc && r->namespaced && ns && *ns) {
		rc = buf_appends(out, "/namespaces/");
		if (!rc)
			rc = buf_append_urlenc(out, ns);
	}
	if (!rc)
		rc = buf_appendf(out, "/%s", r->plural);
	if (!rc && name) {
		if (!*name)
			return SO_E_INVAL;
		rc = buf_appends(out, "/");
		if (!rc)
			rc = buf_append_urlenc(out, name);
	}
	if (!rc && subresource)
		rc = buf_appendf(out, "/%s", subresource);
	return rc;
}

/* Appends "?k=v" or "&k=v" with v URL-encoded. */
static int add_query(struct buf *b, const char *key, const char *value)
{
	int rc = buf_appendf(b, "%c%s=", strchr(b->data ? b->data : "", '?') ? '&' : '?', key);
	return rc ? rc : buf_append_urlenc(b, value);
}

static const char *meta_string(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* The path of one list page: selectors, limit, and either the continue token or the resourceVersion. */
static int list_path(struct buf *path, const struct kube_resource *r, const char *ns, const struct kube_list_opts *o,
		     const char *cont)
{
	char limit[32];
	int rc;

	buf_reset(path);
	if ((rc = kube_path(path, r, ns, NULL, NULL)))
		return rc;
	if (o && o->label_selector && *o->label_selector && (rc = add_query(path, "labelSelector", o->label_selector)))
		return rc;
	if (o && o->field_selector && *o->field_selector && (rc = add_query(path, "fieldSelector", o->field_selector)))
		return rc;
	if (o && o->limit > 0) {
		snprintf(limit, sizeof limit, "%ld", o->limit);
		if ((rc = add_query(path, "limit", limit)))
			return rc;
	}
	/* The continue token pins the snapshot; resourceVersion may only go on the first page. */
	if (cont)
		return add_query(path, "continue", cont);
	if (o && o->resource_version)
		return add_query(path, "resourceVersion", o->resource_version);
	return SO_OK;
}

int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns, const struct kube_list_opts *o,
	      json_t **items, char **rv, struct kube_response *resp)
{
	int rc;
	struct buf path = BUF_INIT(PATH_CAP);
	json_t *all = json_array(), *page = NULL;
	char *cont = NULL;

	*items = NULL;
	if (rv)
		*rv = NULL;
	do {
		if ((rc = list_path(&path, r, ns, o, cont)))
			goto out;
		json_decref(page);
		page = NULL;
		if ((rc = kube_get_json(c, path.data, &page, resp)))
			goto out;
		json_t *page_items = json_object_get(page, "items");
		if (!json_is_array(page_items) && !json_is_null(page_items) && page_items) {
			rc = SO_E_BAD_RESPONSE;
			goto out;
		}
		if (json_is_array(page_items)) /* "items": null is an empty page */
			json_array_extend(all, page_items);
		const char *next = meta_string(page, "continue");
		free(cont);
		cont = next && *next ? mem_strdup(next) : NULL;
		if (!cont && rv) {
			const char *v = meta_string(page, "resourceVersion");
			*rv = mem_strdup(v ? v : "");
		}
	} while (cont);
	*items = all;
	all = NULL;
	rc = SO_OK;
out:
	json_decref(all);
	json_decref(page);
	free(cont);
	buf_free(&path);
	return rc;
}

static int on_list_data(void *ud, const char *data, size_t len)
{
	return kube_list_parser_feed(ud, data, len);
}

int kube_list_stream(struct kube_client *c, const struct kube_resource *r, const char *ns,
		     const struct kube_list_opts *o, size_t max_item, kube_list_item_fn on_item, void *ud,
		     const atomic_int *stop, char **rv, struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	struct kube_list_parser p;
	char *cont = NULL;
	int rc;

	*rv = NULL;
	kube_list_parser_init(&p, max_item, on_item, ud);
	do {
		if ((rc = list_path(&path, r, ns, o, cont)))
			goto out;
		kube_list_parser_free(&p);
		kube_list_parser_init(&p, max_item, on_item, ud);
		rc = kube_stream(c, path.data, kube_client_list_timeout_ms(c), on_list_data, &p, stop, resp);
		if (rc == SO_OK || p.failed)
			rc = kube_list_parser_finish(&p);
		if (rc) {
			if (p.failed && rc != SO_E_CANCELLED && resp) {
				free(resp->message);
				resp->message = mem_strdup(p.error);
			}
			goto out;
		}
		free(cont);
		cont = p.cont; /* taken from the parser */
		p.cont = NULL;
	} while (cont);
	*rv = p.resource_version ? p.resource_version : mem_strdup("");
	p.resource_version = NULL;
out:
	kube_list_parser_free(&p);
	free(cont);
	buf_free(&path);
	return rc;
}

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name, json_t **out,
	     struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	int rc = kube_path(&path, r, ns, name, NULL);
	if (!rc)
		rc = kube_get_json(c, path.data, out, resp);
	buf_free(&path);
	return rc;
}

int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
		json_t **out, struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	int rc = kube_path(&path, r, ns, NULL, NULL);
	if (!rc)
		rc = kube_send_json(c, "POST", path.data, "application/json", obj, out, resp);
	buf_free(&path);
	return rc;
}

static int put(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
	       const char *subresource, json_t **out, struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	const char *name = meta_string(obj, "name");
	int rc = name ? kube_path(&path, r, ns, name, subresource) : SO_E_INVAL;
	if (!rc)
		rc = kube_send_json(c, "PUT", path.data, "application/json", obj, out, resp);
	buf_free(&path);
	return rc;
}

int kube_update(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
		json_t **out, struct kube_response *resp)
{
	return put(c, r, ns, obj, NULL, out, resp);
}

int kube_update_status(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
		       json_t **out, struct kube_response *resp)
{
	return put(c, r, ns, obj, "status", out, resp);
}

int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		const struct kube_delete_opts *o, struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	json_t *body = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
	int rc = kube_path(&path, r, ns, name, NULL);

	if (rc)
		goto out;
	/* The options are the caller's strings: json_string refuses bytes that are not UTF-8. */
	rc = SO_E_INVAL;
	if (o && o->propagation && json_object_set_new(body, "propagationPolicy", json_string(o->propagation)))
		goto out;
	if (o && (o->precondition_uid || o->precondition_rv)) {
		json_t *pre = json_object();
		json_object_set_new(body, "preconditions", pre);
		if (o->precondition_uid && json_object_set_new(pre, "uid", json_string(o->precondition_uid)))
			goto out;
		if (o->precondition_rv && json_object_set_new(pre, "resourceVersion", json_string(o->precondition_rv)))
			goto out;
	}
	rc = kube_send_json(c, "DELETE", path.data, "application/json", body, NULL, resp);
out:
	json_decref(body);
	buf_free(&path);
	return rc;
}

int kube_merge_patch(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		     const char *subresource, const json_t *patch, json_t **out, struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	int rc = kube_path(&path, r, ns, name, subresource);
	if (!rc)
		rc = kube_send_json(c, "PATCH", path.data, "application/merge-patch+json", patch, out, resp);
	buf_free(&path);
	return rc;
}

int kube_apply(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
	       const char *subresource, const char *field_manager, int force, json_t **out,
	       struct kube_response *resp)
{
	struct buf path = BUF_INIT(PATH_CAP);
	const char *name = meta_string(obj, "name");
	int rc = name ? kube_path(&path, r, ns, name, subresource) : SO_E_INVAL;
	if (!rc)
		rc = add_query(&path, "fieldManager", field_manager);
	if (!rc && force)
		rc = buf_appends(&path, "&force=true");
	if (!rc)
		rc = kube_send_json(c, "PATCH", path.data, "application/apply-patch+yaml", obj, out, resp);
	buf_free(&path);
	return rc;
}

int kube_server_version(struct kube_client *c, char **git_version, struct kube_response *resp)
{
	json_t *v = NULL;
	int rc = kube_get_json(c, "/version", &v, resp);
	*git_version = NULL;
	if (rc == SO_OK) {
		const char *s = json_string_value(json_object_get(v, "gitVersion"));
		if (!s)
			rc = SO_E_BAD_RESPONSE;
		else
			*git_version = mem_strdup(s);
	}
	json_decref(v);
	return rc;
}

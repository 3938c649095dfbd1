/*
 * Typed operations on Kubernetes resources, over kube/client. Objects are jansson values; every function
 * returning an object gives the caller a new reference (json_decref it). resp may be NULL when the caller
 * does not need the server's message; errors are so_err values (SO_E_API_NOT_FOUND, ...).
 */
#ifndef SO_KUBE_API_H
#define SO_KUBE_API_H

#include <jansson.h>

#include "operator/kube/client.h"
#include "operator/kube/listparse.h"

struct kube_resource {
	const char *group;    /* "" for the core group */
	const char *version;
	const char *kind;
	const char *plural;
	int namespaced;
};

extern const struct kube_resource KUBE_SPINAPPS;
extern const struct kube_resource KUBE_SPINAPPEXECUTORS;
extern const struct kube_resource KUBE_NAMESPACES;
extern const struct kube_resource KUBE_CONFIGMAPS;
extern const struct kube_resource KUBE_SECRETS;
extern const struct kube_resource KUBE_SERVICES;
extern const struct kube_resource KUBE_DEPLOYMENTS;
extern const struct kube_resource KUBE_CRDS;
extern const struct kube_resource KUBE_REPLICASETS;
extern const struct kube_resource KUBE_HPAS;
extern const struct kube_resource KUBE_RUNTIMECLASSES;
extern const struct kube_resource KUBE_HTTPROUTES; /* the Gateway API's: served only where it is installed */
extern const struct kube_resource KUBE_EVENTS;
extern const struct kube_resource KUBE_LEASES;

/* Appends the resource path: /apis/<g>/<v>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]. ns NULL or "" means
 * all namespaces (collections) for namespaced resources. */
int kube_path(struct buf *out, const struct kube_resource *r, const char *ns, const char *name,
	      const char *subresource);

/* "group/version" or "version" for the core group, as in apiVersion. */
int kube_api_version(struct buf *out, const struct kube_resource *r);

struct kube_list_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version;  /* NULL: consistent read; "0": any (served from the watch cache) */
	long limit;                    /* page size; 0 means the server's choice */
};

/* Lists every page (following metadata.continue). *items receives a JSON array of all items and, when rv is
 * non-NULL, *rv the list's resourceVersion (malloc'd). */
int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns, const struct kube_list_opts *o,
	      json_t **items, char **rv, struct kube_response *resp);

/* Lists every page like kube_list, but decodes the items one at a time as they arrive (operator/kube/listparse.h) and
 * hands each to on_item (borrowed; incref to keep), so a large list never exists as one response or one JSON
 * tree. An item larger than max_item bytes fails the list. *rv receives the list's resourceVersion (malloc'd).
 * When *stop (may be NULL) becomes non-zero the list ends within about a second with SO_E_CANCELLED. */
int kube_list_stream(struct kube_client *c, const struct kube_resource *r, const char *ns,
		     const struct kube_list_opts *o, size_t max_item, kube_list_item_fn on_item, void *ud,
		     const atomic_int *stop, char **rv, struct kube_response *resp);

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name, json_t **out,
	     struct kube_response *resp);
int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
		json_t **out, struct kube_response *resp);
/* PUT of the whole object; carries metadata.resourceVersion, so a stale object gets SO_E_API_CONFLICT. */
int kube_update(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
		json_t **out, struct kube_response *resp);
/* PUT to the status subresource. */
int kube_update_status(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
		       json_t **out, struct kube_response *resp);

struct kube_delete_opts {
	const char *propagation;     /* "Foreground", "Background", "Orphan" or NULL */
	const char *precondition_uid;
	const char *precondition_rv;
};
int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		const struct kube_delete_opts *o, struct kube_response *resp);

/* RFC 7386 JSON merge patch; subresource may be NULL or "status". */
int kube_merge_patch(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		     const char *subresource, const json_t *patch, json_t **out, struct kube_response *resp);

/* Server-side apply (application/apply-patch+yaml; JSON is YAML) with fieldManager and force. obj must carry
 * apiVersion, kind and metadata.name. subresource may be NULL or "status". */
int kube_apply(struct kube_client *c, const struct kube_resource *r, const char *ns, const json_t *obj,
	       const char *subresource, const char *field_manager, int force, json_t **out,
	       struct kube_response *resp);

/* GET /version → gitVersion (malloc'd). */
int kube_server_version(struct kube_client *c, char **git_version, struct kube_response *resp);

#endif

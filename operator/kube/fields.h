/*
 * Server-side apply field sets (metadata.managedFields[].fieldsV1, sigs.k8s.io/structured-merge-diff): a trie
 * in JSON whose keys are "f:<field or map key>", "k:<JSON of a list item's key fields>", "v:<JSON of a list
 * item>", "i:<index>", or "." (the node itself); a key mapping to {} owns that whole value.
 */
#ifndef SO_KUBE_FIELDS_H
#define SO_KUBE_FIELDS_H

#include <jansson.h>

/*
 * Reduces obj, in place, to the fields that manager set with its last server-side apply (its managedFields entry
 * with operation "Apply" and no subresource): what a cache needs to tell whether applying again would change
 * anything, without the defaults and fields other managers (controllers, users) added.
 *
 * Kept whole regardless: apiVersion, kind, status (the caller trims it), and metadata except its annotations
 * (identity, resourceVersion, generation, labels, ownerReferences, deletionTimestamp). Everything else at the top
 * level and metadata.annotations are pruned to the field set. Returns 1 when pruned, 0 when obj has no such
 * entry (obj is left as it was: nothing says which fields are ours), or a negative so_err.
 */
int kube_prune_to_applied(json_t *obj, const char *manager);

/* The fieldsV1 of manager's "Apply" entry in obj's managedFields (borrowed), or NULL. */
const json_t *kube_applied_fields(const json_t *obj, const char *manager);

/* Prunes value to the field set fields (a fieldsV1 node with children), in place. Exposed for tests. */
int kube_prune_fields(json_t *value, const json_t *fields);

#endif

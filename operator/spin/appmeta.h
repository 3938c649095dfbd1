/*
 * Private helpers shared by the object builders (meta.c, deployment.c, service.c, hpa.c): reading a SpinApp's
 * identity and writing the metadata every child object carries. Not part of the builder interface (spin.h).
 */
#ifndef SO_BUILD_APPMETA_H
#define SO_BUILD_APPMETA_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/err.h"


/* obj[key] when it is a string, else NULL. */
const char *spin_str(const json_t *obj, const char *key);

/* obj[key] when it is an object, else NULL. */
const json_t *spin_obj(const json_t *obj, const char *key);

/* metadata.name (required, non-empty) and metadata.namespace (NULL when absent) of app. */
int spin_app_identity(const json_t *app, const char **name, const char **ns, char *err, size_t errlen);

/*
 * Copies the string map src[key] (absent or null: nothing) into dst, overwriting same-named keys.
 * field names the map in error messages ("spec.podLabels"). SO_E_INVAL when it is not a map of strings.
 */
int spin_copy_string_map(json_t *dst, const json_t *src, const char *key, const char *field, char *err,
			  size_t errlen);

/*
 * The metadata of an object owned (controller reference) by app: {name: <app>, namespace, labels {app-name},
 * annotations (app.spec[annotations_key], omitted when empty or annotations_key is NULL), ownerReferences}.
 * An app that was never stored (no metadata.uid, e.g. rendered from a file) yields no ownerReferences; one whose
 * apiVersion or kind is "" yields SO_E_INVAL (spin_owner_ref_failed).
 */
int spin_child_meta(const json_t *app, const char *annotations_key, json_t **out, char *err, size_t errlen);

/* SO_E_INVAL, "SpinApp "<name>": apiVersion and kind must not be empty...": an owner reference cannot be built. */
int spin_owner_ref_failed(const char *name, char *err, size_t errlen);

/* SO_E_INVAL, "cannot build the <what>: ...": a json_pack refused its values (a NULL or invalid UTF-8 string). */
int spin_pack_failed(char *err, size_t errlen, const char *what);

#endif

/*
 * JSON Patch (RFC 6902) over jansson values: a diff that produces a patch, and an applier.
 *
 * The mutating webhook answers with base64(JSON text of jsonpatch_diff(original, defaulted)); the apiserver
 * applies it to the object it sent. Paths are JSON Pointers (RFC 6901): "/spec/executor", with '~' written as
 * "~0" and '/' as "~1" inside a token; "" is the whole document.
 *
 * jsonpatch_diff emits only "add", "remove" and "replace":
 *   - objects: "remove" for keys only in from, recursion for keys in both, "add" for keys only in to (in to's
 *     key order);
 *   - arrays: recursion over the common prefix, then "add" at index len(from), len(from)+1, ... for the extra
 *     elements of to, or "remove" from the last index down for the extra elements of from, so every index is
 *     valid when its operation is applied in order;
 *   - anything else that differs (type, scalar value; 1 and 1.0 differ as jansson's json_equal says): "replace".
 * Applying the result to a copy of from yields a value equal (json_equal) to to.
 *
 * jsonpatch_apply implements all six operations (add, remove, replace, move, copy, test). It edits doc in place
 * and is not atomic: on failure doc may hold the operations before the failing one. The root can only be
 * replaced (or added) by a container of the same type as doc (an object by an object, an array by an array),
 * since doc itself cannot change identity.
 */
#ifndef SO_WEBHOOK_JSONPATCH_H
#define SO_WEBHOOK_JSONPATCH_H

#include <jansson.h>

#include "operator/base/buf.h"

/* *ops = a new array of operations turning from into to (empty when they are equal). 0, or SO_E_TOO_LARGE when a
 * pointer passes its cap. */
int jsonpatch_diff(const json_t *from, const json_t *to, json_t **ops);

/* Applies ops to doc. 0, SO_E_INVAL (malformed operation, bad pointer, missing target, failed test, a key that is
 * not valid UTF-8). */
int jsonpatch_apply(json_t *doc, const json_t *ops);

/* Appends "/" and token escaped as a JSON Pointer reference token (~ → ~0, / → ~1). */
int jsonpatch_pointer_push(struct buf *path, const char *token);

#endif

/*
 * The pod options a SpinApp may set beyond upstream's fields (issue 15 §2, docs/compat.md): scheduling
 * (nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName), the app container's
 * imagePullPolicy and its extra env. deployment.c calls these on the objects it built; each one leaves the
 * object untouched when the app does not set the field, so an app written for upstream gets exactly upstream's
 * Deployment. Pure, like every builder; allocation failure aborts (operator/base/mem.h's policy).
 */
#ifndef SO_BUILD_PODOPTS_H
#define SO_BUILD_PODOPTS_H

#include <jansson.h>
#include <stddef.h>

/* Every variable named so is the operator's: spec.variables become SPIN_VARIABLE_<NAME>. */
#define BUILD_ENV_VARIABLE_PREFIX "SPIN_VARIABLE_"

/* 1 when the operator may set a variable of this name itself (deployment.c's env_for_app), so spec.env may not. */
int spin_env_reserved(const char *name);

/* Appends copies of spec.env's items to env, which holds the operator's own variables. SO_E_INVAL (message with
 * the field path) for a malformed list, an item without a name, or a reserved name. */
int spin_podopts_env(const json_t *spec, json_t *env, char *err, size_t errlen);

/* Sets container.imagePullPolicy from spec.imagePullPolicy (omitted when empty, as Go's omitempty). */
int spin_podopts_container(const json_t *spec, json_t *container, char *err, size_t errlen);

/*
 * Adds the scheduling fields to the pod spec *pod. When the app sets any, *pod is replaced by a new object with
 * every key in corev1.PodSpec's field order (the old reference is released); otherwise it is left as it is.
 */
int spin_podopts_pod(const json_t *spec, json_t **pod, char *err, size_t errlen);

#endif

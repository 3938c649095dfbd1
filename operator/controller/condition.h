/*
 * Pure helpers for status conditions (metav1.Condition), with apimachinery's meta.SetStatusCondition rules:
 * a condition is matched by type; lastTransitionTime changes only when status changes (or the condition is
 * new); reason, message and observedGeneration are always updated. Times are RFC 3339 strings at second
 * precision, passed in by the caller (no clock here).
 */
#ifndef SO_CONTROLLER_STATUS_H
#define SO_CONTROLLER_STATUS_H

#include <jansson.h>

/* Sets condition type in the array *conditions (created when NULL). Returns 1 when anything changed. */
int condition_set(json_t **conditions, const char *type, const char *status, const char *reason,
		  const char *message, long long observed_generation, const char *now_rfc3339);

/* The condition of that type in conditions, or NULL (borrowed). */
json_t *condition_find(const json_t *conditions, const char *type);


#endif

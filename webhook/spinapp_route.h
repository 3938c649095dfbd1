/*
 * The webhook's rules for spec.route (operator/spin/route.c, docs/compat.md): the checks the Gateway API's
 * HTTPRoute CRD (sigs.k8s.io/gateway-api v1.4, standard channel) makes of the same values, with the SpinApp's
 * field paths (spec.route.parentRefs[0].name), so a mistake shows when the SpinApp is written instead of as an
 * HTTPRoute the operator cannot apply.
 */
#ifndef SO_WEBHOOK_SPINAPP_ROUTE_H
#define SO_WEBHOOK_SPINAPP_ROUTE_H

#include <jansson.h>

#include "webhook/field.h"

#define SPINAPP_ROUTE_MAX_PARENTS 32
#define SPINAPP_ROUTE_MAX_HOSTNAMES 16
#define SPINAPP_ROUTE_MAX_PREFIXES 64 /* the HTTPRoute's matches per rule */

/* Appends the errors of spec.route (absent or null: none) to errs. */
void spinapp_route_check(const json_t *spec, struct field_list *errs);

#endif

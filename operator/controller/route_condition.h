/* The SpinApp's Routed condition, from its HTTPRoute's status.parents (pure; docs/internals/route.md). */
#ifndef SO_CONTROLLER_ROUTE_CONDITION_H
#define SO_CONTROLLER_ROUTE_CONDITION_H

#include <jansson.h>
#include <stddef.h>

#define ROUTE_CONDITION_TYPE "Routed"
#define ROUTE_REASON_NO_API "GatewayAPINotInstalled"

struct route_condition {
	const char *status; /* "True", "False" or "Unknown" (static strings) */
	const char *reason; /* Accepted, NotAccepted, RefsNotResolved, Pending (static) */
	char message[512];
};

/*
 * The condition for an HTTPRoute (as applied or cached; NULL: not made yet) of an app whose spec.route names
 * nparents parents: True (Accepted) when every parent in status.parents has Accepted and ResolvedRefs True
 * and there are at least nparents of them; False (NotAccepted, RefsNotResolved) when a parent says either is
 * not True, naming the parent and copying its reason and message; Unknown (Pending) otherwise (no gateway
 * controller has answered yet).
 */
void route_condition_from(const json_t *route, size_t nparents, struct route_condition *out);

#endif

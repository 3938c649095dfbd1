/*
 * The real registry client (registry.h) as the verifier's backend (verifier.h struct verify_backend).
 */
#ifndef SO_VERIFY_REGBACKEND_H
#define SO_VERIFY_REGBACKEND_H

#include "webhook/verify/registry.h"
#include "webhook/verify/verifier.h"

/* A backend whose ud is r (borrowed: r must outlive the verifier). */
struct verify_backend verify_backend_registry(struct registry *r);

#endif

/*
 * The daemon's image verification, assembled from its flags (operator/main.c): the registry client
 * (--registry-ca-file, --registry-insecure, --registry-allow-private-realms), credentials through the kube
 * client (kubecreds.h, --registry-credentials-secret) and the verifier (--verify-policy, --verify-pin-digest,
 * --verify-timeout). Keeps main.c to flag parsing and two calls.
 */
#ifndef SO_VERIFY_SETUP_H
#define SO_VERIFY_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "admission.h"
#include "kube/client.h"
#include "util/buf.h"

#define VERIFY_MAX_INSECURE 32

struct verify_setup_opts {
	const char *policy_file;          /* NULL: no verification (verify_setup_start sets *out NULL) */
	int pin;                          /* --verify-pin-digest */
	int64_t timeout_ms;               /* --verify-timeout */
	const char *ca_file;              /* --registry-ca-file */
	const char *insecure[VERIFY_MAX_INSECURE + 1]; /* --registry-insecure, NULL-terminated */
	int allow_private_realms;         /* --registry-allow-private-realms */
	const char *secret;               /* --registry-credentials-secret NAMESPACE/NAME */
};

struct verify_setup;

/* Adds the comma-separated hosts of one --registry-insecure value (kept by pointer into a copy owned by the
 * caller's string: value must outlive o). SO_E_INVAL when too many or empty. */
int verify_setup_add_insecure(struct verify_setup_opts *o, char *value);

int verify_setup_start(const struct verify_setup_opts *o, struct kube_client *client, struct verify_setup **out,
		       char *err, size_t errlen);
void verify_setup_stop(struct verify_setup *s);

/* Fills the admission callback (nothing when s is NULL). */
void verify_setup_admission(struct verify_setup *s, struct admission_ctx *ctx);
void verify_setup_metrics(struct verify_setup *s, struct buf *out);

#endif

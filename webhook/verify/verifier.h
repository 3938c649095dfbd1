/*
 * Image signature verification for the admission webhook (docs/verify-images.md, docs/internals/verify.md):
 * policy → rule → digest (tag resolved, cached briefly) → verified-result cache (repository, digest, rule trust
 * hash; single-flight) → on a miss, signature discovery on the registry in cosign v3's order: OCI referrers
 * API, else the sha256-<hex> fallback tag index, Sigstore bundles first; then the classic sha256-<hex>.sig
 * manifest. The first signature a trusted key verifies for the digest admits the image. Every registry call
 * shares one deadline (the verify timeout, below the webhook's timeoutSeconds); passing it fails closed.
 *
 * The registry and the credentials come through two interfaces so that tests can drive the flow with fakes:
 * struct verify_backend (registry.h's calls; verify_backend_registry() adapts the real client) and
 * verify_creds_fn (the daemon reads pull Secrets through the kube client: kubecreds.h).
 */
#ifndef SO_VERIFY_VERIFY_H
#define SO_VERIFY_VERIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "operator/base/buf.h"
#include "webhook/verify/creds.h"
#include "operator/kube/imageref.h"
#include "webhook/verify/registry.h"

struct verify_backend {
	void *ud;
	int (*resolve)(void *ud, const struct image_ref *ref, const struct registry_cred *cred, int64_t deadline_ms,
		       char digest[IMAGE_DIGEST_LEN + 1], char *err, size_t errlen);
	int (*get_manifest)(void *ud, const struct image_ref *ref, const struct registry_cred *cred,
			    const char *reference, const char *accept, int64_t deadline_ms, struct registry_blob *out,
			    char *err, size_t errlen);
	int (*get_blob)(void *ud, const struct image_ref *ref, const struct registry_cred *cred, const char *digest,
			size_t max, int64_t deadline_ms, struct registry_blob *out, char *err, size_t errlen);
	int (*get_referrers)(void *ud, const struct image_ref *ref, const struct registry_cred *cred,
			     const char *digest, int64_t deadline_ms, struct registry_blob *out, char *err,
			     size_t errlen);
	void (*stats)(void *ud, struct registry_stats *out);
};

/* The credential for ref in namespace ns (the Secrets named by pull_secrets, the namespace's default
 * ServiceAccount's imagePullSecrets, the configured Secret), as a new struct in *out (verify_cred_free), or
 * NULL for anonymous. A negative so_err with one line in err when the Secrets cannot be read. The reads share the
 * verification's deadline (deadline_ms, on clock_mono_ms's clock). */
typedef int (*verify_creds_fn)(void *ud, const char *ns, const json_t *pull_secrets, const struct image_ref *ref,
			       int64_t deadline_ms, struct registry_cred **out, char *err, size_t errlen);
void verify_cred_free(struct registry_cred *c);
struct registry_cred *verify_cred_dup(const struct registry_cred *c);

struct verifier_opts {
	const char *policy_file;
	double policy_poll_s;     /* 0 = 5 s */
	int pin;                  /* patch spec.image to name:tag@digest after a verification */
	int64_t timeout_ms;       /* the whole verification's budget; 0 = 8000 */
	int64_t tag_ttl_ms;       /* tag → digest resolutions; 0 = 10 s, < 0 = not cached */
	size_t cache_entries;     /* verified results kept; 0 = 1024 */
	struct verify_backend backend;
	verify_creds_fn creds;    /* NULL = anonymous */
	void *creds_ud;
	int64_t (*now_ms)(void *clock_ud); /* cache TTL clock; NULL = CLOCK_MONOTONIC (tests inject one) */
	void *clock_ud;
};

struct verifier;

/* Loads the policy (a bad file fails here) and starts its watcher. */
int verifier_new(const struct verifier_opts *o, struct verifier **out, char *err, size_t errlen);
void verifier_free(struct verifier *v);

/*
 * Image signature verification (docs/verify-images.md), an optional callback so that this layer stays pure.
 * Called for SpinApp CREATE, and UPDATE when spec.image changed or carries no digest, after defaulting (mutating
 * path) or with the object as stored (validating path). The callback decides whether a rule applies.
 */
enum verify_image_decision {
	VERIFY_IMAGE_ADMIT, /* no rule applies, or verified */
	VERIFY_IMAGE_WARN,  /* not verified under a warn rule: admit with message as a warning */
	VERIFY_IMAGE_DENY,  /* not verified under an enforce rule: deny with message */
};

struct verify_image_check {
	const char *ns;              /* the request's namespace */
	const char *image;           /* spec.image */
	const json_t *pull_secrets;  /* spec.imagePullSecrets ([{name}]), or NULL */
	int validating;              /* the validating webhook: nothing will be patched */
	int64_t deadline_ms;         /* 0, or an earlier end for the verification (clock_mono_ms's clock) */
	/* The caller proved who it is (a client certificate from --webhook-client-ca-file): only then may the answer
	 * reveal a digest resolved with registry credentials (docs/security.md). */
	int authenticated;
};

struct verify_image_verdict {
	enum verify_image_decision decision;
	char *pinned;       /* malloc'd: the value to patch spec.image with ("name:tag@sha256:..."), or NULL */
	char message[1024]; /* WARN/DENY: "image <image> (<digest>) is not verified: <reason>" */
	char notice[512];   /* any decision: a warning for the requester besides message ("" for none) */
};

/* The admission callback (struct admission_ctx.verify_image; verify_user is the verifier). Thread-safe. */
int verifier_admission(void *verifier, const struct verify_image_check *in, struct verify_image_verdict *out);

/* admission_ctx.verify_needs_io: a rule applies to in->image, so verifier_admission would read a registry. */
int verifier_needs_io(void *verifier, const struct verify_image_check *in);
/* admission_ctx.verify_unavailable: the verdict without verifying (reason: why not), as a registry error under
 * the rule that applies (deny under enforce, warn under warn); admit when no rule applies. Counted and logged as
 * result=error. */
int verifier_unavailable(void *verifier, const struct verify_image_check *in, const char *reason,
			 struct verify_image_verdict *out);

/* What one check found, beyond the verdict: for `spin-operator verify` (verifycmd.h), which prints it. */
enum verify_result {
	VERIFY_VERIFIED, /* a trusted key verified a signature bound to the digest */
	VERIFY_FAILED,   /* a definitive no: no signatures, untrusted ones, bound to another digest */
	VERIFY_ERROR,    /* the registry could not be read (fail closed), or the image name is invalid */
	VERIFY_SKIPPED,  /* no rule applies: admitted without verification */
};
/* "verified", "failed", "error", "skipped": the result label of the log line and of the metrics. */
const char *verify_result_name(enum verify_result r);

struct verify_explain {
	enum verify_result result;
	char rule[256];                      /* the rule that applied; "" when none did */
	int warn;                            /* that rule's mode is warn */
	char digest[IMAGE_DIGEST_LEN + 1];   /* the digest checked; "" when unresolved */
	char by[160];                        /* VERIFIED: what verified, "bundle key release" */
	char reason[768];                    /* otherwise (under a rule): why not, "no signatures found" */
};

/* verifier_admission, also filling *ex when it is not NULL. The verdict and the log line are the same. */
int verifier_explain(void *verifier, const struct verify_image_check *in, struct verify_image_verdict *out,
		     struct verify_explain *ex);

/* Checks the policy file now (policywatch_check). */
int verifier_reload(struct verifier *v);

/* Prometheus text: spin_operator_image_verifications_total{result}, spin_operator_registry_requests_total,
 * spin_operator_image_verification_cache_total{result}, spin_operator_verify_policy_reloads_total,
 * spin_operator_verify_policy_errors_total. */
void verifier_metrics(struct verifier *v, struct buf *out);

#endif

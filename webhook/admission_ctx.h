/* What the admission dispatcher (admission.c) hands the rules (spinapp.c, executor.c): the endpoint, the
 * cluster through callbacks, the flags and image verification. */
#ifndef SO_WEBHOOK_ADMISSION_CTX_H
#define SO_WEBHOOK_ADMISSION_CTX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "webhook/verify/verifier.h"

/* The four upstream registrations (config/webhook/manifests.yaml). */
enum admission_endpoint { MUTATE_SPINAPP, VALIDATE_SPINAPP, MUTATE_EXECUTOR, VALIDATE_EXECUTOR };

#define ADMISSION_PATH_MUTATE_SPINAPP "/mutate-core-spinkube-dev-v1alpha1-spinapp"
#define ADMISSION_PATH_VALIDATE_SPINAPP "/validate-core-spinkube-dev-v1alpha1-spinapp"
#define ADMISSION_PATH_MUTATE_EXECUTOR "/mutate-core-spinkube-dev-v1alpha1-spinappexecutor"
#define ADMISSION_PATH_VALIDATE_EXECUTOR "/validate-core-spinkube-dev-v1alpha1-spinappexecutor"

/* Warnings a review's answer carries at most; the rules drop the ones past it. */
#define ADMISSION_MAX_WARNINGS 32

/* ctx->flags */
#define ADMISSION_UPSTREAM_ONLY 0x1u /* run upstream's checks only, none of the stricter ones (docs/compat.md) */

enum admission_verify_mode {
	ADMISSION_VERIFY_INLINE,      /* call verify_image */
	ADMISSION_VERIFY_DEFER,       /* when verify_needs_io says so, stop: admission_handle returns SO_E_DEFERRED */
	ADMISSION_VERIFY_UNAVAILABLE, /* verify_unavailable(verify_reason) where a registry would be needed */
};

struct admission_ctx {
	enum admission_endpoint endpoint; /* which path the review was posted to */
	/*
	 * Appends to names (a JSON array) the metadata.name of every SpinAppExecutor in namespace ns, in any order.
	 * 0, or a negative so_err with one line in msg: the defaulting request is then denied with that text, as
	 * upstream denies it with the List error. NULL means "there are none".
	 */
	int (*list_executors)(void *user, const char *ns, json_t *names, char *msg, size_t msglen);
	/*
	 * The SpinAppExecutor ns/name as JSON in *out (a new reference), or a negative so_err (SO_E_API_NOT_FOUND
	 * when there is none). Any failure reads as "executor does not exist in namespace", as upstream's does.
	 * NULL means "none exists".
	 */
	int (*get_executor)(void *user, const char *ns, const char *name, json_t **out);
	void *user;
	unsigned flags;
	/*
	 * NULL: no verification. Otherwise fills *out (out->pinned is freed by the caller) and returns 0, or a
	 * negative so_err when no verdict could be formed at all (the review is then denied with out->message).
	 */
	int (*verify_image)(void *verify_user, const struct verify_image_check *in,
			    struct verify_image_verdict *out);
	void *verify_user;
	/*
	 * Optional, with verify_image: non-zero when verify_image would call a registry for in (a rule applies),
	 * zero when it answers from the policy alone. No I/O.
	 */
	int (*verify_needs_io)(void *verify_user, const struct verify_image_check *in);
	/*
	 * Optional, with verify_image: the verdict when the verification cannot be had (reason: "verification queue
	 * full", "verification deadline exceeded"), failing as a registry error does: deny under an enforce rule,
	 * warn under a warn rule, with the same "image <image> (unresolved) is not verified: <reason>" message.
	 */
	int (*verify_unavailable)(void *verify_user, const struct verify_image_check *in, const char *reason,
				  struct verify_image_verdict *out);
	/* Set by the server (webhook/webhook_server.c): every review comes from a caller with a verified client certificate
	 * (verify_image_check.authenticated). */
	int authenticated;
	/* Set per request by the server (webhook/webhook_server.c): how verify_image is reached. */
	enum admission_verify_mode verify_mode;
	const char *verify_reason; /* ADMISSION_VERIFY_UNAVAILABLE's reason */
	int64_t verify_timeout_ms; /* the verification's budget, for the server's wait (0: 8 s) */
	int64_t verify_deadline_ms; /* per request: 0, or verify_image_check.deadline_ms */
};

#endif

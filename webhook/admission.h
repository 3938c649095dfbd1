/*
 * The pure part of the admission webhook: one admission.k8s.io/v1 AdmissionReview in, one out. No sockets, no
 * TLS, no clock: the HTTPS server calls admission_handle with the request body and the endpoint it was posted
 * to, and the rules read the cluster only through the callbacks of struct admission_ctx (the executor cache in
 * the daemon, fakes in the tests). See docs/internals/webhook-admission.md.
 *
 * What comes back follows controller-runtime (v0.19–v0.22, pkg/webhook/admission), which upstream spin-operator
 * uses, so the apiserver (and so the user) sees the same thing:
 *
 *   allowed, no change      {"uid": U, "allowed": true, "status": {"metadata": {}, "code": 200}}
 *   defaulted               the same plus "patch": base64(JSON Patch), "patchType": "JSONPatch"
 *   rules failed            {"uid": U, "allowed": false, "status": <apierrors.NewInvalid(...) Status>}:
 *                           {"metadata": {}, "status": "Failure", "message": "SpinApp.core.spinkube.dev \"a\" is
 *                           invalid: ...", "reason": "Invalid", "details": {"name", "group", "kind", "causes":
 *                           [{"reason": "FieldValueInvalid", "message", "field"}]}, "code": 422}
 *   defaulting failed       admission.Denied(err): {"metadata": {}, "reason": "<err>", "code": 403}
 *   object does not decode  admission.Errored(400, err): {"metadata": {}, "message": "<err>", "code": 400}
 *
 * plus "warnings" when a rule has advice that does not block the request. The response reuses the request's
 * apiVersion and kind (always admission.k8s.io/v1 / AdmissionReview: nothing else is accepted).
 *
 * A body that is not such a review (not JSON, truncated, larger than ADMISSION_MAX_BODY, another apiVersion or
 * kind, no request.uid, request.kind or request.operation, an object or oldObject that is not a JSON object) is
 * not answered with a review: *http_status is 400 and out_response holds one line of plain text saying why.
 */
#ifndef SO_WEBHOOK_ADMISSION_H
#define SO_WEBHOOK_ADMISSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "operator/kube/names.h"
#include "operator/kube/quantity.h"
#include "operator/base/buf.h"
#include "webhook/verify/verify.h"

/* Larger bodies are refused (400). The server should cap its reads at the same size. */
#define ADMISSION_MAX_BODY ((size_t)3 << 20)
/* A cap for out_response that no answer exceeds (see admission_handle). */
#define ADMISSION_RESPONSE_CAP ((size_t)1 << 20)
/* etcd's default request limit (--max-request-bytes): an object larger than this can never be stored, so a
 * review of one is refused before any rule reads it (413). */
#define ADMISSION_MAX_OBJECT ((size_t)3 << 19)

/* The four upstream registrations (config/webhook/manifests.yaml). */
enum admission_endpoint { MUTATE_SPINAPP, VALIDATE_SPINAPP, MUTATE_EXECUTOR, VALIDATE_EXECUTOR };

#define ADMISSION_PATH_MUTATE_SPINAPP "/mutate-core-spinkube-dev-v1alpha1-spinapp"
#define ADMISSION_PATH_VALIDATE_SPINAPP "/validate-core-spinkube-dev-v1alpha1-spinapp"
#define ADMISSION_PATH_MUTATE_EXECUTOR "/mutate-core-spinkube-dev-v1alpha1-spinappexecutor"
#define ADMISSION_PATH_VALIDATE_EXECUTOR "/validate-core-spinkube-dev-v1alpha1-spinappexecutor"

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

/* ADMISSION_PATH_* of an endpoint, and back (SO_E_INVAL for any other path). */
const char *admission_path(enum admission_endpoint ep);
int admission_endpoint_for_path(const char *path, enum admission_endpoint *ep);

/* Upstream's webhook name for the endpoint ("mspinapp.kb.io", "vspinapp.kb.io", ...). */
const char *admission_webhook_name(enum admission_endpoint ep);

/*
 * Handles one review. On SO_OK, *http_status is 200 and out_response holds the response AdmissionReview (JSON),
 * or *http_status is 400 and out_response holds a one-line plain-text reason. A negative so_err (SO_E_NOMEM,
 * SO_E_TOO_LARGE when out_response's cap is too small) means no answer could be built: the server should
 * answer 500. out_response is reset and filled. Messages quote rejected values as apimachinery does, cut at
 * FIELD_VALUE_SHOWN bytes, with at most FIELD_LIST_MAX errors and ADMISSION_MAX_WARNINGS warnings, so every
 * answer fits ADMISSION_RESPONSE_CAP, however hostile the review.
 */
int admission_handle(const char *body, size_t len, const struct admission_ctx *ctx, struct buf *out_response,
		     int *http_status);

/* ======================================================================================================
 * The rule layer, shared by spinapp.c and executor.c and exposed for the unit tests.
 * ====================================================================================================== */

/* field.ErrorList (k8s.io/apimachinery/pkg/util/validation/field), rendered the way apimachinery v0.34 does. */
enum field_error_type {
	FIELD_INVALID,   /* "Invalid value: <value>: <detail>", cause reason FieldValueInvalid */
	FIELD_REQUIRED,  /* "Required value: <detail>", FieldValueRequired */
	FIELD_FORBIDDEN, /* "Forbidden: <detail>", FieldValueForbidden */
	FIELD_DUPLICATE, /* "Duplicate value: <value>", FieldValueDuplicate */
	FIELD_NOT_FOUND, /* "Not found: <value>", FieldValueNotFound */
	FIELD_NOT_SUPPORTED, /* "Unsupported value: <value>: supported values: ...", FieldValueNotSupported */
};

struct field_error {
	enum field_error_type type;
	char *field;  /* "spec.replicas", "spec.invocationLimits[memory]" */
	char *value;  /* the bad value as rendered ("0", "\"x\"", "null", "{\"k\":\"v\"}"); NULL when not shown */
	char *detail; /* may be empty */
};

/*
 * Bounds that keep a hostile review from making a huge answer: a rendered value longer than FIELD_VALUE_SHOWN
 * bytes is cut there and ends "..."; a list keeps its first FIELD_LIST_MAX errors and counts the rest, which
 * the message sums up as "and N more errors". Real objects stay far below both, so their messages are
 * upstream's, byte for byte.
 */
#define FIELD_VALUE_SHOWN 1024
#define FIELD_LIST_MAX 64
#define ADMISSION_MAX_WARNINGS 32 /* warnings past this many are dropped */

struct field_list {
	struct field_error *items;
	size_t n, alloc;
	size_t dropped; /* errors past FIELD_LIST_MAX, counted but not kept */
	int nomem;      /* a message could not be built (a buffer past its cap; sticky) */
};

void field_list_free(struct field_list *l);

/* Appends one error; value is already rendered (or NULL). detail is a printf format. */
void field_add(struct field_list *l, enum field_error_type type, const char *field, const char *value,
	       const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));
/* field.Invalid with a Go string BadValue: rendered with %q (strconv.Quote). */
void field_invalid_str(struct field_list *l, const char *field, const char *value, const char *detail_fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* field.Invalid with an int32/int64 BadValue: rendered with %v. */
void field_invalid_int(struct field_list *l, const char *field, int64_t value, const char *detail_fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "<field>: <body>" (field.Error.Error()) and the body alone (ErrorBody()). */
int field_error_render(const struct field_error *e, struct buf *out);
int field_error_body(const struct field_error *e, struct buf *out);

/* errs.ToAggregate().Error(): one message as is; several, with repeats dropped, as "[m1, m2]". "" when none. */
int field_list_aggregate(const struct field_list *l, struct buf *out);

/* apierrors.NewInvalid(GroupKind{group, kind}, name, errs): its message, and the whole metav1.Status. */
int admission_invalid_message(const char *group, const char *kind, const char *name, const struct field_list *l,
			      struct buf *out);
json_t *admission_invalid_status(const char *group, const char *kind, const char *name,
				 const struct field_list *l);

/* Go's fmt %q of a string (strconv.Quote), and encoding/json's rendering of a string and of a
 * map[string]string (keys sorted, HTML-safe escapes). Every byte sequence is accepted. */
int go_quote(struct buf *out, const char *s, size_t n);
int go_json_string(struct buf *out, const char *s, size_t n);
int go_json_string_map(struct buf *out, const json_t *map);

/*
 * Decoding: the typed decode controller-runtime does before calling the rules, reduced to the fields the rules
 * read. A JSON type that Go could not put into the field fails the request (admission.Errored 400) with
 * encoding/json's message: "json: cannot unmarshal <json type> into Go struct field <Struct>.<path> of type
 * <Go type>". admission_type_error formats it (SO_E_INVAL) into msg.
 */
int admission_type_error(struct buf *msg, const json_t *v, const char *go_struct, const char *path,
			 const char *go_type);
/* Checks obj[key] (absent and null always pass): a JSON string, bool, int32 (integer in range), object, array,
 * or map of strings. SO_OK or SO_E_INVAL with msg set. */
int decode_string(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg);
int decode_bool(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg);
int decode_int32(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg);
int decode_object(const json_t *obj, const char *key, const char *go_struct, const char *path,
		  const char *go_type, struct buf *msg);
int decode_array(const json_t *obj, const char *key, const char *go_struct, const char *path, const char *go_type,
		 struct buf *msg);
int decode_string_map(const json_t *obj, const char *key, const char *go_struct, const char *path,
		      struct buf *msg);
/* metadata: an ObjectMeta with string name/namespace/generateName and string-map labels/annotations. */
int decode_metadata(const json_t *obj, const char *go_struct, struct buf *msg);

/* The apimachinery wording for a name that is no DNS-1123 subdomain (kube_dns1123_subdomain, kube/names.h). */
#define DNS1123_SUBDOMAIN_MSG                                                                                 \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must " \
	"start and end with an alphanumeric character"

/* The wording of this implementation's checks of a label key (kube_qualified_name) and value. */
#define QUALIFIED_NAME_MSG                                                                                    \
	"must be a qualified name: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, " \
	"'-', '_' or '.', starting and ending with a letter or digit"
#define LABEL_VALUE_MSG                                                                                       \
	"must be a valid label value: empty, or at most 63 letters, digits, '-', '_' or '.', starting and ending " \
	"with a letter or digit"

/* An OCI image reference as distribution/reference parses it: image_ref_check (operator/kube/imageref.c), the one grammar. */
int is_image_reference(const char *s);
#define IMAGE_REFERENCE_MSG                                                                                   \
	"must be an OCI image reference: [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], with a "    \
	"lowercase repository path"

/* ---- spinapp.c ---- */

int spinapp_check_decode(const json_t *app, struct buf *msg);

/*
 * Sets spec.executor, when empty, to the alphabetically first SpinAppExecutor of the app's namespace (upstream
 * takes the first of the whole cluster). Edits app in place. A failed listing returns its so_err with msg set.
 * warnings (a JSON array, may be NULL) gets a note when no executor exists to default to.
 */
int spinapp_default(json_t *app, const char *request_ns, const struct admission_ctx *ctx, json_t *warnings,
		    char *msg, size_t msglen);

/* Upstream's checks in upstream's order, then (unless ctx->flags has ADMISSION_UPSTREAM_ONLY) the stricter ones.
 * 0 or SO_E_NOMEM; the verdict is errs->n. */
int spinapp_validate(const json_t *app, const char *request_ns, const struct admission_ctx *ctx,
		     struct field_list *errs, json_t *warnings);

/* strconv.FormatFloat(d, 'g', -1, 64)-like: the shortest %g that reads back as d. */
void go_format_float(double d, char *out, size_t n);

/* ---- executor.c ---- */

int executor_check_decode(const json_t *executor, struct buf *msg);
int executor_validate(const json_t *executor, unsigned flags, struct field_list *errs, json_t *warnings);

#endif

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
#include "webhook/admission_ctx.h"
#include "webhook/field.h"

/* Larger bodies are refused (400). The server should cap its reads at the same size. */
#define ADMISSION_MAX_BODY ((size_t)3 << 20)
/* A cap for out_response that no answer exceeds (see admission_handle). */
#define ADMISSION_RESPONSE_CAP ((size_t)1 << 20)
/* etcd's default request limit (--max-request-bytes): an object larger than this can never be stored, so a
 * review of one is refused before any rule reads it (413). */
#define ADMISSION_MAX_OBJECT ((size_t)3 << 19)

/* ADMISSION_PATH_* of an endpoint, and back (SO_E_INVAL for any other path). */
const char *admission_path(enum admission_endpoint ep);
int admission_endpoint_for_path(const char *path, enum admission_endpoint *ep);

/* Upstream's webhook name for the endpoint ("mspinapp.kb.io", "vspinapp.kb.io", ...). */
const char *admission_webhook_name(enum admission_endpoint ep);

/*
 * Handles one review. On SO_OK, *http_status is 200 and out_response holds the response AdmissionReview (JSON),
 * or *http_status is 400 and out_response holds a one-line plain-text reason. A negative so_err (SO_E_INVAL when
 * a quoted text cut at a byte count is no longer valid UTF-8, SO_E_TOO_LARGE when out_response's cap is too
 * small) means no answer could be built: the server should answer 500. out_response is reset and filled. Messages quote rejected values as apimachinery does, cut at
 * FIELD_VALUE_SHOWN bytes, with at most FIELD_LIST_MAX errors and ADMISSION_MAX_WARNINGS warnings, so every
 * answer fits ADMISSION_RESPONSE_CAP, however hostile the review.
 */
int admission_handle(const char *body, size_t len, const struct admission_ctx *ctx, struct buf *out_response,
		     int *http_status);

/* apierrors.NewInvalid(GroupKind{group, kind}, name, errs): its message, and the whole metav1.Status. */
int admission_invalid_message(const char *group, const char *kind, const char *name, const struct field_list *l,
			      struct buf *out);
json_t *admission_invalid_status(const char *group, const char *kind, const char *name,
				 const struct field_list *l);

#endif

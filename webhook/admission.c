/*
 * AdmissionReview decoding, dispatch and encoding, and the pieces of apimachinery and controller-runtime the
 * rules need to answer exactly as upstream does: field.ErrorList rendering, apierrors.NewInvalid's Status, Go's
 * %q and encoding/json string forms, and encoding/json's type errors. See admission.h and
 * docs/internals/webhook-admission.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__ /* defined by the headers above */
#include <malloc.h>
#endif

#include "operator/spin/spin.h"
#include "operator/base/base64.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/kube/imageref.h"
#include "operator/base/mem.h"
#include "webhook/admission.h"
#include "webhook/decode.h"
#include "webhook/executor.h"
#include "webhook/gofmt.h"
#include "webhook/spinapp.h"
#include "webhook/jsonpatch.h"
#include "webhook/reviewslim.h"

#define REVIEW_API_VERSION "admission.k8s.io/v1"
#define REVIEW_KIND "AdmissionReview"
#define MSG_CAP 4096            /* one error message (Errored / Denied text) */
#define SHOWN_VALUE_MAX 64      /* how much of a rejected value a 400 message quotes */
#define NO_CONTENT "there is no content to decode" /* controller-runtime's Decoder, for an empty RawExtension */

/* ======================================================================================================
 * Endpoints
 * ====================================================================================================== */

static const struct {
	const char *path, *webhook;
} endpoints[] = {
	[MUTATE_SPINAPP] = { ADMISSION_PATH_MUTATE_SPINAPP, "mspinapp.kb.io" },
	[VALIDATE_SPINAPP] = { ADMISSION_PATH_VALIDATE_SPINAPP, "vspinapp.kb.io" },
	[MUTATE_EXECUTOR] = { ADMISSION_PATH_MUTATE_EXECUTOR, "mspinappexecutor.kb.io" },
	[VALIDATE_EXECUTOR] = { ADMISSION_PATH_VALIDATE_EXECUTOR, "vspinappexecutor.kb.io" },
};

#define N_ENDPOINTS (sizeof endpoints / sizeof endpoints[0])

const char *admission_path(enum admission_endpoint ep)
{
	return (size_t)ep < N_ENDPOINTS ? endpoints[ep].path : NULL;
}

const char *admission_webhook_name(enum admission_endpoint ep)
{
	return (size_t)ep < N_ENDPOINTS ? endpoints[ep].webhook : NULL;
}

int admission_endpoint_for_path(const char *path, enum admission_endpoint *ep)
{
	for (size_t i = 0; path && i < N_ENDPOINTS; i++) {
		if (strcmp(path, endpoints[i].path) == 0) {
			*ep = (enum admission_endpoint)i;
			return SO_OK;
		}
	}
	return SO_E_INVAL;
}

int admission_invalid_message(const char *group, const char *kind, const char *name, const struct field_list *l,
			      struct buf *out)
{
	int rc = buf_appends(out, kind);

	/* schema.GroupKind.String(): "Kind.group", or just "Kind" for the core group. */
	if (rc == SO_OK && group && *group)
		rc = buf_appendf(out, ".%s", group);
	if (rc == SO_OK)
		rc = buf_append(out, " ", 1);
	if (rc == SO_OK) {
		size_t n = name ? strnlen(name, FIELD_VALUE_SHOWN + 1) : 0;
		rc = gofmt_quote(out, name ? name : "", n > FIELD_VALUE_SHOWN ? FIELD_VALUE_SHOWN : n);
		if (rc == SO_OK && n > FIELD_VALUE_SHOWN)
			rc = buf_appends(out, "...");
	}
	if (rc == SO_OK)
		rc = buf_appends(out, " is invalid: ");
	return rc == SO_OK ? field_list_aggregate(l, out) : rc;
}

/* A fresh metav1.Status with its (always present) empty metadata. */
static json_t *status_new(void)
{
	json_t *st = json_object();
	json_object_set_new(st, "metadata", json_object());
	return st;
}

/* A string member from text that quotes the request: json_string refuses it (SO_E_INVAL) when a cut left invalid
 * UTF-8. */
static int set_str(json_t *obj, const char *key, const char *value)
{
	return json_object_set_new(obj, key, json_string(value)) ? SO_E_INVAL : SO_OK;
}

json_t *admission_invalid_status(const char *group, const char *kind, const char *name,
				 const struct field_list *l)
{
	struct buf msg = BUF_INIT(SIZE_MAX / 2);
	json_t *st = status_new(), *details = json_object(), *causes = json_array();
	int rc = admission_invalid_message(group, kind, name, l, &msg);

	/* metav1.Status field order: metadata, status, message, reason, details, code; omitempty throughout. */
	json_object_set_new(st, "status", json_string("Failure"));
	if (rc == SO_OK)
		rc = set_str(st, "message", msg.data ? msg.data : "");
	if (rc == SO_OK)
		json_object_set_new(st, "reason", json_string("Invalid"));
	if (rc == SO_OK && name && *name)
		rc = json_object_set_new(details, "name", json_stringn(name, strnlen(name, FIELD_VALUE_SHOWN)))
			     ? SO_E_INVAL : SO_OK;
	if (rc == SO_OK && group && *group)
		rc = set_str(details, "group", group);
	if (rc == SO_OK && kind && *kind)
		rc = set_str(details, "kind", kind);
	for (size_t i = 0; rc == SO_OK && i < l->n; i++) {
		struct buf body = BUF_INIT(SIZE_MAX / 2);
		json_t *cause = json_object();
		rc = field_error_body(&l->items[i], &body);
		if (rc == SO_OK)
			json_object_set_new(cause, "reason", json_string(field_error_reason(l->items[i].type)));
		if (rc == SO_OK && body.len)
			rc = set_str(cause, "message", body.data);
		if (rc == SO_OK && *l->items[i].field)
			rc = set_str(cause, "field", l->items[i].field);
		if (rc == SO_OK)
			json_array_append(causes, cause);
		json_decref(cause);
		buf_free(&body);
	}
	if (rc == SO_OK && json_array_size(causes) > 0)
		json_object_set(details, "causes", causes);
	if (rc == SO_OK) {
		json_object_set(st, "details", details);
		json_object_set_new(st, "code", json_integer(422));
	}
	buf_free(&msg);
	json_decref(details);
	json_decref(causes);
	if (rc != SO_OK) {
		json_decref(st);
		return NULL;
	}
	return st;
}

/* ======================================================================================================
 * The review
 * ====================================================================================================== */

struct review {
	const char *uid, *operation, *ns;
	const json_t *object, *old_object; /* NULL when absent or null */
	int dry_run;
};

struct answer {
	int allowed;
	json_t *status;   /* metav1.Status */
	json_t *patch;    /* JSON Patch operations, or NULL */
	json_t *warnings; /* array of strings */
};

/* One line into out for an HTTP 400, with an offending value quoted and cut short. */
static int bad_request(struct buf *out, int *http_status, const char *what, const json_t *value)
{
	int rc;

	*http_status = 400;
	buf_reset(out);
	rc = buf_appendf(out, "invalid AdmissionReview: %s", what);
	if (rc == SO_OK && value) {
		if (json_is_string(value)) {
			size_t n = json_string_length(value);
			rc = buf_appends(out, ", got ");
			if (rc == SO_OK)
				rc = gofmt_quote(out, json_string_value(value), n > SHOWN_VALUE_MAX ? SHOWN_VALUE_MAX : n);
			if (rc == SO_OK && n > SHOWN_VALUE_MAX)
				rc = buf_appends(out, "...");
		} else {
			static const char *const names[] = { "an object", "an array", "a string", "an integer",
							     "a number", "true", "false", "null" };
			rc = buf_appendf(out, ", got %s", names[json_typeof(value)]);
		}
	}
	if (rc == SO_OK)
		rc = buf_append(out, "\n", 1);
	return rc;
}

static const json_t *nonnull(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

/* bad_request, then 1 (a 400 was written) unless that failed. */
static int reject(struct buf *out, int *http_status, const char *what, const json_t *value)
{
	int rc = bad_request(out, http_status, what, value);
	return rc != SO_OK ? rc : 1;
}

/* Checks the envelope; SO_OK with r filled, or 1 when a 400 was written to out (or a negative so_err). */
static int parse_review(const json_t *doc, struct review *r, struct buf *out, int *http_status)
{
	const json_t *v, *req, *kind;

	memset(r, 0, sizeof *r);
	if (!json_is_object(doc))
		return reject(out, http_status, "the body must be a JSON object", doc);
	v = json_object_get(doc, "apiVersion");
	if (!json_is_string(v) || strcmp(json_string_value(v), REVIEW_API_VERSION) != 0)
		return reject(out, http_status, "apiVersion must be \"" REVIEW_API_VERSION "\"", v);
	v = json_object_get(doc, "kind");
	if (!json_is_string(v) || strcmp(json_string_value(v), REVIEW_KIND) != 0)
		return reject(out, http_status, "kind must be \"" REVIEW_KIND "\"", v);
	req = json_object_get(doc, "request");
	if (!json_is_object(req))
		return reject(out, http_status, "request must be an object", req);
	v = json_object_get(req, "uid");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return reject(out, http_status, "request.uid must be a non-empty string", v);
	r->uid = json_string_value(v);
	kind = json_object_get(req, "kind");
	if (!json_is_object(kind) || !json_is_string(json_object_get(kind, "group")) ||
	    !json_is_string(json_object_get(kind, "version")) || !json_is_string(json_object_get(kind, "kind")) ||
	    json_string_length(json_object_get(kind, "kind")) == 0)
		return reject(out, http_status, "request.kind must be an object with string group, version and kind",
				   kind);
	v = json_object_get(req, "operation");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return reject(out, http_status, "request.operation must be a non-empty string", v);
	r->operation = json_string_value(v);
	v = nonnull(req, "namespace");
	if (v && !json_is_string(v))
		return reject(out, http_status, "request.namespace must be a string", v);
	r->ns = v ? json_string_value(v) : "";
	r->object = nonnull(req, "object");
	if (r->object && !json_is_object(r->object))
		return reject(out, http_status, "request.object must be a JSON object", r->object);
	r->old_object = nonnull(req, "oldObject");
	if (r->old_object && !json_is_object(r->old_object))
		return reject(out, http_status, "request.oldObject must be a JSON object", r->old_object);
	v = nonnull(req, "dryRun");
	if (v && !json_is_boolean(v))
		return reject(out, http_status, "request.dryRun must be a boolean", v);
	r->dry_run = json_is_true(v);
	return SO_OK;
}

/* admission.Errored(code, err): {metadata, message, code}. */
static int errored(struct answer *a, int code, const char *message)
{
	a->allowed = 0;
	a->status = status_new();
	if (set_str(a->status, "message", message) != SO_OK)
		return SO_E_INVAL;
	json_object_set_new(a->status, "code", json_integer(code));
	return SO_OK;
}

/* admission.Denied(reason): the text goes into reason (sic), code 403. */
static int denied(struct answer *a, const char *reason)
{
	a->allowed = 0;
	a->status = status_new();
	if (set_str(a->status, "reason", reason) != SO_OK)
		return SO_E_INVAL;
	json_object_set_new(a->status, "code", json_integer(403));
	return SO_OK;
}

/* admission.Allowed("") after Response.Complete: {metadata, code 200}. */
static int allowed(struct answer *a)
{
	a->allowed = 1;
	a->status = status_new();
	json_object_set_new(a->status, "code", json_integer(200));
	return SO_OK;
}

/*
 * The typed decode of an embedded object: its apiVersion/kind (absent parts default to the expected type, as the
 * apimachinery JSON serializer defaults them from the target) must name the type, and the fields must have Go's
 * types. SO_OK, or SO_E_INVAL with msg set.
 */
static int decode_typed(const json_t *obj, int spinapp, struct buf *msg)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	const char *want_kind = spinapp ? "SpinApp" : "SpinAppExecutor";
	static const char *const type_keys[] = { "apiVersion", "kind" };
	char group[256] = SPIN_GROUP, version[64] = "v1alpha1";

	if (!obj) {
		buf_reset(msg);
		buf_appends(msg, NO_CONTENT);
		return SO_E_INVAL;
	}
	/* The serializer reads apiVersion and kind first (json.go's meta.Interpret); they must be strings. */
	for (size_t i = 0; i < 2; i++) {
		const json_t *v = json_object_get(obj, type_keys[i]);
		if (v && !json_is_null(v) && !json_is_string(v)) {
			struct buf inner = BUF_INIT(MSG_CAP);
			decode_type_error(&inner, v, "", type_keys[i], "string");
			buf_reset(msg);
			buf_appendf(msg, "couldn't get version/kind; json parse error: %s", inner.data ? inner.data : "");
			buf_free(&inner);
			return SO_E_INVAL;
		}
	}
	if (api && *api) {
		const char *slash = strchr(api, '/');
		if (slash) {
			snprintf(group, sizeof group, "%.*s", (int)(slash - api), api);
			snprintf(version, sizeof version, "%s", slash + 1);
		} else {
			group[0] = '\0';
			snprintf(version, sizeof version, "%s", api);
		}
	}
	if (!kind || !*kind)
		kind = want_kind;
	if (strcmp(group, SPIN_GROUP) != 0 || strcmp(version, "v1alpha1") != 0 || strcmp(kind, want_kind) != 0) {
		/* runtime.DecodeInto: "unable to decode <gvk> into <Go type>". */
		buf_reset(msg);
		buf_appendf(msg, "unable to decode %s/%s, Kind=%.256s into *v1alpha1.%s", group, version, kind,
			    want_kind);
		return SO_E_INVAL;
	}
	return spinapp ? spinapp_check_decode(obj, msg) : executor_check_decode(obj, msg);
}

/* A refusal by image verification: a Forbidden status whose message the apiserver shows after "admission
 * webhook ... denied the request: ". */
static int forbidden(struct answer *a, const char *message)
{
	a->allowed = 0;
	a->status = status_new();
	json_object_set_new(a->status, "status", json_string("Failure"));
	if (set_str(a->status, "message", message) != SO_OK)
		return SO_E_INVAL;
	json_object_set_new(a->status, "reason", json_string("Forbidden"));
	json_object_set_new(a->status, "code", json_integer(403));
	return SO_OK;
}

static const char *spec_image(const json_t *app)
{
	return json_string_value(json_object_get(json_object_get(app, "spec"), "image"));
}

/*
 * Signature verification of spec.image (ctx->verify_image) for CREATE, and for UPDATE when the image changed or
 * carries no digest (an unchanged pinned image was verified when it was set). app is the object as it will be
 * stored (defaulted, on the mutating path). *deny is set when the request must be refused (a->status is then
 * filled); warnings go to a->warnings; on the mutating path a pinned reference replaces spec.image in app.
 */
static int verify_image(const struct review *r, const struct admission_ctx *ctx, json_t *app, int validating,
			struct answer *a, int *deny)
{
	struct verify_image_verdict out = { 0 };
	const char *image = spec_image(app), *old = r->old_object ? spec_image(r->old_object) : NULL;
	int rc;

	*deny = 0;
	if (!ctx->verify_image || !image || !*image)
		return SO_OK;
	if (strcmp(r->operation, "CREATE") != 0 && strcmp(r->operation, "UPDATE") != 0)
		return SO_OK;
	if (strcmp(r->operation, "UPDATE") == 0 && old && strcmp(old, image) == 0 && strstr(image, "@sha256:"))
		return SO_OK;
	struct verify_image_check in = {
		.ns = r->ns,
		.image = image,
		.pull_secrets = json_object_get(json_object_get(app, "spec"), "imagePullSecrets"),
		.validating = validating,
		.deadline_ms = ctx->verify_deadline_ms,
		.authenticated = ctx->authenticated,
	};
	if (ctx->verify_mode != ADMISSION_VERIFY_INLINE && ctx->verify_needs_io &&
	    ctx->verify_needs_io(ctx->verify_user, &in)) {
		if (ctx->verify_mode == ADMISSION_VERIFY_DEFER)
			return SO_E_DEFERRED; /* the server runs the review again on its verification pool */
		rc = ctx->verify_unavailable
			     ? ctx->verify_unavailable(ctx->verify_user, &in,
						       ctx->verify_reason ? ctx->verify_reason : "verification unavailable",
						       &out)
			     : SO_E_BUSY;
	} else {
		rc = ctx->verify_image(ctx->verify_user, &in, &out);
	}
	if (rc != SO_OK) {
		/* No verdict at all: fail closed. */
		*deny = 1;
		rc = forbidden(a, *out.message ? out.message : so_strerror(rc));
		goto out;
	}
	/* The mutating webhook warns; the validating one would only repeat it. */
	if (*out.notice && !validating && json_array_append_new(a->warnings, json_string(out.notice))) {
		rc = SO_E_INVAL;
		goto out;
	}
	switch (out.decision) {
	case VERIFY_IMAGE_DENY:
		*deny = 1;
		rc = forbidden(a, out.message);
		break;
	case VERIFY_IMAGE_WARN:
		/* The mutating webhook warns; the validating one would only repeat it. */
		if (!validating && json_array_append_new(a->warnings, json_string(out.message)))
			rc = SO_E_INVAL;
		break;
	case VERIFY_IMAGE_ADMIT:
		if (out.pinned && !validating &&
		    json_object_set_new(json_object_get(app, "spec"), "image", json_string(out.pinned)))
			rc = SO_E_INVAL;
		break;
	}
out:
	free(out.pinned);
	return rc;
}

/* The defaulting webhooks (controller-runtime's defaulterForType). */
static int mutate(const struct review *r, const struct admission_ctx *ctx, struct answer *a)
{
	int spinapp = ctx->endpoint == MUTATE_SPINAPP;
	char msg[MSG_CAP] = "";
	struct buf dmsg = BUF_INIT(MSG_CAP);
	json_t *copy, *ops = NULL;
	int rc;

	/* DELETE is always allowed, undecoded. */
	if (strcmp(r->operation, "DELETE") == 0)
		return allowed(a);
	rc = decode_typed(r->object, spinapp, &dmsg);
	if (rc == SO_E_INVAL) {
		rc = errored(a, 400, dmsg.data ? dmsg.data : "decode failed");
		buf_free(&dmsg);
		return rc;
	}
	buf_free(&dmsg);
	if (rc != SO_OK)
		return rc;
	if (!spinapp) /* SpinAppExecutor defaulting is a no-op upstream */
		return allowed(a);
	/* Defaulting and pinning write into spec only: the copy shares everything else with the request, and
	 * the diff skips what is shared without looking inside. */
	const json_t *spec = json_object_get(r->object, "spec");
	copy = json_copy((json_t *)r->object); /* increments the children's counts only */
	if (spec)
		json_object_set_new(copy, "spec", json_deep_copy(spec));
	rc = spinapp_default(copy, r->ns, ctx, a->warnings, msg, sizeof msg);
	if (rc != SO_OK) {
		json_decref(copy);
		return denied(a, *msg ? msg : so_strerror(rc));
	}
	/* Verification after defaulting, so that the pinning patch joins the defaulting one. */
	int deny = 0;
	rc = verify_image(r, ctx, copy, 0, a, &deny);
	if (rc != SO_OK || deny) {
		json_decref(copy);
		return rc;
	}
	rc = jsonpatch_diff(r->object, copy, &ops);
	json_decref(copy);
	if (rc != SO_OK)
		return rc;
	rc = allowed(a);
	if (rc == SO_OK && json_array_size(ops) > 0) {
		a->patch = ops;
		ops = NULL;
	}
	json_decref(ops);
	return rc;
}

/* The validating webhooks (controller-runtime's validatorForType). */
static int validate(const struct review *r, const struct admission_ctx *ctx, struct answer *a)
{
	int spinapp = ctx->endpoint == VALIDATE_SPINAPP;
	struct buf msg = BUF_INIT(MSG_CAP);
	struct field_list errs = { 0 };
	const json_t *obj = NULL;
	int rc = SO_OK;

	if (strcmp(r->operation, "CONNECT") == 0)
		return allowed(a);
	if (strcmp(r->operation, "CREATE") == 0) {
		rc = decode_typed(r->object, spinapp, &msg);
		obj = r->object;
	} else if (strcmp(r->operation, "UPDATE") == 0) {
		rc = decode_typed(r->object, spinapp, &msg);
		if (rc == SO_OK)
			rc = decode_typed(r->old_object, spinapp, &msg);
		obj = r->object;
	} else if (strcmp(r->operation, "DELETE") == 0) {
		/* The object being deleted arrives as oldObject; ValidateDelete returns nil upstream. */
		rc = decode_typed(r->old_object, spinapp, &msg);
	} else {
		size_t n = strlen(r->operation);
		buf_appends(&msg, "unknown operation ");
		gofmt_quote(&msg, r->operation, n > SHOWN_VALUE_MAX ? SHOWN_VALUE_MAX : n);
		rc = SO_E_INVAL;
	}
	if (rc == SO_E_INVAL) {
		rc = errored(a, 400, msg.data ? msg.data : "decode failed");
		goto out;
	}
	if (rc != SO_OK)
		goto out;
	if (!obj) {
		rc = allowed(a);
		goto out;
	}
	if (spinapp)
		rc = spinapp_validate(obj, r->ns, ctx, &errs, a->warnings);
	else
		executor_validate(obj, ctx->flags, &errs, a->warnings);
	if (rc != SO_OK)
		goto out;
	if (errs.n == 0) {
		int deny = 0;
		/* The same check as the mutating webhook's (answered from its caches): a later mutating webhook cannot
		 * swap in an unverified image, and a cluster without the mutating registration still verifies. */
		if (spinapp)
			rc = verify_image(r, ctx, (json_t *)obj, 1, a, &deny);
		if (rc == SO_OK && !deny)
			rc = allowed(a);
	} else {
		const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
		a->allowed = 0;
		a->status = admission_invalid_status(SPIN_GROUP, spinapp ? "SpinApp" : "SpinAppExecutor",
						     name ? name : "", &errs);
		rc = a->status ? SO_OK : SO_E_INVAL;
	}
out:
	field_list_free(&errs);
	buf_free(&msg);
	return rc;
}

/* The response review: {apiVersion, kind, response: {uid, allowed, status, patch, patchType, warnings}}. */
static int encode(const struct review *r, const struct answer *a, struct buf *out)
{
	json_t *resp = json_pack("{s:s, s:b}", "uid", r->uid, "allowed", a->allowed), *doc = NULL;
	char *text = NULL;
	int rc = resp ? SO_OK : SO_E_INVAL; /* json_pack refuses a uid that is not valid UTF-8 */

	if (rc == SO_OK && a->status)
		json_object_set(resp, "status", a->status);
	if (rc == SO_OK && a->patch) {
		struct buf b64 = BUF_INIT(SIZE_MAX / 2);
		char *ptext = json_dumps(a->patch, JSON_COMPACT);
		rc = base64_encode_append(&b64, ptext, strlen(ptext));
		if (rc == SO_OK) {
			json_object_set_new(resp, "patch", json_string(b64.data ? b64.data : ""));
			json_object_set_new(resp, "patchType", json_string("JSONPatch"));
		}
		free(ptext);
		buf_free(&b64);
	}
	if (rc == SO_OK && json_array_size(a->warnings) > 0)
		json_object_set(resp, "warnings", a->warnings);
	if (rc == SO_OK) {
		doc = json_pack("{s:s, s:s, s:O}", "apiVersion", REVIEW_API_VERSION, "kind", REVIEW_KIND, "response",
				resp);
		text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		rc = text ? SO_OK : SO_E_INVAL;
	}
	if (rc == SO_OK) {
		buf_reset(out);
		rc = buf_appends(out, text);
		if (rc == SO_OK)
			rc = buf_append(out, "\n", 1); /* json.Encoder ends every value with a newline */
	}
	free(text);
	json_decref(doc);
	json_decref(resp);
	return rc;
}

static int handle(const char *body, size_t len, const struct admission_ctx *ctx, struct buf *out_response,
		  int *http_status)
{
	struct answer a = { 0 };
	struct review r;
	json_error_t jerr;
	json_t *doc;
	char what[256];
	int rc;

	*http_status = 400;
	if (!ctx || (size_t)ctx->endpoint >= N_ENDPOINTS || !out_response)
		return SO_E_INVAL;
	if (!body || len == 0)
		return bad_request(out_response, http_status, "the request body is empty", NULL);
	if (len > ADMISSION_MAX_BODY) {
		snprintf(what, sizeof what, "the request body is %zu bytes, more than the %zu allowed", len,
			 (size_t)ADMISSION_MAX_BODY);
		return bad_request(out_response, http_status, what, NULL);
	}
	/* Decoded without the members no check reads (reviewslim.h); an error is about the body as sent. */
	char *slim = NULL;
	size_t slim_len = 0;
	reviewslim_review(body, len, &slim, &slim_len);
	doc = json_loadb(slim ? slim : body, slim ? slim_len : len, JSON_DECODE_ANY, &jerr);
	if (!doc && slim)
		doc = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	free(slim);
	if (!doc) {
		snprintf(what, sizeof what, "the body is not valid JSON: %s at byte %d", jerr.text, jerr.position);
		return bad_request(out_response, http_status, what, NULL);
	}
	rc = parse_review(doc, &r, out_response, http_status);
	if (rc != SO_OK) {
		json_decref(doc);
		return rc > 0 ? SO_OK : rc;
	}
	a.warnings = json_array();
	size_t object_size = r.object ? json_dumpb(r.object, NULL, 0, JSON_COMPACT) : 0;
	if (object_size > ADMISSION_MAX_OBJECT) {
		snprintf(what, sizeof what, "the object is %zu bytes, more than the %zu bytes etcd stores", object_size,
			 (size_t)ADMISSION_MAX_OBJECT);
		rc = errored(&a, 413, what);
	} else if (ctx->endpoint == MUTATE_SPINAPP || ctx->endpoint == MUTATE_EXECUTOR) {
		rc = mutate(&r, ctx, &a);
	} else {
		rc = validate(&r, ctx, &a);
	}
	if (rc == SO_OK) {
		log_debug("webhook", "%s uid=%s op=%s dryRun=%d allowed=%d code=%" JSON_INTEGER_FORMAT " patch=%d",
			  admission_webhook_name(ctx->endpoint), r.uid, r.operation, r.dry_run, a.allowed,
			  json_integer_value(json_object_get(a.status, "code")), a.patch != NULL);
		rc = encode(&r, &a, out_response);
	}
	if (rc == SO_OK)
		*http_status = 200;
	json_decref(a.status);
	json_decref(a.patch);
	json_decref(a.warnings);
	json_decref(doc);
	return rc;
}

/*
 * A review of megabytes is decoded into tens of thousands of small blocks; once freed, glibc keeps most of those
 * pages in its arenas, fragmented between blocks still in use, and eight such reviews at once left ~50 MiB of
 * idle heap resident for good (tests/integration/webhook_hostile.sh). malloc_trim hands the free pages back. It
 * walks the arenas, a millisecond or two: only after bodies this large, which normal reviews never are.
 */
#define TRIM_AFTER_BODY ((size_t)256 << 10)

int admission_handle(const char *body, size_t len, const struct admission_ctx *ctx, struct buf *out_response,
		     int *http_status)
{
	int rc = handle(body, len, ctx, out_response, http_status);
#ifdef __GLIBC__
	if (len >= TRIM_AFTER_BODY)
		malloc_trim(0);
#endif
	return rc;
}

/* field.ErrorList (k8s.io/apimachinery/pkg/util/validation/field), what the rules (spinapp.c, executor.c)
 * report and admission.c turns into apierrors.NewInvalid's Status; and the wording of the checks. */
#ifndef SO_WEBHOOK_FIELD_H
#define SO_WEBHOOK_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "operator/base/buf.h"

/* Rendered the way apimachinery v0.34 does. */
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

struct field_list {
	struct field_error *items;
	size_t n, alloc;
	size_t dropped; /* errors past FIELD_LIST_MAX, counted but not kept */
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
/* metav1.CauseType of an error type ("FieldValueInvalid", ...), for the Status's causes. */
const char *field_error_reason(enum field_error_type t);

/* errs.ToAggregate().Error(): one message as is; several, with repeats dropped, as "[m1, m2]". "" when none. */
int field_list_aggregate(const struct field_list *l, struct buf *out);

/* The apimachinery wording for a name that is no DNS-1123 subdomain (kube_dns1123_subdomain, operator/kube/names.h). */
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

/* For an image reference image_ref_valid (operator/kube/imageref.h) refuses. */
#define IMAGE_REFERENCE_MSG                                                                                   \
	"must be an OCI image reference: [registry[:port]/]repository[:tag][@sha256:<64 hex digits>], with a "    \
	"lowercase repository path"

#endif

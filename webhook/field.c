/* field.ErrorList, rendered the way apimachinery renders it: see field.h. */
#include "webhook/field.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"
#include "webhook/gofmt.h"

#define FIELD_DETAIL_CAP 4096 /* one error's detail text */

void field_list_free(struct field_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].field);
		free(l->items[i].value);
		free(l->items[i].detail);
	}
	free(l->items);
	memset(l, 0, sizeof *l);
}

/* A copy of a rendered value, cut at FIELD_VALUE_SHOWN bytes (back to a UTF-8 boundary) with "..." added. */
static char *shown_value(const char *value)
{
	size_t n = strnlen(value, FIELD_VALUE_SHOWN + 1);
	char *v;

	if (n <= FIELD_VALUE_SHOWN)
		return mem_strdup(value);
	n = FIELD_VALUE_SHOWN;
	while (n > 0 && ((unsigned char)value[n] & 0xC0) == 0x80)
		n--;
	v = mem_alloc(n + 4);
	memcpy(v, value, n);
	memcpy(v + n, "...", 4);
	return v;
}

static void field_vadd(struct field_list *l, enum field_error_type type, const char *field, const char *value,
		       const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void field_vadd(struct field_list *l, enum field_error_type type, const char *field, const char *value,
		       const char *fmt, va_list ap)
{
	struct field_error e = { type, NULL, NULL, NULL };
	char tmp[FIELD_DETAIL_CAP];

	if (l->n >= FIELD_LIST_MAX) {
		l->dropped++;
		return;
	}
	tmp[0] = '\0';
	if (fmt)
		vsnprintf(tmp, sizeof tmp, fmt, ap);
	e.detail = mem_strdup(tmp);
	e.field = mem_strndup(field, FIELD_VALUE_SHOWN);
	e.value = value ? shown_value(value) : NULL;
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->items = mem_realloc(l->items, l->alloc * sizeof *l->items);
	}
	l->items[l->n++] = e;
}

void field_add(struct field_list *l, enum field_error_type type, const char *field, const char *value,
	       const char *detail_fmt, ...)
{
	va_list ap;
	va_start(ap, detail_fmt);
	field_vadd(l, type, field, value, detail_fmt, ap);
	va_end(ap);
}

void field_invalid_str(struct field_list *l, const char *field, const char *value, const char *detail_fmt, ...)
{
	struct buf q = BUF_INIT(SIZE_MAX / 2);
	va_list ap;

	/* One byte past what is shown is enough for shown_value to cut and mark it. q has no cap that a quoted
	 * string could reach, so gofmt_quote cannot fail. */
	gofmt_quote(&q, value ? value : "", value ? strnlen(value, FIELD_VALUE_SHOWN + 1) : 0);
	va_start(ap, detail_fmt);
	field_vadd(l, FIELD_INVALID, field, q.data, detail_fmt, ap);
	va_end(ap);
	buf_free(&q);
}

void field_invalid_int(struct field_list *l, const char *field, int64_t value, const char *detail_fmt, ...)
{
	char v[32];
	va_list ap;

	snprintf(v, sizeof v, "%lld", (long long)value);
	va_start(ap, detail_fmt);
	field_vadd(l, FIELD_INVALID, field, v, detail_fmt, ap);
	va_end(ap);
}

static const char *type_label(enum field_error_type t)
{
	switch (t) {
	case FIELD_INVALID: return "Invalid value";
	case FIELD_REQUIRED: return "Required value";
	case FIELD_FORBIDDEN: return "Forbidden";
	case FIELD_DUPLICATE: return "Duplicate value";
	case FIELD_NOT_FOUND: return "Not found";
	case FIELD_NOT_SUPPORTED: return "Unsupported value";
	}
	return "Invalid value";
}

const char *field_error_reason(enum field_error_type t)
{
	switch (t) {
	case FIELD_INVALID: return "FieldValueInvalid";
	case FIELD_REQUIRED: return "FieldValueRequired";
	case FIELD_FORBIDDEN: return "FieldValueForbidden";
	case FIELD_DUPLICATE: return "FieldValueDuplicate";
	case FIELD_NOT_FOUND: return "FieldValueNotFound";
	case FIELD_NOT_SUPPORTED: return "FieldValueNotSupported";
	}
	return "FieldValueInvalid";
}

int field_error_body(const struct field_error *e, struct buf *out)
{
	int rc = buf_appends(out, type_label(e->type));

	/* Required and Forbidden never show the value; the others do (when there is one to show). */
	if (rc == SO_OK && e->value && e->type != FIELD_REQUIRED && e->type != FIELD_FORBIDDEN)
		rc = buf_appendf(out, ": %s", e->value);
	if (rc == SO_OK && e->detail && *e->detail)
		rc = buf_appendf(out, ": %s", e->detail);
	return rc;
}

int field_error_render(const struct field_error *e, struct buf *out)
{
	int rc = buf_appendf(out, "%s: ", e->field);
	return rc == SO_OK ? field_error_body(e, out) : rc;
}

int field_list_aggregate(const struct field_list *l, struct buf *out)
{
	struct buf *msgs = mem_calloc(l->n ? l->n : 1, sizeof *msgs);
	size_t unique = 0;
	int rc = SO_OK;

	for (size_t i = 0; rc == SO_OK && i < l->n; i++) {
		struct buf m = BUF_INIT(SIZE_MAX / 2);
		int seen = 0;
		rc = field_error_render(&l->items[i], &m);
		for (size_t j = 0; rc == SO_OK && j < unique && !seen; j++)
			seen = msgs[j].len == m.len && memcmp(msgs[j].data, m.data, m.len) == 0;
		if (rc == SO_OK && !seen)
			msgs[unique++] = m;
		else
			buf_free(&m);
	}
	if (rc == SO_OK && unique > 1)
		rc = buf_append(out, "[", 1);
	for (size_t j = 0; rc == SO_OK && j < unique; j++) {
		if (j > 0)
			rc = buf_append(out, ", ", 2);
		if (rc == SO_OK)
			rc = buf_append(out, msgs[j].data, msgs[j].len);
	}
	if (rc == SO_OK && l->dropped)
		rc = buf_appendf(out, ", and %zu more errors", l->dropped);
	if (rc == SO_OK && unique > 1)
		rc = buf_append(out, "]", 1);
	for (size_t j = 0; j < unique; j++)
		buf_free(&msgs[j]);
	free(msgs);
	return rc;
}

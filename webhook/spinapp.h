/* The SpinApp rules: upstream's defaulting and validation, then this implementation's stricter checks. */
#ifndef SO_WEBHOOK_SPINAPP_H
#define SO_WEBHOOK_SPINAPP_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/buf.h"
#include "webhook/admission_ctx.h"
#include "webhook/field.h"

int spinapp_check_decode(const json_t *app, struct buf *msg);

/*
 * Sets spec.executor, when empty, to the alphabetically first SpinAppExecutor of the app's namespace (upstream
 * takes the first of the whole cluster). Edits app in place. A failed listing returns its so_err with msg set.
 * warnings (a JSON array, may be NULL) gets a note when no executor exists to default to.
 */
int spinapp_default(json_t *app, const char *request_ns, const struct admission_ctx *ctx, json_t *warnings,
		    char *msg, size_t msglen);

/* Upstream's checks in upstream's order, then (unless ctx->flags has ADMISSION_UPSTREAM_ONLY) the stricter ones.
 * 0, or SO_E_INVAL when a warning could not be built (a cut left invalid UTF-8); the verdict is errs->n. */
int spinapp_validate(const json_t *app, const char *request_ns, const struct admission_ctx *ctx,
		     struct field_list *errs, json_t *warnings);


#endif

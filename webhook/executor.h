/* The SpinAppExecutor rules. */
#ifndef SO_WEBHOOK_EXECUTOR_H
#define SO_WEBHOOK_EXECUTOR_H

#include <jansson.h>

#include "operator/base/buf.h"
#include "webhook/field.h"

int executor_check_decode(const json_t *executor, struct buf *msg);
/* Upstream's checks, then (unless flags has ADMISSION_UPSTREAM_ONLY) the stricter ones; the verdict is errs->n. */
void executor_validate(const json_t *executor, unsigned flags, struct field_list *errs, json_t *warnings);

#endif

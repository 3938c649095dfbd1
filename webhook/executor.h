/* The SpinAppExecutor rules. */
#ifndef SO_WEBHOOK_EXECUTOR_H
#define SO_WEBHOOK_EXECUTOR_H

#include <jansson.h>

#include "operator/base/buf.h"
#include "webhook/field.h"

int executor_check_decode(const json_t *executor, struct buf *msg);
int executor_validate(const json_t *executor, unsigned flags, struct field_list *errs, json_t *warnings);

#endif

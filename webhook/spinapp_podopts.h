/*
 * The webhook's rules for the SpinApp pod options upstream lacks (operator/spin/podopts.h, docs/compat.md):
 * env, imagePullPolicy, nodeSelector, tolerations, topologySpreadConstraints, priorityClassName. Messages and
 * field paths are the ones the API server would give for the same values in a pod (k8s.io/kubernetes
 * pkg/apis/core/validation, v1.34), with the SpinApp's paths (spec.env[2].name), so that a mistake shows when
 * the SpinApp is written instead of as a Deployment the operator cannot apply.
 */
#ifndef SO_WEBHOOK_PODOPTS_H
#define SO_WEBHOOK_PODOPTS_H

#include <jansson.h>

#include "operator/base/buf.h"
#include "webhook/field.h"

/* The typed decode of these fields (spinapp_check_decode's part): SO_OK, or SO_E_INVAL with Go's message in msg. */
int spinapp_podopts_decode(const json_t *spec, struct buf *msg);

/* Appends the errors of spec's pod options to errs (nodeSelector's keys are checked by spinapp.c's check_keys). */
void spinapp_podopts_check(const json_t *spec, struct field_list *errs);

#endif

/*
 * Kubernetes Events (core/v1) for objects we act on, recorded the way client-go's tools/record does:
 *   - name <object name>.<hex unix nanoseconds>, source.component = the reporting controller, count 1;
 *   - a repeat of the same (object uid, type, reason, message) within 10 minutes is a merge patch of the
 *     existing Event's count and lastTimestamp instead of a new object;
 *   - a per-object token bucket (burst 25, one event per 300 s after) drops spam.
 * Writes happen on a dedicated thread from a bounded queue (1000 events); a full queue drops the event with
 * a log line. Nothing here blocks a reconcile.
 */
#ifndef SO_CONTROLLER_EVENTS_H
#define SO_CONTROLLER_EVENTS_H

#include <jansson.h>

#include "operator/kube/client.h"

struct recorder;

/* component: e.g. "spinapp-reconciler" (upstream's recorder names). */
int recorder_new(struct kube_client *c, const char *component, struct recorder **out);
/* Flushes queued events for up to timeout_s, then stops the thread. */
void recorder_free(struct recorder *r, double timeout_s);

/* Records an event about obj (which must have apiVersion, kind, metadata.name/namespace/uid).
 * type is "Normal" or "Warning". Copies what it needs; never blocks. */
void recorder_event(struct recorder *r, const json_t *obj, const char *type, const char *reason,
		    const char *message);

#endif

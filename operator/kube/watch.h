/*
 * Incremental parser for Kubernetes watch streams: a sequence of JSON objects
 *   {"type":"ADDED","object":{...}}
 * usually one per line, split across network chunks at arbitrary byte offsets. The parser frames objects by
 * tracking brace depth outside strings, so it neither depends on newlines nor rescans bytes it has already
 * seen (feeding n bytes costs O(n) overall). An event larger than max_event bytes, bytes that are not JSON
 * objects, or an event without a known type fails the stream: the caller drops the connection and resumes
 * from its last resourceVersion rather than guessing.
 */
#ifndef SO_KUBE_WATCH_H
#define SO_KUBE_WATCH_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/buf.h"

enum kube_event_type { KUBE_EVENT_ADDED, KUBE_EVENT_MODIFIED, KUBE_EVENT_DELETED, KUBE_EVENT_BOOKMARK,
		       KUBE_EVENT_ERROR };

/* Called once per complete event. object is borrowed (json_incref to keep it). A non-zero return stops the
 * parser and is returned from kube_watch_parser_feed. For KUBE_EVENT_ERROR, object is the Status. */
typedef int (*kube_watch_event_fn)(void *ud, enum kube_event_type type, json_t *object);

struct kube_watch_parser {
	struct buf pending;    /* bytes of the event being assembled */
	size_t start;          /* where the event being framed begins in pending */
	size_t scanned;        /* how much of pending the framer has examined */
	int depth;             /* brace/bracket depth at scanned */
	int in_string;
	int escaped;
	int failed;            /* sticky: once failed, every feed returns the same error */
	kube_watch_event_fn on_event;
	void *ud;
	char error[160];       /* why the stream failed */
};

void kube_watch_parser_init(struct kube_watch_parser *p, size_t max_event, kube_watch_event_fn on_event, void *ud);
void kube_watch_parser_free(struct kube_watch_parser *p);
int kube_watch_parser_feed(struct kube_watch_parser *p, const char *data, size_t len);

const char *kube_event_type_name(enum kube_event_type type);

#endif

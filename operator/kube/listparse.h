/*
 * Incremental parser for a Kubernetes List body
 *   {"kind":"DeploymentList","apiVersion":"apps/v1","metadata":{"resourceVersion":"…","continue":"…"},
 *    "items":[{…},{…},…]}
 * fed in network chunks at arbitrary byte offsets. Each element of the top-level "items" array is framed
 * (brace depth outside strings, like the watch parser), decoded on its own and handed to a callback, so a list
 * costs the memory of one item at a time instead of the whole response and its JSON tree. The top-level
 * "metadata" object is decoded the same way for resourceVersion and continue; every other top-level member is
 * skipped. An item or metadata larger than max_item bytes, bytes that are not one JSON object, or a body that
 * ends early fails the parse.
 */
#ifndef SO_KUBE_LISTPARSE_H
#define SO_KUBE_LISTPARSE_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/buf.h"

/* Called once per item, in order. item is borrowed (json_incref to keep it; it is not used by the parser
 * afterwards, so the callback may modify it). A non-zero return stops the parser and is returned from feed. */
typedef int (*kube_list_item_fn)(void *ud, json_t *item);

struct kube_list_parser {
	struct buf capture;    /* bytes of the item or metadata being framed (cap: max_item) */
	int depth;             /* brace/bracket depth; 0 outside the top-level object */
	int in_string, escaped;
	int expect_key;        /* at depth 1, the next string is a member name */
	int key_active;        /* collecting that member name */
	char key[16];          /* the current top-level member name ("" when longer) */
	size_t keylen;
	int in_items;          /* inside the top-level "items" array */
	int capturing;         /* 0, or the depth at which the captured value closes */
	int capture_is_meta;
	int done;              /* the top-level object has closed */
	int failed;            /* sticky */
	char *resource_version; /* from metadata (malloc'd), or NULL */
	char *cont;            /* metadata.continue when non-empty (malloc'd), or NULL */
	size_t items;          /* items handed to the callback */
	kube_list_item_fn on_item;
	void *ud;
	char error[160];
};

void kube_list_parser_init(struct kube_list_parser *p, size_t max_item, kube_list_item_fn on_item, void *ud);
void kube_list_parser_free(struct kube_list_parser *p);
int kube_list_parser_feed(struct kube_list_parser *p, const char *data, size_t len);
/* After the last chunk: SO_OK when a complete list object was seen, else the parse error. */
int kube_list_parser_finish(struct kube_list_parser *p);

#endif

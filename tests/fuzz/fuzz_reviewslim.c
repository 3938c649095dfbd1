/*
 * libFuzzer target: reviewslim_review (webhook/reviewslim.c), differentially against jansson. For every input:
 *   - 0 means nothing was allocated; 1 means a strictly shorter text;
 *   - when jansson decodes the input, it decodes the slimmed text too, to the same document once the
 *     members reviewslim_review may drop (request.object/oldObject.metadata.managedFields and the last-applied
 *     annotation) are removed from both.
 * Inputs jansson refuses are only checked for memory safety: the dropped bytes are framed, not validated
 * (reviewslim.h), and the admission handler reports errors from the body as sent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhook/reviewslim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static void strip_object(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta))
		return;
	json_object_del(meta, "managedFields");
	json_t *ann = json_object_get(meta, "annotations");
	if (json_is_object(ann))
		json_object_del(ann, LAST_APPLIED);
}

static void strip(json_t *doc)
{
	json_t *req = json_object_get(doc, "request");
	if (!json_is_object(req))
		return;
	strip_object(json_object_get(req, "object"));
	strip_object(json_object_get(req, "oldObject"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *slim = NULL;
	size_t slim_len = 0;
	int rc = reviewslim_review((const char *)data, size, &slim, &slim_len);

	if (rc < 0)
		return 0;
	if (rc == 0) {
		if (slim || slim_len)
			abort();
		return 0;
	}
	if (!slim || slim_len >= size)
		abort(); /* something was dropped */
	json_t *orig = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	json_t *thin = json_loadb(slim, slim_len, JSON_DECODE_ANY, NULL);
	if (orig) {
		if (!thin)
			abort(); /* a valid body must stay valid */
		strip(orig);
		strip(thin);
		if (!json_equal(orig, thin))
			abort();
	}
	json_decref(orig);
	json_decref(thin);
	free(slim);
	return 0;
}

/* libFuzzer target: jsonpatch_apply (webhook/jsonpatch.c) on a document and a patch, split at the first NUL byte.
 * Besides memory safety: an empty patch changes nothing; and after a successful application, the diff from the
 * original to the result (jsonpatch_diff) applied to a fresh copy of the original gives the result again. The
 * patch is limited to 8 operations (copy doubles a document each time). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/jsonpatch.h"
#include "operator/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	json_t *orig, *ops = NULL, *doc = NULL, *again = NULL, *diff = NULL;

	if (size > 16384 || !nul)
		return 0;
	orig = json_loadb((const char *)data, (size_t)(nul - data), JSON_DECODE_ANY, NULL);
	ops = json_loadb((const char *)nul + 1, size - (size_t)(nul - data) - 1, JSON_DECODE_ANY, NULL);
	if (!json_is_object(orig) && !json_is_array(orig))
		goto out;
	if (json_is_array(ops) && json_array_size(ops) > 8)
		goto out;
	doc = json_deep_copy(orig);
	json_t *none = json_array();
	if (!doc || !none)
		abort();
	if (jsonpatch_apply(doc, none) != SO_OK || !json_equal(doc, orig))
		abort();
	json_decref(none);
	int rc = jsonpatch_apply(doc, ops);
	if (rc != SO_OK && rc != SO_E_INVAL)
		abort();
	if (rc != SO_OK)
		goto out;
	if (jsonpatch_diff(orig, doc, &diff) != SO_OK)
		goto out;
	again = json_deep_copy(orig);
	if (!again)
		goto out;
	if (jsonpatch_apply(again, diff) != SO_OK || !json_equal(again, doc))
		abort();
out:
	json_decref(orig);
	json_decref(ops);
	json_decref(doc);
	json_decref(again);
	json_decref(diff);
	return 0;
}

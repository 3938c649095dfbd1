/* libFuzzer target: kube_status_map (operator/kube/apistatus.c), the mapping of an API server's non-2xx answer. The
 * first two bytes pick the HTTP code (300-599), the rest is the body. Besides memory safety: the result is an
 * error; a message is always there and bounded, the reason bounded; retryAfterSeconds within a day; and a body
 * that is not a Status object is never echoed (the message is then the fixed "the server answered HTTP n"). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/client.h"
#include "operator/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *reason = NULL, *message = NULL;
	long retry = -1;

	if (size < 2)
		return 0;
	long code = 300 + (long)((data[0] << 8 | data[1]) % 300);
	const char *body = (const char *)data + 2;
	size_t len = size - 2;
	int rc = kube_status_map(code, body, len, &reason, &message, &retry);
	if (rc >= 0 || !message || strlen(message) > 4096 || (reason && (!*reason || strlen(reason) > 256)))
		abort();
	if (retry < 0 || retry >= 86400)
		abort();
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *kind = json_string_value(json_object_get(root, "kind"));
	if (!json_is_object(root) || !kind || strcmp(kind, "Status") != 0) {
		char want[96];
		snprintf(want, sizeof want, "the server answered HTTP %ld", code);
		if (reason || retry || strcmp(message, want) != 0)
			abort();
	}
	json_decref(root);
	free(reason);
	free(message);
	return 0;
}

/* libFuzzer target: registry_parse_token (webhook/verify/registry.c), a registry token server's answer. Besides
 * memory safety: a success is a non-empty token of visible ASCII (it goes into an Authorization header), at most
 * REGISTRY_TOKEN_MAX_LEN bytes, equal to the answer's "token" (or "access_token" when that is absent or empty),
 * with a lifetime within [REGISTRY_TOKEN_MIN_TTL_S, REGISTRY_TOKEN_MAX_TTL_S]. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = NULL;
	long ttl = -1;
	int rc = registry_parse_token((const char *)data, size, &token, &ttl);
	if (rc != SO_OK) {
		if ((rc != SO_E_BAD_RESPONSE && rc != SO_E_NOMEM) || token)
			abort();
		return 0;
	}
	size_t n = token ? strlen(token) : 0;
	if (n == 0 || n > REGISTRY_TOKEN_MAX_LEN || ttl < REGISTRY_TOKEN_MIN_TTL_S || ttl > REGISTRY_TOKEN_MAX_TTL_S)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)token[i] <= ' ' || (unsigned char)token[i] >= 0x7f)
			abort();
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	const char *want = json_string_value(json_object_get(doc, "token"));
	if (!want || !*want)
		want = json_string_value(json_object_get(doc, "access_token"));
	if (!want || strcmp(want, token) != 0)
		abort();
	json_decref(doc);
	free(token);
	return 0;
}

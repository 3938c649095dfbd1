/* libFuzzer target: www_authenticate_parse on arbitrary bytes. Besides memory safety: a success names Basic or
 * Bearer, and a Bearer challenge always carries a non-empty realm. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct www_authenticate w;
	int rc = www_authenticate_parse((const char *)data, size, &w);
	if (rc != SO_OK && rc != SO_E_INVAL && rc != SO_E_NOMEM)
		abort();
	if (rc == SO_OK) {
		if (strcmp(w.scheme, "Basic") && strcmp(w.scheme, "Bearer"))
			abort();
		if (!strcmp(w.scheme, "Bearer") && (!w.realm || !*w.realm))
			abort();
		www_authenticate_free(&w);
	}
	return 0;
}

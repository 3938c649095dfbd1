/* libFuzzer target: quantity_value on arbitrary bytes (NUL-terminated copy). Besides memory safety it checks two
 * properties that hold for every accepted quantity: a literal without a '-' is never negative, and the status is
 * one of the documented ones. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/spin/spin.h"
#include "operator/kube/quantity.h"
#include "operator/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t v = 0;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = quantity_value(s, &v);
	if (rc != SO_OK && rc != SO_E_INVAL && rc != SO_E_TOO_LARGE && rc != SO_E_NOMEM)
		abort();
	if (rc == SO_OK && v < 0 && !strchr(s, '-'))
		abort();
	free(s);
	return 0;
}

/* String vectors: operator/base/strv.h. */
#include "operator/base/strv.h"

#include <stdlib.h>
#include <string.h>

#include "operator/base/mem.h"

char **strv_dup(char *const *v)
{
	size_t n = 0;
	char **out;

	while (v && v[n])
		n++;
	out = mem_calloc(n + 1, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = mem_strdup(v[i]);
	return out;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	free(v);
}

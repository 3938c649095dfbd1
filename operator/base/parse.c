#include "operator/base/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	if (!s || !*s)
		return SO_E_INVAL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return SO_E_INVAL;
	*out = v;
	return SO_OK;
}

int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	if (!s || !*s)
		return SO_E_INVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || isnan(v) || v < min || v > max)
		return SO_E_INVAL;
	*out = v;
	return SO_OK;
}

int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	if (!s)
		return SO_E_INVAL;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return SO_OK;
		}
	}
	return SO_E_INVAL;
}

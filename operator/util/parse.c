#include "util/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "util/err.h"

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

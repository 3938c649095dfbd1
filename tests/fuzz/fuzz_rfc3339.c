/* libFuzzer target: kube_parse_rfc3339 (operator/kube/exec.c; exec credentials' expirationTimestamp) on arbitrary
 * strings. Besides memory safety: a time it accepts, written back in the canonical form (UTC, "Z", no fraction),
 * is accepted again as the same time; an input already in that form (seconds below 60) comes back byte for
 * byte, up to the case of 'T' and 'Z'; and a numeric offset moves the time by exactly that offset. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator/kube/exec.h"
#include "operator/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], canon[64];
	struct tm tm;
	time_t t, again;

	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	size = strlen(s); /* the parser reads a C string: an embedded NUL ends it */
	int rc = kube_parse_rfc3339(s, &t);
	if (rc != SO_OK && rc != SO_E_INVAL)
		abort();
	if (rc != SO_OK)
		return 0;
	if (!gmtime_r(&t, &tm))
		abort();
	/* Not strftime: glibc's %Y does not pad years below 1000 to four digits. */
	snprintf(canon, sizeof canon, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) {
		if (kube_parse_rfc3339(canon, &again) != SO_OK || again != t)
			abort();
	}
	if (size == 20 && (s[19] == 'Z' || s[19] == 'z') && !(s[17] == '6' && s[18] == '0')) {
		for (size_t i = 0; i < size; i++)
			if (toupper((unsigned char)s[i]) != canon[i] && !(i == 10 && s[i] == ' '))
				abort();
	}
	/* "...±hh:mm": the same wall time in UTC is t shifted back by the offset. */
	if (size >= 25 && (s[size - 6] == '+' || s[size - 6] == '-') && s[size - 3] == ':') {
		char utc[64];
		time_t u;
		memcpy(utc, s, size - 6);
		utc[size - 6] = 'Z';
		utc[size - 5] = '\0';
		long off = ((s[size - 5] - '0') * 10 + (s[size - 4] - '0')) * 3600L +
			   ((s[size - 2] - '0') * 10 + (s[size - 1] - '0')) * 60L;
		if (s[size - 6] == '-')
			off = -off;
		if (kube_parse_rfc3339(utc, &u) != SO_OK || u - off != t)
			abort();
	}
	return 0;
}

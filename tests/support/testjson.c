#include "support/testjson.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

json_t *J(const char *text)
{
	char *s = strdup(text);
	json_error_t e;
	json_t *j;

	assert_non_null(s);
	for (char *p = s; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	j = json_loads(s, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad JSON literal (line %d col %d: %s): %s", e.line, e.column, e.text, s);
	free(s);
	return j;
}

void print_json(const char *label, const json_t *j)
{
	char *s = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_INDENT(2)) : NULL;
	print_error("%s:\n%s\n", label, s ? s : "(null)");
	free(s);
}

void check_json(const json_t *got, const char *want_text)
{
	json_t *want = J(want_text);
	int same = json_equal((json_t *)got, want);
	if (!same) {
		print_json("expected", want);
		print_json("got", got);
	}
	json_decref(want);
	if (!same)
		fail_msg("JSON differs");
}

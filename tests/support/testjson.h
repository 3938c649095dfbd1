/* JSON helpers shared by the cmocka suites (linked into every test binary). */
#ifndef SO_TESTS_TESTJSON_H
#define SO_TESTS_TESTJSON_H

#include <jansson.h>

/* Parses a JSON literal written with ' for " (any JSON value); fails the test when it does not parse. */
json_t *J(const char *text);

/* Prints a labelled, sorted and indented rendering of j to cmocka's error output. */
void print_json(const char *label, const json_t *j);

/* Fails the test unless got equals the literal want_text (same quoting as J), printing both when not. */
void check_json(const json_t *got, const char *want_text);

#endif

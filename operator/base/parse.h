/* Strict number parsing for flags and config: the whole string must be a number inside [min, max]. */
#ifndef SO_UTIL_PARSE_H
#define SO_UTIL_PARSE_H

int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double min, double max, double *out);
/* A boolean as Go's strconv.ParseBool (and so Go's flag package) takes it: 1, t, T, TRUE, true, True, 0, f,
 * F, FALSE, false, False. */
int parse_bool(const char *s, int *out);

#endif

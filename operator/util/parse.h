/* Strict number parsing for flags and config: the whole string must be a number inside [min, max]. */
#ifndef SO_UTIL_PARSE_H
#define SO_UTIL_PARSE_H

int parse_long(const char *s, long min, long max, long *out);
int parse_double(const char *s, double min, double max, double *out);

#endif

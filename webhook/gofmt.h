/* Go's string forms, which the webhook's messages must match byte for byte: fmt's %q (strconv.Quote),
 * encoding/json's string and map[string]string renderings, and strconv.FormatFloat's shortest form. */
#ifndef SO_WEBHOOK_GOFMT_H
#define SO_WEBHOOK_GOFMT_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/buf.h"

/* Go's fmt %q of a string (strconv.Quote), and encoding/json's rendering of a string and of a
 * map[string]string (keys sorted, HTML-safe escapes). Every byte sequence is accepted. */
int gofmt_quote(struct buf *out, const char *s, size_t n);
int gofmt_json_string(struct buf *out, const char *s, size_t n);
int gofmt_json_string_map(struct buf *out, const json_t *map);

/* strconv.FormatFloat(d, 'g', -1, 64)-like: the shortest %g that reads back as d. */
void gofmt_float(double d, char *out, size_t n);

#endif

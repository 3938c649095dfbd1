/* Go's string forms, byte for byte: see gofmt.h. */
#include "webhook/gofmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

/* utf8.DecodeRuneInString: the rune at s (n > 0 bytes left) and its width; invalid input gives (-1, 1). */
static long decode_rune(const unsigned char *s, size_t n, size_t *width)
{
	unsigned c = s[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t need;
	long r;

	*width = 1;
	if (c < 0x80)
		return (long)c;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		r = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		r = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		r = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return -1;
	}
	if (n < need + 1)
		return -1;
	for (size_t i = 1; i <= need; i++) {
		unsigned b = s[i];
		if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
			return -1;
		r = (r << 6) | (long)(b & 0x3F);
	}
	*width = need + 1;
	return r;
}

/*
 * unicode.IsPrint for runes above ASCII, approximated: Go's tables call every letter, mark, number, punctuation
 * and symbol printable, and spaces other than U+0020, format characters, private use, surrogates and unassigned
 * code points not. We list the non-printable ranges that occur in practice; unassigned code points inside the
 * assigned blocks are treated as printable.
 */
static int rune_printable(long r)
{
	static const long ranges[][2] = {
		{ 0x80, 0xA0 },	      { 0xAD, 0xAD },	    { 0x378, 0x379 },	  { 0x600, 0x605 },
		{ 0x61C, 0x61C },     { 0x6DD, 0x6DD },	    { 0x70F, 0x70F },	  { 0x890, 0x891 },
		{ 0x8E2, 0x8E2 },     { 0x1680, 0x1680 },   { 0x180E, 0x180E },	  { 0x2000, 0x200F },
		{ 0x2028, 0x202F },   { 0x205F, 0x206F },   { 0x3000, 0x3000 },	  { 0xD800, 0xF8FF },
		{ 0xFEFF, 0xFEFF },   { 0xFFF0, 0xFFFB },   { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD },
		{ 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0000, 0xE00FF },
		{ 0xF0000, 0x10FFFF },
	};

	if ((r & 0xFFFE) == 0xFFFE) /* the two noncharacters at the end of every plane */
		return 0;
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		if (r >= ranges[i][0] && r <= ranges[i][1])
			return 0;
	}
	return 1;
}

int gofmt_quote(struct buf *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	int rc = buf_append(out, "\"", 1);

	for (size_t i = 0; rc == SO_OK && i < n;) {
		size_t w;
		long r = decode_rune(u + i, n - i, &w);

		if (r < 0) {
			rc = buf_appendf(out, "\\x%02x", u[i]);
		} else if (r == '"' || r == '\\') {
			rc = buf_appendf(out, "\\%c", (char)r);
		} else if (r >= 0x20 && r < 0x7F) {
			rc = buf_append(out, s + i, 1);
		} else if (r >= 0x80 && rune_printable(r)) {
			rc = buf_append(out, s + i, w);
		} else {
			switch (r) {
			case '\a': rc = buf_appends(out, "\\a"); break;
			case '\b': rc = buf_appends(out, "\\b"); break;
			case '\f': rc = buf_appends(out, "\\f"); break;
			case '\n': rc = buf_appends(out, "\\n"); break;
			case '\r': rc = buf_appends(out, "\\r"); break;
			case '\t': rc = buf_appends(out, "\\t"); break;
			case '\v': rc = buf_appends(out, "\\v"); break;
			default:
				if (r < 0x20 || r == 0x7F)
					rc = buf_appendf(out, "\\x%02x", (unsigned)r);
				else if (r < 0x10000)
					rc = buf_appendf(out, "\\u%04lx", (unsigned long)r);
				else
					rc = buf_appendf(out, "\\U%08lx", (unsigned long)r);
			}
		}
		i += w;
	}
	return rc == SO_OK ? buf_append(out, "\"", 1) : rc;
}

int gofmt_json_string(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	int rc = buf_append(out, "\"", 1);

	for (size_t i = 0; rc == SO_OK && i < n;) {
		size_t w;
		long r;

		if (u[i] < 0x80) {
			unsigned char b = u[i++];
			switch (b) {
			case '"': rc = buf_appends(out, "\\\""); break;
			case '\\': rc = buf_appends(out, "\\\\"); break;
			case '\b': rc = buf_appends(out, "\\b"); break;
			case '\f': rc = buf_appends(out, "\\f"); break;
			case '\n': rc = buf_appends(out, "\\n"); break;
			case '\r': rc = buf_appends(out, "\\r"); break;
			case '\t': rc = buf_appends(out, "\\t"); break;
			default:
				if (b < 0x20 || b == '<' || b == '>' || b == '&') {
					char e[6] = { '\\', 'u', '0', '0', hex[b >> 4], hex[b & 0xF] };
					rc = buf_append(out, e, sizeof e);
				} else {
					rc = buf_append(out, &b, 1);
				}
			}
			continue;
		}
		r = decode_rune(u + i, n - i, &w);
		if (r < 0)
			rc = buf_appends(out, "\\ufffd");
		else if (r == 0x2028 || r == 0x2029)
			rc = buf_appendf(out, "\\u%04lx", (unsigned long)r);
		else
			rc = buf_append(out, s + i, w);
		i += w;
	}
	return rc == SO_OK ? buf_append(out, "\"", 1) : rc;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int gofmt_json_string_map(struct buf *out, const json_t *map)
{
	size_t n = json_object_size(map), i = 0;
	const char **keys;
	const char *k;
	json_t *v;
	int rc;

	if (!json_is_object(map))
		return buf_appends(out, "null");
	keys = mem_calloc(n ? n : 1, sizeof *keys);
	json_object_foreach((json_t *)map, k, v) {
		keys[i++] = k;
	}
	qsort(keys, n, sizeof *keys, cmp_keys);
	rc = buf_append(out, "{", 1);
	for (i = 0; rc == SO_OK && i < n; i++) {
		const char *val = json_string_value(json_object_get(map, keys[i]));
		if (i > 0)
			rc = buf_append(out, ",", 1);
		if (rc == SO_OK)
			rc = gofmt_json_string(out, keys[i], strlen(keys[i]));
		if (rc == SO_OK)
			rc = buf_append(out, ":", 1);
		if (rc == SO_OK)
			rc = gofmt_json_string(out, val ? val : "", val ? strlen(val) : 0);
	}
	free(keys);
	return rc == SO_OK ? buf_append(out, "}", 1) : rc;
}


void gofmt_float(double d, char *out, size_t n)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

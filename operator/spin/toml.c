/*
 * go-toml v2's marshaler, reduced to the shapes in toml.h. The rules, as read from go-toml v2.2.2 and v2.2.4
 * (marshaler.go: encodeString, needsQuoting, encodeQuotedString, encodeKey, encodeTable,
 * encodeSliceAsArrayTable; internal/characters/ascii.go: InvalidAscii), which are identical for these shapes:
 *
 * Strings. A value is written as a literal string '...' unless one of its bytes is ', CR, LF, or an "invalid
 * ASCII" byte (0x00-0x08, 0x0B, 0x0C, 0x0E-0x1F, 0x7F): then it is a basic string "..." with \\ \" \b \f \n \r
 * \t escaped and the remaining control bytes and DEL as \u00XX (uppercase hex). TAB alone does not force the
 * basic form (literal strings may hold tabs); once in the basic form it is written \t. Bytes 0x80-0xFF, valid
 * UTF-8 or not, are copied as they are in both forms.
 *
 * Keys. The empty key is ''. A key made only of [A-Za-z0-9_-] is bare. Any other key is quoted: as a basic
 * string (same escapes as values) when it contains ' or would need the basic form as a value, else as a literal
 * string.
 *
 * Layout. A table's header "[a.b]" (each part quoted as a key) is written unless it is the root or an element of
 * an array of tables, whose header "[[a]]" comes first instead. Then its key/values ("k = v\n"), then its
 * sub-tables: a blank line before each sub-table except the first, which gets one only when key/values were
 * written. Elements of an array of tables are separated by a blank line. So an intermediate table with no
 * key/values prints its header immediately followed by its first child's header.
 */
#include "operator/spin/toml.h"

#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

struct key {
	const char *s;
	size_t n;
};

struct member {
	struct key key;
	const json_t *val;
};

static int invalid_ascii(unsigned char c)
{
	return c <= 0x08 || c == 0x0B || c == 0x0C || (c >= 0x0E && c <= 0x1F) || c == 0x7F;
}

/* go-toml's needsQuoting: must this string be written in the basic ("...") form? */
static int needs_basic(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\'' || c == '\r' || c == '\n' || invalid_ascii(c))
			return 1;
	}
	return 0;
}

static int append_literal(struct buf *out, const char *s, size_t n)
{
	int rc = buf_append(out, "'", 1);
	if (rc == SO_OK)
		rc = buf_append(out, s, n);
	if (rc == SO_OK)
		rc = buf_append(out, "'", 1);
	return rc;
}

static int append_basic(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = buf_append(out, "\"", 1);

	for (size_t i = 0; i < n && rc == SO_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		switch (c) {
		case '\\': esc = "\\\\"; break;
		case '"': esc = "\\\""; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default: break;
		}
		if (esc) {
			rc = buf_append(out, esc, 2);
		} else if (c < 0x20 || c == 0x7F) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0F] };
			rc = buf_append(out, u, sizeof u);
		} else {
			rc = buf_append(out, &s[i], 1);
		}
	}
	if (rc == SO_OK)
		rc = buf_append(out, "\"", 1);
	return rc;
}

int toml_append_string(struct buf *out, const char *s, size_t n)
{
	return needs_basic(s, n) ? append_basic(out, s, n) : append_literal(out, s, n);
}

static int bare_key_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int toml_append_key(struct buf *out, const char *k, size_t n)
{
	int quote = 0, basic = 0;

	if (n == 0)
		return buf_append(out, "''", 2);
	/* Byte-wise is enough: go-toml walks runes, but no byte of a multi-byte (or invalid) sequence is bare or '. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (bare_key_char(c))
			continue;
		quote = 1;
		if (c == '\'')
			basic = 1;
	}
	if (quote && needs_basic(k, n))
		basic = 1;
	if (basic)
		return append_basic(out, k, n);
	if (quote)
		return append_literal(out, k, n);
	return buf_append(out, k, n);
}

static int key_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->key.n < y->key.n ? x->key.n : y->key.n;
	int c = n ? memcmp(x->key.s, y->key.s, n) : 0;

	if (c)
		return c;
	return (x->key.n > y->key.n) - (x->key.n < y->key.n);
}

/* A non-empty array of objects is an array of tables; anything else in an array is unsupported. */
static int is_table_array(const json_t *v)
{
	size_t i;
	const json_t *e;

	if (json_array_size(v) == 0)
		return 0;
	json_array_foreach(v, i, e) {
		if (!json_is_object(e))
			return 0;
	}
	return 1;
}

static int write_path(struct buf *out, const struct key *path, size_t depth)
{
	int rc = SO_OK;

	for (size_t i = 0; i < depth && rc == SO_OK; i++) {
		if (i > 0)
			rc = buf_append(out, ".", 1);
		if (rc == SO_OK)
			rc = toml_append_key(out, path[i].s, path[i].n);
	}
	return rc;
}

/*
 * Splits obj's members into key/values and sub-tables (both arrays owned by the caller), sorted by key when
 * sorted is set, else in insertion order.
 */
static int split_members(const json_t *obj, int sorted, struct member **kvs, size_t *nkv, struct member **tabs,
			 size_t *ntab)
{
	size_t n = json_object_size(obj);
	void *it;

	*nkv = *ntab = 0;
	*kvs = mem_calloc(n, sizeof **kvs);
	*tabs = mem_calloc(n, sizeof **tabs);
	for (it = json_object_iter((json_t *)obj); it; it = json_object_iter_next((json_t *)obj, it)) {
		struct member m = { { json_object_iter_key(it), json_object_iter_key_len(it) },
				    json_object_iter_value(it) };
		if (json_is_string(m.val))
			(*kvs)[(*nkv)++] = m;
		else if (json_is_object(m.val) || is_table_array(m.val))
			(*tabs)[(*ntab)++] = m;
		else
			return SO_E_INVAL;
	}
	if (sorted) {
		qsort(*kvs, *nkv, sizeof **kvs, key_cmp);
		qsort(*tabs, *ntab, sizeof **tabs, key_cmp);
	}
	return SO_OK;
}

static int encode_table(struct buf *out, struct key *path, size_t depth, const json_t *obj, int sorted,
			int header);

static int encode_sub_table(struct buf *out, struct key *path, size_t depth, const struct member *t)
{
	const json_t *e;
	size_t i;
	int rc = SO_OK;

	if (depth >= TOML_MAX_DEPTH)
		return SO_E_INVAL;
	path[depth] = t->key;
	if (json_is_object(t->val))
		return encode_table(out, path, depth + 1, t->val, 1, 1);
	json_array_foreach(t->val, i, e) {
		if (i > 0)
			rc = buf_append(out, "\n", 1);
		if (rc == SO_OK)
			rc = buf_append(out, "[[", 2);
		if (rc == SO_OK)
			rc = write_path(out, path, depth + 1);
		if (rc == SO_OK)
			rc = buf_append(out, "]]\n", 3);
		if (rc == SO_OK)
			rc = encode_table(out, path, depth + 1, e, 0, 0);
		if (rc != SO_OK)
			break;
	}
	return rc;
}

/* go-toml's encodeTable: header (when asked and not the root), key/values, then sub-tables. */
static int encode_table(struct buf *out, struct key *path, size_t depth, const json_t *obj, int sorted,
			int header)
{
	struct member *kvs = NULL, *tabs = NULL;
	size_t nkv, ntab, i;
	int rc;

	rc = split_members(obj, sorted, &kvs, &nkv, &tabs, &ntab);
	if (rc == SO_OK && header && depth > 0) {
		rc = buf_append(out, "[", 1);
		if (rc == SO_OK)
			rc = write_path(out, path, depth);
		if (rc == SO_OK)
			rc = buf_append(out, "]\n", 2);
	}
	for (i = 0; i < nkv && rc == SO_OK; i++) {
		rc = toml_append_key(out, kvs[i].key.s, kvs[i].key.n);
		if (rc == SO_OK)
			rc = buf_append(out, " = ", 3);
		if (rc == SO_OK)
			rc = toml_append_string(out, json_string_value(kvs[i].val), json_string_length(kvs[i].val));
		if (rc == SO_OK)
			rc = buf_append(out, "\n", 1);
	}
	for (i = 0; i < ntab && rc == SO_OK; i++) {
		if (i > 0 || nkv > 0)
			rc = buf_append(out, "\n", 1);
		if (rc == SO_OK)
			rc = encode_sub_table(out, path, depth, &tabs[i]);
	}
	free(kvs);
	free(tabs);
	return rc;
}

int toml_encode(const json_t *root, struct buf *out)
{
	struct key path[TOML_MAX_DEPTH];
	size_t mark;
	int rc;

	if (!json_is_object(root) || !out)
		return SO_E_INVAL;
	mark = out->len;
	rc = encode_table(out, path, 0, root, 0, 0);
	if (rc != SO_OK && out->data) {
		/* Leave the buffer as it was, like a failed buf_append does. */
		out->len = mark;
		out->data[mark] = '\0';
	}
	return rc;
}

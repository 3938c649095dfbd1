/*
 * YAML ⇄ JSON (yamljson.h).
 *
 * Reading uses libyaml's event API and builds the jansson tree directly, with an explicit stack of open
 * mappings and sequences (at most YAML_MAX_DEPTH), so no recursion depends on the input. Anchored nodes are
 * kept once complete; an alias becomes a deep copy of its node and is charged that node's weight (64 per
 * node plus its scalar bytes, aliases inside it already expanded) against YAML_MAX_EXPANSION, which is what
 * stops exponential alias fan-out. An alias to a node that is not complete yet (its own ancestor) is an
 * unknown anchor, so cycles cannot arise.
 *
 * Writing is block style with two-space indentation and sequences inside mappings not indented (kubectl's
 * layout). A string is written plain only when it is printable ASCII, starts with a letter or one of "/_$(",
 * cannot be read as anything but a string by a YAML 1.2 or 1.1 reader and holds nothing YAML would
 * take for syntax; otherwise it is double-quoted, with escapes for everything that is not printable.
 */
#include "operator/base/yamljson.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

#define NODE_WEIGHT 64
#define TAG_PREFIX "tag:yaml.org,2002:"
#define LONG_KEY 512 /* bytes; longer keys are written as explicit "? key" (implicit keys stop at 1024 chars) */

/* ---------------------------------------------------------------------------------------------------- */
/* Reading                                                                                              */
/* ---------------------------------------------------------------------------------------------------- */

struct anchor {
	json_t *value;   /* the complete anchored node */
	char *text;      /* a scalar's text, for an alias used as a key; NULL for mappings and sequences */
	size_t text_len;
	size_t weight;
	int height;      /* 0 for a scalar, else 1 + the height of its highest child */
};

struct frame {
	json_t *node;    /* the object or array being filled */
	char *anchor;    /* its anchor, registered when it ends */
	char *key;       /* mappings: the key waiting for its value */
	size_t weight;
	int height;
	int is_map;
};

struct reader {
	const char *name;
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
	struct frame stack[YAML_MAX_DEPTH];
	int depth;
	json_t *root;          /* the current document's value, once complete */
	struct anchor *anchors;
	size_t nanchors;       /* in use in the current document */
	size_t defined;        /* anchors defined in the whole stream */
	size_t aliases;        /* aliases used in the whole stream */
	json_t *index;         /* anchor name → index into anchors, current document */
	size_t expanded;       /* weight of every alias expansion so far */
};

enum kind { K_STR, K_NULL, K_BOOL, K_INT, K_FLOAT, K_MAP, K_SEQ, K_BAD };

static int failf(struct reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(struct reader *r, int code, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int failf(struct reader *r, int code, const char *fmt, ...)
{
	if (r->err && r->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int fail_at(struct reader *r, int code, const yaml_mark_t *m, const char *fmt, ...)
{
	if (r->err && r->errlen) {
		int n = snprintf(r->err, r->errlen, "%s:%zu:%zu: ", r->name, m->line + 1, m->column + 1);
		if (n >= 0 && (size_t)n < r->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return code;
}

/* libyaml has no allocator hook: its own allocation failures come back as this. */
static int libyaml_nomem(struct reader *r)
{
	return failf(r, SO_E_NOMEM, "%s: libyaml ran out of memory", r->name);
}

/* jansson refuses strings that are not UTF-8; libyaml checks its input, so this is a second line of defence. */
static int not_utf8(struct reader *r)
{
	return failf(r, SO_E_INVAL, "%s: a scalar is not valid UTF-8", r->name);
}

/* A scalar for a message: at most 40 bytes, non-printable bytes as '?', "..." when cut. */
static const char *shown(const char *s, size_t n, char out[48])
{
	size_t i, m = n > 40 ? 40 : n;
	for (i = 0; i < m; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n > m)
		out[i++] = '.', out[i++] = '.', out[i++] = '.';
	out[i] = '\0';
	return out;
}

static int is_word(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int is_null(const char *s, size_t n)
{
	return n == 0 || is_word(s, n, "~") || is_word(s, n, "null") || is_word(s, n, "Null") || is_word(s, n, "NULL");
}

static int is_bool(const char *s, size_t n, int *b)
{
	if (is_word(s, n, "true") || is_word(s, n, "True") || is_word(s, n, "TRUE"))
		return *b = 1, 1;
	if (is_word(s, n, "false") || is_word(s, n, "False") || is_word(s, n, "FALSE"))
		return *b = 0, 1;
	return 0;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+: 1 when it fits int64 (*out set), -1 when it does not, 0 when the
 * text is no integer. *decimal tells the first form. */
static int match_int(const char *s, size_t n, json_int_t *out, int *decimal)
{
	size_t i = 0;
	int neg = 0, base = 10, over = 0;
	uint64_t v = 0, limit;

	if (n >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		base = s[1] == 'o' ? 8 : 16;
		i = 2;
	} else if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	*decimal = base == 10;
	if (i >= n)
		return 0;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		int d = digit_value(s[i]);
		if (d >= base)
			return 0;
		if (!over && v > (limit - (uint64_t)d) / (uint64_t)base)
			over = 1;
		else if (!over)
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (over)
		return -1;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? (json_int_t)INT64_MIN : -(json_int_t)v;
	else
		*out = (json_int_t)v;
	return 1;
}

static size_t digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	return *i - start;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int match_float(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i < n && s[i] == '.') {
		i++;
		if (!digits(s, n, &i))
			return 0;
	} else {
		if (!digits(s, n, &i))
			return 0;
		if (i < n && s[i] == '.') {
			i++;
			digits(s, n, &i);
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!digits(s, n, &i))
			return 0;
	}
	return i == n;
}

/* [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN) */
static int match_nonfinite(const char *s, size_t n)
{
	if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
		return is_word(s, n, ".inf") || is_word(s, n, ".Inf") || is_word(s, n, ".INF");
	}
	return is_word(s, n, ".inf") || is_word(s, n, ".Inf") || is_word(s, n, ".INF") || is_word(s, n, ".nan") ||
	       is_word(s, n, ".NaN") || is_word(s, n, ".NAN");
}

/* What a plain scalar resolves to under the core schema (K_BAD: .inf/.nan, out-of-range numbers). */
static enum kind classify(const char *s, size_t n)
{
	json_int_t i;
	int b, decimal, m;

	if (is_null(s, n))
		return K_NULL;
	if (is_bool(s, n, &b))
		return K_BOOL;
	m = match_int(s, n, &i, &decimal);
	if (m == 1)
		return K_INT;
	if (m == -1 && !decimal)
		return K_BAD;
	if (match_float(s, n))
		return K_FLOAT;
	if (match_nonfinite(s, n))
		return K_BAD;
	return K_STR;
}

/* The kind a tag asks for: K_STR for none/"!" on a quoted scalar, K_BAD for a tag we do not support. */
static enum kind tag_kind(const char *tag)
{
	static const struct {
		const char *name;
		enum kind kind;
	} tags[] = {
		{ "str", K_STR }, { "null", K_NULL }, { "bool", K_BOOL }, { "int", K_INT },
		{ "float", K_FLOAT }, { "map", K_MAP }, { "seq", K_SEQ },
	};
	if (!strcmp(tag, "!"))
		return K_STR;
	if (strncmp(tag, TAG_PREFIX, sizeof TAG_PREFIX - 1))
		return K_BAD;
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		if (!strcmp(tag + sizeof TAG_PREFIX - 1, tags[i].name))
			return tags[i].kind;
	}
	return K_BAD;
}

static const char *short_tag(const char *tag, char out[48])
{
	if (!strncmp(tag, TAG_PREFIX, sizeof TAG_PREFIX - 1)) {
		snprintf(out, 48, "!!%s", tag + sizeof TAG_PREFIX - 1);
		return out;
	}
	return shown(tag, strlen(tag), out);
}

/* A real from text that match_float accepted. */
static int to_real(struct reader *r, const yaml_event_t *ev, const char *s, size_t n, json_t **out)
{
	char small[128], *copy = n < sizeof small ? small : mem_alloc(n + 1), *end;
	double d;
	int bad;

	memcpy(copy, s, n);
	copy[n] = '\0';
	d = strtod(copy, &end);
	bad = end != copy + n || isinf(d) || isnan(d);
	if (copy != small)
		free(copy);
	if (bad)
		return fail_at(r, SO_E_INVAL, &ev->start_mark, "a number is out of range"); /* value not shown */
	*out = json_real(d); /* finite */
	return SO_OK;
}

/* The JSON value of a scalar event (not a key). */
static int scalar_value(struct reader *r, const yaml_event_t *ev, json_t **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	enum kind want;
	json_int_t i;
	int b, decimal, m;
	char tmp[48], tmp2[48];

	*out = NULL;
	if (tag) {
		want = tag_kind(tag);
		if (want == K_BAD || want == K_MAP || want == K_SEQ)
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "unsupported tag %s on a scalar",
				       short_tag(tag, tmp));
	} else if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		want = K_STR;
	} else {
		want = classify(s, n);
		if (want == K_BAD) {
			if (match_nonfinite(s, n))
				return fail_at(r, SO_E_INVAL, &ev->start_mark, "%s cannot be represented in JSON",
					       shown(s, n, tmp));
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "an integer does not fit in 64 bits");
		}
	}
	switch (want) {
	case K_NULL:
		if (!is_null(s, n))
			break;
		*out = json_null();
		return SO_OK;
	case K_BOOL:
		if (!is_bool(s, n, &b))
			break;
		*out = json_boolean(b);
		return SO_OK;
	case K_INT:
		m = match_int(s, n, &i, &decimal);
		if (m == -1)
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "an integer does not fit in 64 bits");
		if (m == 0)
			break;
		*out = json_integer(i);
		return SO_OK;
	case K_FLOAT:
		if (match_float(s, n))
			return to_real(r, ev, s, n, out);
		if (match_int(s, n, &i, &decimal) == 1) {
			*out = json_real((double)i);
			return SO_OK;
		}
		if (match_nonfinite(s, n))
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "%s cannot be represented in JSON",
				       shown(s, n, tmp));
		break;
	default:
		*out = json_stringn(s, n);
		return *out ? SO_OK : not_utf8(r);
	}
	/* The value is not shown: a kubeconfig's token could be the scalar (secret hygiene). */
	return fail_at(r, SO_E_INVAL, &ev->start_mark, "the scalar is not valid for tag %s",
		       tag ? short_tag(tag, tmp2) : "?");
}

static struct anchor *find_anchor(struct reader *r, const char *name)
{
	json_t *i = json_object_get(r->index, name);
	return i ? &r->anchors[json_integer_value(i)] : NULL;
}

/* Counts an anchor definition against YAML_MAX_ANCHORS (before the node is built). */
static int count_anchor(struct reader *r, const yaml_char_t *anchor, const yaml_mark_t *m)
{
	if (anchor && ++r->defined > YAML_MAX_ANCHORS)
		return fail_at(r, SO_E_TOO_LARGE, m, "more than %d anchors", YAML_MAX_ANCHORS);
	return SO_OK;
}

/* Remembers a complete node under name (v is borrowed; text copied). */
static int add_anchor(struct reader *r, const char *name, json_t *v, const char *text, size_t tlen, size_t weight,
		      int height)
{
	struct anchor *a;

	if (r->nanchors == YAML_MAX_ANCHORS)
		return failf(r, SO_E_TOO_LARGE, "%s: more than %d anchors", r->name, YAML_MAX_ANCHORS);
	if (!r->anchors)
		r->anchors = mem_calloc(YAML_MAX_ANCHORS, sizeof *r->anchors);
	a = &r->anchors[r->nanchors];
	a->text = NULL;
	if (text) {
		a->text = mem_alloc(tlen + 1);
		memcpy(a->text, text, tlen);
		a->text[tlen] = '\0';
	}
	a->text_len = tlen;
	/* Anchor names are ASCII letters, digits, '-' and '_' (libyaml's scanner): a valid key. */
	json_object_set_new(r->index, name, json_integer((json_int_t)r->nanchors));
	a->value = json_incref(v);
	a->weight = weight;
	a->height = height;
	r->nanchors++;
	return SO_OK;
}

static void clear_anchors(struct reader *r)
{
	for (size_t i = 0; i < r->nanchors; i++) {
		json_decref(r->anchors[i].value);
		free(r->anchors[i].text);
	}
	r->nanchors = 0;
	json_object_clear(r->index);
}

/* Places a complete node (stolen) into the open container, or makes it the document's root. */
static int add_node(struct reader *r, json_t *v, size_t weight, int height)
{
	struct frame *f;

	if (r->depth == 0) {
		json_decref(r->root);
		r->root = v;
		return SO_OK;
	}
	f = &r->stack[r->depth - 1];
	if (f->is_map) {
		int rc = json_object_set_new(f->node, f->key, v); /* a key from the input: jansson checks its UTF-8 */
		free(f->key);
		f->key = NULL;
		if (rc)
			return not_utf8(r);
	} else {
		json_array_append_new(f->node, v);
	}
	f->weight += weight;
	if (height + 1 > f->height)
		f->height = height + 1;
	return SO_OK;
}

static int mapping_wants_key(const struct reader *r)
{
	return r->depth > 0 && r->stack[r->depth - 1].is_map && !r->stack[r->depth - 1].key;
}

/* A mapping key: a scalar's text, kept as a string whatever it would resolve to. */
static int set_key(struct reader *r, const char *s, size_t n, const yaml_mark_t *m)
{
	struct frame *f = &r->stack[r->depth - 1];
	char tmp[48];

	if (memchr(s, '\0', n))
		return fail_at(r, SO_E_INVAL, m, "mapping key \"%s\" holds a NUL byte", shown(s, n, tmp));
	f->key = mem_alloc(n + 1);
	memcpy(f->key, s, n);
	f->key[n] = '\0';
	if (json_object_get(f->node, f->key))
		return fail_at(r, SO_E_INVAL, m, "duplicate key \"%s\"", shown(s, n, tmp));
	f->weight += n;
	return SO_OK;
}

static int on_scalar(struct reader *r, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	json_t *v = NULL;
	char tmp[48];
	int rc;

	if ((rc = count_anchor(r, ev->data.scalar.anchor, &ev->start_mark)))
		return rc;
	if (mapping_wants_key(r)) {
		enum kind k = tag ? tag_kind(tag) : K_STR;
		if (k == K_BAD || k == K_MAP || k == K_SEQ)
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "unsupported tag %s on a mapping key",
				       short_tag(tag, tmp));
		if (!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_word(s, n, "<<"))
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "merge keys (<<) are not supported");
		if ((rc = set_key(r, s, n, &ev->start_mark)))
			return rc;
		if (anchor) {
			if (!(v = json_stringn(s, n)))
				return not_utf8(r);
			rc = add_anchor(r, anchor, v, s, n, NODE_WEIGHT + n, 0);
			json_decref(v);
		}
		return rc;
	}
	if ((rc = scalar_value(r, ev, &v)))
		return rc;
	if (anchor && (rc = add_anchor(r, anchor, v, s, n, NODE_WEIGHT + n, 0))) {
		json_decref(v);
		return rc;
	}
	return add_node(r, v, NODE_WEIGHT + n, 0);
}

static int on_alias(struct reader *r, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = find_anchor(r, name);
	char tmp[48];

	if (!a)
		return fail_at(r, SO_E_INVAL, &ev->start_mark, "unknown anchor \"%s\"", shown(name, strlen(name), tmp));
	if (++r->aliases > YAML_MAX_ALIASES)
		return fail_at(r, SO_E_TOO_LARGE, &ev->start_mark, "more than %d aliases", YAML_MAX_ALIASES);
	if (a->weight > YAML_MAX_EXPANSION - r->expanded)
		return fail_at(r, SO_E_TOO_LARGE, &ev->start_mark,
			       "aliases expand to too much data (over the %u MiB expansion budget)",
			       YAML_MAX_EXPANSION >> 20);
	r->expanded += a->weight;
	if (mapping_wants_key(r)) {
		if (!a->text)
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "mapping keys must be scalars");
		return set_key(r, a->text, a->text_len, &ev->start_mark);
	}
	if (a->height > 0 && r->depth + a->height > YAML_MAX_DEPTH)
		return fail_at(r, SO_E_TOO_LARGE, &ev->start_mark, "nested deeper than %d", YAML_MAX_DEPTH);
	return add_node(r, json_deep_copy(a->value), a->weight, a->height);
}

static int on_start(struct reader *r, const yaml_event_t *ev)
{
	int is_map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	struct frame *f;
	char tmp[48];
	int rc;

	if (mapping_wants_key(r))
		return fail_at(r, SO_E_INVAL, &ev->start_mark, "mapping keys must be scalars");
	if (tag) {
		enum kind k = tag_kind(tag);
		if (strcmp(tag, "!") && k != (is_map ? K_MAP : K_SEQ))
			return fail_at(r, SO_E_INVAL, &ev->start_mark, "unsupported tag %s on a %s", short_tag(tag, tmp),
				       is_map ? "mapping" : "sequence");
	}
	if (r->depth == YAML_MAX_DEPTH)
		return fail_at(r, SO_E_TOO_LARGE, &ev->start_mark, "nested deeper than %d", YAML_MAX_DEPTH);
	if ((rc = count_anchor(r, anchor, &ev->start_mark)))
		return rc;
	f = &r->stack[r->depth];
	memset(f, 0, sizeof *f);
	f->is_map = is_map;
	f->weight = NODE_WEIGHT;
	f->height = 1;
	f->node = is_map ? json_object() : json_array();
	if (anchor)
		f->anchor = mem_strdup((const char *)anchor);
	r->depth++;
	return SO_OK;
}

static void free_frame(struct frame *f)
{
	json_decref(f->node);
	free(f->anchor);
	free(f->key);
	memset(f, 0, sizeof *f);
}

static int on_end(struct reader *r)
{
	struct frame f;
	int rc = SO_OK;

	if (r->depth == 0)
		return failf(r, SO_E_INVAL, "%s: unbalanced YAML events", r->name);
	f = r->stack[--r->depth];
	memset(&r->stack[r->depth], 0, sizeof r->stack[r->depth]);
	if (f.anchor)
		rc = add_anchor(r, f.anchor, f.node, NULL, 0, f.weight, f.height);
	if (rc == SO_OK) {
		rc = add_node(r, f.node, f.weight, f.height);
		f.node = NULL; /* stolen, even on failure */
	}
	free_frame(&f);
	return rc;
}

/* Line and column of a byte offset, for reader errors (which carry only the offset). */
static void offset_mark(const struct reader *r, size_t offset, yaml_mark_t *m)
{
	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < offset && i < r->len; i++) {
		if (r->text[i] == '\n') {
			m->line++;
			m->column = 0;
		} else {
			m->column++;
		}
	}
}

static int parser_error(struct reader *r, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	yaml_mark_t m;

	switch (p->error) {
	case YAML_MEMORY_ERROR: return libyaml_nomem(r);
	case YAML_READER_ERROR:
		offset_mark(r, p->problem_offset, &m);
		return fail_at(r, SO_E_INVAL, &m, "%s", problem);
	default:
		if (p->context)
			return fail_at(r, SO_E_INVAL, &p->problem_mark, "%s (%s at line %zu)", problem, p->context,
				       p->context_mark.line + 1);
		return fail_at(r, SO_E_INVAL, &p->problem_mark, "%s", problem);
	}
}

int yamljson_to_json(const char *text, size_t len, const char *name, json_t **docs, char *err, size_t errlen)
{
	struct reader r;
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *out;
	int rc = SO_OK, done = 0;

	memset(&r, 0, sizeof r);
	r.name = name ? name : "<input>";
	r.text = text ? text : "";
	r.len = text ? len : 0;
	r.err = err;
	r.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	*docs = NULL;
	if (len > YAML_MAX_INPUT)
		return failf(&r, SO_E_TOO_LARGE, "%s: larger than %u MiB", r.name, YAML_MAX_INPUT >> 20);
	if (!yaml_parser_initialize(&p))
		return libyaml_nomem(&r);
	out = json_array();
	r.index = json_object();
	yaml_parser_set_input_string(&p, (const unsigned char *)r.text, r.len);
	while (!done && rc == SO_OK) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = parser_error(&r, &p);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = 1; break;
		case YAML_DOCUMENT_START_EVENT:
			json_decref(r.root);
			r.root = NULL;
			clear_anchors(&r);
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (r.root && !json_is_null(r.root))
				json_array_append(out, r.root);
			json_decref(r.root);
			r.root = NULL;
			clear_anchors(&r);
			break;
		case YAML_SCALAR_EVENT: rc = on_scalar(&r, &ev); break;
		case YAML_ALIAS_EVENT: rc = on_alias(&r, &ev); break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: rc = on_start(&r, &ev); break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: rc = on_end(&r); break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	while (r.depth > 0)
		free_frame(&r.stack[--r.depth]);
	json_decref(r.root);
	clear_anchors(&r);
	free(r.anchors);
	json_decref(r.index);
	if (rc) {
		json_decref(out);
		return rc;
	}
	*docs = out;
	return SO_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Writing                                                                                              */
/* ---------------------------------------------------------------------------------------------------- */

/* Words some YAML reader (1.1 included) takes for a boolean or null, compared without case. */
static int special_word(const char *s, size_t n)
{
	static const char *const words[] = { "y", "n", "yes", "no", "on", "off", "true", "false", "null" };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strlen(words[i]) == n && !strncasecmp(s, words[i], n))
			return 1;
	}
	return 0;
}

static int plain_ok(const char *s, size_t n)
{
	unsigned char c0 = n ? (unsigned char)s[0] : 0;

	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '/' || c0 == '_' || c0 == '$' ||
	      c0 == '('))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e)
			return 0;
		if (c == ':' && (i + 1 == n || s[i + 1] == ' '))
			return 0;
		if (c == '#' && s[i - 1] == ' ')
			return 0;
	}
	if (s[n - 1] == ' ' || special_word(s, n))
		return 0;
	return classify(s, n) == K_STR;
}

/* Length of the UTF-8 sequence at s (n bytes left) and its code point; 0 when it is not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int write_quoted(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int rc = buf_append(b, "\"", 1);

	while (rc == SO_OK && i < n) {
		uint32_t cp;
		size_t len = utf8_decode(u + i, n - i, &cp);
		char esc[16] = "";

		if (!len)
			return SO_E_INVAL;
		switch (cp) {
		case '"': snprintf(esc, sizeof esc, "\\\""); break;
		case '\\': snprintf(esc, sizeof esc, "\\\\"); break;
		case '\n': snprintf(esc, sizeof esc, "\\n"); break;
		case '\t': snprintf(esc, sizeof esc, "\\t"); break;
		case '\r': snprintf(esc, sizeof esc, "\\r"); break;
		case 0: snprintf(esc, sizeof esc, "\\0"); break;
		case 0x2028: snprintf(esc, sizeof esc, "\\L"); break;
		case 0x2029: snprintf(esc, sizeof esc, "\\P"); break;
		default:
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
				snprintf(esc, sizeof esc, "\\x%02X", (unsigned)cp);
			else if (cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
				snprintf(esc, sizeof esc, "\\u%04X", (unsigned)cp);
		}
		if (esc[0]) {
			rc = buf_append(b, s + i - run, run);
			if (rc == SO_OK)
				rc = buf_appends(b, esc);
			run = 0;
		} else {
			run += len;
		}
		i += len;
	}
	if (rc == SO_OK)
		rc = buf_append(b, s + i - run, run);
	return rc == SO_OK ? buf_append(b, "\"", 1) : rc;
}

static int write_string(struct buf *b, const char *s, size_t n)
{
	return plain_ok(s, n) ? buf_append(b, s, n) : write_quoted(b, s, n);
}

/* The shortest "%.*g" that reads back as d, with ".0" added when it would otherwise read as an integer. */
static int write_real(struct buf *b, double d)
{
	char tmp[64];

	if (!isfinite(d))
		return SO_E_INVAL;
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	int rc = buf_appends(b, tmp);
	if (rc == SO_OK && !strpbrk(tmp, ".eE"))
		rc = buf_appends(b, ".0"); /* would read back as an integer */
	return rc;
}

/* A value on the rest of the current line: scalars and empty containers. */
static int write_inline(struct buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return buf_appends(b, "{}");
	case JSON_ARRAY: return buf_appends(b, "[]");
	case JSON_STRING: return write_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: return buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL: return write_real(b, json_real_value(v));
	case JSON_TRUE: return buf_appends(b, "true");
	case JSON_FALSE: return buf_appends(b, "false");
	default: return buf_appends(b, "null");
	}
}

static int is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) || (json_is_array(v) && json_array_size(v) > 0);
}

static int write_indent(struct buf *b, int col)
{
	static const char spaces[] = "                                                                ";
	int rc = SO_OK;
	while (rc == SO_OK && col > 0) {
		int k = col < (int)sizeof spaces - 1 ? col : (int)sizeof spaces - 1;
		rc = buf_append(b, spaces, (size_t)k);
		col -= k;
	}
	return rc;
}

static int write_map(struct buf *b, const json_t *obj, int col, int inline_first, int depth);
static int write_seq(struct buf *b, const json_t *arr, int col, int inline_first, int depth);

/* After "key:" (or "?"-style ":"): the value, on this line or as a block below. */
static int write_value(struct buf *b, const json_t *v, int col, int seq_col, int depth)
{
	int rc;

	if (!is_block(v)) {
		rc = buf_append(b, " ", 1);
		if (rc == SO_OK)
			rc = write_inline(b, v);
		return rc == SO_OK ? buf_append(b, "\n", 1) : rc;
	}
	rc = buf_append(b, "\n", 1);
	if (rc == SO_OK)
		rc = json_is_object(v) ? write_map(b, v, col + 2, 0, depth + 1) : write_seq(b, v, seq_col, 0, depth + 1);
	return rc;
}

static int write_map(struct buf *b, const json_t *obj, int col, int inline_first, int depth)
{
	const char *k;
	json_t *v;
	int rc = SO_OK, first = 1;

	if (depth > YAML_MAX_DEPTH)
		return SO_E_INVAL;
	json_object_foreach((json_t *)obj, k, v) {
		size_t klen = strlen(k);
		if (!(first && inline_first))
			rc = write_indent(b, col);
		first = 0;
		if (rc == SO_OK && klen > LONG_KEY) {
			/* An explicit key: "? key" then ":" on the next line, the value indented under it. */
			rc = buf_append(b, "? ", 2);
			if (rc == SO_OK)
				rc = write_quoted(b, k, klen);
			if (rc == SO_OK)
				rc = buf_append(b, "\n", 1);
			if (rc == SO_OK)
				rc = write_indent(b, col);
			if (rc == SO_OK)
				rc = buf_append(b, ":", 1);
			if (rc == SO_OK)
				rc = write_value(b, v, col, col + 2, depth);
		} else if (rc == SO_OK) {
			rc = write_string(b, k, klen);
			if (rc == SO_OK)
				rc = buf_append(b, ":", 1);
			if (rc == SO_OK)
				rc = write_value(b, v, col, col, depth);
		}
		if (rc)
			return rc;
	}
	return SO_OK;
}

static int write_seq(struct buf *b, const json_t *arr, int col, int inline_first, int depth)
{
	size_t i;
	json_t *v;
	int rc = SO_OK;

	if (depth > YAML_MAX_DEPTH)
		return SO_E_INVAL;
	json_array_foreach((json_t *)arr, i, v) {
		if (!(i == 0 && inline_first))
			rc = write_indent(b, col);
		if (rc == SO_OK)
			rc = buf_append(b, "- ", 2);
		if (rc == SO_OK) {
			if (json_is_object(v) && json_object_size(v) > 0)
				rc = write_map(b, v, col + 2, 1, depth + 1);
			else if (json_is_array(v) && json_array_size(v) > 0)
				rc = write_seq(b, v, col + 2, 1, depth + 1);
			else if ((rc = write_inline(b, v)) == SO_OK)
				rc = buf_append(b, "\n", 1);
		}
		if (rc)
			return rc;
	}
	return SO_OK;
}

int yamljson_from_json(const json_t *v, struct buf *out)
{
	size_t mark = out->len;
	int rc;

	if (!v)
		return SO_E_INVAL;
	if (json_is_object(v) && json_object_size(v) > 0)
		rc = write_map(out, v, 0, 0, 1);
	else if (json_is_array(v) && json_array_size(v) > 0)
		rc = write_seq(out, v, 0, 0, 1);
	else if ((rc = write_inline(out, v)) == SO_OK)
		rc = buf_append(out, "\n", 1);
	if (rc) {
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	return rc;
}

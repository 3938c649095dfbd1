#include "webhook/reviewslim.h"

#include <stdlib.h>
#include <string.h>

#include "operator/base/mem.h"

#define MAX_DEPTH 2048 /* jansson's own nesting limit: deeper bodies fail its parse anyway */
#define PATH_DEPTH 5   /* the deepest object holding a dropped member: request.object.metadata.annotations */

/* Where an object sits on the way to the dropped members; anything else is OFF. */
enum path { OFF, TOP, REQUEST, OBJECT, METADATA, ANNOTATIONS };

struct level {
	enum path path;
	enum path child;  /* the path of an object that is the current member's value */
	char want;        /* the current member is to be dropped when its value starts with this character */
	int first;        /* no member kept so far: the comma after a dropped member goes with it */
	size_t member_at; /* output length where the current member begins, its leading comma included */
	size_t key_end;   /* output length after the current member's name */
};

static int is_key(const char *k, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(k, lit, n) == 0;
}

/* A member named k[0..n) of the object at lv has begun: what becomes of it. */
static void on_key(struct level *lv, const char *k, size_t n)
{
	lv->child = OFF;
	lv->want = 0;
	switch (lv->path) {
	case TOP:
		if (is_key(k, n, "request"))
			lv->child = REQUEST;
		break;
	case REQUEST:
		if (is_key(k, n, "object") || is_key(k, n, "oldObject"))
			lv->child = OBJECT;
		break;
	case OBJECT:
		if (is_key(k, n, "metadata"))
			lv->child = METADATA;
		break;
	case METADATA:
		if (is_key(k, n, "annotations"))
			lv->child = ANNOTATIONS;
		else if (is_key(k, n, "managedFields"))
			lv->want = '[';
		break;
	case ANNOTATIONS:
		if (is_key(k, n, "kubectl.kubernetes.io/last-applied-configuration"))
			lv->want = '"';
		break;
	case OFF:
		break;
	}
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && is_space(s[i]))
		i++;
	return i;
}

static int only_space(const char *s, size_t n)
{
	return skip_space(s, n, 0) == n;
}

/* The index after the string opening at s[i] (a '"'), or 0 when it is not terminated or holds a raw
 * control character. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\')
			i++; /* the escaped character (of \uXXXX, the hex digits are plain) */
		else if ((unsigned char)s[i] < 0x20)
			return 0;
	}
	return i < len ? i + 1 : 0;
}

/* The index after the value starting at s[i] with want ('"' or '['), brackets matched and strings
 * terminated, no deeper than budget levels; 0 otherwise. */
static size_t skip_value(const char *s, size_t len, size_t i, char want, size_t budget)
{
	unsigned char closer[MAX_DEPTH];
	size_t depth = 0;

	if (i >= len || s[i] != want)
		return 0;
	if (want == '"')
		return skip_string(s, len, i);
	for (; i < len; i++) {
		switch (s[i]) {
		case '"':
			if (!(i = skip_string(s, len, i)))
				return 0;
			i--;
			break;
		case '[':
		case '{':
			if (depth == budget || depth == MAX_DEPTH)
				return 0;
			closer[depth++] = s[i] == '[' ? ']' : '}';
			break;
		case ']':
		case '}':
			if (depth == 0 || closer[depth - 1] != (unsigned char)s[i])
				return 0;
			if (--depth == 0)
				return i + 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

int reviewslim_review(const char *in, size_t len, char **out, size_t *out_len)
{
	unsigned char is_object[MAX_DEPTH];
	struct level lv[PATH_DEPTH + 1]; /* lv[d]: the object at depth d (1-based) while d <= PATH_DEPTH */
	size_t depth = 0, n = 0;
	int expect_key = 0, dropped = 0;
	char *o;

	*out = NULL;
	*out_len = 0;
	o = mem_alloc(len); /* the output is never longer than the input */
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		struct level *cur = depth && depth <= PATH_DEPTH && is_object[depth - 1] ? &lv[depth] : NULL;

		switch (c) {
		case '"': {
			size_t end = skip_string(in, len, i);
			if (!end)
				goto as_is; /* not JSON: the decoder says so */
			memcpy(o + n, in + i, end - i);
			n += end - i;
			if (expect_key) {
				expect_key = 0;
				if (cur) {
					on_key(cur, in + i + 1, end - i - 2);
					/* only blanks and its comma between the previous member and this one */
					size_t from = cur->member_at + (!cur->first && o[cur->member_at] == ',');
					if (cur->want && !only_space(o + from, n - (end - i) - from))
						goto as_is;
					cur->key_end = n;
				}
			}
			i = end - 1;
			continue;
		}
		case ':':
			if (cur && cur->want) {
				/* only blanks around the colon, a framed value of our type, then the member's end */
				size_t end = skip_value(in, len, skip_space(in, len, i + 1), cur->want, MAX_DEPTH - depth);
				if (!only_space(o + cur->key_end, n - cur->key_end) || !end)
					goto as_is;
				end = skip_space(in, len, end);
				if (end == len || (in[end] != ',' && in[end] != '}'))
					goto as_is;
				n = cur->member_at;
				cur->want = 0;
				dropped = 1;
				if (in[end] == ',' && cur->first) {
					i = end; /* its comma goes too; the next member is the first */
					expect_key = 1;
				} else {
					i = end - 1; /* the ',' or '}' is taken as after any member */
				}
				continue;
			}
			break;
		case '{':
		case '[': {
			if (depth == MAX_DEPTH)
				goto as_is;
			enum path p = OFF;
			if (c == '{')
				p = depth == 0 ? TOP : cur ? cur->child : OFF;
			is_object[depth++] = c == '{';
			if (depth <= PATH_DEPTH)
				lv[depth] = (struct level){ .path = p, .first = 1, .member_at = n + 1 };
			expect_key = c == '{';
			break;
		}
		case ',':
		case '}':
		case ']':
			if (depth == 0 || (c == '}' && !is_object[depth - 1]) || (c == ']' && is_object[depth - 1]))
				goto as_is;
			if (cur) { /* a member ends */
				if (cur->want)
					goto as_is; /* a member to drop that had no value */
				if (c == ',') {
					cur->first = 0;
					cur->member_at = n;
				}
				cur->child = OFF;
			}
			if (c == ',')
				expect_key = is_object[depth - 1];
			else
				depth--, expect_key = 0;
			break;
		default:
			break;
		}
		o[n++] = c;
	}
	if (depth != 0 || !dropped)
		goto as_is;
	*out = o;
	*out_len = n;
	return 1;
as_is:
	free(o);
	return 0;
}

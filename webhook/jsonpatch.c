/*
 * JSON Patch (RFC 6902) diff and apply, and JSON Pointer (RFC 6901) handling. See jsonpatch.h.
 */
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"
#include "webhook/jsonpatch.h"

/* A pointer can be as long as the document it points into; the cap only guards against runaway growth. */
#define PATH_CAP ((size_t)64 << 20)

int jsonpatch_pointer_push(struct buf *path, const char *token)
{
	int rc = buf_append(path, "/", 1);

	for (const char *p = token; rc == SO_OK && *p; p++) {
		if (*p == '~')
			rc = buf_append(path, "~0", 2);
		else if (*p == '/')
			rc = buf_append(path, "~1", 2);
		else
			rc = buf_append(path, p, 1);
	}
	return rc;
}

static void path_truncate(struct buf *path, size_t len)
{
	path->len = len;
	if (path->data)
		path->data[len] = '\0';
}

static int emit(json_t *ops, const char *op, const struct buf *path, const json_t *value)
{
	json_t *o = json_pack("{s:s, s:s}", "op", op, "path", path->data ? path->data : "");

	if (!o)
		return SO_E_INVAL; /* json_pack: a path that is not valid UTF-8 */
	if (value)
		json_object_set_new(o, "value", json_deep_copy(value));
	json_array_append_new(ops, o);
	return SO_OK;
}

static int diff(const json_t *a, const json_t *b, struct buf *path, json_t *ops);

static int diff_objects(const json_t *a, const json_t *b, struct buf *path, json_t *ops)
{
	size_t mark = path->len;
	const char *key;
	json_t *va, *vb;
	int rc = SO_OK;

	json_object_foreach((json_t *)a, key, va) {
		vb = json_object_get(b, key);
		rc = jsonpatch_pointer_push(path, key);
		if (rc == SO_OK)
			rc = vb ? diff(va, vb, path, ops) : emit(ops, "remove", path, NULL);
		path_truncate(path, mark);
		if (rc != SO_OK)
			return rc;
	}
	json_object_foreach((json_t *)b, key, vb) {
		if (json_object_get(a, key))
			continue;
		rc = jsonpatch_pointer_push(path, key);
		if (rc == SO_OK)
			rc = emit(ops, "add", path, vb);
		path_truncate(path, mark);
		if (rc != SO_OK)
			return rc;
	}
	return SO_OK;
}

static int diff_arrays(const json_t *a, const json_t *b, struct buf *path, json_t *ops)
{
	size_t na = json_array_size(a), nb = json_array_size(b), common = na < nb ? na : nb, mark = path->len;
	int rc = SO_OK;

	for (size_t i = 0; rc == SO_OK && i < common; i++) {
		rc = buf_appendf(path, "/%zu", i);
		if (rc == SO_OK)
			rc = diff(json_array_get(a, i), json_array_get(b, i), path, ops);
		path_truncate(path, mark);
	}
	for (size_t i = common; rc == SO_OK && i < nb; i++) {
		rc = buf_appendf(path, "/%zu", i);
		if (rc == SO_OK)
			rc = emit(ops, "add", path, json_array_get(b, i));
		path_truncate(path, mark);
	}
	for (size_t i = na; rc == SO_OK && i > common; i--) {
		rc = buf_appendf(path, "/%zu", i - 1);
		if (rc == SO_OK)
			rc = emit(ops, "remove", path, NULL);
		path_truncate(path, mark);
	}
	return rc;
}

static int diff(const json_t *a, const json_t *b, struct buf *path, json_t *ops)
{
	if (a == b)
		return SO_OK; /* shared by both documents */
	if (json_typeof(a) == json_typeof(b)) {
		if (json_is_object(a))
			return diff_objects(a, b, path, ops);
		if (json_is_array(a))
			return diff_arrays(a, b, path, ops);
		if (json_equal((json_t *)a, (json_t *)b))
			return SO_OK;
	}
	return emit(ops, "replace", path, b);
}

int jsonpatch_diff(const json_t *from, const json_t *to, json_t **ops)
{
	struct buf path = BUF_INIT(PATH_CAP);
	int rc;

	*ops = json_array();
	if (!from || !to)
		return SO_E_INVAL;
	rc = buf_append(&path, "", 0);
	if (rc == SO_OK)
		rc = diff(from, to, &path, *ops);
	buf_free(&path);
	if (rc != SO_OK) {
		json_decref(*ops);
		*ops = NULL;
		return rc;
	}
	return SO_OK;
}

/* ---- apply ---- */

struct pointer {
	char **tok;
	size_t n;
};

static void pointer_free(struct pointer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i]);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

static int pointer_parse(const char *s, struct pointer *p)
{
	size_t count = 0;

	p->tok = NULL;
	p->n = 0;
	if (*s == '\0')
		return SO_OK;
	if (*s != '/')
		return SO_E_INVAL;
	for (const char *c = s; *c; c++)
		count += *c == '/';
	p->tok = mem_calloc(count, sizeof *p->tok);
	while (*s == '/') {
		const char *start = ++s;
		size_t len = strcspn(start, "/");
		char *t = mem_alloc(len + 1), *o = t;
		p->tok[p->n++] = t;
		for (size_t i = 0; i < len; i++) {
			if (start[i] != '~') {
				*o++ = start[i];
				continue;
			}
			if (i + 1 < len && (start[i + 1] == '0' || start[i + 1] == '1')) {
				*o++ = start[i + 1] == '0' ? '~' : '/';
				i++;
				continue;
			}
			*o = '\0';
			pointer_free(p);
			return SO_E_INVAL;
		}
		*o = '\0';
		s = start + len;
	}
	return SO_OK;
}

/* An array index token: "0" or digits without a leading zero, below size (or equal to it when end_ok). */
static int array_index(const char *tok, size_t size, int end_ok, size_t *out)
{
	size_t v = 0;

	if (*tok == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		return SO_E_INVAL;
	for (const char *c = tok; *c; c++) {
		if (*c < '0' || *c > '9' || v > size / 10 + 1)
			return SO_E_INVAL;
		v = v * 10 + (size_t)(*c - '0');
	}
	if (v > size || (v == size && !end_ok))
		return SO_E_INVAL;
	*out = v;
	return SO_OK;
}

/* The value at the first upto tokens of p, or NULL. */
static json_t *resolve(json_t *doc, const struct pointer *p, size_t upto)
{
	json_t *cur = doc;
	size_t idx;

	for (size_t i = 0; cur && i < upto; i++) {
		if (json_is_object(cur))
			cur = json_object_get(cur, p->tok[i]);
		else if (json_is_array(cur) && array_index(p->tok[i], json_array_size(cur), 0, &idx) == SO_OK)
			cur = json_array_get(cur, idx);
		else
			cur = NULL;
	}
	return cur;
}

/* Replaces the contents of the root container doc with those of value (same type). Takes value. */
static int replace_root(json_t *doc, json_t *value)
{
	int rc = SO_E_INVAL;

	if (json_is_object(doc) && json_is_object(value)) {
		json_object_clear(doc);
		json_object_update(doc, value);
		rc = SO_OK;
	} else if (json_is_array(doc) && json_is_array(value)) {
		json_array_clear(doc);
		json_array_extend(doc, value);
		rc = SO_OK;
	}
	json_decref(value);
	return rc;
}

/* add (replace = 0) or replace (1). Takes value. */
static int put_value(json_t *doc, const struct pointer *p, json_t *value, int replace)
{
	json_t *parent;
	const char *last;
	size_t idx;

	if (p->n == 0)
		return replace_root(doc, value);
	parent = resolve(doc, p, p->n - 1);
	last = p->tok[p->n - 1];
	if (json_is_object(parent)) {
		if (replace && !json_object_get(parent, last))
			goto inval;
		return json_object_set_new(parent, last, value) ? SO_E_INVAL : SO_OK; /* a key from the input */
	}
	if (json_is_array(parent)) {
		size_t size = json_array_size(parent);
		if (!replace && strcmp(last, "-") == 0) {
			json_array_append_new(parent, value);
			return SO_OK;
		}
		if (array_index(last, size, !replace, &idx) != SO_OK)
			goto inval;
		if (replace)
			json_array_set_new(parent, idx, value);
		else
			json_array_insert_new(parent, idx, value);
		return SO_OK;
	}
inval:
	json_decref(value);
	return SO_E_INVAL;
}

static int remove_value(json_t *doc, const struct pointer *p)
{
	json_t *parent;
	const char *last;
	size_t idx;

	if (p->n == 0)
		return SO_E_INVAL;
	parent = resolve(doc, p, p->n - 1);
	last = p->tok[p->n - 1];
	if (json_is_object(parent))
		return json_object_del(parent, last) ? SO_E_INVAL : SO_OK;
	if (json_is_array(parent) && array_index(last, json_array_size(parent), 0, &idx) == SO_OK)
		return json_array_remove(parent, idx) ? SO_E_INVAL : SO_OK;
	return SO_E_INVAL;
}

/* Whether pointer a is a proper prefix of pointer b (move may not put a value inside itself). */
static int proper_prefix(const struct pointer *a, const struct pointer *b)
{
	if (a->n >= b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->tok[i], b->tok[i]) != 0)
			return 0;
	}
	return 1;
}

static int apply_one(json_t *doc, const json_t *op)
{
	const char *name = json_string_value(json_object_get(op, "op"));
	const char *path_s = json_string_value(json_object_get(op, "path"));
	const char *from_s = json_string_value(json_object_get(op, "from"));
	const json_t *value = json_object_get(op, "value");
	struct pointer path = { 0 }, from = { 0 };
	json_t *v;
	int rc;

	if (!json_is_object(op) || !name || !path_s)
		return SO_E_INVAL;
	rc = pointer_parse(path_s, &path);
	if (rc != SO_OK)
		return rc;
	if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0) {
		rc = value ? put_value(doc, &path, json_deep_copy(value), name[0] == 'r') : SO_E_INVAL;
	} else if (strcmp(name, "remove") == 0) {
		rc = remove_value(doc, &path);
	} else if (strcmp(name, "test") == 0) {
		v = resolve(doc, &path, path.n);
		rc = value && v && json_equal(v, (json_t *)value) ? SO_OK : SO_E_INVAL;
	} else if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
		rc = from_s ? pointer_parse(from_s, &from) : SO_E_INVAL;
		if (rc == SO_OK) {
			v = resolve(doc, &from, from.n);
			if (!v || (name[0] == 'm' && proper_prefix(&from, &path)))
				rc = SO_E_INVAL;
		}
		if (rc == SO_OK) {
			v = json_deep_copy(v);
			if (name[0] == 'm' && from.n > 0 && (rc = remove_value(doc, &from)) != SO_OK)
				json_decref(v);
			else
				rc = put_value(doc, &path, v, 0);
		}
	} else {
		rc = SO_E_INVAL;
	}
	pointer_free(&path);
	pointer_free(&from);
	return rc;
}

int jsonpatch_apply(json_t *doc, const json_t *ops)
{
	const json_t *op;
	size_t i;
	int rc;

	if (!doc || !json_is_array(ops))
		return SO_E_INVAL;
	json_array_foreach(ops, i, op) {
		rc = apply_one(doc, op);
		if (rc != SO_OK)
			return rc;
	}
	return SO_OK;
}

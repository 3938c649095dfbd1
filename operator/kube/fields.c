#include "operator/kube/fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "operator/base/mem.h"

/* Field names we look up are short; a longer member name simply cannot be in a field set we consult. */
#define NAME_MAX_LEN 512

/* A fieldsV1 node that maps to {} (or only to "."): the value it names is owned whole, or (with only ".")
 * just its existence. */
static int is_leaf(const json_t *node)
{
	return json_object_size(node) == 0;
}

static int only_self(const json_t *node)
{
	return json_object_size(node) == 1 && json_object_get(node, ".");
}

/* Scalars compare by value (a key's 80 matches a live 80 whether either is stored as integer or real). */
static int scalar_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	return a && b && json_equal((json_t *)a, (json_t *)b);
}

/* One parsed list path element of a field set node. */
struct elem {
	char type;            /* 'k', 'v', 'i', or 0 (".", or a kind we do not know: never matches) */
	json_t *value;        /* k: the key fields; v: the item (owned) */
	unsigned long long index;
	const json_t *node;   /* the child node (borrowed from the field set) */
};

static void parse_elem(const char *key, const json_t *node, struct elem *e)
{
	memset(e, 0, sizeof *e);
	e->node = node;
	if ((key[0] != 'k' && key[0] != 'v' && key[0] != 'i') || key[1] != ':')
		return;
	if (key[0] == 'i') {
		char *end = NULL;
		e->index = strtoull(key + 2, &end, 10);
		if (end && end != key + 2 && *end == '\0')
			e->type = 'i';
		return;
	}
	e->value = json_loads(key + 2, JSON_DECODE_ANY, NULL);
	if (e->value && (key[0] == 'v' || json_is_object(e->value)))
		e->type = key[0];
}

/* Whether item (at original index i) is the one e names: every key field equal, the same value, or the index. */
static int elem_matches(const struct elem *e, const json_t *item, size_t i)
{
	const char *k;
	json_t *v;
	switch (e->type) {
	case 'i':
		return e->index == (unsigned long long)i;
	case 'v':
		return json_equal(e->value, (json_t *)item);
	case 'k':
		if (!json_is_object(item))
			return 0;
		json_object_foreach(e->value, k, v) {
			if (!scalar_equal(v, json_object_get(item, k)))
				return 0;
		}
		return 1;
	default:
		return 0;
	}
}

static int prune_object(json_t *value, const json_t *fields)
{
	char name[NAME_MAX_LEN + 3];
	const char *k;
	json_t *v, *tmp;
	int rc = SO_OK;

	json_object_foreach_safe(value, tmp, k, v) {
		const json_t *child = NULL;
		if (strlen(k) <= NAME_MAX_LEN) {
			snprintf(name, sizeof name, "f:%s", k);
			child = json_object_get(fields, name);
		}
		if (!child) {
			json_object_del(value, k);
		} else if (!is_leaf(child) && (rc = kube_prune_fields(v, child))) {
			break;
		}
	}
	return rc;
}

static int prune_array(json_t *value, const json_t *fields)
{
	size_t n = json_object_size(fields), m = 0, i = 0, orig = 0;
	struct elem *elems = mem_calloc(n, sizeof *elems);
	const char *k;
	json_t *node;
	int rc = SO_OK;

	json_object_foreach((json_t *)fields, k, node)
		parse_elem(k, node, &elems[m++]);
	while (i < json_array_size(value)) {
		json_t *item = json_array_get(value, i);
		const json_t *child = NULL;
		for (size_t j = 0; j < m && !child; j++) {
			if (elem_matches(&elems[j], item, orig))
				child = elems[j].node;
		}
		orig++;
		if (!child) {
			json_array_remove(value, i);
			continue;
		}
		if (!is_leaf(child) && !only_self(child) && (rc = kube_prune_fields(item, child)))
			goto out;
		i++;
	}
out:
	for (size_t j = 0; j < m; j++)
		json_decref(elems[j].value);
	free(elems);
	return rc;
}

int kube_prune_fields(json_t *value, const json_t *fields)
{
	if (!json_is_object(fields))
		return SO_E_INVAL;
	if (is_leaf(fields))
		return SO_OK;
	if (json_is_object(value))
		return prune_object(value, fields);
	if (json_is_array(value))
		return prune_array(value, fields);
	return SO_OK; /* a scalar cannot be narrowed */
}

const json_t *kube_applied_fields(const json_t *obj, const char *manager)
{
	const json_t *entries = json_object_get(json_object_get(obj, "metadata"), "managedFields"), *e;
	size_t i;
	json_array_foreach(entries, i, e) {
		const char *m = json_string_value(json_object_get(e, "manager"));
		const char *op = json_string_value(json_object_get(e, "operation"));
		const char *sub = json_string_value(json_object_get(e, "subresource"));
		if (m && op && !strcmp(m, manager) && !strcmp(op, "Apply") && (!sub || !*sub))
			return json_object_get(e, "fieldsV1");
	}
	return NULL;
}

int kube_prune_to_applied(json_t *obj, const char *manager)
{
	const json_t *fields = kube_applied_fields(obj, manager);
	json_t *meta = json_object_get(obj, "metadata"), *v, *tmp;
	const char *k;
	int rc = SO_OK;

	if (!json_is_object(fields))
		return 0;
	json_incref((json_t *)fields); /* held while obj changes around it */
	json_object_foreach_safe(obj, tmp, k, v) {
		if (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "status") || !strcmp(k, "metadata"))
			continue;
		if (strlen(k) > NAME_MAX_LEN) {
			json_object_del(obj, k);
			continue;
		}
		char name[NAME_MAX_LEN + 3];
		snprintf(name, sizeof name, "f:%s", k);
		const json_t *child = json_object_get(fields, name);
		if (!child)
			json_object_del(obj, k);
		else if ((rc = kube_prune_fields(v, child)))
			goto out;
	}
	json_t *ann = json_object_get(meta, "annotations");
	if (ann) {
		const json_t *child = json_object_get(json_object_get(fields, "f:metadata"), "f:annotations");
		if (!child)
			json_object_del(meta, "annotations");
		else if ((rc = kube_prune_fields(ann, child)))
			goto out;
	}
	rc = 1;
out:
	json_decref((json_t *)fields);
	return rc;
}

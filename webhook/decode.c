/* encoding/json's type checks for the fields the rules read: see decode.h. */
#include "webhook/decode.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/gofmt.h"

int decode_type_error(struct buf *msg, const json_t *v, const char *go_struct, const char *path,
			 const char *go_type)
{
	char num[48];
	const char *kind;

	switch (json_typeof(v)) {
	case JSON_STRING: kind = "string"; break;
	case JSON_TRUE:
	case JSON_FALSE: kind = "bool"; break;
	case JSON_OBJECT: kind = "object"; break;
	case JSON_ARRAY: kind = "array"; break;
	case JSON_INTEGER:
	case JSON_REAL:
		/* A number that does not fit a numeric field is shown with its value; otherwise just "number". */
		kind = "number";
		if (strncmp(go_type, "int", 3) == 0 || strncmp(go_type, "uint", 4) == 0) {
			if (json_is_integer(v))
				snprintf(num, sizeof num, "number %" JSON_INTEGER_FORMAT, json_integer_value(v));
			else {
				memcpy(num, "number ", 7);
				gofmt_float(json_real_value(v), num + 7, sizeof num - 7);
			}
			kind = num;
		}
		break;
	default: kind = "null"; break;
	}
	buf_reset(msg);
	buf_appendf(msg, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", kind, go_struct, path,
		    go_type);
	return SO_E_INVAL;
}

/* obj[key], or NULL when absent or null (Go leaves the field at its zero value for both). */
static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return v && !json_is_null(v) ? v : NULL;
}

int decode_string(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg)
{
	const json_t *v = member(obj, key);
	return !v || json_is_string(v) ? SO_OK : decode_type_error(msg, v, go_struct, path, "string");
}

int decode_bool(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg)
{
	const json_t *v = member(obj, key);
	return !v || json_is_boolean(v) ? SO_OK : decode_type_error(msg, v, go_struct, path, "bool");
}

int decode_int32(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg)
{
	const json_t *v = member(obj, key);

	if (!v || (json_is_integer(v) && json_integer_value(v) >= INT32_MIN && json_integer_value(v) <= INT32_MAX))
		return SO_OK;
	return decode_type_error(msg, v, go_struct, path, "int32");
}

int decode_object(const json_t *obj, const char *key, const char *go_struct, const char *path,
		  const char *go_type, struct buf *msg)
{
	const json_t *v = member(obj, key);
	return !v || json_is_object(v) ? SO_OK : decode_type_error(msg, v, go_struct, path, go_type);
}

int decode_array(const json_t *obj, const char *key, const char *go_struct, const char *path, const char *go_type,
		 struct buf *msg)
{
	const json_t *v = member(obj, key);
	return !v || json_is_array(v) ? SO_OK : decode_type_error(msg, v, go_struct, path, go_type);
}

int decode_string_map(const json_t *obj, const char *key, const char *go_struct, const char *path,
		      struct buf *msg)
{
	const json_t *v = member(obj, key), *e;
	const char *k;

	if (!v)
		return SO_OK;
	if (!json_is_object(v))
		return decode_type_error(msg, v, go_struct, path, "map[string]string");
	json_object_foreach((json_t *)v, k, e) {
		if (!json_is_null(e) && !json_is_string(e))
			return decode_type_error(msg, e, go_struct, path, "string");
	}
	return SO_OK;
}

int decode_metadata(const json_t *obj, const char *go_struct, struct buf *msg)
{
	const json_t *meta = member(obj, "metadata");
	int rc = decode_object(obj, "metadata", go_struct, "metadata", "v1.ObjectMeta", msg);

	if (rc == SO_OK)
		rc = decode_string(meta, "name", "ObjectMeta", "metadata.name", msg);
	if (rc == SO_OK)
		rc = decode_string(meta, "generateName", "ObjectMeta", "metadata.generateName", msg);
	if (rc == SO_OK)
		rc = decode_string(meta, "namespace", "ObjectMeta", "metadata.namespace", msg);
	if (rc == SO_OK)
		rc = decode_string_map(meta, "labels", "ObjectMeta", "metadata.labels", msg);
	if (rc == SO_OK)
		rc = decode_string_map(meta, "annotations", "ObjectMeta", "metadata.annotations", msg);
	return rc;
}

#ifndef SO_WEBHOOK_DECODE_H
#define SO_WEBHOOK_DECODE_H

#include <jansson.h>

#include "operator/base/buf.h"

/*
 * The typed decode controller-runtime does before calling the rules, reduced to the fields the rules
 * read. A JSON type that Go could not put into the field fails the request (admission.Errored 400) with
 * encoding/json's message: "json: cannot unmarshal <json type> into Go struct field <Struct>.<path> of type
 * <Go type>". decode_type_error formats it (SO_E_INVAL) into msg.
 */
int decode_type_error(struct buf *msg, const json_t *v, const char *go_struct, const char *path,
			 const char *go_type);
/* Checks obj[key] (absent and null always pass): a JSON string, bool, int32 (integer in range), object, array,
 * or map of strings. SO_OK or SO_E_INVAL with msg set. */
int decode_string(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg);
int decode_bool(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg);
int decode_int32(const json_t *obj, const char *key, const char *go_struct, const char *path, struct buf *msg);
int decode_object(const json_t *obj, const char *key, const char *go_struct, const char *path,
		  const char *go_type, struct buf *msg);
int decode_array(const json_t *obj, const char *key, const char *go_struct, const char *path, const char *go_type,
		 struct buf *msg);
int decode_string_map(const json_t *obj, const char *key, const char *go_struct, const char *path,
		      struct buf *msg);
/* metadata: an ObjectMeta with string name/namespace/generateName and string-map labels/annotations. */
int decode_metadata(const json_t *obj, const char *go_struct, struct buf *msg);

#endif

/*
 * YAML streams ⇄ JSON values, for manifests (spin-operator render) rather than configuration files.
 *
 * yamljson_to_json reads a YAML 1.2 stream with libyaml's event API and resolves plain scalars by the core
 * schema: null/Null/NULL/~/empty → null, true/True/TRUE/false/False/FALSE → boolean, decimal, 0o octal and
 * 0x hex integers that fit int64 → integer, other core-schema floats → real, everything else a string.
 * Quoted and block scalars are strings. The explicit tags !!str, !!int, !!float, !!bool, !!null, !!map and
 * !!seq are honoured; any other tag is refused. Mapping keys must be scalars and are always strings, as
 * written ("true", "1"). Refused as well: duplicate keys, merge keys (<<), .inf/.nan (JSON cannot hold
 * them), keys holding a NUL byte.
 *
 * The input is untrusted: it is capped at YAML_MAX_INPUT bytes, nesting at YAML_MAX_DEPTH, anchors at
 * YAML_MAX_ANCHORS, aliases at YAML_MAX_ALIASES, and every alias expansion is charged to a budget so that "billion laughs" inputs fail
 * with SO_E_TOO_LARGE instead of allocating gigabytes. Errors name the source and position, e.g.
 *   app.yaml:12:3: duplicate key "name"
 *
 * yamljson_from_json writes the block-style YAML of a JSON value that yamljson_to_json reads back as an equal value
 * (and that YAML 1.1 readers such as kubectl read the same way: strings that could pass for anything else,
 * "yes", "on", "0755", "1e3", are quoted).
 */
#ifndef SO_UTIL_YAML_H
#define SO_UTIL_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/buf.h"

#define YAML_MAX_INPUT (8u << 20)   /* bytes of one stream */
#define YAML_MAX_DEPTH 64           /* nested mappings and sequences, aliases expanded */
#define YAML_MAX_ANCHORS 1024       /* anchors defined in one stream */
#define YAML_MAX_ALIASES 16384      /* aliases used in one stream */
#define YAML_MAX_EXPANSION (32u << 20) /* weight of all alias expansions: 64 per node plus scalar bytes */

/*
 * Parses every document of text (len bytes, need not be NUL-terminated) into *docs, a new JSON array holding
 * one value per document; documents that are empty or null ("---" alone) are left out. name labels error
 * messages. Returns 0, or SO_E_INVAL (bad YAML, with "name:line:column: problem" in err), SO_E_TOO_LARGE
 * (a cap above) or SO_E_NOMEM (only libyaml's own allocation failing: it has no allocator hook; ours abort),
 * with *docs NULL. err never quotes a scalar's value, only where it is: a kubeconfig token could be that value.
 */
int yamljson_to_json(const char *text, size_t len, const char *name, json_t **docs, char *err, size_t errlen);

/*
 * Appends v as one YAML document (no "---" line) to out. Returns 0, SO_E_INVAL (v nested deeper than
 * YAML_MAX_DEPTH, or a non-finite real) or SO_E_TOO_LARGE (out's cap); out is left as it was
 * on failure.
 */
int yamljson_from_json(const json_t *v, struct buf *out);

#endif

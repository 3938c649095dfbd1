/*
 * A minimal TOML writer that reproduces, byte for byte, what github.com/pelletier/go-toml/v2 (v2.2.2 to v2.2.4,
 * marshaler.go) writes for the document shapes upstream spin-operator marshals: a root struct whose fields are
 * arrays of structs ([[array tables]]) or maps, maps of maps (tables of tables) and maps of strings.
 * Internal to the builders; not part of spin.h.
 *
 * The document is a jansson tree:
 *   - an object is a table. The root object and the elements of an array of tables are Go structs: their members
 *     are written in insertion order. Every other object is a Go map: its members are written sorted by key
 *     bytes (strings.Compare).
 *   - a string member is a key/value; an object member is a sub-table; a non-empty array of objects is an array
 *     of tables. Inside one table, key/values come first, then sub-tables, each group in the order above.
 *   - nothing else is supported (numbers, booleans, empty arrays, arrays of strings): SO_E_INVAL.
 * Omitting empty root fields (go-toml's omitempty) is the caller's business: an empty object is written as a
 * table header with nothing under it, as go-toml does for an empty map without omitempty.
 */
#ifndef SO_BUILD_TOML_H
#define SO_BUILD_TOML_H

#include <jansson.h>
#include <stddef.h>

#include "operator/base/buf.h"

/* The deepest table nesting toml_encode accepts (a.b.c... headers), to bound recursion. */
#define TOML_MAX_DEPTH 16

/* Appends the TOML form of root to out. SO_E_INVAL for an unsupported shape, SO_E_TOO_LARGE past out's cap. */
int toml_encode(const json_t *root, struct buf *out);

/* Appends one value string (s, n bytes, may hold NULs) quoted as go-toml does: '...' or "..." with escapes. */
int toml_append_string(struct buf *out, const char *s, size_t n);

/* Appends one key part: bare, '...', or "..." as go-toml chooses; the empty key is ''. */
int toml_append_key(struct buf *out, const char *k, size_t n);

#endif

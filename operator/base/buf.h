/*
 * A length-carrying, growable byte buffer with a hard size cap (in the spirit of curl's dynbuf).
 * Every buffer fed from the network is a struct buf with a cap chosen by its owner; an append that would
 * pass the cap fails with SO_E_TOO_LARGE and leaves the buffer as it was, so a caller can report the
 * overflow and drop or reset it. That is the only way an append fails (buf_appendf also returns SO_E_INVAL
 * if vsnprintf rejects its format): memory comes from mem_realloc, which aborts rather than fail
 * (docs/internals/mem.md). The contents are always NUL-terminated for convenience, but may hold NULs.
 */
#ifndef SO_UTIL_BUF_H
#define SO_UTIL_BUF_H

#include <stddef.h>

struct buf {
	char *data;    /* owned; NULL until the first append */
	size_t len;    /* bytes in use, excluding the terminating NUL */
	size_t alloc;  /* bytes allocated */
	size_t cap;    /* maximum len ever allowed */
};

#define BUF_INIT(max) { NULL, 0, 0, (max) }

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);                /* releases memory; the buffer can be reused */
void buf_reset(struct buf *b);               /* len = 0, keeps the allocation */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);   /* drops the first n bytes */
char *buf_steal(struct buf *b);              /* hands the data (never NULL) to the caller (free()), resets b */

/* Appends s with every byte outside [A-Za-z0-9-._~] percent-encoded (for URL query values and paths). */
int buf_append_urlenc(struct buf *b, const char *s);

/* Reads the file at path into out (initialised here with cap max; freed on failure). SO_E_IO ("<path>:
 * <strerror>") or SO_E_TOO_LARGE ("<path>: larger than <max> bytes") with one line in err. */
int buf_read_file(const char *path, size_t max, struct buf *out, char *err, size_t errlen);

#endif

/*
 * Small file and memory helpers shared by the kube/ configuration code (internal to operator/kube).
 *
 *  - kube_file_read: a whole regular file into a struct buf, refusing anything larger than a cap and anything
 *    that is not a regular file (a FIFO or device would block or never end);
 *  - kube_token_file_read: a bearer token file (64 KiB cap, surrounding whitespace trimmed, empty is an error);
 *  - kube_path_join: "dir/rel" unless rel is absolute or dir is empty;
 *  - kube_secret_free / kube_pem_*: release memory that held credentials after wiping it.
 */
#ifndef SO_KUBE_FILE_H
#define SO_KUBE_FILE_H

#include <stddef.h>

#include "operator/base/buf.h"

/* PEM bytes held in memory (libcurl takes them as *_BLOB options; nothing is written to disk). */
struct kube_pem {
	char *data; /* owned; NULL when absent */
	size_t len;
};

#define KUBE_TOKEN_FILE_MAX (64u << 10)

/* Reads path into out (which must be empty; its cap is replaced by cap). Returns SO_OK, SO_E_TOO_LARGE or
 * SO_E_IO; on SO_E_IO *errnum (if not NULL) holds the errno (EINVAL for "not a regular file"). */
int kube_file_read(const char *path, size_t cap, struct buf *out, int *errnum);

/* Describes the errno left by kube_file_read ("not a regular file" for EINVAL, else strerror). */
const char *kube_file_strerror(int errnum);

/* Reads a token file: *token is a NUL-terminated copy with leading and trailing whitespace removed.
 * Errors (SO_E_IO, SO_E_TOO_LARGE, SO_E_CONFIG for empty or control characters) name the path, never the
 * content. */
int kube_token_file_read(const char *path, char **token, char *err, size_t errlen);

/* Returns a newly allocated path. */
char *kube_path_join(const char *dir, const char *rel);

/* Wipes then frees a NUL-terminated string (NULL is fine). */
void kube_secret_free(char *s);

void kube_pem_free(struct kube_pem *p);   /* wipes the bytes, frees, leaves {NULL, 0} */
void kube_pem_dup(struct kube_pem *dst, const struct kube_pem *src); /* NUL-terminated copy; empty stays empty */

/* Nonzero when p holds at least one PEM certificate OpenSSL can parse (a CA bundle worth trusting). */
int kube_pem_has_cert(const struct kube_pem *p);

/* Nonzero when s has a byte < 0x20 or 0x7f (a token with such bytes would corrupt an HTTP header). */
int kube_has_ctl(const char *s);

/* Copies s into dst (dstlen > 0), replacing bytes that are not printable ASCII or are '"' or '\\' with '?' and
 * ending in "..." when cut short, for echoing names from untrusted input in messages. Returns dst. */
const char *kube_sanitize(char *dst, size_t dstlen, const char *s);

#endif

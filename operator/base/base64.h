/* Standard base64 (RFC 4648 §4, "+/" and '=' padding), the one wrapper over OpenSSL's EVP_EncodeBlock and
 * EVP_DecodeBlock. Decoding checks the alphabet itself: EVP_DecodeBlock alone would take '=' anywhere, skip
 * some whitespace and stop at a NUL. */
#ifndef SO_UTIL_BASE64_H
#define SO_UTIL_BASE64_H

#include <jansson.h>
#include <stddef.h>

struct buf;

/* The longest input base64_encode takes: EVP_EncodeBlock counts in int. */
#define B64_MAX_ENCODE ((size_t)0x7fffffff / 4 * 3)

/* base64(p[0..n)) as a malloc'd NUL-terminated string; NULL only when n > B64_MAX_ENCODE. */
char *base64_encode(const void *p, size_t n);

/* base64(p[0..n)) as a new JSON string; NULL only when n > B64_MAX_ENCODE. */
json_t *base64_json_string(const void *p, size_t n);

/* Appends base64(p[0..n)) to out, any length. SO_OK or buf_append's error. */
int base64_encode_append(struct buf *out, const void *p, size_t n);

enum {
	B64_ALLOW_EMPTY = 1,  /* "" is zero bytes rather than invalid */
	B64_PAD_OPTIONAL = 2, /* the trailing '=' may be left out */
	B64_TRIM_SPACE = 4,   /* leading and trailing whitespace (space, tab, CR, LF) is ignored */
	B64_SKIP_SPACE = 8,   /* whitespace anywhere is ignored (line-broken PEM-style data) */
	B64_SECRET = 16,      /* the input is a secret: wipe the scratch copy, and the output on failure */
};

/* Decodes in[0..n): the alphabet, then at most two '=' making the length a multiple of 4 (see flags). *out is
 * malloc'd with a NUL after the *outlen bytes. SO_OK or SO_E_INVAL; *out NULL unless SO_OK. */
int base64_decode(const char *in, size_t n, unsigned flags, unsigned char **out, size_t *outlen);

#endif

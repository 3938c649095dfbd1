/*
 * The webhook certificate Secret's data ↔ struct certset (webhook/certs/certplan.h): the four keys ca.crt, ca.key, tls.crt and
 * tls.key, each standard padded base64 as the API server stores Secret data. Pure, no I/O; used by
 * webhook/certs/selfmanaged.c, fuzzed by tests/fuzz/fuzz_certsecret.c.
 */
#ifndef SO_WEBHOOK_CERTSECRET_H
#define SO_WEBHOOK_CERTSECRET_H

#include <jansson.h>
#include <stddef.h>

#include "webhook/certs/certplan.h"

#define CERTSECRET_MAX_PEM ((size_t)1 << 20) /* per key, decoded */

/* The Secret's data into *out (zeroed first). A key that is absent, not a string, empty, over the cap or not
 * canonical base64 (alphabet A-Z a-z 0-9 + /, length a multiple of 4, '=' only as the last one or two
 * characters) stays NULL: the renewal rules replace it. Decoded fields are NUL-terminated copies. SO_OK. */
int certsecret_decode(const json_t *secret, struct certset *out);

/* Sets the four data keys of secret from s (other keys are kept; an absent field becomes ""). SO_OK or
 * SO_E_TOO_LARGE (a field over the cap). */
int certsecret_encode(const struct certset *s, json_t *secret);

/* data as a new JSON string of its base64 (the webhook configurations' caBundle); NULL when over the cap. */
json_t *certsecret_b64(const char *data, size_t len);

#endif

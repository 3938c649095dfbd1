#include "certsecret.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* The Secret's data keys, in struct certset's order. */
static const char *const KEYS[] = { "ca.crt", "ca.key", "tls.crt", "tls.key" };

json_t *certsecret_b64(const char *data, size_t len)
{
	if (len > CERTSECRET_MAX_PEM)
		return NULL;
	char *enc = malloc(4 * ((len + 2) / 3) + 1);
	if (!enc)
		return NULL;
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)(data ? data : ""), (int)len);
	json_t *s = json_string(enc);
	free(enc);
	return s;
}

static int b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Canonical padded base64 only. EVP_DecodeBlock alone would also take leading and trailing whitespace (and
 * count it as data) and '=' anywhere. */
static int b64_valid(const char *in, size_t n, size_t *pad)
{
	*pad = 0;
	if (n == 0 || n % 4)
		return 0;
	if (in[n - 1] == '=')
		*pad = in[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - *pad; i++)
		if (!b64_char((unsigned char)in[i]))
			return 0;
	return 1;
}

/* A NUL-terminated decoded copy of a data value; NULL (and *len 0) when absent or bad. *nomem on allocation
 * failure. */
static char *b64_decode(const json_t *v, size_t *len, int *nomem)
{
	const char *in = json_string_value(v);
	size_t n = in ? json_string_length(v) : 0, pad;
	*len = 0;
	if (!in || n > 4 * (CERTSECRET_MAX_PEM / 3 + 1) || !b64_valid(in, n, &pad))
		return NULL;
	unsigned char *out = malloc(n / 4 * 3 + 1);
	if (!out) {
		*nomem = 1;
		return NULL;
	}
	int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got != n / 4 * 3) {
		free(out);
		return NULL;
	}
	got -= (int)pad; /* EVP_DecodeBlock counts the bytes the padding stands for */
	out[got] = '\0';
	*len = (size_t)got;
	return (char *)out;
}

static char **field(struct certset *s, size_t i, size_t **len)
{
	switch (i) {
	case 0: *len = &s->ca_crt_len; return &s->ca_crt;
	case 1: *len = &s->ca_key_len; return &s->ca_key;
	case 2: *len = &s->tls_crt_len; return &s->tls_crt;
	default: *len = &s->tls_key_len; return &s->tls_key;
	}
}

int certsecret_decode(const json_t *secret, struct certset *out)
{
	json_t *data = json_object_get(secret, "data");
	int nomem = 0;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < 4; i++) {
		size_t *len;
		char **f = field(out, i, &len);
		*f = b64_decode(json_object_get(data, KEYS[i]), len, &nomem);
	}
	if (nomem) {
		certset_free(out);
		memset(out, 0, sizeof *out);
		return SO_E_NOMEM;
	}
	return SO_OK;
}

int certsecret_encode(const struct certset *s, json_t *secret)
{
	json_t *data = json_object_get(secret, "data");
	if (!json_is_object(data)) {
		if (json_object_set_new(secret, "data", json_object()))
			return SO_E_NOMEM;
		data = json_object_get(secret, "data");
	}
	for (size_t i = 0; i < 4; i++) {
		size_t *len;
		char **f = field((struct certset *)s, i, &len);
		if (*len > CERTSECRET_MAX_PEM)
			return SO_E_TOO_LARGE;
		if (json_object_set_new(data, KEYS[i], certsecret_b64(*f, *len)))
			return SO_E_NOMEM;
	}
	return SO_OK;
}

#include "webhook/certs/certsecret.h"

#include <stdlib.h>
#include <string.h>

#include "operator/base/base64.h"
#include "operator/base/err.h"

/* The Secret's data keys, in struct certset's order. */
static const char *const KEYS[] = { "ca.crt", "ca.key", "tls.crt", "tls.key" };

json_t *certsecret_b64(const char *data, size_t len)
{
	if (len > CERTSECRET_MAX_PEM)
		return NULL;
	return base64_json_string(data, len);
}

/* A NUL-terminated decoded copy of a data value; NULL (and *len 0) when absent or bad. */
static char *data_value(const json_t *v, size_t *len)
{
	const char *in = json_string_value(v);
	size_t n = in ? json_string_length(v) : 0;
	unsigned char *out;

	*len = 0;
	if (!in || n > 4 * (CERTSECRET_MAX_PEM / 3 + 1))
		return NULL;
	return base64_decode(in, n, 0, &out, len) == SO_OK ? (char *)out : NULL;
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
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < 4; i++) {
		size_t *len;
		char **f = field(out, i, &len);
		*f = data_value(json_object_get(data, KEYS[i]), len);
	}
	return SO_OK;
}

int certsecret_encode(const struct certset *s, json_t *secret)
{
	json_t *data = json_object_get(secret, "data");
	if (!json_is_object(data)) {
		data = json_object();
		json_object_set_new(secret, "data", data);
	}
	for (size_t i = 0; i < 4; i++) {
		size_t *len;
		char **f = field((struct certset *)s, i, &len);
		if (*len > CERTSECRET_MAX_PEM)
			return SO_E_TOO_LARGE;
		json_object_set_new(data, KEYS[i], certsecret_b64(*f, *len));
	}
	return SO_OK;
}

/* libFuzzer target: certsecret_decode / certsecret_encode (webhook/certs/certsecret.c), the webhook certificate
 * Secret's base64 data as the API server hands it over (the PEM inside is fuzz_certplan's). The input is a
 * Secret as JSON. Besides memory safety: a decoded key has exactly the length its base64 stands for and
 * re-encodes to the same base64 when that was canonical; encoding then decoding any decoded set gives it back
 * byte for byte. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/certs/certplan.h"
#include "webhook/certs/certsecret.h"
#include "operator/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const KEYS[] = { "ca.crt", "ca.key", "tls.crt", "tls.key" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certset s = { 0 }, back = { 0 };
	json_t *secret = json_loadb((const char *)data, size, 0, NULL), *copy = NULL;

	if (!secret)
		return 0;
	if (certsecret_decode(secret, &s) != SO_OK)
		goto out;
	const char *f[4] = { s.ca_crt, s.ca_key, s.tls_crt, s.tls_key };
	size_t n[4] = { s.ca_crt_len, s.ca_key_len, s.tls_crt_len, s.tls_key_len };
	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(json_object_get(secret, "data"), KEYS[i]);
		if (!f[i]) {
			if (n[i])
				abort();
			continue;
		}
		const char *txt = json_string_value(v);
		size_t in = txt ? json_string_length(v) : 0;
		if (in < 4)
			abort();
		size_t pad = txt[in - 1] == '=' ? (txt[in - 2] == '=' ? 2 : 1) : 0;
		if (n[i] != in / 4 * 3 - pad || f[i][n[i]] != '\0')
			abort();
		/* Re-encoded, the text comes back, but for the unused low bits of its last character before the
		 * padding (canonical base64 has them zero; the API server writes it so). */
		json_t *re = certsecret_b64(f[i], n[i]);
		const char *r = json_string_value(re);
		if (!r || json_string_length(re) != in)
			abort();
		for (size_t k = 0; k < in; k++)
			if (r[k] != txt[k] && !(pad && k == in - 1 - pad))
				abort();
		json_decref(re);
	}
	copy = json_object();
	if (!copy || certsecret_encode(&s, copy) != SO_OK || certsecret_decode(copy, &back) != SO_OK)
		goto out;
	const char *g[4] = { back.ca_crt, back.ca_key, back.tls_crt, back.tls_key };
	size_t m[4] = { back.ca_crt_len, back.ca_key_len, back.tls_crt_len, back.tls_key_len };
	for (int i = 0; i < 4; i++) {
		if (m[i] != n[i] || (n[i] && memcmp(f[i], g[i], n[i]) != 0))
			abort();
	}
out:
	certset_free(&s);
	certset_free(&back);
	json_decref(copy);
	json_decref(secret);
	return 0;
}

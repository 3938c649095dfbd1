/* libFuzzer target: creds_add_secret on a Secret whose .dockerconfigjson (or, when the first byte is
 * 0x01, legacy .dockercfg of the rest) is base64 of the fuzz input, then lookups against the keyring. Besides memory safety: the
 * status is one of the documented ones, an error line is one line, and a credential found has both or neither
 * of username and password. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/err.h"
#include "webhook/verify/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct registry_cred *r)
{
	char fp[65];
	if (r && !!r->username != !!r->password)
		abort();
	creds_fingerprint(r, fp);
	if (r && strlen(fp) != 64)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	int legacy = size > 0 && data[0] == 1;
	if (legacy) {
		data++;
		size--;
	}
	char *enc = malloc(size / 3 * 4 + 8);
	char err[256] = "";
	if (!enc)
		return 0;
	EVP_EncodeBlock((unsigned char *)enc, data, (int)size);
	json_t *s = json_pack("{s:{s:s,s:s}, s:s, s:{s:s}}", "metadata", "name", "fuzz", "namespace", "ns", "type",
			      legacy ? "kubernetes.io/dockercfg" : "kubernetes.io/dockerconfigjson", "data",
			      legacy ? ".dockercfg" : ".dockerconfigjson", enc);
	free(enc);
	struct creds *c = creds_new();
	if (s && c) {
		int rc = creds_add_secret(c, s, err, sizeof err);
		if (rc != SO_OK && rc != SO_E_INVAL && rc != SO_E_NOMEM)
			abort();
		if (rc && (!err[0] || strchr(err, '\n')))
			abort();
		check(creds_lookup(c, "docker.io", "library/nginx"));
		check(creds_lookup(c, "localhost:5000", "app"));
		check(creds_lookup(c, "reg.example.com", "org/team/app"));
		check(creds_lookup(c, "[::1]:5000", "a"));
	}
	creds_free(c);
	json_decref(s);
	return 0;
}

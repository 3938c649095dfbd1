/*
 * Base64 for every module: Secret data, kubeconfig certificate data, webhook patches, signatures, registry
 * credentials. One alphabet check and one padding rule; OpenSSL does the arithmetic.
 */
#include "operator/base/base64.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define CHUNK 3072 /* input bytes per EVP_EncodeBlock call when appending: 4096 characters out */

static int is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *base64_encode(const void *p, size_t n)
{
	char *enc;

	if (n > B64_MAX_ENCODE)
		return NULL;
	enc = mem_alloc((n + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)(p ? p : ""), (int)n);
	return enc;
}

json_t *base64_json_string(const void *p, size_t n)
{
	char *enc = base64_encode(p, n);
	json_t *s = enc ? json_string_nocheck(enc) : NULL;

	free(enc);
	return s;
}

int base64_encode_append(struct buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	unsigned char tmp[CHUNK / 3 * 4 + 1];
	int rc = SO_OK;

	for (size_t i = 0; rc == SO_OK && i < n; i += CHUNK) {
		size_t k = n - i < CHUNK ? n - i : CHUNK;
		int len = EVP_EncodeBlock(tmp, s + i, (int)k);
		rc = buf_append(out, tmp, (size_t)len);
	}
	return rc;
}

int base64_decode(const char *in, size_t n, unsigned flags, unsigned char **out, size_t *outlen)
{
	char *tmp = NULL;
	size_t m = 0, pad = 0, cap = 0;
	int got, rc = SO_E_INVAL;

	*out = NULL;
	*outlen = 0;
	if (!in)
		return SO_E_INVAL;
	if (flags & B64_TRIM_SPACE) {
		while (n > 0 && is_space(*in)) {
			in++;
			n--;
		}
		while (n > 0 && is_space(in[n - 1]))
			n--;
	}
	if (n > INT_MAX - 4)
		return SO_E_INVAL;
	/* A scratch copy: without the whitespace SKIP_SPACE drops, re-padded when PAD_OPTIONAL let it go. */
	cap = n + 4;
	tmp = mem_alloc(cap);
	for (size_t i = 0; i < n; i++) {
		if ((flags & B64_SKIP_SPACE) && is_space(in[i]))
			continue;
		tmp[m++] = in[i];
	}
	if (m == 0) {
		if (!(flags & B64_ALLOW_EMPTY))
			goto out;
		*out = mem_alloc(1);
		(*out)[0] = '\0';
		rc = SO_OK;
		goto out;
	}
	while (pad < 2 && pad < m && tmp[m - 1 - pad] == '=')
		pad++;
	if (flags & B64_PAD_OPTIONAL) {
		size_t data = m - pad;
		if (data % 4 == 1)
			goto out;
		pad = (4 - data % 4) % 4;
		memset(tmp + data, '=', pad);
		m = data + pad;
	} else if (m % 4 != 0) {
		goto out;
	}
	for (size_t i = 0; i < m - pad; i++)
		if (!is_b64(tmp[i]))
			goto out;
	*out = mem_alloc(m / 4 * 3 + 1);
	got = EVP_DecodeBlock(*out, (const unsigned char *)tmp, (int)m);
	/* EVP_DecodeBlock counts the bytes the padding stands for; they are not data. */
	if (got < 0 || (size_t)got < pad)
		goto out;
	*outlen = (size_t)got - pad;
	(*out)[*outlen] = '\0';
	rc = SO_OK;
out:
	if (flags & B64_SECRET)
		OPENSSL_cleanse(tmp, cap);
	free(tmp);
	if (rc != SO_OK && *out) {
		if (flags & B64_SECRET)
			OPENSSL_cleanse(*out, m / 4 * 3);
		free(*out);
		*out = NULL;
	}
	return rc;
}

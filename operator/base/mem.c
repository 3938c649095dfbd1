#include "operator/base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "operator/base/err.h"

/* No stdio on this path: it may itself need memory. */
static void mem_oom(size_t n)
{
	char msg[96];
	int len = snprintf(msg, sizeof msg, "spin-operator: out of memory allocating %zu bytes\n", n);
	if (len > 0)
		(void)!write(2, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
	abort();
}

void *mem_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		mem_oom(n);
	return p;
}

void *mem_calloc(size_t count, size_t n)
{
	void *p = calloc(count ? count : 1, n ? n : 1);
	if (!p)
		mem_oom(count * n);
	return p;
}

void *mem_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		mem_oom(n);
	return q;
}

char *mem_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = mem_alloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

static void *mem_crypto_alloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return mem_alloc(n);
}

static void *mem_crypto_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return mem_realloc(p, n);
}

static void mem_crypto_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

int mem_install(void)
{
	json_set_alloc_funcs(mem_alloc, free);
	if (!CRYPTO_set_mem_functions(mem_crypto_alloc, mem_crypto_realloc, mem_crypto_free))
		return SO_E_CONFIG;
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_alloc, free, mem_realloc, mem_strdup, mem_calloc) != CURLE_OK)
		return SO_E_CONFIG;
	return SO_OK;
}

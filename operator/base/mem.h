/*
 * The daemon's out-of-memory policy, in one place (docs/internals/mem.md): an allocation that fails ends the
 * process with a one-line message and abort(), the way redis (zmalloc) and h2o (h2o_mem_alloc) do. Every
 * network-fed size is capped before it reaches an allocator, so a failure here means the machine or the pod's
 * memory limit is exhausted, and a restart by the kubelet is the recovery; callers never test for NULL.
 *
 * mem_install() routes jansson's, libcurl's and OpenSSL's allocations through the same policy; main() calls it
 * before anything else allocates. libyaml and libmicrohttpd have no allocator hook: their allocation failures
 * surface as their own errors (a YAML "memory error", a refused connection), handled like any bad input.
 */
#ifndef SO_UTIL_MEM_H
#define SO_UTIL_MEM_H

#include <stddef.h>

void *mem_alloc(size_t n);                     /* malloc that never returns NULL (n == 0 allocates 1 byte) */
void *mem_calloc(size_t count, size_t n);      /* zeroed; count * n overflow aborts too */
void *mem_realloc(void *p, size_t n);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);    /* at most n bytes of s, NUL-terminated */

/* Installs the policy in jansson, libcurl (curl_global_init_mem) and OpenSSL. Returns 0, or SO_E_CONFIG when a
 * library refused (OpenSSL accepts new functions only before its first allocation). Call once, first. */
int mem_install(void);

#endif

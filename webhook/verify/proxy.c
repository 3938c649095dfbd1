/*
 * Which proxy a request to scheme://host goes through, decided from the environment as libcurl does
 * (<scheme>_proxy, then <SCHEME>_PROXY except HTTP_PROXY, then all_proxy/ALL_PROXY; no_proxy/NO_PROXY with "*",
 * exact names and domain suffixes). Token requests use it to set CURLOPT_PROXY and CURLOPT_NOPROXY themselves,
 * so the realm guard knows whether the address it sees is the realm's own or a proxy's (a proxy resolves the
 * realm itself: then only the up-front check of IP literals applies). CIDR entries in no_proxy are compared as
 * plain strings, so such a host goes through the proxy (never around the guard).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhook/verify/registry_int.h"

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

/* 1 when host is exempted by a no_proxy list. */
static int no_proxy_match(const char *list, const char *host)
{
	size_t hl = strlen(host);
	const char *p = list;
	while (hl && host[hl - 1] == '.')
		hl--;
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		size_t n = (size_t)(e - p);
		if (n == 1 && *p == '*')
			return 1;
		if (n && *p == '.') {
			p++;
			n--;
		}
		while (n && p[n - 1] == '.')
			n--;
		if (n && n <= hl && !strncasecmp(host + hl - n, p, n) && (n == hl || host[hl - n - 1] == '.'))
			return 1;
		p = e;
	}
	return 0;
}

int proxy_from_env(const char *scheme, const char *host, char *out, size_t outlen)
{
	const char *np = env2("no_proxy", "NO_PROXY"), *proxy = NULL;
	char lower[32], upper[32];

	out[0] = '\0';
	if (np && no_proxy_match(np, host))
		return 0;
	snprintf(lower, sizeof lower, "%s_proxy", scheme);
	snprintf(upper, sizeof upper, "%s_PROXY", scheme);
	for (char *c = upper; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
	/* HTTP_PROXY in upper case is ignored (httpoxy: CGI puts a request header there). */
	proxy = env2(lower, strcasecmp(scheme, "http") ? upper : NULL);
	if (!proxy)
		proxy = env2("all_proxy", "ALL_PROXY");
	if (!proxy)
		return 0;
	snprintf(out, outlen, "%s", proxy);
	return 1;
}

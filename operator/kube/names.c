/*
 * Kubernetes names (k8s.io/apimachinery pkg/util/validation): DNS-1123 labels and subdomains, and qualified
 * names. Hand-written character classes instead of Go's regular expressions; every loop bounded by the input.
 */
#include "operator/kube/names.h"

#include <string.h>

#define LABEL_MAX 63
#define SUBDOMAIN_MAX 253

static int lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

int kube_dns1123_label(const char *s, size_t n)
{
	if (!s || n == 0 || n > LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int kube_dns1123_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0, start = 0;

	if (n == 0 || n > SUBDOMAIN_MAX)
		return 0;
	/* Dot-separated labels of [a-z0-9-] that start and end with an alphanumeric. */
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!lower_alnum(s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		if (i == start || !lower_alnum(s[start]) || !lower_alnum(s[i - 1]))
			return 0;
		start = i + 1;
	}
	return 1;
}

int kube_label_name_part(const char *s, size_t n)
{
	if (!s || n == 0 || n > LABEL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!alnum(c) && ((i == 0 || i == n - 1) || (c != '-' && c != '_' && c != '.')))
			return 0;
	}
	return 1;
}

int kube_qualified_name(const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char prefix[SUBDOMAIN_MAX + 1];

	if (!s)
		return 0;
	if (!slash)
		return kube_label_name_part(s, strlen(s));
	if (strchr(slash + 1, '/') || (size_t)(slash - s) >= sizeof prefix || slash == s)
		return 0;
	memcpy(prefix, s, (size_t)(slash - s));
	prefix[slash - s] = '\0';
	return kube_dns1123_subdomain(prefix) && kube_label_name_part(slash + 1, strlen(slash + 1));
}

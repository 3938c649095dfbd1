/*
 * spec.route validation (webhook/spinapp_route.h). The rules are the HTTPRoute CRD's (sigs.k8s.io/gateway-api
 * v1.4, its standard gateway.networking.k8s.io_httproutes.yaml): ParentReference's field patterns and
 * bounds, the Hostname pattern (a lowercase DNS name, optionally a leading "*." label; IP addresses are not
 * host names), and HTTPPathMatch's rules for a PathPrefix value (an absolute path of at most 1024 characters,
 * none of the sequences its CEL rules refuse).
 */
#include <stdio.h>
#include <string.h>

#include "operator/kube/names.h"
#include "webhook/spinapp_route.h"

#define PATH_LEN 256
#define NAME_MAX_LEN 253
#define KIND_MAX_LEN 63
#define PATH_VALUE_MAX 1024

#define DNS1123_LABEL_MSG                                                                                     \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start " \
	"and end with an alphanumeric character"
#define HOSTNAME_MSG                                                                                          \
	"must be a lowercase DNS name (RFC 1123) of at most 253 characters, optionally starting with a '*.' "    \
	"wildcard label; IP addresses are not allowed"
#define KIND_MSG "must start with a letter, contain only letters, digits or '-', and end with a letter or digit"

static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

/* The Gateway API's Hostname: "^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
 * 1..253 characters, and not an IP address (an all-digit dotted name is one). */
static int hostname_ok(const char *h)
{
	size_t n = strlen(h);
	const char *p = h;
	int digits_and_dots = 1;

	if (n < 1 || n > NAME_MAX_LEN)
		return 0;
	if (!strncmp(p, "*.", 2))
		p += 2;
	for (const char *q = p; *q; q++) {
		if (!((*q >= '0' && *q <= '9') || *q == '.'))
			digits_and_dots = 0;
	}
	if (digits_and_dots || !*p)
		return 0;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!len || !kube_dns1123_label(p, len))
			return 0;
		if (!dot)
			break;
		p = dot + 1;
		if (!*p)
			return 0; /* a trailing dot */
	}
	return 1;
}

/* Kind: "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$", 1..63. */
static int kind_ok(const char *k)
{
	size_t n = strlen(k);
	if (n < 1 || n > KIND_MAX_LEN || !((k[0] | 0x20) >= 'a' && (k[0] | 0x20) <= 'z') || k[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

static void check_parent(const json_t *ref, size_t i, struct field_list *errs)
{
	char f[PATH_LEN];
	const json_t *v;

	if (!json_is_object(ref)) {
		snprintf(f, sizeof f, "spec.route.parentRefs[%zu]", i);
		field_add(errs, FIELD_REQUIRED, f, NULL, "a parent reference with at least a name");
		return;
	}
	snprintf(f, sizeof f, "spec.route.parentRefs[%zu].name", i);
	v = member(ref, "name");
	if (!json_is_string(v) || !*json_string_value(v))
		field_add(errs, FIELD_REQUIRED, f, NULL, "the name of the Gateway (or other parent) to attach to");
	else if (strlen(json_string_value(v)) > NAME_MAX_LEN)
		field_invalid_str(errs, f, json_string_value(v), "must be no more than %d characters", NAME_MAX_LEN);
	if (json_is_string(v = member(ref, "namespace"))) {
		const char *s = json_string_value(v);
		snprintf(f, sizeof f, "spec.route.parentRefs[%zu].namespace", i);
		if (!kube_dns1123_label(s, strlen(s)))
			field_invalid_str(errs, f, s, DNS1123_LABEL_MSG);
	}
	if (json_is_string(v = member(ref, "sectionName"))) {
		snprintf(f, sizeof f, "spec.route.parentRefs[%zu].sectionName", i);
		if (!kube_dns1123_subdomain(json_string_value(v)))
			field_invalid_str(errs, f, json_string_value(v), DNS1123_SUBDOMAIN_MSG);
	}
	if (json_is_string(v = member(ref, "group")) && *json_string_value(v)) {
		snprintf(f, sizeof f, "spec.route.parentRefs[%zu].group", i);
		if (!kube_dns1123_subdomain(json_string_value(v)))
			field_invalid_str(errs, f, json_string_value(v), DNS1123_SUBDOMAIN_MSG);
	}
	if (json_is_string(v = member(ref, "kind"))) {
		snprintf(f, sizeof f, "spec.route.parentRefs[%zu].kind", i);
		if (!kind_ok(json_string_value(v)))
			field_invalid_str(errs, f, json_string_value(v), KIND_MSG);
	}
	if (json_is_integer(v = member(ref, "port"))) {
		snprintf(f, sizeof f, "spec.route.parentRefs[%zu].port", i);
		if (json_integer_value(v) < 1 || json_integer_value(v) > 65535)
			field_invalid_int(errs, f, json_integer_value(v), "must be between 1 and 65535, inclusive");
	}
}

static int is_hex(char c)
{
	return c && strchr("0123456789abcdefABCDEF", c) != NULL;
}

/* HTTPPathMatch's rules for a PathPrefix value; NULL when it passes, else the detail (the CRD's wording). */
static const char *path_problem(const char *p)
{
	static const struct {
		const char *seq, *detail;
	} refused[] = { { "//", "must not contain '//'" },   { "/./", "must not contain '/./'" },
			{ "/../", "must not contain '/../'" }, { "%2f", "must not contain '%2f'" },
			{ "%2F", "must not contain '%2F'" },   { "#", "must not contain '#'" } };
	size_t n = strlen(p);

	if (p[0] != '/')
		return "must be an absolute path: must start with '/'";
	if (n > PATH_VALUE_MAX)
		return "must be no more than 1024 characters";
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		if (strstr(p, refused[i].seq))
			return refused[i].detail;
	}
	if (n >= 3 && !strcmp(p + n - 3, "/.."))
		return "must not end with '/..'";
	if (n >= 2 && !strcmp(p + n - 2, "/."))
		return "must not end with '/.'";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-/._~!$&'()*+,;=:@", c))
			continue;
		if (c == '%' && is_hex(p[i + 1]) && is_hex(p[i + 2])) {
			i += 2;
			continue;
		}
		return "must contain only letters, digits, the characters -._~!$&'()*+,;=:@/ and %-escapes";
	}
	return NULL;
}

void spinapp_route_check(const json_t *spec, struct field_list *errs)
{
	const json_t *route = member(spec, "route"), *parents, *hosts, *prefixes, *v;
	char f[PATH_LEN];
	size_t i;

	if (!json_is_object(route))
		return;
	parents = member(route, "parentRefs");
	if (!json_is_array(parents) || !json_array_size(parents))
		field_add(errs, FIELD_REQUIRED, "spec.route.parentRefs", NULL,
			  "at least one parent (a Gateway) for the HTTPRoute to attach to");
	else if (json_array_size(parents) > SPINAPP_ROUTE_MAX_PARENTS)
		field_invalid_int(errs, "spec.route.parentRefs", (int64_t)json_array_size(parents),
				  "must have at most %d items", SPINAPP_ROUTE_MAX_PARENTS);
	json_array_foreach(parents, i, v) {
		if (i < SPINAPP_ROUTE_MAX_PARENTS)
			check_parent(v, i, errs);
	}
	hosts = member(route, "hostnames");
	if (json_array_size(hosts) > SPINAPP_ROUTE_MAX_HOSTNAMES)
		field_invalid_int(errs, "spec.route.hostnames", (int64_t)json_array_size(hosts),
				  "must have at most %d items", SPINAPP_ROUTE_MAX_HOSTNAMES);
	json_array_foreach(hosts, i, v) {
		if (i >= SPINAPP_ROUTE_MAX_HOSTNAMES)
			break;
		snprintf(f, sizeof f, "spec.route.hostnames[%zu]", i);
		if (json_is_string(v) && !hostname_ok(json_string_value(v)))
			field_invalid_str(errs, f, json_string_value(v), HOSTNAME_MSG);
	}
	prefixes = member(route, "pathPrefixes");
	if (json_array_size(prefixes) > SPINAPP_ROUTE_MAX_PREFIXES)
		field_invalid_int(errs, "spec.route.pathPrefixes", (int64_t)json_array_size(prefixes),
				  "must have at most %d items", SPINAPP_ROUTE_MAX_PREFIXES);
	json_array_foreach(prefixes, i, v) {
		const char *problem;
		if (i >= SPINAPP_ROUTE_MAX_PREFIXES)
			break;
		snprintf(f, sizeof f, "spec.route.pathPrefixes[%zu]", i);
		if (json_is_string(v) && (problem = path_problem(json_string_value(v))))
			field_invalid_str(errs, f, json_string_value(v), "%s", problem);
	}
}

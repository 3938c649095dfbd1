/*
 * Address classes for the realm guard (docs/internals/registry.md): a token realm chosen by a registry must not
 * make the webhook talk to the cluster's private network or to a cloud metadata endpoint (169.254.169.254,
 * fd00:ec2::254, 100.100.100.200) with or without credentials. inet_pton does the parsing.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "webhook/verify/registry_int.h"

static int v4_private(const unsigned char a[4])
{
	return a[0] == 0 ||                                   /* 0.0.0.0/8 "this network" */
	       a[0] == 10 ||                                  /* RFC 1918 */
	       a[0] == 127 ||                                 /* loopback */
	       (a[0] == 100 && (a[1] & 0xc0) == 64) ||        /* 100.64.0.0/10 carrier-grade NAT */
	       (a[0] == 169 && a[1] == 254) ||                /* link-local, cloud metadata */
	       (a[0] == 172 && (a[1] & 0xf0) == 16) ||        /* RFC 1918 */
	       (a[0] == 192 && a[1] == 168) ||                /* RFC 1918 */
	       a[0] >= 224;                                   /* multicast, reserved, broadcast */
}

int netaddr_is_private(const char *s)
{
	char tmp[64];
	size_t n = strlen(s);
	unsigned char a[16];

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1)
		return v4_private(a);
	if (inet_pton(AF_INET6, tmp, a) != 1)
		return -1;
	static const unsigned char zero[16];
	if (!memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1))   /* :: and ::1 */
		return 1;
	if ((a[0] & 0xfe) == 0xfc)                                /* fc00::/7 unique local */
		return 1;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)                /* fe80::/10 link-local */
		return 1;
	if (a[0] == 0xff)                                         /* multicast */
		return 1;
	/* ::ffff:a.b.c.d and the deprecated ::a.b.c.d carry an IPv4 address */
	if (!memcmp(a, zero, 10) && ((a[10] == 0xff && a[11] == 0xff) || (a[10] == 0 && a[11] == 0)))
		return v4_private(a + 12);
	return 0;
}

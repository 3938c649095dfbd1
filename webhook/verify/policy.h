/*
 * The image verification policy (docs/verify-images.md): a YAML file of rules, each with image globs, optional
 * namespace globs, a mode (enforce or warn) and the trusted public keys. Parsed with libyaml (operator/base/yamljson.h) and
 * checked field by field; errors name the file and the field ("policy.yaml: rules[0].keys[1].publicKey: not a
 * PEM public key ..."). Unknown fields are refused so that a typo cannot silently turn verification off.
 * A parsed policy is immutable and reference-counted, so the webhook threads can hold one while a reload
 * replaces it (policywatch.h).
 */
#ifndef SO_VERIFY_POLICY_H
#define SO_VERIFY_POLICY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "webhook/verify/sigcheck.h"

#define POLICY_MAX_FILE ((size_t)1 << 20)
#define POLICY_DEFAULT_CACHE_TTL_MS (5 * 60 * 1000)

struct policy_rule {
	char *name;
	char **images;       /* globs over "<registry>/<repository>:<tag>" */
	size_t n_images;
	char **namespaces;   /* globs; n_namespaces 0 = every namespace */
	size_t n_namespaces;
	int warn;            /* mode: warn (1) or enforce (0) */
	struct sig_key *keys;
	size_t n_keys;
	char hash[65];       /* sha256 hex of the rule's name and keys (DER SPKI): the trust it grants */
};

struct policy {
	struct policy_rule *rules;
	size_t n_rules;
	int64_t cache_ttl_ms;
	char hash[65]; /* sha256 hex of the whole policy, for logs */
	atomic_int refs; /* policy_ref / policy_unref; starts at 1 */
};

/* Parses a policy; name labels errors (the file name). Relative publicKeyFile paths are relative to the
 * current directory. *out starts with one reference. SO_E_INVAL / SO_E_TOO_LARGE / SO_E_IO / SO_E_CONFIG (an
 * OpenSSL digest failed) with one line in err. */
int policy_parse(const char *text, size_t len, const char *name, struct policy **out, char *err, size_t errlen);
int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen);

struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* The first rule (in file order) whose images match image (its "<registry>/<repository>:<tag>"; name_only is
 * the same without ":<tag>") and whose namespaces match ns; NULL when none does. */
const struct policy_rule *policy_match(const struct policy *p, const char *ns, const char *name_tag,
				       const char *name_only);

/* policy-controller's glob: '*' matches any run of characters but '/', '**' any run at all, every other
 * character itself; the whole string must match. */
int policy_glob_match(const char *pattern, const char *s);

/* A Go-style duration ("8s", "1m30s", "500ms", "2h"; "0" alone) in milliseconds. SO_E_INVAL when malformed
 * or above a day. */
int verify_parse_duration_ms(const char *s, int64_t *ms);

#endif

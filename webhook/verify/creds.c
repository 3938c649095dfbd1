/*
 * Pull-secret keyring. See creds.h for the contract.
 *
 * Keys are stored as kubelet's credentialprovider keyring stores them (keyring.go Add): "https://" is assumed
 * when no scheme is given, a leading /v1/ or /v2/ path is dropped, and the key is host[:port][/path]. Lookup
 * follows URLsMatch: same port, same number of host labels, each label an fnmatch glob (filepath.Match), and
 * the key's path a string prefix of the repository path; of the matching keys the greatest in byte order wins
 * (kubelet reverse-sorts its index, so "quay.io/org" beats "quay.io"), and for equal keys the entry added
 * first. Docker Hub's spellings collapse onto "docker.io" on both sides. Hosts are compared lower-cased.
 *
 * Secret values (passwords, tokens, the decoded auth field) are wiped before they are freed and never appear
 * in an error line; keys (server names) and Secret names may.
 */
#include "webhook/verify/creds.h"

#include <fnmatch.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/base/buf.h"
#include "operator/base/base64.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

#define SECRET_DATA_MAX ((size_t)1 << 20) /* a Secret is at most 1 MiB in etcd */
#define KEY_MAX 1024
#define ENTRIES_MAX 4096

struct entry {
	char *host;  /* lower-case host[:port]; Docker Hub spellings as "docker.io" */
	char *path;  /* "" or "/org/..." (as kubelet keeps it: a leading slash) */
	char *key;   /* host + path: the sort key */
	struct registry_cred cred;
};

struct creds {
	struct entry *v;
	size_t n, alloc;
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void cred_clear(struct registry_cred *c)
{
	wipe_free(c->username);
	wipe_free(c->password);
	wipe_free(c->identity_token);
	wipe_free(c->registry_token);
	memset(c, 0, sizeof *c);
}

struct creds *creds_new(void)
{
	return mem_calloc(1, sizeof(struct creds));
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].host);
		free(c->v[i].path);
		free(c->v[i].key);
		cred_clear(&c->v[i].cred);
	}
	free(c->v);
	free(c);
}

/* Base64 as docker writes it: standard alphabet, padding optional. *out is NUL-terminated, caller frees (and
 * wipes: it holds a secret). */
static int docker_b64_decode(const char *in, size_t n, char **out, size_t *outlen)
{
	unsigned char *bytes;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (n > SECRET_DATA_MAX * 2 + 2)
		return SO_E_INVAL;
	rc = base64_decode(in, n, B64_ALLOW_EMPTY | B64_PAD_OPTIONAL | B64_SECRET, &bytes, outlen);
	*out = (char *)bytes;
	return rc;
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = mem_alloc(n + 1);
	for (size_t i = 0; i < n; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	d[n] = '\0';
	return d;
}

static int is_docker_hub(const char *host)
{
	return !strcmp(host, "docker.io") || !strcmp(host, "index.docker.io") || !strcmp(host, "registry-1.docker.io");
}

/* Splits a server key into lower-case host[:port] and path as kubelet's Add does. */
static int split_key(const char *key, char **host, char **path)
{
	const char *p = key, *slash;
	size_t n = strlen(key);

	*host = *path = NULL;
	if (n >= 8 && !strncmp(p, "https://", 8))
		p += 8;
	else if (n >= 7 && !strncmp(p, "http://", 7))
		p += 7;
	slash = strchr(p, '/');
	size_t hlen = slash ? (size_t)(slash - p) : strlen(p);
	if (hlen == 0)
		return SO_E_INVAL;
	/* userinfo, query and fragment have no place in a registry key */
	for (size_t i = 0; p[i]; i++) {
		if (p[i] == '@' || p[i] == '?' || p[i] == '#' || (unsigned char)p[i] <= ' ')
			return SO_E_INVAL;
	}
	*host = lower_dup(p, hlen);
	if (is_docker_hub(*host)) {
		free(*host);
		*host = mem_strdup("docker.io");
	}
	const char *path_s = slash ? slash : "";
	if (!strncmp(path_s, "/v1/", 4) || !strncmp(path_s, "/v2/", 4))
		path_s += 3; /* keeps the slash, as kubelet does: "/v1/" becomes "/" */
	if (!strcmp(path_s, "/"))
		path_s = "";
	*path = mem_strdup(path_s);
	return SO_OK;
}

static int dup_field(const json_t *entry, const char *name, char **out)
{
	const json_t *v = json_object_get(entry, name);
	*out = NULL;
	if (!v || json_is_null(v))
		return SO_OK;
	if (!json_is_string(v))
		return SO_E_INVAL;
	if (json_string_length(v) == 0)
		return SO_OK;
	if (memchr(json_string_value(v), '\0', json_string_length(v)))
		return SO_E_INVAL;
	*out = mem_strdup(json_string_value(v));
	return SO_OK;
}

/* Fills cred from one auths entry. SO_OK with an empty cred when the entry holds nothing usable. */
static int parse_entry(const json_t *e, struct registry_cred *cred, const char **what)
{
	int rc;
	char *auth = NULL, *decoded = NULL;
	size_t dlen = 0;

	memset(cred, 0, sizeof *cred);
	*what = "is not an object";
	if (!json_is_object(e))
		return SO_E_INVAL;
	*what = "has a field that is not a string";
	if ((rc = dup_field(e, "username", &cred->username)) || (rc = dup_field(e, "password", &cred->password)) ||
	    (rc = dup_field(e, "identitytoken", &cred->identity_token)) ||
	    (rc = dup_field(e, "registrytoken", &cred->registry_token)) || (rc = dup_field(e, "auth", &auth)))
		goto out;
	if (auth) {
		/* auth = base64(user:pass) wins over username/password (authn.AuthConfig.UnmarshalJSON). */
		*what = "has an auth field that is not base64 of user:password";
		rc = docker_b64_decode(auth, strlen(auth), &decoded, &dlen);
		if (rc)
			goto out;
		char *colon = memchr(decoded, ':', dlen);
		rc = SO_E_INVAL;
		if (!colon || memchr(decoded, '\0', dlen))
			goto out;
		wipe_free(cred->username);
		wipe_free(cred->password);
		cred->username = mem_strndup(decoded, (size_t)(colon - decoded));
		cred->password = mem_strdup(colon + 1);
	}
	/* username and password come in pairs: a missing password is the empty one, a password alone is dropped */
	if (cred->username && !cred->password)
		cred->password = mem_strdup("");
	if (!cred->username && cred->password) {
		wipe_free(cred->password);
		cred->password = NULL;
	}
	rc = SO_OK;
out:
	wipe_free(auth);
	if (decoded) {
		OPENSSL_cleanse(decoded, dlen);
		free(decoded);
	}
	if (rc)
		cred_clear(cred);
	return rc;
}

static int add_auths(struct creds *c, const json_t *auths, const char *label, char *err, size_t errlen)
{
	const char *key;
	json_t *e;
	size_t idx = 0;

	if (!json_is_object(auths))
		return so_fail(err, errlen, SO_E_INVAL, "%s: \"auths\" is not an object", label);
	json_object_foreach((json_t *)auths, key, e) {
		struct entry ent = { 0 };
		const char *what = "";
		int rc;

		idx++;
		if (strlen(key) > KEY_MAX || split_key(key, &ent.host, &ent.path) != SO_OK) {
			free(ent.host);
			free(ent.path);
			/* not quoted: a malformed key may carry user:password@ */
			return so_fail(err, errlen, SO_E_INVAL, "%s: invalid registry key (entry %zu)",
				       label, idx);
		}
		rc = parse_entry(e, &ent.cred, &what);
		if (rc == SO_OK && !ent.cred.username && !ent.cred.identity_token && !ent.cred.registry_token) {
			free(ent.host); /* nothing to authenticate with: the same as anonymous */
			free(ent.path);
			continue;
		}
		if (rc == SO_OK && c->n >= ENTRIES_MAX)
			rc = SO_E_TOO_LARGE;
		if (rc) {
			free(ent.host);
			free(ent.path);
			cred_clear(&ent.cred);
			if (rc == SO_E_TOO_LARGE)
				return so_fail(err, errlen, SO_E_INVAL, "%s: more than %d registry entries",
					       label, ENTRIES_MAX);
			return so_fail(err, errlen, SO_E_INVAL, "%s: entry \"%.64s\" %s", label, key,
				       what);
		}
		if (c->n == c->alloc) {
			c->alloc = c->alloc ? c->alloc * 2 : 8;
			c->v = mem_realloc(c->v, c->alloc * sizeof *c->v);
		}
		size_t hl = strlen(ent.host), pl = strlen(ent.path);
		ent.key = mem_alloc(hl + pl + 1);
		memcpy(ent.key, ent.host, hl);
		memcpy(ent.key + hl, ent.path, pl + 1);
		c->v[c->n++] = ent;
	}
	return SO_OK;
}

/* The JSON of a pull secret's data (decoded) or of a docker config file: {"auths": {...}}, or with dockercfg the
 * auths map itself. name labels errors, with "data[<datakey>]" when datakey is not NULL (a Secret). */
static int add_config(struct creds *c, const char *text, size_t len, int dockercfg, const char *name,
		      const char *datakey, char *err, size_t errlen)
{
	char what[320], label[280];
	json_error_t jerr;
	json_t *doc;
	int rc;

	/* label names the source in add_auths' messages, what the document here */
	snprintf(label, sizeof label, "%s%.260s", datakey ? "pull secret " : "", name);
	if (datakey)
		snprintf(what, sizeof what, "%s: data[%s]", label, datakey);
	else
		snprintf(what, sizeof what, "%s", label);
	/* jansson's error text quotes the input near the error: only line and column are reported. */
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return so_fail(err, errlen, SO_E_INVAL, "%s is not valid JSON (line %d, column %d)", what, jerr.line,
			       jerr.column);
	if (!json_is_object(doc)) {
		rc = so_fail(err, errlen, SO_E_INVAL, "%s is not a JSON object", what);
	} else if (dockercfg) {
		rc = add_auths(c, doc, label, err, errlen);
	} else {
		const json_t *auths = json_object_get(doc, "auths");
		rc = auths ? add_auths(c, auths, label, err, errlen) : SO_OK; /* a config with only credHelpers */
	}
	json_decref(doc);
	return rc;
}

int creds_add_secret(struct creds *c, const json_t *secret, char *err, size_t errlen)
{
	int rc;
	char name[300];
	const char *type, *datakey;
	const json_t *meta, *data, *v;
	char *decoded = NULL;
	size_t dlen = 0;

	if (!json_is_object(secret))
		return so_fail(err, errlen, SO_E_INVAL, "pull secret: not a JSON object");
	meta = json_object_get(secret, "metadata");
	snprintf(name, sizeof name, "%.120s/%.120s",
		 json_string_value(json_object_get(meta, "namespace")) ? json_string_value(json_object_get(meta, "namespace")) : "",
		 json_string_value(json_object_get(meta, "name")) ? json_string_value(json_object_get(meta, "name")) : "?");
	type = json_string_value(json_object_get(secret, "type"));
	if (type && !strcmp(type, "kubernetes.io/dockerconfigjson"))
		datakey = ".dockerconfigjson";
	else if (type && !strcmp(type, "kubernetes.io/dockercfg"))
		datakey = ".dockercfg";
	else
		return SO_OK; /* not a pull secret: nothing to add */
	data = json_object_get(secret, "data");
	v = json_object_get(data, datakey);
	if (!v || json_is_null(v))
		return SO_OK;
	if (!json_is_string(v))
		return so_fail(err, errlen, SO_E_INVAL, "pull secret %s: data[%s] is not a string", name, datakey);
	if (json_string_length(v) > SECRET_DATA_MAX * 4 / 3 + 4)
		return so_fail(err, errlen, SO_E_INVAL, "pull secret %s: data[%s] is larger than 1 MiB", name, datakey);
	rc = docker_b64_decode(json_string_value(v), json_string_length(v), &decoded, &dlen);
	if (rc)
		return so_fail(err, errlen, SO_E_INVAL, "pull secret %s: data[%s] is not base64", name, datakey);
	rc = add_config(c, decoded, dlen, !strcmp(datakey, ".dockercfg"), name, datakey, err, errlen);
	OPENSSL_cleanse(decoded, dlen);
	free(decoded);
	return rc;
}

int creds_add_dockerconfig(struct creds *c, const char *text, size_t len, const char *name, char *err,
			   size_t errlen)
{
	if (len > SECRET_DATA_MAX)
		return so_fail(err, errlen, SO_E_INVAL, "%s: larger than 1 MiB", name);
	return add_config(c, text, len, 0, name, NULL, err, errlen);
}

/* kubelet's URLsMatch between a stored entry and the target host[:port] + "/" + repository. */
static int entry_matches(const struct entry *e, const char *host, const char *path)
{
	const char *ec = strrchr(e->host, ':'), *tc = strrchr(host, ':');
	/* An IPv6 literal's colons are inside brackets: only a colon after ']' starts a port. */
	if (ec && strchr(e->host, ']') > ec)
		ec = NULL;
	if (tc && strchr(host, ']') > tc)
		tc = NULL;
	if (strcmp(ec ? ec : "", tc ? tc : ""))
		return 0;
	size_t ehl = ec ? (size_t)(ec - e->host) : strlen(e->host);
	size_t thl = tc ? (size_t)(tc - host) : strlen(host);
	char eh[256], th[256];
	if (ehl >= sizeof eh || thl >= sizeof th)
		return 0;
	memcpy(eh, e->host, ehl);
	eh[ehl] = '\0';
	memcpy(th, host, thl);
	th[thl] = '\0';
	/* An IPv6 literal loses its brackets, as net.SplitHostPort does (and '[' would start an fnmatch class). */
	if (eh[0] == '[' && ehl > 1 && eh[ehl - 1] == ']') {
		memmove(eh, eh + 1, ehl - 2);
		eh[ehl - 2] = '\0';
	}
	if (th[0] == '[' && thl > 1 && th[thl - 1] == ']') {
		memmove(th, th + 1, thl - 2);
		th[thl - 2] = '\0';
	}
	/* label by label */
	char *es = eh, *ts = th;
	for (;;) {
		char *ed = strchr(es, '.'), *td = strchr(ts, '.');
		if (!!ed != !!td)
			return 0;
		if (ed)
			*ed = '\0';
		if (td)
			*td = '\0';
		if (fnmatch(es, ts, 0) != 0)
			return 0;
		if (!ed)
			break;
		es = ed + 1;
		ts = td + 1;
	}
	return !strncmp(path, e->path, strlen(e->path));
}

const struct registry_cred *creds_lookup(const struct creds *c, const char *registry, const char *repository)
{
	const struct entry *best = NULL;
	char *host = NULL;
	struct buf path = BUF_INIT(8192);

	if (!c || !registry || !c->n)
		return NULL;
	host = lower_dup(registry, strnlen(registry, 255));
	if (is_docker_hub(host)) {
		free(host);
		host = mem_strdup("docker.io");
	}
	if (buf_appendf(&path, "/%s", repository ? repository : ""))
		goto out;
	for (size_t i = 0; i < c->n; i++) {
		const struct entry *e = &c->v[i];
		if ((!best || strcmp(e->key, best->key) > 0) && entry_matches(e, host, path.data))
			best = e;
	}
out:
	free(host);
	buf_free(&path);
	return best ? &best->cred : NULL;
}

/* Each field length-prefixed, so ("ab","c") and ("a","bc") differ. */
static int fp_field(EVP_MD_CTX *md, char tag, const char *s)
{
	unsigned char hdr[9];
	size_t n = s ? strlen(s) : 0;
	hdr[0] = (unsigned char)(s ? tag : '-');
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(n >> (8 * (7 - i)));
	return EVP_DigestUpdate(md, hdr, sizeof hdr) == 1 && (!n || EVP_DigestUpdate(md, s, n) == 1);
}

void creds_fingerprint(const struct registry_cred *cred, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	EVP_MD_CTX *md;

	out[0] = '\0';
	if (!cred)
		return;
	md = EVP_MD_CTX_new();
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && fp_field(md, 'u', cred->username) &&
	    fp_field(md, 'p', cred->password) && fp_field(md, 'i', cred->identity_token) &&
	    fp_field(md, 'r', cred->registry_token) && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32) {
		for (unsigned i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", d[i]);
	} else {
		/* Never equal to a real fingerprint; the registry client does not cache tokens under it. */
		snprintf(out, 65, "!");
	}
	EVP_MD_CTX_free(md);
}

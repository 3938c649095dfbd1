/* The verification policy: a full file, every parse error naming its field, glob semantics, first-match rule
 * order, hashes, durations, and the watcher's reload (a bad new file keeps the old policy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/sigfixture.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/verify/policy.h"
#include "operator/kube/imageref.h"
#include "webhook/verify/policywatch.h"

static char *pem_a, *pem_b;
static char tmpdir[] = "/tmp/test_policy.XXXXXX";

static int setup(void **state)
{
	(void)state;
	EVP_PKEY *a = fx_keygen("ec"), *b = fx_keygen("ed25519");
	pem_a = fx_pubpem(a);
	pem_b = fx_pubpem(b);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[256];
	free(pem_a);
	free(pem_b);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A YAML block scalar of a PEM, indented. */
static void pem_block(struct buf *b, const char *pem, const char *indent)
{
	buf_appends(b, "|\n");
	for (const char *p = pem; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_appendf(b, "%s%.*s\n", indent, (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

static char *write_file(const char *name, const char *text)
{
	size_t n = strlen(tmpdir) + strlen(name) + 2;
	char *path = malloc(n);
	snprintf(path, n, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void full_policy(void **state)
{
	(void)state;
	struct buf y = BUF_INIT(1 << 20);
	struct policy *p = NULL;
	char err[512] = "";
	char *keyfile = write_file("other.pub", pem_b);

	buf_appends(&y, "rules:\n- name: acme\n  images: [\"127.0.0.1:*/spin/**\"]\n  namespaces: [prod, \"team-*\"]\n"
			"  mode: enforce\n  keys:\n  - name: release\n    publicKey: ");
	pem_block(&y, pem_a, "      ");
	buf_appendf(&y, "  - name: other\n    publicKeyFile: %s\n", keyfile);
	buf_appends(&y, "- name: everything-else\n  images: [\"**\"]\n  mode: warn\n  keys:\n  - name: k\n    publicKey: ");
	pem_block(&y, pem_a, "      ");
	buf_appends(&y, "cacheTTL: 90s\n");
	assert_int_equal(policy_parse(y.data, y.len, "p.yaml", &p, err, sizeof err), SO_OK);
	assert_int_equal(p->n_rules, 2);
	assert_string_equal(p->rules[0].name, "acme");
	assert_int_equal(p->rules[0].n_keys, 2);
	assert_int_equal(p->rules[0].warn, 0);
	assert_int_equal(p->rules[1].warn, 1);
	assert_int_equal(p->cache_ttl_ms, 90000);
	assert_int_equal(strlen(p->hash), 64);
	assert_string_not_equal(p->rules[0].hash, p->rules[1].hash);

	/* First matching rule in file order; namespaces restrict. */
	const struct policy_rule *r = policy_match(p, "prod", "127.0.0.1:5000/spin/app:v1", "127.0.0.1:5000/spin/app");
	assert_non_null(r);
	assert_string_equal(r->name, "acme");
	r = policy_match(p, "team-a", "127.0.0.1:5000/spin/deep/app:v1", NULL);
	assert_string_equal(r->name, "acme");
	r = policy_match(p, "dev", "127.0.0.1:5000/spin/app:v1", NULL);
	assert_string_equal(r->name, "everything-else");

	/* The same file parses to the same hash; another key changes the rule hash. */
	struct policy *q = NULL;
	assert_int_equal(policy_parse(y.data, y.len, "p.yaml", &q, err, sizeof err), SO_OK);
	assert_string_equal(p->hash, q->hash);
	assert_string_equal(p->rules[0].hash, q->rules[0].hash);
	policy_unref(q);
	policy_unref(p);
	buf_free(&y);
	free(keyfile);
}

static void no_match_and_defaults(void **state)
{
	(void)state;
	struct buf y = BUF_INIT(1 << 20);
	struct policy *p = NULL;
	char err[512] = "";

	buf_appends(&y, "rules:\n- name: a\n  images: [ghcr.io/acme/app]\n  keys:\n  - name: k\n    publicKey: ");
	pem_block(&y, pem_a, "      ");
	assert_int_equal(policy_parse(y.data, y.len, "p.yaml", &p, err, sizeof err), SO_OK);
	assert_int_equal(p->rules[0].warn, 0); /* mode defaults to enforce */
	assert_int_equal(p->cache_ttl_ms, POLICY_DEFAULT_CACHE_TTL_MS);
	/* A pattern without a tag matches the repository with any tag. */
	assert_non_null(policy_match(p, "x", "ghcr.io/acme/app:v1", "ghcr.io/acme/app"));
	assert_null(policy_match(p, "x", "ghcr.io/acme/other:v1", "ghcr.io/acme/other"));
	policy_unref(p);
	/* An empty rule list is valid: nothing is verified. */
	assert_int_equal(policy_parse("rules: []\n", 10, "p.yaml", &p, err, sizeof err), SO_OK);
	assert_null(policy_match(p, "x", "a/b:c", "a/b"));
	policy_unref(p);
	buf_free(&y);
}

struct bad {
	const char *yaml; /* "%s" is replaced by an indented PEM block */
	const char *want; /* in the message */
};

static void parse_errors(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{ "", "exactly one YAML document" },
		{ "[]", "must be a mapping" },
		{ "rule: []", "rule: unknown field" },
		{ "cacheTTL: 5m", "rules: required" },
		{ "rules: {}", "rules:" },
		{ "rules: [3]", "rules[0]: must be a mapping" },
		{ "rules:\n- images: [a]\n  keys: []", "rules[0].name: required" },
		{ "rules:\n- name: a\n  keys: []", "rules[0].images:" },
		{ "rules:\n- name: a\n  images: []\n", "rules[0].images: must be a list" },
		{ "rules:\n- name: a\n  images: [3]\n", "rules[0].images[0]: must be a string" },
		{ "rules:\n- name: a\n  images: [x]\n  keys: []", "rules[0].keys: must be a list" },
		{ "rules:\n- name: a\n  images: [x]\n  mode: audit\n  keys: []", "rules[0].mode: must be enforce or warn" },
		{ "rules:\n- name: a\n  images: [x]\n  nmespaces: [a]\n", "rules[0].nmespaces: unknown field" },
		{ "rules:\n- name: a\n  images: [x]\n  keys:\n  - name: k\n", "rules[0].keys[0]: exactly one of" },
		{ "rules:\n- name: a\n  images: [x]\n  keys:\n  - name: k\n    publicKey: nope\n",
		  "rules[0].keys[0].publicKey: not a PEM public key" },
		{ "rules:\n- name: a\n  images: [x]\n  keys:\n  - name: k\n    publicKeyFile: /nonexistent/k.pub\n",
		  "rules[0].keys[0].publicKeyFile: /nonexistent/k.pub" },
		{ "rules:\n- name: a\n  images: [x]\n  keys:\n  - name: k\n    publicKey: %s  - name: k\n    publicKey: %s",
		  "rules[0].keys[1].name: duplicate key name" },
		{ "rules:\n- name: a\n  images: [x]\n  keys:\n  - name: k\n    publicKey: %s- name: a\n  images: [y]\n  keys:\n"
		  "  - name: k\n    publicKey: %s",
		  "rules[1].name: duplicate rule name" },
		{ "rules: []\ncacheTTL: forever", "cacheTTL: must be a duration" },
		{ "rules: [\n", "p.yaml:" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct buf y = BUF_INIT(1 << 20), block = BUF_INIT(1 << 20);
		struct policy *p = NULL;
		char err[512] = "";
		pem_block(&block, pem_a, "      ");
		for (const char *s = cases[i].yaml; *s; s++) {
			if (s[0] == '%' && s[1] == 's') {
				buf_append(&y, block.data, block.len);
				s++;
			} else {
				buf_append(&y, s, 1);
			}
		}
		int rc = policy_parse(y.data ? y.data : "", y.len, "p.yaml", &p, err, sizeof err);
		if (rc == SO_OK || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, cases[i].want);
		assert_null(p);
		assert_non_null(strstr(err, "p.yaml"));
		buf_free(&y);
		buf_free(&block);
	}
}

static void globs(void **state)
{
	(void)state;
	struct {
		const char *pattern, *s;
		int match;
	} cases[] = {
		{ "ghcr.io/acme/app:v1", "ghcr.io/acme/app:v1", 1 },
		{ "ghcr.io/acme/app:v1", "ghcr.io/acme/app:v2", 0 },
		{ "ghcr.io/acme/*", "ghcr.io/acme/app:v1", 1 },
		{ "ghcr.io/acme/*", "ghcr.io/acme/team/app:v1", 0 }, /* '*' stops at '/' */
		{ "ghcr.io/acme/**", "ghcr.io/acme/team/app:v1", 1 },
		{ "127.0.0.1:*/spin/**", "127.0.0.1:5000/spin/app:v1", 1 },
		{ "127.0.0.1:*/spin/**", "127.0.0.1:5000/other/app:v1", 0 },
		{ "**", "anything/at/all:x", 1 },
		{ "*", "", 1 },
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "a*b*c", "aXbYc", 1 },
		{ "a*b*c", "aXbY/c", 0 },
		{ "***", "a/b", 1 },
		{ "ghcr.io/acme/app", "ghcr.io/acme/app:v1", 0 }, /* whole-string match (policy_match also tries the name) */
		/* Many stars on a long string: linear, no backtracking blow-up. */
		{ "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		if (policy_glob_match(cases[i].pattern, cases[i].s) != cases[i].match)
			fail_msg("glob %s vs %s: want %d", cases[i].pattern, cases[i].s, cases[i].match);
}

/* Every spelling containerd pulls from the same registry lands on the same rule, whichever way the rule spells
 * the host: rules cannot be sidestepped by writing an image's registry differently. */
static void spellings_land_on_one_rule(void **state)
{
	static const struct {
		const char *image, *rule;
	} cases[] = {
		{ "ghcr.io/acme/app:v1", "ghcr" },
		{ "ghcr.io:443/acme/app:v1", "ghcr" },
		{ "GHCR.IO/acme/app:v1", "ghcr" },
		{ "Ghcr.Io:443/acme/app", "ghcr" },
		{ "ghcr.io/acme/team/app@sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ghcr" },
		{ "docker.io/acme/app:v1", "hub" },
		{ "acme/app:v1", "hub" },
		{ "index.docker.io/acme/app", "hub" },
		{ "registry-1.docker.io/acme/app:v1", "hub" },
		{ "registry-1.docker.io:443/acme/app:v1", "hub" },
		{ "Registry-1.Docker.IO/acme/app", "hub" },
		{ "registry.hub.docker.com/acme/app", "hub" },
		{ "docker.io:443/acme/app", "hub" },
		{ "INDEX.DOCKER.IO:443/acme/app:v2", "hub" },
		{ "nginx", "library" },
		{ "nginx:1.27", "library" },
		{ "library/nginx", "library" },
		{ "docker.io/nginx", "library" },
		{ "docker.io/library/nginx:1", "library" },
		{ "registry-1.docker.io/library/nginx", "library" },
		{ "registry-1.docker.io/nginx", "library" },
		{ "index.docker.io:443/nginx", "library" },
		{ "Registry.Example.com:443/x/y", "example" },
		{ "registry.example.com/x/y:z", "example" },
		{ "registry.example.com:5000/x/y", NULL }, /* another port is another registry */
		{ "ghcr.io:8443/acme/app", NULL },
		{ "ghcr.io/other/app", NULL },
	};
	struct buf y = BUF_INIT(1 << 20);
	struct policy *p = NULL;
	char err[512] = "";
	(void)state;

	/* Each rule spells its host another way than most images do. */
	static const char *const rules[][2] = {
		{ "ghcr", "GHCR.io:443/acme/**" },
		{ "hub", "registry-1.docker.io/acme/*" },
		{ "library", "index.docker.io/library/nginx" },
		{ "example", "registry.example.com/x/**" },
	};
	buf_appends(&y, "rules:\n");
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		buf_appendf(&y, "- name: %s\n  images: ['%s']\n  keys:\n  - name: k\n    publicKey: ", rules[i][0],
			    rules[i][1]);
		pem_block(&y, pem_a, "      ");
	}
	assert_int_equal(policy_parse(y.data, y.len, "p.yaml", &p, err, sizeof err), SO_OK);
	assert_string_equal(p->rules[0].images[0], "ghcr.io/acme/**");
	assert_string_equal(p->rules[1].images[0], "docker.io/acme/*");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct image_ref r;
		assert_int_equal(image_ref_parse(cases[i].image, &r, err, sizeof err), SO_OK);
		char *name = image_ref_name(&r), *name_tag = image_ref_name_tag(&r);
		const struct policy_rule *rule = policy_match(p, "ns", name_tag, name);
		if (!cases[i].rule != !rule || (rule && strcmp(rule->name, cases[i].rule) != 0))
			fail_msg("%s (%s): rule %s, want %s", cases[i].image, name_tag, rule ? rule->name : "none",
				 cases[i].rule ? cases[i].rule : "none");
		free(name);
		free(name_tag);
		image_ref_free(&r);
	}
	policy_unref(p);
	buf_free(&y);
}

static void durations(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(verify_parse_duration_ms("8s", &ms), SO_OK);
	assert_int_equal(ms, 8000);
	assert_int_equal(verify_parse_duration_ms("1m30s", &ms), SO_OK);
	assert_int_equal(ms, 90000);
	assert_int_equal(verify_parse_duration_ms("500ms", &ms), SO_OK);
	assert_int_equal(ms, 500);
	assert_int_equal(verify_parse_duration_ms("1.5s", &ms), SO_OK);
	assert_int_equal(ms, 1500);
	assert_int_equal(verify_parse_duration_ms("2h", &ms), SO_OK);
	assert_int_equal(ms, 7200000);
	assert_int_equal(verify_parse_duration_ms("0", &ms), SO_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(verify_parse_duration_ms("8", &ms), SO_E_INVAL);
	assert_int_equal(verify_parse_duration_ms("", &ms), SO_E_INVAL);
	assert_int_equal(verify_parse_duration_ms("s", &ms), SO_E_INVAL);
	assert_int_equal(verify_parse_duration_ms("5x", &ms), SO_E_INVAL);
	assert_int_equal(verify_parse_duration_ms("-5s", &ms), SO_E_INVAL);
	assert_int_equal(verify_parse_duration_ms("25h", &ms), SO_E_INVAL);
}

static void policy_text(struct buf *y, const char *rule, const char *mode)
{
	buf_reset(y);
	buf_appendf(y, "rules:\n- name: %s\n  images: [\"**\"]\n  mode: %s\n  keys:\n  - name: k\n    publicKey: ", rule, mode);
	pem_block(y, pem_a, "      ");
}

/* Rewrites path so that stat sees a change even within one clock tick (a new inode via rename). */
static void replace_file(const char *path, const char *text)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static void reload(void **state)
{
	(void)state;
	struct buf y = BUF_INIT(1 << 20);
	struct policywatch *w = NULL;
	struct policywatch_stats st;
	char err[512] = "";
	char *path;

	policy_text(&y, "first", "enforce");
	path = write_file("policy.yaml", y.data);
	assert_int_equal(policywatch_new(path, 3600, &w, err, sizeof err), SO_OK);
	struct policy *p1 = policywatch_get(w);
	assert_string_equal(p1->rules[0].name, "first");
	assert_int_equal(policywatch_check(w), 0); /* nothing changed */

	/* A good new file replaces it; holders of the old one keep a valid policy. */
	policy_text(&y, "second", "warn");
	replace_file(path, y.data);
	assert_int_equal(policywatch_check(w), 1);
	struct policy *p2 = policywatch_get(w);
	assert_string_equal(p2->rules[0].name, "second");
	assert_string_equal(p1->rules[0].name, "first");
	policy_unref(p1);

	/* A bad new file is refused once; the old policy stays. */
	replace_file(path, "rules: [oops\n");
	assert_true(policywatch_check(w) < 0);
	assert_int_equal(policywatch_check(w), 0); /* not re-read (and not re-logged) until it changes again */
	struct policy *p3 = policywatch_get(w);
	assert_ptr_equal(p3, p2);
	policy_unref(p3);
	policywatch_get_stats(w, &st);
	assert_int_equal(st.reloads, 1);
	assert_int_equal(st.errors, 1);

	/* A deleted file is a refused change too. */
	assert_int_equal(unlink(path), 0);
	assert_true(policywatch_check(w) < 0);
	p3 = policywatch_get(w);
	assert_string_equal(p3->rules[0].name, "second");
	policy_unref(p3);

	/* Fixed again: taken. */
	policy_text(&y, "third", "enforce");
	replace_file(path, y.data);
	assert_int_equal(policywatch_check(w), 1);
	p3 = policywatch_get(w);
	assert_string_equal(p3->rules[0].name, "third");
	policy_unref(p3);
	policy_unref(p2);

	/* Started and stopped, the polling thread leaves nothing behind. */
	assert_int_equal(policywatch_start(w), SO_OK);
	policywatch_free(w);

	/* A bad file at start is an error. */
	replace_file(path, "nope: 1\n");
	assert_int_not_equal(policywatch_new(path, 1, &w, err, sizeof err), SO_OK);
	assert_non_null(strstr(err, "nope: unknown field"));
	free(path);
	buf_free(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_policy), cmocka_unit_test(no_match_and_defaults), cmocka_unit_test(parse_errors),
		cmocka_unit_test(globs), cmocka_unit_test(spellings_land_on_one_rule),       cmocka_unit_test(durations),             cmocka_unit_test(reload),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

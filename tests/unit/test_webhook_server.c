/*
 * webhook/webhook_server.c and operator/base/certwatch.c over real TLS on 127.0.0.1, without a cluster: certificates made
 * by the openssl CLI in a temporary folder (a CA, two serving pairs, a pair whose key is not the
 * certificate's), reviews POSTed with libcurl trusting that CA. Checks the HTTP answers (200, 400, 404, 405,
 * 413, 415, 503), the TLS floor (1.1 refused by our server though the client and a permissive server can do
 * it), certificate loading (missing files, a mismatched pair kept out, reload on change, by poll too),
 * rotation under concurrent load with no failed request, and the metrics text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/admission.h"
#include "operator/base/certwatch.h"
#include "webhook/webhook_server.h"

static char dir[256];      /* the temporary folder */
static char ca_file[300];  /* the CA clients trust */
static char serial1[64], serial2[64]; /* of pair1 and pair2, as openssl prints them */

/* ---- certificates ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static char *slurp(const char *name, size_t *len)
{
	char p[400];
	path(p, sizeof p, name);
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *data = malloc((size_t)n + 1);
	if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		data = NULL;
	}
	fclose(f);
	if (data) {
		data[n] = '\0';
		*len = (size_t)n;
	}
	return data;
}

/* Installs <pair>.crt and <pair>.key as the served tls.crt and tls.key of folder sub, each by rename. */
static void install(const char *sub, const char *pair_crt, const char *pair_key)
{
	assert_int_equal(sh("cd '%s' && mkdir -p '%s' && cp '%s' '%s/.crt.tmp' && cp '%s' '%s/.key.tmp' && "
			    "mv -f '%s/.crt.tmp' '%s/tls.crt' && mv -f '%s/.key.tmp' '%s/tls.key'",
			    dir, sub, pair_crt, sub, pair_key, sub, sub, sub, sub, sub),
			 0);
}

static void read_serial(const char *crt, char *out, size_t n)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -serial -in '%s/%s'", dir, crt);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[200] = "";
	assert_non_null(fgets(line, sizeof line, p));
	pclose(p);
	char *v = strchr(line, '=');
	assert_non_null(v);
	snprintf(out, n, "%s", v + 1);
	out[strcspn(out, "\r\n")] = '\0';
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s/webhook-server-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	path(ca_file, sizeof ca_file, "ca.crt");
	/* A CA, pair1 (ECDSA P-256) and pair2 (RSA 2048) signed by it for IP:127.0.0.1 and DNS:localhost. */
	int rc = sh("cd '%s' && exec >gen.log 2>&1 && "
		    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n"
		    "keyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' >ext.cnf && "
		    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
		    "-out ca.crt -days 2 -subj /CN=test-ca && "
		    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout pair1.key "
		    "-out pair1.csr -subj /CN=localhost && "
		    "openssl x509 -req -in pair1.csr -CA ca.crt -CAkey ca.key -set_serial 0x51A1 -days 1 "
		    "-extfile ext.cnf -out pair1.crt && "
		    "openssl req -new -newkey rsa:2048 -nodes -keyout pair2.key -out pair2.csr -subj /CN=localhost && "
		    "openssl x509 -req -in pair2.csr -CA ca.crt -CAkey ca.key -set_serial 0x51A2 -days 1 "
		    "-extfile ext.cnf -out pair2.crt && "
		    /* client certificates: one from the CA, one from a stranger CA */
		    "printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' "
		    ">client.cnf && "
		    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key "
		    "-out client.csr -subj /CN=kube-apiserver && "
		    "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 0x51C1 -days 1 "
		    "-extfile client.cnf -out client.crt && "
		    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key "
		    "-out other-ca.crt -days 2 -subj /CN=other-ca && "
		    "openssl x509 -req -in client.csr -CA other-ca.crt -CAkey other-ca.key -set_serial 0x51C2 -days 1 "
		    "-extfile client.cnf -out stranger.crt",
		    dir);
	if (rc != 0) {
		sh("cat '%s/gen.log' >&2", dir);
		return -1;
	}
	read_serial("pair1.crt", serial1, sizeof serial1);
	read_serial("pair2.crt", serial2, sizeof serial2);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	sh("rm -rf '%s'", dir);
	return 0;
}

/* ---- a fake executor cache ---- */

static atomic_int not_ready;

static int fake_list(void *user, const char *ns, json_t *names, char *msg, size_t msglen)
{
	(void)user;
	(void)msg;
	(void)msglen;
	if (!strcmp(ns, "default")) {
		json_array_append_new(names, json_string("zeta"));
		json_array_append_new(names, json_string("alpha"));
	}
	return SO_OK;
}

static int fake_get(void *user, const char *ns, const char *name, json_t **out)
{
	(void)user;
	if (!strcmp(ns, "default") && (!strcmp(name, "alpha") || !strcmp(name, "zeta"))) {
		*out = json_pack("{s:{s:s,s:s},s:{s:b,s:{s:s}}}", "metadata", "name", name, "namespace", ns, "spec",
				 "createDeployment", 1, "deploymentConfig", "runtimeClassName", "wasmtime-spin-v2");
		return SO_OK;
	}
	return SO_E_API_NOT_FOUND;
}

static int fake_ready(void *user, char *why, size_t whylen)
{
	(void)user;
	if (!atomic_load(&not_ready))
		return 1;
	snprintf(why, whylen, "caches not synced");
	return 0;
}

struct srv {
	struct webhook_server *s;
	unsigned short port;
	char sub[64];
};

/* Starts a server on 127.0.0.1:0 reading <dir>/<sub>/tls.{crt,key}. */
static void start(struct srv *v, const char *sub, const char *prio, double poll_s)
{
	char crt[400], key[400], err[256] = "";
	snprintf(v->sub, sizeof v->sub, "%s", sub);
	snprintf(crt, sizeof crt, "%s/%s/tls.crt", dir, sub);
	snprintf(key, sizeof key, "%s/%s/tls.key", dir, sub);
	struct webhook_server_opts o = {
		.bind_addr = "127.0.0.1:0",
		.cert_file = crt,
		.key_file = key,
		.cert_poll_s = poll_s > 0 ? poll_s : 3600,
		.tls_priorities = prio,
		.threads = 2,
		.admission = { .list_executors = fake_list, .get_executor = fake_get },
		.ready = fake_ready,
	};
	int rc = webhook_server_start(&o, &v->s, &v->port, err, sizeof err);
	if (rc)
		fail_msg("webhook_server_start: %s", err);
	assert_non_null(v->s);
	assert_true(v->port > 0);
}

/* ---- requests ---- */

struct resp {
	long code;
	CURLcode cc;
	struct buf body;
	char serial[64];
	char ctype[128];
	int allow_post;
	int conn_close; /* "Connection: close" came with the answer */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, p, size * n) == SO_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	if (size * n >= 6 && !strncasecmp(p, "Allow:", 6) && strstr(p, "POST"))
		r->allow_post = 1;
	if (size * n >= 11 && !strncasecmp(p, "Connection:", 11) && (strstr(p, "close") || strstr(p, "Close")))
		r->conn_close = 1;
	return size * n;
}

/* Normalizes a serial ("51:a1", "51A1", "0x51a1") to upper-case hex without separators or leading zeros. */
static void norm_serial(const char *in, char *out, size_t n)
{
	size_t o = 0;
	if (!strncmp(in, "0x", 2))
		in += 2;
	for (; *in && o + 1 < n; in++) {
		if (isxdigit((unsigned char)*in) && !(o == 0 && *in == '0'))
			out[o++] = (char)toupper((unsigned char)*in);
	}
	out[o] = '\0';
}

struct chunked {
	size_t left;
};

static size_t read_zeros(char *p, size_t size, size_t n, void *ud)
{
	struct chunked *c = ud;
	size_t k = size * n < c->left ? size * n : c->left;
	memset(p, ' ', k);
	c->left -= k;
	return k;
}

enum { F_CHUNKED = 1, F_TLS11 = 2, F_TLS12 = 4, F_TLS13 = 8 };

/* With F_TLS12: the only OpenSSL cipher suites the client offers (NULL: its defaults). */
static const char *tls12_ciphers;
/* The client certificate and key the client presents (NULL: none). */
static const char *client_crt, *client_key;

/* Sends one request on handle h (or a fresh handle when h is NULL). body NULL means no body. */
static struct resp req(CURL *h, unsigned short port, const char *method, const char *p, const char *ctype,
		       const char *body, size_t len, int flags)
{
	struct resp r = { 0 };
	char url[256];
	struct curl_slist *hdrs = NULL;
	struct chunked ch = { len };
	int own = !h;
	char hdr[160];

	buf_init(&r.body, 1 << 20);
	if (own)
		h = curl_easy_init();
	assert_non_null(h);
	snprintf(url, sizeof url, "https://127.0.0.1:%u%s", port, p);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(h, CURLOPT_SSLCERT, client_crt);
	curl_easy_setopt(h, CURLOPT_SSLKEY, client_key);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	if (ctype) {
		snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (flags & F_TLS11) {
		/* Let OpenSSL offer TLS 1.1 at all (its default security level forbids it). */
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1));
		curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
	} else if (flags & F_TLS12) {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
		/* SECLEVEL=0 lets OpenSSL offer the weak suites the server must refuse. */
		if (tls12_ciphers) {
			char list[256];
			snprintf(list, sizeof list, "%s:@SECLEVEL=0", tls12_ciphers);
			curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, list);
		}
	} else if (flags & F_TLS13) {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
	} else {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_DEFAULT);
	}
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (flags & F_CHUNKED) {
			hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, read_zeros);
			curl_easy_setopt(h, CURLOPT_READDATA, &ch);
		} else {
			curl_easy_setopt(h, CURLOPT_READFUNCTION, NULL);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
		}
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 0L);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	r.cc = curl_easy_perform(h);
	if (r.cc == CURLE_OK) {
		char *ct = NULL;
		struct curl_certinfo *ci = NULL;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.code);
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(r.ctype, sizeof r.ctype, "%s", ct);
		if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci && ci->num_of_certs > 0) {
			for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next)
				if (!strncmp(l->data, "Serial Number:", 14))
					norm_serial(l->data + 14, r.serial, sizeof r.serial);
		}
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (own)
		curl_easy_cleanup(h);
	return r;
}

static const char review_fmt[] =
	"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"%s\","
	"\"kind\":{\"group\":\"core.spinkube.dev\",\"version\":\"v1alpha1\",\"kind\":\"SpinApp\"},"
	"\"resource\":{\"group\":\"core.spinkube.dev\",\"version\":\"v1alpha1\",\"resource\":\"spinapps\"},"
	"\"namespace\":\"default\",\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"core.spinkube.dev/v1alpha1\","
	"\"kind\":\"SpinApp\",\"metadata\":{\"name\":\"app\",\"namespace\":\"default\"},"
	"\"spec\":{\"image\":\"ghcr.io/example/app:v1\",\"replicas\":%d%s}}}}";

static char *review(const char *uid, int replicas, const char *extra_spec)
{
	size_t n = sizeof review_fmt + strlen(uid) + strlen(extra_spec) + 32;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, review_fmt, uid, replicas, extra_spec);
	return s;
}

static json_t *response_of(const struct resp *r)
{
	json_error_t e;
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &e);
	if (!j)
		fail_msg("not JSON: %s", r->body.data ? r->body.data : "");
	return j;
}

static const char *M_APP = ADMISSION_PATH_MUTATE_SPINAPP, *V_APP = ADMISSION_PATH_VALIDATE_SPINAPP;

/* ---- tests ---- */

static void test_reviews(void **state)
{
	struct srv v;
	(void)state;
	install("reviews", "pair1.crt", "pair1.key");
	start(&v, "reviews", NULL, 0);
	assert_true(webhook_server_cert_loaded(v.s));

	/* Defaulting: the first executor of the namespace, as a JSON patch, the uid echoed. */
	char *body = review("uid-1", 1, "");
	struct resp r = req(NULL, v.port, "POST", M_APP, "application/json", body, strlen(body), 0);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.ctype, "application/json");
	char s1[64];
	norm_serial(serial1, s1, sizeof s1);
	assert_string_equal(r.serial, s1);
	json_t *j = response_of(&r);
	json_t *resp = json_object_get(j, "response");
	assert_string_equal(json_string_value(json_object_get(resp, "uid")), "uid-1");
	assert_true(json_is_true(json_object_get(resp, "allowed")));
	assert_string_equal(json_string_value(json_object_get(resp, "patchType")), "JSONPatch");
	json_decref(j);
	buf_free(&r.body);
	free(body);

	/* Validation failure: a 200 review that denies (a negative replicas count). */
	body = review("uid-2", -1, ",\"executor\":\"alpha\"");
	r = req(NULL, v.port, "POST", V_APP, "application/json; charset=utf-8", body, strlen(body), 0);
	assert_int_equal(r.code, 200);
	j = response_of(&r);
	resp = json_object_get(j, "response");
	assert_true(json_is_false(json_object_get(resp, "allowed")));
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(resp, "status"), "message")),
			       "spec.replicas: Invalid value: -1: replicas must be >= 0"));
	json_decref(j);
	buf_free(&r.body);
	free(body);

	/* Malformed and truncated bodies: 400 in plain text. */
	r = req(NULL, v.port, "POST", V_APP, "application/json", "{", 1, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body.data, "invalid AdmissionReview"));
	assert_non_null(strstr(r.ctype, "text/plain"));
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "application/json", NULL, 0, 0);
	assert_int_equal(r.code, 400);
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "application/json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}", 31, 0);
	assert_int_equal(r.code, 400);
	buf_free(&r.body);

	/* Unknown path, other methods, other content types. */
	r = req(NULL, v.port, "POST", "/mutate-nothing", "application/json", "{}", 2, 0);
	assert_int_equal(r.code, 404);
	buf_free(&r.body);
	r = req(NULL, v.port, "GET", "/", NULL, NULL, 0, 0);
	assert_int_equal(r.code, 404);
	buf_free(&r.body);
	r = req(NULL, v.port, "GET", V_APP, NULL, NULL, 0, 0);
	assert_int_equal(r.code, 405);
	assert_true(r.allow_post);
	buf_free(&r.body);
	r = req(NULL, v.port, "PUT", V_APP, "application/json", NULL, 0, 0);
	assert_int_equal(r.code, 405);
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "text/plain", "{}", 2, 0);
	assert_int_equal(r.code, 415);
	assert_non_null(strstr(r.body.data, "expected application/json"));
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, NULL, "{}", 2, 0);
	assert_int_equal(r.code, 415);
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "application/jsonx", "{}", 2, 0);
	assert_int_equal(r.code, 415);
	buf_free(&r.body);

	/* Not ready (caches not synced): 503 with the reason. */
	atomic_store(&not_ready, 1);
	body = review("uid-3", 1, "");
	r = req(NULL, v.port, "POST", M_APP, "application/json", body, strlen(body), 0);
	atomic_store(&not_ready, 0);
	assert_int_equal(r.code, 503);
	assert_non_null(strstr(r.body.data, "caches not synced"));
	buf_free(&r.body);
	free(body);

	/* Metrics: counted by path and code. */
	struct buf m = BUF_INIT(1 << 20);
	webhook_server_metrics(v.s, &m);
	assert_non_null(strstr(m.data, "controller_runtime_webhook_requests_total{code=\"200\",webhook=\""
				       "/mutate-core-spinkube-dev-v1alpha1-spinapp\"} 1\n"));
	assert_non_null(strstr(m.data, "controller_runtime_webhook_requests_total{code=\"400\",webhook=\""
				       "/validate-core-spinkube-dev-v1alpha1-spinapp\"} 3\n"));
	assert_non_null(strstr(m.data, "controller_runtime_webhook_requests_total{code=\"415\",webhook=\""
				       "/validate-core-spinkube-dev-v1alpha1-spinapp\"} 3\n"));
	assert_non_null(strstr(m.data, "controller_runtime_webhook_requests_in_flight{webhook=\""
				       "/validate-core-spinkube-dev-v1alpha1-spinapp\"} 0\n"));
	assert_non_null(strstr(m.data, "controller_runtime_webhook_latency_seconds_count{webhook=\""
				       "/mutate-core-spinkube-dev-v1alpha1-spinapp\"} 2\n"));
	assert_non_null(strstr(m.data, "certwatcher_read_certificate_total 1\n"));
	assert_non_null(strstr(m.data, "certwatcher_read_certificate_errors_total 0\n"));
	buf_free(&m);
	webhook_server_stop(v.s, 1);
}

/* Draining (SIGTERM): reviews are still answered, each closing its connection so that the next request goes
 * through the Service to another replica; before, connections are kept alive. */
static void test_drain_closes_connections(void **state)
{
	struct srv v;
	(void)state;
	install("drain", "pair1.crt", "pair1.key");
	start(&v, "drain", NULL, 0);
	char *body = review("uid-d", 1, "");
	CURL *h = curl_easy_init();
	struct resp r = req(h, v.port, "POST", M_APP, "application/json", body, strlen(body), 0);
	assert_int_equal(r.code, 200);
	assert_false(r.conn_close);
	buf_free(&r.body);
	webhook_server_drain(v.s);
	for (int i = 0; i < 2; i++) {
		r = req(h, v.port, "POST", M_APP, "application/json", body, strlen(body), 0);
		assert_int_equal(r.cc, CURLE_OK);
		assert_int_equal(r.code, 200);
		assert_true(r.conn_close);
		json_t *j = response_of(&r);
		assert_true(json_is_true(json_object_get(json_object_get(j, "response"), "allowed")));
		json_decref(j);
		buf_free(&r.body);
	}
	curl_easy_cleanup(h);
	free(body);
	webhook_server_stop(v.s, 1);
}

static void test_body_cap(void **state)
{
	struct srv v;
	(void)state;
	install("cap", "pair1.crt", "pair1.key");
	start(&v, "cap", NULL, 0);
	size_t big = (size_t)4 << 20;
	char *body = malloc(big);
	assert_non_null(body);
	memset(body, ' ', big);
	CURL *h = curl_easy_init();

	/* With a Content-Length: 413, and the server goes on serving (on a new connection). */
	struct resp r = req(h, v.port, "POST", V_APP, "application/json", body, big, 0);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 413);
	assert_non_null(strstr(r.body.data, "larger than 3145728 bytes"));
	buf_free(&r.body);
	/* Exactly the cap is read, and is then a (bad) review: 400, not 413. */
	r = req(h, v.port, "POST", V_APP, "application/json", body, ADMISSION_MAX_BODY, 0);
	assert_int_equal(r.code, 400);
	buf_free(&r.body);
	/* Chunked, no length announced: 413 once past the cap. */
	r = req(h, v.port, "POST", V_APP, "application/json", NULL, big, F_CHUNKED);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 413);
	buf_free(&r.body);
	char *review_body = review("after", 1, ",\"executor\":\"alpha\"");
	r = req(h, v.port, "POST", V_APP, "application/json", review_body, strlen(review_body), 0);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);
	free(review_body);
	curl_easy_cleanup(h);
	free(body);
	webhook_server_stop(v.s, 1);
}

static void test_tls_versions(void **state)
{
	struct srv v, loose;
	(void)state;
	install("tls", "pair1.crt", "pair1.key");
	start(&v, "tls", NULL, 0);
	/* A control: the same server allowing TLS 1.1 shows the client can speak it. */
	start(&loose, "tls", "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.1", 0);
	char *body = review("tls", 1, ",\"executor\":\"alpha\"");

	struct resp r = req(NULL, loose.port, "POST", V_APP, "application/json", body, strlen(body), F_TLS11);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), F_TLS11);
	assert_int_not_equal(r.cc, CURLE_OK);
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), F_TLS12);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);
	r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), F_TLS13);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);
	free(body);
	webhook_server_stop(loose.s, 1);
	webhook_server_stop(v.s, 1);

	/* TLS 1.2 offers forward-secret AEAD suites only: with an RSA certificate (static RSA would be possible)
	 * and an ECDSA one, each suite alone. */
	static const struct {
		const char *pair, *cipher;
		int ok;
	} suites[] = {
		{ "pair2", "ECDHE-RSA-AES128-GCM-SHA256", 1 },  { "pair2", "ECDHE-RSA-AES256-GCM-SHA384", 1 },
		{ "pair2", "ECDHE-RSA-CHACHA20-POLY1305", 1 },  { "pair2", "AES128-GCM-SHA256", 0 },
		{ "pair2", "AES256-GCM-SHA384", 0 },            { "pair2", "AES128-SHA", 0 },
		{ "pair2", "AES256-SHA256", 0 },                { "pair2", "ECDHE-RSA-AES128-SHA", 0 },
		{ "pair2", "ECDHE-RSA-AES256-SHA384", 0 },      { "pair2", "DHE-RSA-AES128-GCM-SHA256", 0 },
		{ "pair1", "ECDHE-ECDSA-AES128-GCM-SHA256", 1 }, { "pair1", "ECDHE-ECDSA-AES256-SHA", 0 },
	};
	body = review("tls", 1, ",\"executor\":\"alpha\"");
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
		char crt[32], key[32];
		snprintf(crt, sizeof crt, "%s.crt", suites[i].pair);
		snprintf(key, sizeof key, "%s.key", suites[i].pair);
		install("tls-suites", crt, key);
		start(&v, "tls-suites", NULL, 0);
		tls12_ciphers = suites[i].cipher;
		r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), F_TLS12);
		tls12_ciphers = NULL;
		if ((r.cc == CURLE_OK && r.code == 200) != suites[i].ok)
			fail_msg("TLS 1.2 with %s only (%s): curl %d, HTTP %ld; want %s", suites[i].cipher, suites[i].pair,
				 (int)r.cc, r.code, suites[i].ok ? "a handshake" : "no handshake");
		buf_free(&r.body);
		webhook_server_stop(v.s, 1);
	}
	free(body);

	/* A bad priority string is refused at start with a message. */
	char err[256] = "";
	struct webhook_server *s = NULL;
	struct webhook_server_opts o = { .bind_addr = "127.0.0.1:0", .cert_file = "/nonexistent/a",
					 .key_file = "/nonexistent/b", .tls_priorities = "NORMAL:+NO-SUCH-THING" };
	assert_int_equal(webhook_server_start(&o, &s, NULL, err, sizeof err), SO_E_CONFIG);
	assert_null(s);
	assert_non_null(strstr(err, "priority"));
	o.bind_addr = "0";
	assert_int_equal(webhook_server_start(&o, &s, NULL, err, sizeof err), SO_OK);
	assert_null(s);
	o.bind_addr = "nonsense";
	assert_int_equal(webhook_server_start(&o, &s, NULL, err, sizeof err), SO_E_INVAL);
}

static void test_certificate_loading(void **state)
{
	struct srv v;
	(void)state;
	char none[400];
	path(none, sizeof none, "later");
	sh("rm -rf '%s'", none);

	/* No files yet: the server runs, handshakes fail, and it says why. */
	start(&v, "later", NULL, 0);
	assert_false(webhook_server_cert_loaded(v.s));
	char why[512];
	webhook_server_cert_status(v.s, why, sizeof why);
	assert_non_null(strstr(why, "no serving certificate loaded"));
	char *body = review("load", 1, ",\"executor\":\"alpha\"");
	struct resp r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), 0);
	assert_int_not_equal(r.cc, CURLE_OK);
	buf_free(&r.body);
	assert_true(webhook_server_check_certs(v.s) < 0); /* still nothing (logged once only) */

	/* A pair whose key is another certificate's: refused, still nothing served. */
	install("later", "pair1.crt", "pair2.key");
	assert_true(webhook_server_check_certs(v.s) < 0);
	assert_false(webhook_server_cert_loaded(v.s));

	/* The right key arrives: served from the next check. */
	install("later", "pair1.crt", "pair1.key");
	assert_int_equal(webhook_server_check_certs(v.s), 1);
	assert_true(webhook_server_cert_loaded(v.s));
	webhook_server_cert_status(v.s, why, sizeof why);
	assert_string_equal(why, "");
	r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), 0);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);

	/* Touching the files without changing them swaps nothing. */
	sh("touch '%s/later/tls.crt' '%s/later/tls.key'", dir, dir);
	assert_int_equal(webhook_server_check_certs(v.s), 0);

	/* A bad new pair is refused with the old one kept; a good one replaces it. */
	install("later", "pair2.crt", "pair1.key");
	assert_true(webhook_server_check_certs(v.s) < 0);
	assert_true(webhook_server_cert_loaded(v.s));
	r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), 0);
	assert_int_equal(r.code, 200);
	char s1[64];
	norm_serial(serial1, s1, sizeof s1);
	assert_string_equal(r.serial, s1);
	buf_free(&r.body);
	sh("echo garbage > '%s/later/tls.key'", dir);
	assert_true(webhook_server_check_certs(v.s) < 0);
	install("later", "pair2.crt", "pair2.key");
	assert_int_equal(webhook_server_check_certs(v.s), 1);
	r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), 0);
	assert_int_equal(r.code, 200);
	char s2[64];
	norm_serial(serial2, s2, sizeof s2);
	assert_string_equal(r.serial, s2);
	buf_free(&r.body);

	struct buf m = BUF_INIT(1 << 20);
	webhook_server_metrics(v.s, &m);
	assert_non_null(strstr(m.data, "certwatcher_read_certificate_total 2\n"));
	assert_non_null(strstr(m.data, "certwatcher_read_certificate_errors_total 5\n"));
	buf_free(&m);
	free(body);
	webhook_server_stop(v.s, 1);
}

static void test_validate_pem(void **state)
{
	size_t c1, k1, k2;
	char why[256];
	(void)state;
	char *crt = slurp("pair1.crt", &c1), *key = slurp("pair1.key", &k1), *key2 = slurp("pair2.key", &k2);
	assert_non_null(crt);
	assert_non_null(key);
	assert_non_null(key2);
	assert_int_equal(certwatch_validate_pem(crt, c1, key, k1, why, sizeof why), SO_OK);
	assert_int_equal(certwatch_validate_pem(crt, c1, key2, k2, why, sizeof why), SO_E_INVAL);
	assert_non_null(strstr(why, "does not belong"));
	assert_int_equal(certwatch_validate_pem("x", 1, key, k1, why, sizeof why), SO_E_INVAL);
	assert_non_null(strstr(why, "no PEM certificate"));
	assert_int_equal(certwatch_validate_pem(crt, c1, "x", 1, why, sizeof why), SO_E_INVAL);
	assert_non_null(strstr(why, "private key"));
	/* A truncated certificate. */
	assert_int_equal(certwatch_validate_pem(crt, c1 / 2, key, k1, why, sizeof why), SO_E_INVAL);
	free(crt);
	free(key);
	free(key2);
}

static void test_poll_reload(void **state)
{
	struct srv v;
	(void)state;
	install("poll", "pair1.crt", "pair1.key");
	start(&v, "poll", NULL, 0.1);
	char *body = review("poll", 1, ",\"executor\":\"alpha\"");
	char s2[64];
	norm_serial(serial2, s2, sizeof s2);
	install("poll", "pair2.crt", "pair2.key");
	int seen = 0;
	for (int i = 0; i < 100 && !seen; i++) {
		struct resp r = req(NULL, v.port, "POST", V_APP, "application/json", body, strlen(body), 0);
		assert_int_equal(r.code, 200);
		seen = !strcmp(r.serial, s2);
		buf_free(&r.body);
		if (!seen)
			usleep(50 * 1000);
	}
	assert_true(seen);
	free(body);
	webhook_server_stop(v.s, 1);
}

/* ---- rotation under load: no request fails, connections opened before a swap keep working ---- */

struct loader {
	unsigned short port;
	atomic_int *stop;
	int ok, failed, reuse;
	char last_error[256];
};

static void *load(void *arg)
{
	struct loader *l = arg;
	char *body = review("load", 1, ",\"executor\":\"alpha\"");
	CURL *h = l->reuse ? curl_easy_init() : NULL;
	while (!atomic_load(l->stop)) {
		struct resp r = req(h, l->port, "POST", M_APP, "application/json", body, strlen(body), 0);
		if (r.cc == CURLE_OK && r.code == 200) {
			l->ok++;
		} else {
			l->failed++;
			snprintf(l->last_error, sizeof l->last_error, "curl %d (%s), HTTP %ld", (int)r.cc,
				 curl_easy_strerror(r.cc), r.code);
		}
		buf_free(&r.body);
	}
	if (h)
		curl_easy_cleanup(h);
	free(body);
	return NULL;
}

static void test_rotation_under_load(void **state)
{
	struct srv v;
	(void)state;
	install("rotate", "pair1.crt", "pair1.key");
	start(&v, "rotate", NULL, 0);
	atomic_int stop = 0;
	struct loader ls[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		ls[i] = (struct loader){ .port = v.port, .stop = &stop, .reuse = i % 2 };
		assert_int_equal(pthread_create(&th[i], NULL, load, &ls[i]), 0);
	}
	int swaps = 0;
	for (int i = 0; i < 20; i++) {
		usleep(50 * 1000);
		if (i % 2)
			install("rotate", "pair1.crt", "pair1.key");
		else
			install("rotate", "pair2.crt", "pair2.key");
		swaps += webhook_server_check_certs(v.s) == 1;
	}
	usleep(100 * 1000);
	atomic_store(&stop, 1);
	int ok = 0, failed = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok += ls[i].ok;
		failed += ls[i].failed;
		if (ls[i].failed)
			print_error("loader %d: %d failed, last: %s\n", i, ls[i].failed, ls[i].last_error);
	}
	assert_int_equal(swaps, 20);
	assert_int_equal(failed, 0);
	assert_true(ok > 20);
	webhook_server_stop(v.s, 5);
}

/* ---- the verification pool ---- */

/* A fake verifier: images named ".../slo:..." need a registry that takes slow_ms to answer (a tarpit). */
static atomic_int slow_ms, slow_started;

static int fake_needs_io(void *ud, const struct verify_image_check *in)
{
	(void)ud;
	return strstr(in->image, "/slo:") != NULL;
}

static int fake_verify(void *ud, const struct verify_image_check *in, struct verify_image_verdict *out)
{
	(void)ud;
	memset(out, 0, sizeof *out);
	if (strstr(in->image, "/slo:")) {
		atomic_fetch_add(&slow_started, 1);
		usleep((useconds_t)atomic_load(&slow_ms) * 1000);
	}
	out->decision = VERIFY_IMAGE_ADMIT;
	return SO_OK;
}

static int fake_unavailable(void *ud, const struct verify_image_check *in, const char *reason,
			    struct verify_image_verdict *out)
{
	(void)ud;
	memset(out, 0, sizeof *out);
	out->decision = VERIFY_IMAGE_DENY;
	snprintf(out->message, sizeof out->message, "image %s (unresolved) is not verified: %s", in->image, reason);
	return SO_OK;
}

static void start_verifying(struct srv *v, const char *sub, unsigned workers, unsigned queue, int64_t timeout_ms)
{
	char crt[400], key[400], err[256] = "";
	snprintf(v->sub, sizeof v->sub, "%s", sub);
	snprintf(crt, sizeof crt, "%s/%s/tls.crt", dir, sub);
	snprintf(key, sizeof key, "%s/%s/tls.key", dir, sub);
	struct webhook_server_opts o = {
		.bind_addr = "127.0.0.1:0",
		.cert_file = crt,
		.key_file = key,
		.cert_poll_s = 3600,
		.threads = 2,
		.verify_workers = workers,
		.verify_queue = queue,
		.admission = { .list_executors = fake_list, .get_executor = fake_get, .verify_image = fake_verify,
			       .verify_needs_io = fake_needs_io, .verify_unavailable = fake_unavailable,
			       .verify_timeout_ms = timeout_ms },
		.ready = fake_ready,
	};
	if (webhook_server_start(&o, &v->s, &v->port, err, sizeof err))
		fail_msg("webhook_server_start: %s", err);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct slow_client {
	unsigned short port;
	double took;
	long code;
	char message[512];
	int allowed;
};

static void *post_slow(void *arg)
{
	struct slow_client *c = arg;
	char *body = review("slow", 1, ",\"executor\":\"alpha\"");
	char *img = strstr(body, "example/app");
	memcpy(img, "example/slo", 11); /* ghcr.io/example/slo:v1 */
	double t0 = now_s();
	struct resp r = req(NULL, c->port, "POST", M_APP, "application/json", body, strlen(body), 0);
	c->took = now_s() - t0;
	c->code = r.cc == CURLE_OK ? r.code : -1;
	if (c->code == 200) {
		json_t *j = response_of(&r), *resp = json_object_get(j, "response");
		c->allowed = json_is_true(json_object_get(resp, "allowed"));
		const char *m = json_string_value(json_object_get(json_object_get(resp, "status"), "message"));
		snprintf(c->message, sizeof c->message, "%s", m ? m : "");
		json_decref(j);
	}
	buf_free(&r.body);
	free(body);
	return NULL;
}

static const char executor_review[] =
	"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x1\","
	"\"kind\":{\"group\":\"core.spinkube.dev\",\"version\":\"v1alpha1\",\"kind\":\"SpinAppExecutor\"},"
	"\"resource\":{\"group\":\"core.spinkube.dev\",\"version\":\"v1alpha1\",\"resource\":\"spinappexecutors\"},"
	"\"namespace\":\"default\",\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"core.spinkube.dev/v1alpha1\","
	"\"kind\":\"SpinAppExecutor\",\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"},"
	"\"spec\":{\"createDeployment\":true,\"deploymentConfig\":{\"runtimeClassName\":\"wasmtime-spin-v2\"}}}}}";

/*
 * A tarpit registry (each slow verification takes 5 s) behind 1 worker and a queue of 1, a deadline of 1 s: the
 * first review runs, the second waits, the third is answered at once (queue full); the first two at the
 * deadline (deadline exceeded), both denied as a registry failure is. Meanwhile executor reviews and SpinApp
 * reviews that need no registry are answered at once, on only 2 request threads. The bounds are the task's
 * (executor reviews within 1 s), asserted with margin on the fast side.
 */
static void test_verification_pool(void **state)
{
	struct srv v;
	struct slow_client c[3];
	pthread_t th[3];
	(void)state;
	install("pool", "pair1.crt", "pair1.key");
	atomic_store(&slow_ms, 5000);
	atomic_store(&slow_started, 0);
	start_verifying(&v, "pool", 1, 1, 1000);
	for (int i = 0; i < 3; i++) {
		c[i] = (struct slow_client){ .port = v.port };
		assert_int_equal(pthread_create(&th[i], NULL, post_slow, &c[i]), 0);
		usleep(100 * 1000); /* in order: running, queued, refused */
	}
	for (int i = 0; i < 10; i++) {
		double t0 = now_s();
		struct resp r = req(NULL, v.port, "POST", ADMISSION_PATH_VALIDATE_EXECUTOR, "application/json",
				    executor_review, strlen(executor_review), 0);
		double took = now_s() - t0;
		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body.data, "\"allowed\":true"));
		assert_true(took < 1.0);
		buf_free(&r.body);
		char *body = review("fast", 1, ",\"executor\":\"alpha\"");
		t0 = now_s();
		r = req(NULL, v.port, "POST", M_APP, "application/json", body, strlen(body), 0);
		took = now_s() - t0;
		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body.data, "\"allowed\":true"));
		assert_true(took < 1.0);
		buf_free(&r.body);
		free(body);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	int full = 0, late = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c[i].code, 200);
		assert_false(c[i].allowed);
		if (strstr(c[i].message, "image ghcr.io/example/slo:v1 (unresolved) is not verified: verification queue "
					 "full")) {
			full++;
			assert_true(c[i].took < 0.5);
		} else {
			assert_non_null(strstr(c[i].message, "image ghcr.io/example/slo:v1 (unresolved) is not verified: "
							     "verification deadline exceeded"));
			late++;
			assert_true(c[i].took > 0.8 && c[i].took < 2.5);
		}
	}
	assert_int_equal(full, 1);
	assert_int_equal(late, 2);
	assert_int_equal(atomic_load(&slow_started), 1); /* the queued one never reached the registry */
	struct buf m = BUF_INIT(1 << 20);
	webhook_server_metrics(v.s, &m);
	assert_non_null(strstr(m.data, "spin_operator_webhook_verification_pool_rejected_total 1\n"));
	assert_non_null(strstr(m.data, "spin_operator_webhook_verification_pool_timeouts_total 2\n"));
	buf_free(&m);
	double t0 = now_s();
	webhook_server_stop(v.s, 1); /* waits for the tarpit run (5 s from its start) */
	assert_true(now_s() - t0 < 6.0);
}

/* Stopping with reviews on the pool answers them (libmicrohttpd would abort with a connection suspended). */
static void test_stop_with_pending_verification(void **state)
{
	struct srv v;
	struct slow_client c[2];
	pthread_t th[2];
	(void)state;
	install("poolstop", "pair1.crt", "pair1.key");
	atomic_store(&slow_ms, 800);
	start_verifying(&v, "poolstop", 1, 4, 10000);
	for (int i = 0; i < 2; i++) {
		c[i] = (struct slow_client){ .port = v.port };
		assert_int_equal(pthread_create(&th[i], NULL, post_slow, &c[i]), 0);
	}
	usleep(300 * 1000);
	webhook_server_stop(v.s, 0.1);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		/* Answered as at the deadline, or the connection closed by the stop: never a hang. */
		assert_true(c[i].code == 200 || c[i].code == -1);
		if (c[i].code == 200)
			assert_non_null(strstr(c[i].message, "verification deadline exceeded"));
		assert_true(c[i].took < 5.0);
	}
}

/* ---- idle connections ---- */

static int tcp_connect(unsigned short port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Waits up to max_s for the server to close fd (EOF or reset); non-zero when it did. */
static int closed_within(int fd, double max_s)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double t0 = now_s();
	char b[4096];
	while (now_s() - t0 < max_s) {
		if (poll(&p, 1, 100) > 0) {
			ssize_t n = read(fd, b, sizeof b);
			if (n <= 0)
				return 1;
		}
	}
	return 0;
}

/*
 * A connection that never sends its ClientHello, and one that completes the handshake and sends nothing, are
 * closed after the first-request timeout (1 s here, 10 s in the daemon); one that sent a request is kept for
 * the longer idle timeout, so the API server's kept-alive connections are reused.
 */
static void test_idle_connections(void **state)
{
	char crt[400], key[400], err[256] = "";
	struct webhook_server *s;
	unsigned short port;
	(void)state;
	install("idle", "pair1.crt", "pair1.key");
	snprintf(crt, sizeof crt, "%s/idle/tls.crt", dir);
	snprintf(key, sizeof key, "%s/idle/tls.key", dir);
	struct webhook_server_opts o = { .bind_addr = "127.0.0.1:0", .cert_file = crt, .key_file = key,
					 .cert_poll_s = 3600, .threads = 2, .first_request_timeout_s = 1,
					 .admission = { .list_executors = fake_list, .get_executor = fake_get } };
	if (webhook_server_start(&o, &s, &port, err, sizeof err))
		fail_msg("webhook_server_start: %s", err);

	int half_open = tcp_connect(port);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	int tls_fd = tcp_connect(port);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, tls_fd);
	assert_int_equal(SSL_connect(ssl), 1);

	CURL *h = curl_easy_init();
	struct resp r = req(h, port, "POST", ADMISSION_PATH_VALIDATE_EXECUTOR, "application/json", executor_review,
			    strlen(executor_review), 0);
	assert_int_equal(r.code, 200);
	buf_free(&r.body);

	assert_true(closed_within(half_open, 8.0));
	assert_true(closed_within(tls_fd, 8.0));
	/* The connection that carried a review is still open, past the first-request timeout. */
	usleep(500 * 1000);
	r = req(h, port, "POST", ADMISSION_PATH_VALIDATE_EXECUTOR, "application/json", executor_review,
		strlen(executor_review), 0);
	assert_int_equal(r.code, 200);
	long connects = -1;
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
	assert_int_equal(connects, 0); /* reused */
	buf_free(&r.body);
	curl_easy_cleanup(h);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(tls_fd);
	close(half_open);
	webhook_server_stop(s, 1);
}

/* With a client CA, only clients with a certificate it signed are served, and their reviews are authenticated. */
static atomic_int seen_authenticated = -1;
static int record_verify(void *user, const struct verify_image_check *in, struct verify_image_verdict *out)
{
	(void)user;
	atomic_store(&seen_authenticated, in->authenticated);
	memset(out, 0, sizeof *out);
	out->decision = VERIFY_IMAGE_ADMIT;
	return SO_OK;
}

static void test_client_ca(void **state)
{
	char crt[400], key[400], cca[400], good_crt[400], good_key[400], bad_crt[400], err[256] = "";
	struct webhook_server *s;
	unsigned short port;
	(void)state;
	install("clientca", "pair1.crt", "pair1.key");
	snprintf(crt, sizeof crt, "%s/clientca/tls.crt", dir);
	snprintf(key, sizeof key, "%s/clientca/tls.key", dir);
	path(good_crt, sizeof good_crt, "client.crt");
	path(good_key, sizeof good_key, "client.key");
	path(bad_crt, sizeof bad_crt, "stranger.crt");
	struct webhook_server_opts o = { .bind_addr = "127.0.0.1:0", .cert_file = crt, .key_file = key,
					 .cert_poll_s = 3600, .threads = 2,
					 .admission = { .list_executors = fake_list, .get_executor = fake_get,
							.verify_image = record_verify } };
	char *body = review("u-ca", 1, "");

	/* A file with no certificate in it is refused at start. */
	o.client_ca_file = key;
	assert_int_equal(webhook_server_start(&o, &s, &port, err, sizeof err), SO_E_CONFIG);
	assert_non_null(strstr(err, "no PEM certificate"));

	/* No client CA: no certificate asked for, reviews unauthenticated. */
	o.client_ca_file = NULL;
	if (webhook_server_start(&o, &s, &port, err, sizeof err))
		fail_msg("webhook_server_start: %s", err);
	struct resp r = req(NULL, port, "POST", M_APP, "application/json", body, strlen(body), 0);
	assert_int_equal(r.code, 200);
	assert_int_equal(atomic_load(&seen_authenticated), 0);
	buf_free(&r.body);
	webhook_server_stop(s, 1);

	path(cca, sizeof cca, "ca.crt");
	o.client_ca_file = cca;
	if (webhook_server_start(&o, &s, &port, err, sizeof err))
		fail_msg("webhook_server_start: %s", err);
	/* No certificate, or one from another CA: refused (the handshake fails, or 403). */
	atomic_store(&seen_authenticated, -1);
	r = req(NULL, port, "POST", M_APP, "application/json", body, strlen(body), 0);
	assert_true(r.cc != CURLE_OK || r.code == 403);
	buf_free(&r.body);
	client_crt = bad_crt;
	client_key = good_key;
	r = req(NULL, port, "POST", M_APP, "application/json", body, strlen(body), 0);
	assert_true(r.cc != CURLE_OK || r.code == 403);
	buf_free(&r.body);
	assert_int_equal(atomic_load(&seen_authenticated), -1); /* no review reached the rules */
	/* The CA's own client certificate: served, authenticated, on TLS 1.2 and 1.3. */
	client_crt = good_crt;
	r = req(NULL, port, "POST", M_APP, "application/json", body, strlen(body), F_TLS12);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_int_equal(atomic_load(&seen_authenticated), 1);
	buf_free(&r.body);
	atomic_store(&seen_authenticated, -1);
	r = req(NULL, port, "POST", M_APP, "application/json", body, strlen(body), F_TLS13);
	assert_int_equal(r.code, 200);
	assert_int_equal(atomic_load(&seen_authenticated), 1);
	buf_free(&r.body);
	client_crt = client_key = NULL;
	webhook_server_stop(s, 1);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reviews),
		cmocka_unit_test(test_body_cap), cmocka_unit_test(test_drain_closes_connections),
		cmocka_unit_test(test_tls_versions),
		cmocka_unit_test(test_certificate_loading),
		cmocka_unit_test(test_validate_pem),
		cmocka_unit_test(test_poll_reload),
		cmocka_unit_test(test_rotation_under_load),
		cmocka_unit_test(test_verification_pool),
		cmocka_unit_test(test_stop_with_pending_verification),
		cmocka_unit_test(test_idle_connections),
		cmocka_unit_test(test_client_ca),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * The registry client against fake registries in this process (libmicrohttpd on 127.0.0.1): a plain-HTTP one
 * reached through the insecure option, a TLS one whose CA is made at test time by the openssl CLI, and a
 * "storage" server that blobs are redirected to. The fake speaks just enough of the distribution API: manifests
 * by tag and digest, blobs (307 to storage), referrers, a token endpoint (GET with optional Basic, OAuth2 POST),
 * Basic and Bearer challenges, and misbehaviours on purpose (wrong types, lies about digests, oversize answers,
 * slowness, 429/503, error bodies with control characters). Every request is counted, so the tests assert round
 * trips and token reuse. No timing is asserted; the deadline test only checks that SO_E_TIMEOUT came back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "webhook/verify/creds.h"
#include "operator/kube/imageref.h"
#include "webhook/verify/registry.h"
#include "webhook/verify/registry_int.h"

/* ---- fixtures ---- */

static const char M1[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
			 "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
			 "\"layers\":[]}";
static const char M2[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			 "\"config\":{},\"layers\":[],\"annotations\":{\"other\":\"manifest\"}}";
static const char BLOB[] = "{\"critical\":{\"type\":\"cosign container image signature\"}}";
static const char INDEX[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
			    "\"manifests\":[]}";
static char D1[80], D2[80], DB[80], DBIG[80];
static char *bigblob; /* 4 KiB */
#define BIGBLOB_LEN 4096
#define HUGE_LEN ((size_t)5 << 20)
static char *huge;
static char basic_ok[128]; /* "Basic base64(alice:s3cret)" */

static char dir[256], ca_file[300], bad_ca_file[300];
static char *tls_cert, *tls_key;

static void sha256_of(const void *p, size_t n, char out[80])
{
	unsigned char d[32];
	unsigned int dl = 0;
	EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 8);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the fake registry ---- */

enum auth_mode { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct fake {
	struct MHD_Daemon *d;
	int port;
	int tls;
	/* behaviour, set by a test before it makes requests */
	int auth;
	int token_needs_basic;   /* the token endpoint wants Basic alice:s3cret */
	int oauth;               /* the token endpoint accepts the refresh-token grant (POST) */
	int omit_digest;         /* no Docker-Content-Digest header */
	int referrers;           /* 0: 404, 1: an OCI index, 2: 200 with application/json */
	int expires_in;          /* 0: none in the token answer */
	int token_redirect;      /* the token endpoint answers 307 to the storage server */
	char blob_location[256]; /* when set, the blob DB answers 307 to <blob_location><digest> instead */
	char realm[256];
	int storage_port;
	/* observations */
	atomic_int requests, token_requests, oauth_posts, storage_requests, storage_auth_seen, flaky;
	atomic_int token_gen, token_seq, proxied;
	atomic_int stop;
};

static struct fake plain, secure, storage;

struct conn {
	struct buf body;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const void *data,
			     size_t len, const char *h1, const char *v1)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	if (h1)
		MHD_add_response_header(r, h1, v1);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result error_reply(struct MHD_Connection *c, unsigned status, const char *code, const char *msg,
				   const char *h1, const char *v1)
{
	char body[512];
	snprintf(body, sizeof body, "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\",\"detail\":null}]}", code, msg);
	return reply(c, status, "application/json", body, strlen(body), h1, v1);
}

static ssize_t huge_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= HUGE_LEN)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = HUGE_LEN - pos < max ? HUGE_LEN - pos : max;
	memset(buf, 'x', n);
	return (ssize_t)n;
}

static enum MHD_Result token_endpoint(struct fake *f, struct MHD_Connection *c, const char *method, struct conn *cn)
{
	char body[256];
	atomic_fetch_add(&f->token_requests, 1);
	if (!strcmp(method, "POST")) {
		atomic_fetch_add(&f->oauth_posts, 1);
		if (!f->oauth)
			return error_reply(c, 404, "NOT_FOUND", "no oauth here", NULL, NULL);
		const char *b = cn->body.data ? cn->body.data : "";
		if (!strstr(b, "grant_type=refresh_token") || !strstr(b, "refresh_token=rt-1") ||
		    !strstr(b, "scope=repository%3Aapp%3Apull"))
			return error_reply(c, 401, "UNAUTHORIZED", "bad refresh token", NULL, NULL);
		snprintf(body, sizeof body, "{\"access_token\":\"tok-%d-%d\",\"expires_in\":300}",
			 atomic_load(&f->token_gen), atomic_fetch_add(&f->token_seq, 1));
		return reply(c, 200, "application/json", body, strlen(body), NULL, NULL);
	}
	if (f->token_redirect) {
		char loc[128];
		snprintf(loc, sizeof loc, "http://127.0.0.1:%d/storage/token", f->storage_port);
		return reply(c, 307, "text/plain", "", 0, "Location", loc);
	}
	const char *scope = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "scope");
	const char *service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
	if (!scope || strncmp(scope, "repository:", 11) || !strstr(scope, ":pull") || !service || strcmp(service, "fake"))
		return error_reply(c, 400, "BAD_REQUEST", "scope or service missing", NULL, NULL);
	if (f->token_needs_basic) {
		const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!a || strcmp(a, basic_ok))
			return error_reply(c, 401, "UNAUTHORIZED", "bad credentials", NULL, NULL);
	}
	if (f->expires_in)
		snprintf(body, sizeof body, "{\"token\":\"tok-%d-%d\",\"expires_in\":%d}", atomic_load(&f->token_gen),
			 atomic_fetch_add(&f->token_seq, 1), f->expires_in);
	else
		snprintf(body, sizeof body, "{\"token\":\"tok-%d-%d\"}", atomic_load(&f->token_gen),
			 atomic_fetch_add(&f->token_seq, 1));
	return reply(c, 200, "application/json", body, strlen(body), NULL, NULL);
}

/* 1 when the request carries what the fake's auth mode wants. */
static int authorised(struct fake *f, struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char want[64];
	if (f->auth == AUTH_NONE)
		return 1;
	if (f->auth == AUTH_BASIC)
		return a && !strcmp(a, basic_ok);
	snprintf(want, sizeof want, "Bearer tok-%d-", atomic_load(&f->token_gen));
	return a && !strncmp(a, want, strlen(want));
}

static enum MHD_Result manifest(struct fake *f, struct MHD_Connection *c, const char *ref)
{
	const char *oci = MT_OCI_MANIFEST;
	const char *dh = f->omit_digest ? NULL : "Docker-Content-Digest";
	if (!strcmp(ref, "v1") || !strcmp(ref, D1))
		return reply(c, 200, oci, M1, strlen(M1), dh, D1);
	if (!strcmp(ref, D2)) /* a lie: other bytes than the digest asked for */
		return reply(c, 200, oci, M1, strlen(M1), dh, D2);
	if (!strcmp(ref, "wrongtype"))
		return reply(c, 200, "text/plain; charset=utf-8", M1, strlen(M1), NULL, NULL);
	if (!strcmp(ref, "mtmismatch"))
		return reply(c, 200, MT_DOCKER_MANIFEST, M1, strlen(M1), NULL, NULL);
	if (!strcmp(ref, "notjson"))
		return reply(c, 200, oci, "[1,2]", 5, NULL, NULL);
	if (!strcmp(ref, "big"))
		return reply(c, 200, oci, huge, HUGE_LEN, NULL, NULL);
	if (!strcmp(ref, "bigchunked")) {
		struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, huge_reader, NULL,
									   NULL);
		MHD_add_response_header(r, "Content-Type", oci);
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(ref, "slow")) {
		for (int i = 0; i < 500 && !atomic_load(&f->stop); i++)
			usleep(10000);
		return reply(c, 200, oci, M1, strlen(M1), dh, D1);
	}
	if (!strcmp(ref, "flaky")) {
		if (atomic_fetch_add(&f->flaky, 1) % 2 == 0)
			return error_reply(c, 503, "UNAVAILABLE", "try again", NULL, NULL);
		return reply(c, 200, oci, M1, strlen(M1), dh, D1);
	}
	if (!strcmp(ref, "limited"))
		return error_reply(c, 429, "TOOMANYREQUESTS", "slow down", "Retry-After", "0");
	if (!strcmp(ref, "evil"))
		return error_reply(c, 404, "MANIFEST_UNKNOWN", "bad\\nthing\\u0001here", NULL, NULL);
	return error_reply(c, 404, "MANIFEST_UNKNOWN", "manifest unknown", NULL, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct fake *f = cls;
	struct conn *cn = *con_cls;
	char hdr[512];

	if (!cn) {
		cn = calloc(1, sizeof *cn);
		if (!cn)
			return MHD_NO;
		buf_init(&cn->body, 65536);
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size) {
		buf_append(&cn->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&f->requests, 1);
	/* As a forward proxy the fake sees absolute URLs: only the path matters. */
	if (!strncmp(url, "http://", 7)) {
		atomic_fetch_add(&f->proxied, 1);
		url = strchr(url + 7, '/') ? strchr(url + 7, '/') : "/";
	}
	if (!strcmp(url, "/token"))
		return token_endpoint(f, c, method, cn);
	if (!strcmp(url, "/loop")) /* redirects to itself, forever */
		return reply(c, 307, "text/plain", "", 0, "Location", "/loop");
	if (!strncmp(url, "/storage/", 9)) {
		atomic_fetch_add(&f->storage_requests, 1);
		if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))
			atomic_fetch_add(&f->storage_auth_seen, 1);
		if (!strcmp(url + 9, DB))
			return reply(c, 200, "application/octet-stream", BLOB, strlen(BLOB), NULL, NULL);
		return error_reply(c, 404, "BLOB_UNKNOWN", "no such blob", NULL, NULL);
	}
	if (strncmp(url, "/v2/", 4) != 0)
		return error_reply(c, 404, "NOT_FOUND", "not here", NULL, NULL);
	if (!authorised(f, c)) {
		if (f->auth == AUTH_BASIC)
			snprintf(hdr, sizeof hdr, "Basic realm=\"fake\"");
		else
			snprintf(hdr, sizeof hdr, "Bearer realm=\"%s\",service=\"fake\",scope=\"repository:app:pull\"",
				 f->realm);
		return error_reply(c, 401, "UNAUTHORIZED", "authentication required", "WWW-Authenticate", hdr);
	}
	if (!strncmp(url, "/v2/app/manifests/", 18))
		return manifest(f, c, url + 18);
	if (!strncmp(url, "/v2/app/blobs/", 14)) {
		const char *d = url + 14;
		if (!strcmp(d, DB)) {
			if (f->blob_location[0])
				snprintf(hdr, sizeof hdr, "%s%s", f->blob_location, d);
			else
				snprintf(hdr, sizeof hdr, "http://127.0.0.1:%d/storage/%s", f->storage_port, d);
			return reply(c, 307, "text/plain", "", 0, "Location", hdr);
		}
		if (!strcmp(d, DBIG))
			return reply(c, 200, "application/octet-stream", bigblob, BIGBLOB_LEN, NULL, NULL);
		if (!strcmp(d, D2)) /* a lie */
			return reply(c, 200, "application/octet-stream", BLOB, strlen(BLOB), NULL, NULL);
		return error_reply(c, 404, "BLOB_UNKNOWN", "blob unknown to registry", NULL, NULL);
	}
	if (!strncmp(url, "/v2/app/referrers/", 18)) {
		if (f->referrers == 1)
			return reply(c, 200, MT_OCI_INDEX, INDEX, strlen(INDEX), NULL, NULL);
		if (f->referrers == 2)
			return reply(c, 200, "application/json", "{}", 2, NULL, NULL);
		return error_reply(c, 404, "NOT_FOUND", "page not found", NULL, NULL);
	}
	return error_reply(c, 404, "NAME_UNKNOWN", "repository name not known to registry", NULL, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct conn *cn = *con_cls;
	if (cn) {
		buf_free(&cn->body);
		free(cn);
		*con_cls = NULL;
	}
}

static int fake_start(struct fake *f, int tls)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	memset(f, 0, sizeof *f);
	f->tls = tls;
	if (tls)
		f->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handle, f, MHD_OPTION_HTTPS_MEM_KEY, tls_key,
					MHD_OPTION_HTTPS_MEM_CERT, tls_cert, MHD_OPTION_NOTIFY_COMPLETED, completed, f,
					MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	else
		f->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, f, MHD_OPTION_NOTIFY_COMPLETED, completed, f,
					MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!f->d)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	f->port = info ? info->port : 0;
	return f->port ? 0 : -1;
}

/* Resets behaviour and counters between tests (the daemon stays). */
static void fake_reset(struct fake *f, int auth)
{
	f->auth = auth;
	f->token_needs_basic = 0;
	f->oauth = 0;
	f->omit_digest = 0;
	f->referrers = 0;
	f->expires_in = 300;
	f->token_redirect = 0;
	f->blob_location[0] = '\0';
	snprintf(f->realm, sizeof f->realm, "%s://127.0.0.1:%d/token", f->tls ? "https" : "http", f->port);
	f->storage_port = storage.port;
	atomic_store(&f->requests, 0);
	atomic_store(&f->token_requests, 0);
	atomic_store(&f->oauth_posts, 0);
	atomic_store(&f->storage_requests, 0);
	atomic_store(&f->storage_auth_seen, 0);
	atomic_store(&f->flaky, 0);
	atomic_store(&f->proxied, 0);
	atomic_fetch_add(&f->token_gen, 1); /* tokens of earlier tests are no longer valid */
}

/* ---- setup ---- */

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

static char *slurp(const char *name)
{
	char p[400];
	snprintf(p, sizeof p, "%s/%s", dir, name);
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
	if (data)
		data[n] = '\0';
	return data;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s/registry-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(ca_file, sizeof ca_file, "%s/ca.crt", dir);
	snprintf(bad_ca_file, sizeof bad_ca_file, "%s/bad.crt", dir);
	int rc = sh("cd '%s' && exec >gen.log 2>&1 && "
		    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n"
		    "keyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' >ext.cnf && "
		    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
		    "-out ca.crt -days 2 -subj /CN=registry-test-ca && "
		    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls.key "
		    "-out tls.csr -subj /CN=127.0.0.1 && "
		    "openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -set_serial 0x5E1 -days 1 "
		    "-extfile ext.cnf -out tls.crt && printf 'not a certificate\\n' >bad.crt",
		    dir);
	if (rc != 0) {
		sh("cat '%s/gen.log' >&2", dir);
		return -1;
	}
	tls_cert = slurp("tls.crt");
	tls_key = slurp("tls.key");
	if (!tls_cert || !tls_key)
		return -1;
	sha256_of(M1, strlen(M1), D1);
	sha256_of(M2, strlen(M2), D2);
	sha256_of(BLOB, strlen(BLOB), DB);
	bigblob = malloc(BIGBLOB_LEN);
	huge = malloc(HUGE_LEN);
	if (!bigblob || !huge)
		return -1;
	memset(bigblob, 'b', BIGBLOB_LEN);
	memset(huge, 'x', HUGE_LEN);
	sha256_of(bigblob, BIGBLOB_LEN, DBIG);
	unsigned char enc[64];
	EVP_EncodeBlock(enc, (const unsigned char *)"alice:s3cret", 12);
	snprintf(basic_ok, sizeof basic_ok, "Basic %s", enc);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fake_start(&storage, 0) || fake_start(&plain, 0) || fake_start(&secure, 1))
		return -1;
	return 0;
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	if (f->d)
		MHD_stop_daemon(f->d);
	f->d = NULL;
}

static int group_teardown(void **state)
{
	(void)state;
	fake_stop(&plain);
	fake_stop(&secure);
	fake_stop(&storage);
	free(tls_cert);
	free(tls_key);
	free(bigblob);
	free(huge);
	curl_global_cleanup();
	sh("rm -rf '%s'", dir);
	return 0;
}

/* ---- helpers ---- */

static char insecure_host[64];

static struct registry *client(int allow_private, const char *ca)
{
	static const char *insecure[2];
	snprintf(insecure_host, sizeof insecure_host, "127.0.0.1:%d", plain.port);
	insecure[0] = insecure_host;
	insecure[1] = NULL;
	struct registry_options o = { .extra_ca_file = ca, .insecure = insecure, .allow_private_realms = allow_private };
	char err[256] = "";
	struct registry *r = registry_new(&o, err, sizeof err);
	if (!r)
		fail_msg("registry_new: %s", err);
	return r;
}

static void ref_of(const struct fake *f, const char *rest, struct image_ref *out)
{
	char s[256], err[256];
	snprintf(s, sizeof s, "127.0.0.1:%d/%s", f->port, rest);
	if (image_ref_parse(s, out, err, sizeof err) != SO_OK)
		fail_msg("%s: %s", s, err);
}

static uint64_t reqs(struct registry *r)
{
	struct registry_stats st;
	registry_get_stats(r, &st);
	return st.requests;
}

static uint64_t fetches(struct registry *r)
{
	struct registry_stats st;
	registry_get_stats(r, &st);
	return st.token_fetches;
}

static const struct registry_cred alice = { .username = "alice", .password = "s3cret" };
static const struct registry_cred mallory = { .username = "alice", .password = "wrong" };

/* With REGISTRY_TEST_VERBOSE set, the error lines the tests look at are printed (to read them as a user would). */
static void show(const char *err)
{
	if (getenv("REGISTRY_TEST_VERBOSE"))
		fprintf(stderr, "  err: %s\n", err);
}

/* err never carries a secret and is one line */
static void clean_err(const char *err)
{
	show(err);
	assert_null(strstr(err, "s3cret"));
	assert_null(strstr(err, "tok-"));
	assert_null(strstr(err, "rt-1"));
	assert_null(strchr(err, '\n'));
}

/* ---- tests ---- */

static void anonymous_manifest_by_tag_and_digest(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_NONE);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "", digest[IMAGE_DIGEST_LEN + 1];
	ref_of(&plain, "app:v1", &ref);

	assert_int_equal(registry_resolve(r, &ref, NULL, now_ms() + 5000, digest, err, sizeof err), SO_OK);
	assert_string_equal(digest, D1);
	assert_int_equal(reqs(r), 1); /* HEAD with a Docker-Content-Digest */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, digest, NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_string_equal(m.media_type, MT_OCI_MANIFEST);
	assert_string_equal(m.digest, D1);
	assert_int_equal(m.body.len, strlen(M1));
	assert_memory_equal(m.body.data, M1, strlen(M1));
	registry_blob_free(&m);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_string_equal(m.digest, D1);
	registry_blob_free(&m);
	assert_int_equal(reqs(r), 3);
	assert_int_equal(atomic_load(&plain.requests), 3);
	assert_int_equal(fetches(r), 0);

	/* Without a digest header, resolve GETs and hashes the bytes. */
	plain.omit_digest = 1;
	assert_int_equal(registry_resolve(r, &ref, NULL, now_ms() + 5000, digest, err, sizeof err), SO_OK);
	assert_string_equal(digest, D1);
	assert_int_equal(reqs(r), 5);
	image_ref_free(&ref);

	/* A digest reference is its own answer: no request. */
	char s[200];
	snprintf(s, sizeof s, "127.0.0.1:%d/app:v1@%s", plain.port, D2);
	assert_int_equal(image_ref_parse(s, &ref, err, sizeof err), SO_OK);
	assert_int_equal(registry_resolve(r, &ref, NULL, now_ms() + 5000, digest, err, sizeof err), SO_OK);
	assert_string_equal(digest, D2);
	assert_int_equal(reqs(r), 5);
	image_ref_free(&ref);
	registry_free(r);
}

static void answers_checked(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_NONE);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&plain, "app:v1", &ref);

	/* by digest, other bytes: refused */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, D2, NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	show(err);
	assert_non_null(strstr(err, "not the digest asked for"));
	assert_null(m.body.data);
	/* wrong Content-Type */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "wrongtype", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	show(err);
	assert_non_null(strstr(err, "text/plain"));
	/* a type that was not asked for */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", MT_OCI_INDEX, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	/* mediaType field against Content-Type */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "mtmismatch", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	show(err);
	assert_non_null(strstr(err, "mediaType"));
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "notjson", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	/* oversize, with and without a Content-Length */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "big", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TOO_LARGE);
	show(err);
	assert_non_null(strstr(err, "limit"));
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "bigchunked", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TOO_LARGE);
	/* a blob bigger than the caller's cap, a blob whose bytes are not its digest */
	assert_int_equal(registry_get_blob(r, &ref, NULL, DBIG, 1024, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TOO_LARGE);
	assert_int_equal(registry_get_blob(r, &ref, NULL, DBIG, 0, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_int_equal(m.body.len, BIGBLOB_LEN);
	registry_blob_free(&m);
	assert_int_equal(registry_get_blob(r, &ref, NULL, D2, 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	/* references that are neither tag nor digest never reach the wire */
	uint64_t before = reqs(r);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "../../etc", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_INVAL);
	assert_int_equal(registry_get_blob(r, &ref, NULL, "sha256:abc", 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_INVAL);
	assert_int_equal(reqs(r), before);
	image_ref_free(&ref);
	registry_free(r);
}

static void not_found_and_error_bodies(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_NONE);
	struct registry *r = client(0, NULL);
	struct image_ref ref, other;
	struct registry_blob m;
	char err[256] = "", digest[IMAGE_DIGEST_LEN + 1];
	ref_of(&plain, "app:missing", &ref);

	assert_int_equal(registry_get_manifest(r, &ref, NULL, "missing", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	char want[128];
	snprintf(want, sizeof want, "registry 127.0.0.1:%d answered 404 MANIFEST_UNKNOWN: manifest unknown", plain.port);
	show(err);
	assert_non_null(strstr(err, want));
	show(err);
	assert_non_null(strstr(err, "app:missing"));
	/* HEAD has no body: the status alone */
	assert_int_equal(registry_resolve(r, &ref, NULL, now_ms() + 5000, digest, err, sizeof err), SO_E_API_NOT_FOUND);
	show(err);
	assert_non_null(strstr(err, "answered 404 Not Found (manifest app:missing)"));
	/* control characters from the server are not passed on */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "evil", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\x01'));
	show(err);
	assert_non_null(strstr(err, "bad thing here"));
	/* another repository */
	ref_of(&plain, "nosuch/repo:v1", &other);
	assert_int_equal(registry_get_manifest(r, &other, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	show(err);
	assert_non_null(strstr(err, "NAME_UNKNOWN"));
	assert_int_equal(registry_get_blob(r, &ref, NULL, D1, 0, now_ms() + 5000, &m, err, sizeof err), SO_E_API_NOT_FOUND);
	show(err);
	assert_non_null(strstr(err, "BLOB_UNKNOWN"));
	image_ref_free(&other);
	image_ref_free(&ref);
	registry_free(r);
}

static void basic_auth(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_BASIC);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&plain, "app:v1", &ref);

	/* anonymous: the challenge cannot be answered */
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_UNAUTHORIZED);
	show(err);
	assert_non_null(strstr(err, "answered 401 UNAUTHORIZED: authentication required"));
	show(err);
	assert_non_null(strstr(err, "no credentials"));
	assert_int_equal(reqs(r), 1);
	/* with credentials: 401 then 200 */
	assert_int_equal(registry_get_manifest(r, &ref, &alice, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(reqs(r), 3);
	/* the host is known to want Basic: sent at once */
	assert_int_equal(registry_get_manifest(r, &ref, &alice, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(reqs(r), 4);
	/* wrong password: refused, and the message has no password */
	assert_int_equal(registry_get_manifest(r, &ref, &mallory, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_UNAUTHORIZED);
	clean_err(err);
	assert_null(strstr(err, "wrong"));
	/* a blob redirected to another host: fetched, and no Authorization went there */
	assert_int_equal(registry_get_blob(r, &ref, &alice, DB, 0, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_string_equal(m.digest, DB);
	assert_int_equal(m.body.len, strlen(BLOB));
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&storage.storage_requests), 1);
	assert_int_equal(atomic_load(&storage.storage_auth_seen), 0);
	image_ref_free(&ref);
	registry_free(r);
	atomic_store(&storage.storage_requests, 0);
}

static void bearer_tokens_reused(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_BEARER);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "", digest[IMAGE_DIGEST_LEN + 1];
	ref_of(&plain, "app:v1", &ref);

	/* anonymous token: 401, token, retry */
	assert_int_equal(registry_resolve(r, &ref, NULL, now_ms() + 5000, digest, err, sizeof err), SO_OK);
	assert_string_equal(digest, D1);
	assert_int_equal(reqs(r), 3);
	assert_int_equal(fetches(r), 1);
	assert_int_equal(atomic_load(&plain.token_requests), 1);
	/* the token is reused for every later request in the repository */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(registry_get_manifest(r, &ref, NULL, digest, NULL, now_ms() + 5000, &m, err, sizeof err),
				 SO_OK);
		registry_blob_free(&m);
	}
	assert_int_equal(reqs(r), 8);
	assert_int_equal(fetches(r), 1);
	/* another repository on the same host: its token is fetched at once, no 401 round trip */
	struct image_ref other;
	ref_of(&plain, "other/repo:v1", &other);
	uint64_t r0 = reqs(r);
	assert_int_equal(registry_get_manifest(r, &other, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	assert_int_equal(reqs(r) - r0, 2);
	assert_int_equal(fetches(r), 2);
	image_ref_free(&other);
	/* blobs too; the redirect to storage carries no token */
	atomic_store(&storage.storage_requests, 0);
	atomic_store(&storage.storage_auth_seen, 0);
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&storage.storage_requests), 1);
	assert_int_equal(atomic_load(&storage.storage_auth_seen), 0);
	assert_int_equal(fetches(r), 2);
	/* other credentials get their own token */
	plain.token_needs_basic = 1;
	assert_int_equal(registry_get_manifest(r, &ref, &alice, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(fetches(r), 3);
	/* wrong credentials at the token server: a clear refusal, no secret in it */
	assert_int_equal(registry_get_manifest(r, &ref, &mallory, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_UNAUTHORIZED);
	show(err);
	assert_non_null(strstr(err, "token request"));
	show(err);
	assert_non_null(strstr(err, "bad credentials"));
	clean_err(err);
	/* a revoked token: dropped, fetched again once */
	atomic_fetch_add(&plain.token_gen, 1);
	uint64_t before = reqs(r);
	assert_int_equal(registry_get_manifest(r, &ref, &alice, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(reqs(r) - before, 3);
	image_ref_free(&ref);
	registry_free(r);
}

static void token_variants(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_BEARER);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&plain, "app:v1", &ref);

	/* a token server that redirects: not followed, so the Basic credentials stay with the realm host */
	plain.token_needs_basic = 1;
	plain.token_redirect = 1;
	atomic_store(&storage.storage_requests, 0);
	assert_int_equal(registry_get_manifest(r, &ref, &alice, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_OTHER);
	show(err);
	assert_non_null(strstr(err, "answered 307"));
	assert_int_equal(atomic_load(&storage.storage_requests), 0);
	plain.token_needs_basic = 0;
	plain.token_redirect = 0;

	/* expires_in below the 60 s minimum: still reused */
	plain.expires_in = 1;
	struct registry_cred other = { .username = "bob", .password = "x" };
	uint64_t f1 = fetches(r);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(registry_get_manifest(r, &ref, &other, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
				 SO_OK);
		registry_blob_free(&m);
	}
	assert_int_equal(fetches(r) - f1, 1);

	/* no expires_in: still cached (60 s default) */
	registry_free(r);
	r = client(0, NULL);
	plain.expires_in = 0;
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(fetches(r), 1);

	/* identitytoken: the OAuth2 refresh-token grant */
	plain.oauth = 1;
	struct registry_cred idt = { .username = "00000000", .password = "", .identity_token = "rt-1" };
	assert_int_equal(registry_get_manifest(r, &ref, &idt, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&plain.oauth_posts), 1);
	/* no OAuth2 endpoint: GET with Basic instead */
	plain.oauth = 0;
	plain.token_needs_basic = 1;
	struct registry_cred idt2 = { .username = "alice", .password = "s3cret", .identity_token = "rt-2" };
	assert_int_equal(registry_get_manifest(r, &ref, &idt2, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&plain.oauth_posts), 2);

	/* registrytoken: sent as is, no token request */
	uint64_t f0 = fetches(r);
	char tok[64];
	snprintf(tok, sizeof tok, "tok-%d-direct", atomic_load(&plain.token_gen));
	struct registry_cred rt = { .registry_token = tok };
	assert_int_equal(registry_get_manifest(r, &ref, &rt, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(fetches(r), f0);
	struct registry_cred bad = { .registry_token = "nope" };
	assert_int_equal(registry_get_manifest(r, &ref, &bad, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_UNAUTHORIZED);
	assert_int_equal(fetches(r), f0);
	image_ref_free(&ref);
	registry_free(r);
}

static void realm_checks(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_BEARER);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&plain, "app:v1", &ref);

	/* a realm on a private literal address: refused before any connection */
	struct registry *r = client(0, NULL);
	snprintf(plain.realm, sizeof plain.realm, "http://169.254.169.254/latest/meta-data");
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	show(err);
	assert_non_null(strstr(err, "private address"));
	assert_int_equal(reqs(r), 1);
	assert_int_equal(atomic_load(&plain.token_requests), 0);
	/* a name that resolves to a private address (another host than the registry's): refused once connected */
	snprintf(plain.realm, sizeof plain.realm, "http://localhost:%d/token", plain.port);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "private address"));
	assert_int_equal(atomic_load(&plain.token_requests), 0);
	/* not a URL, not http(s) */
	snprintf(plain.realm, sizeof plain.realm, "file:///etc/passwd");
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	/* Behind a proxy the address seen is the proxy's (private here): the realm's name cannot be checked, the
	 * request goes through. The registry itself is exempted by no_proxy. */
	char proxy[64];
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", plain.port);
	setenv("http_proxy", proxy, 1);
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	snprintf(plain.realm, sizeof plain.realm, "http://realm.invalid/token");
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&plain.proxied), 1);
	assert_int_equal(atomic_load(&plain.token_requests), 1);
	/* but a private IP literal is refused before anything is sent, proxy or not */
	snprintf(plain.realm, sizeof plain.realm, "http://10.0.0.1/token");
	atomic_fetch_add(&plain.token_gen, 1);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	assert_int_equal(atomic_load(&plain.proxied), 1);
	unsetenv("http_proxy");
	unsetenv("no_proxy");
	registry_free(r);
	/* allowed by the option */
	atomic_store(&plain.token_requests, 0);
	r = client(1, NULL);
	snprintf(plain.realm, sizeof plain.realm, "http://localhost:%d/token", plain.port);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&plain.token_requests), 1);
	registry_free(r);
	image_ref_free(&ref);
}

/*
 * Redirects get the realm guard's rule. The registry here is "registry.test", reached through the plain fake
 * acting as a forward proxy, so it is not at a private address as far as the client can tell; storage.test is
 * another public-looking host behind the same proxy. 127.0.0.1 and localhost bypass the proxy (no_proxy).
 */
static void redirect_guard(void **state)
{
	(void)state;
	static const char *insecure[] = { "registry.test", NULL };
	struct registry_options o = { .insecure = insecure };
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "", proxy[64], err2[256];
	struct registry *r = registry_new(&o, err, sizeof err);
	assert_non_null(r);
	fake_reset(&plain, AUTH_NONE);
	fake_reset(&storage, AUTH_NONE);
	if (image_ref_parse("registry.test/app:v1", &ref, err, sizeof err) != SO_OK)
		fail_msg("%s", err);
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", plain.port);
	setenv("http_proxy", proxy, 1);
	setenv("no_proxy", "127.0.0.1,localhost", 1);

	/* a redirect to a public host is followed (through the proxy, as libcurl decides per host) */
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://storage.test/storage/");
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_string_equal(m.digest, DB);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&plain.proxied), 2);
	assert_int_equal(atomic_load(&plain.storage_requests), 1);

	/* to a loopback literal (connected directly): refused before the request is sent */
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://127.0.0.1:%d/storage/", storage.port);
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "registry registry.test: refused to follow a redirect to 127.0.0.1 at private "
				    "address 127.0.0.1 (blob app@sha256:"));
	assert_int_equal(atomic_load(&storage.storage_requests), 0);

	/* to a name that resolves to loopback: refused once connected, against the address connected to */
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://localhost:%d/storage/", storage.port);
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "refused to follow a redirect to localhost at private address "));
	assert_int_equal(atomic_load(&storage.storage_requests), 0);

	/* to the cloud metadata address: a literal is judged even when the proxy would carry it */
	atomic_store(&plain.proxied, 0);
	setenv("no_proxy", "127.0.0.1", 1);
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://169.254.169.254/latest/meta-data/");
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "redirect to 169.254.169.254 at private address 169.254.169.254"));
	assert_int_equal(atomic_load(&plain.proxied), 1); /* the registry's answer only */
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://[::ffff:10.0.0.1]/x/");
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	assert_non_null(strstr(err, "at private address [::ffff:"));
	assert_int_equal(atomic_load(&plain.proxied), 2);
	setenv("no_proxy", "127.0.0.1,localhost", 1);

	/* a redirect loop ends after 5 redirects with a clear reason */
	atomic_store(&plain.requests, 0);
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://registry.test/loop?");
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "more than 5 redirects"));
	assert_int_equal(atomic_load(&plain.requests), 6);
	image_ref_free(&ref);
	registry_free(r);

	/* --registry-allow-private-realms lifts the guard */
	o.allow_private_realms = 1;
	r = registry_new(&o, err2, sizeof err2);
	assert_non_null(r);
	if (image_ref_parse("registry.test/app:v1", &ref, err, sizeof err) != SO_OK)
		fail_msg("%s", err);
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://localhost:%d/storage/", storage.port);
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&storage.storage_requests), 1);
	image_ref_free(&ref);
	registry_free(r);
	unsetenv("http_proxy");
	unsetenv("no_proxy");

	/* a registry at a private address may redirect to another private host (in-cluster storage) */
	fake_reset(&plain, AUTH_NONE);
	fake_reset(&storage, AUTH_NONE);
	r = client(0, NULL);
	ref_of(&plain, "app", &ref);
	snprintf(plain.blob_location, sizeof plain.blob_location, "http://localhost:%d/storage/", storage.port);
	assert_int_equal(registry_get_blob(r, &ref, NULL, DB, 0, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(atomic_load(&storage.storage_requests), 1);
	image_ref_free(&ref);
	registry_free(r);
	plain.blob_location[0] = '\0';
}

static void tls_registry(void **state)
{
	(void)state;
	fake_reset(&secure, AUTH_NONE);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&secure, "app:v1", &ref);

	/* the test CA added to the system ones */
	struct registry *r = client(0, ca_file);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_string_equal(m.digest, D1);
	registry_blob_free(&m);
	/* a token realm over http is refused for a TLS registry */
	secure.auth = AUTH_BEARER;
	snprintf(secure.realm, sizeof secure.realm, "http://127.0.0.1:%d/token", secure.port);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_BAD_RESPONSE);
	show(err);
	assert_non_null(strstr(err, "not https"));
	/* over https it works */
	snprintf(secure.realm, sizeof secure.realm, "https://127.0.0.1:%d/token", secure.port);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	registry_free(r);

	/* without the CA: the certificate is not trusted */
	secure.auth = AUTH_NONE;
	r = client(0, NULL);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "TLS handshake failed"));
	registry_free(r);
	image_ref_free(&ref);

	/* https is the default: a plain-http registry not listed as insecure fails */
	ref_of(&plain, "app:v1", &ref);
	fake_reset(&plain, AUTH_NONE);
	struct registry_options o = { 0 };
	r = registry_new(&o, err, sizeof err);
	assert_non_null(r);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	registry_free(r);
	image_ref_free(&ref);

	/* a CA file that is not one, or is missing */
	o.extra_ca_file = bad_ca_file;
	assert_null(registry_new(&o, err, sizeof err));
	show(err);
	assert_non_null(strstr(err, "no PEM certificate"));
	o.extra_ca_file = "/nonexistent/ca.pem";
	assert_null(registry_new(&o, err, sizeof err));
	show(err);
	assert_non_null(strstr(err, "cannot be read"));
}

static void referrers(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_NONE);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&plain, "app:v1", &ref);

	assert_int_equal(registry_get_referrers(r, &ref, NULL, D1, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	show(err);
	assert_non_null(strstr(err, "no referrers API"));
	plain.referrers = 2; /* 200, but not an OCI index */
	assert_int_equal(registry_get_referrers(r, &ref, NULL, D1, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	plain.referrers = 1;
	assert_int_equal(registry_get_referrers(r, &ref, NULL, D1, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	assert_string_equal(m.media_type, MT_OCI_INDEX);
	assert_int_equal(m.body.len, strlen(INDEX));
	registry_blob_free(&m);
	/* the fallback the caller makes: the sha256-<hex> tag, absent here */
	char tag[80];
	snprintf(tag, sizeof tag, "sha256-%s", D1 + 7);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, tag, MT_OCI_INDEX, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_NOT_FOUND);
	image_ref_free(&ref);
	registry_free(r);
}

static void deadline_and_retries(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_NONE);
	struct registry *r = client(0, NULL);
	struct image_ref ref;
	struct registry_blob m;
	char err[256] = "";
	ref_of(&plain, "app:v1", &ref);

	assert_int_equal(registry_get_manifest(r, &ref, NULL, "slow", NULL, now_ms() + 300, &m, err, sizeof err),
			 SO_E_TIMEOUT);
	show(err);
	assert_non_null(strstr(err, "deadline"));
	/* a deadline already past: nothing is sent */
	uint64_t before = reqs(r);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() - 1, &m, err, sizeof err),
			 SO_E_TIMEOUT);
	assert_int_equal(reqs(r), before);
	/* a 503 is tried once more */
	before = reqs(r);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "flaky", NULL, now_ms() + 5000, &m, err, sizeof err), SO_OK);
	registry_blob_free(&m);
	assert_int_equal(reqs(r) - before, 2);
	/* a 429 twice: given up after one retry */
	before = reqs(r);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "limited", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_API_TOO_MANY_REQUESTS);
	show(err);
	assert_non_null(strstr(err, "429 TOOMANYREQUESTS: slow down"));
	assert_int_equal(reqs(r) - before, 2);
	/* no retry when the deadline leaves no time for one */
	before = reqs(r);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "limited", NULL, now_ms() + 200, &m, err, sizeof err),
			 SO_E_API_TOO_MANY_REQUESTS);
	assert_int_equal(reqs(r) - before, 1);
	image_ref_free(&ref);
	registry_free(r);

	/* nobody listening */
	char s[64];
	snprintf(s, sizeof s, "127.0.0.1:1/app:v1");
	assert_int_equal(image_ref_parse(s, &ref, err, sizeof err), SO_OK);
	static const char *const insecure[] = { "127.0.0.1:1", NULL };
	struct registry_options o = { .insecure = insecure };
	r = registry_new(&o, err, sizeof err);
	assert_int_equal(registry_get_manifest(r, &ref, NULL, "v1", NULL, now_ms() + 5000, &m, err, sizeof err),
			 SO_E_TRANSPORT);
	show(err);
	assert_non_null(strstr(err, "registry 127.0.0.1:1 unreachable: Connection refused"));
	registry_free(r);
	image_ref_free(&ref);
}

struct worker {
	struct registry *r;
	int ok;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct image_ref ref;
	char err[256];
	ref_of(&plain, "app:v1", &ref);
	for (int i = 0; i < 20; i++) {
		struct registry_blob m;
		if (registry_get_manifest(w->r, &ref, &alice, i % 2 ? "v1" : D1, NULL, now_ms() + 10000, &m, err,
					  sizeof err) == SO_OK && !strcmp(m.digest, D1))
			w->ok++;
		registry_blob_free(&m);
	}
	image_ref_free(&ref);
	return NULL;
}

static void concurrent_callers(void **state)
{
	(void)state;
	fake_reset(&plain, AUTH_BEARER);
	plain.token_needs_basic = 1;
	struct registry *r = client(0, NULL);
	struct worker w[6];
	pthread_t t[6];
	for (int i = 0; i < 6; i++) {
		w[i].r = r;
		w[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 20);
	}
	/* at most one token per thread that raced for the first one */
	assert_true(fetches(r) >= 1 && fetches(r) <= 6);
	registry_free(r);
}

static void token_cache_expiry(void **state)
{
	(void)state;
	struct tokencache tc;
	enum tok_kind k;
	tokencache_init(&tc, 2);
	assert_int_equal(tokencache_put(&tc, "a", TOK_BEARER, "ta", 1000), SO_OK);
	char *t = tokencache_get(&tc, "a", 999, &k);
	assert_string_equal(t, "ta");
	assert_int_equal(k, TOK_BEARER);
	free(t);
	assert_null(tokencache_get(&tc, "a", 1000, &k)); /* expired, and dropped */
	assert_null(tokencache_get(&tc, "a", 0, &k));
	/* replace, and evict the least recently used when full */
	assert_int_equal(tokencache_put(&tc, "a", TOK_BEARER, "t1", 5000), SO_OK);
	assert_int_equal(tokencache_put(&tc, "a", TOK_BASIC, "t2", 5000), SO_OK);
	assert_int_equal(tokencache_put(&tc, "b", TOK_BEARER, "tb", 5000), SO_OK);
	free(tokencache_get(&tc, "a", 0, &k)); /* a is now the most recent */
	assert_int_equal(k, TOK_BASIC);
	assert_int_equal(tokencache_put(&tc, "c", TOK_BEARER, "tc", 5000), SO_OK);
	assert_null(tokencache_get(&tc, "b", 0, &k));
	t = tokencache_get(&tc, "a", 0, &k);
	assert_string_equal(t, "t2");
	free(t);
	tokencache_drop(&tc, "a");
	assert_null(tokencache_get(&tc, "a", 0, &k));
	tokencache_destroy(&tc);
}

static void proxy_environment(void **state)
{
	(void)state;
	char out[128];
	static const char *const vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
					    "ALL_PROXY", "no_proxy", "NO_PROXY" };
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	assert_int_equal(proxy_from_env("https", "auth.docker.io", out, sizeof out), 0);
	setenv("HTTPS_PROXY", "http://proxy:3128", 1);
	assert_int_equal(proxy_from_env("https", "auth.docker.io", out, sizeof out), 1);
	assert_string_equal(out, "http://proxy:3128");
	setenv("https_proxy", "http://lower:3128", 1); /* lower case first */
	assert_int_equal(proxy_from_env("https", "auth.docker.io", out, sizeof out), 1);
	assert_string_equal(out, "http://lower:3128");
	/* HTTP_PROXY (upper case) is never used; all_proxy is */
	setenv("HTTP_PROXY", "http://cgi:1", 1);
	assert_int_equal(proxy_from_env("http", "example.com", out, sizeof out), 0);
	setenv("ALL_PROXY", "http://all:1", 1);
	assert_int_equal(proxy_from_env("http", "example.com", out, sizeof out), 1);
	assert_string_equal(out, "http://all:1");
	/* no_proxy: names, domain suffixes (with or without a leading dot), "*" */
	setenv("NO_PROXY", "internal.example, .corp.local,auth.docker.io.", 1);
	assert_int_equal(proxy_from_env("https", "internal.example", out, sizeof out), 0);
	assert_int_equal(proxy_from_env("https", "reg.internal.example", out, sizeof out), 0);
	assert_int_equal(proxy_from_env("https", "notinternal.example", out, sizeof out), 1);
	assert_int_equal(proxy_from_env("https", "x.corp.local", out, sizeof out), 0);
	assert_int_equal(proxy_from_env("https", "AUTH.docker.io", out, sizeof out), 0);
	setenv("no_proxy", "*", 1);
	assert_int_equal(proxy_from_env("https", "anything", out, sizeof out), 0);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void address_classes(void **state)
{
	(void)state;
	static const char *const priv[] = { "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
					    "169.254.169.254", "100.100.100.200", "0.0.0.0", "::1", "::", "[::1]",
					    "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
					    "255.255.255.255" };
	static const char *const pub[] = { "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888",
					   "::ffff:8.8.8.8", "[2606:4700::1111]" };
	for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
		if (netaddr_is_private(priv[i]) != 1)
			fail_msg("%s should be private", priv[i]);
	for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++)
		if (netaddr_is_private(pub[i]) != 0)
			fail_msg("%s should be public", pub[i]);
	assert_int_equal(netaddr_is_private("localhost"), -1);
	assert_int_equal(netaddr_is_private(""), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(anonymous_manifest_by_tag_and_digest),
		cmocka_unit_test(answers_checked),
		cmocka_unit_test(not_found_and_error_bodies),
		cmocka_unit_test(basic_auth),
		cmocka_unit_test(bearer_tokens_reused),
		cmocka_unit_test(token_variants),
		cmocka_unit_test(realm_checks),
		cmocka_unit_test(redirect_guard),
		cmocka_unit_test(tls_registry),
		cmocka_unit_test(referrers),
		cmocka_unit_test(deadline_and_retries),
		cmocka_unit_test(concurrent_callers),
		cmocka_unit_test(token_cache_expiry),
		cmocka_unit_test(address_classes),
		cmocka_unit_test(proxy_environment),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

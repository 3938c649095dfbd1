/* The probe server: /healthz asks the live check, /readyz the ready one, each 200 "ok" or 500 with the failing
 * check's words; without a live check /healthz is always 200. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "operator/base/health.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"

static int is_ready, is_live;

static int ready(void *ud, char *why, size_t whylen)
{
	(void)ud;
	if (!is_ready)
		snprintf(why, whylen, "informer spinapps: no successful list or watch for 170 s (bound 165 s)");
	return is_ready;
}

static int live(void *ud, char *why, size_t whylen)
{
	(void)ud;
	if (!is_live)
		snprintf(why, whylen, "spinapp: a reconcile has been running for 901 s (bound 900 s)");
	return is_live;
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
	return buf_append(ud, data, size * n) == SO_OK ? size * n : 0;
}

/* GET path: the status code, the body in body. */
static long get(unsigned short port, const char *path, struct buf *body)
{
	char url[128];
	long code = 0;
	CURL *c = curl_easy_init();
	assert_non_null(c);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
	buf_reset(body);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	assert_int_equal(buf_append(body, "", 0), SO_OK); /* NUL-terminated */
	return code;
}

static void checks(void **state)
{
	(void)state;
	struct health_handlers h = { ready, NULL, live };
	struct health_server *s = NULL;
	struct buf body = BUF_INIT(4096);
	unsigned short port = 0;
	char err[256];

	assert_int_equal(health_server_start("127.0.0.1:0", &h, &s, &port, err, sizeof err), SO_OK);
	assert_non_null(s);
	is_ready = is_live = 1;
	assert_int_equal(get(port, "/healthz", &body), 200);
	assert_string_equal(body.data, "ok");
	assert_int_equal(get(port, "/readyz", &body), 200);
	assert_string_equal(body.data, "ok");

	/* Not ready (stale caches): liveness is not affected. */
	is_ready = 0;
	assert_int_equal(get(port, "/readyz", &body), 500);
	assert_string_equal(body.data, "[-]informer spinapps: no successful list or watch for 170 s (bound 165 s)\n");
	assert_int_equal(get(port, "/healthz", &body), 200);

	/* A stuck reconcile: not live. */
	is_ready = 1;
	is_live = 0;
	assert_int_equal(get(port, "/healthz", &body), 500);
	assert_string_equal(body.data, "[-]spinapp: a reconcile has been running for 901 s (bound 900 s)\n");
	assert_int_equal(get(port, "/readyz", &body), 200);
	assert_int_equal(get(port, "/other", &body), 404);
	health_server_stop(s);

	/* Without a live check, /healthz answers while the server does. */
	struct health_handlers only_ready = { ready, NULL, NULL };
	assert_int_equal(health_server_start("127.0.0.1:0", &only_ready, &s, &port, err, sizeof err), SO_OK);
	assert_int_equal(get(port, "/healthz", &body), 200);
	health_server_stop(s);
	buf_free(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checks),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}

/* Kubernetes Status → so_err mapping, with the server's message kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/client.h"
#include "operator/base/err.h"

static int map(long code, const char *body, char **reason, char **message, long *ra)
{
	return kube_status_map(code, body, body ? strlen(body) : 0, reason, message, ra);
}

static void reasons_win_over_codes(void **state)
{
	(void)state;
	static const struct {
		long code;
		const char *reason;
		int err;
	} cases[] = {
		{ 404, "NotFound", SO_E_API_NOT_FOUND },
		{ 409, "AlreadyExists", SO_E_API_ALREADY_EXISTS },
		{ 409, "Conflict", SO_E_API_CONFLICT },
		{ 422, "Invalid", SO_E_API_INVALID },
		{ 410, "Gone", SO_E_API_GONE },
		{ 410, "Expired", SO_E_API_GONE },
		{ 403, "Forbidden", SO_E_API_FORBIDDEN },
		{ 401, "Unauthorized", SO_E_API_UNAUTHORIZED },
		{ 429, "TooManyRequests", SO_E_API_TOO_MANY_REQUESTS },
		{ 400, "BadRequest", SO_E_API_BAD_REQUEST },
		{ 405, "MethodNotAllowed", SO_E_API_METHOD_NOT_ALLOWED },
		{ 415, "UnsupportedMediaType", SO_E_API_UNSUPPORTED_MEDIA },
		{ 500, "InternalError", SO_E_API_INTERNAL },
		{ 503, "ServiceUnavailable", SO_E_API_UNAVAILABLE },
		{ 504, "Timeout", SO_E_API_TIMEOUT },
		{ 500, "ServerTimeout", SO_E_API_TIMEOUT },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char body[512], *reason, *message;
		long ra;
		snprintf(body, sizeof body,
			 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"msg %zu\","
			 "\"reason\":\"%s\",\"code\":%ld}",
			 i, cases[i].reason, cases[i].code);
		assert_int_equal(map(cases[i].code, body, &reason, &message, &ra), cases[i].err);
		assert_string_equal(reason, cases[i].reason);
		char want[32];
		snprintf(want, sizeof want, "msg %zu", i);
		assert_string_equal(message, want);
		assert_int_equal(ra, 0);
		free(reason);
		free(message);
	}
}

static void http_code_without_status_body(void **state)
{
	(void)state;
	char *reason, *message;
	long ra;
	assert_int_equal(map(404, "404 page not found", &reason, &message, &ra), SO_E_API_NOT_FOUND);
	assert_null(reason);
	assert_string_equal(message, "the server answered HTTP 404");
	free(message);
	assert_int_equal(map(409, NULL, &reason, &message, &ra), SO_E_API_CONFLICT);
	free(message);
	assert_int_equal(map(418, "{}", &reason, &message, &ra), SO_E_API_OTHER);
	free(message);
	/* A JSON body that is not a Status (kind missing) does not override the code. */
	assert_int_equal(map(410, "{\"reason\":\"NotFound\"}", &reason, &message, &ra), SO_E_API_GONE);
	assert_null(reason);
	free(message);
}

/* The body the NamespaceLifecycle admission plugin returns, recorded from kube-apiserver v1.36.3. */
static void namespace_terminating_is_its_own_error(void **state)
{
	(void)state;
	char *reason, *message;
	long ra;
	const char *recorded =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
		"\"configmaps \\\"y\\\" is forbidden: unable to create new content in namespace term2 because it is being "
		"terminated\",\"reason\":\"Forbidden\",\"details\":{\"name\":\"y\",\"kind\":\"configmaps\",\"causes\":"
		"[{\"reason\":\"NamespaceTerminating\",\"message\":\"namespace term2 is being terminated\",\"field\":"
		"\"metadata.namespace\"}]},\"code\":403}";
	assert_int_equal(map(403, recorded, &reason, &message, &ra), SO_E_API_NAMESPACE_TERMINATING);
	assert_string_equal(reason, "Forbidden");
	assert_non_null(strstr(message, "because it is being terminated"));
	free(reason);
	free(message);
	/* Another cause, or causes that are not an array of objects, leave plain Forbidden and never crash. */
	static const char *const others[] = {
		"{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"details\":{\"causes\":[{\"reason\":\"FieldValueForbidden\"}]}}",
		"{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"details\":{\"causes\":{\"reason\":\"NamespaceTerminating\"}}}",
		"{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"details\":{\"causes\":[1,null,{\"reason\":7}]}}",
		"{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"details\":\"NamespaceTerminating\"}",
	};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		assert_int_equal(map(403, others[i], &reason, &message, &ra), SO_E_API_FORBIDDEN);
		free(reason);
		free(message);
	}
	/* Only a Forbidden carries this meaning. */
	const char *conflict = "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"details\":{\"causes\":"
			       "[{\"reason\":\"NamespaceTerminating\"}]}}";
	assert_int_equal(map(409, conflict, &reason, &message, &ra), SO_E_API_CONFLICT);
	free(reason);
	free(message);
}

static void retry_after_seconds_kept(void **state)
{
	(void)state;
	char *reason, *message;
	long ra;
	const char *body = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"slow down\","
			   "\"details\":{\"retryAfterSeconds\":7},\"code\":429}";
	assert_int_equal(map(429, body, &reason, &message, &ra), SO_E_API_TOO_MANY_REQUESTS);
	assert_int_equal(ra, 7);
	assert_string_equal(message, "slow down");
	free(reason);
	free(message);
	/* Absurd values are ignored rather than trusted. */
	body = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":-5}}";
	assert_int_equal(map(429, body, &reason, &message, &ra), SO_E_API_TOO_MANY_REQUESTS);
	assert_int_equal(ra, 0);
	free(reason);
	free(message);
}

static void unknown_reason_falls_back_to_code(void **state)
{
	(void)state;
	char *reason, *message;
	long ra;
	assert_int_equal(map(409, "{\"kind\":\"Status\",\"reason\":\"SomethingNew\",\"message\":\"m\"}", &reason,
			     &message, &ra),
			 SO_E_API_CONFLICT);
	assert_string_equal(reason, "SomethingNew");
	free(reason);
	free(message);
}

static void names_and_retriability(void **state)
{
	(void)state;
	assert_string_equal(so_strerror(SO_E_API_NOT_FOUND), "NotFound");
	assert_string_equal(so_strerror(SO_E_API_GONE), "Gone");
	assert_true(so_err_retriable(SO_E_API_TOO_MANY_REQUESTS));
	assert_true(so_err_retriable(SO_E_TRANSPORT));
	assert_false(so_err_retriable(SO_E_API_INVALID));
	assert_false(so_err_retriable(SO_E_API_NOT_FOUND));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reasons_win_over_codes),
		cmocka_unit_test(http_code_without_status_body),
		cmocka_unit_test(namespace_terminating_is_its_own_error),
		cmocka_unit_test(retry_after_seconds_kept),
		cmocka_unit_test(unknown_reason_falls_back_to_code),
		cmocka_unit_test(names_and_retriability),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

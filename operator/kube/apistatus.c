/*
 * Kubernetes Status → so_err. The server's reason is authoritative (409 is both AlreadyExists and Conflict,
 * 410 is Gone or Expired); the HTTP code decides only when the body is not a Status.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/client.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

static const struct {
	const char *reason;
	int err;
} reasons[] = {
	{ "BadRequest", SO_E_API_BAD_REQUEST },
	{ "Unauthorized", SO_E_API_UNAUTHORIZED },
	{ "Forbidden", SO_E_API_FORBIDDEN },
	{ "NotFound", SO_E_API_NOT_FOUND },
	{ "MethodNotAllowed", SO_E_API_METHOD_NOT_ALLOWED },
	{ "AlreadyExists", SO_E_API_ALREADY_EXISTS },
	{ "Conflict", SO_E_API_CONFLICT },
	{ "Gone", SO_E_API_GONE },
	{ "Expired", SO_E_API_GONE },
	{ "Invalid", SO_E_API_INVALID },
	{ "TooManyRequests", SO_E_API_TOO_MANY_REQUESTS },
	{ "InternalError", SO_E_API_INTERNAL },
	{ "ServiceUnavailable", SO_E_API_UNAVAILABLE },
	{ "Timeout", SO_E_API_TIMEOUT },
	{ "ServerTimeout", SO_E_API_TIMEOUT },
	{ "UnsupportedMediaType", SO_E_API_UNSUPPORTED_MEDIA },
};

static int from_http(long code)
{
	switch (code) {
	case 400: return SO_E_API_BAD_REQUEST;
	case 401: return SO_E_API_UNAUTHORIZED;
	case 403: return SO_E_API_FORBIDDEN;
	case 404: return SO_E_API_NOT_FOUND;
	case 405: return SO_E_API_METHOD_NOT_ALLOWED;
	case 409: return SO_E_API_CONFLICT;
	case 410: return SO_E_API_GONE;
	case 415: return SO_E_API_UNSUPPORTED_MEDIA;
	case 422: return SO_E_API_INVALID;
	case 429: return SO_E_API_TOO_MANY_REQUESTS;
	case 500: return SO_E_API_INTERNAL;
	case 503: return SO_E_API_UNAVAILABLE;
	case 504: return SO_E_API_TIMEOUT;
	default: return SO_E_API_OTHER;
	}
}

/* details.causes[].reason == type? The apiserver marks writes into a namespace being deleted this way. */
static int has_cause(const json_t *details, const char *type)
{
	size_t i;
	json_t *cause;

	json_array_foreach(json_object_get(details, "causes"), i, cause) {
		const char *t = json_string_value(json_object_get(cause, "reason")); /* StatusCause.Type is "reason" in JSON */
		if (t && strcmp(t, type) == 0)
			return 1;
	}
	return 0;
}

int kube_status_map(long http_code, const char *body, size_t len, char **reason, char **message,
		    long *retry_after_s)
{
	int err = from_http(http_code);
	json_t *root = NULL;
	const char *r = NULL, *m = NULL;

	*reason = NULL;
	*message = NULL;
	*retry_after_s = 0;
	if (body && len)
		root = json_loadb(body, len, 0, NULL);
	if (json_is_object(root) && json_is_string(json_object_get(root, "kind")) &&
	    strcmp(json_string_value(json_object_get(root, "kind")), "Status") == 0) {
		r = json_string_value(json_object_get(root, "reason"));
		m = json_string_value(json_object_get(root, "message"));
		json_t *ra = json_object_get(json_object_get(root, "details"), "retryAfterSeconds");
		if (json_is_integer(ra) && json_integer_value(ra) > 0 && json_integer_value(ra) < 86400)
			*retry_after_s = (long)json_integer_value(ra);
		for (size_t i = 0; r && i < sizeof reasons / sizeof reasons[0]; i++) {
			if (strcmp(r, reasons[i].reason) == 0) {
				err = reasons[i].err;
				break;
			}
		}
		if (err == SO_E_API_FORBIDDEN && has_cause(json_object_get(root, "details"), "NamespaceTerminating"))
			err = SO_E_API_NAMESPACE_TERMINATING;
	}
	if (r && *r)
		*reason = mem_strndup(r, 256);
	if (m && *m) {
		*message = mem_strndup(m, 4096);
	} else {
		/* No Status message: say what we got, never echo an arbitrary body. */
		char tmp[96];
		snprintf(tmp, sizeof tmp, "the server answered HTTP %ld", http_code);
		*message = mem_strdup(tmp);
	}
	json_decref(root);
	return err;
}

#include "operator/base/err.h"

#include <stdarg.h>
#include <stdio.h>

int so_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *so_strerror(int err)
{
	switch (err) {
	case SO_OK: return "ok";
	case SO_E_NOMEM: return "no memory or resources";
	case SO_E_INVAL: return "invalid input";
	case SO_E_TOO_LARGE: return "input too large";
	case SO_E_IO: return "I/O error";
	case SO_E_CONFIG: return "configuration error";
	case SO_E_TRANSPORT: return "transport error";
	case SO_E_TIMEOUT: return "timed out";
	case SO_E_BAD_RESPONSE: return "malformed response";
	case SO_E_CANCELLED: return "cancelled";
	case SO_E_BUSY: return "busy";
	case SO_E_DEFERRED: return "deferred";
	case SO_E_API_BAD_REQUEST: return "BadRequest";
	case SO_E_API_UNAUTHORIZED: return "Unauthorized";
	case SO_E_API_FORBIDDEN: return "Forbidden";
	case SO_E_API_NOT_FOUND: return "NotFound";
	case SO_E_API_METHOD_NOT_ALLOWED: return "MethodNotAllowed";
	case SO_E_API_ALREADY_EXISTS: return "AlreadyExists";
	case SO_E_API_CONFLICT: return "Conflict";
	case SO_E_API_GONE: return "Gone";
	case SO_E_API_INVALID: return "Invalid";
	case SO_E_API_TOO_MANY_REQUESTS: return "TooManyRequests";
	case SO_E_API_INTERNAL: return "InternalError";
	case SO_E_API_UNAVAILABLE: return "ServiceUnavailable";
	case SO_E_API_TIMEOUT: return "Timeout";
	case SO_E_API_UNSUPPORTED_MEDIA: return "UnsupportedMediaType";
	case SO_E_API_NAMESPACE_TERMINATING: return "Forbidden (namespace terminating)";
	case SO_E_API_OTHER: return "unexpected API status";
	default: return "unknown error";
	}
}

int so_err_retriable(int err)
{
	switch (err) {
	case SO_E_TRANSPORT:
	case SO_E_TIMEOUT:
	case SO_E_API_TOO_MANY_REQUESTS:
	case SO_E_API_INTERNAL:
	case SO_E_API_UNAVAILABLE:
	case SO_E_API_TIMEOUT:
		return 1;
	default:
		return 0;
	}
}

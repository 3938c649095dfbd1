/*
 * One status convention for the whole daemon: functions return 0 (SO_OK) on success and a negative
 * so_err on failure. Kubernetes API failures map onto the SO_E_API_* range so callers can branch on the
 * reason the server gave (NotFound, Conflict, ...) without parsing text. Human-readable detail travels
 * separately, in a caller-supplied buffer or in the response's kept Status message.
 */
#ifndef SO_UTIL_ERR_H
#define SO_UTIL_ERR_H

enum so_err {
	SO_OK = 0,
	SO_E_NOMEM = -1,          /* a library reported no memory, or pthread_create no resources for a thread (our own
	                           * allocations abort instead: operator/base/mem.h) */
	SO_E_INVAL = -2,          /* bad argument or malformed input */
	SO_E_TOO_LARGE = -3,      /* input exceeded its size cap */
	SO_E_IO = -4,             /* file or process I/O failed */
	SO_E_CONFIG = -5,         /* configuration incomplete or inconsistent */
	SO_E_TRANSPORT = -6,      /* connection, TLS or protocol failure below HTTP */
	SO_E_TIMEOUT = -7,        /* a deadline passed */
	SO_E_BAD_RESPONSE = -8,   /* the server answered with something unparseable */
	SO_E_CANCELLED = -9,      /* stopped on request (shutdown) */
	SO_E_BUSY = -10,          /* no capacity left now (a full queue); try later */
	SO_E_DEFERRED = -11,      /* the work must go on elsewhere (admission: on the verification pool) */

	/* Kubernetes Status reasons (metav1.StatusReason) and the HTTP codes behind them. */
	SO_E_API_BAD_REQUEST = -100,      /* 400 BadRequest */
	SO_E_API_UNAUTHORIZED = -101,     /* 401 Unauthorized */
	SO_E_API_FORBIDDEN = -102,        /* 403 Forbidden */
	SO_E_API_NOT_FOUND = -103,        /* 404 NotFound */
	SO_E_API_METHOD_NOT_ALLOWED = -104, /* 405 MethodNotAllowed */
	SO_E_API_ALREADY_EXISTS = -105,   /* 409 AlreadyExists */
	SO_E_API_CONFLICT = -106,         /* 409 Conflict */
	SO_E_API_GONE = -107,             /* 410 Gone / Expired: the resourceVersion is too old */
	SO_E_API_INVALID = -108,          /* 422 Invalid */
	SO_E_API_TOO_MANY_REQUESTS = -109, /* 429 TooManyRequests (Retry-After honoured) */
	SO_E_API_INTERNAL = -110,         /* 500 InternalError */
	SO_E_API_UNAVAILABLE = -111,      /* 503 ServiceUnavailable */
	SO_E_API_TIMEOUT = -112,          /* 504 / Timeout / ServerTimeout */
	SO_E_API_UNSUPPORTED_MEDIA = -113, /* 415 UnsupportedMediaType */
	SO_E_API_NAMESPACE_TERMINATING = -114, /* 403 with cause NamespaceTerminating: nothing new may be created there */
	SO_E_API_OTHER = -199,            /* any other non-2xx answer */
};

/* so_strerror returns a static, stable name for an so_err ("NotFound", "Conflict", "no memory or resources", ...). */
const char *so_strerror(int err);

#include <stddef.h>

/* Writes one formatted line into err (when err is non-NULL and errlen > 0) and returns rc, so that error
 * paths read `return so_fail(err, errlen, SO_E_CONFIG, "...", ...);`. */
int so_fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* so_err_retriable tells whether trying the same request again later can succeed. */
int so_err_retriable(int err);

#endif

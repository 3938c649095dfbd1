#include "operator/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LOG_INFO;
static int log_json;

void log_set_level(enum log_level level)
{
	log_min_level = (int)level;
}

void log_set_json(int on)
{
	log_json = on;
}

int log_parse_level(const char *name, enum log_level *out)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Appends s to out (bounded by cap) with JSON string escaping. Returns the new length. */
static size_t json_escape(char *out, size_t len, size_t cap, const char *s)
{
	for (; *s && len + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[len++] = '\\';
			out[len++] = (char)c;
		} else if (c < 0x20) {
			len += (size_t)snprintf(out + len, cap - len, "\\u%04x", c);
		} else {
			out[len++] = (char)c;
		}
	}
	return len;
}

/*
 * Appends s to out (bounded by cap) for the text format: a record is one line whatever its message holds, so
 * a name or an error text from the network cannot start a line of its own that reads like another record.
 * CR, LF and tab become \r, \n, \t; other control bytes and DEL \xNN. Stops at least 2 bytes short of cap;
 * returns the new length.
 */
static size_t text_escape(char *out, size_t len, size_t cap, const char *s)
{
	for (; *s && len + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\r' || c == '\t') {
			out[len++] = '\\';
			out[len++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			len += (size_t)snprintf(out + len, cap - len, "\\x%02x", c);
		} else {
			out[len++] = (char)c;
		}
	}
	return len;
}

void log_write(enum log_level level, const char *component, const char *fmt, ...)
{
	static const char *const text_names[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };
	static const char *const json_names[] = { "debug", "info", "warn", "error" };
	char msg[2048], line[4608], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", now.tv_nsec / 1000000);

	size_t len;
	if (log_json) {
		len = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts,
				       json_names[level]);
		len = json_escape(line, len, sizeof line, component);
		len += (size_t)snprintf(line + len, sizeof line - len, "\",\"msg\":\"");
		len = json_escape(line, len, sizeof line, msg);
		len += (size_t)snprintf(line + len, sizeof line - len, "\"}\n");
	} else {
		len = (size_t)snprintf(line, sizeof line, "%s %s ", ts, text_names[level]);
		/* each escape stops 2 bytes short of its cap: room for ": " and for the newline */
		len = text_escape(line, len, sizeof line - 4, component);
		line[len++] = ':';
		line[len++] = ' ';
		len = text_escape(line, len, sizeof line - 1, msg);
		line[len++] = '\n';
	}
	if (len >= sizeof line) {
		len = sizeof line - 1;
		line[len - 1] = '\n';
	}
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

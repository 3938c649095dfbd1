/*
 * Structured logging to stderr: one line per record, either human text
 *   2026-11-23T10:00:00.123Z INFO  informer: watch started resource=spinapps rv=123
 * or, with log_set_json(1), one JSON object per line
 *   {"ts":"2026-11-23T10:00:00.123Z","level":"info","component":"informer","msg":"watch started resource=..."}
 *
 * A record is always one line: the text format escapes CR, LF, tab and other control bytes in the component
 * and message (\r, \n, \t, \xNN), the JSON format escapes them as JSON does, so text from the network
 * (object names, registry errors) cannot forge a record.
 *
 * Records below the current level are discarded before their arguments are formatted. Callers never pass
 * credentials (tokens, keys, Secret data) to these functions; kube/ and webhook/ keep such values out of every
 * message by construction (they log names and sizes, never contents). The logger is thread-safe: each record
 * is formatted into a local buffer and written with a single write(2).
 */
#ifndef SO_UTIL_LOG_H
#define SO_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

extern int log_min_level;

void log_set_level(enum log_level level);
int log_parse_level(const char *name, enum log_level *out); /* "debug", "info", "warn", "error" */
void log_set_json(int on);
void log_write(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define LOG_AT(level, component, ...)                                    \
	do {                                                             \
		if ((level) >= log_min_level)                            \
			log_write((level), (component), __VA_ARGS__);   \
	} while (0)

#define log_debug(component, ...) LOG_AT(LOG_DEBUG, component, __VA_ARGS__)
#define log_info(component, ...) LOG_AT(LOG_INFO, component, __VA_ARGS__)
#define log_warn(component, ...) LOG_AT(LOG_WARN, component, __VA_ARGS__)
#define log_error(component, ...) LOG_AT(LOG_ERROR, component, __VA_ARGS__)

#endif

/* util/log: a record is one line in either format, whatever its message holds (no forged records). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/base/log.h"

/* Runs one log_write with stderr sent to a file, and returns what it wrote (malloc'd). */
static char *capture(const char *component, const char *msg)
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_write(LOG_WARN, component, "%s", msg);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	char *out = calloc(1, 16384);
	assert_non_null(out);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(read(fd, out, 16383) > 0);
	close(fd);
	unlink(path);
	return out;
}

static size_t lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void text_escapes_line_breaks_and_controls(void **state)
{
	(void)state;
	log_set_json(0);
	char *out = capture("verify", "image x\r\n2026-12-05T00:00:00.000Z ERROR main: forged\ttab\x1b[31m\x7f");
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, " WARN  verify: image x\\r\\n2026-12-05T00:00:00.000Z ERROR main: forged\\ttab"
				    "\\x1b[31m\\x7f\n"));
	free(out);
	/* The component is escaped too; UTF-8 passes unchanged. */
	out = capture("a\nb", "caf\xc3\xa9");
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, " WARN  a\\nb: caf\xc3\xa9\n"));
	free(out);
}

static void text_line_stays_bounded(void **state)
{
	(void)state;
	char msg[2100];
	log_set_json(0);
	/* Every byte a control: four bytes out for each, more than the line holds. */
	memset(msg, '\x01', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	char *out = capture("c", msg);
	assert_int_equal(lines(out), 1);
	size_t n = strlen(out);
	assert_true(n < 4608);
	assert_int_equal(out[n - 1], '\n');
	assert_memory_equal(out + n - 5, "\\x01\n", 5);
	free(out);
}

static void json_escapes(void **state)
{
	(void)state;
	log_set_json(1);
	char *out = capture("verify", "a\r\nb\"c\\");
	log_set_json(0);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "\"component\":\"verify\",\"msg\":\"a\\u000d\\u000ab\\\"c\\\\\"}\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_escapes_line_breaks_and_controls),
		cmocka_unit_test(text_line_stays_bounded),
		cmocka_unit_test(json_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A file's change signature for pollers (certificate files, the verification policy): what stat(2) says,
 * following symlinks, since Secret and ConfigMap volumes swap a symlink rather than rewrite the file. */
#ifndef SO_UTIL_FILESIG_H
#define SO_UTIL_FILESIG_H

#include <sys/types.h>
#include <time.h>

struct filesig {
	int err; /* errno of a failed stat, else 0 */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

/* Fills s for path; a failed stat is recorded in s->err (a missing file is a state like any other). */
void filesig_of(const char *path, struct filesig *s);
/* Whether nothing the signature sees changed between a and b. */
int filesig_eq(const struct filesig *a, const struct filesig *b);

#endif

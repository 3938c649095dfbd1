/* File change signatures: operator/base/filesig.h. */
#include "operator/base/filesig.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

void filesig_of(const char *path, struct filesig *s)
{
	struct stat st;

	memset(s, 0, sizeof *s);
	if (stat(path, &st)) {
		s->err = errno ? errno : EIO;
		return;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtim = st.st_mtim;
}

int filesig_eq(const struct filesig *a, const struct filesig *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec;
}

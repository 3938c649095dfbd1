/* NULL-terminated string vectors (exec args and env), the one home. */
#ifndef SO_UTIL_STRV_H
#define SO_UTIL_STRV_H

/* A deep copy of v (NULL gives an empty vector), never NULL. Free with strv_free. */
char **strv_dup(char *const *v);

/* Wipes each string (exec env values may be secrets), then frees them and v; NULL is a no-op. */
void strv_free(char **v);

#endif

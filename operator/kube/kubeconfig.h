/*
 * kubeconfig internals shared by kubeconfig.c (YAML → model → struct kube_config) and config.c (file selection
 * and the KUBECONFIG merge). Not for use outside operator/kube.
 *
 * A kubeconfig file is first converted, whole, into a struct kube_kubeconfig: every known field is type-checked
 * (a scalar where a mapping belongs is an error wherever it appears), but nothing is decoded or read from disk.
 * kube_kubeconfig_resolve then picks the context from one or more such files (first file to define a name or
 * current-context wins), and only the selected cluster and user are decoded, read and validated.
 */
#ifndef SO_KUBE_KUBECONFIG_H
#define SO_KUBE_KUBECONFIG_H

#include <stddef.h>

#include "operator/kube/config.h"

struct kube_kubeconfig;

/* Parses one file's YAML. label names the file in messages (NULL: "<input>"); base_dir resolves relative file
 * references (NULL or "": left relative, i.e. to the current directory). Returns SO_OK, SO_E_CONFIG,
 * SO_E_TOO_LARGE or SO_E_NOMEM (only libyaml's own allocation failing; ours abort) with one line in err, which
 * never quotes a value (a token could be one). */
int kube_kubeconfig_parse(const char *yaml, size_t len, const char *label, const char *base_dir,
			  struct kube_kubeconfig **out, char *err, size_t errlen);

void kube_kubeconfig_free(struct kube_kubeconfig *f);

/* Nonzero when the file set nothing (no clusters, users, contexts or current-context). */
int kube_kubeconfig_empty(const struct kube_kubeconfig *f);

/* Resolves the effective configuration from files[0..n) in precedence order. label names the whole set in
 * messages that belong to no single file (e.g. a missing current-context). context overrides current-context
 * when not NULL. On failure *out is left zeroed. */
int kube_kubeconfig_resolve(struct kube_kubeconfig *const *files, size_t n, const char *label, const char *context,
			    struct kube_config *out, char *err, size_t errlen);

/* Parses kubeconfig YAML already in memory. base_dir resolves relative file references (may be NULL for
 * the current directory); name is used in error messages. Exposed for tests and fuzzing. */
int kube_config_parse_kubeconfig(const char *yaml, size_t len, const char *name, const char *base_dir,
				 const char *context, struct kube_config *out, char *err, size_t errlen);

#endif

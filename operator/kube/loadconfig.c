#include "operator/kube/loadconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "operator/kube/file.h"
#include "operator/kube/names.h"
#include "operator/kube/kubeconfig.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"
#include "operator/base/strv.h"

#define KUBECONFIG_MAX_FILES 64 /* entries of $KUBECONFIG read at most */

/* ---- kubeconfig files ---- */

/* The directory part of path ("" when it has none, "/" for "/x"). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return mem_strdup("");
	if (slash == path)
		return mem_strdup("/");
	return mem_strndup(path, (size_t)(slash - path));
}

/*
 * Reads and parses one file. With skip_missing a file that does not exist yields SO_OK and *out = NULL
 * (kubectl skips missing KUBECONFIG entries).
 */
static int load_file(const char *path, int skip_missing, struct kube_kubeconfig **out, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(KUBE_CONFIG_MAX_FILE);
	char *dir = NULL;
	int rc, e = 0;

	*out = NULL;
	rc = kube_file_read(path, KUBE_CONFIG_MAX_FILE, &b, &e);
	if (rc == SO_E_IO && e == ENOENT && skip_missing)
		return SO_OK;
	if (rc == SO_E_IO)
		return so_fail(err, errlen, SO_E_CONFIG, "kubeconfig %s: %s", path, kube_file_strerror(e));
	if (rc)
		return so_fail(err, errlen, rc, "kubeconfig %s: larger than %u MiB", path, KUBE_CONFIG_MAX_FILE >> 20);
	dir = dir_of(path);
	rc = kube_kubeconfig_parse(b.data, b.len, path, dir, out, err, errlen);
	/* The text held tokens and keys. */
	explicit_bzero(b.data, b.alloc);
	buf_free(&b);
	free(dir);
	return rc;
}

static int load_files(char *const *paths, size_t n, int skip_missing, const char *context, struct kube_config *out,
		      int *found, char *err, size_t errlen)
{
	struct kube_kubeconfig *files[KUBECONFIG_MAX_FILES];
	struct buf label = BUF_INIT(1u << 20);
	size_t nf = 0;
	int rc = SO_OK;

	*found = 0;
	for (size_t i = 0; i < n; i++) {
		struct kube_kubeconfig *f;
		rc = load_file(paths[i], skip_missing, &f, err, errlen);
		if (rc)
			goto out;
		if (!f)
			continue;
		files[nf++] = f;
		if ((label.len && buf_append(&label, ":", 1)) || buf_appends(&label, paths[i])) {
			rc = so_fail(err, errlen, SO_E_TOO_LARGE, "kubeconfig: the file names are longer than %zu bytes",
				     label.cap);
			goto out;
		}
	}
	if (!nf)
		goto out;
	*found = 1;
	rc = kube_kubeconfig_resolve(files, nf, label.data, context, out, err, errlen);
out:
	for (size_t i = 0; i < nf; i++)
		kube_kubeconfig_free(files[i]);
	buf_free(&label);
	return rc;
}

/* Splits a colon-separated list, dropping empty and repeated entries. */
static int split_list(const char *list, char ***out, size_t *n, char *err, size_t errlen)
{
	char **v = mem_calloc(KUBECONFIG_MAX_FILES + 1, sizeof *v);
	size_t k = 0;
	const char *p = list;

	*out = NULL;
	*n = 0;
	while (*p) {
		size_t len = strcspn(p, ":");
		int dup = 0;

		if (len) {
			for (size_t i = 0; i < k && !dup; i++)
				dup = strlen(v[i]) == len && memcmp(v[i], p, len) == 0;
			if (!dup) {
				if (k == KUBECONFIG_MAX_FILES) {
					strv_free(v);
					return so_fail(err, errlen, SO_E_CONFIG, "KUBECONFIG: more than %d files",
						    KUBECONFIG_MAX_FILES);
				}
				v[k++] = mem_strndup(p, len);
			}
		}
		p += len;
		if (*p == ':')
			p++;
	}
	*out = v;
	*n = k;
	return SO_OK;
}

/* client-go's rule: in-cluster config is possible when both variables are set and the token file exists. */
static int incluster_possible(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	return host && *host && port && *port && access(KUBE_SA_DIR "/token", F_OK) == 0;
}

int kube_config_load(const char *kubeconfig_path, const char *context, struct kube_config *out, char *err,
		     size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char **list = NULL;
	char *home_cfg = NULL;
	size_t n = 0;
	int rc, found = 0;

	memset(out, 0, sizeof *out);
	if (err && errlen)
		err[0] = '\0';
	if (context && !*context)
		context = NULL;

	/* 1. --kubeconfig: must exist. */
	if (kubeconfig_path && *kubeconfig_path) {
		char *one[1] = { (char *)kubeconfig_path };
		return load_files(one, 1, 0, context, out, &found, err, errlen);
	}

	/* 2. KUBECONFIG: merged; missing files skipped. */
	if (env && *env) {
		rc = split_list(env, &list, &n, err, errlen);
		if (rc)
			goto out;
		rc = load_files(list, n, 1, context, out, &found, err, errlen);
		if (rc || found)
			goto out;
	}

	/* 3. In-cluster (not when a context was asked for: that names a kubeconfig context). */
	if (!context && incluster_possible()) {
		rc = kube_config_incluster(KUBE_SA_DIR, out, err, errlen);
		goto out;
	}
	if (env && *env) {
		/* As in client-go, a set KUBECONFIG replaces $HOME/.kube/config. */
		rc = so_fail(err, errlen, SO_E_CONFIG, "KUBECONFIG: none of the listed files exist");
		goto out;
	}

	/* 4. $HOME/.kube/config. */
	if (home && *home) {
		home_cfg = kube_path_join(home, ".kube/config");
		char *one[1] = { home_cfg };
		rc = load_files(one, 1, 1, context, out, &found, err, errlen);
		if (rc || found)
			goto out;
	}
	rc = so_fail(err, errlen, SO_E_CONFIG,
		  "no configuration: no --kubeconfig, no KUBECONFIG, not running in a cluster and no "
		  "$HOME/.kube/config");
out:
	strv_free(list);
	free(home_cfg);
	return rc;
}

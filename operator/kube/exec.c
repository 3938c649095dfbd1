/*
 * ExecCredential plugins: spawn (no shell), bounded capture, timeout, parse. See exec.h for the contract.
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np, pipe2 */

#include "operator/kube/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "operator/kube/file.h"
#include "operator/base/base64.h"
#include "operator/base/buf.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

extern char **environ;

static _Atomic long timeout_override_ms;

void kube_exec_set_timeout_ms(long ms)
{
	atomic_store(&timeout_override_ms, ms > 0 ? ms : 0);
}

static long exec_timeout_ms(void)
{
	long ms = atomic_load(&timeout_override_ms);
	return ms > 0 ? ms : KUBE_EXEC_TIMEOUT_MS;
}

void kube_exec_result_free(struct kube_exec_result *r)
{
	if (!r)
		return;
	kube_secret_free(r->token);
	r->token = NULL;
	kube_pem_free(&r->client_cert);
	kube_pem_free(&r->client_key);
	r->expiry = 0;
}

/* ---- RFC 3339 ---- */

static int take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int take_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

int kube_parse_rfc3339(const char *s, time_t *out)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	struct tm tm;
	time_t t;

	if (take_digits(&p, 4, &y) || take_char(&p, '-') || take_digits(&p, 2, &mo) || take_char(&p, '-') ||
	    take_digits(&p, 2, &d))
		return SO_E_INVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return SO_E_INVAL;
	p++;
	if (take_digits(&p, 2, &h) || take_char(&p, ':') || take_digits(&p, 2, &mi) || take_char(&p, ':') ||
	    take_digits(&p, 2, &sec))
		return SO_E_INVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return SO_E_INVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (take_digits(&p, 2, &oh) || take_char(&p, ':') || take_digits(&p, 2, &om))
			return SO_E_INVAL;
	} else {
		return SO_E_INVAL;
	}
	if (*p)
		return SO_E_INVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return SO_E_INVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return SO_E_INVAL;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31 && h == 23 && mi == 59 && sec == 59))
		return SO_E_INVAL;
	*out = t - (time_t)sign * (oh * 3600 + om * 60);
	return SO_OK;
}

/* ---- ExecCredential ---- */

static void pem_from_string(const char *s, struct kube_pem *out)
{
	out->len = strlen(s);
	out->data = mem_strndup(s, out->len);
}

/* A member that must be a string when present: *out is NULL when absent or null. */
static int opt_string(json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return SO_OK;
	if (!json_is_string(v))
		return SO_E_INVAL;
	*out = json_string_value(v);
	return SO_OK;
}

int kube_exec_parse_credential(const char *json, size_t len, const char *api_version, struct kube_exec_result *out,
			       char *msg, size_t msglen)
{
	json_error_t je;
	json_t *root = NULL, *status;
	const char *s, *token, *cert, *key, *exp;
	int rc = SO_E_BAD_RESPONSE;

	memset(out, 0, sizeof *out);
	if (len == 0)
		return so_fail(msg, msglen, rc, "empty output");
	/* je.text can quote the input (a token), so only the position is reported. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return so_fail(msg, msglen, rc, "not valid JSON (line %d, column %d)", je.line, je.column);
	if (!json_is_object(root)) {
		so_fail(msg, msglen, rc, "not a JSON object");
		goto out;
	}
	if (opt_string(root, "apiVersion", &s) || !s) {
		so_fail(msg, msglen, rc, "missing apiVersion");
		goto out;
	}
	if (strcmp(s, api_version) != 0) {
		so_fail(msg, msglen, rc, "apiVersion does not match the configured %s", api_version);
		goto out;
	}
	if (opt_string(root, "kind", &s) || !s || strcmp(s, "ExecCredential") != 0) {
		so_fail(msg, msglen, rc, "kind is not ExecCredential");
		goto out;
	}
	status = json_object_get(root, "status");
	if (!status || json_is_null(status)) {
		so_fail(msg, msglen, rc, "missing status");
		goto out;
	}
	if (!json_is_object(status)) {
		so_fail(msg, msglen, rc, "status is not an object");
		goto out;
	}
	if (opt_string(status, "token", &token)) {
		so_fail(msg, msglen, rc, "status.token is not a string");
		goto out;
	}
	if (opt_string(status, "clientCertificateData", &cert)) {
		so_fail(msg, msglen, rc, "status.clientCertificateData is not a string");
		goto out;
	}
	if (opt_string(status, "clientKeyData", &key)) {
		so_fail(msg, msglen, rc, "status.clientKeyData is not a string");
		goto out;
	}
	if (opt_string(status, "expirationTimestamp", &exp)) {
		so_fail(msg, msglen, rc, "status.expirationTimestamp is not a string");
		goto out;
	}
	if (token && !*token)
		token = NULL;
	if (cert && !*cert)
		cert = NULL;
	if (key && !*key)
		key = NULL;
	if (!cert != !key) {
		so_fail(msg, msglen, rc, "%s is set without %s", cert ? "status.clientCertificateData" : "status.clientKeyData",
		     cert ? "status.clientKeyData" : "status.clientCertificateData");
		goto out;
	}
	if (!token && !cert) {
		so_fail(msg, msglen, rc, "missing status.token");
		goto out;
	}
	if (token && kube_has_ctl(token)) {
		so_fail(msg, msglen, rc, "status.token contains control characters");
		goto out;
	}
	if (exp && kube_parse_rfc3339(exp, &out->expiry) != SO_OK) {
		so_fail(msg, msglen, rc, "status.expirationTimestamp is not an RFC 3339 time");
		goto out;
	}
	if (token)
		out->token = mem_strdup(token);
	if (cert) {
		pem_from_string(cert, &out->client_cert);
		pem_from_string(key, &out->client_key);
	}
	rc = SO_OK;
out:
	json_decref(root);
	if (rc)
		kube_exec_result_free(out);
	return rc;
}

/* ---- spawning ---- */

/* KUBERNETES_EXEC_INFO: {"apiVersion", "kind": "ExecCredential", "spec": {"interactive": false, "cluster"?}}.
 * NULL when a configured string (apiVersion, server, tls-server-name) is not UTF-8: jansson refuses it. */
static char *exec_info(const struct kube_exec_config *exec, const struct kube_exec_cluster *cluster)
{
	json_t *info, *cl;
	char *s = NULL, *env = NULL;
	size_t n;

	info = json_pack("{s:s, s:s, s:{s:b}}", "apiVersion", exec->api_version, "kind", "ExecCredential", "spec",
			 "interactive", 0);
	if (!info)
		return NULL;
	if (exec->provide_cluster_info && cluster && cluster->server) {
		cl = json_object();
		json_object_set_new(json_object_get(info, "spec"), "cluster", cl);
		if (json_object_set_new(cl, "server", json_string(cluster->server)))
			goto out;
		if (cluster->tls_server_name &&
		    json_object_set_new(cl, "tls-server-name", json_string(cluster->tls_server_name)))
			goto out;
		if (cluster->insecure_skip_tls_verify)
			json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
		if (cluster->ca && cluster->ca->data && cluster->ca->len && cluster->ca->len < INT_MAX / 2) {
			/* Below B64_MAX_ENCODE, so base64_json_string cannot refuse it. */
			json_object_set_new(cl, "certificate-authority-data",
					    base64_json_string(cluster->ca->data, cluster->ca->len));
		}
	}
	s = json_dumps(info, JSON_COMPACT);
	n = strlen(s);
	env = mem_alloc(sizeof "KUBERNETES_EXEC_INFO=" + n);
	memcpy(env, "KUBERNETES_EXEC_INFO=", sizeof "KUBERNETES_EXEC_INFO=" - 1);
	memcpy(env + sizeof "KUBERNETES_EXEC_INFO=" - 1, s, n + 1);
out:
	free(s);
	json_decref(info);
	return env;
}

static size_t name_len(const char *entry)
{
	return strcspn(entry, "=");
}

/* environ minus the names we set, then the plugin's env entries, then KUBERNETES_EXEC_INFO. Pointers only;
 * the strings belong to environ, the config and info. */
static char **build_env(const struct kube_exec_config *exec, char *info)
{
	size_t ne = 0, nx = 0, k = 0;
	char **envp;

	while (environ && environ[ne])
		ne++;
	while (exec->env && exec->env[nx])
		nx++;
	envp = mem_calloc(ne + nx + 2, sizeof *envp);
	for (size_t i = 0; i < ne; i++) {
		const char *e = environ[i];
		size_t l = name_len(e);
		int drop = l == sizeof "KUBERNETES_EXEC_INFO" - 1 && memcmp(e, "KUBERNETES_EXEC_INFO", l) == 0;
		for (size_t j = 0; j < nx && !drop; j++)
			drop = name_len(exec->env[j]) == l && memcmp(exec->env[j], e, l) == 0;
		if (!drop)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < nx; j++)
		envp[k++] = exec->env[j];
	envp[k++] = info;
	envp[k] = NULL;
	return envp;
}

/* Keeps our pipe ends off 0..2 so the child's dup2 actions cannot clobber them (a daemon may run with stdio
 * closed). */
static int raise_fd(int *fd)
{
	int nfd;

	if (*fd > 2)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The first line of the captured stderr, sanitized and short. */
static const char *first_line(char *dst, size_t dstlen, const char *s, size_t len)
{
	char line[256];
	size_t n = 0;

	while (n < len && n + 1 < sizeof line && s[n] != '\n' && s[n] != '\r' && s[n])
		n++;
	memcpy(line, s, n);
	line[n] = '\0';
	return kube_sanitize(dst, dstlen, line);
}

int kube_exec_run(const struct kube_exec_config *exec, const struct kube_exec_cluster *cluster,
		  struct kube_exec_result *out, char *err, size_t errlen)
{
	char cmd[128], line[200], msg[256];
	char **argv = NULL, **envp = NULL, *info = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_ok = 0, attr_ok = 0;
	pid_t pid = -1;
	int status = 0, reaped = 0, timed_out = 0, too_big = 0;
	struct buf obuf = BUF_INIT(KUBE_EXEC_MAX_OUTPUT);
	char ebuf[KUBE_EXEC_MAX_STDERR];
	size_t elen = 0, nargs = 0;
	long timeout = exec_timeout_ms();
	long long deadline;
	sigset_t mask, defs;
	int rc, e;

	memset(out, 0, sizeof *out);
	kube_sanitize(cmd, sizeof cmd, exec->command ? exec->command : "");
	if (!exec->command || !exec->command[0] || !exec->api_version)
		return so_fail(err, errlen, SO_E_CONFIG, "exec plugin: no command or apiVersion configured");

	while (exec->args && exec->args[nargs])
		nargs++;
	argv = mem_calloc(nargs + 2, sizeof *argv);
	argv[0] = exec->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = exec->args[i];
	info = exec_info(exec, cluster);
	if (!info) {
		rc = so_fail(err, errlen, SO_E_CONFIG, "exec plugin %s: apiVersion or cluster info is not valid UTF-8",
			     cmd);
		goto out;
	}
	envp = build_env(exec, info);

	rc = SO_E_IO;
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || raise_fd(&outp[0]) || raise_fd(&outp[1]) ||
	    raise_fd(&errp[0]) || raise_fd(&errp[1])) {
		so_fail(err, errlen, rc, "exec plugin %s: pipe: %s", cmd, strerror(errno));
		goto out;
	}
	if (fcntl(outp[0], F_SETFL, O_NONBLOCK) || fcntl(errp[0], F_SETFL, O_NONBLOCK)) {
		so_fail(err, errlen, rc, "exec plugin %s: fcntl: %s", cmd, strerror(errno));
		goto out;
	}

	e = posix_spawn_file_actions_init(&fa);
	if (e)
		goto spawn_err;
	fa_ok = 1;
	if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
	    (e = posix_spawn_file_actions_adddup2(&fa, outp[1], 1)) ||
	    (e = posix_spawn_file_actions_adddup2(&fa, errp[1], 2)))
		goto spawn_err;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* Descriptors the daemon opened without O_CLOEXEC (sockets, files) stay out of the plugin. */
	if ((e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)))
		goto spawn_err;
#endif
	e = posix_spawnattr_init(&attr);
	if (e)
		goto spawn_err;
	attr_ok = 1;
	sigemptyset(&mask);
	sigemptyset(&defs);
	/* Ignored dispositions survive exec; give the plugin the defaults (a daemon usually ignores SIGPIPE). */
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGCHLD);
	sigaddset(&defs, SIGHUP);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGQUIT);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGUSR1);
	sigaddset(&defs, SIGUSR2);
	sigaddset(&defs, SIGALRM);
	if ((e = posix_spawnattr_setsigmask(&attr, &mask)) || (e = posix_spawnattr_setsigdefault(&attr, &defs)) ||
	    (e = posix_spawnattr_setpgroup(&attr, 0)) ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
							 POSIX_SPAWN_SETPGROUP)))
		goto spawn_err;

	/* A bare name is looked up in PATH (posix_spawnp); anything with a slash is used as is. */
	if (strchr(exec->command, '/'))
		e = posix_spawn(&pid, exec->command, &fa, &attr, argv, envp);
	else
		e = posix_spawnp(&pid, exec->command, &fa, &attr, argv, envp);
	if (e) {
		pid = -1;
		goto spawn_err;
	}
	close_fd(&outp[1]);
	close_fd(&errp[1]);

	deadline = clock_mono_ms() + timeout;
	for (;;) {
		struct pollfd pf[2];
		nfds_t nfds = 0;
		long long left;
		int wait_ms;

		if (!reaped) {
			pid_t r = waitpid(pid, &status, WNOHANG);
			if (r == pid) {
				reaped = 1;
			} else if (r < 0 && errno != EINTR) {
				/* ECHILD: someone else reaped it (SIGCHLD ignored); there is no status to report. */
				reaped = 1;
				status = 0;
			}
		}
		if (reaped && outp[0] < 0 && errp[0] < 0)
			break;
		left = deadline - clock_mono_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (outp[0] >= 0)
			pf[nfds++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		if (errp[0] >= 0)
			pf[nfds++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		/* With both pipes closed only the exit is left to see: check every 10 ms. */
		wait_ms = (int)(left > INT_MAX ? INT_MAX : left);
		if (!nfds && wait_ms > 10)
			wait_ms = 10;
		if (poll(nfds ? pf : NULL, nfds, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			so_fail(err, errlen, SO_E_IO, "exec plugin %s: poll: %s", cmd, strerror(errno));
			timed_out = -1; /* kill and reap below */
			break;
		}
		for (nfds_t i = 0; i < nfds; i++) {
			char chunk[16384];
			ssize_t n;
			int is_out = pf[i].fd == outp[0];

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[i].fd, chunk, sizeof chunk);
			if (n < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				n = 0; /* treat a read error as the end of that stream */
			}
			if (n == 0) {
				close_fd(is_out ? &outp[0] : &errp[0]);
				continue;
			}
			if (is_out) {
				int r = buf_append(&obuf, chunk, (size_t)n);
				explicit_bzero(chunk, (size_t)n);
				if (r) {
					too_big = 1;
					break;
				}
			} else {
				size_t keep = sizeof ebuf - elen;
				if (keep > (size_t)n)
					keep = (size_t)n;
				memcpy(ebuf + elen, chunk, keep);
				elen += keep;
			}
		}
		if (too_big)
			break;
	}
	if (!reaped) {
		/* Timed out, too much output or a poll failure: stop the plugin and everything it started. */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		reaped = 1;
	} else if (timed_out || too_big) {
		/* The plugin exited but something it started still holds a pipe. */
		kill(-pid, SIGKILL);
	}

	if (timed_out > 0) {
		if (timeout % 1000 == 0)
			rc = so_fail(err, errlen, SO_E_TIMEOUT, "exec plugin %s: timed out after %ld s", cmd, timeout / 1000);
		else
			rc = so_fail(err, errlen, SO_E_TIMEOUT, "exec plugin %s: timed out after %ld ms", cmd, timeout);
		goto out;
	}
	if (timed_out < 0) {
		rc = SO_E_IO;
		goto out;
	}
	if (too_big) {
		rc = so_fail(err, errlen, SO_E_TOO_LARGE, "exec plugin %s: output exceeds %u MiB", cmd,
			  KUBE_EXEC_MAX_OUTPUT >> 20);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		rc = so_fail(err, errlen, SO_E_IO, "exec plugin %s: killed by signal %d%s%s", cmd, WTERMSIG(status),
			  elen ? ": " : "", elen ? first_line(line, sizeof line, ebuf, elen) : "");
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		rc = so_fail(err, errlen, SO_E_IO, "exec plugin %s: exited with status %d%s%s", cmd, WEXITSTATUS(status),
			  elen ? ": " : "", elen ? first_line(line, sizeof line, ebuf, elen) : "");
		goto out;
	}
	rc = kube_exec_parse_credential(obuf.data ? obuf.data : "", obuf.len, exec->api_version, out, msg,
					sizeof msg);
	if (rc) {
		so_fail(err, errlen, rc, "exec plugin %s: invalid ExecCredential: %s", cmd, msg);
		goto out;
	}
	rc = SO_OK;
	goto out;

spawn_err:
	rc = so_fail(err, errlen, SO_E_IO, "exec plugin %s: cannot run: %s", cmd, strerror(e));
out:
	if (pid > 0 && !reaped) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	if (obuf.data)
		explicit_bzero(obuf.data, obuf.alloc);
	buf_free(&obuf);
	explicit_bzero(ebuf, sizeof ebuf);
	free(argv);
	free(envp);
	free(info);
	if (rc)
		kube_exec_result_free(out);
	return rc;
}

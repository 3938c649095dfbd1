/*
 * spin-operator: flags, wiring, signals and shutdown order.
 *
 * Start-up: load the API configuration (kubectl's order), start the health, metrics and admission webhook
 * endpoints (with, in the self-managed certificate mode, the thread keeping the webhook's certificates:
 * webhook/certs/selfmanaged.h), check the server version, start one informer per watched resource and wait until their caches
 * are synced. The webhook answers 503 until then, and /readyz says ready once the caches are synced (and stay
 * current: controller_caches_fresh) and the webhook (when enabled) serves a certificate. Shutdown (first SIGTERM/SIGINT), fitting a 10 s grace period:
 * /readyz fails at once and the webhook keeps answering from the caches for WEBHOOK_DRAIN_S, each answer
 * closing its connection, while the workers stop (--shutdown-timeout) and the informers end their watches;
 * then the endpoints stop and the webhook (requests in progress get WEBHOOK_GRACE_S), everything is released,
 * exit 0. A second signal while shutting down exits 1 at once, as controller-runtime does.
 *
 * With --leader-elect (operator/runtime/leader.h) every replica starts the same way and keeps its caches warm, but only
 * the leader starts the workers; the controller's client refuses writes unless the elector says we lead.
 * Losing the lease exits 1 at once (no release, no grace); on SIGTERM the leader stops its workers, then
 * releases the lease.
 */
#include <errno.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/controller/controller.h"
#include "operator/controller/readiness.h"
#include "operator/base/health.h"
#include "operator/kube/api.h"
#include "operator/kube/loadconfig.h"
#include "operator/kube/client.h"
#include "operator/kube/config.h"
#include "operator/runtime/leader.h"
#include "operator/cmd/metrics_cli.h"
#include "operator/runtime/process_metrics.h"
#include "operator/cmd/render.h"
#include "operator/cmd/upstream_cli.h"
#include "operator/base/clock.h"
#include "operator/base/err.h"
#include "operator/base/log.h"
#include "operator/base/mem.h"
#include "operator/base/parse.h"
#include "operator/base/ticker.h"
#include "operator/cmd/webhook_cli.h"
#include "webhook/certs/selfmanaged.h"
#include "webhook/webhook_server.h"
#include "webhook/verify/setup.h"
#include "webhook/verify/verifier.h"
#include "operator/cmd/verifycmd.h"

/* The Makefile passes both, from the file VERSION and git (docs/image.md: one version source). */
#ifndef SPIN_OPERATOR_VERSION
#define SPIN_OPERATOR_VERSION "0.1.0-dev"
#endif
#ifndef SPIN_OPERATOR_REVISION
#define SPIN_OPERATOR_REVISION "unknown"
#endif

#define SYNC_TIMEOUT_S 120.0 /* controller-runtime's CacheSyncTimeout */
/* Shutdown, all counted from the signal, so that it fits the 10 s terminationGracePeriodSeconds of config/ and the
 * chart: the webhook keeps answering for WEBHOOK_DRAIN_S (its endpoint leaves the Service meanwhile), reconciles
 * in flight get --shutdown-timeout (default 5 s) alongside, then admission requests in progress get
 * WEBHOOK_GRACE_S. */
#define WEBHOOK_DRAIN_S 3.0
#define WEBHOOK_GRACE_S 2.0

extern const char spin_ca_bundle[];
extern const size_t spin_ca_bundle_len;

struct options {
	const char *kubeconfig;
	const char *context;
	const char *namespace;
	double qps;
	long burst;
	long workers;
	double resync_s;
	double shutdown_s;
	const char *health_addr;
	const char *metrics_addr;
	const char *webhook_addr;
	int webhook_addr_set; /* --webhook-bind-address given: failing to bind it is fatal */
	const char *webhook_cert_dir;
	const char *webhook_cert_file;
	const char *webhook_key_file;
	int webhook_cert_paths_set; /* one of the three above given: certificate mode "files" unless told otherwise */
	struct webhook_cli wh;      /* certificate mode and rule-set flags (operator/cmd/webhook_cli.h) */
	struct upstream_cli up;     /* upstream's flags: --leader-elect, --enable-webhooks, --zap-* (operator/cmd/upstream_cli.h) */
	struct verify_setup_opts verify; /* --verify-*, --registry-* */
	struct metrics_cli metrics;      /* --metrics-secure, --metrics-cert-* (operator/cmd/metrics_cli.h) */
};

/* What the endpoints' callbacks read. */
struct daemon {
	struct controller *ctl;
	struct webhook_server *webhook;
	struct selfmanaged *webhook_certs; /* self-managed certificate mode only */
	struct verify_setup *verify; /* NULL without --verify-policy */
	struct leader_elector *leader; /* NULL without --leader-elect */
	struct kube_client *client;   /* the controller's, for its rest_client metrics */
};

static const char usage[] =
	"Usage: spin-operator [flags]\n"
	"\n"
	"Runs SpinKube's SpinApp and SpinAppExecutor controllers against a Kubernetes cluster.\n"
	"To print the objects for SpinApp manifests without a cluster, see spin-operator render --help;\n"
	"to check image signatures against a verification policy, spin-operator verify --help.\n"
	"\n"
	"Flags:\n"
	"  --kubeconfig PATH        kubeconfig to use; otherwise $KUBECONFIG, then in-cluster service account,\n"
	"                           then ~/.kube/config\n"
	"  --context NAME           kubeconfig context to use instead of current-context\n"
	"  --namespace NS           watch only this namespace (default: all namespaces)\n"
	"  --kube-api-qps N         client-side request rate limit, requests/s (default 0: none, as controller-runtime;\n"
	"                           the API server's Priority and Fairness paces us, 429 Retry-After is honoured)\n"
	"  --kube-api-burst N       client-side burst allowance once --kube-api-qps sets a rate (default 30)\n"
	"  --max-concurrent-reconciles N\n"
	"                           SpinApps reconciled in parallel (default 8); one key never runs twice at once\n"
	"  --resync-period SECONDS  reconcile every object again this often (default 36000; 0 disables)\n"
	"  --shutdown-timeout SECONDS\n"
	"                           on SIGTERM, how long in-flight reconciles may finish (default 5); the webhook\n"
	"                           answers for 3 s after the signal, then finishes what is in progress (2 s)\n"
	"  --health-probe-bind-address ADDR\n"
	"                           [host]:port serving /healthz and /readyz (default :8082; 0 disables)\n"
	"  --metrics-bind-address ADDR\n"
	"                           [host]:port serving Prometheus /metrics, over HTTPS unless --metrics-secure=false\n"
	"                           (default :8080; 0 disables; upstream's manifests pass :8443)\n"
	"  --webhook-bind-address ADDR\n"
	"                           [host]:port serving the admission webhooks over HTTPS (default :9443;\n"
	"                           0 disables)\n"
	"  --webhook-cert-dir DIR   directory holding the webhook's tls.crt and tls.key, reloaded when they change\n"
	"                           (default /tmp/k8s-webhook-server/serving-certs)\n"
	"  --webhook-cert-file PATH the webhook's PEM certificate chain, instead of <cert-dir>/tls.crt\n"
	"  --webhook-key-file PATH  the webhook's PEM private key, instead of <cert-dir>/tls.key\n"
	"  --log-level LEVEL        debug, info, warn or error (default info)\n"
	"  --log-format FORMAT      text or json (default text)\n"
	"  --version                print the version and exit\n"
	"  -h, --help               print this help and exit\n"
	"Long flags may also be written with one dash (-leader-elect), and values after = (--flag=value).\n";

static pthread_mutex_t shutdown_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shutdown_cv = PTHREAD_COND_INITIALIZER;
static int shutdown_requested;
static int leader_started, leader_lost; /* leader election's news for main (under shutdown_mu) */

/* Dedicated signal thread: every other thread has SIGTERM/SIGINT blocked. */
static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;
	for (;;) {
		if (sigwait(set, &sig))
			continue;
		pthread_mutex_lock(&shutdown_mu);
		int again = shutdown_requested;
		shutdown_requested = 1;
		pthread_cond_broadcast(&shutdown_cv);
		pthread_mutex_unlock(&shutdown_mu);
		if (again) {
			log_error("main", "second signal (%s) during shutdown: exiting now", strsignal(sig));
			_exit(1);
		}
		log_info("main", "received %s: shutting down", strsignal(sig));
	}
	return NULL;
}

static int should_stop(void)
{
	pthread_mutex_lock(&shutdown_mu);
	int s = shutdown_requested;
	pthread_mutex_unlock(&shutdown_mu);
	return s;
}

/* Waits up to seconds (forever when negative) for a shutdown request; returns non-zero if one came. */
static int wait_shutdown(double seconds)
{
	struct timespec deadline;
	if (seconds < 0) {
		pthread_mutex_lock(&shutdown_mu);
		while (!shutdown_requested)
			pthread_cond_wait(&shutdown_cv, &shutdown_mu);
		pthread_mutex_unlock(&shutdown_mu);
		return 1;
	}
	deadline = clock_in(CLOCK_REALTIME, seconds);
	pthread_mutex_lock(&shutdown_mu);
	while (!shutdown_requested) {
		if (pthread_cond_timedwait(&shutdown_cv, &shutdown_mu, &deadline))
			break;
	}
	int s = shutdown_requested;
	pthread_mutex_unlock(&shutdown_mu);
	return s;
}

/* Leader election's callbacks (on its thread): wake main, which starts the workers or exits. */
static void leader_news(int *flag)
{
	pthread_mutex_lock(&shutdown_mu);
	*flag = 1;
	pthread_cond_broadcast(&shutdown_cv);
	pthread_mutex_unlock(&shutdown_mu);
}

static void on_started_leading(void *ud)
{
	(void)ud;
	leader_news(&leader_started);
}

static void on_stopped_leading(void *ud)
{
	(void)ud;
	leader_news(&leader_lost);
}

/* Waits for a shutdown request or leader election's news: 'S' shutdown, 'L' lost, 'W' start the workers. */
static int wait_event(int workers_started)
{
	int ev;
	pthread_mutex_lock(&shutdown_mu);
	while (!shutdown_requested && !leader_lost && (workers_started || !leader_started))
		pthread_cond_wait(&shutdown_cv, &shutdown_mu);
	ev = leader_lost ? 'L' : shutdown_requested ? 'S' : 'W';
	pthread_mutex_unlock(&shutdown_mu);
	return ev;
}

static int parse_flags(int argc, char **argv, struct options *o)
{
	enum { F_KUBECONFIG = 1, F_CONTEXT, F_NAMESPACE, F_QPS, F_BURST, F_LOG_LEVEL, F_LOG_FORMAT, F_VERSION,
	       F_WORKERS, F_RESYNC, F_SHUTDOWN, F_HEALTH, F_METRICS, F_WEBHOOK, F_CERT_DIR, F_CERT_FILE, F_KEY_FILE };
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, F_KUBECONFIG },
		{ "context", required_argument, NULL, F_CONTEXT },
		{ "namespace", required_argument, NULL, F_NAMESPACE },
		{ "kube-api-qps", required_argument, NULL, F_QPS },
		{ "kube-api-burst", required_argument, NULL, F_BURST },
		{ "log-level", required_argument, NULL, F_LOG_LEVEL },
		{ "log-format", required_argument, NULL, F_LOG_FORMAT },
		{ "version", no_argument, NULL, F_VERSION },
		{ "max-concurrent-reconciles", required_argument, NULL, F_WORKERS },
		{ "resync-period", required_argument, NULL, F_RESYNC },
		{ "shutdown-timeout", required_argument, NULL, F_SHUTDOWN },
		{ "health-probe-bind-address", required_argument, NULL, F_HEALTH },
		{ "metrics-bind-address", required_argument, NULL, F_METRICS },
		{ "webhook-bind-address", required_argument, NULL, F_WEBHOOK },
		{ "webhook-cert-dir", required_argument, NULL, F_CERT_DIR },
		{ "webhook-cert-file", required_argument, NULL, F_CERT_FILE },
		{ "webhook-key-file", required_argument, NULL, F_KEY_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ "h", no_argument, NULL, 'h' }, /* with getopt_long_only, -h would be an ambiguous prefix */
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	enum log_level level;
	/* main's flags, then upstream's (operator/cmd/upstream_cli.h), the webhook's (operator/cmd/webhook_cli.h), image verification's
	 * (webhook/verify/setup.h) and the metrics endpoint's (operator/cmd/metrics_cli.h) */
	enum { N_MAIN = sizeof longopts / sizeof longopts[0] - 1 };
	struct option all[N_MAIN + UPSTREAM_CLI_NOPTS + WEBHOOK_CLI_NOPTS + VERIFY_CLI_NOPTS + METRICS_CLI_NOPTS +
			  1]; /* + the terminator */
	size_t n = 0;
	memcpy(all, longopts, N_MAIN * sizeof longopts[0]);
	n += N_MAIN;
	memcpy(all + n, upstream_cli_longopts, UPSTREAM_CLI_NOPTS * sizeof upstream_cli_longopts[0]);
	n += UPSTREAM_CLI_NOPTS;
	memcpy(all + n, webhook_cli_longopts, WEBHOOK_CLI_NOPTS * sizeof webhook_cli_longopts[0]);
	n += WEBHOOK_CLI_NOPTS;
	memcpy(all + n, verify_cli_longopts, VERIFY_CLI_NOPTS * sizeof verify_cli_longopts[0]);
	n += VERIFY_CLI_NOPTS;
	memcpy(all + n, metrics_cli_longopts, sizeof metrics_cli_longopts);
	upstream_cli_defaults(&o->up);
	webhook_cli_defaults(&o->wh);
	verify_cli_defaults(&o->verify);
	metrics_cli_defaults(&o->metrics);

	o->qps = 0; /* no client-side limit, as controller-runtime (operator/kube/client.h) */
	o->burst = 30;
	o->workers = 8;
	o->resync_s = 36000;
	o->shutdown_s = 5;
	o->health_addr = ":8082";
	o->metrics_addr = ":8080";
	o->webhook_addr = WEBHOOK_DEFAULT_ADDR;
	o->webhook_cert_dir = WEBHOOK_DEFAULT_CERT_DIR;
	/* _only: upstream's Go flags are also written -flag; a single dash that names no long flag is -h */
	while ((opt = getopt_long_only(argc, argv, "h", all, NULL)) != -1) {
		switch (opt) {
		case F_KUBECONFIG: o->kubeconfig = optarg; break;
		case F_CONTEXT: o->context = optarg; break;
		case F_NAMESPACE: o->namespace = optarg; break;
		case F_QPS:
			if (parse_double(optarg, 0, 100000, &o->qps)) {
				fprintf(stderr, "spin-operator: --kube-api-qps: \"%s\" is not a number in [0, 100000]\n", optarg);
				return 2;
			}
			break;
		case F_BURST:
			if (parse_long(optarg, 1, 100000, &o->burst)) {
				fprintf(stderr, "spin-operator: --kube-api-burst: \"%s\" is not an integer in [1, 100000]\n", optarg);
				return 2;
			}
			break;
		case F_WORKERS:
			if (parse_long(optarg, 1, 256, &o->workers)) {
				fprintf(stderr, "spin-operator: --max-concurrent-reconciles: \"%s\" is not an integer in [1, 256]\n",
					optarg);
				return 2;
			}
			break;
		case F_RESYNC:
			if (parse_double(optarg, 0, 1e7, &o->resync_s)) {
				fprintf(stderr, "spin-operator: --resync-period: \"%s\" is not a number of seconds\n", optarg);
				return 2;
			}
			break;
		case F_SHUTDOWN:
			if (parse_double(optarg, 0, 3600, &o->shutdown_s)) {
				fprintf(stderr, "spin-operator: --shutdown-timeout: \"%s\" is not a number of seconds\n", optarg);
				return 2;
			}
			break;
		case F_HEALTH: o->health_addr = optarg; break;
		case F_METRICS: o->metrics_addr = optarg; break;
		case F_WEBHOOK:
			o->webhook_addr = optarg;
			o->webhook_addr_set = 1;
			break;
		case F_CERT_DIR: o->webhook_cert_dir = optarg; o->webhook_cert_paths_set = 1; break;
		case F_CERT_FILE: o->webhook_cert_file = optarg; o->webhook_cert_paths_set = 1; break;
		case F_KEY_FILE: o->webhook_key_file = optarg; o->webhook_cert_paths_set = 1; break;
		case F_LOG_LEVEL:
			if (log_parse_level(optarg, &level)) {
				fprintf(stderr, "spin-operator: --log-level: \"%s\" is not debug, info, warn or error\n", optarg);
				return 2;
			}
			log_set_level(level);
			upstream_cli_note_log(&o->up, 1, 0);
			break;
		case F_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "spin-operator: --log-format: \"%s\" is not text or json\n", optarg);
				return 2;
			}
			log_set_json(strcmp(optarg, "json") == 0);
			upstream_cli_note_log(&o->up, 0, 1);
			break;
		case F_VERSION:
			printf("spin-operator %s (revision %s)\n", SPIN_OPERATOR_VERSION, SPIN_OPERATOR_REVISION);
			return 1;
		case 'h':
			fputs(usage, stdout);
			fputs(upstream_cli_usage, stdout);
			fputs(webhook_cli_usage, stdout);
			fputs(verify_cli_usage, stdout);
			fputs(metrics_cli_usage, stdout);
			return 1;
		default: /* each module's ids from its base up: highest base first */
			if (opt >= UPSTREAM_CLI_OPT_BASE) {
				if (upstream_cli_parse(&o->up, opt, optarg))
					return 2;
				break;
			}
			if (opt >= METRICS_CLI_OPT_BASE) {
				if (metrics_cli_parse(&o->metrics, opt, optarg))
					return 2;
				break;
			}
			if (opt >= VERIFY_CLI_OPT_BASE) {
				if (verify_cli_parse(&o->verify, opt, optarg))
					return 2;
				break;
			}
			if (opt >= WEBHOOK_CLI_OPT_BASE) {
				if (webhook_cli_parse(&o->wh, opt, optarg))
					return 2;
				break;
			}
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "spin-operator: unexpected argument \"%s\"\n%s", argv[optind], usage);
		return 2;
	}
	upstream_cli_finish(&o->up);
	if (!upstream_cli_webhooks(&o->up)) /* upstream registers no webhook then: no server, no certificates */
		o->webhook_addr = "0";
	if (webhook_cli_mode(&o->wh, o->webhook_cert_paths_set) == WEBHOOK_CERTS_SELF_MANAGED &&
	    (o->webhook_cert_file || o->webhook_key_file)) {
		fprintf(stderr, "spin-operator: --webhook-cert-mode self-managed writes <cert-dir>/tls.crt and tls.key: "
				"use --webhook-cert-dir, not --webhook-cert-file or --webhook-key-file\n");
		return 2;
	}
	return 0;
}

/* /readyz: the caches are synced and, with the webhook enabled, a serving certificate is loaded; and no
 * shutdown has begun, so that the endpoint leaves the webhook Service while the webhook still answers. */
static int ready(void *ud, char *why, size_t whylen)
{
	struct daemon *d = ud;
	if (should_stop()) {
		snprintf(why, whylen, "shutting down");
		return 0;
	}
	if (!controller_ready(d->ctl)) {
		snprintf(why, whylen, "informers: caches not synced");
		return 0;
	}
	if (!controller_caches_fresh(d->ctl, why, whylen))
		return 0;
	if (d->webhook && !webhook_server_cert_loaded(d->webhook)) {
		webhook_server_cert_status(d->webhook, why, whylen);
		return 0;
	}
	return 1;
}

/* /healthz: the probe server answers, and no reconcile is stuck (controller_live). An API server outage never
 * fails it: a restart cannot cure that and would throw the caches away. */
static int live(void *ud, char *why, size_t whylen)
{
	struct daemon *d = ud;
	return controller_live(d->ctl, why, whylen);
}

static int metrics(void *ud, struct buf *out)
{
	struct daemon *d = ud;
	int rc = controller_metrics(d->ctl, out);
	if (rc == SO_OK)
		rc = kube_client_write_metrics(d->client, out);
	if (rc == SO_OK)
		rc = process_metrics_write(out);
	webhook_server_metrics(d->webhook, out);
	verify_setup_metrics(d->verify, out);
	leader_elector_metrics(d->leader, out);
	return rc;
}

/* ---- the admission webhook's view of the cluster: the executor cache ---- */

static int webhook_ready(void *ud, char *why, size_t whylen)
{
	if (controller_ready(ud))
		return 1;
	snprintf(why, whylen, "the SpinAppExecutor cache is not synced yet");
	return 0;
}

static int list_executors(void *ud, const char *ns, json_t *names, char *msg, size_t msglen)
{
	(void)msg;
	(void)msglen;
	controller_executor_names(ud, ns, names);
	return SO_OK;
}

static int get_executor(void *ud, const char *ns, const char *name, json_t **out)
{
	*out = controller_executor(ud, ns, name);
	return *out ? SO_OK : SO_E_API_NOT_FOUND;
}

/*
 * Starts the admission webhook server (nothing when the address is "0"). Failing to bind an address given with
 * --webhook-bind-address is fatal; failing to bind the default :9443 (another operator on this machine, say)
 * leaves the webhook off with an error in the log, so that a second local run does not die for a port it
 * never asked for.
 */
static int start_webhook(const struct options *o, struct controller *ctl, struct verify_setup *verify,
			 struct webhook_server **out)
{
	char cert[4096], key[4096], err[512] = "";
	unsigned short port = 0;
	const char *dir = o->webhook_cert_dir && *o->webhook_cert_dir ? o->webhook_cert_dir : ".";
	snprintf(cert, sizeof cert, "%s%s%s", o->webhook_cert_file ? "" : dir, o->webhook_cert_file ? "" : "/",
		 o->webhook_cert_file ? o->webhook_cert_file : "tls.crt");
	snprintf(key, sizeof key, "%s%s%s", o->webhook_key_file ? "" : dir, o->webhook_key_file ? "" : "/",
		 o->webhook_key_file ? o->webhook_key_file : "tls.key");
	struct webhook_server_opts wo = {
		.bind_addr = o->webhook_addr,
		.cert_file = cert,
		.key_file = key,
		.client_ca_file = o->wh.client_ca_file,
		.admission = { .list_executors = list_executors, .get_executor = get_executor, .user = ctl,
			       .flags = webhook_cli_admission_flags(&o->wh) },
		.ready = webhook_ready,
		.ready_user = ctl,
	};
	wo.admission.verify_user = verify_setup_verifier(verify, &wo.admission.verify_timeout_ms);
	if (wo.admission.verify_user) {
		wo.admission.verify_image = verifier_admission;
		wo.admission.verify_needs_io = verifier_needs_io;
		wo.admission.verify_unavailable = verifier_unavailable;
	}
	int rc = webhook_server_start(&wo, out, &port, err, sizeof err);
	if (rc == SO_E_IO && !o->webhook_addr_set) {
		log_error("main", "admission webhook: %s; running without the webhook (give --webhook-bind-address to "
				  "make this fatal, or 0 to turn the webhook off)", err);
		return SO_OK;
	}
	if (rc)
		log_error("main", "admission webhook: %s", err);
	else if (*out)
		log_info("main", "admission webhook listening on %s (port %u, HTTPS), certificate %s, key %s, %s",
			 o->webhook_addr, port, cert, key,
			 o->wh.client_ca_file ? "client certificates required" : "callers not authenticated");
	else
		log_info("main", "admission webhook disabled (--webhook-bind-address 0 or --enable-webhooks=false)");
	return rc;
}

/* Self-managed certificate mode: the thread that keeps the Secret, the files and the caBundles (operator/cmd/webhook_cli.h),
 * started before the server so that the server finds its files. */
static int start_webhook_certs(const struct options *o, const struct kube_config *cfg, struct kube_client *client,
			       struct daemon *dm)
{
	char err[512] = "";
	if (!o->webhook_addr || !strcmp(o->webhook_addr, "0") ||
	    webhook_cli_mode(&o->wh, o->webhook_cert_paths_set) != WEBHOOK_CERTS_SELF_MANAGED)
		return SO_OK;
	int rc = webhook_cli_start_certs(&o->wh, cfg, kube_client_namespace(client), o->webhook_cert_dir,
					 &dm->webhook_certs, err, sizeof err);
	if (rc)
		log_error("main", "self-managed webhook certificates: %s", err);
	return rc;
}

/* Starts one of the HTTP endpoints; a bind failure is fatal (the orchestrator's probes would fail anyway). */
static int start_endpoint(const char *what, const char *addr, struct health_handlers *h, struct health_server **out)
{
	char err[256] = "";
	unsigned short port = 0;
	int rc = health_server_start(addr, h, out, &port, err, sizeof err);
	if (rc)
		log_error("main", "%s: %s", what, err);
	else if (*out)
		log_info("main", "%s listening on %s (port %u)", what, addr, port);
	return rc;
}

/*
 * --leader-elect: the elector on a client of its own (lease requests never wait behind reconciles; its request
 * timeout is half the renew deadline), the Lease upstream names in $POD_NAMESPACE or the client's namespace,
 * and the controller's client gated on it, so that no write leaves before we lead or after we stop leading.
 */
static int start_leader(const struct kube_config *cfg, struct kube_client *client, struct kube_client **lclient,
			struct leader_elector **out)
{
	struct kube_client_opts lo;
	char id[512], err[512] = "";
	const char *ns = getenv("POD_NAMESPACE");
	int rc;

	if (!ns || !*ns)
		ns = kube_client_namespace(client);
	if ((rc = leader_identity(id, sizeof id))) {
		log_error("main", "leader election: cannot make an identity (hostname, random suffix)");
		return rc;
	}
	kube_client_opts_default(&lo);
	lo.timeout_ms = (long)(LEADER_RENEW_DEADLINE_S * 1000 / 2);
	lo.connect_timeout_ms = (long)(LEADER_RETRY_PERIOD_S * 1000);
	if ((rc = kube_client_new(cfg, &lo, lclient, err, sizeof err))) {
		log_error("main", "leader election: %s", err);
		return rc;
	}
	struct leader_elector_opts eo = { .client = *lclient, .namespace = ns, .name = UPSTREAM_LEADER_ELECTION_ID,
					  .identity = id, .on_started = on_started_leading,
					  .on_stopped = on_stopped_leading };
	if ((rc = leader_elector_start(&eo, out, err, sizeof err))) {
		log_error("main", "%s", err);
		return rc;
	}
	kube_client_set_write_gate(client, leader_elector_may_write, *out);
	return SO_OK;
}

/* Retries /version with backoff until it answers or shutdown is requested. */
static int check_server(struct kube_client *client)
{
	double delay = 0.5;
	for (;;) {
		struct kube_response resp = { 0 };
		char *version = NULL;
		int rc = kube_server_version(client, &version, &resp);
		if (rc == SO_OK)
			log_info("main", "API server version %s", version);
		else
			log_warn("main", "API server not reachable: %s: %s (retrying in %.1f s)", so_strerror(rc),
				 resp.message ? resp.message : "", delay);
		free(version);
		kube_response_free(&resp);
		if (rc == SO_OK)
			return SO_OK;
		if (wait_shutdown(delay))
			return SO_E_CANCELLED;
		if (delay < 30)
			delay *= 2;
	}
}

/* glibc gives each thread that allocates an arena of its own, up to eight per core, and freed memory stays in
 * the arena that held it; with a dozen informer, worker and server threads that is megabytes of idle heap.
 * Two arenas took 3 MiB off peak RSS at no measured CPU cost (docs/performance.md). An explicit
 * MALLOC_ARENA_MAX or glibc.malloc.arena_max tunable in the environment is left to win. */
static void cap_malloc_arenas(void)
{
#ifdef __GLIBC__
	const char *tunables = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") || (tunables && strstr(tunables, "glibc.malloc.arena_max")))
		return;
	mallopt(M_ARENA_MAX, 2);
#endif
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct kube_config cfg = { 0 };
	struct kube_client *client = NULL, *lease_client = NULL;
	struct kube_client_opts copts;
	struct controller *ctl = NULL;
	int workers = 0;
	struct health_server *health = NULL;
	struct metrics_server *metrics_srv = NULL;
	struct daemon dm = { 0 };
	char err[512] = "";
	sigset_t sigs;
	pthread_t sigthread;
	int exit_code = 1, rc;

	if (mem_install()) {
		fputs("spin-operator: cannot install the allocator (docs/internals/mem.md)\n", stderr);
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "render"))
		return render_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "verify"))
		return verifycmd_main(argc - 1, argv + 1);
	cap_malloc_arenas();
	rc = parse_flags(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;

	/* Block the shutdown signals before any thread exists so only signal_thread sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sigthread, NULL, signal_thread, &sigs)) {
		log_error("main", "cannot start the signal thread");
		return 1;
	}
	pthread_detach(sigthread);

	log_info("main", "spin-operator %s (revision %s) starting", SPIN_OPERATOR_VERSION, SPIN_OPERATOR_REVISION);

	if ((rc = kube_config_load(o.kubeconfig, o.context, &cfg, err, sizeof err))) {
		log_error("main", "%s", err);
		goto out;
	}
	log_info("main", "API server %s (from %s%s%s)", cfg.server, cfg.source ? cfg.source : "?",
		 cfg.context ? ", context " : "", cfg.context ? cfg.context : "");
	kube_client_opts_default(&copts);
	copts.qps = o.qps;
	copts.burst = (int)o.burst;
	if ((rc = kube_client_new(&cfg, &copts, &client, err, sizeof err))) {
		log_error("main", "%s", err);
		goto out;
	}
	/* The controller does no I/O until started; the endpoints can serve /healthz (and an unready /readyz)
	 * while the API server is still out of reach. */
	struct controller_opts ko = { .namespace = o.namespace, .app_workers = (int)o.workers, .resync_s = o.resync_s,
				      .ca_bundle = spin_ca_bundle, .ca_bundle_len = spin_ca_bundle_len,
				      .stop_requested = should_stop };
	if ((rc = controller_new(client, &ko, &ctl))) {
		log_error("main", "cannot set up the controllers: %s", so_strerror(rc));
		goto out;
	}
	dm.ctl = ctl;
	dm.client = client;
	if ((rc = verify_setup_start(&o.verify, client, &dm.verify, err, sizeof err))) {
		log_error("main", "image verification: %s", err);
		goto out;
	}
	if (start_webhook_certs(&o, &cfg, client, &dm) || start_webhook(&o, ctl, dm.verify, &dm.webhook))
		goto out;
	webhook_cli_certs_attach(&dm.webhook_certs, dm.webhook);
	struct health_handlers hh = { ready, &dm, live };
	if (start_endpoint("health probes", o.health_addr, &hh, &health) ||
	    metrics_cli_start(&o.metrics, o.metrics_addr, client, metrics, &dm, &metrics_srv))
		goto out;
	if (o.up.enable_http2)
		log_info("main", "--enable-http2: accepted; the metrics and webhook servers speak HTTP/1.1 only");
	if ((rc = check_server(client))) {
		exit_code = rc == SO_E_CANCELLED ? 0 : 1;
		goto out;
	}
	/* Before the caches: the election runs while they sync, as controller-runtime's does. */
	if (o.up.leader_elect && start_leader(&cfg, client, &lease_client, &dm.leader))
		goto out;
	double t0 = clock_mono_s();
	if ((rc = controller_start_caches(ctl, SYNC_TIMEOUT_S))) {
		if (should_stop()) {
			exit_code = 0;
			goto out;
		}
		log_error("main", "caches did not sync within %.0f s: %s", SYNC_TIMEOUT_S, so_strerror(rc));
		goto out;
	}
	double synced_s = clock_mono_s() - t0;
	struct controller_stats st;
	controller_get_stats(ctl, &st);
	log_info("main", "caches synced in %.3f s: %zu SpinApps, %zu SpinAppExecutors",
		 synced_s, st.apps, st.executors);

	/* Without leader election the workers start now; with it, once we lead. */
	for (int ev = dm.leader ? wait_event(0) : 'W'; ev != 'S'; ev = wait_event(workers)) {
		if (ev == 'L') { /* writes are held already; what is in flight is cancelled; no release */
			controller_stop(ctl, 0);
			goto out;
		}
		if (!workers && (rc = controller_start_workers(ctl))) {
			log_error("main", "cannot start the workers: %s", so_strerror(rc));
			goto out;
		}
		workers = 1;
	}
	/* SIGTERM: /readyz fails from now on; the webhook keeps answering from the cache, closing each connection
	 * after its answer so that clients reconnect to another endpoint, while the workers stop. */
	double signalled = clock_now_s(CLOCK_MONOTONIC);
	webhook_server_drain(dm.webhook);
	controller_stop(ctl, o.shutdown_s);
	leader_elector_stop(dm.leader, 1); /* after the workers, as controller-runtime: then the lease is released */
	double left = signalled + WEBHOOK_DRAIN_S - clock_now_s(CLOCK_MONOTONIC);
	if (dm.webhook && left > 0) {
		struct timespec until = clock_in(CLOCK_MONOTONIC, left);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
			;
	}
	exit_code = 0;
out:
	leader_elector_stop(dm.leader, exit_code == 0); /* a clean exit releases the lease (done already after workers) */
	health_server_stop(health);
	metrics_server_stop(metrics_srv);
	selfmanaged_free(dm.webhook_certs); /* before the server it reloads */
	webhook_server_stop(dm.webhook, WEBHOOK_GRACE_S); /* after the endpoints that read it */
	verify_setup_stop(dm.verify);                    /* after the webhook that calls it */
	controller_free(ctl);
	leader_elector_free(dm.leader); /* after everything that writes through the gate it answers */
	kube_client_free(lease_client);
	kube_client_free(client);
	kube_config_free(&cfg);
	log_info("main", "stopped (exit %d)", exit_code);
	return exit_code;
}

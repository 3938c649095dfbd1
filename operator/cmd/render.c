/*
 * spin-operator render (operator/cmd/render.h, docs/render.md).
 *
 * Two passes. The first reads every document of every input and keeps the kinds that matter, each with its
 * namespace filled in (metadata.namespace, else --namespace, else "default"): SpinApps in input order, and
 * SpinAppExecutors, Secrets (stringData folded into data, as the apiserver stores it) and ConfigMaps by
 * "namespace/name". A kind: List is opened one level. The second pass gives every SpinApp what reconcile_app
 * (operator/controller/reconcile_app.c) gives it, with the input standing in for the cluster: pick the executor (spec.executor,
 * or the namespace's only executor when it is empty, as defaulting does), apply the CRD's probe defaults, then
 * print plan_app's objects (operator/spin/plan.h), the reconciler's own pipeline. The CA Secret is rendered once per
 * namespace and name, and not at all when the input holds that Secret (the daemon never replaces an existing
 * one).
 *
 * Any error is reported (one line each, every app checked) and then nothing is printed, so a pipe into
 * kubectl apply never applies half a result.
 */
#include "operator/cmd/render.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "operator/spin/spin.h"
#include "operator/spin/plan.h"
#include "operator/kube/names.h"
#include "operator/base/base64.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"
#include "operator/base/yamljson.h"

extern const char spin_ca_bundle[];
extern const size_t spin_ca_bundle_len;

#define ERRLEN 1024
#define OUT_CAP (512u << 20)  /* the rendered YAML of one run */

static const char usage[] =
	"Usage: spin-operator render -f FILE [-f FILE ...] [--namespace NS] [-o yaml|json]\n"
	"\n"
	"Prints the objects spin-operator would apply for the SpinApps in the given manifests, without a\n"
	"cluster. For every SpinApp, in input order: its runtime-config Secret, the default CA Secret (executor\n"
	"installDefaultCACerts), the Deployment (executor createDeployment: true), the Service and the\n"
	"HorizontalPodAutoscaler (spec.autoscaler). The input must also hold each app's SpinAppExecutor and\n"
	"the Secrets and ConfigMaps its runtimeConfig refers to; other kinds are ignored.\n"
	"\n"
	"Flags:\n"
	"  -f, --filename FILE     a YAML or JSON manifest, several documents allowed; - reads stdin;\n"
	"                          repeat for more files\n"
	"  -n, --namespace NS      namespace of the objects that name none (default \"default\")\n"
	"  -o, --output FORMAT     yaml (documents separated by ---; the default) or json (one v1 List)\n"
	"  -h, --help              print this help and exit\n"
	"\n"
	"Exit status: 0 rendered; 1 errors (one line each on stderr, nothing on stdout); 2 usage.\n";

enum kind { K_APP, K_EXECUTOR, K_SECRET, K_CONFIGMAP, K_OTHER };

struct render {
	const char *default_ns;
	FILE *errout;
	int failed;
	json_t *apps;       /* SpinApps in input order */
	json_t *tables[4];  /* by kind (K_APP only for duplicates): namespace → name → object */
	json_t *cas;        /* namespace → name → true: the CA Secrets rendered so far */
	json_t *items;      /* the output */
};

static const char *const kind_names[] = { "SpinApp", "SpinAppExecutor", "Secret", "ConfigMap" };

static void report(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct render *r, const char *fmt, ...)
{
	va_list ap;
	fputs("render: ", r->errout);
	va_start(ap, fmt);
	vfprintf(r->errout, fmt, ap);
	va_end(ap);
	fputc('\n', r->errout);
	r->failed = 1;
}

static const char *str(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *meta_str(const json_t *obj, const char *key)
{
	return str(json_object_get(obj, "metadata"), key);
}

static json_t *lookup(const json_t *table, const char *ns, const char *name)
{
	return json_object_get(json_object_get(table, ns), name);
}

static void insert(json_t *table, const char *ns, const char *name, json_t *v)
{
	if (!json_object_get(table, ns))
		json_object_set_new(table, ns, json_object());
	json_object_set(json_object_get(table, ns), name, v);
}

static enum kind kind_of(const json_t *doc)
{
	const char *kind = str(doc, "kind"), *api = str(doc, "apiVersion");

	if (!kind || !api)
		return K_OTHER;
	if (!strncmp(api, SPIN_GROUP "/", sizeof SPIN_GROUP)) {
		if (!strcmp(kind, "SpinApp"))
			return K_APP;
		if (!strcmp(kind, "SpinAppExecutor"))
			return K_EXECUTOR;
	} else if (!strcmp(api, "v1")) {
		if (!strcmp(kind, "Secret"))
			return K_SECRET;
		if (!strcmp(kind, "ConfigMap"))
			return K_CONFIGMAP;
	}
	return K_OTHER;
}

/* stringData entries become base64 data entries (overriding same-named ones), as the apiserver stores them. */
static int fold_string_data(struct render *r, json_t *secret)
{
	json_t *sd = json_object_get(secret, "stringData"), *data = json_object_get(secret, "data"), *v;
	const char *k, *ns = meta_str(secret, "namespace"), *name = meta_str(secret, "name");

	if (!sd || json_is_null(sd)) {
		json_object_del(secret, "stringData");
		return SO_OK;
	}
	if (!json_is_object(sd) || (data && !json_is_null(data) && !json_is_object(data))) {
		report(r, "Secret %s/%s: %s must be a map of strings", ns, name, json_is_object(sd) ? "data" : "stringData");
		return SO_E_INVAL;
	}
	if (!json_is_object(data)) {
		data = json_object();
		json_object_set_new(secret, "data", data);
	}
	json_object_foreach(sd, k, v) {
		if (!json_is_string(v)) {
			report(r, "Secret %s/%s: stringData[\"%s\"] must be a string", ns, name, k);
			return SO_E_INVAL;
		}
		json_object_set_new(data, k, base64_json_string(json_string_value(v), json_string_length(v)));
	}
	json_object_del(secret, "stringData");
	return SO_OK;
}

/* Keeps one document if it is a kind we use; a List's items are taken one level deep. */
static void collect(struct render *r, const json_t *doc, const char *src, size_t index, int in_list)
{
	const char *kind = str(doc, "kind"), *name, *ns;
	const json_t *items = json_object_get(doc, "items"), *meta, *nsv, *item;
	enum kind k = kind_of(doc);
	json_t *copy;
	size_t i;

	if (!in_list && kind && strlen(kind) >= 4 && !strcmp(kind + strlen(kind) - 4, "List") && json_is_array(items)) {
		json_array_foreach(items, i, item)
			collect(r, item, src, index, 1);
		return;
	}
	if (k == K_OTHER)
		return;
	meta = json_object_get(doc, "metadata");
	name = str(meta, "name");
	nsv = json_object_get(meta, "namespace");
	if (!name || !*name || (nsv && !json_is_null(nsv) && !json_is_string(nsv))) {
		report(r, "%s: document %zu: %s %s", src, index, kind_names[k],
		       !name || !*name ? "has no metadata.name" : "has a metadata.namespace that is not a string");
		return;
	}
	ns = json_is_string(nsv) && *json_string_value(nsv) ? json_string_value(nsv) : r->default_ns;
	if (lookup(r->tables[k], ns, name)) {
		report(r, "%s: %s %s/%s appears more than once in the input", src, kind_names[k], ns, name);
		return;
	}
	copy = json_deep_copy(doc);
	json_object_set_new(json_object_get(copy, "metadata"), "namespace", json_string(ns));
	if (k != K_SECRET || !fold_string_data(r, copy)) {
		insert(r->tables[k], ns, name, copy);
		if (k == K_APP)
			json_array_append(r->apps, copy);
	}
	json_decref(copy);
}

/* The executor of app: spec.executor, or the only one in the namespace when that is empty (as defaulting
 * does, and then written into the app). NULL after a report. */
static json_t *find_executor(struct render *r, json_t *app, const char *ns, const char *name)
{
	json_t *spec = json_object_get(app, "spec"), *v = json_object_get(spec, "executor"), *e;
	json_t *in_ns = json_object_get(r->tables[K_EXECUTOR], ns);
	size_t count = json_object_size(in_ns);

	if (v && !json_is_null(v) && !json_is_string(v)) {
		report(r, "SpinApp %s/%s: spec.executor must be a string", ns, name);
		return NULL;
	}
	if (json_is_string(v) && *json_string_value(v)) {
		e = lookup(r->tables[K_EXECUTOR], ns, json_string_value(v));
		if (!e)
			report(r, "SpinApp %s/%s: SpinAppExecutor %s/%s not found in the input", ns, name, ns,
			       json_string_value(v));
		return e;
	}
	if (count != 1) {
		if (count == 0)
			report(r, "SpinApp %s/%s: spec.executor is empty and the input holds no SpinAppExecutor in namespace %s",
			       ns, name, ns);
		else
			report(r, "SpinApp %s/%s: spec.executor is empty and the input holds %zu SpinAppExecutors in "
			       "namespace %s; set spec.executor", ns, name, count, ns);
		return NULL;
	}
	e = json_object_iter_value(json_object_iter(in_ns));
	json_object_set_new(spec, "executor", json_string(meta_str(e, "name")));
	return e;
}

/* The CRD's structural defaults that reach the objects: the probe timings (the `checks` defaults of
 * crds/core.spinkube.dev_spinapps.yaml). */
static void probe_defaults(json_t *spec)
{
	static const struct {
		const char *key;
		int value;
	} defaults[] = {
		{ "initialDelaySeconds", 10 }, { "timeoutSeconds", 1 }, { "periodSeconds", 10 },
		{ "successThreshold", 1 },     { "failureThreshold", 3 },
	};
	static const char *const probes[] = { "readiness", "liveness" };
	json_t *checks = json_object_get(spec, "checks");

	for (size_t p = 0; p < 2 && json_is_object(checks); p++) {
		json_t *probe = json_object_get(checks, probes[p]);
		if (!json_is_object(probe))
			continue;
		for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
			json_t *v = json_object_get(probe, defaults[i].key);
			if (!v || json_is_null(v))
				json_object_set_new(probe, defaults[i].key, json_integer(defaults[i].value));
		}
	}
}

/* plan_refs' getter: the referenced Secrets and ConfigMaps the input holds. */
static int get_ref(void *ud, const char *ns, int configmap, const char *name, json_t **out)
{
	const struct render *r = ud;
	*out = json_incref(lookup(r->tables[configmap ? K_CONFIGMAP : K_SECRET], ns, name));
	return SO_OK;
}

/* reconcile_app without the cluster: the planned objects of one app, appended to r->items when all could be
 * built. */
static void render_app(struct render *r, json_t *app)
{
	const char *ns = meta_str(app, "namespace"), *name = meta_str(app, "name"), *ca;
	json_t *spec = json_object_get(app, "spec"), *executor, *refs = NULL;
	struct plan p = { 0 };
	char err[ERRLEN] = "";
	int rc;

	if (!json_is_object(spec)) {
		report(r, "SpinApp %s/%s: spec is missing", ns, name);
		return;
	}
	if (!(executor = find_executor(r, app, ns, name)))
		return;
	probe_defaults(spec);
	if ((rc = plan_refs(app, executor, get_ref, r, &refs))) {
		report(r, "SpinApp %s/%s: %s", ns, name, so_strerror(rc));
		goto out;
	}
	ca = plan_ca_secret_name(executor);
	struct plan_input in = { app, executor, refs, spin_ca_bundle, spin_ca_bundle_len,
				 ca && (lookup(r->cas, ns, ca) || lookup(r->tables[K_SECRET], ns, ca)) };
	if ((rc = plan_app(&in, &p, err, sizeof err))) {
		report(r, "SpinApp %s/%s: %s%s", ns, name, err, rc == SO_E_CONFIG ? " in the input" : "");
		goto out;
	}
	for (int role = 0; role < PLAN_NROLES; role++) {
		if (p.objs[role])
			json_array_append(r->items, p.objs[role]);
	}
	if (p.objs[PLAN_CA_SECRET])
		insert(r->cas, ns, ca, json_true());
out:
	plan_free(&p);
	json_decref(refs);
}

static int read_stream(FILE *f, struct buf *b)
{
	char chunk[65536];
	size_t n;
	int rc;

	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if ((rc = buf_append(b, chunk, n)))
			return rc;
	}
	return ferror(f) ? SO_E_IO : SO_OK;
}

static void write_output(struct render *r, int json, FILE *out)
{
	struct buf yaml = BUF_INIT(OUT_CAP);
	json_t *item;
	size_t i;
	int rc = SO_OK;

	if (json) {
		json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", r->items);
		if (json_dumpf(list, out, JSON_INDENT(2)) || fputc('\n', out) == EOF) /* the pack cannot fail */
			rc = SO_E_IO;
		json_decref(list);
	} else {
		json_array_foreach(r->items, i, item) {
			if ((i > 0 && (rc = buf_appends(&yaml, "---\n"))) || (rc = yamljson_from_json(item, &yaml)))
				break;
		}
		if (rc == SO_OK && yaml.len && fwrite(yaml.data, 1, yaml.len, out) != yaml.len)
			rc = SO_E_IO;
	}
	if (rc == SO_OK && fflush(out))
		rc = SO_E_IO;
	if (rc)
		report(r, "writing the output: %s", rc == SO_E_IO ? strerror(errno) : so_strerror(rc));
	buf_free(&yaml);
}

int render_run(FILE *const *inputs, const char *const *names, size_t n, const char *ns, int json, FILE *out,
	       FILE *errout)
{
	struct render r = { .default_ns = ns && *ns ? ns : "default", .errout = errout };
	struct buf text = BUF_INIT(YAML_MAX_INPUT);
	char err[ERRLEN];
	json_t *app;
	size_t i;

	r.apps = json_array();
	r.cas = json_object();
	r.items = json_array();
	for (int k = 0; k < 4; k++)
		r.tables[k] = json_object();
	for (i = 0; i < n; i++) {
		const char *src = names && names[i] ? names[i] : "-";
		json_t *docs = NULL, *doc;
		size_t d;
		int rc;

		buf_reset(&text);
		if ((rc = read_stream(inputs[i], &text))) {
			if (rc == SO_E_TOO_LARGE)
				report(&r, "%s: larger than %u MiB", src, YAML_MAX_INPUT >> 20);
			else
				report(&r, "%s: %s", src, rc == SO_E_IO ? strerror(errno) : so_strerror(rc));
			continue;
		}
		if (yamljson_to_json(text.data, text.len, src, &docs, err, sizeof err)) {
			report(&r, "%s", err);
			continue;
		}
		json_array_foreach(docs, d, doc)
			collect(&r, doc, src, d + 1, 0);
		json_decref(docs);
	}
	if (r.failed)
		goto out;
	json_array_foreach(r.apps, i, app)
		render_app(&r, app);
	if (!r.failed && json_array_size(r.apps) == 0)
		fputs("render: warning: the input holds no SpinApp; nothing to render\n", errout);
	if (!r.failed)
		write_output(&r, json, out);
out:
	buf_free(&text);
	json_decref(r.apps);
	json_decref(r.cas);
	json_decref(r.items);
	for (int k = 0; k < 4; k++)
		json_decref(r.tables[k]);
	return r.failed ? 1 : 0;
}

int render_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char **names = mem_calloc((size_t)(argc > 0 ? argc : 1), sizeof *names);
	FILE **files = NULL;
	const char *ns = NULL;
	size_t n = 0, opened = 0;
	int json = 0, opt, status = 2;

	optind = 0; /* glibc: start a fresh scan, whatever ran before */
	while ((opt = getopt_long(argc, argv, "f:n:o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': names[n++] = optarg; break;
		case 'n':
			if (!kube_dns1123_label(optarg, strlen(optarg))) {
				fprintf(stderr, "render: --namespace: \"%s\" is not a valid namespace name\n", optarg);
				goto out;
			}
			ns = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "yaml") && strcmp(optarg, "json")) {
				fprintf(stderr, "render: --output: \"%s\" is not yaml or json\n", optarg);
				goto out;
			}
			json = !strcmp(optarg, "json");
			break;
		case 'h':
			fputs(usage, stdout);
			status = 0;
			goto out;
		default: fputs("Run 'spin-operator render --help' for usage.\n", stderr); goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "render: unexpected argument \"%s\" (input files go after -f)\n", argv[optind]);
		goto out;
	}
	if (n == 0) {
		fputs("render: no input: give -f FILE (-f - reads stdin)\n"
		      "Run 'spin-operator render --help' for usage.\n", stderr);
		goto out;
	}
	status = 1;
	files = mem_calloc(n, sizeof *files);
	for (opened = 0; opened < n; opened++) {
		files[opened] = strcmp(names[opened], "-") ? fopen(names[opened], "rb") : stdin;
		if (!files[opened]) {
			fprintf(stderr, "render: %s: %s\n", names[opened], strerror(errno));
			goto out;
		}
	}
	status = render_run(files, names, n, ns, json, stdout, stderr);
out:
	for (size_t i = 0; i < opened; i++) {
		if (files[i] && files[i] != stdin)
			fclose(files[i]);
	}
	free(files);
	free(names);
	return status;
}

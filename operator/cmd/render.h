/*
 * spin-operator render: the objects the reconciler would apply for SpinApp manifests, computed offline.
 *
 *   spin-operator render -f FILE [-f FILE ...] [--namespace NS] [-o yaml|json]
 *
 * The manifests' SpinApps, SpinAppExecutors, Secrets and ConfigMaps are read (YAML or JSON, several documents
 * per file, "-" for stdin); for every SpinApp, in input order, the daemon's own pipeline (plan_app, operator/spin/plan.h)
 * gives its runtime-config Secret, default CA Secret, Deployment, Service and HorizontalPodAutoscaler. Nothing
 * is read from a cluster. docs/render.md describes the details.
 */
#ifndef SO_RENDER_H
#define SO_RENDER_H

#include <stddef.h>
#include <stdio.h>

/* The subcommand: argv[0] is "render". Returns the exit code: 0 ok, 1 errors (one line each on stderr),
 * 2 usage. */
int render_main(int argc, char **argv);

/*
 * The work behind render_main: reads the n streams inputs (names[i] labels messages), renders with ns as the
 * namespace of objects that give none (NULL: "default"), and writes YAML documents or, with json != 0, one
 * JSON List to out. Errors go to errout, one line each, and then nothing is written to out. Returns 0 or 1.
 */
int render_run(FILE *const *inputs, const char *const *names, size_t n, const char *ns, int json, FILE *out,
	       FILE *errout);

#endif

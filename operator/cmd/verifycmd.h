/*
 * spin-operator verify: the admission webhook's image verification, run from the command line (as render is
 * for the reconciler), so that a policy can be tried before it is enforced and a CI pipeline can gate on it.
 *
 *   spin-operator verify --policy FILE [--namespace NS] [--registry-config FILE] [--registry-* ...]
 *                        [--verify-timeout D] [-o text|json] IMAGE...
 *
 * Same code as the webhook: the policy is loaded by webhook/verify/policy.c, each image goes through
 * verifier_explain (webhook/verify/verifier.h) on the real registry client (webhook/verify/registry.h) with the
 * --registry-* flags of webhook/verify/setup.h; credentials come from a docker config file
 * (creds_add_dockerconfig) instead of pull Secrets. For each image it prints the rule that applied, the digest,
 * and which key verified it or why not. docs/verify-images.md.
 */
#ifndef SO_VERIFY_VERIFYCMD_H
#define SO_VERIFY_VERIFYCMD_H

#include <stdio.h>

/* Exit status: every image verified or under no rule. */
#define VERIFYCMD_OK 0
/* At least one image under a rule is not verified (no signature, untrusted, wrong digest, registry failure;
 * in warn mode too: the webhook would admit it with a warning, enforcing would refuse it). */
#define VERIFYCMD_FAILED 1
/* Usage, or a policy, CA or registry config file that cannot be used: nothing was verified. */
#define VERIFYCMD_USAGE 2

/* The subcommand: argv[0] is "verify". Results go to out, errors to errout. Returns the exit status. */
int verifycmd_run(int argc, char **argv, FILE *out, FILE *errout);
int verifycmd_main(int argc, char **argv); /* verifycmd_run on stdout and stderr */

#endif

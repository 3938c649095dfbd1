/*
 * The policy file, reloaded when it changes (as operator/base/certwatch.h does for the webhook certificate): a thread polls
 * the file every interval, comparing device, inode, size and modification time (a ConfigMap volume swaps a
 * symlink, which stat follows). A change that parses replaces the served policy atomically; one that does not
 * is logged once (until the file changes again) and the previous policy stays in force. The first load must
 * succeed: policywatch_new fails on a bad file.
 */
#ifndef SO_VERIFY_POLICYWATCH_H
#define SO_VERIFY_POLICYWATCH_H

#include <stddef.h>

#include "webhook/verify/policy.h"

struct policywatch;

struct policywatch_stats {
	unsigned long reloads;      /* new policies taken into use after the first */
	unsigned long errors;       /* changed files refused */
};

/* Loads path; SO_E_INVAL/SO_E_IO/... with one line in err when it cannot. interval_s 0 = 5 s. */
int policywatch_new(const char *path, double interval_s, struct policywatch **out, char *err, size_t errlen);
int policywatch_start(struct policywatch *w);
/* One check now, on the caller's thread: 1 when a new policy is in use, 0 when nothing changed, a negative
 * so_err when the file changed but was refused (logged; the old policy stays). */
int policywatch_check(struct policywatch *w);
/* The policy in use, with a reference the caller drops with policy_unref. Never NULL. */
struct policy *policywatch_get(struct policywatch *w);
void policywatch_get_stats(struct policywatch *w, struct policywatch_stats *out);
/* Stops the thread (if started) and frees everything; policies still referenced live on until unref'd. */
void policywatch_free(struct policywatch *w);

#endif

/* Kubernetes names and label keys (k8s.io/apimachinery pkg/util/validation), the one implementation: the
 * webhook's rules, the kubeconfig and in-cluster namespace, and render's --namespace all use it. Pure. */
#ifndef SO_KUBE_NAMES_H
#define SO_KUBE_NAMES_H

#include <stddef.h>

/* IsDNS1123Label over s[0..n): [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters (namespace names). */
int kube_dns1123_label(const char *s, size_t n);

/* IsDNS1123Subdomain: dot-separated DNS-1123 labels, at most 253 characters. 0 for NULL. */
int kube_dns1123_subdomain(const char *s);

/* The name part of a qualified name, which is also what a non-empty label value must be over s[0..n):
 * [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters. */
int kube_label_name_part(const char *s, size_t n);

/* IsQualifiedName: [DNS-1123 subdomain prefix '/'] name part (label and annotation keys). */
int kube_qualified_name(const char *s);

#endif

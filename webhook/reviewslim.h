/*
 * Trims an AdmissionReview body before it is decoded. Of the 2.6 KB the API server sends for a SpinApp
 * created with `kubectl apply`, 1.2 KB are two members no check reads: metadata.managedFields and the
 * annotation kubectl.kubernetes.io/last-applied-configuration, in request.object and request.oldObject.
 * Decoding them was close to half of the webhook's JSON work, and JSON was half of its CPU.
 *
 * reviewslim_review copies body without those members (a managedFields whose value is an array, the annotation
 * when its value is a string), byte for byte otherwise. A body that does not look like JSON to its framing
 * scanner, one whose members have other types than those, and one with nothing to drop are left alone
 * (return 0): the full decoder then sees the body as sent and reports its errors. What is dropped is only
 * framed (balanced brackets, terminated strings), not validated: an API server only sends valid JSON, and
 * nothing reads those members. Keys written with escapes are not recognised and stay.
 */
#ifndef SO_WEBHOOK_REVIEWSLIM_H
#define SO_WEBHOOK_REVIEWSLIM_H

#include <stddef.h>

/* 1 with *out (allocated, caller frees; not NUL-terminated) and *out_len when members were dropped; 0 when
 * the body is to be used as is (nothing allocated). */
int reviewslim_review(const char *body, size_t len, char **out, size_t *out_len);

#endif

/* Kubernetes resource.Quantity, the one implementation (quantity.c): the webhook's rules and the builders'
 * SPIN_MAX_INSTANCE_MEMORY both use it. */
#ifndef SO_KUBE_QUANTITY_H
#define SO_KUBE_QUANTITY_H

#include <stdint.h>

struct buf;

/* Go's resource.Quantity as far as we need it: ParseQuantity's verdict, String() and Cmp(). */
struct quantity {
	int negative;
	int format;        /* 0 DecimalSI, 1 DecimalExponent, 2 BinarySI */
	int huge;          /* |value| * 10^9 does not fit 128 bits: compares as +-infinity, prints as given */
	int keep_text;     /* Go keeps the input as the canonical string */
	__extension__ unsigned __int128 nano; /* |value| * 10^9, rounded up as ParseQuantity rounds */
	char *text;        /* a copy of the input */
};
/* SO_OK, or SO_E_INVAL with *why set to Go's error text (ErrFormatWrong, ErrSuffix, ErrNumeric).
 * quantity_free releases q after SO_OK. */
int quantity_parse(const char *s, struct quantity *q, const char **why);
void quantity_free(struct quantity *q);
int quantity_string(const struct quantity *q, struct buf *out);
int quantity_cmp(const struct quantity *a, const struct quantity *b);

/* A quantity ("128Mi", "40M", "1.5Gi", "100m", "1e3") as whole units rounded up, as Quantity.ToDec().Value()
 * does: "40M" → 40000000, "128Mi" → 134217728, "100m" → 1. SO_E_INVAL when it does not parse, SO_E_TOO_LARGE
 * when it does not fit in int64. */
int quantity_value(const char *q, int64_t *out);

#endif

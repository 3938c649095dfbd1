/*
 * Kubernetes resource.Quantity (k8s.io/apimachinery pkg/api/resource), the one implementation: ParseQuantity's
 * verdict and exact value, String(), Cmp(), and ToDec().Value() for SPIN_MAX_INSTANCE_MEMORY.
 *
 * What Go does, and therefore what this file does:
 *
 *   - Grammar (parseQuantityString): [+-]? digits [ '.' digits ]? suffix, where both digit runs may be empty,
 *     and suffix is letters from "eEinumkKMGTP" optionally followed by [+-]? digits. The suffix must then be
 *     one of "" n u m k M G T P E (powers of ten), Ki Mi Gi Ti Pi Ei (powers of two), or e/E followed by a
 *     base-10 int64 (a power of ten; Go then truncates it to int32, and so do we). Anything else is invalid.
 *   - A literal without digits ("", "+", ".", "Mi", "e3") is zero, except that "" is invalid and so is a
 *     digit-less literal that Go routes through inf.Dec (its slow path), which refuses it: a decimal exponent
 *     below -9, or Pi/Ei. "Mi" is therefore 0 and "Ei" invalid, exactly as in Go.
 *   - The value is exact decimal arithmetic. Its magnitude is rounded up to a multiple of 10^-9 (ParseQuantity
 *     rounds to nano scale away from zero), and a binary-suffixed magnitude above 2^63-1 is capped at 2^63-1
 *     (so "8Ei" and "9Ei" are 9223372036854775807).
 *   - Value() then truncates toward zero and adds one when a fraction remains. For positive numbers that is
 *     the ceiling ("100m" → 1, "0.1Ki" → 103); for negative ones it is Go's quirk: "-1.5" → 0, "-100m" → 1.
 *
 * Where Go's own int64 arithmetic overflows its answer is meaningless: "10E" wraps to a negative number, and a
 * negative value whose nano-scaled magnitude passes 2^63 ("-9223372036854775807" gives 1) is garbage.
 * quantity_value returns the exact result above when it fits in an int64, SO_E_TOO_LARGE otherwise.
 * No floating point anywhere: the magnitude is carried in nano units in a small big number, then 128 bits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube/quantity.h"
#include "operator/base/buf.h"
#include "operator/base/err.h"
#include "operator/base/mem.h"

__extension__ typedef unsigned __int128 u128;

#define NANO 1000000000u
/* Magnitudes in nano units above 2^63 * 10^9 cannot give an int64 value. */
#define LIMIT (((u128)1 << 63) * NANO)

#define ERR_FORMAT "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define ERR_SUFFIX "unable to parse quantity's suffix"
#define ERR_NUMERIC "unable to parse numeric value"

struct qstring {
	int positive;
	const char *value;
	size_t value_len;
	const char *num;
	size_t num_len;
	const char *denom;
	size_t denom_len;
	const char *suffix;
	size_t suffix_len;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* parseQuantityString, step for step (its labels in comments). 0, or -1 for ErrFormatWrong. */
static int parse_qstring(const char *str, struct qstring *p)
{
	size_t pos = 0, end = strlen(str), i, suffix_start;

	memset(p, 0, sizeof *p);
	p->positive = 1;
	if (pos < end && (str[0] == '-' || str[0] == '+')) {
		p->positive = str[0] != '-';
		pos++;
	}
	/* Zeroes */
	for (i = pos;; i++) {
		if (i >= end) {
			p->num = "0";
			p->num_len = 1;
			p->value = "0";
			p->value_len = 1;
			return 0;
		}
		if (str[i] != '0')
			break;
		pos++;
	}
	/* Num */
	for (i = pos;; i++) {
		if (i >= end) {
			p->num = str + pos;
			p->num_len = end - pos;
			p->value = str;
			p->value_len = end;
			return 0;
		}
		if (!is_digit(str[i])) {
			p->num = str + pos;
			p->num_len = i - pos;
			pos = i;
			break;
		}
	}
	if (p->num_len == 0) {
		p->num = "0";
		p->num_len = 1;
	}
	if (pos < end && str[pos] == '.') {
		pos++;
		/* Denom */
		for (i = pos;; i++) {
			if (i >= end) {
				p->denom = str + pos;
				p->denom_len = end - pos;
				p->value = str;
				p->value_len = end;
				return 0;
			}
			if (!is_digit(str[i])) {
				p->denom = str + pos;
				p->denom_len = i - pos;
				pos = i;
				break;
			}
		}
	}
	p->value = str;
	p->value_len = pos;
	suffix_start = pos;
	for (i = pos;; i++) {
		if (i >= end) {
			p->suffix = str + suffix_start;
			p->suffix_len = end - suffix_start;
			return 0;
		}
		if (!strchr("eEinumkKMGTP", str[i])) {
			pos = i;
			break;
		}
	}
	if (pos < end && (str[pos] == '-' || str[pos] == '+'))
		pos++;
	/* Suffix */
	for (i = pos;; i++) {
		if (i >= end) {
			p->suffix = str + suffix_start;
			p->suffix_len = end - suffix_start;
			return 0;
		}
		if (!is_digit(str[i]))
			return -1;
	}
}

/* Whether s[0..n) holds a digit. */
static int has_digit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_digit(s[i]))
			return 1;
	return 0;
}

/* strconv.ParseInt(s, 10, 64). */
static int parse_int64(const char *s, size_t n, long long *out)
{
	unsigned long long v = 0, lim;
	size_t i = 0;
	int neg = 0;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return -1;
	lim = neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? (v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(long long)v) : (long long)v;
	return 0;
}

/* quantitySuffixer.interpret: base 10 or 2, the exponent, and the format (0 DecimalSI, 1 Exponent, 2 BinarySI). */
static int interpret_suffix(const char *s, size_t n, int *base, int *exp, int *format)
{
	static const struct {
		const char *name;
		int base, exp, format;
	} table[] = {
		{ "", 10, 0, 0 },    { "n", 10, -9, 0 },  { "u", 10, -6, 0 },  { "m", 10, -3, 0 },
		{ "k", 10, 3, 0 },   { "M", 10, 6, 0 },   { "G", 10, 9, 0 },   { "T", 10, 12, 0 },
		{ "P", 10, 15, 0 },  { "E", 10, 18, 0 },  { "Ki", 2, 10, 2 },  { "Mi", 2, 20, 2 },
		{ "Gi", 2, 30, 2 },  { "Ti", 2, 40, 2 },  { "Pi", 2, 50, 2 },  { "Ei", 2, 60, 2 },
	};
	long long e;

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strlen(table[i].name) == n && memcmp(table[i].name, s, n) == 0) {
			*base = table[i].base;
			*exp = table[i].exp;
			*format = table[i].format;
			return 0;
		}
	}
	if (n > 1 && (s[0] == 'e' || s[0] == 'E') && parse_int64(s + 1, n - 1, &e) == 0) {
		uint32_t u = (uint32_t)(unsigned long long)e; /* Go's int32(parsed) */
		*base = 10;
		*exp = u <= INT32_MAX ? (int)u : (int)((long long)u - 4294967296LL);
		*format = 1;
		return 0;
	}
	return -1;
}

/* A small unsigned big number in base 10^9, enough for 60 significant digits times 2^60 times 10^9. */
#define LIMBS 16
struct big {
	uint32_t d[LIMBS]; /* least significant first */
	size_t n;
	int overflow;
};

static void big_mul(struct big *b, uint32_t m)
{
	uint64_t carry = 0;

	for (size_t i = 0; i < b->n; i++) {
		uint64_t t = (uint64_t)b->d[i] * m + carry;
		b->d[i] = (uint32_t)(t % NANO);
		carry = t / NANO;
	}
	if (carry) {
		if (b->n == LIMBS)
			b->overflow = 1;
		else
			b->d[b->n++] = (uint32_t)carry;
	}
}

static void big_add(struct big *b, uint32_t a)
{
	uint64_t carry = a;

	for (size_t i = 0; carry && i < b->n; i++) {
		uint64_t t = (uint64_t)b->d[i] + carry;
		b->d[i] = (uint32_t)(t % NANO);
		carry = t / NANO;
	}
	if (carry) {
		if (b->n == LIMBS)
			b->overflow = 1;
		else
			b->d[b->n++] = (uint32_t)carry;
	}
}

/* b /= d, returning whether a remainder was left. */
static int big_div(struct big *b, uint32_t d)
{
	uint64_t rem = 0;

	for (size_t i = b->n; i > 0; i--) {
		uint64_t cur = rem * NANO + b->d[i - 1];
		b->d[i - 1] = (uint32_t)(cur / d);
		rem = cur % d;
	}
	while (b->n > 0 && b->d[b->n - 1] == 0)
		b->n--;
	return rem != 0;
}

static int big_to_u128(const struct big *b, u128 *out)
{
	u128 v = 0;

	if (b->overflow || b->n > 5)
		return 0;
	for (size_t i = b->n; i > 0; i--) {
		if (v > (~(u128)0 - b->d[i - 1]) / NANO)
			return 0;
		v = v * NANO + b->d[i - 1];
	}
	*out = v;
	return 1;
}

static const uint32_t pow10_small[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
					  1000000000 };

/* |value| * 10^9 rounded up, where value = digits * 10^e10 * 2^e2 (digits: significant, no leading zeros). */
static void nano_of(const char *digits, size_t n, long long e10, int e2, u128 *nano, int *huge)
{
	struct big b = { { 0 }, 0, 0 };
	int sticky = 0, rem = 0;
	long long k;

	*nano = 0;
	*huge = 0;
	if (n == 0)
		return;
	if (n > 60) { /* beyond what matters at nano precision for any value that fits 128 bits */
		for (size_t i = 60; i < n; i++)
			sticky |= digits[i] != '0';
		e10 += (long long)(n - 60);
		n = 60;
	}
	for (size_t i = 0; i < n; i++) {
		big_mul(&b, 10);
		big_add(&b, (uint32_t)(digits[i] - '0'));
	}
	for (int i = 0; i < e2; i += 10)
		big_mul(&b, 1024);
	k = e10 + 9;
	while (k > 0 && !b.overflow && b.n > 0) {
		int step = k > 9 ? 9 : (int)k;
		big_mul(&b, pow10_small[step]);
		k -= step;
		if (b.n > 5)
			b.overflow = 1;
	}
	while (k < 0 && b.n > 0) {
		int step = -k > 9 ? 9 : (int)-k;
		rem |= big_div(&b, pow10_small[step]);
		k += step;
	}
	if (rem || sticky)
		big_add(&b, 1);
	if (!big_to_u128(&b, nano))
		*huge = 1;
}

int quantity_parse(const char *str, struct quantity *q, const char **why)
{
	struct qstring p;
	int base, exp, format, precision, scale;
	char digits_buf[64];
	const char *digits;
	size_t nd;

	memset(q, 0, sizeof *q);
	*why = NULL;
	if (!str || !*str) {
		*why = ERR_FORMAT;
		return SO_E_INVAL;
	}
	q->text = mem_strdup(str);
	if (strcmp(str, "0") == 0) {
		q->keep_text = 1;
		return SO_OK;
	}
	if (parse_qstring(str, &p) != 0) {
		*why = ERR_FORMAT;
		goto invalid;
	}
	if (interpret_suffix(p.suffix ? p.suffix : "", p.suffix_len, &base, &exp, &format) != 0) {
		*why = ERR_SUFFIX;
		goto invalid;
	}
	/* A literal without any digit ("Mi", "e3") is zero on Go's int64 fast path, but its inf.Dec slow path needs a
	 * digit: a decimal exponent below -9, or Pi/Ei, takes that path and fails. */
	if (!has_digit(str, p.suffix ? (size_t)(p.suffix - str) : strlen(str)) &&
	    ((base == 10 && exp < -9) || (base == 2 && exp >= 50))) {
		*why = ERR_NUMERIC;
		goto invalid;
	}
	q->negative = !p.positive;
	q->format = format;

	/* ParseQuantity's int64 fast path decides whether the input is kept as the canonical string. */
	if (format == 2)
		precision = exp >= 0 && p.denom_len == 0 ? 15 - (int)p.num_len - exp * 3 / 10 - 1 : -1;
	else
		precision = 18 - (int)(p.num_len + p.denom_len);
	scale = format == 2 ? 0 : exp;
	if (precision >= 0 && scale - (long long)p.denom_len >= -9) {
		long long value = 0;
		size_t sn = p.num_len + p.denom_len;
		char shifted[40];
		memcpy(shifted, p.num, p.num_len);
		memcpy(shifted + p.num_len, p.denom ? p.denom : "", p.denom_len);
		shifted[sn] = '\0';
		scale -= (int)p.denom_len;
		if (parse_int64(shifted, sn, &value) == 0) {
			/* int64Multiply(value, mantissa): the mantissa is 2^exp for binary suffixes, else 1. */
			int fits = format != 2 || (exp < 63 && value <= (INT64_MAX >> exp));
			if (fits && format == 2)
				q->keep_text = (value & 7) != 0;
			else if (fits)
				q->keep_text = scale % 3 == 0 && !(sn >= 3 && strcmp(shifted + sn - 3, "000") == 0) &&
					       shifted[0] != '0';
		}
	}

	/* The exact magnitude. */
	nd = 0;
	digits = p.num;
	{
		/* num has no leading zeros unless it is "0"; num + denom, without leading zeros. */
		size_t total = p.num_len + p.denom_len, skip = 0;
		char *all = total < sizeof digits_buf ? digits_buf : mem_alloc(total + 1);
		memcpy(all, p.num, p.num_len);
		memcpy(all + p.num_len, p.denom ? p.denom : "", p.denom_len);
		while (skip < total && all[skip] == '0')
			skip++;
		digits = all + skip;
		nd = total - skip;
		nano_of(digits, nd, (base == 10 ? exp : 0) - (long long)p.denom_len, base == 2 ? exp : 0, &q->nano,
			&q->huge);
		if (all != digits_buf)
			free(all);
	}
	if (format == 2) {
		/* ParseQuantity caps binary quantities at 2^63-1 and calls tiny ones DecimalSI. */
		u128 cap = (u128)INT64_MAX * NANO;
		if (q->huge || q->nano > cap) {
			q->huge = 0;
			q->nano = cap;
		}
		if (q->nano > 0 && q->nano < NANO)
			q->format = 0;
	}
	if (q->nano == 0 && !q->huge)
		q->negative = 0;
	return SO_OK;
invalid:
	free(q->text);
	q->text = NULL;
	return SO_E_INVAL;
}

void quantity_free(struct quantity *q)
{
	free(q->text);
	q->text = NULL;
}

static int append_u128(struct buf *out, u128 v)
{
	char tmp[48];
	size_t i = sizeof tmp;

	tmp[--i] = '\0';
	do {
		tmp[--i] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	return buf_appends(out, tmp + i);
}

/* Quantity.String(): the kept input, or CanonicalizeBytes. */
int quantity_string(const struct quantity *q, struct buf *out)
{
	static const char *const bin[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	u128 m;
	int e, rc, format = q->format;

	if (q->keep_text || q->huge)
		return buf_appends(out, q->text ? q->text : "0");
	if (q->nano == 0)
		return buf_appends(out, "0");
	rc = q->negative ? buf_append(out, "-", 1) : SO_OK;
	if (rc != SO_OK)
		return rc;
	if (format == 2 && (q->nano < (u128)1024 * NANO || q->nano % NANO != 0))
		format = 0;
	if (format == 2) {
		m = q->nano / NANO;
		for (e = 0; m % 1024 == 0; e++)
			m /= 1024;
		rc = append_u128(out, m);
		return rc == SO_OK && e < 7 ? buf_appends(out, bin[e]) : rc;
	}
	m = q->nano;
	for (e = -9; m % 10 == 0; e++)
		m /= 10;
	if (e % 3 == 1 || e % 3 == -2) {
		m *= 10;
		e -= 1;
	} else if (e % 3 == 2 || e % 3 == -1) {
		m *= 100;
		e -= 2;
	}
	rc = append_u128(out, m);
	if (rc != SO_OK || e == 0)
		return rc;
	if (format == 1)
		return buf_appendf(out, "e%d", e);
	switch (e) {
	case -9: return buf_appends(out, "n");
	case -6: return buf_appends(out, "u");
	case -3: return buf_appends(out, "m");
	case 3: return buf_appends(out, "k");
	case 6: return buf_appends(out, "M");
	case 9: return buf_appends(out, "G");
	case 12: return buf_appends(out, "T");
	case 15: return buf_appends(out, "P");
	case 18: return buf_appends(out, "E");
	default: return SO_OK; /* Go finds no suffix and prints the number alone */
	}
}

int quantity_cmp(const struct quantity *a, const struct quantity *b)
{
	int sa = a->nano == 0 && !a->huge ? 0 : a->negative ? -1 : 1;
	int sb = b->nano == 0 && !b->huge ? 0 : b->negative ? -1 : 1;
	int mag;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (a->huge || b->huge)
		mag = a->huge && b->huge ? 0 : a->huge ? 1 : -1;
	else
		mag = a->nano == b->nano ? 0 : a->nano > b->nano ? 1 : -1;
	return sa < 0 ? -mag : mag;
}

int quantity_value(const char *s, int64_t *out)
{
	struct quantity q;
	const char *why;
	u128 units;
	int rc, up;

	if (!s || !out)
		return SO_E_INVAL;
	rc = quantity_parse(s, &q, &why);
	if (rc != SO_OK)
		return rc;
	quantity_free(&q);
	/* Binary quantities are capped already; a decimal one this large has no int64 value. */
	if (q.huge || q.nano > LIMIT)
		return SO_E_TOO_LARGE;
	/* Truncate toward zero, then add one if a fraction remains (whatever the sign). */
	units = q.nano / NANO;
	up = q.nano % NANO != 0;
	if (q.negative) {
		/* -units + up >= INT64_MIN always holds here: units <= 2^63 because nano <= LIMIT. */
		if (units == ((u128)1 << 63))
			*out = up ? INT64_MIN + 1 : INT64_MIN;
		else
			*out = -(int64_t)units + up;
	} else {
		if (units + (u128)up > (u128)INT64_MAX)
			return SO_E_TOO_LARGE;
		*out = (int64_t)(units + (u128)up);
	}
	return SO_OK;
}

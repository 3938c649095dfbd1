/*
 * A Kubernetes resource.Quantity string as whole units, the way upstream computes SPIN_MAX_INSTANCE_MEMORY:
 * resource.ParseQuantity(s) followed by q.ToDec().Value() (k8s.io/apimachinery pkg/api/resource).
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
 * negative value whose nano-scaled magnitude passes 2^63 ("-9223372036854775807" gives 1) is garbage. We return
 * the exact result above when it fits in an int64, SO_E_TOO_LARGE otherwise.
 * No floating point anywhere: the magnitude is carried in nano units in 128 bits, saturating far above int64.
 */
#include <stdint.h>
#include <string.h>

#include "build/build.h"
#include "util/err.h"

__extension__ typedef unsigned __int128 u128;

#define NANO 1000000000u
/* Magnitudes in nano units above 2^63 * 10^9 cannot give an int64 result (binary ones are capped first). */
#define LIMIT (((u128)1 << 63) * NANO)
#define CAP_BINARY ((u128)INT64_MAX * NANO)

struct qnum {
	int negative;
	const char *digits;  /* the integer digits without leading zeros, then the fraction digits */
	size_t int_len;      /* how many of digits are before the decimal point */
	size_t len;          /* all digits */
	int has_digits;      /* whether the literal held any digit at all, leading zeros included */
	int base;            /* 10 or 2 */
	int32_t exp;         /* power of base */
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Go's strconv.ParseInt(s[0:n], 10, 64): optional sign, at least one digit, no overflow. */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	if (i == n)
		return SO_E_INVAL;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return SO_E_INVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return SO_E_INVAL;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return SO_OK;
}

/* Go's int32(x): keep the low 32 bits, two's complement. */
static int32_t wrap_int32(int64_t x)
{
	uint32_t u = (uint32_t)(uint64_t)x;
	return u <= INT32_MAX ? (int32_t)u : (int32_t)((int64_t)u - ((int64_t)1 << 32));
}

/* quantitySuffixer.interpret. */
static int interpret_suffix(const char *s, size_t n, struct qnum *q)
{
	static const struct {
		const char *name;
		int base;
		int exp;
	} table[] = {
		{ "", 10, 0 },	 { "n", 10, -9 }, { "u", 10, -6 }, { "m", 10, -3 }, { "k", 10, 3 },   { "M", 10, 6 },
		{ "G", 10, 9 },	 { "T", 10, 12 }, { "P", 10, 15 }, { "E", 10, 18 }, { "Ki", 2, 10 }, { "Mi", 2, 20 },
		{ "Gi", 2, 30 }, { "Ti", 2, 40 }, { "Pi", 2, 50 }, { "Ei", 2, 60 },
	};
	int64_t e;

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strlen(table[i].name) == n && memcmp(table[i].name, s, n) == 0) {
			q->base = table[i].base;
			q->exp = table[i].exp;
			return SO_OK;
		}
	}
	if (n > 1 && (s[0] == 'e' || s[0] == 'E') && parse_int64(s + 1, n - 1, &e) == SO_OK) {
		q->base = 10;
		q->exp = wrap_int32(e);
		return SO_OK;
	}
	return SO_E_INVAL;
}

/*
 * parseQuantityString. Returns 1 when the literal is zero with no suffix to look at (Go returns early once only
 * zeros remain), 0 when q is filled in, or SO_E_INVAL.
 */
static int scan(const char *s, struct qnum *q)
{
	size_t pos = 0, end = strlen(s), start;

	memset(q, 0, sizeof *q);
	if (pos < end && (s[pos] == '-' || s[pos] == '+'))
		q->negative = s[pos++] == '-';
	while (pos < end && s[pos] == '0') {
		pos++;
		q->has_digits = 1;
	}
	if (pos == end)
		return 1;
	q->digits = s + pos;
	while (pos < end && is_digit(s[pos]))
		pos++;
	q->int_len = (size_t)(s + pos - q->digits);
	q->len = q->int_len;
	if (pos < end && s[pos] == '.') {
		/* The digits after the point follow the integer digits, minus the point itself. */
		pos++;
		start = pos;
		while (pos < end && is_digit(s[pos]))
			pos++;
		q->len += pos - start;
	}
	if (q->len > 0)
		q->has_digits = 1;
	start = pos;
	while (pos < end && strchr("eEinumkKMGTP", s[pos]))
		pos++;
	if (pos < end && (s[pos] == '-' || s[pos] == '+'))
		pos++;
	while (pos < end && is_digit(s[pos]))
		pos++;
	if (pos != end)
		return SO_E_INVAL;
	return interpret_suffix(s + start, end - start, q);
}

/* The i-th digit of the number, skipping the decimal point that may sit between int_len and int_len + 1. */
static unsigned digit_at(const struct qnum *q, size_t i)
{
	return (unsigned)(q->digits[i < q->int_len ? i : i + 1] - '0');
}

/* acc = acc * 10 + d, saturating: returns 0 once acc passes LIMIT. */
static int push_digit(u128 *acc, unsigned d)
{
	*acc = *acc * 10 + d;
	return *acc <= LIMIT;
}

/*
 * The magnitude times 10^9, rounded up, in *w; returns 0 when it exceeds LIMIT. point is where the decimal point
 * lands once the number is scaled by base^shift10 (decimal) or 10^9 (binary).
 */
static int nano_magnitude(const struct qnum *q, u128 *w)
{
	int64_t point = (int64_t)q->int_len + 9 + (q->base == 10 ? q->exp : 0);
	size_t int_digits = point <= 0 ? 0 : (uint64_t)point < q->len ? (size_t)point : q->len;
	u128 acc = 0, frac_up = 0;

	for (size_t i = 0; i < int_digits; i++)
		if (!push_digit(&acc, digit_at(q, i)))
			return 0;
	/* Zeros to pad the integer part with when the point moved past the last digit. */
	for (int64_t z = point - (int64_t)q->len; z > 0 && acc != 0; z--)
		if (!push_digit(&acc, 0))
			return 0;
	if (q->base == 10) {
		for (size_t i = int_digits; i < q->len; i++) {
			if (digit_at(q, i) != 0) {
				frac_up = 1;
				break;
			}
		}
	} else {
		/* ceil(0.F * 2^exp): long multiplication of the fraction digits F by 2^exp, right to left. The carry
		 * out of the leftmost digit is the integer part; any non-zero product digit is a remainder. */
		u128 carry = 0, t;
		int rest = 0;
		for (size_t i = q->len; i > int_digits; i--) {
			t = ((u128)digit_at(q, i - 1) << q->exp) + carry;
			rest |= t % 10 != 0;
			carry = t / 10;
		}
		frac_up = carry + (rest ? 1 : 0);
		if (acc > (LIMIT >> q->exp))
			return 0;
		acc <<= q->exp;
	}
	acc += frac_up;
	if (acc > LIMIT)
		return 0;
	*w = acc;
	return 1;
}

int quantity_value(const char *s, int64_t *out)
{
	struct qnum q;
	u128 w, units;
	int rc;

	if (!s || !out || !*s)
		return SO_E_INVAL;
	rc = scan(s, &q);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*out = 0;
		return SO_OK;
	}
	if (!q.has_digits) {
		/* Go's fast path takes these as zero; its inf.Dec slow path needs a digit and fails. */
		if ((q.base == 10 && q.exp < -9) || (q.base == 2 && q.exp >= 50))
			return SO_E_INVAL;
		*out = 0;
		return SO_OK;
	}
	if (!nano_magnitude(&q, &w)) {
		if (q.base != 2)
			return SO_E_TOO_LARGE;
		w = CAP_BINARY;
	}
	if (q.base == 2 && w > CAP_BINARY)
		w = CAP_BINARY;
	/* Truncate toward zero, then add one if a fraction remains (whatever the sign). */
	units = w / NANO;
	int up = w % NANO != 0;
	if (q.negative) {
		/* -units + up >= INT64_MIN always holds here: units <= 2^63 because w <= LIMIT. */
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

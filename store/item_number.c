/* DynamoDB numbers: parsing, comparing and printing their text. */
#include "item_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* DynamoDB number range: 1E-130 to 9.99...E+125 (38 nines), or zero. */
#define MIN_EXPONENT (-130)
#define MAX_EXPONENT 125
/* Integers a double holds exactly: |v| <= 2^53. */
#define EXACT_DOUBLE_MAX 9007199254740992.0

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads an exponent's digits, saturating far outside any valid range. */
static long long read_exponent(const char **pp)
{
    const char *p = *pp;
    bool negative = false;
    long long e = 0;
    if (*p == '+' || *p == '-')
        negative = *p++ == '-';
    for (; is_digit(*p); p++)
        if (e < 1000000000LL)
            e = e * 10 + (*p - '0');
    *pp = p;
    return negative ? -e : e;
}

enum item_number_status item_number_parse(const char *text,
                                          struct item_number *n)
{
    const char *p = text;
    size_t total = 0, int_digits = 0, first = SIZE_MAX, last = 0;
    bool dot = false;
    long long exp = 0;

    memset(n, 0, sizeof(*n));
    if (*p == '+' || *p == '-')
        n->negative = *p++ == '-';
    const char *mantissa = p;
    for (;; p++) {
        if (is_digit(*p)) {
            if (*p != '0') {
                if (first == SIZE_MAX)
                    first = total;
                last = total;
            }
            total++;
            int_digits += !dot;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    if (total == 0)
        return ITEM_NUMBER_SYNTAX;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (!is_digit(*p) && !((*p == '+' || *p == '-') && is_digit(p[1])))
            return ITEM_NUMBER_SYNTAX;
        exp = read_exponent(&p);
    }
    if (*p)
        return ITEM_NUMBER_SYNTAX;
    if (first == SIZE_MAX) {
        n->negative = false;
        return ITEM_NUMBER_OK;
    }
    if (last - first + 1 > ITEM_MAX_NUMBER_DIGITS)
        return ITEM_NUMBER_DIGITS;
    for (size_t i = 0; i <= last; mantissa++) {
        if (*mantissa == '.')
            continue;
        if (i >= first)
            n->digits[n->ndigits++] = *mantissa;
        i++;
    }
    n->exponent = (long long)int_digits - 1 - (long long)first + exp;
    if (n->exponent > MAX_EXPONENT || n->exponent < MIN_EXPONENT)
        return ITEM_NUMBER_RANGE;
    return ITEM_NUMBER_OK;
}

const char *item_number_problem(enum item_number_status s)
{
    switch (s) {
    case ITEM_NUMBER_OK:
        break;
    case ITEM_NUMBER_SYNTAX:
        return "is not a decimal number";
    case ITEM_NUMBER_DIGITS:
        return "has more than 38 significant digits";
    case ITEM_NUMBER_RANGE:
        return "is outside DynamoDB's range (1E-130 to 9.9999999999999999999"
               "999999999999999999E+125)";
    }
    return "is valid";
}

int item_number_cmp(const void *a, const void *b)
{
    const struct item_number *x = a, *y = b;
    if (x->negative != y->negative)
        return x->negative ? -1 : 1;
    if (x->ndigits == 0 || y->ndigits == 0)
        return (x->ndigits != 0) - (y->ndigits != 0);
    if (x->exponent != y->exponent)
        return x->exponent < y->exponent ? -1 : 1;
    /* Any consistent order will do: callers only look for equal values. */
    return strcmp(x->digits, y->digits);
}

/* True when `text` is a number in JSON's grammar (RFC 8259 section 6). */
static bool json_number_syntax(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (is_digit(*p))
            p++;
    else
        return false;
    if (*p == '.') {
        if (!is_digit(*++p))
            return false;
        while (is_digit(*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return false;
        while (is_digit(*p))
            p++;
    }
    return *p == '\0';
}

/*
 * Writes `n` as JSON number text into `out`, which holds
 * ITEM_NUMBER_TEXT_BYTES: at most a sign, 40 integer digits or "0." and 5
 * zeros, 38 digits, a point and an exponent such as "E-130".
 */
static void number_format(const struct item_number *n, char *out)
{
    size_t at = 0, nd = n->ndigits;
    long long e = n->exponent;

    if (nd == 0) {
        strcpy(out, "0");
        return;
    }
    if (n->negative)
        out[at++] = '-';
    if (e >= 0 && e < 40) {
        for (long long i = 0; i <= e; i++)
            out[at++] = (size_t)i < nd ? n->digits[i] : '0';
        if ((size_t)e + 1 < nd)
            out[at++] = '.';
        for (size_t i = (size_t)e + 1; i < nd; i++)
            out[at++] = n->digits[i];
        out[at] = '\0';
    } else if (e < 0 && e >= -6) {
        out[at++] = '0';
        out[at++] = '.';
        for (long long i = 0; i < -e - 1; i++)
            out[at++] = '0';
        memcpy(out + at, n->digits, nd + 1);
    } else {
        out[at++] = n->digits[0];
        if (nd > 1)
            out[at++] = '.';
        memcpy(out + at, n->digits + 1, nd - 1);
        at += nd - 1;
        snprintf(out + at, ITEM_NUMBER_TEXT_BYTES - at, "E%+lld", e);
    }
}

bool item_number_valid(const char *text)
{
    struct item_number n;
    return text && item_number_parse(text, &n) == ITEM_NUMBER_OK;
}

enum result item_number_i64(const char *text, int64_t *out)
{
    struct item_number n;
    if (!text || item_number_parse(text, &n) != ITEM_NUMBER_OK)
        return RESULT_INVALID_INPUT;
    if (n.ndigits == 0) {
        *out = 0;
        return RESULT_OK;
    }
    /* A fraction, or more than 19 digits before the point. */
    if (n.exponent < (long long)n.ndigits - 1 || n.exponent > 18)
        return RESULT_INVALID_INPUT;
    uint64_t v = 0; /* at most 19 digits: below 10^19 < 2^64 */
    for (long long i = 0; i <= n.exponent; i++) {
        unsigned digit = (size_t)i < n.ndigits ? n.digits[i] - '0' : 0;
        v = v * 10 + digit;
    }
    uint64_t limit = (uint64_t)INT64_MAX + (n.negative ? 1 : 0);
    if (v > limit)
        return RESULT_INVALID_INPUT;
    if (!n.negative)
        *out = (int64_t)v;
    else if (v == (uint64_t)INT64_MAX + 1)
        *out = INT64_MIN;
    else
        *out = -(int64_t)v;
    return RESULT_OK;
}

enum result item_json_i64(const cJSON *node, int64_t *out)
{
    if (cJSON_IsRaw(node))
        return item_number_i64(node->valuestring, out);
    if (!cJSON_IsNumber(node))
        return RESULT_INVALID_INPUT;
    double v = node->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) > EXACT_DOUBLE_MAX)
        return RESULT_INVALID_INPUT;
    *out = (int64_t)v;
    return RESULT_OK;
}

/*
 * Prints a double as N text: integers up to 2^53 exactly, others as the
 * shortest %g text that reads back as the same double. False for NaN/Inf.
 * Assumes the "C" numeric locale, which a Lambda process keeps.
 */
bool item_number_from_double(double v, char *out, size_t cap)
{
    if (!isfinite(v))
        return false;
    if (v == floor(v) && fabs(v) <= EXACT_DOUBLE_MAX) {
        snprintf(out, cap, "%lld", (long long)v);
        return true;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, cap, "%.*g", precision, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return true;
}

/* A Raw node that prints `text` (a valid DynamoDB number) as JSON. */
cJSON *item_number_raw(const char *text)
{
    if (json_number_syntax(text))
        return xjson(cJSON_CreateRaw(text));
    struct item_number n;
    char buf[ITEM_NUMBER_TEXT_BYTES];
    (void)item_number_parse(text, &n);
    number_format(&n, buf);
    return xjson(cJSON_CreateRaw(buf));
}

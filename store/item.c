/* DynamoDB items: AttributeValue JSON, conversion, validation, sizes. */
#include "item.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base64.h"
#include "xmalloc.h"

/* DynamoDB number range: 1E-130 to 9.99...E+125 (38 nines), or zero. */
#define MIN_EXPONENT (-130)
#define MAX_EXPONENT 125
/* Integers a double holds exactly: |v| <= 2^53. */
#define EXACT_DOUBLE_MAX 9007199254740992.0
/* Room for any valid number as JSON text (see number_format()). */
#define NUMBER_TEXT_BYTES 64
/* Longest path kept for error messages; longer ones are cut. */
#define PATH_BYTES 256
/* Base64 is encoded/decoded in pieces OpenSSL's int lengths can take. */
#define B64_CHUNK_BYTES (3 * 16384)

/* Wraps `value` (owned) as {type: value}. */
static cJSON *wrap(const char *type, cJSON *value)
{
    cJSON *av = xjson(cJSON_CreateObject());
    xjson_add(av, type, value);
    return av;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t count_children(const cJSON *node)
{
    size_t n = 0;
    for (const cJSON *c = node->child; c; c = c->next)
        n++;
    return n;
}

/* ---- Paths for error messages ------------------------------------------ */

/* Where the walk is, e.g. "payload.items[2]"; cut (not overrun) when long. */
struct path {
    char text[PATH_BYTES];
    size_t len;
};

static void path_init(struct path *p, const char *root)
{
    snprintf(p->text, sizeof(p->text), "%s", root ? root : "value");
    p->len = strlen(p->text);
}

/* Appends a formatted segment; returns the mark path_pop() restores. */
static size_t path_push(struct path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push(struct path *p, const char *fmt, ...)
{
    size_t mark = p->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->text + p->len, sizeof(p->text) - p->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len += (size_t)n;
    if (p->len >= sizeof(p->text))
        p->len = sizeof(p->text) - 1;
    return mark;
}

static size_t path_push_name(struct path *p, const char *name)
{
    return p->len ? path_push(p, ".%s", name) : path_push(p, "%s", name);
}

static void path_pop(struct path *p, size_t mark)
{
    p->len = mark;
    p->text[mark] = '\0';
}

/* Fails with RESULT_INVALID_INPUT naming the path in field and message. */
static enum result invalid(struct error_info *err, const struct path *p,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum result invalid(struct error_info *err, const struct path *p,
                           const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *where = p->len ? p->text : "item";
    return error_field(err, where, "%s: %s", where, what);
}

/* ---- Numbers ------------------------------------------------------------ */

/*
 * A DynamoDB number taken apart: value = (-1)^negative * d.ddd * 10^exponent
 * where d.ddd are `digits` without leading or trailing zeros. Zero has no
 * digits and is never negative, so equal values have equal structs.
 */
struct number {
    bool negative;
    size_t ndigits;
    char digits[ITEM_MAX_NUMBER_DIGITS + 1];
    long long exponent;
};

enum number_status { NUMBER_OK, NUMBER_SYNTAX, NUMBER_DIGITS, NUMBER_RANGE };

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

static enum number_status number_parse(const char *text, struct number *n)
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
        return NUMBER_SYNTAX;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (!is_digit(*p) && !((*p == '+' || *p == '-') && is_digit(p[1])))
            return NUMBER_SYNTAX;
        exp = read_exponent(&p);
    }
    if (*p)
        return NUMBER_SYNTAX;
    if (first == SIZE_MAX) {
        n->negative = false;
        return NUMBER_OK;
    }
    if (last - first + 1 > ITEM_MAX_NUMBER_DIGITS)
        return NUMBER_DIGITS;
    for (size_t i = 0; i <= last; mantissa++) {
        if (*mantissa == '.')
            continue;
        if (i >= first)
            n->digits[n->ndigits++] = *mantissa;
        i++;
    }
    n->exponent = (long long)int_digits - 1 - (long long)first + exp;
    if (n->exponent > MAX_EXPONENT || n->exponent < MIN_EXPONENT)
        return NUMBER_RANGE;
    return NUMBER_OK;
}

static const char *number_problem(enum number_status s)
{
    switch (s) {
    case NUMBER_OK:
        break;
    case NUMBER_SYNTAX:
        return "is not a decimal number";
    case NUMBER_DIGITS:
        return "has more than 38 significant digits";
    case NUMBER_RANGE:
        return "is outside DynamoDB's range (1E-130 to 9.9999999999999999999"
               "999999999999999999E+125)";
    }
    return "is valid";
}

static int number_cmp(const void *a, const void *b)
{
    const struct number *x = a, *y = b;
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
 * Writes `n` as JSON number text into `out`, which holds NUMBER_TEXT_BYTES:
 * at most a sign, 40 integer digits or "0." and 5 zeros, 38 digits, a point
 * and an exponent such as "E-130".
 */
static void number_format(const struct number *n, char *out)
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
        snprintf(out + at, NUMBER_TEXT_BYTES - at, "E%+lld", e);
    }
}

bool item_number_valid(const char *text)
{
    struct number n;
    return text && number_parse(text, &n) == NUMBER_OK;
}

enum result item_number_i64(const char *text, int64_t *out)
{
    struct number n;
    if (!text || number_parse(text, &n) != NUMBER_OK)
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
static bool double_text(double v, char *out, size_t cap)
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
static cJSON *raw_number(const char *text)
{
    if (json_number_syntax(text))
        return xjson(cJSON_CreateRaw(text));
    struct number n;
    char buf[NUMBER_TEXT_BYTES];
    (void)number_parse(text, &n);
    number_format(&n, buf);
    return xjson(cJSON_CreateRaw(buf));
}

/* ---- Strings, names, base64 ---------------------------------------------- */

/* Strict UTF-8: no overlong forms, surrogates or code points > U+10FFFF. */
static bool utf8_valid(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        unsigned c = *s;
        size_t more;
        uint32_t cp, min;
        if (c < 0x80) {
            s++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            more = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (size_t k = 1; k <= more; k++) {
            if ((s[k] & 0xC0) != 0x80) /* also stops at the NUL */
                return false;
            cp = cp << 6 | (s[k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += more + 1;
    }
    return true;
}

/* Padding characters at the end of base64 text of length `len`. */
static size_t b64_padding(const char *s, size_t len)
{
    if (len == 0 || s[len - 1] != '=')
        return 0;
    return len >= 2 && s[len - 2] == '=' ? 2 : 1;
}

static bool b64_valid(const char *s)
{
    size_t n = 0;
    unsigned char *bytes = base64_decode(s, strlen(s), BASE64_STD, &n);
    free(bytes);
    return bytes != NULL;
}

/* Decoded length of base64 text (valid or not: then a rough figure). */
static size_t b64_decoded_len(const char *s)
{
    size_t len = strlen(s);
    if (len % 4)
        return len / 4 * 3;
    return len / 4 * 3 - b64_padding(s, len);
}

/* The name check for top-level attributes and (top_level false) map keys. */
static enum result check_name(const char *name, bool top_level,
                              const struct path *p, struct error_info *err)
{
    if (!name)
        return invalid(err, p, "a member has no name");
    size_t len = strlen(name);
    if (top_level && len == 0)
        return invalid(err, p, "an attribute name must not be empty");
    if (len > ITEM_MAX_NAME_BYTES)
        return invalid(err, p, "a name is longer than %d bytes",
                       ITEM_MAX_NAME_BYTES);
    if (!utf8_valid(name))
        return invalid(err, p, "a name is not valid UTF-8");
    return RESULT_OK;
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts `v` in place; returns a value found twice, or NULL. */
static const char *first_duplicate(const char **v, size_t n)
{
    if (n < 2)
        return NULL;
    qsort(v, n, sizeof(*v), str_ptr_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            return v[i];
    return NULL;
}

/* Returns a member name of `object` used twice, or NULL. */
static const char *duplicate_name(const cJSON *object)
{
    size_t n = count_children(object), i = 0;
    if (n < 2)
        return NULL;
    const char **names = xmalloc(n * sizeof(*names));
    for (const cJSON *c = object->child; c; c = c->next)
        names[i++] = c->string ? c->string : "";
    const char *dup = first_duplicate(names, n);
    free(names);
    return dup;
}

/* ---- Validation ---------------------------------------------------------- */

/* Checks one scalar of kind 'S', 'N' or 'B' (also set elements). */
static enum result check_scalar(char kind, const cJSON *v, const struct path *p,
                                struct error_info *err)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return invalid(err, p, "a %c value must be a JSON string", kind);
    const char *text = v->valuestring;
    if (kind == 'S' && !utf8_valid(text))
        return invalid(err, p, "an S value is not valid UTF-8");
    if (kind == 'B' && !b64_valid(text))
        return invalid(err, p, "a B value is not valid base64");
    if (kind == 'N') {
        struct number n;
        enum number_status s = number_parse(text, &n);
        if (s != NUMBER_OK)
            return invalid(err, p, "an N value %s", number_problem(s));
    }
    return RESULT_OK;
}

struct blob {
    unsigned char *bytes;
    size_t len;
};

static int blob_cmp(const void *a, const void *b)
{
    const struct blob *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->bytes, y->bytes, n) : 0;
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static bool numbers_unique(const char **texts, size_t n)
{
    struct number *v = xmalloc(n * sizeof(*v));
    bool unique = true;
    for (size_t i = 0; i < n; i++)
        (void)number_parse(texts[i], &v[i]);
    qsort(v, n, sizeof(*v), number_cmp);
    for (size_t i = 1; i < n && unique; i++)
        unique = number_cmp(&v[i - 1], &v[i]) != 0;
    free(v);
    return unique;
}

static bool blobs_unique(const char **texts, size_t n)
{
    struct blob *v = xmalloc(n * sizeof(*v));
    bool unique = true;
    for (size_t i = 0; i < n; i++)
        v[i].bytes =
            base64_decode(texts[i], strlen(texts[i]), BASE64_STD, &v[i].len);
    qsort(v, n, sizeof(*v), blob_cmp);
    for (size_t i = 1; i < n && unique; i++)
        unique = blob_cmp(&v[i - 1], &v[i]) != 0;
    for (size_t i = 0; i < n; i++)
        free(v[i].bytes);
    free(v);
    return unique;
}

/* Checks that the `n` valid set values `texts` are unique (sorts them). */
static enum result check_unique(char kind, const char **texts, size_t n,
                                const struct path *p, struct error_info *err)
{
    bool unique;
    if (kind == 'N')
        unique = numbers_unique(texts, n);
    else if (kind == 'B')
        unique = blobs_unique(texts, n);
    else
        unique = first_duplicate(texts, n) == NULL;
    if (!unique)
        return invalid(err, p, "a %cS holds the same value twice", kind);
    return RESULT_OK;
}

static enum result check_set(char kind, const cJSON *set, struct path *p,
                             struct error_info *err)
{
    enum result r = RESULT_OK;
    const char **texts = NULL;
    size_t n = 0;

    if (!cJSON_IsArray(set))
        return invalid(err, p, "a %cS value must be a JSON array", kind);
    n = count_children(set);
    if (n == 0)
        return invalid(err, p, "a %cS must not be empty", kind);
    texts = xmalloc(n * sizeof(*texts));
    size_t i = 0;
    for (const cJSON *e = set->child; e; e = e->next, i++) {
        size_t mark = path_push(p, "[%zu]", i);
        r = check_scalar(kind, e, p, err);
        path_pop(p, mark);
        if (r != RESULT_OK)
            goto done;
        texts[i] = e->valuestring;
    }
    r = check_unique(kind, texts, n, p, err);
done:
    free(texts);
    return r;
}

static enum result check_av(const cJSON *av, int depth, struct path *p,
                            struct error_info *err);

static enum result check_container(const cJSON *v, bool is_map, int depth,
                                   struct path *p, struct error_info *err)
{
    if (is_map ? !cJSON_IsObject(v) : !cJSON_IsArray(v))
        return invalid(err, p, "an %s value must be a JSON %s",
                       is_map ? "M" : "L", is_map ? "object" : "array");
    if (depth >= ITEM_MAX_DEPTH)
        return invalid(err, p, "nested deeper than %d levels", ITEM_MAX_DEPTH);
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        enum result r = RESULT_OK;
        if (is_map)
            r = check_name(c->string, false, p, err);
        if (r != RESULT_OK)
            return r;
        size_t mark =
            is_map ? path_push_name(p, c->string) : path_push(p, "[%zu]", i);
        r = check_av(c, depth + 1, p, err);
        path_pop(p, mark);
        if (r != RESULT_OK)
            return r;
    }
    const char *dup = is_map ? duplicate_name(v) : NULL;
    if (dup)
        return invalid(err, p, "the map has the name '%.64s' twice", dup);
    return RESULT_OK;
}

/* `depth` counts the M/L levels around `av`: 0 for an item's attribute. */
static enum result check_av(const cJSON *av, int depth, struct path *p,
                            struct error_info *err)
{
    if (!cJSON_IsObject(av))
        return invalid(err, p, "an AttributeValue must be a JSON object");
    const cJSON *v = av->child;
    if (!v)
        return invalid(err, p, "an AttributeValue has no type key");
    if (v->next)
        return invalid(err, p, "an AttributeValue has more than one key");
    const char *type = v->string ? v->string : "";

    if (!strcmp(type, "S") || !strcmp(type, "N") || !strcmp(type, "B"))
        return check_scalar(type[0], v, p, err);
    if (!strcmp(type, "SS") || !strcmp(type, "NS") || !strcmp(type, "BS"))
        return check_set(type[0], v, p, err);
    if (!strcmp(type, "BOOL"))
        return cJSON_IsBool(v)
                   ? RESULT_OK
                   : invalid(err, p, "a BOOL value must be true or false");
    if (!strcmp(type, "NULL"))
        return cJSON_IsTrue(v) ? RESULT_OK
                               : invalid(err, p, "a NULL value must be true");
    if (!strcmp(type, "M") || !strcmp(type, "L"))
        return check_container(v, type[0] == 'M', depth, p, err);
    return invalid(err, p, "unknown AttributeValue type '%.16s'", type);
}

enum result item_av_validate(const cJSON *av, const char *field,
                             struct error_info *err)
{
    struct path p;
    path_init(&p, field);
    return check_av(av, 0, &p, err);
}

enum result item_validate(const cJSON *item, struct error_info *err)
{
    struct path p;
    path_init(&p, "");
    if (!cJSON_IsObject(item))
        return invalid(err, &p, "an item must be a JSON object");
    for (const cJSON *a = item->child; a; a = a->next) {
        enum result r = check_name(a->string, true, &p, err);
        if (r != RESULT_OK)
            return r;
        size_t mark = path_push_name(&p, a->string);
        r = check_av(a, 0, &p, err);
        path_pop(&p, mark);
        if (r != RESULT_OK)
            return r;
    }
    const char *dup = duplicate_name(item);
    if (dup)
        return error_field(err, dup, "attribute '%.64s' appears twice", dup);
    return RESULT_OK;
}

/* ---- Building AttributeValues ---------------------------------------------
 */

cJSON *item_av_s(const char *s)
{
    return wrap("S", xjson(cJSON_CreateString(s)));
}

cJSON *item_av_i64(int64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, v);
    return wrap("N", xjson(cJSON_CreateString(text)));
}

cJSON *item_av_bool(bool v)
{
    return wrap("BOOL", xjson(cJSON_CreateBool(v)));
}

cJSON *item_av_null(void)
{
    return wrap("NULL", xjson(cJSON_CreateTrue()));
}

cJSON *item_av_m(cJSON *map)
{
    return wrap("M", map ? map : xjson(cJSON_CreateObject()));
}

cJSON *item_av_l(cJSON *list)
{
    return wrap("L", list ? list : xjson(cJSON_CreateArray()));
}

cJSON *item_av_b(const void *bytes, size_t len)
{
    const unsigned char *in = bytes;
    char *text = xmalloc((len + 2) / 3 * 4 + 1);
    size_t at = 0;
    text[0] = '\0';
    for (size_t i = 0; i < len; i += B64_CHUNK_BYTES) {
        size_t n = len - i < B64_CHUNK_BYTES ? len - i : B64_CHUNK_BYTES;
        at +=
            (size_t)EVP_EncodeBlock((unsigned char *)text + at, in + i, (int)n);
    }
    cJSON *av = wrap("B", xjson(cJSON_CreateString(text)));
    free(text);
    return av;
}

enum result item_av_n(const char *text, const char *field, cJSON **out,
                      struct error_info *err)
{
    struct path p;
    struct number n;
    path_init(&p, field);
    if (!text)
        return invalid(err, &p, "the number is missing");
    enum number_status s = number_parse(text, &n);
    if (s != NUMBER_OK)
        return invalid(err, &p, "an N value %s", number_problem(s));
    *out = wrap("N", xjson(cJSON_CreateString(text)));
    return RESULT_OK;
}

/* Shared by item_av_ss() and item_av_ns(). */
static enum result make_set(char kind, const char *const *values, size_t count,
                            const char *field, cJSON **out,
                            struct error_info *err)
{
    enum result r = RESULT_OK;
    const char **sorted = NULL;
    cJSON *array = NULL;
    struct path p;
    char type[3] = {kind, 'S', '\0'};

    path_init(&p, field);
    if (count == 0 || !values)
        return invalid(err, &p, "a %s must not be empty", type);
    sorted = xmalloc(count * sizeof(*sorted));
    array = xjson(cJSON_CreateArray());
    for (size_t i = 0; i < count; i++) {
        size_t mark = path_push(&p, "[%zu]", i);
        cJSON *e = values[i] ? xjson(cJSON_CreateString(values[i])) : NULL;
        r = e ? check_scalar(kind, e, &p, err)
              : invalid(err, &p, "a %s value is NULL", type);
        path_pop(&p, mark);
        if (r != RESULT_OK) {
            cJSON_Delete(e);
            goto done;
        }
        xjson_append(array, e);
        sorted[i] = values[i];
    }
    r = check_unique(kind, sorted, count, &p, err);
    if (r != RESULT_OK)
        goto done;
    *out = wrap(type, array);
    array = NULL;
done:
    cJSON_Delete(array);
    free(sorted);
    return r;
}

enum result item_av_ss(const char *const *values, size_t count,
                       const char *field, cJSON **out, struct error_info *err)
{
    return make_set('S', values, count, field, out, err);
}

enum result item_av_ns(const char *const *values, size_t count,
                       const char *field, cJSON **out, struct error_info *err)
{
    return make_set('N', values, count, field, out, err);
}

/* ---- Conversion -------------------------------------------------------------
 */

static enum result from_plain(const cJSON *json, int depth, struct path *p,
                              cJSON **out, struct error_info *err);

/* Plain object -> M (or, for an item, the bare name -> AV object). */
static enum result from_plain_object(const cJSON *json, bool top_level,
                                     int depth, struct path *p, cJSON **out,
                                     struct error_info *err)
{
    enum result r = RESULT_OK;
    cJSON *map = NULL;
    const char *dup = duplicate_name(json);

    if (dup && top_level)
        return error_field(err, dup, "attribute '%.64s' appears twice", dup);
    if (dup)
        return invalid(err, p, "the object has the key '%.64s' twice", dup);
    map = xjson(cJSON_CreateObject());
    for (const cJSON *c = json->child; c; c = c->next) {
        cJSON *av = NULL;
        r = check_name(c->string, top_level, p, err);
        if (r != RESULT_OK)
            goto done;
        size_t mark = path_push_name(p, c->string);
        r = from_plain(c, top_level ? 0 : depth + 1, p, &av, err);
        path_pop(p, mark);
        if (r != RESULT_OK)
            goto done;
        xjson_add(map, c->string, av);
    }
    *out = top_level ? map : wrap("M", map);
    map = NULL;
done:
    cJSON_Delete(map);
    return r;
}

static enum result from_plain_array(const cJSON *json, int depth,
                                    struct path *p, cJSON **out,
                                    struct error_info *err)
{
    enum result r = RESULT_OK;
    cJSON *list = xjson(cJSON_CreateArray());
    size_t i = 0;

    for (const cJSON *c = json->child; c; c = c->next, i++) {
        cJSON *av = NULL;
        size_t mark = path_push(p, "[%zu]", i);
        r = from_plain(c, depth + 1, p, &av, err);
        path_pop(p, mark);
        if (r != RESULT_OK)
            goto done;
        xjson_append(list, av);
    }
    *out = wrap("L", list);
    list = NULL;
done:
    cJSON_Delete(list);
    return r;
}

static enum result from_plain_number(const cJSON *json, const struct path *p,
                                     cJSON **out, struct error_info *err)
{
    char buf[64];
    const char *text = buf;
    struct number n;

    if (cJSON_IsRaw(json)) {
        if (!json->valuestring)
            return invalid(err, p, "a raw JSON value is not a number");
        text = json->valuestring;
    } else if (!double_text(json->valuedouble, buf, sizeof(buf))) {
        return invalid(err, p, "a number is not finite");
    }
    enum number_status s = number_parse(text, &n);
    if (s == NUMBER_SYNTAX && cJSON_IsRaw(json))
        return invalid(err, p, "a raw JSON value is not a number");
    if (s != NUMBER_OK)
        return invalid(err, p, "the number %s", number_problem(s));
    *out = wrap("N", xjson(cJSON_CreateString(text)));
    return RESULT_OK;
}

/* `depth` counts the M/L levels around `json`: 0 for an item's attribute. */
static enum result from_plain(const cJSON *json, int depth, struct path *p,
                              cJSON **out, struct error_info *err)
{
    if (cJSON_IsObject(json) || cJSON_IsArray(json)) {
        if (depth >= ITEM_MAX_DEPTH)
            return invalid(err, p, "nested deeper than %d levels",
                           ITEM_MAX_DEPTH);
        return cJSON_IsObject(json)
                   ? from_plain_object(json, false, depth, p, out, err)
                   : from_plain_array(json, depth, p, out, err);
    }
    if (cJSON_IsString(json)) {
        if (!json->valuestring || !utf8_valid(json->valuestring))
            return invalid(err, p, "a string is not valid UTF-8");
        *out = item_av_s(json->valuestring);
        return RESULT_OK;
    }
    if (cJSON_IsNumber(json) || cJSON_IsRaw(json))
        return from_plain_number(json, p, out, err);
    if (cJSON_IsBool(json)) {
        *out = item_av_bool(cJSON_IsTrue(json));
        return RESULT_OK;
    }
    if (cJSON_IsNull(json)) {
        *out = item_av_null();
        return RESULT_OK;
    }
    return invalid(err, p, "a JSON value has no type");
}

static cJSON *to_plain(const cJSON *av);

/* The elements of a valid set as strings ('S', 'B') or Raw numbers. */
static cJSON *set_to_plain(char kind, const cJSON *set)
{
    cJSON *array = xjson(cJSON_CreateArray());
    for (const cJSON *e = set->child; e; e = e->next)
        xjson_append(array, kind == 'N'
                                ? raw_number(e->valuestring)
                                : xjson(cJSON_CreateString(e->valuestring)));
    return array;
}

/* Converts a validated AV; cannot fail (bar memory exhaustion). */
static cJSON *to_plain(const cJSON *av)
{
    const cJSON *v = av->child;
    const char *type = v->string;

    if (!strcmp(type, "S") || !strcmp(type, "B"))
        return xjson(cJSON_CreateString(v->valuestring));
    if (!strcmp(type, "N"))
        return raw_number(v->valuestring);
    if (!strcmp(type, "BOOL"))
        return xjson(cJSON_CreateBool(cJSON_IsTrue(v)));
    if (!strcmp(type, "NULL"))
        return xjson(cJSON_CreateNull());
    if (!strcmp(type, "M")) {
        cJSON *object = xjson(cJSON_CreateObject());
        for (const cJSON *c = v->child; c; c = c->next)
            xjson_add(object, c->string, to_plain(c));
        return object;
    }
    if (!strcmp(type, "L")) {
        cJSON *array = xjson(cJSON_CreateArray());
        for (const cJSON *c = v->child; c; c = c->next)
            xjson_append(array, to_plain(c));
        return array;
    }
    return set_to_plain(type[0], v);
}

enum result item_av_from_json(const cJSON *json, const char *field, cJSON **out,
                              struct error_info *err)
{
    struct path p;
    path_init(&p, field);
    return from_plain(json, 0, &p, out, err);
}

enum result item_av_to_json(const cJSON *av, const char *field, cJSON **out,
                            struct error_info *err)
{
    enum result r = item_av_validate(av, field, err);
    if (r != RESULT_OK)
        return r;
    *out = to_plain(av);
    return RESULT_OK;
}

enum result item_from_json(const cJSON *json, cJSON **out,
                           struct error_info *err)
{
    struct path p;
    path_init(&p, "");
    if (!cJSON_IsObject(json))
        return invalid(err, &p, "an item must be a JSON object");
    return from_plain_object(json, true, 0, &p, out, err);
}

enum result item_to_json(const cJSON *item, cJSON **out, struct error_info *err)
{
    enum result r = item_validate(item, err);
    if (r != RESULT_OK)
        return r;
    cJSON *object = xjson(cJSON_CreateObject());
    for (const cJSON *a = item->child; a; a = a->next)
        xjson_add(object, a->string, to_plain(a));
    *out = object;
    return RESULT_OK;
}

/* ---- Items: accessors and setters -----------------------------------------
 */

cJSON *item_new(void)
{
    return xjson(cJSON_CreateObject());
}

const cJSON *item_get_av(const cJSON *item, const char *name)
{
    if (!cJSON_IsObject(item) || !name)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(item, name);
}

/* The value under type key `type` of attribute `name`, or NULL. */
static const cJSON *typed(const cJSON *item, const char *name, const char *type)
{
    const cJSON *av = item_get_av(item, name);
    if (!cJSON_IsObject(av))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(av, type);
}

const char *item_get_s(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "S");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *item_get_n(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "N");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *item_get_m(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "M");
    return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *item_get_l(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "L");
    return cJSON_IsArray(v) ? v : NULL;
}

const cJSON *item_get_ss(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "SS");
    return cJSON_IsArray(v) ? v : NULL;
}

const cJSON *item_get_ns(const cJSON *item, const char *name)
{
    const cJSON *v = typed(item, name, "NS");
    return cJSON_IsArray(v) ? v : NULL;
}

enum result item_get_i64(const cJSON *item, const char *name, int64_t *out)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    return item_number_i64(item_get_n(item, name), out);
}

enum result item_get_double(const cJSON *item, const char *name, double *out)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    const char *text = item_get_n(item, name);
    if (!item_number_valid(text))
        return RESULT_INVALID_INPUT;
    *out = strtod(text, NULL);
    return RESULT_OK;
}

enum result item_get_bool(const cJSON *item, const char *name, bool *out)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    const cJSON *v = typed(item, name, "BOOL");
    if (!cJSON_IsBool(v))
        return RESULT_INVALID_INPUT;
    *out = cJSON_IsTrue(v);
    return RESULT_OK;
}

enum result item_get_b(const cJSON *item, const char *name, unsigned char **out,
                       size_t *len)
{
    if (!item_get_av(item, name))
        return RESULT_NOT_FOUND;
    const cJSON *v = typed(item, name, "B");
    unsigned char *bytes =
        cJSON_IsString(v) && v->valuestring
            ? base64_decode(v->valuestring, strlen(v->valuestring), BASE64_STD,
                            len)
            : NULL;
    if (!bytes)
        return RESULT_INVALID_INPUT;
    *out = bytes;
    return RESULT_OK;
}

void item_set(cJSON *item, const char *name, cJSON *av)
{
    bool ok;
    if (cJSON_GetObjectItemCaseSensitive(item, name))
        ok = cJSON_ReplaceItemInObjectCaseSensitive(item, name, av);
    else
        ok = cJSON_AddItemToObject(item, name, av);
    if (!ok) {
        fprintf(stderr, "streamer: out of memory building JSON\n");
        abort();
    }
}

void item_set_s(cJSON *item, const char *name, const char *s)
{
    item_set(item, name, item_av_s(s));
}

void item_set_i64(cJSON *item, const char *name, int64_t v)
{
    item_set(item, name, item_av_i64(v));
}

void item_set_bool(cJSON *item, const char *name, bool v)
{
    item_set(item, name, item_av_bool(v));
}

void item_set_null(cJSON *item, const char *name)
{
    item_set(item, name, item_av_null());
}

void item_set_m(cJSON *item, const char *name, cJSON *map)
{
    item_set(item, name, item_av_m(map));
}

void item_set_l(cJSON *item, const char *name, cJSON *list)
{
    item_set(item, name, item_av_l(list));
}

void item_set_b(cJSON *item, const char *name, const void *bytes, size_t len)
{
    item_set(item, name, item_av_b(bytes, len));
}

enum result item_set_n(cJSON *item, const char *name, const char *text,
                       struct error_info *err)
{
    cJSON *av = NULL;
    enum result r = item_av_n(text, name, &av, err);
    if (r == RESULT_OK)
        item_set(item, name, av);
    return r;
}

enum result item_set_ss(cJSON *item, const char *name,
                        const char *const *values, size_t count,
                        struct error_info *err)
{
    cJSON *av = NULL;
    enum result r = item_av_ss(values, count, name, &av, err);
    if (r == RESULT_OK)
        item_set(item, name, av);
    return r;
}

enum result item_set_ns(cJSON *item, const char *name,
                        const char *const *values, size_t count,
                        struct error_info *err)
{
    cJSON *av = NULL;
    enum result r = item_av_ns(values, count, name, &av, err);
    if (r == RESULT_OK)
        item_set(item, name, av);
    return r;
}

void item_remove(cJSON *item, const char *name)
{
    cJSON_DeleteItemFromObjectCaseSensitive(item, name);
}

/* ---- Sizes ------------------------------------------------------------------
 */

static size_t number_size(const char *text)
{
    struct number n;
    if (number_parse(text, &n) != NUMBER_OK)
        return strlen(text) / 2 + 1;
    return (n.ndigits + 1) / 2 + 1;
}

/* One scalar of kind 'S', 'N' or 'B'; 0 when it is not a string. */
static size_t scalar_size(char kind, const cJSON *v)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return 0;
    if (kind == 'N')
        return number_size(v->valuestring);
    if (kind == 'B')
        return b64_decoded_len(v->valuestring);
    return strlen(v->valuestring);
}

size_t item_av_size_bytes(const cJSON *av)
{
    if (!cJSON_IsObject(av) || !av->child || !av->child->string)
        return 0;
    const cJSON *v = av->child;
    const char *type = v->string;
    size_t size = 0;

    if (!strcmp(type, "S") || !strcmp(type, "N") || !strcmp(type, "B"))
        return scalar_size(type[0], v);
    if (!strcmp(type, "BOOL") || !strcmp(type, "NULL"))
        return 1;
    if (!strcmp(type, "SS") || !strcmp(type, "NS") || !strcmp(type, "BS")) {
        for (const cJSON *e = v->child; e; e = e->next)
            size += scalar_size(type[0], e);
        return size;
    }
    if (!strcmp(type, "M") || !strcmp(type, "L")) {
        size = 3;
        for (const cJSON *c = v->child; c; c = c->next) {
            size += 1 + item_av_size_bytes(c);
            if (type[0] == 'M' && c->string)
                size += strlen(c->string);
        }
    }
    return size;
}

/* The size of one attribute: its name's bytes plus its value's size. */
static size_t attribute_size(const cJSON *a)
{
    return (a->string ? strlen(a->string) : 0) + item_av_size_bytes(a);
}

size_t item_size_bytes(const cJSON *item)
{
    size_t size = 0;
    if (!cJSON_IsObject(item))
        return 0;
    for (const cJSON *a = item->child; a; a = a->next)
        size += attribute_size(a);
    return size;
}

enum result item_check_size(const cJSON *item, const char *field,
                            struct error_info *err)
{
    size_t total = 0, largest = 0;
    const char *largest_name = "item";

    if (!cJSON_IsObject(item))
        return RESULT_OK;
    for (const cJSON *a = item->child; a; a = a->next) {
        size_t size = attribute_size(a);
        total += size;
        if (size > largest && a->string) {
            largest = size;
            largest_name = a->string;
        }
    }
    if (total <= ITEM_MAX_SIZE_BYTES)
        return RESULT_OK;
    return error_field(err, field ? field : largest_name,
                       "the item is %zu bytes, over DynamoDB's item size "
                       "limit of %d bytes (400 KB); its largest attribute, "
                       "'%.64s', is %zu bytes",
                       total, ITEM_MAX_SIZE_BYTES, largest_name, largest);
}

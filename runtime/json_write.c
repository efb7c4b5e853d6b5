/*
 * cJSON trees written as compact JSON, byte for byte as
 * cJSON_PrintUnformatted() writes them, in fewer instructions.
 *
 * Why: every DynamoDB request and every answer to the Runtime API is a
 * tree printed once. cJSON's printer escapes a string in two passes, a
 * byte at a time, and grows its buffer through a bounds check per token:
 * about 40 instructions per byte of a PutItem body (callgrind, issue 18).
 * This one copies each run of bytes that need no escape with one memcpy.
 *
 * What cJSON 1.7.15 writes, and so what this writes (print_value,
 * print_number, print_string_ptr in cJSON.c): null, false, true; a
 * number as "%1.15g", or "%1.17g" when that does not read back within
 * DBL_EPSILON of the value (cJSON's compare_double), and "null" for NaN
 * and the infinities; a string with `"` `\` \b \f \n \r \t
 * escaped by name, other bytes below 0x20 as \u00xx (lower-case hex),
 * every other byte (UTF-8 included) as it is, and a NULL string as "";
 * a raw item's text as it is; arrays and objects without white space.
 */
#include "json_write.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "xmalloc.h"

/* Not struct buf: its buf_append() checks a cap and rewrites the NUL on
 * every call, across a file boundary; for the hundred-odd pieces of a
 * PutItem that measured +9k instructions per $connect (callgrind). */
struct out {
    char *p;
    size_t len, cap;
};

static void reserve(struct out *o, size_t more)
{
    if (o->cap - o->len > more)
        return;
    size_t cap = o->cap ? o->cap : 256;
    while (cap - o->len <= more)
        cap *= 2;
    o->p = xrealloc(o->p, cap);
    o->cap = cap;
}

static void put(struct out *o, const char *s, size_t n)
{
    reserve(o, n);
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_char(struct out *o, char c)
{
    reserve(o, 1);
    o->p[o->len++] = c;
}

/* 1 for the bytes a JSON string must escape. */
static const unsigned char needs_escape[256] =
    {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
};

size_t json_escape(unsigned char c, char out[6])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        out[1] = (char)c;
        return 2;
    case '\b':
        out[1] = 'b';
        return 2;
    case '\f':
        out[1] = 'f';
        return 2;
    case '\n':
        out[1] = 'n';
        return 2;
    case '\r':
        out[1] = 'r';
        return 2;
    case '\t':
        out[1] = 't';
        return 2;
    default:
        memcpy(out + 1, "u00", 3);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
    }
}

static void put_string(struct out *o, const char *s)
{
    put_char(o, '"');
    if (s) {
        const unsigned char *p = (const unsigned char *)s;
        for (;;) {
            const unsigned char *run = p;
            while (!needs_escape[*p]) /* NUL included: it ends the run */
                p++;
            put(o, (const char *)run, (size_t)(p - run));
            if (!*p)
                break;
            char esc[6];
            put(o, esc, json_escape(*p++, esc));
        }
    }
    put_char(o, '"');
}

/* cJSON's compare_double: equal within DBL_EPSILON of the larger. */
static int close_enough(double a, double b)
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= max * DBL_EPSILON;
}

static void put_number(struct out *o, const cJSON *item)
{
    double d = item->valuedouble;
    char text[32];
    size_t n;
    if (isnan(d) || isinf(d)) {
        put(o, "null", 4);
        return;
    }
    if (fabs(d) < 1e15 && d == (double)(long long)d &&
        !(d == 0 && signbit(d))) {
        /* What "%1.15g" writes for an integer of at most 15 digits. */
        n = text_i64(text, (long long)d);
    } else {
        double back = 0;
        int k = snprintf(text, sizeof(text), "%1.15g", d);
        if (sscanf(text, "%lg", &back) != 1 || !close_enough(back, d))
            k = snprintf(text, sizeof(text), "%1.17g", d);
        n = k > 0 ? (size_t)k : 0;
    }
    put(o, text, n);
}

static int put_value(struct out *o, const cJSON *item)
{
    switch (item->type & 0xFF) {
    case cJSON_NULL:
        put(o, "null", 4);
        return 0;
    case cJSON_False:
        put(o, "false", 5);
        return 0;
    case cJSON_True:
        put(o, "true", 4);
        return 0;
    case cJSON_Number:
        put_number(o, item);
        return 0;
    case cJSON_String:
        put_string(o, item->valuestring);
        return 0;
    case cJSON_Raw:
        if (!item->valuestring)
            return -1;
        put(o, item->valuestring, strlen(item->valuestring));
        return 0;
    case cJSON_Array:
    case cJSON_Object: {
        int object = (item->type & 0xFF) == cJSON_Object;
        put_char(o, object ? '{' : '[');
        for (const cJSON *c = item->child; c; c = c->next) {
            if (object) {
                put_string(o, c->string);
                put_char(o, ':');
            }
            if (put_value(o, c) != 0)
                return -1;
            if (c->next)
                put_char(o, ',');
        }
        put_char(o, object ? '}' : ']');
        return 0;
    }
    default:
        return -1; /* cJSON_Invalid */
    }
}

char *json_write(const cJSON *item, size_t *len)
{
    struct out o = {0};
    if (!item || put_value(&o, item) != 0) {
        free(o.p);
        return NULL;
    }
    put_char(&o, '\0');
    if (len)
        *len = o.len - 1;
    return o.p;
}

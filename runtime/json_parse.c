/*
 * JSON text read into a cJSON tree exactly as cJSON 1.7.15 reads it, in
 * fewer instructions.
 *
 * Why: every event, message body, token part and DynamoDB answer is read
 * once, and cJSON's string reader walks each string twice a byte at a
 * time with a bounds check per byte: its parse_string alone was 33k of
 * the 533k instructions of a warm $connect (callgrind, issue 18). Here a
 * string's end is found through a table of the two bytes that stop it,
 * and its runs without escapes are copied with memcpy.
 *
 * What cJSON accepts, and so what this accepts (cJSON.c: parse_value,
 * parse_string, utf16_literal_to_utf8, parse_number, parse_array,
 * parse_object, buffer_skip_whitespace, skip_utf8_bom,
 * cJSON_ParseWithLengthOpts), over the `len` bytes given:
 * - white space is any byte up to 0x20, NUL included;
 * - a UTF-8 byte order mark first is skipped when 5 bytes or more follow;
 * - null, false, true; a string; a number starting with '-' or a digit;
 *   an array; an object; at most 1000 arrays and objects deep;
 * - a string runs to the next '"' not after a backslash; inside it any
 *   byte goes as it is (control bytes and invalid UTF-8 too); escapes
 *   are \b \f \n \r \t \" \\ \/ and \uXXXX, a high surrogate needing a
 *   \uXXXX low one after it, a lone low surrogate refused, and four bytes
 *   that are not hex digits reading as U+0000;
 * - a number is the longest run of "0123456789+-eE." that strtod() reads
 *   at least one byte of, and it ends where strtod() stopped; valueint is
 *   valuedouble saturated to int;
 * - an object's names are strings, duplicates kept in order;
 * - with require_null_terminated, only white space may follow, and the
 *   last byte read must be a NUL (cJSON's own rule: the NUL must be
 *   inside `len`).
 * tests/unit/check_json_parse.c holds this to cJSON's own answers.
 */
#include "json_parse.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define NESTING_LIMIT 1000 /* cJSON.h's CJSON_NESTING_LIMIT */

struct in {
    const unsigned char *s;
    size_t len, off;
    size_t depth;
};

/* cJSON's buffer_skip_whitespace(), to the byte: it stops on the last
 * byte when the text ends in white space. */
static void skip_space(struct in *in)
{
    if (in->off >= in->len)
        return;
    while (in->off < in->len && in->s[in->off] <= 32)
        in->off++;
    if (in->off == in->len)
        in->off--;
}

static int can_access(const struct in *in, size_t i)
{
    return in->off + i < in->len;
}

static cJSON *new_node(void)
{
    cJSON *n = cJSON_malloc(sizeof(*n));
    if (n)
        memset(n, 0, sizeof(*n));
    return n;
}

static unsigned hex4(const unsigned char *p)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return 0; /* as cJSON's parse_hex4 */
        h = h << 4 | d;
    }
    return h;
}

/* A \u escape at `p` (before `end`, the closing quote) as UTF-8 at `*out`;
 * the bytes of input it took (6 or 12), or 0 when it is refused. */
static size_t utf16_escape(const unsigned char *p, const unsigned char *end,
                           unsigned char **out)
{
    if (end - p < 6)
        return 0;
    unsigned long cp = hex4(p + 2);
    size_t took = 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return 0;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        const unsigned char *q = p + 6;
        if (end - q < 6 || q[0] != '\\' || q[1] != 'u')
            return 0;
        unsigned low = hex4(q + 2);
        if (low < 0xDC00 || low > 0xDFFF)
            return 0;
        cp = 0x10000 + (((cp & 0x3FF) << 10) | (low & 0x3FF));
        took = 12;
    }
    unsigned char *o = *out;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *out = o;
    return took;
}

/* 1 for the bytes that stop a string's scan: '"' and '\\'. */
static const unsigned char string_stop[256] = {['"'] = 1, ['\\'] = 1};

/* A string at in->off (a '"'), its text into `*text` (cJSON's hooks). */
static int read_string(struct in *in, char **text)
{
    const unsigned char *start = in->s + in->off + 1;
    const unsigned char *limit = in->s + in->len;
    const unsigned char *end = start;
    size_t escapes = 0;
    if (in->s[in->off] != '"')
        return 0;
    for (;;) {
        while (end < limit && !string_stop[*end])
            end++;
        if (end >= limit)
            return 0; /* no closing quote */
        if (*end == '"')
            break;
        if (end + 1 >= limit)
            return 0; /* a backslash last */
        escapes++;
        end += 2;
    }
    size_t n = (size_t)(end - start);
    unsigned char *out = cJSON_malloc(n - escapes + 1);
    if (!out)
        return 0;
    unsigned char *o = out;
    const unsigned char *p = start;
    while (p < end) {
        const unsigned char *bs =
            escapes ? memchr(p, '\\', (size_t)(end - p)) : NULL;
        size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!bs)
            break;
        size_t took = 2;
        switch (p[1]) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            *o++ = p[1];
            break;
        case 'u':
            took = utf16_escape(p, end, &o);
            if (took)
                break;
            /* fall through */
        default:
            cJSON_free(out);
            in->off = (size_t)(p - in->s);
            return 0;
        }
        p += took;
    }
    *o = '\0';
    *text = (char *)out;
    in->off = (size_t)(end - in->s) + 1;
    return 1;
}

static int read_number(struct in *in, cJSON *item)
{
    size_t n = 0;
    while (can_access(in, n)) {
        unsigned char c = in->s[in->off + n];
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' ||
            c == 'E' || c == '.')
            n++;
        else
            break;
    }
    /* strtod needs a NUL after the run; the text may have none. */
    char small[64], *copy = n < sizeof(small) ? small : malloc(n + 1);
    if (!copy)
        return 0;
    memcpy(copy, in->s + in->off, n);
    copy[n] = '\0';
    char *after = copy;
    double d = strtod(copy, &after);
    size_t took = (size_t)(after - copy);
    if (copy != small)
        free(copy);
    if (took == 0)
        return 0;
    item->valuedouble = d;
    item->valueint = d >= INT_MAX           ? INT_MAX
                     : d <= (double)INT_MIN ? INT_MIN
                                            : (int)d;
    item->type = cJSON_Number;
    in->off += took;
    return 1;
}

static int read_value(struct in *in, cJSON *item);

/* An array or an object at in->off ('[' or '{'), as cJSON reads them. */
static int read_list(struct in *in, cJSON *item, int object)
{
    unsigned char close = object ? '}' : ']';
    cJSON *head = NULL, *last = NULL;
    if (in->depth >= NESTING_LIMIT)
        return 0;
    in->depth++;
    in->off++;
    skip_space(in);
    if (can_access(in, 0) && in->s[in->off] == close)
        goto done;
    if (!can_access(in, 0))
        goto fail;
    in->off--;
    do {
        cJSON *n = new_node();
        if (!n)
            goto fail;
        if (!head) {
            head = n;
        } else {
            last->next = n;
            n->prev = last;
        }
        last = n;
        if (object && !can_access(in, 1))
            goto fail; /* nothing after the comma */
        in->off++;
        skip_space(in);
        if (object) {
            if (!read_string(in, &n->string))
                goto fail;
            skip_space(in);
            if (!can_access(in, 0) || in->s[in->off] != ':')
                goto fail;
            in->off++;
            skip_space(in);
        }
        if (!read_value(in, n))
            goto fail;
        skip_space(in);
    } while (can_access(in, 0) && in->s[in->off] == ',');
    if (!can_access(in, 0) || in->s[in->off] != close)
        goto fail;
done:
    in->depth--;
    if (head)
        head->prev = last;
    item->type = object ? cJSON_Object : cJSON_Array;
    item->child = head;
    in->off++;
    return 1;
fail:
    cJSON_Delete(head);
    return 0;
}

static int literal(struct in *in, const char *word, size_t n)
{
    if (in->off + n > in->len || memcmp(in->s + in->off, word, n) != 0)
        return 0;
    in->off += n;
    return 1;
}

static int read_value(struct in *in, cJSON *item)
{
    if (literal(in, "null", 4)) {
        item->type = cJSON_NULL;
        return 1;
    }
    if (literal(in, "false", 5)) {
        item->type = cJSON_False;
        return 1;
    }
    if (literal(in, "true", 4)) {
        item->type = cJSON_True;
        item->valueint = 1;
        return 1;
    }
    if (!can_access(in, 0))
        return 0;
    unsigned char c = in->s[in->off];
    if (c == '"') {
        if (!read_string(in, &item->valuestring))
            return 0;
        item->type = cJSON_String;
        return 1;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return read_number(in, item);
    if (c == '[' || c == '{')
        return read_list(in, item, c == '{');
    return 0;
}

cJSON *json_parse(const char *text, size_t len, const char **end,
                  int require_null_terminated)
{
    struct in in = {(const unsigned char *)text, len, 0, 0};
    cJSON *item = NULL;
    if (!text || len == 0)
        goto fail;
    item = new_node();
    if (!item)
        goto fail;
    if (can_access(&in, 4) && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        in.off = 3;
    skip_space(&in);
    if (!read_value(&in, item))
        goto fail;
    if (require_null_terminated) {
        skip_space(&in);
        if (in.off >= in.len || in.s[in.off] != '\0')
            goto fail;
    }
    if (end)
        *end = text + in.off;
    return item;
fail:
    cJSON_Delete(item);
    if (end && text)
        *end = text + (in.off < len ? in.off : len ? len - 1 : 0);
    return NULL;
}

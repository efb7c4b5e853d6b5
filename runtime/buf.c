/* A growable byte buffer with a size cap. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

void buf_init(struct buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_bytes = max_bytes;
}

void buf_cleanup(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the terminator. */
static enum result reserve(struct buf *b, size_t extra)
{
    if (extra > b->max_bytes || b->len > b->max_bytes - extra)
        return RESULT_TOO_LARGE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return RESULT_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return RESULT_OK;
}

enum result buf_reserve(struct buf *b, size_t extra)
{
    enum result r = reserve(b, extra);
    if (r == RESULT_OK)
        b->data[b->len] = '\0'; /* still a string, if a new one */
    return r;
}

enum result buf_move(struct buf *to, struct buf *from)
{
    if (from->len > to->max_bytes)
        return RESULT_TOO_LARGE;
    free(to->data);
    to->data = from->data;
    to->len = from->len;
    to->cap = from->cap;
    from->data = NULL;
    from->len = 0;
    from->cap = 0;
    return RESULT_OK;
}

enum result buf_append(struct buf *b, const void *p, size_t n)
{
    enum result r = reserve(b, n);
    if (r != RESULT_OK)
        return r;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RESULT_OK;
}

enum result buf_appends(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum result buf_append_strs(struct buf *b, ...)
{
    va_list ap;
    size_t total = 0;
    va_start(ap, b);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        total += strlen(s);
    va_end(ap);
    enum result r = reserve(b, total);
    if (r != RESULT_OK)
        return r;
    va_start(ap, b);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        size_t n = strlen(s);
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
    va_end(ap);
    b->data[b->len] = '\0';
    return RESULT_OK;
}

enum result buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return RESULT_INTERNAL;
    enum result r = reserve(b, (size_t)n);
    if (r != RESULT_OK)
        return r;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return RESULT_OK;
}

enum result buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum result r = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return r;
}

char *buf_steal(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}

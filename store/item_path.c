/* Item paths: where a check is, for its error message. */
#include "item_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void item_path_init(struct item_path *p, const char *root)
{
    p->root = root ? root : "value";
    p->depth = 0;
}

static size_t push(struct item_path *p, const char *name, size_t index)
{
    size_t mark = p->depth;
    if (mark < ITEM_PATH_SEGMENTS) {
        p->seg[mark].name = name;
        p->seg[mark].index = index;
    }
    p->depth++;
    return mark;
}

size_t item_path_push_index(struct item_path *p, size_t index)
{
    return push(p, NULL, index);
}

size_t item_path_push_name(struct item_path *p, const char *name)
{
    return push(p, name ? name : "(null)", 0); /* as printf("%s") has it */
}

void item_path_pop(struct item_path *p, size_t mark)
{
    p->depth = mark;
}

/* Appends `n` bytes of `s` to `out` (holding `*len`), as much as fits
 * before the terminator; counts all, then caps, as snprintf() would. */
static void put(char *out, size_t *len, const char *s, size_t n)
{
    size_t room = ITEM_PATH_BYTES - 1 - *len;
    memcpy(out + *len, s, n < room ? n : room);
    *len = n < room ? *len + n : ITEM_PATH_BYTES - 1;
}

/* Writes the path as text into `out`, as the printf-style pushes this
 * replaced wrote it step by step; returns its length. */
static size_t path_text(const struct item_path *p, char out[ITEM_PATH_BYTES])
{
    size_t len = 0;
    put(out, &len, p->root, strlen(p->root));
    size_t shown =
        p->depth < ITEM_PATH_SEGMENTS ? p->depth : ITEM_PATH_SEGMENTS;
    for (size_t i = 0; i < shown; i++) {
        const struct item_path_segment *s = &p->seg[i];
        if (s->name) {
            if (len)
                put(out, &len, ".", 1);
            put(out, &len, s->name, strlen(s->name));
        } else {
            char index[32];
            int n = snprintf(index, sizeof(index), "[%zu]", s->index);
            put(out, &len, index, (size_t)n);
        }
    }
    out[len] = '\0';
    return len;
}

enum result item_path_invalid(struct error_info *err, const struct item_path *p,
                              const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    char text[ITEM_PATH_BYTES];
    const char *where = path_text(p, text) ? text : "item";
    return error_field(err, where, "%s: %s", where, what);
}

/* Item paths: where a check is, for its error message. */
#include "item_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void item_path_init(struct item_path *p, const char *root)
{
    snprintf(p->text, sizeof(p->text), "%s", root ? root : "value");
    p->len = strlen(p->text);
}

size_t item_path_push(struct item_path *p, const char *fmt, ...)
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

size_t item_path_push_name(struct item_path *p, const char *name)
{
    return p->len ? item_path_push(p, ".%s", name)
                  : item_path_push(p, "%s", name);
}

void item_path_pop(struct item_path *p, size_t mark)
{
    p->len = mark;
    p->text[mark] = '\0';
}

enum result item_path_invalid(struct error_info *err, const struct item_path *p,
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

/* Allocation that aborts on memory exhaustion. */
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"

static void oom(size_t n)
{
    fprintf(stderr, "streamer: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void json_oom(void)
{
    fprintf(stderr, "streamer: out of memory building JSON\n");
    abort();
}

cJSON *xjson(cJSON *node)
{
    if (!node)
        json_oom();
    return node;
}

void xjson_add(cJSON *object, const char *name, cJSON *value)
{
    if (!cJSON_AddItemToObject(object, name, xjson(value)))
        json_oom();
}

void xjson_append(cJSON *array, cJSON *value)
{
    if (!cJSON_AddItemToArray(array, xjson(value)))
        json_oom();
}

char *xjson_print(const cJSON *node)
{
    char *text = json_write(node, NULL);
    if (!text)
        json_oom();
    return text;
}

const char *json_string_member(const cJSON *object, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

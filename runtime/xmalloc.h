/* Allocation that aborts on memory exhaustion. */
#ifndef STREAMER_XMALLOC_H
#define STREAMER_XMALLOC_H

#include <cjson/cJSON.h>
#include <stddef.h>

/*
 * Like malloc/calloc/realloc/strdup, but never return NULL: when memory is
 * exhausted they print a message to stderr and abort. Free with free().
 */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copies at most `n` bytes of `s` and NUL-terminates the copy. */
char *xstrndup(const char *s, size_t n);

/*
 * The same for building JSON: cJSON returns NULL from a constructor, or
 * false from an add, only when malloc failed. xjson() passes `node`
 * through; xjson_add() / xjson_append() take ownership of `value` (which
 * may come straight from a constructor).
 */
cJSON *xjson(cJSON *node);
void xjson_add(cJSON *object, const char *name, cJSON *value);
void xjson_append(cJSON *array, cJSON *value);
/* cJSON_PrintUnformatted(node), aborting when memory is exhausted (the
 * only way it fails for a tree we built). Caller frees. */
char *xjson_print(const cJSON *node);
/* The string value of `object`'s member `name`, or NULL when there is
 * none or it is not a string. Borrowed from `object`. */
const char *json_string_member(const cJSON *object, const char *name);

#endif

/* Allocation that aborts on memory exhaustion. */
#ifndef STREAMER_XMALLOC_H
#define STREAMER_XMALLOC_H

#include <cjson/cJSON.h>
#include <stddef.h>

/*
 * Like malloc/calloc/realloc/strdup, but never return NULL: when memory is
 * exhausted they print a message to stderr and abort. A size of 0 is
 * taken as 1. Caller owns the result; free with free().
 */
/* malloc(n). */
void *xmalloc(size_t n);
/* calloc(count, size): zeroed. */
void *xcalloc(size_t count, size_t size);
/* realloc(p, n): on return `p` is no longer valid. */
void *xrealloc(void *p, size_t n);
/* strdup(s); `s` must not be NULL. */
char *xstrdup(const char *s);
/* Copies at most `n` bytes of `s` and NUL-terminates the copy. */
char *xstrndup(const char *s, size_t n);

/*
 * The same for building JSON: cJSON returns NULL from a constructor, or
 * false from an add, only when malloc failed. xjson() passes `node`
 * through; xjson_add() / xjson_append() take ownership of `value` (which
 * may come straight from a constructor).
 */
/* Returns `node`, aborting when it is NULL. */
cJSON *xjson(cJSON *node);
/* Adds `value` to `object` as `name` (owned by `object` from then on). */
void xjson_add(cJSON *object, const char *name, cJSON *value);
/* Appends `value` to `array` (owned by `array` from then on). */
void xjson_append(cJSON *array, cJSON *value);
/* What cJSON_PrintUnformatted(node) gives, written by json_write(),
 * aborting when it fails (memory exhausted, or a node no tree we build
 * holds). Caller frees with free(). */
char *xjson_print(const cJSON *node);
/* The string value of `object`'s member `name`, or NULL when there is
 * none or it is not a string. Borrowed from `object`. */
const char *json_string_member(const cJSON *object, const char *name);

#endif

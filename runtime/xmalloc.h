/* Allocation that aborts on memory exhaustion. */
#ifndef STREAMER_XMALLOC_H
#define STREAMER_XMALLOC_H

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

#endif

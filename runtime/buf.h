/* A growable byte buffer with a size cap (owned bytes). */
#ifndef STREAMER_BUF_H
#define STREAMER_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "result.h"

/*
 * Owned bytes, always NUL-terminated after `len` (the terminator is not
 * counted). `max_bytes` caps `len`; an append past it fails with
 * RESULT_TOO_LARGE and leaves the buffer as it was.
 */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max_bytes;
};

/* Prepares an empty buffer holding at most `max_bytes`; allocates nothing. */
void buf_init(struct buf *b, size_t max_bytes);
/* Frees the bytes and leaves `b` empty and reusable. */
void buf_cleanup(struct buf *b);
/* Empties `b` but keeps its memory for reuse. */
void buf_reset(struct buf *b);

/*
 * Makes room for `extra` more bytes at once (one allocation instead of
 * doublings, when the size is known ahead); RESULT_TOO_LARGE past the
 * cap, then `b` is unchanged.
 */
enum result buf_reserve(struct buf *b, size_t extra) WARN_UNUSED;

/*
 * Moves the bytes of `from` into `to` without a copy: `to`'s old bytes
 * are freed, its cap kept; `from` is left empty, its cap kept.
 * RESULT_TOO_LARGE, with both unchanged, when `from` holds more than
 * `to`'s cap.
 */
enum result buf_move(struct buf *to, struct buf *from) WARN_UNUSED;

/* Appends `n` bytes; RESULT_TOO_LARGE past the cap (then `b` is unchanged). */
enum result buf_append(struct buf *b, const void *p, size_t n) WARN_UNUSED;
/* Appends the C string `s`, as buf_append(). */
enum result buf_appends(struct buf *b, const char *s) WARN_UNUSED;
/*
 * Appends the C strings given, up to a NULL, as one buf_append(): all or
 * nothing (RESULT_TOO_LARGE past the cap, then `b` is unchanged). The
 * printf-free way to join the parts of a request on a hot path.
 */
enum result buf_append_strs(struct buf *b, ...) WARN_UNUSED
    __attribute__((sentinel));
/* Appends printf-formatted text, as buf_append(): RESULT_TOO_LARGE past
 * the cap (then `b` is unchanged). */
enum result buf_appendf(struct buf *b, const char *fmt, ...) WARN_UNUSED
    __attribute__((format(printf, 2, 3)));
/* buf_appendf() with a va_list. */
enum result buf_vappendf(struct buf *b, const char *fmt,
                         va_list ap) WARN_UNUSED;

/*
 * Returns the bytes as a NUL-terminated string that the caller now owns
 * (free with free()), and leaves `b` empty. Never NULL.
 */
char *buf_steal(struct buf *b);

/* Returns the bytes as a C string (never NULL, "" when empty); `b` owns it. */
const char *buf_str(const struct buf *b);

#endif

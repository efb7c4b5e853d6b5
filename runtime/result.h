/* The project's one result enum and the error details that travel with it. */
#ifndef STREAMER_RESULT_H
#define STREAMER_RESULT_H

#include <stdarg.h>

#define WARN_UNUSED __attribute__((warn_unused_result))

enum result {
    RESULT_OK = 0,
    RESULT_INVALID_INPUT,    /* a caller's value failed validation */
    RESULT_NOT_FOUND,        /* the item or resource does not exist */
    RESULT_ALREADY_EXISTS,   /* a create met an existing item */
    RESULT_CONDITION_FAILED, /* stale version or wrong state */
    RESULT_THROTTLED,        /* throttled, and retries ran out */
    RESULT_SERVICE_ERROR,    /* an AWS error not named above */
    RESULT_TRANSPORT,        /* connection refused, reset, DNS, TLS */
    RESULT_TIMEOUT,          /* a deadline passed */
    RESULT_PARSE,            /* a peer sent bytes we cannot read */
    RESULT_TOO_LARGE,        /* a size cap was hit */
    RESULT_CONFIG,           /* a setting is missing or wrong */
    RESULT_FATAL,            /* the Runtime API asked us to exit */
    RESULT_UNSUPPORTED,      /* not implemented, or an unknown event */
    RESULT_INTERNAL,         /* a bug or a library failure */
};

/* Returns a static name for `r`, e.g. "not found"; never NULL. */
const char *result_str(enum result r);

/*
 * Details a caller or a log needs. Every field is a NUL-terminated string,
 * empty when unknown. The caller owns the struct; functions only fill it.
 */
struct error_info {
    char type[128];    /* AWS error type (after '#'), or our own */
    char message[512]; /* human-readable, never contains secrets */
    char field[64];    /* the input that failed validation */
    int http_status;   /* 0 when no HTTP exchange took place */
};

/* Clears every field of `e` (NULL is allowed and ignored). */
void error_clear(struct error_info *e);

/*
 * Sets `e`'s type and a printf-formatted message and returns `r`, so a
 * failing path can say `return error_set(err, RESULT_X, "Type", "...")`.
 * `e` may be NULL.
 */
enum result error_set(struct error_info *e, enum result r, const char *type,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Sets `e`'s type, `field` and a vprintf-formatted message; returns `r`.
 * Other members are left as they are. `e` may be NULL.
 */
enum result error_vfield(struct error_info *e, enum result r, const char *type,
                         const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* error_vfield() with RESULT_INVALID_INPUT and the type "InvalidInput":
 * names the invalid input `field`. */
enum result error_field(struct error_info *e, const char *field,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

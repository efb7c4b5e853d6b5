/* Names for result codes and the error-details struct. */
#include "result.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *result_str(enum result r)
{
    switch (r) {
    case RESULT_OK:
        return "ok";
    case RESULT_INVALID_INPUT:
        return "invalid input";
    case RESULT_NOT_FOUND:
        return "not found";
    case RESULT_ALREADY_EXISTS:
        return "already exists";
    case RESULT_CONDITION_FAILED:
        return "condition failed";
    case RESULT_THROTTLED:
        return "throttled";
    case RESULT_SERVICE_ERROR:
        return "service error";
    case RESULT_TRANSPORT:
        return "transport error";
    case RESULT_TIMEOUT:
        return "timeout";
    case RESULT_PARSE:
        return "parse error";
    case RESULT_TOO_LARGE:
        return "too large";
    case RESULT_CONFIG:
        return "configuration error";
    case RESULT_FATAL:
        return "fatal runtime error";
    case RESULT_UNSUPPORTED:
        return "unsupported";
    case RESULT_INTERNAL:
        return "internal error";
    }
    return "unknown result";
}

void error_clear(struct error_info *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

enum result error_set(struct error_info *e, enum result r, const char *type,
                      const char *fmt, ...)
{
    if (!e)
        return r;
    snprintf(e->type, sizeof(e->type), "%s", type ? type : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return r;
}

enum result error_vfield(struct error_info *e, enum result r, const char *type,
                         const char *field, const char *fmt, va_list ap)
{
    if (!e)
        return r;
    snprintf(e->type, sizeof(e->type), "%s", type);
    snprintf(e->field, sizeof(e->field), "%s", field);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    return r;
}

enum result error_field(struct error_info *e, const char *field,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum result r =
        error_vfield(e, RESULT_INVALID_INPUT, "InvalidInput", field, fmt, ap);
    va_end(ap);
    return r;
}

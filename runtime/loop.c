/* The runtime loop: next event, handler, response or error, forever. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define MAX_BAD_ANSWERS 5
#define OUT_MAX_BYTES (64u * 1024u * 1024u)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * Lambda passes the X-Ray trace header per invocation; the runtime must
 * expose it as _X_AMZN_TRACE_ID ("Building a custom runtime": "Propagate
 * the tracing header").
 */
static void set_trace_env(const struct invocation *inv)
{
    if (inv->trace_id[0])
        setenv("_X_AMZN_TRACE_ID", inv->trace_id, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");
}

/* GET /next with a few retries for a refused or broken connection. */
static enum result next_event(struct runtime_api *api, struct invocation *inv,
                              const struct loop_options *o,
                              struct error_info *err)
{
    int attempts = o->next_attempts > 0 ? o->next_attempts : 4;
    int pause_ms = o->next_backoff_ms > 0 ? o->next_backoff_ms : 50;
    enum result r = RESULT_TRANSPORT;
    for (int i = 0; i < attempts; i++) {
        error_clear(err);
        r = runtime_api_next(api, inv, err);
        if (r != RESULT_TRANSPORT)
            return r;
        log_msg(LOG_WARN, "runtime api unreachable (attempt %d of %d): %s",
                i + 1, attempts, err->message);
        if (i + 1 < attempts)
            sleep_ms(pause_ms << i);
    }
    return r;
}

/* Runs the handler on one event and posts what it answered. Returns only
 * RESULT_FATAL or a transport failure as errors worth ending the loop. */
static enum result serve(struct runtime_api *api, loop_handler_fn fn, void *ctx,
                         const struct invocation *inv, struct buf *out)
{
    struct error_info herr, perr;
    error_clear(&herr);
    error_clear(&perr);
    buf_reset(out);
    enum result hr = fn(ctx, inv, out, &herr);
    enum result pr;
    if (hr == RESULT_OK && out->len <= RUNTIME_API_MAX_RESPONSE_BYTES) {
        pr = runtime_api_respond(api, inv->request_id, buf_str(out), out->len,
                                 &perr);
    } else if (hr == RESULT_OK) {
        log_msg(LOG_ERROR, "response over %u bytes; reporting an error",
                RUNTIME_API_MAX_RESPONSE_BYTES);
        pr = runtime_api_fail(api, inv->request_id,
                              "Function.ResponseSizeTooLarge",
                              "Response payload size exceeded maximum "
                              "allowed payload size (6291556 bytes).",
                              &perr);
    } else {
        const char *type = herr.type[0] ? herr.type : "Runtime.HandlerError";
        log_kv(LOG_ERROR, "handler failed", "errorType", type, "result",
               result_str(hr), "errorMessage", herr.message, (char *)NULL);
        pr = runtime_api_fail(api, inv->request_id, type,
                              herr.message[0] ? herr.message : result_str(hr),
                              &perr);
    }
    if (pr != RESULT_OK)
        log_msg(LOG_ERROR, "posting the result failed: %s", perr.message);
    return pr == RESULT_FATAL || pr == RESULT_TRANSPORT ? pr : RESULT_OK;
}

int loop_run(struct runtime_api *api, loop_handler_fn fn, void *ctx,
             const struct loop_options *opts)
{
    struct loop_options defaults = {0, 4, 50};
    const struct loop_options *o = opts ? opts : &defaults;
    struct invocation inv;
    struct buf out;
    struct error_info err;
    int status = 1;
    long served = 0;
    int bad_answers = 0;

    invocation_init(&inv);
    /* Room past Lambda's limit, so an oversize result is seen whole and
     * reported as such rather than as a failed append. */
    buf_init(&out, OUT_MAX_BYTES);
    for (;;) {
        enum result r = next_event(api, &inv, o, &err);
        if (r == RESULT_FATAL || r == RESULT_TRANSPORT) {
            log_msg(LOG_FATAL, "runtime api: %s; exiting", err.message);
            break;
        }
        if (r != RESULT_OK) {
            /* An answer we cannot use. When it named an invocation, that
             * invocation gets the error; a Runtime API that keeps sending
             * nonsense is as good as gone. */
            log_msg(LOG_ERROR, "runtime api: %s", err.message);
            struct error_info perr;
            error_clear(&perr);
            if (inv.request_id[0] &&
                runtime_api_fail(api, inv.request_id, err.type, err.message,
                                 &perr) != RESULT_OK)
                log_msg(LOG_ERROR, "reporting it failed: %s", perr.message);
            if (++bad_answers >= MAX_BAD_ANSWERS) {
                log_msg(LOG_FATAL,
                        "runtime api: %d unusable answers in a "
                        "row; exiting",
                        bad_answers);
                break;
            }
            continue;
        }
        bad_answers = 0;
        log_set_request_id(inv.request_id);
        set_trace_env(&inv);
        r = serve(api, fn, ctx, &inv, &out);
        log_set_request_id(NULL);
        if (r != RESULT_OK) {
            log_msg(LOG_FATAL, "runtime api failed while posting; exiting");
            break;
        }
        if (o->max_invocations && ++served >= o->max_invocations) {
            status = 0;
            break;
        }
    }
    buf_cleanup(&out);
    invocation_cleanup(&inv);
    return status;
}

/* The runtime loop: next event, handler, response or error, forever. */
#ifndef STREAMER_LOOP_H
#define STREAMER_LOOP_H

#include "buf.h"
#include "result.h"
#include "runtime_api.h"

/*
 * Handles one event. Writes the response JSON into `out` (capped at
 * RUNTIME_API_MAX_RESPONSE_BYTES) and returns RESULT_OK, or fails with
 * `err->type` as the Lambda error type (a default is used when empty) and
 * `err->message` as the message. Everything the handler allocates for the
 * invocation is freed before it returns.
 */
typedef enum result (*loop_handler_fn)(void *ctx, const struct invocation *inv,
                                       struct buf *out, struct error_info *err);

struct loop_options {
    /* Stop after this many invocations (tests, benchmarks); 0 = never. */
    long max_invocations;
    /* Attempts at /next when the connection fails, and the first pause. */
    int next_attempts;
    int next_backoff_ms;
};

/*
 * Runs the loop until the Runtime API fails fatally (HTTP 500: exit
 * promptly, as documented), /next stays unreachable after
 * `next_attempts`, or `max_invocations` were served. For each event it
 * sets _X_AMZN_TRACE_ID (unset when the header is absent) and the log's
 * request id. A handler error never ends the loop; a result over 6 MB is
 * reported as Function.ResponseSizeTooLarge instead of being sent.
 * Returns the process exit status: 0 after max_invocations, 1 otherwise.
 */
int loop_run(struct runtime_api *api, loop_handler_fn fn, void *ctx,
             const struct loop_options *opts);

#endif

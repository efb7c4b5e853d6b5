/* Event dispatch: tell an event's kind by its shape and route it. */
#ifndef STREAMER_DISPATCH_H
#define STREAMER_DISPATCH_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "app.h"
#include "result.h"
#include "runtime_api.h"

enum event_kind {
    EVENT_UNKNOWN = 0,
    EVENT_CONNECT,    /* API Gateway WebSocket $connect */
    EVENT_DISCONNECT, /* API Gateway WebSocket $disconnect */
    EVENT_MESSAGE,    /* API Gateway WebSocket message (any route) */
    EVENT_STREAM,     /* DynamoDB Streams batch */
    EVENT_SCHEDULE,   /* EventBridge "Scheduled Event" */
    EVENT_RETRY_PASS, /* the retry pass's schedule input (retry_pass.h) */
};

/* Returns "connect", "disconnect", ... or "unknown". */
const char *dispatch_kind_str(enum event_kind kind);

/*
 * Classifies a parsed event by its shape: requestContext.eventType
 * (CONNECT | DISCONNECT | MESSAGE) with a connectionId; Records[] whose
 * eventSource is "aws:dynamodb"; source "aws.events" with detail-type
 * "Scheduled Event"; source "streamer" with detail-type "Retry Pass" (the
 * constant input of the pass's schedule). Anything else is EVENT_UNKNOWN.
 */
enum event_kind dispatch_classify(const cJSON *event);

/*
 * The loop handler (a loop_handler_fn; `ctx` is a struct app *): parses
 * the event, classifies it and calls its handler. An event that is not
 * JSON or of no known shape fails with type Runtime.UnknownEvent.
 */
enum result dispatch_handle(void *ctx, const struct invocation *inv,
                            struct buf *out, struct error_info *err);

#endif

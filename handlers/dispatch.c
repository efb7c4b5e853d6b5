/* Event dispatch: tell an event's kind by its shape and route it. */
#include "dispatch.h"

#include <string.h>

#include "connect.h"
#include "disconnect.h"
#include "json_arena.h"
#include "log.h"
#include "message.h"
#include "processor.h"
#include "retry_pass.h"
#include "sweeper.h"
#include "xmalloc.h"

const char *dispatch_kind_str(enum event_kind kind)
{
    switch (kind) {
    case EVENT_CONNECT:
        return "connect";
    case EVENT_DISCONNECT:
        return "disconnect";
    case EVENT_MESSAGE:
        return "message";
    case EVENT_STREAM:
        return "stream";
    case EVENT_SCHEDULE:
        return "schedule";
    case EVENT_RETRY_PASS:
        return "retry-pass";
    case EVENT_UNKNOWN:
        break;
    }
    return "unknown";
}

/* API Gateway WebSocket events: "Setting up WebSocket API integration
 * requests" — requestContext carries eventType and connectionId. */
static enum event_kind websocket_kind(const cJSON *ctx)
{
    const char *type = json_string_member(ctx, "eventType");
    const char *id = json_string_member(ctx, "connectionId");
    if (!type || !id || !*id)
        return EVENT_UNKNOWN;
    if (strcmp(type, "CONNECT") == 0)
        return EVENT_CONNECT;
    if (strcmp(type, "DISCONNECT") == 0)
        return EVENT_DISCONNECT;
    if (strcmp(type, "MESSAGE") == 0)
        return EVENT_MESSAGE;
    return EVENT_UNKNOWN;
}

/* "Using AWS Lambda with Amazon DynamoDB": Records[].eventSource is
 * "aws:dynamodb". An empty batch is not a stream event of ours. */
static int is_stream(const cJSON *event)
{
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(event, "Records");
    const cJSON *first = cJSON_IsArray(records) ? records->child : NULL;
    const char *source =
        first ? json_string_member(first, "eventSource") : NULL;
    return source && strcmp(source, "aws:dynamodb") == 0;
}

enum event_kind dispatch_classify(const cJSON *event)
{
    if (!cJSON_IsObject(event))
        return EVENT_UNKNOWN;
    const cJSON *ctx =
        cJSON_GetObjectItemCaseSensitive(event, "requestContext");
    if (cJSON_IsObject(ctx))
        return websocket_kind(ctx);
    if (is_stream(event))
        return EVENT_STREAM;
    const char *source = json_string_member(event, "source");
    const char *detail = json_string_member(event, "detail-type");
    if (source && detail && strcmp(source, "aws.events") == 0 &&
        strcmp(detail, "Scheduled Event") == 0)
        return EVENT_SCHEDULE;
    if (source && detail && strcmp(source, RETRY_PASS_SOURCE) == 0 &&
        strcmp(detail, RETRY_PASS_DETAIL_TYPE) == 0)
        return EVENT_RETRY_PASS;
    return EVENT_UNKNOWN;
}

enum result dispatch_handle(void *ctx, const struct invocation *inv,
                            struct buf *out, struct error_info *err)
{
    struct app *a = ctx;
    /* The event and what is parsed from it live in the arena for the
     * length of the event (json_arena.h). */
    cJSON *event = json_arena_parse(buf_str(&inv->event), inv->event.len, 0);
    enum event_kind kind = dispatch_classify(event);
    int64_t deadline = inv->deadline_ms;
    enum result r;
    log_kv(LOG_DEBUG, "event", "kind", dispatch_kind_str(kind), (char *)NULL);
    switch (kind) {
    case EVENT_CONNECT:
        r = connect_handle(a, event, deadline, out, err);
        break;
    case EVENT_DISCONNECT:
        r = disconnect_handle(a, event, deadline, out, err);
        break;
    case EVENT_MESSAGE:
        r = message_handle(a, event, buf_str(&inv->event), inv->event.len,
                           deadline, out, err);
        break;
    case EVENT_SCHEDULE:
        r = sweeper_handle(a, event, deadline, out, err);
        break;
    case EVENT_STREAM:
        r = processor_handle(a, event, deadline, out, err);
        break;
    case EVENT_RETRY_PASS:
        r = retry_pass_handle(a, event, deadline, out, err);
        break;
    case EVENT_UNKNOWN:
    default:
        r = error_set(err, RESULT_UNSUPPORTED, "Runtime.UnknownEvent",
                      event ? "the event has no shape this function handles"
                            : "the event is not valid JSON");
        break;
    }
    json_arena_delete(event);
    json_arena_reset();
    return r;
}

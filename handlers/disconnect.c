/* $disconnect: forget the connection, its subscriptions, its queue. */
#include "disconnect.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "connections.h"
#include "event.h"
#include "log.h"
#include "push.h"
#include "reply.h"
#include "requests.h"

/* Cancels every PENDING request of the connection; returns how many. */
static int cancel_pending(struct app *a, const char *connection_id,
                          int64_t deadline_ms)
{
    int cancelled = 0;
    char *cursor = NULL;
    struct error_info err;
    do {
        struct req_page page;
        error_clear(&err);
        enum result r = req_list_by_connection(
            &a->store, connection_id, 0, cursor, &page, deadline_ms, &err);
        free(cursor);
        cursor = NULL;
        if (r != RESULT_OK) {
            log_kv(LOG_WARN, "listing the connection's requests failed",
                   "error", err.message, (char *)NULL);
            break;
        }
        for (size_t i = 0; i < page.count; i++) {
            struct request *q = &page.items[i];
            if (q->status != REQ_PENDING)
                continue;
            /* A request claimed meanwhile is left to its processor. */
            if (req_cancel(&a->store, q, deadline_ms, &err) == RESULT_OK)
                cancelled++;
        }
        cursor = page.next_cursor;
        page.next_cursor = NULL;
        req_page_cleanup(&page);
    } while (cursor);
    return cancelled;
}

/* Seconds between connectedAt (epoch ms in the event) and now; -1 when
 * the event's value is missing or not a time up to now (outside input:
 * a value past the range of int64_t must not be converted). */
static long lasted_seconds(const struct app *a, const cJSON *event)
{
    double at = event_ctx_num(event, "connectedAt", 0);
    int64_t now = a->now_ms();
    if (!(at > 0 && at <= (double)now))
        return -1;
    return (long)((now - (int64_t)at) / 1000);
}

/* The close code of the event, or 0 when it is not one (0..9999). */
static int status_code(const cJSON *event)
{
    double code = event_ctx_num(event, "disconnectStatusCode", 0);
    return code >= 0 && code <= 9999 ? (int)code : 0;
}

enum result disconnect_handle(struct app *a, const cJSON *event,
                              int64_t deadline_ms, struct buf *out,
                              struct error_info *err)
{
    (void)err;
    const char *id = event_ctx_str(event, "connectionId");
    push_forget(a, id, deadline_ms);
    int cancelled = cancel_pending(a, id, deadline_ms);
    char lasted[32], cancelled_s[16], code[16];
    snprintf(lasted, sizeof(lasted), "%ld", lasted_seconds(a, event));
    snprintf(cancelled_s, sizeof(cancelled_s), "%d", cancelled);
    snprintf(code, sizeof(code), "%d", status_code(event));
    log_kv(LOG_INFO, "disconnected", "connectionId", id, "lastedSeconds",
           lasted, "cancelledRequests", cancelled_s, "statusCode", code,
           (char *)NULL);
    return reply_route(out, 200, NULL);
}

/* The sweeper: drop connections whose clients stopped pinging. */
#include "sweeper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "connections.h"
#include "log.h"
#include "metrics.h"
#include "processor.h"
#include "requests.h"
#include "subscriptions.h"

/*
 * Fails the requests of `status` that have been stuck since before
 * `cutoff` (RFC 3339): PROCESSING since processing_started, RETRYING since
 * its retry was due. Returns how many; failures are logged.
 */
static size_t abandon_stuck(struct app *a, enum req_status status,
                            const char *cutoff, int64_t deadline_ms)
{
    size_t n = 0;
    char *cursor = NULL;
    do {
        struct req_page page = {0};
        struct error_info err;
        error_clear(&err);
        enum result r = req_list_by_status(&a->store, status, 0, cursor, &page,
                                           deadline_ms, &err);
        free(cursor);
        cursor = NULL;
        if (r != RESULT_OK) {
            log_kv(LOG_WARN, "listing stuck requests failed", "status",
                   req_status_str(status), "error", err.message, (char *)NULL);
            break;
        }
        for (size_t i = 0; i < page.count; i++) {
            struct request *q = &page.items[i];
            const char *since = status == REQ_PROCESSING ? q->processing_started
                                : *q->retry_after        ? q->retry_after
                                                         : q->updated_at;
            if (!*since || strcmp(since, cutoff) >= 0)
                continue;
            /* A lease tells when its invocation was gone: the retry pass
             * takes such requests within a minute. This rule is the last
             * resort for requests without one. */
            if (status == REQ_PROCESSING && *q->lease_expires)
                continue;
            if (processor_abandon(a, q,
                                  "processing was interrupted and will not "
                                  "resume",
                                  deadline_ms, &err) == RESULT_OK)
                n++;
            else
                log_kv(LOG_WARN, "failing a stuck request failed", "requestId",
                       q->request_id, "error", err.message, (char *)NULL);
        }
        cursor = page.next_cursor;
        page.next_cursor = NULL;
        req_page_cleanup(&page);
    } while (cursor);
    return n;
}

enum result sweeper_handle(struct app *a, const cJSON *event,
                           int64_t deadline_ms, struct buf *out,
                           struct error_info *err)
{
    (void)event;
    int64_t before = a->now_ms() - (int64_t)a->cfg.stale_after_seconds * 1000;
    char **ids = NULL;
    size_t count = 0;
    enum result r =
        conn_delete_stale(&a->store, before, deadline_ms, &ids, &count, err);
    for (size_t i = 0; i < count; i++) {
        struct error_info serr;
        error_clear(&serr);
        if (sub_delete_by_connection(&a->store, ids[i], deadline_ms, NULL,
                                     &serr) != RESULT_OK)
            log_kv(LOG_WARN,
                   "deleting a stale connection's subscriptions "
                   "failed",
                   "connectionId", ids[i], "error", serr.message, (char *)NULL);
        free(ids[i]);
    }
    free(ids);
    if (count)
        metrics_count(a->cfg.metrics_namespace, "StaleConnectionsRemoved",
                      (int64_t)count, NULL, NULL);
    if (r != RESULT_OK)
        return r;
    /* No invocation holds a request this long (Lambda's limit is 15 min):
     * one still PROCESSING or RETRYING was lost with its invocation. */
    char cutoff[CLOCK_RFC3339_SIZE];
    clock_rfc3339(a->now_ms() - (int64_t)SWEEPER_STUCK_AFTER_SECONDS * 1000,
                  cutoff);
    size_t abandoned = abandon_stuck(a, REQ_PROCESSING, cutoff, deadline_ms) +
                       abandon_stuck(a, REQ_RETRYING, cutoff, deadline_ms);
    if (abandoned)
        metrics_count(a->cfg.metrics_namespace, "RequestsAbandoned",
                      (int64_t)abandoned, NULL, NULL);
    char removed[32], failed[32];
    snprintf(removed, sizeof(removed), "%zu", count);
    snprintf(failed, sizeof(failed), "%zu", abandoned);
    log_kv(LOG_INFO, "sweep done", "removed", removed, "abandoned", failed,
           (char *)NULL);
    buf_reset(out);
    return buf_appendf(out, "{\"removed\":%zu,\"abandoned\":%zu}", count,
                       abandoned);
}

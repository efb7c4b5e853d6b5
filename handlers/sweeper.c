/* The sweeper: drop connections whose clients stopped pinging. */
#include "sweeper.h"

#include <stdio.h>
#include <stdlib.h>

#include "connections.h"
#include "log.h"
#include "metrics.h"
#include "subscriptions.h"

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
    char removed[32];
    snprintf(removed, sizeof(removed), "%zu", count);
    log_kv(LOG_INFO, "sweep done", "removed", removed, (char *)NULL);
    if (r != RESULT_OK)
        return r;
    buf_reset(out);
    return buf_appendf(out, "{\"removed\":%zu}", count);
}

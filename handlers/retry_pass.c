/* The scheduled pass: due retries and requests whose lease passed. */
#include "retry_pass.h"

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "processor.h"
#include "requests.h"

/* What one pass did. */
struct tally {
    size_t ran, reclaimed, failed, skipped, left, errors;
};

static void count(struct tally *t, enum processor_outcome how)
{
    switch (how) {
    case PROCESSOR_RAN:
        t->ran++;
        break;
    case PROCESSOR_RECLAIMED:
        t->reclaimed++;
        break;
    case PROCESSOR_EXHAUSTED:
        t->failed++;
        break;
    case PROCESSOR_SKIPPED:
        t->skipped++;
        break;
    }
}

/*
 * Runs the due requests of `status` (RETRYING: retry_after has come;
 * PROCESSING: the lease passed by PROCESSOR_LEASE_GRACE_MS), page by
 * page, until they or the time run out. Returns 0 when the time ran out.
 */
static int run_due(struct app *a, enum req_status status, int64_t deadline_ms,
                   struct tally *t)
{
    int64_t now = a->now_ms();
    char cut[CLOCK_RFC3339_SIZE];
    clock_rfc3339(
        status == REQ_PROCESSING ? now - PROCESSOR_LEASE_GRACE_MS : now, cut);
    char *cursor = NULL;
    int in_time = 1;
    do {
        struct req_page page = {0};
        struct error_info err;
        error_clear(&err);
        enum result r = req_list_due(&a->store, status, cut, 0, cursor, &page,
                                     deadline_ms, &err);
        free(cursor);
        cursor = NULL;
        if (r != RESULT_OK) {
            log_kv(LOG_WARN, "listing due requests failed", "status",
                   req_status_str(status), "error", err.message, (char *)NULL);
            t->errors++;
            break;
        }
        for (size_t i = 0; i < page.count; i++) {
            if (deadline_ms > 0 &&
                a->now_ms() + RETRY_PASS_MIN_LEFT_MS > deadline_ms) {
                t->left += page.count - i;
                in_time = 0;
                break;
            }
            char id[STORE_MAX_ID_BYTES + 1];
            snprintf(id, sizeof(id), "%s", page.items[i].request_id);
            enum processor_outcome how = PROCESSOR_SKIPPED;
            error_clear(&err);
            if (processor_run(a, &page.items[i], deadline_ms, &how, &err) !=
                RESULT_OK) {
                log_kv(LOG_WARN,
                       "running a due request failed; the next pass "
                       "tries again",
                       "requestId", id, "error", err.message, (char *)NULL);
                t->errors++;
            }
            count(t, how);
        }
        if (in_time) {
            cursor = page.next_cursor;
            page.next_cursor = NULL;
        }
        req_page_cleanup(&page);
    } while (cursor);
    return in_time;
}

enum result retry_pass_handle(struct app *a, const cJSON *event,
                              int64_t deadline_ms, struct buf *out,
                              struct error_info *err)
{
    (void)event;
    (void)err;
    struct tally t = {0};
    /* Lost runs first: their subscribers have waited longest. */
    if (run_due(a, REQ_PROCESSING, deadline_ms, &t))
        run_due(a, REQ_RETRYING, deadline_ms, &t);
    const char *ns = a->cfg.metrics_namespace;
    if (t.ran)
        metrics_count(ns, "RetriesRun", (int64_t)t.ran, NULL, NULL);
    char line[160];
    snprintf(line, sizeof(line),
             "ran %zu, reclaimed %zu, failed %zu, skipped %zu, left %zu, "
             "errors %zu",
             t.ran, t.reclaimed, t.failed, t.skipped, t.left, t.errors);
    log_kv(LOG_INFO, "retry pass done", "summary", line, (char *)NULL);
    buf_reset(out);
    return buf_appendf(out,
                       "{\"ran\":%zu,\"reclaimed\":%zu,\"failed\":%zu,"
                       "\"skipped\":%zu,\"left\":%zu,\"errors\":%zu}",
                       t.ran, t.reclaimed, t.failed, t.skipped, t.left,
                       t.errors);
}

/* The stream processor: runs queued async requests and reports progress. */
#include "processor.h"

#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "connections.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "parts.h"
#include "push.h"
#include "reply.h"
#include "requests.h"
#include "retry.h"
#include "subscriptions.h"
#include "xmalloc.h"

/* One request being run. */
struct job {
    struct app *a;
    struct request req;
    int64_t deadline_ms;
    struct notify notify; /* its listeners, read once per push interval */
    int64_t last_push_ms; /* 0: no progress pushed yet */
    int floor; /* progress stored before this attempt: not pushed again */
    int cancelled;
    int lost; /* another invocation took the request over (lease passed) */
    enum result infra; /* a store failure met while running, or OK */
    struct error_info infra_err;
};

/*
 * Sends `frames` to every listener of `event`, all at once (notify.c).
 * Listeners are read again at most once per push interval, and always
 * for the final frames.
 */
static void notify_frames(struct job *j, unsigned event, char *const *frames,
                          size_t count)
{
    if (!j->notify.a)
        notify_init(&j->notify, j->a, j->req.tenant_id, j->req.user_id,
                    j->req.request_id, PROCESSOR_PUSH_INTERVAL_MS);
    notify_send(&j->notify, event, frames, count, event != SUB_PROGRESS,
                j->deadline_ms);
}

/* Sends `message` (taken) to every listener of `event`. */
static void notify(struct job *j, unsigned event, char *message)
{
    notify_frames(j, event, &message, 1);
    free(message);
}

static void notify_error(struct job *j, const char *message)
{
    notify(
        j, SUB_ERROR,
        reply_error(j->req.request_id, REPLY_PROCESSING_FAILED, message, NULL));
}

/* After a write failed its condition: was the request cancelled? */
static int was_cancelled(struct job *j)
{
    struct request now;
    struct error_info err;
    if (req_get(&j->a->store, j->req.tenant_id, j->req.user_id,
                j->req.request_id, &now, j->deadline_ms, &err) != RESULT_OK)
        return 0;
    int cancelled = now.status == REQ_CANCELLED;
    req_cleanup(&now);
    return cancelled;
}

/*
 * The runner's progress callback. A report is stored and pushed together,
 * at most once per push interval (the first and 100% always): a runner
 * that reports 10,000 times costs a few writes, not 10,000. Reports in
 * between are dropped; the final state is written by the completion.
 */
static enum result on_progress(void *ctx, int percentage, const char *message)
{
    struct job *j = ctx;
    if (percentage < 0)
        percentage = 0;
    if (percentage > 100)
        percentage = 100;
    int64_t now = j->a->now_ms();
    if (percentage < 100 && j->last_push_ms != 0 &&
        now - j->last_push_ms < PROCESSOR_PUSH_INTERVAL_MS)
        return RESULT_OK;
    struct error_info err;
    enum result r = req_update_progress(&j->a->store, &j->req, percentage,
                                        message, NULL, j->deadline_ms, &err);
    if (r == RESULT_CONDITION_FAILED) {
        /* Cancelled, or taken over by another invocation that found our
         * lease passed: either way this run must stop. */
        if (was_cancelled(j))
            j->cancelled = 1;
        else
            j->lost = 1;
        return r;
    }
    if (r != RESULT_OK) {
        j->infra = r;
        j->infra_err = err;
        return r;
    }
    /* A later attempt (a retry, a run taken over) starts again from 0;
     * its subscribers already heard up to `floor` and never hear less. */
    j->last_push_ms = now;
    if (j->floor > 0 && percentage < 100 && percentage <= j->floor)
        return RESULT_OK;
    char ts[CLOCK_RFC3339_SIZE];
    clock_rfc3339(now, ts);
    notify(j, SUB_PROGRESS,
           reply_progress(j->req.request_id, percentage, message, ts));
    return RESULT_OK;
}

/* Saves the end of a run and tells the subscribers. */
static enum result finish(struct job *j, enum result run, cJSON *result,
                          const struct error_info *run_err,
                          struct error_info *err)
{
    struct store *s = &j->a->store;
    enum result r;
    char ts[CLOCK_RFC3339_SIZE];
    if (run == RESULT_OK) {
        r = req_complete(s, &j->req, result, j->deadline_ms, err);
        if (r == RESULT_OK) {
            clock_rfc3339(j->a->now_ms(), ts);
            size_t count = 0;
            char **frames =
                parts_complete(j->req.request_id, result, ts, &count);
            notify_frames(j, SUB_COMPLETE, frames, count);
            parts_free(frames, count);
            return RESULT_OK;
        }
        if (r != RESULT_INVALID_INPUT)
            goto out;
        /* A result DynamoDB cannot hold (over 400 KB, a number out of
         * its range) fails the request: running it again cannot help. */
        struct error_info why;
        error_set(&why, r, "ResultNotStorable",
                  "the result cannot be "
                  "stored: %s",
                  err->message);
        r = req_fail(s, &j->req, why.message, j->deadline_ms, err);
        if (r == RESULT_OK)
            notify_error(j, why.message);
    } else {
        r = req_fail(s, &j->req, run_err->message, j->deadline_ms, err);
        if (r == RESULT_OK)
            notify_error(j, run_err->message);
    }
out:
    if (r == RESULT_CONDITION_FAILED) {
        /* Cancelled at the last moment, or taken over by another
         * invocation (our lease passed): not ours to save any more. */
        if (!was_cancelled(j))
            log_kv(LOG_WARN, "request taken over before it was saved",
                   "requestId", j->req.request_id, (char *)NULL);
        r = RESULT_OK;
    }
    return r;
}

/*
 * After a retryable failure: RETRYING with retry_after, then, when the
 * wait is short (PROCESSOR_MAX_RETRY_WAIT_MS) and the deadline leaves
 * room, a sleep and PROCESSING again. Otherwise `*later` is set: the
 * request stays RETRYING, this record is done with, and the scheduled
 * pass runs the retry once it is due (so no shard waits for it).
 */
static enum result back_off(struct job *j, int *later, struct error_info *err)
{
    struct store *s = &j->a->store;
    *later = 0;
    int shift = j->req.retry_count < 16 ? j->req.retry_count : 16;
    int64_t delay = (int64_t)PROCESSOR_RETRY_BASE_MS << shift;
    if (delay > PROCESSOR_RETRY_CAP_MS)
        delay = PROCESSOR_RETRY_CAP_MS;
    int64_t now = j->a->now_ms();
    clock_rfc3339(now + delay, j->req.retry_after);
    enum result r =
        req_update_status(s, &j->req, REQ_RETRYING, j->deadline_ms, err);
    if (r != RESULT_OK)
        return r;
    if (delay > PROCESSOR_MAX_RETRY_WAIT_MS ||
        (j->deadline_ms > 0 &&
         now + delay + PROCESSOR_ATTEMPT_MARGIN_MS > j->deadline_ms)) {
        log_kv(LOG_INFO, "retry left to the scheduled pass", "requestId",
               j->req.request_id, "retryAfter", j->req.retry_after,
               (char *)NULL);
        *later = 1;
        return RESULT_OK;
    }
    retry_sleep_real(NULL, delay);
    r = req_update_status(s, &j->req, REQ_PROCESSING, j->deadline_ms, err);
    if (r == RESULT_CONDITION_FAILED) { /* the pass took it meanwhile */
        *later = 1;
        return RESULT_OK;
    }
    return r;
}

/* Runs attempts until one ends the request or the retries stop. */
static enum result run_attempts(struct job *j, const struct action *action,
                                const cJSON *payload, struct error_info *err)
{
    for (;;) {
        struct action_call call = {payload, j->req.retry_count, on_progress, j,
                                   j->deadline_ms};
        if (j->req.progress > j->floor)
            j->floor = j->req.progress;
        cJSON *result = NULL;
        struct error_info run_err;
        error_clear(&run_err);
        enum result run = action->run(&call, &result, &run_err);
        if (j->cancelled || j->lost) {
            cJSON_Delete(result);
            log_kv(LOG_INFO,
                   j->cancelled ? "request cancelled while running"
                                : "request taken over by another invocation",
                   "requestId", j->req.request_id, (char *)NULL);
            return RESULT_OK;
        }
        if (j->infra != RESULT_OK) {
            cJSON_Delete(result);
            *err = j->infra_err;
            return j->infra;
        }
        if (run != RESULT_OK && strcmp(run_err.type, ACTION_RETRYABLE) == 0 &&
            j->req.retry_count < j->req.max_retries) {
            log_kv(LOG_INFO, "retryable failure", "requestId",
                   j->req.request_id, "error", run_err.message, (char *)NULL);
            int later = 0;
            enum result r = back_off(j, &later, err);
            if (r != RESULT_OK || later)
                return r;
            continue;
        }
        enum result r = finish(j, run, result, &run_err, err);
        cJSON_Delete(result);
        return r;
    }
}

/*
 * The payload as runners expect it: the store keeps DynamoDB numbers as
 * exact decimal text (cJSON raw nodes); a runner reads doubles.
 */
static cJSON *plain_payload(const cJSON *stored)
{
    char *text = stored ? xjson_print(stored) : NULL;
    cJSON *plain = text ? cJSON_Parse(text) : NULL;
    free(text);
    return plain ? plain : xjson(cJSON_CreateObject());
}

/* Runs a claimed request to its end: attempts, retries, the outcome. */
static enum result run_job(struct job *j, const struct action *action,
                           struct error_info *err)
{
    cJSON *payload = plain_payload(j->req.payload);
    /* A runner may rely on its validate function having passed, but the
     * stream record is outside input: an item not written by enqueue (or
     * changed since) was never checked. Such a payload fails the request,
     * as running it again cannot help. (Found by fuzz_stream: a report
     * without group_by crashed in run_generate_report.) */
    struct error_info bad;
    error_clear(&bad);
    enum result r;
    if (action->validate && action->validate(payload, &bad) != RESULT_OK)
        r = finish(j, RESULT_INVALID_INPUT, NULL, &bad, err);
    else
        r = run_attempts(j, action, payload, err);
    cJSON_Delete(payload);
    return r;
}

/*
 * After an infrastructure failure mid-run: hands the request back
 * (PROCESSING→RETRYING, due at once, best effort) so that Lambda's next
 * delivery of the record, or the retry pass, can claim it again instead
 * of finding it taken. If that fails too, it stays PROCESSING until its
 * lease passes.
 */
static void release(struct job *j)
{
    if (j->req.status != REQ_PROCESSING)
        return;
    struct error_info err;
    j->req.retry_after[0] = '\0';
    if (req_update_status(&j->a->store, &j->req, REQ_RETRYING, j->deadline_ms,
                          &err) != RESULT_OK)
        log_kv(LOG_WARN,
               "could not hand a failed request back; it stays "
               "PROCESSING",
               "requestId", j->req.request_id, "error", err.message,
               (char *)NULL);
}

/* The lease this invocation takes: its deadline. */
static void lease_of(const struct job *j, char out[CLOCK_RFC3339_SIZE])
{
    int64_t until = j->deadline_ms > 0
                        ? j->deadline_ms
                        : j->a->now_ms() + PROCESSOR_DEFAULT_LEASE_MS;
    clock_rfc3339(until, out);
}

int processor_lease_passed(const struct request *req, int64_t now_ms)
{
    char cut[CLOCK_RFC3339_SIZE];
    clock_rfc3339(now_ms - PROCESSOR_LEASE_GRACE_MS, cut);
    return req->status == REQ_PROCESSING && *req->lease_expires &&
           strcmp(req->lease_expires, cut) < 0;
}

static int retry_due(const struct job *j)
{
    char now[CLOCK_RFC3339_SIZE];
    clock_rfc3339(j->a->now_ms(), now);
    return !*j->req.retry_after || strcmp(j->req.retry_after, now) <= 0;
}

/*
 * A PROCESSING request whose lease passed: its invocation is gone
 * (crashed, timed out, out of memory). One conditional write takes it
 * again and counts the lost run as an attempt, or, with no retries left,
 * fails it (and its subscribers hear one error).
 */
static enum result take_over(struct job *j, enum processor_outcome *how,
                             struct error_info *err)
{
    struct store *s = &j->a->store;
    const char *ns = j->a->cfg.metrics_namespace;
    log_kv(LOG_WARN, "lease passed: the invocation running the request is gone",
           "requestId", j->req.request_id, "leaseExpires", j->req.lease_expires,
           (char *)NULL);
    enum result r;
    if (j->req.retry_count >= j->req.max_retries) {
        r = req_fail(s, &j->req, PROCESSOR_LOST_MESSAGE, j->deadline_ms, err);
        if (r == RESULT_OK) {
            notify_error(j, PROCESSOR_LOST_MESSAGE);
            metrics_count(ns, "RequestsAbandoned", 1, NULL, NULL);
            *how = PROCESSOR_EXHAUSTED;
        }
        return r;
    }
    char lease[CLOCK_RFC3339_SIZE];
    lease_of(j, lease);
    r = req_reclaim(s, &j->req, lease, j->deadline_ms, err);
    if (r == RESULT_OK) {
        metrics_count(ns, "RequestsReclaimed", 1, NULL, NULL);
        *how = PROCESSOR_RECLAIMED;
    }
    return r;
}

/*
 * Decides on j->req as last read whether this invocation runs it, and
 * claims it in one conditional write: PENDING, RETRYING once due, or
 * PROCESSING once its lease passed (take_over). Anything else is left
 * alone (*how PROCESSOR_SKIPPED): a retry not due yet is the scheduled
 * pass's, a live lease is another invocation's. RESULT_CONDITION_FAILED
 * when what was read is stale.
 */
static enum result take_once(struct job *j, enum processor_outcome *how,
                             struct error_info *err)
{
    *how = PROCESSOR_SKIPPED;
    switch (j->req.status) {
    case REQ_PENDING:
        break;
    case REQ_RETRYING:
        if (retry_due(j))
            break;
        log_kv(LOG_DEBUG, "retry not due; the scheduled pass will run it",
               "requestId", j->req.request_id, "retryAfter", j->req.retry_after,
               (char *)NULL);
        return RESULT_OK;
    case REQ_PROCESSING:
        if (processor_lease_passed(&j->req, j->a->now_ms()))
            return take_over(j, how, err);
        log_kv(LOG_DEBUG, "request running elsewhere; left alone", "requestId",
               j->req.request_id, "leaseExpires",
               *j->req.lease_expires ? j->req.lease_expires : "(none)",
               (char *)NULL);
        return RESULT_OK;
    default:
        return RESULT_OK;
    }
    lease_of(j, j->req.lease_expires);
    enum result r = req_update_status(&j->a->store, &j->req, REQ_PROCESSING,
                                      j->deadline_ms, err);
    if (r == RESULT_OK)
        *how = PROCESSOR_RAN;
    return r;
}

/* take_once, and once more on the stored state when what was read (a
 * stream image, an index entry) was stale. */
static enum result take(struct job *j, enum processor_outcome *how,
                        struct error_info *err)
{
    enum result r = take_once(j, how, err);
    if (r != RESULT_CONDITION_FAILED)
        return r;
    struct request now;
    r = req_get(&j->a->store, j->req.tenant_id, j->req.user_id,
                j->req.request_id, &now, j->deadline_ms, err);
    if (r != RESULT_OK)
        return r;
    req_cleanup(&j->req);
    j->req = now;
    return take_once(j, how, err);
}

enum result processor_run(struct app *a, struct request *req,
                          int64_t deadline_ms, enum processor_outcome *outcome,
                          struct error_info *err)
{
    struct job j = {.a = a, .deadline_ms = deadline_ms, .req = *req};
    memset(req, 0, sizeof(*req));
    enum processor_outcome how = PROCESSOR_SKIPPED;
    enum result r = take(&j, &how, err);
    if (r == RESULT_CONDITION_FAILED || r == RESULT_NOT_FOUND) {
        log_kv(LOG_DEBUG, "request claimed elsewhere or gone; skipped",
               "requestId", j.req.request_id, (char *)NULL);
        how = PROCESSOR_SKIPPED;
        r = RESULT_OK;
    } else if (r == RESULT_OK &&
               (how == PROCESSOR_RAN || how == PROCESSOR_RECLAIMED)) {
        const struct action *action = actions_find(j.req.action);
        if (action && action->run) {
            r = run_job(&j, action, err);
            if (r != RESULT_OK)
                release(&j);
        } else {
            struct error_info unknown;
            error_set(&unknown, RESULT_UNSUPPORTED, "UnknownAction",
                      "no runner for action %s", j.req.action);
            r = finish(&j, RESULT_UNSUPPORTED, NULL, &unknown, err);
        }
    }
    notify_cleanup(&j.notify);
    req_cleanup(&j.req);
    if (outcome)
        *outcome = how;
    return r;
}

/*
 * One stream record. RESULT_OK when it is done with (run, left alone,
 * skipped or not ours); an infrastructure failure makes it a batch item
 * failure. A request waiting for a retry never is one: the scheduled
 * pass runs it when due.
 */
static enum result process_record(struct app *a, const cJSON *record,
                                  int64_t deadline_ms, struct error_info *err)
{
    const char *name = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(record, "eventName"));
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(record, "dynamodb"), "NewImage");
    if (!name || (strcmp(name, "INSERT") != 0 && strcmp(name, "MODIFY") != 0) ||
        !image)
        return RESULT_OK;
    struct request req;
    if (req_from_item(image, &req, err) != RESULT_OK) {
        log_kv(LOG_WARN, "stream record is not a request; skipped", "error",
               err->message, (char *)NULL);
        return RESULT_OK;
    }
    if (req.status != REQ_PENDING) {
        req_cleanup(&req);
        return RESULT_OK;
    }
    return processor_run(a, &req, deadline_ms, NULL, err);
}

enum result processor_abandon(struct app *a, struct request *req,
                              const char *why, int64_t deadline_ms,
                              struct error_info *err)
{
    struct job j = {.a = a, .deadline_ms = deadline_ms};
    j.req = *req; /* borrowed, and handed back below */
    enum result r = req_fail(&a->store, &j.req, why, deadline_ms, err);
    if (r == RESULT_OK)
        notify_error(&j, why);
    *req = j.req;
    notify_cleanup(&j.notify);
    return r;
}

enum result processor_handle(struct app *a, const cJSON *event,
                             int64_t deadline_ms, struct buf *out,
                             struct error_info *err)
{
    cJSON *answer = xjson(cJSON_CreateObject());
    cJSON *failures =
        xjson(cJSON_AddArrayToObject(answer, "batchItemFailures"));
    const cJSON *record;
    cJSON_ArrayForEach(record,
                       cJSON_GetObjectItemCaseSensitive(event, "Records"))
    {
        struct error_info rec_err;
        error_clear(&rec_err);
        if (process_record(a, record, deadline_ms, &rec_err) == RESULT_OK)
            continue;
        const char *seq = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(record, "dynamodb"),
            "SequenceNumber"));
        log_kv(LOG_WARN, "stream record failed; Lambda will retry it",
               "sequenceNumber", seq ? seq : "(none)", "error", rec_err.message,
               (char *)NULL);
        if (seq) {
            cJSON *f = xjson(cJSON_CreateObject());
            xjson_add(f, "itemIdentifier", cJSON_CreateString(seq));
            xjson_append(failures, f);
        }
    }
    char *text = xjson_print(answer);
    cJSON_Delete(answer);
    buf_reset(out);
    enum result r = buf_appends(out, text);
    free(text);
    if (r != RESULT_OK)
        return error_set(err, r, "Runtime.ResponseTooLarge",
                         "the batch response does not fit");
    return RESULT_OK;
}

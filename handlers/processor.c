/* The stream processor: runs queued async requests and reports progress. */
#include "processor.h"

#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "connections.h"
#include "log.h"
#include "notify.h"
#include "parts.h"
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
    int cancelled;
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
    int cancelled =
        req_get(&j->a->store, j->req.tenant_id, j->req.user_id,
                j->req.request_id, &now, j->deadline_ms, &err) == RESULT_OK &&
        now.status == REQ_CANCELLED;
    if (cancelled)
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
    if (r == RESULT_CONDITION_FAILED && was_cancelled(j)) {
        j->cancelled = 1;
        return r;
    }
    if (r != RESULT_OK) {
        j->infra = r;
        j->infra_err = err;
        return r;
    }
    j->last_push_ms = now;
    char ts[CLOCK_RFC3339_SIZE];
    clock_rfc3339(now, ts);
    notify(j, SUB_PROGRESS,
           reply_progress(j->req.request_id, percentage, message, ts));
    return RESULT_OK;
}

/*
 * Claims the request for this run: PENDING→PROCESSING, or, when the
 * stored request is RETRYING (Lambda delivers a record again after a
 * retry was left to it), RETRYING→PROCESSING once its retry_after has
 * come. RESULT_CONDITION_FAILED when someone else has it or it is done.
 */
static enum result claim(struct job *j, struct error_info *err)
{
    struct store *s = &j->a->store;
    enum result r =
        req_update_status(s, &j->req, REQ_PROCESSING, j->deadline_ms, err);
    if (r != RESULT_CONDITION_FAILED)
        return r;
    struct request now;
    r = req_get(s, j->req.tenant_id, j->req.user_id, j->req.request_id, &now,
                j->deadline_ms, err);
    if (r != RESULT_OK)
        return r;
    if (now.status != REQ_RETRYING) {
        req_cleanup(&now);
        return RESULT_CONDITION_FAILED;
    }
    req_cleanup(&j->req);
    j->req = now;
    char at[CLOCK_RFC3339_SIZE];
    clock_rfc3339(j->a->now_ms(), at);
    if (*j->req.retry_after && strcmp(at, j->req.retry_after) < 0)
        return error_set(err, RESULT_TIMEOUT, "RetryNotDue",
                         "the retry is due at %s", j->req.retry_after);
    return req_update_status(s, &j->req, REQ_PROCESSING, j->deadline_ms, err);
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
    if (r == RESULT_CONDITION_FAILED && was_cancelled(j))
        r = RESULT_OK; /* cancelled at the last moment: nothing to save */
    return r;
}

/*
 * After a retryable failure: RETRYING, a backoff, PROCESSING again.
 * RESULT_TIMEOUT when the deadline leaves no room for another attempt:
 * the request stays RETRYING and Lambda delivers the record again.
 */
static enum result back_off(struct job *j, struct error_info *err)
{
    struct store *s = &j->a->store;
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
    if (j->deadline_ms > 0 &&
        now + delay + PROCESSOR_ATTEMPT_MARGIN_MS > j->deadline_ms)
        return error_set(err, RESULT_TIMEOUT, "RetryDeferred",
                         "retry %d left to the next delivery",
                         j->req.retry_count);
    retry_sleep_real(NULL, delay);
    return req_update_status(s, &j->req, REQ_PROCESSING, j->deadline_ms, err);
}

/* Runs attempts until one ends the request or the retries stop. */
static enum result run_attempts(struct job *j, const struct action *action,
                                const cJSON *payload, struct error_info *err)
{
    for (;;) {
        struct action_call call = {payload, j->req.retry_count, on_progress, j};
        cJSON *result = NULL;
        struct error_info run_err;
        error_clear(&run_err);
        enum result run = action->run(&call, &result, &run_err);
        if (j->cancelled) {
            cJSON_Delete(result);
            log_kv(LOG_INFO, "request cancelled while running", "requestId",
                   j->req.request_id, (char *)NULL);
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
            enum result r = back_off(j, err);
            if (r != RESULT_OK)
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
    char *text = stored ? cJSON_PrintUnformatted(stored) : NULL;
    cJSON *plain = text ? cJSON_Parse(text) : NULL;
    free(text);
    return plain ? plain : cJSON_CreateObject();
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
 * (PROCESSING→RETRYING, best effort) so that Lambda's next delivery of
 * the record can claim it again instead of finding it taken.
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

/*
 * One stream record. RESULT_OK when it is done with (run, skipped or not
 * ours); an infrastructure failure makes it a batch item failure.
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
    struct job j = {.a = a, .deadline_ms = deadline_ms};
    if (req_from_item(image, &j.req, err) != RESULT_OK) {
        log_kv(LOG_WARN, "stream record is not a request; skipped", "error",
               err->message, (char *)NULL);
        return RESULT_OK;
    }
    enum result r = RESULT_OK;
    if (j.req.status == REQ_PENDING) {
        r = claim(&j, err);
        if (r == RESULT_CONDITION_FAILED || r == RESULT_NOT_FOUND) {
            log_kv(LOG_DEBUG, "request claimed elsewhere or gone; skipped",
                   "requestId", j.req.request_id, (char *)NULL);
            r = RESULT_OK;
        } else if (r == RESULT_OK) {
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
    }
    notify_cleanup(&j.notify);
    req_cleanup(&j.req);
    return r;
}

enum result processor_abandon(struct app *a, struct request *req,
                              const char *why, int64_t deadline_ms,
                              struct error_info *err)
{
    enum result r = RESULT_OK;
    if (req->status == REQ_RETRYING) /* RETRYING cannot fail directly */
        r = req_update_status(&a->store, req, REQ_PROCESSING, deadline_ms, err);
    if (r != RESULT_OK)
        return r;
    struct job j = {.a = a, .deadline_ms = deadline_ms};
    j.req = *req; /* borrowed, and handed back below */
    r = req_fail(&a->store, &j.req, why, deadline_ms, err);
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
    cJSON *answer = cJSON_CreateObject();
    cJSON *failures = cJSON_AddArrayToObject(answer, "batchItemFailures");
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
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "itemIdentifier", seq);
            cJSON_AddItemToArray(failures, f);
        }
    }
    char *text = cJSON_PrintUnformatted(answer);
    cJSON_Delete(answer);
    buf_reset(out);
    enum result r = text ? buf_appends(out, text) : RESULT_INTERNAL;
    free(text);
    if (r != RESULT_OK)
        return error_set(err, r, "Runtime.ResponseTooLarge",
                         "the batch response does not fit");
    return RESULT_OK;
}

/* The stream processor: runs queued async requests and reports progress. */
#ifndef STREAMER_PROCESSOR_H
#define STREAMER_PROCESSOR_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "requests.h"
#include "result.h"

/* At most one progress push per request this often (the 100% always goes). */
#define PROCESSOR_PUSH_INTERVAL_MS 200
/* Retries between attempts: base << retry_count, capped. */
#define PROCESSOR_RETRY_BASE_MS 100
#define PROCESSOR_RETRY_CAP_MS 5000
/* Time an attempt needs before the deadline, or the retry is left to
 * the scheduled pass (the request stays RETRYING; its record is done). */
#define PROCESSOR_ATTEMPT_MARGIN_MS 1000
/* The longest wait for a retry the processor sleeps; a longer one is
 * left to the scheduled pass, so that no shard waits behind it. */
#define PROCESSOR_MAX_RETRY_WAIT_MS 1000
/* A lease counts as passed this long after its deadline: room for clock
 * skew between the host that claimed and the one that looks. */
#define PROCESSOR_LEASE_GRACE_MS 1000
/* The lease of a claim made without a deadline: Lambda's longest run. */
#define PROCESSOR_DEFAULT_LEASE_MS (15 * 60 * 1000)
/* The error saved and pushed when a lost run used up the retries. */
#define PROCESSOR_LOST_MESSAGE                                                 \
    "processing was interrupted (the invocation running it ended) and the "    \
    "retries are exhausted"

/* What processor_run did with a request. */
enum processor_outcome {
    PROCESSOR_SKIPPED = 0, /* not this invocation's: claimed elsewhere, a
                              live lease, a retry not due, finished */
    PROCESSOR_RAN,         /* claimed and run (to its end or a later retry) */
    PROCESSOR_RECLAIMED,   /* its lease had passed: taken again and run */
    PROCESSOR_EXHAUSTED,   /* its lease had passed, no retries left: FAILED */
};

/*
 * Runs `req` (as last read: a stream image, an index entry) if it is this
 * invocation's to run, by the request state machine
 * (docs/request-lifecycle.md): claims a PENDING one or a RETRYING one
 * that is due (PROCESSING with this invocation's deadline as its lease),
 * takes over a PROCESSING one whose lease passed (an attempt counted; or
 * FAILED when none is left, with one error pushed), and leaves anything
 * else alone. A stale read is looked at once more as stored. Then runs
 * the action, with retries of at most PROCESSOR_MAX_RETRY_WAIT_MS slept
 * here and longer ones left RETRYING for the scheduled pass, and saves
 * the outcome. Takes ownership of `req`'s contents (zeroed on return).
 * `*outcome` (may be NULL) says what happened. Fails only for an
 * infrastructure error; the request is then handed back RETRYING when
 * it had been claimed.
 */
enum result processor_run(struct app *a, struct request *req,
                          int64_t deadline_ms, enum processor_outcome *outcome,
                          struct error_info *err) WARN_UNUSED;

/* Whether `req` is PROCESSING with a lease that had passed at `now_ms`
 * (by PROCESSOR_LEASE_GRACE_MS). 0 for a request without a lease. */
int processor_lease_passed(const struct request *req, int64_t now_ms);

/*
 * Handles a DynamoDB Streams batch ("Using AWS Lambda with Amazon
 * DynamoDB", Lambda Developer Guide): for each INSERT or MODIFY record
 * whose NewImage is a PENDING request, hands the request to
 * processor_run. Records of requests claimed elsewhere (a live lease),
 * waiting for a retry, finished, or not requests are done with.
 *
 * Answers the partial batch response {"batchItemFailures":[{
 * "itemIdentifier":"<SequenceNumber>"}]} naming the records that met
 * infrastructure errors, so Lambda delivers only those again
 * (ReportBatchItemFailures). Fails only when `out` cannot hold the
 * answer.
 */
enum result processor_handle(struct app *a, const cJSON *event,
                             int64_t deadline_ms, struct buf *out,
                             struct error_info *err) WARN_UNUSED;

/*
 * Ends a request nobody will finish (the sweeper finds it PROCESSING or
 * RETRYING long after any invocation could still hold it): FAILED with
 * `why` saved in one conditional write, and an error pushed to its
 * subscribers. `req` is updated. Returns RESULT_OK, or the store's
 * failure with `err` set (RESULT_CONDITION_FAILED when the request
 * changed meanwhile); nothing is pushed then.
 */
enum result processor_abandon(struct app *a, struct request *req,
                              const char *why, int64_t deadline_ms,
                              struct error_info *err) WARN_UNUSED;

#endif

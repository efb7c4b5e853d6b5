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
 * Lambda (the request stays RETRYING, its record a batch item failure). */
#define PROCESSOR_ATTEMPT_MARGIN_MS 1000

/*
 * Handles a DynamoDB Streams batch ("Using AWS Lambda with Amazon
 * DynamoDB", Lambda Developer Guide): for each INSERT or MODIFY record
 * whose NewImage is a PENDING request, claims it (PENDING→PROCESSING, or
 * a RETRYING one whose record Lambda delivers again), runs its action
 * with progress pushed to subscribers, then completes or fails it.
 * Records already claimed, finished or not requests are skipped.
 *
 * Answers the partial batch response {"batchItemFailures":[{
 * "itemIdentifier":"<SequenceNumber>"}]} naming the records that met
 * infrastructure errors (or retries cut short by the deadline), so
 * Lambda delivers only those again (ReportBatchItemFailures). Fails only
 * when `out` cannot hold the answer.
 */
enum result processor_handle(struct app *a, const cJSON *event,
                             int64_t deadline_ms, struct buf *out,
                             struct error_info *err) WARN_UNUSED;

/*
 * Ends a request nobody will finish (the sweeper finds it PROCESSING or
 * RETRYING long after any invocation could still hold it): FAILED with
 * `why` saved, and an error pushed to its subscribers. `req` is updated.
 */
enum result processor_abandon(struct app *a, struct request *req,
                              const char *why, int64_t deadline_ms,
                              struct error_info *err) WARN_UNUSED;

#endif

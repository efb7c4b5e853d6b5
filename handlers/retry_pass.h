/* The scheduled pass: due retries and requests whose lease passed. */
#ifndef STREAMER_RETRY_PASS_H
#define STREAMER_RETRY_PASS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "result.h"

/*
 * The event the pass's schedule sends (template.yaml: the Schedule's
 * Input, which EventBridge passes instead of its own event; the local
 * gateway sends the same): {"source":"streamer","detail-type":
 * "Retry Pass","detail":{}}.
 */
#define RETRY_PASS_SOURCE "streamer"
#define RETRY_PASS_DETAIL_TYPE "Retry Pass"

/* A request is only started with at least this long left before the
 * deadline; the rest wait for the next pass. */
#define RETRY_PASS_MIN_LEFT_MS 2000

/*
 * One pass, every minute: lists from the requests' status-index (Query,
 * never Scan) the RETRYING requests whose retry_after has come and the
 * PROCESSING ones whose lease passed, oldest first, and hands each to
 * processor_run, which claims it in one conditional write (or fails it
 * when a lost run used up its retries) and runs it here. Stops starting
 * requests RETRY_PASS_MIN_LEFT_MS before the deadline. Answers
 * {"ran":N,"reclaimed":N,"failed":N,"skipped":N,"left":N} in `out` and
 * emits RetriesRun / RequestsReclaimed metrics. A failed listing or run
 * is logged and counted, not fatal: the next pass tries again. Fails
 * only when `out` cannot hold the answer.
 */
enum result retry_pass_handle(struct app *a, const cJSON *event,
                              int64_t deadline_ms, struct buf *out,
                              struct error_info *err) WARN_UNUSED;

#endif

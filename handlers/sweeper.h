/* The sweeper: drop connections whose clients stopped pinging. */
#ifndef STREAMER_SWEEPER_H
#define STREAMER_SWEEPER_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "result.h"

/* Lambda's longest timeout (15 min) and a minute. */
#define SWEEPER_STUCK_AFTER_SECONDS (16 * 60)

/*
 * Handles an EventBridge "Scheduled Event": deletes connections whose
 * last_ping is older than STALE_AFTER_SECONDS, with their subscriptions
 * ($disconnect is best-effort on AWS). Then fails the requests left
 * PROCESSING or RETRYING for over SWEEPER_STUCK_AFTER_SECONDS (their
 * invocation was lost), pushing the error to subscribers. Answers
 * {"removed": N, "abandoned": M}; a store failure is an error (Lambda's
 * scheduler will try again): RESULT_OK, the store's failure with `err`
 * set, or RESULT_TOO_LARGE when `out` cannot hold the answer.
 */
enum result sweeper_handle(struct app *a, const cJSON *event,
                           int64_t deadline_ms, struct buf *out,
                           struct error_info *err) WARN_UNUSED;

#endif

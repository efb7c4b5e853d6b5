/* The async action table: name, payload check, runner. */
#ifndef STREAMER_ACTIONS_H
#define STREAMER_ACTIONS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "result.h"

/*
 * Reports progress from a running action: `percentage` 0-100 and a short
 * message. Returns RESULT_OK to go on, or an error (the request was
 * cancelled: RESULT_CONDITION_FAILED) on which the action must stop.
 */
typedef enum result (*action_progress_fn)(void *ctx, int percentage,
                                          const char *message);

/*
 * Checks a payload at enqueue time: RESULT_INVALID_INPUT with err->field
 * and a message the client sees as VALIDATION_ERROR.
 */
typedef enum result (*action_validate_fn)(const cJSON *payload,
                                          struct error_info *err);

/* err->type of an action failure worth another attempt. */
#define ACTION_RETRYABLE "Retryable"

/* What a runner gets: the payload and how to report progress. */
struct action_call {
    const cJSON *payload; /* the request's payload object (borrowed) */
    int attempt;          /* 0 on the first run, 1 on the first retry... */
    action_progress_fn progress;
    void *progress_ctx;
    int64_t deadline_ms; /* the invocation's deadline (epoch ms); 0: none */
};

/* process_data's payload.delay_ms (a demonstration knob) is at most this,
 * and never runs closer than ACTIONS_DELAY_MARGIN_MS to the deadline. */
#define ACTIONS_MAX_DELAY_MS 10000
#define ACTIONS_DELAY_MARGIN_MS 1000

/*
 * Runs the action: on RESULT_OK `*result` is a JSON object (caller owns).
 * On failure `err` says why (the message reaches the client);
 * err->type ACTION_RETRYABLE marks a failure worth another attempt. When
 * progress() fails the runner stops at once and returns that result.
 */
typedef enum result (*action_run_fn)(const struct action_call *call,
                                     cJSON **result, struct error_info *err);

struct action {
    const char *name;
    action_validate_fn validate;
    action_run_fn run;
};

/* The registered action called `name`, or NULL. */
const struct action *actions_find(const char *name);

#endif

/* The gateway's Invoke-API back end: events to `sam local start-lambda`. */
#ifndef STREAMER_LOCAL_LAMBDA_H
#define STREAMER_LOCAL_LAMBDA_H

struct lambda_remote;

/*
 * A client of the Lambda Invoke API at `endpoint` for `function` (both
 * copied), waiting at most `timeout_ms` (plus a margin for a cold start)
 * a call. Returns NULL (logged) when `endpoint` is not an http(s) URL or
 * `function` not a function name. Caller owns the result; free with
 * lambda_remote_free().
 */
struct lambda_remote *lambda_remote_new(const char *endpoint,
                                        const char *function, long timeout_ms);

/* The endpoint's URL. Borrowed from `lr`; cannot fail. */
const char *lambda_remote_url(const struct lambda_remote *lr);

/*
 * POSTs `event` (borrowed) to .../functions/<function>/invocations and
 * waits; `label` (borrowed) names it in the log. As invoker_invoke():
 * returns 0 with the function's result, 1 with an error document
 * (X-Amz-Function-Error set, a non-200 status or no answer), -1 once
 * stopping (`*answer` NULL). Caller owns `*answer`; free with free().
 * Safe from any thread.
 */
int lambda_remote_invoke(struct lambda_remote *lr, const char *label,
                         const char *event, char **answer);

/* Makes calls in flight and later ones return -1. NULL is a no-op. */
void lambda_remote_stop(struct lambda_remote *lr);

/* Frees `lr` (calls must have returned); NULL is a no-op. */
void lambda_remote_free(struct lambda_remote *lr);

#endif

/* The benchmark's Runtime API server: one event at a time, timed. */
#ifndef STREAMER_BENCH_RAPI_H
#define STREAMER_BENCH_RAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * One single-threaded server on two loopback ports: the Lambda Runtime
 * API (2018-06-01) that the function under test polls, and a stand-in
 * for the API Gateway Management API that answers 200 to every
 * POST /@connections/{id} and counts them. Nothing runs unless the
 * driver calls in, so the only time spent is the function's and the
 * driver's own bookkeeping between a request and its answer.
 */
struct bench_rapi;

/* What the function answered to one event. */
struct bench_answer {
    char kind[16];       /* "response", "error" */
    char *body;          /* malloc'd, NUL-terminated; caller frees */
    int64_t sent_ns;     /* CLOCK_MONOTONIC when the event was written */
    int64_t answered_ns; /* when its answer was read in full */
};

/* Starts both listeners. NULL (after printing why) on failure. */
struct bench_rapi *bench_rapi_new(void);
void bench_rapi_free(struct bench_rapi *r);

/* "127.0.0.1:PORT" for AWS_LAMBDA_RUNTIME_API. */
const char *bench_rapi_address(const struct bench_rapi *r);
/* "http://127.0.0.1:PORT" for WEBSOCKET_ENDPOINT. */
const char *bench_rapi_mgmt_url(const struct bench_rapi *r);

/*
 * Starts watching a new function process: drops the connections of the
 * previous one. While waiting, the server notices when `pid` exits.
 */
void bench_rapi_watch(struct bench_rapi *r, pid_t pid);

/*
 * Serves until the watched process has a GET /next waiting. Returns 0
 * and the CLOCK_MONOTONIC time it arrived in `*at_ns` (when it was
 * already waiting, the time it arrived), or -1 when the process exited,
 * reported an init error, or `timeout_ms` ran out (printing which).
 */
int bench_rapi_wait_next(struct bench_rapi *r, int timeout_ms, int64_t *at_ns);

/*
 * Answers the waiting /next with `body` under `request_id` and serves
 * until the function posts its response or error for it. Returns 0 with
 * `*out` filled (caller frees out->body), or -1 as above.
 */
int bench_rapi_invoke(struct bench_rapi *r, const char *request_id,
                      const char *body, int timeout_ms,
                      struct bench_answer *out);

/* Answers the waiting /next with HTTP 500, which tells a runtime to exit. */
void bench_rapi_refuse_next(struct bench_rapi *r);

/* POSTs to /@connections/... answered so far. */
long bench_rapi_pushes(const struct bench_rapi *r);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

#endif

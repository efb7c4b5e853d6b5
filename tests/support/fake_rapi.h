/* A Lambda Runtime API server for tests: queued events, recorded posts. */
#ifndef STREAMER_TEST_FAKE_RAPI_H
#define STREAMER_TEST_FAKE_RAPI_H

#include <stddef.h>
#include <stdint.h>

/* One event to hand out; strings are copied, NULL fields are not sent. */
struct fake_rapi_event {
    const char *body;
    const char *request_id; /* NULL: "req-<n>" */
    int64_t deadline_ms;    /* 0: now + 30 s */
    const char *function_arn;
    const char *trace_id;
    const char *client_context;
    const char *cognito_identity;
};

/* What a POST carried. */
struct fake_rapi_post {
    char kind[16]; /* "response", "error", "init_error", "unknown" */
    char *request_id;
    char *error_type; /* Lambda-Runtime-Function-Error-Type, or NULL */
    char *content_type;
    char *body;
    size_t body_len;
    int status; /* what the fake answered */
};

enum fake_rapi_fault {
    FAKE_RAPI_OK = 0,
    FAKE_RAPI_CLOSE,   /* close the connection without answering */
    FAKE_RAPI_500,     /* HTTP 500 (the runtime must exit) */
    FAKE_RAPI_GARBAGE, /* 200 without the Lambda headers */
};

/* Starts on a free loopback port. NULL on failure. Free with _stop(). */
struct fake_rapi *fake_rapi_start(void);
void fake_rapi_stop(struct fake_rapi *f);

/* "127.0.0.1:PORT", the form of AWS_LAMBDA_RUNTIME_API. */
const char *fake_rapi_address(const struct fake_rapi *f);

void fake_rapi_push(struct fake_rapi *f, const struct fake_rapi_event *ev);

/* The next `count` GET /next calls meet `fault`. */
void fake_rapi_fault_next(struct fake_rapi *f, enum fake_rapi_fault fault,
                          int count);

/*
 * When no event is queued, /next waits up to `wait_ms` for one, then
 * answers 500 so that the runtime exits (default 0: answer 500 at once).
 */
void fake_rapi_set_idle_wait(struct fake_rapi *f, int wait_ms);

/*
 * From now on /next answers 500 once the queued events are handed out,
 * and a /next waiting for one stops waiting: the runtime exits.
 */
void fake_rapi_end(struct fake_rapi *f);

/* Waits until at least `n` posts arrived; returns the count seen. */
size_t fake_rapi_wait_posts(struct fake_rapi *f, size_t n, int timeout_ms);

size_t fake_rapi_post_count(struct fake_rapi *f);
/* Post `i`; owned by the fake, valid until _stop(). */
const struct fake_rapi_post *fake_rapi_post_at(struct fake_rapi *f, size_t i);
/* GET /next calls received. */
int fake_rapi_next_count(struct fake_rapi *f);

#endif

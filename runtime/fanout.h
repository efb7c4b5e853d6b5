/* Concurrent Management API pushes: non-blocking HTTP/1.1, keep-alive. */
#ifndef STREAMER_FANOUT_H
#define STREAMER_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"
#include "sigv4.h"

/*
 * API Gateway Developer Guide, "Use @connections commands in your backend
 * service": POST https://{api-id}.execute-api.{region}.amazonaws.com/
 * {stage}/@connections/{connection_id} with the message as the body,
 * signed with SigV4 for service "execute-api"; 410 GoneException when
 * the client has left. Pushes to many connections go out at once over a
 * pool of up to `concurrency` kept-alive connections (runtime/http1.c
 * clients in non-blocking mode, all polled at once, TLS verified as
 * every AWS call is), one push in flight on each; the messages for one
 * connection go strictly one after the other, each only once the
 * previous one was accepted.
 */

#define FANOUT_DEFAULT_CONCURRENCY 32
#define FANOUT_MAX_CONCURRENCY 1024
/* Per attempt, cut to what is left before the deadline. */
#define FANOUT_TIMEOUT_MS 10000L
/* Retries: full jitter from 25 ms, 3 attempts in all (retry.h). */
#define FANOUT_RETRY_BASE_MS 25L
#define FANOUT_RETRY_CAP_MS 1000L
#define FANOUT_MAX_ATTEMPTS 3

struct fanout;

/* One message: `len` bytes at `data` (borrowed). */
struct fanout_msg {
    const char *data;
    size_t len;
};

/*
 * One connection and the messages it gets, in order. The caller fills
 * the first four fields (all borrowed); fanout_send() fills the rest.
 */
struct fanout_target {
    const char *endpoint;      /* "https://{domain}/{stage}" */
    const char *connection_id; /* as API Gateway gave it */
    const struct fanout_msg *msgs;
    size_t count;
    /* RESULT_OK when every message was accepted; RESULT_NOT_FOUND when
     * the connection is gone (410); else why the next one was not. */
    enum result result;
    size_t sent;  /* messages accepted, from the first */
    int attempts; /* HTTP attempts made for this target */
    struct error_info err;
};

/*
 * A client meant to live for the process. `creds` is copied;
 * `concurrency` is clamped to 1..FANOUT_MAX_CONCURRENCY (0: the
 * default). Caller owns the result; free with fanout_free().
 */
struct fanout *fanout_new(const char *region,
                          const struct sigv4_credentials *creds,
                          int concurrency);
/* Closes the connections, wipes the secret and frees `f`; NULL is a no-op. */
void fanout_free(struct fanout *f);

/* Tests: the backoff base and cap and the attempts in all (retry.h). */
void fanout_set_retry(struct fanout *f, long base_ms, long cap_ms,
                      int max_attempts);

/* The most transfers ever in flight at once (for tests and the bench). */
int fanout_peak_in_flight(const struct fanout *f);

/*
 * Sends every target's messages and returns when each target is done:
 * all sent, gone (410, the rest skipped), failed for good, or out of
 * time. 429, 5xx, timeouts and transport failures are retried with
 * full-jitter backoff while an attempt still fits before `deadline_ms`
 * (epoch ms; 0 for none) minus a 100 ms margin. Cannot fail as a whole:
 * each target says how it ended.
 */
void fanout_send(struct fanout *f, struct fanout_target *targets, size_t n,
                 int64_t deadline_ms);

#endif

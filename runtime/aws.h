/* One signed, retried request function for AWS JSON-protocol services. */
#ifndef STREAMER_AWS_H
#define STREAMER_AWS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "result.h"
#include "retry.h"
#include "sigv4.h"

/*
 * DynamoDB Developer Guide, "Low-level API" / API Reference, "Making HTTP
 * requests": every operation is POST / with Content-Type
 * application/x-amz-json-1.0, X-Amz-Target <prefix>.<Operation>
 * (DynamoDB_20120810.PutItem), a JSON body and a SigV4 Authorization.
 */
#define AWS_JSON_CONTENT_TYPE "application/x-amz-json-1.0"
#define AWS_MAX_BODY_BYTES ((size_t)16 * 1024 * 1024)
#define AWS_DEFAULT_TIMEOUT_MS 10000L
#define AWS_MAX_OPERATION_BYTES 64

/* What aws_client_new() needs; every pointer is borrowed for the call. */
struct aws_client_config {
    /* "https://dynamodb.eu-west-1.amazonaws.com" or "http://127.0.0.1:8000":
     * scheme, host and optional port; no path but an optional "/". */
    const char *endpoint_url;
    const char *region;        /* "eu-west-1" */
    const char *service;       /* the signing name, "dynamodb" */
    const char *target_prefix; /* "DynamoDB_20120810" */
    const char *content_type;  /* NULL: AWS_JSON_CONTENT_TYPE */
    const struct sigv4_credentials *credentials; /* copied */
    long timeout_ms;         /* per attempt; 0: AWS_DEFAULT_TIMEOUT_MS */
    long connect_timeout_ms; /* 0: HTTP_CONNECT_TIMEOUT_MS */
    size_t max_body_bytes;   /* response cap; 0: AWS_MAX_BODY_BYTES */
};

/* One client must not be used by two threads at once (it keeps one
 * connection and its buffers). */
struct aws_client;

/*
 * Creates a client for one endpoint, meant to live for the process: it
 * owns one HTTP client (one keep-alive connection), the SigV4 key cache,
 * and copies of every string in `cfg`. Retries start at the retry.h
 * defaults with the real clock, PRNG and sleep.
 * Returns RESULT_OK and sets `*out`; RESULT_CONFIG when the endpoint is
 * not http(s)://host[:port][/] or a name or credential is missing (`err`
 * says which). Caller owns the result; free with aws_client_free(). On
 * failure, `*out` is untouched.
 */
enum result aws_client_new(const struct aws_client_config *cfg,
                           struct aws_client **out,
                           struct error_info *err) WARN_UNUSED;

/* Frees `c` and wipes its secret; NULL is a no-op. */
void aws_client_free(struct aws_client *c);

/*
 * Replaces the credentials (copied; the old secret is wiped). Returns
 * RESULT_CONFIG, leaving the old ones, when the key id or secret is
 * missing.
 */
enum result aws_client_set_credentials(struct aws_client *c,
                                       const struct sigv4_credentials *creds,
                                       struct error_info *err) WARN_UNUSED;

/*
 * Sets the backoff base, its cap and the attempts in all (the first
 * included). A value <= 0 selects the retry.h default, except base_ms 0,
 * which means retries without sleeping. Cannot fail.
 */
void aws_client_set_retry(struct aws_client *c, long base_ms, long cap_ms,
                          int max_attempts);

/* Sets the time kept free before a deadline (default 100 ms; < 0 is 0). */
void aws_client_set_deadline_margin(struct aws_client *c, long margin_ms);

/* The number of HTTP attempts the last aws_call() made (0 for none). */
int aws_client_last_attempts(const struct aws_client *c);

/*
 * Calls `operation` ("PutItem": 1-64 letters and digits) with the JSON
 * `body` (borrowed; NULL with len 0 sends "{}"). Each attempt is signed
 * anew (host, x-amz-date, x-amz-target, content-type and, with a session
 * token, x-amz-security-token) and its response checked against
 * x-amz-crc32 when that header is present.
 *
 * Retryable failures (retry_is_retryable: transport errors, timeouts,
 * checksum mismatches, 5xx, 429, throttling) are retried with full-jitter
 * backoff up to the client's attempts; a retry that would sleep past
 * `deadline_ms` (epoch ms, as Lambda-Runtime-Deadline-Ms; 0 for none)
 * minus the margin is not made, and each attempt's timeout is cut to the
 * time left. Other failures return at once.
 *
 * Returns RESULT_OK with the 2xx response body in `out` (reset first; its
 * cap applies: RESULT_TOO_LARGE past it). Otherwise the last attempt's
 * failure, mapped by aws_error_parse() (RESULT_CONDITION_FAILED,
 * RESULT_NOT_FOUND, RESULT_INVALID_INPUT, RESULT_THROTTLED,
 * RESULT_SERVICE_ERROR), or RESULT_TRANSPORT / RESULT_TIMEOUT /
 * RESULT_TOO_LARGE; RESULT_TIMEOUT ("DeadlineExceeded") without any
 * attempt when no time is left; RESULT_INVALID_INPUT for a bad operation.
 * `err` (may be NULL) gets the AWS error type, message and HTTP status;
 * it is cleared on success. On a failure that the service answered and
 * that is not retried (a 4xx such as ConditionalCheckFailedException),
 * `out` holds that answer's body, for members beyond type and message
 * (DynamoDB's "Item" with ReturnValuesOnConditionCheckFailure); on any
 * other failure it is empty. `out` is caller-owned.
 */
enum result aws_call(struct aws_client *c, const char *operation,
                     const char *body, size_t body_len, int64_t deadline_ms,
                     struct buf *out, struct error_info *err) WARN_UNUSED;

/*
 * A REST-style call on the same client (e.g. API Gateway's Management
 * API, service "execute-api"): `method` on `path` (the wire path, already
 * percent-encoded, starting with '/', no query) with an optional body
 * sent with the client's content type. Signed, checked, retried and
 * deadline-bound exactly as aws_call(). `err->http_status` gets the final
 * status, on success too (e.g. 200 or 204). RESULT_INVALID_INPUT ("path")
 * for a path with spaces, controls, '?' or '#'.
 */
enum result aws_rest_call(struct aws_client *c, const char *method,
                          const char *path, const char *body, size_t body_len,
                          int64_t deadline_ms, struct buf *out,
                          struct error_info *err) WARN_UNUSED;

#endif

/* The Lambda Runtime API client: next, response, error, init error. */
#ifndef STREAMER_RUNTIME_API_H
#define STREAMER_RUNTIME_API_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "result.h"

/*
 * Lambda's limit on a synchronous response payload, in bytes (Lambda
 * quotas: "6 MB each for request and response"); the service reports the
 * exact figure, 6291556, when it refuses one.
 */
#define RUNTIME_API_MAX_RESPONSE_BYTES 6291556u
/* The largest event we accept from /next (requests are capped the same). */
#define RUNTIME_API_MAX_EVENT_BYTES (7u * 1024u * 1024u)

/* One invocation, as the headers of GET /next describe it. */
struct invocation {
    char request_id[128];   /* Lambda-Runtime-Aws-Request-Id */
    int64_t deadline_ms;    /* Lambda-Runtime-Deadline-Ms, epoch ms */
    char function_arn[512]; /* Lambda-Runtime-Invoked-Function-Arn */
    char trace_id[512];     /* Lambda-Runtime-Trace-Id, "" when absent */
    char *client_context;   /* Lambda-Runtime-Client-Context, or NULL */
    char *cognito_identity; /* Lambda-Runtime-Cognito-Identity, or NULL */
    struct buf event;       /* the event JSON, as received */
};

/* Prepares an empty invocation (caller-owned struct). */
void invocation_init(struct invocation *inv);
/* Frees what the invocation holds; it may be reused after init. */
void invocation_cleanup(struct invocation *inv);
/* Milliseconds left before the deadline at `now_ms` (epoch), never < 0. */
int64_t invocation_remaining_ms(const struct invocation *inv, int64_t now_ms);

/*
 * Connects nothing yet; parses `address`, Lambda's AWS_LAMBDA_RUNTIME_API
 * ("host:port"), also accepted with an "http://" prefix. Returns NULL with
 * `err` set (RESULT_CONFIG) when the address is empty or malformed.
 * Caller owns the result; free with runtime_api_free().
 */
struct runtime_api *runtime_api_new(const char *address,
                                    struct error_info *err);
/* Closes the connection and frees `api`; NULL is a no-op. */
void runtime_api_free(struct runtime_api *api);

/*
 * GET /2018-06-01/runtime/invocation/next, with no timeout (the sandbox may
 * be frozen while waiting) and a short connect timeout. Fills `inv` (which
 * is reset first). RESULT_FATAL on HTTP 500 (documented as non-recoverable:
 * the runtime must exit), RESULT_TRANSPORT when the connection failed,
 * RESULT_PARSE when the answer lacks a request id or deadline.
 */
enum result runtime_api_next(struct runtime_api *api, struct invocation *inv,
                             struct error_info *err) WARN_UNUSED;

/*
 * POST /2018-06-01/runtime/invocation/{id}/response with the `len` bytes
 * of `body` (borrowed). RESULT_OK when the Runtime API accepted it (202);
 * RESULT_INVALID_INPUT, with nothing sent, when `request_id` holds a
 * character that would change the path; RESULT_FATAL on HTTP 5xx (the
 * runtime must exit); RESULT_SERVICE_ERROR on another status (e.g. 413
 * for a response over the limit); the transport's failure
 * (RESULT_TRANSPORT, RESULT_TIMEOUT) otherwise. `err` says why.
 */
enum result runtime_api_respond(struct runtime_api *api, const char *request_id,
                                const char *body, size_t len,
                                struct error_info *err) WARN_UNUSED;

/*
 * POST /2018-06-01/runtime/invocation/{id}/error: header
 * Lambda-Runtime-Function-Error-Type: `error_type`, body
 * {"errorMessage","errorType","stackTrace":[]}. The error type may come
 * from outside (an AWS error's __type): CR, LF and other control
 * characters in it are sent as spaces, in the header and the body alike
 * (http_header_value_clean()), and it is cut at 255 bytes; an empty one
 * becomes Runtime.HandlerError. `message` may be NULL (sent as "").
 * Returns and fails as runtime_api_respond().
 */
enum result runtime_api_fail(struct runtime_api *api, const char *request_id,
                             const char *error_type, const char *message,
                             struct error_info *err) WARN_UNUSED;

/* POST /2018-06-01/runtime/init/error, same shape as runtime_api_fail(). */
enum result runtime_api_init_error(struct runtime_api *api,
                                   const char *error_type, const char *message,
                                   struct error_info *err) WARN_UNUSED;

#endif

/* The wire protocol's server-to-client messages (docs/protocol.md). */
#ifndef STREAMER_REPLY_H
#define STREAMER_REPLY_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "result.h"

/* The error codes of docs/protocol.md. */
#define REPLY_INVALID_MESSAGE "INVALID_MESSAGE"
#define REPLY_INVALID_ACTION "INVALID_ACTION"
#define REPLY_VALIDATION_ERROR "VALIDATION_ERROR"
#define REPLY_NOT_FOUND "NOT_FOUND"
#define REPLY_FORBIDDEN "FORBIDDEN"
#define REPLY_UNAUTHORIZED "UNAUTHORIZED"
#define REPLY_RATE_LIMITED "RATE_LIMITED"
#define REPLY_PAYLOAD_TOO_LARGE "PAYLOAD_TOO_LARGE"
#define REPLY_DUPLICATE_REQUEST "DUPLICATE_REQUEST"
#define REPLY_PROCESSING_FAILED "PROCESSING_FAILED"
#define REPLY_INTERNAL_ERROR "INTERNAL_ERROR"

/*
 * Each builds one message of docs/protocol.md and returns its JSON text:
 * caller owns it, free with free(). They cannot fail: they abort when
 * memory is exhausted, never return NULL. `request_id` may be NULL where
 * the protocol makes it optional; trees passed in are borrowed and
 * copied.
 */
/* {"type":"response","success":true,"data":...}; NULL `data` is {}. */
char *reply_response(const char *request_id, const cJSON *data);
/* {"type":"acknowledgment","status":"queued"}. */
char *reply_ack(const char *request_id);
/* {"type":"progress","percentage","message","timestamp"}. */
char *reply_progress(const char *request_id, int percentage,
                     const char *message, const char *timestamp);
/* {"type":"complete","result","timestamp"}; NULL `result` is {}. */
char *reply_complete(const char *request_id, const cJSON *result,
                     const char *timestamp);
/* {"type":"error","error":{"code","message","details"}}; `details` may be
 * NULL (then omitted). */
char *reply_error(const char *request_id, const char *code, const char *message,
                  const cJSON *details);
/* {"type":"pong"}. */
char *reply_pong(void);

/*
 * Writes an API Gateway route response, {"statusCode":N,"body":"<text>"}
 * (the body JSON-escaped; omitted when NULL), into `out` (reset first).
 * RESULT_TOO_LARGE when it does not fit `out`'s cap.
 */
enum result reply_route(struct buf *out, int status_code,
                        const char *body) WARN_UNUSED;

#endif

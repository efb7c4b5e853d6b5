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
 * Each returns a malloc'd JSON text (caller frees). `request_id` may be
 * NULL where the protocol makes it optional; trees passed in are
 * borrowed and copied.
 */
char *reply_response(const char *request_id, const cJSON *data);
char *reply_ack(const char *request_id);
char *reply_progress(const char *request_id, int percentage,
                     const char *message, const char *timestamp);
char *reply_complete(const char *request_id, const cJSON *result,
                     const char *timestamp);
/* `details` may be NULL. */
char *reply_error(const char *request_id, const char *code, const char *message,
                  const cJSON *details);
char *reply_pong(void);

/*
 * Writes an API Gateway route response, {"statusCode":N,"body":"<text>"}
 * (the body JSON-escaped; omitted when NULL), into `out`.
 */
enum result reply_route(struct buf *out, int status_code,
                        const char *body) WARN_UNUSED;

#endif

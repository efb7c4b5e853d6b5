/* AWS JSON-protocol error responses: their type, message and meaning. */
#ifndef STREAMER_AWS_ERROR_H
#define STREAMER_AWS_ERROR_H

#include <stddef.h>

#include "result.h"

/* The type reported when a failed response carries no readable type. */
#define AWS_ERROR_HTTP "HttpError"

/*
 * Reads the error response of an AWS JSON-protocol service (DynamoDB
 * Developer Guide, "Error handling with DynamoDB": a status, and a body
 * such as {"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFound
 * Exception","message":"..."}). The type is taken from the
 * X-Amzn-ErrorType header `type_header` when non-empty, else the body's
 * "code", else its "__type"; anything from ':' on and up to the last '#'
 * is dropped. The message is the body's "message" or "Message".
 *
 * Fills `err` (may be NULL): type, message, http_status. Returns the
 * matching result, never RESULT_OK:
 *   ConditionalCheckFailedException, or TransactionCanceledException with
 *     a ConditionalCheckFailed cancellation reason -> RESULT_CONDITION_FAILED
 *     (then `err->field` names the first such item, "TransactItems[i]",
 *     when the body lists the reasons);
 *   ResourceNotFoundException                 -> RESULT_NOT_FOUND;
 *   ValidationException, SerializationException -> RESULT_INVALID_INPUT;
 *   throttling types (retry_is_throttling_type), HTTP 429 -> RESULT_THROTTLED;
 *   HTTP 413 without a type                   -> RESULT_TOO_LARGE;
 *   anything else                             -> RESULT_SERVICE_ERROR.
 * A body that is empty, not JSON or without a type yields the type
 * "HttpError" and a message with the status and the body's first bytes.
 * `body` is borrowed and need not be NUL-terminated; it may be NULL when
 * `body_len` is 0.
 */
enum result aws_error_parse(int http_status, const char *body, size_t body_len,
                            const char *type_header,
                            struct error_info *err) WARN_UNUSED;

/*
 * Returns the result for an error type (the part after '#') alone, as
 * aws_error_parse() maps it, without looking at a body. `type` may be NULL.
 */
enum result aws_error_result(const char *type, int http_status) WARN_UNUSED;

#endif

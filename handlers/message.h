/* Messages on the $default route: validate, route by action, answer. */
#ifndef STREAMER_MESSAGE_H
#define STREAMER_MESSAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "result.h"

#define MESSAGE_MAX_BODY_BYTES (128 * 1024)

/*
 * Handles a MESSAGE event. The body (strict base64-decoded when
 * isBase64Encoded) must be UTF-8 without NUL characters (raw or \u0000)
 * holding one JSON object and nothing after it, per docs/protocol.md:
 * "action" 1-64 of [A-Za-z0-9._-], optional "id" 1-128 of [A-Za-z0-9._:-],
 * optional "payload" and "metadata" objects. Built-in actions answer at once;
 * registered async actions are validated, enqueued (the client's id is
 * the request id), the sender subscribed, and acknowledged. Every answer,
 * errors included, is the route response {"statusCode":200,"body":...}
 * ($default is a two-way route). `raw` (may be NULL) is the event's
 * JSON text, checked for NUL escapes that parsing hid. Fails only when
 * `out` cannot hold the answer.
 */
enum result message_handle(struct app *a, const cJSON *event, const char *raw,
                           size_t raw_len, int64_t deadline_ms, struct buf *out,
                           struct error_info *err) WARN_UNUSED;

#endif

/* $connect: authenticate the client and save its connection. */
#ifndef STREAMER_CONNECT_H
#define STREAMER_CONNECT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "result.h"

/*
 * Handles a CONNECT event: identity from a Lambda authorizer context when
 * present, else an RS256 JWT from the query string (Authorization or
 * token) or the Authorization header ("Bearer " stripped); tenant checked
 * against ALLOWED_TENANTS; the connection saved. Answers {"statusCode":
 * 200}, 401 {"error":"Unauthorized","code":"UNAUTHORIZED"} (the reason is
 * logged only), or 500 when the store fails. Fails only when `out`
 * cannot hold the answer.
 */
enum result connect_handle(struct app *a, const cJSON *event,
                           int64_t deadline_ms, struct buf *out,
                           struct error_info *err) WARN_UNUSED;

#endif

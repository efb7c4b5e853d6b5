/* Pushing messages to connected clients; gone clients are cleaned up. */
#ifndef STREAMER_PUSH_H
#define STREAMER_PUSH_H

#include <stdint.h>

#include "app.h"
#include "result.h"

/*
 * Sends `message` to `connection_id` through the Management API at the
 * connection's endpoint ("domain/stage", or WEBSOCKET_ENDPOINT). When the
 * client is gone (410), deletes its connection and subscriptions and
 * returns RESULT_NOT_FOUND; 429 and 5xx were already retried.
 */
enum result push_send(struct app *a, const char *connection_id,
                      const char *endpoint, const char *message,
                      int64_t deadline_ms, struct error_info *err) WARN_UNUSED;

/* Deletes a connection and its subscriptions (best effort; logged). */
void push_forget(struct app *a, const char *connection_id, int64_t deadline_ms);

/*
 * Writes the Management API URL for a stored endpoint "domain/stage" (or
 * the WEBSOCKET_ENDPOINT override) into `out` (`size` bytes).
 * RESULT_INVALID_INPUT (err->field "endpoint") when there is neither or
 * the URL does not fit.
 */
enum result push_endpoint_url(const struct app *a, const char *endpoint,
                              char *out, size_t size,
                              struct error_info *err) WARN_UNUSED;

#endif

/* $disconnect: forget the connection, its subscriptions, its queue. */
#ifndef STREAMER_DISCONNECT_H
#define STREAMER_DISCONNECT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "app.h"
#include "buf.h"
#include "result.h"

/*
 * Handles a DISCONNECT event: deletes the connection and its
 * subscriptions, cancels its PENDING requests, logs how long it lasted.
 * Always answers {"statusCode":200} (API Gateway ignores the answer);
 * store failures are logged.
 */
enum result disconnect_handle(struct app *a, const cJSON *event,
                              int64_t deadline_ms, struct buf *out,
                              struct error_info *err) WARN_UNUSED;

#endif

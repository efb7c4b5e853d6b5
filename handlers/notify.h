/* Telling a request's subscribers: who listens, and pushes to all at once. */
#ifndef STREAMER_NOTIFY_H
#define STREAMER_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "result.h"

/* A subscriber and the Management API URL that reaches it. */
struct notify_listener {
    char *connection_id;
    char *url;
    unsigned events; /* enum sub_event bits; 0 once it is gone */
};

/*
 * The listeners of one request, read in O(1) round trips (a Query of the
 * request's subscriptions, then one BatchGetItem per hundred connections
 * not yet known) and kept between pushes. Caller-owned struct.
 */
struct notify {
    struct app *a;
    char *tenant_id; /* the request's owner: its key (store/requests.h) */
    char *user_id;
    char *request_id;
    struct notify_listener *listeners; /* sorted by connection_id */
    size_t count;
    int64_t loaded_ms; /* when they were last read; 0: never */
    int64_t interval_ms;
};

/*
 * For the request of `tenant_id`/`user_id` named `request_id` (all
 * copied): listeners are read again at most every `interval_ms`. Free
 * with notify_cleanup().
 */
void notify_init(struct notify *n, struct app *a, const char *tenant_id,
                 const char *user_id, const char *request_id,
                 int64_t interval_ms);
/* Frees what `n` holds (listeners and copies). Cannot fail. */
void notify_cleanup(struct notify *n);

/*
 * Sends `frames[0..count)` (borrowed), in that order, to every listener
 * of `event`, all listeners at once (runtime/fanout.c). The listeners
 * are read again first when the last read is older than the interval,
 * or always when `fresh` (the final frame: someone who subscribed a
 * moment ago hears how it ended). Connections that are gone (410) are
 * forgotten: their items deleted in one BatchWriteItem, then their
 * subscriptions. Failures are logged; returns how many listeners got
 * every frame.
 */
size_t notify_send(struct notify *n, unsigned event, char *const *frames,
                   size_t count, int fresh, int64_t deadline_ms);

/*
 * Sends frames (borrowed), in order, to one connection reached through
 * `endpoint` ("domain/stage" as stored on the connection). RESULT_OK when
 * every frame was accepted; RESULT_NOT_FOUND when it is gone (then
 * forgotten, as above); else the Management API's failure, with `err`
 * saying why and the frames after the failed one not sent.
 */
enum result notify_push_one(struct app *a, const char *connection_id,
                            const char *endpoint, char *const *frames,
                            size_t count, int64_t deadline_ms,
                            struct error_info *err) WARN_UNUSED;

#endif

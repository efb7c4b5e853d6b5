/* API Gateway's WebSocket events for Lambda, and the function's answer. */
#ifndef STREAMER_LOCAL_WSEVENT_H
#define STREAMER_LOCAL_WSEVENT_H

#include <stddef.h>
#include <stdint.h>

struct mg_request_info;

/* Random bytes of an id, and its text's buffer: 16 base64 characters, the
 * last one '=', like API Gateway's connection and request ids. */
#define WSEVENT_ID_BYTES 11
#define WSEVENT_ID_SIZE 24

/* What an event says about the API and the connection (all borrowed). */
struct wsevent_source {
    const char *stage;         /* "prod" */
    const char *domain;        /* "127.0.0.1:PORT" */
    const char *api_id;        /* 10 of [a-z0-9] */
    const char *connection_id; /* WSEVENT_ID_BYTES as an id */
    int64_t connected_ms;      /* epoch ms of the $connect */
    const char *source_ip;
    const char *user_agent;   /* NULL when the client sent none */
    int close_code;           /* $disconnect only */
    const char *close_reason; /* $disconnect only */
};

/*
 * The $connect event for the upgrade request `ri` (its headers and query
 * string). Writes the event's new requestId into `request_id`. Returns
 * the event as JSON text; caller owns it, free with free(). Aborts when
 * memory is exhausted; cannot fail otherwise.
 */
char *wsevent_connect(const struct wsevent_source *src,
                      const struct mg_request_info *ri,
                      char request_id[WSEVENT_ID_SIZE]);

/*
 * The MESSAGE event of the `len` bytes at `data` (borrowed), for route
 * `route`; a `binary` message's body is sent base64-encoded. As
 * wsevent_connect(): writes `request_id`; caller owns the result, free
 * with free(); aborts when memory is exhausted.
 */
char *wsevent_message(const struct wsevent_source *src, const char *route,
                      int binary, const char *data, size_t len,
                      char request_id[WSEVENT_ID_SIZE]);

/*
 * The $disconnect event, with the source's close code and reason. As
 * wsevent_connect(): writes `request_id`; caller owns the result, free
 * with free(); aborts when memory is exhausted.
 */
char *wsevent_disconnect(const struct wsevent_source *src,
                         char request_id[WSEVENT_ID_SIZE]);

/*
 * The route key of a text message ("Working with routes for WebSocket
 * APIs"): $request.body.action when the body is a JSON object whose
 * action names a route of the API other than $connect and $disconnect,
 * else "$default". Returns a static string; cannot fail.
 */
const char *wsevent_route(const char *body, size_t len);

/*
 * The statusCode of a Lambda proxy answer `answer` (borrowed JSON text):
 * 200 when absent or when `answer` is not JSON. When `body` is not NULL,
 * `*body` gets a copy of the answer's string body or NULL; caller owns
 * it, free with free().
 */
int wsevent_answer_status(const char *answer, char **body);

#endif

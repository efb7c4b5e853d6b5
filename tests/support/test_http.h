/* A scriptable HTTP/1.1 server on loopback for tests (faults included). */
#ifndef STREAMER_TEST_HTTP_H
#define STREAMER_TEST_HTTP_H

#include <stddef.h>

struct test_http_header {
    char *name;  /* as sent */
    char *value; /* leading and trailing blanks trimmed */
};

/* One request as the server read it. The server owns every field. */
struct test_http_request {
    char method[16];
    char *target; /* path and query, as sent */
    struct test_http_header *headers;
    size_t header_count;
    char *body; /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    int index; /* 0 for the server's first request, then 1, 2, ... */
};

enum test_http_action {
    TEST_HTTP_REPLY = 0, /* status + headers + body */
    TEST_HTTP_RAW,       /* send `raw` verbatim, then close */
    TEST_HTTP_CLOSE,     /* close the connection without answering */
};

/*
 * What the handler fills in. Defaults: 200, no extra headers, empty body.
 * `body` and `raw` are malloc'd by the handler; the server frees them.
 */
struct test_http_reply {
    enum test_http_action action;
    int status;
    char headers[4096]; /* extra lines, each "Name: value\r\n" */
    char *body;
    size_t body_len;
    char *raw;
    size_t raw_len;
    int delay_ms;    /* sleep this long before answering (a stall) */
    int close_after; /* close the connection after answering */
    int chunked;     /* the body chunked, one write (1 ms apart) per chunk */
};

/*
 * Called on the connection's own thread, concurrently for concurrent
 * connections; the handler does its own locking.
 */
typedef void (*test_http_handler_fn)(void *ctx,
                                     const struct test_http_request *req,
                                     struct test_http_reply *reply);

/*
 * Starts a server on 127.0.0.1 on a free port. Returns NULL on failure.
 * Caller owns the result; free with test_http_stop().
 */
struct test_http *test_http_start(test_http_handler_fn fn, void *ctx);

/* Closes the listener and every connection, joins every thread, frees. */
void test_http_stop(struct test_http *s);

int test_http_port(const struct test_http *s);

/* "http://127.0.0.1:PORT" (owned by the server). */
const char *test_http_url(const struct test_http *s);

/* Requests read so far. */
int test_http_request_count(struct test_http *s);
/* Connections accepted so far. */
int test_http_connection_count(struct test_http *s);

/* Case-insensitive header lookup; NULL when absent. */
const char *test_http_header(const struct test_http_request *req,
                             const char *name);

/* Sets reply->body to a malloc'd copy of `s` (helper for handlers). */
void test_http_reply_body(struct test_http_reply *reply, const char *s);

#endif

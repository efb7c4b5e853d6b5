/* A WebSocket client for end-to-end tests (civetweb's client API). */
#ifndef STREAMER_TEST_WS_CLIENT_H
#define STREAMER_TEST_WS_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/*
 * One client connection. Frames the server sends are kept, in the order
 * they arrive, in an inbox that a civetweb thread fills and the test
 * drains; every call here is safe against that thread.
 */
struct ws_client;

/*
 * Initialises civetweb for clients; call once per process before any
 * other call here, and pair with ws_client_library_cleanup().
 */
void ws_client_library_init(void);
void ws_client_library_cleanup(void);

/*
 * Opens ws://host:port<path>; `path` may carry a query string (already
 * URL-encoded). Returns the client (caller frees with ws_client_close()),
 * or NULL with the reason in `err` when the upgrade did not happen.
 */
struct ws_client *ws_client_connect(const char *host, int port,
                                    const char *path, char *err,
                                    size_t err_size);

/*
 * Sends an upgrade request for `path` over a plain HTTP connection and
 * returns the response's status (101 when the server accepted it), or -1
 * with the reason in `err` when there was no response within
 * `timeout_ms`. The connection is closed either way.
 */
int ws_client_upgrade_status(const char *host, int port, const char *path,
                             int timeout_ms, char *err, size_t err_size);

/* Sends `text` as one text frame. Returns 0, or -1 when it failed. */
int ws_client_send(struct ws_client *c, const char *text);

/*
 * Waits up to `timeout_ms` for the oldest message that is a text frame
 * holding a JSON object with "type" equal to `type` and "request_id"
 * equal to `request_id` (either NULL: any message at all; one that is not
 * JSON comes as a JSON string), takes it out of the inbox and returns it
 * (caller frees with cJSON_Delete()). Returns NULL on timeout, or sooner when
 * the server closed the connection and no such frame is left.
 */
cJSON *ws_client_wait(struct ws_client *c, const char *type,
                      const char *request_id, int timeout_ms);

/*
 * How many frames in the inbox match `type` and `request_id` (NULL:
 * any), without waiting or taking them.
 */
size_t ws_client_count(struct ws_client *c, const char *type,
                       const char *request_id);

/*
 * The inbox as text, one frame a line, for failure messages. Caller
 * frees.
 */
char *ws_client_dump(struct ws_client *c);

/* 1 once the server has closed the connection (or it broke). */
int ws_client_closed(struct ws_client *c);

/*
 * Closes the connection: a close frame (1000), up to `timeout_ms` for
 * the server's answer, then the socket; frees everything. NULL is a
 * no-op.
 */
void ws_client_close(struct ws_client *c, int timeout_ms);

/*
 * Drops the connection without a close frame (a client that vanished:
 * the server sees the TCP connection end) and frees everything. NULL is
 * a no-op.
 */
void ws_client_drop(struct ws_client *c);

#endif

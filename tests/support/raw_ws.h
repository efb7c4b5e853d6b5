/* A minimal WebSocket client on plain sockets (RFC 6455), for thousands. */
#ifndef STREAMER_TEST_RAW_WS_H
#define STREAMER_TEST_RAW_WS_H

#include <stddef.h>

/*
 * Connects to 127.0.0.1:`port` (TCP_NODELAY) and upgrades `path` (with
 * its query). Returns the socket (close() it), or -1 with the reason in
 * `why`. No thread per connection: a test can hold thousands.
 */
int raw_ws_open(int port, const char *path, int timeout_ms, char *why,
                size_t size);

/* Sends one masked frame of `opcode` (1 text, 9 ping). 0, or -1. */
int raw_ws_send(int fd, int opcode, const char *data, size_t len);

/*
 * Reads one frame within `timeout_ms` per read: returns its opcode and
 * the payload in `*payload` (NUL-terminated; caller frees) and `*len`;
 * -1 on timeout or a closed socket.
 */
int raw_ws_read(int fd, int timeout_ms, char **payload, size_t *len);

/* The code of the next close frame (other frames skipped), or -1. */
int raw_ws_close_code(int fd, int timeout_ms);

#endif

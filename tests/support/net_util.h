/* Loopback helpers for tests: free ports and readiness probes. */
#ifndef STREAMER_TEST_NET_UTIL_H
#define STREAMER_TEST_NET_UTIL_H

/* Returns a TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int net_free_port(void);

/* Returns 1 when something accepts connections on 127.0.0.1:port. */
int net_port_open(int port);

/*
 * A listening TCP socket on 127.0.0.1 and a port the kernel picks, with
 * SO_REUSEADDR and close-on-exec: its fd, the port in `*port`; -1 when
 * it cannot be made.
 */
int net_listen(int backlog, int *port);

#endif

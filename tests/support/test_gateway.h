/* The local gateway as a child process of a test: start, locate, stop. */
#ifndef STREAMER_TEST_GATEWAY_H
#define STREAMER_TEST_GATEWAY_H

#include <stddef.h>
#include <sys/types.h>

#define TEST_GATEWAY_MAX_CHILDREN 64

/* How to start it. `env` adds (or replaces) "NAME=value" settings. */
struct test_gateway_options {
    const char *stage;       /* "prod" when NULL */
    int timeout_ms;          /* the function timeout; 30000 when 0 */
    int no_stream;           /* pass --no-stream */
    const char *const *env;  /* NULL-terminated, may be NULL */
    int ready_timeout_ms;    /* for the READY line; 60000 when 0 */
    const char *const *args; /* more options, NULL-terminated, or NULL */
};

/* A running gateway, filled by test_gateway_start(). */
struct test_gateway {
    pid_t pid; /* 0 when not running */
    int stdout_fd;
    char host[64];
    int port;
    char path[128];      /* "/<stage>" */
    char log_path[1024]; /* its stderr */
    /* Children this process had before the start (not the gateway's). */
    pid_t before[TEST_GATEWAY_MAX_CHILDREN];
    int before_count;
};

/*
 * Starts $STREAMER_BUILD/gateway (default build/release) with
 * --bootstrap $STREAMER_BOOTSTRAP, the DynamoDB Local endpoint and
 * --create-tables, in this process's environment plus `o->env`, and
 * waits for its READY line. Its stdout is a pipe, its stderr a log file.
 * It gets SIGTERM when this thread dies (PR_SET_PDEATHSIG) and stays in
 * this process group; this process becomes a child subreaper, so
 * anything the gateway leaves behind is ours to find and stop.
 * Returns 0, or -1 with the reason (and the log's tail) in `err`, the
 * gateway stopped.
 */
int test_gateway_start(struct test_gateway *g,
                       const struct test_gateway_options *o, char *err,
                       size_t err_size);

/*
 * Stops it: SIGTERM, up to `timeout_ms` for it to exit, then SIGKILL;
 * then up to `timeout_ms` for the processes it started to go, and
 * SIGKILL for any that stay. Returns its exit status (0-255, 128+signal
 * when a signal ended it, -1 when it had to be killed), and in `*left`
 * (may be NULL) how many processes it left behind. Safe to call twice;
 * the log file is removed when the status is 0 and nothing was left.
 */
int test_gateway_stop(struct test_gateway *g, int timeout_ms, int *left);

/* The last `max_bytes` of its log, NUL-terminated. Caller frees. */
char *test_gateway_log_tail(const struct test_gateway *g, size_t max_bytes);

#endif

/* What the local gateway's parts share: log, ids, errors, waits, ports. */
#ifndef STREAMER_LOCAL_SERVICE_H
#define STREAMER_LOCAL_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mg_context;

/*
 * Writes one line on stderr: "HH:MM:SS.mmm gateway: <message>", cut at
 * about 1,200 bytes. Safe from any thread (one fprintf per line); cannot
 * fail.
 */
void service_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes `n` random bytes (at most 48) as padded standard base64 with
 * '+' '/' made URL-safe ('-' '_') into `out`, so an id never needs
 * escaping in a path; e.g. 11 bytes give 16 characters ending in '=' like
 * API Gateway's connection ids. `out` (caller's) holds at least
 * 4 * ((n + 2) / 3) + 1 bytes. When the random generator fails the id is
 * still written (from zero bytes) and the failure is logged.
 */
void service_random_id(char *out, size_t n);

/*
 * The first `size` - 1 bytes of `s` on one line, for the log: line breaks
 * become blanks, and "..." ends a text that was cut. `out` (caller's)
 * holds `size` bytes (at least 4); `s` may be NULL (then "").
 */
void service_snippet(const char *s, char *out, size_t size);

/*
 * {"errorType":type,"errorMessage":message}, as Lambda reports its own
 * errors, with the message formatted from `fmt` (cut at 2,000 bytes),
 * '"' and '\' escaped and control characters made blanks. `type` must
 * need no escaping. Caller owns the result; free with free(). Aborts when
 * memory is exhausted.
 */
char *service_error_doc(const char *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Sets `*ts` to the epoch time `epoch_ms` (CLOCK_REALTIME, the clock of
 * clock_now_ms() and of pthread_cond_timedwait() on a default condition
 * variable), for an absolute timed wait. Cannot fail.
 */
void service_abstime(int64_t epoch_ms, struct timespec *ts);

/*
 * Starts a civetweb server with the options `opts` (NULL-terminated name,
 * value pairs), no callbacks and `data` as its user data, and stores the
 * port it listens on in `*port`. Returns the context (stop with
 * mg_stop()), or NULL when it cannot listen: then `failure` (borrowed) is
 * logged, nothing is left running and `*port` is untouched.
 */
struct mg_context *service_listen(const char **opts, void *data,
                                  const char *failure, int *port);

#endif

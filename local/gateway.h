/* The local gateway's parts: settings, invoker, WebSocket API, poller. */
#ifndef STREAMER_GATEWAY_H
#define STREAMER_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

/* The gateway's settings, from the command line (gateway.c). */
struct gateway_options {
    int port;                 /* WebSocket + Management API; 0: any free */
    const char *bootstrap;    /* the function's executable */
    const char *stage;        /* "prod" */
    long timeout_ms;          /* the function's timeout */
    const char *ddb_endpoint; /* DynamoDB Local, or NULL */
    int create_tables;
    int stream;
    int tables_only;             /* create the tables and exit */
    const char *lambda_endpoint; /* Invoke-API mode, or NULL */
    const char *console_dir;     /* static files served at /, or NULL */
    /* API Gateway's WebSocket quotas ("Amazon API Gateway quotas for
     * WebSocket APIs"): idle timeout 10 minutes, connection duration
     * 2 hours; settable for tests. */
    long idle_timeout_ms;
    long max_connection_ms;
    int max_connections; /* concurrent WebSockets (a thread each) */
};

#define GATEWAY_IDLE_TIMEOUT_MS (10L * 60 * 1000)
#define GATEWAY_MAX_CONNECTION_MS (2L * 3600 * 1000)
#define GATEWAY_MAX_CONNECTIONS 2048

/* Epoch milliseconds (CLOCK_REALTIME). */
int64_t gateway_now_ms(void);

/*
 * One readable line on stderr: "HH:MM:SS.mmm gateway: <message>". Safe
 * from any thread (one fprintf per line).
 */
void gateway_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * `n` random bytes as standard base64 with '+' '/' made URL-safe ('-'
 * '_'), so an id never needs escaping in a path; e.g. 11 bytes give 16
 * characters ending in '=' like API Gateway's connection ids. `out` holds
 * at least 4 * ((n + 2) / 3) + 1 bytes.
 */
void gateway_random_id(char *out, size_t n);

/* ---- invoker.c: the Lambda Runtime API and the bootstrap process ---- */

struct invoker;

/*
 * Starts the Runtime API on a free loopback port and the supervisor that
 * keeps one `bootstrap` process running (restarted when it dies). The
 * process inherits the environment. Returns NULL (logged) on failure.
 * Free with invoker_free().
 */
struct invoker *invoker_new(const char *bootstrap, long timeout_ms);

/* "127.0.0.1:PORT" of the Runtime API (owned by `inv`). */
const char *invoker_address(const struct invoker *inv);

/* Spawns the bootstrap; 0 when it reached its first /next within
 * `wait_ms`, -1 (logged) when it failed to initialise or exit. */
int invoker_start(struct invoker *inv, long wait_ms);

/*
 * Invokes the function with `event` (JSON text, borrowed) and waits for
 * its answer, events being handed over one at a time in arrival order.
 * `label` names the event in the log. Returns 0 with `*answer` the
 * function's response, 1 with `*answer` its error document (a function
 * error, a crash or a timeout), -1 when the gateway is stopping
 * (`*answer` NULL). Caller owns `*answer`; free with free().
 */
int invoker_invoke(struct invoker *inv, const char *label, const char *event,
                   char **answer);

/* Refuses new events, fails waiting ones and stops the bootstrap. */
void invoker_stop(struct invoker *inv);

/*
 * An invoker without a bootstrap: every event goes to the Lambda Invoke
 * API at `endpoint` (e.g. `sam local start-lambda` on
 * http://127.0.0.1:3001) for `function`, concurrently, as API Gateway and
 * the stream mapping call Lambda. invoker_start() then spawns nothing.
 * NULL (logged) for a bad endpoint. Free with invoker_free().
 */
struct invoker *invoker_new_remote(const char *endpoint, const char *function,
                                   long timeout_ms);

/* ---- lambda.c: the Lambda Invoke API client of invoker_new_remote() ---- */

struct lambda_remote;

/* NULL (logged) when `endpoint` is not an http(s) URL. */
struct lambda_remote *lambda_remote_new(const char *endpoint,
                                        const char *function, long timeout_ms);

/* The endpoint's URL (owned by `lr`). */
const char *lambda_remote_url(const struct lambda_remote *lr);

/*
 * POSTs `event` to .../functions/<function>/invocations and waits. As
 * invoker_invoke(): 0 with the function's result, 1 with an error
 * document (X-Amz-Function-Error set, a non-200 status or no answer), -1
 * once stopping. Caller owns `*answer`; free with free().
 */
int lambda_remote_invoke(struct lambda_remote *lr, const char *label,
                         const char *event, char **answer);

/* Makes calls in flight and later ones return -1. */
void lambda_remote_stop(struct lambda_remote *lr);

/* Frees `lr` (calls must have returned); NULL is a no-op. */
void lambda_remote_free(struct lambda_remote *lr);

/* Stops everything (if not yet) and frees `inv`; NULL is a no-op. */
void invoker_free(struct invoker *inv);

/* ---- wsapi.c: WebSocket API and Management API ---- */

struct wsapi;

/* Serves ws://127.0.0.1:PORT/<stage> and the Management API; NULL
 * (logged) when the port cannot be bound. Free with wsapi_free(). */
struct wsapi *wsapi_new(const struct gateway_options *o, struct invoker *inv);

/* The port actually bound. */
int wsapi_port(const struct wsapi *ws);

/* Stops serving: closes every connection (no $disconnect) and frees. */
void wsapi_free(struct wsapi *ws);

/* ---- poller.c: DynamoDB Streams → the function ---- */

struct poller;

/*
 * Polls the stream of `table` at `endpoint` on its own thread and invokes
 * the function with batches. `from_start`: TRIM_HORIZON for the shards
 * open at start, else LATEST. NULL (logged) when the thread cannot start.
 */
struct poller *poller_new(const char *endpoint, const char *region,
                          const char *table, int from_start,
                          struct invoker *inv);

/* Stops the thread and frees; NULL is a no-op. */
void poller_free(struct poller *p);

/* ---- scheduler.c: EventBridge schedules → the function ---- */

struct scheduler;

/*
 * Invokes the function through `inv` on its own thread as EventBridge
 * would: the retry pass's constant input every `pass_ms`, a "Scheduled
 * Event" (the sweeper) every `sweep_ms`; 0 turns one off. NULL (logged)
 * when the thread cannot start. Free with scheduler_free().
 */
struct scheduler *scheduler_new(struct invoker *inv, long pass_ms,
                                long sweep_ms);

/* Fires a retry pass (or a sweep) now, from any thread; returns at once. */
void scheduler_fire_pass(struct scheduler *s);
void scheduler_fire_sweep(struct scheduler *s);

/* Stops the thread (after invoker_stop() it ends at once) and frees;
 * NULL is a no-op. */
void scheduler_free(struct scheduler *s);

/* ---- devtoken.c ---- */

/*
 * Prints an RS256 JWT signed by the PEM private key at `key_path` (sub
 * "dev-user", tenant_id "dev-tenant", exp in 24 h; iss and aud from
 * JWT_ISSUER / JWT_AUDIENCE when set) on stdout. 0, or -1 (logged).
 */
int devtoken_print(const char *key_path);

#endif

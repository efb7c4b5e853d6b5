/* The Lambda Runtime API for one warm bootstrap, and its supervisor. */
#ifndef STREAMER_LOCAL_INVOKER_H
#define STREAMER_LOCAL_INVOKER_H

struct invoker;

/*
 * Starts the Runtime API on a free loopback port; invoker_start() then
 * starts the supervisor that keeps one `bootstrap` (copied) process
 * running, restarted when it dies. The process inherits the environment.
 * Returns NULL (logged) when the port cannot be bound. Caller owns the
 * result; free with invoker_free().
 */
struct invoker *invoker_new(const char *bootstrap, long timeout_ms);

/*
 * An invoker without a bootstrap: every event goes to the Lambda Invoke
 * API at `endpoint` (e.g. `sam local start-lambda` on
 * http://127.0.0.1:3001) for `function`, concurrently, as API Gateway and
 * the stream mapping call Lambda; invoker_start() then spawns nothing.
 * Returns NULL (logged) for a bad endpoint or function name. Caller owns
 * the result; free with invoker_free().
 */
struct invoker *invoker_new_remote(const char *endpoint, const char *function,
                                   long timeout_ms);

/* "127.0.0.1:PORT" of the Runtime API ("" in Invoke-API mode). Borrowed
 * from `inv`; cannot fail. */
const char *invoker_address(const struct invoker *inv);

/*
 * Spawns the bootstrap and waits up to `wait_ms` for it. Returns 0 when it
 * reached its first /next (always in Invoke-API mode), -1 (logged) when
 * it exited or did not ask in time, or the supervisor could not start.
 */
int invoker_start(struct invoker *inv, long wait_ms);

/*
 * Invokes the function with `event` (JSON text, borrowed) and waits for
 * its answer, events being handed over one at a time in arrival order.
 * `label` (borrowed) names the event in the log. Returns 0 with `*answer`
 * the function's response, 1 with `*answer` its error document (a
 * function error, a crash or a timeout), -1 when the gateway is stopping
 * (`*answer` NULL). Caller owns `*answer`; free with free(). Safe from any
 * thread.
 */
int invoker_invoke(struct invoker *inv, const char *label, const char *event,
                   char **answer);

/* Refuses new events, fails waiting ones (they return -1) and stops the
 * bootstrap: SIGTERM, SIGKILL after 2 s. Idempotent; cannot fail. */
void invoker_stop(struct invoker *inv);

/* Stops everything (if not yet) and frees `inv`; NULL is a no-op. */
void invoker_free(struct invoker *inv);

#endif

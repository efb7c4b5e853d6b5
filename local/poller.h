/* DynamoDB Streams to the function, as Lambda's event source mapping. */
#ifndef STREAMER_LOCAL_POLLER_H
#define STREAMER_LOCAL_POLLER_H

struct invoker;
struct poller;

/*
 * Polls the stream of `table` at `endpoint` on its own thread and invokes
 * the function through `inv` (borrowed; it must outlive the poller) with
 * batches. `from_start`: TRIM_HORIZON for the shards open at start, else
 * LATEST. The strings are copied. Failures of the calls are logged and
 * retried every second. Returns NULL (logged) when the thread cannot
 * start. Caller owns the result; free with poller_free().
 */
struct poller *poller_new(const char *endpoint, const char *region,
                          const char *table, int from_start,
                          struct invoker *inv);

/* Stops the thread (at once after invoker_stop()) and frees `p`; NULL is
 * a no-op. */
void poller_free(struct poller *p);

#endif

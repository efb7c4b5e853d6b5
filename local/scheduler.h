/* EventBridge schedules to the function: the retry pass and the sweeper. */
#ifndef STREAMER_LOCAL_SCHEDULER_H
#define STREAMER_LOCAL_SCHEDULER_H

struct invoker;
struct scheduler;

/*
 * Invokes the function through `inv` (borrowed; it must outlive the
 * scheduler) on its own thread as EventBridge would: the retry pass's
 * constant input every `pass_ms`, a "Scheduled Event" (the sweeper) every
 * `sweep_ms`; 0 turns one off. Returns NULL (logged) when the thread
 * cannot start. Caller owns the result; free with scheduler_free().
 */
struct scheduler *scheduler_new(struct invoker *inv, long pass_ms,
                                long sweep_ms);

/* Fires a retry pass now, from any thread; returns at once. NULL is a
 * no-op. */
void scheduler_fire_pass(struct scheduler *s);

/* Fires a sweep now, from any thread; returns at once. NULL is a no-op. */
void scheduler_fire_sweep(struct scheduler *s);

/* Stops the thread (after invoker_stop() it ends at once) and frees `s`;
 * NULL is a no-op. */
void scheduler_free(struct scheduler *s);

#endif

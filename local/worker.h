/* A thread of the local gateway that runs until it is told to stop. */
#ifndef STREAMER_LOCAL_WORKER_H
#define STREAMER_LOCAL_WORKER_H

#include <pthread.h>

/* What a worker's thread runs; its result is ignored. */
typedef void *worker_fn(void *arg);

/*
 * A caller-owned worker: its thread, and the lock and condition variable
 * on which it sleeps. The thread (and its owner, holding `lock`) may keep
 * its own state under `lock` and wait on `wake`; `stopping` is set, under
 * `lock`, by worker_stop() alone.
 */
struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    int started;
};

/* Initialises `w` (no thread yet). Cannot fail; undo with
 * worker_cleanup(). */
void worker_init(struct worker *w);

/*
 * Starts `run(arg)` on the worker's thread (`arg` stays the caller's).
 * Returns 0, or -1 when the thread cannot be created: nothing runs and
 * worker_stop() is a no-op.
 */
int worker_start(struct worker *w, worker_fn *run, void *arg)
    __attribute__((warn_unused_result));

/*
 * Sleeps `ms` milliseconds on the worker's condition variable, or less
 * when the worker is being stopped. Returns 1 when it is stopping, else 0.
 * Called without holding `lock`.
 */
int worker_pause_ms(struct worker *w, long ms);

/*
 * Tells the thread to stop (sets `stopping` and wakes it) and waits for it
 * to return. Safe to call when it never started. Called without holding
 * `lock`.
 */
void worker_stop(struct worker *w);

/* Releases the lock and condition variable; the thread must be stopped. */
void worker_cleanup(struct worker *w);

#endif

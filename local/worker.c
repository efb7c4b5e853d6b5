/* A thread of the local gateway that runs until it is told to stop. */
#include "worker.h"

#include "clock.h"
#include "service.h"

void worker_init(struct worker *w)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    w->stopping = 0;
    w->started = 0;
}

int worker_start(struct worker *w, worker_fn *run, void *arg)
{
    w->started = pthread_create(&w->thread, NULL, run, arg) == 0;
    return w->started ? 0 : -1;
}

int worker_pause_ms(struct worker *w, long ms)
{
    struct timespec ts;
    service_abstime(clock_now_ms() + ms, &ts);
    pthread_mutex_lock(&w->lock);
    while (!w->stopping)
        if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) != 0)
            break;
    int stop = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

void worker_stop(struct worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->started = 0;
}

void worker_cleanup(struct worker *w)
{
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
}

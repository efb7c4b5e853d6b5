/* EventBridge schedules to the function: the retry pass and the sweeper. */
#include "scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "invoker.h"
#include "service.h"
#include "uuid.h"
#include "worker.h"
#include "xmalloc.h"

/*
 * What EventBridge sends. A rule with a constant Input (template.yaml's
 * RetryPass) sends that Input as the event; one without sends its own
 * "Scheduled Event" ("Amazon EventBridge events", EventBridge User
 * Guide): version, id, detail-type, source aws.events, account, time
 * (RFC 3339 to the second), region, resources (the rule's ARN), detail.
 */
#define PASS_EVENT                                                             \
    "{\"source\":\"streamer\",\"detail-type\":\"Retry Pass\",\"detail\":{}}"
#define SWEEP_RULE_ARN                                                         \
    "arn:aws:events:us-east-1:000000000000:rule/streamer-local-sweeper"

enum { PASS = 0, SWEEP = 1 };

struct scheduler {
    struct worker worker; /* its lock guards the fields below */
    int fire[2];          /* fire now, asked from outside */
    long every_ms[2];     /* 0: never on its own */
    int64_t next_ms[2];   /* when each fires next */
    struct invoker *inv;  /* borrowed */
};

static char *sweep_event(void)
{
    char id[UUID_STR_SIZE], when[32];
    if (uuid_v4(id) != RESULT_OK)
        service_random_id(id, 16);
    time_t now = (time_t)(clock_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *e = xmalloc(1024);
    snprintf(e, 1024,
             "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Scheduled "
             "Event\",\"source\":\"aws.events\",\"account\":\"000000000000\","
             "\"time\":\"%s\",\"region\":\"us-east-1\",\"resources\":[\"%s\"],"
             "\"detail\":{}}",
             id, when, SWEEP_RULE_ARN);
    return e;
}

/* Invokes the function with schedule `which` and waits for its answer. */
static void fire(struct scheduler *s, int which)
{
    char *event = which == PASS ? xstrdup(PASS_EVENT) : sweep_event();
    char *answer = NULL;
    invoker_invoke(s->inv, which == PASS ? "RETRY PASS" : "SCHEDULE sweeper",
                   event, &answer);
    free(answer); /* the invoker logged it */
    free(event);
}

static void *run(void *arg)
{
    struct scheduler *s = arg;
    pthread_mutex_lock(&s->worker.lock);
    while (!s->worker.stopping) {
        int64_t now = clock_now_ms();
        int due = -1;
        for (int i = 0; i < 2 && due < 0; i++)
            if (s->fire[i] || (s->every_ms[i] > 0 && now >= s->next_ms[i]))
                due = i;
        if (due < 0) {
            int64_t until = now + 60000;
            for (int i = 0; i < 2; i++)
                if (s->every_ms[i] > 0 && s->next_ms[i] < until)
                    until = s->next_ms[i];
            struct timespec ts;
            service_abstime(until, &ts);
            pthread_cond_timedwait(&s->worker.wake, &s->worker.lock, &ts);
            continue;
        }
        s->fire[due] = 0;
        if (s->every_ms[due] > 0)
            s->next_ms[due] = now + s->every_ms[due];
        pthread_mutex_unlock(&s->worker.lock);
        fire(s, due);
        pthread_mutex_lock(&s->worker.lock);
    }
    pthread_mutex_unlock(&s->worker.lock);
    return NULL;
}

struct scheduler *scheduler_new(struct invoker *inv, long pass_ms,
                                long sweep_ms)
{
    struct scheduler *s = xcalloc(1, sizeof(*s));
    worker_init(&s->worker);
    s->inv = inv;
    s->every_ms[PASS] = pass_ms;
    s->every_ms[SWEEP] = sweep_ms;
    int64_t now = clock_now_ms();
    s->next_ms[PASS] = now + pass_ms;
    s->next_ms[SWEEP] = now + sweep_ms;
    if (worker_start(&s->worker, run, s) != 0) {
        service_log("schedules: cannot start the scheduler thread");
        worker_cleanup(&s->worker);
        free(s);
        return NULL;
    }
    service_log("schedules: retry pass %s%ld ms, sweeper %s%ld ms (SIGUSR1 "
                "fires a pass, SIGUSR2 a sweep)",
                pass_ms ? "every " : "off ", pass_ms,
                sweep_ms ? "every " : "off ", sweep_ms);
    return s;
}

static void ask(struct scheduler *s, int which)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->worker.lock);
    s->fire[which] = 1;
    pthread_cond_broadcast(&s->worker.wake);
    pthread_mutex_unlock(&s->worker.lock);
}

void scheduler_fire_pass(struct scheduler *s)
{
    ask(s, PASS);
}

void scheduler_fire_sweep(struct scheduler *s)
{
    ask(s, SWEEP);
}

void scheduler_free(struct scheduler *s)
{
    if (!s)
        return;
    worker_stop(&s->worker);
    worker_cleanup(&s->worker);
    free(s);
}

/* A Lambda Runtime API server for tests: queued events, recorded posts. */
#include "fake_rapi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "test_http.h"

#define PREFIX "/2018-06-01/runtime"

struct queued {
    char *body, *request_id, *arn, *trace, *client_context, *cognito;
    int64_t deadline_ms;
};

struct fake_rapi {
    struct test_http *http;
    char address[32];
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct queued *events;
    size_t event_count, event_next, seq;
    struct fake_rapi_post *posts;
    size_t post_count;
    char **issued; /* request ids handed out, for checking posts */
    size_t issued_count;
    enum fake_rapi_fault fault;
    int fault_count;
    int idle_wait_ms;
    int next_calls;
    int stopping;
    int ending; /* fake_rapi_end(): no more waiting for events */
};

static char *dup(const char *s)
{
    if (!s)
        return NULL;
    char *p = strdup(s);
    if (!p)
        abort();
    return p;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void add_header(struct test_http_reply *rep, const char *name,
                       const char *value)
{
    if (!value)
        return;
    size_t n = strlen(rep->headers);
    snprintf(rep->headers + n, sizeof(rep->headers) - n, "%s: %s\r\n", name,
             value);
}

/* Called with the lock held. */
static void answer_next(struct fake_rapi *f, struct test_http_reply *rep)
{
    f->next_calls++;
    if (f->fault_count > 0) {
        f->fault_count--;
        switch (f->fault) {
        case FAKE_RAPI_CLOSE:
            rep->action = TEST_HTTP_CLOSE;
            return;
        case FAKE_RAPI_500:
            rep->status = 500;
            test_http_reply_body(rep, "{\"errorMessage\":\"boom\"}");
            return;
        case FAKE_RAPI_GARBAGE:
            test_http_reply_body(rep, "not an event");
            return;
        case FAKE_RAPI_OK:
            break;
        }
    }
    if (f->event_next == f->event_count && f->idle_wait_ms > 0) {
        struct timespec ts;
        deadline_in(&ts, f->idle_wait_ms);
        while (f->event_next == f->event_count && !f->stopping && !f->ending)
            if (pthread_cond_timedwait(&f->changed, &f->lock, &ts) != 0)
                break;
    }
    if (f->event_next == f->event_count) {
        rep->status = 500;
        test_http_reply_body(rep, "{\"errorMessage\":\"no more events\"}");
        return;
    }
    struct queued *q = &f->events[f->event_next++];
    char deadline[32];
    snprintf(deadline, sizeof(deadline), "%lld", (long long)q->deadline_ms);
    add_header(rep, "Lambda-Runtime-Aws-Request-Id", q->request_id);
    add_header(rep, "Lambda-Runtime-Deadline-Ms", deadline);
    add_header(rep, "Lambda-Runtime-Invoked-Function-Arn", q->arn);
    add_header(rep, "Lambda-Runtime-Trace-Id", q->trace);
    add_header(rep, "Lambda-Runtime-Client-Context", q->client_context);
    add_header(rep, "Lambda-Runtime-Cognito-Identity", q->cognito);
    add_header(rep, "Content-Type", "application/json");
    test_http_reply_body(rep, q->body ? q->body : "{}");
    f->issued = realloc(f->issued, (f->issued_count + 1) * sizeof(char *));
    if (!f->issued)
        abort();
    f->issued[f->issued_count++] = dup(q->request_id);
}

static int was_issued(struct fake_rapi *f, const char *id)
{
    for (size_t i = 0; i < f->issued_count; i++)
        if (strcmp(f->issued[i], id) == 0)
            return 1;
    return 0;
}

/* Records a POST; answers 202 as Lambda does, 400 for unknown ids. */
static void record_post(struct fake_rapi *f,
                        const struct test_http_request *req,
                        struct test_http_reply *rep)
{
    struct fake_rapi_post p;
    memset(&p, 0, sizeof(p));
    const char *t = req->target + strlen(PREFIX);
    char id[256] = "";
    if (strcmp(t, "/init/error") == 0) {
        snprintf(p.kind, sizeof(p.kind), "init_error");
    } else if (sscanf(t, "/invocation/%255[^/]/", id) == 1) {
        const char *tail = t + strlen("/invocation/") + strlen(id);
        snprintf(p.kind, sizeof(p.kind), "%s",
                 strcmp(tail, "/response") == 0 ? "response"
                 : strcmp(tail, "/error") == 0  ? "error"
                                                : "unknown");
        p.request_id = dup(id);
    } else {
        snprintf(p.kind, sizeof(p.kind), "unknown");
    }
    p.error_type =
        dup(test_http_header(req, "Lambda-Runtime-Function-Error-Type"));
    p.content_type = dup(test_http_header(req, "Content-Type"));
    p.body = malloc(req->body_len + 1);
    if (!p.body)
        abort();
    memcpy(p.body, req->body, req->body_len + 1);
    p.body_len = req->body_len;
    int known = !p.request_id || was_issued(f, p.request_id);
    p.status = strcmp(p.kind, "unknown") != 0 && known ? 202 : 400;
    rep->status = p.status;
    test_http_reply_body(rep, p.status == 202
                                  ? "{\"status\":\"OK\"}"
                                  : "{\"errorType\":\"InvalidRequestID\"}");
    f->posts = realloc(f->posts, (f->post_count + 1) * sizeof(*f->posts));
    if (!f->posts)
        abort();
    f->posts[f->post_count++] = p;
    pthread_cond_broadcast(&f->changed);
}

static void handle(void *ctx, const struct test_http_request *req,
                   struct test_http_reply *rep)
{
    struct fake_rapi *f = ctx;
    pthread_mutex_lock(&f->lock);
    if (strcmp(req->method, "GET") == 0 &&
        strcmp(req->target, PREFIX "/invocation/next") == 0)
        answer_next(f, rep);
    else if (strcmp(req->method, "POST") == 0 &&
             strncmp(req->target, PREFIX "/", strlen(PREFIX) + 1) == 0)
        record_post(f, req, rep);
    else
        rep->status = 404;
    pthread_mutex_unlock(&f->lock);
}

struct fake_rapi *fake_rapi_start(void)
{
    struct fake_rapi *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->changed, NULL);
    f->http = test_http_start(handle, f);
    if (!f->http) {
        free(f);
        return NULL;
    }
    snprintf(f->address, sizeof(f->address), "127.0.0.1:%d",
             test_http_port(f->http));
    return f;
}

void fake_rapi_stop(struct fake_rapi *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
    test_http_stop(f->http);
    for (size_t i = 0; i < f->event_count; i++) {
        struct queued *q = &f->events[i];
        free(q->body), free(q->request_id), free(q->arn), free(q->trace);
        free(q->client_context), free(q->cognito);
    }
    free(f->events);
    for (size_t i = 0; i < f->post_count; i++) {
        free(f->posts[i].request_id), free(f->posts[i].error_type);
        free(f->posts[i].content_type), free(f->posts[i].body);
    }
    free(f->posts);
    for (size_t i = 0; i < f->issued_count; i++)
        free(f->issued[i]);
    free(f->issued);
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *fake_rapi_address(const struct fake_rapi *f)
{
    return f->address;
}

void fake_rapi_push(struct fake_rapi *f, const struct fake_rapi_event *ev)
{
    pthread_mutex_lock(&f->lock);
    f->events = realloc(f->events, (f->event_count + 1) * sizeof(*f->events));
    if (!f->events)
        abort();
    struct queued *q = &f->events[f->event_count++];
    char id[64];
    snprintf(id, sizeof(id), "req-%zu", ++f->seq);
    q->body = dup(ev->body ? ev->body : "{}");
    q->request_id = dup(ev->request_id ? ev->request_id : id);
    q->arn = dup(ev->function_arn);
    q->trace = dup(ev->trace_id);
    q->client_context = dup(ev->client_context);
    q->cognito = dup(ev->cognito_identity);
    q->deadline_ms = ev->deadline_ms ? ev->deadline_ms : now_ms() + 30000;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

void fake_rapi_fault_next(struct fake_rapi *f, enum fake_rapi_fault fault,
                          int count)
{
    pthread_mutex_lock(&f->lock);
    f->fault = fault;
    f->fault_count = count;
    pthread_mutex_unlock(&f->lock);
}

void fake_rapi_set_idle_wait(struct fake_rapi *f, int wait_ms)
{
    pthread_mutex_lock(&f->lock);
    f->idle_wait_ms = wait_ms;
    pthread_mutex_unlock(&f->lock);
}

void fake_rapi_end(struct fake_rapi *f)
{
    pthread_mutex_lock(&f->lock);
    f->ending = 1;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
}

size_t fake_rapi_wait_posts(struct fake_rapi *f, size_t n, int timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&f->lock);
    while (f->post_count < n)
        if (pthread_cond_timedwait(&f->changed, &f->lock, &ts) != 0)
            break;
    size_t count = f->post_count;
    pthread_mutex_unlock(&f->lock);
    return count;
}

size_t fake_rapi_post_count(struct fake_rapi *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->post_count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

const struct fake_rapi_post *fake_rapi_post_at(struct fake_rapi *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    const struct fake_rapi_post *p = i < f->post_count ? &f->posts[i] : NULL;
    pthread_mutex_unlock(&f->lock);
    return p;
}

int fake_rapi_next_count(struct fake_rapi *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->next_calls;
    pthread_mutex_unlock(&f->lock);
    return n;
}

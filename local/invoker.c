/* The Lambda Runtime API for one warm bootstrap, and its supervisor. */
#include "invoker.h"

#include <civetweb.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lambda.h"
#include "service.h"
#include "uuid.h"
#include "xmalloc.h"

/*
 * Lambda Developer Guide, "Using the Lambda runtime API for custom
 * runtimes": GET /2018-06-01/runtime/invocation/next hands out one event
 * with Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn
 * and -Trace-Id; POST .../invocation/{id}/response or /error answers it
 * (202); POST .../init/error reports a failed init. Responses are capped
 * at 6 MB ("Lambda quotas": invocation payload, synchronous).
 */
#define PREFIX "/2018-06-01/runtime"
#define MAX_POST_BYTES ((size_t)6 * 1024 * 1024)
#define FUNCTION_ARN                                                           \
    "arn:aws:lambda:us-east-1:000000000000:function:streamer-local"
#define TICK_MS 50
#define MAX_BACKOFF_MS 10000

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* One invocation; lives on the stack of the thread that waits for it. */
struct job {
    const char *event, *label;
    char request_id[UUID_STR_SIZE];
    char trace_id[80];
    int64_t started_ms, deadline_ms;
    enum job_state state;
    int failed;
    char *answer;
    struct job *next;
    /* Signalled when the job is done: its caller alone waits on it, so
     * thousands of waiting connections do not all wake for each event. */
    pthread_cond_t done;
};

struct invoker {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct job *head, *tail; /* queued, oldest first */
    struct job *running;     /* handed to the bootstrap */
    struct mg_context *ctx;
    char address[32];
    char *bootstrap;
    long timeout_ms;
    pid_t pid;           /* 0 when no process runs */
    unsigned generation; /* bumped when a process ends */
    unsigned long nexts; /* /next calls of the current process */
    unsigned long exits; /* processes ended so far */
    char *init_error;    /* the current process's /init/error body */
    int64_t spawned_ms, next_spawn_ms;
    long backoff_ms;
    int stopping, supervising, stopped;
    pthread_t supervisor;
    struct lambda_remote *remote; /* Invoke-API mode: no bootstrap */
};

/* Completes `j` (called with the lock held); takes ownership of
 * `answer`, which is NULL when the gateway is stopping. */
static void finish(struct invoker *inv, struct job *j, int failed, char *answer)
{
    char text[160];
    service_snippet(answer, text, sizeof(text));
    if (j->state == JOB_RUNNING)
        service_log("<- %s [%s] %s in %lld ms: %s", j->label, j->request_id,
                    failed ? "FAILED" : "ok",
                    (long long)(clock_now_ms() - j->started_ms), text);
    if (inv->running == j)
        inv->running = NULL;
    j->state = JOB_DONE;
    j->failed = failed;
    j->answer = answer;
    pthread_cond_signal(&j->done);
    pthread_cond_broadcast(&inv->changed);
}

static void enqueue_front(struct invoker *inv, struct job *j)
{
    j->next = inv->head;
    inv->head = j;
    if (!inv->tail)
        inv->tail = j;
}

static struct job *dequeue(struct invoker *inv)
{
    struct job *j = inv->head;
    inv->head = j->next;
    if (!inv->head)
        inv->tail = NULL;
    j->next = NULL;
    return j;
}

static void reply(struct mg_connection *c, int status, const char *body)
{
    mg_printf(c,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
              "Content-Length: %zu\r\n\r\n%s",
              status, status == 202 ? "Accepted" : "Error", strlen(body), body);
}

/* GET /next: waits for an event of this process's generation. */
static int handle_next(struct invoker *inv, struct mg_connection *c)
{
    pthread_mutex_lock(&inv->lock);
    unsigned gen = inv->generation;
    inv->nexts++;
    if (inv->running) /* asking again without answering the last one */
        finish(inv, inv->running, 1,
               service_error_doc("Runtime.NoResponse",
                                 "the runtime asked for the next event without "
                                 "answering this one"));
    pthread_cond_broadcast(&inv->changed);
    while (!inv->head && !inv->stopping && gen == inv->generation)
        pthread_cond_wait(&inv->changed, &inv->lock);
    if (inv->stopping || gen != inv->generation) {
        pthread_mutex_unlock(&inv->lock);
        reply(c, 500, "{\"errorType\":\"Runtime.Stopping\"}");
        return 500;
    }
    struct job *j = dequeue(inv);
    j->state = JOB_RUNNING;
    j->started_ms = clock_now_ms();
    j->deadline_ms = j->started_ms + inv->timeout_ms;
    inv->running = j;
    service_log("-> %s [%s]", j->label, j->request_id);
    size_t len = strlen(j->event);
    int ok = mg_printf(c,
                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                       "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                       "Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
                       "Lambda-Runtime-Trace-Id: %s\r\n"
                       "Content-Length: %zu\r\n\r\n",
                       j->request_id, (long long)j->deadline_ms, FUNCTION_ARN,
                       j->trace_id, len) > 0 &&
             mg_write(c, j->event, len) == (int)len;
    if (!ok && inv->running == j) { /* the runtime went away: hand it on */
        service_log("runtime api: could not hand %s over; requeued",
                    j->request_id);
        inv->running = NULL;
        j->state = JOB_QUEUED;
        enqueue_front(inv, j);
    }
    pthread_mutex_unlock(&inv->lock);
    return 200;
}

/* Reads the request body, at most MAX_POST_BYTES; NULL when over. */
static char *read_body(struct mg_connection *c)
{
    size_t cap = 4096, len = 0;
    char *b = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > MAX_POST_BYTES) {
                free(b);
                return NULL;
            }
            cap *= 2;
            b = xrealloc(b, cap);
        }
        int n = mg_read(c, b + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    b[len] = '\0';
    return b;
}

/* POST /invocation/{id}/response or /error, /init/error. */
static int handle_post(struct invoker *inv, struct mg_connection *c,
                       const char *path)
{
    char id[64] = "", kind[16] = "";
    char *body = read_body(c);
    if (!body) {
        reply(c, 413, "{\"errorType\":\"RequestEntityTooLarge\"}");
        return 413;
    }
    pthread_mutex_lock(&inv->lock);
    int status = 202;
    if (strcmp(path, "/init/error") == 0) {
        service_log("bootstrap init error: %.300s", body);
        free(inv->init_error);
        inv->init_error = body;
        body = NULL;
    } else if (sscanf(path, "/invocation/%63[^/]/%15s", id, kind) == 2 &&
               (!strcmp(kind, "response") || !strcmp(kind, "error"))) {
        if (inv->running && strcmp(inv->running->request_id, id) == 0) {
            finish(inv, inv->running, kind[0] == 'e', body);
            body = NULL;
        } else {
            status = 400; /* unknown, or answered or timed out already */
        }
    } else {
        status = 404;
    }
    pthread_mutex_unlock(&inv->lock);
    free(body);
    reply(c, status,
          status == 202   ? "{\"status\":\"OK\"}"
          : status == 400 ? "{\"errorType\":\"InvalidRequestID\","
                            "\"errorMessage\":\"Invalid request ID\"}"
                          : "{\"errorType\":\"NotFound\"}");
    return status;
}

static int handle_rapi(struct mg_connection *c, void *data)
{
    struct invoker *inv = data;
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *path = ri->local_uri ? ri->local_uri : "";
    if (strncmp(path, PREFIX "/", strlen(PREFIX) + 1) != 0) {
        reply(c, 404, "{\"errorType\":\"NotFound\"}");
        return 404;
    }
    path += strlen(PREFIX);
    if (strcmp(ri->request_method, "GET") == 0 &&
        strcmp(path, "/invocation/next") == 0)
        return handle_next(inv, c);
    if (strcmp(ri->request_method, "POST") == 0)
        return handle_post(inv, c, path);
    reply(c, 404, "{\"errorType\":\"NotFound\"}");
    return 404;
}

/* Forks and execs the bootstrap, its stdout sent to our stderr (stdout
 * is the READY line's alone). Called with the lock held. */
static void spawn(struct invoker *inv)
{
    char *argv[] = {inv->bootstrap, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execv(inv->bootstrap, argv);
        _exit(127);
    }
    if (pid < 0) {
        service_log("cannot fork the bootstrap: %s", strerror(errno));
        inv->next_spawn_ms = clock_now_ms() + 1000;
        return;
    }
    inv->pid = pid;
    inv->nexts = 0;
    free(inv->init_error);
    inv->init_error = NULL;
    inv->spawned_ms = clock_now_ms();
    service_log("bootstrap started (pid %d)", (int)pid);
}

/* The process ended: report it, fail what it held, schedule a new one. */
static void reap(struct invoker *inv, int status)
{
    char how[64];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
    if (!inv->stopping)
        service_log("bootstrap (pid %d) CRASHED or exited: %s", (int)inv->pid,
                    how);
    if (inv->running)
        finish(inv, inv->running, 1,
               service_error_doc(
                   "Runtime.ExitError",
                   "RequestId: %s Error: Runtime exited with error: %s",
                   inv->running->request_id, how));
    else if (inv->init_error && inv->head && !inv->stopping)
        finish(inv, dequeue(inv), 1, xstrdup(inv->init_error));
    int64_t lived = clock_now_ms() - inv->spawned_ms;
    inv->backoff_ms = lived > 2000      ? 0
                      : inv->backoff_ms ? inv->backoff_ms * 2
                                        : 250;
    if (inv->backoff_ms > MAX_BACKOFF_MS)
        inv->backoff_ms = MAX_BACKOFF_MS;
    inv->next_spawn_ms = clock_now_ms() + inv->backoff_ms;
    inv->pid = 0;
    inv->generation++;
    inv->exits++;
    pthread_cond_broadcast(&inv->changed);
}

/* Keeps one process alive and enforces the function timeout. */
static void *supervise(void *arg)
{
    struct invoker *inv = arg;
    pthread_mutex_lock(&inv->lock);
    while (!inv->stopping) {
        int64_t now = clock_now_ms();
        if (inv->pid == 0 && now >= inv->next_spawn_ms)
            spawn(inv);
        int status;
        if (inv->pid > 0 && waitpid(inv->pid, &status, WNOHANG) == inv->pid)
            reap(inv, status);
        struct job *j = inv->running;
        if (j && now > j->deadline_ms && inv->pid > 0) {
            /* As Lambda does: the sandbox is stopped on a timeout. */
            service_log("%s [%s] timed out after %ld ms; killing the "
                        "bootstrap",
                        j->label, j->request_id, inv->timeout_ms);
            finish(
                inv, j, 1,
                service_error_doc("Sandbox.Timedout",
                                  "RequestId: %s Error: Task timed out after "
                                  "%.2f seconds",
                                  j->request_id, inv->timeout_ms / 1000.0));
            kill(inv->pid, SIGKILL);
        }
        struct timespec ts;
        service_abstime(clock_now_ms() + TICK_MS, &ts);
        pthread_cond_timedwait(&inv->changed, &inv->lock, &ts);
    }
    pthread_mutex_unlock(&inv->lock);
    return NULL;
}

struct invoker *invoker_new(const char *bootstrap, long timeout_ms)
{
    struct invoker *inv = xcalloc(1, sizeof(*inv));
    pthread_mutex_init(&inv->lock, NULL);
    pthread_cond_init(&inv->changed, NULL);
    inv->bootstrap = xstrdup(bootstrap);
    inv->timeout_ms = timeout_ms;
    const char *opts[] = {"listening_ports",
                          "127.0.0.1:0",
                          "num_threads",
                          "8",
                          "tcp_nodelay", /* else Nagle + delayed ACK: 40 ms */
                          "1",
                          "enable_keep_alive",
                          "yes",
                          "request_timeout_ms",
                          "3600000",
                          NULL};
    int port;
    inv->ctx = service_listen(
        opts, inv, "cannot start the Runtime API on a loopback port", &port);
    if (!inv->ctx) {
        invoker_free(inv);
        return NULL;
    }
    snprintf(inv->address, sizeof(inv->address), "127.0.0.1:%d", port);
    mg_set_request_handler(inv->ctx, PREFIX, handle_rapi, inv);
    return inv;
}

struct invoker *invoker_new_remote(const char *endpoint, const char *function,
                                   long timeout_ms)
{
    struct lambda_remote *lr =
        lambda_remote_new(endpoint, function, timeout_ms);
    if (!lr)
        return NULL;
    struct invoker *inv = xcalloc(1, sizeof(*inv));
    pthread_mutex_init(&inv->lock, NULL);
    pthread_cond_init(&inv->changed, NULL);
    inv->timeout_ms = timeout_ms;
    inv->remote = lr;
    return inv;
}

const char *invoker_address(const struct invoker *inv)
{
    return inv->address;
}

int invoker_start(struct invoker *inv, long wait_ms)
{
    if (inv->remote) {
        service_log("events go to the Lambda Invoke API at %s",
                    lambda_remote_url(inv->remote));
        return 0;
    }
    if (pthread_create(&inv->supervisor, NULL, supervise, inv) != 0) {
        service_log("cannot start the supervisor thread");
        return -1;
    }
    inv->supervising = 1;
    struct timespec ts;
    service_abstime(clock_now_ms() + wait_ms, &ts);
    pthread_mutex_lock(&inv->lock);
    while (inv->nexts == 0 && inv->exits == 0)
        if (pthread_cond_timedwait(&inv->changed, &inv->lock, &ts) != 0)
            break;
    int ok = inv->nexts > 0 && inv->exits == 0;
    pthread_mutex_unlock(&inv->lock);
    if (!ok)
        service_log("the bootstrap (%s) did not start: %s", inv->bootstrap,
                    inv->exits ? "it exited (see its log above)"
                               : "no /next within the wait");
    return ok ? 0 : -1;
}

int invoker_invoke(struct invoker *inv, const char *label, const char *event,
                   char **answer)
{
    if (inv->remote)
        return lambda_remote_invoke(inv->remote, label, event, answer);
    struct job j;
    memset(&j, 0, sizeof(j));
    j.event = event;
    j.label = label;
    if (uuid_v4(j.request_id) != RESULT_OK)
        service_random_id(j.request_id, 16);
    /* X-Ray trace header: Root=1-<epoch hex>-<96-bit hex>;Parent;Sampled. */
    unsigned char r[20] = {0};
    if (RAND_bytes(r, sizeof(r)) != 1)
        service_log("RAND_bytes failed; trace id not random");
    snprintf(j.trace_id, sizeof(j.trace_id),
             "Root=1-%08llx-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x;"
             "Parent=%02x%02x%02x%02x%02x%02x%02x%02x;Sampled=0",
             (unsigned long long)(clock_now_ms() / 1000), r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15], r[16], r[17], r[18], r[19]);
    pthread_mutex_lock(&inv->lock);
    if (inv->stopping) {
        pthread_mutex_unlock(&inv->lock);
        *answer = NULL;
        return -1;
    }
    pthread_cond_init(&j.done, NULL);
    if (inv->tail)
        inv->tail->next = &j;
    else
        inv->head = &j;
    inv->tail = &j;
    pthread_cond_broadcast(&inv->changed);
    while (j.state != JOB_DONE)
        pthread_cond_wait(&j.done, &inv->lock);
    pthread_mutex_unlock(&inv->lock);
    pthread_cond_destroy(&j.done);
    *answer = j.answer;
    return j.answer ? j.failed : -1;
}

void invoker_stop(struct invoker *inv)
{
    pthread_mutex_lock(&inv->lock);
    if (inv->stopped) {
        pthread_mutex_unlock(&inv->lock);
        return;
    }
    inv->stopping = inv->stopped = 1;
    lambda_remote_stop(inv->remote);
    while (inv->head)
        finish(inv, dequeue(inv), 1, NULL);
    if (inv->running)
        finish(inv, inv->running, 1, NULL);
    pthread_cond_broadcast(&inv->changed);
    pthread_mutex_unlock(&inv->lock);
    if (inv->supervising)
        pthread_join(inv->supervisor, NULL);
    inv->supervising = 0;
    if (inv->pid > 0) {
        kill(inv->pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 40; i++) { /* up to 2 s, then SIGKILL */
            if (waitpid(inv->pid, &status, WNOHANG) == inv->pid)
                break;
            if (i == 39) {
                kill(inv->pid, SIGKILL);
                waitpid(inv->pid, &status, 0);
            }
            usleep(TICK_MS * 1000);
        }
        service_log("bootstrap (pid %d) stopped", (int)inv->pid);
        inv->pid = 0;
    }
}

void invoker_free(struct invoker *inv)
{
    if (!inv)
        return;
    invoker_stop(inv);
    if (inv->ctx)
        mg_stop(inv->ctx);
    lambda_remote_free(inv->remote);
    free(inv->init_error);
    free(inv->bootstrap);
    pthread_cond_destroy(&inv->changed);
    pthread_mutex_destroy(&inv->lock);
    free(inv);
}

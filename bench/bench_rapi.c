/* The benchmark's Runtime API server: one event at a time, timed. */
#include "bench_rapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net_util.h"
#include "xmalloc.h"

#define MAX_CLIENTS 32
#define SLICE_MS 50
#define MAX_REQUEST_BYTES (8 * 1024 * 1024)
#define FUNCTION_ARN "arn:aws:lambda:us-east-1:123456789012:function:bench"

/* One accepted connection and the bytes read from it so far. */
struct client {
    int fd;
    int mgmt;      /* accepted on the Management API port */
    int continued; /* "100 Continue" already sent for this request */
    char *in;
    size_t len, cap;
};

struct bench_rapi {
    int rapi_fd, mgmt_fd;
    char address[32];
    char mgmt_url[48];
    struct client clients[MAX_CLIENTS];
    pid_t pid;
    int exited;
    int init_error;
    struct client *waiting; /* the client whose GET /next is open */
    int64_t next_at_ns;
    const char *expect_id; /* the invocation being answered */
    int answered;
    struct bench_answer answer;
    long pushes;
};

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


struct bench_rapi *bench_rapi_new(void)
{
    struct bench_rapi *r = xcalloc(1, sizeof(*r));
    int port = 0, mport = 0;
    r->rapi_fd = net_listen(16, &port);
    r->mgmt_fd = net_listen(16, &mport);
    for (int i = 0; i < MAX_CLIENTS; i++)
        r->clients[i].fd = -1;
    if (r->rapi_fd < 0 || r->mgmt_fd < 0) {
        perror("bench_rapi: listen");
        bench_rapi_free(r);
        return NULL;
    }
    snprintf(r->address, sizeof(r->address), "127.0.0.1:%d", port);
    snprintf(r->mgmt_url, sizeof(r->mgmt_url), "http://127.0.0.1:%d", mport);
    return r;
}

static void drop(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static void drop_all(struct bench_rapi *r)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        drop(&r->clients[i]);
    r->waiting = NULL;
}

void bench_rapi_free(struct bench_rapi *r)
{
    if (!r)
        return;
    drop_all(r);
    if (r->rapi_fd >= 0)
        close(r->rapi_fd);
    if (r->mgmt_fd >= 0)
        close(r->mgmt_fd);
    free(r->answer.body);
    free(r);
}

const char *bench_rapi_address(const struct bench_rapi *r)
{
    return r->address;
}

const char *bench_rapi_mgmt_url(const struct bench_rapi *r)
{
    return r->mgmt_url;
}

long bench_rapi_pushes(const struct bench_rapi *r)
{
    return r->pushes;
}

void bench_rapi_watch(struct bench_rapi *r, pid_t pid)
{
    drop_all(r);
    r->pid = pid;
    r->exited = 0;
    r->init_error = 0;
}

static void send_all(struct client *c, const char *p, size_t n)
{
    while (n > 0 && c->fd >= 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            drop(c);
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void reply(struct client *c, const char *status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     status, strlen(body));
    send_all(c, head, (size_t)n);
    send_all(c, body, strlen(body));
}

/* The value of header `name` in the head [p, end), copied; or "". */
static void header(const char *p, const char *end, const char *name, char *out,
                   size_t size)
{
    size_t nlen = strlen(name);
    out[0] = '\0';
    for (const char *line = strstr(p, "\r\n"); line && line + 2 < end;
         line = strstr(line + 2, "\r\n")) {
        const char *s = line + 2;
        if ((size_t)(end - s) > nlen && strncasecmp(s, name, nlen) == 0 &&
            s[nlen] == ':') {
            s += nlen + 1;
            while (*s == ' ' || *s == '\t')
                s++;
            const char *e = strstr(s, "\r\n");
            size_t n = (size_t)(e - s) < size - 1 ? (size_t)(e - s) : size - 1;
            memcpy(out, s, n);
            out[n] = '\0';
            return;
        }
    }
}

/*
 * Decodes a chunked body in place from `p` (RFC 9112 §7.1). Returns the
 * bytes consumed from `p` with the body's length in `*body_len`, 0 when
 * more input is needed, -1 when it is malformed.
 */
static long dechunk(char *p, size_t avail, size_t *body_len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *eol = memmem(p + in, avail - in, "\r\n", 2);
        if (!eol)
            return 0;
        char *endp;
        unsigned long size = strtoul(p + in, &endp, 16);
        if (endp == p + in)
            return -1;
        size_t data = (size_t)(eol - p) + 2;
        if (size == 0) {
            char *fin = memmem(p + data - 2, avail - (data - 2), "\r\n\r\n", 4);
            if (!fin)
                return 0;
            *body_len = out;
            return (long)(fin - p) + 4;
        }
        if (avail < data + size + 2)
            return 0;
        memmove(p + out, p + data, size);
        out += size;
        in = data + size + 2;
    }
}

/* Handles one complete request on `c`. */
static void handle(struct bench_rapi *r, struct client *c, const char *method,
                   const char *target, char *body, size_t body_len)
{
    if (c->mgmt) {
        /* "@" may come percent-encoded (Streamer's SigV4 path). */
        if (strcmp(method, "POST") == 0 && (strstr(target, "/@connections/") ||
                                            strstr(target, "/%40connections/")))
            r->pushes++;
        reply(c, "200 OK", "{}");
        return;
    }
    const char *inv = strstr(target, "/runtime/invocation/");
    if (strcmp(method, "GET") == 0 && inv &&
        strcmp(inv, "/runtime/invocation/next") == 0) {
        r->waiting = c;
        r->next_at_ns = bench_now_ns();
        return;
    }
    if (strcmp(method, "POST") == 0 && strstr(target, "/runtime/init/error")) {
        fprintf(stderr, "bench: the function reported an init error: %.*s\n",
                (int)body_len, body);
        r->init_error = 1;
        reply(c, "202 Accepted", "{\"status\":\"OK\"}");
        return;
    }
    if (strcmp(method, "POST") == 0 && inv && r->expect_id) {
        const char *id = inv + strlen("/runtime/invocation/");
        size_t idlen = strlen(r->expect_id);
        const char *kind = id + idlen;
        if (strncmp(id, r->expect_id, idlen) == 0 &&
            (strcmp(kind, "/response") == 0 || strcmp(kind, "/error") == 0)) {
            int64_t now = bench_now_ns();
            free(r->answer.body);
            r->answer.body = xstrndup(body, body_len);
            snprintf(r->answer.kind, sizeof(r->answer.kind), "%s", kind + 1);
            r->answer.answered_ns = now;
            r->answered = 1;
            reply(c, "202 Accepted", "{\"status\":\"OK\"}");
            return;
        }
    }
    reply(c, "404 Not Found", "{\"errorMessage\":\"no such route\"}");
}

/*
 * Handles every complete request buffered on `c`. A request whose head
 * says "Expect: 100-continue" gets its interim answer first (libcurl
 * waits for it before sending a body).
 */
static void serve_buffer(struct bench_rapi *r, struct client *c)
{
    while (c->fd >= 0 && c->len > 0) {
        char *end = memmem(c->in, c->len, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t head_len = (size_t)(end - c->in) + 4;
        char method[16] = "", target[1024] = "", cl[32], te[32], ex[32];
        if (sscanf(c->in, "%15s %1023s", method, target) != 2) {
            drop(c);
            return;
        }
        header(c->in, end + 2, "Content-Length", cl, sizeof(cl));
        header(c->in, end + 2, "Transfer-Encoding", te, sizeof(te));
        header(c->in, end + 2, "Expect", ex, sizeof(ex));
        size_t body_len = 0, used;
        if (strcasecmp(te, "chunked") == 0) {
            long k = dechunk(c->in + head_len, c->len - head_len, &body_len);
            if (k < 0) {
                drop(c);
                return;
            }
            used = k == 0 ? 0 : head_len + (size_t)k;
        } else {
            body_len = cl[0] ? strtoul(cl, NULL, 10) : 0;
            used = c->len >= head_len + body_len ? head_len + body_len : 0;
        }
        if (used == 0) {
            if (strcasecmp(ex, "100-continue") == 0 && !c->continued) {
                c->continued = 1;
                send_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            }
            return;
        }
        char saved = c->in[head_len + body_len];
        c->in[head_len + body_len] = '\0';
        handle(r, c, method, target, c->in + head_len, body_len);
        if (c->fd < 0)
            return;
        c->in[head_len + body_len] = saved;
        memmove(c->in, c->in + used, c->len - used);
        c->len -= used;
        c->in[c->len] = '\0';
        c->continued = 0;
    }
}

static void accept_on(struct bench_rapi *r, int lfd, int mgmt)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (r->clients[i].fd < 0) {
            r->clients[i].fd = fd;
            r->clients[i].mgmt = mgmt;
            return;
        }
    close(fd);
}

static void read_from(struct bench_rapi *r, struct client *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->in = xrealloc(c->in, c->cap + 1);
    }
    ssize_t k = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
    if (k <= 0 || c->len + (size_t)k > MAX_REQUEST_BYTES) {
        if (r->waiting == c)
            r->waiting = NULL;
        drop(c);
        return;
    }
    c->len += (size_t)k;
    c->in[c->len] = '\0'; /* for strstr and sscanf on the head */
    serve_buffer(r, c);
}

/* One poll round of at most `ms`. */
static void pump(struct bench_rapi *r, int ms)
{
    struct pollfd p[MAX_CLIENTS + 2];
    struct client *who[MAX_CLIENTS + 2];
    nfds_t n = 0;
    p[n] = (struct pollfd){.fd = r->rapi_fd, .events = POLLIN};
    who[n++] = NULL;
    p[n] = (struct pollfd){.fd = r->mgmt_fd, .events = POLLIN};
    who[n++] = NULL;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (r->clients[i].fd >= 0) {
            p[n] = (struct pollfd){.fd = r->clients[i].fd, .events = POLLIN};
            who[n++] = &r->clients[i];
        }
    if (poll(p, n, ms) <= 0)
        return;
    if (p[0].revents & POLLIN)
        accept_on(r, r->rapi_fd, 0);
    if (p[1].revents & POLLIN)
        accept_on(r, r->mgmt_fd, 1);
    for (nfds_t i = 2; i < n; i++)
        if (p[i].revents && who[i]->fd == p[i].fd)
            read_from(r, who[i]);
}

static void check_exit(struct bench_rapi *r)
{
    int status;
    if (r->pid > 0 && !r->exited && waitpid(r->pid, &status, WNOHANG) == r->pid)
        r->exited = 1;
}

/* Serves until `*flag` is set; -1 (after printing why) otherwise. */
static int serve_until(struct bench_rapi *r, const int *flag, const char *what,
                       int timeout_ms)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    while (!*flag) {
        if (r->init_error)
            return -1;
        check_exit(r);
        if (r->exited) {
            pump(r, 0); /* what it sent before exiting */
            if (*flag)
                break;
            fprintf(stderr,
                    "bench: the function exited while waiting for "
                    "%s\n",
                    what);
            return -1;
        }
        int64_t left = (deadline - bench_now_ns()) / 1000000;
        if (left <= 0) {
            fprintf(stderr, "bench: no %s within %d ms\n", what, timeout_ms);
            return -1;
        }
        pump(r, left < SLICE_MS ? (int)left : SLICE_MS);
    }
    return 0;
}

int bench_rapi_wait_next(struct bench_rapi *r, int timeout_ms, int64_t *at_ns)
{
    int waiting = r->waiting != NULL;
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    while (!waiting) {
        int left = (int)((deadline - bench_now_ns()) / 1000000);
        if (left <= 0 || r->init_error || r->exited) {
            if (!r->init_error && !r->exited)
                fprintf(stderr, "bench: no GET /next within %d ms\n",
                        timeout_ms);
            else if (r->exited)
                fprintf(stderr, "bench: the function exited before "
                                "GET /next\n");
            return -1;
        }
        pump(r, left < SLICE_MS ? left : SLICE_MS);
        check_exit(r);
        waiting = r->waiting != NULL;
    }
    *at_ns = r->next_at_ns;
    return 0;
}

int bench_rapi_invoke(struct bench_rapi *r, const char *request_id,
                      const char *body, int timeout_ms,
                      struct bench_answer *out)
{
    int64_t at;
    if (bench_rapi_wait_next(r, timeout_ms, &at) != 0)
        return -1;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long deadline_ms =
        (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000 + 60000;
    char head[768];
    size_t len = strlen(body);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Lambda-Runtime-Aws-Request-Id: %s\r\n"
                     "Lambda-Runtime-Deadline-Ms: %lld\r\n"
                     "Lambda-Runtime-Invoked-Function-Arn: " FUNCTION_ARN
                     "\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-"
                     "bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                     "Sampled=0\r\nContent-Length: %zu\r\n\r\n",
                     request_id, deadline_ms, len);
    struct client *c = r->waiting;
    r->waiting = NULL;
    r->expect_id = request_id;
    r->answered = 0;
    /* One write for head and body: two would cost the function a
     * delayed-ACK round trip on some stacks. */
    char *msg = xmalloc((size_t)n + len);
    memcpy(msg, head, (size_t)n);
    memcpy(msg + n, body, len);
    int64_t sent = bench_now_ns();
    send_all(c, msg, (size_t)n + len);
    free(msg);
    int rc = serve_until(r, &r->answered, "answer", timeout_ms);
    r->expect_id = NULL;
    if (rc != 0)
        return -1;
    *out = r->answer;
    out->sent_ns = sent;
    r->answer.body = NULL;
    return 0;
}

void bench_rapi_refuse_next(struct bench_rapi *r)
{
    if (!r->waiting)
        return;
    struct client *c = r->waiting;
    r->waiting = NULL;
    reply(c, "500 Internal Server Error",
          "{\"errorMessage\":\"the benchmark is over\"}");
}

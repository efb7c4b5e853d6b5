/* A scriptable HTTP/1.1 server on loopback for tests (faults included). */
#include "test_http.h"

#include "net_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (16 * 1024 * 1024)

struct conn {
    struct test_http *server;
    int fd;
    pthread_t thread;
    int used;
};

struct test_http {
    int listen_fd;
    int port;
    char url[64];
    test_http_handler_fn fn;
    void *ctx;
    pthread_t accept_thread;
    pthread_mutex_t lock;
    int stopping;
    int requests;
    int connections;
    struct conn conns[MAX_CONNS];
};

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void free_request(struct test_http_request *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->target);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

const char *test_http_header(const struct test_http_request *req,
                             const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void test_http_reply_body(struct test_http_reply *reply, const char *s)
{
    free(reply->body);
    reply->body_len = strlen(s);
    reply->body = xalloc(reply->body_len + 1);
    memcpy(reply->body, s, reply->body_len);
}

static char *dup_trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    char *p = xalloc(n + 1);
    memcpy(p, s, n);
    return p;
}

/* Parses the head in `head` (NUL-terminated, without the blank line). */
static int parse_head(char *head, struct test_http_request *r)
{
    char *line_end = strstr(head, "\r\n");
    if (line_end)
        *line_end = '\0';
    char target[8192];
    if (sscanf(head, "%15s %8191s", r->method, target) != 2)
        return -1;
    r->target = strdup(target);
    char *p = line_end ? line_end + 2 : head + strlen(head);
    while (*p) {
        char *e = strstr(p, "\r\n");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *colon = memchr(p, ':', n);
        if (colon) {
            r->headers = realloc(r->headers,
                                 (r->header_count + 1) * sizeof(*r->headers));
            if (!r->headers)
                abort();
            r->headers[r->header_count].name = dup_trim(p, (size_t)(colon - p));
            r->headers[r->header_count].value =
                dup_trim(colon + 1, n - (size_t)(colon + 1 - p));
            r->header_count++;
        }
        p += n;
        if (e)
            p += 2;
    }
    return 0;
}

/*
 * Reads one request. `pending` carries bytes read past the previous one.
 * Returns 0, or -1 on EOF or error.
 */
static int read_request(int fd, char *pending, size_t *pending_len,
                        struct test_http_request *r)
{
    char *end;
    while (!(end = memmem(pending, *pending_len, "\r\n\r\n", 4))) {
        if (*pending_len >= MAX_HEAD_BYTES)
            return -1;
        ssize_t n =
            recv(fd, pending + *pending_len, MAX_HEAD_BYTES - *pending_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        *pending_len += (size_t)n;
    }
    size_t head_len = (size_t)(end - pending);
    char *head = xalloc(head_len + 1);
    memcpy(head, pending, head_len);
    int rc = parse_head(head, r);
    free(head);
    if (rc != 0)
        return -1;
    size_t consumed = head_len + 4;
    const char *cl = test_http_header(r, "Content-Length");
    size_t body_len = cl ? strtoul(cl, NULL, 10) : 0;
    if (body_len > MAX_BODY_BYTES)
        return -1;
    r->body = xalloc(body_len + 1);
    r->body_len = body_len;
    size_t have = *pending_len - consumed;
    if (have > body_len)
        have = body_len;
    memcpy(r->body, pending + consumed, have);
    consumed += have;
    memmove(pending, pending + consumed, *pending_len - consumed);
    *pending_len -= consumed;
    while (have < body_len) {
        ssize_t n = recv(fd, r->body + have, body_len - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    return 0;
}

/* A chunked answer (RFC 9112 §7.1): 5-byte chunks, each written on its
 * own after a pause so that the client reads the answer in parts, then
 * the last chunk and a trailer field. */
static int send_chunked(int fd, const struct test_http_reply *rep,
                        int head_only)
{
    char head[8192];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nTransfer-Encoding: chunked\r\n%s%s\r\n",
                     rep->status ? rep->status : 200, rep->headers,
                     rep->close_after ? "Connection: close\r\n" : "");
    if (send_all(fd, head, (size_t)n) != 0)
        return -1;
    if (head_only)
        return 0;
    for (size_t at = 0; at < rep->body_len; at += 5) {
        size_t k = rep->body_len - at < 5 ? rep->body_len - at : 5;
        char chunk[32];
        n = snprintf(chunk, sizeof(chunk), "%zx\r\n%.*s\r\n", k, (int)k,
                     rep->body + at);
        sleep_ms(1);
        if (send_all(fd, chunk, (size_t)n) != 0)
            return -1;
    }
    static const char last[] = "0\r\nX-Trailer: 1\r\n\r\n";
    return send_all(fd, last, sizeof(last) - 1);
}

/* The answer; to HEAD, without the body its Content-Length counts. */
static int send_reply(int fd, const struct test_http_reply *rep, int head_only)
{
    if (rep->action == TEST_HTTP_RAW)
        return send_all(fd, rep->raw ? rep->raw : "", rep->raw_len);
    if (rep->chunked)
        return send_chunked(fd, rep, head_only);
    char head[8192];
    int n = snprintf(
        head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%s\r\n",
        rep->status ? rep->status : 200, rep->body_len, rep->headers,
        rep->close_after ? "Connection: close\r\n" : "");
    if (send_all(fd, head, (size_t)n) != 0)
        return -1;
    if (head_only)
        return 0;
    return send_all(fd, rep->body ? rep->body : "", rep->body_len);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct test_http *s = c->server;
    char *pending = xalloc(MAX_HEAD_BYTES);
    size_t pending_len = 0;
    for (;;) {
        struct test_http_request req;
        memset(&req, 0, sizeof(req));
        if (read_request(c->fd, pending, &pending_len, &req) != 0) {
            free_request(&req);
            break;
        }
        pthread_mutex_lock(&s->lock);
        req.index = s->requests++;
        pthread_mutex_unlock(&s->lock);
        struct test_http_reply rep;
        memset(&rep, 0, sizeof(rep));
        s->fn(s->ctx, &req, &rep);
        if (rep.delay_ms)
            sleep_ms(rep.delay_ms);
        int done = rep.action != TEST_HTTP_REPLY || rep.close_after;
        if (rep.action != TEST_HTTP_CLOSE &&
            send_reply(c->fd, &rep, strcmp(req.method, "HEAD") == 0) != 0)
            done = 1;
        free(rep.body);
        free(rep.raw);
        free_request(&req);
        if (done)
            break;
    }
    free(pending);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct test_http *s = arg;
    for (;;) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        pthread_mutex_lock(&s->lock);
        struct conn *c = NULL;
        for (int i = 0; i < MAX_CONNS && !s->stopping; i++)
            if (!s->conns[i].used) {
                c = &s->conns[i];
                break;
            }
        if (!c) {
            pthread_mutex_unlock(&s->lock);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->server = s;
        c->fd = fd;
        c->used = 1;
        s->connections++;
        if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
            c->used = 0;
            close(fd);
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

struct test_http *test_http_start(test_http_handler_fn fn, void *ctx)
{
    struct test_http *s = xalloc(sizeof(*s));
    s->fn = fn;
    s->ctx = ctx;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = net_listen(128, &s->port);
    if (s->listen_fd < 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    pthread_create(&s->accept_thread, NULL, accept_main, s);
    return s;
}

void test_http_stop(struct test_http *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_mutex_unlock(&s->lock);
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->accept_thread, NULL);
    close(s->listen_fd);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (!s->conns[i].used)
            continue;
        shutdown(s->conns[i].fd, SHUT_RDWR);
        pthread_join(s->conns[i].thread, NULL);
        close(s->conns[i].fd);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int test_http_port(const struct test_http *s)
{
    return s->port;
}

const char *test_http_url(const struct test_http *s)
{
    return s->url;
}

int test_http_connection_count(struct test_http *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->connections;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int test_http_request_count(struct test_http *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

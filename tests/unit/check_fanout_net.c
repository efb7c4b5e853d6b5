/*
 * runtime/fanout.c on the wire, against servers on loopback: a big
 * message to a reader that stalls while other pushes go on, chunked
 * answers read in parts, an idle kept-alive connection the server closed
 * (the push goes again on a new one), connections kept between sends, the
 * concurrency cap, one slot for two endpoints, a refused connect and a
 * stalled answer, and TLS verified and resumed.
 */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fanout.h"
#include "net_util.h"
#include "test_http.h"
#include "test_tls.h"

static const struct sigv4_credentials CREDS = {"AKIDTEST", "test/secret", NULL};

#define PREFIX "/prod/%40connections/"
#define MAX_TARGETS 16
#define MAX_MSGS 4

/* Targets c-0, c-1, ... for `endpoint`, each with the same messages. */
struct targets {
    struct fanout_target t[MAX_TARGETS];
    char ids[MAX_TARGETS][16];
};

static void targets_set(struct targets *s, size_t i, const char *endpoint,
                        const struct fanout_msg *msgs, size_t count)
{
    snprintf(s->ids[i], sizeof(s->ids[i]), "c-%zu", i);
    s->t[i] = (struct fanout_target){.endpoint = endpoint,
                                     .connection_id = s->ids[i],
                                     .msgs = msgs,
                                     .count = count};
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- A one-connection-at-a-time server of the test's own -------------- */

enum mini_mode {
    MINI_SLOW,       /* reads nothing until released, then in small bites */
    MINI_IDLE_CLOSE, /* after an answer, closes the idle connection when
                        told */
};

#define MINI_MAX 8

struct mini {
    enum mini_mode mode;
    int lfd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    int go;          /* MINI_SLOW: reading may start */
    int released;    /* it started because of `go`, not a timeout */
    int close_now;   /* MINI_IDLE_CLOSE: close the idle connection */
    int closed;      /* and it was */
    int connections; /* accepted */
    int requests;    /* answered */
    char *bodies[MINI_MAX];
    size_t lens[MINI_MAX];
};

/* Waits on the condition until `*flag` or stop, 10 s at most; *flag. */
static int mini_wait(struct mini *m, const int *flag)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&m->lock);
    while (!*flag && !m->stop &&
           pthread_cond_timedwait(&m->cond, &m->lock, &until) == 0)
        ;
    int set = *flag;
    pthread_mutex_unlock(&m->lock);
    return set;
}

static void mini_set(struct mini *m, int *flag)
{
    pthread_mutex_lock(&m->lock);
    *flag = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

/* Reads one request (head, then Content-Length bytes) and keeps its
 * body; MINI_SLOW reads 4 KB at a time. 0, or -1 at the end. */
static int mini_read(struct mini *m, int fd)
{
    size_t cap = 4096, len = 0, want = 0, head = 0;
    char *p = malloc(cap);
    for (;;) {
        if (len == cap)
            p = realloc(p, cap *= 2);
        size_t room = cap - len;
        if (m->mode == MINI_SLOW && room > 4096)
            room = 4096;
        ssize_t n = recv(fd, p + len, room, 0);
        if (n <= 0) {
            free(p);
            return -1;
        }
        len += (size_t)n;
        if (!head) {
            char *end = memmem(p, len, "\r\n\r\n", 4);
            if (!end)
                continue;
            head = (size_t)(end - p) + 4;
            char *cl = memmem(p, head, "Content-Length: ", 16);
            want = cl ? strtoul(cl + 16, NULL, 10) : 0;
        }
        if (len >= head + want)
            break;
    }
    char *body = malloc(want + 1);
    memcpy(body, p + head, want);
    body[want] = '\0';
    free(p);
    pthread_mutex_lock(&m->lock);
    if (m->requests < MINI_MAX) {
        m->bodies[m->requests] = body;
        m->lens[m->requests] = want;
        body = NULL;
    }
    m->requests++;
    pthread_mutex_unlock(&m->lock);
    free(body);
    return 0;
}

static void mini_serve(struct mini *m, int fd)
{
    if (m->mode == MINI_SLOW) {
        int go = mini_wait(m, &m->go);
        pthread_mutex_lock(&m->lock);
        m->released = go;
        pthread_mutex_unlock(&m->lock);
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    while (mini_read(m, fd) == 0) {
        if (send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
            break;
        if (m->mode == MINI_IDLE_CLOSE) {
            /* Kept alive as far as the client knows, then dropped. */
            mini_wait(m, &m->close_now);
            break;
        }
    }
    close(fd);
    if (m->mode == MINI_IDLE_CLOSE) {
        pthread_mutex_lock(&m->lock);
        m->close_now = 0;
        m->closed = 1;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
    }
}

static void *mini_main(void *arg)
{
    struct mini *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        int stop = m->stop;
        pthread_mutex_unlock(&m->lock);
        if (stop)
            break;
        struct pollfd p = {m->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(m->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&m->lock);
        m->connections++;
        pthread_mutex_unlock(&m->lock);
        mini_serve(m, fd);
    }
    return NULL;
}

static struct mini *mini_start(enum mini_mode mode)
{
    struct mini *m = calloc(1, sizeof(*m));
    m->mode = mode;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->lfd = net_listen(8, &m->port);
    ck_assert_int_ge(m->lfd, 0);
    /* A small receive buffer (inherited by the accepted socket, set
     * before any client connects): a big request fills it, and the
     * client's writes stop part way. */
    int small = 4096;
    if (mode == MINI_SLOW)
        setsockopt(m->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    ck_assert_int_eq(pthread_create(&m->thread, NULL, mini_main, m), 0);
    return m;
}

static void mini_stop(struct mini *m)
{
    mini_set(m, &m->stop);
    pthread_join(m->thread, NULL);
    close(m->lfd);
    for (int i = 0; i < MINI_MAX; i++)
        free(m->bodies[i]);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- A test_http handler that records pushes ---------------------------- */

#define LOG_MAX 256

struct log {
    pthread_mutex_t lock;
    int count;
    char id[LOG_MAX][16];
    char body[LOG_MAX][64];
    int in_flight, peak;
    int delay_ms;
    struct mini *release; /* set `go` on it at the first push */
};

static void logging(void *ctx, const struct test_http_request *req,
                    struct test_http_reply *reply)
{
    struct log *l = ctx;
    if (strncmp(req->target, PREFIX, strlen(PREFIX)) != 0) {
        reply->status = 400;
        return;
    }
    pthread_mutex_lock(&l->lock);
    if (++l->in_flight > l->peak)
        l->peak = l->in_flight;
    if (l->count < LOG_MAX) {
        snprintf(l->id[l->count], sizeof(l->id[0]), "%s",
                 req->target + strlen(PREFIX));
        snprintf(l->body[l->count], sizeof(l->body[0]), "%s", req->body);
        l->count++;
    }
    int delay = l->delay_ms;
    pthread_mutex_unlock(&l->lock);
    if (l->release)
        mini_set(l->release, &l->release->go);
    if (delay)
        sleep_ms(delay);
    pthread_mutex_lock(&l->lock);
    l->in_flight--;
    pthread_mutex_unlock(&l->lock);
}

/* ---- Tests --------------------------------------------------------------- */

/* 1 MB to a server that reads nothing until another push has arrived:
 * the big write stops part way, the other push goes on meanwhile, and
 * the big one then arrives whole. */
START_TEST(big_message_to_a_slow_reader)
{
    struct mini *slow = mini_start(MINI_SLOW);
    struct log l = {.lock = PTHREAD_MUTEX_INITIALIZER, .release = slow};
    struct test_http *fast = test_http_start(logging, &l);
    ck_assert_ptr_nonnull(fast);
    size_t big_len = (1u << 20) + 7;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    char slow_ep[64], fast_ep[64];
    snprintf(slow_ep, sizeof(slow_ep), "http://127.0.0.1:%d/prod", slow->port);
    snprintf(fast_ep, sizeof(fast_ep), "%s/prod", test_http_url(fast));
    struct fanout_msg m_big = {big, big_len}, m_small = {"{\"n\":1}", 7};
    struct targets s;
    targets_set(&s, 0, slow_ep, &m_big, 1);
    targets_set(&s, 1, fast_ep, &m_small, 1);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 4);
    fanout_send(f, s.t, 2, clock_now_ms() + 30000);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(s.t[i].result == RESULT_OK && s.t[i].sent == 1,
                      "target %d: %s %s", i, result_str(s.t[i].result),
                      s.t[i].err.message);
    /* The reader was released by the other push, not by its timeout. */
    ck_assert_int_eq(slow->released, 1);
    ck_assert_int_eq(l.count, 1);
    ck_assert_int_eq(slow->requests, 1);
    ck_assert_uint_eq(slow->lens[0], big_len);
    ck_assert_int_eq(memcmp(slow->bodies[0], big, big_len), 0);
    fanout_free(f);
    free(big);
    test_http_stop(fast);
    mini_stop(slow);
}
END_TEST

/* The answers of the chunked server, by connection id: c-0 gets a 503
 * first, then 200s; c-1 a 403. */
struct chunky {
    pthread_mutex_t lock;
    int c0;
    int ok_bodies;
};

static void chunked_answers(void *ctx, const struct test_http_request *req,
                            struct test_http_reply *reply)
{
    struct chunky *c = ctx;
    reply->chunked = 1;
    const char *id = req->target + strlen(PREFIX);
    pthread_mutex_lock(&c->lock);
    int first = strcmp(id, "c-0") == 0 && c->c0++ == 0;
    pthread_mutex_unlock(&c->lock);
    if (strcmp(id, "c-1") == 0) {
        reply->status = 403;
        snprintf(reply->headers, sizeof(reply->headers),
                 "x-amzn-ErrorType: ForbiddenException\r\n");
        test_http_reply_body(reply, "{\"message\":\"Forbidden by a chunk\"}");
    } else if (first) {
        reply->status = 503;
        test_http_reply_body(reply, "{\"message\":\"Service Unavailable\"}");
    } else {
        test_http_reply_body(reply, "{\"accepted\":true,\"padding\":\"xxxxxxxx"
                                    "xxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    }
}

START_TEST(chunked_answers_are_read_whole)
{
    struct chunky c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct test_http *srv = test_http_start(chunked_answers, &c);
    ck_assert_ptr_nonnull(srv);
    char ep[64];
    snprintf(ep, sizeof(ep), "%s/prod", test_http_url(srv));
    struct fanout_msg msgs[2] = {{"{\"n\":1}", 7}, {"{\"n\":2}", 7}};
    struct targets s;
    targets_set(&s, 0, ep, msgs, 2);
    targets_set(&s, 1, ep, msgs, 2);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 1);
    fanout_set_retry(f, 1, 5, 3);
    fanout_send(f, s.t, 2, clock_now_ms() + 30000);
    ck_assert_msg(s.t[0].result == RESULT_OK, "%s", s.t[0].err.message);
    ck_assert_uint_eq(s.t[0].sent, 2);
    ck_assert_int_eq(s.t[0].attempts, 3); /* the 503 was retried */
    ck_assert(s.t[1].result != RESULT_OK && s.t[1].result != RESULT_NOT_FOUND);
    ck_assert_uint_eq(s.t[1].sent, 0);
    ck_assert_int_eq(s.t[1].attempts, 1); /* a 403 is final */
    ck_assert_int_eq(s.t[1].err.http_status, 403);
    ck_assert_str_eq(s.t[1].err.type, "ForbiddenException");
    ck_assert_msg(strstr(s.t[1].err.message, "Forbidden by a chunk"), "%s",
                  s.t[1].err.message);
    /* Each chunked answer ended where its last chunk said: the one
     * connection carried them all. */
    ck_assert_int_eq(test_http_request_count(srv), 4);
    ck_assert_int_eq(test_http_connection_count(srv), 1);
    fanout_free(f);
    test_http_stop(srv);
}
END_TEST

/* A kept-alive connection the server drops while idle: the next push
 * fails on it before any answer and goes again on a new connection, in
 * the same attempt; nothing is lost or sent twice. */
START_TEST(idle_close_is_retried_on_a_new_connection)
{
    struct mini *m = mini_start(MINI_IDLE_CLOSE);
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/prod", m->port);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 1);
    struct fanout_msg one = {"{\"n\":1}", 7}, two = {"{\"n\":2}", 7};
    struct targets s;
    targets_set(&s, 0, ep, &one, 1);
    fanout_send(f, s.t, 1, clock_now_ms() + 30000);
    ck_assert_msg(s.t[0].result == RESULT_OK, "%s", s.t[0].err.message);
    mini_set(m, &m->close_now);
    ck_assert(mini_wait(m, &m->closed));
    targets_set(&s, 0, ep, &two, 1);
    fanout_send(f, s.t, 1, clock_now_ms() + 30000);
    ck_assert_msg(s.t[0].result == RESULT_OK, "%s", s.t[0].err.message);
    ck_assert_int_eq(s.t[0].attempts, 1);
    ck_assert_int_eq(m->connections, 2);
    ck_assert_int_eq(m->requests, 2);
    ck_assert_str_eq(m->bodies[0], "{\"n\":1}");
    ck_assert_str_eq(m->bodies[1], "{\"n\":2}");
    fanout_free(f);
    mini_stop(m);
}
END_TEST

/* 12 targets of 3 messages through 4 connections, twice: never more than
 * 4 in flight, each target's messages in order, and the second send
 * reuses the first one's connections. */
START_TEST(keep_alive_between_sends_and_the_cap)
{
    struct log l = {.lock = PTHREAD_MUTEX_INITIALIZER, .delay_ms = 5};
    struct test_http *srv = test_http_start(logging, &l);
    ck_assert_ptr_nonnull(srv);
    char ep[64];
    snprintf(ep, sizeof(ep), "%s/prod", test_http_url(srv));
    struct fanout_msg msgs[3] = {{"m0", 2}, {"m1", 2}, {"m2", 2}};
    struct targets s;
    for (size_t i = 0; i < 12; i++)
        targets_set(&s, i, ep, msgs, 3);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 4);
    int connections = 0;
    for (int round = 0; round < 2; round++) {
        fanout_send(f, s.t, 12, clock_now_ms() + 30000);
        for (int i = 0; i < 12; i++)
            ck_assert_msg(s.t[i].result == RESULT_OK && s.t[i].sent == 3,
                          "%s: %s", s.ids[i], s.t[i].err.message);
        if (round == 0)
            connections = test_http_connection_count(srv);
    }
    ck_assert_int_le(connections, 4);
    ck_assert_int_eq(test_http_connection_count(srv), connections);
    ck_assert_int_eq(l.count, 72);
    ck_assert_int_le(l.peak, 4);
    ck_assert_int_ge(l.peak, 2);
    ck_assert_int_le(fanout_peak_in_flight(f), 4);
    for (int i = 0; i < 12; i++) {
        int next = 0;
        for (int k = 0; k < l.count; k++)
            if (strcmp(l.id[k], s.ids[i]) == 0) {
                ck_assert_int_eq(l.body[k][1], '0' + next % 3);
                next++;
            }
        ck_assert_int_eq(next, 6);
    }
    fanout_free(f);
    test_http_stop(srv);
}
END_TEST

/* One slot, targets for two endpoints in turn: the slot's client is
 * replaced each time the origin changes. */
START_TEST(one_slot_two_endpoints)
{
    struct log la = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct log lb = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct test_http *a = test_http_start(logging, &la);
    struct test_http *b = test_http_start(logging, &lb);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    char ea[64], eb[64];
    snprintf(ea, sizeof(ea), "%s/prod", test_http_url(a));
    snprintf(eb, sizeof(eb), "%s/prod", test_http_url(b));
    struct fanout_msg m = {"{}", 2};
    struct targets s;
    targets_set(&s, 0, ea, &m, 1);
    targets_set(&s, 1, eb, &m, 1);
    targets_set(&s, 2, ea, &m, 1);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 1);
    fanout_send(f, s.t, 3, clock_now_ms() + 30000);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(s.t[i].result == RESULT_OK, "%s", s.t[i].err.message);
    ck_assert_int_eq(la.count, 2);
    ck_assert_int_eq(lb.count, 1);
    ck_assert_str_eq(la.id[0], "c-0");
    ck_assert_str_eq(lb.id[0], "c-1");
    ck_assert_str_eq(la.id[1], "c-2");
    fanout_free(f);
    test_http_stop(a);
    test_http_stop(b);
}
END_TEST

static void stall(void *ctx, const struct test_http_request *req,
                  struct test_http_reply *reply)
{
    (void)ctx, (void)req;
    reply->delay_ms = 1500;
}

/* One push of "{}" to `ep` by a new client allowed `attempts`, by
 * `deadline_ms`: how it ended, in s->t[0]. */
static void push_one(struct targets *s, const char *ep, int attempts,
                     int64_t deadline_ms)
{
    static const struct fanout_msg m = {"{}", 2};
    targets_set(s, 0, ep, &m, 1);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 2);
    fanout_set_retry(f, 1, 5, attempts);
    fanout_send(f, s->t, 1, deadline_ms);
    fanout_free(f);
}

/* Nobody listening: a transport error after every attempt, saying so.
 * An answer that never comes: a timeout by the deadline. */
START_TEST(refused_and_stalled_end_in_clear_errors)
{
    int port = net_free_port();
    ck_assert_int_gt(port, 0);
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/prod", port);
    struct targets s;
    push_one(&s, ep, 3, clock_now_ms() + 30000);
    ck_assert_int_eq(s.t[0].result, RESULT_TRANSPORT);
    ck_assert_int_eq(s.t[0].attempts, 3);
    ck_assert_msg(strstr(s.t[0].err.message, "Connection refused") &&
                      strstr(s.t[0].err.message, "c-0") &&
                      strstr(s.t[0].err.message, "3 attempts"),
                  "%s", s.t[0].err.message);

    struct test_http *srv = test_http_start(stall, NULL);
    ck_assert_ptr_nonnull(srv);
    snprintf(ep, sizeof(ep), "%s/prod", test_http_url(srv));
    int64_t deadline = clock_now_ms() + 600;
    push_one(&s, ep, 3, deadline);
    ck_assert_int_eq(s.t[0].result, RESULT_TIMEOUT);
    ck_assert_msg(strstr(s.t[0].err.message, "timed out"), "%s",
                  s.t[0].err.message);
    ck_assert_int_le(clock_now_ms(), deadline);
    test_http_stop(srv);
}
END_TEST

/* A push to the TLS server as `host`: refused, the message saying `why`. */
static void push_refused(struct test_tls *tls, const char *host,
                         const char *why)
{
    char ep[64];
    snprintf(ep, sizeof(ep), "https://%s:%d/prod", host, test_tls_port(tls));
    struct targets s;
    push_one(&s, ep, 1, clock_now_ms() + 30000);
    ck_assert_int_eq(s.t[0].result, RESULT_TRANSPORT);
    ck_assert_msg(strstr(s.t[0].err.message, why), "%s", s.t[0].err.message);
}

/* Over TLS: the certificate is verified (name and issuer), a big message
 * goes whole, and a server that drops each connection after one answer
 * costs a new connection per push, each resuming the last session. */
START_TEST(tls_verified_and_resumed)
{
    struct test_tls *tls = test_tls_start(1, "");
    ck_assert_ptr_nonnull(tls);
    test_tls_trust(test_tls_ca_file(tls), NULL);
    size_t big_len = 300 * 1024;
    char *big = malloc(big_len);
    memset(big, 'b', big_len);
    struct fanout_msg msgs[3] = {{"{\"n\":1}", 7}, {big, big_len}, {"{}", 2}};
    char ep[64];
    snprintf(ep, sizeof(ep), "https://127.0.0.1:%d/prod", test_tls_port(tls));
    struct targets s;
    targets_set(&s, 0, ep, msgs, 3);
    struct fanout *f = fanout_new("us-east-1", &CREDS, 2);
    fanout_send(f, s.t, 1, clock_now_ms() + 30000);
    ck_assert_msg(s.t[0].result == RESULT_OK, "%s", s.t[0].err.message);
    ck_assert_uint_eq(s.t[0].sent, 3);
    ck_assert_int_eq(s.t[0].attempts, 3);
    ck_assert_int_eq(test_tls_requests(tls), 3);
    ck_assert_int_eq(test_tls_connections(tls), 3);
    ck_assert_int_eq(test_tls_resumed(tls), 2);
    fanout_free(f);

    /* The certificate is for IP 127.0.0.1, not for "localhost". */
    push_refused(tls, "localhost", "hostname mismatch");
    /* A trust store without the server's CA. */
    char empty[] = "/tmp/streamer-no-ca-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(empty));
    test_tls_trust(NULL, empty);
    push_refused(tls, "127.0.0.1", "certificate");
    rmdir(empty);
    test_tls_trust(NULL, NULL);
    ck_assert_int_eq(test_tls_requests(tls), 3); /* none of them got in */
    free(big);
    test_tls_stop(tls);
}
END_TEST

Suite *fanout_net_suite(void)
{
    Suite *s = suite_create("fanout_net");
    TCase *t = tcase_create("wire");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, big_message_to_a_slow_reader);
    tcase_add_test(t, chunked_answers_are_read_whole);
    tcase_add_test(t, idle_close_is_retried_on_a_new_connection);
    tcase_add_test(t, keep_alive_between_sends_and_the_cap);
    tcase_add_test(t, one_slot_two_endpoints);
    tcase_add_test(t, refused_and_stalled_end_in_clear_errors);
    tcase_add_test(t, tls_verified_and_resumed);
    suite_add_tcase(s, t);
    return s;
}

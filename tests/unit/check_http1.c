/* Tests of the plain HTTP/1.1 client against a scripted loopback server. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http1.h"
#include "net_util.h"

/*
 * A server that answers each request it reads with the next scripted
 * reply, sent verbatim (split in two writes, so the client must read
 * more than once). A reply of CLOSE closes the connection instead; a
 * reply of SILENT answers nothing and waits for the client to leave.
 */
#define CLOSE "\001close"
#define SILENT "\001silent"
#define MAX_SCRIPT 8

struct script {
    const char *replies[MAX_SCRIPT];
    int listen_fd, port;
    pthread_t thread;
    int accepts, requests;
    char last_head[4096];
};

/* Reads one request head and its Content-Length body; -1 on EOF. */
static int read_request(int fd, struct script *s)
{
    char head[4096];
    size_t n = 0;
    while (n < sizeof(head) - 1) {
        ssize_t k = recv(fd, head + n, 1, 0);
        if (k <= 0)
            return -1;
        n++;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[n] = '\0';
    snprintf(s->last_head, sizeof(s->last_head), "%s", head);
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    long body = cl ? strtol(cl + 17, NULL, 10) : 0;
    char c;
    for (long i = 0; i < body; i++)
        if (recv(fd, &c, 1, 0) != 1)
            return -1;
    return 0;
}

static void *serve(void *arg)
{
    struct script *s = arg;
    int next = 0;
    while (next < MAX_SCRIPT && s->replies[next]) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            break;
        s->accepts++;
        while (next < MAX_SCRIPT && s->replies[next] &&
               read_request(fd, s) == 0) {
            s->requests++;
            const char *r = s->replies[next++];
            if (strcmp(r, CLOSE) == 0)
                break;
            if (strcmp(r, SILENT) == 0) {
                char c;
                while (recv(fd, &c, 1, 0) > 0)
                    ;
                break;
            }
            size_t len = strlen(r), half = len / 2;
            if (send(fd, r, half, MSG_NOSIGNAL) < 0 ||
                (usleep(2000), send(fd, r + half, len - half, MSG_NOSIGNAL)) <
                    0)
                break;
            /* An answer that ends with the connection: close it. */
            if (strncmp(r, "HTTP/1.0", 8) == 0 ||
                strcasestr(r, "Connection: keep-alive, close") ||
                (!strcasestr(r, "Content-Length") &&
                 !strcasestr(r, "Transfer-Encoding")))
                break;
        }
        close(fd);
    }
    return NULL;
}

static void script_start(struct script *s)
{
    s->listen_fd = net_listen(8, &s->port);
    ck_assert_int_ge(s->listen_fd, 0);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

/* Stops the server: the client must be freed first (its socket closed). */
static void script_stop(struct script *s)
{
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

struct exchange {
    enum result r;
    long status;
    char body[256];
    struct error_info err;
};

static void get(struct http1_client *c, struct http1_response *resp,
                struct exchange *x)
{
    struct http1_request req = {.method = "GET", .path = "/x"};
    error_clear(&x->err);
    x->r = http1_perform(c, &req, resp, &x->err);
    x->status = resp->status;
    snprintf(x->body, sizeof(x->body), "%s", buf_str(&resp->body));
}

/* Runs the script with one GET per reply; the outcomes go to `x`. */
static void run(struct script *s, int gets, size_t cap, struct exchange *x,
                const char *header, char *header_value, size_t hv_size)
{
    script_start(s);
    struct http1_client *c = http1_client_new("127.0.0.1", s->port, 1000);
    struct http1_response resp;
    http1_response_init(&resp, cap);
    for (int i = 0; i < gets; i++)
        get(c, &resp, &x[i]);
    if (header) {
        const char *v = http1_response_header(&resp, header);
        snprintf(header_value, hv_size, "%s", v ? v : "(none)");
    }
    http1_response_cleanup(&resp);
    http1_client_free(c);
    script_stop(s);
}

START_TEST(content_length_kept_alive)
{
    struct script s = {.replies = {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                                   "X-A:  one two \r\n\r\nhello",
                                   "HTTP/1.1 202 Accepted\r\ncontent-length: "
                                   "2\r\n\r\nok",
                                   "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n"
                                   "\r\n"}};
    struct exchange x[3];
    char hv[64];
    run(&s, 3, 1024, x, "x-a", hv, sizeof(hv));
    ck_assert_int_eq(x[0].r, RESULT_OK);
    ck_assert_int_eq(x[0].status, 200);
    ck_assert_str_eq(x[0].body, "hello");
    ck_assert_int_eq(x[1].status, 202);
    ck_assert_str_eq(x[1].body, "ok");
    ck_assert_int_eq(x[2].r, RESULT_OK);
    ck_assert_int_eq(x[2].status, 500);
    ck_assert_str_eq(x[2].body, "");
    ck_assert_str_eq(hv, "(none)"); /* headers are the last answer's */
    ck_assert_int_eq(s.accepts, 1); /* one connection for all three */
    ck_assert_ptr_nonnull(strstr(s.last_head, "GET /x HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(s.last_head, "\r\nHost: 127.0.0.1:"));
}
END_TEST

START_TEST(header_values_are_trimmed)
{
    struct script s = {.replies = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                   "X-A: \t one two \t\r\n\r\n"}};
    struct exchange x[1];
    char hv[64];
    run(&s, 1, 1024, x, "X-a", hv, sizeof(hv));
    ck_assert_int_eq(x[0].r, RESULT_OK);
    ck_assert_str_eq(hv, "one two");
}
END_TEST

START_TEST(chunked_kept_alive)
{
    struct script s = {
        .replies = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;name=v\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n"
                    "0\r\nX-Trailer: t\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
                    "0\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"}};
    struct exchange x[3];
    run(&s, 3, 1024, x, NULL, NULL, 0);
    ck_assert_int_eq(x[0].r, RESULT_OK);
    ck_assert_str_eq(x[0].body, "hello world0123456789");
    ck_assert_int_eq(x[1].r, RESULT_OK);
    ck_assert_str_eq(x[1].body, "");
    ck_assert_int_eq(x[2].r, RESULT_OK);
    ck_assert_str_eq(x[2].body, "z");
    ck_assert_int_eq(s.accepts, 1);
}
END_TEST

START_TEST(connection_close_and_eof_bodies)
{
    struct script s = {.replies = {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                   "Connection: keep-alive, close\r\n\r\na",
                                   "HTTP/1.1 200 OK\r\n\r\nuntil the end",
                                   "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
                                   "\r\nb",
                                   "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                   "\r\nc"}};
    struct exchange x[4];
    run(&s, 4, 1024, x, NULL, NULL, 0);
    ck_assert_str_eq(x[0].body, "a");
    ck_assert_int_eq(x[1].r, RESULT_OK);
    ck_assert_str_eq(x[1].body, "until the end");
    ck_assert_str_eq(x[2].body, "b");
    ck_assert_str_eq(x[3].body, "c");
    /* close, end-of-body by close, HTTP/1.0: each ends its connection */
    ck_assert_int_eq(s.accepts, 4);
}
END_TEST

/* An idle kept-alive connection the server closed: sent again once. */
START_TEST(stale_connection_is_retried_once)
{
    struct script s = {
        .replies = {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", CLOSE,
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"}};
    struct exchange x[2];
    run(&s, 2, 1024, x, NULL, NULL, 0);
    ck_assert_int_eq(x[0].r, RESULT_OK);
    ck_assert_int_eq(x[1].r, RESULT_OK);
    ck_assert_str_eq(x[1].body, "b");
    ck_assert_int_eq(s.accepts, 2);
    ck_assert_int_eq(s.requests, 3);
}
END_TEST

/* On a fresh connection a close is the caller's to retry, not ours. */
START_TEST(fresh_connection_close_is_an_error)
{
    struct script s = {.replies = {CLOSE}};
    struct exchange x[1];
    run(&s, 1, 1024, x, NULL, NULL, 0);
    ck_assert_int_eq(x[0].r, RESULT_TRANSPORT);
    ck_assert_int_eq(s.requests, 1);
}
END_TEST

START_TEST(interim_answer_is_skipped)
{
    struct script s = {.replies = {"HTTP/1.1 100 Continue\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                   "\r\nhi"}};
    struct exchange x[1];
    run(&s, 1, 1024, x, NULL, NULL, 0);
    ck_assert_int_eq(x[0].r, RESULT_OK);
    ck_assert_int_eq(x[0].status, 200);
    ck_assert_str_eq(x[0].body, "hi");
}
END_TEST

START_TEST(too_large_keeps_the_head)
{
    struct script s = {
        .replies = {"HTTP/1.1 200 OK\r\nX-Id: a1\r\nContent-Length: 11\r\n"
                    "\r\n0123456789A"}};
    struct exchange x[1];
    char hv[64];
    run(&s, 1, 10, x, "x-id", hv, sizeof(hv));
    ck_assert_int_eq(x[0].r, RESULT_TOO_LARGE);
    ck_assert_str_eq(hv, "a1"); /* the invocation can still be named */
    struct script t = {
        .replies = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "6\r\n012345\r\n6\r\n6789AB\r\n0\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"}};
    struct exchange y[2];
    run(&t, 2, 10, y, NULL, NULL, 0);
    ck_assert_int_eq(y[0].r, RESULT_TOO_LARGE);
    ck_assert_int_eq(y[1].r, RESULT_OK); /* exactly the cap */
    ck_assert_str_eq(y[1].body, "0123456789");
}
END_TEST

/* Answers that are not HTTP/1.1 as RFC 9112 frames it. */
START_TEST(malformed_answers_fail)
{
    static const char *const bad[] = {
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct script s = {.replies = {bad[i]}};
        struct exchange x[1];
        run(&s, 1, 1024, x, NULL, NULL, 0);
        ck_assert_msg(x[0].r == RESULT_TRANSPORT, "answer %zu: %s", i,
                      result_str(x[0].r));
    }
}
END_TEST

START_TEST(timeout_is_reported)
{
    struct script s = {.replies = {SILENT}};
    script_start(&s);
    struct http1_client *c = http1_client_new("127.0.0.1", s.port, 1000);
    struct http1_response resp;
    http1_response_init(&resp, 1024);
    struct http1_request req = {.method = "POST",
                                .path = "/p",
                                .body = "{}",
                                .body_len = 2,
                                .timeout_ms = 200};
    struct error_info err;
    error_clear(&err);
    ck_assert_int_eq(http1_perform(c, &req, &resp, &err), RESULT_TIMEOUT);
    http1_response_cleanup(&resp);
    http1_client_free(c);
    script_stop(&s);
    ck_assert_ptr_nonnull(strstr(s.last_head, "Content-Length: 2\r\n"));
}
END_TEST

/* A CR or LF in a header would split the head: refused, nothing sent. */
START_TEST(crlf_in_a_header_is_refused)
{
    static const struct http1_header bad[][1] = {
        {{"X-Type", "a\r\nX-Evil: 1"}},
        {{"X-Type", "a\nb"}},
        {{"X-Type", "a\rb"}},
        {{"X-Type", "a\001b"}},
        {{"X-Ty pe", "a"}},
        {{"X-Type\r\nX-Evil", "a"}},
        {{"", "a"}},
    };
    struct script s = {.replies = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                   "\r\n"}};
    script_start(&s);
    struct http1_client *c = http1_client_new("127.0.0.1", s.port, 1000);
    struct http1_response resp;
    http1_response_init(&resp, 1024);
    struct error_info err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http1_request req = {.method = "GET",
                                    .path = "/x",
                                    .headers = bad[i],
                                    .header_count = 1};
        error_clear(&err);
        ck_assert_msg(http1_perform(c, &req, &resp, &err) ==
                          RESULT_INVALID_INPUT,
                      "header %zu", i);
    }
    struct http1_request path = {.method = "GET", .path = "/x\r\nX: 1"};
    ck_assert_int_eq(http1_perform(c, &path, &resp, &err),
                     RESULT_INVALID_INPUT);
    struct http1_header tab[] = {{"X-Type", "a\tb c"}};
    struct http1_request good = {
        .method = "GET", .path = "/x", .headers = tab, .header_count = 1};
    ck_assert_int_eq(http1_perform(c, &good, &resp, &err), RESULT_OK);
    http1_response_cleanup(&resp);
    http1_client_free(c);
    script_stop(&s);
    ck_assert_int_eq(s.requests, 1); /* only the good one reached it */
    ck_assert_ptr_nonnull(strstr(s.last_head, "\r\nX-Type: a\tb c\r\n"));
}
END_TEST

START_TEST(refused_connection_is_transport)
{
    struct script s = {.replies = {NULL}};
    script_start(&s); /* serves nothing: the thread ends at once */
    int port = s.port;
    script_stop(&s);
    struct http1_client *c = http1_client_new("127.0.0.1", port, 1000);
    struct http1_response resp;
    http1_response_init(&resp, 1024);
    struct exchange x;
    get(c, &resp, &x);
    ck_assert_int_eq(x.r, RESULT_TRANSPORT);
    ck_assert_msg(strstr(x.err.message, "cannot connect") &&
                      strstr(x.err.message, strerror(ECONNREFUSED)),
                  "%s", x.err.message);
    http1_response_cleanup(&resp);
    http1_client_free(c);
}
END_TEST

Suite *http1_suite(void)
{
    Suite *s = suite_create("http1");
    TCase *t = tcase_create("exchanges");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, content_length_kept_alive);
    tcase_add_test(t, header_values_are_trimmed);
    tcase_add_test(t, chunked_kept_alive);
    tcase_add_test(t, connection_close_and_eof_bodies);
    tcase_add_test(t, stale_connection_is_retried_once);
    tcase_add_test(t, fresh_connection_close_is_an_error);
    tcase_add_test(t, interim_answer_is_skipped);
    tcase_add_test(t, too_large_keeps_the_head);
    tcase_add_test(t, malformed_answers_fail);
    tcase_add_test(t, timeout_is_reported);
    tcase_add_test(t, crlf_in_a_header_is_refused);
    tcase_add_test(t, refused_connection_is_transport);
    suite_add_tcase(s, t);
    return s;
}

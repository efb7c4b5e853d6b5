/* Tests of runtime/http.c: header checks (no CR or LF on the wire), URLs,
 * kept-alive connections per origin, TLS verification. */
#include <check.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "net_util.h"
#include "test_http.h"
#include "test_tls.h"

static const struct {
    const char *value;
    int valid;
    const char *clean; /* what http_header_value_clean() makes of it */
} values[] = {
    {"", 1, ""},
    {"application/json", 1, "application/json"},
    {"a\tb c", 1, "a\tb c"},
    {"caf\xc3\xa9", 1, "caf\xc3\xa9"}, /* obs-text passes */
    {"Dynamo\r\nX-Injected: 1", 0, "Dynamo  X-Injected: 1"},
    {"a\nb", 0, "a b"},
    {"a\rb", 0, "a b"},
    {"\r\n\r\nGET / HTTP/1.1", 0, "    GET / HTTP/1.1"},
    {"bell\a", 0, "bell "},
    {"del\x7f", 0, "del "},
    {"esc\x1b[0m", 0, "esc [0m"},
};

START_TEST(value_table)
{
    ck_assert_int_eq(http_header_value_valid(values[_i].value),
                     values[_i].valid);
    char out[64];
    http_header_value_clean(values[_i].value, out, sizeof(out));
    ck_assert_str_eq(out, values[_i].clean);
    ck_assert_int_eq(http_header_value_valid(out), 1);
}
END_TEST

START_TEST(clean_truncates_and_takes_null)
{
    char out[4];
    http_header_value_clean("ab\r\ncd", out, sizeof(out));
    ck_assert_str_eq(out, "ab ");
    http_header_value_clean(NULL, out, sizeof(out));
    ck_assert_str_eq(out, "");
    char one[1] = {'x'};
    http_header_value_clean("abc", one, sizeof(one));
    ck_assert_int_eq(one[0], '\0');
    ck_assert_int_eq(http_header_value_valid(NULL), 0);
}
END_TEST

static const struct {
    const char *name;
    int valid;
} names[] = {
    {"Content-Type", 1},
    {"X-Amz-Target", 1},
    {"x!#$%&'*+-.^_`|~9", 1},
    {"", 0},
    {"Bad Name", 0},
    {"Bad:Name", 0},
    {"X\r\nY", 0},
    {"X(", 0},
};

START_TEST(name_table)
{
    ck_assert_msg(http_header_name_valid(names[_i].name) == names[_i].valid,
                  "'%s'", names[_i].name);
}
END_TEST

/* The server records the headers of whatever reaches it. */
struct seen {
    pthread_mutex_t lock;
    int requests;
    int injected; /* a request carried X-Injected */
};

static void record(void *ctx, const struct test_http_request *req,
                   struct test_http_reply *reply)
{
    struct seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->requests++;
    if (test_http_header(req, "X-Injected"))
        s->injected = 1;
    pthread_mutex_unlock(&s->lock);
    test_http_reply_body(reply, "ok");
}

/* A header value with CR LF is refused before anything is sent; the same
 * client then sends a clean request. */
START_TEST(perform_refuses_crlf_in_a_header)
{
    struct seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    struct test_http *srv = test_http_start(record, &s);
    ck_assert_ptr_nonnull(srv);
    struct http_client *c = http_client_new();
    char url[96];
    snprintf(url, sizeof(url), "%s/x", test_http_url(srv));
    struct http_header bad[] = {{"X-Type", "Dynamo\r\nX-Injected: 1"}};
    struct http_request req = {.method = "POST",
                               .url = url,
                               .headers = bad,
                               .header_count = 1,
                               .body = "{}",
                               .body_len = 2,
                               .timeout_ms = 5000};
    struct http_response resp;
    http_response_init(&resp, 1024);
    struct error_info err;
    error_clear(&err);
    ck_assert_int_eq(http_perform(c, &req, &resp, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "HttpHeader");
    ck_assert_ptr_nonnull(strstr(err.message, "X-Type"));
    struct http_header bad_name[] = {{"X Type", "v"}};
    req.headers = bad_name;
    ck_assert_int_eq(http_perform(c, &req, &resp, &err), RESULT_INVALID_INPUT);
    struct http_header good[] = {{"X-Type", "Dynamo"}};
    req.headers = good;
    ck_assert_int_eq(http_perform(c, &req, &resp, &err), RESULT_OK);
    ck_assert_int_eq(resp.status, 200);
    http_response_cleanup(&resp);
    http_client_free(c);
    test_http_stop(srv);
    ck_assert_int_eq(s.requests, 1);
    ck_assert_int_eq(s.injected, 0);
}
END_TEST

/* --- http_perform over plain HTTP and TLS -------------------------------- */

/* One request; the result, with the answer in `resp`. */
static enum result perform(struct http_client *c, const char *method,
                           const char *url, const struct http_header *headers,
                           size_t header_count, struct http_response *resp,
                           struct error_info *err)
{
    struct http_request req = {.method = method,
                               .url = url,
                               .headers = headers,
                               .header_count = header_count,
                               .body =
                                   strcmp(method, "POST") == 0 ? "{}" : NULL,
                               .body_len = strcmp(method, "POST") == 0 ? 2 : 0,
                               .timeout_ms = 5000};
    error_clear(err);
    return http_perform(c, &req, resp, err);
}

/* What the server saw of the last request. */
struct last {
    pthread_mutex_t lock;
    char target[256];
    char host[128];
    int hosts;        /* Host headers in it */
    int delay_ms;     /* answer this late */
    size_t body_size; /* answer with this many bytes ("x"...) */
};

static void remember(void *ctx, const struct test_http_request *req,
                     struct test_http_reply *reply)
{
    struct last *l = ctx;
    pthread_mutex_lock(&l->lock);
    snprintf(l->target, sizeof(l->target), "%s", req->target);
    l->hosts = 0;
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, "Host") == 0) {
            snprintf(l->host, sizeof(l->host), "%s", req->headers[i].value);
            l->hosts++;
        }
    reply->delay_ms = l->delay_ms;
    size_t n = l->body_size ? l->body_size : 5;
    pthread_mutex_unlock(&l->lock);
    char *body = malloc(n + 1);
    memset(body, 'x', n);
    body[n] = '\0';
    reply->body = body;
    reply->body_len = n;
    snprintf(reply->headers, sizeof(reply->headers), "X-Mixed-Case: v \r\n");
}

/* The path and query go as origin-form, a fragment never; Host names the
 * port; one connection carries every request. */
START_TEST(plain_origin_form_and_host)
{
    struct last l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct test_http *srv = test_http_start(remember, &l);
    ck_assert_ptr_nonnull(srv);
    struct http_client *c = http_client_new();
    struct http_response resp;
    http_response_init(&resp, 1024);
    struct error_info err;
    const struct {
        const char *suffix, *target;
    } rows[] = {
        {"", "/"},
        {"/", "/"},
        {"/a/b?x=1&y=%2F#frag", "/a/b?x=1&y=%2F"},
        {"?q=2", "/?q=2"},
    };
    char url[160], host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%d", test_http_port(srv));
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(url, sizeof(url), "%s%s", test_http_url(srv), rows[i].suffix);
        ck_assert_int_eq(
            perform(c, i % 2 ? "POST" : "GET", url, NULL, 0, &resp, &err),
            RESULT_OK);
        ck_assert_int_eq(resp.status, 200);
        ck_assert_str_eq(buf_str(&resp.body), "xxxxx");
        /* Names lower-cased, values trimmed. */
        ck_assert_str_eq(http_response_header(&resp, "x-mixed-case"), "v");
        ck_assert_str_eq(resp.headers[0].name, "content-length");
        ck_assert_str_eq(l.target, rows[i].target);
        ck_assert_str_eq(l.host, host);
        ck_assert_int_eq(l.hosts, 1);
    }
    /* A Host of the caller's (SigV4 signs the one it sends) replaces ours. */
    struct http_header own[] = {{"Host", "dynamodb.test"}};
    ck_assert_int_eq(perform(c, "GET", url, own, 1, &resp, &err), RESULT_OK);
    ck_assert_str_eq(l.host, "dynamodb.test");
    ck_assert_int_eq(l.hosts, 1);
    /* HEAD: the Content-Length is the GET's, no body follows, and the
     * connection carries on. */
    ck_assert_int_eq(perform(c, "HEAD", url, NULL, 0, &resp, &err), RESULT_OK);
    ck_assert_str_eq(http_response_header(&resp, "content-length"), "5");
    ck_assert_int_eq((int)resp.body.len, 0);
    ck_assert_int_eq(perform(c, "GET", url, NULL, 0, &resp, &err), RESULT_OK);
    ck_assert_str_eq(buf_str(&resp.body), "xxxxx");
    ck_assert_int_eq(test_http_connection_count(srv), 1);
    http_response_cleanup(&resp);
    http_client_free(c);
    test_http_stop(srv);
}
END_TEST

/* A URL this client cannot use is refused before anything is sent. */
START_TEST(bad_urls_are_refused)
{
    struct last l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct test_http *srv = test_http_start(remember, &l);
    ck_assert_ptr_nonnull(srv);
    int port = test_http_port(srv);
    struct http_client *c = http_client_new();
    struct http_response resp;
    http_response_init(&resp, 1024);
    struct error_info err;
    const char *forms[] = {
        "ftp://127.0.0.1:%d/",
        "127.0.0.1:%d/",
        "http://:%d/",
        "http://127.0.0.1:%dx/",
        "http://127.0.0.1:%d0000/",
        "http://user@127.0.0.1:%d/",
        "http://[::1:%d/",
        "http://[::1]x%d/",
        "http://127.0.0.1:/%d",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char url[96];
        snprintf(url, sizeof(url), forms[i], port);
        ck_assert_msg(perform(c, "GET", url, NULL, 0, &resp, &err) ==
                          RESULT_INVALID_INPUT,
                      "%s", url);
        ck_assert_str_eq(err.type, "HttpInvalidRequest");
    }
    ck_assert_int_eq(test_http_connection_count(srv), 0);
    http_response_cleanup(&resp);
    http_client_free(c);
    test_http_stop(srv);
}
END_TEST

/* Two origins in turn (DynamoDB and the management API): both stay
 * connected; a body over the cap and a timeout fail alone, and the
 * client goes on. */
START_TEST(origins_kept_apart_and_failures_recover)
{
    struct last l1 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct last l2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct test_http *a = test_http_start(remember, &l1);
    struct test_http *b = test_http_start(remember, &l2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    struct http_client *c = http_client_new();
    struct http_response resp;
    http_response_init(&resp, 64);
    struct error_info err;
    for (int i = 0; i < 6; i++) {
        const char *url = test_http_url(i % 2 ? b : a);
        ck_assert_int_eq(perform(c, "POST", url, NULL, 0, &resp, &err),
                         RESULT_OK);
    }
    ck_assert_int_eq(test_http_connection_count(a), 1);
    ck_assert_int_eq(test_http_connection_count(b), 1);
    l1.body_size = 65;
    ck_assert_int_eq(perform(c, "GET", test_http_url(a), NULL, 0, &resp, &err),
                     RESULT_TOO_LARGE);
    l1.body_size = 0;
    l2.delay_ms = 800;
    struct http_request slow = {
        .method = "GET", .url = test_http_url(b), .timeout_ms = 200};
    error_clear(&err);
    ck_assert_int_eq(http_perform(c, &slow, &resp, &err), RESULT_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(err.message, test_http_url(b)));
    l2.delay_ms = 0;
    ck_assert_int_eq(perform(c, "GET", test_http_url(a), NULL, 0, &resp, &err),
                     RESULT_OK);
    ck_assert_int_eq(perform(c, "GET", test_http_url(b), NULL, 0, &resp, &err),
                     RESULT_OK);
    ck_assert_str_eq(buf_str(&resp.body), "xxxxx");
    http_response_cleanup(&resp);
    http_client_free(c);
    test_http_stop(a);
    test_http_stop(b);
}
END_TEST

/* Over TLS, requests share one connection; a server that drops idle
 * connections costs a new one each time, never a failed request, and
 * the new one resumes the session (an abbreviated handshake). */
START_TEST(tls_keep_alive_and_reconnect)
{
    const int per_conn[] = {0, 1};
    for (size_t k = 0; k < 2; k++) {
        struct test_tls *tls = test_tls_start(per_conn[k], "{\"ok\":1}");
        ck_assert_ptr_nonnull(tls);
        test_tls_trust(test_tls_ca_file(tls), NULL);
        struct http_client *c = http_client_new();
        struct http_response resp;
        http_response_init(&resp, 1024);
        struct error_info err;
        char url[64];
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/", test_tls_port(tls));
        for (int i = 0; i < 5; i++) {
            ck_assert_msg(perform(c, i % 2 ? "GET" : "POST", url, NULL, 0,
                                  &resp, &err) == RESULT_OK,
                          "request %d: %s", i, err.message);
            ck_assert_int_eq(resp.status, 200);
            ck_assert_str_eq(buf_str(&resp.body), "{\"ok\":1}");
        }
        ck_assert_int_eq(test_tls_requests(tls), 5);
        ck_assert_int_eq(test_tls_connections(tls), (per_conn[k] ? 5 : 1));
        /* Each new connection resumed the session of the one before. */
        ck_assert_int_eq(test_tls_resumed(tls), (per_conn[k] ? 4 : 0));
        http_response_cleanup(&resp);
        http_client_free(c);
        test_tls_stop(tls);
    }
    test_tls_trust(NULL, NULL);
}
END_TEST

/* The certificate must be for the host asked for (it is for IP
 * 127.0.0.1, not "localhost"), and from a CA in the trust store. */
START_TEST(tls_refuses_a_wrong_name_or_an_unknown_ca)
{
    struct test_tls *tls = test_tls_start(0, "{}");
    ck_assert_ptr_nonnull(tls);
    char url[64];
    struct http_response resp;
    http_response_init(&resp, 1024);
    struct error_info err;

    test_tls_trust(test_tls_ca_file(tls), NULL);
    struct http_client *c = http_client_new();
    snprintf(url, sizeof(url), "https://localhost:%d/", test_tls_port(tls));
    ck_assert_int_eq(perform(c, "GET", url, NULL, 0, &resp, &err),
                     RESULT_TRANSPORT);
    ck_assert_msg(strstr(err.message, "hostname mismatch"), "%s", err.message);
    ck_assert_int_eq(resp.status, 0);
    http_client_free(c);

    char empty[] = "/tmp/streamer-no-ca-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(empty));
    test_tls_trust(NULL, empty);
    c = http_client_new();
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", test_tls_port(tls));
    ck_assert_int_eq(perform(c, "GET", url, NULL, 0, &resp, &err),
                     RESULT_TRANSPORT);
    ck_assert_msg(strstr(err.message, "certificate"), "%s", err.message);
    http_client_free(c);
    rmdir(empty);

    ck_assert_int_eq(test_tls_requests(tls), 0);
    test_tls_trust(test_tls_ca_file(tls), NULL);
    c = http_client_new();
    ck_assert_int_eq(perform(c, "GET", url, NULL, 0, &resp, &err), RESULT_OK);
    ck_assert_int_eq(test_tls_requests(tls), 1);
    http_client_free(c);
    http_response_cleanup(&resp);
    test_tls_stop(tls);
    test_tls_trust(NULL, NULL);
}
END_TEST

/* A plain HTTP server that answers whatever comes (a ClientHello too)
 * with a 400, once. */
static void *answer_400(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
        char in[4096];
        if (recv(fd, in, sizeof(in), 0) > 0) {
            const char out[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Length: 0\r\n\r\n";
            if (send(fd, out, sizeof(out) - 1, MSG_NOSIGNAL) < 0)
                perror("answer_400");
        }
        close(fd);
    }
    return NULL;
}

/* TLS to a plain HTTP server fails with OpenSSL's packed code and, for
 * this common case, its words; OpenSSL's own table of strings is never
 * loaded (runtime/openssl_setup.h: 1M instructions, 60 KB of heap). */
START_TEST(tls_failure_gives_the_code_without_the_string_table)
{
    int port;
    int lfd = net_listen(1, &port);
    ck_assert_int_ge(lfd, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, answer_400, &lfd), 0);
    struct http_client *c = http_client_new();
    struct http_response resp;
    http_response_init(&resp, 1024);
    struct error_info err;
    char url[96];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
    ck_assert_int_eq(perform(c, "GET", url, NULL, 0, &resp, &err),
                     RESULT_TRANSPORT);
    ck_assert_msg(strstr(err.message, "error:0A00010B (wrong version number)"),
                  "%s", err.message);
    unsigned long code = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER);
    ck_assert_ptr_null(ERR_reason_error_string(code));
    pthread_join(th, NULL);
    close(lfd);
    http_response_cleanup(&resp);
    http_client_free(c);
}
END_TEST

Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *t = tcase_create("headers");
    tcase_add_loop_test(t, value_table, 0,
                        (int)(sizeof(values) / sizeof(values[0])));
    tcase_add_test(t, clean_truncates_and_takes_null);
    tcase_add_loop_test(t, name_table, 0,
                        (int)(sizeof(names) / sizeof(names[0])));
    tcase_add_test(t, perform_refuses_crlf_in_a_header);
    suite_add_tcase(s, t);
    t = tcase_create("perform");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, plain_origin_form_and_host);
    tcase_add_test(t, bad_urls_are_refused);
    tcase_add_test(t, origins_kept_apart_and_failures_recover);
    tcase_add_test(t, tls_keep_alive_and_reconnect);
    tcase_add_test(t, tls_failure_gives_the_code_without_the_string_table);
    tcase_add_test(t, tls_refuses_a_wrong_name_or_an_unknown_ca);
    suite_add_tcase(s, t);
    return s;
}

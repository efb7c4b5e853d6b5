/* Tests of runtime/http.c's header checks: no CR or LF on the wire. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "test_http.h"

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
    return s;
}

/* Tests of the Runtime API client and loop, driven by a fake Runtime API. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fake_rapi.h"
#include "loop.h"
#include "net_util.h"
#include "runtime_api.h"
#include "xmalloc.h"

/* What the test handler saw and what it should do. */
struct probe {
    struct invocation seen; /* copy of the last invocation's headers */
    char trace_env[512];
    int trace_env_set;
    int calls;
    size_t answer_bytes;  /* answer this many 'x' in a JSON string */
    int fail_every_other; /* odd calls fail */
};

static enum result echo_handler(void *ctx, const struct invocation *inv,
                                struct buf *out, struct error_info *err)
{
    struct probe *p = ctx;
    p->calls++;
    free(p->seen.client_context);
    free(p->seen.cognito_identity);
    p->seen = *inv;
    p->seen.client_context =
        inv->client_context ? xstrdup(inv->client_context) : NULL;
    p->seen.cognito_identity =
        inv->cognito_identity ? xstrdup(inv->cognito_identity) : NULL;
    memset(&p->seen.event, 0, sizeof(p->seen.event));
    const char *t = getenv("_X_AMZN_TRACE_ID");
    p->trace_env_set = t != NULL;
    snprintf(p->trace_env, sizeof(p->trace_env), "%s", t ? t : "");
    if (p->fail_every_other && p->calls % 2 == 1)
        return error_set(err, RESULT_INVALID_INPUT, "Custom.Bad",
                         "call %d failed", p->calls);
    if (p->answer_bytes) {
        if (buf_appends(out, "\"") != RESULT_OK)
            return RESULT_INTERNAL;
        for (size_t i = 0; i + 2 < p->answer_bytes; i++)
            if (buf_append(out, "x", 1) != RESULT_OK)
                return RESULT_INTERNAL;
        return buf_appends(out, "\"");
    }
    return buf_append(out, inv->event.data, inv->event.len);
}

static void probe_cleanup(struct probe *p)
{
    free(p->seen.client_context);
    free(p->seen.cognito_identity);
}

static int run_loop(struct fake_rapi *f, struct probe *p, long max)
{
    struct error_info err;
    struct runtime_api *api = runtime_api_new(fake_rapi_address(f), &err);
    ck_assert_ptr_nonnull(api);
    struct loop_options o = {max, 3, 5};
    int status = loop_run(api, echo_handler, p, &o);
    runtime_api_free(api);
    return status;
}

START_TEST(headers_are_parsed)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    struct fake_rapi_event ev = {
        .body = "{\"a\":1}",
        .request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        .deadline_ms = 1542409706888,
        .function_arn = "arn:aws:lambda:us-east-2:123456789012:function:f",
        .trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent="
                    "9a9197af755a6419;Sampled=1",
        .client_context = "{\"client\":{}}",
        .cognito_identity = "{\"cognitoIdentityId\":\"x\"}",
    };
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &p, 1), 0);
    ck_assert_str_eq(p.seen.request_id, ev.request_id);
    ck_assert_int_eq(p.seen.deadline_ms, 1542409706888);
    ck_assert_str_eq(p.seen.function_arn, ev.function_arn);
    ck_assert_str_eq(p.seen.trace_id, ev.trace_id);
    ck_assert_str_eq(p.seen.client_context, ev.client_context);
    ck_assert_str_eq(p.seen.cognito_identity, ev.cognito_identity);
    ck_assert_int_eq(p.trace_env_set, 1);
    ck_assert_str_eq(p.trace_env, ev.trace_id);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(trace_env_unset_when_absent)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    struct fake_rapi_event with = {.body = "{}", .trace_id = "Root=1-a"};
    struct fake_rapi_event without = {.body = "{}"};
    fake_rapi_push(f, &with);
    fake_rapi_push(f, &without);
    ck_assert_int_eq(run_loop(f, &p, 2), 0);
    ck_assert_int_eq(p.calls, 2);
    ck_assert_int_eq(p.trace_env_set, 0);
    ck_assert_str_eq(p.seen.trace_id, "");
    ck_assert_ptr_null(p.seen.client_context);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(response_is_posted_exactly)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    struct fake_rapi_event ev = {.body = "{\"hello\":\"w\\u00f6rld\"}",
                                 .request_id = "abc-123"};
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &p, 1), 0);
    ck_assert_uint_eq(fake_rapi_post_count(f), 1);
    const struct fake_rapi_post *post = fake_rapi_post_at(f, 0);
    ck_assert_str_eq(post->kind, "response");
    ck_assert_str_eq(post->request_id, "abc-123");
    ck_assert_str_eq(post->body, ev.body);
    ck_assert_ptr_null(post->error_type);
    ck_assert_int_eq(post->status, 202);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

/* An error type from outside (an AWS error's __type) with CR LF in it
 * cannot inject a header: it is sent with the controls as spaces, for
 * an invocation error and an init error alike. */
START_TEST(error_type_cannot_inject_a_header)
{
    struct fake_rapi *f = fake_rapi_start();
    struct error_info err;
    error_clear(&err);
    struct fake_rapi_event ev = {.body = "{}", .request_id = "req-1"};
    fake_rapi_push(f, &ev);
    struct runtime_api *api = runtime_api_new(fake_rapi_address(f), &err);
    ck_assert_ptr_nonnull(api);
    struct invocation inv;
    invocation_init(&inv);
    ck_assert_int_eq(runtime_api_next(api, &inv, &err), RESULT_OK);
    invocation_cleanup(&inv);
    const char *type = "Dynamo\r\nX-Injected: 1";
    ck_assert_int_eq(runtime_api_fail(api, "req-1", type, "m", &err),
                     RESULT_OK);
    ck_assert_int_eq(runtime_api_init_error(api, type, "m", &err), RESULT_OK);
    ck_assert_int_eq(runtime_api_init_error(api, "\r\n", "m", &err), RESULT_OK);
    runtime_api_free(api);
    ck_assert_uint_eq(fake_rapi_post_count(f), 3);
    ck_assert_str_eq(fake_rapi_post_at(f, 2)->error_type,
                     "Runtime.HandlerError");
    const char *kinds[] = {"error", "init_error"};
    for (size_t i = 0; i < 2; i++) {
        const struct fake_rapi_post *post = fake_rapi_post_at(f, i);
        ck_assert_str_eq(post->kind, kinds[i]);
        ck_assert_str_eq(post->error_type, "Dynamo  X-Injected: 1");
        cJSON *body = cJSON_Parse(post->body);
        ck_assert_ptr_nonnull(body);
        ck_assert_str_eq(cJSON_GetObjectItem(body, "errorType")->valuestring,
                         "Dynamo  X-Injected: 1");
        cJSON_Delete(body);
    }
    fake_rapi_stop(f);
}
END_TEST

START_TEST(handler_error_is_posted_and_loop_goes_on)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {.fail_every_other = 1};
    for (int i = 0; i < 4; i++) {
        struct fake_rapi_event ev = {.body = "{\"n\":1}"};
        fake_rapi_push(f, &ev);
    }
    ck_assert_int_eq(run_loop(f, &p, 4), 0);
    ck_assert_uint_eq(fake_rapi_post_count(f), 4);
    const struct fake_rapi_post *e = fake_rapi_post_at(f, 0);
    ck_assert_str_eq(e->kind, "error");
    ck_assert_str_eq(e->error_type, "Custom.Bad");
    ck_assert_str_eq(e->content_type, "application/json");
    ck_assert_str_eq(e->body,
                     "{\"errorMessage\":\"call 1 failed\","
                     "\"errorType\":\"Custom.Bad\",\"stackTrace\":[]}");
    ck_assert_str_eq(fake_rapi_post_at(f, 1)->kind, "response");
    ck_assert_str_eq(fake_rapi_post_at(f, 2)->kind, "error");
    ck_assert_str_eq(fake_rapi_post_at(f, 3)->kind, "response");
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

/* A handler's error type goes into a header: CR/LF never reach the wire
 * (they become spaces), and an empty one becomes Runtime.HandlerError. */
static enum result crlf_handler(void *ctx, const struct invocation *inv,
                                struct buf *out, struct error_info *err)
{
    (void)ctx;
    (void)inv;
    (void)out;
    return error_set(err, RESULT_INVALID_INPUT, "Bad\r\nX-Evil: 1", "split me");
}

START_TEST(error_type_with_crlf_is_replaced)
{
    struct fake_rapi *f = fake_rapi_start();
    struct fake_rapi_event ev = {.body = "{}"};
    fake_rapi_push(f, &ev);
    struct error_info err;
    struct runtime_api *api = runtime_api_new(fake_rapi_address(f), &err);
    struct loop_options o = {1, 3, 5};
    ck_assert_int_eq(loop_run(api, crlf_handler, NULL, &o), 0);
    runtime_api_free(api);
    ck_assert_uint_eq(fake_rapi_post_count(f), 1);
    const struct fake_rapi_post *e = fake_rapi_post_at(f, 0);
    ck_assert_str_eq(e->kind, "error");
    ck_assert_str_eq(e->error_type, "Bad  X-Evil: 1");
    ck_assert_ptr_null(strpbrk(e->body, "\r\n"));
    ck_assert_ptr_nonnull(strstr(e->body, "split me"));
    fake_rapi_stop(f);
}
END_TEST

START_TEST(http_500_exits_at_once)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    fake_rapi_fault_next(f, FAKE_RAPI_500, 1);
    struct fake_rapi_event ev = {.body = "{}"};
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &p, 0), 1);
    ck_assert_int_eq(fake_rapi_next_count(f), 1); /* no retry */
    ck_assert_int_eq(p.calls, 0);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(broken_connection_is_retried_then_recovers)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    fake_rapi_fault_next(f, FAKE_RAPI_CLOSE, 2);
    struct fake_rapi_event ev = {.body = "{}"};
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &p, 1), 0);
    ck_assert_int_eq(fake_rapi_next_count(f), 3);
    ck_assert_int_eq(p.calls, 1);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(broken_connection_gives_up)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    fake_rapi_fault_next(f, FAKE_RAPI_CLOSE, 100);
    ck_assert_int_eq(run_loop(f, &p, 0), 1);
    ck_assert_int_eq(fake_rapi_next_count(f), 3); /* the attempts option */
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(refused_connection_gives_up)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", net_free_port());
    struct error_info err;
    struct runtime_api *api = runtime_api_new(addr, &err);
    ck_assert_ptr_nonnull(api);
    struct probe p = {0};
    struct loop_options o = {0, 2, 1};
    ck_assert_int_eq(loop_run(api, echo_handler, &p, &o), 1);
    ck_assert_int_eq(p.calls, 0);
    runtime_api_free(api);
}
END_TEST

START_TEST(garbage_answers_end_the_loop)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    fake_rapi_fault_next(f, FAKE_RAPI_GARBAGE, 100);
    ck_assert_int_eq(run_loop(f, &p, 0), 1);
    ck_assert_int_eq(fake_rapi_next_count(f), 5);
    ck_assert_int_eq(p.calls, 0);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

/* Lambda's limit is 6291556 bytes: that size goes, one more does not. */
START_TEST(oversize_result_is_reported)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {.answer_bytes = RUNTIME_API_MAX_RESPONSE_BYTES};
    struct fake_rapi_event ev = {.body = "{}"};
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &p, 1), 0);
    const struct fake_rapi_post *ok = fake_rapi_post_at(f, 0);
    ck_assert_str_eq(ok->kind, "response");
    ck_assert_uint_eq(ok->body_len, RUNTIME_API_MAX_RESPONSE_BYTES);
    probe_cleanup(&p);
    fake_rapi_stop(f);

    f = fake_rapi_start();
    struct probe q = {.answer_bytes = RUNTIME_API_MAX_RESPONSE_BYTES + 1};
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &q, 1), 0);
    const struct fake_rapi_post *e = fake_rapi_post_at(f, 0);
    ck_assert_str_eq(e->kind, "error");
    ck_assert_str_eq(e->error_type, "Function.ResponseSizeTooLarge");
    cJSON *body = cJSON_Parse(e->body);
    ck_assert_str_eq(cJSON_GetObjectItem(body, "errorType")->valuestring,
                     "Function.ResponseSizeTooLarge");
    cJSON_Delete(body);
    probe_cleanup(&q);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(deadline_arithmetic)
{
    struct invocation inv;
    invocation_init(&inv);
    inv.deadline_ms = 1700000003000;
    ck_assert_int_eq(invocation_remaining_ms(&inv, 1700000000000), 3000);
    ck_assert_int_eq(invocation_remaining_ms(&inv, 1700000002999), 1);
    ck_assert_int_eq(invocation_remaining_ms(&inv, 1700000003000), 0);
    ck_assert_int_eq(invocation_remaining_ms(&inv, 1700000009000), 0);
    invocation_cleanup(&inv);
}
END_TEST

START_TEST(deadline_from_header_counts_down)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    int64_t now = clock_now_ms();
    struct fake_rapi_event ev = {.body = "{}", .deadline_ms = now + 5000};
    fake_rapi_push(f, &ev);
    ck_assert_int_eq(run_loop(f, &p, 1), 0);
    int64_t left = invocation_remaining_ms(&p.seen, clock_now_ms());
    ck_assert_int_gt(left, 0);
    ck_assert_int_le(left, 5000);
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(address_forms)
{
    static const struct {
        const char *address;
        int ok;
    } rows[] = {
        {"127.0.0.1:9001", 1},  {"http://127.0.0.1:9001", 1},
        {"localhost:80/", 1},   {"", 0},
        {"127.0.0.1", 0},       {"127.0.0.1:0", 0},
        {"127.0.0.1:70000", 0}, {":9001", 0},
        {"host:9001/path", 0},  {"127.0.0.1:90x", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct error_info err;
        error_clear(&err);
        struct runtime_api *api = runtime_api_new(rows[i].address, &err);
        ck_assert_msg((api != NULL) == rows[i].ok, "address '%s'",
                      rows[i].address);
        if (!api)
            ck_assert_msg(strstr(err.message, "AWS_LAMBDA_RUNTIME_API"),
                          "message names the setting: %s", err.message);
        runtime_api_free(api);
    }
}
END_TEST

/* 1,000 events through one process; the sanitizer build's LeakSanitizer
 * fails this test if any invocation leaks. */
START_TEST(thousand_invocations)
{
    struct fake_rapi *f = fake_rapi_start();
    struct probe p = {0};
    for (int i = 0; i < 1000; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"i\":%d}", i);
        struct fake_rapi_event ev = {
            .body = body, .trace_id = "Root=1-x", .client_context = "{}"};
        fake_rapi_push(f, &ev);
    }
    ck_assert_int_eq(run_loop(f, &p, 1000), 0);
    ck_assert_int_eq(p.calls, 1000);
    ck_assert_uint_eq(fake_rapi_post_count(f), 1000);
    for (size_t i = 0; i < 1000; i++) {
        const struct fake_rapi_post *post = fake_rapi_post_at(f, i);
        char want[64];
        snprintf(want, sizeof(want), "{\"i\":%zu}", i);
        ck_assert_str_eq(post->kind, "response");
        ck_assert_str_eq(post->body, want);
    }
    probe_cleanup(&p);
    fake_rapi_stop(f);
}
END_TEST

Suite *runtime_api_suite(void)
{
    Suite *s = suite_create("runtime_api");
    TCase *t = tcase_create("loop");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, headers_are_parsed);
    tcase_add_test(t, trace_env_unset_when_absent);
    tcase_add_test(t, response_is_posted_exactly);
    tcase_add_test(t, error_type_cannot_inject_a_header);
    tcase_add_test(t, handler_error_is_posted_and_loop_goes_on);
    tcase_add_test(t, error_type_with_crlf_is_replaced);
    tcase_add_test(t, http_500_exits_at_once);
    tcase_add_test(t, broken_connection_is_retried_then_recovers);
    tcase_add_test(t, broken_connection_gives_up);
    tcase_add_test(t, refused_connection_gives_up);
    tcase_add_test(t, garbage_answers_end_the_loop);
    tcase_add_test(t, oversize_result_is_reported);
    tcase_add_test(t, deadline_arithmetic);
    tcase_add_test(t, deadline_from_header_counts_down);
    tcase_add_test(t, address_forms);
    tcase_add_test(t, thousand_invocations);
    suite_add_tcase(s, t);
    return s;
}

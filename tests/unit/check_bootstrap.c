/* Tests of the bootstrap binary itself against a fake Runtime API. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_rapi.h"
#include "proc.h"

#define MAX_ENV 32

static const char *bootstrap_path(void)
{
    const char *p = getenv("STREAMER_BOOTSTRAP");
    return p && *p ? p : "build/release/bootstrap";
}

/* A minimal valid environment plus `extra` ("NAME=value", or "NAME=" to
 * drop NAME). Strings are static or owned by the caller. */
struct env {
    char *vars[MAX_ENV];
    char store[MAX_ENV][512];
    int n;
};

static void env_set(struct env *e, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    size_t name_len = (size_t)(eq - assignment);
    for (int i = 0; i < e->n; i++)
        if (strncmp(e->vars[i], assignment, name_len + 1) == 0) {
            for (int j = i; j < e->n - 1; j++) {
                memcpy(e->store[j], e->store[j + 1], sizeof(e->store[j]));
                e->vars[j] = e->store[j];
            }
            e->n--;
            break;
        }
    if (eq[1] == '\0')
        return;
    snprintf(e->store[e->n], sizeof(e->store[e->n]), "%s", assignment);
    e->vars[e->n] = e->store[e->n];
    e->n++;
    e->vars[e->n] = NULL;
}

static void env_base(struct env *e, const struct fake_rapi *f)
{
    memset(e, 0, sizeof(*e));
    char api[64];
    snprintf(api, sizeof(api), "AWS_LAMBDA_RUNTIME_API=%s",
             fake_rapi_address(f));
    env_set(e, api);
    env_set(e, "AWS_REGION=us-east-1");
    env_set(e, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE");
    env_set(e, "AWS_SECRET_ACCESS_KEY=secret");
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan) {
        char a[400];
        snprintf(a, sizeof(a), "ASAN_OPTIONS=%s", asan);
        env_set(e, a);
    }
}

/* Runs the bootstrap to its end; returns its exit status. */
static int run_bootstrap(struct env *e, const char *out_path)
{
    char *argv[] = {(char *)bootstrap_path(), NULL};
    pid_t pid = proc_spawn(argv, e->vars, out_path);
    ck_assert_int_gt(pid, 0);
    return proc_wait(pid, 20000);
}

static const struct {
    const char *assignment;
    const char *named; /* the setting the message must name */
} bad_settings[] = {
    {"STALE_AFTER_SECONDS=soon", "STALE_AFTER_SECONDS"},
    {"STALE_AFTER_SECONDS=-5", "STALE_AFTER_SECONDS"},
    {"CONNECTIONS_TABLE=a", "CONNECTIONS_TABLE"},
    {"REQUESTS_TABLE=bad name!", "REQUESTS_TABLE"},
    {"SUBSCRIPTIONS_TABLE=x/y", "SUBSCRIPTIONS_TABLE"},
    {"AWS_REGION=", "AWS_REGION"},
    {"AWS_LAMBDA_LOG_LEVEL=LOUD", "AWS_LAMBDA_LOG_LEVEL"},
    {"AWS_LAMBDA_LOG_FORMAT=xml", "AWS_LAMBDA_LOG_FORMAT"},
    {"METRICS_NAMESPACE=:bad", "METRICS_NAMESPACE"},
    {"ALLOWED_TENANTS=a,,b", "ALLOWED_TENANTS"},
    {"JWT_PUBLIC_KEY=not a key", "JWT_PUBLIC_KEY"},
    {"WEBSOCKET_ENDPOINT=ftp://x", "WEBSOCKET_ENDPOINT"},
};

START_TEST(bad_setting_is_an_init_error)
{
    struct fake_rapi *f = fake_rapi_start();
    struct env e;
    env_base(&e, f);
    env_set(&e, bad_settings[_i].assignment);
    int status = run_bootstrap(&e, "/dev/null");
    ck_assert_int_eq(status, 1);
    ck_assert_uint_eq(fake_rapi_post_count(f), 1);
    ck_assert_int_eq(fake_rapi_next_count(f), 0);
    const struct fake_rapi_post *p = fake_rapi_post_at(f, 0);
    ck_assert_str_eq(p->kind, "init_error");
    ck_assert_str_eq(p->error_type, "Runtime.InitError");
    cJSON *body = cJSON_Parse(p->body);
    ck_assert_ptr_nonnull(body);
    const char *msg = cJSON_GetObjectItem(body, "errorMessage")->valuestring;
    ck_assert_msg(strstr(msg, bad_settings[_i].named), "'%s' does not name %s",
                  msg, bad_settings[_i].named);
    ck_assert_str_eq(cJSON_GetObjectItem(body, "errorType")->valuestring,
                     "Runtime.InitError");
    ck_assert(cJSON_IsArray(cJSON_GetObjectItem(body, "stackTrace")));
    cJSON_Delete(body);
    fake_rapi_stop(f);
}
END_TEST

START_TEST(missing_runtime_api_exits)
{
    char *argv[] = {(char *)bootstrap_path(), NULL};
    char region[] = "AWS_REGION=us-east-1";
    char *envp[] = {region, NULL};
    char out[] = "/tmp/streamer-test-XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pid_t pid = proc_spawn(argv, envp, out);
    ck_assert_int_eq(proc_wait(pid, 10000), 1);
    char *text = proc_read_file(out);
    unlink(out);
    ck_assert_ptr_nonnull(strstr(text, "AWS_LAMBDA_RUNTIME_API"));
    free(text);
}
END_TEST

/* Events of no known shape, or not JSON at all, are errors of type
 * Runtime.UnknownEvent; the process serves the next event, then exits
 * when the Runtime API answers 500. */
START_TEST(unknown_events_through_the_binary)
{
    struct fake_rapi *f = fake_rapi_start();
    const char *bodies[] = {"{\"hello\":1}", "not json", "[1,2]",
                            "{\"Records\":[]}",
                            "{\"requestContext\":{\"eventType\":\"CONNECT\"}}"};
    for (size_t i = 0; i < 5; i++) {
        struct fake_rapi_event ev = {.body = bodies[i]};
        fake_rapi_push(f, &ev);
    }
    struct env e;
    env_base(&e, f);
    ck_assert_int_eq(run_bootstrap(&e, "/dev/null"), 1);
    ck_assert_uint_eq(fake_rapi_post_count(f), 5);
    for (size_t i = 0; i < 5; i++) {
        const struct fake_rapi_post *p = fake_rapi_post_at(f, i);
        ck_assert_str_eq(p->kind, "error");
        ck_assert_str_eq(p->error_type, "Runtime.UnknownEvent");
    }
    fake_rapi_stop(f);
}
END_TEST

/* With AWS_LAMBDA_LOG_FORMAT=JSON every stdout line is one JSON record
 * with timestamp, level, requestId and message. */
START_TEST(json_logs)
{
    struct fake_rapi *f = fake_rapi_start();
    struct fake_rapi_event ev = {.body = "{}", .request_id = "rid-42"};
    fake_rapi_push(f, &ev);
    struct env e;
    env_base(&e, f);
    env_set(&e, "AWS_LAMBDA_LOG_FORMAT=JSON");
    env_set(&e, "AWS_LAMBDA_LOG_LEVEL=debug");
    char out[] = "/tmp/streamer-test-XXXXXX";
    int fd = mkstemp(out);
    close(fd);
    ck_assert_int_eq(run_bootstrap(&e, out), 1);
    char *text = proc_read_file(out);
    unlink(out);
    int records = 0, with_request = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(o != NULL, "not a JSON line: %s", line);
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "timestamp")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "level")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "message")));
        const cJSON *rid = cJSON_GetObjectItem(o, "requestId");
        if (cJSON_IsString(rid) && strcmp(rid->valuestring, "rid-42") == 0)
            with_request++;
        records++;
        cJSON_Delete(o);
    }
    ck_assert_int_ge(records, 2);
    ck_assert_int_ge(with_request, 1);
    free(text);
    fake_rapi_stop(f);
}
END_TEST

Suite *bootstrap_suite(void)
{
    Suite *s = suite_create("bootstrap");
    TCase *t = tcase_create("binary");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, bad_setting_is_an_init_error, 0,
                        (int)(sizeof(bad_settings) / sizeof(bad_settings[0])));
    tcase_add_test(t, missing_runtime_api_exits);
    tcase_add_test(t, unknown_events_through_the_binary);
    tcase_add_test(t, json_logs);
    suite_add_tcase(s, t);
    return s;
}

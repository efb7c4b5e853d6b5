/* Tests of configuration loading and validation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* An injected environment: pairs of name, value, ended by NULL. */
static const char *const *fake_env;

static const char *fake_get(const char *name)
{
    for (const char *const *p = fake_env; p && *p; p += 2)
        if (strcmp(p[0], name) == 0)
            return p[1];
    return NULL;
}

START_TEST(defaults)
{
    static const char *const env[] = {"AWS_REGION", "eu-west-1", NULL};
    fake_env = env;
    struct config c;
    struct error_info err;
    ck_assert_int_eq(config_load(&c, fake_get, &err), RESULT_OK);
    ck_assert_str_eq(c.connections_table, "streamer_connections");
    ck_assert_str_eq(c.requests_table, "streamer_requests");
    ck_assert_str_eq(c.subscriptions_table, "streamer_subscriptions");
    ck_assert_str_eq(c.metrics_namespace, "Streamer");
    ck_assert_int_eq(c.stale_after_seconds, 7200);
    ck_assert_int_eq(c.max_inflight_per_user, 20);
    ck_assert_str_eq(c.region, "eu-west-1");
    ck_assert_ptr_null(c.jwt_public_key);
    ck_assert_ptr_null(c.allowed_tenants);
    ck_assert(config_tenant_allowed(&c, "anyone"));
    config_cleanup(&c);
}
END_TEST

START_TEST(everything_set)
{
    static const char *const env[] = {
        "AWS_DEFAULT_REGION",
        "us-west-2",
        "CONNECTIONS_TABLE",
        "my.conns-1",
        "REQUESTS_TABLE",
        "reqs_2",
        "SUBSCRIPTIONS_TABLE",
        "subs",
        "JWT_PUBLIC_KEY",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "JWT_ISSUER",
        "https://issuer",
        "JWT_AUDIENCE",
        "streamer",
        "ALLOWED_TENANTS",
        " acme , globex,initech ",
        "METRICS_NAMESPACE",
        "Team/Streamer",
        "STALE_AFTER_SECONDS",
        "60",
        "PUSH_CONCURRENCY",
        "8",
        "MAX_INFLIGHT_PER_USER",
        "5",
        "WEBSOCKET_ENDPOINT",
        "https://abc.execute-api.us-east-1.amazonaws.com/prod",
        "AWS_LAMBDA_FUNCTION_NAME",
        "fn",
        NULL};
    fake_env = env;
    struct config c;
    struct error_info err;
    ck_assert_int_eq(config_load(&c, fake_get, &err), RESULT_OK);
    ck_assert_str_eq(c.region, "us-west-2");
    ck_assert_str_eq(c.connections_table, "my.conns-1");
    ck_assert_uint_eq(c.allowed_tenant_count, 3);
    ck_assert_str_eq(c.allowed_tenants[0], "acme");
    ck_assert_str_eq(c.allowed_tenants[1], "globex");
    ck_assert_str_eq(c.allowed_tenants[2], "initech");
    ck_assert(config_tenant_allowed(&c, "globex"));
    ck_assert(!config_tenant_allowed(&c, "umbrella"));
    ck_assert(!config_tenant_allowed(&c, "acme "));
    ck_assert_int_eq(c.stale_after_seconds, 60);
    ck_assert_int_eq(c.push_concurrency, 8);
    ck_assert_int_eq(c.max_inflight_per_user, 5);
    ck_assert_str_eq(c.jwt_issuer, "https://issuer");
    ck_assert_str_eq(c.function_name, "fn");
    config_cleanup(&c);
}
END_TEST

static const struct {
    const char *name, *value;
} bad[] = {
    {"CONNECTIONS_TABLE", "ab"},
    {"CONNECTIONS_TABLE", "has space"},
    {"REQUESTS_TABLE", "ünï"},
    {"STALE_AFTER_SECONDS", "0"},
    {"STALE_AFTER_SECONDS", "12abc"},
    {"STALE_AFTER_SECONDS", "99999999999999999999"},
    {"PUSH_CONCURRENCY", "0"},
    {"PUSH_CONCURRENCY", "1025"},
    {"PUSH_CONCURRENCY", "8x"},
    {"MAX_INFLIGHT_PER_USER", "0"},
    {"MAX_INFLIGHT_PER_USER", "-3"},
    {"MAX_INFLIGHT_PER_USER", "20x"},
    {"MAX_INFLIGHT_PER_USER", "100001"},
    {"ALLOWED_TENANTS", ","},
    {"ALLOWED_TENANTS", "a,"},
    {"METRICS_NAMESPACE", "bad*chars"},
    {"JWT_PUBLIC_KEY", "MIIBIjAN"},
    {"WEBSOCKET_ENDPOINT", "wss://x"},
};

START_TEST(bad_value_names_the_setting)
{
    const char *env[] = {"AWS_REGION", "us-east-1", bad[_i].name, bad[_i].value,
                         NULL};
    fake_env = env;
    struct config c;
    struct error_info err;
    error_clear(&err);
    ck_assert_int_eq(config_load(&c, fake_get, &err), RESULT_CONFIG);
    ck_assert_str_eq(err.field, bad[_i].name);
    ck_assert_msg(strstr(err.message, bad[_i].name), "message: %s",
                  err.message);
    ck_assert_ptr_null(c.connections_table); /* left empty */
}
END_TEST

START_TEST(region_required)
{
    static const char *const env[] = {NULL};
    fake_env = env;
    struct config c;
    struct error_info err;
    ck_assert_int_eq(config_load(&c, fake_get, &err), RESULT_CONFIG);
    ck_assert_str_eq(err.field, "AWS_REGION");
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *t = tcase_create("load");
    tcase_add_test(t, defaults);
    tcase_add_test(t, everything_set);
    tcase_add_loop_test(t, bad_value_names_the_setting, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(t, region_required);
    suite_add_tcase(s, t);
    return s;
}

/* Tests of the EMF records metrics_count() writes. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

struct call {
    const char *ns, *name, *dim, *dim_value;
    int64_t value;
};

/* Runs metrics_count(c) with the log captured; returns the text (caller
 * frees) and the clock's bounds around the call. */
static char *record(const struct call *c, int64_t *t0, int64_t *t1)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    log_set_stream(fp);
    *t0 = clock_now_ms();
    metrics_count(c->ns, c->name, c->value, c->dim, c->dim_value);
    *t1 = clock_now_ms();
    log_set_stream(NULL);
    fclose(fp);
    return text;
}

/* The record's "Timestamp" (checked between t0 and t1), and `text` with
 * it replaced by "T" in `out`. */
static int64_t cut_timestamp(const char *text, int64_t t0, int64_t t1,
                             char *out, size_t cap)
{
    static const char key[] = "{\"_aws\":{\"Timestamp\":";
    ck_assert_int_eq(strncmp(text, key, strlen(key)), 0);
    char *end = NULL;
    long long ts = strtoll(text + strlen(key), &end, 10);
    ck_assert_int_ge(ts, t0);
    ck_assert_int_le(ts, t1);
    snprintf(out, cap, "%sT%s", key, end);
    return ts;
}

/* The record as the cJSON tree metrics_count() used to build printed it:
 * the oracle for byte-for-byte equality. */
static char *oracle(const struct call *c, int64_t ts)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *aws = cJSON_AddObjectToObject(root, "_aws");
    cJSON_AddItemToObject(aws, "Timestamp", cJSON_CreateNumber((double)ts));
    cJSON *directives = cJSON_AddArrayToObject(aws, "CloudWatchMetrics");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToArray(directives, d);
    if (c->ns)
        cJSON_AddItemToObject(d, "Namespace", cJSON_CreateString(c->ns));
    cJSON *dims = cJSON_AddArrayToObject(d, "Dimensions");
    cJSON *set = cJSON_CreateArray();
    cJSON_AddItemToArray(dims, set);
    if (c->dim)
        cJSON_AddItemToArray(set, cJSON_CreateString(c->dim));
    cJSON *metrics = cJSON_AddArrayToObject(d, "Metrics");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "Name", cJSON_CreateString(c->name));
    cJSON_AddItemToObject(m, "Unit", cJSON_CreateString("Count"));
    cJSON_AddItemToArray(metrics, m);
    cJSON_AddItemToObject(root, c->name, cJSON_CreateNumber((double)c->value));
    if (c->dim)
        cJSON_AddItemToObject(
            root, c->dim, cJSON_CreateString(c->dim_value ? c->dim_value : ""));
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

START_TEST(exact_line)
{
    const struct call c = {"Streamer", "Request\"Queued", "act\\ion",
                           "say \"hi\"\n\t\x01\x1f/\xc3\xa9", 3};
    int64_t t0, t1;
    char *text = record(&c, &t0, &t1);
    char got[512];
    cut_timestamp(text, t0, t1, got, sizeof(got));
    ck_assert_str_eq(
        got, "{\"_aws\":{\"Timestamp\":T,\"CloudWatchMetrics\":[{\"Namespace\":"
             "\"Streamer\",\"Dimensions\":[[\"act\\\\ion\"]],\"Metrics\":[{"
             "\"Name\":\"Request\\\"Queued\",\"Unit\":\"Count\"}]}]},"
             "\"Request\\\"Queued\":3,\"act\\\\ion\":\"say \\\"hi\\\"\\n\\t"
             "\\u0001\\u001f/\xc3\xa9\"}\n");
    free(text);

    const struct call bare = {NULL, "ConnectionEstablished", NULL, NULL, 1};
    text = record(&bare, &t0, &t1);
    cut_timestamp(text, t0, t1, got, sizeof(got));
    ck_assert_str_eq(got, "{\"_aws\":{\"Timestamp\":T,\"CloudWatchMetrics\":[{"
                          "\"Dimensions\":[[]],\"Metrics\":[{\"Name\":"
                          "\"ConnectionEstablished\",\"Unit\":\"Count\"}]}]},"
                          "\"ConnectionEstablished\":1}\n");
    free(text);
}
END_TEST

/* Every control byte, the JSON specials, values around the points where
 * cJSON's number printing changes (int, %1.15g, exponent), all as the
 * cJSON tree printed them. */
START_TEST(same_as_cjson)
{
    static const int64_t values[] = {0,
                                     1,
                                     -1,
                                     9,
                                     10,
                                     2147483647,
                                     2147483648,
                                     -2147483648,
                                     -2147483649,
                                     1796000000123,
                                     999999999999999,
                                     -999999999999999,
                                     1000000000000000,
                                     -1000000000000000,
                                     1234567890123456789,
                                     9007199254740993,
                                     INT64_MAX,
                                     INT64_MIN};
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    const char *strings[] = {"", "a", "\"\\/\b\f\n\r\t", all, "\xff\xfe\x80"};
    size_t nv = sizeof(values) / sizeof(values[0]);
    size_t ns = sizeof(strings) / sizeof(strings[0]);
    for (size_t i = 0; i < nv; i++)
        for (size_t j = 0; j < ns; j++) {
            const struct call c = {j % 2 ? strings[j] : NULL, "M", strings[j],
                                   j == 0 ? NULL : strings[ns - 1 - j],
                                   values[i]};
            int64_t t0, t1;
            char *text = record(&c, &t0, &t1);
            char cut[2048];
            int64_t ts = cut_timestamp(text, t0, t1, cut, sizeof(cut));
            char *want = oracle(&c, ts);
            size_t n = strlen(want);
            ck_assert_uint_eq(strlen(text), n + 1);
            ck_assert_msg(memcmp(text, want, n) == 0 && text[n] == '\n',
                          "value %lld, string %zu:\n%s\n%s",
                          (long long)values[i], j, text, want);
            free(want);
            free(text);
        }
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *t = tcase_create("emf");
    tcase_add_test(t, exact_line);
    tcase_add_test(t, same_as_cjson);
    suite_add_tcase(s, t);
    return s;
}

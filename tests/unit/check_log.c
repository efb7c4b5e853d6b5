/* Tests of the log formats and level filter. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const *fake_env;

static const char *fake_get(const char *name)
{
    for (const char *const *p = fake_env; p && *p; p += 2)
        if (strcmp(p[0], name) == 0)
            return p[1];
    return NULL;
}

/* Runs `fn` with logs captured; returns the text (caller frees). */
static char *capture(void (*fn)(void))
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    log_set_stream(fp);
    fn();
    log_set_stream(NULL);
    fclose(fp);
    return text;
}

static void three_levels(void)
{
    log_set_request_id("r-1");
    log_msg(LOG_DEBUG, "debug %d", 1);
    log_msg(LOG_INFO, "info %s", "two");
    log_kv(LOG_ERROR, "with fields", "code", "E1", "detail", "a b",
           (char *)NULL);
    log_set_request_id(NULL);
    log_msg(LOG_WARN, "after");
}

START_TEST(json_records)
{
    static const char *const env[] = {"AWS_LAMBDA_LOG_FORMAT", "JSON",
                                      "AWS_LAMBDA_LOG_LEVEL", "INFO", NULL};
    fake_env = env;
    struct error_info err;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    char *text = capture(three_levels);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    cJSON *o = cJSON_Parse(line);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "level")->valuestring, "INFO");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "message")->valuestring,
                     "info two");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "requestId")->valuestring, "r-1");
    const char *ts = cJSON_GetObjectItem(o, "timestamp")->valuestring;
    ck_assert_uint_eq(strlen(ts), 24); /* 2026-11-24T10:00:00.123Z */
    ck_assert_int_eq(ts[23], 'Z');
    cJSON_Delete(o);
    o = cJSON_Parse(strtok_r(NULL, "\n", &save));
    ck_assert_str_eq(cJSON_GetObjectItem(o, "code")->valuestring, "E1");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "detail")->valuestring, "a b");
    cJSON_Delete(o);
    o = cJSON_Parse(strtok_r(NULL, "\n", &save));
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "requestId"));
    cJSON_Delete(o);
    ck_assert_ptr_null(strtok_r(NULL, "\n", &save)); /* debug filtered */
    free(text);
}
END_TEST

START_TEST(text_records)
{
    static const char *const env[] = {"AWS_LAMBDA_LOG_LEVEL", "debug", NULL};
    fake_env = env;
    struct error_info err;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    char *text = capture(three_levels);
    ck_assert_ptr_nonnull(strstr(text, "\tr-1\tDEBUG\tdebug 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\tr-1\tERROR\twith fields code=E1 "
                                       "detail=\"a b\"\n"));
    ck_assert_ptr_nonnull(strstr(text, "\t-\tWARN\tafter\n"));
    free(text);
}
END_TEST

START_TEST(levels_filter)
{
    static const char *const env[] = {"AWS_LAMBDA_LOG_LEVEL", "FATAL", NULL};
    fake_env = env;
    struct error_info err;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    ck_assert(!log_enabled(LOG_ERROR));
    ck_assert(log_enabled(LOG_FATAL));
    char *text = capture(three_levels);
    ck_assert_str_eq(text, "");
    free(text);
}
END_TEST

START_TEST(bad_values)
{
    static const char *const e1[] = {"AWS_LAMBDA_LOG_LEVEL", "LOUD", NULL};
    static const char *const e2[] = {"AWS_LAMBDA_LOG_FORMAT", "yaml", NULL};
    struct error_info err;
    fake_env = e1;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "AWS_LAMBDA_LOG_LEVEL"));
    fake_env = e2;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "AWS_LAMBDA_LOG_FORMAT"));
}
END_TEST

/* The record with its 24-character timestamp (checked for shape) put
 * back as "T"; `at` is where the timestamp starts. */
static void cut_ts(char *text, size_t at)
{
    ck_assert_uint_ge(strlen(text), at + 24);
    ck_assert_int_eq(text[at + 4], '-');
    ck_assert_int_eq(text[at + 10], 'T');
    ck_assert_int_eq(text[at + 23], 'Z');
    text[at] = 'T';
    memmove(text + at + 1, text + at + 24, strlen(text + at + 24) + 1);
}

static void escapes(void)
{
    log_set_request_id("r\"1");
    log_kv(LOG_INFO, "two\nlines\x01 \xc3\xa9", "k\"ey", "say \"hi\"\\ \nx",
           "tab", "a\tb\r\b\f\x1f", "none", (char *)NULL, "plain", "v",
           (char *)NULL);
    log_set_request_id(NULL);
}

START_TEST(json_exact)
{
    static const char *const env[] = {"AWS_LAMBDA_LOG_FORMAT", "json", NULL};
    fake_env = env;
    struct error_info err;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    char *text = capture(escapes);
    cut_ts(text, strlen("{\"timestamp\":\""));
    ck_assert_str_eq(text,
                     "{\"timestamp\":\"T\",\"level\":\"INFO\",\"requestId\":"
                     "\"r\\\"1\",\"message\":\"two\\nlines\\u0001 \xc3\xa9\","
                     "\"k\\\"ey\":\"say \\\"hi\\\"\\\\ \\nx\",\"tab\":"
                     "\"a\\tb\\r\\b\\f\\u001f\",\"none\":\"\",\"plain\":\"v\"}"
                     "\n");
    free(text);
}
END_TEST

START_TEST(text_exact)
{
    fake_env = NULL;
    struct error_info err;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    char *text = capture(escapes);
    cut_ts(text, 0);
    ck_assert_str_eq(text, "T\tr\"1\tINFO\ttwo lines\x01 \xc3\xa9 k\"ey=\"say "
                           "\\\"hi\\\"\\\\ \\nx\" tab=\"a\tb\r\b\f\x1f\" "
                           "none= plain=v\n");
    free(text);
}
END_TEST

static void long_records(void)
{
    size_t n = 300 * 1024;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = i % 1000 == 999 ? '\n' : 'x';
    big[n] = '\0';
    log_kv(LOG_INFO, big, (char *)NULL);
    log_kv(LOG_INFO, "m", "k", big, (char *)NULL);
    free(big);
}

/* A text record is cut at 256 KiB (without its newline); a JSON one over
 * it is dropped whole, leaving an empty line. */
START_TEST(over_the_cap)
{
    fake_env = NULL;
    struct error_info err;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    char *text = capture(long_records);
    size_t cap = 256 * 1024, head = strlen("T\t-\tINFO\t") + 23;
    ck_assert_uint_eq(strlen(text), 2 * cap);
    ck_assert_ptr_null(memchr(text, '\n', 2 * cap));
    ck_assert_int_eq(text[head + 999], ' '); /* the message's newline */
    ck_assert_ptr_nonnull(strstr(text + cap, " k=\"xxx"));
    ck_assert_int_eq(text[2 * cap - 1], 'x');
    free(text);

    static const char *const env[] = {"AWS_LAMBDA_LOG_FORMAT", "JSON", NULL};
    fake_env = env;
    ck_assert_int_eq(log_init(fake_get, &err), RESULT_OK);
    text = capture(long_records);
    ck_assert_str_eq(text, "\n\n");
    free(text);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *t = tcase_create("format");
    tcase_add_test(t, json_records);
    tcase_add_test(t, text_records);
    tcase_add_test(t, levels_filter);
    tcase_add_test(t, bad_values);
    tcase_add_test(t, json_exact);
    tcase_add_test(t, text_exact);
    tcase_add_test(t, over_the_cap);
    suite_add_tcase(s, t);
    return s;
}

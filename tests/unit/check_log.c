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

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *t = tcase_create("format");
    tcase_add_test(t, json_records);
    tcase_add_test(t, text_records);
    tcase_add_test(t, levels_filter);
    tcase_add_test(t, bad_values);
    suite_add_tcase(s, t);
    return s;
}

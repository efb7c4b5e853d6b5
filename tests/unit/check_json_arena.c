/* Tests of runtime/json_arena.c: event JSON parsed into a reused arena. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_arena.h"

static const char event[] =
    "{\"requestContext\":{\"routeKey\":\"$default\",\"eventType\":\"MESSAGE\","
    "\"connectionId\":\"Nx3mGdvKIAMCKWQ=\",\"connectedAt\":1795514400000,"
    "\"identity\":{\"sourceIp\":\"203.0.113.7\"}},"
    "\"body\":\"{\\\"action\\\":\\\"echo\\\"}\",\"isBase64Encoded\":false,"
    "\"list\":[1,2.5,\"three\",null,true]}";

/* What a handler reads of the event: every kind of value. */
static void check_event(const cJSON *e)
{
    ck_assert_ptr_nonnull(e);
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(e, "requestContext");
    ck_assert_str_eq(
        cJSON_GetObjectItemCaseSensitive(ctx, "connectionId")->valuestring,
        "Nx3mGdvKIAMCKWQ=");
    ck_assert(
        cJSON_GetObjectItemCaseSensitive(ctx, "connectedAt")->valuedouble ==
        1795514400000.0);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(e, "body")->valuestring,
                     "{\"action\":\"echo\"}");
    ck_assert(
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "isBase64Encoded")));
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(e, "list");
    ck_assert_int_eq(cJSON_GetArraySize(list), 5);
    ck_assert_str_eq(cJSON_GetArrayItem(list, 2)->valuestring, "three");
}

/* Off (tests, the local gateway): plain cJSON; LSan sees the frees. */
START_TEST(off_is_plain_cjson)
{
    cJSON *e = json_arena_parse(event, strlen(event), 0);
    check_event(e);
    ck_assert_uint_eq(json_arena_held(), 0);
    json_arena_delete(e);
    json_arena_reset();
    ck_assert_ptr_null(json_arena_parse("{\"a\":1} x", 10, 1));
}
END_TEST

/* On: the trees read the same, cJSON's own allocator is back after each
 * parse (trees built after it are ordinary ones), and many events leave
 * the arena no bigger than one kept block. */
START_TEST(on_reads_the_same_and_stays_flat)
{
    json_arena_enable(1);
    for (int i = 0; i < 2000; i++) {
        cJSON *e = json_arena_parse(event, strlen(event), 0);
        check_event(e);
        /* A copy is an ordinary tree: freed by cJSON_Delete. */
        cJSON *copy = cJSON_Duplicate(e, 1);
        check_event(copy);
        cJSON *made = cJSON_CreateObject();
        cJSON_AddItemToObject(made, "event", copy);
        char *text = cJSON_PrintUnformatted(made);
        ck_assert_ptr_nonnull(strstr(text, "Nx3mGdvKIAMCKWQ="));
        free(text);
        cJSON_Delete(made);
        /* A parse that fails half way keeps nothing. */
        ck_assert_ptr_null(json_arena_parse("{\"a\":[1,2,", 10, 0));
        ck_assert_ptr_null(json_arena_parse("{\"a\":1} x", 10, 1));
        json_arena_delete(e);
        json_arena_reset();
        ck_assert_uint_le(json_arena_held(), JSON_ARENA_BLOCK_BYTES);
    }
    json_arena_enable(0);
    ck_assert_uint_eq(json_arena_held(), 0);
}
END_TEST

/* A value bigger than a block gets a block of its own; a block past the
 * keep cap is not kept after the event. */
START_TEST(big_values)
{
    json_arena_enable(1);
    const size_t sizes[] = {JSON_ARENA_BLOCK_BYTES * 3,
                            JSON_ARENA_KEEP_BYTES * 2};
    for (size_t k = 0; k < 2; k++) {
        size_t n = sizes[k];
        char *text = malloc(n + 16);
        memcpy(text, "{\"s\":\"", 6);
        memset(text + 6, 'x', n);
        memcpy(text + 6 + n, "\",\"t\":1}", 9);
        cJSON *e = json_arena_parse(text, strlen(text) + 1, 1);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(
            strlen(cJSON_GetObjectItemCaseSensitive(e, "s")->valuestring), n);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(e, "t")->valueint, 1);
        ck_assert_uint_gt(json_arena_held(), n);
        json_arena_delete(e);
        json_arena_reset();
        ck_assert_uint_le(json_arena_held(), JSON_ARENA_KEEP_BYTES);
        free(text);
    }
    json_arena_enable(0);
}
END_TEST

Suite *json_arena_suite(void)
{
    Suite *s = suite_create("json_arena");
    TCase *t = tcase_create("arena");
    tcase_add_test(t, off_is_plain_cjson);
    tcase_add_test(t, on_reads_the_same_and_stays_flat);
    tcase_add_test(t, big_values);
    suite_add_tcase(s, t);
    return s;
}

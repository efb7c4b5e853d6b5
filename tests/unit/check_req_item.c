/* req_from_item() on stored or streamed request images (no DynamoDB). */
#include <check.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "requests.h"

/* A stream record's NewImage, as deploy/events/stream.json carries it. */
static const char image[] =
    "{\"pk\":{\"S\":\"REQ#r1\"},\"sk\":{\"S\":\"METADATA\"},"
    "\"request_id\":{\"S\":\"r1\"},\"connection_id\":{\"S\":\"c1\"},"
    "\"user_id\":{\"S\":\"u1\"},\"tenant_id\":{\"S\":\"t1\"},"
    "\"action\":{\"S\":\"process_data\"},"
    "\"payload\":{\"M\":{\"items\":{\"L\":[{\"N\":\"1\"}]}}},"
    "\"status\":{\"S\":\"PENDING\"},\"progress\":{\"N\":\"0\"},"
    "\"retry_count\":{\"N\":\"0\"},\"max_retries\":{\"N\":\"3\"},"
    "\"created_at\":{\"S\":\"2026-11-24T10:01:00.000Z\"},"
    "\"updated_at\":{\"S\":\"2026-11-24T10:01:00.000Z\"},"
    "\"version\":{\"N\":\"1\"},\"ttl\":{\"N\":\"1796119260\"}}";

START_TEST(whole_image_reads)
{
    cJSON *item = cJSON_Parse(image);
    struct request r;
    struct error_info err;
    error_clear(&err);
    ck_assert_int_eq(req_from_item(item, &r, &err), RESULT_OK);
    ck_assert_str_eq(r.request_id, "r1");
    ck_assert_str_eq(r.connection_id, "c1");
    ck_assert_str_eq(r.user_id, "u1");
    ck_assert_str_eq(r.tenant_id, "t1");
    ck_assert_str_eq(r.action, "process_data");
    ck_assert_int_eq(r.status, REQ_PENDING);
    req_cleanup(&r);
    cJSON_Delete(item);
}
END_TEST

/*
 * Found by fuzz_stream and fuzz_event: a record whose image lacked
 * connection_id (or tenant_id) was read as a request with a NULL field,
 * run, and the write of its result aborted the process (building an S
 * attribute from NULL). Each required attribute, removed or of the wrong
 * type, makes the image unreadable instead.
 */
static const char *const required[] = {
    "request_id", "connection_id", "user_id", "tenant_id",
    "action",     "status",        "version", "ttl",
};

START_TEST(missing_attribute_is_refused)
{
    for (int wrong_type = 0; wrong_type < 2; wrong_type++) {
        cJSON *item = cJSON_Parse(image);
        if (wrong_type)
            cJSON_ReplaceItemInObjectCaseSensitive(
                item, required[_i], cJSON_Parse("{\"BOOL\":true}"));
        else
            cJSON_DeleteItemFromObjectCaseSensitive(item, required[_i]);
        struct request r;
        struct error_info err;
        error_clear(&err);
        ck_assert_msg(req_from_item(item, &r, &err) == RESULT_PARSE,
                      "an image %s %s was read",
                      wrong_type ? "with a bad" : "without", required[_i]);
        ck_assert_str_eq(err.type, "MalformedItem");
        ck_assert_ptr_null(r.request_id);
        ck_assert_ptr_null(r.payload);
        cJSON_Delete(item);
    }
}
END_TEST

Suite *req_item_suite(void)
{
    Suite *s = suite_create("req_item");
    TCase *t = tcase_create("from_item");
    tcase_add_test(t, whole_image_reads);
    tcase_add_loop_test(t, missing_attribute_is_refused, 0,
                        (int)(sizeof(required) / sizeof(required[0])));
    suite_add_tcase(s, t);
    return s;
}

/*
 * The stream processor on requests whose payload never passed its
 * action's validation (an item not written by enqueue): against DynamoDB
 * Local, the request fails with the validation message; nothing crashes.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "app_fixture.h"
#include "ddb.h"
#include "processor.h"
#include "requests.h"

static struct app_fixture F;

static void setup(void)
{
    app_fixture_init(&F);
    app_fixture_start(&F);
}

static void teardown(void)
{
    app_fixture_stop(&F);
}

/* The requests table's only request as DynamoDB stores it: what a
 * stream record's NewImage carries (Scan, whatever the key format; the
 * user's in-flight counter item is left out). */
static cJSON *stored_image(void)
{
    cJSON *scan = cJSON_CreateObject();
    cJSON_AddStringToObject(scan, "TableName", F.requests);
    cJSON_AddBoolToObject(scan, "ConsistentRead", 1);
    cJSON_AddStringToObject(scan, "FilterExpression",
                            "attribute_exists(request_id)");
    cJSON *answer = NULL;
    struct error_info err;
    error_clear(&err);
    ck_assert_int_eq(ddb_call(F.app.ddb, "Scan", scan, app_fixture_deadline(),
                              &answer, &err),
                     RESULT_OK);
    cJSON_Delete(scan);
    cJSON *items = cJSON_GetObjectItemCaseSensitive(answer, "Items");
    ck_assert_int_eq(cJSON_GetArraySize(items), 1);
    cJSON *image = cJSON_DetachItemFromArray(items, 0);
    cJSON_Delete(answer);
    return image;
}

/* Payloads that the actions' validate functions refuse; each crashed or
 * misbehaved in the runner before the processor validated them. */
static const struct {
    const char *action, *payload, *field;
} rows[] = {
    /* fuzz_stream: strcmp(row field, NULL) in run_generate_report. */
    {"generate_report", "{\"rows\":[{\"a\":1}]}", "group_by"},
    {"generate_report", "{\"group_by\":\"k\"}", "rows"},
    {"process_data", "{\"items\":[]}", "items"},
    {"process_data", "{\"items\":[\"x\"]}", "items"},
};

START_TEST(unvalidated_payload_fails_the_request)
{
    struct request q = {0};
    q.request_id = strdup("bad-payload-1");
    q.connection_id = strdup("conn-1");
    q.user_id = strdup("user-1");
    q.tenant_id = strdup("tenant-1");
    q.action = strdup(rows[_i].action);
    q.payload = cJSON_Parse(rows[_i].payload);
    struct error_info err;
    error_clear(&err);
    /* The store checks ids and sizes; the action's rules are the
     * message handler's, which this item never met. */
    ck_assert_int_eq(
        req_enqueue(&F.app.store, &q, app_fixture_deadline(), &err), RESULT_OK);
    cJSON *event = cJSON_CreateObject();
    cJSON *record = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(event, "Records"), record);
    cJSON_AddStringToObject(record, "eventName", "INSERT");
    cJSON_AddStringToObject(record, "eventSource", "aws:dynamodb");
    cJSON *dynamodb = cJSON_AddObjectToObject(record, "dynamodb");
    cJSON_AddItemToObject(dynamodb, "NewImage", stored_image());
    cJSON_AddStringToObject(dynamodb, "SequenceNumber", "1");

    struct buf out;
    buf_init(&out, 64 * 1024);
    ck_assert_int_eq(
        processor_handle(&F.app, event, app_fixture_deadline(), &out, &err),
        RESULT_OK);
    ck_assert_str_eq(buf_str(&out), "{\"batchItemFailures\":[]}");
    struct request got;
    ck_assert_int_eq(req_get(&F.app.store, q.tenant_id, q.user_id, q.request_id,
                             &got, app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(got.status, REQ_FAILED);
    ck_assert_ptr_nonnull(got.error);
    ck_assert_msg(strstr(got.error, rows[_i].field), "error '%s' names no %s",
                  got.error, rows[_i].field);
    ck_assert_ptr_null(got.result);
    req_cleanup(&got);
    buf_cleanup(&out);
    cJSON_Delete(event);
    req_cleanup(&q);
}
END_TEST

Suite *processor_input_suite(void)
{
    Suite *s = suite_create("processor_input");
    TCase *tc = tcase_create("payload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, unvalidated_payload_fails_the_request, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    return s;
}

/* Tests of event classification by shape. */
#include <check.h>
#include <cjson/cJSON.h>

#include "dispatch.h"

/* Shapes as AWS documents them (API Gateway WebSocket proxy events,
 * DynamoDB Streams records, EventBridge scheduled events), trimmed. */
static const struct {
    const char *name;
    const char *json;
    enum event_kind want;
} rows[] = {
    {"connect",
     "{\"headers\":{\"Host\":\"x\"},\"requestContext\":{\"routeKey\":"
     "\"$connect\",\"eventType\":\"CONNECT\",\"connectionId\":\"L0SM9cOFvHc"
     "CIhw=\",\"domainName\":\"abc.execute-api.us-east-1.amazonaws.com\","
     "\"stage\":\"prod\"},\"isBase64Encoded\":false}",
     EVENT_CONNECT},
    {"disconnect",
     "{\"requestContext\":{\"routeKey\":\"$disconnect\",\"disconnectStatus"
     "Code\":1001,\"eventType\":\"DISCONNECT\",\"connectionId\":\"abc=\"}}",
     EVENT_DISCONNECT},
    {"message",
     "{\"requestContext\":{\"routeKey\":\"$default\",\"messageId\":\"m\","
     "\"eventType\":\"MESSAGE\",\"connectionId\":\"abc=\"},\"body\":\"{}\","
     "\"isBase64Encoded\":false}",
     EVENT_MESSAGE},
    {"stream",
     "{\"Records\":[{\"eventID\":\"1\",\"eventName\":\"INSERT\",\"event"
     "Source\":\"aws:dynamodb\",\"dynamodb\":{\"SequenceNumber\":\"111\"}}]}",
     EVENT_STREAM},
    {"schedule",
     "{\"version\":\"0\",\"id\":\"x\",\"detail-type\":\"Scheduled Event\","
     "\"source\":\"aws.events\",\"detail\":{}}",
     EVENT_SCHEDULE},
    {"retry pass",
     "{\"source\":\"streamer\",\"detail-type\":\"Retry Pass\","
     "\"detail\":{}}",
     EVENT_RETRY_PASS},
    {"retry pass from another source",
     "{\"source\":\"aws.events\",\"detail-type\":\"Retry Pass\"}",
     EVENT_UNKNOWN},
    {"streamer source, other detail",
     "{\"source\":\"streamer\",\"detail-type\":\"Scheduled Event\"}",
     EVENT_UNKNOWN},
    {"empty object", "{}", EVENT_UNKNOWN},
    {"array", "[]", EVENT_UNKNOWN},
    {"number", "42", EVENT_UNKNOWN},
    {"ws without connection id",
     "{\"requestContext\":{\"eventType\":\"MESSAGE\"}}", EVENT_UNKNOWN},
    {"ws with empty connection id",
     "{\"requestContext\":{\"eventType\":\"MESSAGE\",\"connectionId\":\"\"}}",
     EVENT_UNKNOWN},
    {"ws with odd type",
     "{\"requestContext\":{\"eventType\":\"PING\",\"connectionId\":\"a\"}}",
     EVENT_UNKNOWN},
    {"eventType not a string",
     "{\"requestContext\":{\"eventType\":1,\"connectionId\":\"a\"}}",
     EVENT_UNKNOWN},
    {"http api event", "{\"requestContext\":{\"http\":{\"method\":\"GET\"}}}",
     EVENT_UNKNOWN},
    {"sqs records", "{\"Records\":[{\"eventSource\":\"aws:sqs\"}]}",
     EVENT_UNKNOWN},
    {"empty records", "{\"Records\":[]}", EVENT_UNKNOWN},
    {"records not array", "{\"Records\":{}}", EVENT_UNKNOWN},
    {"other eventbridge",
     "{\"source\":\"aws.ec2\",\"detail-type\":\"EC2 Instance State\"}",
     EVENT_UNKNOWN},
};

START_TEST(classify)
{
    cJSON *event = cJSON_Parse(rows[_i].json);
    ck_assert_msg(event != NULL, "%s: bad test JSON", rows[_i].name);
    ck_assert_msg(dispatch_classify(event) == rows[_i].want, "%s: got %s",
                  rows[_i].name, dispatch_kind_str(dispatch_classify(event)));
    cJSON_Delete(event);
}
END_TEST

START_TEST(classify_null)
{
    ck_assert_int_eq(dispatch_classify(NULL), EVENT_UNKNOWN);
}
END_TEST

Suite *dispatch_suite(void)
{
    Suite *s = suite_create("dispatch");
    TCase *t = tcase_create("classify");
    tcase_add_loop_test(t, classify, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(t, classify_null);
    suite_add_tcase(s, t);
    return s;
}

/* Tests of AWS JSON-protocol error parsing, with DynamoDB's own bodies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws_error.h"

struct row {
    const char *name;
    int status;
    const char *header; /* X-Amzn-ErrorType, or NULL */
    const char *body;
    enum result want;
    const char *type;
    const char *message; /* a prefix the message must start with */
    const char *field;
};

/*
 * Bodies as DynamoDB sends them (DynamoDB Developer Guide, "Error handling
 * with DynamoDB", and the API Reference's error lists); the namespaces
 * differ between errors of DynamoDB itself and of the Coral front end.
 */
static const struct row rows[] = {
    {"resource not found (guide example)", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "ResourceNotFoundException\", \"message\":\"Requested resource not "
     "found: Table: tablename not found\"}",
     RESULT_NOT_FOUND, "ResourceNotFoundException",
     "Requested resource not found: Table: tablename not found", ""},
    {"conditional check failed", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "ConditionalCheckFailedException\",\"message\":\"The conditional "
     "request failed\"}",
     RESULT_CONDITION_FAILED, "ConditionalCheckFailedException",
     "The conditional request failed", ""},
    {"conditional check failed with item", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "ConditionalCheckFailedException\",\"Item\":{\"pk\":{\"S\":\"REQ#1\"},"
     "\"version\":{\"N\":\"3\"}},\"message\":\"The conditional request "
     "failed\"}",
     RESULT_CONDITION_FAILED, "ConditionalCheckFailedException",
     "The conditional request failed", ""},
    {"validation", 400, NULL,
     "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
     "\"message\":\"One or more parameter values were invalid: Missing the "
     "key pk in the item\"}",
     RESULT_INVALID_INPUT, "ValidationException",
     "One or more parameter values were invalid", ""},
    {"serialization (capital Message)", 400, NULL,
     "{\"__type\":\"com.amazon.coral.service#SerializationException\","
     "\"Message\":\"Start of structure or map found where not expected.\"}",
     RESULT_INVALID_INPUT, "SerializationException",
     "Start of structure or map found where not expected.", ""},
    {"provisioned throughput exceeded", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "ProvisionedThroughputExceededException\",\"message\":\"The level of "
     "configured provisioned throughput for the table was exceeded. "
     "Consider increasing your provisioning level with the UpdateTable "
     "API.\"}",
     RESULT_THROTTLED, "ProvisionedThroughputExceededException",
     "The level of configured provisioned throughput", ""},
    {"throttling", 400, NULL,
     "{\"__type\":\"com.amazon.coral.availability#ThrottlingException\","
     "\"message\":\"Rate of requests exceeds the allowed throughput.\"}",
     RESULT_THROTTLED, "ThrottlingException",
     "Rate of requests exceeds the allowed throughput.", ""},
    {"request limit exceeded", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded\","
     "\"message\":\"Throughput exceeds the current throughput limit for "
     "your account. Please contact AWS Support at "
     "https://aws.amazon.com/support request a limit increase\"}",
     RESULT_THROTTLED, "RequestLimitExceeded",
     "Throughput exceeds the current throughput limit", ""},
    {"limit exceeded (control plane)", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#LimitExceededException\""
     ",\"message\":\"Subscriber limit exceeded: Only 10 tables can be "
     "created, updated, or deleted simultaneously\"}",
     RESULT_THROTTLED, "LimitExceededException", "Subscriber limit exceeded",
     ""},
    {"internal server error", 500, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\","
     "\"message\":\"Internal server error\"}",
     RESULT_SERVICE_ERROR, "InternalServerError", "Internal server error", ""},
    {"service unavailable", 503, NULL,
     "{\"__type\":\"com.amazon.coral.availability#ServiceUnavailableException"
     "\",\"message\":\"Service unavailable\"}",
     RESULT_SERVICE_ERROR, "ServiceUnavailableException", "Service unavailable",
     ""},
    {"unrecognized client", 400, NULL,
     "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
     "\"message\":\"The security token included in the request is "
     "invalid.\"}",
     RESULT_SERVICE_ERROR, "UnrecognizedClientException",
     "The security token included in the request is invalid.", ""},
    {"access denied", 400, NULL,
     "{\"__type\":\"com.amazon.coral.service#AccessDeniedException\","
     "\"Message\":\"User: arn:aws:sts::123456789012:assumed-role/fn/fn is "
     "not authorized to perform: dynamodb:PutItem on resource: "
     "arn:aws:dynamodb:eu-west-1:123456789012:table/streamer_connections\"}",
     RESULT_SERVICE_ERROR, "AccessDeniedException",
     "User: arn:aws:sts::123456789012", ""},
    {"item collection size limit", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "ItemCollectionSizeLimitExceededException\",\"message\":\"Collection "
     "size exceeded.\"}",
     RESULT_SERVICE_ERROR, "ItemCollectionSizeLimitExceededException",
     "Collection size exceeded.", ""},
    {"transaction canceled: condition on item 1", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "TransactionCanceledException\",\"CancellationReasons\":[{\"Code\":"
     "\"None\"},{\"Code\":\"ConditionalCheckFailed\",\"Message\":\"The "
     "conditional request failed\"}],\"Message\":\"Transaction cancelled, "
     "please refer cancellation reasons for specific reasons [None, "
     "ConditionalCheckFailed]\"}",
     RESULT_CONDITION_FAILED, "TransactionCanceledException",
     "Transaction cancelled, please refer cancellation reasons",
     "TransactItems[1]"},
    {"transaction canceled: conflict", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "TransactionCanceledException\",\"CancellationReasons\":[{\"Code\":"
     "\"TransactionConflict\",\"Message\":\"Transaction is ongoing for the "
     "item\"},{\"Code\":\"None\"}],\"Message\":\"Transaction cancelled, "
     "please refer cancellation reasons for specific reasons "
     "[TransactionConflict, None]\"}",
     RESULT_SERVICE_ERROR, "TransactionCanceledException",
     "Transaction cancelled", ""},
    {"transaction canceled: reasons only in message", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "TransactionCanceledException\",\"message\":\"Transaction cancelled, "
     "please refer cancellation reasons for specific reasons "
     "[ConditionalCheckFailed, None]\"}",
     RESULT_CONDITION_FAILED, "TransactionCanceledException",
     "Transaction cancelled", ""},
    {"transaction conflict", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
     "TransactionConflictException\",\"message\":\"Transaction is ongoing "
     "for the item\"}",
     RESULT_SERVICE_ERROR, "TransactionConflictException",
     "Transaction is ongoing for the item", ""},
    {"type from X-Amzn-ErrorType header", 400,
     "ValidationException:http://internal.amazon.com/coral/"
     "com.amazon.coral.validate/",
     "", RESULT_INVALID_INPUT, "ValidationException", "", ""},
    {"header wins over body", 400, " ThrottlingException ",
     "{\"__type\":\"x#ValidationException\",\"message\":\"m\"}",
     RESULT_THROTTLED, "ThrottlingException", "m", ""},
    {"smithy code member", 400, NULL,
     "{\"code\":\"aws.protocoltests#ResourceNotFoundException:http://x/\","
     "\"message\":\"gone\"}",
     RESULT_NOT_FOUND, "ResourceNotFoundException", "gone", ""},
    {"type without namespace", 400, NULL,
     "{\"__type\":\"ConditionalCheckFailedException\"}",
     RESULT_CONDITION_FAILED, "ConditionalCheckFailedException", "", ""},
    {"unknown type", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#BrandNewException\","
     "\"message\":\"new\"}",
     RESULT_SERVICE_ERROR, "BrandNewException", "new", ""},
    {"non-string message ignored", 400, NULL,
     "{\"__type\":\"a#ValidationException\",\"message\":42}",
     RESULT_INVALID_INPUT, "ValidationException", "", ""},

    /* Bodies with no readable type: "HttpError" and the status. */
    {"html from a proxy", 502, NULL,
     "<html><body><h1>502 Bad Gateway</h1></body></html>", RESULT_SERVICE_ERROR,
     "HttpError", "HTTP 502: <html><body>", ""},
    {"empty 500", 500, NULL, "", RESULT_SERVICE_ERROR, "HttpError",
     "HTTP 500 with an empty body", ""},
    {"empty 429", 429, NULL, "", RESULT_THROTTLED, "HttpError", "HTTP 429", ""},
    {"413 request too large", 413, NULL, "Request Entity Too Large",
     RESULT_TOO_LARGE, "HttpError", "HTTP 413: Request Entity Too Large", ""},
    {"json without type", 400, NULL, "{\"message\":\"who am I\"}",
     RESULT_SERVICE_ERROR, "HttpError", "HTTP 400: {\"message\"", ""},
    {"json array", 400, NULL, "[1,2,3]", RESULT_SERVICE_ERROR, "HttpError",
     "HTTP 400: [1,2,3]", ""},
    {"json null", 500, NULL, "null", RESULT_SERVICE_ERROR, "HttpError",
     "HTTP 500: null", ""},
    {"json string", 400, NULL, "\"#ValidationException\"", RESULT_SERVICE_ERROR,
     "HttpError", "HTTP 400", ""},
    {"non-string type", 400, NULL, "{\"__type\":5,\"message\":\"x\"}",
     RESULT_SERVICE_ERROR, "HttpError", "HTTP 400", ""},
    {"type empty after '#'", 400, NULL, "{\"__type\":\"com.example#\"}",
     RESULT_SERVICE_ERROR, "HttpError", "HTTP 400", ""},
    {"truncated json", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheck",
     RESULT_SERVICE_ERROR, "HttpError", "HTTP 400: {\"__type\"", ""},
};

START_TEST(parse_table)
{
    const struct row *row = &rows[_i];
    struct error_info e;
    error_clear(&e);
    enum result r = aws_error_parse(row->status, row->body, strlen(row->body),
                                    row->header, &e);
    ck_assert_msg(r == row->want, "%s: got %s want %s", row->name,
                  result_str(r), result_str(row->want));
    ck_assert_msg(strcmp(e.type, row->type) == 0, "%s: type '%s'", row->name,
                  e.type);
    ck_assert_msg(strncmp(e.message, row->message, strlen(row->message)) == 0,
                  "%s: message '%s'", row->name, e.message);
    ck_assert_msg(strcmp(e.field, row->field) == 0, "%s: field '%s'", row->name,
                  e.field);
    ck_assert_int_eq(e.http_status, row->status);
}
END_TEST

/* Bytes that are not text, a body without a NUL, and a NULL `err`. */
START_TEST(garbage_never_crashes)
{
    char bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (char)(i * 37 + 1);
    bin[3] = '\0';
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(aws_error_parse(500, bin, sizeof(bin), NULL, &e),
                     RESULT_SERVICE_ERROR);
    ck_assert_str_eq(e.type, "HttpError");
    ck_assert_int_eq(e.http_status, 500);
    for (const char *p = e.message; *p; p++)
        ck_assert(*p >= 0x20 && *p < 0x7F);
    ck_assert_ptr_nonnull(strstr(e.message, "..."));

    /* Only the first `len` bytes count: a valid prefix is parsed. */
    const char *full = "{\"__type\":\"a#ThrottlingException\"}GARBAGE";
    error_clear(&e);
    ck_assert_int_eq(aws_error_parse(400, full, strlen(full) - 7, NULL, &e),
                     RESULT_THROTTLED);
    ck_assert_str_eq(e.type, "ThrottlingException");

    ck_assert_int_eq(aws_error_parse(400, NULL, 0, NULL, NULL),
                     RESULT_SERVICE_ERROR);
    ck_assert_int_eq(aws_error_parse(400, full, strlen(full), NULL, NULL),
                     RESULT_SERVICE_ERROR);
    ck_assert_int_eq(aws_error_parse(400, NULL, 0, "", &e),
                     RESULT_SERVICE_ERROR);
}
END_TEST

/* Over-long fields are cut to the struct's size, NUL-terminated. */
START_TEST(long_fields_truncated)
{
    size_t n = 5000;
    char *body = malloc(n * 2 + 100);
    ck_assert_ptr_nonnull(body);
    strcpy(body, "{\"__type\":\"ns#");
    size_t len = strlen(body);
    for (size_t i = 0; i < 300; i++)
        body[len++] = 'T';
    memcpy(body + len, "\",\"message\":\"", 13);
    len += 13;
    for (size_t i = 0; i < n; i++)
        body[len++] = 'm';
    memcpy(body + len, "\"}", 3);
    len += 2;
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(aws_error_parse(400, body, len, NULL, &e),
                     RESULT_SERVICE_ERROR);
    ck_assert_uint_eq(strlen(e.type), sizeof(e.type) - 1);
    ck_assert_uint_eq(strlen(e.message), sizeof(e.message) - 1);
    free(body);
}
END_TEST

START_TEST(result_by_type)
{
    ck_assert_int_eq(aws_error_result("ConditionalCheckFailedException", 400),
                     RESULT_CONDITION_FAILED);
    ck_assert_int_eq(aws_error_result("ResourceNotFoundException", 400),
                     RESULT_NOT_FOUND);
    ck_assert_int_eq(aws_error_result("ValidationException", 400),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(aws_error_result("SerializationException", 400),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(aws_error_result("TooManyRequestsException", 429),
                     RESULT_THROTTLED);
    ck_assert_int_eq(aws_error_result("InternalServerError", 500),
                     RESULT_SERVICE_ERROR);
    /* Without body, a TransactionCanceled cannot be told apart. */
    ck_assert_int_eq(aws_error_result("TransactionCanceledException", 400),
                     RESULT_SERVICE_ERROR);
    ck_assert_int_eq(aws_error_result(NULL, 429), RESULT_THROTTLED);
    ck_assert_int_eq(aws_error_result("", 413), RESULT_TOO_LARGE);
    ck_assert_int_eq(aws_error_result("HttpError", 503), RESULT_SERVICE_ERROR);
    ck_assert_int_eq(aws_error_result(NULL, 400), RESULT_SERVICE_ERROR);
}
END_TEST

Suite *aws_error_suite(void)
{
    Suite *s = suite_create("aws_error");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, parse_table, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, garbage_never_crashes);
    tcase_add_test(tc, long_fields_truncated);
    tcase_add_test(tc, result_by_type);
    suite_add_tcase(s, tc);
    return s;
}

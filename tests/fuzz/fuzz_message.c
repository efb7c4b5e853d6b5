/* Fuzz target: a client's message (envelope, every built-in's payload). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fake_aws.h"
#include "message.h"
#include "runtime_api.h"

static const char *const types[] = {
    "response", "acknowledgment", "progress", "complete", "error", "pong",
};

/* The route response {"statusCode":200,"body":"<frame>"}: the frame is a
 * JSON object with a known "type". */
static void check_answer(const struct buf *out)
{
    cJSON *route = cJSON_ParseWithLength(buf_str(out), out->len);
    fake_aws_require(route != NULL, "the route response is not JSON");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(route, "body");
    fake_aws_require(cJSON_IsString(body), "the route response has no body");
    cJSON *frame = cJSON_Parse(body->valuestring);
    fake_aws_require(cJSON_IsObject(frame), "the frame is not an object");
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(frame, "type"));
    int known = 0;
    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
        known |= strcmp(type, types[i]) == 0;
    fake_aws_require(known, "the frame has no known type");
    cJSON_Delete(frame);
    cJSON_Delete(route);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The bytes are the text of a WebSocket frame from connection c1, whose
 * user owns request r1. A first byte 'B' sends the rest as a binary
 * frame: the event's body is then that text, taken as base64.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 200000)
        return 0;
    struct app *a = fake_aws_app();
    int binary = size > 0 && data[0] == 'B';
    char *text = strndup((const char *)data + binary, size - (size_t)binary);
    cJSON *event = cJSON_CreateObject();
    cJSON *ctx = cJSON_AddObjectToObject(event, "requestContext");
    cJSON_AddStringToObject(ctx, "eventType", "MESSAGE");
    cJSON_AddStringToObject(ctx, "routeKey", "$default");
    cJSON_AddStringToObject(ctx, "connectionId", "c1");
    cJSON_AddStringToObject(ctx, "stage", "prod");
    cJSON_AddStringToObject(ctx, "domainName",
                            "fake.execute-api.us-east-1.amazonaws.com");
    cJSON_AddStringToObject(event, "body", text);
    cJSON_AddBoolToObject(event, "isBase64Encoded", binary);
    free(text);
    char *raw = cJSON_PrintUnformatted(event);
    /* What the runtime hands over is the event re-read from its text. */
    cJSON *parsed = cJSON_Parse(raw);
    if (!parsed) { /* e.g. bytes cJSON printed but cannot read back */
        free(raw);
        cJSON_Delete(event);
        return 0;
    }
    struct buf out;
    buf_init(&out, RUNTIME_API_MAX_RESPONSE_BYTES);
    struct error_info err;
    error_clear(&err);
    enum result r = message_handle(a, parsed, raw, strlen(raw),
                                   fake_aws_deadline(900), &out, &err);
    fake_aws_require(r == RESULT_OK, "message_handle failed");
    check_answer(&out);
    buf_cleanup(&out);
    cJSON_Delete(parsed);
    free(raw);
    cJSON_Delete(event);
    return 0;
}

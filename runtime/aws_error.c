/* AWS JSON-protocol error responses: their type, message and meaning. */
#include "aws_error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "retry.h"
#include "xmalloc.h"

/* How much of an unreadable body goes into the message. */
#define SNIPPET_BYTES 120

/*
 * Smithy's awsJson1_0 protocol ("Operation error serialization"): a type
 * may come as "aws.namespace#Name:http://internal.amazon.com/...": drop
 * everything from the first ':' and everything up to the last '#'.
 * Copies the short name into `out` (empty when nothing is left).
 */
static void sanitize_type(const char *raw, char *out, size_t out_size)
{
    size_t n = strcspn(raw, ":");
    const char *start = raw;
    for (size_t i = 0; i < n; i++)
        if (raw[i] == '#')
            start = raw + i + 1;
    n -= (size_t)(start - raw);
    /* Trim blanks a header value may carry. */
    while (n && (*start == ' ' || *start == '\t'))
        start++, n--;
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    snprintf(out, out_size, "%.*s", (int)n, start);
}

/* Parses `body` as one JSON value; trailing bytes other than blanks make
 * it unreadable (cJSON alone would ignore them). */
static cJSON *parse_json(const char *body, size_t body_len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, body_len, &end, 0);
    if (!root)
        return NULL;
    for (const char *p = end; p < body + body_len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

/*
 * DynamoDB API Reference, TransactWriteItems: a TransactionCanceledException
 * lists one CancellationReasons entry per item, in order, with a Code such
 * as "ConditionalCheckFailed" or "None". Returns 1 when a condition failed,
 * setting `*index` to the first such entry. Without the list (emulators),
 * falls back to the reason names DynamoDB repeats in the message; then
 * `*index` stays -1.
 */
static int condition_failed(const cJSON *root, const char *message, int *index)
{
    *index = -1;
    const cJSON *reasons =
        cJSON_GetObjectItemCaseSensitive(root, "CancellationReasons");
    if (cJSON_IsArray(reasons)) {
        int i = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, reasons)
        {
            const char *code = json_string_member(r, "Code");
            if (code && strcmp(code, "ConditionalCheckFailed") == 0) {
                *index = i;
                return 1;
            }
            i++;
        }
        return 0;
    }
    return message && strstr(message, "ConditionalCheckFailed") != NULL;
}

enum result aws_error_result(const char *type, int http_status)
{
    if (type && *type) {
        if (strcmp(type, "ConditionalCheckFailedException") == 0)
            return RESULT_CONDITION_FAILED;
        if (strcmp(type, "ResourceNotFoundException") == 0)
            return RESULT_NOT_FOUND;
        if (strcmp(type, "ValidationException") == 0 ||
            strcmp(type, "SerializationException") == 0)
            return RESULT_INVALID_INPUT;
        if (retry_is_throttling_type(type))
            return RESULT_THROTTLED;
        if (strcmp(type, AWS_ERROR_HTTP) != 0)
            return RESULT_SERVICE_ERROR;
    }
    if (http_status == 429)
        return RESULT_THROTTLED;
    if (http_status == 413)
        return RESULT_TOO_LARGE;
    return RESULT_SERVICE_ERROR;
}

/* The error for a body we cannot read: the status and a printable prefix. */
static enum result unreadable(int http_status, const char *body,
                              size_t body_len, struct error_info *err)
{
    char snippet[SNIPPET_BYTES + 1];
    size_t n = body_len < SNIPPET_BYTES ? body_len : SNIPPET_BYTES;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)body[i];
        snippet[i] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
    }
    snippet[n] = '\0';
    enum result r = aws_error_result(NULL, http_status);
    if (n)
        error_set(err, r, AWS_ERROR_HTTP, "HTTP %d: %s%s", http_status, snippet,
                  body_len > n ? "..." : "");
    else
        error_set(err, r, AWS_ERROR_HTTP, "HTTP %d with an empty body",
                  http_status);
    if (err)
        err->http_status = http_status;
    return r;
}

enum result aws_error_parse(int http_status, const char *body, size_t body_len,
                            const char *type_header, struct error_info *err)
{
    enum result r = RESULT_SERVICE_ERROR;
    cJSON *root = NULL;
    char type[sizeof(((struct error_info *)0)->type)] = "";

    if (body && body_len)
        root = parse_json(body, body_len);
    const char *raw = type_header && *type_header ? type_header : NULL;
    if (!raw && cJSON_IsObject(root))
        raw = json_string_member(root, "code");
    if (!raw && cJSON_IsObject(root))
        raw = json_string_member(root, "__type");
    if (raw)
        sanitize_type(raw, type, sizeof(type));
    if (!*type) {
        r = unreadable(http_status, body, body_len, err);
        goto done;
    }

    const char *message = NULL;
    if (cJSON_IsObject(root)) {
        message = json_string_member(root, "message");
        if (!message)
            message = json_string_member(root, "Message");
    }
    r = aws_error_result(type, http_status);
    int failed_item = -1;
    if (strcmp(type, "TransactionCanceledException") == 0 &&
        condition_failed(root, message, &failed_item))
        r = RESULT_CONDITION_FAILED;
    error_set(err, r, type, "%s", message ? message : "");
    if (err) {
        err->http_status = http_status;
        if (failed_item >= 0)
            snprintf(err->field, sizeof(err->field), "TransactItems[%d]",
                     failed_item);
    }

done:
    cJSON_Delete(root);
    return r;
}

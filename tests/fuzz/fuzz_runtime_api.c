/* Fuzz target: Runtime API answers (status, headers, body) to the client. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fake_aws.h"
#include "http_int.h"
#include "runtime_api.h"

/* The answer the fake Runtime API gives: set per input. */
static struct {
    const uint8_t *head; /* raw header lines, "\n"-separated */
    size_t head_len;
    const uint8_t *body;
    size_t body_len;
    int status;
    int post_status;
} answer;

/* Feeds the head line by line through the parser libcurl's callback uses. */
static enum result serve(void *ctx, const struct http_request *req,
                         struct http_response *resp, struct error_info *err)
{
    (void)ctx;
    (void)err;
    int get = strcmp(req->method, "GET") == 0;
    resp->status = get ? answer.status : answer.post_status;
    const uint8_t *p = answer.head, *end = answer.head + answer.head_len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        http_response_add_line(resp, (const char *)p, len);
        p += len;
    }
    if (buf_append(&resp->body, answer.body, answer.body_len) != RESULT_OK)
        return RESULT_TOO_LARGE;
    return RESULT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: a status byte for GET /next (mostly 200), one for the POSTs
 * (mostly 202), then the header lines of /next, a blank line ("\n\n"),
 * and the event body.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 200, 200, 202, 400, 403, 413, 500};
    static struct runtime_api *api;
    if (size < 2)
        return 0;
    if (!api) {
        struct error_info e;
        http_set_transport(serve, NULL);
        api = runtime_api_new("127.0.0.1:9001", &e);
        fake_aws_require(api != NULL, "runtime_api_new");
    }
    answer.status = statuses[data[0] % 8];
    answer.post_status = statuses[(data[1] + 3) % 8];
    data += 2, size -= 2;
    const uint8_t *blank = NULL;
    for (size_t i = 0; i + 1 < size && !blank; i++)
        if (data[i] == '\n' && data[i + 1] == '\n')
            blank = data + i;
    answer.head = data;
    answer.head_len = blank ? (size_t)(blank - data) + 1 : size;
    answer.body = blank ? blank + 2 : data + size;
    answer.body_len = (size_t)(data + size - answer.body);

    struct invocation inv;
    invocation_init(&inv);
    struct error_info err;
    error_clear(&err);
    enum result r = runtime_api_next(api, &inv, &err);
    if (r == RESULT_OK) {
        fake_aws_require(inv.request_id[0] != '\0', "no request id");
        fake_aws_require(inv.deadline_ms > 0, "no deadline");
        fake_aws_require(
            inv.event.len == answer.body_len &&
                memcmp(buf_str(&inv.event), answer.body, answer.body_len) == 0,
            "the event is not the body");
        (void)invocation_remaining_ms(&inv, 0);
        /* The id comes from outside and goes into the path. */
        error_clear(&err);
        (void)runtime_api_respond(api, inv.request_id, "{}", 2, &err);
        error_clear(&err);
        (void)runtime_api_fail(api, inv.request_id, inv.trace_id,
                               inv.function_arn, &err);
    }
    invocation_cleanup(&inv);
    return 0;
}

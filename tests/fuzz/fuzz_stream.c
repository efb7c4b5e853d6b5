/* Fuzz target: DynamoDB stream records turned into requests and run. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fake_aws.h"
#include "processor.h"
#include "runtime_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The bytes are a DynamoDB Streams event ({"Records":[...]}, each with
 * dynamodb.NewImage in DynamoDB JSON) handed to the processor; the
 * in-memory AWS accepts every write, so valid requests run to the end.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct app *a = fake_aws_app();
    cJSON *event = cJSON_ParseWithLength((const char *)data, size);
    if (!event)
        return 0;
    struct buf out;
    buf_init(&out, RUNTIME_API_MAX_RESPONSE_BYTES);
    struct error_info err;
    error_clear(&err);
    /* A short deadline: a retry's backoff is left to the next delivery
     * instead of slept. */
    enum result r =
        processor_handle(a, event, fake_aws_deadline(900), &out, &err);
    fake_aws_require(r == RESULT_OK, "processor_handle failed");
    /* The partial batch response: {"batchItemFailures":[...]} */
    cJSON *answer = cJSON_ParseWithLength(buf_str(&out), out.len);
    fake_aws_require(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
                         answer, "batchItemFailures")),
                     "no batchItemFailures in the answer");
    cJSON_Delete(answer);
    buf_cleanup(&out);
    cJSON_Delete(event);
    return 0;
}

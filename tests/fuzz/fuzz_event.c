/* Fuzz target: a Lambda event as dispatched, against an in-memory AWS. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dispatch.h"
#include "fake_aws.h"
#include "json_arena.h"
#include "runtime_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes are the event body of GET /next, handed to dispatch_handle()
 * as the loop does: $connect (with a JWT), $disconnect, messages, stream
 * batches, schedules, and anything else. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct app *a = fake_aws_app();
    /* As in the bootstrap: the event's JSON from the arena (under ASan
     * each block its own allocation, so a read after the reset shows). */
    json_arena_enable(1);
    struct invocation inv;
    invocation_init(&inv);
    snprintf(inv.request_id, sizeof(inv.request_id), "fuzz");
    /* Short: a retry that would sleep is left to the next delivery. */
    inv.deadline_ms = fake_aws_deadline(900);
    if (buf_append(&inv.event, data, size) != RESULT_OK) {
        invocation_cleanup(&inv);
        return 0;
    }
    struct buf out;
    buf_init(&out, RUNTIME_API_MAX_RESPONSE_BYTES);
    struct error_info err;
    error_clear(&err);
    enum result r = dispatch_handle(a, &inv, &out, &err);
    if (r == RESULT_OK) {
        /* Whatever the handler answered is JSON the Runtime API takes. */
        cJSON *answer = cJSON_ParseWithLength(buf_str(&out), out.len);
        fake_aws_require(answer != NULL || out.len == 0,
                         "the answer is not JSON");
        cJSON_Delete(answer);
    } else {
        fake_aws_require(err.type[0] != '\0', "a failure without a type");
    }
    buf_cleanup(&out);
    invocation_cleanup(&inv);
    return 0;
}

/* Fuzz target: AWS JSON-protocol error bodies and X-Amzn-ErrorType. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aws_error.h"
#include "fake_aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: two bytes of HTTP status (100-599), one byte n, then n bytes of
 * the X-Amzn-ErrorType header (none when n is 0), then the body.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int status = 100 + (data[0] << 8 | data[1]) % 500;
    size_t n = data[2];
    data += 3, size -= 3;
    if (n > size)
        n = size;
    char type[256];
    memcpy(type, data, n);
    type[n] = '\0';
    struct error_info err;
    error_clear(&err);
    enum result r =
        aws_error_parse(status, size > n ? (const char *)data + n : NULL,
                        size - n, n ? type : NULL, &err);
    fake_aws_require(r != RESULT_OK, "an error body parsed as success");
    fake_aws_require(memchr(err.type, '\0', sizeof(err.type)) != NULL &&
                         memchr(err.message, '\0', sizeof(err.message)) &&
                         memchr(err.field, '\0', sizeof(err.field)),
                     "an unterminated error field");
    fake_aws_require(err.type[0] != '\0', "no error type");
    fake_aws_require(!strchr(err.type, '#') && !strchr(err.type, ':'),
                     "the type keeps its namespace or ':' suffix");
    fake_aws_require(err.http_status == status, "the status is lost");
    fake_aws_require(aws_error_result(err.type, status) == r ||
                         r == RESULT_CONDITION_FAILED || r == RESULT_TOO_LARGE,
                     "aws_error_result disagrees with aws_error_parse");
    return 0;
}

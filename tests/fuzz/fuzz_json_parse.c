/* Fuzz target: json_parse() must read any text as cJSON's parser does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    for (int require = 0; require < 2; require++)
        if (json_diff((const char *)data, size, require, why, sizeof(why))) {
            fprintf(stderr, "fuzz_json_parse: %s (require %d)\n", why, require);
            abort();
        }
    return 0;
}

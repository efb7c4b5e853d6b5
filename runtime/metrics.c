/* CloudWatch metrics as Embedded Metric Format (EMF) log lines. */
#include "metrics.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "text.h"
#include "xmalloc.h"

/*
 * Appends `v` as cJSON prints the double (double)v: below 10^15 in
 * magnitude that is the integer's digits (exact in a double, and cJSON's
 * "%1.15g" shows all of them without an exponent); beyond, cJSON itself
 * prints it (exponent, rounding), which no count or timestamp reaches.
 */
static bool put_number(struct buf *b, int64_t v)
{
    if (v <= -1000000000000000 || v >= 1000000000000000) {
        cJSON *n = xjson(cJSON_CreateNumber((double)v));
        char *text = xjson_print(n);
        cJSON_Delete(n);
        bool ok = buf_appends(b, text) == RESULT_OK;
        free(text);
        return ok;
    }
    char digits[21];
    return buf_append(b, digits, text_i64(digits, v)) == RESULT_OK;
}

static bool put(struct buf *b, const char *text)
{
    return buf_appends(b, text) == RESULT_OK;
}

static bool put_string(struct buf *b, const char *s)
{
    return log_json_string(b, s) == RESULT_OK;
}

void metrics_count(const char *namespace_, const char *name, int64_t value,
                   const char *dimension, const char *dimension_value)
{
    /*
     * Written straight into a buffer, members in the order of the
     * specification's example (and of the cJSON tree this replaced):
     * {"_aws":{"Timestamp":<ms>,"CloudWatchMetrics":[{"Namespace":<ns>,
     * "Dimensions":[[<dimension>]],"Metrics":[{"Name":<name>,
     * "Unit":"Count"}]}]},<name>:<value>,<dimension>:<dimension_value>}
     * No cap, as before: the names are the caller's, the sizes small.
     */
    struct buf line;
    buf_init(&line, SIZE_MAX);
    bool ok = put(&line, "{\"_aws\":{\"Timestamp\":");
    ok = ok && put_number(&line, clock_now_ms());
    ok = ok && put(&line, ",\"CloudWatchMetrics\":[{");
    if (namespace_) {
        ok = ok && put(&line, "\"Namespace\":");
        ok = ok && put_string(&line, namespace_);
        ok = ok && put(&line, ",");
    }
    ok = ok && put(&line, "\"Dimensions\":[[");
    if (dimension)
        ok = ok && put_string(&line, dimension);
    ok = ok && put(&line, "]],\"Metrics\":[{\"Name\":");
    ok = ok && put_string(&line, name);
    ok = ok && put(&line, ",\"Unit\":\"Count\"}]}]},");
    ok = ok && put_string(&line, name);
    ok = ok && put(&line, ":");
    ok = ok && put_number(&line, value);
    if (dimension) {
        ok = ok && put(&line, ",");
        ok = ok && put_string(&line, dimension);
        ok = ok && put(&line, ":");
        ok = ok && put_string(&line, dimension_value);
    }
    ok = ok && put(&line, "}");
    if (ok) /* an uncapped buffer fails only past SIZE_MAX */
        log_raw(buf_str(&line));
    buf_cleanup(&line);
}

/* CloudWatch metrics as Embedded Metric Format (EMF) log lines. */
#include "metrics.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "xmalloc.h"

void metrics_count(const char *namespace_, const char *name, int64_t value,
                   const char *dimension, const char *dimension_value)
{
    cJSON *root = xjson(cJSON_CreateObject());
    cJSON *aws = xjson(cJSON_AddObjectToObject(root, "_aws"));
    xjson_add(aws, "Timestamp", cJSON_CreateNumber((double)clock_now_ms()));
    cJSON *directives = xjson(cJSON_AddArrayToObject(aws, "CloudWatchMetrics"));
    cJSON *d = xjson(cJSON_CreateObject());
    xjson_append(directives, d);
    if (namespace_)
        xjson_add(d, "Namespace", cJSON_CreateString(namespace_));
    cJSON *dims = xjson(cJSON_AddArrayToObject(d, "Dimensions"));
    cJSON *set = xjson(cJSON_CreateArray());
    xjson_append(dims, set);
    if (dimension)
        xjson_append(set, cJSON_CreateString(dimension));
    cJSON *metrics = xjson(cJSON_AddArrayToObject(d, "Metrics"));
    cJSON *m = xjson(cJSON_CreateObject());
    xjson_add(m, "Name", cJSON_CreateString(name));
    xjson_add(m, "Unit", cJSON_CreateString("Count"));
    xjson_append(metrics, m);
    xjson_add(root, name, cJSON_CreateNumber((double)value));
    if (dimension)
        xjson_add(root, dimension,
                  cJSON_CreateString(dimension_value ? dimension_value : ""));
    char *line = xjson_print(root);
    cJSON_Delete(root);
    log_raw(line);
    free(line);
}

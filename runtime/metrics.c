/* CloudWatch metrics as Embedded Metric Format (EMF) log lines. */
#include "metrics.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"

void metrics_count(const char *namespace_, const char *name, int64_t value,
                   const char *dimension, const char *dimension_value)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *aws = cJSON_AddObjectToObject(root, "_aws");
    cJSON_AddNumberToObject(aws, "Timestamp", (double)clock_now_ms());
    cJSON *directives = cJSON_AddArrayToObject(aws, "CloudWatchMetrics");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToArray(directives, d);
    cJSON_AddStringToObject(d, "Namespace", namespace_);
    cJSON *dims = cJSON_AddArrayToObject(d, "Dimensions");
    cJSON *set = cJSON_CreateArray();
    cJSON_AddItemToArray(dims, set);
    if (dimension)
        cJSON_AddItemToArray(set, cJSON_CreateString(dimension));
    cJSON *metrics = cJSON_AddArrayToObject(d, "Metrics");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "Name", name);
    cJSON_AddStringToObject(m, "Unit", "Count");
    cJSON_AddItemToArray(metrics, m);
    cJSON_AddNumberToObject(root, name, (double)value);
    if (dimension)
        cJSON_AddStringToObject(root, dimension,
                                dimension_value ? dimension_value : "");
    char *line = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (line)
        log_raw(line);
    free(line);
}

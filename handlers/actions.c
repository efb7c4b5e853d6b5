/* The async action table: name, payload check, runner. */
#include "actions.h"

#include <string.h>


#define MAX_ITEMS 100000
#define MAX_ROWS 100000

/* process_data: payload.items, a non-empty array of numbers. */
static enum result validate_process_data(const cJSON *payload,
                                         struct error_info *err)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(payload, "items");
    if (!cJSON_IsArray(items) || !items->child)
        return error_field(err, "items",
                           "payload.items must be a non-empty array");
    int n = 0;
    for (const cJSON *v = items->child; v; v = v->next, n++)
        if (!cJSON_IsNumber(v))
            return error_field(err, "items",
                               "payload.items[%d] is not a number", n);
    if (n > MAX_ITEMS)
        return error_field(err, "items", "payload.items has over %d entries",
                           MAX_ITEMS);
    return RESULT_OK;
}

/* generate_report: payload.rows (objects) and payload.group_by (a key). */
static enum result validate_generate_report(const cJSON *payload,
                                            struct error_info *err)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(payload, "rows");
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(payload, "group_by");
    if (!cJSON_IsString(by) || !*by->valuestring)
        return error_field(err, "group_by",
                           "payload.group_by must be a non-empty string");
    if (!cJSON_IsArray(rows))
        return error_field(err, "rows", "payload.rows must be an array");
    int n = 0;
    for (const cJSON *r = rows->child; r; r = r->next, n++)
        if (!cJSON_IsObject(r))
            return error_field(err, "rows", "payload.rows[%d] is not an "
                                            "object", n);
    if (n > MAX_ROWS)
        return error_field(err, "rows", "payload.rows has over %d entries",
                           MAX_ROWS);
    return RESULT_OK;
}

/*
 * The one place to register an action: a name, the check run at enqueue
 * time, and the runner the stream processor calls.
 */
static const struct action table[] = {
    {"process_data", validate_process_data, NULL},
    {"generate_report", validate_generate_report, NULL},
};

const struct action *actions_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

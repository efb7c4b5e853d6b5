/* Reading API Gateway WebSocket events: context, headers, query. */
#include "event.h"

#include <strings.h>

const char *event_ctx_str(const cJSON *event, const char *name)
{
    const cJSON *ctx =
        cJSON_GetObjectItemCaseSensitive(event, "requestContext");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double event_ctx_num(const cJSON *event, const char *name, double fallback)
{
    const cJSON *ctx =
        cJSON_GetObjectItemCaseSensitive(event, "requestContext");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, name);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* Member `name` of `o` compared without case; NULL when absent. */
static const cJSON *member_nocase(const cJSON *o, const char *name)
{
    for (const cJSON *m = cJSON_IsObject(o) ? o->child : NULL; m; m = m->next)
        if (m->string && strcasecmp(m->string, name) == 0)
            return m;
    return NULL;
}

/* A single value, or the first of a multi-value array. */
static const char *first_string(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsArray(v) && cJSON_IsString(v->child))
        return v->child->valuestring;
    return NULL;
}

const char *event_header(const cJSON *event, const char *name)
{
    const char *v = first_string(member_nocase(
        cJSON_GetObjectItemCaseSensitive(event, "headers"), name));
    if (v)
        return v;
    return first_string(member_nocase(
        cJSON_GetObjectItemCaseSensitive(event, "multiValueHeaders"), name));
}

const char *event_query(const cJSON *event, const char *name)
{
    const char *v = first_string(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(event, "queryStringParameters"),
        name));
    if (v)
        return v;
    return first_string(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(event,
                                         "multiValueQueryStringParameters"),
        name));
}

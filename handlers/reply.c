/* The wire protocol's server-to-client messages (docs/protocol.md). */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>

#include "xmalloc.h"

/* Prints and frees `o`. */
static char *print(cJSON *o)
{
    char *s = xjson_print(o);
    cJSON_Delete(o);
    return s;
}

static cJSON *message(const char *type, const char *request_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    if (request_id)
        cJSON_AddStringToObject(o, "request_id", request_id);
    return o;
}

static void add_copy(cJSON *o, const char *name, const cJSON *v)
{
    cJSON_AddItemToObject(o, name,
                          v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
}

char *reply_response(const char *request_id, const cJSON *data)
{
    cJSON *o = message("response", request_id);
    cJSON_AddBoolToObject(o, "success", 1);
    add_copy(o, "data", data);
    return print(o);
}

char *reply_ack(const char *request_id)
{
    cJSON *o = message("acknowledgment", request_id);
    cJSON_AddStringToObject(o, "status", "queued");
    return print(o);
}

char *reply_progress(const char *request_id, int percentage, const char *msg,
                     const char *timestamp)
{
    cJSON *o = message("progress", request_id);
    cJSON_AddNumberToObject(o, "percentage", percentage);
    cJSON_AddStringToObject(o, "message", msg ? msg : "");
    cJSON_AddStringToObject(o, "timestamp", timestamp);
    return print(o);
}

char *reply_complete(const char *request_id, const cJSON *result,
                     const char *timestamp)
{
    cJSON *o = message("complete", request_id);
    add_copy(o, "result", result);
    cJSON_AddStringToObject(o, "timestamp", timestamp);
    return print(o);
}

char *reply_error(const char *request_id, const char *code, const char *msg,
                  const cJSON *details)
{
    cJSON *o = message("error", request_id);
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    if (details)
        cJSON_AddItemToObject(e, "details", cJSON_Duplicate(details, 1));
    return print(o);
}

char *reply_pong(void)
{
    return print(message("pong", NULL));
}

enum result reply_route(struct buf *out, int status_code, const char *body)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "statusCode", status_code);
    if (body)
        cJSON_AddStringToObject(o, "body", body);
    char *s = print(o);
    buf_reset(out);
    enum result r = buf_appends(out, s);
    free(s);
    return r;
}

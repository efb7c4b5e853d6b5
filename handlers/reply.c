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
    cJSON *o = xjson(cJSON_CreateObject());
    xjson_add(o, "type", cJSON_CreateString(type));
    if (request_id)
        xjson_add(o, "request_id", cJSON_CreateString(request_id));
    return o;
}

static void add_copy(cJSON *o, const char *name, const cJSON *v)
{
    xjson_add(o, name, v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
}

char *reply_response(const char *request_id, const cJSON *data)
{
    cJSON *o = message("response", request_id);
    xjson_add(o, "success", cJSON_CreateBool(1));
    add_copy(o, "data", data);
    return print(o);
}

char *reply_ack(const char *request_id)
{
    cJSON *o = message("acknowledgment", request_id);
    xjson_add(o, "status", cJSON_CreateString("queued"));
    return print(o);
}

char *reply_progress(const char *request_id, int percentage, const char *msg,
                     const char *timestamp)
{
    cJSON *o = message("progress", request_id);
    xjson_add(o, "percentage", cJSON_CreateNumber(percentage));
    xjson_add(o, "message", cJSON_CreateString(msg ? msg : ""));
    xjson_add(o, "timestamp", cJSON_CreateString(timestamp));
    return print(o);
}

char *reply_complete(const char *request_id, const cJSON *result,
                     const char *timestamp)
{
    cJSON *o = message("complete", request_id);
    add_copy(o, "result", result);
    xjson_add(o, "timestamp", cJSON_CreateString(timestamp));
    return print(o);
}

char *reply_error(const char *request_id, const char *code, const char *msg,
                  const cJSON *details)
{
    cJSON *o = message("error", request_id);
    cJSON *e = xjson(cJSON_AddObjectToObject(o, "error"));
    xjson_add(e, "code", cJSON_CreateString(code));
    if (msg)
        xjson_add(e, "message", cJSON_CreateString(msg));
    if (details)
        xjson_add(e, "details", cJSON_Duplicate(details, 1));
    return print(o);
}

char *reply_pong(void)
{
    return print(message("pong", NULL));
}

enum result reply_route(struct buf *out, int status_code, const char *body)
{
    cJSON *o = xjson(cJSON_CreateObject());
    xjson_add(o, "statusCode", cJSON_CreateNumber(status_code));
    if (body)
        xjson_add(o, "body", cJSON_CreateString(body));
    char *s = print(o);
    buf_reset(out);
    enum result r = buf_appends(out, s);
    free(s);
    return r;
}

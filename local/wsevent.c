/* API Gateway's WebSocket events for Lambda, and the function's answer. */
#include "wsevent.h"

#include <cjson/cJSON.h>
#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "clock.h"
#include "service.h"
#include "xmalloc.h"

/*
 * The routes this API has ("Working with routes for WebSocket APIs"):
 * $request.body.action picks a route whose key equals it, else $default.
 */
static const char *const ROUTES[] = {"$connect", "$disconnect", "$default"};

static void add_string(cJSON *object, const char *name, const char *value)
{
    xjson_add(object, name, cJSON_CreateString(value));
}

static void add_number(cJSON *object, const char *name, double value)
{
    xjson_add(object, name, cJSON_CreateNumber(value));
}

/* A new empty object as `object`'s member `name` (owned by `object`). */
static cJSON *add_object(cJSON *object, const char *name)
{
    cJSON *o = xjson(cJSON_CreateObject());
    xjson_add(object, name, o);
    return o;
}

/* Prints and frees `event`; caller owns the text. */
static char *print_event(cJSON *event)
{
    char *s = xjson_print(event);
    cJSON_Delete(event);
    return s;
}

/* "24/Nov/2026:10:00:00 +0000", API Gateway's requestTime. */
static void request_time(int64_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, size, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
             mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

/*
 * requestContext of a WebSocket event, per the API Gateway Developer
 * Guide, "Setting up WebSocket API integration requests" and the Lambda
 * proxy event of "Working with WebSocket APIs" (routeKey, eventType,
 * messageDirection, connectionId, requestId, extendedRequestId, ...),
 * added to `event`. `request_id` gets the requestId used.
 */
static void add_request_context(cJSON *event, const struct wsevent_source *src,
                                const char *route, const char *type,
                                char *request_id)
{
    cJSON *ctx = add_object(event, "requestContext");
    int64_t now = clock_now_ms();
    char rt[40], msg_id[WSEVENT_ID_SIZE];
    request_time(now, rt, sizeof(rt));
    service_random_id(request_id, WSEVENT_ID_BYTES);
    add_string(ctx, "routeKey", route);
    if (strcmp(type, "MESSAGE") == 0) {
        service_random_id(msg_id, WSEVENT_ID_BYTES);
        add_string(ctx, "messageId", msg_id);
    }
    if (strcmp(type, "DISCONNECT") == 0) {
        add_number(ctx, "disconnectStatusCode", src->close_code);
        add_string(ctx, "disconnectReason", src->close_reason);
    }
    add_string(ctx, "eventType", type);
    add_string(ctx, "extendedRequestId", request_id);
    add_string(ctx, "requestTime", rt);
    add_string(ctx, "messageDirection", "IN");
    add_string(ctx, "stage", src->stage);
    add_number(ctx, "connectedAt", (double)src->connected_ms);
    add_number(ctx, "requestTimeEpoch", (double)now);
    cJSON *id = add_object(ctx, "identity");
    add_string(id, "sourceIp", src->source_ip);
    if (src->user_agent)
        add_string(id, "userAgent", src->user_agent);
    add_string(ctx, "requestId", request_id);
    add_string(ctx, "domainName", src->domain);
    add_string(ctx, "connectionId", src->connection_id);
    add_string(ctx, "apiId", src->api_id);
}

/* Adds name → value to `single` (last value wins) and to the array of
 * `multi`. Names are matched as given. */
static void add_multi(cJSON *single, cJSON *multi, const char *name,
                      const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(single, name);
    add_string(single, name, value);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(multi, name);
    if (!list) {
        list = xjson(cJSON_CreateArray());
        xjson_add(multi, name, list);
    }
    xjson_append(list, cJSON_CreateString(value));
}

static void add_headers(cJSON *event, const struct mg_request_info *ri)
{
    cJSON *h = add_object(event, "headers");
    cJSON *mh = add_object(event, "multiValueHeaders");
    for (int i = 0; i < ri->num_headers; i++)
        add_multi(h, mh, ri->http_headers[i].name, ri->http_headers[i].value);
}

/* queryStringParameters from "a=1&b=2", form-decoded; omitted when
 * there is no query string, as API Gateway does. */
static void add_query(cJSON *event, const char *qs)
{
    if (!qs || !*qs)
        return;
    cJSON *q = add_object(event, "queryStringParameters");
    cJSON *mq = add_object(event, "multiValueQueryStringParameters");
    size_t len = strlen(qs);
    char *name = xmalloc(len + 1), *value = xmalloc(len + 1);
    for (const char *p = qs; *p;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t nlen = eq ? (size_t)(eq - p) : n;
        if (nlen > 0 &&
            mg_url_decode(p, (int)nlen, name, (int)len + 1, 1) >= 0 &&
            mg_url_decode(eq ? eq + 1 : "", eq ? (int)(n - nlen - 1) : 0, value,
                          (int)len + 1, 1) >= 0)
            add_multi(q, mq, name, value);
        p += n + (end ? 1 : 0);
    }
    free(name);
    free(value);
}

char *wsevent_connect(const struct wsevent_source *src,
                      const struct mg_request_info *ri,
                      char request_id[WSEVENT_ID_SIZE])
{
    cJSON *event = xjson(cJSON_CreateObject());
    add_headers(event, ri);
    add_query(event, ri->query_string);
    add_request_context(event, src, "$connect", "CONNECT", request_id);
    xjson_add(event, "isBase64Encoded", cJSON_CreateFalse());
    return print_event(event);
}

char *wsevent_message(const struct wsevent_source *src, const char *route,
                      int binary, const char *data, size_t len,
                      char request_id[WSEVENT_ID_SIZE])
{
    cJSON *event = xjson(cJSON_CreateObject());
    add_request_context(event, src, route, "MESSAGE", request_id);
    char *text = binary ? base64_encode(data, len, BASE64_STD, NULL)
                        : xstrndup(data, len);
    add_string(event, "body", text);
    free(text);
    xjson_add(event, "isBase64Encoded", cJSON_CreateBool(binary));
    return print_event(event);
}

char *wsevent_disconnect(const struct wsevent_source *src,
                         char request_id[WSEVENT_ID_SIZE])
{
    cJSON *event = xjson(cJSON_CreateObject());
    cJSON *h = add_object(event, "headers");
    cJSON *mh = add_object(event, "multiValueHeaders");
    add_multi(h, mh, "Host", src->domain);
    add_request_context(event, src, "$disconnect", "DISCONNECT", request_id);
    xjson_add(event, "isBase64Encoded", cJSON_CreateFalse());
    return print_event(event);
}

const char *wsevent_route(const char *body, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const char *action = json_string_member(j, "action");
    const char *route = "$default";
    for (size_t i = 0; action && i < sizeof(ROUTES) / sizeof(*ROUTES); i++)
        if (strcmp(action, ROUTES[i]) == 0 && strcmp(ROUTES[i], "$connect") &&
            strcmp(ROUTES[i], "$disconnect"))
            route = ROUTES[i];
    cJSON_Delete(j);
    return route;
}

int wsevent_answer_status(const char *answer, char **body)
{
    cJSON *a = cJSON_Parse(answer);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(a, "statusCode");
    const char *b = json_string_member(a, "body");
    int status = cJSON_IsNumber(sc) ? (int)sc->valuedouble : 200;
    if (body)
        *body = b ? xstrdup(b) : NULL;
    cJSON_Delete(a);
    return status;
}

/* The WebSocket API and its Management API, as API Gateway serves them. */
#include <cjson/cJSON.h>
#include <civetweb.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "gateway.h"
#include "xmalloc.h"

/*
 * API Gateway Developer Guide, "WebSocket API quotas": a message is at
 * most 128 KB; larger ones close the connection with 1009. The same cap
 * applies to PostToConnection's body.
 */
#define MAX_MESSAGE_BYTES ((size_t)128 * 1024)
#define ID_BYTES 11 /* 16 base64 characters, the last one '=' */
#define ID_SIZE 24

/* One WebSocket connection, from its $connect until its close. */
struct conn {
    char id[ID_SIZE];
    struct mg_connection *mc;
    int open;    /* upgraded; the Management API may use it */
    int closing; /* the gateway sent a close frame (quota) */
    int64_t connected_ms, last_active_ms;
    char source_ip[48];
    char *user_agent;
    int close_code;
    char close_reason[124];
    char *frag; /* a fragmented message being assembled */
    size_t frag_len;
    int frag_binary;
    struct conn *next;
};

struct wsapi {
    struct mg_context *ctx;
    struct invoker *inv;
    char *stage;
    char api_id[16];
    char domain[32]; /* "127.0.0.1:PORT" */
    char mgmt_prefix[160];
    int port;
    pthread_mutex_t lock; /* the list, and the life of each mc in it */
    struct conn *conns;
    long idle_timeout_ms, max_connection_ms;
    pthread_t reaper;
    int reaper_started;
    pthread_mutex_t reaper_lock;
    pthread_cond_t reaper_wake;
    int stopping;
};

/*
 * The routes this API has ("Working with routes for WebSocket APIs"):
 * $request.body.action picks a route whose key equals it, else $default.
 */
static const char *const ROUTES[] = {"$connect", "$disconnect", "$default"};

static struct conn *find(struct wsapi *ws, const char *id)
{
    for (struct conn *c = ws->conns; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    free(c->user_agent);
    free(c->frag);
    free(c);
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
 * messageDirection, connectionId, requestId, extendedRequestId, ...).
 * `request_id` gets the requestId used.
 */
static cJSON *request_context(const struct wsapi *ws, const struct conn *c,
                              const char *route, const char *type,
                              char *request_id)
{
    cJSON *ctx = cJSON_CreateObject();
    int64_t now = gateway_now_ms();
    char rt[40], msg_id[ID_SIZE];
    request_time(now, rt, sizeof(rt));
    gateway_random_id(request_id, ID_BYTES);
    cJSON_AddStringToObject(ctx, "routeKey", route);
    if (strcmp(type, "MESSAGE") == 0) {
        gateway_random_id(msg_id, ID_BYTES);
        cJSON_AddStringToObject(ctx, "messageId", msg_id);
    }
    if (strcmp(type, "DISCONNECT") == 0) {
        cJSON_AddNumberToObject(ctx, "disconnectStatusCode", c->close_code);
        cJSON_AddStringToObject(ctx, "disconnectReason", c->close_reason);
    }
    cJSON_AddStringToObject(ctx, "eventType", type);
    cJSON_AddStringToObject(ctx, "extendedRequestId", request_id);
    cJSON_AddStringToObject(ctx, "requestTime", rt);
    cJSON_AddStringToObject(ctx, "messageDirection", "IN");
    cJSON_AddStringToObject(ctx, "stage", ws->stage);
    cJSON_AddNumberToObject(ctx, "connectedAt", (double)c->connected_ms);
    cJSON_AddNumberToObject(ctx, "requestTimeEpoch", (double)now);
    cJSON *id = cJSON_AddObjectToObject(ctx, "identity");
    cJSON_AddStringToObject(id, "sourceIp", c->source_ip);
    if (c->user_agent)
        cJSON_AddStringToObject(id, "userAgent", c->user_agent);
    cJSON_AddStringToObject(ctx, "requestId", request_id);
    cJSON_AddStringToObject(ctx, "domainName", ws->domain);
    cJSON_AddStringToObject(ctx, "connectionId", c->id);
    cJSON_AddStringToObject(ctx, "apiId", ws->api_id);
    return ctx;
}

/* Adds name → value to `single` (last value wins) and to the array of
 * `multi`. Names are matched as given. */
static void add_multi(cJSON *single, cJSON *multi, const char *name,
                      const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(single, name);
    cJSON_AddStringToObject(single, name, value);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(multi, name);
    if (!list)
        list = cJSON_AddArrayToObject(multi, name);
    cJSON_AddItemToArray(list, cJSON_CreateString(value));
}

static void add_headers(cJSON *event, const struct mg_request_info *ri)
{
    cJSON *h = cJSON_AddObjectToObject(event, "headers");
    cJSON *mh = cJSON_AddObjectToObject(event, "multiValueHeaders");
    for (int i = 0; i < ri->num_headers; i++)
        add_multi(h, mh, ri->http_headers[i].name, ri->http_headers[i].value);
}

/* queryStringParameters from "a=1&b=2", form-decoded; omitted when
 * there is no query string, as API Gateway does. */
static void add_query(cJSON *event, const char *qs)
{
    if (!qs || !*qs)
        return;
    cJSON *q = cJSON_AddObjectToObject(event, "queryStringParameters");
    cJSON *mq =
        cJSON_AddObjectToObject(event, "multiValueQueryStringParameters");
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

static char *print_event(cJSON *event)
{
    char *s = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    if (!s) {
        gateway_log("out of memory printing an event");
        abort();
    }
    return s;
}

static void refuse(const struct mg_connection *cmc, int status,
                   const char *body)
{
    struct mg_connection *mc = (struct mg_connection *)cmc;
    const char *text = mg_get_response_code_text(mc, status);
    mg_printf(mc,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
              status, text ? text : "Error", strlen(body), body);
}

/* The statusCode of a Lambda proxy answer (200 when absent). */
static int answer_status(const char *answer, char **body)
{
    cJSON *a = cJSON_Parse(answer);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(a, "statusCode");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(a, "body");
    int status = cJSON_IsNumber(sc) ? (int)sc->valuedouble : 200;
    if (body)
        *body = cJSON_IsString(b) ? xstrdup(b->valuestring) : NULL;
    cJSON_Delete(a);
    return status;
}

static int path_ok(const struct wsapi *ws, const char *uri)
{
    if (!uri || strcmp(uri, "/") == 0)
        return 1;
    size_t n = strlen(ws->stage);
    return uri[0] == '/' && strncmp(uri + 1, ws->stage, n) == 0 &&
           (uri[n + 1] == '\0' || strcmp(uri + n + 1, "/") == 0);
}

/* $connect: the function decides whether the upgrade happens. */
static int on_connect(const struct mg_connection *mc, void *data)
{
    struct wsapi *ws = data;
    const struct mg_request_info *ri = mg_get_request_info(mc);
    if (!path_ok(ws, ri->local_uri)) {
        refuse(mc, 404, "{\"message\":\"Not Found\"}");
        return 1;
    }
    struct conn *c = xcalloc(1, sizeof(*c));
    gateway_random_id(c->id, ID_BYTES);
    c->connected_ms = c->last_active_ms = gateway_now_ms();
    snprintf(c->source_ip, sizeof(c->source_ip), "%s", ri->remote_addr);
    const char *ua = mg_get_header(mc, "User-Agent");
    c->user_agent = ua ? xstrdup(ua) : NULL;
    c->mc = (struct mg_connection *)mc;
    char request_id[ID_SIZE], label[64], *answer = NULL, *body = NULL;
    cJSON *event = cJSON_CreateObject();
    add_headers(event, ri);
    add_query(event, ri->query_string);
    cJSON_AddItemToObject(
        event, "requestContext",
        request_context(ws, c, "$connect", "CONNECT", request_id));
    cJSON_AddBoolToObject(event, "isBase64Encoded", 0);
    char *text = print_event(event);
    snprintf(label, sizeof(label), "$connect %s", c->id);
    int rc = invoker_invoke(ws->inv, label, text, &answer);
    free(text);
    int status = rc < 0 ? 503 : rc > 0 ? 500 : answer_status(answer, &body);
    free(answer);
    if (status >= 400) {
        /* "Setting up a $connect route": an error status refuses it. */
        refuse(mc, status,
               body ? body : "{\"message\":\"Internal server error\"}");
        free(body);
        conn_free(c);
        return 1;
    }
    free(body);
    mg_set_user_connection_data(mc, c);
    pthread_mutex_lock(&ws->lock);
    c->next = ws->conns;
    ws->conns = c;
    pthread_mutex_unlock(&ws->lock);
    return 0;
}

static void on_ready(struct mg_connection *mc, void *data)
{
    struct wsapi *ws = data;
    struct conn *c = mg_get_user_connection_data(mc);
    pthread_mutex_lock(&ws->lock);
    if (c) {
        c->open = 1;
        c->last_active_ms = gateway_now_ms(); /* idle from the upgrade */
    }
    pthread_mutex_unlock(&ws->lock);
}

/* The route key for a message body: $request.body.action when it names
 * one of ROUTES, else $default. */
static const char *select_route(const char *body, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "action");
    const char *route = "$default";
    for (size_t i = 0;
         cJSON_IsString(a) && i < sizeof(ROUTES) / sizeof(*ROUTES); i++)
        if (strcmp(a->valuestring, ROUTES[i]) == 0 &&
            strcmp(ROUTES[i], "$connect") && strcmp(ROUTES[i], "$disconnect"))
            route = ROUTES[i];
    cJSON_Delete(j);
    return route;
}

static char *base64(const char *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data,
                    (int)len);
    return out;
}

/* A MESSAGE event; its $default answer's body goes back as a frame. */
static void on_message(struct wsapi *ws, struct mg_connection *mc,
                       struct conn *c, int binary, const char *data, size_t len)
{
    char request_id[ID_SIZE], label[96], *answer = NULL, *body = NULL;
    const char *route = binary ? "$default" : select_route(data, len);
    cJSON *event = cJSON_CreateObject();
    cJSON_AddItemToObject(event, "requestContext",
                          request_context(ws, c, route, "MESSAGE", request_id));
    char *text = binary ? base64(data, len) : xstrndup(data, len);
    cJSON_AddStringToObject(event, "body", text);
    free(text);
    cJSON_AddBoolToObject(event, "isBase64Encoded", binary);
    text = print_event(event);
    snprintf(label, sizeof(label), "MESSAGE %s %s", c->id, route);
    int rc = invoker_invoke(ws->inv, label, text, &answer);
    free(text);
    if (rc == 0) {
        answer_status(answer, &body);
    } else if (rc > 0) {
        /* What API Gateway sends the client when the integration fails. */
        body = xmalloc(200);
        snprintf(body, 200,
                 "{\"message\": \"Internal server error\", \"connectionId\":"
                 "\"%s\", \"requestId\":\"%s\"}",
                 c->id, request_id);
    }
    if (body)
        mg_websocket_write(mc, MG_WEBSOCKET_OPCODE_TEXT, body, strlen(body));
    free(body);
    free(answer);
}

static void close_with(struct mg_connection *mc, int code, const char *why)
{
    char frame[128];
    size_t n = strlen(why) < 120 ? strlen(why) : 120;
    frame[0] = (char)((code >> 8) & 0xff);
    frame[1] = (char)(code & 0xff);
    memcpy(frame + 2, why, n);
    mg_websocket_write(mc, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, frame, n + 2);
}

static int on_data(struct mg_connection *mc, int bits, char *data, size_t len,
                   void *cb)
{
    struct wsapi *ws = cb;
    struct conn *c = mg_get_user_connection_data(mc);
    int op = bits & 0x0f;
    if (!c)
        return 0;
    pthread_mutex_lock(&ws->lock); /* the Management API reads these */
    c->last_active_ms = gateway_now_ms();
    if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
        c->close_code =
            len >= 2 ? ((unsigned char)data[0] << 8) | (unsigned char)data[1]
                     : 1005;
        snprintf(c->close_reason, sizeof(c->close_reason), "%.*s",
                 len > 2 ? (int)(len - 2) : 0, len > 2 ? data + 2 : "");
    }
    pthread_mutex_unlock(&ws->lock);
    switch (op) {
    case MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE:
        return 0;
    case MG_WEBSOCKET_OPCODE_PING:
        mg_websocket_write(mc, MG_WEBSOCKET_OPCODE_PONG, data, len);
        return 1;
    case MG_WEBSOCKET_OPCODE_PONG:
        return 1;
    case MG_WEBSOCKET_OPCODE_TEXT:
    case MG_WEBSOCKET_OPCODE_BINARY:
    case MG_WEBSOCKET_OPCODE_CONTINUATION:
        break;
    default:
        return 1;
    }
    if (c->frag_len + len > MAX_MESSAGE_BYTES) {
        pthread_mutex_lock(&ws->lock);
        c->close_code = 1009;
        snprintf(c->close_reason, sizeof(c->close_reason), "Message too big");
        pthread_mutex_unlock(&ws->lock);
        close_with(mc, 1009, "Message too big");
        return 0;
    }
    if (!(bits & 0x80) || c->frag) { /* part of a fragmented message */
        if (!c->frag)
            c->frag_binary = op == MG_WEBSOCKET_OPCODE_BINARY;
        c->frag = xrealloc(c->frag, c->frag_len + len + 1);
        memcpy(c->frag + c->frag_len, data, len);
        c->frag_len += len;
        if (!(bits & 0x80))
            return 1;
        on_message(ws, mc, c, c->frag_binary, c->frag, c->frag_len);
        free(c->frag);
        c->frag = NULL;
        c->frag_len = 0;
        return 1;
    }
    on_message(ws, mc, c, op == MG_WEBSOCKET_OPCODE_BINARY, data, len);
    return 1;
}

/* The connection is gone: $disconnect (unless the gateway is stopping). */
static void on_close(const struct mg_connection *mc, void *data)
{
    struct wsapi *ws = data;
    struct conn *c = mg_get_user_connection_data(mc);
    if (!c)
        return;
    pthread_mutex_lock(&ws->lock);
    for (struct conn **p = &ws->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&ws->lock);
    mg_set_user_connection_data(mc, NULL);
    if (c->close_code <= 0) {
        c->close_code = 1006;
        snprintf(c->close_reason, sizeof(c->close_reason),
                 "Connection closed abnormally");
    }
    char request_id[ID_SIZE], label[64], *answer = NULL;
    cJSON *event = cJSON_CreateObject();
    cJSON *h = cJSON_AddObjectToObject(event, "headers");
    cJSON *mh = cJSON_AddObjectToObject(event, "multiValueHeaders");
    add_multi(h, mh, "Host", ws->domain);
    cJSON_AddItemToObject(
        event, "requestContext",
        request_context(ws, c, "$disconnect", "DISCONNECT", request_id));
    cJSON_AddBoolToObject(event, "isBase64Encoded", 0);
    char *text = print_event(event);
    snprintf(label, sizeof(label), "$disconnect %s (%d)", c->id, c->close_code);
    invoker_invoke(ws->inv, label, text, &answer);
    free(text);
    free(answer);
    conn_free(c);
}

static void mgmt_reply(struct mg_connection *mc, int status,
                       const char *error_type, const char *body)
{
    const char *text = mg_get_response_code_text(mc, status);
    mg_printf(mc,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
              "%s%s%sContent-Length: %zu\r\n\r\n%s",
              status, text ? text : "", error_type ? "x-amzn-ErrorType: " : "",
              error_type ? error_type : "", error_type ? "\r\n" : "",
              strlen(body), body);
}

/* Reads at most MAX_MESSAGE_BYTES of body; NULL when over. */
static char *read_body(struct mg_connection *mc, size_t *len)
{
    char *b = xmalloc(MAX_MESSAGE_BYTES + 1);
    size_t n = 0;
    int got;
    while (n <= MAX_MESSAGE_BYTES &&
           (got = mg_read(mc, b + n, MAX_MESSAGE_BYTES + 1 - n)) > 0)
        n += (size_t)got;
    if (n > MAX_MESSAGE_BYTES) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* GET's answer: {"connectedAt","identity","lastActiveAt"}, ISO 8601. */
static char *connection_info(const struct conn *c)
{
    char at[CLOCK_RFC3339_SIZE], last[CLOCK_RFC3339_SIZE];
    clock_rfc3339(c->connected_ms, at);
    clock_rfc3339(c->last_active_ms, last);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "connectedAt", at);
    cJSON *id = cJSON_AddObjectToObject(o, "identity");
    cJSON_AddStringToObject(id, "sourceIp", c->source_ip);
    cJSON_AddStringToObject(id, "userAgent",
                            c->user_agent ? c->user_agent : "");
    cJSON_AddStringToObject(o, "lastActiveAt", last);
    return print_event(o);
}

/*
 * API Gateway Management API ("Use @connections commands in your backend
 * service"): POST @connections/{id} sends the body as a frame, GET
 * describes the connection, DELETE closes it; a connection that is not
 * (or no longer) open answers 410 GoneException. Requests are not
 * signature-checked here: this is a loopback development server.
 */
static int on_mgmt(struct mg_connection *mc, void *data)
{
    struct wsapi *ws = data;
    const struct mg_request_info *ri = mg_get_request_info(mc);
    const char *uri = ri->local_uri ? ri->local_uri : "";
    const char *id = uri + strlen(ws->mgmt_prefix);
    const char *m = ri->request_method;
    size_t len = 0;
    char *body = NULL, *info = NULL;
    if (strncmp(uri, ws->mgmt_prefix, strlen(ws->mgmt_prefix)) != 0 || !*id ||
        strchr(id, '/')) {
        mgmt_reply(mc, 404, NULL, "{\"message\":\"Not Found\"}");
        return 404;
    }
    if (strcmp(m, "POST") == 0 && !(body = read_body(mc, &len))) {
        mgmt_reply(mc, 413, "PayloadTooLargeException",
                   "{\"message\":\"Payload too large\"}");
        return 413;
    }
    int status = 200;
    pthread_mutex_lock(&ws->lock);
    struct conn *c = find(ws, id);
    if (!c || !c->open)
        status = 410;
    else if (strcmp(m, "POST") == 0)
        status =
            mg_websocket_write(c->mc, MG_WEBSOCKET_OPCODE_TEXT, body, len) > 0
                ? 200
                : 410;
    else if (strcmp(m, "GET") == 0)
        info = connection_info(c);
    else if (strcmp(m, "DELETE") == 0) {
        c->close_code = 1000;
        snprintf(c->close_reason, sizeof(c->close_reason),
                 "Connection deleted");
        close_with(c->mc, 1000, "Connection deleted");
        c->open = 0;
        status = 204;
    } else
        status = 405;
    pthread_mutex_unlock(&ws->lock);
    gateway_log("@connections %s %s -> %d", m, id, status);
    if (status == 410)
        mgmt_reply(mc, 410, "GoneException", "{\"message\":null}");
    else
        mgmt_reply(mc, status, NULL, info ? info : status == 405 ? "{}" : "");
    free(info);
    free(body);
    return status;
}

/*
 * API Gateway's quotas on a connection ("Amazon API Gateway quotas for
 * WebSocket APIs"): closed after the idle timeout with no message from
 * the client, and at the latest after the maximum duration, with 1001
 * "Going away". A thread looks every 250 ms (or sooner for short test
 * settings); $disconnect follows when the client answers the close.
 */
static void reap(struct wsapi *ws)
{
    int64_t now = gateway_now_ms();
    pthread_mutex_lock(&ws->lock);
    for (struct conn *c = ws->conns; c; c = c->next) {
        if (!c->open || c->closing)
            continue;
        int idle = now - c->last_active_ms >= ws->idle_timeout_ms;
        if (!idle && now - c->connected_ms < ws->max_connection_ms)
            continue;
        c->closing = 1;
        c->open = 0; /* the Management API answers 410 from now on */
        c->close_code = 1001;
        snprintf(c->close_reason, sizeof(c->close_reason), "Going away");
        close_with(c->mc, 1001, "Going away");
        gateway_log("closing %s: %s", c->id,
                    idle ? "idle timeout" : "maximum connection duration");
    }
    pthread_mutex_unlock(&ws->lock);
}

static void *reaper_main(void *arg)
{
    struct wsapi *ws = arg;
    long step = ws->idle_timeout_ms < ws->max_connection_ms
                    ? ws->idle_timeout_ms
                    : ws->max_connection_ms;
    step = step / 4 < 250 ? step / 4 : 250;
    pthread_mutex_lock(&ws->reaper_lock);
    while (!ws->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (step % 1000) * 1000000L;
        until.tv_sec += step / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&ws->reaper_wake, &ws->reaper_lock, &until);
        if (ws->stopping)
            break;
        pthread_mutex_unlock(&ws->reaper_lock);
        reap(ws);
        pthread_mutex_lock(&ws->reaper_lock);
    }
    pthread_mutex_unlock(&ws->reaper_lock);
    return NULL;
}

struct wsapi *wsapi_new(const struct gateway_options *o, struct invoker *inv)
{
    struct wsapi *ws = xcalloc(1, sizeof(*ws));
    pthread_mutex_init(&ws->lock, NULL);
    ws->inv = inv;
    ws->stage = xstrdup(o->stage);
    gateway_random_id(ws->api_id, 9);
    for (char *p = ws->api_id; *p; p++) /* API ids are 10 [a-z0-9] */
        *p = (char)("abcdefghijklmnopqrstuvwxyz0123456789"[(unsigned char)*p %
                                                           36]);
    ws->api_id[10] = '\0';
    ws->idle_timeout_ms =
        o->idle_timeout_ms > 0 ? o->idle_timeout_ms : GATEWAY_IDLE_TIMEOUT_MS;
    ws->max_connection_ms = o->max_connection_ms > 0
                                ? o->max_connection_ms
                                : GATEWAY_MAX_CONNECTION_MS;
    pthread_mutex_init(&ws->reaper_lock, NULL);
    pthread_cond_init(&ws->reaper_wake, NULL);
    char ports[32], threads[16], ws_timeout[32];
    snprintf(ports, sizeof(ports), "127.0.0.1:%d", o->port);
    /* The browser console's files are served when a folder is given. */
    const char *doc_root = o->console_dir ? "document_root" : NULL;
    /* A WebSocket holds a civetweb worker thread while open: one per
     * connection allowed, and some for the Management API's requests.
     * civetweb's own read timeout is a backstop behind the reaper's. */
    snprintf(threads, sizeof(threads), "%d",
             (o->max_connections > 0 ? o->max_connections
                                     : GATEWAY_MAX_CONNECTIONS) +
                 64);
    snprintf(ws_timeout, sizeof(ws_timeout), "%ld",
             ws->idle_timeout_ms + 60000);
    /* tcp_nodelay: a frame goes out at once; with Nagle's algorithm a
     * small write waits for the peer's delayed ACK (~40 ms a step). */
    const char *opts[] = {"listening_ports",
                          ports,
                          "num_threads",
                          threads,
                          "websocket_timeout_ms",
                          ws_timeout,
                          "enable_keep_alive",
                          "yes",
                          "tcp_nodelay",
                          "1",
                          "listen_backlog",
                          "1024",
                          "connection_queue",
                          "1024",
                          "enable_directory_listing",
                          "no",
                          doc_root,
                          o->console_dir,
                          NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    ws->ctx = mg_start(&cb, ws, opts);
    struct mg_server_port port;
    if (!ws->ctx || mg_get_server_ports(ws->ctx, 1, &port) != 1) {
        gateway_log("cannot listen on %s (port in use?)", ports);
        wsapi_free(ws);
        return NULL;
    }
    ws->port = port.port;
    snprintf(ws->domain, sizeof(ws->domain), "127.0.0.1:%d", ws->port);
    snprintf(ws->mgmt_prefix, sizeof(ws->mgmt_prefix), "/%s/@connections/",
             ws->stage);
    mg_set_request_handler(ws->ctx, ws->mgmt_prefix, on_mgmt, ws);
    mg_set_websocket_handler(ws->ctx, "/", on_connect, on_ready, on_data,
                             on_close, ws);
    ws->reaper_started =
        pthread_create(&ws->reaper, NULL, reaper_main, ws) == 0;
    if (!ws->reaper_started)
        gateway_log("no reaper thread: idle and duration quotas are off");
    return ws;
}

int wsapi_port(const struct wsapi *ws)
{
    return ws->port;
}

void wsapi_free(struct wsapi *ws)
{
    if (!ws)
        return;
    if (ws->reaper_started) {
        pthread_mutex_lock(&ws->reaper_lock);
        ws->stopping = 1;
        pthread_cond_signal(&ws->reaper_wake);
        pthread_mutex_unlock(&ws->reaper_lock);
        pthread_join(ws->reaper, NULL);
    }
    if (ws->ctx)
        mg_stop(ws->ctx);
    while (ws->conns) { /* handshakes that failed after $connect */
        struct conn *c = ws->conns;
        ws->conns = c->next;
        conn_free(c);
    }
    free(ws->stage);
    pthread_mutex_destroy(&ws->lock);
    pthread_mutex_destroy(&ws->reaper_lock);
    pthread_cond_destroy(&ws->reaper_wake);
    free(ws);
}

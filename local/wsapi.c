/* The WebSocket API and its Management API, as API Gateway serves them. */
#include "wsapi.h"

#include <cjson/cJSON.h>
#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "invoker.h"
#include "service.h"
#include "worker.h"
#include "wsevent.h"
#include "xmalloc.h"

/*
 * API Gateway Developer Guide, "WebSocket API quotas": a message is at
 * most 128 KB; larger ones close the connection with 1009. The same cap
 * applies to PostToConnection's body.
 */
#define MAX_MESSAGE_BYTES ((size_t)128 * 1024)

/* One WebSocket connection, from its $connect until its close. */
struct conn {
    char id[WSEVENT_ID_SIZE];
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
    struct worker reaper; /* closes connections past a quota */
};

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

/* What the events say about `c` (borrowing from `ws` and `c`). */
static struct wsevent_source source_of(const struct wsapi *ws,
                                       const struct conn *c)
{
    struct wsevent_source src = {.stage = ws->stage,
                                 .domain = ws->domain,
                                 .api_id = ws->api_id,
                                 .connection_id = c->id,
                                 .connected_ms = c->connected_ms,
                                 .source_ip = c->source_ip,
                                 .user_agent = c->user_agent,
                                 .close_code = c->close_code,
                                 .close_reason = c->close_reason};
    return src;
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
    service_random_id(c->id, WSEVENT_ID_BYTES);
    c->connected_ms = c->last_active_ms = clock_now_ms();
    snprintf(c->source_ip, sizeof(c->source_ip), "%s", ri->remote_addr);
    const char *ua = mg_get_header(mc, "User-Agent");
    c->user_agent = ua ? xstrdup(ua) : NULL;
    c->mc = (struct mg_connection *)mc;
    char request_id[WSEVENT_ID_SIZE], label[64], *answer = NULL, *body = NULL;
    struct wsevent_source src = source_of(ws, c);
    char *text = wsevent_connect(&src, ri, request_id);
    snprintf(label, sizeof(label), "$connect %s", c->id);
    int rc = invoker_invoke(ws->inv, label, text, &answer);
    free(text);
    int status = rc < 0   ? 503
                 : rc > 0 ? 500
                          : wsevent_answer_status(answer, &body);
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
        c->last_active_ms = clock_now_ms(); /* idle from the upgrade */
    }
    pthread_mutex_unlock(&ws->lock);
}

/* A MESSAGE event; its $default answer's body goes back as a frame. */
static void on_message(struct wsapi *ws, struct mg_connection *mc,
                       struct conn *c, int binary, const char *data, size_t len)
{
    char request_id[WSEVENT_ID_SIZE], label[96], *answer = NULL, *body = NULL;
    const char *route = binary ? "$default" : wsevent_route(data, len);
    struct wsevent_source src = source_of(ws, c);
    char *text = wsevent_message(&src, route, binary, data, len, request_id);
    snprintf(label, sizeof(label), "MESSAGE %s %s", c->id, route);
    int rc = invoker_invoke(ws->inv, label, text, &answer);
    free(text);
    if (rc == 0) {
        wsevent_answer_status(answer, &body);
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
    c->last_active_ms = clock_now_ms();
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
    char request_id[WSEVENT_ID_SIZE], label[64], *answer = NULL;
    struct wsevent_source src = source_of(ws, c);
    char *text = wsevent_disconnect(&src, request_id);
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
    cJSON *o = xjson(cJSON_CreateObject()), *id = xjson(cJSON_CreateObject());
    xjson_add(o, "connectedAt", cJSON_CreateString(at));
    xjson_add(o, "identity", id);
    xjson_add(id, "sourceIp", cJSON_CreateString(c->source_ip));
    xjson_add(id, "userAgent",
              cJSON_CreateString(c->user_agent ? c->user_agent : ""));
    xjson_add(o, "lastActiveAt", cJSON_CreateString(last));
    char *text = xjson_print(o);
    cJSON_Delete(o);
    return text;
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
    service_log("@connections %s %s -> %d", m, id, status);
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
    int64_t now = clock_now_ms();
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
        service_log("closing %s: %s", c->id,
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
    while (!worker_pause_ms(&ws->reaper, step))
        reap(ws);
    return NULL;
}

struct wsapi *wsapi_new(const struct wsapi_options *o, struct invoker *inv)
{
    struct wsapi *ws = xcalloc(1, sizeof(*ws));
    pthread_mutex_init(&ws->lock, NULL);
    ws->inv = inv;
    ws->stage = xstrdup(o->stage);
    service_random_id(ws->api_id, 9);
    for (char *p = ws->api_id; *p; p++) /* API ids are 10 [a-z0-9] */
        *p = (char)("abcdefghijklmnopqrstuvwxyz0123456789"[(unsigned char)*p %
                                                           36]);
    ws->api_id[10] = '\0';
    ws->idle_timeout_ms =
        o->idle_timeout_ms > 0 ? o->idle_timeout_ms : WSAPI_IDLE_TIMEOUT_MS;
    ws->max_connection_ms = o->max_connection_ms > 0 ? o->max_connection_ms
                                                     : WSAPI_MAX_CONNECTION_MS;
    worker_init(&ws->reaper);
    char ports[32], threads[16], ws_timeout[32];
    snprintf(ports, sizeof(ports), "127.0.0.1:%d", o->port);
    /* The browser console's files are served when a folder is given. */
    const char *doc_root = o->console_dir ? "document_root" : NULL;
    /* A WebSocket holds a civetweb worker thread while open: one per
     * connection allowed, and some for the Management API's requests.
     * civetweb's own read timeout is a backstop behind the reaper's. */
    snprintf(
        threads, sizeof(threads), "%d",
        (o->max_connections > 0 ? o->max_connections : WSAPI_MAX_CONNECTIONS) +
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
    char failure[80];
    snprintf(failure, sizeof(failure), "cannot listen on %s (port in use?)",
             ports);
    ws->ctx = service_listen(opts, ws, failure, &ws->port);
    if (!ws->ctx) {
        wsapi_free(ws);
        return NULL;
    }
    snprintf(ws->domain, sizeof(ws->domain), "127.0.0.1:%d", ws->port);
    snprintf(ws->mgmt_prefix, sizeof(ws->mgmt_prefix), "/%s/@connections/",
             ws->stage);
    mg_set_request_handler(ws->ctx, ws->mgmt_prefix, on_mgmt, ws);
    mg_set_websocket_handler(ws->ctx, "/", on_connect, on_ready, on_data,
                             on_close, ws);
    if (worker_start(&ws->reaper, reaper_main, ws) != 0)
        service_log("no reaper thread: idle and duration quotas are off");
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
    worker_stop(&ws->reaper);
    if (ws->ctx)
        mg_stop(ws->ctx);
    while (ws->conns) { /* handshakes that failed after $connect */
        struct conn *c = ws->conns;
        ws->conns = c->next;
        conn_free(c);
    }
    free(ws->stage);
    pthread_mutex_destroy(&ws->lock);
    worker_cleanup(&ws->reaper);
    free(ws);
}

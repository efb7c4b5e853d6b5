/* A WebSocket client for end-to-end tests (civetweb's client API). */
#include "ws_client.h"

#include <civetweb.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 6455 §5.2: the FIN bit and the opcode in a frame's first byte. */
#define FIN_BIT 0x80
#define OPCODE_MASK 0x0f

/* A frame as received; `json` is NULL when the text is not JSON. */
struct frame {
    char *text;
    cJSON *json;
    struct frame *next;
};

struct ws_client {
    struct mg_connection *conn;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct frame *head; /* oldest first */
    struct frame *tail;
    int closed;
    /* A fragmented message being put together (RFC 6455 §5.4). */
    char *partial;
    size_t partial_len;
    int partial_text; /* a text message, not binary */
};

void ws_client_library_init(void)
{
    mg_init_library(0);
}

void ws_client_library_cleanup(void)
{
    mg_exit_library();
}

static void *xcalloc_or_die(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "ws_client: out of memory\n");
        abort();
    }
    return p;
}

/* Appends `len` bytes to the message being assembled. */
static void append_partial(struct ws_client *c, const char *data, size_t len)
{
    char *p = realloc(c->partial, c->partial_len + len + 1);
    if (!p) {
        fprintf(stderr, "ws_client: out of memory\n");
        abort();
    }
    memcpy(p + c->partial_len, data, len);
    c->partial = p;
    c->partial_len += len;
    c->partial[c->partial_len] = '\0';
}

/* Moves the assembled message into the inbox (lock held). */
static void deliver(struct ws_client *c)
{
    struct frame *f = xcalloc_or_die(1, sizeof(*f));
    f->text = c->partial ? c->partial : strdup("");
    /* Only text frames carry the protocol; a binary one stays unparsed,
     * so no wait matches it and it shows up as a stray frame. */
    f->json = c->partial_text ? cJSON_Parse(f->text) : NULL;
    c->partial = NULL;
    c->partial_len = 0;
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    pthread_cond_broadcast(&c->changed);
}

/* civetweb's reader thread: one call per frame. Returns 0 to close. */
static int on_data(struct mg_connection *conn, int bits, char *data, size_t len,
                   void *arg)
{
    (void)conn;
    struct ws_client *c = arg;
    int opcode = bits & OPCODE_MASK;
    int keep_open = 1;
    pthread_mutex_lock(&c->lock);
    switch (opcode) {
    case MG_WEBSOCKET_OPCODE_TEXT:
    case MG_WEBSOCKET_OPCODE_BINARY:
        free(c->partial);
        c->partial = NULL;
        c->partial_len = 0;
        c->partial_text = opcode == MG_WEBSOCKET_OPCODE_TEXT;
        /* fall through */
    case MG_WEBSOCKET_OPCODE_CONTINUATION:
        append_partial(c, data, len);
        if (bits & FIN_BIT)
            deliver(c);
        break;
    case MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE:
        c->closed = 1;
        pthread_cond_broadcast(&c->changed);
        keep_open = 0;
        break;
    default: /* ping and pong: civetweb answers pings itself */
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return keep_open;
}

static void on_close(const struct mg_connection *conn, void *arg)
{
    (void)conn;
    struct ws_client *c = arg;
    pthread_mutex_lock(&c->lock);
    c->closed = 1;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

static void free_frames(struct frame *f)
{
    while (f) {
        struct frame *next = f->next;
        cJSON_Delete(f->json);
        free(f->text);
        free(f);
        f = next;
    }
}

static void client_free(struct ws_client *c)
{
    free_frames(c->head);
    free(c->partial);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

struct ws_client *ws_client_connect(const char *host, int port,
                                    const char *path, char *err,
                                    size_t err_size)
{
    struct ws_client *c = xcalloc_or_die(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->changed, &attr);
    pthread_condattr_destroy(&attr);
    err[0] = '\0';
    c->conn = mg_connect_websocket_client(host, port, 0, err, err_size, path,
                                          NULL, on_data, on_close, c);
    if (!c->conn) {
        if (!err[0])
            snprintf(err, err_size, "the upgrade of %s failed", path);
        client_free(c);
        return NULL;
    }
    return c;
}

int ws_client_upgrade_status(const char *host, int port, const char *path,
                             int timeout_ms, char *err, size_t err_size)
{
    err[0] = '\0';
    struct mg_connection *conn =
        mg_connect_client(host, port, 0, err, err_size);
    if (!conn)
        return -1;
    /* RFC 6455 §4.1: the opening handshake; the key is the RFC's sample. */
    int sent = mg_printf(conn,
                         "GET %s HTTP/1.1\r\n"
                         "Host: %s:%d\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "\r\n",
                         path, host, port);
    int status = -1;
    if (sent <= 0) {
        snprintf(err, err_size, "sending the upgrade request failed");
    } else if (mg_get_response(conn, err, err_size, timeout_ms) >= 0) {
        const struct mg_response_info *info = mg_get_response_info(conn);
        status = info ? info->status_code : -1;
    }
    mg_close_connection(conn);
    return status;
}

int ws_client_send(struct ws_client *c, const char *text)
{
    size_t len = strlen(text);
    int n =
        mg_websocket_client_write(c->conn, MG_WEBSOCKET_OPCODE_TEXT, text, len);
    return n > 0 ? 0 : -1;
}

/* The CLOCK_MONOTONIC time `ms` from now, for pthread_cond_timedwait. */
static void deadline_in(int ms, struct timespec *out)
{
    clock_gettime(CLOCK_MONOTONIC, out);
    out->tv_sec += ms / 1000;
    out->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}

static int matches(const struct frame *f, const char *type,
                   const char *request_id)
{
    if (!type && !request_id)
        return 1;
    if (!cJSON_IsObject(f->json))
        return 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->json, "type");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(f->json, "request_id");
    if (type && (!cJSON_IsString(t) || strcmp(t->valuestring, type) != 0))
        return 0;
    if (request_id &&
        (!cJSON_IsString(r) || strcmp(r->valuestring, request_id) != 0))
        return 0;
    return 1;
}

/* Unlinks and returns the oldest matching frame (lock held), or NULL. */
static struct frame *take(struct ws_client *c, const char *type,
                          const char *request_id)
{
    struct frame *prev = NULL;
    for (struct frame *f = c->head; f; prev = f, f = f->next) {
        if (!matches(f, type, request_id))
            continue;
        if (prev)
            prev->next = f->next;
        else
            c->head = f->next;
        if (c->tail == f)
            c->tail = prev;
        f->next = NULL;
        return f;
    }
    return NULL;
}

cJSON *ws_client_wait(struct ws_client *c, const char *type,
                      const char *request_id, int timeout_ms)
{
    struct timespec until;
    deadline_in(timeout_ms, &until);
    pthread_mutex_lock(&c->lock);
    struct frame *f;
    while (!(f = take(c, type, request_id)) && !c->closed) {
        if (pthread_cond_timedwait(&c->changed, &c->lock, &until) ==
            ETIMEDOUT) {
            f = take(c, type, request_id);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (!f)
        return NULL;
    cJSON *json = f->json;
    if (!json) /* not JSON: hand it over as a JSON string */
        json = cJSON_CreateString(f->text);
    free(f->text);
    free(f);
    return json;
}

size_t ws_client_count(struct ws_client *c, const char *type,
                       const char *request_id)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (struct frame *f = c->head; f; f = f->next)
        n += (size_t)matches(f, type, request_id);
    pthread_mutex_unlock(&c->lock);
    return n;
}

char *ws_client_dump(struct ws_client *c)
{
    pthread_mutex_lock(&c->lock);
    size_t size = 1;
    for (struct frame *f = c->head; f; f = f->next)
        size += strlen(f->text) + 1;
    char *out = xcalloc_or_die(1, size);
    char *p = out;
    for (struct frame *f = c->head; f; f = f->next) {
        size_t n = strlen(f->text);
        memcpy(p, f->text, n);
        p[n] = '\n';
        p += n + 1;
    }
    pthread_mutex_unlock(&c->lock);
    return out;
}

int ws_client_closed(struct ws_client *c)
{
    pthread_mutex_lock(&c->lock);
    int closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

void ws_client_close(struct ws_client *c, int timeout_ms)
{
    if (!c)
        return;
    /* RFC 6455 §5.5.1: a close frame with status 1000 (normal closure). */
    static const char normal[2] = {0x03, (char)0xe8};
    if (!ws_client_closed(c) &&
        mg_websocket_client_write(c->conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE,
                                  normal, sizeof(normal)) > 0) {
        struct timespec until;
        deadline_in(timeout_ms, &until);
        pthread_mutex_lock(&c->lock);
        while (!c->closed && pthread_cond_timedwait(&c->changed, &c->lock,
                                                    &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&c->lock);
    }
    /* Joins civetweb's reader thread, so no callback runs after this. */
    mg_close_connection(c->conn);
    client_free(c);
}

void ws_client_drop(struct ws_client *c)
{
    if (!c)
        return;
    mg_close_connection(c->conn);
    client_free(c);
}

/* The benchmark's events, made from the samples in deploy/events/. */
#include "events.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "xmalloc.h"

struct events {
    cJSON *connect, *message, *stream;
    char *token;
};

static cJSON *load(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench: cannot read %s\n", path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, k;
    do {
        if (cap - len < 4096)
            text = xrealloc(text, (cap = cap * 2 + 8192) + 1);
        k = fread(text + len, 1, cap - len, f);
        len += k;
    } while (k > 0);
    fclose(f);
    text[len] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        fprintf(stderr, "bench: %s is not JSON\n", path);
    return j;
}

struct events *events_load(const char *dir, const char *token)
{
    struct events *e = xcalloc(1, sizeof(*e));
    e->connect = load(dir, "connect.json");
    e->message = load(dir, "message.json");
    e->stream = load(dir, "stream.json");
    e->token = xstrdup(token);
    if (!e->connect || !e->message || !e->stream) {
        events_free(e);
        return NULL;
    }
    return e;
}

void events_free(struct events *e)
{
    if (!e)
        return;
    cJSON_Delete(e->connect);
    cJSON_Delete(e->message);
    cJSON_Delete(e->stream);
    free(e->token);
    free(e);
}

/* Sets `name` in `obj`, replacing what is there; `obj` must exist (the
 * samples have every object used here). */
static void set(cJSON *obj, const char *name, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, name))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, name, v);
    else
        cJSON_AddItemToObject(obj, name, v);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000 + (double)(ts.tv_nsec / 1000000);
}

/* Fresh ids and times in requestContext. */
static void context(cJSON *ev, const char *connection_id)
{
    static unsigned long seq;
    char rid[64];
    snprintf(rid, sizeof(rid), "bench-%lu=", ++seq);
    cJSON *ctx = cJSON_GetObjectItemCaseSensitive(ev, "requestContext");
    set(ctx, "connectionId", cJSON_CreateString(connection_id));
    set(ctx, "requestId", cJSON_CreateString(rid));
    set(ctx, "requestTimeEpoch", cJSON_CreateNumber(now_ms()));
}

static char *print_free(cJSON *ev)
{
    char *s = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    if (!s) {
        fprintf(stderr, "bench: out of memory printing an event\n");
        abort();
    }
    return s;
}

char *events_connect(const struct events *e, const char *connection_id)
{
    return events_connect_token(e, connection_id, e->token);
}

char *events_connect_token(const struct events *e, const char *connection_id,
                           const char *token)
{
    cJSON *ev = cJSON_Duplicate(e->connect, 1);
    context(ev, connection_id);
    cJSON *ctx = cJSON_GetObjectItemCaseSensitive(ev, "requestContext");
    set(ctx, "connectedAt", cJSON_CreateNumber(now_ms()));
    set(cJSON_GetObjectItemCaseSensitive(ev, "queryStringParameters"),
        "Authorization", cJSON_CreateString(token));
    cJSON *multi = cJSON_CreateArray();
    cJSON_AddItemToArray(multi, cJSON_CreateString(token));
    set(cJSON_GetObjectItemCaseSensitive(ev, "multiValueQueryStringParameters"),
        "Authorization", multi);
    return print_free(ev);
}

char *events_message(const struct events *e, const char *connection_id,
                     const char *body)
{
    cJSON *ev = cJSON_Duplicate(e->message, 1);
    context(ev, connection_id);
    set(ev, "body", cJSON_CreateString(body));
    return print_free(ev);
}

static void image_s(cJSON *image, const char *name, const char *value)
{
    cJSON *av = cJSON_CreateObject();
    cJSON_AddStringToObject(av, "S", value);
    set(image, name, av);
}

char *events_stream(const struct events *e, const char *request_id,
                    const char *connection_id, const char *user_id,
                    const char *tenant_id)
{
    cJSON *ev = cJSON_Duplicate(e->stream, 1);
    cJSON *rec =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "Records"), 0);
    cJSON *ddb = cJSON_GetObjectItemCaseSensitive(rec, "dynamodb");
    cJSON *keys = cJSON_GetObjectItemCaseSensitive(ddb, "Keys");
    cJSON *image = cJSON_GetObjectItemCaseSensitive(ddb, "NewImage");
    /* The requests table's pk: "REQ#" + the request key (store.h). */
    char key[STORE_REQUEST_KEY_SIZE], pk[STORE_REQUEST_KEY_SIZE + 8];
    if (store_request_key(tenant_id, user_id, request_id, key, NULL) !=
        RESULT_OK)
        key[0] = '\0';
    snprintf(pk, sizeof(pk), "REQ#%s", key);
    image_s(keys, "pk", pk);
    image_s(image, "pk", pk);
    image_s(image, "request_id", request_id);
    image_s(image, "connection_id", connection_id);
    image_s(image, "user_id", user_id);
    image_s(image, "tenant_id", tenant_id);
    static unsigned long seq;
    char num[48];
    snprintf(num, sizeof(num), "%024lu", ++seq);
    set(ddb, "SequenceNumber", cJSON_CreateString(num));
    snprintf(num, sizeof(num), "bench-%lu", seq);
    set(rec, "eventID", cJSON_CreateString(num));
    return print_free(ev);
}

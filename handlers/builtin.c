/* The built-in actions: ping, echo, (un)subscribe, status, cancel. */
#include "builtin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "parts.h"
#include "reply.h"
#include "requests.h"
#include "store.h"
#include "subscriptions.h"
#include "xmalloc.h"

#define CANCEL_ATTEMPTS 3

/* payload.<name> as a string, or NULL. */
static const char *payload_str(const struct message *m, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->payload, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * payload.request_id into `*rid` (borrowed from the message); the error
 * reply when it is missing or not a request id, else NULL.
 */
static char *request_id_arg(struct message *m, const char **rid)
{
    struct error_info e;
    error_clear(&e);
    *rid = payload_str(m, "request_id");
    if (!*rid || store_check_id("request_id", *rid, &e) != RESULT_OK)
        return message_fail(m, REPLY_VALIDATION_ERROR,
                            "payload.request_id must be a request id",
                            "request_id");
    return NULL;
}

/*
 * Loads a request the sender may see: its own user's (and tenant's).
 * Request ids are unique per user, so the read itself is by the
 * sender's tenant, user and id: another user's request of the same id
 * is not even looked at, and is NOT_FOUND like a missing one, so ids
 * cannot be probed. Returns NULL with `*q` filled, or the error reply.
 */
static char *own_request(struct message *m, struct request *q)
{
    const char *rid;
    char *bad = request_id_arg(m, &rid);
    if (bad)
        return bad;
    struct error_info e;
    error_clear(&e);
    enum result r = req_get(&m->a->store, m->conn.tenant_id, m->conn.user_id,
                            rid, q, m->deadline_ms, &e);
    if (r == RESULT_OK &&
        (strcmp(q->user_id, m->conn.user_id) != 0 || !q->tenant_id ||
         strcmp(q->tenant_id, m->conn.tenant_id) != 0)) {
        req_cleanup(q);
        r = RESULT_NOT_FOUND;
    }
    if (r == RESULT_NOT_FOUND)
        return message_fail(m, REPLY_NOT_FOUND, "no such request",
                            "request_id");
    return r == RESULT_OK ? NULL : message_internal(m, &e, r);
}

static char *do_ping(struct message *m)
{
    struct error_info e;
    error_clear(&e);
    enum result r =
        conn_update_last_ping(&m->a->store, &m->conn, m->deadline_ms, &e);
    if (r == RESULT_CONDITION_FAILED) { /* a concurrent write: reload */
        char *id = xstrdup(m->connection_id);
        conn_cleanup(&m->conn);
        r = conn_get(&m->a->store, id, &m->conn, m->deadline_ms, &e);
        free(id);
        if (r == RESULT_OK)
            r = conn_update_last_ping(&m->a->store, &m->conn, m->deadline_ms,
                                      &e);
    }
    return r == RESULT_OK ? reply_pong() : message_internal(m, &e, r);
}

static char *do_echo(struct message *m)
{
    return reply_response(m->reply_id, m->payload);
}

/* payload.event_types: absent (all) or an array of known names. */
static char *event_types(struct message *m, unsigned *bits)
{
    const cJSON *types =
        cJSON_GetObjectItemCaseSensitive(m->payload, "event_types");
    *bits = 0;
    if (!types)
        return NULL;
    unsigned bit;
    if (!cJSON_IsArray(types) || !types->child)
        return message_fail(m, REPLY_VALIDATION_ERROR,
                            "event_types must be a non-empty array",
                            "event_types");
    for (const cJSON *t = types->child; t; t = t->next)
        if (!cJSON_IsString(t) ||
            sub_event_parse(t->valuestring, &bit) != RESULT_OK)
            return message_fail(
                m, REPLY_VALIDATION_ERROR,
                "event_types may hold progress, complete, error",
                "event_types");
        else
            *bits |= bit;
    return NULL;
}

static cJSON *subscription_data(const char *request_id, unsigned bits)
{
    static const char *const names[] = {"progress", "complete", "error"};
    cJSON *d = xjson(cJSON_CreateObject());
    xjson_add(d, "request_id", cJSON_CreateString(request_id));
    cJSON *types = xjson(cJSON_AddArrayToObject(d, "event_types"));
    for (unsigned i = 0; i < 3; i++)
        if (bits & (1u << i))
            xjson_append(types, cJSON_CreateString(names[i]));
    return d;
}

static char *do_subscribe(struct message *m)
{
    unsigned bits;
    struct request q;
    char *bad = event_types(m, &bits);
    if (bad || (bad = own_request(m, &q)))
        return bad;
    struct subscription sub = {0};
    sub.connection_id = xstrdup(m->connection_id);
    sub.request_id = xstrdup(q.request_id);
    sub.tenant_id = xstrdup(q.tenant_id);
    sub.user_id = xstrdup(q.user_id);
    sub.event_types = bits;
    struct error_info e;
    error_clear(&e);
    enum result r = sub_subscribe(&m->a->store, &sub, m->deadline_ms, &e);
    char *out;
    if (r == RESULT_OK) {
        cJSON *d = subscription_data(q.request_id, sub.event_types);
        xjson_add(d, "subscribed", cJSON_CreateBool(1));
        out = reply_response(m->reply_id, d);
        cJSON_Delete(d);
    } else {
        out = message_internal(m, &e, r);
    }
    sub_cleanup(&sub);
    req_cleanup(&q);
    return out;
}

static char *do_unsubscribe(struct message *m)
{
    struct error_info e;
    error_clear(&e);
    const char *rid;
    char *bad = request_id_arg(m, &rid);
    if (bad)
        return bad;
    enum result r =
        sub_unsubscribe(&m->a->store, m->connection_id, m->conn.tenant_id,
                        m->conn.user_id, rid, m->deadline_ms, &e);
    if (r == RESULT_NOT_FOUND)
        return message_fail(m, REPLY_NOT_FOUND, "no such subscription",
                            "request_id");
    if (r != RESULT_OK)
        return message_internal(m, &e, r);
    cJSON *d = xjson(cJSON_CreateObject());
    xjson_add(d, "request_id", cJSON_CreateString(rid));
    xjson_add(d, "subscribed", cJSON_CreateBool(0));
    char *out = reply_response(m->reply_id, d);
    cJSON_Delete(d);
    return out;
}

static void add_opt(cJSON *d, const char *name, const char *v)
{
    if (v && *v)
        xjson_add(d, name, cJSON_CreateString(v));
}

static cJSON *status_data(const struct request *q)
{
    cJSON *d = xjson(cJSON_CreateObject());
    xjson_add(d, "request_id", cJSON_CreateString(q->request_id));
    xjson_add(d, "action", cJSON_CreateString(q->action));
    xjson_add(d, "status", cJSON_CreateString(req_status_str(q->status)));
    xjson_add(d, "progress", cJSON_CreateNumber(q->progress));
    add_opt(d, "progress_message", q->progress_message);
    if (q->result)
        xjson_add(d, "result", cJSON_Duplicate(q->result, 1));
    add_opt(d, "error", q->error);
    xjson_add(d, "retry_count", cJSON_CreateNumber(q->retry_count));
    add_opt(d, "created_at", q->created_at);
    add_opt(d, "updated_at", q->updated_at);
    add_opt(d, "processing_started", q->processing_started);
    add_opt(d, "processing_ended", q->processing_ended);
    return d;
}

/*
 * A status answer too big for one message (parts.h): the result goes to
 * the sender as parts pushed now, keyed by this answer's request_id, and
 * the answer says "result_parts" and "result_bytes" instead of "result".
 * The parts go out while the function runs, so they reach the client
 * before the answer (the route response) does.
 */
static char *big_status(struct message *m, const struct request *q, cJSON *d)
{
    char *text = xjson_print(q->result);
    size_t len = strlen(text), n = 0;
    char **frames = parts_split(m->reply_id, text, len, &n);
    cJSON_free(text);
    struct error_info e;
    error_clear(&e);
    if (notify_push_one(m->a, m->connection_id, m->conn.endpoint, frames, n,
                        m->deadline_ms, &e) != RESULT_OK)
        log_kv(LOG_WARN, "pushing a big status result failed", "requestId",
               q->request_id, "error", e.message, (char *)NULL);
    parts_free(frames, n);
    cJSON_DeleteItemFromObjectCaseSensitive(d, "result");
    xjson_add(d, "result_parts", cJSON_CreateNumber((double)n));
    xjson_add(d, "result_bytes", cJSON_CreateNumber((double)len));
    return reply_response(m->reply_id, d);
}

static char *do_status(struct message *m)
{
    struct request q;
    char *bad = own_request(m, &q);
    if (bad)
        return bad;
    cJSON *d = status_data(&q);
    char *out = reply_response(m->reply_id, d);
    if (q.result && strlen(out) > PARTS_MAX_FRAME_BYTES) {
        free(out);
        out = big_status(m, &q, d);
    }
    cJSON_Delete(d);
    req_cleanup(&q);
    return out;
}

static char *do_cancel(struct message *m)
{
    struct request q;
    char *bad = own_request(m, &q);
    if (bad)
        return bad;
    struct error_info e;
    error_clear(&e);
    enum result r = RESULT_CONDITION_FAILED;
    /* A progress update between our read and our write bumps the version:
     * read again and retry a few times. */
    for (int i = 0; i < CANCEL_ATTEMPTS && r == RESULT_CONDITION_FAILED; i++) {
        if (i > 0) {
            char *id = xstrdup(q.request_id);
            req_cleanup(&q);
            r = req_get(&m->a->store, m->conn.tenant_id, m->conn.user_id, id,
                        &q, m->deadline_ms, &e);
            free(id);
            if (r != RESULT_OK)
                break;
        }
        if (!req_transition_allowed(q.status, REQ_CANCELLED)) {
            char text[96];
            snprintf(text, sizeof(text), "a %s request cannot be cancelled",
                     req_status_str(q.status));
            req_cleanup(&q);
            return message_fail(m, REPLY_VALIDATION_ERROR, text, "request_id");
        }
        r = req_cancel(&m->a->store, &q, m->deadline_ms, &e);
    }
    char *out;
    if (r == RESULT_OK) {
        cJSON *d = status_data(&q);
        out = reply_response(m->reply_id, d);
        cJSON_Delete(d);
    } else {
        out = message_internal(m, &e, r);
    }
    req_cleanup(&q);
    return out;
}

struct builtin {
    const char *name;
    builtin_fn run;
};

static const struct builtin builtins[] = {
    {"ping", do_ping},           {"echo", do_echo},
    {"subscribe", do_subscribe}, {"unsubscribe", do_unsubscribe},
    {"status", do_status},       {"cancel", do_cancel},
};

builtin_fn builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return builtins[i].run;
    return NULL;
}

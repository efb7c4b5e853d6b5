/* Messages on the $default route: validate, route by action, answer. */
#include "message.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "base64.h"
#include "connections.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "parts.h"
#include "reply.h"
#include "requests.h"
#include "subscriptions.h"
#include "text.h"
#include "uuid.h"
#include "xmalloc.h"

#define MAX_ID_BYTES 128
#define MAX_ACTION_BYTES 64
#define CANCEL_ATTEMPTS 3
/* A RATE_LIMITED sender's hint: a slot frees when one of its requests
 * ends, which the server cannot foresee; a second is a fair wait. */
#define RETRY_AFTER_MS 1000

/* One message being handled. */
struct msg {
    struct app *a;
    int64_t deadline_ms;
    const char *connection_id;
    struct connection conn; /* the sender, once looked up */
    cJSON *root;            /* the parsed body */
    const char *action;
    const char *id; /* the client's id, or NULL */
    const cJSON *payload;
    char reply_id[MAX_ID_BYTES + 1]; /* id, or a fresh UUID */
};

/* An error reply; counts the rejection by code. */
static char *fail(struct msg *m, const char *code, const char *text,
                  const char *field)
{
    cJSON *details = NULL;
    if (field && *field) {
        details = xjson(cJSON_CreateObject());
        xjson_add(details, "field", cJSON_CreateString(field));
    }
    char *s = reply_error(m->id, code, text, details);
    cJSON_Delete(details);
    metrics_count(m->a->cfg.metrics_namespace, "MessageRejected", 1, "code",
                  code);
    log_kv(LOG_INFO, "message rejected", "code", code, "detail", text,
           (char *)NULL);
    return s;
}

/* A store failure the client cannot fix: logged, answered generically. */
static char *internal(struct msg *m, const struct error_info *e, enum result r)
{
    log_kv(LOG_ERROR, "store call failed", "result", result_str(r), "error",
           e->message, "type", e->type, (char *)NULL);
    return fail(m, REPLY_INTERNAL_ERROR, "internal error", NULL);
}

static int valid_chars(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

/*
 * The body as text, base64-decoded when the event says so; NUL-terminated
 * at `*len`. NULL when it is missing, not valid base64, or over the limit
 * (then `*too_large`). Caller frees.
 */
static char *body_text(const cJSON *event, size_t *len, int *too_large)
{
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(event, "body");
    const cJSON *b64 =
        cJSON_GetObjectItemCaseSensitive(event, "isBase64Encoded");
    *too_large = 0;
    if (!cJSON_IsString(body))
        return NULL;
    size_t n = strlen(body->valuestring);
    if (!cJSON_IsTrue(b64)) {
        *too_large = n > MESSAGE_MAX_BODY_BYTES;
        *len = n;
        return *too_large ? NULL : xstrdup(body->valuestring);
    }
    /* At least n / 4 * 3 - 2 bytes once decoded. */
    if (n / 4 * 3 > MESSAGE_MAX_BODY_BYTES + 2) {
        *too_large = 1;
        return NULL;
    }
    /* Strict: OpenSSL's EVP_DecodeBlock would take blanks and inner '='. */
    unsigned char *raw = base64_decode(body->valuestring, n, BASE64_STD, len);
    if (!raw)
        return NULL;
    if (*len > MESSAGE_MAX_BODY_BYTES) {
        *too_large = 1;
        free(raw);
        return NULL;
    }
    return (char *)raw;
}

/* Parses and checks the envelope; on failure returns the error reply. */
static char *parse(struct msg *m, const cJSON *event)
{
    size_t len = 0;
    int too_large = 0;
    char *text = body_text(event, &len, &too_large);
    if (too_large)
        return fail(m, REPLY_PAYLOAD_TOO_LARGE, "message body is over 128 KB",
                    NULL);
    if (!text)
        return fail(m, REPLY_INVALID_MESSAGE,
                    "message body is missing or not valid base64", NULL);
    if (!utf8_valid(text, len) || json_text_has_nul(text, len)) {
        free(text);
        return fail(m, REPLY_INVALID_MESSAGE,
                    "message must be UTF-8 text without NUL characters", NULL);
    }
    /* The length counts the terminating NUL so that trailing garbage
     * ("{...} x", two objects) is refused, as cJSON_ParseWithOpts does. */
    m->root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    free(text);
    if (!cJSON_IsObject(m->root))
        return fail(m, REPLY_INVALID_MESSAGE, "message must be a JSON object",
                    NULL);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->root, "id");
    if (id && (!cJSON_IsString(id) ||
               !valid_chars(id->valuestring, MAX_ID_BYTES, "._:-")))
        return fail(m, REPLY_VALIDATION_ERROR,
                    "id must be 1-128 of A-Z a-z 0-9 . _ : -", "id");
    m->id = id ? id->valuestring : NULL;
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(m->root, "action");
    if (!action)
        return fail(m, REPLY_INVALID_MESSAGE, "action is required", "action");
    if (!cJSON_IsString(action) ||
        !valid_chars(action->valuestring, MAX_ACTION_BYTES, "._-"))
        return fail(m, REPLY_INVALID_ACTION,
                    "action must be 1-64 of A-Z a-z 0-9 . _ -", "action");
    m->action = action->valuestring;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(m->root, "payload");
    if (payload && !cJSON_IsObject(payload))
        return fail(m, REPLY_VALIDATION_ERROR, "payload must be an object",
                    "payload");
    m->payload = payload;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(m->root, "metadata");
    if (meta && !cJSON_IsObject(meta))
        return fail(m, REPLY_VALIDATION_ERROR, "metadata must be an object",
                    "metadata");
    if (m->id)
        snprintf(m->reply_id, sizeof(m->reply_id), "%s", m->id);
    else if (uuid_v4(m->reply_id) != RESULT_OK)
        return fail(m, REPLY_INTERNAL_ERROR, "internal error", NULL);
    return NULL;
}

/* payload.<name> as a string, or NULL. */
static const char *payload_str(const struct msg *m, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->payload, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Loads a request the sender may see: its own user's (and tenant's).
 * Request ids are unique per user, so the read itself is by the
 * sender's tenant, user and id: another user's request of the same id
 * is not even looked at, and is NOT_FOUND like a missing one, so ids
 * cannot be probed. Returns NULL with `*q` filled, or the error reply.
 */
static char *own_request(struct msg *m, struct request *q)
{
    const char *rid = payload_str(m, "request_id");
    struct error_info e;
    error_clear(&e);
    if (!rid || store_check_id("request_id", rid, &e) != RESULT_OK)
        return fail(m, REPLY_VALIDATION_ERROR,
                    "payload.request_id must be a request id", "request_id");
    enum result r = req_get(&m->a->store, m->conn.tenant_id, m->conn.user_id,
                            rid, q, m->deadline_ms, &e);
    if (r == RESULT_OK &&
        (strcmp(q->user_id, m->conn.user_id) != 0 || !q->tenant_id ||
         strcmp(q->tenant_id, m->conn.tenant_id) != 0)) {
        req_cleanup(q);
        r = RESULT_NOT_FOUND;
    }
    if (r == RESULT_NOT_FOUND)
        return fail(m, REPLY_NOT_FOUND, "no such request", "request_id");
    return r == RESULT_OK ? NULL : internal(m, &e, r);
}

static char *do_ping(struct msg *m)
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
    return r == RESULT_OK ? reply_pong() : internal(m, &e, r);
}

static char *do_echo(struct msg *m)
{
    return reply_response(m->reply_id, m->payload);
}

/* payload.event_types: absent (all) or an array of known names. */
static char *event_types(struct msg *m, unsigned *bits)
{
    const cJSON *types =
        cJSON_GetObjectItemCaseSensitive(m->payload, "event_types");
    *bits = 0;
    if (!types)
        return NULL;
    unsigned bit;
    if (!cJSON_IsArray(types) || !types->child)
        return fail(m, REPLY_VALIDATION_ERROR,
                    "event_types must be a non-empty array", "event_types");
    for (const cJSON *t = types->child; t; t = t->next)
        if (!cJSON_IsString(t) ||
            sub_event_parse(t->valuestring, &bit) != RESULT_OK)
            return fail(m, REPLY_VALIDATION_ERROR,
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

static char *do_subscribe(struct msg *m)
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
        out = internal(m, &e, r);
    }
    sub_cleanup(&sub);
    req_cleanup(&q);
    return out;
}

static char *do_unsubscribe(struct msg *m)
{
    const char *rid = payload_str(m, "request_id");
    struct error_info e;
    error_clear(&e);
    if (!rid || store_check_id("request_id", rid, &e) != RESULT_OK)
        return fail(m, REPLY_VALIDATION_ERROR,
                    "payload.request_id must be a request id", "request_id");
    enum result r =
        sub_unsubscribe(&m->a->store, m->connection_id, m->conn.tenant_id,
                        m->conn.user_id, rid, m->deadline_ms, &e);
    if (r == RESULT_NOT_FOUND)
        return fail(m, REPLY_NOT_FOUND, "no such subscription", "request_id");
    if (r != RESULT_OK)
        return internal(m, &e, r);
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
static char *big_status(struct msg *m, const struct request *q, cJSON *d)
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

static char *do_status(struct msg *m)
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

static char *do_cancel(struct msg *m)
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
            return fail(m, REPLY_VALIDATION_ERROR, text, "request_id");
        }
        r = req_cancel(&m->a->store, &q, m->deadline_ms, &e);
    }
    char *out;
    if (r == RESULT_OK) {
        cJSON *d = status_data(&q);
        out = reply_response(m->reply_id, d);
        cJSON_Delete(d);
    } else {
        out = internal(m, &e, r);
    }
    req_cleanup(&q);
    return out;
}

/*
 * An enqueue that failed for want of the store: the answer says whether
 * the request was queued, as far as is known. "queued": false — nothing
 * was stored; "queued": "unknown" — no answer came back, so it may have
 * been (sending it again with the same id settles it: an acknowledgment
 * or DUPLICATE_REQUEST). The request id is given either way.
 */
static char *not_queued(struct msg *m, const struct error_info *e,
                        enum result r, int stored, const char *request_id)
{
    log_kv(LOG_ERROR, "enqueue failed", "result", result_str(r), "error",
           e->message, "type", e->type, "requestId", request_id, (char *)NULL);
    cJSON *details = xjson(cJSON_CreateObject());
    if (stored == 0)
        xjson_add(details, "queued", cJSON_CreateFalse());
    else
        xjson_add(details, "queued", cJSON_CreateString("unknown"));
    char *s = reply_error(request_id, REPLY_INTERNAL_ERROR,
                          stored == 0 ? "the request was not queued"
                                      : "the request may not have been "
                                        "queued; send it again with the "
                                        "same id",
                          details);
    cJSON_Delete(details);
    metrics_count(m->a->cfg.metrics_namespace, "MessageRejected", 1, "code",
                  REPLY_INTERNAL_ERROR);
    return s;
}

/* The user has MAX_INFLIGHT_PER_USER requests in flight: nothing stored. */
static char *rate_limited(struct msg *m)
{
    cJSON *details = xjson(cJSON_CreateObject());
    xjson_add(details, "limit",
              cJSON_CreateNumber((double)m->a->cfg.max_inflight_per_user));
    xjson_add(details, "retry_after_ms", cJSON_CreateNumber(RETRY_AFTER_MS));
    char *s = reply_error(m->id, REPLY_RATE_LIMITED,
                          "too many requests in flight; one more can be "
                          "queued when one of them ends",
                          details);
    cJSON_Delete(details);
    metrics_count(m->a->cfg.metrics_namespace, "MessageRejected", 1, "code",
                  REPLY_RATE_LIMITED);
    return s;
}

/*
 * A registered async action: check, then enqueue and subscribe the
 * sender in one transaction, and acknowledge. An acknowledgment means
 * both are stored; an error means neither is (or, without an answer
 * from the store, says so).
 */
static char *do_async(struct msg *m, const struct action *act)
{
    struct error_info e;
    error_clear(&e);
    cJSON *empty = xjson(cJSON_CreateObject());
    const cJSON *payload = m->payload ? m->payload : empty;
    if (act->validate(payload, &e) != RESULT_OK) {
        cJSON_Delete(empty);
        return fail(m, REPLY_VALIDATION_ERROR, e.message, e.field);
    }
    struct request q = {0};
    q.request_id = xstrdup(m->reply_id);
    q.connection_id = xstrdup(m->connection_id);
    q.user_id = xstrdup(m->conn.user_id);
    q.tenant_id = xstrdup(m->conn.tenant_id);
    q.action = xstrdup(act->name);
    q.payload = xjson(cJSON_Duplicate(payload, 1));
    cJSON_Delete(empty);
    int stored = 0;
    enum result r = req_enqueue_subscribed(&m->a->store, &q,
                                           m->a->cfg.max_inflight_per_user,
                                           m->deadline_ms, &stored, &e);
    char *out = NULL;
    if (r == RESULT_THROTTLED && strcmp(e.type, REQ_TOO_MANY_IN_FLIGHT) == 0)
        out = rate_limited(m);
    else if (r == RESULT_ALREADY_EXISTS)
        out = fail(m, REPLY_DUPLICATE_REQUEST, "a request with this id exists",
                   "id");
    else if (r == RESULT_INVALID_INPUT)
        out = fail(m,
                   e.field[0] && strcmp(e.field, "payload") == 0
                       ? REPLY_PAYLOAD_TOO_LARGE
                       : REPLY_VALIDATION_ERROR,
                   e.message, e.field);
    else if (r != RESULT_OK)
        out = not_queued(m, &e, r, stored, q.request_id);
    if (!out) {
        metrics_count(m->a->cfg.metrics_namespace, "RequestQueued", 1, "action",
                      act->name);
        out = reply_ack(q.request_id);
    }
    req_cleanup(&q);
    return out;
}

struct builtin {
    const char *name;
    char *(*run)(struct msg *m);
};

static const struct builtin builtins[] = {
    {"ping", do_ping},           {"echo", do_echo},
    {"subscribe", do_subscribe}, {"unsubscribe", do_unsubscribe},
    {"status", do_status},       {"cancel", do_cancel},
};

/* Looks up the sender; an unknown connection may not send. */
static char *load_sender(struct msg *m)
{
    struct error_info e;
    error_clear(&e);
    enum result r =
        conn_get(&m->a->store, m->connection_id, &m->conn, m->deadline_ms, &e);
    if (r == RESULT_NOT_FOUND || r == RESULT_INVALID_INPUT)
        return fail(m, REPLY_UNAUTHORIZED, "connection is not registered",
                    NULL);
    return r == RESULT_OK ? NULL : internal(m, &e, r);
}

static char *route(struct msg *m)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, m->action) == 0)
            return builtins[i].run(m);
    const struct action *act = actions_find(m->action);
    if (act)
        return do_async(m, act);
    return fail(m, REPLY_INVALID_ACTION, "unknown action", "action");
}

enum result message_handle(struct app *a, const cJSON *event, const char *raw,
                           size_t raw_len, int64_t deadline_ms, struct buf *out,
                           struct error_info *err)
{
    (void)err;
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.a = a;
    m.deadline_ms = deadline_ms;
    m.connection_id = event_ctx_str(event, "connectionId");
    /* A text frame holding a NUL reaches us as a body string with the
     * escape \u0000, which cJSON cut short when the event was parsed: only
     * the event's own text still shows it. */
    char *reply = raw && json_text_has_nul(raw, raw_len)
                      ? fail(&m, REPLY_INVALID_MESSAGE,
                             "message must be UTF-8 text without NUL "
                             "characters",
                             NULL)
                      : parse(&m, event);
    if (!reply)
        reply = load_sender(&m);
    if (!reply)
        reply = route(&m);
    enum result r = reply_route(out, 200, reply);
    free(reply);
    conn_cleanup(&m.conn);
    cJSON_Delete(m.root);
    return r;
}

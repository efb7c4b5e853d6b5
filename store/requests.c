/* The request queue: async requests and their status, progress, result. */
#include "requests.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "retry.h"
#include "subscriptions.h"
#include "uuid.h"
#include "xmalloc.h"

#define PK_PREFIX "REQ#"
#define SK_METADATA "METADATA"
#define MAX_RETRIES_CAP 10

static const char *const names[] = {"PENDING", "PROCESSING", "COMPLETED",
                                    "FAILED",  "CANCELLED",  "RETRYING"};

static const char *const connection_index_keys[] = {"pk", "sk", "connection_id",
                                                    "created_at", NULL};
static const char *const status_index_keys[] = {"pk", "sk", "status",
                                                "created_at", NULL};
static const char *const user_index_keys[] = {"pk", "sk", "user_id",
                                              "created_at", NULL};

const char *req_status_str(enum req_status s)
{
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

enum result req_status_parse(const char *name, enum req_status *out)
{
    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum req_status)i;
            return RESULT_OK;
        }
    return RESULT_INVALID_INPUT;
}

int req_transition_allowed(enum req_status from, enum req_status to)
{
    switch (to) {
    case REQ_PROCESSING:
        return from == REQ_PENDING || from == REQ_RETRYING;
    case REQ_FAILED:
        return from == REQ_PROCESSING || from == REQ_RETRYING;
    case REQ_COMPLETED:
    case REQ_RETRYING:
        return from == REQ_PROCESSING;
    case REQ_CANCELLED:
        return from == REQ_PENDING || from == REQ_PROCESSING ||
               from == REQ_RETRYING;
    case REQ_PENDING:
        return 0;
    }
    return 0;
}

void req_cleanup(struct request *r)
{
    free(r->request_id);
    free(r->connection_id);
    free(r->user_id);
    free(r->tenant_id);
    free(r->action);
    cJSON_Delete(r->payload);
    cJSON_Delete(r->result);
    cJSON_Delete(r->progress_details);
    free(r->progress_message);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

void req_page_cleanup(struct req_page *p)
{
    for (size_t i = 0; i < p->count; i++)
        req_cleanup(&p->items[i]);
    free(p->items);
    free(p->next_cursor);
    memset(p, 0, sizeof(*p));
}

/* The item's pk: "REQ#" and the request key (store.h). */
static enum result req_pk(const char *tenant_id, const char *user_id,
                          const char *request_id, char *pk,
                          struct error_info *err)
{
    memcpy(pk, PK_PREFIX, sizeof(PK_PREFIX));
    return store_request_key(tenant_id, user_id, request_id,
                             pk + sizeof(PK_PREFIX) - 1, err);
}

#define PK_SIZE (sizeof(PK_PREFIX) + STORE_REQUEST_KEY_SIZE)

/* The item's key; RESULT_INVALID_INPUT naming a bad id. */
static enum result req_key(const char *tenant_id, const char *user_id,
                           const char *request_id, cJSON **key,
                           struct error_info *err)
{
    char pk[PK_SIZE];
    enum result r = req_pk(tenant_id, user_id, request_id, pk, err);
    if (r == RESULT_OK)
        *key = store_key(pk, SK_METADATA);
    return r;
}

enum result req_check_action(const char *action, struct error_info *err)
{
    size_t n = action ? strlen(action) : 0;
    if (n < 1 || n > REQ_MAX_ACTION_BYTES)
        return error_field(err, "action", "action must be 1-%d characters",
                           REQ_MAX_ACTION_BYTES);
    for (const char *p = action; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return error_field(err, "action",
                               "action may only have A-Z a-z 0-9 . _ -");
    return RESULT_OK;
}

static void copy_ts(const cJSON *item, const char *name, char *out)
{
    const char *v = item_get_s(item, name);
    snprintf(out, CLOCK_RFC3339_SIZE, "%s", v ? v : "");
}

/* A map attribute as plain JSON, or NULL when absent or unreadable. */
static cJSON *json_of(const cJSON *item, const char *name)
{
    const cJSON *av = item_get_av(item, name);
    cJSON *out = NULL;
    if (av && item_av_to_json(av, name, &out, NULL) != RESULT_OK)
        out = NULL;
    if (out && cJSON_IsNull(out)) {
        cJSON_Delete(out);
        out = NULL;
    }
    return out;
}

static int get_int(const cJSON *item, const char *name, int lo, int hi)
{
    int64_t v = 0;
    if (item_get_i64(item, name, &v) != RESULT_OK || v < lo || v > hi)
        return lo;
    return (int)v;
}

enum result req_from_item(const cJSON *item, struct request *r,
                          struct error_info *err)
{
    memset(r, 0, sizeof(*r));
    r->request_id = store_dup_s(item, "request_id");
    r->connection_id = store_dup_s(item, "connection_id");
    r->user_id = store_dup_s(item, "user_id");
    r->tenant_id = store_dup_s(item, "tenant_id");
    r->action = store_dup_s(item, "action");
    r->payload = json_of(item, "payload");
    r->result = json_of(item, "result");
    r->progress_details = json_of(item, "progress_details");
    r->progress_message = store_dup_s(item, "progress_message");
    r->error = store_dup_s(item, "error");
    r->progress = get_int(item, "progress", 0, 100);
    r->retry_count = get_int(item, "retry_count", 0, 1000000);
    r->max_retries = get_int(item, "max_retries", 0, 1000000);
    copy_ts(item, "retry_after", r->retry_after);
    copy_ts(item, "lease_expires", r->lease_expires);
    copy_ts(item, "processing_started", r->processing_started);
    copy_ts(item, "processing_ended", r->processing_ended);
    copy_ts(item, "created_at", r->created_at);
    copy_ts(item, "updated_at", r->updated_at);
    /* Tenant, user and id name a request (its key): all three needed.
     * Every attribute that writing the request back needs (base_item) is
     * required too: an image without connection_id (a stream record is
     * outside input) must not reach a later write. */
    if (!r->request_id || !r->connection_id || !r->user_id || !r->tenant_id ||
        !r->action ||
        req_status_parse(item_get_s(item, "status"), &r->status) != RESULT_OK ||
        item_get_i64(item, "version", &r->version) != RESULT_OK ||
        item_get_i64(item, "ttl", &r->ttl) != RESULT_OK) {
        req_cleanup(r);
        return error_set(err, RESULT_PARSE, "MalformedItem",
                         "a stored request lacks required attributes");
    }
    if (!r->payload)
        r->payload = cJSON_CreateObject();
    return RESULT_OK;
}

/* Validates what enqueue stores; names the field at fault. */
static enum result check_new(const struct request *r, struct error_info *err)
{
    enum result e;
    if ((e = store_check_id("request_id", r->request_id, err)) ||
        (e = store_check_id("connection_id", r->connection_id, err)) ||
        (e = store_check_id("user_id", r->user_id, err)) ||
        (e = store_check_id("tenant_id", r->tenant_id, err)) ||
        (e = req_check_action(r->action, err)))
        return e;
    if (r->payload && !cJSON_IsObject(r->payload))
        return error_field(err, "payload", "payload must be an object");
    if (r->max_retries < 0 || r->max_retries > MAX_RETRIES_CAP)
        return error_field(err, "max_retries", "max_retries must be 0-%d",
                           MAX_RETRIES_CAP);
    return RESULT_OK;
}

/* The attributes every request has, from `r`; RESULT_INVALID_INPUT
 * naming the payload path when the payload does not convert. */
static enum result base_item(const struct request *r, cJSON **out,
                             struct error_info *err)
{
    char pk[PK_SIZE];
    cJSON *payload = NULL;
    enum result e = req_pk(r->tenant_id, r->user_id, r->request_id, pk, err);
    if (e == RESULT_OK)
        e = item_av_from_json(r->payload, "payload", &payload, err);
    if (e != RESULT_OK)
        return e;
    cJSON *item = item_new();
    item_set_s(item, "pk", pk);
    item_set_s(item, "sk", SK_METADATA);
    item_set_s(item, "request_id", r->request_id);
    item_set_s(item, "connection_id", r->connection_id);
    item_set_s(item, "user_id", r->user_id);
    item_set_s(item, "tenant_id", r->tenant_id);
    item_set_s(item, "action", r->action);
    item_set(item, "payload", payload);
    item_set_s(item, "status", req_status_str(r->status));
    item_set_i64(item, "progress", r->progress);
    item_set_i64(item, "retry_count", r->retry_count);
    item_set_i64(item, "max_retries", r->max_retries);
    item_set_s(item, "created_at", r->created_at);
    item_set_s(item, "updated_at", r->updated_at);
    item_set_i64(item, "version", r->version);
    item_set_i64(item, "ttl", r->ttl);
    *out = item;
    return RESULT_OK;
}

static enum result build_item(const struct request *r, cJSON **out,
                              struct error_info *err)
{
    cJSON *item = NULL;
    enum result e = base_item(r, &item, err);
    if (e != RESULT_OK)
        return e;
    /* The 400 KB item limit, checked before sending; the payload is
     * what can make an item big, so it is named. */
    e = item_check_size(item, "payload", err);
    if (e != RESULT_OK) {
        cJSON_Delete(item);
        return e;
    }
    *out = item;
    return RESULT_OK;
}

static void probe_s(cJSON *item, const char *name, const char *v)
{
    if (v && *v)
        item_set_s(item, name, v);
}

static void probe_m(cJSON *item, const char *name, const cJSON *json)
{
    cJSON *av = NULL;
    if (json && item_av_from_json(json, name, &av, NULL) == RESULT_OK)
        item_set(item, name, av);
}

/*
 * The whole item as an update of `r` would leave it, with attribute
 * `name` set to `av` (borrowed), must fit DynamoDB's 400 KB item limit:
 * RESULT_INVALID_INPUT naming `name` otherwise. Checked before the call,
 * so the service never refuses the size (its error names no field).
 * `r` mirrors the stored item; were it stale, the version would fail.
 */
static enum result check_size_with(const struct request *r, enum req_status to,
                                   const char *name, const cJSON *av,
                                   struct error_info *err)
{
    static const char stamp[] = "0000-00-00T00:00:00.000Z";
    cJSON *item = NULL;
    if (base_item(r, &item, NULL) != RESULT_OK)
        item = item_new();
    item_set_s(item, "status", req_status_str(to));
    item_set_s(item, "updated_at", stamp);
    item_set_s(item, "processing_started", stamp);
    item_set_s(item, "processing_ended", stamp);
    probe_s(item, "progress_message", r->progress_message);
    probe_s(item, "error", r->error);
    probe_s(item, "retry_after", r->retry_after);
    probe_m(item, "progress_details", r->progress_details);
    probe_m(item, "result", r->result);
    item_set(item, name, cJSON_Duplicate(av, 1));
    enum result e = item_check_size(item, name, err);
    cJSON_Delete(item);
    return e;
}

/*
 * What an enqueue of `r` stores: fills r's missing id (a UUIDv4),
 * payload and max_retries, checks it, and sets `n` to the new request's
 * state (a shallow copy of `r`: its strings stay r's) and `*item` to its
 * item (caller owns).
 */
static enum result new_request(struct store *s, struct request *r,
                               struct request *n, cJSON **item,
                               struct error_info *err)
{
    char id[UUID_STR_SIZE];
    if (!r->request_id) {
        if (uuid_v4(id) != RESULT_OK)
            return error_set(err, RESULT_INTERNAL, "RandomFailed",
                             "could not generate a request id");
        r->request_id = xstrdup(id);
    }
    if (!r->payload)
        r->payload = cJSON_CreateObject();
    if (!r->max_retries)
        r->max_retries = REQ_DEFAULT_MAX_RETRIES;
    enum result e = check_new(r, err);
    if (e != RESULT_OK)
        return e;
    *n = *r;
    n->status = REQ_PENDING;
    n->progress = 0;
    n->retry_count = 0;
    n->version = 1;
    n->ttl = store_ttl(s, REQ_TTL_SECONDS);
    store_timestamp(s, n->created_at);
    memcpy(n->updated_at, n->created_at, sizeof(n->updated_at));
    return build_item(n, item, err);
}

/* After a stored enqueue: `r` takes the stored state from `n`. */
static void took(struct request *r, const struct request *n)
{
    r->status = n->status;
    r->progress = 0;
    r->retry_count = 0;
    r->version = n->version;
    r->ttl = n->ttl;
    memcpy(r->created_at, n->created_at, sizeof(r->created_at));
    memcpy(r->updated_at, n->updated_at, sizeof(r->updated_at));
}

/* ---- The in-flight counter of each user --------------------------------
 * One item per user in the requests table: pk "INFLIGHT#" + the owner
 * key (store_owner_key), sk "INFLIGHT", attribute inflight (N). An
 * enqueue adds one in its transaction, on condition that the count is
 * below the limit; every move to COMPLETED, FAILED or CANCELLED takes one
 * off in the same transaction as the move. The item has no status,
 * connection_id or created_at, so it is in no index, and the stream's
 * filter (INSERT of a PENDING request) never hands it to the processor.
 */
#define INFLIGHT_PREFIX "INFLIGHT#"
#define SK_INFLIGHT "INFLIGHT"
#define CONFLICT_ATTEMPTS 12
#define CONFLICT_BASE_MS 5
#define CONFLICT_CAP_MS 200

static enum result inflight_key(const char *tenant_id, const char *user_id,
                                cJSON **key, struct error_info *err)
{
    char pk[sizeof(INFLIGHT_PREFIX) + STORE_REQUEST_KEY_SIZE];
    memcpy(pk, INFLIGHT_PREFIX, sizeof(INFLIGHT_PREFIX));
    enum result r = store_owner_key(tenant_id, user_id,
                                    pk + sizeof(INFLIGHT_PREFIX) - 1, err);
    if (r == RESULT_OK)
        *key = store_key(pk, SK_INFLIGHT);
    return r;
}

/* The counter's Update by `delta` (takes `key`); with `limit` > 0, on
 * condition that it is below the limit before. */
static cJSON *counter_action(const char *table, cJSON *key, int delta,
                             long limit)
{
    cJSON *action = cJSON_CreateObject();
    cJSON *u = cJSON_AddObjectToObject(action, "Update");
    cJSON_AddStringToObject(u, "TableName", table);
    cJSON_AddItemToObject(u, "Key", key);
    cJSON_AddStringToObject(u, "UpdateExpression", "ADD #n :d");
    cJSON *attrs = cJSON_AddObjectToObject(u, "ExpressionAttributeNames");
    cJSON_AddStringToObject(attrs, "#n", "inflight");
    cJSON *values = cJSON_AddObjectToObject(u, "ExpressionAttributeValues");
    cJSON_AddItemToObject(values, ":d", item_av_i64(delta));
    if (limit > 0) {
        cJSON_AddStringToObject(u, "ConditionExpression",
                                "attribute_not_exists(#n) OR #n < :limit");
        cJSON_AddItemToObject(values, ":limit", item_av_i64(limit));
    }
    return action;
}

/*
 * TransactWriteItems with a fresh ClientRequestToken per attempt.
 * DynamoDB Developer Guide, "Transaction conflict handling": a
 * transaction that meets another on the same item (here the counter,
 * under concurrent enqueues of one user) is cancelled with the reason
 * TransactionConflict and wrote nothing, so it is sent again after a
 * jittered backoff, within the deadline. `*reasons` as
 * ddb_transact_write_ex(); `err` must not be NULL.
 */
static enum result transact(struct store *s, const cJSON *items,
                            int64_t deadline_ms, cJSON **reasons,
                            struct error_info *err)
{
    enum result r = RESULT_INTERNAL;
    for (int i = 0; i < CONFLICT_ATTEMPTS; i++) {
        char token[UUID_STR_SIZE];
        if (uuid_v4(token) != RESULT_OK)
            return error_set(err, RESULT_INTERNAL, "RandomFailed",
                             "could not generate a client token");
        r = ddb_transact_write_ex(s->ddb, items, token, deadline_ms, reasons,
                                  err);
        if (r != RESULT_SERVICE_ERROR ||
            strcmp(err->type, "TransactionCanceledException") != 0 ||
            !strstr(err->message, "TransactionConflict"))
            return r;
        int64_t cap = (int64_t)CONFLICT_BASE_MS << (i < 6 ? i : 6);
        if (cap > CONFLICT_CAP_MS)
            cap = CONFLICT_CAP_MS;
        int64_t delay =
            1 + (int64_t)(retry_random_default(NULL) % (uint64_t)cap);
        if (deadline_ms > 0 && clock_now_ms() + delay >= deadline_ms)
            return r;
        retry_sleep_real(NULL, delay);
    }
    return r;
}

enum result req_inflight(struct store *s, const char *tenant_id,
                         const char *user_id, int64_t *count,
                         int64_t deadline_ms, struct error_info *err)
{
    cJSON *key = NULL, *item = NULL;
    *count = 0;
    enum result r = inflight_key(tenant_id, user_id, &key, err);
    if (r != RESULT_OK)
        return r;
    r = ddb_get_item(s->ddb, s->requests_table, key, 1, deadline_ms, &item,
                     err);
    if (r == RESULT_NOT_FOUND)
        r = RESULT_OK; /* never counted: none */
    else if (r == RESULT_OK &&
             item_get_i64(item, "inflight", count) != RESULT_OK)
        r = error_set(err, RESULT_PARSE, "MalformedItem",
                      "the in-flight counter is not a number");
    cJSON_Delete(item);
    cJSON_Delete(key);
    return r;
}

/* {"Put":{"TableName":table,"Item":item[,"ConditionExpression":c]}};
 * takes `item`. */
static cJSON *put_action(const char *table, cJSON *item, const char *condition)
{
    cJSON *action = cJSON_CreateObject();
    cJSON *put = cJSON_AddObjectToObject(action, "Put");
    cJSON_AddStringToObject(put, "TableName", table);
    cJSON_AddItemToObject(put, "Item", item);
    if (condition)
        cJSON_AddStringToObject(put, "ConditionExpression", condition);
    return action;
}

/*
 * Whether a failed TransactWriteItems surely wrote nothing: DynamoDB
 * answered with a 4xx (a cancellation, a validation error, throttling),
 * or no call was made. Without an answer, or after a 5xx, the
 * transaction may have been done (DynamoDB Developer Guide, "Error
 * handling": a 5xx is a problem on the service's side, the request may
 * have been processed).
 */
static int surely_not_written(enum result e, const struct error_info *why)
{
    switch (e) {
    case RESULT_INVALID_INPUT:
    case RESULT_NOT_FOUND:
    case RESULT_ALREADY_EXISTS:
    case RESULT_CONDITION_FAILED:
    case RESULT_THROTTLED:
        return 1;
    case RESULT_SERVICE_ERROR:
        return why->http_status >= 400 && why->http_status < 500;
    case RESULT_TIMEOUT: /* the deadline had passed before any attempt */
        return why->http_status == 0 &&
               strcmp(why->type, "DeadlineExceeded") == 0;
    default:
        return 0;
    }
}

enum result req_enqueue(struct store *s, struct request *r, int64_t deadline_ms,
                        struct error_info *err)
{
    struct error_info why;
    struct request n;
    cJSON *item = NULL, *counter = NULL, *items = NULL;
    error_clear(&why);
    enum result e = new_request(s, r, &n, &item, &why);
    if (e == RESULT_OK)
        e = inflight_key(r->tenant_id, r->user_id, &counter, &why);
    if (e == RESULT_OK) {
        /* Counted like every request, so that its end, which takes one
         * off, leaves the count right. */
        items = cJSON_CreateArray();
        cJSON_AddItemToArray(items, put_action(s->requests_table, item,
                                               "attribute_not_exists(pk)"));
        cJSON_AddItemToArray(items,
                             counter_action(s->requests_table, counter, 1, 0));
        item = counter = NULL;
        e = transact(s, items, deadline_ms, NULL, &why);
    }
    if (e == RESULT_CONDITION_FAILED)
        e = error_set(&why, RESULT_ALREADY_EXISTS, "AlreadyExists",
                      "request %s already exists", r->request_id);
    if (e == RESULT_OK)
        took(r, &n);
    else if (err)
        *err = why;
    cJSON_Delete(items);
    cJSON_Delete(item);
    cJSON_Delete(counter);
    return e;
}

enum result req_enqueue_subscribed(struct store *s, struct request *r,
                                   long max_inflight, int64_t deadline_ms,
                                   int *stored, struct error_info *err)
{
    struct error_info why;
    struct request n;
    struct subscription sub = {0};
    cJSON *item = NULL, *sub_item = NULL, *items = NULL, *counter = NULL;
    error_clear(&why);
    enum result e = new_request(s, r, &n, &item, &why);
    if (e != RESULT_OK)
        goto done;
    sub.connection_id = xstrdup(r->connection_id);
    sub.request_id = xstrdup(r->request_id);
    sub.tenant_id = xstrdup(r->tenant_id);
    sub.user_id = xstrdup(r->user_id);
    sub.event_types = SUB_ALL;
    if ((e = sub_new_item(s, &sub, &sub_item, &why)) != RESULT_OK ||
        (e = inflight_key(r->tenant_id, r->user_id, &counter, &why)) !=
            RESULT_OK)
        goto done;
    items = cJSON_CreateArray();
    cJSON_AddItemToArray(
        items, put_action(s->requests_table, item, "attribute_not_exists(pk)"));
    cJSON_AddItemToArray(items,
                         put_action(s->subscriptions_table, sub_item, NULL));
    cJSON_AddItemToArray(
        items, counter_action(s->requests_table, counter, 1, max_inflight));
    item = sub_item = counter = NULL;
    /* ClientRequestToken (TransactWriteItems): the retries of one call
     * are idempotent. */
    e = transact(s, items, deadline_ms, NULL, &why);
    /* A failed condition: the id is taken (action 0, named first when
     * both fail), or the user is at the limit (action 2). */
    if (e == RESULT_CONDITION_FAILED && strcmp(why.field, "TransactItems[2]"))
        e = error_set(&why, RESULT_ALREADY_EXISTS, "AlreadyExists",
                      "request %s already exists", r->request_id);
    else if (e == RESULT_CONDITION_FAILED)
        e = error_set(&why, RESULT_THROTTLED, REQ_TOO_MANY_IN_FLIGHT,
                      "the user has %ld requests in flight", max_inflight);

done:
    if (e == RESULT_OK)
        took(r, &n);
    *stored = e == RESULT_OK ? 1 : surely_not_written(e, &why) ? 0 : -1;
    if (e != RESULT_OK && err)
        *err = why;
    cJSON_Delete(items);
    cJSON_Delete(item);
    cJSON_Delete(sub_item);
    cJSON_Delete(counter);
    sub_cleanup(&sub);
    return e;
}

enum result req_get(struct store *s, const char *tenant_id, const char *user_id,
                    const char *request_id, struct request *out,
                    int64_t deadline_ms, struct error_info *err)
{
    memset(out, 0, sizeof(*out));
    cJSON *key = NULL;
    enum result e = req_key(tenant_id, user_id, request_id, &key, err);
    if (e != RESULT_OK)
        return e;
    cJSON *item = NULL;
    e = ddb_get_item(s->ddb, s->requests_table, key, 1, deadline_ms, &item,
                     err);
    if (e == RESULT_OK)
        e = req_from_item(item, out, err);
    cJSON_Delete(item);
    cJSON_Delete(key);
    return e;
}

/*
 * A move to an end (COMPLETED, FAILED, CANCELLED) frees the user's slot:
 * the request's conditional update (`expr` and `o`, as UpdateItem would
 * take them) and the counter's decrement are one TransactWriteItems, so
 * the count cannot drift from the requests it counts. On a failed
 * condition, the request's cancellation reason carries the item as it is
 * (ReturnValuesOnConditionCheckFailure = ALL_OLD): none means there is
 * no request (RESULT_NOT_FOUND).
 */
static enum result update_ending(struct store *s, const struct request *r,
                                 const cJSON *key, const char *expr,
                                 const struct ddb_write_opts *o,
                                 struct error_info *err)
{
    struct error_info why;
    cJSON *counter = NULL, *reasons = NULL;
    error_clear(&why);
    enum result res = inflight_key(r->tenant_id, r->user_id, &counter, &why);
    if (res != RESULT_OK)
        goto done;
    cJSON *items = cJSON_CreateArray();
    cJSON *action = cJSON_CreateObject();
    cJSON *u = cJSON_AddObjectToObject(action, "Update");
    cJSON_AddStringToObject(u, "TableName", s->requests_table);
    cJSON_AddItemToObject(u, "Key", cJSON_Duplicate(key, 1));
    cJSON_AddStringToObject(u, "UpdateExpression", expr);
    cJSON_AddStringToObject(u, "ConditionExpression", o->condition);
    if (o->expr->names)
        cJSON_AddItemToObject(u, "ExpressionAttributeNames",
                              cJSON_Duplicate(o->expr->names, 1));
    if (o->expr->values)
        cJSON_AddItemToObject(u, "ExpressionAttributeValues",
                              cJSON_Duplicate(o->expr->values, 1));
    cJSON_AddStringToObject(u, "ReturnValuesOnConditionCheckFailure",
                            "ALL_OLD");
    cJSON_AddItemToArray(items, action);
    cJSON_AddItemToArray(items,
                         counter_action(s->requests_table, counter, -1, 0));
    res = transact(s, items, o->deadline_ms, &reasons, &why);
    if (res == RESULT_CONDITION_FAILED)
        res =
            store_condition_failure(cJSON_GetObjectItemCaseSensitive(
                                        cJSON_GetArrayItem(reasons, 0), "Item"),
                                    &why);
    cJSON_Delete(reasons);
    cJSON_Delete(items);
done:
    if (res != RESULT_OK && err)
        *err = why;
    return res;
}

/*
 * One conditional UpdateItem: `set` (a SET clause list without "SET")
 * plus status, updated_at and version, and `remove` (attribute names
 * without "REMOVE", or NULL), on condition that the item is at r->status
 * and r->version. `e` holds the values `set` uses.
 */
static enum result update(struct store *s, struct request *r,
                          enum req_status to, const char *set,
                          const char *remove, struct ddb_expr *e,
                          int64_t deadline_ms, struct error_info *err)
{
    cJSON *key = NULL;
    enum result res =
        req_key(r->tenant_id, r->user_id, r->request_id, &key, err);
    if (res != RESULT_OK)
        return res;
    char now[CLOCK_RFC3339_SIZE];
    store_timestamp(s, now);
    ddb_expr_name(e, "#status", "status");
    ddb_expr_value(e, ":from", item_av_s(req_status_str(r->status)));
    ddb_expr_value(e, ":to", item_av_s(req_status_str(to)));
    ddb_expr_value(e, ":v", item_av_i64(r->version));
    ddb_expr_value(e, ":one", item_av_i64(1));
    ddb_expr_value(e, ":now", item_av_s(now));
    struct buf expr;
    buf_init(&expr, 4096);
    res =
        buf_appendf(&expr,
                    "SET #status = :to, updated_at = :now, "
                    "version = version + :one%s%s%s%s",
                    set && *set ? ", " : "", set ? set : "",
                    remove && *remove ? " REMOVE " : "", remove ? remove : "");
    if (res != RESULT_OK) {
        cJSON_Delete(key);
        buf_cleanup(&expr);
        return res;
    }
    cJSON *old = NULL;
    struct ddb_write_opts o = {.condition = "#status = :from AND version = :v",
                               .expr = e,
                               .return_old_on_condition_failure = 1,
                               .deadline_ms = deadline_ms};
    if (to == REQ_COMPLETED || to == REQ_FAILED || to == REQ_CANCELLED)
        res = update_ending(s, r, key, buf_str(&expr), &o, err);
    else
        res = ddb_update_item(s->ddb, s->requests_table, key, buf_str(&expr),
                              &o, &old, err);
    if (res == RESULT_CONDITION_FAILED &&
        !(to == REQ_COMPLETED || to == REQ_FAILED || to == REQ_CANCELLED))
        res = store_condition_failure(old, err);
    if (res == RESULT_OK) {
        r->status = to;
        r->version++;
        memcpy(r->updated_at, now, sizeof(now));
    }
    cJSON_Delete(old);
    cJSON_Delete(key);
    buf_cleanup(&expr);
    return res;
}

enum result req_update_status(struct store *s, struct request *r,
                              enum req_status to, int64_t deadline_ms,
                              struct error_info *err)
{
    if (!req_transition_allowed(r->status, to))
        return error_field(err, "status", "a request cannot go from %s to %s",
                           req_status_str(r->status), req_status_str(to));
    struct ddb_expr e;
    ddb_expr_init(&e);
    const char *set = "", *remove = NULL;
    if (to == REQ_PROCESSING) {
        set = r->lease_expires[0]
                  ? "processing_started = :now, lease_expires = :lease"
                  : "processing_started = :now";
        if (r->lease_expires[0])
            ddb_expr_value(&e, ":lease", item_av_s(r->lease_expires));
        else
            remove = "lease_expires";
    } else if (to == REQ_RETRYING) {
        set = r->retry_after[0]
                  ? "retry_count = retry_count + :one, retry_after = :ra"
                  : "retry_count = retry_count + :one";
        if (r->retry_after[0])
            ddb_expr_value(&e, ":ra", item_av_s(r->retry_after));
    } else if (to != REQ_PENDING) {
        set = "processing_ended = :now";
    }
    enum req_status from = r->status;
    enum result res = update(s, r, to, set, remove, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        if (to == REQ_PROCESSING)
            memcpy(r->processing_started, r->updated_at, sizeof(r->updated_at));
        else if (to == REQ_RETRYING)
            r->retry_count++;
        else if (from != to)
            memcpy(r->processing_ended, r->updated_at, sizeof(r->updated_at));
    }
    return res;
}

enum result req_update_progress(struct store *s, struct request *r,
                                int progress, const char *message,
                                const cJSON *details, int64_t deadline_ms,
                                struct error_info *err)
{
    if (progress < 0 || progress > 100)
        return error_field(err, "progress", "progress must be 0-100");
    if (message && strlen(message) > REQ_MAX_MESSAGE_BYTES)
        return error_field(err, "progress_message",
                           "progress_message is over %d bytes",
                           REQ_MAX_MESSAGE_BYTES);
    if (details && !cJSON_IsObject(details))
        return error_field(err, "progress_details",
                           "progress_details must be an object");
    if (r->status != REQ_PROCESSING)
        return error_set(err, RESULT_CONDITION_FAILED, "WrongStatus",
                         "progress is only saved while PROCESSING");
    struct ddb_expr e;
    ddb_expr_init(&e);
    cJSON *details_av = NULL;
    enum result res = RESULT_OK;
    if (details)
        res = item_av_from_json(details, "progress_details", &details_av, err);
    if (res == RESULT_OK && details_av) {
        /* The item as it will be: this message, these details. A shallow
         * view, only read. */
        struct request view = *r;
        view.progress_message = (char *)message;
        res = check_size_with(&view, REQ_PROCESSING, "progress_details",
                              details_av, err);
    }
    if (res != RESULT_OK) {
        cJSON_Delete(details_av);
        ddb_expr_cleanup(&e);
        return res;
    }
    /* A missing message or details is removed, never stored as NULL:
     * progress_message is an S and progress_details an M (docs/data-model.md).
     */
    ddb_expr_value(&e, ":p", item_av_i64(progress));
    if (message)
        ddb_expr_value(&e, ":m", item_av_s(message));
    if (details_av)
        ddb_expr_value(&e, ":d", details_av);
    const char *set = message && details_av
                          ? "progress = :p, progress_message = :m, "
                            "progress_details = :d"
                      : message    ? "progress = :p, progress_message = :m"
                      : details_av ? "progress = :p, progress_details = :d"
                                   : "progress = :p";
    const char *remove = message && details_av ? NULL
                         : message             ? "progress_details"
                         : details_av          ? "progress_message"
                                      : "progress_message, progress_details";
    res = update(s, r, REQ_PROCESSING, set, remove, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        r->progress = progress;
        free(r->progress_message);
        r->progress_message = message ? xstrdup(message) : NULL;
        cJSON_Delete(r->progress_details);
        r->progress_details = details ? cJSON_Duplicate(details, 1) : NULL;
    }
    return res;
}

enum result req_complete(struct store *s, struct request *r,
                         const cJSON *result, int64_t deadline_ms,
                         struct error_info *err)
{
    if (!req_transition_allowed(r->status, REQ_COMPLETED))
        return error_field(err, "status",
                           "only a PROCESSING request can "
                           "complete");
    if (result && !cJSON_IsObject(result))
        return error_field(err, "result", "result must be an object");
    cJSON *empty = cJSON_CreateObject();
    cJSON *av = NULL;
    enum result res =
        item_av_from_json(result ? result : empty, "result", &av, err);
    cJSON_Delete(empty);
    if (res != RESULT_OK)
        return res;
    res = check_size_with(r, REQ_COMPLETED, "result", av, err);
    if (res != RESULT_OK) {
        cJSON_Delete(av);
        return res;
    }
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":r", av);
    ddb_expr_value(&e, ":hundred", item_av_i64(100));
    ddb_expr_name(&e, "#result", "result");
    res = update(s, r, REQ_COMPLETED,
                 "#result = :r, progress = :hundred, processing_ended = :now",
                 NULL, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        r->progress = 100;
        memcpy(r->processing_ended, r->updated_at, sizeof(r->updated_at));
        cJSON_Delete(r->result);
        r->result = result ? cJSON_Duplicate(result, 1) : cJSON_CreateObject();
    }
    return res;
}

/* A copy of at most `max` bytes of `s`, never cut inside a UTF-8
 * sequence (a cut one would make the whole item invalid). */
static char *utf8_prefix(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    while (n > 0 && s[n] && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return xstrndup(s, n);
}

enum result req_fail(struct store *s, struct request *r, const char *error,
                     int64_t deadline_ms, struct error_info *err)
{
    if (!req_transition_allowed(r->status, REQ_FAILED))
        return error_field(err, "status",
                           "only a PROCESSING or RETRYING request can fail");
    if (!error || !*error)
        error = "failed";
    char *msg = utf8_prefix(error, REQ_MAX_ERROR_BYTES);
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":e", item_av_s(msg));
    ddb_expr_name(&e, "#error", "error");
    enum result res =
        update(s, r, REQ_FAILED, "#error = :e, processing_ended = :now", NULL,
               &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        memcpy(r->processing_ended, r->updated_at, sizeof(r->updated_at));
        free(r->error);
        r->error = msg;
        msg = NULL;
    }
    free(msg);
    return res;
}

enum result req_reclaim(struct store *s, struct request *r, const char *lease,
                        int64_t deadline_ms, struct error_info *err)
{
    if (r->status != REQ_PROCESSING)
        return error_field(err, "status",
                           "only a PROCESSING request can be reclaimed");
    if (!lease || !*lease || strlen(lease) >= CLOCK_RFC3339_SIZE)
        return error_field(err, "lease_expires",
                           "a reclaim needs the new lease");
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":lease", item_av_s(lease));
    enum result res =
        update(s, r, REQ_PROCESSING,
               "retry_count = retry_count + :one, processing_started = :now, "
               "lease_expires = :lease",
               NULL, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        r->retry_count++;
        memcpy(r->processing_started, r->updated_at, sizeof(r->updated_at));
        snprintf(r->lease_expires, sizeof(r->lease_expires), "%s", lease);
    }
    return res;
}

enum result req_cancel(struct store *s, struct request *r, int64_t deadline_ms,
                       struct error_info *err)
{
    return req_update_status(s, r, REQ_CANCELLED, deadline_ms, err);
}

enum result req_delete(struct store *s, const char *tenant_id,
                       const char *user_id, const char *request_id,
                       int64_t deadline_ms, struct error_info *err)
{
    cJSON *key = NULL;
    enum result e = req_key(tenant_id, user_id, request_id, &key, err);
    if (e != RESULT_OK)
        return e;
    struct ddb_write_opts o = {.condition = "attribute_exists(pk)",
                               .deadline_ms = deadline_ms};
    e = ddb_delete_item(s->ddb, s->requests_table, key, &o, NULL, err);
    cJSON_Delete(key);
    if (e == RESULT_CONDITION_FAILED)
        return error_set(err, RESULT_NOT_FOUND, "NotFound", "no request %s",
                         request_id);
    return e;
}

/* A FilterExpression on a listing: `filter` uses `:f`, which is `value`. */
struct list_filter {
    const char *filter;
    const char *value;
};

static enum result list_by_filtered(struct store *s, const char *index,
                                    const char *attr,
                                    const char *const *allowed,
                                    const char *value,
                                    const struct list_filter *f, int limit,
                                    const char *cursor, struct req_page *page,
                                    int64_t deadline_ms, struct error_info *err)
{
    memset(page, 0, sizeof(*page));
    enum result e = store_check_id(attr, value, err);
    if (e != RESULT_OK)
        return e;
    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_name(&x, "#k", attr);
    ddb_expr_value(&x, ":k", item_av_s(value));
    if (f)
        ddb_expr_value(&x, ":f", item_av_s(f->value));
    struct ddb_query q = {.table = s->requests_table,
                          .index = index,
                          .key_condition = "#k = :k",
                          .filter = f ? f->filter : NULL,
                          .expr = &x,
                          .descending = !f, /* a due list: oldest first */
                          .deadline_ms = deadline_ms};
    cJSON *items = NULL;
    struct store_cursor_spec spec = {allowed, attr, value};
    e = store_query_page(s, &q, cursor, &spec, limit, &items,
                         &page->next_cursor, err);
    size_t n = (size_t)cJSON_GetArraySize(items);
    page->items = xcalloc(n ? n : 1, sizeof(*page->items));
    for (const cJSON *it = items ? items->child : NULL; e == RESULT_OK && it;
         it = it->next) {
        e = req_from_item(it, &page->items[page->count], err);
        if (e == RESULT_OK)
            page->count++;
    }
    cJSON_Delete(items);
    ddb_expr_cleanup(&x);
    if (e != RESULT_OK)
        req_page_cleanup(page);
    return e;
}

static enum result list_by(struct store *s, const char *index, const char *attr,
                           const char *const *allowed, const char *value,
                           int limit, const char *cursor, struct req_page *page,
                           int64_t deadline_ms, struct error_info *err)
{
    return list_by_filtered(s, index, attr, allowed, value, NULL, limit, cursor,
                            page, deadline_ms, err);
}

enum result req_list_by_connection(struct store *s, const char *connection_id,
                                   int limit, const char *cursor,
                                   struct req_page *page, int64_t deadline_ms,
                                   struct error_info *err)
{
    return list_by(s, "connection-index", "connection_id",
                   connection_index_keys, connection_id, limit, cursor, page,
                   deadline_ms, err);
}

enum result req_list_by_status(struct store *s, enum req_status status,
                               int limit, const char *cursor,
                               struct req_page *page, int64_t deadline_ms,
                               struct error_info *err)
{
    return list_by(s, "status-index", "status", status_index_keys,
                   req_status_str(status), limit, cursor, page, deadline_ms,
                   err);
}

enum result req_list_by_user(struct store *s, const char *user_id, int limit,
                             const char *cursor, struct req_page *page,
                             int64_t deadline_ms, struct error_info *err)
{
    return list_by(s, "user-index", "user_id", user_index_keys, user_id, limit,
                   cursor, page, deadline_ms, err);
}

enum result req_list_due(struct store *s, enum req_status status,
                         const char *now, int limit, const char *cursor,
                         struct req_page *page, int64_t deadline_ms,
                         struct error_info *err)
{
    memset(page, 0, sizeof(*page));
    struct list_filter f = {NULL, now};
    if (status == REQ_RETRYING)
        f.filter = "attribute_not_exists(retry_after) OR retry_after <= :f";
    else if (status == REQ_PROCESSING)
        f.filter = "lease_expires < :f";
    else
        return error_field(err, "status",
                           "only RETRYING and PROCESSING requests fall due");
    if (!now || !*now || strlen(now) >= CLOCK_RFC3339_SIZE)
        return error_field(err, "now", "a due list needs the time");
    return list_by_filtered(s, "status-index", "status", status_index_keys,
                            req_status_str(status), &f, limit, cursor, page,
                            deadline_ms, err);
}

/* The request queue: async requests and their status, progress, result. */
#include "requests_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
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
enum result req_key(const char *tenant_id, const char *user_id,
                    const char *request_id, cJSON **key, struct error_info *err)
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
        r->payload = xjson(cJSON_CreateObject());
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
enum result req_base_item(const struct request *r, cJSON **out,
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
    enum result e = req_base_item(r, &item, err);
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
        r->payload = xjson(cJSON_CreateObject());
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

/* {"Put":{"TableName":table,"Item":item[,"ConditionExpression":c]}};
 * takes `item`. */
static cJSON *put_action(const char *table, cJSON *item, const char *condition)
{
    cJSON *action = xjson(cJSON_CreateObject());
    cJSON *put = xjson(cJSON_CreateObject());
    xjson_add(action, "Put", put);
    xjson_add(put, "TableName", cJSON_CreateString(table));
    xjson_add(put, "Item", item);
    if (condition)
        xjson_add(put, "ConditionExpression", cJSON_CreateString(condition));
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
        e = req_inflight_key(r->tenant_id, r->user_id, &counter, &why);
    if (e == RESULT_OK) {
        /* Counted like every request, so that its end, which takes one
         * off, leaves the count right. */
        items = xjson(cJSON_CreateArray());
        xjson_append(items, put_action(s->requests_table, item,
                                       "attribute_not_exists(pk)"));
        xjson_append(items,
                     req_inflight_action(s->requests_table, counter, 1, 0));
        item = counter = NULL;
        e = req_transact(s, items, deadline_ms, NULL, &why);
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
        (e = req_inflight_key(r->tenant_id, r->user_id, &counter, &why)) !=
            RESULT_OK)
        goto done;
    items = xjson(cJSON_CreateArray());
    xjson_append(
        items, put_action(s->requests_table, item, "attribute_not_exists(pk)"));
    xjson_append(items, put_action(s->subscriptions_table, sub_item, NULL));
    xjson_append(items, req_inflight_action(s->requests_table, counter, 1,
                                            max_inflight));
    item = sub_item = counter = NULL;
    /* ClientRequestToken (TransactWriteItems): the retries of one call
     * are idempotent. */
    e = req_transact(s, items, deadline_ms, NULL, &why);
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

static enum result read_listed(const cJSON *item, void *out,
                               struct error_info *err)
{
    return req_from_item(item, out, err);
}

static void cleanup_listed(void *r)
{
    req_cleanup(r);
}

/* A request as a listing reads it (store_list_page()). */
static const struct store_reader reader = {sizeof(struct request), read_listed,
                                           cleanup_listed};

void req_page_cleanup(struct req_page *p)
{
    store_items_free(p->items, p->count, &reader);
    free(p->next_cursor);
    memset(p, 0, sizeof(*p));
}

/*
 * One page on the index of `attr`: newest first, or, with `filter` (a
 * FilterExpression on `:f`, which is `filter_value`), a due list: oldest
 * first.
 */
static enum result list_by(struct store *s, const char *index, const char *attr,
                           const char *const *keys, const char *value,
                           const char *filter, const char *filter_value,
                           int limit, const char *cursor, struct req_page *page,
                           int64_t deadline_ms, struct error_info *err)
{
    void *items = NULL;
    memset(page, 0, sizeof(*page));
    enum result e = store_check_id(attr, value, err);
    if (e != RESULT_OK)
        return e;
    struct store_list l = {.table = s->requests_table,
                           .index = index,
                           .attr = attr,
                           .value = value,
                           .filter = filter,
                           .filter_value = filter_value,
                           .keys = keys,
                           .descending = !filter};
    e = store_list_page(s, &l, &reader, limit, cursor, deadline_ms, &items,
                        &page->count, &page->next_cursor, err);
    page->items = items;
    return e;
}

enum result req_list_by_connection(struct store *s, const char *connection_id,
                                   int limit, const char *cursor,
                                   struct req_page *page, int64_t deadline_ms,
                                   struct error_info *err)
{
    return list_by(s, "connection-index", "connection_id",
                   connection_index_keys, connection_id, NULL, NULL, limit,
                   cursor, page, deadline_ms, err);
}

enum result req_list_by_status(struct store *s, enum req_status status,
                               int limit, const char *cursor,
                               struct req_page *page, int64_t deadline_ms,
                               struct error_info *err)
{
    return list_by(s, "status-index", "status", status_index_keys,
                   req_status_str(status), NULL, NULL, limit, cursor, page,
                   deadline_ms, err);
}

enum result req_list_by_user(struct store *s, const char *user_id, int limit,
                             const char *cursor, struct req_page *page,
                             int64_t deadline_ms, struct error_info *err)
{
    return list_by(s, "user-index", "user_id", user_index_keys, user_id, NULL,
                   NULL, limit, cursor, page, deadline_ms, err);
}

enum result req_list_due(struct store *s, enum req_status status,
                         const char *now, int limit, const char *cursor,
                         struct req_page *page, int64_t deadline_ms,
                         struct error_info *err)
{
    memset(page, 0, sizeof(*page));
    const char *filter;
    if (status == REQ_RETRYING)
        filter = "attribute_not_exists(retry_after) OR retry_after <= :f";
    else if (status == REQ_PROCESSING)
        filter = "lease_expires < :f";
    else
        return error_field(err, "status",
                           "only RETRYING and PROCESSING requests fall due");
    if (!now || !*now || strlen(now) >= CLOCK_RFC3339_SIZE)
        return error_field(err, "now", "a due list needs the time");
    return list_by(s, "status-index", "status", status_index_keys,
                   req_status_str(status), filter, now, limit, cursor, page,
                   deadline_ms, err);
}

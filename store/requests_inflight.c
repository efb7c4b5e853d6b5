/* The in-flight counter of each user, and conflict-retried transactions. */
#include "requests_int.h"

#include <string.h>

#include "clock.h"
#include "item.h"
#include "retry.h"
#include "uuid.h"
#include "xmalloc.h"

/*
 * The in-flight counter of each user. One item per user in the requests table:
 * pk "INFLIGHT#" + the owner key (store_owner_key), sk "INFLIGHT", attribute
 * inflight (N). An enqueue adds one in its transaction, on condition that the
 * count is below the limit; every move to COMPLETED, FAILED or CANCELLED takes
 * one off in the same transaction as the move. The item has no status,
 * connection_id or created_at, so it is in no index, and the stream's
 * filter (INSERT of a PENDING request) never hands it to the processor.
 */
#define INFLIGHT_PREFIX "INFLIGHT#"
#define SK_INFLIGHT "INFLIGHT"
#define CONFLICT_ATTEMPTS 12
#define CONFLICT_BASE_MS 5
#define CONFLICT_CAP_MS 200

enum result req_inflight_key(const char *tenant_id, const char *user_id,
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
cJSON *req_inflight_action(const char *table, cJSON *key, int delta, long limit)
{
    cJSON *action = xjson(cJSON_CreateObject());
    cJSON *u = xjson(cJSON_CreateObject());
    xjson_add(action, "Update", u);
    xjson_add(u, "TableName", cJSON_CreateString(table));
    xjson_add(u, "Key", key);
    xjson_add(u, "UpdateExpression", cJSON_CreateString("ADD #n :d"));
    cJSON *attrs = xjson(cJSON_CreateObject());
    xjson_add(u, "ExpressionAttributeNames", attrs);
    xjson_add(attrs, "#n", cJSON_CreateString("inflight"));
    cJSON *values = xjson(cJSON_CreateObject());
    xjson_add(u, "ExpressionAttributeValues", values);
    xjson_add(values, ":d", item_av_i64(delta));
    if (limit > 0) {
        xjson_add(
            u, "ConditionExpression",
            cJSON_CreateString("attribute_not_exists(#n) OR #n < :limit"));
        xjson_add(values, ":limit", item_av_i64(limit));
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
enum result req_transact(struct store *s, const cJSON *items,
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
    enum result r = req_inflight_key(tenant_id, user_id, &key, err);
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

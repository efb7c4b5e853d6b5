/* DynamoDB calls on many items: BatchWriteItem, BatchGetItem,
 * TransactWriteItems. */
#include "ddb.h"

#include <stdio.h>
#include <string.h>

#include "ddb_int.h"
#include "retry.h"
#include "xmalloc.h"

/* DynamoDB API Reference, TransactWriteItems: 1 to 100 actions, and a
 * ClientRequestToken of 1 to 36 characters. */
#define TRANSACT_MAX_ITEMS 100
#define CLIENT_TOKEN_MAX_BYTES 36

/*
 * A BatchWriteItem request: exactly one PutRequest {Item} or
 * DeleteRequest {Key} (DynamoDB API Reference, WriteRequest).
 */
static enum result check_write_request(const cJSON *rq, int index,
                                       struct error_info *e)
{
    char field[64];
    snprintf(field, sizeof(field), "requests[%d]", index);
    const cJSON *put = cJSON_GetObjectItemCaseSensitive(rq, "PutRequest");
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(rq, "DeleteRequest");
    if (!cJSON_IsObject(rq) || cJSON_GetArraySize(rq) != 1 || (!put && !del))
        return error_field(e, field,
                           "%s is not one PutRequest or DeleteRequest", field);
    if (put)
        return ddb_check_item(cJSON_GetObjectItemCaseSensitive(put, "Item"),
                              field, e);
    return ddb_check_attrs(cJSON_GetObjectItemCaseSensitive(del, "Key"), field,
                           e);
}

static enum result check_write_requests(const cJSON *requests,
                                        struct error_info *e)
{
    if (!cJSON_IsArray(requests))
        return error_field(e, "requests", "requests is not an array");
    int i = 0;
    const cJSON *rq;
    cJSON_ArrayForEach(rq, requests)
    {
        enum result r = check_write_request(rq, i++, e);
        if (r != RESULT_OK)
            return r;
    }
    return RESULT_OK;
}

/*
 * One TransactItems entry: exactly one of ConditionCheck, Put, Delete or
 * Update (DynamoDB API Reference, TransactWriteItem), its Item or Key
 * valid.
 */
static enum result check_transact_item(const cJSON *t, int index,
                                       struct error_info *e)
{
    char field[64];
    snprintf(field, sizeof(field), "TransactItems[%d]", index);
    if (!cJSON_IsObject(t) || cJSON_GetArraySize(t) != 1)
        return error_field(e, field, "%s is not one action", field);
    const cJSON *action = t->child;
    if (strcmp(action->string, "Put") == 0)
        return ddb_check_item(cJSON_GetObjectItemCaseSensitive(action, "Item"),
                              field, e);
    if (strcmp(action->string, "Update") == 0 ||
        strcmp(action->string, "Delete") == 0 ||
        strcmp(action->string, "ConditionCheck") == 0)
        return ddb_check_attrs(cJSON_GetObjectItemCaseSensitive(action, "Key"),
                               field, e);
    return error_field(e, field, "%s has an unknown action '%s'", field,
                       action->string);
}

/* ---- BatchWriteItem -------------------------------------------------- */

/*
 * DynamoDB API Reference, BatchWriteItem: requests DynamoDB did not
 * process come back under UnprocessedItems, keyed by table, in the shape
 * they were sent. Takes this table's out of `resp` into `*left` (NULL
 * when all were written). A list that is malformed, names another table
 * or is longer than what was sent is RESULT_PARSE.
 */
static enum result take_unprocessed(cJSON *resp, const char *table, int sent,
                                    cJSON *found, cJSON **left,
                                    struct error_info *e)
{
    (void)found;
    cJSON *u = cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedItems");
    struct error_info why;
    *left = NULL;
    if (!u || (cJSON_IsObject(u) && !u->child))
        return RESULT_OK;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(u, table);
    if (!cJSON_IsObject(u) || !arr || cJSON_GetArraySize(u) != 1)
        return ddb_malformed(e, "BatchWriteItem", "bad UnprocessedItems");
    error_clear(&why);
    if (check_write_requests(arr, &why) != RESULT_OK)
        return error_set(e, RESULT_PARSE, "MalformedResponse",
                         "BatchWriteItem answered bad UnprocessedItems: %s",
                         why.message);
    int n = cJSON_GetArraySize(arr);
    if (n > sent)
        return ddb_malformed(e, "BatchWriteItem",
                             "more UnprocessedItems than were sent");
    if (n > 0)
        *left = cJSON_DetachItemViaPointer(u, arr);
    return RESULT_OK;
}

/*
 * Moves this table's items out of a BatchGetItem answer's Responses into
 * `found`, and returns the keys left in UnprocessedKeys (NULL: none).
 * DynamoDB API Reference, BatchGetItem: "If DynamoDB returns any
 * unprocessed items, you should retry the batch operation on those
 * items", with exponential backoff.
 */
static enum result take_batch_get(cJSON *resp, const char *table, int sent,
                                  cJSON *found, cJSON **left,
                                  struct error_info *e)
{
    (void)sent;
    *left = NULL;
    cJSON *got = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(resp, "Responses"), table);
    if (got && !cJSON_IsArray(got))
        return ddb_malformed(e, "BatchGetItem", "bad Responses");
    cJSON *it;
    while (got && (it = got->child)) {
        struct error_info why;
        error_clear(&why);
        if (ddb_check_attrs(it, "item", &why) != RESULT_OK)
            return ddb_malformed(e, "BatchGetItem",
                                 "an item that is not valid");
        xjson_append(found, cJSON_DetachItemViaPointer(got, it));
    }
    cJSON *keys = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedKeys"), table),
        "Keys");
    if (keys && !cJSON_IsArray(keys))
        return ddb_malformed(e, "BatchGetItem", "bad UnprocessedKeys");
    if (keys && keys->child)
        *left = cJSON_DetachItemViaPointer(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedKeys"),
                table),
            keys);
    return RESULT_OK;
}

/*
 * Reads a batch answer: moves what it brings into `found` (BatchGetItem)
 * and sets `*left` to what is to be sent again (caller owns; NULL when
 * none). `sent` is how many requests or keys went out.
 */
typedef enum result (*batch_take_fn)(cJSON *resp, const char *table, int sent,
                                     cJSON *found, cJSON **left,
                                     struct error_info *e);

/* BatchWriteItem or BatchGetItem: what batch_send() needs to know. */
struct batch_kind {
    const char *operation;
    const char *left_type; /* the error type when some stay unprocessed */
    const char *left_noun; /* "requests" or "keys" */
    batch_take_fn take;
};

static const struct batch_kind batch_write_kind = {
    "BatchWriteItem", "UnprocessedItems", "requests", take_unprocessed};
static const struct batch_kind batch_get_kind = {
    "BatchGetItem", "UnprocessedKeys", "keys", take_batch_get};

/* A new array of references to `count` elements from `first` on. */
static cJSON *refs_of(const cJSON *first, int count)
{
    cJSON *refs = xjson(cJSON_CreateArray());
    for (int i = 0; i < count && first; i++, first = first->next)
        ddb_add_ref_element(refs, first);
    return refs;
}

/* The element `n` places after `it`, or NULL past the end. */
static const cJSON *skip(const cJSON *it, int n)
{
    for (int i = 0; i < n && it; i++)
        it = it->next;
    return it;
}

/*
 * Sends `req` (borrowed) until nothing comes back unprocessed: what does
 * replaces `holder`'s member `name` (the list being sent) and goes again
 * after a full-jitter backoff (DynamoDB Developer Guide, "Batch
 * operations": "we strongly recommend that you use an exponential backoff
 * algorithm"), until none is left, the attempts run out or the deadline
 * would pass: then RESULT_THROTTLED.
 */
static enum result batch_send(struct ddb *d, const struct batch_kind *k,
                              const char *table, cJSON *req, cJSON *holder,
                              const char *name, cJSON *found,
                              int64_t deadline_ms, struct error_info *e)
{
    for (int attempt = 1;; attempt++) {
        cJSON *resp = NULL, *left = NULL;
        int sent =
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(holder, name));
        enum result r =
            ddb_send(d, k->operation, req, deadline_ms, &resp, NULL, e);
        if (r == RESULT_OK)
            r = k->take(resp, table, sent, found, &left, e);
        cJSON_Delete(resp);
        if (r != RESULT_OK || !left) {
            cJSON_Delete(left);
            return r;
        }
        long delay_ms = 0;
        enum retry_decision why =
            retry_decide(ddb_policy(d), attempt, 1, deadline_ms, &delay_ms);
        if (why != RETRY_AGAIN) {
            char what[64]; /* as the messages were before they met here */
            if (k == &batch_write_kind)
                snprintf(what, sizeof(what), "%d of %d requests",
                         cJSON_GetArraySize(left), sent);
            else
                snprintf(what, sizeof(what), "%d %s", cJSON_GetArraySize(left),
                         k->left_noun);
            cJSON_Delete(left);
            return error_set(e, RESULT_THROTTLED, k->left_type,
                             "%s left %s unprocessed on %s (%d attempt%s, %s)",
                             k->operation, what, table, attempt,
                             attempt == 1 ? "" : "s", retry_decision_str(why));
        }
        retry_sleep(ddb_policy(d), delay_ms);
        cJSON_ReplaceItemInObjectCaseSensitive(holder, name, left);
    }
}

/* Writes `count` requests from `first` on (borrowed), as batch_send(). */
static enum result batch_chunk(struct ddb *d, const char *table,
                               const cJSON *first, int count,
                               int64_t deadline_ms, struct error_info *e)
{
    cJSON *req = xjson(cJSON_CreateObject());
    cJSON *tables = xjson(cJSON_CreateObject());
    xjson_add(req, "RequestItems", tables);
    xjson_add(tables, table, refs_of(first, count));
    enum result r = batch_send(d, &batch_write_kind, table, req, tables, table,
                               NULL, deadline_ms, e);
    cJSON_Delete(req);
    return r;
}

enum result ddb_batch_write(struct ddb *d, const char *table,
                            const cJSON *requests, int64_t deadline_ms,
                            struct error_info *err)
{
    struct error_info e;
    error_clear(&e);
    enum result r = ddb_check_name(table, "table", &e);
    if (r == RESULT_OK)
        r = check_write_requests(requests, &e);
    const cJSON *chunk = r == RESULT_OK ? requests->child : NULL;
    while (chunk && r == RESULT_OK) {
        r = batch_chunk(d, table, chunk, DDB_BATCH_WRITE_MAX, deadline_ms, &e);
        chunk = skip(chunk, DDB_BATCH_WRITE_MAX);
    }
    return ddb_report(r, &e, err);
}

/* ---- BatchGetItem ---------------------------------------------------- */

/* Reads `count` keys from `first` on into `found`, as batch_send(). */
static enum result batch_get_chunk(struct ddb *d, const char *table,
                                   const cJSON *first, int count,
                                   int consistent, int64_t deadline_ms,
                                   cJSON *found, struct error_info *e)
{
    cJSON *req = xjson(cJSON_CreateObject());
    cJSON *tables = xjson(cJSON_CreateObject());
    cJSON *spec = xjson(cJSON_CreateObject());
    xjson_add(req, "RequestItems", tables);
    xjson_add(tables, table, spec);
    xjson_add(spec, "Keys", refs_of(first, count));
    if (consistent)
        xjson_add(spec, "ConsistentRead", cJSON_CreateTrue());
    enum result r = batch_send(d, &batch_get_kind, table, req, spec, "Keys",
                               found, deadline_ms, e);
    cJSON_Delete(req);
    return r;
}

enum result ddb_batch_get_item(struct ddb *d, const char *table,
                               const cJSON *keys, int consistent,
                               int64_t deadline_ms, cJSON **items,
                               struct error_info *err)
{
    struct error_info e;
    error_clear(&e);
    enum result r = ddb_check_name(table, "table", &e);
    const cJSON *k;
    int i = 0;
    if (r == RESULT_OK && !cJSON_IsArray(keys))
        r = error_field(&e, "keys", "keys must be an array");
    const cJSON *list = r == RESULT_OK ? keys : NULL;
    cJSON_ArrayForEach(k, list)
    {
        char field[32];
        snprintf(field, sizeof(field), "keys[%d]", i++);
        if ((r = ddb_check_attrs(k, field, &e)) != RESULT_OK)
            break;
    }
    cJSON *found = xjson(cJSON_CreateArray());
    const cJSON *chunk = r == RESULT_OK ? keys->child : NULL;
    while (chunk && r == RESULT_OK) {
        r = batch_get_chunk(d, table, chunk, DDB_BATCH_GET_MAX, consistent,
                            deadline_ms, found, &e);
        chunk = skip(chunk, DDB_BATCH_GET_MAX);
    }
    if (r == RESULT_OK)
        *items = found;
    else
        cJSON_Delete(found);
    return ddb_report(r, &e, err);
}

/* ---- TransactWriteItems ---------------------------------------------- */

/*
 * DynamoDB API Reference, TransactWriteItems: a condition that fails
 * cancels the whole transaction with TransactionCanceledException, whose
 * CancellationReasons hold one Code per action ("None",
 * "ConditionalCheckFailed", ...) and whose message repeats them in order
 * ("... specific reasons [None, ConditionalCheckFailed]").
 * aws_error_parse() maps it to RESULT_CONDITION_FAILED and names the
 * first failed action in err->field.
 */
enum result ddb_transact_write(struct ddb *d, const cJSON *items,
                               const char *client_token, int64_t deadline_ms,
                               struct error_info *err)
{
    return ddb_transact_write_ex(d, items, client_token, deadline_ms, NULL,
                                 err);
}

enum result ddb_transact_write_ex(struct ddb *d, const cJSON *items,
                                  const char *client_token, int64_t deadline_ms,
                                  cJSON **reasons, struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL, *failure = NULL;
    if (reasons)
        *reasons = NULL;
    enum result r = RESULT_OK;
    int i = 0;
    const cJSON *t;

    error_clear(&e);
    if (!cJSON_IsArray(items) || !items->child ||
        cJSON_GetArraySize(items) > TRANSACT_MAX_ITEMS) {
        r = error_field(&e, "items",
                        "items must be an array of 1 to %d "
                        "actions",
                        TRANSACT_MAX_ITEMS);
        goto done;
    }
    cJSON_ArrayForEach(t, items)
    {
        r = check_transact_item(t, i++, &e);
        if (r != RESULT_OK)
            goto done;
    }
    if (client_token &&
        (!*client_token || strlen(client_token) > CLIENT_TOKEN_MAX_BYTES)) {
        r = error_field(&e, "client_token",
                        "client_token must be 1 to %d "
                        "characters",
                        CLIENT_TOKEN_MAX_BYTES);
        goto done;
    }
    req = xjson(cJSON_CreateObject());
    ddb_add_ref(req, "TransactItems", items);
    if (client_token)
        ddb_add_string(req, "ClientRequestToken", client_token);
    r = ddb_send(d, "TransactWriteItems", req, deadline_ms, &resp,
                 reasons ? &failure : NULL, &e);
    if (failure && reasons) {
        cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(
            failure, "CancellationReasons");
        if (cJSON_IsArray(list))
            *reasons = list;
        else
            cJSON_Delete(list);
    }

done:
    cJSON_Delete(failure);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return ddb_report(r, &e, err);
}

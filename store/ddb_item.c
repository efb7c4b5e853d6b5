/* DynamoDB calls on one item or one query: writes, GetItem, Query. */
#include "ddb.h"

#include <limits.h>
#include <string.h>

#include "ddb_int.h"
#include "item.h"
#include "xmalloc.h"

static const char *const return_names[] = {
    [DDB_RETURN_NONE] = "NONE",
    [DDB_RETURN_ALL_OLD] = "ALL_OLD",
    [DDB_RETURN_ALL_NEW] = "ALL_NEW",
    [DDB_RETURN_UPDATED_OLD] = "UPDATED_OLD",
    [DDB_RETURN_UPDATED_NEW] = "UPDATED_NEW",
};

/* ---- Writes ---------------------------------------------------------- */

/*
 * The members every write shares. DynamoDB API Reference: PutItem and
 * DeleteItem take ReturnValues NONE or ALL_OLD only, UpdateItem all five;
 * ReturnValuesOnConditionCheckFailure is NONE or ALL_OLD for all three.
 * On success the caller owns `*out`.
 */
static enum result write_request(const char *table,
                                 const struct ddb_write_opts *o, int any_return,
                                 cJSON **out, struct error_info *e)
{
    enum result r = ddb_check_name(table, "table", e);
    if (r != RESULT_OK)
        return r;
    if (o) {
        if ((unsigned)o->return_values > DDB_RETURN_UPDATED_NEW ||
            (!any_return && o->return_values != DDB_RETURN_NONE &&
             o->return_values != DDB_RETURN_ALL_OLD))
            return error_field(e, "return_values",
                               "this write returns only NONE or ALL_OLD");
        r = ddb_check_expr(o->expr, e);
        if (r != RESULT_OK)
            return r;
    }
    cJSON *req = xjson(cJSON_CreateObject());
    ddb_add_string(req, "TableName", table);
    if (o) {
        if (o->condition && *o->condition)
            ddb_add_string(req, "ConditionExpression", o->condition);
        ddb_add_expr(req, o->expr);
        if (o->return_values != DDB_RETURN_NONE)
            ddb_add_string(req, "ReturnValues", return_names[o->return_values]);
        if (o->return_old_on_condition_failure)
            ddb_add_string(req, "ReturnValuesOnConditionCheckFailure",
                           "ALL_OLD");
    }
    *out = req;
    return RESULT_OK;
}

/*
 * Sends a prepared write (`req` is consumed) and hands back its
 * Attributes, or, after a failed condition with
 * return_old_on_condition_failure, the item as it is. DynamoDB API
 * Reference, PutItem / UpdateItem / DeleteItem,
 * ReturnValuesOnConditionCheckFailure: with ALL_OLD, the
 * ConditionalCheckFailedException answer carries the item ("Item"), and
 * carries none when there is no item. No second read is needed.
 */
static enum result write_call(struct ddb *d, const char *operation, cJSON *req,
                              const struct ddb_write_opts *o,
                              cJSON **attributes, struct error_info *e)
{
    cJSON *resp = NULL, *attrs = NULL, *failure = NULL;
    int64_t deadline_ms = o ? o->deadline_ms : 0;
    int want_old = attributes && o && o->return_old_on_condition_failure;
    enum result r = ddb_send(d, operation, req, deadline_ms, &resp,
                             want_old ? &failure : NULL, e);
    if (r == RESULT_OK) {
        r = ddb_take_item(resp, "Attributes", operation, &attrs, e);
    } else if (r == RESULT_CONDITION_FAILED && failure) {
        struct error_info why;
        /* A malformed Item is dropped: the condition's failure stands. */
        if (ddb_take_item(failure, "Item", operation, &attrs, &why) !=
            RESULT_OK)
            attrs = NULL;
    }
    cJSON_Delete(failure);
    if (attributes && (r == RESULT_OK || r == RESULT_CONDITION_FAILED)) {
        *attributes = attrs;
        attrs = NULL;
    }
    cJSON_Delete(attrs);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return r;
}

/*
 * What PutItem, UpdateItem and DeleteItem share: `what` is "Item" (checked
 * as an item to write) or "Key", `value` its object (borrowed);
 * `update_expression` is UpdateItem's, NULL for the others.
 */
static enum result write_item(struct ddb *d, const char *operation,
                              const char *table, const char *what,
                              const cJSON *value, const char *update_expression,
                              const struct ddb_write_opts *o,
                              cJSON **attributes, struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL;
    int is_update = update_expression != NULL;
    error_clear(&e);
    if (attributes)
        *attributes = NULL;
    enum result r = strcmp(what, "Item") == 0
                        ? ddb_check_item(value, "item", &e)
                        : ddb_check_attrs(value, "key", &e);
    if (r == RESULT_OK && is_update)
        r = ddb_check_name(update_expression, "update_expression", &e);
    if (r == RESULT_OK)
        r = write_request(table, o, is_update, &req, &e);
    if (r != RESULT_OK)
        return ddb_report(r, &e, err);
    ddb_add_ref(req, what, value);
    if (is_update)
        ddb_add_string(req, "UpdateExpression", update_expression);
    r = write_call(d, operation, req, o, attributes, &e);
    return ddb_report(r, &e, err);
}

enum result ddb_put_item(struct ddb *d, const char *table, const cJSON *item,
                         const struct ddb_write_opts *o, cJSON **attributes,
                         struct error_info *err)
{
    return write_item(d, "PutItem", table, "Item", item, NULL, o, attributes,
                      err);
}

enum result ddb_update_item(struct ddb *d, const char *table, const cJSON *key,
                            const char *update_expression,
                            const struct ddb_write_opts *o, cJSON **attributes,
                            struct error_info *err)
{
    /* A NULL expression is refused by the check in write_item(). */
    return write_item(d, "UpdateItem", table, "Key", key,
                      update_expression ? update_expression : "", o, attributes,
                      err);
}

enum result ddb_delete_item(struct ddb *d, const char *table, const cJSON *key,
                            const struct ddb_write_opts *o, cJSON **attributes,
                            struct error_info *err)
{
    return write_item(d, "DeleteItem", table, "Key", key, NULL, o, attributes,
                      err);
}

/* ---- Reads ----------------------------------------------------------- */

enum result ddb_get_item(struct ddb *d, const char *table, const cJSON *key,
                         int consistent, int64_t deadline_ms, cJSON **item,
                         struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL, *found = NULL;
    error_clear(&e);
    enum result r = ddb_check_name(table, "table", &e);
    if (r == RESULT_OK)
        r = ddb_check_attrs(key, "key", &e);
    if (r != RESULT_OK)
        goto done;

    req = xjson(cJSON_CreateObject());
    ddb_add_string(req, "TableName", table);
    ddb_add_ref(req, "Key", key);
    if (consistent)
        xjson_add(req, "ConsistentRead", cJSON_CreateTrue());
    r = ddb_send(d, "GetItem", req, deadline_ms, &resp, NULL, &e);
    if (r == RESULT_OK)
        r = ddb_take_item(resp, "Item", "GetItem", &found, &e);
    if (r != RESULT_OK)
        goto done;
    /* DynamoDB API Reference, GetItem: "If there is no matching item,
     * GetItem does not return any data and there will be no Item element
     * in the response." */
    if (!found) {
        r = error_set(&e, RESULT_NOT_FOUND, "ItemNotFound",
                      "no item with this key in %s", table);
        goto done;
    }
    *item = found;

done:
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return ddb_report(r, &e, err);
}

void ddb_page_cleanup(struct ddb_page *p)
{
    cJSON_Delete(p->items);
    cJSON_Delete(p->last_evaluated_key);
    p->items = NULL;
    p->last_evaluated_key = NULL;
}

static enum result query_request(const struct ddb_query *q, cJSON **out,
                                 struct error_info *e)
{
    enum result r = ddb_check_name(q->table, "table", e);
    if (r == RESULT_OK)
        r = ddb_check_name(q->key_condition, "key_condition", e);
    if (r == RESULT_OK)
        r = ddb_check_expr(q->expr, e);
    if (r == RESULT_OK && q->limit < 0)
        r = error_field(e, "limit", "limit is negative");
    if (r == RESULT_OK && q->exclusive_start_key)
        r = ddb_check_attrs(q->exclusive_start_key, "exclusive_start_key", e);
    if (r != RESULT_OK)
        return r;

    cJSON *req = xjson(cJSON_CreateObject());
    ddb_add_string(req, "TableName", q->table);
    if (q->index && *q->index)
        ddb_add_string(req, "IndexName", q->index);
    ddb_add_string(req, "KeyConditionExpression", q->key_condition);
    if (q->filter && *q->filter)
        ddb_add_string(req, "FilterExpression", q->filter);
    ddb_add_expr(req, q->expr);
    if (q->descending)
        xjson_add(req, "ScanIndexForward", cJSON_CreateFalse());
    if (q->limit > 0)
        xjson_add(req, "Limit", cJSON_CreateNumber(q->limit));
    if (q->exclusive_start_key)
        ddb_add_ref(req, "ExclusiveStartKey", q->exclusive_start_key);
    if (q->consistent)
        xjson_add(req, "ConsistentRead", cJSON_CreateTrue());
    *out = req;
    return RESULT_OK;
}

/* Items: an array of valid items. Takes it out of `resp` into `*items`. */
static enum result take_items(cJSON *resp, cJSON **items, struct error_info *e)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(resp, "Items");
    const cJSON *it;
    struct error_info why;
    if (!cJSON_IsArray(arr))
        return ddb_malformed(e, "Query", "no Items array");
    error_clear(&why);
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsObject(it) || item_validate(it, &why) != RESULT_OK)
            return error_set(e, RESULT_PARSE, "MalformedResponse",
                             "Query answered a bad item %s", why.message);
    }
    *items = cJSON_DetachItemViaPointer(resp, arr);
    return RESULT_OK;
}

/* ddb_query_page() with the local error struct of its callers. */
static enum result query_page(struct ddb *d, const struct ddb_query *q,
                              struct ddb_page *page, struct error_info *e)
{
    cJSON *req = NULL, *resp = NULL, *items = NULL, *last = NULL;
    enum result r = query_request(q, &req, e);
    if (r != RESULT_OK)
        goto done;
    r = ddb_send(d, "Query", req, q->deadline_ms, &resp, NULL, e);
    if (r == RESULT_OK)
        r = take_items(resp, &items, e);
    if (r == RESULT_OK)
        r = ddb_take_item(resp, "LastEvaluatedKey", "Query", &last, e);
    if (r == RESULT_OK && last && !last->child)
        r = ddb_malformed(e, "Query", "an empty LastEvaluatedKey");
    if (r != RESULT_OK)
        goto done;
    page->items = items;
    page->last_evaluated_key = last;
    items = last = NULL;

done:
    cJSON_Delete(items);
    cJSON_Delete(last);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return r;
}

/*
 * `*page` is emptied first, so ddb_page_cleanup() is safe after any
 * result.
 */
enum result ddb_query_page(struct ddb *d, const struct ddb_query *q,
                           struct ddb_page *page, struct error_info *err)
{
    struct error_info e;
    error_clear(&e);
    page->items = NULL;
    page->last_evaluated_key = NULL;
    return ddb_report(query_page(d, q, page, &e), &e, err);
}

/* Moves elements of `from` to the end of `to` while `*count` < `max`
 * (0: no cap), counting them. */
static void move_items(cJSON *from, cJSON *to, size_t *count, size_t max)
{
    cJSON *it;
    while ((it = from->child) && (max == 0 || *count < max)) {
        xjson_append(to, cJSON_DetachItemViaPointer(from, it));
        (*count)++;
    }
}

enum result ddb_query_all(struct ddb *d, const struct ddb_query *q,
                          size_t max_items, cJSON **items,
                          struct error_info *err)
{
    struct error_info e;
    struct ddb_page page = {NULL, NULL};
    struct ddb_query pq = *q;
    cJSON *all = xjson(cJSON_CreateArray());
    cJSON *start = NULL;
    size_t count = 0;
    enum result r = RESULT_OK;

    error_clear(&e);
    if (q->exclusive_start_key)
        start = xjson(cJSON_Duplicate(q->exclusive_start_key, 1));
    for (;;) {
        pq.exclusive_start_key = start;
        /* With a cap, read no more than the items still wanted. */
        if (max_items) {
            size_t left = max_items - count;
            if (left > INT_MAX)
                left = INT_MAX;
            if (q->limit <= 0 || (size_t)q->limit > left)
                pq.limit = (int)left;
        }
        r = query_page(d, &pq, &page, &e);
        if (r != RESULT_OK)
            goto done;
        move_items(page.items, all, &count, max_items);
        if ((max_items && count >= max_items) || !page.last_evaluated_key)
            break;
        /* A server that answers the same key again would loop forever. */
        if (start && cJSON_Compare(start, page.last_evaluated_key, 1)) {
            r = ddb_malformed(&e, "Query", "the same LastEvaluatedKey twice");
            goto done;
        }
        cJSON_Delete(start);
        start = page.last_evaluated_key;
        page.last_evaluated_key = NULL;
        ddb_page_cleanup(&page);
    }
    *items = all;
    all = NULL;

done:
    ddb_page_cleanup(&page);
    cJSON_Delete(start);
    cJSON_Delete(all);
    return ddb_report(r, &e, err);
}

/* The DynamoDB client: typed calls over the AWS JSON protocol. */
#include "ddb.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ddb_int.h"
#include "item.h"
#include "retry.h"
#include "xmalloc.h"

/* The SigV4 signing name (DynamoDB API Reference, "Signing requests"). */
#define DDB_SERVICE "dynamodb"
/* DynamoDB API Reference, TransactWriteItems: 1 to 100 actions, and a
 * ClientRequestToken of 1 to 36 characters. */
#define TRANSACT_MAX_ITEMS 100
#define CLIENT_TOKEN_MAX_BYTES 36
/* ddb_wait_active(): the first poll interval, doubling up to the last. */
#define WAIT_POLL_FIRST_MS 50L
#define WAIT_POLL_MAX_MS 1000L
/* Without a deadline, ddb_wait_active() gives up after the AWS SDKs'
 * TableExists waiter's time (25 attempts, 20 s apart). */
#define WAIT_DEFAULT_MS 500000L

struct ddb {
    struct aws_client *aws;
    /* ddb's own waits between calls; mirrors the client's settings. */
    struct retry_policy policy;
};

static const char *const return_names[] = {
    [DDB_RETURN_NONE] = "NONE",
    [DDB_RETURN_ALL_OLD] = "ALL_OLD",
    [DDB_RETURN_ALL_NEW] = "ALL_NEW",
    [DDB_RETURN_UPDATED_OLD] = "UPDATED_OLD",
    [DDB_RETURN_UPDATED_NEW] = "UPDATED_NEW",
};

/* ---- cJSON helpers --------------------------------------------------- */

static void add_string(cJSON *object, const char *name, const char *s)
{
    xjson_add(object, name, cJSON_CreateString(s));
}

/*
 * Adds `value` (borrowed) under `name` without copying it: the request
 * only prints it, and deleting the request leaves it alone.
 */
static void add_ref(cJSON *object, const char *name, const cJSON *value)
{
    if (!cJSON_AddItemReferenceToObject(object, name, (cJSON *)value)) {
        fprintf(stderr, "streamer: out of memory building JSON\n");
        abort();
    }
}

static void add_ref_element(cJSON *array, const cJSON *value)
{
    if (!cJSON_AddItemReferenceToArray(array, (cJSON *)value)) {
        fprintf(stderr, "streamer: out of memory building JSON\n");
        abort();
    }
}

/* Adds or replaces `name` in `object`; takes ownership of `value`. */
static void set_member(cJSON *object, const char *name, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(object, name))
        cJSON_ReplaceItemInObjectCaseSensitive(object, name, value);
    else
        xjson_add(object, name, value);
}

static const cJSON *member(const cJSON *object, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(object, name);
}

static const char *string_member(const cJSON *object, const char *name)
{
    const cJSON *v = member(object, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- Errors ---------------------------------------------------------- */

static enum result malformed(struct error_info *e, const char *operation,
                             const char *what)
{
    return error_set(e, RESULT_PARSE, "MalformedResponse", "%s answered %s",
                     operation, what);
}

/* Hands the local error details to the caller's `err` (may be NULL). */
static enum result report(enum result r, const struct error_info *e,
                          struct error_info *err)
{
    if (err) {
        if (r == RESULT_OK)
            error_clear(err);
        else
            *err = *e;
    }
    return r;
}

/* ---- Input checks ---------------------------------------------------- */

static enum result check_name(const char *s, const char *field,
                              struct error_info *e)
{
    if (!s || !*s)
        return error_field(e, field, "%s is missing", field);
    return RESULT_OK;
}

/* An item or key: a non-empty object of valid AttributeValues. */
static enum result check_attrs(const cJSON *attrs, const char *field,
                               struct error_info *e)
{
    if (!cJSON_IsObject(attrs) || !attrs->child)
        return error_field(e, field, "%s is not an object of attributes",
                           field);
    return item_validate(attrs, e);
}

/* An item to write: valid, and within DynamoDB's 400 KB item size. */
static enum result check_item(const cJSON *item, const char *field,
                              struct error_info *e)
{
    enum result r = check_attrs(item, field, e);
    if (r != RESULT_OK)
        return r;
    return item_check_size(item, NULL, e);
}

static enum result check_expr(const struct ddb_expr *x, struct error_info *e)
{
    if (!x)
        return RESULT_OK;
    if (x->names) {
        const cJSON *n;
        if (!cJSON_IsObject(x->names))
            return error_field(e, "expr.names", "names is not an object");
        cJSON_ArrayForEach(n, x->names)
        {
            if (!cJSON_IsString(n) || !n->valuestring[0])
                return error_field(e, "expr.names",
                                   "name '%s' has no attribute", n->string);
        }
    }
    if (x->values && x->values->child)
        return item_validate(x->values, e);
    if (x->values && !cJSON_IsObject(x->values))
        return error_field(e, "expr.values", "values is not an object");
    return RESULT_OK;
}

/*
 * A BatchWriteItem request: exactly one PutRequest {Item} or
 * DeleteRequest {Key} (DynamoDB API Reference, WriteRequest).
 */
static enum result check_write_request(const cJSON *rq, int index,
                                       struct error_info *e)
{
    char field[64];
    snprintf(field, sizeof(field), "requests[%d]", index);
    const cJSON *put = member(rq, "PutRequest");
    const cJSON *del = member(rq, "DeleteRequest");
    if (!cJSON_IsObject(rq) || cJSON_GetArraySize(rq) != 1 || (!put && !del))
        return error_field(e, field,
                           "%s is not one PutRequest or DeleteRequest", field);
    if (put)
        return check_item(member(put, "Item"), field, e);
    return check_attrs(member(del, "Key"), field, e);
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
        return check_item(member(action, "Item"), field, e);
    if (strcmp(action->string, "Update") == 0 ||
        strcmp(action->string, "Delete") == 0 ||
        strcmp(action->string, "ConditionCheck") == 0)
        return check_attrs(member(action, "Key"), field, e);
    return error_field(e, field, "%s has an unknown action '%s'", field,
                       action->string);
}

/* ---- Calls ----------------------------------------------------------- */

/*
 * Parses a whole answer as one JSON object: RESULT_PARSE for anything
 * else, trailing bytes included. On success the caller owns `*out`.
 */
static enum result parse_object(const char *data, size_t len,
                                const char *operation, cJSON **out,
                                struct error_info *e)
{
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(data, len, &end, 0) : NULL;
    if (root)
        for (; end < data + len; end++)
            if (!is_blank(*end)) {
                cJSON_Delete(root);
                return malformed(e, operation, "trailing bytes after JSON");
            }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return malformed(e, operation,
                         "something that is not a JSON "
                         "object");
    }
    *out = root;
    return RESULT_OK;
}

/*
 * Sends `request` (NULL: "{}") as `operation` through the AWS client and
 * parses the answer. `e` is always filled on failure. On success the
 * caller owns `*response`; on failure it is untouched, except that on
 * RESULT_CONDITION_FAILED `*failure` (when not NULL) gets the error
 * answer as a JSON object, or NULL (caller owns).
 */
static enum result call_ex(struct ddb *d, const char *operation,
                           const cJSON *request, int64_t deadline_ms,
                           cJSON **response, cJSON **failure,
                           struct error_info *e)
{
    enum result r = RESULT_OK;
    char *body = NULL;
    struct buf out;

    buf_init(&out, AWS_MAX_BODY_BYTES);
    if (request) {
        body = cJSON_PrintUnformatted(request);
        if (!body) {
            r = error_set(e, RESULT_INTERNAL, "JsonPrint",
                          "could not print the %s request", operation);
            goto done;
        }
    }
    r = aws_call(d->aws, operation, body, body ? strlen(body) : 0, deadline_ms,
                 &out, e);
    if (r == RESULT_CONDITION_FAILED && failure) {
        struct error_info pe;
        *failure = NULL;
        if (parse_object(out.data, out.len, operation, failure, &pe) !=
            RESULT_OK)
            *failure = NULL;
    }
    if (r != RESULT_OK)
        goto done;
    r = parse_object(out.data, out.len, operation, response, e);

done:
    cJSON_free(body);
    buf_cleanup(&out);
    return r;
}

static enum result call(struct ddb *d, const char *operation,
                        const cJSON *request, int64_t deadline_ms,
                        cJSON **response, struct error_info *e)
{
    return call_ex(d, operation, request, deadline_ms, response, NULL, e);
}

/*
 * Takes `name` out of `response` when it is a valid item: `*out` gets it
 * (caller owns), or NULL when absent. RESULT_PARSE when it is present but
 * not an object of valid AttributeValues.
 */
static enum result take_item(cJSON *response, const char *name,
                             const char *operation, cJSON **out,
                             struct error_info *e)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(response, name);
    struct error_info why;
    *out = NULL;
    if (!it)
        return RESULT_OK;
    error_clear(&why);
    if (!cJSON_IsObject(it) || item_validate(it, &why) != RESULT_OK)
        return error_set(e, RESULT_PARSE, "MalformedResponse",
                         "%s answered a bad %s %s", operation, name,
                         why.message);
    *out = cJSON_DetachItemViaPointer(response, it);
    return RESULT_OK;
}

/* ---- Client ---------------------------------------------------------- */

enum result ddb_new(const struct ddb_config *cfg, struct ddb **out,
                    struct error_info *err)
{
    if (!cfg)
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "no DynamoDB configuration");
    struct aws_client_config ac = {
        .endpoint_url = cfg->endpoint_url,
        .region = cfg->region,
        .service = DDB_SERVICE,
        .target_prefix = DDB_TARGET_PREFIX,
        .credentials = cfg->credentials,
    };
    struct aws_client *aws = NULL;
    enum result r = aws_client_new(&ac, &aws, err);
    if (r != RESULT_OK)
        return r;
    struct ddb *d = xcalloc(1, sizeof(*d));
    d->aws = aws;
    retry_policy_init(&d->policy);
    *out = d;
    return RESULT_OK;
}

void ddb_free(struct ddb *d)
{
    if (!d)
        return;
    aws_client_free(d->aws);
    free(d);
}

struct aws_client *ddb_aws(struct ddb *d)
{
    return d->aws;
}

void ddb_set_hooks(struct ddb *d, const struct retry_hooks *hooks)
{
    aws_client_set_hooks(d->aws, hooks);
    if (hooks)
        d->policy.hooks = *hooks;
    else
        memset(&d->policy.hooks, 0, sizeof(d->policy.hooks));
}

void ddb_set_retry(struct ddb *d, long base_ms, long cap_ms, int max_attempts)
{
    aws_client_set_retry(d->aws, base_ms, cap_ms, max_attempts);
    retry_policy_set(&d->policy, base_ms, cap_ms, max_attempts);
}

/* ---- Expressions ----------------------------------------------------- */

void ddb_expr_init(struct ddb_expr *e)
{
    e->names = NULL;
    e->values = NULL;
}

void ddb_expr_cleanup(struct ddb_expr *e)
{
    cJSON_Delete(e->names);
    cJSON_Delete(e->values);
    ddb_expr_init(e);
}

void ddb_expr_name(struct ddb_expr *e, const char *placeholder,
                   const char *attribute)
{
    if (!e->names)
        e->names = xjson(cJSON_CreateObject());
    set_member(e->names, placeholder, xjson(cJSON_CreateString(attribute)));
}

void ddb_expr_value(struct ddb_expr *e, const char *placeholder, cJSON *av)
{
    if (!av)
        return;
    if (!e->values)
        e->values = xjson(cJSON_CreateObject());
    set_member(e->values, placeholder, av);
}

/*
 * DynamoDB rejects an empty ExpressionAttributeNames or Values map
 * ("must not be empty"), so empty ones are left out.
 */
static void add_expr(cJSON *req, const struct ddb_expr *x)
{
    if (!x)
        return;
    if (x->names && x->names->child)
        add_ref(req, "ExpressionAttributeNames", x->names);
    if (x->values && x->values->child)
        add_ref(req, "ExpressionAttributeValues", x->values);
}

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
    enum result r = check_name(table, "table", e);
    if (r != RESULT_OK)
        return r;
    if (o) {
        if ((unsigned)o->return_values > DDB_RETURN_UPDATED_NEW ||
            (!any_return && o->return_values != DDB_RETURN_NONE &&
             o->return_values != DDB_RETURN_ALL_OLD))
            return error_field(e, "return_values",
                               "this write returns only NONE or ALL_OLD");
        r = check_expr(o->expr, e);
        if (r != RESULT_OK)
            return r;
    }
    cJSON *req = xjson(cJSON_CreateObject());
    add_string(req, "TableName", table);
    if (o) {
        if (o->condition && *o->condition)
            add_string(req, "ConditionExpression", o->condition);
        add_expr(req, o->expr);
        if (o->return_values != DDB_RETURN_NONE)
            add_string(req, "ReturnValues", return_names[o->return_values]);
        if (o->return_old_on_condition_failure)
            add_string(req, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
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
    enum result r = call_ex(d, operation, req, deadline_ms, &resp,
                            want_old ? &failure : NULL, e);
    if (r == RESULT_OK) {
        r = take_item(resp, "Attributes", operation, &attrs, e);
    } else if (r == RESULT_CONDITION_FAILED && failure) {
        struct error_info why;
        /* A malformed Item is dropped: the condition's failure stands. */
        if (take_item(failure, "Item", operation, &attrs, &why) != RESULT_OK)
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

enum result ddb_put_item(struct ddb *d, const char *table, const cJSON *item,
                         const struct ddb_write_opts *o, cJSON **attributes,
                         struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL;
    error_clear(&e);
    if (attributes)
        *attributes = NULL;
    enum result r = check_item(item, "item", &e);
    if (r == RESULT_OK)
        r = write_request(table, o, 0, &req, &e);
    if (r != RESULT_OK)
        return report(r, &e, err);
    add_ref(req, "Item", item);
    r = write_call(d, "PutItem", req, o, attributes, &e);
    return report(r, &e, err);
}

enum result ddb_update_item(struct ddb *d, const char *table, const cJSON *key,
                            const char *update_expression,
                            const struct ddb_write_opts *o, cJSON **attributes,
                            struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL;
    error_clear(&e);
    if (attributes)
        *attributes = NULL;
    enum result r = check_attrs(key, "key", &e);
    if (r == RESULT_OK)
        r = check_name(update_expression, "update_expression", &e);
    if (r == RESULT_OK)
        r = write_request(table, o, 1, &req, &e);
    if (r != RESULT_OK)
        return report(r, &e, err);
    add_ref(req, "Key", key);
    add_string(req, "UpdateExpression", update_expression);
    r = write_call(d, "UpdateItem", req, o, attributes, &e);
    return report(r, &e, err);
}

enum result ddb_delete_item(struct ddb *d, const char *table, const cJSON *key,
                            const struct ddb_write_opts *o, cJSON **attributes,
                            struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL;
    error_clear(&e);
    if (attributes)
        *attributes = NULL;
    enum result r = check_attrs(key, "key", &e);
    if (r == RESULT_OK)
        r = write_request(table, o, 0, &req, &e);
    if (r != RESULT_OK)
        return report(r, &e, err);
    add_ref(req, "Key", key);
    r = write_call(d, "DeleteItem", req, o, attributes, &e);
    return report(r, &e, err);
}

/* ---- Reads ----------------------------------------------------------- */

enum result ddb_get_item(struct ddb *d, const char *table, const cJSON *key,
                         int consistent, int64_t deadline_ms, cJSON **item,
                         struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL, *found = NULL;
    error_clear(&e);
    enum result r = check_name(table, "table", &e);
    if (r == RESULT_OK)
        r = check_attrs(key, "key", &e);
    if (r != RESULT_OK)
        goto done;

    req = xjson(cJSON_CreateObject());
    add_string(req, "TableName", table);
    add_ref(req, "Key", key);
    if (consistent)
        xjson_add(req, "ConsistentRead", cJSON_CreateTrue());
    r = call(d, "GetItem", req, deadline_ms, &resp, &e);
    if (r == RESULT_OK)
        r = take_item(resp, "Item", "GetItem", &found, &e);
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
    return report(r, &e, err);
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
    enum result r = check_name(q->table, "table", e);
    if (r == RESULT_OK)
        r = check_name(q->key_condition, "key_condition", e);
    if (r == RESULT_OK)
        r = check_expr(q->expr, e);
    if (r == RESULT_OK && q->limit < 0)
        r = error_field(e, "limit", "limit is negative");
    if (r == RESULT_OK && q->exclusive_start_key)
        r = check_attrs(q->exclusive_start_key, "exclusive_start_key", e);
    if (r != RESULT_OK)
        return r;

    cJSON *req = xjson(cJSON_CreateObject());
    add_string(req, "TableName", q->table);
    if (q->index && *q->index)
        add_string(req, "IndexName", q->index);
    add_string(req, "KeyConditionExpression", q->key_condition);
    if (q->filter && *q->filter)
        add_string(req, "FilterExpression", q->filter);
    add_expr(req, q->expr);
    if (q->descending)
        xjson_add(req, "ScanIndexForward", cJSON_CreateFalse());
    if (q->limit > 0)
        xjson_add(req, "Limit", cJSON_CreateNumber(q->limit));
    if (q->exclusive_start_key)
        add_ref(req, "ExclusiveStartKey", q->exclusive_start_key);
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
        return malformed(e, "Query", "no Items array");
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
    r = call(d, "Query", req, q->deadline_ms, &resp, e);
    if (r == RESULT_OK)
        r = take_items(resp, &items, e);
    if (r == RESULT_OK)
        r = take_item(resp, "LastEvaluatedKey", "Query", &last, e);
    if (r == RESULT_OK && last && !last->child)
        r = malformed(e, "Query", "an empty LastEvaluatedKey");
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
    return report(query_page(d, q, page, &e), &e, err);
}

/* Moves elements of `from` to the end of `to` while `*count` < `max`
 * (0: no cap), counting them. */
static void move_items(cJSON *from, cJSON *to, size_t *count, size_t max)
{
    cJSON *it;
    while ((it = from->child) && (max == 0 || *count < max)) {
        cJSON_AddItemToArray(to, cJSON_DetachItemViaPointer(from, it));
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
            r = malformed(&e, "Query", "the same LastEvaluatedKey twice");
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
    return report(r, &e, err);
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
                                    cJSON **left, struct error_info *e)
{
    cJSON *u = cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedItems");
    struct error_info why;
    *left = NULL;
    if (!u || (cJSON_IsObject(u) && !u->child))
        return RESULT_OK;
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(u, table);
    if (!cJSON_IsObject(u) || !arr || cJSON_GetArraySize(u) != 1)
        return malformed(e, "BatchWriteItem", "bad UnprocessedItems");
    error_clear(&why);
    if (check_write_requests(arr, &why) != RESULT_OK)
        return error_set(e, RESULT_PARSE, "MalformedResponse",
                         "BatchWriteItem answered bad UnprocessedItems: %s",
                         why.message);
    int n = cJSON_GetArraySize(arr);
    if (n > sent)
        return malformed(e, "BatchWriteItem",
                         "more UnprocessedItems than were sent");
    if (n > 0)
        *left = cJSON_DetachItemViaPointer(u, arr);
    return RESULT_OK;
}

/*
 * Writes `count` requests from `first` on (borrowed), sending what comes
 * back unprocessed again after a full-jitter backoff (DynamoDB Developer
 * Guide, "Batch operations": "we strongly recommend that you use an
 * exponential backoff algorithm") until none is left, the attempts run
 * out or the deadline would pass: then RESULT_THROTTLED.
 */
static enum result batch_chunk(struct ddb *d, const char *table,
                               const cJSON *first, int count,
                               int64_t deadline_ms, struct error_info *e)
{
    enum result r = RESULT_OK;
    cJSON *req = xjson(cJSON_CreateObject());
    cJSON *tables = xjson(cJSON_CreateObject());
    cJSON *pending = xjson(cJSON_CreateArray());
    const cJSON *it = first;

    for (int i = 0; i < count && it; i++, it = it->next)
        add_ref_element(pending, it);
    xjson_add(req, "RequestItems", tables);
    xjson_add(tables, table, pending);

    for (int attempt = 1;; attempt++) {
        cJSON *resp = NULL, *left = NULL;
        int sent = cJSON_GetArraySize(pending);
        r = call(d, "BatchWriteItem", req, deadline_ms, &resp, e);
        if (r == RESULT_OK)
            r = take_unprocessed(resp, table, sent, &left, e);
        cJSON_Delete(resp);
        if (r != RESULT_OK || !left)
            break;
        long delay_ms = 0;
        enum retry_decision why =
            retry_decide(&d->policy, attempt, 1, deadline_ms, &delay_ms);
        if (why != RETRY_AGAIN) {
            r = error_set(e, RESULT_THROTTLED, "UnprocessedItems",
                          "BatchWriteItem left %d of %d requests "
                          "unprocessed on %s (%d attempt%s, %s)",
                          cJSON_GetArraySize(left), sent, table, attempt,
                          attempt == 1 ? "" : "s", retry_decision_str(why));
            cJSON_Delete(left);
            break;
        }
        retry_sleep(&d->policy, delay_ms);
        cJSON_ReplaceItemInObjectCaseSensitive(tables, table, left);
        pending = left;
    }
    cJSON_Delete(req);
    return r;
}

enum result ddb_batch_write(struct ddb *d, const char *table,
                            const cJSON *requests, int64_t deadline_ms,
                            struct error_info *err)
{
    struct error_info e;
    error_clear(&e);
    enum result r = check_name(table, "table", &e);
    if (r == RESULT_OK)
        r = check_write_requests(requests, &e);
    const cJSON *chunk = r == RESULT_OK ? requests->child : NULL;
    while (chunk && r == RESULT_OK) {
        r = batch_chunk(d, table, chunk, DDB_BATCH_WRITE_MAX, deadline_ms, &e);
        for (int i = 0; i < DDB_BATCH_WRITE_MAX && chunk; i++)
            chunk = chunk->next;
    }
    return report(r, &e, err);
}

/* ---- BatchGetItem ---------------------------------------------------- */

/*
 * Moves this table's items out of a BatchGetItem answer's Responses into
 * `found`, and returns the keys left in UnprocessedKeys (NULL: none).
 * DynamoDB API Reference, BatchGetItem: "If DynamoDB returns any
 * unprocessed items, you should retry the batch operation on those
 * items", with exponential backoff.
 */
static enum result take_batch_get(cJSON *resp, const char *table, cJSON *found,
                                  cJSON **left, struct error_info *e)
{
    *left = NULL;
    cJSON *got = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(resp, "Responses"), table);
    if (got && !cJSON_IsArray(got))
        return malformed(e, "BatchGetItem", "bad Responses");
    cJSON *it;
    while (got && (it = got->child)) {
        struct error_info why;
        error_clear(&why);
        if (check_attrs(it, "item", &why) != RESULT_OK)
            return malformed(e, "BatchGetItem", "an item that is not valid");
        cJSON_AddItemToArray(found, cJSON_DetachItemViaPointer(got, it));
    }
    cJSON *keys = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedKeys"), table),
        "Keys");
    if (keys && !cJSON_IsArray(keys))
        return malformed(e, "BatchGetItem", "bad UnprocessedKeys");
    if (keys && keys->child)
        *left = cJSON_DetachItemViaPointer(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedKeys"),
                table),
            keys);
    return RESULT_OK;
}

/* Reads `count` keys from `first` on into `found`, retrying what comes
 * back unprocessed after a full-jitter backoff, as batch_chunk() does. */
static enum result batch_get_chunk(struct ddb *d, const char *table,
                                   const cJSON *first, int count,
                                   int consistent, int64_t deadline_ms,
                                   cJSON *found, struct error_info *e)
{
    enum result r = RESULT_OK;
    cJSON *req = xjson(cJSON_CreateObject());
    cJSON *tables = xjson(cJSON_CreateObject());
    cJSON *spec = xjson(cJSON_CreateObject());
    cJSON *pending = xjson(cJSON_CreateArray());
    const cJSON *it = first;
    for (int i = 0; i < count && it; i++, it = it->next)
        add_ref_element(pending, it);
    xjson_add(req, "RequestItems", tables);
    xjson_add(tables, table, spec);
    xjson_add(spec, "Keys", pending);
    if (consistent)
        xjson_add(spec, "ConsistentRead", cJSON_CreateTrue());
    for (int attempt = 1;; attempt++) {
        cJSON *resp = NULL, *left = NULL;
        r = call(d, "BatchGetItem", req, deadline_ms, &resp, e);
        if (r == RESULT_OK)
            r = take_batch_get(resp, table, found, &left, e);
        cJSON_Delete(resp);
        if (r != RESULT_OK || !left) {
            cJSON_Delete(left);
            break;
        }
        long delay_ms = 0;
        enum retry_decision why =
            retry_decide(&d->policy, attempt, 1, deadline_ms, &delay_ms);
        if (why != RETRY_AGAIN) {
            r = error_set(e, RESULT_THROTTLED, "UnprocessedKeys",
                          "BatchGetItem left %d keys unprocessed on %s "
                          "(%d attempt%s, %s)",
                          cJSON_GetArraySize(left), table, attempt,
                          attempt == 1 ? "" : "s", retry_decision_str(why));
            cJSON_Delete(left);
            break;
        }
        retry_sleep(&d->policy, delay_ms);
        cJSON_ReplaceItemInObjectCaseSensitive(spec, "Keys", left);
    }
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
    enum result r = check_name(table, "table", &e);
    const cJSON *k;
    int i = 0;
    if (r == RESULT_OK && !cJSON_IsArray(keys))
        r = error_field(&e, "keys", "keys must be an array");
    const cJSON *list = r == RESULT_OK ? keys : NULL;
    cJSON_ArrayForEach(k, list)
    {
        char field[32];
        snprintf(field, sizeof(field), "keys[%d]", i++);
        if ((r = check_attrs(k, field, &e)) != RESULT_OK)
            break;
    }
    cJSON *found = xjson(cJSON_CreateArray());
    const cJSON *chunk = r == RESULT_OK ? keys->child : NULL;
    while (chunk && r == RESULT_OK) {
        r = batch_get_chunk(d, table, chunk, DDB_BATCH_GET_MAX, consistent,
                            deadline_ms, found, &e);
        for (int j = 0; j < DDB_BATCH_GET_MAX && chunk; j++)
            chunk = chunk->next;
    }
    if (r == RESULT_OK)
        *items = found;
    else
        cJSON_Delete(found);
    return report(r, &e, err);
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
    add_ref(req, "TransactItems", items);
    if (client_token)
        add_string(req, "ClientRequestToken", client_token);
    r = call_ex(d, "TransactWriteItems", req, deadline_ms, &resp,
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
    return report(r, &e, err);
}

/* ---- Tables ---------------------------------------------------------- */

/* {"TableName": table}, the request of several table operations. */
static cJSON *table_request(const char *table)
{
    cJSON *req = xjson(cJSON_CreateObject());
    add_string(req, "TableName", table);
    return req;
}

enum result ddb_create_table(struct ddb *d, const cJSON *request,
                             int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    cJSON *resp = NULL;
    enum result r = RESULT_OK;
    error_clear(&e);
    if (!cJSON_IsObject(request) || !string_member(request, "TableName"))
        r = error_field(&e, "request", "request has no TableName");
    else
        r = call(d, "CreateTable", request, deadline_ms, &resp, &e);
    /* DynamoDB API Reference, CreateTable: ResourceInUseException when
     * "the resource [is] already in use", e.g. the table exists. */
    if (r == RESULT_SERVICE_ERROR &&
        strcmp(e.type, "ResourceInUseException") == 0)
        r = RESULT_ALREADY_EXISTS;
    cJSON_Delete(resp);
    return report(r, &e, err);
}

static enum result describe(struct ddb *d, const char *table,
                            int64_t deadline_ms, cJSON **description,
                            struct error_info *e)
{
    cJSON *req = NULL, *resp = NULL;
    enum result r = check_name(table, "table", e);
    if (r != RESULT_OK)
        return r;
    req = table_request(table);
    r = call(d, "DescribeTable", req, deadline_ms, &resp, e);
    if (r == RESULT_OK) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "Table");
        if (cJSON_IsObject(t))
            *description = cJSON_DetachItemViaPointer(resp, t);
        else
            r = malformed(e, "DescribeTable", "no Table object");
    }
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return r;
}

enum result ddb_describe_table(struct ddb *d, const char *table,
                               int64_t deadline_ms, cJSON **description,
                               struct error_info *err)
{
    struct error_info e;
    error_clear(&e);
    return report(describe(d, table, deadline_ms, description, &e), &e, err);
}

/*
 * Returns 1 when the table and every global secondary index are ACTIVE
 * (a query on a CREATING index fails), 0 when not yet, -1 when the
 * description has no TableStatus. `status` gets the status seen.
 */
static int table_active(const cJSON *t, char *status, size_t size)
{
    const char *s = string_member(t, "TableStatus");
    if (!s)
        return -1;
    snprintf(status, size, "%s", s);
    if (strcmp(s, "ACTIVE") != 0)
        return 0;
    const cJSON *gsis = member(t, "GlobalSecondaryIndexes");
    const cJSON *g;
    if (!cJSON_IsArray(gsis))
        return 1;
    cJSON_ArrayForEach(g, gsis)
    {
        const char *gs = string_member(g, "IndexStatus");
        if (gs && strcmp(gs, "ACTIVE") != 0) {
            snprintf(status, size, "index %s", gs);
            return 0;
        }
    }
    return 1;
}

enum result ddb_wait_active(struct ddb *d, const char *table,
                            int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    enum result r = RESULT_OK;
    char status[64] = "";
    int64_t limit = deadline_ms > 0
                        ? deadline_ms
                        : retry_now_ms(&d->policy) + WAIT_DEFAULT_MS;

    error_clear(&e);
    for (int poll = 0;; poll++) {
        cJSON *t = NULL;
        r = describe(d, table, limit, &t, &e);
        if (r != RESULT_OK)
            break;
        int active = table_active(t, status, sizeof(status));
        cJSON_Delete(t);
        if (active < 0) {
            r = malformed(&e, "DescribeTable", "no TableStatus");
            break;
        }
        if (active)
            break;
        long delay_ms = WAIT_POLL_FIRST_MS << (poll < 5 ? poll : 5);
        if (delay_ms > WAIT_POLL_MAX_MS)
            delay_ms = WAIT_POLL_MAX_MS;
        if (retry_now_ms(&d->policy) + delay_ms >= limit) {
            r = error_set(&e, RESULT_TIMEOUT, "TableNotActive",
                          "table %s is still %s at the deadline", table,
                          status);
            break;
        }
        retry_sleep(&d->policy, delay_ms);
    }
    return report(r, &e, err);
}

enum result ddb_update_ttl(struct ddb *d, const char *table,
                           const char *attribute, int enabled,
                           int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL;
    error_clear(&e);
    enum result r = check_name(table, "table", &e);
    if (r == RESULT_OK)
        r = check_name(attribute, "attribute", &e);
    if (r != RESULT_OK)
        goto done;

    req = table_request(table);
    cJSON *spec = xjson(cJSON_CreateObject());
    xjson_add(req, "TimeToLiveSpecification", spec);
    add_string(spec, "AttributeName", attribute);
    xjson_add(spec, "Enabled", cJSON_CreateBool(enabled != 0));
    r = call(d, "UpdateTimeToLive", req, deadline_ms, &resp, &e);
    /* UpdateTimeToLive refuses to set the state the table already has,
     * with ValidationException "TimeToLive is already enabled" (or
     * "disabled"); for a caller that wants the state, that is success.
     * "active on a different AttributeName" stays an error. */
    if (r == RESULT_INVALID_INPUT &&
        strcmp(e.type, "ValidationException") == 0 &&
        strstr(e.message, enabled ? "already enabled" : "already disabled")) {
        r = RESULT_OK;
        error_clear(&e);
    }

done:
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return report(r, &e, err);
}

enum result ddb_delete_table(struct ddb *d, const char *table,
                             int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL;
    error_clear(&e);
    enum result r = check_name(table, "table", &e);
    if (r == RESULT_OK) {
        req = table_request(table);
        r = call(d, "DeleteTable", req, deadline_ms, &resp, &e);
    }
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return report(r, &e, err);
}

/* ---- Any other operation --------------------------------------------- */

enum result ddb_call(struct ddb *d, const char *operation, const cJSON *request,
                     int64_t deadline_ms, cJSON **response,
                     struct error_info *err)
{
    struct error_info e;
    cJSON *resp = NULL;
    error_clear(&e);
    enum result r = check_name(operation, "operation", &e);
    if (r == RESULT_OK)
        r = call(d, operation, request, deadline_ms, &resp, &e);
    if (r == RESULT_OK && response) {
        *response = resp;
        resp = NULL;
    }
    cJSON_Delete(resp);
    return report(r, &e, err);
}

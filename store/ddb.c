/* The DynamoDB client: its lifetime, the call, input checks, expressions. */
#include "ddb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ddb_int.h"
#include "item.h"
#include "json_parse.h"
#include "retry.h"
#include "xmalloc.h"

/* The SigV4 signing name (DynamoDB API Reference, "Signing requests"). */
#define DDB_SERVICE "dynamodb"

struct ddb {
    struct aws_client *aws;
    /* ddb's own waits between calls; mirrors the client's settings. */
    struct retry_policy policy;
};

/* ---- cJSON helpers --------------------------------------------------- */

void ddb_add_string(cJSON *object, const char *name, const char *s)
{
    xjson_add(object, name, cJSON_CreateString(s));
}

/*
 * Adds `value` (borrowed) under `name` without copying it: the request
 * only prints it, and deleting the request leaves it alone.
 */
void ddb_add_ref(cJSON *object, const char *name, const cJSON *value)
{
    if (!cJSON_AddItemReferenceToObject(object, name, (cJSON *)value)) {
        fprintf(stderr, "streamer: out of memory building JSON\n");
        abort();
    }
}

void ddb_add_ref_element(cJSON *array, const cJSON *value)
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

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- Errors ---------------------------------------------------------- */

enum result ddb_malformed(struct error_info *e, const char *operation,
                          const char *what)
{
    return error_set(e, RESULT_PARSE, "MalformedResponse", "%s answered %s",
                     operation, what);
}

/* Hands the local error details to the caller's `err` (may be NULL). */
enum result ddb_report(enum result r, const struct error_info *e,
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

enum result ddb_check_name(const char *s, const char *field,
                           struct error_info *e)
{
    if (!s || !*s)
        return error_field(e, field, "%s is missing", field);
    return RESULT_OK;
}

/* An item or key: a non-empty object of valid AttributeValues. */
enum result ddb_check_attrs(const cJSON *attrs, const char *field,
                            struct error_info *e)
{
    if (!cJSON_IsObject(attrs) || !attrs->child)
        return error_field(e, field, "%s is not an object of attributes",
                           field);
    return item_validate(attrs, e);
}

/* An item to write: valid, and within DynamoDB's 400 KB item size. */
enum result ddb_check_item(const cJSON *item, const char *field,
                           struct error_info *e)
{
    enum result r = ddb_check_attrs(item, field, e);
    if (r != RESULT_OK)
        return r;
    return item_check_size(item, NULL, e);
}

enum result ddb_check_expr(const struct ddb_expr *x, struct error_info *e)
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
    cJSON *root = len ? json_parse(data, len, &end, 0) : NULL;
    if (root)
        for (; end < data + len; end++)
            if (!is_blank(*end)) {
                cJSON_Delete(root);
                return ddb_malformed(e, operation, "trailing bytes after JSON");
            }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ddb_malformed(e, operation,
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
enum result ddb_send(struct ddb *d, const char *operation, const cJSON *request,
                     int64_t deadline_ms, cJSON **response, cJSON **failure,
                     struct error_info *e)
{
    enum result r = RESULT_OK;
    char *body = NULL;
    struct buf out;

    buf_init(&out, AWS_MAX_BODY_BYTES);
    if (request)
        body = xjson_print(request);
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

/*
 * Takes `name` out of `response` when it is a valid item: `*out` gets it
 * (caller owns), or NULL when absent. RESULT_PARSE when it is present but
 * not an object of valid AttributeValues.
 */
enum result ddb_take_item(cJSON *response, const char *name,
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

struct retry_policy *ddb_policy(struct ddb *d)
{
    return &d->policy;
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
void ddb_add_expr(cJSON *req, const struct ddb_expr *x)
{
    if (!x)
        return;
    if (x->names && x->names->child)
        ddb_add_ref(req, "ExpressionAttributeNames", x->names);
    if (x->values && x->values->child)
        ddb_add_ref(req, "ExpressionAttributeValues", x->values);
}

/* ---- Any other operation --------------------------------------------- */

enum result ddb_call(struct ddb *d, const char *operation, const cJSON *request,
                     int64_t deadline_ms, cJSON **response,
                     struct error_info *err)
{
    struct error_info e;
    cJSON *resp = NULL;
    error_clear(&e);
    enum result r = ddb_check_name(operation, "operation", &e);
    if (r == RESULT_OK)
        r = ddb_send(d, operation, request, deadline_ms, &resp, NULL, &e);
    if (r == RESULT_OK && response) {
        *response = resp;
        resp = NULL;
    }
    cJSON_Delete(resp);
    return ddb_report(r, &e, err);
}

/* DynamoDB table administration: create, describe, wait, TTL, delete. */
#include "ddb_admin.h"

#include <stdio.h>
#include <string.h>

#include "ddb_int.h"
#include "retry.h"
#include "xmalloc.h"

/* ddb_wait_active(): the first poll interval, doubling up to the last. */
#define WAIT_POLL_FIRST_MS 50L
#define WAIT_POLL_MAX_MS 1000L
/* Without a deadline, ddb_wait_active() gives up after the AWS SDKs'
 * TableExists waiter's time (25 attempts, 20 s apart). */
#define WAIT_DEFAULT_MS 500000L

/* {"TableName": table}, the request of several table operations. */
static cJSON *table_request(const char *table)
{
    cJSON *req = xjson(cJSON_CreateObject());
    xjson_add(req, "TableName", cJSON_CreateString(table));
    return req;
}

enum result ddb_create_table(struct ddb *d, const cJSON *request,
                             int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    cJSON *resp = NULL;
    enum result r = RESULT_OK;
    error_clear(&e);
    if (!cJSON_IsObject(request) || !json_string_member(request, "TableName"))
        r = error_field(&e, "request", "request has no TableName");
    else
        r = ddb_call(d, "CreateTable", request, deadline_ms, &resp, &e);
    /* DynamoDB API Reference, CreateTable: ResourceInUseException when
     * "the resource [is] already in use", e.g. the table exists. */
    if (r == RESULT_SERVICE_ERROR &&
        strcmp(e.type, "ResourceInUseException") == 0)
        r = RESULT_ALREADY_EXISTS;
    cJSON_Delete(resp);
    return ddb_report(r, &e, err);
}

static enum result describe(struct ddb *d, const char *table,
                            int64_t deadline_ms, cJSON **description,
                            struct error_info *e)
{
    cJSON *req = NULL, *resp = NULL;
    enum result r = ddb_check_name(table, "table", e);
    if (r != RESULT_OK)
        return r;
    req = table_request(table);
    r = ddb_call(d, "DescribeTable", req, deadline_ms, &resp, e);
    if (r == RESULT_OK) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "Table");
        if (cJSON_IsObject(t))
            *description = cJSON_DetachItemViaPointer(resp, t);
        else
            r = ddb_malformed(e, "DescribeTable", "no Table object");
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
    return ddb_report(describe(d, table, deadline_ms, description, &e), &e,
                      err);
}

/*
 * Returns 1 when the table and every global secondary index are ACTIVE
 * (a query on a CREATING index fails), 0 when not yet, -1 when the
 * description has no TableStatus. `status` gets the status seen.
 */
static int table_active(const cJSON *t, char *status, size_t size)
{
    const char *s = json_string_member(t, "TableStatus");
    if (!s)
        return -1;
    snprintf(status, size, "%s", s);
    if (strcmp(s, "ACTIVE") != 0)
        return 0;
    const cJSON *gsis =
        cJSON_GetObjectItemCaseSensitive(t, "GlobalSecondaryIndexes");
    const cJSON *g;
    if (!cJSON_IsArray(gsis))
        return 1;
    cJSON_ArrayForEach(g, gsis)
    {
        const char *gs = json_string_member(g, "IndexStatus");
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
                        : retry_now_ms(ddb_policy(d)) + WAIT_DEFAULT_MS;

    error_clear(&e);
    for (int poll = 0;; poll++) {
        cJSON *t = NULL;
        r = describe(d, table, limit, &t, &e);
        if (r != RESULT_OK)
            break;
        int active = table_active(t, status, sizeof(status));
        cJSON_Delete(t);
        if (active < 0) {
            r = ddb_malformed(&e, "DescribeTable", "no TableStatus");
            break;
        }
        if (active)
            break;
        long delay_ms = WAIT_POLL_FIRST_MS << (poll < 5 ? poll : 5);
        if (delay_ms > WAIT_POLL_MAX_MS)
            delay_ms = WAIT_POLL_MAX_MS;
        if (retry_now_ms(ddb_policy(d)) + delay_ms >= limit) {
            r = error_set(&e, RESULT_TIMEOUT, "TableNotActive",
                          "table %s is still %s at the deadline", table,
                          status);
            break;
        }
        retry_sleep(ddb_policy(d), delay_ms);
    }
    return ddb_report(r, &e, err);
}

enum result ddb_update_ttl(struct ddb *d, const char *table,
                           const char *attribute, int enabled,
                           int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL;
    error_clear(&e);
    enum result r = ddb_check_name(table, "table", &e);
    if (r == RESULT_OK)
        r = ddb_check_name(attribute, "attribute", &e);
    if (r != RESULT_OK)
        goto done;

    req = table_request(table);
    cJSON *spec = xjson(cJSON_CreateObject());
    xjson_add(req, "TimeToLiveSpecification", spec);
    xjson_add(spec, "AttributeName", cJSON_CreateString(attribute));
    xjson_add(spec, "Enabled", cJSON_CreateBool(enabled != 0));
    r = ddb_call(d, "UpdateTimeToLive", req, deadline_ms, &resp, &e);
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
    return ddb_report(r, &e, err);
}

enum result ddb_delete_table(struct ddb *d, const char *table,
                             int64_t deadline_ms, struct error_info *err)
{
    struct error_info e;
    cJSON *req = NULL, *resp = NULL;
    error_clear(&e);
    enum result r = ddb_check_name(table, "table", &e);
    if (r == RESULT_OK) {
        req = table_request(table);
        r = ddb_call(d, "DeleteTable", req, deadline_ms, &resp, &e);
    }
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return ddb_report(r, &e, err);
}

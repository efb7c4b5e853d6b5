/* Creating the three tables with their indexes, stream and TTL. */
#include "tables.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "ddb_admin.h"

/* A GSI with its key schema; `range` may be NULL. Projection ALL, so a
 * list answers from the index alone. */
static cJSON *gsi(const char *name, const char *hash, const char *range)
{
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "IndexName", name);
    cJSON *ks = cJSON_AddArrayToObject(g, "KeySchema");
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "AttributeName", hash);
    cJSON_AddStringToObject(h, "KeyType", "HASH");
    cJSON_AddItemToArray(ks, h);
    if (range) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "AttributeName", range);
        cJSON_AddStringToObject(r, "KeyType", "RANGE");
        cJSON_AddItemToArray(ks, r);
    }
    cJSON *p = cJSON_AddObjectToObject(g, "Projection");
    cJSON_AddStringToObject(p, "ProjectionType", "ALL");
    return g;
}

/* CreateTable's request: pk/sk keys, the string attributes the indexes
 * use (NULL-terminated), and the GSIs (taken). */
static cJSON *table_request(const char *table, const char *const *attrs,
                            cJSON *indexes)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "TableName", table);
    cJSON_AddStringToObject(req, "BillingMode", "PAY_PER_REQUEST");
    cJSON *defs = cJSON_AddArrayToObject(req, "AttributeDefinitions");
    for (const char *const *a = attrs; *a; a++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "AttributeName", *a);
        cJSON_AddStringToObject(d, "AttributeType", "S");
        cJSON_AddItemToArray(defs, d);
    }
    cJSON *ks = cJSON_AddArrayToObject(req, "KeySchema");
    const char *keys[2][2] = {{"pk", "HASH"}, {"sk", "RANGE"}};
    for (int i = 0; i < 2; i++) {
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "AttributeName", keys[i][0]);
        cJSON_AddStringToObject(k, "KeyType", keys[i][1]);
        cJSON_AddItemToArray(ks, k);
    }
    if (indexes)
        cJSON_AddItemToObject(req, "GlobalSecondaryIndexes", indexes);
    return req;
}

static cJSON *connections_request(const char *table)
{
    static const char *const attrs[] = {"pk",        "sk",           "user_id",
                                        "tenant_id", "connected_at", NULL};
    cJSON *idx = cJSON_CreateArray();
    cJSON_AddItemToArray(idx, gsi("user-index", "user_id", "connected_at"));
    cJSON_AddItemToArray(idx, gsi("tenant-index", "tenant_id", "connected_at"));
    return table_request(table, attrs, idx);
}

static cJSON *requests_request(const char *table)
{
    static const char *const attrs[] = {
        "pk", "sk", "connection_id", "status", "user_id", "created_at", NULL};
    cJSON *idx = cJSON_CreateArray();
    cJSON_AddItemToArray(
        idx, gsi("connection-index", "connection_id", "created_at"));
    cJSON_AddItemToArray(idx, gsi("status-index", "status", "created_at"));
    cJSON_AddItemToArray(idx, gsi("user-index", "user_id", "created_at"));
    cJSON *req = table_request(table, attrs, idx);
    /* The processor is fed by this stream (docs/data-model.md). */
    cJSON *spec = cJSON_AddObjectToObject(req, "StreamSpecification");
    cJSON_AddBoolToObject(spec, "StreamEnabled", 1);
    cJSON_AddStringToObject(spec, "StreamViewType", "NEW_IMAGE");
    return req;
}

static cJSON *subscriptions_request(const char *table)
{
    static const char *const attrs[] = {"pk", "sk", "request_key", NULL};
    cJSON *idx = cJSON_CreateArray();
    /* The request key, not the bare id: ids are unique per user only. */
    cJSON_AddItemToArray(idx, gsi("request-index", "request_key", NULL));
    return table_request(table, attrs, idx);
}

static enum result create_one(struct store *s, const char *table,
                              cJSON *request, int64_t deadline_ms,
                              struct error_info *err)
{
    enum result r = ddb_create_table(s->ddb, request, deadline_ms, err);
    cJSON_Delete(request);
    if (r == RESULT_ALREADY_EXISTS)
        r = RESULT_OK;
    if (r == RESULT_OK)
        r = ddb_wait_active(s->ddb, table, deadline_ms, err);
    if (r == RESULT_OK)
        r = ddb_update_ttl(s->ddb, table, "ttl", 1, deadline_ms, err);
    return r;
}

enum result tables_create_all(struct store *s, int64_t deadline_ms,
                              struct error_info *err)
{
    enum result r;
    if ((r = create_one(s, s->connections_table,
                        connections_request(s->connections_table), deadline_ms,
                        err)) ||
        (r = create_one(s, s->requests_table,
                        requests_request(s->requests_table), deadline_ms,
                        err)) ||
        (r = create_one(s, s->subscriptions_table,
                        subscriptions_request(s->subscriptions_table),
                        deadline_ms, err)))
        return r;
    return RESULT_OK;
}

enum result tables_delete_all(struct store *s, int64_t deadline_ms,
                              struct error_info *err)
{
    const char *tables[] = {s->connections_table, s->requests_table,
                            s->subscriptions_table};
    enum result worst = RESULT_OK;
    for (int i = 0; i < 3; i++) {
        enum result r = ddb_delete_table(s->ddb, tables[i], deadline_ms, err);
        if (r != RESULT_OK && r != RESULT_NOT_FOUND)
            worst = r;
    }
    return worst;
}

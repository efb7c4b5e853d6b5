/* Creating the three tables with their indexes, stream and TTL. */
#include "tables.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "ddb_admin.h"
#include "xmalloc.h"

/* A GSI with its key schema; `range` may be NULL. Projection ALL, so a
 * list answers from the index alone. */
static cJSON *gsi(const char *name, const char *hash, const char *range)
{
    cJSON *g = xjson(cJSON_CreateObject());
    xjson_add(g, "IndexName", cJSON_CreateString(name));
    cJSON *ks = xjson(cJSON_CreateArray());
    xjson_add(g, "KeySchema", ks);
    cJSON *h = xjson(cJSON_CreateObject());
    xjson_add(h, "AttributeName", cJSON_CreateString(hash));
    xjson_add(h, "KeyType", cJSON_CreateString("HASH"));
    xjson_append(ks, h);
    if (range) {
        cJSON *r = xjson(cJSON_CreateObject());
        xjson_add(r, "AttributeName", cJSON_CreateString(range));
        xjson_add(r, "KeyType", cJSON_CreateString("RANGE"));
        xjson_append(ks, r);
    }
    cJSON *p = xjson(cJSON_CreateObject());
    xjson_add(g, "Projection", p);
    xjson_add(p, "ProjectionType", cJSON_CreateString("ALL"));
    return g;
}

/* CreateTable's request: pk/sk keys, the string attributes the indexes
 * use (NULL-terminated), and the GSIs (taken). */
static cJSON *table_request(const char *table, const char *const *attrs,
                            cJSON *indexes)
{
    cJSON *req = xjson(cJSON_CreateObject());
    xjson_add(req, "TableName", cJSON_CreateString(table));
    xjson_add(req, "BillingMode", cJSON_CreateString("PAY_PER_REQUEST"));
    cJSON *defs = xjson(cJSON_CreateArray());
    xjson_add(req, "AttributeDefinitions", defs);
    for (const char *const *a = attrs; *a; a++) {
        cJSON *d = xjson(cJSON_CreateObject());
        xjson_add(d, "AttributeName", cJSON_CreateString(*a));
        xjson_add(d, "AttributeType", cJSON_CreateString("S"));
        xjson_append(defs, d);
    }
    cJSON *ks = xjson(cJSON_CreateArray());
    xjson_add(req, "KeySchema", ks);
    const char *keys[2][2] = {{"pk", "HASH"}, {"sk", "RANGE"}};
    for (int i = 0; i < 2; i++) {
        cJSON *k = xjson(cJSON_CreateObject());
        xjson_add(k, "AttributeName", cJSON_CreateString(keys[i][0]));
        xjson_add(k, "KeyType", cJSON_CreateString(keys[i][1]));
        xjson_append(ks, k);
    }
    if (indexes)
        xjson_add(req, "GlobalSecondaryIndexes", indexes);
    return req;
}

static cJSON *connections_request(const char *table)
{
    static const char *const attrs[] = {"pk",        "sk",           "user_id",
                                        "tenant_id", "connected_at", NULL};
    cJSON *idx = xjson(cJSON_CreateArray());
    xjson_append(idx, gsi("user-index", "user_id", "connected_at"));
    xjson_append(idx, gsi("tenant-index", "tenant_id", "connected_at"));
    return table_request(table, attrs, idx);
}

static cJSON *requests_request(const char *table)
{
    static const char *const attrs[] = {
        "pk", "sk", "connection_id", "status", "user_id", "created_at", NULL};
    cJSON *idx = xjson(cJSON_CreateArray());
    xjson_append(idx, gsi("connection-index", "connection_id", "created_at"));
    xjson_append(idx, gsi("status-index", "status", "created_at"));
    xjson_append(idx, gsi("user-index", "user_id", "created_at"));
    cJSON *req = table_request(table, attrs, idx);
    /* The processor is fed by this stream (docs/data-model.md). */
    cJSON *spec = xjson(cJSON_CreateObject());
    xjson_add(req, "StreamSpecification", spec);
    xjson_add(spec, "StreamEnabled", cJSON_CreateBool(1));
    xjson_add(spec, "StreamViewType", cJSON_CreateString("NEW_IMAGE"));
    return req;
}

static cJSON *subscriptions_request(const char *table)
{
    static const char *const attrs[] = {"pk", "sk", "request_key", NULL};
    cJSON *idx = xjson(cJSON_CreateArray());
    /* The request key, not the bare id: ids are unique per user only. */
    xjson_append(idx, gsi("request-index", "request_key", NULL));
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

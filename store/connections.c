/* The connections store: one item per open WebSocket connection. */
#include "connections.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "text.h"
#include "xmalloc.h"

#define PK_PREFIX "CONN#"
#define SK_METADATA "METADATA"
#define MAX_ENDPOINT_BYTES 2048
#define MAX_METADATA_VALUE_BYTES 2048
#define MAX_METADATA_ENTRIES 32

static const char *const user_index_keys[] = {"pk", "sk", "user_id",
                                              "connected_at", NULL};
static const char *const tenant_index_keys[] = {"pk", "sk", "tenant_id",
                                                "connected_at", NULL};

void conn_cleanup(struct connection *c)
{
    free(c->connection_id);
    free(c->user_id);
    free(c->tenant_id);
    free(c->endpoint);
    cJSON_Delete(c->metadata);
    memset(c, 0, sizeof(*c));
}

static cJSON *conn_key(const char *connection_id)
{
    char pk[sizeof(PK_PREFIX) + STORE_MAX_ID_BYTES];
    text_join(pk, sizeof(pk), PK_PREFIX, connection_id, (char *)NULL);
    return store_key(pk, SK_METADATA);
}

static enum result check_metadata(const cJSON *m, struct error_info *err)
{
    if (!m)
        return RESULT_OK;
    if (!cJSON_IsObject(m))
        return error_field(err, "metadata", "metadata must be an object");
    int n = 0;
    for (const cJSON *v = m->child; v; v = v->next, n++) {
        if (!cJSON_IsString(v) ||
            strlen(v->valuestring) > MAX_METADATA_VALUE_BYTES)
            return error_field(err, "metadata",
                               "metadata values must be strings of at most "
                               "%d bytes",
                               MAX_METADATA_VALUE_BYTES);
        if (!v->string || !*v->string || strlen(v->string) > 255)
            return error_field(err, "metadata", "metadata key is invalid");
    }
    if (n > MAX_METADATA_ENTRIES)
        return error_field(err, "metadata", "metadata has over %d entries",
                           MAX_METADATA_ENTRIES);
    return RESULT_OK;
}

static enum result check_connection(const struct connection *c,
                                    struct error_info *err)
{
    enum result r;
    if ((r = store_check_id("connection_id", c->connection_id, err)) ||
        (r = store_check_id("user_id", c->user_id, err)) ||
        (r = store_check_id("tenant_id", c->tenant_id, err)))
        return r;
    if (c->endpoint && strlen(c->endpoint) > MAX_ENDPOINT_BYTES)
        return error_field(err, "endpoint", "endpoint is too long");
    return check_metadata(c->metadata, err);
}

/* The metadata map as an M of S (an empty map when there is none). */
static cJSON *metadata_av(const cJSON *m)
{
    cJSON *map = xjson(cJSON_CreateObject());
    for (const cJSON *v = m ? m->child : NULL; v; v = v->next)
        xjson_add(map, v->string, item_av_s(v->valuestring));
    return item_av_m(map);
}

static cJSON *to_item(const struct connection *c)
{
    char pk[sizeof(PK_PREFIX) + STORE_MAX_ID_BYTES];
    text_join(pk, sizeof(pk), PK_PREFIX, c->connection_id, (char *)NULL);
    cJSON *item = item_new();
    item_set_s(item, "pk", pk);
    item_set_s(item, "sk", SK_METADATA);
    item_set_s(item, "connection_id", c->connection_id);
    item_set_s(item, "user_id", c->user_id);
    item_set_s(item, "tenant_id", c->tenant_id);
    item_set_s(item, "endpoint", c->endpoint ? c->endpoint : "");
    item_set_s(item, "connected_at", c->connected_at);
    item_set_s(item, "last_ping", c->last_ping);
    item_set(item, "metadata", metadata_av(c->metadata));
    item_set_s(item, "created_at", c->created_at);
    item_set_s(item, "updated_at", c->updated_at);
    item_set_i64(item, "version", c->version);
    item_set_i64(item, "ttl", c->ttl);
    return item;
}

static void copy_ts(const cJSON *item, const char *name, char *out)
{
    const char *v = item_get_s(item, name);
    text_join(out, CLOCK_RFC3339_SIZE, v ? v : "", (char *)NULL);
}

/* Reads a stored item into the struct connection at `out`; RESULT_PARSE
 * when it lacks what every connection item has. A store_read_fn. */
static enum result from_item(const cJSON *item, void *out,
                             struct error_info *err)
{
    struct connection *c = out;
    memset(c, 0, sizeof(*c));
    c->connection_id = store_dup_s(item, "connection_id");
    c->user_id = store_dup_s(item, "user_id");
    c->tenant_id = store_dup_s(item, "tenant_id");
    c->endpoint = store_dup_s(item, "endpoint");
    copy_ts(item, "connected_at", c->connected_at);
    copy_ts(item, "last_ping", c->last_ping);
    copy_ts(item, "created_at", c->created_at);
    copy_ts(item, "updated_at", c->updated_at);
    const cJSON *m = item_get_m(item, "metadata");
    if (m && item_to_json(m, &c->metadata, err) != RESULT_OK)
        c->metadata = NULL;
    if (!c->connection_id || !c->user_id || !c->tenant_id ||
        item_get_i64(item, "version", &c->version) != RESULT_OK ||
        item_get_i64(item, "ttl", &c->ttl) != RESULT_OK) {
        conn_cleanup(c);
        return error_set(err, RESULT_PARSE, "MalformedItem",
                         "a stored connection lacks required attributes");
    }
    return RESULT_OK;
}

enum result conn_save(struct store *s, struct connection *c,
                      int64_t deadline_ms, struct error_info *err)
{
    enum result r = check_connection(c, err);
    if (r != RESULT_OK)
        return r;
    struct connection n = *c;
    store_timestamp(s, n.created_at);
    memcpy(n.updated_at, n.created_at, sizeof(n.updated_at));
    memcpy(n.last_ping, n.created_at, sizeof(n.last_ping));
    if (!n.connected_at[0])
        memcpy(n.connected_at, n.created_at, sizeof(n.connected_at));
    n.version = 1;
    n.ttl = store_ttl(s, CONN_TTL_SECONDS);
    cJSON *item = to_item(&n);
    struct ddb_write_opts o = {.condition = "attribute_not_exists(pk)",
                               .deadline_ms = deadline_ms};
    r = ddb_put_item(s->ddb, s->connections_table, item, &o, NULL, err);
    cJSON_Delete(item);
    if (r == RESULT_CONDITION_FAILED)
        return error_set(err, RESULT_ALREADY_EXISTS, "AlreadyExists",
                         "connection %s already exists", c->connection_id);
    if (r == RESULT_OK) {
        /* Copy back what was stored; the caller's strings stay its own. */
        memcpy(c->connected_at, n.connected_at, sizeof(c->connected_at));
        memcpy(c->last_ping, n.last_ping, sizeof(c->last_ping));
        memcpy(c->created_at, n.created_at, sizeof(c->created_at));
        memcpy(c->updated_at, n.updated_at, sizeof(c->updated_at));
        c->version = n.version;
        c->ttl = n.ttl;
    }
    return r;
}

enum result conn_get(struct store *s, const char *connection_id,
                     struct connection *out, int64_t deadline_ms,
                     struct error_info *err)
{
    memset(out, 0, sizeof(*out));
    enum result r = store_check_id("connection_id", connection_id, err);
    if (r != RESULT_OK)
        return r;
    cJSON *key = conn_key(connection_id);
    cJSON *item = NULL;
    r = ddb_get_item(s->ddb, s->connections_table, key, 1, deadline_ms, &item,
                     err);
    if (r == RESULT_OK)
        r = from_item(item, out, err);
    cJSON_Delete(item);
    cJSON_Delete(key);
    return r;
}

enum result conn_delete(struct store *s, const char *connection_id,
                        int64_t deadline_ms, struct error_info *err)
{
    enum result r = store_check_id("connection_id", connection_id, err);
    if (r != RESULT_OK)
        return r;
    cJSON *key = conn_key(connection_id);
    struct ddb_write_opts o = {.condition = "attribute_exists(pk)",
                               .deadline_ms = deadline_ms};
    r = ddb_delete_item(s->ddb, s->connections_table, key, &o, NULL, err);
    cJSON_Delete(key);
    if (r == RESULT_CONDITION_FAILED)
        return error_set(err, RESULT_NOT_FOUND, "NotFound", "no connection %s",
                         connection_id);
    return r;
}

enum result conn_update_last_ping(struct store *s, struct connection *c,
                                  int64_t deadline_ms, struct error_info *err)
{
    enum result r = store_check_id("connection_id", c->connection_id, err);
    if (r != RESULT_OK)
        return r;
    char now[CLOCK_RFC3339_SIZE];
    store_timestamp(s, now);
    int64_t ttl = store_ttl(s, CONN_TTL_SECONDS);
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":now", item_av_s(now));
    ddb_expr_value(&e, ":ttl", item_av_i64(ttl));
    ddb_expr_value(&e, ":v", item_av_i64(c->version));
    ddb_expr_value(&e, ":one", item_av_i64(1));
    ddb_expr_name(&e, "#ttl", "ttl");
    cJSON *key = conn_key(c->connection_id);
    cJSON *old = NULL;
    struct ddb_write_opts o = {.condition = "version = :v",
                               .expr = &e,
                               .return_old_on_condition_failure = 1,
                               .deadline_ms = deadline_ms};
    r = ddb_update_item(s->ddb, s->connections_table, key,
                        "SET last_ping = :now, updated_at = :now, "
                        "#ttl = :ttl, version = version + :one",
                        &o, &old, err);
    if (r == RESULT_CONDITION_FAILED)
        r = store_condition_failure(old, err);
    if (r == RESULT_OK) {
        memcpy(c->last_ping, now, sizeof(now));
        memcpy(c->updated_at, now, sizeof(now));
        c->ttl = ttl;
        c->version++;
    }
    cJSON_Delete(old);
    cJSON_Delete(key);
    ddb_expr_cleanup(&e);
    return r;
}

static void cleanup_listed(void *c)
{
    conn_cleanup(c);
}

/* A connection as a listing reads it (store_list_page()). */
static const struct store_reader reader = {sizeof(struct connection), from_item,
                                           cleanup_listed};

void conn_page_cleanup(struct conn_page *p)
{
    store_items_free(p->items, p->count, &reader);
    free(p->next_cursor);
    memset(p, 0, sizeof(*p));
}

/* Newest first, on the index of `attr`. */
static enum result list_by(struct store *s, const char *index, const char *attr,
                           const char *const *keys, const char *value,
                           int limit, const char *cursor,
                           struct conn_page *page, int64_t deadline_ms,
                           struct error_info *err)
{
    void *items = NULL;
    memset(page, 0, sizeof(*page));
    enum result r = store_check_id(attr, value, err);
    if (r != RESULT_OK)
        return r;
    struct store_list l = {.table = s->connections_table,
                           .index = index,
                           .attr = attr,
                           .value = value,
                           .keys = keys,
                           .descending = 1};
    r = store_list_page(s, &l, &reader, limit, cursor, deadline_ms, &items,
                        &page->count, &page->next_cursor, err);
    page->items = items;
    return r;
}

enum result conn_list_by_user(struct store *s, const char *user_id, int limit,
                              const char *cursor, struct conn_page *page,
                              int64_t deadline_ms, struct error_info *err)
{
    return list_by(s, "user-index", "user_id", user_index_keys, user_id, limit,
                   cursor, page, deadline_ms, err);
}

enum result conn_list_by_tenant(struct store *s, const char *tenant_id,
                                int limit, const char *cursor,
                                struct conn_page *page, int64_t deadline_ms,
                                struct error_info *err)
{
    return list_by(s, "tenant-index", "tenant_id", tenant_index_keys, tenant_id,
                   limit, cursor, page, deadline_ms, err);
}

/* One Scan page of connections idle since before `before`. */
static enum result scan_stale(struct store *s, const char *before,
                              const cJSON *start, int64_t deadline_ms,
                              cJSON **response, struct error_info *err)
{
    cJSON *req = xjson(cJSON_CreateObject());
    xjson_add(req, "TableName", cJSON_CreateString(s->connections_table));
    xjson_add(req, "FilterExpression",
              cJSON_CreateString("last_ping < :before"));
    xjson_add(req, "ProjectionExpression", cJSON_CreateString("connection_id"));
    cJSON *values = xjson(cJSON_CreateObject());
    xjson_add(req, "ExpressionAttributeValues", values);
    xjson_add(values, ":before", item_av_s(before));
    if (start)
        xjson_add(req, "ExclusiveStartKey", xjson(cJSON_Duplicate(start, 1)));
    enum result r = ddb_call(s->ddb, "Scan", req, deadline_ms, response, err);
    cJSON_Delete(req);
    return r;
}

/* Deletes one connection if it is still stale. */
static enum result delete_if_stale(struct store *s, const char *id,
                                   const char *before, int64_t deadline_ms,
                                   struct error_info *err)
{
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":before", item_av_s(before));
    cJSON *key = conn_key(id);
    struct ddb_write_opts o = {.condition = "last_ping < :before",
                               .expr = &e,
                               .deadline_ms = deadline_ms};
    enum result r =
        ddb_delete_item(s->ddb, s->connections_table, key, &o, NULL, err);
    cJSON_Delete(key);
    ddb_expr_cleanup(&e);
    return r;
}

enum result conn_delete_stale(struct store *s, int64_t before_ms,
                              int64_t deadline_ms, char ***ids, size_t *count,
                              struct error_info *err)
{
    char before[CLOCK_RFC3339_SIZE];
    clock_rfc3339(before_ms, before);
    *ids = NULL;
    *count = 0;
    cJSON *start = NULL;
    enum result r = RESULT_OK;
    do {
        cJSON *resp = NULL;
        r = scan_stale(s, before, start, deadline_ms, &resp, err);
        cJSON_Delete(start);
        start = NULL;
        if (r != RESULT_OK)
            break;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(resp, "Items");
        for (const cJSON *it = cJSON_IsArray(items) ? items->child : NULL;
             r == RESULT_OK && it; it = it->next) {
            const char *id = item_get_s(it, "connection_id");
            if (!id || store_check_id("connection_id", id, NULL) != RESULT_OK)
                continue;
            r = delete_if_stale(s, id, before, deadline_ms, err);
            if (r == RESULT_CONDITION_FAILED) { /* pinged meanwhile */
                r = RESULT_OK;
                continue;
            }
            if (r == RESULT_OK) {
                *ids = xrealloc(*ids, (*count + 1) * sizeof(char *));
                (*ids)[(*count)++] = xstrdup(id);
            }
        }
        const cJSON *lek =
            cJSON_GetObjectItemCaseSensitive(resp, "LastEvaluatedKey");
        if (r == RESULT_OK && cJSON_IsObject(lek))
            start = xjson(cJSON_Duplicate(lek, 1));
        cJSON_Delete(resp);
    } while (start);
    return r;
}

/* Orders indices of `ids` by the id they point at (qsort_r). */
static int by_id(const void *a, const void *b, void *ids)
{
    const char *const *v = ids;
    return strcmp(v[*(const size_t *)a], v[*(const size_t *)b]);
}

/* The position in `ids` of `id`, through the sorted `order`; n: none. */
static size_t find_id(const char *const *ids, const size_t *order, size_t n,
                      const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ids[order[mid]], id);
        if (c == 0)
            return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

void conn_array_free(struct connection *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        conn_cleanup(&c[i]);
    free(c);
}

enum result conn_batch_get(struct store *s, const char *const *ids, size_t n,
                           struct connection **out, int64_t deadline_ms,
                           struct error_info *err)
{
    enum result r = RESULT_OK;
    for (size_t i = 0; i < n && r == RESULT_OK; i++)
        r = store_check_id("connection_id", ids[i], err);
    if (r != RESULT_OK)
        return r;
    struct connection *conns = xcalloc(n ? n : 1, sizeof(*conns));
    if (n == 0) {
        *out = conns;
        return RESULT_OK;
    }
    cJSON *keys = xjson(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++)
        xjson_append(keys, conn_key(ids[i]));
    cJSON *items = NULL;
    r = ddb_batch_get_item(s->ddb, s->connections_table, keys, 1, deadline_ms,
                           &items, err);
    cJSON_Delete(keys);
    size_t *order = xcalloc(n, sizeof(*order));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(*order), by_id, (void *)ids);
    const cJSON *it;
    const cJSON *list = r == RESULT_OK ? items : NULL;
    cJSON_ArrayForEach(it, list)
    {
        struct connection c;
        struct error_info skip;
        if (from_item(it, &c, &skip) != RESULT_OK)
            continue; /* not a connection item: as if absent */
        size_t at = find_id(ids, order, n, c.connection_id);
        if (at < n && !conns[at].connection_id)
            conns[at] = c;
        else
            conn_cleanup(&c);
    }
    free(order);
    cJSON_Delete(items);
    if (r == RESULT_OK)
        *out = conns;
    else
        conn_array_free(conns, n);
    return r;
}

enum result conn_delete_many(struct store *s, const char *const *ids, size_t n,
                             int64_t deadline_ms, struct error_info *err)
{
    enum result r = RESULT_OK;
    for (size_t i = 0; i < n && r == RESULT_OK; i++)
        r = store_check_id("connection_id", ids[i], err);
    if (r != RESULT_OK || n == 0)
        return r;
    cJSON *requests = xjson(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        cJSON *del = xjson(cJSON_CreateObject());
        cJSON *rq = xjson(cJSON_CreateObject());
        xjson_add(rq, "Key", conn_key(ids[i]));
        xjson_add(del, "DeleteRequest", rq);
        xjson_append(requests, del);
    }
    r = ddb_batch_write(s->ddb, s->connections_table, requests, deadline_ms,
                        err);
    cJSON_Delete(requests);
    return r;
}

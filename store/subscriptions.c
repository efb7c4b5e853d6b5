/* The subscriptions store: which connection hears which request. */
#include "subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "xmalloc.h"

#define PK_PREFIX "CONN#"
#define SK_PREFIX "SUB#"
#define PK_SIZE (sizeof(PK_PREFIX) + STORE_MAX_ID_BYTES)
#define SK_SIZE (sizeof(SK_PREFIX) + STORE_REQUEST_KEY_SIZE)
#define ID_SIZE (STORE_MAX_ID_BYTES + 1 + STORE_REQUEST_KEY_SIZE)

static const char *const event_names[] = {"progress", "complete", "error"};
static const char *const base_keys[] = {"pk", "sk", NULL};
static const char *const request_index_keys[] = {"pk", "sk", "request_key",
                                                 NULL};

enum result sub_event_parse(const char *name, unsigned *bit)
{
    for (unsigned i = 0; name && i < 3; i++)
        if (strcmp(name, event_names[i]) == 0) {
            *bit = 1u << i;
            return RESULT_OK;
        }
    return RESULT_INVALID_INPUT;
}

void sub_cleanup(struct subscription *s)
{
    free(s->connection_id);
    free(s->request_id);
    free(s->tenant_id);
    free(s->user_id);
    free(s->subscription_id);
    memset(s, 0, sizeof(*s));
}

/* The item's key, from the connection id and the request key. */
static cJSON *sub_key(const char *connection_id, const char *request_key)
{
    char pk[PK_SIZE], sk[SK_SIZE];
    snprintf(pk, sizeof(pk), PK_PREFIX "%s", connection_id);
    snprintf(sk, sizeof(sk), SK_PREFIX "%s", request_key);
    return store_key(pk, sk);
}

/* The event types as a string set (always non-empty). */
static cJSON *events_av(unsigned bits)
{
    const char *names[3];
    size_t n = 0;
    for (unsigned i = 0; i < 3; i++)
        if (bits & (1u << i))
            names[n++] = event_names[i];
    cJSON *av = NULL;
    if (item_av_ss(names, n, "event_types", &av, NULL) != RESULT_OK)
        abort(); /* three distinct non-empty names cannot fail */
    return av;
}

static unsigned events_of(const cJSON *item)
{
    const cJSON *ss = item_get_ss(item, "event_types");
    unsigned bits = 0, bit;
    for (const cJSON *v = ss ? ss->child : NULL; v; v = v->next)
        if (cJSON_IsString(v) &&
            sub_event_parse(v->valuestring, &bit) == RESULT_OK)
            bits |= bit;
    return bits;
}

/* Reads a stored item into the struct subscription at `out`; RESULT_PARSE
 * when it lacks what every subscription item has. A store_read_fn. */
static enum result from_item(const cJSON *item, void *out,
                             struct error_info *err)
{
    struct subscription *s = out;
    memset(s, 0, sizeof(*s));
    s->connection_id = store_dup_s(item, "connection_id");
    s->request_id = store_dup_s(item, "request_id");
    s->tenant_id = store_dup_s(item, "tenant_id");
    s->user_id = store_dup_s(item, "user_id");
    s->subscription_id = store_dup_s(item, "subscription_id");
    s->event_types = events_of(item);
    const char *c = item_get_s(item, "created_at");
    const char *u = item_get_s(item, "updated_at");
    snprintf(s->created_at, sizeof(s->created_at), "%s", c ? c : "");
    snprintf(s->updated_at, sizeof(s->updated_at), "%s", u ? u : "");
    if (!s->connection_id || !s->request_id || !s->tenant_id || !s->user_id ||
        item_get_i64(item, "version", &s->version) != RESULT_OK ||
        item_get_i64(item, "ttl", &s->ttl) != RESULT_OK) {
        sub_cleanup(s);
        return error_set(err, RESULT_PARSE, "MalformedItem",
                         "a stored subscription lacks required attributes");
    }
    return RESULT_OK;
}

/* Checks the ids and writes the request key into `key`. */
static enum result check_ids(const char *connection_id, const char *tenant_id,
                             const char *user_id, const char *request_id,
                             char *key, struct error_info *err)
{
    enum result r = store_check_id("connection_id", connection_id, err);
    return r ? r : store_request_key(tenant_id, user_id, request_id, key, err);
}

/*
 * A new subscription item (version 1) of `sub` to the request of key
 * `rkey`; `id` (ID_SIZE bytes) gets its subscription id and `*ttl` its
 * ttl. Caller owns the result.
 */
static cJSON *new_item(const struct store *s, const struct subscription *sub,
                       const char *rkey, const char *now, char *id,
                       int64_t *ttl)
{
    char pk[PK_SIZE], sk[SK_SIZE];
    snprintf(pk, sizeof(pk), PK_PREFIX "%s", sub->connection_id);
    snprintf(sk, sizeof(sk), SK_PREFIX "%s", rkey);
    snprintf(id, ID_SIZE, "%s#%s", sub->connection_id, rkey);
    *ttl = store_ttl(s, SUB_TTL_SECONDS);
    cJSON *item = item_new();
    item_set_s(item, "pk", pk);
    item_set_s(item, "sk", sk);
    item_set_s(item, "subscription_id", id);
    item_set_s(item, "connection_id", sub->connection_id);
    item_set_s(item, "request_id", sub->request_id);
    item_set_s(item, "tenant_id", sub->tenant_id);
    item_set_s(item, "user_id", sub->user_id);
    item_set_s(item, "request_key", rkey);
    item_set(item, "event_types", events_av(sub->event_types));
    item_set_s(item, "created_at", now);
    item_set_s(item, "updated_at", now);
    item_set_i64(item, "version", 1);
    item_set_i64(item, "ttl", *ttl);
    return item;
}

/*
 * A new item; version 1. On RESULT_CONDITION_FAILED (it exists), `*old`
 * gets the stored item from the failed answer (caller owns).
 */
static enum result put_new(struct store *s, struct subscription *sub,
                           const char *rkey, const char *now,
                           int64_t deadline_ms, cJSON **old,
                           struct error_info *err)
{
    char id[ID_SIZE];
    int64_t ttl = 0;
    cJSON *item = new_item(s, sub, rkey, now, id, &ttl);
    struct ddb_write_opts o = {.condition = "attribute_not_exists(pk)",
                               .return_old_on_condition_failure = 1,
                               .deadline_ms = deadline_ms};
    enum result r =
        ddb_put_item(s->ddb, s->subscriptions_table, item, &o, old, err);
    cJSON_Delete(item);
    if (r == RESULT_OK) {
        free(sub->subscription_id);
        sub->subscription_id = xstrdup(id);
        memcpy(sub->created_at, now, CLOCK_RFC3339_SIZE);
        memcpy(sub->updated_at, now, CLOCK_RFC3339_SIZE);
        sub->version = 1;
        sub->ttl = ttl;
    }
    return r;
}

/*
 * Replaces the event types of the existing subscription `current` (the
 * stored item) at its version. On RESULT_CONDITION_FAILED (another
 * writer won), `*old` gets the item as it is now, or NULL when it is
 * gone (caller owns).
 */
static enum result replace_events(struct store *s, struct subscription *sub,
                                  const char *rkey, const char *now,
                                  const cJSON *current, int64_t deadline_ms,
                                  cJSON **old_item, struct error_info *err)
{
    cJSON *key = sub_key(sub->connection_id, rkey);
    struct subscription old = {0};
    enum result r = from_item(current, &old, err);
    if (r == RESULT_OK) {
        int64_t ttl = store_ttl(s, SUB_TTL_SECONDS);
        struct ddb_expr e;
        ddb_expr_init(&e);
        ddb_expr_name(&e, "#ttl", "ttl");
        ddb_expr_value(&e, ":ev", events_av(sub->event_types));
        ddb_expr_value(&e, ":now", item_av_s(now));
        ddb_expr_value(&e, ":ttl", item_av_i64(ttl));
        ddb_expr_value(&e, ":v", item_av_i64(old.version));
        ddb_expr_value(&e, ":one", item_av_i64(1));
        struct ddb_write_opts o = {.condition = "version = :v",
                                   .expr = &e,
                                   .return_old_on_condition_failure = 1,
                                   .deadline_ms = deadline_ms};
        r = ddb_update_item(s->ddb, s->subscriptions_table, key,
                            "SET event_types = :ev, updated_at = :now, "
                            "#ttl = :ttl, version = version + :one",
                            &o, old_item, err);
        ddb_expr_cleanup(&e);
        if (r == RESULT_OK) {
            free(sub->subscription_id);
            sub->subscription_id = old.subscription_id;
            old.subscription_id = NULL;
            memcpy(sub->created_at, old.created_at, CLOCK_RFC3339_SIZE);
            memcpy(sub->updated_at, now, CLOCK_RFC3339_SIZE);
            sub->version = old.version + 1;
            sub->ttl = ttl;
        }
    }
    sub_cleanup(&old);
    cJSON_Delete(key);
    return r;
}

/* Checks `sub`'s ids and event types (none: all) and fills `rkey`. */
static enum result check_sub(struct subscription *sub, char *rkey,
                             struct error_info *err)
{
    enum result r = check_ids(sub->connection_id, sub->tenant_id, sub->user_id,
                              sub->request_id, rkey, err);
    if (r != RESULT_OK)
        return r;
    if (sub->event_types & ~(unsigned)SUB_ALL)
        return error_field(err, "event_types", "unknown event type");
    if (!sub->event_types)
        sub->event_types = SUB_ALL;
    return RESULT_OK;
}

enum result sub_subscribe(struct store *s, struct subscription *sub,
                          int64_t deadline_ms, struct error_info *err)
{
    char rkey[STORE_REQUEST_KEY_SIZE];
    enum result r = check_sub(sub, rkey, err);
    if (r != RESULT_OK)
        return r;
    char now[CLOCK_RFC3339_SIZE];
    store_timestamp(s, now);
    cJSON *old = NULL;
    r = put_new(s, sub, rkey, now, deadline_ms, &old, err);
    /* Already subscribed: update the item the failed put handed back. A
     * race with another writer may need one more try (an update of the
     * newer item, or a put when it was deleted); a second loss is
     * reported. */
    for (int i = 0; r == RESULT_CONDITION_FAILED && i < 2; i++) {
        cJSON *current = old;
        old = NULL;
        r = current ? replace_events(s, sub, rkey, now, current, deadline_ms,
                                     &old, err)
                    : put_new(s, sub, rkey, now, deadline_ms, &old, err);
        cJSON_Delete(current);
    }
    cJSON_Delete(old);
    return r;
}

enum result sub_new_item(struct store *s, struct subscription *sub,
                         cJSON **item, struct error_info *err)
{
    char rkey[STORE_REQUEST_KEY_SIZE], id[ID_SIZE];
    enum result r = check_sub(sub, rkey, err);
    if (r != RESULT_OK)
        return r;
    char now[CLOCK_RFC3339_SIZE];
    store_timestamp(s, now);
    *item = new_item(s, sub, rkey, now, id, &sub->ttl);
    free(sub->subscription_id);
    sub->subscription_id = xstrdup(id);
    memcpy(sub->created_at, now, CLOCK_RFC3339_SIZE);
    memcpy(sub->updated_at, now, CLOCK_RFC3339_SIZE);
    sub->version = 1;
    return RESULT_OK;
}

enum result sub_unsubscribe(struct store *s, const char *connection_id,
                            const char *tenant_id, const char *user_id,
                            const char *request_id, int64_t deadline_ms,
                            struct error_info *err)
{
    char rkey[STORE_REQUEST_KEY_SIZE];
    enum result r =
        check_ids(connection_id, tenant_id, user_id, request_id, rkey, err);
    if (r != RESULT_OK)
        return r;
    cJSON *key = sub_key(connection_id, rkey);
    struct ddb_write_opts o = {.condition = "attribute_exists(pk)",
                               .deadline_ms = deadline_ms};
    r = ddb_delete_item(s->ddb, s->subscriptions_table, key, &o, NULL, err);
    cJSON_Delete(key);
    if (r == RESULT_CONDITION_FAILED)
        return error_set(err, RESULT_NOT_FOUND, "NotFound",
                         "no such subscription");
    return r;
}

static void cleanup_listed(void *s)
{
    sub_cleanup(s);
}

/* A subscription as a listing reads it (store_list_page()). */
static const struct store_reader reader = {sizeof(struct subscription),
                                           from_item, cleanup_listed};

void sub_page_cleanup(struct sub_page *p)
{
    store_items_free(p->items, p->count, &reader);
    free(p->next_cursor);
    memset(p, 0, sizeof(*p));
}

/* One page of `l`, oldest first, into `page`. */
static enum result list(struct store *s, const struct store_list *l, int limit,
                        const char *cursor, struct sub_page *page,
                        int64_t deadline_ms, struct error_info *err)
{
    void *items = NULL;
    enum result r =
        store_list_page(s, l, &reader, limit, cursor, deadline_ms, &items,
                        &page->count, &page->next_cursor, err);
    page->items = items;
    return r;
}

enum result sub_list_by_connection(struct store *s, const char *connection_id,
                                   int limit, const char *cursor,
                                   struct sub_page *page, int64_t deadline_ms,
                                   struct error_info *err)
{
    memset(page, 0, sizeof(*page));
    enum result r = store_check_id("connection_id", connection_id, err);
    if (r != RESULT_OK)
        return r;
    char pk[PK_SIZE];
    snprintf(pk, sizeof(pk), PK_PREFIX "%s", connection_id);
    struct store_list l = {.table = s->subscriptions_table,
                           .attr = "pk",
                           .value = pk,
                           .sk_prefix = SK_PREFIX,
                           .keys = base_keys,
                           .consistent = 1};
    return list(s, &l, limit, cursor, page, deadline_ms, err);
}

enum result sub_list_by_request(struct store *s, const char *tenant_id,
                                const char *user_id, const char *request_id,
                                int limit, const char *cursor,
                                struct sub_page *page, int64_t deadline_ms,
                                struct error_info *err)
{
    memset(page, 0, sizeof(*page));
    char rkey[STORE_REQUEST_KEY_SIZE];
    enum result r =
        store_request_key(tenant_id, user_id, request_id, rkey, err);
    if (r != RESULT_OK)
        return r;
    struct store_list l = {.table = s->subscriptions_table,
                           .index = "request-index",
                           .attr = "request_key",
                           .value = rkey,
                           .keys = request_index_keys};
    return list(s, &l, limit, cursor, page, deadline_ms, err);
}

enum result sub_delete_by_connection(struct store *s, const char *connection_id,
                                     int64_t deadline_ms, size_t *deleted,
                                     struct error_info *err)
{
    if (deleted)
        *deleted = 0;
    enum result r = store_check_id("connection_id", connection_id, err);
    if (r != RESULT_OK)
        return r;
    char pk[PK_SIZE];
    snprintf(pk, sizeof(pk), PK_PREFIX "%s", connection_id);
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":pk", item_av_s(pk));
    struct ddb_query q = {.table = s->subscriptions_table,
                          .key_condition = "pk = :pk",
                          .expr = &e,
                          .consistent = 1,
                          .deadline_ms = deadline_ms};
    cJSON *items = NULL;
    r = ddb_query_all(s->ddb, &q, 0, &items, err);
    ddb_expr_cleanup(&e);
    if (r != RESULT_OK)
        return r;
    cJSON *requests = xjson(cJSON_CreateArray());
    int n = 0;
    for (const cJSON *it = items->child; it; it = it->next) {
        const char *sk = item_get_s(it, "sk");
        if (!sk)
            continue;
        cJSON *del = xjson(cJSON_CreateObject());
        cJSON *dr = xjson(cJSON_CreateObject());
        xjson_add(del, "DeleteRequest", dr);
        xjson_add(dr, "Key", store_key(pk, sk));
        xjson_append(requests, del);
        n++;
    }
    if (n)
        r = ddb_batch_write(s->ddb, s->subscriptions_table, requests,
                            deadline_ms, err);
    if (r == RESULT_OK && deleted)
        *deleted = (size_t)n;
    cJSON_Delete(requests);
    cJSON_Delete(items);
    return r;
}

/* What the three stores share: the client, table names, ids, cursors, lists. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "item.h"
#include "text.h"
#include "xmalloc.h"

#define CURSOR_MAX_BYTES 1024

void store_init(struct store *s, struct ddb *ddb, const char *connections,
                const char *requests, const char *subscriptions)
{
    s->ddb = ddb;
    s->connections_table = xstrdup(connections);
    s->requests_table = xstrdup(requests);
    s->subscriptions_table = xstrdup(subscriptions);
    s->now_ms = clock_now_ms;
}

void store_cleanup(struct store *s)
{
    free(s->connections_table);
    free(s->requests_table);
    free(s->subscriptions_table);
    memset(s, 0, sizeof(*s));
}

enum result store_check_id(const char *field, const char *id,
                           struct error_info *err)
{
    if (!id || !*id)
        return error_field(err, field, "%s is required", field);
    size_t len = strlen(id);
    if (len > STORE_MAX_ID_BYTES)
        return error_field(err, field, "%s is longer than %d bytes", field,
                           STORE_MAX_ID_BYTES);
    const unsigned char *p = (const unsigned char *)id;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (!n)
            return error_field(err, field, "%s is not valid UTF-8", field);
        /* C0, DEL and C1 (U+0080-U+009F, encoded C2 80-C2 9F). */
        if (p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && p[i + 1] < 0xa0))
            return error_field(err, field, "%s has a control character", field);
        i += n;
    }
    return RESULT_OK;
}

/* Appends `id` to `out` at `*n` with '%' and '#' percent-encoded. */
static void append_escaped(char *out, size_t *n, const char *id)
{
    for (const char *p = id; *p; p++) {
        if (*p == '%' || *p == '#') {
            memcpy(out + *n, *p == '%' ? "%25" : "%23", 3);
            *n += 3;
        } else {
            out[(*n)++] = *p;
        }
    }
}

enum result store_owner_key(const char *tenant_id, const char *user_id,
                            char *out, struct error_info *err)
{
    enum result r;
    out[0] = '\0';
    if ((r = store_check_id("tenant_id", tenant_id, err)) ||
        (r = store_check_id("user_id", user_id, err)))
        return r;
    size_t n = 0;
    append_escaped(out, &n, tenant_id);
    out[n++] = '#';
    append_escaped(out, &n, user_id);
    out[n] = '\0';
    return RESULT_OK;
}

enum result store_request_key(const char *tenant_id, const char *user_id,
                              const char *request_id, char *out,
                              struct error_info *err)
{
    enum result r;
    out[0] = '\0';
    if ((r = store_owner_key(tenant_id, user_id, out, err)) ||
        (r = store_check_id("request_id", request_id, err))) {
        out[0] = '\0';
        return r;
    }
    /* At most 3 x 128 + 1 + 3 x 128 + 1 + 128 + 1 bytes. */
    size_t n = strlen(out);
    out[n++] = '#';
    size_t len = strlen(request_id);
    memcpy(out + n, request_id, len + 1);
    return RESULT_OK;
}

void store_timestamp(const struct store *s, char *out)
{
    clock_rfc3339(s->now_ms(), out);
}

int64_t store_ttl(const struct store *s, int64_t offset_s)
{
    return s->now_ms() / 1000 + offset_s;
}

int store_page_limit(int limit)
{
    if (limit <= 0 || limit > STORE_MAX_PAGE)
        return STORE_MAX_PAGE;
    return limit;
}

char *store_dup_s(const cJSON *item, const char *name)
{
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(item, name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(av, "S");
    return cJSON_IsString(s) ? xstrdup(s->valuestring) : NULL;
}

char *store_cursor_encode(const cJSON *key)
{
    if (!key)
        return NULL;
    char *json = xjson_print(key);
    /* base64url without padding: safe in JSON and URLs alike. */
    char *cursor = base64_encode(json, strlen(json), BASE64_URL, NULL);
    free(json);
    return cursor;
}

/*
 * A key we made for this list has exactly the spec's attributes, each
 * once, each a non-empty S, and is in the list's partition. A partial or
 * foreign key is refused here, before the service sees it.
 */
static int key_matches(const cJSON *k, const struct store_cursor_spec *spec)
{
    if (!cJSON_IsObject(k))
        return 0;
    size_t want = 0, got = 0;
    for (; spec->keys[want]; want++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(k, spec->keys[want]);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "S");
        if (!cJSON_IsObject(a) || !cJSON_IsString(s) || a->child != s ||
            s->next || !*s->valuestring)
            return 0;
    }
    for (const cJSON *a = k->child; a; a = a->next)
        got++;
    if (got != want) /* something else, or a name twice */
        return 0;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(k, spec->partition), "S");
    return cJSON_IsString(p) && strcmp(p->valuestring, spec->value) == 0;
}

enum result store_cursor_decode(const char *cursor,
                                const struct store_cursor_spec *spec,
                                cJSON **key, struct error_info *err)
{
    *key = NULL;
    if (!cursor || !*cursor)
        return RESULT_OK;
    size_t n = strlen(cursor);
    if (n > CURSOR_MAX_BYTES)
        return error_field(err, "cursor", "cursor is too long");
    size_t len = 0;
    unsigned char *raw = base64_decode(cursor, n, BASE64_URL, &len);
    cJSON *k = raw && len ? cJSON_ParseWithLength((char *)raw, len) : NULL;
    free(raw);
    if (!key_matches(k, spec)) {
        cJSON_Delete(k);
        return error_field(err, "cursor", "cursor is not valid");
    }
    *key = k;
    return RESULT_OK;
}

cJSON *store_key(const char *pk, const char *sk)
{
    cJSON *key = xjson(cJSON_CreateObject());
    cJSON *p = xjson(cJSON_CreateObject());
    xjson_add(key, "pk", p);
    xjson_add(p, "S", cJSON_CreateString(pk));
    cJSON *k = xjson(cJSON_CreateObject());
    xjson_add(key, "sk", k);
    xjson_add(k, "S", cJSON_CreateString(sk));
    return key;
}

enum result store_query_page(struct store *s, const struct ddb_query *q,
                             const char *cursor,
                             const struct store_cursor_spec *spec, int limit,
                             cJSON **items, char **next_cursor,
                             struct error_info *err)
{
    cJSON *start = NULL;
    struct ddb_page page = {0};
    enum result r = store_cursor_decode(cursor, spec, &start, err);
    if (r != RESULT_OK)
        return r;
    struct ddb_query query = *q;
    query.limit = store_page_limit(limit);
    query.exclusive_start_key = start;
    r = ddb_query_page(s->ddb, &query, &page, err);
    if (r == RESULT_OK) {
        *next_cursor = store_cursor_encode(page.last_evaluated_key);
        *items = page.items;
        page.items = NULL;
    } else if (r == RESULT_INVALID_INPUT && start && err && !err->field[0]) {
        /* Our queries are valid; with a start key, the key is at fault
         * ("does not match the range key predicate"). */
        snprintf(err->field, sizeof(err->field), "cursor");
    }
    ddb_page_cleanup(&page);
    cJSON_Delete(start);
    return r;
}

void store_items_free(void *items, size_t count, const struct store_reader *rd)
{
    for (size_t i = 0; i < count; i++)
        rd->cleanup((char *)items + i * rd->size);
    free(items);
}

/* The query of a listing; `x` gets its names and values. */
static struct ddb_query list_query(const struct store_list *l,
                                   struct ddb_expr *x, int64_t deadline_ms)
{
    ddb_expr_name(x, "#k", l->attr);
    ddb_expr_value(x, ":k", item_av_s(l->value));
    if (l->sk_prefix)
        ddb_expr_value(x, ":p", item_av_s(l->sk_prefix));
    if (l->filter)
        ddb_expr_value(x, ":f", item_av_s(l->filter_value));
    struct ddb_query q = {.table = l->table,
                          .index = l->index,
                          .key_condition =
                              l->sk_prefix ? "#k = :k AND begins_with(sk, :p)"
                                           : "#k = :k",
                          .filter = l->filter,
                          .expr = x,
                          .descending = l->descending,
                          .consistent = l->consistent,
                          .deadline_ms = deadline_ms};
    return q;
}

enum result store_list_page(struct store *s, const struct store_list *l,
                            const struct store_reader *rd, int limit,
                            const char *cursor, int64_t deadline_ms,
                            void **items, size_t *count, char **next_cursor,
                            struct error_info *err)
{
    struct ddb_expr x;
    cJSON *page = NULL;
    struct store_cursor_spec spec = {l->keys, l->attr, l->value};
    ddb_expr_init(&x);
    struct ddb_query q = list_query(l, &x, deadline_ms);
    *items = NULL;
    *count = 0;
    *next_cursor = NULL;
    enum result r =
        store_query_page(s, &q, cursor, &spec, limit, &page, next_cursor, err);
    ddb_expr_cleanup(&x);
    size_t n = (size_t)cJSON_GetArraySize(page);
    char *out = xcalloc(n ? n : 1, rd->size);
    for (const cJSON *it = page ? page->child : NULL; r == RESULT_OK && it;
         it = it->next) {
        r = rd->read(it, out + *count * rd->size, err);
        if (r == RESULT_OK)
            (*count)++;
    }
    cJSON_Delete(page);
    if (r != RESULT_OK) {
        store_items_free(out, *count, rd);
        free(*next_cursor);
        *next_cursor = NULL;
        *count = 0;
        out = NULL;
    }
    *items = out;
    return r;
}

enum result store_condition_failure(const cJSON *old, struct error_info *err)
{
    if (old)
        return RESULT_CONDITION_FAILED;
    return error_set(err, RESULT_NOT_FOUND, "NotFound", "no such item");
}

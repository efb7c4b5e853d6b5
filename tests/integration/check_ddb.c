/* Tests of the DynamoDB client against DynamoDB Local. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddb_admin.h"
#include "ddb_local.h"
#include "item.h"

#define NAME_BYTES 96
/* A pointer value that a call must leave where it found it. */
static cJSON marker;
/* Each call gets 30 s: DynamoDB Local on a loaded machine is slow. */
#define CALL_MS 30000

static const struct sigv4_credentials fake_creds = {
    "AKIDLOCAL", "local/secret/any/value/works", NULL};

static int64_t deadline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + CALL_MS;
}

static struct ddb *client(void)
{
    const char *url = ddb_local_endpoint();
    ck_assert_msg(url != NULL, "DynamoDB Local is not running");
    struct ddb_config cfg = {url, "us-east-1", &fake_creds};
    struct ddb *d = NULL;
    struct error_info err;
    enum result r = ddb_new(&cfg, &d, &err);
    ck_assert_msg(r == RESULT_OK, "ddb_new: %s", err.message);
    return d;
}

static cJSON *parse(const char *text)
{
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    return json;
}

/* Fails the test with the call's error when `r` is not `want`. */
#define EXPECT(want, r, err)                                                   \
    do {                                                                       \
        enum result got_ = (r);                                                \
        ck_assert_msg(got_ == (want), "line %d: got %s, want %s: %s %s",       \
                      __LINE__, result_str(got_), result_str(want),            \
                      (err).type, (err).message);                              \
    } while (0)

/*
 * Creates table `name` (pk S [+ sk S]) on demand, with the GSI "by-owner"
 * (owner, sk) when `gsi`, and waits until it is ACTIVE.
 */
static void make_table(struct ddb *d, const char *name, int sort_key, int gsi)
{
    char text[2048];
    snprintf(
        text, sizeof(text),
        "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
        "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
        "\"AttributeType\":\"S\"}%s%s],"
        "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}%s]"
        "%s}",
        name,
        sort_key ? ",{\"AttributeName\":\"sk\",\"AttributeType\":\"S\"}" : "",
        gsi ? ",{\"AttributeName\":\"owner\",\"AttributeType\":\"S\"}" : "",
        sort_key ? ",{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}" : "",
        gsi ? ",\"GlobalSecondaryIndexes\":[{\"IndexName\":\"by-owner\","
              "\"KeySchema\":[{\"AttributeName\":\"owner\",\"KeyType\":"
              "\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
              "\"Projection\":{\"ProjectionType\":\"ALL\"}}]"
            : "");
    cJSON *req = parse(text);
    struct error_info err;
    EXPECT(RESULT_OK, ddb_create_table(d, req, deadline(), &err), err);
    EXPECT(RESULT_OK, ddb_wait_active(d, name, deadline(), &err), err);
    cJSON_Delete(req);
}

static void drop_table(struct ddb *d, const char *name)
{
    struct error_info err;
    EXPECT(RESULT_OK, ddb_delete_table(d, name, deadline(), &err), err);
}

static cJSON *key_of(const char *pk, const char *sk)
{
    cJSON *key = item_new();
    item_set_s(key, "pk", pk);
    if (sk)
        item_set_s(key, "sk", sk);
    return key;
}

static void put(struct ddb *d, const char *table, const cJSON *item)
{
    struct error_info err;
    EXPECT(RESULT_OK, ddb_put_item(d, table, item, NULL, NULL, &err), err);
}

/* Returns the item (caller owns) or NULL when there is none. */
static cJSON *get(struct ddb *d, const char *table, const cJSON *key)
{
    struct error_info err;
    cJSON *item = NULL;
    enum result r = ddb_get_item(d, table, key, 1, deadline(), &item, &err);
    ck_assert_msg(r == RESULT_OK || r == RESULT_NOT_FOUND, "get: %s %s",
                  result_str(r), err.message);
    return item;
}

/* ---- Tables ------------------------------------------------------------ */

START_TEST(table_lifecycle)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "lifecycle");

    make_table(d, name, 1, 0);
    /* Creating it again: ResourceInUseException. */
    char text[512];
    snprintf(text, sizeof(text),
             "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
             "\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":"
             "\"pk\",\"KeyType\":\"HASH\"}]}",
             name);
    cJSON *again = parse(text);
    EXPECT(RESULT_ALREADY_EXISTS, ddb_create_table(d, again, deadline(), &err),
           err);
    ck_assert_str_eq(err.type, "ResourceInUseException");
    cJSON_Delete(again);

    cJSON *desc = NULL;
    EXPECT(RESULT_OK, ddb_describe_table(d, name, deadline(), &desc, &err),
           err);
    ck_assert_str_eq(cJSON_GetObjectItem(desc, "TableName")->valuestring, name);
    ck_assert_str_eq(cJSON_GetObjectItem(desc, "TableStatus")->valuestring,
                     "ACTIVE");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(desc, "KeySchema")),
                     2);
    cJSON_Delete(desc);

    /* TTL on, then on again: both succeed; DescribeTimeToLive agrees. */
    EXPECT(RESULT_OK, ddb_update_ttl(d, name, "ttl", 1, deadline(), &err), err);
    EXPECT(RESULT_OK, ddb_update_ttl(d, name, "ttl", 1, deadline(), &err), err);
    ck_assert_str_eq(err.type, "");
    /* Another attribute while one is enabled is still refused. */
    EXPECT(RESULT_INVALID_INPUT,
           ddb_update_ttl(d, name, "expires", 1, deadline(), &err), err);
    snprintf(text, sizeof(text), "{\"TableName\":\"%s\"}", name);
    cJSON *req = parse(text), *resp = NULL;
    EXPECT(RESULT_OK,
           ddb_call(d, "DescribeTimeToLive", req, deadline(), &resp, &err),
           err);
    cJSON *ttl = cJSON_GetObjectItem(resp, "TimeToLiveDescription");
    ck_assert_str_eq(cJSON_GetObjectItem(ttl, "TimeToLiveStatus")->valuestring,
                     "ENABLED");
    ck_assert_str_eq(cJSON_GetObjectItem(ttl, "AttributeName")->valuestring,
                     "ttl");
    cJSON_Delete(resp);

    /* The generic call: ListTables names it. */
    resp = NULL;
    EXPECT(RESULT_OK, ddb_call(d, "ListTables", NULL, deadline(), &resp, &err),
           err);
    int listed = 0;
    cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(resp, "TableNames")) listed |=
        strcmp(n->valuestring, name) == 0;
    ck_assert(listed);
    cJSON_Delete(resp);

    drop_table(d, name);
    desc = NULL;
    EXPECT(RESULT_NOT_FOUND,
           ddb_describe_table(d, name, deadline(), &desc, &err), err);
    ck_assert_ptr_null(desc);
    EXPECT(RESULT_NOT_FOUND, ddb_delete_table(d, name, deadline(), &err), err);
    EXPECT(RESULT_NOT_FOUND, ddb_wait_active(d, name, deadline(), &err), err);
    EXPECT(RESULT_NOT_FOUND,
           ddb_call(d, "DescribeTable", req, deadline(), &resp, &err), err);
    cJSON_Delete(req);
    ddb_free(d);
}
END_TEST

START_TEST(describe_missing)
{
    struct ddb *d = client();
    struct error_info err;
    cJSON *desc = NULL;
    EXPECT(RESULT_NOT_FOUND,
           ddb_describe_table(d, "no_such_table_here", deadline(), &desc, &err),
           err);
    ck_assert_str_eq(err.type, "ResourceNotFoundException");
    ck_assert_ptr_null(desc);
    ddb_free(d);
}
END_TEST

/* ---- Items ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sets come back in any order: compares them as sorted lists. */
static int same_set(const cJSON *a, const cJSON *b)
{
    int n = cJSON_GetArraySize(a);
    if (n != cJSON_GetArraySize(b) || n > 64)
        return 0;
    const char *x[64], *y[64];
    for (int i = 0; i < n; i++) {
        x[i] = cJSON_GetArrayItem(a, i)->valuestring;
        y[i] = cJSON_GetArrayItem(b, i)->valuestring;
    }
    qsort(x, (size_t)n, sizeof(x[0]), cmp_str);
    qsort(y, (size_t)n, sizeof(y[0]), cmp_str);
    for (int i = 0; i < n; i++)
        if (strcmp(x[i], y[i]) != 0)
            return 0;
    return 1;
}

/* Asserts that `got` holds exactly `want`'s attributes. */
static void assert_same_item(const cJSON *want, const cJSON *got)
{
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(cJSON_GetArraySize(want), cJSON_GetArraySize(got));
    const cJSON *w;
    cJSON_ArrayForEach(w, want)
    {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
        ck_assert_msg(g != NULL, "attribute %s is missing", w->string);
        const char *type = w->child->string;
        int same = strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 ||
                           strcmp(type, "BS") == 0
                       ? g->child && strcmp(g->child->string, type) == 0 &&
                             same_set(w->child, g->child)
                       : cJSON_Compare(w, g, 1);
        char *ws = cJSON_PrintUnformatted(w), *gs = cJSON_PrintUnformatted(g);
        ck_assert_msg(same, "attribute %s: put %s, got %s", w->string, ws, gs);
        free(ws);
        free(gs);
    }
}

START_TEST(put_get_every_type)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "types");
    make_table(d, name, 0, 0);

    cJSON *item = parse(
        "{\"pk\":{\"S\":\"types#1\"},"
        "\"s\":{\"S\":\"h\\u00e9llo \\u6f22\\u5b57 \\ud83d\\ude00\"},"
        "\"s_empty\":{\"S\":\"\"},"
        "\"n_int\":{\"N\":\"-42\"},"
        "\"n_big\":{\"N\":\"12345678901234567890123456789012345678\"},"
        "\"n_frac\":{\"N\":\"3.14159\"},"
        "\"b\":{\"B\":\"AAEC/f7/\"},"
        "\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},"
        "\"null\":{\"NULL\":true},"
        "\"m\":{\"M\":{\"name\":{\"S\":\"x\"},\"inner\":{\"M\":{\"deep\":"
        "{\"M\":{\"n\":{\"N\":\"7\"},\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}"
        "]}}}}},\"empty\":{\"M\":{}}}},"
        "\"l\":{\"L\":[{\"S\":\"one\"},{\"N\":\"2\"},{\"BOOL\":false},"
        "{\"NULL\":true},{\"L\":[{\"L\":[]},{\"M\":{\"k\":{\"S\":\"v\"}}}]},"
        "{\"B\":\"3q2+7w==\"}]},"
        "\"ss\":{\"SS\":[\"red\",\"green\",\"blue\"]},"
        "\"ns\":{\"NS\":[\"1\",\"-2.5\",\"1000\"]},"
        "\"bs\":{\"BS\":[\"AQ==\",\"AgM=\"]}}");
    EXPECT(RESULT_OK, ddb_put_item(d, name, item, NULL, NULL, &err), err);

    cJSON *key = key_of("types#1", NULL);
    cJSON *got = get(d, name, key);
    assert_same_item(item, got);
    unsigned char *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(item_get_b(got, "b", &bytes, &len), RESULT_OK);
    static const unsigned char want_b[] = {0, 1, 2, 0xfd, 0xfe, 0xff};
    ck_assert_uint_eq(len, sizeof(want_b));
    ck_assert(memcmp(bytes, want_b, len) == 0);
    free(bytes);
    cJSON_Delete(got);

    /* An eventually consistent read sees it too (DynamoDB Local has one
     * copy). */
    got = NULL;
    EXPECT(RESULT_OK, ddb_get_item(d, name, key, 0, deadline(), &got, &err),
           err);
    cJSON_Delete(got);

    /* A missing item: NOT_FOUND, `*item` untouched. */
    cJSON *missing = key_of("types#none", NULL);
    got = &marker;
    EXPECT(RESULT_NOT_FOUND,
           ddb_get_item(d, name, missing, 1, deadline(), &got, &err), err);
    ck_assert_ptr_eq(got, &marker);

    /* A missing table: NOT_FOUND too, with the service's type. */
    got = NULL;
    EXPECT(
        RESULT_NOT_FOUND,
        ddb_get_item(d, "no_such_table_here", key, 1, deadline(), &got, &err),
        err);
    ck_assert_str_eq(err.type, "ResourceNotFoundException");

    cJSON_Delete(missing);
    cJSON_Delete(key);
    cJSON_Delete(item);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

/* An item just under 400 KB goes through; the limit is checked locally. */
START_TEST(put_largest_item)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "large");
    make_table(d, name, 0, 0);

    /* pk (2 + 5) + data (4 + n) = 409,600. */
    size_t n = ITEM_MAX_SIZE_BYTES - 11;
    char *big = malloc(n + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'z', n + 1);
    big[n] = '\0';
    cJSON *item = key_of("large", NULL);
    item_set_s(item, "data", big);
    EXPECT(RESULT_OK, ddb_put_item(d, name, item, NULL, NULL, &err), err);
    big[n] = 'z';
    big[n + 1] = '\0';
    item_set_s(item, "data", big);
    EXPECT(RESULT_INVALID_INPUT, ddb_put_item(d, name, item, NULL, NULL, &err),
           err);
    free(big);
    cJSON_Delete(item);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

START_TEST(conditional_put)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "cond");
    make_table(d, name, 1, 0);

    cJSON *first = key_of("REQ#1", "METADATA");
    item_set_s(first, "status", "PENDING");
    item_set_i64(first, "version", 1);
    struct ddb_write_opts o = {
        .condition = "attribute_not_exists(pk)",
        .return_old_on_condition_failure = 1,
        .deadline_ms = deadline(),
    };
    cJSON *attrs = &marker;
    EXPECT(RESULT_OK, ddb_put_item(d, name, first, &o, &attrs, &err), err);
    ck_assert_ptr_null(attrs);

    cJSON *second = key_of("REQ#1", "METADATA");
    item_set_s(second, "status", "OTHER");
    EXPECT(RESULT_CONDITION_FAILED,
           ddb_put_item(d, name, second, &o, &attrs, &err), err);
    ck_assert_str_eq(err.type, "ConditionalCheckFailedException");
    /* The item as it is comes back. */
    assert_same_item(first, attrs);
    cJSON_Delete(attrs);

    /* Without asking, nothing comes back. */
    o.return_old_on_condition_failure = 0;
    attrs = &marker;
    EXPECT(RESULT_CONDITION_FAILED,
           ddb_put_item(d, name, second, &o, &attrs, &err), err);
    ck_assert_ptr_null(attrs);

    /* An unconditional put with ALL_OLD returns what it replaced. */
    struct ddb_write_opts all_old = {.return_values = DDB_RETURN_ALL_OLD};
    EXPECT(RESULT_OK, ddb_put_item(d, name, second, &all_old, &attrs, &err),
           err);
    assert_same_item(first, attrs);
    cJSON_Delete(attrs);

    cJSON_Delete(first);
    cJSON_Delete(second);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

START_TEST(update_with_expressions)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "update");
    make_table(d, name, 1, 0);

    cJSON *key = key_of("REQ#2", "METADATA");
    cJSON *item = key_of("REQ#2", "METADATA");
    item_set_s(item, "status", "PENDING");
    item_set_i64(item, "version", 1);
    put(d, name, item);

    /* The status change of docs/data-model.md: old status and version as the
     * condition; `status` is a reserved word, hence #s. */
    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_name(&x, "#s", "status");
    ddb_expr_name(&x, "#v", "version");
    ddb_expr_name(&x, "#p", "progress");
    ddb_expr_value(&x, ":old", item_av_s("PENDING"));
    ddb_expr_value(&x, ":new", item_av_s("PROCESSING"));
    ddb_expr_value(&x, ":ver", item_av_i64(1));
    ddb_expr_value(&x, ":one", item_av_i64(1));
    ddb_expr_value(&x, ":p", item_av_m(parse("{\"pct\":{\"N\":\"10\"}}")));
    struct ddb_write_opts o = {
        .condition = "#s = :old AND #v = :ver",
        .expr = &x,
        .return_values = DDB_RETURN_ALL_NEW,
        .return_old_on_condition_failure = 1,
        .deadline_ms = deadline(),
    };
    const char *update = "SET #s = :new, #p = :p ADD #v :one";
    cJSON *attrs = NULL;
    EXPECT(RESULT_OK, ddb_update_item(d, name, key, update, &o, &attrs, &err),
           err);
    ck_assert_str_eq(item_get_s(attrs, "status"), "PROCESSING");
    ck_assert_str_eq(item_get_n(attrs, "version"), "2");
    ck_assert_str_eq(item_get_s(attrs, "pk"), "REQ#2");
    ck_assert_str_eq(item_get_n(item_get_m(attrs, "progress"), "pct"), "10");
    cJSON *now = get(d, name, key);
    assert_same_item(attrs, now);
    cJSON_Delete(attrs);

    /* The same change again is stale: CONDITION_FAILED, the current item
     * returned. */
    attrs = NULL;
    EXPECT(RESULT_CONDITION_FAILED,
           ddb_update_item(d, name, key, update, &o, &attrs, &err), err);
    assert_same_item(now, attrs);
    cJSON_Delete(attrs);
    cJSON_Delete(now);
    ddb_expr_cleanup(&x);

    /* UPDATED_OLD returns only the attributes changed, as they were. */
    ddb_expr_init(&x);
    ddb_expr_name(&x, "#s", "status");
    ddb_expr_value(&x, ":done", item_av_s("COMPLETED"));
    struct ddb_write_opts o2 = {.expr = &x,
                                .return_values = DDB_RETURN_UPDATED_OLD};
    attrs = NULL;
    EXPECT(RESULT_OK,
           ddb_update_item(d, name, key, "SET #s = :done", &o2, &attrs, &err),
           err);
    ck_assert_int_eq(cJSON_GetArraySize(attrs), 1);
    ck_assert_str_eq(item_get_s(attrs, "status"), "PROCESSING");
    cJSON_Delete(attrs);
    ddb_expr_cleanup(&x);

    cJSON_Delete(item);
    cJSON_Delete(key);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

START_TEST(delete_with_condition)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "delete");
    make_table(d, name, 1, 0);

    cJSON *key = key_of("CONN#9", "METADATA");
    cJSON *item = key_of("CONN#9", "METADATA");
    item_set_i64(item, "version", 3);
    put(d, name, item);

    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_name(&x, "#v", "version");
    ddb_expr_value(&x, ":v", item_av_i64(2));
    struct ddb_write_opts o = {.condition = "#v = :v",
                               .expr = &x,
                               .return_values = DDB_RETURN_ALL_OLD,
                               .return_old_on_condition_failure = 1};
    cJSON *attrs = NULL;
    EXPECT(RESULT_CONDITION_FAILED,
           ddb_delete_item(d, name, key, &o, &attrs, &err), err);
    assert_same_item(item, attrs);
    cJSON_Delete(attrs);
    cJSON *still = get(d, name, key);
    ck_assert_ptr_nonnull(still);
    cJSON_Delete(still);

    ddb_expr_value(&x, ":v", item_av_i64(3));
    attrs = NULL;
    EXPECT(RESULT_OK, ddb_delete_item(d, name, key, &o, &attrs, &err), err);
    assert_same_item(item, attrs);
    cJSON_Delete(attrs);
    ck_assert_ptr_null(get(d, name, key));

    /* Deleting what is not there is no error without a condition. */
    EXPECT(RESULT_OK, ddb_delete_item(d, name, key, NULL, NULL, &err), err);

    ddb_expr_cleanup(&x);
    cJSON_Delete(item);
    cJSON_Delete(key);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

/* ---- Queries ----------------------------------------------------------- */

/* Puts pk "P" with sk "00".."<n-1>", owner alice (even) or bob (odd). */
static void put_series(struct ddb *d, const char *table, int n)
{
    for (int i = 0; i < n; i++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "%02d", i);
        cJSON *item = key_of("P", sk);
        item_set_s(item, "owner", i % 2 ? "bob" : "alice");
        item_set_i64(item, "i", i);
        put(d, table, item);
        cJSON_Delete(item);
    }
}

/* Asserts that the items' sk values are `first`, `first + step`, ... */
static void assert_sks(const cJSON *items, int count, int first, int step)
{
    ck_assert_int_eq(cJSON_GetArraySize(items), count);
    for (int i = 0; i < count; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%02d", first + i * step);
        ck_assert_str_eq(item_get_s(cJSON_GetArrayItem(items, i), "sk"), want);
    }
}

START_TEST(query_pages_order_index)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "query");
    make_table(d, name, 1, 1);
    put_series(d, name, 10);

    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_value(&x, ":p", item_av_s("P"));
    struct ddb_query q = {.table = name,
                          .key_condition = "pk = :p",
                          .expr = &x,
                          .limit = 3,
                          .consistent = 1,
                          .deadline_ms = deadline()};

    /* One page of 3, then the next 3 from its LastEvaluatedKey. */
    struct ddb_page page;
    EXPECT(RESULT_OK, ddb_query_page(d, &q, &page, &err), err);
    assert_sks(page.items, 3, 0, 1);
    ck_assert_ptr_nonnull(page.last_evaluated_key);
    ck_assert_str_eq(item_get_s(page.last_evaluated_key, "sk"), "02");
    struct ddb_page next;
    q.exclusive_start_key = page.last_evaluated_key;
    EXPECT(RESULT_OK, ddb_query_page(d, &q, &next, &err), err);
    assert_sks(next.items, 3, 3, 1);
    ddb_page_cleanup(&next);
    ddb_page_cleanup(&page);
    ddb_page_cleanup(&page); /* twice is harmless */

    /* All of them, ascending, then descending, through pages of 3. */
    q.exclusive_start_key = NULL;
    cJSON *all = NULL;
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 0, &all, &err), err);
    assert_sks(all, 10, 0, 1);
    cJSON_Delete(all);
    q.descending = 1;
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 0, &all, &err), err);
    assert_sks(all, 10, 9, -1);
    cJSON_Delete(all);
    /* A cap: the first 4, descending. */
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 4, &all, &err), err);
    assert_sks(all, 4, 9, -1);
    cJSON_Delete(all);

    /* A sort-key condition and a filter. */
    ddb_expr_value(&x, ":from", item_av_s("05"));
    ddb_expr_name(&x, "#i", "i");
    ddb_expr_value(&x, ":odd", item_av_i64(7));
    q.key_condition = "pk = :p AND sk >= :from";
    q.filter = "#i <> :odd";
    q.descending = 0;
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 0, &all, &err), err);
    ck_assert_int_eq(cJSON_GetArraySize(all), 4); /* 05 06 08 09 */
    ck_assert_str_eq(item_get_s(cJSON_GetArrayItem(all, 2), "sk"), "08");
    cJSON_Delete(all);
    ddb_expr_cleanup(&x);

    /* The GSI: bob's items, by sk. GSIs have no consistent reads. */
    ddb_expr_init(&x);
    ddb_expr_name(&x, "#o", "owner");
    ddb_expr_value(&x, ":o", item_av_s("bob"));
    struct ddb_query gq = {.table = name,
                           .index = "by-owner",
                           .key_condition = "#o = :o",
                           .expr = &x,
                           .limit = 2,
                           .deadline_ms = deadline()};
    EXPECT(RESULT_OK, ddb_query_all(d, &gq, 0, &all, &err), err);
    assert_sks(all, 5, 1, 2);
    cJSON_Delete(all);
    gq.descending = 1;
    EXPECT(RESULT_OK, ddb_query_page(d, &gq, &page, &err), err);
    assert_sks(page.items, 2, 9, -2);
    ck_assert_ptr_nonnull(page.last_evaluated_key);
    /* An index's LastEvaluatedKey holds the table's key and the index's. */
    ck_assert_ptr_nonnull(item_get_s(page.last_evaluated_key, "owner"));
    ck_assert_ptr_nonnull(item_get_s(page.last_evaluated_key, "pk"));
    ddb_page_cleanup(&page);

    /* A query on a missing index is the service's ValidationException. */
    gq.index = "no-such-index";
    EXPECT(RESULT_INVALID_INPUT, ddb_query_page(d, &gq, &page, &err), err);
    ck_assert_ptr_null(page.items);
    ddb_expr_cleanup(&x);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

/*
 * DynamoDB API Reference, Query: "A single Query operation will read up
 * to the maximum number of items set (if using the Limit parameter) or a
 * maximum of 1 MB of data". 30 items of ~60 KB are 1.8 MB.
 */
START_TEST(query_over_one_megabyte)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "big");
    make_table(d, name, 1, 0);

    enum { COUNT = 30, BYTES = 60 * 1024 };
    char *fill = malloc(BYTES + 1);
    ck_assert_ptr_nonnull(fill);
    memset(fill, 'q', BYTES);
    fill[BYTES] = '\0';
    cJSON *reqs = cJSON_CreateArray();
    for (int i = 0; i < COUNT; i++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "%02d", i);
        cJSON *item = key_of("BIG", sk);
        item_set_s(item, "fill", fill);
        cJSON *put_rq = cJSON_CreateObject();
        cJSON_AddItemToObject(put_rq, "Item", item);
        cJSON *rq = cJSON_CreateObject();
        cJSON_AddItemToObject(rq, "PutRequest", put_rq);
        cJSON_AddItemToArray(reqs, rq);
    }
    free(fill);
    EXPECT(RESULT_OK, ddb_batch_write(d, name, reqs, deadline(), &err), err);
    cJSON_Delete(reqs);

    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_value(&x, ":p", item_av_s("BIG"));
    struct ddb_query q = {.table = name,
                          .key_condition = "pk = :p",
                          .expr = &x,
                          .consistent = 1,
                          .deadline_ms = deadline()};
    struct ddb_page page;
    EXPECT(RESULT_OK, ddb_query_page(d, &q, &page, &err), err);
    int first_page = cJSON_GetArraySize(page.items);
    ck_assert_int_gt(first_page, 0);
    ck_assert_int_lt(first_page, COUNT);
    ck_assert_ptr_nonnull(page.last_evaluated_key);
    ddb_page_cleanup(&page);

    cJSON *all = NULL;
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 0, &all, &err), err);
    assert_sks(all, COUNT, 0, 1);
    ck_assert_uint_eq(strlen(item_get_s(cJSON_GetArrayItem(all, 29), "fill")),
                      BYTES);
    cJSON_Delete(all);
    ddb_expr_cleanup(&x);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

/* ---- Batches and transactions ------------------------------------------ */

static cJSON *write_request(const char *kind, const char *what, cJSON *attrs)
{
    cJSON *inner = cJSON_CreateObject();
    cJSON_AddItemToObject(inner, what, attrs);
    cJSON *rq = cJSON_CreateObject();
    cJSON_AddItemToObject(rq, kind, inner);
    return rq;
}

START_TEST(batch_write_and_delete)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "batch");
    make_table(d, name, 1, 0);

    enum { COUNT = 100 };
    cJSON *puts = cJSON_CreateArray(), *dels = cJSON_CreateArray();
    for (int i = 0; i < COUNT; i++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "%03d", i);
        cJSON *item = key_of("B", sk);
        item_set_i64(item, "n", i);
        cJSON_AddItemToArray(puts, write_request("PutRequest", "Item", item));
        cJSON_AddItemToArray(
            dels, write_request("DeleteRequest", "Key", key_of("B", sk)));
    }
    EXPECT(RESULT_OK, ddb_batch_write(d, name, puts, deadline(), &err), err);

    for (int i = 0; i < COUNT; i++) {
        cJSON *want = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(puts, i), "PutRequest"),
            "Item");
        cJSON *key = key_of("B", item_get_s(want, "sk"));
        cJSON *got = get(d, name, key);
        assert_same_item(want, got);
        cJSON_Delete(got);
        cJSON_Delete(key);
    }
    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_value(&x, ":p", item_av_s("B"));
    struct ddb_query q = {.table = name,
                          .key_condition = "pk = :p",
                          .expr = &x,
                          .consistent = 1,
                          .deadline_ms = deadline()};
    cJSON *all = NULL;
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 0, &all, &err), err);
    ck_assert_int_eq(cJSON_GetArraySize(all), COUNT);
    cJSON_Delete(all);

    /* Deletes, mixed with one put in the same batch. */
    cJSON_AddItemToArray(
        dels, write_request("PutRequest", "Item", key_of("B", "kept")));
    EXPECT(RESULT_OK, ddb_batch_write(d, name, dels, deadline(), &err), err);
    EXPECT(RESULT_OK, ddb_query_all(d, &q, 0, &all, &err), err);
    ck_assert_int_eq(cJSON_GetArraySize(all), 1);
    ck_assert_str_eq(item_get_s(cJSON_GetArrayItem(all, 0), "sk"), "kept");
    cJSON_Delete(all);

    /* Two writes of one key in one call are the service's
     * ValidationException. */
    cJSON *dup = cJSON_CreateArray();
    cJSON_AddItemToArray(dup,
                         write_request("PutRequest", "Item", key_of("B", "x")));
    cJSON_AddItemToArray(
        dup, write_request("DeleteRequest", "Key", key_of("B", "x")));
    EXPECT(RESULT_INVALID_INPUT,
           ddb_batch_write(d, name, dup, deadline(), &err), err);
    cJSON_Delete(dup);

    ddb_expr_cleanup(&x);
    cJSON_Delete(puts);
    cJSON_Delete(dels);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

START_TEST(transact_write)
{
    struct ddb *d = client();
    struct error_info err;
    char name[NAME_BYTES];
    ddb_local_table_name(name, sizeof(name), "txn");
    make_table(d, name, 1, 0);

    char text[2048];
    snprintf(text, sizeof(text),
             "[{\"Put\":{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"T\"},"
             "\"sk\":{\"S\":\"a\"}},\"ConditionExpression\":"
             "\"attribute_not_exists(pk)\"}},"
             "{\"Put\":{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"T\"},"
             "\"sk\":{\"S\":\"b\"},\"n\":{\"N\":\"1\"}}}}]",
             name, name);
    cJSON *ok = parse(text);
    EXPECT(RESULT_OK,
           ddb_transact_write(d, ok, "txn-token-1", deadline(), &err), err);
    cJSON *ka = key_of("T", "a"), *kb = key_of("T", "b"),
          *kc = key_of("T", "c");
    cJSON *got = get(d, name, ka);
    ck_assert_ptr_nonnull(got);
    cJSON_Delete(got);
    got = get(d, name, kb);
    ck_assert_ptr_nonnull(got);
    cJSON_Delete(got);
    /* The same token and items again: idempotent, still OK. */
    EXPECT(RESULT_OK,
           ddb_transact_write(d, ok, "txn-token-1", deadline(), &err), err);

    /* A new item, an update, and a check that fails: nothing is written. */
    snprintf(text, sizeof(text),
             "[{\"Put\":{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"T\"},"
             "\"sk\":{\"S\":\"c\"}}}},"
             "{\"Update\":{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"T\"},"
             "\"sk\":{\"S\":\"b\"}},\"UpdateExpression\":\"SET n = :two\","
             "\"ExpressionAttributeValues\":{\":two\":{\"N\":\"2\"}}}},"
             "{\"ConditionCheck\":{\"TableName\":\"%s\",\"Key\":{\"pk\":"
             "{\"S\":\"T\"},\"sk\":{\"S\":\"zzz\"}},\"ConditionExpression\":"
             "\"attribute_exists(pk)\"}}]",
             name, name, name);
    cJSON *bad = parse(text);
    EXPECT(RESULT_CONDITION_FAILED,
           ddb_transact_write(d, bad, NULL, deadline(), &err), err);
    ck_assert_str_eq(err.type, "TransactionCanceledException");
    ck_assert_str_eq(err.field, "TransactItems[2]");
    ck_assert_msg(strstr(err.message, "ConditionalCheckFailed") &&
                      strstr(err.message, "None"),
                  "message: %s", err.message);
    ck_assert_ptr_null(get(d, name, kc));
    got = get(d, name, kb);
    ck_assert_str_eq(item_get_n(got, "n"), "1");
    cJSON_Delete(got);

    cJSON_Delete(ka);
    cJSON_Delete(kb);
    cJSON_Delete(kc);
    cJSON_Delete(ok);
    cJSON_Delete(bad);
    drop_table(d, name);
    ddb_free(d);
}
END_TEST

Suite *ddb_suite(void)
{
    Suite *s = suite_create("ddb");
    TCase *tc = tcase_create("tables");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, table_lifecycle);
    tcase_add_test(tc, describe_missing);
    suite_add_tcase(s, tc);

    tc = tcase_create("items");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, put_get_every_type);
    tcase_add_test(tc, put_largest_item);
    tcase_add_test(tc, conditional_put);
    tcase_add_test(tc, update_with_expressions);
    tcase_add_test(tc, delete_with_condition);
    suite_add_tcase(s, tc);

    tc = tcase_create("queries");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, query_pages_order_index);
    tcase_add_test(tc, query_over_one_megabyte);
    suite_add_tcase(s, tc);

    tc = tcase_create("batches");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, batch_write_and_delete);
    tcase_add_test(tc, transact_write);
    suite_add_tcase(s, tc);
    return s;
}

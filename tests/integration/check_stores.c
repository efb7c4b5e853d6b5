/* Tests of the three stores and their tables against DynamoDB Local. */
#include <check.h>
#include <openssl/evp.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws_int.h"
#include "clock.h"
#include "connections.h"
#include "ddb_admin.h"
#include "ddb_local.h"
#include "ddb_proxy.h"
#include "item.h"
#include "requests.h"
#include "store.h"
#include "subscriptions.h"
#include "tables.h"
#include "xmalloc.h"

#define NAME_BYTES 96
#define CALL_MS 30000 /* per call: DynamoDB Local on a loaded machine */
/* The stores' test clock starts here: 2030-01-01T00:00:00.000Z, in the
 * future, so no TTL sweep could ever touch what a test writes. */
#define T0_MS INT64_C(1893456000000)
#define T0_TEXT "2030-01-01T00:00:00.000Z"

static const struct sigv4_credentials fake_creds = {
    "AKIDLOCAL", "local/secret/any/value/works", NULL};

/* The stores' clock: `fake_ms`, or the real one when it is 0. */
static int64_t fake_ms;
/* How often the client read its clock: it does at least once per HTTP
 * attempt, so an unchanged count proves that no call was made. */
static long clock_reads;
static struct ddb *ddb;
static struct store st;

static int64_t store_clock(void)
{
    return fake_ms ? fake_ms : clock_now_ms();
}

static int64_t counting_clock(void *ctx)
{
    (void)ctx;
    clock_reads++;
    return clock_now_ms();
}

static int64_t deadline(void)
{
    return clock_now_ms() + CALL_MS;
}

/* Moves the stores' clock on by a second, so writes are told apart. */
static void tick(void)
{
    fake_ms += 1000;
}

static void ts_of(int64_t ms, char out[CLOCK_RFC3339_SIZE])
{
    clock_rfc3339(ms, out);
}

/* Fails the test with the call's error when `r` is not `want`. */
#define EXPECT(want, r, err)                                                   \
    do {                                                                       \
        enum result got_ = (r);                                                \
        ck_assert_msg(got_ == (want), "line %d: got %s, want %s: %s %s",       \
                      __LINE__, result_str(got_), result_str(want),            \
                      (err).type, (err).message);                              \
    } while (0)

/* `call` must be RESULT_INVALID_INPUT naming `field`, without any call
 * to DynamoDB. Uses the caller's `err`. */
#define EXPECT_INVALID(field_, call_)                                          \
    do {                                                                       \
        error_clear(&err);                                                     \
        long reads_ = clock_reads;                                             \
        enum result got_ = (call_);                                            \
        ck_assert_msg(got_ == RESULT_INVALID_INPUT,                            \
                      "line %d: got %s, want invalid input naming %s: %s",     \
                      __LINE__, result_str(got_), (field_), err.message);      \
        ck_assert_msg(strcmp(err.field, (field_)) == 0,                        \
                      "line %d: err.field is '%s', want '%s'", __LINE__,       \
                      err.field, (field_));                                    \
        ck_assert_msg(clock_reads == reads_,                                   \
                      "line %d: a call was made for invalid input", __LINE__); \
    } while (0)

/* When set, the tests' client goes through this proxy (it counts calls). */
static struct ddb_proxy *proxy;

/* A client of its own; NULL on failure (no assertion: forked children
 * use it too). */
static struct ddb *new_client(void)
{
    const char *url = proxy ? ddb_proxy_url(proxy) : ddb_local_endpoint();
    if (!url)
        return NULL;
    struct ddb_config cfg = {url, "us-east-1", &fake_creds};
    struct ddb *d = NULL;
    struct error_info err;
    return ddb_new(&cfg, &d, &err) == RESULT_OK ? d : NULL;
}

/* Per test: a client, fresh tables under unique names, the test clock. */
static void setup(void)
{
    ck_assert_msg(ddb_local_endpoint() != NULL,
                  "DynamoDB Local is not running");
    ddb = new_client();
    ck_assert_msg(ddb != NULL, "cannot create a DynamoDB client");
    struct retry_hooks hooks = {counting_clock, NULL, NULL, NULL};
    aws_client_set_hooks(ddb_aws(ddb), &hooks);
    char c[NAME_BYTES], r[NAME_BYTES], s[NAME_BYTES];
    ddb_local_table_name(c, sizeof(c), "connections");
    ddb_local_table_name(r, sizeof(r), "requests");
    ddb_local_table_name(s, sizeof(s), "subscriptions");
    store_init(&st, ddb, c, r, s);
    fake_ms = T0_MS;
    st.now_ms = store_clock;
    struct error_info err;
    EXPECT(RESULT_OK, tables_create_all(&st, deadline(), &err), err);
}

static void teardown(void)
{
    struct error_info err;
    EXPECT(RESULT_OK, tables_delete_all(&st, deadline(), &err), err);
    store_cleanup(&st);
    ddb_free(ddb);
    ddb = NULL;
}

/* As setup(), with the client behind a counting proxy. */
static void setup_proxied(void)
{
    ck_assert_msg(ddb_local_endpoint() != NULL,
                  "DynamoDB Local is not running");
    proxy = ddb_proxy_start();
    ck_assert_ptr_nonnull(proxy);
    setup();
}

static void teardown_proxied(void)
{
    teardown();
    ddb_proxy_stop(proxy);
    proxy = NULL;
}

/* ---- JSON and item helpers ---------------------------------------------- */

static cJSON *parse(const char *text)
{
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    return json;
}

static char *number_text(const cJSON *j)
{
    return cJSON_IsRaw(j) ? xstrdup(j->valuestring) : cJSON_PrintUnformatted(j);
}

/* Equal as JSON: members in any order, a Raw number equal to a number
 * of the same text (the stores give numbers back as Raw, exactly). */
static int json_same(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    int an = cJSON_IsNumber(a) || cJSON_IsRaw(a);
    int bn = cJSON_IsNumber(b) || cJSON_IsRaw(b);
    if (an || bn) {
        char *x = an ? number_text(a) : NULL, *y = bn ? number_text(b) : NULL;
        int same = x && y && strcmp(x, y) == 0;
        free(x);
        free(y);
        return same;
    }
    if ((a->type & 0xff) != (b->type & 0xff))
        return 0;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
        return 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x; x = x->next, y = y ? y->next : NULL)
        if (!json_same(x, cJSON_IsObject(a)
                              ? cJSON_GetObjectItemCaseSensitive(b, x->string)
                              : y))
            return 0;
    return 1;
}

#define ASSERT_JSON_SAME(want, got)                                            \
    do {                                                                       \
        char *w_ = cJSON_PrintUnformatted(want);                               \
        char *g_ = cJSON_PrintUnformatted(got);                                \
        ck_assert_msg(json_same((want), (got)), "line %d: want %s, got %s",    \
                      __LINE__, w_ ? w_ : "NULL", g_ ? g_ : "NULL");           \
        free(w_);                                                              \
        free(g_);                                                              \
    } while (0)

/* The stored item, or NULL when there is none; read behind the store. */
static cJSON *raw_item(const char *table, const char *pk, const char *sk)
{
    cJSON *key = store_key(pk, sk), *item = NULL;
    struct error_info err;
    enum result r = ddb_get_item(ddb, table, key, 1, deadline(), &item, &err);
    cJSON_Delete(key);
    ck_assert_msg(r == RESULT_OK || r == RESULT_NOT_FOUND, "GetItem: %s %s",
                  result_str(r), err.message);
    return item;
}

static cJSON *raw_conn(const char *id)
{
    char pk[256];
    snprintf(pk, sizeof(pk), "CONN#%s", id);
    return raw_item(st.connections_table, pk, "METADATA");
}

/*
 * Request ids are unique per user: the user who enqueued each id in this
 * test, as req_fill() saw it, so that helpers reading by id find the
 * right one. An id never filled belongs to "user-1". The tenant of every
 * request here is TENANT.
 */
#define TENANT "tenant-1"
static struct {
    char id[STORE_MAX_ID_BYTES + 1];
    char user[STORE_MAX_ID_BYTES + 1];
} owners[512];
static int owner_count;

static void remember_owner(const char *id, const char *user)
{
    if (!id || !user || strlen(id) > STORE_MAX_ID_BYTES ||
        strlen(user) > STORE_MAX_ID_BYTES || owner_count == 512)
        return;
    snprintf(owners[owner_count].id, sizeof(owners[0].id), "%s", id);
    snprintf(owners[owner_count].user, sizeof(owners[0].user), "%s", user);
    owner_count++;
}

static const char *owner_of(const char *id)
{
    for (int i = owner_count - 1; i >= 0; i--)
        if (strcmp(owners[i].id, id) == 0)
            return owners[i].user;
    return "user-1";
}

/* The key the stores give the request `id` of `user` (TENANT's). */
static void request_key_of(const char *user, const char *id, char *out)
{
    struct error_info err;
    EXPECT(RESULT_OK, store_request_key(TENANT, user, id, out, &err), err);
}

static cJSON *raw_req_of(const char *user, const char *id)
{
    char key[STORE_REQUEST_KEY_SIZE], pk[STORE_REQUEST_KEY_SIZE + 8];
    request_key_of(user, id, key);
    snprintf(pk, sizeof(pk), "REQ#%s", key);
    return raw_item(st.requests_table, pk, "METADATA");
}

static cJSON *raw_req(const char *id)
{
    return raw_req_of(owner_of(id), id);
}

static cJSON *raw_sub_of(const char *connection_id, const char *user,
                         const char *request_id)
{
    char key[STORE_REQUEST_KEY_SIZE], pk[256], sk[STORE_REQUEST_KEY_SIZE + 8];
    request_key_of(user, request_id, key);
    snprintf(pk, sizeof(pk), "CONN#%s", connection_id);
    snprintf(sk, sizeof(sk), "SUB#%s", key);
    return raw_item(st.subscriptions_table, pk, sk);
}

static cJSON *raw_sub(const char *connection_id, const char *request_id)
{
    return raw_sub_of(connection_id, owner_of(request_id), request_id);
}

/* req_get() of the request `id` of its owner. */
static enum result get_req(const char *id, struct request *out,
                           struct error_info *err)
{
    return req_get(&st, TENANT, owner_of(id), id, out, deadline(), err);
}

/* Asserts that the item read now equals `before`; frees `before`. */
static void assert_unchanged(cJSON *before, cJSON *now)
{
    ck_assert_ptr_nonnull(before);
    ASSERT_JSON_SAME(before, now);
    cJSON_Delete(before);
    cJSON_Delete(now);
}

static int64_t raw_n(const cJSON *item, const char *name)
{
    int64_t v = -1;
    ck_assert_msg(item_get_i64(item, name, &v) == RESULT_OK,
                  "attribute %s is not a number", name);
    return v;
}

static const char *raw_s(const cJSON *item, const char *name)
{
    const char *v = item_get_s(item, name);
    ck_assert_msg(v != NULL, "attribute %s is not a string", name);
    return v;
}

/* ---- Store helpers ------------------------------------------------------- */

static void conn_fill(struct connection *c, const char *id, const char *user,
                      const char *tenant)
{
    memset(c, 0, sizeof(*c));
    c->connection_id = xstrdup(id);
    c->user_id = xstrdup(user);
    c->tenant_id = xstrdup(tenant);
    c->endpoint = xstrdup("abc123.execute-api.us-east-1.amazonaws.com/prod");
}

static void save_conn(const char *id, const char *user, const char *tenant)
{
    struct connection c;
    struct error_info err;
    conn_fill(&c, id, user, tenant);
    EXPECT(RESULT_OK, conn_save(&st, &c, deadline(), &err), err);
    conn_cleanup(&c);
}

static void req_fill(struct request *r, const char *id, const char *conn,
                     const char *user)
{
    memset(r, 0, sizeof(*r));
    r->request_id = id ? xstrdup(id) : NULL;
    r->connection_id = xstrdup(conn);
    r->user_id = xstrdup(user);
    r->tenant_id = xstrdup(TENANT);
    r->action = xstrdup("long.task");
    remember_owner(id, user);
}

static void enqueue(struct request *r, const char *id, const char *conn,
                    const char *user)
{
    struct error_info err;
    req_fill(r, id, conn, user);
    EXPECT(RESULT_OK, req_enqueue(&st, r, deadline(), &err), err);
    remember_owner(r->request_id, user);
}

static void move(struct request *r, enum req_status to)
{
    struct error_info err;
    EXPECT(RESULT_OK, req_update_status(&st, r, to, deadline(), &err), err);
}

static void subscribe(const char *conn, const char *req, unsigned events)
{
    struct subscription s = {0};
    struct error_info err;
    s.connection_id = xstrdup(conn);
    s.request_id = xstrdup(req);
    s.tenant_id = xstrdup(TENANT);
    s.user_id = xstrdup(owner_of(req));
    s.event_types = events;
    EXPECT(RESULT_OK, sub_subscribe(&st, &s, deadline(), &err), err);
    sub_cleanup(&s);
}

/* ---- Tables -------------------------------------------------------------- */

/* Asserts `ks` is exactly [hash HASH (, range RANGE)]. */
static void assert_key_schema(const cJSON *ks, const char *hash,
                              const char *range, const char *what)
{
    ck_assert_msg(cJSON_GetArraySize(ks) == (range ? 2 : 1),
                  "%s: key schema size", what);
    for (const cJSON *k = ks->child; k; k = k->next) {
        const char *name = cJSON_GetObjectItem(k, "AttributeName")->valuestring;
        const char *type = cJSON_GetObjectItem(k, "KeyType")->valuestring;
        int hash_key = strcmp(type, "HASH") == 0;
        ck_assert_msg(hash_key || strcmp(type, "RANGE") == 0, "%s: %s", what,
                      type);
        ck_assert_msg(strcmp(name, hash_key ? hash : range) == 0,
                      "%s: %s key is %s", what, type, name);
    }
}

/*
 * Asserts the table's description: pk/sk, PAY_PER_REQUEST, exactly the
 * GSIs `gsis` ({name, hash, range-or-NULL}...; NULL-terminated) projecting
 * ALL, string definitions of exactly `attrs`, the stream (or none), TTL.
 */
static void assert_table(const char *table, const char *const (*gsis)[3],
                         const char *const *attrs, int stream)
{
    struct error_info err;
    cJSON *t = NULL;
    EXPECT(RESULT_OK, ddb_describe_table(ddb, table, deadline(), &t, &err),
           err);
    assert_key_schema(cJSON_GetObjectItem(t, "KeySchema"), "pk", "sk", table);
    const cJSON *bm = cJSON_GetObjectItem(
        cJSON_GetObjectItem(t, "BillingModeSummary"), "BillingMode");
    ck_assert_msg(cJSON_IsString(bm) &&
                      strcmp(bm->valuestring, "PAY_PER_REQUEST") == 0,
                  "%s is not PAY_PER_REQUEST", table);
    const cJSON *defs = cJSON_GetObjectItem(t, "AttributeDefinitions");
    int n = 0;
    for (; attrs[n]; n++) {
        int found = 0;
        for (const cJSON *d = defs->child; d; d = d->next)
            if (strcmp(cJSON_GetObjectItem(d, "AttributeName")->valuestring,
                       attrs[n]) == 0) {
                found = 1;
                ck_assert_str_eq(
                    cJSON_GetObjectItem(d, "AttributeType")->valuestring, "S");
            }
        ck_assert_msg(found, "%s: no definition of %s", table, attrs[n]);
    }
    ck_assert_int_eq(cJSON_GetArraySize(defs), n);
    const cJSON *idx = cJSON_GetObjectItem(t, "GlobalSecondaryIndexes");
    int want = 0;
    for (; gsis[want][0]; want++) {
        const cJSON *g = NULL;
        for (const cJSON *x = idx ? idx->child : NULL; x; x = x->next)
            if (strcmp(cJSON_GetObjectItem(x, "IndexName")->valuestring,
                       gsis[want][0]) == 0)
                g = x;
        ck_assert_msg(g != NULL, "%s: no index %s", table, gsis[want][0]);
        assert_key_schema(cJSON_GetObjectItem(g, "KeySchema"), gsis[want][1],
                          gsis[want][2], gsis[want][0]);
        ck_assert_str_eq(
            cJSON_GetObjectItem(cJSON_GetObjectItem(g, "Projection"),
                                "ProjectionType")
                ->valuestring,
            "ALL");
    }
    ck_assert_msg(cJSON_GetArraySize(idx) == want, "%s: %d indexes, want %d",
                  table, cJSON_GetArraySize(idx), want);
    const cJSON *spec = cJSON_GetObjectItem(t, "StreamSpecification");
    const cJSON *on = cJSON_GetObjectItem(spec, "StreamEnabled");
    if (stream) {
        ck_assert_msg(cJSON_IsTrue(on), "%s has no stream", table);
        ck_assert_str_eq(
            cJSON_GetObjectItem(spec, "StreamViewType")->valuestring,
            "NEW_IMAGE");
        ck_assert_ptr_nonnull(cJSON_GetObjectItem(t, "LatestStreamArn"));
    } else {
        ck_assert_msg(!spec || !cJSON_IsTrue(on), "%s has a stream", table);
    }
    cJSON_Delete(t);

    char text[256];
    snprintf(text, sizeof(text), "{\"TableName\":\"%s\"}", table);
    cJSON *req = parse(text), *resp = NULL;
    EXPECT(RESULT_OK,
           ddb_call(ddb, "DescribeTimeToLive", req, deadline(), &resp, &err),
           err);
    const cJSON *ttl = cJSON_GetObjectItem(resp, "TimeToLiveDescription");
    ck_assert_str_eq(cJSON_GetObjectItem(ttl, "TimeToLiveStatus")->valuestring,
                     "ENABLED");
    ck_assert_str_eq(cJSON_GetObjectItem(ttl, "AttributeName")->valuestring,
                     "ttl");
    cJSON_Delete(resp);
    cJSON_Delete(req);
}

static void assert_all_tables(void)
{
    static const char *const conn_gsis[][3] = {
        {"user-index", "user_id", "connected_at"},
        {"tenant-index", "tenant_id", "connected_at"},
        {NULL, NULL, NULL}};
    static const char *const conn_attrs[] = {
        "pk", "sk", "user_id", "tenant_id", "connected_at", NULL};
    static const char *const req_gsis[][3] = {
        {"connection-index", "connection_id", "created_at"},
        {"status-index", "status", "created_at"},
        {"user-index", "user_id", "created_at"},
        {NULL, NULL, NULL}};
    static const char *const req_attrs[] = {
        "pk", "sk", "connection_id", "status", "user_id", "created_at", NULL};
    static const char *const sub_gsis[][3] = {
        {"request-index", "request_key", NULL}, {NULL, NULL, NULL}};
    static const char *const sub_attrs[] = {"pk", "sk", "request_key", NULL};
    assert_table(st.connections_table, conn_gsis, conn_attrs, 0);
    assert_table(st.requests_table, req_gsis, req_attrs, 1);
    assert_table(st.subscriptions_table, sub_gsis, sub_attrs, 0);
}

START_TEST(tables_schema_and_idempotence)
{
    struct error_info err;
    assert_all_tables();

    /* Again, with data in them: OK, and the data is left alone. */
    save_conn("keep-me", "user-1", "tenant-1");
    cJSON *before = raw_conn("keep-me");
    EXPECT(RESULT_OK, tables_create_all(&st, deadline(), &err), err);
    assert_unchanged(before, raw_conn("keep-me"));
    assert_all_tables();

    EXPECT(RESULT_OK, tables_delete_all(&st, deadline(), &err), err);
    const char *names[] = {st.connections_table, st.requests_table,
                           st.subscriptions_table};
    for (int i = 0; i < 3; i++) {
        cJSON *t = NULL;
        EXPECT(RESULT_NOT_FOUND,
               ddb_describe_table(ddb, names[i], deadline(), &t, &err), err);
    }
    /* Missing tables are not an error (the teardown deletes again). */
    EXPECT(RESULT_OK, tables_delete_all(&st, deadline(), &err), err);
}
END_TEST

/* ---- Connections ----------------------------------------------------------
 */

static void assert_conn_eq(const struct connection *want,
                           const struct connection *got)
{
    ck_assert_str_eq(got->connection_id, want->connection_id);
    ck_assert_str_eq(got->user_id, want->user_id);
    ck_assert_str_eq(got->tenant_id, want->tenant_id);
    ck_assert_str_eq(got->endpoint, want->endpoint);
    ck_assert_str_eq(got->connected_at, want->connected_at);
    ck_assert_str_eq(got->last_ping, want->last_ping);
    ck_assert_str_eq(got->created_at, want->created_at);
    ck_assert_str_eq(got->updated_at, want->updated_at);
    ck_assert_int_eq(got->version, want->version);
    ck_assert_int_eq(got->ttl, want->ttl);
    /* No metadata is stored as an empty map. */
    cJSON *empty = cJSON_CreateObject();
    ASSERT_JSON_SAME(want->metadata ? want->metadata : empty,
                     got->metadata ? got->metadata : empty);
    cJSON_Delete(empty);
}

START_TEST(conn_save_get_delete)
{
    struct error_info err;
    struct connection c, got;
    conn_fill(&c, "conn-\xc3\xa9t\xc3\xa9", "user-1", "tenant-1");
    c.metadata = parse("{\"source\":\"web\",\"lang\":\"fr-FR\","
                       "\"agent\":\"caf\\u00e9 \\u2603\",\"empty\":\"\"}");
    EXPECT(RESULT_OK, conn_save(&st, &c, deadline(), &err), err);
    ck_assert_str_eq(c.created_at, T0_TEXT);
    ck_assert_str_eq(c.updated_at, T0_TEXT);
    ck_assert_str_eq(c.connected_at, T0_TEXT);
    ck_assert_str_eq(c.last_ping, T0_TEXT);
    ck_assert_int_eq(c.version, 1);
    ck_assert_int_eq(c.ttl, T0_MS / 1000 + 24 * 3600);

    EXPECT(RESULT_OK, conn_get(&st, c.connection_id, &got, deadline(), &err),
           err);
    assert_conn_eq(&c, &got);
    conn_cleanup(&got);

    /* The same id again: already exists, the stored item unchanged. */
    tick();
    struct connection dup;
    conn_fill(&dup, c.connection_id, "user-2", "tenant-2");
    cJSON *before = raw_conn(c.connection_id);
    EXPECT(RESULT_ALREADY_EXISTS, conn_save(&st, &dup, deadline(), &err), err);
    assert_unchanged(before, raw_conn(c.connection_id));
    conn_cleanup(&dup);

    /* A caller's connected_at is kept; no metadata reads back empty. */
    struct connection d2;
    conn_fill(&d2, "conn-2", "user-1", "tenant-1");
    snprintf(d2.connected_at, sizeof(d2.connected_at), "%s",
             "2029-12-31T23:59:59.999Z");
    EXPECT(RESULT_OK, conn_save(&st, &d2, deadline(), &err), err);
    EXPECT(RESULT_OK, conn_get(&st, "conn-2", &got, deadline(), &err), err);
    ck_assert_str_eq(got.connected_at, "2029-12-31T23:59:59.999Z");
    ck_assert_str_ne(got.created_at, T0_TEXT);
    ck_assert(got.metadata == NULL || cJSON_GetArraySize(got.metadata) == 0);
    conn_cleanup(&got);
    conn_cleanup(&d2);

    EXPECT(RESULT_NOT_FOUND, conn_get(&st, "conn-none", &got, deadline(), &err),
           err);
    EXPECT(RESULT_OK, conn_delete(&st, c.connection_id, deadline(), &err), err);
    EXPECT(RESULT_NOT_FOUND,
           conn_get(&st, c.connection_id, &got, deadline(), &err), err);
    ck_assert_ptr_null(raw_conn(c.connection_id));
    EXPECT(RESULT_NOT_FOUND,
           conn_delete(&st, c.connection_id, deadline(), &err), err);
    /* The other one is still there. */
    cJSON *other = raw_conn("conn-2");
    ck_assert_ptr_nonnull(other);
    cJSON_Delete(other);
    conn_cleanup(&c);
}
END_TEST

START_TEST(conn_ping_versions)
{
    struct error_info err;
    struct connection c, stale, got;
    conn_fill(&c, "conn-p", "user-1", "tenant-1");
    EXPECT(RESULT_OK, conn_save(&st, &c, deadline(), &err), err);
    EXPECT(RESULT_OK, conn_get(&st, "conn-p", &stale, deadline(), &err), err);

    fake_ms = T0_MS + 90000;
    char t1[CLOCK_RFC3339_SIZE];
    ts_of(fake_ms, t1);
    EXPECT(RESULT_OK, conn_update_last_ping(&st, &c, deadline(), &err), err);
    ck_assert_int_eq(c.version, 2);
    ck_assert_str_eq(c.last_ping, t1);
    ck_assert_str_eq(c.updated_at, t1);
    ck_assert_int_eq(c.ttl, fake_ms / 1000 + 24 * 3600);
    EXPECT(RESULT_OK, conn_get(&st, "conn-p", &got, deadline(), &err), err);
    assert_conn_eq(&c, &got);
    ck_assert_str_eq(got.created_at, T0_TEXT);   /* set once */
    ck_assert_str_eq(got.connected_at, T0_TEXT); /* untouched */
    conn_cleanup(&got);

    /* A write from version 1 now: condition failed, item unchanged. */
    tick();
    cJSON *before = raw_conn("conn-p");
    EXPECT(RESULT_CONDITION_FAILED,
           conn_update_last_ping(&st, &stale, deadline(), &err), err);
    ck_assert_int_eq(stale.version, 1);
    assert_unchanged(before, raw_conn("conn-p"));

    /* And again from the current version: 3. */
    EXPECT(RESULT_OK, conn_update_last_ping(&st, &c, deadline(), &err), err);
    ck_assert_int_eq(c.version, 3);

    struct connection gone;
    conn_fill(&gone, "conn-gone", "user-1", "tenant-1");
    gone.version = 1;
    EXPECT(RESULT_NOT_FOUND,
           conn_update_last_ping(&st, &gone, deadline(), &err), err);
    ck_assert_ptr_null(raw_conn("conn-gone")); /* not created by it */
    conn_cleanup(&gone);
    conn_cleanup(&stale);
    conn_cleanup(&c);
}
END_TEST

/* A cursor must be opaque text fit for JSON and URLs. */
static void assert_cursor_text(const char *cursor)
{
    ck_assert(*cursor);
    for (const char *p = cursor; *p; p++)
        ck_assert_msg(isalnum((unsigned char)*p) || *p == '-' || *p == '_',
                      "cursor has '%c'", *p);
}

enum conn_list { BY_USER, BY_TENANT };

/*
 * Pages through a connection list with `limit`, writing the ids in order
 * as "a,b,c" into `out`; returns the number of pages. Every page but the
 * last has `limit` items and a cursor.
 */
static int conn_pages(enum conn_list which, const char *key, int limit,
                      char *out, size_t size)
{
    struct error_info err;
    char *cursor = NULL;
    int pages = 0;
    out[0] = '\0';
    do {
        struct conn_page p;
        EXPECT(RESULT_OK,
               which == BY_USER ? conn_list_by_user(&st, key, limit, cursor, &p,
                                                    deadline(), &err)
                                : conn_list_by_tenant(&st, key, limit, cursor,
                                                      &p, deadline(), &err),
               err);
        free(cursor);
        cursor = p.next_cursor ? xstrdup(p.next_cursor) : NULL;
        ck_assert_int_le(p.count, limit ? limit : STORE_MAX_PAGE);
        if (cursor) {
            /* Only the last page may be short (it may be empty). */
            ck_assert_int_eq(p.count, limit);
            assert_cursor_text(cursor);
        }
        for (size_t i = 0; i < p.count; i++) {
            size_t n = strlen(out);
            snprintf(out + n, size - n, "%s%s", n ? "," : "",
                     p.items[i].connection_id);
        }
        conn_page_cleanup(&p);
        ck_assert_int_lt(++pages, 50);
    } while (cursor);
    return pages;
}

/* Makes a cursor: base64url of `json`, as store_cursor_encode() would. */
static char *cursor_of(const char *json)
{
    cJSON *k = parse(json);
    char *c = store_cursor_encode(k);
    cJSON_Delete(k);
    return c;
}

/* The JSON inside a cursor: base64url, unpadded (caller owns). */
static cJSON *cursor_json(const char *cursor)
{
    size_t n = strlen(cursor);
    char *b64 = xmalloc(n + 4);
    for (size_t i = 0; i < n; i++)
        b64[i] = cursor[i] == '-' ? '+' : cursor[i] == '_' ? '/' : cursor[i];
    size_t pad = (4 - n % 4) % 4;
    memset(b64 + n, '=', pad);
    unsigned char *raw = xmalloc(n + 4);
    int len = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)(n + pad));
    ck_assert_int_gt(len, 0);
    cJSON *key = cJSON_ParseWithLength((char *)raw, (size_t)len - pad);
    ck_assert_msg(cJSON_IsObject(key), "a cursor is not a JSON object");
    free(raw);
    free(b64);
    return key;
}

/* `good` with attribute `attr` set to `value`: a well-formed key, but
 * one this list never handed out. */
static char *cursor_with(const char *good, const char *attr, const char *value)
{
    cJSON *key = cursor_json(good);
    ck_assert_msg(cJSON_GetObjectItemCaseSensitive(key, attr) != NULL,
                  "the cursor has no %s", attr);
    cJSON_ReplaceItemInObjectCaseSensitive(key, attr, item_av_s(value));
    char *c = store_cursor_encode(key);
    cJSON_Delete(key);
    return c;
}

/*
 * Every way a cursor can be not ours; each one is refused by `list`
 * before any call, naming "cursor". `good` is a real first-page cursor
 * of `list`, whose partition is named by `hash` (pk, or the index's hash
 * key).
 */
static void assert_bad_cursors(const char *good, const char *hash,
                               enum result (*list)(const char *cursor,
                                                   struct error_info *err))
{
    struct error_info err;
    size_t n = strlen(good);
    char *flipped = xstrdup(good), *cut = xstrndup(good, n - 5);
    flipped[0] = flipped[0] == 'x' ? 'y' : 'x';
    char *junk = xmalloc(n + 2);
    snprintf(junk, n + 2, "%s!", good);
    char *longer = xmalloc(2000);
    memset(longer, 'A', 1999);
    longer[1999] = '\0';
    char *made[] = {
        flipped,
        cut,
        junk,
        longer,
        cursor_of("{\"pk\":{\"S\":\"CONN#x\"},\"evil\":{\"S\":\"1\"}}"),
        cursor_of("{\"pk\":{\"N\":\"1\"},\"sk\":{\"S\":\"METADATA\"}}"),
        cursor_of("{}"),
        cursor_of("[1,2]"),
        cursor_of("{\"pk\":{\"S\":\"CONN#x\"}}"),
        cursor_with(good, "sk", ""),
    };
    const char *plain[] = {"not a cursor", "%%%", "e30", "eyJwayI6MX0"};
    for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
        ck_assert_msg(made[i] != NULL, "cursor %zu was not made", i);
        EXPECT_INVALID("cursor", list(made[i], &err));
        free(made[i]);
    }
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        EXPECT_INVALID("cursor", list(plain[i], &err));

    /* Another partition's key: well-formed, but not this list's. */
    char *elsewhere = cursor_with(
        good, hash, strcmp(hash, "pk") == 0 ? "CONN#elsewhere" : "elsewhere");
    EXPECT_INVALID("cursor", list(elsewhere, &err));
    free(elsewhere);
}

static enum result list_user_1(const char *cursor, struct error_info *err)
{
    struct conn_page p;
    enum result r =
        conn_list_by_user(&st, "user-1", 2, cursor, &p, deadline(), err);
    if (r == RESULT_OK)
        conn_page_cleanup(&p);
    return r;
}

static enum result list_tenant_1(const char *cursor, struct error_info *err)
{
    struct conn_page p;
    enum result r =
        conn_list_by_tenant(&st, "tenant-1", 2, cursor, &p, deadline(), err);
    if (r == RESULT_OK)
        conn_page_cleanup(&p);
    return r;
}

START_TEST(conn_lists_and_pages)
{
    struct error_info err;
    char ids[1024];
    /* Five of user-1, then two of user-2, one second apart; a third
     * tenant's connection must not show up. */
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof(id), "c%d", i);
        save_conn(id, "user-1", "tenant-1");
        tick();
    }
    save_conn("x0", "user-2", "tenant-1");
    tick();
    save_conn("x1", "user-2", "tenant-1");
    tick();
    save_conn("y0", "user-1", "tenant-9");

    /* 6 by 2: the third page is full, so a fourth, empty one ends it. */
    ck_assert_int_eq(conn_pages(BY_USER, "user-1", 2, ids, sizeof(ids)), 4);
    ck_assert_str_eq(ids, "y0,c4,c3,c2,c1,c0");
    ck_assert_int_eq(conn_pages(BY_USER, "user-1", 0, ids, sizeof(ids)), 1);
    ck_assert_str_eq(ids, "y0,c4,c3,c2,c1,c0");
    ck_assert_int_eq(conn_pages(BY_TENANT, "tenant-1", 3, ids, sizeof(ids)), 3);
    ck_assert_str_eq(ids, "x1,x0,c4,c3,c2,c1,c0");
    ck_assert_int_eq(conn_pages(BY_TENANT, "tenant-9", 1000, ids, sizeof(ids)),
                     1);
    ck_assert_str_eq(ids, "y0");
    ck_assert_int_eq(conn_pages(BY_USER, "nobody", 5, ids, sizeof(ids)), 1);
    ck_assert_str_eq(ids, "");

    /* A page's items are whole connections. */
    struct conn_page p;
    EXPECT(RESULT_OK,
           conn_list_by_user(&st, "user-1", 2, NULL, &p, deadline(), &err),
           err);
    ck_assert_uint_eq(p.count, 2);
    ck_assert_str_eq(p.items[0].connection_id, "y0");
    ck_assert_str_eq(p.items[0].user_id, "user-1");
    ck_assert_str_eq(p.items[0].tenant_id, "tenant-9");
    ck_assert_int_eq(p.items[0].version, 1);
    ck_assert_str_eq(p.items[1].connection_id, "c4");
    ck_assert_ptr_nonnull(p.next_cursor);
    char *user_cursor = xstrdup(p.next_cursor);
    conn_page_cleanup(&p);

    assert_bad_cursors(user_cursor, "user_id", list_user_1);
    /* A user-index cursor is not a tenant-index cursor. */
    EXPECT_INVALID("cursor", list_tenant_1(user_cursor, &err));
    EXPECT(RESULT_OK, list_user_1(user_cursor, &err), err);
    free(user_cursor);
}
END_TEST

START_TEST(conn_delete_stale_only)
{
    struct error_info err;
    save_conn("old-a", "user-1", "tenant-1");
    save_conn("old-b", "user-2", "tenant-1");
    save_conn("fresh", "user-1", "tenant-1");
    tick();
    save_conn("new", "user-3", "tenant-1");
    struct connection c;
    EXPECT(RESULT_OK, conn_get(&st, "fresh", &c, deadline(), &err), err);
    fake_ms = T0_MS + 60000;
    EXPECT(RESULT_OK, conn_update_last_ping(&st, &c, deadline(), &err), err);
    conn_cleanup(&c);

    char **ids = NULL;
    size_t count = 0;
    EXPECT(RESULT_OK,
           conn_delete_stale(&st, T0_MS + 500, deadline(), &ids, &count, &err),
           err);
    ck_assert_uint_eq(count, 2);
    int a = 0, b = 0;
    for (size_t i = 0; i < count; i++) {
        a += strcmp(ids[i], "old-a") == 0;
        b += strcmp(ids[i], "old-b") == 0;
        free(ids[i]);
    }
    free(ids);
    ck_assert(a == 1 && b == 1);
    ck_assert_ptr_null(raw_conn("old-a"));
    ck_assert_ptr_null(raw_conn("old-b"));
    const char *kept[] = {"fresh", "new"};
    for (int i = 0; i < 2; i++) {
        cJSON *k = raw_conn(kept[i]);
        ck_assert_msg(k != NULL, "%s was deleted", kept[i]);
        cJSON_Delete(k);
    }

    /* Nothing stale left: nothing deleted. */
    EXPECT(RESULT_OK,
           conn_delete_stale(&st, T0_MS + 500, deadline(), &ids, &count, &err),
           err);
    ck_assert_uint_eq(count, 0);
    free(ids);
}
END_TEST

/* ---- Two writers ----------------------------------------------------------
 */

enum race_kind { RACE_PING, RACE_CLAIM };

/*
 * A forked writer: its own client, reads the item, says it is ready, waits
 * for the go, then writes from what it read. Exits with the result.
 */
static void racer(enum race_kind kind, const char *id, int ready_fd, int go_fd)
{
    struct ddb *d = new_client();
    if (!d)
        _exit(100);
    struct store s;
    store_init(&s, d, st.connections_table, st.requests_table,
               st.subscriptions_table);
    struct connection c;
    struct request r;
    enum result res = kind == RACE_PING ? conn_get(&s, id, &c, deadline(), NULL)
                                        : req_get(&s, TENANT, owner_of(id), id,
                                                  &r, deadline(), NULL);
    char byte = 'r';
    if (res != RESULT_OK || write(ready_fd, &byte, 1) != 1 ||
        read(go_fd, &byte, 1) != 1)
        _exit(101);
    res = kind == RACE_PING
              ? conn_update_last_ping(&s, &c, deadline(), NULL)
              : req_update_status(&s, &r, REQ_PROCESSING, deadline(), NULL);
    if (kind == RACE_PING)
        conn_cleanup(&c);
    else
        req_cleanup(&r);
    store_cleanup(&s);
    ddb_free(d);
    _exit((int)res);
}

/* Runs two racers on `id` released together; `results` gets theirs. */
static void race(enum race_kind kind, const char *id, int results[2])
{
    int ready[2], go[2];
    ck_assert(pipe(ready) == 0 && pipe(go) == 0);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        ck_assert(pids[i] >= 0);
        if (pids[i] == 0)
            racer(kind, id, ready[1], go[0]);
    }
    char bytes[2];
    ssize_t got = 0;
    while (got < 2) {
        ssize_t n = read(ready[0], bytes, (size_t)(2 - got));
        if (n <= 0)
            break;
        got += n;
    }
    ck_assert(write(go[1], "gg", 2) == 2);
    for (int i = 0; i < 2; i++) {
        int status = 0;
        ck_assert(waitpid(pids[i], &status, 0) == pids[i]);
        ck_assert(WIFEXITED(status));
        results[i] = WEXITSTATUS(status);
    }
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    ck_assert_msg(got == 2, "a racer did not get ready (%d, %d)", results[0],
                  results[1]);
}

static void assert_one_wins(const int results[2])
{
    int ok = (results[0] == RESULT_OK) + (results[1] == RESULT_OK);
    int lost = (results[0] == RESULT_CONDITION_FAILED) +
               (results[1] == RESULT_CONDITION_FAILED);
    ck_assert_msg(ok == 1 && lost == 1, "results %s, %s",
                  result_str((enum result)results[0]),
                  result_str((enum result)results[1]));
}

START_TEST(two_writers_one_wins)
{
    int results[2];
    fake_ms = 0; /* the racers use the real clock; so does this side */
    save_conn("race-conn", "user-1", "tenant-1");
    race(RACE_PING, "race-conn", results);
    assert_one_wins(results);
    cJSON *c = raw_conn("race-conn");
    ck_assert_int_eq(raw_n(c, "version"), 2);
    cJSON_Delete(c);

    struct request r;
    enqueue(&r, "race-req", "race-conn", "user-1");
    race(RACE_CLAIM, "race-req", results);
    assert_one_wins(results);
    cJSON *q = raw_req("race-req");
    ck_assert_int_eq(raw_n(q, "version"), 2);
    ck_assert_str_eq(raw_s(q, "status"), "PROCESSING");
    cJSON_Delete(q);
    req_cleanup(&r);
}
END_TEST

/* ---- TTL ------------------------------------------------------------------
 */

/* ttl is epoch seconds `offset` from the real now, within a second. */
static void assert_ttl_near(int64_t ttl, int64_t lo_ms, int64_t hi_ms,
                            int64_t offset, const char *what)
{
    ck_assert_msg(ttl >= lo_ms / 1000 + offset && ttl <= hi_ms / 1000 + offset,
                  "%s: ttl %lld outside [%lld, %lld]", what, (long long)ttl,
                  (long long)(lo_ms / 1000 + offset),
                  (long long)(hi_ms / 1000 + offset));
    int64_t now = (int64_t)time(NULL) + offset;
    ck_assert_msg(ttl >= now - 1 && ttl <= now + 1, "%s: ttl %lld, now+%lld",
                  what, (long long)ttl, (long long)offset);
}

START_TEST(ttl_values)
{
    fake_ms = 0;
    int64_t lo = clock_now_ms();
    save_conn("ttl-conn", "user-1", "tenant-1");
    struct request r;
    enqueue(&r, "ttl-req", "ttl-conn", "user-1");
    subscribe("ttl-conn", "ttl-req", 0);
    int64_t hi = clock_now_ms();

    cJSON *c = raw_conn("ttl-conn"), *q = raw_req("ttl-req"),
          *s = raw_sub("ttl-conn", "ttl-req");
    assert_ttl_near(raw_n(c, "ttl"), lo, hi, 24 * 3600, "connection");
    assert_ttl_near(raw_n(q, "ttl"), lo, hi, 7 * 24 * 3600, "request");
    assert_ttl_near(raw_n(s, "ttl"), lo, hi, 24 * 3600, "subscription");
    ck_assert_int_eq(r.ttl, raw_n(q, "ttl"));
    cJSON_Delete(c);
    cJSON_Delete(q);
    cJSON_Delete(s);

    /* A ping and a new subscribe refresh theirs from the new now. */
    fake_ms = T0_MS + 3600 * 1000;
    struct connection k;
    struct error_info err;
    EXPECT(RESULT_OK, conn_get(&st, "ttl-conn", &k, deadline(), &err), err);
    EXPECT(RESULT_OK, conn_update_last_ping(&st, &k, deadline(), &err), err);
    subscribe("ttl-conn", "ttl-req", SUB_ERROR);
    c = raw_conn("ttl-conn");
    s = raw_sub("ttl-conn", "ttl-req");
    ck_assert_int_eq(raw_n(c, "ttl"), fake_ms / 1000 + 24 * 3600);
    ck_assert_int_eq(raw_n(s, "ttl"), fake_ms / 1000 + 24 * 3600);
    cJSON_Delete(c);
    cJSON_Delete(s);
    conn_cleanup(&k);
    req_cleanup(&r);
}
END_TEST

/* ---- Requests -------------------------------------------------------------
 */

/* A payload with every kind of JSON value, nested. */
static cJSON *rich_payload(void)
{
    cJSON *p = parse(
        "{\"text\":\"h\\u00e9llo \\u2603 \\ud83d\\ude00\",\"empty\":\"\","
        "\"n\":42,\"neg\":-7,\"frac\":1.5,\"yes\":true,\"no\":false,"
        "\"nothing\":null,\"list\":[1,\"two\",{\"three\":3},[],[null]],"
        "\"obj\":{\"deep\":{\"deeper\":{\"x\":\"y\",\"l\":[{\"k\":\"v\"}]}}},"
        "\"empty_obj\":{}}");
    /* A number no double holds: kept exactly. */
    cJSON_AddRawToObject(p, "big", "123456789012345678901234567890");
    return p;
}

static void assert_req_eq(const struct request *w, const struct request *g)
{
    ck_assert_str_eq(g->request_id, w->request_id);
    ck_assert_str_eq(g->connection_id, w->connection_id);
    ck_assert_str_eq(g->user_id, w->user_id);
    ck_assert_str_eq(g->tenant_id, w->tenant_id);
    ck_assert_str_eq(g->action, w->action);
    ASSERT_JSON_SAME(w->payload, g->payload);
    ASSERT_JSON_SAME(w->result, g->result);
    ASSERT_JSON_SAME(w->progress_details, g->progress_details);
    ck_assert_int_eq(g->status, w->status);
    ck_assert_int_eq(g->progress, w->progress);
    ck_assert_pstr_eq(g->progress_message, w->progress_message);
    ck_assert_pstr_eq(g->error, w->error);
    ck_assert_int_eq(g->retry_count, w->retry_count);
    ck_assert_int_eq(g->max_retries, w->max_retries);
    ck_assert_str_eq(g->retry_after, w->retry_after);
    ck_assert_str_eq(g->processing_started, w->processing_started);
    ck_assert_str_eq(g->processing_ended, w->processing_ended);
    ck_assert_str_eq(g->created_at, w->created_at);
    ck_assert_str_eq(g->updated_at, w->updated_at);
    ck_assert_int_eq(g->version, w->version);
    ck_assert_int_eq(g->ttl, w->ttl);
}

/* `r` as stored now equals `r` as the store left it. */
static void assert_req_stored(const struct request *r)
{
    struct error_info err;
    struct request got;
    EXPECT(RESULT_OK,
           req_get(&st, r->tenant_id, r->user_id, r->request_id, &got,
                   deadline(), &err),
           err);
    assert_req_eq(r, &got);
    req_cleanup(&got);
}

static int is_uuid_v4(const char *s)
{
    if (strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
        return 0;
    for (int i = 0; i < 36; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23
                ? s[i] != '-'
                : !strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

START_TEST(req_enqueue_get_delete)
{
    struct error_info err;
    struct request r, got;
    req_fill(&r, "req-1", "conn-1", "user-1");
    r.payload = rich_payload();
    r.max_retries = 5;
    EXPECT(RESULT_OK, req_enqueue(&st, &r, deadline(), &err), err);
    ck_assert_int_eq(r.status, REQ_PENDING);
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(r.progress, 0);
    ck_assert_int_eq(r.max_retries, 5);
    ck_assert_str_eq(r.created_at, T0_TEXT);
    ck_assert_str_eq(r.updated_at, T0_TEXT);
    ck_assert_int_eq(r.ttl, T0_MS / 1000 + 7 * 24 * 3600);
    EXPECT(RESULT_OK, get_req("req-1", &got, &err), err);
    assert_req_eq(&r, &got);
    ck_assert_ptr_null(got.result);
    ck_assert_ptr_null(got.error);
    /* A stream record's NewImage is read the same way. */
    cJSON *image = raw_req("req-1");
    struct request from;
    EXPECT(RESULT_OK, req_from_item(image, &from, &err), err);
    assert_req_eq(&r, &from);
    req_cleanup(&from);
    cJSON_Delete(image);
    /* Numbers come back exactly, as text. */
    const cJSON *big = cJSON_GetObjectItem(got.payload, "big");
    ck_assert(cJSON_IsRaw(big));
    ck_assert_str_eq(big->valuestring, "123456789012345678901234567890");
    req_cleanup(&got);

    /* No id: a random UUIDv4; no payload: {}; no max_retries: 3. */
    struct request a, b;
    enqueue(&a, NULL, "conn-1", "user-1");
    enqueue(&b, NULL, "conn-1", "user-1");
    ck_assert_msg(is_uuid_v4(a.request_id), "not a UUIDv4: %s", a.request_id);
    ck_assert_msg(is_uuid_v4(b.request_id), "not a UUIDv4: %s", b.request_id);
    ck_assert_str_ne(a.request_id, b.request_id);
    ck_assert_int_eq(a.max_retries, 3);
    assert_req_stored(&a);
    cJSON *empty = cJSON_CreateObject();
    ASSERT_JSON_SAME(empty, a.payload);
    cJSON_Delete(empty);

    EXPECT(RESULT_NOT_FOUND, get_req("req-none", &got, &err), err);
    EXPECT(RESULT_OK,
           req_delete(&st, TENANT, "user-1", "req-1", deadline(), &err), err);
    EXPECT(RESULT_NOT_FOUND, get_req("req-1", &got, &err), err);
    EXPECT(RESULT_NOT_FOUND,
           req_delete(&st, TENANT, "user-1", "req-1", deadline(), &err), err);
    assert_req_stored(&b); /* the others are still there */
    req_cleanup(&a);
    req_cleanup(&b);
    req_cleanup(&r);
}
END_TEST

START_TEST(req_enqueue_idempotent)
{
    struct error_info err;
    struct request first, again;
    req_fill(&first, "req-dup", "conn-1", "user-1");
    first.payload = parse("{\"n\":1}");
    EXPECT(RESULT_OK, req_enqueue(&st, &first, deadline(), &err), err);
    cJSON *before = raw_req("req-dup");

    /* The same user, from another connection, with other values: ids
     * are unique per user (req_ids_are_per_user has other users). */
    tick();
    req_fill(&again, "req-dup", "conn-2", "user-1");
    free(again.action);
    again.action = xstrdup("other.task");
    again.payload = parse("{\"n\":2}");
    EXPECT(RESULT_ALREADY_EXISTS, req_enqueue(&st, &again, deadline(), &err),
           err);
    assert_unchanged(before, raw_req("req-dup"));
    assert_req_stored(&first);
    req_cleanup(&again);
    req_cleanup(&first);
}
END_TEST

/* How to reach each status from PENDING with allowed moves. */
static const struct {
    enum req_status status;
    enum req_status path[2];
    int len;
} paths[] = {
    {REQ_PENDING, {REQ_PENDING, REQ_PENDING}, 0},
    {REQ_PROCESSING, {REQ_PROCESSING, REQ_PENDING}, 1},
    {REQ_COMPLETED, {REQ_PROCESSING, REQ_COMPLETED}, 2},
    {REQ_FAILED, {REQ_PROCESSING, REQ_FAILED}, 2},
    {REQ_CANCELLED, {REQ_CANCELLED, REQ_PENDING}, 1},
    {REQ_RETRYING, {REQ_PROCESSING, REQ_RETRYING}, 2},
};

/* Enqueues `id` and walks it to `status`. */
static void enqueue_in(struct request *r, const char *id,
                       enum req_status status)
{
    enqueue(r, id, "conn-t", "user-t");
    for (int i = 0; i < paths[status].len; i++) {
        tick();
        move(r, paths[status].path[i]);
    }
    ck_assert_int_eq(r->status, status);
}

/* The transition table (docs/data-model.md, issue 4): want_move[from][to]. */
static const int want_move[6][6] = {
    /*               PEND PROC COMP FAIL CANC RETR */
    /* PENDING    */ {0, 1, 0, 0, 1, 0},
    /* PROCESSING */ {0, 0, 1, 1, 1, 1},
    /* COMPLETED  */ {0, 0, 0, 0, 0, 0},
    /* FAILED     */ {0, 0, 0, 0, 0, 0},
    /* CANCELLED  */ {0, 0, 0, 0, 0, 0},
    /* RETRYING   */ {0, 1, 0, 1, 1, 0},
};

/* One row: `from` → `to` is made, or refused with the item unchanged. */
static void transition_row(enum req_status from, enum req_status to)
{
    struct error_info err;
    char id[64], row[64], now[CLOCK_RFC3339_SIZE];
    snprintf(row, sizeof(row), "%s -> %s", req_status_str(from),
             req_status_str(to));
    snprintf(id, sizeof(id), "tr-%s-%s", req_status_str(from),
             req_status_str(to));
    ck_assert_msg(req_transition_allowed(from, to) == want_move[from][to],
                  "%s: req_transition_allowed disagrees", row);
    struct request r, want;
    enqueue_in(&r, id, from);
    EXPECT(RESULT_OK, get_req(id, &want, &err), err);
    cJSON *before = raw_req(id);
    tick();
    ts_of(fake_ms, now);
    error_clear(&err);
    long reads = clock_reads;
    enum result res = req_update_status(&st, &r, to, deadline(), &err);
    if (!want_move[from][to]) {
        ck_assert_msg(res == RESULT_INVALID_INPUT &&
                          strcmp(err.field, "status") == 0,
                      "%s: got %s (%s), want invalid input naming status", row,
                      result_str(res), err.field);
        ck_assert_msg(clock_reads == reads, "%s: a call was made", row);
        ck_assert_int_eq(r.status, from);
        assert_unchanged(before, raw_req(id));
    } else {
        ck_assert_msg(res == RESULT_OK, "%s: got %s: %s", row, result_str(res),
                      err.message);
        cJSON_Delete(before);
        want.status = to;
        want.version++;
        memcpy(want.updated_at, now, sizeof(now));
        if (to == REQ_PROCESSING)
            memcpy(want.processing_started, now, sizeof(now));
        else if (to == REQ_RETRYING)
            want.retry_count++;
        else
            memcpy(want.processing_ended, now, sizeof(now));
        assert_req_eq(&want, &r);
        assert_req_stored(&want);
    }
    req_cleanup(&want);
    req_cleanup(&r);
}

START_TEST(req_transition_table)
{
    for (int from = REQ_PENDING; from <= REQ_RETRYING; from++)
        for (int to = REQ_PENDING; to <= REQ_RETRYING; to++)
            transition_row((enum req_status)from, (enum req_status)to);
}
END_TEST

/*
 * The store's table is only half of it: the status is in the condition,
 * so a caller that believes a stale status cannot force an allowed move
 * on an item that is elsewhere.
 */
START_TEST(req_transition_needs_stored_status)
{
    struct error_info err;
    for (int at = REQ_PENDING; at <= REQ_RETRYING; at++) {
        char id[64];
        snprintf(id, sizeof(id), "at-%s", req_status_str((enum req_status)at));
        struct request r;
        enqueue_in(&r, id, (enum req_status)at);
        for (int from = REQ_PENDING; from <= REQ_RETRYING; from++)
            for (int to = REQ_PENDING; to <= REQ_RETRYING; to++) {
                if (from == at || !want_move[from][to])
                    continue;
                cJSON *before = raw_req(id);
                struct request lie = r;
                lie.status = (enum req_status)from;
                EXPECT(RESULT_CONDITION_FAILED,
                       req_update_status(&st, &lie, (enum req_status)to,
                                         deadline(), &err),
                       err);
                assert_unchanged(before, raw_req(id));
            }
        req_cleanup(&r);
    }
}
END_TEST

START_TEST(req_stale_version)
{
    struct error_info err;
    struct request r, stale;
    enqueue(&r, "req-v", "conn-1", "user-1");
    EXPECT(RESULT_OK, get_req("req-v", &stale, &err), err);
    tick();
    move(&r, REQ_PROCESSING);
    ck_assert_int_eq(r.version, 2);
    cJSON *before = raw_req("req-v");
    /* Same status, old version: every kind of update is refused. */
    stale.status = REQ_PROCESSING;
    EXPECT(RESULT_CONDITION_FAILED,
           req_update_progress(&st, &stale, 10, "x", NULL, deadline(), &err),
           err);
    cJSON *res = parse("{\"ok\":true}");
    EXPECT(RESULT_CONDITION_FAILED,
           req_complete(&st, &stale, res, deadline(), &err), err);
    EXPECT(RESULT_CONDITION_FAILED,
           req_fail(&st, &stale, "nope", deadline(), &err), err);
    EXPECT(RESULT_CONDITION_FAILED, req_cancel(&st, &stale, deadline(), &err),
           err);
    ck_assert_int_eq(stale.version, 1);
    assert_unchanged(before, raw_req("req-v"));

    /* A request that is not there: not found. */
    struct request gone;
    req_fill(&gone, "req-gone", "conn-1", "user-1");
    gone.status = REQ_PENDING;
    gone.version = 1;
    EXPECT(RESULT_NOT_FOUND,
           req_update_status(&st, &gone, REQ_PROCESSING, deadline(), &err),
           err);
    ck_assert_ptr_null(raw_req("req-gone"));
    req_cleanup(&gone);
    cJSON_Delete(res);
    req_cleanup(&stale);
    req_cleanup(&r);
}
END_TEST

START_TEST(req_progress_complete_fail)
{
    struct error_info err;
    struct request r;
    char now[CLOCK_RFC3339_SIZE];
    enqueue(&r, "req-run", "conn-1", "user-1");

    /* Not while PENDING: refused, nothing written. */
    cJSON *before = raw_req("req-run");
    EXPECT(RESULT_CONDITION_FAILED,
           req_update_progress(&st, &r, 5, "early", NULL, deadline(), &err),
           err);
    assert_unchanged(before, raw_req("req-run"));

    tick();
    move(&r, REQ_PROCESSING);
    ts_of(fake_ms, now);
    ck_assert_str_eq(r.processing_started, now);
    tick();
    cJSON *details = parse("{\"step\":{\"n\":2,\"of\":[1,2,3]},\"ok\":true}");
    EXPECT(
        RESULT_OK,
        req_update_progress(&st, &r, 50, "half way", details, deadline(), &err),
        err);
    ts_of(fake_ms, now);
    ck_assert_int_eq(r.progress, 50);
    ck_assert_int_eq(r.version, 3);
    ck_assert_str_eq(r.updated_at, now);
    ck_assert_str_eq(r.progress_message, "half way");
    ASSERT_JSON_SAME(details, r.progress_details);
    assert_req_stored(&r);
    for (int edge = 0; edge <= 100; edge += 100) {
        tick();
        EXPECT(
            RESULT_OK,
            req_update_progress(&st, &r, edge, "edge", NULL, deadline(), &err),
            err);
        assert_req_stored(&r);
    }
    /* No message, no details: both go, not left behind or nulled. */
    tick();
    EXPECT(RESULT_OK,
           req_update_progress(&st, &r, 60, NULL, NULL, deadline(), &err), err);
    ck_assert_ptr_null(r.progress_message);
    assert_req_stored(&r);
    cJSON *raw = raw_req("req-run");
    ck_assert_ptr_null(item_get_av(raw, "progress_message"));
    ck_assert_ptr_null(item_get_av(raw, "progress_details"));
    cJSON_Delete(raw);

    before = raw_req("req-run");
    EXPECT_INVALID("progress", req_update_progress(&st, &r, -1, NULL, NULL,
                                                   deadline(), &err));
    EXPECT_INVALID("progress", req_update_progress(&st, &r, 101, NULL, NULL,
                                                   deadline(), &err));
    assert_unchanged(before, raw_req("req-run"));

    tick();
    ts_of(fake_ms, now);
    cJSON *result = parse("{\"answer\":{\"values\":[1,2.5,\"three\"],"
                          "\"nested\":{\"deep\":{\"flag\":false}}},"
                          "\"note\":\"d\\u00f6ne\"}");
    EXPECT(RESULT_OK, req_complete(&st, &r, result, deadline(), &err), err);
    ck_assert_int_eq(r.status, REQ_COMPLETED);
    ck_assert_int_eq(r.progress, 100);
    ck_assert_str_eq(r.processing_ended, now);
    ck_assert_str_eq(r.updated_at, now);
    ck_assert_str_eq(r.created_at, T0_TEXT);
    ASSERT_JSON_SAME(result, r.result);
    assert_req_stored(&r);

    /* Done: no more progress, no second completion. */
    before = raw_req("req-run");
    EXPECT(RESULT_CONDITION_FAILED,
           req_update_progress(&st, &r, 10, NULL, NULL, deadline(), &err), err);
    EXPECT_INVALID("status", req_complete(&st, &r, result, deadline(), &err));
    EXPECT_INVALID("status", req_fail(&st, &r, "late", deadline(), &err));
    assert_unchanged(before, raw_req("req-run"));

    /* fail saves the error, and processing_ended. */
    struct request f;
    enqueue(&f, "req-fail", "conn-1", "user-1");
    EXPECT_INVALID("status", req_fail(&st, &f, "too soon", deadline(), &err));
    tick();
    move(&f, REQ_PROCESSING);
    tick();
    ts_of(fake_ms, now);
    EXPECT(RESULT_OK,
           req_fail(&st, &f, "upstream said \"no\" \xe2\x9c\x97", deadline(),
                    &err),
           err);
    ck_assert_int_eq(f.status, REQ_FAILED);
    ck_assert_str_eq(f.error, "upstream said \"no\" \xe2\x9c\x97");
    ck_assert_str_eq(f.processing_ended, now);
    assert_req_stored(&f);

    /* A long error is cut to 4096 bytes, never inside a character. */
    struct request g;
    enqueue(&g, "req-fail-long", "conn-1", "user-1");
    move(&g, REQ_PROCESSING);
    char *msg = xmalloc(6001);
    msg[0] = 'x';
    for (int i = 1; i < 6000; i += 2)
        memcpy(msg + i, "\xc3\xa9", 2); /* é at odd offsets: 4096 splits one */
    msg[6000] = '\0';
    EXPECT(RESULT_OK, req_fail(&st, &g, msg, deadline(), &err), err);
    ck_assert_uint_eq(strlen(g.error), 4095);
    ck_assert(strncmp(g.error, msg, 4095) == 0);
    assert_req_stored(&g);
    free(msg);

    /* Retrying: retry_count + 1, retry_after kept; then back to work. */
    struct request t;
    enqueue(&t, "req-retry", "conn-1", "user-1");
    move(&t, REQ_PROCESSING);
    snprintf(t.retry_after, sizeof(t.retry_after), "%s",
             "2030-01-01T01:00:00.000Z");
    move(&t, REQ_RETRYING);
    ck_assert_int_eq(t.retry_count, 1);
    assert_req_stored(&t);
    move(&t, REQ_PROCESSING);
    move(&t, REQ_RETRYING);
    ck_assert_int_eq(t.retry_count, 2);
    assert_req_stored(&t);

    /* Cancelled under a worker: its progress and result are refused. */
    struct request c, worker;
    enqueue(&c, "req-cancel", "conn-1", "user-1");
    move(&c, REQ_PROCESSING);
    EXPECT(RESULT_OK, get_req("req-cancel", &worker, &err), err);
    tick();
    ts_of(fake_ms, now);
    EXPECT(RESULT_OK, req_cancel(&st, &c, deadline(), &err), err);
    ck_assert_int_eq(c.status, REQ_CANCELLED);
    ck_assert_str_eq(c.processing_ended, now);
    assert_req_stored(&c);
    before = raw_req("req-cancel");
    EXPECT(RESULT_CONDITION_FAILED,
           req_update_progress(&st, &worker, 70, "still going", NULL,
                               deadline(), &err),
           err);
    EXPECT(RESULT_CONDITION_FAILED,
           req_complete(&st, &worker, result, deadline(), &err), err);
    assert_unchanged(before, raw_req("req-cancel"));
    EXPECT_INVALID("status", req_cancel(&st, &c, deadline(), &err));

    req_cleanup(&worker);
    req_cleanup(&c);
    req_cleanup(&t);
    req_cleanup(&g);
    req_cleanup(&f);
    cJSON_Delete(result);
    cJSON_Delete(details);
    req_cleanup(&r);
}
END_TEST

enum req_list { BY_CONNECTION, BY_STATUS, BY_REQ_USER };

/* As conn_pages() for a request list. */
static int req_pages(enum req_list which, const char *key, int limit, char *out,
                     size_t size)
{
    struct error_info err;
    char *cursor = NULL;
    int pages = 0;
    out[0] = '\0';
    do {
        struct req_page p;
        enum req_status status = REQ_PENDING;
        if (which == BY_STATUS)
            ck_assert(req_status_parse(key, &status) == RESULT_OK);
        EXPECT(RESULT_OK,
               which == BY_CONNECTION
                   ? req_list_by_connection(&st, key, limit, cursor, &p,
                                            deadline(), &err)
               : which == BY_STATUS
                   ? req_list_by_status(&st, status, limit, cursor, &p,
                                        deadline(), &err)
                   : req_list_by_user(&st, key, limit, cursor, &p, deadline(),
                                      &err),
               err);
        free(cursor);
        cursor = p.next_cursor ? xstrdup(p.next_cursor) : NULL;
        ck_assert_int_le(p.count, limit ? limit : STORE_MAX_PAGE);
        if (cursor) {
            /* Only the last page may be short (it may be empty). */
            ck_assert_int_eq(p.count, limit);
            assert_cursor_text(cursor);
        }
        for (size_t i = 0; i < p.count; i++) {
            size_t n = strlen(out);
            snprintf(out + n, size - n, "%s%s", n ? "," : "",
                     p.items[i].request_id);
        }
        req_page_cleanup(&p);
        ck_assert_int_lt(++pages, 50);
    } while (cursor);
    return pages;
}

static enum result list_conn_1(const char *cursor, struct error_info *err)
{
    struct req_page p;
    enum result r =
        req_list_by_connection(&st, "conn-1", 2, cursor, &p, deadline(), err);
    if (r == RESULT_OK)
        req_page_cleanup(&p);
    return r;
}

START_TEST(req_lists_and_pages)
{
    struct error_info err;
    char ids[2048];
    struct request r[8];
    /* r0..r4 on conn-1 by user-1, r5 r6 on conn-2 by user-2, r7 on
     * conn-2 by user-1; one second apart. */
    for (int i = 0; i < 8; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        enqueue(&r[i], id, i < 5 ? "conn-1" : "conn-2",
                i < 5 || i == 7 ? "user-1" : "user-2");
        tick();
    }
    move(&r[1], REQ_PROCESSING);
    move(&r[6], REQ_PROCESSING);
    move(&r[6], REQ_COMPLETED);

    ck_assert_int_eq(req_pages(BY_CONNECTION, "conn-1", 2, ids, sizeof(ids)),
                     3);
    ck_assert_str_eq(ids, "r4,r3,r2,r1,r0");
    ck_assert_int_eq(req_pages(BY_CONNECTION, "conn-2", 0, ids, sizeof(ids)),
                     1);
    ck_assert_str_eq(ids, "r7,r6,r5");
    ck_assert_int_eq(req_pages(BY_REQ_USER, "user-1", 4, ids, sizeof(ids)), 2);
    ck_assert_str_eq(ids, "r7,r4,r3,r2,r1,r0");
    ck_assert_int_eq(req_pages(BY_REQ_USER, "user-2", 1, ids, sizeof(ids)), 3);
    ck_assert_str_eq(ids, "r6,r5");
    ck_assert_int_eq(req_pages(BY_STATUS, "PENDING", 3, ids, sizeof(ids)), 3);
    ck_assert_str_eq(ids, "r7,r5,r4,r3,r2,r0");
    req_pages(BY_STATUS, "PROCESSING", 3, ids, sizeof(ids));
    ck_assert_str_eq(ids, "r1");
    req_pages(BY_STATUS, "COMPLETED", 3, ids, sizeof(ids));
    ck_assert_str_eq(ids, "r6");
    req_pages(BY_STATUS, "FAILED", 3, ids, sizeof(ids));
    ck_assert_str_eq(ids, "");

    /* Items are whole requests. */
    struct req_page p;
    EXPECT(RESULT_OK,
           req_list_by_connection(&st, "conn-1", 2, NULL, &p, deadline(), &err),
           err);
    ck_assert_uint_eq(p.count, 2);
    assert_req_eq(&r[4], &p.items[0]);
    assert_req_eq(&r[3], &p.items[1]);
    char *cursor = xstrdup(p.next_cursor);
    req_page_cleanup(&p);
    assert_bad_cursors(cursor, "connection_id", list_conn_1);
    free(cursor);
    for (int i = 0; i < 8; i++)
        req_cleanup(&r[i]);
}
END_TEST

/* The user's in-flight count follows its requests: +1 per enqueue, -1
 * per end, unchanged by a refused write. */
static int64_t inflight(const char *user)
{
    int64_t n = -1;
    struct error_info err;
    EXPECT(RESULT_OK, req_inflight(&st, TENANT, user, &n, deadline(), &err),
           err);
    return n;
}

START_TEST(req_inflight_counts_every_request)
{
    struct error_info err;
    ck_assert_int_eq(inflight("user-1"), 0);
    struct request a, b, c, dup;
    enqueue(&a, "in-a", "conn-1", "user-1");
    enqueue(&b, "in-b", "conn-1", "user-1");
    enqueue(&c, "in-c", "conn-1", "user-1");
    ck_assert_int_eq(inflight("user-1"), 3);
    req_fill(&dup, "in-a", "conn-1", "user-1");
    EXPECT(RESULT_ALREADY_EXISTS, req_enqueue(&st, &dup, deadline(), &err),
           err);
    req_cleanup(&dup);
    ck_assert_int_eq(inflight("user-1"), 3);
    ck_assert_int_eq(inflight("user-2"), 0);

    move(&a, REQ_PROCESSING);
    ck_assert_int_eq(inflight("user-1"), 3); /* still in flight */
    cJSON *res = cJSON_CreateObject();
    EXPECT(RESULT_OK, req_complete(&st, &a, res, deadline(), &err), err);
    cJSON_Delete(res);
    ck_assert_int_eq(inflight("user-1"), 2);

    struct request stale;
    EXPECT(RESULT_OK, get_req("in-b", &stale, &err), err);
    EXPECT(RESULT_OK, req_cancel(&st, &b, deadline(), &err), err);
    ck_assert_int_eq(inflight("user-1"), 1);
    /* A refused end (stale) and an end of a missing request: no change. */
    EXPECT(RESULT_CONDITION_FAILED, req_cancel(&st, &stale, deadline(), &err),
           err);
    struct request gone;
    req_fill(&gone, "in-gone", "conn-1", "user-1");
    gone.version = 1;
    EXPECT(RESULT_NOT_FOUND, req_cancel(&st, &gone, deadline(), &err), err);
    ck_assert_int_eq(inflight("user-1"), 1);

    move(&c, REQ_PROCESSING);
    move(&c, REQ_RETRYING);
    move(&c, REQ_PROCESSING);
    EXPECT(RESULT_OK, req_fail(&st, &c, "boom", deadline(), &err), err);
    ck_assert_int_eq(inflight("user-1"), 0);
    req_cleanup(&gone);
    req_cleanup(&stale);
    req_cleanup(&a);
    req_cleanup(&b);
    req_cleanup(&c);
}
END_TEST

/* ---- Request ids are per user ----------------------------------------------
 */

START_TEST(req_ids_are_per_user)
{
    struct error_info err;
    /* Owners whose naive "user#id" joins would meet: each must be its own
     * request ('#' and '%' in the user id are escaped in the key). */
    static const char *const cases[][2] = {
        {"user-1", "same"}, {"user-2", "same"},  {"a#b", "c"},
        {"a", "b#c"},       {"a%23b", "c"},      {"a%b", "c"},
        {"a%25b", "c"},     {"user-1", "#same"},
    };
    const size_t n = sizeof(cases) / sizeof(cases[0]);
    char keys[8][STORE_REQUEST_KEY_SIZE];
    for (size_t i = 0; i < n; i++) {
        struct request r;
        enqueue(&r, cases[i][1], "conn-1", cases[i][0]);
        req_cleanup(&r);
        request_key_of(cases[i][0], cases[i][1], keys[i]);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(keys[i], keys[j]);
    }
    ck_assert_str_eq(keys[2], TENANT "#a%23b#c");
    ck_assert_str_eq(keys[4], TENANT "#a%2523b#c");
    /* Same id, other tenant: another owner too. */
    char other[STORE_REQUEST_KEY_SIZE];
    EXPECT(RESULT_OK,
           store_request_key("tenant-2", "user-1", "same", other, &err), err);
    ck_assert_str_ne(other, keys[0]);

    /* Every request reads back as its owner's. */
    for (size_t i = 0; i < n; i++) {
        struct request got;
        EXPECT(RESULT_OK,
               req_get(&st, TENANT, cases[i][0], cases[i][1], &got, deadline(),
                       &err),
               err);
        ck_assert_str_eq(got.user_id, cases[i][0]);
        ck_assert_str_eq(got.request_id, cases[i][1]);
        req_cleanup(&got);
    }
    struct request none;
    EXPECT(RESULT_NOT_FOUND,
           req_get(&st, "tenant-2", "user-1", "same", &none, deadline(), &err),
           err);

    /* The same user's id again: a duplicate, nothing changed. */
    cJSON *before = raw_req_of("user-2", "same");
    struct request again;
    req_fill(&again, "same", "conn-9", "user-2");
    EXPECT(RESULT_ALREADY_EXISTS, req_enqueue(&st, &again, deadline(), &err),
           err);
    req_cleanup(&again);
    assert_unchanged(before, raw_req_of("user-2", "same"));

    /* A move of user-1's request leaves user-2's alone. */
    struct request one;
    EXPECT(RESULT_OK,
           req_get(&st, TENANT, "user-1", "same", &one, deadline(), &err), err);
    before = raw_req_of("user-2", "same");
    tick();
    EXPECT(RESULT_OK, req_cancel(&st, &one, deadline(), &err), err);
    assert_unchanged(before, raw_req_of("user-2", "same"));
    req_cleanup(&one);

    /* Subscriptions name the owner: each request has its own listeners. */
    struct subscription sub = {0};
    sub.connection_id = xstrdup("conn-2");
    sub.request_id = xstrdup("same");
    sub.tenant_id = xstrdup(TENANT);
    sub.user_id = xstrdup("user-2");
    EXPECT(RESULT_OK, sub_subscribe(&st, &sub, deadline(), &err), err);
    free(sub.user_id);
    sub.user_id = xstrdup("user-1");
    EXPECT(RESULT_OK, sub_subscribe(&st, &sub, deadline(), &err), err);
    sub_cleanup(&sub);
    struct sub_page p;
    for (int u = 1; u <= 2; u++) {
        char user[32];
        snprintf(user, sizeof(user), "user-%d", u);
        EXPECT(RESULT_OK,
               sub_list_by_request(&st, TENANT, user, "same", 0, NULL, &p,
                                   deadline(), &err),
               err);
        ck_assert_uint_eq(p.count, 1);
        ck_assert_str_eq(p.items[0].user_id, user);
        sub_page_cleanup(&p);
    }
    EXPECT(RESULT_OK,
           sub_unsubscribe(&st, "conn-2", TENANT, "user-1", "same", deadline(),
                           &err),
           err);
    ck_assert_ptr_null(raw_sub_of("conn-2", "user-1", "same"));
    cJSON *left = raw_sub_of("conn-2", "user-2", "same");
    ck_assert_ptr_nonnull(left);
    cJSON_Delete(left);
    EXPECT(RESULT_OK,
           sub_list_by_request(&st, TENANT, "user-1", "same", 0, NULL, &p,
                               deadline(), &err),
           err);
    ck_assert_uint_eq(p.count, 0);
    sub_page_cleanup(&p);

    /* Deleting is by owner too. */
    EXPECT(RESULT_OK,
           req_delete(&st, TENANT, "user-1", "same", deadline(), &err), err);
    cJSON *kept = raw_req_of("user-2", "same");
    ck_assert_ptr_nonnull(kept);
    cJSON_Delete(kept);
}
END_TEST

/* ---- Subscriptions --------------------------------------------------------
 */

START_TEST(sub_subscribe_list_unsubscribe)
{
    struct error_info err;
    struct subscription s = {0};
    s.connection_id = xstrdup("conn-1");
    s.request_id = xstrdup("req-1");
    s.tenant_id = xstrdup(TENANT);
    s.user_id = xstrdup("user-1");
    s.event_types = SUB_PROGRESS | SUB_COMPLETE;
    EXPECT(RESULT_OK, sub_subscribe(&st, &s, deadline(), &err), err);
    ck_assert_str_eq(s.subscription_id, "conn-1#" TENANT "#user-1#req-1");
    ck_assert_int_eq(s.version, 1);
    ck_assert_str_eq(s.created_at, T0_TEXT);
    ck_assert_str_eq(s.updated_at, T0_TEXT);
    ck_assert_int_eq(s.ttl, T0_MS / 1000 + 24 * 3600);
    cJSON *raw = raw_sub("conn-1", "req-1");
    const cJSON *ss = item_get_ss(raw, "event_types");
    ck_assert_int_eq(cJSON_GetArraySize(ss), 2);
    cJSON_Delete(raw);

    /* Again: the event types replaced, version 2, created_at kept. */
    tick();
    char now[CLOCK_RFC3339_SIZE];
    ts_of(fake_ms, now);
    s.event_types = SUB_ERROR;
    EXPECT(RESULT_OK, sub_subscribe(&st, &s, deadline(), &err), err);
    ck_assert_int_eq(s.version, 2);
    ck_assert_str_eq(s.created_at, T0_TEXT);
    ck_assert_str_eq(s.updated_at, now);

    /* Default: all three. Another connection on the same request. */
    subscribe("conn-2", "req-1", 0);
    subscribe("conn-1", "req-2", SUB_COMPLETE);

    struct sub_page p;
    EXPECT(RESULT_OK,
           sub_list_by_connection(&st, "conn-1", 0, NULL, &p, deadline(), &err),
           err);
    ck_assert_uint_eq(p.count, 2);
    ck_assert_ptr_null(p.next_cursor);
    for (size_t i = 0; i < p.count; i++) {
        const struct subscription *g = &p.items[i];
        int first = strcmp(g->request_id, "req-1") == 0;
        ck_assert_str_eq(g->connection_id, "conn-1");
        ck_assert_str_eq(g->subscription_id,
                         first ? "conn-1#" TENANT "#user-1#req-1"
                               : "conn-1#" TENANT "#user-1#req-2");
        ck_assert_uint_eq(g->event_types, first ? SUB_ERROR : SUB_COMPLETE);
        ck_assert_int_eq(g->version, first ? 2 : 1);
        ck_assert_str_eq(g->created_at, first ? T0_TEXT : now);
        ck_assert_str_eq(g->updated_at, now);
        ck_assert_int_eq(g->ttl, fake_ms / 1000 + 24 * 3600);
    }
    sub_page_cleanup(&p);

    EXPECT(RESULT_OK,
           sub_list_by_request(&st, TENANT, "user-1", "req-1", 0, NULL, &p,
                               deadline(), &err),
           err);
    ck_assert_uint_eq(p.count, 2);
    unsigned seen = 0;
    for (size_t i = 0; i < p.count; i++) {
        int one = strcmp(p.items[i].connection_id, "conn-1") == 0;
        seen |= one ? 1u : 2u;
        ck_assert_uint_eq(p.items[i].event_types, one ? SUB_ERROR : SUB_ALL);
    }
    ck_assert_uint_eq(seen, 3);
    sub_page_cleanup(&p);

    EXPECT(RESULT_OK,
           sub_unsubscribe(&st, "conn-1", TENANT, "user-1", "req-1", deadline(),
                           &err),
           err);
    ck_assert_ptr_null(raw_sub("conn-1", "req-1"));
    EXPECT(RESULT_NOT_FOUND,
           sub_unsubscribe(&st, "conn-1", TENANT, "user-1", "req-1", deadline(),
                           &err),
           err);
    EXPECT(RESULT_OK,
           sub_list_by_request(&st, TENANT, "user-1", "req-1", 0, NULL, &p,
                               deadline(), &err),
           err);
    ck_assert_uint_eq(p.count, 1);
    ck_assert_str_eq(p.items[0].connection_id, "conn-2");
    sub_page_cleanup(&p);
    sub_cleanup(&s);
}
END_TEST

enum sub_list { BY_SUB_CONNECTION, BY_SUB_REQUEST };

/* Pages through a subscription list; `ids` gets each item's other id. */
static int sub_pages(enum sub_list which, const char *key, int limit, char *out,
                     size_t size, char **first_cursor)
{
    struct error_info err;
    char *cursor = NULL;
    int pages = 0;
    out[0] = '\0';
    do {
        struct sub_page p;
        EXPECT(RESULT_OK,
               which == BY_SUB_CONNECTION
                   ? sub_list_by_connection(&st, key, limit, cursor, &p,
                                            deadline(), &err)
                   : sub_list_by_request(&st, TENANT, "user-1", key, limit,
                                         cursor, &p, deadline(), &err),
               err);
        free(cursor);
        cursor = p.next_cursor ? xstrdup(p.next_cursor) : NULL;
        if (cursor && first_cursor && !*first_cursor)
            *first_cursor = xstrdup(cursor);
        ck_assert_int_le(p.count, limit ? limit : STORE_MAX_PAGE);
        if (cursor)
            ck_assert_int_eq(p.count, limit);
        for (size_t i = 0; i < p.count; i++) {
            size_t n = strlen(out);
            snprintf(out + n, size - n, "%s%s", n ? "," : "",
                     which == BY_SUB_CONNECTION ? p.items[i].request_id
                                                : p.items[i].connection_id);
        }
        sub_page_cleanup(&p);
        ck_assert_int_lt(++pages, 50);
    } while (cursor);
    return pages;
}

static enum result list_subs_c(const char *cursor, struct error_info *err)
{
    struct sub_page p;
    enum result r =
        sub_list_by_connection(&st, "c", 3, cursor, &p, deadline(), err);
    if (r == RESULT_OK)
        sub_page_cleanup(&p);
    return r;
}

static enum result list_subs_r(const char *cursor, struct error_info *err)
{
    struct sub_page p;
    enum result r = sub_list_by_request(&st, TENANT, "user-1", "r", 2, cursor,
                                        &p, deadline(), err);
    if (r == RESULT_OK)
        sub_page_cleanup(&p);
    return r;
}

/* "a,b,c" holds each of `want` (NULL-terminated) exactly once, nothing
 * else. */
static void assert_id_set(const char *list, const char *const *want)
{
    int n = 0;
    for (; want[n]; n++) {
        size_t len = strlen(want[n]);
        int hits = 0;
        for (const char *p = list; (p = strstr(p, want[n])); p += len)
            hits += (p == list || p[-1] == ',') &&
                    (p[len] == ',' || p[len] == '\0');
        ck_assert_msg(hits == 1, "%s appears %d times in %s", want[n], hits,
                      list);
    }
    int commas = 0;
    for (const char *p = list; *p; p++)
        commas += *p == ',';
    ck_assert_int_eq(*list ? commas + 1 : 0, n);
}

START_TEST(sub_pages_and_delete_by_connection)
{
    struct error_info err;
    char ids[4096];
    char *cursor = NULL;
    for (int i = 0; i < 7; i++) {
        char req[16];
        snprintf(req, sizeof(req), "q%d", i);
        subscribe("c", req, 0);
    }
    static const char *const c_reqs[] = {"q0", "q1", "q2", "q3",
                                         "q4", "q5", "q6", NULL};
    ck_assert_int_eq(
        sub_pages(BY_SUB_CONNECTION, "c", 3, ids, sizeof(ids), &cursor), 3);
    assert_id_set(ids, c_reqs);
    assert_bad_cursors(cursor, "pk", list_subs_c);
    EXPECT(RESULT_OK, list_subs_c(cursor, &err), err);
    /* A key outside the list's range only the service can refuse; it is
     * still the cursor's fault. */
    char *outside = cursor_with(cursor, "sk", "METADATA");
    EXPECT(RESULT_INVALID_INPUT, list_subs_c(outside, &err), err);
    ck_assert_str_eq(err.field, "cursor");
    free(outside);
    free(cursor);
    cursor = NULL;

    for (int i = 0; i < 5; i++) {
        char conn[16];
        snprintf(conn, sizeof(conn), "k%d", i);
        subscribe(conn, "r", SUB_PROGRESS);
    }
    static const char *const r_conns[] = {"k0", "k1", "k2", "k3", "k4", NULL};
    ck_assert_int_eq(
        sub_pages(BY_SUB_REQUEST, "r", 2, ids, sizeof(ids), &cursor), 3);
    assert_id_set(ids, r_conns);
    assert_bad_cursors(cursor, "request_key", list_subs_r);
    free(cursor);

    /* 60 subscriptions: three BatchWriteItem chunks of at most 25. */
    for (int i = 0; i < 60; i++) {
        char req[16];
        snprintf(req, sizeof(req), "b%02d", i);
        subscribe("many", req, 0);
    }
    size_t deleted = 0;
    EXPECT(RESULT_OK,
           sub_delete_by_connection(&st, "many", deadline(), &deleted, &err),
           err);
    ck_assert_uint_eq(deleted, 60);
    sub_pages(BY_SUB_CONNECTION, "many", 0, ids, sizeof(ids), NULL);
    ck_assert_str_eq(ids, "");
    /* Others' subscriptions stay. */
    sub_pages(BY_SUB_CONNECTION, "c", 0, ids, sizeof(ids), NULL);
    assert_id_set(ids, c_reqs);
    sub_pages(BY_SUB_REQUEST, "r", 0, ids, sizeof(ids), NULL);
    assert_id_set(ids, r_conns);
    EXPECT(RESULT_OK,
           sub_delete_by_connection(&st, "many", deadline(), &deleted, &err),
           err);
    ck_assert_uint_eq(deleted, 0);
    EXPECT(RESULT_OK,
           sub_delete_by_connection(&st, "c", deadline(), NULL, &err), err);
    sub_pages(BY_SUB_CONNECTION, "c", 0, ids, sizeof(ids), NULL);
    ck_assert_str_eq(ids, "");
}
END_TEST

/* ---- Input validation -----------------------------------------------------
 */

enum id_op {
    CONN_SAVE_ID,
    CONN_SAVE_USER,
    CONN_SAVE_TENANT,
    CONN_GET,
    CONN_DELETE,
    CONN_PING,
    CONN_LIST_USER,
    CONN_LIST_TENANT,
    REQ_ENQ_ID,
    REQ_ENQ_CONN,
    REQ_ENQ_USER,
    REQ_ENQ_TENANT,
    REQ_GET,
    REQ_DELETE,
    REQ_STATUS,
    REQ_PROGRESS,
    REQ_COMPLETE,
    REQ_FAIL,
    REQ_CANCEL,
    REQ_LIST_CONN,
    REQ_LIST_USER,
    SUB_SUB_CONN,
    SUB_SUB_REQ,
    SUB_UNSUB_CONN,
    SUB_UNSUB_REQ,
    SUB_LIST_CONN,
    SUB_LIST_REQ,
    SUB_DELETE_CONN,
    ID_OPS
};

/* Each operation that takes an id, and the field it must name. */
static const struct {
    const char *name;
    const char *field;
} id_ops[ID_OPS] = {
    [CONN_SAVE_ID] = {"conn_save", "connection_id"},
    [CONN_SAVE_USER] = {"conn_save", "user_id"},
    [CONN_SAVE_TENANT] = {"conn_save", "tenant_id"},
    [CONN_GET] = {"conn_get", "connection_id"},
    [CONN_DELETE] = {"conn_delete", "connection_id"},
    [CONN_PING] = {"conn_update_last_ping", "connection_id"},
    [CONN_LIST_USER] = {"conn_list_by_user", "user_id"},
    [CONN_LIST_TENANT] = {"conn_list_by_tenant", "tenant_id"},
    [REQ_ENQ_ID] = {"req_enqueue", "request_id"},
    [REQ_ENQ_CONN] = {"req_enqueue", "connection_id"},
    [REQ_ENQ_USER] = {"req_enqueue", "user_id"},
    [REQ_ENQ_TENANT] = {"req_enqueue", "tenant_id"},
    [REQ_GET] = {"req_get", "request_id"},
    [REQ_DELETE] = {"req_delete", "request_id"},
    [REQ_STATUS] = {"req_update_status", "request_id"},
    [REQ_PROGRESS] = {"req_update_progress", "request_id"},
    [REQ_COMPLETE] = {"req_complete", "request_id"},
    [REQ_FAIL] = {"req_fail", "request_id"},
    [REQ_CANCEL] = {"req_cancel", "request_id"},
    [REQ_LIST_CONN] = {"req_list_by_connection", "connection_id"},
    [REQ_LIST_USER] = {"req_list_by_user", "user_id"},
    [SUB_SUB_CONN] = {"sub_subscribe", "connection_id"},
    [SUB_SUB_REQ] = {"sub_subscribe", "request_id"},
    [SUB_UNSUB_CONN] = {"sub_unsubscribe", "connection_id"},
    [SUB_UNSUB_REQ] = {"sub_unsubscribe", "request_id"},
    [SUB_LIST_CONN] = {"sub_list_by_connection", "connection_id"},
    [SUB_LIST_REQ] = {"sub_list_by_request", "request_id"},
    [SUB_DELETE_CONN] = {"sub_delete_by_connection", "connection_id"},
};

/* `op` with `bad` in its field and good values elsewhere. */
static enum result call_with_id(enum id_op op, const char *bad,
                                struct error_info *err)
{
    const char *id = "keep";
    struct connection c;
    struct request r;
    struct subscription s = {0};
    struct conn_page cp = {0};
    struct req_page rp = {0};
    struct sub_page sp = {0};
    enum result res = RESULT_INTERNAL;
    conn_fill(&c, op == CONN_SAVE_ID || op == CONN_PING ? bad : id,
              op == CONN_SAVE_USER ? bad : id,
              op == CONN_SAVE_TENANT ? bad : id);
    req_fill(&r,
             op >= REQ_ENQ_ID && op <= REQ_CANCEL && op != REQ_ENQ_CONN &&
                     op != REQ_ENQ_USER && op != REQ_ENQ_TENANT
                 ? bad
                 : id,
             op == REQ_ENQ_CONN ? bad : id, op == REQ_ENQ_USER ? bad : id);
    if (op == REQ_ENQ_TENANT) {
        free(r.tenant_id);
        r.tenant_id = xstrdup(bad);
    }
    r.status =
        op == REQ_STATUS || op == REQ_CANCEL ? REQ_PENDING : REQ_PROCESSING;
    r.version = c.version = 1;
    s.connection_id = xstrdup(op == SUB_SUB_CONN ? bad : id);
    s.request_id = xstrdup(op == SUB_SUB_REQ ? bad : id);
    s.tenant_id = xstrdup(TENANT);
    s.user_id = xstrdup(id);
    cJSON *result = cJSON_CreateObject();
    int64_t dl = deadline();
    switch (op) {
    case CONN_SAVE_ID:
    case CONN_SAVE_USER:
    case CONN_SAVE_TENANT:
        res = conn_save(&st, &c, dl, err);
        break;
    case CONN_GET: {
        struct connection out;
        res = conn_get(&st, bad, &out, dl, err);
        break;
    }
    case CONN_DELETE:
        res = conn_delete(&st, bad, dl, err);
        break;
    case CONN_PING:
        res = conn_update_last_ping(&st, &c, dl, err);
        break;
    case CONN_LIST_USER:
        res = conn_list_by_user(&st, bad, 0, NULL, &cp, dl, err);
        break;
    case CONN_LIST_TENANT:
        res = conn_list_by_tenant(&st, bad, 0, NULL, &cp, dl, err);
        break;
    case REQ_ENQ_ID:
    case REQ_ENQ_CONN:
    case REQ_ENQ_USER:
    case REQ_ENQ_TENANT:
        res = req_enqueue(&st, &r, dl, err);
        break;
    case REQ_GET: {
        struct request out;
        res = req_get(&st, TENANT, id, bad, &out, dl, err);
        break;
    }
    case REQ_DELETE:
        res = req_delete(&st, TENANT, id, bad, dl, err);
        break;
    case REQ_STATUS:
        res = req_update_status(&st, &r, REQ_PROCESSING, dl, err);
        break;
    case REQ_PROGRESS:
        res = req_update_progress(&st, &r, 1, NULL, NULL, dl, err);
        break;
    case REQ_COMPLETE:
        res = req_complete(&st, &r, result, dl, err);
        break;
    case REQ_FAIL:
        res = req_fail(&st, &r, "x", dl, err);
        break;
    case REQ_CANCEL:
        res = req_cancel(&st, &r, dl, err);
        break;
    case REQ_LIST_CONN:
        res = req_list_by_connection(&st, bad, 0, NULL, &rp, dl, err);
        break;
    case REQ_LIST_USER:
        res = req_list_by_user(&st, bad, 0, NULL, &rp, dl, err);
        break;
    case SUB_SUB_CONN:
    case SUB_SUB_REQ:
        res = sub_subscribe(&st, &s, dl, err);
        break;
    case SUB_UNSUB_CONN:
        res = sub_unsubscribe(&st, bad, TENANT, id, id, dl, err);
        break;
    case SUB_UNSUB_REQ:
        res = sub_unsubscribe(&st, id, TENANT, id, bad, dl, err);
        break;
    case SUB_LIST_CONN:
        res = sub_list_by_connection(&st, bad, 0, NULL, &sp, dl, err);
        break;
    case SUB_LIST_REQ:
        res = sub_list_by_request(&st, TENANT, id, bad, 0, NULL, &sp, dl, err);
        break;
    case SUB_DELETE_CONN:
        res = sub_delete_by_connection(&st, bad, dl, NULL, err);
        break;
    case ID_OPS:
        break;
    }
    cJSON_Delete(result);
    conn_page_cleanup(&cp);
    req_page_cleanup(&rp);
    sub_page_cleanup(&sp);
    sub_cleanup(&s);
    req_cleanup(&r);
    conn_cleanup(&c);
    return res;
}

/* The three "keep" items, as stored. */
static cJSON *keep_items(void)
{
    cJSON *all = cJSON_CreateArray();
    cJSON_AddItemToArray(all, raw_conn("keep"));
    cJSON_AddItemToArray(all, raw_req("keep"));
    cJSON_AddItemToArray(all, raw_sub("keep", "keep"));
    return all;
}

START_TEST(invalid_ids_make_no_call)
{
    struct error_info err;
    save_conn("keep", "keep", "keep");
    struct request k;
    enqueue(&k, "keep", "keep", "keep");
    subscribe("keep", "keep", 0);
    cJSON *before = keep_items();

    char long_id[STORE_MAX_ID_BYTES + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    static const char *const bad[] = {"",
                                      "ab\x01"
                                      "cd",
                                      "line\nbreak",
                                      "tab\there",
                                      "del\x7f",
                                      "nel\xc2\x85",
                                      "bad\xffutf8",
                                      "cut\xc3"};
    for (int op = 0; op < ID_OPS; op++) {
        for (size_t i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
            const char *id =
                i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : long_id;
            error_clear(&err);
            long reads = clock_reads;
            enum result res = call_with_id((enum id_op)op, id, &err);
            ck_assert_msg(res == RESULT_INVALID_INPUT &&
                              strcmp(err.field, id_ops[op].field) == 0,
                          "%s(%s = bad id #%zu): got %s naming '%s'",
                          id_ops[op].name, id_ops[op].field, i, result_str(res),
                          err.field);
            ck_assert_msg(clock_reads == reads, "%s: a call was made",
                          id_ops[op].name);
        }
    }
    /* NULL where an id is required. */
    struct connection out;
    EXPECT_INVALID("connection_id",
                   conn_get(&st, NULL, &out, deadline(), &err));
    EXPECT_INVALID("request_id",
                   req_delete(&st, TENANT, "keep", NULL, deadline(), &err));
    EXPECT_INVALID("user_id",
                   req_delete(&st, TENANT, NULL, "keep", deadline(), &err));
    cJSON *after = keep_items();
    assert_unchanged(before, after);

    /* 128 bytes is the longest id, and it works everywhere. */
    long_id[STORE_MAX_ID_BYTES] = '\0';
    save_conn(long_id, long_id, long_id);
    struct request l;
    enqueue(&l, long_id, long_id, long_id);
    subscribe(long_id, long_id, 0);
    struct connection lc;
    EXPECT(RESULT_OK, conn_get(&st, long_id, &lc, deadline(), &err), err);
    ck_assert_str_eq(lc.connection_id, long_id);
    conn_cleanup(&lc);
    assert_req_stored(&l);
    cJSON *ls = raw_sub(long_id, long_id);
    ck_assert_ptr_nonnull(ls);
    cJSON_Delete(ls);
    req_cleanup(&l);
    req_cleanup(&k);
}
END_TEST

/* A JSON object {"blob": "<n × 'a'>"}. */
static cJSON *blob(size_t n)
{
    char *s = xmalloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "blob", s);
    free(s);
    return o;
}

START_TEST(invalid_values_make_no_call)
{
    struct error_info err;
    /* Payload: over 400 KB is refused; just under is stored whole. */
    struct request r;
    req_fill(&r, "big", "conn-1", "user-1");
    r.payload = blob(410 * 1024);
    EXPECT_INVALID("payload", req_enqueue(&st, &r, deadline(), &err));
    ck_assert_ptr_null(raw_req("big"));
    cJSON_Delete(r.payload);
    r.payload = blob(395 * 1024);
    EXPECT(RESULT_OK, req_enqueue(&st, &r, deadline(), &err), err);
    assert_req_stored(&r);
    req_cleanup(&r);

    struct request bad;
    req_fill(&bad, "v", "conn-1", "user-1");
    bad.payload = parse("[1,2]");
    EXPECT_INVALID("payload", req_enqueue(&st, &bad, deadline(), &err));
    cJSON_Delete(bad.payload);
    bad.payload = NULL;
    bad.max_retries = 11;
    EXPECT_INVALID("max_retries", req_enqueue(&st, &bad, deadline(), &err));
    bad.max_retries = 0;
    static const char *const actions[] = {
        "", "has space", "semi;colon", "\xc3\xa9t\xc3\xa9",
        "a1234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        free(bad.action);
        bad.action = xstrdup(actions[i]);
        EXPECT_INVALID("action", req_enqueue(&st, &bad, deadline(), &err));
    }
    ck_assert_ptr_null(raw_req("v"));
    req_cleanup(&bad);

    /* Result: over 400 KB alone, or with the payload, is refused. */
    struct request w;
    req_fill(&w, "w", "conn-1", "user-1");
    w.payload = blob(200 * 1024);
    EXPECT(RESULT_OK, req_enqueue(&st, &w, deadline(), &err), err);
    move(&w, REQ_PROCESSING);
    cJSON *before = raw_req("w");
    cJSON *huge = blob(410 * 1024), *half = blob(250 * 1024);
    cJSON *list = parse("[1]");
    EXPECT_INVALID("result", req_complete(&st, &w, huge, deadline(), &err));
    EXPECT_INVALID("result", req_complete(&st, &w, half, deadline(), &err));
    EXPECT_INVALID("result", req_complete(&st, &w, list, deadline(), &err));
    /* Result and payload alone would fit (409,590 bytes as the item
     * size rule counts them), not with the item's other attributes. */
    cJSON *edge = blob(409561 - 200 * 1024);
    EXPECT_INVALID("result", req_complete(&st, &w, edge, deadline(), &err));
    EXPECT_INVALID(
        "progress_details",
        req_update_progress(&st, &w, 5, NULL, edge, deadline(), &err));
    EXPECT_INVALID(
        "progress_details",
        req_update_progress(&st, &w, 5, NULL, huge, deadline(), &err));
    cJSON_Delete(edge);
    char msg[REQ_MAX_MESSAGE_BYTES + 2];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    EXPECT_INVALID(
        "progress_message",
        req_update_progress(&st, &w, 5, msg, NULL, deadline(), &err));
    EXPECT_INVALID(
        "progress_details",
        req_update_progress(&st, &w, 5, NULL, list, deadline(), &err));
    assert_unchanged(before, raw_req("w"));
    ck_assert_int_eq(w.status, REQ_PROCESSING);
    ck_assert_int_eq(w.version, 2);
    /* With room to spare, a big result is saved whole. */
    cJSON *fits = blob(195 * 1024);
    EXPECT(RESULT_OK, req_complete(&st, &w, fits, deadline(), &err), err);
    assert_req_stored(&w);
    cJSON_Delete(fits);
    cJSON_Delete(huge);
    cJSON_Delete(half);
    cJSON_Delete(list);
    req_cleanup(&w);

    /* Connections: metadata of strings only; endpoint length. */
    static const char *const metadata[] = {"{\"n\":1}", "{\"o\":{}}", "[\"x\"]",
                                           "{\"\":\"empty key\"}", NULL};
    for (size_t i = 0; i < sizeof(metadata) / sizeof(metadata[0]); i++) {
        struct connection c;
        conn_fill(&c, "m", "user-1", "tenant-1");
        if (metadata[i]) {
            c.metadata = parse(metadata[i]);
        } else { /* 33 entries: one too many */
            c.metadata = cJSON_CreateObject();
            for (int k = 0; k < 33; k++) {
                char name[16];
                snprintf(name, sizeof(name), "k%d", k);
                cJSON_AddStringToObject(c.metadata, name, "v");
            }
        }
        EXPECT_INVALID("metadata", conn_save(&st, &c, deadline(), &err));
        conn_cleanup(&c);
    }
    struct connection c;
    conn_fill(&c, "m", "user-1", "tenant-1");
    free(c.endpoint);
    c.endpoint = xmalloc(3000);
    memset(c.endpoint, 'e', 2999);
    c.endpoint[2999] = '\0';
    EXPECT_INVALID("endpoint", conn_save(&st, &c, deadline(), &err));
    conn_cleanup(&c);
    ck_assert_ptr_null(raw_conn("m"));

    /* Subscriptions: only known event types. */
    struct subscription s = {0};
    s.connection_id = xstrdup("conn-1");
    s.request_id = xstrdup("req-1");
    s.tenant_id = xstrdup(TENANT);
    s.user_id = xstrdup("user-1");
    s.event_types = 8;
    EXPECT_INVALID("event_types", sub_subscribe(&st, &s, deadline(), &err));
    ck_assert_ptr_null(raw_sub("conn-1", "req-1"));
    sub_cleanup(&s);
}
END_TEST

/* ---- Read back by the AWS CLI ---------------------------------------------
 */

/* The item at pk/sk as `aws dynamodb get-item` prints it (caller owns). */
static cJSON *cli_get_item(const char *table, const char *pk, const char *sk)
{
    ck_assert_msg(system("command -v aws >/dev/null 2>&1") == 0,
                  "the AWS CLI (aws) is not on PATH; scripts/deps installs "
                  "it (Debian's awscli)");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1"
             " AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null"
             " AWS_SHARED_CREDENTIALS_FILE=/dev/null"
             " AWS_EC2_METADATA_DISABLED=true"
             " aws dynamodb get-item --endpoint-url '%s' --table-name '%s'"
             " --consistent-read --output json --key "
             "'{\"pk\":{\"S\":\"%s\"},\"sk\":{\"S\":\"%s\"}}' 2>&1",
             ddb_local_endpoint(), table, pk, sk);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, len = 0;
    char *out = xmalloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - 1 - len, f)) > 0) {
        len += n;
        if (len == cap - 1)
            out = xrealloc(out, cap *= 2);
    }
    out[len] = '\0';
    int status = pclose(f);
    ck_assert_msg(status == 0, "aws dynamodb get-item failed (%d): %s", status,
                  out);
    cJSON *doc = cJSON_Parse(out);
    ck_assert_msg(doc != NULL, "aws printed no JSON: %s", out);
    free(out);
    cJSON *item = cJSON_DetachItemFromObject(doc, "Item");
    cJSON_Delete(doc);
    ck_assert_msg(item != NULL, "aws found no item at %s / %s", pk, sk);
    return item;
}

/* `item` has exactly the attributes "name:TYPE" of `shape`. */
static void assert_shape(const cJSON *item, const char *const *shape,
                         const char *what)
{
    int n = 0;
    for (; shape[n]; n++) {
        const char *colon = strchr(shape[n], ':');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(colon - shape[n]), shape[n]);
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(item, name);
        ck_assert_msg(av != NULL, "%s: no attribute %s", what, name);
        ck_assert_msg(av->child && !av->child->next &&
                          strcmp(av->child->string, colon + 1) == 0,
                      "%s: %s is %s, want %s", what, name,
                      av->child ? av->child->string : "?", colon + 1);
    }
    for (const cJSON *a = item->child; a; a = a->next) {
        int listed = 0;
        for (int i = 0; i < n; i++)
            listed |= strncmp(shape[i], a->string, strlen(a->string)) == 0 &&
                      shape[i][strlen(a->string)] == ':';
        ck_assert_msg(listed, "%s: unexpected attribute %s", what, a->string);
    }
}

static int is_timestamp(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(s) != sizeof(pattern) - 1)
        return 0;
    for (size_t i = 0; pattern[i]; i++)
        if (pattern[i] == 'd' ? !isdigit((unsigned char)s[i])
                              : s[i] != pattern[i])
            return 0;
    return 1;
}

/* Every S attribute named *_at, last_ping or retry_after is RFC 3339. */
static void assert_timestamps(const cJSON *item, const char *what)
{
    for (const cJSON *a = item->child; a; a = a->next) {
        size_t n = strlen(a->string);
        if ((n > 3 && strcmp(a->string + n - 3, "_at") == 0) ||
            strcmp(a->string, "last_ping") == 0 ||
            strncmp(a->string, "processing_", 11) == 0 ||
            strcmp(a->string, "retry_after") == 0)
            ck_assert_msg(is_timestamp(raw_s(item, a->string)), "%s: %s is %s",
                          what, a->string, raw_s(item, a->string));
    }
}

#define REQ_SHAPE                                                              \
    "pk:S", "sk:S", "request_id:S", "connection_id:S", "user_id:S",            \
        "tenant_id:S", "action:S", "payload:M", "status:S", "progress:N",      \
        "retry_count:N", "max_retries:N", "created_at:S", "updated_at:S",      \
        "version:N", "ttl:N"

START_TEST(aws_cli_reads_our_items)
{
    struct error_info err;
    struct connection c;
    conn_fill(&c, "cli-conn", "cli-user", "cli-tenant");
    c.metadata = parse("{\"source\":\"web\",\"lang\":\"en\"}");
    EXPECT(RESULT_OK, conn_save(&st, &c, deadline(), &err), err);
    tick();
    EXPECT(RESULT_OK, conn_update_last_ping(&st, &c, deadline(), &err), err);

    struct request ok, failed;
    req_fill(&ok, "cli-req-ok", "cli-conn", "cli-user");
    ok.payload = rich_payload();
    EXPECT(RESULT_OK, req_enqueue(&st, &ok, deadline(), &err), err);
    move(&ok, REQ_PROCESSING);
    snprintf(ok.retry_after, sizeof(ok.retry_after), "%s",
             "2030-01-01T00:05:00.000Z");
    move(&ok, REQ_RETRYING);
    move(&ok, REQ_PROCESSING);
    cJSON *details = parse("{\"step\":{\"n\":2}}");
    EXPECT(
        RESULT_OK,
        req_update_progress(&st, &ok, 40, "working", details, deadline(), &err),
        err);
    cJSON *result = parse("{\"answer\":{\"v\":[1,2]}}");
    EXPECT(RESULT_OK, req_complete(&st, &ok, result, deadline(), &err), err);
    enqueue(&failed, "cli-req-failed", "cli-conn", "cli-user");
    move(&failed, REQ_PROCESSING);
    EXPECT(RESULT_OK, req_fail(&st, &failed, "boom", deadline(), &err), err);
    subscribe("cli-conn", "cli-req-ok", SUB_PROGRESS | SUB_COMPLETE);

    cJSON *item =
        cli_get_item(st.connections_table, "CONN#cli-conn", "METADATA");
    static const char *const conn_shape[] = {"pk:S",
                                             "sk:S",
                                             "connection_id:S",
                                             "user_id:S",
                                             "tenant_id:S",
                                             "endpoint:S",
                                             "connected_at:S",
                                             "last_ping:S",
                                             "metadata:M",
                                             "created_at:S",
                                             "updated_at:S",
                                             "version:N",
                                             "ttl:N",
                                             NULL};
    assert_shape(item, conn_shape, "connection");
    assert_timestamps(item, "connection");
    const cJSON *m = item_get_m(item, "metadata");
    ck_assert_int_eq(cJSON_GetArraySize(m), 2);
    for (const cJSON *v = m->child; v; v = v->next)
        ck_assert_msg(item_get_s(m, v->string) != NULL, "metadata.%s not S",
                      v->string);
    ck_assert_str_eq(item_get_s(m, "source"), "web");
    ck_assert_str_eq(raw_s(item, "connection_id"), "cli-conn");
    ck_assert_int_eq(raw_n(item, "version"), 2);
    ck_assert_int_eq(raw_n(item, "ttl"), c.ttl);
    cJSON_Delete(item);

    item = cli_get_item(st.requests_table, "REQ#" TENANT "#cli-user#cli-req-ok",
                        "METADATA");
    static const char *const ok_shape[] = {REQ_SHAPE,
                                           "progress_message:S",
                                           "progress_details:M",
                                           "result:M",
                                           "retry_after:S",
                                           "processing_started:S",
                                           "processing_ended:S",
                                           NULL};
    assert_shape(item, ok_shape, "completed request");
    assert_timestamps(item, "completed request");
    ck_assert_str_eq(raw_s(item, "status"), "COMPLETED");
    ck_assert_int_eq(raw_n(item, "progress"), 100);
    ck_assert_int_eq(raw_n(item, "retry_count"), 1);
    ck_assert_int_eq(raw_n(item, "version"), ok.version);
    cJSON *payload = NULL;
    ck_assert(item_av_to_json(item_get_av(item, "payload"), "payload", &payload,
                              NULL) == RESULT_OK);
    ASSERT_JSON_SAME(ok.payload, payload);
    cJSON_Delete(payload);
    cJSON_Delete(item);

    item = cli_get_item(st.requests_table,
                        "REQ#" TENANT "#cli-user#cli-req-failed", "METADATA");
    static const char *const failed_shape[] = {REQ_SHAPE, "error:S",
                                               "processing_started:S",
                                               "processing_ended:S", NULL};
    assert_shape(item, failed_shape, "failed request");
    ck_assert_str_eq(raw_s(item, "error"), "boom");
    ck_assert_str_eq(raw_s(item, "status"), "FAILED");
    cJSON_Delete(item);

    item = cli_get_item(st.subscriptions_table, "CONN#cli-conn",
                        "SUB#" TENANT "#cli-user#cli-req-ok");
    static const char *const sub_shape[] = {"pk:S",
                                            "sk:S",
                                            "subscription_id:S",
                                            "connection_id:S",
                                            "request_id:S",
                                            "tenant_id:S",
                                            "user_id:S",
                                            "request_key:S",
                                            "event_types:SS",
                                            "created_at:S",
                                            "updated_at:S",
                                            "version:N",
                                            "ttl:N",
                                            NULL};
    assert_shape(item, sub_shape, "subscription");
    assert_timestamps(item, "subscription");
    ck_assert_str_eq(raw_s(item, "subscription_id"),
                     "cli-conn#" TENANT "#cli-user#cli-req-ok");
    ck_assert_str_eq(raw_s(item, "request_key"), TENANT "#cli-user#cli-req-ok");
    const cJSON *ev = item_get_ss(item, "event_types");
    ck_assert_int_eq(cJSON_GetArraySize(ev), 2);
    int progress = 0, complete = 0;
    for (const cJSON *v = ev->child; v; v = v->next) {
        progress += strcmp(v->valuestring, "progress") == 0;
        complete += strcmp(v->valuestring, "complete") == 0;
    }
    ck_assert(progress == 1 && complete == 1);
    cJSON_Delete(item);

    cJSON_Delete(details);
    cJSON_Delete(result);
    req_cleanup(&failed);
    req_cleanup(&ok);
    conn_cleanup(&c);
}
END_TEST

/* ---- No extra reads after a failed condition ------------------------------
 * Every conditional write asks ReturnValuesOnConditionCheckFailure =
 * ALL_OLD, and the ConditionalCheckFailedException answer carries the
 * item (or none when there is no item): the store tells "stale" from
 * "not found" and retries a subscription from that answer alone. The
 * proxy counts every call.
 */

/* Exactly `n` calls since the last reset, none of them a read. */
static void expect_calls(int n, int line)
{
    int reads = ddb_proxy_count(proxy, "GetItem") +
                ddb_proxy_count(proxy, "DescribeTable") +
                ddb_proxy_count(proxy, "Query");
    ck_assert_msg(ddb_proxy_count(proxy, NULL) == n && reads == 0,
                  "line %d: %d calls (%d reads), want %d and no read", line,
                  ddb_proxy_count(proxy, NULL), reads, n);
    ddb_proxy_reset(proxy);
}

START_TEST(failed_conditions_make_no_extra_read)
{
    struct error_info err;
    struct request r, stale;
    enqueue(&r, "req-x", "conn-1", "user-1");
    EXPECT(RESULT_OK, get_req("req-x", &stale, &err), err);
    move(&r, REQ_PROCESSING);
    ddb_proxy_reset(proxy);

    /* A stale version: one UpdateItem, told apart from a missing item by
     * the Item its failure carries. */
    stale.status = REQ_PROCESSING;
    EXPECT(RESULT_CONDITION_FAILED,
           req_update_progress(&st, &stale, 10, "x", NULL, deadline(), &err),
           err);
    expect_calls(1, __LINE__);
    EXPECT(RESULT_CONDITION_FAILED, req_cancel(&st, &stale, deadline(), &err),
           err);
    expect_calls(1, __LINE__);

    /* No item: the failure carries none, and that alone is NOT_FOUND. */
    struct request gone;
    req_fill(&gone, "req-gone", "conn-1", "user-1");
    gone.version = 1;
    EXPECT(RESULT_NOT_FOUND,
           req_update_status(&st, &gone, REQ_PROCESSING, deadline(), &err),
           err);
    expect_calls(1, __LINE__);

    /* A connection's ping at a stale version, and a missing one. */
    struct connection c, old_c;
    conn_fill(&c, "conn-1", "user-1", "tenant-1");
    EXPECT(RESULT_OK, conn_save(&st, &c, deadline(), &err), err);
    EXPECT(RESULT_OK, conn_get(&st, "conn-1", &old_c, deadline(), &err), err);
    tick();
    EXPECT(RESULT_OK, conn_update_last_ping(&st, &c, deadline(), &err), err);
    ddb_proxy_reset(proxy);
    EXPECT(RESULT_CONDITION_FAILED,
           conn_update_last_ping(&st, &old_c, deadline(), &err), err);
    expect_calls(1, __LINE__);
    EXPECT(RESULT_OK, conn_delete(&st, "conn-1", deadline(), &err), err);
    ddb_proxy_reset(proxy);
    EXPECT(RESULT_NOT_FOUND, conn_update_last_ping(&st, &c, deadline(), &err),
           err);
    expect_calls(1, __LINE__);

    /* Subscribing again: the failed put hands back the item, which the
     * update that replaces its event types is conditioned on. */
    subscribe("conn-1", "req-x", SUB_ALL);
    ddb_proxy_reset(proxy);
    subscribe("conn-1", "req-x", SUB_COMPLETE);
    expect_calls(2, __LINE__);
    cJSON *sub = raw_sub("conn-1", "req-x");
    ck_assert_int_eq(cJSON_GetArraySize(item_get_ss(sub, "event_types")), 1);
    cJSON_Delete(sub);

    /* The client itself: a failed PutItem gives the stored item back. */
    cJSON *item = raw_req("req-x");
    ddb_proxy_reset(proxy);
    struct ddb_write_opts o = {.condition = "attribute_not_exists(pk)",
                               .return_old_on_condition_failure = 1,
                               .deadline_ms = deadline()};
    cJSON *old = NULL;
    EXPECT(RESULT_CONDITION_FAILED,
           ddb_put_item(ddb, st.requests_table, item, &o, &old, &err), err);
    expect_calls(1, __LINE__);
    ASSERT_JSON_SAME(item, old);
    cJSON_Delete(old);
    cJSON_Delete(item);

    req_cleanup(&gone);
    conn_cleanup(&old_c);
    conn_cleanup(&c);
    req_cleanup(&stale);
    req_cleanup(&r);
}
END_TEST

/* ---- Suite ----------------------------------------------------------------
 */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    return tc;
}

/* The ids a due list gives, comma-joined, in order. */
static void due_ids(enum req_status status, int64_t at_ms, char *out,
                    size_t size)
{
    struct error_info err;
    char at[CLOCK_RFC3339_SIZE];
    ts_of(at_ms, at);
    struct req_page page = {0};
    EXPECT(RESULT_OK,
           req_list_due(&st, status, at, 0, NULL, &page, deadline(), &err),
           err);
    ck_assert_ptr_null(page.next_cursor);
    out[0] = '\0';
    for (size_t i = 0; i < page.count; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "",
                 page.items[i].request_id);
    req_page_cleanup(&page);
}

/*
 * Leases (docs/request-lifecycle.md): a claim stores the lease, a reclaim
 * is one conditional write that counts an attempt and replaces it, and
 * the due lists come from the status-index with their filters.
 */
START_TEST(req_leases_and_due_lists)
{
    struct error_info err;
    struct request pend, p, bare, past, future, none;
    enqueue(&pend, "due-pending", "conn-t", "user-t");
    EXPECT_INVALID("status", req_reclaim(&st, &pend, "2030-01-01T00:00:00.000Z",
                                         deadline(), &err));

    enqueue(&p, "due-proc", "conn-t", "user-t");
    ts_of(fake_ms + 30000, p.lease_expires);
    tick();
    move(&p, REQ_PROCESSING);
    struct request got;
    EXPECT(RESULT_OK, get_req("due-proc", &got, &err), err);
    ck_assert_str_eq(got.lease_expires, p.lease_expires);
    req_cleanup(&got);
    EXPECT_INVALID("lease_expires", req_reclaim(&st, &p, "", deadline(), &err));
    /* A stale version: refused, nothing written. */
    cJSON *before = raw_req("due-proc");
    p.version--;
    char lease[CLOCK_RFC3339_SIZE];
    ts_of(fake_ms + 40000, lease);
    EXPECT(RESULT_CONDITION_FAILED,
           req_reclaim(&st, &p, lease, deadline(), &err), err);
    p.version++;
    assert_unchanged(before, raw_req("due-proc"));
    tick();
    int64_t v = p.version;
    EXPECT(RESULT_OK, req_reclaim(&st, &p, lease, deadline(), &err), err);
    ck_assert_int_eq(p.version, v + 1);
    ck_assert_int_eq(p.retry_count, 1);
    ck_assert_str_eq(p.lease_expires, lease);
    assert_req_stored(&p);
    EXPECT(RESULT_OK, get_req("due-proc", &got, &err), err);
    ck_assert_str_eq(got.lease_expires, lease);
    req_cleanup(&got);

    /* PROCESSING without a lease, and three RETRYING ones. */
    enqueue(&bare, "due-bare", "conn-t", "user-t");
    tick();
    move(&bare, REQ_PROCESSING);
    struct request *retrying[] = {&past, &future, &none};
    const char *ids[] = {"due-retry-past", "due-retry-future",
                         "due-retry-none"};
    const int64_t after[] = {-1000, 60000, 0};
    for (int i = 0; i < 3; i++) {
        enqueue(retrying[i], ids[i], "conn-t", "user-t");
        tick();
        move(retrying[i], REQ_PROCESSING);
        if (after[i])
            ts_of(fake_ms + after[i], retrying[i]->retry_after);
        tick();
        move(retrying[i], REQ_RETRYING);
    }
    char list[512];
    due_ids(REQ_PROCESSING, fake_ms, list, sizeof(list));
    ck_assert_str_eq(list, "");
    due_ids(REQ_PROCESSING, fake_ms + 60000, list, sizeof(list));
    ck_assert_str_eq(list, "due-proc"); /* no lease: never listed */
    due_ids(REQ_RETRYING, fake_ms, list, sizeof(list));
    ck_assert_str_eq(list, "due-retry-past,due-retry-none"); /* oldest first */
    due_ids(REQ_RETRYING, fake_ms + 61000, list, sizeof(list));
    ck_assert_str_eq(list, "due-retry-past,due-retry-future,due-retry-none");
    struct req_page page = {0};
    EXPECT_INVALID("status", req_list_due(&st, REQ_PENDING, "2030", 0, NULL,
                                          &page, deadline(), &err));
    req_cleanup(&pend);
    req_cleanup(&p);
    req_cleanup(&bare);
    for (int i = 0; i < 3; i++)
        req_cleanup(retrying[i]);
}
END_TEST

Suite *stores_suite(void)
{
    Suite *s = suite_create("stores");
    TCase *tc = tcase(s, "tables");
    tcase_add_test(tc, tables_schema_and_idempotence);

    tc = tcase(s, "connections");
    tcase_add_test(tc, conn_save_get_delete);
    tcase_add_test(tc, conn_ping_versions);
    tcase_add_test(tc, conn_lists_and_pages);
    tcase_add_test(tc, conn_delete_stale_only);

    tc = tcase(s, "requests");
    tcase_add_test(tc, req_enqueue_get_delete);
    tcase_add_test(tc, req_enqueue_idempotent);
    tcase_add_test(tc, req_transition_table);
    tcase_add_test(tc, req_transition_needs_stored_status);
    tcase_add_test(tc, req_stale_version);
    tcase_add_test(tc, req_progress_complete_fail);
    tcase_add_test(tc, req_lists_and_pages);
    tcase_add_test(tc, req_ids_are_per_user);
    tcase_add_test(tc, req_inflight_counts_every_request);
    tcase_add_test(tc, req_leases_and_due_lists);

    tc = tcase(s, "subscriptions");
    tcase_add_test(tc, sub_subscribe_list_unsubscribe);
    tcase_add_test(tc, sub_pages_and_delete_by_connection);

    tc = tcase(s, "shared");
    tcase_add_test(tc, two_writers_one_wins);
    tcase_add_test(tc, ttl_values);
    tcase_add_test(tc, invalid_ids_make_no_call);
    tcase_add_test(tc, invalid_values_make_no_call);
    tcase_add_test(tc, aws_cli_reads_our_items);

    tc = tcase_create("no-extra-reads");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_proxied, teardown_proxied);
    tcase_add_test(tc, failed_conditions_make_no_extra_read);
    suite_add_tcase(s, tc);
    return s;
}

/* Tests of $connect, $disconnect, the sweeper and their metrics. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_fixture.h"
#include "clock.h"
#include "connect.h"
#include "connections.h"
#include "ddb_admin.h"
#include "disconnect.h"
#include "dispatch.h"
#include "requests.h"
#include "subscriptions.h"
#include "sweeper.h"
#include "tables.h"
#include "test_jwt.h"

#define DOMAIN "abcd1234.execute-api.us-east-1.amazonaws.com"
#define STAGE "prod"
#define SOURCE_IP "192.0.2.44"
#define USER_AGENT "Mozilla/5.0 (X11; Linux x86_64) streamer-test/1.0"
#define TENANTS "tenant-a,tenant-b"
#define OK_ANSWER "{\"statusCode\":200}"

/* Made once per test case in the parent (unchecked fixture). */
static EVP_PKEY *key, *other_key;
static char *pem;

static void keys_setup(void)
{
    key = test_jwt_key();
    other_key = test_jwt_key();
    pem = test_jwt_pem(key, 0);
}

static void keys_teardown(void)
{
    free(pem);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
}

/* An RS256 token for `sub` in `tenant` expiring `exp_in` s from now,
 * signed by `k`. Caller frees. */
static char *token_by(EVP_PKEY *k, const char *sub, const char *tenant,
                      long exp_in)
{
    long now = (long)(clock_now_ms() / 1000);
    char claims[512];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"tenant_id\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
             sub, tenant, now, now + exp_in);
    return test_jwt_token(k, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);
}

static char *token(const char *sub, const char *tenant)
{
    return token_by(key, sub, tenant, 3600);
}

/* Starts the app with the key, ALLOWED_TENANTS and `extra` settings
 * (name, value pairs ended by NULL). */
static void start(struct app_fixture *f, const char *const *extra)
{
    app_fixture_init(f);
    app_fixture_set(f, "JWT_PUBLIC_KEY", pem);
    app_fixture_set(f, "ALLOWED_TENANTS", TENANTS);
    for (const char *const *p = extra; p && *p; p += 2)
        app_fixture_set(f, p[0], p[1]);
    app_fixture_start(f);
}

/* ---- events, in the shapes API Gateway and EventBridge document ---- */

/* The members every WebSocket event's requestContext has. */
static cJSON *ws_event(const char *route, const char *type, const char *id,
                       int64_t connected_at)
{
    cJSON *e = cJSON_CreateObject();
    cJSON *ctx = cJSON_AddObjectToObject(e, "requestContext");
    int64_t now = clock_now_ms();
    cJSON_AddStringToObject(ctx, "routeKey", route);
    cJSON_AddStringToObject(ctx, "eventType", type);
    cJSON_AddStringToObject(ctx, "extendedRequestId", "Xq2ZnH0eIAMFvEA=");
    cJSON_AddStringToObject(ctx, "requestTime", "24/Nov/2026:10:00:00 +0000");
    cJSON_AddStringToObject(ctx, "messageDirection", "IN");
    cJSON_AddStringToObject(ctx, "stage", STAGE);
    cJSON_AddNumberToObject(ctx, "connectedAt", (double)connected_at);
    cJSON_AddNumberToObject(ctx, "requestTimeEpoch", (double)now);
    cJSON *identity = cJSON_AddObjectToObject(ctx, "identity");
    cJSON_AddStringToObject(identity, "userAgent", USER_AGENT);
    cJSON_AddStringToObject(identity, "sourceIp", SOURCE_IP);
    cJSON_AddStringToObject(ctx, "requestId", "Xq2ZnH0eIAMFvEA=");
    cJSON_AddStringToObject(ctx, "domainName", DOMAIN);
    cJSON_AddStringToObject(ctx, "connectionId", id);
    cJSON_AddStringToObject(ctx, "apiId", "abcd1234");
    cJSON_AddBoolToObject(e, "isBase64Encoded", 0);
    return e;
}

/* Adds a header to headers and multiValueHeaders (or only the latter). */
static void add_header(cJSON *e, const char *name, const char *value,
                       int multi_only)
{
    cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "headers");
    cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "multiValueHeaders");
    if (!h)
        h = cJSON_AddObjectToObject(e, "headers");
    if (!m)
        m = cJSON_AddObjectToObject(e, "multiValueHeaders");
    if (!multi_only)
        cJSON_AddStringToObject(h, name, value);
    cJSON *list = cJSON_AddArrayToObject(m, name);
    cJSON_AddItemToArray(list, cJSON_CreateString(value));
}

/* Adds a query parameter to queryStringParameters and
 * multiValueQueryStringParameters (or only the latter). */
static void add_query(cJSON *e, const char *name, const char *value,
                      int multi_only)
{
    cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "queryStringParameters");
    cJSON *m =
        cJSON_GetObjectItemCaseSensitive(e, "multiValueQueryStringParameters");
    if (!q)
        q = cJSON_AddObjectToObject(e, "queryStringParameters");
    if (!m)
        m = cJSON_AddObjectToObject(e, "multiValueQueryStringParameters");
    if (!multi_only)
        cJSON_AddStringToObject(q, name, value);
    cJSON *list = cJSON_AddArrayToObject(m, name);
    cJSON_AddItemToArray(list, cJSON_CreateString(value));
}

/* A $connect as API Gateway sends it, before any credentials. */
static cJSON *connect_event(const char *id)
{
    cJSON *e = ws_event("$connect", "CONNECT", id, clock_now_ms());
    add_header(e, "Host", DOMAIN, 0);
    add_header(e, "Sec-WebSocket-Extensions",
               "permessage-deflate; client_max_window_bits", 0);
    add_header(e, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", 0);
    add_header(e, "Sec-WebSocket-Version", "13", 0);
    add_header(e, "User-Agent", USER_AGENT, 0);
    add_header(e, "X-Amzn-Trace-Id", "Root=1-6740f9a0-0123456789abcdef", 0);
    add_header(e, "X-Forwarded-For", SOURCE_IP, 0);
    add_header(e, "X-Forwarded-Port", "443", 0);
    add_header(e, "X-Forwarded-Proto", "https", 0);
    return e;
}

static cJSON *disconnect_event(const char *id, int64_t connected_at)
{
    cJSON *e = ws_event("$disconnect", "DISCONNECT", id, connected_at);
    add_header(e, "Host", DOMAIN, 0);
    add_header(e, "x-api-key", "", 0);
    add_header(e, "X-Forwarded-For", "", 0);
    add_header(e, "x-restapi", "", 0);
    cJSON *ctx = cJSON_GetObjectItemCaseSensitive(e, "requestContext");
    cJSON_AddNumberToObject(ctx, "disconnectStatusCode", 1001);
    cJSON_AddStringToObject(ctx, "disconnectReason", "Going away");
    return e;
}

static cJSON *schedule_event(void)
{
    cJSON *e = cJSON_Parse(
        "{\"version\":\"0\",\"id\":\"89d1a02d-5ec7-412e-82f5-13505f849b41\","
        "\"detail-type\":\"Scheduled Event\",\"source\":\"aws.events\","
        "\"account\":\"123456789012\",\"time\":\"2026-11-24T10:00:00Z\","
        "\"region\":\"us-east-1\",\"resources\":[\"arn:aws:events:us-east-1:"
        "123456789012:rule/streamer-sweeper\"],\"detail\":{}}");
    ck_assert_ptr_nonnull(e);
    return e;
}

/* ---- calling a handler with stdout captured ---- */

struct outcome {
    enum result r;
    struct error_info err;
    char *answer; /* what the handler wrote into `out` */
    char *stdout_text;
};

static void outcome_cleanup(struct outcome *o)
{
    free(o->answer);
    free(o->stdout_text);
    memset(o, 0, sizeof(*o));
}

typedef enum result (*handler_fn)(struct app *a, const cJSON *event,
                                  int64_t deadline_ms, struct buf *out,
                                  struct error_info *err);

/* Everything the process writes on fd 1 between begin and end. */
struct capture {
    FILE *file;
    int saved_fd;
};

static void capture_begin(struct capture *c)
{
    fflush(stdout);
    c->file = tmpfile();
    ck_assert_ptr_nonnull(c->file);
    c->saved_fd = dup(STDOUT_FILENO);
    ck_assert_int_ge(c->saved_fd, 0);
    ck_assert_int_ge(dup2(fileno(c->file), STDOUT_FILENO), 0);
}

static char *capture_end(struct capture *c)
{
    fflush(stdout);
    ck_assert_int_ge(dup2(c->saved_fd, STDOUT_FILENO), 0);
    close(c->saved_fd);
    long n = ftell(c->file);
    ck_assert_int_ge(n, 0);
    char *text = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(text);
    rewind(c->file);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, c->file), (size_t)n);
    fclose(c->file);
    return text;
}

/* Calls `handler` directly, or through dispatch_handle when NULL. */
static struct outcome call(struct app_fixture *f, handler_fn handler,
                           const cJSON *event)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct buf out;
    buf_init(&out, RUNTIME_API_MAX_RESPONSE_BYTES);
    struct invocation inv;
    invocation_init(&inv);
    char *text = cJSON_PrintUnformatted(event);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(buf_appends(&inv.event, text), RESULT_OK);
    free(text);
    inv.deadline_ms = app_fixture_deadline();
    struct capture c;
    capture_begin(&c);
    if (handler)
        o.r = handler(&f->app, event, inv.deadline_ms, &out, &o.err);
    else
        o.r = dispatch_handle(&f->app, &inv, &out, &o.err);
    o.stdout_text = capture_end(&c);
    o.answer = buf_steal(&out);
    invocation_cleanup(&inv);
    return o;
}

/* ---- EMF lines ---- */

/* The stdout lines that are EMF records of `metric` (caller deletes). */
static cJSON *emf_records(const char *text, const char *metric)
{
    cJSON *found = cJSON_CreateArray();
    char *copy = strdup(text);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *aws = cJSON_GetObjectItemCaseSensitive(o, "_aws");
        const cJSON *d = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(aws, "CloudWatchMetrics"), 0);
        const cJSON *m = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(d, "Metrics"), 0);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "Name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, metric) == 0)
            cJSON_AddItemToArray(found, o);
        else
            cJSON_Delete(o);
    }
    free(copy);
    return found;
}

/*
 * Asserts `text` holds exactly one EMF record of `metric` and that it has
 * the structure the CloudWatch EMF specification requires: _aws.Timestamp
 * (epoch ms), one CloudWatchMetrics directive with Namespace, Dimensions
 * ([[dim]] or [[]]) and Metrics [{Name, Unit}], the value under the
 * metric's name and the dimension's value under its name.
 */
static void assert_emf(const char *text, const char *ns, const char *metric,
                       double value, const char *dim, const char *dim_value)
{
    cJSON *found = emf_records(text, metric);
    ck_assert_msg(cJSON_GetArraySize(found) == 1,
                  "%d EMF records of %s in:\n%s", cJSON_GetArraySize(found),
                  metric, text);
    const cJSON *o = found->child;
    const cJSON *aws = cJSON_GetObjectItemCaseSensitive(o, "_aws");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(aws, "Timestamp");
    ck_assert(cJSON_IsNumber(ts));
    ck_assert(fabs(ts->valuedouble - (double)clock_now_ms()) < 60000);
    const cJSON *dirs =
        cJSON_GetObjectItemCaseSensitive(aws, "CloudWatchMetrics");
    ck_assert_int_eq(cJSON_GetArraySize(dirs), 1);
    const cJSON *d = dirs->child;
    const cJSON *nsv = cJSON_GetObjectItemCaseSensitive(d, "Namespace");
    ck_assert(cJSON_IsString(nsv));
    ck_assert_str_eq(nsv->valuestring, ns);
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(d, "Dimensions");
    ck_assert_int_eq(cJSON_GetArraySize(dims), 1);
    const cJSON *set = dims->child;
    ck_assert(cJSON_IsArray(set));
    ck_assert_int_eq(cJSON_GetArraySize(set), dim ? 1 : 0);
    if (dim) {
        ck_assert(cJSON_IsString(set->child));
        ck_assert_str_eq(set->child->valuestring, dim);
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(o, dim);
        ck_assert(cJSON_IsString(dv));
        ck_assert_str_eq(dv->valuestring, dim_value);
    }
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(d, "Metrics");
    ck_assert_int_eq(cJSON_GetArraySize(metrics), 1);
    const cJSON *unit =
        cJSON_GetObjectItemCaseSensitive(metrics->child, "Unit");
    ck_assert(cJSON_IsString(unit));
    ck_assert_str_eq(unit->valuestring, "Count");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, metric);
    ck_assert(cJSON_IsNumber(v));
    ck_assert(v->valuedouble == value);
    cJSON_Delete(found);
}

static int emf_count(const char *text, const char *metric)
{
    cJSON *found = emf_records(text, metric);
    int n = cJSON_GetArraySize(found);
    cJSON_Delete(found);
    return n;
}

/* ---- the store, read back ---- */

/* Items in `table` (a Scan with Select COUNT). */
static int table_count(struct app_fixture *f, const char *table)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "TableName", table);
    cJSON_AddStringToObject(req, "Select", "COUNT");
    cJSON *resp = NULL;
    struct error_info err;
    enum result r =
        ddb_call(f->app.ddb, "Scan", req, app_fixture_deadline(), &resp, &err);
    cJSON_Delete(req);
    ck_assert_msg(r == RESULT_OK, "Scan: %s", err.message);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(resp, "Count");
    ck_assert(cJSON_IsNumber(n));
    int count = n->valueint;
    cJSON_Delete(resp);
    return count;
}

static int conn_exists(struct app_fixture *f, const char *id)
{
    struct connection c;
    struct error_info err;
    enum result r =
        conn_get(&f->app.store, id, &c, app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK || r == RESULT_NOT_FOUND, "conn_get: %s",
                  err.message);
    conn_cleanup(&c);
    return r == RESULT_OK;
}

static void save_conn(struct app_fixture *f, const char *id, const char *user)
{
    struct connection c;
    memset(&c, 0, sizeof(c));
    c.connection_id = (char *)id;
    c.user_id = (char *)user;
    c.tenant_id = (char *)"tenant-a";
    c.endpoint = (char *)DOMAIN "/" STAGE;
    struct error_info err;
    enum result r = conn_save(&f->app.store, &c, app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "conn_save %s: %s", id, err.message);
}

static void subscribe(struct app_fixture *f, const char *conn,
                      const char *request_id)
{
    struct subscription s;
    memset(&s, 0, sizeof(s));
    s.connection_id = (char *)conn;
    s.request_id = (char *)request_id;
    s.tenant_id = (char *)"tenant-a";
    s.user_id = (char *)"user-1";
    struct error_info err;
    enum result r =
        sub_subscribe(&f->app.store, &s, app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "sub_subscribe: %s", err.message);
    s.connection_id = s.request_id = s.tenant_id = s.user_id = NULL;
    sub_cleanup(&s);
}

static int sub_count(struct app_fixture *f, const char *conn)
{
    struct sub_page p;
    struct error_info err;
    enum result r = sub_list_by_connection(&f->app.store, conn, 0, NULL, &p,
                                           app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "sub_list_by_connection: %s", err.message);
    int n = (int)p.count;
    sub_page_cleanup(&p);
    return n;
}

/* Enqueues request `id` for `conn` and moves it on to `status`
 * (PENDING, PROCESSING or COMPLETED). */
static void enqueue(struct app_fixture *f, const char *id, const char *conn,
                    enum req_status status)
{
    struct request q;
    memset(&q, 0, sizeof(q));
    q.request_id = strdup(id);
    q.connection_id = strdup(conn);
    q.user_id = strdup("user-1");
    q.tenant_id = strdup("tenant-a");
    q.action = strdup("report");
    struct error_info err;
    int64_t dl = app_fixture_deadline();
    enum result r = req_enqueue(&f->app.store, &q, dl, &err);
    ck_assert_msg(r == RESULT_OK, "req_enqueue %s: %s", id, err.message);
    if (status != REQ_PENDING) {
        r = req_update_status(&f->app.store, &q, REQ_PROCESSING, dl, &err);
        ck_assert_msg(r == RESULT_OK, "to PROCESSING: %s", err.message);
    }
    if (status == REQ_COMPLETED) {
        cJSON *result = cJSON_CreateObject();
        r = req_complete(&f->app.store, &q, result, dl, &err);
        cJSON_Delete(result);
        ck_assert_msg(r == RESULT_OK, "req_complete: %s", err.message);
    }
    req_cleanup(&q);
}

static enum req_status status_of(struct app_fixture *f, const char *id)
{
    struct request q;
    struct error_info err;
    enum result r =
        req_get(&f->app.store, "tenant-a", "user-1", id, &q,
                app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "req_get %s: %s", id, err.message);
    enum req_status s = q.status;
    req_cleanup(&q);
    return s;
}

/* ---- $connect ---- */

/* Asserts the connection `id` was saved for user-1 in tenant-a with
 * everything $connect knows about it. */
static void assert_saved(struct app_fixture *f, const char *id,
                         const char *user, const char *tenant,
                         int64_t connected_at)
{
    struct connection c;
    struct error_info err;
    enum result r =
        conn_get(&f->app.store, id, &c, app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "conn_get %s: %s %s", id, result_str(r),
                  err.message);
    ck_assert_str_eq(c.connection_id, id);
    ck_assert_str_eq(c.user_id, user);
    ck_assert_str_eq(c.tenant_id, tenant);
    ck_assert_str_eq(c.endpoint, DOMAIN "/" STAGE);
    const cJSON *ua =
        cJSON_GetObjectItemCaseSensitive(c.metadata, "user_agent");
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(c.metadata, "source_ip");
    ck_assert(cJSON_IsString(ua));
    ck_assert_str_eq(ua->valuestring, USER_AGENT);
    ck_assert(cJSON_IsString(ip));
    ck_assert_str_eq(ip->valuestring, SOURCE_IP);
    char want[CLOCK_RFC3339_SIZE];
    clock_rfc3339(connected_at, want);
    ck_assert_str_eq(c.connected_at, want);
    ck_assert_int_eq(c.version, 1);
    ck_assert(c.last_ping[0] != '\0');
    int64_t ttl_want = clock_now_ms() / 1000 + 24 * 3600;
    ck_assert_msg(llabs((long long)(c.ttl - ttl_want)) < 120,
                  "ttl %lld, want about %lld", (long long)c.ttl,
                  (long long)ttl_want);
    conn_cleanup(&c);
}

/* Where a $connect carries its token. */
enum placement {
    QUERY_AUTHORIZATION,
    QUERY_TOKEN,
    QUERY_TOKEN_MULTI_ONLY,
    HEADER_BEARER,
    HEADER_BEARER_MULTI_ONLY,
    HEADER_BEARER_LOWER,
};

static const char *const placement_names[] = {
    "?Authorization=",
    "?token=",
    "?token= (multi-value only)",
    "Authorization: Bearer",
    "Authorization: Bearer (multi-value only)",
    "authorization: bearer",
};

static void place_token(cJSON *e, enum placement where, const char *tok)
{
    char bearer[4096];
    snprintf(bearer, sizeof(bearer), "%s%s",
             where == HEADER_BEARER_LOWER ? "bearer " : "Bearer ", tok);
    switch (where) {
    case QUERY_AUTHORIZATION:
        add_query(e, "Authorization", tok, 0);
        break;
    case QUERY_TOKEN:
        add_query(e, "token", tok, 0);
        break;
    case QUERY_TOKEN_MULTI_ONLY:
        add_query(e, "token", tok, 1);
        break;
    case HEADER_BEARER:
        add_header(e, "Authorization", bearer, 0);
        break;
    case HEADER_BEARER_MULTI_ONLY:
        add_header(e, "Authorization", bearer, 1);
        break;
    case HEADER_BEARER_LOWER:
        add_header(e, "authorization", bearer, 0);
        break;
    }
}

START_TEST(connect_with_token)
{
    /* Each placement of the token, each through its own connection; the
     * header forms go through dispatch_handle, the others direct. */
    struct app_fixture f;
    start(&f, NULL);
    int n = (int)(sizeof(placement_names) / sizeof(placement_names[0]));
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "Conn%dAbCdEf0=", i);
        char user[32];
        snprintf(user, sizeof(user), "user-%d", i);
        char *tok = token(user, "tenant-b");
        cJSON *e = connect_event(id);
        place_token(e, (enum placement)i, tok);
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(e, "requestContext"),
            "connectedAt");
        int64_t connected_at = (int64_t)at->valuedouble;
        struct outcome o =
            call(&f, i >= HEADER_BEARER ? NULL : connect_handle, e);
        ck_assert_msg(o.r == RESULT_OK, "%s: %s", placement_names[i],
                      o.err.message);
        ck_assert_msg(strcmp(o.answer, OK_ANSWER) == 0, "%s: answer %s",
                      placement_names[i], o.answer);
        assert_saved(&f, id, user, "tenant-b", connected_at);
        assert_emf(o.stdout_text, "Streamer", "ConnectionEstablished", 1, NULL,
                   NULL);
        ck_assert_int_eq(emf_count(o.stdout_text, "AuthenticationFailed"), 0);
        /* The token itself never reaches the log. */
        ck_assert_ptr_null(strstr(o.stdout_text, tok));
        outcome_cleanup(&o);
        cJSON_Delete(e);
        free(tok);
    }
    ck_assert_int_eq(table_count(&f, f.connections), n);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(connect_user_agent_from_identity)
{
    /* Without a User-Agent header, requestContext.identity.userAgent. */
    struct app_fixture f;
    start(&f, NULL);
    char *tok = token("user-1", "tenant-a");
    cJSON *e = connect_event("UaConn0=");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(e, "headers"), "User-Agent");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(e, "multiValueHeaders"),
                               "User-Agent");
    add_query(e, "token", tok, 0);
    int64_t at = (int64_t)cJSON_GetObjectItem(
                     cJSON_GetObjectItem(e, "requestContext"), "connectedAt")
                     ->valuedouble;
    struct outcome o = call(&f, connect_handle, e);
    ck_assert_str_eq(o.answer, OK_ANSWER);
    assert_saved(&f, "UaConn0=", "user-1", "tenant-a", at);
    outcome_cleanup(&o);
    cJSON_Delete(e);
    free(tok);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(connect_long_user_agent)
{
    /* The User-Agent is the client's to choose and API Gateway passes up
     * to 10 KB of headers: a long one is cut (on a UTF-8 boundary), never
     * a reason to refuse the connection. */
    struct app_fixture f;
    start(&f, NULL);
    char ua[6001];
    for (size_t i = 0; i < 6000; i += 3)
        memcpy(ua + i, "\xe2\x82\xac", 3); /* U+20AC, three bytes each */
    ua[6000] = '\0';
    char *tok = token("user-1", "tenant-a");
    cJSON *e = connect_event("LongUa0=");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(e, "headers"), "User-Agent",
                              cJSON_CreateString(ua));
    add_query(e, "Authorization", tok, 0);
    struct outcome o = call(&f, connect_handle, e);
    ck_assert_msg(strcmp(o.answer, OK_ANSWER) == 0, "answer %s", o.answer);
    struct connection c;
    struct error_info err;
    ck_assert_int_eq(
        conn_get(&f.app.store, "LongUa0=", &c, app_fixture_deadline(), &err),
        RESULT_OK);
    const cJSON *got = cJSON_GetObjectItem(c.metadata, "user_agent");
    ck_assert(cJSON_IsString(got));
    size_t n = strlen(got->valuestring);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_lt(n, 2048);
    ck_assert_uint_eq(n % 3, 0);
    ck_assert(strncmp(got->valuestring, ua, n) == 0);
    conn_cleanup(&c);
    outcome_cleanup(&o);
    cJSON_Delete(e);
    free(tok);
    app_fixture_stop(&f);
}
END_TEST

/* A refused $connect: how its credentials look, and the logged reason. */
struct refusal {
    const char *name;
    const char *query_token; /* ?Authorization=, or NULL */
    const char *header;      /* Authorization header, or NULL */
    const char *auth_user;   /* authorizer principalId, or NULL */
    const char *auth_tenant;
    const char *reason; /* AuthenticationFailed's reason dimension */
};

START_TEST(connect_refused)
{
    struct app_fixture f;
    start(&f, (const char *const[]){"METRICS_NAMESPACE", "StreamerTest", NULL});
    char *expired = token_by(key, "user-1", "tenant-a", -3600);
    char *foreign = token_by(other_key, "user-1", "tenant-a", 3600);
    char *wrong_tenant = token("user-1", "tenant-z");
    /* Signed by the right key, but no store id can hold it. */
    char *control_sub = token("user\\u0001x", "tenant-a");
    char foreign_bearer[4096];
    snprintf(foreign_bearer, sizeof(foreign_bearer), "Bearer %s", foreign);
    char *none = NULL;
    {
        char *h =
            test_jwt_b64url("{\"alg\":\"none\"}", strlen("{\"alg\":\"none\"}"));
        char *good = token("user-1", "tenant-a");
        char *claims = strchr(good, '.') + 1;
        *strchr(claims, '.') = '\0';
        char *hc = test_jwt_join(h, claims);
        none = test_jwt_join(hc, "");
        free(h);
        free(good);
        free(hc);
    }
    const struct refusal rows[] = {
        {"no token", NULL, NULL, NULL, NULL, "missing_token"},
        {"garbage token", "not-a-jwt", NULL, NULL, NULL, "malformed"},
        {"expired token", expired, NULL, NULL, NULL, "expired"},
        {"token by another key", NULL, foreign_bearer, NULL, NULL,
         "bad_signature"},
        {"alg none", none, NULL, NULL, NULL, "bad_alg"},
        {"empty bearer", NULL, "Bearer ", NULL, NULL, "missing_token"},
        {"tenant not allowed", wrong_tenant, NULL, NULL, NULL,
         "tenant_not_allowed"},
        {"authorizer tenant not allowed", NULL, NULL, "user-9", "tenant-z",
         "tenant_not_allowed"},
        {"authorizer without tenant", NULL, NULL, "user-9", NULL,
         "missing_token"},
        {"sub with a control character", control_sub, NULL, NULL, NULL,
         "invalid_identity"},
        {"authorizer user with a newline", NULL, NULL, "user\n9", "tenant-a",
         "invalid_identity"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct refusal *r = &rows[i];
        char id[32];
        snprintf(id, sizeof(id), "Refused%zu=", i);
        cJSON *e = connect_event(id);
        if (r->query_token)
            add_query(e, "Authorization", r->query_token, 0);
        if (r->header)
            add_header(e, "Authorization", r->header, 0);
        if (r->auth_user) {
            cJSON *a = cJSON_AddObjectToObject(
                cJSON_GetObjectItem(e, "requestContext"), "authorizer");
            cJSON_AddStringToObject(a, "principalId", r->auth_user);
            if (r->auth_tenant)
                cJSON_AddStringToObject(a, "tenantId", r->auth_tenant);
        }
        struct outcome o = call(&f, i % 2 ? NULL : connect_handle, e);
        ck_assert_msg(o.r == RESULT_OK, "%s: %s", r->name, o.err.message);
        cJSON *answer = cJSON_Parse(o.answer);
        const cJSON *code = cJSON_GetObjectItem(answer, "statusCode");
        const cJSON *body = cJSON_GetObjectItem(answer, "body");
        ck_assert_msg(cJSON_IsNumber(code) && code->valueint == 401,
                      "%s: answer %s", r->name, o.answer);
        ck_assert_int_eq(cJSON_GetArraySize(answer), 2);
        ck_assert(cJSON_IsString(body));
        ck_assert_str_eq(body->valuestring,
                         "{\"error\":\"Unauthorized\",\"code\":"
                         "\"UNAUTHORIZED\"}");
        cJSON_Delete(answer);
        assert_emf(o.stdout_text, "StreamerTest", "AuthenticationFailed", 1,
                   "reason", r->reason);
        ck_assert_int_eq(emf_count(o.stdout_text, "ConnectionEstablished"), 0);
        ck_assert_msg(!conn_exists(&f, id), "%s: saved", r->name);
        /* The reason is logged; the credentials are not. */
        ck_assert_msg(strstr(o.stdout_text, r->reason) != NULL,
                      "%s: reason not logged", r->name);
        if (r->query_token && strlen(r->query_token) > 20)
            ck_assert_msg(!strstr(o.stdout_text, r->query_token),
                          "%s: token logged", r->name);
        outcome_cleanup(&o);
        cJSON_Delete(e);
    }
    ck_assert_int_eq(table_count(&f, f.connections), 0);
    free(expired);
    free(foreign);
    free(wrong_tenant);
    free(control_sub);
    free(none);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(connect_with_authorizer)
{
    /* A Lambda authorizer's context wins over any token: principalId, or
     * userId when there is none, with tenantId. */
    struct app_fixture f;
    start(&f, NULL);
    static const struct {
        const char *id, *user_key, *user, *tenant;
    } rows[] = {
        {"AuthzA=", "principalId", "user-7", "tenant-a"},
        {"AuthzB=", "userId", "user-8", "tenant-b"},
    };
    char *tok = token("someone-else", "tenant-a");
    for (size_t i = 0; i < 2; i++) {
        cJSON *e = connect_event(rows[i].id);
        cJSON *a = cJSON_AddObjectToObject(
            cJSON_GetObjectItem(e, "requestContext"), "authorizer");
        cJSON_AddStringToObject(a, rows[i].user_key, rows[i].user);
        cJSON_AddStringToObject(a, "tenantId", rows[i].tenant);
        cJSON_AddNumberToObject(a, "integrationLatency", 12);
        if (i == 0)
            add_query(e, "token", tok, 0);
        int64_t at =
            (int64_t)cJSON_GetObjectItem(
                cJSON_GetObjectItem(e, "requestContext"), "connectedAt")
                ->valuedouble;
        struct outcome o = call(&f, connect_handle, e);
        ck_assert_str_eq(o.answer, OK_ANSWER);
        assert_saved(&f, rows[i].id, rows[i].user, rows[i].tenant, at);
        assert_emf(o.stdout_text, "Streamer", "ConnectionEstablished", 1, NULL,
                   NULL);
        outcome_cleanup(&o);
        cJSON_Delete(e);
    }
    free(tok);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(connect_without_key)
{
    /* No JWT_PUBLIC_KEY: only an authorizer context can let anyone in. */
    struct app_fixture f;
    app_fixture_init(&f);
    app_fixture_start(&f);
    char *tok = token("user-1", "tenant-a");
    cJSON *e = connect_event("NoKey0=");
    add_query(e, "token", tok, 0);
    struct outcome o = call(&f, connect_handle, e);
    ck_assert_ptr_nonnull(strstr(o.answer, "\"statusCode\":401"));
    assert_emf(o.stdout_text, "Streamer", "AuthenticationFailed", 1, "reason",
               "no_key");
    ck_assert(!conn_exists(&f, "NoKey0="));
    outcome_cleanup(&o);
    cJSON *a = cJSON_AddObjectToObject(cJSON_GetObjectItem(e, "requestContext"),
                                       "authorizer");
    cJSON_AddStringToObject(a, "principalId", "user-5");
    cJSON_AddStringToObject(a, "tenantId", "anything");
    o = call(&f, connect_handle, e);
    ck_assert_str_eq(o.answer, OK_ANSWER);
    ck_assert(conn_exists(&f, "NoKey0="));
    outcome_cleanup(&o);
    cJSON_Delete(e);
    free(tok);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(connect_store_failure)
{
    struct app_fixture f;
    start(&f, NULL);
    struct error_info err;
    enum result r = ddb_delete_table(f.app.ddb, f.connections,
                                     app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "DeleteTable: %s", err.message);
    char *tok = token("user-1", "tenant-a");
    cJSON *e = connect_event("Lost0=");
    add_query(e, "Authorization", tok, 0);
    struct outcome o = call(&f, connect_handle, e);
    ck_assert_int_eq(o.r, RESULT_OK);
    cJSON *answer = cJSON_Parse(o.answer);
    const cJSON *code = cJSON_GetObjectItem(answer, "statusCode");
    ck_assert_msg(cJSON_IsNumber(code) && code->valueint == 500, "answer %s",
                  o.answer);
    cJSON_Delete(answer);
    ck_assert_int_eq(emf_count(o.stdout_text, "ConnectionEstablished"), 0);
    ck_assert_int_eq(emf_count(o.stdout_text, "AuthenticationFailed"), 0);
    outcome_cleanup(&o);
    cJSON_Delete(e);
    free(tok);
    app_fixture_stop(&f);
}
END_TEST

/* ---- $disconnect ---- */

START_TEST(disconnect_cleans_up)
{
    struct app_fixture f;
    start(&f, NULL);
    save_conn(&f, "Leaving0=", "user-1");
    save_conn(&f, "Staying0=", "user-1");
    subscribe(&f, "Leaving0=", "req-p1");
    subscribe(&f, "Leaving0=", "req-run");
    subscribe(&f, "Staying0=", "req-p1");
    enqueue(&f, "req-p1", "Leaving0=", REQ_PENDING);
    enqueue(&f, "req-p2", "Leaving0=", REQ_PENDING);
    enqueue(&f, "req-run", "Leaving0=", REQ_PROCESSING);
    enqueue(&f, "req-done", "Leaving0=", REQ_COMPLETED);
    enqueue(&f, "req-other", "Staying0=", REQ_PENDING);

    cJSON *e = disconnect_event("Leaving0=", clock_now_ms() - 90000);
    struct outcome o = call(&f, NULL, e);
    ck_assert_msg(o.r == RESULT_OK, "%s", o.err.message);
    ck_assert_str_eq(o.answer, OK_ANSWER);
    ck_assert(!conn_exists(&f, "Leaving0="));
    ck_assert_int_eq(sub_count(&f, "Leaving0="), 0);
    ck_assert(conn_exists(&f, "Staying0="));
    ck_assert_int_eq(sub_count(&f, "Staying0="), 1);
    ck_assert_int_eq(status_of(&f, "req-p1"), REQ_CANCELLED);
    ck_assert_int_eq(status_of(&f, "req-p2"), REQ_CANCELLED);
    /* A running request is its processor's to finish or fail. */
    ck_assert_int_eq(status_of(&f, "req-run"), REQ_PROCESSING);
    ck_assert_int_eq(status_of(&f, "req-done"), REQ_COMPLETED);
    ck_assert_int_eq(status_of(&f, "req-other"), REQ_PENDING);
    /* How long it lasted is logged (90 s, give or take a slow machine). */
    const char *lasted = strstr(o.stdout_text, "lastedSeconds=");
    ck_assert_msg(lasted != NULL, "no lastedSeconds in:\n%s", o.stdout_text);
    long s = strtol(lasted + strlen("lastedSeconds="), NULL, 10);
    ck_assert_msg(s >= 90 && s < 150, "lastedSeconds=%ld", s);
    ck_assert_ptr_nonnull(strstr(o.stdout_text, "cancelledRequests=2"));
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(disconnect_many_pending)
{
    /* More PENDING requests than one page of the connection-index. */
    struct app_fixture f;
    start(&f, NULL);
    save_conn(&f, "Busy0=", "user-1");
    enum { N = STORE_MAX_PAGE + 15 };
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "bulk-%03d", i);
        enqueue(&f, id, "Busy0=", REQ_PENDING);
    }
    cJSON *e = disconnect_event("Busy0=", clock_now_ms() - 1000);
    struct outcome o = call(&f, disconnect_handle, e);
    ck_assert_str_eq(o.answer, OK_ANSWER);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "bulk-%03d", i);
        ck_assert_msg(status_of(&f, id) == REQ_CANCELLED, "%s not cancelled",
                      id);
    }
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(disconnect_unknown_or_failing)
{
    /* API Gateway ignores the answer, so it is 200 whatever happened: a
     * connection never seen, and a store with no tables at all. */
    struct app_fixture f;
    start(&f, NULL);
    cJSON *e = disconnect_event("NeverSeen0=", clock_now_ms() - 5000);
    struct outcome o = call(&f, disconnect_handle, e);
    ck_assert_int_eq(o.r, RESULT_OK);
    ck_assert_str_eq(o.answer, OK_ANSWER);
    outcome_cleanup(&o);
    struct error_info err;
    ck_assert_int_eq(
        tables_delete_all(&f.app.store, app_fixture_deadline(), &err),
        RESULT_OK);
    o = call(&f, NULL, e);
    ck_assert_int_eq(o.r, RESULT_OK);
    ck_assert_str_eq(o.answer, OK_ANSWER);
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

/* ---- the sweeper ---- */

/* The store's clock, moved by `shift_ms`, to save connections in the past. */
static int64_t shift_ms;

static int64_t shifted_now(void)
{
    return clock_now_ms() + shift_ms;
}

/* Saves connection `id` as if it was last heard `age_s` seconds ago. */
static void save_aged(struct app_fixture *f, const char *id, long age_s)
{
    shift_ms = -(int64_t)age_s * 1000;
    f->app.store.now_ms = shifted_now;
    save_conn(f, id, "user-1");
    f->app.store.now_ms = clock_now_ms;
}

START_TEST(sweeper_removes_stale)
{
    struct app_fixture f;
    start(&f, (const char *const[]){"STALE_AFTER_SECONDS", "600", NULL});
    save_aged(&f, "Stale1=", 3 * 3600);
    save_aged(&f, "Stale2=", 700);
    save_aged(&f, "Stale3=", 605);
    save_aged(&f, "Fresh1=", 500);
    save_aged(&f, "Fresh2=", 0);
    subscribe(&f, "Stale1=", "req-a");
    subscribe(&f, "Stale1=", "req-b");
    subscribe(&f, "Fresh1=", "req-a");

    cJSON *e = schedule_event();
    struct outcome o = call(&f, NULL, e);
    ck_assert_msg(o.r == RESULT_OK, "%s", o.err.message);
    ck_assert_str_eq(o.answer, "{\"removed\":3,\"abandoned\":0}");
    ck_assert(!conn_exists(&f, "Stale1="));
    ck_assert(!conn_exists(&f, "Stale2="));
    ck_assert(!conn_exists(&f, "Stale3="));
    ck_assert(conn_exists(&f, "Fresh1="));
    ck_assert(conn_exists(&f, "Fresh2="));
    ck_assert_int_eq(sub_count(&f, "Stale1="), 0);
    ck_assert_int_eq(sub_count(&f, "Fresh1="), 1);
    assert_emf(o.stdout_text, "Streamer", "StaleConnectionsRemoved", 3, NULL,
               NULL);
    outcome_cleanup(&o);

    /* Nothing left to sweep. */
    o = call(&f, sweeper_handle, e);
    ck_assert_int_eq(o.r, RESULT_OK);
    ck_assert_str_eq(o.answer, "{\"removed\":0,\"abandoned\":0}");
    ck_assert(conn_exists(&f, "Fresh1="));
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(sweeper_default_age)
{
    /* STALE_AFTER_SECONDS unset: two hours, API Gateway's longest
     * connection; a ping refreshes a connection out of reach. */
    struct app_fixture f;
    start(&f, (const char *const[]){"METRICS_NAMESPACE", "Sweep/Test", NULL});
    save_aged(&f, "Old=", 7200 + 120);
    save_aged(&f, "Pinged=", 7200 + 120);
    save_aged(&f, "Young=", 7200 - 120);
    struct connection c;
    struct error_info err;
    ck_assert_int_eq(
        conn_get(&f.app.store, "Pinged=", &c, app_fixture_deadline(), &err),
        RESULT_OK);
    ck_assert_int_eq(
        conn_update_last_ping(&f.app.store, &c, app_fixture_deadline(), &err),
        RESULT_OK);
    conn_cleanup(&c);
    cJSON *e = schedule_event();
    struct outcome o = call(&f, sweeper_handle, e);
    ck_assert_str_eq(o.answer, "{\"removed\":1,\"abandoned\":0}");
    ck_assert(!conn_exists(&f, "Old="));
    ck_assert(conn_exists(&f, "Pinged="));
    ck_assert(conn_exists(&f, "Young="));
    assert_emf(o.stdout_text, "Sweep/Test", "StaleConnectionsRemoved", 1, NULL,
               NULL);
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

START_TEST(sweeper_store_failure)
{
    /* A failed sweep is an error, so the scheduler's retry runs it again. */
    struct app_fixture f;
    start(&f, NULL);
    struct error_info err;
    ck_assert_int_eq(ddb_delete_table(f.app.ddb, f.connections,
                                      app_fixture_deadline(), &err),
                     RESULT_OK);
    cJSON *e = schedule_event();
    struct outcome o = call(&f, NULL, e);
    ck_assert_int_ne(o.r, RESULT_OK);
    ck_assert(o.err.message[0] != '\0');
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

/* ---- dispatch ---- */

START_TEST(dispatch_routes_messages_and_refuses_unknown)
{
    /* A MESSAGE reaches the action router (ping answers pong on the route
     * response); an event of no known shape, or not JSON, is an error. */
    struct app_fixture f;
    start(&f, NULL);
    save_conn(&f, "Msg0=", "user-1");
    cJSON *e = ws_event("$default", "MESSAGE", "Msg0=", clock_now_ms());
    cJSON_AddStringToObject(cJSON_GetObjectItem(e, "requestContext"),
                            "messageId", "Xq2Zn0eIAMF=");
    cJSON_AddStringToObject(e, "body", "{\"action\":\"ping\"}");
    struct outcome o = call(&f, NULL, e);
    ck_assert_msg(o.r == RESULT_OK, "%s", o.err.message);
    cJSON *answer = cJSON_Parse(o.answer);
    const cJSON *code = cJSON_GetObjectItem(answer, "statusCode");
    const cJSON *body = cJSON_GetObjectItem(answer, "body");
    ck_assert_msg(cJSON_IsNumber(code) && code->valueint == 200, "%s",
                  o.answer);
    ck_assert(cJSON_IsString(body));
    cJSON *reply = cJSON_Parse(body->valuestring);
    const cJSON *type = cJSON_GetObjectItem(reply, "type");
    ck_assert(cJSON_IsString(type));
    ck_assert_str_eq(type->valuestring, "pong");
    cJSON_Delete(reply);
    cJSON_Delete(answer);
    outcome_cleanup(&o);
    cJSON_Delete(e);

    e = cJSON_Parse("{\"source\":\"aws.ec2\",\"detail-type\":\"x\"}");
    o = call(&f, NULL, e);
    ck_assert_int_eq(o.r, RESULT_UNSUPPORTED);
    ck_assert_str_eq(o.err.type, "Runtime.UnknownEvent");
    outcome_cleanup(&o);
    cJSON_Delete(e);
    app_fixture_stop(&f);
}
END_TEST

Suite *connect_suite(void)
{
    Suite *s = suite_create("connect");
    TCase *t = tcase_create("connect");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, keys_setup, keys_teardown);
    tcase_add_test(t, connect_with_token);
    tcase_add_test(t, connect_user_agent_from_identity);
    tcase_add_test(t, connect_long_user_agent);
    tcase_add_test(t, connect_refused);
    tcase_add_test(t, connect_with_authorizer);
    tcase_add_test(t, connect_without_key);
    tcase_add_test(t, connect_store_failure);
    suite_add_tcase(s, t);

    t = tcase_create("disconnect");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, keys_setup, keys_teardown);
    tcase_add_test(t, disconnect_cleans_up);
    tcase_add_test(t, disconnect_many_pending);
    tcase_add_test(t, disconnect_unknown_or_failing);
    suite_add_tcase(s, t);

    t = tcase_create("sweeper");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, keys_setup, keys_teardown);
    tcase_add_test(t, sweeper_removes_stale);
    tcase_add_test(t, sweeper_default_age);
    tcase_add_test(t, sweeper_store_failure);
    tcase_add_test(t, dispatch_routes_messages_and_refuses_unknown);
    suite_add_tcase(s, t);
    return s;
}

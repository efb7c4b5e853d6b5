/* Tests of the $default route against DynamoDB Local: actions, bad input. */
#include <check.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app_fixture.h"
#include "clock.h"
#include "connections.h"
#include "ddb_admin.h"
#include "ddb_proxy.h"
#include "dispatch.h"
#include "message.h"
#include "processor.h"
#include "requests.h"
#include "runtime_api.h"
#include "subscriptions.h"

/*
 * Connection ids shaped like API Gateway's (base64, '=' included). Alice
 * has two connections; "Alice at globex" is the same user id in another
 * tenant; the stranger never connected.
 */
#define ALICE "L0SM9cOFvHcCIhw="
#define ALICE2 "L0SNAdyHvHcCFwg="
#define BOB "L0SOmeF9vHcCH3Q="
#define ALICE_GLOBEX "L0SPxX2AvHcCJfA="
#define STRANGER "L0SQnoTSaVedYt0="
#define DOMAIN "abc123def4.execute-api.us-east-1.amazonaws.com"

/* One app and three fresh tables per test (checked fixture, fork mode). */
static struct app_fixture fx;
static int message_seq;

static void setup(void)
{
    app_fixture_init(&fx);
    app_fixture_start(&fx);
}

static void teardown(void)
{
    app_fixture_stop(&fx);
}

/* As setup(), with MAX_INFLIGHT_PER_USER = 20. */
static void setup_bounded(void)
{
    app_fixture_init(&fx);
    app_fixture_set(&fx, "MAX_INFLIGHT_PER_USER", "20");
    app_fixture_start(&fx);
}

/* As setup(), with the app's DynamoDB behind a counting, faulting proxy. */
static struct ddb_proxy *proxy;

static void setup_proxied(void)
{
    proxy = ddb_proxy_start();
    ck_assert_ptr_nonnull(proxy);
    app_fixture_init(&fx);
    app_fixture_set(&fx, "AWS_ENDPOINT_URL_DYNAMODB", ddb_proxy_url(proxy));
    app_fixture_start(&fx);
    /* An injected fault must outlast the client's retries quickly. */
    aws_client_set_retry(ddb_aws(fx.app.ddb), 1, 5, 2);
}

static void teardown_proxied(void)
{
    app_fixture_stop(&fx);
    ddb_proxy_stop(proxy);
    proxy = NULL;
}

/* ---- The store, as the test sees it ------------------------------------ */

static int64_t hour_ago_ms(void)
{
    return clock_now_ms() - 3600 * 1000;
}

static void add_conn(const char *id, const char *user, const char *tenant)
{
    struct connection c;
    memset(&c, 0, sizeof(c));
    c.connection_id = strdup(id);
    c.user_id = strdup(user);
    c.tenant_id = strdup(tenant);
    c.endpoint = strdup(DOMAIN "/prod");
    struct error_info e;
    error_clear(&e);
    enum result r = conn_save(&fx.app.store, &c, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "conn_save %s: %s %s", id, result_str(r),
                  e.message);
    conn_cleanup(&c);
}

static void get_conn(const char *id, struct connection *c)
{
    struct error_info e;
    error_clear(&e);
    enum result r = conn_get(&fx.app.store, id, c, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "conn_get %s: %s %s", id, result_str(r),
                  e.message);
}

/* Enqueues a PENDING process_data request as `conn` of `user`@`tenant`. */
static void add_request(const char *id, const char *conn, const char *user,
                        const char *tenant)
{
    struct request q;
    memset(&q, 0, sizeof(q));
    q.request_id = strdup(id);
    q.connection_id = strdup(conn);
    q.user_id = strdup(user);
    q.tenant_id = strdup(tenant);
    q.action = strdup("process_data");
    q.payload = cJSON_Parse("{\"items\":[1,2,3]}");
    struct error_info e;
    error_clear(&e);
    enum result r = req_enqueue(&fx.app.store, &q, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "req_enqueue %s: %s %s", id, result_str(r),
                  e.message);
    req_cleanup(&q);
}

/* Reads `user`@acme's request `id` (ids are unique per user);
 * RESULT_OK or RESULT_NOT_FOUND (anything else fails). */
static enum result get_request_of(const char *tenant, const char *user,
                                  const char *id, struct request *q)
{
    struct error_info e;
    error_clear(&e);
    enum result r =
        req_get(&fx.app.store, tenant, user, id, q, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK || r == RESULT_NOT_FOUND, "req_get %s: %s %s",
                  id, result_str(r), e.message);
    return r;
}

static enum result get_request(const char *user, const char *id,
                               struct request *q)
{
    return get_request_of("acme", user, id, q);
}

/* The event-type bits `conn` has on `request_id`, or -1 when none. */
static int subscription_of(const char *conn, const char *request_id)
{
    struct sub_page page;
    memset(&page, 0, sizeof(page));
    struct error_info e;
    error_clear(&e);
    enum result r = sub_list_by_connection(&fx.app.store, conn, 0, NULL, &page,
                                           app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "sub_list_by_connection: %s %s",
                  result_str(r), e.message);
    int bits = -1;
    for (size_t i = 0; i < page.count; i++)
        if (strcmp(page.items[i].request_id, request_id) == 0)
            bits = (int)page.items[i].event_types;
    sub_page_cleanup(&page);
    return bits;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every item of the three tables (consistent Scans), one per line, sorted:
 * two snapshots are equal exactly when nothing was written in between.
 * Caller frees.
 */
static char *snapshot(void)
{
    const char *tables[3] = {fx.connections, fx.requests, fx.subscriptions};
    char *lines[256];
    size_t n = 0, total = 1;
    for (int t = 0; t < 3; t++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "TableName", tables[t]);
        cJSON_AddBoolToObject(req, "ConsistentRead", 1);
        cJSON *resp = NULL;
        struct error_info e;
        error_clear(&e);
        enum result r = ddb_call(fx.app.ddb, "Scan", req,
                                 app_fixture_deadline(), &resp, &e);
        cJSON_Delete(req);
        ck_assert_msg(r == RESULT_OK, "Scan: %s %s", result_str(r), e.message);
        ck_assert_msg(!cJSON_GetObjectItem(resp, "LastEvaluatedKey"),
                      "a snapshot needs more than one page");
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItem(resp, "Items"))
        {
            ck_assert_uint_lt(n, sizeof(lines) / sizeof(lines[0]));
            char *s = cJSON_PrintUnformatted(item);
            size_t len = strlen(s) + 3;
            lines[n] = malloc(len);
            snprintf(lines[n], len, "%d %s", t, s);
            free(s);
            total += len;
            n++;
        }
        cJSON_Delete(resp);
    }
    qsort(lines, n, sizeof(lines[0]), compare_text);
    char *out = malloc(total);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    return out;
}

/* ---- Events and answers ------------------------------------------------- */

/*
 * A MESSAGE event as API Gateway sends it to a WebSocket integration
 * ("Setting up WebSocket API integration requests"), without the body.
 */
static cJSON *event_new(const char *conn)
{
    char mid[32];
    snprintf(mid, sizeof(mid), "aBcDeF%04dIAMF=", ++message_seq);
    cJSON *ev = cJSON_CreateObject();
    cJSON *ctx = cJSON_AddObjectToObject(ev, "requestContext");
    cJSON_AddStringToObject(ctx, "routeKey", "$default");
    cJSON_AddStringToObject(ctx, "messageId", mid);
    cJSON_AddStringToObject(ctx, "eventType", "MESSAGE");
    cJSON_AddStringToObject(ctx, "extendedRequestId", "Xyz12GHiIAMFaBc=");
    cJSON_AddStringToObject(ctx, "requestTime", "24/Nov/2026:10:00:00 +0000");
    cJSON_AddStringToObject(ctx, "messageDirection", "IN");
    cJSON_AddStringToObject(ctx, "stage", "prod");
    cJSON_AddNumberToObject(ctx, "connectedAt", 1795514400000.0);
    cJSON_AddNumberToObject(ctx, "requestTimeEpoch", 1795514400123.0);
    cJSON *identity = cJSON_AddObjectToObject(ctx, "identity");
    cJSON_AddStringToObject(identity, "sourceIp", "203.0.113.7");
    cJSON_AddStringToObject(ctx, "requestId", "Xyz12GHiIAMFaBc=");
    cJSON_AddStringToObject(ctx, "domainName", DOMAIN);
    cJSON_AddStringToObject(ctx, "connectionId", conn);
    cJSON_AddStringToObject(ctx, "apiId", "abc123def4");
    return ev;
}

static char *base64(const void *raw, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
    return out;
}

static void set_body(cJSON *ev, const char *body, int b64)
{
    cJSON_AddStringToObject(ev, "body", body);
    cJSON_AddBoolToObject(ev, "isBase64Encoded", b64);
}

/*
 * Runs `ev` through dispatch as the runtime loop does. The answer must be
 * the route response {"statusCode":200,"body":"<text>"} and nothing else;
 * returns the body text (caller frees).
 */
static char *invoke_text(char *text);

static char *invoke(const cJSON *ev)
{
    return invoke_text(cJSON_PrintUnformatted(ev));
}

/* As invoke(), from the event's JSON text (taken). */
static char *invoke_text(char *text)
{
    struct invocation inv;
    invocation_init(&inv);
    snprintf(inv.request_id, sizeof(inv.request_id), "8476a536-e9f4-11e8");
    inv.deadline_ms = app_fixture_deadline();
    ck_assert(buf_appends(&inv.event, text) == RESULT_OK);
    free(text);
    struct buf out;
    buf_init(&out, RUNTIME_API_MAX_RESPONSE_BYTES);
    struct error_info err;
    error_clear(&err);
    enum result r = dispatch_handle(&fx.app, &inv, &out, &err);
    ck_assert_msg(r == RESULT_OK, "dispatch: %s %s", result_str(r),
                  err.message);
    cJSON *resp = cJSON_ParseWithLength(buf_str(&out), out.len);
    ck_assert_msg(cJSON_IsObject(resp), "not a route response: %s",
                  buf_str(&out));
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(resp, "statusCode");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(resp, "body");
    ck_assert_msg(cJSON_IsNumber(status) && status->valueint == 200 &&
                      cJSON_IsString(body) && cJSON_GetArraySize(resp) == 2,
                  "not {statusCode:200, body}: %s", buf_str(&out));
    char *s = strdup(body->valuestring);
    cJSON_Delete(resp);
    buf_cleanup(&out);
    invocation_cleanup(&inv);
    return s;
}

/* The body text parsed: a JSON object with a string "type". */
static cJSON *parse_reply(const char *text)
{
    cJSON *reply = cJSON_Parse(text);
    ck_assert_msg(cJSON_IsObject(reply), "reply is not an object: %s", text);
    ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(reply, "type")),
                  "reply has no type: %s", text);
    return reply;
}

/* Sends `body` from `conn`; returns the parsed reply (caller deletes). */
static cJSON *send_msg(const char *conn, const char *body)
{
    cJSON *ev = event_new(conn);
    set_body(ev, body, 0);
    char *text = invoke(ev);
    cJSON_Delete(ev);
    cJSON *reply = parse_reply(text);
    free(text);
    return reply;
}

/* As send_msg(), as a binary frame: the body base64 with the flag set. */
static cJSON *send_b64(const char *conn, const char *raw, size_t len)
{
    char *b64 = base64(raw, len);
    cJSON *ev = event_new(conn);
    set_body(ev, b64, 1);
    free(b64);
    char *text = invoke(ev);
    cJSON_Delete(ev);
    cJSON *reply = parse_reply(text);
    free(text);
    return reply;
}

static const char *str_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* `o` has exactly the members named (NULL-terminated), in any order. */
static void expect_members(const cJSON *o, const char *const *names)
{
    int want = 0;
    for (; names[want]; want++)
        ck_assert_msg(cJSON_GetObjectItemCaseSensitive(o, names[want]),
                      "member %s missing", names[want]);
    ck_assert_int_eq(cJSON_GetArraySize(o), want);
}

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/*
 * §4 error: {"type":"error","request_id"?,"error":{"code","message",
 * "details"?}}; `request_id` NULL means it must be absent.
 */
static void expect_error(const cJSON *reply, const char *code,
                         const char *request_id, const char *where)
{
    char *text = cJSON_PrintUnformatted(reply);
    ck_assert_msg(strcmp(str_of(reply, "type"), "error") == 0,
                  "%s: not an error: %s", where, text);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
    ck_assert_msg(cJSON_IsObject(err), "%s: no error object: %s", where, text);
    ck_assert_msg(str_of(err, "code") && strcmp(str_of(err, "code"), code) == 0,
                  "%s: want %s: %s", where, code, text);
    ck_assert_msg(str_of(err, "message") && *str_of(err, "message"),
                  "%s: no message: %s", where, text);
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(err, "details");
    ck_assert_msg(!details || cJSON_IsObject(details), "%s: details: %s", where,
                  text);
    ck_assert_int_eq(cJSON_GetArraySize(err), 2 + (details != NULL));
    const char *rid = str_of(reply, "request_id");
    if (request_id)
        ck_assert_msg(rid && strcmp(rid, request_id) == 0,
                      "%s: want request_id %s: %s", where, request_id, text);
    else
        ck_assert_msg(!cJSON_GetObjectItem(reply, "request_id"),
                      "%s: want no request_id: %s", where, text);
    ck_assert_int_eq(cJSON_GetArraySize(reply), 2 + (request_id != NULL));
    free(text);
}

/* details.field of an error reply, or NULL. */
static const char *error_field_of(const cJSON *reply)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
    return str_of(cJSON_GetObjectItemCaseSensitive(err, "details"), "field");
}

/* §4 sync answer: {"type":"response","request_id","success":true,"data"};
 * returns data (owned by `reply`). */
static const cJSON *expect_response(const cJSON *reply, const char *request_id)
{
    char *text = cJSON_PrintUnformatted(reply);
    static const char *const names[] = {"type", "request_id", "success", "data",
                                        NULL};
    ck_assert_msg(strcmp(str_of(reply, "type"), "response") == 0,
                  "not a response: %s", text);
    expect_members(reply, names);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(reply, "success")));
    if (request_id)
        ck_assert_msg(strcmp(str_of(reply, "request_id"), request_id) == 0,
                      "want request_id %s: %s", request_id, text);
    else
        ck_assert_msg(is_uuid(str_of(reply, "request_id")),
                      "want a fresh UUID request_id: %s", text);
    free(text);
    const cJSON *data = cJSON_GetObjectItem(reply, "data");
    ck_assert(cJSON_IsObject(data));
    return data;
}

static void expect_ack(const cJSON *reply, const char *request_id)
{
    static const char *const names[] = {"type", "request_id", "status", NULL};
    char *text = cJSON_PrintUnformatted(reply);
    ck_assert_msg(strcmp(str_of(reply, "type"), "acknowledgment") == 0 &&
                      strcmp(str_of(reply, "status"), "queued") == 0,
                  "not an ack: %s", text);
    expect_members(reply, names);
    if (request_id)
        ck_assert_str_eq(str_of(reply, "request_id"), request_id);
    else
        ck_assert_msg(is_uuid(str_of(reply, "request_id")),
                      "want a fresh UUID request_id: %s", text);
    free(text);
}

/* `got` equals the JSON `want_text`, member order aside (the store gives
 * numbers back as raw text, so both sides are compared as parsed text). */
static void expect_json(const cJSON *got, const char *want_text)
{
    cJSON *want = cJSON_Parse(want_text);
    ck_assert_msg(want, "test JSON does not parse: %s", want_text);
    char *text = cJSON_PrintUnformatted(got);
    cJSON *again = cJSON_Parse(text);
    ck_assert_msg(cJSON_Compare(again, want, 1), "got %s, want %s", text,
                  want_text);
    free(text);
    cJSON_Delete(again);
    cJSON_Delete(want);
}

/* ---- ping, echo ------------------------------------------------------------
 */

START_TEST(ping_refreshes_last_ping_and_ttl)
{
    /* Connected an hour ago (the store's clock is the test's to set). */
    fx.app.store.now_ms = hour_ago_ms;
    add_conn(ALICE, "alice", "acme");
    fx.app.store.now_ms = clock_now_ms;
    struct connection before, after;
    get_conn(ALICE, &before);

    int64_t t0 = clock_now_ms();
    char floor[CLOCK_RFC3339_SIZE];
    clock_rfc3339(t0, floor);
    cJSON *reply = send_msg(ALICE, "{\"action\":\"ping\"}");
    static const char *const pong[] = {"type", NULL};
    ck_assert_str_eq(str_of(reply, "type"), "pong");
    expect_members(reply, pong);
    cJSON_Delete(reply);

    get_conn(ALICE, &after);
    ck_assert_msg(strcmp(after.last_ping, floor) >= 0,
                  "last_ping %s not refreshed (before %s)", after.last_ping,
                  before.last_ping);
    ck_assert_int_ge(after.ttl, t0 / 1000 + CONN_TTL_SECONDS - 1);
    ck_assert_int_ge(after.ttl, before.ttl + 3500);
    ck_assert_int_eq(after.version, before.version + 1);
    ck_assert_str_eq(after.connected_at, before.connected_at);
    ck_assert_str_eq(after.user_id, "alice");
    ck_assert_str_eq(after.tenant_id, "acme");

    /* A ping carrying an id is still answered with a bare pong. */
    reply = send_msg(ALICE, "{\"action\":\"ping\",\"id\":\"p-1\"}");
    ck_assert_str_eq(str_of(reply, "type"), "pong");
    cJSON_Delete(reply);
    conn_cleanup(&before);
    conn_cleanup(&after);
}
END_TEST

START_TEST(unregistered_connection_is_unauthorized)
{
    add_conn(ALICE, "alice", "acme");
    char *before = snapshot();
    static const struct {
        const char *body, *request_id;
    } tries[] = {
        {"{\"action\":\"ping\"}", NULL},
        {"{\"action\":\"echo\",\"id\":\"e-1\",\"payload\":{}}", "e-1"},
        {"{\"action\":\"process_data\",\"id\":\"job-x\","
         "\"payload\":{\"items\":[1]}}",
         "job-x"},
    };
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        cJSON *reply = send_msg(STRANGER, tries[i].body);
        expect_error(reply, "UNAUTHORIZED", tries[i].request_id, tries[i].body);
        cJSON_Delete(reply);
    }
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

START_TEST(echo_answers_the_payload)
{
    add_conn(ALICE, "alice", "acme");
    static const char payload[] =
        "{\"text\":\"h\\u00e9llo \\\"w\\u00f6rld\\\" \xe2\x9c\x93\","
        "\"n\":[1,2.5,-300,0],\"nested\":{\"ok\":true,\"none\":null,"
        "\"list\":[{\"a\":[]}]}}";
    char body[512];
    snprintf(body, sizeof(body),
             "{\"action\":\"echo\",\"id\":\"echo-1\",\"payload\":%s,"
             "\"metadata\":{\"client\":\"t\"}}",
             payload);
    cJSON *reply = send_msg(ALICE, body);
    expect_json(expect_response(reply, "echo-1"), payload);
    cJSON_Delete(reply);

    /* No id: a fresh request id; no payload: data is {}. */
    reply = send_msg(ALICE, "{\"action\":\"echo\"}");
    expect_json(expect_response(reply, NULL), "{}");
    cJSON_Delete(reply);

    /* A binary frame: isBase64Encoded bodies are decoded first. */
    reply = send_b64(ALICE, body, strlen(body));
    expect_json(expect_response(reply, "echo-1"), payload);
    cJSON_Delete(reply);
}
END_TEST

/* A body of exactly `size` bytes: an echo of one long string. */
static char *sized_echo(size_t size)
{
    static const char head[] = "{\"action\":\"echo\",\"payload\":{\"s\":\"";
    static const char tail[] = "\"}}";
    char *s = malloc(size + 1);
    size_t fill = size - strlen(head) - strlen(tail);
    memcpy(s, head, strlen(head));
    memset(s + strlen(head), 'a', fill);
    memcpy(s + strlen(head) + fill, tail, strlen(tail) + 1);
    return s;
}

START_TEST(body_of_exactly_128_kb_is_accepted)
{
    add_conn(ALICE, "alice", "acme");
    char *body = sized_echo(MESSAGE_MAX_BODY_BYTES);
    ck_assert_uint_eq(strlen(body), 128 * 1024);
    cJSON *reply = send_msg(ALICE, body);
    const cJSON *data = expect_response(reply, NULL);
    ck_assert_uint_eq(strlen(str_of(data, "s")), 128 * 1024 - 36);
    cJSON_Delete(reply);
    reply = send_b64(ALICE, body, strlen(body));
    expect_response(reply, NULL);
    cJSON_Delete(reply);
    free(body);
}
END_TEST

/* ---- subscribe, unsubscribe, status, cancel --------------------------- */

/* Alice (two connections), Bob and Alice-at-globex, one request each. */
static void add_people(void)
{
    add_conn(ALICE, "alice", "acme");
    add_conn(ALICE2, "alice", "acme");
    add_conn(BOB, "bob", "acme");
    add_conn(ALICE_GLOBEX, "alice", "globex");
    add_request("req-alice-1", ALICE, "alice", "acme");
    add_request("req-bob-1", BOB, "bob", "acme");
}

START_TEST(subscribe_and_unsubscribe)
{
    add_people();
    cJSON *reply =
        send_msg(ALICE2, "{\"action\":\"subscribe\",\"id\":\"s-1\",\"payload\":"
                         "{\"request_id\":\"req-alice-1\",\"event_types\":"
                         "[\"progress\",\"complete\"]}}");
    expect_json(expect_response(reply, "s-1"),
                "{\"request_id\":\"req-alice-1\",\"event_types\":"
                "[\"progress\",\"complete\"],\"subscribed\":true}");
    cJSON_Delete(reply);
    ck_assert_int_eq(subscription_of(ALICE2, "req-alice-1"),
                     SUB_PROGRESS | SUB_COMPLETE);

    /* Subscribing again without event_types: all of them. */
    reply = send_msg(ALICE2, "{\"action\":\"subscribe\",\"id\":\"s-2\","
                             "\"payload\":{\"request_id\":\"req-alice-1\"}}");
    expect_json(expect_response(reply, "s-2"),
                "{\"request_id\":\"req-alice-1\",\"event_types\":"
                "[\"progress\",\"complete\",\"error\"],\"subscribed\":true}");
    cJSON_Delete(reply);
    ck_assert_int_eq(subscription_of(ALICE2, "req-alice-1"), SUB_ALL);

    reply = send_msg(ALICE2, "{\"action\":\"unsubscribe\",\"id\":\"u-1\","
                             "\"payload\":{\"request_id\":\"req-alice-1\"}}");
    expect_json(expect_response(reply, "u-1"),
                "{\"request_id\":\"req-alice-1\",\"subscribed\":false}");
    cJSON_Delete(reply);
    ck_assert_int_eq(subscription_of(ALICE2, "req-alice-1"), -1);

    /* Nothing left to remove. */
    char *before = snapshot();
    reply = send_msg(ALICE2, "{\"action\":\"unsubscribe\",\"id\":\"u-2\","
                             "\"payload\":{\"request_id\":\"req-alice-1\"}}");
    expect_error(reply, "NOT_FOUND", "u-2", "unsubscribe twice");
    cJSON_Delete(reply);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

/*
 * Sends `action` on another user's request, another tenant's, and a
 * missing one, all with the same message id: each must be NOT_FOUND with
 * byte-identical answers (so ids cannot be probed) and nothing written.
 */
static void expect_not_owned(const char *action)
{
    char *before = snapshot();
    struct {
        const char *conn, *request_id;
    } tries[] = {
        {ALICE, "req-bob-1"},          /* Bob's */
        {ALICE_GLOBEX, "req-alice-1"}, /* same user id, other tenant */
        {ALICE, "req-nobody-1"},       /* missing */
    };
    char *first = NULL;
    for (size_t i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"action\":\"%s\",\"id\":\"probe\",\"payload\":"
                 "{\"request_id\":\"%s\"}}",
                 action, tries[i].request_id);
        cJSON *ev = event_new(tries[i].conn);
        set_body(ev, body, 0);
        char *text = invoke(ev);
        cJSON_Delete(ev);
        cJSON *reply = parse_reply(text);
        expect_error(reply, "NOT_FOUND", "probe", body);
        cJSON_Delete(reply);
        if (!first)
            first = text;
        else {
            ck_assert_str_eq(text, first);
            free(text);
        }
    }
    free(first);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}

START_TEST(subscribe_to_others_request_is_not_found)
{
    add_people();
    expect_not_owned("subscribe");
    ck_assert_int_eq(subscription_of(ALICE, "req-bob-1"), -1);
    ck_assert_int_eq(subscription_of(ALICE_GLOBEX, "req-alice-1"), -1);
}
END_TEST

START_TEST(status_of_own_request)
{
    add_people();
    cJSON *reply = send_msg(ALICE2, "{\"action\":\"status\",\"id\":\"st-1\","
                                    "\"payload\":{\"request_id\":"
                                    "\"req-alice-1\"}}");
    const cJSON *data = expect_response(reply, "st-1");
    ck_assert_str_eq(str_of(data, "request_id"), "req-alice-1");
    ck_assert_str_eq(str_of(data, "action"), "process_data");
    ck_assert_str_eq(str_of(data, "status"), "PENDING");
    ck_assert_int_eq(cJSON_GetObjectItem(data, "progress")->valueint, 0);
    ck_assert(str_of(data, "created_at") != NULL);
    ck_assert(!cJSON_GetObjectItem(data, "result"));
    cJSON_Delete(reply);

    /* Run it to completion in the store: status shows the result. */
    struct request q;
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(get_request("alice", "req-alice-1", &q), RESULT_OK);
    ck_assert_int_eq(req_update_status(&fx.app.store, &q, REQ_PROCESSING,
                                       app_fixture_deadline(), &e),
                     RESULT_OK);
    cJSON *result = cJSON_Parse("{\"sum\":6,\"count\":3}");
    ck_assert_int_eq(
        req_complete(&fx.app.store, &q, result, app_fixture_deadline(), &e),
        RESULT_OK);
    req_cleanup(&q);
    reply = send_msg(ALICE, "{\"action\":\"status\",\"id\":\"st-2\","
                            "\"payload\":{\"request_id\":\"req-alice-1\"}}");
    data = expect_response(reply, "st-2");
    ck_assert_str_eq(str_of(data, "status"), "COMPLETED");
    ck_assert_int_eq(cJSON_GetObjectItem(data, "progress")->valueint, 100);
    ck_assert(cJSON_Compare(cJSON_GetObjectItem(data, "result"), result, 1));
    ck_assert(str_of(data, "processing_started") != NULL);
    ck_assert(str_of(data, "processing_ended") != NULL);
    cJSON_Delete(result);
    cJSON_Delete(reply);
}
END_TEST

START_TEST(status_of_others_request_is_not_found)
{
    add_people();
    expect_not_owned("status");
}
END_TEST

START_TEST(cancel_pending_request)
{
    add_people();
    struct request q;
    ck_assert_int_eq(get_request("alice", "req-alice-1", &q), RESULT_OK);
    int64_t version = q.version;
    req_cleanup(&q);

    cJSON *reply = send_msg(ALICE2, "{\"action\":\"cancel\",\"id\":\"c-1\","
                                    "\"payload\":{\"request_id\":"
                                    "\"req-alice-1\"}}");
    const cJSON *data = expect_response(reply, "c-1");
    ck_assert_str_eq(str_of(data, "request_id"), "req-alice-1");
    ck_assert_str_eq(str_of(data, "status"), "CANCELLED");
    cJSON_Delete(reply);
    ck_assert_int_eq(get_request("alice", "req-alice-1", &q), RESULT_OK);
    ck_assert_int_eq(q.status, REQ_CANCELLED);
    ck_assert_int_eq(q.version, version + 1);
    ck_assert(q.processing_ended[0] != '\0');
    req_cleanup(&q);

    /* A cancelled request cannot be cancelled again; nothing changes. */
    char *before = snapshot();
    reply = send_msg(ALICE, "{\"action\":\"cancel\",\"id\":\"c-2\","
                            "\"payload\":{\"request_id\":\"req-alice-1\"}}");
    expect_error(reply, "VALIDATION_ERROR", "c-2", "cancel twice");
    cJSON_Delete(reply);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

START_TEST(cancel_others_request_is_not_found)
{
    add_people();
    expect_not_owned("cancel");
    struct request q;
    ck_assert_int_eq(get_request("bob", "req-bob-1", &q), RESULT_OK);
    ck_assert_int_eq(q.status, REQ_PENDING);
    req_cleanup(&q);
    ck_assert_int_eq(get_request("alice", "req-alice-1", &q), RESULT_OK);
    ck_assert_int_eq(q.status, REQ_PENDING);
    req_cleanup(&q);
}
END_TEST

/* ---- async actions ------------------------------------------------------ */

/* The stored request `id`: owned by `conn` of alice@acme, PENDING, with
 * `action` and `payload`, and `conn` subscribed to all of its events. */
static void expect_enqueued(const char *id, const char *conn,
                            const char *action, const char *payload)
{
    struct request q;
    ck_assert_msg(get_request("alice", id, &q) == RESULT_OK, "%s not stored",
                  id);
    ck_assert_str_eq(q.request_id, id);
    ck_assert_str_eq(q.connection_id, conn);
    ck_assert_str_eq(q.user_id, "alice");
    ck_assert_str_eq(q.tenant_id, "acme");
    ck_assert_str_eq(q.action, action);
    ck_assert_int_eq(q.status, REQ_PENDING);
    ck_assert_int_eq(q.progress, 0);
    ck_assert_int_eq(q.retry_count, 0);
    expect_json(q.payload, payload);
    req_cleanup(&q);
    ck_assert_int_eq(subscription_of(conn, id), SUB_ALL);
}

START_TEST(process_data_is_enqueued)
{
    add_conn(ALICE, "alice", "acme");
    add_conn(BOB, "bob", "acme");
    cJSON *reply = send_msg(ALICE, "{\"action\":\"process_data\",\"id\":"
                                   "\"job-0001\",\"payload\":{\"items\":"
                                   "[1,2,3.5,-4]},\"metadata\":{\"c\":\"t\"}}");
    expect_ack(reply, "job-0001");
    cJSON_Delete(reply);
    expect_enqueued("job-0001", ALICE, "process_data",
                    "{\"items\":[1,2,3.5,-4]}");

    /* A resend by the same user (same id, any payload, any of its
     * connections) changes nothing. */
    add_conn(ALICE2, "alice", "acme");
    char *before = snapshot();
    reply = send_msg(ALICE, "{\"action\":\"process_data\",\"id\":"
                            "\"job-0001\",\"payload\":{\"items\":[9]}}");
    expect_error(reply, "DUPLICATE_REQUEST", "job-0001", "resend");
    cJSON_Delete(reply);
    reply = send_msg(ALICE2, "{\"action\":\"process_data\",\"id\":"
                             "\"job-0001\",\"payload\":{\"items\":[9]}}");
    expect_error(reply, "DUPLICATE_REQUEST", "job-0001",
                 "resend from another "
                 "connection");
    cJSON_Delete(reply);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    ck_assert_int_eq(subscription_of(ALICE2, "job-0001"), -1);

    /* Another user's id is not this user's: Bob's job-0001 is his own
     * request, queued as any other (ids are per user; the answer does
     * not tell that Alice has one). */
    reply = send_msg(BOB, "{\"action\":\"process_data\",\"id\":"
                          "\"job-0001\",\"payload\":{\"items\":[9]}}");
    expect_ack(reply, "job-0001");
    cJSON_Delete(reply);
    expect_enqueued("job-0001", ALICE, "process_data",
                    "{\"items\":[1,2,3.5,-4]}");

    /* Without an id the server picks one, and says which. */
    reply = send_msg(ALICE, "{\"action\":\"process_data\","
                            "\"payload\":{\"items\":[7]}}");
    expect_ack(reply, NULL);
    expect_enqueued(str_of(reply, "request_id"), ALICE, "process_data",
                    "{\"items\":[7]}");
    cJSON_Delete(reply);
}
END_TEST

START_TEST(generate_report_is_enqueued_from_binary_frame)
{
    add_conn(ALICE, "alice", "acme");
    static const char body[] =
        "{\"action\":\"generate_report\",\"id\":\"rep:2026-11.a_b\","
        "\"payload\":{\"group_by\":\"region\",\"rows\":["
        "{\"region\":\"eu\",\"v\":1},{\"region\":\"us\",\"v\":2}]}}";
    cJSON *reply = send_b64(ALICE, body, strlen(body));
    expect_ack(reply, "rep:2026-11.a_b");
    cJSON_Delete(reply);
    expect_enqueued(
        "rep:2026-11.a_b", ALICE, "generate_report",
        "{\"group_by\":\"region\",\"rows\":["
        "{\"region\":\"eu\",\"v\":1},{\"region\":\"us\",\"v\":2}]}");

    /* Empty rows are a valid (empty) report. */
    reply = send_msg(ALICE, "{\"action\":\"generate_report\",\"id\":\"r2\","
                            "\"payload\":{\"group_by\":\"x\",\"rows\":[]}}");
    expect_ack(reply, "r2");
    cJSON_Delete(reply);
    expect_enqueued("r2", ALICE, "generate_report",
                    "{\"group_by\":\"x\",\"rows\":[]}");

    char *before = snapshot();
    reply = send_b64(ALICE, body, strlen(body));
    expect_error(reply, "DUPLICATE_REQUEST", "rep:2026-11.a_b", "resend");
    cJSON_Delete(reply);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

/*
 * Request ids are per user: Alice, Bob and Alice-at-globex all use
 * "same-1". None of them can see, block or change another's request,
 * and each one's reuse of its own id is still DUPLICATE_REQUEST.
 */
static void enqueue_as(const char *conn, const char *action,
                       const char *payload, const char *where)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"action\":\"%s\",\"id\":\"same-1\",\"payload\":%s}", action,
             payload);
    cJSON *reply = send_msg(conn, body);
    char *text = cJSON_PrintUnformatted(reply);
    ck_assert_msg(!strcmp(str_of(reply, "type"), "acknowledgment"), "%s: %s",
                  where, text);
    free(text);
    cJSON_Delete(reply);
}

static void expect_owned(const char *tenant, const char *user, const char *conn,
                         const char *action, enum req_status status)
{
    struct request q;
    ck_assert_int_eq(get_request_of(tenant, user, "same-1", &q), RESULT_OK);
    ck_assert_str_eq(q.user_id, user);
    ck_assert_str_eq(q.tenant_id, tenant);
    ck_assert_str_eq(q.connection_id, conn);
    ck_assert_str_eq(q.action, action);
    ck_assert_int_eq(q.status, status);
    req_cleanup(&q);
}

static const char *status_action(const char *conn)
{
    static char action[64];
    cJSON *reply = send_msg(conn, "{\"action\":\"status\",\"id\":\"s\","
                                  "\"payload\":{\"request_id\":\"same-1\"}}");
    const cJSON *data = expect_response(reply, "s");
    snprintf(action, sizeof(action), "%s/%s", str_of(data, "action"),
             str_of(data, "status"));
    cJSON_Delete(reply);
    return action;
}

START_TEST(request_ids_are_per_user)
{
    add_conn(ALICE, "alice", "acme");
    add_conn(ALICE2, "alice", "acme");
    add_conn(BOB, "bob", "acme");
    add_conn(ALICE_GLOBEX, "alice", "globex");
    enqueue_as(ALICE, "process_data", "{\"items\":[1]}", "alice");
    enqueue_as(BOB, "generate_report", "{\"group_by\":\"g\",\"rows\":[]}",
               "bob, same id");
    enqueue_as(ALICE_GLOBEX, "process_data", "{\"items\":[2]}",
               "alice at globex, same id");
    expect_owned("acme", "alice", ALICE, "process_data", REQ_PENDING);
    expect_owned("acme", "bob", BOB, "generate_report", REQ_PENDING);
    expect_owned("globex", "alice", ALICE_GLOBEX, "process_data", REQ_PENDING);
    /* Each sender is subscribed to its own request only. */
    ck_assert_int_eq(subscription_of(ALICE, "same-1"), SUB_ALL);
    ck_assert_int_eq(subscription_of(BOB, "same-1"), SUB_ALL);
    ck_assert_int_eq(subscription_of(ALICE_GLOBEX, "same-1"), SUB_ALL);

    /* Reusing one's own id is still a duplicate, for every user. */
    char *before = snapshot();
    const char *conns[] = {ALICE2, BOB, ALICE_GLOBEX};
    for (int i = 0; i < 3; i++) {
        cJSON *reply = send_msg(conns[i], "{\"action\":\"process_data\","
                                          "\"id\":\"same-1\",\"payload\":"
                                          "{\"items\":[3]}}");
        expect_error(reply, "DUPLICATE_REQUEST", "same-1", conns[i]);
        cJSON_Delete(reply);
    }
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);

    /* status answers each user's own request. */
    ck_assert_str_eq(status_action(ALICE2), "process_data/PENDING");
    ck_assert_str_eq(status_action(BOB), "generate_report/PENDING");

    /* Alice's cancel cancels hers; Bob's and globex's are untouched. */
    cJSON *reply = send_msg(ALICE2, "{\"action\":\"cancel\",\"id\":\"c\","
                                    "\"payload\":{\"request_id\":\"same-1\"}}");
    expect_response(reply, "c");
    cJSON_Delete(reply);
    expect_owned("acme", "alice", ALICE, "process_data", REQ_CANCELLED);
    expect_owned("acme", "bob", BOB, "generate_report", REQ_PENDING);
    expect_owned("globex", "alice", ALICE_GLOBEX, "process_data", REQ_PENDING);
    ck_assert_str_eq(status_action(BOB), "generate_report/PENDING");

    /* Subscribing and unsubscribing name one's own request only. */
    reply = send_msg(ALICE2, "{\"action\":\"subscribe\",\"id\":\"u\","
                             "\"payload\":{\"request_id\":\"same-1\","
                             "\"event_types\":[\"complete\"]}}");
    expect_response(reply, "u");
    cJSON_Delete(reply);
    reply = send_msg(ALICE, "{\"action\":\"unsubscribe\",\"id\":\"u\","
                            "\"payload\":{\"request_id\":\"same-1\"}}");
    expect_response(reply, "u");
    cJSON_Delete(reply);
    ck_assert_int_eq(subscription_of(ALICE, "same-1"), -1);
    ck_assert_int_eq(subscription_of(ALICE2, "same-1"), SUB_COMPLETE);
    ck_assert_int_eq(subscription_of(BOB, "same-1"), SUB_ALL);
    ck_assert_int_eq(subscription_of(ALICE_GLOBEX, "same-1"), SUB_ALL);

    /* Who listens to each request, as the processor asks: its owner's
     * connections only, never another user's of the same id. */
    struct {
        const char *tenant, *user, *conn;
    } owners[] = {{"acme", "alice", ALICE2},
                  {"acme", "bob", BOB},
                  {"globex", "alice", ALICE_GLOBEX}};
    for (int i = 0; i < 3; i++) {
        struct sub_page page;
        struct error_info e;
        ck_assert_int_eq(sub_list_by_request(&fx.app.store, owners[i].tenant,
                                             owners[i].user, "same-1", 0, NULL,
                                             &page, app_fixture_deadline(), &e),
                         RESULT_OK);
        ck_assert_uint_eq(page.count, 1);
        ck_assert_str_eq(page.items[0].connection_id, owners[i].conn);
        ck_assert_str_eq(page.items[0].user_id, owners[i].user);
        sub_page_cleanup(&page);
    }
}
END_TEST

/* ---- The enqueue and the sender's subscription are one write ------------
 */

/* The error's details.queued: "false", "unknown", or NULL when absent. */
static const char *queued_detail(const cJSON *reply)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(reply, "error"), "details"),
        "queued");
    return cJSON_IsFalse(q) ? "false" : cJSON_GetStringValue(q);
}

START_TEST(enqueue_and_subscription_are_one_transaction)
{
    add_conn(ALICE, "alice", "acme");
    static const char body[] = "{\"action\":\"process_data\",\"id\":"
                               "\"atom-1\",\"payload\":{\"items\":[1]}}";
    /* Both in one TransactWriteItems, no other write. */
    ddb_proxy_reset(proxy);
    cJSON *reply = send_msg(ALICE, body);
    expect_ack(reply, "atom-1");
    cJSON_Delete(reply);
    ck_assert_int_eq(ddb_proxy_count(proxy, "TransactWriteItems"), 1);
    ck_assert_int_eq(ddb_proxy_count(proxy, "PutItem"), 0);
    ck_assert_int_eq(ddb_proxy_count(proxy, "UpdateItem"), 0);
    expect_enqueued("atom-1", ALICE, "process_data", "{\"items\":[1]}");

    /* The transaction fails (a 500 from the store, never carried out):
     * nothing is stored, and the answer says the outcome is unknown to
     * the server and gives the id to send again. */
    char *before = snapshot();
    ddb_proxy_fail(proxy, "TransactWriteItems", NULL);
    static const char body2[] = "{\"action\":\"process_data\",\"id\":"
                                "\"atom-2\",\"payload\":{\"items\":[2]}}";
    reply = send_msg(ALICE, body2);
    expect_error(reply, "INTERNAL_ERROR", "atom-2", "injected fault");
    ck_assert_str_eq(queued_detail(reply), "unknown");
    cJSON_Delete(reply);
    ck_assert_int_ge(ddb_proxy_count(proxy, "TransactWriteItems"), 2);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    struct request q;
    ck_assert_int_eq(get_request("alice", "atom-2", &q), RESULT_NOT_FOUND);
    ck_assert_int_eq(subscription_of(ALICE, "atom-2"), -1);

    /* Sent again with the same id once the store is back: queued. */
    ddb_proxy_fail(proxy, NULL, NULL);
    reply = send_msg(ALICE, body2);
    expect_ack(reply, "atom-2");
    cJSON_Delete(reply);
    expect_enqueued("atom-2", ALICE, "process_data", "{\"items\":[2]}");

    /* A transaction DynamoDB refuses (the subscriptions table is gone):
     * neither item is stored, and the answer says it was not queued. */
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(ddb_delete_table(fx.app.ddb, fx.subscriptions,
                                      app_fixture_deadline(), &e),
                     RESULT_OK);
    reply = send_msg(ALICE, "{\"action\":\"process_data\",\"id\":\"atom-3\","
                            "\"payload\":{\"items\":[3]}}");
    expect_error(reply, "INTERNAL_ERROR", "atom-3", "no subscriptions table");
    ck_assert_str_eq(queued_detail(reply), "false");
    cJSON_Delete(reply);
    ck_assert_int_eq(get_request("alice", "atom-3", &q), RESULT_NOT_FOUND);
}
END_TEST

/* ---- A bound on each user's async work ------------------------------------
 * MAX_INFLIGHT_PER_USER = 20: five connections of one user (five
 * processes, as five Lambda instances would be) send ten enqueues each,
 * all at once.
 */
#define BURST_CONNS 5
#define BURST_EACH 10
#define BURST_LIMIT 20

static const char *burst_conn(int i)
{
    static const char *const ids[BURST_CONNS] = {
        "QnVyc3QwAAAAAA0=", "QnVyc3QxAAAAAA1=", "QnVyc3QyAAAAAA2=",
        "QnVyc3QzAAAAAA3=", "QnVyc3Q0AAAAAA4="};
    return ids[i];
}

/* One sender: its own app (its own store client), ten enqueues; writes
 * {acks, rate limited, other} to `fd`. */
static void burst_sender(int c, int fd)
{
    struct app_fixture own;
    app_fixture_init(&own);
    app_fixture_set(&own, "CONNECTIONS_TABLE", fx.connections);
    app_fixture_set(&own, "REQUESTS_TABLE", fx.requests);
    app_fixture_set(&own, "SUBSCRIPTIONS_TABLE", fx.subscriptions);
    app_fixture_set(&own, "MAX_INFLIGHT_PER_USER", "20");
    app_fixture_start(&own);
    fx = own; /* send_msg() goes through this process's own app */
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < BURST_EACH; i++) {
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"action\":\"process_data\",\"id\":\"burst-%d-%d\","
                 "\"payload\":{\"items\":[%d]}}",
                 c, i, i);
        cJSON *reply = send_msg(burst_conn(c), body);
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
        const cJSON *details =
            cJSON_GetObjectItemCaseSensitive(error, "details");
        const char *code = str_of(error, "code");
        if (!strcmp(str_of(reply, "type"), "acknowledgment"))
            counts[0]++;
        else if (code && !strcmp(code, "RATE_LIMITED") &&
                 cJSON_GetObjectItemCaseSensitive(details, "limit")->valueint ==
                     BURST_LIMIT &&
                 cJSON_GetObjectItemCaseSensitive(details, "retry_after_ms")
                         ->valueint > 0)
            counts[1]++;
        else
            counts[2]++;
        cJSON_Delete(reply);
    }
    _exit(write(fd, counts, sizeof(counts)) == sizeof(counts) ? 0 : 1);
}

static int64_t inflight_of(const char *user)
{
    int64_t n = -1;
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(req_inflight(&fx.app.store, "acme", user, &n,
                                  app_fixture_deadline(), &e),
                     RESULT_OK);
    return n;
}

START_TEST(inflight_bound_under_concurrent_enqueues)
{
    for (int c = 0; c < BURST_CONNS; c++)
        add_conn(burst_conn(c), "alice", "acme");
    add_conn(BOB, "bob", "acme");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pids[BURST_CONNS];
    for (int c = 0; c < BURST_CONNS; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            close(fds[0]);
            burst_sender(c, fds[1]);
        }
    }
    close(fds[1]);
    int total[3] = {0, 0, 0};
    for (int c = 0; c < BURST_CONNS; c++) {
        int status = 0, counts[3];
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "sender %d failed", c);
        ck_assert_int_eq(read(fds[0], counts, sizeof(counts)),
                         (int)sizeof(counts));
        for (int k = 0; k < 3; k++)
            total[k] += counts[k];
    }
    close(fds[0]);
    ck_assert_int_eq(total[0], BURST_LIMIT);
    ck_assert_int_eq(total[1], BURST_CONNS * BURST_EACH - BURST_LIMIT);
    ck_assert_int_eq(total[2], 0);

    /* Exactly 20 stored, each with its sender's subscription; the
     * refused ones left nothing. */
    struct req_page page;
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(req_list_by_user(&fx.app.store, "alice", 0, NULL, &page,
                                      app_fixture_deadline(), &e),
                     RESULT_OK);
    ck_assert_uint_eq(page.count, BURST_LIMIT);
    int subs = 0;
    for (int c = 0; c < BURST_CONNS; c++) {
        struct sub_page sp;
        ck_assert_int_eq(sub_list_by_connection(&fx.app.store, burst_conn(c), 0,
                                                NULL, &sp,
                                                app_fixture_deadline(), &e),
                         RESULT_OK);
        subs += (int)sp.count;
        sub_page_cleanup(&sp);
    }
    ck_assert_int_eq(subs, BURST_LIMIT);
    ck_assert_int_eq(inflight_of("alice"), BURST_LIMIT);

    /* Another user is not bound by Alice's count. */
    cJSON *reply = send_msg(BOB, "{\"action\":\"process_data\",\"id\":"
                                 "\"bob-1\",\"payload\":{\"items\":[1]}}");
    expect_ack(reply, "bob-1");
    cJSON_Delete(reply);
    ck_assert_int_eq(inflight_of("bob"), 1);

    /* No one listens from here on: an abandoned request's error push
     * would go to the connections' (made-up) endpoint. */
    for (int c = 0; c < BURST_CONNS; c++)
        ck_assert_int_eq(sub_delete_by_connection(&fx.app.store, burst_conn(c),
                                                  app_fixture_deadline(), NULL,
                                                  &e),
                         RESULT_OK);

    /* Each way a request ends frees its slot: completed, failed,
     * cancelled by its user, abandoned (PROCESSING or RETRYING, as the
     * sweeper does after a crash). */
    int64_t dl = app_fixture_deadline();
    for (size_t i = 0; i < page.count; i++) {
        struct request *q = &page.items[i];
        int way = (int)(i % 5);
        if (way == 2) {
            char body[160];
            snprintf(body, sizeof(body),
                     "{\"action\":\"cancel\",\"id\":\"c\",\"payload\":"
                     "{\"request_id\":\"%s\"}}",
                     q->request_id);
            reply = send_msg(q->connection_id, body);
            expect_response(reply, "c");
            cJSON_Delete(reply);
            continue;
        }
        ck_assert_int_eq(
            req_update_status(&fx.app.store, q, REQ_PROCESSING, dl, &e),
            RESULT_OK);
        if (way == 4)
            ck_assert_int_eq(
                req_update_status(&fx.app.store, q, REQ_RETRYING, dl, &e),
                RESULT_OK);
        cJSON *result = cJSON_CreateObject();
        enum result r =
            way == 0   ? req_complete(&fx.app.store, q, result, dl, &e)
            : way == 1 ? req_fail(&fx.app.store, q, "boom", dl, &e)
                       : processor_abandon(&fx.app, q, "lost", dl, &e);
        cJSON_Delete(result);
        ck_assert_msg(r == RESULT_OK, "ending %s: %s", q->request_id,
                      e.message);
        ck_assert_int_eq(inflight_of("alice"), BURST_LIMIT - (int64_t)i - 1);
    }
    req_page_cleanup(&page);
    ck_assert_int_eq(inflight_of("alice"), 0);

    /* A failed condition changes no count. */
    reply = send_msg(burst_conn(0), "{\"action\":\"cancel\",\"id\":\"c\","
                                    "\"payload\":{\"request_id\":"
                                    "\"burst-0-0\"}}");
    cJSON_Delete(reply);
    ck_assert_int_eq(inflight_of("alice"), 0);

    /* A slot is free again. */
    reply = send_msg(burst_conn(1), "{\"action\":\"process_data\",\"id\":"
                                    "\"after\",\"payload\":{\"items\":[1]}}");
    expect_ack(reply, "after");
    cJSON_Delete(reply);
    ck_assert_int_eq(inflight_of("alice"), 1);
}
END_TEST

/* ---- malformed messages ---------------------------------------------------
 */

enum body_form {
    AS_TEXT = 0,    /* body: the text; isBase64Encoded false */
    AS_BINARY,      /* body: base64 of the text (len bytes); flag true */
    AS_B64_LITERAL, /* body: the text as is; isBase64Encoded true */
    NO_BODY,        /* no body member at all */
    NULL_BODY,      /* "body": null */
    NUMBER_BODY,    /* "body": 42 */
};

struct bad_case {
    const char *name;
    enum body_form form;
    const char *text; /* NULL: made by `make` */
    size_t len;       /* AS_BINARY: bytes of `text` (0: strlen) */
    char *(*make)(void);
    const char *code;
    const char *request_id; /* echoed in the error, or NULL: absent */
    const char *field;      /* details.field, or NULL: not checked */
};

static char *over_128_kb(void)
{
    return sized_echo(MESSAGE_MAX_BODY_BYTES + 1);
}

/* 128 KB + 1 decoded, sent as a binary frame by the row. */
static char *binary_over_128_kb(void)
{
    char *raw = sized_echo(MESSAGE_MAX_BODY_BYTES + 1);
    char *b64 = base64(raw, strlen(raw));
    free(raw);
    return b64;
}

static char *nested(const char *head, int depth, const char *tail)
{
    size_t n = strlen(head) + 2 * (size_t)depth + strlen(tail) + 1;
    char *s = malloc(n);
    char *p = s + sprintf(s, "%s", head);
    memset(p, '[', (size_t)depth);
    memset(p + depth, ']', (size_t)depth);
    strcpy(p + 2 * depth, tail);
    return s;
}

static char *deep_2000(void)
{
    return nested("{\"action\":\"echo\",\"payload\":{\"a\":", 2000, "}}");
}

static char *deep_store(void)
{
    return nested("{\"action\":\"process_data\",\"payload\":{\"items\":[1],"
                  "\"extra\":",
                  40, "}}");
}

static char *long_action(void)
{
    char *s = malloc(128);
    snprintf(s, 128, "{\"action\":\"%065d\"}", 0);
    return s;
}

static char *long_id(void)
{
    char *s = malloc(256);
    snprintf(s, 256, "{\"action\":\"ping\",\"id\":\"%0129d\"}", 0);
    return s;
}

static char *long_request_id(void)
{
    char *s = malloc(512);
    snprintf(s, 512,
             "{\"action\":\"status\",\"payload\":{\"request_id\":"
             "\"%0200d\"}}",
             0);
    return s;
}

#define PD "{\"action\":\"process_data\",\"id\":\"j1\",\"payload\":"
#define GR "{\"action\":\"generate_report\",\"payload\":"

static const struct bad_case bad_cases[] = {
    /* Not a JSON object. */
    {"not JSON", AS_TEXT, "hello", 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"JSON array", AS_TEXT, "[{\"action\":\"ping\"}]", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"JSON string", AS_TEXT, "\"ping\"", 0, NULL, "INVALID_MESSAGE", NULL,
     NULL},
    {"JSON number", AS_TEXT, "42", 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"JSON null", AS_TEXT, "null", 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"JSON true", AS_TEXT, "true", 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"empty body", AS_TEXT, "", 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"blank body", AS_TEXT, " \r\n\t ", 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"no body member", NO_BODY, NULL, 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"body null", NULL_BODY, NULL, 0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"body a number", NUMBER_BODY, NULL, 0, NULL, "INVALID_MESSAGE", NULL,
     NULL},
    {"truncated JSON", AS_TEXT, "{\"action\":\"ping\"", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"trailing garbage", AS_TEXT, "{\"action\":\"ping\"} x", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"two objects", AS_TEXT, "{\"action\":\"ping\"}{\"action\":\"echo\"}", 0,
     NULL, "INVALID_MESSAGE", NULL, NULL},
    {"single quotes", AS_TEXT, "{'action':'ping'}", 0, NULL, "INVALID_MESSAGE",
     NULL, NULL},
    {"trailing comma", AS_TEXT, "{\"action\":\"ping\",}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"lone surrogate escape", AS_TEXT,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"\\ud800\"}}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"nested 2000 deep", AS_TEXT, NULL, 0, deep_2000, "INVALID_MESSAGE", NULL,
     NULL},
    /* Binary frames. */
    {"base64 bad characters", AS_B64_LITERAL, "eyJhY3Rpb24iOiJwaW5nIn0*", 0,
     NULL, "INVALID_MESSAGE", NULL, NULL},
    {"base64 bad length", AS_B64_LITERAL, "eyJhY3Rpb24iOiJwaW5nIn0", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"base64 padding inside", AS_B64_LITERAL,
     "eyJhYw==eyJhY3Rpb24iOiJwaW5nIn0=", 0, NULL, "INVALID_MESSAGE", NULL,
     NULL},
    {"base64 blanks before", AS_B64_LITERAL, "    eyJhY3Rpb24iOiJwaW5nIn0=", 0,
     NULL, "INVALID_MESSAGE", NULL, NULL},
    {"base64 of plain text", AS_BINARY, "just some words", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"NUL byte after the object", AS_BINARY, "{\"action\":\"ping\"}\0junk",
     sizeof("{\"action\":\"ping\"}\0junk") - 1, NULL, "INVALID_MESSAGE", NULL,
     NULL},
    {"NUL byte inside a string", AS_BINARY,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"a\0b\"}}",
     sizeof("{\"action\":\"echo\",\"payload\":{\"s\":\"a\0b\"}}") - 1, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"NUL escape in the action", AS_TEXT, "{\"action\":\"ping\\u0000x\"}", 0,
     NULL, "INVALID_MESSAGE", NULL, NULL},
    {"NUL escape in the id", AS_TEXT,
     "{\"action\":\"process_data\",\"id\":\"job\\u0000evil\","
     "\"payload\":{\"items\":[1]}}",
     0, NULL, "INVALID_MESSAGE", NULL, NULL},
    {"NUL escape in the payload", AS_TEXT,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"a\\u0000b\"}}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"invalid UTF-8 byte", AS_BINARY,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"\xff\"}}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"overlong UTF-8", AS_BINARY,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"\xc0\xaf\"}}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"UTF-8 surrogate", AS_BINARY,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"\xed\xa0\x80\"}}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"truncated UTF-8", AS_BINARY,
     "{\"action\":\"echo\",\"payload\":{\"s\":\"\xe2\x82\"}}", 0, NULL,
     "INVALID_MESSAGE", NULL, NULL},
    {"body over 128 KB", AS_TEXT, NULL, 0, over_128_kb, "PAYLOAD_TOO_LARGE",
     NULL, NULL},
    {"binary body over 128 KB", AS_B64_LITERAL, NULL, 0, binary_over_128_kb,
     "PAYLOAD_TOO_LARGE", NULL, NULL},
    /* action */
    {"missing action", AS_TEXT, "{\"id\":\"m-1\",\"payload\":{}}", 0, NULL,
     "INVALID_MESSAGE", "m-1", "action"},
    {"action a number", AS_TEXT, "{\"action\":7}", 0, NULL, "INVALID_ACTION",
     NULL, "action"},
    {"action null", AS_TEXT, "{\"action\":null}", 0, NULL, "INVALID_ACTION",
     NULL, "action"},
    {"action an object", AS_TEXT, "{\"action\":{\"name\":\"ping\"}}", 0, NULL,
     "INVALID_ACTION", NULL, "action"},
    {"action empty", AS_TEXT, "{\"action\":\"\",\"id\":\"a-1\"}", 0, NULL,
     "INVALID_ACTION", "a-1", "action"},
    {"action 65 chars", AS_TEXT, NULL, 0, long_action, "INVALID_ACTION", NULL,
     "action"},
    {"action with a space", AS_TEXT, "{\"action\":\"pi ng\"}", 0, NULL,
     "INVALID_ACTION", NULL, "action"},
    {"action with a slash", AS_TEXT, "{\"action\":\"../ping\"}", 0, NULL,
     "INVALID_ACTION", NULL, "action"},
    {"action with a colon", AS_TEXT, "{\"action\":\"ping:now\"}", 0, NULL,
     "INVALID_ACTION", NULL, "action"},
    {"action not ASCII", AS_TEXT, "{\"action\":\"p\xc3\xafng\"}", 0, NULL,
     "INVALID_ACTION", NULL, "action"},
    {"unknown action", AS_TEXT, "{\"action\":\"launch_rockets\",\"id\":\"x\"}",
     0, NULL, "INVALID_ACTION", "x", "action"},
    {"action in the wrong case", AS_TEXT, "{\"action\":\"PING\"}", 0, NULL,
     "INVALID_ACTION", NULL, "action"},
    /* id */
    {"id a number", AS_TEXT, "{\"action\":\"ping\",\"id\":12}", 0, NULL,
     "VALIDATION_ERROR", NULL, "id"},
    {"id null", AS_TEXT, "{\"action\":\"ping\",\"id\":null}", 0, NULL,
     "VALIDATION_ERROR", NULL, "id"},
    {"id empty", AS_TEXT, "{\"action\":\"ping\",\"id\":\"\"}", 0, NULL,
     "VALIDATION_ERROR", NULL, "id"},
    {"id 129 chars", AS_TEXT, NULL, 0, long_id, "VALIDATION_ERROR", NULL, "id"},
    {"id with a slash", AS_TEXT, "{\"action\":\"ping\",\"id\":\"a/b\"}", 0,
     NULL, "VALIDATION_ERROR", NULL, "id"},
    {"id with a space", AS_TEXT, "{\"action\":\"echo\",\"id\":\"a b\"}", 0,
     NULL, "VALIDATION_ERROR", NULL, "id"},
    {"id with a hash", AS_TEXT,
     "{\"action\":\"process_data\",\"id\":\"CONN#x\","
     "\"payload\":{\"items\":[1]}}",
     0, NULL, "VALIDATION_ERROR", NULL, "id"},
    /* payload, metadata */
    {"payload an array", AS_TEXT, "{\"action\":\"echo\",\"payload\":[1]}", 0,
     NULL, "VALIDATION_ERROR", NULL, "payload"},
    {"payload a string", AS_TEXT,
     "{\"action\":\"echo\",\"id\":\"e\",\"payload\":\"{}\"}", 0, NULL,
     "VALIDATION_ERROR", "e", "payload"},
    {"payload null", AS_TEXT, "{\"action\":\"echo\",\"payload\":null}", 0, NULL,
     "VALIDATION_ERROR", NULL, "payload"},
    {"metadata a string", AS_TEXT, "{\"action\":\"ping\",\"metadata\":\"web\"}",
     0, NULL, "VALIDATION_ERROR", NULL, "metadata"},
    {"metadata an array", AS_TEXT, "{\"action\":\"ping\",\"metadata\":[]}", 0,
     NULL, "VALIDATION_ERROR", NULL, "metadata"},
    /* Built-ins' arguments. */
    {"subscribe without request_id", AS_TEXT, "{\"action\":\"subscribe\"}", 0,
     NULL, "VALIDATION_ERROR", NULL, "request_id"},
    {"subscribe request_id a number", AS_TEXT,
     "{\"action\":\"subscribe\",\"payload\":{\"request_id\":5}}", 0, NULL,
     "VALIDATION_ERROR", NULL, "request_id"},
    {"subscribe unknown event type", AS_TEXT,
     "{\"action\":\"subscribe\",\"payload\":{\"request_id\":\"req-alice-1\","
     "\"event_types\":[\"progress\",\"everything\"]}}",
     0, NULL, "VALIDATION_ERROR", NULL, "event_types"},
    {"subscribe event_types empty", AS_TEXT,
     "{\"action\":\"subscribe\",\"payload\":{\"request_id\":\"req-alice-1\","
     "\"event_types\":[]}}",
     0, NULL, "VALIDATION_ERROR", NULL, "event_types"},
    {"subscribe event_types a string", AS_TEXT,
     "{\"action\":\"subscribe\",\"payload\":{\"request_id\":\"req-alice-1\","
     "\"event_types\":\"progress\"}}",
     0, NULL, "VALIDATION_ERROR", NULL, "event_types"},
    {"unsubscribe request_id empty", AS_TEXT,
     "{\"action\":\"unsubscribe\",\"payload\":{\"request_id\":\"\"}}", 0, NULL,
     "VALIDATION_ERROR", NULL, "request_id"},
    {"status request_id 200 chars", AS_TEXT, NULL, 0, long_request_id,
     "VALIDATION_ERROR", NULL, "request_id"},
    {"status of a missing request", AS_TEXT,
     "{\"action\":\"status\",\"payload\":{\"request_id\":\"req-none\"}}", 0,
     NULL, "NOT_FOUND", NULL, NULL},
    {"cancel without payload", AS_TEXT, "{\"action\":\"cancel\",\"id\":\"c\"}",
     0, NULL, "VALIDATION_ERROR", "c", "request_id"},
    {"cancel of a missing request", AS_TEXT,
     "{\"action\":\"cancel\",\"payload\":{\"request_id\":\"req-none\"}}", 0,
     NULL, "NOT_FOUND", NULL, NULL},
    /* Async actions' payloads: nothing is enqueued. */
    {"process_data without payload", AS_TEXT,
     "{\"action\":\"process_data\",\"id\":\"j1\"}", 0, NULL, "VALIDATION_ERROR",
     "j1", "items"},
    {"process_data items missing", AS_TEXT, PD "{\"rows\":[1]}}", 0, NULL,
     "VALIDATION_ERROR", "j1", "items"},
    {"process_data items empty", AS_TEXT, PD "{\"items\":[]}}", 0, NULL,
     "VALIDATION_ERROR", "j1", "items"},
    {"process_data items a string", AS_TEXT, PD "{\"items\":\"1,2\"}}", 0, NULL,
     "VALIDATION_ERROR", "j1", "items"},
    {"process_data item a string", AS_TEXT, PD "{\"items\":[1,\"2\"]}}", 0,
     NULL, "VALIDATION_ERROR", "j1", "items"},
    {"process_data item null", AS_TEXT, PD "{\"items\":[1,null]}}", 0, NULL,
     "VALIDATION_ERROR", "j1", "items"},
    {"process_data item infinite", AS_TEXT, PD "{\"items\":[1e400]}}", 0, NULL,
     "VALIDATION_ERROR", "j1", "items"},
    {"process_data delay_ms negative", AS_TEXT,
     PD "{\"items\":[1],\"delay_ms\":-1}}", 0, NULL, "VALIDATION_ERROR", "j1",
     "delay_ms"},
    {"process_data delay_ms over 10 s", AS_TEXT,
     PD "{\"items\":[1],\"delay_ms\":10001}}", 0, NULL, "VALIDATION_ERROR",
     "j1", "delay_ms"},
    {"process_data delay_ms fractional", AS_TEXT,
     PD "{\"items\":[1],\"delay_ms\":1.5}}", 0, NULL, "VALIDATION_ERROR", "j1",
     "delay_ms"},
    {"process_data delay_ms a string", AS_TEXT,
     PD "{\"items\":[1],\"delay_ms\":\"5\"}}", 0, NULL, "VALIDATION_ERROR",
     "j1", "delay_ms"},
    {"process_data payload 40 deep", AS_TEXT, NULL, 0, deep_store,
     "VALIDATION_ERROR", NULL, NULL},
    {"generate_report group_by missing", AS_TEXT, GR "{\"rows\":[]}}", 0, NULL,
     "VALIDATION_ERROR", NULL, "group_by"},
    {"generate_report group_by empty", AS_TEXT,
     GR "{\"rows\":[],\"group_by\":\"\"}}", 0, NULL, "VALIDATION_ERROR", NULL,
     "group_by"},
    {"generate_report group_by a number", AS_TEXT,
     GR "{\"rows\":[],\"group_by\":3}}", 0, NULL, "VALIDATION_ERROR", NULL,
     "group_by"},
    {"generate_report rows missing", AS_TEXT, GR "{\"group_by\":\"k\"}}", 0,
     NULL, "VALIDATION_ERROR", NULL, "rows"},
    {"generate_report row not an object", AS_TEXT,
     GR "{\"group_by\":\"k\",\"rows\":[{\"k\":1},2]}}", 0, NULL,
     "VALIDATION_ERROR", NULL, "rows"},
};

#define BAD_CASES ((int)(sizeof(bad_cases) / sizeof(bad_cases[0])))

/* Sends bad_cases[_i] from Alice, whose request and subscription exist:
 * the answer is the row's error and every table is as it was. */
START_TEST(malformed_message)
{
    const struct bad_case *c = &bad_cases[_i];
    add_conn(ALICE, "alice", "acme");
    add_request("req-alice-1", ALICE, "alice", "acme");
    struct subscription sub;
    memset(&sub, 0, sizeof(sub));
    sub.connection_id = strdup(ALICE);
    sub.request_id = strdup("req-alice-1");
    sub.tenant_id = strdup("acme");
    sub.user_id = strdup("alice");
    struct error_info e;
    error_clear(&e);
    ck_assert_int_eq(
        sub_subscribe(&fx.app.store, &sub, app_fixture_deadline(), &e),
        RESULT_OK);
    sub_cleanup(&sub);
    char *before = snapshot();

    char *made = c->make ? c->make() : NULL;
    const char *text = made ? made : c->text;
    cJSON *ev = event_new(ALICE);
    switch (c->form) {
    case AS_TEXT:
        set_body(ev, text, 0);
        break;
    case AS_BINARY: {
        char *b64 = base64(text, c->len ? c->len : strlen(text));
        set_body(ev, b64, 1);
        free(b64);
        break;
    }
    case AS_B64_LITERAL:
        set_body(ev, text, 1);
        break;
    case NO_BODY:
        cJSON_AddBoolToObject(ev, "isBase64Encoded", 0);
        break;
    case NULL_BODY:
        cJSON_AddNullToObject(ev, "body");
        cJSON_AddBoolToObject(ev, "isBase64Encoded", 0);
        break;
    case NUMBER_BODY:
        cJSON_AddNumberToObject(ev, "body", 42);
        cJSON_AddBoolToObject(ev, "isBase64Encoded", 0);
        break;
    }
    free(made);
    char *answer = invoke(ev);
    cJSON_Delete(ev);
    cJSON *reply = parse_reply(answer);
    expect_error(reply, c->code, c->request_id, c->name);
    if (c->field) {
        const char *field = error_field_of(reply);
        ck_assert_msg(field && strcmp(field, c->field) == 0,
                      "%s: want details.field %s: %s", c->name, c->field,
                      answer);
    }
    cJSON_Delete(reply);
    free(answer);

    char *after = snapshot();
    ck_assert_msg(strcmp(after, before) == 0,
                  "%s: the store changed:\nbefore:\n%s\nafter:\n%s", c->name,
                  before, after);
    free(before);
    free(after);
}
END_TEST

/* A text frame with a NUL: the event's body string holds the escape
 * \u0000, which parsing the event would otherwise cut short. */
START_TEST(text_frame_with_a_nul_character)
{
    add_conn(ALICE, "alice", "acme");
    char *before = snapshot();
    cJSON *ev = event_new(ALICE);
    set_body(ev, "BODY-MARK", 0);
    char *printed = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    const char *body = "{\\\"action\\\":\\\"process_data\\\",\\\"id\\\":"
                       "\\\"nul-1\\\",\\\"payload\\\":{\\\"items\\\":[1]}}"
                       "\\u0000junk";
    char *mark = strstr(printed, "BODY-MARK");
    ck_assert_ptr_nonnull(mark);
    size_t n = strlen(printed) + strlen(body);
    char *text = malloc(n + 1);
    snprintf(text, n + 1, "%.*s%s%s", (int)(mark - printed), printed, body,
             mark + strlen("BODY-MARK"));
    free(printed);
    char *answer = invoke_text(text);
    cJSON *reply = parse_reply(answer);
    expect_error(reply, "INVALID_MESSAGE", NULL, "NUL in a text frame");
    cJSON_Delete(reply);
    free(answer);
    char *after = snapshot();
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
}
END_TEST

Suite *message_suite(void)
{
    Suite *s = suite_create("message");
    TCase *tc = tcase_create("actions");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ping_refreshes_last_ping_and_ttl);
    tcase_add_test(tc, unregistered_connection_is_unauthorized);
    tcase_add_test(tc, echo_answers_the_payload);
    tcase_add_test(tc, body_of_exactly_128_kb_is_accepted);
    tcase_add_test(tc, text_frame_with_a_nul_character);
    tcase_add_test(tc, subscribe_and_unsubscribe);
    tcase_add_test(tc, subscribe_to_others_request_is_not_found);
    tcase_add_test(tc, status_of_own_request);
    tcase_add_test(tc, status_of_others_request_is_not_found);
    tcase_add_test(tc, cancel_pending_request);
    tcase_add_test(tc, cancel_others_request_is_not_found);
    tcase_add_test(tc, process_data_is_enqueued);
    tcase_add_test(tc, generate_report_is_enqueued_from_binary_frame);
    tcase_add_test(tc, request_ids_are_per_user);
    suite_add_tcase(s, tc);

    tc = tcase_create("atomic-enqueue");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup_proxied, teardown_proxied);
    tcase_add_test(tc, enqueue_and_subscription_are_one_transaction);
    suite_add_tcase(s, tc);

    tc = tcase_create("inflight-bound");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup_bounded, teardown);
    tcase_add_test(tc, inflight_bound_under_concurrent_enqueues);
    suite_add_tcase(s, tc);

    TCase *bad = tcase_create("malformed");
    tcase_set_timeout(bad, 120);
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_add_loop_test(bad, malformed_message, 0, BAD_CASES);
    suite_add_tcase(s, bad);
    return s;
}

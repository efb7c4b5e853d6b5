/* End-to-end tests: a real WebSocket client, the local gateway, bootstrap. */
#include <check.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "connections.h"
#include "requests.h"
#include "ddb.h"
#include "ddb_local.h"
#include "store.h"
#include "subscriptions.h"
#include "tables.h"
#include "test_gateway.h"
#include "test_jwt.h"
#include "ws_client.h"

#define TENANT "tenant-e2e"
/* Generous: the machine has two cores and may run ASan builds. */
#define FRAME_MS 30000   /* one frame the server owes us */
#define REQUEST_MS 60000 /* a whole async request */
#define QUIET_MS 500     /* to be sure nothing more comes */
#define CLOSE_MS 5000
#define STOP_MS 15000
#define CLIENTS 50
#define USERS 10 /* the 50 clients share 10 users, 5 connections each */

/* Made once per test case in the parent (unchecked fixture). */
static EVP_PKEY *key, *other_key;
static char *pem;

/* Per test, in the forked child (checked fixture). */
static struct test_gateway gw;
static char conn_table[96], req_table[96], subs_table[96];
static struct ddb *ddb;
static struct store store;

static const struct sigv4_credentials fake_creds = {
    "AKIDLOCAL", "local/secret/any/value/works", NULL};

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

static int64_t deadline(void)
{
    return clock_now_ms() + 30000;
}

/* The function timeout and schedule of the gateway a test case starts:
 * 0 and NULL for the defaults (30 s, the pass every minute). */
static int function_timeout_ms;
static const char *pass_every;

/* Starts the gateway on fresh tables and a store client to inspect them. */
static void gateway_setup(void)
{
    static char key_env[8192], conn_env[128], req_env[128], subs_env[128];
    ddb_local_table_name(conn_table, sizeof(conn_table), "e2e_conn");
    ddb_local_table_name(req_table, sizeof(req_table), "e2e_req");
    ddb_local_table_name(subs_table, sizeof(subs_table), "e2e_subs");
    snprintf(key_env, sizeof(key_env), "JWT_PUBLIC_KEY=%s", pem);
    snprintf(conn_env, sizeof(conn_env), "CONNECTIONS_TABLE=%s", conn_table);
    snprintf(req_env, sizeof(req_env), "REQUESTS_TABLE=%s", req_table);
    snprintf(subs_env, sizeof(subs_env), "SUBSCRIPTIONS_TABLE=%s", subs_table);
    const char *env[] = {
        key_env,    conn_env, req_env, subs_env, "ALLOWED_TENANTS=" TENANT,
        pass_every, NULL};
    struct test_gateway_options o = {0};
    o.env = env;
    o.timeout_ms = function_timeout_ms;
    char err[4096];
    ck_assert_msg(test_gateway_start(&gw, &o, err, sizeof(err)) == 0,
                  "the gateway did not start: %s", err);

    const char *url = ddb_local_endpoint();
    ck_assert_msg(url != NULL, "DynamoDB Local is not running");
    struct ddb_config cfg = {url, "us-east-1", &fake_creds};
    struct error_info e;
    enum result r = ddb_new(&cfg, &ddb, &e);
    ck_assert_msg(r == RESULT_OK, "ddb_new: %s", e.message);
    store_init(&store, ddb, conn_table, req_table, subs_table);
    ws_client_library_init();
}

/* Stops the gateway (it must exit 0 and leave nothing running). */
static void gateway_teardown(void)
{
    int left = 0;
    int status = test_gateway_stop(&gw, STOP_MS, &left);
    ws_client_library_cleanup();
    struct error_info e;
    enum result r = tables_delete_all(&store, deadline(), &e);
    store_cleanup(&store);
    ddb_free(ddb);
    ck_assert_msg(status == 0,
                  "the gateway exited with %d on SIGTERM "
                  "(log: %s)",
                  status, gw.log_path);
    ck_assert_msg(left == 0, "the gateway left %d process(es) running", left);
    ck_assert_msg(r == RESULT_OK, "tables_delete_all: %s", e.message);
}

/* ---- helpers --------------------------------------------------------- */

/* An RS256 token for `user`, signed by `k`. Caller frees. */
static char *token_by(EVP_PKEY *k, const char *user)
{
    long now = (long)(clock_now_ms() / 1000);
    char claims[512];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"tenant_id\":\"" TENANT "\",\"iat\":%ld,"
             "\"exp\":%ld}",
             user, now, now + 3600);
    return test_jwt_token(k, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);
}

/* "<stage path>?Authorization=<token>" (a JWT needs no URL escaping). */
static void path_with(char *out, size_t size, const char *token)
{
    if (token)
        snprintf(out, size, "%s?Authorization=%s", gw.path, token);
    else
        snprintf(out, size, "%s", gw.path);
}

/* A connection for `user` with a valid token; fails the test if refused. */
static struct ws_client *open_as(const char *user)
{
    char *t = token_by(key, user);
    char path[4096], err[512];
    path_with(path, sizeof(path), t);
    free(t);
    struct ws_client *c =
        ws_client_connect(gw.host, gw.port, path, err, sizeof(err));
    ck_assert_msg(c != NULL, "connecting as %s failed: %s", user, err);
    return c;
}

static void send_text(struct ws_client *c, const char *text)
{
    ck_assert_msg(ws_client_send(c, text) == 0, "sending failed: %s", text);
}

/* The next frame of `type` for `rid` (NULL: any); fails on timeout. */
static cJSON *expect(struct ws_client *c, const char *type, const char *rid,
                     int timeout_ms)
{
    cJSON *f = ws_client_wait(c, type, rid, timeout_ms);
    ck_assert_msg(f != NULL,
                  "no %s frame for %s within %d ms (gateway log: %s); "
                  "inbox:\n%s",
                  type ? type : "any", rid ? rid : "any", timeout_ms,
                  gw.log_path, ws_client_dump(c));
    return f;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    ck_assert_msg(cJSON_IsNumber(v), "no number %s in %s", name,
                  cJSON_PrintUnformatted(o));
    return v->valuedouble;
}

/* A process_data job: its items and the result they must give. */
struct job {
    char id[64];
    char *message; /* the whole client message */
    int count;
    double sum, min, max;
};

/* Items (i * 7919) % 1000 - 500 for i in 0..n-1, as a message. */
static void job_init(struct job *j, const char *id, int n, int failures)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "action", "process_data");
    cJSON_AddStringToObject(m, "id", id);
    cJSON *p = cJSON_AddObjectToObject(m, "payload");
    cJSON *items = cJSON_AddArrayToObject(p, "items");
    if (failures)
        cJSON_AddNumberToObject(p, "transient_failures", failures);
    for (int i = 0; i < n; i++) {
        double x = (double)((long)i * 7919 % 1000 - 500);
        cJSON_AddItemToArray(items, cJSON_CreateNumber(x));
        j->sum += x;
        j->min = i == 0 || x < j->min ? x : j->min;
        j->max = i == 0 || x > j->max ? x : j->max;
    }
    j->count = n;
    j->message = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
}

static void job_cleanup(struct job *j)
{
    free(j->message);
}

/* `result` is count/sum/min/max/mean of the job's items. */
static void check_result(const struct job *j, const cJSON *result)
{
    ck_assert_msg(cJSON_IsObject(result), "no result object for %s", j->id);
    ck_assert_int_eq((int)num(result, "count"), j->count);
    ck_assert_double_eq_tol(num(result, "sum"), j->sum, 1e-6);
    ck_assert_double_eq_tol(num(result, "min"), j->min, 1e-6);
    ck_assert_double_eq_tol(num(result, "max"), j->max, 1e-6);
    ck_assert_double_eq_tol(num(result, "mean"), j->sum / j->count, 1e-6);
}

/* The acknowledgment of `j` on `c` (the first frame for it). */
static void expect_ack(struct ws_client *c, const struct job *j)
{
    cJSON *f = expect(c, NULL, j->id, FRAME_MS);
    ck_assert_msg(str(f, "type") &&
                      strcmp(str(f, "type"), "acknowledgment") == 0,
                  "the first frame for %s is not the acknowledgment: %s", j->id,
                  cJSON_PrintUnformatted(f));
    ck_assert_str_eq(str(f, "status"), "queued");
    cJSON_Delete(f);
}

/*
 * Follows `j` on `c` after its acknowledgment: progress frames with
 * strictly rising percentages ending at 100, then exactly one complete
 * with the right result, and (when `quiet_ms`) nothing after it.
 * Returns how many progress frames came.
 */
static int follow(struct ws_client *c, const struct job *j, int quiet_ms)
{
    int last = -1, progress = 0;
    for (;;) {
        cJSON *f = expect(c, NULL, j->id, REQUEST_MS);
        const char *type = str(f, "type");
        ck_assert_msg(type != NULL, "a frame without type: %s",
                      cJSON_PrintUnformatted(f));
        if (strcmp(type, "complete") == 0) {
            ck_assert_msg(str(f, "timestamp") != NULL, "no timestamp");
            check_result(j, cJSON_GetObjectItemCaseSensitive(f, "result"));
            cJSON_Delete(f);
            break;
        }
        ck_assert_msg(strcmp(type, "progress") == 0,
                      "expected progress or complete for %s, got %s", j->id,
                      cJSON_PrintUnformatted(f));
        int pct = (int)num(f, "percentage");
        ck_assert_msg(pct > last && pct <= 100, "progress %d after %d for %s",
                      pct, last, j->id);
        ck_assert_msg(str(f, "message") && str(f, "timestamp"),
                      "progress without message or timestamp: %s",
                      cJSON_PrintUnformatted(f));
        last = pct;
        progress++;
        cJSON_Delete(f);
    }
    ck_assert_msg(progress >= 1 && last == 100,
                  "%s: %d progress frames, the last at %d%%", j->id, progress,
                  last);
    if (quiet_ms) {
        cJSON *extra = ws_client_wait(c, NULL, j->id, quiet_ms);
        ck_assert_msg(extra == NULL, "a frame after complete for %s: %s", j->id,
                      cJSON_PrintUnformatted(extra));
    }
    return progress;
}

/* The one connection id of `user` in the connections table. Caller frees. */
static char *only_connection_of(const char *user)
{
    struct conn_page page = {0};
    struct error_info e;
    enum result r =
        conn_list_by_user(&store, user, 0, NULL, &page, deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "conn_list_by_user: %s", e.message);
    ck_assert_msg(page.count == 1, "%s has %zu connections, want 1", user,
                  page.count);
    char *id = strdup(page.items[0].connection_id);
    conn_page_cleanup(&page);
    return id;
}

static size_t connections_of(const char *user)
{
    struct conn_page page = {0};
    struct error_info e;
    enum result r =
        conn_list_by_user(&store, user, 0, NULL, &page, deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "conn_list_by_user: %s", e.message);
    size_t n = page.count;
    conn_page_cleanup(&page);
    return n;
}

static size_t subscriptions_of(const char *connection_id)
{
    struct sub_page page = {0};
    struct error_info e;
    enum result r = sub_list_by_connection(&store, connection_id, 0, NULL,
                                           &page, deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "sub_list_by_connection: %s", e.message);
    size_t n = page.count;
    sub_page_cleanup(&page);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- connecting ------------------------------------------------------ */

START_TEST(connect_with_token)
{
    struct ws_client *c = open_as("alice");
    char *id = only_connection_of("alice");
    struct connection conn = {0};
    struct error_info e;
    enum result r = conn_get(&store, id, &conn, deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "conn_get %s: %s", id, e.message);
    ck_assert_str_eq(conn.user_id, "alice");
    ck_assert_str_eq(conn.tenant_id, TENANT);
    conn_cleanup(&conn);
    free(id);
    ck_assert(!ws_client_closed(c));
    ws_client_close(c, CLOSE_MS);
}
END_TEST

START_TEST(refused_without_token)
{
    char path[256], err[512];
    path_with(path, sizeof(path), NULL);
    int status = ws_client_upgrade_status(gw.host, gw.port, path, FRAME_MS, err,
                                          sizeof(err));
    ck_assert_msg(status == 401, "status %d without a token (%s)", status, err);
    struct ws_client *c =
        ws_client_connect(gw.host, gw.port, path, err, sizeof(err));
    ck_assert_msg(c == NULL, "the WebSocket opened without a token");
}
END_TEST

START_TEST(refused_with_bad_token)
{
    char path[4096], err[512];
    /* Signed by a key the function does not trust. */
    char *forged = token_by(other_key, "mallory");
    path_with(path, sizeof(path), forged);
    int status = ws_client_upgrade_status(gw.host, gw.port, path, FRAME_MS, err,
                                          sizeof(err));
    ck_assert_msg(status == 401, "status %d with a forged token (%s)", status,
                  err);
    struct ws_client *c =
        ws_client_connect(gw.host, gw.port, path, err, sizeof(err));
    ck_assert_msg(c == NULL, "the WebSocket opened with a forged token");
    /* Not a token at all. */
    path_with(path, sizeof(path), "not.a.jwt");
    status = ws_client_upgrade_status(gw.host, gw.port, path, FRAME_MS, err,
                                      sizeof(err));
    ck_assert_msg(status == 401, "status %d with garbage (%s)", status, err);
    ck_assert_int_eq(connections_of("mallory"), 0);
    free(forged);
}
END_TEST

/* ---- synchronous actions --------------------------------------------- */

START_TEST(ping_pong)
{
    struct ws_client *c = open_as("bob");
    send_text(c, "{\"action\":\"ping\"}");
    cJSON *f = expect(c, NULL, NULL, FRAME_MS);
    ck_assert_msg(str(f, "type") && strcmp(str(f, "type"), "pong") == 0,
                  "not a pong: %s", cJSON_PrintUnformatted(f));
    cJSON_Delete(f);
    /* Not JSON: routed to $default all the same, and answered. */
    send_text(c, "ping?");
    f = expect(c, "error", NULL, FRAME_MS);
    ck_assert_str_eq(str(cJSON_GetObjectItemCaseSensitive(f, "error"), "code"),
                     "INVALID_MESSAGE");
    cJSON_Delete(f);
    ck_assert_msg(ws_client_count(c, NULL, NULL) == 0, "stray frames:\n%s",
                  ws_client_dump(c));
    ws_client_close(c, CLOSE_MS);
}
END_TEST

START_TEST(echo_answers_payload)
{
    static const char payload[] =
        "{\"text\":\"h\\u00e9llo \\\"w\\u00f6rld\\\"\",\"n\":[1,2.5,-3],"
        "\"nested\":{\"ok\":true,\"none\":null}}";
    struct ws_client *c = open_as("bob");
    char msg[512];
    snprintf(msg, sizeof(msg),
             "{\"action\":\"echo\",\"id\":\"echo-1\",\"payload\":%s}", payload);
    send_text(c, msg);
    cJSON *f = expect(c, NULL, "echo-1", FRAME_MS);
    ck_assert_str_eq(str(f, "type"), "response");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "success")));
    cJSON *want = cJSON_Parse(payload);
    ck_assert_msg(
        cJSON_Compare(cJSON_GetObjectItemCaseSensitive(f, "data"), want, 1),
        "echo data differs: %s", cJSON_PrintUnformatted(f));
    cJSON_Delete(want);
    cJSON_Delete(f);
    ws_client_close(c, CLOSE_MS);
}
END_TEST

/* ---- asynchronous requests ------------------------------------------- */

START_TEST(process_data_then_status_after_reconnect)
{
    struct job j;
    job_init(&j, "job-carol-1", 200, 0);
    struct ws_client *c = open_as("carol");
    send_text(c, j.message);
    expect_ack(c, &j);
    follow(c, &j, QUIET_MS);
    ck_assert_msg(ws_client_count(c, NULL, NULL) == 0, "stray frames:\n%s",
                  ws_client_dump(c));
    ws_client_close(c, CLOSE_MS);

    /* A new connection of the same user asks how it went. */
    c = open_as("carol");
    send_text(c, "{\"action\":\"status\",\"id\":\"st-1\","
                 "\"payload\":{\"request_id\":\"job-carol-1\"}}");
    cJSON *f = expect(c, NULL, "st-1", FRAME_MS);
    ck_assert_msg(str(f, "type") && strcmp(str(f, "type"), "response") == 0,
                  "status failed: %s", cJSON_PrintUnformatted(f));
    cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "data");
    ck_assert_str_eq(str(d, "request_id"), "job-carol-1");
    ck_assert_str_eq(str(d, "status"), "COMPLETED");
    ck_assert_int_eq((int)num(d, "progress"), 100);
    check_result(&j, cJSON_GetObjectItemCaseSensitive(d, "result"));
    cJSON_Delete(f);

    /* Someone else's request is not there for them. */
    struct ws_client *other = open_as("dave");
    send_text(other, "{\"action\":\"status\",\"id\":\"st-2\","
                     "\"payload\":{\"request_id\":\"job-carol-1\"}}");
    f = expect(other, NULL, "st-2", FRAME_MS);
    ck_assert_str_eq(str(f, "type"), "error");
    ck_assert_str_eq(str(cJSON_GetObjectItemCaseSensitive(f, "error"), "code"),
                     "NOT_FOUND");
    cJSON_Delete(f);
    ws_client_close(other, CLOSE_MS);
    ws_client_close(c, CLOSE_MS);
    job_cleanup(&j);
}
END_TEST

/* The status of `user`'s request `request_id` in DynamoDB. */
static enum req_status status_of(const char *user, const char *request_id)
{
    struct req_page page = {0};
    struct error_info e;
    enum result r =
        req_list_by_user(&store, user, 0, NULL, &page, deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "req_list_by_user: %s", e.message);
    enum req_status status = REQ_PENDING;
    int found = 0;
    for (size_t i = 0; i < page.count; i++)
        if (strcmp(page.items[i].request_id, request_id) == 0) {
            status = page.items[i].status;
            found = 1;
        }
    req_page_cleanup(&page);
    ck_assert_msg(found, "request %s of %s is not stored", request_id, user);
    return status;
}

START_TEST(subscriber_hears_pushes)
{
    /*
     * Two simulated transient failures hold the request back (100 + 200 ms
     * of backoff) before any progress. The local gateway hands events to
     * its one bootstrap in arrival order, so when its stream poll (every
     * 250 ms) lands between the ack and the subscribe, the whole run goes
     * first (on AWS the two would run side by side) and the watcher has
     * nothing to hear: such a round is recognised (the request is already
     * COMPLETED once the subscription is confirmed) and taken again.
     */
    struct ws_client *owner = open_as("erin");
    struct ws_client *watcher = open_as("erin");
    for (int round = 1;; round++) {
        ck_assert_msg(round <= 3, "the run beat the subscribe 3 times");
        char id[32], msg[160], sub_id[32];
        snprintf(id, sizeof(id), "job-erin-%d", round);
        snprintf(sub_id, sizeof(sub_id), "sub-%d", round);
        snprintf(msg, sizeof(msg),
                 "{\"action\":\"subscribe\",\"id\":\"%s\","
                 "\"payload\":{\"request_id\":\"%s\"}}",
                 sub_id, id);
        struct job j;
        job_init(&j, id, 2000, 2);
        send_text(owner, j.message);
        expect_ack(owner, &j);
        send_text(watcher, msg);
        cJSON *f = expect(watcher, NULL, sub_id, FRAME_MS);
        ck_assert_msg(str(f, "type") && strcmp(str(f, "type"), "response") == 0,
                      "subscribe failed: %s", cJSON_PrintUnformatted(f));
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(f, "data"), "subscribed")));
        cJSON_Delete(f);
        if (status_of("erin", id) == REQ_COMPLETED) {
            fprintf(stderr,
                    "e2e: round %d: the run went before the "
                    "subscribe; again\n",
                    round);
            follow(owner, &j, 0);
            job_cleanup(&j);
            continue;
        }

        /* Both hear the whole run; the watcher gets no acknowledgment. */
        int seen = follow(watcher, &j, 0);
        follow(owner, &j, QUIET_MS);
        ck_assert_int_ge(seen, 1);
        cJSON *extra = ws_client_wait(watcher, NULL, NULL, QUIET_MS);
        ck_assert_msg(extra == NULL, "the watcher got more: %s",
                      cJSON_PrintUnformatted(extra));
        job_cleanup(&j);
        break;
    }
    ws_client_close(watcher, CLOSE_MS);
    ws_client_close(owner, CLOSE_MS);
}
END_TEST

/*
 * Waits until connection `id` and its subscriptions are gone from
 * DynamoDB ($disconnect runs after the close; a slow machine gets time).
 */
static void expect_forgotten(const char *id)
{
    struct connection conn = {0};
    struct error_info e;
    enum result r = RESULT_OK;
    size_t subs = 1;
    for (int waited = 0; waited < FRAME_MS; waited += 100) {
        r = conn_get(&store, id, &conn, deadline(), &e);
        if (r == RESULT_OK)
            conn_cleanup(&conn);
        subs = subscriptions_of(id);
        if (r == RESULT_NOT_FOUND && subs == 0)
            break;
        sleep_ms(100);
    }
    ck_assert_msg(r == RESULT_NOT_FOUND, "connection %s is still stored (%s)",
                  id, result_str(r));
    ck_assert_msg(subs == 0, "%zu subscriptions of %s are left", subs, id);
}

/* Subscribes `c` (connection `id`) to `rid`'s completion. */
static void subscribe_complete(struct ws_client *c, const char *id,
                               const char *rid)
{
    char msg[256];
    snprintf(msg, sizeof(msg),
             "{\"action\":\"subscribe\",\"id\":\"sub-%s\","
             "\"payload\":{\"request_id\":\"%s\","
             "\"event_types\":[\"complete\"]}}",
             rid, rid);
    send_text(c, msg);
    char sub_id[128];
    snprintf(sub_id, sizeof(sub_id), "sub-%s", rid);
    cJSON_Delete(expect(c, "response", sub_id, FRAME_MS));
    ck_assert_int_eq(subscriptions_of(id), 1);
}

START_TEST(disconnect_forgets_connection)
{
    struct job j;
    job_init(&j, "job-frank-1", 20, 0);
    struct ws_client *c = open_as("frank");
    char *id = only_connection_of("frank");
    send_text(c, j.message);
    expect_ack(c, &j);
    follow(c, &j, 0);
    subscribe_complete(c, id, j.id);
    ws_client_close(c, CLOSE_MS);
    expect_forgotten(id);
    ck_assert_int_eq(connections_of("frank"), 0);
    free(id);

    /* A client that vanishes without a close frame is forgotten too. */
    c = open_as("frank");
    id = only_connection_of("frank");
    subscribe_complete(c, id, j.id);
    ws_client_drop(c);
    expect_forgotten(id);
    ck_assert_int_eq(connections_of("frank"), 0);
    free(id);
    job_cleanup(&j);
}
END_TEST

/* ---- load ------------------------------------------------------------ */

START_TEST(fifty_concurrent_requests)
{
    struct ws_client *c[CLIENTS];
    struct job j[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        char user[32], id[64];
        snprintf(user, sizeof(user), "load-user-%d", i % USERS);
        snprintf(id, sizeof(id), "load-%d", i);
        c[i] = open_as(user);
        job_init(&j[i], id, 40 + i, 0);
    }
    /* All requests go out before any answer is read. */
    for (int i = 0; i < CLIENTS; i++)
        send_text(c[i], j[i].message);
    for (int i = 0; i < CLIENTS; i++) {
        expect_ack(c[i], &j[i]);
        follow(c[i], &j[i], 0);
    }
    /* Nothing more, for anyone: no duplicate, nothing for another id. */
    sleep_ms(1000);
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_msg(ws_client_count(c[i], NULL, NULL) == 0,
                      "client %d has stray frames:\n%s", i,
                      ws_client_dump(c[i]));
    for (int i = 0; i < CLIENTS; i++) {
        ws_client_close(c[i], CLOSE_MS);
        job_cleanup(&j[i]);
    }
}
END_TEST

/* ---- The gateway's Management API ------------------------------------ */

struct mgmt_answer {
    long status;
    char body[4096];
    size_t len;
};

static size_t mgmt_collect(char *p, size_t size, size_t n, void *ctx)
{
    struct mgmt_answer *a = ctx;
    size_t take = size * n;
    if (take > sizeof(a->body) - 1 - a->len)
        take = sizeof(a->body) - 1 - a->len;
    memcpy(a->body + a->len, p, take);
    a->len += take;
    a->body[a->len] = '\0';
    return size * n;
}

/* `method` on /prod/@connections/<id> (the id percent-encoded). */
static struct mgmt_answer mgmt_call(const char *method, const char *id,
                                    const char *body)
{
    struct mgmt_answer a = {0};
    CURL *h = curl_easy_init();
    ck_assert_ptr_nonnull(h);
    char *escaped = curl_easy_escape(h, id, 0);
    char url[512];
    snprintf(url, sizeof(url), "http://%s:%d%s/@connections/%s", gw.host,
             gw.port, gw.path, escaped);
    curl_free(escaped);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mgmt_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)FRAME_MS);
    CURLcode rc = curl_easy_perform(h);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url,
                  curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_cleanup(h);
    return a;
}

START_TEST(management_api_post_get_delete)
{
    struct ws_client *c = open_as("mallory");
    char *id = only_connection_of("mallory");

    struct mgmt_answer a = mgmt_call("GET", id, NULL);
    ck_assert_int_eq(a.status, 200);
    cJSON *info = cJSON_Parse(a.body);
    ck_assert_msg(info != NULL, "GET answered %s", a.body);
    ck_assert_ptr_nonnull(
        cJSON_GetObjectItemCaseSensitive(info, "connectedAt"));
    ck_assert_ptr_nonnull(
        cJSON_GetObjectItemCaseSensitive(info, "lastActiveAt"));
    const cJSON *identity = cJSON_GetObjectItemCaseSensitive(info, "identity");
    ck_assert_str_eq(str(identity, "sourceIp"), "127.0.0.1");
    cJSON_Delete(info);

    a = mgmt_call("POST", id, "{\"type\":\"notice\",\"request_id\":\"m-1\"}");
    ck_assert_int_eq(a.status, 200);
    cJSON *frame = ws_client_wait(c, "notice", "m-1", FRAME_MS);
    ck_assert_msg(frame != NULL, "no frame from POST @connections");
    cJSON_Delete(frame);

    a = mgmt_call("DELETE", id, NULL);
    ck_assert_int_lt(a.status, 300);
    for (int i = 0; i < 100 && !ws_client_closed(c); i++)
        sleep_ms(50);
    ck_assert_msg(ws_client_closed(c), "DELETE did not close the client");
    ck_assert_int_eq(mgmt_call("GET", id, NULL).status, 410);
    ck_assert_int_eq(mgmt_call("POST", id, "{}").status, 410);
    ck_assert_int_eq(mgmt_call("GET", "NoSuchConnId=", NULL).status, 410);
    /* The client answers the close (civetweb's client leaves that to its
     * owner); then the gateway sends $disconnect, as API Gateway does. */
    ws_client_close(c, CLOSE_MS);
    expect_forgotten(id);
    free(id);
}
END_TEST

/* ---- A bootstrap killed mid-request ----------------------------------- */

/* The bootstrap the gateway runs now: its child. 0 when there is none. */
static pid_t bootstrap_pid(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)gw.pid);
    DIR *d = opendir(path);
    struct dirent *e;
    long pid = 0;
    while (d && !pid && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char children[400];
        snprintf(children, sizeof(children), "%s/%s/children", path, e->d_name);
        FILE *f = fopen(children, "r");
        if (f && fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return (pid_t)pid;
}

/* "2026-11-30T06:29:35.123Z" as epoch ms. */
static int64_t lease_epoch_ms(const char *ts)
{
    struct tm tm = {0};
    int ms = 0;
    ck_assert_msg(sscanf(ts, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                         &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                         &ms) == 7,
                  "not a timestamp: %s", ts);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The one request of `user`, once it is `status`; fails after 20 s. */
static struct request wait_for_status(const char *user, enum req_status status)
{
    for (int waited = 0;; waited += 20) {
        struct req_page page = {0};
        struct error_info e;
        enum result r =
            req_list_by_user(&store, user, 0, NULL, &page, deadline(), &e);
        ck_assert_msg(r == RESULT_OK, "req_list_by_user: %s", e.message);
        if (page.count == 1 && page.items[0].status == status) {
            struct request q = page.items[0];
            memset(&page.items[0], 0, sizeof(q));
            req_page_cleanup(&page);
            return q;
        }
        req_page_cleanup(&page);
        ck_assert_msg(waited < 20000, "%s's request never became %s", user,
                      req_status_str(status));
        sleep_ms(20);
    }
}

/*
 * A request held in PROCESSING by delay_ms; its bootstrap SIGKILLed
 * mid-run. The gateway restarts the bootstrap and delivers the record
 * again (the invocation failed), which leaves the request alone: its
 * lease, the killed invocation's deadline, has not passed. Once it has,
 * the retry pass (every second here; `signal`: fired with SIGUSR1, as a
 * test may) takes it over and runs it: the client gets its progress and
 * exactly one complete. Prints the time from the kill to the complete.
 */
static void killed_mid_request(const char *user, int signal_pass)
{
    struct job j;
    char id[64];
    snprintf(id, sizeof(id), "job-%s-1", user);
    job_init(&j, id, 4, 0); /* few progress writes: the pass has 8 s */
    cJSON *m = cJSON_Parse(j.message);
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(m, "payload"),
                            "delay_ms", 2000);
    free(j.message);
    j.message = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);

    struct ws_client *c = open_as(user);
    send_text(c, j.message);
    expect_ack(c, &j);
    struct request r = wait_for_status(user, REQ_PROCESSING);
    ck_assert_msg(*r.lease_expires, "no lease on the claimed request");
    int64_t lease_ms = lease_epoch_ms(r.lease_expires);
    req_cleanup(&r);
    pid_t pid = bootstrap_pid();
    ck_assert_msg(pid > 0, "no bootstrap under the gateway");
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int64_t killed_ms = clock_now_ms();
    if (signal_pass) {
        /* Before the lease passes a pass leaves it (as does the record
         * the gateway delivers again at once); with no pass of its own
         * after that, the request waits for the signal. */
        ck_assert_int_eq(kill(gw.pid, SIGUSR1), 0);
        while (clock_now_ms() < lease_ms + 2500)
            sleep_ms(50);
        ck_assert_int_eq(ws_client_count(c, "complete", j.id), 0);
        r = wait_for_status(user, REQ_PROCESSING);
        ck_assert_int_eq(r.retry_count, 0);
        req_cleanup(&r);
        ck_assert_int_eq(kill(gw.pid, SIGUSR1), 0);
    }
    follow(c, &j, 0);
    int64_t took = clock_now_ms() - killed_ms;
    fprintf(stderr,
            "e2e: bootstrap killed mid-request; complete %lld ms later "
            "(lease %d ms, pass %s)\n",
            (long long)took, function_timeout_ms,
            signal_pass ? "on SIGUSR1" : "every 1 s");
    cJSON *extra = ws_client_wait(c, NULL, j.id, QUIET_MS);
    ck_assert_msg(extra == NULL, "a frame after complete: %s",
                  cJSON_PrintUnformatted(extra));
    r = wait_for_status(user, REQ_COMPLETED);
    ck_assert_int_eq(r.retry_count, 1);
    req_cleanup(&r);
    ws_client_close(c, CLOSE_MS);
    job_cleanup(&j);
}

static void crash_setup(void)
{
    function_timeout_ms = 8000; /* the lease */
    pass_every = "STREAMER_RETRY_PASS_MS=1000";
    gateway_setup();
}

static void on_demand_setup(void)
{
    function_timeout_ms = 8000; /* the redelivery comes well before */
    pass_every = "STREAMER_RETRY_PASS_MS=0"; /* only when signalled */
    gateway_setup();
}

START_TEST(killed_mid_request_completes_once)
{
    killed_mid_request("kim", 0);
}
END_TEST

START_TEST(killed_mid_request_pass_on_demand)
{
    killed_mid_request("lee", 1);
}
END_TEST

Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc = tcase_create("gateway");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_add_checked_fixture(tc, gateway_setup, gateway_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, connect_with_token);
    tcase_add_test(tc, refused_without_token);
    tcase_add_test(tc, refused_with_bad_token);
    tcase_add_test(tc, ping_pong);
    tcase_add_test(tc, echo_answers_payload);
    tcase_add_test(tc, process_data_then_status_after_reconnect);
    tcase_add_test(tc, subscriber_hears_pushes);
    tcase_add_test(tc, disconnect_forgets_connection);
    tcase_add_test(tc, management_api_post_get_delete);
    tcase_add_test(tc, fifty_concurrent_requests);
    suite_add_tcase(s, tc);

    tc = tcase_create("crash");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_add_checked_fixture(tc, crash_setup, gateway_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, killed_mid_request_completes_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("on-demand");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_add_checked_fixture(tc, on_demand_setup, gateway_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, killed_mid_request_pass_on_demand);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * The stream processor against DynamoDB Local and a Management API server
 * written for the tests: progress and completion reach subscribers in
 * order, retries, failures, cancellation, claimed records skipped, and
 * the partial batch response for an injected store fault.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_fixture.h"
#include "clock.h"
#include "connections.h"
#include "ddb_local.h"
#include "ddb_proxy.h"
#include "dispatch.h"
#include "processor.h"
#include "requests.h"
#include "retry_pass.h"
#include "subscriptions.h"
#include "sweeper.h"
#include "test_http.h"

#define MAX_PUSHES 256

/* What the Management API server saw, and how it answers. */
struct pushes {
    pthread_mutex_t lock;
    int count;
    char *conn[MAX_PUSHES]; /* the encoded connection id of each POST */
    cJSON *body[MAX_PUSHES];
    char gone[64];           /* this encoded id answers 410 */
    int cancel_on_progress;  /* cancel the request at the first progress */
    int steal_on_progress;   /* another writer moves it on at the first */
    struct store *canceller; /* a store with its own client, for that */
};

static struct pushes P;
static struct app_fixture F;
static struct test_http *mgmt_server;

/* A clock for the processor's push throttle: +step ms on every read. */
static int64_t fake_now, fake_step;
static int64_t shift_ms; /* how far shifted_clock is ahead of the real one */
static int64_t stepping_clock(void)
{
    fake_now += fake_step;
    return fake_now;
}

static void cancel_in_store(const char *request_id)
{
    struct request r;
    struct error_info err;
    ck_assert_int_eq(req_get(P.canceller, "tenant-a", "user-1", request_id, &r,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(req_cancel(P.canceller, &r, app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&r);
}

/* Another invocation's progress write: the version moves on, the status
 * stays PROCESSING (as when a reclaimer took the request over). */
static void steal_in_store(const char *request_id)
{
    struct request r;
    struct error_info err;
    ck_assert_int_eq(req_get(P.canceller, "tenant-a", "user-1", request_id, &r,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(req_update_progress(P.canceller, &r, 42,
                                         "another invocation", NULL,
                                         app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&r);
}

static void on_mgmt(void *ctx, const struct test_http_request *req,
                    struct test_http_reply *reply)
{
    (void)ctx;
    const char *prefix = "/prod/%40connections/";
    if (strcmp(req->method, "POST") != 0 ||
        strncmp(req->target, prefix, strlen(prefix)) != 0) {
        reply->status = 400;
        return;
    }
    const char *id = req->target + strlen(prefix);
    pthread_mutex_lock(&P.lock);
    int gone = strcmp(id, P.gone) == 0;
    cJSON *body = cJSON_Parse(req->body);
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "type"));
    int cancel = P.cancel_on_progress && type && !strcmp(type, "progress");
    if (cancel) {
        P.cancel_on_progress = 0;
        cancel_in_store(cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(body, "request_id")));
    }
    if (P.steal_on_progress && type && !strcmp(type, "progress")) {
        P.steal_on_progress = 0;
        steal_in_store(cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(body, "request_id")));
    }
    if (!gone && P.count < MAX_PUSHES) {
        P.conn[P.count] = strdup(id);
        P.body[P.count] = body;
        P.count++;
        body = NULL;
    }
    pthread_mutex_unlock(&P.lock);
    cJSON_Delete(body);
    if (gone) {
        reply->status = 410;
        test_http_reply_body(reply, "{\"message\":\"Gone\"}");
    }
}

static void pushes_reset(void)
{
    for (int i = 0; i < P.count; i++) {
        free(P.conn[i]);
        cJSON_Delete(P.body[i]);
    }
    P.count = 0;
    P.gone[0] = '\0';
    P.cancel_on_progress = 0;
    P.steal_on_progress = 0;
}

/* Starts the app (DynamoDB at `ddb_url`, or DynamoDB Local when NULL). */
static void start(const char *ddb_url)
{
    pthread_mutex_init(&P.lock, NULL);
    mgmt_server = test_http_start(on_mgmt, NULL);
    ck_assert_ptr_nonnull(mgmt_server);
    char endpoint[128];
    snprintf(endpoint, sizeof(endpoint), "%s/prod", test_http_url(mgmt_server));
    app_fixture_init(&F);
    app_fixture_set(&F, "WEBSOCKET_ENDPOINT", endpoint);
    if (ddb_url)
        app_fixture_set(&F, "AWS_ENDPOINT_URL_DYNAMODB", ddb_url);
    app_fixture_start(&F);
    P.canceller = &F.app.store;
    shift_ms = 0;
    fake_now = clock_now_ms();
    fake_step = 250; /* every progress push goes */
    F.app.now_ms = stepping_clock;
}

static void stop(void)
{
    test_http_stop(mgmt_server);
    mgmt_server = NULL;
    pushes_reset();
    app_fixture_stop(&F);
    pthread_mutex_destroy(&P.lock);
}

static void setup(void)
{
    start(NULL);
}

static void add_connection(const char *id)
{
    struct connection c = {0};
    c.connection_id = strdup(id);
    c.user_id = strdup("user-1");
    c.tenant_id = strdup("tenant-a");
    c.endpoint = strdup("abc.execute-api.us-east-1.amazonaws.com/prod");
    struct error_info err;
    ck_assert_int_eq(conn_save(&F.app.store, &c, app_fixture_deadline(), &err),
                     RESULT_OK);
    conn_cleanup(&c);
}

static void subscribe(const char *conn, const char *request_id, unsigned events)
{
    struct subscription s = {0};
    s.connection_id = strdup(conn);
    s.request_id = strdup(request_id);
    s.tenant_id = strdup("tenant-a");
    s.user_id = strdup("user-1");
    s.event_types = events;
    struct error_info err;
    ck_assert_int_eq(
        sub_subscribe(&F.app.store, &s, app_fixture_deadline(), &err),
        RESULT_OK);
    sub_cleanup(&s);
}

/* Enqueues `action` with `payload` (JSON text) as request `id`. */
static void enqueue(const char *id, const char *action, const char *payload)
{
    struct request r = {0};
    r.request_id = strdup(id);
    r.connection_id = strdup("conn-a=");
    r.user_id = strdup("user-1");
    r.tenant_id = strdup("tenant-a");
    r.action = strdup(action);
    r.payload = cJSON_Parse(payload);
    ck_assert_ptr_nonnull(r.payload);
    struct error_info err;
    enum result res =
        req_enqueue(&F.app.store, &r, app_fixture_deadline(), &err);
    ck_assert_msg(res == RESULT_OK, "enqueue: %s", err.message);
    req_cleanup(&r);
}

/* A number member, stored (exact decimal text: a raw node) or not. */
static double num(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    ck_assert_msg(v != NULL, "no member %s", name);
    if (cJSON_IsRaw(v))
        return strtod(v->valuestring, NULL);
    ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", name);
    return v->valuedouble;
}

static struct request get_request(const char *id)
{
    struct request r;
    struct error_info err;
    ck_assert_int_eq(req_get(&F.app.store, "tenant-a", "user-1", id, &r,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    return r;
}

/* The stored item of request `id` as a stream record's NewImage. */
static cJSON *record_for(const char *id, const char *event_name,
                         const char *sequence)
{
    char pk[160];
    snprintf(pk, sizeof(pk), "REQ#tenant-a#user-1#%s", id);
    cJSON *key = store_key(pk, "METADATA");
    cJSON *item = NULL;
    struct error_info err;
    ck_assert_int_eq(ddb_get_item(F.app.ddb, F.requests, key, 1,
                                  app_fixture_deadline(), &item, &err),
                     RESULT_OK);
    cJSON_Delete(key);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "eventID", sequence);
    cJSON_AddStringToObject(rec, "eventName", event_name);
    cJSON_AddStringToObject(rec, "eventSource", "aws:dynamodb");
    cJSON_AddStringToObject(rec, "awsRegion", "us-east-1");
    cJSON *ddb = cJSON_AddObjectToObject(rec, "dynamodb");
    cJSON_AddItemToObject(ddb, "Keys", cJSON_CreateObject());
    cJSON_AddItemToObject(ddb, "NewImage", item);
    cJSON_AddStringToObject(ddb, "SequenceNumber", sequence);
    cJSON_AddStringToObject(ddb, "StreamViewType", "NEW_IMAGE");
    return rec;
}

/* Runs a batch of records (taken) and returns the batch item failures'
 * identifiers, comma-joined ("" for none). */
static char *run_batch(cJSON **records, int n, int64_t deadline_ms)
{
    cJSON *event = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(event, "Records");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, records[i]);
    struct buf out;
    buf_init(&out, 1 << 20);
    struct error_info err;
    ck_assert_int_eq(processor_handle(&F.app, event, deadline_ms, &out, &err),
                     RESULT_OK);
    cJSON *answer = cJSON_Parse(buf_str(&out));
    ck_assert_msg(answer != NULL, "answer not JSON: %s", buf_str(&out));
    const cJSON *failures =
        cJSON_GetObjectItemCaseSensitive(answer, "batchItemFailures");
    ck_assert(cJSON_IsArray(failures));
    char joined[1024] = "";
    const cJSON *f;
    cJSON_ArrayForEach(f, failures)
    {
        const char *id = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(f, "itemIdentifier"));
        ck_assert_ptr_nonnull(id);
        if (*joined)
            strcat(joined, ",");
        strncat(joined, id, sizeof(joined) - strlen(joined) - 2);
    }
    cJSON_Delete(answer);
    cJSON_Delete(event);
    buf_cleanup(&out);
    return strdup(joined);
}

static void expect_no_failures(cJSON *record)
{
    char *failed = run_batch(&record, 1, app_fixture_deadline());
    ck_assert_str_eq(failed, "");
    free(failed);
}

static const char *push_type(int i)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(P.body[i], "type"));
}

/* Pushes of `type` to connection `conn` (encoded id). */
static int count_pushes(const char *conn, const char *type)
{
    int n = 0;
    for (int i = 0; i < P.count; i++)
        if (!strcmp(P.conn[i], conn) && !strcmp(push_type(i), type))
            n++;
    return n;
}

/* ---- Runs to completion -------------------------------------------- */

START_TEST(progress_in_order_then_one_complete)
{
    add_connection("conn-a=");
    add_connection("conn-b=");
    enqueue("req-1", "process_data",
            "{\"items\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,"
            "20]}");
    subscribe("conn-a=", "req-1", SUB_ALL);
    subscribe("conn-b=", "req-1", SUB_COMPLETE); /* no progress for b */
    expect_no_failures(record_for("req-1", "INSERT", "100"));

    /* a: progress 10, 20, ... 100 strictly rising, then one complete. */
    int last = -1, progress = 0, seen_complete = 0;
    for (int i = 0; i < P.count; i++) {
        if (strcmp(P.conn[i], "conn-a%3D") != 0)
            continue;
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                             P.body[i], "request_id")),
                         "req-1");
        if (!strcmp(push_type(i), "progress")) {
            ck_assert_msg(!seen_complete, "progress after complete");
            int pct = cJSON_GetObjectItemCaseSensitive(P.body[i], "percentage")
                          ->valueint;
            ck_assert_int_gt(pct, last);
            ck_assert_ptr_nonnull(cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(P.body[i], "timestamp")));
            last = pct;
            progress++;
        } else {
            ck_assert_str_eq(push_type(i), "complete");
            seen_complete++;
            const cJSON *res =
                cJSON_GetObjectItemCaseSensitive(P.body[i], "result");
            ck_assert_double_eq(num(res, "sum"), 210);
            ck_assert_double_eq(num(res, "mean"), 10.5);
        }
    }
    ck_assert_int_eq(progress, 10);
    ck_assert_int_eq(last, 100);
    ck_assert_int_eq(seen_complete, 1);
    ck_assert_int_eq(count_pushes("conn-b%3D", "progress"), 0);
    ck_assert_int_eq(count_pushes("conn-b%3D", "complete"), 1);

    struct request r = get_request("req-1");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    ck_assert_int_eq(r.progress, 100);
    ck_assert_ptr_nonnull(r.result);
    ck_assert_double_eq(num(r.result, "count"), 20);
    ck_assert_double_eq(num(r.result, "min"), 1);
    ck_assert_double_eq(num(r.result, "max"), 20);
    ck_assert(*r.processing_started && *r.processing_ended);
    req_cleanup(&r);
}
END_TEST

START_TEST(progress_pushes_are_throttled)
{
    fake_step = 30; /* ~7 reads per 200 ms */
    add_connection("conn-a=");
    enqueue("req-t", "process_data",
            "{\"items\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,"
            "20]}");
    subscribe("conn-a=", "req-t", SUB_ALL);
    expect_no_failures(record_for("req-t", "INSERT", "101"));
    int progress = count_pushes("conn-a%3D", "progress");
    ck_assert_int_gt(progress, 1);
    ck_assert_int_lt(progress, 10);
    /* The final 100% always goes, just before the one complete. */
    ck_assert_int_ge(P.count, 2);
    ck_assert_str_eq(push_type(P.count - 1), "complete");
    ck_assert_str_eq(push_type(P.count - 2), "progress");
    ck_assert_int_eq(
        cJSON_GetObjectItemCaseSensitive(P.body[P.count - 2], "percentage")
            ->valueint,
        100);
    /* Writes are coalesced with pushes: the item was written once per
     * progress pushed, not once per report. */
    struct request r = get_request("req-t");
    ck_assert_int_eq(r.progress, 100);
    ck_assert_int_eq(r.version, 3 + progress); /* enqueue, claim, complete */
    req_cleanup(&r);
}
END_TEST

START_TEST(generate_report_groups_rows)
{
    add_connection("conn-a=");
    enqueue("req-g", "generate_report",
            "{\"group_by\":\"region\",\"rows\":["
            "{\"region\":\"eu\",\"sales\":10,\"units\":1},"
            "{\"region\":\"us\",\"sales\":5},"
            "{\"region\":\"eu\",\"sales\":2.5,\"units\":3},"
            "{\"sales\":1}]}");
    subscribe("conn-a=", "req-g", SUB_ALL);
    expect_no_failures(record_for("req-g", "INSERT", "102"));
    ck_assert_int_eq(count_pushes("conn-a%3D", "progress"), 3);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
    struct request r = get_request("req-g");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(r.result, "groups");
    const cJSON *eu = cJSON_GetObjectItemCaseSensitive(groups, "eu");
    ck_assert_double_eq(num(eu, "count"), 2);
    const cJSON *totals = cJSON_GetObjectItemCaseSensitive(eu, "totals");
    ck_assert_double_eq(num(totals, "sales"), 12.5);
    ck_assert_double_eq(num(totals, "units"), 4);
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(groups, "us"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(groups, "(none)"));
    ck_assert_double_eq(num(r.result, "row_count"), 4);
    req_cleanup(&r);
}
END_TEST

/* ---- Failures and retries ------------------------------------------- */

START_TEST(retryable_failure_then_success)
{
    add_connection("conn-a=");
    enqueue("req-r", "process_data",
            "{\"items\":[2,4],\"transient_failures\":2}");
    subscribe("conn-a=", "req-r", SUB_ALL);
    expect_no_failures(record_for("req-r", "INSERT", "200"));
    struct request r = get_request("req-r");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    ck_assert_int_eq(r.retry_count, 2);
    ck_assert_double_eq(num(r.result, "mean"), 3);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 0);
}
END_TEST

START_TEST(retries_run_out)
{
    add_connection("conn-a=");
    enqueue("req-x", "process_data",
            "{\"items\":[1],\"transient_failures\":5}");
    subscribe("conn-a=", "req-x", SUB_ALL);
    expect_no_failures(record_for("req-x", "INSERT", "201"));
    struct request r = get_request("req-x");
    ck_assert_str_eq(req_status_str(r.status), "FAILED");
    ck_assert_int_eq(r.retry_count, REQ_DEFAULT_MAX_RETRIES);
    ck_assert_ptr_nonnull(strstr(r.error, "simulated transient failure 4"));
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 0);
}
END_TEST

START_TEST(non_retryable_failure)
{
    add_connection("conn-a=");
    enqueue("req-f", "process_data", "{\"items\":[9e125,9e125]}");
    subscribe("conn-a=", "req-f", SUB_ALL);
    expect_no_failures(record_for("req-f", "INSERT", "202"));
    struct request r = get_request("req-f");
    ck_assert_str_eq(req_status_str(r.status), "FAILED");
    ck_assert_int_eq(r.retry_count, 0);
    ck_assert_ptr_nonnull(strstr(r.error, "cannot be stored"));
    ck_assert_ptr_null(r.result);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 0);
    const cJSON *last = P.body[P.count - 1];
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(last, "error");
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code")),
        "PROCESSING_FAILED");
    ck_assert_ptr_nonnull(strstr(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message")),
        "cannot be stored"));
}
END_TEST

START_TEST(retry_left_to_the_pass_near_the_deadline)
{
    add_connection("conn-a=");
    enqueue("req-d", "process_data",
            "{\"items\":[1,2],\"transient_failures\":1}");
    subscribe("conn-a=", "req-d", SUB_ALL);
    cJSON *rec = record_for("req-d", "INSERT", "300");
    cJSON *again = cJSON_Duplicate(rec, 1);
    /* ~1 s left: enough for the calls, not for a retry and its margin.
     * The record is done with all the same: no batch item failure. */
    F.app.now_ms = clock_now_ms;
    char *failed = run_batch(&rec, 1, clock_now_ms() + 1050);
    ck_assert_str_eq(failed, "");
    free(failed);
    struct request r = get_request("req-d");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    ck_assert_int_eq(r.retry_count, 1);
    ck_assert(*r.retry_after);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 0);

    /* Lambda delivers the same record again; once due, it completes. */
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    expect_no_failures(again);
    r = get_request("req-d");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
}
END_TEST

/* ---- Leases and the scheduled pass ------------------------------------ */

/* The app's clock, `shift_ms` ahead of the real one: time passing. The
 * deadlines the tests give move with it. */
static int64_t shifted_clock(void)
{
    return clock_now_ms() + shift_ms;
}

/* Runs one retry pass; returns its answer (caller deletes). */
static cJSON *run_pass(void)
{
    cJSON *event = cJSON_Parse("{\"source\":\"streamer\",\"detail-type\":"
                               "\"Retry Pass\",\"detail\":{}}");
    ck_assert_int_eq(dispatch_classify(event), EVENT_RETRY_PASS);
    struct buf out;
    buf_init(&out, 4096);
    struct error_info err;
    ck_assert_int_eq(retry_pass_handle(&F.app, event,
                                       app_fixture_deadline() + shift_ms, &out,
                                       &err),
                     RESULT_OK);
    cJSON *answer = cJSON_Parse(buf_str(&out));
    ck_assert_msg(answer != NULL, "pass answered %s", buf_str(&out));
    buf_cleanup(&out);
    cJSON_Delete(event);
    return answer;
}

static int pass_count(const cJSON *answer, const char *name)
{
    return (int)num(answer, name);
}

/* Moves request `id` as another invocation would: `to`, with retry_after
 * or the lease at `at_ms` (0: none). Returns the new version. */
static int64_t move_to(const char *id, enum req_status to, int64_t at_ms)
{
    struct request r = get_request(id);
    struct error_info err;
    if (to == REQ_RETRYING && at_ms)
        clock_rfc3339(at_ms, r.retry_after);
    if (to == REQ_PROCESSING && at_ms)
        clock_rfc3339(at_ms, r.lease_expires);
    ck_assert_int_eq(
        req_update_status(&F.app.store, &r, to, app_fixture_deadline(), &err),
        RESULT_OK);
    int64_t v = r.version;
    req_cleanup(&r);
    return v;
}

START_TEST(waiting_retry_does_not_hold_the_batch)
{
    F.app.now_ms = clock_now_ms;
    add_connection("conn-a=");
    enqueue("req-w", "process_data", "{\"items\":[5,7]}");
    enqueue("req-w2", "process_data", "{\"items\":[1]}");
    enqueue("req-w3", "process_data", "{\"items\":[2]}");
    subscribe("conn-a=", "req-w", SUB_ALL);
    cJSON *records[3] = {record_for("req-w", "INSERT", "1001"),
                         record_for("req-w2", "INSERT", "1002"),
                         record_for("req-w3", "INSERT", "1003")};
    /* The first ran once and waits for a retry due in 30 s. */
    move_to("req-w", REQ_PROCESSING, clock_now_ms() + 30000);
    int64_t v = move_to("req-w", REQ_RETRYING, clock_now_ms() + 30000);

    char *failed = run_batch(records, 3, app_fixture_deadline());
    ck_assert_str_eq(failed, "");
    free(failed);
    struct request r = get_request("req-w2");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
    r = get_request("req-w3");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
    r = get_request("req-w");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    ck_assert_int_eq(r.version, v);
    req_cleanup(&r);

    /* A pass before it is due leaves it; one after it is due runs it. */
    cJSON *answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "ran"), 0);
    cJSON_Delete(answer);
    r = get_request("req-w");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    req_cleanup(&r);
    shift_ms = 31000;
    F.app.now_ms = shifted_clock;
    answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "ran"), 1);
    cJSON_Delete(answer);
    r = get_request("req-w");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    ck_assert_int_eq(r.retry_count, 1);
    ck_assert_double_eq(num(r.result, "sum"), 12);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
}
END_TEST

START_TEST(live_lease_is_left_alone_then_reclaimed)
{
    F.app.now_ms = clock_now_ms;
    add_connection("conn-a=");
    enqueue("req-l", "process_data", "{\"items\":[3,4]}");
    subscribe("conn-a=", "req-l", SUB_ALL);
    cJSON *rec = record_for("req-l", "INSERT", "1100");
    cJSON *again = cJSON_Duplicate(rec, 1);
    /* Another invocation holds it until 20 s from now, and got to 60%. */
    move_to("req-l", REQ_PROCESSING, clock_now_ms() + 20000);
    struct request held = get_request("req-l");
    struct error_info err;
    ck_assert_int_eq(req_update_progress(&F.app.store, &held, 60, "halfway",
                                         NULL, app_fixture_deadline(), &err),
                     RESULT_OK);
    int64_t v = held.version;
    req_cleanup(&held);
    expect_no_failures(rec);
    cJSON *answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "reclaimed"), 0);
    cJSON_Delete(answer);
    struct request r = get_request("req-l");
    ck_assert_str_eq(req_status_str(r.status), "PROCESSING");
    ck_assert_int_eq(r.version, v);
    ck_assert_int_eq(r.retry_count, 0);
    req_cleanup(&r);
    ck_assert_int_eq(P.count, 0);

    /* Its lease passes: the redelivered record takes it over, counting
     * the lost run, and runs it with a lease of its own. */
    shift_ms = 20000 + PROCESSOR_LEASE_GRACE_MS + 500;
    F.app.now_ms = shifted_clock;
    expect_no_failures(again);
    r = get_request("req-l");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    ck_assert_int_eq(r.retry_count, 1);
    ck_assert_double_eq(num(r.result, "sum"), 7);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 0);
    /* The subscriber heard 60% from the lost run: the new run's 50% is
     * not pushed (progress never goes back), its 100% is. */
    ck_assert_int_eq(count_pushes("conn-a%3D", "progress"), 1);
    ck_assert_int_eq(
        cJSON_GetObjectItemCaseSensitive(P.body[0], "percentage")->valueint,
        100);
}
END_TEST

/* A request whose lost run used up its retries: FAILED, one error. */
START_TEST(lost_run_without_retries_left_fails_once)
{
    F.app.now_ms = clock_now_ms;
    add_connection("conn-a=");
    struct request q = {0};
    q.request_id = strdup("req-lost");
    q.connection_id = strdup("conn-a=");
    q.user_id = strdup("user-1");
    q.tenant_id = strdup("tenant-a");
    q.action = strdup("process_data");
    q.payload = cJSON_Parse("{\"items\":[1]}");
    q.max_retries = 1;
    struct error_info err;
    ck_assert_int_eq(
        req_enqueue(&F.app.store, &q, app_fixture_deadline(), &err), RESULT_OK);
    req_cleanup(&q);
    subscribe("conn-a=", "req-lost", SUB_ALL);
    cJSON *rec = record_for("req-lost", "INSERT", "1200");
    /* Ran, was retried (1 of 1), and that run's invocation died. */
    move_to("req-lost", REQ_PROCESSING, clock_now_ms() - 60000);
    move_to("req-lost", REQ_RETRYING, clock_now_ms() - 50000);
    int64_t v = move_to("req-lost", REQ_PROCESSING, clock_now_ms() - 5000);

    cJSON *answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "failed"), 1);
    ck_assert_int_eq(pass_count(answer, "reclaimed"), 0);
    cJSON_Delete(answer);
    struct request r = get_request("req-lost");
    ck_assert_str_eq(req_status_str(r.status), "FAILED");
    ck_assert_int_eq(r.version, v + 1); /* one write */
    ck_assert_int_eq(r.retry_count, 1);
    ck_assert_str_eq(r.error, PROCESSOR_LOST_MESSAGE);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);

    /* Neither another pass nor the record delivered again says more. */
    answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "failed"), 0);
    cJSON_Delete(answer);
    expect_no_failures(rec);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);
    ck_assert_int_eq(P.count, 1);
}
END_TEST

/* Retries left to the pass, run by it until they run out. */
START_TEST(pass_runs_retries_until_exhausted)
{
    F.app.now_ms = clock_now_ms;
    add_connection("conn-a=");
    enqueue("req-ex", "process_data",
            "{\"items\":[1],\"transient_failures\":5}");
    subscribe("conn-a=", "req-ex", SUB_ALL);
    /* ~1 s left: the first retry cannot be slept here. */
    cJSON *rec = record_for("req-ex", "INSERT", "1300");
    char *failed = run_batch(&rec, 1, clock_now_ms() + 1050);
    ck_assert_str_eq(failed, "");
    free(failed);
    struct request r = get_request("req-ex");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    ck_assert_int_eq(r.retry_count, 1);
    req_cleanup(&r);
    ck_assert_int_eq(P.count, 0);

    shift_ms = 5000;
    F.app.now_ms = shifted_clock;
    cJSON *answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "ran"), 1);
    cJSON_Delete(answer);
    r = get_request("req-ex");
    ck_assert_str_eq(req_status_str(r.status), "FAILED");
    ck_assert_int_eq(r.retry_count, REQ_DEFAULT_MAX_RETRIES);
    ck_assert_ptr_nonnull(strstr(r.error, "simulated transient failure 4"));
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);
    answer = run_pass();
    ck_assert_int_eq(pass_count(answer, "ran"), 0);
    cJSON_Delete(answer);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 0);
}
END_TEST

/*
 * A progress write that fails its condition without a cancellation: the
 * request moved on under another writer. The run stops quietly (the
 * record is done, nothing is pushed) and the request read to find out
 * why is freed (LSan in the asan build).
 */
START_TEST(taken_over_mid_run_stops_quietly)
{
    add_connection("conn-a=");
    enqueue("req-s", "process_data", "{\"items\":[1,2,3,4,5,6,7,8,9,10]}");
    subscribe("conn-a=", "req-s", SUB_ALL);
    P.steal_on_progress = 1;
    expect_no_failures(record_for("req-s", "INSERT", "1400"));
    struct request r = get_request("req-s");
    ck_assert_str_eq(req_status_str(r.status), "PROCESSING");
    ck_assert_int_eq(r.progress, 42);
    ck_assert_str_eq(r.progress_message, "another invocation");
    ck_assert_ptr_null(r.result);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "progress"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 0);
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 0);
}
END_TEST

/* ---- Cancel, claims, gone subscribers -------------------------------- */

START_TEST(cancel_mid_run)
{
    add_connection("conn-a=");
    enqueue("req-c", "process_data", "{\"items\":[1,2,3,4,5,6,7,8,9,10]}");
    subscribe("conn-a=", "req-c", SUB_ALL);
    P.cancel_on_progress = 1; /* the server cancels at the first push */
    expect_no_failures(record_for("req-c", "INSERT", "400"));
    struct request r = get_request("req-c");
    ck_assert_str_eq(req_status_str(r.status), "CANCELLED");
    ck_assert_int_lt(r.progress, 100);
    ck_assert_ptr_null(r.result);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "progress"), 1);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 0);
}
END_TEST

START_TEST(claimed_record_is_skipped)
{
    add_connection("conn-a=");
    enqueue("req-k", "process_data", "{\"items\":[1]}");
    subscribe("conn-a=", "req-k", SUB_ALL);
    cJSON *rec = record_for("req-k", "INSERT", "500");
    /* Another invocation claims it first. */
    struct request r = get_request("req-k");
    struct error_info err;
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    int64_t version = r.version;
    req_cleanup(&r);
    expect_no_failures(rec);
    r = get_request("req-k");
    ck_assert_str_eq(req_status_str(r.status), "PROCESSING");
    ck_assert_int_eq(r.version, version);
    req_cleanup(&r);
    ck_assert_int_eq(P.count, 0);

    /* A finished request's record, delivered again, is skipped too. */
    enqueue("req-k2", "process_data", "{\"items\":[1]}");
    subscribe("conn-a=", "req-k2", SUB_ALL);
    rec = record_for("req-k2", "INSERT", "501");
    cJSON *again = cJSON_Duplicate(rec, 1);
    expect_no_failures(rec);
    int pushes = P.count;
    expect_no_failures(again);
    ck_assert_int_eq(P.count, pushes);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
}
END_TEST

START_TEST(other_records_are_ignored)
{
    enqueue("req-o", "process_data", "{\"items\":[1]}");
    cJSON *records[4];
    records[0] = record_for("req-o", "REMOVE", "600");
    /* A PENDING image that is not a request item. */
    records[1] = record_for("req-o", "INSERT", "601");
    cJSON *image = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(records[1], "dynamodb"), "NewImage");
    cJSON_DeleteItemFromObjectCaseSensitive(image, "request_id");
    records[2] = cJSON_Parse("{\"eventName\":\"INSERT\"}");
    records[3] = cJSON_Parse("42");
    char *failed = run_batch(records, 4, app_fixture_deadline());
    ck_assert_str_eq(failed, "");
    free(failed);
    struct request r = get_request("req-o");
    ck_assert_str_eq(req_status_str(r.status), "PENDING");
    req_cleanup(&r);
}
END_TEST

START_TEST(gone_subscriber_is_removed)
{
    add_connection("conn-a=");
    add_connection("conn-gone=");
    enqueue("req-410", "process_data", "{\"items\":[1,2,3]}");
    subscribe("conn-a=", "req-410", SUB_ALL);
    subscribe("conn-gone=", "req-410", SUB_ALL);
    snprintf(P.gone, sizeof(P.gone), "conn-gone%%3D");
    expect_no_failures(record_for("req-410", "INSERT", "700"));
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
    struct connection c;
    struct error_info err;
    ck_assert_int_eq(
        conn_get(&F.app.store, "conn-gone=", &c, app_fixture_deadline(), &err),
        RESULT_NOT_FOUND);
    struct sub_page page = {0};
    ck_assert_int_eq(sub_list_by_connection(&F.app.store, "conn-gone=", 0, NULL,
                                            &page, app_fixture_deadline(),
                                            &err),
                     RESULT_OK);
    ck_assert_int_eq(page.count, 0);
    sub_page_cleanup(&page);
}
END_TEST

START_TEST(stream_event_through_dispatch)
{
    add_connection("conn-a=");
    enqueue("req-disp", "process_data", "{\"items\":[7]}");
    subscribe("conn-a=", "req-disp", SUB_ALL);
    cJSON *event = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(event, "Records"),
                         record_for("req-disp", "INSERT", "800"));
    char *text = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    struct invocation inv;
    memset(&inv, 0, sizeof(inv));
    buf_init(&inv.event, 1 << 20);
    ck_assert_int_eq(buf_appends(&inv.event, text), RESULT_OK);
    free(text);
    inv.deadline_ms = app_fixture_deadline();
    struct buf out;
    buf_init(&out, 1 << 20);
    struct error_info err;
    ck_assert_int_eq(dispatch_handle(&F.app, &inv, &out, &err), RESULT_OK);
    ck_assert_str_eq(buf_str(&out), "{\"batchItemFailures\":[]}");
    buf_cleanup(&out);
    buf_cleanup(&inv.event);
    struct request r = get_request("req-disp");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
}
END_TEST

/* ---- The sweeper ends requests their invocation lost ------------------ */

static int64_t long_ago(void)
{
    return clock_now_ms() - (int64_t)(SWEEPER_STUCK_AFTER_SECONDS + 60) * 1000;
}

START_TEST(sweeper_fails_stuck_requests)
{
    add_connection("conn-a=");
    enqueue("req-stuck", "process_data", "{\"items\":[1]}");
    enqueue("req-retry", "process_data", "{\"items\":[1]}");
    enqueue("req-fresh", "process_data", "{\"items\":[1]}");
    enqueue("req-wait", "process_data", "{\"items\":[1]}");
    enqueue("req-leased", "process_data", "{\"items\":[1]}");
    subscribe("conn-a=", "req-stuck", SUB_ALL);
    struct error_info err;
    /* Claimed 17 minutes ago; one of them then left to a retry. */
    F.app.store.now_ms = long_ago;
    struct request r = get_request("req-stuck");
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&r);
    r = get_request("req-retry");
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    clock_rfc3339(long_ago(), r.retry_after);
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_RETRYING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    int64_t retry_version = r.version;
    req_cleanup(&r);
    /* Claimed as long ago, with a lease: the retry pass's to take. */
    r = get_request("req-leased");
    clock_rfc3339(long_ago() + 30000, r.lease_expires);
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&r);
    F.app.store.now_ms = clock_now_ms;
    /* Claimed just now, or waiting for a retry due now: left alone. */
    r = get_request("req-fresh");
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&r);
    r = get_request("req-wait");
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    clock_rfc3339(clock_now_ms(), r.retry_after);
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_RETRYING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&r);

    cJSON *event = cJSON_Parse("{\"source\":\"aws.events\",\"detail-type\":"
                               "\"Scheduled Event\",\"detail\":{}}");
    struct buf out;
    buf_init(&out, 4096);
    F.app.now_ms = clock_now_ms;
    ck_assert_int_eq(
        sweeper_handle(&F.app, event, app_fixture_deadline(), &out, &err),
        RESULT_OK);
    ck_assert_str_eq(buf_str(&out), "{\"removed\":0,\"abandoned\":2}");
    buf_cleanup(&out);
    cJSON_Delete(event);

    static const struct {
        const char *id, *status;
    } want[] = {{"req-stuck", "FAILED"},
                {"req-retry", "FAILED"},
                {"req-fresh", "PROCESSING"},
                {"req-wait", "RETRYING"},
                {"req-leased", "PROCESSING"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        r = get_request(want[i].id);
        ck_assert_msg(strcmp(req_status_str(r.status), want[i].status) == 0,
                      "%s is %s, want %s", want[i].id, req_status_str(r.status),
                      want[i].status);
        if (!strcmp(want[i].status, "FAILED"))
            ck_assert_ptr_nonnull(strstr(r.error, "interrupted"));
        req_cleanup(&r);
    }
    /* RETRYING → FAILED is one conditional write. */
    r = get_request("req-retry");
    ck_assert_int_eq(r.version, retry_version + 1);
    req_cleanup(&r);
    /* The subscriber hears the end. */
    ck_assert_int_eq(count_pushes("conn-a%3D", "error"), 1);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                         P.body[P.count - 1], "request_id")),
                     "req-stuck");
}
END_TEST

/* ---- Request ids are per user ------------------------------------- */

/* Bob's connection, request and subscription, beside user-1's. */
static void add_bob_same_id(const char *id)
{
    struct error_info err;
    struct connection c = {0};
    c.connection_id = strdup("conn-bob=");
    c.user_id = strdup("bob");
    c.tenant_id = strdup("tenant-a");
    c.endpoint = strdup("abc.execute-api.us-east-1.amazonaws.com/prod");
    ck_assert_int_eq(conn_save(&F.app.store, &c, app_fixture_deadline(), &err),
                     RESULT_OK);
    conn_cleanup(&c);
    struct request r = {0};
    r.request_id = strdup(id);
    r.connection_id = strdup("conn-bob=");
    r.user_id = strdup("bob");
    r.tenant_id = strdup("tenant-a");
    r.action = strdup("process_data");
    r.payload = cJSON_Parse("{\"items\":[100]}");
    ck_assert_int_eq(
        req_enqueue(&F.app.store, &r, app_fixture_deadline(), &err), RESULT_OK);
    req_cleanup(&r);
    struct subscription s = {0};
    s.connection_id = strdup("conn-bob=");
    s.request_id = strdup(id);
    s.tenant_id = strdup("tenant-a");
    s.user_id = strdup("bob");
    ck_assert_int_eq(
        sub_subscribe(&F.app.store, &s, app_fixture_deadline(), &err),
        RESULT_OK);
    sub_cleanup(&s);
}

START_TEST(same_id_of_two_users_runs_apart)
{
    add_connection("conn-a=");
    enqueue("req-same", "process_data", "{\"items\":[1,2]}");
    subscribe("conn-a=", "req-same", SUB_ALL);
    add_bob_same_id("req-same");

    /* user-1's request runs: only user-1's subscriber hears of it, and
     * Bob's request of the same id stays PENDING. */
    expect_no_failures(record_for("req-same", "INSERT", "700"));
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
    ck_assert_int_eq(count_pushes("conn-bob%3D", "complete"), 0);
    ck_assert_int_eq(count_pushes("conn-bob%3D", "progress"), 0);
    struct request mine = get_request("req-same");
    ck_assert_int_eq(mine.status, REQ_COMPLETED);
    req_cleanup(&mine);
    struct request bobs;
    struct error_info err;
    ck_assert_int_eq(req_get(&F.app.store, "tenant-a", "bob", "req-same", &bobs,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(bobs.status, REQ_PENDING);
    req_cleanup(&bobs);
}
END_TEST

/* ---- An injected store fault: a proxy in front of DynamoDB Local ------ */

/* While set, UpdateItems naming this text (and fault_also, when set)
 * answer 500 InternalFailure. */
static char fault_marker[64], fault_also[64];

static void on_proxy(void *ctx, const struct test_http_request *req,
                     struct test_http_reply *reply)
{
    (void)ctx;
    const char *target = test_http_header(req, "X-Amz-Target");
    if (*fault_marker && target && strstr(target, "UpdateItem") &&
        strstr(req->body, fault_marker) &&
        (!*fault_also || strstr(req->body, fault_also))) {
        ddb_proxy_reply_fault(reply);
        return;
    }
    ddb_proxy_forward(req, reply);
}

static struct test_http *proxy;

static void setup_proxy(void)
{
    fault_marker[0] = '\0';
    fault_also[0] = '\0';
    proxy = test_http_start(on_proxy, NULL);
    ck_assert_ptr_nonnull(proxy);
    start(test_http_url(proxy));
    /* The fault must outlast the client's retries quickly. */
    aws_client_set_retry(ddb_aws(F.app.ddb), 1, 5, 2);
}

static void teardown_proxy(void)
{
    stop();
    test_http_stop(proxy);
    proxy = NULL;
}

START_TEST(partial_batch_failure_for_a_store_fault)
{
    add_connection("conn-a=");
    enqueue("req-ok", "process_data", "{\"items\":[1]}");
    enqueue("req-bad", "process_data", "{\"items\":[2]}");
    enqueue("req-ok2", "process_data", "{\"items\":[3]}");
    subscribe("conn-a=", "req-ok", SUB_ALL);
    subscribe("conn-a=", "req-bad", SUB_ALL);
    cJSON *records[3] = {record_for("req-ok", "INSERT", "901"),
                         record_for("req-bad", "INSERT", "902"),
                         record_for("req-ok2", "INSERT", "903")};
    cJSON *again = cJSON_Duplicate(records[1], 1);
    snprintf(fault_marker, sizeof(fault_marker), "REQ#tenant-a#user-1#req-bad");
    char *failed = run_batch(records, 3, app_fixture_deadline());
    ck_assert_str_eq(failed, "902");
    free(failed);
    fault_marker[0] = '\0';
    struct request r = get_request("req-ok");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
    r = get_request("req-ok2");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
    r = get_request("req-bad");
    ck_assert_str_eq(req_status_str(r.status), "PENDING");
    req_cleanup(&r);

    /* Lambda retries the failed record: now it runs. */
    expect_no_failures(again);
    r = get_request("req-bad");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    req_cleanup(&r);
}
END_TEST

START_TEST(store_fault_mid_run_hands_the_request_back)
{
    add_connection("conn-a=");
    enqueue("req-mid", "process_data", "{\"items\":[4,5,6]}");
    subscribe("conn-a=", "req-mid", SUB_ALL);
    cJSON *rec = record_for("req-mid", "INSERT", "950");
    cJSON *again = cJSON_Duplicate(rec, 1);
    /* Progress writes fail; the claim and the hand-back do not. */
    snprintf(fault_marker, sizeof(fault_marker), "REQ#tenant-a#user-1#req-mid");
    snprintf(fault_also, sizeof(fault_also), "progress_message");
    char *failed = run_batch(&rec, 1, app_fixture_deadline());
    ck_assert_str_eq(failed, "950");
    free(failed);
    fault_marker[0] = '\0';
    struct request r = get_request("req-mid");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 0);

    expect_no_failures(again);
    r = get_request("req-mid");
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    ck_assert_double_eq(num(r.result, "sum"), 15);
    req_cleanup(&r);
    ck_assert_int_eq(count_pushes("conn-a%3D", "complete"), 1);
}
END_TEST

Suite *processor_suite(void)
{
    Suite *s = suite_create("processor");
    TCase *tc = tcase_create("runs");
    tcase_add_checked_fixture(tc, setup, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, progress_in_order_then_one_complete);
    tcase_add_test(tc, progress_pushes_are_throttled);
    tcase_add_test(tc, generate_report_groups_rows);
    tcase_add_test(tc, stream_event_through_dispatch);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_checked_fixture(tc, setup, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, retryable_failure_then_success);
    tcase_add_test(tc, retries_run_out);
    tcase_add_test(tc, non_retryable_failure);
    tcase_add_test(tc, retry_left_to_the_pass_near_the_deadline);
    suite_add_tcase(s, tc);

    tc = tcase_create("records");
    tcase_add_checked_fixture(tc, setup, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cancel_mid_run);
    tcase_add_test(tc, claimed_record_is_skipped);
    tcase_add_test(tc, other_records_are_ignored);
    tcase_add_test(tc, gone_subscriber_is_removed);
    tcase_add_test(tc, sweeper_fails_stuck_requests);
    tcase_add_test(tc, same_id_of_two_users_runs_apart);
    suite_add_tcase(s, tc);

    tc = tcase_create("leases");
    tcase_add_checked_fixture(tc, setup, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, waiting_retry_does_not_hold_the_batch);
    tcase_add_test(tc, live_lease_is_left_alone_then_reclaimed);
    tcase_add_test(tc, lost_run_without_retries_left_fails_once);
    tcase_add_test(tc, pass_runs_retries_until_exhausted);
    tcase_add_test(tc, taken_over_mid_run_stops_quietly);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, setup_proxy, teardown_proxy);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, partial_batch_failure_for_a_store_fault);
    tcase_add_test(tc, store_fault_mid_run_hands_the_request_back);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Fan-out on DynamoDB Local with a Management API stand-in that answers
 * after a delay and counts the pushes in flight: every subscriber gets
 * exactly one complete while the pushes overlap, 410s are cleaned up,
 * per-connection order holds under concurrency and retries, results over
 * 128 KB arrive whole in parts (by push and by status), progress writes
 * are coalesced, and BatchGetItem reads connections past 100 keys.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_fixture.h"
#include "clock.h"
#include "connections.h"
#include "ddb_local.h"
#include "fanout.h"
#include "message.h"
#include "parts.h"
#include "processor.h"
#include "requests.h"
#include "subscriptions.h"
#include "test_http.h"

#define MAX_POSTS 8192
#define USER "user-fan"

/* What the stand-in saw and how it answers; guarded by `lock`. */
static struct {
    pthread_mutex_t lock;
    int count;
    char *conn[MAX_POSTS];
    char *body[MAX_POSTS];
    size_t largest;   /* the largest body, bytes */
    int in_flight;    /* POSTs being answered now */
    int peak;         /* the most at once */
    int delay_ms;     /* each answer waits this long */
    const char *gone; /* ids (",a,b,") that answer 410 */
    int fail_every;   /* every n-th POST answers 503 (0: none) */
    int failed;       /* 503s sent */
    int seen;         /* POSTs received, 503s included */
} S;

static struct app_fixture F;
static struct test_http *server;

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
    char key[160];
    snprintf(key, sizeof(key), ",%s,", id);
    pthread_mutex_lock(&S.lock);
    int n = ++S.seen;
    if (++S.in_flight > S.peak)
        S.peak = S.in_flight;
    int delay = S.delay_ms;
    pthread_mutex_unlock(&S.lock);
    if (delay > 0)
        usleep((useconds_t)delay * 1000);
    pthread_mutex_lock(&S.lock);
    S.in_flight--;
    int gone = S.gone && strstr(S.gone, key);
    int fail = !gone && S.fail_every && n % S.fail_every == 0;
    if (fail)
        S.failed++;
    if (!gone && !fail && S.count < MAX_POSTS) {
        S.conn[S.count] = strdup(id);
        S.body[S.count] = strdup(req->body);
        if (req->body_len > S.largest)
            S.largest = req->body_len;
        S.count++;
    }
    pthread_mutex_unlock(&S.lock);
    if (gone) {
        reply->status = 410;
        test_http_reply_body(reply, "{\"message\":null}");
    } else if (fail) {
        reply->status = 503;
        test_http_reply_body(reply, "{\"message\":\"Service Unavailable\"}");
    }
}

static void setup(void)
{
    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.lock, NULL);
    server = test_http_start(on_mgmt, NULL);
    ck_assert_ptr_nonnull(server);
    char endpoint[128];
    snprintf(endpoint, sizeof(endpoint), "%s/prod", test_http_url(server));
    app_fixture_init(&F);
    app_fixture_set(&F, "WEBSOCKET_ENDPOINT", endpoint);
    app_fixture_set(&F, "PUSH_CONCURRENCY", "16");
    app_fixture_start(&F);
}

static void teardown(void)
{
    test_http_stop(server);
    server = NULL;
    for (int i = 0; i < S.count; i++) {
        free(S.conn[i]);
        free(S.body[i]);
    }
    app_fixture_stop(&F);
    pthread_mutex_destroy(&S.lock);
}

static void add_connection(const char *id)
{
    struct connection c = {0};
    c.connection_id = strdup(id);
    c.user_id = strdup(USER);
    c.tenant_id = strdup("tenant-a");
    c.endpoint = strdup("abc.execute-api.us-east-1.amazonaws.com/prod");
    struct error_info err;
    ck_assert_int_eq(conn_save(&F.app.store, &c, app_fixture_deadline(), &err),
                     RESULT_OK);
    conn_cleanup(&c);
}

static void subscribe(const char *conn, const char *request_id)
{
    struct subscription s = {0};
    s.connection_id = strdup(conn);
    s.request_id = strdup(request_id);
    s.tenant_id = strdup("tenant-a");
    s.user_id = strdup(USER);
    s.event_types = SUB_ALL;
    struct error_info err;
    ck_assert_int_eq(
        sub_subscribe(&F.app.store, &s, app_fixture_deadline(), &err),
        RESULT_OK);
    sub_cleanup(&s);
}

/* `n` connections fan-000.. subscribed to `request_id`. */
static void subscribers(int n, const char *request_id)
{
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "fan-%03d", i);
        add_connection(id);
        subscribe(id, request_id);
    }
}

static void enqueue(const char *id, const char *action, const char *payload)
{
    struct request r = {0};
    r.request_id = strdup(id);
    r.connection_id = strdup("fan-000");
    r.user_id = strdup(USER);
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

/* Runs request `id` as its stream INSERT record would; no failures. */
static void run(const char *id)
{
    struct request q;
    struct error_info err;
    ck_assert_int_eq(req_get(&F.app.store, "tenant-a", USER, id, &q,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    req_cleanup(&q);
    char key_s[STORE_REQUEST_KEY_SIZE], pk[STORE_REQUEST_KEY_SIZE + 8];
    ck_assert_int_eq(store_request_key("tenant-a", USER, id, key_s, &err),
                     RESULT_OK);
    snprintf(pk, sizeof(pk), "REQ#%s", key_s);
    cJSON *key = store_key(pk, "METADATA");
    cJSON *item = NULL;
    ck_assert_int_eq(ddb_get_item(F.app.ddb, F.requests, key, 1,
                                  app_fixture_deadline(), &item, &err),
                     RESULT_OK);
    cJSON_Delete(key);
    cJSON *event = cJSON_CreateObject();
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(event, "Records"), rec);
    cJSON_AddStringToObject(rec, "eventName", "INSERT");
    cJSON *ddb = cJSON_AddObjectToObject(rec, "dynamodb");
    cJSON_AddItemToObject(ddb, "NewImage", item);
    cJSON_AddStringToObject(ddb, "SequenceNumber", "100");
    struct buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(
        processor_handle(&F.app, event, app_fixture_deadline(), &out, &err),
        RESULT_OK);
    ck_assert_str_eq(buf_str(&out), "{\"batchItemFailures\":[]}");
    buf_cleanup(&out);
    cJSON_Delete(event);
}

static const char *type_of(const cJSON *frame)
{
    const char *t =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(frame, "type"));
    return t ? t : "";
}

/* Frames of `type` that connection `conn` got. */
static int count_for(const char *conn, const char *type)
{
    int n = 0;
    for (int i = 0; i < S.count; i++) {
        cJSON *b = cJSON_Parse(S.body[i]);
        n += !strcmp(S.conn[i], conn) && !strcmp(type_of(b), type);
        cJSON_Delete(b);
    }
    return n;
}

START_TEST(hundred_subscribers_one_complete_each_pushes_overlap)
{
    subscribers(100, "req-100");
    enqueue("req-100", "process_data", "{\"items\":[1,2,3]}");
    S.delay_ms = 10;
    run("req-100");
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof(id), "fan-%03d", i);
        ck_assert_msg(count_for(id, "complete") == 1, "%s got %d completes", id,
                      count_for(id, "complete"));
    }
    /* The pushes overlapped, never beyond PUSH_CONCURRENCY. */
    ck_assert_msg(S.peak >= 8, "at most %d pushes in flight", S.peak);
    ck_assert_int_le(S.peak, 16);
    ck_assert_int_le(fanout_peak_in_flight(F.app.fanout), 16);
}
END_TEST

START_TEST(gone_subscribers_are_forgotten)
{
    subscribers(10, "req-gone");
    enqueue("req-gone", "process_data", "{\"items\":[1,2]}");
    S.gone = ",fan-002,fan-005,fan-009,";
    run("req-gone");
    struct error_info err;
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "fan-%03d", i);
        int gone = strstr(S.gone, id) != NULL;
        struct connection c;
        enum result r =
            conn_get(&F.app.store, id, &c, app_fixture_deadline(), &err);
        ck_assert_int_eq(r, gone ? RESULT_NOT_FOUND : RESULT_OK);
        if (r == RESULT_OK)
            conn_cleanup(&c);
        struct sub_page page = {0};
        ck_assert_int_eq(sub_list_by_connection(&F.app.store, id, 0, NULL,
                                                &page, app_fixture_deadline(),
                                                &err),
                         RESULT_OK);
        ck_assert_int_eq(page.count, gone ? 0 : 1);
        sub_page_cleanup(&page);
        ck_assert_int_eq(count_for(id, "complete"), gone ? 0 : 1);
    }
}
END_TEST

/* Each connection's frames: progress in rising order, one complete last. */
static void check_order(const char *conn, int *progress)
{
    int last = -1, complete = 0;
    *progress = 0;
    for (int i = 0; i < S.count; i++) {
        if (strcmp(S.conn[i], conn) != 0)
            continue;
        cJSON *b = cJSON_Parse(S.body[i]);
        ck_assert_msg(!complete, "%s got a frame after its complete", conn);
        if (!strcmp(type_of(b), "progress")) {
            int p = cJSON_GetObjectItemCaseSensitive(b, "percentage")->valueint;
            ck_assert_msg(p > last, "%s: progress %d after %d", conn, p, last);
            last = p;
            (*progress)++;
        } else {
            ck_assert_str_eq(type_of(b), "complete");
            complete = 1;
        }
        cJSON_Delete(b);
    }
    ck_assert_msg(complete, "%s got no complete", conn);
}

/* A clock that moves 250 ms on every read: every progress goes out. */
static int64_t fake_now;
static int64_t stepping_clock(void)
{
    return fake_now += 250;
}

START_TEST(order_per_connection_under_concurrency_and_retries)
{
    subscribers(20, "req-order");
    enqueue("req-order", "process_data",
            "{\"items\":[1,2,3,4,5,6,7,8,9,10],\"progress_steps\":10}");
    fake_now = clock_now_ms();
    F.app.now_ms = stepping_clock;
    S.delay_ms = 2;
    S.fail_every = 7; /* retried with backoff, order kept */
    fanout_set_retry(F.app.fanout, 5, 40, 10);
    run("req-order");
    ck_assert_int_gt(S.failed, 5);
    for (int i = 0; i < 20; i++) {
        char id[32];
        int progress = 0;
        snprintf(id, sizeof(id), "fan-%03d", i);
        check_order(id, &progress);
        ck_assert_int_eq(progress, 10);
    }
}
END_TEST

/* Joins the parts of `request_id` in the stand-in's log; the text. */
static char *join_parts(const char *conn, const char *request_id, int *parts)
{
    size_t cap = 1 << 20, len = 0;
    char *all = calloc(1, cap);
    int expected = -1, next = 0;
    for (int i = 0; i < S.count; i++) {
        cJSON *b = cJSON_Parse(S.body[i]);
        const char *rid = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(b, "request_id"));
        if (!strcmp(S.conn[i], conn) && !strcmp(type_of(b), "result_part") &&
            rid && !strcmp(rid, request_id)) {
            int index = cJSON_GetObjectItemCaseSensitive(b, "index")->valueint;
            int n = cJSON_GetObjectItemCaseSensitive(b, "parts")->valueint;
            ck_assert_int_eq(index, next++); /* in order */
            ck_assert(expected < 0 || expected == n);
            expected = n;
            const char *data = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(b, "data"));
            ck_assert_ptr_nonnull(data);
            ck_assert_uint_lt(len + strlen(data), cap);
            memcpy(all + len, data, strlen(data));
            len += strlen(data);
        }
        cJSON_Delete(b);
    }
    ck_assert_int_eq(next, expected);
    *parts = expected;
    return all;
}

/* The stored result of `id`, printed. */
static char *stored_result(const char *id)
{
    struct request q;
    struct error_info err;
    ck_assert_int_eq(req_get(&F.app.store, "tenant-a", USER, id, &q,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(q.status, REQ_COMPLETED);
    char *text = cJSON_PrintUnformatted(q.result);
    req_cleanup(&q);
    return text;
}

/* Parses both texts and compares them as JSON (numbers by value). */
static void same_json(const char *a, const char *b)
{
    cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(cJSON_Compare(x, y, 1), "the joined result differs");
    cJSON_Delete(x);
    cJSON_Delete(y);
}

START_TEST(big_result_arrives_in_parts_by_push)
{
    subscribers(3, "req-big");
    enqueue("req-big", "generate_dataset", "{\"rows\":7000}");
    run("req-big");
    char *stored = stored_result("req-big");
    ck_assert_uint_gt(strlen(stored), 300 * 1000);
    ck_assert_uint_le(S.largest, PARTS_MAX_FRAME_BYTES);
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "fan-%03d", i);
        ck_assert_int_eq(count_for(id, "complete"), 1);
        int parts = 0;
        char *joined = join_parts(id, "req-big", &parts);
        ck_assert_int_ge(parts, 3);
        same_json(joined, stored);
        free(joined);
        /* The complete came first and announced the parts. */
        for (int k = 0; k < S.count; k++) {
            cJSON *b = cJSON_Parse(S.body[k]);
            int is = !strcmp(S.conn[k], id) && !strcmp(type_of(b), "complete");
            if (is) {
                ck_assert_int_eq(
                    cJSON_GetObjectItemCaseSensitive(b, "result_parts")
                        ->valueint,
                    parts);
                ck_assert_ptr_null(
                    cJSON_GetObjectItemCaseSensitive(b, "result"));
            }
            cJSON_Delete(b);
            if (is)
                break;
            ck_assert_msg(strcmp(S.conn[k], id) != 0 ||
                              strstr(S.body[k], "result_part") == NULL,
                          "a part came before the complete");
        }
    }
    free(stored);
}
END_TEST

START_TEST(big_result_arrives_in_parts_by_status)
{
    subscribers(1, "req-big2");
    enqueue("req-big2", "generate_dataset", "{\"rows\":7000}");
    run("req-big2");
    int before = S.count;
    cJSON *ev = cJSON_CreateObject();
    cJSON *ctx = cJSON_AddObjectToObject(ev, "requestContext");
    cJSON_AddStringToObject(ctx, "routeKey", "$default");
    cJSON_AddStringToObject(ctx, "eventType", "MESSAGE");
    cJSON_AddStringToObject(ctx, "connectionId", "fan-000");
    cJSON_AddStringToObject(ctx, "domainName", "abc.example.com");
    cJSON_AddStringToObject(ctx, "stage", "prod");
    cJSON_AddStringToObject(ev, "body",
                            "{\"action\":\"status\",\"id\":\"st-1\","
                            "\"payload\":{\"request_id\":\"req-big2\"}}");
    struct buf out;
    buf_init(&out, 1 << 20);
    struct error_info err;
    ck_assert_int_eq(
        message_handle(&F.app, ev, NULL, 0, app_fixture_deadline(), &out, &err),
        RESULT_OK);
    cJSON_Delete(ev);
    cJSON *route = cJSON_Parse(buf_str(&out));
    buf_cleanup(&out);
    const char *body_text =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(route, "body"));
    ck_assert_ptr_nonnull(body_text);
    ck_assert_uint_le(strlen(body_text), PARTS_MAX_FRAME_BYTES);
    cJSON *body = cJSON_Parse(body_text);
    cJSON_Delete(route);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
    ck_assert_str_eq(type_of(body), "response");
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "status")),
        "COMPLETED");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(data, "result"));
    int announced =
        cJSON_GetObjectItemCaseSensitive(data, "result_parts")->valueint;
    ck_assert_int_gt(S.count, before);
    int parts = 0;
    char *joined = join_parts("fan-000", "st-1", &parts);
    ck_assert_int_eq(parts, announced);
    char *stored = stored_result("req-big2");
    ck_assert_int_eq(
        cJSON_GetObjectItemCaseSensitive(data, "result_bytes")->valueint,
        (int)strlen(joined));
    same_json(joined, stored);
    free(joined);
    free(stored);
    cJSON_Delete(body);
}
END_TEST

START_TEST(progress_writes_are_coalesced)
{
    /* 10,000 reports, on the real clock: the item is written about once
     * per 200 ms push interval, plus the first, 100% and the end. */
    char *payload = malloc(80000);
    strcpy(payload, "{\"progress_steps\":10000,\"items\":[");
    for (int i = 0; i < 10000; i++)
        sprintf(payload + strlen(payload), "%s%d", i ? "," : "", i % 10);
    strcat(payload, "]}");
    subscribers(1, "req-many");
    enqueue("req-many", "process_data", payload);
    free(payload);
    int64_t t0 = clock_now_ms();
    run("req-many");
    int64_t elapsed = clock_now_ms() - t0;
    struct request q;
    struct error_info err;
    ck_assert_int_eq(req_get(&F.app.store, "tenant-a", USER, "req-many", &q,
                             app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(q.status, REQ_COMPLETED);
    ck_assert_int_eq(q.progress, 100);
    /* enqueue + claim + first + 100% + complete + one per interval */
    ck_assert_msg(q.version <= 5 + elapsed / PROCESSOR_PUSH_INTERVAL_MS + 1,
                  "version %lld after %lld ms", (long long)q.version,
                  (long long)elapsed);
    req_cleanup(&q);
    ck_assert_int_le(count_for("fan-000", "progress"),
                     3 + (int)(elapsed / PROCESSOR_PUSH_INTERVAL_MS));
}
END_TEST

START_TEST(batch_get_reads_past_one_hundred_keys)
{
    enum { N = 230 };
    char *ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = malloc(32);
        snprintf(ids[i], 32, "bg-%03d", i);
        if (i % 3 != 0) /* every third is not stored */
            add_connection(ids[i]);
    }
    struct connection *c = NULL;
    struct error_info err;
    ck_assert_int_eq(conn_batch_get(&F.app.store, (const char *const *)ids, N,
                                    &c, app_fixture_deadline(), &err),
                     RESULT_OK);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            ck_assert_ptr_null(c[i].connection_id);
        } else {
            ck_assert_str_eq(c[i].connection_id, ids[i]);
            ck_assert_str_eq(c[i].user_id, USER);
        }
    }
    conn_array_free(c, N);
    /* A bad id is refused before any call, `c` untouched. */
    const char *bad[] = {"ok-1", ""};
    c = NULL;
    ck_assert_int_eq(
        conn_batch_get(&F.app.store, bad, 2, &c, app_fixture_deadline(), &err),
        RESULT_INVALID_INPUT);
    ck_assert_ptr_null(c);
    /* Batched deletes remove them. */
    ck_assert_int_eq(conn_delete_many(&F.app.store, (const char *const *)ids, N,
                                      app_fixture_deadline(), &err),
                     RESULT_OK);
    ck_assert_int_eq(conn_batch_get(&F.app.store, (const char *const *)ids, N,
                                    &c, app_fixture_deadline(), &err),
                     RESULT_OK);
    for (int i = 0; i < N; i++) {
        ck_assert_ptr_null(c[i].connection_id);
        free(ids[i]);
    }
    conn_array_free(c, N);
}
END_TEST

START_TEST(parts_split_keeps_utf8_and_fits)
{
    /* 300 KB of text with quotes and 3-byte characters: every part fits
     * one message, none cuts a character, and they join to the text. */
    size_t len = 0, cap = 320 * 1024;
    char *text = malloc(cap + 8);
    while (len < cap) {
        const char *piece =
            (len / 7) % 2 ? "\"\xe2\x82\xac\\" : "abc\xe2\x82\xac";
        memcpy(text + len, piece, strlen(piece));
        len += strlen(piece);
    }
    text[len] = '\0';
    size_t n = 0;
    char **frames = parts_split("r-1", text, len, &n);
    ck_assert_uint_ge(n, 4);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_le(strlen(frames[i]), PARTS_MAX_FRAME_BYTES);
        cJSON *f = cJSON_Parse(frames[i]);
        ck_assert_ptr_nonnull(f);
        const char *d =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "data"));
        ck_assert_int_eq(memcmp(d, text + at, strlen(d)), 0);
        at += strlen(d);
        cJSON_Delete(f);
    }
    ck_assert_uint_eq(at, len);
    parts_free(frames, n);
    free(text);
}
END_TEST

Suite *fanout_suite(void)
{
    Suite *s = suite_create("fanout");
    TCase *tc = tcase_create("fanout");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hundred_subscribers_one_complete_each_pushes_overlap);
    tcase_add_test(tc, gone_subscribers_are_forgotten);
    tcase_add_test(tc, order_per_connection_under_concurrency_and_retries);
    tcase_add_test(tc, big_result_arrives_in_parts_by_push);
    tcase_add_test(tc, big_result_arrives_in_parts_by_status);
    tcase_add_test(tc, progress_writes_are_coalesced);
    tcase_add_test(tc, batch_get_reads_past_one_hundred_keys);
    tcase_add_test(tc, parts_split_keeps_utf8_and_fits);
    suite_add_tcase(s, tc);
    return s;
}

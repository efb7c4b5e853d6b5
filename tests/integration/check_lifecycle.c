/*
 * The request lifecycle through the real bootstrap: the tests' Runtime
 * API hands it stream batches and retry-pass events, DynamoDB Local keeps
 * the requests, and a Management API server written for the tests
 * records what the subscriber hears. A retry that is not due does not
 * hold its batch; a bootstrap killed (SIGKILL) mid-request leaves its
 * lease, and once the lease passes a redelivery, or a scheduled pass,
 * completes the request exactly once.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app_fixture.h"
#include "clock.h"
#include "connections.h"
#include "ddb_local.h"
#include "fake_rapi.h"
#include "processor.h"
#include "proc.h"
#include "requests.h"
#include "subscriptions.h"
#include "test_http.h"

#define CONN "conn-life="
#define CONN_ENCODED "conn-life%3D"
#define POST_MS 60000 /* an invocation's answer; generous for ASan */
#define MAX_ENV 48

static struct app_fixture F;
static struct test_http *mgmt;
static struct fake_rapi *rapi;

/* What the subscriber heard: the type of each push, in order. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char heard[256][16];
static int heard_count;

static void on_mgmt(void *ctx, const struct test_http_request *req,
                    struct test_http_reply *reply)
{
    (void)ctx;
    if (strcmp(req->method, "POST") != 0 ||
        strcmp(req->target, "/prod/%40connections/" CONN_ENCODED) != 0) {
        reply->status = 400;
        return;
    }
    cJSON *body = cJSON_Parse(req->body);
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "type"));
    pthread_mutex_lock(&lock);
    if (heard_count < 256)
        snprintf(heard[heard_count++], sizeof(heard[0]), "%s",
                 type ? type : "?");
    pthread_mutex_unlock(&lock);
    cJSON_Delete(body);
}

static int heard_of(const char *type)
{
    int n = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < heard_count; i++)
        n += strcmp(heard[i], type) == 0;
    pthread_mutex_unlock(&lock);
    return n;
}

static void setup(void)
{
    heard_count = 0;
    mgmt = test_http_start(on_mgmt, NULL);
    ck_assert_ptr_nonnull(mgmt);
    app_fixture_init(&F);
    app_fixture_start(&F);
    rapi = fake_rapi_start();
    ck_assert_ptr_nonnull(rapi);
    fake_rapi_set_idle_wait(rapi, 120000); /* the bootstrap waits for us */
}

static void teardown(void)
{
    fake_rapi_stop(rapi);
    rapi = NULL;
    test_http_stop(mgmt);
    mgmt = NULL;
    app_fixture_stop(&F);
}

/* ---- The bootstrap as a process ---------------------------------------- */

struct boot {
    pid_t pid;
    char log[1024];
};

/* Starts a bootstrap on the tests' Runtime API with the fixture's
 * settings; its output goes to a log under $STREAMER_BUILD. */
static void boot_start(struct boot *b)
{
    static int started;
    static char vars[MAX_ENV][4096];
    char *env[MAX_ENV + 1];
    int n = 0;
    snprintf(vars[n++], sizeof(vars[0]), "AWS_LAMBDA_RUNTIME_API=%s",
             fake_rapi_address(rapi));
    snprintf(vars[n++], sizeof(vars[0]), "WEBSOCKET_ENDPOINT=%s/prod",
             test_http_url(mgmt));
    snprintf(vars[n++], sizeof(vars[0]), "AWS_LAMBDA_LOG_LEVEL=DEBUG");
    static const char *const passed[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
                                         "LSAN_OPTIONS"};
    for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
        if (getenv(passed[i]))
            snprintf(vars[n++], sizeof(vars[0]), "%s=%s", passed[i],
                     getenv(passed[i]));
    for (int i = 0; i < F.count && n < MAX_ENV; i++)
        snprintf(vars[n++], sizeof(vars[0]), "%s=%s", F.names[i], F.values[i]);
    for (int i = 0; i < n; i++)
        env[i] = vars[i];
    env[n] = NULL;

    const char *build = getenv("STREAMER_BUILD");
    const char *exe = getenv("STREAMER_BOOTSTRAP");
    char dir[900];
    snprintf(dir, sizeof(dir), "%s/lifecycle-logs",
             build && *build ? build : "build/release");
    mkdir(dir, 0700);
    snprintf(b->log, sizeof(b->log), "%s/bootstrap-%ld-%d.log", dir,
             (long)getpid(), ++started);
    char *argv[] = {(char *)(exe && *exe ? exe : "build/release/bootstrap"),
                    NULL};
    b->pid = proc_spawn(argv, env, b->log);
    ck_assert_int_gt(b->pid, 0);
}

/* Lets the bootstrap run out of events and checks that it ended as a
 * runtime does when the Runtime API fails (1), with no sanitizer report. */
static void boot_end(struct boot *b)
{
    fake_rapi_end(rapi);
    int status = proc_wait(b->pid, 30000);
    b->pid = 0;
    char *log = proc_read_file(b->log);
    ck_assert_msg(status == 1, "the bootstrap ended with %d (log %s)", status,
                  b->log);
    ck_assert_msg(log && !strstr(log, "Sanitizer") &&
                      !strstr(log, "runtime error"),
                  "sanitizer report in %s", b->log);
    free(log);
    unlink(b->log);
}

static void boot_kill(struct boot *b)
{
    ck_assert_int_eq(kill(b->pid, SIGKILL), 0);
    ck_assert_int_eq(proc_wait(b->pid, 10000), 128 + SIGKILL);
    b->pid = 0;
    unlink(b->log);
}

/* ---- Requests, records and events -------------------------------------- */

static void add_subscriber(const char *request_id)
{
    struct connection c = {0};
    struct error_info err;
    if (conn_get(&F.app.store, CONN, &c, app_fixture_deadline(), &err) !=
        RESULT_OK) {
        c.connection_id = strdup(CONN);
        c.user_id = strdup("user-1");
        c.tenant_id = strdup("tenant-a");
        c.endpoint = strdup("abc.execute-api.us-east-1.amazonaws.com/prod");
        ck_assert_int_eq(
            conn_save(&F.app.store, &c, app_fixture_deadline(), &err),
            RESULT_OK);
    }
    conn_cleanup(&c);
    struct subscription s = {0};
    s.connection_id = strdup(CONN);
    s.request_id = strdup(request_id);
    s.tenant_id = strdup("tenant-a");
    s.user_id = strdup("user-1");
    s.event_types = SUB_ALL;
    ck_assert_int_eq(
        sub_subscribe(&F.app.store, &s, app_fixture_deadline(), &err),
        RESULT_OK);
    sub_cleanup(&s);
}

static void enqueue(const char *id, const char *payload)
{
    struct request r = {0};
    r.request_id = strdup(id);
    r.connection_id = strdup(CONN);
    r.user_id = strdup("user-1");
    r.tenant_id = strdup("tenant-a");
    r.action = strdup("process_data");
    r.payload = cJSON_Parse(payload);
    ck_assert_ptr_nonnull(r.payload);
    struct error_info err;
    enum result res =
        req_enqueue(&F.app.store, &r, app_fixture_deadline(), &err);
    ck_assert_msg(res == RESULT_OK, "enqueue: %s", err.message);
    req_cleanup(&r);
    add_subscriber(id);
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

/* The INSERT record of request `id` as stored now (caller deletes). */
static cJSON *insert_record(const char *id, const char *sequence)
{
    struct error_info err;
    char key_s[STORE_REQUEST_KEY_SIZE], pk[STORE_REQUEST_KEY_SIZE + 8];
    ck_assert_int_eq(store_request_key("tenant-a", "user-1", id, key_s, &err),
                     RESULT_OK);
    snprintf(pk, sizeof(pk), "REQ#%s", key_s);
    cJSON *key = store_key(pk, "METADATA");
    cJSON *item = NULL;
    ck_assert_int_eq(ddb_get_item(F.app.ddb, F.requests, key, 1,
                                  app_fixture_deadline(), &item, &err),
                     RESULT_OK);
    cJSON_Delete(key);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "eventID", sequence);
    cJSON_AddStringToObject(rec, "eventName", "INSERT");
    cJSON_AddStringToObject(rec, "eventSource", "aws:dynamodb");
    cJSON_AddStringToObject(rec, "awsRegion", "us-east-1");
    cJSON *ddb = cJSON_AddObjectToObject(rec, "dynamodb");
    cJSON_AddItemToObject(ddb, "NewImage", item);
    cJSON_AddStringToObject(ddb, "SequenceNumber", sequence);
    cJSON_AddStringToObject(ddb, "StreamViewType", "NEW_IMAGE");
    return rec;
}

/* {"Records":[...]} of copies of `recs` (caller frees). */
static char *batch_of(cJSON *const *recs, int n)
{
    cJSON *event = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(event, "Records");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(list, cJSON_Duplicate(recs[i], 1));
    char *text = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    return text;
}

static const char PASS_EVENT[] =
    "{\"source\":\"streamer\",\"detail-type\":\"Retry Pass\",\"detail\":{}}";

/* Hands `event` out with `deadline_ms`; returns the answer's JSON (caller
 * deletes) once the bootstrap posted its response. */
static cJSON *invoke(const char *event, int64_t deadline_ms)
{
    size_t before = fake_rapi_post_count(rapi);
    struct fake_rapi_event ev = {.body = event, .deadline_ms = deadline_ms};
    fake_rapi_push(rapi, &ev);
    ck_assert_msg(fake_rapi_wait_posts(rapi, before + 1, POST_MS) > before,
                  "no answer within %d ms", POST_MS);
    const struct fake_rapi_post *p = fake_rapi_post_at(rapi, before);
    ck_assert_msg(strcmp(p->kind, "response") == 0, "the invocation %s: %s",
                  p->kind, p->body);
    cJSON *answer = cJSON_Parse(p->body);
    ck_assert_msg(answer != NULL, "answer not JSON: %s", p->body);
    return answer;
}

static int failures_in(const cJSON *answer)
{
    const cJSON *f =
        cJSON_GetObjectItemCaseSensitive(answer, "batchItemFailures");
    ck_assert_msg(cJSON_IsArray(f), "no batchItemFailures");
    return cJSON_GetArraySize(f);
}

static int count_in(const cJSON *answer, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(answer, name);
    ck_assert_msg(cJSON_IsNumber(v), "no %s in the pass's answer", name);
    return v->valueint;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double num(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    ck_assert_msg(v != NULL, "no member %s", name);
    return cJSON_IsRaw(v) ? strtod(v->valuestring, NULL) : v->valuedouble;
}

/* ---- A retry that is not due holds nothing up --------------------------- */

START_TEST(batch_with_a_retry_due_later)
{
    enqueue("life-warm", "{\"items\":[9]}");
    enqueue("life-w", "{\"items\":[5,7]}");
    enqueue("life-a", "{\"items\":[1]}");
    enqueue("life-b", "{\"items\":[2]}");
    cJSON *recs[3] = {insert_record("life-w", "2001"),
                      insert_record("life-a", "2002"),
                      insert_record("life-b", "2003")};
    /* The first ran once; its retry is due in 30 s. */
    struct request r = get_request("life-w");
    struct error_info err;
    clock_rfc3339(clock_now_ms() + 30000, r.lease_expires);
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_PROCESSING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    clock_rfc3339(clock_now_ms() + 30000, r.retry_after);
    ck_assert_int_eq(req_update_status(&F.app.store, &r, REQ_RETRYING,
                                       app_fixture_deadline(), &err),
                     RESULT_OK);
    int64_t version = r.version;
    req_cleanup(&r);

    struct boot b;
    boot_start(&b);
    /* A request run first warms the bootstrap's connections and DynamoDB
     * Local up, so that what is timed below is the batch alone. */
    cJSON *warm = insert_record("life-warm", "2000");
    char *event = batch_of(&warm, 1);
    cJSON *answer = invoke(event, clock_now_ms() + 30000);
    ck_assert_int_eq(failures_in(answer), 0);
    cJSON_Delete(answer);
    free(event);
    cJSON_Delete(warm);
    ck_assert_int_eq(heard_of("complete"), 1);
    /* A pass before it is due leaves it for a later one. */
    answer = invoke(PASS_EVENT, clock_now_ms() + 30000);
    ck_assert_int_eq(count_in(answer, "ran"), 0);
    cJSON_Delete(answer);
    r = get_request("life-w");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    req_cleanup(&r);

    event = batch_of(recs, 3);
    int64_t t0 = clock_now_ms();
    answer = invoke(event, t0 + 30000);
    int64_t took = clock_now_ms() - t0;
    free(event);
    fprintf(stderr, "lifecycle: the batch of three took %lld ms\n",
            (long long)took);
    ck_assert_int_eq(failures_in(answer), 0);
    cJSON_Delete(answer);
    /* Nothing waited for the retry (due in 30 s): the batch came back at
     * once. About 1 s here (1.4-1.9 s in the ASan build on a busy
     * machine); the bound is loose so that only a wait can break it. */
    ck_assert_msg(took < 10000, "the batch took %lld ms", (long long)took);
    static const char *const done[] = {"life-a", "life-b"};
    for (int i = 0; i < 2; i++) {
        r = get_request(done[i]);
        ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
        req_cleanup(&r);
    }
    r = get_request("life-w");
    ck_assert_str_eq(req_status_str(r.status), "RETRYING");
    ck_assert_int_eq(r.version, version);
    req_cleanup(&r);
    ck_assert_int_eq(heard_of("complete"), 3);
    boot_end(&b);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(recs[i]);
}
END_TEST

/* ---- A bootstrap killed mid-request ------------------------------------- */

/*
 * Starts request `id` (delay_ms holds it in PROCESSING) in a bootstrap
 * whose invocation's deadline is `lease_ms`, and SIGKILLs that bootstrap
 * while it runs. Returns the request's version after the claim.
 */
static int64_t run_and_kill(const char *id, const cJSON *rec, int64_t lease_ms)
{
    struct boot b;
    boot_start(&b);
    char *event = batch_of((cJSON *const *)&rec, 1);
    struct fake_rapi_event ev = {.body = event, .deadline_ms = lease_ms};
    fake_rapi_push(rapi, &ev);
    free(event);
    struct request r = {0};
    for (int waited = 0;; waited += 20) {
        r = get_request(id);
        if (r.status == REQ_PROCESSING)
            break;
        req_cleanup(&r);
        ck_assert_msg(waited < 20000, "%s was never claimed", id);
        sleep_ms(20);
    }
    boot_kill(&b);
    char want[CLOCK_RFC3339_SIZE];
    clock_rfc3339(lease_ms, want);
    ck_assert_str_eq(r.lease_expires, want); /* the invocation's deadline */
    ck_assert_int_eq(r.retry_count, 0);
    int64_t version = r.version;
    req_cleanup(&r);
    ck_assert_int_eq(heard_of("complete"), 0);
    return version;
}

static void crash_then(int by_pass)
{
    const char *id = by_pass ? "life-kp" : "life-kr";
    enqueue(id, "{\"items\":[1,2,3,4],\"delay_ms\":1500}");
    cJSON *rec = insert_record(id, "3001");
    int64_t lease_ms = clock_now_ms() + 6000;
    int64_t version = run_and_kill(id, rec, lease_ms);

    /* A new bootstrap. Before the lease passes, neither a redelivery nor
     * a pass touches the request: its invocation might still run. */
    struct boot b;
    boot_start(&b);
    char *event = batch_of(&rec, 1);
    cJSON *answer = invoke(event, clock_now_ms() + 30000);
    ck_assert_int_eq(failures_in(answer), 0);
    cJSON_Delete(answer);
    answer = invoke(PASS_EVENT, clock_now_ms() + 30000);
    ck_assert_int_eq(count_in(answer, "reclaimed"), 0);
    cJSON_Delete(answer);
    struct request r = get_request(id);
    ck_assert_msg(clock_now_ms() < lease_ms, "too slow: the lease passed");
    ck_assert_str_eq(req_status_str(r.status), "PROCESSING");
    ck_assert_int_eq(r.version, version);
    req_cleanup(&r);

    /* Once it passed, one of them takes the request over and runs it. */
    while (clock_now_ms() <= lease_ms + PROCESSOR_LEASE_GRACE_MS + 100)
        sleep_ms(50);
    if (by_pass) {
        answer = invoke(PASS_EVENT, clock_now_ms() + 30000);
        ck_assert_int_eq(count_in(answer, "reclaimed"), 1);
    } else {
        answer = invoke(event, clock_now_ms() + 30000);
        ck_assert_int_eq(failures_in(answer), 0);
    }
    cJSON_Delete(answer);
    free(event);
    r = get_request(id);
    ck_assert_str_eq(req_status_str(r.status), "COMPLETED");
    ck_assert_int_eq(r.retry_count, 1); /* the killed run was an attempt */
    ck_assert_double_eq(num(r.result, "sum"), 10);
    req_cleanup(&r);
    ck_assert_int_eq(heard_of("complete"), 1);
    ck_assert_int_eq(heard_of("error"), 0);

    /* Anything later finds it finished. */
    answer = invoke(PASS_EVENT, clock_now_ms() + 30000);
    ck_assert_int_eq(count_in(answer, "reclaimed"), 0);
    cJSON_Delete(answer);
    ck_assert_int_eq(heard_of("complete"), 1);
    boot_end(&b);
    cJSON_Delete(rec);
}

START_TEST(killed_mid_request_then_redelivered)
{
    crash_then(0);
}
END_TEST

START_TEST(killed_mid_request_then_a_pass)
{
    crash_then(1);
}
END_TEST

Suite *lifecycle_suite(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("bootstrap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, batch_with_a_retry_due_later);
    tcase_add_test(tc, killed_mid_request_then_redelivered);
    tcase_add_test(tc, killed_mid_request_then_a_pass);
    suite_add_tcase(s, tc);
    return s;
}

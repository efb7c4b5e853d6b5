/* Tests of the DynamoDB client against a scripted loopback server. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_admin.h"
#include "ddb_int.h"
#include "item.h"
#include "test_http.h"

#define MAX_STEPS 8
#define MAX_SEEN 16
#define ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))
/* 2025-11-24T10:00:00Z. */
#define T0_MS 1763978400000LL

/* One scripted answer; request i gets step i, the last step repeats. */
struct step {
    int status;
    const char *body;
};

/* The server's script and what it saw (bodies and X-Amz-Target). */
struct script {
    pthread_mutex_t lock;
    struct step steps[MAX_STEPS];
    int step_count;
    char *bodies[MAX_SEEN];
    char targets[MAX_SEEN][96];
};

static void handler(void *ctx, const struct test_http_request *req,
                    struct test_http_reply *reply)
{
    struct script *s = ctx;
    pthread_mutex_lock(&s->lock);
    int i = req->index < s->step_count ? req->index : s->step_count - 1;
    struct step st = s->steps[i];
    if (req->index < MAX_SEEN) {
        const char *t = test_http_header(req, "X-Amz-Target");
        s->bodies[req->index] = strdup(req->body);
        snprintf(s->targets[req->index], sizeof(s->targets[0]), "%s",
                 t ? t : "");
    }
    pthread_mutex_unlock(&s->lock);
    reply->status = st.status;
    snprintf(reply->headers, sizeof(reply->headers),
             "Content-Type: application/x-amz-json-1.0\r\n");
    test_http_reply_body(reply, st.body);
}

/* The injected world: a clock that moves only when slept. */
struct world {
    int64_t now_ms;
    int fixed_random; /* draw `random` instead of the real PRNG */
    uint64_t random;
    long sleeps[32];
    int sleep_count;
};

static int64_t world_now(void *ctx)
{
    return ((struct world *)ctx)->now_ms;
}

static uint64_t world_random(void *ctx)
{
    struct world *w = ctx;
    return w->fixed_random ? w->random : retry_random_default(NULL);
}

static void world_sleep(void *ctx, int64_t ms)
{
    struct world *w = ctx;
    if (w->sleep_count < 32)
        w->sleeps[w->sleep_count] = (long)ms;
    w->sleep_count++;
    w->now_ms += ms;
}

/* Everything one test needs; started and stopped inside the test. */
struct rig {
    struct script script;
    struct test_http *server;
    struct world world;
    struct ddb *ddb;
    struct error_info err;
};

static const struct sigv4_credentials creds = {"AKIDEXAMPLE", "fake/secret/key",
                                               NULL};

/* Starts a rig whose server plays `steps` (ended by a status of 0). */
static void rig_start(struct rig *g, const struct step *steps)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->script.lock, NULL);
    for (int i = 0; i < MAX_STEPS && steps[i].status; i++)
        g->script.steps[g->script.step_count++] = steps[i];
    g->world.now_ms = T0_MS;
    g->server = test_http_start(handler, &g->script);
    ck_assert_ptr_nonnull(g->server);
    struct ddb_config cfg = {test_http_url(g->server), "us-east-1", &creds};
    ck_assert_int_eq(ddb_new(&cfg, &g->ddb, &g->err), RESULT_OK);
    struct retry_hooks hooks = {world_now, world_random, world_sleep,
                                &g->world};
    ddb_set_hooks(g->ddb, &hooks);
}

static void rig_stop(struct rig *g)
{
    ddb_free(g->ddb);
    test_http_stop(g->server);
    for (int i = 0; i < MAX_SEEN; i++)
        free(g->script.bodies[i]);
    pthread_mutex_destroy(&g->script.lock);
}

static int requests(struct rig *g)
{
    return test_http_request_count(g->server);
}

static cJSON *parse(const char *text)
{
    cJSON *json = cJSON_Parse(text);
    ck_assert_msg(json != NULL, "test JSON does not parse: %s", text);
    return json;
}

/* Asserts that request `i`'s body is the JSON `want` (in any order). */
static void assert_body(struct rig *g, int i, const char *want)
{
    cJSON *got = parse(g->script.bodies[i]);
    cJSON *w = parse(want);
    ck_assert_msg(cJSON_Compare(got, w, 1), "request %d sent %s, want %s", i,
                  g->script.bodies[i], want);
    cJSON_Delete(got);
    cJSON_Delete(w);
}

/* {"PutRequest":{"Item":{"pk":{"S":"<pk>"}}}} */
static cJSON *put_request(const char *pk)
{
    cJSON *item = item_new();
    item_set_s(item, "pk", pk);
    cJSON *put = cJSON_CreateObject();
    cJSON_AddItemToObject(put, "Item", item);
    cJSON *rq = cJSON_CreateObject();
    cJSON_AddItemToObject(rq, "PutRequest", put);
    return rq;
}

static cJSON *put_requests(int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        char pk[32];
        snprintf(pk, sizeof(pk), "item-%03d", i);
        cJSON_AddItemToArray(arr, put_request(pk));
    }
    return arr;
}

#define UNPROCESSED_B                                                          \
    "{\"UnprocessedItems\":{\"tbl\":[{\"PutRequest\":{\"Item\":{\"pk\":"       \
    "{\"S\":\"b\"}}}}]}}"

/* The first answer leaves "b" unprocessed: exactly it is sent again. */
START_TEST(batch_resends_unprocessed)
{
    const struct step steps[] = {
        {200, UNPROCESSED_B},
        {200, "{\"UnprocessedItems\":{}}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    cJSON *reqs = cJSON_CreateArray();
    cJSON_AddItemToArray(reqs, put_request("a"));
    cJSON_AddItemToArray(reqs, put_request("b"));
    cJSON_AddItemToArray(reqs, put_request("c"));

    enum result r = ddb_batch_write(g.ddb, "tbl", reqs, 0, &g.err);
    ck_assert_msg(r == RESULT_OK, "%s: %s", result_str(r), g.err.message);
    ck_assert_int_eq(requests(&g), 2);
    ck_assert_str_eq(g.script.targets[0], "DynamoDB_20120810.BatchWriteItem");
    assert_body(&g, 0,
                "{\"RequestItems\":{\"tbl\":["
                "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"}}}},"
                "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"b\"}}}},"
                "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"c\"}}}}]}}");
    assert_body(&g, 1,
                "{\"RequestItems\":{\"tbl\":["
                "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"b\"}}}}]}}");
    /* One full-jitter backoff before the resend: within [0, 25 ms]. */
    ck_assert_int_eq(g.world.sleep_count, 1);
    ck_assert(g.world.sleeps[0] >= 0 && g.world.sleeps[0] <= 25);
    cJSON_Delete(reqs);
    rig_stop(&g);
}
END_TEST

/* Unprocessed on every answer: THROTTLED after the client's 4 attempts. */
START_TEST(batch_unprocessed_forever)
{
    const struct step steps[] = {{200, UNPROCESSED_B}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *reqs = cJSON_CreateArray();
    cJSON_AddItemToArray(reqs, put_request("b"));

    enum result r = ddb_batch_write(g.ddb, "tbl", reqs, 0, &g.err);
    ck_assert_int_eq(r, RESULT_THROTTLED);
    ck_assert_int_eq(requests(&g), 4);
    ck_assert_int_eq(g.world.sleep_count, 3);
    ck_assert(g.world.sleeps[1] <= 50 && g.world.sleeps[2] <= 100);
    ck_assert_str_eq(g.err.type, "UnprocessedItems");
    ck_assert_ptr_nonnull(strstr(g.err.message, "1 of 1"));
    cJSON_Delete(reqs);
    rig_stop(&g);
}
END_TEST

/* A deadline too close for the backoff stops the resends early. */
START_TEST(batch_unprocessed_deadline)
{
    const struct step steps[] = {{200, UNPROCESSED_B}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *reqs = cJSON_CreateArray();
    cJSON_AddItemToArray(reqs, put_request("b"));

    /* The first attempt has 1.9 s; the backoff before a second, 5 s with
     * this draw, would end past the deadline. */
    ddb_set_retry(g.ddb, 5000, 5000, 4);
    g.world.fixed_random = 1;
    g.world.random = 5000;
    enum result r = ddb_batch_write(g.ddb, "tbl", reqs, T0_MS + 2000, &g.err);
    ck_assert_int_eq(r, RESULT_THROTTLED);
    ck_assert_int_eq(requests(&g), 1);
    ck_assert_int_eq(g.world.sleep_count, 0);
    ck_assert_ptr_nonnull(strstr(g.err.message, "deadline"));
    cJSON_Delete(reqs);
    rig_stop(&g);
}
END_TEST

/* 60 requests go out as 25 + 25 + 10, in order. */
START_TEST(batch_chunks_of_25)
{
    const struct step steps[] = {{200, "{}"}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *reqs = put_requests(60);

    ck_assert_int_eq(ddb_batch_write(g.ddb, "tbl", reqs, 0, &g.err), RESULT_OK);
    ck_assert_int_eq(requests(&g), 3);
    static const int sizes[] = {25, 25, 10};
    for (int i = 0; i < 3; i++) {
        cJSON *body = parse(g.script.bodies[i]);
        cJSON *arr = cJSON_GetObjectItem(
            cJSON_GetObjectItem(body, "RequestItems"), "tbl");
        ck_assert_int_eq(cJSON_GetArraySize(arr), sizes[i]);
        cJSON *first = cJSON_GetArrayItem(arr, 0);
        cJSON *want = cJSON_GetArrayItem(reqs, i * 25);
        ck_assert(cJSON_Compare(first, want, 1));
        cJSON_Delete(body);
    }
    /* Nothing at all is a success without a request. */
    cJSON *none = cJSON_CreateArray();
    ck_assert_int_eq(ddb_batch_write(g.ddb, "tbl", none, 0, &g.err), RESULT_OK);
    ck_assert_int_eq(requests(&g), 3);
    cJSON_Delete(none);
    cJSON_Delete(reqs);
    rig_stop(&g);
}
END_TEST

/* ---- Malformed answers: RESULT_PARSE, never a crash ------------------ */

enum op { OP_GET, OP_PUT, OP_QUERY, OP_BATCH, OP_DESCRIBE, OP_CALL };

static const struct {
    const char *name;
    enum op op;
    const char *body; /* a 200 answer */
} malformed_rows[] = {
    {"get: not JSON", OP_GET, "{\"Item\":"},
    {"get: empty body", OP_GET, ""},
    {"get: an array", OP_GET, "[1,2]"},
    {"get: trailing bytes", OP_GET, "{} x"},
    {"get: Item a string", OP_GET, "{\"Item\":\"x\"}"},
    {"get: Item with a bad AV", OP_GET, "{\"Item\":{\"a\":{\"X\":\"1\"}}}"},
    {"get: Item with a bad N", OP_GET, "{\"Item\":{\"a\":{\"N\":\"one\"}}}"},
    {"put: not JSON", OP_PUT, "<html>oops</html>"},
    {"put: Attributes a list", OP_PUT, "{\"Attributes\":[]}"},
    {"query: no Items", OP_QUERY, "{\"Count\":0}"},
    {"query: Items an object", OP_QUERY, "{\"Items\":{}}"},
    {"query: an item a number", OP_QUERY, "{\"Items\":[1]}"},
    {"query: LastEvaluatedKey a string", OP_QUERY,
     "{\"Items\":[],\"LastEvaluatedKey\":\"k\"}"},
    {"query: LastEvaluatedKey empty", OP_QUERY,
     "{\"Items\":[],\"LastEvaluatedKey\":{}}"},
    {"batch: UnprocessedItems a list", OP_BATCH, "{\"UnprocessedItems\":[]}"},
    {"batch: another table", OP_BATCH,
     "{\"UnprocessedItems\":{\"other\":[{\"PutRequest\":{\"Item\":{\"pk\":"
     "{\"S\":\"a\"}}}}]}}"},
    {"batch: a bad request", OP_BATCH,
     "{\"UnprocessedItems\":{\"tbl\":[{\"Nope\":{}}]}}"},
    {"batch: more than sent", OP_BATCH,
     "{\"UnprocessedItems\":{\"tbl\":["
     "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"}}}},"
     "{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"b\"}}}}]}}"},
    {"describe: no Table", OP_DESCRIBE, "{}"},
    {"describe: Table a string", OP_DESCRIBE, "{\"Table\":\"t\"}"},
    {"call: a number", OP_CALL, "42"},
};

static enum result run_op(struct rig *g, enum op op)
{
    enum result r = RESULT_INTERNAL;
    cJSON *key = item_new(), *out = NULL;
    item_set_s(key, "pk", "a");
    struct ddb_write_opts o = {.return_values = DDB_RETURN_ALL_OLD};
    struct ddb_query q = {.table = "tbl", .key_condition = "pk = :p"};
    struct ddb_page page;
    cJSON *reqs = cJSON_CreateArray();
    cJSON_AddItemToArray(reqs, put_request("a"));

    switch (op) {
    case OP_GET:
        r = ddb_get_item(g->ddb, "tbl", key, 0, 0, &out, &g->err);
        break;
    case OP_PUT:
        r = ddb_put_item(g->ddb, "tbl", key, &o, &out, &g->err);
        break;
    case OP_QUERY:
        r = ddb_query_page(g->ddb, &q, &page, &g->err);
        ddb_page_cleanup(&page);
        break;
    case OP_BATCH:
        r = ddb_batch_write(g->ddb, "tbl", reqs, 0, &g->err);
        break;
    case OP_DESCRIBE:
        r = ddb_describe_table(g->ddb, "tbl", 0, &out, &g->err);
        break;
    case OP_CALL:
        r = ddb_call(g->ddb, "ListTables", NULL, 0, &out, &g->err);
        break;
    }
    cJSON_Delete(out);
    cJSON_Delete(key);
    cJSON_Delete(reqs);
    return r;
}

START_TEST(malformed_answer)
{
    const struct step steps[] = {{200, malformed_rows[_i].body}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    enum result r = run_op(&g, malformed_rows[_i].op);
    ck_assert_msg(r == RESULT_PARSE, "%s: got %s (%s)", malformed_rows[_i].name,
                  result_str(r), g.err.message);
    ck_assert_str_eq(g.err.type, "MalformedResponse");
    /* A malformed answer is final: it is not sent again. */
    ck_assert_int_eq(requests(&g), 1);
    rig_stop(&g);
}
END_TEST

/* ---- Errors mapped ----------------------------------------------------- */

#define TXN_CANCELED_BODY                                                      \
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"                          \
    "TransactionCanceledException\",\"CancellationReasons\":["                 \
    "{\"Code\":\"None\"},{\"Code\":\"ConditionalCheckFailed\","                \
    "\"Message\":\"The conditional request failed\"}],"                        \
    "\"Message\":\"Transaction cancelled, please refer cancellation "          \
    "reasons for specific reasons [None, ConditionalCheckFailed]\"}"

static cJSON *transact_items(void)
{
    return parse("[{\"Put\":{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":"
                 "\"a\"}}}},{\"ConditionCheck\":{\"TableName\":\"tbl\","
                 "\"Key\":{\"pk\":{\"S\":\"b\"}},\"ConditionExpression\":"
                 "\"attribute_exists(pk)\"}}]");
}

START_TEST(transaction_canceled_condition)
{
    const struct step steps[] = {{400, TXN_CANCELED_BODY}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *items = transact_items();

    enum result r = ddb_transact_write(g.ddb, items, "token-1", 0, &g.err);
    ck_assert_int_eq(r, RESULT_CONDITION_FAILED);
    ck_assert_str_eq(g.err.type, "TransactionCanceledException");
    ck_assert_str_eq(g.err.field, "TransactItems[1]");
    ck_assert_ptr_nonnull(
        strstr(g.err.message, "[None, ConditionalCheckFailed]"));
    ck_assert_int_eq(requests(&g), 1);
    ck_assert_str_eq(g.script.targets[0],
                     "DynamoDB_20120810.TransactWriteItems");
    cJSON *body = parse(g.script.bodies[0]);
    ck_assert(
        cJSON_Compare(cJSON_GetObjectItem(body, "TransactItems"), items, 1));
    ck_assert_str_eq(
        cJSON_GetObjectItem(body, "ClientRequestToken")->valuestring,
        "token-1");
    cJSON_Delete(body);
    cJSON_Delete(items);
    rig_stop(&g);
}
END_TEST

/* A cancellation for another reason is not a failed condition. */
START_TEST(transaction_canceled_other)
{
    const struct step steps[] = {
        {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
              "TransactionCanceledException\",\"CancellationReasons\":["
              "{\"Code\":\"None\"},{\"Code\":\"ValidationError\"}],"
              "\"Message\":\"Transaction cancelled [None, ValidationError]\"}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    cJSON *items = transact_items();
    enum result r = ddb_transact_write(g.ddb, items, NULL, 0, &g.err);
    ck_assert_int_eq(r, RESULT_SERVICE_ERROR);
    ck_assert_str_eq(g.err.type, "TransactionCanceledException");
    cJSON_Delete(items);
    rig_stop(&g);
}
END_TEST

static const struct {
    const char *name;
    const char *body; /* a 400 answer */
    enum result want;
} table_error_rows[] = {
    {"create: in use",
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceInUseException\","
     "\"Message\":\"Cannot create preexisting table\"}",
     RESULT_ALREADY_EXISTS},
    {"create: validation",
     "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
     "\"Message\":\"bad\"}",
     RESULT_INVALID_INPUT},
};

START_TEST(create_table_errors)
{
    const struct step steps[] = {{400, table_error_rows[_i].body}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *req = parse("{\"TableName\":\"tbl\"}");
    enum result r = ddb_create_table(g.ddb, req, 0, &g.err);
    ck_assert_msg(r == table_error_rows[_i].want, "%s: got %s",
                  table_error_rows[_i].name, result_str(r));
    cJSON_Delete(req);
    rig_stop(&g);
}
END_TEST

/* Setting the TTL state a table already has is success; others are not. */
START_TEST(ttl_already_set)
{
    const struct step steps[] = {
        {400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
              "\"message\":\"TimeToLive is already enabled\"}"},
        {400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
              "\"message\":\"TimeToLive is already enabled\"}"},
        {400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
              "\"message\":\"TimeToLive is active on a different "
              "AttributeName: current AttributeName is ttl\"}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    ck_assert_int_eq(ddb_update_ttl(g.ddb, "tbl", "ttl", 1, 0, &g.err),
                     RESULT_OK);
    ck_assert_str_eq(g.err.type, "");
    assert_body(&g, 0,
                "{\"TableName\":\"tbl\",\"TimeToLiveSpecification\":"
                "{\"AttributeName\":\"ttl\",\"Enabled\":true}}");
    /* "already enabled" does not excuse a request to disable. */
    ck_assert_int_eq(ddb_update_ttl(g.ddb, "tbl", "ttl", 0, 0, &g.err),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(ddb_update_ttl(g.ddb, "tbl", "expires", 1, 0, &g.err),
                     RESULT_INVALID_INPUT);
    rig_stop(&g);
}
END_TEST

/* ---- Bad input never reaches the wire ---------------------------------- */

static cJSON *oversize_item(void)
{
    size_t n = ITEM_MAX_SIZE_BYTES + 1;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', n);
    big[n] = '\0';
    cJSON *item = item_new();
    item_set_s(item, "pk", "a");
    item_set_s(item, "data", big);
    free(big);
    return item;
}

START_TEST(oversize_item_refused)
{
    const struct step steps[] = {{200, "{}"}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *item = oversize_item();

    enum result r = ddb_put_item(g.ddb, "tbl", item, NULL, NULL, &g.err);
    ck_assert_int_eq(r, RESULT_INVALID_INPUT);
    ck_assert_str_eq(g.err.field, "data");
    ck_assert_ptr_nonnull(strstr(g.err.message, "400 KB"));

    /* The same item inside a batch or a transaction is refused too. */
    cJSON *reqs = cJSON_CreateArray();
    cJSON_AddItemToArray(reqs, put_request("ok"));
    cJSON *put = cJSON_CreateObject();
    cJSON_AddItemToObject(put, "Item", cJSON_Duplicate(item, 1));
    cJSON *rq = cJSON_CreateObject();
    cJSON_AddItemToObject(rq, "PutRequest", put);
    cJSON_AddItemToArray(reqs, rq);
    ck_assert_int_eq(ddb_batch_write(g.ddb, "tbl", reqs, 0, &g.err),
                     RESULT_INVALID_INPUT);
    cJSON *txn = cJSON_CreateArray();
    cJSON *tput = cJSON_CreateObject();
    cJSON_AddStringToObject(tput, "TableName", "tbl");
    cJSON_AddItemToObject(tput, "Item", cJSON_Duplicate(item, 1));
    cJSON *t = cJSON_CreateObject();
    cJSON_AddItemToObject(t, "Put", tput);
    cJSON_AddItemToArray(txn, t);
    ck_assert_int_eq(ddb_transact_write(g.ddb, txn, NULL, 0, &g.err),
                     RESULT_INVALID_INPUT);

    ck_assert_int_eq(requests(&g), 0);
    cJSON_Delete(txn);
    cJSON_Delete(reqs);
    cJSON_Delete(item);
    rig_stop(&g);
}
END_TEST

/* Each row is refused with INVALID_INPUT before any request is made. */
static const char *const bad_item_rows[] = {
    "{}",
    "{\"pk\":{\"X\":\"1\"}}",
    "{\"pk\":{\"S\":\"a\",\"N\":\"1\"}}",
    "{\"pk\":{\"N\":\"12abc\"}}",
    "{\"pk\":{\"SS\":[]}}",
    "{\"pk\":{\"SS\":[\"a\",\"a\"]}}",
    "{\"pk\":{\"B\":\"not base64!\"}}",
    "[]",
};

START_TEST(bad_item_refused)
{
    const struct step steps[] = {{200, "{}"}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *item = parse(bad_item_rows[_i]);
    enum result r = ddb_put_item(g.ddb, "tbl", item, NULL, NULL, &g.err);
    ck_assert_msg(r == RESULT_INVALID_INPUT, "%s: got %s", bad_item_rows[_i],
                  result_str(r));
    cJSON *out = NULL;
    r = ddb_get_item(g.ddb, "tbl", item, 0, 0, &out, &g.err);
    ck_assert_int_eq(r, RESULT_INVALID_INPUT);
    ck_assert_int_eq(requests(&g), 0);
    cJSON_Delete(item);
    rig_stop(&g);
}
END_TEST

START_TEST(bad_arguments_refused)
{
    const struct step steps[] = {{200, "{}"}, {0, NULL}};
    struct rig g;
    rig_start(&g, steps);
    cJSON *key = item_new();
    item_set_s(key, "pk", "a");
    struct ddb_write_opts all_new = {.return_values = DDB_RETURN_ALL_NEW};

    /* PutItem and DeleteItem return only NONE or ALL_OLD. */
    ck_assert_int_eq(ddb_put_item(g.ddb, "tbl", key, &all_new, NULL, &g.err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(g.err.field, "return_values");
    ck_assert_int_eq(ddb_delete_item(g.ddb, "tbl", key, &all_new, NULL, &g.err),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(ddb_put_item(g.ddb, "", key, NULL, NULL, &g.err),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(ddb_update_item(g.ddb, "tbl", key, "", NULL, NULL, &g.err),
                     RESULT_INVALID_INPUT);
    /* An expression value that is not an AttributeValue. */
    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_value(&x, ":v", cJSON_CreateString("bare"));
    struct ddb_write_opts bad_expr = {.condition = "a = :v", .expr = &x};
    ck_assert_int_eq(ddb_put_item(g.ddb, "tbl", key, &bad_expr, NULL, &g.err),
                     RESULT_INVALID_INPUT);
    ddb_expr_cleanup(&x);
    /* Transactions: empty, over 100, an unknown action, a long token. */
    cJSON *txn = cJSON_CreateArray();
    ck_assert_int_eq(ddb_transact_write(g.ddb, txn, NULL, 0, &g.err),
                     RESULT_INVALID_INPUT);
    cJSON_AddItemToArray(txn, parse("{\"Upsert\":{}}"));
    ck_assert_int_eq(ddb_transact_write(g.ddb, txn, NULL, 0, &g.err),
                     RESULT_INVALID_INPUT);
    cJSON_Delete(txn);
    txn = transact_items();
    ck_assert_int_eq(ddb_transact_write(g.ddb, txn,
                                        "0123456789012345678901234567890123456",
                                        0, &g.err),
                     RESULT_INVALID_INPUT);
    cJSON_Delete(txn);
    txn = cJSON_CreateArray();
    for (int i = 0; i < 101; i++)
        cJSON_AddItemToArray(txn, parse("{\"ConditionCheck\":{\"Key\":"
                                        "{\"pk\":{\"S\":\"a\"}}}}"));
    ck_assert_int_eq(ddb_transact_write(g.ddb, txn, NULL, 0, &g.err),
                     RESULT_INVALID_INPUT);
    cJSON_Delete(txn);
    /* A batch element with both or neither request. */
    cJSON *reqs = parse("[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"}}},"
                        "\"DeleteRequest\":{\"Key\":{\"pk\":{\"S\":\"a\"}}}}]");
    ck_assert_int_eq(ddb_batch_write(g.ddb, "tbl", reqs, 0, &g.err),
                     RESULT_INVALID_INPUT);
    cJSON_Delete(reqs);
    ck_assert_int_eq(requests(&g), 0);
    cJSON_Delete(key);
    rig_stop(&g);
}
END_TEST

/* ---- Requests as sent -------------------------------------------------- */

/* A write carries its expressions and both return-value settings. */
START_TEST(write_request_shape)
{
    const struct step steps[] = {
        {200, "{\"Attributes\":{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"2\"}}}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    cJSON *key = item_new();
    item_set_s(key, "pk", "a");
    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_name(&x, "#n", "n");
    ddb_expr_value(&x, ":one", item_av_i64(1));
    ddb_expr_value(&x, ":one", item_av_i64(1)); /* replaced, not doubled */
    struct ddb_write_opts o = {
        .condition = "attribute_exists(pk)",
        .expr = &x,
        .return_values = DDB_RETURN_UPDATED_NEW,
        .return_old_on_condition_failure = 1,
    };
    cJSON *attrs = NULL;

    enum result r =
        ddb_update_item(g.ddb, "tbl", key, "ADD #n :one", &o, &attrs, &g.err);
    ck_assert_msg(r == RESULT_OK, "%s", g.err.message);
    assert_body(&g, 0,
                "{\"TableName\":\"tbl\",\"ConditionExpression\":"
                "\"attribute_exists(pk)\",\"ExpressionAttributeNames\":"
                "{\"#n\":\"n\"},\"ExpressionAttributeValues\":{\":one\":"
                "{\"N\":\"1\"}},\"ReturnValues\":\"UPDATED_NEW\","
                "\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\","
                "\"Key\":{\"pk\":{\"S\":\"a\"}},\"UpdateExpression\":"
                "\"ADD #n :one\"}");
    ck_assert_ptr_nonnull(attrs);
    ck_assert_str_eq(item_get_n(attrs, "n"), "2");
    cJSON_Delete(attrs);
    ddb_expr_cleanup(&x);
    ddb_expr_cleanup(&x); /* twice is harmless */
    cJSON_Delete(key);
    rig_stop(&g);
}
END_TEST

/* query_all follows LastEvaluatedKey and sends it back as is. */
START_TEST(query_all_follows_pages)
{
    const struct step steps[] = {
        {200,
         "{\"Items\":[{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"1\"}}],"
         "\"LastEvaluatedKey\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"1\"}}}"},
        {200,
         "{\"Items\":[{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"2\"}}],"
         "\"LastEvaluatedKey\":{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"2\"}}}"},
        {200, "{\"Items\":[{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"3\"}}]}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    struct ddb_expr x;
    ddb_expr_init(&x);
    ddb_expr_value(&x, ":p", item_av_s("p"));
    struct ddb_query q = {.table = "tbl",
                          .index = "by-x",
                          .key_condition = "pk = :p",
                          .expr = &x,
                          .descending = 1};
    cJSON *items = NULL;
    enum result r = ddb_query_all(g.ddb, &q, 0, &items, &g.err);
    ck_assert_msg(r == RESULT_OK, "%s", g.err.message);
    ck_assert_int_eq(cJSON_GetArraySize(items), 3);
    ck_assert_int_eq(requests(&g), 3);
    assert_body(&g, 0,
                "{\"TableName\":\"tbl\",\"IndexName\":\"by-x\","
                "\"KeyConditionExpression\":\"pk = :p\","
                "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}},"
                "\"ScanIndexForward\":false}");
    assert_body(&g, 2,
                "{\"TableName\":\"tbl\",\"IndexName\":\"by-x\","
                "\"KeyConditionExpression\":\"pk = :p\","
                "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}},"
                "\"ScanIndexForward\":false,\"ExclusiveStartKey\":"
                "{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"2\"}}}");
    cJSON_Delete(items);
    ddb_expr_cleanup(&x);
    rig_stop(&g);
}
END_TEST

/* A server that answers the same LastEvaluatedKey again is not followed
 * forever; a cap stops early and asks for no more than it needs. */
START_TEST(query_all_guards)
{
    const struct step steps[] = {
        {200, "{\"Items\":[{\"pk\":{\"S\":\"p\"}}],"
              "\"LastEvaluatedKey\":{\"pk\":{\"S\":\"p\"}}}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    struct ddb_query q = {.table = "tbl", .key_condition = "pk = p"};
    cJSON *items = NULL;
    enum result r = ddb_query_all(g.ddb, &q, 0, &items, &g.err);
    ck_assert_int_eq(r, RESULT_PARSE);
    ck_assert_ptr_null(items);
    ck_assert_int_eq(requests(&g), 2);

    r = ddb_query_all(g.ddb, &q, 1, &items, &g.err);
    ck_assert_int_eq(r, RESULT_OK);
    ck_assert_int_eq(cJSON_GetArraySize(items), 1);
    ck_assert_int_eq(requests(&g), 3);
    cJSON *body = parse(g.script.bodies[2]);
    ck_assert_int_eq(cJSON_GetObjectItem(body, "Limit")->valueint, 1);
    cJSON_Delete(body);
    cJSON_Delete(items);
    rig_stop(&g);
}
END_TEST

/* ddb_wait_active polls until the table and its indexes are ACTIVE. */
START_TEST(wait_active_polls)
{
    const struct step steps[] = {
        {200, "{\"Table\":{\"TableStatus\":\"CREATING\"}}"},
        {200, "{\"Table\":{\"TableStatus\":\"ACTIVE\","
              "\"GlobalSecondaryIndexes\":[{\"IndexStatus\":\"CREATING\"}]}}"},
        {200, "{\"Table\":{\"TableStatus\":\"ACTIVE\","
              "\"GlobalSecondaryIndexes\":[{\"IndexStatus\":\"ACTIVE\"}]}}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    ck_assert_int_eq(ddb_wait_active(g.ddb, "tbl", 0, &g.err), RESULT_OK);
    ck_assert_int_eq(requests(&g), 3);
    ck_assert_int_eq(g.world.sleep_count, 2);
    ck_assert_int_eq(g.world.sleeps[0], 50);
    ck_assert_int_eq(g.world.sleeps[1], 100);
    rig_stop(&g);
}
END_TEST

START_TEST(wait_active_deadline)
{
    const struct step steps[] = {
        {200, "{\"Table\":{\"TableStatus\":\"CREATING\"}}"},
        {0, NULL},
    };
    struct rig g;
    rig_start(&g, steps);
    enum result r = ddb_wait_active(g.ddb, "tbl", T0_MS + 5000, &g.err);
    ck_assert_int_eq(r, RESULT_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(g.err.message, "CREATING"));
    ck_assert(g.world.now_ms <= T0_MS + 5000);
    rig_stop(&g);
}
END_TEST

START_TEST(new_bad_config)
{
    struct ddb *d = NULL;
    struct error_info err;
    struct ddb_config no_url = {NULL, "us-east-1", &creds};
    ck_assert_int_eq(ddb_new(&no_url, &d, &err), RESULT_CONFIG);
    struct ddb_config bad_url = {"ftp://x", "us-east-1", &creds};
    ck_assert_int_eq(ddb_new(&bad_url, &d, &err), RESULT_CONFIG);
    struct ddb_config no_creds = {"http://127.0.0.1:1", "us-east-1", NULL};
    ck_assert_int_eq(ddb_new(&no_creds, &d, &err), RESULT_CONFIG);
    ck_assert_int_eq(ddb_new(NULL, &d, &err), RESULT_CONFIG);
    ck_assert_ptr_null(d);
    ddb_free(NULL);
}
END_TEST

Suite *ddb_unit_suite(void)
{
    Suite *s = suite_create("ddb_unit");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, batch_resends_unprocessed);
    tcase_add_test(tc, batch_unprocessed_forever);
    tcase_add_test(tc, batch_unprocessed_deadline);
    tcase_add_test(tc, batch_chunks_of_25);
    suite_add_tcase(s, tc);

    tc = tcase_create("answers");
    tcase_add_loop_test(tc, malformed_answer, 0, ROWS(malformed_rows));
    tcase_add_test(tc, transaction_canceled_condition);
    tcase_add_test(tc, transaction_canceled_other);
    tcase_add_loop_test(tc, create_table_errors, 0, ROWS(table_error_rows));
    tcase_add_test(tc, ttl_already_set);
    suite_add_tcase(s, tc);

    tc = tcase_create("input");
    tcase_add_test(tc, oversize_item_refused);
    tcase_add_loop_test(tc, bad_item_refused, 0, ROWS(bad_item_rows));
    tcase_add_test(tc, bad_arguments_refused);
    tcase_add_test(tc, new_bad_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("requests");
    tcase_add_test(tc, write_request_shape);
    tcase_add_test(tc, query_all_follows_pages);
    tcase_add_test(tc, query_all_guards);
    tcase_add_test(tc, wait_active_polls);
    tcase_add_test(tc, wait_active_deadline);
    suite_add_tcase(s, tc);
    return s;
}

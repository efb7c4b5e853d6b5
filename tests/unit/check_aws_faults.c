/* Tests of aws_call() against a scripted loopback server, faults included. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_int.h"
#include "crc32.h"
#include "net_util.h"
#include "sigv4.h"
#include "test_http.h"

#define MAX_STEPS 8
#define MAX_SEEN 8

enum crc_mode {
    CRC_GOOD = 0, /* send the body's true x-amz-crc32 */
    CRC_NONE,     /* send no x-amz-crc32 */
    CRC_BAD,      /* send a wrong one */
};

/* One scripted answer; request i gets step i (the last step repeats). */
struct step {
    int status;
    const char *body;
    enum crc_mode crc;
    const char *raw; /* when set: sent verbatim, then the server closes */
    int delay_ms;
};

/* What one request looked like on the wire. */
struct seen {
    char method[16];
    char target[64];
    char authorization[1024];
    char amz_date[32];
    char amz_target[128];
    char content_type[128];
    char host[128];
    char token[128];
    char body[256];
};

struct script {
    pthread_mutex_t lock;
    struct step steps[MAX_STEPS];
    int step_count;
    struct seen seen[MAX_SEEN];
};

/* The injected outside world: a clock that moves when slept, sleeps kept. */
struct world {
    int64_t now_ms;
    int64_t extra_per_sleep_ms; /* added to the clock on every sleep */
    int real_clock;             /* use the real clock, still fake sleeps */
    int fixed_random;           /* use `random` instead of the real PRNG */
    uint64_t random;
    long sleeps[32];
    int sleep_count;
};

static int64_t world_now(void *ctx)
{
    struct world *w = ctx;
    return w->real_clock ? retry_clock_realtime_ms(NULL) : w->now_ms;
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
    w->now_ms += ms + w->extra_per_sleep_ms;
}

static void copy_header(char *dst, size_t n, const struct test_http_request *r,
                        const char *name)
{
    const char *v = test_http_header(r, name);
    snprintf(dst, n, "%s", v ? v : "");
}

static void handler(void *ctx, const struct test_http_request *req,
                    struct test_http_reply *reply)
{
    struct script *s = ctx;
    pthread_mutex_lock(&s->lock);
    int i = req->index < s->step_count ? req->index : s->step_count - 1;
    struct step st = s->steps[i];
    if (req->index < MAX_SEEN) {
        struct seen *v = &s->seen[req->index];
        snprintf(v->method, sizeof(v->method), "%s", req->method);
        snprintf(v->target, sizeof(v->target), "%s", req->target);
        copy_header(v->authorization, sizeof(v->authorization), req,
                    "Authorization");
        copy_header(v->amz_date, sizeof(v->amz_date), req, "X-Amz-Date");
        copy_header(v->amz_target, sizeof(v->amz_target), req, "X-Amz-Target");
        copy_header(v->content_type, sizeof(v->content_type), req,
                    "Content-Type");
        copy_header(v->host, sizeof(v->host), req, "Host");
        copy_header(v->token, sizeof(v->token), req, "X-Amz-Security-Token");
        snprintf(v->body, sizeof(v->body), "%s", req->body);
    }
    pthread_mutex_unlock(&s->lock);

    reply->delay_ms = st.delay_ms;
    if (st.raw) {
        reply->action = TEST_HTTP_RAW;
        reply->raw_len = strlen(st.raw);
        reply->raw = malloc(reply->raw_len + 1);
        if (!reply->raw)
            abort(); /* not ck_assert: this is the server's thread */
        memcpy(reply->raw, st.raw, reply->raw_len + 1);
        return;
    }
    const char *body = st.body ? st.body : "{}";
    reply->status = st.status ? st.status : 200;
    test_http_reply_body(reply, body);
    uint32_t crc = crc32_compute(body, strlen(body));
    if (st.crc == CRC_BAD)
        crc ^= 0x5A5A5A5AU;
    int n = snprintf(reply->headers, sizeof(reply->headers),
                     "Content-Type: application/x-amz-json-1.0\r\n"
                     "x-amzn-RequestId: TESTREQUESTID0123456789\r\n");
    if (st.crc != CRC_NONE)
        snprintf(reply->headers + n, sizeof(reply->headers) - (size_t)n,
                 "x-amz-crc32: %lu\r\n", (unsigned long)crc);
}

static struct script *script_new(void)
{
    struct script *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void script_add(struct script *s, struct step st)
{
    ck_assert_int_lt(s->step_count, MAX_STEPS);
    s->steps[s->step_count++] = st;
}

static void script_free(struct script *s)
{
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* 2025-11-24T10:00:00Z, so signatures carry a plausible date. */
#define T0_MS 1763978400000LL

static const struct sigv4_credentials test_creds = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "IQoJb3JpZ2luX2VjEXAMPLETOKEN"};

static struct aws_client *client_for(const char *url, struct world *w)
{
    struct aws_client_config cfg = {
        .endpoint_url = url,
        .region = "us-east-1",
        .service = "dynamodb",
        .target_prefix = "DynamoDB_20120810",
        .credentials = &test_creds,
        .timeout_ms = 2000,
        .connect_timeout_ms = 1000,
    };
    struct aws_client *c = NULL;
    struct error_info e;
    error_clear(&e);
    enum result r = aws_client_new(&cfg, &c, &e);
    ck_assert_msg(r == RESULT_OK, "aws_client_new: %s", e.message);
    struct retry_hooks hooks = {world_now, world_random, world_sleep, w};
    aws_client_set_hooks(c, &hooks);
    return c;
}

/* The DynamoDB error bodies the scripts answer with. */
#define PTE_BODY                                                               \
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"                          \
    "ProvisionedThroughputExceededException\",\"message\":\"The level of "     \
    "configured provisioned throughput for the table was exceeded.\"}"
#define THROTTLING_BODY                                                        \
    "{\"__type\":\"com.amazon.coral.availability#ThrottlingException\","       \
    "\"message\":\"Rate of requests exceeds the allowed throughput.\"}"
#define ISE_BODY                                                               \
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\","    \
    "\"message\":\"Internal server error\"}"
#define UNAVAILABLE_BODY                                                       \
    "{\"__type\":\"com.amazon.coral.availability#"                             \
    "ServiceUnavailableException\""                                            \
    ",\"message\":\"Service unavailable\"}"
#define CCF_BODY                                                               \
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"                          \
    "ConditionalCheckFailedException\",\"message\":\"The conditional "         \
    "request failed\"}"
#define ITEM_BODY "{\"Item\":{\"pk\":{\"S\":\"CONN#abc\"}}}"
#define GET_BODY "{\"TableName\":\"t\",\"Key\":{\"pk\":{\"S\":\"CONN#abc\"}}}"

/* Everything one test needs, started in the test body, stopped at its end. */
struct rig {
    struct script *script;
    struct test_http *server;
    struct world world;
    struct aws_client *client;
    struct buf out;
    struct error_info err;
};

static void rig_start(struct rig *g, struct script *s)
{
    memset(g, 0, sizeof(*g));
    g->script = s;
    g->world.now_ms = T0_MS;
    g->server = test_http_start(handler, g->script);
    ck_assert_ptr_nonnull(g->server);
    g->client = client_for(test_http_url(g->server), &g->world);
    buf_init(&g->out, 1 << 20);
    error_clear(&g->err);
}

static void rig_stop(struct rig *g)
{
    aws_client_free(g->client);
    test_http_stop(g->server);
    script_free(g->script);
    buf_cleanup(&g->out);
}

static enum result rig_call(struct rig *g, int64_t deadline_ms)
{
    return aws_call(g->client, "GetItem", GET_BODY, strlen(GET_BODY),
                    deadline_ms, &g->out, &g->err);
}

/* Starts a rig whose server plays `steps` (terminated by status -1). */
static void rig_with(struct rig *g, const struct step *steps)
{
    struct script *s = script_new();
    for (int i = 0; steps[i].status != -1; i++)
        script_add(s, steps[i]);
    rig_start(g, s);
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1000.0 +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

#define END                                                                    \
    {                                                                          \
        .status = -1                                                           \
    }

START_TEST(throttled_then_success)
{
    const struct step steps[] = {
        {400, PTE_BODY, CRC_GOOD, NULL, 0},
        {400, THROTTLING_BODY, CRC_GOOD, NULL, 0},
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);

    enum result r = rig_call(&g, 0);
    ck_assert_msg(r == RESULT_OK, "%s: %s %s", result_str(r), g.err.type,
                  g.err.message);
    ck_assert_str_eq(buf_str(&g.out), ITEM_BODY);
    ck_assert_int_eq(aws_client_last_attempts(g.client), 3);
    ck_assert_int_eq(test_http_request_count(g.server), 3);
    /* Full jitter: retry n sleeps within [0, 25 ms << n]. */
    ck_assert_int_eq(g.world.sleep_count, 2);
    ck_assert(g.world.sleeps[0] >= 0 && g.world.sleeps[0] <= 25);
    ck_assert(g.world.sleeps[1] >= 0 && g.world.sleeps[1] <= 50);
    /* Success clears what the failed attempts left. */
    ck_assert_str_eq(g.err.type, "");
    ck_assert_int_eq(g.err.http_status, 0);
    rig_stop(&g);
}
END_TEST

/* With the largest draw, each sleep is exactly the ceiling. */
START_TEST(backoff_ceiling_doubles)
{
    const struct step steps[] = {
        {400, PTE_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    aws_client_set_retry(g.client, 25, 150, 6);
    g.world.fixed_random = 1;
    /* 26 * 51 * 101 * 151 - 1: r % (c + 1) == c for c = 25, 50, 100, 150 */
    g.world.random = 26ULL * 51 * 101 * 151 - 1;

    ck_assert_int_eq(rig_call(&g, 0), RESULT_THROTTLED);
    ck_assert_int_eq(test_http_request_count(g.server), 6);
    ck_assert_int_eq(g.world.sleep_count, 5);
    static const long want[] = {25, 50, 100, 150, 150};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(g.world.sleeps[i], want[i]);
    rig_stop(&g);
}
END_TEST

START_TEST(error_500_then_success)
{
    const struct step steps[] = {
        {500, ISE_BODY, CRC_GOOD, NULL, 0},
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    ck_assert_str_eq(buf_str(&g.out), ITEM_BODY);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    ck_assert_int_eq(g.world.sleep_count, 1);
    rig_stop(&g);
}
END_TEST

START_TEST(throttled_exhausted)
{
    const struct step steps[] = {
        {400, PTE_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_THROTTLED);
    ck_assert_str_eq(g.err.type, "ProvisionedThroughputExceededException");
    ck_assert_int_eq(g.err.http_status, 400);
    ck_assert_ptr_nonnull(strstr(g.err.message, "provisioned throughput"));
    ck_assert_ptr_nonnull(strstr(g.err.message, "4 attempts"));
    /* The SDKs' DynamoDB default: 4 attempts, 3 sleeps. */
    ck_assert_int_eq(test_http_request_count(g.server), 4);
    ck_assert_int_eq(aws_client_last_attempts(g.client), 4);
    ck_assert_int_eq(g.world.sleep_count, 3);
    ck_assert_uint_eq(g.out.len, 0);
    rig_stop(&g);
}
END_TEST

START_TEST(service_error_exhausted)
{
    const struct step steps[] = {
        {503, UNAVAILABLE_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    aws_client_set_retry(g.client, 10, 0, 2);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_SERVICE_ERROR);
    ck_assert_str_eq(g.err.type, "ServiceUnavailableException");
    ck_assert_int_eq(g.err.http_status, 503);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    ck_assert_int_eq(g.world.sleep_count, 1);
    ck_assert_int_le(g.world.sleeps[0], 10);
    rig_stop(&g);
}
END_TEST

START_TEST(condition_failed_at_once)
{
    const struct step steps[] = {
        {400, CCF_BODY, CRC_GOOD, NULL, 0},
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_CONDITION_FAILED);
    ck_assert_str_eq(g.err.type, "ConditionalCheckFailedException");
    ck_assert_str_eq(g.err.message, "The conditional request failed");
    ck_assert_int_eq(g.err.http_status, 400);
    ck_assert_int_eq(test_http_request_count(g.server), 1);
    ck_assert_int_eq(g.world.sleep_count, 0);
    /* The final answer's body is handed back for members beyond type and
     * message (DynamoDB's Item with ReturnValuesOnConditionCheckFailure). */
    ck_assert_str_eq(buf_str(&g.out), CCF_BODY);
    rig_stop(&g);
}
END_TEST

START_TEST(garbage_body_400)
{
    const struct step steps[] = {
        {400, "<html><h1>Bad Request</h1></html>", CRC_NONE, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_SERVICE_ERROR);
    ck_assert_str_eq(g.err.type, "HttpError");
    ck_assert_int_eq(g.err.http_status, 400);
    ck_assert_ptr_nonnull(strstr(g.err.message, "HTTP 400"));
    ck_assert_int_eq(test_http_request_count(g.server), 1);
    rig_stop(&g);
}
END_TEST

START_TEST(garbage_body_502_retried)
{
    const struct step steps[] = {
        {502, "\x01\x02garbage\xff", CRC_NONE, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_SERVICE_ERROR);
    ck_assert_str_eq(g.err.type, "HttpError");
    ck_assert_int_eq(g.err.http_status, 502);
    ck_assert_int_eq(test_http_request_count(g.server), 4);
    rig_stop(&g);
}
END_TEST

#define TRUNCATED                                                              \
    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"          \
    "Content-Length: 100\r\n\r\n{\"Item\":{\"pk\""

START_TEST(truncated_then_success)
{
    const struct step steps[] = {
        {200, NULL, CRC_GOOD, TRUNCATED, 0},
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    ck_assert_str_eq(buf_str(&g.out), ITEM_BODY);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    ck_assert_int_eq(g.world.sleep_count, 1);
    rig_stop(&g);
}
END_TEST

START_TEST(truncated_always)
{
    const struct step steps[] = {
        {200, NULL, CRC_GOOD, TRUNCATED, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_TRANSPORT);
    ck_assert_int_eq(test_http_request_count(g.server), 4);
    ck_assert_uint_eq(g.out.len, 0);
    rig_stop(&g);
}
END_TEST

/* A server that answers nothing for longer than the attempt timeout. */
START_TEST(stall_times_out)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 2000},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    aws_client_free(g.client);
    struct aws_client_config cfg = {
        .endpoint_url = test_http_url(g.server),
        .region = "us-east-1",
        .service = "dynamodb",
        .target_prefix = "DynamoDB_20120810",
        .credentials = &test_creds,
        .timeout_ms = 150,
    };
    g.client = NULL;
    ck_assert_int_eq(aws_client_new(&cfg, &g.client, &g.err), RESULT_OK);
    struct retry_hooks hooks = {world_now, world_random, world_sleep, &g.world};
    aws_client_set_hooks(g.client, &hooks);
    aws_client_set_retry(g.client, 25, 0, 2);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_TIMEOUT);
    double ms = elapsed_ms(&t0);
    ck_assert_msg(ms >= 200 && ms < 1500, "took %.0f ms", ms);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    ck_assert_int_eq(g.world.sleep_count, 1);
    rig_stop(&g);
}
END_TEST

START_TEST(bad_crc_then_success)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_BAD, NULL, 0},
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    ck_assert_str_eq(buf_str(&g.out), ITEM_BODY);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    rig_stop(&g);
}
END_TEST

/* A damaged error body must not pass for a final error either. */
START_TEST(bad_crc_always)
{
    const struct step steps[] = {
        {400, CCF_BODY, CRC_BAD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_TRANSPORT);
    ck_assert_str_eq(g.err.type, "CRC32Mismatch");
    ck_assert_int_eq(g.err.http_status, 400);
    ck_assert_int_eq(test_http_request_count(g.server), 4);
    rig_stop(&g);
}
END_TEST

START_TEST(no_crc_header_accepted)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_NONE, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    ck_assert_str_eq(buf_str(&g.out), ITEM_BODY);
    rig_stop(&g);
}
END_TEST

START_TEST(connection_refused)
{
    int port = net_free_port();
    ck_assert_int_gt(port, 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    struct world w = {.now_ms = T0_MS};
    struct aws_client *c = client_for(url, &w);
    struct buf out;
    buf_init(&out, 1024);
    struct error_info e;
    ck_assert_int_eq(
        aws_call(c, "GetItem", GET_BODY, strlen(GET_BODY), 0, &out, &e),
        RESULT_TRANSPORT);
    ck_assert_int_eq(e.http_status, 0);
    ck_assert_str_ne(e.message, "");
    ck_assert_int_eq(aws_client_last_attempts(c), 4);
    ck_assert_int_eq(w.sleep_count, 3);
    buf_cleanup(&out);
    aws_client_free(c);
}
END_TEST

/* The first backoff would end past deadline - margin: give up at once. */
START_TEST(deadline_no_sleep_past)
{
    const struct step steps[] = {
        {400, PTE_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    aws_client_set_retry(g.client, 1000, 0, 10);
    aws_client_set_deadline_margin(g.client, 100);
    g.world.fixed_random = 1;
    g.world.random = 600; /* the first delay: 600 ms */
    ck_assert_int_eq(rig_call(&g, T0_MS + 500), RESULT_THROTTLED);
    ck_assert_str_eq(g.err.type, "ProvisionedThroughputExceededException");
    ck_assert_ptr_nonnull(strstr(g.err.message, "deadline"));
    ck_assert_int_eq(test_http_request_count(g.server), 1);
    ck_assert_int_eq(g.world.sleep_count, 0);
    rig_stop(&g);
}
END_TEST

/* Sleeps fit while they end before deadline - margin, then it stops. */
START_TEST(deadline_partial_retries)
{
    const struct step steps[] = {
        {500, ISE_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    aws_client_set_retry(g.client, 100, 0, 10);
    aws_client_set_deadline_margin(g.client, 100);
    g.world.fixed_random = 1;
    g.world.random = 101ULL * 201 * 401 - 1; /* the ceilings: 100, 200, 400 */
    int64_t deadline = T0_MS + 350;
    ck_assert_int_eq(rig_call(&g, deadline), RESULT_SERVICE_ERROR);
    ck_assert_str_eq(g.err.type, "InternalServerError");
    /* Sleep 100 fits (T0 + 100 + margin < T0 + 350); the next, 200, would
     * end at T0 + 300, inside the margin. */
    ck_assert_int_eq(g.world.sleep_count, 1);
    ck_assert_int_eq(g.world.sleeps[0], 100);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    ck_assert_int_lt(g.world.now_ms, deadline - 100);
    rig_stop(&g);
}
END_TEST

START_TEST(deadline_already_passed)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, T0_MS + 50), RESULT_TIMEOUT);
    ck_assert_str_eq(g.err.type, "DeadlineExceeded");
    ck_assert_int_eq(test_http_request_count(g.server), 0);
    ck_assert_int_eq(aws_client_last_attempts(g.client), 0);
    rig_stop(&g);
}
END_TEST

/* The attempt's timeout is cut to the time left before the deadline. */
START_TEST(deadline_cuts_attempt_timeout)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 2000},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    g.world.real_clock = 1;
    g.world.fixed_random = 1;
    g.world.random = 25; /* then the retry cannot fit: 300 + 25 + 100 */
    int64_t deadline = retry_clock_realtime_ms(NULL) + 400;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(rig_call(&g, deadline), RESULT_TIMEOUT);
    double ms = elapsed_ms(&t0);
    ck_assert_msg(ms >= 200 && ms < 1200, "took %.0f ms", ms);
    ck_assert_int_eq(test_http_request_count(g.server), 1);
    ck_assert_int_eq(g.world.sleep_count, 0);
    rig_stop(&g);
}
END_TEST

/* The server saw a SigV4-signed DynamoDB request, signed over what it got. */
START_TEST(request_is_signed)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    const struct seen *v = &g.script->seen[0];
    ck_assert_str_eq(v->method, "POST");
    ck_assert_str_eq(v->target, "/");
    ck_assert_str_eq(v->amz_target, "DynamoDB_20120810.GetItem");
    ck_assert_str_eq(v->content_type, "application/x-amz-json-1.0");
    ck_assert_str_eq(v->amz_date, "20251124T100000Z");
    ck_assert_str_eq(v->token, test_creds.session_token);
    ck_assert_str_eq(v->body, GET_BODY);
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%d", test_http_port(g.server));
    ck_assert_str_eq(v->host, host);
    const char *prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251124/"
                         "us-east-1/dynamodb/aws4_request, SignedHeaders="
                         "content-type;host;x-amz-date;x-amz-security-token;"
                         "x-amz-target, Signature=";
    ck_assert_msg(strncmp(v->authorization, prefix, strlen(prefix)) == 0,
                  "Authorization: %s", v->authorization);

    /* Signing what the server received gives the same signature. */
    struct sigv4_signer signer;
    sigv4_signer_init(&signer);
    const struct sigv4_header hs[] = {
        {"Host", v->host},
        {"Content-Type", v->content_type},
        {"X-Amz-Target", v->amz_target},
    };
    struct sigv4_request sreq = {"POST", v->target, NULL,           hs,
                                 3,      v->body,   strlen(v->body)};
    struct sigv4_params params = {.region = "us-east-1",
                                  .service = "dynamodb",
                                  .now = (time_t)(T0_MS / 1000),
                                  .double_encode_path = 1,
                                  .normalize_path = 1};
    struct sigv4_output want;
    ck_assert_int_eq(sigv4_sign(&signer, &test_creds, &params, &sreq, &want),
                     RESULT_OK);
    sigv4_signer_cleanup(&signer);
    ck_assert_str_eq(v->authorization, want.authorization);
    rig_stop(&g);
}
END_TEST

/* Each attempt is signed anew: a later attempt has a later x-amz-date. */
START_TEST(resigned_each_attempt)
{
    const struct step steps[] = {
        {500, ISE_BODY, CRC_GOOD, NULL, 0},
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    g.world.extra_per_sleep_ms = 2000;
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    const struct seen *a = &g.script->seen[0], *b = &g.script->seen[1];
    ck_assert_str_eq(a->amz_date, "20251124T100000Z");
    ck_assert_str_ne(b->amz_date, a->amz_date);
    ck_assert_str_ne(b->authorization, a->authorization);
    ck_assert_ptr_nonnull(strstr(b->authorization, "Credential=AKIDEXAMPLE/"));
    rig_stop(&g);
}
END_TEST

/* Keep-alive: consecutive calls reuse one client; an empty body is {}. */
START_TEST(empty_body_and_reuse)
{
    const struct step steps[] = {
        {200, "{\"TableNames\":[]}", CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(
            aws_call(g.client, "ListTables", NULL, 0, 0, &g.out, &g.err),
            RESULT_OK);
        ck_assert_str_eq(buf_str(&g.out), "{\"TableNames\":[]}");
    }
    ck_assert_int_eq(test_http_request_count(g.server), 3);
    ck_assert_str_eq(g.script->seen[2].body, "{}");
    ck_assert_str_eq(g.script->seen[2].amz_target,
                     "DynamoDB_20120810.ListTables");
    rig_stop(&g);
}
END_TEST

START_TEST(response_over_caps)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    /* The caller's buffer is too small: not retried. */
    struct buf small;
    buf_init(&small, 8);
    ck_assert_int_eq(aws_call(g.client, "GetItem", GET_BODY, strlen(GET_BODY),
                              0, &small, &g.err),
                     RESULT_TOO_LARGE);
    ck_assert_str_eq(g.err.type, "ResponseTooLarge");
    ck_assert_int_eq(test_http_request_count(g.server), 1);
    buf_cleanup(&small);

    /* The client's own cap: not retried either. */
    aws_client_free(g.client);
    struct aws_client_config cfg = {
        .endpoint_url = test_http_url(g.server),
        .region = "us-east-1",
        .service = "dynamodb",
        .target_prefix = "DynamoDB_20120810",
        .credentials = &test_creds,
        .max_body_bytes = 8,
    };
    g.client = NULL;
    ck_assert_int_eq(aws_client_new(&cfg, &g.client, &g.err), RESULT_OK);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_TOO_LARGE);
    ck_assert_int_eq(test_http_request_count(g.server), 2);
    rig_stop(&g);
}
END_TEST

START_TEST(bad_operation)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    static const char *const bad[] = {"", "Get Item", "GetItem\r\nX: y",
                                      "Get.Item", "../x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(aws_call(g.client, bad[i], "{}", 2, 0, &g.out, &g.err),
                         RESULT_INVALID_INPUT);
    ck_assert_int_eq(aws_call(g.client, NULL, "{}", 2, 0, &g.out, &g.err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(g.err.field, "operation");
    ck_assert_int_eq(test_http_request_count(g.server), 0);
    rig_stop(&g);
}
END_TEST

struct config_row {
    const char *name;
    const char *url;
    const char *region;
    const char *key;
    enum result want;
    const char *type;
};

static const struct config_row config_rows[] = {
    {"http ok", "http://127.0.0.1:8000", "us-east-1", "AK", RESULT_OK, ""},
    {"https slash ok", "https://dynamodb.eu-west-1.amazonaws.com/", "eu-west-1",
     "AK", RESULT_OK, ""},
    {"ipv6 ok", "http://[::1]:8000", "us-east-1", "AK", RESULT_OK, ""},
    {"no scheme", "dynamodb.eu-west-1.amazonaws.com", "eu-west-1", "AK",
     RESULT_CONFIG, "InvalidEndpoint"},
    {"ftp", "ftp://x", "eu-west-1", "AK", RESULT_CONFIG, "InvalidEndpoint"},
    {"path", "http://h/path", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"query", "http://h/?a=b", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"userinfo", "http://u:p@h", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"empty host", "http://", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"blank", "http://a b", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"bad port", "http://h:99999", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"port letters", "http://h:8x", "eu-west-1", "AK", RESULT_CONFIG,
     "InvalidEndpoint"},
    {"no region", "http://h", "", "AK", RESULT_CONFIG, "InvalidConfig"},
    {"no key", "http://h", "eu-west-1", "", RESULT_CONFIG,
     "MissingCredentials"},
    {"no url", NULL, "eu-west-1", "AK", RESULT_CONFIG, "InvalidEndpoint"},
};

START_TEST(config_table)
{
    const struct config_row *row = &config_rows[_i];
    struct sigv4_credentials creds = {row->key, "secret", NULL};
    struct aws_client_config cfg = {
        .endpoint_url = row->url,
        .region = row->region,
        .service = "dynamodb",
        .target_prefix = "DynamoDB_20120810",
        .credentials = &creds,
    };
    struct aws_client *c = NULL;
    struct error_info e;
    error_clear(&e);
    enum result r = aws_client_new(&cfg, &c, &e);
    ck_assert_msg(r == row->want, "%s: %s (%s)", row->name, result_str(r),
                  e.message);
    ck_assert_msg(strcmp(e.type, row->type) == 0, "%s: type %s", row->name,
                  e.type);
    if (r == RESULT_OK)
        ck_assert_ptr_nonnull(c);
    else
        ck_assert_ptr_null(c);
    /* The URL may carry secrets: it is never echoed. */
    if (row->url && r != RESULT_OK)
        ck_assert_ptr_null(strstr(e.message, row->url));
    aws_client_free(c);
}
END_TEST

/* New credentials sign the next call; without a token none is sent. */
START_TEST(set_credentials)
{
    const struct step steps[] = {
        {200, ITEM_BODY, CRC_GOOD, NULL, 0},
        END,
    };
    struct rig g;
    rig_with(&g, steps);
    struct sigv4_credentials none = {"", "", NULL};
    ck_assert_int_eq(aws_client_set_credentials(g.client, &none, &g.err),
                     RESULT_CONFIG);
    struct sigv4_credentials next = {"AKIDNEXT", "othersecret", ""};
    ck_assert_int_eq(aws_client_set_credentials(g.client, &next, &g.err),
                     RESULT_OK);
    ck_assert_int_eq(rig_call(&g, 0), RESULT_OK);
    const struct seen *v = &g.script->seen[0];
    ck_assert_ptr_nonnull(strstr(v->authorization, "Credential=AKIDNEXT/"));
    ck_assert_ptr_null(strstr(v->authorization, "x-amz-security-token"));
    ck_assert_str_eq(v->token, "");
    aws_client_set_hooks(g.client, NULL);
    aws_client_free(NULL);
    rig_stop(&g);
}
END_TEST

Suite *aws_faults_suite(void)
{
    Suite *s = suite_create("aws_faults");
    TCase *tc = tcase_create("retry");
    tcase_add_test(tc, throttled_then_success);
    tcase_add_test(tc, backoff_ceiling_doubles);
    tcase_add_test(tc, error_500_then_success);
    tcase_add_test(tc, throttled_exhausted);
    tcase_add_test(tc, service_error_exhausted);
    tcase_add_test(tc, condition_failed_at_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, garbage_body_400);
    tcase_add_test(tc, garbage_body_502_retried);
    tcase_add_test(tc, truncated_then_success);
    tcase_add_test(tc, truncated_always);
    tcase_add_test(tc, stall_times_out);
    tcase_add_test(tc, bad_crc_then_success);
    tcase_add_test(tc, bad_crc_always);
    tcase_add_test(tc, no_crc_header_accepted);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, response_over_caps);
    suite_add_tcase(s, tc);

    tc = tcase_create("deadline");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, deadline_no_sleep_past);
    tcase_add_test(tc, deadline_partial_retries);
    tcase_add_test(tc, deadline_already_passed);
    tcase_add_test(tc, deadline_cuts_attempt_timeout);
    suite_add_tcase(s, tc);

    tc = tcase_create("signing");
    tcase_add_test(tc, request_is_signed);
    tcase_add_test(tc, resigned_each_attempt);
    tcase_add_test(tc, empty_body_and_reuse);
    tcase_add_test(tc, set_credentials);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_loop_test(tc, config_table, 0,
                        (int)(sizeof(config_rows) / sizeof(config_rows[0])));
    tcase_add_test(tc, bad_operation);
    suite_add_tcase(s, tc);
    return s;
}

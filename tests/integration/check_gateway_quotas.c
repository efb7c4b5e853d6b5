/*
 * The local gateway keeps API Gateway's WebSocket quotas: a message over
 * 128 KB closes with 1009, an @connections POST over 128 KB is 413, idle
 * and overlong connections are closed with 1001, and 2,000 connections
 * are held at once, each answering a ping. A raw WebSocket client (plain
 * sockets, RFC 6455 framing) reads close codes and scales to thousands.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "ddb.h"
#include "ddb_local.h"
#include "store.h"
#include "tables.h"
#include "test_gateway.h"
#include "raw_ws.h"
#include "test_jwt.h"

#define TENANT "tenant-q"
#define FRAME_MS 60000
#define STOP_MS 15000
#define MANY 2000
#define MAX_MESSAGE (128 * 1024)

static EVP_PKEY *key;
static char *pem;
static struct test_gateway gw;
static char conn_table[96], req_table[96], subs_table[96];
static const char *const *gateway_args;

static void keys_setup(void)
{
    key = test_jwt_key();
    pem = test_jwt_pem(key, 0);
}

static void keys_teardown(void)
{
    free(pem);
    EVP_PKEY_free(key);
}

static void gateway_setup(void)
{
    static char key_env[8192], conn_env[128], req_env[128], subs_env[128];
    ddb_local_table_name(conn_table, sizeof(conn_table), "q_conn");
    ddb_local_table_name(req_table, sizeof(req_table), "q_req");
    ddb_local_table_name(subs_table, sizeof(subs_table), "q_subs");
    snprintf(key_env, sizeof(key_env), "JWT_PUBLIC_KEY=%s", pem);
    snprintf(conn_env, sizeof(conn_env), "CONNECTIONS_TABLE=%s", conn_table);
    snprintf(req_env, sizeof(req_env), "REQUESTS_TABLE=%s", req_table);
    snprintf(subs_env, sizeof(subs_env), "SUBSCRIPTIONS_TABLE=%s", subs_table);
    const char *env[] = {key_env,
                         conn_env,
                         req_env,
                         subs_env,
                         "ALLOWED_TENANTS=" TENANT,
                         "AWS_LAMBDA_LOG_LEVEL=WARN",
                         NULL};
    struct test_gateway_options o = {0};
    o.env = env;
    o.no_stream = 1;
    o.args = gateway_args;
    char err[4096];
    ck_assert_msg(test_gateway_start(&gw, &o, err, sizeof(err)) == 0,
                  "the gateway did not start: %s", err);
}

static void gateway_teardown(void)
{
    int left = 0;
    int status = test_gateway_stop(&gw, STOP_MS, &left);
    static const struct sigv4_credentials creds = {"AKIDLOCAL", "local/x",
                                                   NULL};
    struct ddb_config cfg = {ddb_local_endpoint(), "us-east-1", &creds};
    struct ddb *d = NULL;
    struct error_info e;
    if (ddb_new(&cfg, &d, &e) == RESULT_OK) {
        struct store s;
        store_init(&s, d, conn_table, req_table, subs_table);
        if (tables_delete_all(&s, clock_now_ms() + 30000, &e) != RESULT_OK)
            fprintf(stderr, "tables_delete_all: %s\n", e.message);
        store_cleanup(&s);
        ddb_free(d);
    }
    ck_assert_msg(status == 0, "the gateway exited with %d (log: %s)", status,
                  gw.log_path);
    ck_assert_int_eq(left, 0);
}

/* Connects as `user` with a fresh token; the socket, or -1 with `why`. */
static int ws_open(const char *user, char *why, size_t size)
{
    long now = (long)(clock_now_ms() / 1000);
    char claims[256];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"tenant_id\":\"" TENANT "\",\"iat\":%ld,"
             "\"exp\":%ld}",
             user, now, now + 3600);
    char *token =
        test_jwt_token(key, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);
    char path[4096];
    snprintf(path, sizeof(path), "%s?Authorization=%s", gw.path, token);
    free(token);
    return raw_ws_open(gw.port, path, FRAME_MS, why, size);
}

#define ws_send raw_ws_send
#define ws_read raw_ws_read
#define close_code raw_ws_close_code

/* ---- Tests ---------------------------------------------------------- */

static long post_status(const char *id, size_t bytes)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s/@connections/%s", gw.port,
             gw.path, id);
    char *body = malloc(bytes + 1);
    memset(body, 'x', bytes);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bytes);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(sink);
    curl_easy_cleanup(c);
    free(body);
    return status;
}

START_TEST(oversize_message_1009_and_oversize_post_413)
{
    char why[256];
    int fd = ws_open("user-big", why, sizeof(why));
    ck_assert_msg(fd >= 0, "%s", why);
    /* @connections: an unknown id is 410 at the limit, and 413 past it
     * before the id is even looked at. */
    ck_assert_int_eq(post_status("unknownid0000000", MAX_MESSAGE), 410);
    ck_assert_int_eq(post_status("unknownid0000000", MAX_MESSAGE + 1), 413);
    /* At the limit a message is a message like any other. */
    char *text = malloc(MAX_MESSAGE + 2);
    memset(text, ' ', MAX_MESSAGE + 1);
    memcpy(text, "{\"action\":\"ping\"}", 17);
    ck_assert_int_eq(ws_send(fd, 1, text, MAX_MESSAGE), 0);
    char *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(ws_read(fd, FRAME_MS, &p, &n), 1);
    ck_assert_ptr_nonnull(strstr(p, "pong"));
    free(p);
    /* One byte more closes the connection with 1009. */
    ck_assert_int_eq(ws_send(fd, 1, text, MAX_MESSAGE + 1), 0);
    ck_assert_int_eq(close_code(fd, FRAME_MS), 1009);
    free(text);
    close(fd);
}
END_TEST

START_TEST(idle_and_overlong_connections_close_with_1001)
{
    /* Idle timeout 3 s, at most 4 s in all: one client stays quiet, the
     * other pings every 200 ms; both are closed with 1001, neither before
     * its quota (counted from before the upgrade began). */
    char why[256];
    int64_t t0 = clock_now_ms();
    int quiet = ws_open("user-idle", why, sizeof(why));
    ck_assert_msg(quiet >= 0, "%s", why);
    int64_t t1 = clock_now_ms();
    int busy = ws_open("user-long", why, sizeof(why));
    ck_assert_msg(busy >= 0, "%s", why);
    int code = -1;
    while (clock_now_ms() - t1 < 20000) {
        ck_assert_int_eq(ws_send(busy, 1, "{\"action\":\"ping\"}", 17), 0);
        char *p = NULL;
        size_t n = 0;
        int op = ws_read(busy, 5000, &p, &n);
        if (op == 8) {
            code =
                n >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 0;
            free(p);
            break;
        }
        free(p);
        ck_assert_int_eq(op, 1);
        usleep(200000);
    }
    ck_assert_int_eq(code, 1001);
    ck_assert_int_ge(clock_now_ms() - t1, 4000);
    ck_assert_int_eq(close_code(quiet, 10000), 1001);
    ck_assert_int_ge(clock_now_ms() - t0, 3000);
    close(quiet);
    close(busy);
}
END_TEST

START_TEST(two_thousand_connections_each_ping)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < MANY + 256) {
        rl.rlim_cur = rl.rlim_max;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_msg(rl.rlim_cur >= MANY + 256, "open files limited to %lu",
                  (unsigned long)rl.rlim_cur);
    int *fds = calloc(MANY, sizeof(*fds));
    char why[256];
    int64_t t0 = clock_now_ms();
    for (int i = 0; i < MANY; i++) {
        char user[32];
        snprintf(user, sizeof(user), "user-%d", i % 50);
        fds[i] = ws_open(user, why, sizeof(why));
        ck_assert_msg(fds[i] >= 0, "connection %d: %s", i, why);
    }
    fprintf(stderr, "gateway_quotas: %d upgrades in %lld ms\n", MANY,
            (long long)(clock_now_ms() - t0));
    t0 = clock_now_ms();
    /* All open at once: each asks, each is answered. */
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(ws_send(fds[i], 1, "{\"action\":\"ping\"}", 17), 0);
    for (int i = 0; i < MANY; i++) {
        char *p = NULL;
        size_t n = 0;
        ck_assert_msg(ws_read(fds[i], FRAME_MS, &p, &n) == 1,
                      "connection %d got no answer", i);
        ck_assert_msg(strstr(p, "\"pong\"") != NULL, "connection %d: %s", i, p);
        free(p);
    }
    fprintf(stderr, "gateway_quotas: %d pings answered in %lld ms\n", MANY,
            (long long)(clock_now_ms() - t0));
    /* The gateway stops with them open (no $disconnect each); closing
     * 2,000 connections takes a while under ASan. */
    int left = 0;
    ck_assert_int_eq(test_gateway_stop(&gw, 4 * STOP_MS, &left), 0);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    free(fds);
}
END_TEST

static const char *const short_quotas[] = {"--idle-timeout-ms", "3000",
                                           "--max-connection-ms", "4000", NULL};

static void short_setup(void)
{
    gateway_args = short_quotas;
    gateway_setup();
}

static void default_setup(void)
{
    gateway_args = NULL;
    gateway_setup();
}

Suite *gateway_quotas_suite(void)
{
    Suite *s = suite_create("gateway_quotas");
    TCase *tc = tcase_create("sizes");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_add_checked_fixture(tc, default_setup, gateway_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, oversize_message_1009_and_oversize_post_413);
    tcase_add_test(tc, two_thousand_connections_each_ping);
    suite_add_tcase(s, tc);

    tc = tcase_create("durations");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_add_checked_fixture(tc, short_setup, gateway_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, idle_and_overlong_connections_close_with_1001);
    suite_add_tcase(s, tc);
    return s;
}

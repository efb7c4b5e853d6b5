/*
 * The local gateway keeps API Gateway's WebSocket quotas: a message over
 * 128 KB closes with 1009, an @connections POST over 128 KB is 413, idle
 * and overlong connections are closed with 1001, and 2,000 connections
 * are held at once, each answering a ping. A raw WebSocket client (plain
 * sockets, RFC 6455 framing) reads close codes and scales to thousands.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ddb.h"
#include "ddb_local.h"
#include "store.h"
#include "tables.h"
#include "test_gateway.h"
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

/* ---- A raw WebSocket client --------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n, int timeout_ms)
{
    char *c = p;
    while (n) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, timeout_ms) != 1)
            return -1;
        ssize_t k = recv(fd, c, n, 0);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Connects as `user` and upgrades; the socket, or -1 with `why`. */
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
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)gw.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char req[4096], head[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s?Authorization=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     gw.path, token);
    free(token);
    size_t len = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        write_all(fd, req, (size_t)n) != 0) {
        snprintf(why, size, "connect: %s", strerror(errno));
        goto fail;
    }
    /* The response head, byte by byte: nothing after it may be eaten. */
    while (len < sizeof(head) - 1) {
        if (read_all(fd, head + len, 1, FRAME_MS) != 0) {
            snprintf(why, size, "no upgrade answer");
            goto fail;
        }
        head[++len] = '\0';
        if (len >= 4 && !memcmp(head + len - 4, "\r\n\r\n", 4))
            break;
    }
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        snprintf(why, size, "upgrade refused: %.60s", head);
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Sends one masked frame (RFC 6455 §5.3: a client masks every frame). */
static int ws_send(int fd, int opcode, const char *data, size_t len)
{
    unsigned char h[14];
    size_t n = 0;
    h[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[n++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        h[n++] = 0x80 | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(h + n, mask, 4);
    n += 4;
    char *masked = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        masked[i] = (char)(data[i] ^ mask[i % 4]);
    int r =
        write_all(fd, h, n) == 0 && write_all(fd, masked, len) == 0 ? 0 : -1;
    free(masked);
    return r;
}

/* Reads one frame: its opcode, and its payload (caller frees). */
static int ws_read(int fd, int timeout_ms, char **payload, size_t *len)
{
    unsigned char h[2];
    if (read_all(fd, h, 2, timeout_ms) != 0)
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126 || n == 127) {
        unsigned char ext[8];
        size_t k = n == 126 ? 2 : 8;
        if (read_all(fd, ext, k, timeout_ms) != 0)
            return -1;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | ext[i];
    }
    *payload = calloc(1, (size_t)n + 1);
    if (n && read_all(fd, *payload, (size_t)n, timeout_ms) != 0) {
        free(*payload);
        return -1;
    }
    *len = (size_t)n;
    return h[0] & 0x0f;
}

/* The close code the server sends next (text frames skipped), or -1. */
static int close_code(int fd, int timeout_ms)
{
    for (;;) {
        char *p = NULL;
        size_t n = 0;
        int op = ws_read(fd, timeout_ms, &p, &n);
        if (op < 0)
            return -1;
        int code = op == 8 && n >= 2
                       ? ((unsigned char)p[0] << 8 | (unsigned char)p[1])
                       : 0;
        free(p);
        if (op == 8)
            return code;
    }
}

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
    /* Idle timeout 1 s, at most 1.5 s in all: one client stays quiet, the
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
    while (clock_now_ms() - t1 < 10000) {
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
    ck_assert_int_ge(clock_now_ms() - t1, 1500);
    ck_assert_int_eq(close_code(quiet, 10000), 1001);
    ck_assert_int_ge(clock_now_ms() - t0, 1000);
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
    /* The gateway stops with them open (no $disconnect each). */
    int left = 0;
    ck_assert_int_eq(test_gateway_stop(&gw, STOP_MS, &left), 0);
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    free(fds);
}
END_TEST

static const char *const short_quotas[] = {"--idle-timeout-ms", "1000",
                                           "--max-connection-ms", "1500", NULL};

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

/* Tests of pushes over the Management API, against a scripted server. */
#include <check.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_fixture.h"
#include "clock.h"
#include "connections.h"
#include "mgmt.h"
#include "push.h"
#include "reply.h"
#include "retry.h"
#include "subscriptions.h"
#include "test_http.h"

/* An API Gateway connection id: base64, so '=' must be percent-encoded. */
#define CONN "L0SM9cOFvHcCIhw="
#define WIRE_PATH "/prod/%40connections/L0SM9cOFvHcCIhw%3D"
#define OTHER "L0SOmeF9vHcCH3Q="
#define DOMAIN "abc123def4.execute-api.us-east-1.amazonaws.com"
#define SECRET "local/secret" /* the fixture's AWS_SECRET_ACCESS_KEY */
#define MAX_SEEN 12

/* ---- The Management API server ------------------------------------------ */

/* What one request looked like, and whether its signature holds. */
struct seen {
    char method[16];
    char target[256];
    char *body;
    size_t body_len;
    char content_type[64];
    char authorization[512];
    char token[128];
    char verdict[256]; /* "ok" or why the signature does not verify */
};

/* Request i is answered with statuses[i] (the last one repeats). */
struct script {
    pthread_mutex_t lock;
    int statuses[MAX_SEEN];
    int status_count;
    int delay_ms;
    const char *body; /* for 2xx answers; "" when NULL */
    const char *secret;
    struct seen seen[MAX_SEEN];
    int seen_count;
};

static struct script script;
static struct test_http *server;
static struct app_fixture fx;

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(d, n, md, &len, EVP_sha256(), NULL);
    hex(md, 32, out);
}

static void hmac(const void *key, size_t key_len, const char *msg,
                 unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
         strlen(msg), out, &len);
}

/* Appends `s` to `out` (capacity `size`), percent-encoding every byte but
 * RFC 3986 unreserved ones and '/': SigV4's canonical URI of a path. */
static void uri_encode(const char *s, char *out, size_t size)
{
    size_t n = strlen(out);
    for (; *s && n + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~/", c))
            out[n++] = (char)c;
        else
            n += (size_t)sprintf(out + n, "%%%02X", c);
    }
    out[n] = '\0';
}

/* The value of `key=` in an Authorization header, up to ',' or the end. */
static void auth_part(const char *auth, const char *key, char *out, size_t size)
{
    const char *p = strstr(auth, key);
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(key);
    size_t n = strcspn(p, ", ");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

/*
 * Verifies a request's SigV4 signature from scratch, as API Gateway does
 * ("Create a signed AWS API request"): the canonical URI is the wire path
 * encoded once more (execute-api is not S3), the signed headers as sent.
 * Writes "ok" or the reason into `verdict`.
 */
static void verify(const struct test_http_request *req, const char *secret,
                   char *verdict, size_t size)
{
    const char *auth = test_http_header(req, "Authorization");
    const char *date = test_http_header(req, "X-Amz-Date");
    char credential[256], signed_headers[256], signature[80];
    if (!auth || !date || strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0) {
        snprintf(verdict, size, "no SigV4 Authorization or X-Amz-Date");
        return;
    }
    auth_part(auth, "Credential=", credential, sizeof(credential));
    auth_part(auth, "SignedHeaders=", signed_headers, sizeof(signed_headers));
    auth_part(auth, "Signature=", signature, sizeof(signature));
    const char *scope = strchr(credential, '/');
    if (!scope || strlen(date) != 16) {
        snprintf(verdict, size, "malformed credential or date");
        return;
    }
    scope++;

    char creq[8192] = "";
    size_t n = (size_t)snprintf(creq, sizeof(creq), "%s\n", req->method);
    uri_encode(req->target, creq, sizeof(creq));
    n = strlen(creq);
    n += (size_t)snprintf(creq + n, sizeof(creq) - n, "\n\n");
    char names[256];
    snprintf(names, sizeof(names), "%s", signed_headers);
    for (char *save = NULL, *h = strtok_r(names, ";", &save); h;
         h = strtok_r(NULL, ";", &save)) {
        const char *v = test_http_header(req, h);
        n += (size_t)snprintf(creq + n, sizeof(creq) - n, "%s:%s\n", h,
                              v ? v : "");
    }
    char body_hash[65];
    sha256_hex(req->body, req->body_len, body_hash);
    snprintf(creq + n, sizeof(creq) - n, "\n%s\n%s", signed_headers, body_hash);

    char creq_hash[65], sts[512];
    sha256_hex(creq, strlen(creq), creq_hash);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope,
             creq_hash);
    char day[9], region[32], service[32];
    if (sscanf(scope, "%8[0-9]/%31[^/]/%31[^/]/", day, region, service) != 3) {
        snprintf(verdict, size, "malformed scope %s", scope);
        return;
    }
    char k0[128];
    unsigned char k[32];
    snprintf(k0, sizeof(k0), "AWS4%s", secret);
    hmac(k0, strlen(k0), day, k);
    hmac(k, 32, region, k);
    hmac(k, 32, service, k);
    hmac(k, 32, "aws4_request", k);
    unsigned char sig[32];
    char want[65];
    hmac(k, 32, sts, sig);
    hex(sig, 32, want);
    if (strcmp(want, signature) != 0)
        snprintf(verdict, size, "signature %.64s, want %s", signature, want);
    else
        snprintf(verdict, size, "ok");
}

static void copy_header(char *dst, size_t n, const struct test_http_request *r,
                        const char *name)
{
    const char *v = test_http_header(r, name);
    snprintf(dst, n, "%s", v ? v : "");
}

static void on_request(void *ctx, const struct test_http_request *req,
                       struct test_http_reply *reply)
{
    struct script *s = ctx;
    pthread_mutex_lock(&s->lock);
    int i = req->index < s->status_count ? req->index : s->status_count - 1;
    int status = s->statuses[i];
    if (s->seen_count < MAX_SEEN) {
        struct seen *v = &s->seen[s->seen_count++];
        snprintf(v->method, sizeof(v->method), "%s", req->method);
        snprintf(v->target, sizeof(v->target), "%s", req->target);
        v->body = malloc(req->body_len + 1);
        memcpy(v->body, req->body, req->body_len + 1);
        v->body_len = req->body_len;
        copy_header(v->content_type, sizeof(v->content_type), req,
                    "Content-Type");
        copy_header(v->authorization, sizeof(v->authorization), req,
                    "Authorization");
        copy_header(v->token, sizeof(v->token), req, "X-Amz-Security-Token");
        verify(req, s->secret, v->verdict, sizeof(v->verdict));
    }
    reply->delay_ms = s->delay_ms;
    const char *body = s->body ? s->body : "";
    pthread_mutex_unlock(&s->lock);

    /* API Gateway's error answers: a JSON message and x-amzn-ErrorType. */
    reply->status = status;
    const char *type = status == 410   ? "GoneException"
                       : status == 429 ? "LimitExceededException"
                       : status == 403 ? "ForbiddenException"
                       : status >= 500 ? "InternalServerErrorException"
                                       : NULL;
    if (type) {
        snprintf(reply->headers, sizeof(reply->headers),
                 "x-amzn-ErrorType: %s\r\n"
                 "Content-Type: application/json\r\n",
                 type);
        test_http_reply_body(reply, "{\"message\":null}");
    } else if (*body) {
        snprintf(reply->headers, sizeof(reply->headers),
                 "Content-Type: application/json\r\n");
        test_http_reply_body(reply, body);
    }
}

/* Sets the answers for the next requests (0-terminated list). */
static void answer(int first, ...)
{
    va_list ap;
    pthread_mutex_lock(&script.lock);
    script.status_count = 0;
    va_start(ap, first);
    for (int st = first; st && script.status_count < MAX_SEEN;
         st = va_arg(ap, int))
        script.statuses[script.status_count++] = st;
    va_end(ap);
    pthread_mutex_unlock(&script.lock);
}

static int seen_count(void)
{
    pthread_mutex_lock(&script.lock);
    int n = script.seen_count;
    pthread_mutex_unlock(&script.lock);
    return n;
}

/* The server, and the app pointed at it through WEBSOCKET_ENDPOINT. */
static void setup(void)
{
    memset(&script, 0, sizeof(script));
    pthread_mutex_init(&script.lock, NULL);
    script.secret = SECRET;
    answer(200, 0);
    server = test_http_start(on_request, &script);
    ck_assert_msg(server != NULL, "test_http_start");
    char endpoint[128];
    snprintf(endpoint, sizeof(endpoint), "%s/prod", test_http_url(server));
    app_fixture_init(&fx);
    app_fixture_set(&fx, "WEBSOCKET_ENDPOINT", endpoint);
    app_fixture_start(&fx);
}

static void teardown(void)
{
    app_fixture_stop(&fx);
    test_http_stop(server);
    for (int i = 0; i < script.seen_count && i < MAX_SEEN; i++)
        free(script.seen[i].body);
    pthread_mutex_destroy(&script.lock);
}

/* ---- The store ---------------------------------------------------------- */

static void add_conn(const char *id, const char *user)
{
    struct connection c;
    memset(&c, 0, sizeof(c));
    c.connection_id = strdup(id);
    c.user_id = strdup(user);
    c.tenant_id = strdup("acme");
    c.endpoint = strdup(DOMAIN "/prod");
    struct error_info e;
    error_clear(&e);
    enum result r = conn_save(&fx.app.store, &c, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "conn_save: %s", e.message);
    conn_cleanup(&c);
}

/* Subscribes `conn` to a request of its user's (add_two_clients). */
static void add_sub(const char *conn, const char *user, const char *request_id)
{
    struct subscription sub;
    memset(&sub, 0, sizeof(sub));
    sub.connection_id = strdup(conn);
    sub.request_id = strdup(request_id);
    sub.tenant_id = strdup("acme");
    sub.user_id = strdup(user);
    struct error_info e;
    error_clear(&e);
    enum result r =
        sub_subscribe(&fx.app.store, &sub, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "sub_subscribe: %s", e.message);
    sub_cleanup(&sub);
}

static int conn_exists(const char *id)
{
    struct connection c;
    struct error_info e;
    error_clear(&e);
    enum result r = conn_get(&fx.app.store, id, &c, app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK || r == RESULT_NOT_FOUND, "conn_get: %s",
                  e.message);
    if (r == RESULT_OK)
        conn_cleanup(&c);
    return r == RESULT_OK;
}

static size_t sub_count(const char *conn)
{
    struct sub_page page;
    memset(&page, 0, sizeof(page));
    struct error_info e;
    error_clear(&e);
    enum result r = sub_list_by_connection(&fx.app.store, conn, 0, NULL, &page,
                                           app_fixture_deadline(), &e);
    ck_assert_msg(r == RESULT_OK, "sub_list_by_connection: %s", e.message);
    size_t n = page.count;
    sub_page_cleanup(&page);
    return n;
}

/* Alice's connection with two subscriptions, Bob's with one. */
static void add_two_clients(void)
{
    add_conn(CONN, "alice");
    add_sub(CONN, "alice", "job-1");
    add_sub(CONN, "alice", "job-2");
    add_conn(OTHER, "bob");
    add_sub(OTHER, "bob", "job-3");
}

/* The scope of a seen request's Credential: ".../<scope>". */
static void expect_signed(const struct seen *v, const char *method)
{
    ck_assert_str_eq(v->method, method);
    ck_assert_msg(strcmp(v->verdict, "ok") == 0, "signature: %s (%s)",
                  v->verdict, v->authorization);
    char credential[256], signed_headers[256];
    auth_part(v->authorization, "Credential=", credential, sizeof(credential));
    auth_part(v->authorization, "SignedHeaders=", signed_headers,
              sizeof(signed_headers));
    ck_assert_msg(strncmp(credential, "AKIDLOCAL/", 10) == 0, "%s", credential);
    const char *scope = strchr(credential + 10, '/');
    ck_assert_msg(scope && strcmp(scope, "/us-east-1/execute-api/"
                                         "aws4_request") == 0,
                  "credential scope: %s", credential);
    ck_assert_msg(strstr(signed_headers, "host") &&
                      strstr(signed_headers, "x-amz-date"),
                  "SignedHeaders: %s", signed_headers);
}

/* Percent-decodes `s` into `out`. */
static void decode(const char *s, char *out)
{
    for (; *s; s++, out++) {
        unsigned v;
        if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
            *out = (char)v;
            s += 2;
        } else {
            *out = *s;
        }
    }
    *out = '\0';
}

/* ---- push_send -------------------------------------------------------------
 */

START_TEST(push_posts_the_message_signed)
{
    add_conn(CONN, "alice");
    char *msg = reply_progress("job-1", 50, "half \"way\" \xe2\x9c\x93",
                               "2026-11-24T10:00:00.123Z");
    struct error_info err;
    error_clear(&err);
    enum result r = push_send(&fx.app, CONN, DOMAIN "/prod", msg,
                              app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "push_send: %s %s", result_str(r),
                  err.message);
    ck_assert_int_eq(seen_count(), 1);
    const struct seen *v = &script.seen[0];
    expect_signed(v, "POST");
    /* The id is percent-encoded ('=' is %3D); "@" may be sent as %40. */
    char path[256];
    decode(v->target, path);
    ck_assert_str_eq(path, "/prod/@connections/" CONN);
    ck_assert_msg(strstr(v->target, "L0SM9cOFvHcCIhw%3D"), "target %s",
                  v->target);
    ck_assert_uint_eq(v->body_len, strlen(msg));
    ck_assert_mem_eq(v->body, msg, strlen(msg));
    ck_assert_str_eq(v->content_type, "application/json");
    ck_assert_str_eq(v->token, "");
    ck_assert(conn_exists(CONN));
    free(msg);

    /* A second push reuses the endpoint's client and is signed anew. */
    msg = reply_ack("job-2");
    r = push_send(&fx.app, CONN, DOMAIN "/prod", msg, app_fixture_deadline(),
                  &err);
    ck_assert_int_eq(r, RESULT_OK);
    ck_assert_int_eq(seen_count(), 2);
    expect_signed(&script.seen[1], "POST");
    ck_assert_str_eq(script.seen[1].body, msg);
    free(msg);
}
END_TEST

START_TEST(session_token_is_sent_and_signed)
{
    struct sigv4_credentials creds = {"AKIDLOCAL", SECRET,
                                      "FQoGZXIvYXdzEJr//////////token="};
    struct mgmt *m = mgmt_new("us-east-1", &creds);
    char url[128];
    snprintf(url, sizeof(url), "%s/prod", test_http_url(server));
    struct error_info err;
    error_clear(&err);
    enum result r = mgmt_post(m, url, CONN, "{\"type\":\"pong\"}", 15,
                              app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "mgmt_post: %s", err.message);
    mgmt_free(m);
    ck_assert_int_eq(seen_count(), 1);
    const struct seen *v = &script.seen[0];
    expect_signed(v, "POST");
    ck_assert_str_eq(v->token, creds.session_token);
    ck_assert_msg(strstr(v->authorization, "x-amz-security-token"),
                  "token not signed: %s", v->authorization);
    ck_assert_str_eq(v->target, WIRE_PATH);
}
END_TEST

START_TEST(gone_client_is_forgotten)
{
    add_two_clients();
    answer(410, 0);
    struct error_info err;
    error_clear(&err);
    enum result r = push_send(&fx.app, CONN, DOMAIN "/prod", "{\"type\":\"x\"}",
                              app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_NOT_FOUND, "push_send: %s %s", result_str(r),
                  err.message);
    ck_assert_int_eq(err.http_status, 410);
    ck_assert_int_eq(seen_count(), 1); /* 410 is final: no retry */
    ck_assert(!conn_exists(CONN));
    ck_assert_uint_eq(sub_count(CONN), 0);
    /* Only the gone client. */
    ck_assert(conn_exists(OTHER));
    ck_assert_uint_eq(sub_count(OTHER), 1);

    /* Gone again (already forgotten): still NOT_FOUND, nothing breaks. */
    r = push_send(&fx.app, CONN, DOMAIN "/prod", "{}", app_fixture_deadline(),
                  &err);
    ck_assert_int_eq(r, RESULT_NOT_FOUND);
    ck_assert(conn_exists(OTHER));
}
END_TEST

START_TEST(throttled_then_delivered)
{
    add_two_clients();
    answer(429, 200, 0);
    struct error_info err;
    error_clear(&err);
    enum result r = push_send(&fx.app, CONN, DOMAIN "/prod", "{\"n\":1}",
                              app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "push_send: %s %s", result_str(r),
                  err.message);
    ck_assert_int_eq(seen_count(), 2);
    for (int i = 0; i < 2; i++) {
        expect_signed(&script.seen[i], "POST");
        ck_assert_str_eq(script.seen[i].body, "{\"n\":1}");
        ck_assert_str_eq(script.seen[i].target, script.seen[0].target);
    }
    ck_assert(conn_exists(CONN));
    ck_assert_uint_eq(sub_count(CONN), 2);
}
END_TEST

START_TEST(server_errors_until_attempts_run_out)
{
    add_two_clients();
    answer(500, 502, 503, 500, 500, 500, 500, 0);
    struct error_info err;
    error_clear(&err);
    int64_t t0 = clock_now_ms();
    enum result r = push_send(&fx.app, CONN, DOMAIN "/prod", "{}",
                              app_fixture_deadline(), &err);
    ck_assert_msg(r != RESULT_OK && r != RESULT_NOT_FOUND, "push_send: %s",
                  result_str(r));
    ck_assert_int_eq(seen_count(), RETRY_DEFAULT_MAX_ATTEMPTS);
    ck_assert_int_ge(err.http_status, 500);
    ck_assert_int_lt(clock_now_ms() - t0, 5000);
    ck_assert(conn_exists(CONN));
    ck_assert_uint_eq(sub_count(CONN), 2);
}
END_TEST

START_TEST(forbidden_is_final_and_keeps_the_client)
{
    add_two_clients();
    answer(403, 0);
    struct error_info err;
    error_clear(&err);
    enum result r = push_send(&fx.app, CONN, DOMAIN "/prod", "{}",
                              app_fixture_deadline(), &err);
    ck_assert(r != RESULT_OK && r != RESULT_NOT_FOUND);
    ck_assert_int_eq(seen_count(), 1);
    ck_assert(conn_exists(CONN));
    ck_assert_uint_eq(sub_count(CONN), 2);
}
END_TEST

START_TEST(stall_stops_at_the_deadline)
{
    add_two_clients();
    script.delay_ms = 2500;
    struct error_info err;
    error_clear(&err);
    int64_t t0 = clock_now_ms();
    enum result r =
        push_send(&fx.app, CONN, DOMAIN "/prod", "{}", t0 + 1000, &err);
    int64_t took = clock_now_ms() - t0;
    ck_assert_msg(r == RESULT_TIMEOUT, "push_send: %s %s", result_str(r),
                  err.message);
    ck_assert_msg(took <= 1000, "took %lld ms past a 1000 ms deadline",
                  (long long)took);
    ck_assert_int_eq(seen_count(), 1);
    script.delay_ms = 0;
    ck_assert(conn_exists(CONN));
    ck_assert_uint_eq(sub_count(CONN), 2);

    /* A deadline already past: no request at all. */
    r = push_send(&fx.app, CONN, DOMAIN "/prod", "{}", clock_now_ms() - 1,
                  &err);
    ck_assert_int_eq(r, RESULT_TIMEOUT);
    ck_assert_int_eq(seen_count(), 1);
}
END_TEST

START_TEST(bad_connection_id_sends_nothing)
{
    add_two_clients();
    char long_id[200];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    const char *ids[] = {"", long_id};
    for (int i = 0; i < 2; i++) {
        /* `err` still holds a 410 from an earlier call: not a reason to
         * take this failure for a gone client. */
        struct error_info err;
        error_clear(&err);
        err.http_status = 410;
        enum result r = push_send(&fx.app, ids[i], DOMAIN "/prod", "{}",
                                  app_fixture_deadline(), &err);
        ck_assert_msg(r == RESULT_INVALID_INPUT, "id %d: %s", i, result_str(r));
        ck_assert_str_eq(err.field, "connection_id");
    }
    ck_assert_int_eq(seen_count(), 0);
    ck_assert(conn_exists(CONN) && conn_exists(OTHER));
}
END_TEST

START_TEST(endpoint_url)
{
    char url[256];
    struct error_info err;
    error_clear(&err);
    struct app a;
    memset(&a, 0, sizeof(a));
    ck_assert_int_eq(
        push_endpoint_url(&a, DOMAIN "/prod", url, sizeof(url), &err),
        RESULT_OK);
    ck_assert_str_eq(url, "https://" DOMAIN "/prod");
    ck_assert_int_eq(
        push_endpoint_url(&a, "example.com/v1/x", url, sizeof(url), &err),
        RESULT_OK);
    ck_assert_str_eq(url, "https://example.com/v1/x");
    ck_assert_int_eq(push_endpoint_url(&a, DOMAIN, url, sizeof(url), &err),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(push_endpoint_url(&a, NULL, url, sizeof(url), &err),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(push_endpoint_url(&a, "/prod", url, sizeof(url), &err),
                     RESULT_INVALID_INPUT);
    ck_assert_int_eq(push_endpoint_url(&a, DOMAIN "/prod", url, 10, &err),
                     RESULT_INVALID_INPUT);
    /* WEBSOCKET_ENDPOINT wins over the stored endpoint. */
    ck_assert_int_eq(
        push_endpoint_url(&fx.app, DOMAIN "/prod", url, sizeof(url), &err),
        RESULT_OK);
    char want[128];
    snprintf(want, sizeof(want), "%s/prod", test_http_url(server));
    ck_assert_str_eq(url, want);
}
END_TEST

START_TEST(many_endpoints)
{
    /* More stages than the client caches: the oldest are dropped and
     * made again, each request still at its own stage and signed. */
    char base[128];
    snprintf(base, sizeof(base), "%s", test_http_url(server));
    struct error_info err;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < MGMT_MAX_ENDPOINTS + 2; i++) {
            char url[160], body[32];
            snprintf(url, sizeof(url), "%s/stage%d", base, i);
            snprintf(body, sizeof(body), "{\"i\":%d}", i);
            error_clear(&err);
            enum result r =
                mgmt_post(fx.app.mgmt, url, CONN, body, strlen(body),
                          app_fixture_deadline(), &err);
            ck_assert_msg(r == RESULT_OK, "stage%d: %s", i, err.message);
            int n = test_http_request_count(server);
            if (n <= MAX_SEEN) {
                const struct seen *v = &script.seen[n - 1];
                char want[96];
                snprintf(want, sizeof(want),
                         "/stage%d/%%40connections/L0SM9cOFvHcCIhw%%3D", i);
                ck_assert_str_eq(v->target, want);
                ck_assert_str_eq(v->body, body);
                expect_signed(v, "POST");
            }
        }
    ck_assert_int_eq(test_http_request_count(server),
                     2 * (MGMT_MAX_ENDPOINTS + 2));
}
END_TEST

/* ---- GET and DELETE -------------------------------------------------------
 */

static void endpoint(char *url, size_t size)
{
    snprintf(url, size, "%s/prod", test_http_url(server));
}

START_TEST(get_connection_info)
{
    static const char info_text[] =
        "{\"connectedAt\":\"2026-11-24T10:00:00.000Z\",\"identity\":"
        "{\"sourceIp\":\"203.0.113.7\",\"userAgent\":\"wscat/5\"},"
        "\"lastActiveAt\":\"2026-11-24T10:05:00.000Z\"}";
    script.body = info_text;
    char url[128];
    endpoint(url, sizeof(url));
    struct error_info err;
    error_clear(&err);
    cJSON *info = NULL;
    enum result r =
        mgmt_get(fx.app.mgmt, url, CONN, app_fixture_deadline(), &info, &err);
    ck_assert_msg(r == RESULT_OK, "mgmt_get: %s", err.message);
    cJSON *want = cJSON_Parse(info_text);
    ck_assert(cJSON_Compare(info, want, 1));
    cJSON_Delete(want);
    cJSON_Delete(info);
    ck_assert_int_eq(seen_count(), 1);
    expect_signed(&script.seen[0], "GET");
    ck_assert_str_eq(script.seen[0].target, WIRE_PATH);
    ck_assert_uint_eq(script.seen[0].body_len, 0);

    /* Not JSON: a parse error, nothing handed out. */
    script.body = "<html>oops</html>";
    info = NULL;
    r = mgmt_get(fx.app.mgmt, url, CONN, app_fixture_deadline(), &info, &err);
    ck_assert_int_eq(r, RESULT_PARSE);
    ck_assert_ptr_null(info);

    answer(410, 0);
    r = mgmt_get(fx.app.mgmt, url, CONN, app_fixture_deadline(), &info, &err);
    ck_assert_int_eq(r, RESULT_NOT_FOUND);
    ck_assert_ptr_null(info);
}
END_TEST

START_TEST(delete_connection)
{
    answer(204, 410, 0);
    char url[128];
    endpoint(url, sizeof(url));
    struct error_info err;
    error_clear(&err);
    enum result r =
        mgmt_delete(fx.app.mgmt, url, CONN, app_fixture_deadline(), &err);
    ck_assert_msg(r == RESULT_OK, "mgmt_delete: %s", err.message);
    ck_assert_int_eq(err.http_status, 204);
    expect_signed(&script.seen[0], "DELETE");
    ck_assert_str_eq(script.seen[0].target, WIRE_PATH);
    r = mgmt_delete(fx.app.mgmt, url, CONN, app_fixture_deadline(), &err);
    ck_assert_int_eq(r, RESULT_NOT_FOUND);
    ck_assert_int_eq(seen_count(), 2);
}
END_TEST

Suite *push_suite(void)
{
    Suite *s = suite_create("push");
    TCase *tc = tcase_create("management_api");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, push_posts_the_message_signed);
    tcase_add_test(tc, session_token_is_sent_and_signed);
    tcase_add_test(tc, gone_client_is_forgotten);
    tcase_add_test(tc, throttled_then_delivered);
    tcase_add_test(tc, server_errors_until_attempts_run_out);
    tcase_add_test(tc, forbidden_is_final_and_keeps_the_client);
    tcase_add_test(tc, stall_stops_at_the_deadline);
    tcase_add_test(tc, bad_connection_id_sends_nothing);
    tcase_add_test(tc, endpoint_url);
    tcase_add_test(tc, many_endpoints);
    tcase_add_test(tc, get_connection_info);
    tcase_add_test(tc, delete_connection);
    suite_add_tcase(s, tc);
    return s;
}

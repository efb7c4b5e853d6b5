/* An in-memory AWS for fuzz targets: no network, answers by the request. */
#include "fake_aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <cjson/cJSON.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ddb_int.h"
#include "http_int.h"
#include "log.h"
#include "mgmt_int.h"

#define TS "{\"S\":\"2026-11-24T10:00:00.000Z\"}"
#define KEEP "\"version\":{\"N\":\"1\"},\"ttl\":{\"N\":\"1900000000\"}"

static const char conn_item[] =
    "{\"Item\":{\"pk\":{\"S\":\"CONN#c1\"},\"sk\":{\"S\":\"METADATA\"},"
    "\"connection_id\":{\"S\":\"c1\"},\"user_id\":{\"S\":\"u1\"},"
    "\"tenant_id\":{\"S\":\"t1\"},\"endpoint\":{\"S\":"
    "\"https://fake.execute-api.us-east-1.amazonaws.com/prod\"},"
    "\"connected_at\":" TS ",\"last_ping\":" TS ",\"created_at\":" TS
    ",\"updated_at\":" TS ",\"metadata\":{\"M\":{}}," KEEP "}}";

static const char req_item[] =
    "{\"Item\":{\"pk\":{\"S\":\"REQ#r1\"},\"sk\":{\"S\":\"METADATA\"},"
    "\"request_id\":{\"S\":\"r1\"},\"connection_id\":{\"S\":\"c1\"},"
    "\"user_id\":{\"S\":\"u1\"},\"tenant_id\":{\"S\":\"t1\"},"
    "\"action\":{\"S\":\"process_data\"},\"payload\":{\"M\":{\"items\":"
    "{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]}}},\"status\":{\"S\":\"PENDING\"},"
    "\"progress\":{\"N\":\"0\"},\"retry_count\":{\"N\":\"0\"},"
    "\"max_retries\":{\"N\":\"3\"},\"created_at\":" TS ",\"updated_at\":" TS
    "," KEEP "}}";

static struct {
    struct app app;
    int ready;
    EVP_PKEY *key;
    char *pem;
    /* The override of fake_aws_answer(). */
    int status;
    const char *body;
    size_t len;
    const char *type;
} world;

void fake_aws_require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz: invariant broken: %s\n", what);
        abort();
    }
}

int64_t fake_aws_deadline(int64_t ms)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + ms;
}

static const char *header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

static enum result answer(struct http_response *resp, int status,
                          const char *body, size_t len, const char *type)
{
    resp->status = status;
    if (type) {
        char line[512];
        int n = snprintf(line, sizeof(line), "X-Amzn-ErrorType: %s\r\n", type);
        http_response_add_line(resp, line,
                               (size_t)n < sizeof(line) ? (size_t)n
                                                        : sizeof(line) - 1);
    }
    if (buf_append(&resp->body, body, len) != RESULT_OK)
        return RESULT_TOO_LARGE;
    return RESULT_OK;
}

/* DynamoDB by operation (X-Amz-Target) and table. */
static enum result dynamodb(const struct http_request *req, const char *op,
                            struct http_response *resp)
{
    if (world.body)
        return answer(resp, world.status, world.body, world.len, world.type);
    const char *body = "{}";
    if (strcmp(op, "GetItem") == 0) {
        cJSON *r = cJSON_ParseWithLength(req->body, req->body_len);
        const char *table = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(r, "TableName"));
        const struct config *c = &world.app.cfg;
        if (table && strcmp(table, c->connections_table) == 0)
            body = conn_item;
        else if (table && strcmp(table, c->requests_table) == 0)
            body = req_item;
        cJSON_Delete(r);
    } else if (strcmp(op, "Query") == 0 || strcmp(op, "Scan") == 0) {
        body = "{\"Items\":[],\"Count\":0,\"ScannedCount\":0}";
    }
    return answer(resp, 200, body, strlen(body), NULL);
}

static enum result transport(void *ctx, const struct http_request *req,
                             struct http_response *resp, struct error_info *err)
{
    (void)ctx;
    (void)err;
    const char *target = header(req, "X-Amz-Target");
    const char *dot = target ? strchr(target, '.') : NULL;
    if (dot && strncmp(target, "DynamoDB_", 9) == 0)
        return dynamodb(req, dot + 1, resp);
    /* The Management API: POST @connections answers 200. */
    return answer(resp, 200, "", 0, NULL);
}

static const char *setting(const char *name)
{
    static const struct {
        const char *name, *value;
    } fixed[] = {
        {"AWS_REGION", "us-east-1"},
        {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
        {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
        {"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"},
        {"WEBSOCKET_ENDPOINT",
         "https://fake.execute-api.us-east-1.amazonaws.com/prod"},
    };
    if (strcmp(name, "JWT_PUBLIC_KEY") == 0)
        return world.pem;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(fixed[i].name, name) == 0)
            return fixed[i].value;
    return NULL;
}

static void make_key(void)
{
    world.key = EVP_RSA_gen(2048);
    fake_aws_require(world.key != NULL, "RSA key");
    BIO *bio = BIO_new(BIO_s_mem());
    fake_aws_require(bio && PEM_write_bio_PUBKEY(bio, world.key) == 1,
                     "PEM of the JWT key");
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    world.pem = strndup(data, (size_t)n);
    BIO_free(bio);
}

static void no_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    (void)ms;
}

struct app *fake_aws_app(void)
{
    if (world.ready)
        return &world.app;
    FILE *null = fopen("/dev/null", "w");
    fake_aws_require(null != NULL, "/dev/null");
    log_set_stream(null);
    make_key();
    http_set_transport(transport, NULL);
    struct error_info err;
    error_clear(&err);
    if (app_init(&world.app, setting, &err) != RESULT_OK) {
        fprintf(stderr, "fuzz: app_init: %s (%s)\n", err.message, err.field);
        abort();
    }
    struct retry_hooks hooks = {.sleep_ms = no_sleep};
    ddb_set_hooks(world.app.ddb, &hooks);
    ddb_set_retry(world.app.ddb, 0, 0, 1);
    mgmt_set_retry(world.app.mgmt, 0, 0, 1);
    world.ready = 1;
    return &world.app;
}

EVP_PKEY *fake_aws_jwt_key(void)
{
    fake_aws_app();
    return world.key;
}

void fake_aws_answer(int status, const char *body, size_t len, const char *type)
{
    world.status = status;
    world.body = body;
    world.len = len;
    world.type = type;
}

void fake_aws_answer_clear(void)
{
    world.body = NULL;
}

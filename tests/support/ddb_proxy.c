/* A counting, fault-injecting proxy in front of DynamoDB Local. */
#include "ddb_proxy.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "ddb_local.h"
#include "test_http.h"

#define MAX_OPS 32

struct ddb_proxy {
    struct test_http *http;
    pthread_mutex_t lock;
    struct {
        char name[64];
        int count;
    } ops[MAX_OPS];
    int total;
    char fail_op[64];
    char fail_marker[256];
};

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    return buf_append(b, p, size * n) == RESULT_OK ? size * n : 0;
}

/* Counts the request; returns whether the fault applies to it. */
static int count_and_match(struct ddb_proxy *p, const char *op,
                           const char *body)
{
    pthread_mutex_lock(&p->lock);
    p->total++;
    int i = 0;
    while (i < MAX_OPS && p->ops[i].name[0] && strcmp(p->ops[i].name, op))
        i++;
    if (i < MAX_OPS) {
        snprintf(p->ops[i].name, sizeof(p->ops[i].name), "%s", op);
        p->ops[i].count++;
    }
    int fail = p->fail_op[0] && strcmp(p->fail_op, op) == 0 &&
               (!p->fail_marker[0] || strstr(body, p->fail_marker));
    pthread_mutex_unlock(&p->lock);
    return fail;
}

void ddb_proxy_forward(const struct test_http_request *req,
                       struct test_http_reply *reply)
{
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < req->header_count; i++) {
        const char *name = req->headers[i].name;
        if (!strcasecmp(name, "X-Amz-Target") ||
            !strcasecmp(name, "Content-Type") ||
            !strcasecmp(name, "Authorization") ||
            !strcasecmp(name, "X-Amz-Date")) {
            char line[4096];
            snprintf(line, sizeof(line), "%s: %s", name, req->headers[i].value);
            headers = curl_slist_append(headers, line);
        }
    }
    struct buf body;
    buf_init(&body, 64 << 20);
    curl_easy_setopt(h, CURLOPT_URL, ddb_local_endpoint());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    long status = 502;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    reply->status = (int)status;
    snprintf(reply->headers, sizeof(reply->headers),
             "Content-Type: application/x-amz-json-1.0\r\n");
    test_http_reply_body(reply, buf_str(&body));
    buf_cleanup(&body);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
}

static void on_request(void *ctx, const struct test_http_request *req,
                       struct test_http_reply *reply)
{
    struct ddb_proxy *p = ctx;
    const char *target = test_http_header(req, "X-Amz-Target");
    const char *dot = target ? strchr(target, '.') : NULL;
    if (count_and_match(p, dot ? dot + 1 : "", req->body)) {
        ddb_proxy_reply_fault(reply);
        return;
    }
    ddb_proxy_forward(req, reply);
}

struct ddb_proxy *ddb_proxy_start(void)
{
    struct ddb_proxy *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->http = test_http_start(on_request, p);
    if (!p->http) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void ddb_proxy_stop(struct ddb_proxy *p)
{
    if (!p)
        return;
    test_http_stop(p->http);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *ddb_proxy_url(const struct ddb_proxy *p)
{
    return test_http_url(p->http);
}

int ddb_proxy_count(struct ddb_proxy *p, const char *operation)
{
    pthread_mutex_lock(&p->lock);
    int n = operation ? 0 : p->total;
    for (int i = 0; operation && i < MAX_OPS && p->ops[i].name[0]; i++)
        if (strcmp(p->ops[i].name, operation) == 0)
            n = p->ops[i].count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void ddb_proxy_reset(struct ddb_proxy *p)
{
    pthread_mutex_lock(&p->lock);
    memset(p->ops, 0, sizeof(p->ops));
    p->total = 0;
    pthread_mutex_unlock(&p->lock);
}

void ddb_proxy_fail(struct ddb_proxy *p, const char *operation,
                    const char *marker)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->fail_op, sizeof(p->fail_op), "%s", operation ? operation : "");
    snprintf(p->fail_marker, sizeof(p->fail_marker), "%s",
             operation && marker ? marker : "");
    pthread_mutex_unlock(&p->lock);
}

void ddb_proxy_reply_fault(struct test_http_reply *reply)
{
    reply->status = 500;
    snprintf(reply->headers, sizeof(reply->headers),
             "Content-Type: application/x-amz-json-1.0\r\n");
    test_http_reply_body(reply, "{\"__type\":\"com.amazonaws.dynamodb."
                                "v20120810#InternalServerError\","
                                "\"message\":\"injected\"}");
}

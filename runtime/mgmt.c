/* API Gateway's Management API: post to, get and delete connections. */
#include "mgmt.h"
#include "mgmt_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_env.h"
#include "buf.h"
#include "xmalloc.h"

#define MAX_CONNECTION_ID_BYTES 128
#define MAX_ANSWER_BYTES (64 * 1024)

struct endpoint {
    char *origin;    /* scheme://host[:port] */
    char *base_path; /* "/stage" or "" */
    struct aws_client *aws;
};

struct mgmt {
    char *region;
    struct aws_env_credentials creds; /* wiped on free */
    struct endpoint endpoints[MGMT_MAX_ENDPOINTS];
    size_t count;
    long retry_base_ms, retry_cap_ms;
    int retry_attempts;
};

struct mgmt *mgmt_new(const char *region, const struct sigv4_credentials *creds)
{
    struct mgmt *m = xcalloc(1, sizeof(*m));
    m->region = xstrdup(region ? region : "");
    aws_env_credentials_copy(&m->creds, creds);
    return m;
}

static void endpoint_free(struct endpoint *e)
{
    free(e->origin);
    free(e->base_path);
    aws_client_free(e->aws);
    memset(e, 0, sizeof(*e));
}

void mgmt_free(struct mgmt *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        endpoint_free(&m->endpoints[i]);
    free(m->region);
    aws_env_credentials_cleanup(&m->creds);
    free(m);
}

void mgmt_set_retry(struct mgmt *m, long base_ms, long cap_ms, int max_attempts)
{
    m->retry_base_ms = base_ms;
    m->retry_cap_ms = cap_ms;
    m->retry_attempts = max_attempts;
    for (size_t i = 0; i < m->count; i++)
        aws_client_set_retry(m->endpoints[i].aws, base_ms, cap_ms,
                             max_attempts);
}

enum result mgmt_endpoint(const char *override, const char *domain,
                          const char *stage, char *out, size_t size,
                          struct error_info *err)
{
    int n;
    if (override && *override)
        n = snprintf(out, size, "%s", override);
    else if (domain && *domain && stage && *stage)
        n = snprintf(out, size, "https://%s/%s", domain, stage);
    else
        return error_field(err, "endpoint",
                           "no WEBSOCKET_ENDPOINT and no domain and stage");
    if (n < 0 || (size_t)n >= size)
        return error_field(err, "endpoint", "the endpoint URL is too long");
    return RESULT_OK;
}

enum result mgmt_path(const char *base_path, const char *connection_id,
                      char *out, size_t size, struct error_info *err)
{
    if (!connection_id || !*connection_id ||
        strlen(connection_id) > MAX_CONNECTION_ID_BYTES)
        return error_field(err, "connection_id",
                           "connection_id must be 1-%d bytes",
                           MAX_CONNECTION_ID_BYTES);
    struct buf b;
    buf_init(&b, size - 1);
    enum result r = buf_appendf(&b, "%s/%%40connections/", base_path);
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)connection_id;
         r == RESULT_OK && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
            *p == '~') {
            r = buf_append(&b, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            r = buf_append(&b, esc, 3);
        }
    }
    if (r == RESULT_OK)
        memcpy(out, buf_str(&b), b.len + 1);
    buf_cleanup(&b);
    return r == RESULT_OK ? r
                          : error_field(err, "connection_id",
                                        "the connection path is too long");
}

/* The cached client for `url`, created on first use. */
static enum result endpoint_for(struct mgmt *m, const char *url,
                                struct endpoint **out, struct error_info *err)
{
    struct aws_env_endpoint parsed;
    enum result r = aws_env_endpoint_parse(url, &parsed, err);
    if (r != RESULT_OK)
        return r;
    char origin[300];
    snprintf(origin, sizeof(origin), "%s://%s", parsed.scheme,
             parsed.host_header);
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->endpoints[i].origin, origin) == 0 &&
            strcmp(m->endpoints[i].base_path, parsed.base_path) == 0) {
            *out = &m->endpoints[i];
            return RESULT_OK;
        }
    struct sigv4_credentials creds;
    aws_env_credentials_view(&m->creds, &creds);
    struct aws_client_config cfg = {.endpoint_url = origin,
                                    .region = m->region,
                                    .service = "execute-api",
                                    .target_prefix = "ManageConnections",
                                    .content_type = "application/json",
                                    .credentials = &creds};
    struct aws_client *aws = NULL;
    r = aws_client_new(&cfg, &aws, err);
    if (r != RESULT_OK)
        return r;
    if (m->retry_attempts || m->retry_base_ms)
        aws_client_set_retry(aws, m->retry_base_ms, m->retry_cap_ms,
                             m->retry_attempts);
    if (m->count == MGMT_MAX_ENDPOINTS) {
        endpoint_free(&m->endpoints[0]);
        memmove(&m->endpoints[0], &m->endpoints[1],
                (MGMT_MAX_ENDPOINTS - 1) * sizeof(m->endpoints[0]));
        m->count--;
    }
    struct endpoint *e = &m->endpoints[m->count++];
    e->origin = xstrdup(origin);
    e->base_path = xstrdup(parsed.base_path);
    e->aws = aws;
    *out = e;
    return RESULT_OK;
}

/*
 * One call; 410 Gone becomes RESULT_NOT_FOUND. `err` is cleared first: a
 * status left in it by an earlier call must not turn a bad URL or id into
 * "gone" (a caller would then delete a live connection).
 */
static enum result call(struct mgmt *m, const char *method,
                        const char *endpoint, const char *connection_id,
                        const char *body, size_t len, int64_t deadline_ms,
                        struct buf *out, struct error_info *err)
{
    struct endpoint *e = NULL;
    char path[1024];
    error_clear(err);
    enum result r = endpoint_for(m, endpoint, &e, err);
    if (r == RESULT_OK)
        r = mgmt_path(e->base_path, connection_id, path, sizeof(path), err);
    if (r == RESULT_OK)
        r = aws_rest_call(e->aws, method, path, body, len, deadline_ms, out,
                          err);
    if (r != RESULT_OK && err && err->http_status == 410)
        return error_set(err, RESULT_NOT_FOUND, "GoneException",
                         "connection %s is gone", connection_id);
    return r;
}

enum result mgmt_post(struct mgmt *m, const char *endpoint,
                      const char *connection_id, const char *data, size_t len,
                      int64_t deadline_ms, struct error_info *err)
{
    struct buf out;
    buf_init(&out, MAX_ANSWER_BYTES);
    enum result r = call(m, "POST", endpoint, connection_id, data ? data : "",
                         data ? len : 0, deadline_ms, &out, err);
    buf_cleanup(&out);
    return r;
}

enum result mgmt_get(struct mgmt *m, const char *endpoint,
                     const char *connection_id, int64_t deadline_ms,
                     cJSON **info, struct error_info *err)
{
    struct buf out;
    buf_init(&out, MAX_ANSWER_BYTES);
    enum result r = call(m, "GET", endpoint, connection_id, NULL, 0,
                         deadline_ms, &out, err);
    if (r == RESULT_OK) {
        cJSON *o = cJSON_ParseWithLength(buf_str(&out), out.len);
        if (cJSON_IsObject(o))
            *info = o;
        else {
            cJSON_Delete(o);
            r = error_set(err, RESULT_PARSE, "MalformedAnswer",
                          "GET @connections answered something not JSON");
        }
    }
    buf_cleanup(&out);
    return r;
}

enum result mgmt_delete(struct mgmt *m, const char *endpoint,
                        const char *connection_id, int64_t deadline_ms,
                        struct error_info *err)
{
    struct buf out;
    buf_init(&out, MAX_ANSWER_BYTES);
    enum result r = call(m, "DELETE", endpoint, connection_id, NULL, 0,
                         deadline_ms, &out, err);
    buf_cleanup(&out);
    return r;
}

/* One signed, retried request function for AWS JSON-protocol services. */
#include "aws.h"
#include "aws_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_env.h"
#include "aws_error.h"
#include "crc32.h"
#include "http.h"
#include "text.h"
#include "xmalloc.h"

#define MAX_NAME_BYTES 64

struct aws_client {
    struct http_client *http;
    struct sigv4_signer signer;
    char *url;  /* "scheme://authority/" */
    char *host; /* the Host header value, signed */
    char *region;
    char *service;
    char *target_prefix;
    char *content_type;
    struct aws_env_credentials creds; /* wiped on free */
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body_bytes;
    struct retry_policy policy;
    int last_attempts;
};

/*
 * Splits an endpoint into the URL to send to and the Host header value,
 * through the one URL parser (aws_env_endpoint_parse()). The path must be
 * empty or "/": every JSON-protocol operation is POST /. SigV4 signs the
 * Host header as sent, so the default port is dropped from it exactly as
 * an HTTP client would. Messages do not echo the URL, which may hold user
 * info.
 */
static enum result parse_endpoint(const char *endpoint, char **url, char **host,
                                  struct error_info *err)
{
    struct aws_env_endpoint e;
    struct error_info why;
    error_clear(&why);
    if (aws_env_endpoint_parse(endpoint, &e, &why) != RESULT_OK)
        return error_set(err, RESULT_CONFIG, "InvalidEndpoint", "%s",
                         why.message);
    if (e.base_path[0])
        return error_set(err, RESULT_CONFIG, "InvalidEndpoint",
                         "the endpoint URL is not scheme://host[:port][/]");
    size_t url_len = strlen(e.url) + 2;
    *url = xmalloc(url_len);
    snprintf(*url, url_len, "%s/", e.url);
    char *h = xstrdup(e.host_header);
    for (char *p = h; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    *host = h;
    return RESULT_OK;
}

static int valid_name(const char *s)
{
    return s && *s && strlen(s) <= MAX_NAME_BYTES;
}

static enum result check_credentials(const struct sigv4_credentials *creds,
                                     struct error_info *err)
{
    if (!creds || !creds->access_key_id || !*creds->access_key_id ||
        !creds->secret_access_key || !*creds->secret_access_key)
        return error_set(err, RESULT_CONFIG, "MissingCredentials",
                         "an access key id and secret access key are needed");
    return RESULT_OK;
}

enum result aws_client_new(const struct aws_client_config *cfg,
                           struct aws_client **out, struct error_info *err)
{
    enum result r = RESULT_OK;
    char *url = NULL, *host = NULL;
    struct aws_client *c = NULL;

    if (!cfg->endpoint_url || !*cfg->endpoint_url) {
        r = error_set(err, RESULT_CONFIG, "InvalidEndpoint", "no endpoint URL");
        goto done;
    }
    if (!valid_name(cfg->region) || !valid_name(cfg->service) ||
        !valid_name(cfg->target_prefix)) {
        r = error_set(err, RESULT_CONFIG, "InvalidConfig",
                      "region, service and target prefix must be 1-%d bytes",
                      MAX_NAME_BYTES);
        goto done;
    }
    r = check_credentials(cfg->credentials, err);
    if (r != RESULT_OK)
        goto done;
    r = parse_endpoint(cfg->endpoint_url, &url, &host, err);
    if (r != RESULT_OK)
        goto done;

    c = xcalloc(1, sizeof(*c));
    sigv4_signer_init(&c->signer);
    retry_policy_init(&c->policy);
    c->url = url;
    c->host = host;
    url = host = NULL;
    c->region = xstrdup(cfg->region);
    c->service = xstrdup(cfg->service);
    c->target_prefix = xstrdup(cfg->target_prefix);
    c->content_type = xstrdup(cfg->content_type && *cfg->content_type
                                  ? cfg->content_type
                                  : AWS_JSON_CONTENT_TYPE);
    r = aws_client_set_credentials(c, cfg->credentials, err);
    if (r != RESULT_OK)
        goto done;
    c->timeout_ms =
        cfg->timeout_ms > 0 ? cfg->timeout_ms : AWS_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0
                                ? cfg->connect_timeout_ms
                                : HTTP_CONNECT_TIMEOUT_MS;
    c->max_body_bytes =
        cfg->max_body_bytes ? cfg->max_body_bytes : AWS_MAX_BODY_BYTES;
    c->http = http_client_new();
    *out = c;
    c = NULL;

done:
    aws_client_free(c);
    free(url);
    free(host);
    return r;
}

void aws_client_free(struct aws_client *c)
{
    if (!c)
        return;
    http_client_free(c->http);
    sigv4_signer_cleanup(&c->signer);
    free(c->url);
    free(c->host);
    free(c->region);
    free(c->service);
    free(c->target_prefix);
    free(c->content_type);
    aws_env_credentials_cleanup(&c->creds);
    free(c);
}

enum result aws_client_set_credentials(struct aws_client *c,
                                       const struct sigv4_credentials *creds,
                                       struct error_info *err)
{
    enum result r = check_credentials(creds, err);
    if (r != RESULT_OK)
        return r;
    aws_env_credentials_cleanup(&c->creds);
    aws_env_credentials_copy(&c->creds, creds);
    return RESULT_OK;
}

void aws_client_set_retry(struct aws_client *c, long base_ms, long cap_ms,
                          int max_attempts)
{
    retry_policy_set(&c->policy, base_ms, cap_ms, max_attempts);
}

void aws_client_set_deadline_margin(struct aws_client *c, long margin_ms)
{
    c->policy.margin_ms = margin_ms > 0 ? margin_ms : 0;
}

void aws_client_set_hooks(struct aws_client *c, const struct retry_hooks *hooks)
{
    if (hooks)
        c->policy.hooks = *hooks;
    else
        memset(&c->policy.hooks, 0, sizeof(c->policy.hooks));
}

int aws_client_last_attempts(const struct aws_client *c)
{
    return c->last_attempts;
}

/* DynamoDB operation names are CamelCase words: letters and digits. */
static int valid_operation(const char *op)
{
    size_t n = op ? strlen(op) : 0;
    if (n == 0 || n > AWS_MAX_OPERATION_BYTES)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)op[i]))
            return 0;
    return 1;
}

/*
 * DynamoDB Developer Guide, "DynamoDB low-level API" (its example response
 * carries x-amz-crc32), as the AWS SDKs check it: the header is the CRC-32
 * of the body bytes as sent, in decimal (of the gzipped bytes when the
 * body is gzipped; we never ask for gzip). A mismatch, or a value we
 * cannot read, means the bytes were damaged on the way: a transport
 * fault, worth another attempt, as the SDKs treat it.
 */
static enum result check_crc32(const struct http_response *resp,
                               struct error_info *e)
{
    const char *v = http_response_header(resp, "x-amz-crc32");
    if (!v)
        return RESULT_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long want = strtoull(v, &end, 10);
    uint32_t got = crc32_compute(resp->body.data, resp->body.len);
    if (errno || end == v || *end || *v == '-' || want > 0xFFFFFFFFULL ||
        (uint32_t)want != got)
        return error_set(e, RESULT_TRANSPORT, "CRC32Mismatch",
                         "x-amz-crc32 '%s' does not match the body's %lu", v,
                         (unsigned long)got);
    return RESULT_OK;
}

/* One request as the retry loop sends it; every pointer borrowed. */
struct call {
    const char *method;
    const char *path;         /* wire path, starting with '/' */
    const char *target;       /* X-Amz-Target, or NULL (REST calls) */
    const char *content_type; /* or NULL when there is no body */
    const char *body;
    size_t body_len;
    const char *what; /* for messages: the target or "METHOD path" */
};

/*
 * Signs and sends one attempt and classifies its answer. RESULT_OK only
 * for a 2xx whose checksum holds; `e` is filled on every failure.
 */
static enum result attempt(struct aws_client *c, const struct call *k,
                           long timeout_ms, struct http_response *resp,
                           struct error_info *e)
{
    struct sigv4_credentials creds;
    aws_env_credentials_view(&c->creds, &creds);
    struct sigv4_params params = {
        .region = c->region,
        .service = c->service,
        .now = (time_t)(retry_now_ms(&c->policy) / 1000),
        .double_encode_path = 1,
        .normalize_path = 1,
    };
    /* The signed headers, besides x-amz-date and x-amz-security-token,
     * which sigv4_sign() adds itself. */
    struct sigv4_header signed_headers[3] = {{"host", c->host}};
    size_t n_signed = 1;
    if (k->content_type)
        signed_headers[n_signed++] =
            (struct sigv4_header){"content-type", k->content_type};
    if (k->target)
        signed_headers[n_signed++] =
            (struct sigv4_header){"x-amz-target", k->target};
    struct sigv4_request sreq = {k->method, k->path, NULL,       signed_headers,
                                 n_signed,  k->body, k->body_len};
    struct sigv4_output sig;
    enum result r = sigv4_sign(&c->signer, &creds, &params, &sreq, &sig);
    if (r != RESULT_OK)
        return error_set(e, r, "SigningFailed", "could not sign %s", k->what);

    struct http_header headers[6];
    size_t nh = 0;
    headers[nh++] = (struct http_header){"Host", c->host};
    headers[nh++] = (struct http_header){"X-Amz-Date", sig.amz_date};
    headers[nh++] = (struct http_header){"Authorization", sig.authorization};
    if (k->content_type)
        headers[nh++] = (struct http_header){"Content-Type", k->content_type};
    if (k->target)
        headers[nh++] = (struct http_header){"X-Amz-Target", k->target};
    if (c->creds.session_token)
        headers[nh++] = (struct http_header){"X-Amz-Security-Token",
                                             c->creds.session_token};
    struct buf url;
    buf_init(&url, 16 * 1024);
    /* c->url ends with '/', and every path starts with one. */
    r = buf_append(&url, c->url, strlen(c->url) - 1);
    if (r == RESULT_OK)
        r = buf_appends(&url, k->path);
    if (r != RESULT_OK) {
        buf_cleanup(&url);
        return error_set(e, RESULT_INVALID_INPUT, "InvalidPath",
                         "the request path is too long");
    }
    struct http_request req = {
        .method = k->method,
        .url = buf_str(&url),
        .headers = headers,
        .header_count = nh,
        .body = k->body,
        .body_len = k->body_len,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = c->connect_timeout_ms < timeout_ms
                                  ? c->connect_timeout_ms
                                  : timeout_ms,
    };
    r = http_perform(c->http, &req, resp, e);
    buf_cleanup(&url);
    if (r != RESULT_OK) {
        if (!e->type[0])
            snprintf(e->type, sizeof(e->type), "%s",
                     r == RESULT_TIMEOUT ? "Timeout" : "TransportError");
        return r;
    }
    e->http_status = (int)resp->status;
    r = check_crc32(resp, e);
    if (r != RESULT_OK)
        return r;
    if (resp->status >= 200 && resp->status <= 299)
        return RESULT_OK;
    return aws_error_parse((int)resp->status, resp->body.data, resp->body.len,
                           http_response_header(resp, "x-amzn-errortype"), e);
}

/*
 * The time the next attempt may take: the client's timeout, cut to what
 * is left before deadline - margin. Returns <= 0 when nothing is left.
 */
static long attempt_timeout(const struct aws_client *c, int64_t deadline_ms)
{
    if (deadline_ms <= 0)
        return c->timeout_ms;
    int64_t left = deadline_ms - c->policy.margin_ms - retry_now_ms(&c->policy);
    if (left <= 0)
        return 0;
    return left < c->timeout_ms ? (long)left : c->timeout_ms;
}

/* Adds how the retries ended to a final error's message, when it fits. */
static void note_attempts(struct error_info *e, int attempts,
                          enum retry_decision d)
{
    if (attempts < 2 && d != RETRY_DEADLINE)
        return;
    size_t n = strlen(e->message);
    snprintf(e->message + n, sizeof(e->message) - n, " (%d attempt%s, %s)",
             attempts, attempts == 1 ? "" : "s", retry_decision_str(d));
}

/*
 * The retry loop around attempt(): retryable failures are tried again
 * with full-jitter backoff, never past deadline_ms minus the margin.
 */
static enum result run(struct aws_client *c, const struct call *k,
                       int64_t deadline_ms, struct buf *out,
                       struct error_info *e)
{
    enum result r = RESULT_OK;
    struct http_response resp;
    http_response_init(&resp, c->max_body_bytes);
    for (;;) {
        long timeout_ms = attempt_timeout(c, deadline_ms);
        if (timeout_ms <= 0) {
            if (c->last_attempts == 0)
                r = error_set(e, RESULT_TIMEOUT, "DeadlineExceeded",
                              "no time left before the deadline for %s",
                              k->what);
            else
                note_attempts(e, c->last_attempts, RETRY_DEADLINE);
            goto done;
        }
        error_clear(e);
        c->last_attempts++;
        r = attempt(c, k, timeout_ms, &resp, e);
        if (r == RESULT_OK)
            break;
        long delay_ms = 0;
        enum retry_decision d =
            retry_decide(&c->policy, c->last_attempts,
                         retry_is_retryable(r, e->http_status, e->type),
                         deadline_ms, &delay_ms);
        if (d != RETRY_AGAIN) {
            if (d != RETRY_NOT_RETRYABLE)
                note_attempts(e, c->last_attempts, d);
            /* A service's final answer: its body, for members beyond
             * type and message (DynamoDB's "Item" on a failed
             * condition). */
            buf_reset(out);
            if (d == RETRY_NOT_RETRYABLE && e->http_status &&
                buf_append(out, resp.body.data, resp.body.len) != RESULT_OK)
                buf_reset(out);
            goto done;
        }
        retry_sleep(&c->policy, delay_ms);
    }
    e->http_status = (int)resp.status;
    buf_reset(out);
    r = buf_move(out, &resp.body);
    if (r != RESULT_OK)
        r = error_set(e, r, "ResponseTooLarge",
                      "%s answered %zu bytes, over the caller's cap", k->what,
                      resp.body.len);

done:
    http_response_cleanup(&resp);
    return r;
}

enum result aws_call(struct aws_client *c, const char *operation,
                     const char *body, size_t body_len, int64_t deadline_ms,
                     struct buf *out, struct error_info *err)
{
    enum result r;
    struct error_info e;
    char target[MAX_NAME_BYTES + AWS_MAX_OPERATION_BYTES + 2];

    error_clear(&e);
    error_clear(err);
    c->last_attempts = 0;
    if (!valid_operation(operation)) {
        r = error_field(&e, "operation",
                        "operation must be 1-%d letters "
                        "and digits",
                        AWS_MAX_OPERATION_BYTES);
    } else {
        text_join(target, sizeof(target), c->target_prefix, ".", operation,
                  (char *)NULL);
        if (!body || !body_len) {
            body = "{}";
            body_len = 2;
        }
        struct call k = {"POST", "/",      target, c->content_type,
                         body,   body_len, target};
        r = run(c, &k, deadline_ms, out, &e);
    }
    if (err && r != RESULT_OK)
        *err = e;
    return r;
}

/* A path we send as is: printable ASCII, starting with '/'. */
static int valid_path(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) > 8192)
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
            *p == '?' || *p == '#')
            return 0;
    return 1;
}

enum result aws_rest_call(struct aws_client *c, const char *method,
                          const char *path, const char *body, size_t body_len,
                          int64_t deadline_ms, struct buf *out,
                          struct error_info *err)
{
    enum result r;
    struct error_info e;
    char what[96];

    error_clear(&e);
    error_clear(err);
    c->last_attempts = 0;
    if (!valid_path(path) || !method || !*method || strlen(method) > 16) {
        r = error_field(&e, "path", "the request path is not valid");
    } else {
        snprintf(what, sizeof(what), "%s %.64s", method, path);
        struct call k = {method, path,
                         NULL,   body ? c->content_type : NULL,
                         body,   body ? body_len : 0,
                         what};
        r = run(c, &k, deadline_ms, out, &e);
    }
    if (err)
        *err = e;
    return r;
}

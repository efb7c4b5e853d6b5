/* HTTP/1.1 clients for AWS endpoints: kept-alive connections, TLS. */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "aws_env.h"
#include "http1.h"
#include "http_int.h"
#include "openssl_setup.h"
#include "xmalloc.h"

/*
 * The origins a client keeps a connection to at once: a function talks
 * to DynamoDB and to its API Gateway management endpoint, both kept
 * alive; a third origin closes the least recently used one.
 */
#define HTTP_ORIGINS 4

struct origin {
    char *key; /* "https://host:port"; NULL when the slot is free */
    struct http1_client *conn;
    unsigned long used; /* the client's tick at its last request */
};

struct http_client {
    struct origin origins[HTTP_ORIGINS];
    unsigned long tick;
    struct http1_response resp; /* the answer being read (its head) */
    SSL_CTX *tls;               /* made at the first https:// request */
    /* TLS trust, chosen once (trust_paths); NULL = not set. */
    char *ca_file;
    char *ca_path;
};

/* Hashed CA folders, first found wins: Amazon Linux 2023's (what
 * provided.al2023 has, from ca-certificates' update-ca-trust), then
 * Debian's. */
static const char *const ca_dirs[] = {
    "/etc/pki/ca-trust/extracted/pem/directory-hash",
    "/etc/ssl/certs",
};

/* The test and fuzz transport (http_int.h); NULL: the network. */
static http_transport_fn transport;
static void *transport_ctx;

void http_set_transport(http_transport_fn fn, void *ctx)
{
    transport = fn;
    transport_ctx = ctx;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/*
 * Where TLS peers' CA certificates are looked up. A hashed folder
 * (OpenSSL's X509_LOOKUP_hash_dir) is read lazily, one certificate per
 * issuer asked for, about 3 ms on the first connection; a full bundle
 * file is parsed whole, about 47 ms with OpenSSL 3.0 (docs/budgets.md),
 * once per SSL_CTX (one per http_client and one per fanout: once a
 * process). So no bundle file is used unless one is asked for:
 * AWS_CA_BUNDLE (the AWS SDKs' setting) or SSL_CERT_FILE name a file,
 * SSL_CERT_DIR a folder (OpenSSL's own variables); any of them replaces
 * the default folder. `*ca_file` and `*ca_path` get the file and the
 * folder, NULL where unused; the caller frees both.
 */
static void trust_paths(char **ca_file, char **ca_path)
{
    const char *file = env_nonempty("AWS_CA_BUNDLE");
    if (!file)
        file = env_nonempty("SSL_CERT_FILE");
    const char *dir = env_nonempty("SSL_CERT_DIR");
    if (!file && !dir)
        for (size_t i = 0; i < sizeof(ca_dirs) / sizeof(ca_dirs[0]); i++)
            if (access(ca_dirs[i], R_OK | X_OK) == 0) {
                dir = ca_dirs[i];
                break;
            }
    *ca_file = file ? xstrdup(file) : NULL;
    *ca_path = dir ? xstrdup(dir) : NULL;
}

void http_response_init(struct http_response *r, size_t max_body_bytes)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, max_body_bytes);
}

static void clear_headers(struct http_response *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->header_count = 0;
}

void http_response_cleanup(struct http_response *r)
{
    clear_headers(r);
    buf_cleanup(&r->body);
    r->status = 0;
}

const char *http_response_header(const struct http_response *r,
                                 const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

struct http_client *http_client_new(void)
{
    struct http_client *c = xcalloc(1, sizeof(*c));
    http1_response_init(&c->resp, 0);
    trust_paths(&c->ca_file, &c->ca_path);
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < HTTP_ORIGINS; i++) {
        http1_client_free(c->origins[i].conn);
        free(c->origins[i].key);
    }
    http1_response_cleanup(&c->resp);
    SSL_CTX_free(c->tls);
    free(c->ca_file);
    free(c->ca_path);
    free(c);
}

/* Keeps one answer field: its name lower-cased, both copied. */
static void add_header(struct http_response *r, const char *name,
                       size_t name_len, const char *value, size_t value_len)
{
    char *n = xstrndup(name, name_len);
    for (char *q = n; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    r->headers[r->header_count].name = n;
    r->headers[r->header_count].value = xstrndup(value, value_len);
    r->header_count++;
}

void http_response_add_line(struct http_response *r, const char *p, size_t len)
{
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        clear_headers(r);
        return;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon || r->header_count >= HTTP_MAX_HEADERS)
        return;
    size_t name_len = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t v_len = len - name_len - 1;
    while (v_len && (*v == ' ' || *v == '\t'))
        v++, v_len--;
    while (v_len && isspace((unsigned char)v[v_len - 1]))
        v_len--;
    add_header(r, p, name_len, v, v_len);
}

int http_header_name_valid(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!http1_token_char((unsigned char)*p))
            return 0;
    return 1;
}

/* A byte a field value may hold: HTAB, SP, VCHAR and obs-text (RFC 9110
 * §5.5), so every control character but HTAB is out, and DEL. */
static int value_byte_ok(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int http_header_value_valid(const char *value)
{
    if (!value)
        return 0;
    for (const char *p = value; *p; p++)
        if (!value_byte_ok((unsigned char)*p))
            return 0;
    return 1;
}

void http_header_value_clean(const char *value, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = value ? value : ""; *p && n + 1 < size; p++)
        out[n++] = value_byte_ok((unsigned char)*p) ? *p : ' ';
    out[n] = '\0';
}

/* Refuses the request before anything is sent when a header would break
 * the message (CR/LF injection) or is not a header at all. */
static enum result check_headers(const struct http_request *req,
                                 struct error_info *err)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_header_name_valid(h->name))
            return error_set(err, RESULT_INVALID_INPUT, "HttpHeader",
                             "header name '%.64s' is not a token",
                             h->name ? h->name : "(null)");
        if (!http_header_value_valid(h->value))
            return error_set(err, RESULT_INVALID_INPUT, "HttpHeader",
                             "header %.64s: the value holds CR, LF or "
                             "another control character",
                             h->name);
    }
    return RESULT_OK;
}

/*
 * The TLS settings every AWS connection shares: TLS 1.2 or newer (AWS
 * endpoints require 1.2 since 2023: "TLS 1.2 to become the minimum TLS
 * protocol level for all AWS API endpoints", AWS Security Blog), the
 * peer verified against the trust store in `ca_file` and/or `ca_path`
 * (trust_paths()). NULL, `err` set, when OpenSSL cannot make it.
 */
static SSL_CTX *tls_new(const char *ca_file, const char *ca_path,
                        struct error_info *err)
{
    openssl_setup_ssl();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        const char *why = openssl_error_text("out of memory");
        SSL_CTX_free(ctx);
        error_set(err, RESULT_TRANSPORT, "HttpTransport",
                  "cannot set up TLS: %s", why);
        return NULL;
    }
    /* runtime/http1.c verifies the peer, and resumes a dropped
     * connection's session, for each connection. With no trust store
     * named or found, OpenSSL's built-in default. */
    if ((ca_file || ca_path)
            ? !SSL_CTX_load_verify_locations(ctx, ca_file, ca_path)
            : !SSL_CTX_set_default_verify_paths(ctx)) {
        error_set(err, RESULT_TRANSPORT, "HttpTransport",
                  "cannot read the CA certificates in %s",
                  ca_file   ? ca_file
                  : ca_path ? ca_path
                            : "OpenSSL's default places");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The client's TLS context, made at its first https:// request. */
static SSL_CTX *tls_context(struct http_client *c, struct error_info *err)
{
    if (!c->tls)
        c->tls = tls_new(c->ca_file, c->ca_path, err);
    return c->tls;
}

struct ssl_ctx_st *http_tls_context_new(struct error_info *err)
{
    char *ca_file = NULL, *ca_path = NULL;
    trust_paths(&ca_file, &ca_path);
    SSL_CTX *ctx = tls_new(ca_file, ca_path, err);
    free(ca_file);
    free(ca_path);
    return ctx;
}

/*
 * The kept-alive connection to the origin of `url` ("scheme://authority",
 * its first `origin_len` bytes), made when there is none (the least
 * recently used one goes when every slot is taken). A known origin is
 * found by its text; a new one is read by the one endpoint URL parser
 * (aws_env_endpoint_parse). NULL, `err` set, when the URL is not usable
 * (RESULT_INVALID_INPUT in `*r`) or TLS cannot be set up.
 */
static struct http1_client *origin_conn(struct http_client *c, const char *url,
                                        size_t origin_len, enum result *r,
                                        struct error_info *err)
{
    struct origin *slot = &c->origins[0];
    for (size_t i = 0; i < HTTP_ORIGINS; i++) {
        struct origin *o = &c->origins[i];
        if (o->key && strncmp(o->key, url, origin_len) == 0 &&
            o->key[origin_len] == '\0') {
            o->used = ++c->tick;
            return o->conn;
        }
        if (!o->key || (slot->key && o->used < slot->used))
            slot = o;
    }
    char text[512];
    struct aws_env_endpoint e;
    struct error_info why;
    error_clear(&why);
    *r = RESULT_INVALID_INPUT;
    if (origin_len >= sizeof(text)) {
        error_set(err, *r, "HttpInvalidRequest", "the URL's host is too long");
        return NULL;
    }
    memcpy(text, url, origin_len);
    text[origin_len] = '\0';
    if (aws_env_endpoint_parse(text, &e, &why) != RESULT_OK) {
        error_set(err, *r, "HttpInvalidRequest", "%.64s: %s", url, why.message);
        return NULL;
    }
    int tls = strcmp(e.scheme, "https") == 0;
    SSL_CTX *ctx = tls ? tls_context(c, err) : NULL;
    *r = RESULT_TRANSPORT;
    if (tls && !ctx)
        return NULL;
    http1_client_free(slot->conn);
    free(slot->key);
    slot->key = xstrdup(text);
    slot->conn = http1_client_new(e.host, e.port, HTTP_CONNECT_TIMEOUT_MS);
    http1_client_use_tls(slot->conn, ctx);
    slot->used = ++c->tick;
    return slot->conn;
}

/* Copies the answer's fields, names lower-cased, into `resp`. */
static void take_headers(const struct http1_response *from,
                         struct http_response *resp)
{
    for (size_t i = 0; i < from->header_count && i < HTTP_MAX_HEADERS; i++)
        add_header(resp, from->headers[i].name, strlen(from->headers[i].name),
                   from->headers[i].value, strlen(from->headers[i].value));
}

enum result http_perform(struct http_client *c, const struct http_request *req,
                         struct http_response *resp, struct error_info *err)
{
    clear_headers(resp);
    buf_reset(&resp->body);
    resp->status = 0;
    enum result r = check_headers(req, err);
    if (r != RESULT_OK)
        return r;
    if (req->header_count > HTTP_MAX_HEADERS)
        return error_set(err, RESULT_INVALID_INPUT, "HttpHeader",
                         "more than %d headers", HTTP_MAX_HEADERS);
    if (transport)
        return transport(transport_ctx, req, resp, err);

    /* "scheme://authority", then the origin-form target: a URL without
     * a path asks for "/"; a fragment is never sent (RFC 9112 §3.2.1). */
    const char *auth = strstr(req->url, "://");
    if (!auth)
        return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                         "not an http:// or https:// URL: %.64s", req->url);
    auth += 3;
    const char *rest = auth + strcspn(auth, "/?#");
    struct http1_client *conn =
        origin_conn(c, req->url, (size_t)(rest - req->url), &r, err);
    if (!conn)
        return r;
    size_t path_len = strcspn(rest, "#");
    struct buf path;
    buf_init(&path, 64 * 1024);
    if (*rest != '/' || rest[path_len]) {
        r = *rest == '/' ? RESULT_OK : buf_append(&path, "/", 1);
        if (r == RESULT_OK)
            r = buf_append(&path, rest, path_len);
        if (r != RESULT_OK) {
            buf_cleanup(&path);
            return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                             "the URL is too long");
        }
    }
    struct http1_header headers[HTTP_MAX_HEADERS];
    for (size_t i = 0; i < req->header_count; i++)
        headers[i] =
            (struct http1_header){req->headers[i].name, req->headers[i].value};
    struct http1_request h1 = {
        .method = req->method,
        .path = path.data ? buf_str(&path) : rest, /* as it is, mostly */
        .headers = headers,
        .header_count = req->header_count,
        .body = req->body,
        .body_len = req->body_len,
        .timeout_ms = req->timeout_ms,
        .connect_timeout_ms = req->connect_timeout_ms, /* 0: the default */
        .headers_checked = 1, /* check_headers() above */
    };
    /* The answer's body is read straight into the caller's buffer, with
     * the caller's cap. */
    c->resp.body = resp->body;
    r = http1_perform(conn, &h1, &c->resp, err);
    resp->body = c->resp.body;
    buf_init(&c->resp.body, 0);
    buf_cleanup(&path);
    if (r == RESULT_OK) {
        resp->status = c->resp.status;
        take_headers(&c->resp, resp);
    } else if (err) { /* the message names the request */
        char msg[sizeof(err->message)];
        snprintf(msg, sizeof(msg), "%s", err->message);
        snprintf(err->message, sizeof(err->message), "%s %.200s: %.280s",
                 req->method, req->url, msg);
    }
    return r;
}

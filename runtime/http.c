/* HTTP/1.1 over one reused libcurl handle (keep-alive). */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_int.h"
#include "xmalloc.h"

struct http_client {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    /* TLS trust, chosen once (http_trust_paths); NULL = not set. */
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

/* The test and fuzz transport (http_int.h); NULL: libcurl. */
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
 * file is parsed whole on every new connection's SSL_CTX, about 47 ms
 * with OpenSSL 3.0 (docs/budgets.md). So no bundle file is used unless one
 * is asked for: AWS_CA_BUNDLE (the AWS SDKs' setting) or SSL_CERT_FILE
 * name a file, SSL_CERT_DIR a folder (OpenSSL's own variables); any of
 * them replaces the default folder. The packaged libcurl is built without
 * a default bundle or path (deploy/build-curl), Debian's has both, so
 * both options are always set, NULL where unused.
 */
void http_trust_paths(char **ca_file, char **ca_path)
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

void http_easy_setup(void *easy, const char *url, const char *ca_file,
                     const char *ca_path)
{
    CURL *h = easy;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(h, CURLOPT_CAPATH, ca_path);
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
    /* Since curl 7.57 curl_global_init always initialises the TLS library
     * whatever the flags (curl_global_init(3): CURL_GLOBAL_SSL "serves no
     * meaning"); with OpenSSL 3 that is OPENSSL_init_ssl() alone, which
     * loads no CA certificates and no configuration file in the packaged
     * build (deploy/build-curl: --disable-openssl-auto-load-config). The
     * trust store is only read when the first TLS connection is made. */
    static int global_done;
    if (!global_done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_done = 1;
    }
    struct http_client *c = xcalloc(1, sizeof(*c));
    /* curl_easy_init() fails only when memory is exhausted (or the
     * global init did, for the same reason): abort as xmalloc does. */
    c->curl = curl_easy_init();
    if (!c->curl) {
        fprintf(stderr, "streamer: out of memory creating a libcurl handle\n");
        abort();
    }
    http_trust_paths(&c->ca_file, &c->ca_path);
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c->ca_file);
    free(c->ca_path);
    free(c);
}

struct transfer {
    struct http_response *resp;
    int too_large;
};

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * n;
    if (buf_append(&t->resp->body, p, len) != RESULT_OK) {
        t->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
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
    char *name = xstrndup(p, name_len);
    for (char *q = name; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    r->headers[r->header_count].name = name;
    r->headers[r->header_count].value = xstrndup(v, v_len);
    r->header_count++;
}

/* Collects "Name: value" lines of the final response (a new status line
 * starts over, so 1xx and redirect heads are dropped). */
static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
    struct transfer *t = userdata;
    http_response_add_line(t->resp, p, size * n);
    return size * n;
}

int http_header_name_valid(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
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

static struct curl_slist *build_headers(const struct http_request *req)
{
    struct curl_slist *list = NULL;
    /* libcurl adds "Expect: 100-continue" to larger POSTs; an empty value
     * removes it (a needless round trip on every big request). A missing
     * Content-Type is sent empty rather than as a form type. */
    const char *fixed[] = {"Expect:", "Accept:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        list = curl_slist_append(list, fixed[i]);
    struct buf line;
    buf_init(&line, 64 * 1024);
    for (size_t i = 0; i < req->header_count; i++) {
        buf_reset(&line);
        if (buf_append_strs(&line, req->headers[i].name, ": ",
                            req->headers[i].value, NULL) == RESULT_OK)
            list = curl_slist_append(list, buf_str(&line));
    }
    buf_cleanup(&line);
    return list;
}

static enum result map_curl_error(CURLcode rc, const struct transfer *t)
{
    if (t->too_large)
        return RESULT_TOO_LARGE;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return RESULT_TIMEOUT;
    default:
        return RESULT_TRANSPORT;
    }
}

enum result http_perform(struct http_client *c, const struct http_request *req,
                         struct http_response *resp, struct error_info *err)
{
    CURL *h = c->curl;
    struct transfer t = {resp, 0};
    clear_headers(resp);
    buf_reset(&resp->body);
    resp->status = 0;
    enum result hr = check_headers(req, err);
    if (hr != RESULT_OK)
        return hr;
    if (transport)
        return transport(transport_ctx, req, resp, err);

    /* Reset per-request options but keep the connection cache. */
    curl_easy_reset(h);
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    /* The same CA strings on every request, so kept-alive TLS
     * connections still match and are reused. */
    http_easy_setup(h, req->url, c->ca_file, c->ca_path);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms ? req->connect_timeout_ms
                                             : HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "POST") == 0 || req->body_len) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        if (strcmp(req->method, "HEAD") == 0)
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    struct curl_slist *headers = build_headers(req);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        enum result r = map_curl_error(rc, &t);
        return error_set(err, r, "HttpTransport", "%s %s: %s", req->method,
                         req->url,
                         t.too_large    ? "response body over the size cap"
                         : c->errbuf[0] ? c->errbuf
                                        : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return RESULT_OK;
}

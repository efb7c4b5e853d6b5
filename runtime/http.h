/* HTTP/1.1 clients for AWS endpoints: kept-alive connections, TLS. */
#ifndef STREAMER_HTTP_H
#define STREAMER_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "result.h"

struct http_header {
    const char *name;
    const char *value;
};

/* A request; every pointer is borrowed for the duration of the call. */
struct http_request {
    const char *method; /* "GET", "POST", "DELETE", ... */
    const char *url;
    const struct http_header *headers;
    size_t header_count;
    const void *body;
    size_t body_len;
    long timeout_ms;         /* whole transfer; 0 = no limit */
    long connect_timeout_ms; /* 0 = HTTP_CONNECT_TIMEOUT_MS */
};

#define HTTP_CONNECT_TIMEOUT_MS 2000L
#define HTTP_MAX_HEADERS 64

struct http_response_header {
    char *name; /* lower-cased */
    char *value;
};

/* A response; owns its body and headers. */
struct http_response {
    long status;
    struct buf body;
    struct http_response_header headers[HTTP_MAX_HEADERS];
    size_t header_count;
};

/* Prepares an empty response whose body may hold up to `max_body_bytes`. */
void http_response_init(struct http_response *r, size_t max_body_bytes);
/* Frees body and headers; `r` may be reused after http_response_init(). */
void http_response_cleanup(struct http_response *r);
/* Case-insensitive lookup of a response header; NULL when absent. */
const char *http_response_header(const struct http_response *r,
                                 const char *name);

/*
 * Creates a client: HTTP/1.1 over runtime/http1.c, one kept-alive
 * connection per origin (scheme, host, port) for up to 4 origins at once,
 * TCP_NODELAY, no proxy (Lambda has none; a VPC endpoint is reached
 * directly). https:// peers are verified against AWS_CA_BUNDLE or
 * SSL_CERT_FILE (a PEM file) and/or SSL_CERT_DIR (a hashed folder), read
 * now; when none is set, the first hashed CA folder that exists of Amazon
 * Linux 2023's and Debian's; TLS 1.2 or newer, the certificate checked
 * against the URL's host name or IP address. Nothing is connected until
 * the first request. Aborts when memory is exhausted. Caller owns the
 * result; free with http_client_free().
 */
struct http_client *http_client_new(void);
/* Frees the client and closes its connections; NULL is a no-op. */
void http_client_free(struct http_client *c);

/*
 * 1 when `name` is an HTTP field name (an RFC 9110 §5.6.2 token: one or
 * more of ALPHA DIGIT ! # $ % & ' * + - . ^ _ ` | ~), else 0.
 */
int http_header_name_valid(const char *name);

/*
 * 1 when `value` may be sent as a field value: no control character but
 * HTAB (RFC 9110 §5.5: CR, LF and NUL are invalid and dangerous; a CR or
 * LF would end the header and let the rest of the value inject headers
 * or a request of its own), no DEL; else 0.
 */
int http_header_value_valid(const char *value);

/*
 * Copies `value` into `out` (`size` > 0 bytes, always NUL-terminated,
 * truncated to fit) with every byte that http_header_value_valid()
 * refuses replaced by a space: for values that come from outside (an
 * AWS error's __type becoming Lambda-Runtime-Function-Error-Type) and
 * must be sent anyway. NULL `value` gives "".
 */
void http_header_value_clean(const char *value, char *out, size_t size);

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/*
 * A TLS context with the settings and the trust http_client_new() uses
 * (the trust store read now), for code that drives runtime/http1.c
 * clients itself (runtime/fanout.c): give it to http1_client_use_tls().
 * NULL, `err` set, when OpenSSL cannot make it or read the trust store.
 * Caller owns the result; free with SSL_CTX_free().
 */
struct ssl_ctx_st *http_tls_context_new(struct error_info *err);

/*
 * Performs `req` (an absolute http:// or https:// URL) on the origin's
 * kept-alive connection, opening one when there is none, and fills `resp`
 * (which the caller has initialised; it is reset first). A Host header in
 * `req` is sent as it is, else one is made from the URL. RESULT_OK for
 * any HTTP status; RESULT_TRANSPORT when the connection failed or broke,
 * or the peer's certificate was refused; RESULT_TIMEOUT when a timeout
 * expired; RESULT_TOO_LARGE when the body exceeded the response's cap;
 * RESULT_INVALID_INPUT, with nothing sent, when the URL is not one this
 * client can use or a header's name or value is not valid
 * (http_header_name_valid(), http_header_value_valid()). `err` says what
 * failed, naming the request.
 */
enum result http_perform(struct http_client *c, const struct http_request *req,
                         struct http_response *resp,
                         struct error_info *err) WARN_UNUSED;

#endif

/* HTTP/1.1 over one keep-alive connection, plain TCP or TLS. */
#ifndef STREAMER_HTTP1_H
#define STREAMER_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "result.h"

#define HTTP1_MAX_HEADERS 64
/* The whole response head (status line and headers) must fit in this. */
#define HTTP1_MAX_HEAD_BYTES 32768

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* A header of a request: both borrowed; neither may hold CR or LF. */
struct http1_header {
    const char *name;
    const char *value;
};

/* A request; every pointer is borrowed for the duration of the call. */
struct http1_request {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* origin-form, e.g. "/2018-06-01/runtime/..." */
    const struct http1_header *headers;
    size_t header_count;
    const void *body; /* sent with Content-Length when method is POST */
    size_t body_len;
    long timeout_ms;         /* whole exchange; 0 = no limit */
    long connect_timeout_ms; /* TCP and TLS set-up; 0 = the client's */
    /* 1: the caller has checked every header name and value as
     * http1_perform() would (runtime/http.c does), so they are not
     * checked twice. */
    int headers_checked;
};

/*
 * A response. The head is kept as read: header names and values point
 * into `head` (NUL-terminated there), so nothing is allocated per request
 * but the body's growth. Valid until the next http1_perform().
 */
struct http1_response {
    long status;
    struct buf body;
    char head[HTTP1_MAX_HEAD_BYTES + 1];
    struct {
        const char *name;
        const char *value;
    } headers[HTTP1_MAX_HEADERS];
    size_t header_count;
};

/* 1 when `ch` may be in a token, such as a field name (RFC 9110 §5.6.2
 * tchar: visible ASCII but the delimiters "(),/:;<=>?@[\]{}), else 0. */
int http1_token_char(unsigned char ch);

/* Prepares an empty response whose body may hold up to `max_body_bytes`. */
void http1_response_init(struct http1_response *r, size_t max_body_bytes);
/* Frees the body; `r` may be reused after http1_response_init(). */
void http1_response_cleanup(struct http1_response *r);
/* Case-insensitive lookup of a response header; NULL when absent. */
const char *http1_response_header(const struct http1_response *r,
                                  const char *name);

/*
 * A client for `host` (a name or an IPv4/IPv6 literal, without brackets)
 * and `port`; connects on the first request, with `connect_timeout_ms`.
 * Caller owns the result; free with http1_client_free(). Aborts on OOM.
 */
struct http1_client *http1_client_new(const char *host, int port,
                                      long connect_timeout_ms);
/* Closes the connection and frees `c`; NULL is a no-op. */
void http1_client_free(struct http1_client *c);

/*
 * Makes `c` speak TLS with `tls` (borrowed: it must outlive `c`; a client
 * SSL_CTX holding the trust store), from its next connection on: the
 * peer's certificate chain is verified, and the certificate must be valid
 * for the host's name or IP address (SNI is sent for a name). The Host
 * header then leaves out port 443 rather than 80. NULL: plain TCP.
 */
void http1_client_use_tls(struct http1_client *c, struct ssl_ctx_st *tls);

/*
 * Sends `req` on the kept-alive connection (opening one when there is
 * none) and reads the answer into `resp` (reset first): Content-Length,
 * chunked, or until the peer closes (over TLS, only a close_notify ends
 * such a body; a bare close is an error). A Host header is added unless
 * `req` has one. A request that fails on a reused
 * connection before any byte of the answer arrived is sent once more on
 * a new connection (the peer may have closed it while idle, RFC 9112
 * §9.3.1). RESULT_OK for any HTTP status; RESULT_INVALID_INPUT when a
 * header name or value holds CR or LF, or the method or path is unsafe
 * (nothing is sent); RESULT_TRANSPORT when the connection failed, broke
 * or the answer is not HTTP/1.x; RESULT_TIMEOUT when `timeout_ms` passed;
 * RESULT_TOO_LARGE when the body exceeded the response's cap (the head is
 * parsed and its headers readable). After any failure the connection is
 * closed.
 */
enum result http1_perform(struct http1_client *c,
                          const struct http1_request *req,
                          struct http1_response *resp,
                          struct error_info *err) WARN_UNUSED;

/*
 * The same exchange without waiting, for many clients at once in one
 * poll() (runtime/fanout.c). http1_start() checks `req` and builds its
 * head as http1_perform() does (RESULT_INVALID_INPUT: nothing is sent)
 * and resets `resp`; `req`'s body and `resp` are borrowed until the
 * exchange ends. Nothing is connected, sent or read until http1_step().
 */
enum result http1_start(struct http1_client *c, const struct http1_request *req,
                        struct http1_response *resp,
                        struct error_info *err) WARN_UNUSED;

/*
 * Advances the started exchange as far as it can without waiting:
 * resolving and connecting (each address in turn), the TLS handshake,
 * sending (partial writes continued), reading. Returns 1 when it ended,
 * `*result` and `resp` then as http1_perform() leaves them (the same
 * results and errors, the same keep-alive and the same one retry on a
 * new connection when a reused one fails before any byte of the answer);
 * 0 when it waits for `*events` (POLLIN or POLLOUT) on http1_fd(c), or
 * for http1_wake_ms(): call it again when either comes (a call too early
 * does no harm). The answer is read whole before it is parsed, up to
 * 2 MB with its head (more is RESULT_TOO_LARGE). Blocks only in
 * getaddrinfo() when a connection is opened to a host name.
 */
int http1_step(struct http1_client *c, short *events, enum result *result,
               struct error_info *err) WARN_UNUSED;

/* The connection's socket, -1 when there is none. */
int http1_fd(const struct http1_client *c);

/* When the step in progress times out (clock_monotonic_ms(); 0: never):
 * the connect timeout while connecting and in the TLS handshake, then
 * the request's timeout. */
int64_t http1_wake_ms(const struct http1_client *c);

#endif

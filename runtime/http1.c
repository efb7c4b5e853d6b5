/* HTTP/1.1 over one keep-alive connection, plain TCP or TLS. */
#include "http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "text.h"
#include "xmalloc.h"

/*
 * Why not libcurl here: the Runtime API is plain HTTP/1.1 on loopback with
 * a fixed shape (Lambda Developer Guide, "Using the Lambda runtime API for
 * custom runtimes"), and AWS's JSON APIs are HTTP/1.1 over TLS to one
 * endpoint, request and answer in turn; each libcurl transfer costs
 * 100-200k instructions of option setting, header lists and state machine
 * per event, where this client's exchange is a write and a read or two.
 * HTTP/1.1 message syntax and framing follow RFC 9112; TLS is OpenSSL's,
 * verified as RFC 6125 and RFC 9110 §4.3.4 ask (the peer's certificate
 * chain against the trust store, its name or IP address against the
 * host asked for), with SNI for names (RFC 6066 §3).
 */

#define IN_BYTES 16384
#define MAX_REQUEST_HEAD_BYTES 16384
#define MAX_CHUNK_LINE 256

struct http1_client {
    char host[256];     /* for getaddrinfo: no brackets */
    char host_hdr[300]; /* the Host header: host:port, IPv6 bracketed */
    char port[8];
    long connect_timeout_ms;
    int fd;      /* -1 when not connected */
    long served; /* exchanges completed on fd */
    char *in;    /* bytes read but not consumed: in[in_off..in_len) */
    size_t in_off, in_len;
    struct buf out;       /* the request head being sent */
    int64_t deadline_ms;  /* of the current exchange; 0 = none */
    int got_bytes;        /* of the current answer, for the retry rule */
    int head_only;        /* the current request is HEAD: no body */
    SSL_CTX *tls;         /* borrowed; NULL: plain TCP */
    SSL *ssl;             /* the connection's TLS state, with fd */
    SSL_SESSION *session; /* the last connection's, to resume */
    struct buf wire;      /* TLS: head and body, sent as one write */
};

void http1_response_init(struct http1_response *r, size_t max_body_bytes)
{
    r->status = 0;
    r->header_count = 0;
    r->head[0] = '\0';
    buf_init(&r->body, max_body_bytes);
}

void http1_response_cleanup(struct http1_response *r)
{
    buf_cleanup(&r->body);
    r->header_count = 0;
    r->status = 0;
}

const char *http1_response_header(const struct http1_response *r,
                                  const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* The Host header (RFC 9110 §7.2): the port is left out when it is the
 * scheme's default, as browsers and libcurl send it. */
static void set_host_header(struct http1_client *c, int default_port)
{
    const char *colon = strchr(c->host, ':');
    if (atoi(c->port) == default_port)
        snprintf(c->host_hdr, sizeof(c->host_hdr), colon ? "[%s]" : "%s",
                 c->host);
    else
        snprintf(c->host_hdr, sizeof(c->host_hdr), colon ? "[%s]:%s" : "%s:%s",
                 c->host, c->port);
}

struct http1_client *http1_client_new(const char *host, int port,
                                      long connect_timeout_ms)
{
    struct http1_client *c = xcalloc(1, sizeof(*c));
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(c->host, sizeof(c->host), "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(c->host, sizeof(c->host), "%s", host);
    snprintf(c->port, sizeof(c->port), "%d", port);
    set_host_header(c, 80);
    c->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 1000;
    c->fd = -1;
    c->in = xmalloc(IN_BYTES);
    buf_init(&c->out, MAX_REQUEST_HEAD_BYTES);
    buf_init(&c->wire, SIZE_MAX / 2);
    return c;
}

void http1_client_use_tls(struct http1_client *c, struct ssl_ctx_st *tls)
{
    c->tls = tls;
    set_host_header(c, tls ? 443 : 80);
}

/*
 * Keeps the TLS session of a connection that served its first exchange
 * (by then a TLS 1.3 server's ticket has come, with the answer): the next
 * connection resumes it (RFC 8446 §2.2, RFC 5077), an abbreviated
 * handshake without the certificate chain, when the peer still knows it.
 * Taken now, not when the connection is dropped: a connection that ends
 * in an error has its session marked not resumable.
 */
static void keep_session(struct http1_client *c)
{
    /* A copy: OpenSSL marks the connection's own session object not
     * resumable when the connection is freed without a close_notify
     * (SSL_free() -> SSL_CTX_remove_session()), as ours always are. */
    const SSL_SESSION *now = SSL_get_session(c->ssl);
    SSL_SESSION *s =
        now && SSL_SESSION_is_resumable(now) ? SSL_SESSION_dup(now) : NULL;
    if (s) {
        SSL_SESSION_free(c->session);
        c->session = s;
    }
}

static void drop(struct http1_client *c)
{
    /* No close_notify: the connection is abandoned (a failure, or the
     * client is freed), and nothing more is read or sent on it. */
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->served = 0;
    c->in_off = c->in_len = 0;
}

void http1_client_free(struct http1_client *c)
{
    if (!c)
        return;
    drop(c);
    SSL_SESSION_free(c->session);
    buf_cleanup(&c->out);
    buf_cleanup(&c->wire);
    free(c->in);
    free(c);
}

/* Waits until `fd` is ready for `events` or the deadline passes (0, 1). */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int ms = -1;
        if (deadline_ms) {
            int64_t left = deadline_ms - clock_monotonic_ms();
            if (left <= 0)
                return 0;
            ms = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return 1; /* let the read or write report it */
    }
}

/* Connects to one address by `deadline_ms`; the fd or -1. */
static int connect_one(const struct addrinfo *a, int64_t deadline_ms)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    a->ai_protocol);
    if (fd < 0)
        return -1;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline_ms)) {
        int so = 0;
        socklen_t len = sizeof(so);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 && so == 0)
            rc = 0;
        else
            errno = so; /* why it failed, not EINPROGRESS */
    } else if (rc != 0 && errno == EINPROGRESS) {
        errno = ETIMEDOUT;
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    /* Non-blocking throughout: every read and write that would block
     * waits in poll() for what is left of the exchange's deadline. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static enum result io_error(struct error_info *err, enum result r,
                            const char *what, int e)
{
    if (r == RESULT_TIMEOUT)
        return error_set(err, r, "HttpTimeout", "%s: timed out", what);
    return error_set(err, r, "HttpTransport", "%s: %s", what,
                     e ? strerror(e) : "connection closed by the peer");
}

/*
 * The socket under TLS: OpenSSL's own socket BIO writes with write(),
 * which raises SIGPIPE when the peer has gone; this one sends with
 * MSG_NOSIGNAL (a closed peer is an error, not a signal) and reports
 * EAGAIN as "retry", so SSL_get_error() says WANT_READ or WANT_WRITE.
 */
static int sock_write(BIO *b, const char *data, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int sock_read(BIO *b, char *data, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = recv(fd, data, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *sock_method(void)
{
    static BIO_METHOD *m;
    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                         "streamer socket");
        if (!m || !BIO_meth_set_write(m, sock_write) ||
            !BIO_meth_set_read(m, sock_read) ||
            !BIO_meth_set_ctrl(m, sock_ctrl) ||
            !BIO_meth_set_create(m, sock_create)) {
            fprintf(stderr, "streamer: out of memory creating a BIO method\n");
            abort();
        }
    }
    return m;
}

/* After an SSL_* call returned `rc`: 1 when it is to be called again once
 * the socket is ready (having waited), 0 when it failed; `*e` gets errno
 * for a failed system call. */
static int tls_again(struct http1_client *c, int rc, int64_t deadline_ms,
                     int *timed_out, int *e)
{
    int saved = errno;
    short events = 0;
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        events = POLLIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        events = POLLOUT;
        break;
    case SSL_ERROR_SYSCALL:
        *e = saved;
        return 0;
    default:
        return 0;
    }
    if (wait_fd(c->fd, events, deadline_ms))
        return 1;
    *timed_out = 1;
    return 0;
}

/* Why OpenSSL refused, for the error message. */
static const char *tls_reason(struct http1_client *c)
{
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK)
        return X509_verify_cert_error_string(v);
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    return why ? why : "the handshake failed";
}

/* The TLS handshake on c->fd, within `deadline_ms`: SNI for a name, and
 * the certificate must be valid for that name or IP address. */
static enum result tls_start(struct http1_client *c, int64_t deadline_ms,
                             struct error_info *err)
{
    c->ssl = SSL_new(c->tls);
    BIO *bio = c->ssl ? BIO_new(sock_method()) : NULL;
    if (!bio) {
        fprintf(stderr, "streamer: out of memory starting TLS\n");
        abort();
    }
    BIO_set_data(bio, (void *)(intptr_t)c->fd);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, c->host, ip) == 1 ||
                inet_pton(AF_INET6, c->host, ip) == 1;
    int ok =
        is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host)
              : SSL_set_tlsext_host_name(c->ssl, c->host) &&
                    SSL_set1_host(c->ssl, c->host);
    if (!is_ip)
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!ok)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "TLS to %s: cannot set the name to verify",
                         c->host_hdr);
    if (c->session)
        SSL_set_session(c->ssl, c->session);
    for (;;) {
        ERR_clear_error();
        int rc = SSL_connect(c->ssl);
        if (rc == 1)
            return RESULT_OK;
        int timed_out = 0, e = 0;
        if (tls_again(c, rc, deadline_ms, &timed_out, &e))
            continue;
        if (timed_out)
            return io_error(err, RESULT_TIMEOUT, "the TLS handshake", 0);
        if (e)
            return io_error(err, RESULT_TRANSPORT, "the TLS handshake", e);
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "TLS to %s: %s", c->host_hdr, tls_reason(c));
    }
}

static enum result open_connection(struct http1_client *c,
                                   long connect_timeout_ms,
                                   struct error_info *err)
{
    struct addrinfo hints = {0}, *list = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int gai = getaddrinfo(c->host, c->port, &hints, &list);
    if (gai != 0)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "cannot resolve %s: %s", c->host, gai_strerror(gai));
    int saved = 0;
    int64_t deadline_ms = clock_monotonic_ms() + connect_timeout_ms;
    if (c->deadline_ms && c->deadline_ms < deadline_ms)
        deadline_ms = c->deadline_ms;
    for (const struct addrinfo *a = list; a && c->fd < 0; a = a->ai_next) {
        c->fd = connect_one(a, deadline_ms);
        saved = errno;
    }
    freeaddrinfo(list);
    if (c->fd < 0)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "cannot connect to %s: %s", c->host_hdr,
                         saved ? strerror(saved) : "timed out");
    c->served = 0;
    c->in_off = c->in_len = 0;
    enum result r = c->tls ? tls_start(c, deadline_ms, err) : RESULT_OK;
    if (r != RESULT_OK)
        drop(c);
    return r;
}

/* A field name is a token (RFC 9110 §5.1, §5.6.2). */
int http1_token_char(unsigned char ch)
{
    /* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
     * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA: bit ch of this map. */
    static const uint64_t tchar[4] = {0x03ff6cfa00000000ULL,
                                      0x57ffffffc7fffffeULL, 0, 0};
    return (int)(tchar[ch >> 6] >> (ch & 63)) & 1;
}

/* A field value may hold visible bytes, SP and HTAB, never CR, LF, NUL or
 * another control byte (RFC 9110 §5.5): a value with CR/LF would split
 * the head and smuggle a header or a request. */
static int safe_value(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

static int safe_token(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!http1_token_char(*p))
            return 0;
    return 1;
}

static int safe_path(const char *s)
{
    if (s[0] != '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

/* The request head into c->out; RESULT_INVALID_INPUT names what is bad. */
static enum result build_head(struct http1_client *c,
                              const struct http1_request *req,
                              struct error_info *err)
{
    if (!safe_token(req->method) || !safe_path(req->path))
        return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                         "unsafe method or path");
    for (size_t i = 0; i < req->header_count && !req->headers_checked; i++)
        if (!safe_token(req->headers[i].name) ||
            !safe_value(req->headers[i].value))
            return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                             "header %.64s: a name must be a token and a "
                             "value must not hold CR, LF or control bytes",
                             req->headers[i].name);
    int own_host = 0;
    for (size_t i = 0; i < req->header_count; i++)
        own_host |= strcasecmp(req->headers[i].name, "host") == 0;
    buf_reset(&c->out);
    enum result r = buf_append_strs(&c->out, req->method, " ", req->path,
                                    " HTTP/1.1\r\n", NULL);
    if (r == RESULT_OK && !own_host)
        r = buf_append_strs(&c->out, "Host: ", c->host_hdr, "\r\n", NULL);
    if (r == RESULT_OK && strcmp(req->method, "GET") != 0) {
        char len[21];
        text_u64(len, req->body_len);
        r = buf_append_strs(&c->out, "Content-Length: ", len, "\r\n", NULL);
    }
    for (size_t i = 0; i < req->header_count && r == RESULT_OK; i++)
        r = buf_append_strs(&c->out, req->headers[i].name, ": ",
                            req->headers[i].value, "\r\n", NULL);
    if (r == RESULT_OK)
        r = buf_append(&c->out, "\r\n", 2);
    if (r != RESULT_OK)
        return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                         "request head over %d bytes", MAX_REQUEST_HEAD_BYTES);
    return RESULT_OK;
}

/* Sends head and body as one TLS write (one record for a small request,
 * one system call). */
static enum result tls_send(struct http1_client *c, const void *body,
                            size_t body_len, struct error_info *err)
{
    buf_reset(&c->wire);
    if (buf_append(&c->wire, c->out.data, c->out.len) != RESULT_OK ||
        (body_len && buf_append(&c->wire, body, body_len) != RESULT_OK))
        return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                         "request too large");
    for (;;) {
        size_t n = 0;
        int rc = SSL_write_ex(c->ssl, c->wire.data, c->wire.len, &n);
        if (rc == 1)
            return RESULT_OK;
        int timed_out = 0, e = 0;
        if (tls_again(c, rc, c->deadline_ms, &timed_out, &e))
            continue;
        if (timed_out)
            return io_error(err, RESULT_TIMEOUT, "sending", 0);
        return io_error(err, RESULT_TRANSPORT, "sending", e ? e : EPIPE);
    }
}

/* Writes the head and the body in one go (sendmsg, partial writes
 * continued); MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE. */
static enum result send_request(struct http1_client *c, const void *body,
                                size_t body_len, struct error_info *err)
{
    if (c->ssl)
        return tls_send(c, body, body_len, err);
    struct iovec iov[2] = {{c->out.data, c->out.len},
                           {(void *)(uintptr_t)body, body ? body_len : 0}};
    struct iovec *v = iov;
    int count = body_len ? 2 : 1;
    while (count) {
        struct msghdr m = {0};
        m.msg_iov = v;
        m.msg_iovlen = (size_t)count;
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(c->fd, POLLOUT, c->deadline_ms))
                return io_error(err, RESULT_TIMEOUT, "sending", 0);
            continue;
        }
        if (n < 0)
            return io_error(err, RESULT_TRANSPORT, "sending", errno);
        size_t left = (size_t)n;
        while (count && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            count--;
        }
        if (count) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    return RESULT_OK;
}

/* Reads what TLS has into `to`; *n = 0 at the peer's close_notify. A
 * close without close_notify is an error (RFC 8446 §6.1: the answer may
 * have been cut short by an attacker). */
static enum result tls_recv(struct http1_client *c, char *to, size_t len,
                            size_t *n, struct error_info *err)
{
    for (;;) {
        int rc = SSL_read_ex(c->ssl, to, len, n);
        if (rc == 1)
            return RESULT_OK;
        if (SSL_get_error(c->ssl, rc) == SSL_ERROR_ZERO_RETURN) {
            *n = 0;
            return RESULT_OK;
        }
        int timed_out = 0, e = 0;
        if (tls_again(c, rc, c->deadline_ms, &timed_out, &e))
            continue;
        if (timed_out)
            return io_error(err, RESULT_TIMEOUT, "reading", 0);
        return io_error(err, RESULT_TRANSPORT, "reading", e);
    }
}

/* Reads more bytes into c->in (compacting it first). 0 on EOF. */
static enum result fill(struct http1_client *c, int *eof,
                        struct error_info *err)
{
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len == IN_BYTES)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "a line of the answer is over %d bytes", IN_BYTES);
    if (c->ssl) {
        size_t n = 0;
        enum result r =
            tls_recv(c, c->in + c->in_len, IN_BYTES - c->in_len, &n, err);
        if (r != RESULT_OK)
            return r;
        *eof = n == 0;
        c->in_len += n;
        c->got_bytes |= n > 0;
        return RESULT_OK;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_BYTES - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(c->fd, POLLIN, c->deadline_ms))
                return io_error(err, RESULT_TIMEOUT, "reading", 0);
            continue;
        }
        if (n < 0)
            return io_error(err, RESULT_TRANSPORT, "reading", errno);
        *eof = n == 0;
        c->in_len += (size_t)n;
        c->got_bytes |= n > 0;
        return RESULT_OK;
    }
}

/* Finds CRLF in the unread bytes, reading more as needed; the line (CRLF
 * excluded) is in[in_off .. in_off + *len). */
static enum result take_line(struct http1_client *c, size_t max, size_t *len,
                             struct error_info *err)
{
    size_t scanned = 0;
    for (;;) {
        const char *start = c->in + c->in_off;
        size_t avail = c->in_len - c->in_off;
        const char *lf = scanned < avail
                             ? memchr(start + scanned, '\n', avail - scanned)
                             : NULL;
        if (lf) {
            size_t n = (size_t)(lf - start);
            if (n == 0 || start[n - 1] != '\r')
                return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                                 "a line of the answer does not end in CRLF");
            *len = n - 1;
            return RESULT_OK;
        }
        if (avail > max)
            return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                             "a line of the answer is over %zu bytes", max);
        scanned = avail;
        int eof = 0;
        enum result r = fill(c, &eof, err);
        if (r != RESULT_OK)
            return r;
        if (eof)
            return io_error(err, RESULT_TRANSPORT, "reading", 0);
    }
}

/* Splits the head (status line and fields) kept in resp->head. */
static enum result parse_head(struct http1_response *resp, size_t head_len,
                              struct error_info *err)
{
    char *h = resp->head;
    h[head_len] = '\0';
    /* RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason-phrase] */
    if (head_len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ' ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' ||
        h[11] > '9' || (head_len > 12 && h[12] != ' '))
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "the answer is not HTTP/1.x");
    resp->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    resp->header_count = 0;
    char *line = strstr(h, "\r\n");
    while (line) {
        line += 2;
        char *end = strstr(line, "\r\n");
        if (end)
            *end = '\0';
        if (*line) {
            char *colon = strchr(line, ':');
            /* A token, then the colon: no space before it and no
             * obs-fold line (RFC 9112 §5.1-2). */
            int bad = !colon || colon == line;
            for (const char *q = line; !bad && q < colon; q++)
                bad = !http1_token_char((unsigned char)*q);
            if (bad)
                return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                                 "a malformed header line in the answer");
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            char *ve = v + strlen(v);
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                *--ve = '\0';
            if (resp->header_count < HTTP1_MAX_HEADERS) {
                resp->headers[resp->header_count].name = line;
                resp->headers[resp->header_count].value = v;
                resp->header_count++;
            }
        }
        line = end;
    }
    return RESULT_OK;
}

/* Reads the head (the lines up to the blank one) into resp->head. */
static enum result read_head(struct http1_client *c,
                             struct http1_response *resp,
                             struct error_info *err)
{
    size_t head_len = 0;
    for (;;) {
        size_t n = 0;
        enum result r = take_line(c, HTTP1_MAX_HEAD_BYTES, &n, err);
        if (r != RESULT_OK)
            return r;
        if (n == 0 && head_len > 0) {
            c->in_off += 2;
            return parse_head(resp, head_len, err);
        }
        if (n == 0) { /* a stray CRLF before the status line: skip it */
            c->in_off += 2;
            continue;
        }
        if (head_len + n + 2 > HTTP1_MAX_HEAD_BYTES)
            return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                             "the answer's head is over %d bytes",
                             HTTP1_MAX_HEAD_BYTES);
        memcpy(resp->head + head_len, c->in + c->in_off, n + 2);
        head_len += n + 2;
        c->in_off += n + 2;
    }
}

/* Moves `n` bytes of the answer into the body (all when `n` is
 * SIZE_MAX: until the peer closes). */
static enum result take_body(struct http1_client *c, struct buf *body, size_t n,
                             struct error_info *err)
{
    while (n) {
        size_t avail = c->in_len - c->in_off;
        if (!avail) {
            int eof = 0;
            enum result r = fill(c, &eof, err);
            if (r != RESULT_OK)
                return r;
            if (eof && n == SIZE_MAX)
                return RESULT_OK;
            if (eof)
                return io_error(err, RESULT_TRANSPORT, "reading the body", 0);
            continue;
        }
        size_t k = avail < n ? avail : n;
        if (buf_append(body, c->in + c->in_off, k) != RESULT_OK)
            return error_set(err, RESULT_TOO_LARGE, "HttpTransport",
                             "response body over the size cap");
        c->in_off += k;
        if (n != SIZE_MAX)
            n -= k;
    }
    return RESULT_OK;
}

/* A chunked body (RFC 9112 §7.1): size lines in hex, data, CRLF, a last
 * chunk of size 0 and trailer fields, which are read and dropped. */
static enum result take_chunked(struct http1_client *c, struct buf *body,
                                struct error_info *err)
{
    for (;;) {
        size_t n = 0;
        enum result r = take_line(c, MAX_CHUNK_LINE, &n, err);
        if (r != RESULT_OK)
            return r;
        const char *p = c->in + c->in_off;
        size_t size = 0, digits = 0;
        for (; digits < n; digits++) {
            char ch = p[digits];
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (v < 0)
                break;
            if (size > (SIZE_MAX >> 4))
                return error_set(err, RESULT_TOO_LARGE, "HttpTransport",
                                 "a chunk size overflows");
            size = size << 4 | (size_t)v;
        }
        if (!digits || (digits < n && p[digits] != ';' && p[digits] != ' ' &&
                        p[digits] != '\t'))
            return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                             "a malformed chunk size line");
        c->in_off += n + 2;
        if (size == 0)
            break;
        if ((r = take_body(c, body, size, err)) != RESULT_OK ||
            (r = take_line(c, MAX_CHUNK_LINE, &n, err)) != RESULT_OK)
            return r;
        if (n != 0)
            return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                             "chunk data not followed by CRLF");
        c->in_off += 2;
    }
    for (;;) { /* the trailer section, up to its blank line */
        size_t n = 0;
        enum result r = take_line(c, HTTP1_MAX_HEAD_BYTES, &n, err);
        if (r != RESULT_OK)
            return r;
        c->in_off += n + 2;
        if (n == 0)
            return RESULT_OK;
    }
}

/* Whether a comma list header value holds `word` (case-insensitive). */
static int list_has(const char *v, const char *word)
{
    size_t w = strlen(word);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == w && strncasecmp(v, word, w) == 0)
            return 1;
        v = e;
    }
    return 0;
}

/* Reads one answer's body as its head frames it (RFC 9112 §6.3). Sets
 * `*keep` when the connection may carry another exchange. */
static enum result read_body(struct http1_client *c,
                             struct http1_response *resp, int *keep,
                             struct error_info *err)
{
    const char *te = http1_response_header(resp, "transfer-encoding");
    const char *cl = http1_response_header(resp, "content-length");
    const char *conn = http1_response_header(resp, "connection");
    *keep = resp->head[7] == '1' && !list_has(conn, "close");
    /* No body: the answer to HEAD, 204 and 304 (RFC 9112 §6.3). */
    if (c->head_only || resp->status == 204 || resp->status == 304)
        return RESULT_OK;
    if (te) {
        /* Chunked must be the last coding; we ask for no other. */
        if (strcasecmp(te, "chunked") != 0)
            return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                             "unsupported Transfer-Encoding: %.64s", te);
        if (cl) /* both: chunked wins, and the connection is not reused */
            *keep = 0;
        return take_chunked(c, &resp->body, err);
    }
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || *end || *cl < '0' || *cl > '9')
            return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                             "a bad Content-Length: %.64s", cl);
        /* Known ahead: one allocation, not a doubling per 256 bytes. */
        if (n > resp->body.max_bytes ||
            buf_reserve(&resp->body, (size_t)n) != RESULT_OK)
            return error_set(err, RESULT_TOO_LARGE, "HttpTransport",
                             "response body over the size cap");
        return take_body(c, &resp->body, (size_t)n, err);
    }
    *keep = 0; /* the body runs until the peer closes */
    return take_body(c, &resp->body, SIZE_MAX, err);
}

/* One exchange on the current connection. */
static enum result exchange(struct http1_client *c,
                            const struct http1_request *req,
                            struct http1_response *resp, struct error_info *err)
{
    c->got_bytes = 0;
    /* SSL_get_error() reads OpenSSL's error queue: it must start empty
     * (other code may have left errors there). A retry (WANT_READ,
     * WANT_WRITE) adds none, and any other failure ends the exchange. */
    if (c->ssl)
        ERR_clear_error();
    enum result r = send_request(c, req->body, req->body_len, err);
    for (;;) {
        if (r == RESULT_OK)
            r = read_head(c, resp, err);
        /* An interim 1xx answer (RFC 9110 §15.2) precedes the final one. */
        if (r == RESULT_OK && resp->status >= 100 && resp->status < 200)
            continue;
        break;
    }
    int keep = 0;
    if (r == RESULT_OK)
        r = read_body(c, resp, &keep, err);
    if (r == RESULT_OK && c->ssl && c->served == 0)
        keep_session(c);
    if (r == RESULT_OK && keep)
        c->served++;
    else
        drop(c);
    return r;
}

enum result http1_perform(struct http1_client *c,
                          const struct http1_request *req,
                          struct http1_response *resp, struct error_info *err)
{
    resp->status = 0;
    resp->header_count = 0;
    buf_reset(&resp->body);
    enum result r = build_head(c, req, err);
    if (r != RESULT_OK)
        return r;
    c->deadline_ms =
        req->timeout_ms > 0 ? clock_monotonic_ms() + req->timeout_ms : 0;
    c->head_only = strcmp(req->method, "HEAD") == 0;
    long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                  : c->connect_timeout_ms;
    for (int attempt = 0;; attempt++) {
        int reused = c->fd >= 0 && c->served > 0;
        if (c->fd < 0 && (r = open_connection(c, connect_ms, err)) != RESULT_OK)
            return r;
        r = exchange(c, req, resp, err);
        /* An idle kept-alive connection the peer closed fails at once
         * with nothing read: one more try on a fresh one. */
        if (r == RESULT_TRANSPORT && reused && !c->got_bytes && attempt == 0) {
            buf_reset(&resp->body);
            continue;
        }
        return r;
    }
}

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
#include "openssl_setup.h"
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

/* Where an exchange of http1_start()/http1_step() is. */
enum stage {
    STAGE_IDLE = 0,  /* none, or one of http1_perform() */
    STAGE_CONNECT,   /* resolving, then connecting to one address */
    STAGE_HANDSHAKE, /* TLS */
    STAGE_REQUEST,   /* connected: the request is to be sent */
    STAGE_SEND,      /* sending it */
    STAGE_RECV,      /* reading the answer */
};

struct http1_client {
    char host[256];     /* for getaddrinfo: no brackets */
    char host_hdr[300]; /* the Host header: host:port, IPv6 bracketed */
    char port[8];
    long connect_timeout_ms;
    int fd;      /* -1 when not connected */
    long served; /* exchanges completed on fd */
    char *in;    /* bytes read but not consumed: in[in_off..in_len) */
    size_t in_off, in_len, in_cap;
    struct buf out;       /* the request head being sent */
    const void *body;     /* the request's body (borrowed) */
    size_t body_len;      /* and its length */
    size_t sent;          /* bytes of head and body sent */
    int64_t deadline_ms;  /* of the current exchange; 0 = none */
    long connect_ms;      /* the current exchange's connect timeout */
    int got_bytes;        /* of the current answer, for the retry rule */
    int peer_closed;      /* the peer ended the stream while we read */
    int head_only;        /* the current request is HEAD: no body */
    SSL_CTX *tls;         /* borrowed; NULL: plain TCP */
    SSL *ssl;             /* the connection's TLS state, with fd */
    SSL_SESSION *session; /* the last connection's, to resume */
    struct buf wire;      /* TLS: head and body, sent as one write */
    /* A non-blocking exchange (http1_start, http1_step). */
    enum stage stage;
    struct http1_response *resp; /* borrowed until it ends */
    struct addrinfo *addrs;      /* STAGE_CONNECT: the resolved list */
    struct addrinfo *addr;       /* the one being tried */
    int connect_errno;           /* why the last address failed */
    int64_t connect_deadline_ms; /* of connecting and the handshake */
    size_t answer_off;           /* where the answer starts in `in` */
    int reused;                  /* the attempt began on a used connection */
    int attempt;                 /* 0, then 1 on a new connection */
    int incomplete;              /* the parser ran out of bytes */
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
    c->in_cap = IN_BYTES;
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
    if (c->addrs)
        freeaddrinfo(c->addrs);
    c->addrs = c->addr = NULL;
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

/* Starts connecting to `a` without waiting: the socket (non-blocking),
 * `*pending` set while the connection is being made; or -1, errno set. */
static int connect_start(const struct addrinfo *a, int *pending)
{
    *pending = 0;
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    a->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
        return fd;
    if (errno == EINPROGRESS) {
        *pending = 1;
        return fd;
    }
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* Once a pending connect's socket is writable: 0 when it is connected,
 * else why not (an errno, not EINPROGRESS). */
static int connect_result(int fd)
{
    int so = 0;
    socklen_t len = sizeof(so);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
        return errno;
    return so;
}

/* Connects to one address by `deadline_ms`; the fd or -1, errno set. */
static int connect_one(const struct addrinfo *a, int64_t deadline_ms)
{
    int pending = 0;
    int fd = connect_start(a, &pending);
    if (fd >= 0 && pending) {
        int e =
            wait_fd(fd, POLLOUT, deadline_ms) ? connect_result(fd) : ETIMEDOUT;
        if (e) {
            close(fd);
            errno = e;
            return -1;
        }
    }
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

/* One step of I/O that never waits: RESULT_OK with `*events` 0 when it is
 * done, or with the events (POLLIN, POLLOUT) to wait for on c->fd before
 * the next step; else the failure. */
typedef enum result (*step_fn)(struct http1_client *c, short *events,
                               struct error_info *err);

/* Runs `step` to its end, waiting in poll() for what it asks until
 * `deadline_ms` (0: none); `what` names it in a timeout's message. */
static enum result until_done(struct http1_client *c, step_fn step,
                              int64_t deadline_ms, const char *what,
                              struct error_info *err)
{
    for (;;) {
        short events = 0;
        enum result r = step(c, &events, err);
        if (r != RESULT_OK || !events)
            return r;
        if (!wait_fd(c->fd, events, deadline_ms))
            return io_error(err, RESULT_TIMEOUT, what, 0);
    }
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

/* After an SSL_* call returned `rc`: the events to wait for before it is
 * called again (POLLIN, POLLOUT), or 0 when it failed; `*e` then gets
 * errno for a failed system call, else 0. */
static short tls_want(struct http1_client *c, int rc, int *e)
{
    int saved = errno;
    int why = SSL_get_error(c->ssl, rc);
    *e = why == SSL_ERROR_SYSCALL ? saved : 0;
    return why == SSL_ERROR_WANT_READ    ? POLLIN
           : why == SSL_ERROR_WANT_WRITE ? POLLOUT
                                         : 0;
}

/* Why OpenSSL refused, for the error message. */
static const char *tls_reason(struct http1_client *c)
{
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK)
        return X509_verify_cert_error_string(v);
    return openssl_error_text("the handshake failed");
}

/* TLS on c->fd, before the handshake: SNI for a name, and the
 * certificate must be valid for that name or IP address. */
static enum result tls_setup(struct http1_client *c, struct error_info *err)
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
    return RESULT_OK;
}

/* A step of the TLS handshake (step_fn). */
static enum result tls_handshake(struct http1_client *c, short *events,
                                 struct error_info *err)
{
    ERR_clear_error();
    int rc = SSL_connect(c->ssl);
    if (rc == 1)
        return RESULT_OK;
    int e = 0;
    if ((*events = tls_want(c, rc, &e)) != 0)
        return RESULT_OK;
    if (e)
        return io_error(err, RESULT_TRANSPORT, "the TLS handshake", e);
    return error_set(err, RESULT_TRANSPORT, "HttpTransport", "TLS to %s: %s",
                     c->host_hdr, tls_reason(c));
}

/*
 * The host's addresses. An IP literal (the Runtime API's 127.0.0.1:9001,
 * a VPC endpoint's address) is read as it is (AI_NUMERICHOST): with
 * AI_ADDRCONFIG, glibc would first ask the kernel for the machine's
 * addresses over netlink, a socket and three system calls at every cold
 * start, and could refuse an IPv6 literal on an IPv4-only machine.
 */
static enum result resolve(struct http1_client *c, struct addrinfo **list,
                           struct error_info *err)
{
    struct addrinfo hints = {0};
    unsigned char ip[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = inet_pton(AF_INET, c->host, ip) == 1 ||
                             inet_pton(AF_INET6, c->host, ip) == 1
                         ? AI_NUMERICHOST
                         : AI_ADDRCONFIG;
    int gai = getaddrinfo(c->host, c->port, &hints, list);
    if (gai != 0)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "cannot resolve %s: %s", c->host, gai_strerror(gai));
    return RESULT_OK;
}

static enum result connect_failed(struct http1_client *c, int e,
                                  struct error_info *err)
{
    return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                     "cannot connect to %s: %s", c->host_hdr,
                     e ? strerror(e) : "timed out");
}

/* When connecting and the TLS handshake must be over: the connect
 * timeout, cut to the exchange's deadline. */
static int64_t connect_deadline(const struct http1_client *c)
{
    int64_t deadline_ms = clock_monotonic_ms() + c->connect_ms;
    return c->deadline_ms && c->deadline_ms < deadline_ms ? c->deadline_ms
                                                          : deadline_ms;
}

/* A new connection on `fd`. Non-blocking throughout: every read and write
 * that would block waits in poll() for what is left of the deadline. */
static void connected(struct http1_client *c, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->served = 0;
    c->in_off = c->in_len = 0;
}

static enum result open_connection(struct http1_client *c,
                                   struct error_info *err)
{
    struct addrinfo *list = NULL;
    enum result r = resolve(c, &list, err);
    if (r != RESULT_OK)
        return r;
    int saved = 0, fd = -1;
    int64_t deadline_ms = connect_deadline(c);
    for (const struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
        fd = connect_one(a, deadline_ms);
        saved = errno;
    }
    freeaddrinfo(list);
    if (fd < 0)
        return connect_failed(c, saved, err);
    connected(c, fd);
    if (!c->tls)
        return RESULT_OK;
    r = tls_setup(c, err);
    if (r == RESULT_OK)
        r = until_done(c, tls_handshake, deadline_ms, "the TLS handshake", err);
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

/* Gets the request (the head in c->out, then the body) ready to send
 * on the current connection; over TLS head and body go as one write (one
 * record for a small request, one system call). */
static enum result send_begin(struct http1_client *c, struct error_info *err)
{
    c->sent = 0;
    if (!c->ssl)
        return RESULT_OK;
    buf_reset(&c->wire);
    if (buf_append(&c->wire, c->out.data, c->out.len) != RESULT_OK ||
        (c->body_len &&
         buf_append(&c->wire, c->body, c->body_len) != RESULT_OK))
        return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                         "request too large");
    return RESULT_OK;
}

/* Sends what the socket takes of the rest of the request (step_fn):
 * sendmsg() of head and body, partial writes continued from c->sent;
 * MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE. Over TLS the
 * same write is repeated until OpenSSL has sent it all. */
static enum result send_some(struct http1_client *c, short *events,
                             struct error_info *err)
{
    if (c->ssl) {
        size_t n = 0;
        int rc = SSL_write_ex(c->ssl, c->wire.data, c->wire.len, &n);
        if (rc == 1)
            return RESULT_OK;
        int e = 0;
        if ((*events = tls_want(c, rc, &e)) != 0)
            return RESULT_OK;
        return io_error(err, RESULT_TRANSPORT, "sending", e ? e : EPIPE);
    }
    size_t head = c->out.len;
    while (c->sent < head + c->body_len) {
        struct iovec iov[2];
        int count = 0;
        size_t from = c->sent > head ? c->sent - head : 0;
        if (c->sent < head)
            iov[count++] =
                (struct iovec){c->out.data + c->sent, head - c->sent};
        if (c->body_len > from)
            iov[count++] = (struct iovec){(char *)(uintptr_t)c->body + from,
                                          c->body_len - from};
        struct msghdr m = {0};
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)count;
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *events = POLLOUT;
            return RESULT_OK;
        }
        if (n < 0)
            return io_error(err, RESULT_TRANSPORT, "sending", errno);
        c->sent += (size_t)n;
    }
    return RESULT_OK;
}

static enum result send_request(struct http1_client *c, struct error_info *err)
{
    enum result r = send_begin(c, err);
    if (r != RESULT_OK)
        return r;
    return until_done(c, send_some, c->deadline_ms, "sending", err);
}

/* Reads once into c->in after in_len (step_fn); sets c->peer_closed when
 * the peer has ended the stream: over TLS only its close_notify does, and
 * a close without it is an error (RFC 8446 §6.1: the answer may have been
 * cut short by an attacker). */
static enum result recv_some(struct http1_client *c, short *events,
                             struct error_info *err)
{
    char *to = c->in + c->in_len;
    size_t room = c->in_cap - c->in_len, n = 0;
    if (c->ssl) {
        int rc = SSL_read_ex(c->ssl, to, room, &n);
        if (rc != 1) {
            int saved = errno;
            if (SSL_get_error(c->ssl, rc) == SSL_ERROR_ZERO_RETURN) {
                c->peer_closed = 1;
                return RESULT_OK;
            }
            errno = saved;
            int e = 0;
            if ((*events = tls_want(c, rc, &e)) != 0)
                return RESULT_OK;
            return io_error(err, RESULT_TRANSPORT, "reading", e);
        }
    } else {
        ssize_t got;
        do
            got = recv(c->fd, to, room, 0);
        while (got < 0 && errno == EINTR);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *events = POLLIN;
            return RESULT_OK;
        }
        if (got < 0)
            return io_error(err, RESULT_TRANSPORT, "reading", errno);
        c->peer_closed = got == 0;
        n = (size_t)got;
    }
    c->in_len += n;
    c->got_bytes |= n > 0;
    return RESULT_OK;
}

/* Moves the unread bytes to the start of c->in. */
static void compact(struct http1_client *c)
{
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
}

/* Reads more bytes into c->in. `*eof` when the peer ended the stream.
 * Under http1_step() nothing is read: the parser runs over the bytes
 * read so far, and running out of them marks the answer incomplete. */
static enum result fill(struct http1_client *c, int *eof,
                        struct error_info *err)
{
    if (c->stage == STAGE_RECV) {
        *eof = c->peer_closed;
        if (*eof)
            return RESULT_OK;
        c->incomplete = 1;
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "the answer is incomplete");
    }
    compact(c);
    if (c->in_len == c->in_cap)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "a line of the answer is over %zu bytes", c->in_cap);
    c->peer_closed = 0;
    enum result r = until_done(c, recv_some, c->deadline_ms, "reading", err);
    *eof = c->peer_closed;
    return r;
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

/* One answer into `resp`, after any interim 1xx answers (RFC 9110
 * §15.2). Sets `*keep` when the connection may carry another exchange. */
static enum result read_answer(struct http1_client *c,
                               struct http1_response *resp, int *keep,
                               struct error_info *err)
{
    enum result r;
    do
        r = read_head(c, resp, err);
    while (r == RESULT_OK && resp->status >= 100 && resp->status < 200);
    *keep = 0;
    return r == RESULT_OK ? read_body(c, resp, keep, err) : r;
}

/* Ends an exchange with `r`: the connection stays for the next one when
 * `keep`, else (and after any failure) it is dropped. */
static enum result end_exchange(struct http1_client *c, enum result r, int keep)
{
    if (r == RESULT_OK && c->ssl && c->served == 0)
        keep_session(c);
    if (r == RESULT_OK && keep)
        c->served++;
    else
        drop(c);
    return r;
}

/* One exchange on the current connection. */
static enum result exchange(struct http1_client *c, struct http1_response *resp,
                            struct error_info *err)
{
    c->got_bytes = 0;
    /* SSL_get_error() reads OpenSSL's error queue: it must start empty
     * (other code may have left errors there). A retry (WANT_READ,
     * WANT_WRITE) adds none, and any other failure ends the exchange. */
    if (c->ssl)
        ERR_clear_error();
    int keep = 0;
    enum result r = send_request(c, err);
    if (r == RESULT_OK)
        r = read_answer(c, resp, &keep, err);
    return end_exchange(c, r, keep);
}

/* What an exchange starts with, blocking or not: `resp` reset, the
 * request's head built (nothing is sent when it is refused), the
 * deadlines and the body noted. */
static enum result begin(struct http1_client *c,
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
    c->connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                : c->connect_timeout_ms;
    c->body = req->body;
    c->body_len = req->body ? req->body_len : 0;
    return RESULT_OK;
}

/* An idle kept-alive connection the peer closed fails at once with
 * nothing read: one more try on a fresh one (RFC 9112 §9.3.1). */
static int retry_fresh(const struct http1_client *c, enum result r, int reused,
                       int attempt)
{
    return r == RESULT_TRANSPORT && reused && !c->got_bytes && attempt == 0;
}

enum result http1_perform(struct http1_client *c,
                          const struct http1_request *req,
                          struct http1_response *resp, struct error_info *err)
{
    enum result r = begin(c, req, resp, err);
    if (r != RESULT_OK)
        return r;
    for (int attempt = 0;; attempt++) {
        int reused = c->fd >= 0 && c->served > 0;
        if (c->fd < 0 && (r = open_connection(c, err)) != RESULT_OK)
            return r;
        r = exchange(c, resp, err);
        if (!retry_fresh(c, r, reused, attempt))
            return r;
        buf_reset(&resp->body);
    }
}

/* ---- Non-blocking exchanges (http1_start, http1_step) ---------------- */

/* The most a non-blocking answer may take in c->in, head and framing
 * included: it is held whole until parsed. */
#define NB_MAX_ANSWER_BYTES (2 * 1024 * 1024)

/* An attempt of the started exchange: on the kept-alive connection when
 * there is one, else on a new one. */
static void attempt_begin(struct http1_client *c)
{
    c->reused = c->fd >= 0 && c->served > 0;
    c->stage = c->fd >= 0 ? STAGE_REQUEST : STAGE_CONNECT;
}

enum result http1_start(struct http1_client *c, const struct http1_request *req,
                        struct http1_response *resp, struct error_info *err)
{
    enum result r = begin(c, req, resp, err);
    if (r != RESULT_OK)
        return r;
    c->resp = resp;
    c->attempt = 0;
    attempt_begin(c);
    return RESULT_OK;
}

int http1_fd(const struct http1_client *c)
{
    return c->fd;
}

int64_t http1_wake_ms(const struct http1_client *c)
{
    return c->stage == STAGE_CONNECT || c->stage == STAGE_HANDSHAKE
               ? c->connect_deadline_ms
               : c->deadline_ms;
}

/* STAGE_CONNECT (step_fn): resolves the host, then tries its addresses
 * in turn as open_connection() does, each connect awaited in poll(). */
static enum result connect_step(struct http1_client *c, short *events,
                                struct error_info *err)
{
    if (c->fd < 0 && !c->addrs) {
        enum result r = resolve(c, &c->addrs, err);
        if (r != RESULT_OK)
            return r;
        c->addr = c->addrs;
        c->connect_errno = 0;
        c->connect_deadline_ms = connect_deadline(c);
    }
    for (;;) {
        if (c->fd >= 0) { /* a connect in progress ends when writable */
            struct pollfd p = {c->fd, POLLOUT, 0};
            if (poll(&p, 1, 0) <= 0) {
                *events = POLLOUT;
                return RESULT_OK;
            }
            int e = connect_result(c->fd);
            if (e == 0)
                break;
            close(c->fd);
            c->fd = -1;
            c->connect_errno = e;
            c->addr = c->addr->ai_next;
        }
        if (!c->addr)
            return connect_failed(c, c->connect_errno, err);
        int pending = 0;
        int fd = connect_start(c->addr, &pending);
        if (fd < 0) {
            c->connect_errno = errno;
            c->addr = c->addr->ai_next;
            continue;
        }
        c->fd = fd;
        if (!pending)
            break;
    }
    freeaddrinfo(c->addrs);
    c->addrs = c->addr = NULL;
    connected(c, c->fd);
    c->stage = c->tls ? STAGE_HANDSHAKE : STAGE_REQUEST;
    return c->tls ? tls_setup(c, err) : RESULT_OK;
}

/*
 * STAGE_RECV: reads all that has come, then parses the answer from its
 * start over the bytes read so far with the parser http1_perform() uses,
 * which then never waits (fill()): when the bytes run out the answer is
 * incomplete, and the step waits for more. Answers to pushes are small,
 * mostly one read; a bigger one is parsed again after each read.
 */
static enum result recv_answer(struct http1_client *c, short *events, int *keep,
                               struct error_info *err)
{
    /* A read that fails after the answer came (a peer that closes
     * without close_notify right after it) fails only an incomplete
     * answer; the connection then goes. */
    enum result failed = RESULT_OK;
    struct error_info why;
    error_clear(&why);
    while (!*events && !c->peer_closed && failed == RESULT_OK) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap >= NB_MAX_ANSWER_BYTES)
                return error_set(err, RESULT_TOO_LARGE, "HttpTransport",
                                 "the answer is over %d bytes",
                                 NB_MAX_ANSWER_BYTES);
            c->in_cap = c->in_cap * 2 < NB_MAX_ANSWER_BYTES
                            ? c->in_cap * 2
                            : NB_MAX_ANSWER_BYTES;
            c->in = xrealloc(c->in, c->in_cap);
        }
        failed = recv_some(c, events, &why);
    }
    enum result r = RESULT_OK;
    c->incomplete = 0;
    if (c->in_len > c->answer_off || c->peer_closed) {
        struct http1_response *resp = c->resp;
        resp->status = 0;
        resp->header_count = 0;
        buf_reset(&resp->body);
        c->in_off = c->answer_off;
        r = read_answer(c, resp, keep, err);
    } else {
        c->incomplete = 1;
    }
    if (c->incomplete && failed != RESULT_OK) {
        if (err)
            *err = why;
        return failed;
    }
    if (c->incomplete) {
        c->in_off = c->answer_off;
        return RESULT_OK; /* `*events` says what to wait for */
    }
    if (failed != RESULT_OK)
        *keep = 0;
    *events = 0;
    return r;
}

/* The failure when the current stage's deadline has passed. */
static enum result timed_out(struct http1_client *c, struct error_info *err)
{
    switch (c->stage) {
    case STAGE_CONNECT:
        return connect_failed(c, ETIMEDOUT, err);
    case STAGE_HANDSHAKE:
        return io_error(err, RESULT_TIMEOUT, "the TLS handshake", 0);
    case STAGE_RECV:
        return io_error(err, RESULT_TIMEOUT, "reading", 0);
    default:
        return io_error(err, RESULT_TIMEOUT, "sending", 0);
    }
}

int http1_step(struct http1_client *c, short *events, enum result *result,
               struct error_info *err)
{
    enum result r = RESULT_OK;
    int keep = 0, done = 0;
    *events = 0;
    /* SSL_get_error() reads the thread's error queue, where another
     * client's step may have left errors. */
    if (c->ssl)
        ERR_clear_error();
    while (r == RESULT_OK && !*events && !done) {
        switch (c->stage) {
        case STAGE_IDLE:
            *result = error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                                "no exchange was started");
            return 1;
        case STAGE_CONNECT:
            r = connect_step(c, events, err);
            break;
        case STAGE_HANDSHAKE:
            r = tls_handshake(c, events, err);
            if (r == RESULT_OK && !*events)
                c->stage = STAGE_REQUEST;
            break;
        case STAGE_REQUEST:
            compact(c);
            c->got_bytes = 0;
            c->peer_closed = 0;
            r = send_begin(c, err);
            c->stage = STAGE_SEND;
            break;
        case STAGE_SEND:
            r = send_some(c, events, err);
            if (r == RESULT_OK && !*events) {
                c->stage = STAGE_RECV;
                c->answer_off = c->in_off;
                *events = POLLIN; /* the answer is a round trip away */
            }
            break;
        case STAGE_RECV:
            r = recv_answer(c, events, &keep, err);
            done = r == RESULT_OK && !*events;
            break;
        }
    }
    if (r == RESULT_OK && !done) {
        int64_t by = http1_wake_ms(c);
        if (!by || clock_monotonic_ms() < by)
            return 0;
        r = timed_out(c, err);
    }
    c->stage = STAGE_IDLE;
    r = end_exchange(c, r, keep && !c->peer_closed);
    if (retry_fresh(c, r, c->reused, c->attempt)) {
        c->attempt++;
        buf_reset(&c->resp->body);
        attempt_begin(c);
        return http1_step(c, events, result, err);
    }
    *result = r;
    return 1;
}

/* HTTP/1.1 over one plain keep-alive TCP socket (the Runtime API). */
#include "http1.h"

#include <errno.h>
#include <fcntl.h>
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

#include "clock.h"
#include "xmalloc.h"

/*
 * Why not libcurl here: the Runtime API is plain HTTP/1.1 on loopback with
 * a fixed shape (Lambda Developer Guide, "Using the Lambda runtime API for
 * custom runtimes"), and each libcurl transfer costs 100-130k instructions
 * of option setting, header lists and state machine per event; this
 * client's exchange is a write and a read or two. HTTP/1.1 message syntax
 * and framing follow RFC 9112.
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
    struct buf out;      /* the request head being sent */
    int64_t deadline_ms; /* of the current exchange; 0 = none */
    int got_bytes;       /* of the current answer, for the retry rule */
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

struct http1_client *http1_client_new(const char *host, int port,
                                      long connect_timeout_ms)
{
    struct http1_client *c = xcalloc(1, sizeof(*c));
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        snprintf(c->host, sizeof(c->host), "%.*s", (int)(n - 2), host + 1);
        snprintf(c->host_hdr, sizeof(c->host_hdr), "%s:%d", host, port);
    } else {
        snprintf(c->host, sizeof(c->host), "%s", host);
        snprintf(c->host_hdr, sizeof(c->host_hdr),
                 strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    }
    snprintf(c->port, sizeof(c->port), "%d", port);
    c->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 1000;
    c->fd = -1;
    c->in = xmalloc(IN_BYTES);
    buf_init(&c->out, MAX_REQUEST_HEAD_BYTES);
    return c;
}

static void drop(struct http1_client *c)
{
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
    buf_cleanup(&c->out);
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

/* Connects to one address within the connect timeout; the fd or -1. */
static int connect_one(const struct addrinfo *a, long timeout_ms)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    a->ai_protocol);
    if (fd < 0)
        return -1;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS &&
        wait_fd(fd, POLLOUT, clock_monotonic_ms() + timeout_ms)) {
        int so = 0;
        socklen_t len = sizeof(so);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 && so == 0)
            rc = 0;
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    /* Blocking from here on; the exchange's deadline is kept with poll(). */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static enum result open_connection(struct http1_client *c,
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
    for (const struct addrinfo *a = list; a && c->fd < 0; a = a->ai_next) {
        c->fd = connect_one(a, c->connect_timeout_ms);
        saved = errno;
    }
    freeaddrinfo(list);
    if (c->fd < 0)
        return error_set(err, RESULT_TRANSPORT, "HttpTransport",
                         "cannot connect to %s: %s", c->host_hdr,
                         saved ? strerror(saved) : "timed out");
    c->served = 0;
    c->in_off = c->in_len = 0;
    return RESULT_OK;
}

/* A field name is a token (RFC 9110 §5.1, §5.6.2). */
static int token_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch);
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
        if (!token_char(*p))
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
    for (size_t i = 0; i < req->header_count; i++)
        if (!safe_token(req->headers[i].name) ||
            !safe_value(req->headers[i].value))
            return error_set(err, RESULT_INVALID_INPUT, "HttpInvalidRequest",
                             "header %.64s: a name must be a token and a "
                             "value must not hold CR, LF or control bytes",
                             req->headers[i].name);
    buf_reset(&c->out);
    enum result r =
        buf_append_strs(&c->out, req->method, " ", req->path,
                        " HTTP/1.1\r\nHost: ", c->host_hdr, "\r\n", NULL);
    if (r == RESULT_OK && strcmp(req->method, "GET") != 0) {
        char len[24];
        snprintf(len, sizeof(len), "%zu", req->body_len);
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

static enum result io_error(struct error_info *err, enum result r,
                            const char *what, int e)
{
    if (r == RESULT_TIMEOUT)
        return error_set(err, r, "HttpTimeout", "%s: timed out", what);
    return error_set(err, r, "HttpTransport", "%s: %s", what,
                     e ? strerror(e) : "connection closed by the peer");
}

/* Writes the head and the body in one go (sendmsg, partial writes
 * continued); MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE. */
static enum result send_request(struct http1_client *c, const void *body,
                                size_t body_len, struct error_info *err)
{
    struct iovec iov[2] = {{c->out.data, c->out.len},
                           {(void *)(uintptr_t)body, body ? body_len : 0}};
    struct iovec *v = iov;
    int count = body_len ? 2 : 1;
    while (count) {
        if (c->deadline_ms && !wait_fd(c->fd, POLLOUT, c->deadline_ms))
            return io_error(err, RESULT_TIMEOUT, "sending", 0);
        struct msghdr m = {0};
        m.msg_iov = v;
        m.msg_iovlen = (size_t)count;
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
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
    for (;;) {
        if (c->deadline_ms && !wait_fd(c->fd, POLLIN, c->deadline_ms))
            return io_error(err, RESULT_TIMEOUT, "reading", 0);
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_BYTES - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
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
                bad = !token_char((unsigned char)*q);
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
    if (resp->status == 204 || resp->status == 304)
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
        if (n > resp->body.max_bytes)
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
    for (int attempt = 0;; attempt++) {
        int reused = c->fd >= 0 && c->served > 0;
        if (c->fd < 0 && (r = open_connection(c, err)) != RESULT_OK)
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

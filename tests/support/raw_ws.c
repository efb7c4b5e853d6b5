/* A minimal WebSocket client on plain sockets (RFC 6455), for thousands. */
#include "raw_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n, int timeout_ms)
{
    char *c = p;
    while (n) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, timeout_ms) != 1)
            return -1;
        ssize_t k = recv(fd, c, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int raw_ws_open(int port, const char *path, int timeout_ms, char *why,
                size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    size_t cap = strlen(path) + 512, len = 0;
    char *req = malloc(cap), head[2048];
    int n = snprintf(req, cap,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        write_all(fd, req, (size_t)n) != 0) {
        snprintf(why, size, "connect: %s", strerror(errno));
        goto fail;
    }
    /* The response head, byte by byte: nothing after it may be eaten. */
    while (len < sizeof(head) - 1) {
        if (read_all(fd, head + len, 1, timeout_ms) != 0) {
            snprintf(why, size, "no upgrade answer");
            goto fail;
        }
        head[++len] = '\0';
        if (len >= 4 && !memcmp(head + len - 4, "\r\n\r\n", 4))
            break;
    }
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        snprintf(why, size, "upgrade refused: %.60s", head);
        goto fail;
    }
    free(req);
    return fd;
fail:
    free(req);
    if (fd >= 0)
        close(fd);
    return -1;
}

int raw_ws_send(int fd, int opcode, const char *data, size_t len)
{
    unsigned char h[14];
    size_t n = 0;
    h[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[n++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        h[n++] = 0x80 | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    /* RFC 6455 §5.3: a client masks every frame it sends. */
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(h + n, mask, 4);
    n += 4;
    char *masked = malloc(len + n);
    memcpy(masked, h, n);
    for (size_t i = 0; i < len; i++)
        masked[n + i] = (char)(data[i] ^ mask[i % 4]);
    int r = write_all(fd, masked, n + len);
    free(masked);
    return r;
}

int raw_ws_read(int fd, int timeout_ms, char **payload, size_t *len)
{
    unsigned char h[2];
    if (read_all(fd, h, 2, timeout_ms) != 0)
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126 || n == 127) {
        unsigned char ext[8];
        size_t k = n == 126 ? 2 : 8;
        if (read_all(fd, ext, k, timeout_ms) != 0)
            return -1;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | ext[i];
    }
    if (n > 64 * 1024 * 1024)
        return -1;
    *payload = calloc(1, (size_t)n + 1);
    if (n && read_all(fd, *payload, (size_t)n, timeout_ms) != 0) {
        free(*payload);
        *payload = NULL;
        return -1;
    }
    *len = (size_t)n;
    return h[0] & 0x0f;
}

int raw_ws_close_code(int fd, int timeout_ms)
{
    for (;;) {
        char *p = NULL;
        size_t n = 0;
        int op = raw_ws_read(fd, timeout_ms, &p, &n);
        if (op < 0)
            return -1;
        int code = op == 8 && n >= 2
                       ? ((unsigned char)p[0] << 8 | (unsigned char)p[1])
                       : 0;
        free(p);
        if (op == 8)
            return code;
    }
}

/* Fuzz target: Runtime API answers (status line, headers, body) to the client.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_aws.h"
#include "runtime_api.h"

/*
 * The Runtime API client speaks HTTP/1.1 over its own socket
 * (runtime/http1.c), so the answer goes through a real loopback server:
 * the whole parser (status line, headers, Content-Length, chunked and
 * close-delimited bodies) sees the fuzzed bytes exactly as sent. The
 * server answers one request per connection and then closes it, so no
 * answer can leave the client waiting.
 */
static struct {
    pthread_mutex_t lock;
    uint8_t next[1 << 16]; /* the raw answer to GET /next (a copy: the
                            * server may still be writing the last one
                            * when libFuzzer frees its input) */
    size_t next_len;
    const char *post; /* the answer to every POST */
} answer = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Reads the request head and any Content-Length body; 0 on success. */
static int read_request(int fd, int *is_get)
{
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof(buf) - 1)
            return -1;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *is_get = strncmp(buf, "GET ", 4) == 0;
    size_t body = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end)
        body = (size_t)strtoul(cl + 17, NULL, 10);
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    return 0;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w, n -= (size_t)w;
    }
}

static void *serve(void *arg)
{
    int lfd = *(int *)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int is_get = 0;
        if (read_request(fd, &is_get) == 0) {
            pthread_mutex_lock(&answer.lock);
            if (is_get)
                write_all(fd, answer.next, answer.next_len);
            else
                write_all(fd, answer.post, strlen(answer.post));
            pthread_mutex_unlock(&answer.lock);
        }
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

/* Starts the loopback server once; its "127.0.0.1:port" goes to `addr`. */
static void start_server(char *addr, size_t size)
{
    static int lfd;
    static pthread_t thread;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    fake_aws_require(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sl) == 0 &&
                         listen(lfd, 16) == 0 &&
                         getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0,
                     "loopback listener");
    fake_aws_require(pthread_create(&thread, NULL, serve, &lfd) == 0,
                     "server thread");
    snprintf(addr, size, "127.0.0.1:%d", ntohs(sa.sin_port));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: one byte choosing the answer to the POSTs (respond, error),
 * then the raw HTTP answer to GET /next, sent as is.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const posts[] = {
        ("HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n"
         "{\"status\":\"OK\"}\n"),
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 500 Internal Server Error\r\n\r\n",
    };
    static struct runtime_api *api;
    if (size < 1)
        return 0;
    if (!api) {
        char addr[64];
        struct error_info e;
        start_server(addr, sizeof(addr));
        api = runtime_api_new(addr, &e);
        fake_aws_require(api != NULL, "runtime_api_new");
    }
    pthread_mutex_lock(&answer.lock);
    answer.post = posts[data[0] % 4];
    answer.next_len =
        size - 1 < sizeof(answer.next) ? size - 1 : sizeof(answer.next);
    memcpy(answer.next, data + 1, answer.next_len);
    pthread_mutex_unlock(&answer.lock);

    struct invocation inv;
    invocation_init(&inv);
    struct error_info err;
    error_clear(&err);
    enum result r = runtime_api_next(api, &inv, &err);
    if (r == RESULT_OK) {
        fake_aws_require(inv.request_id[0] != '\0', "no request id");
        fake_aws_require(inv.deadline_ms > 0, "no deadline");
        (void)invocation_remaining_ms(&inv, 0);
        /* The id comes from outside and goes into the path. */
        error_clear(&err);
        (void)runtime_api_respond(api, inv.request_id, "{}", 2, &err);
        error_clear(&err);
        (void)runtime_api_fail(api, inv.request_id, inv.trace_id,
                               inv.function_arn, &err);
    }
    invocation_cleanup(&inv);
    return 0;
}

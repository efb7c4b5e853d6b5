/*
 * Instructions per fanout_send(), counted by callgrind: N subscribers
 * (default 100), one small message each, through a Management API
 * stand-in in a child process that answers every POST at once (200,
 * keep-alive). ROUNDS sends (default 2): the first opens the
 * connections, the ones after reuse them. Run as
 *   valgrind --tool=callgrind --toggle-collect=fanout_send \
 *       build/release/fanout_cg [N] [ROUNDS]
 * and compare the totals for ROUNDS 1 and 2: the difference is one send
 * on kept-alive connections. Prints each target's result; exits 1 when
 * one was not delivered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fanout.h"
#include "net_util.h"

#define MAX_CONNS 1100
#define IN_BYTES 16384

struct peer {
    int fd;
    size_t len;
    char in[IN_BYTES];
};

/* Answers each whole request (head and Content-Length body) with 200. */
static int serve_some(struct peer *p)
{
    ssize_t n = recv(p->fd, p->in + p->len, sizeof(p->in) - p->len, 0);
    if (n <= 0)
        return -1;
    p->len += (size_t)n;
    for (;;) {
        char *end = memmem(p->in, p->len, "\r\n\r\n", 4);
        if (!end)
            return 0;
        size_t head = (size_t)(end - p->in) + 4, body = 0;
        char *cl = memmem(p->in, head, "Content-Length: ", 16);
        if (cl)
            body = strtoul(cl + 16, NULL, 10);
        if (p->len < head + body)
            return 0;
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if (send(p->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
            return -1;
        memmove(p->in, p->in + head + body, p->len - head - body);
        p->len -= head + body;
    }
}

static void standin(int lfd)
{
    static struct pollfd fds[MAX_CONNS + 1];
    static struct peer peers[MAX_CONNS];
    nfds_t n = 1;
    fds[0] = (struct pollfd){lfd, POLLIN, 0};
    for (;;) {
        if (poll(fds, n, -1) < 0 && errno != EINTR)
            _exit(1);
        for (nfds_t i = n; i-- > 1;)
            if (fds[i].revents && serve_some(&peers[i - 1]) != 0) {
                close(fds[i].fd);
                fds[i] = fds[n - 1];
                peers[i - 1] = peers[n - 2];
                n--;
            }
        if (fds[0].revents && n <= MAX_CONNS) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                fds[n] = (struct pollfd){fd, POLLIN, 0};
                peers[n - 1].fd = fd;
                peers[n - 1].len = 0;
                n++;
            }
        }
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    int rounds = argc > 2 ? atoi(argv[2]) : 2;
    if (n < 1 || rounds < 1)
        return 2;
    int port;
    int lfd = net_listen(1024, &port);
    if (lfd < 0)
        return 1;
    pid_t child = fork();
    if (child == 0)
        standin(lfd);
    close(lfd);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/prod",
             port);
    struct sigv4_credentials creds = {"AKIDBENCH", "bench/fake/secret", NULL};
    struct fanout *f = fanout_new("us-east-1", &creds, 0);
    struct fanout_target *t = calloc((size_t)n, sizeof(*t));
    char(*ids)[24] = calloc((size_t)n, sizeof(*ids));
    static const char frame[] = "{\"type\":\"complete\",\"request_id\":\"req-"
                                "1\",\"result\":{\"ok\":true}}";
    struct fanout_msg msg = {frame, sizeof(frame) - 1};
    int failed = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            snprintf(ids[i], sizeof(ids[i]), "conn-%05d=", i);
            t[i] = (struct fanout_target){.endpoint = endpoint,
                                          .connection_id = ids[i],
                                          .msgs = &msg,
                                          .count = 1};
        }
        fanout_send(f, t, (size_t)n, clock_now_ms() + 60000);
        for (int i = 0; i < n; i++)
            if (t[i].result != RESULT_OK) {
                fprintf(stderr, "fanout_cg: %s: %s\n", ids[i],
                        t[i].err.message);
                failed = 1;
            }
    }
    printf("fanout_cg: %d subscribers x %d rounds, peak %d in flight: %s\n", n,
           rounds, fanout_peak_in_flight(f), failed ? "FAILED" : "ok");
    fanout_free(f);
    free(t);
    free(ids);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return failed;
}

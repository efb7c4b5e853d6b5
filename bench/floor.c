/*
 * The machine's floor for init: the least a Lambda custom runtime can do
 * before its first `GET /next` (read AWS_LAMBDA_RUNTIME_API, connect,
 * send the request), linked as the bootstrap is (dynamic glibc). The
 * driver times it exactly as it times the functions (exec → the first
 * GET /next), so that the init row can say how much of a function's
 * init is its own and how much is exec, the dynamic loader and page
 * faults on this machine. It then waits to be killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *colon = api ? strrchr(api, ':') : NULL;
    if (!colon || colon - api >= 64) {
        fprintf(stderr, "floor: AWS_LAMBDA_RUNTIME_API must be host:port\n");
        return 2;
    }
    char host[64];
    memcpy(host, api, (size_t)(colon - api));
    host[colon - api] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon + 1))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("floor: connect");
        return 1;
    }
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
                     "Host: %s\r\n\r\n",
                     api);
    if (n < 0 || write(fd, req, (size_t)n) != n) {
        perror("floor: write");
        return 1;
    }
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) /* until the driver ends us */
        ;
    close(fd);
    return 0;
}

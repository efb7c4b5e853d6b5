/* `make bench`: fan-out, capacity units per request, echo via the gateway. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_rapi.h"
#include "connections.h"
#include "ddb.h"
#include "ddb_local.h"
#include "events.h"
#include "net_util.h"
#include "raw_ws.h"
#include "requests.h"
#include "store.h"
#include "subscriptions.h"
#include "tables.h"
#include "test_gateway.h"
#include "words.h"
#include "xmalloc.h"

/*
 * Three figures for issue 16, each side by side with the peers where
 * they can take part (scripts/bench passes the same BENCH_* settings as
 * to bench/driver.c: BENCH_PEERS names the peers, BENCH_PEER_<NAME> is
 * the command of each and BENCH_PEER_<NAME>_CWD its directory):
 *  - fan-out: the time to deliver one `complete` to N = 1, 10, 100, 1,000
 *    subscribers through a Management API stand-in that answers every
 *    POST after PUSH_DELAY_MS (10 ms, as PostToConnection takes a few to
 *    tens of ms), measured from the stream event's hand-over to the
 *    function's answer, with the stand-in's window (first complete POST
 *    in to last one answered) and its peak of POSTs in flight;
 *  - DynamoDB capacity units per async request (the enqueue message and
 *    its stream run with one subscriber), from ReturnConsumedCapacity:
 *    a proxy in front of DynamoDB Local adds "ReturnConsumedCapacity":
 *    "TOTAL" to every data-plane request and sums what comes back (the
 *    consumption is what AWS would bill; asking for it changes nothing);
 *  - echo latency through the local gateway (Streamer only: the gateway
 *    runs one bootstrap executable).
 * Writes BENCH_FANOUT_OUT (Markdown). Fails only when a delivery is
 * wrong (a subscriber without exactly one complete) or a run breaks.
 */

#define PUSH_DELAY_MS 10
#define MAX_IMPLS 4 /* Streamer and up to three peers */
#define WAIT_MS 120000
#define STANDIN_MAX 4096
#define USER "user-bench"
#define TENANT "tenant-bench"

static const struct sigv4_credentials CREDS = {"AKIDBENCH", "bench/fake/secret",
                                               NULL};

static int64_t now_ns(void)
{
    return bench_now_ns();
}

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int listen_any(int *port)
{
    int fd = net_listen(4096, port);
    if (fd < 0) {
        perror("fanout_bench: listen");
        exit(1);
    }
    return fd;
}

/* ---- The Management API stand-in: answers after PUSH_DELAY_MS ------- */

struct sconn {
    int fd;
    char *in;
    size_t len, cap;
    int64_t due_ns; /* 0: no answer owed */
    int complete;   /* the owed answer is for a complete */
};

static struct {
    int lfd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    struct sconn c[STANDIN_MAX];
    int n;
    long posts, completes, in_flight, peak;
    int64_t first_ns, last_ns; /* completes: first in, last answered */
    char **ids;                /* connection ids that got a complete */
    size_t nids, capids;
} S;

static void standin_reset(void)
{
    pthread_mutex_lock(&S.lock);
    S.posts = S.completes = S.peak = 0;
    S.first_ns = S.last_ns = 0;
    for (size_t i = 0; i < S.nids; i++)
        free(S.ids[i]);
    S.nids = 0;
    pthread_mutex_unlock(&S.lock);
}

/* One whole request in `c->in`: note it and owe its answer. */
static void standin_request(struct sconn *c, size_t head_len, size_t body_len)
{
    char target[512] = "";
    sscanf(c->in, "%*s %511s", target);
    const char *id = strstr(target, "connections/");
    int complete =
        memmem(c->in + head_len, body_len, "\"type\":\"complete\"", 17) != NULL;
    int64_t t = now_ns();
    pthread_mutex_lock(&S.lock);
    S.posts++;
    if (++S.in_flight > S.peak)
        S.peak = S.in_flight;
    if (complete) {
        S.completes++;
        if (!S.first_ns)
            S.first_ns = t;
        if (S.nids == S.capids) {
            S.capids = S.capids ? 2 * S.capids : 1024;
            S.ids = xrealloc(S.ids, S.capids * sizeof(*S.ids));
        }
        S.ids[S.nids++] = xstrdup(id ? id + 12 : "?");
    }
    pthread_mutex_unlock(&S.lock);
    c->due_ns = t + (int64_t)PUSH_DELAY_MS * 1000000;
    c->complete = complete;
    memmove(c->in, c->in + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
}

static void standin_drop(struct sconn *c)
{
    close(c->fd);
    free(c->in);
    if (c->due_ns) {
        pthread_mutex_lock(&S.lock);
        S.in_flight--;
        pthread_mutex_unlock(&S.lock);
    }
    *c = S.c[--S.n];
}

static void standin_read(struct sconn *c)
{
    if (c->cap - c->len < 4096) {
        c->cap = c->cap ? 2 * c->cap : 16384;
        c->in = xrealloc(c->in, c->cap + 1);
    }
    ssize_t k = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
    if (k <= 0) {
        c->fd = -c->fd - 1; /* marked; dropped by the loop */
        return;
    }
    c->len += (size_t)k;
    c->in[c->len] = '\0';
    char *end = memmem(c->in, c->len, "\r\n\r\n", 4);
    if (!end || c->due_ns)
        return;
    size_t head_len = (size_t)(end - c->in) + 4;
    const char *cl = strcasestr(c->in, "\r\ncontent-length:");
    size_t body_len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    if (c->len >= head_len + body_len)
        standin_request(c, head_len, body_len);
}

static void *standin_main(void *arg)
{
    (void)arg;
    static struct pollfd p[STANDIN_MAX + 1];
    for (;;) {
        int64_t t = now_ns(), next = t + 50000000;
        p[0] = (struct pollfd){S.lfd, POLLIN, 0};
        for (int i = 0; i < S.n; i++) {
            p[i + 1] = (struct pollfd){S.c[i].fd, POLLIN, 0};
            if (S.c[i].due_ns && S.c[i].due_ns < next)
                next = S.c[i].due_ns;
        }
        int64_t wait = next - t;
        struct timespec ts = {wait > 0 ? wait / 1000000000 : 0,
                              wait > 0 ? wait % 1000000000 : 0};
        int nfds = S.n + 1;
        if (ppoll(p, (nfds_t)nfds, &ts, NULL) > 0) {
            for (int i = 0; i < nfds - 1; i++)
                if (p[i + 1].revents)
                    standin_read(&S.c[i]);
            if ((p[0].revents & POLLIN) && S.n < STANDIN_MAX) {
                int fd = accept4(S.lfd, NULL, NULL, SOCK_CLOEXEC);
                int one = 1;
                if (fd >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    S.c[S.n++] = (struct sconn){.fd = fd};
                }
            }
        }
        t = now_ns();
        for (int i = 0; i < S.n; i++) {
            struct sconn *c = &S.c[i];
            if (c->fd >= 0 && c->due_ns && c->due_ns <= t) {
                static const char ok[] =
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                if (send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
                    c->fd = -c->fd - 1;
                pthread_mutex_lock(&S.lock);
                S.in_flight--;
                if (c->complete)
                    S.last_ns = t;
                pthread_mutex_unlock(&S.lock);
                c->due_ns = 0;
            }
        }
        for (int i = S.n - 1; i >= 0; i--)
            if (S.c[i].fd < 0) {
                S.c[i].fd = -S.c[i].fd - 1;
                standin_drop(&S.c[i]);
            }
    }
    return NULL;
}

/* ---- The capacity proxy: ReturnConsumedCapacity on every call ------- */

static struct {
    int lfd, port;
    char upstream[64];
    pthread_mutex_t lock;
    int counting;
    double rcu, wcu;
    long calls;
} P;

static int is_read(const char *op)
{
    return !strcmp(op, "GetItem") || !strcmp(op, "BatchGetItem") ||
           !strcmp(op, "Query") || !strcmp(op, "Scan") ||
           !strcmp(op, "TransactGetItems");
}

static int is_write(const char *op)
{
    return !strcmp(op, "PutItem") || !strcmp(op, "UpdateItem") ||
           !strcmp(op, "DeleteItem") || !strcmp(op, "BatchWriteItem") ||
           !strcmp(op, "TransactWriteItems");
}

/* Sums CapacityUnits of a ConsumedCapacity object or array. */
static double units(const cJSON *cc)
{
    double sum = 0;
    if (cJSON_IsArray(cc)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cc) sum += units(e);
        return sum;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(cc, "CapacityUnits");
    return cJSON_IsNumber(u) ? u->valuedouble : 0;
}

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
    struct buf *b = userdata;
    return buf_append(b, p, size * n) == RESULT_OK ? size * n : 0;
}

static size_t collect_header(char *p, size_t size, size_t n, void *userdata)
{
    struct buf *b = userdata;
    if (!strncasecmp(p, "x-amz-crc32:", 12) ||
        !strncasecmp(p, "x-amzn-requestid:", 17) ||
        !strncasecmp(p, "content-type:", 13))
        return buf_append(b, p, size * n) == RESULT_OK ? size * n : 0;
    return size * n;
}

static void header_value(const char *head, const char *name, char *out,
                         size_t size)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s:", name);
    const char *h = strcasestr(head, key);
    out[0] = '\0';
    if (!h)
        return;
    h += strlen(key);
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, "\r\n");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), h);
}

/* One client connection: requests forwarded one after the other. */
static void *proxy_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    CURL *curl = curl_easy_init();
    char *in = xmalloc(1 << 20);
    size_t len = 0, cap = 1 << 20;
    for (;;) {
        char *end;
        while (!(end = memmem(in, len, "\r\n\r\n", 4))) {
            if (len == cap)
                goto out;
            ssize_t k = recv(fd, in + len, cap - len, 0);
            if (k <= 0)
                goto out;
            len += (size_t)k;
        }
        *end = '\0';
        size_t head_len = (size_t)(end - in) + 4;
        char cl[32], target[128], ctype[128], auth[1024], date[64];
        header_value(in, "content-length", cl, sizeof(cl));
        header_value(in, "x-amz-target", target, sizeof(target));
        header_value(in, "content-type", ctype, sizeof(ctype));
        header_value(in, "authorization", auth, sizeof(auth));
        header_value(in, "x-amz-date", date, sizeof(date));
        size_t body_len = strtoul(cl, NULL, 10);
        if (head_len + body_len > cap) {
            cap = head_len + body_len;
            in = xrealloc(in, cap);
        }
        while (len < head_len + body_len) {
            ssize_t k = recv(fd, in + len, cap - len, 0);
            if (k <= 0)
                goto out;
            len += (size_t)k;
        }
        const char *op = strchr(target, '.') ? strchr(target, '.') + 1 : "";
        cJSON *body = cJSON_ParseWithLength(in + head_len, body_len);
        if (body && (is_read(op) || is_write(op)))
            cJSON_AddStringToObject(body, "ReturnConsumedCapacity", "TOTAL");
        char *sent = body ? cJSON_PrintUnformatted(body) : NULL;
        cJSON_Delete(body);
        struct curl_slist *h = NULL;
        char line[1200];
        snprintf(line, sizeof(line), "X-Amz-Target: %s", target);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "Authorization: %s", auth);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "X-Amz-Date: %s", date);
        h = curl_slist_append(h, line);
        h = curl_slist_append(h, "Expect:");
        struct buf resp, heads;
        buf_init(&resp, 64 << 20);
        buf_init(&heads, 64 << 10);
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, P.upstream);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, sent ? sent : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(sent ? strlen(sent) : 0));
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &heads);
        long status = 502;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        cJSON_free(sent);
        cJSON *r = cJSON_ParseWithLength(resp.data ? resp.data : "", resp.len);
        double u =
            units(cJSON_GetObjectItemCaseSensitive(r, "ConsumedCapacity"));
        cJSON_Delete(r);
        pthread_mutex_lock(&P.lock);
        if (P.counting) {
            P.calls++;
            if (is_read(op))
                P.rcu += u;
            else if (is_write(op))
                P.wcu += u;
        }
        pthread_mutex_unlock(&P.lock);
        char head[1024];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %ld X\r\n%sContent-Length: %zu\r\n\r\n",
                         status, buf_str(&heads), resp.len);
        int ok = send(fd, head, (size_t)n, MSG_NOSIGNAL) == n &&
                 (resp.len == 0 || send(fd, resp.data, resp.len,
                                        MSG_NOSIGNAL) == (ssize_t)resp.len);
        buf_cleanup(&resp);
        buf_cleanup(&heads);
        if (!ok)
            goto out;
        memmove(in, in + head_len + body_len, len - head_len - body_len);
        len -= head_len + body_len;
    }
out:
    curl_easy_cleanup(curl);
    free(in);
    close(fd);
    return NULL;
}

static void *proxy_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept4(P.lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_t t;
        if (pthread_create(&t, NULL, proxy_conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

/* ---- The functions ------------------------------------------------- */

struct impl {
    const char *name;
    char **argv;
    const char *cwd;
    struct store store; /* its tables, through DynamoDB Local directly */
    pid_t pid;
    /* figures */
    double fan_ms[4], window_ms[4];
    long peak[4];
    double rcu, wcu;
    long calls;
    int failures;
};

static struct bench_rapi *rapi;
static struct events *events;
static struct ddb *ddb;
static pid_t child = -1;

static void on_signal(int sig)
{
    if (child > 0)
        kill(child, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void table_names(const char *impl, char names[3][64])
{
    snprintf(names[0], 64, "fan_%s_connections", impl);
    snprintf(names[1], 64, "fan_%s_requests", impl);
    snprintf(names[2], 64, "fan_%s_subscriptions", impl);
}

static pid_t start(struct impl *m, const char *ddb_url)
{
    char names[3][64], e[40][1024];
    table_names(m->name, names);
    int n = 0;
    snprintf(e[n++], 1024, "PATH=%s", env_or("PATH", "/usr/bin:/bin"));
    snprintf(e[n++], 1024, "HOME=%s", env_or("HOME", "/tmp"));
    snprintf(e[n++], 1024, "LANG=C.UTF-8");
    snprintf(e[n++], 1024, "AWS_LAMBDA_RUNTIME_API=%s",
             bench_rapi_address(rapi));
    snprintf(e[n++], 1024, "AWS_REGION=us-east-1");
    snprintf(e[n++], 1024, "AWS_DEFAULT_REGION=us-east-1");
    snprintf(e[n++], 1024, "AWS_ACCESS_KEY_ID=%s", CREDS.access_key_id);
    snprintf(e[n++], 1024, "AWS_SECRET_ACCESS_KEY=%s", CREDS.secret_access_key);
    snprintf(e[n++], 1024, "AWS_ENDPOINT_URL_DYNAMODB=%s", ddb_url);
    snprintf(e[n++], 1024, "AWS_LAMBDA_FUNCTION_NAME=fanout-%s", m->name);
    snprintf(e[n++], 1024, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128");
    snprintf(e[n++], 1024, "AWS_LAMBDA_LOG_LEVEL=WARN");
    snprintf(e[n++], 1024, "CONNECTIONS_TABLE=%s", names[0]);
    snprintf(e[n++], 1024, "REQUESTS_TABLE=%s", names[1]);
    snprintf(e[n++], 1024, "SUBSCRIPTIONS_TABLE=%s", names[2]);
    snprintf(e[n++], 1024, "WEBSOCKET_ENDPOINT=http://127.0.0.1:%d/prod",
             S.port);
    snprintf(e[n++], 1024, "LAMBDA_TASK_ROOT=%s", m->cwd ? m->cwd : ".");
    snprintf(e[n++], 1024, "_HANDLER=index.handler");
    char *envp[41];
    for (int i = 0; i < n; i++)
        envp[i] = e[i];
    envp[n] = NULL;
    char log[1024];
    snprintf(log, sizeof(log), "%s/fanout-%s.log",
             env_or("BENCH_WORK", "build/bench"), m->name);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (m->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, m->cwd);
    pid_t pid;
    int rc = posix_spawnp(&pid, m->argv[0], &fa, NULL, m->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "fanout_bench: cannot start %s: %s\n", m->argv[0],
                strerror(rc));
        return -1;
    }
    child = pid;
    bench_rapi_watch(rapi, pid);
    return pid;
}

static void stop(pid_t pid)
{
    int64_t at;
    if (bench_rapi_wait_next(rapi, 5000, &at) == 0)
        bench_rapi_refuse_next(rapi);
    for (int i = 0; i < 300 && waitpid(pid, NULL, WNOHANG) != pid; i++)
        usleep(10000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    child = -1;
}

/* The stored item of `request_id`, as a stream batch of one INSERT. */
static char *stream_event(struct impl *m, const char *request_id)
{
    char names[3][64];
    table_names(m->name, names);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "TableName", names[1]);
    cJSON_AddStringToObject(req, "FilterExpression", "request_id = :r");
    cJSON *v = cJSON_AddObjectToObject(req, "ExpressionAttributeValues");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(v, ":r"), "S", request_id);
    cJSON_AddTrueToObject(req, "ConsistentRead");
    cJSON *resp = NULL;
    struct error_info err;
    enum result r = ddb_call(ddb, "Scan", req, wall_ms() + 30000, &resp, &err);
    cJSON_Delete(req);
    cJSON *items = cJSON_GetObjectItemCaseSensitive(resp, "Items");
    if (r != RESULT_OK || cJSON_GetArraySize(items) != 1) {
        fprintf(stderr, "fanout_bench: request %s not found: %s\n", request_id,
                err.message);
        cJSON_Delete(resp);
        return NULL;
    }
    cJSON *ev = cJSON_CreateObject();
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ev, "Records"), rec);
    cJSON_AddStringToObject(rec, "eventID", request_id);
    cJSON_AddStringToObject(rec, "eventName", "INSERT");
    cJSON_AddStringToObject(rec, "eventSource", "aws:dynamodb");
    cJSON *d = cJSON_AddObjectToObject(rec, "dynamodb");
    cJSON_AddItemToObject(d, "NewImage", cJSON_DetachItemFromArray(items, 0));
    cJSON_AddStringToObject(d, "SequenceNumber", "100000000000000000001");
    cJSON_AddStringToObject(d, "StreamViewType", "NEW_IMAGE");
    cJSON_Delete(resp);
    char *text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    return text;
}

static int add_connection(struct impl *m, const char *id)
{
    struct connection c = {0};
    c.connection_id = xstrdup(id);
    c.user_id = xstrdup(USER);
    c.tenant_id = xstrdup(TENANT);
    c.endpoint = xstrdup("bench.execute-api.us-east-1.amazonaws.com/prod");
    struct error_info err;
    enum result r = conn_save(&m->store, &c, wall_ms() + 30000, &err);
    conn_cleanup(&c);
    return r == RESULT_OK || r == RESULT_ALREADY_EXISTS ? 0 : -1;
}

static int subscribe(struct impl *m, const char *conn, const char *request_id)
{
    struct subscription s = {0};
    s.connection_id = xstrdup(conn);
    s.request_id = xstrdup(request_id);
    s.tenant_id = xstrdup(TENANT);
    s.user_id = xstrdup(USER);
    s.event_types = SUB_COMPLETE;
    struct error_info err;
    enum result r = sub_subscribe(&m->store, &s, wall_ms() + 30000, &err);
    sub_cleanup(&s);
    return r == RESULT_OK ? 0 : -1;
}

static int enqueue(struct impl *m, const char *request_id, const char *conn)
{
    struct request q = {0};
    q.request_id = xstrdup(request_id);
    q.connection_id = xstrdup(conn);
    q.user_id = xstrdup(USER);
    q.tenant_id = xstrdup(TENANT);
    q.action = xstrdup("process_data");
    q.payload = cJSON_Parse("{\"items\":[1,2,3]}");
    struct error_info err;
    enum result r = req_enqueue(&m->store, &q, wall_ms() + 30000, &err);
    req_cleanup(&q);
    return r == RESULT_OK ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every subscriber got exactly one complete. */
static int deliveries_ok(int n)
{
    pthread_mutex_lock(&S.lock);
    int ok = S.completes == n && (int)S.nids == n;
    qsort(S.ids, S.nids, sizeof(*S.ids), cmp_str);
    for (size_t i = 1; ok && i < S.nids; i++)
        ok = strcmp(S.ids[i - 1], S.ids[i]) != 0;
    pthread_mutex_unlock(&S.lock);
    return ok;
}

/* One delivery to `n` subscribers; -1 when it went wrong. */
static int fan_once(struct impl *m, int n, int rep, double *total_ms,
                    double *window_ms, long *peak)
{
    char rid[64];
    snprintf(rid, sizeof(rid), "fan-%d-%d", n, rep);
    if (enqueue(m, rid, "fan-0") != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "fan-%d", i);
        if (subscribe(m, id, rid) != 0)
            return -1;
    }
    char *ev = stream_event(m, rid);
    if (!ev)
        return -1;
    standin_reset();
    struct bench_answer a = {0};
    int rc = bench_rapi_invoke(rapi, rid, ev, WAIT_MS, &a);
    free(ev);
    if (rc != 0)
        return -1;
    *total_ms = (double)(a.answered_ns - a.sent_ns) / 1e6;
    free(a.body);
    usleep(50000); /* answers still owed by the stand-in */
    pthread_mutex_lock(&S.lock);
    *window_ms = (double)(S.last_ns - S.first_ns) / 1e6;
    *peak = S.peak;
    pthread_mutex_unlock(&S.lock);
    if (!deliveries_ok(n)) {
        fprintf(stderr, "fanout_bench: %s: %ld completes for %d subscribers\n",
                m->name, S.completes, n);
        return -1;
    }
    return 0;
}

static const int SIZES[4] = {1, 10, 100, 1000};

static void fan_out(struct impl *m, int smoke)
{
    int sizes = smoke ? 2 : 4, reps = smoke ? 1 : 3;
    for (int i = 0; i < SIZES[sizes - 1]; i++) {
        char id[32];
        snprintf(id, sizeof(id), "fan-%d", i);
        if (add_connection(m, id) != 0) {
            m->failures++;
            return;
        }
    }
    m->pid = start(m, ddb_local_endpoint());
    if (m->pid < 0) {
        m->failures++;
        return;
    }
    double warm_total, warm_window; /* first run: the process warms up */
    long warm_peak;
    if (fan_once(m, 1, 99, &warm_total, &warm_window, &warm_peak) != 0)
        m->failures++;
    for (int s = 0; s < sizes; s++) {
        double t[3], w[3];
        long peak = 0;
        for (int r = 0; r < reps; r++) {
            long p = 0;
            if (fan_once(m, SIZES[s], r, &t[r], &w[r], &p) != 0) {
                m->failures++;
                t[r] = w[r] = -1;
            }
            peak = p > peak ? p : peak;
        }
        qsort(t, (size_t)reps, sizeof(double), cmp_double);
        qsort(w, (size_t)reps, sizeof(double), cmp_double);
        m->fan_ms[s] = t[reps / 2];
        m->window_ms[s] = w[reps / 2];
        m->peak[s] = peak;
        printf("fanout: %-8s N=%-5d %8.1f ms (pushes %.1f ms, peak %ld in "
               "flight)\n",
               m->name, SIZES[s], m->fan_ms[s], m->window_ms[s], peak);
        fflush(stdout);
    }
    stop(m->pid);
}

/* The capacity units of one async request: the enqueue message (sender
 * looked up, request and subscription written) and its stream run. */
static void capacity(struct impl *m)
{
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", P.port);
    if (add_connection(m, "cap-0") != 0 || (m->pid = start(m, proxy)) < 0) {
        m->failures++;
        return;
    }
    struct bench_answer a = {0};
    /* A first request warms the process up, uncounted. */
    for (int round = 0; round < 2; round++) {
        char body[160], rid[64];
        snprintf(rid, sizeof(rid), "cap-%d", round);
        snprintf(body, sizeof(body),
                 "{\"action\":\"process_data\",\"id\":\"%s\",\"payload\":"
                 "{\"items\":[1,2,3,4,5,6,7,8,9,10]}}",
                 rid);
        char *ev = events_message(events, "cap-0", body);
        pthread_mutex_lock(&P.lock);
        P.counting = round == 1;
        P.rcu = P.wcu = 0;
        P.calls = 0;
        pthread_mutex_unlock(&P.lock);
        int rc = bench_rapi_invoke(rapi, rid, ev, WAIT_MS, &a);
        free(ev);
        int acked = rc == 0 && a.body && strstr(a.body, "acknowledgment");
        free(a.body);
        char *st = acked ? stream_event(m, rid) : NULL;
        rc = st ? bench_rapi_invoke(rapi, rid, st, WAIT_MS, &a) : -1;
        free(st);
        if (rc == 0)
            free(a.body);
        if (!acked || rc != 0) {
            fprintf(stderr, "fanout_bench: %s: the capacity run failed\n",
                    m->name);
            m->failures++;
            break;
        }
    }
    pthread_mutex_lock(&P.lock);
    m->rcu = P.rcu;
    m->wcu = P.wcu;
    m->calls = P.calls;
    P.counting = 0;
    pthread_mutex_unlock(&P.lock);
    printf("capacity: %-8s %.1f RCU + %.1f WCU per async request (%ld "
           "calls)\n",
           m->name, m->rcu, m->wcu, m->calls);
    stop(m->pid);
}

/* ---- Echo through the local gateway (Streamer) ----------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = xcalloc(1, 16384);
    size_t n = fread(s, 1, 16383, f);
    fclose(f);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int echo(int rounds, double *p50, double *p99)
{
    const char *work = env_or("BENCH_WORK", "build/bench");
    char path[1024];
    snprintf(path, sizeof(path), "%s/jwt_public.pem", work);
    char *pem = read_file(path);
    snprintf(path, sizeof(path), "%s/token", work);
    char *token = read_file(path);
    if (!pem || !token) {
        free(pem);
        free(token);
        return -1;
    }
    static char key_env[8192];
    snprintf(key_env, sizeof(key_env), "JWT_PUBLIC_KEY=%s", pem);
    const char *env[] = {key_env,
                         "CONNECTIONS_TABLE=gw_connections",
                         "REQUESTS_TABLE=gw_requests",
                         "SUBSCRIPTIONS_TABLE=gw_subscriptions",
                         "AWS_LAMBDA_LOG_LEVEL=WARN",
                         NULL};
    struct test_gateway gw;
    struct test_gateway_options o = {0};
    o.env = env;
    o.no_stream = 1;
    char err[2048];
    int rc = -1;
    if (test_gateway_start(&gw, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "fanout_bench: gateway: %s\n", err);
        goto done;
    }
    snprintf(path, sizeof(path), "%s?Authorization=%s", gw.path, token);
    int fd = raw_ws_open(gw.port, path, 30000, err, sizeof(err));
    double *t = xcalloc((size_t)rounds, sizeof(double));
    int got = 0;
    for (int i = -20; fd >= 0 && i < rounds; i++) {
        char msg[128];
        snprintf(msg, sizeof(msg),
                 "{\"action\":\"echo\",\"payload\":{\"n\":%d}}", i);
        int64_t t0 = now_ns();
        char *p = NULL;
        size_t n = 0;
        if (raw_ws_send(fd, 1, msg, strlen(msg)) != 0 ||
            raw_ws_read(fd, 30000, &p, &n) != 1 || !strstr(p, "response")) {
            free(p);
            break;
        }
        free(p);
        if (i >= 0)
            t[got++] = (double)(now_ns() - t0) / 1e6;
    }
    if (got == rounds) {
        qsort(t, (size_t)rounds, sizeof(double), cmp_double);
        *p50 = t[rounds / 2];
        *p99 = t[rounds * 99 / 100];
        rc = 0;
    }
    free(t);
    if (fd >= 0)
        close(fd);
    test_gateway_stop(&gw, 15000, NULL);
done:
    free(pem);
    free(token);
    return rc;
}

/* ---- Report --------------------------------------------------------- */

static void report(FILE *f, struct impl *m, int n, int smoke, double p50,
                   double p99)
{
    int sizes = smoke ? 2 : 4;
    fprintf(f, "## Fan-out, capacity units, echo (issue 16)\n\n");
    fprintf(f,
            "Management API stand-in answering every POST after %d ms; "
            "median of %d runs; time from the stream event's hand-over to "
            "the function's answer (claim, run, complete written, "
            "subscribers read, every `complete` pushed and answered). "
            "Serial pushes would take N x %d ms.\n\n",
            PUSH_DELAY_MS, smoke ? 1 : 3, PUSH_DELAY_MS);
    fprintf(f, "| subscribers | serial pushes |");
    for (int i = 0; i < n; i++)
        fprintf(f, " %s | %s push window | %s peak in flight |", m[i].name,
                m[i].name, m[i].name);
    for (int i = 1; i < n; i++)
        fprintf(f, " %s ÷ streamer |", m[i].name);
    fprintf(f, "\n|---:|---:|");
    for (int i = 0; i < n; i++)
        fprintf(f, "---:|---:|---:|");
    for (int i = 1; i < n; i++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
    for (int s = 0; s < sizes; s++) {
        fprintf(f, "| %d | %d ms |", SIZES[s], SIZES[s] * PUSH_DELAY_MS);
        for (int i = 0; i < n; i++)
            fprintf(f, " %.1f ms | %.1f ms | %ld |", m[i].fan_ms[s],
                    m[i].window_ms[s], m[i].peak[s]);
        for (int i = 1; i < n; i++)
            fprintf(f, " %.2fx |",
                    m[0].fan_ms[s] > 0 ? m[i].fan_ms[s] / m[0].fan_ms[s] : 0);
        fprintf(f, "\n");
    }
    fprintf(f, "\nDynamoDB capacity units per async request (enqueue message + "
               "stream run of process_data with 10 items, one subscriber), "
               "summed from ReturnConsumedCapacity=TOTAL:\n\n"
               "| | read units | write units | DynamoDB calls | units ÷ "
               "streamer's |\n|---|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        double units = m[i].rcu + m[i].wcu, mine = m[0].rcu + m[0].wcu;
        fprintf(f, "| %s | %.1f | %.1f | %ld | %.2fx |\n", m[i].name, m[i].rcu,
                m[i].wcu, m[i].calls, mine > 0 ? units / mine : 0);
    }
    if (p50 >= 0)
        fprintf(f,
                "\nEcho through the local gateway (`make run`'s, Streamer's "
                "bootstrap, DynamoDB Local): p50 %.2f ms, p99 %.2f ms.\n",
                p50, p99);
    fprintf(f, "\n");
}

int main(void)
{
    int smoke = atoi(env_or("BENCH_SMOKE", "0"));
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *streamer = getenv("BENCH_STREAMER");
    char **peers = words_split(env_or("BENCH_PEERS", ""));
    if (!streamer || !peers[0]) {
        fprintf(stderr, "fanout_bench: BENCH_STREAMER and BENCH_PEERS are "
                        "needed (scripts/bench sets them)\n");
        return 2;
    }
    if (ddb_local_start() != 0)
        return 1;
    pthread_mutex_init(&S.lock, NULL);
    pthread_mutex_init(&P.lock, NULL);
    S.lfd = listen_any(&S.port);
    P.lfd = listen_any(&P.port);
    snprintf(P.upstream, sizeof(P.upstream), "%s/", ddb_local_endpoint());
    pthread_t t;
    pthread_create(&t, NULL, standin_main, NULL);
    pthread_detach(t);
    pthread_create(&t, NULL, proxy_main, NULL);
    pthread_detach(t);
    rapi = bench_rapi_new();
    events = events_load(env_or("BENCH_EVENTS", "deploy/events"), "unused");
    struct ddb_config cfg = {ddb_local_endpoint(), "us-east-1", &CREDS};
    struct error_info err;
    if (!rapi || !events || ddb_new(&cfg, &ddb, &err) != RESULT_OK) {
        fprintf(stderr, "fanout_bench: setup failed\n");
        return 1;
    }
    char *streamer_argv[] = {(char *)streamer, NULL};
    struct impl m[MAX_IMPLS] = {{.name = "streamer", .argv = streamer_argv}};
    int impls = 1;
    for (; peers[impls - 1] && impls < MAX_IMPLS; impls++) {
        char var[64], cwd_var[80];
        snprintf(var, sizeof(var), "BENCH_PEER_%s", peers[impls - 1]);
        for (char *c = var; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        snprintf(cwd_var, sizeof(cwd_var), "%s_CWD", var);
        const char *cmd = getenv(var);
        if (!cmd) {
            fprintf(stderr, "fanout_bench: %s is not set\n", var);
            return 2;
        }
        m[impls] = (struct impl){.name = peers[impls - 1],
                                 .argv = words_split(cmd),
                                 .cwd = env_or(cwd_var, NULL)};
    }
    /* BENCH_FANOUT_IMPLS=1: Streamer alone (while working on it). */
    if (atoi(env_or("BENCH_FANOUT_IMPLS", "0")) == 1)
        impls = 1;
    int failures = 0;
    for (int i = 0; i < impls; i++) {
        char names[3][64];
        table_names(m[i].name, names);
        store_init(&m[i].store, ddb, names[0], names[1], names[2]);
        if (tables_create_all(&m[i].store, wall_ms() + 120000, &err) !=
            RESULT_OK) {
            fprintf(stderr, "fanout_bench: tables: %s\n", err.message);
            return 1;
        }
        fan_out(&m[i], smoke);
        capacity(&m[i]);
        failures += m[i].failures;
    }
    double p50 = -1, p99 = -1;
    if (echo(smoke ? 20 : 500, &p50, &p99) != 0) {
        fprintf(stderr, "fanout_bench: the echo through the gateway failed\n");
        failures++;
    } else {
        printf("echo via gateway: p50 %.2f ms, p99 %.2f ms\n", p50, p99);
    }
    const char *out = getenv("BENCH_FANOUT_OUT");
    FILE *f = out ? fopen(out, "w") : NULL;
    report(f ? f : stdout, m, impls, smoke, p50, p99);
    if (f)
        fclose(f);
    for (int i = 0; i < impls; i++) {
        store_cleanup(&m[i].store);
        if (i > 0)
            words_free(m[i].argv);
    }
    words_free(peers);
    ddb_free(ddb);
    events_free(events);
    bench_rapi_free(rapi);
    ddb_local_stop();
    if (failures)
        fprintf(stderr, "fanout_bench: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}

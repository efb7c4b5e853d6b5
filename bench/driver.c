/* `make bench`: Streamer's bootstrap and its peers, side by side. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench.h"
#include "bench_rapi.h"
#include "ddb.h"
#include "ddb_local.h"
#include "events.h"
#include "net_util.h"
#include "procstat.h"
#include "report.h"
#include "store.h"
#include "tables.h"
#include "tokens.h"
#include "words.h"
#include "xmalloc.h"

/*
 * The driver (scripts/bench prepares its inputs and runs it):
 *   BENCH_WORK       a directory holding ca-dir/ (the test CA, hashed, with
 *                    the system's CAs), ca.pem, server.pem + server.key (the
 *                    TLS terminator's certificate), jwt_public.pem and token
 *                    (an RS256 JWT for sub BENCH_USER, tenant BENCH_TENANT)
 *                    and jwt_private.pem, which signs a distinct token for
 *                    every measured $connect, Streamer's and the peers' (a
 *                    function that caches verified tokens must not be
 *                    measured on one token)
 *   BENCH_EVENTS     deploy/events
 *   BENCH_STREAMER   the bootstrap; BENCH_STREAMER_LABEL says which
 *   BENCH_PEERS      the peers' names, e.g. "node go" (the first is the
 *                    peer docs/budgets.md's budgets compare with); for each
 *                    name N (upper-cased in the variables):
 *     BENCH_PEER_N         its command (words split on blanks)
 *     BENCH_PEER_N_CWD     where it runs; BENCH_PEER_N_TITLE its column;
 *     BENCH_PEER_N_LABEL   what it is; BENCH_PEER_N_ZIP_BYTES its package
 *   BENCH_STREAMER_ZIP_BYTES   Streamer's package size;
 *   BENCH_STREAMER_ARM64_ZIP_BYTES  its arm64 package's, -1 when not built
 *   BENCH_SMOKE=1    a tiny run; BENCH_OUT   where the Markdown goes
 * It starts DynamoDB Local (the tests' launcher) and socat as a TLS
 * terminator in front of it, creates each implementation's tables, warms
 * DynamoDB Local up, runs the cold starts of all in turns, then for each
 * implementation one long warm process and (Streamer, full mode)
 * callgrind, and writes the report. BENCH_LOG_LEVEL sets the functions'
 * AWS_LAMBDA_LOG_LEVEL; BENCH_CALLGRIND=<n> the events profiled per
 * callgrind run; BENCH_CALLGRIND_ONLY=1 runs only those (profiling);
 * BENCH_COLD_N=<n> the cold starts of each; BENCH_SMAPS=<prefix> copies
 * each function's /proc/<pid>/smaps at the end of its warm run to
 * <prefix>.<name> (where its RSS is).
 * Exits 1 when an event failed or a figure is missing; timings never
 * fail it.
 */

#define BENCH_USER "user-bench"
#define BENCH_TENANT "tenant-bench"
/*
 * Async requests come from this many senders, each its own user with its
 * own connection, in turn: Streamer admits at most 20 requests in flight
 * per user (docs/protocol.md), and the measured enqueues run before their
 * stream records end them, so one sender would be refused after 20. With
 * 256, a sender has at most ceil(2200 / 256) = 9 in flight.
 */
#define BENCH_SENDERS 256
#define WAIT_MS 30000
#define VALGRIND_WAIT_MS 120000

static pid_t socat_pid = -1;
static pid_t child_pid = -1;

/* The run's shape; full mode unless BENCH_SMOKE. */
struct plan {
    int smoke;
    int cold_n;
    long warmup_n; /* per kind, not measured */
    long warm_n;   /* per kind, measured */
    long total_n;  /* events for the memory figures */
    long early_n;  /* when the first RSS sample is taken */
    int callgrind_n;
};

struct ctx {
    struct plan plan;
    struct bench_rapi *rapi;
    struct events *events;
    struct tokens *tokens; /* a fresh token for each measured $connect */
    long token_serial;
    const char *work;
    char tls_endpoint[64];
    char *jwt_pem;
    struct bench_impl floor; /* bench/floor.c; argv NULL when not given */
    double floor_init_ms;    /* its median exec → first GET /next */
};

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void stop_children(void)
{
    if (child_pid > 0) {
        kill(child_pid, SIGKILL);
        waitpid(child_pid, NULL, 0);
        child_pid = -1;
    }
    if (socat_pid > 0) {
        kill(socat_pid, SIGTERM);
        waitpid(socat_pid, NULL, 0);
        socat_pid = -1;
    }
    ddb_local_stop();
}

static void on_signal(int sig)
{
    stop_children();
    signal(sig, SIG_DFL);
    raise(sig);
}

static char *read_text(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench: cannot read %s (run scripts/bench)\n", path);
        return NULL;
    }
    char *s = xmalloc(65536);
    size_t n = fread(s, 1, 65535, f);
    fclose(f);
    s[n] = '\0';
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Starts socat: TLS on a free loopback port, plain TCP to `port`. */
static int start_tls(struct ctx *c, int port)
{
    int tls_port = net_free_port();
    char listen[1024], target[64], log[1024];
    /* Its log (the readiness probe's closed handshakes, for one) goes to
     * a file, not the report. */
    snprintf(log, sizeof(log), "%s/socat.log", c->work);
    snprintf(listen, sizeof(listen),
             "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,"
             "cert=%s/server.pem,key=%s/server.key,verify=0,nodelay",
             tls_port, c->work, c->work);
    snprintf(target, sizeof(target), "TCP:127.0.0.1:%d,nodelay", port);
    char *argv[] = {(char *)"socat", (char *)"-lf", log, listen, target, NULL};
    if (posix_spawnp(&socat_pid, "socat", NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "bench: cannot run socat (make deps installs it)\n");
        return -1;
    }
    for (int i = 0; i < 200 && !net_port_open(tls_port); i++)
        usleep(10000);
    if (!net_port_open(tls_port)) {
        fprintf(stderr, "bench: socat did not listen on %d\n", tls_port);
        return -1;
    }
    snprintf(c->tls_endpoint, sizeof(c->tls_endpoint), "https://127.0.0.1:%d",
             tls_port);
    return 0;
}

static void table_names(const char *impl, char names[3][64])
{
    snprintf(names[0], 64, "%s_connections", impl);
    snprintf(names[1], 64, "%s_requests", impl);
    snprintf(names[2], 64, "%s_subscriptions", impl);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Creates the three tables of each implementation (plain HTTP). */
static int create_tables(const char *endpoint, const char *const *impls, int n)
{
    struct sigv4_credentials creds = {"AKIDBENCH", "bench/fake/secret", NULL};
    struct ddb_config cfg = {endpoint, "us-east-1", &creds};
    struct error_info e;
    error_clear(&e);
    struct ddb *d = NULL;
    enum result r = ddb_new(&cfg, &d, &e);
    for (int i = 0; i < n && r == RESULT_OK; i++) {
        char names[3][64];
        table_names(impls[i], names);
        struct store s;
        store_init(&s, d, names[0], names[1], names[2]);
        r = tables_create_all(&s, wall_ms() + 60000, &e);
        store_cleanup(&s);
    }
    ddb_free(d);
    if (r != RESULT_OK)
        fprintf(stderr, "bench: creating tables: %s: %s\n", result_str(r),
                e.message);
    return r == RESULT_OK ? 0 : -1;
}

/* The function's environment: the same for every implementation. */
static char **function_env(struct ctx *c, const struct bench_impl *im)
{
    const char *impl = im->name;
    char names[3][64];
    table_names(impl, names);
    char **env = xcalloc(40, sizeof(char *));
    int n = 0;
#define ADD(...)                                                               \
    do {                                                                       \
        char tmp[16384];                                                       \
        snprintf(tmp, sizeof(tmp), __VA_ARGS__);                               \
        env[n++] = xstrdup(tmp);                                               \
    } while (0)
    ADD("PATH=%s", env_or("PATH", "/usr/bin:/bin"));
    ADD("HOME=%s", env_or("HOME", "/tmp"));
    ADD("LANG=C.UTF-8");
    ADD("AWS_LAMBDA_RUNTIME_API=%s", bench_rapi_address(c->rapi));
    ADD("AWS_REGION=us-east-1");
    ADD("AWS_DEFAULT_REGION=us-east-1");
    ADD("AWS_ACCESS_KEY_ID=AKIDBENCH");
    ADD("AWS_SECRET_ACCESS_KEY=bench/fake/secret");
    ADD("AWS_ENDPOINT_URL_DYNAMODB=%s", c->tls_endpoint);
    ADD("AWS_LAMBDA_FUNCTION_NAME=bench-%s", impl);
    ADD("AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
    ADD("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128");
    ADD("CONNECTIONS_TABLE=%s", names[0]);
    ADD("REQUESTS_TABLE=%s", names[1]);
    ADD("SUBSCRIPTIONS_TABLE=%s", names[2]);
    ADD("JWT_PUBLIC_KEY=%s", c->jwt_pem);
    ADD("WEBSOCKET_ENDPOINT=%s", bench_rapi_mgmt_url(c->rapi));
    /* Trust: Streamer and Go (crypto/x509 reads SSL_CERT_DIR) read the
     * hashed directory (the system's CAs and the test CA); Node keeps
     * its own roots and adds the test CA. */
    ADD("SSL_CERT_DIR=%s/ca-dir", c->work);
    ADD("NODE_EXTRA_CA_CERTS=%s/ca.pem", c->work);
    ADD("LAMBDA_TASK_ROOT=%s", im->cwd ? im->cwd : ".");
    ADD("_HANDLER=index.handler");
    if (getenv("BENCH_LOG_LEVEL")) /* e.g. DEBUG, to see why an event failed */
        ADD("AWS_LAMBDA_LOG_LEVEL=%s", getenv("BENCH_LOG_LEVEL"));
#undef ADD
    return env;
}

/* Starts `argv`; returns the pid (and the exec time in `*t0`), or -1. */
static pid_t spawn(struct ctx *c, const struct bench_impl *impl, char **argv,
                   int64_t *t0)
{
    char log[1024];
    snprintf(log, sizeof(log), "%s/%s.log", c->work, impl->name);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (impl->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, impl->cwd);
    char **env = function_env(c, impl);
    pid_t pid;
    *t0 = bench_now_ns();
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
    if (rc != 0) {
        fprintf(stderr, "bench: cannot start %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    child_pid = pid;
    bench_rapi_watch(c->rapi, pid);
    return pid;
}

/* Ends the function: a 500 on /next, else SIGKILL after `grace_ms`. */
static void finish(struct ctx *c, pid_t pid, int grace_ms)
{
    int64_t at;
    if (grace_ms > 0 && bench_rapi_wait_next(c->rapi, grace_ms, &at) == 0) {
        bench_rapi_refuse_next(c->rapi);
        for (int i = 0; i < grace_ms / 10; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                child_pid = -1;
                return;
            }
            usleep(10000);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    child_pid = -1;
}

/* The "body" of a route response, parsed; NULL when there is none. */
static cJSON *route_body(const cJSON *answer, int *status)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(answer, "statusCode");
    *status = cJSON_IsNumber(code) ? code->valueint : 0;
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(answer, "body");
    return cJSON_IsString(body) ? cJSON_Parse(body->valuestring) : NULL;
}

/* Whether `a` is the right answer to an event of `kind`. */
static int answer_ok(enum bench_kind kind, const struct bench_answer *a)
{
    if (strcmp(a->kind, "response") != 0)
        return 0;
    cJSON *j = cJSON_Parse(a->body);
    int status = 0, ok = 0;
    cJSON *body = route_body(j, &status);
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "type"));
    switch (kind) {
    case BENCH_CONNECT:
        ok = status == 200;
        break;
    case BENCH_ECHO:
        ok = status == 200 && type && strcmp(type, "response") == 0;
        break;
    case BENCH_ENQUEUE:
        ok = status == 200 && type && strcmp(type, "acknowledgment") == 0;
        break;
    default: {
        const cJSON *f =
            cJSON_GetObjectItemCaseSensitive(j, "batchItemFailures");
        ok = cJSON_IsArray(f) && cJSON_GetArraySize(f) == 0;
    }
    }
    cJSON_Delete(body);
    cJSON_Delete(j);
    return ok;
}

/* The connection and user of sender `i % BENCH_SENDERS` of `impl`. */
static void sender_of(const char *impl, long i, char conn[64], char user[64])
{
    snprintf(conn, 64, "%s-sender-%ld=", impl, i % BENCH_SENDERS);
    snprintf(user, 64, "%s-%ld", BENCH_USER, i % BENCH_SENDERS);
}

/* The event of `kind` number `i` for implementation `impl`. */
static char *make_event(struct ctx *c, const char *impl, enum bench_kind kind,
                        long i, const char *main_conn)
{
    char id[128], body[256], sender[64], user[64];
    sender_of(impl, i, sender, user);
    switch (kind) {
    case BENCH_CONNECT: {
        snprintf(id, sizeof(id), "%s-conn-%ld=", impl, i);
        char *token =
            tokens_mint(c->tokens, BENCH_USER, BENCH_TENANT, c->token_serial++);
        char *ev = events_connect_token(c->events, id, token);
        free(token);
        return ev;
    }
    case BENCH_ECHO:
        snprintf(body, sizeof(body),
                 "{\"action\":\"echo\",\"id\":\"echo-%ld\","
                 "\"payload\":{\"hello\":\"world\",\"n\":%ld}}",
                 i, i);
        return events_message(c->events, main_conn, body);
    case BENCH_ENQUEUE:
        snprintf(body, sizeof(body),
                 "{\"action\":\"process_data\",\"id\":\"%s-req-%ld\","
                 "\"payload\":{\"items\":[1,2,3]}}",
                 impl, i);
        return events_message(c->events, sender, body);
    default:
        snprintf(id, sizeof(id), "%s-req-%ld", impl, i);
        return events_stream(c->events, id, sender, user, BENCH_TENANT);
    }
}

static const char *const kind_names[BENCH_KINDS] = {
    "$connect", "echo", "process_data enqueue", "stream record"};

/*
 * Sends one event and checks its answer; the latency goes to `*ms`.
 * Returns 0, or -1 when it failed (counted in `fig`).
 */
static int one_event(struct ctx *c, struct bench_impl *impl,
                     enum bench_kind kind, long i, const char *main_conn,
                     double *ms)
{
    static unsigned long seq;
    char rid[64];
    snprintf(rid, sizeof(rid), "%08lx-bench-4000-8000-%012lu", seq, seq);
    seq++;
    char *ev = make_event(c, impl->name, kind, i, main_conn);
    long pushes = bench_rapi_pushes(c->rapi);
    struct bench_answer a = {0};
    int rc = bench_rapi_invoke(c->rapi, rid, ev, WAIT_MS, &a);
    free(ev);
    if (rc == 0 && !answer_ok(kind, &a)) {
        fprintf(stderr, "bench: %s: wrong answer to %s %ld: %.300s\n",
                impl->name, kind_names[kind], i, a.body);
        rc = -1;
    }
    /* process_data on 3 items pushes progress and completion. */
    if (rc == 0 && kind == BENCH_STREAM &&
        bench_rapi_pushes(c->rapi) - pushes < 2) {
        fprintf(stderr,
                "bench: %s: stream record %ld pushed %ld messages, "
                "not 2 or more\n",
                impl->name, i, bench_rapi_pushes(c->rapi) - pushes);
        rc = -1;
    }
    if (rc == 0 && ms)
        *ms = (double)(a.answered_ns - a.sent_ns) / 1e6;
    free(a.body);
    if (rc != 0)
        impl->fig.failures++;
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of `v` (sorted in place), nearest rank. */
static double quantile(double *v, long n, double q)
{
    if (n <= 0)
        return -1;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    long k = (long)ceil(q * (double)n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/*
 * One cold start: exec → first /next (`*init_ms`), exec → the first
 * $connect answered (`*cold_ms`). Returns 0, or -1 (counted) on failure.
 */
static int cold_start(struct ctx *c, struct bench_impl *impl, int i,
                      double *init_ms, double *cold_ms)
{
    int64_t t0, at;
    pid_t pid = spawn(c, impl, impl->argv, &t0);
    if (pid < 0 || bench_rapi_wait_next(c->rapi, WAIT_MS, &at) != 0) {
        impl->fig.failures++;
        if (pid > 0)
            finish(c, pid, 0);
        return -1;
    }
    char id[64];
    snprintf(id, sizeof(id), "%s-cold-%d=", impl->name, i);
    char *ev = events_connect(c->events, id);
    struct bench_answer a = {0};
    int rc = bench_rapi_invoke(c->rapi, "cold-0000-4000-8000-000000000000", ev,
                               WAIT_MS, &a);
    free(ev);
    if (rc == 0 && answer_ok(BENCH_CONNECT, &a)) {
        *init_ms = (double)(at - t0) / 1e6;
        *cold_ms = (double)(a.answered_ns - t0) / 1e6;
    } else {
        fprintf(stderr, "bench: %s: cold $connect %d failed: %.300s\n",
                impl->name, i, rc == 0 ? a.body : "(no answer)");
        impl->fig.failures++;
        rc = -1;
    }
    free(a.body);
    finish(c, pid, 0);
    return rc;
}

/* The floor's start (bench/floor.c): exec → first /next, then killed. */
static int floor_start(struct ctx *c, double *init_ms)
{
    int64_t t0, at;
    pid_t pid = spawn(c, &c->floor, c->floor.argv, &t0);
    if (pid < 0)
        return -1;
    int rc = bench_rapi_wait_next(c->rapi, WAIT_MS, &at);
    if (rc == 0)
        *init_ms = (double)(at - t0) / 1e6;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    child_pid = -1;
    return rc;
}

/*
 * Lambda starts a function in a sandbox where nothing else runs. Here the
 * function before has just been killed and DynamoDB Local is still busy
 * after its PutItem: measured at once, exec -> first /next took 6-9 ms
 * for every implementation and the floor alike; 300 ms later, 3-4 ms
 * (the driver, in turns). So each cold start waits that long first.
 */
#define SETTLE_MS 300

static void settle(void)
{
    usleep(SETTLE_MS * 1000);
}

/*
 * The cold starts of all, taken in turns (Streamer, Node, Go, the floor,
 * Streamer, ...) so that none gets a warmer DynamoDB Local or a quieter
 * machine.
 */
static void cold_starts(struct ctx *c, struct bench_impl *impls, int n_impls)
{
    int n = c->plan.cold_n;
    fprintf(stderr, "bench: %d cold starts each, in turns\n", n);
    double *ms = xcalloc((size_t)n * 2 * (size_t)n_impls, sizeof(double));
    double *floor_ms = xcalloc((size_t)n, sizeof(double));
    int got[BENCH_MAX_IMPLS] = {0}, floor_got = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n_impls; k++) {
            settle();
            double *init = ms + (size_t)n * (2 * (size_t)k);
            double *cold = init + n;
            if (cold_start(c, &impls[k], i, &init[got[k]], &cold[got[k]]) == 0)
                got[k]++;
        }
        settle();
        if (c->floor.argv && floor_start(c, &floor_ms[floor_got]) == 0)
            floor_got++;
    }
    c->floor_init_ms = floor_got ? quantile(floor_ms, floor_got, 0.5) : -1;
    free(floor_ms);
    for (int k = 0; k < n_impls; k++) {
        double *init = ms + (size_t)n * (2 * (size_t)k);
        impls[k].fig.cold_runs = got[k];
        impls[k].fig.init_ms = got[k] ? quantile(init, got[k], 0.5) : -1;
        impls[k].fig.cold_ms = got[k] ? quantile(init + n, got[k], 0.5) : -1;
    }
    free(ms);
}

/* Samples VmRSS once the function waits on /next again. */
static long rss_now(struct ctx *c, pid_t pid, const char *field)
{
    int64_t at;
    if (bench_rapi_wait_next(c->rapi, WAIT_MS, &at) != 0)
        return -1;
    return procstat_status_kb(pid, field);
}

/*
 * One measured phase: `n` events of `kind` from number `first`; CPU is
 * read while the function waits on /next, before and after.
 */
static void phase(struct ctx *c, struct bench_impl *impl, pid_t pid,
                  enum bench_kind kind, long first, long n,
                  const char *main_conn, long *events)
{
    double *lat = xcalloc((size_t)n, sizeof(double));
    long ok = 0;
    int64_t at;
    bench_rapi_wait_next(c->rapi, WAIT_MS, &at);
    int64_t cpu0 = procstat_cpu_ns(pid);
    for (long i = 0; i < n; i++) {
        if (one_event(c, impl, kind, first + i, main_conn, &lat[ok]) == 0)
            ok++;
        if (++*events == c->plan.early_n)
            impl->fig.rss_early_kb = rss_now(c, pid, "VmRSS");
    }
    bench_rapi_wait_next(c->rapi, WAIT_MS, &at);
    int64_t cpu1 = procstat_cpu_ns(pid);
    if (ok == n && cpu0 >= 0 && cpu1 >= cpu0)
        impl->fig.cpu_us[kind] = (double)(cpu1 - cpu0) / 1e3 / (double)n;
    impl->fig.p50_ms[kind] = ok ? quantile(lat, ok, 0.50) : -1;
    impl->fig.p99_ms[kind] = ok ? quantile(lat, ok, 0.99) : -1;
    free(lat);
}

/*
 * One warm process: its own connection first (the sender of every
 * message), a warm-up of each kind, the measured phases, then $connects
 * up to the total for the memory figures.
 */
static void warm_run(struct ctx *c, struct bench_impl *impl)
{
    int64_t t0, at;
    pid_t pid = spawn(c, impl, impl->argv, &t0);
    if (pid < 0 || bench_rapi_wait_next(c->rapi, WAIT_MS, &at) != 0) {
        impl->fig.failures++;
        if (pid > 0)
            finish(c, pid, 0);
        return;
    }
    char main_conn[64];
    snprintf(main_conn, sizeof(main_conn), "%s-main=", impl->name);
    char *ev = events_connect(c->events, main_conn);
    struct bench_answer a = {0};
    if (bench_rapi_invoke(c->rapi, "main-0000-4000-8000-000000000000", ev,
                          WAIT_MS, &a) != 0 ||
        !answer_ok(BENCH_CONNECT, &a))
        impl->fig.failures++;
    free(ev);
    free(a.body);
    long events = 1, w = c->plan.warmup_n, n = c->plan.warm_n;
    /* The senders of async requests, each its own user. */
    for (long k = 0; k < BENCH_SENDERS && k < w + n; k++, events++) {
        char sender[64], user[64];
        sender_of(impl->name, k, sender, user);
        char *token =
            tokens_mint(c->tokens, user, BENCH_TENANT, c->token_serial++);
        ev = events_connect_token(c->events, sender, token);
        free(token);
        char rid[64];
        snprintf(rid, sizeof(rid), "%08lx-sndr-4000-8000-000000000000", k);
        a = (struct bench_answer){0};
        if (bench_rapi_invoke(c->rapi, rid, ev, WAIT_MS, &a) != 0 ||
            !answer_ok(BENCH_CONNECT, &a))
            impl->fig.failures++;
        free(ev);
        free(a.body);
    }
    for (int k = 0; k < BENCH_KINDS; k++)
        for (long i = 0; i < w; i++, events++)
            one_event(c, impl, (enum bench_kind)k, i, main_conn, NULL);
    for (int k = 0; k < BENCH_KINDS; k++)
        phase(c, impl, pid, (enum bench_kind)k, w, n, main_conn, &events);
    for (long i = w + n; events < c->plan.total_n; i++) {
        one_event(c, impl, BENCH_CONNECT, i, main_conn, NULL);
        if (++events == c->plan.early_n)
            impl->fig.rss_early_kb = rss_now(c, pid, "VmRSS");
    }
    impl->fig.per_kind = n;
    impl->fig.events = events;
    impl->fig.early_events = c->plan.early_n;
    impl->fig.rss_final_kb = rss_now(c, pid, "VmRSS");
    impl->fig.hwm_kb = procstat_status_kb(pid, "VmHWM");
    impl->fig.anon_kb = procstat_status_kb(pid, "RssAnon");
    impl->fig.file_kb = procstat_status_kb(pid, "RssFile");
    /* BENCH_SMAPS=<prefix>: each function's memory map at that moment,
     * to <prefix>.<name>, to see where its RSS is. */
    if (getenv("BENCH_SMAPS")) {
        char to[1024];
        snprintf(to, sizeof(to), "%s.%s", getenv("BENCH_SMAPS"), impl->name);
        if (procstat_copy_smaps(pid, to) != 0)
            fprintf(stderr, "bench: could not copy the smaps of %s to %s\n",
                    impl->name, to);
    }
    finish(c, pid, 5000);
}

/* The instructions callgrind counted in `path` ("summary:" line). */
static double callgrind_total(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    double total = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "summary:", 8) == 0 ||
            (total < 0 && strncmp(line, "totals:", 7) == 0))
            total = strtod(line + (line[0] == 's' ? 8 : 7), NULL);
    fclose(f);
    return total;
}

/* What a callgrind run adds to its base of $connects. */
enum cg_mix {
    CG_CONNECT,   /* $connects, a distinct token each */
    CG_RECONNECT, /* $connects, each token 4 times: 1 miss, 3 hits */
    CG_ECHO,      /* sync echo messages from the first connection */
};
#define CG_REUSE 4

/* The event number `i` of a callgrind run (token serials from `serial`). */
static char *cg_event(struct ctx *c, enum cg_mix mix, int tag, long i,
                      long serial)
{
    char id[64], body[256], main_conn[64];
    snprintf(id, sizeof(id), "cg%d-conn-%ld=", tag, i);
    snprintf(main_conn, sizeof(main_conn), "cg%d-conn-0=", tag);
    if (mix == CG_ECHO) {
        snprintf(body, sizeof(body),
                 "{\"action\":\"echo\",\"id\":\"echo-%ld\","
                 "\"payload\":{\"hello\":\"world\",\"n\":%ld}}",
                 i, i);
        return events_message(c->events, main_conn, body);
    }
    char *token = tokens_mint(c->tokens, BENCH_USER, BENCH_TENANT, serial);
    char *ev = events_connect_token(c->events, id, token);
    free(token);
    return ev;
}

/*
 * One run under callgrind: init, `base` $connects (distinct tokens; the
 * first is the sender of echoes), then `n` events of `mix`, exit.
 * Returns its total instructions, or -1.
 */
static double callgrind_run(struct ctx *c, struct bench_impl *impl, long base,
                            long n, enum cg_mix mix, int tag)
{
    char out[1200];
    snprintf(out, sizeof(out), "--callgrind-out-file=%s/callgrind.%d.out",
             c->work, tag);
    unlink(out + strlen("--callgrind-out-file="));
    char *argv[] = {(char *)"valgrind", (char *)"--tool=callgrind",
                    (char *)"--quiet",  out,
                    impl->argv[0],      NULL};
    int64_t t0, at;
    pid_t pid = spawn(c, impl, argv, &t0);
    if (pid < 0 || bench_rapi_wait_next(c->rapi, VALGRIND_WAIT_MS, &at)) {
        if (pid > 0)
            finish(c, pid, 0);
        return -1;
    }
    int failed = 0;
    long first_serial = c->token_serial;
    for (long i = 0; i < base + n && !failed; i++) {
        char rid[64];
        snprintf(rid, sizeof(rid), "cg%d-%ld-4000-8000-000000000000", tag, i);
        enum cg_mix m = i < base ? CG_CONNECT : mix;
        long serial = m == CG_RECONNECT
                          ? first_serial + base + (i - base) / CG_REUSE
                          : c->token_serial++;
        char *ev = cg_event(c, m, tag, i, serial);
        struct bench_answer a = {0};
        failed = bench_rapi_invoke(c->rapi, rid, ev, VALGRIND_WAIT_MS, &a) ||
                 !answer_ok(m == CG_ECHO ? BENCH_ECHO : BENCH_CONNECT, &a);
        free(ev);
        free(a.body);
    }
    c->token_serial += n;
    finish(c, pid, 30000);
    return failed ? -1 : callgrind_total(out + strlen("--callgrind-out-file="));
}

/*
 * Instructions per warm event: the difference of a run with `n` more
 * events than a base run, so init and exit cancel out. $connects with a
 * distinct token each (what a new client costs), a reconnect mix (each
 * token 4 times, as clients that drop and come back), sync echoes.
 */
static void callgrind(struct ctx *c, struct bench_impl *impl)
{
    long base = 20, n = c->plan.callgrind_n;
    double a = callgrind_run(c, impl, base, 0, CG_CONNECT, 1);
    double b = a >= 0 ? callgrind_run(c, impl, base, n, CG_CONNECT, 2) : -1;
    double r = b >= 0 ? callgrind_run(c, impl, base, n, CG_RECONNECT, 3) : -1;
    double e = r >= 0 ? callgrind_run(c, impl, base, n, CG_ECHO, 4) : -1;
    if (a < 0 || b < 0 || r < 0 || e < 0) {
        fprintf(stderr, "bench: the callgrind runs failed (see %s/%s.log)\n",
                c->work, impl->name);
        impl->fig.failures++;
        return;
    }
    impl->fig.instr_per_connect = (b - a) / (double)n;
    impl->fig.instr_per_reconnect = (r - a) / (double)n;
    impl->fig.instr_per_echo = (e - a) / (double)n;
}

/* One PutItem of a bare item through `d`; its time in ms, or -1. */
static double put_ms(struct ddb *d, const char *pk_text)
{
    char pk[96];
    snprintf(pk, sizeof(pk), "CONN#%s", pk_text);
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(item, "pk"), "S", pk);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(item, "sk"), "S",
                            "METADATA");
    struct ddb_write_opts o = {.deadline_ms = wall_ms() + WAIT_MS};
    struct error_info e;
    error_clear(&e);
    int64_t t0 = bench_now_ns();
    enum result r = ddb_put_item(d, "streamer_connections", item, &o, NULL, &e);
    int64_t t1 = bench_now_ns();
    cJSON_Delete(item);
    if (r != RESULT_OK) {
        fprintf(stderr, "bench: driver PutItem: %s: %s\n", result_str(r),
                e.message);
        return -1;
    }
    return (double)(t1 - t0) / 1e6;
}

/*
 * Warms DynamoDB Local up (a JVM: its first thousand requests are slower
 * than the rest) with PutItems over TLS from the driver, so that the
 * implementation measured first does not pay for it.
 */
static void server_warmup(struct ctx *c)
{
    long warm = c->plan.smoke ? 100 : 2000;
    char dir[1100], pk[64];
    snprintf(dir, sizeof(dir), "%s/ca-dir", c->work);
    setenv("SSL_CERT_DIR", dir, 1);
    struct sigv4_credentials creds = {"AKIDBENCH", "bench/fake/secret", NULL};
    struct ddb_config cfg = {c->tls_endpoint, "us-east-1", &creds};
    struct error_info e;
    error_clear(&e);
    struct ddb *d = NULL;
    fprintf(stderr, "bench: warming DynamoDB Local up (%ld PutItems)\n", warm);
    if (ddb_new(&cfg, &d, &e) == RESULT_OK)
        for (long i = 0; i < warm; i++) {
            snprintf(pk, sizeof(pk), "warm-%ld", i);
            if (put_ms(d, pk) < 0)
                break;
        }
    ddb_free(d);
    unsetenv("SSL_CERT_DIR");
}

static void plan_init(struct plan *p, int smoke)
{
    p->smoke = smoke;
    p->cold_n = smoke ? 2 : 20;
    p->warmup_n = smoke ? 3 : 50;
    p->warm_n = smoke ? 10 : 2000;
    p->total_n = smoke ? 60 : 10000;
    p->early_n = smoke ? 30 : 1000;
    p->callgrind_n = smoke ? 0 : 200;
    /* BENCH_CALLGRIND=<n> and BENCH_COLD_N=<n> override, e.g. in a smoke
     * run. */
    if (getenv("BENCH_CALLGRIND"))
        p->callgrind_n = atoi(getenv("BENCH_CALLGRIND"));
    if (getenv("BENCH_COLD_N"))
        p->cold_n = atoi(getenv("BENCH_COLD_N"));
}

static void figures_init(struct bench_figures *f)
{
    memset(f, 0, sizeof(*f));
    f->init_ms = f->cold_ms = f->instr_per_connect = -1;
    f->instr_per_reconnect = f->instr_per_echo = -1;
    for (int k = 0; k < BENCH_KINDS; k++)
        f->cpu_us[k] = f->p50_ms[k] = f->p99_ms[k] = -1;
    f->rss_early_kb = f->rss_final_kb = f->hwm_kb = f->package_bytes = -1;
    f->anon_kb = f->file_kb = f->package_arm64_bytes = -1;
}

static void run_impl(struct ctx *c, struct bench_impl *impl, int cg)
{
    fprintf(stderr, "bench: %s: %ld warm events\n", impl->name,
            c->plan.total_n);
    warm_run(c, impl);
    if (cg && c->plan.callgrind_n > 0) {
        fprintf(stderr,
                "bench: %s: callgrind: a base run, then %d more $connects, "
                "reconnect mix, echoes\n",
                impl->name, c->plan.callgrind_n);
        callgrind(c, impl);
    }
}

/* A figure the run must have produced; prints what is missing. */
static int missing(const struct bench_impl *impl, const struct plan *p)
{
    const struct bench_figures *f = &impl->fig;
    int bad = f->init_ms < 0 || f->cold_ms < 0 || f->rss_final_kb < 0 ||
              f->hwm_kb < 0 || f->rss_early_kb < 0 || f->package_bytes < 0;
    for (int k = 0; k < BENCH_KINDS; k++)
        bad |= f->cpu_us[k] < 0 || f->p50_ms[k] < 0;
    if (p->callgrind_n > 0 && strcmp(impl->name, "streamer") == 0)
        bad |= f->instr_per_connect < 0 || f->instr_per_reconnect < 0 ||
               f->instr_per_echo < 0;
    if (bad)
        fprintf(stderr, "bench: %s: a figure is missing\n", impl->name);
    return bad;
}

/* BENCH_PEER_<NAME><suffix>, or NULL. */
static const char *peer_env(const char *name, const char *suffix)
{
    char var[128];
    int n = snprintf(var, sizeof(var), "BENCH_PEER_");
    for (const char *p = name; *p && n < 100; p++)
        var[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    snprintf(var + n, sizeof(var) - (size_t)n, "%s", suffix);
    const char *v = getenv(var);
    return v && *v ? v : NULL;
}

/* Streamer, then the peers BENCH_PEERS names; their count, or -1. */
static int impls_init(struct bench_impl *impls, const char *streamer_bin)
{
    impls[0] = (struct bench_impl){.name = "streamer",
                                   .title = "Streamer",
                                   .label = env_or("BENCH_STREAMER_LABEL", ""),
                                   .argv = words_split(streamer_bin)};
    figures_init(&impls[0].fig);
    impls[0].fig.package_bytes = atol(env_or("BENCH_STREAMER_ZIP_BYTES", "-1"));
    impls[0].fig.package_arm64_bytes =
        atol(env_or("BENCH_STREAMER_ARM64_ZIP_BYTES", "-1"));
    char **names = words_split(env_or("BENCH_PEERS", ""));
    int n = 1;
    for (char **name = names; *name; name++) {
        const char *cmd = peer_env(*name, "");
        if (!cmd || n == BENCH_MAX_IMPLS) {
            fprintf(stderr, "bench: peer %s: %s\n", *name,
                    cmd ? "too many peers" : "no BENCH_PEER_<NAME> command");
            return -1;
        }
        struct bench_impl *p = &impls[n++];
        const char *title = peer_env(*name, "_TITLE");
        const char *label = peer_env(*name, "_LABEL");
        const char *zip = peer_env(*name, "_ZIP_BYTES");
        *p = (struct bench_impl){.name = *name,
                                 .title = title ? title : *name,
                                 .label = label ? label : "",
                                 .argv = words_split(cmd),
                                 .cwd = peer_env(*name, "_CWD")};
        figures_init(&p->fig);
        p->fig.package_bytes = zip ? atol(zip) : -1;
    }
    if (n < 2) {
        fprintf(stderr, "bench: BENCH_PEERS names no peer\n");
        return -1;
    }
    return n;
}

int main(void)
{
    struct ctx c = {0};
    plan_init(&c.plan, atoi(env_or("BENCH_SMOKE", "0")) != 0);
    c.work = env_or("BENCH_WORK", "build/bench");
    const char *out = env_or("BENCH_OUT", "bench/results.md");
    char *token = read_text(c.work, "token");
    c.jwt_pem = read_text(c.work, "jwt_public.pem");
    const char *streamer_bin = getenv("BENCH_STREAMER");
    struct bench_impl impls[BENCH_MAX_IMPLS];
    int n = token && c.jwt_pem && streamer_bin ? impls_init(impls, streamer_bin)
                                               : -1;
    if (n < 0) {
        fprintf(stderr, "bench: run me through scripts/bench\n");
        return 2;
    }
    if (getenv("BENCH_FLOOR"))
        c.floor =
            (struct bench_impl){.name = "floor",
                                .title = "floor",
                                .label = "bench/floor.c",
                                .argv = words_split(getenv("BENCH_FLOOR"))};
    c.events = events_load(env_or("BENCH_EVENTS", "deploy/events"), token);
    char key_path[1024];
    snprintf(key_path, sizeof(key_path), "%s/jwt_private.pem", c.work);
    c.tokens = tokens_new(key_path);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    atexit(stop_children);
    c.rapi = bench_rapi_new();
    if (!c.events || !c.tokens || !c.rapi || ddb_local_start() != 0)
        return 2;
    const char *plain = ddb_local_endpoint();
    int port = atoi(strrchr(plain, ':') + 1);
    const char *names[BENCH_MAX_IMPLS];
    for (int k = 0; k < n; k++)
        names[k] = impls[k].name;
    if (start_tls(&c, port) != 0 || create_tables(plain, names, n) != 0)
        return 2;
    struct bench_setup setup = {c.plan.smoke,
                                c.plan.cold_n,
                                c.plan.warm_n,
                                c.plan.total_n,
                                c.plan.callgrind_n,
                                "DynamoDB Local behind socat (TLS, a test CA)",
                                -1};
    server_warmup(&c);
    /* BENCH_CALLGRIND_ONLY=1: Streamer's callgrind runs alone, their
     * figures printed (the profiles stay in BENCH_WORK/callgrind.*.out),
     * no report: for profiling. */
    if (atoi(env_or("BENCH_CALLGRIND_ONLY", "0"))) {
        if (c.plan.callgrind_n <= 0)
            c.plan.callgrind_n = 200;
        callgrind(&c, &impls[0]);
        printf("instructions per $connect (new token) %.0f, reconnect mix "
               "%.0f, echo %.0f\n",
               impls[0].fig.instr_per_connect, impls[0].fig.instr_per_reconnect,
               impls[0].fig.instr_per_echo);
        bench_rapi_free(c.rapi);
        events_free(c.events);
        tokens_free(c.tokens);
        free(token);
        free(c.jwt_pem);
        return impls[0].fig.failures ? 1 : 0;
    }
    cold_starts(&c, impls, n);
    setup.floor_init_ms = c.floor_init_ms;
    for (int k = 0; k < n; k++)
        run_impl(&c, &impls[k], k == 0);
    int status = report_write(out, &setup, impls, n) != 0;
    int failed = 0;
    for (int k = 0; k < n; k++)
        if (missing(&impls[k], &c.plan) || impls[k].fig.failures) {
            fprintf(stderr, "bench: %s: %d events failed\n", impls[k].name,
                    impls[k].fig.failures);
            failed = 1;
        }
    if (failed) {
        fprintf(stderr, "bench: FAILED (logs in %s)\n", c.work);
        status = 1;
    }
    bench_rapi_free(c.rapi);
    events_free(c.events);
    tokens_free(c.tokens);
    free(token);
    free(c.jwt_pem);
    return status;
}

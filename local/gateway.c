/* The local gateway: API Gateway WebSocket + Lambda + Streams on loopback. */
#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws_env.h"
#include "clock.h"
#include "ddb.h"
#include "devtoken.h"
#include "invoker.h"
#include "poller.h"
#include "scheduler.h"
#include "service.h"
#include "store.h"
#include "tables.h"
#include "wsapi.h"

#define BOOTSTRAP_WAIT_MS 20000
#define TABLES_WAIT_MS 120000
#define RETRY_PASS_MS 60000 /* template.yaml: rate(1 minute) */
#define SWEEP_MS 900000     /* template.yaml: rate(15 minutes) */

static const char USAGE[] =
    "usage: gateway --bootstrap PATH [--port N] [--stage NAME]\n"
    "               [--timeout-ms N] [--ddb-endpoint URL] [--create-tables]\n"
    "               [--no-stream] [--lambda-endpoint URL] [--console DIR]\n"
    "               [--idle-timeout-ms N] [--max-connection-ms N]\n"
    "               [--max-connections N]\n"
    "       gateway --ddb-endpoint URL --create-tables --tables-only\n"
    "       gateway --print-dev-token PRIVATE_KEY.pem\n"
    "Serves ws://127.0.0.1:PORT/<stage> with the API Gateway Management API\n"
    "at http://127.0.0.1:PORT/<stage>/@connections/{id}, runs the bootstrap\n"
    "as Lambda would and feeds it the requests table's stream. Prints\n"
    "\"READY ws://127.0.0.1:PORT/<stage>\" on stdout when serving.\n"
    "--lambda-endpoint (or STREAMER_LAMBDA_ENDPOINT), e.g. the\n"
    "http://127.0.0.1:3001 of `sam local start-lambda`: no bootstrap is run;\n"
    "every event goes to the Lambda Invoke API for the function named by\n"
    "STREAMER_LAMBDA_FUNCTION (default StreamerFunction). --console DIR\n"
    "serves DIR's files (the browser console) at http://127.0.0.1:PORT/.\n"
    "Fires the schedules as EventBridge would: the retry pass every\n"
    "$STREAMER_RETRY_PASS_MS (60000), the sweeper every $STREAMER_SWEEP_MS\n"
    "(900000); 0 turns one off. SIGUSR1 fires a pass now, SIGUSR2 a sweep.\n";

/* The gateway's settings, from the command line. */
struct gateway_options {
    struct wsapi_options ws;  /* port, stage, console, quotas */
    const char *bootstrap;    /* the function's executable */
    long timeout_ms;          /* the function's timeout */
    const char *ddb_endpoint; /* DynamoDB Local, or NULL */
    int create_tables;
    int stream;
    int tables_only;             /* create the tables and exit */
    const char *lambda_endpoint; /* Invoke-API mode, or NULL */
};

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int valid_stage(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (; *s; s++)
        if (!(*s == '-' || *s == '_' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* Parses argv into `o`; -1 (after a message) on a bad command line. */
static int parse_args(int argc, char **argv, struct gateway_options *o,
                      const char **dev_key)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "--create-tables") == 0)
            o->create_tables = 1;
        else if (strcmp(a, "--no-stream") == 0)
            o->stream = 0;
        else if (strcmp(a, "--tables-only") == 0)
            o->tables_only = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stderr);
            exit(0);
        } else if (!v) {
            fprintf(stderr, "gateway: unknown option or missing value: %s\n%s",
                    a, USAGE);
            return -1;
        } else if (strcmp(a, "--port") == 0 && !parse_long(v, 0, 65535, &n))
            o->ws.port = (int)n, i++;
        else if (strcmp(a, "--timeout-ms") == 0 &&
                 !parse_long(v, 1, 15 * 60 * 1000, &n))
            o->timeout_ms = n, i++;
        else if (strcmp(a, "--idle-timeout-ms") == 0 &&
                 !parse_long(v, 100, 24L * 3600 * 1000, &n))
            o->ws.idle_timeout_ms = n, i++;
        else if (strcmp(a, "--max-connection-ms") == 0 &&
                 !parse_long(v, 100, 7L * 24 * 3600 * 1000, &n))
            o->ws.max_connection_ms = n, i++;
        else if (strcmp(a, "--max-connections") == 0 &&
                 !parse_long(v, 1, 60000, &n))
            o->ws.max_connections = (int)n, i++;
        else if (strcmp(a, "--bootstrap") == 0)
            o->bootstrap = v, i++;
        else if (strcmp(a, "--stage") == 0 && valid_stage(v))
            o->ws.stage = v, i++;
        else if (strcmp(a, "--ddb-endpoint") == 0)
            o->ddb_endpoint = v, i++;
        else if (strcmp(a, "--console") == 0)
            o->ws.console_dir = v, i++;
        else if (strcmp(a, "--lambda-endpoint") == 0)
            o->lambda_endpoint = v, i++;
        else if (strcmp(a, "--print-dev-token") == 0)
            *dev_key = v, i++;
        else {
            fprintf(stderr, "gateway: bad option or value: %s %s\n%s", a, v,
                    USAGE);
            return -1;
        }
    }
    if (*dev_key || o->tables_only)
        return 0;
    if (!o->lambda_endpoint)
        o->lambda_endpoint = getenv("STREAMER_LAMBDA_ENDPOINT");
    if (o->lambda_endpoint && !*o->lambda_endpoint)
        o->lambda_endpoint = NULL;
    if (o->lambda_endpoint)
        return 0; /* no bootstrap: events go to the Invoke API */
    if (!o->bootstrap || access(o->bootstrap, X_OK) != 0) {
        fprintf(stderr, "gateway: --bootstrap %s: not an executable file\n",
                o->bootstrap ? o->bootstrap : "(missing)");
        return -1;
    }
    return 0;
}

/* Only loopback: DynamoDB Local (or sam local) must be on this machine. */
static int loopback_endpoint(const char *option, const char *url)
{
    struct aws_env_endpoint e;
    struct error_info err;
    if (aws_env_endpoint_parse(url, &e, &err) != RESULT_OK) {
        service_log("%s %s: %s", option, url, err.message);
        return 0;
    }
    if (strcmp(e.host, "127.0.0.1") && strcmp(e.host, "localhost") &&
        strcmp(e.host, "[::1]")) {
        service_log("%s %s: only a loopback endpoint is allowed", option, url);
        return 0;
    }
    return 1;
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* What the bootstrap (and our own DynamoDB calls) see, as on Lambda. */
static void set_environment(const struct gateway_options *o)
{
    if (!*env_or("AWS_REGION", "") && !*env_or("AWS_DEFAULT_REGION", ""))
        setenv("AWS_REGION", "us-east-1", 1);
    if (!*env_or("AWS_ACCESS_KEY_ID", "") ||
        !*env_or("AWS_SECRET_ACCESS_KEY", "")) {
        setenv("AWS_ACCESS_KEY_ID", "local", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "local", 1);
    }
    if (o->ddb_endpoint)
        setenv("AWS_ENDPOINT_URL_DYNAMODB", o->ddb_endpoint, 1);
    setenv("AWS_LAMBDA_FUNCTION_NAME",
           env_or("AWS_LAMBDA_FUNCTION_NAME", "streamer-local"), 1);
}

/* A schedule's interval from the environment, or `fallback`. */
static long interval_ms(const char *name, long fallback)
{
    const char *v = getenv(name);
    long n;
    if (!v || !*v)
        return fallback;
    if (parse_long(v, 0, 24L * 3600 * 1000, &n) != 0) {
        service_log("%s=%s is not a number of ms; using %ld", name, v,
                    fallback);
        return fallback;
    }
    return n;
}

static const char *region(void)
{
    return env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1"));
}

static int create_tables(const struct gateway_options *o)
{
    struct aws_env_credentials env;
    struct sigv4_credentials creds;
    struct error_info err;
    struct ddb *d = NULL;
    struct store s;
    if (aws_env_credentials_load(&env, NULL, &err) != RESULT_OK) {
        service_log("%s", err.message);
        return -1;
    }
    aws_env_credentials_view(&env, &creds);
    struct ddb_config dc = {o->ddb_endpoint, region(), &creds};
    enum result r = ddb_new(&dc, &d, &err);
    aws_env_credentials_cleanup(&env);
    if (r != RESULT_OK) {
        service_log("DynamoDB client: %s", err.message);
        return -1;
    }
    store_init(&s, d, env_or("CONNECTIONS_TABLE", "streamer_connections"),
               env_or("REQUESTS_TABLE", "streamer_requests"),
               env_or("SUBSCRIPTIONS_TABLE", "streamer_subscriptions"));
    r = tables_create_all(&s, clock_now_ms() + TABLES_WAIT_MS, &err);
    if (r != RESULT_OK)
        service_log("creating the tables at %s failed: %s %s (is DynamoDB "
                    "Local running there?)",
                    o->ddb_endpoint, err.type, err.message);
    else
        service_log("tables ready: %s, %s, %s", s.connections_table,
                    s.requests_table, s.subscriptions_table);
    store_cleanup(&s);
    ddb_free(d);
    return r == RESULT_OK ? 0 : -1;
}

/*
 * Room for max_connections WebSockets, each a socket and a civetweb
 * worker thread: the open-files limit up to its hard limit, and small
 * thread stacks (the workers' frames are a few KB; 8 MB each by default
 * would reserve 16 GB of address space for 2,000).
 */
static void raise_limits(const struct gateway_options *o)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)o->ws.max_connections * 2 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
            service_log("open files limited to %lu: fewer than %d "
                        "connections fit",
                        (unsigned long)rl.rlim_cur, o->ws.max_connections);
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setstacksize(&attr, 512 * 1024);
        pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
}

struct poke {
    int ports[2];
    atomic_int done;
};

/* Connects to each port every 20 ms until told to stop. */
static void *poke(void *arg)
{
    struct poke *p = arg;
    while (!atomic_load(&p->done)) {
        for (int i = 0; i < 2; i++) {
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)p->ports[i]),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            int fd = p->ports[i] ? socket(AF_INET, SOCK_STREAM, 0) : -1;
            if (fd >= 0) {
                connect(fd, (struct sockaddr *)&a, sizeof(a));
                close(fd);
            }
        }
        usleep(20000);
    }
    return NULL;
}

/*
 * Stops both civetweb servers. mg_stop() waits for the listening thread,
 * which only sees the stop flag when its poll() (2 s in civetweb 1.15)
 * returns; a connection ends that poll, so a helper keeps connecting
 * while they stop, and the shutdown takes milliseconds, not seconds.
 */
static void stop_servers(struct wsapi *ws, struct invoker *inv)
{
    struct poke p = {{ws ? wsapi_port(ws) : 0, 0}, 0};
    const char *colon = inv ? strrchr(invoker_address(inv), ':') : NULL;
    p.ports[1] = colon ? atoi(colon + 1) : 0;
    pthread_t t;
    int poking = pthread_create(&t, NULL, poke, &p) == 0;
    wsapi_free(ws);
    invoker_free(inv);
    atomic_store(&p.done, 1);
    if (poking)
        pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
    struct gateway_options o = {
        .ws = {.stage = "prod",
               .idle_timeout_ms = WSAPI_IDLE_TIMEOUT_MS,
               .max_connection_ms = WSAPI_MAX_CONNECTION_MS,
               .max_connections = WSAPI_MAX_CONNECTIONS},
        .timeout_ms = 30000,
        .stream = 1};
    const char *dev_key = NULL;
    if (parse_args(argc, argv, &o, &dev_key) != 0)
        return 2;
    if (dev_key)
        return devtoken_print(dev_key) == 0 ? 0 : 1;
    if (o.ddb_endpoint && !loopback_endpoint("--ddb-endpoint", o.ddb_endpoint))
        return 2;
    if (o.lambda_endpoint &&
        !loopback_endpoint("--lambda-endpoint", o.lambda_endpoint))
        return 2;
    if (!o.ddb_endpoint && !getenv("AWS_ENDPOINT_URL_DYNAMODB") &&
        !getenv("AWS_ENDPOINT_URL"))
        service_log("warning: no --ddb-endpoint: the function will call "
                    "DynamoDB in AWS");
    if (o.create_tables && !o.ddb_endpoint) {
        service_log("--create-tables needs --ddb-endpoint");
        return 2;
    }
    /* Signals are taken by sigwait() below; every thread blocks them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGUSR1); /* fire a retry pass now */
    sigaddset(&stop, SIGUSR2); /* fire a sweep now */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_limits(&o);
    set_environment(&o);
    if (o.create_tables && create_tables(&o) != 0)
        return 1;
    if (o.tables_only)
        return o.create_tables ? 0 : 2;
    mg_init_library(0);
    int status = 1;
    struct invoker *inv =
        o.lambda_endpoint
            ? invoker_new_remote(
                  o.lambda_endpoint,
                  env_or("STREAMER_LAMBDA_FUNCTION", "StreamerFunction"),
                  o.timeout_ms)
            : invoker_new(o.bootstrap, o.timeout_ms);
    struct wsapi *ws = inv ? wsapi_new(&o.ws, inv) : NULL;
    struct poller *poll = NULL;
    struct scheduler *sched = NULL;
    if (!ws)
        goto done;
    char url[200];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", wsapi_port(ws),
             o.ws.stage);
    setenv("WEBSOCKET_ENDPOINT", url, 1);
    setenv("AWS_LAMBDA_RUNTIME_API", invoker_address(inv), 1);
    if (invoker_start(inv, BOOTSTRAP_WAIT_MS) != 0)
        goto done;
    if (o.stream && o.ddb_endpoint)
        poll = poller_new(o.ddb_endpoint, region(),
                          env_or("REQUESTS_TABLE", "streamer_requests"),
                          o.create_tables, inv);
    else if (o.stream)
        service_log("stream poller off: no --ddb-endpoint");
    sched =
        scheduler_new(inv, interval_ms("STREAMER_RETRY_PASS_MS", RETRY_PASS_MS),
                      interval_ms("STREAMER_SWEEP_MS", SWEEP_MS));
    if (o.lambda_endpoint)
        service_log("Management API at %s/@connections", url);
    else
        service_log("Runtime API on %s, Management API at %s/@connections",
                    invoker_address(inv), url);
    printf("READY ws://127.0.0.1:%d/%s\n", wsapi_port(ws), o.ws.stage);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&stop, &sig) == 0 && (sig == SIGUSR1 || sig == SIGUSR2)) {
        if (sig == SIGUSR1)
            scheduler_fire_pass(sched);
        else
            scheduler_fire_sweep(sched);
    }
    service_log("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
done:
    if (inv)
        invoker_stop(inv); /* fails what waits, so the threads can end */
    poller_free(poll);
    scheduler_free(sched);
    stop_servers(ws, inv);
    mg_exit_library();
    return status;
}

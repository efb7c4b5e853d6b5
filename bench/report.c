/* The benchmark's report: the table, the budgets, bench/results.md. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define KB_PER_MB 1024.0
/* The budgets of issue 18 (docs/budgets.md). */
#define ZIP_BUDGET_BYTES                                                       \
    1200000L /* 1.2 MB, also deploy/check's limit */
#define INIT_BUDGET_MS 1.5
#define CONNECT_BUDGET_INSTR 400000.0
#define ECHO_BUDGET_INSTR 250000.0
#define RSS_BUDGET_KB (4 * 1024L)

/* Formats `v` with `fmt` into one of a few rotating buffers, or "—". */
static const char *num(const char *fmt, double v)
{
    static char bufs[16][64];
    static int next;
    char *b = bufs[next++ % 16];
    if (v < 0)
        snprintf(b, 64, "—");
    else
        snprintf(b, 64, fmt, v);
    return b;
}

/* peer / streamer, as "12.3×". */
static const char *ratio(double s, double p)
{
    return num("%.1f×", s > 0 && p >= 0 ? p / s : -1);
}

static double mb(long kb)
{
    return kb < 0 ? -1 : (double)kb / KB_PER_MB;
}

static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 2;
                v[strcspn(v, "\n")] = '\0';
                snprintf(out, size, "%s", v);
            }
            break;
        }
    fclose(f);
}

/* Per peer, the figure where it comes closest to Streamer (least ratio). */
static struct {
    double ratio;
    char what[256];
} closest[BENCH_MAX_IMPLS];

/*
 * One row: a cell per implementation, then per peer its ratio to
 * Streamer over `vals` (none when `vals` is NULL).
 */
static void row(FILE *f, const char *what, const char *const *cells,
                const double *vals, int n)
{
    fprintf(f, "| %s |", what);
    for (int k = 0; k < n; k++)
        fprintf(f, " %s |", cells[k]);
    for (int k = 1; k < n; k++) {
        fprintf(f, " %s |", vals ? ratio(vals[0], vals[k]) : "—");
        if (vals && vals[0] > 0 && vals[k] >= 0 &&
            (closest[k].ratio <= 0 || vals[k] / vals[0] < closest[k].ratio)) {
            closest[k].ratio = vals[k] / vals[0];
            snprintf(closest[k].what, sizeof(closest[k].what), "%s", what);
        }
    }
    fprintf(f, "\n");
}

/* A row of one figure: Streamer's formatted with `fs`, the peers' `fp`. */
static void value_row(FILE *f, const char *what, const double *vals, int n,
                      const char *fs, const char *fp)
{
    const char *cells[BENCH_MAX_IMPLS];
    for (int k = 0; k < n; k++)
        cells[k] = num(k == 0 ? fs : fp, vals[k]);
    row(f, what, cells, vals, n);
}

static void table(FILE *f, const struct bench_setup *u,
                  const struct bench_impl *im, int n)
{
    static const char *const kinds[BENCH_KINDS] = {
        "$connect (JWT + PutItem)", "sync message (echo)",
        "async enqueue (process_data)", "stream record (process_data run)"};
    char what[256];
    double v[BENCH_MAX_IMPLS] = {0};
    memset(closest, 0, sizeof(closest));
    fprintf(f, "| figure |");
    for (int k = 0; k < n; k++)
        fprintf(f, " %s |", im[k].title);
    for (int k = 1; k < n; k++)
        fprintf(f, " %s / Streamer |", im[k].title);
    fprintf(f, "\n|---|");
    for (int k = 1; k < 2 * n; k++)
        fprintf(f, "---:|");
    fprintf(f, "\n");
#define EACH(expr)                                                             \
    do {                                                                       \
        for (int k = 0; k < n; k++) {                                          \
            const struct bench_figures *g = &im[k].fig;                        \
            v[k] = (expr);                                                     \
        }                                                                      \
    } while (0)
    snprintf(what, sizeof(what), "init: exec → first GET /next (median of %d)",
             u->cold_n);
    EACH(g->init_ms);
    value_row(f, what, v, n, "%.2f ms", "%.1f ms");
    snprintf(what, sizeof(what),
             "cold first $connect: exec → answer, TLS included (median of %d)",
             u->cold_n);
    EACH(g->cold_ms);
    value_row(f, what, v, n, "%.2f ms", "%.1f ms");
    for (int kind = 0; kind < BENCH_KINDS; kind++) {
        snprintf(what, sizeof(what), "CPU per warm %s, user+sys (N=%ld)",
                 kinds[kind], u->warm_n);
        EACH(g->cpu_us[kind]);
        value_row(f, what, v, n, "%.0f µs", "%.0f µs");
    }
    for (int kind = 0; kind < BENCH_KINDS; kind++) {
        char cells[BENCH_MAX_IMPLS][64];
        const char *c[BENCH_MAX_IMPLS];
        for (int k = 0; k < n; k++) {
            snprintf(cells[k], sizeof(cells[k]), "%s / %s",
                     num("%.2f", im[k].fig.p50_ms[kind]),
                     num("%.2f ms", im[k].fig.p99_ms[kind]));
            c[k] = cells[k];
        }
        snprintf(what, sizeof(what), "latency %s, p50 / p99", kinds[kind]);
        EACH(g->p50_ms[kind]);
        row(f, what, c, v, n);
    }
    snprintf(what, sizeof(what), "RSS after %ld events",
             im[0].fig.early_events);
    EACH(mb(g->rss_early_kb));
    value_row(f, what, v, n, "%.1f MB", "%.1f MB");
    snprintf(what, sizeof(what), "RSS after %ld events", im[0].fig.events);
    EACH(mb(g->rss_final_kb));
    value_row(f, what, v, n, "%.1f MB", "%.1f MB");
    {
        char cells[BENCH_MAX_IMPLS][64];
        const char *c[BENCH_MAX_IMPLS];
        for (int k = 0; k < n; k++) {
            snprintf(cells[k], sizeof(cells[k]), "%s + %s",
                     num("%.1f", mb(im[k].fig.anon_kb)),
                     num("%.1f MB", mb(im[k].fig.file_kb)));
            c[k] = cells[k];
        }
        row(f, "… of which anonymous + file-backed (RssAnon + RssFile)", c,
            NULL, n);
    }
    EACH(mb(g->hwm_kb));
    value_row(f, "peak RSS (VmHWM)", v, n, "%.1f MB", "%.1f MB");
    EACH(g->package_bytes < 0 ? -1 : (double)g->package_bytes / 1e6);
    value_row(f, "deployment zip", v, n, "%.2f MB", "%.2f MB");
    if (im[0].fig.package_arm64_bytes >= 0) {
        EACH(k == 0 ? (double)g->package_arm64_bytes / 1e6 : -1);
        value_row(f, "deployment zip, arm64", v, n, "%.2f MB", "%.2f MB");
    }
    /* Streamer only: callgrind on Node.js measures its JIT and interpreter
     * more than the handler; the peers' columns are their CPU time above. */
    snprintf(what, sizeof(what),
             "instructions per warm $connect, a new token each (callgrind, "
             "%d events)",
             u->callgrind_n);
    EACH(k == 0 ? g->instr_per_connect : -1);
    value_row(f, what, v, n, "%.0f", "%.0f");
    snprintf(what, sizeof(what),
             "instructions per warm $connect, reconnect mix: each token "
             "%d times (callgrind, %d events)",
             4, u->callgrind_n);
    EACH(k == 0 ? g->instr_per_reconnect : -1);
    value_row(f, what, v, n, "%.0f", "%.0f");
    snprintf(what, sizeof(what),
             "instructions per warm sync message (echo) (callgrind, %d "
             "events)",
             u->callgrind_n);
    EACH(k == 0 ? g->instr_per_echo : -1);
    value_row(f, what, v, n, "%.0f", "%.0f");
#undef EACH
    fprintf(f, "\n");
    for (int k = 1; k < n; k++)
        if (closest[k].ratio > 0)
            fprintf(f, "The %s comes closest to Streamer in \"%s\": %s.\n",
                    im[k].title, closest[k].what,
                    num("%.1f×", closest[k].ratio));
}

static const char *verdict(int known, int met)
{
    return !known ? "not measured" : met ? "**met**" : "**not met**";
}

static void budgets(FILE *f, const struct bench_setup *u,
                    const struct bench_figures *s,
                    const struct bench_figures *p)
{
    char fig[256];
    fprintf(f, "| budget (docs/budgets.md) | this run | "
               "verdict |\n"
               "|---|---|---|\n");
    char floor[128] = "";
    if (u->floor_init_ms >= 0 && s->init_ms >= 0)
        snprintf(floor, sizeof(floor),
                 " (this machine's floor, bench/floor.c: %.2f ms; Streamer "
                 "%+.2f ms from it)",
                 u->floor_init_ms, s->init_ms - u->floor_init_ms);
    fprintf(f, "| init ≤ %.1f ms (median) | %s%s | %s |\n", INIT_BUDGET_MS,
            num("%.2f ms", s->init_ms), floor,
            verdict(s->init_ms >= 0, s->init_ms <= INIT_BUDGET_MS));
    double cold =
        s->cold_ms > 0 && p->cold_ms > 0 ? p->cold_ms / s->cold_ms : -1;
    fprintf(f, "| cold first $connect ≥ 10× faster than the peer | %s | %s |\n",
            num("%.1f× faster", cold), verdict(cold >= 0, cold >= 10));
    fprintf(f,
            "| instructions per warm $connect, a new token each ≤ %.0fk | "
            "%s | %s |\n",
            CONNECT_BUDGET_INSTR / 1e3, num("%.0f", s->instr_per_connect),
            verdict(s->instr_per_connect >= 0,
                    s->instr_per_connect <= CONNECT_BUDGET_INSTR));
    fprintf(f, "| instructions per warm sync echo ≤ %.0fk | %s | %s |\n",
            ECHO_BUDGET_INSTR / 1e3, num("%.0f", s->instr_per_echo),
            verdict(s->instr_per_echo >= 0,
                    s->instr_per_echo <= ECHO_BUDGET_INSTR));
    long e = s->rss_early_kb, z = s->rss_final_kb;
    char growth[32] = "—";
    if (e > 0 && z >= 0)
        snprintf(growth, sizeof(growth), "%+.1f%%",
                 100.0 * (double)(z - e) / (double)e);
    int flat = e > 0 && z >= 0 && z - e <= e / 20; /* within 5% */
    snprintf(fig, sizeof(fig), "%s after %ld events (%s since event %ld)",
             num("%.1f MB", mb(z)), s->events, growth, s->early_events);
    fprintf(f,
            "| RSS after 10,000 events ≤ %.0f MB, flat (≤ 5%% growth from "
            "event 1,000) | %s | %s |\n",
            RSS_BUDGET_KB / KB_PER_MB, fig,
            verdict(z >= 0 && e > 0, z <= RSS_BUDGET_KB && flat));
    long arm = s->package_arm64_bytes, x86 = s->package_bytes;
    snprintf(fig, sizeof(fig), "%s x86_64, %s arm64",
             num("%.0f bytes", (double)x86), num("%.0f bytes", (double)arm));
    fprintf(f,
            "| deployment zip ≤ 1.2 MB (%ld bytes), x86_64 "
            "and arm64 | %s | %s |\n",
            ZIP_BUDGET_BYTES, fig,
            verdict(x86 >= 0 && arm >= 0,
                    x86 <= ZIP_BUDGET_BYTES && arm <= ZIP_BUDGET_BYTES));
}

static void header(FILE *f, const struct bench_setup *u,
                   const struct bench_impl *im, int n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char date[64], cpu[256];
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
    cpu_model(cpu, sizeof(cpu));
    struct utsname un;
    uname(&un);
    fprintf(f, "# Benchmark results\n\n");
    if (u->smoke)
        fprintf(f, "**Smoke run** (`make bench BENCH_SMOKE=1`): a few events "
                   "to prove the benchmark works; these figures mean "
                   "nothing. `make bench` writes the real ones.\n\n");
    fprintf(f, "- date: %s\n- machine: %s %s %s, %s, %ld CPUs online\n", date,
            un.sysname, un.release, un.machine, cpu,
            sysconf(_SC_NPROCESSORS_ONLN));
    for (int k = 0; k < n; k++)
        fprintf(f, "- %s: %s\n", im[k].title, im[k].label);
    fprintf(f,
            "- DynamoDB: %s, on loopback; Management API: a loopback "
            "stub answering 200\n",
            u->dynamodb);
    fprintf(f,
            "- run: %d cold starts each; one warm process each gets %ld "
            "events (%ld measured per kind after a warm-up); produced by "
            "`make bench` (bench/driver.c)\n\n",
            u->cold_n, u->total_n, u->warm_n);
}

static const char *const method_text =
    "## Method\n\n"
    "The driver (bench/driver.c) is the Lambda Runtime API for all: it "
    "starts the function as Lambda would (same environment, same tables "
    "layout, its own tables each), hands out one event at a time and "
    "times only the function. Init is exec → the first `GET /next`; a "
    "cold first event is exec → the answer to the first `$connect` (TLS "
    "handshake, certificate loading and the PutItem included); the cold "
    "starts are taken in turns (Streamer, each peer, the floor, Streamer, "
    "...), each 300 ms after the one before (as on Lambda, nothing else "
    "runs: at once, the last one's teardown and DynamoDB Local's work "
    "doubled every init), after DynamoDB Local was "
    "warmed up, and the TLS terminator sets TCP_NODELAY on both sides "
    "(else Nagle and delayed ACKs add 40 ms to a new connection's first "
    "request). CPU is "
    "user+sys of the function's process over N events, read from "
    "/proc/<pid>/task/*/schedstat while it waits on `/next`. RSS is "
    "VmRSS / VmHWM from /proc/<pid>/status. Latency is the driver's: "
    "event written → answer read. Every measured `$connect`, Streamer's "
    "and the peers', timed ones too, carries a token the driver has just "
    "signed (bench/tokens.c), so a function's cache of verified tokens "
    "never helps them. Async requests come from 256 senders in turn, each "
    "its own user and connection (connected before the warm-up), as "
    "Streamer admits at most 20 requests in flight per user and the "
    "enqueues are measured before their stream records end them. "
    "The init floor is bench/floor.c, timed the same way in the same "
    "turns: the least a custom runtime can do before its first `GET /next` "
    "(read AWS_LAMBDA_RUNTIME_API, connect, send), linked as the bootstrap "
    "is (dynamic glibc); what a function needs beyond it is its own. "
    "Instructions (Streamer): callgrind runs that "
    "differ from a base run only in N more events (see their rows), so "
    "init and exit "
    "cancel out: `$connect`s with a new token each, a reconnect mix where "
    "each token comes 4 times (1 miss, 3 hits), and sync echoes. Each "
    "implementation has its own three tables (store/tables.c "
    "creates them) and logs as it would on Lambda (Streamer: a line and "
    "an EMF metric per event at INFO) to build/bench/<name>.log. Zips: "
    "Streamer's is `make package`'s build/streamer.zip; the peer's is its "
    "handler and the production closure of its pinned SDK packages "
    "(aws-lambda-ric is not shipped: the nodejs20.x runtime has its own; "
    "a peer relying on the runtime's bundled SDK would ship a few KB); the "
    "Go peer's is its static, stripped bootstrap alone, as a "
    "provided.al2023 function ships. The Go peer is built from Debian's Go "
    "and AWS SDK for Go v2 in GOPATH mode; aws-lambda-go is not packaged "
    "in Debian, so its Runtime API loop is its own, over net/http, as "
    "aws-lambda-go's is (bench/peer-go/runtime.go). It logs as the Node "
    "peer does: warnings and errors only.\n\n"
    "All do the same store work per event (the peers mirror Streamer's "
    "calls one for one):\n\n"
    "- `$connect`: verify the RS256 JWT (OpenSSL / node:crypto / Go's "
    "crypto/rsa + crypto/sha256), PutItem "
    "the connection (condition `attribute_not_exists(pk)`), answer 200.\n"
    "- sync message `echo`: parse and validate the message, GetItem the "
    "sender's connection (consistent read), answer the payload back.\n"
    "- async enqueue `process_data`: parse, validate, GetItem the sender, "
    "PutItem the PENDING request (conditional), PutItem the sender's "
    "subscription (conditional), answer an acknowledgment.\n"
    "- stream record (INSERT of that PENDING request): UpdateItem "
    "PENDING→PROCESSING (status and version condition); for each of the "
    "3 items an UpdateItem of progress; a push on the first and on 100% "
    "(each: Query the subscriptions' request-index, GetItem the "
    "subscriber's connection once, POST @connections); UpdateItem "
    "COMPLETED with the result; Query + POST the completion; answer "
    "`{\"batchItemFailures\":[]}`.\n\n";

int report_write(const char *path, const struct bench_setup *setup,
                 const struct bench_impl *impls, int n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return -1;
    header(m, setup, impls, n);
    table(m, setup, impls, n);
    fprintf(m, "\n## Budgets\n\nThe budgets' \"peer\" is the %s.\n\n",
            impls[1].title);
    budgets(m, setup, &impls[0].fig, &impls[1].fig);
    fprintf(m, "\n%s", method_text);
    fclose(m);
    fputs(text, stdout);
    fflush(stdout); /* before the driver's own messages on stderr */
    FILE *f = fopen(path, "w");
    int rc = f && fputs(text, f) >= 0 ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "bench: cannot write %s\n", path);
    free(text);
    return rc;
}

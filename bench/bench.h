/* What the benchmark driver measures, shared by the driver and report. */
#ifndef STREAMER_BENCH_H
#define STREAMER_BENCH_H

#include <stddef.h>

/* The warm event kinds, in the order they are run. */
enum bench_kind {
    BENCH_CONNECT = 0, /* $connect: JWT + PutItem */
    BENCH_ECHO,        /* sync message: GetItem (sender) + answer */
    BENCH_ENQUEUE,     /* async message: GetItem + 2 PutItems + ack */
    BENCH_STREAM,      /* stream record: the process_data run */
    BENCH_KINDS
};

/* One implementation's figures; a negative value is "not measured". */
struct bench_figures {
    double init_ms; /* median exec → first GET /next */
    double cold_ms; /* median exec → first $connect answered */
    int cold_runs;
    double cpu_us[BENCH_KINDS]; /* user + sys per warm event */
    double p50_ms[BENCH_KINDS], p99_ms[BENCH_KINDS];
    long per_kind;     /* warm events of each kind measured */
    long rss_early_kb; /* VmRSS after `early_events` */
    long early_events;
    long rss_final_kb;          /* VmRSS after `events` */
    long hwm_kb;                /* VmHWM then */
    long anon_kb, file_kb;      /* RssAnon, RssFile then (RssShmem aside) */
    long events;                /* events the warm process answered */
    double instr_per_connect;   /* callgrind (Streamer only): new tokens */
    double instr_per_reconnect; /* each token 4 times (1 miss, 3 hits) */
    double instr_per_echo;      /* sync echo */
    long package_arm64_bytes;   /* the arm64 zip, -1 when not built */
    long package_bytes;         /* the deployment zip */
    int failures;               /* events answered wrongly or not at all */
};

/* Streamer and up to three peers. */
#define BENCH_MAX_IMPLS 4

/* One implementation under test. */
struct bench_impl {
    const char *name;  /* "streamer", "node", "go": tables, logs, ids */
    const char *title; /* its column in the report, e.g. "Go peer" */
    const char *label; /* what it is, for the report */
    char **argv;       /* the command that starts it */
    const char *cwd;   /* its working directory, or NULL */
    struct bench_figures fig;
};

/* How the run was set up, for the report. */
struct bench_setup {
    int smoke;
    int cold_n;
    long warm_n;  /* per kind */
    long total_n; /* events the warm process gets */
    int callgrind_n;
    const char *dynamodb; /* how DynamoDB was reached */
    /* bench/floor.c's median exec → first GET /next: the machine's floor
     * for init; negative when not measured. */
    double floor_init_ms;
};

#endif

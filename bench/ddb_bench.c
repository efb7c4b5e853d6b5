/* Benchmark: PutItem throughput and CPU per request over one client. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ddb_admin.h"
#include "ddb_local.h"
#include "item.h"

/*
 * Talks to the DynamoDB endpoint in STREAMER_BENCH_DDB_ENDPOINT when set,
 * else starts DynamoDB Local itself (the tests' launcher) and stops it at
 * the end. It creates a table of
 * its own, makes STREAMER_BENCH_N (default 2000) PutItems of a
 * connection-sized item one after another over one keep-alive client,
 * prints requests/s and CPU µs per request (getrusage user + sys over
 * the loop, divided by N), and deletes the table. Credentials come from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set, else fake ones
 * (DynamoDB Local takes any); the region from AWS_REGION, else us-east-1.
 */

#define DEFAULT_N 2000L
#define CALL_MS 30000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int fail(const char *what, enum result r, const struct error_info *e)
{
    fprintf(stderr, "ddb_bench: %s: %s: %s %s\n", what, result_str(r), e->type,
            e->message);
    return 1;
}

/* A connection item as connections.c writes it (docs/data-model.md). */
static cJSON *connection_item(long i)
{
    char id[64], pk[80];
    snprintf(id, sizeof(id), "bench-conn-%08ld=", i);
    snprintf(pk, sizeof(pk), "CONN#%s", id);
    cJSON *item = item_new();
    item_set_s(item, "pk", pk);
    item_set_s(item, "sk", "METADATA");
    item_set_s(item, "connection_id", id);
    item_set_s(item, "user_id", "user-0001");
    item_set_s(item, "tenant_id", "tenant-a");
    item_set_s(item, "endpoint",
               "https://abc123.execute-api.eu-west-1.amazonaws.com/prod");
    item_set_s(item, "connected_at", "2026-11-24T10:00:00.123Z");
    item_set_s(item, "last_ping", "2026-11-24T10:00:00.123Z");
    item_set_s(item, "created_at", "2026-11-24T10:00:00.123Z");
    item_set_s(item, "updated_at", "2026-11-24T10:00:00.123Z");
    item_set_i64(item, "version", 1);
    item_set_i64(item, "ttl", 1795600000 + i);
    cJSON *meta = item_new();
    item_set_s(meta, "user_agent", "bench/1.0");
    item_set_m(item, "metadata", meta);
    return item;
}

static cJSON *table_request(const char *table)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
             "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\","
             "\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":"
             "\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\","
             "\"KeyType\":\"RANGE\"}]}",
             table);
    return cJSON_Parse(text);
}

int main(void)
{
    const char *endpoint = getenv("STREAMER_BENCH_DDB_ENDPOINT");
    if (!endpoint || !*endpoint) {
        if (ddb_local_start() != 0)
            return 2;
        endpoint = ddb_local_endpoint();
    }
    long n = strtol(env_or("STREAMER_BENCH_N", "2000"), NULL, 10);
    if (n <= 0)
        n = DEFAULT_N;
    struct sigv4_credentials creds = {
        env_or("AWS_ACCESS_KEY_ID", "AKIDBENCH"),
        env_or("AWS_SECRET_ACCESS_KEY", "bench/fake/secret"),
        getenv("AWS_SESSION_TOKEN")};
    struct ddb_config cfg = {endpoint, env_or("AWS_REGION", "us-east-1"),
                             &creds};
    struct error_info e;
    struct ddb *d = NULL;
    enum result r = ddb_new(&cfg, &d, &e);
    if (r != RESULT_OK)
        return fail("ddb_new", r, &e);

    char table[64];
    snprintf(table, sizeof(table), "streamer_bench_%ld", (long)getpid());
    cJSON *create = table_request(table);
    r = ddb_create_table(d, create, now_ms() + CALL_MS, &e);
    cJSON_Delete(create);
    if (r == RESULT_OK)
        r = ddb_wait_active(d, table, now_ms() + CALL_MS, &e);
    if (r != RESULT_OK) {
        ddb_free(d);
        return fail("create table", r, &e);
    }

    /* One warm-up request opens the connection and derives the key. */
    cJSON *warm = connection_item(-1);
    r = ddb_put_item(d, table, warm, NULL, NULL, &e);
    cJSON_Delete(warm);

    double cpu0 = cpu_us(), t0 = mono_s();
    long done = 0;
    for (long i = 0; i < n && r == RESULT_OK; i++, done++) {
        cJSON *item = connection_item(i);
        struct ddb_write_opts o = {.condition = "attribute_not_exists(pk)",
                                   .deadline_ms = now_ms() + CALL_MS};
        r = ddb_put_item(d, table, item, &o, NULL, &e);
        cJSON_Delete(item);
    }
    double wall_s = mono_s() - t0, cpu = cpu_us() - cpu0;
    int status = 0;
    if (r != RESULT_OK)
        status = fail("PutItem", r, &e);
    else
        printf("ddb_bench: %ld PutItems in %.3f s: %.0f requests/s, "
               "%.1f CPU us/request (user+sys), %.1f us wall/request\n",
               done, wall_s, (double)done / wall_s, cpu / (double)done,
               wall_s * 1e6 / (double)done);

    enum result dr = ddb_delete_table(d, table, now_ms() + CALL_MS, &e);
    if (dr != RESULT_OK)
        status = fail("delete table", dr, &e);
    ddb_free(d);
    return status;
}

/* DynamoDB Streams to the function, as Lambda's event source mapping. */
#include "poller.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws.h"
#include "aws_env.h"
#include "buf.h"
#include "clock.h"
#include "ddb_admin.h"
#include "invoker.h"
#include "service.h"
#include "worker.h"
#include "xmalloc.h"

/*
 * DynamoDB Streams API Reference (DynamoDBStreams_20120810): DescribeStream
 * lists the shards, GetShardIterator (TRIM_HORIZON, LATEST,
 * AFTER_SEQUENCE_NUMBER) starts reading one, GetRecords returns Records
 * and NextShardIterator (absent once a closed shard is read to its end).
 * Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB": the
 * function gets {"Records":[...]} with eventSourceARN added, at most
 * BatchSize (100) records; with ReportBatchItemFailures it answers
 * {"batchItemFailures":[{"itemIdentifier":"<SequenceNumber>"}]} and Lambda
 * retries from the lowest failed sequence number; an empty or unknown
 * identifier fails the whole batch. "Lambda event filtering": the
 * template's FilterCriteria keep INSERTs whose NewImage.status is PENDING,
 * and filtered-out records are dropped, not delivered.
 */
#define STREAMS_PREFIX "DynamoDBStreams_20120810"
#define POLL_MS 250
#define ERROR_PAUSE_MS 1000
#define REDESCRIBE_MS 10000
#define BATCH_SIZE 100
#define MAX_RETRIES 5
#define MAX_SHARDS 64
#define CALL_TIMEOUT_MS 10000

struct shard {
    char id[128];
    char *iterator;    /* NULL: to be (re)obtained */
    char last_seq[64]; /* the last sequence number handled */
    const char *start; /* iterator type when there is no last_seq */
    int finished;      /* closed and read to its end */
};

struct poller {
    struct worker worker;
    char *endpoint, *region, *table;
    int from_start;
    struct invoker *inv;
    struct aws_client *streams;
    struct ddb *ddb;
    char *stream_arn;
    struct shard shards[MAX_SHARDS];
    size_t shard_count;
    int64_t described_ms;
    char last_error[300]; /* not logged again until something changes */
};

/* Logs a failure unless it repeats the previous one. */
static void report(struct poller *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report(struct poller *p, const char *fmt, ...)
{
    char line[sizeof(p->last_error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (strcmp(line, p->last_error) != 0)
        service_log("stream: %s%s", line,
                    p->last_error[0] ? "" : " (retrying every second)");
    memcpy(p->last_error, line, sizeof(line));
}

/* One Streams call; `*out` the parsed answer (caller owns) or NULL.
 * Failures are logged unless their type is `quiet`. */
static enum result call_quiet(struct poller *p, const char *op, cJSON *req,
                              const char *quiet, cJSON **out)
{
    struct buf resp;
    struct error_info err;
    error_clear(&err);
    buf_init(&resp, AWS_MAX_BODY_BYTES);
    char *body = xjson_print(req);
    cJSON_Delete(req);
    enum result r = aws_call(p->streams, op, body, strlen(body),
                             clock_now_ms() + CALL_TIMEOUT_MS, &resp, &err);
    free(body);
    *out = r == RESULT_OK ? cJSON_Parse(buf_str(&resp)) : NULL;
    if (r == RESULT_OK && !*out)
        r = RESULT_PARSE;
    if (r != RESULT_OK && !(quiet && strcmp(err.type, quiet) == 0))
        report(p, "%s failed: %s %s", op, err.type, err.message);
    buf_cleanup(&resp);
    return r == RESULT_OK || !quiet || strcmp(err.type, quiet)
               ? r
               : RESULT_NOT_FOUND;
}

static enum result call(struct poller *p, const char *op, cJSON *req,
                        cJSON **out)
{
    return call_quiet(p, op, req, NULL, out);
}

/* DescribeTable → LatestStreamArn. */
static int find_stream(struct poller *p)
{
    cJSON *t = NULL;
    struct error_info err;
    if (ddb_describe_table(p->ddb, p->table, clock_now_ms() + CALL_TIMEOUT_MS,
                           &t, &err) != RESULT_OK) {
        report(p, "DescribeTable %s failed: %s %s", p->table, err.type,
               err.message);
        return -1;
    }
    const char *arn = json_string_member(t, "LatestStreamArn");
    if (arn)
        p->stream_arn = xstrdup(arn);
    else
        report(p, "table %s has no stream", p->table);
    cJSON_Delete(t);
    return arn ? 0 : -1;
}

/* DescribeStream: adds shards not seen yet. Shards open at the first
 * look start at TRIM_HORIZON or LATEST; later ones (children of closed
 * shards) at TRIM_HORIZON. */
static int describe(struct poller *p)
{
    int first = p->described_ms == 0;
    cJSON *req = xjson(cJSON_CreateObject()), *resp;
    xjson_add(req, "StreamArn", cJSON_CreateString(p->stream_arn));
    if (call(p, "DescribeStream", req, &resp) != RESULT_OK)
        return -1;
    p->described_ms = clock_now_ms();
    const cJSON *d =
        cJSON_GetObjectItemCaseSensitive(resp, "StreamDescription");
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(d, "Shards"))
    {
        const char *id = json_string_member(s, "ShardId");
        const cJSON *range =
            cJSON_GetObjectItemCaseSensitive(s, "SequenceNumberRange");
        int closed = json_string_member(range, "EndingSequenceNumber") != NULL;
        size_t i = 0;
        while (id && i < p->shard_count && strcmp(p->shards[i].id, id))
            i++;
        if (!id || i < p->shard_count || p->shard_count == MAX_SHARDS ||
            strlen(id) >= sizeof(p->shards[0].id))
            continue;
        if (first && closed && !p->from_start)
            continue; /* LATEST: nothing new will come from it */
        struct shard *sh = &p->shards[p->shard_count++];
        memset(sh, 0, sizeof(*sh));
        snprintf(sh->id, sizeof(sh->id), "%s", id);
        sh->start = first && !p->from_start ? "LATEST" : "TRIM_HORIZON";
    }
    cJSON_Delete(resp);
    return 0;
}

static int get_iterator(struct poller *p, struct shard *sh)
{
    cJSON *req = xjson(cJSON_CreateObject()), *resp;
    xjson_add(req, "StreamArn", cJSON_CreateString(p->stream_arn));
    xjson_add(req, "ShardId", cJSON_CreateString(sh->id));
    if (sh->last_seq[0]) {
        xjson_add(req, "ShardIteratorType",
                  cJSON_CreateString("AFTER_SEQUENCE_NUMBER"));
        xjson_add(req, "SequenceNumber", cJSON_CreateString(sh->last_seq));
    } else {
        xjson_add(req, "ShardIteratorType", cJSON_CreateString(sh->start));
    }
    if (call(p, "GetShardIterator", req, &resp) != RESULT_OK)
        return -1;
    const char *it = json_string_member(resp, "ShardIterator");
    sh->iterator = it ? xstrdup(it) : NULL;
    cJSON_Delete(resp);
    return it ? 0 : -1;
}

static int wanted(const cJSON *rec)
{
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(rec, "dynamodb"), "NewImage");
    const char *name = json_string_member(rec, "eventName");
    const char *status = json_string_member(
        cJSON_GetObjectItemCaseSensitive(img, "status"), "S");
    return name && status && strcmp(name, "INSERT") == 0 &&
           strcmp(status, "PENDING") == 0;
}

static const char *seq_of(const cJSON *rec)
{
    return json_string_member(cJSON_GetObjectItemCaseSensitive(rec, "dynamodb"),
                              "SequenceNumber");
}

/*
 * The index from which to redeliver: that of the lowest failed sequence
 * number; 0 (all) for an identifier not in the batch; n when none failed.
 */
static int redeliver_from(const char *answer, cJSON *const *recs, int n)
{
    cJSON *a = cJSON_Parse(answer);
    const cJSON *f,
        *list = cJSON_GetObjectItemCaseSensitive(a, "batchItemFailures");
    int from = n;
    cJSON_ArrayForEach(f, list)
    {
        const char *id = json_string_member(f, "itemIdentifier");
        int i = 0;
        while (id && i < n && strcmp(seq_of(recs[i]), id) != 0)
            i++;
        if (i == n) { /* empty or unknown: the whole batch failed */
            from = 0;
            break;
        }
        if (i < from)
            from = i;
    }
    cJSON_Delete(a);
    return from;
}

/* Invokes the function with `recs` until done, retrying failures. */
static void deliver(struct poller *p, cJSON *const *recs, int n)
{
    int from = 0;
    for (int attempt = 0; from < n; attempt++) {
        if (attempt > MAX_RETRIES) {
            service_log("stream: dropping %d record(s) after %d retries",
                        n - from, MAX_RETRIES);
            return;
        }
        if (attempt > 0 && worker_pause_ms(&p->worker, 500L << (attempt - 1)))
            return;
        cJSON *event = xjson(cJSON_CreateObject());
        cJSON *list = xjson(cJSON_CreateArray());
        xjson_add(event, "Records", list);
        for (int i = from; i < n; i++)
            xjson_append(list, cJSON_Duplicate(recs[i], 1));
        char *text = xjson_print(event);
        cJSON_Delete(event);
        char label[64], *answer = NULL;
        snprintf(label, sizeof(label), "STREAM %d record(s)%s", n - from,
                 attempt ? " (retry)" : "");
        int rc = invoker_invoke(p->inv, label, text, &answer);
        free(text);
        if (rc < 0)
            return;
        int next = rc == 0
                       ? from + redeliver_from(answer, recs + from, n - from)
                       : from;
        free(answer);
        if (next < n)
            service_log("stream: %d record(s) to retry from %s", n - next,
                        seq_of(recs[next]));
        from = next;
    }
}

/*
 * GetRecords on `sh`. DynamoDB Local answers TrimmedDataAccessException
 * for a TRIM_HORIZON iterator taken while the shard was empty once
 * records arrive; a fresh iterator then reads them, so that one is
 * retried at once without a log line.
 */
static cJSON *get_records(struct poller *p, struct shard *sh)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!sh->iterator && get_iterator(p, sh) != 0)
            return NULL;
        cJSON *req = xjson(cJSON_CreateObject()), *resp;
        xjson_add(req, "ShardIterator", cJSON_CreateString(sh->iterator));
        xjson_add(req, "Limit", cJSON_CreateNumber(BATCH_SIZE));
        free(sh->iterator);
        sh->iterator = NULL;
        enum result r =
            call_quiet(p, "GetRecords", req,
                       attempt ? NULL : "TrimmedDataAccessException", &resp);
        if (r == RESULT_OK)
            return resp;
        if (r != RESULT_NOT_FOUND)
            return NULL; /* a new iterator after last_seq next time */
    }
    return NULL;
}

/* One GetRecords on `sh`; delivers what passes the filter. */
static int poll_shard(struct poller *p, struct shard *sh)
{
    cJSON *resp = get_records(p, sh);
    if (!resp)
        return -1;
    cJSON *recs[BATCH_SIZE], *rec;
    int n = 0;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(resp, "Records"))
    {
        const char *seq = seq_of(rec);
        if (!seq || strlen(seq) >= sizeof(sh->last_seq))
            continue;
        snprintf(sh->last_seq, sizeof(sh->last_seq), "%s", seq);
        if (!wanted(rec) || n == BATCH_SIZE)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "eventSourceARN");
        xjson_add(rec, "eventSourceARN", cJSON_CreateString(p->stream_arn));
        if (!cJSON_GetObjectItemCaseSensitive(rec, "awsRegion"))
            xjson_add(rec, "awsRegion", cJSON_CreateString(p->region));
        recs[n++] = rec;
    }
    const char *next = json_string_member(resp, "NextShardIterator");
    if (next)
        sh->iterator = xstrdup(next);
    else
        sh->finished = 1;
    if (n > 0)
        deliver(p, recs, n);
    cJSON_Delete(resp);
    return 0;
}

/* One round: find the stream, refresh shards, read each open shard. */
static int poll_once(struct poller *p)
{
    if (!p->stream_arn && find_stream(p) != 0)
        return -1;
    int any_finished = 0;
    for (size_t i = 0; i < p->shard_count; i++)
        any_finished |= p->shards[i].finished;
    if ((p->described_ms == 0 || any_finished ||
         clock_now_ms() - p->described_ms > REDESCRIBE_MS) &&
        describe(p) != 0)
        return -1;
    int failed = 0;
    for (size_t i = 0; i < p->shard_count; i++)
        if (!p->shards[i].finished && poll_shard(p, &p->shards[i]) != 0)
            failed = 1;
    /* Forget finished shards so the table does not fill up. */
    size_t kept = 0;
    for (size_t i = 0; i < p->shard_count; i++)
        if (!p->shards[i].finished)
            p->shards[kept++] = p->shards[i];
        else
            free(p->shards[i].iterator);
    p->shard_count = kept;
    return failed ? -1 : 0;
}

static int clients_new(struct poller *p)
{
    struct aws_env_credentials env;
    struct sigv4_credentials creds;
    struct error_info err;
    if (aws_env_credentials_load(&env, NULL, &err) != RESULT_OK) {
        service_log("stream: %s", err.message);
        return -1;
    }
    aws_env_credentials_view(&env, &creds);
    struct ddb_config dc = {p->endpoint, p->region, &creds};
    struct aws_client_config ac = {.endpoint_url = p->endpoint,
                                   .region = p->region,
                                   .service = "dynamodb",
                                   .target_prefix = STREAMS_PREFIX,
                                   .credentials = &creds};
    int ok = ddb_new(&dc, &p->ddb, &err) == RESULT_OK &&
             aws_client_new(&ac, &p->streams, &err) == RESULT_OK;
    aws_env_credentials_cleanup(&env);
    if (!ok)
        service_log("stream: %s", err.message);
    return ok ? 0 : -1;
}

static void *run(void *arg)
{
    struct poller *p = arg;
    if (clients_new(p) != 0)
        return NULL;
    service_log("stream: polling table %s every %d ms", p->table, POLL_MS);
    for (;;) {
        int r = poll_once(p);
        if (r == 0 && p->last_error[0]) {
            service_log("stream: polling again");
            p->last_error[0] = '\0';
        }
        if (worker_pause_ms(&p->worker, r == 0 ? POLL_MS : ERROR_PAUSE_MS))
            break;
    }
    return NULL;
}

struct poller *poller_new(const char *endpoint, const char *region,
                          const char *table, int from_start,
                          struct invoker *inv)
{
    struct poller *p = xcalloc(1, sizeof(*p));
    worker_init(&p->worker);
    p->endpoint = xstrdup(endpoint);
    p->region = xstrdup(region);
    p->table = xstrdup(table);
    p->from_start = from_start;
    p->inv = inv;
    if (worker_start(&p->worker, run, p) != 0) {
        service_log("stream: cannot start the poller thread");
        free(p->endpoint), free(p->region), free(p->table);
        worker_cleanup(&p->worker);
        free(p);
        return NULL;
    }
    return p;
}

void poller_free(struct poller *p)
{
    if (!p)
        return;
    worker_stop(&p->worker);
    for (size_t i = 0; i < p->shard_count; i++)
        free(p->shards[i].iterator);
    aws_client_free(p->streams);
    ddb_free(p->ddb);
    free(p->stream_arn);
    free(p->endpoint), free(p->region), free(p->table);
    worker_cleanup(&p->worker);
    free(p);
}

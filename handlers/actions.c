/* The async action table: name, payload check, runner. */
#include "actions.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "xmalloc.h"

#define MAX_ITEMS 100000
#define MAX_ROWS 100000
#define MAX_SIMULATED_FAILURES 10
#define PROGRESS_STEPS 10        /* process_data reports after each tenth */
#define MAX_PROGRESS_STEPS 10000 /* payload.progress_steps */
#define MAX_DATASET_ROWS 20000

/* process_data: payload.items, a non-empty array of finite numbers (JSON
 * has no infinities, but cJSON reads 1e400 as one). */
static enum result validate_process_data(const cJSON *payload,
                                         struct error_info *err)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(payload, "items");
    if (!cJSON_IsArray(items) || !items->child)
        return error_field(err, "items",
                           "payload.items must be a non-empty array");
    int n = 0;
    for (const cJSON *v = items->child; v; v = v->next, n++)
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return error_field(err, "items",
                               "payload.items[%d] is not a finite number", n);
    if (n > MAX_ITEMS)
        return error_field(err, "items", "payload.items has over %d entries",
                           MAX_ITEMS);
    const cJSON *steps =
        cJSON_GetObjectItemCaseSensitive(payload, "progress_steps");
    if (steps && (!cJSON_IsNumber(steps) || steps->valuedouble < 1 ||
                  steps->valuedouble > MAX_PROGRESS_STEPS ||
                  steps->valuedouble != (double)(int)steps->valuedouble))
        return error_field(err, "progress_steps",
                           "payload.progress_steps must be an integer 1-%d",
                           MAX_PROGRESS_STEPS);
    const cJSON *fails =
        cJSON_GetObjectItemCaseSensitive(payload, "transient_failures");
    if (fails && (!cJSON_IsNumber(fails) || fails->valuedouble < 0 ||
                  fails->valuedouble > MAX_SIMULATED_FAILURES ||
                  fails->valuedouble != (double)(int)fails->valuedouble))
        return error_field(err, "transient_failures",
                           "payload.transient_failures must be an integer "
                           "0-%d",
                           MAX_SIMULATED_FAILURES);
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(payload, "delay_ms");
    if (delay && (!cJSON_IsNumber(delay) || delay->valuedouble < 0 ||
                  delay->valuedouble > ACTIONS_MAX_DELAY_MS ||
                  delay->valuedouble != (double)(int)delay->valuedouble))
        return error_field(err, "delay_ms",
                           "payload.delay_ms must be an integer 0-%d",
                           ACTIONS_MAX_DELAY_MS);
    return RESULT_OK;
}

/* generate_report: payload.rows (objects) and payload.group_by (a key). */
static enum result validate_generate_report(const cJSON *payload,
                                            struct error_info *err)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(payload, "rows");
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(payload, "group_by");
    if (!cJSON_IsString(by) || !*by->valuestring)
        return error_field(err, "group_by",
                           "payload.group_by must be a non-empty string");
    if (!cJSON_IsArray(rows))
        return error_field(err, "rows", "payload.rows must be an array");
    int n = 0;
    for (const cJSON *r = rows->child; r; r = r->next, n++)
        if (!cJSON_IsObject(r))
            return error_field(err, "rows",
                               "payload.rows[%d] is not an "
                               "object",
                               n);
    if (n > MAX_ROWS)
        return error_field(err, "rows", "payload.rows has over %d entries",
                           MAX_ROWS);
    return RESULT_OK;
}

/*
 * payload.delay_ms: waits that long before working (a demonstration knob
 * that holds a request in PROCESSING), at most ACTIONS_MAX_DELAY_MS and
 * never past the deadline less ACTIONS_DELAY_MARGIN_MS.
 */
static void hold(const struct action_call *call)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(call->payload, "delay_ms");
    if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
        return;
    int64_t ms = v->valuedouble > ACTIONS_MAX_DELAY_MS
                     ? ACTIONS_MAX_DELAY_MS
                     : (int64_t)v->valuedouble;
    if (call->deadline_ms > 0) {
        int64_t room =
            call->deadline_ms - clock_now_ms() - ACTIONS_DELAY_MARGIN_MS;
        ms = ms < room ? ms : room;
    }
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ; /* interrupted: sleep what is left */
}

/*
 * process_data: count, sum, min, max and mean of payload.items, reporting
 * progress after each tenth (or payload.progress_steps times).
 * payload.transient_failures = N (a demo of retries) fails the first N
 * attempts with a retryable error; payload.delay_ms (see hold) makes each
 * attempt wait first.
 */
static enum result run_process_data(const struct action_call *call,
                                    cJSON **result, struct error_info *err)
{
    const cJSON *items =
        cJSON_GetObjectItemCaseSensitive(call->payload, "items");
    const cJSON *fails =
        cJSON_GetObjectItemCaseSensitive(call->payload, "transient_failures");
    hold(call);
    if (cJSON_IsNumber(fails) && call->attempt < fails->valueint)
        return error_set(err, RESULT_SERVICE_ERROR, ACTION_RETRYABLE,
                         "simulated transient failure %d of %d",
                         call->attempt + 1, fails->valueint);
    const cJSON *steps =
        cJSON_GetObjectItemCaseSensitive(call->payload, "progress_steps");
    int n = cJSON_GetArraySize(items);
    int parts = cJSON_IsNumber(steps) ? steps->valueint : PROGRESS_STEPS;
    int chunk = n / parts > 0 ? n / parts : 1;
    double sum = 0, min = 0, max = 0;
    int done = 0;
    for (const cJSON *v = items ? items->child : NULL; v; v = v->next) {
        double x = v->valuedouble;
        min = done == 0 || x < min ? x : min;
        max = done == 0 || x > max ? x : max;
        sum += x;
        if (++done % chunk == 0 || done == n) {
            char msg[64];
            snprintf(msg, sizeof(msg), "processed %d of %d items", done, n);
            enum result r = call->progress(call->progress_ctx,
                                           (int)((long)done * 100 / n), msg);
            if (r != RESULT_OK)
                return error_set(err, r, "Stopped",
                                 "stopped at %d of %d "
                                 "items",
                                 done, n);
        }
    }
    if (n == 0 || !isfinite(sum))
        return error_set(err, RESULT_INVALID_INPUT, "ProcessingFailed",
                         n == 0 ? "there are no items"
                                : "the sum of the items overflows");
    cJSON *out = xjson(cJSON_CreateObject());
    xjson_add(out, "count", cJSON_CreateNumber(n));
    xjson_add(out, "sum", cJSON_CreateNumber(sum));
    xjson_add(out, "min", cJSON_CreateNumber(min));
    xjson_add(out, "max", cJSON_CreateNumber(max));
    xjson_add(out, "mean", cJSON_CreateNumber(sum / n));
    *result = out;
    return RESULT_OK;
}

/* The group a row belongs to: the group_by value as text. */
static void group_name(const cJSON *row, const char *by, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, by);
    if (cJSON_IsString(v))
        snprintf(out, size, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(out, size, "%.17g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(out, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else
        snprintf(out, size, "(none)");
}

/* Adds one row into its group: count + 1, each numeric field summed. */
static void add_row(cJSON *groups, const cJSON *row, const char *by)
{
    char name[256];
    group_name(row, by, name, sizeof(name));
    cJSON *g = cJSON_GetObjectItemCaseSensitive(groups, name);
    if (!g) {
        g = xjson(cJSON_AddObjectToObject(groups, name));
        xjson_add(g, "count", cJSON_CreateNumber(0));
        xjson(cJSON_AddObjectToObject(g, "totals"));
    }
    cJSON *count = cJSON_GetObjectItemCaseSensitive(g, "count");
    cJSON_SetNumberValue(count, count->valuedouble + 1);
    cJSON *totals = cJSON_GetObjectItemCaseSensitive(g, "totals");
    for (const cJSON *f = row->child; f; f = f->next) {
        if (!cJSON_IsNumber(f) || strcmp(f->string, by) == 0)
            continue;
        cJSON *t = cJSON_GetObjectItemCaseSensitive(totals, f->string);
        if (t)
            cJSON_SetNumberValue(t, t->valuedouble + f->valuedouble);
        else
            xjson_add(totals, f->string, cJSON_CreateNumber(f->valuedouble));
    }
}

/*
 * generate_report: payload.rows grouped by payload.group_by, with the
 * rows counted and every numeric field totalled per group; progress is
 * reported after each stage (grouping, totals, checks).
 */
static enum result run_generate_report(const struct action_call *call,
                                       cJSON **result, struct error_info *err)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(call->payload, "rows");
    const char *by = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(call->payload, "group_by"));
    cJSON *groups = xjson(cJSON_CreateObject());
    static const char *const stages[] = {"grouped rows", "totalled groups",
                                         "checked totals"};
    enum result r = RESULT_OK;
    for (int stage = 0; stage < 3 && r == RESULT_OK; stage++) {
        if (stage == 0)
            for (const cJSON *row = rows->child; row; row = row->next)
                add_row(groups, row, by);
        if (stage == 2)
            for (const cJSON *g = groups->child; g; g = g->next)
                for (const cJSON *t =
                         cJSON_GetObjectItemCaseSensitive(g, "totals")->child;
                     t; t = t->next)
                    if (!isfinite(t->valuedouble))
                        r = error_set(err, RESULT_INVALID_INPUT,
                                      "ProcessingFailed",
                                      "the total of %s in group %s overflows",
                                      t->string, g->string);
        if (r == RESULT_OK &&
            (r = call->progress(call->progress_ctx, (stage + 1) * 100 / 3,
                                stages[stage])) != RESULT_OK)
            error_set(err, r, "Stopped", "stopped after %s", stages[stage]);
    }
    if (r != RESULT_OK) {
        cJSON_Delete(groups);
        return r;
    }
    cJSON *out = xjson(cJSON_CreateObject());
    xjson_add(out, "group_by", cJSON_CreateString(by));
    xjson_add(out, "row_count", cJSON_CreateNumber(cJSON_GetArraySize(rows)));
    xjson_add(out, "groups", groups);
    *result = out;
    return RESULT_OK;
}

/* generate_dataset: payload.rows, a whole number 1..MAX_DATASET_ROWS. */
static enum result validate_generate_dataset(const cJSON *payload,
                                             struct error_info *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(payload, "rows");
    if (!cJSON_IsNumber(n) || n->valuedouble < 1 ||
        n->valuedouble > MAX_DATASET_ROWS ||
        n->valuedouble != (double)(int)n->valuedouble)
        return error_field(err, "rows",
                           "payload.rows must be a whole number 1-%d",
                           MAX_DATASET_ROWS);
    return RESULT_OK;
}

/*
 * generate_dataset: payload.rows synthetic rows {"id","label","value"},
 * ~45 bytes each: a result as large as asked (6,700 rows are ~300 KB,
 * more than one WebSocket message holds), with progress every tenth.
 */
static enum result run_generate_dataset(const struct action_call *call,
                                        cJSON **result, struct error_info *err)
{
    int n = cJSON_GetObjectItemCaseSensitive(call->payload, "rows")->valueint;
    int chunk = n / PROGRESS_STEPS > 0 ? n / PROGRESS_STEPS : 1;
    cJSON *rows = xjson(cJSON_CreateArray());
    for (int i = 0; i < n; i++) {
        char label[32];
        snprintf(label, sizeof(label), "row-%06d", i);
        cJSON *row = xjson(cJSON_CreateObject());
        xjson_add(row, "id", cJSON_CreateNumber(i));
        xjson_add(row, "label", cJSON_CreateString(label));
        xjson_add(row, "value", cJSON_CreateNumber((i * 7919) % 1000));
        xjson_append(rows, row);
        if ((i + 1) % chunk == 0 || i + 1 == n) {
            enum result r = call->progress(call->progress_ctx,
                                           (int)((long)(i + 1) * 100 / n),
                                           "generated rows");
            if (r != RESULT_OK) {
                cJSON_Delete(rows);
                return error_set(err, r, "Stopped", "stopped at row %d", i);
            }
        }
    }
    cJSON *out = xjson(cJSON_CreateObject());
    xjson_add(out, "count", cJSON_CreateNumber(n));
    xjson_add(out, "rows", rows);
    *result = out;
    return RESULT_OK;
}

/*
 * The one place to register an action: a name, the check run at enqueue
 * time, and the runner the stream processor calls.
 */
static const struct action table[] = {
    {"process_data", validate_process_data, run_process_data},
    {"generate_report", validate_generate_report, run_generate_report},
    {"generate_dataset", validate_generate_dataset, run_generate_dataset},
};

const struct action *actions_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

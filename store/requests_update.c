/* Moving a request along: status, progress, result, failure, lease. */
#include "requests_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "item.h"
#include "text.h"
#include "xmalloc.h"

static void probe_s(cJSON *item, const char *name, const char *v)
{
    if (v && *v)
        item_set_s(item, name, v);
}

static void probe_m(cJSON *item, const char *name, const cJSON *json)
{
    cJSON *av = NULL;
    if (json && item_av_from_json(json, name, &av, NULL) == RESULT_OK)
        item_set(item, name, av);
}

/*
 * The whole item as an update of `r` would leave it, with attribute
 * `name` set to `av` (borrowed), must fit DynamoDB's 400 KB item limit:
 * RESULT_INVALID_INPUT naming `name` otherwise. Checked before the call,
 * so the service never refuses the size (its error names no field).
 * `r` mirrors the stored item; were it stale, the version would fail.
 */
static enum result check_size_with(const struct request *r, enum req_status to,
                                   const char *name, const cJSON *av,
                                   struct error_info *err)
{
    static const char stamp[] = "0000-00-00T00:00:00.000Z";
    cJSON *item = NULL;
    if (req_base_item(r, &item, NULL) != RESULT_OK)
        item = item_new();
    item_set_s(item, "status", req_status_str(to));
    item_set_s(item, "updated_at", stamp);
    item_set_s(item, "processing_started", stamp);
    item_set_s(item, "processing_ended", stamp);
    probe_s(item, "progress_message", r->progress_message);
    probe_s(item, "error", r->error);
    probe_s(item, "retry_after", r->retry_after);
    probe_m(item, "progress_details", r->progress_details);
    probe_m(item, "result", r->result);
    item_set(item, name, xjson(cJSON_Duplicate(av, 1)));
    enum result e = item_check_size(item, name, err);
    cJSON_Delete(item);
    return e;
}

/*
 * A move to an end (COMPLETED, FAILED, CANCELLED) frees the user's slot:
 * the request's conditional update (`expr` and `o`, as UpdateItem would
 * take them) and the counter's decrement are one TransactWriteItems, so
 * the count cannot drift from the requests it counts. On a failed
 * condition, the request's cancellation reason carries the item as it is
 * (ReturnValuesOnConditionCheckFailure = ALL_OLD): none means there is
 * no request (RESULT_NOT_FOUND).
 */
static enum result update_ending(struct store *s, const struct request *r,
                                 const cJSON *key, const char *expr,
                                 const struct ddb_write_opts *o,
                                 struct error_info *err)
{
    struct error_info why;
    cJSON *counter = NULL, *reasons = NULL;
    error_clear(&why);
    enum result res =
        req_inflight_key(r->tenant_id, r->user_id, &counter, &why);
    if (res != RESULT_OK)
        goto done;
    cJSON *items = xjson(cJSON_CreateArray());
    cJSON *action = xjson(cJSON_CreateObject());
    cJSON *u = xjson(cJSON_CreateObject());
    xjson_add(action, "Update", u);
    xjson_add(u, "TableName", cJSON_CreateString(s->requests_table));
    xjson_add(u, "Key", xjson(cJSON_Duplicate(key, 1)));
    xjson_add(u, "UpdateExpression", cJSON_CreateString(expr));
    xjson_add(u, "ConditionExpression", cJSON_CreateString(o->condition));
    if (o->expr->names)
        xjson_add(u, "ExpressionAttributeNames",
                  xjson(cJSON_Duplicate(o->expr->names, 1)));
    if (o->expr->values)
        xjson_add(u, "ExpressionAttributeValues",
                  xjson(cJSON_Duplicate(o->expr->values, 1)));
    xjson_add(u, "ReturnValuesOnConditionCheckFailure",
              cJSON_CreateString("ALL_OLD"));
    xjson_append(items, action);
    xjson_append(items, req_inflight_action(s->requests_table, counter, -1, 0));
    res = req_transact(s, items, o->deadline_ms, &reasons, &why);
    if (res == RESULT_CONDITION_FAILED)
        res =
            store_condition_failure(cJSON_GetObjectItemCaseSensitive(
                                        cJSON_GetArrayItem(reasons, 0), "Item"),
                                    &why);
    cJSON_Delete(reasons);
    cJSON_Delete(items);
done:
    if (res != RESULT_OK && err)
        *err = why;
    return res;
}

/*
 * One conditional UpdateItem: `set` (a SET clause list without "SET")
 * plus status, updated_at and version, and `remove` (attribute names
 * without "REMOVE", or NULL), on condition that the item is at r->status
 * and r->version. `e` holds the values `set` uses.
 */
static enum result update(struct store *s, struct request *r,
                          enum req_status to, const char *set,
                          const char *remove, struct ddb_expr *e,
                          int64_t deadline_ms, struct error_info *err)
{
    cJSON *key = NULL;
    enum result res =
        req_key(r->tenant_id, r->user_id, r->request_id, &key, err);
    if (res != RESULT_OK)
        return res;
    char now[CLOCK_RFC3339_SIZE];
    store_timestamp(s, now);
    ddb_expr_name(e, "#status", "status");
    ddb_expr_value(e, ":from", item_av_s(req_status_str(r->status)));
    ddb_expr_value(e, ":to", item_av_s(req_status_str(to)));
    ddb_expr_value(e, ":v", item_av_i64(r->version));
    ddb_expr_value(e, ":one", item_av_i64(1));
    ddb_expr_value(e, ":now", item_av_s(now));
    struct buf expr;
    buf_init(&expr, 4096);
    res =
        buf_appendf(&expr,
                    "SET #status = :to, updated_at = :now, "
                    "version = version + :one%s%s%s%s",
                    set && *set ? ", " : "", set ? set : "",
                    remove && *remove ? " REMOVE " : "", remove ? remove : "");
    if (res != RESULT_OK) {
        cJSON_Delete(key);
        buf_cleanup(&expr);
        return res;
    }
    cJSON *old = NULL;
    struct ddb_write_opts o = {.condition = "#status = :from AND version = :v",
                               .expr = e,
                               .return_old_on_condition_failure = 1,
                               .deadline_ms = deadline_ms};
    if (to == REQ_COMPLETED || to == REQ_FAILED || to == REQ_CANCELLED)
        res = update_ending(s, r, key, buf_str(&expr), &o, err);
    else
        res = ddb_update_item(s->ddb, s->requests_table, key, buf_str(&expr),
                              &o, &old, err);
    if (res == RESULT_CONDITION_FAILED &&
        !(to == REQ_COMPLETED || to == REQ_FAILED || to == REQ_CANCELLED))
        res = store_condition_failure(old, err);
    if (res == RESULT_OK) {
        r->status = to;
        r->version++;
        memcpy(r->updated_at, now, sizeof(now));
    }
    cJSON_Delete(old);
    cJSON_Delete(key);
    buf_cleanup(&expr);
    return res;
}

enum result req_update_status(struct store *s, struct request *r,
                              enum req_status to, int64_t deadline_ms,
                              struct error_info *err)
{
    if (!req_transition_allowed(r->status, to))
        return error_field(err, "status", "a request cannot go from %s to %s",
                           req_status_str(r->status), req_status_str(to));
    struct ddb_expr e;
    ddb_expr_init(&e);
    const char *set = "", *remove = NULL;
    if (to == REQ_PROCESSING) {
        set = r->lease_expires[0]
                  ? "processing_started = :now, lease_expires = :lease"
                  : "processing_started = :now";
        if (r->lease_expires[0])
            ddb_expr_value(&e, ":lease", item_av_s(r->lease_expires));
        else
            remove = "lease_expires";
    } else if (to == REQ_RETRYING) {
        set = r->retry_after[0]
                  ? "retry_count = retry_count + :one, retry_after = :ra"
                  : "retry_count = retry_count + :one";
        if (r->retry_after[0])
            ddb_expr_value(&e, ":ra", item_av_s(r->retry_after));
    } else if (to != REQ_PENDING) {
        set = "processing_ended = :now";
    }
    enum req_status from = r->status;
    enum result res = update(s, r, to, set, remove, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        if (to == REQ_PROCESSING)
            memcpy(r->processing_started, r->updated_at, sizeof(r->updated_at));
        else if (to == REQ_RETRYING)
            r->retry_count++;
        else if (from != to)
            memcpy(r->processing_ended, r->updated_at, sizeof(r->updated_at));
    }
    return res;
}

enum result req_update_progress(struct store *s, struct request *r,
                                int progress, const char *message,
                                const cJSON *details, int64_t deadline_ms,
                                struct error_info *err)
{
    if (progress < 0 || progress > 100)
        return error_field(err, "progress", "progress must be 0-100");
    if (message && strlen(message) > REQ_MAX_MESSAGE_BYTES)
        return error_field(err, "progress_message",
                           "progress_message is over %d bytes",
                           REQ_MAX_MESSAGE_BYTES);
    if (details && !cJSON_IsObject(details))
        return error_field(err, "progress_details",
                           "progress_details must be an object");
    if (r->status != REQ_PROCESSING)
        return error_set(err, RESULT_CONDITION_FAILED, "WrongStatus",
                         "progress is only saved while PROCESSING");
    struct ddb_expr e;
    ddb_expr_init(&e);
    cJSON *details_av = NULL;
    enum result res = RESULT_OK;
    if (details)
        res = item_av_from_json(details, "progress_details", &details_av, err);
    if (res == RESULT_OK && details_av) {
        /* The item as it will be: this message, these details. A shallow
         * view, only read. */
        struct request view = *r;
        view.progress_message = (char *)message;
        res = check_size_with(&view, REQ_PROCESSING, "progress_details",
                              details_av, err);
    }
    if (res != RESULT_OK) {
        cJSON_Delete(details_av);
        ddb_expr_cleanup(&e);
        return res;
    }
    /* A missing message or details is removed, never stored as NULL:
     * progress_message is an S and progress_details an M (docs/data-model.md).
     */
    ddb_expr_value(&e, ":p", item_av_i64(progress));
    if (message)
        ddb_expr_value(&e, ":m", item_av_s(message));
    if (details_av)
        ddb_expr_value(&e, ":d", details_av);
    const char *set = message && details_av
                          ? "progress = :p, progress_message = :m, "
                            "progress_details = :d"
                      : message    ? "progress = :p, progress_message = :m"
                      : details_av ? "progress = :p, progress_details = :d"
                                   : "progress = :p";
    const char *remove = message && details_av ? NULL
                         : message             ? "progress_details"
                         : details_av          ? "progress_message"
                                      : "progress_message, progress_details";
    res = update(s, r, REQ_PROCESSING, set, remove, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        r->progress = progress;
        free(r->progress_message);
        r->progress_message = message ? xstrdup(message) : NULL;
        cJSON_Delete(r->progress_details);
        r->progress_details =
            details ? xjson(cJSON_Duplicate(details, 1)) : NULL;
    }
    return res;
}

enum result req_complete(struct store *s, struct request *r,
                         const cJSON *result, int64_t deadline_ms,
                         struct error_info *err)
{
    if (!req_transition_allowed(r->status, REQ_COMPLETED))
        return error_field(err, "status",
                           "only a PROCESSING request can "
                           "complete");
    if (result && !cJSON_IsObject(result))
        return error_field(err, "result", "result must be an object");
    cJSON *empty = xjson(cJSON_CreateObject());
    cJSON *av = NULL;
    enum result res =
        item_av_from_json(result ? result : empty, "result", &av, err);
    cJSON_Delete(empty);
    if (res != RESULT_OK)
        return res;
    res = check_size_with(r, REQ_COMPLETED, "result", av, err);
    if (res != RESULT_OK) {
        cJSON_Delete(av);
        return res;
    }
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":r", av);
    ddb_expr_value(&e, ":hundred", item_av_i64(100));
    ddb_expr_name(&e, "#result", "result");
    res = update(s, r, REQ_COMPLETED,
                 "#result = :r, progress = :hundred, processing_ended = :now",
                 NULL, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        r->progress = 100;
        memcpy(r->processing_ended, r->updated_at, sizeof(r->updated_at));
        cJSON_Delete(r->result);
        r->result = result ? xjson(cJSON_Duplicate(result, 1))
                           : xjson(cJSON_CreateObject());
    }
    return res;
}

enum result req_fail(struct store *s, struct request *r, const char *error,
                     int64_t deadline_ms, struct error_info *err)
{
    if (!req_transition_allowed(r->status, REQ_FAILED))
        return error_field(err, "status",
                           "only a PROCESSING or RETRYING request can fail");
    if (!error || !*error)
        error = "failed";
    char *msg = utf8_prefix(error, REQ_MAX_ERROR_BYTES);
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":e", item_av_s(msg));
    ddb_expr_name(&e, "#error", "error");
    enum result res =
        update(s, r, REQ_FAILED, "#error = :e, processing_ended = :now", NULL,
               &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        memcpy(r->processing_ended, r->updated_at, sizeof(r->updated_at));
        free(r->error);
        r->error = msg;
        msg = NULL;
    }
    free(msg);
    return res;
}

enum result req_reclaim(struct store *s, struct request *r, const char *lease,
                        int64_t deadline_ms, struct error_info *err)
{
    if (r->status != REQ_PROCESSING)
        return error_field(err, "status",
                           "only a PROCESSING request can be reclaimed");
    if (!lease || !*lease || strlen(lease) >= CLOCK_RFC3339_SIZE)
        return error_field(err, "lease_expires",
                           "a reclaim needs the new lease");
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_expr_value(&e, ":lease", item_av_s(lease));
    enum result res =
        update(s, r, REQ_PROCESSING,
               "retry_count = retry_count + :one, processing_started = :now, "
               "lease_expires = :lease",
               NULL, &e, deadline_ms, err);
    ddb_expr_cleanup(&e);
    if (res == RESULT_OK) {
        r->retry_count++;
        memcpy(r->processing_started, r->updated_at, sizeof(r->updated_at));
        snprintf(r->lease_expires, sizeof(r->lease_expires), "%s", lease);
    }
    return res;
}

enum result req_cancel(struct store *s, struct request *r, int64_t deadline_ms,
                       struct error_info *err)
{
    return req_update_status(s, r, REQ_CANCELLED, deadline_ms, err);
}

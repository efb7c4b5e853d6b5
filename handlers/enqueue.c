/* Async actions: check the payload, enqueue, subscribe, acknowledge. */
#include "enqueue.h"

#include <string.h>

#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "requests.h"
#include "xmalloc.h"

/* A RATE_LIMITED sender's hint: a slot frees when one of its requests
 * ends, which the server cannot foresee; a second is a fair wait. */
#define RETRY_AFTER_MS 1000

/*
 * An enqueue that failed for want of the store: the answer says whether
 * the request was queued, as far as is known. "queued": false — nothing
 * was stored; "queued": "unknown" — no answer came back, so it may have
 * been (sending it again with the same id settles it: an acknowledgment
 * or DUPLICATE_REQUEST). The request id is given either way.
 */
static char *not_queued(struct message *m, const struct error_info *e,
                        enum result r, int stored, const char *request_id)
{
    log_kv(LOG_ERROR, "enqueue failed", "result", result_str(r), "error",
           e->message, "type", e->type, "requestId", request_id, (char *)NULL);
    cJSON *details = xjson(cJSON_CreateObject());
    if (stored == 0)
        xjson_add(details, "queued", cJSON_CreateFalse());
    else
        xjson_add(details, "queued", cJSON_CreateString("unknown"));
    return message_reject(m, request_id, REPLY_INTERNAL_ERROR,
                          stored == 0 ? "the request was not queued"
                                      : "the request may not have been "
                                        "queued; send it again with the "
                                        "same id",
                          details);
}

/* The user has MAX_INFLIGHT_PER_USER requests in flight: nothing stored. */
static char *rate_limited(struct message *m)
{
    cJSON *details = xjson(cJSON_CreateObject());
    xjson_add(details, "limit",
              cJSON_CreateNumber((double)m->a->cfg.max_inflight_per_user));
    xjson_add(details, "retry_after_ms", cJSON_CreateNumber(RETRY_AFTER_MS));
    return message_reject(m, m->id, REPLY_RATE_LIMITED,
                          "too many requests in flight; one more can be "
                          "queued when one of them ends",
                          details);
}

char *enqueue_request(struct message *m, const struct action *act)
{
    struct error_info e;
    error_clear(&e);
    cJSON *empty = xjson(cJSON_CreateObject());
    const cJSON *payload = m->payload ? m->payload : empty;
    if (act->validate(payload, &e) != RESULT_OK) {
        cJSON_Delete(empty);
        return message_fail(m, REPLY_VALIDATION_ERROR, e.message, e.field);
    }
    struct request q = {0};
    q.request_id = xstrdup(m->reply_id);
    q.connection_id = xstrdup(m->connection_id);
    q.user_id = xstrdup(m->conn.user_id);
    q.tenant_id = xstrdup(m->conn.tenant_id);
    q.action = xstrdup(act->name);
    q.payload = xjson(cJSON_Duplicate(payload, 1));
    cJSON_Delete(empty);
    int stored = 0;
    enum result r = req_enqueue_subscribed(&m->a->store, &q,
                                           m->a->cfg.max_inflight_per_user,
                                           m->deadline_ms, &stored, &e);
    char *out = NULL;
    if (r == RESULT_THROTTLED && strcmp(e.type, REQ_TOO_MANY_IN_FLIGHT) == 0)
        out = rate_limited(m);
    else if (r == RESULT_ALREADY_EXISTS)
        out = message_fail(m, REPLY_DUPLICATE_REQUEST,
                           "a request with this id exists", "id");
    else if (r == RESULT_INVALID_INPUT)
        out = message_fail(m,
                           e.field[0] && strcmp(e.field, "payload") == 0
                               ? REPLY_PAYLOAD_TOO_LARGE
                               : REPLY_VALIDATION_ERROR,
                           e.message, e.field);
    else if (r != RESULT_OK)
        out = not_queued(m, &e, r, stored, q.request_id);
    if (!out) {
        metrics_count(m->a->cfg.metrics_namespace, "RequestQueued", 1, "action",
                      act->name);
        out = reply_ack(q.request_id);
    }
    req_cleanup(&q);
    return out;
}

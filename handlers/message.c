/* Messages on the $default route: check the envelope, route, answer. */
#include "message.h"
#include "message_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "base64.h"
#include "builtin.h"
#include "enqueue.h"
#include "event.h"
#include "json_arena.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "text.h"
#include "uuid.h"
#include "xmalloc.h"

#define MAX_ACTION_BYTES 64

char *message_reject(struct message *m, const char *request_id,
                     const char *code, const char *text, cJSON *details)
{
    char *s = reply_error(request_id, code, text, details);
    cJSON_Delete(details);
    metrics_count(m->a->cfg.metrics_namespace, "MessageRejected", 1, "code",
                  code);
    return s;
}

char *message_fail(struct message *m, const char *code, const char *text,
                   const char *field)
{
    cJSON *details = NULL;
    if (field && *field) {
        details = xjson(cJSON_CreateObject());
        xjson_add(details, "field", cJSON_CreateString(field));
    }
    char *s = message_reject(m, m->id, code, text, details);
    log_kv(LOG_INFO, "message rejected", "code", code, "detail", text,
           (char *)NULL);
    return s;
}

char *message_internal(struct message *m, const struct error_info *e,
                       enum result r)
{
    log_kv(LOG_ERROR, "store call failed", "result", result_str(r), "error",
           e->message, "type", e->type, (char *)NULL);
    return message_fail(m, REPLY_INTERNAL_ERROR, "internal error", NULL);
}

static int valid_chars(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

/*
 * The body as text, base64-decoded when the event says so; NUL-terminated
 * at `*len`. NULL when it is missing, not valid base64, or over the limit
 * (then `*too_large`). Caller frees.
 */
static char *body_text(const cJSON *event, size_t *len, int *too_large)
{
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(event, "body");
    const cJSON *b64 =
        cJSON_GetObjectItemCaseSensitive(event, "isBase64Encoded");
    *too_large = 0;
    if (!cJSON_IsString(body))
        return NULL;
    size_t n = strlen(body->valuestring);
    if (!cJSON_IsTrue(b64)) {
        *too_large = n > MESSAGE_MAX_BODY_BYTES;
        *len = n;
        return *too_large ? NULL : xstrdup(body->valuestring);
    }
    /* At least n / 4 * 3 - 2 bytes once decoded. */
    if (n / 4 * 3 > MESSAGE_MAX_BODY_BYTES + 2) {
        *too_large = 1;
        return NULL;
    }
    /* Strict: OpenSSL's EVP_DecodeBlock would take blanks and inner '='. */
    unsigned char *raw = base64_decode(body->valuestring, n, BASE64_STD, len);
    if (!raw)
        return NULL;
    if (*len > MESSAGE_MAX_BODY_BYTES) {
        *too_large = 1;
        free(raw);
        return NULL;
    }
    return (char *)raw;
}

/* Parses and checks the envelope; on failure returns the error reply. */
static char *parse(struct message *m, const cJSON *event)
{
    size_t len = 0;
    int too_large = 0;
    char *text = body_text(event, &len, &too_large);
    if (too_large)
        return message_fail(m, REPLY_PAYLOAD_TOO_LARGE,
                            "message body is over 128 KB", NULL);
    if (!text)
        return message_fail(m, REPLY_INVALID_MESSAGE,
                            "message body is missing or not valid base64",
                            NULL);
    if (!utf8_valid(text, len) || json_text_has_nul(text, len)) {
        free(text);
        return message_fail(m, REPLY_INVALID_MESSAGE,
                            "message must be UTF-8 text without NUL characters",
                            NULL);
    }
    /* The length counts the terminating NUL so that trailing garbage
     * ("{...} x", two objects) is refused, as cJSON_ParseWithOpts does. */
    m->root = json_arena_parse(text, len + 1, 1);
    free(text);
    if (!cJSON_IsObject(m->root))
        return message_fail(m, REPLY_INVALID_MESSAGE,
                            "message must be a JSON object", NULL);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->root, "id");
    if (id && (!cJSON_IsString(id) ||
               !valid_chars(id->valuestring, MESSAGE_MAX_ID_BYTES, "._:-")))
        return message_fail(m, REPLY_VALIDATION_ERROR,
                            "id must be 1-128 of A-Z a-z 0-9 . _ : -", "id");
    m->id = id ? id->valuestring : NULL;
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(m->root, "action");
    if (!action)
        return message_fail(m, REPLY_INVALID_MESSAGE, "action is required",
                            "action");
    if (!cJSON_IsString(action) ||
        !valid_chars(action->valuestring, MAX_ACTION_BYTES, "._-"))
        return message_fail(m, REPLY_INVALID_ACTION,
                            "action must be 1-64 of A-Z a-z 0-9 . _ -",
                            "action");
    m->action = action->valuestring;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(m->root, "payload");
    if (payload && !cJSON_IsObject(payload))
        return message_fail(m, REPLY_VALIDATION_ERROR,
                            "payload must be an object", "payload");
    m->payload = payload;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(m->root, "metadata");
    if (meta && !cJSON_IsObject(meta))
        return message_fail(m, REPLY_VALIDATION_ERROR,
                            "metadata must be an object", "metadata");
    if (m->id)
        snprintf(m->reply_id, sizeof(m->reply_id), "%s", m->id);
    else if (uuid_v4(m->reply_id) != RESULT_OK)
        return message_fail(m, REPLY_INTERNAL_ERROR, "internal error", NULL);
    return NULL;
}

/* Looks up the sender; an unknown connection may not send. */
static char *load_sender(struct message *m)
{
    struct error_info e;
    error_clear(&e);
    enum result r =
        conn_get(&m->a->store, m->connection_id, &m->conn, m->deadline_ms, &e);
    if (r == RESULT_NOT_FOUND || r == RESULT_INVALID_INPUT)
        return message_fail(m, REPLY_UNAUTHORIZED,
                            "connection is not registered", NULL);
    return r == RESULT_OK ? NULL : message_internal(m, &e, r);
}

/* Built-in actions first, then the registered async ones. */
static char *route(struct message *m)
{
    builtin_fn run = builtin_find(m->action);
    if (run)
        return run(m);
    const struct action *act = actions_find(m->action);
    if (act)
        return enqueue_request(m, act);
    return message_fail(m, REPLY_INVALID_ACTION, "unknown action", "action");
}

enum result message_handle(struct app *a, const cJSON *event, const char *raw,
                           size_t raw_len, int64_t deadline_ms, struct buf *out,
                           struct error_info *err)
{
    (void)err;
    struct message m;
    memset(&m, 0, sizeof(m));
    m.a = a;
    m.deadline_ms = deadline_ms;
    m.connection_id = event_ctx_str(event, "connectionId");
    /* A text frame holding a NUL reaches us as a body string with the
     * escape \u0000, which cJSON cut short when the event was parsed: only
     * the event's own text still shows it. */
    char *reply = raw && json_text_has_nul(raw, raw_len)
                      ? message_fail(&m, REPLY_INVALID_MESSAGE,
                                     "message must be UTF-8 text without NUL "
                                     "characters",
                                     NULL)
                      : parse(&m, event);
    if (!reply)
        reply = load_sender(&m);
    if (!reply)
        reply = route(&m);
    enum result r = reply_route(out, 200, reply);
    free(reply);
    conn_cleanup(&m.conn);
    json_arena_delete(m.root);
    return r;
}

/* $connect: authenticate the client and save its connection. */
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connections.h"
#include "event.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "store.h"
#include "text.h"
#include "xmalloc.h"

#define UNAUTHORIZED_BODY                                                      \
    "{\"error\":\"Unauthorized\",\"code\":\"UNAUTHORIZED\"}"

/* Metadata values come from the client (API Gateway passes up to 10 KB of
 * headers) and are cut to this many bytes, so that a long User-Agent
 * cannot fail the save; the store takes at most 2048. */
#define MAX_METADATA_VALUE_BYTES 1024

struct identity {
    char user_id[129];
    char tenant_id[129];
};

/* A Lambda authorizer's context (requestContext.authorizer): principalId
 * or userId, and tenantId. Returns 1 when one is present and complete. */
static int from_authorizer(const cJSON *event, struct identity *id)
{
    const cJSON *ctx =
        cJSON_GetObjectItemCaseSensitive(event, "requestContext");
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(ctx, "authorizer");
    if (!cJSON_IsObject(auth))
        return 0;
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(auth, "principalId");
    if (!cJSON_IsString(user))
        user = cJSON_GetObjectItemCaseSensitive(auth, "userId");
    const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(auth, "tenantId");
    if (!cJSON_IsString(user) || !cJSON_IsString(tenant) ||
        !*user->valuestring || !*tenant->valuestring ||
        strlen(user->valuestring) >= sizeof(id->user_id) ||
        strlen(tenant->valuestring) >= sizeof(id->tenant_id))
        return 0;
    snprintf(id->user_id, sizeof(id->user_id), "%s", user->valuestring);
    snprintf(id->tenant_id, sizeof(id->tenant_id), "%s", tenant->valuestring);
    return 1;
}

/* The token: ?Authorization= or ?token=, else the Authorization header. */
static const char *find_token(const cJSON *event)
{
    const char *t = event_query(event, "Authorization");
    if (!t)
        t = event_query(event, "token");
    if (!t) {
        t = event_header(event, "Authorization");
        if (t && strncasecmp(t, "Bearer ", 7) == 0)
            t += 7;
    }
    return t;
}

/* An identity the store cannot hold as an id (a control character, bad
 * UTF-8) is the credentials' fault, not a store failure: refused. */
static int storable(const struct identity *id, struct error_info *reason)
{
    struct error_info e;
    error_clear(&e);
    if (store_check_id("user_id", id->user_id, &e) == RESULT_OK &&
        store_check_id("tenant_id", id->tenant_id, &e) == RESULT_OK)
        return 1;
    error_set(reason, RESULT_INVALID_INPUT, "invalid_identity", "%s",
              e.message);
    return 0;
}

/* Finds who is connecting; on failure `reason` says why (for the log). */
static int authenticate(struct app *a, const cJSON *event, struct identity *id,
                        struct error_info *reason)
{
    if (from_authorizer(event, id))
        return storable(id, reason);
    struct jwt_claims claims;
    enum result r = jwt_verify(a->jwt, find_token(event), a->now_ms() / 1000,
                               &claims, reason);
    if (r != RESULT_OK)
        return 0;
    memcpy(id->user_id, claims.sub, sizeof(id->user_id));
    memcpy(id->tenant_id, claims.tenant_id, sizeof(id->tenant_id));
    return storable(id, reason);
}

/* Adds `value` cut to MAX_METADATA_VALUE_BYTES on a UTF-8 boundary. */
static void add_capped(cJSON *m, const char *name, const char *value)
{
    char *copy = utf8_prefix(value, MAX_METADATA_VALUE_BYTES);
    xjson_add(m, name, cJSON_CreateString(copy));
    free(copy);
}

static cJSON *metadata_of(const cJSON *event)
{
    cJSON *m = xjson(cJSON_CreateObject());
    const char *ua = event_header(event, "User-Agent");
    const cJSON *ctx =
        cJSON_GetObjectItemCaseSensitive(event, "requestContext");
    const cJSON *identity = cJSON_GetObjectItemCaseSensitive(ctx, "identity");
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(identity, "sourceIp");
    const cJSON *iua = cJSON_GetObjectItemCaseSensitive(identity, "userAgent");
    if (!ua && cJSON_IsString(iua))
        ua = iua->valuestring;
    if (ua)
        add_capped(m, "user_agent", ua);
    if (cJSON_IsString(ip))
        add_capped(m, "source_ip", ip->valuestring);
    return m;
}

static enum result refuse(struct app *a, const struct error_info *why,
                          struct buf *out)
{
    const char *reason = why->type[0] ? why->type : "unknown";
    log_kv(LOG_WARN, "connection refused", "reason", reason, "detail",
           why->message, (char *)NULL);
    metrics_count(a->cfg.metrics_namespace, "AuthenticationFailed", 1, "reason",
                  reason);
    return reply_route(out, 401, UNAUTHORIZED_BODY);
}

enum result connect_handle(struct app *a, const cJSON *event,
                           int64_t deadline_ms, struct buf *out,
                           struct error_info *err)
{
    (void)err;
    struct identity id;
    struct error_info why;
    error_clear(&why);
    if (!authenticate(a, event, &id, &why))
        return refuse(a, &why, out);
    if (!config_tenant_allowed(&a->cfg, id.tenant_id)) {
        error_set(&why, RESULT_INVALID_INPUT, "tenant_not_allowed",
                  "tenant %s is not in ALLOWED_TENANTS", id.tenant_id);
        return refuse(a, &why, out);
    }
    const char *domain = event_ctx_str(event, "domainName");
    const char *stage = event_ctx_str(event, "stage");
    char endpoint[600];
    snprintf(endpoint, sizeof(endpoint), "%s/%s", domain ? domain : "",
             stage ? stage : "");
    struct connection c = {0};
    c.connection_id = (char *)event_ctx_str(event, "connectionId");
    c.user_id = id.user_id;
    c.tenant_id = id.tenant_id;
    c.endpoint = endpoint;
    c.metadata = metadata_of(event);
    double at = event_ctx_num(event, "connectedAt", 0);
    if (at > 0)
        clock_rfc3339((int64_t)at, c.connected_at);
    struct error_info serr;
    error_clear(&serr);
    enum result r = conn_save(&a->store, &c, deadline_ms, &serr);
    cJSON_Delete(c.metadata);
    if (r != RESULT_OK) {
        log_kv(LOG_ERROR, "saving the connection failed", "error", serr.message,
               "result", result_str(r), (char *)NULL);
        return reply_route(out, 500, NULL);
    }
    log_kv(LOG_INFO, "connected", "connectionId", c.connection_id, "userId",
           id.user_id, "tenantId", id.tenant_id, (char *)NULL);
    metrics_count(a->cfg.metrics_namespace, "ConnectionEstablished", 1, NULL,
                  NULL);
    return reply_route(out, 200, NULL);
}

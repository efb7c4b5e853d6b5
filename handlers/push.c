/* Pushing messages to connected clients; gone clients are cleaned up. */
#include "push.h"

#include <stdio.h>
#include <string.h>

#include "connections.h"
#include "log.h"
#include "mgmt.h"
#include "subscriptions.h"

enum result push_endpoint_url(const struct app *a, const char *endpoint,
                              char *out, size_t size, struct error_info *err)
{
    char domain[512] = "";
    const char *stage = NULL;
    const char *slash = endpoint ? strchr(endpoint, '/') : NULL;
    if (slash && (size_t)(slash - endpoint) < sizeof(domain)) {
        memcpy(domain, endpoint, (size_t)(slash - endpoint));
        domain[slash - endpoint] = '\0';
        stage = slash + 1;
    }
    return mgmt_endpoint(a->cfg.websocket_endpoint, domain, stage, out, size,
                         err);
}

void push_forget(struct app *a, const char *connection_id, int64_t deadline_ms)
{
    struct error_info err;
    error_clear(&err);
    enum result r = conn_delete(&a->store, connection_id, deadline_ms, &err);
    if (r != RESULT_OK && r != RESULT_NOT_FOUND)
        log_kv(LOG_WARN, "deleting a gone connection failed", "connectionId",
               connection_id, "error", err.message, (char *)NULL);
    size_t n = 0;
    r = sub_delete_by_connection(&a->store, connection_id, deadline_ms, &n,
                                 &err);
    if (r != RESULT_OK)
        log_kv(LOG_WARN, "deleting a gone connection's subscriptions failed",
               "connectionId", connection_id, "error", err.message,
               (char *)NULL);
}

enum result push_send(struct app *a, const char *connection_id,
                      const char *endpoint, const char *message,
                      int64_t deadline_ms, struct error_info *err)
{
    char url[1024];
    enum result r = push_endpoint_url(a, endpoint, url, sizeof(url), err);
    if (r != RESULT_OK)
        return r;
    r = mgmt_post(a->mgmt, url, connection_id, message, strlen(message),
                  deadline_ms, err);
    if (r == RESULT_NOT_FOUND) {
        log_kv(LOG_INFO, "client gone; forgetting it", "connectionId",
               connection_id, (char *)NULL);
        push_forget(a, connection_id, deadline_ms);
    }
    return r;
}

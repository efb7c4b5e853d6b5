/* API Gateway's Management API: post to, get and delete connections. */
#ifndef STREAMER_MGMT_H
#define STREAMER_MGMT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "result.h"
#include "sigv4.h"

/*
 * API Gateway Developer Guide, "Use @connections commands in your backend
 * service": POST|GET|DELETE https://{api-id}.execute-api.{region}.
 * amazonaws.com/{stage}/@connections/{connection_id}, signed with SigV4
 * for service "execute-api". A connection that is gone answers 410.
 */

#define MGMT_MAX_ENDPOINTS 8

struct mgmt;

/*
 * A client keeping one keep-alive AWS client per endpoint it has talked
 * to (at most MGMT_MAX_ENDPOINTS, the oldest dropped). `creds` is copied.
 * Caller owns the result; free with mgmt_free().
 */
struct mgmt *mgmt_new(const char *region,
                      const struct sigv4_credentials *creds);
/* Frees the clients, wipes the copied credentials and frees `m`; NULL is
 * a no-op. */
void mgmt_free(struct mgmt *m);

/*
 * Writes the endpoint URL for a connection into `out`: `override` (the
 * WEBSOCKET_ENDPOINT setting) when set, else "https://{domain}/{stage}".
 * RESULT_INVALID_INPUT when neither gives a usable URL.
 */
enum result mgmt_endpoint(const char *override, const char *domain,
                          const char *stage, char *out, size_t size,
                          struct error_info *err) WARN_UNUSED;

/*
 * POST `data` to a connection. RESULT_NOT_FOUND when it is gone (410);
 * 429 and 5xx are retried with backoff within `deadline_ms`.
 */
enum result mgmt_post(struct mgmt *m, const char *endpoint,
                      const char *connection_id, const char *data, size_t len,
                      int64_t deadline_ms, struct error_info *err) WARN_UNUSED;

/* GET a connection's info ({connectedAt, identity, lastActiveAt}); caller
 * owns `*info`. RESULT_NOT_FOUND when gone. */
enum result mgmt_get(struct mgmt *m, const char *endpoint,
                     const char *connection_id, int64_t deadline_ms,
                     cJSON **info, struct error_info *err) WARN_UNUSED;

/* DELETE (close) a connection. RESULT_NOT_FOUND when gone. */
enum result mgmt_delete(struct mgmt *m, const char *endpoint,
                        const char *connection_id, int64_t deadline_ms,
                        struct error_info *err) WARN_UNUSED;

#endif

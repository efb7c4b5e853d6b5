/* What requests.c, requests_update.c and requests_inflight.c share. */
#ifndef STREAMER_REQUESTS_INT_H
#define STREAMER_REQUESTS_INT_H

#include "requests.h"

/* ---- requests.c ---------------------------------------------------------- */

/* The request item's key {pk, sk} into `*key` (caller owns);
 * RESULT_INVALID_INPUT naming a bad id, `*key` then untouched. */
enum result req_key(const char *tenant_id, const char *user_id,
                    const char *request_id, cJSON **key,
                    struct error_info *err) WARN_UNUSED;

/*
 * The attributes every request item has, from `r`, into `*out` (caller
 * owns); RESULT_INVALID_INPUT naming a bad id or the payload path when
 * the payload does not convert (`err` may be NULL), `*out` then untouched.
 */
enum result req_base_item(const struct request *r, cJSON **out,
                          struct error_info *err) WARN_UNUSED;

/* ---- requests_inflight.c: the in-flight counter of each user ------------ */

/* The counter item's key into `*key` (caller owns); RESULT_INVALID_INPUT
 * naming a bad id, `*key` then untouched. */
enum result req_inflight_key(const char *tenant_id, const char *user_id,
                             cJSON **key, struct error_info *err) WARN_UNUSED;

/*
 * A TransactWriteItems Update of the counter by `delta`, taking ownership
 * of `key`; with `limit` > 0, on condition that it is below the limit
 * before. Caller owns the result; never NULL.
 */
cJSON *req_inflight_action(const char *table, cJSON *key, int delta,
                           long limit);

/*
 * TransactWriteItems of `items` (borrowed) with a fresh ClientRequestToken
 * per attempt, sent again after a TransactionConflict within the
 * deadline. Results and `*reasons` as ddb_transact_write_ex(); `err` must
 * not be NULL.
 */
enum result req_transact(struct store *s, const cJSON *items,
                         int64_t deadline_ms, cJSON **reasons,
                         struct error_info *err) WARN_UNUSED;

#endif

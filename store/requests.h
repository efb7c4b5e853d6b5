/* The request queue: async requests and their status, progress, result. */
#ifndef STREAMER_REQUESTS_H
#define STREAMER_REQUESTS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "result.h"
#include "store.h"

#define REQ_TTL_SECONDS (7 * 24 * 3600)
#define REQ_DEFAULT_MAX_RETRIES 3
#define REQ_MAX_ACTION_BYTES 64
#define REQ_MAX_ERROR_BYTES 4096
#define REQ_MAX_MESSAGE_BYTES 1024
#define REQ_TOO_MANY_IN_FLIGHT "TooManyInFlight" /* error type, see below */

enum req_status {
    REQ_PENDING = 0,
    REQ_PROCESSING,
    REQ_COMPLETED,
    REQ_FAILED,
    REQ_CANCELLED,
    REQ_RETRYING,
};

/* The status's name, "PENDING", ... (static text); "?" for a value out
 * of range. */
const char *req_status_str(enum req_status s);
/* RESULT_OK and `*out` for a known name, else RESULT_INVALID_INPUT
 * (NULL included) with `*out` untouched. */
enum result req_status_parse(const char *name,
                             enum req_status *out) WARN_UNUSED;
/*
 * The allowed moves: PENDING→PROCESSING→COMPLETED|FAILED|RETRYING,
 * RETRYING→PROCESSING|FAILED, PENDING|PROCESSING|RETRYING→CANCELLED.
 * (A PROCESSING request whose lease passed is taken again in place:
 * req_reclaim.) Returns 1 for an allowed move, else 0. A move to the
 * same status is allowed only where the list says so (none does).
 */
int req_transition_allowed(enum req_status from, enum req_status to);

/*
 * An async request (docs/data-model.md): pk "REQ#" + the request key of
 * (tenant_id, user_id, request_id) (store_request_key()), sk METADATA.
 * Ids are unique per user: every call finds a request by all three.
 * Strings and JSON trees (plain JSON, not AttributeValues) are owned by
 * the struct; free with req_cleanup().
 */
struct request {
    char *request_id;
    char *connection_id;
    char *user_id;
    char *tenant_id;
    char *action;
    cJSON *payload;          /* object */
    cJSON *result;           /* object, or NULL */
    cJSON *progress_details; /* object, or NULL */
    enum req_status status;
    int progress; /* 0-100 */
    char *progress_message;
    char *error;
    int retry_count;
    int max_retries;
    char retry_after[CLOCK_RFC3339_SIZE];
    /* While PROCESSING: the deadline of the invocation that claimed it
     * (Lambda-Runtime-Deadline-Ms); after it, that invocation is gone. */
    char lease_expires[CLOCK_RFC3339_SIZE];
    char processing_started[CLOCK_RFC3339_SIZE];
    char processing_ended[CLOCK_RFC3339_SIZE];
    char created_at[CLOCK_RFC3339_SIZE];
    char updated_at[CLOCK_RFC3339_SIZE];
    int64_t version;
    int64_t ttl;
};

/* A page of requests. Free with req_page_cleanup(). */
struct req_page {
    struct request *items;
    size_t count;
    char *next_cursor; /* NULL on the last page */
};

/* Frees what `r` holds and zeroes it; safe on a zeroed struct. */
void req_cleanup(struct request *r);
/* Frees the page's requests and cursor and zeroes it; safe on a zeroed
 * page. */
void req_page_cleanup(struct req_page *p);

/*
 * Reads a request from a stored item or a stream record's NewImage
 * (AttributeValue JSON, borrowed) into `out` (zeroed first; caller owns
 * what it then holds: free with req_cleanup()). RESULT_PARSE when it is
 * not a request item; `out` is then zeroed, holding nothing.
 */
enum result req_from_item(const cJSON *item, struct request *out,
                          struct error_info *err) WARN_UNUSED;

/*
 * Enqueues a PENDING request from r->request_id (a random UUIDv4 when
 * NULL), connection_id, user_id, tenant_id, action, payload (NULL: {})
 * and max_retries (0: REQ_DEFAULT_MAX_RETRIES; at most 10), and counts
 * it in its user's in-flight count in the same transaction (without a
 * limit; see req_enqueue_subscribed()). Fills the
 * stored fields into `r`. Idempotent on the user's id:
 * RESULT_ALREADY_EXISTS when this user has a request of that id, and the
 * first item is unchanged; another user's request of that id is a
 * different request. RESULT_INVALID_INPUT
 * naming the field for bad input, before any call. On failure `r` keeps
 * what it had, but a generated request_id, a default payload and
 * max_retries stay filled in (owned by `r`).
 */
enum result req_enqueue(struct store *s, struct request *r, int64_t deadline_ms,
                        struct error_info *err) WARN_UNUSED;

/*
 * As req_enqueue(), with the sender's subscription: ONE TransactWriteItems
 * puts the request, on condition that its user has none of that id, and
 * a subscription of r->connection_id to it for every event type, so
 * both are stored or neither is (DynamoDB API Reference,
 * TransactWriteItems: the actions "either all of them succeed, or all of
 * them fail"). Its retries share one ClientRequestToken, so a retry
 * after a lost answer cannot write twice. RESULT_ALREADY_EXISTS when
 * the user has that id. After a failure, `*stored` says whether
 * anything may have been written: 0 when DynamoDB answered that the
 * transaction was not done (a 4xx, throttling, a check made before any
 * call), -1 when the outcome is not known (no answer, or a 5xx). On
 * success it is 1.
 *
 * The user's in-flight count (req_inflight()) goes up by one in the same
 * transaction; with `max_inflight` > 0, on condition that it is below:
 * at the limit, RESULT_THROTTLED with the type REQ_TOO_MANY_IN_FLIGHT,
 * and nothing is stored. Every move to COMPLETED, FAILED or CANCELLED
 * takes one off in the same transaction as the move, so the count holds
 * exactly the user's requests that have not ended.
 */
enum result req_enqueue_subscribed(struct store *s, struct request *r,
                                   long max_inflight, int64_t deadline_ms,
                                   int *stored,
                                   struct error_info *err) WARN_UNUSED;

/*
 * The number of the user's requests in flight (PENDING, PROCESSING or
 * RETRYING), as its counter holds it: 0 when it was never counted.
 * `*count` is 0 on failure. RESULT_INVALID_INPUT for a bad id, before
 * any call; RESULT_PARSE when the counter is not a number.
 */
enum result req_inflight(struct store *s, const char *tenant_id,
                         const char *user_id, int64_t *count,
                         int64_t deadline_ms,
                         struct error_info *err) WARN_UNUSED;

/*
 * Reads the request `request_id` of the user `user_id` of `tenant_id`
 * into `out` (zeroed first). RESULT_NOT_FOUND, also when only another
 * user has a request of that id. `out` is zeroed first; caller cleans
 * up with req_cleanup() after any result. RESULT_INVALID_INPUT for a bad
 * id, before any call.
 */
enum result req_get(struct store *s, const char *tenant_id, const char *user_id,
                    const char *request_id, struct request *out,
                    int64_t deadline_ms, struct error_info *err) WARN_UNUSED;

/*
 * Moves `r` from r->status to `to` in ONE conditional UpdateItem (the old
 * status and r->version are the condition). To PROCESSING sets
 * processing_started and r->lease_expires (removed when empty); to COMPLETED,
 * FAILED or CANCELLED sets processing_ended; to RETRYING adds one to
 * retry_count and stores r->retry_after when set. A move the table does not
 * allow is RESULT_INVALID_INPUT ("status") without a call; a stale version or
 * status is RESULT_CONDITION_FAILED; RESULT_NOT_FOUND. On success `r`
 * holds the new status, version and timestamps; else it is unchanged.
 */
enum result req_update_status(struct store *s, struct request *r,
                              enum req_status to, int64_t deadline_ms,
                              struct error_info *err) WARN_UNUSED;

/*
 * Sets progress (0-100), progress_message (may be NULL) and
 * progress_details (a JSON object, borrowed; may be NULL) while the
 * request is PROCESSING at r->version; RESULT_CONDITION_FAILED otherwise
 * (e.g. it was cancelled). A NULL message or details removes the stored
 * one. RESULT_INVALID_INPUT naming the field, before any call, for a bad
 * value or details that would take the item past 400 KB. `message` and
 * `details` are copied into `r` on success; on failure `r` is unchanged.
 */
enum result req_update_progress(struct store *s, struct request *r,
                                int progress, const char *message,
                                const cJSON *details, int64_t deadline_ms,
                                struct error_info *err) WARN_UNUSED;

/*
 * PROCESSING → COMPLETED with `result` (a JSON object, borrowed; NULL:
 * {}), progress 100 and processing_ended, conditional as
 * req_update_status(), and the user's in-flight count one lower in the
 * same transaction. A result that would take the whole item past 400 KB
 * is RESULT_INVALID_INPUT ("result") before any call, and so is a move
 * from another status ("status"). On success `r` holds a copy of the
 * result; on failure `r` is unchanged.
 */
enum result req_complete(struct store *s, struct request *r,
                         const cJSON *result, int64_t deadline_ms,
                         struct error_info *err) WARN_UNUSED;

/*
 * PROCESSING | RETRYING → FAILED with `error` saved (NULL or empty:
 * "failed"; cut to REQ_MAX_ERROR_BYTES at a UTF-8 character boundary),
 * conditional as req_update_status(), the in-flight count one lower in
 * the same transaction. RESULT_INVALID_INPUT ("status") from another
 * status, before any call. On success `r` holds a copy of the saved
 * error; on failure `r` is unchanged.
 */
enum result req_fail(struct store *s, struct request *r, const char *error,
                     int64_t deadline_ms, struct error_info *err) WARN_UNUSED;

/*
 * Takes a PROCESSING request whose claimer is gone again, in ONE
 * conditional UpdateItem (status PROCESSING and r->version are the
 * condition): retry_count + 1 (the lost run was an attempt),
 * processing_started now, lease_expires = `lease` (RFC 3339). Whether
 * the old lease has passed is the caller's judgement of what it read;
 * the version makes sure nothing moved since. RESULT_INVALID_INPUT
 * ("status") when r->status is not PROCESSING or ("lease_expires") for
 * an empty lease, without a call; RESULT_CONDITION_FAILED; on success
 * `r` holds the new version, count, lease and timestamps.
 */
enum result req_reclaim(struct store *s, struct request *r, const char *lease,
                        int64_t deadline_ms,
                        struct error_info *err) WARN_UNUSED;

/* PENDING | PROCESSING | RETRYING → CANCELLED: req_update_status() with
 * `to` CANCELLED, the in-flight count one lower in the same transaction. */
enum result req_cancel(struct store *s, struct request *r, int64_t deadline_ms,
                       struct error_info *err) WARN_UNUSED;

/* Deletes a user's request (its in-flight count is left as it is).
 * RESULT_NOT_FOUND when there was none; RESULT_INVALID_INPUT for a bad id,
 * before any call. */
enum result req_delete(struct store *s, const char *tenant_id,
                       const char *user_id, const char *request_id,
                       int64_t deadline_ms, struct error_info *err) WARN_UNUSED;

/*
 * Requests by connection, status or user, newest created_at first, at
 * most `limit` (1..100; 0 = 100), resumed from `cursor` (NULL for the
 * first page). `*page` is zeroed first and filled on success (caller
 * owns; free with req_page_cleanup(), which is safe after any result).
 * RESULT_INVALID_INPUT naming the id or "cursor" for a bad id or a
 * cursor not made for this list; RESULT_PARSE for an item that is not a
 * request. On failure `*page` is empty.
 */
enum result req_list_by_connection(struct store *s, const char *connection_id,
                                   int limit, const char *cursor,
                                   struct req_page *page, int64_t deadline_ms,
                                   struct error_info *err) WARN_UNUSED;
enum result req_list_by_status(struct store *s, enum req_status status,
                               int limit, const char *cursor,
                               struct req_page *page, int64_t deadline_ms,
                               struct error_info *err) WARN_UNUSED;
enum result req_list_by_user(struct store *s, const char *user_id, int limit,
                             const char *cursor, struct req_page *page,
                             int64_t deadline_ms,
                             struct error_info *err) WARN_UNUSED;

/*
 * The requests of `status` that are due at `now` (RFC 3339), oldest
 * created_at first, from the status-index (a Query, never a Scan):
 * RETRYING ones whose retry_after is not after `now` (or unset), and
 * PROCESSING ones whose lease_expires is before `now` (ones without a
 * lease are not listed). The condition is a FilterExpression, so a page
 * may hold fewer than `limit` (1..100; 0 = 100) and still have a next
 * cursor. Other statuses are RESULT_INVALID_INPUT ("status"), and so is
 * a missing `now` ("now"); otherwise as req_list_by_status().
 */
enum result req_list_due(struct store *s, enum req_status status,
                         const char *now, int limit, const char *cursor,
                         struct req_page *page, int64_t deadline_ms,
                         struct error_info *err) WARN_UNUSED;

/* Checks an action name: 1-64 of [A-Za-z0-9._-] (docs/protocol.md);
 * RESULT_INVALID_INPUT naming "action" otherwise (NULL included). */
enum result req_check_action(const char *action,
                             struct error_info *err) WARN_UNUSED;

#endif

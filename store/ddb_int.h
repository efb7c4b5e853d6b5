/* DynamoDB client internals: retry tuning for tests and tools, and what
 * ddb.c shares with ddb_item.c, ddb_batch.c and ddb_admin.c. */
#ifndef STREAMER_DDB_INT_H
#define STREAMER_DDB_INT_H

#include "aws_int.h"
#include "ddb.h"
#include "retry.h"

/*
 * ddb.c waits on its own between calls (BatchWriteItem's UnprocessedItems
 * backoff, ddb_wait_active()'s polls), with a retry policy of its own:
 * aws.h has no way to read the client's policy back. These two set the
 * client's (aws_client_set_hooks / aws_client_set_retry) and ddb's own
 * together, so a test clock and a fake sleep reach every wait. Setting
 * the hooks on ddb_aws() alone leaves ddb's own waits on the real clock.
 * Arguments as in aws.h; neither can fail.
 */
void ddb_set_hooks(struct ddb *d, const struct retry_hooks *hooks);
void ddb_set_retry(struct ddb *d, long base_ms, long cap_ms, int max_attempts);

/* ---- What the ddb_*.c files share (ddb.c) ----------------------------- */

/*
 * Sends `request` (NULL: "{}") as `operation` through the AWS client and
 * parses the answer, which must be one JSON object. `e` is always filled
 * on failure. On success the caller owns `*response`; on failure it is
 * untouched, except that on RESULT_CONDITION_FAILED `*failure` (when
 * `failure` is not NULL) gets the error answer as a JSON object, or NULL
 * (caller owns).
 */
enum result ddb_send(struct ddb *d, const char *operation, const cJSON *request,
                     int64_t deadline_ms, cJSON **response, cJSON **failure,
                     struct error_info *e) WARN_UNUSED;

/*
 * Takes member `name` out of `response` when it is a valid item: `*out`
 * gets it (caller owns), or NULL when absent. RESULT_PARSE naming
 * `operation` when it is present but not an object of valid
 * AttributeValues.
 */
enum result ddb_take_item(cJSON *response, const char *name,
                          const char *operation, cJSON **out,
                          struct error_info *e) WARN_UNUSED;

/* Adds a copy of string `s` under `name`; aborts on memory exhaustion. */
void ddb_add_string(cJSON *object, const char *name, const char *s);

/*
 * Add `value` (borrowed) under `name` / to `array` without copying it: a
 * request only prints it, and deleting the request leaves it alone.
 * Abort on memory exhaustion.
 */
void ddb_add_ref(cJSON *object, const char *name, const cJSON *value);
void ddb_add_ref_element(cJSON *array, const cJSON *value);

/* Adds `x`'s non-empty names and values maps to `req` as references
 * (DynamoDB rejects empty ones). `x` may be NULL. */
void ddb_add_expr(cJSON *req, const struct ddb_expr *x);

/* RESULT_INVALID_INPUT naming `field` unless `attrs` is a non-empty
 * object of valid AttributeValues (an item or a key). */
enum result ddb_check_attrs(const cJSON *attrs, const char *field,
                            struct error_info *e) WARN_UNUSED;

/* As ddb_check_attrs(), and within DynamoDB's 400 KB item size. */
enum result ddb_check_item(const cJSON *item, const char *field,
                           struct error_info *e) WARN_UNUSED;

/* RESULT_INVALID_INPUT naming "expr.names" or "expr.values" when `x`
 * (may be NULL) is not well formed. */
enum result ddb_check_expr(const struct ddb_expr *x,
                           struct error_info *e) WARN_UNUSED;

/* The retry policy of ddb's own waits (borrowed from `d`). */
struct retry_policy *ddb_policy(struct ddb *d);

/* RESULT_INVALID_INPUT naming `field` when `s` is NULL or empty. */
enum result ddb_check_name(const char *s, const char *field,
                           struct error_info *e) WARN_UNUSED;

/* Fills `e` with RESULT_PARSE "MalformedResponse" ("<operation> answered
 * <what>") and returns RESULT_PARSE. */
enum result ddb_malformed(struct error_info *e, const char *operation,
                          const char *what);

/*
 * Hands the details in `e` to the caller's `err` (may be NULL; cleared
 * when `r` is RESULT_OK) and returns `r`.
 */
enum result ddb_report(enum result r, const struct error_info *e,
                       struct error_info *err);

#endif

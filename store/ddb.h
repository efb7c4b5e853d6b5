/* The DynamoDB client: typed calls over the AWS JSON protocol. */
#ifndef STREAMER_DDB_H
#define STREAMER_DDB_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "result.h"
#include "sigv4.h"

/*
 * DynamoDB API Reference (version 2012-08-10). Items, keys and attribute
 * values are cJSON trees in DynamoDB's AttributeValue JSON (see item.h).
 * Every call takes `deadline_ms` (epoch ms; 0 for none) for its retries,
 * and `err` (may be NULL) gets the AWS error type and message.
 *
 * Error mapping, beyond aws_call()'s: ConditionalCheckFailedException and
 * TransactionCanceledException with a ConditionalCheckFailed reason →
 * RESULT_CONDITION_FAILED; ResourceInUseException on CreateTable →
 * RESULT_ALREADY_EXISTS; ResourceNotFoundException → RESULT_NOT_FOUND.
 */

#define DDB_TARGET_PREFIX "DynamoDB_20120810"
#define DDB_BATCH_WRITE_MAX 25 /* BatchWriteItem: 25 requests per call */
#define DDB_BATCH_GET_MAX 100  /* BatchGetItem: 100 keys per call */

struct ddb_config {
    const char *endpoint_url; /* http(s)://host[:port] */
    const char *region;
    const struct sigv4_credentials *credentials; /* copied */
};

struct ddb;

/*
 * Creates a client meant to live for the process (one keep-alive
 * connection). RESULT_CONFIG when a setting is missing or malformed.
 * Caller owns the result; free with ddb_free(). On failure, `*out` is
 * untouched.
 */
enum result ddb_new(const struct ddb_config *cfg, struct ddb **out,
                    struct error_info *err) WARN_UNUSED;
/* Frees the client and closes its connection; NULL is a no-op. */
void ddb_free(struct ddb *d);

/* The underlying AWS client, to tune retries or inject hooks (borrowed). */
struct aws_client *ddb_aws(struct ddb *d);

/*
 * Expression attribute names and values. Caller-owned struct; the trees
 * it holds are freed by ddb_expr_cleanup().
 */
struct ddb_expr {
    cJSON *names;  /* {"#s": "status"} or NULL */
    cJSON *values; /* {":v": {"N": "1"}} or NULL */
};

/* Empties `e` (caller-owned). Cannot fail. */
void ddb_expr_init(struct ddb_expr *e);
/* Frees the trees `e` holds and empties it; safe on an emptied `e`. */
void ddb_expr_cleanup(struct ddb_expr *e);
/* Adds (or replaces) "#name" → a copy of `attribute`; aborts on memory
 * exhaustion. */
void ddb_expr_name(struct ddb_expr *e, const char *placeholder,
                   const char *attribute);
/* Adds (or replaces) ":value" → `av`; takes ownership of `av` (NULL is
 * ignored). Aborts on memory exhaustion. */
void ddb_expr_value(struct ddb_expr *e, const char *placeholder, cJSON *av);

enum ddb_return {
    DDB_RETURN_NONE = 0,
    DDB_RETURN_ALL_OLD,
    DDB_RETURN_ALL_NEW,
    DDB_RETURN_UPDATED_OLD,
    DDB_RETURN_UPDATED_NEW,
};

/* Options of a write (PutItem, UpdateItem, DeleteItem); all optional. */
struct ddb_write_opts {
    const char *condition;       /* ConditionExpression */
    const struct ddb_expr *expr; /* names and values of the expressions */
    enum ddb_return return_values;
    /* ReturnValuesOnConditionCheckFailure = ALL_OLD: on a failed
     * condition, `*attributes` gets the item as it is. */
    int return_old_on_condition_failure;
    int64_t deadline_ms;
};

/*
 * PutItem / UpdateItem / DeleteItem. `attributes` may be NULL; else it
 * gets the returned Attributes (caller owns; free with cJSON_Delete), or
 * NULL when none came back — on RESULT_CONDITION_FAILED with
 * return_old_on_condition_failure, the item as it is, taken from the
 * failed answer itself (no second read), or NULL when there is no item.
 * `table`, `item` / `key` and `o` (may be NULL) are borrowed. Bad input
 * is RESULT_INVALID_INPUT naming the field ("table", "item", "key",
 * "update_expression", "return_values", "expr.names", "expr.values")
 * before any call; a failed ConditionExpression is
 * RESULT_CONDITION_FAILED; an answer that is not valid JSON or carries
 * invalid Attributes is RESULT_PARSE.
 */
enum result ddb_put_item(struct ddb *d, const char *table, const cJSON *item,
                         const struct ddb_write_opts *o, cJSON **attributes,
                         struct error_info *err) WARN_UNUSED;
enum result ddb_update_item(struct ddb *d, const char *table, const cJSON *key,
                            const char *update_expression,
                            const struct ddb_write_opts *o, cJSON **attributes,
                            struct error_info *err) WARN_UNUSED;
enum result ddb_delete_item(struct ddb *d, const char *table, const cJSON *key,
                            const struct ddb_write_opts *o, cJSON **attributes,
                            struct error_info *err) WARN_UNUSED;

/*
 * GetItem. RESULT_OK with `*item` set (caller owns; cJSON_Delete), or
 * RESULT_NOT_FOUND when there is no such item (`*item` untouched).
 * Bad input ("table", "key") is RESULT_INVALID_INPUT before any call; an
 * invalid Item in the answer is RESULT_PARSE. `key` is borrowed.
 */
enum result ddb_get_item(struct ddb *d, const char *table, const cJSON *key,
                         int consistent, int64_t deadline_ms, cJSON **item,
                         struct error_info *err) WARN_UNUSED;

/* A Query; every pointer borrowed. */
struct ddb_query {
    const char *table;
    const char *index; /* IndexName, or NULL for the base table */
    const char *key_condition;
    const char *filter; /* FilterExpression or NULL */
    const struct ddb_expr *expr;
    int descending;                   /* ScanIndexForward = false */
    int limit;                        /* Limit; 0 for none */
    const cJSON *exclusive_start_key; /* or NULL */
    int consistent;
    int64_t deadline_ms;
};

/* One page: items (a cJSON array of items) and the key to go on from. */
struct ddb_page {
    cJSON *items;
    cJSON *last_evaluated_key; /* NULL on the last page */
};

/* Frees the page's trees and sets them to NULL; safe on an emptied page. */
void ddb_page_cleanup(struct ddb_page *p);

/*
 * One page of `q` (borrowed). `*page` is emptied first and filled on
 * success (caller owns; free with ddb_page_cleanup(), which is safe after
 * any result). Bad input (table, key_condition, expr, a negative limit, a
 * start key that is not a valid key) is RESULT_INVALID_INPUT before any
 * call; an answer without an Items array of valid items, or with an empty
 * LastEvaluatedKey, is RESULT_PARSE.
 */
enum result ddb_query_page(struct ddb *d, const struct ddb_query *q,
                           struct ddb_page *page,
                           struct error_info *err) WARN_UNUSED;

/*
 * Every page of `q` (following LastEvaluatedKey), at most `max_items`
 * (0: no cap). `*items` gets an array (caller owns; cJSON_Delete). Fails
 * as ddb_query_page(), and with RESULT_PARSE when the service answers the
 * same LastEvaluatedKey twice; on failure `*items` is untouched.
 */
enum result ddb_query_all(struct ddb *d, const struct ddb_query *q,
                          size_t max_items, cJSON **items,
                          struct error_info *err) WARN_UNUSED;

/*
 * BatchWriteItem on one table: `requests` is an array of
 * {"PutRequest":{"Item":…}} / {"DeleteRequest":{"Key":…}} (borrowed), sent
 * in chunks of 25; UnprocessedItems are sent again with backoff until
 * done or the retries run out (RESULT_THROTTLED: some were not written).
 * A malformed request is RESULT_INVALID_INPUT naming "requests[i]" before
 * any call; after a failure, the chunks before the failing one stay
 * written.
 */
enum result ddb_batch_write(struct ddb *d, const char *table,
                            const cJSON *requests, int64_t deadline_ms,
                            struct error_info *err) WARN_UNUSED;

/*
 * BatchGetItem on one table: `keys` is an array of keys (borrowed, no
 * duplicates, as the API requires), read in chunks of 100, strongly
 * consistent when `consistent`; UnprocessedKeys are read again with
 * backoff until done or the retries run out (RESULT_THROTTLED). On
 * RESULT_OK `*items` gets an array of the items found, in no particular
 * order; a key without an item is simply absent. Caller owns `*items`
 * (cJSON_Delete); on failure it is untouched.
 */
enum result ddb_batch_get_item(struct ddb *d, const char *table,
                               const cJSON *keys, int consistent,
                               int64_t deadline_ms, cJSON **items,
                               struct error_info *err) WARN_UNUSED;

/*
 * TransactWriteItems: `items` is the TransactItems array as the API takes
 * it (borrowed); `client_token` may be NULL. A cancellation for a failed
 * condition is RESULT_CONDITION_FAILED; err->message lists the reasons.
 * 1 to 100 actions, each exactly one valid ConditionCheck, Put, Delete or
 * Update, and a token of 1 to 36 characters, else RESULT_INVALID_INPUT
 * naming "items", "TransactItems[i]" or "client_token" before any call.
 */
enum result ddb_transact_write(struct ddb *d, const cJSON *items,
                               const char *client_token, int64_t deadline_ms,
                               struct error_info *err) WARN_UNUSED;

/*
 * As ddb_transact_write(); on RESULT_CONDITION_FAILED `*reasons` gets the
 * answer's CancellationReasons (one {"Code"[, "Item"]} per action, in
 * order; an action that asked ReturnValuesOnConditionCheckFailure ALL_OLD
 * carries its item), or NULL. Caller owns `*reasons`.
 */
enum result ddb_transact_write_ex(struct ddb *d, const cJSON *items,
                                  const char *client_token, int64_t deadline_ms,
                                  cJSON **reasons,
                                  struct error_info *err) WARN_UNUSED;

/*
 * Any other operation: `request` (borrowed) is sent as is, `*response`
 * gets the parsed answer (caller owns; `response` may be NULL), untouched
 * on failure. For calls this header lacks. An empty `operation` is
 * RESULT_INVALID_INPUT; an answer that is not one JSON object is
 * RESULT_PARSE.
 */
enum result ddb_call(struct ddb *d, const char *operation, const cJSON *request,
                     int64_t deadline_ms, cJSON **response,
                     struct error_info *err) WARN_UNUSED;

#endif

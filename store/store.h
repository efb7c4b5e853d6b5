/* What the three stores share: the client, table names, ids, cursors, lists. */
#ifndef STREAMER_STORE_H
#define STREAMER_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ddb.h"
#include "result.h"

#define STORE_MAX_ID_BYTES 128
#define STORE_MAX_PAGE 100 /* the largest page a list_* call returns */

/*
 * The stores' context, built once at init. `ddb` is borrowed; the table
 * names are copied. `now_ms` is the clock (real by default; tests may
 * replace it).
 */
struct store {
    struct ddb *ddb;
    char *connections_table;
    char *requests_table;
    char *subscriptions_table;
    int64_t (*now_ms)(void);
};

/* Fills `s` (caller-owned) with copies of the names. Cannot fail (aborts
 * on memory exhaustion). */
void store_init(struct store *s, struct ddb *ddb, const char *connections,
                const char *requests, const char *subscriptions);
/* Frees the names and zeroes `s`; the ddb client is the caller's. */
void store_cleanup(struct store *s);

/*
 * Checks an id: non-empty, at most STORE_MAX_ID_BYTES bytes, valid UTF-8
 * without control characters (C0, DEL, C1). RESULT_INVALID_INPUT naming
 * `field`.
 */
enum result store_check_id(const char *field, const char *id,
                           struct error_info *err) WARN_UNUSED;

/*
 * Request ids are unique per owner, a user of a tenant (docs/data-model.md):
 * two users may use the same id. The request key names one request
 * across owners: "<tenant_id>#<user_id>#<request_id>", where '%' and '#'
 * in the tenant and user ids are written %25 and %23, so the first two
 * '#' always end the owner and no two owners' keys meet. The request
 * id, last, is kept as is. The requests table's pk is "REQ#" + key, a
 * subscription's sk "SUB#" + key and its request_key the key itself.
 */
#define STORE_REQUEST_KEY_SIZE (7 * STORE_MAX_ID_BYTES + 3)

/*
 * Writes the request key into `out` (STORE_REQUEST_KEY_SIZE bytes).
 * RESULT_INVALID_INPUT naming the field when an id is not valid
 * (store_check_id); `out` is then an empty string.
 */
enum result store_request_key(const char *tenant_id, const char *user_id,
                              const char *request_id, char *out,
                              struct error_info *err) WARN_UNUSED;

/*
 * The owner part of the request key, "<tenant_id>#<user_id>" escaped as
 * there, into `out` (STORE_REQUEST_KEY_SIZE bytes): it names one user's
 * items across tenants. RESULT_INVALID_INPUT naming a bad id; `out` is
 * then an empty string.
 */
enum result store_owner_key(const char *tenant_id, const char *user_id,
                            char *out, struct error_info *err) WARN_UNUSED;

/* `s` now, as RFC 3339 text, into `out` (CLOCK_RFC3339_SIZE bytes).
 * Cannot fail. */
void store_timestamp(const struct store *s, char *out);

/* Epoch seconds `offset_s` from `s` now (for ttl). Cannot fail. */
int64_t store_ttl(const struct store *s, int64_t offset_s);

/*
 * Opaque cursors: a LastEvaluatedKey (borrowed) as base64url JSON. Encode
 * returns a malloc'd string (caller frees), or NULL when `key` is NULL
 * (last page); aborts on memory exhaustion.
 */
char *store_cursor_encode(const cJSON *key);

/*
 * What a list's cursor must hold: exactly the attributes `keys` (the
 * table's key and the index's, as a LastEvaluatedKey has them), each a
 * non-empty S, with `partition` (pk, or the index's hash key) equal to
 * `value`, the partition the list reads: a cursor cannot be carried from
 * one list to another. Every pointer is borrowed.
 */
struct store_cursor_spec {
    const char *const *keys; /* NULL-terminated */
    const char *partition;
    const char *value;
};

/*
 * Decodes a cursor into an ExclusiveStartKey (caller owns; cJSON_Delete).
 * A NULL or empty cursor gives `*key` = NULL (first page). Anything that
 * is not a cursor we made for this list — bad base64, not JSON, over
 * 1 KB, not what `spec` says — is RESULT_INVALID_INPUT naming "cursor",
 * with `*key` NULL.
 */
enum result store_cursor_decode(const char *cursor,
                                const struct store_cursor_spec *spec,
                                cJSON **key,
                                struct error_info *err) WARN_UNUSED;

/* Clamps a caller's page size into 1..STORE_MAX_PAGE (0 means the max). */
int store_page_limit(int limit);

/* A copy of the S value of attribute `name` of `item` (caller frees), or
 * NULL when it is absent or not an S. */
char *store_dup_s(const cJSON *item, const char *name);

/*
 * One page of `q` resumed from `cursor` (checked against `spec`, see
 * store_cursor_decode; a start key the service still refuses is also
 * RESULT_INVALID_INPUT naming "cursor"), at most `limit` items (clamped).
 * `*items` gets the page's items (caller owns; cJSON_Delete) and
 * `*next_cursor` the cursor of the next page or NULL on the last (caller
 * frees). Fails as ddb_query_page(); on failure `*items` and
 * `*next_cursor` are untouched.
 */
enum result store_query_page(struct store *s, const struct ddb_query *q,
                             const char *cursor,
                             const struct store_cursor_spec *spec, int limit,
                             cJSON **items, char **next_cursor,
                             struct error_info *err) WARN_UNUSED;

/* ---- Listings: one page of a partition, read into a store's structs --- */

/*
 * Reads one listed item into the struct at `out` (uninitialised). On
 * failure nothing is left in `*out` to free; RESULT_PARSE when the item
 * lacks what the store's items have.
 */
typedef enum result (*store_read_fn)(const cJSON *item, void *out,
                                     struct error_info *err);
/* Frees what one struct holds (conn_cleanup, req_cleanup, sub_cleanup). */
typedef void (*store_cleanup_fn)(void *elem);

/* The struct a store reads its listed items into. */
struct store_reader {
    size_t size; /* sizeof one struct */
    store_read_fn read;
    store_cleanup_fn cleanup;
};

/*
 * A listing: the items of one partition of a table or an index, where
 * `attr` equals `value` (the caller has checked it). Every pointer is
 * borrowed.
 */
struct store_list {
    const char *table;
    const char *index; /* a GSI, or NULL: the table itself */
    const char *attr;  /* the partition key */
    const char *value;
    const char *sk_prefix;    /* NULL, or only items whose sk begins so */
    const char *filter;       /* NULL, or a FilterExpression on `:f` ... */
    const char *filter_value; /* ... which is this string */
    const char *const *keys;  /* the cursor's attributes (NULL-terminated) */
    int descending;           /* newest first */
    int consistent;           /* a strongly consistent read (tables only) */
};

/*
 * One page of `l` as store_query_page() reads it (`cursor` checked
 * against the listing's keys and partition), each item read by `rd` into a
 * new array: `*items` gets `*count` structs of rd->size bytes (caller
 * owns; free with store_items_free()) and `*next_cursor` the next page's
 * cursor or NULL (caller frees). Fails as store_query_page(), or with
 * rd->read's result for an item it refuses; on failure `*items` and
 * `*next_cursor` are NULL and `*count` is 0.
 */
enum result store_list_page(struct store *s, const struct store_list *l,
                            const struct store_reader *rd, int limit,
                            const char *cursor, int64_t deadline_ms,
                            void **items, size_t *count, char **next_cursor,
                            struct error_info *err) WARN_UNUSED;

/* Cleans the `count` structs at `items` with rd->cleanup, then frees the
 * array. `items` may be NULL when `count` is 0. */
void store_items_free(void *items, size_t count, const struct store_reader *rd);

/*
 * After a conditional write failed: RESULT_NOT_FOUND when there is no
 * item, else RESULT_CONDITION_FAILED (stale version or wrong state).
 * `old` is the item the failed write returned (the write asked
 * return_old_on_condition_failure): NULL means there is none. No call.
 */
enum result store_condition_failure(const cJSON *old,
                                    struct error_info *err) WARN_UNUSED;

/* {"pk":{"S":pk},"sk":{"S":sk}} (caller owns; cJSON_Delete). Never NULL:
 * aborts on memory exhaustion. */
cJSON *store_key(const char *pk, const char *sk);

#endif

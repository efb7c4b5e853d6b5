/* The connections store: one item per open WebSocket connection. */
#ifndef STREAMER_CONNECTIONS_H
#define STREAMER_CONNECTIONS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "result.h"
#include "store.h"

#define CONN_TTL_SECONDS (24 * 3600)

/*
 * A connection (docs/data-model.md): pk CONN#<connection_id>, sk METADATA.
 * Strings and `metadata` (a plain JSON object of strings, or NULL) are
 * owned by the struct; free with conn_cleanup().
 */
struct connection {
    char *connection_id;
    char *user_id;
    char *tenant_id;
    char *endpoint; /* "domainName/stage" */
    cJSON *metadata;
    char connected_at[CLOCK_RFC3339_SIZE];
    char last_ping[CLOCK_RFC3339_SIZE];
    char created_at[CLOCK_RFC3339_SIZE];
    char updated_at[CLOCK_RFC3339_SIZE];
    int64_t version;
    int64_t ttl;
};

/* A page of connections, newest first. Free with conn_page_cleanup(). */
struct conn_page {
    struct connection *items;
    size_t count;
    char *next_cursor; /* NULL on the last page */
};

/* Frees what `c` holds and zeroes it; safe on a zeroed struct. */
void conn_cleanup(struct connection *c);
/* Frees the page's connections and cursor and zeroes it; safe on a
 * zeroed page. */
void conn_page_cleanup(struct conn_page *p);

/*
 * Creates the connection item from c->connection_id, user_id, tenant_id,
 * endpoint, metadata and (when set) connected_at; sets connected_at,
 * last_ping, created_at, updated_at, version 1 and ttl now+24 h in `c`.
 * RESULT_INVALID_INPUT (naming the field) before any call for bad input;
 * RESULT_ALREADY_EXISTS when the id is taken (the stored item unchanged).
 * `c`'s strings and metadata stay the caller's.
 */
enum result conn_save(struct store *s, struct connection *c,
                      int64_t deadline_ms, struct error_info *err) WARN_UNUSED;

/*
 * Reads a connection into `out` (zeroed first; caller cleans up with
 * conn_cleanup() after any result). RESULT_NOT_FOUND when there is none;
 * RESULT_INVALID_INPUT for a bad id, before any call; RESULT_PARSE for a
 * stored item that lacks a connection's attributes.
 */
enum result conn_get(struct store *s, const char *connection_id,
                     struct connection *out, int64_t deadline_ms,
                     struct error_info *err) WARN_UNUSED;

/* Deletes a connection. RESULT_NOT_FOUND when there was none;
 * RESULT_INVALID_INPUT for a bad id, before any call. */
enum result conn_delete(struct store *s, const char *connection_id,
                        int64_t deadline_ms,
                        struct error_info *err) WARN_UNUSED;

/*
 * Sets last_ping and updated_at to now and ttl to now+24 h, conditional
 * on c->version; on success `c` holds the new values and version.
 * RESULT_CONDITION_FAILED for a stale version, RESULT_NOT_FOUND when the
 * connection is gone; on failure `c` is unchanged.
 */
enum result conn_update_last_ping(struct store *s, struct connection *c,
                                  int64_t deadline_ms,
                                  struct error_info *err) WARN_UNUSED;

/*
 * Reads the connections `ids[0..n)` (no duplicates) with BatchGetItem,
 * strongly consistent, 100 keys a call: one round trip per hundred
 * connections instead of one each. `*out` gets an array of n connections
 * in the order of `ids`; one with no stored item has connection_id NULL.
 * Caller owns it; free with conn_array_free(). On failure `*out` is
 * untouched.
 */
enum result conn_batch_get(struct store *s, const char *const *ids, size_t n,
                           struct connection **out, int64_t deadline_ms,
                           struct error_info *err) WARN_UNUSED;

/* Frees what conn_batch_get() gave; NULL is a no-op. */
void conn_array_free(struct connection *c, size_t n);

/*
 * Deletes the connections `ids[0..n)` (no duplicates) with
 * BatchWriteItem, 25 a call, unconditionally: for clients known to be
 * gone (410). Deleting one that is not there is not an error.
 * RESULT_INVALID_INPUT for a bad id, before any call; RESULT_THROTTLED
 * when some stay unprocessed (ddb_batch_write()).
 */
enum result conn_delete_many(struct store *s, const char *const *ids, size_t n,
                             int64_t deadline_ms,
                             struct error_info *err) WARN_UNUSED;

/*
 * A user's (or tenant's) connections, newest connected_at first, at most
 * `limit` (1..100; 0 = 100), resumed from `cursor` (NULL for the first
 * page). `*page` is zeroed first and filled on success (caller owns;
 * free with conn_page_cleanup(), which is safe after any result).
 * RESULT_INVALID_INPUT naming the id or "cursor" for a bad id or a cursor
 * not made for this list; RESULT_PARSE for an item that is not a
 * connection. On failure `*page` is empty.
 */
enum result conn_list_by_user(struct store *s, const char *user_id, int limit,
                              const char *cursor, struct conn_page *page,
                              int64_t deadline_ms,
                              struct error_info *err) WARN_UNUSED;
enum result conn_list_by_tenant(struct store *s, const char *tenant_id,
                                int limit, const char *cursor,
                                struct conn_page *page, int64_t deadline_ms,
                                struct error_info *err) WARN_UNUSED;

/*
 * Deletes every connection whose last_ping is before `before_ms` (each
 * delete conditional on that still being so, so a ping in between wins).
 * `*ids` gets the deleted connection ids (caller frees each and the
 * array) and `*count` their number — also on failure, for what was done.
 */
enum result conn_delete_stale(struct store *s, int64_t before_ms,
                              int64_t deadline_ms, char ***ids, size_t *count,
                              struct error_info *err) WARN_UNUSED;

#endif
